"""Plot helpers (simulator.plots) on tiny synthetic tables: no simulation, headless."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from simulator import crossovers, plots  # noqa: E402

SIZE = "param.workload.clients"
RATE = "param.workload.publish.total_rate_per_s"
DESIGNS = ["basic", "appsync", "managed", "custom"]   # "custom": not a registered design
SIZES = [10, 100, 1_000, 10_000]
RATES = [0.5, 2.0]
THROTTLE = "api_gateway.account_throttle"


@pytest.fixture(autouse=True)
def _render_and_close():
    """Render every figure a test made (log axes, layout, legends must draw), then close it."""
    with matplotlib.rc_context({"figure.dpi": 40}):   # small canvases: fast
        yield
        for n in plt.get_fignums():
            plt.figure(n).canvas.draw()
    plt.close("all")


def _table() -> pd.DataFrame:
    """A compare_sweep-like table: appsync cheapest when small, basic cheapest when large,
    basic throttled at the largest sizes."""
    price = {"basic": (20.0, 1.0), "appsync": (2.0, 1.2), "managed": (30.0, 2.5),
             "custom": (10.0, 1.5)}   # cost = fixed + slope * size * rate
    rows = []
    for r in RATES:
        for s in SIZES:
            for d in DESIGNS:
                fixed, slope = price[d]
                bound = d == "basic" and s * r >= 5_000
                rows.append({SIZE: s, RATE: r, "variant": d,
                             "latency_p50_ms": 40.0 if not bound else 9_000.0,
                             "latency_p99_ms": 110.0 if not bound else 22_000.0,
                             "cost_usd_per_month": fixed + slope * s * r,
                             "cost_usd_per_month_ci95": np.nan,
                             "deliveries_succeeded": min(s * r, 5_000) * 60.0,
                             "first_binding_limit": THROTTLE if bound else None,
                             "first_binding_s": 3.0 if bound else None})
    return pd.DataFrame(rows)


def _legend_texts(legend) -> list[str]:
    assert legend is not None, "no legend"
    return [t.get_text() for t in legend.get_texts()]


def _has_units(text: str) -> bool:
    return "(" in text and ")" in text


def _cdf() -> pd.DataFrame:
    frames = []
    for d, scale in [("basic", 1000.0), ("appsync", 35.0), ("managed", 37.0)]:
        x = np.geomspace(scale / 5, scale * 5, 50)
        frames.append(pd.DataFrame({"variant": d, "latency_ms": x,
                                    "fraction": np.linspace(0.02, 1.0, 50)}))
    return pd.concat(frames, ignore_index=True)


def test_latency_cdfs_one_line_per_design_with_quantiles_in_the_legend():
    ax = plots.latency_cdfs(_cdf(), quantiles=(0.5, 0.99))
    assert ax.get_xscale() == "log"
    assert "ms" in ax.get_xlabel() and _has_units(ax.get_xlabel())
    assert ax.get_ylabel()
    texts = _legend_texts(ax.get_legend())
    for d in ("basic", "appsync", "managed"):
        (entry,) = [t for t in texts if t.startswith(f"{d}:")]
        assert "p50" in entry and "p99" in entry
    # p50 of basic read off its CDF: the first latency whose fraction reaches 0.5
    cdf = _cdf()
    b = cdf[cdf["variant"] == "basic"]
    p50 = b.loc[b["fraction"] >= 0.5, "latency_ms"].iloc[0]
    assert plots.fmt_ms(p50) in next(t for t in texts if t.startswith("basic:"))
    assert any("p99 marker" in t for t in texts)


def test_latency_cdfs_from_a_comparison_lists_designs_without_deliveries():
    class Stub:   # what latency_cdfs uses of a Comparison
        variants = ["basic", "appsync", "managed", "sns"]

        def cdf(self):
            return _cdf()

    _, ax = plt.subplots()
    assert plots.latency_cdfs(Stub(), ax=ax) is ax
    texts = _legend_texts(ax.get_legend())
    assert "sns: no delivery measured" in texts
    assert sum(t.split(":")[0] in Stub.variants for t in texts) == 4


def test_breach_map_one_panel_per_design_coloured_by_limit():
    t = _table()
    fig = plots.breach_map(t, SIZE, RATE, title="grid")
    panels = [a for a in fig.axes if a.images]
    assert [a.get_title() for a in panels] == DESIGNS
    for a in panels:
        assert "subscribers" in a.get_xlabel() and _has_units(a.get_xlabel())
        assert "messages/s" in a.get_ylabel() and _has_units(a.get_ylabel())
        assert [x.get_text() for x in a.get_xticklabels()] == ["10", "100", "1,000", "10,000"]
        assert len(a.texts) == len(SIZES) * len(RATES)   # every cell annotated
    basic = panels[0]
    assert sum("from 3 s" in x.get_text() for x in basic.texts) == 2   # 10,000 x 0.5, x 2
    legends = [a.get_legend() for a in fig.axes if a.get_legend()] + fig.legends
    texts = [x for lg in legends for x in _legend_texts(lg)]
    assert THROTTLE in texts
    assert any(x.startswith("none") for x in texts)
    assert "not run" not in texts


def test_breach_map_marks_holes_and_rejects_duplicates():
    t = _table()
    holed = t.drop(index=t.index[(t["variant"] == "managed") & (t[SIZE] == 10)])
    fig = plots.breach_map(holed, SIZE, RATE)
    legends = [a.get_legend() for a in fig.axes if a.get_legend()]
    assert "not run" in [x for lg in legends for x in _legend_texts(lg)]
    with pytest.raises(ValueError, match="several rows"):
        plots.breach_map(pd.concat([t, t.head(1)]), SIZE, RATE)
    fig, axes = plt.subplots(1, len(DESIGNS))
    assert plots.breach_map(t, SIZE, RATE, ax=axes) is fig
    assert fig.legends   # the legend goes below the panels given


def test_cost_vs_marks_and_explains_every_crossover():
    t = _table()
    sub = t[t[RATE] == 2.0]
    xo = crossovers(sub, SIZE)
    assert len(xo) >= 2
    ax = plots.cost_vs(sub, SIZE, crossovers=xo, throttle_rps=10_000, rate=2.0)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "subscribers" in ax.get_xlabel() and "USD/month" in ax.get_ylabel()
    notes = [c for c in ax.get_children() if c.get_gid() == "crossover"]
    assert len(notes) == len(xo)
    texts = _legend_texts(ax.get_legend())
    for d in DESIGNS:
        assert d in texts
    for k, row in enumerate(xo.itertuples(), start=1):
        (entry,) = [x for x in texts if x.startswith(f"{k}: ")]
        assert row.below in entry and "cheaper than" in entry and "subscribers" in entry
    assert any("API Gateway throttle" in x and "5,000 subscribers" in x for x in texts)
    assert any(x.startswith("hollow") for x in texts)   # basic is throttled at 10,000


def test_cost_vs_without_crossovers_and_on_an_ambiguous_table():
    t = _table()
    ax = plots.cost_vs(t[t[RATE] == 0.5], SIZE)
    assert not [c for c in ax.get_children() if c.get_gid() == "crossover"]
    assert "0 crossovers" in ax.get_legend().get_title().get_text()
    with pytest.raises(ValueError, match="several rows"):
        plots.cost_vs(t, SIZE)   # two rates mixed
    with pytest.raises(KeyError, match="first_binding_limit"):
        plots.cost_vs(t[t[RATE] == 0.5].drop(columns="first_binding_limit"), SIZE)


def test_delivery_rate_draws_the_throttle_and_the_demand():
    t = _table()
    sub = t[t[RATE] == 2.0]
    ax = plots.delivery_rate(sub, SIZE, duration_s=60.0, rate=2.0, throttle_rps=10_000)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "subscribers" in ax.get_xlabel() and "per second" in ax.get_ylabel()
    texts = _legend_texts(ax.get_legend())
    for d in DESIGNS:
        assert d in texts
    assert any("throttle (10,000 requests/s)" in x for x in texts)
    assert any(x.startswith("demand") for x in texts)
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    basic = lines["basic"].get_ydata()
    assert basic[-1] == pytest.approx(5_000)   # deliveries / duration
    throttle = next(ln for k, ln in lines.items() if "throttle" in k)
    assert set(throttle.get_ydata()) == {10_000}
    with pytest.raises(ValueError, match="duration_s"):
        plots.delivery_rate(sub, SIZE, duration_s=0)


def test_formatting_and_colours():
    assert plots.fmt_number(1000) == "1,000" and plots.fmt_number(0.5) == "0.5"
    assert plots.fmt_approx(105.06) == "110" and plots.fmt_approx(25_902) == "26,000"
    assert plots.fmt_ms(61.1) == "61.1 ms" and plots.fmt_ms(2300) == "2.3 s"
    assert plots.fmt_ms(float("nan")) == "-"
    assert plots.label(SIZE, log=True) == "channel size (subscribers, log scale)"
    assert plots.design_color("basic") != plots.design_color("appsync")
    assert plots.design_color("custom", DESIGNS) not in plots.DESIGN_COLORS.values()


def test_scaling_draws_each_design_the_targets_and_the_memory_limit():
    rows = [{"design": d, "connections": n, "wall_s_per_sim_minute": n / 1e4 * (k + 1),
             "peak_rss_mb": 120 + n / 1e4} for k, d in enumerate(("basic", "sns"))
            for n in (1_000, 10_000, 100_000)]
    fig = plots.scaling(pd.DataFrame(rows), wall_targets={100_000: 1.0},
                        memory_limit_mb=256)
    left, right = fig.axes
    assert left.get_xscale() == "log" and left.get_yscale() == "log"
    assert "connections" in left.get_xlabel() and "(s" in left.get_ylabel()
    assert "(MB)" in right.get_ylabel() and right.get_ylim()[0] == 0
    lines = {ln.get_label(): ln for ln in left.get_lines()}
    assert list(lines["sns"].get_ydata()) == [0.2, 2.0, 20.0]
    assert "target (wall per simulated minute)" in _legend_texts(left.get_legend())
    assert "target 256 MB" in _legend_texts(right.get_legend())
    assert any(set(ln.get_ydata()) == {256} for ln in right.get_lines())
    with pytest.raises(ValueError, match="several rows"):
        plots.scaling(pd.DataFrame(rows + rows[:1]))
    plt.close(fig)
