"""Connection lifecycle of the basic design: arrivals, the connect path, session ends,
server-side closes, ``$disconnect``, reconnects, blips, incidents, heartbeats and the
cleanup of zombie rows.

A *client* is a session with a channel and an end time; its *connections* come and go. When a
connection drops while the session goes on (a blip, an idle or 2-hour cut, an oversize
message, an incident, a heartbeat timeout), the client is in a *gap* until it reconnects; the
integrity ledger counts the messages it misses and what the resume policy recovers.
"""

from __future__ import annotations

import heapq

import numpy as np

from simulator.units import MB
from simulator.workload.population import CLOSING, HALF_OPEN, OPEN, ZOMBIE


class _Attempt:
    """A client's connection attempt (and what it carries across retries)."""

    __slots__ = ("t0", "session_end", "channel", "k", "gap", "incident")

    def __init__(self, t0, session_end, channel, k=0, gap=None, incident=None):
        self.t0 = t0
        self.session_end = session_end
        self.channel = channel
        self.k = k
        self.gap = gap
        self.incident = incident


class ConnectionPaths:
    """Mixin of the architecture: every method here works on the architecture's registry,
    components and counters (``self.reg``, ``self.apigw``, ``self.f_connect``, ...)."""

    # -- population at t = 0 ---------------------------------------------------------------------
    def _populate(self) -> None:
        """Clients connected at t = 0, in steady state: ages and remaining session lengths
        from the length-biased session distribution; connections younger than the maximum
        duration (older sessions have already reconnected)."""
        n = self.initial
        if n == 0:
            return
        rng = self.s["population"]
        pool = self.session_dist.sample(rng, max(4 * n, 10_000))  # not a catalog value
        w = pool / pool.sum()
        total = rng.choice(pool, size=n, p=w)
        age = rng.random(n) * total
        resid = total - age
        conn_age = np.mod(age, self.apigw.max_duration)
        ch = self.channels.assign(rng.random(n))
        reg = self.reg
        for k in range(n):
            i = reg.open(0.0, int(ch[k]), float(resid[k]), connected_at=-float(conn_age[k]),
                         last_activity=0.0)
            self._row_written(i, -float(conn_age[k]))
            heapq.heappush(self._calendar, (float(resid[k]), i, int(reg.gen[i])))
        self.connected.add(0.0, n)
        self.c["connections.initial"] += n

    def _row_written(self, i: int, connected_at: float) -> None:
        ttl = self.ttl
        if ttl is not None:
            self.reg.ttl_at[i] = connected_at + ttl.ttl_s
            self.reg.ttl_gone_at[i] = connected_at + ttl.ttl_s + self.d_ttl()

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
                for tk, sk, ck in zip(ts.tolist(), sess.tolist(), ch.tolist()):
                    self._at(tk - env.now, self._attempt_ev, _Attempt(tk, tk + sk, ck))
            t += W
            yield env.timeout(t - env.now)

    def _attempt_ev(self, ev) -> None:
        a = ev._value
        now = self.env.now
        if now >= a.session_end:
            self._session_over(a)
            return
        self.attempt(now, a)

    def attempt(self, now: float, a: _Attempt) -> None:
        """A client opens a WebSocket: the upgrade request travels to API Gateway."""
        self.c["connections.attempted"] += 1
        if a.k > 0 or a.gap is not None:
            self.c["connections.reconnect_attempts"] += 1
        self.conn_inflight += 1
        a.t0 = now
        self._at(self.d_oneway() + self.d_route(), self._conn_arrive, a)

    def _reject(self, now: float, a: _Attempt, why: str, quota: str | None = None,
                component: str = "") -> None:
        self.conn_inflight -= 1
        self.c["connections.rejected"] += 1
        self.c[f"connections.rejected.{why}"] += 1
        if quota:
            self.rec.breaches.add(now, quota, component, self.region)
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
        d += self.d_oneway()  # the client learns of the refusal or drop one way later
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

    def _conn_arrive(self, ev) -> None:
        now = self.env.now
        a = ev._value
        cap = self.apigw.max_concurrent
        if cap is not None and self.reg.n_connected + self.establishing >= cap:
            self._reject(now, a, "concurrent_connections", "api_gateway.max_concurrent_connections",
                         "api_gateway:$connect")
            return
        if not self.apigw.conn_bucket.try_take(now):
            self._reject(now, a, "connection_rate", "api_gateway.new_connections_per_s",
                         "api_gateway:$connect")
            return
        self.establishing += 1
        f = self.f_auth
        if f is None:
            self._connect_invoke(now, a)
            return
        t = f.begin(now)
        if t is None:
            self.establishing -= 1
            self._reject(now, a, "lambda_throttle")
            return
        f.finish(now, t)
        self._at(t - now, self._auth_done, a)

    def _auth_done(self, ev) -> None:
        self._connect_invoke(self.env.now, ev._value)

    def _connect_invoke(self, now: float, a: _Attempt) -> None:
        t = self.f_connect.begin(now)
        if t is None:
            self.establishing -= 1
            self._reject(now, a, "lambda_throttle")
            return
        self._at(t - now, self._connect_put, (a, now, 1))

    def _connect_put(self, ev) -> None:
        """$connect writes the connection row (SDK retries on throttling)."""
        now = self.env.now
        a, start, attempt = ev._value
        if self.table.write_item(now, a.channel):
            self._at(self.d_item(), self._established, (a, start))
            return
        if attempt < self.retry.max_attempts:
            self._at(self.d_item() + self._backoff(attempt - 1), self._connect_put,
                     (a, start, attempt + 1))
            return
        self.f_connect.finish(start, now + self.d_item())
        self.establishing -= 1
        self._reject(now, a, "dynamodb_throttle")

    def _established(self, ev) -> None:
        now = self.env.now
        a, start = ev._value
        self.f_connect.finish(start, now)
        self.establishing -= 1
        session_end = max(a.session_end, now)  # a session over during the handshake closes at once
        i = self.reg.open(now, a.channel, session_end)
        self._row_written(i, now)
        self.connected.add(now, 1)
        self.c["connections.established"] += 1
        self.conn_inflight -= 1
        if a.t0 >= self.warmup:
            self.connect_hist.add(np.array([now - a.t0 + self.d_oneway()]))
        if a.incident is not None:
            inc = a.incident
            inc["reconnected"] += 1
            inc["last_reconnect_s"] = now
        if a.gap is not None:
            self._resume(now, a)
        heapq.heappush(self._calendar, (session_end, i, int(self.reg.gen[i])))

    # -- drops: the session goes on ---------------------------------------------------------------
    def _drop(self, now: float, i: int, why: str, incident: dict | None = None) -> None:
        """API Gateway closes a connection whose client is still there (idle timeout, 2 h,
        oversize message, incident, heartbeat timeout): the client is in a gap and reconnects
        by its policy."""
        reg = self.reg
        session_end = float(reg.session_end[i])
        ch = int(reg.channel[i])
        gap = self.integrity.gap_start(ch, now, float(reg.connected_at[i]))
        self.c[f"connections.closed.{why}"] += 1
        self._server_close(now, i)
        a = _Attempt(now, session_end, ch, 0, gap, incident)
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
        ch = int(reg.channel[i])
        session_end = float(reg.session_end[i])
        gap = self.integrity.gap_start(ch, now, float(reg.connected_at[i]))
        self.c["connections.blips"] += 1
        reg.vanish(now, i)
        a = _Attempt(now, session_end, ch, 0, gap)
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
        self.rec.breaches.add(now, "incident.mass_drop", "api_gateway:connection", self.region, n)
        for i in ids:
            self._drop(now, int(i), "incident", storm)

    # -- session ends and server closes --------------------------------------------------------
    def _calendar_pump(self):
        env = self.env
        W = self.scn.engine.window_s
        cal = self._calendar
        while True:
            horizon = env.now + W
            while cal and cal[0][0] < horizon:
                t, i, g = heapq.heappop(cal)
                self._at(t - env.now, self._session_end, (i, g))
            yield env.timeout(W)

    def _session_end(self, ev) -> None:
        i, g = ev._value
        reg = self.reg
        if reg.gen[i] != g or reg.state[i] != OPEN:
            return
        now = self.env.now
        if self.u() < self.graceful:
            self.c["connections.closed.graceful"] += 1
            self._server_close(now, i)
        else:
            self.c["connections.closed.abrupt"] += 1
            reg.vanish(now, i)

    def _server_close(self, now: float, i: int) -> None:
        """API Gateway closes the connection (close frame, timeout, limit): the row waits
        for $disconnect."""
        reg = self.reg
        self.connected.add(now, -1)   # OPEN or HALF_OPEN: API Gateway stops billing minutes
        reg.close(i, now)
        self._at(self.d_route(), self._disconnect_invoke, (i, int(reg.gen[i])))

    def _disconnect_invoke(self, ev) -> None:
        now = self.env.now
        i, g = ev._value
        reg = self.reg
        if reg.gen[i] != g or reg.state[i] != CLOSING:
            return
        if self.u() < self.miss:
            self.c["disconnect.missed"] += 1
            reg.zombify(i)
            return
        t = self.f_disconnect.begin(now)
        if t is None:
            self.c["disconnect.throttled"] += 1
            reg.zombify(i)
            return
        self._at(t - now, self._disconnect_delete, (i, g, now, 1))

    def _disconnect_delete(self, ev) -> None:
        now = self.env.now
        i, g, start, attempt = ev._value
        reg = self.reg
        if self.table.write_item(now, int(reg.channel[i])):
            end = now + self.d_item()
            self.f_disconnect.finish(start, end)
            if reg.gen[i] == g and reg.state[i] == CLOSING:
                reg.delete_row(i, end)
            return
        if attempt < self.retry.max_attempts:
            self._at(self.d_item() + self._backoff(attempt - 1), self._disconnect_delete,
                     (i, g, start, attempt + 1))
            return
        self.f_disconnect.finish(start, now + self.d_item())
        self.c["disconnect.failed"] += 1
        if reg.gen[i] == g and reg.state[i] == CLOSING:
            reg.zombify(i)

    def _sweeper(self):
        """Checked every ``idle_check_s``: idle timeout, maximum connection duration, API
        Gateway noticing half-open connections, and TTL deletions of expired rows."""
        env = self.env
        step = self.scn.engine.idle_check_s
        idle_to = self.apigw.idle_timeout
        max_dur = self.apigw.max_duration
        reg = self.reg
        hb = self.heartbeat
        while True:
            yield env.timeout(step)
            now = env.now
            if self.ttl is not None and (reg.n_zombie or reg.n_closing):
                self._ttl_deletions(now)
            slots = reg.connected_slots()
            if slots.size == 0:
                continue
            half = reg.state[slots] == HALF_OPEN
            ca = reg.connected_at[slots]
            act = np.maximum(ca, reg.last_send[slots])
            until = np.where(half, reg.half_open_at[slots], now)
            pings = hb.last_activity(ca, until)
            if pings is not None:
                act = np.maximum(act, pings)
            if self.reset_idle:
                act = np.maximum(act, reg.last_msg[reg.channel[slots]])
            idle = act + idle_to <= now
            old = ca + max_dur <= now
            noticed = half & (reg.half_open_at[slots] + self.half_detect <= now)
            hit = idle | old | noticed
            if not hit.any():
                continue
            for k in np.flatnonzero(hit).tolist():
                i = int(slots[k])
                if half[k]:
                    why = "half_open_detected" if noticed[k] and not idle[k] else (
                        "max_duration" if old[k] else "idle")
                    self.c[f"connections.closed.{why}"] += 1
                    self._server_close(now, i)
                    continue
                why = "max_duration" if old[k] else "idle"
                quota = "max_connection_duration_s" if old[k] else "idle_timeout_s"
                self.rec.breaches.add(now, f"api_gateway.{quota}", "api_gateway:connection",
                                      self.region)
                self._drop(now, i, why)

    def _ttl_deletions(self, now: float) -> None:
        """DynamoDB deletes expired rows (free of charge) some time after their TTL."""
        reg = self.reg
        s = reg.state
        due = np.flatnonzero(((s == CLOSING) | (s == ZOMBIE)) & (reg.ttl_gone_at <= now))
        for i in due.tolist():
            reg.delete_row(i, now)
        if due.size:
            self.c["cleanup.ttl_deletes"] += due.size

    # -- heartbeats ------------------------------------------------------------------------------
    def _heartbeat_source(self):
        """App keep-alives: every open connection sends one every ``interval_s`` from its
        connection time (scheduled per window, one event each)."""
        env = self.env
        h = self.heartbeat.interval
        W = self.scn.engine.window_s
        reg = self.reg
        while True:
            t = env.now
            if reg.n_open:
                ids = reg.open_ids[:reg.n_open]
                ca = reg.connected_at[ids]
                nxt = ca + np.ceil((t - ca) / h) * h
                nxt = np.where(nxt <= t, nxt + h, nxt)
                due = nxt < t + W
                for i, tk in zip(ids[due].tolist(), nxt[due].tolist()):
                    self._at(tk - t, self._heartbeat_ev, (i, int(reg.gen[i])))
            yield env.timeout(W)

    def _ping_source(self):
        """WebSocket pings of the connected clients, counted per window (no event per ping):
        each window's pings are billed (ping and pong, if the catalog says pings are billed)
        and take account-throttle tokens (if it says they do)."""
        env = self.env
        hb = self.heartbeat
        W = self.scn.engine.window_s
        rng = self.s["pings"]
        c = self.c
        while True:
            yield env.timeout(W)
            n = int(rng.poisson(self.reg.n_open * W / hb.interval))
            if not n:
                continue
            c["heartbeats.sent"] += n
            if hb.billed:
                c["apigw.messages.inbound"] += n
                c["apigw.messages.outbound"] += n
            if hb.uses_throttle:
                got = self._account.take_up_to(env.now, n)
                if got < n:
                    c["heartbeats.throttled"] += n - got
                    self.rec.breaches.add(env.now, "api_gateway.account_throttle",
                                          "api_gateway:ping", self.region, n - got)

    def _heartbeat_ev(self, ev) -> None:
        now = self.env.now
        i, g = ev._value
        reg = self.reg
        if reg.gen[i] != g or reg.state[i] != OPEN:
            return
        c = self.c
        c["heartbeats.sent"] += 1
        if not self._account.try_take(now):
            c["heartbeats.throttled"] += 1
            c["api_gateway.throttled_messages"] += 1
            self.rec.breaches.add(now, "api_gateway.account_throttle", "api_gateway:heartbeat",
                                  self.region)
            return
        c["apigw.messages.inbound"] += 1
        reg.last_send[i] = now
        if self.heartbeat.route != "lambda":
            return
        f = self.f_heartbeat
        t = f.begin(now)
        if t is None:
            c["heartbeats.throttled"] += 1
            return
        if self.table.update_item(now):
            reg.last_seen[i] = t
        else:
            c["heartbeats.unrecorded"] += 1
        f.finish(now, t + self.d_item())

    # -- cleanup: the sweep ----------------------------------------------------------------------
    def _sweep_source(self):
        env = self.env
        interval = self.sweep.interval_s
        while True:
            yield env.timeout(interval)
            self._sweep(env.now)

    def _sweep(self, now: float) -> None:
        """A scheduled Lambda scans the table, then calls GetConnection for every row, at most
        ``P`` calls in flight (each takes an account-throttle token): rows whose connection is
        gone (410) are deleted; with app heartbeats, connections silent for longer than the
        heartbeat timeout are closed with DeleteConnection (which runs $disconnect). The calls
        are made in one-second batches (one event each) at the pool's rate."""
        reg = self.reg
        c = self.c
        f = self.f_sweep
        t = f.begin(now)
        if t is None:
            c["cleanup.sweeps_throttled"] += 1
            return
        c["cleanup.sweeps"] += 1
        rows = np.flatnonzero(reg.state != 0)
        pages = self.table.pages(rows.size)
        scanned = 0
        for nbytes in pages:
            if not self.table.scan_page(now, nbytes):
                break
            scanned += int(round(nbytes / self.table.item_bytes))
            t += self.d_page() + nbytes / MB * self.d_s_per_mb()
        if scanned < rows.size:
            rows = self.s["cleanup"].choice(rows, size=scanned, replace=False)
        rate = max(1, int(self.fanout.P / self.fanout.post.mean))   # calls per second
        batches = [(rows[k:k + rate], reg.gen[rows[k:k + rate]].copy())
                   for k in range(0, rows.size, rate)]
        if not batches:
            f.finish(now, t)
            return
        self._at(t - now, self._sweep_batch, (f, now, batches, 0))

    def _sweep_batch(self, ev) -> None:
        now = self.env.now
        f, start, batches, k = ev._value
        reg = self.reg
        c = self.c
        rows, gens = batches[k]
        alive = reg.gen[rows] == gens           # rows deleted or reused since the scan
        rows = rows[alive]
        checked = self._account.take_up_to(now, rows.size)
        if checked < rows.size:
            c["cleanup.throttled_checks"] += rows.size - checked
            self.rec.breaches.add(now, "api_gateway.account_throttle", "api_gateway:@connections",
                                  self.region, rows.size - checked)
            rows = rows[:checked]
        c["cleanup.get_connection_calls"] += checked
        st = reg.state[rows]
        gone = rows[(st == CLOSING) | (st == ZOMBIE)]
        deleted = 0
        for i in gone.tolist():
            if self.table.write_item(now, int(reg.channel[i])):
                reg.delete_row(i, now)
                deleted += 1
        c["cleanup.sweep_deletes"] += deleted
        if self.heartbeat.server_detection:
            hb = self.heartbeat
            live = rows[(st == OPEN) | (st == HALF_OPEN)]
            silent = live[reg.last_seen[live] + hb.interval + hb.timeout <= now]
            for i in silent.tolist():
                if not self._account.try_take(now):
                    c["cleanup.throttled_checks"] += 1
                    break
                c["cleanup.heartbeat_timeouts"] += 1
                if reg.state[i] == OPEN:
                    self._drop(now, i, "heartbeat_timeout")
                else:
                    c["connections.closed.heartbeat_timeout"] += 1
                    self._server_close(now, i)
        if k + 1 < len(batches):
            self._at(1.0, self._sweep_batch, (f, start, batches, k + 1))
        else:
            f.finish(start, now + self.fanout.post.mean)

    # -- resume -----------------------------------------------------------------------------------
    def _resume(self, now: float, a: _Attempt) -> None:
        """The client is back after a gap: settle its missed messages; with a history store it
        asks for them (a billed message, the $default function, a history Query, one post per
        message)."""
        integ = self.integrity
        if not integ.history:
            integ.gap_reconnected(a.gap, now, resume_ok=False)
            return
        f = self.f_default
        c = self.c
        c["resume.requests"] += 1
        c["apigw.messages.inbound"] += 1
        t = f.begin(now) if self._account.try_take(now) else None
        if t is None:
            c["resume.failed"] += 1
            integ.gap_reconnected(a.gap, now, resume_ok=False)
            return
        n, dup = integ.gap_reconnected(a.gap, now, resume_ok=True)
        if n:
            nbytes = n * (self.payload.mean + self.resume_cfg.item_overhead_bytes)
            for page in self.table.pages_of(nbytes):
                c["resume.read_units"] += self.table.read_units(page)
                t += self.d_page() + page / MB * self.d_s_per_mb()
            granted = self._account.take_up_to(now, n)
            c["resume.posts"] += n
            c["resume.throttled_posts"] += n - granted
            units = self.apigw.units(self.payload.mean)
            c["apigw.messages.outbound"] += units * n
            c["data_transfer.out_bytes"] += self.payload.mean * n
            t += np.ceil(n / self.fanout.P) * self.fanout.post.mean
        f.finish(now, t)
