"""sim.compare's table and crossovers on hand-made inputs, and one small real comparison."""

import math

import pandas as pd
import pytest

import simulator as sim
from tests.conftest import small


def table(rows):
    return pd.DataFrame(rows, columns=["param.x", "variant", "cost_usd_per_month",
                                       "first_binding_limit"])


def test_crossover_is_interpolated_in_log_x():
    # a - b goes from -50 at x = 10 to +50 at x = 1000: zero halfway in log10 x, at x = 100
    t = table([(10, "a", 50.0, None), (1000, "a", 150.0, None),
               (10, "b", 100.0, None), (1000, "b", 100.0, None)])
    x = sim.crossovers(t, "param.x")
    assert len(x) == 1
    assert x.loc[0, "x"] == pytest.approx(100.0)
    assert x.loc[0, "y"] == pytest.approx(100.0)
    assert x.loc[0, "below"] == "a"


def test_points_where_work_was_refused_are_left_out():
    t = table([(10, "a", 10.0, None), (100, "a", 50.0, None), (1000, "a", 100.0, "quota.x"),
               (10, "b", 20.0, None), (100, "b", 60.0, None), (1000, "b", 70.0, None)])
    assert sim.crossovers(t, "param.x").empty                 # the crossing needs a's refused point
    assert len(sim.crossovers(t, "param.x", complete_only=False)) == 1


def test_comparison_rows_shares_and_resolution_floor():
    scn = small("chat-compare", duration_s=40.0, warmup_s=10.0, **{"workload.clients": 300})
    cmp = sim.compare(scn, ["basic", "appsync"], replications=2, progress=False)
    t = cmp.table.set_index("variant")
    for v in ("basic", "appsync"):
        row = t.loc[v]
        assert row["latency_p50_ms_ci95"] >= 0.005 * row["latency_p50_ms"] - 1e-9
        assert 0.0 <= row["messages_lost_share"] <= 1.0
        assert row["replications"] == 2
        assert math.isfinite(row["cost_usd_per_month"])
    assert t.loc["appsync", "delivery_guarantee"].startswith("exactly-once")
    # common random numbers: both designs ran the same replication seeds
    seeds = cmp.runs.groupby("variant")["seed"].apply(sorted)
    assert seeds["basic"] == seeds["appsync"]
