"""Command line:

* ``python -m simulator run SCENARIO [--set key=value ...] [--json]``;
* ``python -m simulator compare SCENARIO [--variants basic,sns,...] [--set key=value ...]
  [--replications R] [--workers N] [--json]``;
* ``python -m simulator validate SCENARIO [--set key=value ...]``;
* ``python -m simulator list`` (bundled scenarios, designs, Regions with data);
* ``python -m simulator sweep SCENARIO --grid KEY=V1,V2 ... [--lhs KEY=LO:HI ... --points N]
  [--replications R] [--precision METRIC=HW --max-replications M] [--workers N | --dask ADDR]
  [--out DIR] [--csv FILE.csv]`` (``--out``: every run stored as it finishes; the same command
  again resumes);
* ``python -m simulator capacity SCENARIO --load KEY --slo METRIC=BOUND ... [--variants A,B]
  [--set key=value ...] [--replications R] [--workers N] [--json]`` (see
  :mod:`simulator.cli_capacity`);
* ``python -m simulator report SCENARIO [--variants A,B] [--set key=value ...]
  [--replications R] [--out reports/NAME.html] [--pdf]`` (the design-review document; see
  :mod:`simulator.cli_report`);
* ``python -m simulator calibrate [--lambda FUNCTION=FILE ...] [--dynamodb-item FILE]
  [--dynamodb-query FILE] [--apigw-latency FILE --apigw-integration-latency FILE]
  --out OVERLAY.yaml`` (fit latency distributions to CloudWatch exports; see
  :mod:`simulator.calibrate` for the file formats).

``run``, ``compare``, ``validate`` and ``sweep`` take ``--overlay FILE.yaml`` (dotted keys ->
values, e.g. the file ``calibrate`` writes), applied before any ``--set``.

Ctrl-C ends a run, a comparison or a sweep with one line on stderr and status 130; what had
finished is printed (or written) and marked partial. A sweep with ``--out DIR`` has stored
every finished run there, and the line gives the exact command that resumes it.

``run``, ``compare`` and ``validate`` take ``--seed N`` and ``--duration S`` as shortcuts for
``--set seed=N`` and ``--set duration_s=S``.

Bad input (a scenario file, a ``--set``) prints one message naming the field, the value and
the rule, and exits with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from simulator.cli_capacity import add_parser as add_capacity_parser
from simulator.cli_capacity import command as capacity_command
from simulator.cli_report import add_parser as add_report_parser
from simulator.cli_report import command as report_command
from simulator.errors import Interrupted, ScenarioError
from simulator.scenario import parse_set


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
    sub.add_parser("list", help="list the bundled scenarios, the designs and the Regions")
    w = sub.add_parser("sweep", help="run a scenario over a design of settings; one row per run",
                       description="Run a scenario at every point of a grid (--grid) and/or a "
                       "sampled design (--lhs or --random with --points). With --out DIR every "
                       "finished run is stored as it completes; the same command again resumes.")
    w.add_argument("scenario")
    w.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="a factor (comma-separated values or a YAML list) or a fixed value, "
                        "e.g. --grid workload.clients=1000,10000")
    w.add_argument("--lhs", action="append", default=[], metavar="KEY=LO:HI[:log]",
                   help="a range of a Latin hypercube design (integer bounds give integers; "
                        ":log spreads it in log space); needs --points")
    w.add_argument("--random", action="append", default=[], metavar="KEY=LO:HI[:log]",
                   help="a range of a random (uniform) design; needs --points")
    w.add_argument("--points", default=None, metavar="N", help="points of --lhs / --random")
    w.add_argument("--design-seed", default=None, metavar="N",
                   help="seed of the --lhs / --random draws (default: the scenario's seed)")
    w.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    w.add_argument("--replications", default="1", metavar="R",
                   help="runs per point (with --precision: the runs each point starts with)")
    w.add_argument("--precision", default=None, metavar="METRIC=HALF_WIDTH[%]",
                   help="add replications per point until the 95%% CI half-width of METRIC is "
                        "under HALF_WIDTH (in its unit, or a percentage of its mean), e.g. "
                        "latency_p99_ms=5; needs --max-replications")
    w.add_argument("--max-replications", default=None, metavar="M")
    w.add_argument("--workers", default=None, metavar="N",
                   help="processes (default: one per core; 1 runs in this process)")
    w.add_argument("--dask", default=None, metavar="ADDRESS",
                   help="run on a Dask cluster, e.g. tcp://scheduler:8786 (needs the dask extra)")
    w.add_argument("--out", default=None, metavar="DIR",
                   help="store every finished run here (Parquet + manifest); run the same "
                        "command again to resume")
    w.add_argument("--retry-failed", action="store_true",
                   help="on resume, run again the runs stored with an error")
    w.add_argument("--csv", default=None, metavar="FILE.csv",
                   help="also write the rows (the finished ones after Ctrl-C) to this CSV")
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
    k = sub.add_parser("calibrate", help="fit latency distributions to CloudWatch exports and "
                       "write a scenario overlay")
    k.add_argument("--lambda", dest="lambdas", action="append", default=[],
                   metavar="FUNCTION=FILE", help="Logs Insights CSV of a function's REPORT lines "
                   "(@duration, @initDuration), e.g. --lambda default=report.csv")
    k.add_argument("--dynamodb-item", default=None, metavar="FILE",
                   help="SuccessfulRequestLatency export of GetItem/PutItem/DeleteItem")
    k.add_argument("--dynamodb-query", default=None, metavar="FILE",
                   help="SuccessfulRequestLatency export of Query")
    k.add_argument("--apigw-latency", default=None, metavar="FILE", help="Latency export")
    k.add_argument("--apigw-integration-latency", default=None, metavar="FILE",
                   help="IntegrationLatency export of the same periods")
    k.add_argument("--out", required=True, metavar="OVERLAY.yaml",
                   help="where to write the overlay")
    for q in (r, c, v, w, add_capacity_parser(sub), add_report_parser(sub)):
        q.add_argument("--overlay", default=None, metavar="FILE.yaml",
                       help="overrides from a YAML file of dotted keys (e.g. calibrate's output)")
        q.add_argument("--seed", default=None, metavar="N", help="shortcut for --set seed=N")
        q.add_argument("--duration", default=None, metavar="S",
                       help="shortcut for --set duration_s=S (simulated seconds)")
    return p


def _list() -> None:
    """The bundled scenarios (with their descriptions), the designs and the Regions."""
    import textwrap

    from simulator.architectures import registry
    from simulator.catalog import load_catalog
    from simulator.costs import price_book

    cat = load_catalog()
    print("scenarios (data/scenarios/; run them by name):")
    for path in sorted((cat.data_dir / "scenarios").glob("*.yaml")):
        import yaml

        doc = yaml.safe_load(path.read_text()) or {}
        desc = " ".join(str(doc.get("description", "")).split())
        print(f"  {path.stem:<20} " + textwrap.shorten(desc, 96, placeholder=" ..."))
    print("\ndesigns (--variants; a name may carry its Regions: basic@eu-central-1, "
          "multi_region@us-east-1+eu-central-1):")
    print("  " + ", ".join(registry.names()))
    priced = set(price_book().regions)
    print("\nRegions with latency data (CloudPing); * also priced (data/pricing/):")
    print(textwrap.fill(", ".join(r + ("*" if r in priced else "") for r in cat.regions),
                        96, initial_indent="  ", subsequent_indent="  "))
    locs = sorted(k.split(".", 1)[1] for k in cat.facts if k.startswith("geography."))
    print("\nuser locations (workload.geography.locations):")
    print("  " + ", ".join(locs))


def _short(x, n: int) -> str:
    t = " ".join(str(x).split())
    return t if len(t) <= n else t[: n - 3] + "..."


def _print_params(df) -> None:
    """One line per resolved number: key, value and unit, origin, confidence and date, source."""
    w = max(len(k) for k in df["key"])
    print(f"  {'key':<{w}}  {'value [unit]':<44}  {'origin':<22}  {'confidence, as of':<22}  source")
    for _, r in df.iterrows():
        unit = _short(r["unit"], 28)
        v = r["value"]
        val = _short("none" if v is None or (isinstance(v, float) and v != v) else v,
                     44 - len(unit) - 3 if unit else 44)
        vu = f"{val} [{unit}]" if unit else val
        conf = f"{r['confidence']}, {r['as_of']}" if r["confidence"] else ""
        print(f"  {r['key']:<{w}}  {vu:<44}  {_short(r['origin'], 22):<22}  {conf:<22}  "
              f"{_short(r['source'], 80)}")


def _shortcuts(args) -> list[str]:
    sets = list(args.sets)
    if args.seed is not None:
        sets.append(f"seed={args.seed}")
    if args.duration is not None:
        sets.append(f"duration_s={args.duration}")
    return sets


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
    where = ", ".join(res.usage_by_region)
    print(f"\ncosts in {where} ({'with' if scn.billing.free_tier else 'no'} free tier): "
          f"simulated window ${res.costs['cost_usd'].sum():,.2f}, "
          f"per month ${month['cost_usd'].sum():,.2f}")
    print(f"  monthly projection: {res.cost_projection}")
    by_service = month.groupby("service", sort=False)["cost_usd"].sum()
    for svc, usd in by_service.items():
        print(f"  {svc:<14} ${usd:>14,.2f} / month")
        several = len(res.usage_by_region) > 1
        for _, r in month[month["service"] == svc].iterrows():
            if r["quantity"] <= 0:
                continue
            flag = "" if r["basis"] == "published" else f"  [{r['basis']}]"
            item = f"{r['item']} ({r['region']})" if several else r["item"]
            print(f"      {item:<34} {r['quantity']:>18,.1f} x ${r['unit_price_usd']:.10g}"
                  f" ({r['tier']}) = ${r['cost_usd']:,.2f}{flag}")
    est = res.summary.get("cost_estimated_items")
    if est:
        print(f"  estimated (no published {where} price in the catalog): {est}")


def _int_flag(name: str, text: str, low: int = 1) -> int:
    try:
        v = int(text)
    except ValueError:
        raise ScenarioError(f"--{name}", text, f"must be an integer >= {low}") from None
    if v < low:
        raise ScenarioError(f"--{name}", text, f"must be an integer >= {low}")
    return v


def _sig(v: float) -> str:
    """Three significant figures, thousands separated (no false precision)."""
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def _pct(v) -> str:
    return "-" if v is None or v != v else f"{100.0 * v:.1f}%"


def _print_by_place(cmp) -> None:
    """Latency by user location (p50 / p99), and cost per month by Region, per design."""
    import pandas as pd

    t = cmp.table.set_index("variant")
    locs = [c.split(".", 1)[1] for c in t.columns if c.startswith("latency_p50_ms.")
            and "-" not in c.split(".", 1)[1] and not c.endswith("_ci95")]   # Regions have "-"
    if locs:
        print("\nlatency by user location, p50 / p99 (ms):")
        rows = {loc: {v: f"{_sig(t.at[v, f'latency_p50_ms.{loc}'])} / "
                         f"{_sig(t.at[v, f'latency_p99_ms.{loc}'])}"
                      if t.at[v, f"latency_p50_ms.{loc}"] == t.at[v, f"latency_p50_ms.{loc}"]
                      else "-" for v in t.index} for loc in locs}
        print(pd.DataFrame(rows).T.to_string())
    regions = [c.split(".", 1)[1] for c in t.columns if c.startswith("cost_usd_per_month.")
               and not c.endswith("_ci95")]
    if regions:
        print("\ncost per month by Region:")
        rows = {r: {v: "-" if t.at[v, f"cost_usd_per_month.{r}"] != t.at[
            v, f"cost_usd_per_month.{r}"] else "$" + _sig(t.at[v, f"cost_usd_per_month.{r}"])
            for v in t.index} for r in regions}
        print(pd.DataFrame(rows).T.to_string())


def _print_comparison(cmp) -> None:
    import pandas as pd

    scn = cmp.scenario
    if cmp.partial:
        print("PARTIAL: the runs that finished before Ctrl-C")
    t = cmp.table
    reps = int(t["replications"].iloc[0])
    print(f"scenario {scn.name} ({scn.region}, {scn.duration_s:g} s simulated, {reps} "
          f"replication{'s' if reps > 1 else ''} per design with the same seeds; means"
          f"{', ± 95% CI' if reps > 1 else ''})")
    rows = []
    def cell(r, k, prefix=""):
        v, ci = r[k], r.get(f"{k}_ci95")
        out = prefix + _sig(v)
        if reps > 1 and ci is not None and ci == ci:
            out += f" ±{prefix}{_sig(ci)}"
        return out

    for _, r in t.iterrows():
        limit = r["first_binding_limit"]
        limit = "none" if limit is None or limit != limit else (
            f"{limit} ({r['first_binding_runs']}/{reps})" if reps > 1 else limit)
        at = r["first_binding_s"]
        rows.append({
            "design": r["variant"],
            "p50 (ms)": cell(r, "latency_p50_ms"),
            "p99 (ms)": cell(r, "latency_p99_ms"),
            "std (ms)": cell(r, "latency_std_ms"),
            "cost/month": cell(r, "cost_usd_per_month", "$"),
            "per M deliveries": "$" + f"{r['cost_usd_per_million_deliveries']:.2f}",
            "lost": _pct(r["messages_lost_share"]),
            "pending at end": _pct(r["messages_pending_share"]),
            "duplicated": _pct(r["messages_duplicated_share"]),
            "first limit refusing work (runs)": limit,
            "from (s)": "-" if at is None or at != at else f"{at:,.0f}",
            "guarantee": r["delivery_guarantee"],
        })
    print(pd.DataFrame(rows).to_string(index=False))
    print("\nlost, pending, duplicated: shares of the (message, recipient) pairs intended; "
          "per M deliveries: cost per million first deliveries (duplicates are paid, not counted)")
    _print_by_place(cmp)
    print("\nbreaches per run, by quota (requests refused, or connections closed by a limit):")
    for _, r in t.iterrows():
        print(f"  {r['variant']:<8} {r['breaches_by_quota'] or 'none'}")


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:   # the output was piped into head, less, ...: not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:   # Ctrl-C before anything was kept: not an error
        print("interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import simulator as sim
    if args.cmd == "list":
        _list()
        return 0
    try:
        if args.cmd == "calibrate":
            return _calibrate(sim, args)
        overrides = {**read_overlay(args.overlay), **parse_set(_shortcuts(args))}
        scn = sim.load_scenario(args.scenario, overrides=overrides)
        if args.cmd == "sweep":
            return _sweep(sim, scn, args, list(sys.argv[1:] if argv is None else argv))
        if args.cmd == "capacity":
            return capacity_command(sim, scn, args)
        if args.cmd == "report":
            return report_command(sim, scn, args, list(sys.argv[1:] if argv is None else argv))
        if args.cmd == "compare":
            try:
                cmp = sim.compare(scn, args.variants,
                                  replications=_int_flag("replications", args.replications),
                                  workers=_int_flag("workers", args.workers),
                                  progress=not args.json and sys.stderr.isatty())
            except Interrupted as e:
                return _interrupted(e, args, _print_comparison)
            if args.json:
                print(cmp.to_json())
            else:
                _print_comparison(cmp)
            return 0
        if args.cmd == "validate":
            from simulator.catalog import load_catalog
            from simulator.scenario import Params

            df = Params(scn, load_catalog()).frame()
            print(f"scenario {scn.name!r} is valid; every number a run uses, with its origin "
                  "(scenario, preset or catalog) and source:")
            _print_params(df)
            return 0
        try:
            res = sim.run(scn, progress=None if sys.stderr.isatty() else False)
        except Interrupted as e:
            return _interrupted(e, args, _print_result)
    except ScenarioError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(res.summary))
    else:
        _print_result(res)
    return 0


def read_overlay(path: str | None) -> dict:
    """The overrides of an ``--overlay`` YAML file: a mapping of dotted keys to values."""
    if path is None:
        return {}
    from simulator.scenario import read_scenario_file

    try:
        raw = read_scenario_file(path)
    except ScenarioError as e:
        raise ScenarioError("--overlay", path, e.rule) from None
    if not isinstance(raw, dict) or not all(isinstance(k, str) for k in raw):
        raise ScenarioError("--overlay", path, "must be a YAML mapping of dotted keys to values, "
                            "e.g. 'aws.dynamodb.latency.item_s: {kind: lognormal, ...}'")
    return raw


def _calibrate(sim, args) -> int:
    """``calibrate``: fit, print the goodness of fit, write the overlay."""
    import pandas as pd

    lambdas = {}
    for item in args.lambdas:
        if "=" not in item:
            raise ScenarioError("--lambda", item, "must be FUNCTION=FILE, e.g. default=report.csv")
        fn, path = item.split("=", 1)
        lambdas[fn.strip()] = path.strip()
    cal = sim.calibrate(lambda_reports=lambdas, dynamodb_item=args.dynamodb_item,
                        dynamodb_query=args.dynamodb_query, apigw_latency=args.apigw_latency,
                        apigw_integration_latency=args.apigw_integration_latency)
    try:
        out = cal.write(args.out)
    except OSError as e:
        raise ScenarioError("--out", args.out, f"cannot write the overlay ({e.strerror})") from None
    with pd.option_context("display.width", 200, "display.max_columns", 20):  # not a catalog value
        print(cal.table().to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\n{len(cal.fits)} fitted entries written to {out} "
          f"(use: python -m simulator run SCENARIO --overlay {out})")
    return 0


def parse_grid(items: list[str]) -> dict:
    """``--grid`` flags -> grid: ``KEY=V1,V2`` (comma-separated YAML values) or a YAML list
    (``KEY=[V1,V2]``) is a factor; one value (or a YAML mapping) is fixed."""
    out = {}
    for item in items:
        if "=" not in item:
            raise ScenarioError("--grid", item, "must be KEY=V1,V2,... e.g. "
                                "workload.clients=1000,10000")
        key, text = (t.strip() for t in item.split("=", 1))
        if text[:1] in ("[", "{") or "," not in text:
            out.update(parse_set([f"{key}={text}"]))
        else:
            parts = [t.strip() for t in text.split(",")]
            if not all(parts):
                raise ScenarioError(f"--grid {key}", text, "an empty value between commas")
            out[key] = [parse_set([f"{key}={t}"])[key] for t in parts]
    return out


def parse_ranges(flag: str, items: list[str]) -> tuple[dict, list[str]]:
    """``--lhs``/``--random`` flags -> (ranges, log keys): ``KEY=LO:HI`` or ``KEY=LO:HI:log``."""
    import yaml

    ranges, log = {}, []
    for item in items:
        key, _, text = item.partition("=")
        parts = text.split(":")
        if not key.strip() or len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "log"):
            raise ScenarioError(f"--{flag}", item, "must be KEY=LO:HI or KEY=LO:HI:log, e.g. "
                                "workload.clients=1000:50000:log")
        try:
            lo, hi = (yaml.safe_load(p) for p in parts[:2])
        except yaml.YAMLError:
            lo = hi = None
        if not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in (lo, hi)):
            raise ScenarioError(f"--{flag} {key.strip()}", text, "LO and HI must be numbers")
        ranges[key.strip()] = (lo, hi)
        if len(parts) == 3:
            log.append(key.strip())
    return ranges, log


def _sweep_design(sim, scn, args):
    """The sampled design of ``--lhs`` / ``--random`` (None without them)."""
    if args.lhs and args.random:
        raise ScenarioError("--random", args.random, "give --lhs or --random, not both")
    flag = "lhs" if args.lhs else "random" if args.random else None
    if flag is None:
        if args.points is not None:
            raise ScenarioError("--points", args.points, "only with --lhs or --random")
        return None
    if args.points is None:
        raise ScenarioError("--points", None, f"--{flag} needs --points N (how many points)")
    ranges, log = parse_ranges(flag, args.lhs or args.random)
    seed = scn.seed if args.design_seed is None else _int_flag("design-seed", args.design_seed, 0)
    make = sim.lhs if flag == "lhs" else sim.random_design
    return make(ranges, n=_int_flag("points", args.points), seed=seed, log=log)


def _sweep_precision(args) -> dict | None:
    if args.precision is None:
        if args.max_replications is not None:
            raise ScenarioError("--max-replications", args.max_replications,
                                "only with --precision")
        return None
    metric, sep, text = args.precision.partition("=")
    if not sep or not text.strip():
        raise ScenarioError("--precision", args.precision, "must be METRIC=HALF_WIDTH or "
                            "METRIC=PERCENT%, e.g. latency_p99_ms=5 or latency_p99_ms=2%")
    text = text.strip()
    try:
        v = float(text.rstrip("%"))
    except ValueError:
        raise ScenarioError("--precision", args.precision, "the half-width must be a number "
                            "(a percentage of the mean with %)") from None
    if args.max_replications is None:
        raise ScenarioError("--max-replications", None, "--precision needs a cap, e.g. "
                            "--max-replications 10")
    spec: dict = {"metric": metric.strip(),
                  "max_replications": _int_flag("max-replications", args.max_replications)}
    spec["relative" if text.endswith("%") else "half_width"] = v / 100 if text.endswith("%") else v
    return spec


def _dask_executor(address: str | None):
    """(executor, client) of a Dask scheduler; (None, None) without ``--dask``."""
    if address is None:
        return None, None
    try:
        from distributed import Client
    except ImportError:
        raise ScenarioError("--dask", address, "needs the dask extra: pip install "
                                               "'wscap[dask]'") from None
    try:
        client = Client(address, timeout="10s")   # not a catalog value
    except (OSError, TimeoutError) as e:
        raise ScenarioError("--dask", address, f"no Dask scheduler answers there ({e})") from None
    return client.get_executor(), client


def _sweep(sim, scn, args, argv: list[str]) -> int:
    """``sweep``: the rows printed (and to ``--csv``), each run stored in ``--out`` as it
    finishes; Ctrl-C keeps the finished rows and says how to resume."""
    import shlex

    import pandas as pd

    grid = parse_grid(args.grid)
    design = _sweep_design(sim, scn, args)
    if not grid and design is None:
        raise ScenarioError("--grid", None, "give at least one --grid KEY=V1,V2,... or an "
                            "--lhs / --random design with --points")
    if args.out is not None and args.out.endswith(".csv"):
        raise ScenarioError("--out", args.out, "is a directory for the resumable store (Parquet "
                            "+ manifest); write a CSV with --csv FILE.csv")
    if args.retry_failed and args.out is None:
        raise ScenarioError("--retry-failed", True, "only with --out DIR (a stored sweep)")
    precision = _sweep_precision(args)
    replications = _int_flag("replications", args.replications)
    if args.dask is not None and args.workers is not None:
        raise ScenarioError("--workers", args.workers, "give --workers or --dask, not both")
    workers = None if args.workers is None else _int_flag("workers", args.workers)
    executor, client = _dask_executor(args.dask)
    from simulator.store import MANIFEST, read_rows

    earlier = (len(read_rows(args.out)) if args.out is not None
               and (Path(args.out) / MANIFEST).exists() else 0)
    code, what = 0, ""
    try:
        df = sim.sweep(scn, grid or None, replications=replications, workers=workers,
                       design=design, precision=precision, out=args.out, executor=executor,
                       retry_failed=args.retry_failed, progress=sys.stderr.isatty())
    except Interrupted as e:
        df, code, what = e.partial.assign(partial=True), 130, e.what
    finally:
        if client is not None:
            client.close()
    cols = [c for c in df.columns if c.startswith("param.")] + [
        c for c in ("replication", "latency_p50_ms", "latency_p99_ms", "cost_usd_per_month",
                    "breaches_total", "error") if c in df.columns]
    if code:
        if args.out is not None:
            print(f"{what}; resume with: python -m simulator {shlex.join(argv)}",
                  file=sys.stderr)
        else:
            where = f"written to {args.csv}" if args.csv else "below"
            print(f"{what}; the {len(df)} finished rows are {where} (marked partial; --out DIR "
                  "would keep them for a resume)", file=sys.stderr)
    if args.csv:
        df.to_csv(args.csv, index=False)
    if not (code and args.csv):
        with pd.option_context("display.width", 200):
            print(df[cols].to_string(index=False) if len(df) else "no run finished")
    if not code:
        failed = int(df["error"].notna().sum()) if "error" in df else 0
        stored = (f"; stored in {args.out} (sim.load_sweep({args.out!r}))"
                  + (f", {earlier} of them read from an earlier run" if earlier else "")
                  if args.out else "")
        csv = f"; written to {args.csv}" if args.csv else ""
        print(f"{len(df)} runs, {failed} failed{stored}{csv}")
    return code


def _print_result(res) -> None:
    print(res.verdict())
    print()
    _print_summary(res)


def _interrupted(e, args, show) -> int:
    """Ctrl-C: one line on stderr, what finished on stdout (marked partial), status 130."""
    kept = e.partial is not None
    print(f"{e.what}; " + ("the partial results follow (marked partial)" if kept
                           else "nothing had finished"), file=sys.stderr)
    if kept:
        if args.json:
            print(json.dumps(e.partial.summary) if hasattr(e.partial, "summary")
                  else e.partial.to_json())
        else:
            show(e.partial)
    return 130
