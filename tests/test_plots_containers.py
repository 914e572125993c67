"""The fleet timeline of the ``containers`` design, on small real runs (headless): three
panels sharing the time axis, every line named, the limits drawn, and a refusal to draw a run
of another design."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import simulator as sim  # noqa: E402
from simulator import plots  # noqa: E402

SMALL = {"architecture": "containers", "duration_s": 200, "warmup_s": 20,
         "workload.clients": 500}


@pytest.fixture(scope="module")
def res():
    return sim.run(sim.load_scenario("chat-basic").with_overrides(SMALL), progress=False)


@pytest.fixture(autouse=True)
def _close():
    yield
    for n in plt.get_fignums():
        plt.figure(n).canvas.draw()
    plt.close("all")


def _legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_fleet_timeline_draws_tasks_connections_and_cpu_against_their_limits(res):
    fig = plots.fleet_timeline(res)
    main = [ax for ax in fig.axes if ax.get_legend() is not None]
    assert len(main) == 3   # the three panels (a twin axis carries no legend of its own)
    tasks, conns, cpu = main
    assert tasks.get_shared_x_axes().joined(tasks, cpu)
    assert any(t.startswith("in service (peak 2)") for t in _legend(tasks))
    assert any(t.startswith("running, starting or draining") for t in _legend(tasks))
    assert "warm-up" in _legend(tasks)
    labels = _legend(conns)
    assert any(t.startswith("open (peak") for t in labels)
    assert any(t.startswith("limit: tasks in service ×") for t in labels)
    assert any(t.startswith("attempts refused per second") for t in labels)
    labels = _legend(cpu)
    assert {"busiest task", "mean over the tasks", "the limit (100%)"} <= set(labels)
    assert "autoscaling target (60%)" in labels
    assert "(s)" in cpu.get_xlabel() and "%" in cpu.get_ylabel()
    assert conns.get_ylabel() == "connections" and tasks.get_ylabel() == "tasks"
    # the CPU panel (a CPU target) has no twin axis; the connections panel has one
    assert len(fig.axes) == 4


def test_a_connections_target_is_drawn_on_its_own_axis():
    scn = sim.load_scenario("chat-basic").with_overrides(
        {**SMALL, "duration_s": 130, "containers.autoscaling.metric": "connections",
         "containers.autoscaling.target": 200,
         "containers.deploys": [{"at_s": 100}]})
    fig = plots.fleet_timeline(sim.run(scn, progress=False), title="deploy")
    assert len(fig.axes) == 5   # a twin axis for the refusals and one for the metric
    cpu = [ax for ax in fig.axes if ax.get_legend() is not None][2]
    labels = _legend(cpu)
    assert "autoscaling target (200 connections per task)" in labels
    assert any(t.startswith("autoscaling metric: mean connections per task") for t in labels)
    assert not any("60%" in t for t in labels)
    assert "deploy" in _legend(fig.axes[0])
    assert fig.get_suptitle() == "deploy"


def test_fleet_timeline_refuses_a_run_without_a_fleet():
    basic = sim.run(sim.load_scenario("chat-basic").with_overrides(
        {**SMALL, "architecture": "basic", "duration_s": 60, "warmup_s": 10}), progress=False)
    with pytest.raises(sim.ScenarioError) as e:
        plots.fleet_timeline(basic)
    assert e.value.field == "architecture" and e.value.value == "basic"
    assert "containers" in e.value.rule
