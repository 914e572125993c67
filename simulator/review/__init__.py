"""Design-review reports: one self-contained HTML file (and a PDF) from a comparison's results.

>>> import simulator as sim
>>> cmp = sim.compare(scn, ["basic", "sns", "appsync"], replications=2)   # doctest: +SKIP
>>> sim.report(cmp, "reports/review.html")                                # doctest: +SKIP
>>> sim.report([cmp, cap, oat], "reports/review.html", pdf=True)          # doctest: +SKIP

The report holds, each only when the results have it: the question and the scenario in words,
the recommendation (computed by :mod:`simulator.review.recommend`), the comparison table with
the best value per column marked, latency CDFs, cost by service, breach timelines, latency by
user location, failure modes, the capacity frontier (a :class:`~simulator.Capacity`), a sweep's
breach map, the sensitivity of the deciding metric, every value and price the runs used
(least certain first), and how to reproduce it.

The file is self-contained: figures are PNG ``data:`` URIs, the stylesheet is inline, no
script, font or link is fetched, and a Content-Security-Policy (``default-src 'none'; img-src
data:; style-src 'unsafe-inline'``) makes the browser refuse anything else. A print stylesheet
starts each section on a new A4 page. :func:`gather` runs what the command line's ``report``
runs: the comparison, then a small sensitivity analysis of the recommended design and of the
cheapest near miss (the challenger).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from simulator.errors import ScenarioError
from simulator.review.inputs import collect
from simulator.review.recommend import Recommendation
from simulator.review.recommend import recommend as _recommend

#: the size the sensitivity runs of :func:`gather` shrink a scenario to (the swings are read
#: relative to their own baseline, so a smaller run answers "how much does it move")
SENSITIVITY_CLIENTS = 2000        # not a catalog value
SENSITIVITY_DURATION_S = 60.0     # not a catalog value
SENSITIVITY_WARMUP_S = 15.0       # not a catalog value


@dataclass
class Report:
    """What :func:`report` wrote."""

    html: Path
    pdf: Path | None
    recommendation: Recommendation | None

    def __str__(self) -> str:
        return str(self.html)


def check_path(path, pdf: bool = False) -> Path:
    """The report's path, once it is known to be writable (its folder is created).

    Raises
    ------
    ScenarioError
        Not an ``.html`` file name, a folder that cannot be made, or one that cannot be
        written; with ``pdf``, no headless Chromium.
    """
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise ScenarioError("path", path, "must be a file name ending in .html")
    p = Path(path)
    if p.suffix.lower() not in (".html", ".htm"):
        raise ScenarioError("path", str(path), "must end in .html (the PDF, with pdf=True, "
                            "goes next to it with .pdf)")
    if p.is_dir():
        raise ScenarioError("path", str(path), "is a folder; give a file name ending in .html")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=p.parent, prefix=".wscap-", delete=True):
            pass
    except OSError as e:
        raise ScenarioError("path", str(path), f"cannot write there ({e.strerror or e})") \
            from None
    if p.exists() and not os.access(p, os.W_OK):
        raise ScenarioError("path", str(path), "exists and is not writable")
    if pdf:
        from simulator.review.browser import require_chromium

        require_chromium()
    return p


def report(results, path, *, slo: dict | None = None, title: str | None = None,
           command: str | None = None, scenario_file: str | None = None,
           pdf: bool = False) -> Report:
    """Write a design-review report.

    Parameters
    ----------
    results : object or list
        Any of: a :class:`~simulator.Comparison`, :class:`~simulator.Result` objects (single
        runs), a :class:`~simulator.Capacity`, :func:`simulator.sensitivity` tables (one per
        design, named in ``attrs["design"]``), a
        :func:`simulator.sweep` table (see :mod:`simulator.review.inputs`).
    path : str or Path
        The HTML file to write (its folder is created).
    slo : dict, optional
        Metric -> upper bound the recommendation applies (default: p99 within 250 ms and no
        request refused by a load limit; see :func:`simulator.review.recommend.effective_slo`).
    title : str, optional
    command, scenario_file : str, optional
        Shown under "How to reproduce" (the command line fills them in).
    pdf : bool
        Also print ``path`` with ``.pdf`` through headless Chromium.

    Returns
    -------
    Report
        ``html`` and ``pdf`` paths, and the :class:`Recommendation` (None without a
        comparison).

    Raises
    ------
    ScenarioError
        Results of an unknown kind, a bad SLO, an unwritable path, ``pdf`` without Chromium.
    """
    from simulator.review import sections  # matplotlib: loaded when a report is written

    inputs = collect(results)
    out = check_path(path, pdf)
    cmp = inputs.comparison
    rec = (_recommend(cmp, slo, inputs.capacity, inputs.sensitivity) if cmp is not None
           else None)
    built = [sections.question(cmp, inputs), sections.recommendation(rec),
             sections.comparison(cmp, rec), sections.figures(cmp), sections.locations(cmp),
             sections.failures(cmp), sections.capacity(inputs.capacity),
             sections.sweep(inputs.sweep), sections.sensitivity(inputs.sensitivity),
             sections.assumptions(cmp), sections.reproduce(inputs, command, scenario_file)]
    html = render(title or sections.title_of(inputs), [s for s in built if s is not None],
                  partial=bool(getattr(cmp, "partial", False)),
                  subtitle=_subtitle(inputs))
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    pdf_path = None
    if pdf:
        from simulator.review.browser import print_pdf

        pdf_path = print_pdf(out, out.with_suffix(".pdf"))
    return Report(out, pdf_path, rec)


def _subtitle(inputs) -> str:
    import simulator

    scn = inputs.scenario
    head = f"scenario {scn.name}, seed {scn.seed}; " if scn is not None else ""
    return head + f"wscap {simulator.__version__}; every number below is computed by the runs"


def render(title: str, built: list[dict], partial: bool = False, subtitle: str = "") -> str:
    """The HTML of a report from its sections (the package's jinja2 template)."""
    import jinja2

    import simulator

    env = jinja2.Environment(loader=jinja2.PackageLoader("simulator.review", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    template = env.get_template("report.html.j2")
    return template.render(title=title, subtitle=subtitle, sections=[_Section(s) for s in built],
                           partial=partial, version=simulator.__version__)


class _Section(dict):
    """A section dict whose missing keys read as None in the template (sections differ)."""

    def __getattr__(self, name):
        return self.get(name)


def gather(scn, variants=None, *, slo: dict | None = None, replications: int = 2,
           workers: int = 1, sensitivity: bool = True, capacity_load: str | None = None,
           progress: bool = True, say=None) -> list:
    """Run what a design review shows: :func:`simulator.compare` of the designs, a capacity
    search when ``capacity_load`` names a load setting, and a one-at-a-time sensitivity of
    the deciding SLO metric of the recommended design (or the closest one) and of the
    challenger (the cheapest cheaper near miss, :func:`~simulator.review.recommend.challenger`),
    shrunk to :data:`SENSITIVITY_CLIENTS` clients and :data:`SENSITIVITY_DURATION_S` s.

    Parameters
    ----------
    scn : Scenario
    variants : list or str, optional
        Designs (default: the scenario's ``variants``).
    slo : dict, optional
        As :func:`report`.
    replications, workers, progress
        As :func:`simulator.compare`.
    sensitivity : bool
        Run the sensitivity analysis.
    capacity_load : str, optional
        A load setting (``workload.clients``) to search each design's capacity in.
    say : callable, optional
        Called with one line per stage (the command line prints them).

    Returns
    -------
    list
        ``[comparison, capacity (if any), sensitivity tables (if any)]``, for :func:`report`.
    """
    import simulator as sim
    from simulator.compare import _variants
    from simulator.review.recommend import effective_slo

    say = say or (lambda _line: None)
    bounds = effective_slo(slo)
    names = _variants(scn, variants)
    say(f"comparing {len(names)} designs x {replications} replication(s): {', '.join(names)}")
    cmp = sim.compare(scn, names, replications=replications, workers=workers,
                      progress=progress)
    out: list = [cmp]
    cap = None
    if capacity_load is not None:
        say(f"searching each design's capacity in {capacity_load}")
        cap = sim.capacity(scn, load=capacity_load, slo=bounds, variants=names,
                           workers=workers, progress=progress)
        out.append(cap)
    if sensitivity:
        rec = _recommend(cmp, bounds, cap)
        metric = rec.deciding_metric or "latency_p99_ms"
        for design in dict.fromkeys(d for d in (rec.subject, rec.challenger) if d is not None):
            small = _shrunk(scn, design)
            say(f"sensitivity of {design}'s {metric} to the uncertain catalog values "
                f"({small.workload.clients:,} clients, {small.duration_s:g} s)")
            table = sim.sensitivity(small, metric=metric, workers=workers, progress=progress)
            table.attrs["design"] = design
            table.attrs["size"] = (f"at {small.workload.clients:,} clients and "
                                   f"{small.duration_s:g} s simulated: the swings are read "
                                   "relative to that run's own baseline")
            out.append(table)
    return out


def _shrunk(scn, design: str):
    """The scenario on ``design``, at the sensitivity's smaller size (the duration is kept
    when the scenario has an incident, which has its own time)."""
    from simulator.compare import variant_settings

    over: dict = {**variant_settings(design),
                  "workload.clients": min(scn.workload.clients, SENSITIVITY_CLIENTS)}
    if not scn.workload.incidents and scn.duration_s > SENSITIVITY_DURATION_S:
        over["duration_s"] = SENSITIVITY_DURATION_S
        over["warmup_s"] = min(scn.warmup_s, SENSITIVITY_WARMUP_S)
    return scn.with_overrides(over)


__all__ = ["Report", "check_path", "gather", "render", "report"]
