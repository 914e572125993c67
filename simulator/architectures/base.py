"""What every design gives the engine and :class:`~simulator.metrics.result.Result`: the
:class:`Architecture` protocol, its components grouped per Region (:class:`RegionStack`),
the shared buffered draws (:class:`Draws`) and the probes every design records.

Random streams are named (``rng.Streams``): a component draws from its own stream, so adding a
component (or a design that has more of them) leaves every other stream, and the workload,
unchanged: common random numbers across the designs compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from simulator.metrics.histogram import LogHistogram
from simulator.metrics.stages import StageHistogram
from simulator.primitives.events import Call
from simulator.workload.population import OPEN

#: counters every design starts at zero: those the summary reads, whatever the design has
SUMMARY_COUNTERS = (
    "connections.attempted", "connections.established", "connections.rejected",
    "connections.initial", "connections.reconnect_attempts", "connections.abandoned",
    "connections.blips", "publishes.attempted", "publishes.rejected", "messages.published",
    "deliveries.attempted", "deliveries.succeeded", "deliveries.failed", "deliveries.stale",
    "deliveries.stale_lost", "deliveries.stale_gone", "apigw.messages",
    "apigw.connection_minutes", "api_gateway.throttled_posts", "api_gateway.throttled_messages",
    "api_gateway.posts", "lambda.requests", "lambda.throttles", "lambda.cold_starts",
    "dynamodb.read_units", "dynamodb.write_units", "dynamodb.throttles",
    "dynamodb.deletes_on_410", "dynamodb.history_write_units", "cleanup.sweep_deletes",
    "cleanup.ttl_deletes", "cleanup.heartbeat_timeouts", "resume.read_units", "heartbeats.sent",
    "heartbeats.throttled", "data_transfer.out_bytes", "api_gateway.posts_sent",
)


class Architecture(Protocol):
    """A design, wired for one run.

    Attributes
    ----------
    name : str
        Its registry name.
    regions : dict
        Region -> :class:`RegionStack`.
    """

    name: str
    regions: dict

    def start(self) -> None:
        """Start the processes (at t = 0)."""

    def tick(self, now: float, step: float) -> None:
        """Periodic bookkeeping, every ``step`` seconds (capacity modes, Lambda environments)."""

    def probes(self, rec) -> None:
        """Register the time-series probes on the recorder."""

    def usage_snapshot(self, now: float) -> dict:
        """``{"t": now, "usage": {region: {item: quantity}}, "aux": {...}}``: cumulative
        billable quantities by Region and price-book item, and the quantities the cost
        breakdowns need (``deliveries``, ``connected_seconds``, ``table_gb``, ...)."""

    def finalize(self, now: float) -> None:
        """Settle what is in flight at the end and derive the total counters."""

    def histograms(self) -> dict:
        """``delivery`` (publish -> receipt), ``connect`` (attempt -> open) and
        ``zombie_lifetime`` latency histograms, seconds."""

    def gauges(self) -> dict:
        """End-of-run values: ``connections_peak_open``, ``connections_open_end``,
        ``zombie_rows_end``, ``stale_rows_end``, ``lambda_peak_concurrency``,
        ``delivery_guarantee``, ``storms``."""


@dataclass
class RegionStack:
    """The components of one Region (None where a design has no such component)."""

    region: str
    edge_gateway: Any      # ApiGateway, or the edge service of designs without one
    lam: Any               # LambdaService or None
    table: Any             # Table or None
    delivery: Any          # the delivery strategy


class Uniform01:
    """U(0, 1) as a distribution object (for buffered draws)."""

    mean = 0.5

    def sample(self, rng, n):
        return rng.random(n)


@dataclass
class Draws:
    """Buffered draws shared by the components of a design (one named stream each)."""

    u: Any            # U(0,1): choices (which client publishes, graceful or not, ...)
    d_oneway: Any     # client <-> Region, one way
    d_route: Any      # the edge's processing of a request
    d_item: Any       # DynamoDB item call
    d_page: Any       # DynamoDB query page
    d_s_per_mb: Any   # DynamoDB query seconds per MB
    d_backoff: Any    # U(0,1) for retry jitter

    @classmethod
    def build(cls, streams, oneway, route, params) -> Draws:
        return cls(
            u=streams.buffered("choices", Uniform01()),
            d_oneway=streams.buffered("network", oneway),
            d_route=streams.buffered("api_gateway", route),
            d_item=streams.buffered("dynamodb", params["latency.dynamodb_item_s"]),
            d_page=streams.buffered("dynamodb.query", params["latency.dynamodb_query_page_s"]),
            d_s_per_mb=streams.buffered("dynamodb.query_mb",
                                        params["latency.dynamodb_query_s_per_mb"]),
            d_backoff=streams.buffered("retries", Uniform01()),
        )


def common_probes(rec, reg, regions: dict, design=None) -> None:
    """The time series every design records (connections, Lambda, DynamoDB, API Gateway
    where the design has them; rates of the counters; with ``design``, the (message,
    recipient) pairs lost so far and the connections open per Region of several)."""
    if design is not None:
        rec.probe("messages_lost", lambda t: design.integrity.lost)
        lv = design.conns.connected_r
        for rix, name in enumerate(design.region_names if lv is not None else ()):
            rec.probe(f"connections_open.{name}", lambda t, r=rix: lv[r].value)
    rec.probe("connections_open", lambda t: reg.n_open)
    rec.probe("connections_half_open", lambda t: reg.n_half)
    rec.probe("zombie_rows", lambda t: reg.n_zombie + reg.n_closing)
    rec.probe("stale_rows", lambda t: reg.n_zombie + reg.n_closing + reg.n_half)
    rec.probe("table_rows", lambda t: reg.n_rows)
    stacks = list(regions.values())
    lams = [r.lam for r in stacks if r.lam is not None]
    rec.probe("lambda_concurrency", lambda t: sum(lam.busy for lam in lams))
    for r in stacks:
        if r.lam is None:
            continue
        sfx = f".{r.region}" if len(stacks) > 1 else ""
        for f in r.lam.functions:
            rec.probe(f"lambda_concurrency_{f.name}{sfx}", lambda t, f=f: f.busy)
            rec.probe(f"lambda_environments_{f.name}{sfx}", f.environments)
    rec.probe("lambda_concurrency_limit", lambda t: sum(lam.account_limit for lam in lams))
    rec.probe("lambda_environments",
              lambda t: sum(f.environments(t) for lam in lams for f in lam.functions))
    tables = [r.table for r in stacks if r.table is not None]
    rec.probe("dynamodb_read_capacity_per_s",
              lambda t: sum(tb.capacity.limits()[0] for tb in tables))
    rec.probe("dynamodb_write_capacity_per_s",
              lambda t: sum(tb.capacity.limits()[1] for tb in tables))
    if tables:   # the hottest partition (a channel's rows) in the last second, of any table
        rec.probe("dynamodb_hot_partition_read_units_per_s",
                  lambda t: max(tb.hot_read_per_s for tb in tables))
        rec.probe("dynamodb_hot_partition_write_units_per_s",
                  lambda t: max(tb.hot_write_per_s for tb in tables))
        rec.probe("dynamodb_partition_read_limit_per_s", lambda t: tables[0].part_r)
        rec.probe("dynamodb_partition_write_limit_per_s", lambda t: tables[0].part_w)
    gws = [r.edge_gateway for r in stacks if hasattr(r.edge_gateway, "account")]
    rec.probe("apigw_throttle_tokens", lambda t: sum(g.account.level(t) for g in gws))
    rec.probe("apigw_throttle_rps", lambda t: sum(g.account.rate for g in gws))
    rec.rate_probe("dynamodb_read_units_per_s", "dynamodb.read_units")
    rec.rate_probe("dynamodb_write_units_per_s", "dynamodb.write_units")
    rec.rate_probe("dynamodb_throttles_per_s", "dynamodb.throttles")
    rec.rate_probe("messages_published_per_s", "messages.published")
    rec.binned("deliveries_per_s")   # counted when each post completes, not when decided
    rec.rate_probe("posts_to_half_open_per_s", "deliveries.stale_lost")
    rec.rate_probe("posts_gone_per_s", "deliveries.stale_gone")
    rec.rate_probe("posts_throttled_per_s", "api_gateway.throttled_posts")
    rec.rate_probe("posts_sent_per_s", "api_gateway.posts_sent")
    rec.rate_probe("inbound_messages_per_s", "apigw.messages.inbound")
    rec.rate_probe("connections_attempted_per_s", "connections.attempted")
    rec.rate_probe("connections_rejected_per_s", "connections.rejected")
    rec.rate_probe("lambda_throttles_per_s", "lambda.throttles")
    rec.rate_probe("lambda_cold_starts_per_s", "lambda.cold_starts")
    rec.rate_probe("heartbeats_per_s", "heartbeats.sent")
    rec.rate_probe("reconnect_attempts_per_s", "connections.reconnect_attempts")


def publish_source(arch, route, on_arrive, route_applies: bool = True):
    """The clients' publishes (a process): Poisson per window at the workload's rate (per open
    connection, or in total), each reaching the edge one way plus ``route`` later, where
    ``on_arrive(ev)`` gets ``(t_pub, nbytes, route)`` (with a geography, the sender's slot and
    generation too: see :class:`_Sender`). Every design draws the same numbers from the
    ``publishes`` stream in the same order (common random numbers): a design whose edge has no
    routing step (``route_applies`` False) still draws ``route`` and ignores it."""
    env = arch.env
    rng = arch.s["publishes"]
    W = arch.scn.engine.window_s
    pub = arch.scn.workload.publish
    end = arch.scn.duration_s
    reg = arch.reg
    geo = arch.geo
    # the routing step of each publish, for the measured component latencies
    route_drawn = arch.s.tally("api_gateway.publish") if route_applies else None
    # clients that poll send at the same rate (their messages are sent as a WebSocket
    # member's: an approximation, see ``fallback``)
    polling = arch.fallback.total if arch.fallback is not None else None
    t = 0.0
    while t < end:
        t1 = min(t + W, end)
        rate = (pub.total_rate_per_s if pub.total_rate_per_s is not None
                else pub.rate_per_client_per_s * (reg.n_open + (polling.value if polling else 0)))
        n = rng.poisson(rate * (t1 - t)) if rate > 0 else 0
        if n and geo is not None:
            # the sender is chosen when it sends: its location and Region set the uplink
            ts = np.sort(rng.uniform(t, t1, n))
            r = route.sample(rng, n)
            if route_drawn is not None:
                route_drawn.add(r)
            else:
                r = np.zeros(n)
            size = arch.payload.sample(rng, n)
            send = _Sender(arch, on_arrive)
            for tk, rk, b in zip(ts.tolist(), r.tolist(), size.tolist()):
                Call(env, tk - env.now, send, (tk, rk, b))
        elif n:
            ts = np.sort(rng.uniform(t, t1, n))
            arrive = ts + arch.oneway.sample(rng, n)
            r = route.sample(rng, n)
            if route_drawn is not None:
                arrive = arrive + r
                route_drawn.add(r)
            else:
                r = np.zeros(n)
            size = arch.payload.sample(rng, n)
            for a, tk, b, rk in zip(arrive.tolist(), ts.tolist(), size.tolist(), r.tolist()):
                Call(env, a - env.now, on_arrive, (tk, b, rk))
        t = t1
        yield env.timeout(t - env.now)


def sender_slot(arch, v, c) -> int:
    """The slot of the client whose publish ``v`` (``(t_pub, nbytes, route[, slot, gen])``)
    reached the design, or -1 when there is none: the sender chosen when it sent (a geography)
    whose connection has closed meanwhile (counted ``publishes.sender_gone``), no open
    connection to choose from, or a sender whose Region is down (the frame is lost)."""
    reg = arch.reg
    if len(v) > 3:   # the sender was chosen when it sent (a geography)
        i = v[3]
        if reg.gen[i] != v[4] or reg.state[i] != OPEN:
            c["publishes.sender_gone"] += 1
            return -1
    else:
        i = reg.random_open(arch.u())
        if i < 0:
            return -1
    if not arch.router.up[0]:
        return -1   # the sender's connection dropped with the Region: the frame is lost
    return i


class _Sender:
    """A client sends a message (with a geography): the sender is a uniformly chosen open
    connection; the message reaches its Region one way (from the sender's location) plus the
    edge's routing step later, as ``(t_pub, nbytes, route, slot, generation)``."""

    __slots__ = ("env", "reg", "u", "geo", "on_arrive")

    def __init__(self, arch, on_arrive):
        self.env = arch.env
        self.reg = arch.reg
        self.u = arch.u
        self.geo = arch.geo
        self.on_arrive = on_arrive

    def __call__(self, ev) -> None:
        t_pub, route, nbytes = ev._value
        reg = self.reg
        i = reg.random_open(self.u())
        if i < 0:
            return
        key = int(reg.channel[i])
        up = self.geo.oneway(int(reg.loc[i]), key % reg.n_reg)
        Call(self.env, up + route, self.on_arrive, (t_pub, nbytes, route, i, int(reg.gen[i])))


class Design:
    """What every design builds the same way: its random inputs, the workload (channels, the
    connection registry, payloads), the integrity ledger, the connection lifecycle (its edge is
    the subclass's), the latency histograms, and the end-of-run gauges.

    Parameters
    ----------
    env, scn, params, streams, recorder
        As every architecture's.
    """

    name = ""
    #: whether a Region outage (an incident) applies to the design's Regions
    region_outages = True
    #: whether users connect to a service edge near them wherever they are (no Region)
    edge_everywhere = False

    def __init__(self, env, scn, params, streams, recorder, regions: list[str] | None = None):
        from simulator.architectures.connections import Connections
        from simulator.architectures.routing import Router
        from simulator.lifecycle import Integrity, Reconnect, make_heartbeat
        from simulator.scenario import build_dist
        from simulator.workload.channels import ChannelPlan
        from simulator.workload.geography import Geography
        from simulator.workload.population import ConnectionRegistry

        self.env = env
        self.scn = scn
        self.p = params
        self.s = streams
        self.rec = recorder
        self.c = recorder.c
        self.region = scn.region
        w = scn.workload
        # -- random inputs (named streams) --
        rtt = w.client_rtt_s and build_dist(w.client_rtt_s) or params["latency.client_rtt_s"]
        self.oneway = half(rtt)
        self.route = params["latency.apigw_route_s"]
        self.draws = d = Draws.build(streams, self.oneway, self.route, params)
        self.u = d.u
        # -- workload --
        population = w.clients + getattr(w.arrivals, "extra_clients", 0)
        self.channels = ChannelPlan(build_dist(w.channels.size), max(population, 1),
                                    streams["channels"])
        self.region_names = list(regions or [scn.region])
        self.geo = (None if w.geography is None else
                    Geography(w.geography, params, params.catalog.inter_region_rtt_ms,
                              self.region_names, streams, self.channels.n,
                              edge_everywhere=self.edge_everywhere))
        self.reg = ConnectionRegistry(self.channels.n, capacity=int(w.clients * 1.3) + 64,
                                      n_regions=len(self.region_names),
                                      n_locations=self.geo.n if self.geo is not None else 1)
        self.payload = build_dist(w.publish.payload_bytes)
        self.heartbeat = make_heartbeat(w.heartbeat, params)
        self.integrity = Integrity(self.channels.n, scn.app.resume)
        self.router = Router(env, self.region_names, self.geo, params, d.u, recorder,
                             scn.multi_region.failback, self.region_outages)
        self.conns = Connections(env, scn, streams, recorder, self.reg, self.channels,
                                 self.integrity, self.heartbeat, Reconnect(w.reconnect), d,
                                 self.region, self.router, self.geo)
        self.router.attach(self.conns)
        #: clients that poll over HTTP instead (``features.fallback``; None: off)
        self.fallback = None
        if scn.features.fallback is not None:
            from simulator.architectures.fallback import Fallback

            self.fallback = self.conns.fallback = Fallback(self)
        self.hist = LogHistogram()
        #: what the delivery latency is made of, by bucket of it
        self.stage_hist = StageHistogram(self.hist)
        self.zombie_hist = LogHistogram()
        #: delivery latency by the recipient's location (with a geography)
        self.loc_hists = ({k: LogHistogram() for k in self.geo.names}
                          if self.geo is not None else {})
        #: delivery latency by the Region that delivered (with a geography)
        self.region_hists = ({k: LogHistogram() for k in self.region_names}
                             if self.geo is not None and not self.edge_everywhere else {})
        self.regions: dict[str, RegionStack] = {}
        for k in SUMMARY_COUNTERS:
            self.c[k] += 0.0

    #: the run's presence and typing events (:mod:`.features`), when any is on
    features = None
    #: history on join (:class:`~.features.JoinHistory`), when it is on
    history_on_join = None

    def message_sources(self, on_arrive, route_applies: bool = True) -> list:
        """The processes that send messages to ``on_arrive``: the users' publishes
        (:func:`publish_source`) and the events of the features that are on (presence,
        typing: :class:`~.features.FeatureEvents`)."""
        from simulator.architectures.features import FeatureEvents, JoinHistory

        sources = [publish_source(self, self.route, on_arrive, route_applies)]
        f = self.scn.features
        if f.presence is not None or f.typing is not None:
            self.features = FeatureEvents(self, on_arrive, route_applies)
            sources += self.features.sources()
        if f.history_on_join is not None:
            self.history_on_join = JoinHistory(self)
        return sources

    def join_history(self, now: float, i: int, n: int) -> float | None:
        """Member ``i``'s request for its channel's last ``n`` messages reaches the design at
        ``now``: serve it; returns when the last message is written to the client, None when
        the request is refused."""
        raise NotImplementedError(f"history on join is not modelled for {self.name!r}")

    def store_presence(self, now: float, key: int) -> bool:
        """A member's presence event is written to the presence set of channel key ``key``;
        False when the store throttled it. Here the set lives where the connection is held
        (a managed service's presence, a server's memory or its backplane): nothing billed."""
        return True

    def share(self, host, params, rix: int) -> None:
        """Build on ``host``'s workload, lifecycle and histograms instead of new ones: this
        object is then Region ``rix`` of ``host`` (a design over several Regions), with its own
        Region's ``params`` and counters."""
        from simulator.metrics.recorder import RegionRecorder

        for k in ("env", "scn", "s", "oneway", "route", "draws", "u", "channels", "region_names",
                  "geo", "reg", "payload", "heartbeat", "integrity", "router", "conns", "hist",
                  "stage_hist", "zombie_hist", "loc_hists", "region_hists", "fallback"):
            setattr(self, k, getattr(host, k))
        self.p = params
        self.region = host.region_names[rix]
        self.rec = RegionRecorder(host.rec, self.region)
        self.c = self.rec.c
        self.regions = {}
        for k in SUMMARY_COUNTERS:
            self.c[k] += 0.0

    def add_latencies(self, lat: np.ndarray, w: np.ndarray, parts: dict,
                      loc: np.ndarray | None = None) -> None:
        """Delivery latencies ``lat`` (seconds, weights ``w``) into the delivery histogram,
        the stage histogram (``parts``: what each is made of), and, with a geography, the
        histograms by Region and by the recipients' locations ``loc``."""
        self.hist.add(lat, w)
        self.stage_hist.add(lat, w, parts)
        for h in self.region_hists.values():
            h.add(lat, w)
        if loc is None:
            return
        for j, h in enumerate(self.loc_hists.values()):
            sel = loc == j
            if sel.any():
                h.add(lat[sel], w[sel])

    def histograms(self) -> dict:
        return {"delivery": self.hist, "connect": self.conns.connect_hist,
                "zombie_lifetime": self.zombie_hist, "by_location": self.loc_hists,
                "by_region": self.region_hists, "stages": self.stage_hist}

    def gauges(self) -> dict:
        reg = self.reg
        return {
            "summary": {**(self.features.summary() if self.features is not None else {}),
                        **(self.history_on_join.summary()
                           if self.history_on_join is not None else {}),
                        **(self.fallback.summary() if self.fallback is not None else {})},
            "connections_peak_open": self.conns.connected.peak,
            "connections_open_end": reg.n_connected,
            "zombie_rows_end": reg.n_zombie + reg.n_closing,
            "stale_rows_end": reg.n_zombie + reg.n_closing + reg.n_half,
            "lambda_peak_concurrency": sum(r.lam.peak for r in self.regions.values()
                                           if r.lam is not None),
            "lambda_functions": self._lambda_functions(),
            "delivery_guarantee": self.integrity.guarantee(),
            "storms": self.conns.storms,
            "failbacks": self.router.failbacks,
            "connections_peak_open_by_region": (
                {n: lv.peak for n, lv in zip(self.region_names, self.conns.connected_r)}
                if self.conns.connected_r is not None else {}),
        }

    def _lambda_functions(self) -> dict:
        """Per function, summed over Regions: the peak of live environments (each Region's
        peak) and those live at the end."""
        now = self.env.now
        out: dict = {}
        for r in self.regions.values():
            if r.lam is None:
                continue
            for f in r.lam.functions:
                g = out.setdefault(f.name, {"environments_peak": 0, "environments_end": 0})
                g["environments_peak"] += f.peak
                g["environments_end"] += f.environments(now)
        return out

    def _settle(self, now: float, publishes_in_flight: int) -> None:
        """The end of a run of a design whose deliveries are decided when a message is fanned
        out (none in flight): the connected time closed, the stale deliveries summed, what is
        in flight counted, the zombies' lifetimes and the integrity ledger."""
        conn = self.conns.connected
        conn.close(now)
        c = self.c
        c["deliveries.stale"] = c["deliveries.stale_lost"] + c["deliveries.stale_gone"]
        c["deliveries.in_flight"] = 0
        c["connections.in_flight"] = self.conns.in_flight()
        c["publishes.in_flight"] = publishes_in_flight
        self._zombie_lifetimes(now)
        self.integrity.count(c)

    def _zombie_lifetimes(self, now: float) -> None:
        """Lifetimes of the rows (or half-open connections) that outlived their clients: those
        removed, and those still there, censored at ``now`` (a lower bound)."""
        reg = self.reg
        if reg.zombie_lifetimes:
            self.zombie_hist.add(np.maximum(np.asarray(reg.zombie_lifetimes), 1e-6))
        alive = np.flatnonzero(reg.was_zombie & (reg.state != 0))
        if alive.size:
            self.zombie_hist.add(np.maximum(now - reg.gone_at[alive], 1e-6))
        self.c["zombie_rows.censored"] = alive.size


def lambda_service(p, rec, region: str, streams, sfx: str = ""):
    """A Region's Lambda service; an idle environment's lifetime is drawn from the stream
    ``lambda.idle_lifetime<sfx>`` when the catalog gives a distribution."""
    from simulator.aws.lambda_ import LambdaService
    from simulator.rng import BufferedDraws

    life = p["behaviour.lambda_idle_env_lifetime_s"]
    return LambdaService(p, rec, region,
                         BufferedDraws(streams[f"lambda.idle_lifetime{sfx}"], life)   # not a latency
                         if hasattr(life, "sample") else None)


def handler_dist(cfg, p):
    """A function's handler duration: its own setting, else the catalog's."""
    from simulator.scenario import build_dist

    return build_dist(cfg.handler_s) if cfg.handler_s else p["latency.lambda_handler_s"]


def lambda_function(lam, streams, p, name: str, cfg, sfx: str = ""):
    """Function ``name`` of the service ``lam`` (configuration ``cfg``), its init and
    handler durations from its own streams ``lambda.<name>.init<sfx>`` and ``.handler<sfx>``."""
    from simulator.scenario import build_dist

    init = build_dist(cfg.init_s) if cfg.init_s else p["latency.lambda_init_s"]
    timeout = cfg.timeout_s or p["lambda.default_timeout_s"]
    return lam.function(name, cfg, streams.buffered(f"lambda.{name}.init{sfx}", init),
                        streams.buffered(f"lambda.{name}.handler{sfx}", handler_dist(cfg, p)),
                        timeout)


def half(dist):
    """One-way latency from a round-trip distribution (RTT / 2)."""
    from simulator.primitives.distributions import Fixed, LogNormal

    if isinstance(dist, LogNormal):
        return LogNormal(dist.median / 2, dist.sigma)
    if isinstance(dist, Fixed):
        return Fixed(dist.value / 2)
    return _Scaled(dist, 0.5)


class _Scaled:
    def __init__(self, dist, k):
        self.dist, self.k = dist, k

    def sample(self, rng, n):
        return self.dist.sample(rng, n) * self.k

    @property
    def mean(self):
        return self.dist.mean * self.k
