"""The connection lifecycle, common to every design: arrivals, session ends, drops (blips,
timeouts, incidents), reconnects and the gaps between them, and the idle and duration limits
of whatever holds the client's socket.

A *client* is a session with a channel and an end time; its *connections* come and go. When a
connection drops while the session goes on (a blip, an idle or 2-hour cut, an oversize
message, an incident, a heartbeat timeout), the client is in a *gap* until it reconnects; the
integrity ledger counts the messages it misses and what the resume policy recovers.

What differs between designs is the *edge* that admits and closes connections (API Gateway
with its ``$connect`` / ``$disconnect`` Lambdas and connection table, AppSync Events, a managed
service). The edge is injected; it implements :class:`Edge`.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from simulator.metrics.histogram import LogHistogram
from simulator.metrics.recorder import Level
from simulator.primitives.calendar import SessionCalendar
from simulator.primitives.events import Call
from simulator.workload.population import HALF_OPEN, OPEN

#: width of the session calendar's buckets, in windows: a memory / work trade-off with no
#: effect on results
_CALENDAR_WINDOWS = 16   # not a catalog value (an implementation parameter)
#: slots handled at once by the passes over every connection (the idle / duration / half-open
#: check, the rows written at t = 0): bounds their temporaries
_SLOT_BLOCK = 1 << 16   # not a catalog value (an implementation parameter)


def length_biased(rng: np.random.Generator, pool: np.ndarray, n: int) -> np.ndarray:
    """``n`` draws from ``pool`` (positive values), each value with probability proportional to
    itself: the lengths of the sessions under way at a given moment.

    Inverse transform on the cumulative weights, as ``rng.choice(pool, size=n, p=pool /
    pool.sum())`` does (the same uniforms, the same values: a test checks it), with the
    cumulative sums written over the weights instead of into a copy (at a million clients the
    pool holds four million values, 32 MB an array).
    """
    cdf = pool / pool.sum()
    np.cumsum(cdf, out=cdf)
    cdf /= cdf[-1]
    return pool[np.searchsorted(cdf, rng.random(n), side="right")]


class _Attempt:
    """A client's connection attempt (and what it carries across retries)."""

    __slots__ = ("t0", "session_end", "channel", "k", "gap", "incident", "loc", "region")

    def __init__(self, t0, session_end, channel, k=0, gap=None, incident=None, loc=0):
        self.t0 = t0
        self.session_end = session_end
        self.channel = channel      # the channel (not a Region's key)
        self.k = k
        self.gap = gap
        self.incident = incident
        self.loc = loc              # the client's location
        self.region = 0             # the Region this attempt goes to (set by the router)


class Edge(Protocol):
    """What holds the clients' sockets and admits new ones (API Gateway, AppSync Events, a
    managed service).

    Attributes
    ----------
    component : str
        Prefix of its breach names and components (``"api_gateway"``).
    idle_timeout, max_duration : float
        Seconds; ``math.inf`` when the edge has none.
    half_detect : float
        Seconds until the edge notices a client that vanished.
    reset_idle : bool
        Whether messages sent to a client reset its idle timer.
    """

    component: str
    idle_timeout: float
    max_duration: float
    half_detect: float
    reset_idle: bool

    def ingress(self) -> float:
        """Latency from the client's network arrival to the edge's admission (a draw)."""

    def arrive(self, ev) -> None:
        """An attempt (``ev._value``) reaches the edge: admit it (then call
        ``Connections.established``) or refuse it (``Connections.reject``)."""

    def row_written(self, i: int, connected_at: float) -> None:
        """Connection ``i`` is recorded (its state exists from ``connected_at``)."""

    def closed(self, now: float, i: int) -> None:
        """The edge closed connection ``i``: clean up its state."""

    def resume(self, now: float, a: _Attempt) -> None:
        """A client is back after a gap: settle its missed messages."""

    def on_check(self, now: float) -> None:
        """Periodic work at each idle check, before the limits are applied."""

    def start(self) -> None:
        """Start the edge's own processes (heartbeats, sweeps)."""


class StatelessEdge:
    """What an edge that keeps no connection state beyond the socket does (a pub/sub service,
    a server fleet): a closed or lost connection leaves nothing to clean up, a client back
    after a gap resumes nothing (no history store), no periodic work, no process of its own.
    Subclasses set ``reg`` and ``integrity``."""

    reg: Any
    integrity: Any

    def closed(self, now: float, i: int) -> None:
        self.reg.delete_row(i, now)    # the server forgets the connection: nothing to clean up

    def lost(self, now: float, i: int) -> None:
        """The Region failed with the connection: nothing is left of it."""
        self.closed(now, i)

    def resume(self, now: float, a: _Attempt) -> None:
        self.integrity.gap_reconnected(a.gap, now, resume_ok=False)

    def on_check(self, now: float) -> None:
        pass

    def start(self) -> None:
        pass


class Connections:
    """The clients of one run and their connections through an injected :class:`Edge`.

    Parameters
    ----------
    env, scn, streams, recorder
        As the architecture's.
    reg : ConnectionRegistry
    channels : ChannelPlan
    integrity : Integrity
    heartbeat : Heartbeat
        The clients' keep-alive (how fast a client notices a dead connection).
    reconnect : Reconnect
    draws : Draws
        The shared buffered draws (``u``, ``d_oneway``, ``d_backoff``).
    region : str
    router : Router
        Which Region of the design an attempt goes to (DNS, outages).
    geo : Geography, optional
        Where the clients are (the one-way latency of a client at a location to a Region).
    """

    edge: Edge   # injected by attach(), before start()
    fallback: Any = None   # the clients that poll instead (features.fallback), set by the design

    def __init__(self, env, scn, streams, recorder, reg, channels, integrity, heartbeat,
                 reconnect, draws, region: str, router, geo=None):
        from simulator.scenario import build_dist
        from simulator.workload.arrivals import ArrivalProcess

        w = scn.workload
        self.env = env
        self.scn = scn
        self.s = streams
        self.rec = recorder
        self.c = recorder.c
        self.reg = reg
        self.channels = channels
        self.integrity = integrity
        self.heartbeat = heartbeat
        self.reconnect = reconnect
        self.region = region
        self.router = router
        self.geo = geo
        self.n_reg = reg.n_reg
        self.u = draws.u
        self.d_oneway = draws.d_oneway
        self.d_backoff = draws.d_backoff
        self.session_dist = build_dist(w.session_s)
        self.initial = int(round(w.clients * w.initially_connected))
        self.arrivals = ArrivalProcess(w.arrivals, w.clients, self.initial, self.session_dist.mean)
        self.d_blip_detect = streams.buffered("blips.detection", build_dist(w.blips.client_detection_s))
        self.graceful = w.disconnect.graceful_fraction
        self.warmup = scn.warmup_s
        self.connected = Level()
        #: connections open per Region (billed minutes), in a design over several Regions
        self.connected_r = [Level() for _ in range(self.n_reg)] if self.n_reg > 1 else None
        self.connect_hist = LogHistogram()
        self.storms = [dict(at_s=None, dropped=0, reconnected=0, gave_up=0, rejected=0,
                            last_reconnect_s=None) for _ in w.incidents]
        #: session ends (slot, generation) by time, handed to the clock a window ahead;
        #: buckets of several windows keep the number of buckets (and their overhead) small
        self._calendar = SessionCalendar(_CALENDAR_WINDOWS * scn.engine.window_s)
        #: called ``(now, slot)`` when a connection opens, and when the edge closes one
        #: (before its row is released): what features hang on membership (presence)
        self.on_open: list = []
        self.on_close: list = []
        #: called ``(now, slot)`` when a connection opens that is not a reconnect after a gap
        self.on_join: list = []

    def oneway(self, loc: int, region: int) -> float:
        """A one-way client <-> Region latency draw for a client at ``loc``."""
        if self.geo is None:
            return self.d_oneway()
        return self.geo.oneway(loc, region)

    def region_name(self, i: int) -> str:
        """The Region serving slot ``i``."""
        return self.router.names[int(self.reg.channel[i]) % self.n_reg]

    def in_flight(self) -> int:
        """Attempts under way, counted from the live state: the pending events that carry an
        attempt through the edge (a retry or a reconnect waiting to start is not under way).
        Unlike a running count, this misses an attempt that some path dropped: conservation
        of connections then fails, as it should."""
        n = 0
        for _, _, _, ev in self.env._queue:
            v = getattr(ev, "_value", None)
            a = v[0] if isinstance(v, tuple) and v else v
            if not isinstance(a, _Attempt):
                continue
            fn = ev.callbacks[0] if ev.callbacks else None
            if getattr(fn, "__self__", None) is self:   # waiting to start: not under way
                continue
            n += 1
        return n

    def attach(self, edge: Edge) -> None:
        self.edge = edge

    def _at(self, delay: float, fn, value) -> None:
        Call(self.env, delay, fn, value)

    def start(self, sources=()) -> None:
        """Populate, then start the arrivals, the design's own ``sources`` (processes, e.g.
        the publishers), the session calendar, the limit checks, blips, the edge's processes
        and the incidents (in that order: simultaneous events keep it)."""
        env = self.env
        w = self.scn.workload
        self._populate()
        env.process(self._connection_source())
        for src in sources:
            env.process(src)
        if self.fallback is not None:
            env.process(self.fallback.run())
        env.process(self._calendar_pump())
        env.process(self._sweeper())
        if w.blips.per_client_per_h > 0:
            env.process(self._blip_source())
        self.edge.start()
        for k, inc in enumerate(w.incidents):
            if inc.kind == "region_outage":
                self.router.schedule(k, inc, self.storms[k])
            else:
                self._at(inc.at_s, self._incident, (k, inc))

    # -- population at t = 0 ---------------------------------------------------------------------
    def _populate(self) -> None:
        """Clients connected at t = 0, in steady state: ages and remaining session lengths
        from the length-biased session distribution; connections younger than the maximum
        duration (older sessions have already reconnected). Opened in bulk (the slots, rows and
        counts of one ``reg.open`` per client, in order), one ``row_written`` each."""
        n = self.initial
        if n == 0:
            return
        rng = self.s["population"]
        pool = self.session_dist.sample(rng, max(4 * n, 10_000))  # not a catalog value
        total = length_biased(rng, pool, n)
        del pool   # the largest temporary goes before the rows are written
        age = rng.random(n) * total
        resid = total - age
        connected_at = -np.mod(age, self.edge.max_duration)
        del total, age
        ch = self.channels.assign(rng.random(n))
        loc = self.geo.locate(ch) if self.geo is not None else np.zeros(n, dtype=np.int8)
        where = self._initial_regions(loc)
        if self.fallback is not None:   # the pollers open no WebSocket
            ws = np.flatnonzero(self.fallback.initial(ch, where, resid))
            ch, loc, where, resid, connected_at = (x[ws] for x in (ch, loc, where, resid,
                                                                   connected_at))
        reg = self.reg
        slots = reg.open_many(ch * self.n_reg + where, resid, connected_at, 0.0, loc)
        self.connected.add(0.0, slots.size)
        if self.connected_r is not None:
            for r, k in zip(*np.unique(where, return_counts=True)):
                self.connected_r[int(r)].add(0.0, int(k))
        self.c["connections.initial"] += slots.size
        del ch, loc, where
        self._rows_written(slots, connected_at)
        self._calendar.push_many(resid, slots, reg.gen[slots])

    def _rows_written(self, slots: np.ndarray, connected_at: np.ndarray) -> None:
        """``edge.row_written`` for each of the rows opened at t = 0, in order (a block at a
        time: lists of a million Python numbers would take about 70 MB)."""
        row_written = self.edge.row_written
        for lo in range(0, slots.size, _SLOT_BLOCK):
            hi = lo + _SLOT_BLOCK
            for i, t in zip(slots[lo:hi].tolist(), connected_at[lo:hi].tolist()):
                row_written(i, t)

    def _initial_regions(self, loc: np.ndarray) -> np.ndarray:
        """The Region of each client connected at t = 0 (``router.initial`` of its location,
        asked once per location)."""
        locs = np.unique(loc)
        first = np.array([self.router.initial(lk) for lk in locs.tolist()], dtype=np.int64)
        return first[np.searchsorted(locs, loc)]

    # -- arrivals and attempts --------------------------------------------------------------------
    def _connection_source(self):
        env = self.env
        rng = self.s["arrivals"]
        W = self.scn.engine.window_s
        t = 0.0
        end = self.scn.duration_s
        while t < end:
            ts = self.arrivals.sample(rng, t, min(t + W, end))
            if ts.size:
                sess = self.session_dist.sample(rng, ts.size)
                ch = self.channels.assign(rng.random(ts.size))
                if self.geo is None:
                    for tk, sk, ck in zip(ts.tolist(), sess.tolist(), ch.tolist()):
                        self._at(tk - env.now, self._attempt_ev, _Attempt(tk, tk + sk, ck))
                else:
                    loc = self.geo.locate(ch).tolist()
                    for tk, sk, ck, lk in zip(ts.tolist(), sess.tolist(), ch.tolist(), loc):
                        self._at(tk - env.now, self._attempt_ev,
                                 _Attempt(tk, tk + sk, ck, loc=lk))
            t += W
            yield env.timeout(t - env.now)

    def _attempt_ev(self, ev) -> None:
        a = ev._value
        now = self.env.now
        if now >= a.session_end:
            self._session_over(a)
            return
        if (a.k == 0 and a.gap is None and self.fallback is not None
                and self.fallback.arrive(now, a)):
            return   # a new client that polls instead
        self.attempt(now, a)

    def attempt(self, now: float, a: _Attempt) -> None:
        """A client opens a WebSocket: the upgrade request travels to the edge."""
        self.c["connections.attempted"] += 1
        if a.k > 0 or a.gap is not None:
            self.c["connections.reconnect_attempts"] += 1
        a.t0 = now
        a.region = self.router.pick(now, a.loc)
        self._at(self.oneway(a.loc, a.region) + self.edge.ingress(), self.edge.arrive, a)

    def reject(self, now: float, a: _Attempt, why: str, quota: str | None = None,
                component: str = "") -> None:
        self.c["connections.rejected"] += 1
        self.c[f"connections.rejected.{why}"] += 1
        if quota:
            self.rec.breaches.add(now, quota, component, self.router.names[a.region])
        if a.incident is not None:
            a.incident["rejected"] += 1
        self._retry(now, a)

    def _retry(self, now: float, a: _Attempt) -> None:
        """After a refusal or a drop: try again by the reconnect policy, or give up."""
        d = self.reconnect.delay(a.k, self.d_backoff())
        if d is None:
            self.c["connections.abandoned"] += 1
            self._session_over(a)
            return
        d += self.oneway(a.loc, a.region)  # the client learns of it one way later
        if now + d >= a.session_end:
            self._session_over(a)
            return
        a.k += 1
        self._at(d, self._attempt_ev, a)

    def _session_over(self, a: _Attempt) -> None:
        """The session ends while the client is not connected: its gap's messages are lost."""
        if a.gap is not None:
            self.integrity.gap_lost(a.gap)
            a.gap = None
        if a.incident is not None:
            a.incident["gave_up"] += 1
            a.incident = None

    def established(self, now: float, a: _Attempt) -> None:
        """The edge accepted the connection (the handshake is done at ``now``)."""
        session_end = max(a.session_end, now)  # a session over during the handshake closes at once
        i = self.reg.open(now, a.channel * self.n_reg + a.region, session_end, loc=a.loc)
        self.edge.row_written(i, now)
        self.connected.add(now, 1)
        if self.connected_r is not None:
            self.connected_r[a.region].add(now, 1)
        self.c["connections.established"] += 1
        if a.t0 >= self.warmup:
            self.connect_hist.add_one(now - a.t0 + self.oneway(a.loc, a.region))
        if a.incident is not None:
            inc = a.incident
            inc["reconnected"] += 1
            inc["last_reconnect_s"] = now
        if a.gap is not None:
            self.edge.resume(now, a)
        self._calendar.push(session_end, i, int(self.reg.gen[i]))
        for fn in self.on_open:
            fn(now, i)
        if a.gap is None:   # a member that joins (not one back after a gap: that is resume)
            for fn in self.on_join:
                fn(now, i)

    # -- drops: the session goes on ---------------------------------------------------------------
    def drop(self, now: float, i: int, why: str, incident: dict | None = None) -> None:
        """API Gateway closes a connection whose client is still there (idle timeout, 2 h,
        oversize message, incident, heartbeat timeout): the client is in a gap and reconnects
        by its policy."""
        reg = self.reg
        session_end = float(reg.session_end[i])
        ch = int(reg.channel[i]) // self.n_reg
        gap = self.integrity.gap_start(ch, now, float(reg.connected_at[i]))
        self.c[f"connections.closed.{why}"] += 1
        a = _Attempt(now, session_end, ch, 0, gap, incident, int(reg.loc[i]))
        a.region = int(reg.channel[i]) % self.n_reg
        self.server_close(now, i)
        if session_end <= now:
            self._session_over(a)
            return
        self._retry(now, a)

    def _blip_source(self):
        """Network blips: each open connection drops at ``per_client_per_h``; the client is in
        a gap from the blip and reconnects once it notices."""
        env = self.env
        rate = self.scn.workload.blips.per_client_per_h / 3600.0
        rng = self.s["blips"]
        W = self.scn.engine.window_s
        while True:
            n = rng.poisson(rate * self.reg.n_open * W)
            for t in np.sort(rng.uniform(0, W, n)).tolist():
                self._at(t, self._blip, None)
            yield env.timeout(W)

    def _blip(self, ev) -> None:
        now = self.env.now
        reg = self.reg
        i = reg.random_open(self.u())
        if i < 0:
            return
        ch = int(reg.channel[i]) // self.n_reg
        session_end = float(reg.session_end[i])
        gap = self.integrity.gap_start(ch, now, float(reg.connected_at[i]))
        self.c["connections.blips"] += 1
        a = _Attempt(now, session_end, ch, 0, gap, None, int(reg.loc[i]))
        a.region = int(reg.channel[i]) % self.n_reg
        reg.vanish(now, i)
        notice = self.heartbeat.client_detection(self.u(), self.d_blip_detect())
        if now + notice >= session_end:
            self._session_over(a)
            return
        self._at(notice, self._blip_noticed, a)

    def _blip_noticed(self, ev) -> None:
        self._retry(self.env.now, ev._value)

    def _incident(self, ev) -> None:
        """A mass drop: a fraction of the open connections is closed at once."""
        now = self.env.now
        k, inc = ev._value
        reg = self.reg
        n = int(round(inc.fraction * reg.n_open))
        rng = self.s["incidents"]
        ids = reg.open_ids[rng.choice(reg.n_open, size=n, replace=False)].tolist()
        storm = self.storms[k]
        storm.update(at_s=now, dropped=n)
        self.rec.breaches.add(now, "incident.mass_drop", f"{self.edge.component}:connection",
                              self.region, n)
        for i in ids:
            self.drop(now, int(i), "incident", storm)

    # -- session ends and server closes --------------------------------------------------------
    def _calendar_pump(self):
        env = self.env
        W = self.scn.engine.window_s
        cal = self._calendar
        while True:
            now = env.now
            for t, i, g in zip(*cal.pop_due(now + W)):
                self._at(t - now, self._session_end, (i, g))
            yield env.timeout(W)

    def _session_end(self, ev) -> None:
        i, g = ev._value
        reg = self.reg
        if reg.gen[i] != g or reg.state[i] != OPEN:
            return
        now = self.env.now
        if self.u() < self.graceful:
            self.c["connections.closed.graceful"] += 1
            self.server_close(now, i)
        else:
            self.c["connections.closed.abrupt"] += 1
            reg.vanish(now, i)

    def server_close(self, now: float, i: int) -> None:
        """The edge closes the connection (close frame, timeout, limit): its state is
        cleaned up by the edge (for API Gateway, a row waiting for $disconnect)."""
        for fn in self.on_close:
            fn(now, i)
        self.connected.add(now, -1)   # OPEN or HALF_OPEN: billing of minutes stops
        if self.connected_r is not None:
            self.connected_r[int(self.reg.channel[i]) % self.n_reg].add(now, -1)
        self.reg.close(i, now)
        self.edge.closed(now, i)

    def _sweeper(self):
        """Checked every ``idle_check_s``: the edge's own periodic work first (TTL deletions
        of expired rows), then its idle timeout, maximum connection duration, and noticing
        half-open connections (every connection is judged before any is closed)."""
        env = self.env
        step = self.scn.engine.idle_check_s
        edge = self.edge
        while True:
            yield env.timeout(step)
            now = env.now
            edge.on_check(now)
            slots, half, idle, old, noticed = self._over_limits(now)
            for i, h, d, o, nt in zip(slots.tolist(), half.tolist(), idle.tolist(),
                                      old.tolist(), noticed.tolist()):
                if h:
                    why = "half_open_detected" if nt and not d else (
                        "max_duration" if o else "idle")
                    self.c[f"connections.closed.{why}"] += 1
                    self.server_close(now, i)
                    continue
                why = "max_duration" if o else "idle"
                quota = "max_connection_duration_s" if o else "idle_timeout_s"
                self.rec.breaches.add(now, f"{edge.component}.{quota}",
                                      f"{edge.component}:connection", self.region_name(i))
                self.drop(now, i, why)

    def _over_limits(self, now: float) -> tuple[np.ndarray, ...]:
        """The connected slots (OPEN or HALF_OPEN) past a limit at ``now``, in slot order, with
        what they hit: (slots, half-open, idle, too old, noticed half-open). Judged a block of
        slots at a time, so the temporaries stay small (a million connections would need about
        80 MB at once); each slot's test reads only its own row and channel."""
        reg = self.reg
        found = [self._over_limits_in(now, lo, lo + _SLOT_BLOCK)
                 for lo in range(0, reg.state.size, _SLOT_BLOCK)]
        return tuple(np.concatenate(cols) for cols in zip(*found))

    def _over_limits_in(self, now: float, lo: int, hi: int) -> tuple[np.ndarray, ...]:
        """:meth:`_over_limits` for slots ``lo`` .. ``hi - 1``."""
        reg = self.reg
        edge = self.edge
        state = reg.state[lo:hi]
        slots = np.flatnonzero((state == OPEN) | (state == HALF_OPEN)) + lo
        half = reg.state[slots] == HALF_OPEN
        connected_at = reg.connected_at[slots]
        activity = np.maximum(connected_at, reg.last_send[slots])
        gone_at = reg.gone_at[slots]    # a half-open row's client left when it went half-open
        until = np.where(half, gone_at, now)
        pings = self.heartbeat.last_activity(connected_at, until)
        if pings is not None:
            activity = np.maximum(activity, pings)
        if edge.reset_idle:
            activity = np.maximum(activity, reg.last_msg[reg.channel[slots]])
        idle = activity + edge.idle_timeout <= now
        old = connected_at + edge.max_duration <= now
        noticed = half & (gone_at + edge.half_detect <= now)
        hit = idle | old | noticed
        return slots[hit], half[hit], idle[hit], old[hit], noticed[hit]
