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
    _probes(arch, rec)
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
        arch.lam.advance(now)
        arch.table.tick(now, step)
        rec.sample(now)


def _probes(arch, rec) -> None:
    reg = arch.reg
    lam = arch.lam
    table = arch.table
    rec.probe("connections_open", lambda t: reg.n_open)
    rec.probe("connections_half_open", lambda t: reg.n_half)
    rec.probe("zombie_rows", lambda t: reg.n_zombie + reg.n_closing)
    rec.probe("stale_rows", lambda t: reg.n_zombie + reg.n_closing + reg.n_half)
    rec.probe("table_rows", lambda t: reg.n_rows)
    rec.probe("lambda_concurrency", lambda t: lam.busy)
    for f in lam.functions:
        rec.probe(f"lambda_concurrency_{f.name}", lambda t, f=f: f.busy)
    rec.probe("lambda_concurrency_limit", lambda t: lam.account_limit)
    rec.probe("lambda_environments", lambda t: sum(f.environments(t) for f in lam.functions))
    rec.probe("dynamodb_read_capacity_per_s", lambda t: table.capacity.limits()[0])
    rec.probe("dynamodb_write_capacity_per_s", lambda t: table.capacity.limits()[1])
    rec.probe("apigw_throttle_tokens", lambda t: arch.apigw.account.level(t))
    rec.probe("apigw_throttle_rps", lambda t: arch.apigw.account.rate)
    rec.rate_probe("dynamodb_read_units_per_s", "dynamodb.read_units")
    rec.rate_probe("dynamodb_write_units_per_s", "dynamodb.write_units")
    rec.rate_probe("dynamodb_throttles_per_s", "dynamodb.throttles")
    rec.rate_probe("messages_published_per_s", "messages.published")
    rec.rate_probe("deliveries_per_s", "deliveries.succeeded")
    rec.rate_probe("posts_throttled_per_s", "api_gateway.throttled_posts")
    rec.rate_probe("connections_attempted_per_s", "connections.attempted")
    rec.rate_probe("connections_rejected_per_s", "connections.rejected")
    rec.rate_probe("lambda_throttles_per_s", "lambda.throttles")
    rec.rate_probe("lambda_cold_starts_per_s", "lambda.cold_starts")
    rec.rate_probe("heartbeats_per_s", "heartbeats.sent")
    rec.rate_probe("reconnect_attempts_per_s", "connections.reconnect_attempts")
