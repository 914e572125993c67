"""The multi-Region design: the basic design in each of several Regions, one connection table
replicated between them (a DynamoDB global table), and a way for a publish to reach the
channel's members connected to the other Regions.

* **Routing** (:mod:`.routing`): a client connects to the nearest Region that DNS answers
  (Route 53 latency records with health checks); outages move clients to the next Region and,
  with ``failback: reconnect``, back home afterwards.
* **Each Region** runs the parts of the basic design, or of a fan-out tier design
  (``multi_region.path``: ``basic``, ``sns`` or ``sqs``; one :class:`~.basic.BasicArchitecture`
  per Region of this design): its own API Gateway (quotas per Region), Lambda service
  (concurrency per Region), replica of the table, delivery path; its own prices.
* **Cross-Region** (``multi_region.cross_region``), after the publishing Region has read the
  channel's rows:

  - ``eventbridge``: the publishing Lambda puts one event on the bus of each other Region where
    the channel has rows (PutEvents quota of that Region; billed there as a custom event;
    inter-Region transfer of the payload from the publishing Region). The event invokes that
    Region's publish function after EventBridge's delivery latency plus half the inter-Region
    round trip; it reads its Region's rows and posts to them.
  - ``replication``: the publishing Lambda writes the message to the global table; every other
    Region sees it after half the round trip plus the replication delay, and its stream
    triggers the publish function there (DynamoDB Streams -> Lambda latency), which posts to
    that Region's rows.

* **Global table**: every write to the table (connection rows, and with ``replication`` the
  messages) is replicated to the other Regions: one replicated write unit per write unit per
  other Region (billed in the replica's Region; each replica's index updates are counted with
  them, at the same price), and 1 KB per write unit as inter-Region transfer from the writing
  Region (an upper bound of the item's bytes).

Simplifications (stated, not hidden): a publishing Region knows which Regions hold rows of the
channel at once (the replication delay of the rows themselves is not modelled); an event or a
replicated message that finds its Region down, its Lambda throttled or its quota exhausted is
counted as failed for that Region (EventBridge's and Lambda's own retries are not modelled).
"""

from __future__ import annotations

import math

from simulator.architectures.base import Design, common_probes
from simulator.architectures.basic import BasicArchitecture, _Ctx, publishes_in_flight
from simulator.architectures.features import feature_of
from simulator.architectures.routing import RegionalEdges
from simulator.primitives.events import Call
from simulator.primitives.token_bucket import TokenBucket


class MultiRegionArchitecture(Design):
    """The basic design in each Region of ``multi_region.regions``, with a global table.

    Parameters
    ----------
    env, scn, params, streams, recorder
        As every architecture's.
    """

    name = "multi_region"

    @classmethod
    def check(cls, scn, params) -> list:
        from simulator.architectures import registry

        check = getattr(registry.get(scn.multi_region.path), "check", None)
        return check(scn, params) if check is not None else []

    def __init__(self, env, scn, params, streams, recorder):
        from simulator.architectures import registry
        from simulator.scenario import Params

        names = list(scn.multi_region.regions or [scn.region])
        super().__init__(env, scn, params, streams, recorder, regions=names)
        path = registry.get(scn.multi_region.path)   # each Region's design
        self.n = len(names)
        self.hosts: list[BasicArchitecture] = []
        for rix, r in enumerate(names):
            p = params if r == scn.region else Params(scn.model_copy(update={"region": r}),
                                                      params.catalog)
            h = path(env, scn, p, streams, recorder, host=self, rix=rix)
            if self.n > 1:
                h.cross = self._cross
            self.hosts.append(h)
            self.regions[r] = h.regions[r]
        self.conns.attach(RegionalEdges([h.edge for h in self.hosts], self.router, self.conns))
        self.strategy = scn.multi_region.cross_region
        self.rtt = self.geo.region_rtt if self.geo is not None else None
        self.put_events = [TokenBucket(h.p["eventbridge.put_events_per_s"],
                                       h.p["eventbridge.put_events_per_s"]) for h in self.hosts]
        self.d_events = streams.buffered("eventbridge", params["latency.eventbridge_delivery_s"])
        self.d_repl = streams.buffered("dynamodb.replication",
                                       params["latency.global_table_replication_s"])
        self.d_stream = streams.buffered("dynamodb.streams", params["latency.streams_to_lambda_s"])
        self.message_wu = 0
        if self.strategy == "replication":
            per = self.payload.mean + scn.multi_region.message_item_overhead_bytes
            self.message_wu = math.ceil(per / params["dynamodb.write_unit_bytes"])
        self.write_unit_bytes = params["dynamodb.write_unit_bytes"]
        for h in self.hosts:
            for k in ("cross_region.sent", "cross_region.failed", "cross_region.bytes",
                      "eventbridge.events", "eventbridge.throttled", "publishes.sender_gone"):
                h.c[k] += 0.0

    # -- the Architecture protocol -------------------------------------------------------------
    def start(self) -> None:
        self.conns.start(sources=self.message_sources(self._publish_arrive))

    tick = BasicArchitecture.tick   # every Region's Lambda service and table

    def probes(self, rec) -> None:
        common_probes(rec, self.reg, self.regions, self)
        if self.n > 1 and self.strategy == "eventbridge":
            quota = sum(b.rate for b in self.put_events)
            rec.probe("put_events_quota_per_s", lambda t: quota)
            rec.rate_probe("put_events_per_s", "eventbridge.events")
            rec.rate_probe("put_events_refused_per_s", "eventbridge.throttled")

    def _publish_arrive(self, ev) -> None:
        """A message reaches the sender's Region."""
        v = ev._value
        feature = feature_of(v)
        key = feature[1] if feature is not None else int(self.reg.channel[v[3]])
        self.hosts[key % self.n]._publish_arrive(ev)

    def join_history(self, now: float, i: int, n: int) -> float | None:
        """Served by the member's Region (its replica of the history)."""
        return self.hosts[int(self.reg.channel[i]) % self.n].join_history(now, i, n)

    def store_presence(self, now: float, key: int) -> bool:
        """Written to the member's Region's replica of the table (replicated like its rows)."""
        return self.hosts[key % self.n].store_presence(now, key)

    # -- cross-Region ------------------------------------------------------------------------------
    def _cross(self, now: float, x, origin: BasicArchitecture) -> None:
        """The publishing Region has the message's subscriber list at ``now`` (which may be a
        few ms after the simulation clock, when the fan-out was computed ahead): send it to
        the other Regions. Quota tokens are taken at the clock, like the posts'."""
        reg = self.reg
        clock = self.env.now
        ch = x.channel // self.n
        a = origin.rix
        assert self.rtt is not None   # the scenario's rules: this design has a geography
        if self.strategy == "replication":
            origin.c["dynamodb.write_units"] += self.message_wu   # the message item
        for b, hb in enumerate(self.hosts):
            if b == a:
                continue
            key = ch * self.n + b
            if self.strategy == "eventbridge":
                if reg.live[key] + reg.half[key] + reg.gone[key] == 0:
                    continue
                if not self.put_events[b].try_take(clock):   # refused: not billed
                    hb.c["eventbridge.throttled"] += 1
                    self.rec.breaches.add(clock, "eventbridge.put_events_per_s",
                                          "eventbridge:PutEvents", hb.region)
                    self._part_failed(hb, key, "eventbridge_throttle", x.kind)
                    continue
                hb.c["eventbridge.events"] += 1
                origin.c["cross_region.bytes"] += x.nbytes
                delay = self.d_events() + self.rtt[a, b] / 2
            else:
                delay = self.rtt[a, b] / 2 + self.d_repl() + self.d_stream()
            origin.c["cross_region.sent"] += 1
            y = _Ctx()
            y.t_pub = x.t_pub
            y.sender = -1
            y.gen = 0
            y.channel = key
            y.nbytes = x.nbytes
            y.record = x.record
            y.kind = x.kind
            y.remote = True
            y.cp = x.cp
            Call(self.env, now - clock + delay, self._relay, (b, y))

    def _part_failed(self, hb, key: int, why: str, kind: str | None) -> None:
        """Region ``hb``'s part of a message is not delivered: its live recipients lose it
        (a feature event's, ``kind``, are not in the integrity ledger)."""
        reg = self.reg
        live = reg.live[key]
        hb.c["cross_region.failed"] += 1
        hb.c[f"cross_region.failed.{why}"] += 1
        hb.c["deliveries.attempted"] += live
        hb.c["deliveries.failed"] += live
        if kind is not None:
            hb.c[f"features.{kind}.recipients"] += live
            return
        self.integrity.intended += live
        self.integrity.posts(0, live)

    def _relay(self, ev) -> None:
        """The message reaches Region ``b``: its publish function reads the Region's rows and
        posts to them (that Region's delivery path)."""
        b, y = ev._value
        hb = self.hosts[b]
        now = self.env.now
        if not self.router.up[b]:
            self._part_failed(hb, y.channel, "region_down", y.kind)
            return
        f = hb.f_default
        t = f.begin(now)
        if t is None:
            self._part_failed(hb, y.channel, "lambda_throttle", y.kind)
            return
        y.start = now
        y.deadline = now + f.timeout
        hb.delivery.begin(now, t, y)

    # -- usage -------------------------------------------------------------------------------------
    def usage_snapshot(self, now: float) -> dict:
        snaps = [h.usage_snapshot(now) for h in self.hosts]
        usage = {h.region: s["usage"][h.region] for h, s in zip(self.hosts, snaps)}
        aux: dict = {}
        for s in snaps:
            for k, v in s["aux"].items():
                aux[k] = aux.get(k, 0.0) + v
        aux["table_gb"] = snaps[0]["aux"]["table_gb"]   # every replica holds every row
        if self.n > 1:
            writes = {r: u["dynamodb.write_request_units"] for r, u in usage.items()}
            total = sum(writes.values())
            for h in self.hosts:
                u = usage[h.region]
                # one replicated write unit per write unit, in every other replica's Region
                u["dynamodb.replicated_write_request_units"] = total - writes[h.region]
                replicated_bytes = writes[h.region] * self.write_unit_bytes * (self.n - 1)
                u["data_transfer.inter_region_gb"] = (replicated_bytes
                                                      + h.c["cross_region.bytes"]) / 1e9
                if self.strategy == "eventbridge":
                    u["eventbridge.events"] = h.c["eventbridge.events"]
        return {"t": now, "usage": usage, "aux": aux}

    # -- end of run -------------------------------------------------------------------------------
    def finalize(self, now: float) -> None:
        for h in self.hosts:
            h.finalize_region(now)
        conn = self.conns.connected
        conn.close(now)
        c = self.c
        c["connections.in_flight"] = self.conns.in_flight()
        c["publishes.in_flight"] = publishes_in_flight(self.env)
        self._zombie_lifetimes(now)
        self.integrity.count(c, sum(h.delivery.in_flight_live_posts for h in self.hosts))
