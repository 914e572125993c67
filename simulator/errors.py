"""Errors raised for bad input.

Every error that stems from user input (a scenario file, an override, an API argument)
is a :class:`ScenarioError`, a ``ValueError`` subclass whose message names the field,
the value and the rule it broke. The CLI turns it into exit status 2 without a traceback.
"""

from __future__ import annotations


class ScenarioError(ValueError):
    """Bad input: names the field, the offending value and the rule.

    Parameters
    ----------
    field : str
        Dotted path of the offending field (``workload.clients``) or the file.
    value : object
        The value that broke the rule (shown with ``repr``).
    rule : str
        The rule, phrased so that the message reads "field = value: rule".
    """

    def __init__(self, field: str, value: object, rule: str):
        self.field = field
        self.value = value
        self.rule = rule
        super().__init__(f"{field} = {value!r}: {rule}")


class FieldRule(ValueError):
    """Raised inside model validators to name the exact field (pydantic would otherwise
    report the whole model as the offending value)."""

    def __init__(self, field: str, value: object, rule: str):
        self.field, self.value, self.rule = field, value, rule
        super().__init__(f"{field} = {value!r}: {rule}")


class ScenarioErrors(ScenarioError):
    """Several problems found at once (pydantic validation reports all of them)."""

    def __init__(self, errors: list[ScenarioError]):
        self.errors = errors
        first = errors[0]
        ValueError.__init__(self, "\n".join(str(e) for e in errors))
        self.field, self.value, self.rule = first.field, first.value, first.rule


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run, a comparison or a sweep: what finished is kept in ``partial``
    (a :class:`~simulator.metrics.result.Result` marked ``summary["partial"]``, a
    :class:`~simulator.Comparison` of the runs that finished, or a sweep's finished rows).
    A ``KeyboardInterrupt``, so that an interrupt still stops whatever called it."""

    def __init__(self, what: str, partial=None):
        super().__init__(what)
        self.what = what
        self.partial = partial
