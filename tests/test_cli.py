"""The command line as a new user meets it: scenario names with or without ``.yaml``,
``--seed`` and ``--duration``, a bare number for a distribution, ``list``, and ``validate``
with value, unit, origin and source."""

import json

import pytest

import simulator as sim
from simulator.cli import main


def test_a_bundled_scenario_runs_by_name_with_or_without_yaml(capsys):
    for name in ("chat-basic", "chat-basic.yaml"):
        assert main(["run", name, "--duration", "20", "--set", "warmup_s=5", "--seed", "7",
                     "--set", "workload.clients=200", "--json"]) == 0
        s = json.loads(capsys.readouterr().out)
        assert s["scenario"] == "chat-basic" and s["seed"] == 7 and s["duration_s"] == 20.0


def test_an_unknown_scenario_name_lists_the_bundled_ones(capsys):
    assert main(["run", "chat-basc"]) == 2
    err = capsys.readouterr().err
    assert "scenario = 'chat-basc': no such file" in err and "chat-basic" in err


def test_a_bare_number_is_a_fixed_distribution():
    scn = sim.load_scenario("chat-basic", {"workload.channels.size": 20,
                                           "workload.session_s": 600})
    assert scn.workload.channels.size.kind == "fixed"
    assert scn.workload.channels.size.value == 20
    assert scn.workload.session_s.value == 600


@pytest.mark.parametrize("value", ["abc", "[1, 2]", "{median: 20}"])
def test_a_malformed_distribution_shows_the_accepted_forms(value, capsys):
    assert main(["validate", "chat-basic", "--set", f"workload.channels.size={value}"]) == 2
    err = capsys.readouterr().err
    assert "workload.channels.size" in err and "{kind: lognormal, median, sigma | p99}" in err
    assert "a number (a fixed value)" in err and "Traceback" not in err


def test_list_names_scenarios_designs_regions_and_locations(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for word in ("global-chat", "livestream-compare", "multi_region", "appsync",
                 "eu-central-1*", "southeast_asia"):
        assert word in out, word


def test_validate_shows_value_unit_origin_and_source(capsys):
    assert main(["validate", "chat-basic", "--set",
                 "aws.api_gateway.account_throttle_rps=20000"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.strip().startswith("key"))
    for col in ("value [unit]", "origin", "confidence", "source"):
        assert col in header
    rows = {line.split()[0]: line for line in out.splitlines()[2:] if line.strip()}
    assert "20000" in rows["api_gateway.account_throttle_rps"]
    assert "scenario" in rows["api_gateway.account_throttle_rps"]
    assert "catalog" in rows["api_gateway.new_connections_per_s"]
    assert "requests/s" in rows["api_gateway.account_throttle_rps"]
    # a function's field left to the schema's default is not labelled as the scenario's
    assert "default" in rows["lambda.functions.authorizer.architecture"]
    assert "scenario" in rows["lambda.functions.authorizer.memory_mb"]
