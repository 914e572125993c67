"""Conservation of messages and connections on every bundled scenario and every design
(run small)."""

import pytest

import simulator as sim
from tests.conftest import SCENARIOS

SMALL = {"duration_s": 90.0, "warmup_s": 10.0}


DESIGNS = ("basic", "sns", "sqs", "appsync", "managed", "containers")
CASES = [(p, d) for p in SCENARIOS for d in DESIGNS] + [
    (p, "multi_region") for p in SCENARIOS if sim.load_scenario(p).workload.geography]


def shrink(path, design="basic"):
    scn = sim.load_scenario(path)
    o = dict(SMALL, architecture=design)
    if design in ("appsync", "managed", "containers") and scn.app.resume.kind != "none":
        o["app.resume"] = {"kind": "none"}   # not modelled for these designs (refused)
    w = scn.workload
    o["workload.clients"] = min(w.clients, 1500)
    if w.arrivals.profile == "spike":
        o["workload.arrivals.start_s"] = 20.0
        o["workload.arrivals.duration_s"] = 20.0
        o["workload.arrivals.extra_clients"] = min(w.arrivals.extra_clients, 15_000)
    if w.incidents:
        o["workload.incidents"] = [{**inc.model_dump(), "at_s": 40.0} for inc in w.incidents]
        for inc in o["workload.incidents"]:
            if inc["kind"] == "region_outage":
                inc["duration_s"] = 30.0
    return scn.with_overrides(o)


def run_counting_cycles(scn):
    """``sim.run(scn)``, with ``cyclic_garbage``: the objects that only the cyclic garbage
    collector could free, counted at 80% of the run. The collector is off during a run
    (``engine.run``), so whatever a reference cycle holds stays to the end of the run: one
    made per message grows memory with the simulated time (SQS's shard <-> batch did: 586 MB
    at a million connections after 30 s)."""
    import gc

    import simulator.engine as engine

    found = []

    def count(ev):
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            found.append(len(gc.garbage))
        finally:
            gc.garbage.clear()
            gc.set_debug(0)

    real = engine._sampler

    def sampler(env, arch, rec, step):
        env.timeout(0.8 * scn.duration_s).callbacks.append(count)
        return real(env, arch, rec, step)

    gc.collect()   # nothing left from earlier tests
    engine._sampler = sampler
    try:
        res = sim.run(scn)
    finally:
        engine._sampler = real
    res.cyclic_garbage = found[0]
    return res


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[0].stem}-{c[1]}")
def result(request):
    return run_counting_cycles(shrink(*request.param))


def test_a_run_makes_no_reference_cycles_as_it_goes(result):
    """A few made once at set-up, none per message or connection (the run has hundreds)."""
    s = result.summary
    assert s["messages_published"] + s["connections_attempted"] > 100
    assert result.cyclic_garbage <= 20, result.cyclic_garbage


def test_deliveries_are_conserved(result):
    s = result.summary
    assert s["deliveries_attempted"] > 0
    assert s["deliveries_attempted"] == (s["deliveries_succeeded"] + s["deliveries_failed"]
                                         + s["deliveries_stale"] + s["deliveries_in_flight"])


def test_connections_are_conserved(result):
    s = result.summary
    assert s["connections_attempted"] == (s["connections_established"] + s["connections_rejected"]
                                          + s["connections_in_flight"])


def test_publishes_are_conserved(result):
    s = result.summary
    assert s["publishes_attempted"] == (s["messages_published"] + s["publishes_rejected"]
                                        + s["publishes_in_flight"])
    assert s["publishes_in_flight"] >= 0


def test_connected_population_balances(result):
    """Initial + established - closed = open at the end (API Gateway's view)."""
    c = result.counters
    closed = sum(v for k, v in c.items() if k.startswith("connections.closed.")
                 and k != "connections.closed.abrupt")
    half_open_end = result.timeseries["connections_half_open"].iloc[-1]
    # abrupt closes leave the connection open on API Gateway's side until noticed
    assert c["connections.initial"] + c["connections.established"] - closed == pytest.approx(
        result.summary["connections_open_end"], abs=0)
    assert half_open_end >= 0


def test_billed_messages_cover_inbound_and_outbound(result):
    c = result.counters
    if result.scenario.architecture in ("appsync", "managed"):
        # the service bills every message published and every one written to a subscriber;
        # the managed service also each message retrieved from history, each users' message
        # kept for it, and each delivered to a poller
        billed = c["messages.published"] + c["deliveries.succeeded"] + c["deliveries.stale_lost"]
        if result.scenario.architecture == "managed":
            users = c["messages.published"] - c.get("features.published", 0)
            keep = result.scenario.features.history_on_join is not None
            billed += (c.get("join_history.posts", 0) + c.get("fallback.deliveries", 0)
                       + (users if keep else 0))
            billed -= c.get("service.native_counts", 0)   # occupancy events: outbound only
        assert c["service.messages"] == billed
        assert c["apigw.messages"] == 0
        # only the team's own HTTP API calls Lambda (fallback polls, history on join)
        assert c["lambda.requests"] == c.get("lambda.poll.invocations", 0) + \
            c.get("lambda.history.invocations", 0)
        return
    if result.scenario.architecture == "containers":
        # nothing is billed per message: the bytes written to sockets leave as data transfer,
        # and the backplane carries each message in and a copy out to each subscribed task
        assert c["apigw.messages"] == 0 and c["lambda.requests"] == 0
        size = result.scenario.workload.publish.payload_bytes
        if size.kind == "fixed":
            written = c["deliveries.succeeded"] + c["deliveries.stale_lost"]
            assert c["data_transfer.out_bytes"] == pytest.approx(written * size.value)
        assert c["containers.backplane_messages"] >= c["messages.published"] + \
            c["publishes.in_flight"] - 1e-9
        return
    inbound_ok = c["publishes.attempted"] - c.get("publishes.rejected.oversize", 0) - c.get(
        "publishes.rejected.apigw_throttle", 0)
    assert c["apigw.messages.inbound"] >= inbound_ok
    assert c["apigw.messages.outbound"] >= c["deliveries.succeeded"] + c["deliveries.stale_lost"]


def test_a_dropped_attempt_breaks_connection_conservation(monkeypatch):
    """In-flight attempts are counted from the pending events, not from a running count that
    moves with the totals: an edge that silently loses one attempt in fifty is caught."""
    from simulator.architectures.apigw_edge import ApiGatewayEdge

    real = ApiGatewayEdge.arrive
    seen = [0]

    def leaky(self, ev):
        seen[0] += 1
        if seen[0] % 50 == 0:
            return          # neither established nor refused: lost
        real(self, ev)

    monkeypatch.setattr(ApiGatewayEdge, "arrive", leaky)
    s = sim.run(shrink(SCENARIOS[0])).summary   # chat-basic
    assert seen[0] >= 50
    assert s["connections_attempted"] > (s["connections_established"] + s["connections_rejected"]
                                         + s["connections_in_flight"])


def test_a_dropped_message_breaks_publish_conservation(monkeypatch):
    """Messages in flight are counted from the pending events too: a delivery path that
    silently loses one message in fifty after the publishing function started is caught."""
    from simulator.architectures.delivery import DirectFanout

    real = DirectFanout.begin
    seen = [0]

    def leaky(self, now, t, x):
        seen[0] += 1
        if seen[0] % 50 == 0:
            return          # neither published nor refused: lost
        real(self, now, t, x)

    monkeypatch.setattr(DirectFanout, "begin", leaky)
    s = sim.run(shrink(SCENARIOS[0])).summary   # chat-basic
    assert seen[0] >= 50
    assert s["publishes_attempted"] > (s["messages_published"] + s["publishes_rejected"]
                                       + s["publishes_in_flight"])


def test_a_dropped_message_on_the_backplane_breaks_publish_conservation(monkeypatch):
    """The same for the containers design: a backplane that loses one message in fifty."""
    from simulator.architectures.backplane import Backplane

    real = Backplane._at_backplane
    seen = [0]

    def leaky(self, ev):
        seen[0] += 1
        if seen[0] % 50 == 0:
            return
        real(self, ev)

    monkeypatch.setattr(Backplane, "_at_backplane", leaky)
    s = sim.run(shrink(SCENARIOS[0], "containers")).summary   # chat-basic
    assert seen[0] >= 50
    assert s["publishes_attempted"] > (s["messages_published"] + s["publishes_rejected"]
                                       + s["publishes_in_flight"])
