"""Capacity search: the largest load each design sustains within a service-level objective.

``sim.capacity(scn, load="workload.clients", slo={"latency_p99_ms": 250, "breaches": 0},
variants=["basic", "sns"])`` grows one load setting until the SLO fails, then bisects between
the last load that held and the first that failed, for every design, and names the limit that
binds just above the capacity.

The search
----------
1. **Bracket.** Start at ``start`` (default: the scenario's own value of the load) and multiply
   by ``growth`` until the SLO fails; if it already fails at the start, divide until it holds.
2. **Bisect** the bracket ``[held, failed]`` at its geometric midpoint until
   ``failed / held - 1 <= rtol`` (or the two are adjacent values of an integer setting).

Every load is run ``replications`` times with the same seeds (common random numbers: the same
seeds at every load and for every design, so a step in the load is not drowned by a change of
dice). A load holds when the *mean* over the replications of every SLO metric is at or under its
bound; with ``breaches: 0`` that means no replication saw a refusal. The capacity reported is the
largest load that held: it is within ``rtol`` of the threshold when the SLO fails monotonically
in the load (more load never helps). The designs are searched in lockstep, so each round's runs
(designs x replications) go to the workers together.

The SLO
-------
Upper bounds on numbers: any numeric key of ``res.summary`` (``latency_p99_ms``,
``cost_usd_per_1k_users_month``, ``messages_lost`` ...) and ``breaches``: the number of
requests refused by a *load* limit (the breaches whose effect is ``refused``: the new-connection
rate, the account throttle, Lambda concurrency, DynamoDB capacity ...). Connections closed by a
design limit (API Gateway's maximum connection duration, the idle timeout) are not overload and
do not count, as in :mod:`simulator.metrics.verdict`; bound ``breaches_total`` to count every
breach.

The load
--------
Any numeric scenario setting by dotted path (``workload.clients``,
``workload.publish.rate_per_client_per_s``, ``aws.lambda.functions.default.memory_mb`` ...);
an integer setting stays an integer. A distribution (``workload.channels.size``) is scaled as a
whole, every parameter in the unit of the value scaled by one factor, and the load reported is
its location: ``value`` (fixed), ``mean`` (exponential), ``median`` (log-normal; ``p99`` scales
with it), the midpoint (uniform), ``scale`` (Pareto). ``workload.arrivals.rate_per_s`` is the
arrival rate of a ``spike`` profile: ``extra_clients / duration_s`` connections per second.
"""

from __future__ import annotations

import difflib
import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from simulator.errors import Interrupted, ScenarioError
from simulator.scenario import Scenario
from simulator.sweeps import replication_seeds, run_jobs

#: the SLO when none is given: p99 delivery latency within 250 ms and no request refused by a
#: load limit (a planning target, not a catalog value)
DEFAULT_SLO = {"latency_p99_ms": 250.0, "breaches": 0.0}   # not a catalog value
#: the SLO key that counts requests refused by load limits
BREACHES = "breaches"
#: the derived load key: a spike's arrival rate (connections/s)
SPIKE_RATE = "workload.arrivals.rate_per_s"

#: distribution kind -> (its location parameter, the parameters in the unit of the value)
_DIST_SCALE = {
    "fixed": ("value", ("value",)),
    "exponential": ("mean", ("mean",)),
    "lognormal": ("median", ("median", "p99")),
    "uniform": (None, ("low", "high")),        # location: the midpoint
    "pareto": ("scale", ("scale",)),
}
#: how many times the bracket may grow (or shrink) by ``growth`` before giving up
_MAX_STEPS = 12   # not a catalog value


# ----------------------------------------------------------------------------- the load axis


@dataclass(frozen=True)
class LoadAxis:
    """How one load setting is read and set in a scenario.

    Attributes
    ----------
    key : str
        The dotted path (or :data:`SPIKE_RATE`).
    kind : str
        ``number``, ``integer``, ``distribution`` or ``spike_rate``.
    base : float or None
        The scenario's own value (a distribution's location); None when unset.
    resolution : float
        The smallest step the setting takes (1 for an integer, ``1 / duration_s`` for a
        spike's rate), 0 for a real number.
    """

    key: str
    kind: str
    base: float | None
    resolution: float
    dist: dict | None = None
    spike_duration_s: float | None = None

    def snap(self, load: float) -> float:
        """The load the setting can take nearest ``load`` (never below one step)."""
        if self.kind == "integer":
            return float(max(1, round(load)))
        if self.kind == "spike_rate":
            d = float(self.spike_duration_s or 1.0)
            return max(1, round(load * d)) / d
        return float(load)

    def overrides(self, load: float) -> dict[str, Any]:
        """The scenario overrides that set the load to ``load``."""
        if self.kind == "integer":
            return {self.key: int(round(load))}
        if self.kind == "spike_rate":
            return {"workload.arrivals.extra_clients":
                    int(round(load * float(self.spike_duration_s or 1.0)))}
        if self.kind == "distribution":
            assert self.dist is not None and self.base   # the axis was checked when built
            f = load / self.base
            scaled = {k: (v * f if k in _DIST_SCALE[self.dist["kind"]][1]
                          and isinstance(v, (int, float)) else v)
                      for k, v in self.dist.items()}
            return {self.key: scaled}
        return {self.key: float(load)}


def _lookup(raw: dict, key: str) -> tuple[bool, Any]:
    node: Any = raw
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _location(dist: dict) -> float:
    kind = dist["kind"]
    loc = _DIST_SCALE[kind][0]
    return (float(dist["low"]) + float(dist["high"])) / 2 if loc is None else float(dist[loc])


def load_axis(scn: Scenario, key: str) -> LoadAxis:
    """The :class:`LoadAxis` of ``key`` in ``scn``, or a :class:`ScenarioError` naming it."""
    if not isinstance(key, str) or not key:
        raise ScenarioError("load", key, "must be a dotted scenario path, e.g. workload.clients")
    raw = scn.to_dict()
    if key == SPIKE_RATE:
        arr = raw["workload"]["arrivals"]
        if arr.get("profile") != "spike":
            raise ScenarioError("load", key, "is the arrival rate of a 'spike' profile; this "
                                f"scenario's workload.arrivals.profile is {arr.get('profile')!r}"
                                " (use workload.clients or workload.arrivals.extra_clients)")
        d = float(arr["duration_s"])
        return LoadAxis(key, "spike_rate", arr["extra_clients"] / d, 1.0 / d,
                        spike_duration_s=d)
    found, v = _lookup(raw, key)
    if not found:
        raise ScenarioError("load", key, "no such setting in the scenario; give a numeric "
                            "setting by dotted path, e.g. workload.clients, "
                            "workload.publish.rate_per_client_per_s, workload.channels.size, "
                            f"or {SPIKE_RATE} (a spike's arrival rate)")
    if isinstance(v, dict) and v.get("kind") in _DIST_SCALE:
        return LoadAxis(key, "distribution", _location(v), 0.0, dist=dict(v))
    if isinstance(v, bool) or not (v is None or isinstance(v, (int, float))):
        raise ScenarioError("load", key, f"is {type(v).__name__} {v!r}, not a number or a "
                            "distribution: a load must be numeric")
    if v is None:
        return LoadAxis(key, "number", None, 0.0)
    return LoadAxis(key, "integer" if isinstance(v, int) else "number", float(v),
                    1.0 if isinstance(v, int) else 0.0)


# ----------------------------------------------------------------------------- arguments


def _slo(slo) -> dict[str, float]:
    if slo is None:
        return dict(DEFAULT_SLO)
    if not isinstance(slo, dict) or not slo:
        raise ScenarioError("slo", slo, "must be a non-empty dict of metric -> upper bound, "
                            "e.g. {'latency_p99_ms': 250, 'breaches': 0}")
    out = {}
    for k, b in slo.items():
        if not isinstance(k, str) or not k:
            raise ScenarioError("slo", k, "keys must be summary metric names or 'breaches'")
        if isinstance(b, bool) or not isinstance(b, (int, float)) or not math.isfinite(b):
            raise ScenarioError(f"slo[{k!r}]", b, "must be a finite number (the upper bound)")
        if k == BREACHES and b < 0:
            raise ScenarioError(f"slo[{k!r}]", b, "must be >= 0 (requests refused per run)")
        out[k] = float(b)
    return out


def _check_slo_keys(slo: dict, summary: dict) -> None:
    """Every SLO key names a numeric summary key (checked against the first run's summary)."""
    numeric = sorted(k for k, v in summary.items()
                     if isinstance(v, (int, float)) and not isinstance(v, bool))
    for k in slo:
        if k == BREACHES:
            continue
        if k not in summary:
            near = difflib.get_close_matches(k, numeric, n=3)
            raise ScenarioError(f"slo[{k!r}]", slo[k], "not a summary metric"
                                + (f"; did you mean {', '.join(near)}?" if near else "")
                                + " ('breaches' or a numeric key of res.summary, e.g. "
                                  "latency_p99_ms, cost_usd_per_1k_users_month)")
        if summary[k] is not None and k not in numeric:
            raise ScenarioError(f"slo[{k!r}]", slo[k], f"{k} is not numeric "
                                f"({summary[k]!r}); an SLO bounds a number")


def _variant_list(scn: Scenario, variants) -> list[tuple[str, dict]]:
    """``(label, overrides)`` of each variant: a design name (``basic``, ``basic@eu-west-1``),
    a dict of overrides (labelled ``key=value, ...``), or a ``{label: name or dict}`` mapping."""
    from simulator.compare import _variants, variant_settings

    if variants is None or isinstance(variants, str):
        return [(v, variant_settings(v)) for v in _variants(scn, variants)]
    if isinstance(variants, dict) and variants and all(isinstance(v, (str, dict))
                                                       for v in variants.values()):
        items = list(variants.items())
    elif isinstance(variants, (list, tuple)) and variants:
        items = [(v if isinstance(v, str) else _dict_label(v), v) for v in variants]
    else:
        raise ScenarioError("variants", variants, "give design names (['basic', 'sns']), dicts "
                            "of overrides, or a {label: name or dict} mapping")
    out = []
    for label, spec in items:
        if isinstance(spec, str):
            _variants(scn, [spec])
            out.append((str(label), variant_settings(spec)))
        elif isinstance(spec, dict):          # {} is the scenario as it is
            out.append((str(label), dict(spec)))
        else:
            raise ScenarioError("variants", spec, "each variant is a design name or a dict "
                                "of dotted overrides")
    labels = [lab for lab, _ in out]
    if len(set(labels)) != len(labels):
        raise ScenarioError("variants", labels, "names a variant twice")
    return out


def _dict_label(d) -> str:
    if not isinstance(d, dict):
        raise ScenarioError("variants", d, "each variant is a design name or a dict of overrides")
    return ", ".join(f"{k}={v}" for k, v in d.items()) or "as given"


def _positive_int(name: str, v) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ScenarioError(name, v, "must be an integer >= 1")
    return v


# ----------------------------------------------------------------------------- one run


def _run_one(job) -> dict:
    """One variant at one load, one replication: the summary, the requests refused by load
    limits, the first of them, and the verdict's binding limit."""
    scn, label, overrides, load, rep, seed = job
    import simulator as sim

    row: dict = {"variant": label, "load": load, "replication": rep, "seed": seed}
    t0 = time.perf_counter()
    try:
        res = sim.run(scn.with_overrides({**overrides, "seed": seed}), progress=False)
        br = res.breaches
        refused = br[br["effect"] == "refused"] if len(br) else br
        row["summary"] = res.summary
        row[BREACHES] = float(refused["count"].sum()) if len(refused) else 0.0
        row["binding"] = res.verdict().binding
        row["error"] = None
    except Exception as e:  # kept, so that the other variants go on
        row["summary"] = {}
        row[BREACHES] = math.nan
        row["binding"] = None
        row["error"] = f"{type(e).__name__}: {e}"
    row["run_seconds"] = time.perf_counter() - t0
    return row


# ----------------------------------------------------------------------------- the search


@dataclass
class _Search:
    """One variant's bracket and bisection."""

    label: str
    scn: Scenario
    overrides: dict
    axis: LoadAxis
    growth: float
    rtol: float
    held: float | None = None      # the largest load that held
    failed: float | None = None    # the smallest load that failed
    pending: float | None = None
    start: float = 0.0
    steps: int = 0
    status: str = "searching"
    evaluated: list = field(default_factory=list)

    def first(self, start: float) -> None:
        self.start = self.pending = self.axis.snap(start)

    def record(self, load: float, ok: bool) -> None:
        """A load's verdict; sets the next load to try, or ends the search."""
        self.evaluated.append(load)
        if ok:
            self.held = load if self.held is None else max(self.held, load)
        else:
            self.failed = load if self.failed is None else min(self.failed, load)
        self.pending = self._next()

    def _next(self) -> float | None:
        ax = self.axis
        if self.failed is None:            # growing: nothing failed yet
            assert self.held is not None
            self.steps += 1
            if self.steps > _MAX_STEPS:
                self.status = "holds at every load tried"
                return None
            return ax.snap(self.held * self.growth)
        if self.held is None:              # shrinking: nothing held yet
            self.steps += 1
            nxt = ax.snap(self.failed / self.growth)
            if self.steps > _MAX_STEPS or nxt >= self.failed:
                self.status = "fails at every load tried"
                return None
            return nxt
        if self.failed / self.held - 1.0 <= self.rtol:
            self.status = "found"
            return None
        mid = ax.snap(math.sqrt(self.held * self.failed))
        if not self.held < mid < self.failed:   # adjacent values of an integer setting
            self.status = "found"
            return None
        return mid


def _point(label: str, load: float, rows: list[dict], slo: dict) -> dict:
    """One load's verdict from its replications: the SLO metrics' means, which failed, the
    first refusal and the verdict's binding limit (as most replications saw them), costs."""
    ok_rows = [r for r in rows if r["error"] is None]
    out: dict = {"variant": label, "load": load, "replications": len(rows),
                 "error": next((r["error"] for r in rows if r["error"] is not None), None)}
    broken = []
    for k in slo:
        vals = [r[BREACHES] if k == BREACHES else r["summary"].get(k) for r in ok_rows]
        known = [float(v) for v in vals if v is not None]
        mean = sum(known) / len(known) if known and len(known) == len(vals) else math.nan
        out[k] = mean
        if not mean <= slo[k]:          # nan (not measured) does not hold either
            broken.append(k)
    for k in ("cost_usd_per_month", "cost_usd_per_1k_users_month", "connections_peak_open"):
        vals = [r["summary"].get(k) for r in ok_rows]
        known = [float(v) for v in vals if v is not None]
        out[k] = sum(known) / len(known) if known else math.nan
    out["holds"] = out["error"] is None and not broken
    out["slo_broken"] = ", ".join(broken) if out["error"] is None else "error"
    out["first_refusal"] = _most([r["summary"].get("first_load_breach_quota") for r in ok_rows])
    out["verdict_binding"] = _most([r["binding"] for r in ok_rows])
    # the limit named is the one behind the SLO term that broke: the first load limit that
    # refused work when refusals broke it (the verdict passes over a refused share under 1%),
    # else what the verdict says binds (a quota, or the latency stage that makes the p99)
    out["binding_limit"] = (out["first_refusal"] if BREACHES in broken and out["first_refusal"]
                            else out["verdict_binding"])
    return out


def _most(values) -> str | None:
    """The value most replications gave (None when most gave none)."""
    c = Counter(values)
    if not c:
        return None
    v, _ = c.most_common(1)[0]
    return v


# ----------------------------------------------------------------------------- the result


class Capacity:
    """What :func:`capacity` returns.

    Attributes
    ----------
    table : DataFrame
        One row per variant (see :func:`capacity`).
    points : DataFrame
        Every load tried: ``variant, load, holds, slo_broken``, each SLO metric's mean,
        ``first_refusal``, ``verdict_binding``, ``binding_limit``, costs, ``replications``, ``order`` (1 = first
        tried), for plots of the frontier.
    runs : DataFrame
        Every run: ``variant, load, replication, seed``, every summary key, ``breaches``
        (requests refused by load limits), ``binding``, ``error``, ``run_seconds``.
    load : str
        The load key.
    slo : dict
        Metric -> upper bound.
    scenario : Scenario
    partial : bool
        True for the searches a Ctrl-C cut short.
    """

    partial = False

    def __init__(self, scn: Scenario, load: str, slo: dict, searches: list[_Search],
                 points: list[dict], runs: list[dict], replications: int):
        self.scenario = scn
        self.load = load
        self.slo = slo
        self.replications = replications
        self.points = pd.DataFrame(points)
        self.runs = pd.DataFrame([{k: v for k, v in r.items() if k != "summary"}
                                  | r["summary"] for r in runs])
        self.table = pd.DataFrame([self._row(s) for s in searches])

    def _at(self, label: str, load: float | None) -> dict:
        if load is None or self.points.empty:
            return {}
        p = self.points[(self.points["variant"] == label) & (self.points["load"] == load)]
        return p.iloc[0].to_dict() if len(p) else {}

    def _row(self, s: _Search) -> dict:
        below, above = self._at(s.label, s.held), self._at(s.label, s.failed)
        held = math.nan if s.held is None else s.held
        failed = math.nan if s.failed is None else s.failed
        row: dict = {"variant": s.label, "load_key": self.load, "capacity": held,
                     "bracket_low": held, "bracket_high": failed, "status": s.status,
                     "slo_broken": above.get("slo_broken"),
                     "binding_limit": above.get("binding_limit"),
                     "first_refusal": above.get("first_refusal"),
                     "verdict_binding": above.get("verdict_binding")}
        for k in self.slo:
            row[f"{k}_below"] = below.get(k, math.nan)
            row[f"{k}_above"] = above.get(k, math.nan)
        row["cost_usd_per_month"] = below.get("cost_usd_per_month", math.nan)
        row["cost_usd_per_1k_users_month"] = below.get("cost_usd_per_1k_users_month", math.nan)
        row["runs"] = len(s.evaluated) * self.replications
        return row

    def to_json(self, **kw) -> str:
        rows = self.table.astype(object).where(self.table.notna(), None).to_dict("records")
        return json.dumps({"scenario": self.scenario.name, "load": self.load, "slo": self.slo,
                           "partial": self.partial, "rows": rows}, **kw)

    def _repr_html_(self) -> str:
        return self.table.to_html(index=False, float_format=lambda x: f"{x:,.4g}")

    def __repr__(self) -> str:
        cols = ["variant", "capacity", "bracket_high", "status", "binding_limit",
                "cost_usd_per_1k_users_month"]
        return (f"<Capacity of {self.scenario.name!r} in {self.load}>\n"
                + self.table[cols].to_string(index=False))


# ----------------------------------------------------------------------------- the API


def capacity(scn: Scenario, load: str = "workload.clients", slo: dict | None = None,
             variants=None, *, start: float | None = None, growth: float = 2.0,
             rtol: float = 0.02,  # not a catalog value
             replications: int = 1, workers: int = 1, progress: bool = True) -> Capacity:
    """The largest load each variant sustains within the SLO, and the limit that binds there.

    Parameters
    ----------
    scn : Scenario
        The workload; its ``seed`` seeds the replications.
    load : str
        The load setting (see the module): a numeric dotted path, a distribution (scaled as a
        whole), or ``workload.arrivals.rate_per_s`` (a spike's arrival rate).
    slo : dict, optional
        Metric -> upper bound: ``breaches`` (requests refused by load limits) and any numeric
        summary key. Default :data:`DEFAULT_SLO` (p99 within 250 ms, nothing refused).
    variants : list, str or dict, optional
        Design names (``basic``, ``sns``, ``basic@eu-central-1``; default the scenario's
        ``variants`` or its architecture), dicts of overrides (``{"aws.lambda.functions.
        default.memory_mb": 2048}``), or a ``{label: name or dict}`` mapping.
    start : float, optional
        The first load tried; default the scenario's own value of the load.
    growth : float
        Factor the bracket grows (or shrinks) by, > 1.
    rtol : float
        Relative width at which the bisection stops: ``failed / held - 1 <= rtol``.
    replications : int
        Runs per load, with the same seeds at every load and for every variant.
    workers : int
        Processes; each round's runs (variants x replications) go to them together.
    progress : bool
        Show a progress bar (runs done; the brackets so far).

    Returns
    -------
    Capacity
        ``.table`` has one row per variant: ``capacity`` (the largest load that held),
        ``bracket_low`` and ``bracket_high`` (the smallest load that failed), ``status``
        (``found``, ``holds at every load tried``, ``fails at every load tried``, ``error:
        ...``, ``interrupted``), ``slo_broken`` (the SLO keys the load above broke),
        ``binding_limit`` (the limit behind the broken term at the load above: the first load
        limit that refused work when ``breaches`` broke, else what :meth:`Result.verdict` says
        binds, a quota or the latency stage that makes the p99), ``first_refusal`` and
        ``verdict_binding`` (both, as most replications saw them), ``<metric>_below`` and
        ``<metric>_above`` for each SLO metric, ``cost_usd_per_month`` and
        ``cost_usd_per_1k_users_month`` at capacity, ``runs``. ``.points`` holds every load
        tried, ``.runs`` every run.

    Raises
    ------
    ScenarioError
        A bad load key, SLO, variant, start, growth, rtol, replication or worker count.
    Interrupted
        On Ctrl-C; ``.partial`` is the :class:`Capacity` of what finished (status
        ``interrupted`` for the searches cut short).
    """
    if not isinstance(scn, Scenario):
        raise ScenarioError("scn", type(scn).__name__,
                            "must be a Scenario (use simulator.load_scenario)")
    bounds = _slo(slo)
    replications = _positive_int("replications", replications)
    workers = _positive_int("workers", workers)
    for name, v, rule, ok in (("growth", growth, "must be a number > 1", lambda x: x > 1),
                              ("rtol", rtol, "must be a number in (0, 1)", lambda x: 0 < x < 1)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not ok(v):
            raise ScenarioError(name, v, rule)
    if start is not None and (isinstance(start, bool) or not isinstance(start, (int, float))
                              or not math.isfinite(start) or start <= 0):
        raise ScenarioError("start", start, "must be a number > 0 (the first load tried)")
    searches = []
    for label, settings in _variant_list(scn, variants):
        try:
            vscn = scn.with_overrides(settings)
            from simulator.scenario import resolve

            resolve(vscn)
        except ScenarioError as e:
            raise ScenarioError(f"variants[{label!r}]: {e.field}", e.value, e.rule) from None
        axis = load_axis(vscn, load)
        first = start if start is not None else axis.base
        if first is None or first <= 0:
            raise ScenarioError("start", start, f"{load} is {axis.base!r} in the scenario "
                                "(a search starts from a load > 0): give start=")
        s = _Search(label, vscn, settings, axis, float(growth), float(rtol))
        s.first(first)
        s.scn.with_overrides(axis.overrides(s.start))   # the first load is a valid scenario
        searches.append(s)
    seeds = replication_seeds(scn.seed, replications)
    return _search(scn, load, bounds, searches, seeds, workers, progress)


def _search(scn, load, slo, searches, seeds, workers, progress) -> Capacity:
    from tqdm.auto import tqdm

    bar = tqdm(total=None, desc=f"capacity {scn.name}", unit="run", disable=not progress)
    points: list[dict] = []
    runs: list[dict] = []
    checked = False
    try:
        while True:
            active = [s for s in searches if s.pending is not None]
            if not active:
                break
            jobs: list[tuple] = [(s.scn.with_overrides(s.axis.overrides(s.pending)), s.label, {},
                     s.pending, r, seed) for s in active for r, seed in enumerate(seeds)]
            try:
                rows = run_jobs(_run_one, jobs, workers, on_done=lambda r: bar.update(1))
            except Interrupted as e:
                runs.extend(e.partial)
                for s in active:
                    s.status, s.pending = "interrupted", None
                out = Capacity(scn, load, slo, searches, points, runs, len(seeds))
                out.partial = True
                raise Interrupted(f"capacity search interrupted after {len(runs)} runs",
                                  out) from None
            runs.extend(rows)
            if not checked:
                first_ok = next((r for r in rows if r["error"] is None), None)
                if first_ok is not None:
                    _check_slo_keys(slo, first_ok["summary"])
                    checked = True
            for s in active:
                mine = [r for r in rows if r["variant"] == s.label]
                p = _point(s.label, s.pending, mine, slo)
                p["order"] = len(s.evaluated) + 1
                points.append(p)
                if p["error"] is not None:
                    s.evaluated.append(s.pending)
                    s.status, s.pending = f"error: {p['error']}", None
                    continue
                s.record(s.pending, p["holds"])
            bar.set_postfix_str("; ".join(f"{s.label} [{_fmt(s.held)}, {_fmt(s.failed)}]"
                                          for s in searches), refresh=False)
    finally:
        bar.close()
    return Capacity(scn, load, slo, searches, points, runs, len(seeds))


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:,.4g}"


__all__ = ["BREACHES", "DEFAULT_SLO", "SPIKE_RATE", "Capacity", "LoadAxis", "capacity",
           "load_axis"]
