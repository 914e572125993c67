"""The cheapest SimPy event: a timeout that calls one function.

``simpy.Timeout`` checks its delay and goes through ``Environment.schedule``; on the hot path
(two events per published message) that overhead is measurable. ``call_at`` builds the same
kind of event and pushes it on SimPy's queue directly; SimPy processes it like any timeout.
"""

from __future__ import annotations

from heapq import heappush

from simpy.events import NORMAL, Event


class Call(Event):
    """A triggered event, due after ``delay``, whose only callback is ``fn(event)``;
    ``event._value`` carries ``value``."""

    def __init__(self, env, delay: float, fn, value):
        self.env = env
        self.callbacks = [fn]
        self._value = value
        self._ok = True
        heappush(env._queue, (env._now + (delay if delay > 0 else 0.0), NORMAL, next(env._eid), self))
