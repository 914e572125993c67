"""The compiled greedy post pool against Python's heapq doing the same list scheduling: the
same start offsets and the same end, bit for bit, on random latencies and pool sizes."""

from heapq import heapify, heapreplace

import numpy as np
import pytest

from simulator.architectures._pool import greedy


def heapq_pool(lat: list[float], P: int) -> tuple[list[float], float]:
    """The reference: the first ``P`` posts start at 0, each later one when the earliest busy
    call completes."""
    if len(lat) <= P:
        return [0.0] * len(lat), max(lat)
    h = lat[:P]
    heapify(h)
    starts = [0.0] * P + [heapreplace(h, h[0] + x) for x in lat[P:]]
    return starts, max(h)


@pytest.mark.parametrize("P", [1, 2, 7, 50])
@pytest.mark.parametrize("n", [1, 5, 50, 51, 333])
def test_compiled_pool_equals_heapq_bit_for_bit(P, n):
    rng = np.random.default_rng(P * 1000 + n)
    L = rng.lognormal(np.log(0.03), 0.6, n + 20).astype(np.float32)
    i0 = 7
    out = np.full(n + 10, -1.0)
    end = greedy(L, i0, n, P, out, 3)
    starts, ref_end = heapq_pool(L[i0:i0 + n].tolist(), P)
    assert end == ref_end
    if n > P:
        assert out[3:3 + n].tolist() == starts
    else:
        assert (out == -1.0).all()    # nothing written when every post starts at once


def test_ties_pop_the_same_values():
    L = np.array([0.1, 0.1, 0.2, 0.1, 0.1, 0.3, 0.1], dtype=np.float32)
    out = np.zeros(L.size)
    end = greedy(L, 0, L.size, 3, out, 0)
    starts, ref_end = heapq_pool(L.tolist(), 3)
    assert (out.tolist(), end) == (starts, ref_end)
