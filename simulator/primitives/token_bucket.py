"""Analytic ("lazy") token bucket.

No refill process and no event per tick: the token level is brought up to date from the
elapsed time whenever the bucket is asked. This is exact in continuous time, as long as the
bucket is asked in non-decreasing time order (which a discrete-event simulation guarantees).

AWS throttles (API Gateway account and connection-rate quotas, Lambda scaling rate,
DynamoDB capacity) reject a request that finds too few tokens; the caller decides what a
rejection means (a 429, an SDK retry, a refused connection).
"""

from __future__ import annotations

import math


class TokenBucket:
    """Token bucket with continuous refill.

    Parameters
    ----------
    rate_per_s : float
        Refill rate, tokens per second (> 0).
    capacity : float
        Maximum tokens held (the burst), >= 1.
    initial : float, optional
        Tokens at time ``t0``; defaults to ``capacity`` (a full bucket).
    t0 : float
        Time of the initial level, seconds.

    Notes
    -----
    Level at time t after the last update at ``last``: ``min(capacity, tokens + rate*(t-last))``.
    """

    __slots__ = ("rate", "capacity", "tokens", "last", "granted", "rejected")

    def __init__(self, rate_per_s: float, capacity: float, initial: float | None = None,
                 t0: float = 0.0):
        if not (rate_per_s > 0 and math.isfinite(rate_per_s)):
            raise ValueError(f"rate_per_s = {rate_per_s!r}: must be a finite number > 0")
        if not (capacity >= 1 and math.isfinite(capacity)):
            raise ValueError(f"capacity = {capacity!r}: must be a finite number >= 1")
        self.rate = float(rate_per_s)
        self.capacity = float(capacity)
        self.tokens = self.capacity if initial is None else float(min(initial, capacity))
        self.last = float(t0)
        self.granted = 0.0
        self.rejected = 0.0

    def level(self, now: float) -> float:
        """Tokens available at ``now`` (updates the bucket)."""
        if now > self.last:
            t = self.tokens + (now - self.last) * self.rate
            self.tokens = t if t < self.capacity else self.capacity
            self.last = now
        return self.tokens

    def try_take(self, now: float, n: float = 1.0) -> bool:
        """Take ``n`` tokens at ``now`` if available; otherwise take none and return False."""
        t = self.tokens
        if now > self.last:
            t += (now - self.last) * self.rate
            if t > self.capacity:
                t = self.capacity
            self.last = now
        if t >= n:
            self.tokens = t - n
            self.granted += n
            return True
        self.tokens = t
        self.rejected += n
        return False

    def take_up_to(self, now: float, n: int) -> int:
        """Take as many whole tokens as available, at most ``n``; return how many."""
        t = self.level(now)
        g = min(int(n), int(t + 1e-9))
        if g > 0:
            self.tokens = t - g
        self.granted += g
        self.rejected += n - g
        return g

    def refund(self, n: float) -> None:
        """Return ``n`` tokens taken by a request that did not go ahead after all."""
        self.tokens = min(self.capacity, self.tokens + n)
        self.granted -= n

    def set_rate(self, now: float, rate_per_s: float, capacity: float | None = None) -> None:
        """Change the refill rate (and capacity) from ``now`` on (e.g. on-demand scaling)."""
        self.level(now)
        self.rate = float(rate_per_s)
        if capacity is not None:
            self.capacity = float(capacity)
            if self.tokens > self.capacity:
                self.tokens = self.capacity
