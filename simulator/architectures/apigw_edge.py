"""API Gateway as the edge of the basic design's connections: the connect path (concurrency
cap, connection-rate quota, authorizer, ``$connect`` Lambda, PutItem), ``$disconnect`` and the
zombie rows it leaves when it does not run, the cleanup strategies (410, TTL, a sweep),
keep-alives (WebSocket pings or app heartbeats) and resume from a history store.
"""

from __future__ import annotations

import numpy as np

from simulator.primitives.events import Call
from simulator.units import MB
from simulator.workload.population import CLOSING, HALF_OPEN, OPEN, ZOMBIE


class ApiGatewayEdge:
    """The :class:`~simulator.architectures.connections.Edge` of the API Gateway designs.

    Parameters
    ----------
    env, scn, streams, recorder
        As the architecture's.
    lifecycle : Connections
    apigw : ApiGateway
    table : Table
        The connection table.
    functions : dict
        The Lambda functions by route (``authorizer`` (or None), ``connect``,
        ``disconnect``, ``default``, ``heartbeat`` (or None), ``sweep`` (or None)).
    retry : RetryPolicy
    draws : Draws
    heartbeat : Heartbeat
    integrity : Integrity
    payload : Distribution
        Message sizes (resume re-sends).
    posts_in_flight : int
        SDK sockets of a Lambda calling ``@connections`` (sweep and resume batches).
    post_mean : float
        Mean PostToConnection latency, seconds.
    params : Params
    """

    component = "api_gateway"

    def __init__(self, env, scn, streams, recorder, lifecycle, apigw, table, functions, retry,
                 draws, heartbeat, integrity, payload, posts_in_flight, post_mean, params):
        self.env = env
        self.scn = scn
        self.s = streams
        self.rec = recorder
        self.c = recorder.c
        self.lc = lifecycle
        self.reg = lifecycle.reg
        self.region = apigw.region
        self.apigw = apigw
        self.table = table
        self.f_auth = functions["authorizer"]
        self.f_connect = functions["connect"]
        self.f_disconnect = functions["disconnect"]
        self.f_default = functions["default"]
        self.f_heartbeat = functions["heartbeat"]
        self.f_sweep = functions["sweep"]
        self.retry = retry
        self.u = draws.u
        self.d_route = draws.d_route
        self.d_item = draws.d_item
        self.d_page = draws.d_page
        self.d_s_per_mb = draws.d_s_per_mb
        self.d_backoff = draws.d_backoff
        self.heartbeat = heartbeat
        self.integrity = integrity
        self.payload = payload
        self.P = int(posts_in_flight)
        self.post_mean = post_mean
        cleanup = scn.app.cleanup
        self.sweep = cleanup.sweep
        self.ttl = cleanup.ttl
        if self.ttl is not None:
            self.reg.keep("ttl_at", "ttl_gone_at")
        if heartbeat.server_detection:    # the sweep reads lastSeen
            self.reg.keep("last_seen")
        self.d_ttl = streams.buffered("dynamodb.ttl", params["latency.dynamodb_ttl_deletion_delay_s"])
        self.resume_cfg = scn.app.resume
        self.idle_timeout = apigw.idle_timeout
        self.max_duration = apigw.max_duration
        self.reset_idle = bool(params["behaviour.apigw_server_messages_reset_idle"])
        self.half_detect = float(params["behaviour.apigw_half_open_detection_s"])
        self.miss = float(params["behaviour.apigw_disconnect_miss_fraction"])
        self.establishing = 0
        # in a design over several Regions, this edge serves the rows of Region ``rix``
        self.n_reg = self.reg.n_reg
        self.rix = 0
        self.connected_now = lambda: self.reg.n_connected
        self.up = lambda: True

    def mine(self, ids: np.ndarray) -> np.ndarray:
        """The slots among ``ids`` served by this edge's Region."""
        if self.n_reg == 1:
            return ids
        return ids[self.reg.channel[ids] % self.n_reg == self.rix]

    def _at(self, delay: float, fn, value) -> None:
        Call(self.env, delay, fn, value)

    def _backoff(self, retry_index: int) -> float:
        return float(self.retry.delay(retry_index, self.d_backoff()))

    def start(self) -> None:
        env = self.env
        if self.heartbeat.kind == "app":
            env.process(self._heartbeat_source())
        if self.heartbeat.kind == "ws_ping":
            env.process(self._ping_source())
        if self.sweep is not None:
            env.process(self._sweep_source())

    def ingress(self) -> float:
        return self.d_route()

    def row_written(self, i: int, connected_at: float) -> None:
        ttl = self.ttl
        if ttl is not None:
            self.reg.ttl_at[i] = connected_at + ttl.ttl_s
            self.reg.ttl_gone_at[i] = connected_at + ttl.ttl_s + self.d_ttl()

    def closed(self, now: float, i: int) -> None:
        """The row waits for ``$disconnect``, invoked after API Gateway's routing delay."""
        self._at(self.d_route(), self._disconnect_invoke, (i, int(self.reg.gen[i])))

    def lost(self, now: float, i: int) -> None:
        """The Region failed with the connection: no ``$disconnect`` runs, its row stays (a
        zombie, in every replica of a global table) until a cleanup removes it."""
        self.c["disconnect.region_down"] += 1
        self.reg.zombify(i)

    def arrive(self, ev) -> None:
        """The upgrade request reaches API Gateway: concurrency cap, connection-rate quota,
        authorizer, ``$connect`` and its PutItem."""
        now = self.env.now
        a = ev._value
        cap = self.apigw.max_concurrent
        if cap is not None and self.connected_now() + self.establishing >= cap:
            self.lc.reject(now, a, "concurrent_connections", "api_gateway.max_concurrent_connections",
                         "api_gateway:$connect")
            return
        if not self.apigw.conn_bucket.try_take(now):
            self.lc.reject(now, a, "connection_rate", "api_gateway.new_connections_per_s",
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
            self.lc.reject(now, a, "lambda_throttle")
            return
        f.finish(now, t)
        self._at(t - now, self._auth_done, a)

    def _auth_done(self, ev) -> None:
        self._connect_invoke(self.env.now, ev._value)

    def _connect_invoke(self, now: float, a) -> None:
        t = self.f_connect.begin(now)
        if t is None:
            self.establishing -= 1
            self.lc.reject(now, a, "lambda_throttle")
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
        self.lc.reject(now, a, "dynamodb_throttle")

    def _established(self, ev) -> None:
        now = self.env.now
        a, start = ev._value
        self.f_connect.finish(start, now)
        self.establishing -= 1
        self.lc.established(now, a)

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

    def on_check(self, now: float) -> None:
        reg = self.reg
        if self.ttl is not None and (reg.n_zombie or reg.n_closing):
            self._ttl_deletions(now)

    def _ttl_deletions(self, now: float) -> None:
        """DynamoDB deletes expired rows (free of charge) some time after their TTL."""
        reg = self.reg
        s = reg.state
        due = self.mine(np.flatnonzero(((s == CLOSING) | (s == ZOMBIE)) & (reg.ttl_gone_at <= now)))
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
            if reg.n_open and self.up():
                ids = self.mine(reg.open_ids[:reg.n_open])
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
            n_open = self.reg.n_open if self.n_reg == 1 else self.reg.open_r[self.rix]
            n = int(rng.poisson(n_open * W / hb.interval))
            if not n:
                continue
            c["heartbeats.sent"] += n
            if hb.billed:
                c["apigw.messages.inbound"] += n
                c["apigw.messages.outbound"] += n
            if hb.uses_throttle:
                got = self.apigw.admit(env.now, "api_gateway:ping", n)
                if got < n:
                    c["heartbeats.throttled"] += n - got

    def _heartbeat_ev(self, ev) -> None:
        now = self.env.now
        i, g = ev._value
        reg = self.reg
        if reg.gen[i] != g or reg.state[i] != OPEN:
            return
        c = self.c
        c["heartbeats.sent"] += 1
        if not self.apigw.admit(now, "api_gateway:heartbeat"):
            c["heartbeats.throttled"] += 1
            c["api_gateway.throttled_messages"] += 1
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
            if self.up():
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
        total = rows.size
        pages = self.table.pages(total)   # the scan reads the whole table (every Region's rows)
        rows = self.mine(rows)
        scanned = 0
        for nbytes in pages:
            if not self.table.scan_page(now, nbytes):
                break
            scanned += int(round(nbytes / self.table.item_bytes))
            t += self.d_page() + nbytes / MB * self.d_s_per_mb()
        if scanned < total:
            k = scanned if rows.size == total else int(round(rows.size * scanned / total))
            rows = self.s["cleanup"].choice(rows, size=k, replace=False)
        rate = max(1, int(self.P / self.post_mean))   # calls per second
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
        checked = self.apigw.admit(now, "api_gateway:@connections", rows.size)
        if checked < rows.size:
            c["cleanup.throttled_checks"] += rows.size - checked
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
                if not self.apigw.admit(now, "api_gateway:@connections"):
                    c["cleanup.throttled_checks"] += 1
                    break
                c["cleanup.heartbeat_timeouts"] += 1
                if reg.state[i] == OPEN:
                    self.lc.drop(now, i, "heartbeat_timeout")
                else:
                    c["connections.closed.heartbeat_timeout"] += 1
                    self.lc.server_close(now, i)
        if k + 1 < len(batches):
            self._at(1.0, self._sweep_batch, (f, start, batches, k + 1))
        else:
            f.finish(start, now + self.post_mean)

    # -- resume -----------------------------------------------------------------------------------
    def resume(self, now: float, a) -> None:
        """The client is back after a gap: settle its missed messages; with a history store it
        asks for them (a billed message, the $default function, a history Query, one post per
        message)."""
        integ = self.integrity
        if not integ.history:
            integ.gap_reconnected(a.gap, now, resume_ok=False)
            return
        t = self._request(now, "resume")
        if t is None:
            integ.gap_reconnected(a.gap, now, resume_ok=False)
            return
        n, dup = integ.gap_reconnected(a.gap, now, resume_ok=True)
        self._fetch(now, t, n, "resume", self.resume_cfg.item_overhead_bytes)

    def join_history(self, now: float, n: int, overhead_bytes: int) -> float | None:
        """A member that joined asks for its channel's last ``n`` messages (history on join):
        the same request, Query and posts as a resume; returns when the last post is sent,
        None when the request was refused."""
        t = self._request(now, "join_history")
        if t is None:
            return None
        return self._fetch(now, t, n, "join_history", overhead_bytes)

    def _request(self, now: float, what: str) -> float | None:
        """A client's request for past messages: a billed message that invokes $default;
        when its handler starts, or None when the throttle or Lambda refused it."""
        c = self.c
        c[f"{what}.requests"] += 1
        c["apigw.messages.inbound"] += 1
        t = self.f_default.begin(now) if self.apigw.admit(now, "api_gateway:$default") else None
        if t is None:
            c[f"{what}.failed"] += 1
        return t

    def _fetch(self, now: float, t: float, n: int, what: str, overhead_bytes: int) -> float:
        """$default (its handler started at ``t``) reads ``n`` messages from the history
        table and posts each to the client; returns when it is done."""
        c = self.c
        if n:
            nbytes = n * (self.payload.mean + overhead_bytes)
            for page in self.table.pages_of(nbytes):
                c[f"{what}.read_units"] += self.table.read_units(page)
                t += self.d_page() + page / MB * self.d_s_per_mb()
            granted = self.apigw.admit(now, "api_gateway:@connections", n)
            c[f"{what}.posts"] += n
            c[f"{what}.throttled_posts"] += n - granted
            units = self.apigw.units(self.payload.mean)
            c["apigw.messages.outbound"] += units * n
            c["data_transfer.out_bytes"] += self.payload.mean * n
            t += np.ceil(n / self.P) * self.post_mean
        self.f_default.finish(now, t)
        return t
