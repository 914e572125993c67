"""Command line:

* ``python -m simulator run SCENARIO [--set key=value ...] [--json]``;
* ``python -m simulator compare SCENARIO [--variants basic,sns,...] [--set key=value ...]
  [--replications R] [--workers N] [--json]``;
* ``python -m simulator validate SCENARIO [--set key=value ...]``.

Bad input (a scenario file, a ``--set``) prints one message naming the field, the value and
the rule, and exits with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys

from simulator.errors import ScenarioError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m simulator",
                                description="Capacity planning for serverless WebSocket designs.")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run one scenario and print its summary")
    r.add_argument("scenario", help="scenario YAML file (or a name under data/scenarios/)")
    r.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field by dotted path, e.g. --set workload.clients=50000")
    r.add_argument("--json", action="store_true", help="print exactly the summary as JSON")
    c = sub.add_parser("compare", help="run designs on the same workload and compare them")
    c.add_argument("scenario")
    c.add_argument("--variants", default=None, metavar="A,B,...",
                   help="designs to compare (default: the scenario's variants), e.g. "
                        "basic,sns,sqs,appsync,managed")
    c.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    c.add_argument("--replications", default="1", metavar="R",
                   help="runs per design with common random numbers (default 1)")
    c.add_argument("--workers", default="1", metavar="N", help="processes (default 1)")
    c.add_argument("--json", action="store_true", help="print the comparison as JSON")
    v = sub.add_parser("validate", help="check a scenario and print its resolved parameters")
    v.add_argument("scenario")
    v.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    return p


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v == int(v) and abs(v) < 1e15:
            return f"{int(v):,}"
        return f"{v:,.3f}"
    return str(v)


def _print_summary(res) -> None:
    s = res.summary
    w = max(len(k) for k in s)
    print(f"scenario {s['scenario']} ({s['architecture']}, {s['region']}, seed {s['seed']}, "
          f"{s['duration_s']:g} s simulated in {s['wall_seconds']:.1f} s)")
    for k, v in s.items():
        if k in ("scenario", "architecture", "region", "seed", "cost_projection"):
            continue
        print(f"  {k:<{w}}  {_fmt(v)}")
    _print_costs(res)
    agg = res.breaches_by_quota()
    if len(agg):
        print("\nquota and limit breaches (refused requests or closed connections):")
        print(agg.to_string(index=False))
    else:
        print("\nno quota breached")


def _print_costs(res) -> None:
    if res.cost_note:
        print(f"\n{res.cost_note}")
        return
    scn = res.scenario
    month = res.monthly_costs
    print(f"\ncosts in {scn.region} ({'with' if scn.billing.free_tier else 'no'} free tier): "
          f"simulated window ${res.costs['cost_usd'].sum():,.2f}, "
          f"per month ${month['cost_usd'].sum():,.2f}")
    print(f"  monthly projection: {res.cost_projection}")
    by_service = month.groupby("service", sort=False)["cost_usd"].sum()
    for svc, usd in by_service.items():
        print(f"  {svc:<14} ${usd:>14,.2f} / month")
        for _, r in month[month["service"] == svc].iterrows():
            if r["quantity"] <= 0:
                continue
            flag = "" if r["basis"] == "published" else f"  [{r['basis']}]"
            print(f"      {r['item']:<34} {r['quantity']:>18,.1f} x ${r['unit_price_usd']:.10g}"
                  f" ({r['tier']}) = ${r['cost_usd']:,.2f}{flag}")
    est = res.summary.get("cost_estimated_items")
    if est:
        print(f"  estimated (no published {scn.region} price in the catalog): {est}")


def _int_flag(name: str, text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise ScenarioError(f"--{name}", text, "must be an integer >= 1") from None
    if v < 1:
        raise ScenarioError(f"--{name}", text, "must be an integer >= 1")
    return v


_TABLE = (("latency_p50_ms", "p50 ms"), ("latency_p99_ms", "p99 ms"),
          ("latency_std_ms", "std ms"), ("cost_usd_per_month", "$/month"),
          ("cost_usd_per_million_deliveries", "$/M deliveries"),
          ("messages_lost", "lost"), ("messages_duplicated", "duplicated"),
          ("first_binding_limit", "first binding limit"), ("first_binding_s", "at s"),
          ("delivery_guarantee", "guarantee"))


def _print_comparison(cmp) -> None:
    scn = cmp.scenario
    t = cmp.table
    reps = int(t["replications"].iloc[0])
    print(f"scenario {scn.name} ({scn.region}, {scn.duration_s:g} s, {reps} replication"
          f"{'s' if reps > 1 else ''} per design, common random numbers)")
    rows = []
    for _, r in t.iterrows():
        row = {"design": r["variant"]}
        for k, label in _TABLE:
            v = r[k]
            ci = r.get(f"{k}_ci95")
            cell = _fmt(v) if not (isinstance(v, float) and v != v) else "-"
            if reps > 1 and ci is not None and ci == ci and isinstance(v, float):
                cell += f" ±{ci:,.3g}"
            row[label] = cell
        rows.append(row)
    import pandas as pd

    print(pd.DataFrame(rows).to_string(index=False))
    print("\nbreaches per run, by quota:")
    for _, r in t.iterrows():
        print(f"  {r['variant']:<8} {r['breaches_by_quota'] or 'none'}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import simulator as sim
    from simulator.scenario import parse_set

    try:
        overrides = parse_set(args.sets)
        scn = sim.load_scenario(args.scenario, overrides=overrides)
        if args.cmd == "compare":
            cmp = sim.compare(scn, args.variants,
                              replications=_int_flag("replications", args.replications),
                              workers=_int_flag("workers", args.workers),
                              progress=not args.json and sys.stderr.isatty())
            if args.json:
                print(cmp.to_json())
            else:
                _print_comparison(cmp)
            return 0
        if args.cmd == "validate":
            from simulator.catalog import load_catalog
            from simulator.scenario import Params

            df = Params(scn, load_catalog()).frame()
            print(f"scenario {scn.name!r} is valid")
            print(df[["key", "value", "origin", "confidence"]].to_string(index=False))
            return 0
        res = sim.run(scn)
    except ScenarioError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(res.summary))
    else:
        _print_summary(res)
    return 0
