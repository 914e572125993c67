"""Fan-out tiers: delivery strategies that hand the posting to worker Lambdas.

* :class:`SnsFanout`: the ``$default`` Lambda publishes the message once to an SNS topic;
  ``shards`` worker subscriptions (asynchronous invocations: Lambda's internal queue, retries
  of throttled invocations with backoff, a maximum event age) each read their share of the
  channel's subscribers and post to it.
* :class:`SqsFanout`: the ``$default`` Lambda reads the subscribers, splits them into messages
  of ``shard_size`` connection IDs and sends them with SendMessageBatch (10 per request); worker
  Lambdas read them through an event source mapping (batch size, batching window, maximum
  concurrency, poller scaling). A batch with a failed post returns to the queue after the
  visibility timeout and is delivered again: its posts that had succeeded are sent twice
  (duplicates, counted by the integrity ledger), until ``max_receive_count`` sends it to a
  dead-letter queue (its undelivered posts are lost).

Every post still goes through API Gateway's ``@connections`` API and spends a token of the
account-wide throttle: a tier spreads the work over Lambdas but does not lift that budget.

Simplifications (stated, not hidden):

* a message's subscriber list is the channel's at the moment the tier takes the message (SNS:
  the publish; SQS: the ``$default`` query); workers post to that list, their own queries cost
  capacity and time but do not re-read the registry;
* a worker posts its shards one after the other with its own ``posts_in_flight`` sockets; on a
  redelivery it posts first to the recipients still owed the message, then again to those who
  had it (the duplicates), which do not enter the latency histogram;
* the event source mapping adds ``esm_scale_per_min`` pollers per minute while messages wait
  and releases them at the same rate when the queue is empty (AWS documents the first rate,
  not the second); idle pollers' long polls are billed as one request per poller per
  ``long_poll_wait_s``.
"""

from __future__ import annotations

import math
from collections import deque

from simulator.architectures.delivery import SubscriberQuery, split_even
from simulator.errors import ScenarioError
from simulator.primitives.token_bucket import TokenBucket
from simulator.units import MB, MINUTE


class _Shard:
    """One worker's share of one message: what it still owes and what it already did."""

    __slots__ = ("t_pub", "channel", "nbytes", "record", "live", "half", "gone", "done_live",
                 "done_half", "dup_live", "dup_half", "enqueued", "tries", "attempt", "start",
                 "deadline", "receives", "batch", "queued", "cp", "kind")

    def __init__(self, x, live: int, half: int, gone: int, now: float):
        self.t_pub = x.t_pub
        self.cp = getattr(x, "cp", None)   # the message's control-path stages
        self.channel = x.channel
        self.nbytes = x.nbytes
        self.record = x.record
        self.kind = x.kind    # a feature event's (not in the integrity ledger), or None
        self.live = live
        self.half = half
        self.gone = gone
        self.done_live = 0
        self.done_half = 0
        self.dup_live = 0
        self.dup_half = 0
        self.enqueued = now
        self.tries = 0
        self.attempt = 1
        self.batch: _Batch | None = None   # the SQS batch it was received in
        self.queued = False
        self.start = 0.0
        self.deadline = 0.0
        self.receives = 0

    @property
    def n(self) -> int:
        return self.live + self.half + self.gone


def _start(host, engine, now: float, t: float, s: _Shard, live: int, half: int, gone: int,
           record: bool, done) -> None:
    """Start posts of shard ``s`` on ``engine`` at ``t`` (>= ``now``; from an event when
    later, so that their tokens are taken then); ``done(s, res)`` when they are decided."""
    if t > now:
        host.at(t - now, _start_ev, (host, engine, s, live, half, gone, record, done))
        return
    res = engine.start(now, s.t_pub, live, half, gone, s.deadline, record, s)
    if res is not None:
        done(s, res)


def _start_ev(ev) -> None:
    host, engine, s, live, half, gone, record, done = ev._value
    now = host.env.now
    _start(host, engine, now, now, s, live, half, gone, record, done)


class _WorkerTier:
    """What both tiers share: the worker function, its fan-out engine, its query of the
    shard's rows, the posts of a shard, and the in-flight accounting."""

    def __init__(self, host, stream: str, posts_in_flight):
        self.host = host
        self.env = host.env
        self.c = host.c
        self.rec = host.rec
        self.region = host.region
        self.table = host.table
        self.f = host.f_default
        self.worker = host.function("worker", host.scn.aws.lambda_.functions.worker)
        self.fanout = host.make_fanout(stream, self._posted, posts_in_flight)
        self.d_page = host.draws.d_page
        self.d_s_per_mb = host.draws.d_s_per_mb
        self.waiting_posts = 0    # posts of shards no worker has started
        self.waiting_live = 0

    # -- shard bookkeeping --------------------------------------------------------------------------
    def _wait(self, s: _Shard) -> None:
        """The shard's owed posts wait for a worker (in flight, not yet attempted)."""
        if not s.queued:
            s.queued = True
            self.waiting_posts += s.n
            self.waiting_live += s.live

    def _unwait(self, s: _Shard) -> None:
        if s.queued:
            s.queued = False
            self.waiting_posts -= s.n
            self.waiting_live -= s.live

    def _lost(self, s: _Shard) -> None:
        """The shard's owed posts will never be made."""
        self._unwait(s)
        if s.n:
            self.c["deliveries.failed"] += s.n
            if s.kind is None:
                self.host.integrity.posts(0, s.live)
        s.live = s.half = s.gone = 0

    # -- a worker reads its shard and posts -----------------------------------------------------------
    def _read_shard(self, now: float, t: float, s: _Shard) -> float | None:
        """The worker's query of its shard's rows (capacity taken at ``now``, 1 MB pages);
        the time its response is in, or None if DynamoDB throttled it."""
        rows = s.n + s.done_live + s.done_half
        for nbytes in self.table.pages(rows) if rows else ():
            if not self.table.query_page(now, s.channel, nbytes):
                return None
            t += self.d_page() + nbytes / MB * self.d_s_per_mb()
        return t

    def _post(self, now: float, t: float, s: _Shard) -> None:
        """Start the shard's posts at ``t`` (>= ``now``); until then they wait."""
        if t >= s.deadline:
            self._posted(s, None)
            return
        if t > now:     # the worker's tokens are taken when its posts start
            self.host.at(t - now, self._post_ev, s)
            return
        self._unwait(s)
        res = self.fanout.start(now, s.t_pub, s.live, s.half, s.gone, s.deadline, s.record, s)
        if res is not None:
            self._posted(s, res)

    def _post_ev(self, ev) -> None:
        now = self.env.now
        self._post(now, now, ev._value)

    def _posted(self, s, res) -> None:
        raise NotImplementedError

    # -- end of run -------------------------------------------------------------------------------
    def finalize(self, now: float) -> None:
        for s, partial in self.fanout.partial():
            self.host.count_posts(s, partial)
        self.fanout.flush()

    @property
    def in_flight_posts(self) -> int:
        return self.fanout.in_flight_posts + self.waiting_posts

    @property
    def in_flight_live_posts(self) -> int:
        return self.fanout.in_flight_live_posts + self.waiting_live


class SnsFanout(_WorkerTier):
    """SNS topic -> ``shards`` worker Lambdas (asynchronous invocations).

    Parameters
    ----------
    host : ApiGatewayArchitecture
    """

    name = "sns"

    def __init__(self, host):
        cfg = host.scn.app.sns_tier
        super().__init__(host, "fanout.sns_workers", cfg.posts_in_flight)
        p = host.p
        s = host.s
        self.K = cfg.shards
        rate = p["sns.publish_per_s"]          # the scenario's, else the Region's quota
        self.publish_rate = rate
        self.bucket = TokenBucket(rate, max(rate, 1.0))  # a per-second quota: one second's worth
        self.max_bytes = p["sns.max_message_bytes"]
        self.chunk = p["sns.publish_chunk_bytes"]
        self.d_publish = s.buffered("sns.publish", p["latency.sns_publish_s"])
        self.d_deliver = s.buffered("sns.deliver", p["latency.sns_to_lambda_s"])
        self.retry_first = p["lambda.async_retry_initial_s"]
        self.retry_max = p["lambda.async_retry_max_s"]
        self.max_age = p["lambda.async_max_event_age_s"]
        self.retry = host.retry
        for k in ("sns.publishes", "sns.requests", "sns.throttled", "lambda.async_retries",
                  "lambda.async_events_dropped"):
            self.c[k] += 0.0

    # -- $default publishes ---------------------------------------------------------------------
    def begin(self, now: float, t: float, x) -> None:
        x.attempt = 1
        self.host.at(t - now, self._publish, x)

    def _publish(self, ev) -> None:
        now = self.env.now
        x = ev._value
        host = self.host
        if x.nbytes > self.max_bytes:
            host.pub_rejected("sns_message_size", x)
            self.rec.breaches.add(now, "sns.max_message_bytes", "sns:Publish", self.region)
            self.f.finish(x.start, now)
            return
        if not self.bucket.try_take(now):
            self.c["sns.throttled"] += 1
            self.rec.breaches.add(now, "sns.publish_per_s", "sns:Publish", self.region)
            if x.attempt < self.retry.max_attempts and now < x.deadline:
                x.attempt += 1
                host.at(host.backoff(x.attempt - 2), self._publish, x)
                return
            host.pub_rejected("sns_throttle", x)
            self.f.finish(x.start, now)
            return
        c = self.c
        c["sns.publishes"] += 1
        c["sns.requests"] += max(1, math.ceil(x.nbytes / self.chunk))
        self.f.finish(x.start, min(now + self.d_publish(), x.deadline))
        live, half, gone = host.recipients(now, x)
        host.message_published(now, x, live, half, gone)
        for lk, hk, gk in zip(split_even(live, self.K), split_even(half, self.K),
                              split_even(gone, self.K)):
            s = _Shard(x, lk, hk, gk, now)
            self._wait(s)
            host.at(self.d_deliver(), self._invoke, s)

    # -- Lambda's asynchronous queue ------------------------------------------------------------
    def _invoke(self, ev) -> None:
        now = self.env.now
        s = ev._value
        t = self.worker.begin(now)
        if t is None:
            delay = min(self.retry_first * 2.0 ** s.tries, self.retry_max)
            s.tries += 1
            if now + delay - s.enqueued > self.max_age:
                self.c["lambda.async_events_dropped"] += 1
                self.rec.breaches.add(now, "lambda.async_max_event_age_s", "lambda:worker",
                                      self.region)
                self._lost(s)
                return
            self.c["lambda.async_retries"] += 1
            self.host.at(delay, self._invoke, s)
            return
        s.start = now
        s.deadline = now + self.worker.timeout
        s.attempt = 1
        self._read(now, t, s)

    def _read(self, now: float, t: float, s: _Shard) -> None:
        """The worker reads its shard (SDK retries when DynamoDB throttles; after the last
        one the function fails and the shard's posts are lost: Lambda's own retries of a
        failed asynchronous invocation are not modelled)."""
        t_q = self._read_shard(now, t, s)
        if t_q is not None:
            self._post(now, t_q, s)
            return
        if s.attempt < self.retry.max_attempts:
            s.attempt += 1
            self.host.at(t - now + self.host.backoff(s.attempt - 2), self._read_ev, s)
            return
        self._lost(s)
        self.worker.finish(s.start, t)

    def _read_ev(self, ev) -> None:
        now = self.env.now
        self._read(now, now, ev._value)

    def _posted(self, s: _Shard, res) -> None:
        host = self.host
        if res is None:   # no time left to post
            self._lost(s)
            self.worker.finish(s.start, s.deadline)
            return
        host.count_posts(s, res)
        end = host.delete_on_410(s, res, res.end)
        self.worker.finish(s.start, end)

    # -- accounting ------------------------------------------------------------------------------
    def usage(self) -> dict:
        return {"sns.requests": self.c["sns.requests"]}

    def probes(self, rec) -> None:
        rec.rate_probe("sns_publishes_per_s", "sns.publishes")
        rec.probe("sns_publish_quota_per_s", lambda t: self.publish_rate)


class _Batch:
    __slots__ = ("shards", "k", "start", "deadline", "failed", "end")

    def __init__(self, shards, start, deadline):
        self.shards = shards
        self.k = 0
        self.start = start
        self.deadline = deadline
        self.failed = False
        self.end = start


class SqsFanout(_WorkerTier):
    """SendMessageBatch -> SQS -> event source mapping -> worker Lambdas.

    Parameters
    ----------
    host : ApiGatewayArchitecture
    """

    name = "sqs"

    def __init__(self, host):
        cfg = host.scn.app.sqs_tier
        super().__init__(host, "fanout.sqs_workers", cfg.posts_in_flight)
        p = host.p
        s = host.s
        self.cfg = cfg
        self.query = SubscriberQuery(host, self.f, self._send)
        # re-posts of a redelivered shard to those who had it (kept out of the latency histogram)
        self.dup_fanout = host.make_fanout("fanout.sqs_duplicates", self._dup_done,
                                           cfg.posts_in_flight)
        self.shard_size = cfg.shard_size
        self.per_request = p["sqs.send_batch_max_entries"]
        self.chunk = p["sqs.request_chunk_bytes"]
        self.max_bytes = p["sqs.max_message_bytes"]
        self.id_bytes = p["api_gateway.connection_id_bytes"]
        self.P_send = host.P
        self.d_send = s.buffered("sqs.send", p["latency.sqs_send_batch_s"])
        self.d_deliver = s.buffered("sqs.deliver", p["latency.sqs_to_lambda_s"])
        self.batch_size = cfg.batch_size or p["sqs.esm_batch_size_default"]
        self.window = cfg.batching_window_s
        self.visibility = cfg.visibility_timeout_s or p["sqs.visibility_timeout_default_s"]
        self.initial = p["sqs.esm_initial_concurrency"]
        cap = p["sqs.esm_max_concurrency"]
        self.cap = min(cap, cfg.maximum_concurrency or cap)
        rate = p["sqs.esm_scale_per_min"]
        self.scale_per_s = rate / MINUTE
        self.poll_wait = p["sqs.long_poll_wait_s"]
        self.level = float(min(self.initial, self.cap))
        self._t_level = 0.0
        self._backlog = False
        self.ready: deque[_Shard] = deque()
        self.active = 0
        self._wake_at = None
        for k in ("sqs.requests", "sqs.messages", "sqs.receives", "sqs.redeliveries",
                  "sqs.dead_lettered", "deliveries.duplicates", "esm.throttled_invokes",
                  "esm.batches"):
            self.c[k] += 0.0

    # -- $default: query, split, send ------------------------------------------------------------
    def begin(self, now: float, t: float, x) -> None:
        self.query.begin(now, t, x)

    def _send(self, now: float, x, live: int, half: int, gone: int) -> None:
        host = self.host
        host.message_published(now, x, live, half, gone)
        n = live + half + gone
        if n == 0:
            self.f.finish(x.start, now)
            return
        K = math.ceil(n / self.shard_size)
        shards = [_Shard(x, lk, hk, gk, now) for lk, hk, gk in
                  zip(split_even(live, K), split_even(half, K), split_even(gone, K))]
        c = self.c
        t = now
        requests = [shards[j:j + self.per_request] for j in range(0, K, self.per_request)]
        for r0 in range(0, len(requests), self.P_send):     # P_send requests in flight
            for req in requests[r0:r0 + self.P_send]:
                nbytes = sum(x.nbytes + s.n * self.id_bytes for s in req)
                c["sqs.requests"] += max(1, math.ceil(nbytes / self.chunk))
                for s in req:
                    if x.nbytes + s.n * self.id_bytes > self.max_bytes:
                        self.rec.breaches.add(now, "sqs.max_message_bytes", "sqs:SendMessageBatch",
                                              self.region)
                        self._lost(s)
                        continue
                    c["sqs.messages"] += 1
                    self._wait(s)
                    host.at(t - now + self.d_deliver(), self._visible, s)
            t += self.d_send()
        self.f.finish(x.start, min(t, x.deadline))

    # -- the event source mapping -----------------------------------------------------------------
    def _visible(self, ev) -> None:
        s = ev._value
        s.enqueued = self.env.now
        self.ready.append(s)
        self._wake(self.env.now)   # after every message visible at this instant (one poll)

    def _scale(self, now: float) -> int:
        """Pollers (concurrent batches) at ``now``: up while messages waited, down when not."""
        dt = now - self._t_level
        self._t_level = now
        if self._backlog:
            self.level = min(self.cap, self.level + self.scale_per_s * dt)
        else:
            self.level = max(min(self.initial, self.cap), self.level - self.scale_per_s * dt)
        return int(self.level)

    def _dispatch(self, now: float) -> None:
        limit = self._scale(now)
        ready = self.ready
        while ready and self.active < limit:
            if (self.window > 0 and len(ready) < self.batch_size
                    and now < ready[0].enqueued + self.window):
                self._wake(ready[0].enqueued + self.window)
                break
            t = self.worker.begin(now)
            if t is None:
                self.c["esm.throttled_invokes"] += 1
                self._wake(now + self.host.backoff(0))
                break
            batch = [ready.popleft() for _ in range(min(self.batch_size, len(ready)))]
            self.active += 1
            c = self.c
            c["esm.batches"] += 1
            c["sqs.receives"] += len(batch)
            c["sqs.requests"] += 2      # the batch's ReceiveMessage and DeleteMessageBatch
            b = _Batch(batch, now, now + self.worker.timeout)
            for s in batch:
                s.receives += 1
                s.start = now
                s.deadline = b.deadline
                s.batch = b
                s.dup_live, s.dup_half = s.done_live, s.done_half
            self._next(now, t, b)
        self._backlog = bool(ready) and self.active >= limit
        if self._backlog and self.level < self.cap:
            self._wake(now + 1.0 / self.scale_per_s)

    def _wake(self, t: float) -> None:
        if self._wake_at is not None and self._wake_at <= t:
            return
        self._wake_at = t
        self.host.at(t - self.env.now, self._wake_ev, t)

    def _wake_ev(self, ev) -> None:
        if self._wake_at == ev._value:
            self._wake_at = None
        self._dispatch(self.env.now)

    # -- a worker's batch --------------------------------------------------------------------------
    def _next(self, now: float, t: float, b: _Batch) -> None:
        """Post the batch's next shard from ``t``, or end the batch."""
        if b.k >= len(b.shards) or t >= b.deadline:
            if b.k < len(b.shards):
                b.failed = True       # the function timed out
            self._batch_end(now, min(max(t, b.end), b.deadline), b)
            return
        s = b.shards[b.k]
        t_q = self._read_shard(now, t, s)
        if t_q is None:
            b.failed = True
            b.k = len(b.shards)
            self._batch_end(now, t, b)
            return
        self._post(now, t_q, s)

    def _posted(self, s, res) -> None:
        now = self.env.now
        b = s.batch
        if res is None:
            b.failed = True
            b.k = len(b.shards)
            self._batch_end(now, b.deadline, b)
            return
        self.host.count_posts(s, res, settle_failed=False)
        s.done_live += res.succeeded
        s.done_half += res.accepted_stale
        s.live = res.failed_live
        s.half = res.failed - res.failed_live
        s.gone = 0
        self._wait(s)     # what it still owes waits for the redelivery
        b.end = max(b.end, self.host.delete_on_410(s, res, res.end))
        if res.failed:
            b.failed = True
        if s.dup_live or s.dup_half:     # a redelivery: those who had it get it again
            t = max(now, b.end)
            if t >= b.deadline:
                b.failed = True
                b.k = len(b.shards)
                self._batch_end(now, b.deadline, b)
                return
            _start(self.host, self.dup_fanout, now, t, s, s.dup_live, s.dup_half, 0, False,
                   self._dup_done)
            return
        b.k += 1
        self._next(now, max(now, b.end), b)

    def _dup_done(self, s: _Shard, res) -> None:
        c = self.c
        c["deliveries.duplicates"] += res.succeeded
        if s.kind is None:
            self.host.integrity.duplicated += res.succeeded
        billed = res.succeeded + res.accepted_stale
        if billed:
            units = self.host.apigw.units(s.nbytes)
            c["apigw.messages.outbound"] += units * billed
            c["data_transfer.out_bytes"] += s.nbytes * billed
        b = s.batch
        assert b is not None   # duplicates are posted by a batch's worker
        b.end = max(b.end, res.end)
        b.k += 1
        self._next(self.env.now, max(self.env.now, b.end), b)

    def _batch_end(self, now: float, end: float, b: _Batch) -> None:
        """The worker returns at ``end``. A failed batch (a post not made, a throttled read,
        the timeout) returns whole to the queue (no ``ReportBatchItemFailures``): each of its
        messages is delivered again after the visibility timeout, or goes to the dead-letter
        queue after ``max_receive_count`` receives."""
        self.worker.finish(b.start, end)
        if b.failed:
            for s in b.shards:
                if s.receives >= self.cfg.max_receive_count:
                    self.c["sqs.dead_lettered"] += 1
                    self._lost(s)
                    continue
                self.c["sqs.redeliveries"] += 1
                self._wait(s)
                visible = b.start + self.visibility   # invisible from its receipt
                self.host.at(max(visible, now) - now, self._visible, s)
        for s in b.shards:   # shard <-> batch is a cycle, and the collector is off during a
            s.batch = None   # run (engine.run): left, every shard stayed to the end (1M: 586 MB)
        self.host.at(max(end, now) - now, self._freed, None)

    def _freed(self, ev) -> None:
        self.active -= 1
        self._dispatch(self.env.now)

    # -- accounting ------------------------------------------------------------------------------
    def usage(self) -> dict:
        idle_polls = self.initial * self.env.now / self.poll_wait
        return {"sqs.requests": self.c["sqs.requests"] + idle_polls}

    def probes(self, rec) -> None:
        rec.probe("esm_pollers", lambda t: self.level)
        rec.probe("esm_pollers_max", lambda t: self.cap)
        rec.probe("sqs_messages_waiting", lambda t: len(self.ready))
        rec.rate_probe("sqs_messages_per_s", "sqs.messages")
        rec.rate_probe("duplicates_per_s", "deliveries.duplicates")

    @classmethod
    def check(cls, scn, p) -> list[ScenarioError]:
        cfg = scn.app.sqs_tier
        errs = []
        mx = p["sqs.esm_maximum_concurrency_setting_max"]
        if cfg.maximum_concurrency is not None and not 2 <= cfg.maximum_concurrency <= mx:
            errs.append(ScenarioError("app.sqs_tier.maximum_concurrency", cfg.maximum_concurrency,
                                      f"must be within 2..{mx} (event source mapping setting)"))
        wmax = p["sqs.esm_max_batching_window_s"]
        if cfg.batching_window_s > wmax:
            errs.append(ScenarioError("app.sqs_tier.batching_window_s", cfg.batching_window_s,
                                      f"must be <= {wmax} s"))
        bmax, bmax0 = p["sqs.esm_batch_size_max"], p["sqs.esm_batch_size_max_without_window"]
        if cfg.batch_size is not None and cfg.batch_size > bmax:
            errs.append(ScenarioError("app.sqs_tier.batch_size", cfg.batch_size,
                                      f"must be <= {bmax} (standard queue)"))
        elif (cfg.batch_size is not None and cfg.batch_size > bmax0
              and cfg.batching_window_s < 1.0):  # not a catalog value: AWS's 1 s rule
            errs.append(ScenarioError(
                "app.sqs_tier.batch_size", cfg.batch_size,
                f"above {bmax0} needs app.sqs_tier.batching_window_s >= 1 s "
                f"(it is {cfg.batching_window_s:g})"))
        timeout = scn.aws.lambda_.functions.worker.timeout_s or p["lambda.default_timeout_s"]
        vis = cfg.visibility_timeout_s or p["sqs.visibility_timeout_default_s"]
        if vis < timeout:
            errs.append(ScenarioError(
                "app.sqs_tier.visibility_timeout_s", vis,
                f"must be >= the worker's timeout ({timeout:g} s): Lambda refuses an event source "
                "mapping whose function can outlive the visibility timeout"))
        ids = cfg.shard_size * p["api_gateway.connection_id_bytes"]
        if ids >= p["sqs.max_message_bytes"]:
            errs.append(ScenarioError("app.sqs_tier.shard_size", cfg.shard_size,
                                      f"{cfg.shard_size} connection IDs do not fit in one SQS "
                                      f"message ({p['sqs.max_message_bytes']} bytes)"))
        return errs
