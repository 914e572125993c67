"""The registry's free slots (a compact stack that hands slots out in the order a list did)
and its bulk open (what a loop of ``open`` calls writes)."""

import numpy as np
import pytest
import simpy

from simulator.architectures import registry
from simulator.catalog import load_catalog
from simulator.metrics.recorder import Recorder
from simulator.rng import Streams
from simulator.scenario import Params
from simulator.workload.population import ConnectionRegistry
from tests.conftest import small


def test_freed_slots_are_reused_last_in_first_out_after_a_grow():
    reg = ConnectionRegistry(4, capacity=16)
    assert [reg.open(0.0, 0, 1.0) for _ in range(16)] == list(range(16))
    assert reg.open(0.0, 0, 1.0) == 16          # grown to 32: the new slots in order
    for i in (5, 2):
        reg.close(i, 1.0)
        reg.delete_row(i, 1.0)
    assert [reg.open(0.0, 0, 1.0) for _ in range(3)] == [2, 5, 17]
    assert reg.gen[[2, 5, 17]].tolist() == [2, 2, 1]


def _columns(reg):
    names = ("state", "channel", "loc", "connected_at", "last_send", "session_end",
             "gone_at", "was_zombie", "last_seen", "ttl_at", "ttl_gone_at",
             "gen", "open_pos", "open_ids")
    return {k: getattr(reg, k).copy() for k in names}


@pytest.mark.parametrize("n_regions,n_locations", [(1, 1), (3, 2)])
def test_open_many_writes_what_a_loop_of_open_writes(n_regions, n_locations):
    rng = np.random.default_rng(7)
    regs = [ConnectionRegistry(50, capacity=40, n_regions=n_regions, n_locations=n_locations)
            for _ in range(2)]
    for reg in regs:   # some history first: reused slots, a non-trivial free stack
        reg.keep("last_seen", "ttl_at", "ttl_gone_at")
        for k in range(30):
            reg.open(0.0, k % (50 * n_regions), 9.0, loc=k % n_locations)
        for i in (3, 17, 8, 25):
            reg.close(i, 1.0)
            reg.delete_row(i, 1.0)
    m = 200   # more than the free slots: the registry grows on the way
    key = rng.integers(0, 50 * n_regions, m)
    loc = rng.integers(0, n_locations, m)
    end = rng.exponential(100.0, m)
    at = -rng.exponential(50.0, m)
    ref, bulk = regs
    one_by_one = [ref.open(0.0, int(c), float(e), connected_at=float(a), last_activity=0.0,
                           loc=int(lk)) for c, e, a, lk in zip(key, end, at, loc)]
    slots = bulk.open_many(key, end, at, 0.0, loc)
    assert slots.tolist() == one_by_one
    want, got = _columns(ref), _columns(bulk)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
        assert got[name].dtype == want[name].dtype
    assert bulk.live == ref.live and bulk.open_r == ref.open_r and bulk.n_open == ref.n_open
    if n_locations > 1:
        np.testing.assert_array_equal(bulk.live_loc, ref.live_loc)
    assert [bulk.open(0.0, 1, 5.0) for _ in range(5)] == [ref.open(0.0, 1, 5.0) for _ in range(5)]


def test_optional_columns_are_kept_on_request_before_any_row_and_survive_a_grow():
    reg = ConnectionRegistry(4, capacity=16)
    assert reg.last_seen is None and reg.ttl_at is None and reg.ttl_gone_at is None
    with pytest.raises(ValueError, match="'gen' is not an optional column"):
        reg.keep("gen")
    reg.keep("ttl_at")
    assert reg.ttl_at.tolist() == [np.inf] * 16 and reg.last_seen is None
    for _ in range(20):                     # grows to 32: the kept column with it
        reg.open(0.0, 0, 1.0)
    assert reg.ttl_at.size == 32 and np.isinf(reg.ttl_at).all()
    with pytest.raises(RuntimeError, match="after rows were written"):
        reg.keep("last_seen")
    reg.keep("ttl_at")                      # already kept: nothing to do


@pytest.mark.parametrize("overrides,kept", [
    ({}, set()),
    ({"app.cleanup.ttl": {"ttl_s": 7200}}, {"ttl_at", "ttl_gone_at"}),
    ({"workload.heartbeat": {"kind": "app", "interval_s": 60}}, {"last_seen"}),
    ({"workload.heartbeat": {"kind": "app", "interval_s": 60, "route": "mock"}}, set()),
])
def test_a_design_keeps_the_columns_it_reads_and_no_others(overrides, kept):
    scn = small("chat-basic", **overrides)
    arch = registry.get("basic")(simpy.Environment(), scn, Params(scn, load_catalog()),
                                 Streams(scn.seed), Recorder())
    got = {k for k in ("last_seen", "ttl_at", "ttl_gone_at") if getattr(arch.reg, k) is not None}
    assert got == kept


@pytest.mark.parametrize("seed,size,n", [(1, 40_000, 10_000), (2, 10_000, 1), (3, 4_000, 3_999)])
def test_length_biased_draws_are_those_of_choice_with_weights(seed, size, n):
    from simulator.architectures.connections import length_biased

    pool = np.random.default_rng(seed).lognormal(7.0, 1.0, size)
    ours, ref = np.random.default_rng(seed + 10), np.random.default_rng(seed + 10)
    got = length_biased(ours, pool, n)
    want = ref.choice(pool, size=n, p=pool / pool.sum())
    np.testing.assert_array_equal(got, want)
    assert ours.random() == ref.random()          # the same number of uniforms used
