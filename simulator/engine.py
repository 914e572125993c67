"""One run: environment, random streams, wiring, run, finalize -> Result."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import simpy

from simulator.architectures import registry
from simulator.catalog import load_catalog
from simulator.metrics.recorder import Recorder
from simulator.metrics.result import Result
from simulator.rng import Streams
from simulator.scenario import Params, Scenario, check_against_catalog


def run(scn: Scenario, *, data_dir: str | Path | None = None) -> Result:
    """Simulate one scenario (seed from the scenario) and return its :class:`Result`.

    Parameters
    ----------
    scn : Scenario
        From :func:`simulator.load_scenario`.
    data_dir : path, optional
        Catalog directory (default: the project's ``data/``).
    """
    if not isinstance(scn, Scenario):
        from simulator.errors import ScenarioError

        raise ScenarioError("scn", type(scn).__name__,
                            "must be a Scenario (use simulator.load_scenario)")
    catalog = load_catalog(data_dir)
    check_against_catalog(scn, catalog)
    params = Params(scn, catalog)
    streams = Streams(scn.seed)
    env = simpy.Environment()
    rec = Recorder(scn.engine.timeseries_step_s)
    arch = registry.get(scn.architecture)(env, scn, params, streams, rec)
    arch.probes(rec)
    arch.start()
    env.process(_sampler(env, arch, rec, scn.engine.timeseries_step_s))
    snaps = {}
    if scn.warmup_s > 0:
        env.timeout(scn.warmup_s).callbacks.append(
            lambda ev: snaps.__setitem__("warmup", arch.usage_snapshot(env.now)))
    gc_was = gc.isenabled()
    gc.disable()  # the run creates few long-lived cycles; cyclic GC passes only cost time
    t0 = time.perf_counter()
    try:
        env.run(until=scn.duration_s)
        arch.finalize(scn.duration_s)
        snaps["end"] = arch.usage_snapshot(scn.duration_s)
    finally:
        if gc_was:
            gc.enable()
    wall = time.perf_counter() - t0
    return Result(scn, params, arch, rec, snaps, sim_events=next(env._eid), wall_seconds=wall)


def _sampler(env, arch, rec, step):
    while True:
        yield env.timeout(step)
        now = env.now
        arch.tick(now, step)
        rec.sample(now)
