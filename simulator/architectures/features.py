"""Realtime features that multiply a design's load: presence and typing indicators
(``scenario.features``), as events that travel the design's own publish path.

Every design receives messages through one callback, ``on_arrive(ev)`` with
``ev._value = (t_pub, nbytes, route[, slot, gen])``. A feature event adds its kind and the
channel key it goes to: ``(t_pub, nbytes, route, slot, gen, kind, key)``, where ``slot`` is
the member it is about (-1 for a channel's count update). The design treats it as a message
to that channel (admission, billing, fan-out, limits) with three differences, read from the
tuple's length (:func:`feature_of`): its sender need not be open (a leave is announced after
the member is gone), it is not written to the message history, and its latency is not
recorded (the delivery histogram stays the latency of the users' messages; what the events
do to it is what they add).

* **Presence.** A member's *enter* is sent by its client once its connection opens (one way
  plus the edge's routing later); its *leave* is announced when the edge closes the
  connection (a close frame at once; a vanished client when the edge notices it).
  ``updates_per_member_per_h`` more per open member (not announced in a channel that gets
  counts: see below). Filling a channel from 0 to N members
  delivers N(N-1)/2 enters. With ``store``, each enter, leave and update is first written to
  the presence set (:meth:`Design.store_presence`: the connection table's channel partition
  in the API Gateway designs). Above ``counts_above`` live members the channel's members are
  not announced: the channel gets one count update every ``count_interval_s`` while its
  membership changes (Pusher's subscription counts, PubNub's interval mode).
* **Typing** (ephemeral events): the members who send messages type first. At the users'
  message rate, from the features' own stream, a typing spell of ``typing_s`` sends an event
  when it starts, one every ``heartbeat_s`` while it lasts (the client's throttle) and a stop
  event at its end (the message), each from a member chosen when it is sent.

Each feature draws its own events from its own random streams, so the users, their sessions
and their messages are the same draws with a feature on or off, and a feature that is off
draws nothing. Along the paths the events share with the users' messages (a Lambda's handler,
a query page, a post, a task's CPU) they take the next draws of those paths' streams, so the
users' latencies are drawn afresh: a difference of a few percent in a quantile between two
single runs is noise, not the feature.
"""

from __future__ import annotations

import numpy as np

from simulator.architectures.base import Uniform01
from simulator.metrics.histogram import LogHistogram
from simulator.primitives.events import Call
from simulator.workload.population import OPEN

#: the kinds of feature events and whether a member's client sends them (else the server)
CLIENT_SENT = {"enter": True, "update": True, "typing": True, "leave": False, "count": False}
#: the kinds written to the presence set (with ``presence.store``)
STORED = ("enter", "leave", "update")
KINDS = tuple(CLIENT_SENT)
#: where a feature event's tuple holds its kind and its channel key
KIND, KEY = 5, 6  # not a catalog value (positions in the tuple)


def feature_of(v) -> tuple[int, int, str] | None:
    """``(slot, channel key, kind)`` of a feature event's tuple ``v``; None for a message."""
    if len(v) > KIND:
        return v[3], v[KEY], v[KIND]
    return None


class FeatureEvents:
    """The presence and typing events of one run, sent to the design's ``on_arrive``.

    Parameters
    ----------
    arch : Design
    on_arrive : callable
        The design's arrival of a message (``publish_source``'s).
    route_applies : bool
        Whether the edge's routing step delays a client's message (API Gateway), as in
        ``publish_source``.
    """

    def __init__(self, arch, on_arrive, route_applies: bool = True):
        f = arch.scn.features
        self.arch = arch
        self.env = arch.env
        self.reg = arch.reg
        self.c = arch.c
        self.geo = arch.geo
        self.on_arrive = on_arrive
        self.presence = f.presence
        self.typing = f.typing
        if f.typing is not None:
            from simulator.scenario import build_dist

            self.d_typing = build_dist(f.typing.typing_s)
            self.heartbeat = f.typing.heartbeat_s or arch.p["behaviour.typing_heartbeat_s"]
        s = arch.s
        self.u = s.buffered("features.choices", Uniform01())
        self.d_up = s.buffered("features.network", arch.oneway)
        self.d_route = s.buffered("features.route", arch.route) if route_applies else None
        #: channels whose count changed since the last update -> the key to announce it from
        self.dirty: dict[int, int] = {}
        for k in KINDS:
            self.c[f"features.{k}.sent"] += 0.0
            self.c[f"features.{k}.recipients"] += 0.0
        self.c["features.presence.store_writes"] += 0.0
        self.c["features.typing.messages"] += 0.0
        self.c["features.published"] += 0.0   # feature events among messages.published
        self.c["features.presence.store_throttled"] += 0.0
        if self.presence is not None:
            arch.conns.on_open.append(self.entered)
            arch.conns.on_close.append(self.left)

    def sources(self) -> list:
        """The processes of the features that are on."""
        out = []
        p, t = self.presence, self.typing
        if p is not None and p.updates_per_member_per_h > 0:
            out.append(self._members_send("update", p.updates_per_member_per_h / 3600.0,
                                          p.payload_bytes))
        if p is not None and p.counts_above is not None:
            out.append(self._count_updates())
        if t is not None:
            out.append(self._typing())
        return out

    # -- presence ----------------------------------------------------------------------------
    def entered(self, now: float, i: int) -> None:
        """Member ``i``'s connection opened: its client sends its enter."""
        self._member_event(now, i, "enter")

    def left(self, now: float, i: int) -> None:
        """The edge closes member ``i``'s connection: its leave is announced."""
        self._member_event(now, i, "leave")

    def _member_event(self, now: float, i: int, kind: str) -> None:
        key = int(self.reg.channel[i])
        if self._counted(key):
            self.dirty[key // self.reg.n_reg] = key   # a count update will announce it
            self._store(now, kind, key)
            return
        self._send(now, i, key, kind, self.presence.payload_bytes)

    def _count_updates(self):
        """Every ``count_interval_s``: one count update to each channel whose membership
        changed (sent by the server: no sender, every live member receives it)."""
        env = self.env
        step = self.presence.count_interval_s
        while True:
            yield env.timeout(step)
            keys, self.dirty = list(self.dirty.values()), {}
            for key in keys:   # from the Region of the last change (it relays to the others)
                self._send(env.now, -1, key, "count", self.presence.payload_bytes)

    # -- typing ------------------------------------------------------------------------------
    def _typing(self):
        """At the users' message rate (per open member, or in total), per window: each
        message's typing starts ``typing_s`` before it; its events are sent then, every
        ``heartbeat_s`` after, and (``stop_event``) with the message."""
        env = self.env
        reg = self.reg
        t = self.typing
        rng = self.arch.s["features.typing"]
        W = self.arch.scn.engine.window_s
        pub = self.arch.scn.workload.publish
        beat = self.heartbeat
        while True:
            rate = (pub.total_rate_per_s if pub.total_rate_per_s is not None
                    else pub.rate_per_client_per_s * reg.n_open)
            n = rng.poisson(rate * W) if rate > 0 else 0
            if n:
                starts = rng.uniform(0, W, n)
                typing = self.d_typing.sample(rng, n)
                for t0, dur in zip(starts.tolist(), typing.tolist()):
                    self.c["features.typing.messages"] += 1
                    k = int(dur // beat)
                    for j in range(k + 1):
                        Call(env, t0 + j * beat, self._member_sends, ("typing", t.payload_bytes))
                    if t.stop_event:
                        Call(env, t0 + dur, self._member_sends, ("typing", t.payload_bytes))
            yield env.timeout(W)

    # -- events members send at a rate ------------------------------------------------------
    def _members_send(self, kind: str, rate: float, nbytes: int):
        """Poisson per window at ``rate`` per open member: each from a member chosen when it
        sends."""
        env = self.env
        reg = self.reg
        rng = self.arch.s[f"features.{kind}"]
        W = self.arch.scn.engine.window_s
        while True:
            n = rng.poisson(rate * reg.n_open * W)
            for t in np.sort(rng.uniform(0, W, n)).tolist():
                Call(env, t, self._member_sends, (kind, nbytes))
            yield env.timeout(W)

    def _member_sends(self, ev) -> None:
        kind, nbytes = ev._value
        reg = self.reg
        i = reg.random_open(self.u())
        if i < 0:
            return
        key = int(reg.channel[i])
        if kind == "update" and self._counted(key):
            self._store(self.env.now, kind, key)   # the room shows counts, not members
            return
        self._send(self.env.now, i, key, kind, nbytes)

    def _counted(self, key: int) -> bool:
        """Whether the channel of key ``key`` is large enough to get counts instead of member
        events (its live members in every Region of the design)."""
        above = self.presence.counts_above
        if above is None:
            return False
        reg = self.reg
        r = reg.n_reg
        ch = key // r
        return sum(reg.live[ch * r:(ch + 1) * r]) > above

    # -- to the design -----------------------------------------------------------------------
    def _send(self, now: float, i: int, key: int, kind: str, nbytes: int) -> None:
        """The event leaves its origin at ``now``: a client's after its uplink (and the
        edge's routing), the server's at once."""
        self.c[f"features.{kind}.sent"] += 1
        delay = route = 0.0
        gen = int(self.reg.gen[i]) if i >= 0 else 0
        if CLIENT_SENT[kind]:
            if self.geo is not None:
                delay = self.geo.oneway(int(self.reg.loc[i]), key % self.reg.n_reg)
            else:
                delay = self.d_up()
            if self.d_route is not None:
                route = self.d_route()
        Call(self.env, delay + route, self._arrive, (now, nbytes, route, i, gen, kind, key))

    def _arrive(self, ev) -> None:
        """The event reaches the design: written to the presence set, then published."""
        v = ev._value
        self._store(self.env.now, v[KIND], v[KEY])
        self.on_arrive(ev)

    def _store(self, now: float, kind: str, key: int) -> None:
        """An enter, leave or update is written to the presence set (``presence.store``)."""
        p = self.presence
        if p is None or not p.store or kind not in STORED:
            return
        self.c["features.presence.store_writes"] += 1
        if not self.arch.store_presence(now, key):
            self.c["features.presence.store_throttled"] += 1

    # -- results ----------------------------------------------------------------------------
    def summary(self) -> dict:
        """``features_<kind>_events`` (sent) and ``features_<kind>_recipients`` (deliveries
        the design attempted for them)."""
        c = self.c
        out: dict = {}
        for k in KINDS:
            out[f"features_{k}_events"] = int(c[f"features.{k}.sent"])
            out[f"features_{k}_recipients"] = int(c[f"features.{k}.recipients"])
        out["features_presence_store_writes"] = int(c["features.presence.store_writes"])
        out["features_typing_messages"] = int(c["features.typing.messages"])
        out["features_presence_store_throttled"] = int(c["features.presence.store_throttled"])
        return out


class JoinHistory:
    """History on join: a member that joins (not a reconnect after a gap, which is
    ``app.resume``) asks for the last ``messages`` messages of its channel (as many as the
    channel has had); its request leaves when the connection opens and reaches the design
    one way later. How the design serves it is its own (:meth:`Design.join_history`). The
    fetch's latency (request sent -> last message written to the client, plus its way down)
    goes to a histogram of its own.

    Parameters
    ----------
    arch : Design
    """

    def __init__(self, arch):
        self.arch = arch
        self.env = arch.env
        self.reg = arch.reg
        self.c = arch.c
        self.m = arch.scn.features.history_on_join.messages
        self.warmup = arch.scn.warmup_s
        self.d_net = arch.s.buffered("history_on_join.network", arch.oneway)
        #: whether the design's answer already includes the way to the client (a service
        #: whose latencies are publisher -> subscriber)
        spec = getattr(arch, "spec", None)
        self.end_to_end = bool(spec is not None and spec.end_to_end)
        self.hist = LogHistogram()
        for k in ("requests", "failed", "messages", "read_units", "posts", "throttled_posts"):
            self.c[f"join_history.{k}"] += 0.0
        arch.conns.on_join.append(self.joined)

    def joined(self, now: float, i: int) -> None:
        up = (self.d_net() if self.arch.geo is None else
              self.arch.geo.oneway(int(self.reg.loc[i]), int(self.reg.channel[i]) % self.reg.n_reg))
        Call(self.env, up, self._request, (now, i, int(self.reg.gen[i])))

    def _request(self, ev) -> None:
        t0, i, gen = ev._value
        reg = self.reg
        if reg.gen[i] != gen or reg.state[i] != OPEN:
            return   # gone before its request arrived
        now = self.env.now
        ch = int(reg.channel[i]) // reg.n_reg
        n = min(self.m, self.arch.integrity.msg_count[ch])
        done = self.arch.join_history(now, i, n)
        if done is None:
            return   # refused (counted by the design)
        self.c["join_history.messages"] += n
        if t0 >= self.warmup:
            down = 0.0 if self.end_to_end else self.d_net()
            self.hist.add(np.array([done - t0 + down]))

    def summary(self) -> dict:
        c = self.c
        q = self.hist.quantile
        return {
            "features_join_history_requests": int(c["join_history.requests"]),
            "features_join_history_failed": int(c["join_history.failed"]),
            "features_join_history_messages": int(c["join_history.messages"]),
            "features_join_history_p50_ms": q(0.5) * 1e3 if self.hist.n else None,
            "features_join_history_p99_ms": q(0.99) * 1e3 if self.hist.n else None,
        }


#: draws of a typing spell's length to estimate its mean events (sizing only)
_SIZING_DRAWS = 4000  # not a catalog value


def expected_event_rate(scn, p, message_rate: float, members: float, room_size: float) -> float:
    """Feature events per second to expect at steady state (for sizing, not for the run):
    typing spells at the users' ``message_rate`` with their expected events, presence updates
    of ``members`` and their enters and leaves (one each per session), unless rooms of
    ``room_size`` members get counts instead."""
    import numpy as np

    from simulator.scenario import build_dist

    f = scn.features
    rate = 0.0
    if f.typing is not None:
        beat = f.typing.heartbeat_s or p["behaviour.typing_heartbeat_s"]
        spells = build_dist(f.typing.typing_s).sample(np.random.default_rng(0), _SIZING_DRAWS)
        rate += message_rate * (1.0 + float(np.floor(spells / beat).mean())
                                + (1.0 if f.typing.stop_event else 0.0))
    pr = f.presence
    if pr is not None and (pr.counts_above is None or room_size <= pr.counts_above):
        session = build_dist(scn.workload.session_s).mean
        rate += members * (pr.updates_per_member_per_h / 3600.0 + 2.0 / session)
    return rate


def feature_sender(reg, v, c, now: float) -> tuple[int, int, str] | None:
    """``(slot, channel key, kind)`` of the feature event ``v`` reaching the design at
    ``now``; None when a client sent it and its connection has closed meanwhile (counted
    ``publishes.sender_gone``, as a user's message). A client's event resets its connection's
    idle timer; a server's (a leave, a count) has no sender to check."""
    i, key, kind = v[3], v[KEY], v[KIND]
    if CLIENT_SENT[kind]:
        if not open_sender(reg, i, v[4]):
            c["publishes.sender_gone"] += 1
            return None
        reg.last_send[i] = now
    return i, key, kind


def open_sender(reg, i: int, gen: int) -> bool:
    """Whether slot ``i`` is still the open connection of generation ``gen``."""
    return i >= 0 and reg.state[i] == OPEN and reg.gen[i] == gen
