"""The data catalog: every fact carries a source and a date; no quota, price or latency
literal in the simulator's code; the article/AWS disagreement is a named preset."""

import ast
import math

import pytest

import simulator as sim
from simulator.catalog import CONFIDENCE
from tests.conftest import ROOT


def test_every_fact_has_source_date_and_confidence():
    cat = sim.load_catalog()
    assert len(cat.facts) > 40
    for f in cat.facts.values():
        assert f.source and len(f.source) > 10, f.key
        assert f.as_of[:4].isdigit(), f.key
        assert f.confidence in CONFIDENCE, f.key


def test_assumptions_are_marked_as_such():
    cat = sim.load_catalog()
    for key in ("api_gateway.connection_burst", "latency.post_to_connection_s",
                "behaviour.apigw_disconnect_miss_fraction"):
        assert cat.fact(key).confidence == "assumption"
        assert "ssumption" in cat.fact(key).source


def test_article_preset_keeps_the_articles_figure():
    cat = sim.load_catalog()
    assert cat.value("api_gateway.max_concurrent_connections") is None   # AWS documents none
    art = cat.presets["article-2022"]
    assert art["values"]["api_gateway.max_concurrent_connections"] == 10_000
    assert "article" in art["source"]


def test_region_specific_values():
    cat = sim.load_catalog()
    assert cat.value("api_gateway.account_throttle_rps", "us-east-1") == 10_000
    assert cat.value("api_gateway.account_throttle_rps", "af-south-1") == 2_500


def _distinctive_numbers():
    """Numeric catalog values that would be suspicious as literals in code."""
    cat = sim.load_catalog()
    out = set()

    def walk(v):
        if isinstance(v, bool) or v is None:
            return
        if isinstance(v, (int, float)):
            if v not in (0, 1, 2, 3, 4, 10, 50, 100, 1000, 1024, 0.5, 0.001) and math.isfinite(v):
                out.add(float(v))
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    for f in cat.facts.values():
        walk(f.value)
        walk(f.by_region)
    return out


def test_no_catalog_literals_in_simulator_code():
    numbers = _distinctive_numbers()
    assert {10_000.0, 5_000.0, 7_200.0, 600.0, 131_072.0, 3_000.0, 40_000.0} <= numbers
    offenders = []
    for path in (ROOT / "simulator").rglob("*.py"):
        text = path.read_text()
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                    and not isinstance(node.value, bool) and float(node.value) in numbers \
                    and "not a catalog value" not in lines[node.lineno - 1]:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value}")
    assert not offenders, offenders


@pytest.mark.parametrize("name", ["chat-basic", "livestream-basic", "connection-surge"])
def test_resolved_params_say_where_each_number_comes_from(name):
    from simulator.scenario import Params

    scn = sim.load_scenario(ROOT / f"data/scenarios/{name}.yaml")
    df = Params(scn, sim.load_catalog()).frame()
    assert df["source"].str.len().min() > 5
    assert set(df["origin"]) >= {"catalog"}
