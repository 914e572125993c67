"""Service components behave as AWS documents: DynamoDB capacity modes and hot partitions,
API Gateway metering and size limits."""

import math

import numpy as np
import pytest

import simulator as sim
from simulator.aws.dynamodb import OnDemand, Provisioned
from simulator.scenario import OnDemandCapacity, ProvisionedCapacity
from tests.conftest import small

PARAMS = {
    "dynamodb.on_demand_peak_multiplier": 2.0,
    "dynamodb.on_demand_peak_window_s": 1800,
    "dynamodb.on_demand_initial_read_units_per_s": 12000,
    "dynamodb.on_demand_initial_write_units_per_s": 4000,
    "dynamodb.table_max_read_units_per_s": 40000,
    "dynamodb.table_max_write_units_per_s": 40000,
    "dynamodb.burst_capacity_s": 300,
}


def test_on_demand_doubles_a_peak_only_once_it_is_30_minutes_old():
    od = OnDemand(PARAMS, OnDemandCapacity(mode="on_demand"))
    assert od.limits() == (12000, 4000)
    od.tick(10.0, 9000.0, 3000.0)          # a new peak
    od.tick(1800.0, 0.0, 0.0)
    assert od.limits() == (12000, 4000)     # not yet 30 minutes old
    od.tick(1810.0, 0.0, 0.0)
    assert od.limits() == (18000, 6000)     # twice the previous peak
    assert od.read.rate == 18000
    od.tick(1820.0, 30000.0, 30000.0)
    od.tick(3700.0, 0.0, 0.0)
    assert od.limits() == (40000, 40000)    # capped by the table quota


def test_warm_throughput_and_provisioned_burst():
    od = OnDemand(PARAMS, OnDemandCapacity(mode="on_demand", previous_peak_read_units_per_s=15000))
    assert od.limits()[0] == 30000
    pv = Provisioned(PARAMS, ProvisionedCapacity(mode="provisioned", read_units_per_s=100,
                                                 write_units_per_s=50))
    assert pv.read.capacity == 100 * 300 and pv.write.capacity == 50 * 300
    assert pv.read.try_take(0.0, 30000) and not pv.read.try_take(0.0, 1)


def test_a_big_channel_is_a_hot_partition():
    """A subscriber list of 2,000 rows of 20 KB is 40 pages of 1 MB per message: 5,120 read
    units, more than a partition's 3,000 per second."""
    o = {"workload.clients": 2000, "duration_s": 20.0, "warmup_s": 2.0,
         "aws.dynamodb.item_bytes": 20_000,
         "aws.api_gateway.account_throttle_rps": 1e6, "aws.api_gateway.account_throttle_burst": 1e6}
    hot = sim.run(small("livestream-basic", **o))
    assert hot.summary["dynamodb_throttles"] > 0
    assert "dynamodb.partition_read_units" in set(hot.breaches["quota"])
    assert hot.counters["publishes.rejected.dynamodb_throttle"] > 0
    cold = sim.run(small("livestream-basic", **o, **{
        "workload.channels.size": {"kind": "fixed", "value": 20}}))
    assert cold.summary["dynamodb_throttles"] == 0


def test_messages_are_metered_per_32_kb():
    from simulator.aws.api_gateway import ApiGateway

    p = {"api_gateway.new_connections_per_s": 500, "api_gateway.connection_burst": 500,
         "api_gateway.account_throttle_rps": 10000, "api_gateway.account_throttle_burst": 5000,
         "api_gateway.max_concurrent_connections": None, "api_gateway.max_payload_bytes": 131072,
         "api_gateway.max_frame_bytes": 32768, "api_gateway.metering_bytes": 32768,
         "api_gateway.idle_timeout_s": 600, "api_gateway.max_connection_duration_s": 7200}
    agw = ApiGateway(p, "us-east-1")
    assert [agw.units(b) for b in (1, 32768, 32769, 33 * 1024, 131072)] == [1, 1, 2, 2, 4]
    assert agw.payload_verdict(131073, True) == "payload"
    assert agw.payload_verdict(40000, False) == "frame"
    assert agw.payload_verdict(40000, True) is None
    with pytest.raises(ValueError, match="other_api_rps"):
        ApiGateway(p, "us-east-1", background_rps=10000)


def test_oversize_messages_close_the_connection():
    o = {"workload.clients": 300, "duration_s": 60.0, "warmup_s": 5.0,
         "workload.publish.payload_bytes": {"kind": "uniform", "low": 100, "high": 200_000},
         "workload.publish.rate_per_client_per_s": 0.1,
         "workload.reconnect": {"policy": "immediate", "max_attempts": 1}}
    r = sim.run(small("chat-basic", **o))
    c = r.counters
    assert c["publishes.rejected.oversize"] > 0
    assert c["connections.closed.oversize"] == c["publishes.rejected.oversize"]
    assert "api_gateway.max_payload_bytes" in set(r.breaches["quota"])
    # messages up to 128 KB are metered in 32 KB units: an accepted size is U(100, 131,072),
    # so units are 1, 2, 3 or 4 with probabilities (32,768 - 100) / 130,972 and 32,768 / 130,972
    # each: mean 2.5011, sd 1.118; the mean units per message is within 3 standard errors
    assert c["heartbeats.sent"] == 0 and c["resume.requests"] == 0   # nothing else inbound
    inbound = c["apigw.messages.inbound"]
    accepted = c["publishes.attempted"] - c["publishes.rejected.oversize"]
    low, top, m = 100, 131_072, 32_768
    p = np.array([min(k * m, top) - max((k - 1) * m, low) for k in (1, 2, 3, 4)]) / (top - low)
    k = np.arange(1, 5)
    mean, sd = (p * k).sum(), math.sqrt((p * k**2).sum() - (p * k).sum() ** 2)
    assert accepted > 800
    assert abs(inbound / accepted - mean) < 3 * sd / math.sqrt(accepted), (inbound / accepted, mean)


@pytest.mark.parametrize("nbytes,units", [(300, 1), (32_768, 1), (40_000, 2), (100_000, 4)])
def test_each_accepted_message_is_billed_its_32_kb_units(nbytes, units):
    o = {"workload.clients": 200, "duration_s": 30.0, "warmup_s": 5.0,
         "workload.publish.payload_bytes": nbytes, "workload.publish.rate_per_client_per_s": 0.1}
    c = sim.run(small("chat-basic", **o)).counters
    assert c["heartbeats.sent"] == 0 and c["resume.requests"] == 0
    assert c.get("publishes.rejected.oversize", 0) == 0 and c["publishes.attempted"] > 0
    accepted = c["publishes.attempted"] - c["api_gateway.throttled_messages"]
    assert c["apigw.messages.inbound"] == units * accepted


def test_background_api_traffic_shares_the_account_throttle():
    o = {"workload.clients": 3000, "duration_s": 30.0, "warmup_s": 2.0,
         "workload.publish.total_rate_per_s": 1.0}
    alone = sim.run(small("livestream-basic", **o)).summary
    shared = sim.run(small("livestream-basic", **o, **{"aws.api_gateway.other_api_rps": 8000})
                     ).summary
    assert shared["apigw_throttled_requests"] > alone["apigw_throttled_requests"]


def test_reserved_concurrency_caps_a_function():
    o = {"workload.clients": 3000, "duration_s": 20.0, "warmup_s": 2.0,
         "workload.publish.rate_per_client_per_s": 1.0,
         "aws.lambda.functions.default.reserved_concurrency": 10}
    r = sim.run(small("chat-basic", **o))
    assert r.counters["lambda.default.throttles"] > 0
    assert "lambda.reserved_concurrency" in set(r.breaches["quota"])
    assert r.counters["publishes.rejected.lambda_throttle"] == r.counters["lambda.default.throttles"]

