"""The fast model agrees with the naive process-per-delivery reference (benchmarks/) on
delivery-latency quantiles, at small size, over seeded replications: the basic design with
and without a binding account throttle, and the SNS fan-out tier with and without one."""

import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import simulator as sim
from benchmarks.naive_reference import NaiveModel, comparison_scenario

SNS = {"architecture": "sns", "app.sns_tier.shards": 4}
CASES = {
    # fan-outs smaller than the pool: every post starts at once
    "channels-of-20": dict(clients=1000, channel_size=20, rate_per_client_per_s=0.1),
    # fan-outs larger than the pool (P = 50): later posts wait for a free call
    "channels-of-120": dict(clients=600, channel_size=120, rate_per_client_per_s=0.05),
    # the same at ~80% of a 4,500 requests/s account throttle with a 250-token burst: most
    # fan-outs find too few tokens for all their posts, ~6% of posts get a 429 and retry (SDK
    # backoff, retry quota); the fast model decides a tick's attempts in time order
    "channels-of-120-throttled": dict(
        clients=600, channel_size=120, rate_per_client_per_s=0.05, account_throttle_rps=4500,
        overrides={"aws.api_gateway.account_throttle_burst": 250}),
    # the same 44% above the throttle (2,500 requests/s): posts and inbound messages compete
    # for the tokens all run long; messages are refused too, in both models alike
    "channels-of-120-overloaded": dict(
        clients=600, channel_size=120, rate_per_client_per_s=0.05, account_throttle_rps=2500,
        overrides={"aws.api_gateway.account_throttle_burst": 250}),
    # SNS tier: 4 worker subscriptions of ~50 posts each per message (channels of ~200)
    "sns-4-shards": dict(clients=400, channel_size=200, rate_per_client_per_s=0.02,
                         overrides=SNS),
    # SNS tier at ~70% of a 2,800 requests/s throttle with a 200-token burst: about half the
    # workers' fan-outs are throttled, ~6% of posts retry
    "sns-4-shards-throttled": dict(
        clients=1000, channel_size=100, rate_per_client_per_s=0.02, account_throttle_rps=2800,
        overrides={**SNS, "aws.api_gateway.account_throttle_burst": 200}),
}
SEEDS = (1, 2, 3, 4)


def _replicate(job):
    """One seed of one case: both models' p50, p99, and the share of post attempts that
    met an empty bucket."""
    case, seed = job
    scn = comparison_scenario(**CASES[case], duration_s=60.0, warmup_s=10.0, seed=seed)
    r = sim.run(scn)
    s, c = r.summary, r.counters
    n = NaiveModel(scn).run()
    fast_429 = c["api_gateway.throttled_posts"] / max(c["api_gateway.posts"], 1)
    naive_429 = ((n["throttled_attempts"] - n["messages_throttled"])
                 / max(n["deliveries"] + n["throttled_attempts"], 1))
    return (s["latency_p50_ms"], s["latency_p99_ms"], n["latency_p50_ms"], n["latency_p99_ms"],
            fast_429, naive_429, c["api_gateway.throttled_messages"], n["messages_throttled"])


def _run_all(case):
    """Every seed of ``case``, on up to two processes (fork) when the machine has them."""
    jobs = [(case, seed) for seed in SEEDS]
    workers = min(2, os.cpu_count() or 1)
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as ex:
            return list(ex.map(_replicate, jobs))
    return [_replicate(j) for j in jobs]


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_quantiles_agree_with_naive_reference(case):
    rows = np.asarray(_run_all(case))
    fast = {"p50": rows[:, 0], "p99": rows[:, 1]}
    naive = {"p50": rows[:, 2], "p99": rows[:, 3]}
    for q, tol in (("p50", 0.03), ("p99", 0.06)):
        a, b = fast[q], naive[q]
        diff = a.mean() - b.mean()
        se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
        assert abs(diff) / b.mean() < tol, (case, q, a, b)
        assert abs(diff) < 3.5 * se + 0.01 * b.mean(), (case, q, a, b, se)
    if "account_throttle_rps" in CASES[case]:
        # the throttle binds in both models (else the case tests nothing new)
        assert rows[:, 4].mean() > 0.02 and rows[:, 5].mean() > 0.02, (case, rows[:, 4:])
    if "overloaded" in case:
        # inbound messages compete with the waiting posts for tokens, as in continuous time
        assert rows[:, 6].mean() == pytest.approx(rows[:, 7].mean(), rel=0.15), rows[:, 6:]
