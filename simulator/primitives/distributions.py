"""Small distribution objects: ``sample(rng, n)`` plus analytic ``mean`` and ``variance``.

Parameters are in the unit of the field that holds the distribution (seconds for ``*_s``,
bytes for ``*_bytes``). Tests check samples against the analytic moments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# z-score of the 99th percentile of a standard normal (used to turn a p99 into a sigma).
Z99 = 2.3263478740408408

_erf = np.frompyfunc(math.erf, 1, 1)


def normal_cdf(z) -> np.ndarray:
    """Standard normal CDF, elementwise: (1 + erf(z / sqrt 2)) / 2."""
    z = np.asarray(z, dtype=float)
    return 0.5 * (1.0 + _erf(z / math.sqrt(2.0)).astype(float))


class Distribution:
    """Base class: subclasses implement ``sample``, ``mean``, ``variance``, ``quantile``."""

    def sample32(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws as float32 (for bulk per-delivery latencies)."""
        return self.sample(rng, n).astype(np.float32)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    @property
    def mean(self) -> float:  # pragma: no cover
        raise NotImplementedError

    @property
    def variance(self) -> float:  # pragma: no cover
        raise NotImplementedError

    def quantile(self, q: float) -> float:  # pragma: no cover
        raise NotImplementedError

    def cdf(self, x) -> np.ndarray:  # pragma: no cover
        """P(X <= x), elementwise."""
        raise NotImplementedError

    @property
    def upper(self) -> float:
        """Largest possible value (inf when unbounded)."""
        return math.inf


@dataclass(frozen=True)
class Fixed(Distribution):
    value: float

    def sample(self, rng, n):
        return np.full(n, self.value, dtype=float)

    @property
    def mean(self):
        return self.value

    @property
    def variance(self):
        return 0.0

    def quantile(self, q):
        return self.value

    def cdf(self, x):
        return (np.asarray(x, dtype=float) >= self.value).astype(float)

    @property
    def upper(self):
        return self.value


@dataclass(frozen=True)
class Exponential(Distribution):
    mean_value: float

    def sample(self, rng, n):
        return rng.exponential(self.mean_value, n)

    @property
    def mean(self):
        return self.mean_value

    @property
    def variance(self):
        return self.mean_value**2

    def quantile(self, q):
        return -self.mean_value * math.log1p(-q)

    def cdf(self, x):
        x = np.maximum(np.asarray(x, dtype=float), 0.0)
        return -np.expm1(-x / self.mean_value)


@dataclass(frozen=True)
class LogNormal(Distribution):
    """Log-normal given by its median and the standard deviation ``sigma`` of ln(X)."""

    median: float
    sigma: float

    def sample(self, rng, n, dtype=np.float64):
        # exp of a ziggurat normal: same law as rng.lognormal, about twice as fast
        # (float32 halves the cost again where 7 significant digits are plenty)
        x = rng.standard_normal(n, dtype=dtype)
        x *= self.sigma
        x += math.log(self.median)
        return np.exp(x, out=x)

    def sample32(self, rng, n):
        return self.sample(rng, n, dtype=np.float32)

    @property
    def mean(self):
        return self.median * math.exp(self.sigma**2 / 2)

    @property
    def variance(self):
        s2 = self.sigma**2
        return (math.exp(s2) - 1) * self.median**2 * math.exp(s2)

    def quantile(self, q):
        from statistics import NormalDist

        return self.median * math.exp(self.sigma * NormalDist().inv_cdf(q))

    def cdf(self, x):
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore"):
            z = (np.log(np.maximum(x, 0.0)) - math.log(self.median)) / self.sigma
        return normal_cdf(z)


@dataclass(frozen=True)
class Uniform(Distribution):
    low: float
    high: float

    def sample(self, rng, n):
        return rng.uniform(self.low, self.high, n)

    @property
    def mean(self):
        return (self.low + self.high) / 2

    @property
    def variance(self):
        return (self.high - self.low) ** 2 / 12

    def quantile(self, q):
        return self.low + q * (self.high - self.low)

    def cdf(self, x):
        x = np.asarray(x, dtype=float)
        return np.clip((x - self.low) / (self.high - self.low), 0.0, 1.0)

    @property
    def upper(self):
        return self.high


@dataclass(frozen=True)
class Pareto(Distribution):
    """Pareto (type I): ``P(X > x) = (scale/x)**shape`` for x >= scale. Heavy tails."""

    shape: float
    scale: float

    def sample(self, rng, n):
        return self.scale * (1.0 + rng.pareto(self.shape, n))

    @property
    def mean(self):
        return math.inf if self.shape <= 1 else self.shape * self.scale / (self.shape - 1)

    @property
    def variance(self):
        a = self.shape
        if a <= 2:
            return math.inf
        return self.scale**2 * a / ((a - 1) ** 2 * (a - 2))

    def quantile(self, q):
        return self.scale * (1 - q) ** (-1 / self.shape)

    def cdf(self, x):
        x = np.maximum(np.asarray(x, dtype=float), self.scale)
        return 1.0 - (self.scale / x) ** self.shape


def make_distribution(spec: dict) -> Distribution:
    """Build a distribution from an already-validated spec dict (see ``scenario.DistSpec``)."""
    kind = spec["kind"]
    if kind == "fixed":
        return Fixed(float(spec["value"]))
    if kind == "exponential":
        return Exponential(float(spec["mean"]))
    if kind == "lognormal":
        median = float(spec["median"])
        sigma = spec.get("sigma")
        if sigma is None:
            sigma = math.log(float(spec["p99"]) / median) / Z99
        return LogNormal(median, float(sigma))
    if kind == "uniform":
        return Uniform(float(spec["low"]), float(spec["high"]))
    if kind == "pareto":
        return Pareto(float(spec["shape"]), float(spec["scale"]))
    raise ValueError(f"kind = {kind!r}: unknown distribution")
