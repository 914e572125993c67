"""Log histogram: <= 1% relative error on quantiles, exact mean, weights, bounded size."""

import numpy as np
import pytest

from simulator.metrics.histogram import LogHistogram

QS = [0.01, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 0.9999]


@pytest.mark.parametrize("name", ["lognormal", "mixture", "pareto"])
def test_quantile_relative_error_below_one_percent(name):
    rng = np.random.default_rng(11)
    n = 1_000_000
    if name == "lognormal":
        x = rng.lognormal(np.log(0.05), 0.5, n)
    elif name == "mixture":
        x = np.where(rng.random(n) < 0.95, rng.lognormal(np.log(0.05), 0.3, n),
                     rng.lognormal(np.log(1.2), 0.3, n))
    else:
        x = 0.01 * (1 + rng.pareto(1.5, n))
    h = LogHistogram()
    for chunk in np.array_split(x, 7):
        h.add(chunk)
    for q in QS:
        exact = np.quantile(x, q, method="inverted_cdf")
        assert abs(h.quantile(q) / exact - 1) <= 0.01, (q, h.quantile(q), exact)
    assert h.mean == pytest.approx(x.mean(), rel=1e-9)
    assert h.std == pytest.approx(x.std(), rel=1e-6)


def test_weights_stand_for_repeated_values():
    rng = np.random.default_rng(1)
    x = rng.lognormal(0, 1, 10_000)
    a, b = LogHistogram(), LogHistogram()
    a.add(np.repeat(x, 3))
    b.add(x, 3.0)
    assert np.array_equal(a.counts, b.counts)
    assert b.n == a.n and b.mean == pytest.approx(a.mean)


def test_merge_equals_single_histogram():
    rng = np.random.default_rng(2)
    x = rng.exponential(0.1, 50_000)
    a, b, c = LogHistogram(), LogHistogram(), LogHistogram()
    a.add(x[:20_000])
    b.add(x[20_000:])
    c.add(x)
    a.merge(b)
    assert np.array_equal(a.counts, c.counts)
    assert a.quantile(0.99) == c.quantile(0.99)


def test_size_is_bounded_and_empty_is_nan():
    h = LogHistogram()
    assert h.counts.nbytes <= 64 * 1024
    assert np.isnan(h.quantile(0.5)) and np.isnan(h.mean)
    with pytest.raises(ValueError):
        h.quantile(1.5)


def test_add_one_records_what_add_of_a_one_element_array_records():
    rng = np.random.default_rng(4)
    x = np.concatenate((rng.lognormal(-3.0, 2.0, 5000), [1e-9, 3e6, 0.0]))   # clamped too
    one, arr = LogHistogram(), LogHistogram()
    for v in x.tolist():
        one.add_one(v)
        arr.add(np.array([v]))
    np.testing.assert_array_equal(one.counts, arr.counts)
    assert (one.n, one.sum, one.sumsq, one.min, one.max) == \
        (arr.n, arr.sum, arr.sumsq, arr.min, arr.max)
