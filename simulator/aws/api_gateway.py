"""API Gateway WebSocket API: connection-rate quota, account throttle, size limits, metering."""

from __future__ import annotations

import math

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

    __slots__ = ("bucket", "region", "breaches")

    def __init__(self, bucket: TokenBucket, region: str, breaches=None):
        self.bucket = bucket
        self.region = region
        self.breaches = breaches

    def admit(self, now: float, component: str, n: int | None = None) -> int:
        """Requests at ``now`` from ``component`` (``"api_gateway:$default"``, ...): one
        request (``n`` omitted; 1 or 0 admitted) or a batch of ``n`` (as many whole tokens
        as there are). Every refused request is logged as an ``api_gateway.account_throttle``
        breach. Returns how many were admitted."""
        if n is None:
            n = 1
            got = 1 if self.bucket.try_take(now) else 0
        else:
            got = self.bucket.take_up_to(now, n)
        if got < n and self.breaches is not None:
            self.breaches.add(now, "api_gateway.account_throttle", component, self.region, n - got)
        return got
