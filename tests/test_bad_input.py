"""Bad input (scenario files, overrides, CLI flags): a ScenarioError (a ValueError) naming the
field, the value and the rule; exit status 2 from the CLI; never a traceback.

Property tests generate the bad scenarios."""

import subprocess
import sys

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simulator as sim
from simulator.cli import main
from tests.conftest import ROOT

BASE = yaml.safe_load((ROOT / "data/scenarios/chat-basic.yaml").read_text())
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

# mappings of the base scenario where a key can be inserted
MAPPINGS = ["", "workload", "workload.session_s", "workload.disconnect", "workload.channels",
            "workload.publish", "aws", "aws.lambda", "aws.lambda.functions.default"]
POSITIVE = ["duration_s", "workload.session_s.median", "workload.channels.size.median",
            "workload.publish.payload_bytes.median", "aws.lambda.functions.default.memory_mb",
            "aws.api_gateway.account_throttle_rps", "aws.lambda.account_concurrency",
            "aws.api_gateway.new_connections_per_s"]
NON_NEGATIVE = ["workload.clients", "workload.publish.rate_per_client_per_s", "warmup_s", "seed"]

identifiers = st.from_regex(r"[a-z][a-z_]{2,14}", fullmatch=True)


def expect_error(overrides=None, raw=None, path=None):
    with pytest.raises(sim.ScenarioError) as ei:
        if raw is not None:
            sim.scenario_from_dict(raw, overrides)
        else:
            sim.load_scenario(path or ROOT / "data/scenarios/chat-basic.yaml", overrides=overrides)
    assert isinstance(ei.value, ValueError)
    return str(ei.value)


@SETTINGS
@given(where=st.sampled_from(MAPPINGS), key=identifiers)
def test_unknown_key_is_named(where, key):
    node = BASE
    for p in filter(None, where.split(".")):
        node = node.get(p, {})
    if key in node or key in {"lambda_"}:
        return
    path = f"{where}.{key}" if where else key
    msg = expect_error({path: 1})
    assert path in msg and "unknown key" in msg


@SETTINGS
@given(path=st.sampled_from(POSITIVE), value=st.floats(min_value=-1e6, max_value=0))
def test_non_positive_values_are_named(path, value):
    if path.endswith(("memory_mb", "account_concurrency")):
        value = int(value)
    msg = expect_error({path: value})
    assert path in msg and ("greater than" in msg or "within" in msg)


@SETTINGS
@given(path=st.sampled_from(NON_NEGATIVE), value=st.floats(max_value=-1e-9, min_value=-1e9))
def test_negative_values_are_named(path, value):
    if path in ("workload.clients", "seed"):
        value = int(value) - 1
    msg = expect_error({path: value})
    assert path in msg


@SETTINGS
@given(g=st.floats(0, 1), a=st.floats(0, 1))
def test_fractions_must_sum_to_one(g, a):
    if abs(g + a - 1) <= 1e-6:
        return
    msg = expect_error({"workload.disconnect.graceful_fraction": g,
                        "workload.disconnect.abrupt_fraction": a})
    assert "workload.disconnect.abrupt_fraction" in msg and "sum to 1" in msg


@SETTINGS
@given(region=st.from_regex(r"[a-z]{2}-[a-z]{3,9}-[0-9]{1,2}", fullmatch=True))
def test_region_without_data(region):
    if region in sim.load_catalog().regions:
        return
    msg = expect_error({"region": region})
    assert f"region = '{region}'" in msg and "no latency data" in msg


@SETTINGS
@given(junk=st.sampled_from(["workload: [1, 2", "a: b: c", "\tname: x", "{unclosed", "- a\nb: c",
                             "key: 'open"]))
def test_malformed_yaml(tmp_path_factory, junk):
    p = tmp_path_factory.mktemp("bad") / "s.yaml"
    p.write_text(junk)
    msg = expect_error(path=p)
    assert "malformed YAML" in msg or "mapping" in msg


def test_missing_file_and_empty_file(tmp_path):
    msg = expect_error(path=tmp_path / "nope.yaml")
    assert "does not exist" in msg
    (tmp_path / "empty.yaml").write_text("")
    assert "is empty" in expect_error(path=tmp_path / "empty.yaml")


def test_rules_between_fields():
    assert "exactly one of" in expect_error({"workload.publish.total_rate_per_s": 3})
    assert "warmup_s = 600" in expect_error({"warmup_s": 600})
    assert "reserved concurrency" in expect_error(
        {"aws.lambda.functions.default.reserved_concurrency": 950})
    assert "memory_mb" in expect_error({"aws.lambda.functions.default.memory_mb": 64})
    assert "Lambda maximum timeout" in expect_error({"aws.lambda.functions.default.timeout_s": 901})
    assert "unknown preset" in expect_error({"quota_preset": "nope"})
    assert "unknown architecture" in expect_error({"architecture": "mesh"})
    assert "p99" in expect_error({"workload.session_s": {"kind": "lognormal", "median": 5,
                                                         "p99": 4}})
    assert "cannot set a key inside" in expect_error({"duration_s.x": 1})


def test_api_rejects_non_scenarios():
    with pytest.raises(sim.ScenarioError, match="must be a Scenario"):
        sim.run({"name": "x"})


@SETTINGS
@given(kv=st.sampled_from(["workload.clients=-5", "region=mars-1", "duration_s=abc",
                           "nope=1", "workload.publish.payload_bytes=twelve", "novalue"]))
def test_cli_exit_status_2(capsys, kv):
    code = main(["run", "data/scenarios/chat-basic.yaml", "--set", kv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and "Traceback" not in err


def test_cli_subprocess_has_no_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nduration_s: 10\nworkload: {clients: 10, extra: 1}\n")
    for args in (["run", str(bad)], ["run", "does/not/exist.yaml"], ["validate", str(bad)]):
        p = subprocess.run([sys.executable, "-m", "simulator", *args], cwd=ROOT,
                           capture_output=True, text=True)
        assert p.returncode == 2, p.stderr
        assert "Traceback" not in p.stderr and p.stderr.startswith("error: ")


def test_changing_a_variant_tag_starts_the_setting_afresh():
    scn = sim.load_scenario(ROOT / "data/scenarios/zombie-heartbeat.yaml",
                            overrides={"workload.heartbeat.kind": "none"})
    assert scn.workload.heartbeat.kind == "none"
    scn = sim.load_scenario(ROOT / "data/scenarios/zombie-heartbeat.yaml",
                            overrides={"workload.heartbeat.interval_s": 30,
                                       "workload.heartbeat.kind": "ws_ping"})
    assert (scn.workload.heartbeat.kind, scn.workload.heartbeat.interval_s) == ("ws_ping", 30)
    msg = expect_error({"workload.heartbeat.kind": "ws_ping"})
    assert "workload.heartbeat.interval_s" in msg and "required" in msg


# -- comparing designs ------------------------------------------------------------------------
@pytest.mark.parametrize("argv, needle", [
    (["--variants", "basic,snz"], "variants = 'snz': unknown design"),
    (["--variants", "basic,basic"], "names a design twice"),
    (["--replications", "0"], "--replications = '0': must be an integer >= 1"),
    (["--workers", "two"], "--workers = 'two'"),
    (["--set", "app.sqs_tier.maximum_concurrency=5000", "--variants", "sqs"],
     "app.sqs_tier.maximum_concurrency = 5000: must be within 2..1000"),
    (["--set", "app.sqs_tier.visibility_timeout_s=10", "--variants", "sqs"],
     "app.sqs_tier.visibility_timeout_s = 10"),
    (["--set", "app.sns_tier.shards=0", "--variants", "sns"], "app.sns_tier.shards"),
    (["--set", "app.sqs_tier.batch_size=11", "--variants", "sqs"],
     "app.sqs_tier.batch_size = 11: above 10 needs app.sqs_tier.batching_window_s >= 1 s"),
    (["--set", "app.sqs_tier.batch_size=20000", "--set", "app.sqs_tier.batching_window_s=5",
      "--variants", "sqs"], "app.sqs_tier.batch_size = 20000: must be <= 10000"),
    (["--set", "app.resume={kind: history}", "--variants", "basic,appsync"],
     "not modelled for the 'appsync' design"),
])
def test_compare_cli_refuses_bad_designs_and_settings(argv, needle, capsys):
    code = main(["compare", str(ROOT / "data/scenarios/chat-compare.yaml"), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err, err
    assert "Traceback" not in err


def test_compare_api_names_the_unknown_design():
    scn = sim.load_scenario(ROOT / "data/scenarios/chat-compare.yaml")
    with pytest.raises(sim.ScenarioError, match="variants = 'nope'"):
        sim.compare(scn, ["basic", "nope"])
    with pytest.raises(sim.ScenarioError, match="replications"):
        sim.compare(scn, ["basic"], replications=0)


def test_scenario_naming_an_unknown_variant_is_refused():
    msg = expect_error(path=ROOT / "data/scenarios/chat-compare.yaml",
                       overrides={"variants": ["basic", "broadcastr"]})
    assert "variants[1] = 'broadcastr'" in msg


# -- geography and several Regions --------------------------------------------------------------
@pytest.mark.parametrize("argv, needle", [
    (["--variants", "multi_region@us-east-1+mars-1"],
     "multi_region.regions[1] = 'mars-1': needs latency data and a price book"),
    (["--variants", "basic@us-east-1+eu-central-1"],
     "'basic' runs in one Region; only multi_region takes several"),
    (["--variants", "multi_region@"], "name the Regions after '@'"),
    (["--set", "workload.geography.locations={europe: 0.5, atlantis: 0.5}"],
     "workload.geography.locations.atlantis = 'atlantis': unknown location"),
    (["--set", "workload.geography.locations={europe: 0.5, india: 0.4}"],
     "shares must sum to 1 (they sum to 0.9)"),
    (["--set", "workload.geography.locations={europe: 1.0}",
      "--set", "workload.geography.rtt_s={oceania: {kind: fixed, value: 0.03}}"],
     "rtt_s.oceania = 'oceania': is not one of the locations"),
    (["--set", "multi_region.regions=[us-east-1, us-east-1]"], "must not repeat a Region"),
    (["--set", "multi_region.cross_region=carrier_pigeon"], "multi_region.cross_region"),
    (["--set", "workload.incidents=[{kind: region_outage, region: eu-west-1, at_s: 10, "
              "duration_s: 60}]"],
     "workload.incidents.0.region = 'eu-west-1': is not a Region of this design"),
])
def test_compare_cli_refuses_bad_geography_and_regions(argv, needle, capsys):
    code = main(["compare", str(ROOT / "data/scenarios/global-chat.yaml"), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err, err
    assert "Traceback" not in err


def test_multi_region_needs_to_know_where_users_are(capsys):
    code = main(["compare", str(ROOT / "data/scenarios/chat-compare.yaml"), "--variants",
                 "basic,multi_region"])
    err = capsys.readouterr().err
    assert code == 2
    assert "workload.geography = None: the multi_region design needs to know where the users" \
        in err, err
