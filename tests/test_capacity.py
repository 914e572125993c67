"""Capacity search (``sim.capacity``): the bracket and bisection on a known threshold, the load
axes, bad input, and the two limits with a closed form: API Gateway's new-connection quota
(500/s) and its account throttle (10,000 requests/s) shared by a livestream's posts."""

from __future__ import annotations

import importlib
import math

import pytest

import simulator as sim
from simulator.capacity import load_axis
from tests.conftest import small

# the module (``simulator.capacity`` is also the function the package exports)
capmod = importlib.import_module("simulator.capacity")

# -- the search on a known threshold (no simulation) ------------------------------------------


def _fake(threshold: float, metric: str = "latency_p99_ms", calls: list | None = None):
    """A stand-in for one run: the metric is 100 below ``threshold`` and 1000 above it."""

    def run_one(job):
        scn, label, _, load, rep, seed = job
        if calls is not None:
            calls.append((label, load, seed))
        above = scn.workload.clients > threshold
        return {"variant": label, "load": load, "replication": rep, "seed": seed,
                "summary": {metric: 1000.0 if above else 100.0, "cost_usd_per_month": load,
                            "cost_usd_per_1k_users_month": 1.0,
                            "first_load_breach_quota": "q.refused" if above else None},
                "breaches": 5.0 if above else 0.0, "binding": "stage.x" if above else None,
                "error": None, "run_seconds": 0.0}

    return run_one


@pytest.fixture
def chat():
    return small("chat-basic", duration_s=20.0, warmup_s=5.0)


def test_bracket_then_bisect_to_the_relative_tolerance(chat, monkeypatch):
    monkeypatch.setattr(capmod, "_run_one", _fake(1234.0))
    cap = sim.capacity(chat, "workload.clients", {"latency_p99_ms": 250}, ["basic"],
                       start=100, rtol=0.02, progress=False)
    (row,) = cap.table.to_dict("records")
    assert row["status"] == "found"
    assert row["capacity"] <= 1234 < row["bracket_high"]
    assert row["bracket_high"] / row["capacity"] - 1 <= 0.02
    # grows 100, 200, ..., 1600, then bisects; every load tried is a point
    assert list(cap.points["load"][:5]) == [100, 200, 400, 800, 1600]
    assert row["runs"] == len(cap.points)
    assert row["latency_p99_ms_below"] == 100 and row["latency_p99_ms_above"] == 1000
    # the latency term broke: the limit named is the verdict's (a stage or a quota)
    assert row["slo_broken"] == "latency_p99_ms" and row["binding_limit"] == "stage.x"
    assert row["cost_usd_per_month"] == row["capacity"]   # the cost at capacity, not above


def test_an_integer_setting_stops_at_adjacent_values_and_shrinks_when_the_start_fails(
        chat, monkeypatch):
    monkeypatch.setattr(capmod, "_run_one", _fake(37.0))
    cap = sim.capacity(chat, "workload.clients", {"breaches": 0}, ["basic"], start=1000,
                       rtol=0.001, progress=False)
    (row,) = cap.table.to_dict("records")
    assert (row["capacity"], row["bracket_high"], row["status"]) == (37, 38, "found")
    # refusals broke it: the limit named is the first that refused
    assert row["binding_limit"] == "q.refused" and row["verdict_binding"] == "stage.x"
    assert list(cap.points["load"][:2]) == [1000, 500]           # shrinking first


def test_the_same_seeds_at_every_load_and_for_every_variant(chat, monkeypatch):
    calls: list = []
    monkeypatch.setattr(capmod, "_run_one", _fake(300.0, calls=calls))
    sim.capacity(chat, "workload.clients", {"breaches": 0},
                 {"a": "basic", "b": {"app.posts_in_flight": 8}}, start=100, replications=3,
                 progress=False)
    seeds = {}
    for label, load, seed in calls:
        seeds.setdefault((label, load), []).append(seed)
    assert len({tuple(s) for s in seeds.values()}) == 1 and len(seeds) > 4
    assert {label for label, _ in seeds} == {"a", "b"}


def test_a_search_that_never_fails_says_so(chat, monkeypatch):
    monkeypatch.setattr(capmod, "_run_one", _fake(math.inf))
    cap = sim.capacity(chat, "workload.clients", {"breaches": 0}, ["basic"], start=10,
                       progress=False)
    (row,) = cap.table.to_dict("records")
    assert row["status"] == "holds at every load tried" and math.isnan(row["bracket_high"])


# -- load axes ---------------------------------------------------------------------------------


def test_load_axes_read_and_set_numbers_distributions_and_a_spike_rate(chat):
    ax = load_axis(chat, "workload.clients")
    assert ax.kind == "integer" and ax.overrides(1234.4) == {"workload.clients": 1234}
    scn = chat.with_overrides({"workload.channels.size":
                               {"kind": "lognormal", "median": 20, "p99": 80}})
    ax = load_axis(scn, "workload.channels.size")
    assert ax.kind == "distribution" and ax.base == 20
    scaled = scn.with_overrides(ax.overrides(50)).workload.channels.size
    assert (scaled.median, scaled.p99) == (50, 200)     # the shape kept, the scale moved
    surge = small("connection-surge")
    ax = load_axis(surge, "workload.arrivals.rate_per_s")
    assert ax.base == 1000 and ax.overrides(512.34) == {"workload.arrivals.extra_clients": 30740}
    assert ax.snap(512.34) == pytest.approx(30740 / 60)


@pytest.mark.parametrize("kw, field", [
    ({"load": "workload.clientz"}, "load"),
    ({"load": "architecture"}, "load"),
    ({"load": "workload.arrivals.rate_per_s"}, "load"),        # chat-basic is not a spike
    ({"slo": {"latency_p99_ms": "fast"}}, "slo['latency_p99_ms']"),
    ({"slo": {"breaches": -1}}, "slo['breaches']"),
    ({"slo": {}}, "slo"),
    ({"variants": ["basik"]}, "variants"),
    ({"variants": [{"workload.clientz": 3}]}, "variants['workload.clientz=3']: workload"),
    ({"start": 0}, "start"),
    ({"growth": 1.0}, "growth"),
    ({"rtol": 0}, "rtol"),
    ({"replications": 0}, "replications"),
])
def test_bad_input_names_the_field(chat, kw, field):
    with pytest.raises(sim.ScenarioError) as e:
        sim.capacity(chat, **{"load": "workload.clients", "progress": False, **kw})
    assert e.value.field.startswith(field), e.value


def test_an_unknown_slo_metric_is_refused_after_the_first_run(chat, monkeypatch):
    monkeypatch.setattr(capmod, "_run_one", _fake(300.0))
    with pytest.raises(sim.ScenarioError, match="did you mean latency_p99_ms"):
        sim.capacity(chat, "workload.clients", {"latency_p99_mss": 250}, ["basic"],
                     progress=False)


# -- the two limits with a closed form -----------------------------------------------------------


def test_the_connection_surge_finds_the_new_connection_quota():
    """The spike's arrival rate at which API Gateway starts refusing connections: its 500/s
    quota. The bucket's burst (catalog: one second, 500 connections) lets a spike of T seconds
    run at up to 500 + 500 / T before a refusal; with T = 60 s that is 1.7% over, and Poisson
    arrivals pull it back down a little."""
    scn = small("connection-surge", duration_s=70.0, **{"workload.clients": 200,
                                                        "workload.arrivals.start_s": 5.0})
    quota = sim.resolve(scn)["api_gateway.new_connections_per_s"]
    cap = sim.capacity(scn, "workload.arrivals.rate_per_s", {"breaches": 0}, ["basic"],
                       start=300, rtol=0.03, progress=False)
    (row,) = cap.table.to_dict("records")
    assert row["status"] == "found"
    assert abs(row["capacity"] / quota - 1) <= 0.05, row
    assert row["binding_limit"] == row["first_refusal"] == "api_gateway.new_connections_per_s"
    assert row["breaches_below"] == 0 < row["breaches_above"]


def test_the_livestream_finds_the_throttle_bound_channel_size():
    """One channel holds every viewer (livestream-basic), so each message is one post per
    viewer against the 10,000 requests/s account throttle: the largest channel is 10,000 /
    message rate. At 200 messages/s the Poisson bursts of posts are small against the bucket's
    5,000-request burst, and in 30 s the burst adds at most 5,000 / 30 / 200 < 1 viewer."""
    rate = 200.0
    scn = small("livestream-basic", duration_s=30.0, warmup_s=0.0,
                **{"workload.publish.total_rate_per_s": rate})
    throttle = sim.resolve(scn)["api_gateway.account_throttle_rps"]
    cap = sim.capacity(scn, "workload.clients", {"breaches": 0}, ["basic"], start=10,
                       rtol=0.03, progress=False)
    (row,) = cap.table.to_dict("records")
    assert row["status"] == "found"
    assert abs(row["capacity"] / (throttle / rate) - 1) <= 0.05, row
    assert row["binding_limit"] == "api_gateway.account_throttle"


def test_breaches_count_refusals_not_connections_closed_by_a_design_limit():
    """20,000 chat users whose connections are up to 2 h old: in 20 s a few reach API
    Gateway's maximum connection duration and are closed. That is a design limit, not
    overload: the SLO's ``breaches`` leaves them out, ``breaches_total`` counts them."""
    scn = small("chat-basic", duration_s=20.0, warmup_s=0.0, **{"workload.clients": 20000})
    row = capmod._run_one((scn, "basic", {}, 20000.0, 0, scn.seed))
    assert row["error"] is None
    assert row["summary"]["breaches_total"] > 0 and row["breaches"] == 0


# -- the command line ------------------------------------------------------------------------------

LIVE = ["capacity", "livestream-basic", "--load", "workload.clients", "--set",
        "workload.publish.total_rate_per_s=200", "--set", "warmup_s=0"]


def test_the_cli_prints_one_row_per_design_with_the_binding_limit(capsys):
    from simulator.cli import main

    assert main(LIVE + ["--duration", "10", "--slo", "breaches=0", "--start", "20",
                        "--rtol", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "capacity of livestream-basic in workload.clients" in out
    assert "SLO: breaches <= 0" in out
    (row,) = [line for line in out.splitlines() if line.strip().startswith("basic")]
    assert "found" in row and "api_gateway.account_throttle" in row


@pytest.mark.parametrize("flags, message", [
    (["--slo", "latency_p99_ms"], "--slo = 'latency_p99_ms': must be METRIC=BOUND"),
    (["--slo", "latency_p99_ms=fast"], "--slo latency_p99_ms = 'fast': must be a number"),
    (["--load", "workload.clientz"], "load = 'workload.clientz': no such setting"),
    (["--replications", "0"], "--replications = '0'"),
    (["--start", "-5"], "start = -5.0: must be a number > 0"),
    (["--variants", "basik"], "variants = 'basik': unknown design"),
    (["--slo", "latency_p99_mss=250", "--duration", "5"], "did you mean latency_p99_ms"),
])
def test_bad_cli_flags_exit_2_naming_the_flag(flags, message, capsys):
    from simulator.cli import main

    assert main(LIVE + flags) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_ctrl_c_during_a_capacity_search_prints_what_finished():
    from tests.test_interrupt import interrupt

    code, out, err = interrupt(LIVE + ["--duration", "120", "--start", "20", "--replications",
                                       "2"], 8.0)
    assert code == 130
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "capacity search interrupted after" in err
    assert out.startswith("PARTIAL") and "basic" in out and "interrupted" in out


def test_override_dicts_as_variants_with_and_without_labels(chat, monkeypatch):
    monkeypatch.setattr(capmod, "_run_one", _fake(300.0))
    cap = sim.capacity(chat, "workload.clients", {"breaches": 0},
                       [{}, {"app.posts_in_flight": 8}], start=100, progress=False)
    assert list(cap.table["variant"]) == ["as given", "app.posts_in_flight=8"]
    cap = sim.capacity(chat, "workload.clients", {"breaches": 0},
                       {"1 GB": {}, "2 GB": {"aws.lambda.functions.default.memory_mb": 2048}},
                       start=100, progress=False)
    assert list(cap.table["variant"]) == ["1 GB", "2 GB"]
    assert (cap.table["status"] == "found").all()


def test_serial_and_parallel_searches_give_identical_results():
    scn = small("livestream-basic", duration_s=10.0, warmup_s=0.0,
                **{"workload.publish.total_rate_per_s": 200.0})
    kw = dict(load="workload.clients", slo={"breaches": 0, "latency_p99_ms": 2000},
              variants=["basic"], start=20, rtol=0.1, replications=2, progress=False)
    serial, parallel = sim.capacity(scn, workers=1, **kw), sim.capacity(scn, workers=2, **kw)
    import pandas as pd

    pd.testing.assert_frame_equal(serial.table, parallel.table)
    pd.testing.assert_frame_equal(serial.points, parallel.points)
    assert serial.table["runs"].iloc[0] == 2 * len(serial.points)
