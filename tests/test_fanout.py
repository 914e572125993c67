"""Fan-out engine: the greedy post pool on exact timelines, and the throttled path's
token grants, SDK retries and retry quota."""

import numpy as np
import pytest
import simpy

from simulator.architectures.fanout import Fanout
from simulator.aws.api_gateway import AccountThrottle
from simulator.aws.sdk import RetryPolicy
from simulator.metrics.histogram import LogHistogram
from simulator.metrics.recorder import Recorder
from simulator.primitives.distributions import Fixed
from simulator.primitives.token_bucket import TokenBucket


def engine(bucket, P=5, post=0.1, retry=None, done=None):
    env = simpy.Environment()
    results = [] if done is None else done
    rec = Recorder()
    f = Fanout(env, AccountThrottle(bucket, "r", rec.breaches), Fixed(post), Fixed(0.0),
               retry or RetryPolicy(3, 0.5, 20, 500, 5, 1), P, LogHistogram(),
               np.random.default_rng(1), 0.01, 2000, 256,
               lambda ctx, res: results.append((env.now, ctx, res)), rec, "r")
    return env, f, results


def test_greedy_pool_timeline_when_the_throttle_does_not_bind():
    env, f, _ = engine(TokenBucket(1e6, 1e6), P=5, post=0.1)
    res = f.start(0.0, 0.0, 12, 0, 0, 30.0, True, "m")
    # 12 posts of 0.1 s through 5 calls in flight: rounds end at 0.1, 0.2, 0.3
    assert res.succeeded == 12 and res.end == pytest.approx(0.3)
    f.flush()
    # deliveries complete at 0.1 (5), 0.2 (5), 0.3 (2); the downlink is 0 here
    assert f.hist.n == 12
    assert f.hist.quantile(0.4) == pytest.approx(0.1, rel=0.01)
    assert f.hist.quantile(0.8) == pytest.approx(0.2, rel=0.01)
    assert f.hist.max == pytest.approx(0.3)


def test_lambda_timeout_cuts_a_fan_out_and_refunds_unsent_tokens():
    bucket = TokenBucket(1e-6, 100)
    env, f, _ = engine(bucket, P=5, post=0.1)
    res = f.start(0.0, 0.0, 20, 0, 0, 0.25, True, "m")
    # sends start at 0, 0.1, 0.2 (15 posts) before the 0.25 s timeout; 5 never go out
    assert (res.succeeded, res.failed, res.failed_live) == (15, 5, 5)
    assert res.end == 0.25
    assert bucket.level(0.0) == pytest.approx(100 - 15)


def test_throttled_fan_out_gets_what_the_bucket_holds_then_fails_without_retries():
    bucket = TokenBucket(1e-6, 10)
    env, f, done = engine(bucket, P=5, post=0.1, retry=RetryPolicy(1, 0.5, 20, 500, 5, 1))
    assert f.start(0.0, 0.0, 20, 0, 0, 30.0, True, "m") is None      # slow path
    env.run(until=5)
    (t, ctx, res), = done
    assert ctx == "m"
    assert (res.succeeded, res.failed) == (10, 10)
    assert res.failed_live == 10
    assert f.in_flight_posts == 0


def test_sdk_retries_are_bounded_by_attempts_and_the_retry_quota():
    # no tokens at all: every post is refused; 3 attempts each unless the quota runs out
    bucket = TokenBucket(1e-6, 1)
    bucket.try_take(0.0)
    env, f, done = engine(bucket, P=4, post=0.01, retry=RetryPolicy(3, 0.05, 1, 10, 5, 1))
    f.start(0.0, 0.0, 8, 0, 0, 60.0, False, "m")
    env.run(until=30)
    (_, _, res), = done
    assert (res.succeeded, res.failed) == (0, 8)
    # a quota of 10 tokens at 5 per retry allows 2 retries in all
    assert f.rec.c["api_gateway.throttled_posts"] == 8 + 2


def test_stale_rows_are_counted_exactly_in_the_throttled_path():
    bucket = TokenBucket(200, 1)
    env, f, done = engine(bucket, P=10, post=0.02, retry=RetryPolicy(10, 0.05, 1, 1e9, 0, 0))
    f.start(0.0, 0.0, 50, 30, 20, 60.0, True, "m")
    env.run(until=30)
    (_, _, res), = done
    assert res.succeeded + res.accepted_stale + res.gone + res.failed == 100
    assert (res.succeeded, res.accepted_stale, res.gone) == (50, 30, 20)


def test_a_large_pool_drawn_as_renewal_processes_keeps_the_greedy_timeline():
    """Fixed latencies: 33 posts on 5 sockets (over 6 rounds of the pool, so drawn as renewal
    processes) start round by round, ties at the last round broken to exactly 33."""
    env, f, _ = engine(TokenBucket(1e6, 1e6), P=5, post=0.1)
    send, lat, dur = f._renewal_pool(33)
    want = np.repeat(np.arange(7), 5)[:33] * 0.1
    np.testing.assert_allclose(send, want, atol=1e-12)
    assert lat.size == 33 and (lat == np.float32(0.1)).all()
    assert dur == pytest.approx(0.7)
    res = f.start(0.0, 0.0, 33, 0, 0, 30.0, True, "m")
    assert res.succeeded == 33 and res.end == pytest.approx(0.7)
    f.flush()
    assert f.hist.n == 33 and f.hist.max == pytest.approx(0.7)


def _greedy(lat, P):
    """The reference: the heap, one post at a time (start offsets, end)."""
    import heapq

    h = list(lat[:P])
    heapq.heapify(h)
    starts = [0.0] * P + [heapq.heapreplace(h, h[0] + x) for x in lat[P:]]
    return np.array(starts), max(h)


@pytest.mark.parametrize("n", [201, 3000])
def test_renewal_pool_has_the_law_of_the_greedy_heap(n):
    """End time and start offsets of 800 pools of log-normal posts, renewal vs heap: the
    two-sample Kolmogorov-Smirnov distance of the ends within its 0.1% critical value, the
    mean start offset within 4 standard errors."""
    from simulator.primitives.distributions import LogNormal

    P, pools, post = 50, 800, LogNormal(0.03, 0.6)
    rec = Recorder()
    f = Fanout(simpy.Environment(), AccountThrottle(TokenBucket(1e9, 1e9), "r", rec.breaches),
               post, Fixed(0.0), RetryPolicy(3, 0.5, 20, 500, 5, 1), P, LogHistogram(),
               np.random.default_rng(5), 0.01, 10**6, 256, lambda ctx, res: None, rec, "r")
    rng = np.random.default_rng(6)
    ren = [f._renewal_pool(n) for _ in range(pools)]
    ref = [_greedy(post.sample(rng, n), P) for _ in range(pools)]
    ends_r, ends_h = np.array([r[2] for r in ren]), np.array([r[1] for r in ref])
    grid = np.sort(np.concatenate((ends_r, ends_h)))
    d = np.abs(np.searchsorted(np.sort(ends_r), grid, side="right")
               - np.searchsorted(np.sort(ends_h), grid, side="right")).max() / pools
    assert d < 1.95 * (2 / pools) ** 0.5
    mean_r, mean_h = np.array([r[0].mean() for r in ren]), np.array([r[0].mean() for r in ref])
    se = ((mean_r.var() + mean_h.var()) / pools) ** 0.5
    assert abs(mean_r.mean() - mean_h.mean()) < 4 * se
    assert all(r[0].size == n and r[1].size == n for r in ren)
    assert all(r[2] == pytest.approx((r[0] + r[1]).max()) for r in ren)
