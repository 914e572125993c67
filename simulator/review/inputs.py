"""What a report is made of: the results handed to :func:`simulator.report`, sorted by kind.

Accepted: a :class:`~simulator.Comparison` (at most one), :class:`~simulator.Result` objects
(single runs: they become a comparison of one replication each, labelled by design), a
:class:`~simulator.Capacity`, a :func:`simulator.sensitivity` table (a DataFrame whose
``attrs["method"]`` is ``oat`` or ``sobol``) and a :func:`simulator.sweep` /
:func:`simulator.load_sweep` table (``param.<path>`` columns and ``first_load_breach_quota``),
alone or in a list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from simulator.errors import ScenarioError

KINDS = ("Comparison", "Result", "Capacity", "sensitivity DataFrame", "sweep DataFrame")


@dataclass
class Inputs:
    comparison: Any = None      # a Comparison
    capacity: Any = None        # a Capacity
    sensitivity: list[pd.DataFrame] = field(default_factory=list)   # one per design
    sweep: pd.DataFrame | None = None

    @property
    def scenario(self):
        for x in (self.comparison, self.capacity):
            if x is not None:
                return x.scenario
        return None


def _is_sweep(df: pd.DataFrame) -> bool:
    return "first_load_breach_quota" in df and any(c.startswith("param.") for c in df.columns)


def collect(results) -> Inputs:
    """Sort ``results`` (one object or an iterable of them) into :class:`Inputs`."""
    from simulator.capacity import Capacity
    from simulator.compare import Comparison
    from simulator.metrics.result import Result

    items = list(results) if isinstance(results, (list, tuple)) else [results]
    out = Inputs()
    runs: list[Result] = []

    def once(name: str, value) -> None:
        if getattr(out, name) is not None:
            raise ScenarioError("results", f"two {name} results", "give at most one of each "
                                "kind (a comparison, a capacity search, a sweep; sensitivity tables "
                                "one per design); merge runs into one sim.compare")
        setattr(out, name, value)

    for k, x in enumerate(items):
        if isinstance(x, Comparison):
            once("comparison", x)
        elif isinstance(x, Result):
            runs.append(x)
        elif isinstance(x, Capacity):
            once("capacity", x)
        elif isinstance(x, pd.DataFrame) and x.attrs.get("method") in ("oat", "sobol"):
            about = [t.attrs.get("design") for t in out.sensitivity]
            if x.attrs.get("design") in about:
                raise ScenarioError(f"results[{k}]", "a second sensitivity table of design "
                                    f"{x.attrs.get('design')!r}", "give one per design "
                                    "(set table.attrs['design'] to tell them apart)")
            out.sensitivity.append(x)
        elif isinstance(x, pd.DataFrame) and _is_sweep(x):
            once("sweep", x)
        else:
            raise ScenarioError(f"results[{k}]", type(x).__name__,
                                f"not something a report shows; give any of {', '.join(KINDS)}")
    if runs:
        if out.comparison is not None:
            raise ScenarioError("results", "a Comparison and Result objects",
                                "give the runs as one comparison, or the single runs alone")
        out.comparison = comparison_of_runs(runs)
    if out.comparison is None and out.capacity is None and out.sweep is None \
            and not out.sensitivity:
        raise ScenarioError("results", "nothing", f"give at least one of {', '.join(KINDS)}")
    return out


def comparison_of_runs(runs: list) -> Any:
    """A :class:`~simulator.Comparison` of single runs (one replication each), each labelled
    by its design (``basic``, or ``basic (2)`` for a second run of it)."""
    from simulator.compare import Comparison, run_record

    records, labels = [], []
    for res in runs:
        base = str(res.summary["architecture"])
        label, n = base, 1
        while label in labels:
            n += 1
            label = f"{base} ({n})"
        labels.append(label)
        records.append(run_record(res, label, 0, int(res.summary["seed"]),
                                  float(res.summary["wall_seconds"])))
    return Comparison(runs[0].scenario, labels, records)
