"""Token bucket: exact timelines on hand-made inputs, long-run rate and burst."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.primitives.token_bucket import TokenBucket


def test_exact_timeline_rate_2_capacity_3():
    b = TokenBucket(rate_per_s=2.0, capacity=3.0)
    times = [0.0, 0.0, 0.0, 0.0, 0.25, 0.5, 0.5, 1.0, 1.0, 1.0, 3.0, 3.0, 3.0, 3.0]
    got = [b.try_take(t) for t in times]
    # 3 tokens at t=0; +0.5 at 0.25 (not enough); +1.0 at 0.5 -> one; +1.0 at 1.0 -> one;
    # at 3.0 the bucket is full again (capped at 3), not 4.
    assert got == [True, True, True, False, False, True, False, True, False, False,
                   True, True, True, False]
    assert b.granted == 8 and b.rejected == 6


def test_rejection_takes_nothing_and_partial_refill_counts():
    b = TokenBucket(rate_per_s=1.0, capacity=1.0, initial=0.0)
    assert not b.try_take(0.5)          # 0.5 tokens
    assert b.level(0.5) == pytest.approx(0.5)
    assert b.try_take(1.0)              # 1.0 token exactly
    assert b.level(1.0) == pytest.approx(0.0)


def test_take_up_to_grants_whole_tokens_only():
    b = TokenBucket(rate_per_s=10.0, capacity=5.0)
    assert b.take_up_to(0.0, 8) == 5
    assert b.take_up_to(0.05, 3) == 0   # 0.5 tokens
    assert b.take_up_to(0.35, 3) == 3   # 3.5 tokens
    assert b.level(0.35) == pytest.approx(0.5)
    assert (b.granted, b.rejected) == (8, 6)


def test_multi_token_request_and_set_rate():
    b = TokenBucket(rate_per_s=100.0, capacity=100.0)
    assert b.try_take(0.0, 100)
    assert not b.try_take(0.5, 60)      # 50 available
    b.set_rate(0.5, 10.0, capacity=20.0)
    assert b.level(0.5) == pytest.approx(20.0)  # clipped to the new capacity
    assert not b.try_take(1.0, 21)      # capped at the new capacity
    assert b.try_take(1.0, 20)
    assert b.level(2.0) == pytest.approx(10.0)  # new rate


@pytest.mark.parametrize("load", [0.5, 3.0])
def test_long_run_rate_and_burst(load):
    """Granted requests over [0, T] never exceed burst + rate*T; under overload they reach it."""
    rate, burst, T = 100.0, 50.0, 200.0
    rng = np.random.default_rng(7)
    n = rng.poisson(load * rate * T)
    ts = np.sort(rng.uniform(0, T, n))
    b = TokenBucket(rate, burst)
    granted = sum(b.try_take(t) for t in ts.tolist())
    assert granted <= burst + rate * T
    if load < 1:
        # everything passes except rare local bursts
        assert granted >= 0.995 * n
    else:
        assert granted >= rate * T - 1
        assert granted / T == pytest.approx(rate, rel=0.01)


def test_burst_exactly_capacity_at_one_instant():
    b = TokenBucket(rate_per_s=10_000, capacity=5_000)
    assert sum(b.try_take(1.0) for _ in range(6000)) == 5000


@pytest.mark.parametrize("rate,cap", [(0, 1), (-1, 1), (1, 0.5), (float("inf"), 1)])
def test_invalid_parameters_are_refused(rate, cap):
    with pytest.raises(ValueError, match="must be"):
        TokenBucket(rate, cap)


# -- the account throttle deciding a tick's requests in time order ----------------------------
def test_requests_are_granted_in_time_order_as_tokens_arrive():
    from simulator.aws.api_gateway import AccountThrottle

    th = AccountThrottle(TokenBucket(10.0, 5.0, initial=0.0), "r")
    # tokens arrive at 0.1, 0.2, 0.3: the request at 0.05 finds half a token, 0.1 takes the
    # first, 0.12 finds 0.2 of one, 0.25 takes the second, 0.3 the third
    mask = th.admit_in_order(0.3, "c", np.array([0.25, 0.05, 0.1, 0.3, 0.12]))
    assert mask.tolist() == [True, False, True, True, False]
    assert th.bucket.level(0.3) == pytest.approx(0.0, abs=1e-9)


@given(st.lists(st.floats(0.0, 2.0), min_size=1, max_size=60), st.floats(0.0, 8.0),
       st.floats(0.5, 40.0), st.floats(1.0, 8.0))
def test_time_ordered_grants_equal_one_request_at_a_time(times, initial, rate, cap):
    """The closed form (and its capacity fallback) decides as try_take would, request by
    request in time order."""
    from simulator.aws.api_gateway import AccountThrottle

    ready = np.asarray(times)
    th = AccountThrottle(TokenBucket(rate, cap, initial=min(initial, cap)), "r")
    ref = TokenBucket(rate, cap, initial=min(initial, cap))
    order = np.argsort(ready, kind="stable")
    want = np.empty(ready.size, dtype=bool)
    for i in order:
        want[i] = ref.try_take(float(ready[i]) + 0.0, 1.0 - 1e-9)
    got = th.admit_in_order(float(ready.max()), "c", ready)
    assert got.tolist() == want.tolist()
