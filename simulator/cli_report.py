"""``python -m simulator report SCENARIO [--variants A,B] [--set key=value ...]
[--replications R] [--out reports/NAME.html] [--pdf]``: the design-review document
(registered by :mod:`simulator.cli`).

It compares the designs on the scenario (:func:`simulator.compare`), optionally searches each
one's capacity (``--capacity KEY``), runs a small one-at-a-time sensitivity of the deciding
metric of the recommended design and of the cheapest near miss, and writes one self-contained HTML file (:func:`simulator.report`),
plus a PDF through headless Chromium with ``--pdf``. It prints each stage, then where the
file is and what it recommends.

Bad input (an unknown design, an unwritable ``--out``, ``--pdf`` without Chromium) is
checked before anything runs: one line naming it, status 2. Ctrl-C: one line, status 130,
no report.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from simulator.errors import Interrupted


def add_parser(sub) -> argparse.ArgumentParser:
    """The ``report`` subcommand's flags."""
    q = sub.add_parser("report", help="compare designs and write the design-review report "
                       "(HTML, and PDF with --pdf)")
    q.add_argument("scenario", help="scenario YAML file (or a name under data/scenarios/)")
    q.add_argument("--variants", default=None, metavar="A,B,...",
                   help="designs to compare (default: the scenario's variants), e.g. "
                        "basic,sns,appsync,multi_region@us-east-1+eu-central-1")
    q.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    q.add_argument("--replications", default="2", metavar="R",
                   help="runs per design with common random numbers (default 2: confidence "
                        "intervals need two)")
    q.add_argument("--workers", default=None, metavar="N",
                   help="processes (default: one per core)")
    q.add_argument("--slo", action="append", default=[], metavar="METRIC=BOUND",
                   help="a bound the recommendation applies, e.g. --slo latency_p99_ms=250 "
                        "(default: p99 within 250 ms; no request refused by a load limit is "
                        "always required)")
    q.add_argument("--capacity", default=None, metavar="KEY",
                   help="also search each design's capacity in this load setting (e.g. "
                        "workload.clients): a frontier section; takes many runs")
    q.add_argument("--no-sensitivity", action="store_true",
                   help="skip the sensitivity runs (the caveats then name no assumption)")
    q.add_argument("--out", default=None, metavar="FILE.html",
                   help="where to write (default reports/<scenario>.html)")
    q.add_argument("--pdf", action="store_true",
                   help="also print FILE.pdf with headless Chromium (an error when none is "
                        "installed)")
    return q   # --overlay, --seed and --duration: added by cli._parser, as to the others


def scenario_file(name: str) -> str:
    """The file a scenario argument names (a path, or a bundled scenario's file)."""
    p = Path(name)
    if p.exists():
        return str(p)
    from simulator.catalog import load_catalog

    cand = load_catalog().data_dir / "scenarios" / (p.name if p.suffix else f"{p.name}.yaml")
    return str(cand)


def command(sim, scn, args, argv: list[str]) -> int:
    """Check the output first, run, write; 130 after Ctrl-C (nothing written)."""
    from simulator.cli import _int_flag
    from simulator.cli_capacity import parse_slo
    from simulator.review import check_path, gather
    from simulator.review.recommend import effective_slo
    from simulator.sweeps import cpu_workers

    out = args.out or f"reports/{scn.name}.html"
    check_path(out, pdf=args.pdf)
    slo = effective_slo(parse_slo(args.slo))
    replications = _int_flag("replications", args.replications)
    workers = cpu_workers() if args.workers is None else _int_flag("workers", args.workers)
    if args.capacity is not None:
        from simulator.capacity import load_axis

        load_axis(scn, args.capacity)
    from simulator.compare import _check, _variants

    _check(scn, _variants(scn, args.variants))   # every design checks the workload first

    def say(line: str) -> None:
        print(f"report: {line}", file=sys.stderr, flush=True)

    try:
        results = gather(scn, args.variants, slo=slo, replications=replications,
                         workers=workers, sensitivity=not args.no_sensitivity,
                         capacity_load=args.capacity, progress=sys.stderr.isatty(), say=say)
    except Interrupted as e:
        print(f"interrupted: {e.what}; no report written", file=sys.stderr)
        return 130
    say(f"writing {out}" + (" and its PDF" if args.pdf else ""))
    cmd = "python -m simulator " + shlex.join(argv)
    rep = sim.report(results, out, slo=slo, command=cmd,
                     scenario_file=scenario_file(args.scenario), pdf=args.pdf)
    print(f"report written: {rep.html} ({rep.html.resolve().as_uri()})")
    if rep.pdf is not None:
        print(f"PDF written: {rep.pdf}")
    if rep.recommendation is not None:
        print(f"recommendation: {rep.recommendation.headline}")
    return 0
