"""Lambda execution environments: cold-start fraction under Poisson arrivals with idle expiry,
against an analytic limit and an independent brute-force implementation; scaling rate and
concurrency limits."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from simulator.aws.lambda_ import LambdaService
from simulator.metrics.recorder import Recorder


def service(concurrency=1_000_000, lifetime=600.0, scaling_rate=1e9, burst=1e9):
    params = {
        "lambda.account_concurrency": concurrency,
        "behaviour.lambda_idle_env_lifetime_s": lifetime,
        "behaviour.lambda_env_reuse": "most_recent",   # what the brute force implements
        "lambda.scaling_envs_per_s": scaling_rate,
        "lambda.scaling_burst_envs": burst,
        "lambda.billing_granularity_s": 0.001,
        "lambda.invocation_rps_per_concurrency": 1e9,
    }
    rec = Recorder()
    svc = LambdaService(params, rec, "test-region")
    return svc, rec


def make_fn(svc, name="f", reserved=None, memory_mb=1024):
    cfg = SimpleNamespace(memory_mb=memory_mb, architecture="x86_64", reserved_concurrency=reserved)
    return svc.function(name, cfg, lambda: 0.0, lambda: 0.0, 30.0)


def run_model(arrivals, service_s, lifetime):
    svc, rec = service(lifetime=lifetime)
    f = make_fn(svc)
    colds = 0
    for t, s in zip(arrivals, service_s):
        r = f.invoke(t)
        assert r in (1, 2)
        colds += r == 2
        f.finish(t, t + s)
    return colds


def brute_force(arrivals, service_s, lifetime):
    """Independent implementation: a list of environments (free_at), most recently freed
    first; an environment idle for longer than ``lifetime`` is gone."""
    envs = []  # free_at times
    colds = 0
    for t, s in zip(arrivals, service_s):
        alive = [e for e in envs if e <= t and t - e < lifetime]
        busy = [e for e in envs if e > t]
        if alive:
            alive.remove(max(alive))
        else:
            colds += 1
        envs = alive + busy + [t + s]
    return colds


@pytest.mark.parametrize("lam,lifetime,svc_mean", [(0.02, 60.0, 1.0), (5.0, 1.0, 0.4)])
def test_cold_fraction_matches_brute_force_exactly(lam, lifetime, svc_mean):
    rng = np.random.default_rng(5)
    n = 4000
    arr = np.cumsum(rng.exponential(1 / lam, n)).tolist()
    svc = rng.exponential(svc_mean, n).tolist()
    assert run_model(arr, svc, lifetime) == brute_force(arr, svc, lifetime)


@pytest.mark.parametrize("lam,lifetime", [(1 / 300, 600.0), (1 / 900, 600.0)])
def test_cold_fraction_matches_theory_when_service_is_short(lam, lifetime):
    """With negligible service time there is at most one environment: a request is cold iff
    the gap since the previous one exceeds the lifetime, P = exp(-lam * lifetime)."""
    fracs = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        n = 20_000
        arr = np.cumsum(rng.exponential(1 / lam, n)).tolist()
        colds = run_model(arr, [1e-6] * n, lifetime)
        fracs.append((colds - 1) / (n - 1))   # the first request is always cold
    mean, se = np.mean(fracs), np.std(fracs, ddof=1) / math.sqrt(len(fracs))
    assert abs(mean - math.exp(-lam * lifetime)) < 3 * se


def test_scaling_rate_throttles_a_burst_and_refills():
    svc, rec = service(scaling_rate=100.0, burst=1000.0)
    f = make_fn(svc)
    got = [f.invoke(0.0) for _ in range(1500)]
    assert got.count(2) == 1000 and got.count(0) == 500
    # 0.5 s later: 50 new environments may be created
    got = [f.invoke(0.5) for _ in range(80)]
    assert got.count(2) == 50 and got.count(0) == 30
    assert rec.c["lambda.f.throttles"] == 530
    assert rec.breaches.frame()["quota"].unique().tolist() == ["lambda.scaling_rate"]


def test_account_and_reserved_concurrency():
    svc, rec = service(concurrency=10)
    a = make_fn(svc, "a", reserved=3)
    b = make_fn(svc, "b")
    assert [a.invoke(0.0) for _ in range(4)] == [2, 2, 2, 0]         # reserved 3
    assert [b.invoke(0.0) for _ in range(8)] == [2] * 7 + [0]        # 10 - 3 unreserved
    b.finish(0.0, 1.0)
    assert b.invoke(0.5) == 0
    assert b.invoke(1.0) == 1                                          # warm reuse at release
    assert svc.peak == 10


def test_billing_rounds_up_to_the_millisecond():
    svc, rec = service()
    f = make_fn(svc, memory_mb=512)
    f.invoke(0.0)
    f.finish(0.0, 0.0101)
    assert rec.c["lambda.gb_seconds.x86_64"] == pytest.approx(0.011 * 0.5)
