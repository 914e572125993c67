"""The result of one run: summary, latency histogram, time series, breaches, usage, costs."""

from __future__ import annotations

import json
import math

import pandas as pd

from simulator.costs import COLUMNS as COST_COLUMNS
from simulator.costs import project_month
from simulator.metrics.recorder import finite_or_none
from simulator.units import MILLION

SUMMARY_KEYS = (
    "connections_attempted", "connections_established", "connections_rejected",
    "connections_peak_open", "messages_published", "deliveries_attempted",
    "deliveries_succeeded", "deliveries_failed", "deliveries_stale", "latency_p50_ms",
    "latency_p95_ms", "latency_p99_ms", "latency_p999_ms", "latency_mean_ms", "latency_std_ms",
    "lambda_invocations", "lambda_throttles", "lambda_cold_starts", "lambda_peak_concurrency",
    "dynamodb_read_units", "dynamodb_write_units", "dynamodb_throttles",
    "apigw_throttled_requests", "breaches_total", "cost_usd", "cost_usd_per_month",
    "sim_events", "wall_seconds",
)

#: keys per user location (``<key>.<location>``, e.g. ``latency_p50_ms.europe``: deliveries to
#: users there) and per Region (``<key>.<region>``: deliveries by that Region's fan-outs), with
#: a ``workload.geography``
LOCATION_KEYS = ("latency_p50_ms", "latency_p99_ms", "latency_p999_ms", "latency_std_ms",
                 "deliveries_recorded")
#: keys per Region (``<key>.<region>``) of a design over several Regions, or with a geography
REGION_KEYS = ("cost_usd_per_month", "breaches_total", "connections_peak_open")


class Result:
    """What one run produced.

    Attributes
    ----------
    summary : dict
        Flat headline metrics (names in ``SUMMARY_KEYS`` plus more); JSON-ready.
    counters : dict
        Every raw counter (dotted names).
    usage : dict
        Billable quantities of the simulated window, named as ``simulator.price`` expects
        (every item a design reports must be in the Region's price book, or the run fails).
    usage_by_region : dict
        Region -> the same (several Regions for ``multi_region``; ``usage`` sums them).
    histograms_by_location, histograms_by_region : dict
        With a ``workload.geography``: delivery latency by the recipient's location, and by
        the Region that delivered.
    timeseries : DataFrame
        Indexed by ``time_s`` at the scenario's step (1 s).
    breaches : DataFrame
        ``time_s, quota, component, region, count, effect``: per second, requests refused by
        a quota (``effect == "refused"``) or connections closed by a limit (``"closed"``).
    costs : DataFrame
        The simulated window priced line by line (``simulator.price(res.usage, region)``):
        ``service, item, region, quantity, unit, unit_price_usd, cost_usd, tier, basis, source``.
    monthly_usage, monthly_costs : dict, DataFrame
        The measured window (after warm-up) projected to a month (``cost_projection`` says
        how) and priced with the same function.
    scenario : Scenario
        The scenario as run (with overrides).
    params : Params
        Every resolved number with its origin and source (``params.frame()``).
    """

    def __init__(self, scn, params, arch, rec, snaps: dict, sim_events: int, wall_seconds: float):
        self.scenario = scn
        self.params = params
        hists = arch.histograms()
        self.histogram = hists["delivery"]
        self.connect_histogram = hists["connect"]
        self.zombie_histogram = hists["zombie_lifetime"]
        self.counters = dict(rec.c)
        self.timeseries = rec.timeseries()
        self.breaches = rec.breaches.frame()
        month_s = params["billing.hours_per_month"] * 3600.0
        end = snaps["end"]
        zero = _zero(end)
        start = snaps.get("warmup") or zero
        self.usage_by_region, _ = _usage_between(zero, end, scn, month_s)
        self.usage = _merged(self.usage_by_region)
        measured, window_s = _usage_between(start, end, scn, month_s)
        incident = snaps.get("incident")
        steady, steady_s = (_usage_between(start, incident, scn, month_s) if incident
                            else (measured, window_s))
        self.monthly_usage_by_region = {}
        for region, u in steady.items():
            self.monthly_usage_by_region[region], self.cost_projection = project_month(
                u, steady_s, month_s, scn.billing.hourly_load)
        self.monthly_usage = _merged(self.monthly_usage_by_region)
        #: with an incident: the usage it added over the steady state, once (an event)
        self.incident_usage_by_region = (
            {r: {k: max(0.0, q - steady[r].get(k, 0.0) * window_s / steady_s)
                 for k, q in u.items()} for r, u in measured.items()} if incident else {})
        if incident:
            self.cost_projection = (
                f"steady state before the first incident ({steady_s:g} s after warm-up) "
                f"projected: {self.cost_projection}; the incident's extra usage over that "
                "steady state is priced once (incident_cost_usd), not as a month of it")
        elif scn.workload.incidents:
            self.cost_projection += ("; the first incident is inside the warm-up, so the "
                                     "projection includes it as if it lasted all month")
        self.costs, self.monthly_costs, self.cost_note = _price_both(self, scn)
        self.histograms_by_location = hists.get("by_location", {})
        self.histograms_by_region = hists.get("by_region", {})
        self.latency_stages = hists.get("stages")
        #: random stream -> LogHistogram of the draws the model consumed from it (the
        #: components' own latencies: ``lambda.default.handler``, ``dynamodb``, ...)
        self.drawn = arch.s.drawn()
        extra = _cost_keys(self, start, end, window_s, month_s)
        extra["zombie_cost_usd_per_month"] = _zombie_cost(self, scn, start, end, window_s, month_s)
        if incident and not self.cost_note:
            extra["incident_cost_usd"] = _incident_cost(self, scn)
        extra.update(_geo_keys(self, arch.gauges()))
        extra.update(_stage_keys(self))
        extra.update(arch.gauges().get("summary", {}))   # a design's own keys
        self.summary = _summary(self, arch.gauges(), sim_events, wall_seconds, extra)

    def verdict(self):
        """The answer first (:class:`~simulator.metrics.verdict.Verdict`): the first load limit
        that refused work, the design limits that closed connections, headroom per quota,
        what the latency is made of at p50 and p99, the cost, and what to change."""
        from simulator.metrics.verdict import verdict

        return verdict(self)

    def component_latency(self):
        """One row per random stream of a component's latency: the number of values the
        model drew from it in this run (warm-up included) and their p50, p99 and mean (ms),
        measured from the draws themselves (within 0.5% for quantiles). Streams: ``api_gateway``
        (route processing), ``dynamodb`` (item calls), ``dynamodb.query`` (query pages),
        ``lambda.<function>.handler``, ``lambda.<function>.init`` (cold starts), ...."""
        import pandas as pd

        rows = [{"stream": name, "draws": h.n, "p50_ms": h.quantile(0.5) * 1000.0,
                 "p99_ms": h.quantile(0.99) * 1000.0, "mean_ms": h.mean * 1000.0}
                for name, h in sorted(self.drawn.items()) if h.n > 0]
        return pd.DataFrame(rows, columns=["stream", "draws", "p50_ms", "p99_ms", "mean_ms"])

    def quantile(self, q: float) -> float:
        """Delivery latency (ms) at quantile ``q`` (publish -> receipt, after warm-up)."""
        return self.histogram.quantile(q) * 1000.0

    def connect_quantile(self, q: float) -> float:
        """Connection-establishment latency (ms) at quantile ``q`` (attempt -> open)."""
        return self.connect_histogram.quantile(q) * 1000.0

    def breaches_by_quota(self) -> pd.DataFrame:
        """One row per (quota, component, effect): first and last second with a breach,
        how many seconds had one, and the total count."""
        br = self.breaches
        cols = ["quota", "component", "effect", "first_s", "last_s", "seconds", "count"]
        if br.empty:
            return pd.DataFrame(columns=cols)
        agg = br.groupby(["quota", "component", "effect"], as_index=False).agg(
            first_s=("time_s", "min"), last_s=("time_s", "max"), seconds=("time_s", "nunique"),
            count=("count", "sum"))
        return agg.sort_values(["first_s", "quota"]).reset_index(drop=True)[cols]

    def latency_cdf(self) -> pd.DataFrame:
        """Delivery-latency CDF: ``latency_ms``, ``fraction``."""
        v, c = self.histogram.cdf()
        return pd.DataFrame({"latency_ms": v * 1000.0, "fraction": c})

    def to_json(self, **kw) -> str:
        return json.dumps(self.summary, **kw)

    def __repr__(self) -> str:
        s = self.summary
        return (f"<Result {s['scenario']!r}: {s['messages_published']:.0f} messages, "
                f"p50 {s['latency_p50_ms']} ms, p99 {s['latency_p99_ms']} ms, "
                f"{s['breaches_total']:.0f} breaches>")


def _ms(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x * 1000.0, 3)


def _s(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, 3)


def _incident_cost(res, scn) -> float:
    """What the incident added to a month's bill: the monthly steady state plus its extra
    usage (once), priced at the month's tiers, less the steady state alone."""
    from simulator.costs import price

    total = 0.0
    for r, month in res.monthly_usage_by_region.items():
        extra = res.incident_usage_by_region.get(r, {})
        both = {k: month.get(k, 0.0) + extra.get(k, 0.0) for k in set(month) | set(extra)}
        total += float(price(both, r, scn.billing.free_tier)["cost_usd"].sum()
                       - price(month, r, scn.billing.free_tier)["cost_usd"].sum())
    return total


def _stage_keys(res) -> dict:
    """What the latency is made of at p50 and p99 (``latency_p99_share.post_slot_wait``), and
    the first limit that refused work (not a design limit that closed connections)."""
    out: dict = {}
    st = res.latency_stages
    if st is not None:
        for name, q in (("p50", 0.5), ("p99", 0.99)):
            for k, v in st.shares_at(q).items():
                out[f"latency_{name}_share.{k}"] = round(v, 4)
    br = res.breaches
    refused = br[br["effect"] == "refused"] if len(br) else br
    first = refused.sort_values("time_s", kind="stable").iloc[0] if len(refused) else None
    out["first_load_breach_quota"] = None if first is None else str(first["quota"])
    out["first_load_breach_time_s"] = None if first is None else float(first["time_s"])
    return out


def _geo_keys(res, g: dict) -> dict:
    """Latency by user location and by Region; cost, breaches and peak connections by Region
    (several Regions); the failback storm and what a Region outage refused."""
    out: dict = {}
    for group in (res.histograms_by_location, res.histograms_by_region):
        for name, h in group.items():
            out[f"latency_p50_ms.{name}"] = _ms(h.quantile(0.5))
            out[f"latency_p99_ms.{name}"] = _ms(h.quantile(0.99))
            out[f"latency_p999_ms.{name}"] = _ms(h.quantile(0.999))
            out[f"latency_std_ms.{name}"] = _ms(h.std)
            out[f"deliveries_recorded.{name}"] = float(h.n)
    if len(res.usage_by_region) > 1 or res.histograms_by_location:
        if not res.cost_note:
            by = res.monthly_costs.groupby("region")["cost_usd"].sum()
            for r in res.usage_by_region:
                out[f"cost_usd_per_month.{r}"] = float(by.get(r, 0.0))
        br = res.breaches
        by = br.groupby("region")["count"].sum() if len(br) else {}
        for r in res.usage_by_region:
            out[f"breaches_total.{r}"] = float(by.get(r, 0.0)) if len(br) else 0.0
        for r, peak in g.get("connections_peak_open_by_region", {}).items():
            out[f"connections_peak_open.{r}"] = peak
    c = res.counters
    if any(i.kind == "region_outage" for i in res.scenario.workload.incidents):
        out["connections_rejected_region_down"] = c.get("connections.rejected.region_down", 0.0)
        out["cross_region_failed"] = c.get("cross_region.failed", 0.0)
        # None when no failback happened (one Region, or the run ended before recovery)
        out.update(failback_dropped=None, failback_reconnected=None, failback_gave_up=None)
        for fb in g.get("failbacks", [])[:1]:
            out["failback_dropped"] = fb["dropped"]
            out["failback_reconnected"] = fb["reconnected"]
            out["failback_gave_up"] = fb["gave_up"]
    return out


def _storm_keys(storms: list[dict], duration_s: float) -> dict:
    """The first incident's reconnect storm: how many were dropped, came back, gave up (or
    their session ended), were refused, and how long until the last one was back (None while
    some are still trying at the end of the run)."""
    if not storms:
        return {}
    s = storms[0]
    done = s["reconnected"] + s["gave_up"] >= s["dropped"] and s["last_reconnect_s"] is not None
    return {
        "storm_dropped": s["dropped"],
        "storm_reconnected": s["reconnected"],
        "storm_gave_up": s["gave_up"],
        "storm_reconnected_share": s["reconnected"] / s["dropped"] if s["dropped"] else None,
        "storm_rejected_attempts": s["rejected"],
        "storm_duration_s": (s["last_reconnect_s"] - s["at_s"]) if done else None,
    }


def _zero(end: dict) -> dict:
    """A snapshot of nothing, shaped like ``end``."""
    return {"t": 0.0, "usage": {r: {k: 0.0 for k in u} for r, u in end["usage"].items()},
            "aux": {k: 0.0 for k in end["aux"]}}


def _merged(by_region: dict) -> dict:
    """Usage over every Region as one ``item -> quantity`` dict (one Region's own dict)."""
    if len(by_region) == 1:
        return next(iter(by_region.values()))
    out: dict = {}
    for items in by_region.values():
        for k, v in items.items():
            out[k] = out.get(k, 0.0) + v
    return out


def _usage_between(a: dict, b: dict, scn, month_s: float) -> tuple[dict, float]:
    """Billable quantities between two snapshots, per Region, named as ``simulator.price``
    expects. Every item a component reports must be in that Region's price book."""
    from simulator.costs import price_book

    book = price_book()
    secs = b["t"] - a["t"]
    out = {}
    for region, items in b["usage"].items():
        known = book.items.get(region)
        unknown = [] if known is None else sorted(k for k in items if k not in known)
        if unknown:
            raise ValueError(
                f"the model reports billable items {unknown} in {region} that "
                f"data/pricing/{region}.yaml does not price; add them there (with a source) "
                "or stop reporting them")
        u = {k: v - a["usage"][region].get(k, 0.0) for k, v in items.items()}
        cap = scn.aws.dynamodb.capacity
        if "dynamodb.read_request_units" in u and cap.mode != "on_demand":
            del u["dynamodb.read_request_units"], u["dynamodb.write_request_units"]
            u["dynamodb.rcu_hours"] = cap.read_units_per_s * secs / 3600.0
            u["dynamodb.wcu_hours"] = cap.write_units_per_s * secs / 3600.0
        if "table_gb" in b["aux"]:
            u["dynamodb.storage_gb_months"] = b["aux"]["table_gb"] * secs / month_s
        out[region] = u
    return out, secs


def _price_both(res: Result, scn):
    from simulator.costs import price
    from simulator.errors import ScenarioError

    try:
        window = pd.concat([price(u, r, scn.billing.free_tier)
                            for r, u in res.usage_by_region.items()], ignore_index=True)
        month = pd.concat([price(u, r, scn.billing.free_tier)
                           for r, u in res.monthly_usage_by_region.items()], ignore_index=True)
        return window, month, ""
    except ScenarioError as e:
        empty = pd.DataFrame(columns=COST_COLUMNS)
        return empty, empty.copy(), f"costs not computed: {e}"


def _cost_keys(res: Result, start: dict, end: dict, window_s: float, month_s: float) -> dict:
    if res.cost_note:
        return {"cost_usd": None, "cost_usd_per_month": None, "cost_note": res.cost_note}
    month = float(res.monthly_costs["cost_usd"].sum())
    end, start = end["aux"], start["aux"]
    users = (end["connected_seconds"] - start["connected_seconds"]) / window_s
    load = sum(res.scenario.billing.hourly_load or [1.0]) / len(res.scenario.billing.hourly_load or [1.0])
    deliveries_month = (end["deliveries"] - start["deliveries"]) * month_s / window_s * load
    used = res.monthly_costs[res.monthly_costs["quantity"] > 0]
    estimated = sorted(set(used.loc[used["basis"] != "published", "item"]))
    return {
        "cost_usd": float(res.costs["cost_usd"].sum()),
        "cost_usd_per_month": month,
        "cost_usd_per_1k_users_month": month / (users / 1000.0) if users > 0 else None,
        "cost_usd_per_million_deliveries": (month / (deliveries_month / MILLION)
                                            if deliveries_month > 0 else None),
        "cost_projection": res.cost_projection,
        "cost_estimated_items": ", ".join(estimated) if estimated else None,
    }


def _zombie_cost(res: Result, scn, a: dict, b: dict, window_s: float, month_s: float):
    """What the posts to stale rows cost on their own per month: their billed messages, and
    their share of the publishing Lambda's time and of the subscriber reads."""
    if res.cost_note:
        return None
    from simulator.costs import price

    ua, ub = _merged(a["usage"]), _merged(b["usage"])
    a, b = a["aux"], b["aux"]
    posts = b.get("posts", 0.0) - a.get("posts", 0.0)
    if posts <= 0:
        return 0.0
    share = (b["stale_posts"] - a["stale_posts"]) / posts
    arch = scn.aws.lambda_.functions.default.architecture
    window = {
        "apigw.messages": b["stale_billed"] - a["stale_billed"],
        f"lambda.gb_seconds.{arch}": share * (b["default_gb_seconds"] - a["default_gb_seconds"]),
        "dynamodb.read_request_units": share * (ub["dynamodb.read_request_units"]
                                                - ua["dynamodb.read_request_units"]),
    }
    month, _ = project_month(window, window_s, month_s, scn.billing.hourly_load)
    return float(price(month, scn.region, scn.billing.free_tier)["cost_usd"].sum())


def _lambda_keys(fns: dict, c, ts, warmup_s: float) -> dict:
    """Per Lambda function ``<name>`` (summed over Regions): invocations, cold starts and
    their share, throttles, and live execution environments (busy or idle): peak, mean after
    the warm-up (from the per-second series) and at the end."""
    out: dict = {}
    after = ts.index > warmup_s if len(ts) else None
    for name, g in fns.items():
        inv = c[f"lambda.{name}.invocations"]
        cold = c[f"lambda.{name}.cold_starts"]
        col = f"lambda_environments_{name}"
        cols = [k for k in ts.columns if k == col or k.startswith(col + ".")]
        mean = (float(ts.loc[after, cols].sum(axis=1).mean())
                if cols and after is not None and after.any() else float("nan"))
        out.update({
            f"lambda_invocations.{name}": inv,
            f"lambda_cold_starts.{name}": cold,
            f"lambda_cold_start_share.{name}": cold / inv if inv else float("nan"),
            f"lambda_throttles.{name}": c[f"lambda.{name}.throttles"],
            f"lambda_environments_peak.{name}": float(g["environments_peak"]),
            f"lambda_environments_mean.{name}": mean,
            f"lambda_environments_end.{name}": float(g["environments_end"]),
        })
    return out


def _summary(res: Result, g: dict, sim_events: int, wall: float, extra: dict) -> dict:
    c = res.counters
    h = res.histogram
    scn = res.scenario
    br = res.breaches
    first = br.iloc[0] if len(br) else None
    s = {
        "scenario": scn.name,
        "architecture": scn.architecture,
        "region": scn.region,
        "seed": scn.seed,
        "duration_s": scn.duration_s,
        "warmup_s": scn.warmup_s,
        "connections_attempted": c["connections.attempted"],
        "connections_established": c["connections.established"],
        "connections_rejected": c["connections.rejected"],
        "connections_in_flight": c["connections.in_flight"],
        "connections_initial": c["connections.initial"],
        "connections_peak_open": g["connections_peak_open"],
        "connections_open_end": g["connections_open_end"],
        "connections_reconnect_attempts": c["connections.reconnect_attempts"],
        "connections_abandoned": c["connections.abandoned"],
        "connections_blips": c["connections.blips"],
        "publishes_attempted": c["publishes.attempted"],
        "publishes_rejected": c["publishes.rejected"],
        "publishes_in_flight": c["publishes.in_flight"],
        "messages_published": c["messages.published"],
        "deliveries_attempted": c["deliveries.attempted"],
        "deliveries_succeeded": c["deliveries.succeeded"],
        "deliveries_failed": c["deliveries.failed"],
        "deliveries_stale": c["deliveries.stale"],
        "deliveries_in_flight": c["deliveries.in_flight"],
        "latency_p50_ms": _ms(h.quantile(0.5)),
        "latency_p95_ms": _ms(h.quantile(0.95)),
        "latency_p99_ms": _ms(h.quantile(0.99)),
        "latency_p999_ms": _ms(h.quantile(0.999)),
        "latency_mean_ms": _ms(h.mean),
        "latency_std_ms": _ms(h.std),
        "connect_latency_p50_ms": _ms(res.connect_histogram.quantile(0.5)),
        "connect_latency_p99_ms": _ms(res.connect_histogram.quantile(0.99)),
        "lambda_invocations": c["lambda.requests"],
        "lambda_throttles": c["lambda.throttles"],
        "lambda_cold_starts": c["lambda.cold_starts"],
        "lambda_peak_concurrency": g["lambda_peak_concurrency"],
        "lambda_gb_seconds": c.get("lambda.gb_seconds.x86_64", 0.0) + c.get("lambda.gb_seconds.arm64", 0.0),
        "dynamodb_read_units": c["dynamodb.read_units"],
        "dynamodb_write_units": c["dynamodb.write_units"],
        "dynamodb_throttles": c["dynamodb.throttles"],
        "apigw_throttled_requests": c["api_gateway.throttled_posts"] + c["api_gateway.throttled_messages"],
        "apigw_messages_billed": c["apigw.messages"],
        "apigw_connection_minutes": c["apigw.connection_minutes"],
        "zombie_rows_end": g["zombie_rows_end"],
        "stale_rows_end": g["stale_rows_end"],
        "stale_rows_peak": (float(res.timeseries["stale_rows"].max())
                            if len(res.timeseries) else 0.0),
        "stale_post_share": (c["deliveries.stale"] / c["api_gateway.posts"]
                             if c["api_gateway.posts"] else 0.0),
        "zombie_lifetime_p50_s": _s(res.zombie_histogram.quantile(0.5)),
        "zombie_lifetime_p99_s": _s(res.zombie_histogram.quantile(0.99)),
        "zombie_rows_removed": res.zombie_histogram.n,
        "deletes_on_410": c["dynamodb.deletes_on_410"],
        "sweep_deletes": c["cleanup.sweep_deletes"],
        "ttl_deletes": c["cleanup.ttl_deletes"],
        "history_write_units": c["dynamodb.history_write_units"],
        "history_read_units": c["resume.read_units"],
        "heartbeats_sent": c["heartbeats.sent"],
        "heartbeats_throttled": c["heartbeats.throttled"],
        "heartbeat_timeouts": c["cleanup.heartbeat_timeouts"],
        "messages_intended": c["integrity.intended"],
        "messages_delivered": c["integrity.delivered"],
        "messages_recovered": c["integrity.recovered"],
        "messages_duplicated": c["integrity.duplicated"],
        "messages_duplicates_suppressed": c["integrity.duplicates_suppressed"],
        "messages_lost": c["integrity.lost"],
        "messages_pending": c["integrity.pending"],
        "messages_missed": c["integrity.missed"],
        "delivery_guarantee": g["delivery_guarantee"],
        **_storm_keys(g["storms"], res.scenario.duration_s),
        **_lambda_keys(g.get("lambda_functions", {}), c, res.timeseries, scn.warmup_s),
        "breaches_total": float(br["count"].sum()) if len(br) else 0.0,
        "first_breach_quota": None if first is None else str(first["quota"]),
        "first_breach_time_s": None if first is None else float(first["time_s"]),
        "cost_usd": None,
        "cost_usd_per_month": None,
        **extra,
        "sim_events": sim_events,
        "wall_seconds": round(wall, 3),
    }
    return {k: (finite_or_none(v) if isinstance(v, float) else v) for k, v in s.items()}
