"""The fast model agrees with the naive process-per-delivery reference (benchmarks/) on
delivery-latency quantiles, at small size, over seeded replications."""

import math

import numpy as np
import pytest

import simulator as sim
from benchmarks.naive_reference import NaiveModel, comparison_scenario

CASES = {
    # fan-outs smaller than the pool: every post starts at once
    "channels-of-20": dict(clients=1000, channel_size=20, rate_per_client_per_s=0.1),
    # fan-outs larger than the pool (P = 50): later posts wait for a free call
    "channels-of-120": dict(clients=600, channel_size=120, rate_per_client_per_s=0.05),
}
SEEDS = (1, 2, 3, 4)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_quantiles_agree_with_naive_reference(case):
    fast, naive = {"p50": [], "p99": []}, {"p50": [], "p99": []}
    for seed in SEEDS:
        scn = comparison_scenario(**CASES[case], duration_s=60.0, warmup_s=10.0, seed=seed)
        s = sim.run(scn).summary
        n = NaiveModel(scn).run()
        fast["p50"].append(s["latency_p50_ms"])
        fast["p99"].append(s["latency_p99_ms"])
        naive["p50"].append(n["latency_p50_ms"])
        naive["p99"].append(n["latency_p99_ms"])
    for q, tol in (("p50", 0.03), ("p99", 0.06)):
        a, b = np.asarray(fast[q]), np.asarray(naive[q])
        diff = a.mean() - b.mean()
        se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
        assert abs(diff) / b.mean() < tol, (case, q, a, b)
        assert abs(diff) < 3.5 * se + 0.01 * b.mean(), (case, q, a, b, se)
