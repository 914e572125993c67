"""Designs where a pub/sub service holds the clients' sockets and broadcasts natively:
AWS AppSync Events (``appsync``) and a managed pub/sub service (``managed``, one vendor's
published figures). No API Gateway, no ``$connect`` / ``$disconnect`` Lambdas, no connection
table and no per-subscriber API call: the service fans a message out to the channel.

The parts:

* :class:`ServiceEdge`: the :class:`~.connections.Edge` of these designs. A connection-rate
  quota and a handshake latency; the service owns connection state, so a closed connection
  leaves no row (no zombies); it keeps connections alive itself (no idle timeout, no maximum
  duration is published) and notices a vanished client only when its keep-alive writes fail.
* :class:`Broadcast`: a client's publish reaches the service, which checks its limits (message
  size, per-connection publish rate, inbound rate per API or per channel) and writes the
  message to every subscriber of the channel, within its outbound rate.

What the two designs differ in is a :class:`ServiceSpec`: catalog names, limits, latencies,
and how usage is billed.

Simplifications (stated): resume from a history store is not modelled for these designs (a
scenario asking for it is refused); the service's keep-alives are not billed (AWS does not
say whether AppSync bills its ``ka`` messages; the vendor does not bill heartbeats); a
publish refused by a limit is lost (the client does not retry it); a delivery beyond the
outbound rate is lost.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.architectures.base import (
    Design,
    RegionStack,
    common_probes,
    sender_slot,
)
from simulator.architectures.connections import StatelessEdge
from simulator.architectures.fallback import HeldPolls, OwnHttpApi, add_usage
from simulator.architectures.features import feature_of, feature_sender, open_sender
from simulator.architectures.routing import RegionalEdges
from simulator.errors import ScenarioError
from simulator.primitives.events import Call
from simulator.primitives.token_bucket import TokenBucket
from simulator.units import MINUTE

COUNTERS = ("service.operations", "service.messages", "service.keepalives",
            "service.channel_seconds", "service.deliveries_refused",
            "features.presence.store_write_units", "service.native_counts")


class ServiceSpec:
    """What distinguishes one pub/sub service: its catalog namespace and component name,
    which limits it has, and how it bills.

    Attributes
    ----------
    ns : str
        Catalog and scenario namespace (``appsync``, ``managed``).
    end_to_end : bool
        Its delivery latency is measured publisher -> subscriber (True), or service-side,
        from the publish's arrival to the write to the subscriber's socket (False).
    """

    ns = ""
    end_to_end = False
    #: whether presence needs the application's own store (the service has none)
    presence_store = False
    #: whether the service sends rooms' member counts itself (billed outbound only)
    native_counts = False

    def limits(self, p, scn) -> dict:
        raise NotImplementedError

    def usage(self, c, connected_minutes: float, out_bytes: float) -> dict:
        raise NotImplementedError

    def join_history(self, arch, now: float, n: int) -> float | None:
        raise NotImplementedError

    def fallback(self, arch, fb):
        """Attach the poll path of the clients without WebSockets (``features.fallback``);
        returns the design's own HTTP API for them, or None."""
        raise NotImplementedError


class AppSyncSpec(ServiceSpec):
    """AWS AppSync Events: operations metered in 5 KB units (connects, subscriptions,
    publishes, deliveries), connection-minutes, and data transfer out at EC2 rates."""

    ns = "appsync"
    end_to_end = False
    presence_store = True     # AppSync Events has no presence: the application's table

    def limits(self, p, scn) -> dict:
        return {
            "connect_per_s": p["appsync.connect_per_s"],
            "inbound_per_s": p["appsync.inbound_events_per_s"],
            "outbound_per_s": p["appsync.outbound_messages_per_s"],
            "per_connection_per_s": p["appsync.publishes_per_connection_per_s"],
            "per_channel_per_s": None,
            "max_bytes": p["appsync.max_delivered_payload_bytes"],
            "metering_bytes": p["appsync.metering_bytes"],
            "keepalive_s": p["appsync.keepalive_interval_s"],
            "connect": p["latency.appsync_connect_s"],
            "delivery": p["latency.appsync_broadcast_s"],
            "history_messages": None,    # AppSync Events keeps no history: the team's own
            "persisted_messages": None,
        }

    def fallback(self, arch, fb):
        """AppSync Events has no polling transport: the team's HTTP API, Lambda and history
        table answer the polls, as in the API Gateway designs."""
        api = OwnHttpApi(fb, arch)
        assert api.path is not None
        fb.attach(0, api.path)
        return api

    def join_history(self, arch, now: float, n: int) -> float | None:
        """AppSync Events keeps no history: the team's HTTP API, Lambda and history table
        answer a member's request (:meth:`OwnHttpApi.history`)."""
        return arch.http_api.history(now, n)

    def usage(self, c, connected_minutes, out_bytes) -> dict:
        return {
            "appsync.operations": c["service.operations"],
            "appsync.connection_minutes": connected_minutes,
            "data_transfer.internet_gb": out_bytes / 1e9,
            "dynamodb.write_request_units": c["features.presence.store_write_units"],
        }


class ManagedSpec(ServiceSpec):
    """A managed pub/sub service (the vendor's published figures: Ably): messages (each
    published and each delivered), connection-minutes and channel-minutes; no per-API inbound
    quota but a per-channel message rate."""

    ns = "managed"
    end_to_end = True
    native_counts = True    # Ably's occupancy events: "1 outbound message per subscriber"

    def limits(self, p, scn) -> dict:
        return {
            "connect_per_s": p["managed.connect_per_s"],
            "inbound_per_s": None,
            "outbound_per_s": None,
            "per_connection_per_s": p["managed.connection_publishes_per_s"],
            "per_channel_per_s": p["managed.channel_messages_per_s"],
            "max_bytes": p["managed.max_message_bytes"],
            "metering_bytes": None,
            "keepalive_s": None,
            "connect": p["latency.managed_connect_s"],
            "delivery": p["latency.managed_delivery_s"],
            "history_messages": p["managed.messages_per_history_message"],
            "persisted_messages": p["managed.messages_per_persisted_message"],
        }

    def join_history(self, arch, now: float, n: int) -> float | None:
        """The service's history API (or rewind on attach): billed per message retrieved;
        the messages reach the client after one of the service's delivery latencies."""
        c = arch.c
        c["join_history.requests"] += 1
        c["join_history.posts"] += n
        c["service.messages"] += n * arch.lim["history_messages"]
        return now + arch.d_history()

    def fallback(self, arch, fb):
        """The vendor's SDK falls back to its Comet transport (HTTP long polls the service
        holds until a message): the pollers' deliveries are billed messages and their time
        connection minutes; the requests are not billed. The service answers an idle request
        after ``poll_interval_s`` (its own period is not published)."""
        fb.attach(0, HeldPolls(fb, arch, fb.interval, billed_messages="service.messages",
                               delivery=arch.lim["delivery"],
                               minutes_item="managed.connection_minutes"))

    def usage(self, c, connected_minutes, out_bytes) -> dict:
        return {
            "managed.messages": c["service.messages"],
            "managed.connection_minutes": connected_minutes,
            "managed.channel_minutes": c["service.channel_seconds"] / MINUTE,
        }


class ServiceEdge(StatelessEdge):
    """Admission and closing of connections by a pub/sub service.

    Parameters
    ----------
    arch : ServiceArchitecture
    """

    def __init__(self, arch):
        self.arch = arch
        self.env = arch.env
        self.component = arch.spec.ns
        self.lc = arch.conns
        self.reg = arch.reg
        self.rec = arch.rec
        self.c = arch.c
        self.region = arch.region
        lim = arch.lim
        self.bucket = TokenBucket(lim["connect_per_s"], max(lim["connect_per_s"], 1.0))
        self.d_connect = arch.s.buffered(f"{self.component}.connect", lim["connect"])
        self.idle_timeout = math.inf
        self.max_duration = math.inf
        self.half_detect = float(arch.p["behaviour.service_half_open_detection_s"])
        self.reset_idle = False
        self.integrity = arch.integrity

    def ingress(self) -> float:
        return 0.0

    def arrive(self, ev) -> None:
        now = self.env.now
        a = ev._value
        if not self.bucket.try_take(now):
            self.lc.reject(now, a, "connection_rate", f"{self.component}.connect_per_s",
                           f"{self.component}:connect")
            return
        self.c["service.operations"] += 2      # the connection, and its channel subscription
        Call(self.env, self.d_connect(), self._established, a)

    def _established(self, ev) -> None:
        self.lc.established(self.env.now, ev._value)

    def row_written(self, i: int, connected_at: float) -> None:
        pass



class ServiceArchitecture(Design):
    """A pub/sub service design (its :class:`ServiceSpec` is the class attribute ``spec``).

    Parameters
    ----------
    env, scn, params, streams, recorder
        As every architecture's.
    """

    name = ""
    spec: ServiceSpec = ServiceSpec()

    def __init__(self, env, scn, params, streams, recorder):
        super().__init__(env, scn, params, streams, recorder)   # self.route: drawn, not used
        self.lim = self.spec.limits(params, scn)
        self.edge = ServiceEdge(self)
        self.conns.attach(RegionalEdges([self.edge], self.router, self.conns))
        self.broadcast = Broadcast(self)
        self.d_history = streams.buffered(f"{self.spec.ns}.history", self.lim["delivery"])
        self._presence_wu = math.ceil(scn.aws.dynamodb.item_bytes
                                      / params["dynamodb.write_unit_bytes"])
        self.regions = {self.region: RegionStack(self.region, self.edge, None, None,
                                                 self.broadcast)}
        #: the team's own HTTP API (pollers, history), where the service has none
        self.http_api = None
        if self.fallback is not None:
            self.http_api = self.spec.fallback(self, self.fallback)
        elif scn.features.history_on_join is not None and self.lim["history_messages"] is None:
            self.http_api = OwnHttpApi(None, self)
        if self.http_api is not None:
            self.regions[self.region].lam = self.http_api.lam
        for k in COUNTERS:
            self.c[k] += 0.0

    @classmethod
    def check(cls, scn, params) -> list:
        errors = []
        if scn.app.resume.kind != "none":
            errors.append(ScenarioError("app.resume.kind", scn.app.resume.kind,
                                        f"resume from a history store is not modelled for the "
                                        f"{cls.name!r} design; use 'none' to compare it"))
        return errors

    # -- the Architecture protocol ---------------------------------------------------------------
    def start(self) -> None:
        self.conns.start(sources=self.message_sources(self.broadcast.arrive,
                                                      route_applies=False))

    def join_history(self, now: float, i: int, n: int) -> float | None:
        return self.spec.join_history(self, now, n)

    def store_presence(self, now: float, key: int) -> bool:
        """Where the service has no presence of its own (``spec.presence_store``), the
        application keeps the set in a DynamoDB table (a write request unit per event,
        on demand; not throttled here)."""
        if self.spec.presence_store:   # a put or delete of an item the channel index projects
            self.c["features.presence.store_write_units"] += 2 * self._presence_wu
        return True

    def tick(self, now: float, step: float) -> None:
        self.broadcast.tick(now, step)
        if self.http_api is not None:
            self.http_api.tick(now, step)

    def probes(self, rec) -> None:
        common_probes(rec, self.reg, self.regions, self)
        rec.rate_probe("service_operations_per_s", "service.operations")
        rec.rate_probe("service_deliveries_refused_per_s", "service.deliveries_refused")

    def usage_snapshot(self, now: float) -> dict:
        conn = self.conns.connected
        conn.close(now)
        c = self.c
        usage = self.spec.usage(c, conn.area / MINUTE, c["data_transfer.out_bytes"])
        aux = {"deliveries": c["deliveries.succeeded"], "connected_seconds": conn.area}
        if self.fallback is not None:
            add_usage(usage, self.fallback.usage(0, now))
        if self.http_api is not None:
            extra, aux["table_gb"] = self.http_api.usage(now)
            add_usage(usage, extra)
        return {"t": now, "usage": {self.region: usage}, "aux": aux}

    def finalize(self, now: float) -> None:
        self.broadcast.flush()
        self._settle(now, publishes_in_flight=0)


class Broadcast:
    """The service's publish path and native fan-out (one Region).

    Parameters
    ----------
    arch : ServiceArchitecture
    """

    def __init__(self, arch):
        self.arch = arch
        self.env = arch.env
        self.c = arch.c
        self.rec = arch.rec
        self.reg = arch.reg
        self.region = arch.region
        self.ns = arch.spec.ns
        self.end_to_end = arch.spec.end_to_end
        lim = arch.lim
        self.max_bytes = lim["max_bytes"]
        self.meter = lim["metering_bytes"]
        self.per_conn = lim["per_connection_per_s"]
        self.inbound = (TokenBucket(lim["inbound_per_s"], max(lim["inbound_per_s"], 1.0))
                        if lim["inbound_per_s"] else None)
        self.outbound = (TokenBucket(lim["outbound_per_s"], max(lim["outbound_per_s"], 1.0))
                         if lim["outbound_per_s"] else None)
        self.per_channel = lim["per_channel_per_s"]
        self.native_counts = arch.spec.native_counts
        self.persisted = (lim["persisted_messages"]
                          if arch.scn.features.history_on_join is not None else 0)
        self.channel_buckets: dict[int, TokenBucket] = {}
        self.keepalive_s = lim["keepalive_s"]
        self.delivery = lim["delivery"]
        self.rng = arch.s[f"{self.ns}.delivery"]
        self.hist = arch.hist
        self.echo = arch.scn.workload.publish.echo_to_sender
        self.warmup = arch.scn.warmup_s
        self.sample_above = arch.scn.engine.fanout_sample_above
        self.sample_k = arch.scn.engine.fanout_sample_k
        self._buf: list[np.ndarray] = []
        self._wbuf: list[float] = []
        pub = arch.scn.workload.publish
        self._rate_per_conn = pub.rate_per_client_per_s
        self._total_rate = pub.total_rate_per_s

    def _units(self, nbytes: float) -> int:
        return max(1, math.ceil(nbytes / self.meter)) if self.meter else 1

    def _refused(self, now: float, why: str, quota: str) -> None:
        self.c["publishes.rejected"] += 1
        self.c[f"publishes.rejected.{why}"] += 1
        self.rec.breaches.add(now, quota, f"{self.ns}:publish", self.region)

    def arrive(self, ev) -> None:
        """A client's publish reaches the service."""
        now = self.env.now
        v = ev._value
        t_pub, nbytes = v[0], v[1]
        reg = self.reg
        arch = self.arch
        feature = feature_of(v)
        if feature is not None:   # a member's event (a leave's member is gone)
            sent = feature_sender(reg, v, self.c, now)
            if sent is None:
                return
            i, ch, kind = sent
            sender_open = open_sender(reg, i, v[4])
        else:
            i = sender_slot(arch, v, self.c)
            if i < 0:
                return
            reg.last_send[i] = now
            ch, kind, sender_open = int(reg.channel[i]), None, True
        c = self.c
        c["publishes.attempted"] += 1
        if nbytes > self.max_bytes:
            self._refused(now, "oversize", f"{self.ns}.max_message_bytes")
            return
        rate = (self._total_rate / max(reg.n_open, 1) if self._total_rate is not None
                else self._rate_per_conn)
        if rate > self.per_conn and arch.u() >= self.per_conn / rate:
            self._refused(now, "connection_rate", f"{self.ns}.connection_publishes_per_s")
            return
        if self.inbound is not None and not self.inbound.try_take(now):
            self._refused(now, "inbound_rate", f"{self.ns}.inbound_events_per_s")
            return
        if self.per_channel is not None:
            b = self.channel_buckets.get(ch)
            if b is None:
                b = self.channel_buckets[ch] = TokenBucket(self.per_channel,
                                                           max(self.per_channel, 1.0))
            if not b.try_take(now):
                self._refused(now, "channel_rate", f"{self.ns}.channel_messages_per_s")
                return
        units = self._units(nbytes)
        if kind == "count" and self.native_counts:
            c["service.native_counts"] += 1   # the service's own occupancy event: no inbound
        else:
            c["service.operations"] += units
            c["service.messages"] += 1
        live = reg.live[ch] - (0 if self.echo or not sender_open else 1)
        half = reg.half[ch]
        n = live + half
        c["messages.published"] += 1
        c["deliveries.attempted"] += n
        reg.last_msg[ch] = now
        if kind is not None:   # a feature event: not in the integrity ledger
            c[f"features.{kind}.recipients"] += n
            c["features.published"] += 1
        else:
            self.arch.integrity.published(ch, now, live)
            if self.persisted:   # kept for history (billed as messages where the service does)
                c["service.messages"] += self.persisted
            if arch.http_api is not None:   # kept in the team's history table
                arch.http_api.stored()
            if arch.fallback is not None:   # the pollers get the users' messages
                arch.fallback.published(now, ch, t_pub, nbytes, {"network": now - t_pub},
                                        t_pub >= self.warmup)
        if n == 0:
            return
        ok_live, ok_half = live, half
        if self.outbound is not None:
            got = self.outbound.take_up_to(now, n * units) // units
            if got < n:
                short = n - got
                ok_half = max(0, half - short)
                ok_live = got - ok_half
                c["deliveries.failed"] += short
                c["service.deliveries_refused"] += short
                self.rec.breaches.add(now, f"{self.ns}.outbound_messages_per_s",
                                      f"{self.ns}:broadcast", self.region, short)
        c["deliveries.succeeded"] += ok_live
        self.rec.bin_add("deliveries_per_s", now, now, ok_live)
        c["deliveries.stale_lost"] += ok_half
        if kind is None:
            self.arch.integrity.posts(ok_live, live - ok_live)
        written = ok_live + ok_half
        c["service.operations"] += units * written
        c["service.messages"] += written
        c["data_transfer.out_bytes"] += nbytes * written
        if ok_live and t_pub >= self.warmup and kind is None:
            self._record(now - t_pub, ok_live, ch, int(reg.loc[i]))

    def _record(self, base: float, n: int, ch: int = 0, sender_loc: int = 0) -> None:
        """Latencies (publish -> receipt) of ``n`` deliveries; above ``sample_above`` a sample
        of ``sample_k`` weighted to ``n``. With a geography, by the recipients' locations
        (drawn in proportion to the channel's live members there)."""
        k = n if n <= self.sample_above else self.sample_k
        lat = self.delivery.sample(self.rng, k)
        geo = self.arch.geo
        stages = self.arch.stage_hist
        if geo is None:
            service = lat
            if not self.end_to_end:
                lat = lat + base + self.arch.oneway.sample(self.rng, k)
            stages.add(lat, n / k, {"service": service, "network": lat - service})
            self._buf.append(lat)
            self._wbuf.append(n / k)
            if len(self._buf) >= 4096:   # not a catalog value
                self.flush()
            return
        counts = self.reg.live_loc[ch] if self.reg.live_loc is not None else np.ones(1)
        loc = self.rng.choice(counts.size, size=k, p=counts / counts.sum())
        # the base holds the uplink; the downlink is the recipient's (to the service's Region,
        # or to its nearest edge plus the edge-to-edge transit for a service with edges everywhere)
        service = lat
        lat = lat + base + geo.downlink(self.rng, loc, 0)
        if self.end_to_end:
            lat = lat + geo.transit[sender_loc, loc]
        self.arch.add_latencies(lat, np.full(k, n / k), {"service": service,
                                                          "network": lat - service}, loc)

    def flush(self) -> None:
        if not self._buf:
            return
        w = np.repeat(np.asarray(self._wbuf), [b.size for b in self._buf])
        self.hist.add(np.concatenate(self._buf), w)
        self._buf.clear()
        self._wbuf.clear()

    def tick(self, now: float, step: float) -> None:
        """Channel-seconds (channels with a subscriber) and the service's keep-alives."""
        reg = self.reg
        occupied = sum(map(bool, reg.live))
        self.c["service.channel_seconds"] += occupied * step
        if self.keepalive_s:
            self.c["service.keepalives"] += reg.n_connected * step / self.keepalive_s

    # -- delivery-strategy protocol (the engine's in-flight accounting) --------------------------
    in_flight_posts = 0
    in_flight_live_posts = 0


class AppSyncArchitecture(ServiceArchitecture):
    """AWS AppSync Events."""

    name = "appsync"
    spec = AppSyncSpec()


class ManagedArchitecture(ServiceArchitecture):
    """A managed pub/sub service (the vendor's published figures)."""

    name = "managed"
    spec = ManagedSpec()
    edge_everywhere = True     # users connect to the service's nearest edge
    region_outages = False     # the service does not live in the AWS Region
