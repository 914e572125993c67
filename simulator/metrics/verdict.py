"""The answer first: what broke (the first *load* limit that refused work, apart from the design
limits that closed connections), how close every quota came to its limit, what the latency is
made of, what it costs, and what to change, all computed from one run's numbers.

>>> v = res.verdict()          # doctest: +SKIP
>>> print(v)                   # the text ``python -m simulator run`` opens with
>>> v.headroom                 # DataFrame: one row per quota the design uses
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simulator.metrics.stages import STAGES

#: breach quota (prefix) -> (what it is, the scenario key that raises it)
RAISE = {
    "api_gateway.account_throttle": ("API Gateway account throttle (requests/s)",
                                     "aws.api_gateway.account_throttle_rps"),
    "api_gateway.new_connections_per_s": ("API Gateway new connections/s",
                                          "aws.api_gateway.new_connections_per_s"),
    "api_gateway.max_concurrent_connections": ("API Gateway concurrent connections",
                                               "aws.api_gateway.max_concurrent_connections"),
    "lambda.account_concurrency": ("Lambda account concurrency", "aws.lambda.account_concurrency"),
    "lambda.reserved_concurrency": ("a function's reserved concurrency",
                                    "aws.lambda.functions.<function>.reserved_concurrency"),
    "lambda.scaling_rate": ("Lambda scaling (new environments per 10 s)",
                            "aws.lambda.scaling_envs_per_s"),
    "lambda.invocation_rate": ("Lambda invocation rate", "aws.lambda.account_concurrency"),
    "lambda.async_max_event_age_s": ("Lambda's asynchronous event age",
                                     "app.sns_tier.shards (fewer waiting invocations)"),
    "dynamodb.partition": ("a DynamoDB partition (a hot channel)",
                           "spread a channel's rows over several partition keys"),
    "dynamodb.table": ("DynamoDB table capacity", "aws.dynamodb.capacity"),
    "sns.publish_per_s": ("SNS publishes/s", "aws.sns.publish_per_s"),
    "eventbridge.put_events_per_s": ("EventBridge PutEvents/s",
                                     "aws.eventbridge.put_events_per_s"),
    "appsync.": ("an AppSync Events quota", "aws.appsync.<quota>"),
    "managed.": ("a managed-service limit", "aws.managed.<limit>"),
    "region.unavailable": ("a Region outage", "more Regions (the multi_region design)"),
}

#: what to change when a latency stage dominates the p99
STAGE_ADVICE = {
    "post_slot_wait": "raise app.posts_in_flight (concurrent posts per Lambda), or hand the "
                      "posting to a fan-out tier or a service that broadcasts",
    "throttle_wait": "raise aws.api_gateway.account_throttle_rps (a quota increase), or use "
                     "a design that broadcasts natively",
    "lambda_cold_start": "keep environments warm (provisioned concurrency) or shrink the init",
    "dynamodb": "smaller channels' pages or a faster query (item_bytes, capacity)",
    "tier_or_cross_region": "the fan-out tier's or the cross-Region hop's own latency",
    "network": "serve users from a nearer Region (workload.geography, multi_region)",
    "api_gateway": "API Gateway's own processing (a catalog assumption)",
    "post_call": "PostToConnection's own latency (a catalog assumption)",
    "lambda_handler": "the publishing function's own work",
    "service": "the service's own delivery latency",
}


def _raise(quota: str) -> tuple[str, str]:
    for prefix, v in RAISE.items():
        if quota.startswith(prefix):
            return v
    return quota, "-"


@dataclass
class Verdict:
    """One run's answer (see the module). ``str(verdict)`` is the text."""

    scenario: str
    design: str
    first_load_breach: dict | None
    closed_by_limits: list = field(default_factory=list)
    headroom: pd.DataFrame = field(default_factory=pd.DataFrame)
    latency: dict = field(default_factory=dict)
    stages: dict = field(default_factory=dict)
    cost_per_month: float | None = None
    binding: str | None = None
    advice: str = ""

    def to_dict(self) -> dict:
        return {"first_load_breach": self.first_load_breach,
                "closed_by_limits": self.closed_by_limits,
                "headroom": self.headroom.to_dict("records"), "latency": self.latency,
                "stages": self.stages, "cost_per_month": self.cost_per_month,
                "binding": self.binding, "advice": self.advice}

    def __str__(self) -> str:
        out = [f"verdict for {self.scenario} ({self.design})"]
        b = self.first_load_breach
        if b is None:
            out.append("  no load limit refused work")
        else:
            over = (f", demand peaked at {b['peak_share']:.0%} of the limit"
                    if b.get("peak_share") is not None else "")
            share = "" if b.get("share") is None else f" ({b['share']:.1%} of its requests)"
            out.append(f"  first limit hit: {b['what']} ({b['quota']}) at {b['time_s']:.0f} s in "
                       f"{b['region']}: {b['count']:,.0f} requests refused{share}{over}")
        for c in self.closed_by_limits:
            kind = "incident" if c["quota"].startswith(("incident.", "region.")) else \
                "design limit"
            out.append(f"  {kind} that closed connections (not a refusal): {c['quota']} "
                       f"({c['count']:,.0f} closed)")
        lat = self.latency
        if lat.get("p50_ms") is not None:
            out.append(f"  latency p50 {_ms(lat['p50_ms'])}, p99 {_ms(lat['p99_ms'])}"
                       + (f"; cost ${self.cost_per_month:,.0f}/month"
                          if self.cost_per_month is not None else ""))
        for q in ("p50", "p99"):
            st = self.stages.get(q)
            if st:
                top = sorted(st.items(), key=lambda kv: -kv[1])[:3]
                out.append(f"  {q} is " + ", ".join(f"{v:.0%} {k.replace('_', ' ')}"
                                                    for k, v in top))
        if len(self.headroom):
            out.append("  headroom (peak use against each limit):")
            w = max(len(x) for x in self.headroom["limit"])
            for _, r in self.headroom.iterrows():
                out.append(f"    {r['limit']:<{w}} {r['peak_use']:>10,.0f} of "
                           f"{r['limit_value']:>9,.0f} {r['unit']:<8} {r['peak_share']:>6.0%}  "
                           f"(raise: {r['raise']})")
        if self.binding:
            out.append(f"  BINDING: {self.binding}")
        if self.advice:
            out.append(f"  what to change: {self.advice}")
        return "\n".join(out)


def _ms(v: float) -> str:
    return f"{v / 1000:,.1f} s" if v >= 1000 else f"{v:,.0f} ms"


def _peak(use: pd.Series, limit) -> tuple[float, float, float]:
    """Peak use, the limit then, and the peak share of use / limit (per-second samples)."""
    lim = limit if isinstance(limit, pd.Series) else pd.Series(float(limit), index=use.index)
    ok = lim > 0
    if not ok.any() or use.empty:
        return 0.0, float(lim.max()) if len(lim) else 0.0, 0.0
    share = (use[ok] / lim[ok])
    t = share.idxmax()
    return float(use[t]), float(lim[t]), float(share[t])


def headroom(res) -> pd.DataFrame:
    """Peak use of each quota the run's design uses against its limit (per second):
    ``limit, key, peak_use, limit_value, peak_share, at_s, raise``, the tightest first."""
    ts = res.timeseries
    p = res.params
    n_reg = max(len(res.usage_by_region), 1)
    rows = []

    def add(name, key, use, limit, raise_key, unit="/s"):
        if use is None or limit is None:
            return
        u, lim, share = _peak(use, limit)
        if lim <= 0:
            return
        rows.append({"limit": name, "key": key, "peak_use": u, "limit_value": lim,
                     "peak_share": share,
                     "at_s": float(use.index[int(np.argmax((use / lim).to_numpy()))]),
                     "total": float(use.sum()) * res.scenario.engine.timeseries_step_s,
                     "unit": unit, "raise": raise_key})

    col = ts.get
    if col("apigw_throttle_rps") is not None and ts["apigw_throttle_rps"].max() > 0:
        demand = (ts["posts_sent_per_s"] + ts["posts_throttled_per_s"]
                  + ts["inbound_messages_per_s"])
        add("API Gateway account throttle (requests/s)", "api_gateway.account_throttle_rps",
            demand, ts["apigw_throttle_rps"], "aws.api_gateway.account_throttle_rps")
        add("API Gateway new connections/s", "api_gateway.new_connections_per_s",
            ts["connections_attempted_per_s"], p["api_gateway.new_connections_per_s"] * n_reg,
            "aws.api_gateway.new_connections_per_s")
    arch = res.scenario.architecture
    if arch in ("appsync", "managed"):
        add(f"{arch} new connections/s", f"{arch}.connect_per_s",
            ts["connections_attempted_per_s"], p[f"{arch}.connect_per_s"],
            f"aws.{arch}.connect_per_s")
    if col("fleet_connection_capacity") is not None:   # the containers design's own limits
        add("Fleet connections (tasks in service x connections per task)",
            "containers.connections_per_task", ts["connections_open"],
            ts["fleet_connection_capacity"], "containers.tasks.max, containers.task.memory_gb",
            "at once")
        add("Busiest task's CPU (share of its vCPUs, per minute)", "containers.task_cpu",
            ts["task_cpu_utilisation_max"], 1.0, "containers.task.vcpu, autoscaling target",
            "share")
        add("Busiest backplane shard (share of its time, per minute)", "containers.backplane",
            ts["backplane_utilisation"], 1.0, "containers.backplane.shards, node_type", "share")
    if col("lambda_concurrency_limit") is not None and ts["lambda_concurrency_limit"].max() > 0:
        add("Lambda concurrency", "lambda.account_concurrency", ts["lambda_concurrency"],
            ts["lambda_concurrency_limit"], "aws.lambda.account_concurrency", "at once")
    has_lambda = (col("lambda_concurrency_limit") is not None
                  and ts["lambda_concurrency_limit"].max() > 0)
    if has_lambda and col("lambda_cold_starts_per_s") is not None \
            and p["lambda.scaling_envs_per_s"] > 0:
        # new environments in any 10 s against one function's 1,000 per 10 s (all functions
        # counted together: an upper bound of any one function's use)
        window = max(1, int(round(10.0 / res.scenario.engine.timeseries_step_s)))  # not a catalog value
        made = ts["lambda_cold_starts_per_s"].rolling(window, min_periods=1).sum()
        add("Lambda scaling (new environments per 10 s, all functions)", "lambda.scaling_rate",
            made, p["lambda.scaling_envs_per_s"] * window * res.scenario.engine.timeseries_step_s,
            "aws.lambda.scaling_envs_per_s", "per 10 s")
    if col("esm_pollers_max") is not None:
        add("SQS event source mapping concurrency", "sqs.esm_max_concurrency",
            ts["esm_pollers"], ts["esm_pollers_max"], "app.sqs_tier.maximum_concurrency",
            "at once")
    for kind in ("read", "write"):
        cap = col(f"dynamodb_{kind}_capacity_per_s")
        if cap is not None and cap.max() > 0:
            add(f"DynamoDB {kind} capacity (units/s)", f"dynamodb.{kind}_capacity",
                ts[f"dynamodb_{kind}_units_per_s"], cap, "aws.dynamodb.capacity")
    for kind in ("read", "write"):
        if col(f"dynamodb_hot_partition_{kind}_units_per_s") is not None:
            add(f"DynamoDB hottest partition, {kind}s (units/s)", f"dynamodb.partition_{kind}",
                ts[f"dynamodb_hot_partition_{kind}_units_per_s"],
                ts[f"dynamodb_partition_{kind}_limit_per_s"],
                "smaller channels, or a channel's rows over several partition keys")
    if col("sns_publish_quota_per_s") is not None:
        add("SNS publishes/s", "sns.publish_per_s", ts["sns_publishes_per_s"],
            ts["sns_publish_quota_per_s"], "aws.sns.publish_per_s")
    if col("put_events_quota_per_s") is not None:
        add("EventBridge PutEvents/s (all Regions)", "eventbridge.put_events_per_s",
            ts["put_events_per_s"] + ts["put_events_refused_per_s"], ts["put_events_quota_per_s"],
            "aws.eventbridge.put_events_per_s")
    df = pd.DataFrame(rows, columns=["limit", "key", "peak_use", "limit_value", "peak_share",
                                     "at_s", "total", "unit", "raise"])
    return df.sort_values("peak_share", ascending=False, ignore_index=True)


def verdict(res) -> Verdict:
    """The verdict of a :class:`~simulator.metrics.result.Result` (see the module)."""
    s = res.summary
    br = res.breaches
    room = headroom(res)
    refused = br[br["effect"] == "refused"] if len(br) else br
    limits = [_refused_limit(q, g, room) for q, g in refused.groupby("quota", sort=False)] \
        if len(refused) else []
    first = min(limits, key=lambda d: d["time_s"]) if limits else None
    closed = []
    if len(br):
        shut = br[br["effect"] == "closed"].groupby("quota")["count"].sum()
        closed = [{"quota": q, "count": float(c)} for q, c in shut.items()]
    st = res.latency_stages
    stages = {}
    if st is not None:
        for name, q in (("p50", 0.5), ("p99", 0.99)):
            sh = st.shares_at(q)
            if sh:
                stages[name] = {k: sh[k] for k in STAGES if k in sh}
    latency = {"p50_ms": s.get("latency_p50_ms"), "p99_ms": s.get("latency_p99_ms")}
    binding, advice = _advice(limits, room, stages, res)
    return Verdict(s["scenario"], s["architecture"], first, closed, room, latency, stages,
                   s.get("cost_usd_per_month"), binding, advice)


#: a limit that refused less than this share of its requests did not bind (a brush)
MATERIAL = 0.01   # not a catalog value (a judgement of the verdict)


def _refused_limit(quota: str, g: pd.DataFrame, room: pd.DataFrame) -> dict:
    """What a refused quota did: when first, where, how many refused, their share of the
    requests that reached it, and how far over its limit the demand went at its peak."""
    what, key = _raise(quota)
    count = float(g["count"].sum())
    first = g.sort_values("time_s", kind="stable").iloc[0]
    match = room[room["key"].map(lambda k: quota.startswith(k.rsplit("_per_s", 1)[0])
                                 or k.startswith(quota))] if len(room) else room
    row = match.iloc[0] if len(match) else None
    return {"quota": quota, "what": what, "raise": key, "time_s": float(first["time_s"]),
            "region": str(first["region"]), "count": count,
            "share": (count / row["total"]) if row is not None and row["total"] > 0 else None,
            "peak_share": float(row["peak_share"]) if row is not None else None}


def _advice(limits, room, stages, res) -> tuple[str | None, str]:
    """The limit that binds, and one line on what to change, from the numbers: the refused
    limit whose demand went furthest over it, among those that refused a material share of
    their requests; else the latency stage that makes most of the p99; else the tightest
    headroom."""
    material = [d for d in limits if d["share"] is None or d["share"] >= MATERIAL]
    if material:
        b = max(material, key=lambda d: (d["peak_share"] or 0.0, d["count"]))
        share = "" if b["share"] is None else f" ({b['share']:.1%} of its requests)"
        return b["quota"], (f"{b['what']} binds: it refused {b['count']:,.0f} requests{share}, "
                            f"demand up to {b['peak_share'] or 0:.0%} of it; raise "
                            f"{b['raise']} or cut the load that reaches it")
    p99 = stages.get("p99", {})
    if p99:
        top, share = max(p99.items(), key=lambda kv: kv[1])
        if top == "post_slot_wait" and share >= 0.5:
            p = res.scenario.app.posts_in_flight or res.params["sdk.http_max_sockets"]
            return "app.posts_in_flight", (
                f"{share:.0%} of the p99 is waiting for one of the {p} posts in flight per "
                f"Lambda: {STAGE_ADVICE[top]}")
        if share >= 0.5 and top in STAGE_ADVICE:
            return top, f"{share:.0%} of the p99 is {top.replace('_', ' ')}: {STAGE_ADVICE[top]}"
    if limits:
        b = min(limits, key=lambda d: d["time_s"])
        return b["quota"], (f"{b['what']} refused a few requests ({b['count']:,.0f}); raise "
                            f"{b['raise']} before the load grows")
    if len(room):
        r = room.iloc[0]
        return None, (f"nothing refused work; the tightest limit is {r['limit']} at "
                      f"{r['peak_share']:.0%} of it (at {r['at_s']:.0f} s); raise "
                      f"{r['raise']} before the load grows past it")
    return None, "nothing refused work"
