"""Compare designs on the same workload: ``sim.compare(scn, ["basic", "sns", ...])``.

Every design runs the same scenario with the same replication seeds (common random numbers:
the same clients, sessions, publishes and payloads, as far as each design admits them), so
the differences between rows are the designs', not the dice's. One row per design:
latency quantiles with 95% confidence half-widths over the replications, cost per month, per
1,000 users and per million deliveries, breaches by quota, the first limit that refused work
and when, the delivery guarantee achieved, and the time the runs took.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pandas as pd

from simulator.errors import Interrupted, ScenarioError
from simulator.metrics.histogram import LogHistogram
from simulator.metrics.result import LOCATION_KEYS, REGION_KEYS
from simulator.scenario import Scenario
from simulator.sweeps import replication_seeds, run_jobs, summarize

#: metrics averaged over replications (mean and 95% CI half-width in the table)
METRICS = (
    "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "latency_p999_ms", "latency_mean_ms",
    "latency_std_ms", "cost_usd_per_month", "cost_usd_per_1k_users_month",
    "cost_usd_per_million_deliveries", "deliveries_succeeded", "deliveries_failed",
    "messages_intended", "messages_lost", "messages_pending", "messages_duplicated",
    "breaches_total",
)

# delivery guarantees, from the best to the worst
_GUARANTEES = ("exactly-once", "at-least-once", "at-most-once", "none")
_RESOLUTION = LogHistogram().alpha   # relative error of a latency quantile


def _variants(scn: Scenario, variants) -> list[str]:
    from simulator.architectures import registry

    if variants is None:
        variants = scn.variants or [scn.architecture]
    if isinstance(variants, str):
        variants = [v.strip() for v in variants.split(",") if v.strip()]
    if not isinstance(variants, (list, tuple)) or not variants:
        raise ScenarioError("variants", variants, "give one or more design names, e.g. "
                            f"['basic', 'sns']; known: {', '.join(registry.names())}")
    for v in variants:
        if not isinstance(v, str) or v.partition("@")[0] not in registry.names():
            raise ScenarioError("variants", v,
                                f"unknown design; known: {', '.join(registry.names())} "
                                "(optionally with its Regions: basic@eu-central-1, "
                                "multi_region@us-east-1+eu-central-1)")
        variant_settings(v)
    if len(set(variants)) != len(variants):
        raise ScenarioError("variants", list(variants), "names a design twice")
    return list(variants)


def variant_settings(variant: str) -> dict:
    """The scenario settings of a variant name: ``design`` or ``design@regions``, where
    ``regions`` is one Region for a one-Region design (``basic@eu-central-1``) or several
    joined by ``+`` for ``multi_region`` (``multi_region@us-east-1+eu-central-1``)."""
    design, at, where = variant.partition("@")
    out: dict = {"architecture": design}
    if not at:
        return out
    regions = [r.strip() for r in where.split("+") if r.strip()]
    if not regions:
        raise ScenarioError("variants", variant, "name the Regions after '@'")
    if design == "multi_region":
        out["multi_region.regions"] = regions
    elif len(regions) == 1:
        out["region"] = regions[0]
    else:
        raise ScenarioError("variants", variant,
                            f"{design!r} runs in one Region; only multi_region takes several")
    return out


def _run_one(job) -> dict:
    """One design, one replication: its summary, latency histograms and breaches."""
    scn, variant, rep, seed = job
    import simulator as sim

    t0 = time.perf_counter()
    res = sim.run(scn.with_overrides({**variant_settings(variant), "seed": seed}), progress=False)
    return run_record(res, variant, rep, seed, time.perf_counter() - t0)


def run_record(res, variant: str, rep: int, seed: int, run_seconds: float) -> dict:
    """What a :class:`Comparison` keeps of one run (a :class:`~simulator.Result`)."""
    br = res.breaches_by_quota()
    br.insert(0, "replication", rep)
    br.insert(0, "variant", variant)
    verdict = res.verdict()
    return {"variant": variant, "replication": rep, "seed": seed, "summary": res.summary,
            "histogram": res.histogram, "by_location": res.histograms_by_location,
            "costs": res.monthly_costs.groupby(["region", "service", "item"], as_index=False)[
                "cost_usd"].sum().rename(columns={"cost_usd": "cost_usd_per_month"}),
            "prices": _prices_used(res.monthly_costs),
            "breaches": br, "timeline": _timeline(res.breaches),
            "headroom": verdict.headroom[HEADROOM_COLUMNS[2:]],
            "binding": verdict.binding, "advice": verdict.advice,
            "params": _params_read(res.params), "run_seconds": run_seconds}


#: columns of :attr:`Comparison.headroom`
HEADROOM_COLUMNS = ["variant", "replication", "limit", "key", "peak_use", "limit_value",
                    "peak_share", "at_s", "unit", "raise"]
#: columns of :attr:`Comparison.timeline`
TIMELINE_COLUMNS = ["variant", "replication", "time_s", "quota", "effect", "count"]
#: columns of :attr:`Comparison.prices`
PRICE_COLUMNS = ["variant", "region", "item", "unit", "unit_price_usd", "tier", "basis",
                 "source"]


def _timeline(breaches: pd.DataFrame) -> pd.DataFrame:
    """Breaches per second and quota (summed over components and Regions)."""
    cols = TIMELINE_COLUMNS[2:]
    if breaches.empty:
        return pd.DataFrame(columns=cols)
    return breaches.groupby(["time_s", "quota", "effect"], as_index=False)["count"].sum()[cols]


def _prices_used(monthly: pd.DataFrame) -> pd.DataFrame:
    """The price rows a run's monthly bill used (quantity > 0), one per item, Region and tier."""
    used = monthly[monthly["quantity"] > 0]
    return used[PRICE_COLUMNS[1:]].drop_duplicates().reset_index(drop=True)


def _params_read(params) -> pd.DataFrame:
    """The resolved values this run read, with their origin, confidence, date and source."""
    f = params.frame()
    return f[f["key"].isin(params.reads)].reset_index(drop=True)


class Comparison:
    """What :func:`compare` returns.

    Attributes
    ----------
    table : DataFrame
        One row per design (see :func:`compare`).
    runs : DataFrame
        One row per design and replication: every summary key.
    breaches : DataFrame
        ``variant, replication, quota, component, effect, first_s, last_s, seconds, count``.
    histograms : dict
        Design -> delivery-latency histogram merged over the replications.
    by_location : dict
        Design -> user location -> delivery-latency histogram (with a geography).
    costs : DataFrame
        ``variant, replication, region, service, item, cost_usd_per_month``: the monthly
        bill of each run, by item (``res.monthly_costs`` summed over tiers).
    timeline : DataFrame
        ``variant, replication, time_s, quota, effect, count``: breaches per second and quota.
    headroom : DataFrame
        ``variant, replication, limit, key, peak_use, limit_value, peak_share, at_s, unit,
        raise``: each run's :func:`~simulator.metrics.verdict.headroom`.
    verdicts : DataFrame
        ``variant, replication, binding, advice``: what each run's verdict says binds.
    params : dict
        Design -> the resolved values its first replication read (``res.params.frame()``
        rows of ``res.params.reads``: key, value, unit, origin, confidence, as_of, source).
    prices : DataFrame
        ``variant, region, item, unit, unit_price_usd, tier, basis, source``: the price rows
        the monthly bills used.
    scenario : Scenario
    """

    def __init__(self, scn: Scenario, variants: list[str], results: list[dict]):
        self.scenario = scn
        self.variants = variants
        self.runs = pd.DataFrame([{"variant": r["variant"], "replication": r["replication"],
                                   **r["summary"], "seed": r["seed"],
                                   "run_seconds": r["run_seconds"]} for r in results])
        frames = [r["breaches"] for r in results if len(r["breaches"])]
        cols = ["variant", "replication", "quota", "component", "effect", "first_s", "last_s",
                "seconds", "count"]
        self.breaches = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
        self.histograms: dict[str, LogHistogram] = {}
        for r in results:
            h = self.histograms.get(r["variant"])
            if h is None:
                from simulator.metrics.histogram import LogHistogram

                h = self.histograms[r["variant"]] = LogHistogram()
            h.merge(r["histogram"])
        from simulator.metrics.histogram import LogHistogram

        frames = [r["costs"].assign(variant=r["variant"], replication=r["replication"])
                  for r in results if "costs" in r]
        self.costs = (pd.concat(frames, ignore_index=True) if frames else
                      pd.DataFrame(columns=["region", "service", "item", "cost_usd_per_month",
                                            "variant", "replication"]))
        self.by_location: dict = {}
        for r in results:
            for loc, hl in r.get("by_location", {}).items():
                self.by_location.setdefault(r["variant"], {}).setdefault(
                    loc, LogHistogram()).merge(hl)
        self.timeline = _stack(results, "timeline", TIMELINE_COLUMNS)
        self.headroom = _stack(results, "headroom", HEADROOM_COLUMNS)
        self.verdicts = pd.DataFrame(
            [{"variant": r["variant"], "replication": r["replication"],
              "binding": r.get("binding"), "advice": r.get("advice", "")} for r in results],
            columns=["variant", "replication", "binding", "advice"])
        self.params: dict[str, pd.DataFrame] = {}
        prices = []
        for r in sorted(results, key=lambda r: r["replication"]):
            if "params" in r:
                self.params.setdefault(r["variant"], r["params"])
            if "prices" in r:
                prices.append(r["prices"].assign(variant=r["variant"]))
        self.prices = (pd.concat(prices, ignore_index=True).drop_duplicates(
            ignore_index=True)[PRICE_COLUMNS] if prices else pd.DataFrame(columns=PRICE_COLUMNS))
        self.table = self._table()

    def _table(self) -> pd.DataFrame:
        runs = self.runs.assign(error=None)
        split = [c for c in runs.columns if "." in c
                 and c.split(".", 1)[0] in LOCATION_KEYS + REGION_KEYS]
        # the realtime features' counts and latencies, when a feature is on
        features = [c for c in runs.columns if c.startswith(("features_", "fallback_"))
                    and pd.api.types.is_numeric_dtype(runs[c])]
        metrics = METRICS + tuple(split) + tuple(features)
        stats = summarize(runs, metrics, by=["variant"]).set_index("variant")
        rows = []
        for v in self.variants:
            g = self.runs[self.runs["variant"] == v]
            st = stats.loc[v]
            row: dict = {"variant": v, "replications": len(g)}
            for m in metrics:
                row[m] = st[f"{m}.mean"]
                if m.startswith("latency"):
                    # a quantile is known to the histogram's resolution at best: replications
                    # landing in one bucket say no more than that
                    row[f"{m}_ci95"] = max(st[f"{m}.ci95"], _RESOLUTION * abs(row[m])) \
                        if len(g) > 1 else st[f"{m}.ci95"]
                elif m.startswith("cost"):
                    row[f"{m}_ci95"] = st[f"{m}.ci95"]
            intended = row["messages_intended"]
            for m in ("lost", "pending", "duplicated"):
                row[f"messages_{m}_share"] = (row[f"messages_{m}"] / intended if intended
                                              else None)
            row["breaches_by_quota"] = self._by_quota(v, len(g))
            (row["first_binding_limit"], row["first_binding_s"],
             row["first_binding_runs"]) = self._first_binding(v)
            row["delivery_guarantee"] = _worst(g["delivery_guarantee"])
            row["wall_seconds"] = float(g["run_seconds"].sum())   # the runs' own time, all told
            rows.append(row)
        return pd.DataFrame(rows)

    def _by_quota(self, v: str, reps: int) -> str:
        """``quota: count per run`` of every limit breached, most first."""
        b = self.breaches[self.breaches["variant"] == v]
        if b.empty:
            return ""
        per = b.groupby("quota")["count"].sum().sort_values(ascending=False) / reps
        return "; ".join(f"{q}: {c:,.0f}" for q, c in per.items())

    def _first_binding(self, v: str) -> tuple[str | None, float | None, int]:
        """The limit that first refused work (requests refused, not connections closed by a
        time limit) as most replications saw it, the median of its first second over those
        replications, and how many they were."""
        b = self.breaches[(self.breaches["variant"] == v) & (self.breaches["effect"] == "refused")]
        if b.empty:
            return None, None, 0
        first = b.sort_values("first_s").groupby("replication").head(1)
        quota, runs = Counter(first["quota"]).most_common(1)[0]
        return quota, float(first.loc[first["quota"] == quota, "first_s"].median()), runs

    def cdf(self) -> pd.DataFrame:
        """Delivery-latency CDFs: ``variant, latency_ms, fraction`` (all replications)."""
        out = []
        for v, h in self.histograms.items():
            x, f = h.cdf()
            out.append(pd.DataFrame({"variant": v, "latency_ms": x * 1000.0, "fraction": f}))
        return pd.concat(out, ignore_index=True) if out else pd.DataFrame(
            columns=["variant", "latency_ms", "fraction"])

    #: True for the runs that finished before a Ctrl-C
    partial = False

    def to_json(self, **kw) -> str:
        rows = self.table.astype(object).where(self.table.notna(), None).to_dict("records")
        return json.dumps({"scenario": self.scenario.name, "partial": self.partial,
                           "rows": rows}, **kw)

    def _repr_html_(self) -> str:
        return self.table.set_index("variant").T.to_html(float_format=lambda x: f"{x:,.3g}")

    def __repr__(self) -> str:
        cols = ["variant", "latency_p50_ms", "latency_p99_ms", "cost_usd_per_month",
                "first_binding_limit"]
        return f"<Comparison of {self.scenario.name!r}>\n" + self.table[cols].to_string(index=False)


def _stack(results: list[dict], key: str, columns: list[str]) -> pd.DataFrame:
    """One frame of every run's ``key`` frame, with its variant and replication."""
    frames = [r[key].assign(variant=r["variant"], replication=r["replication"])
              for r in results if key in r and len(r[key])]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def _worst(guarantees) -> str:
    """The weakest guarantee any replication showed, as the summary words it."""
    worst, text = -1, ""
    for g in guarantees:
        for k, name in enumerate(_GUARANTEES):
            if str(g).startswith(name) and k > worst:
                worst, text = k, str(g)
    return text


def compare(scn: Scenario, variants=None, replications: int = 1, workers: int = 1,
            progress: bool = True) -> Comparison:
    """Run designs on the same workload and compare them.

    Parameters
    ----------
    scn : Scenario
        The workload (its ``architecture`` is ignored; ``seed`` seeds the replications).
    variants : list of str or str, optional
        Registered design names (``basic``, ``sns``, ``sqs``, ``appsync``, ``managed``), or a
        comma-separated string; default the scenario's ``variants`` (or its architecture).
    replications : int
        Runs per design, with seeds spawned from the scenario's seed: the same seeds for every
        design (common random numbers).
    workers : int
        Processes; 1 runs here. Results are identical either way.
    progress : bool
        Show a progress bar.

    Returns
    -------
    Comparison
        ``.table`` has one row per design: ``latency_p50_ms`` ... ``latency_p999_ms``,
        ``latency_mean_ms``, ``latency_std_ms`` (means over replications, each with a
        ``_ci95`` half-width), ``cost_usd_per_month``, ``cost_usd_per_1k_users_month``,
        ``cost_usd_per_million_deliveries``, delivered/failed/lost/duplicated counts,
        ``breaches_total``, ``breaches_by_quota``, ``first_binding_limit`` and
        ``first_binding_s``, ``delivery_guarantee`` (the weakest seen) and ``wall_seconds``;
        with realtime features on, their ``features_*`` and ``fallback_*`` summary keys
        (means).

    Raises
    ------
    ScenarioError
        An unknown design, a bad replication count, or a scenario a design refuses.
    """
    names = _arguments(scn, variants, replications, workers)
    _check(scn, names)
    jobs = _jobs(scn, names, replications)
    try:
        results = _execute(jobs, workers, progress, f"compare {scn.name}")
    except Interrupted as e:
        done = [v for v in names if any(r["variant"] == v for r in e.partial)]
        partial = Comparison(scn, done, e.partial) if done else None
        if partial is not None:
            partial.partial = True
        raise Interrupted(f"comparison interrupted after {len(e.partial)} of {len(jobs)} runs",
                          partial) from None
    return Comparison(scn, names, results)


def _arguments(scn, variants, replications, workers) -> list[str]:
    """The design names, once every argument is checked."""
    if not isinstance(scn, Scenario):
        raise ScenarioError("scn", type(scn).__name__,
                            "must be a Scenario (use simulator.load_scenario)")
    names = _variants(scn, variants)
    for name, v in (("replications", replications), ("workers", workers)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ScenarioError(name, v, "must be an integer >= 1")
    return names


def _check(scn: Scenario, names: list[str]) -> None:
    from simulator.scenario import resolve

    for v in names:   # every design checks the workload before any runs
        resolve(scn.with_overrides(variant_settings(v)))


def _jobs(scn: Scenario, names: list[str], replications: int) -> list:
    seeds = replication_seeds(scn.seed, replications)
    return [(scn, v, r, s) for r, s in enumerate(seeds) for v in names]


def _execute(jobs: list, workers: int, progress: bool, desc: str) -> list[dict]:
    """The runs, in job order (Ctrl-C: :class:`Interrupted` with the finished ones)."""
    bar = _bar(len(jobs), progress, desc)
    try:
        return run_jobs(_run_one, jobs, workers, on_done=lambda r: bar.update(1))
    finally:
        bar.close()


def compare_sweep(scn: Scenario, variants, grid: dict, replications: int = 1, workers: int = 1,
                  progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """:func:`compare` at every point of a what-if grid (see :func:`simulator.sweep`).

    Parameters
    ----------
    scn, variants, replications, workers, progress
        As :func:`compare`.
    grid : dict
        Dotted path -> value or list of values, e.g. ``{"workload.clients": [10, 1000,
        100000], "workload.publish.total_rate_per_s": [0.5, 2]}``.

    Returns
    -------
    table : DataFrame
        The comparison table of every point, with a ``param.<path>`` column per grid key.
    comparisons : dict
        Point (a tuple of the grid values, in grid order) -> its :class:`Comparison`.
    """
    from simulator.sweeps import expand

    names = _arguments(scn, variants, replications, workers)
    points = expand(grid)
    cmps = _compare_points([scn.with_overrides(p) for p in points], names, replications,
                           workers, progress, f"compare {scn.name} grid")
    tables, comparisons = [], {}
    for p, cmp in zip(points, cmps):
        comparisons[tuple(p.values())] = cmp
        t = cmp.table.copy()
        for i, (path, v) in enumerate(p.items()):
            t.insert(i, f"param.{path}", v)
        tables.append(t)
    return pd.concat(tables, ignore_index=True), comparisons


def _compare_points(scns: list[Scenario], names: list[str], replications: int, workers: int,
                    progress: bool, desc: str) -> list[Comparison]:
    """A :class:`Comparison` of the designs ``names`` on each scenario, all runs in one pool
    (each scenario checked by every design first)."""
    for s in scns:
        _check(s, names)
    jobs = [(k, j) for k, s in enumerate(scns) for j in _jobs(s, names, replications)]
    results = _execute([j for _, j in jobs], workers, progress, desc)
    return [Comparison(s, names, [r for (kk, _), r in zip(jobs, results) if kk == k])
            for k, s in enumerate(scns)]


#: the features :func:`feature_impact` measures, in the order of its rows
FEATURES = ("presence", "typing", "history_on_join", "fallback")
#: columns of :func:`feature_impact`'s table
IMPACT_COLUMNS = ["variant", "features", "cost_usd_per_month", "latency_p50_ms",
                  "latency_p99_ms", "deliveries_attempted", "extra_cost_usd_per_month",
                  "extra_cost_share", "extra_p99_ms", "extra_deliveries", "messages_lost",
                  "messages_lost_share", "publishes_rejected", "breaches_total",
                  "first_binding_limit"]


def feature_impact(scn: Scenario, variants=None, replications: int = 1, workers: int = 1,
                   progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """What each realtime feature the scenario turns on (``features``: presence, typing,
    history on join, fallback clients) adds to each design: the designs run without any
    feature, with each alone, and with all of them, on the same seeds. The features draw
    their events from their own streams, so the users, their sessions and their messages are
    the same in every run; the latencies along the paths the events share are drawn afresh,
    so a few percent of ``extra_p99_ms`` is noise (replications say how much). Fallback
    clients are users who poll instead of holding a WebSocket.

    Parameters
    ----------
    scn : Scenario
        With at least one feature on.
    variants, replications, workers, progress
        As :func:`compare`.

    Returns
    -------
    table : DataFrame
        One row per design and feature set (``none``, each feature, ``all``):
        ``cost_usd_per_month``, ``latency_p50_ms``, ``latency_p99_ms`` (the users' messages,
        fallback clients included when they are on), ``deliveries_attempted`` (feature events
        included), and what the set adds over ``none``: ``extra_cost_usd_per_month``,
        ``extra_cost_share``, ``extra_p99_ms``, ``extra_deliveries``; then the users'
        ``messages_lost`` and ``messages_lost_share`` (of the pairs intended),
        ``publishes_rejected``, ``breaches_total``, ``first_binding_limit``.
    comparisons : dict
        Feature set -> its :class:`Comparison`.

    Raises
    ------
    ScenarioError
        No feature on, or what :func:`compare` refuses.
    """
    names = _arguments(scn, variants, replications, workers)
    on = [f for f in FEATURES if getattr(scn.features, f) is not None]
    if not on:
        raise ScenarioError("features", scn.features.model_dump(),
                            f"turn on at least one of {', '.join(FEATURES)} to measure it")
    off = {f"features.{f}": None for f in FEATURES}
    sets = {"none": scn.with_overrides(off)}
    for f in on:
        sets[f] = scn.with_overrides({**off, f"features.{f}": getattr(scn.features, f)
                                      .model_dump()})
    if len(on) > 1:
        sets["all"] = scn
    cmps = dict(zip(sets, _compare_points(list(sets.values()), names, replications, workers,
                                          progress, f"features {scn.name}")))
    none = cmps["none"].table.set_index("variant")
    none_delivered = {v: _delivered_any_way(g) for v, g in cmps["none"].runs.groupby("variant")}
    rows = []
    for label, cmp in cmps.items():
        runs = cmp.runs.groupby("variant", sort=False)
        t = cmp.table.set_index("variant")
        for v in names:
            base = none.loc[v]
            row = t.loc[v]
            attempted = _delivered_any_way(runs.get_group(v))
            base_attempted = none_delivered[v]
            cost = row["cost_usd_per_month"]
            rows.append({
                "variant": v, "features": label, "cost_usd_per_month": cost,
                "latency_p50_ms": row["latency_p50_ms"], "latency_p99_ms": row["latency_p99_ms"],
                "deliveries_attempted": attempted,
                "extra_cost_usd_per_month": cost - base["cost_usd_per_month"],
                "extra_cost_share": ((cost - base["cost_usd_per_month"])
                                     / base["cost_usd_per_month"]
                                     if base["cost_usd_per_month"] else None),
                "extra_p99_ms": row["latency_p99_ms"] - base["latency_p99_ms"],
                "extra_deliveries": attempted - base_attempted,
                "messages_lost": row["messages_lost"],
                "messages_lost_share": row["messages_lost_share"],
                "publishes_rejected": float(runs.get_group(v)["publishes_rejected"].mean()),
                "breaches_total": row["breaches_total"],
                "first_binding_limit": row["first_binding_limit"],
            })
    return pd.DataFrame(rows, columns=IMPACT_COLUMNS), cmps


def _delivered_any_way(runs: pd.DataFrame) -> float:
    """Deliveries the runs asked for, mean over replications: over WebSockets (feature events
    included), to the pollers, and the messages fetched on joining."""
    total = runs["deliveries_attempted"].astype(float)
    for k in ("fallback_deliveries", "features_join_history_messages"):
        if k in runs:
            total = total + runs[k].fillna(0.0).astype(float)
    return float(total.mean())


def crossovers(table: pd.DataFrame, x: str, y: str = "cost_usd_per_month",
               by: str = "variant", complete_only: bool = True) -> pd.DataFrame:
    """Where one design's ``y`` crosses another's as ``x`` grows: for every pair, between
    adjacent ``x`` values where the sign of their difference changes, the crossing by linear
    interpolation in ``log10(x)``.

    With ``complete_only`` (the default), points where a design had work refused
    (``first_binding_limit`` set) are left out: undelivered messages are not billed, so its
    cost there is not the price of the load.

    Returns
    -------
    DataFrame
        ``a, b, x, y, below`` (``below``: the design cheaper, or lower, just below the
        crossing), sorted by ``x``.
    """
    import numpy as np

    for col in (x, y, by):
        if col not in table:
            raise ScenarioError("crossovers", col, f"no such column; have {list(table.columns)}")
    if complete_only:
        if "first_binding_limit" not in table:
            raise ScenarioError("crossovers", "first_binding_limit",
                                "complete_only needs the comparison table's first_binding_limit")
        table = table[table["first_binding_limit"].isna()]
    wide = table.pivot_table(index=x, columns=by, values=y, aggfunc="mean").sort_index()
    xs = np.log10(wide.index.to_numpy(dtype=float))
    names = list(wide.columns)
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            d = (wide[a] - wide[b]).to_numpy(dtype=float)
            for k in range(len(d) - 1):
                d0, d1 = d[k], d[k + 1]
                if not (np.isfinite(d0) and np.isfinite(d1)) or d0 * d1 > 0 or d0 == d1:
                    continue
                f = d0 / (d0 - d1)
                lx = xs[k] + f * (xs[k + 1] - xs[k])
                ya = wide[a].iloc[k] + f * (wide[a].iloc[k + 1] - wide[a].iloc[k])
                rows.append({"a": a, "b": b, "x": float(10 ** lx), "y": float(ya),
                             "below": a if d0 < 0 else b})
    out = pd.DataFrame(rows, columns=["a", "b", "x", "y", "below"])
    return out.sort_values("x").reset_index(drop=True)


def _bar(total: int, enabled: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="run")


__all__ = ["METRICS", "Comparison", "compare", "compare_sweep", "crossovers", "feature_impact"]
