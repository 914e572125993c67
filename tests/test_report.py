"""The design-review report: sections present only when the results hold them, the
recommendation computed from the numbers, bad input named, and the file rendered in a real
headless Chromium (Selenium): every figure loaded, no console error, no request, and a PDF
with a page per section and text on every page. Screenshots and the PDF are kept under
``test-artifacts/report/`` (gitignored).

Every report here is built from tiny runs (a few hundred users for a few tens of seconds)."""

from __future__ import annotations

import base64
import io
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

import simulator as sim
from simulator.cli import main
from simulator.review import recommend as rec_mod
from simulator.review import sections
from tests.conftest import ROOT

ARTIFACTS = ROOT / "test-artifacts" / "report"
TINY = {"workload.clients": 400, "duration_s": 40.0, "warmup_s": 10.0}
DESIGNS = ["basic", "appsync", "managed", "multi_region@us-east-1+eu-central-1"]


@pytest.fixture(scope="module")
def tiny():
    """A comparison with a geography, a capacity search, a sensitivity table and a sweep."""
    scn = sim.load_scenario("design-review", overrides=TINY)
    cmp = sim.compare(scn, DESIGNS, replications=2, progress=False)
    cap = sim.capacity(scn.with_overrides({"duration_s": 20.0, "warmup_s": 5.0}),
                       load="workload.clients", slo={"cost_usd_per_month": 300.0, "breaches": 0},
                       variants=["basic", "appsync"], start=100, growth=2.0, rtol=0.5,
                       progress=False)
    oat = sim.sensitivity(scn.with_overrides({"architecture": "appsync"}),
                          keys=["latency.appsync_broadcast_s", "geography.europe"],
                          progress=False)
    oat.attrs["design"] = "appsync"
    sweep = sim.sweep(scn.with_overrides({"duration_s": 20.0, "warmup_s": 5.0}),
                      {"workload.clients": [100, 300],
                       "workload.publish.rate_per_client_per_s": [0.0167, 0.05],
                       "architecture": ["basic"]}, workers=1, progress=False)
    return {"scn": scn, "cmp": cmp, "cap": cap, "oat": oat, "sweep": sweep}


def _ids(html: str) -> list[str]:
    return re.findall(r'<section id="([a-z_]+)"', html)


# ----------------------------------------------------------------------------- sections


def test_every_section_when_the_results_hold_it(tiny, tmp_path):
    out = sim.report([tiny["cmp"], tiny["cap"], tiny["oat"], tiny["sweep"]],
                     tmp_path / "full.html")
    html = out.html.read_text()
    assert _ids(html) == ["question", "recommendation", "comparison", "figures", "locations",
                          "failures", "capacity", "sweep", "sensitivity", "assumptions",
                          "reproduce"]
    # latency CDFs, cost by service, by location, frontier, cost to capacity, breach map, tornado
    assert html.count("<img ") >= 7
    assert "Delivery latency" in html and "Cost by service" in html


def test_sections_are_left_out_when_the_results_lack_them(tiny, tmp_path):
    basic_only = sim.compare(tiny["scn"].with_overrides({"workload.geography": None}),
                             ["basic"], progress=False)
    html = sim.report(basic_only, tmp_path / "one.html").html.read_text()
    ids = _ids(html)
    for absent in ("locations", "capacity", "sweep", "sensitivity"):
        assert absent not in ids, absent
    assert {"question", "recommendation", "comparison", "assumptions", "reproduce"} <= set(ids)
    # a capacity search alone: no comparison, so no recommendation
    ids = _ids(sim.report(tiny["cap"], tmp_path / "cap.html").html.read_text())
    assert "capacity" in ids and "recommendation" not in ids and "comparison" not in ids


def test_single_runs_make_a_report(tmp_path):
    scn = sim.load_scenario("chat-basic", overrides={"workload.clients": 300,
                                                     "duration_s": 30.0, "warmup_s": 5.0})
    runs = [sim.run(scn, progress=False),
            sim.run(scn.with_overrides({"architecture": "appsync"}), progress=False)]
    rep = sim.report(runs, tmp_path / "runs.html")
    html = rep.html.read_text()
    assert "comparison" in _ids(html) and "<td>appsync" in html


def test_the_file_is_self_contained(tiny, tmp_path):
    html = sim.report([tiny["cmp"], tiny["oat"]], tmp_path / "r.html").html.read_text()
    assert ("default-src 'none'; img-src data:; style-src 'unsafe-inline'" in html)
    assert "<script" not in html and "<link" not in html and "<iframe" not in html
    srcs = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs), srcs[:3]
    assert "@media print" in html and "break-before: page" in html


def test_best_value_per_column_is_marked(tiny):
    cmp = tiny["cmp"]
    rec = rec_mod.recommend(cmp)
    sec = sections.comparison(cmp, rec)
    t = sec["table"]
    for col, key in ((2, "latency_p99_ms"), (5, "cost_usd_per_month"),
                     (7, "cost_usd_per_million_deliveries")):
        values = cmp.table[key].astype(float).tolist()
        marked = [row[col] for row in t["best"]]
        assert marked == [v == min(values) for v in values], (key, values, marked)
        assert any(marked)


def test_assumptions_least_certain_first(tiny):
    sec = sections.assumptions(tiny["cmp"])
    rows = sec["tables"][0]["rows"]
    ranks = [sections.CONFIDENCE_ORDER.get(r[3], 4) for r in rows]
    assert ranks == sorted(ranks) and ranks[0] == 0          # an assumption comes first
    assert {"assumption", "low", "medium", "high"} <= {r[3] for r in rows}
    prices = sec["tables"][1]["rows"]
    assert any(r[0] == "apigw.messages" for r in prices)
    assert all(r[6] in ("high", "medium", "low", "assumption") for r in prices)


# ----------------------------------------------------------------------------- recommendation


def _no_refusal_cheapest(cmp) -> str:
    refused = {v: rec_mod.refused_per_run(cmp, v) for v in cmp.variants}
    ok = cmp.table[[refused[v] == 0 for v in cmp.table["variant"]]]
    return ok.sort_values("cost_usd_per_month")["variant"].iloc[0]


def test_recommendation_is_the_cheapest_that_meets_the_slo(tiny):
    cmp = tiny["cmp"]
    r = rec_mod.recommend(cmp, {"latency_p99_ms": 1e9})
    assert r.choice == _no_refusal_cheapest(cmp)
    assert r.headline.startswith(f"{r.choice}: the cheapest design")
    # a bound between the designs' p99s: the cheapest below it
    p99 = cmp.table.set_index("variant")["latency_p99_ms"]
    bound = float(p99.sort_values().iloc[0] + p99.sort_values().iloc[1]) / 2
    r = rec_mod.recommend(cmp, {"latency_p99_ms": bound})
    meets = [v for v in cmp.variants if p99[v] <= bound and rec_mod.refused_per_run(cmp, v) == 0]
    costs = cmp.table.set_index("variant")["cost_usd_per_month"]
    assert r.choice == min(meets, key=lambda v: costs[v])
    assert all(v.meets == (v.design in meets) for v in r.verdicts)


def test_no_design_meets_an_impossible_slo(tiny):
    r = rec_mod.recommend(tiny["cmp"], {"latency_p99_ms": 1.0})
    assert r.choice is None and r.headline.startswith("no design meets the SLO")
    assert r.subject in tiny["cmp"].variants


def test_what_binds_next_comes_from_the_headroom_or_the_capacity(tiny):
    cmp, cap = tiny["cmp"], tiny["cap"]
    text = rec_mod.next_limit(cmp, "basic")
    room = cmp.headroom[cmp.headroom["variant"] == "basic"]
    top = room.groupby("limit")["peak_share"].mean().sort_values().index[-1]
    assert top in text and "x this load" in text
    row = cap.table.set_index("variant").loc["appsync"]
    text = rec_mod.next_limit(cmp, "appsync", cap)
    assert row["status"] == "found" and f"{row['capacity']:,.4g}" in text


def test_caveats_name_the_sensitive_assumptions(tiny):
    cmp, oat = tiny["cmp"], tiny["oat"]
    r = rec_mod.recommend(cmp, {"latency_p99_ms": 1e9}, sensitivity=oat)
    v = next(x for x in r.verdicts if x.design == "appsync")
    caveats = rec_mod.caveats(cmp, v, oat)
    moved = oat[oat["swing"] > 0]["key"]
    assert len(moved) and all(any(k in c for c in caveats) for k in moved)
    # a bound just under the high end of the largest swing makes that value decide the answer
    top = oat.sort_values("swing").iloc[-1]
    value = float(cmp.table.set_index("variant").at["appsync", "latency_p99_ms"])
    high = value * top["metric_high"] / top["metric_baseline"]
    tight = rec_mod.judge(cmp, {"latency_p99_ms": (value + high) / 2, "breaches": 0})
    v = next(x for x in tight if x.design == "appsync")
    assert any(top["key"] in c and "the answer depends on it" in c
               for c in rec_mod.caveats(cmp, v, oat))


def test_a_cheaper_near_miss_is_named_with_what_would_make_it_the_answer(tiny):
    cmp = tiny["cmp"]
    t = cmp.table.set_index("variant")
    costs = t["cost_usd_per_month"]
    clean = [v for v in cmp.variants if rec_mod.refused_per_run(cmp, v) == 0]
    # a metric on which a cheaper design is worse than a dearer one: bound it between them,
    # so that the dearer meets it, the cheaper misses it and nothing cheaper than the dearer
    # meets it
    found = None
    for metric in ("latency_p99_ms", "latency_p50_ms", "latency_p999_ms", "latency_std_ms",
                   "latency_mean_ms"):
        m = t[metric]
        for a in clean:
            for b in clean:
                bound = (m[a] + m[b]) / 2
                if costs[a] < costs[b] and m[b] < m[a] and all(
                        m[c] > bound for c in clean if costs[c] < costs[b]):
                    found = found or (metric, a, b, bound)
    assert found, t[["cost_usd_per_month", "latency_p99_ms", "latency_p50_ms"]]
    metric, cheap, dear, bound = found
    need = bound / t.at[cheap, metric]           # the ratio that brings the cheaper one in
    table = pd.DataFrame({
        "key": ["latency.a", "latency.b"], "confidence": ["assumption", "low"],
        "low": [0.5, 0.5], "high": [1.5, 1.5], "varied": ["median", "median"],
        "metric_baseline": [100.0, 100.0],
        "metric_low": [100 * need * 0.95, 100 * (1 + need) / 2],   # in; not far enough
        "metric_high": [130.0, 104.0], "swing": [50.0, 9.0]})
    table.attrs.update({"metric": metric, "method": "oat", "design": cheap})
    r = rec_mod.recommend(cmp, {metric: bound}, sensitivity=[table])
    assert r.choice == dear and r.challenger == cheap, (r.choice, r.challenger, found)
    flips = [c for c in r.caveats if c.startswith(f"{cheap} costs") and "depends on it" in c]
    assert len(flips) == 1 and "latency.a" in flips[0] and "low end" in flips[0], r.caveats
    # no cheaper design: no challenger
    assert rec_mod.recommend(cmp, {"latency_p99_ms": 1e9}).challenger is None


# ----------------------------------------------------------------------------- bad input


def test_bad_input_is_named(tiny, tmp_path, monkeypatch):
    with pytest.raises(sim.ScenarioError, match=r"results\[0\].*str"):
        sim.report(["a comparison"], tmp_path / "x.html")
    with pytest.raises(sim.ScenarioError, match="must end in .html"):
        sim.report(tiny["cmp"], tmp_path / "x.pdf")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(sim.ScenarioError, match="cannot write there"):
        sim.report(tiny["cmp"], blocker / "x.html")
    monkeypatch.setenv("WSCAP_CHROMIUM", str(tmp_path / "no-chromium"))
    with pytest.raises(sim.ScenarioError, match="headless Chromium"):
        sim.report(tiny["cmp"], tmp_path / "x.html", pdf=True)
    assert not (tmp_path / "x.html").exists()


@pytest.mark.parametrize("argv, words", [
    (["--variants", "basic,nope"], "nope"),
    (["--out", "/proc/nowhere/r.html"], "/proc/nowhere/r.html"),
    (["--out", "r.txt"], "must end in .html"),
    (["--slo", "latency_p99_ms"], "--slo"),
    (["--replications", "0"], "--replications"),
    (["--capacity", "workload.nope"], "workload.nope"),
])
def test_cli_bad_input_exits_2(argv, words, capsys, tmp_path):
    code = main(["report", "design-review", "--set", "workload.clients=100", *argv])
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err


def test_cli_pdf_without_chromium_exits_2(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("WSCAP_CHROMIUM", str(tmp_path / "none"))
    code = main(["report", "design-review", "--out", str(tmp_path / "r.html"), "--pdf"])
    err = capsys.readouterr().err
    assert code == 2 and "Chromium" in err and "WSCAP_CHROMIUM" in err
    assert not (tmp_path / "r.html").exists()


def test_cli_writes_the_report_and_says_where(capsys, tmp_path):
    out = tmp_path / "sub" / "review.html"
    code = main(["report", "chat-basic", "--variants", "basic,appsync", "--set",
                 "workload.clients=300", "--duration", "30", "--set", "warmup_s=5",
                 "--replications", "2", "--workers", "1", "--out", str(out)])
    cap = capsys.readouterr()
    assert code == 0 and out.is_file()
    assert f"report written: {out}" in cap.out and "recommendation: " in cap.out
    assert "report: comparing 2 designs" in cap.err and "report: sensitivity of" in cap.err
    html = out.read_text()
    assert "python -m simulator report chat-basic --variants basic,appsync" in html
    assert "sensitivity" in _ids(html)


def test_ctrl_c_writes_nothing(tmp_path):
    out = tmp_path / "r.html"
    p = subprocess.Popen([sys.executable, "-m", "simulator", "report", "chat-compare",
                          "--set", "workload.clients=20000", "--duration", "60", "--set",
                          "warmup_s=10", "--replications", "10", "--workers", "1",
                          "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(8.0)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("report: ")]
    assert p.returncode == 130 and "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("interrupted: "), err
    assert not out.exists()


# ----------------------------------------------------------------------------- a real browser


def _browser_or_skip():
    from simulator.review.browser import find_chromium

    exe, driver = find_chromium(), shutil.which("chromedriver")
    missing = [n for n, x in (("chromium", exe), ("chromedriver", driver)) if x is None]
    try:
        import pypdf  # noqa: F401
        import selenium  # noqa: F401
    except ImportError as e:
        missing.append(e.name or "selenium/pypdf")
    if missing:
        why = f"needs {', '.join(missing)} (apt-get install chromium chromium-driver)"
        if os.environ.get("WSCAP_REQUIRE_BROWSER"):
            pytest.fail(why)
        pytest.skip(why)
    return exe, driver


@pytest.fixture(scope="module")
def browser():
    exe, driver_path = _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from simulator.review.browser import chromium_flags

    opts = webdriver.ChromeOptions()
    opts.binary_location = exe
    for f in chromium_flags():
        opts.add_argument(f)
    opts.add_argument("--window-size=1280,1600")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    yield driver
    driver.quit()


def _pdf_pages(data: bytes):
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(data))
    return [p.extract_text() or "" for p in reader.pages]


def test_the_report_in_a_real_browser(tiny, browser, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    rep = sim.report([tiny["cmp"], tiny["cap"], tiny["oat"], tiny["sweep"]],
                     ARTIFACTS / "review.html", pdf=True)
    html = rep.html.read_text()
    browser.get(rep.html.resolve().as_uri())
    # every figure decoded: complete, with a natural size
    imgs = browser.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, "
        "i.naturalHeight, i.alt])")
    assert len(imgs) == html.count("<img ") >= 7
    bad = [i for i in imgs if not (i[0] and i[1] > 0 and i[2] > 0)]
    assert not bad, bad
    # nothing fetched: no resource entries (data: URIs make none), one navigation, no script
    entries = browser.execute_script(
        "return performance.getEntries().map(e => [e.entryType, e.name])")
    fetched = [e for e in entries if e[0] == "resource"]
    assert not fetched, fetched
    assert [e for e in entries if e[0] == "navigation"] == [["navigation",
                                                            rep.html.resolve().as_uri()]]
    assert browser.execute_script("return document.scripts.length") == 0
    # no console error (SEVERE): a broken image, a blocked request or a CSP violation logs one
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
    # screenshots of the first screens (test artifacts)
    height = browser.execute_script("return document.body.scrollHeight")
    for k in range(3):
        browser.execute_script(f"window.scrollTo(0, {k * 1500})")
        browser.save_screenshot(str(ARTIFACTS / f"screen-{k + 1}.png"))
        if (k + 1) * 1500 >= height:
            break
    assert (ARTIFACTS / "screen-1.png").stat().st_size > 10_000

    # print: each section starts a page, every page has text, the page count adds up
    titles = re.findall(r'<section id="[a-z_]+" class="[^"]*">\s*<h2>([^<]+)</h2>', html)
    expected = browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"}) or {}
    page_h_px = (297 - 28) / 25.4 * 96            # A4 less the @page margins (14 mm each)
    heights = browser.execute_script(
        "return Array.from(document.querySelectorAll('section')).map(s => s.offsetHeight)")
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    pdf = base64.b64decode(browser.execute_cdp_cmd("Page.printToPDF", {
        "preferCSSPageSize": True, "printBackground": True})["data"])
    (ARTIFACTS / "review-cdp.pdf").write_bytes(pdf)
    pages = _pdf_pages(pdf)
    assert all(p.strip() for p in pages), [i for i, p in enumerate(pages) if not p.strip()]
    starts = [next(i for i, p in enumerate(pages) if p.lstrip().startswith(t)) if k else 0
              for k, t in enumerate(titles)]
    assert starts == sorted(starts) and len(set(starts)) == len(titles), (starts, titles)
    # at least a page per section; at most what each section's height needs, plus one
    # for a section whose rows and figures do not fill its last page
    assert len(heights) == len(titles)
    most = sum(math.ceil(h / page_h_px) + 1 for h in heights)
    assert len(titles) <= len(pages) <= most, (len(pages), heights, expected)
    # sim.report's own PDF (Chromium's --print-to-pdf) prints the same pages
    own = _pdf_pages(rep.pdf.read_bytes())
    assert len(own) == len(pages)
    assert "Recommendation" in own[starts[1]] and "How to reproduce" in own[starts[-1]]
    pd.Series([len(p) for p in own]).to_csv(ARTIFACTS / "pdf-text-per-page.csv")
