"""The ``containers`` design (WebSocket server tasks on Fargate, a load balancer, a pub/sub
backplane): task utilisation against a hand calculation, queueing against M/M/1, refusals
beyond the fleet's capacity, costs from usage counted independently, conservation through
deploys and failures, autoscaling's delay, and bad settings named."""

import math

import pandas as pd
import pytest

import simulator as sim
from tests.conftest import small

#: a closed population (no arrivals, no session ends, no blips) in channels of a fixed size
STEADY = {
    "architecture": "containers",
    "workload.session_s": {"kind": "fixed", "value": 1.0e7},
    "workload.arrivals": {"profile": "steady"},
    "workload.channels.size": {"kind": "fixed", "value": 10},
    "workload.publish.payload_bytes": {"kind": "fixed", "value": 500},
    "containers.autoscaling.enabled": False,
}


def _steady(**extra):
    return small("chat-basic", **{**STEADY, **extra})


def test_task_utilisation_is_offered_work_over_capacity():
    """Fixed CPU costs, every task subscribed to every message (all_tasks): the mean
    utilisation equals the work the messages and idle connections offer, divided by the
    tasks' vCPUs (a hand calculation from the counted messages)."""
    n_tasks, vcpu, n = 4, 1.0, 4000
    c_pub, c_fan, c_del, c_idle = 2e-4, 5e-5, 3e-5, 1e-5
    scn = _steady(**{"workload.clients": n, "duration_s": 660.0, "warmup_s": 60.0,
                     "containers.tasks.initial": n_tasks, "containers.tasks.min": n_tasks,
                     "containers.backplane.subscribe": "all_tasks",
                     "catalog.containers.cpu_per_publish_s": c_pub,
                     "catalog.containers.cpu_per_backplane_message_s": c_fan,
                     "catalog.containers.cpu_per_delivery_s": c_del,
                     "catalog.containers.cpu_idle_per_connection": c_idle})
    res = sim.run(scn, progress=False)
    s = res.summary
    T = scn.duration_s
    work = ((s["messages_published"] * (c_pub + n_tasks * c_fan)
             + s["deliveries_attempted"] * c_del) / T + n * c_idle)
    expected = work / (n_tasks * vcpu)
    assert s["containers_task_cpu_utilisation_mean"] == pytest.approx(expected, rel=0.02)
    assert s["containers_tasks_end"] == n_tasks and s["containers_scale_outs"] == 0


def test_task_queue_agrees_with_mm1():
    """One task, exponential work to read each published message and nothing else: the mean
    wait of those jobs is M/M/1's rho / (mu - lambda) (the messages arrive as a Poisson
    stream; the zero-work fan-out jobs that re-enter the queue add no work)."""
    mean_s, lam = 0.010, 50.0          # rho = 0.5: Wq = 10 ms
    scn = _steady(**{"workload.clients": 500, "workload.publish.rate_per_client_per_s": lam / 500,
                     "duration_s": 2000.0, "warmup_s": 0.0,
                     "containers.tasks": {"initial": 1, "min": 1, "max": 1},
                     "catalog.containers.cpu_per_publish_s":
                         {"kind": "exponential", "mean": mean_s},
                     "catalog.containers.cpu_per_backplane_message_s": 0.0,
                     "catalog.containers.cpu_per_delivery_s": 0.0,
                     "catalog.containers.cpu_per_connect_s": 0.0,
                     "catalog.containers.cpu_idle_per_connection": 0.0})
    res = sim.run(scn, progress=False)
    mu = 1.0 / mean_s
    rho = lam / mu
    wq_ms = 1000.0 * rho / (mu - lam)
    assert res.summary["containers_task_cpu_utilisation_mean"] == pytest.approx(rho, rel=0.03)
    assert res.summary["containers_task_wait_mean_ms.publish"] == pytest.approx(wq_ms, rel=0.06)


def test_connections_beyond_the_fleet_are_refused_as_its_own_limit():
    """Scaling off, two tasks of 100 connections behind an ALB (round robin): of 500 clients
    arriving, 200 connect and 300 are refused, each a breach of the per-task limit."""
    scn = small("connection-surge", **{
        "architecture": "containers", "duration_s": 60.0, "workload.clients": 0,
        "workload.arrivals": {"profile": "spike", "start_s": 5.0, "duration_s": 10.0,
                              "extra_clients": 500},
        "workload.publish.rate_per_client_per_s": 0.0,
        "containers.load_balancer.kind": "alb",
        "containers.task.max_connections": 100,
        "containers.tasks": {"initial": 2, "min": 2, "max": 2},
        "containers.autoscaling.enabled": False})
    res = sim.run(scn, progress=False)
    s = res.summary
    assert s["connections_established"] == 200
    assert s["connections_rejected"] == s["connections_attempted"] - 200
    by = res.breaches_by_quota().set_index("quota")["count"]
    assert by["containers.connections_per_task"] == s["connections_rejected"] > 0
    assert s["first_breach_quota"] == "containers.connections_per_task"


def test_costs_are_the_usage_counted_by_hand():
    """No scaling: Fargate vCPU- and GB-hours are tasks x time x size, the load balancer and
    the cache nodes are billed for the run's hours, the TLS listener's capacity units follow
    the active connections (the binding dimension here), all at the catalog's prices."""
    T, n_tasks = 600.0, 3
    scn = _steady(**{"workload.clients": 6000, "duration_s": T, "warmup_s": 0.0,
                     "workload.publish.rate_per_client_per_s": 0.001,
                     "containers.tasks": {"initial": n_tasks, "min": n_tasks, "max": n_tasks},
                     "containers.task": {"vcpu": 0.5, "memory_gb": 2}})
    res = sim.run(scn, progress=False)
    u = res.usage
    h = T / 3600.0
    assert u["fargate.vcpu_hours.x86_64"] == pytest.approx(n_tasks * h * 0.5)
    assert u["fargate.gb_hours.x86_64"] == pytest.approx(n_tasks * h * 2.0)
    assert u["elb.nlb_hours"] == pytest.approx(h)
    assert u["elasticache.node_hours.m7g_large"] == pytest.approx(2 * h)   # a primary, a replica
    # 6,000 connections on a TLS listener: 2 NLCU (3,000 active each) beat new connections/s
    # and bytes here
    assert u["elb.nlcu_hours"] == pytest.approx(6000 / 3000 * h, rel=0.01)
    from simulator.costs import price_book

    book = price_book()
    cost = res.costs.set_index("item")["cost_usd"]
    for item in ("fargate.vcpu_hours.x86_64", "elb.nlb_hours", "elasticache.node_hours.m7g_large"):
        unit_price = book.items["us-east-1"][item].tiers[0][1]
        assert cost[item] == pytest.approx(u[item] * unit_price)


def test_conservation_through_a_deploy_and_a_failure():
    """A rolling deploy and a task failure drop connections that reconnect: every attempt is
    established, refused or in flight; the servers hold exactly the open and half-open
    connections; every message reaches its recipients or is counted lost."""
    scn = small("chat-basic", **{"architecture": "containers", "duration_s": 700.0,
                                 "warmup_s": 20.0, "workload.clients": 3000,
                                 "containers.deploys": [{"at_s": 60.0, "draining_s": 120.0}],
                                 "containers.task_failures": [{"at_s": 400.0}]})
    res = sim.run(scn, progress=False)
    s = res.summary
    assert s["connections_attempted"] == (s["connections_established"]
                                          + s["connections_rejected"]
                                          + s["connections_in_flight"])
    assert s["deliveries_attempted"] == (s["deliveries_succeeded"] + s["deliveries_failed"]
                                         + s["deliveries_stale"] + s["deliveries_in_flight"])
    assert s["publishes_attempted"] == s["messages_published"] + s["publishes_in_flight"]
    assert s["containers_connections_held"] == s["connections_open_end"]
    assert s["containers_deploy_dropped"] > 1000          # the old tasks' clients
    assert s["containers_deploy_reconnected"] == pytest.approx(s["containers_deploy_dropped"],
                                                               abs=5)
    assert s["containers_deploy_duration_s"] > 120.0
    assert s["containers_failure_dropped"] > 0
    assert s["messages_intended"] == s["messages_delivered"] + s["messages_lost"] + \
        s["messages_pending"]


def test_flash_crowd_scale_out_waits_for_datapoints_and_a_start():
    """Target tracking on connections per task: a crowd beyond the fleet is refused until new
    tasks are in service, which takes at least three one-minute datapoints and a Fargate start;
    the fleet then grows to about crowd / target."""
    scn = small("connection-surge", **{
        "architecture": "containers", "duration_s": 450.0,
        "containers.task": {"vcpu": 0.5, "memory_gb": 1},
        "containers.autoscaling": {"metric": "connections", "target": 5000}})
    res = sim.run(scn, progress=False)
    s = res.summary
    ts = res.timeseries
    assert s["containers_scale_outs"] >= 1
    grown = ts.index[ts["tasks_in_service"] > s["containers_tasks_initial"]]
    assert grown.size and grown[0] >= 60.0 + 3 * 60.0 + 53.0   # crowd at 60 s; 3 datapoints; start
    # memory alone needs this many tasks for the crowd
    assert s["containers_tasks_peak"] >= math.ceil(60000 / s["containers_connections_per_task_limit"])
    assert s["connections_rejected"] > 0


@pytest.mark.parametrize("overrides, field", [
    ({"containers.task.vcpu": 3}, "containers.task.vcpu"),
    ({"containers.task.memory_gb": 16}, "containers.task.memory_gb"),
    ({"containers.tasks": {"initial": 1, "min": 1, "max": 4},
      "containers.task.max_connections": 10}, "containers.tasks.initial"),
    ({"containers.tasks": {"min": 5, "max": 2}}, "containers.tasks.max"),
    ({"containers.autoscaling": {"metric": "cpu", "target": 60}}, "containers.autoscaling.target"),
    ({"containers.deploys": [{"at_s": 1.0e6}]}, "containers.deploys.0.at_s"),
])
def test_bad_settings_are_named(overrides, field):
    with pytest.raises(sim.ScenarioError) as ei:
        sim.resolve(small("chat-basic", architecture="containers", **overrides))
    assert field in str(ei.value)


@pytest.mark.parametrize("name, clients", [("chat-compare", 3000), ("livestream-compare", 3000)])
def test_compare_runs_containers_beside_the_serverless_designs(name, clients):
    """``sim.compare`` runs basic, a broadcast variant and containers on the same workload.
    On the live event the fleet has no account throttle: at 3,000 viewers and 20 messages/s
    (60,000 posts/s) basic is throttled, the fleet delivers every message."""
    extra = {"workload.publish.total_rate_per_s": 20.0} if name == "livestream-compare" else {}
    scn = small(name, **{"duration_s": 120.0, "warmup_s": 30.0, "workload.clients": clients,
                         **extra})
    cmp = sim.compare(scn, ["basic", "appsync", "containers"], progress=False)
    t = cmp.table.set_index("variant")
    assert list(t.index) == ["basic", "appsync", "containers"]
    assert t.loc["containers", "cost_usd_per_month"] > 0
    assert pd.isna(t.loc["containers", "first_binding_limit"])
    if name == "livestream-compare":
        assert t.loc["basic", "first_binding_limit"] == "api_gateway.account_throttle"
        assert t.loc["containers", "deliveries_succeeded"] > t.loc["basic", "deliveries_succeeded"]


def _fleet(**extra):
    return small("chat-basic", **{"architecture": "containers", "workload.clients": 1500,
                                  "duration_s": 1500.0, "warmup_s": 20.0,
                                  "containers.tasks": {"initial": 4, "min": 2, "max": 20},
                                  **extra})


def test_a_deploy_finishes_through_a_failure_and_a_newer_deploy():
    """A task that fails while a deployment is to replace it counts as replaced (the service's
    own replacement takes its place); a newer deployment supersedes the older. Each ends, and
    scale-in (off during a deployment) resumes: the over-sized fleet shrinks."""
    one = _fleet(**{"containers.deploys": [{"at_s": 60.0, "maximum_percent": 101,
                                            "draining_s": 60.0}],
                    "containers.task_failures": [{"at_s": 62.0}]})
    s = sim.run(one, progress=False).summary
    assert s["containers_deploy_duration_s"] is not None
    assert s["containers_scale_ins"] >= 1 and s["containers_tasks_end"] < 4
    two = _fleet(**{"containers.deploys": [{"at_s": 60.0}, {"at_s": 150.0}]})
    s = sim.run(two, progress=False).summary
    assert s["containers_deploy_duration_s"] is not None   # the first, superseded at 150 s
    assert s["containers_scale_ins"] >= 1 and s["containers_tasks_end"] < 4


def test_scale_in_after_the_crowd_leaves_and_the_ceiling_is_a_breach():
    """Connections target tracking: a crowd grows the fleet up to tasks.max (the capacity it
    asked for beyond that is a breach), and when the crowd has left, 15 datapoints below 90% of
    the target shrink it again."""
    scn = small("connection-surge", **{
        "architecture": "containers", "duration_s": 1800.0,
        "workload.arrivals.extra_clients": 12000,
        "workload.session_s": {"kind": "fixed", "value": 400.0},
        "containers.tasks": {"min": 2, "max": 5},
        "containers.autoscaling": {"metric": "connections", "target": 1000}})
    res = sim.run(scn, progress=False)
    s = res.summary
    ts = res.timeseries["tasks_in_service"]
    assert ts.max() == 5 == s["containers_tasks_peak"]
    assert "containers.tasks_max" in set(res.breaches["quota"])
    assert s["containers_scale_ins"] >= 1 and ts.iloc[-1] < 5


def test_backplane_copies_go_to_the_subscribed_tasks():
    """Channels of about one member on four tasks: with one shared channel every task gets a
    copy of each message (the backplane counts the message in and each copy out: 1 + 4); with
    per-channel subscriptions only the tasks holding the channel's members do (between 1 and 2
    here: a sender's room holds itself and about one other member)."""
    per_msg = {}
    for subscribe in ("all_tasks", "per_channel"):
        scn = _steady(**{"workload.clients": 2000, "duration_s": 120.0, "warmup_s": 0.0,
                         "workload.channels.size": {"kind": "fixed", "value": 1},
                         "containers.tasks": {"initial": 4, "min": 4, "max": 4},
                         "containers.backplane.subscribe": subscribe})
        c = sim.run(scn, progress=False).counters
        per_msg[subscribe] = c["containers.backplane_messages"] / c["messages.published"]
    assert per_msg["all_tasks"] == pytest.approx(5.0, abs=0.01)
    assert 2.0 < per_msg["per_channel"] < 3.0


def test_a_saturated_backplane_is_a_breach():
    """A shard whose pub/sub rate the messages exceed works every second of a minute: a breach
    of its throughput; at the catalog's rate the same load leaves it nearly idle."""
    base = {"workload.clients": 3000, "duration_s": 300.0, "warmup_s": 0.0,
            "containers.tasks": {"initial": 4, "min": 4, "max": 4}}
    slow = sim.run(_steady(**base, **{"catalog.elasticache.pubsub_messages_per_s": 150}),
                   progress=False)
    assert "containers.backplane_throughput" in set(slow.breaches["quota"])
    fine = sim.run(_steady(**base), progress=False)
    assert fine.summary["breaches_total"] == 0
    assert fine.summary["containers_backplane_utilisation"] < 0.05


def test_billing_has_a_one_minute_minimum():
    """A task that fails 20 s after launch is billed a minute; its replacement from its launch
    to the end: task-seconds 60 + 300 + 280 over a 300 s run of two tasks."""
    scn = _steady(**{"workload.clients": 1000, "duration_s": 300.0, "warmup_s": 0.0,
                     "containers.tasks": {"initial": 2, "min": 2, "max": 2},
                     "containers.task_failures": [{"at_s": 20.0}]})
    res = sim.run(scn, progress=False)
    assert res.usage["fargate.vcpu_hours.x86_64"] == pytest.approx((60 + 300 + 280) / 3600.0)


def test_clients_give_up_on_an_upgrade_that_takes_too_long():
    """A crowd on two small tasks whose upgrades cost 3 ms of CPU: the queue passes the
    client's connect timeout, those clients give up and retry (the task did the work for
    nothing), so no connection takes much longer than the timeout to open."""
    scn = small("connection-surge", **{
        "architecture": "containers", "duration_s": 300.0,
        "workload.arrivals.extra_clients": 30000,
        "containers.task": {"vcpu": 0.25, "memory_gb": 2},
        "containers.autoscaling.enabled": False,
        "catalog.containers.cpu_per_connect_s": 3e-3})
    res = sim.run(scn, progress=False)
    s = res.summary
    assert res.counters["connections.rejected.connect_timeout"] > 0
    assert s["connect_latency_p99_ms"] < 1000 * (20.0 + 5.0)


def test_the_initial_fleet_is_sized_for_the_target():
    """Without tasks.initial the fleet starts with the fewest tasks whose CPU, at the start's
    load, is within the target: a live event's one channel (its nominal size a share, not a
    membership) gets a few tasks near the target, not one per nominal member."""
    scn = small("livestream-compare", **{"architecture": "containers", "duration_s": 120.0,
                                         "warmup_s": 20.0, "workload.clients": 10000,
                                         "workload.publish.total_rate_per_s": 4.0})
    s = sim.run(scn, progress=False).summary
    assert 2 <= s["containers_tasks_initial"] <= 5
    target = scn.containers.autoscaling.target
    assert target / 2 < s["containers_task_cpu_utilisation_mean"] <= target
