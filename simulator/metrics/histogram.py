"""Log-bucketed histogram with bounded relative error (DDSketch-style buckets).

Bucket i covers (gamma**(i-1), gamma**i] with gamma = (1+alpha)/(1-alpha); reporting the
bucket's midpoint 2*gamma**i/(gamma+1) gives a relative error of at most alpha for any
quantile of the recorded values. Samples are added in numpy batches (about 30 ns each);
weights allow sub-sampled fan-outs to stand for all their deliveries.
"""

from __future__ import annotations

import math

import numpy as np


class LogHistogram:
    """Histogram of positive values (seconds) with relative quantile error <= ``alpha``.

    Parameters
    ----------
    alpha : float
        Relative accuracy (0.005 = 0.5%).
    lo, hi : float
        Range covered; values outside are clamped into the first/last bucket.

    Notes
    -----
    Masson, Rim, Lee, "DDSketch: a fast and fully-mergeable quantile sketch with
    relative-error guarantees", VLDB 2019. The mean and standard deviation are exact (running
    weighted sums), not taken from the buckets.
    """

    def __init__(self, alpha: float = 0.005, lo: float = 1e-6, hi: float = 1e5):  # not a catalog value
        self.alpha = alpha
        self.gamma = (1 + alpha) / (1 - alpha)
        self.inv_lg = 1.0 / math.log(self.gamma)
        self.off = math.ceil(math.log(lo) * self.inv_lg)
        self.nb = math.ceil(math.log(hi) * self.inv_lg) - self.off + 1
        self.counts = np.zeros(self.nb)
        self.n = 0.0
        self.sum = 0.0
        self.sumsq = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add(self, x: np.ndarray, w: np.ndarray | float | None = None) -> tuple | None:
        """Record values ``x`` (> 0) with optional weights (scalar or per value). Returns
        (bucket index per value, weight added per bucket) for a :class:`StageHistogram` of
        the same values to reuse (None when ``x`` is empty)."""
        x = np.asarray(x, dtype=float)
        if x.size == 0:
            return None
        idx = np.ceil(np.log(np.maximum(x, 1e-300)) * self.inv_lg).astype(np.int64) - self.off
        np.clip(idx, 0, self.nb - 1, out=idx)
        if w is None:
            inc = np.bincount(idx, minlength=self.nb)
            self.counts += inc
            self.n += x.size
            self.sum += float(x.sum())
            self.sumsq += float(np.dot(x, x))
        else:
            wa = np.broadcast_to(np.asarray(w, dtype=float), x.shape)
            inc = np.bincount(idx, weights=wa, minlength=self.nb)
            self.counts += inc
            self.n += float(wa.sum())
            self.sum += float(np.dot(wa, x))
            self.sumsq += float(np.dot(wa, x * x))
        self.min = min(self.min, float(x.min()))
        self.max = max(self.max, float(x.max()))
        return idx, inc

    def add_one(self, x: float) -> None:
        """Record one value (> 0): what :meth:`add` of a one-element array records, without
        the arrays (a connection's handshake, one at a time)."""
        i = math.ceil(math.log(max(x, 1e-300)) * self.inv_lg) - self.off
        self.counts[min(max(i, 0), self.nb - 1)] += 1.0
        self.n += 1
        self.sum += x
        self.sumsq += x * x
        self.min = min(self.min, x)
        self.max = max(self.max, x)

    def merge(self, other: LogHistogram) -> None:
        if other.nb != self.nb or other.gamma != self.gamma:
            raise ValueError("histograms with different buckets cannot be merged")
        self.counts += other.counts
        self.n += other.n
        self.sum += other.sum
        self.sumsq += other.sumsq
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def quantile(self, q: float) -> float:
        """Value below which a fraction ``q`` of the recorded weight lies (nan if empty)."""
        if not 0 <= q <= 1:
            raise ValueError(f"q = {q!r}: must be within [0, 1]")
        if self.n <= 0:
            return math.nan
        cum = np.cumsum(self.counts)
        i = int(np.searchsorted(cum, q * cum[-1], side="left"))
        i = min(i, self.nb - 1)
        v = 2.0 * self.gamma ** (i + self.off) / (self.gamma + 1.0)
        return float(min(max(v, self.min), self.max))

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n > 0 else math.nan

    @property
    def std(self) -> float:
        if self.n <= 0:
            return math.nan
        m = self.mean
        return math.sqrt(max(self.sumsq / self.n - m * m, 0.0))

    def cdf(self) -> tuple[np.ndarray, np.ndarray]:
        """(values, cumulative fraction) at bucket midpoints with non-zero weight."""
        nz = np.nonzero(self.counts)[0]
        if nz.size == 0:
            return np.array([]), np.array([])
        vals = 2.0 * self.gamma ** (nz + self.off) / (self.gamma + 1.0)
        cum = np.cumsum(self.counts[nz]) / self.counts.sum()
        return vals, cum
