"""The greedy post pool of a fan-out, compiled (numba): list scheduling of ``n`` posts on ``P``
concurrent calls, FIFO, as the SDK's HTTP agent does (the first ``P`` start at once, each later
post when the earliest busy call completes).

A binary min-heap of the calls' free times in float64: each later post starts at the heap's
minimum and the call is free again at that minimum plus the post's latency, the same values and
sums as :mod:`heapq` gives (a min-heap pops the same values whatever the order of equal ones), so
starts and end are the same bit for bit (``tests/test_fanout_pool.py`` checks it against heapq).
"""

from __future__ import annotations

import numpy as np
from numba import njit  # type: ignore[import-not-found]


@njit(cache=True, nogil=True)
def _sift_down(h, j, v, P):   # pragma: no cover - compiled
    """Put ``v`` at ``h[j]`` and move it down the heap of ``P`` free times."""
    while True:
        c = 2 * j + 1
        if c >= P:
            break
        if c + 1 < P and h[c + 1] < h[c]:
            c += 1
        if h[c] < v:
            h[j] = h[c]
            j = c
        else:
            break
    h[j] = v


@njit(cache=True, nogil=True)
def greedy(L, i0, n, P, out, o):   # pragma: no cover - compiled
    """Posts of latencies ``L[i0:i0+n]`` on ``P`` calls. When ``n > P``, writes each post's start
    offset at ``out[o:o+n]`` (0 for the first ``P``). Returns the last completion."""
    if n <= P:
        mx = np.float64(L[i0])
        for k in range(1, n):
            v = np.float64(L[i0 + k])
            if v > mx:
                mx = v
        return mx
    h = np.empty(P)
    for k in range(P):
        h[k] = L[i0 + k]
        out[o + k] = 0.0
    for s in range(P // 2 - 1, -1, -1):
        _sift_down(h, s, h[s], P)
    for k in range(P, n):
        t = h[0]
        out[o + k] = t
        _sift_down(h, 0, t + np.float64(L[i0 + k]), P)
    mx = h[0]
    for k in range(1, P):
        if h[k] > mx:
            mx = h[k]
    return mx
