"""Distributions: samples agree with the analytic mean, variance and quantiles."""

import math

import numpy as np
import pytest

from simulator.primitives.distributions import (
    Exponential,
    Fixed,
    LogNormal,
    Pareto,
    Uniform,
    make_distribution,
)

CASES = [
    Fixed(3.0),
    Exponential(2.0),
    LogNormal(0.02, 0.5),
    Uniform(1.0, 4.0),
    Pareto(4.5, 10.0),
]


@pytest.mark.parametrize("d", CASES, ids=lambda d: type(d).__name__)
def test_sample_moments_match_theory(d):
    rng = np.random.default_rng(3)
    x = d.sample(rng, 400_000)
    se = math.sqrt(d.variance / x.size) if d.variance > 0 else 0.0
    assert abs(x.mean() - d.mean) <= 4 * se + 1e-12
    if d.variance > 0:
        # the variance of the sample variance needs the 4th moment; 5% is > 4 SE for these
        assert x.var() == pytest.approx(d.variance, rel=0.05)
    for q in (0.5, 0.9, 0.99):
        assert np.quantile(x, q) == pytest.approx(d.quantile(q), rel=0.02)


def test_lognormal_from_p99():
    d = make_distribution({"kind": "lognormal", "median": 0.02, "p99": 0.1})
    assert d.quantile(0.5) == pytest.approx(0.02)
    assert d.quantile(0.99) == pytest.approx(0.1)


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown distribution"):
        make_distribution({"kind": "weibull"})
