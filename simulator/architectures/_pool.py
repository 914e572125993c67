"""Compiled greedy post pool (experiment, issue 11): the same list scheduling as
:meth:`Fanout.start`'s heapq loop, with the same float64 sums, so the same starts and end bit for
bit (a min-heap pops the same values whatever the order of equal ones). ``greedy`` is None
without numba, and the caller falls back to heapq."""

from __future__ import annotations

try:
    import numpy as np
    from numba import njit
except ImportError:   # pragma: no cover - numba is optional
    greedy = None
else:
    @njit(cache=True, nogil=True)
    def _greedy(L, i0, n, P, out, o):   # pragma: no cover - compiled
        """Posts ``L[i0:i0+n]`` on ``P`` calls: writes each post's start offset at
        ``out[o:o+n]`` (0 for the first ``P``) when ``n > P``; returns the last completion."""
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
            j = s
            v = h[j]
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
        for k in range(P, n):
            t = h[0]
            out[o + k] = t
            v = t + np.float64(L[i0 + k])
            j = 0
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
        mx = h[0]
        for k in range(1, P):
            if h[k] > mx:
                mx = h[k]
        return mx

    greedy = _greedy
