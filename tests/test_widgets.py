"""The what-if panel, driven without a browser: controls set, the run redone, the verdict and
the figures redrawn; a bad combination shows the error instead."""

import pytest

pytest.importorskip("ipywidgets")

from simulator.widgets import WhatIf  # noqa: E402


def test_the_panel_reruns_what_its_controls_describe():
    panel = WhatIf("chat-basic", duration_s=30.0, auto=False)
    c = panel.controls
    c["clients"].value = 2000
    c["channel_size"].value = 20
    panel.update()
    small = panel.result
    assert small.scenario.workload.clients == 2000
    assert small.scenario.workload.channels.size.value == 20
    assert small.verdict().first_load_breach is None
    # the same users in a throttle 20x lower: the throttle binds, and the verdict says so
    c["throttle_rps"].value = 1000
    c["messages_per_user_per_min"].value = 6.0
    panel.update()
    assert panel.result.verdict().binding == "api_gateway.account_throttle"
    assert panel.text.startswith("verdict for chat-basic") and "BINDING" in panel.text
    headroom, cdf = panel.figure.axes[:2]
    assert headroom.get_title() == "headroom" and "latency" in cdf.get_title()


def test_changing_a_control_reruns_by_itself():
    panel = WhatIf("chat-basic", duration_s=20.0, auto=True)
    panel.controls["clients"].value = 500
    assert panel.result is not None and panel.result.scenario.workload.clients == 500
    panel.controls["design"].value = "appsync"
    assert panel.result.scenario.architecture == "appsync"


def test_a_bad_combination_shows_its_error():
    panel = WhatIf("chat-basic", duration_s=20.0, auto=False)
    panel.controls["lambda_concurrency"].value = 100
    panel.base = panel.base.with_overrides(
        {"aws.lambda.functions.default.reserved_concurrency": 500})
    panel.update()
    assert panel.error is not None and "reserved" in panel.error
