"""``python -m simulator capacity SCENARIO --load KEY --slo METRIC=BOUND ...``: the command
line of :func:`simulator.capacity` (registered by :mod:`simulator.cli`).

It prints one row per design: the capacity (the largest load that held the SLO), the bracket
around it, which SLO term the load above broke and the limit that binds there, the SLO metrics
just below and just above, and the cost at capacity. ``--json`` prints
:meth:`Capacity.to_json`. Ctrl-C prints one line on stderr, the searches as far as they got
(marked partial), and exits with status 130.
"""

from __future__ import annotations

import argparse
import math
import sys

from simulator.errors import Interrupted, ScenarioError


def add_parser(sub) -> argparse.ArgumentParser:
    """The ``capacity`` subcommand's flags."""
    q = sub.add_parser("capacity", help="find the largest load each design sustains within an "
                       "SLO, and the limit that binds there")
    q.add_argument("scenario")
    q.add_argument("--load", default="workload.clients", metavar="KEY",
                   help="the load setting to grow, by dotted path (default workload.clients); "
                        "a distribution is scaled as a whole; workload.arrivals.rate_per_s is "
                        "a spike's arrival rate")
    q.add_argument("--slo", action="append", default=[], metavar="METRIC=BOUND",
                   help="an upper bound, e.g. --slo latency_p99_ms=250 --slo breaches=0 "
                        "(breaches: requests refused by load limits); default both of these")
    q.add_argument("--variants", default=None, metavar="A,B,...",
                   help="designs to search (default: the scenario's variants)")
    q.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    q.add_argument("--start", default=None, metavar="LOAD",
                   help="the first load tried (default: the scenario's value)")
    q.add_argument("--growth", default="2", metavar="F",
                   help="factor the bracket grows by (default 2)")
    q.add_argument("--rtol", default="0.02", metavar="R",
                   help="relative width at which the bisection stops (default 0.02)")
    q.add_argument("--replications", default="1", metavar="R",
                   help="runs per load, the same seeds at every load (default 1)")
    q.add_argument("--workers", default="1", metavar="N", help="processes (default 1)")
    q.add_argument("--json", action="store_true", help="print the result as JSON")
    return q   # --overlay, --seed and --duration: added by cli._parser, as to the others


def parse_slo(items: list[str]) -> dict[str, float] | None:
    """``["latency_p99_ms=250", "breaches=0"]`` -> ``{"latency_p99_ms": 250.0, ...}``."""
    if not items:
        return None
    out: dict[str, float] = {}
    for item in items:
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ScenarioError("--slo", item, "must be METRIC=BOUND, e.g. latency_p99_ms=250")
        out[key] = _number(f"--slo {key}", text)
    return out


def _number(flag: str, text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ScenarioError(flag, text, "must be a number") from None
    if not math.isfinite(v):
        raise ScenarioError(flag, text, "must be a finite number")
    return v


def command(sim, scn, args) -> int:
    """Run the search and print it; 130 after Ctrl-C (what finished printed, marked partial)."""
    from simulator.cli import _int_flag

    kw = dict(load=args.load, slo=parse_slo(args.slo), variants=args.variants,
              start=None if args.start is None else _number("--start", args.start),
              growth=_number("--growth", args.growth), rtol=_number("--rtol", args.rtol),
              replications=_int_flag("replications", args.replications),
              workers=_int_flag("workers", args.workers),
              progress=not args.json and sys.stderr.isatty())
    code = 0
    try:
        cap = sim.capacity(scn, **kw)
    except Interrupted as e:
        print(f"{e.what}; the searches as far as they got follow (marked partial)",
              file=sys.stderr)
        cap, code = e.partial, 130
    if args.json:
        print(cap.to_json())
    else:
        print_capacity(cap)
    return code


def _num(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    v = float(v)
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.4g}"


def _text(v) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) or v == "" else str(v)


def print_capacity(cap) -> None:
    """The table of a :class:`~simulator.capacity.Capacity`, one row per design."""
    import pandas as pd

    scn = cap.scenario
    if cap.partial:
        print("PARTIAL: the searches as far as they got before Ctrl-C")
    slo = ", ".join(f"{k} <= {_num(b)}" for k, b in cap.slo.items())
    print(f"capacity of {scn.name} in {cap.load} ({scn.duration_s:g} s simulated, "
          f"{cap.replications} replication{'s' if cap.replications > 1 else ''} per load with "
          f"the same seeds); SLO: {slo} (means over the replications)")
    rows = []
    for _, r in cap.table.iterrows():
        row = {"design": r["variant"], "capacity": _num(r["capacity"]),
               "first failing load": _num(r["bracket_high"]), "status": r["status"],
               "SLO broken above": _text(r["slo_broken"]),
               "binding limit": _text(r["binding_limit"])}
        for k in cap.slo:
            row[f"{k} below / above"] = f"{_num(r[f'{k}_below'])} / {_num(r[f'{k}_above'])}"
        row["$/month at capacity"] = _num(r["cost_usd_per_month"])
        row["$/1k users/month"] = _num(r["cost_usd_per_1k_users_month"])
        row["runs"] = int(r["runs"])
        rows.append(row)
    with pd.option_context("display.width", 250, "display.max_columns", 30):  # not a catalog value
        print(pd.DataFrame(rows).to_string(index=False))
    print("\nbreaches: requests refused by load limits (connections closed by a design limit "
          "such as the maximum connection duration are not counted); binding limit: what the "
          "verdict names at the first failing load")
