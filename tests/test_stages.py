"""What a delivery's latency is made of: stage sums on an exact timeline equal the hand
calculation, the shares at a quantile add up to 1, and a bound on post slots shows as slot
waiting (and goes when the slots do)."""

import numpy as np
import pytest

import simulator as sim
from simulator.metrics.stages import STAGES
from tests.conftest import small
from tests.test_designs import HANDLER, INIT, ONEWAY, POST, ROUTE, P, one_message, query


def test_stage_sums_of_one_fan_out_are_the_hand_calculation():
    """999 recipients, P = 50 sockets, every latency fixed: each delivery's network legs,
    API Gateway, cold start, handler and query are the message's; its slot wait is its round
    times the post latency; the post call is one post latency."""
    n = 1000
    arch = one_message("basic", n)
    sums = dict(zip(STAGES, arch.stage_hist.sums.sum(axis=1)))
    k = n - 1
    rounds = np.arange(k) // P
    assert sums["network"] == pytest.approx(k * 2 * ONEWAY)
    assert sums["api_gateway"] == pytest.approx(k * ROUTE)
    assert sums["lambda_cold_start"] == pytest.approx(k * INIT)
    assert sums["lambda_handler"] == pytest.approx(k * HANDLER)
    assert sums["dynamodb"] == pytest.approx(k * query(n))
    assert sums["post_slot_wait"] == pytest.approx(float((rounds * POST).sum()))
    assert sums["post_call"] == pytest.approx(k * POST)
    assert sums["throttle_wait"] == sums["tier_or_cross_region"] == sums["service"] == 0
    # the stages add up to the latencies recorded
    assert sum(sums.values()) == pytest.approx(arch.hist.sum)


def test_shares_at_a_quantile_add_up_to_one():
    res = sim.run(small("chat-basic", duration_s=120.0, warmup_s=20.0))
    for q in (0.5, 0.99):
        shares = res.latency_stages.shares_at(q)
        assert sum(shares.values()) == pytest.approx(1.0)
        assert set(shares) <= set(STAGES)


def test_a_live_channel_bound_by_post_slots_waits_for_slots_until_there_are_more():
    """5,000 viewers, 1 message/s, the throttle raised out of the way: the p99 is mostly
    waiting for one of the 50 sockets; with 500 sockets that share falls and so does the p99."""
    base = {"workload.clients": 5000, "workload.publish.total_rate_per_s": 1.0,
            "duration_s": 90.0, "warmup_s": 20.0,
            "aws.api_gateway.account_throttle_rps": 100_000.0,
            "aws.api_gateway.account_throttle_burst": 50_000.0}
    few = sim.run(small("livestream-basic", **base))
    many = sim.run(small("livestream-basic", **base, **{"app.posts_in_flight": 500}))
    s_few = few.latency_stages.shares_at(0.99)
    s_many = many.latency_stages.shares_at(0.99)
    assert s_few["post_slot_wait"] > 0.7
    assert s_many.get("post_slot_wait", 0.0) < s_few["post_slot_wait"]
    assert many.summary["latency_p99_ms"] < few.summary["latency_p99_ms"] / 3


def test_a_stage_given_per_record_adds_what_its_expanded_array_adds():
    from simulator.metrics.histogram import LogHistogram
    from simulator.metrics.stages import PerRecord, StageHistogram

    rng = np.random.default_rng(3)
    lens = np.array([3, 1, 5, 2])
    handler, call = rng.random(lens.size), rng.random(lens.sum())
    total = np.repeat(handler, lens) + call
    w = rng.random(total.size)
    hist = LogHistogram()
    binned = hist.add(total, w)
    by_record, expanded = StageHistogram(hist), StageHistogram(hist)
    by_record.add(total, w, {"lambda_handler": PerRecord(handler, lens), "post_call": call},
                  binned)
    expanded.add(total, w, {"lambda_handler": np.repeat(handler, lens), "post_call": call},
                 binned)
    np.testing.assert_array_equal(by_record.sums, expanded.sums)
    assert by_record.sums[STAGES.index("lambda_handler")].sum() == pytest.approx(
        float(np.dot(np.repeat(handler, lens), w)))
