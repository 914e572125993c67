"""The README quotes what the code prints: the design comparisons come from
``scripts/readme_figures.py`` (saved in ``benchmarks/results/compare.json``), row for row."""

import json

import pytest

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
FIGURES = json.loads((ROOT / "benchmarks" / "results" / "compare.json").read_text())
#: groups of figures that are not design comparisons
OTHER = ("livestream-basic", "multi_region", "first_hour", "validation", "failure_modes", "features")


def _row(f: dict) -> str:
    return (f"| {f['design']} | {f['p50']} | {f['p99']} | {f['cost']} | {f['per_million']} "
            f"| {f['lost']} | {f['first_limit']} | {f['guarantee']} |")


def test_readme_quotes_every_design_comparison_row():
    for name, run in FIGURES.items():
        if name in OTHER:
            continue
        assert len(run["figures"]) == 5, name
        for f in run["figures"]:
            assert _row(f) in README, f"README lacks the {name} row of {f['design']}: {_row(f)}"


def test_readme_quotes_the_livestream_figures():
    big, small = FIGURES["livestream-basic"]["20000"], FIGURES["livestream-basic"]["200"]
    want = (f"20,000 viewers, 2 messages/s → {big['throttled_posts']} throttled posts in 300 s, "
            f"p50 {big['p50']}, p99 {big['p99']}, {big['failed']} of posts failed; with 200 "
            f"viewers: p50 {small['p50']}, p99 {small['p99']}")
    assert want in README, want


def test_the_saved_rows_are_the_comparison_rows():
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from readme_figures import row_figures

    for name, run in FIGURES.items():
        if name not in OTHER:
            assert [row_figures(r) for r in run["rows"]] == run["figures"]


def test_readme_needs_nothing_outside_the_repository():
    assert "../shared" not in README and "shared/" not in README


def test_readme_summary_row_quotes_the_livestream_comparison():
    f = {r["design"]: r for r in FIGURES["livestream-compare"]["figures"]}
    for text in (f"basic p50 {f['basic']['p50']}, {f['basic']['lost']} lost",
                 f"SNS tier p50 {f['sns']['p50']}, {f['sns']['lost']} lost",
                 f"SQS tier p50 {f['sqs']['p50']}",
                 f"AppSync Events p50 {f['appsync']['p50']}, p99 {f['appsync']['p99']}, none lost, "
                 f"{f['appsync']['cost']}/month"):
        assert text in README, text


def test_readme_quotes_latency_by_location_for_one_two_and_three_regions():
    chat = FIGURES["multi_region"]["global-chat"]
    for loc, cells in chat["by_location"].items():
        row = f"| {loc.replace('_', ' ')} | " + " | ".join(cells[v] for v in chat["variants"]) + " |"
        assert row in README, row
    row = "| all users | " + " | ".join(
        f"{chat['overall'][v]['p50']} / {chat['overall'][v]['p99']}" for v in chat["variants"]) + " |"
    assert row in README, row
    row = "| cost / month | " + " | ".join(chat["overall"][v]["cost"]
                                          for v in chat["variants"]) + " |"
    assert row in README, row


def test_readme_quotes_the_outage():
    o = FIGURES["multi_region"]["global-live-event"]
    for key, label in (("latency", "delivery latency p50 / p99 (whole run)"),
                       ("dropped", "connections dropped"),
                       ("refused_by_failed_region", "attempts refused by the failed Region"),
                       ("refused_by_quota", "attempts refused by a new-connection quota"),
                       ("back_after", "until the last was back"),
                       ("gave_up", "gave up (or their session ended)"),
                       ("lowest_connected", "viewers connected, at the lowest"),
                       ("published_during", "messages published while us-east-1 was down"),
                       ("published", "messages published"),
                       ("lost", "(message, recipient) pairs lost, of the messages published")):
        row = f"| {label} | {o['basic'][key]} | {o['multi_region'][key]} |"
        assert row in README, row


def test_readme_quotes_the_first_hour_verdicts():
    for label, q in FIGURES["first_hour"].items():
        assert f"$ {q['command']}\n{q['verdict']}\n" in README, label


def test_readme_quotes_the_failure_mode_figures():
    """The failure-mode rows (``scripts/readme_figures.py --only failure_modes``)."""
    f = FIGURES["failure_modes"]
    assert f"→ `connections_rejected` = {f['connection-surge']['rejected']} " in README
    z = f["zombie-heartbeat"]
    w, wo = z["with"], z["without"]
    assert (f"without heartbeats or sweep {wo['stale_post_share']} of posts go to stale rows and "
            f"zombies live {wo['zombie_p50']} at p50, {wo['zombie_p99']} at p99; with app "
            f"keep-alives every 60 s and a 60 s sweep: {w['stale_post_share']} of posts, zombies "
            f"{w['zombie_p50']} at p50, {w['zombie_p99']} at p99; `zombie_cost_usd_per_month` "
            f"{wo['zombie_cost']} → {w['zombie_cost']}") in README
    s = f["reconnect-storm"]
    assert (f"{s['dropped']} connected clients dropped at once reconnect in {s['duration']} with "
            f"{s['rejected']} refused attempts; the drop's `$disconnect` storm is throttled by "
            f"Lambda ({s['disconnect_throttled']} of {s['dropped']} invocations refused)") in README


@pytest.mark.slow
def test_the_saved_failure_mode_figures_are_what_the_code_prints_now():
    """The saved figures are not stale: recomputed (same seeds, about 12 s), they are the
    same, so a model change that moves them fails here until the script is run again."""
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from readme_figures import failure_mode_figures

    assert failure_mode_figures() == FIGURES["failure_modes"]


@pytest.mark.slow
def test_the_saved_livestream_verdict_is_what_the_code_prints_now():
    """One first-hour verdict (5,000 viewers, about 10 s) recomputed against the saved one."""
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    import readme_figures

    label = "5,000 viewers of one live channel"
    q = [x for x in readme_figures.QUESTIONS if x[0] == label]
    assert q, [x[0] for x in readme_figures.QUESTIONS]
    got = readme_figures.first_hour_figures(q)
    assert got[label] == FIGURES["first_hour"][label]


def test_readme_quotes_the_benchmark_table():
    """The performance table is what ``benchmarks/bench_scale.py`` printed from its saved
    full-size results."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_scale import readme_lines

    saved = json.loads((ROOT / "benchmarks" / "results" / "bench_scale.json").read_text())
    assert saved["size"] == "full"
    assert "\n".join(readme_lines(saved)) in README


def test_readme_quotes_what_the_features_add():
    """The realtime features' tables (``scripts/readme_figures.py --only features``), row for
    row, as the script prints them."""
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from readme_figures import feature_cells, feature_table

    for name, f in FIGURES["features"].items():
        assert feature_cells(f["rows"]) == f["cells"], name   # the cells are the rows'
        for line in feature_table(f["cells"]):
            assert line in README, (name, line)
