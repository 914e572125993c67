"""Naive reference model: one SimPy process per client, per message, per post and per delivery.

This is the straightforward way to write the API Gateway designs' publish path in SimPy, kept
as the oracle the fast model is measured against (speed) and tested against (agreement of
latency quantiles at small size). It reads the same scenario and the same catalog numbers, and
implements the publish path independently.

Basic design (``architecture: basic``):

client process (Poisson publishes) -> uplink + API Gateway route -> account throttle token
(a bucket refilled continuously, brought up to date whenever a request asks; no token: the
message is refused) -> ``$default`` Lambda (``simpy.Resource`` for the account concurrency, no room: refused; a list
of idle environments per function, most recent first, expiring after the idle lifetime; cold
start = init duration) -> handler -> DynamoDB Query pages -> one process per PostToConnection
through a ``simpy.Resource(P)`` pool (greedy FIFO, like the SDK's HTTP agent) -> one process
per delivery (downlink) -> a Python list of latencies.

Every post spends an account throttle token. A post that finds none gets a 429 (after a call's
latency) and the SDK's standard retry mode decides: another attempt after a backoff with full
jitter (``U(0,1) * min(max_delay, base * 2**k)`` before retry ``k``), while attempts remain and
the invocation's retry quota holds a retry's cost; a success returns the retry's cost (or the
no-retry refund) to the quota, capped at its size. The quota belongs to the posting invocation
(the API Gateway management client is built per invocation: its endpoint comes from the
event). While it waits out a backoff the post keeps its socket (``retry_holds_socket``; False:
it frees it and queues again behind the posts waiting for one). The function's timeout, counted
from its invocation, cuts the posting: a post not sent by then is never made (one sent before
it completes), and the Lambda ends at the timeout.

SNS fan-out tier (``architecture: sns``): the ``$default`` handler ends with an SNS Publish (a
publish-quota token bucket for the Region; throttled: SDK backoff and retry; the Lambda ends a
Publish latency later); for each of ``app.sns_tier.shards`` worker subscriptions, after an
SNS -> Lambda delay (drawn per shard, counted from the Publish call), an asynchronous invocation
of the ``worker`` function (its own environments; no concurrency left: Lambda's async queue
retries with doubling delays, ``lambda.async_retry_*``, up to the maximum event age) reads its share of the channel's rows
(query pages, as above) and posts to its share of the subscribers (split as evenly as possible)
through its own pool of posts, each spending an account throttle token as above.

Scope (documented, checked by ``check_scope``): connections are the initial population only
(no churn, no disconnects, no connection quotas), so use it on scenarios whose sessions
outlast the run; capacity limits of DynamoDB and Lambda's scaling and invocation-rate limits
are not modelled (the comparison scenarios do not reach them).
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

DESIGNS = ("basic", "sns")


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
    if scn.architecture not in DESIGNS:
        raise ValueError(f"naive reference: designs {DESIGNS} only, not {scn.architecture!r}")


class _Function:
    """One Lambda function: its init and handler draws, timeout, and idle environments
    (the times they are reclaimed, in the order they became idle)."""

    def __init__(self, cfg, p, rnd: random.Random):
        self.init = _Draw(build_dist(cfg.init_s) if cfg.init_s else p["latency.lambda_init_s"], rnd)
        self.handler = _Draw(build_dist(cfg.handler_s) if cfg.handler_s
                             else p["latency.lambda_handler_s"], rnd)
        self.timeout = cfg.timeout_s or p["lambda.default_timeout_s"]
        self.idle: list[float] = []

    def startup(self, now: float) -> float:
        """An invocation at ``now`` takes the most recently idle environment that has not
        been reclaimed (0 s), or starts a new one (its init duration)."""
        alive = [t for t in self.idle if t > now]
        if alive:
            alive.pop()
            self.idle = alive
            return 0.0
        self.idle = alive
        return self.init()

    def release(self, now: float, lifetime: float) -> None:
        """The environment goes idle at ``now`` for ``lifetime`` seconds."""
        self.idle.append(now + lifetime)


class _Invocation:
    """What the posts of one invocation share: its deadline and its SDK client's retry quota."""

    def __init__(self, deadline: float, quota: float):
        self.deadline = deadline
        self.quota = quota


class NaiveModel:
    """Process-per-client, process-per-delivery model of the basic design and of the SNS
    fan-out tier.

    Parameters
    ----------
    scn : Scenario
    retry_holds_socket : bool
        Whether a throttled post keeps its pool socket while it waits out its backoff (True)
        or frees it and queues again for one (False).
    """

    def __init__(self, scn, retry_holds_socket: bool = True):
        check_scope(scn)
        self.scn = scn
        self.design = scn.architecture
        self.hold = retry_holds_socket
        p = Params(scn, load_catalog())
        self.rnd = random.Random(scn.seed)
        w = scn.workload
        rtt = build_dist(w.client_rtt_s) if w.client_rtt_s else p["latency.client_rtt_s"]
        self.oneway = _Draw(rtt, self.rnd, 0.5)
        self.route = _Draw(p["latency.apigw_route_s"], self.rnd)
        self.post = _Draw(p["latency.post_to_connection_s"], self.rnd)
        self.page = _Draw(p["latency.dynamodb_query_page_s"], self.rnd)
        self.s_per_mb = _Draw(p["latency.dynamodb_query_s_per_mb"], self.rnd)
        fns = scn.aws.lambda_.functions
        self.f_default = _Function(fns.default, p, self.rnd)
        life = p["behaviour.lambda_idle_env_lifetime_s"]
        self.idle_lifetime = _Draw(life if hasattr(life, "sample") else Fixed(float(life)), self.rnd)
        self.rate = w.publish.rate_per_client_per_s
        self.P = scn.app.posts_in_flight or p["sdk.http_max_sockets"]
        self.item_bytes = scn.aws.dynamodb.item_bytes
        self.page_bytes = p["dynamodb.query_page_bytes"]
        # other API traffic of the account takes its share of the refill
        self.rps = p["api_gateway.account_throttle_rps"] - scn.aws.api_gateway.other_api_rps
        self.burst = p["api_gateway.account_throttle_burst"]
        self.concurrency = p["lambda.account_concurrency"]
        # the SDK's standard retry mode
        self.max_attempts = int(p["sdk.max_attempts"])
        self.backoff_base = p["sdk.throttling_base_delay_s"]
        self.backoff_max = p["sdk.max_delay_s"]
        self.quota = p["sdk.retry_quota_tokens"]
        self.retry_cost = p["sdk.retry_cost_throttling"]
        self.no_retry_refund = p["sdk.retry_refund_success"]
        if self.design == "sns":
            tier = scn.app.sns_tier
            self.shards = tier.shards
            self.P_worker = tier.posts_in_flight or self.P
            self.f_worker = _Function(fns.worker, p, self.rnd)
            self.sns_rate = scn.aws.sns.publish_per_s or p["sns.publish_per_s"]
            self.sns_publish = _Draw(p["latency.sns_publish_s"], self.rnd)
            self.sns_deliver = _Draw(p["latency.sns_to_lambda_s"], self.rnd)
            self.async_first = p["lambda.async_retry_initial_s"]
            self.async_max = p["lambda.async_retry_max_s"]
            self.async_max_age = p["lambda.async_max_event_age_s"]
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
        self.n = dict.fromkeys(("deliveries", "throttled_attempts", "retries", "posts_failed",
                                "messages_throttled", "lambda_throttled", "lambda_timeouts",
                                "sns_throttled", "async_retries", "async_dropped"), 0)

    def run(self) -> dict:
        env = simpy.Environment()
        self.env = env
        self.tokens, self.tokens_at = float(self.burst), 0.0
        self.lam = simpy.Resource(env, capacity=self.concurrency)
        if self.design == "sns":
            self.sns_tokens = max(self.sns_rate, 1.0)
            self.sns_last = 0.0
        for c in range(self.scn.workload.clients):
            env.process(self._client(c))
        t0 = time.perf_counter()
        env.run(until=self.scn.duration_s)
        wall = time.perf_counter() - t0
        lat = np.asarray(self.latencies)
        return {
            **self.n,
            "latency_p50_ms": float(np.quantile(lat, 0.5) * 1000) if lat.size else math.nan,
            "latency_p99_ms": float(np.quantile(lat, 0.99) * 1000) if lat.size else math.nan,
            "latency_mean_ms": float(lat.mean() * 1000) if lat.size else math.nan,
            "events": next(env._eid),
            "wall_seconds": wall,
        }

    @property
    def deliveries(self) -> int:
        return self.n["deliveries"]

    # -- API Gateway's account throttle ---------------------------------------------------------
    def _take_token(self) -> bool:
        now = self.env.now
        self.tokens = min(self.burst, self.tokens + (now - self.tokens_at) * self.rps)
        self.tokens_at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.n["throttled_attempts"] += 1
        return False

    # -- clients and the $default function ------------------------------------------------------
    def _client(self, c: int):
        env = self.env
        while True:
            yield env.timeout(self.rnd.expovariate(self.rate))
            env.process(self._message(c, env.now))

    def _message(self, sender: int, t_pub: float):
        env = self.env
        yield env.timeout(self.oneway() + self.route())
        if not self._take_token():
            self.n["messages_throttled"] += 1
            return
        if self.lam.count >= self.lam.capacity:
            self.n["lambda_throttled"] += 1
            return  # Lambda throttle (429)
        f = self.f_default
        with self.lam.request() as req:
            yield req
            deadline = env.now + f.timeout
            yield env.timeout(f.startup(env.now) + f.handler())
            members = self.members[self.channel_of[sender]]
            recipients = [m for m in members if m != sender]
            if self.design == "sns":
                yield from self._sns_publish(t_pub, recipients, deadline)
            else:
                yield from self._query(len(members))
                if env.now >= deadline:
                    self.n["lambda_timeouts"] += 1
                else:
                    yield from self._posts(recipients, t_pub, deadline, self.P)
            f.release(env.now, self.idle_lifetime())

    def _query(self, rows: int):
        """A DynamoDB Query of ``rows`` items, page after page."""
        total = rows * self.item_bytes
        while True:
            nbytes = min(total, self.page_bytes)
            yield self.env.timeout(self.page() + nbytes / float(1 << 20) * self.s_per_mb())
            total -= nbytes
            if total <= 0:
                break

    # -- the posts of one invocation --------------------------------------------------------------
    def _posts(self, recipients: list, t_pub: float, deadline: float, P: int):
        """Post to every recipient through a pool of ``P`` sockets; the invocation lasts until
        the last post is decided, or its timeout."""
        env = self.env
        if not recipients:
            return
        inv = _Invocation(deadline, self.quota)
        pool = simpy.Resource(env, capacity=P)
        posts = simpy.AllOf(env, [env.process(self._post(pool, t_pub, inv)) for _ in recipients])
        yield posts | env.timeout(max(0.0, deadline - env.now))
        if not posts.triggered:
            self.n["lambda_timeouts"] += 1

    def _post(self, pool, t_pub: float, inv: _Invocation):
        env = self.env
        attempt = 1
        req = pool.request()
        yield req
        while True:
            if env.now >= inv.deadline:     # the function has timed out: never sent
                pool.release(req)
                self.n["posts_failed"] += 1
                return
            if self._take_token():
                yield env.timeout(self.post())
                refund = self.no_retry_refund if attempt == 1 else self.retry_cost
                inv.quota = min(self.quota, inv.quota + refund)
                pool.release(req)
                env.process(self._deliver(t_pub))
                return
            yield env.timeout(self.post())      # the 429 comes back
            if attempt >= self.max_attempts or inv.quota < self.retry_cost:
                pool.release(req)
                self.n["posts_failed"] += 1
                return
            inv.quota -= self.retry_cost
            self.n["retries"] += 1
            delay = self.rnd.random() * min(self.backoff_max,
                                            self.backoff_base * 2.0 ** (attempt - 1))
            attempt += 1
            if self.hold:
                yield env.timeout(delay)
            else:
                pool.release(req)
                yield env.timeout(delay)
                req = pool.request()
                yield req

    def _deliver(self, t_pub: float):
        yield self.env.timeout(self.oneway())
        self.n["deliveries"] += 1
        if t_pub >= self.scn.warmup_s:
            self.latencies.append(self.env.now - t_pub)

    # -- SNS fan-out tier ---------------------------------------------------------------------------
    def _sns_take(self) -> bool:
        """One token of the Region's SNS publish quota (continuous refill, one second's worth)."""
        now = self.env.now
        cap = max(self.sns_rate, 1.0)
        self.sns_tokens = min(cap, self.sns_tokens + (now - self.sns_last) * self.sns_rate)
        self.sns_last = now
        if self.sns_tokens >= 1:
            self.sns_tokens -= 1
            return True
        self.n["sns_throttled"] += 1
        return False

    def _sns_publish(self, t_pub: float, recipients: list, deadline: float):
        """``$default`` publishes the message; SNS invokes the workers, one per shard."""
        env = self.env
        attempt = 1
        while not self._sns_take():
            if attempt >= self.max_attempts or env.now >= deadline:
                return
            delay = self.rnd.random() * min(self.backoff_max,
                                            self.backoff_base * 2.0 ** (attempt - 1))
            attempt += 1
            yield env.timeout(delay)
        K = self.shards
        for j in range(K):
            env.process(self._worker(recipients[j::K], t_pub))
        yield env.timeout(min(self.sns_publish(), max(0.0, deadline - env.now)))

    def _worker(self, share: list, t_pub: float):
        """One shard: SNS delivers it to the worker function (asynchronous invocation), which
        reads its rows and posts to them."""
        env = self.env
        yield env.timeout(self.sns_deliver())
        enqueued = env.now
        tries = 0
        while self.lam.count >= self.lam.capacity:
            delay = min(self.async_first * 2.0 ** tries, self.async_max)
            tries += 1
            if env.now + delay - enqueued > self.async_max_age:
                self.n["async_dropped"] += 1
                return
            self.n["async_retries"] += 1
            yield env.timeout(delay)
        f = self.f_worker
        with self.lam.request() as req:
            yield req
            deadline = env.now + f.timeout
            yield env.timeout(f.startup(env.now) + f.handler())
            if share:
                yield from self._query(len(share))
                if env.now >= deadline:
                    self.n["lambda_timeouts"] += 1
                else:
                    yield from self._posts(share, t_pub, deadline, self.P_worker)
            f.release(env.now, self.idle_lifetime())


def comparison_scenario(clients: int, channel_size: int, rate_per_client_per_s: float,
                        duration_s: float, warmup_s: float, seed: int = 1,
                        account_throttle_rps: float | None = None,
                        overrides: dict | None = None):
    """A scenario both models cover: a fixed population (sessions outlast the run, no forced
    closes) in channels of one size; the basic design unless ``overrides`` (dotted paths)
    say otherwise (``{"architecture": "sns", "app.sns_tier.shards": 4}``). With
    ``account_throttle_rps``, API Gateway's account throttle is that rate with half a
    second's burst."""
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
    o.update(overrides or {})
    return sim.load_scenario(root / "data/scenarios/chat-basic.yaml", overrides=o)


if __name__ == "__main__":
    for label, scn in (
            ("basic", comparison_scenario(1000, 20, 0.1, 60.0, 10.0)),
            ("basic, throttled", comparison_scenario(
                600, 120, 0.05, 60.0, 10.0, account_throttle_rps=4500,
                overrides={"aws.api_gateway.account_throttle_burst": 250})),
            ("sns", comparison_scenario(400, 200, 0.02, 60.0, 10.0,
                                        overrides={"architecture": "sns",
                                                   "app.sns_tier.shards": 4}))):
        print(label)
        print(" naive", NaiveModel(scn).run())
        print(" fast ", {k: sim.run(scn).summary[k] for k in (
            "deliveries_succeeded", "latency_p50_ms", "latency_p99_ms", "wall_seconds")})
