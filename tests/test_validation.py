"""The validation tables (simulator.validation): every row passes on the model as it is; rows
turn to "fail" when a component is broken on purpose; the README quotes the rows the code
computes, and recomputing them agrees with the saved figures beyond run-to-run noise."""

import json
import math

import pandas as pd
import pytest

from simulator import validation
from simulator.aws.lambda_ import LambdaFunction
from simulator.errors import ScenarioError
from simulator.primitives.token_bucket import TokenBucket
from tests.conftest import ROOT

FIGURES = json.loads((ROOT / "benchmarks" / "results" / "compare.json").read_text())["validation"]


@pytest.fixture(scope="module")
def table():
    return validation.validation_table(size="small", seed=0)


def test_every_row_passes_on_the_model_as_it_is(table):
    assert list(table.columns[:len(validation.COLUMNS)]) == validation.COLUMNS
    assert table["passed"].all(), table.loc[~table["passed"], ["check", "expected", "simulated",
                                                               "tolerance"]].to_string()
    groups = set(table["group"])
    assert len(groups) == 7 and len(table) >= 42
    assert (table["source"].str.len() > 10).all()
    # c = 1000 (the account default) is among the Erlang-B checks
    assert 1000 in set(table.loc[table["group"] == "Lambda concurrency vs Erlang-B", "c"])


def test_erlang_b_and_the_batch_formula_on_hand_values():
    assert validation.erlang_b(1, 1.0) == pytest.approx(0.5)
    assert validation.erlang_b(2, 1.0) == pytest.approx(0.2)      # (1/2) / (1 + 1 + 1/2)
    # one server, n jobs: makespan n/mu; two jobs on two servers: H_2/mu = 1.5/mu
    f = validation.fanout_pool(cases=((2, 2),), mean_post_s=1.0, size="small")
    assert f.iloc[0]["expected"] == pytest.approx(1500.0)


def test_late_releases_fail_the_erlang_b_rows(monkeypatch):
    """A model that frees an execution 20% late throttles more than Erlang-B says."""
    finish = LambdaFunction.finish
    monkeypatch.setattr(LambdaFunction, "finish",
                        lambda self, start, end: finish(self, start, start + 1.2 * (end - start)))
    t = validation.lambda_blocking(size="small")
    assert not t["passed"].any(), t[["check", "expected", "simulated", "tolerance"]]


def test_a_bucket_that_refills_too_fast_fails(monkeypatch):
    init = TokenBucket.__init__
    monkeypatch.setattr(TokenBucket, "__init__",
                        lambda self, rate, cap, *a, **k: init(self, 2 * rate, cap, *a, **k))
    t = validation.token_bucket(size="small")
    assert not t.set_index("check").loc["3x overload, 4 s", "passed"]
    assert not t.set_index("check").loc["3x overload, long-run rate", "passed"]


def test_a_wrong_price_fails_its_examples(tmp_path):
    import shutil

    import yaml

    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    p = data / "pricing" / "us-east-1.yaml"
    doc = yaml.safe_load(p.read_text())
    doc["items"]["lambda.requests"]["tiers"][0]["usd"] *= 1.1
    p.write_text(yaml.safe_dump(doc))
    t = validation.pricing_examples(data)
    bad = t[~t["passed"]]
    assert len(bad) and bad["check"].str.contains("lambda.requests|total").all()
    assert t[t["check"].str.startswith("API Gateway")]["passed"].all()


def test_a_default_off_its_measurement_fails(tmp_path):
    import shutil

    import yaml

    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    p = data / "validation" / "latency_measurements.yaml"
    doc = yaml.safe_load(p.read_text())
    doc["measurements"]["sns_to_lambda_p50"]["published_ms"] = 80
    doc["measurements"]["lambda_init_p50"]["published_ms"] = [87, 183]
    p.write_text(yaml.safe_dump(doc))
    t = validation.latency_defaults(data).set_index("check")
    assert not t.loc["sns_to_lambda_p50", "passed"] and not t.loc["lambda_init_p50", "passed"]
    assert t.loc["lambda_init_p50", "error_abs"] == pytest.approx(300 - 183)


def test_bad_validation_data_is_a_named_error(tmp_path):
    import shutil

    import yaml

    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    p = data / "validation" / "pricing_examples.yaml"
    doc = yaml.safe_load(p.read_text())
    del doc["examples"]["lambda_telemetry"]["source"]
    p.write_text(yaml.safe_dump(doc))
    with pytest.raises(ScenarioError, match="source"):
        validation.pricing_examples(data)
    with pytest.raises(ScenarioError, match="size"):
        validation.validation_table(size="huge")


def test_the_validation_data_is_read_by_the_code():
    """Every example and measurement in data/validation/ becomes rows of the table."""
    import yaml

    ex = yaml.safe_load((ROOT / "data/validation/pricing_examples.yaml").read_text())["examples"]
    ms = yaml.safe_load((ROOT / "data/validation/latency_measurements.yaml").read_text())
    rows = FIGURES["rows"]
    assert {r.get("example") for r in rows} - {None} == set(ex)
    assert set(ms["measurements"]) <= {r["check"] for r in rows}


def test_readme_quotes_the_validation_tables():
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from readme_figures import validation_row

    readme = (ROOT / "README.md").read_text()
    for name, lines in FIGURES["tables"].items():
        for line in lines:
            assert line in readme, f"README lacks the {name} validation row: {line}"
    assert [validation_row(r) for r in FIGURES["rows"]] == [
        line for lines in FIGURES["tables"].values() for line in lines]
    assert f"{sum(r['passed'] for r in FIGURES['rows'])} of {len(FIGURES['rows'])} checks pass" \
        in readme


@pytest.mark.slow
def test_the_saved_figures_are_what_the_code_computes():
    """Recompute the README's size (seed 0, about 10 s): each simulated value agrees with the
    saved one within a tenth of its tolerance (same seed: identical on one platform; the margin
    allows another platform's floating point), and pass/fail is the same."""
    now = validation.validation_table(size=FIGURES["size"], seed=FIGURES["seed"])
    saved = pd.DataFrame(FIGURES["rows"])
    assert list(now["check"]) == list(saved["check"])
    for (_, a), (_, b) in zip(now.iterrows(), saved.iterrows()):
        slack = max(0.1 * b["tolerance"], 1e-9 * max(1.0, abs(b["simulated"])))
        assert math.isclose(a["simulated"], b["simulated"], abs_tol=slack), (a["check"],
                                                                             a["simulated"],
                                                                             b["simulated"])
        assert a["passed"] == b["passed"], a["check"]
