"""The runner: what-if sweeps over a scenario, with replications, stored, resumable, on any
executor.

A sweep runs a base scenario at every point of a design (:mod:`simulator.designs`: a full
grid, a Latin hypercube or random points over ranges). Every point is run ``replications``
times, or, with ``precision``, as many times as it takes for the 95% confidence half-width of
a named metric to fall under a target. Replication ``r`` uses the same seed at every point
(spawned from the scenario's seed: common random numbers across points), so serial, process
and cluster sweeps give identical rows. Each run records its parameters, seed, summary, run
time and error, so one failure never loses the rest.

With ``out=DIR`` each finished run is written as it completes (:mod:`simulator.store`), and
running the same sweep again on ``DIR`` resumes it: finished runs are read back, the rest run.
"""

from __future__ import annotations

import functools
import math
import os
import signal
import time
import traceback
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from simulator.designs import Design, combine, expand
from simulator.errors import Interrupted, ScenarioError
from simulator.scenario import Scenario

__all__ = ["expand", "load_sweep", "replication_seeds", "run_jobs", "summarize", "sweep",
           "t_quantile_975"]


def replication_seeds(seed: int, replications: int) -> list[int]:
    """Independent seeds for the replications, derived from the scenario's seed.

    The first ``k`` seeds do not depend on how many are asked for (``SeedSequence.spawn``
    numbers its children), so a point given more replications keeps its first ones."""
    if isinstance(replications, bool) or not isinstance(replications, (int, np.integer)) \
            or replications < 1:
        raise ScenarioError("replications", replications, "must be an integer >= 1")
    children = np.random.SeedSequence(seed).spawn(int(replications))
    return [int(c.generate_state(1, dtype=np.uint32)[0]) for c in children]


@functools.lru_cache(maxsize=256)
def t_quantile_975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom.

    Notes
    -----
    Computed here (no scipy at run time, so a sweep's stopping rule does not depend on what is
    installed): the CDF ``1/2 + integral_0^x f(u) du`` of the density
    ``f(u) = Gamma((df+1)/2) / (sqrt(df pi) Gamma(df/2)) (1 + u^2/df)^(-(df+1)/2)`` by
    Simpson's rule on 2,000 intervals, inverted by bisection; it agrees with
    ``scipy.stats.t.ppf(0.975, df)`` to 1e-9 (tests/test_sweeps.py).
    """
    if df < 1:
        raise ScenarioError("df", df, "must be >= 1")
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    n = 2000   # not a catalog value: Simpson intervals
    weights = np.ones(n + 1)
    weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0

    def cdf(x: float) -> float:
        u = np.linspace(0.0, x, n + 1)
        return 0.5 + float(weights @ (c * (1 + u * u / df) ** (-(df + 1) / 2))) * x / n / 3

    lo, hi = 0.0, 20.0   # not a catalog value: t(0.975, 1) = 12.71 is the largest
    for _ in range(60):   # not a catalog value: bisection steps
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) < 0.975 else (lo, mid)
    return (lo + hi) / 2


def half_width_95(x: Iterable[float]) -> float:
    """95% confidence half-width of the mean, ``t(0.975, n-1) s / sqrt(n)`` (nan below 2)."""
    v = np.asarray([float(e) for e in x], dtype=float)
    v = v[~np.isnan(v)]
    if len(v) < 2:
        return math.nan
    return t_quantile_975(len(v) - 1) * float(v.std(ddof=1)) / math.sqrt(len(v))


# -- one run ----------------------------------------------------------------------------------

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


def _run_point(args) -> dict:
    """One run of a sweep: ``_run_one`` with the point's index after its parameters."""
    scn, point, index, rep, seed = args
    row = _run_one((scn, point, rep, seed))
    return _with_point(row, index)


def _with_point(row: dict, index: int) -> dict:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if k == "replication":
            out["point"] = index
        out[k] = v
    return out


def _cell(v):
    if isinstance(v, np.generic):
        v = v.item()
    return v if isinstance(v, (int, float, str, bool, type(None))) else repr(v)


# -- executors --------------------------------------------------------------------------------

def cpu_workers() -> int:
    """The cores this process may use (one worker per core)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # not on Linux
        return os.cpu_count() or 1


def _quiet_worker() -> None:
    """Worker processes leave Ctrl-C to the parent (no traceback from each of them)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _check_workers(workers: Any, executor: Any) -> int:
    if executor is not None:
        if not isinstance(executor, Executor):
            raise ScenarioError("executor", type(executor).__name__,
                                "must be a concurrent.futures.Executor (e.g. a dask "
                                "Client's client.get_executor())")
        if workers is not None:
            raise ScenarioError("workers", workers, "give workers or an executor, not both")
        return 0
    if workers is None:
        return cpu_workers()
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ScenarioError("workers", workers, "must be an integer >= 1 (1 runs in this "
                                                "process), or None for one per core")
    return int(workers)


def run_dynamic(fn: Callable, jobs: Iterable[tuple[Hashable, Any]], workers: int = 1,
                executor: Executor | None = None,
                on_done: Callable[[Hashable, Any], Iterable[tuple[Hashable, Any]]] | None = None,
                on_error: Callable[[Hashable, BaseException], Any] | None = None,
                ) -> dict[Hashable, Any]:
    """``fn(job)`` for keyed jobs, serially, in ``workers`` processes or on ``executor``.

    ``on_done(key, result)`` runs in this process after each job and may return more
    ``(key, job)`` pairs to run (how a sweep adds replications). ``on_error(key, exc)`` turns
    a job the executor could not run (a worker that died, a cluster error) into a result; by
    default the error is raised. Returns the results by key. On Ctrl-C, raises
    :class:`Interrupted` whose ``partial`` is the dict of the results that finished; the runs
    in progress are dropped (a process pool of our own is terminated, a given executor's
    futures cancelled: the executor itself is the caller's).
    """
    done: dict[Hashable, Any] = {}

    def keep(key, result) -> list:
        done[key] = result
        return list(on_done(key, result)) if on_done is not None else []

    queue = deque(jobs)
    try:
        if executor is None and workers <= 1:
            while queue:
                key, job = queue.popleft()
                queue.extend(keep(key, fn(job)))
            return done
        own = executor is None
        ex = executor if executor is not None else ProcessPoolExecutor(
            max_workers=max(1, min(workers, len(queue))), initializer=_quiet_worker)
        pending: dict[Future, Hashable] = {}
        interrupted = False
        try:
            while queue:
                key, job = queue.popleft()
                pending[ex.submit(fn, job)] = key
            while pending:
                finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for f in finished:
                    key = pending.pop(f)
                    try:
                        result = f.result()
                    except Exception as e:
                        if on_error is None:
                            raise
                        result = on_error(key, e)
                    for k2, j2 in keep(key, result):
                        pending[ex.submit(fn, j2)] = k2
        except KeyboardInterrupt:
            interrupted = True
            if own:
                # the runs in progress are dropped, not waited for: the pool's processes are
                # terminated and its manager marks every future broken. Cancelling them too
                # would race with that (InvalidStateError in the manager thread, printed)
                for p in list((getattr(ex, "_processes", None) or {}).values()):
                    p.terminate()
            else:
                for f in pending:
                    f.cancel()
            raise
        finally:
            if own:
                ex.shutdown(wait=False, cancel_futures=not interrupted)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted after {len(done)} runs", done) from None
    return done


def run_jobs(fn, jobs: list, workers: int = 1, on_done=None,
             executor: Executor | None = None) -> list:
    """``fn`` over ``jobs``, serially, in ``workers`` processes or on ``executor``, results
    in job order; ``on_done(result)`` after each. On Ctrl-C, raises :class:`Interrupted`
    whose ``partial`` is the list of the results that finished (in job order, the unfinished
    left out)."""
    def after(_key, result):
        if on_done is not None:
            on_done(result)
        return ()

    try:
        done = run_dynamic(fn, enumerate(jobs), workers, executor, after)
    except Interrupted as e:
        raise Interrupted(f"interrupted after {len(e.partial)} of {len(jobs)} runs",
                          [e.partial[k] for k in sorted(e.partial)]) from None
    return [done[k] for k in range(len(jobs))]


def run_with_progress(fn, jobs: list, workers: int, desc: str, progress: bool = True,
                      executor: Executor | None = None) -> list:
    """:func:`run_jobs` behind a progress bar (runs done, failed, time left) labelled
    ``desc``; on Ctrl-C, :class:`Interrupted` says how many of the runs finished and carries
    them as a DataFrame."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), desc=desc, unit="run", disable=not progress)
    failed = [0]

    def done(row):
        failed[0] += row.get("error") is not None
        bar.update(1)
        if failed[0]:
            bar.set_postfix(failed=failed[0])

    try:
        return run_jobs(fn, jobs, workers, on_done=done, executor=executor)
    except Interrupted as e:
        raise Interrupted(f"{desc} interrupted after {len(e.partial)} of {len(jobs)} runs",
                          pd.DataFrame(e.partial)) from None
    finally:
        bar.close()


# -- replications chosen per point ------------------------------------------------------------

@dataclass(frozen=True)
class Precision:
    """Replicate a point until the 95% CI half-width of ``metric`` is at most ``half_width``
    (in the metric's unit) or ``relative`` times its mean, or ``max_replications`` is
    reached."""

    metric: str
    max_replications: int
    half_width: float | None = None
    relative: float | None = None

    def target(self, mean: float) -> float:
        return self.half_width if self.half_width is not None else (
            self.relative * abs(mean))   # type: ignore[operator]

    def more(self, values: list[float], have: int) -> int:
        """How many replications the point should have in all, given its values so far
        (``have`` runs): ``have`` when the target is met or the cap reached."""
        if have >= self.max_replications:
            return have
        v = np.asarray(values, dtype=float)
        v = v[~np.isnan(v)]
        if len(v) < have:         # a run without the metric: more runs will not help
            return have
        hw = half_width_95(v)
        target = self.target(float(v.mean()))
        if hw <= target:
            return have
        if target <= 0:
            return self.max_replications
        # s^2 t^2 / n <= target^2 -> n >= (t s / target)^2, with t of the current n
        want = math.ceil((hw * math.sqrt(len(v)) / target) ** 2)
        return int(min(self.max_replications, max(have + 1, want)))


def _precision(spec: Any, replications: int) -> Precision | None:
    if spec is None:
        return None
    if isinstance(spec, Precision):
        spec = asdict(spec)
    if not isinstance(spec, Mapping):
        raise ScenarioError("precision", spec, "must be a dict like {'metric': "
                            "'latency_p99_ms', 'half_width': 5.0, 'max_replications': 10}")
    allowed = {"metric", "half_width", "relative", "max_replications"}
    for k in spec:
        if k not in allowed:
            raise ScenarioError(f"precision.{k}", spec[k], f"unknown key; allowed: {sorted(allowed)}")
    from simulator.metrics.result import SUMMARY_KEYS

    metric = spec.get("metric")
    if metric not in SUMMARY_KEYS:
        raise ScenarioError("precision.metric", metric, "must be a summary key, e.g. "
                                                        "'latency_p99_ms' (see sim.SUMMARY_KEYS)")
    hw, rel = spec.get("half_width"), spec.get("relative")
    if (hw is None) == (rel is None):
        raise ScenarioError("precision", dict(spec), "give exactly one of half_width (in the "
                            "metric's unit) or relative (a fraction of its mean)")
    for name, v in (("half_width", hw), ("relative", rel)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                              or not v > 0 or not math.isfinite(v)):
            raise ScenarioError(f"precision.{name}", v, "must be a number > 0")
    cap = spec.get("max_replications")
    if isinstance(cap, bool) or not isinstance(cap, (int, np.integer)) or cap < replications:
        raise ScenarioError("precision.max_replications", cap,
                            f"must be an integer >= replications ({replications})")
    if replications < 2:
        raise ScenarioError("replications", replications, "must be >= 2 with precision (a "
                            "confidence interval needs two runs); it is the number each point "
                            "starts with")
    return Precision(metric, int(cap), None if hw is None else float(hw),
                     None if rel is None else float(rel))


class _Plan:
    """Which runs a sweep needs: ``replications`` per point, then more per point while its
    precision target is unmet. Decisions use only a point's own finished runs, replications
    ``0..k-1`` all present, so they are the same whatever order runs finish in."""

    def __init__(self, scn: Scenario, points: list[dict], seeds: list[int], replications: int,
                 precision: Precision | None, rows: dict[tuple[int, int], dict]):
        self.scn, self.points, self.seeds = scn, points, seeds
        self.precision = precision
        self.rows = rows
        self.planned = [replications] * len(points)
        self.submitted: set[tuple[int, int]] = set()

    def job(self, p: int, r: int) -> tuple[tuple[int, int], tuple]:
        return (p, r), (self.scn, self.points[p], p, r, self.seeds[r])

    def advance(self, p: int) -> list:
        """The runs point ``p`` needs next that are not yet out (none while some of its
        planned runs are still running)."""
        while True:
            missing = [(p, r) for r in range(self.planned[p]) if (p, r) not in self.rows]
            if missing or self.precision is None:
                new = [k for k in missing if k not in self.submitted]
                self.submitted.update(new)
                return [self.job(*k) for k in new]
            runs = [self.rows[(p, r)] for r in range(self.planned[p])]
            if any(row.get("error") is not None for row in runs):
                return []        # a failing point gets no more runs
            want = self.precision.more([_number(row.get(self.precision.metric)) for row in runs],
                                       self.planned[p])
            if want <= self.planned[p]:
                return []
            self.planned[p] = want

    def start(self) -> list:
        """The first runs, the longest first (by the engine's size estimate of each point):
        a pool of workers then does not end waiting on one long run submitted last (longest
        processing time first). The rows do not depend on the order."""
        from simulator.engine import estimate

        jobs = [j for p in range(len(self.points)) for j in self.advance(p)]
        cost = {p: estimate(self.scn.with_overrides(self.points[p]))["seconds"]
                for p in {key[0] for key, _ in jobs}}
        return sorted(jobs, key=lambda j: -cost[j[0][0]])

    def finished(self, key: tuple[int, int], row: dict) -> list:
        self.rows[key] = row
        return self.advance(key[0])

    def total(self) -> int:
        return sum(self.planned)

    def frame(self) -> pd.DataFrame:
        keys = sorted(k for k in self.rows if k[1] < self.planned[k[0]])
        return pd.DataFrame([self.rows[k] for k in keys])


def _number(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


# -- the sweep --------------------------------------------------------------------------------

def _manifest(scn: Scenario, design: Design, replications: int, precision: Precision | None,
              seeds: list[int]) -> dict:
    import datetime

    import simulator
    from simulator.scenario import resolve

    params = resolve(scn).frame()
    return {"format": 1, "kind": "wscap sweep", "version": simulator.__version__,
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "scenario": scn.to_dict(),
            "resolved": dict(zip(params["key"], params["value"])),
            "design": design.spec, "points": design.points, "replications": replications,
            "precision": None if precision is None else asdict(precision), "seeds": seeds}


def sweep(scn: Scenario, grid: dict[str, Any] | None = None, replications: int = 1,
          workers: int | None = None, progress: bool = True, *, design: Design | None = None,
          precision: Mapping[str, Any] | None = None, out: str | os.PathLike | None = None,
          executor: Executor | None = None, retry_failed: bool = False) -> pd.DataFrame:
    """Run a scenario over a design of overrides.

    Parameters
    ----------
    scn : Scenario
        The base scenario.
    grid : dict, optional
        Dotted path -> value (fixed) or list of values (a factor), e.g.
        ``{"workload.heartbeat.interval_s": [30, 60, 120], "duration_s": 600}``. With
        ``design``, its points are crossed with the design's (scalars fix values for all).
    replications : int
        Runs per point, with seeds spawned from ``scn.seed`` (the same at every point); with
        ``precision``, the runs each point starts with (>= 2).
    workers : int, optional
        Processes; 1 runs in this process; None (default) one per core. Results are
        identical either way.
    progress : bool
        Show a progress bar (runs done, failed, time left): a widget in Jupyter, text in a
        terminal.
    design : Design, optional
        Points from :func:`simulator.lhs`, :func:`simulator.random_design` or
        :func:`simulator.designs.grid`.
    precision : dict, optional
        ``{"metric": "latency_p99_ms", "half_width": 5.0, "max_replications": 10}`` (or
        ``"relative": 0.05`` instead of ``half_width``): replicate each point until the 95%
        confidence half-width of the metric is under the target or the cap is reached.
    out : path, optional
        A directory to store each run as it finishes (:mod:`simulator.store`); the same call
        on the same directory resumes: finished runs are read, the rest run. A directory that
        holds another experiment (scenario, catalog values, design, replications, precision)
        raises :class:`ScenarioError`.
    executor : concurrent.futures.Executor, optional
        Run on this executor instead (e.g. ``distributed.Client(...).get_executor()`` for a
        Dask cluster); not shut down here.
    retry_failed : bool
        On resume, run again the runs stored with an error (kept otherwise).

    Returns
    -------
    DataFrame
        One row per run, in point then replication order: ``param.<path>`` columns,
        ``point`` (index in the design), ``replication``, ``seed``, every summary key,
        ``error`` (None when the run succeeded) and ``run_seconds``.

    Raises
    ------
    Interrupted
        On Ctrl-C; its ``partial`` is the DataFrame of the runs that finished (all of them
        also in ``out``).
    """
    if not isinstance(scn, Scenario):
        raise ScenarioError("scn", type(scn).__name__,
                            "must be a Scenario (use simulator.load_scenario)")
    if grid is None and design is None:
        raise ScenarioError("grid", None, "give a grid (dict of dotted path -> values) or a "
                                          "design (simulator.lhs, simulator.random_design)")
    doe = combine(grid, design)
    for p in doe.points:   # validate every point before running any (a typo fails at once)
        scn.with_overrides(p)
    replication_seeds(scn.seed, replications)   # checks replications
    prec = _precision(precision, replications)
    seeds = replication_seeds(scn.seed, prec.max_replications if prec else replications)
    n_workers = _check_workers(workers, executor)

    store = None
    rows: dict[tuple[int, int], dict] = {}
    if out is not None:
        from simulator.store import SweepStore

        store = SweepStore.open(out, _manifest(scn, doe, replications, prec, seeds))
        rows = {k: v for k, v in store.rows().items()
                if k[0] < len(doe.points) and not (retry_failed and v.get("error") is not None)}
    plan = _Plan(scn, doe.points, seeds, replications, prec, rows)
    first = plan.start()
    from tqdm.auto import tqdm

    stored = len(rows)
    bar = tqdm(total=plan.total(), initial=stored, desc=f"sweep {scn.name}", unit="run",
               disable=not progress)
    failed = [sum(r.get("error") is not None for r in rows.values())]
    bar.set_postfix(failed=failed[0], refresh=False)

    def done(key, row):
        if store is not None:
            store.write(row)
        more = plan.finished(key, row)
        failed[0] += row.get("error") is not None
        bar.total = plan.total()
        bar.set_postfix(failed=failed[0], refresh=False)
        bar.update(1)
        return more

    def broken(key, exc):   # the executor could not run it: a failed run like any other
        p, r = key
        row = {**{f"param.{k}": _cell(v) for k, v in doe.points[p].items()}, "point": p,
               "replication": r, "seed": seeds[r], "error": f"{type(exc).__name__}: {exc}",
               "run_seconds": math.nan}
        return row

    try:
        if first:
            run_dynamic(_run_point, first, n_workers if len(first) > 1 or prec else 1,
                        executor, on_done=done, on_error=broken)
    except Interrupted:
        df = plan.frame()
        where = f"; the finished runs are kept in {out}" if out is not None else ""
        raise Interrupted(f"sweep interrupted after {len(df)} of {plan.total()} runs{where}",
                          df) from None
    finally:
        bar.close()
    return plan.frame()


def load_sweep(root: str | os.PathLike) -> pd.DataFrame:
    """The runs stored by ``sim.sweep(..., out=root)`` (or the CLI's ``sweep --out``), one
    row per run; ``df.attrs["manifest"]`` holds the scenario, design and seeds."""
    from simulator.store import load_sweep as load

    return load(root)


def summarize(df: pd.DataFrame, metrics: Iterable[str], by: Iterable[str] | None = None
              ) -> pd.DataFrame:
    """Mean, standard deviation and 95% confidence half-width of ``metrics`` per point.

    ``by`` defaults to every ``param.*`` column. The half-width is ``t(0.975, n-1) s / sqrt(n)``
    (Student's t, :func:`t_quantile_975`; nan for one replication).
    """
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
            row[f"{m}.ci95"] = half_width_95(x)
        rows.append(row)
    return pd.DataFrame(rows)
