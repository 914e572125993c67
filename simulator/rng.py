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
        self._buffered: dict[str, BufferedDraws] = {}
        self._tallies: dict = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        g = self._gens.get(name)
        if g is None:
            ss = np.random.SeedSequence(entropy=self.seed, spawn_key=(_name_key(name),))
            g = np.random.Generator(np.random.PCG64(ss))
            self._gens[name] = g
        return g

    def buffered(self, name: str, dist, block: int = 4096) -> BufferedDraws:  # not a catalog value
        """Pre-drawn blocks of ``dist`` on stream ``name`` for per-event scalar draws.

        Streams of a distribution object (with ``quantile``) keep a histogram of the draws
        the model consumed (:meth:`drawn`)."""
        tally = None
        if hasattr(dist, "quantile"):
            from simulator.metrics.histogram import LogHistogram

            tally = LogHistogram()
        b = BufferedDraws(self[name], dist, block, tally)
        if tally is not None:
            self._buffered[name] = b
        return b

    def tally(self, name: str):
        """A histogram listed in :meth:`drawn` under ``name``, for draws a component takes in
        bulk (not through :meth:`buffered`); created on first use."""
        from simulator.metrics.histogram import LogHistogram

        h = self._tallies.get(name)
        if h is None:
            h = self._tallies[name] = LogHistogram()
        return h

    def drawn(self) -> dict:
        """Stream name -> :class:`LogHistogram` of the values the model consumed from it
        (each buffered distribution's draws: a component's own measured latency, e.g.
        ``lambda.default.handler``, ``dynamodb``, ``api_gateway``)."""
        out = dict(self._tallies)
        for name, b in self._buffered.items():
            b.flush()
            out[name] = b.tally
        return out


class BufferedDraws:
    """Scalar draws served from numpy blocks (a numpy call per draw costs ~1 µs)."""

    __slots__ = ("rng", "dist", "block", "tally", "_buf", "_i", "_counted")

    def __init__(self, rng: np.random.Generator, dist, block: int = 4096,  # not a catalog value
                 tally=None):
        self.rng = rng
        self.dist = dist
        self.block = block
        self.tally = tally      # LogHistogram of consumed draws (or None)
        self._buf: list[float] = []
        self._i = 0
        self._counted = 0       # draws of the current block already in the tally

    def __call__(self) -> float:
        i = self._i
        if i >= len(self._buf):
            self.flush()   # the block is used up: its draws go to the tally in one call
            self._buf = self.dist.sample(self.rng, self.block).tolist()
            self._counted = 0
            i = 0
        self._i = i + 1
        return self._buf[i]

    def flush(self) -> None:
        """Add the draws consumed since the last flush to the tally."""
        if self.tally is not None and self._i > self._counted:
            self.tally.add(np.asarray(self._buf[self._counted:self._i]))
            self._counted = self._i
