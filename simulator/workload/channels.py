"""Channels: how many, how big, and which channel a new connection joins."""

from __future__ import annotations

import numpy as np


class ChannelPlan:
    """Channel sizes drawn from the scenario's size distribution until they cover the
    client population; a new connection joins channel ``c`` with probability proportional
    to its target size (so the connected members of ``c`` average ``size_c`` x the share of
    clients online).

    Parameters
    ----------
    size_dist : Distribution
        Target members per channel (rounded to an integer >= 1).
    clients : int
        Client population to cover.
    rng : numpy Generator
        The ``channels`` stream.
    """

    def __init__(self, size_dist, clients: int, rng: np.random.Generator):
        need = max(int(clients), 1)
        sizes: list[np.ndarray] = []
        total = 0
        mean = size_dist.mean
        batch = max(16, int(need / max(mean if np.isfinite(mean) else 1.0, 1.0) * 1.2) + 16)
        while total < need:
            s = np.maximum(np.rint(size_dist.sample(rng, batch)), 1).astype(np.int64)
            cum = total + np.cumsum(s)
            k = int(np.searchsorted(cum, need, side="left"))
            if k < s.size:
                sizes.append(s[: k + 1])
                total = int(cum[k])
                break
            sizes.append(s)
            total = int(cum[-1])
        self.sizes = np.concatenate(sizes)
        self.n = int(self.sizes.size)
        self.cum = np.cumsum(self.sizes, dtype=float)
        self.cum /= self.cum[-1]

    def assign(self, u: np.ndarray) -> np.ndarray:
        """Channel indices for uniforms ``u`` in [0, 1)."""
        return np.minimum(np.searchsorted(self.cum, u, side="right"), self.n - 1)
