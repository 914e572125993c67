"""The runner: what-if sweeps over a scenario, with replications, serial or in parallel.

A sweep expands ``base scenario + factors``: each grid key is a dotted path; a list (or
tuple, range, array) is a factor whose values are crossed with the others, a scalar is fixed;
an empty factor is an error. Every point is run ``replications`` times with seeds spawned from
the scenario's seed (the same seeds at every point: common random numbers across points).
Each run records its parameters, seed, summary, run time and error, so one failure never
loses the rest. Serial and parallel sweeps give identical rows.
"""

from __future__ import annotations

import itertools
import math
import signal
import time
import traceback
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import numpy as np
import pandas as pd

from simulator.errors import Interrupted, ScenarioError
from simulator.scenario import Scenario


def _is_factor(v: Any) -> bool:
    return isinstance(v, (list, tuple, range, np.ndarray))


def expand(grid: dict[str, Any]) -> list[dict[str, Any]]:
    """All points of a grid: the cross product of its factors, its scalars fixed."""
    if not isinstance(grid, dict):
        raise ScenarioError("grid", type(grid).__name__, "must be a dict of dotted path -> values")
    factors = {}
    fixed = {}
    for k, v in grid.items():
        if _is_factor(v):
            vals = list(v)
            if not vals:
                raise ScenarioError(f"grid[{k!r}]", v, "an empty factor: give at least one value")
            factors[k] = vals
        else:
            fixed[k] = v
    keys = list(factors)
    return [{**fixed, **dict(zip(keys, combo))}
            for combo in itertools.product(*(factors[k] for k in keys))] or [dict(fixed)]


def replication_seeds(seed: int, replications: int) -> list[int]:
    """Independent seeds for the replications, derived from the scenario's seed."""
    if replications < 1:
        raise ScenarioError("replications", replications, "must be >= 1")
    children = np.random.SeedSequence(seed).spawn(replications)
    return [int(c.generate_state(1, dtype=np.uint32)[0]) for c in children]


def _run_one(args) -> dict:
    scn, point, rep, seed = args
    import simulator as sim

    row = {**{f"param.{k}": _cell(v) for k, v in point.items()}, "replication": rep, "seed": seed}
    t0 = time.perf_counter()
    try:
        res = sim.run(scn.with_overrides({**point, "seed": seed}), progress=False)
        row.update(res.summary)
        row["error"] = None
    except Exception as e:  # one failed point never loses the rest of the sweep
        row["error"] = f"{type(e).__name__}: {e}"
        if not isinstance(e, ScenarioError):
            row["traceback"] = traceback.format_exc(limit=3)
    row["seed"] = seed
    row["run_seconds"] = time.perf_counter() - t0
    return row


def _cell(v):
    return v if isinstance(v, (int, float, str, bool, type(None))) else repr(v)


def sweep(scn: Scenario, grid: dict[str, Any], replications: int = 1, workers: int = 1,
          progress: bool = True) -> pd.DataFrame:
    """Run a scenario over a grid of overrides.

    Parameters
    ----------
    scn : Scenario
        The base scenario.
    grid : dict
        Dotted path -> value (fixed) or list of values (a factor), e.g.
        ``{"workload.heartbeat.interval_s": [30, 60, 120], "duration_s": 600}``.
    replications : int
        Runs per point, with seeds spawned from ``scn.seed``.
    workers : int
        Processes; 1 runs in this process. Results are identical either way.
    progress : bool
        Show a progress bar (runs done, failed, time left): a widget in Jupyter, text in a
        terminal.

    Returns
    -------
    DataFrame
        One row per run: ``param.<path>`` columns, ``replication``, ``seed``, every summary
        key, ``error`` (None when the run succeeded) and ``run_seconds``.
    """
    points = expand(grid)
    # validate every point before running any (a typo fails at once)
    for p in points:
        scn.with_overrides(p)
    seeds = replication_seeds(scn.seed, replications)
    jobs = [(scn, p, r, s) for p in points for r, s in enumerate(seeds)]
    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), desc=f"sweep {scn.name}", unit="run", disable=not progress)
    failed = [0]

    def done(row):
        failed[0] += row.get("error") is not None
        bar.update(1)
        if failed[0]:
            bar.set_postfix(failed=failed[0])

    try:
        rows = run_jobs(_run_one, jobs, workers, on_done=done)
    except Interrupted as e:
        raise Interrupted(f"sweep interrupted after {len(e.partial)} of {len(jobs)} runs",
                          pd.DataFrame(e.partial)) from None
    finally:
        bar.close()
    return pd.DataFrame(rows)


def _quiet_worker() -> None:
    """Worker processes leave Ctrl-C to the parent (no traceback from each of them)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_jobs(fn, jobs: list, workers: int = 1, on_done=None) -> list:
    """``fn`` over ``jobs``, serially or in ``workers`` processes, results in job order;
    ``on_done(result)`` after each. On Ctrl-C, raises :class:`Interrupted` whose ``partial``
    is the list of the results that finished (in job order, the unfinished left out)."""
    done: dict[int, Any] = {}

    def keep(k, r):
        done[k] = r
        if on_done is not None:
            on_done(r)

    try:
        if workers > 1:
            ex = ProcessPoolExecutor(max_workers=min(workers, len(jobs)),
                                     initializer=_quiet_worker)
            try:
                futs = {ex.submit(fn, j): k for k, j in enumerate(jobs)}
                for f in as_completed(futs):
                    keep(futs[f], f.result())
            except KeyboardInterrupt:
                for p in list(getattr(ex, "_processes", {}).values()):
                    p.terminate()   # the runs in progress are dropped, not waited for
                raise
            finally:
                ex.shutdown(wait=False, cancel_futures=True)
        else:
            for k, j in enumerate(jobs):
                keep(k, fn(j))
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted after {len(done)} of {len(jobs)} runs",
                          [done[k] for k in sorted(done)]) from None
    return [done[k] for k in range(len(jobs))]


def summarize(df: pd.DataFrame, metrics: Iterable[str], by: Iterable[str] | None = None
              ) -> pd.DataFrame:
    """Mean, standard deviation and 95% confidence half-width of ``metrics`` per point.

    ``by`` defaults to every ``param.*`` column. The half-width is ``t(0.975, n-1) s / sqrt(n)``
    (Student's t; nan for one replication).
    """
    from statistics import NormalDist

    by = list(by) if by is not None else [c for c in df.columns if c.startswith("param.")]
    ok = df[df["error"].isna()] if "error" in df else df
    rows = []
    for key, g in (ok.groupby(by, sort=False, dropna=False) if by else [((), ok)]):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by, key))
        n = len(g)
        row["runs"] = n
        for m in metrics:
            x = pd.to_numeric(g[m], errors="coerce").dropna()
            row[f"{m}.mean"] = x.mean() if len(x) else math.nan
            row[f"{m}.std"] = x.std(ddof=1) if len(x) > 1 else math.nan
            if len(x) > 1:
                try:
                    from scipy.stats import t as student

                    q = student.ppf(0.975, len(x) - 1)
                except ImportError:  # scipy is a test dependency only
                    q = NormalDist().inv_cdf(0.975)
                row[f"{m}.ci95"] = q * x.std(ddof=1) / math.sqrt(len(x))
            else:
                row[f"{m}.ci95"] = math.nan
        rows.append(row)
    return pd.DataFrame(rows)
