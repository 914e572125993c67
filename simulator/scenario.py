"""Scenarios: typed, frozen inputs of one run, loaded from YAML and validated before any event.

A scenario says *what the architect plans* (clients, channels, publish rate, function
configuration, capacity mode) and may override any AWS fact of the catalog (a raised quota,
a measured latency). Everything it leaves out comes from ``data/`` with its source; the
resolved values travel with every result (:class:`Params`).

Rules:

* unknown keys are rejected (a typo fails loudly);
* units are in field names (``duration_s``, ``payload_bytes``, ``rate_per_s``);
* rules between fields are checked (fractions that sum to 1, warm-up shorter than the run,
  reserved concurrency that leaves the unreserved minimum, a Region with data);
* any field is addressable by a dotted path for overrides: ``workload.clients``,
  ``aws.lambda.account_concurrency``, ``aws.api_gateway.account_throttle_rps``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_serializer,
    model_validator,
)

from simulator.catalog import Catalog, load_catalog
from simulator.errors import FieldRule, ScenarioError, ScenarioErrors

PosFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
PosInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# -- distributions --------------------------------------------------------------------------------
class DistModel(Model):
    """A distribution field. ``source`` optionally says where its numbers come from (a
    calibration overlay names the file and the number of samples); it travels into the
    resolved parameters' provenance (:meth:`Params.frame`) and does not change the draws."""

    source: str | None = None

    @model_serializer(mode="wrap")
    def _drop_empty_source(self, handler):
        # a distribution without a source dumps as before (no 'source: null' everywhere)
        d = handler(self)
        if isinstance(d, dict):
            src = d.pop("source", None)
            if src is not None:
                d["source"] = src   # last: the numbers read first
        return d


class FixedDist(DistModel):
    kind: Literal["fixed"]
    value: NonNegFloat


class ExponentialDist(DistModel):
    kind: Literal["exponential"]
    mean: PosFloat


class LogNormalDist(DistModel):
    """Log-normal by its median and either ``sigma`` (of ln X) or its 99th percentile."""

    kind: Literal["lognormal"]
    median: PosFloat
    sigma: PosFloat | None = None
    p99: PosFloat | None = None

    @model_validator(mode="after")
    def _one_spread(self):
        if (self.sigma is None) == (self.p99 is None):
            raise FieldRule("sigma", self.sigma, "give exactly one of 'sigma' and 'p99'")
        if self.p99 is not None and self.p99 <= self.median:
            raise FieldRule("p99", self.p99, f"must be greater than the median ({self.median})")
        return self


class UniformDist(DistModel):
    kind: Literal["uniform"]
    low: NonNegFloat
    high: NonNegFloat

    @model_validator(mode="after")
    def _ordered(self):
        if self.high < self.low:
            raise FieldRule("high", self.high, f"must be >= low ({self.low})")
        return self


class ParetoDist(DistModel):
    kind: Literal["pareto"]
    shape: PosFloat
    scale: PosFloat


#: the forms a distribution field accepts (quoted in errors)
DIST_FORMS = ("a number (a fixed value), or {kind: fixed, value}, {kind: exponential, mean}, "
              "{kind: lognormal, median, sigma | p99}, {kind: uniform, low, high}, "
              "{kind: pareto, shape, scale}, each with an optional 'source'")


def _bare_number(v):
    """A bare number for a distribution means that fixed value; anything but a mapping is
    refused with the accepted forms."""
    if isinstance(v, bool):
        raise ValueError(f"must be {DIST_FORMS}")
    if isinstance(v, (int, float)):
        return {"kind": "fixed", "value": v}
    if isinstance(v, BaseModel):
        return v
    if not isinstance(v, dict):
        raise ValueError(f"must be {DIST_FORMS}")
    if "kind" not in v:
        raise ValueError(f"needs a 'kind': {DIST_FORMS}")
    return v


Dist = Annotated[
    Annotated[FixedDist | ExponentialDist | LogNormalDist | UniformDist | ParetoDist,
              Field(discriminator="kind")],
    BeforeValidator(_bare_number),
]


def build_dist(d: Dist):
    from simulator.primitives.distributions import make_distribution

    return make_distribution(d.model_dump())


# -- workload ---------------------------------------------------------------------------------------
class SteadyArrivals(Model):
    """New connections replace ending sessions: rate = clients / mean session length."""

    profile: Literal["steady"]


class RampArrivals(Model):
    """Clients connect over ``ramp_s`` (on top of replacements): a launch or a morning peak."""

    profile: Literal["ramp"]
    ramp_s: PosFloat
    start_s: NonNegFloat = 0.0


class SpikeArrivals(Model):
    """A flash crowd: ``extra_clients`` connect within ``duration_s`` from ``start_s``."""

    profile: Literal["spike"]
    start_s: NonNegFloat
    duration_s: PosFloat
    extra_clients: NonNegInt


Arrivals = Annotated[SteadyArrivals | RampArrivals | SpikeArrivals, Field(discriminator="profile")]


class Disconnects(Model):
    """How sessions end: a close frame ($disconnect runs) or the client vanishing (zombie)."""

    graceful_fraction: Fraction
    abrupt_fraction: Fraction

    @model_validator(mode="after")
    def _sum_to_one(self):
        s = self.graceful_fraction + self.abrupt_fraction
        if abs(s - 1.0) > 1e-9:
            raise FieldRule("abrupt_fraction", self.abrupt_fraction,
                            f"graceful_fraction + abrupt_fraction must sum to 1 (they sum to {s:g})")
        return self


class Channels(Model):
    """Channel sizes (target members); each connection joins one channel, chosen in
    proportion to these sizes."""

    size: Dist


class Publish(Model):
    """Messages clients send. Give exactly one of the two rates."""

    rate_per_client_per_s: NonNegFloat | None = None
    total_rate_per_s: NonNegFloat | None = None
    payload_bytes: Dist
    echo_to_sender: bool = False

    @model_validator(mode="after")
    def _one_rate(self):
        if (self.rate_per_client_per_s is None) == (self.total_rate_per_s is None):
            raise FieldRule("total_rate_per_s", self.total_rate_per_s,
                            "give exactly one of 'rate_per_client_per_s' and 'total_rate_per_s'")
        return self


class ReconnectPolicy(Model):
    """What a client does after its connection drops or an attempt is refused.

    ``none``: never reconnect; ``immediate``: retry at once; ``backoff``: exponential backoff
    ``min(cap_s, base_s * 2**k)`` with jitter. ``max_attempts`` caps the attempts after one
    drop (null: no cap)."""

    policy: Literal["none", "immediate", "backoff"] = "backoff"
    base_s: PosFloat = 1.0
    cap_s: PosFloat = 30.0  # not a catalog value (the client's policy)
    jitter: Literal["full", "equal", "none"] = "full"
    max_attempts: PosInt | None = 10

    @model_validator(mode="after")
    def _cap(self):
        if self.cap_s < self.base_s:
            raise FieldRule("cap_s", self.cap_s, f"must be >= base_s ({self.base_s})")
        return self


class NoHeartbeat(Model):
    kind: Literal["none"]


class PingHeartbeat(Model):
    """The client sends WebSocket ping frames every ``interval_s``; API Gateway answers pong.
    The client notices a dead connection after ``interval_s + timeout_s``."""

    kind: Literal["ws_ping"]
    interval_s: PosFloat
    timeout_s: PosFloat = 10.0


class AppHeartbeat(Model):
    """The client sends an application keep-alive message every ``interval_s`` to a route
    (a Lambda that records ``lastSeen`` on the row, or a mock integration). The server deletes
    the row and closes the connection after ``interval_s + timeout_s`` without one; the client
    notices a dead connection after the same time."""

    kind: Literal["app"]
    interval_s: PosFloat
    timeout_s: PosFloat = 10.0
    route: Literal["lambda", "mock"] = "lambda"


Heartbeat = Annotated[NoHeartbeat | PingHeartbeat | AppHeartbeat, Field(discriminator="kind")]


class Blips(Model):
    """Network blips: a connected client's network drops (its connection is left half-open)
    and the client reconnects once it notices."""

    per_client_per_h: NonNegFloat = 0.0
    client_detection_s: Dist = FixedDist(kind="fixed", value=5.0)  # not a catalog value


class MassDrop(Model):
    """An incident: API Gateway drops ``fraction`` of the open connections at ``at_s``
    (a deployment, a network event); their clients reconnect by policy."""

    kind: Literal["mass_drop"]
    at_s: NonNegFloat
    fraction: Annotated[float, Field(gt=0, le=1)]


class RegionOutage(Model):
    """An incident: a whole Region fails at ``at_s`` for ``duration_s``. Its connections drop
    and its clients reconnect by policy, to the next Region once DNS has failed over (multi-Region
    designs) or to the same Region when it is back (one-Region designs)."""

    kind: Literal["region_outage"]
    region: str
    at_s: NonNegFloat
    duration_s: PosFloat


Incident = Annotated[MassDrop | RegionOutage, Field(discriminator="kind")]


class Geography(Model):
    """Where the users are: a share of the clients per location (names from
    ``data/latency/geography.yaml``), and how channels mix them."""

    locations: dict[str, Fraction]
    global_channels: Fraction = 1.0
    rtt_s: dict[str, Dist] = {}

    @model_validator(mode="after")
    def _shares(self):
        if not self.locations:
            raise FieldRule("locations", {}, "name at least one location")
        total = sum(self.locations.values())
        if abs(total - 1.0) > 1e-6:
            raise FieldRule("locations", dict(self.locations),
                            f"shares must sum to 1 (they sum to {total:g})")
        for name in self.rtt_s:
            if name not in self.locations:
                raise FieldRule(f"rtt_s.{name}", name, "is not one of the locations")
        return self


class Workload(Model):
    clients: NonNegInt
    initially_connected: Fraction = 1.0
    session_s: Dist
    arrivals: Arrivals = SteadyArrivals(profile="steady")
    disconnect: Disconnects
    channels: Channels
    publish: Publish
    client_rtt_s: Dist | None = None
    client_fragments_frames: bool = True
    reconnect: ReconnectPolicy = ReconnectPolicy()
    heartbeat: Heartbeat = NoHeartbeat(kind="none")
    blips: Blips = Blips()
    incidents: list[Incident] = []
    geography: Geography | None = None


# -- AWS configuration ------------------------------------------------------------------------------
class FunctionConfig(Model):
    memory_mb: PosInt
    architecture: Literal["x86_64", "arm64"] = "x86_64"
    timeout_s: PosFloat | None = None
    reserved_concurrency: NonNegInt | None = None
    handler_s: Dist | None = None
    init_s: Dist | None = None


class Functions(Model):
    authorizer: FunctionConfig | None = FunctionConfig(memory_mb=256)
    connect: FunctionConfig = FunctionConfig(memory_mb=256)
    disconnect: FunctionConfig = FunctionConfig(memory_mb=256)
    default: FunctionConfig = FunctionConfig(memory_mb=512, timeout_s=30)  # not a catalog value
    # defaults of the architect's configuration (not catalog values)
    heartbeat: FunctionConfig = FunctionConfig(memory_mb=128, timeout_s=5)  # not a catalog value
    sweep: FunctionConfig = FunctionConfig(memory_mb=512, timeout_s=300)  # not a catalog value
    # the fan-out tiers' workers (architectures sns and sqs)
    worker: FunctionConfig = FunctionConfig(memory_mb=512, timeout_s=30)  # not a catalog value


class LambdaConfig(Model):
    account_concurrency: PosInt | None = None
    scaling_envs_per_s: PosFloat | None = None
    scaling_burst_envs: PosFloat | None = None
    invocation_rps_per_concurrency: PosFloat | None = None
    idle_env_lifetime_s: Dist | None = None
    env_reuse: Literal["most_recent", "least_recent"] | None = None
    functions: Functions = Functions()


class ApiGatewayLatency(Model):
    route_s: Dist | None = None
    post_to_connection_s: Dist | None = None


class ApiGatewayConfig(Model):
    new_connections_per_s: PosFloat | None = None
    connection_burst: Annotated[float, Field(ge=1)] | None = None
    max_concurrent_connections: PosInt | None = None
    account_throttle_rps: PosFloat | None = None
    account_throttle_burst: Annotated[float, Field(ge=1)] | None = None
    max_connection_duration_s: PosFloat | None = None
    idle_timeout_s: PosFloat | None = None
    max_payload_bytes: PosInt | None = None
    max_frame_bytes: PosInt | None = None
    metering_bytes: PosInt | None = None
    disconnect_miss_fraction: Fraction | None = None
    server_messages_reset_idle: bool | None = None
    half_open_detection_s: PosFloat | None = None
    ping_resets_idle: bool | None = None
    ping_billed: bool | None = None
    ping_uses_throttle: bool | None = None
    other_api_rps: NonNegFloat = 0.0
    latency: ApiGatewayLatency = ApiGatewayLatency()


class OnDemandCapacity(Model):
    """On-demand: capacity follows twice the previous peak (30-minute rule)."""

    mode: Literal["on_demand"]
    previous_peak_read_units_per_s: NonNegFloat = 0.0
    previous_peak_write_units_per_s: NonNegFloat = 0.0


class ProvisionedCapacity(Model):
    """Provisioned read and write units (no auto scaling), with 300 s burst capacity."""

    mode: Literal["provisioned"]
    read_units_per_s: PosFloat
    write_units_per_s: PosFloat


Capacity = Annotated[OnDemandCapacity | ProvisionedCapacity, Field(discriminator="mode")]


class DynamoLatency(Model):
    item_s: Dist | None = None
    query_page_s: Dist | None = None
    query_s_per_mb: Dist | None = None
    replication_s: Dist | None = None
    streams_to_lambda_s: Dist | None = None


class EventBridgeLatency(Model):
    delivery_s: Dist | None = None


class EventBridgeConfig(Model):
    """EventBridge between Regions (the ``multi_region`` design's ``eventbridge`` strategy)."""

    put_events_per_s: PosFloat | None = None
    latency: EventBridgeLatency = EventBridgeLatency()


class Route53Config(Model):
    """DNS failover of the ``multi_region`` design (latency records with health checks)."""

    health_check_interval_s: PosFloat | None = None
    failure_threshold: PosInt | None = None
    dns_ttl_s: NonNegFloat | None = None


class DynamoConfig(Model):
    capacity: Capacity = OnDemandCapacity(mode="on_demand")
    item_bytes: PosInt = 200
    partition_max_read_units_per_s: PosFloat | None = None
    partition_max_write_units_per_s: PosFloat | None = None
    table_max_read_units_per_s: PosFloat | None = None
    table_max_write_units_per_s: PosFloat | None = None
    latency: DynamoLatency = DynamoLatency()


class SdkConfig(Model):
    max_attempts: PosInt | None = None
    throttling_base_delay_s: PosFloat | None = None
    max_delay_s: PosFloat | None = None
    retry_quota_tokens: NonNegFloat | None = None
    retry_cost_throttling: NonNegFloat | None = None
    retry_refund_success: NonNegFloat | None = None
    http_max_sockets: PosInt | None = None


class SnsLatency(Model):
    publish_s: Dist | None = None
    to_lambda_s: Dist | None = None


class SnsConfig(Model):
    publish_per_s: PosFloat | None = None
    latency: SnsLatency = SnsLatency()


class SqsLatency(Model):
    send_batch_s: Dist | None = None
    to_lambda_s: Dist | None = None


class SqsConfig(Model):
    esm_max_concurrency: PosInt | None = None
    esm_scale_per_min: PosFloat | None = None
    latency: SqsLatency = SqsLatency()


class AppSyncLatency(Model):
    connect_s: Dist | None = None
    broadcast_s: Dist | None = None


class AppSyncConfig(Model):
    connect_per_s: PosFloat | None = None
    inbound_events_per_s: PosFloat | None = None
    outbound_messages_per_s: PosFloat | None = None
    latency: AppSyncLatency = AppSyncLatency()


class ManagedLatency(Model):
    connect_s: Dist | None = None
    delivery_s: Dist | None = None


class ManagedConfig(Model):
    """The managed pub/sub service's limits (catalog: one vendor's published figures)."""

    connect_per_s: PosFloat | None = None
    channel_messages_per_s: PosFloat | None = None
    connection_publishes_per_s: PosFloat | None = None
    latency: ManagedLatency = ManagedLatency()


class AwsConfig(Model):
    api_gateway: ApiGatewayConfig = ApiGatewayConfig()
    lambda_: LambdaConfig = Field(default=LambdaConfig(), alias="lambda")
    dynamodb: DynamoConfig = DynamoConfig()
    sdk: SdkConfig = SdkConfig()
    sns: SnsConfig = SnsConfig()
    sqs: SqsConfig = SqsConfig()
    appsync: AppSyncConfig = AppSyncConfig()
    managed: ManagedConfig = ManagedConfig()
    eventbridge: EventBridgeConfig = EventBridgeConfig()
    route53: Route53Config = Route53Config()


class TtlCleanup(Model):
    """Rows carry a DynamoDB TTL of ``ttl_s`` after connecting; expired rows are deleted by
    DynamoDB after a delay (catalog: within two days). With ``filter_expired`` the subscriber
    query filters them out (they still cost read units)."""

    ttl_s: PosFloat
    filter_expired: bool = True


class SweepCleanup(Model):
    """A scheduled Lambda scans the table every ``interval_s`` and calls GetConnection for
    each row; rows whose connection is gone (410) are deleted."""

    interval_s: PosFloat
    memory_mb: PosInt = 512


class Cleanup(Model):
    """How zombie rows are removed, beyond ``$disconnect`` (each is a strategy; combine them)."""

    on_410: bool = True
    ttl: TtlCleanup | None = None
    sweep: SweepCleanup | None = None


class NoResume(Model):
    kind: Literal["none"]


class HistoryResume(Model):
    """Every message is also written to a history table kept for ``retention_s``; a client
    that reconnects sends its last-seen position and a Lambda posts what it missed, starting
    ``overlap_s`` before it (a safety margin that re-sends messages already delivered:
    duplicates, unless the client de-duplicates)."""

    kind: Literal["history"]
    retention_s: PosFloat = 3600.0
    overlap_s: NonNegFloat = 0.0
    client_dedup: bool = False
    item_overhead_bytes: NonNegInt = 100


Resume = Annotated[NoResume | HistoryResume, Field(discriminator="kind")]


class SnsTier(Model):
    """The SNS fan-out tier: ``$default`` publishes once; ``shards`` worker subscriptions
    each post to their share of the channel's subscribers."""

    shards: PosInt = 10  # not a catalog value (the architect's choice)
    posts_in_flight: PosInt | None = None


class SqsTier(Model):
    """The sharded SQS fan-out tier: ``$default`` splits the subscribers into messages of
    ``shard_size`` connection IDs, sent with SendMessageBatch; worker Lambdas read them through
    an event source mapping."""

    shard_size: PosInt = 500  # not a catalog value (the architect's choice)
    posts_in_flight: PosInt | None = None
    batch_size: PosInt | None = None
    batching_window_s: NonNegFloat = 0.0
    maximum_concurrency: PosInt | None = None
    visibility_timeout_s: PosFloat | None = None
    max_receive_count: PosInt = 3  # not a catalog value (the redrive policy's choice)


class AppConfig(Model):
    """How the application code behaves (choices the architect makes)."""

    posts_in_flight: PosInt | None = None
    sns_tier: SnsTier = SnsTier()
    sqs_tier: SqsTier = SqsTier()
    cleanup: Cleanup = Cleanup()
    resume: Resume = NoResume(kind="none")


class BillingConfig(Model):
    """How a run's usage becomes a bill."""

    free_tier: bool = False
    hourly_load: list[Annotated[float, Field(ge=0, allow_inf_nan=False)]] | None = None

    @model_validator(mode="after")
    def _profile(self):
        h = self.hourly_load
        if h is not None and (len(h) != 24 or sum(h) <= 0):
            raise FieldRule("hourly_load", h, "needs 24 values (load per hour of the day relative "
                            "to the simulated window), not all zero")
        return self


class MultiRegionConfig(Model):
    """The ``multi_region`` design: its Regions, how a publish reaches other Regions, and what
    clients do when their Region comes back after an outage."""

    regions: Annotated[list[str], Field(min_length=1)] | None = None   # default: [region]
    path: Literal["basic", "sns", "sqs"] = "basic"   # each Region's delivery path
    cross_region: Literal["eventbridge", "replication"] = "eventbridge"
    failback: Literal["reconnect", "stay"] = "reconnect"
    message_item_overhead_bytes: NonNegInt = 100   # a message item's keys and attributes

    @model_validator(mode="after")
    def _distinct(self):
        if self.regions is not None and len(set(self.regions)) != len(self.regions):
            raise FieldRule("regions", list(self.regions), "must not repeat a Region")
        return self


class TaskSize(Model):
    """One WebSocket server task on Fargate (a valid Fargate size: catalog
    ``containers.fargate_task_sizes``)."""

    vcpu: PosFloat = 1.0  # not a catalog value (the architect's choice)
    memory_gb: PosFloat = 2.0  # not a catalog value (the architect's choice)
    architecture: Literal["x86_64", "arm64"] = "x86_64"
    #: a cap on connections per task below what memory allows (file descriptors, the
    #: application's own limit); None: memory decides
    max_connections: PosInt | None = None


class FleetSize(Model):
    """How many tasks: ``initial`` (None: sized for the initial load at the autoscaling target),
    and the autoscaling bounds."""

    initial: PosInt | None = None
    min: PosInt = 2  # not a catalog value (the architect's choice: two Availability Zones)
    max: PosInt = 200  # not a catalog value (the architect's choice)

    @model_validator(mode="after")
    def _ordered(self):
        if self.max < self.min:
            raise FieldRule("max", self.max, f"must be >= min ({self.min})")
        if self.initial is not None and not self.min <= self.initial <= self.max:
            raise FieldRule("initial", self.initial, f"must be within min..max ({self.min}..{self.max})")
        return self


class Autoscaling(Model):
    """ECS service target tracking: the average of ``metric`` over the tasks in service kept
    at ``target`` (a CPU share, or connections per task)."""

    enabled: bool = True
    metric: Literal["cpu", "connections"] = "cpu"
    target: PosFloat = 0.6  # not a catalog value (the architect's choice)

    @model_validator(mode="after")
    def _target(self):
        if self.metric == "cpu" and self.target > 1:
            raise FieldRule("target", self.target, "a CPU target is a share of the task's vCPUs, in (0, 1]")
        return self


class LoadBalancer(Model):
    """``nlb`` (flow hash: a new connection goes to a random task in service) with a ``tcp``
    or ``tls`` listener, or ``alb`` (round robin, TLS at the load balancer)."""

    kind: Literal["nlb", "alb"] = "nlb"
    listener: Literal["tcp", "tls"] = "tls"


class Backplane(Model):
    """ElastiCache (Valkey) pub/sub between the tasks: ``shards`` primaries (a channel lives on
    one shard: sharded pub/sub), each with ``replicas``; ``subscribe`` says which tasks get a
    channel's messages: those holding its members (``per_channel``) or every task
    (``all_tasks``, one shared subscription as in Socket.IO's classic Redis adapter)."""

    node_type: Literal["m7g_large", "m7g_xlarge"] = "m7g_large"
    shards: PosInt = 1  # not a catalog value (the architect's choice)
    replicas: NonNegInt = 1  # not a catalog value (the architect's choice)
    subscribe: Literal["per_channel", "all_tasks"] = "per_channel"


class Deploy(Model):
    """A rolling deployment at ``at_s``: new tasks start (up to ``maximum_percent``); as each
    is healthy an old task is deregistered, drains for ``draining_s`` (None: the catalog's
    deregistration delay), and its connections then close (clients reconnect by policy)."""

    at_s: NonNegFloat
    maximum_percent: Annotated[int, Field(ge=101, le=200)] = 200  # not a catalog value (ECS default)
    draining_s: NonNegFloat | None = None


class TaskFailure(Model):
    """``tasks`` tasks fail at ``at_s``: their connections drop (clients reconnect by policy)
    and the service starts replacements."""

    at_s: NonNegFloat
    tasks: PosInt = 1


class ContainersConfig(Model):
    """The ``containers`` design: WebSocket server tasks on ECS with Fargate behind a load
    balancer, an ElastiCache pub/sub backplane between them, autoscaling, deploys and
    failures. Server costs (CPU per message, per delivery, per connection; memory per
    connection) are catalog entries (``catalog.containers.*``)."""

    task: TaskSize = TaskSize()
    tasks: FleetSize = FleetSize()
    autoscaling: Autoscaling = Autoscaling()
    load_balancer: LoadBalancer = LoadBalancer()
    backplane: Backplane = Backplane()
    deploys: list[Deploy] = []
    task_failures: list[TaskFailure] = []


class Presence(Model):
    """Presence: a member's *enter* when its connection opens and its *leave* when the edge
    closes it (a close frame, or when the edge notices a vanished client) are messages of
    ``payload_bytes`` to its channel, through the design's publish path (a channel filled from
    0 to N members gets N(N-1)/2 enter deliveries); each open member also sends
    ``updates_per_member_per_h`` updates. With ``store``, each event is written to the presence
    set (the connection table's channel partition, where the design has one). Above
    ``counts_above`` live members a channel's members are not announced one by one: the channel
    gets one count update every ``count_interval_s`` while its membership changes."""

    payload_bytes: PosInt = 100  # not a catalog value (the application's choice)
    updates_per_member_per_h: NonNegFloat = 0.0
    store: bool = True
    counts_above: PosInt | None = None
    count_interval_s: PosFloat = 5.0  # not a catalog value (the application's choice)


class Typing(Model):
    """Typing indicators (ephemeral: not stored). Before each message a member sends, it
    types for ``typing_s``: its client sends a typing event when it starts, one more every
    ``heartbeat_s`` while it goes on (at most one per ``heartbeat_s``: the client's throttle;
    default the catalog's ``behaviour.typing_heartbeat_s``), and a stop event with the message
    (``stop_event``). Each message so brings 1 + floor(typing_s / heartbeat_s) (+ 1) events,
    at the users' message rate, from members chosen at random (their own random stream)."""

    typing_s: Dist
    heartbeat_s: PosFloat | None = None
    stop_event: bool = True
    payload_bytes: PosInt = 50  # not a catalog value (the application's choice)


class HistoryOnJoin(Model):
    """A member that joins (a new connection, not a reconnect after a gap: that is
    ``app.resume``) fetches the last ``messages`` messages of its channel."""

    messages: PosInt


class Fallback(Model):
    """Clients that cannot use WebSockets (a proxy blocks the upgrade) and poll over HTTP
    every ``poll_interval_s`` instead; ``share`` of the clients (default: the catalog's
    ``behaviour.fallback_share``)."""

    share: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] | None = None
    poll_interval_s: PosFloat = 5.0  # not a catalog value (the application's choice)


class Features(Model):
    """Realtime features that multiply load beyond relaying messages (each off when absent)."""

    presence: Presence | None = None
    typing: Typing | None = None
    history_on_join: HistoryOnJoin | None = None
    fallback: Fallback | None = None


class EngineConfig(Model):
    """Numerical knobs of the simulator (not of the system)."""

    timeseries_step_s: PosFloat = 1.0
    throttle_tick_s: Annotated[float, Field(gt=0, le=0.1)] = 0.01  # not a catalog value
    window_s: Annotated[float, Field(gt=0, le=10)] = 1.0
    idle_check_s: Annotated[float, Field(gt=0, le=60)] = 5.0  # not a catalog value
    fanout_sample_above: PosInt = 2000  # not a catalog value
    fanout_sample_k: PosInt = 256


class Scenario(Model):
    """One what-if: a workload on an architecture in a Region, with its AWS configuration."""

    name: str
    description: str = ""
    seed: NonNegInt = 1
    duration_s: PosFloat
    warmup_s: NonNegFloat = 0.0
    architecture: str = "basic"
    variants: list[str] = []
    region: str = "us-east-1"
    quota_preset: str = "aws-documented"
    workload: Workload
    aws: AwsConfig = AwsConfig()
    app: AppConfig = AppConfig()
    billing: BillingConfig = BillingConfig()
    multi_region: MultiRegionConfig = MultiRegionConfig()
    containers: ContainersConfig = ContainersConfig()
    features: Features = Features()
    engine: EngineConfig = EngineConfig()
    #: catalog entries that have no ``aws.*`` field, overridden by namespace and entry
    #: (``catalog: {latency: {lambda_init_s: {kind: lognormal, median: 0.5, p99: 1.5}}}``,
    #: dotted path ``catalog.latency.lambda_init_s``); one value for every Region
    catalog: dict[str, dict[str, Any]] = {}

    @model_validator(mode="after")
    def _warmup_inside_run(self):
        if self.warmup_s >= self.duration_s:
            raise FieldRule("warmup_s", self.warmup_s,
                            f"must be shorter than duration_s ({self.duration_s:g})")
        return self

    def to_dict(self) -> dict:
        return self.model_dump(by_alias=True, exclude_none=False, mode="json")

    def with_overrides(self, overrides: dict[str, Any]) -> Scenario:
        """A new scenario with dotted-path overrides applied (validated)."""
        raw = apply_overrides(self.to_dict(), overrides)
        return validate_scenario(raw, source=f"scenario {self.name!r} with overrides")


# -- loading, overrides, error messages ------------------------------------------------------------
_TAG_FIELDS = ("kind", "profile", "mode")


def apply_overrides(raw: dict, overrides: dict[str, Any] | None) -> dict:
    """Set dotted-path keys in a raw scenario dict (a deep copy is returned).

    Changing the tag of a variant (``workload.heartbeat.kind=none``) starts that setting
    afresh, so the old variant's fields do not linger; other overrides of the same setting
    (``workload.heartbeat.interval_s=30``) then apply on top, whatever their order."""
    raw = copy.deepcopy(raw)
    items = sorted((overrides or {}).items(),
                   key=lambda kv: not (isinstance(kv[0], str) and kv[0].rsplit(".", 1)[-1]
                                       in _TAG_FIELDS))
    for path, value in items:
        parts = path.split(".") if isinstance(path, str) else []
        if len(parts) > 1 and parts[-1] in _TAG_FIELDS:
            node: Any = raw   # whatever YAML holds on the way down
            for p in parts[:-2]:
                node = node.get(p) if isinstance(node, dict) else None
            parent = node.get(parts[-2]) if isinstance(node, dict) else None
            if isinstance(parent, dict) and parent.get(parts[-1]) != value:
                node[parts[-2]] = {parts[-1]: value}
                continue
        if not isinstance(path, str) or not path or any(not p for p in path.split(".")):
            raise ScenarioError("overrides", path, "keys must be dotted paths like 'workload.clients'")
        parts = path.split(".")
        node = raw
        for i, p in enumerate(parts[:-1]):
            nxt = node.get(p) if isinstance(node, dict) else None
            if nxt is None:
                nxt = {}
                node[p] = nxt
            if not isinstance(nxt, dict):
                raise ScenarioError(".".join(parts[: i + 1]), nxt,
                                    f"is a value, so '{path}' cannot set a key inside it")
            node = nxt
        node[parts[-1]] = value
    return raw


def parse_set(items: list[str]) -> dict[str, Any]:
    """``["workload.clients=50000", ...]`` -> overrides dict (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ScenarioError("--set", item, "must be KEY=VALUE, e.g. workload.clients=50000")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = yaml.safe_load(v) if v.strip() else v
        except yaml.YAMLError as e:
            raise ScenarioError(f"--set {k.strip()}", v, f"value is not valid YAML ({e})") from None
    return out


def _models_in(ann) -> list:
    """BaseModel classes inside an annotation (through Annotated, unions, Optional)."""
    import typing

    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [ann]
    out = []
    for a in typing.get_args(ann):
        out.extend(_models_in(a))
    return out


def _tag_values(model) -> set:
    import typing

    tags: set = set()
    for name in ("kind", "profile", "mode"):
        f = model.model_fields.get(name)
        if f is not None:
            tags.update(typing.get_args(f.annotation))
    return tags


def _allowed_keys(loc: tuple) -> list[str] | None:
    """Field names allowed where an unknown key was found (best effort)."""
    cur: list = [Scenario]
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if len(cur) > 1:
            picked = [m for m in cur if part in _tag_values(m)]
            if picked:
                cur = picked
                continue
        fields = cur[0].model_fields
        f = next((fi for n, fi in fields.items() if part in (n, fi.alias)), None)
        if f is None:
            return None
        cur = _models_in(f.annotation)
        if not cur:
            return None
    if len(cur) != 1:
        return None
    return sorted((fi.alias or n) for n, fi in cur[0].model_fields.items())


def _convert(e: ValidationError, source: str) -> ScenarioErrors:
    errs = []
    for err in e.errors():
        loc = tuple(err["loc"])
        # drop union tags (e.g. 'lognormal') that pydantic inserts into the location (never
        # first: a top-level section such as 'app' is a field, not a tag)
        parts = [str(p) for k, p in enumerate(loc)
                 if not (k > 0 and isinstance(p, str) and p in _TAGS)]
        field = ".".join(parts) or source
        value = err.get("input")
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc)
            rule = "unknown key" + (f"; allowed here: {', '.join(allowed)}" if allowed else "")
        elif err["type"] == "missing":
            rule, value = "required field is missing", None
        elif isinstance((err.get("ctx") or {}).get("error"), FieldRule):
            fr = err["ctx"]["error"]
            field = f"{field}.{fr.field}" if parts else fr.field
            value, rule = fr.value, fr.rule
        else:
            rule = err["msg"].removeprefix("Value error, ")
        errs.append(ScenarioError(field, value, rule))
    return ScenarioErrors(errs)


_TAGS = {"fixed", "exponential", "lognormal", "uniform", "pareto", "steady", "ramp", "spike",
         "on_demand", "provisioned", "none", "ws_ping", "app", "history", "mass_drop"}


def validate_scenario(raw: Any, source: str = "scenario") -> Scenario:
    """Validate a raw dict into a :class:`Scenario` or raise :class:`ScenarioErrors`."""
    if not isinstance(raw, dict):
        raise ScenarioError(source, type(raw).__name__, "a scenario must be a YAML mapping")
    try:
        return Scenario.model_validate(raw)
    except ValidationError as e:
        raise _convert(e, source) from None


def read_scenario_file(path: str | Path) -> dict:
    p = Path(path)
    if not p.exists():
        raise ScenarioError("scenario file", str(path), "file does not exist")
    if p.is_dir():
        raise ScenarioError("scenario file", str(path), "is a directory, not a YAML file")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ScenarioError("scenario file", str(path), f"malformed YAML{where}: {problem}") from None
    except UnicodeDecodeError:
        raise ScenarioError("scenario file", str(path), "is not UTF-8 text") from None
    if raw is None:
        raise ScenarioError("scenario file", str(path), "is empty")
    return raw


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None,
                  data_dir: str | Path | None = None) -> Scenario:
    """Load a scenario YAML file, apply dotted overrides, validate against the schema and
    the data catalog.

    Parameters
    ----------
    path : str or Path
        A YAML file, e.g. ``data/scenarios/chat-basic.yaml``. A bare name
        (``"chat-basic"``) is looked up in ``data/scenarios/``.
    overrides : dict, optional
        Dotted paths to values, e.g. ``{"workload.clients": 50_000}``.
    data_dir : path, optional
        Catalog directory (default: the project's ``data/``).

    Raises
    ------
    ScenarioError
        (a ``ValueError``) naming the field, the value and the rule.
    """
    catalog = load_catalog(data_dir)
    p = Path(path)
    if not p.exists() and len(p.parts) == 1 and p.suffix in ("", ".yaml", ".yml"):
        cand = catalog.data_dir / "scenarios" / (p.name if p.suffix else f"{p.name}.yaml")
        if cand.exists():
            p = cand
        else:
            known = sorted(q.stem for q in (catalog.data_dir / "scenarios").glob("*.yaml"))
            raise ScenarioError("scenario", str(path), "no such file here or in data/scenarios/; "
                                "bundled scenarios: " + ", ".join(known))
    scn = _validate_with_overrides(read_scenario_file(p), overrides, str(path))
    check_against_catalog(scn, catalog)
    return scn


def _validate_with_overrides(raw: Any, overrides: dict[str, Any] | None, source: str) -> Scenario:
    """Overrides apply on top of the scenario *with its defaults filled in*, so
    ``aws.lambda.functions.connect.timeout_s`` can be set without restating the function."""
    if not overrides:
        return validate_scenario(raw, source=source)
    try:
        base = validate_scenario(raw, source=source)
    except ScenarioError:
        return validate_scenario(apply_overrides(raw, overrides), source=source)
    return validate_scenario(apply_overrides(base.to_dict(), overrides), source=source)


def scenario_from_dict(raw: dict, overrides: dict[str, Any] | None = None,
                       data_dir: str | Path | None = None) -> Scenario:
    """Like :func:`load_scenario` for an in-memory dict."""
    scn = _validate_with_overrides(raw, overrides, "scenario")
    check_against_catalog(scn, load_catalog(data_dir))
    return scn


# -- rules that need the catalog -------------------------------------------------------------------
def history_store(scn: Scenario) -> tuple[float, int] | None:
    """``(retention_s, item_overhead_bytes)`` of the store that keeps every message, or None
    when nothing needs one: resume from history (its settings), history on join or fallback
    clients that poll (the history resume's defaults: the last hour, 100 bytes of keys)."""
    r = scn.app.resume
    if r.kind == "history":
        return r.retention_s, r.item_overhead_bytes
    f = scn.features
    if f.history_on_join is not None or f.fallback is not None:
        d = HistoryResume.model_fields
        return d["retention_s"].default, d["item_overhead_bytes"].default
    return None


def design_regions(scn: Scenario) -> list[str]:
    """The Regions a run of ``scn`` uses: the ``multi_region`` design's list, else ``region``."""
    if scn.architecture == "multi_region":
        return list(scn.multi_region.regions or [scn.region])
    return [scn.region]


def _geo_rules(scn: Scenario, catalog: Catalog) -> list[ScenarioError]:
    """User locations known to the catalog; the multi-Region Regions known (latency data and a
    price book); outages in a Region the design uses, inside the run."""
    from simulator.costs import price_book

    errs = []
    geo = scn.workload.geography
    known_locs = sorted(k.split(".", 1)[1] for k in catalog.facts if k.startswith("geography."))
    if geo is not None:
        for name in geo.locations:
            if name not in known_locs:
                errs.append(ScenarioError(f"workload.geography.locations.{name}", name,
                                          "unknown location; known: " + ", ".join(known_locs)))
    priced = set(price_book(catalog.data_dir).items)
    for k, r in enumerate(scn.multi_region.regions or []):
        if r not in catalog.regions or r not in priced:
            errs.append(ScenarioError(f"multi_region.regions[{k}]", r,
                                      "needs latency data and a price book (data/pricing); known: "
                                      + ", ".join(sorted(priced & set(catalog.regions)))))
    if scn.architecture == "multi_region" and geo is None:
        errs.append(ScenarioError("workload.geography", None,
                                  "the multi_region design needs to know where the users are: "
                                  "give workload.geography.locations"))
    used = design_regions(scn)
    for k, inc in enumerate(scn.workload.incidents):
        if inc.kind == "region_outage" and scn.architecture in ("multi_region", "basic", "sns",
                                                                 "sqs", "appsync", "containers"):
            if inc.region not in used:
                errs.append(ScenarioError(f"workload.incidents.{k}.region", inc.region,
                                          "is not a Region of this design: " + ", ".join(used)))
    return errs


def _catalog_override_rules(scn: Scenario, catalog: Catalog) -> list[ScenarioError]:
    """``catalog.<namespace>.<entry>`` overrides: a known entry without an ``aws.*`` field
    (one way to set each value), of the entry's own type (a number for a number, a
    distribution for a distribution, the same fields for a mapping)."""
    errs = []
    by_key = {ckey: spath for spath, ckey in _CATALOG_MAP.items()}
    for ns, entries in scn.catalog.items():
        for name, v in entries.items():
            key, where = f"{ns}.{name}", f"catalog.{ns}.{name}"
            if key not in catalog.facts:
                near = sorted(k for k in catalog.facts if k.startswith(f"{ns}."))[:8]
                errs.append(ScenarioError(where, v, "not a catalog entry"
                                          + (f"; {ns}.* has: {', '.join(near)}" if near else "")))
            elif key in by_key:
                errs.append(ScenarioError(where, v, f"this entry has a scenario field: set "
                                                    f"aws.{by_key[key]} instead"))
            else:
                errs += _same_type(where, catalog.facts[key].value, v)
                anchor = v.get("anchor") if isinstance(v, dict) else None
                if isinstance(anchor, str) and anchor not in catalog.regions:
                    errs.append(ScenarioError(f"{where}.anchor", anchor,
                                              "no latency data for this Region (data/latency)"))
    return errs


def _same_type(where: str, base: Any, v: Any) -> list[ScenarioError]:
    if isinstance(base, dict) and "kind" in base:
        try:
            _DIST_ADAPTER.validate_python(v)
        except ValidationError as e:
            err = e.errors()[0]
            at = ".".join(str(x) for x in err["loc"][1:])
            msg = err["msg"].removeprefix("Value error, ")
            return [ScenarioError(where + (f".{at}" if at else ""), v,
                                  f"a distribution: {msg}")]
        return []
    if isinstance(base, dict):
        if not isinstance(v, dict) or set(v) != set(base):
            return [ScenarioError(where, v, f"must be a mapping with exactly the catalog "
                                            f"entry's fields {sorted(base)}")]
        return [e for k in base for e in _same_type(f"{where}.{k}", base[k], v[k])]
    if isinstance(base, bool) or isinstance(v, bool):
        ok = isinstance(base, bool) and isinstance(v, bool)
        return [] if ok else [ScenarioError(where, v, f"must be a {type(base).__name__} like "
                                                      f"the catalog's {base!r}")]
    if isinstance(base, (int, float)):
        ok = isinstance(v, (int, float)) and v == v and abs(v) != float("inf")
        return [] if ok else [ScenarioError(where, v, "must be a finite number like the "
                                                      f"catalog's {base!r}")]
    if not isinstance(v, type(base)):
        return [ScenarioError(where, v, f"must be a {type(base).__name__} like the "
                                        f"catalog's {base!r}")]
    return []


def check_against_catalog(scn: Scenario, catalog: Catalog) -> None:
    """Rules between the scenario and the data: Region, preset, architecture, Lambda limits."""
    from simulator.architectures import registry

    errs: list[ScenarioError] = []
    if scn.region not in catalog.regions:
        errs.append(ScenarioError("region", scn.region,
                                  "no latency data for this Region (data/latency); known: "
                                  + ", ".join(catalog.regions)))
    if scn.quota_preset not in catalog.presets:
        errs.append(ScenarioError("quota_preset", scn.quota_preset,
                                  f"unknown preset; known: {', '.join(sorted(catalog.presets))}"))
    if scn.architecture not in registry.names():
        errs.append(ScenarioError("architecture", scn.architecture,
                                  f"unknown architecture; known: {', '.join(registry.names())}"))
    for k, v in enumerate(scn.variants):
        if v not in registry.names():
            errs.append(ScenarioError(f"variants[{k}]", v,
                                      f"unknown architecture; known: {', '.join(registry.names())}"))
    errs += _geo_rules(scn, catalog)
    errs += _catalog_override_rules(scn, catalog)
    if errs:
        raise ScenarioErrors(errs)
    p = Params(scn, catalog)
    mem_lo, mem_hi = p["lambda.memory_mb_min"], p["lambda.memory_mb_max"]
    tmax = p["lambda.max_timeout_s"]
    reserved = 0
    for fname, f in scn.aws.lambda_.functions:
        if f is None:
            continue
        where = f"aws.lambda.functions.{fname}"
        if not mem_lo <= f.memory_mb <= mem_hi:
            errs.append(ScenarioError(f"{where}.memory_mb", f.memory_mb,
                                      f"must be within {mem_lo}..{mem_hi} MB (Lambda quota)"))
        if f.timeout_s is not None and f.timeout_s > tmax:
            errs.append(ScenarioError(f"{where}.timeout_s", f.timeout_s,
                                      f"must be <= {tmax} s (Lambda maximum timeout)"))
        reserved += f.reserved_concurrency or 0
    acct = p["lambda.account_concurrency"]
    keep = p["lambda.min_unreserved_concurrency"]
    if reserved > 0 and reserved > acct - keep:
        errs.append(ScenarioError("aws.lambda.functions.*.reserved_concurrency", reserved,
                                  f"reserved concurrency must leave at least {keep} of the account's "
                                  f"{acct} unreserved (at most {acct - keep} in total)"))
    item_max = p["dynamodb.max_item_bytes"]
    if scn.aws.dynamodb.item_bytes > item_max:
        errs.append(ScenarioError("aws.dynamodb.item_bytes", scn.aws.dynamodb.item_bytes,
                                  f"must be <= {item_max} bytes (DynamoDB item size limit)"))
    agw_payload = p["api_gateway.max_payload_bytes"]
    pay = build_dist(scn.workload.publish.payload_bytes)
    if pay.quantile(0.5) > agw_payload:
        errs.append(ScenarioError("workload.publish.payload_bytes", scn.workload.publish.payload_bytes.model_dump(),
                                  f"the median payload exceeds API Gateway's {agw_payload}-byte limit: "
                                  "every message would be refused"))
    ttl = scn.app.cleanup.ttl
    max_dur = p["api_gateway.max_connection_duration_s"]
    if ttl is not None and ttl.ttl_s < max_dur:
        errs.append(ScenarioError("app.cleanup.ttl.ttl_s", ttl.ttl_s,
                                  f"must be >= the maximum connection duration ({max_dur} s), or "
                                  "DynamoDB would delete the rows of live connections"))
    for k, inc in enumerate(scn.workload.incidents):
        if inc.at_s >= scn.duration_s:
            errs.append(ScenarioError(f"workload.incidents.{k}.at_s", inc.at_s,
                                      f"must be within the run (duration_s = {scn.duration_s:g})"))
    if scn.workload.clients == 0 and not isinstance(scn.workload.arrivals, SpikeArrivals):
        errs.append(ScenarioError("workload.clients", 0, "must be > 0 unless a spike brings clients"))
    # each design's own rules (its tier settings against the catalog)
    for name in dict.fromkeys([scn.architecture, *scn.variants]):
        check = getattr(registry.get(name), "check", None)
        if check is not None:
            errs.extend(check(scn, p))
    if errs:
        raise ScenarioErrors(errs)


# -- resolved parameters ----------------------------------------------------------------------------
# scenario path (under aws.) -> catalog key; the scenario wins, then the preset, then the catalog.
_CATALOG_MAP = {
    "api_gateway.new_connections_per_s": "api_gateway.new_connections_per_s",
    "api_gateway.connection_burst": "api_gateway.connection_burst",
    "api_gateway.max_concurrent_connections": "api_gateway.max_concurrent_connections",
    "api_gateway.account_throttle_rps": "api_gateway.account_throttle_rps",
    "api_gateway.account_throttle_burst": "api_gateway.account_throttle_burst",
    "api_gateway.max_connection_duration_s": "api_gateway.max_connection_duration_s",
    "api_gateway.idle_timeout_s": "api_gateway.idle_timeout_s",
    "api_gateway.max_payload_bytes": "api_gateway.max_payload_bytes",
    "api_gateway.max_frame_bytes": "api_gateway.max_frame_bytes",
    "api_gateway.metering_bytes": "api_gateway.metering_bytes",
    "api_gateway.disconnect_miss_fraction": "behaviour.apigw_disconnect_miss_fraction",
    "api_gateway.server_messages_reset_idle": "behaviour.apigw_server_messages_reset_idle",
    "api_gateway.half_open_detection_s": "behaviour.apigw_half_open_detection_s",
    "api_gateway.ping_resets_idle": "behaviour.apigw_ping_resets_idle",
    "api_gateway.ping_billed": "behaviour.apigw_ping_billed",
    "api_gateway.ping_uses_throttle": "behaviour.apigw_ping_uses_throttle",
    "api_gateway.latency.route_s": "latency.apigw_route_s",
    "api_gateway.latency.post_to_connection_s": "latency.post_to_connection_s",
    "lambda.account_concurrency": "lambda.account_concurrency",
    "lambda.scaling_envs_per_s": "lambda.scaling_envs_per_s",
    "lambda.scaling_burst_envs": "lambda.scaling_burst_envs",
    "lambda.invocation_rps_per_concurrency": "lambda.invocation_rps_per_concurrency",
    "lambda.idle_env_lifetime_s": "behaviour.lambda_idle_env_lifetime_s",
    "lambda.env_reuse": "behaviour.lambda_env_reuse",
    "dynamodb.partition_max_read_units_per_s": "dynamodb.partition_max_read_units_per_s",
    "dynamodb.partition_max_write_units_per_s": "dynamodb.partition_max_write_units_per_s",
    "dynamodb.table_max_read_units_per_s": "dynamodb.table_max_read_units_per_s",
    "dynamodb.table_max_write_units_per_s": "dynamodb.table_max_write_units_per_s",
    "dynamodb.latency.item_s": "latency.dynamodb_item_s",
    "dynamodb.latency.query_page_s": "latency.dynamodb_query_page_s",
    "dynamodb.latency.query_s_per_mb": "latency.dynamodb_query_s_per_mb",
    "sdk.max_attempts": "sdk.max_attempts",
    "sdk.throttling_base_delay_s": "sdk.throttling_base_delay_s",
    "sdk.max_delay_s": "sdk.max_delay_s",
    "sdk.retry_quota_tokens": "sdk.retry_quota_tokens",
    "sdk.retry_cost_throttling": "sdk.retry_cost_throttling",
    "sdk.retry_refund_success": "sdk.retry_refund_success",
    "sdk.http_max_sockets": "sdk.http_max_sockets",
    "sns.publish_per_s": "sns.publish_per_s",
    "eventbridge.put_events_per_s": "eventbridge.put_events_per_s",
    "eventbridge.latency.delivery_s": "latency.eventbridge_delivery_s",
    "dynamodb.latency.replication_s": "latency.global_table_replication_s",
    "dynamodb.latency.streams_to_lambda_s": "latency.streams_to_lambda_s",
    "route53.health_check_interval_s": "behaviour.route53_health_check_interval_s",
    "route53.failure_threshold": "behaviour.route53_failure_threshold",
    "route53.dns_ttl_s": "behaviour.dns_ttl_s",
    "sns.latency.publish_s": "latency.sns_publish_s",
    "sns.latency.to_lambda_s": "latency.sns_to_lambda_s",
    "sqs.esm_max_concurrency": "sqs.esm_max_concurrency",
    "sqs.esm_scale_per_min": "sqs.esm_scale_per_min",
    "sqs.latency.send_batch_s": "latency.sqs_send_batch_s",
    "sqs.latency.to_lambda_s": "latency.sqs_to_lambda_s",
    "appsync.connect_per_s": "appsync.connect_per_s",
    "appsync.inbound_events_per_s": "appsync.inbound_events_per_s",
    "appsync.outbound_messages_per_s": "appsync.outbound_messages_per_s",
    "appsync.latency.connect_s": "latency.appsync_connect_s",
    "appsync.latency.broadcast_s": "latency.appsync_broadcast_s",
    "managed.connect_per_s": "managed.connect_per_s",
    "managed.channel_messages_per_s": "managed.channel_messages_per_s",
    "managed.connection_publishes_per_s": "managed.connection_publishes_per_s",
    "managed.latency.connect_s": "latency.managed_connect_s",
    "managed.latency.delivery_s": "latency.managed_delivery_s",
}


def _with_source(where: str, value) -> str:
    """Provenance of a scenario value: where it is set, and the ``source`` a distribution
    carries (a calibration overlay's file and sample count)."""
    src = getattr(value, "source", None)
    return f"{where}: {src}" if src else where


def _get_path(model: BaseModel, path: str):
    node: Any = model
    for part in path.split("."):
        node = getattr(node, "lambda_" if part == "lambda" else part)
    return node


class Params:
    """Every number a run uses, resolved (scenario > preset > catalog) with provenance.

    ``params["api_gateway.account_throttle_rps"]`` gives the value for the scenario's Region;
    distributions come back built (objects with ``sample``). ``params.frame()`` lists each
    value with its origin and source, for reports and the README.
    """

    def __init__(self, scn: Scenario, catalog: Catalog):
        self.scn = scn
        self.catalog = catalog
        self.region = scn.region
        preset = catalog.presets[scn.quota_preset]
        self._values: dict[str, Any] = {}
        self._origin: dict[str, tuple[str, str]] = {}
        for key, fact in catalog.facts.items():
            self._values[key] = fact.for_region(scn.region)
            self._origin[key] = ("catalog", fact.source)
        for key, v in (preset.get("values") or {}).items():
            self._values[key] = v
            self._origin[key] = (f"preset {scn.quota_preset}", str(preset.get("source", "")))
        for spath, ckey in _CATALOG_MAP.items():
            v = _get_path(scn.aws, spath)
            if v is not None:
                self._values[ckey] = v.model_dump() if isinstance(v, BaseModel) else v
                self._origin[ckey] = ("scenario", _with_source(
                    f"aws.{spath} in scenario {scn.name!r}", v))
        for ns, entries in scn.catalog.items():
            for name, v in entries.items():
                base = catalog.facts[f"{ns}.{name}"].value if f"{ns}.{name}" in catalog.facts else None
                if isinstance(base, dict) and "kind" in base and not isinstance(v, dict):
                    v = _DIST_ADAPTER.validate_python(v).model_dump()   # a bare number: fixed
                self._values[f"{ns}.{name}"] = v
                self._origin[f"{ns}.{name}"] = ("scenario",
                                                f"catalog.{ns}.{name} in scenario {scn.name!r}")
        #: the keys this object was asked for (what one run read)
        self.reads: set[str] = set()
        self._dists: dict[str, Any] = {}
        # the scenario's own settings of each function, listed for provenance
        for fname, f in scn.aws.lambda_.functions:
            if f is None:
                continue
            fields = type(f).model_fields
            for field, v in f.model_dump().items():
                if v is not None:
                    key = f"lambda.functions.{fname}.{field}"
                    self._values[key] = v
                    default = fields[field].default if field in fields else None
                    if isinstance(default, BaseModel):
                        default = default.model_dump()
                    self._origin[key] = (
                        ("default", f"aws.lambda.functions.{fname}.{field}: the schema's default")
                        if v == default else
                        ("scenario", _with_source(f"aws.lambda.functions.{fname}.{field} in "
                                                  f"scenario {scn.name!r}", getattr(f, field))))

    #: every key any Params object was asked for in this process (the catalog test's evidence
    #: that an entry is read by the model)
    read_keys: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        v = self._values[key]
        Params.read_keys.add(key)
        self.reads.add(key)
        if isinstance(v, dict) and "kind" in v:
            d = self._dists.get(key)
            if d is None:
                d = build_dist(_DIST_ADAPTER.validate_python(v))
                self._dists[key] = d
            return d
        return v

    def raw(self, key: str) -> Any:
        Params.read_keys.add(key)
        self.reads.add(key)
        return self._values[key]

    def frame(self):
        import pandas as pd

        rows = []
        for key, v in self._values.items():
            f = self.catalog.facts.get(key)
            origin, src = self._origin[key]
            rows.append({"key": key, "value": v, "unit": f.unit if f else "",
                         "origin": origin, "confidence": f.confidence if f else "",
                         "as_of": f.as_of if f else "", "source": src})
        return pd.DataFrame(rows)


def resolve(scn: Scenario, data_dir: str | Path | None = None) -> Params:
    """Every number a run of ``scn`` would use (scenario > preset > catalog), before running
    it: ``sim.resolve(scn)["api_gateway.new_connections_per_s"]``, ``.frame()``."""
    catalog = load_catalog(data_dir)
    check_against_catalog(scn, catalog)
    return Params(scn, catalog)


def _make_dist_adapter():
    from pydantic import TypeAdapter

    return TypeAdapter(Dist)


_DIST_ADAPTER = _make_dist_adapter()

