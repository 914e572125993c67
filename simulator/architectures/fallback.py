"""Clients that cannot use WebSockets (a proxy, firewall or antivirus blocks the upgrade) and
poll over HTTP instead: a part every design composes (``features.fallback``).

* :class:`Fallback` (one per design): who polls, and what they receive. When a client's
  session starts (a new client, not a reconnect, and the clients connected at t = 0), it is a
  poller with probability ``share`` (its own random stream ``fallback``): it opens no
  WebSocket and counts in its channel's pollers (per channel and Region, an aggregate, not
  registry rows) until its session ends. Every message a design counts as published reaches
  the channel's pollers: ``fallback.deliveries`` and latencies into the design's delivery
  histogram (they are recipients) and a histogram of their own.
* A *poll path* per Region, what answers the polls:

  - :class:`HttpPolls` (the API Gateway designs; ``appsync``, whose Events API has no polling
    transport, with an HTTP API, a Lambda service and a history table of its own): every
    poller polls every ``poll_interval_s`` (uniform phase): an HTTP API request (billed
    ``apigw.http_requests``) that takes a token from the Region's account throttle (REST,
    HTTP and WebSocket APIs share it: ``data/quotas/api_gateway.yaml``), a ``poll`` Lambda
    (configured like ``$default``) and a Query of the channel's messages since the last poll
    on the history table (read units). A message waits U(0, interval) for the next poll, then
    the poll's response path: API Gateway's routing, the handler, one Query page, one way down.
  - :class:`HeldPolls` (``managed``: the vendor SDK's Comet transport; ``containers``:
    Socket.IO's polling transport): the server holds each request until it has something to
    send, so a message leaves on the pending request (no interval wait) and the client asks
    again: one request per delivery plus one per idle interval. The managed service bills the
    messages delivered and the connection minutes (not the requests); the server tasks spend
    CPU on each request and the load balancer meters the bytes.

Stated approximations: pollers publish at the workload's rate, but their messages are sent as
a WebSocket member's (the HTTP request that would carry one is not modelled); a poll
refused by a throttle is counted but its messages are not delayed to the next poll; the
history Query's read units are counted (billed) without the table's capacity model, as for
resume; the latency of a poller's delivery is drawn from the catalog distributions of its
path (not from the simulated poll that carried it); with a geography the down leg is the
scenario's client RTT / 2 (pollers have no location); in ``multi_region`` a message reaches
every Region's pollers from the publishing Region's store (replication delay not added);
the pollers' memory on the server tasks is not modelled.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from simulator.architectures.base import handler_dist
from simulator.metrics.histogram import LogHistogram
from simulator.metrics.recorder import Level
from simulator.primitives.events import Call
from simulator.units import MB, MINUTE

COUNTERS = ("fallback.clients", "fallback.polls", "fallback.polls_throttled",
            "fallback.deliveries", "fallback.read_units", "fallback.http_requests")


class Fallback:
    """The pollers of one run and what reaches them (see the module's docstring).

    Parameters
    ----------
    arch : Design
        Its ``env``, ``scn``, ``p``, ``s``, ``c``, ``channels``, ``reg``, ``router``.
    """

    def __init__(self, arch):
        cfg = arch.scn.features.fallback
        self.arch = arch
        self.env = arch.env
        self.c = arch.c
        self.share = float(cfg.share if cfg.share is not None
                           else arch.p["behaviour.fallback_share"])
        self.interval = float(cfg.poll_interval_s)
        self.n_reg = arch.reg.n_reg
        self.counts = np.zeros(arch.channels.n * self.n_reg, dtype=np.int64)
        self.levels = [Level() for _ in range(self.n_reg)]
        self.total = Level()
        self.rng = arch.s["fallback"]
        self.rng_lat = arch.s["fallback.delivery"]
        self.sample_above = arch.scn.engine.fanout_sample_above
        self.sample_k = arch.scn.engine.fanout_sample_k
        self.hist = LogHistogram()
        self.paths: list = [None] * self.n_reg
        #: publish times of each channel's messages within the last poll interval
        self.recent: dict[int, deque] = {}
        for k in COUNTERS:
            self.c[k] += 0.0

    def attach(self, rix: int, path) -> None:
        """Region ``rix``'s poll path."""
        self.paths[rix] = path

    # -- who polls --------------------------------------------------------------------------------
    def arrive(self, now: float, a) -> bool:
        """A new client's session starts: whether it is a poller (then it is counted here,
        and leaves at its session end)."""
        if self.rng.random() >= self.share:
            return False
        self._join(now, a.channel * self.n_reg + self.arch.router.initial(a.loc), a.session_end)
        return True

    def initial(self, ch: np.ndarray, where: np.ndarray, resid: np.ndarray) -> np.ndarray:
        """The clients connected at t = 0 (channels ``ch``, Regions ``where``, remaining
        session ``resid``): the pollers join here; returns the mask of the WebSocket ones."""
        poll = self.rng.random(ch.size) < self.share
        for k in np.flatnonzero(poll).tolist():
            self._join(0.0, int(ch[k]) * self.n_reg + int(where[k]), float(resid[k]))
        return ~poll

    def _join(self, now: float, key: int, session_end: float) -> None:
        self.counts[key] += 1
        self.levels[key % self.n_reg].add(now, 1)
        self.total.add(now, 1)
        self.c["fallback.clients"] += 1
        Call(self.env, max(session_end - now, 0.0), self._leave, key)

    def _leave(self, ev) -> None:
        key = ev._value
        now = self.env.now
        self.counts[key] -= 1
        self.levels[key % self.n_reg].add(now, -1)
        self.total.add(now, -1)

    def on_channel(self, ch: int) -> np.ndarray:
        """Pollers of channel ``ch`` by Region."""
        return self.counts[ch * self.n_reg:(ch + 1) * self.n_reg]

    def pick_channels(self, rix: int, n: int) -> np.ndarray:
        """The channel keys of ``n`` polls in Region ``rix`` (in proportion to the pollers)."""
        keys = self.counts[rix::self.n_reg]
        p = keys / keys.sum()
        return self.rng.choice(keys.size, size=n, p=p) * self.n_reg + rix

    def messages_since(self, ch: int, now: float) -> int:
        """Messages published on channel ``ch`` within the last poll interval."""
        q = self.recent.get(ch)
        if not q:
            return 0
        while q and q[0] <= now - self.interval:
            q.popleft()
        return len(q)

    # -- polls --------------------------------------------------------------------------------------
    def run(self):
        """At the start of each window, the polls due in it in each Region, from the pollers
        there now (a process; pollers that come or go within a window count from the next)."""
        env = self.env
        W = self.arch.scn.engine.window_s
        while True:
            now = env.now
            for lv, path in zip(self.levels, self.paths):
                path.window(now, now + W, lv.value * W)
            yield env.timeout(W)

    # -- deliveries ---------------------------------------------------------------------------------
    def published(self, now: float, ch: int, t_pub: float, nbytes: float, base: dict,
                  record: bool) -> None:
        """Channel ``ch``'s message (published at ``t_pub``, ``nbytes``) is in the store at
        ``now`` (``base``: stage -> seconds of the path so far): its pollers get it."""
        q = self.recent.get(ch)
        if q is None:
            q = self.recent[ch] = deque()
        q.append(now)
        by_region = self.on_channel(ch)
        n = int(by_region.sum())
        if not n:
            return
        self.c["fallback.deliveries"] += n
        for rix in np.flatnonzero(by_region).tolist():
            m = int(by_region[rix])
            path = self.paths[rix]
            path.delivered(now, m, nbytes)
            if record:
                self._record(path, m, base)

    def _record(self, path, n: int, base: dict) -> None:
        """Latencies of ``n`` deliveries to pollers (a weighted sample above ``sample_above``)."""
        k = n if n <= self.sample_above else self.sample_k
        rng = self.rng_lat
        wait = path.wait(rng, k)
        parts = dict(path.response(rng, k))
        lat = sum(parts.values()) + wait
        if not path.end_to_end:
            for name, v in base.items():
                parts[name] = parts.get(name, 0.0) + v
            lat = lat + sum(base.values())
        parts["poll_wait"] = wait
        w = np.full(k, n / k)
        self.arch.add_latencies(lat, w, parts)
        self.hist.add(lat, w)

    # -- results --------------------------------------------------------------------------------------
    def usage(self, rix: int, now: float) -> dict:
        """Billable items of Region ``rix``'s poll path, to add to the design's."""
        self.levels[rix].close(now)
        return self.paths[rix].usage(self.levels[rix].area)

    def summary(self) -> dict:
        c = self.c
        h = self.hist
        return {
            "fallback_share": self.share,
            "fallback_clients": c["fallback.clients"],
            "fallback_clients_peak": self.total.peak,
            "fallback_polls": c["fallback.polls"],
            "fallback_polls_throttled": c["fallback.polls_throttled"],
            "fallback_deliveries": c["fallback.deliveries"],
            "fallback_latency_p50_ms": _ms(h.quantile(0.5)) if h.n else None,
            "fallback_latency_p99_ms": _ms(h.quantile(0.99)) if h.n else None,
        }


def _ms(x: float) -> float | None:
    return None if not math.isfinite(x) else round(x * 1000.0, 3)


class HttpPolls:
    """Polls every ``interval`` through an HTTP API, a ``poll`` Lambda and a history Query.

    Parameters
    ----------
    fb : Fallback
    rix : int
        The Region's index.
    apigw : ApiGateway
        Whose account throttle the requests take.
    function : LambdaFunction
        The ``poll`` function.
    table : Table
        Read units and pages of the history Query.
    arch : Design
        The Region's design (payload, latency distributions, counters).
    item_overhead : float
        Bytes of keys per history item.
    handler : distribution
        The function's handler duration (for the latency of a poller's delivery).
    """

    end_to_end = False

    def __init__(self, fb: Fallback, rix: int, apigw, function, table, arch, item_overhead,
                 handler):
        self.fb = fb
        self.rix = rix
        self.env = arch.env
        self.c = arch.c
        self.apigw = apigw
        self.f = function
        self.table = table
        self.item_bytes = arch.payload.mean + item_overhead
        p = arch.p
        self.d_route = p["latency.apigw_route_s"]
        self.handler = handler
        self.d_page = p["latency.dynamodb_query_page_s"]
        self.d_s_per_mb = p["latency.dynamodb_query_s_per_mb"]
        self.oneway = arch.oneway
        self.due = 0.0
        self.interval = fb.interval

    # -- polls ----------------------------------------------------------------------------------
    def window(self, t0: float, t1: float, poller_seconds: float) -> None:
        """The polls of ``t0 .. t1`` (``poller_seconds`` / interval of them, the fraction
        carried over), at uniform times, on channels in proportion to their pollers."""
        self.due += poller_seconds / self.interval
        n = int(self.due)
        if n <= 0 or not self.fb.counts[self.rix::self.fb.n_reg].any():
            return
        self.due -= n
        rng = self.fb.rng
        ts = np.sort(rng.uniform(t0, t1, n))
        keys = self.fb.pick_channels(self.rix, n)
        now = self.env.now
        for tk, key in zip(ts.tolist(), keys.tolist()):
            Call(self.env, tk - now, self._poll, key)

    def _poll(self, ev) -> None:
        """One poll: the account throttle, the HTTP API request, the Lambda, the Query."""
        now = self.env.now
        c = self.c
        c["fallback.polls"] += 1
        if not self.apigw.admit(now, "api_gateway:poll"):
            c["fallback.polls_throttled"] += 1
            return
        c["fallback.http_requests"] += 1
        t = self.f.begin(now)
        if t is None:
            c["fallback.polls_throttled"] += 1
            return
        ch = ev._value // self.fb.n_reg
        nbytes = self.fb.messages_since(ch, now) * self.item_bytes
        for page in self.table.pages_of(nbytes):
            c["fallback.read_units"] += self.table.read_units(page)
            t += self.d_page.sample(self.fb.rng_lat, 1)[0] \
                + page / MB * self.d_s_per_mb.sample(self.fb.rng_lat, 1)[0]
        self.f.finish(now, t)

    def delivered(self, now: float, n: int, nbytes: float) -> None:
        """``n`` pollers get a message of ``nbytes`` in their next poll's response."""
        self.c["data_transfer.out_bytes"] += n * nbytes

    # -- latency ----------------------------------------------------------------------------------
    def wait(self, rng, k: int) -> np.ndarray:
        """Until the poller's next poll: U(0, interval)."""
        return rng.uniform(0.0, self.interval, k)

    def response(self, rng, k: int) -> dict:
        """The poll's response path: stage -> seconds."""
        return {"api_gateway": self.d_route.sample(rng, k),
                "lambda_handler": self.handler.sample(rng, k),
                "dynamodb": self.d_page.sample(rng, k),
                "network": self.oneway.sample(rng, k)}

    def usage(self, poller_seconds: float) -> dict:
        return {"apigw.http_requests": self.c["fallback.http_requests"],
                "dynamodb.read_request_units": self.c["fallback.read_units"]}


class HeldPolls:
    """Long polls the server holds until it has something to send (a vendor SDK's Comet
    transport, Socket.IO's polling transport): a message leaves on the pending request.

    Parameters
    ----------
    fb : Fallback
    arch : Design
    idle_s : float
        Seconds after which the server answers an idle request (the client asks again).
    on_requests : callable, optional
        ``on_requests(now, n)``: the server's work for ``n`` requests.
    billed_messages : str, optional
        Counter of billed messages the deliveries add to.
    delivery : distribution, optional
        The service's own delivery latency (end to end, as its WebSocket subscribers'); else
        one way down from the moment the message is out.
    minutes_item : str, optional
        Usage item the pollers' connected minutes are billed as.
    """

    def __init__(self, fb: Fallback, arch, idle_s: float, on_requests=None,
                 billed_messages: str | None = None, delivery=None,
                 minutes_item: str | None = None, on_bytes=None):
        self.fb = fb
        self.c = arch.c
        self.idle_s = float(idle_s)
        self.on_requests = on_requests
        self.on_bytes = on_bytes
        self.billed = billed_messages
        self.delivery = delivery
        self.end_to_end = delivery is not None
        self.oneway = arch.oneway
        self.minutes_item = minutes_item
        self.count_bytes = billed_messages is None
        self.due = 0.0

    def window(self, t0: float, t1: float, poller_seconds: float) -> None:
        """The idle requests of the window (one per idle interval per poller), counted at its
        start."""
        self.due += poller_seconds / self.idle_s
        n = int(self.due)
        if n > 0:
            self.due -= n
            self._requests(t0, n)

    def _requests(self, now: float, n: int) -> None:
        self.c["fallback.polls"] += n
        if self.on_requests is not None:
            self.on_requests(now, n)

    def delivered(self, now: float, n: int, nbytes: float) -> None:
        """``n`` pending requests are answered with the message; each client asks again."""
        if self.billed is not None:
            self.c[self.billed] += n
        else:
            self.c["data_transfer.out_bytes"] += n * nbytes
        if self.on_bytes is not None:
            self.on_bytes(n * nbytes)
        self._requests(now, n)

    def wait(self, rng, k: int) -> np.ndarray:
        return np.zeros(k)

    def response(self, rng, k: int) -> dict:
        if self.delivery is not None:
            return {"service": self.delivery.sample(rng, k)}
        return {"network": self.oneway.sample(rng, k)}

    def usage(self, poller_seconds: float) -> dict:
        return {self.minutes_item: poller_seconds / MINUTE} if self.minutes_item else {}


def add_usage(usage: dict, extra: dict) -> dict:
    """``usage`` with ``extra``'s quantities added item by item."""
    for k, v in extra.items():
        usage[k] = usage.get(k, 0.0) + v
    return usage


def apigw_path(fb: Fallback, arch) -> HttpPolls:
    """The poll path of an API Gateway design's Region: its API Gateway, Lambda service (a
    ``poll`` function configured like ``$default``) and table."""
    cfg = arch.scn.aws.lambda_.functions.default
    f = arch.function("poll", cfg)
    return HttpPolls(fb, arch.rix, arch.apigw, f, arch.table, arch, arch._store[1],
                     handler_dist(cfg, arch.p))


class OwnHttpApi:
    """An HTTP API, a Lambda service and a history table of one Region, for a design that has
    none (``appsync``): with fallback clients (``fb``), the same poll path as the API Gateway
    designs'; with history on join, a ``history`` function that answers a member's request
    for its channel's last messages (:meth:`history`). The messages are written to the
    history table as they are published (write units)."""

    def __init__(self, fb: Fallback | None, arch):
        from simulator.architectures.base import lambda_function, lambda_service
        from simulator.aws.api_gateway import ApiGateway
        from simulator.aws.dynamodb import Table
        from simulator.scenario import history_store

        scn, p = arch.scn, arch.p
        self.c = arch.c
        self.apigw = ApiGateway(p, arch.region, scn.aws.api_gateway.other_api_rps,
                                arch.rec.breaches)
        self.lam = lambda_service(p, arch.rec, arch.region, arch.s)
        cfg = scn.aws.lambda_.functions.default
        handler = handler_dist(cfg, p)

        def function(name):
            return lambda_function(self.lam, arch.s, p, name, cfg)

        self.table = Table(p, scn.aws.dynamodb, arch.rec, arch.region)
        store = history_store(scn)
        assert store is not None   # fallback clients and history on join turn it on
        self.retention, overhead = store
        self.item_bytes = arch.payload.mean + overhead
        self.history_wu = math.ceil(self.item_bytes / p["dynamodb.write_unit_bytes"])
        self.path = (HttpPolls(fb, 0, self.apigw, function("poll"), self.table, arch, overhead,
                               handler) if fb is not None else None)
        self.f_history = (function("history") if scn.features.history_on_join is not None
                          else None)
        self.d_route = arch.s.buffered("http_api.route", p["latency.apigw_route_s"])
        self.d_page = arch.s.buffered("http_api.query", p["latency.dynamodb_query_page_s"])
        self.d_s_per_mb = arch.s.buffered("http_api.query_mb",
                                          p["latency.dynamodb_query_s_per_mb"])
        for k in ("dynamodb.history_write_units", "join_history.http_requests",
                  "join_history.read_units"):
            self.c[k] += 0.0

    def history(self, now: float, n: int) -> float | None:
        """A member's request for its channel's last ``n`` messages: the account throttle, an
        HTTP API request, the ``history`` function, a Query of the history table, one
        response; when the response leaves, or None when refused."""
        c = self.c
        c["join_history.requests"] += 1
        assert self.f_history is not None
        start = now + self.d_route()
        t = self.f_history.begin(start) if self.apigw.admit(now, "api_gateway:history") else None
        if t is None:
            c["join_history.failed"] += 1
            return None
        c["join_history.http_requests"] += 1
        for page in self.table.pages_of(n * self.item_bytes):
            c["join_history.read_units"] += self.table.read_units(page)
            t += self.d_page() + page / MB * self.d_s_per_mb()
        self.f_history.finish(start, t)
        c["join_history.posts"] += n
        c["data_transfer.out_bytes"] += n * self.item_bytes   # the items, keys included
        return t

    def stored(self) -> None:
        """A message is written to the history table."""
        self.c["dynamodb.history_write_units"] += self.history_wu

    def tick(self, now: float, step: float) -> None:
        self.lam.advance(now)

    def usage(self, now: float) -> tuple[dict, float]:
        """Its billed items beyond the HTTP API's, and the history table's GB."""
        c = self.c
        keep = min(self.retention, max(now, 0.0))
        rate = (c["messages.published"] - c.get("features.published", 0.0)) / max(now, 1e-9)
        return ({"lambda.requests": c["lambda.requests"],
                 "lambda.gb_seconds.x86_64": c.get("lambda.gb_seconds.x86_64", 0.0),
                 "lambda.gb_seconds.arm64": c.get("lambda.gb_seconds.arm64", 0.0),
                 "dynamodb.write_request_units": c["dynamodb.history_write_units"],
                 "apigw.http_requests": c["join_history.http_requests"],
                 "dynamodb.read_request_units": c["join_history.read_units"]},
                rate * keep * self.item_bytes / 1e9)
