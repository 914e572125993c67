"""The designs compared: each tier's completion time against a hand calculation on an exact
timeline (throttle binding and not), the account throttle as the bound of every design that
posts through @connections, costs priced from usage, and the ESM's concurrency."""

import math

import pandas as pd
import pytest
import simpy

import simulator as sim
from simulator.architectures import registry
from simulator.catalog import load_catalog
from simulator.metrics.recorder import Recorder
from simulator.primitives.events import Call
from simulator.rng import Streams
from simulator.scenario import Params
from tests.conftest import small


def fixed(v):
    return {"kind": "fixed", "value": v}


# every latency fixed: one way 10 ms, route 5 ms, post 20 ms, page 6 ms + 50 ms/MB,
# $default cold 300 ms + 10 ms handler, worker cold 250 ms + 8 ms
ONEWAY, ROUTE, POST, PAGE, S_PER_MB = 0.010, 0.005, 0.020, 0.006, 0.050
INIT, HANDLER, W_INIT, W_HANDLER = 0.300, 0.010, 0.250, 0.008
SNS_PUB, SNS_TO_LAMBDA, SQS_SEND, SQS_TO_LAMBDA = 0.015, 0.070, 0.012, 0.030
APPSYNC, MANAGED = 0.020, 0.037
ITEM, MB, P = 200, float(1 << 20), 50
T_PUB = 1.0

EXACT = {
    "duration_s": 100.0, "warmup_s": 0.0,
    "workload.initially_connected": 1.0,
    "workload.session_s": fixed(1e7),
    "workload.channels.size": fixed(1e7),
    "workload.publish.total_rate_per_s": 0.0,
    "workload.publish.payload_bytes": fixed(300),
    "workload.client_rtt_s": fixed(2 * ONEWAY),
    "workload.disconnect.graceful_fraction": 1.0, "workload.disconnect.abrupt_fraction": 0.0,
    "aws.api_gateway.max_connection_duration_s": 1e9,
    "aws.api_gateway.latency.route_s": fixed(ROUTE),
    "aws.api_gateway.latency.post_to_connection_s": fixed(POST),
    "aws.dynamodb.latency.item_s": fixed(0.004),
    "aws.dynamodb.latency.query_page_s": fixed(PAGE),
    "aws.dynamodb.latency.query_s_per_mb": fixed(S_PER_MB),
    "aws.lambda.functions.default.init_s": fixed(INIT),
    "aws.lambda.functions.default.handler_s": fixed(HANDLER),
    "aws.lambda.functions.worker.init_s": fixed(W_INIT),
    "aws.lambda.functions.worker.handler_s": fixed(W_HANDLER),
    "aws.sns.latency.publish_s": fixed(SNS_PUB),
    "aws.sns.latency.to_lambda_s": fixed(SNS_TO_LAMBDA),
    "aws.sqs.latency.send_batch_s": fixed(SQS_SEND),
    "aws.sqs.latency.to_lambda_s": fixed(SQS_TO_LAMBDA),
    "aws.appsync.latency.broadcast_s": fixed(APPSYNC),
    "aws.managed.latency.delivery_s": fixed(MANAGED),
    "aws.dynamodb.item_bytes": ITEM,
    "app.posts_in_flight": P,
    "app.cleanup.on_410": False,
}
# the throttle binding: 100 tokens, then 500/s; SDK retries short and many, so that posts
# wait for tokens rather than fail
THROTTLED = {
    "aws.api_gateway.account_throttle_rps": 500.0, "aws.api_gateway.account_throttle_burst": 100.0,
    "aws.sdk.max_attempts": 1000, "aws.sdk.throttling_base_delay_s": 0.001,
    "aws.sdk.max_delay_s": 0.002, "aws.sdk.retry_quota_tokens": 1e9,
}


def one_message(design: str, n: int, **extra):
    """``n`` clients in one channel; one client publishes at ``T_PUB``. Returns the
    architecture after the run (its delivery histogram: publish -> receipt, seconds)."""
    scn = small("livestream-compare", architecture=design, **{"workload.clients": n},
                **EXACT, **extra)
    env = simpy.Environment()
    arch = registry.get(design)(env, scn, Params(scn, load_catalog()), Streams(scn.seed),
                                Recorder())
    arch.start()
    if design in ("appsync", "managed"):
        Call(env, T_PUB + ONEWAY, arch.broadcast.arrive, (T_PUB, 300.0))
    else:
        Call(env, T_PUB + ONEWAY + ROUTE, arch._publish_arrive, (T_PUB, 300.0, ROUTE))
    env.run(until=60.0)
    arch.finalize(60.0)
    assert arch.hist.n == pytest.approx(n - 1), "every subscriber but the sender gets it once"
    return arch


def query(rows: int) -> float:
    return PAGE + rows * ITEM / MB * S_PER_MB


def posts(k: int) -> float:
    return math.ceil(k / P) * POST


def test_basic_design_completes_on_the_hand_calculated_timeline():
    n = 1000
    arch = one_message("basic", n)
    t = ONEWAY + ROUTE + INIT + HANDLER + query(n) + posts(n - 1) + ONEWAY
    assert arch.hist.max == pytest.approx(t, abs=1e-6)
    assert arch.hist.min == pytest.approx(t - posts(n - 1) + POST, abs=1e-6)


def test_sns_tier_completes_when_its_largest_shard_does():
    n, k = 1000, 4                               # 999 recipients: shards of 250, 250, 250, 249
    arch = one_message("sns", n, **{"app.sns_tier.shards": k})
    t = (ONEWAY + ROUTE + INIT + HANDLER + SNS_TO_LAMBDA + W_INIT + W_HANDLER + query(250)
         + posts(250) + ONEWAY)
    assert arch.hist.max == pytest.approx(t, abs=1e-6)
    assert arch.c["lambda.worker.invocations"] == k
    assert arch.c["sns.publishes"] == 1


@pytest.mark.parametrize("batch_size", [1, 4])
def test_sqs_tier_completes_on_the_hand_calculated_timeline(batch_size):
    n, size = 1000, 250                          # four messages of 250, 250, 250, 249 IDs
    arch = one_message("sqs", n, **{"app.sqs_tier.shard_size": size,
                                    "app.sqs_tier.batch_size": batch_size})
    listed = ONEWAY + ROUTE + INIT + HANDLER + query(n)
    worker = SQS_TO_LAMBDA + W_INIT + W_HANDLER
    if batch_size == 1:        # four workers at once (the ESM starts with five pollers)
        t = listed + worker + query(size) + posts(size) + ONEWAY
        assert arch.c["lambda.worker.invocations"] == 4
    else:                      # one worker posts its four shards one after the other
        t = listed + worker + sum(query(k) + posts(k) for k in (250, 250, 250, 249)) + ONEWAY
        assert arch.c["lambda.worker.invocations"] == 1
    assert arch.hist.max == pytest.approx(t, abs=1e-6)
    assert arch.c["sqs.messages"] == 4


def test_sqs_maximum_concurrency_runs_shards_in_waves_on_warm_workers():
    n, size = 1000, 250
    arch = one_message("sqs", n, **{"app.sqs_tier.shard_size": size,
                                    "app.sqs_tier.batch_size": 1,
                                    "app.sqs_tier.maximum_concurrency": 2})
    first = (ONEWAY + ROUTE + INIT + HANDLER + query(n) + SQS_TO_LAMBDA + W_INIT + W_HANDLER
             + query(size) + posts(size))
    t = first + W_HANDLER + query(size) + posts(size) + ONEWAY   # the second wave is warm
    assert arch.hist.max == pytest.approx(t, abs=1e-6)
    assert arch.c["lambda.worker.cold_starts"] == 2


@pytest.mark.parametrize("design, latency", [("appsync", ONEWAY + APPSYNC + ONEWAY),
                                             ("managed", MANAGED)])
def test_native_broadcast_reaches_every_subscriber_at_the_service_latency(design, latency):
    arch = one_message(design, 5000)
    assert arch.hist.min == pytest.approx(latency, abs=1e-6)
    assert arch.hist.max == pytest.approx(latency, abs=1e-6)


@pytest.mark.parametrize("design", ["basic", "sns", "sqs"])
def test_with_the_throttle_binding_the_posts_drain_at_its_rate(design):
    """999 posts: 100 from the burst, the rest at 500/s: the last one is delivered
    (999 - 100) / 500 = 1.8 s after the posts begin (within a throttle tick and the short
    SDK backoff)."""
    n = 1000
    extra = dict(THROTTLED)
    if design == "sns":
        extra["app.sns_tier.shards"] = 4
        begin = ONEWAY + ROUTE + INIT + HANDLER + SNS_TO_LAMBDA + W_INIT + W_HANDLER + query(250)
    elif design == "sqs":
        extra.update({"app.sqs_tier.shard_size": 250, "app.sqs_tier.batch_size": 1})
        begin = (ONEWAY + ROUTE + INIT + HANDLER + query(n) + SQS_TO_LAMBDA + W_INIT + W_HANDLER
                 + query(250))
    else:
        begin = ONEWAY + ROUTE + INIT + HANDLER + query(n)
    arch = one_message(design, n, **extra)
    drain = (n - 1 - 100) / 500.0
    t = begin + drain + POST + ONEWAY
    tick = arch.scn.engine.throttle_tick_s
    assert t - tick <= arch.hist.max <= t + 2 * tick + 0.002, (arch.hist.max, t)
    assert arch.c["api_gateway.throttled_posts"] > 0


@pytest.mark.parametrize("design", ["basic", "sns", "sqs"])
def test_the_account_throttle_bounds_every_design_that_posts_through_connections(design):
    """Demand 16,000 posts/s against 10,000 rps of which other APIs use 2,000: whatever the
    tier, posts and inbound messages go through at 8,000/s, within 2% (once the SQS event
    source mapping has scaled up: from 20 s on). Posts are counted when sent, by the fan-out
    engines; inbound messages when API Gateway admits them."""
    scn = small("livestream-compare", architecture=design, duration_s=40.0, warmup_s=0.0,
                **{"workload.clients": 4000, "workload.initially_connected": 1.0,
                   "workload.publish.total_rate_per_s": 4.0,
                   "aws.api_gateway.other_api_rps": 2000.0})
    res = sim.run(scn)
    ts = res.timeseries.loc[20.0:]
    rate = (ts["posts_sent_per_s"] + ts["inbound_messages_per_s"]).mean()
    assert sim.resolve(scn)["api_gateway.account_throttle_rps"] == 10_000
    assert rate == pytest.approx(10_000 - 2_000, rel=0.02)
    assert res.summary["apigw_throttled_requests"] > 0


@pytest.mark.parametrize("design", ["basic", "sns", "sqs", "appsync", "managed"])
def test_costs_are_the_price_of_the_usage(design):
    res = sim.run(small("chat-compare", architecture=design, duration_s=60.0, warmup_s=10.0,
                        **{"workload.clients": 500}))
    s = res.scenario
    expected = sim.price(res.usage, s.region, s.billing.free_tier)
    pd.testing.assert_frame_equal(res.costs.reset_index(drop=True), expected.reset_index(drop=True))
    assert res.costs["cost_usd"].sum() > 0


def test_each_design_bills_its_own_services():
    items = {}
    for design in ("basic", "sns", "sqs", "appsync", "managed"):
        res = sim.run(small("chat-compare", architecture=design, duration_s=60.0, warmup_s=10.0,
                            **{"workload.clients": 500}))
        items[design] = {k for k, v in res.usage.items() if v > 0}
    assert "sns.requests" in items["sns"] and "sns.requests" not in items["basic"]
    assert "sqs.requests" in items["sqs"]
    assert {"appsync.operations", "appsync.connection_minutes"} <= items["appsync"]
    assert not any(k.startswith(("apigw.", "lambda.", "dynamodb.")) for k in items["appsync"])
    assert {"managed.messages", "managed.connection_minutes",
            "managed.channel_minutes"} <= items["managed"]


def test_an_unpriced_billable_item_is_an_error_not_zero_dollars():
    from simulator.metrics.result import _usage_between

    scn = small("chat-basic")
    a = {"t": 0.0, "usage": {"us-east-1": {"sns.requestz": 0.0}}, "aux": {}}
    b = {"t": 10.0, "usage": {"us-east-1": {"sns.requestz": 5.0}}, "aux": {}}
    with pytest.raises(ValueError, match="sns.requestz"):
        _usage_between(a, b, scn, 730 * 3600.0)


def test_sqs_redelivers_failed_batches_and_the_ledger_counts_the_duplicates():
    """With the throttle far below demand, posts fail, batches return after the visibility
    timeout and their posts that had succeeded are made again."""
    res = sim.run(small("livestream-compare", architecture="sqs", duration_s=120.0, warmup_s=0.0,
                        **{"workload.clients": 3000, "workload.initially_connected": 1.0,
                           "aws.api_gateway.account_throttle_rps": 1500.0,
                           "app.sqs_tier.visibility_timeout_s": 30.0}))
    c = res.counters
    assert c["sqs.redeliveries"] > 0
    assert c["deliveries.duplicates"] > 0
    assert res.summary["messages_duplicated"] == c["deliveries.duplicates"]
    assert res.summary["delivery_guarantee"].startswith(("at-least-once", "none"))


def test_sns_workers_beyond_their_concurrency_wait_in_lambdas_async_retry_backoff():
    """Four shards, a worker limited to one concurrent execution: the first runs at once, the
    other three are throttled and retried by Lambda's asynchronous queue after 1 s, 2 s and
    4 s (1 s doubling): shards start at +0, +1, +3 and +7 s, the later ones on the warm
    environment."""
    n, k = 1000, 4
    arch = one_message("sns", n, **{"app.sns_tier.shards": k,
                                    "aws.lambda.functions.worker.reserved_concurrency": 1})
    invoked = ONEWAY + ROUTE + INIT + HANDLER + SNS_TO_LAMBDA
    t = invoked + 7.0 + W_HANDLER + query(249) + posts(249) + ONEWAY   # the fourth shard: 249
    assert arch.hist.max == pytest.approx(t, abs=1e-6)
    assert arch.c["lambda.async_retries"] == 3 + 2 + 1
    assert arch.c["lambda.worker.cold_starts"] == 1
    assert arch.c["lambda.async_events_dropped"] == 0


def test_sqs_event_source_mapping_adds_pollers_while_messages_wait():
    """Five concurrent batches at first, then 300 more per minute while messages wait, up to
    the maximum (1,250); back down at the same rate when the queue is empty."""
    arch = one_message("sqs", 10)
    esm = arch.delivery
    esm._t_level, esm.level, esm._backlog = 100.0, 5.0, True
    assert esm._scale(110.0) == 5 + 50
    assert esm._scale(400.0) == 1250
    esm._backlog = False
    assert esm._scale(460.0) == 1250 - 300
