"""Sweeps: grid expansion, seeds, failures kept, serial = parallel, summaries."""

import pandas as pd
import pytest

import simulator as sim
from simulator.sweeps import expand, replication_seeds
from tests.conftest import small

BASE = {"workload.clients": 300, "duration_s": 40.0, "warmup_s": 5.0}


def test_expand_crosses_factors_and_keeps_scalars():
    pts = expand({"a": [1, 2], "b": ("x", "y", "z"), "c": 7})
    assert len(pts) == 6 and all(p["c"] == 7 for p in pts)
    assert {(p["a"], p["b"]) for p in pts} == {(a, b) for a in (1, 2) for b in "xyz"}
    assert expand({"c": 1}) == [{"c": 1}]
    with pytest.raises(sim.ScenarioError, match="empty factor"):
        expand({"a": []})


def test_seeds_are_derived_and_distinct():
    s = replication_seeds(1, 4)
    assert s == replication_seeds(1, 4) and len(set(s)) == 4
    with pytest.raises(sim.ScenarioError):
        replication_seeds(1, 0)


def test_sweep_serial_equals_parallel_and_summarizes():
    scn = small("chat-basic", **BASE)
    grid = {"workload.publish.rate_per_client_per_s": [0.01, 0.05]}
    serial = sim.sweep(scn, grid, replications=2)
    parallel = sim.sweep(scn, grid, replications=2, workers=2)
    cols = [c for c in serial.columns if c not in ("wall_seconds", "run_seconds")]
    pd.testing.assert_frame_equal(serial[cols], parallel[cols])
    assert len(serial) == 4 and serial["error"].isna().all()
    summ = sim.summarize(serial, ["messages_published", "latency_p99_ms"])
    assert len(summ) == 2 and (summ["runs"] == 2).all()
    lo, hi = summ["messages_published.mean"]
    assert hi > 3 * lo                       # five times the rate
    assert (summ["messages_published.ci95"] > 0).all()


def test_a_failing_point_is_recorded_not_raised(monkeypatch):
    scn = small("chat-basic", **BASE)
    import simulator.engine as engine

    real = engine.run

    def flaky(s, **kw):
        if s.workload.clients == 301:
            raise RuntimeError("boom")
        return real(s, **kw)

    monkeypatch.setattr(sim, "run", flaky)
    df = sim.sweep(scn, {"workload.clients": [300, 301]}, workers=1)
    assert df["error"].isna().sum() == 1
    assert df.loc[df["param.workload.clients"] == 301, "error"].iloc[0] == "RuntimeError: boom"


def test_bad_grid_fails_before_running():
    with pytest.raises(sim.ScenarioError, match="workload.clientz"):
        sim.sweep(small("chat-basic", **BASE), {"workload.clientz": [1, 2]})


def test_the_longest_runs_are_submitted_first():
    """Longest processing time first (by the engine's estimate): a pool of workers does not
    end on one long run submitted last; the rows stay in point order."""
    from simulator.sweeps import _Plan

    scn = sim.load_scenario("chat-basic", overrides={"workload.clients": 500})
    points = [{"workload.clients": n} for n in (1000, 8000, 2000, 4000)]
    plan = _Plan(scn, points, [1, 2], 2, None, {})
    order = [key for key, _ in plan.start()]
    assert [p for p, _ in order] == [1, 1, 3, 3, 2, 2, 0, 0]
    assert sorted(order) == [(p, r) for p in range(4) for r in range(2)]
