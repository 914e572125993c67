"""Naive reference model: one SimPy process per client, per message and per delivery.

This is the straightforward way to write the basic design in SimPy, kept as the oracle the
fast model is measured against (speed) and tested against (agreement of latency quantiles
at small size). It reads the same scenario and the same catalog numbers, and implements
the publish path independently:

client process (Poisson publishes) -> uplink + API Gateway route -> account throttle
(``simpy.Container`` refilled by a process every 10 ms) -> Lambda (``simpy.Resource`` for
concurrency; a list of idle environments, most recent first, expiring after the idle
lifetime; cold start = init duration) -> handler -> DynamoDB Query pages -> one process per
PostToConnection through a ``simpy.Resource(P)`` pool (greedy FIFO, like the SDK's HTTP
agent) -> one process per delivery (downlink) -> a Python list of latencies.

Scope (documented, checked by ``check_scope``): connections are the initial population only
(no churn, no disconnects, no connection quotas), so use it on scenarios whose sessions
outlast the run; capacity limits of DynamoDB and Lambda scaling are not modelled (the
comparison scenarios do not reach them).
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

import numpy as np
import simpy

import simulator as sim
from simulator.catalog import load_catalog
from simulator.primitives.distributions import Exponential, Fixed, LogNormal, Uniform
from simulator.scenario import Params, build_dist


class _Draw:
    """Per-draw sampling with Python's ``random`` (the naive way)."""

    def __init__(self, dist, rnd: random.Random, scale: float = 1.0):
        self.d, self.r, self.k = dist, rnd, scale
        if isinstance(dist, LogNormal):
            mu, s = math.log(dist.median), dist.sigma
            self.f = lambda: self.r.lognormvariate(mu, s) * self.k
        elif isinstance(dist, Fixed):
            self.f = lambda: dist.value * self.k
        elif isinstance(dist, Exponential):
            self.f = lambda: self.r.expovariate(1 / dist.mean_value) * self.k
        elif isinstance(dist, Uniform):
            self.f = lambda: self.r.uniform(dist.low, dist.high) * self.k
        else:
            raise TypeError(f"naive reference does not sample {dist!r}")

    def __call__(self) -> float:
        return self.f()


def check_scope(scn) -> None:
    w = scn.workload
    if w.arrivals.profile != "steady" or w.initially_connected != 1.0:
        raise ValueError("naive reference: steady, fully connected populations only")
    if w.publish.rate_per_client_per_s is None:
        raise ValueError("naive reference: per-client publish rates only")


class NaiveModel:
    """Process-per-client, process-per-delivery model of the basic design."""

    def __init__(self, scn):
        check_scope(scn)
        self.scn = scn
        p = Params(scn, load_catalog())
        self.rnd = random.Random(scn.seed)
        w = scn.workload
        rtt = build_dist(w.client_rtt_s) if w.client_rtt_s else p["latency.client_rtt_s"]
        self.oneway = _Draw(rtt, self.rnd, 0.5)
        self.route = _Draw(p["latency.apigw_route_s"], self.rnd)
        self.post = _Draw(p["latency.post_to_connection_s"], self.rnd)
        self.page = _Draw(p["latency.dynamodb_query_page_s"], self.rnd)
        self.s_per_mb = _Draw(p["latency.dynamodb_query_s_per_mb"], self.rnd)
        fcfg = scn.aws.lambda_.functions.default
        self.init = _Draw(build_dist(fcfg.init_s) if fcfg.init_s else p["latency.lambda_init_s"],
                          self.rnd)
        self.handler = _Draw(build_dist(fcfg.handler_s) if fcfg.handler_s
                             else p["latency.lambda_handler_s"], self.rnd)
        self.idle_lifetime = p["behaviour.lambda_idle_env_lifetime_s"]
        self.rate = w.publish.rate_per_client_per_s
        self.P = scn.app.posts_in_flight or p["sdk.http_max_sockets"]
        self.item_bytes = scn.aws.dynamodb.item_bytes
        self.page_bytes = p["dynamodb.query_page_bytes"]
        self.rps = p["api_gateway.account_throttle_rps"]
        self.burst = p["api_gateway.account_throttle_burst"]
        self.concurrency = p["lambda.account_concurrency"]
        # channels: sizes from the scenario's distribution, joined in proportion to size
        rng = np.random.default_rng(scn.seed)
        sizes = []
        size_dist = build_dist(w.channels.size)
        while sum(sizes) < w.clients:
            sizes.append(max(1, int(round(float(size_dist.sample(rng, 1)[0])))))
        weights = np.asarray(sizes, float) / sum(sizes)
        self.channel_of = rng.choice(len(sizes), size=w.clients, p=weights).tolist()
        self.members: list[list[int]] = [[] for _ in sizes]
        for client, ch in enumerate(self.channel_of):
            self.members[ch].append(client)
        self.latencies: list[float] = []
        self.deliveries = 0
        self.throttled = 0

    def run(self) -> dict:
        env = simpy.Environment()
        self.env = env
        self.tokens = simpy.Container(env, capacity=self.burst, init=self.burst)
        self.lam = simpy.Resource(env, capacity=self.concurrency)
        self.idle_envs: list[float] = []
        env.process(self._refill())
        for c in range(self.scn.workload.clients):
            env.process(self._client(c))
        t0 = time.perf_counter()
        env.run(until=self.scn.duration_s)
        wall = time.perf_counter() - t0
        lat = np.asarray(self.latencies)
        return {
            "deliveries": self.deliveries,
            "latency_p50_ms": float(np.quantile(lat, 0.5) * 1000) if lat.size else math.nan,
            "latency_p99_ms": float(np.quantile(lat, 0.99) * 1000) if lat.size else math.nan,
            "latency_mean_ms": float(lat.mean() * 1000) if lat.size else math.nan,
            "events": next(env._eid),
            "wall_seconds": wall,
        }

    def _refill(self):
        step = 0.01
        while True:
            yield self.env.timeout(step)
            room = self.tokens.capacity - self.tokens.level
            if room > 0:
                yield self.tokens.put(min(room, self.rps * step))

    def _client(self, c: int):
        env = self.env
        while True:
            yield env.timeout(self.rnd.expovariate(self.rate))
            env.process(self._message(c, env.now))

    def _take_token(self) -> bool:
        if self.tokens.level >= 1:
            self.tokens.get(1)
            return True
        self.throttled += 1
        return False

    def _message(self, sender: int, t_pub: float):
        env = self.env
        yield env.timeout(self.oneway() + self.route())
        if not self._take_token():
            return
        if self.lam.count >= self.lam.capacity:
            return  # Lambda throttle (429)
        with self.lam.request() as req:
            yield req
            # execution environment: reuse the most recently idle one that has not expired
            alive = [t for t in self.idle_envs if env.now - t < self.idle_lifetime]
            if alive:
                alive.remove(max(alive))
                cold = 0.0
            else:
                cold = self.init()
            self.idle_envs = alive
            yield env.timeout(cold + self.handler())
            members = self.members[self.channel_of[sender]]
            total = len(members) * self.item_bytes
            while True:
                nbytes = min(total, self.page_bytes)
                yield env.timeout(self.page() + nbytes / float(1 << 20) * self.s_per_mb())
                total -= nbytes
                if total <= 0:
                    break
            pool = simpy.Resource(env, capacity=self.P)
            posts = [env.process(self._post(pool, t_pub)) for m in members if m != sender]
            if posts:
                yield simpy.AllOf(env, posts)
            self.idle_envs.append(env.now)

    def _post(self, pool, t_pub: float):
        env = self.env
        with pool.request() as req:
            yield req
            if not self._take_token():
                return
            yield env.timeout(self.post())
        env.process(self._deliver(t_pub))

    def _deliver(self, t_pub: float):
        yield self.env.timeout(self.oneway())
        self.deliveries += 1
        if t_pub >= self.scn.warmup_s:
            self.latencies.append(self.env.now - t_pub)


def comparison_scenario(clients: int, channel_size: int, rate_per_client_per_s: float,
                        duration_s: float, warmup_s: float, seed: int = 1,
                        account_throttle_rps: float | None = None):
    """A basic-design scenario both models cover: a fixed population (sessions outlast the
    run, no forced closes) in channels of one size."""
    root = Path(__file__).resolve().parent.parent
    o = {
        "seed": seed, "duration_s": duration_s, "warmup_s": warmup_s,
        "workload.clients": clients,
        "workload.session_s": {"kind": "fixed", "value": 1e9},
        "workload.disconnect.graceful_fraction": 1.0,
        "workload.disconnect.abrupt_fraction": 0.0,
        "workload.channels.size": {"kind": "fixed", "value": channel_size},
        "workload.publish.rate_per_client_per_s": rate_per_client_per_s,
        "aws.api_gateway.max_connection_duration_s": 1e9,
    }
    if account_throttle_rps:
        o["aws.api_gateway.account_throttle_rps"] = account_throttle_rps
        o["aws.api_gateway.account_throttle_burst"] = account_throttle_rps / 2
    return sim.load_scenario(root / "data/scenarios/chat-basic.yaml", overrides=o)


if __name__ == "__main__":
    scn = comparison_scenario(1000, 20, 0.1, 60.0, 10.0)
    print(NaiveModel(scn).run())
    print({k: sim.run(scn).summary[k] for k in ("deliveries_succeeded", "latency_p50_ms",
                                                 "latency_p99_ms", "wall_seconds")})
