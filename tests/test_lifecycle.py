"""Connection lifecycle and message integrity: zombie timelines, reconnect storms, heartbeats,
cleanup strategies, resume policies, and conservation of every (message, recipient) pair."""

import math

import numpy as np
import pytest
import simpy

import simulator as sim
from simulator.architectures import registry
from simulator.catalog import load_catalog
from simulator.metrics.recorder import Recorder
from simulator.rng import Streams
from simulator.scenario import Params
from tests.conftest import small

QUIET_ONE = {
    # one client in a channel of its own, no traffic, a session that outlasts the run
    "workload.clients": 1, "workload.initially_connected": 1.0,
    "workload.session_s": {"kind": "fixed", "value": 1e7},
    "workload.channels.size": {"kind": "fixed", "value": 1},
    "workload.publish.rate_per_client_per_s": 0.0,
    "workload.disconnect.graceful_fraction": 1.0, "workload.disconnect.abrupt_fraction": 0.0,
    "aws.api_gateway.disconnect_miss_fraction": 0.0,
    "aws.api_gateway.max_connection_duration_s": 1e9,
    "app.cleanup.on_410": False,
    "engine.idle_check_s": 0.01,
    "duration_s": 2000.0, "warmup_s": 0.0,
}


def build(**overrides):
    scn = small("chat-basic", **overrides)
    env = simpy.Environment()
    arch = registry.get("basic")(env, scn, Params(scn, load_catalog()), Streams(scn.seed),
                                 Recorder())
    arch.start()
    closes = []
    orig = arch.conns.server_close

    def spy(now, i):
        closes.append(now)
        orig(now, i)

    arch.conns.server_close = spy
    return env, arch, closes


def vanish_at(env, arch, t):
    seen = {}

    def go(ev):
        i = int(arch.reg.open_ids[0])
        if arch.reg.last_seen is not None:     # kept with app heartbeats only
            seen["last_seen"] = float(arch.reg.last_seen[i])
        seen["last_send"] = float(arch.reg.last_send[i])
        arch.reg.vanish(env.now, i)

    env.timeout(t).callbacks.append(go)
    return seen


def test_without_heartbeats_a_zombie_lives_until_the_idle_timeout():
    env, arch, closes = build(**QUIET_ONE)
    seen = vanish_at(env, arch, 100.0)
    env.run(until=2000)
    idle = arch.apigw.idle_timeout
    assert seen["last_send"] == 0.0                      # last traffic at t = 0
    assert closes == [pytest.approx(0.0 + idle, abs=0.011)]
    # the row goes when $disconnect has run: a route hop, a (cold) handler and a DeleteItem
    assert arch.reg.zombie_lifetimes == [pytest.approx(idle - 100.0, abs=3.0)]
    assert arch.reg.n_rows == 0


def test_with_app_heartbeats_a_zombie_is_detected_within_h_plus_detection_latency():
    h, timeout, sweep = 30.0, 5.0, 1.0
    env, arch, closes = build(**QUIET_ONE, **{
        "workload.heartbeat": {"kind": "app", "interval_s": h, "timeout_s": timeout},
        "app.cleanup.sweep": {"interval_s": sweep}})
    seen = vanish_at(env, arch, 100.0)
    env.run(until=400)
    last = seen["last_seen"]
    assert 100.0 - h - 1.0 < last <= 100.0               # the last heartbeat was recorded
    assert len(closes) == 1
    # noticed by the first sweep batch after lastSeen + h + timeout (the sweep's own start-up,
    # a cold Lambda and a table scan, is the rest of the detection latency)
    assert last + h + timeout <= closes[0] <= last + h + timeout + sweep + 1.5
    assert closes[0] - 100.0 <= h + timeout + sweep + 1.5
    assert arch.c["cleanup.heartbeat_timeouts"] == 1
    assert arch.reg.zombie_lifetimes[0] < h + timeout + sweep + 3.0


def test_ws_ping_keeps_quiet_connections_open_and_costs_no_message():
    base = {**QUIET_ONE, "workload.clients": 200, "duration_s": 1500.0,
            "workload.session_s": {"kind": "fixed", "value": 1e7}}
    none = sim.run(small("chat-basic", **base)).summary
    ping = sim.run(small("chat-basic", **base, **{
        "workload.heartbeat": {"kind": "ws_ping", "interval_s": 300}})).summary
    app_run = sim.run(small("chat-basic", **base, **{
        "workload.heartbeat": {"kind": "app", "interval_s": 300}}))
    app = app_run.summary
    assert none["connections_reconnect_attempts"] >= 200          # every quiet client was cut
    assert ping["connections_reconnect_attempts"] == 0
    assert app["connections_reconnect_attempts"] == 0
    assert ping["apigw_messages_billed"] == none["apigw_messages_billed"] == 0
    assert app["apigw_messages_billed"] == app["heartbeats_sent"] > 0
    assert app_run.counters["lambda.heartbeat.invocations"] == app["heartbeats_sent"]
    assert app_run.counters["dynamodb.write_units"] > 0          # lastSeen updates


STORM = {"workload.clients": 4000, "workload.session_s": {"kind": "fixed", "value": 1e7},
         "workload.publish.rate_per_client_per_s": 0.0,
         "workload.incidents": [{"kind": "mass_drop", "at_s": 5.0, "fraction": 1.0}],
         "aws.api_gateway.max_connection_duration_s": 1e9,
         # enough Lambda concurrency for the $disconnect storm the drop also causes, so that
         # the connection quota is what binds here (the bundled scenario shows both)
         "aws.lambda.account_concurrency": 20_000,
         "duration_s": 120.0, "warmup_s": 0.0}


def test_storm_without_retries_rejects_what_the_quota_implies():
    r = sim.run(small("chat-basic", **STORM, **{
        "workload.reconnect": {"policy": "immediate", "max_attempts": 1}}))
    s = r.summary
    burst = r.params["api_gateway.connection_burst"]
    assert s["storm_dropped"] == 4000
    # all 4,000 try within a fraction of a second: the burst passes and the bucket's refill
    # over the attempts' spread (500/s for ~0.13 s here: 67 more) is what the 5% allows
    assert s["connections_rejected"] <= 4000 - burst
    assert s["connections_rejected"] == pytest.approx(4000 - burst, rel=0.05)
    assert s["storm_reconnected"] + s["storm_gave_up"] == 4000


def test_storm_with_backoff_reconnects_everyone_and_lasts_at_least_n_over_q():
    r = sim.run(small("chat-basic", **STORM, **{
        "workload.reconnect": {"policy": "backoff", "base_s": 1, "cap_s": 30,
                               "max_attempts": None}}))
    s = r.summary
    q = r.params["api_gateway.new_connections_per_s"]
    burst = r.params["api_gateway.connection_burst"]
    assert s["storm_reconnected"] == 4000 and s["storm_gave_up"] == 0
    assert s["storm_duration_s"] >= (4000 - burst) / q
    assert s["storm_rejected_attempts"] > 0
    immediate = sim.run(small("chat-basic", **STORM, **{
        "workload.reconnect": {"policy": "immediate", "max_attempts": 50}})).summary
    assert immediate["storm_rejected_attempts"] > s["storm_rejected_attempts"]


POLICIES = {
    "plain": {},
    "ping+ttl": {"workload.heartbeat": {"kind": "ws_ping", "interval_s": 60},
                 "app.cleanup.ttl": {"ttl_s": 7200, "filter_expired": True}},
    "app+sweep+history": {"workload.heartbeat": {"kind": "app", "interval_s": 30},
                          "app.cleanup.sweep": {"interval_s": 20},
                          "app.resume": {"kind": "history", "retention_s": 120,
                                         "overlap_s": 3, "client_dedup": False}},
    "history+dedup+storm": {"app.resume": {"kind": "history", "retention_s": 60, "overlap_s": 2,
                                           "client_dedup": True},
                            "workload.incidents": [{"kind": "mass_drop", "at_s": 60,
                                                    "fraction": 0.5}]},
    "no-reconnect": {"workload.reconnect": {"policy": "none"}},
}


@pytest.mark.parametrize("name", POLICIES)
def test_every_message_recipient_pair_is_accounted_for(name):
    r = sim.run(small("zombie-heartbeat", **{"workload.clients": 600, "duration_s": 180.0,
                                             "warmup_s": 10.0,
                                             "workload.blips.per_client_per_h": 20},
                      **POLICIES[name]))
    s = r.summary
    assert s["messages_intended"] > 0
    assert s["messages_intended"] == (s["messages_delivered"] + s["messages_recovered"]
                                      + s["messages_duplicated"] + s["messages_lost"]
                                      + s["messages_pending"])
    assert s["deliveries_attempted"] == (s["deliveries_succeeded"] + s["deliveries_failed"]
                                         + s["deliveries_stale"] + s["deliveries_in_flight"])
    assert s["connections_attempted"] == (s["connections_established"]
                                          + s["connections_rejected"] + s["connections_in_flight"])
    assert s["publishes_attempted"] == (s["messages_published"] + s["publishes_rejected"]
                                        + s["publishes_in_flight"])


def _resume(**kw):
    return sim.run(small("zombie-heartbeat", **{"workload.clients": 800, "duration_s": 240.0,
                                                "warmup_s": 10.0,
                                                "workload.blips.per_client_per_h": 30}, **kw)).summary


def test_resume_policies_trade_losses_for_duplicates_and_cost():
    none = _resume(**{"app.resume": {"kind": "none"}})
    hist = _resume(**{"app.resume": {"kind": "history", "retention_s": 600, "overlap_s": 3}})
    dedup = _resume(**{"app.resume": {"kind": "history", "retention_s": 600, "overlap_s": 3,
                                      "client_dedup": True}})
    short = _resume(**{"app.resume": {"kind": "history", "retention_s": 1}})
    assert none["messages_recovered"] == 0 and none["messages_lost"] > 0
    assert hist["messages_recovered"] > 0
    assert hist["messages_lost"] < none["messages_lost"]
    assert hist["messages_duplicated"] > 0 and hist["delivery_guarantee"].startswith(
        ("at-least-once", "none"))
    assert dedup["messages_duplicated"] == 0 and dedup["messages_duplicates_suppressed"] > 0
    assert short["messages_lost"] > hist["messages_lost"]
    assert hist["cost_usd_per_month"] > none["cost_usd_per_month"]   # history writes and reads


def test_heartbeats_and_sweeps_shorten_zombie_lives_and_cut_stale_posts():
    base = {"workload.clients": 1000, "duration_s": 900.0, "warmup_s": 10.0}
    bare = sim.run(small("zombie-heartbeat", **base, **{
        "workload.heartbeat": {"kind": "none"}, "app.cleanup.sweep": None,
        "app.cleanup.ttl": None})).summary
    kept = sim.run(small("zombie-heartbeat", **base)).summary
    assert kept["stale_post_share"] < bare["stale_post_share"] / 2
    assert kept["zombie_lifetime_p50_s"] < bare["zombie_lifetime_p50_s"] / 2
    assert kept["zombie_cost_usd_per_month"] < bare["zombie_cost_usd_per_month"]
    assert kept["heartbeats_sent"] > 0 and bare["heartbeats_sent"] == 0


def test_ttl_shorter_than_a_connection_is_refused():
    with pytest.raises(sim.ScenarioError, match="app.cleanup.ttl.ttl_s"):
        small("zombie-heartbeat", **{"app.cleanup.ttl.ttl_s": 600})


def test_reconnect_policy_delays():
    from simulator.lifecycle import Reconnect
    from simulator.scenario import ReconnectPolicy

    full = Reconnect(ReconnectPolicy(policy="backoff", base_s=1, cap_s=8, jitter="full",
                                     max_attempts=5))
    assert [full.delay(k, 0.5) for k in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, None]
    equal = Reconnect(ReconnectPolicy(policy="backoff", base_s=1, cap_s=8, jitter="equal"))
    assert equal.delay(2, 0.0) == 2.0 and equal.delay(2, 1.0) == 4.0
    assert Reconnect(ReconnectPolicy(policy="immediate")).delay(3, 0.9) == 0.0
    assert Reconnect(ReconnectPolicy(policy="none")).delay(0, 0.1) is None


def test_new_scenarios_print_the_new_metrics():
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    for name, keys in (("zombie-heartbeat", ["stale_post_share", "zombie_lifetime_p50_s",
                                             "heartbeats_sent", "messages_recovered",
                                             "delivery_guarantee"]),
                       ("reconnect-storm", ["storm_duration_s", "storm_rejected_attempts",
                                            "messages_lost"])):
        out = subprocess.run([sys.executable, "-m", "simulator", "run", name, "--json",
                              "--set", "workload.clients=1500"], cwd=ROOT, capture_output=True,
                             text=True, check=True)
        s = json.loads(out.stdout)
        assert all(k in s for k in keys), name
        assert np.isfinite(s["messages_intended"])


def test_ping_billing_and_throttle_assumptions_can_be_switched():
    base = {**QUIET_ONE, "workload.clients": 200, "duration_s": 300.0,
            "workload.heartbeat": {"kind": "ws_ping", "interval_s": 30}}
    free = sim.run(small("chat-basic", **base)).summary
    billed = sim.run(small("chat-basic", **base, **{"aws.api_gateway.ping_billed": True})).summary
    # pings are a Poisson count with mean n_open x duration / interval = 2,000: within 3 SE
    assert free["heartbeats_sent"] == pytest.approx(200 * 300 / 30, abs=3 * math.sqrt(2000))
    assert free["apigw_messages_billed"] == 0
    assert billed["apigw_messages_billed"] == 2 * billed["heartbeats_sent"]   # ping and pong
    assert sim.resolve(small("chat-basic", **base, **{"aws.api_gateway.ping_billed": True}))[
        "behaviour.apigw_ping_billed"] is True


def test_heartbeats_never_slow_a_clients_own_detection():
    from simulator.lifecycle.heartbeat import make_heartbeat
    from simulator.scenario import AppHeartbeat

    params = sim.resolve(small("chat-basic"))
    hb = make_heartbeat(AppHeartbeat(kind="app", interval_s=300, timeout_s=10), params)
    assert hb.client_detection(0.9, 5.0) == 5.0
    assert hb.client_detection(0.0, 60.0) == 10.0


def test_the_limit_check_judges_blocks_of_slots_with_no_effect_on_results(monkeypatch):
    """The idle / duration check (and the rows written at t = 0) go a block of slots at a
    time: blocks of 7 slots give the same run as one block holding every slot."""
    from simulator.architectures import connections

    scn = small("chat-basic", **{"workload.clients": 600, "duration_s": 300.0, "warmup_s": 10.0,
                                 "workload.blips.per_client_per_h": 20,
                                 "aws.api_gateway.max_connection_duration_s": 600,
                                 "aws.api_gateway.idle_timeout_s": 60,
                                 "workload.publish.rate_per_client_per_s": 0.005})
    one = sim.run(scn)
    monkeypatch.setattr(connections, "_SLOT_BLOCK", 7)
    blocks = sim.run(scn)
    c = one.counters
    assert c["connections.closed.idle"] > 100 and c["connections.closed.max_duration"] > 100
    assert dict(blocks.counters) == dict(c)
    drop = ("wall_seconds",)
    assert ({k: v for k, v in blocks.summary.items() if k not in drop}
            == {k: v for k, v in one.summary.items() if k not in drop})
