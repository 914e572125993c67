"""Costs: AWS's own published pricing examples to the cent, properties of the tiered price
function, and a run's cost table = simulator.price(run usage)."""

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator as sim
from simulator.costs import price_book
from tests.conftest import small


def total(df: pd.DataFrame) -> float:
    return round(float(df["cost_usd"].sum()) + 1e-9, 2)


def line(df: pd.DataFrame, item: str) -> float:
    return round(float(df.loc[df["item"] == item, "cost_usd"].sum()) + 1e-9, 2)


# -- AWS's worked examples (us-east-1) ---------------------------------------------------------
def test_api_gateway_websocket_chat_example():
    """https://aws.amazon.com/api-gateway/pricing/ (WebSocket APIs, copy of 2025-11-02):
    1,000 users, 12 h/day, 100 sent + 500 received messages of 3 KB per user per day, 30 days:
    18M messages = $18, 21.6M connection minutes = $5.40, total $23.40."""
    users, days = 1000, 30
    messages = (100 + 500) * users * days
    minutes = users * 12 * 60 * days
    df = sim.price({"apigw.messages": messages, "apigw.connection_minutes": minutes})
    assert line(df, "apigw.messages") == 18.00
    assert line(df, "apigw.connection_minutes") == 5.40
    assert total(df) == 23.40


def test_lambda_example_1_mobile_backend_with_free_tier():
    """https://aws.amazon.com/lambda/pricing/ Example 1: 3M requests, 120 ms, 1536 MB, x86:
    540,000 GB-s - 400,000 free = 140,000 x $0.0000166667 = $2.33; 2M billable requests = $0.40;
    total $2.73."""
    gbs = 3e6 * 0.120 * 1536 / 1024
    df = sim.price({"lambda.requests": 3e6, "lambda.gb_seconds.x86_64": gbs}, free_tier=True)
    assert gbs == pytest.approx(540_000)
    assert line(df, "lambda.gb_seconds.x86_64") == 2.33
    assert line(df, "lambda.requests") == 0.40
    assert total(df) == 2.73


def test_lambda_example_2_telemetry_without_free_tier():
    """Example 2: 7.44M requests of 2 s at 1 GB, no free tier: $1.49 + $248.00 = $249.49."""
    df = sim.price({"lambda.requests": 7.44e6, "lambda.gb_seconds.x86_64": 7.44e6 * 2.0})
    assert line(df, "lambda.gb_seconds.x86_64") == 248.00
    assert line(df, "lambda.requests") == 1.49
    assert total(df) == 249.49


def test_lambda_example_3_ephemeral_storage():
    """Example 3: 6M requests, 280 ms, 4096 MB, 2048 MB ephemeral storage, free tier:
    6,320,000 GB-s = $105.33, 5M requests = $1, 2,520,000 storage GB-s = $0.08; $106.41."""
    secs = 6e6 * 0.280
    df = sim.price({"lambda.requests": 6e6, "lambda.gb_seconds.x86_64": secs * 4,
                    "lambda.ephemeral_storage_gb_seconds": secs * (2048 - 512) / 1024},
                   free_tier=True)
    assert line(df, "lambda.gb_seconds.x86_64") == 105.33
    assert line(df, "lambda.requests") == 1.00
    assert line(df, "lambda.ephemeral_storage_gb_seconds") == 0.08
    assert total(df) == 106.41


def test_lambda_provisioned_concurrency_example_1():
    """Provisioned concurrency example: 1536 MB, PC 100 for 8 h a day: 4.32M GB-s x $0.0000041667
    = $18; 3M requests - 1M free = $0.40; 500,000 x 100 ms with PC: 75,000 GB-s x $0.0000097222
    = $0.73; 2.5M x 120 ms without: 450,000 - 400,000 free = 50,000 GB-s = $0.83; $19.96.
    (The page applies the free tier to requests and on-demand duration, as reproduced here.)"""
    df = sim.price({
        "lambda.requests": 3e6,
        "lambda.gb_seconds.x86_64": 2.5e6 * 0.120 * 1.5,
        "lambda.provisioned_concurrency_gb_seconds": 100 * 1.5 * 8 * 3600,
        "lambda.provisioned_duration_gb_seconds": 500_000 * 0.100 * 1.5,
    }, free_tier=True)
    assert line(df, "lambda.provisioned_concurrency_gb_seconds") == 18.00
    assert line(df, "lambda.requests") == 0.40
    assert line(df, "lambda.provisioned_duration_gb_seconds") == 0.73
    assert line(df, "lambda.gb_seconds.x86_64") == 0.83
    assert total(df) == 19.96


def test_lambda_provisioned_concurrency_example_2():
    """Second provisioned-concurrency example: 4096 MB, PC 7 for 24 h, 2M requests of 280 ms,
    no free tier: $10.08 + $21.78 + $0.40 = $32.26."""
    df = sim.price({
        "lambda.requests": 2e6,
        "lambda.provisioned_concurrency_gb_seconds": 7 * 4 * 24 * 3600,
        "lambda.provisioned_duration_gb_seconds": 2e6 * 0.280 * 4,
    })
    assert line(df, "lambda.provisioned_concurrency_gb_seconds") == 10.08
    assert line(df, "lambda.provisioned_duration_gb_seconds") == 21.78
    assert total(df) == 32.26


def test_lambda_arm_rate_from_the_durable_functions_example():
    """The Arm rate in the pricing page's durable-functions example: 1 GB x 32 s x 1M
    invocations = 32,000,000 - 400,000 free = 31,600,000 GB-s x $0.0000133334 = $421.34;
    2M requests - 1M free = $0.20."""
    df = sim.price({"lambda.gb_seconds.arm64": 32e6, "lambda.requests": 2e6}, free_tier=True)
    assert line(df, "lambda.gb_seconds.arm64") == 421.34
    assert line(df, "lambda.requests") == 0.20


# -- properties ------------------------------------------------------------------------------
ITEMS = price_book().order
usage_st = st.dictionaries(st.sampled_from(ITEMS), st.floats(0, 3e10), min_size=1, max_size=6)


def test_zero_usage_costs_zero():
    assert total(sim.price({k: 0 for k in ITEMS})) == 0.0
    assert total(sim.price({k: 0 for k in ITEMS}, free_tier=True)) == 0.0


@settings(max_examples=60, deadline=None)
@given(usage=usage_st, item=st.sampled_from(ITEMS), extra=st.floats(0, 1e9),
       free=st.booleans(), region=st.sampled_from(price_book().regions))
def test_cost_never_falls_when_usage_rises(usage, item, extra, free, region):
    more = dict(usage)
    more[item] = more.get(item, 0.0) + extra
    a = sim.price(usage, region, free)["cost_usd"].sum()
    b = sim.price(more, region, free)["cost_usd"].sum()
    assert b >= a - 1e-9 * max(1.0, a)


@pytest.mark.parametrize("item", ["apigw.messages", "lambda.gb_seconds.x86_64",
                                  "lambda.gb_seconds.arm64", "data_transfer.internet_gb"])
def test_tier_boundaries_are_continuous(item):
    it = price_book().item("us-east-1", item)
    for bound, _ in it.tiers[:-1]:
        eps = bound * 1e-9
        lo = sim.price({item: bound - eps})["cost_usd"].sum()
        hi = sim.price({item: bound + eps})["cost_usd"].sum()
        top = max(p for _, p in it.tiers)
        assert 0 <= hi - lo <= 2 * eps * top * 1.0001
    # and the second tier's price really applies past the bound
    b0, p0 = it.tiers[0]
    p1 = it.tiers[1][1]
    q = b0 * 1.5
    assert sim.price({item: q})["cost_usd"].sum() == pytest.approx(b0 * p0 + (q - b0) * p1)


def test_free_tier_pools_are_shared_and_bounded():
    df = sim.price({"lambda.gb_seconds.x86_64": 300_000, "lambda.gb_seconds.arm64": 300_000},
                   free_tier=True)
    free = df[df["tier"].str.startswith("free")]
    assert free["quantity"].sum() == pytest.approx(400_000)   # one pool for both architectures
    assert free["cost_usd"].sum() == 0


def test_unknown_item_region_and_bad_quantity_are_named():
    with pytest.raises(sim.ScenarioError, match="apigw.messagez"):
        sim.price({"apigw.messagez": 1})
    with pytest.raises(sim.ScenarioError, match="no price data for this Region"):
        sim.price({"apigw.messages": 1}, region="mars-east-1")
    with pytest.raises(sim.ScenarioError, match="finite number >= 0"):
        sim.price({"apigw.messages": -1})
    with pytest.raises(sim.ScenarioError, match="must be a dict"):
        sim.price([("apigw.messages", 1)])


@pytest.mark.parametrize("region", ["eu-west-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1"])
def test_regions_without_published_prices_say_so(region):
    df = sim.price({"apigw.messages": 2e6, "apigw.connection_minutes": 1e6}, region=region)
    assert (df["basis"].str.contains("estimate: us-east-1 rate")).all()
    assert df["source"].str.contains("Not found").all()
    assert total(df) == pytest.approx(2.25)


def test_published_regional_prices_differ_where_known():
    tokyo = sim.price({"dynamodb.write_request_units": 1e6}, region="ap-northeast-1")
    assert (tokyo["basis"] == "published").all()
    assert total(tokyo) == 0.72   # $0.715 per million


# -- a run's costs ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run():
    return sim.run(small("chat-basic", **{"workload.clients": 1000, "duration_s": 120.0,
                                          "warmup_s": 20.0}))


def test_run_costs_are_price_of_its_usage(run):
    again = sim.price(run.usage, run.scenario.region, run.scenario.billing.free_tier)
    pd.testing.assert_frame_equal(run.costs.reset_index(drop=True), again)
    assert run.summary["cost_usd"] == pytest.approx(run.costs["cost_usd"].sum())
    monthly = sim.price(run.monthly_usage, "us-east-1")
    assert run.summary["cost_usd_per_month"] == pytest.approx(monthly["cost_usd"].sum())


def test_projection_names_its_method_and_follows_the_daily_profile(run):
    assert "measured window of 100 s" in run.summary["cost_projection"]
    peak = sim.run(small("chat-basic", **{"workload.clients": 1000, "duration_s": 120.0,
                                          "warmup_s": 20.0,
                                          "billing.hourly_load": [0.5] * 12 + [0.25] * 12}))
    for item, q in run.monthly_usage.items():
        k = 1.0 if item in ("dynamodb.storage_gb_months",) else 0.375   # storage is billed by time
        assert peak.monthly_usage[item] == pytest.approx(q * k, rel=1e-12), item
    assert peak.summary["cost_usd_per_month"] < 0.38 * run.summary["cost_usd_per_month"]
    assert "24 hourly values" in peak.summary["cost_projection"]


def test_cost_per_user_and_per_delivery(run):
    s = run.summary
    assert 0 < s["cost_usd_per_1k_users_month"] < s["cost_usd_per_month"]
    assert s["cost_usd_per_million_deliveries"] > 1.0   # at least API Gateway's $1 per million


def test_more_clients_never_cost_less():
    costs = [sim.run(small("chat-basic", **{"workload.clients": n, "duration_s": 60.0,
                                            "warmup_s": 10.0})).summary["cost_usd_per_month"]
             for n in (300, 600, 1200)]
    assert costs[0] < costs[1] < costs[2]


def test_hourly_load_must_have_24_values():
    with pytest.raises(sim.ScenarioError, match="billing.hourly_load"):
        small("chat-basic", **{"billing.hourly_load": [1.0] * 23})


def test_costs_are_finite_everywhere(run):
    assert all(math.isfinite(x) for x in run.costs["cost_usd"])


def test_dynamodb_provisioned_capacity_example():
    """https://aws.amazon.com/dynamodb/pricing/provisioned/ (2022-2024 versions, as copied in a
    public repository): 80 RCU and 80 WCU of use at 70% target utilization provision 114 of
    each; per day 114 x $0.00065 x 24 = $1.7784 (writes) + 114 x $0.00013 x 24 = $0.3557
    (reads). Over a 30-day month the capacity costs $64.02 (the page prints $64.04, $0.02
    more than its own daily figures give); the free tier (25 WCU + 25 RCU) saves
    $11.70 + $2.34 = $14.04; 27 GB stored, 25 GB free: $0.50."""
    hours = 30 * 24
    usage = {"dynamodb.wcu_hours": 114 * hours, "dynamodb.rcu_hours": 114 * hours}
    df = sim.price(usage, month_hours=hours)
    assert line(df, "dynamodb.wcu_hours") == 53.35
    assert line(df, "dynamodb.rcu_hours") == 10.67
    assert total(df) == 64.02
    free = sim.price({**usage, "dynamodb.storage_gb_months": 27}, free_tier=True,
                     month_hours=hours)
    saved = total(df) - total(free.loc[free["item"] != "dynamodb.storage_gb_months"])
    assert round(saved, 2) == 14.04
    assert line(free, "dynamodb.storage_gb_months") == 0.50
    assert total(free) == 50.48


def test_dynamodb_on_demand_example_quantities_at_the_current_rate():
    """The on-demand page's example (2022-2024 versions) bills 42,177,000 write request units
    ($52.72 at the then $1.25 per million) and as many read units ($10.54 at $0.25). At the
    rates after the November 2024 cut (the catalog's) the same quantities cost half."""
    df = sim.price({"dynamodb.write_request_units": 42_177_000,
                    "dynamodb.read_request_units": 42_177_000})
    assert line(df, "dynamodb.write_request_units") == 26.36
    assert line(df, "dynamodb.read_request_units") == 5.27


def test_an_incident_is_priced_once_not_as_a_month_of_it():
    """The storm scenario's month is its steady state (the same as without the storm, within
    the sampling of two windows); the storm's own cost is an event, and dropping more clients
    costs more."""
    import simulator as sim
    from tests.conftest import small

    base = {"duration_s": 240.0, "warmup_s": 30.0, "workload.clients": 4000}
    drop = lambda f: [{"kind": "mass_drop", "at_s": 150.0, "fraction": f}]  # noqa: E731
    calm = sim.run(small("reconnect-storm", **base, **{"workload.incidents": []}))
    half = sim.run(small("reconnect-storm", **base, **{"workload.incidents": drop(0.5)}))
    full = sim.run(small("reconnect-storm", **base, **{"workload.incidents": drop(1.0)}))
    assert "incident_cost_usd" not in calm.summary
    for res in (half, full):
        assert res.summary["cost_usd_per_month"] == pytest.approx(
            calm.summary["cost_usd_per_month"], rel=0.05)
        assert "priced once" in res.cost_projection
    assert 0 < half.summary["incident_cost_usd"] < full.summary["incident_cost_usd"]
    # the event's cost is a small fraction of the month: it is not projected as one
    assert full.summary["incident_cost_usd"] < 0.01 * full.summary["cost_usd_per_month"]
