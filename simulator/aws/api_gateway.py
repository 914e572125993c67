"""API Gateway WebSocket API: connection-rate quota, account throttle, size limits, metering."""

from __future__ import annotations

import math

import numpy as np

from simulator.primitives.token_bucket import TokenBucket


class ApiGateway:
    """One Region's API Gateway for one account.

    Parameters
    ----------
    params : Params
        Resolved scenario parameters (quotas from ``data/quotas/api_gateway.yaml``).
    background_rps : float
        Other API traffic (REST, HTTP) that shares the account throttle; it consumes that
        much of the refill rate.
    breaches : BreachLog, optional
        Where throttled requests are logged.

    Notes
    -----
    * New connections: token bucket at ``new_connections_per_s`` (burst
      ``connection_burst``); a connection that finds no token is refused (HTTP 429 on the
      upgrade request).
    * Account throttle: token bucket at ``account_throttle_rps`` with ``account_throttle_burst``,
      shared by every inbound WebSocket message and every ``@connections`` call.
    * Messages are metered in ``metering_bytes`` units (32 KB): ``ceil(bytes / 32768)``.
    """

    def __init__(self, params, region: str, background_rps: float = 0.0, breaches=None):
        self.region = region
        self.conn_bucket = TokenBucket(params["api_gateway.new_connections_per_s"],
                                       params["api_gateway.connection_burst"])
        rate = params["api_gateway.account_throttle_rps"]
        if background_rps >= rate:
            raise ValueError(
                f"aws.api_gateway.other_api_rps = {background_rps!r}: must be below the account "
                f"throttle of {rate} requests/s, or nothing else gets through")
        self.account = TokenBucket(rate - background_rps, params["api_gateway.account_throttle_burst"])
        self.throttle = AccountThrottle(self.account, region, breaches)
        self.max_concurrent = params["api_gateway.max_concurrent_connections"]
        self.max_payload = params["api_gateway.max_payload_bytes"]
        self.max_frame = params["api_gateway.max_frame_bytes"]
        self.metering = params["api_gateway.metering_bytes"]
        self.idle_timeout = params["api_gateway.idle_timeout_s"]
        self.max_duration = params["api_gateway.max_connection_duration_s"]

    def admit(self, now: float, component: str, n: int | None = None) -> int:
        """See :meth:`AccountThrottle.admit`."""
        return self.throttle.admit(now, component, n)

    def units(self, nbytes: float) -> int:
        """Billed messages for one message of ``nbytes``."""
        return max(1, math.ceil(nbytes / self.metering))

    def payload_verdict(self, nbytes: float, client_fragments: bool) -> str | None:
        """None if the message is accepted, else why API Gateway closes the connection (1009)."""
        if nbytes > self.max_payload:
            return "payload"
        if not client_fragments and nbytes > self.max_frame:
            return "frame"
        return None


class AccountThrottle:
    """API Gateway's account-wide request throttle in one Region, as every caller spends it:
    inbound messages, ``@connections`` calls (posts, GetConnection, DeleteConnection), pings.

    Parameters
    ----------
    bucket : TokenBucket
    region : str
    breaches : BreachLog or None
        Where refused requests are logged (``api_gateway.account_throttle``).
    """

    __slots__ = ("bucket", "region", "breaches", "engines")

    def __init__(self, bucket: TokenBucket, region: str, breaches=None):
        self.bucket = bucket
        self.region = region
        self.breaches = breaches
        self.engines: list = []   # fan-out engines whose waiting posts are decided in ticks

    def reserved(self, now: float, but=None) -> int:
        """Tokens that the fan-out engines' (``but`` one excepted) posts ready by ``now``, not
        yet decided (engines decide in ticks), would have taken by ``now`` in time order: a
        request at ``now`` must leave them, as it would in continuous time."""
        ready = [r for e in self.engines if e is not but and e._active
                 for r in (e.pending_ready(now),) if r.size]
        if not ready:
            return 0
        step, _, _ = self._decide(np.concatenate(ready))
        return int(step.sum())

    def admit(self, now: float, component: str, n: int | None = None) -> int:
        """Requests at ``now`` from ``component`` (``"api_gateway:$default"``, ...): one
        request (``n`` omitted; 1 or 0 admitted) or a batch of ``n`` (as many whole tokens
        as there are). Every refused request is logged as an ``api_gateway.account_throttle``
        breach. Returns how many were admitted."""
        held = self.reserved(now)
        b = self.bucket
        if n is None:
            n = 1
            got = 1 if b.level(now) - held >= 1.0 and b.try_take(now) else 0
        else:
            got = min(n, max(0, int(b.level(now) - held + 1e-9)))
            if got:
                b.try_take(now, got)
        if got < n and self.breaches is not None:
            self.breaches.add(now, "api_gateway.account_throttle", component, self.region, n - got)
        return got

    def admit_in_order(self, now: float, component: str, ready: np.ndarray) -> np.ndarray:
        """Requests that arrived at times ``ready`` (each in the bucket's last update .. ``now``),
        decided as a continuous-time bucket decides them one by one in time order: a request is
        granted if a token is there when it arrives. Returns the mask of those granted; the
        refused are logged as breaches at ``now``.

        Granted count after the i-th request (1-based, in time order), with ``D_j`` the whole
        tokens that have arrived by request j: ``G_i = min(G_{i-1} + 1, D_i)``, i.e.
        ``G_i = i + min(0, min_{j<=i}(D_j - j))``, exact while the bucket stays below its
        capacity (otherwise the requests are decided one by one)."""
        b = self.bucket
        k = ready.size
        step, level, t_last = self._decide(ready)
        granted = int(step.sum())
        b.tokens = min(b.capacity, level + max(now - t_last, 0.0) * b.rate)
        b.last = max(now, t_last)
        b.granted += granted
        b.rejected += k - granted
        if granted < k and self.breaches is not None:
            self.breaches.add(now, "api_gateway.account_throttle", component, self.region,
                              k - granted)
        return step

    def _decide(self, ready: np.ndarray) -> tuple[np.ndarray, float, float]:
        """The grants (a mask in the order of ``ready``) of requests arriving at ``ready`` in
        time order, the bucket's level just after the last, and its time; nothing changes."""
        b = self.bucket
        k = ready.size
        order = np.argsort(ready, kind="stable")
        r = np.maximum(ready[order], b.last)
        arrived = b.tokens + (r - b.last) * b.rate
        if arrived[-1] < b.capacity:
            d = np.floor(arrived + 1e-9)
            j = np.arange(1, k + 1)
            g = j + np.minimum(0.0, np.minimum.accumulate(d - j))
            step = np.diff(g, prepend=0.0) > 0
            level = float(arrived[-1] - g[-1])          # just after the last request
        else:   # the capacity binds somewhere: one by one
            step = np.zeros(k, dtype=bool)
            level, last = b.tokens, b.last
            for i, t in enumerate(r.tolist()):
                level = min(b.capacity, level + (t - last) * b.rate)
                last = t
                if level >= 1.0 - 1e-9:
                    level -= 1.0
                    step[i] = True
        mask = np.empty(k, dtype=bool)
        mask[order] = step
        return mask, level, float(r[-1])
