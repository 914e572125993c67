"""The article's basic design, one Region:

* connect: client -> API Gateway (new-connection quota) -> authorizer Lambda -> ``$connect``
  Lambda -> DynamoDB PutItem -> established;
* publish: client -> API Gateway (size limits, account throttle, billed message) ->
  ``$default`` Lambda -> DynamoDB Query of the channel index (1 MB pages) -> one
  PostToConnection per subscriber (see :mod:`.fanout`);
* disconnect: close frame -> ``$disconnect`` Lambda (best effort) -> DeleteItem; or the
  client vanishes: half-open until API Gateway notices, then ``$disconnect``; rows whose
  ``$disconnect`` never ran stay as zombies until a cleanup strategy removes them (410 on a
  post, TTL, a sweep);
* lifecycle (:mod:`.connections`): idle timeout and maximum connection duration, blips,
  incidents, heartbeats, reconnect policies, resume from a history store.

Control-path steps are SimPy events (callbacks on timeouts, not processes); connection
state lives in the struct-of-arrays registry; fan-out is vectorized.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.architectures.connections import ConnectionPaths
from simulator.architectures.fanout import Fanout
from simulator.aws.api_gateway import ApiGateway
from simulator.aws.dynamodb import Table
from simulator.aws.lambda_ import LambdaService
from simulator.aws.sdk import RetryPolicy
from simulator.lifecycle import Integrity, Reconnect, make_heartbeat
from simulator.metrics.histogram import LogHistogram
from simulator.metrics.recorder import Level
from simulator.primitives.distributions import Fixed, LogNormal
from simulator.primitives.events import Call
from simulator.scenario import build_dist
from simulator.units import MB
from simulator.workload.arrivals import ArrivalProcess
from simulator.workload.channels import ChannelPlan
from simulator.workload.population import OPEN, ConnectionRegistry


def _half(dist):
    """One-way latency from a round-trip distribution (RTT / 2)."""
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


class _Ctx:
    """State of one publish between its events."""

    __slots__ = ("t_pub", "start", "sender", "gen", "channel", "nbytes", "pages", "page",
                 "attempt", "deadline", "record")


class BasicArchitecture(ConnectionPaths):
    """Wires the components of the basic design for one run.

    Parameters
    ----------
    env : simpy.Environment
    scn : Scenario
    params : Params
    streams : Streams
    recorder : Recorder
    """

    name = "basic"

    def __init__(self, env, scn, params, streams, recorder):
        self.env = env
        self.scn = scn
        self.p = params
        self.s = streams
        self.rec = recorder
        self.c = recorder.c
        self.region = scn.region
        w = scn.workload
        # -- random inputs (named streams) --
        self.session_dist = build_dist(w.session_s)
        rtt = w.client_rtt_s and build_dist(w.client_rtt_s) or params["latency.client_rtt_s"]
        self.oneway = _half(rtt)
        self.route = params["latency.apigw_route_s"]
        self.u = streams.buffered("choices", _Uniform())
        self.d_oneway = streams.buffered("network", self.oneway)
        self.d_route = streams.buffered("api_gateway", self.route)
        self.d_item = streams.buffered("dynamodb", params["latency.dynamodb_item_s"])
        self.d_page = streams.buffered("dynamodb.query", params["latency.dynamodb_query_page_s"])
        self.d_s_per_mb = streams.buffered("dynamodb.query_mb",
                                           params["latency.dynamodb_query_s_per_mb"])
        self.d_backoff = streams.buffered("retries", _Uniform())
        # -- workload --
        population = w.clients + getattr(w.arrivals, "extra_clients", 0)
        self.channels = ChannelPlan(build_dist(w.channels.size), max(population, 1),
                                    streams["channels"])
        self.reg = ConnectionRegistry(self.channels.n, capacity=int(w.clients * 1.3) + 64)
        self.initial = int(round(w.clients * w.initially_connected))
        self.arrivals = ArrivalProcess(w.arrivals, w.clients, self.initial, self.session_dist.mean)
        self.payload = build_dist(w.publish.payload_bytes)
        # -- components --
        self.apigw = ApiGateway(params, self.region, scn.aws.api_gateway.other_api_rps)
        self.lam = LambdaService(params, recorder, self.region)
        fns = scn.aws.lambda_.functions
        self.f_auth = self._function("authorizer", fns.authorizer) if fns.authorizer else None
        self.f_connect = self._function("connect", fns.connect)
        self.f_disconnect = self._function("disconnect", fns.disconnect)
        self.f_default = self._function("default", fns.default)
        self.heartbeat = make_heartbeat(w.heartbeat, params)
        hb_lambda = self.heartbeat.kind == "app" and self.heartbeat.route == "lambda"
        self.f_heartbeat = self._function("heartbeat", fns.heartbeat) if hb_lambda else None
        cleanup = scn.app.cleanup
        self.sweep = cleanup.sweep
        self.f_sweep = self._function("sweep", fns.sweep) if self.sweep else None
        self.ttl = cleanup.ttl
        self.d_ttl = streams.buffered("dynamodb.ttl", params["latency.dynamodb_ttl_deletion_delay_s"])
        self.table = Table(params, scn.aws.dynamodb, recorder, self.region)
        self.retry = RetryPolicy.from_params(params)
        self.hist = LogHistogram()
        self.connect_hist = LogHistogram()
        self.fanout = Fanout(
            env, self.apigw.account, params["latency.post_to_connection_s"], self.oneway,
            self.retry, scn.app.posts_in_flight or params["sdk.http_max_sockets"], self.hist,
            streams["fanout"], scn.engine.throttle_tick_s, scn.engine.fanout_sample_above,
            scn.engine.fanout_sample_k, self._fanout_done, recorder, self.region)
        self.connected = Level()
        self.establishing = 0
        self.conn_inflight = 0  # attempts not yet established or refused (measured, not derived)
        self.pub_inflight = 0   # messages between API Gateway and their fan-out
        self.reset_idle = bool(params["behaviour.apigw_server_messages_reset_idle"])
        self.miss = float(params["behaviour.apigw_disconnect_miss_fraction"])
        self.half_detect = float(params["behaviour.apigw_half_open_detection_s"])
        self.graceful = w.disconnect.graceful_fraction
        self.warmup = scn.warmup_s
        self.echo = w.publish.echo_to_sender
        self.fragments = w.client_fragments_frames
        self.reconnect = Reconnect(w.reconnect)
        self.d_blip_detect = streams.buffered("blips.detection", build_dist(w.blips.client_detection_s))
        self.resume_cfg = scn.app.resume
        self.integrity = Integrity(self.channels.n, scn.app.resume)
        self.storms = [dict(at_s=None, dropped=0, reconnected=0, gave_up=0, rejected=0,
                            last_reconnect_s=None) for _ in w.incidents]
        self.zombie_hist = LogHistogram()
        self._calendar: list[tuple[float, int, int]] = []
        # hot-path constants
        self._account = self.apigw.account
        self._meter = self.apigw.metering
        self._size_limit = (self.apigw.max_payload if self.fragments
                            else min(self.apigw.max_payload, self.apigw.max_frame))
        self._item_bytes = self.table.item_bytes
        self._one_page_rows = self.table.page_bytes // self.table.item_bytes
        self._delete_on_410 = cleanup.on_410
        self._filter_expired = cleanup.ttl is not None and cleanup.ttl.filter_expired
        self._history_wu = 0
        if scn.app.resume.kind == "history":
            per = self.payload.mean + scn.app.resume.item_overhead_bytes
            self._history_wu = math.ceil(per / params["dynamodb.write_unit_bytes"])
        for k in _COUNTERS:
            self.c[k] += 0.0

    def _function(self, name, cfg):
        p = self.p
        init = build_dist(cfg.init_s) if cfg.init_s else p["latency.lambda_init_s"]
        handler = build_dist(cfg.handler_s) if cfg.handler_s else p["latency.lambda_handler_s"]
        timeout = cfg.timeout_s or p["lambda.default_timeout_s"]
        return self.lam.function(name, cfg, self.s.buffered(f"lambda.{name}.init", init),
                                 self.s.buffered(f"lambda.{name}.handler", handler), timeout)

    # -- scheduling helpers --------------------------------------------------------------------
    def _at(self, delay: float, fn, value) -> None:
        Call(self.env, delay, fn, value)

    def _backoff(self, retry_index: int) -> float:
        return float(self.retry.delay(retry_index, self.d_backoff()))

    # -- start -------------------------------------------------------------------------------------
    def start(self) -> None:
        env = self.env
        w = self.scn.workload
        self._populate()
        env.process(self._connection_source())
        env.process(self._publish_source())
        env.process(self._calendar_pump())
        env.process(self._sweeper())
        if w.blips.per_client_per_h > 0:
            env.process(self._blip_source())
        if self.heartbeat.kind == "app":
            env.process(self._heartbeat_source())
        if self.heartbeat.kind == "ws_ping":
            env.process(self._ping_source())
        if self.sweep is not None:
            env.process(self._sweep_source())
        for k, inc in enumerate(w.incidents):
            self._at(inc.at_s, self._incident, (k, inc))

    # -- publishes --------------------------------------------------------------------------------
    def _publish_source(self):
        env = self.env
        rng = self.s["publishes"]
        W = self.scn.engine.window_s
        pub = self.scn.workload.publish
        end = self.scn.duration_s
        t = 0.0
        while t < end:
            t1 = min(t + W, end)
            rate = (pub.total_rate_per_s if pub.total_rate_per_s is not None
                    else pub.rate_per_client_per_s * self.reg.n_open)
            n = rng.poisson(rate * (t1 - t)) if rate > 0 else 0
            if n:
                ts = np.sort(rng.uniform(t, t1, n))
                arrive = ts + self.oneway.sample(rng, n) + self.route.sample(rng, n)
                size = self.payload.sample(rng, n)
                for a, tk, b in zip(arrive.tolist(), ts.tolist(), size.tolist()):
                    self._at(a - env.now, self._publish_arrive, (tk, b))
            t = t1
            yield env.timeout(t - env.now)

    def _publish_arrive(self, ev) -> None:
        """A client's message reaches API Gateway and invokes $default."""
        now = self.env.now
        t_pub, nbytes = ev._value
        reg = self.reg
        i = reg.random_open(self.u())
        if i < 0:
            return
        c = self.c
        c["publishes.attempted"] += 1
        self.pub_inflight += 1
        reg.last_send[i] = now
        if nbytes > self._size_limit:
            self._oversize(now, i, nbytes)
            return
        if not self._account.try_take(now):
            self._pub_rejected("apigw_throttle")
            c["api_gateway.throttled_messages"] += 1
            self.rec.breaches.add(now, "api_gateway.account_throttle", "api_gateway:$default",
                                  self.region)
            return
        c["apigw.messages.inbound"] += 1 if nbytes <= self._meter else self.apigw.units(nbytes)
        f = self.f_default
        t = f.begin(now)
        if t is None:
            self._pub_rejected("lambda_throttle")
            return
        x = _Ctx()
        x.t_pub = t_pub
        x.start = now
        x.sender = i
        x.gen = reg.gen[i]
        ch = int(reg.channel[i])
        x.channel = ch
        x.nbytes = nbytes
        x.deadline = now + f.timeout
        x.record = t_pub >= self.warmup
        rows = reg.live[ch] + reg.half[ch] + reg.gone[ch]
        x.pages = self.table.pages(rows) if rows > self._one_page_rows else (rows * self._item_bytes,)
        x.page = 0
        x.attempt = 1
        pages = x.pages
        if len(pages) == 1 and self.table.query_page(now, ch, pages[0]):
            t_q = t + self.d_page() + pages[0] / MB * self.d_s_per_mb()
            if t_q < x.deadline and self._fan_direct(now, t_q, x):
                return
            self._at(t_q - now, self._query_done, x)
            return
        self._query(now, t, x)

    def _fan_direct(self, now: float, t_q: float, x: _Ctx) -> bool:
        """When the query needs one page and the throttle does not bind, compute the
        fan-out now for its start at ``t_q`` (the query's response), one event fewer per
        message: the channel's rows are read and the post tokens taken at ``now``, a few
        ms early. Returns False (nothing done) when the throttle would bind."""
        reg = self.reg
        ch = x.channel
        live = reg.live[ch] - (0 if self.echo else 1)   # the sender is OPEN at ``now``
        half = reg.half[ch]
        gone = reg.gone[ch]
        if self._filter_expired and gone:
            gone -= reg.expired_zombies(ch, now)
        n = live + half + gone
        if not self.fanout.can_fast(now, n):
            return False
        self._published(t_q, x, live, half, gone, now)
        return True

    def _pub_rejected(self, why: str) -> None:
        self.pub_inflight -= 1
        self.c["publishes.rejected"] += 1
        self.c[f"publishes.rejected.{why}"] += 1

    def _oversize(self, now: float, i: int, nbytes: float) -> None:
        """API Gateway closes a connection that sends a message above its size limits (1009)."""
        why = self.apigw.payload_verdict(nbytes, self.fragments)
        self._pub_rejected("oversize")
        self.rec.breaches.add(now, f"api_gateway.max_{why}_bytes", "api_gateway:$default",
                              self.region)
        self._drop(now, i, "oversize")

    def _query(self, now: float, t: float, x: _Ctx) -> None:
        """Issue page ``x.page`` of the subscriber query (capacity taken at ``now``); the
        response arrives as an event at ``t`` + latency."""
        nbytes = x.pages[x.page]
        if self.table.query_page(now, x.channel, nbytes):
            lat = self.d_page() + nbytes / MB * self.d_s_per_mb()
            x.attempt = 1
            self._at(t + lat - now, self._query_done, x)
            return
        if x.attempt < self.retry.max_attempts:
            retry_at = t + self.d_item() + self._backoff(x.attempt - 1)
            x.attempt += 1
            self._at(retry_at - now, self._query_retry, x)
            return
        self._pub_rejected("dynamodb_throttle")
        self.f_default.finish(x.start, t + self.d_item())

    def _query_retry(self, ev) -> None:
        now = self.env.now
        self._query(now, now, ev._value)

    def _query_done(self, ev) -> None:
        now = self.env.now
        x = ev._value
        x.page += 1
        if now >= x.deadline:
            self._pub_rejected("lambda_timeout")
            self.f_default.finish(x.start, x.deadline)
            return
        if x.page < len(x.pages):
            self._query(now, now, x)
            return
        reg = self.reg
        ch = x.channel
        live = reg.live[ch]
        i = x.sender
        if not self.echo and reg.state[i] == OPEN and reg.gen[i] == x.gen:
            live -= 1
        gone = reg.gone[ch]
        if self._filter_expired and gone:
            gone -= reg.expired_zombies(ch, now)
        self._published(now, x, live, reg.half[ch], gone)

    def _published(self, now: float, x: _Ctx, live: int, half: int, gone: int,
                   t_tokens: float | None = None) -> None:
        """The subscriber list is in: count the message and start its fan-out at ``now``."""
        c = self.c
        c["messages.published"] += 1
        self.pub_inflight -= 1
        c["deliveries.attempted"] += live + half + gone
        self.reg.last_msg[x.channel] = now
        self.integrity.published(x.channel, now, live)
        if self._history_wu:
            c["dynamodb.history_write_units"] += self._history_wu
        res = self.fanout.start(now, x.t_pub, live, half, gone, x.deadline, x.record, x,
                                t_tokens)
        if res is not None:
            self._fanout_done(x, res)

    def _fanout_done(self, x: _Ctx, res) -> None:
        self._count(x, res)
        end = res.end
        if res.gone and self._delete_on_410:
            k = self.reg.delete_zombies(x.channel, self.env.now)
            if k:
                now = self.env.now
                for _ in range(k):
                    self.table.write_item(now, x.channel)
                self.c["dynamodb.deletes_on_410"] += k
                end = min(end + self.d_item(), x.deadline)
        self.f_default.finish(x.start, end)

    def _count(self, x: _Ctx, res) -> None:
        """Count a fan-out's decided posts (totals derived in ``finalize``)."""
        c = self.c
        c["deliveries.succeeded"] += res.succeeded
        self.integrity.posts(res.succeeded, res.failed_live)
        if res.failed:
            c["deliveries.failed"] += res.failed
        if res.accepted_stale:
            c["deliveries.stale_lost"] += res.accepted_stale
        if res.gone:
            c["deliveries.stale_gone"] += res.gone
        delivered = res.succeeded + res.accepted_stale
        if delivered:
            units = 1 if x.nbytes <= self._meter else self.apigw.units(x.nbytes)
            c["apigw.messages.outbound"] += units * delivered
            c["data_transfer.out_bytes"] += x.nbytes * delivered

    # -- usage ---------------------------------------------------------------------------------------
    def usage_snapshot(self, now: float) -> dict:
        """Billable counters at ``now`` (the engine takes one at the end of the warm-up)."""
        self.connected.close(now)
        c = self.c
        return {
            "t": now,
            "apigw.messages": c["apigw.messages.inbound"] + c["apigw.messages.outbound"],
            "apigw.connection_minutes": self.connected.area / 60.0,
            "lambda.requests": c["lambda.requests"],
            "lambda.gb_seconds.x86_64": c.get("lambda.gb_seconds.x86_64", 0.0),
            "lambda.gb_seconds.arm64": c.get("lambda.gb_seconds.arm64", 0.0),
            # the connection table, plus the history table when messages are kept for resume
            "dynamodb.read_request_units": c["dynamodb.read_units"] + c["resume.read_units"],
            "dynamodb.write_request_units": (c["dynamodb.write_units"]
                                             + c["dynamodb.history_write_units"]),
            "data_transfer.internet_gb": c["data_transfer.out_bytes"] / 1e9,
            "deliveries": c["deliveries.succeeded"],
            "connected_seconds": self.connected.area,
            "table_gb": (self.reg.n_rows * 2 * self.table.item_bytes
                         + self._history_bytes(now)) / 1e9,
            "stale_posts": c["deliveries.stale_lost"] + c["deliveries.stale_gone"],
            "stale_billed": c["deliveries.stale_lost"],
            "posts": (c["deliveries.succeeded"] + c["deliveries.stale_lost"]
                      + c["deliveries.stale_gone"]),
            "default_gb_seconds": c["lambda.default.gb_seconds"],
        }

    def _history_bytes(self, now: float) -> float:
        """Bytes held by the history table (messages within the retention)."""
        if not self._history_wu:
            return 0.0
        keep = min(self.resume_cfg.retention_s, max(now, 0.0))
        rate = self.c["messages.published"] / max(now, 1e-9)
        return rate * keep * (self.payload.mean + self.resume_cfg.item_overhead_bytes)

    # -- end of run ------------------------------------------------------------------------------
    def finalize(self, now: float) -> None:
        for x, partial in self.fanout.partial():
            self._count(x, partial)
        self.fanout.flush()
        self.connected.close(now)
        self.lam.advance(now)
        c = self.c
        c["apigw.connection_minutes"] = self.connected.area / 60.0
        c["deliveries.stale"] = c["deliveries.stale_lost"] + c["deliveries.stale_gone"]
        c["apigw.messages"] = c["apigw.messages.inbound"] + c["apigw.messages.outbound"]
        c["api_gateway.posts"] = (c["deliveries.succeeded"] + c["deliveries.stale"]
                                  + c["api_gateway.throttled_posts"])
        c["deliveries.in_flight"] = self.fanout.in_flight_posts
        c["connections.in_flight"] = self.conn_inflight
        c["publishes.in_flight"] = self.pub_inflight
        # zombie rows: lifetimes of those removed, and the ones still there (censored at the end)
        reg = self.reg
        if reg.zombie_lifetimes:
            self.zombie_hist.add(np.maximum(np.asarray(reg.zombie_lifetimes), 1e-6))
        # rows still outliving their clients count with their age so far (a lower bound)
        alive = np.flatnonzero(reg.was_zombie & (reg.state != 0))
        if alive.size:
            self.zombie_hist.add(np.maximum(now - reg.gone_at[alive], 1e-6))
        c["zombie_rows.censored"] = alive.size
        integ = self.integrity
        c["integrity.intended"] = integ.intended
        c["integrity.delivered"] = integ.delivered
        c["integrity.recovered"] = integ.recovered
        c["integrity.duplicated"] = integ.duplicated
        c["integrity.duplicates_suppressed"] = integ.dup_suppressed
        c["integrity.lost"] = integ.lost
        c["integrity.missed"] = integ.missed
        c["integrity.pending"] = integ.pending + self.fanout.in_flight_live_posts


class _Uniform:
    """U(0, 1) as a distribution object (for buffered draws)."""

    mean = 0.5

    def sample(self, rng, n):
        return rng.random(n)


_COUNTERS = (
    "connections.attempted", "connections.established", "connections.rejected",
    "connections.initial", "connections.reconnect_attempts", "connections.abandoned",
    "connections.blips", "publishes.attempted", "publishes.rejected",
    "messages.published", "deliveries.attempted", "deliveries.succeeded", "deliveries.failed",
    "deliveries.stale", "deliveries.stale_lost", "deliveries.stale_gone", "apigw.messages",
    "apigw.messages.inbound", "apigw.messages.outbound", "api_gateway.throttled_posts",
    "api_gateway.throttled_messages", "api_gateway.posts", "data_transfer.out_bytes",
    "disconnect.missed", "disconnect.throttled", "disconnect.failed", "dynamodb.deletes_on_410",
    "dynamodb.history_write_units", "fanout.throttled_fanouts", "heartbeats.sent",
    "heartbeats.throttled", "heartbeats.unrecorded", "cleanup.sweeps", "cleanup.sweep_deletes",
    "cleanup.ttl_deletes", "cleanup.heartbeat_timeouts", "cleanup.get_connection_calls",
    "cleanup.throttled_checks", "cleanup.sweeps_throttled", "resume.requests", "resume.failed",
    "resume.posts", "resume.throttled_posts", "resume.read_units", "lambda.default.gb_seconds",
)
