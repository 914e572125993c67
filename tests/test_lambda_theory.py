"""Lambda's concurrency, on the code the model runs (``simulator/aws/lambda_.py``), against
queueing theory: a synchronous invocation that finds every allowed execution busy is throttled
(a loss system), so with Poisson arrivals the throttled share is Erlang-B at every size,
c = 10 as well as the account's default c = 1,000 (the scaling bucket and the invocation-rate
quota set wide so that only concurrency binds)."""

import math

import numpy as np
import pytest

from simulator.validation import erlang_b, lambda_function
from simulator.validation import lambda_throttled_share as _throttled_share


@pytest.mark.parametrize("c,a,n", [(10, 8.0, 40_000), (10, 5.0, 40_000),
                                   (1000, 1000.0, 400_000)])
def test_lambda_throttles_match_erlang_b(c, a, n):
    reps = [_throttled_share(c, a, n, seed) for seed in range(6)]
    mean, se = float(np.mean(reps)), float(np.std(reps, ddof=1) / math.sqrt(len(reps)))
    want = erlang_b(c, a)
    assert abs(mean - want) < 3 * se + 2e-4, (mean, se, want)


def test_the_check_fails_when_releases_are_late():
    """A model that frees an execution 20% late throttles visibly more than Erlang-B says."""
    c, a = 10, 8.0
    rng = np.random.default_rng(1)
    t = np.cumsum(rng.exponential(1.0 / a, 40_000))
    s = rng.exponential(1.0, 40_000)
    f = lambda_function(c)
    refused = sum(0 if f.invoke(tk) and (f.finish(tk, tk + 1.2 * sk) or True) else 1
                  for tk, sk in zip(t.tolist(), s.tolist()))
    assert refused / len(t) > erlang_b(c, a) * 1.3
