"""Realtime features that multiply load (presence, typing): exact counts of the events a
channel's membership produces, on every design; the typing rate against its thinned Poisson
stream; the presence set's writes; the users' messages unchanged by the features' own random
streams; and the direction of the features' effect on the users' latency."""

import math

import pytest

import simulator as sim
from tests.conftest import small

DESIGNS = ("basic", "sns", "sqs", "appsync", "managed", "containers")

#: N clients join one channel one at a time (minutes apart), stay, and send nothing
N = 20
FILL = {
    "duration_s": 7100.0, "warmup_s": 0.0, "seed": 3,
    "workload.clients": N,
    "workload.initially_connected": 0.0,
    "workload.arrivals": {"profile": "ramp", "ramp_s": 7000.0},
    "workload.session_s": {"kind": "fixed", "value": 1.0e7},
    "workload.channels.size": {"kind": "fixed", "value": N},
    "workload.publish.rate_per_client_per_s": 0.0,
    "workload.heartbeat": {"kind": "app", "interval_s": 300.0},
    "workload.blips.per_client_per_h": 0.0,
}


def _fill(design: str, presence: dict, result: bool = False):
    scn = small("chat-basic", architecture=design, **FILL,
                **{"features.presence": presence})
    res = sim.run(scn, progress=False)
    return res if result else res.summary


@pytest.mark.parametrize("design", DESIGNS)
def test_filling_a_channel_delivers_n_choose_2_enters(design):
    """A channel filled from 0 to N members one at a time: the k-th member's enter reaches
    the k - 1 already there, N(N-1)/2 in all; every enter is written to the presence set."""
    s = _fill(design, {})
    assert s["connections_established"] == N
    assert s["features_enter_events"] == N
    assert s["features_enter_recipients"] == N * (N - 1) // 2
    assert s["features_leave_events"] == 0
    assert s["features_presence_store_writes"] == N


@pytest.mark.parametrize("design", DESIGNS)
def test_emptying_a_channel_delivers_n_choose_2_leaves(design):
    """Members join one at a time and leave, with close frames, in the order they joined
    (the same session length, longer than the joins take): the k-th to leave is announced to
    the N - k still there, N(N-1)/2 in all, and never to itself or its own row waiting for
    $disconnect (the leaves' other recipients are the stale rows, counted apart)."""
    scn = small("chat-basic", architecture=design, **{
        **FILL, "workload.clients": 0,      # a crowd of N, and no replacements
        "workload.arrivals": {"profile": "spike", "start_s": 0.0, "duration_s": 3000.0,
                              "extra_clients": N},
        "workload.session_s": {"kind": "fixed", "value": 3500.0},
        "workload.disconnect": {"graceful_fraction": 1.0, "abrupt_fraction": 0.0},
        "features.presence": {}})
    s = sim.run(scn, progress=False).summary
    n = s["connections_established"]     # the crowd's size is drawn around N
    assert s["features_leave_events"] == n == s["features_enter_events"]
    # every enter and every leave reaches exactly the members then present...
    assert s["deliveries_succeeded"] == n * (n - 1)
    assert s["features_enter_recipients"] == n * (n - 1) // 2
    # ...and, on API Gateway, the rows whose $disconnect never ran (zombies: stale posts)
    assert s["features_enter_recipients"] + s["features_leave_recipients"] == \
        s["deliveries_succeeded"] + s["deliveries_stale"]


def test_a_room_across_regions_is_counted_as_one():
    """multi_region: a room whose members are in two Regions gets counts when all its
    members together pass the size, announced once per interval (relayed to the other
    Region), like the one-Region design."""
    geo = {"workload.geography": {"locations": {"north_america_east": 0.5, "europe": 0.5},
                                  "global_channels": 1.0},
           "multi_region.regions": ["us-east-1", "eu-central-1"]}
    K = 8
    got = {}
    for design in ("basic", "multi_region"):
        scn = small("chat-basic", architecture=design, **FILL, **geo,
                    **{"features.presence": {"counts_above": K}})
        got[design] = sim.run(scn, progress=False).summary
    for s in got.values():
        assert s["features_enter_events"] == K
        assert s["features_enter_recipients"] == K * (K - 1) // 2
    keys = ("features_count_events", "features_count_recipients")
    assert [got["multi_region"][k] for k in keys] == [got["basic"][k] for k in keys]


@pytest.mark.parametrize("design", ("basic", "managed", "containers"))
def test_counts_above_a_size_replace_member_events(design):
    """With ``counts_above: K`` the first K members are announced one by one (K(K-1)/2
    deliveries); the later joins are announced by count updates, one at the end of each 5 s
    interval that had a join, to every member present then. The join times are read from the
    connections' time series (1 s steps, which the intervals' ends fall on)."""
    K, step = 8, 5.0
    res = _fill(design, {"counts_above": K}, result=True)
    s = res.summary
    opened = res.timeseries["connections_open"]
    joins = opened.index[opened.diff().fillna(opened.iloc[0]) > 0].to_numpy()
    assert joins.size == N
    ends = sorted({math.ceil(t / step) * step for t in joins[K:]})
    assert s["features_enter_events"] == K
    assert s["features_enter_recipients"] == K * (K - 1) // 2
    assert s["features_count_events"] == len(ends)
    assert s["features_count_recipients"] == sum(int((joins <= e).sum()) for e in ends)


def test_presence_writes_are_the_tables_write_units():
    """In the API Gateway designs the presence set is the connection table's channel
    partition: each enter costs a put of an indexed item, the same units as a connection
    row's put, so the table's write units grow by exactly that much."""
    scn = small("chat-basic", **FILL)
    off = sim.run(scn, progress=False).summary
    on = _fill("basic", {})
    item_wu = math.ceil(scn.aws.dynamodb.item_bytes / sim.resolve(scn)["dynamodb.write_unit_bytes"])
    assert on["dynamodb_write_units"] - off["dynamodb_write_units"] == N * 2 * item_wu


@pytest.mark.parametrize("stop", (True, False))
def test_typing_events_per_message_follow_the_heartbeat(stop):
    """A typing spell of 25 s with a 10 s heartbeat sends events at 0, 10 and 20 s, and a
    stop with the message: 4 events per message (3 without the stop), exactly; the spells
    come at the users' message rate (within 4 Poisson standard errors)."""
    rate, n, T = 0.05, 1000, 300.0
    scn = small("chat-basic", architecture="managed", duration_s=T, warmup_s=0.0,
                **{"workload.clients": n, "workload.session_s": {"kind": "fixed", "value": 1e7},
                   "workload.blips.per_client_per_h": 0.0,
                   "workload.publish.rate_per_client_per_s": rate,
                   "features.typing": {"typing_s": {"kind": "fixed", "value": 25.0},
                                       "heartbeat_s": 10.0, "stop_event": stop}})
    s = sim.run(scn, progress=False).summary
    spells = s["features_typing_messages"]
    assert abs(spells - n * rate * T) < 4 * math.sqrt(n * rate * T)
    sent_by_end = s["features_typing_events"]
    per = 4 if stop else 3
    # spells that began in the last 25 s have sent only part of their events
    assert per * (spells - n * rate * 25 * 1.5) < sent_by_end <= per * spells
    assert s["features_enter_events"] == 0     # presence is off


def test_users_messages_are_the_same_draws_with_features_on():
    """The features draw their events from their own streams: with typing and presence on,
    the users' messages (the integrity ledger's intended recipients, the messages published
    beside the events) are those of the run without them, on a design where the extra load
    cannot refuse any and whose latencies do not move who is connected when."""
    base = {"duration_s": 120.0, "warmup_s": 20.0, "architecture": "managed"}
    off = sim.run(small("chat-basic", **base), progress=False)
    on = sim.run(small("chat-basic", **base, **{
        "features.presence": {"updates_per_member_per_h": 6},
        "features.typing": {"typing_s": {"kind": "lognormal", "median": 8, "sigma": 0.6}}}),
        progress=False)
    assert on.summary["features_typing_events"] > 0
    assert on.counters["integrity.intended"] == off.counters["integrity.intended"]
    sent = sum(on.summary[f"features_{k}_events"] for k in ("enter", "leave", "update", "typing"))
    extra = on.counters["messages.published"] - off.counters["messages.published"]
    assert 0 <= sent - extra <= 1e-3 * sent    # the events sent, bar those on their way at the end
    assert any(k.startswith("features.") for k in on.drawn)
    assert not any(k.startswith("features.") for k in off.drawn)


def test_presence_in_a_big_channel_slows_the_users_messages():
    """Direction: 2,000 viewers of one channel joining within a minute on the basic design
    with a 2,000 requests/s account throttle: their enters' posts take the throttle's tokens,
    so the users' messages wait longer and some of their posts are throttled out (and enters
    are refused); with counts above 100 members the effect is gone."""
    base = {"duration_s": 180.0, "warmup_s": 0.0, "workload.clients": 2000,
            "workload.initially_connected": 0.0,
            "workload.arrivals": {"profile": "ramp", "ramp_s": 60.0},
            "workload.session_s": {"kind": "fixed", "value": 1e7},
            "workload.channels.size": {"kind": "fixed", "value": 2000},
            "workload.publish": {"total_rate_per_s": 0.5,
                                 "payload_bytes": {"kind": "fixed", "value": 200}},
            "aws.api_gateway.account_throttle_rps": 2000.0}

    def p99(presence):
        extra = {} if presence is None else {"features.presence": presence}
        return sim.run(small("chat-basic", **base, **extra), progress=False).summary

    off, on, counted = p99(None), p99({}), p99({"counts_above": 100})
    assert on["features_enter_recipients"] > 1e5
    assert on["latency_p99_ms"] > 1.3 * off["latency_p99_ms"]
    assert on["messages_lost"] > 0 == off["messages_lost"]   # the users' posts throttled out
    assert on["publishes_rejected"] > 0                       # enters refused by the throttle
    assert counted["latency_p99_ms"] < 1.1 * off["latency_p99_ms"]
    assert counted["cost_usd_per_month"] < on["cost_usd_per_month"]


@pytest.mark.parametrize("design", ("basic", "sqs", "appsync", "managed", "containers"))
def test_every_join_asks_for_the_history_it_can_have(design):
    """History on join: each of the N joins (none is a reconnect after a gap) sends one
    request, for as many of the last m messages as its channel has had (none here: nobody
    publishes)."""
    scn = small("chat-basic", architecture=design, **FILL,
                **{"features.history_on_join": {"messages": 25}})
    s = sim.run(scn, progress=False).summary
    assert s["features_join_history_requests"] == N
    assert s["features_join_history_messages"] == 0
    assert s["features_join_history_failed"] == 0


def test_a_join_asks_for_at_most_m_of_the_messages_its_room_has_had():
    """One room, messages every 10 s, joins minutes apart: the first join's room has had no
    message, every later one's more than m = 5, so the fetched messages are 5 per join but the
    first (the ``min``)."""
    scn = small("chat-basic", architecture="managed", **{
        **FILL, "workload.publish": {"total_rate_per_s": 0.1,
                                     "payload_bytes": {"kind": "fixed", "value": 200}},
        "features.history_on_join": {"messages": 5}})
    res = sim.run(scn, progress=False)
    opened = res.timeseries["connections_open"]
    first = float(opened.index[opened > 0][0])
    assert first > 0
    s = res.summary
    assert s["features_join_history_requests"] == N
    # the first member joined an empty room (nobody to publish before it)
    assert s["features_join_history_messages"] == 5 * (N - 1)


def test_managed_history_is_billed_per_message_retrieved_and_stored():
    """On the managed service each message retrieved from history is a billed message, and
    each user message kept for it one more (Ably's message counting): the service's messages
    grow by exactly the retrieved plus the users' messages, counted apart."""
    base = {"architecture": "managed", "duration_s": 200.0, "warmup_s": 0.0,
            "workload.clients": 400}
    off = sim.run(small("chat-basic", **base), progress=False)
    on = sim.run(small("chat-basic", **base,
                       **{"features.history_on_join": {"messages": 20}}), progress=False)
    got = on.summary["features_join_history_messages"]
    assert got > 0
    users = on.counters["messages.published"]
    assert users == off.counters["messages.published"]
    assert on.counters["service.messages"] - off.counters["service.messages"] == got + users


def test_history_on_join_costs_reads_and_posts_on_the_api_gateway_designs():
    """Direction, basic design: the requests are billed messages, each message retrieved a
    post, and the history table is read and written; the users' latency is untouched."""
    base = {"duration_s": 200.0, "warmup_s": 20.0, "workload.clients": 2000}
    off = sim.run(small("chat-basic", **base), progress=False).summary
    on = sim.run(small("chat-basic", **base, **{"features.history_on_join": {"messages": 20}}),
                 progress=False).summary
    assert on["features_join_history_messages"] > 0
    assert on["dynamodb_read_units"] + on["history_read_units"] >= off["dynamodb_read_units"]
    assert on["history_write_units"] > 0 == off["history_write_units"]
    assert on["cost_usd_per_month"] > off["cost_usd_per_month"]


def test_appsync_history_goes_through_the_teams_http_api():
    """AppSync Events keeps no messages: the team's HTTP API, a ``history`` Lambda and its
    history table answer the joins' requests, each one billed HTTP API request."""
    scn = small("chat-basic", architecture="appsync", duration_s=200.0, warmup_s=0.0,
                **{"workload.clients": 400, "features.history_on_join": {"messages": 5}})
    res = sim.run(scn, progress=False)
    c = res.counters
    assert c["join_history.requests"] == res.summary["features_join_history_requests"] > 0
    assert c["lambda.history.invocations"] == c["join_history.http_requests"] \
        == c["join_history.requests"]
    assert res.usage["apigw.http_requests"] == c["join_history.http_requests"]
    assert res.summary["history_write_units"] > 0


@pytest.fixture(scope="module")
def impact():
    scn = small("chat-features", duration_s=40.0, warmup_s=10.0,
                **{"workload.clients": 600})
    return sim.feature_impact(scn, ["managed", "basic"], progress=False)


def test_feature_impact_runs_each_feature_alone_and_all(impact):
    """Rows: every design without features, with each of the four alone, with all; 'none'
    adds nothing to itself; on the managed service (which refuses none of this load) the
    typing set adds exactly the deliveries its events asked for, and the history set exactly
    the messages fetched."""
    table, runs = impact
    assert list(table["features"].unique()) == ["none", "presence", "typing", "history_on_join",
                                                 "fallback", "all"]
    assert len(table) == 12
    none = table[table["features"] == "none"]
    assert (none["extra_cost_usd_per_month"] == 0).all() and (none["extra_deliveries"] == 0).all()
    t = table.set_index(["variant", "features"])
    typing = runs["typing"].runs.set_index("variant").loc["managed"]
    assert t.loc[("managed", "typing"), "extra_deliveries"] == typing["features_typing_recipients"]
    history = runs["history_on_join"].runs.set_index("variant").loc["managed"]
    assert t.loc[("managed", "history_on_join"), "extra_deliveries"] == \
        history["features_join_history_messages"]
    assert t.loc[("basic", "fallback"), "extra_p99_ms"] > 1000   # a poll interval of 5 s
    assert (table.loc[table["features"] == "typing", "extra_cost_usd_per_month"] > 0).all()


def test_feature_impact_needs_a_feature():
    scn = small("chat-basic", duration_s=30.0, warmup_s=0.0)
    with pytest.raises(sim.ScenarioError, match="features"):
        sim.feature_impact(scn, ["basic"], progress=False)


def test_feature_impact_plot(impact):
    """Two panels with units, the SLO drawn, and a mark where no message was delivered."""
    from simulator import plots

    table, _ = impact
    fig = plots.feature_impact(table, slo_ms=250.0, title="t")
    left, right = fig.axes
    assert "% of the bill" in left.get_ylabel() and "p99" in right.get_ylabel()
    assert any(line.get_linestyle() == "--" for line in right.get_lines())
    assert [t.get_text() for t in left.get_legend().get_texts()] == ["managed", "basic"]
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_rooms_with_counts_do_not_announce_member_updates():
    """Above ``counts_above`` the room shows counts: its members' status updates are written
    to the presence set but not broadcast (only those sent while it was small are)."""
    upd = {"updates_per_member_per_h": 60.0}
    every = _fill("managed", upd)
    counted = _fill("managed", {**upd, "counts_above": 8})
    assert counted["features_presence_store_writes"] == pytest.approx(
        every["features_presence_store_writes"], rel=0.02)   # written either way
    assert 0 < counted["features_update_events"] < 0.5 * every["features_update_events"]
