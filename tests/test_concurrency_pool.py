"""Concurrency pool: exact timelines; blocking against Erlang-B and waiting against M/M/c."""

import math

import numpy as np
import pytest
import simpy

from simulator.primitives.concurrency_pool import ConcurrencyPool


def erlang_b(c: int, a: float) -> float:
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """Probability of waiting in M/M/c (a = lambda/mu < c)."""
    b = erlang_b(c, a)
    rho = a / c
    return b / (1 - rho + rho * b)


def test_loss_timeline_with_scheduled_releases():
    p = ConcurrencyPool(2)
    log = []
    for t in (0.0, 0.0, 0.0):
        log.append((t, p.try_acquire(t)))
    p.release_at(1.0)
    p.release_at(3.0)
    log.append((0.5, p.try_acquire(0.5)))
    log.append((1.0, p.try_acquire(1.0)))   # the release at 1.0 applies at 1.0
    log.append((2.0, p.try_acquire(2.0)))
    assert log == [(0.0, True), (0.0, True), (0.0, False), (0.5, False), (1.0, True),
                   (2.0, False)]
    p.advance(4.0)
    assert p.busy == 1 and p.peak == 2
    # busy: 2 on [0,1), 2 on [1,3) (one left, one came), 1 on [3,4)
    assert p.area == pytest.approx(2 * 1 + 2 * 2 + 1 * 1)


def test_queue_timeline_fifo():
    env = simpy.Environment()
    p = ConcurrencyPool(1, queue=True)
    log = []

    def customer(name, service):
        def start(t):
            log.append((name, t))
            env.timeout(service).callbacks.append(lambda ev: p.release(env.now))

        if p.acquire(env.now, start):
            start(env.now)

    for name in "abc":
        customer(name, 1.0)
    env.run()
    assert log == [("a", 0.0), ("b", 1.0), ("c", 2.0)]


def test_release_at_refused_in_queue_mode():
    with pytest.raises(RuntimeError):
        ConcurrencyPool(1, queue=True).release_at(1.0)


def _blocking(c, lam, mu, n, seed):
    rng = np.random.default_rng(seed)
    arr = np.cumsum(rng.exponential(1 / lam, n))
    svc = rng.exponential(1 / mu, n)
    p = ConcurrencyPool(c)
    blocked = 0
    for t, s in zip(arr.tolist(), svc.tolist()):
        if p.try_acquire(t):
            p.release_at(t + s)
        else:
            blocked += 1
    warm = 0  # the pool starts empty; the bias is below 1e-3 at these sizes
    return (blocked - warm) / n


@pytest.mark.parametrize("c,a", [(10, 8.0), (10, 5.0)])
def test_blocking_matches_erlang_b(c, a):
    reps = [_blocking(c, a, 1.0, 60_000, seed) for seed in range(8)]
    mean, se = np.mean(reps), np.std(reps, ddof=1) / math.sqrt(len(reps))
    assert abs(mean - erlang_b(c, a)) < 3 * se + 1e-4, (mean, se, erlang_b(c, a))


def _mmc_wait(c, lam, mu, n, seed):
    rng = np.random.default_rng(seed)
    arr = np.cumsum(rng.exponential(1 / lam, n)).tolist()
    svc = rng.exponential(1 / mu, n).tolist()
    env = simpy.Environment()
    p = ConcurrencyPool(c, queue=True)
    waits = []

    def arrive(k):
        t0 = env.now

        def start(t):
            waits.append(t - t0)
            env.timeout(svc[k]).callbacks.append(lambda ev: p.release(env.now))

        if p.acquire(t0, start):
            start(t0)

    for k, t in enumerate(arr):
        env.timeout(t).callbacks.append(lambda ev, k=k: arrive(k))
    env.run()
    w = np.asarray(waits[n // 10:])  # drop the empty-system start
    return w.mean(), (w > 0).mean()


@pytest.mark.parametrize("c,rho", [(4, 0.7), (4, 0.85)])
def test_waiting_matches_mmc(c, rho):
    mu = 1.0
    lam = rho * c * mu
    reps = [_mmc_wait(c, lam, mu, 40_000, seed) for seed in range(8)]
    wq = np.array([r[0] for r in reps])
    pw = np.array([r[1] for r in reps])
    a = lam / mu
    pc = erlang_c(c, a)
    wq_theory = pc / (c * mu - lam)
    se_w = wq.std(ddof=1) / math.sqrt(len(wq))
    se_p = pw.std(ddof=1) / math.sqrt(len(pw))
    assert abs(wq.mean() - wq_theory) < 3 * se_w, (wq.mean(), se_w, wq_theory)
    assert abs(pw.mean() - pc) < 3 * se_p, (pw.mean(), se_p, pc)
