"""Print (and save) the figures the README quotes, at full size: the design comparisons,
and the basic design's livestream at 20,000 and 200 viewers.

    .venv/bin/python scripts/readme_figures.py [--replications 3] [--workers 2] [--only livestream]

Runs ``sim.compare`` on ``data/scenarios/livestream-compare.yaml`` (20,000 viewers of one
channel, 2 messages/s) and ``data/scenarios/chat-compare.yaml`` (100,000 chat users), prints
a Markdown table per scenario, and writes the rows to ``benchmarks/results/compare.json``;
``tests/test_readme.py`` checks that the README quotes these rows. About 15 minutes on 2 cores.
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


def fmt_ms(ms: float) -> str:
    return f"{ms / 1000:,.1f} s" if ms >= 1000 else f"{ms:,.0f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replications", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", choices=["livestream"], default=None,
                    help="recompute only the livestream-basic figures (keep the comparisons)")
    args = ap.parse_args()
    out = json.loads(OUT.read_text()) if OUT.exists() else {}
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
