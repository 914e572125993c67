"""Calibration from CloudWatch exports: parsing (and refusing bad files), the fits against known
parameters, the overlay with its sources, a run with the overlay reproducing the fitted p50 /
p99, and the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

import simulator as sim
from simulator.calibrate import fit_period_averages, fit_samples
from simulator.cli import main
from tests.conftest import ROOT

EX = ROOT / "data" / "examples" / "cloudwatch"
FILES = {"lambda_reports": {"default": EX / "lambda-default-report.csv"},
         "dynamodb_item": EX / "dynamodb-item-latency.csv",
         "dynamodb_query": EX / "dynamodb-query-latency.csv",
         "apigw_latency": EX / "apigw-latency.csv",
         "apigw_integration_latency": EX / "apigw-integration-latency.csv"}


@pytest.fixture(scope="module")
def cal():
    return sim.calibrate(**FILES)


# -- fits against known parameters ---------------------------------------------------------------
def test_lognormal_mle_recovers_parameters_within_standard_error():
    """MLE of ln-normal samples: mu-hat has SE sigma / sqrt(n), sigma-hat SE sigma / sqrt(2n);
    over 20 seeds both stay within 4 SE, and the lognormal wins on AIC."""
    median, sigma, n = 0.004, 0.5, 2000
    for seed in range(20):
        x = median * np.exp(sigma * np.random.default_rng(seed).standard_normal(n))
        f = fit_samples("k", x, "test")
        assert f.kind == "lognormal"
        assert abs(math.log(f.spec["median"] / median)) < 4 * sigma / math.sqrt(n)
        assert abs(f.spec["sigma"] - sigma) < 4 * sigma / math.sqrt(2 * n)
        assert f.ks < 1.36 / math.sqrt(n)   # the 5% KS critical value (conservative here)


def test_exponential_and_pareto_samples_pick_their_kind():
    rng = np.random.default_rng(7)
    n = 3000
    f = fit_samples("k", rng.exponential(0.02, n), "test")
    assert f.kind == "exponential"
    assert abs(f.spec["mean"] / 0.02 - 1) < 4 / math.sqrt(n)        # SE of the mean: mean/sqrt(n)
    g = fit_samples("k", 0.01 * (1 + rng.pareto(2.5, n)), "test")
    assert g.kind == "pareto"
    assert abs(g.spec["shape"] / 2.5 - 1) < 4 / math.sqrt(n)        # SE of shape-hat: shape/sqrt(n)


def test_period_average_fit_recovers_mean_and_variance():
    """Averages of N lognormal requests per period: m-hat has SE sqrt(v / sum N); v-hat (the
    mean of k chi-square(1) terms times v) has SE v sqrt(2 / k)."""
    median, sigma, k = 0.005, 0.5, 400
    m = median * math.exp(sigma**2 / 2)
    v = (math.exp(sigma**2) - 1) * median**2 * math.exp(sigma**2)
    rng = np.random.default_rng(3)
    counts = rng.integers(200, 800, k)
    avg = np.array([(median * np.exp(sigma * rng.standard_normal(c))).mean() for c in counts])
    f = fit_period_averages("k", avg, counts, "test")
    mm, vv = f.moments
    assert abs(mm - m) < 4 * math.sqrt(v / counts.sum())
    assert abs(vv / v - 1) < 4 * math.sqrt(2 / k)
    assert f.kind == "lognormal"
    assert f.p50_error is None and f.p99_error is None


# -- the bundled examples ----------------------------------------------------------------------------
def test_examples_fit_with_goodness_of_fit(cal):
    t = cal.table().set_index("key")
    assert set(t.index) == {"aws.lambda.functions.default.handler_s",
                            "aws.lambda.functions.default.init_s", "aws.dynamodb.latency.item_s",
                            "aws.dynamodb.latency.query_page_s", "aws.api_gateway.latency.route_s"}
    h = cal["aws.lambda.functions.default.handler_s"]
    assert h.n == 4000 and h.kind == "lognormal"
    assert h.ks < 1.36 / math.sqrt(h.n)
    assert abs(h.p50_error) < 0.05 and abs(h.p99_error) < 0.10
    for key, f in [(k, cal[k]) for k in t.index]:
        assert str(FILES_BY_KEY[key].name) in f.spec["source"], key
        assert f"{f.n} " in f.spec["source"], key


FILES_BY_KEY = {"aws.lambda.functions.default.handler_s": FILES["lambda_reports"]["default"],
                "aws.lambda.functions.default.init_s": FILES["lambda_reports"]["default"],
                "aws.dynamodb.latency.item_s": FILES["dynamodb_item"],
                "aws.dynamodb.latency.query_page_s": FILES["dynamodb_query"],
                "aws.api_gateway.latency.route_s": FILES["apigw_latency"]}

# the component streams whose draws measure each overlay entry in a run
STREAMS = {"aws.lambda.functions.default.handler_s": "lambda.default.handler",
           "aws.lambda.functions.default.init_s": "lambda.default.init",
           "aws.dynamodb.latency.item_s": "dynamodb",
           "aws.dynamodb.latency.query_page_s": "dynamodb.query",
           "aws.api_gateway.latency.route_s": "api_gateway.publish"}


def test_run_with_overlay_reproduces_fitted_p50_p99(cal, tmp_path):
    """Done-when: the simulator's own measured latency of each calibrated component (the draws
    the model consumed) matches the fitted p50 and p99 within 5%. Every invocation of
    ``default`` is cold (idle environments expire at once, scaling unbounded) so that the
    init draws are as many as the publishes."""
    path = cal.write(tmp_path / "overlay.yaml")
    overlay = yaml.safe_load(path.read_text())
    scn = sim.load_scenario("chat-basic", overrides={
        **overlay, "workload.clients": 5000, "duration_s": 60, "warmup_s": 0,
        "workload.session_s": {"kind": "lognormal", "median": 10, "sigma": 0.5},
        "workload.publish.rate_per_client_per_s": None,
        "workload.publish.total_rate_per_s": 1000, "workload.channels.size": 2,
        "aws.lambda.idle_env_lifetime_s": 1e-6, "aws.lambda.scaling_envs_per_s": 1e6,
        "aws.lambda.scaling_burst_envs": 1e6})
    res = sim.run(scn)
    measured = res.component_latency().set_index("stream")
    for key, stream in STREAMS.items():
        d = cal[key].dist
        row = measured.loc[stream]
        assert row["draws"] > 40_000, (stream, row["draws"])
        for q, col in ((0.5, "p50_ms"), (0.99, "p99_ms")):
            want = d.quantile(q) * 1000.0
            assert abs(row[col] / want - 1) < 0.05, (key, q, row[col], want)
    # the sources travel into the resolved parameters' provenance
    frame = res.params.frame().set_index("key")
    assert "dynamodb-item-latency.csv" in frame.loc["latency.dynamodb_item_s", "source"]
    assert "lambda-default-report.csv" in frame.loc["lambda.functions.default.init_s", "source"]


def test_distribution_source_is_optional_and_dropped_when_absent():
    scn = sim.load_scenario("chat-basic")
    assert "source" not in scn.to_dict()["workload"]["session_s"]
    with pytest.raises(sim.ScenarioError, match="source"):
        sim.load_scenario("chat-basic", overrides={
            "aws.dynamodb.latency.item_s": {"kind": "fixed", "value": 0.01, "source": 3}})


# -- refusing bad files ------------------------------------------------------------------------------
def _csv(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("text, where, rule", [
    ("@timestamp,@billedDuration\n1,2\n", "column '@duration'", "missing"),
    ("@duration\n" + "5\n" * 25 + "abc\n", "row 27, column '@duration'", "must be a number"),
    ("@duration\n" + "5\n" * 25 + "-1\n", "row 27, column '@duration'", "must be > 0"),
    ("@duration\n" + "5\n" * 5, "column '@duration'", "too few REPORT lines"),
    ("@type,@duration\n" + "REPORT,5\n" * 25 + "START,5\n", "column '@type'", "must be REPORT"),
    ("@duration,@initDuration\n" + "5,\n" * 25 + "5,300,7\n", "row 27", "has 3 cells"),
    ("", "export file", "is empty"),
])
def test_lambda_report_errors_name_file_column_rule(tmp_path, text, where, rule):
    p = _csv(tmp_path, "r.csv", text)
    with pytest.raises(sim.ScenarioError) as e:
        sim.calibrate(lambda_reports={"default": p})
    assert where in str(e.value) and rule in str(e.value)


METRIC_HEAD = "Timestamp,MetricName,SampleCount,Average,Unit\n"


@pytest.mark.parametrize("rows, where, rule", [
    ([f"t{k},Latency,100,5,Milliseconds" for k in range(5)], "column 'MetricName'",
     "must be SuccessfulRequestLatency"),
    ([f"t{k},SuccessfulRequestLatency,100,5,Seconds" for k in range(5)], "column 'Unit'",
     "must be Milliseconds"),
    ([f"t{k},SuccessfulRequestLatency,10.5,5,Milliseconds" for k in range(5)],
     "column 'SampleCount'", "whole number"),
    ([f"t0,SuccessfulRequestLatency,100,{a},Milliseconds" for a in (5, 6, 7)],
     "column 'Timestamp'", "repeats a period"),
    ([f"t{k},SuccessfulRequestLatency,100,5,Milliseconds" for k in range(2)], "Timestamp",
     "too few periods"),
    ([f"t{k},SuccessfulRequestLatency,100,5,Milliseconds" for k in range(5)], "",
     "do not vary"),
])
def test_metric_errors_name_file_column_rule(tmp_path, rows, where, rule):
    p = _csv(tmp_path, "m.csv", METRIC_HEAD + "\n".join(rows) + "\n")
    with pytest.raises(sim.ScenarioError) as e:
        sim.calibrate(dynamodb_item=p)
    assert where in str(e.value) and rule in str(e.value) and "m.csv" in str(e.value)


def test_wrong_kind_of_file_and_missing_inputs(tmp_path):
    with pytest.raises(sim.ScenarioError, match="looks like a Logs Insights export"):
        sim.calibrate(dynamodb_item=FILES["lambda_reports"]["default"])
    with pytest.raises(sim.ScenarioError, match="looks like a metric export"):
        sim.calibrate(lambda_reports={"default": FILES["dynamodb_item"]})
    with pytest.raises(sim.ScenarioError, match="give both exports"):
        sim.calibrate(apigw_latency=FILES["apigw_latency"])
    with pytest.raises(sim.ScenarioError, match="at least one export"):
        sim.calibrate()
    with pytest.raises(sim.ScenarioError, match="unknown function"):
        sim.calibrate(lambda_reports={"defualt": FILES["lambda_reports"]["default"]})
    with pytest.raises(sim.ScenarioError, match="does not exist"):
        sim.calibrate(dynamodb_item=tmp_path / "nope.csv")
    # Latency and IntegrationLatency must count the same requests in each period
    lat = _csv(tmp_path, "l.csv", METRIC_HEAD + "".join(
        f"t{k},Latency,100,{50 + k},Milliseconds\n" for k in range(4)))
    itg = _csv(tmp_path, "i.csv", METRIC_HEAD + "".join(
        f"t{k},IntegrationLatency,{100 + (k == 2)},40,Milliseconds\n" for k in range(4)))
    with pytest.raises(sim.ScenarioError, match="must equal Latency's 100 at t2"):
        sim.calibrate(apigw_latency=lat, apigw_integration_latency=itg)


# -- CLI -----------------------------------------------------------------------------------------
def test_cli_writes_overlay_and_run_reads_it(tmp_path, capsys):
    out = tmp_path / "cal.yaml"
    code = main(["calibrate", "--lambda", f"default={FILES['lambda_reports']['default']}",
                 "--dynamodb-item", str(FILES["dynamodb_item"]), "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "aws.dynamodb.latency.item_s" in printed and str(out) in printed
    overlay = yaml.safe_load(out.read_text())
    assert set(overlay) == {"aws.lambda.functions.default.handler_s",
                            "aws.lambda.functions.default.init_s", "aws.dynamodb.latency.item_s"}
    assert all("source" in v for v in overlay.values())
    assert main(["validate", "chat-basic", "--overlay", str(out)]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines()
                if ln.strip().startswith("latency.dynamodb_item_s"))
    assert "aws.dynamodb.latency.item_s in scenario" in line   # chat-basic leaves it to the catalog


@pytest.mark.parametrize("argv, msg", [
    (["calibrate", "--out", "x.yaml"], "at least one export"),
    (["calibrate", "--lambda", "default", "--out", "x.yaml"], "FUNCTION=FILE"),
    (["calibrate", "--dynamodb-item", "/nonexistent.csv", "--out", "x.yaml"], "does not exist"),
    (["validate", "chat-basic", "--overlay", "/nonexistent.yaml"], "--overlay"),
])
def test_cli_bad_input_exits_2(tmp_path, capsys, argv, msg, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err
    assert not (tmp_path / "x.yaml").exists()


def test_cli_overlay_must_be_a_mapping(tmp_path, capsys):
    p = tmp_path / "o.yaml"
    p.write_text("- a\n- b\n")
    assert main(["validate", "chat-basic", "--overlay", str(p)]) == 2
    assert "mapping of dotted keys" in capsys.readouterr().err


def test_qq_plot_labels_axes(cal):
    import matplotlib

    matplotlib.use("Agg")
    from simulator import plots

    for key in ("aws.lambda.functions.default.handler_s", "aws.dynamodb.latency.item_s"):
        ax = plots.qq(cal[key])
        assert ax.get_xlabel() and ax.get_ylabel()
        assert any("y = x" in t.get_text() for t in ax.get_legend().get_texts())
        import matplotlib.pyplot as plt

        plt.close(ax.figure)
