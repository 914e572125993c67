"""Named, independent random streams from one seed.

Each stochastic input draws from its own ``numpy.random.Generator``, derived from the run's
seed and the *name* of the stream (not its creation order), so adding a stream leaves every
other stream unchanged, and variants compared on one seed see the same workload (common
random numbers). There is no global generator anywhere in the package.
"""

from __future__ import annotations

import zlib

import numpy as np


def _name_key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


class Streams:
    """Factory of named generators for one run.

    Parameters
    ----------
    seed : int
        The run's seed (scenario ``seed``).
    """

    def __init__(self, seed: int):
        self.seed = int(seed)
        self._gens: dict[str, np.random.Generator] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        g = self._gens.get(name)
        if g is None:
            ss = np.random.SeedSequence(entropy=self.seed, spawn_key=(_name_key(name),))
            g = np.random.Generator(np.random.PCG64(ss))
            self._gens[name] = g
        return g

    def buffered(self, name: str, dist, block: int = 4096) -> BufferedDraws:  # not a catalog value
        """Pre-drawn blocks of ``dist`` on stream ``name`` for per-event scalar draws."""
        return BufferedDraws(self[name], dist, block)


class BufferedDraws:
    """Scalar draws served from numpy blocks (a numpy call per draw costs ~1 µs)."""

    __slots__ = ("rng", "dist", "block", "_buf", "_i")

    def __init__(self, rng: np.random.Generator, dist, block: int = 4096):  # not a catalog value
        self.rng = rng
        self.dist = dist
        self.block = block
        self._buf: list[float] = []
        self._i = 0

    def __call__(self) -> float:
        i = self._i
        if i >= len(self._buf):
            self._buf = self.dist.sample(self.rng, self.block).tolist()
            i = 0
        self._i = i + 1
        return self._buf[i]
