"""The verdict names what binds, computed from the run: the account throttle when chat traffic
exceeds it, the posts in flight per Lambda for a live channel under it, the new-connection
quota for a reconnect storm; with nothing refused, the tightest headroom."""

import simulator as sim
from simulator.cli import main
from tests.conftest import small

LIVE = {"workload.clients": 5000, "workload.publish.total_rate_per_s": 1.0,
        "duration_s": 60.0, "warmup_s": 15.0}


def test_chat_over_the_throttle_is_bound_by_it():
    res = sim.run(small("chat-basic", duration_s=60.0, warmup_s=15.0,
                        **{"workload.clients": 4000, "workload.channels.size": 40,
                           "aws.api_gateway.account_throttle_rps": 1000.0,
                           "aws.api_gateway.account_throttle_burst": 500.0}))
    v = res.verdict()
    assert v.binding == "api_gateway.account_throttle"
    assert "aws.api_gateway.account_throttle_rps" in v.advice
    row = v.headroom.set_index("key").loc["api_gateway.account_throttle_rps"]
    assert row["peak_share"] > 1.0
    assert res.summary["first_load_breach_quota"] == "api_gateway.account_throttle"


def test_a_live_channel_under_the_throttle_is_bound_by_posts_in_flight():
    v = sim.run(small("livestream-basic", **LIVE)).verdict()
    assert v.binding == "app.posts_in_flight"
    assert v.stages["p99"]["post_slot_wait"] > 0.5
    assert "app.posts_in_flight" in v.advice
    more = sim.run(small("livestream-basic", **LIVE, **{"app.posts_in_flight": 1000})).verdict()
    assert more.binding != "app.posts_in_flight"


def test_a_reconnect_storm_is_bound_by_the_connection_quota():
    res = sim.run(small("reconnect-storm", duration_s=120.0, warmup_s=10.0,
                        **{"workload.clients": 5000,
                           "workload.incidents": [{"kind": "mass_drop", "at_s": 30.0,
                                                   "fraction": 1.0}]}))
    v = res.verdict()
    assert v.binding == "api_gateway.new_connections_per_s"
    assert any(c["quota"] == "incident.mass_drop" for c in v.closed_by_limits)


def test_with_nothing_refused_the_advice_names_the_tightest_limit():
    v = sim.run(small("chat-basic", duration_s=60.0, warmup_s=15.0,
                      **{"workload.clients": 1000})).verdict()
    assert v.first_load_breach is None
    assert v.advice.startswith("nothing refused work; the tightest limit is")
    assert v.headroom["peak_share"].is_monotonic_decreasing
    assert (v.headroom["peak_share"] < 1).all()


def test_run_opens_with_the_verdict(capsys):
    assert main(["run", "livestream-basic", "--duration", "60", "--set", "warmup_s=15",
                 "--set", "workload.clients=5000", "--set",
                 "workload.publish.total_rate_per_s=1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("verdict for livestream-basic")
    assert any(line.strip() == "BINDING: app.posts_in_flight" for line in out[:20])


def test_a_limit_brushed_by_a_few_requests_does_not_bind_over_the_latency_bound():
    """The 5,000-viewer case at full length: the throttle refuses 0.1% of its requests once,
    while 96% of the p99 is waiting for a post slot: the slots bind."""
    import pandas as pd

    from simulator.metrics.verdict import _advice

    class Res:   # what _advice reads of a run
        scenario = small("livestream-basic")
        params = sim.resolve(scenario)

    brush = [{"quota": "api_gateway.account_throttle", "what": "API Gateway account throttle",
              "raise": "aws.api_gateway.account_throttle_rps", "time_s": 139.0,
              "region": "us-east-1", "count": 598.0, "share": 0.001, "peak_share": 1.34}]
    stages = {"p99": {"post_slot_wait": 0.96, "post_call": 0.04}}
    binding, advice = _advice(brush, pd.DataFrame(), stages, Res)
    assert binding == "app.posts_in_flight" and "50 posts in flight" in advice
    heavy = [dict(brush[0], count=1.7e6, share=0.6, peak_share=2.6)]
    assert _advice(heavy, pd.DataFrame(), stages, Res)[0] == "api_gateway.account_throttle"


def test_one_big_channel_is_one_hot_partition():
    """Every read of a live channel goes to one partition key: the hottest partition's use is
    the table's, and it comes far closer to its 3,000 units/s than the table to its capacity."""
    room = sim.run(small("livestream-basic", **LIVE)).verdict().headroom.set_index("key")
    hot, table = room.loc["dynamodb.partition_read"], room.loc["dynamodb.read_capacity"]
    assert hot["peak_use"] == table["peak_use"]
    assert hot["peak_share"] > 3 * table["peak_share"]
    chat = sim.run(small("chat-basic", duration_s=60.0, warmup_s=15.0)).verdict().headroom
    chat = chat.set_index("key")
    assert chat.loc["dynamodb.partition_read", "peak_use"] < chat.loc["dynamodb.read_capacity",
                                                                     "peak_use"] / 10
