"""Sensitivity analysis (simulator.sensitivity): the Sobol estimators against the Ishigami
function's analytic indices, one-at-a-time swings in the direction the model dictates, zero
for a value the metric cannot depend on, catalog overrides, bad input, serial = parallel."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import simulator as sim  # noqa: E402
from simulator import engine, plots  # noqa: E402
from simulator.catalog import check_range  # noqa: E402
from simulator.sensitivity import (  # noqa: E402
    UNCERTAIN,
    saltelli_design,
    scale_dist,
    sobol_indices,
)
from tests.conftest import small  # noqa: E402

POST = "latency.post_to_connection_s"
ROUTE = "latency.apigw_route_s"
IDLE = "behaviour.lambda_idle_env_lifetime_s"   # 300-900 s: cannot matter in a 60 s run
INIT = "latency.lambda_init_s"                  # no aws.* field: varied as catalog.latency.*


def _scn(**extra):
    return small("chat-basic", **{"workload.clients": 300, "duration_s": 60, "warmup_s": 10,
                                  **extra})


# ----------------------------------------------------------------------------- estimators

ISHIGAMI_A, ISHIGAMI_B = 7.0, 0.1


def _ishigami(u: np.ndarray) -> np.ndarray:
    x = -np.pi + 2 * np.pi * u
    return (np.sin(x[..., 0]) + ISHIGAMI_A * np.sin(x[..., 1]) ** 2
            + ISHIGAMI_B * x[..., 2] ** 4 * np.sin(x[..., 0]))


def _ishigami_exact() -> tuple[np.ndarray, np.ndarray]:
    """Analytic indices (Ishigami & Homma 1990; Sobol' & Levitan 1999)."""
    a, b, p = ISHIGAMI_A, ISHIGAMI_B, np.pi
    v = a ** 2 / 8 + b * p ** 4 / 5 + b ** 2 * p ** 8 / 18 + 0.5
    v1 = 0.5 * (1 + b * p ** 4 / 5) ** 2
    v2 = a ** 2 / 8
    vt3 = 8 * b ** 2 * p ** 8 / 225
    return np.array([v1, v2, 0.0]) / v, np.array([v1 + vt3, v2, vt3]) / v


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sobol_estimators_recover_the_ishigami_indices(seed):
    n = 4096
    a, b, ab = saltelli_design(3, n, np.random.default_rng(seed))
    assert ab.shape == (3, n, 3)
    for i in range(3):   # AB_i is A with column i from B
        assert np.array_equal(ab[i][:, i], b[:, i])
        others = [j for j in range(3) if j != i]
        assert np.array_equal(ab[i][:, others], a[:, others])
    got = sobol_indices(_ishigami(a), _ishigami(b), _ishigami(ab),
                        rng=np.random.default_rng(100 + seed))
    s1, st = _ishigami_exact()
    assert np.all(got["S1_se"] < 0.03) and np.all(got["ST_se"] < 0.03)   # tight enough to fail
    assert np.all(np.abs(got["S1"] - s1) <= 4 * got["S1_se"]), (got["S1"], s1, got["S1_se"])
    assert np.all(np.abs(got["ST"] - st) <= 4 * got["ST_se"]), (got["ST"], st, got["ST_se"])


def test_scaling_a_distribution_scales_its_draws():
    d = {"kind": "lognormal", "median": 0.02, "p99": 0.1, "sigma": None}
    assert scale_dist(d, 1.5) == {"kind": "lognormal", "median": 0.03, "p99": 0.15000000000000002,
                                  "sigma": None}
    assert scale_dist({"kind": "uniform", "low": 1.0, "high": 3.0}, 2) == {
        "kind": "uniform", "low": 2.0, "high": 6.0}
    assert scale_dist({"kind": "pareto", "shape": 2.0, "scale": 1.0}, 3)["shape"] == 2.0


# ----------------------------------------------------------------------------- one at a time


def test_oat_moves_p99_in_the_direction_of_the_latency_assumption():
    df = sim.sensitivity(_scn(), keys=[POST, IDLE], replications=2, progress=False)
    assert list(df.columns[:4]) == ["key", "unit", "confidence", "source"]
    for col in ("low", "high", "metric_low", "metric_high", "swing", "swing_se", "error"):
        assert col in df.columns
    post = df.set_index("key").loc[POST]
    # a slower PostToConnection raises every delivery's latency, so p99 too
    assert post.metric_low < post.metric_baseline < post.metric_high
    assert post.low == pytest.approx(0.01) and post.high == pytest.approx(0.03)  # median ±50%
    assert post.range_from == "±50%" and post.confidence == "assumption"
    assert math.isfinite(post.swing_se)
    assert df.key.iloc[0] == POST                           # sorted by swing
    assert df.attrs["metric"] == "latency_p99_ms" and df.attrs["runs"] == 2 + 2 * 2 * 2


def test_a_value_the_metric_cannot_depend_on_gets_zero():
    scn = _scn()
    oat = sim.sensitivity(scn, keys=[POST, IDLE], progress=False)
    assert oat.set_index("key").loc[IDLE, "swing"] == 0.0
    sob = sim.sensitivity(scn, method="sobol", keys=[POST, ROUTE, IDLE], n=8, progress=False)
    idx = sob.set_index("key")
    assert idx.loc[IDLE, "ST"] == pytest.approx(0.0, abs=1e-12)
    assert idx.loc[IDLE, "S1"] == pytest.approx(0.0, abs=1e-12)
    assert idx.loc[POST, "ST"] > 0.2
    assert sob.attrs["runs"] == 8 * (3 + 2) + 1


def test_default_candidates_are_the_uncertain_values_the_run_read():
    base = sim.run(_scn(**{"aws.api_gateway.latency.route_s": 0.015}))
    df = sim.sensitivity(_scn(**{"aws.api_gateway.latency.route_s": 0.015}),
                         metric="lambda_gb_seconds", progress=False)
    assert set(df.confidence) <= set(UNCERTAIN)
    assert set(df.key) <= base.params.reads
    assert ROUTE not in set(df.key)            # the scenario sets it: the user's, not assumed
    assert {POST, INIT} <= set(df.key)
    # lambda_init_s has no aws.* field: it is varied through catalog.latency.lambda_init_s,
    # and a longer Init Duration is billed as longer duration
    init = df.set_index("key").loc[INIT]
    assert init.metric_low < init.metric_high


def test_catalog_override_reaches_the_run():
    scn = _scn(**{"catalog.latency.lambda_init_s": {"kind": "fixed", "value": 2.0}})
    res = sim.run(scn)
    row = res.params.frame().set_index("key").loc[INIT]
    assert row.origin == "scenario" and row.value == {"kind": "fixed", "value": 2.0}
    assert INIT in res.params.reads
    assert res.summary["latency_p99_ms"] != sim.run(_scn()).summary["latency_p99_ms"]


def test_serial_and_parallel_runs_agree():
    scn = _scn()
    one = sim.sensitivity(scn, keys=[POST, INIT], progress=False)
    two = sim.sensitivity(scn, keys=[POST, INIT], workers=2, progress=False)
    pd.testing.assert_frame_equal(one, two)


def test_a_large_analysis_warns_with_its_estimate_first(monkeypatch):
    monkeypatch.setattr(engine, "LARGE_S", 0.0)
    with pytest.warns(engine.RunEstimate, match=r"sensitivity of chat-basic: 4 more runs"):
        sim.sensitivity(_scn(), keys=[POST, IDLE], progress=False)


def test_tornado_draws_the_baseline_and_labelled_axes():
    df = sim.sensitivity(_scn(), keys=[POST, ROUTE, IDLE], progress=False)
    ax = plots.tornado(df)
    ax.figure.canvas.draw()
    assert ax.get_xlabel() == "p99 delivery latency (ms)"
    assert ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0].startswith(POST) and "median 0.01-0.03 s" in labels[0]
    base = df.attrs["metric_baseline"]
    assert any(list(line.get_xdata()) == [base, base] for line in ax.get_lines())
    assert any(t.get_text().startswith("baseline") for t in ax.get_legend().get_texts())
    plt.close("all")


def test_tornado_labels_any_metric_with_a_unit():
    df = pd.DataFrame({"key": ["a.b"], "low": [1.0], "high": [2.0], "unit": ["s"],
                       "metric_low": [1.0], "metric_high": [3.0], "metric_baseline": [2.0],
                       "swing": [2.0]})
    for metric, xlabel in (("cost_usd", "cost_usd (USD)"), ("lambda_gb_seconds",
                                                            "lambda_gb_seconds (GB-s)"),
                           ("breaches_total", "breaches_total (count)")):
        df.attrs["metric"] = metric
        assert plots.tornado(df).get_xlabel() == xlabel
    plt.close("all")


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("kwargs, field", [
    ({"metric": "latency_p98_ms"}, "metric"),
    ({"metric": 99}, "metric"),
    ({"method": "morris"}, "method"),
    ({"keys": ["latency.no_such_entry"]}, "keys"),
    ({"keys": POST}, "keys"),
    ({"keys": []}, "keys"),
    ({"keys": ["latency.appsync_broadcast_s"]}, "keys"),       # the basic design never reads it
    ({"keys": ["behaviour.lambda_env_reuse"]}, "keys"),        # text: nothing to vary over
    ({"keys": [POST], "ranges": {POST: (0.03, 0.01)}}, f"ranges[{POST!r}]"),
    ({"keys": [POST], "ranges": {POST: ("a", 1)}}, f"ranges[{POST!r}]"),
    ({"keys": [POST], "ranges": {POST: (0.0, 0.03)}}, f"ranges[{POST!r}]"),
    ({"ranges": {"behaviour.apigw_disconnect_miss_fraction": (0.5, 1.5)}},
     "ranges['behaviour.apigw_disconnect_miss_fraction']"),  # a share above 1: invalid scenario
    ({"rel": 1.5}, "rel"),
    ({"rel": 0}, "rel"),
    ({"method": "sobol", "n": 1}, "n"),
    ({"method": "sobol", "replications": 3}, "replications"),
    ({"workers": 0}, "workers"),
    ({"confidence": ["unsure"]}, "confidence"),
])
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(sim.ScenarioError) as e:
        sim.sensitivity(_scn(), progress=False, **kwargs)
    assert e.value.field == field, str(e.value)


@pytest.mark.parametrize("override, field", [
    ({"catalog.latency.no_such_entry": 1.0}, "catalog.latency.no_such_entry"),
    ({"catalog.latency.apigw_route_s": 0.01}, "catalog.latency.apigw_route_s"),   # has aws.*
    ({"catalog.latency.lambda_init_s": "slow"}, "catalog.latency.lambda_init_s"),
    ({"catalog.behaviour.service_half_open_detection_s": True},
     "catalog.behaviour.service_half_open_detection_s"),
    ({"catalog.geography.europe": {"anchor": "eu-central-1"}}, "catalog.geography.europe"),
    ({"catalog.geography.europe": {"anchor": "mars-1", "rtt_s": 0.02}},
     "catalog.geography.europe.anchor"),
])
def test_bad_catalog_override_names_the_entry(override, field):
    with pytest.raises(sim.ScenarioError) as e:
        sim.run(_scn(**override))
    assert e.value.field == field, str(e.value)


@pytest.mark.parametrize("value, rng", [
    (5.0, [1, 2]),                                         # does not contain the value
    (5.0, [6, 1]),
    (5.0, [1]),
    (True, [0, 1]),                                        # a yes/no has no range
    ({"kind": "lognormal", "median": 0.02, "p99": 0.1}, [0.0, 0.05]),
])
def test_bad_catalog_range_is_refused(value, rng):
    with pytest.raises(sim.ScenarioError, match="x.range"):
        check_range(value, rng, "x.range")


def test_catalog_range_is_used_when_the_entry_has_one(monkeypatch):
    cat = sim.load_catalog()
    fact = cat.facts[POST]
    assert check_range(fact.value, [0.01, 0.05], "r") == (0.01, 0.05)
    import dataclasses

    monkeypatch.setitem(cat.facts, POST, dataclasses.replace(fact, range=(0.01, 0.05)))
    df = sim.sensitivity(_scn(), keys=[POST], progress=False)
    row = df.iloc[0]
    assert (row.low, row.high, row.range_from) == (0.01, 0.05, "catalog")
