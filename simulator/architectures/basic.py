"""The article's basic design, one Region, and the API Gateway designs built on it:

* connect: client -> API Gateway (new-connection quota) -> authorizer Lambda -> ``$connect``
  Lambda -> DynamoDB PutItem -> established (:mod:`.apigw_edge`);
* publish: client -> API Gateway (size limits, account throttle, billed message) ->
  ``$default`` Lambda -> a delivery strategy: in the basic design (:mod:`.delivery`) a
  DynamoDB Query of the channel index (1 MB pages) and one PostToConnection per subscriber
  (:mod:`.fanout`); in the fan-out tier designs, worker Lambdas behind SNS or SQS
  (:mod:`.tiers`);
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
from collections.abc import Callable

from simulator.architectures.apigw_edge import ApiGatewayEdge
from simulator.architectures.base import (
    Design,
    RegionStack,
    common_probes,
    lambda_function,
    lambda_service,
)
from simulator.architectures.delivery import DirectFanout
from simulator.architectures.fallback import add_usage, apigw_path
from simulator.architectures.fanout import Fanout
from simulator.architectures.features import feature_of, feature_sender
from simulator.architectures.routing import RegionalEdges
from simulator.architectures.tiers import SnsFanout, SqsFanout
from simulator.aws.api_gateway import ApiGateway
from simulator.aws.dynamodb import Table
from simulator.aws.sdk import RetryPolicy
from simulator.lifecycle.heartbeat import AppHeartbeat
from simulator.primitives.events import Call
from simulator.scenario import history_store
from simulator.units import MINUTE
from simulator.workload.population import CLOSING, OPEN, ZOMBIE


class _Ctx:
    """State of one publish between its events."""

    __slots__ = ("t_pub", "start", "sender", "gen", "channel", "nbytes", "pages", "page",
                 "attempt", "deadline", "record", "remote", "route", "init", "t_run", "cp",
                 "kind")
    t_pub: float
    start: float
    sender: int
    gen: int
    channel: int
    nbytes: float
    pages: list[float] | tuple[float, ...]
    page: int
    attempt: int
    deadline: float
    record: bool
    remote: bool
    route: float
    init: float
    t_run: float
    cp: tuple[float, float, float, float, float, float]
    kind: str | None   # a feature event's kind (presence, typing), None for a user's message


class BasicArchitecture(Design):
    """Wires the components of an API Gateway design for one run; the delivery strategy is
    the class attribute ``delivery_cls`` (the basic design: :class:`DirectFanout`).

    Parameters
    ----------
    env : simpy.Environment
    scn : Scenario
    params : Params
    streams : Streams
    recorder : Recorder
    host : Design, optional
        For one Region of a design over several Regions: the design whose workload,
        lifecycle and histograms this Region shares (``rix``: its Region index).
    """

    name = "basic"
    delivery_cls: type[DirectFanout | SnsFanout | SqsFanout] = DirectFanout

    def __init__(self, env, scn, params, streams, recorder, host=None, rix: int = 0):
        if host is None:
            super().__init__(env, scn, params, streams, recorder)
        else:
            self.share(host, params, rix)
        recorder = self.rec
        self.rix = rix
        self._sfx = "" if rix == 0 else f"@{self.region}"   # this Region's random streams
        self.cross: Callable | None = None   # a design over several Regions: what a publish does beyond this one
        w = scn.workload
        d = self.draws
        # -- components --
        self.apigw = ApiGateway(params, self.region, scn.aws.api_gateway.other_api_rps,
                                recorder.breaches)
        self.lam = lambda_service(params, recorder, self.region, self.s, self._sfx)
        fns = scn.aws.lambda_.functions
        self.f_auth = self.function("authorizer", fns.authorizer) if fns.authorizer else None
        self.f_connect = self.function("connect", fns.connect)
        self.f_disconnect = self.function("disconnect", fns.disconnect)
        self.f_default = self.function("default", fns.default)
        hb_lambda = isinstance(self.heartbeat, AppHeartbeat) and self.heartbeat.route == "lambda"
        self.f_heartbeat = self.function("heartbeat", fns.heartbeat) if hb_lambda else None
        cleanup = scn.app.cleanup
        self.f_sweep = self.function("sweep", fns.sweep) if cleanup.sweep else None
        self.table = Table(params, scn.aws.dynamodb, recorder, self.region)
        self.retry = RetryPolicy.from_params(params)
        self.P = scn.app.posts_in_flight or params["sdk.http_max_sockets"]
        self.warmup = scn.warmup_s
        self.echo = w.publish.echo_to_sender
        self.fragments = w.client_fragments_frames
        post = params["latency.post_to_connection_s"]
        self.edge = ApiGatewayEdge(
            env, scn, streams, recorder, self.conns, self.apigw, self.table,
            {"authorizer": self.f_auth, "connect": self.f_connect,
             "disconnect": self.f_disconnect, "default": self.f_default,
             "heartbeat": self.f_heartbeat, "sweep": self.f_sweep},
            self.retry, d, self.heartbeat, self.integrity, self.payload, self.P, post.mean, params)
        self.edge.rix = rix
        self.edge.up = lambda: self.router.up[rix]
        if (levels := self.conns.connected_r) is not None:   # several Regions
            self.edge.connected_now = lambda: levels[rix].value
        if host is None:
            self.conns.attach(RegionalEdges([self.edge], self.router, self.conns))
        self.router.on_fail.append(self._region_failed)
        self.delivery = self.delivery_cls(self)
        self.regions = {self.region: RegionStack(self.region, self.apigw, self.lam, self.table,
                                                 self.delivery)}
        # hot-path constants
        self._meter = self.apigw.metering
        self._size_limit = (self.apigw.max_payload if self.fragments
                            else min(self.apigw.max_payload, self.apigw.max_frame))
        self._delete_on_410 = cleanup.on_410
        self._filter_expired = cleanup.ttl is not None and cleanup.ttl.filter_expired
        self._history_wu = 0
        self._store = history_store(scn)   # (retention, item overhead) when messages are kept
        if self._store is not None:
            per = self.payload.mean + self._store[1]
            self._history_wu = math.ceil(per / params["dynamodb.write_unit_bytes"])
        if self.fallback is not None:   # this Region answers its pollers
            self.fallback.attach(rix, apigw_path(self.fallback, self))
        for k in _COUNTERS:
            self.c[k] += 0.0

    def function(self, name, cfg):
        """A Lambda function of this Region (its own init and handler streams)."""
        return lambda_function(self.lam, self.s, self.p, name, cfg, self._sfx)

    def make_fanout(self, stream: str, on_done, posts_in_flight: int | None = None) -> Fanout:
        """A fan-out engine posting through this Region's account throttle (random stream
        ``stream``; ``posts_in_flight`` sockets per Lambda, default the scenario's)."""
        e = self.scn.engine
        f = Fanout(self.env, self.apigw.throttle, self.p["latency.post_to_connection_s"],
                   self.oneway, self.retry, posts_in_flight or self.P, self.hist,
                   self.s[stream + self._sfx], e.throttle_tick_s, e.fanout_sample_above,
                   e.fanout_sample_k, on_done, self.rec, self.region)
        if self.geo is not None:
            f.by_location(self.geo, self.rix, list(self.loc_hists.values()), self.reg,
                          self.region_hists[self.region])
        f.stages = self.stage_hist
        return f

    def _region_failed(self, r: int) -> None:
        """Region ``r`` failed: if it is this one, its throttled fan-outs stop posting."""
        if r == self.rix:
            for engine in self.apigw.throttle.engines:
                engine.abort(self.env.now)

    # -- scheduling helpers --------------------------------------------------------------------
    def at(self, delay: float, fn, value) -> None:
        Call(self.env, delay, fn, value)

    def backoff(self, retry_index: int) -> float:
        return float(self.retry.delay(retry_index, self.draws.d_backoff()))

    # -- the Architecture protocol ---------------------------------------------------------------
    def start(self) -> None:
        self.conns.start(sources=self.message_sources(self._publish_arrive))

    def join_history(self, now: float, i: int, n: int) -> float | None:
        """Over the socket: a billed message, $default, a Query of the history table, a post
        per message (the resume path's)."""
        assert self._store is not None   # history on join keeps the messages
        return self.edge.join_history(now, n, self._store[1])

    def store_presence(self, now: float, key: int) -> bool:
        """The presence set is the connection table's channel partition (a put or delete of
        an item the channel index projects)."""
        return self.table.write_item(now, key)

    def tick(self, now: float, step: float) -> None:
        for r in self.regions.values():
            r.lam.advance(now)
            r.table.tick(now, step)

    def probes(self, rec) -> None:
        common_probes(rec, self.reg, self.regions, self)
        self.delivery.probes(rec)

    # -- publishes --------------------------------------------------------------------------------
    def _publish_arrive(self, ev) -> None:
        """A client's message reaches API Gateway and invokes $default."""
        now = self.env.now
        v = ev._value
        t_pub, nbytes = v[0], v[1]
        reg = self.reg
        feature = feature_of(v)
        kind: str | None = None
        if feature is not None:   # a member's event (a leave's member is gone)
            sent = feature_sender(reg, v, self.c, now)
            if sent is None:
                return
            i, key, kind = sent
        elif len(v) > 3:   # the sender was chosen when it sent (a geography)
            i = v[3]
            if reg.gen[i] != v[4] or reg.state[i] != OPEN:
                self.c["publishes.sender_gone"] += 1   # its connection closed meanwhile
                return
        else:
            i = reg.random_open(self.u())
            if i < 0:
                return
        if feature is None:
            key = int(reg.channel[i])
            reg.last_send[i] = now
        c = self.c
        c["publishes.attempted"] += 1
        if nbytes > self._size_limit:
            self._oversize(now, i, nbytes)
            return
        if not self.apigw.admit(now, "api_gateway:$default"):
            self.pub_rejected("apigw_throttle")
            c["api_gateway.throttled_messages"] += 1
            return
        c["apigw.messages.inbound"] += 1 if nbytes <= self._meter else self.apigw.units(nbytes)
        f = self.f_default
        t = f.begin(now)
        if t is None:
            self.pub_rejected("lambda_throttle")
            return
        x = _Ctx()
        x.t_pub = t_pub
        x.start = now
        x.sender = i
        x.gen = v[4] if feature is not None else reg.gen[i]
        x.channel = key
        x.nbytes = nbytes
        x.deadline = now + f.timeout
        x.record = t_pub >= self.warmup and kind is None
        x.kind = kind
        x.remote = False
        x.route = v[2] if len(v) > 2 else 0.0
        x.init = f.last_init
        x.t_run = t
        self.delivery.begin(now, t, x)

    def pub_rejected(self, why: str, x=None) -> None:
        """A message is refused before its fan-out starts (``why``: the limit). Another
        Region's part of a message (``x.remote``) fails alone: counted, the message is not."""
        if x is not None and x.remote:
            self.c[f"cross_region.failed.{why}"] += 1
            self.c["cross_region.failed"] += 1
            return
        self.c["publishes.rejected"] += 1
        self.c[f"publishes.rejected.{why}"] += 1

    def _oversize(self, now: float, i: int, nbytes: float) -> None:
        """API Gateway closes a connection that sends a message above its size limits (1009)."""
        why = self.apigw.payload_verdict(nbytes, self.fragments)
        self.pub_rejected("oversize")
        self.rec.breaches.add(now, f"api_gateway.max_{why}_bytes", "api_gateway:$default",
                              self.region)
        if i >= 0:   # a member's connection (a room's count update has none)
            self.conns.drop(now, i, "oversize")

    # -- services for the delivery strategies ----------------------------------------------------
    def recipients(self, now: float, x: _Ctx, sender_open: bool = False) -> tuple[int, int, int]:
        """Rows of the message's channel at ``now``: (live, half-open, gone), the sender
        excepted unless messages echo (``sender_open``: the sender is known to be open)."""
        reg = self.reg
        ch = x.channel
        live = reg.live[ch]
        if not self.echo and x.sender >= 0:
            if sender_open:
                live -= 1
            elif reg.state[x.sender] == OPEN and reg.gen[x.sender] == x.gen:
                live -= 1
        half = reg.half[ch]
        gone = reg.gone[ch]
        if x.kind == "leave" and reg.gen[x.sender] == x.gen and \
                reg.state[x.sender] in (CLOSING, ZOMBIE):
            gone -= 1   # the leaver's own row, waiting for $disconnect: nobody to post to
        if self._filter_expired and gone:
            gone -= reg.expired_zombies(ch, now)
        return live, half, gone

    def message_published(self, now: float, x: _Ctx, live: int, half: int, gone: int) -> None:
        """The subscriber list of ``x`` is known at ``now``: count the message, its intended
        recipients and its posts to come."""
        c = self.c
        c["deliveries.attempted"] += live + half + gone
        self.reg.last_msg[x.channel] = now
        if x.kind is not None:
            c[f"features.{x.kind}.recipients"] += live + half + gone
        if x.remote:   # another Region's part of a message counted where it was published
            if x.kind is None:
                self.integrity.intended += live
            return
        c["messages.published"] += 1
        # the control path's stages (network up, API Gateway, cold start, handler, query) and
        # when the list was in: the fan-outs add theirs
        x.cp = (x.start - x.route - x.t_pub, x.route, x.init, x.t_run - x.start - x.init,
                now - x.t_run, now)
        if x.kind is not None:   # a feature event: not in the ledger, not kept in the history
            c["features.published"] += 1
            if self.cross is not None:
                self.cross(now, x, self)
            return
        self.integrity.published(x.channel // self.reg.n_reg, now, live)
        if self._history_wu:
            c["dynamodb.history_write_units"] += self._history_wu
        if self.fallback is not None:
            cp = x.cp
            self.fallback.published(now, x.channel // self.reg.n_reg, x.t_pub, x.nbytes,
                                    dict(zip(_CP_STAGES, cp)), x.record)
        if self.cross is not None:
            self.cross(now, x, self)

    def count_posts(self, x, res, settle_failed: bool = True) -> None:
        """Count a fan-out's decided posts (totals derived in ``finalize``); with
        ``settle_failed`` False its failed posts are left to a retry (not counted)."""
        c = self.c
        c["deliveries.succeeded"] += res.succeeded
        if getattr(x, "kind", None) is None:   # the users' messages (the ledger's)
            self.integrity.posts(res.succeeded, res.failed_live if settle_failed else 0)
        if res.failed and settle_failed:
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

    def delete_on_410(self, x, res, end: float) -> float:
        """With ``cleanup.on_410``, the posting Lambda deletes the rows that answered 410;
        returns when it is done (its deadline at the latest)."""
        if res.gone and self._delete_on_410:
            k = self.reg.delete_zombies(x.channel, self.env.now)
            if k:
                now = self.env.now
                for _ in range(k):
                    self.table.write_item(now, x.channel)
                self.c["dynamodb.deletes_on_410"] += k
                return min(end + self.draws.d_item(), x.deadline)
        return end

    # -- usage ---------------------------------------------------------------------------------------
    def usage_snapshot(self, now: float) -> dict:
        """Billable quantities at ``now`` per Region and item (``usage``), and the
        quantities the cost breakdowns need (``aux``)."""
        conn = self._connected()
        conn.close(now)
        c = self.c
        usage = {
            "apigw.messages": c["apigw.messages.inbound"] + c["apigw.messages.outbound"],
            "apigw.connection_minutes": conn.area / MINUTE,
            "lambda.requests": c["lambda.requests"],
            "lambda.gb_seconds.x86_64": c.get("lambda.gb_seconds.x86_64", 0.0),
            "lambda.gb_seconds.arm64": c.get("lambda.gb_seconds.arm64", 0.0),
            # the connection table, plus the history table when messages are kept for resume
            "dynamodb.read_request_units": (c["dynamodb.read_units"] + c["resume.read_units"]
                                            + c["join_history.read_units"]),
            "dynamodb.write_request_units": (c["dynamodb.write_units"]
                                             + c["dynamodb.history_write_units"]),
            "data_transfer.internet_gb": c["data_transfer.out_bytes"] / 1e9,
            **self.delivery.usage(),
        }
        if self.fallback is not None:
            add_usage(usage, self.fallback.usage(self.rix, now))
        aux = {
            "deliveries": c["deliveries.succeeded"],
            "connected_seconds": conn.area,
            "table_gb": (self.reg.n_rows * 2 * self.table.item_bytes
                         + self._history_bytes(now)) / 1e9,
            "stale_posts": c["deliveries.stale_lost"] + c["deliveries.stale_gone"],
            "stale_billed": c["deliveries.stale_lost"],
            "posts": (c["deliveries.succeeded"] + c["deliveries.stale_lost"]
                      + c["deliveries.stale_gone"]),
            "default_gb_seconds": c["lambda.default.gb_seconds"],
        }
        return {"t": now, "usage": {self.region: usage}, "aux": aux}

    def _connected(self):
        """The level of connections open in this Region (billed connection minutes)."""
        r = self.conns.connected_r
        return self.conns.connected if r is None else r[self.rix]

    def _history_bytes(self, now: float) -> float:
        """Bytes held by the history table (messages within the retention)."""
        if not self._history_wu:
            return 0.0
        assert self._store is not None
        retention, overhead = self._store
        keep = min(retention, max(now, 0.0))
        users = self.c["messages.published"] - self.c.get("features.published", 0.0)   # events: not kept
        return users / max(now, 1e-9) * keep * (self.payload.mean + overhead)

    # -- end of run ------------------------------------------------------------------------------
    def finalize(self, now: float) -> None:
        self.finalize_region(now)
        self.c["connections.in_flight"] = self.conns.in_flight()
        self.c["publishes.in_flight"] = publishes_in_flight(self.env)
        self._zombie_lifetimes(now)
        self.integrity.count(self.c, self.delivery.in_flight_live_posts)

    def finalize_region(self, now: float) -> None:
        """Settle this Region's fan-outs and derive its own totals."""
        self.delivery.finalize(now)
        conn = self._connected()
        conn.close(now)
        for r in self.regions.values():
            r.lam.advance(now)
        c = self.c
        c["apigw.connection_minutes"] = conn.area / MINUTE
        c["deliveries.stale"] = c["deliveries.stale_lost"] + c["deliveries.stale_gone"]
        c["apigw.messages"] = c["apigw.messages.inbound"] + c["apigw.messages.outbound"]
        c["api_gateway.posts"] = (c["deliveries.succeeded"] + c["deliveries.stale"]
                                  + c["api_gateway.throttled_posts"])
        c["deliveries.in_flight"] = self.delivery.in_flight_posts


def publishes_in_flight(env) -> int:
    """Messages under way, counted from the live state: the pending events that carry a
    message whose subscriber list is not in yet (a running count would move with the totals
    and hide a message some path dropped)."""
    n = 0
    for _, _, _, ev in env._queue:
        v = getattr(ev, "_value", None)
        x = v[0] if isinstance(v, tuple) and v else v
        if isinstance(x, _Ctx) and not getattr(x, "remote", True) \
                and getattr(x, "cp", None) is None:
            n += 1
    return n


class SnsArchitecture(BasicArchitecture):
    """The basic design with an SNS fan-out tier (:class:`~.tiers.SnsFanout`)."""

    name = "sns"
    delivery_cls = SnsFanout


class SqsArchitecture(BasicArchitecture):
    """The basic design with a sharded SQS fan-out tier (:class:`~.tiers.SqsFanout`)."""

    name = "sqs"
    delivery_cls = SqsFanout

    @classmethod
    def check(cls, scn, params) -> list:
        return SqsFanout.check(scn, params)


#: the stages of a message's control path (``_Ctx.cp``)
_CP_STAGES = ("network", "api_gateway", "lambda_cold_start", "lambda_handler", "dynamodb")

_COUNTERS = (   # beyond SUMMARY_COUNTERS
    "apigw.messages.inbound", "apigw.messages.outbound", "disconnect.missed",
    "disconnect.throttled", "disconnect.failed", "fanout.throttled_fanouts",
    "heartbeats.unrecorded", "cleanup.sweeps", "cleanup.get_connection_calls",
    "cleanup.throttled_checks", "cleanup.sweeps_throttled", "resume.requests", "resume.failed",
    "resume.posts", "resume.throttled_posts", "lambda.default.gb_seconds",
)
