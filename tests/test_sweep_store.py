"""Sweeps that survive: the result store (write as runs finish, resume, refuse another
experiment, SIGKILL halfway), failed runs kept, designs (grid, Latin hypercube, random),
replications chosen per point to a CI target, and identical rows on every executor
(serial, processes, threads, a Dask LocalCluster)."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import simulator as sim
import simulator.sweeps as sweeps
from simulator.store import RUNS
from tests.conftest import ROOT, small

BASE = {"workload.clients": 300, "duration_s": 40.0, "warmup_s": 5.0}
GRID = {"workload.publish.rate_per_client_per_s": [0.01, 0.03, 0.05]}
VARYING = ("wall_seconds", "run_seconds")   # the only columns that may differ between runs


def same(a: pd.DataFrame, b: pd.DataFrame, loose: bool = False) -> None:
    """The same rows (``loose``: missing as missing, whether None or NaN, any dtype)."""
    cols = [c for c in a.columns if c not in VARYING]
    assert list(a.columns) == list(b.columns)
    a, b = a[cols].reset_index(drop=True), b[cols].reset_index(drop=True)
    if loose:
        a, b = (x.astype(object).where(x.notna(), None) for x in (a, b))
    pd.testing.assert_frame_equal(a, b, check_dtype=not loose)


@pytest.fixture(scope="module")
def scn():
    return small("chat-basic", **BASE)


@pytest.fixture(scope="module")
def reference(scn):
    """The sweep in memory, serial: what every other way of running it must give."""
    return sim.sweep(scn, GRID, replications=2, workers=1, progress=False)


def counting(monkeypatch) -> list:
    """Record the (point, replication) of every run this process makes (serial sweeps)."""
    calls: list = []
    real = sweeps._run_point

    def spy(args):
        calls.append((args[2], args[3]))
        return real(args)

    monkeypatch.setattr(sweeps, "_run_point", spy)
    return calls


# -- the store ---------------------------------------------------------------------------------

def test_stored_sweep_equals_in_memory_and_resumes_without_running(scn, reference, tmp_path,
                                                                   monkeypatch):
    out = tmp_path / "s"
    calls = counting(monkeypatch)
    df = sim.sweep(scn, GRID, replications=2, workers=1, progress=False, out=out)
    assert sorted(calls) == [(p, r) for p in range(3) for r in range(2)]   # each run once
    same(df, reference)
    # common random numbers: replication r has the same seed at every point
    assert list(df["seed"]) == sweeps.replication_seeds(scn.seed, 2) * 3
    assert len(list((out / RUNS).glob("*.parquet"))) == 6
    loaded = sim.load_sweep(out)
    pd.testing.assert_frame_equal(loaded, df)
    m = loaded.attrs["manifest"]
    assert m["scenario"]["workload"]["clients"] == 300 and m["replications"] == 2
    assert m["seeds"] == sweeps.replication_seeds(scn.seed, 2)
    assert m["version"] == sim.__version__ and len(m["points"]) == 3
    assert m["resolved"]["api_gateway.new_connections_per_s"] == \
        sim.resolve(scn)["api_gateway.new_connections_per_s"]

    calls.clear()
    again = sim.sweep(scn, GRID, replications=2, workers=1, progress=False, out=out)
    assert calls == []                       # everything was read back
    pd.testing.assert_frame_equal(again, df)

    (out / RUNS / "p000001-r0000.parquet").unlink()    # a run lost: only it runs again
    (out / RUNS / "p000002-r0001.parquet").unlink()
    again = sim.sweep(scn, GRID, replications=2, workers=1, progress=False, out=out)
    assert sorted(calls) == [(1, 0), (2, 1)]
    same(again, df)


@pytest.mark.parametrize("change, field", [
    ({"scn": {"workload.clients": 301}}, "scenario.workload.clients"),
    ({"grid": {"workload.publish.rate_per_client_per_s": [0.01, 0.03, 0.06]}},
     "design.grid.workload.publish.rate_per_client_per_s[2]: stored 0.05, now 0.06"),
    ({"replications": 3}, "replications"),
    ({"precision": {"metric": "latency_p99_ms", "half_width": 5.0, "max_replications": 4}},
     "precision"),
    ({"scn": {"catalog.latency.lambda_init_s": 0.5}}, "scenario.catalog"),
])
def test_a_store_refuses_another_experiment(scn, tmp_path, change, field):
    out = tmp_path / "s"
    sim.sweep(scn, GRID, replications=2, workers=1, progress=False, out=out)
    files = sorted((out / RUNS).iterdir())
    kw = {"replications": 2, **{k: v for k, v in change.items() if k not in ("scn", "grid")}}
    other = scn.with_overrides(change["scn"]) if "scn" in change else scn
    with pytest.raises(sim.ScenarioError, match="different experiment") as e:
        sim.sweep(other, change.get("grid", GRID), workers=1, progress=False, out=out, **kw)
    assert field in str(e.value) and str(out) in str(e.value)
    assert sorted((out / RUNS).iterdir()) == files      # nothing mixed in


def test_a_store_refuses_runs_made_with_other_catalog_values(scn, tmp_path):
    import json

    out = tmp_path / "s"
    sim.sweep(scn, GRID, workers=1, progress=False, out=out)
    m = json.loads((out / "manifest.json").read_text())
    m["resolved"]["api_gateway.new_connections_per_s"] = 400   # as if data/ had said 400
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(sim.ScenarioError, match=r"resolved\.api_gateway\.new_connections_per_s: "
                                                r"stored 400"):
        sim.sweep(scn, GRID, workers=1, progress=False, out=out)


def test_a_directory_that_is_not_a_store_is_refused(scn, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(sim.ScenarioError, match="not a sweep store"):
        sim.sweep(scn, GRID, workers=1, progress=False, out=tmp_path)
    with pytest.raises(sim.ScenarioError, match="not a sweep store"):
        sim.load_sweep(tmp_path)


def flaky_at(monkeypatch, rate: float, calls: list | None = None):
    real = sim.run

    def flaky(s, **kw):
        if calls is not None:
            calls.append(s.workload.publish.rate_per_client_per_s)
        if s.workload.publish.rate_per_client_per_s == rate:
            raise RuntimeError("boom")
        return real(s, **kw)

    monkeypatch.setattr(sim, "run", flaky)


def test_failed_runs_are_stored_and_rerun_only_when_asked(scn, reference, tmp_path, monkeypatch):
    out = tmp_path / "s"
    flaky_at(monkeypatch, 0.03)
    df = sim.sweep(scn, GRID, replications=2, workers=1, progress=False, out=out)
    broken = df["param.workload.publish.rate_per_client_per_s"] == 0.03
    assert (df.loc[broken, "error"] == "RuntimeError: boom").all() and broken.sum() == 2
    # the others all there, as if nothing had failed (the failed rows' missing summary keys
    # make some of their columns floats)
    same(df[~broken].drop(columns="traceback"), reference[~broken], loose=True)
    assert "boom" in sim.load_sweep(out).loc[broken.to_numpy(), "traceback"].iloc[0]

    monkeypatch.undo()
    calls = counting(monkeypatch)
    kept = sim.sweep(scn, GRID, replications=2, workers=1, progress=False, out=out)
    assert calls == [] and kept["error"].notna().sum() == 2
    fixed = sim.sweep(scn, GRID, replications=2, workers=1, progress=False, out=out,
                      retry_failed=True)
    assert sorted(calls) == [(1, 0), (1, 1)]
    same(fixed, reference)
    assert sim.load_sweep(out)["error"].isna().all()


KILLED = textwrap.dedent("""
    import sys
    import simulator as sim
    scn = sim.load_scenario(sys.argv[2], overrides={BASE!r})
    sim.sweep(scn, {{"workload.clients": list(range(300, 308))}}, replications=2, workers=1,
              progress=False, out=sys.argv[1])
""")


def test_a_sweep_killed_halfway_resumes_with_every_point_once(tmp_path):
    out = tmp_path / "s"
    script = KILLED.format(BASE=BASE)
    p = subprocess.Popen([sys.executable, "-c", script, str(out),
                          str(ROOT / "data" / "scenarios" / "chat-basic.yaml")], cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and p.poll() is None:
        if len(list((out / RUNS).glob("*.parquet"))) >= 5 if (out / RUNS).is_dir() else False:
            break
        time.sleep(0.005)
    assert p.poll() is None, "the sweep ended before it could be killed"
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    before = sim.load_sweep(out)
    assert 5 <= len(before) < 16
    # a write cut short leaves only a temporary file, which the loader ignores
    (out / RUNS / ".tmp-cut-short").write_bytes(b"PAR1 half a file")
    assert len(sim.load_sweep(out)) == len(before)

    scn = small("chat-basic", **BASE)
    grid = {"workload.clients": list(range(300, 308))}
    resumed = sim.sweep(scn, grid, replications=2, workers=2, progress=False, out=out)
    assert not (out / RUNS / ".tmp-cut-short").exists()
    assert len(resumed) == 16
    assert sorted(zip(resumed["point"], resumed["replication"])) == \
        [(p, r) for p in range(8) for r in range(2)]
    assert resumed["error"].isna().all()
    fresh = sim.sweep(scn, grid, replications=2, workers=1, progress=False)
    same(resumed, fresh)
    pd.testing.assert_frame_equal(sim.load_sweep(out), resumed)


# -- executors ---------------------------------------------------------------------------------

def test_same_rows_serial_processes_threads(scn, reference):
    same(sim.sweep(scn, GRID, replications=2, workers=2, progress=False), reference)
    with ThreadPoolExecutor(2) as ex:
        same(sim.sweep(scn, GRID, replications=2, executor=ex, progress=False), reference)


def test_same_rows_on_a_dask_local_cluster(scn, reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        df = sim.sweep(scn, GRID, replications=2, executor=client.get_executor(),
                       progress=False, out=tmp_path / "s")
        assert len(client.scheduler_info()["workers"]) == 2
    same(df, reference)
    same(sim.load_sweep(tmp_path / "s"), reference)


def test_bad_executor_arguments(scn):
    with pytest.raises(sim.ScenarioError, match="executor"):
        sim.sweep(scn, GRID, executor="dask", progress=False)
    with ThreadPoolExecutor(1) as ex, pytest.raises(sim.ScenarioError, match="not both"):
        sim.sweep(scn, GRID, executor=ex, workers=2, progress=False)
    for w in (0, 1.5, True):
        with pytest.raises(sim.ScenarioError, match="workers"):
            sim.sweep(scn, GRID, workers=w, progress=False)


def test_progress_bar_counts_runs_and_failures(scn, tmp_path, monkeypatch, capsys):
    flaky_at(monkeypatch, 0.05)
    sim.sweep(scn, GRID, workers=1, progress=True, out=tmp_path / "s")
    err = capsys.readouterr().err
    assert "3/3" in err and "failed=1" in err
    monkeypatch.undo()
    sim.sweep(scn, GRID, workers=1, progress=True, out=tmp_path / "s")   # all read back
    assert "3/3" in capsys.readouterr().err
    sim.sweep(scn, GRID, workers=1, progress=False, out=tmp_path / "s")
    assert capsys.readouterr().err == ""


# -- designs -----------------------------------------------------------------------------------

def test_latin_hypercube_puts_one_point_in_every_stratum():
    ranges = {"workload.clients": (1000, 50000), "workload.channels.size.value": (10.0, 500.0),
              "x.log": (1.0, 1000.0)}
    d = sim.lhs(ranges, n=20, seed=3, log=["x.log"])
    assert len(d) == 20 and d.spec["kind"] == "lhs"
    assert all(isinstance(p["workload.clients"], int) for p in d.points)   # integer bounds
    clients = np.array([p["workload.clients"] for p in d.points])
    sizes = np.array([p["workload.channels.size.value"] for p in d.points])
    logs = np.log10([p["x.log"] for p in d.points])
    for values, lo, hi in ((sizes, 10, 500), (logs, 0, 3), (clients, 1000, 50000)):
        strata = np.floor((values - lo) / (hi - lo) * 20).clip(0, 19)
        if values is clients:    # rounding may cross a stratum edge by half a client
            assert len(set(strata)) >= 19
        else:
            assert sorted(strata) == list(range(20))
    assert sim.lhs(ranges, n=20, seed=3, log=["x.log"]).points == d.points
    assert sim.lhs(ranges, n=20, seed=4, log=["x.log"]).points != d.points


def test_random_design_stays_in_its_ranges_and_crosses_a_grid():
    d = sim.random_design({"a": (0.0, 1.0), "b": (5, 9)}, n=50, seed=1)
    assert all(0 <= p["a"] <= 1 and 5 <= p["b"] <= 9 and isinstance(p["b"], int)
               for p in d.points)
    assert len({p["b"] for p in d.points}) == 5
    from simulator.designs import combine

    both = combine({"c": [1, 2], "duration_s": 60}, d)
    assert len(both) == 100 and all(p["duration_s"] == 60 for p in both.points)
    with pytest.raises(sim.ScenarioError, match="also in the design"):
        combine({"a": [1, 2]}, d)


@pytest.mark.parametrize("call, field", [
    (lambda: sim.lhs({}, n=3), "ranges"),
    (lambda: sim.lhs({"a": (2, 1)}, n=3), "ranges['a']"),
    (lambda: sim.lhs({"a": (0, "x")}, n=3), "ranges['a']"),
    (lambda: sim.lhs({"a": (0, 1)}, n=0), "n"),
    (lambda: sim.lhs({"a": (0, 1)}, n=3, log=["a"]), "ranges['a']"),
    (lambda: sim.lhs({"a": (1, 2)}, n=3, log=["b"]), "log"),
    (lambda: sim.random_design({"a": (0, 1)}, n=3, seed=-1), "seed"),
])
def test_bad_designs_name_the_field(call, field):
    with pytest.raises(sim.ScenarioError) as e:
        call()
    assert e.value.field == field


def test_a_sweep_over_a_latin_hypercube(scn):
    d = sim.lhs({"workload.clients": (200, 400),
                 "workload.publish.rate_per_client_per_s": (0.01, 0.05)}, n=3, seed=1)
    df = sim.sweep(scn, {"duration_s": 30.0}, design=d, workers=1, progress=False)
    assert list(df["param.workload.clients"]) == [p["workload.clients"] for p in d.points]
    assert (df["param.duration_s"] == 30.0).all() and list(df["point"]) == [0, 1, 2]
    assert (df["connections_initial"] == df["param.workload.clients"]).all() \
        if "connections_initial" in df else True
    with pytest.raises(sim.ScenarioError, match="grid"):
        sim.sweep(scn, progress=False)


# -- replications to a precision target -----------------------------------------------------

def test_t_quantile_matches_scipy():
    from scipy.stats import t

    for df in (1, 2, 3, 4, 7, 12, 30, 120):
        assert abs(sweeps.t_quantile_975(df) - t.ppf(0.975, df)) < 1e-9


def test_precision_adds_replications_until_the_target_or_the_cap(scn, tmp_path):
    grid = {"workload.publish.rate_per_client_per_s": [0.01, 0.05]}
    target = 7.5   # ms: one point needs a third run, the other reaches the cap
    prec = {"metric": "latency_mean_ms", "half_width": target, "max_replications": 8}
    df = sim.sweep(scn, grid, replications=2, precision=prec, workers=1, progress=False)
    s = sim.summarize(df, ["latency_mean_ms"])
    assert ((s["latency_mean_ms.ci95"] <= target) | (s["runs"] == 8)).all()
    assert ((s["runs"] > 2) & (s["runs"] < 8)).any(), "no point stopped between 2 and the cap"
    # each point is the fixed-replication sweep cut where it stopped (common random numbers)
    full = sim.sweep(scn, grid, replications=8, workers=1, progress=False)
    for (p, n) in df.groupby("point").size().items():
        same(df[df["point"] == p], full[(full["point"] == p) & (full["replication"] < n)])
        # the rule, replayed: stop when the half-width of the first k meets the target or k
        # is the cap, else go to the k the current spread says is needed (at least k + 1)
        x, k = full.loc[full["point"] == p, "latency_mean_ms"].to_numpy(), 2
        while (hw := sweeps.half_width_95(x[:k])) > target and k < 8:
            k = min(8, max(k + 1, math.ceil((hw * math.sqrt(k) / target) ** 2)))
        assert n == k
    # the same on two processes, and stored then resumed
    same(sim.sweep(scn, grid, replications=2, precision=prec, workers=2, progress=False), df)
    out = tmp_path / "s"
    same(sim.sweep(scn, grid, replications=2, precision=prec, workers=2, progress=False,
                   out=out), df)
    same(sim.sweep(scn, grid, replications=2, precision=prec, workers=1, progress=False,
                   out=out), df)


@pytest.mark.parametrize("prec, reps, field", [
    ({"metric": "latency_p99_ms", "half_width": 5.0, "max_replications": 4}, 1, "replications"),
    ({"metric": "nope", "half_width": 5.0, "max_replications": 4}, 2, "precision.metric"),
    ({"metric": "latency_p99_ms", "max_replications": 4}, 2, "precision"),
    ({"metric": "latency_p99_ms", "half_width": -1, "max_replications": 4}, 2,
     "precision.half_width"),
    ({"metric": "latency_p99_ms", "half_width": 5.0, "max_replications": 1}, 2,
     "precision.max_replications"),
    ({"metric": "latency_p99_ms", "half_width": 5.0, "max_replications": 4, "x": 1}, 2,
     "precision.x"),
])
def test_bad_precision_names_the_field(scn, prec, reps, field):
    with pytest.raises(sim.ScenarioError) as e:
        sim.sweep(scn, GRID, replications=reps, precision=prec, progress=False)
    assert e.value.field == field
