"""The article's basic design, one Region:

* connect: client -> API Gateway (new-connection quota) -> authorizer Lambda -> ``$connect``
  Lambda -> DynamoDB PutItem -> established;
* publish: client -> API Gateway (size limits, account throttle, billed message) ->
  ``$default`` Lambda -> DynamoDB Query of the channel index (1 MB pages) -> one
  PostToConnection per subscriber (see :mod:`.fanout`);
* disconnect: close frame -> ``$disconnect`` Lambda (best effort) -> DeleteItem; or the
  client vanishes: half-open until API Gateway notices, then ``$disconnect``; rows whose
  ``$disconnect`` never ran stay as zombies until a post gets 410 Gone;
* forced: idle timeout and maximum connection duration close connections; clients with
  session time left reconnect at once.

Control-path steps are SimPy events (callbacks on timeouts, not processes); connection
state lives in the struct-of-arrays registry; fan-out is vectorized.
"""

from __future__ import annotations

import heapq

import numpy as np

from simulator.architectures.fanout import Fanout
from simulator.aws.api_gateway import ApiGateway
from simulator.aws.dynamodb import Table
from simulator.aws.lambda_ import LambdaService
from simulator.aws.sdk import RetryPolicy
from simulator.metrics.histogram import LogHistogram
from simulator.metrics.recorder import Level
from simulator.primitives.distributions import Fixed, LogNormal
from simulator.primitives.events import Call
from simulator.scenario import build_dist
from simulator.workload.arrivals import ArrivalProcess
from simulator.workload.channels import ChannelPlan
from simulator.workload.population import CLOSING, HALF_OPEN, OPEN, ConnectionRegistry

_MB = float(1 << 20)  # bytes per MB (a unit, not a catalog value)


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


class BasicArchitecture:
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
        self.reconnect = w.reconnect_on_server_close
        self._calendar: list[tuple[float, int, int]] = []
        # hot-path constants
        self._account = self.apigw.account
        self._meter = self.apigw.metering
        self._size_limit = (self.apigw.max_payload if self.fragments
                            else min(self.apigw.max_payload, self.apigw.max_frame))
        self._item_bytes = self.table.item_bytes
        self._one_page_rows = self.table.page_bytes // self.table.item_bytes
        self._delete_on_410 = scn.app.delete_on_410
        for k in _COUNTERS:
            self.c[k] += 0.0

    def _function(self, name, cfg):
        p = self.p
        init = build_dist(cfg.init_s) if cfg.init_s else p["latency.lambda_init_s"]
        handler = build_dist(cfg.handler_s) if cfg.handler_s else p["latency.lambda_handler_s"]
        timeout = cfg.timeout_s or p["lambda.default_timeout_s"]
        f = self.lam.function(name, cfg, init, handler, timeout)
        f.d_init = self.s.buffered(f"lambda.{name}.init", init)
        f.d_handler = self.s.buffered(f"lambda.{name}.handler", handler)
        return f

    # -- scheduling helpers --------------------------------------------------------------------
    def _at(self, delay: float, fn, value) -> None:
        Call(self.env, delay, fn, value)

    def _backoff(self, retry_index: int) -> float:
        return float(self.retry.delay(retry_index, self.d_backoff()))

    # -- start -------------------------------------------------------------------------------------
    def start(self) -> None:
        env = self.env
        self._populate()
        env.process(self._connection_source())
        env.process(self._publish_source())
        env.process(self._calendar_pump())
        env.process(self._sweeper())

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
            heapq.heappush(self._calendar, (float(resid[k]), i, int(reg.gen[i])))
        self.connected.add(0.0, n)
        self.c["connections.initial"] += n

    # -- connections ------------------------------------------------------------------------------
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
                    self._at(tk - env.now, self._attempt_ev, (tk + sk, ck))
            t += W
            yield env.timeout(t - env.now)

    def _attempt_ev(self, ev) -> None:
        session_end, ch = ev._value
        self.attempt(self.env.now, session_end, ch)

    def attempt(self, now: float, session_end: float, channel: int) -> None:
        """A client opens a WebSocket: the upgrade request travels to API Gateway."""
        self.c["connections.attempted"] += 1
        self.conn_inflight += 1
        delay = self.d_oneway() + self.d_route()
        self._at(delay, self._conn_arrive, (now, session_end, channel))

    def _reject(self, now: float, why: str, quota: str | None = None, component: str = "") -> None:
        self.conn_inflight -= 1
        self.c["connections.rejected"] += 1
        self.c[f"connections.rejected.{why}"] += 1
        if quota:
            self.rec.breaches.add(now, quota, component, self.region)

    def _conn_arrive(self, ev) -> None:
        now = self.env.now
        t0, session_end, ch = ev._value
        cap = self.apigw.max_concurrent
        if cap is not None and self.reg.n_connected + self.establishing >= cap:
            self._reject(now, "concurrent_connections", "api_gateway.max_concurrent_connections",
                         "api_gateway:$connect")
            return
        if not self.apigw.conn_bucket.try_take(now):
            self._reject(now, "connection_rate", "api_gateway.new_connections_per_s",
                         "api_gateway:$connect")
            return
        self.establishing += 1
        f = self.f_auth
        if f is None:
            self._connect_invoke(now, (t0, session_end, ch))
            return
        r = f.invoke(now)
        if r == 0:
            self.establishing -= 1
            self._reject(now, "lambda_throttle")
            return
        dur = (f.d_init() if r == 2 else 0.0) + f.d_handler()
        f.finish(now, now + dur)
        self._at(dur, self._auth_done, (t0, session_end, ch))

    def _auth_done(self, ev) -> None:
        self._connect_invoke(self.env.now, ev._value)

    def _connect_invoke(self, now, v) -> None:
        f = self.f_connect
        r = f.invoke(now)
        if r == 0:
            self.establishing -= 1
            self._reject(now, "lambda_throttle")
            return
        t = now + (f.d_init() if r == 2 else 0.0) + f.d_handler()
        self._at(t - now, self._connect_put, (v, now, 1))

    def _connect_put(self, ev) -> None:
        """$connect writes the connection row (SDK retries on throttling)."""
        now = self.env.now
        v, start, attempt = ev._value
        if self.table.write_item(now, v[2]):
            self._at(self.d_item(), self._established, (v, start))
            return
        if attempt < self.retry.max_attempts:
            self._at(self.d_item() + self._backoff(attempt - 1), self._connect_put,
                     (v, start, attempt + 1))
            return
        end = now + self.d_item()
        self.f_connect.finish(start, end)
        self.establishing -= 1
        self._reject(now, "dynamodb_throttle")

    def _established(self, ev) -> None:
        now = self.env.now
        (t0, session_end, ch), start = ev._value
        self.f_connect.finish(start, now)
        self.establishing -= 1
        if session_end <= now:
            # the client gave up during the handshake: it closes at once
            session_end = now
        i = self.reg.open(now, ch, session_end)
        self.connected.add(now, 1)
        self.c["connections.established"] += 1
        self.conn_inflight -= 1
        if t0 >= self.warmup:
            self.connect_hist.add(np.array([now - t0 + self.d_oneway()]))
        heapq.heappush(self._calendar, (session_end, i, int(self.reg.gen[i])))

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
        self.reg.close(i)
        self.connected.add(now, -1)
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
        f = self.f_disconnect
        r = f.invoke(now)
        if r == 0:
            self.c["disconnect.throttled"] += 1
            reg.zombify(i)
            return
        t = now + (f.d_init() if r == 2 else 0.0) + f.d_handler()
        self._at(t - now, self._disconnect_delete, (i, g, now, 1))

    def _disconnect_delete(self, ev) -> None:
        now = self.env.now
        i, g, start, attempt = ev._value
        reg = self.reg
        if self.table.write_item(now, int(reg.channel[i])):
            end = now + self.d_item()
            self.f_disconnect.finish(start, end)
            if reg.gen[i] == g and reg.state[i] == CLOSING:
                reg.delete_row(i)
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
        """Server-side closes, checked every ``idle_check_s``: idle timeout, maximum
        connection duration, and API Gateway noticing half-open connections."""
        env = self.env
        step = self.scn.engine.idle_check_s
        idle_to = self.apigw.idle_timeout
        max_dur = self.apigw.max_duration
        reg = self.reg
        while True:
            yield env.timeout(step)
            now = env.now
            slots = reg.connected_slots()
            if slots.size == 0:
                continue
            act = np.maximum(reg.connected_at[slots], reg.last_send[slots])
            if self.reset_idle:
                act = np.maximum(act, reg.last_msg[reg.channel[slots]])
            idle = act + idle_to <= now
            old = reg.connected_at[slots] + max_dur <= now
            half = reg.state[slots] == HALF_OPEN
            noticed = half & (reg.half_open_at[slots] + self.half_detect <= now)
            hit = idle | old | noticed
            if not hit.any():
                continue
            for k in np.flatnonzero(hit).tolist():
                i = int(slots[k])
                was_open = not half[k]
                why = "max_duration" if old[k] else ("idle" if idle[k] else "half_open_detected")
                self.c[f"connections.closed.{why}"] += 1
                if why != "half_open_detected":
                    self.rec.breaches.add(now, f"api_gateway.{'max_connection_duration_s' if why == 'max_duration' else 'idle_timeout_s'}",
                                          "api_gateway:connection", self.region)
                session_end = float(reg.session_end[i])
                ch = int(reg.channel[i])
                self._server_close(now, i)
                if was_open and self.reconnect and session_end > now:
                    self.c["connections.reconnects"] += 1
                    self.attempt(now, session_end, ch)

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
        r = f.invoke(now)
        if r == 0:
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
        t = now + (f.d_init() if r == 2 else 0.0) + f.d_handler()
        pages = x.pages
        if len(pages) == 1 and self.table.query_page(now, ch, pages[0]):
            t_q = t + self.d_page() + pages[0] / _MB * self.d_s_per_mb()
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
        c = self.c
        reg = self.reg
        why = self.apigw.payload_verdict(nbytes, self.fragments)
        self._pub_rejected("oversize")
        c["connections.closed.oversize"] += 1
        self.rec.breaches.add(now, f"api_gateway.max_{why}_bytes", "api_gateway:$default",
                              self.region)
        session_end = float(reg.session_end[i])
        ch = int(reg.channel[i])
        self._server_close(now, i)
        if self.reconnect and session_end > now:
            c["connections.reconnects"] += 1
            self.attempt(now, session_end, ch)

    def _query(self, now: float, t: float, x: _Ctx) -> None:
        """Issue page ``x.page`` of the subscriber query (capacity taken at ``now``); the
        response arrives as an event at ``t`` + latency."""
        nbytes = x.pages[x.page]
        if self.table.query_page(now, x.channel, nbytes):
            lat = self.d_page() + nbytes / _MB * self.d_s_per_mb()
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
        self._published(now, x, live, reg.half[ch], reg.gone[ch])

    def _published(self, now: float, x: _Ctx, live: int, half: int, gone: int,
                   t_tokens: float | None = None) -> None:
        """The subscriber list is in: count the message and start its fan-out at ``now``."""
        c = self.c
        c["messages.published"] += 1
        self.pub_inflight -= 1
        c["deliveries.attempted"] += live + half + gone
        self.reg.last_msg[x.channel] = now
        res = self.fanout.start(now, x.t_pub, live, half, gone, x.deadline, x.record, x,
                                t_tokens)
        if res is not None:
            self._fanout_done(x, res)

    def _fanout_done(self, x: _Ctx, res) -> None:
        self._count(x, res)
        end = res.end
        if res.gone and self._delete_on_410:
            k = self.reg.delete_zombies(x.channel)
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
            "dynamodb.read_request_units": c["dynamodb.read_units"],
            "dynamodb.write_request_units": c["dynamodb.write_units"],
            "data_transfer.internet_gb": c["data_transfer.out_bytes"] / 1e9,
            "deliveries": c["deliveries.succeeded"],
            "connected_seconds": self.connected.area,
            "table_gb": self.reg.n_rows * 2 * self.table.item_bytes / 1e9,
        }

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
        self.c["deliveries.in_flight"] = self.fanout.in_flight_posts
        c["connections.in_flight"] = self.conn_inflight
        c["publishes.in_flight"] = self.pub_inflight


class _Uniform:
    """U(0, 1) as a distribution object (for buffered draws)."""

    mean = 0.5

    def sample(self, rng, n):
        return rng.random(n)


_COUNTERS = (
    "connections.attempted", "connections.established", "connections.rejected",
    "connections.initial", "connections.reconnects", "publishes.attempted", "publishes.rejected",
    "messages.published", "deliveries.attempted", "deliveries.succeeded", "deliveries.failed",
    "deliveries.stale", "deliveries.stale_lost", "deliveries.stale_gone", "apigw.messages",
    "apigw.messages.inbound", "apigw.messages.outbound", "api_gateway.throttled_posts",
    "api_gateway.throttled_messages", "api_gateway.posts", "data_transfer.out_bytes",
    "disconnect.missed", "disconnect.throttled", "disconnect.failed", "dynamodb.deletes_on_410",
    "fanout.throttled_fanouts",
)
