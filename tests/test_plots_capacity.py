"""Capacity plots (frontier bars, cost along the frontier) and the breach map of a sweep, on
tiny synthetic tables: no simulation, headless."""

from __future__ import annotations

import math
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from simulator import plots  # noqa: E402

THROTTLE = "api_gateway.account_throttle"


@pytest.fixture(autouse=True)
def _render_and_close():
    with matplotlib.rc_context({"figure.dpi": 40}):
        yield
        for n in plt.get_fignums():
            plt.figure(n).canvas.draw()
    plt.close("all")


def _cap():
    table = pd.DataFrame([
        {"variant": "basic", "load_key": "workload.clients", "capacity": 4800.0,
         "bracket_low": 4800.0, "bracket_high": 4900.0, "status": "found",
         "binding_limit": THROTTLE, "cost_usd_per_1k_users_month": 3.0},
        {"variant": "appsync", "load_key": "workload.clients", "capacity": 51000.0,
         "bracket_low": 51000.0, "bracket_high": 52000.0, "status": "found",
         "binding_limit": "appsync.outbound_messages_per_s", "cost_usd_per_1k_users_month": 5.0},
        {"variant": "managed", "load_key": "workload.clients", "capacity": 160000.0,
         "bracket_low": 160000.0, "bracket_high": math.nan,
         "status": "holds at every load tried", "binding_limit": None,
         "cost_usd_per_1k_users_month": 8.0},
    ])
    pts = []
    for _, r in table.iterrows():
        load = 1000.0
        while load <= r["capacity"]:
            pts.append({"variant": r["variant"], "load": load, "holds": True,
                        "cost_usd_per_1k_users_month": 1.0 + load / 20000})
            load *= 2
        pts.append({"variant": r["variant"], "load": r["capacity"], "holds": True,
                    "cost_usd_per_1k_users_month": 1.0 + r["capacity"] / 20000})
        pts.append({"variant": r["variant"], "load": r["capacity"] * 1.5, "holds": False,
                    "cost_usd_per_1k_users_month": 0.1})
    return SimpleNamespace(table=table, points=pd.DataFrame(pts), load="workload.clients",
                           slo={"latency_p99_ms": 250.0, "breaches": 0.0})


def _legend(ax) -> list[str]:
    lg = ax.get_legend()
    assert lg is not None
    return [t.get_text() for t in lg.get_texts()] + [lg.get_title().get_text()]


def test_frontier_bars_labelled_with_capacity_and_binding_limit():
    ax = plots.capacity_frontier(_cap())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["basic", "appsync", "managed"]
    assert ax.get_ylabel() == "clients (users, log scale) at capacity"
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["4,800", "51,000", ">= 160,000"]
    assert ax.get_yscale() == "log"      # capacities 33 times apart
    legend = _legend(ax)
    for name in (THROTTLE, "appsync.outbound_messages_per_s", "nothing named",
                 "held at every load tried"):
        assert name in legend, name
    assert any("latency_p99_ms <= 250" in t for t in legend)
    heights = [p.get_height() for p in ax.patches][:3]
    assert heights == [4800.0, 51000.0, 160000.0]


def test_cost_along_the_frontier_leaves_out_loads_that_broke_the_slo():
    cap = _cap()
    ax = plots.capacity_cost(cap)
    assert ax.get_xscale() == "log"
    assert "users" in ax.get_xlabel() and "USD/month" in ax.get_ylabel()
    lines = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]
    assert len(lines) == 3
    for ln, (_, r) in zip(lines, cap.table.iterrows()):
        assert max(ln.get_xdata()) == r["capacity"]      # nothing beyond capacity drawn
    legend = _legend(ax)
    assert any(t.startswith("basic: capacity 4,800") for t in legend)
    assert any("star: capacity" in t for t in legend)


def _sweep():
    rows = []
    for size in (100, 1000, 10000):
        for rate in (0.5, 2.0):
            for rep in range(3):
                bound = size * rate > 5000 or (size == 1000 and rate == 2.0 and rep == 0)
                rows.append({"param.workload.channels.size": size,
                             "param.workload.publish.total_rate_per_s": rate,
                             "replication": rep, "architecture": "basic",
                             "first_load_breach_quota": THROTTLE if bound else None,
                             "first_load_breach_time_s": 10.0 + rep if bound else None,
                             "latency_p99_ms": 100.0 * (1 + rep), "error": None})
    rows.append({**rows[0], "replication": 3, "error": "RuntimeError: boom",
                 "first_load_breach_quota": "lambda.account_concurrency"})
    return pd.DataFrame(rows)


def test_sweep_breach_map_takes_the_majority_of_replications_with_units_on_the_axes():
    fig = plots.sweep_breach_map(_sweep(), "workload.channels.size",
                                 "workload.publish.total_rate_per_s")
    (panel,) = [a for a in fig.axes if a.images]
    assert panel.get_xlabel() == "channel size (subscribers)"
    assert panel.get_ylabel() == "message rate (messages/s)"
    codes = panel.images[0].get_array()
    # rows: rates 0.5, 2; columns: sizes 100, 1000, 10000. Only 10,000 x 2 = 20,000 posts/s
    # is bound in most replications (1,000 x 2 in one of three: not the majority)
    assert [[int(c) for c in row] for row in codes] == [[0, 0, 0], [0, 0, 1]]
    legends = [a.get_legend() for a in fig.axes if a.get_legend()] + fig.legends
    texts = [t.get_text() for lg in legends for t in lg.get_texts()]
    assert THROTTLE in texts and "lambda.account_concurrency" not in texts   # failed run out
    cell = [t.get_text() for t in panel.texts if "from" in t.get_text()]
    assert cell == ["p99 200 ms\nfrom 11 s"]       # mean p99, median first second


def test_param_label_units_from_names():
    assert plots.param_label("param.aws.lambda.functions.default.timeout_s") == \
        "aws.lambda.functions.default.timeout_s (s)"
    assert plots.param_label("app.posts_in_flight") == "app.posts_in_flight (count)"
    assert plots.param_label("workload.arrivals.rate_per_s", log=True) == \
        "connection arrival rate (connections/s, log scale)"
