"""The sections of a design-review report, each built only when the results hold it.

Every builder returns a plain dict for the template (text, tables of formatted cells,
embedded figures) or None when the results do not hold that section.
"""

from __future__ import annotations

import math
import platform
from datetime import UTC, datetime

import pandas as pd
import yaml

from simulator import plots
from simulator.capacity import BREACHES
from simulator.review.figures import embed, new_axes
from simulator.review.recommend import Recommendation, number, refused_per_run, usd

#: confidence levels, least certain first (the order of the assumptions table)
CONFIDENCE_ORDER = {"assumption": 0, "low": 1, "medium": 2, "high": 3}
#: rows of the sensitivity table shown (the largest swings)
SENSITIVITY_ROWS = 15   # not a catalog value
#: characters of a cell before it is cut short: values, units, bases, sources
VALUE_CHARS, UNIT_CHARS, BASIS_CHARS, SOURCE_CHARS = 60, 30, 60, 160   # not a catalog value
SECONDS_PER_MINUTE = 60.0   # not a catalog value


def _finite(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def _ms(v) -> str:
    return plots.fmt_ms(float(v)) if _finite(v) else "-"


def _pct(v) -> str:
    if not _finite(v):
        return "-"
    v = float(v)
    return "< 0.1%" if 0 < v < 0.0005 else f"{100 * v:.1f}%"   # not a catalog value


def _table(columns: list[str], rows: list[list], note: str = "", title: str = "",
           best: list[list[bool]] | None = None) -> dict:
    best = best or [[False] * len(r) for r in rows]
    return {"columns": columns, "rows": rows, "note": note, "title": title, "best": best,
            "marked": any(any(r) for r in best)}


# ----------------------------------------------------------------------------- question


def question(cmp, inputs) -> dict | None:
    """The question and the scenario in words."""
    scn = inputs.scenario
    if scn is None:
        return None
    from simulator.catalog import median_of

    w = scn.workload
    paras = []
    if scn.description:
        paras.append(" ".join(str(scn.description).split()))
    size = median_of(w.channels.size.model_dump())
    if w.publish.rate_per_client_per_s is not None:
        per_min = w.publish.rate_per_client_per_s * SECONDS_PER_MINUTE
        rate = (f"each user publishes about {per_min:.3g} "
                f"message{'s' if f'{per_min:.3g}' != '1' else ''} "
                f"per minute (about {w.clients * w.publish.rate_per_client_per_s:,.0f} "
                "messages/s in all)")
    else:
        rate = f"{w.publish.total_rate_per_s:g} messages/s are published in all"
    payload = median_of(w.publish.payload_bytes.model_dump())
    load = (f"{w.clients:,} users in channels of about {number(size)} members; {rate}, "
            f"payloads of about {number(payload)} bytes")
    if w.geography is not None:
        where = ", ".join(f"{share:.0%} in {loc.replace('_', ' ')}"
                          for loc, share in sorted(w.geography.locations.items(),
                                                   key=lambda kv: -kv[1]))
        load += (f". Users are {where}; {w.geography.global_channels:.0%} of the channels mix "
                 "users from every location, the others are local")
    paras.append(load + ".")
    if cmp is not None:
        designs = ", ".join(cmp.variants)
        regions = _regions_words(cmp)
        reps = int(cmp.table["replications"].iloc[0])
        paras.append(f"Designs compared on this same workload (common random numbers: the same "
                     f"users publish the same messages at the same times in every design): "
                     f"{designs}. {regions} Each design ran {reps} replication"
                     f"{'s' if reps != 1 else ''} of {scn.duration_s:g} simulated seconds; "
                     f"latency is counted after a {scn.warmup_s:g} s warm-up and costs are the "
                     "measured window projected to a month at list prices.")
        runs = cmp.runs
        if len(runs):
            window = max(float(scn.duration_s), 1.0)
            msgs = float(runs["messages_published"].mean()) / window
            deliv = float(runs["deliveries_attempted"].mean()) / window
            paras.append(f"Measured over the runs: about {msgs:,.0f} messages/s published and "
                         f"{deliv:,.0f} deliveries/s attempted (means over designs and runs).")
    for inc in w.incidents:
        d = inc.model_dump()
        paras.append("Incident: " + ", ".join(f"{k} {v}" for k, v in d.items()) + ".")
    return {"id": "question", "title": "The question", "paragraphs": paras}


def _regions_words(cmp) -> str:
    scn = cmp.scenario
    from simulator.compare import variant_settings

    parts = []
    for v in cmp.variants:
        s = variant_settings(v)
        if s["architecture"] == "multi_region":
            regions = s.get("multi_region.regions") or scn.multi_region.regions or [scn.region]
            parts.append(f"{v} serves from {' + '.join(regions)}")
    one = [v for v in cmp.variants if variant_settings(v)["architecture"] != "multi_region"]
    if one:
        regions = sorted({variant_settings(v).get("region", scn.region) for v in one})
        parts.insert(0, f"one-Region designs run in {', '.join(regions)}")
    return ("; ".join(parts) + ".") if parts else ""


# ----------------------------------------------------------------------------- recommendation


def recommendation(rec: Recommendation | None) -> dict | None:
    if rec is None:
        return None
    return {"id": "recommendation", "title": "Recommendation", "headline": rec.headline,
            "met": rec.choice is not None, "reasons": rec.reasons,
            "next_limit": rec.next_limit, "caveats": rec.caveats,
            "rule": "Computed from the numbers below: the cheapest design whose means over the "
                    "replications meet every bound of the SLO with no request refused by a load "
                    "limit; what binds next from the capacity search or the verdict's headroom; "
                    "caveats from the confidence intervals, estimated prices and the "
                    "one-at-a-time sensitivity of the deciding metric."}


# ----------------------------------------------------------------------------- comparison


#: (column, header, kind) of the comparison table; every numeric column marks its minimum
_COLUMNS = [
    ("latency_p50_ms", "p50", "ms"), ("latency_p99_ms", "p99", "ms"),
    ("latency_p999_ms", "p99.9", "ms"), ("latency_std_ms", "std", "ms"),
    ("cost_usd_per_month", "cost / month", "usd"),
    ("cost_usd_per_1k_users_month", "per 1k users / month", "usd"),
    ("cost_usd_per_million_deliveries", "per million deliveries", "usd"),
    (BREACHES, "refused / run", "count"), ("messages_lost_share", "lost", "pct"),
]


def comparison(cmp, rec: Recommendation | None) -> dict | None:
    if cmp is None:
        return None
    t = cmp.table
    reps = int(t["replications"].iloc[0])
    values: dict[str, list[float]] = {}
    for key, _, _ in _COLUMNS:
        if key == BREACHES:
            values[key] = [refused_per_run(cmp, v) for v in t["variant"]]
        else:
            values[key] = [float(x) if _finite(x) else math.nan for x in t[key]]
    best = {k: min((x for x in vs if x == x), default=math.nan) for k, vs in values.items()}
    rows, marks = [], []
    meets = {v.design: v.meets for v in rec.verdicts} if rec else {}
    for i, (_, r) in enumerate(t.iterrows()):
        row: list = [r["variant"]]
        mark = [False]
        for key, _, kind in _COLUMNS:
            v = values[key][i]
            ci = r.get(f"{key}_ci95")
            text = {"ms": _ms, "usd": lambda x: usd(x) if _finite(x) else "-",
                    "count": lambda x: f"{x:,.0f}" if _finite(x) else "-", "pct": _pct}[kind](v)
            if reps > 1 and _finite(ci) and kind in ("ms", "usd"):
                text += " ± " + (_ms(ci) if kind == "ms" else usd(ci))
            row.append(text)
            mark.append(v == best[key])
        limit = r["first_binding_limit"]
        row.append("none" if not _finite(limit) else
                   f"{limit} at {r['first_binding_s']:,.0f} s"
                   + (f" ({r['first_binding_runs']}/{reps} runs)" if reps > 1 else ""))
        row.append(r["delivery_guarantee"])
        row.append("yes" if meets.get(r["variant"]) else "no")
        mark += [False, False, bool(meets.get(r["variant"]))]
        rows.append(row)
        marks.append(mark)
    columns = ["design"] + [h for _, h, _ in _COLUMNS] + ["first limit that refused work",
                                                          "guarantee", "meets the SLO"]
    note = (f"Means over {reps} replication{'s' if reps != 1 else ''} per design"
            + (" ± the 95% confidence half-width" if reps > 1 else "")
            + ". Latency: publish to receipt, after the warm-up. Cost: the measured window "
            "projected to a month. Refused / run: requests refused by a load limit (connections "
            "closed by a design limit such as the 2-hour maximum are not counted). Lost: share "
            "of (message, recipient) pairs. The best value of each column is marked.")
    return {"id": "comparison", "title": "How the designs compare",
            "table": _table(columns, rows, note, best=marks),
            "breaches": [(r["variant"], r["breaches_by_quota"] or "none") for _, r in t.iterrows()]}


# ----------------------------------------------------------------------------- figures


def figures(cmp) -> dict | None:
    """Latency CDFs, cost by service, and breach timelines."""
    if cmp is None:
        return None
    out = []
    ax = new_axes((11, 4.5))
    plots.latency_cdfs(cmp, ax=ax, title="delivery latency, every design")
    out.append(embed(ax, "Delivery latency", "Cumulative share of deliveries within each "
                     "latency (log axis), all replications; p50 and p99 marked per design."))
    ax = new_axes((11, 4.5))
    plots.cost_breakdown(cmp, ax=ax, title="cost per month by service")
    out.append(embed(ax, "Cost by service", "Monthly cost of each design stacked by service "
                     "(mean over replications), the multi-Region items apart; totals on top."))
    try:
        fig = plots.breach_timelines(cmp)
    except ValueError:
        fig = None
    if fig is not None:
        out.append(embed(fig, "When limits refused work", "Requests refused per second by "
                         "each load limit (mean over replications, log scale)."))
    return {"id": "figures", "title": "Latency, cost and limits over time", "figures": out}


def locations(cmp) -> dict | None:
    """Latency by user location (a scenario with a geography)."""
    if cmp is None or not cmp.by_location:
        return None
    names = [v for v in cmp.variants if v in cmp.by_location]
    locs = sorted({loc for v in names for loc in cmp.by_location[v]})
    rows = []
    for loc in locs:
        row = [loc.replace("_", " ")]
        for v in names:
            h = cmp.by_location[v].get(loc)
            row.append("-" if h is None or h.n == 0 else
                       f"{_ms(h.quantile(0.5) * 1000)} / {_ms(h.quantile(0.99) * 1000)}")
        rows.append(row)
    ax = new_axes((11, 6))
    plots.latency_by_location(cmp, ax=ax, title="delivery latency by user location")
    return {"id": "locations", "title": "Latency by user location",
            "figures": [embed(ax, "Latency by user location",
                              "p50 (solid) and p99 (light) of deliveries to users at each "
                              "location, per design.")],
            "table": _table(["users in"] + names, rows, "p50 / p99 of deliveries to users "
                            "there, all replications.")}


# ----------------------------------------------------------------------------- failure modes

#: (summary key, header, kind) per failure mode
_FAILURES = {
    "zombies": [("stale_post_share", "posts to stale rows", "pct"),
                ("zombie_lifetime_p50_s", "zombie life p50 (s)", "num"),
                ("zombie_lifetime_p99_s", "zombie life p99 (s)", "num"),
                ("zombie_rows_end", "zombie rows at the end", "num"),
                ("zombie_cost_usd_per_month", "zombie cost / month", "usd")],
    "reconnect storms": [("storm_dropped", "dropped", "num"),
                         ("storm_reconnected", "reconnected", "num"),
                         ("storm_gave_up", "gave up", "num"),
                         ("storm_rejected_attempts", "attempts refused", "num"),
                         ("storm_duration_s", "storm length (s)", "num")],
    "message integrity": [("messages_missed", "missed in gaps", "num"),
                          ("messages_recovered", "recovered", "num"),
                          ("messages_duplicated", "duplicated", "num"),
                          ("messages_lost", "lost", "num"),
                          ("delivery_guarantee", "guarantee", "text")],
}


def _present(runs: pd.DataFrame, mode: str) -> bool:
    keys: tuple[str, ...]
    if mode == "zombies":
        keys = ("stale_post_share", "zombie_rows_end")
    elif mode == "reconnect storms":
        keys = ("storm_dropped",)
    else:
        keys = ("messages_missed", "messages_duplicated", "messages_lost")
    for k in keys:
        if k in runs and (pd.to_numeric(runs[k], errors="coerce").fillna(0) > 0).any():
            return True
    return False


def failures(cmp) -> dict | None:
    if cmp is None:
        return None
    runs = cmp.runs
    tables = []
    for mode, cols in _FAILURES.items():
        if not _present(runs, mode):
            continue
        rows = []
        for v in cmp.variants:
            g = runs[runs["variant"] == v]
            row = [v]
            for key, _, kind in cols:
                if key not in g:
                    row.append("-")
                elif kind == "text":
                    row.append(", ".join(sorted({str(x) for x in g[key]})))
                else:
                    x = pd.to_numeric(g[key], errors="coerce").mean()
                    row.append({"pct": _pct, "usd": lambda y: usd(y) if _finite(y) else "-",
                                "num": number}[kind](x))
            rows.append(row)
        tables.append(_table(["design"] + [h for _, h, _ in cols], rows,
                             "Means over the replications.", title=mode))
    if not tables:
        return None
    return {"id": "failures", "title": "Failure modes", "tables": tables}


# ----------------------------------------------------------------------------- capacity, sweep


def capacity(cap) -> dict | None:
    if cap is None:
        return None
    slo = ", ".join(f"{k} <= {number(b)}" for k, b in cap.slo.items())
    rows = []
    for _, r in cap.table.iterrows():
        rows.append([r["variant"], number(r["capacity"]), number(r["bracket_high"]),
                     r["status"], r["slo_broken"] or "-", r["binding_limit"] or "-",
                     usd(r["cost_usd_per_month"]) if _finite(r["cost_usd_per_month"]) else "-",
                     usd(r["cost_usd_per_1k_users_month"])
                     if _finite(r["cost_usd_per_1k_users_month"]) else "-"])
    figs = []
    ax = new_axes((11, 4.5))
    plots.capacity_frontier(cap, ax=ax)
    figs.append(embed(ax, "Capacity frontier", f"The largest {cap.load} each design holds "
                      f"within the SLO ({slo}); the whisker reaches the first load that failed, "
                      "coloured by the limit that binds there."))
    if len(cap.points) and cap.points["holds"].any():
        ax = new_axes((11, 4.5))
        plots.capacity_cost(cap, ax=ax)
        figs.append(embed(ax, "Cost along the way", "Cost per 1,000 users at every load that "
                          "held the SLO; the capacity starred."))
    return {"id": "capacity", "title": "How far each design goes",
            "paragraphs": [f"Capacity search in {cap.load} with the SLO {slo} "
                           f"({cap.replications} replication"
                           f"{'s' if cap.replications != 1 else ''} per load)."],
            "table": _table(["design", "capacity", "first failing load", "status",
                             "SLO broken above", "binding limit", "cost / month at capacity",
                             "per 1k users / month"], rows),
            "figures": figs}


def sweep(df: pd.DataFrame | None) -> dict | None:
    if df is None:
        return None
    varied = [c for c in df.columns if c.startswith("param.") and df[c].nunique() > 1]
    by = "architecture" if "architecture" in df else None
    figs, paras = [], []
    if len(varied) >= 2 and by is not None:
        fig = plots.sweep_breach_map(df, varied[0], varied[1], by=by)
        figs.append(embed(fig, "Breach map", f"The first load limit to refuse work at each "
                          f"point of the sweep over {varied[0]} and {varied[1]}, per design."))
    rows = []
    keys = varied or [c for c in df.columns if c.startswith("param.")]
    ok = df[df["error"].isna()] if "error" in df else df
    group = keys + ([by] if by else [])
    for point, g in ok.groupby(group, sort=True):
        point = point if isinstance(point, tuple) else (point,)
        quotas = [q for q in g["first_load_breach_quota"] if _finite(q)]
        first = max(set(quotas), key=quotas.count) if quotas else "none"
        p99 = pd.to_numeric(g.get("latency_p99_ms"), errors="coerce").mean() \
            if "latency_p99_ms" in g else math.nan
        rows.append([number(x) if isinstance(x, (int, float)) else str(x) for x in point]
                    + [str(first), _ms(p99), str(len(g))])
    if "error" in df and df["error"].notna().any():
        paras.append(f"{int(df['error'].notna().sum())} runs failed and are left out.")
    return {"id": "sweep", "title": "Where the limits bind (sweep)", "paragraphs": paras,
            "figures": figs,
            "table": _table([k.removeprefix("param.") for k in keys] + ([by] if by else [])
                            + ["first limit refusing work", "p99", "runs"], rows)}


# ----------------------------------------------------------------------------- sensitivity


def sensitivity(tables: list[pd.DataFrame]) -> dict | None:
    tables = [t for t in tables if not t.empty]
    if not tables:
        return None
    paras, figs, out = [], [], []
    for table in tables:
        metric = table.attrs.get("metric", "the metric")
        method = table.attrs.get("method", "oat")
        about = table.attrs.get("design")
        size = table.attrs.get("size")
        paras.append(f"Which uncertain catalog values move {metric}"
                     + (f" of {about}" if about else "") + (f" ({size})" if size else "")
                     + (": each value at the low and the high end of its range, all else at "
                        "the baseline, on the same seeds." if method == "oat" else
                        ": Sobol indices, all values varied together."))
        what = f"{about}: " if about else ""
        if method == "oat":
            ax = new_axes((10, 6))
            plots.tornado(table, ax=ax, title=f"{what}which assumptions move {metric} most")
            figs.append(embed(ax, f"Sensitivity{' of ' + about if about else ''}",
                              f"Swing of {metric} as each value moves over its range; the "
                              "largest on top."))
            rows = [[r["key"], r["confidence"], f"{number(r['low'])} - {number(r['high'])}",
                     number(r["metric_low"]), number(r["metric_high"]), number(r["swing"])]
                    for _, r in table.head(SENSITIVITY_ROWS).iterrows()]
            cols = ["value", "confidence", "range", f"{metric} at low", f"{metric} at high",
                    "swing"]
        else:
            rows = [[r["key"], r["confidence"], f"{r['S1']:.2f} ± {r['S1_se']:.2f}",
                     f"{r['ST']:.2f} ± {r['ST_se']:.2f}"]
                    for _, r in table.head(SENSITIVITY_ROWS).iterrows()]
            cols = ["value", "confidence", "S1", "ST"]
        out.append(_table(cols, rows, title=about or ""))
    return {"id": "sensitivity", "title": "Which assumptions matter", "paragraphs": paras,
            "figures": figs, "tables": out}


# ----------------------------------------------------------------------------- assumptions


def _short(v, n: int = VALUE_CHARS) -> str:
    if isinstance(v, dict):
        v = ", ".join(f"{k}: {x}" for k, x in v.items())
    t = " ".join(str(v).split())
    return t if len(t) <= n else t[: n - 3] + "..."


def assumptions(cmp) -> dict | None:
    """Every value the runs read and every price their bills used, least certain first."""
    if cmp is None or not cmp.params:
        return None
    frames = [f.assign(design=d) for d, f in cmp.params.items()]
    allp = pd.concat(frames, ignore_index=True)
    allp["shown"] = allp["value"].map(_short)
    every = set(cmp.params)
    rows = []
    for (key, shown), g in allp.groupby(["key", "shown"], sort=False):
        r = g.iloc[0]
        designs = sorted(set(g["design"]))
        rows.append({"rank": CONFIDENCE_ORDER.get(r["confidence"], 4), "key": key,
                     "cells": [key, shown, _short(r["unit"], UNIT_CHARS),
                               r["confidence"] or "(setting)", str(r["as_of"] or "-"),
                               r["origin"], _short(r["source"], SOURCE_CHARS),
                               "all" if set(designs) == every else ", ".join(designs)]})
    rows.sort(key=lambda x: (x["rank"], x["key"]))
    counts = allp.drop_duplicates("key")["confidence"].replace("", "(setting)").value_counts()
    params_table = _table(["value", "resolved", "unit", "confidence", "as of", "origin",
                           "source", "designs"], [r["cells"] for r in rows],
                          "Every quota, latency and behaviour the runs read (res.params.reads), "
                          "least certain first; settings of the scenario itself last.",
                          title="Quotas, latencies and behaviour")
    price_rows = _prices(cmp, every)
    tables = [params_table]
    if price_rows:
        tables.append(_table(["item", "Region", "unit price (USD)", "unit", "tier", "basis",
                              "confidence", "as of", "source", "designs"], price_rows,
                             "Every price the monthly bills used, least certain first.",
                             title="Prices"))
    summary = ", ".join(f"{n} {c}" for c, n in counts.items())
    return {"id": "assumptions", "title": "What was assumed",
            "paragraphs": [f"{len(rows)} values ({summary}) and {len(price_rows)} prices. "
                           "Confidence: high, an AWS page or SDK source; medium, a consistent "
                           "secondary copy; low, one measurement; assumption, no published "
                           "figure (the reasoning is in the source)."],
            "tables": tables}


def _prices(cmp, every: set) -> list[list]:
    from simulator.costs import price_book

    book = price_book()
    pr = cmp.prices
    if pr.empty:
        return []
    rows = []
    for (region, item, tier, price), g in pr.groupby(["region", "item", "tier",
                                                     "unit_price_usd"], sort=False):
        r = g.iloc[0]
        entry = book.items.get(region, {}).get(item)
        conf = entry.confidence if entry is not None else ""
        as_of = entry.as_of if entry is not None else ""
        designs = sorted(set(g["variant"]))
        rows.append((CONFIDENCE_ORDER.get(conf, 4), item, region,
                     [item, region, f"{price:.10g}", _short(r["unit"], UNIT_CHARS), str(tier),
                      _short(r["basis"], BASIS_CHARS), conf or "-", str(as_of or "-"),
                      _short(r["source"], SOURCE_CHARS),
                      "all" if set(designs) == every else ", ".join(designs)]))
    rows.sort(key=lambda x: x[:3])
    return [r[3] for r in rows]


# ----------------------------------------------------------------------------- reproduce


def reproduce(inputs, command: str | None, scenario_file: str | None) -> dict:
    import simulator

    scn = inputs.scenario
    cmp = inputs.comparison
    items = [("package", f"wscap (simulator) {simulator.__version__}"),
             ("Python", platform.python_version()),
             ("generated", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))]
    if command:
        items.insert(0, ("command", command))
    if scenario_file:
        items.insert(1, ("scenario file", scenario_file))
    if scn is not None:
        items.append(("scenario seed", str(scn.seed)))
    if cmp is not None and len(cmp.runs):
        seeds = cmp.runs.drop_duplicates("replication").sort_values("replication")["seed"]
        items.append(("replication seeds (every design)", ", ".join(str(int(s)) for s in seeds)))
    if inputs.capacity is not None:
        items.append(("capacity search", f"load {inputs.capacity.load}, "
                      f"{inputs.capacity.replications} replication(s) per load"))
    for table in inputs.sensitivity:
        items.append(("sensitivity", ", ".join(f"{k} {v}" for k, v in table.attrs.items()
                                               if isinstance(v, (str, int, float)))))
    text = yaml.safe_dump(scn.to_dict(), sort_keys=False) if scn is not None else ""
    return {"id": "reproduce", "title": "How to reproduce", "facts": items,
            "scenario_yaml": text,
            "paragraphs": ["The same scenario, seeds and package version give the same numbers "
                           "(serial or parallel). The scenario as run, every override applied:"]
            if text else []}


def title_of(inputs) -> str:
    scn = inputs.scenario
    return f"Design review: {scn.name}" if scn is not None else "Design review"
