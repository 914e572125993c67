"""AWS Lambda: account and reserved concurrency, per-function scaling rate, execution
environments that stay warm, expire when idle, and cold-start when none is free.

An environment that goes idle is kept for an idle lifetime drawn from
``behaviour.lambda_idle_env_lifetime_s`` (a fresh draw each time it goes idle; a fixed value is
a distribution too), then reclaimed: the next request that finds no live idle environment is a
cold start.

Invocations whose end time is known when they start release their concurrency without a
simulation event: the service keeps one heap of scheduled ends and applies those due
whenever it is asked (exact for a loss system, which Lambda's synchronous invocation is:
a request that finds no capacity is throttled with 429, never queued).
"""

from __future__ import annotations

import heapq
import math
from collections import deque

from simulator.primitives.distributions import Fixed
from simulator.primitives.token_bucket import TokenBucket

THROTTLE_ACCOUNT = "lambda.account_concurrency"
THROTTLE_RESERVED = "lambda.reserved_concurrency"
THROTTLE_SCALING = "lambda.scaling_rate"
THROTTLE_RATE = "lambda.invocation_rate"


class LambdaService:
    """Account-level Lambda state for one Region.

    Parameters
    ----------
    params : Params
        Resolved parameters (``lambda.*`` quotas, ``behaviour.lambda_idle_env_lifetime_s``).
    recorder : Recorder
        Counters and breach log.
    lifetime_draw : callable, optional
        One draw of an idle lifetime, s (a buffered stream); needed unless the lifetime is
        a fixed value.
    """

    def __init__(self, params, recorder, region: str, lifetime_draw=None):
        self.rec = recorder
        self.region = region
        self.account_limit = int(params["lambda.account_concurrency"])
        life = params["behaviour.lambda_idle_env_lifetime_s"]
        if not hasattr(life, "sample"):
            life = Fixed(float(life))
        #: the fixed idle lifetime, s, or None when each idle period draws its own
        self.idle_lifetime = life.value if isinstance(life, Fixed) else None
        if self.idle_lifetime is None and lifetime_draw is None:
            raise ValueError("a random idle lifetime needs lifetime_draw")
        self._life_draw = lifetime_draw
        #: which idle environment serves the next request: the most recently idle (LIFO: surplus
        #: environments age out) or the least recently idle (FIFO: all stay warm)
        self.most_recent = params["behaviour.lambda_env_reuse"] == "most_recent"
        self.scaling_rate = float(params["lambda.scaling_envs_per_s"])
        self.scaling_burst = float(params["lambda.scaling_burst_envs"])
        self.granularity = float(params["lambda.billing_granularity_s"])
        self.rate_bucket = TokenBucket(
            params["lambda.invocation_rps_per_concurrency"] * self.account_limit,
            params["lambda.invocation_rps_per_concurrency"] * self.account_limit)
        self.functions: list[LambdaFunction] = []
        self.unreserved_busy = 0
        self.unreserved_limit = self.account_limit
        self.busy = 0       # concurrent executions, all functions
        self.peak = 0       # of ``busy``
        self.last = 0.0     # time of the latest invocation (releases are never earlier)
        self._ends: list[tuple[float, int]] = []

    def function(self, name: str, cfg, init_draw, handler_draw, timeout_s: float) -> LambdaFunction:
        f = LambdaFunction(self, len(self.functions), name, cfg, init_draw, handler_draw, timeout_s)
        self.functions.append(f)
        if f.reserved is not None:
            self.unreserved_limit -= f.reserved
        return f

    def advance(self, now: float) -> None:
        """Apply invocation ends due at or before ``now``: environments become idle, each
        until its reclaim time (the end plus an idle lifetime)."""
        ends = self._ends
        fns = self.functions
        life = self.idle_lifetime
        draw = self._life_draw
        while ends and ends[0][0] <= now:
            t, k = heapq.heappop(ends)
            f = fns[k]
            f.busy -= 1
            self.busy -= 1
            if f.reserved is None:
                self.unreserved_busy -= 1
            f.idle.append(t + (life if life is not None else draw()))


class LambdaFunction:
    """One function: its execution environments, concurrency and usage.

    Notes
    -----
    * Reuse: the most recently idle live environment serves the next request (or the least
      recently idle: ``behaviour.lambda_env_reuse``); an environment idle for longer than
      its idle lifetime is reclaimed (behaviour catalog). ``idle`` holds the reclaim times
      of idle environments in the order they went idle (sorted too when the lifetime is
      fixed; with a random one, reclaimed environments are dropped when met).
    * A new environment is created only when no live idle one exists, so the number of live
      environments peaks at a cold start, where it equals the busy count: its peak is
      ``peak`` (busy), exactly.
    * A request that finds no idle environment needs a new one: it must fit in the
      function's reserved concurrency (or the account's unreserved pool), and take a token
      from the scaling bucket (1,000 environments per 10 s per function). Otherwise: 429.
    * Billing: duration rounded up to 1 ms, init included, times memory in GB.
    """

    def __init__(self, service: LambdaService, index: int, name: str, cfg, init_draw,
                 handler_draw, timeout_s: float):
        self.svc = service
        self.index = index
        self.name = name
        self.memory_gb = cfg.memory_mb / 1024.0
        self.architecture = cfg.architecture
        self.reserved = cfg.reserved_concurrency
        self.timeout = float(timeout_s)
        self.d_init = init_draw          # callables: one draw of the init / handler duration, s
        self.d_handler = handler_draw
        self.busy = 0
        self.peak = 0
        self.idle: deque[float] = deque()   # reclaim times of idle environments
        self.scaling = TokenBucket(service.scaling_rate, service.scaling_burst)
        rec = service.rec.c
        self._k_inv = f"lambda.{name}.invocations"
        self._k_cold = f"lambda.{name}.cold_starts"
        self._k_thr = f"lambda.{name}.throttles"
        self._k_gbs = f"lambda.gb_seconds.{self.architecture}"
        self._k_req = "lambda.requests"
        self._k_fgbs = f"lambda.{name}.gb_seconds"
        for k in (self._k_inv, self._k_cold, self._k_thr, self._k_gbs, self._k_req, self._k_fgbs,
                  "lambda.throttles", "lambda.cold_starts"):
            rec[k] += 0.0
        self._c = rec

    def invoke(self, now: float) -> int:
        """Start an invocation at ``now``: 1 if warm, 2 if cold, 0 if throttled (429)."""
        svc = self.svc
        svc.advance(now)
        reason = None
        if not svc.rate_bucket.try_take(now):
            reason = THROTTLE_RATE
        elif self.reserved is not None:
            if self.busy >= self.reserved:
                reason = THROTTLE_RESERVED
        elif svc.unreserved_busy >= svc.unreserved_limit:
            reason = THROTTLE_ACCOUNT
        cold = False
        if reason is None:
            idle = self.idle
            # the next environment in reuse order: the most recently idle (the right end) or
            # the least recently idle (the left end); reclaimed ones met there are gone
            end, take = (-1, idle.pop) if svc.most_recent else (0, idle.popleft)
            while idle and idle[end] <= now:
                take()
            if idle:
                take()
            elif self.scaling.try_take(now):
                cold = True
            else:
                reason = THROTTLE_SCALING
        c = self._c
        if reason is not None:
            c[self._k_thr] += 1
            c["lambda.throttles"] += 1
            svc.rec.breaches.add(now, reason, f"lambda:{self.name}", svc.region)
            return 0
        self.busy += 1
        if self.busy > self.peak:
            self.peak = self.busy
        svc.busy += 1
        svc.last = now
        if svc.busy > svc.peak:
            svc.peak = svc.busy
        if self.reserved is None:
            svc.unreserved_busy += 1
        c[self._k_inv] += 1
        c[self._k_req] += 1
        if cold:
            c[self._k_cold] += 1
            c["lambda.cold_starts"] += 1
            return 2
        return 1

    def begin(self, now: float) -> float | None:
        """Invoke at ``now``: the time the handler's own work ends (the init phase first if
        cold), or None if the invocation is throttled."""
        r = self.invoke(now)
        if r == 0:
            return None
        init = self.d_init() if r == 2 else 0.0
        self.last_init = init   # for the latency's stages
        return now + init + self.d_handler()

    def finish(self, start: float, end: float) -> None:
        """The invocation started at ``start`` ends at ``end`` (>= the current time):
        schedule the release and bill the duration."""
        end = max(end, self.svc.last)
        heapq.heappush(self.svc._ends, (end, self.index))
        g = self.svc.granularity
        billed = math.ceil((end - start) / g - 1e-9) * g
        gbs = billed * self.memory_gb
        self._c[self._k_gbs] += gbs
        self._c[self._k_fgbs] += gbs

    def environments(self, now: float) -> int:
        """Live environments at ``now``: busy plus idle ones not yet reclaimed."""
        idle = self.idle
        if self.svc.idle_lifetime is not None:     # sorted: reclaimed ones lead
            while idle and idle[0] <= now:
                idle.popleft()
        elif any(e <= now for e in idle):
            self.idle = idle = deque(e for e in idle if e > now)
        return self.busy + len(idle)
