"""Lambda execution environments: cold-start fraction under Poisson arrivals with idle expiry,
against an analytic limit and an independent brute-force implementation; scaling rate and
concurrency limits."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from simulator.aws.lambda_ import LambdaService
from simulator.metrics.recorder import Recorder
from simulator.primitives.distributions import Uniform
from simulator.rng import BufferedDraws


def service(concurrency=1_000_000, lifetime=600.0, scaling_rate=1e9, burst=1e9, draw=None,
            reuse="most_recent"):
    params = {
        "lambda.account_concurrency": concurrency,
        "behaviour.lambda_idle_env_lifetime_s": lifetime,
        "behaviour.lambda_env_reuse": reuse,   # most_recent: what the brute force implements
        "lambda.scaling_envs_per_s": scaling_rate,
        "lambda.scaling_burst_envs": burst,
        "lambda.billing_granularity_s": 0.001,
        "lambda.invocation_rps_per_concurrency": 1e9,
    }
    rec = Recorder()
    svc = LambdaService(params, rec, "test-region", draw)
    return svc, rec


def make_fn(svc, name="f", reserved=None, memory_mb=1024):
    cfg = SimpleNamespace(memory_mb=memory_mb, architecture="x86_64", reserved_concurrency=reserved)
    return svc.function(name, cfg, lambda: 0.0, lambda: 0.0, 30.0)


def run_model(arrivals, service_s, lifetime, draw=None):
    svc, rec = service(lifetime=lifetime, draw=draw)
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


@pytest.mark.parametrize("lam,low,high", [(1 / 300, 60.0, 1140.0), (1 / 900, 300.0, 600.0)])
def test_random_idle_lifetime_matches_theory(lam, low, high):
    """Idle lifetimes drawn afresh each idle period, L ~ U(low, high): with negligible service
    time a request is cold iff the gap G ~ Exp(lam) exceeds that period's L, so
    P = E[exp(-lam L)] = (exp(-lam low) - exp(-lam high)) / (lam (high - low)); a model that
    used the mean lifetime instead would give exp(-lam (low + high) / 2), 0.135 against 0.221
    in the first case."""
    dist = Uniform(low, high)
    fracs = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        n = 20_000
        arr = np.cumsum(rng.exponential(1 / lam, n)).tolist()
        draw = BufferedDraws(np.random.default_rng(100 + seed), dist)
        colds = run_model(arr, [1e-6] * n, dist, draw)
        fracs.append((colds - 1) / (n - 1))
    mean, se = np.mean(fracs), np.std(fracs, ddof=1) / math.sqrt(len(fracs))
    exact = (math.exp(-lam * low) - math.exp(-lam * high)) / (lam * (high - low))
    assert abs(mean - exact) < 3 * se + 1e-12, (mean, exact, se)


def test_a_model_that_used_the_mean_lifetime_would_fail_that_check():
    """The check above can fail: the same estimator on a model whose every idle period lasts
    the mean lifetime (600 s) is many standard errors from E[exp(-lam L)]."""
    lam, low, high = 1 / 300, 60.0, 1140.0
    fracs = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        arr = np.cumsum(rng.exponential(1 / lam, 20_000)).tolist()
        colds = run_model(arr, [1e-6] * len(arr), Uniform(low, high), lambda: (low + high) / 2)
        fracs.append((colds - 1) / (len(arr) - 1))
    mean, se = np.mean(fracs), np.std(fracs, ddof=1) / math.sqrt(len(fracs))
    exact = (math.exp(-lam * low) - math.exp(-lam * high)) / (lam * (high - low))
    assert abs(mean - exact) > 10 * se


@pytest.mark.parametrize("reuse,left", [("most_recent", 60.0), ("least_recent", 15.5)])
def test_reuse_order_skips_reclaimed_environments(reuse, left):
    """Three environments go idle at 1, 2 and 3 s with idle lifetimes 4, 100 and 2 s (reclaim
    at 5, 102 and 5): at t = 6 the first and third are gone; the only live one serves,
    whatever the order; a second request at t = 6 is cold. The reuse order decides between
    live ones: two go idle at 10 and 10.5 s, for 50 and 5 s (reclaim at 60 and 15.5); at
    t = 11 the most recent (10.5) or the least recent (10) serves, the other is left."""
    lives = iter([4.0, 100.0, 2.0, 50.0, 5.0])
    svc, rec = service(lifetime=Uniform(1.0, 200.0), draw=lambda: next(lives), reuse=reuse)
    f = make_fn(svc)
    assert [f.invoke(0.0) for _ in range(3)] == [2, 2, 2]
    for end in (1.0, 2.0, 3.0):
        f.finish(0.0, end)
    assert f.environments(3.0) == 3
    assert f.invoke(6.0) == 1 and f.environments(6.0) == 1
    assert f.invoke(6.0) == 2
    f.finish(6.0, 10.0)
    f.finish(6.0, 10.5)
    assert f.invoke(11.0) == 1
    assert list(f.idle) == [left] and f.environments(11.0) == 2
    assert f.peak == 3


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


def test_summary_has_environments_and_cold_starts_per_function():
    """Per-function keys add up to the run's totals; the live-environment peak bounds every
    per-second sample of that function's live environments; the mean is the series' mean after
    the warm-up; a longer idle lifetime means fewer cold starts for the same workload."""
    import simulator as sim

    def run(life):
        scn = sim.load_scenario("data/scenarios/chat-basic.yaml", overrides={
            "workload.clients": 600, "duration_s": 400.0, "warmup_s": 60.0,
            "aws.lambda.idle_env_lifetime_s": life})
        return sim.run(scn)

    r = run({"kind": "uniform", "low": 20, "high": 40})
    s, ts = r.summary, r.timeseries
    names = [k.split(".", 1)[1] for k in s if k.startswith("lambda_invocations.")]
    assert {"connect", "disconnect", "default"} <= set(names)
    assert sum(s[f"lambda_invocations.{n}"] for n in names) == s["lambda_invocations"]
    assert sum(s[f"lambda_cold_starts.{n}"] for n in names) == s["lambda_cold_starts"]
    for n in names:
        col = ts[f"lambda_environments_{n}"]
        assert col.max() <= s[f"lambda_environments_peak.{n}"]
        assert s[f"lambda_environments_mean.{n}"] == pytest.approx(col[col.index > 60.0].mean())
        share = s[f"lambda_cold_starts.{n}"] / s[f"lambda_invocations.{n}"]
        assert s[f"lambda_cold_start_share.{n}"] == pytest.approx(share)
    assert (ts["lambda_environments"]
            == sum(ts[f"lambda_environments_{n}"] for n in names)).all()
    longer = run(1200.0).summary
    assert longer["lambda_cold_starts.default"] < s["lambda_cold_starts.default"]
