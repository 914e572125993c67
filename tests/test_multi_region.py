"""Geography and the multi-Region design: exact legs of a message between user locations,
replicated writes and cross-Region events counted against independent counts, a Region
outage (nobody left in the failed Region, every dropped client accounted for), and the
one-Region multi_region run equal to the single-Region design."""

import numpy as np
import pytest
import simpy

import simulator as sim
from simulator.architectures import registry
from simulator.architectures.base import _Sender
from simulator.catalog import load_catalog
from simulator.metrics.histogram import LogHistogram
from simulator.metrics.recorder import Recorder
from simulator.primitives.events import Call
from simulator.rng import Streams
from simulator.scenario import Params
from tests.conftest import small


def fixed(v):
    return {"kind": "fixed", "value": v}


EU_RTT, EA_RTT = 0.020, 0.060      # last-mile round trips of the two locations
ZERO = fixed(0.0)
# every processing step takes no time: only the network legs remain
INSTANT = {
    "duration_s": 100.0, "warmup_s": 0.0,
    "workload.clients": 40,
    "workload.initially_connected": 1.0,
    "workload.session_s": fixed(1e7),
    "workload.publish.total_rate_per_s": 0.0,
    "workload.publish.payload_bytes": fixed(300),
    "workload.disconnect.graceful_fraction": 1.0, "workload.disconnect.abrupt_fraction": 0.0,
    "workload.incidents": [],
    "workload.geography": {"locations": {"europe": 0.5, "east_asia": 0.5},
                           "global_channels": 1.0,
                           "rtt_s": {"europe": fixed(EU_RTT), "east_asia": fixed(EA_RTT)}},
    "aws.api_gateway.max_connection_duration_s": 1e9,
    "aws.api_gateway.latency.route_s": ZERO,
    "aws.api_gateway.latency.post_to_connection_s": ZERO,
    "aws.dynamodb.latency.item_s": ZERO,
    "aws.dynamodb.latency.query_page_s": ZERO,
    "aws.dynamodb.latency.query_s_per_mb": ZERO,
    "aws.dynamodb.latency.replication_s": ZERO,
    "aws.dynamodb.latency.streams_to_lambda_s": ZERO,
    "aws.eventbridge.latency.delivery_s": ZERO,
    "aws.lambda.functions.default.init_s": ZERO,
    "aws.lambda.functions.default.handler_s": ZERO,
}


def rtt(a, b):
    m = load_catalog().inter_region_rtt_ms
    return (m[a].get(b) or m[b][a]) / 1000.0


def delivered_latencies(design, monkeypatch, **extra):
    """One message from a random client of a worldwide channel (Europe and East Asia users);
    every delivery latency recorded."""
    seen = []
    real_add = LogHistogram.add

    def add(self, v, w=None):
        seen.append(np.array(v, dtype=float, copy=True))
        return real_add(self, v, w)

    monkeypatch.setattr(LogHistogram, "add", add)
    scn = small("global-live-event", architecture=design, **INSTANT, **extra)
    env = simpy.Environment()
    arch = registry.get(design)(env, scn, Params(scn, load_catalog()), Streams(scn.seed),
                                Recorder())
    arch.start()
    Call(env, 1.0, _Sender(arch, arch._publish_arrive), (1.0, 0.0, 300.0))
    env.run(until=30.0)
    arch.finalize(30.0)
    assert arch.hist.n == pytest.approx(39), "every member but the sender gets it once"
    return np.unique(np.round(np.concatenate(seen), 9))


def test_multi_region_message_takes_exactly_the_sum_of_its_legs(monkeypatch):
    """Users in Europe connect to eu-central-1, in East Asia to ap-northeast-1; a message
    crosses between them in one inter-Region one-way hop."""
    got = delivered_latencies("multi_region", monkeypatch,
                              **{"multi_region.regions": ["eu-central-1", "ap-northeast-1"]})
    hop = rtt("eu-central-1", "ap-northeast-1") / 2
    legal = {round(EU_RTT, 9), round(EA_RTT, 9),                     # within a location
             round(EU_RTT / 2 + hop + EA_RTT / 2, 9)}                # across (either way)
    assert set(got.tolist()) <= legal
    assert round(EU_RTT / 2 + hop + EA_RTT / 2, 9) in set(got.tolist())


def test_one_region_puts_the_round_trip_to_it_on_both_legs(monkeypatch):
    """Served from us-east-1, a Europe -> East Asia message goes up to Virginia from Frankfurt's
    anchor and down to Tokyo's."""
    got = delivered_latencies("basic", monkeypatch, region="us-east-1")
    up_eu = EU_RTT / 2 + rtt("eu-central-1", "us-east-1") / 2
    up_ea = EA_RTT / 2 + rtt("ap-northeast-1", "us-east-1") / 2
    legal = {round(2 * up_eu, 9), round(2 * up_ea, 9), round(up_eu + up_ea, 9)}
    assert set(got.tolist()) <= legal
    assert round(up_eu + up_ea, 9) in set(got.tolist())


WORLD3 = {"multi_region.regions": ["us-east-1", "eu-central-1", "ap-northeast-1"],
          "duration_s": 120.0, "warmup_s": 20.0, "workload.clients": 900,
          "workload.incidents": []}
THREE_LOCATIONS = {"north_america_east": 0.4, "europe": 0.3, "east_asia": 0.3}


def test_every_table_write_is_replicated_to_each_other_region():
    res = sim.run(small("global-live-event", architecture="multi_region", **WORLD3))
    u = res.usage_by_region
    writes = sum(r["dynamodb.write_request_units"] for r in u.values())
    replicated = sum(r["dynamodb.replicated_write_request_units"] for r in u.values())
    assert writes > 0
    assert replicated == pytest.approx(writes * (3 - 1), rel=1e-12)


def test_a_channel_everywhere_costs_one_event_per_other_region_per_message():
    """One channel with members in all three Regions at every moment: each message is sent
    to exactly the two other Regions."""
    res = sim.run(small("global-live-event", architecture="multi_region", **WORLD3,
                        **{"workload.geography.locations": THREE_LOCATIONS}))
    events = sum(r.get("eventbridge.events", 0.0) for r in res.usage_by_region.values())
    assert res.summary["messages_published"] > 50
    assert events == res.summary["messages_published"] * 2


def test_local_channels_send_nothing_across_regions():
    res = sim.run(small("global-chat", architecture="multi_region",
                        **{k: v for k, v in WORLD3.items() if k != "workload.clients"},
                        **{"workload.clients": 3000,
                           "workload.geography.locations": THREE_LOCATIONS,
                           "workload.geography.global_channels": 0.0}))
    events = sum(r.get("eventbridge.events", 0.0) for r in res.usage_by_region.values())
    assert res.summary["messages_published"] > 100
    assert events == 0
    assert res.counters["cross_region.sent"] == 0


def test_replication_strategy_writes_each_message_and_reaches_every_other_region():
    res = sim.run(small("global-live-event", architecture="multi_region", **WORLD3,
                        **{"multi_region.cross_region": "replication",
                           "workload.geography.locations": THREE_LOCATIONS}))
    c = res.counters
    assert c["cross_region.sent"] == res.summary["messages_published"] * 2
    assert "eventbridge.events" not in res.usage_by_region["us-east-1"]


OUTAGE = {"duration_s": 600.0, "warmup_s": 0.0, "workload.clients": 1200,
          "workload.publish.total_rate_per_s": 0.2,
          "workload.reconnect": {"policy": "backoff", "base_s": 1, "cap_s": 30,
                                 "max_attempts": 30},
          "workload.incidents": [{"kind": "region_outage", "region": "us-east-1",
                                  "at_s": 100.0, "duration_s": 200.0}]}


@pytest.fixture(scope="module")
def outage():
    return sim.run(small("global-live-event", architecture="multi_region", **OUTAGE))


def test_nobody_stays_connected_to_a_failed_region(outage):
    ts = outage.timeseries
    during = ts.loc[101.0:300.0, "connections_open.us-east-1"]
    assert (during == 0).all()
    assert ts.loc[99.0, "connections_open.us-east-1"] > 200
    # DNS moves them: refused while it still answers the failed Region, then elsewhere
    assert outage.summary["connections_rejected_region_down"] > 0
    others = ts.loc[290.0, ["connections_open.eu-central-1",
                            "connections_open.ap-southeast-1"]].sum()
    assert others > ts.loc[99.0, ["connections_open.eu-central-1",
                                  "connections_open.ap-southeast-1"]].sum()


def test_every_dropped_client_is_back_or_gave_up(outage):
    s = outage.summary
    assert s["storm_dropped"] > 200
    assert s["storm_reconnected"] + s["storm_gave_up"] == s["storm_dropped"]
    # failback: the Region's clients go home once DNS answers it again
    assert s["failback_dropped"] > 0
    assert s["failback_reconnected"] + s["failback_gave_up"] == s["failback_dropped"]
    assert outage.timeseries["connections_open.us-east-1"].iloc[-1] > 200


def test_an_outage_conserves_connections_and_deliveries(outage):
    s = outage.summary
    assert s["connections_attempted"] == (s["connections_established"]
                                          + s["connections_rejected"]
                                          + s["connections_in_flight"])
    assert s["deliveries_attempted"] == (s["deliveries_succeeded"] + s["deliveries_failed"]
                                         + s["deliveries_stale"] + s["deliveries_in_flight"])
    assert s["messages_intended"] == (s["messages_delivered"] + s["messages_lost"]
                                      + s["messages_pending"] + s["messages_recovered"]
                                      - s["messages_duplicated"])


def test_one_region_multi_region_is_the_single_region_design():
    base = {"duration_s": 120.0, "warmup_s": 30.0, "workload.clients": 3000}
    a = sim.run(small("global-chat", **base)).summary
    b = sim.run(small("global-chat", architecture="multi_region",
                      **{"multi_region.regions": ["us-east-1"]}, **base)).summary
    diff = {k: (a[k], b.get(k)) for k in a
            if k not in ("architecture", "wall_seconds") and a[k] != b.get(k)}
    assert not diff
    assert a["messages_published"] > 100


def test_nearby_regions_cut_the_latency_of_far_users():
    base = {"duration_s": 150.0, "warmup_s": 30.0, "workload.clients": 4000}
    one = sim.run(small("global-chat", **base)).summary
    three = sim.run(small("global-chat", architecture="multi_region", **base)).summary
    for loc in ("europe", "southeast_asia"):
        assert three[f"latency_p50_ms.{loc}"] < one[f"latency_p50_ms.{loc}"]
    # the Regions' quotas add up: three API Gateways, three throttles, three Lambda pools
    assert set(k.split(".", 1)[1] for k in three if k.startswith("cost_usd_per_month.")) == {
        "us-east-1", "eu-central-1", "ap-southeast-1"}


@pytest.mark.parametrize("path", ["sns", "sqs"])
def test_each_region_can_run_a_fan_out_tier(path):
    """The fan-out tier designs per Region: messages reach the other Regions' members, and
    deliveries and publishes are conserved across Regions."""
    res = sim.run(small("global-live-event", architecture="multi_region", **WORLD3,
                        **{"multi_region.path": path,
                           "workload.geography.locations": THREE_LOCATIONS}))
    s, c = res.summary, res.counters
    assert c["cross_region.sent"] == s["messages_published"] * 2
    assert c[f"{path}.requests"] > 0
    assert s["deliveries_attempted"] == (s["deliveries_succeeded"] + s["deliveries_failed"]
                                         + s["deliveries_stale"] + s["deliveries_in_flight"])
    assert s["publishes_attempted"] == (s["messages_published"] + s["publishes_rejected"]
                                        + s["publishes_in_flight"])
    for loc in THREE_LOCATIONS:
        assert s[f"deliveries_recorded.{loc}"] > 0


def test_eventbridge_quota_refuses_events_and_their_members_lose_the_message():
    """PutEvents at 1 per second per Region: most cross-Region parts are refused (not billed),
    breaches are logged in the receiving Regions, and their members' pairs are lost."""
    res = sim.run(small("global-live-event", architecture="multi_region", **WORLD3,
                        **{"workload.geography.locations": THREE_LOCATIONS,
                           "workload.publish.total_rate_per_s": 5.0,
                           "aws.eventbridge.put_events_per_s": 1.0}))
    c, s = res.counters, res.summary
    billed = sum(r.get("eventbridge.events", 0.0) for r in res.usage_by_region.values())
    assert c["eventbridge.throttled"] > 0
    assert billed + c["eventbridge.throttled"] == s["messages_published"] * 2
    assert set(res.breaches.loc[res.breaches["quota"] == "eventbridge.put_events_per_s",
                                "region"]) == {"us-east-1", "eu-central-1", "ap-northeast-1"}
    assert s["messages_lost"] > 0
    assert s["messages_intended"] == (s["messages_delivered"] + s["messages_lost"]
                                      + s["messages_pending"] + s["messages_recovered"]
                                      - s["messages_duplicated"])
