"""Sweep benchmark: an 8-point sweep serial, on 2 worker processes and (with ``--dask``) on a
Dask LocalCluster of 2 worker processes; wall times, the speed-up over serial, and whether
the rows are identical.

    python benchmarks/bench_sweep.py                # full size (runs of a few seconds each)
    python benchmarks/bench_sweep.py --size small   # CI size (runs of about half a second)
    python benchmarks/bench_sweep.py --dask         # also on a Dask LocalCluster

The issue's target: at least 1.8x faster on 2 workers than serial, with identical rows (on a
machine with 2 free cores; figures are printed, never asserted: speed is a measurement, not
a test). Different rows are an error (exit status 1): that is correctness, not speed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# the 8 points: channel sizes crossed with publish rates, each run about equally long
SIZES = {"small": {"clients": 10_000, "duration_s": 60.0},
         "full": {"clients": 40_000, "duration_s": 120.0}}
GRID = {"workload.channels.size.value": [10, 20, 50, 100],
        "workload.publish.rate_per_client_per_s": [0.01, 0.02]}
VARYING = ("wall_seconds", "run_seconds")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="full")
    ap.add_argument("--dask", action="store_true", help="also time a Dask LocalCluster")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import simulator as sim

    size = SIZES[args.size]
    scn = sim.load_scenario("chat-basic", overrides={
        "workload.clients": size["clients"], "duration_s": size["duration_s"],
        "warmup_s": size["duration_s"] / 6, "workload.channels.size": {"kind": "fixed",
                                                                        "value": 10}})

    def timed(**kw):
        t0 = time.perf_counter()
        df = sim.sweep(scn, GRID, replications=1, progress=False, **kw)
        return df, time.perf_counter() - t0

    serial, t_serial = timed(workers=1)
    results = {"2 processes": timed(workers=2)}
    if args.dask:
        import dask
        from distributed import Client, LocalCluster

        # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers: a glibc setting that
        # maps every large allocation afresh and makes a run about 3x slower (see README)
        dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            client.run(lambda: __import__("simulator"))   # warm the workers' imports
            results["Dask LocalCluster, 2 processes"] = timed(executor=client.get_executor())

    cols = [c for c in serial.columns if c not in VARYING]
    print(f"sweep of {len(serial)} points ({args.size}: {size['clients']:,} clients, "
          f"{size['duration_s']:g} s simulated each), chat-basic")
    print(f"  cores: {os.cpu_count()}, load average (1 min) at the end: {os.getloadavg()[0]:.1f} "
          "(the speed-up needs the cores free)")
    print(f"  serial: {t_serial:.1f} s (runs {serial['run_seconds'].sum():.1f} s)")
    ok = True
    for name, (df, t) in results.items():
        same = df[cols].equals(serial[cols]) and list(df.columns) == list(serial.columns)
        ok &= same
        print(f"  {name}: {t:.1f} s, {t_serial / t:.2f}x faster than serial, rows "
              f"{'identical' if same else 'DIFFERENT'}")
    if not ok:
        print("error: a parallel sweep gave other rows than the serial one", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
