"""Scale benchmark: wall time, SimPy events and peak memory of the fast model, and its
speed-up over the naive reference model run in the same job.

    python benchmarks/bench_scale.py                # full size (about 6 minutes)
    python benchmarks/bench_scale.py --size small   # CI size (about 1 minute)

Each case runs in a fresh interpreter so that its peak RSS is its own. Figures are printed,
never asserted: speed is a measurement, not a test. At full size the results are saved in
``benchmarks/results/bench_scale.json`` (``--out`` elsewhere) and printed as the README's
performance table (``readme_lines``); ``tests/test_readme.py`` checks the README quotes them.

Cases (the issue's targets in brackets, for a 2-core machine):

* speed-up over naive: 10k clients in channels of 100, 1 message per user per minute
  [>= 100x faster per simulated second];
* chat-100k: 100k clients, channels of 100, 1 message per user per minute, one simulated
  hour [<= 180 s wall, peak memory <= 512 MB, not growing with simulated time: the same
  case for a tenth of the time is run for comparison];
* chat-10k (the chat-basic scenario) and livestream-10k (10k viewers of one channel).

The chat cases raise API Gateway's account throttle to 250,000 requests/s (as the team
would have to, see the livestream case and the README): at the default 10,000/s, 100k users
in channels of 100 need 165k posts/s and spend the hour throttled, which measures the
throttled path instead. That case is reported too (``chat-100k-default-quota``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAISED = {"aws.api_gateway.account_throttle_rps": 250_000,
          "aws.api_gateway.account_throttle_burst": 125_000,
          "aws.lambda.account_concurrency": 5_000}


def chat(clients: int, duration_s: float, raised: bool = True, channel_size: int = 100) -> dict:
    o = {"workload.clients": clients, "duration_s": duration_s, "warmup_s": min(60.0, duration_s / 5),
         "workload.channels.size": {"kind": "fixed", "value": channel_size}}
    if raised:
        o.update(RAISED)
    return o


def run_case(case: dict) -> dict:
    """Run one case in this process and report its figures."""
    sys.path.insert(0, str(ROOT))
    import simulator as sim

    if case["model"] == "naive":
        from benchmarks.naive_reference import NaiveModel, comparison_scenario

        scn = comparison_scenario(**case["args"])
        t0 = time.perf_counter()
        out = NaiveModel(scn).run()
        out["wall_seconds"] = time.perf_counter() - t0
        out["sim_events"] = out.pop("events")
    else:
        if case.get("comparison"):
            from benchmarks.naive_reference import comparison_scenario

            scn = comparison_scenario(**case["args"])
        else:
            scn = sim.load_scenario(ROOT / "data/scenarios" / f"{case['scenario']}.yaml",
                                    overrides=case["overrides"])
        t0 = time.perf_counter()
        res = sim.run(scn)
        wall = time.perf_counter() - t0
        s = res.summary
        out = {k: s[k] for k in ("messages_published", "deliveries_succeeded", "latency_p50_ms",
                                 "latency_p99_ms", "apigw_throttled_requests", "sim_events")}
        out["wall_seconds"] = wall
        out["deliveries"] = s["deliveries_succeeded"]
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["sim_seconds"] = case["sim_seconds"]
    return out


def spawn(case: dict) -> dict:
    p = subprocess.run([sys.executable, __file__, "--case", json.dumps(case)], cwd=ROOT,
                       capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    if p.returncode != 0:
        raise SystemExit(f"case {case['name']} failed:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def calibration() -> float:
    """µs per event of a bare SimPy timeout loop with random delays (machine speed)."""
    import random

    import simpy

    env = simpy.Environment()
    rnd = random.Random(1)
    n = 300_000

    def loop():
        for _ in range(n):
            yield env.timeout(rnd.expovariate(1.0))

    env.process(loop())
    t0 = time.perf_counter()
    env.run()
    return (time.perf_counter() - t0) / n * 1e6


OUT = ROOT / "benchmarks" / "results" / "bench_scale.json"
#: README table: (case name, what it is, target)
README_CASES = (
    ("naive-10k-ch100", "naive reference, 10k clients, channels of 100, 1 msg/user/min", ""),
    ("fast-10k-ch100", "fast model, same scenario", "speed-up"),
    ("chat-100k-ch100 (hour)", "chat-100k: 100k clients, channels of 100, 1 msg/user/min",
     "[≤ 180 s, ≤ 512 MB]"),
    ("chat-100k-ch100 (tenth)", "the same for a tenth of the time", "memory"),
    ("chat-10k (chat-basic)", "chat-basic (10k clients, channels of about 10)", ""),
    ("livestream-10k", "livestream, 10k viewers, throttled", ""),
    ("chat-100k-default-quota", "chat-100k at the default 10,000 requests/s (throttled)", ""),
)


def _events(n: float) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:,.0f} k"


def readme_lines(saved: dict) -> list[str]:
    """The README's performance table and its summary line, from saved results."""
    by = {r["name"]: r for r in saved["rows"]}
    naive, fast = by["naive-10k-ch100"], by["fast-10k-ch100"]
    hour = by["chat-100k-ch100 (hour)"]
    speedup = (naive["wall_seconds"] / naive["sim_seconds"]) / (
        fast["wall_seconds"] / fast["sim_seconds"])
    lines = ["| case | simulated | wall | SimPy events | peak RSS | target |",
             "|---|---|---|---|---|---|"]
    for name, what, target in README_CASES:
        r = by[name]
        wall = f"{r['wall_seconds']:,.1f} s" if r["wall_seconds"] >= 10 else f"{r['wall_seconds']:.2f} s"
        if target == "speed-up":
            target = f"**{speedup:,.0f}x** faster per simulated s [≥ 100x]"
        elif target == "memory":
            growth = hour["peak_rss_mb"] / r["peak_rss_mb"] - 1
            target = f"memory {growth:+.1%} over 10x the time"
        elif name == "chat-100k-ch100 (hour)":
            wall = f"**{wall}**"
        lines.append(f"| {what} | {r['sim_seconds']:,.0f} s | {wall} | {_events(r['sim_events'])} "
                     f"| {r['peak_rss_mb']:,.0f} MB | {target} |")
    per_msg = hour["wall_seconds"] / max(hour["messages_published"], 1) * 1e6
    lines.append("")
    lines.append(f"Measured on {saved['date']}, {saved['cpus']} CPUs, SimPy calibration "
                 f"{saved['calibration_us_per_event']:.2f} µs per event; the 100k-user hour "
                 f"costs {per_msg:.0f} µs of wall time per message published and "
                 f"{_events(hour['sim_events'] / hour['wall_seconds'])} SimPy events per wall "
                 f"second.")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", choices=["small", "full"], default="full")
    ap.add_argument("--out", type=Path, default=None,
                    help=f"save the results here (default at full size: {OUT.relative_to(ROOT)})")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return 0
    full = args.size == "full"
    naive_s, fast_s = (20.0, 600.0) if full else (4.0, 20.0)
    hour = 3600.0 if full else 60.0
    cmp_args = dict(clients=10_000, channel_size=100, rate_per_client_per_s=1 / 60,
                    warmup_s=2.0, account_throttle_rps=250_000)
    cases = [
        {"name": "naive-10k-ch100", "model": "naive", "sim_seconds": naive_s,
         "args": {**cmp_args, "duration_s": naive_s}},
        {"name": "fast-10k-ch100", "model": "fast", "comparison": True, "sim_seconds": fast_s,
         "args": {**cmp_args, "duration_s": fast_s}},
        {"name": "chat-10k (chat-basic)", "model": "fast", "scenario": "chat-basic",
         "sim_seconds": 600.0 if full else 60.0,
         "overrides": {"duration_s": 600.0 if full else 60.0, "warmup_s": 10.0}},
        {"name": "livestream-10k", "model": "fast", "scenario": "livestream-basic",
         "sim_seconds": 300.0 if full else 30.0,
         "overrides": {"workload.clients": 10_000, "duration_s": 300.0 if full else 30.0,
                       "warmup_s": 10.0}},
        {"name": "chat-100k-ch100 (tenth)", "model": "fast", "scenario": "chat-basic",
         "sim_seconds": hour / 10, "overrides": chat(100_000, hour / 10)},
        {"name": "chat-100k-ch100 (hour)" if full else "chat-100k-ch100 (60 s)", "model": "fast",
         "scenario": "chat-basic", "sim_seconds": hour, "overrides": chat(100_000, hour)},
        {"name": "chat-100k-default-quota", "model": "fast", "scenario": "chat-basic",
         "sim_seconds": 120.0 if full else 20.0,
         "overrides": chat(100_000, 120.0 if full else 20.0, raised=False)},
    ]
    cal = calibration()
    print(f"machine: {os.cpu_count()} CPUs, SimPy calibration {cal:.2f} µs/event "
          f"(planning notes: 2.45 µs)\n")
    rows = []
    for c in cases:
        r = spawn(c)
        r["name"] = c["name"]
        rows.append(r)
        per = r["wall_seconds"] / r["sim_seconds"]
        print(f"{c['name']:<28} sim {r['sim_seconds']:>6.0f} s  wall {r['wall_seconds']:>7.2f} s "
              f"({per * 1000:7.2f} ms/sim-s)  events {r['sim_events']:>11,}  "
              f"deliveries {r['deliveries']:>13,.0f}  peak RSS {r['peak_rss_mb']:6.0f} MB  "
              f"p50/p99 {r['latency_p50_ms']:.1f}/{r['latency_p99_ms']:.1f} ms", flush=True)
    by = {r["name"]: r for r in rows}
    naive, fast = by["naive-10k-ch100"], by["fast-10k-ch100"]
    speedup = (naive["wall_seconds"] / naive["sim_seconds"]) / (
        fast["wall_seconds"] / fast["sim_seconds"])
    hour_row = rows[5]
    tenth = rows[4]
    print("\nresults" + ("" if full else " (small size: short runs are dominated by set-up; "
                                           "compare with the targets at full size)"))
    print(f"  speed-up over naive (10k clients, channels of 100): {speedup:,.0f}x   [target >= 100x]")
    print(f"  naive vs fast p50 {naive['latency_p50_ms']:.1f} vs {fast['latency_p50_ms']:.1f} ms, "
          f"p99 {naive['latency_p99_ms']:.1f} vs {fast['latency_p99_ms']:.1f} ms")
    print(f"  chat-100k, {hour_row['sim_seconds']:.0f} simulated s: {hour_row['wall_seconds']:.1f} s wall "
          f"[target for one hour <= 180 s]; peak RSS {hour_row['peak_rss_mb']:.0f} MB [<= 512 MB]")
    growth = hour_row["peak_rss_mb"] / tenth["peak_rss_mb"] - 1
    print(f"  peak RSS, {tenth['sim_seconds']:.0f} s vs {hour_row['sim_seconds']:.0f} s simulated: "
          f"{tenth['peak_rss_mb']:.0f} vs {hour_row['peak_rss_mb']:.0f} MB ({growth:+.1%})")
    print(f"  events per wall second (chat-100k): {hour_row['sim_events'] / hour_row['wall_seconds']:,.0f}; "
          f"wall per message {hour_row['wall_seconds'] / max(hour_row['messages_published'], 1) * 1e6:.1f} µs")
    out = args.out or (OUT if full else None)
    if out is not None:
        import datetime

        saved = {"size": args.size, "date": datetime.date.today().isoformat(),
                 "cpus": os.cpu_count(), "calibration_us_per_event": round(cal, 3), "rows": rows}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(saved, indent=1) + "\n")
        if full:
            print("\nREADME table:\n" + "\n".join(readme_lines(saved)))
        print(f"\nsaved to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
