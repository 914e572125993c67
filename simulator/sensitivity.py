"""Which assumptions matter: how much each uncertain catalog value moves a run's answer.

A run reads dozens of catalog values; some are documented quotas (confidence ``high``), others
are latencies and behaviours nobody has measured (``assumption``, ``low``). This module varies
the uncertain ones the run actually read and reports how far each moves a metric:

* **one at a time** (``method="oat"``): each value at its low and its high end, all else at
  the baseline, on the same seeds (common random numbers, so the swing is the value's effect,
  not noise); a table sorted by swing, drawn by :func:`simulator.plots.tornado`;
* **Sobol indices** (``method="sobol"``): all values varied together over their ranges
  (Saltelli's sampling; Saltelli's first-order and Jansen's total estimators), giving each
  value's first-order index (its share of the metric's variance alone) and total index
  (alone and through interactions), with bootstrap standard errors.

What is varied, and over what range (first that applies):

1. ``ranges={key: (low, high)}`` given by the caller, in the entry's unit;
2. the catalog entry's own ``range: [low, high]``;
3. the value ± ``rel`` (default ±50%).

A number varies itself (an integer stays an integer); a distribution is scaled (every draw
multiplied by the same factor: its median, mean and p99 move together, its shape stays), and
its range speaks of its median; a mapping holding a distribution (a user location's round
trip) scales that distribution; a yes/no behaviour is tried both ways. Text values (a policy
name) are left out. Values the scenario sets itself are the user's, not assumptions, and are
left out of the default set (name them in ``keys`` to vary them anyway).

>>> import simulator as sim
>>> scn = sim.load_scenario("chat-basic", overrides={"workload.clients": 500, "duration_s": 60,
...                                                  "warmup_s": 10})
>>> oat = sim.sensitivity(scn, metric="latency_p99_ms")                # doctest: +SKIP
>>> oat[["key", "low", "high", "metric_low", "metric_high", "swing"]]  # doctest: +SKIP
>>> from simulator import plots
>>> plots.tornado(oat)                                                  # doctest: +SKIP
>>> sob = sim.sensitivity(scn, method="sobol", n=64, workers=2)        # doctest: +SKIP

Why not SALib: the estimators are a few lines of numpy (:func:`saltelli_design`,
:func:`sobol_indices`), tested against the Ishigami function's analytic indices, and the runs
must go through this package's sweep runner (seeds, processes, Ctrl-C) anyway.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from simulator.errors import ScenarioError
from simulator.rng import Streams
from simulator.scenario import _CATALOG_MAP, Scenario

#: confidence levels varied by default
UNCERTAIN = ("assumption", "low")
METHODS = ("oat", "sobol")
#: bootstrap resamples behind the Sobol indices' standard errors
BOOTSTRAP = 200  # not a catalog value

_PATH_OF = {ckey: f"aws.{spath}" for spath, ckey in _CATALOG_MAP.items()}
#: the fields of each distribution kind that scale with the variable (shape fields stay)
_SCALE_FIELDS = {"fixed": ("value",), "exponential": ("mean",), "lognormal": ("median", "p99"),
                 "uniform": ("low", "high"), "pareto": ("scale",)}


# ----------------------------------------------------------------------------- what is varied


def _is_dist(v: Any) -> bool:
    return isinstance(v, dict) and "kind" in v


def scale_dist(d: dict, factor: float) -> dict:
    """A distribution of ``factor`` times the variable: its location and scale fields
    multiplied (median and p99 of a log-normal, mean of an exponential, bounds of a uniform,
    the scale of a Pareto), its shape (``sigma``, ``shape``) unchanged."""
    fields = _SCALE_FIELDS.get(str(d.get("kind")))
    if fields is None:
        raise ScenarioError("distribution", d, f"cannot scale kind {d.get('kind')!r}; "
                                               f"known: {', '.join(_SCALE_FIELDS)}")
    return {k: (v * factor if k in fields and v is not None else v) for k, v in d.items()}


def _median(v: Any) -> float:
    from simulator.catalog import median_of

    if isinstance(v, dict) and not _is_dist(v):
        v = next(x for x in v.values() if _is_dist(x))
    m = median_of(v)
    if m is None:
        raise ScenarioError("value", v, "has no median (not a number or a distribution)")
    return m


def _kind(v: Any) -> str | None:
    """How a value is varied: number, integer, boolean, distribution, mapping (one holding a
    distribution), or None (text, or a mapping without one)."""
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if _is_dist(v):
        return "distribution"
    if isinstance(v, dict) and any(_is_dist(x) for x in v.values()):
        return "mapping"
    return None


@dataclass(frozen=True)
class Factor:
    """One catalog value being varied: its key, the scenario path that sets it, its
    baseline, and its range (in the entry's unit; a distribution's of its median)."""

    key: str
    path: str
    kind: str
    base: Any
    low: float | bool
    high: float | bool
    range_from: str
    unit: str
    confidence: str
    source: str
    origin: str

    @property
    def shown_base(self) -> float | bool:
        return self.base if self.kind in ("boolean", "integer", "number") else _median(self.base)

    def at(self, x: float | bool) -> Any:
        """The override value that puts this entry at ``x`` (a value, a median, or yes/no)."""
        if self.kind == "boolean":
            return bool(x)
        if self.kind == "integer":
            return int(round(x))
        if self.kind == "number":
            return float(x)
        f = float(x) / _median(self.base)
        if self.kind == "distribution":
            return scale_dist(self.base, f)
        return {k: (scale_dist(v, f) if _is_dist(v) else v) for k, v in self.base.items()}

    def at_unit(self, u: float) -> Any:
        """The override value at ``u`` in [0, 1] of the range (uniform over it; a yes/no
        behaviour is yes for u >= 1/2)."""
        if self.kind == "boolean":
            return self.at(u >= 0.5)
        return self.at(self.low + u * (self.high - self.low))


def _check_range(key: str, kind: str, base: Any, rng: Any) -> tuple[float, float]:
    where = f"ranges[{key!r}]"
    if kind == "boolean":
        raise ScenarioError(where, rng, "a yes/no behaviour is tried both ways; give no range")
    ok = (isinstance(rng, (list, tuple)) and len(rng) == 2
          and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                  for x in rng))
    if not ok:
        raise ScenarioError(where, rng, "must be (low, high), two finite numbers")
    lo, hi = float(rng[0]), float(rng[1])
    if not lo < hi:
        raise ScenarioError(where, rng, "low must be less than high")
    if kind in ("distribution", "mapping") and lo <= 0:
        raise ScenarioError(where, rng, "a distribution's range is of its median and must be > 0")
    if kind == "integer" and round(lo) == round(hi):
        raise ScenarioError(where, rng, "an integer entry needs a range spanning two integers")
    return lo, hi


def _factor(key: str, params, rel: float, ranges: Mapping) -> Factor:
    fact = params.catalog.facts[key]
    base = params.raw(key)
    kind = _kind(base)
    if kind is None:
        raise ScenarioError("keys", key, f"its value {base!r} is not a number, a yes/no or a "
                                         "distribution, so it has no range to vary over")
    if key in ranges:
        (lo, hi), src = _check_range(key, kind, base, ranges[key]), "given"
    elif kind == "boolean":
        lo, hi, src = False, True, "both ways"
    elif fact.range is not None and params._origin[key][0] != "scenario":
        (lo, hi), src = fact.range, "catalog"
    else:
        mid = base if kind in ("integer", "number") else _median(base)
        lo, hi, src = mid * (1 - rel), mid * (1 + rel), f"±{rel:.0%}"
        if kind == "integer":
            lo, hi = int(round(lo)), int(round(hi))
        if lo > hi:
            lo, hi = hi, lo
    origin, source = params._origin[key]
    return Factor(key=key, path=_PATH_OF.get(key, f"catalog.{key}"), kind=kind, base=base,
                  low=lo, high=hi, range_from=src, unit=fact.unit, confidence=fact.confidence,
                  source=source, origin=origin)


def candidates(params, confidence: Iterable[str] = UNCERTAIN) -> list[str]:
    """The catalog keys a run read (``params.reads``) whose confidence is in ``confidence``,
    whose value came from the catalog or a preset (not the scenario), and that can be varied
    (a number, yes/no or distribution, not zero). Sorted by key."""
    conf = set(confidence)
    out = []
    for key in sorted(params.reads):
        fact = params.catalog.facts.get(key)
        if fact is None or fact.confidence not in conf or params._origin[key][0] == "scenario":
            continue
        v = params.raw(key)
        kind = _kind(v)
        if kind is None or (kind != "boolean" and (_median(v) if kind in ("distribution",
                                                                             "mapping") else v) == 0):
            continue
        out.append(key)
    return out


def _check_keys(keys: Any, catalog) -> list[str]:
    if isinstance(keys, str) or not isinstance(keys, Iterable):
        raise ScenarioError("keys", keys, "must be a list of catalog keys, e.g. "
                                          "['latency.post_to_connection_s']")
    keys = list(keys)
    if not keys:
        raise ScenarioError("keys", keys, "is empty: name at least one catalog key (or leave it "
                                          "out to vary every assumption the run reads)")
    for k in keys:
        if not isinstance(k, str) or k not in catalog.facts:
            near = sorted(f for f in catalog.facts if isinstance(k, str)
                          and f.split(".")[0] == k.split(".")[0])[:6]
            raise ScenarioError("keys", k, "not a catalog key"
                                + (f"; e.g. {', '.join(near)}" if near else
                                   " (see sim.load_catalog().frame())"))
    return list(dict.fromkeys(keys))


def _check_metric(metric: Any) -> str:
    if not isinstance(metric, str) or not metric:
        raise ScenarioError("metric", metric, "must be a summary key, e.g. 'latency_p99_ms', "
                                              "'cost_usd_per_month'")
    return metric


def _metric_of(summary: dict, metric: str) -> float:
    v = summary.get(metric)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        import difflib

        numeric = [k for k, x in summary.items()
                   if isinstance(x, (int, float)) and not isinstance(x, bool)]
        near = difflib.get_close_matches(metric, numeric, n=5, cutoff=0.5) or numeric[:8]  # not a catalog value
        raise ScenarioError("metric", metric, "not a number this scenario's runs report; e.g. "
                            + ", ".join(near))
    return float(v)


# ----------------------------------------------------------------------------- estimators


def saltelli_design(k: int, n: int, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Saltelli's sampling on the unit cube: matrices ``A`` and ``B`` (``n`` x ``k``, uniform)
    and ``AB`` (``k`` x ``n`` x ``k``), where ``AB[i]`` is ``A`` with column ``i`` from ``B``.
    The model is evaluated on ``n (k + 2)`` points.

    Notes
    -----
    Saltelli, A. et al. (2010), "Variance based sensitivity analysis of model output. Design
    and estimator for the total sensitivity index", Computer Physics Communications 181(2).
    """
    if k < 1 or n < 2:
        raise ScenarioError("n", n, "Sobol indices need at least one factor and n >= 2")
    a = rng.random((n, k))
    b = rng.random((n, k))
    ab = np.repeat(a[None, :, :], k, axis=0)
    for i in range(k):
        ab[i, :, i] = b[:, i]
    return a, b, ab


def _estimate(y_a: np.ndarray, y_b: np.ndarray, y_ab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # y_a, y_b: (..., n); y_ab: (k, ..., n)
    var = np.var(np.concatenate([y_a, y_b], axis=-1), axis=-1, ddof=1)
    first = np.mean(y_b * (y_ab - y_a), axis=-1) / var
    total = 0.5 * np.mean((y_a - y_ab) ** 2, axis=-1) / var
    return first, total


def sobol_indices(y_a: np.ndarray, y_b: np.ndarray, y_ab: np.ndarray,
                  bootstrap: int = BOOTSTRAP, rng: np.random.Generator | None = None) -> dict:
    """First-order and total Sobol indices from a Saltelli design's outputs, with bootstrap
    standard errors.

    Parameters
    ----------
    y_a, y_b : array (n,)
        The model at ``A`` and ``B``.
    y_ab : array (k, n)
        The model at ``AB[i]``.

    Returns
    -------
    dict
        ``S1``, ``ST`` (arrays of k) and their standard errors ``S1_se``, ``ST_se`` (the
        standard deviation over ``bootstrap`` resamples of the n rows).

    Notes
    -----
    Saltelli et al. (2010), table 2, with V the variance of the outputs at A and B together:

    * first order, estimator (b): ``S_i = mean(f(B) (f(AB_i) - f(A))) / V``, which is
      exactly 0 for a value the model ignores (f(AB_i) = f(A)), where Jansen's first-order
      estimator (f) is 0 only on average;
    * total, Jansen's estimator (f): ``S_Ti = mean((f(A) - f(AB_i))^2) / 2 / V``.
    """
    y_a, y_b, y_ab = (np.asarray(x, dtype=float) for x in (y_a, y_b, y_ab))
    first, total = _estimate(y_a, y_b, y_ab)
    rng = rng if rng is not None else np.random.default_rng(0)
    idx = rng.integers(0, y_a.size, size=(bootstrap, y_a.size))
    bf, bt = _estimate(y_a[idx], y_b[idx], y_ab[:, idx])
    return {"S1": first, "ST": total, "S1_se": bf.std(axis=1, ddof=1),
            "ST_se": bt.std(axis=1, ddof=1)}


# ----------------------------------------------------------------------------- the analysis


def sensitivity(scn: Scenario, metric: str = "latency_p99_ms", *, method: str = "oat",
                keys: Iterable[str] | None = None,
                ranges: Mapping[str, tuple[float, float]] | None = None, rel: float = 0.5,
                confidence: Iterable[str] = UNCERTAIN, replications: int = 1, n: int = 32,
                workers: int = 1, progress: bool = True) -> pd.DataFrame:
    """Which uncertain catalog values move ``metric`` most, for this scenario.

    Parameters
    ----------
    scn : Scenario
        The scenario (its seed seeds every run).
    metric : str
        A numeric key of the run's summary: ``latency_p99_ms``, ``cost_usd_per_month``,
        ``breaches_total``, ``lambda_gb_seconds``, ...
    method : {"oat", "sobol"}
        One at a time (2 runs per value and replication, plus the baseline), or Sobol indices
        (``n (k + 2)`` runs for ``k`` values).
    keys : list of str, optional
        Catalog keys to vary (default: those the baseline run read whose confidence is in
        ``confidence`` and that the scenario does not set itself; see :func:`candidates`).
    ranges : dict, optional
        Catalog key -> (low, high) in the entry's unit (a distribution: of its median);
        keys named here are varied too.
    rel : float
        Relative half-width of the default range (0.5: ±50%), in (0, 1).
    confidence : list of str
        Confidence levels varied by default.
    replications : int
        OAT only: runs per point, seeds spawned from the scenario's as in
        :func:`simulator.sweep` (the same seeds at every point).
    n : int
        Sobol only: base sample size (rows of A and B).
    workers : int
        Processes; results are identical with any number.
    progress : bool
        Show a progress bar.

    Returns
    -------
    DataFrame
        OAT: one row per value, largest swing first: ``key``, ``unit``, ``confidence``,
        ``source``, ``origin``, ``varied`` (value, median, or yes/no), ``range_from`` (given,
        catalog, ±50%, both ways), ``baseline``, ``low``, ``high``, ``metric_baseline``,
        ``metric_low``, ``metric_high``, ``swing`` (abs(metric_high - metric_low)),
        ``swing_se`` (standard error of the paired swing over replications; nan for one),
        ``error`` (the first failed run's error, or None).
        Sobol: one row per value, largest total index first: ``key``, ``unit``,
        ``confidence``, ``source``, ``origin``, ``varied``, ``range_from``, ``baseline``,
        ``low``, ``high``, ``S1``, ``S1_se``, ``ST``, ``ST_se``.
        ``attrs``: ``metric``, ``method``, ``runs``, ``failed_runs``, ``metric_baseline``.

    Raises
    ------
    ScenarioError
        A bad metric, method, key, range, ``rel``, ``n`` or ``replications``; a key the run
        never reads; a range that makes an invalid scenario.
    Interrupted
        On Ctrl-C, with the finished runs' rows in ``partial``.

    Notes
    -----
    Every run of one replication uses the same seed, so a value's swing (OAT) or index
    (Sobol) is its effect on the metric under one fixed draw of the randomness; the indices
    are those of that deterministic function. The Sobol design and its bootstrap draw from
    named streams of their own (``sensitivity.design``, ``sensitivity.bootstrap``), apart from
    the runs' seeds.
    """
    import simulator as sim
    from simulator import engine
    from simulator.sweeps import _run_one, replication_seeds, run_with_progress

    if not isinstance(scn, Scenario):
        raise ScenarioError("scn", type(scn).__name__,
                            "must be a Scenario (use simulator.load_scenario)")
    metric = _check_metric(metric)
    if method not in METHODS:
        raise ScenarioError("method", method, f"must be one of {METHODS}")
    if isinstance(rel, bool) or not isinstance(rel, (int, float)) or not 0 < rel < 1:
        raise ScenarioError("rel", rel, "must be a fraction in (0, 1), e.g. 0.5 for ±50%")
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ScenarioError("n", n, "must be an integer >= 2")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ScenarioError("workers", workers, "must be an integer >= 1")
    if method == "sobol" and replications != 1:
        raise ScenarioError("replications", replications, "Sobol runs use one seed; give n "
                                                          "(more rows) instead")
    seeds = replication_seeds(scn.seed, replications)
    if ranges is None:
        ranges = {}
    if not isinstance(ranges, Mapping):
        raise ScenarioError("ranges", ranges, "must be a dict of catalog key -> (low, high)")
    catalog = sim.load_catalog()
    explicit = _check_keys(keys, catalog) if keys is not None else None
    if ranges:
        _check_keys(list(ranges), catalog)
    conf = list(confidence)
    for c in conf:
        from simulator.catalog import CONFIDENCE

        if c not in CONFIDENCE:
            raise ScenarioError("confidence", c, f"must be among {CONFIDENCE}")

    base = sim.run(scn.with_overrides({"seed": seeds[0]}), progress=False)
    params = base.params
    names = explicit if explicit is not None else candidates(params, conf)
    names = list(dict.fromkeys([*names, *ranges]))
    for k in names:
        if k not in params.reads:
            raise ScenarioError("keys", k, "this scenario's run never reads it, so it cannot "
                                           "move any metric")
    if not names:
        raise ScenarioError("keys", [], f"the run reads no catalog value of confidence {conf} "
                                        "that could be varied: name keys explicitly")
    m0 = _metric_of(base.summary, metric)
    factors = [_factor(k, params, rel, ranges) for k in names]
    _check_points(scn, factors, catalog)

    # the baseline has run (and warned itself if large); the rest is what is still to come
    runs = (len(factors) * 2 * len(seeds) + len(seeds) - 1 if method == "oat"
            else n * (len(factors) + 2))
    guess = engine.estimate(scn)
    total_s = guess["seconds"] * runs / min(workers, runs)
    if total_s > engine.LARGE_S:
        warnings.warn(f"sensitivity of {scn.name}: {runs:,} more runs, each {guess['text']}; "
                      f"about {total_s:,.0f} s with {workers} worker(s)", engine.RunEstimate,
                      stacklevel=2)

    if method == "oat":
        jobs: list[tuple] = [(scn, {}, r, s) for r, s in enumerate(seeds) if r > 0]
        jobs += [(scn, {f.path: f.at(x)}, r, s)
                 for f in factors for x in (f.low, f.high) for r, s in enumerate(seeds)]
    else:
        a, b, ab = saltelli_design(len(factors), n, Streams(scn.seed)["sensitivity.design"])
        cube = np.concatenate([a, b, ab.reshape(-1, len(factors))])
        jobs = [(scn, {f.path: f.at_unit(u) for f, u in zip(factors, row)}, 0, seeds[0])
                for row in cube]

    rows = run_with_progress(_run_one, jobs, workers, f"sensitivity {scn.name}", progress)
    ys = np.array([_metric_of(r, metric) if r.get("error") is None else math.nan
                   for r in rows])   # every run reports what the baseline did
    errors = [r.get("error") for r in rows]

    if method == "oat":
        table = _oat_table(factors, seeds, m0, ys, errors)
    else:
        table = _sobol_table(factors, n, ys, Streams(scn.seed)["sensitivity.bootstrap"])
    table.attrs.update(metric=metric, method=method, runs=len(jobs) + 1,
                       failed_runs=sum(e is not None for e in errors), metric_baseline=m0)
    return table


def _check_points(scn: Scenario, factors: list[Factor], catalog) -> None:
    """Every end of every range makes a valid scenario, before any run (a bad range fails
    at once, naming the key)."""
    from simulator.scenario import check_against_catalog

    for f in factors:
        for x in (f.low, f.high):
            try:
                check_against_catalog(scn.with_overrides({f.path: f.at(x)}), catalog)
            except ScenarioError as e:
                raise ScenarioError(f"ranges[{f.key!r}]", (f.low, f.high),
                                    f"at {x!r} ({f.range_from}) the scenario is invalid: {e}"
                                    ) from None


def _describe(f: Factor) -> dict:
    return {"key": f.key, "unit": f.unit, "confidence": f.confidence, "source": f.source,
            "origin": f.origin,
            "varied": {"boolean": "yes/no", "integer": "value", "number": "value"}.get(
                f.kind, "median"),
            "range_from": f.range_from, "baseline": f.shown_base, "low": f.low, "high": f.high}


def _oat_table(factors, seeds, m0, ys, errors) -> pd.DataFrame:
    r = len(seeds)
    base_ys = np.r_[m0, ys[: r - 1]]
    rest = ys[r - 1:].reshape(len(factors), 2, r)
    errs = np.array(errors[r - 1:], dtype=object).reshape(len(factors), 2, r)
    out = []
    for f, y, e in zip(factors, rest, errs):
        diff = y[1] - y[0]
        first_error = next((x for x in e.ravel() if x is not None), None)
        out.append({**_describe(f), "metric_baseline": float(np.mean(base_ys)),
                    "metric_low": float(np.mean(y[0])), "metric_high": float(np.mean(y[1])),
                    "swing": abs(float(np.mean(diff))),
                    "swing_se": float(np.std(diff, ddof=1) / math.sqrt(r)) if r > 1 else math.nan,
                    "error": first_error})
    table = pd.DataFrame(out)
    return table.sort_values("swing", ascending=False, na_position="last", kind="stable"
                             ).reset_index(drop=True)


def _sobol_table(factors, n, ys, rng) -> pd.DataFrame:
    k = len(factors)
    y_a, y_b, y_ab = ys[:n], ys[n:2 * n], ys[2 * n:].reshape(k, n)
    ok = np.isfinite(y_a) & np.isfinite(y_b) & np.isfinite(y_ab).all(axis=0)
    if ok.sum() < 2:
        raise ScenarioError("metric", None, f"only {int(ok.sum())} of {n} Sobol rows ran "
                                            "without error: see the ranges")
    y_a, y_b, y_ab = y_a[ok], y_b[ok], y_ab[:, ok]
    if np.var(np.r_[y_a, y_b]) == 0:
        idx = {s: np.zeros(k) for s in ("S1", "ST", "S1_se", "ST_se")}
        warnings.warn("the metric did not vary over the ranges: every index is 0", stacklevel=3)
    else:
        idx = sobol_indices(y_a, y_b, y_ab, rng=rng)
    out = [{**_describe(f), "S1": float(idx["S1"][i]), "S1_se": float(idx["S1_se"][i]),
            "ST": float(idx["ST"][i]), "ST_se": float(idx["ST_se"][i])}
           for i, f in enumerate(factors)]
    table = pd.DataFrame(out)
    table.attrs["rows_used"] = int(ok.sum())
    return table.sort_values("ST", ascending=False, kind="stable").reset_index(drop=True)
