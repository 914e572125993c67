"""Clients that poll over HTTP instead of WebSockets (``features.fallback``): the latency a
poller sees against its theory (path + U(0, T)), the poll count against pollers x time / T,
the deliveries against a hand count, the account throttle's refusals, nothing changed when the
feature is off, and every design running with it on."""

import numpy as np
import pytest
from scipy import stats

import simulator as sim
from simulator.architectures import fallback as fb_mod
from tests.conftest import small

T = 4.0           # poll interval of these tests, s
ROUTE, HANDLER, PAGE, RTT = 0.010, 0.020, 0.005, 0.060   # fixed path latencies, s
FIXED = {"aws.api_gateway.latency.route_s": {"kind": "fixed", "value": ROUTE},
         "aws.lambda.functions.default.handler_s": {"kind": "fixed", "value": HANDLER},
         "aws.dynamodb.latency.query_page_s": {"kind": "fixed", "value": PAGE},
         "workload.client_rtt_s": {"kind": "fixed", "value": RTT}}
#: no churn: sessions outlast the run, so the pollers are those of t = 0
STILL = {"workload.session_s": {"kind": "fixed", "value": 1.0e6}}


def _run(design="basic", share=0.3, clients=400, duration=120.0, **extra):
    """A short chat run with pollers; returns the result and the run's Fallback part, whose
    published messages and poller latencies are captured (``seen``, ``waits``)."""
    parts = []
    init = fb_mod.Fallback.__init__

    def capture(self, arch):
        init(self, arch)
        self.seen, self.waits = [], []
        parts.append(self)

    o = {"architecture": design, "duration_s": duration, "warmup_s": 10.0,
         "workload.clients": clients, "features.fallback": {"share": share, "poll_interval_s": T},
         **extra}
    mp = pytest.MonkeyPatch()
    mp.setattr(fb_mod.Fallback, "__init__", capture)
    published, record = fb_mod.Fallback.published, fb_mod.Fallback._record

    def seen(self, now, ch, t_pub, nbytes, base, rec):
        self.seen.append((ch, self.on_channel(ch).sum()))
        published(self, now, ch, t_pub, nbytes, base, rec)

    def rec_wait(self, path, n, base):
        before = self.hist.n
        lat = []
        add = self.hist.add
        self.hist.add = lambda v, w: (lat.append((v, w)), add(v, w))
        record(self, path, n, base)
        self.hist.add = add
        assert self.hist.n > before
        for v, _w in lat:
            self.waits.append(v - sum(base.values()))

    mp.setattr(fb_mod.Fallback, "published", seen)
    mp.setattr(fb_mod.Fallback, "_record", rec_wait)
    try:
        res = sim.run(small("chat-basic", **o), progress=False)
    finally:
        mp.undo()
    return res, parts[0]


def test_poller_latency_is_the_path_plus_a_uniform_wait():
    """With fixed path latencies, a poller's delivery latency less the design's path to the
    store is the response path (route + handler + one page + one way down) plus U(0, T): the
    KS test accepts U(0, T) and rejects a full interval's wait (a broken model)."""
    _, fb = _run(**FIXED, **STILL)
    resp = ROUTE + HANDLER + PAGE + RTT / 2
    wait = np.concatenate(fb.waits) - resp
    assert wait.size > 300
    assert stats.kstest(wait, stats.uniform(0, T).cdf).pvalue > 0.01
    # the test has power: a model adding a whole interval, or none, is rejected
    assert stats.kstest(wait + T / 2, stats.uniform(0, T).cdf).pvalue < 1e-6
    assert stats.kstest(np.full(wait.size, T), stats.uniform(0, T).cdf).pvalue < 1e-6


def test_poller_latency_rejects_a_full_interval_model(monkeypatch):
    """Break the model on purpose (a poll a full interval after every message): the same
    test fails."""
    monkeypatch.setattr(fb_mod.HttpPolls, "wait", lambda self, rng, k: np.full(k, self.interval))
    _, fb = _run(**FIXED, **STILL)
    wait = np.concatenate(fb.waits) - (ROUTE + HANDLER + PAGE + RTT / 2)
    assert stats.kstest(wait, stats.uniform(0, T).cdf).pvalue < 1e-6


def test_polls_are_pollers_times_time_over_the_interval():
    """P pollers for the whole run poll P x duration / T times (to one poll: a window's
    polls are due from its start, the fraction carried over)."""
    dur = 100.0
    res, fb = _run(duration=dur, **STILL)
    c = res.counters
    P = int(c["fallback.clients"])
    assert P > 50 and fb.total.value == P          # no churn: the pollers of t = 0 stay
    expected = P * dur / T
    assert expected - 1 <= c["fallback.polls"] <= expected + 1
    assert res.summary["fallback_polls"] == c["fallback.polls"]
    # every admitted poll is one billed HTTP API request and one poll Lambda invocation
    assert res.usage["apigw.http_requests"] == c["fallback.http_requests"] == c["fallback.polls"]
    assert c["lambda.poll.invocations"] == c["fallback.polls"]


def test_deliveries_are_the_pollers_of_each_message_channel():
    """Without churn, each message reaches its channel's pollers at that moment: the
    counter equals a hand sum over the messages of the pollers counted on their channel (a
    probe of the counts when each was published), and every message is seen."""
    res, fb = _run(**STILL)
    c = res.counters
    hand = sum(int(n) for _, n in fb.seen)
    assert hand > 100
    assert c["fallback.deliveries"] == hand
    assert len(fb.seen) == c["messages.published"]
    counts = fb.counts.reshape(-1, fb.n_reg).sum(axis=1)
    assert hand == sum(int(counts[ch]) for ch, _ in fb.seen)   # the counts never moved


def test_polls_beyond_the_account_throttle_are_refused_and_logged():
    """A low account throttle refuses polls: counted, and each refusal is a breach of
    ``api_gateway.account_throttle`` by the poll path."""
    res, _ = _run(share=0.5, clients=600, duration=40.0,
                  **{"aws.api_gateway.account_throttle_rps": 20,
                     "aws.api_gateway.account_throttle_burst": 20}, **STILL)
    c = res.counters
    assert c["fallback.polls_throttled"] > 0
    br = res.breaches
    polls = br[(br["quota"] == "api_gateway.account_throttle")
               & (br["component"] == "api_gateway:poll")]["count"].sum()
    refused_by_lambda = c["lambda.poll.throttles"]
    assert polls == c["fallback.polls_throttled"] - refused_by_lambda
    assert c["fallback.http_requests"] == c["fallback.polls"] - polls


@pytest.mark.parametrize("design", ["basic", "managed"])
def test_no_pollers_change_nothing_for_the_users(design):
    """With the fallback part on but a share of 0 (it draws from its own stream for every
    arriving client, and builds its poll path), the users' run is the run without it, key
    for key; with it absent, no fallback counter or summary key exists."""
    base = {"architecture": design, "duration_s": 40.0, "warmup_s": 10.0,
            "workload.clients": 500}
    off = sim.run(small("chat-basic", **base), progress=False)
    zero = sim.run(small("chat-basic", **base, **{"features.fallback": {"share": 0.0}}),
                   progress=False)
    assert zero.summary["fallback_clients"] == 0 and zero.summary["fallback_polls"] == 0
    assert any(k.startswith("fallback") for k in zero.counters)
    assert not [k for k in off.counters if k.startswith("fallback")]
    assert not [k for k in off.summary if k.startswith("fallback")]
    # the history store fallback turns on is billed; everything the users do is the same
    skip = ("wall_seconds", "sim_events", "history_write_units")   # its process: more events
    same = [k for k in off.summary if k not in skip and not k.startswith("cost")]
    assert {k: off.summary[k] for k in same} == {k: zero.summary[k] for k in same}


@pytest.mark.parametrize("design", ["basic", "sns", "sqs", "appsync", "managed", "containers"])
def test_every_design_serves_pollers(design):
    """5% pollers on every design: they poll, receive every message of their channels, and
    the summary reports them; their latencies are among the design's deliveries."""
    res, fb = _run(design, share=0.05, clients=600, duration=40.0)
    s = res.summary
    for k in ("fallback_polls", "fallback_polls_throttled", "fallback_deliveries",
              "fallback_latency_p50_ms", "fallback_latency_p99_ms", "fallback_clients_peak"):
        assert s[k] is not None, k
    assert s["fallback_polls"] > 0 and s["fallback_deliveries"] > 0
    assert res.histogram.n >= fb.hist.n > 0
    if design in ("basic", "sns", "sqs", "appsync"):   # the interval's wait shows
        assert s["fallback_latency_p50_ms"] > 1000.0 * T / 4
        assert res.usage["apigw.http_requests"] > 0
    if design == "managed":
        assert res.usage["managed.connection_minutes"] > 0
    if design == "containers":
        assert res.counters["containers.task_jobs.poll"] > 0


def test_multi_region_pollers_poll_their_region():
    """Over several Regions, each Region's pollers make that Region's HTTP API requests
    (billed there), and the Regions' requests add up to the run's."""
    scn = small("global-chat", duration_s=30.0, warmup_s=5.0, architecture="multi_region",
                **{"workload.clients": 600, "features.fallback": {"share": 0.1}})
    res = sim.run(scn, progress=False)
    by = {r: u.get("apigw.http_requests", 0.0) for r, u in res.usage_by_region.items()}
    assert len(by) > 1 and sum(v > 0 for v in by.values()) > 1
    assert sum(by.values()) == res.counters["fallback.http_requests"] > 0
    assert res.summary["fallback_deliveries"] > 0
