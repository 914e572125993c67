"""O(1) counting semaphore for concurrency limits.

``simpy.Resource`` releases in O(capacity) (``users.remove``), which hurts when capacity is
in the thousands (Lambda concurrency). This pool keeps a counter, an optional FIFO queue of
waiters, and a heap of *scheduled* releases: when the caller already knows when a unit will
be released (a Lambda invocation whose duration is computed up front), the release costs no
event; it is applied the next time the pool is looked at, in time order. That is exact for
a loss system, where the only observations are at acquisitions.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable


class ConcurrencyPool:
    """Counting semaphore with loss or FIFO-queue semantics.

    Parameters
    ----------
    capacity : int
        Units available (>= 0).
    queue : bool
        False: an acquisition that finds no free unit is refused (loss system, Erlang-B).
        True: it waits in FIFO order (M/M/c).

    Notes
    -----
    ``busy`` is exact at every acquisition. ``area`` is the time integral of ``busy`` up to
    ``last``, so the time-average occupancy over [0, T] is ``area / T`` after ``advance(T)``.
    """

    def __init__(self, capacity: int, queue: bool = False):
        if capacity < 0:
            raise ValueError(f"capacity = {capacity!r}: must be >= 0")
        self.capacity = int(capacity)
        self.queue = queue
        self.busy = 0
        self.peak = 0
        self.area = 0.0
        self.last = 0.0
        self.acquired = 0
        self.refused = 0
        self.waiting: deque[tuple[float, Callable[[float], None]]] = deque()
        self._releases: list[float] = []

    # -- time accounting -------------------------------------------------------------------
    def _move(self, t: float) -> None:
        if t > self.last:
            self.area += self.busy * (t - self.last)
            self.last = t

    def advance(self, now: float) -> None:
        """Apply scheduled releases due at or before ``now`` and account time up to ``now``."""
        rel = self._releases
        while rel and rel[0] <= now:
            t = heapq.heappop(rel)
            self._move(t)
            self.busy -= 1
        self._move(now)

    # -- operations --------------------------------------------------------------------------
    def try_acquire(self, now: float) -> bool:
        """Loss semantics: take a unit at ``now`` if one is free."""
        self.advance(now)
        if self.busy < self.capacity:
            self.busy += 1
            self.acquired += 1
            if self.busy > self.peak:
                self.peak = self.busy
            return True
        self.refused += 1
        return False

    def acquire(self, now: float, on_grant: Callable[[float], None]) -> bool:
        """Queue semantics: grant now (returns True, ``on_grant`` not called) or enqueue
        ``on_grant`` to be called with the grant time when a unit is released."""
        if self.try_acquire(now):
            return True
        self.refused -= 1  # a wait, not a refusal
        if not self.queue:
            self.refused += 1
            return False
        self.waiting.append((now, on_grant))
        return False

    def release(self, now: float) -> None:
        """Release a unit at ``now`` (eager); hands it to the first waiter if any."""
        self.advance(now)
        if self.waiting:
            _, cb = self.waiting.popleft()
            self.acquired += 1
            cb(now)
        else:
            self.busy -= 1

    def release_at(self, t: float) -> None:
        """Schedule a release at time ``t`` without an event (loss pools only)."""
        if self.queue:
            raise RuntimeError("scheduled releases would starve waiters; use release()")
        heapq.heappush(self._releases, t)
