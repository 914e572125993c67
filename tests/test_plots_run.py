"""Plot helpers of one run's answer and of several Regions, on small real runs (headless):
limits drawn as 100%, axes labelled with units, legends that name every line."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import simulator as sim  # noqa: E402
from simulator import plots  # noqa: E402
from tests.conftest import small  # noqa: E402


@pytest.fixture(scope="module")
def res():
    return sim.run(small("livestream-basic", duration_s=40.0, warmup_s=10.0,
                         **{"workload.clients": 8000}))


@pytest.fixture(autouse=True)
def _close():
    yield
    for n in plt.get_fignums():
        plt.figure(n).canvas.draw()
    plt.close("all")


def test_limits_over_time_draws_the_limit_and_the_refusals(res):
    ax = plots.limits_over_time(res)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "the limit (100%)" in labels
    assert any(lab.startswith("API Gateway account throttle (peak") for lab in labels)
    assert any(lab.startswith("refused: api_gateway.account_throttle") for lab in labels)
    assert "%" in ax.get_ylabel() and "(s)" in ax.get_xlabel()


def test_latency_tail_and_stages_are_labelled(res):
    ax = plots.latency_tail(res)
    assert "log" in ax.get_xlabel() and "ms" in ax.get_xlabel() and "log" in ax.get_ylabel()
    ax = plots.latency_stages({"live": res})
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert len(ticks) == 2 and ticks[0].startswith("live p50") and ticks[1].startswith("live p99")
    assert "post slot wait" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_connections_and_lambda_show_the_account_limit(res):
    fig = plots.connections_and_lambda(res)
    ax_lambda = fig.axes[1]
    assert any(t.get_text().startswith("account limit") for t in ax_lambda.get_legend().get_texts())
    assert fig.axes[0].get_yscale() == "log"


def test_outage_timeline_marks_the_dns_delays_only_with_somewhere_to_go():
    base = {"duration_s": 200.0, "warmup_s": 0.0, "workload.clients": 600,
            "workload.incidents": [{"kind": "region_outage", "region": "us-east-1",
                                    "at_s": 50.0, "duration_s": 60.0}]}
    one = sim.run(small("global-live-event", **base))
    many = sim.run(small("global-live-event", architecture="multi_region", **base))
    legend = lambda fig: [t.get_text() for t in fig.axes[2].get_legend().get_texts()]  # noqa: E731
    assert not any("DNS" in x for x in legend(plots.outage_timeline(one)))
    assert any("DNS notices" in x for x in legend(plots.outage_timeline(many)))
