"""Lambda's concurrency, on the code the model runs (``simulator/aws/lambda_.py``), against
queueing theory: a synchronous invocation that finds every allowed execution busy is throttled
(a loss system), so with Poisson arrivals the throttled share is Erlang-B at every size,
c = 10 as well as the account's default c = 1,000 (the scaling bucket and the invocation-rate
quota set wide so that only concurrency binds)."""

import math

import numpy as np
import pytest

from simulator.aws.lambda_ import LambdaService
from simulator.catalog import load_catalog
from simulator.metrics.recorder import Recorder
from simulator.rng import Streams
from simulator.scenario import Params
from tests.conftest import small


def erlang_b(c: int, a: float) -> float:
    """Blocking probability of M/M/c/c at ``a`` Erlangs (the stable recursion)."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def _service(c: int) -> tuple[LambdaService, object]:
    scn = small("chat-basic", **{"aws.lambda.account_concurrency": c,
                                 "aws.lambda.scaling_envs_per_s": 1e9,
                                 "aws.lambda.scaling_burst_envs": 1e9,
                                 "aws.lambda.invocation_rps_per_concurrency": 1e9})
    params = Params(scn, load_catalog())
    life = Streams(1).buffered("lambda.idle_lifetime", params["behaviour.lambda_idle_env_lifetime_s"])
    svc = LambdaService(params, Recorder(), scn.region, life)
    f = svc.function("default", scn.aws.lambda_.functions.default, lambda: 0.0, lambda: 0.0, 30.0)
    return svc, f


def _throttled_share(c: int, a: float, n: int, seed: int) -> float:
    """Poisson arrivals at ``a`` Erlangs (mean service 1 s): the share throttled after a
    warm-up of a tenth of the arrivals."""
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.exponential(1.0 / a, n))
    s = rng.exponential(1.0, n)
    svc, f = _service(c)
    warm = n // 10
    refused = 0
    for k, (tk, sk) in enumerate(zip(t.tolist(), s.tolist())):
        if f.invoke(tk):
            f.finish(tk, tk + sk)
        elif k >= warm:
            refused += 1
    return refused / (n - warm)


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
    svc, f = _service(c)
    refused = sum(0 if f.invoke(tk) and (f.finish(tk, tk + 1.2 * sk) or True) else 1
                  for tk, sk in zip(t.tolist(), s.tolist()))
    assert refused / len(t) > erlang_b(c, a) * 1.3
