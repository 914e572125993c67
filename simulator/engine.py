"""One run: environment, random streams, wiring, run, finalize -> Result."""

from __future__ import annotations

import ctypes
import functools
import gc
import signal
import threading
import time
import warnings
from pathlib import Path

import simpy

from simulator.architectures import registry
from simulator.catalog import load_catalog
from simulator.metrics.recorder import Recorder
from simulator.metrics.result import Result
from simulator.rng import Streams
from simulator.scenario import Params, Scenario, check_against_catalog
from simulator.units import MILLION


def run(scn: Scenario, *, data_dir: str | Path | None = None, progress: bool | None = None
        ) -> Result:
    """Simulate one scenario (seed from the scenario) and return its :class:`Result`.

    Parameters
    ----------
    scn : Scenario
        From :func:`simulator.load_scenario`.
    data_dir : path, optional
        Catalog directory (default: the project's ``data/``).
    progress : bool, optional
        Show a progress bar (simulated time, ETA); default: when the run is estimated to take
        more than a few seconds. A run estimated to be large warns first with its estimate.

    Raises
    ------
    Interrupted
        On Ctrl-C: ``.partial`` is the Result of the time simulated so far, its summary
        marked ``partial`` (with ``simulated_s``).
    """
    if not isinstance(scn, Scenario):
        from simulator.errors import ScenarioError

        raise ScenarioError("scn", type(scn).__name__,
                            "must be a Scenario (use simulator.load_scenario)")
    catalog = load_catalog(data_dir)
    check_against_catalog(scn, catalog)
    guess = estimate(scn)
    if guess["seconds"] > LARGE_S:
        warnings.warn(f"{scn.name}: a large run, about {guess['text']}", RunEstimate,
                      stacklevel=2)
    if progress is None:
        progress = guess["seconds"] > PROGRESS_S
    return_large_frees()
    params = Params(scn, catalog)
    streams = Streams(scn.seed)
    env = simpy.Environment()
    rec = Recorder(scn.engine.timeseries_step_s)
    arch = registry.get(scn.architecture)(env, scn, params, streams, rec)
    arch.probes(rec)
    arch.start()
    env.process(_sampler(env, arch, rec, scn.engine.timeseries_step_s))
    snaps: dict = {}
    if scn.warmup_s > 0:
        env.timeout(scn.warmup_s).callbacks.append(
            lambda ev: snaps.__setitem__("warmup", arch.usage_snapshot(env.now)))
    # an incident is an event, not a month of it: the steady state is measured before it
    t_inc = min((i.at_s for i in scn.workload.incidents), default=None)
    if t_inc is not None and t_inc > scn.warmup_s:
        env.timeout(t_inc).callbacks.append(
            lambda ev: snaps.__setitem__("incident", arch.usage_snapshot(env.now)))
    gc_was = gc.isenabled()
    gc.disable()  # the run creates few long-lived cycles; cyclic GC passes only cost time
    t0 = time.perf_counter()
    end = scn.duration_s
    try:
        bar = _bar(scn, progress)
        stops = 0   # each step stops the run with two events of its own, not the model's
        try:
            with _DeferredCtrlC() as ctrl_c:
                for t in _steps(end):
                    stops += 1
                    env.run(until=t)
                    bar.update(t - bar.n)
                    if ctrl_c.pressed:
                        break
            # a press after the last step's check counts too: the run is whole, but the user
            # asked to stop
            interrupted, end = ctrl_c.pressed, env.now
        finally:
            bar.close()
        arch.finalize(end)
        snaps["end"] = arch.usage_snapshot(end)
        for k in ("warmup", "incident"):
            if k in snaps and snaps[k]["t"] >= end:
                del snaps[k]
    finally:
        if gc_was:
            gc.enable()
    wall = time.perf_counter() - t0
    res = Result(scn, params, arch, rec, snaps, sim_events=next(env._eid) - 2 * (stops - 1),
                 wall_seconds=wall)
    if interrupted:
        from simulator.errors import Interrupted

        res.summary["partial"] = True
        res.summary["simulated_s"] = end
        raise Interrupted(f"interrupted at {end:,.1f} s of {scn.duration_s:,.0f} s simulated",
                          res)
    return res


#: blocks this large or larger go back to the system when freed, and free memory at the top of
#: the heap is kept up to TRIM_THRESHOLD_BYTES (see return_large_frees)
MMAP_THRESHOLD_BYTES = 4 * 2**20    # not a catalog value
TRIM_THRESHOLD_BYTES = 16 * 2**20   # not a catalog value
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3   # glibc's <malloc.h>


@functools.cache
def return_large_frees() -> bool:
    """Pin glibc malloc's mmap threshold at :data:`MMAP_THRESHOLD_BYTES`, so that freed arrays
    of that size or more go back to the system, and its trim threshold at
    :data:`TRIM_THRESHOLD_BYTES`. Returns whether they were set.

    By default glibc raises the mmap threshold to the size of the largest block freed, up to
    32 MB (``mallopt(3)``, M_MMAP_THRESHOLD): once a million-connection set-up has freed its
    8 MB arrays, every later array under that size is carved from the heap, and the holes they
    leave stay resident (about 45 MB at a million connections). Smaller blocks (the recording
    buffers, reused at the same sizes) stay in the heap, where reuse is cheapest. Pinning one
    threshold stops the dynamic adjustment of the other (M_TRIM_THRESHOLD, the free memory at
    the top of the heap kept rather than given back): left at its 128 kB default, the heap is
    shrunk and grown again around every buffer, about 8% slower at 100k connections.
    A no-op where the C library has no ``mallopt`` (macOS, Windows; musl ignores it)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
                and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))


#: above this estimated wall time a run warns first; above PROGRESS_S it shows a bar
LARGE_S = 120.0   # not a catalog value
PROGRESS_S = 5.0  # not a catalog value
#: measured on the reference machine (benchmarks/bench_scale.py): seconds per message, per
#: delivery and per connection event, and bytes per connection slot and per channel
_PER_MESSAGE_S, _PER_DELIVERY_S, _PER_CONNECTION_S = 1.2e-5, 2.5e-7, 2.0e-5  # not a catalog value
#: (peak memory: 167 MB at 100k chat connections, 252 MB at a million, on 2026-12-07)
_BYTES_PER_SLOT, _BYTES_BASE = 80.0, 150e6  # not a catalog value


class RunEstimate(UserWarning):
    """A run estimated to be large (events, memory and wall time in the message)."""


def estimate(scn: Scenario) -> dict:
    """A rough estimate of a run's size from the scenario alone: messages, deliveries,
    connection events, wall seconds and peak memory (MB), and the same in words."""
    w = scn.workload
    clients = w.clients + getattr(w.arrivals, "extra_clients", 0)
    pub = w.publish
    if pub.total_rate_per_s is not None:
        rate = pub.total_rate_per_s
    else:
        assert pub.rate_per_client_per_s is not None   # the schema: exactly one of the two
        rate = pub.rate_per_client_per_s * w.clients
    messages = rate * scn.duration_s
    size = _mean(w.channels.size)
    fanout = min(size, clients) - 1 if size > 0 else 0
    deliveries = messages * max(fanout, 0)
    session = _mean(w.session_s)
    connections = clients * (1 + scn.duration_s / max(session, 1.0))
    seconds = (messages * _PER_MESSAGE_S + deliveries * _PER_DELIVERY_S
               + connections * _PER_CONNECTION_S)
    mb = (_BYTES_BASE + clients * 1.3 * _BYTES_PER_SLOT) / MILLION   # decimal megabytes
    text = (f"{messages:,.0f} messages, {deliveries:,.0f} deliveries, "
            f"{connections:,.0f} connections: ~{seconds:,.0f} s and ~{mb:,.0f} MB")
    return {"messages": messages, "deliveries": deliveries, "connections": connections,
            "seconds": seconds, "memory_mb": mb, "text": text}


def _mean(d) -> float:
    from simulator.scenario import build_dist

    m = build_dist(d).mean
    return float(m) if m == m and m != float("inf") else 1.0


class _DeferredCtrlC:
    """Ctrl-C during the event loop, seen at the next stop between steps.

    A ``KeyboardInterrupt`` raised where the signal lands may cut a model callback half-way
    (a connection counted and not yet placed, say), and the partial result finalized from that
    state is wrong or fails. So the first Ctrl-C only sets :attr:`pressed`; the loop ends at the
    next stop (:func:`_steps` keeps them a fraction of a second apart) and the run is finalized
    there. A second Ctrl-C raises ``KeyboardInterrupt`` at once, without a partial result.

    Only where Ctrl-C would raise ``KeyboardInterrupt`` (Python's default handler, in the main
    thread): a handler someone else installed, or an ignored SIGINT (a sweep's worker
    processes), is left as it is."""

    def __init__(self) -> None:
        self.pressed = False
        self._installed = False

    def __enter__(self) -> _DeferredCtrlC:
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            signal.signal(signal.SIGINT, self._press)
            self._installed = True
        return self

    def _press(self, signum, frame) -> None:
        if self.pressed:
            raise KeyboardInterrupt
        self.pressed = True

    def __exit__(self, *exc) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)


#: a step (see _steps) aims at this much wall time, and is at most 1/MIN_STEPS of the run
STEP_WALL_S = 0.2   # not a catalog value
MIN_STEPS = 200     # not a catalog value


def _steps(end: float):
    """Times to stop at: the progress bar and Ctrl-C are seen between. Each step aims at
    :data:`STEP_WALL_S` of wall time (scaled from the last one's), so that Ctrl-C is answered
    within a fraction of a second in a run of any size; where the model stops does not change
    what it computes."""
    longest = end / MIN_STEPS
    dt, t = longest / 64, 0.0
    while t < end:
        t = min(end, t + dt)
        w0 = time.perf_counter()
        yield t
        wall = time.perf_counter() - w0
        dt = min(longest, max(end * 1e-7, dt * min(4.0, STEP_WALL_S / max(wall, 1e-6))))


def _bar(scn: Scenario, show: bool):
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=scn.duration_s, desc=f"{scn.name} ({scn.architecture})", unit="sim-s",
                bar_format="{l_bar}{bar}| {n:,.0f}/{total:,.0f} sim-s [{elapsed}<{remaining}]")


class _NoBar:
    n = 0.0

    def update(self, k: float) -> None:
        self.n += k

    def close(self) -> None:
        pass


def _sampler(env, arch, rec, step):
    while True:
        yield env.timeout(step)
        now = env.now
        arch.tick(now, step)
        rec.sample(now)
