"""``python -m simulator sweep``: grids as ``KEY=V1,V2``, Latin hypercube and random designs,
replications to a precision target, a store that resumes (``--out DIR``), a CSV export, and a
clear exit 2 for every bad flag."""

from __future__ import annotations

import pandas as pd
import pytest

import simulator as sim
from simulator.cli import main, parse_grid

SMALL = ["--duration", "30", "--set", "warmup_s=5", "--set", "workload.clients=200"]


def test_grid_values_are_comma_separated_or_a_yaml_list():
    assert parse_grid(["a=1,2.5,x", "b=[3, 4]", "c=7", "d={kind: app, interval_s: 30}"]) == {
        "a": [1, 2.5, "x"], "b": [3, 4], "c": 7, "d": {"kind": "app", "interval_s": 30}}


def test_a_stored_sweep_resumes_and_says_so(tmp_path, capsys):
    out, csv = tmp_path / "s", tmp_path / "rows.csv"
    args = ["sweep", "chat-basic", *SMALL, "--grid", "workload.publish.rate_per_client_per_s="
            "0.01,0.05", "--replications", "2", "--workers", "1", "--out", str(out)]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert f"4 runs, 0 failed; stored in {out}" in first and "earlier" not in first
    assert main([*args, "--csv", str(csv)]) == 0
    assert "4 of them read from an earlier run" in capsys.readouterr().out
    df = sim.load_sweep(out)
    assert len(df) == 4 and list(df["replication"]) == [0, 1, 0, 1]
    rows = pd.read_csv(csv)
    assert list(rows["seed"]) == list(df["seed"]) and rows["error"].isna().all()


def test_a_latin_hypercube_with_replications_to_a_target(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["sweep", "chat-basic", *SMALL, "--lhs", "workload.clients=100:300",
                 "--lhs", "workload.publish.rate_per_client_per_s=0.005:0.05:log",
                 "--points", "3", "--design-seed", "4", "--replications", "2",
                 "--precision", "latency_mean_ms=50%", "--max-replications", "3",
                 "--workers", "1", "--out", str(out)]) == 0
    df = sim.load_sweep(out)
    want = sim.lhs({"workload.clients": (100, 300),
                    "workload.publish.rate_per_client_per_s": (0.005, 0.05)}, n=3, seed=4,
                   log=["workload.publish.rate_per_client_per_s"])
    assert df.attrs["manifest"]["design"] == want.spec
    assert df.attrs["manifest"]["points"] == want.points
    assert sorted(set(df["param.workload.clients"])) == sorted(
        p["workload.clients"] for p in want.points)
    assert df.groupby("point").size().between(2, 3).all()
    assert df.attrs["manifest"]["precision"] == {
        "metric": "latency_mean_ms", "max_replications": 3, "half_width": None, "relative": 0.5}


@pytest.mark.parametrize("flags, message", [
    ([], "--grid = None: give at least one --grid"),
    (["--grid", "workload.clients"], "must be KEY=V1,V2"),
    (["--grid", "workload.clients=1,,2"], "an empty value between commas"),
    (["--grid", "workload.clientz=1,2"], "workload.clientz"),
    (["--lhs", "workload.clients=1:x", "--points", "2"], "LO and HI must be numbers"),
    (["--lhs", "workload.clients=1-5", "--points", "2"], "must be KEY=LO:HI"),
    (["--lhs", "workload.clients=5:1", "--points", "2"], "low must be below high"),
    (["--lhs", "workload.clients=1:5"], "--lhs needs --points"),
    (["--grid", "workload.clients=1,2", "--points", "3"], "only with --lhs or --random"),
    (["--lhs", "a=1:2", "--random", "b=1:2", "--points", "2"], "not both"),
    (["--grid", "workload.clients=1,2", "--out", "x.csv"], "write a CSV with --csv"),
    (["--grid", "workload.clients=1,2", "--retry-failed"], "only with --out DIR"),
    (["--grid", "workload.clients=1,2", "--precision", "latency_p99_ms=5"],
     "--precision needs a cap"),
    (["--grid", "workload.clients=1,2", "--precision", "latency_p99_ms=fast",
      "--max-replications", "3"], "must be a number"),
    (["--grid", "workload.clients=1,2", "--max-replications", "3"], "only with --precision"),
    (["--grid", "workload.clients=1,2", "--precision", "latency_p99_ms=5",
      "--max-replications", "3"], "must be >= 2 with precision"),
    (["--grid", "workload.clients=1,2", "--workers", "0"], "--workers = '0'"),
    (["--grid", "workload.clients=1,2", "--workers", "2", "--dask", "tcp://x:1"], "not both"),
])
def test_bad_sweep_flags_exit_2_with_one_clear_line(flags, message, capsys):
    assert main(["sweep", "chat-basic", *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_store_of_another_experiment_exits_2(tmp_path, capsys):
    out = tmp_path / "s"
    args = ["sweep", "chat-basic", *SMALL, "--grid", "workload.publish.rate_per_client_per_s="
            "0.01,0.05", "--workers", "1", "--out", str(out)]
    assert main(args) == 0
    assert main([*args, "--set", "workload.clients=201"]) == 2
    err = capsys.readouterr().err
    assert "scenario.workload.clients: stored 200, now 201" in err
