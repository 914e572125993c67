"""Print (and save) the figures the README quotes, at full size: the design comparisons,
and the basic design's livestream at 20,000 and 200 viewers.

    .venv/bin/python scripts/readme_figures.py [--replications 3] [--workers 2]
                                               [--only livestream|multi_region|first_hour|validation]

Runs ``sim.compare`` on ``data/scenarios/livestream-compare.yaml`` (20,000 viewers of one
channel, 2 messages/s) and ``data/scenarios/chat-compare.yaml`` (100,000 chat users), prints
a Markdown table per scenario, and writes the rows to ``benchmarks/results/compare.json``;
``tests/test_readme.py`` checks that the README quotes these rows. About 15 minutes on 2 cores.
``--only multi_region`` recomputes the multi-Region figures alone (``global-chat`` from one,
two and three Regions, by user location; ``global-live-event``'s outage): about 5 minutes.
``--only validation`` recomputes the README's validation tables (``simulator.validation`` at
its ``readme`` size, seed 0): about 10 seconds. ``--only features`` recomputes what presence,
typing, history on join and 5% polling clients add on the 100k-user chat and the live event.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import simulator as sim  # noqa: E402

SCENARIOS = ("livestream-compare", "chat-compare")
#: one, two and three Regions for the worldwide chat
REGION_SETS = ("basic", "multi_region@us-east-1+eu-central-1",
               "multi_region@us-east-1+eu-central-1+ap-southeast-1")
OUT = ROOT / "benchmarks" / "results" / "compare.json"


def row_figures(r: dict) -> dict:
    """The figures the README quotes for one design, formatted as it prints them."""
    lost = r["messages_lost"]
    return {
        "design": r["variant"],
        "p50": fmt_ms(r["latency_p50_ms"]),
        "p99": fmt_ms(r["latency_p99_ms"]),
        "cost": f"${r['cost_usd_per_month']:,.0f}",
        "per_million": f"${r['cost_usd_per_million_deliveries']:,.2f}",
        "lost": f"{100.0 * lost / r['messages_intended']:.1f}%",
        "first_limit": r["first_binding_limit"] or "none",
        "guarantee": r["delivery_guarantee"].split(" (")[0],
    }


def livestream_figures() -> dict:
    """``livestream-basic`` (one run, its seed) at 20,000 and at 200 viewers."""
    out = {}
    for viewers in (20_000, 200):
        scn = sim.load_scenario(ROOT / "data" / "scenarios" / "livestream-basic.yaml",
                                overrides={"workload.clients": viewers})
        res = sim.run(scn)
        s, c = res.summary, res.counters
        out[str(viewers)] = {
            "throttled_posts": f"{c['api_gateway.throttled_posts'] / 1e6:.1f} M",
            "p50": fmt_ms(s["latency_p50_ms"]),
            "p99": fmt_ms(s["latency_p99_ms"]),
            "failed": f"{100.0 * s['deliveries_failed'] / s['deliveries_attempted']:.0f}%",
        }
    return out


#: the scenarios whose features' cost the README shows, and the designs compared on them
FEATURE_SCENARIOS = ("chat-compare", "livestream-compare")
FEATURE_DESIGNS = ["basic", "sns", "sqs", "appsync", "managed", "containers"]
FEATURE_SETS = ("none", "presence", "typing", "history_on_join", "fallback", "all")


def feature_figures(workers: int) -> dict:
    """What each feature of ``chat-features`` (presence, typing, history on join, 5%
    pollers) adds on the 100k-user chat and the 20,000-viewer live event (300 s, one
    replication, the scenarios' seeds): ``sim.feature_impact`` rows, and the README's cells."""
    feats = sim.load_scenario(ROOT / "data" / "scenarios" / "chat-features.yaml").features
    out = {}
    for name in FEATURE_SCENARIOS:
        scn = sim.load_scenario(ROOT / "data" / "scenarios" / f"{name}.yaml", overrides={
            "duration_s": 300.0, "warmup_s": 60.0, "features": feats.model_dump()})
        t0 = time.perf_counter()
        table, _ = sim.feature_impact(scn, FEATURE_DESIGNS, workers=workers)
        rows = json.loads(table.to_json(orient="records"))
        out[name] = {"wall_seconds": round(time.perf_counter() - t0, 1), "rows": rows,
                     "cells": feature_cells(rows)}
    return out


def feature_cells(rows: list[dict]) -> dict:
    """Design -> feature set -> the README's cell: the cost, p99 (and the users' pairs lost,
    when any) without features, and what each set adds."""
    cells: dict = {}
    base: dict = {}
    for r in rows:
        p99 = r["latency_p99_ms"]
        lost = r["messages_lost_share"] or 0.0
        if r["features"] == "none":
            base[r["variant"]] = lost
            cell = (f"${r['cost_usd_per_month']:,.0f}, {fmt_ms(p99) if p99 else 'none'}"
                    + (f", {100 * lost:.0f}% lost" if lost >= 0.005 else ""))
        else:
            extra, share, dp = r["extra_cost_usd_per_month"], r["extra_cost_share"], r["extra_p99_ms"]
            was = base[r["variant"]]
            cell = (f"{'+' if extra >= 0 else '-'}${abs(extra):,.0f}"
                    + (f" ({100 * share:+.0f}%)" if share is not None else "")
                    + (f", p99 {'+' if dp >= 0 else '-'}{fmt_ms(abs(dp))}" if dp is not None
                       else ", no message delivered")
                    + (f", lost {100 * was:.0f}% → {100 * lost:.0f}%"
                       if max(was, lost) >= 0.005 and round(100 * was) != round(100 * lost)
                       else ""))
        cells.setdefault(r["variant"], {})[r["features"]] = cell
    return cells


def feature_table(cells: dict) -> list[str]:
    """The README's Markdown table of one scenario's :func:`feature_cells`."""
    head = ["design", "no features (cost, p99)", "presence", "typing", "history on join",
            "5% polling", "all four"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for design, c in cells.items():
        lines.append("| " + " | ".join([design] + [c.get(k, "") for k in FEATURE_SETS]) + " |")
    return lines


def multi_region_figures(replications: int, workers: int) -> dict:
    """``global-chat`` from one, two and three Regions: latency by user location (p50 / p99)
    and cost per month; ``global-live-event``'s outage with one Region and with three."""
    scn = sim.load_scenario(ROOT / "data" / "scenarios" / "global-chat.yaml")
    t0 = time.perf_counter()
    cmp = sim.compare(scn, list(REGION_SETS), replications=replications, workers=workers)
    t = cmp.table.set_index("variant")
    locs = list(scn.workload.geography.locations)
    chat = {"replications": replications, "wall_seconds": round(time.perf_counter() - t0, 1),
            "variants": list(REGION_SETS),
            "overall": {v: {"p50": fmt_ms(t.at[v, "latency_p50_ms"]),
                            "p99": fmt_ms(t.at[v, "latency_p99_ms"]),
                            "cost": f"${t.at[v, 'cost_usd_per_month']:,.0f}"}
                        for v in REGION_SETS},
            "by_location": {loc: {v: f"{fmt_ms(t.at[v, f'latency_p50_ms.{loc}'])} / "
                                     f"{fmt_ms(t.at[v, f'latency_p99_ms.{loc}'])}"
                                  for v in REGION_SETS} for loc in locs}}
    live = sim.load_scenario(ROOT / "data" / "scenarios" / "global-live-event.yaml")
    inc = next(i for i in live.workload.incidents if i.kind == "region_outage")
    outage = {}
    for v in ("basic", "multi_region"):
        res = sim.run(live.with_overrides({"architecture": v}))
        s = res.summary
        ts = res.timeseries.loc[inc.at_s + 1:inc.at_s + inc.duration_s]   # samples after the failure
        during = ts["messages_published_per_s"].sum()
        outage[v] = {
            "regions": len(res.usage_by_region),
            "latency": f"{fmt_ms(s['latency_p50_ms'])} / {fmt_ms(s['latency_p99_ms'])}",
            "refused_by_quota": f"{s['connections_rejected'] - s.get('connections_rejected_region_down', 0):,.0f}",
            "dropped": f"{s['storm_dropped']:,.0f}",
            "refused": f"{s['connections_rejected']:,.0f}",
            "refused_by_failed_region": f"{s.get('connections_rejected_region_down', 0):,.0f}",
            "back_after": f"{s['storm_duration_s']:,.0f} s" if s["storm_duration_s"] else "-",
            "gave_up": f"{s['storm_gave_up']:,.0f}",
            "published": f"{s['messages_published']:,.0f}",
            "lost": f"{s['messages_lost']:,.0f}",
            "lost_share": f"{100.0 * s['messages_lost'] / s['messages_intended']:.1f}%",
            "published_during": f"{during:,.0f}",
            "lowest_connected": f"{ts['connections_open'].min():,.0f}",
            "failback": f"{s.get('failback_dropped') or 0:,.0f}",
        }
    return {"global-chat": chat, "global-live-event": outage}


#: the first-hour questions: (label, scenario, overrides) as the README runs them
QUESTIONS = (
    ("50k users in rooms of 20", "chat-basic",
     ["--set", "workload.clients=50000", "--set", "workload.channels.size=20",
      "--duration", "180", "--set", "warmup_s=30"]),
    ("5,000 viewers of one live channel", "livestream-basic",
     ["--set", "workload.clients=5000", "--set", "workload.publish.total_rate_per_s=1",
      "--duration", "180", "--set", "warmup_s=30"]),
    ("30,000 users reconnect after a deploy", "reconnect-storm",
     ["--set", "workload.clients=30000"]),
)


def first_hour_figures(questions=QUESTIONS) -> dict:
    """The verdict of each first-hour question, as ``python -m simulator run`` prints it."""
    import contextlib
    import io

    from simulator.cli import main as cli

    out = {}
    for label, name, args in questions:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            cli(["run", name, *args])
        text = buf.getvalue()
        verdict = text.split("\n\n", 1)[0]
        out[label] = {"command": "python -m simulator run " + " ".join([name, *args]),
                      "verdict": verdict}
    return out


#: the zombie-heartbeat scenario without its defences (for the failure-modes table)
NO_DEFENCES = {"workload.heartbeat": {"kind": "none"}, "app.cleanup.sweep": None}


def failure_mode_figures() -> dict:
    """The failure-mode rows of the README's "what the article names" table: the connection
    surge's refusals, zombies with and without heartbeats and a sweep, the reconnect storm."""
    def run(name, overrides=None):
        return sim.run(sim.load_scenario(ROOT / "data" / "scenarios" / f"{name}.yaml",
                                         overrides=overrides or {})).summary

    surge = run("connection-surge")
    with_, without = run("zombie-heartbeat"), run("zombie-heartbeat", NO_DEFENCES)
    storm = run("reconnect-storm")

    def zombies(s):
        return {"stale_post_share": f"{s['stale_post_share']:.1%}",
                "zombie_p50": f"{s['zombie_lifetime_p50_s']:,.0f} s",
                "zombie_p99": f"{s['zombie_lifetime_p99_s']:,.0f} s",
                "zombie_cost": f"${s['zombie_cost_usd_per_month']:,.0f}"}

    return {
        "connection-surge": {"rejected": f"{surge['connections_rejected']:,.0f}"},
        "zombie-heartbeat": {"with": zombies(with_), "without": zombies(without)},
        "reconnect-storm": {
            "dropped": f"{storm['storm_dropped']:,.0f}",
            "duration": (f"{storm['storm_duration_s']:,.0f} s"
                         if storm["storm_duration_s"] is not None else "not within the run"),
            "rejected": f"{storm['storm_rejected_attempts']:,.0f}",
            "disconnect_throttled": f"{storm['lambda_throttles.disconnect']:,.0f}"},
    }


#: the README's validation tables: (title, groups)
VALIDATION_TABLES = (
    ("theory", ("Lambda concurrency vs Erlang-B", "Fan-out post pool vs M/M/c clearing a batch",
                "Server task vs M/M/1", "Cold starts vs idle expiry",
                "Token bucket vs closed form")),
    ("pricing", ("AWS pricing examples",)),
    ("latency", ("Latency defaults vs measurements",)),
)


def _num(x: float) -> str:
    if x == 0:
        return "0"
    return f"{x:,.4g}" if abs(x) >= 1e-3 else f"{x:.3g}"


def _short_source(src: str) -> str:
    """The first address in a source, or the text before its first parenthesis."""
    import re

    m = re.search(r"https?://[^\s,;)]+", src)
    return m.group(0) if m else src.split(" (")[0].split(":")[0].strip()


def validation_row(r: dict) -> str:
    """One README row of the validation tables, formatted from one row of
    ``simulator.validation.validation_table``."""
    rel = "" if r["error_rel"] != r["error_rel"] else f" ({r['error_rel']:+.1%})"
    expected = r.get("expected_text") if isinstance(r.get("expected_text"), str) \
        else _num(r["expected"])
    if r["unit"] == "USD":
        expected, simulated = f"${r['expected']:,.2f}", f"${r['simulated']:,.2f}"
    else:
        tail = "" if r["unit"] in ("share", "requests") else f" {r['unit']}"
        expected, simulated = f"{expected}{tail}", f"{_num(r['simulated'])}{tail}"
    return (f"| {r['check']} | {r['compared']} | {expected} | {simulated} | "
            f"{_num(r['error_abs'])}{rel} | "
            f"{_num(r['tolerance'])} | {_short_source(r['source'])} | "
            f"{'pass' if r['passed'] else 'FAIL'} |")


def validation_figures() -> dict:
    """Every validation check at the README's size (seed 0), raw and as README rows."""
    from simulator.validation import validation_table

    t0 = time.perf_counter()
    table = validation_table(size="readme", seed=0)
    wall = time.perf_counter() - t0
    rows = json.loads(table.to_json(orient="records"))
    return {"size": "readme", "seed": 0, "wall_seconds": round(wall, 1), "rows": rows,
            "tables": {name: [validation_row(r) for r in rows if r["group"] in groups]
                       for name, groups in VALIDATION_TABLES}}


def fmt_ms(ms: float) -> str:
    return f"{ms / 1000:,.1f} s" if ms >= 1000 else f"{ms:,.0f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replications", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", choices=["livestream", "multi_region", "first_hour", "validation",
                                       "failure_modes", "features"],
                    default=None,
                    help="recompute only these figures (keep the others)")
    args = ap.parse_args()
    out = json.loads(OUT.read_text()) if OUT.exists() else {}
    if args.only in (None, "multi_region"):
        out["multi_region"] = mr = multi_region_figures(args.replications, args.workers)
        print("multi_region:", json.dumps(mr, indent=1))
    if args.only in (None, "first_hour"):
        out["first_hour"] = fh = first_hour_figures()
        for label, q in fh.items():
            print(f"\n{label}: {q['command']}\n{q['verdict']}")
    if args.only in (None, "failure_modes"):
        out["failure_modes"] = fm = failure_mode_figures()
        print("failure_modes:", json.dumps(fm, indent=1))
    if args.only in (None, "validation"):
        out["validation"] = val = validation_figures()
        print(f"validation ({val['wall_seconds']} s):")
        for name, lines in val["tables"].items():
            print(f"\n{name}:\n" + "\n".join(lines))
    if args.only in (None, "features"):
        out["features"] = ft = feature_figures(args.workers)
        for name, f in ft.items():
            print(f"\n{name} with the features of chat-features ({f['wall_seconds']} s):")
            print("\n".join(feature_table(f["cells"])))
    if args.only in (None, "livestream"):
        out["livestream-basic"] = live = livestream_figures()
        print("livestream-basic:", json.dumps(live))
    for name in SCENARIOS if args.only is None else ():
        scn = sim.load_scenario(ROOT / "data" / "scenarios" / f"{name}.yaml")
        t0 = time.perf_counter()
        cmp = sim.compare(scn, replications=args.replications, workers=args.workers)
        wall = time.perf_counter() - t0
        rows = json.loads(cmp.to_json())["rows"]
        figs = [row_figures(r) for r in rows]
        out[name] = {"replications": args.replications, "wall_seconds": round(wall, 1),
                     "rows": rows, "figures": figs}
        print(f"\n{name}: {scn.description.strip()}  ({args.replications} replications, "
              f"{wall:.0f} s)")
        print("| design | p50 | p99 | cost / month | per million deliveries | lost | "
              "first binding limit | guarantee |")
        print("|---|---|---|---|---|---|---|---|")
        for f in figs:
            print(f"| {f['design']} | {f['p50']} | {f['p99']} | {f['cost']} | {f['per_million']} "
                  f"| {f['lost']} | {f['first_limit']} | {f['guarantee']} |")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"\nwritten to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
