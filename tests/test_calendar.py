"""The session calendar: a compact stand-in for a heap of ``(t, slot, gen)`` tuples, checked
against a heap entry by entry."""

import heapq
import math

import numpy as np
import pytest

from simulator.primitives import calendar
from simulator.primitives.calendar import SessionCalendar


def _replay(width_s: float, seed: int, steps: int = 300):
    """Random pushes (single and bulk, due now, in the past, tied, never) and pumps at an
    accumulated float clock, on the calendar and on a heap: both pop lists."""
    rng = np.random.default_rng(seed)
    cal, heap = SessionCalendar(width_s), []
    got, want = [], []
    window, now, slot = 0.7, 0.0, 0
    for _ in range(steps):
        horizon = now + window
        got.append(list(zip(*cal.pop_due(horizon))))
        out = []
        while heap and heap[0][0] < horizon:
            out.append(heapq.heappop(heap))
        want.append(out)
        k = int(rng.integers(0, 40))
        t = now + rng.exponential(20.0, k)
        t[rng.random(k) < 0.2] = now - rng.random()           # in a bucket already read
        t[rng.random(k) < 0.2] = np.round(now) + 3.0           # ties in time
        t[rng.random(k) < 0.05] = math.inf                     # never due
        gens = rng.integers(0, 3, k)
        slots = slot + rng.integers(0, 5, k)                   # ties in slot too
        slot += 5
        if rng.random() < 0.5:
            cal.push_many(t, slots, gens)
        else:
            for e in zip(t.tolist(), slots.tolist(), gens.tolist()):
                cal.push(*e)
        for e in zip(t.tolist(), slots.tolist(), gens.tolist()):
            heapq.heappush(heap, e)
        now += window
    return got, want, cal, heap


@pytest.mark.parametrize("width_s", [0.7, 0.25, 11.2, 3.0])
def test_the_calendar_pops_what_a_heap_of_tuples_pops_in_the_same_order(width_s):
    got, want, cal, heap = _replay(width_s, seed=int(width_s * 100))
    assert sum(len(x) for x in want) > 2000
    assert got == want
    assert len(cal) == len(heap)                               # the rest is still there
    assert sorted(zip(*cal.pop_due(math.inf))) == sorted(e for e in heap if e[0] < math.inf)


def test_the_calendar_keeps_times_bit_for_bit():
    cal = SessionCalendar(1.0)
    t = np.array([0.1 + 0.2, 1e-300, 5e15 + 0.5, 2.0 ** 70, np.nextafter(3.0, 0.0)])
    cal.push_many(t, np.arange(t.size), np.zeros(t.size, dtype=np.int64))
    times, slots, gens = cal.pop_due(2.0 ** 71)
    assert times == sorted(t.tolist()) and all(type(x) is float for x in times)
    assert all(type(x) is int for x in slots + gens)


def test_a_calendar_needs_a_positive_width():
    with pytest.raises(ValueError, match="width_s"):
        SessionCalendar(0.0)


@pytest.mark.parametrize("block", [7, 2 ** 16])
def test_push_many_in_blocks_fills_each_bucket_in_the_order_of_single_pushes(block, monkeypatch):
    monkeypatch.setattr(calendar, "_PUSH_BLOCK", block)
    rng = np.random.default_rng(block)
    n = 3 * block + 5                        # several blocks and a short last one
    t = rng.exponential(30.0, n)
    t[rng.random(n) < 0.1] = 12.5            # ties across blocks
    slots, gens = rng.permutation(n), rng.integers(0, 3, n)
    bulk, one = SessionCalendar(2.0), SessionCalendar(2.0)
    bulk.push_many(t, slots, gens)
    for e in zip(t.tolist(), slots.tolist(), gens.tolist()):
        one.push(*e)
    assert bulk._buckets.keys() == one._buckets.keys()
    for key, (bt, bs, bg) in one._buckets.items():
        assert bulk._buckets[key] == (bt, bs, bg), key
