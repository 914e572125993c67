"""Fan-out: one PostToConnection per recipient, made by the publishing Lambda with a pool of
``posts_in_flight`` concurrent calls, each taking a token of API Gateway's account throttle.

Two exact-enough paths, one event per fan-out in the common case:

* **Fast path** (the throttle does not bind): if the account bucket holds a token for every
  post and no fan-out is being throttled, all tokens are taken at once and the whole
  fan-out is computed in one go: a greedy FIFO pool of ``P`` calls (the first ``P`` posts
  start at once, each later one when the earliest call completes; a heap of ``P`` free
  times), the Lambda ending with the last call; a pool of more than six rounds is drawn
  instead as ``P`` renewal processes (the same law, a few array operations instead of a heap
  operation per post: ``_renewal_pool``). Deliveries are recorded in deferred numpy
  batches; huge fan-outs are sub-sampled (stratified, weighted) for the histogram.
* **Slow path** (the throttle binds): the fan-out joins a table of pool slots (one row per
  fan-out, one column per slot) advanced by one global tick every ``throttle_tick_s``. Each
  tick, every slot that is free attempts its next post; the bucket decides the attempts in
  the order they became ready, as a continuous bucket would one at a time
  (:meth:`AccountThrottle.admit_in_order`); a 429 is retried by the SDK policy (backoff with
  full jitter, retry quota) or fails. Other requests between ticks leave the tokens these
  attempts would have taken (:meth:`AccountThrottle.reserved`). The Lambda's timeout cuts a
  fan-out short.

Recipients are connections (live), half-open rows (accepted and lost: stale) and closed rows
(410 Gone: stale); which post goes to which is random, so deliveries are recorded with the
live share as weight, and counted exactly.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from heapq import heapify, heapreplace

import numpy as np

from simulator.metrics.histogram import LogHistogram
from simulator.metrics.stages import PerRecord, StageHistogram, per_delivery
from simulator.workload.geography import Geography

_BLOCK = 1 << 18   # post latencies drawn per block
_FLUSH = 1 << 18   # deliveries deferred before they go into the histogram
#: fan-outs of more than this many rounds of the pool are drawn as renewal processes
#: (Fanout._renewal_pool), with this many rounds drawn beyond the expected depth
_RENEWAL_ROUNDS, _RENEWAL_SPARE = 6, 3   # not a catalog value
#: the stages of a delivery's latency before its fan-out starts (see simulator.metrics.stages)
_CONTROL = ("network", "api_gateway", "lambda_cold_start", "lambda_handler", "dynamodb",
            "tier_or_cross_region")


def _control(ctx, now: float, base: float) -> tuple:
    """The control-path stages of a fan-out starting at ``now`` for a message published
    ``base`` seconds before: the message's own (``ctx.cp``: network up, API Gateway, cold start,
    handler, query, and when its list was in), then whatever came between the list and ``now``
    (a tier's or another Region's hop). Without them, all of ``base`` is in the last stage."""
    cp = getattr(ctx, "cp", None)
    if cp is None:
        return (0.0, 0.0, 0.0, 0.0, 0.0, base)
    return (*cp[:-1], now - cp[-1])


def _sample32(dist, rng, n):
    """Bulk float32 draws when the distribution offers them."""
    f = getattr(dist, "sample32", None)
    return f(rng, n) if f is not None else dist.sample(rng, n).astype(np.float32)


class FanoutResult:
    """Counts of one finished fan-out."""

    __slots__ = ("succeeded", "accepted_stale", "gone", "failed", "end", "failed_live")

    def __init__(self, succeeded=0, accepted_stale=0, gone=0, failed=0, end=0.0, failed_live=0):
        self.succeeded = succeeded
        self.accepted_stale = accepted_stale
        self.gone = gone
        self.failed = failed          # posts never answered: throttled out or cut by the timeout
        self.end = end
        self.failed_live = failed_live  # of which to connected recipients


class Fanout:
    """Fan-out engine of one Region.

    Parameters
    ----------
    env : simpy.Environment
    throttle : AccountThrottle
        API Gateway's account throttle (every post spends a token).
    post_dist, downlink_dist : Distribution
        PostToConnection call latency; one-way API Gateway -> client latency (seconds).
    retry : RetryPolicy
    posts_in_flight : int
        Pool size P (SDK ``maxSockets`` by default).
    hist : LogHistogram
        Delivery latency (publish -> receipt), seconds.
    rng : numpy Generator
        The ``fanout`` stream.
    tick_s, sample_above, sample_k : engine knobs.
    on_done : callable(ctx, FanoutResult)
        Called when a fan-out finishes (the architecture bills and releases the Lambda).
    recorder : Recorder
    region : str
    """

    def __init__(self, env, throttle, post_dist, downlink_dist, retry, posts_in_flight: int,
                 hist: LogHistogram, rng: np.random.Generator, tick_s: float, sample_above: int,
                 sample_k: int, on_done: Callable, recorder, region: str):
        self.env = env
        self.throttle = throttle
        self.bucket = throttle.bucket
        throttle.engines.append(self)
        self.post = post_dist
        self.down = downlink_dist
        self.retry = retry
        self.P = int(posts_in_flight)
        self.hist = hist
        self.rng = rng
        self.tick_s = tick_s
        self.sample_above = sample_above
        self.sample_k = sample_k
        self.on_done = on_done
        self.rec = recorder
        self.region = region
        self._new_block()
        # deferred records: small fan-outs as ranges of the current block, others as arrays
        self._r_start: list[int] = []
        self._r_len: list[int] = []
        self._r_off: list[bool] = []
        self._r_base: list[float] = []
        self._r_w: list[float] = []
        self._s_buf = array("d")
        self._zeros = array("d", bytes(8 * self.P))
        self._a_vals: list[np.ndarray] = []
        self._a_base: list[float] = []
        self._a_w: list[float] = []
        self._pending = 0
        self.geo: Geography | None = None   # with one: latency by the recipient's location
        self._live_loc: np.ndarray | None = None
        self._r_mix: list = []
        self._a_mix: list = []
        self.stages: StageHistogram | None = None   # what the latency is made of
        self._r_cp: list = []
        self._a_cp: list = []
        self._a_send: list = []
        # slow path: slot table
        self._cap = 0
        self._rows_free: list[int] = []
        self._active: list[int] = []
        self._ticking = False
        self._grow(64)

    def by_location(self, geo, rix: int, hists: list, reg, region_hist) -> None:
        """Record deliveries by the recipient's location too: the downlink from this engine's
        Region (``rix``) to each location, and one histogram per location (``hists``, in the
        geography's order), and in this Region's histogram (``region_hist``). A fan-out's recipients are the live rows of its channel in this
        Region; which post goes to which location is random, in proportion to them."""
        self.geo = geo
        self.rix = rix
        self.loc_hists = hists
        self.region_hist = region_hist
        self._live_loc = reg.live_loc

    def _mix(self, ctx):
        """The recipients' locations of a fan-out: one location (an int) or live counts."""
        if self._live_loc is None:
            return 0
        row = self._live_loc[ctx.channel]
        nz = np.flatnonzero(row)
        if nz.size == 1:
            return int(nz[0])
        return row.copy() if nz.size else 0

    def _sink(self, vals: np.ndarray, w, mixes: list, lens, parts: dict | None = None,
              draw=None) -> None:
        """Add the downlink to completed posts and record them (and their stages, ``parts``,
        when kept): ``draw(n)`` downlink draws, or with a geography by the recipients'
        locations (``mixes``, one per record of ``lens`` posts)."""
        if self.geo is None:
            dn = draw(vals.size)
            vals = vals + dn
            binned = self.hist.add(vals, w)
            if parts is not None:
                parts["network"] = per_delivery(parts["network"]) + dn
                assert self.stages is not None   # stages are kept only with a histogram of them
                self.stages.add(vals, w, parts, binned)
            return
        geo = self.geo
        loc = np.empty(vals.size, dtype=np.int64)
        pos = 0
        for m, n in zip(mixes, lens):
            n = int(n)
            if isinstance(m, int):
                loc[pos:pos + n] = m
            else:
                loc[pos:pos + n] = self.rng.choice(m.size, size=n, p=m / m.sum())
            pos += n
        dl = geo.downlink(self.rng, loc, self.rix)
        vals = vals + dl
        w = np.broadcast_to(np.asarray(w, dtype=float), vals.shape) if np.ndim(w) else \
            np.full(vals.size, float(w))
        binned = self.hist.add(vals, w)
        if parts is not None:
            parts["network"] = per_delivery(parts["network"]) + dl
            assert self.stages is not None
            self.stages.add(vals, w, parts, binned)
        self.region_hist.add(vals, w)
        for k, h in enumerate(self.loc_hists):
            sel = loc == k
            if sel.any():
                h.add(vals[sel], w[sel])

    # -- latency block -------------------------------------------------------------------------
    def _new_block(self) -> None:
        self._L = _sample32(self.post, self.rng, _BLOCK)
        self._cur = 0

    def _take(self, n: int) -> int:
        if self._cur + n > _BLOCK:
            self.flush()
            self._new_block()
            if n > _BLOCK:
                self._L = _sample32(self.post, self.rng, n)
        i = self._cur
        self._cur = i + n
        return i

    # -- recording ------------------------------------------------------------------------------
    def flush(self) -> None:
        """Move deferred deliveries into the histogram (adds the downlink latency).

        Records are ranges of the latency block: a range's posts complete at their own call
        latency plus a start offset (0 for the first ``P`` posts of a fan-out, the pool's
        free time for later ones, kept in ``_s_buf``)."""
        if self._r_len:
            lens = np.asarray(self._r_len, dtype=np.int64)
            total = int(lens.sum())
            starts = np.asarray(self._r_start, dtype=np.int64)
            if starts[-1] + lens[-1] - starts[0] == total:
                # the records tile the block (the usual case): a slice, no gather
                vals = self._L[starts[0]:starts[0] + total].astype(np.float64)
            else:
                first = np.cumsum(lens) - lens
                vals = self._L[np.repeat(starts - first, lens) + np.arange(total)].astype(np.float64)
            parts = None
            if self.stages is not None:
                parts = self._parts(self._r_cp, lens)
                parts["post_call"] = vals.copy()
                self._r_cp.clear()
            with_starts = np.asarray(self._r_off, dtype=bool)
            if with_starts.all():
                wait = np.frombuffer(self._s_buf, dtype=np.float64)
                vals += wait
            elif with_starts.any():
                # fan-outs larger than the pool: add each post's start offset (stored
                # contiguously, first round included as zeros)
                sel = np.repeat(with_starts, lens)
                wait = np.zeros(total)
                wait[sel] = np.frombuffer(self._s_buf, dtype=np.float64)
                vals += wait
            else:
                wait = None
            if parts is not None and wait is not None:
                parts["post_slot_wait"] = wait
            vals += np.repeat(np.asarray(self._r_base), lens)
            w = np.repeat(np.asarray(self._r_w), lens)
            self._sink(vals, w, self._r_mix, lens, parts,
                       lambda n: _sample32(self.down, self.rng, n))
            self._r_mix.clear()
            self._r_start.clear()
            self._r_len.clear()
            self._r_off.clear()
            self._r_base.clear()
            self._r_w.clear()
            self._s_buf = array("d")
        if self._a_vals:
            lens = np.fromiter((a.size for a in self._a_vals), dtype=np.int64,
                               count=len(self._a_vals))
            comp = np.concatenate(self._a_vals)
            vals = comp + np.repeat(np.asarray(self._a_base), lens)
            parts = None
            if self.stages is not None:
                parts = self._parts(self._a_cp, lens)
                send = np.concatenate(self._a_send)
                parts["post_slot_wait"] = send
                parts["post_call"] = comp - send
                self._a_cp.clear()
                self._a_send.clear()
            w = np.repeat(np.asarray(self._a_w), lens)
            self._sink(vals, w, self._a_mix, lens, parts,
                       lambda n: self.down.sample(self.rng, n))
            self._a_mix.clear()
            self._a_vals.clear()
            self._a_base.clear()
            self._a_w.clear()
        self._pending = 0

    def _parts(self, cps: list, lens) -> dict:
        """Control-path stages of the recorded fan-outs ``cps`` (one value per fan-out of
        ``lens`` posts, expanded a stage at a time when recorded)."""
        a = np.asarray(cps, dtype=float).reshape(-1, len(_CONTROL)).T
        return {name: PerRecord(a[k], lens) for k, name in enumerate(_CONTROL)}

    def _record_range(self, i0: int, n: int, starts: list | None, base: float, w: float) -> None:
        self._r_start.append(i0)
        self._r_len.append(n)
        self._r_base.append(base)
        self._r_w.append(w)
        if starts is None:
            self._r_off.append(False)
        else:
            self._r_off.append(True)
            buf = self._s_buf
            buf.extend(self._zeros)
            buf.extend(starts)
        self._pending += n

    # -- entry point ------------------------------------------------------------------------------
    def can_fast(self, now: float, n: int) -> bool:
        """Whether a fan-out of ``n`` posts would take the fast path at ``now``."""
        return not self._active and self.bucket.level(now) >= n

    def start(self, now: float, t_pub: float, live: int, half: int, gone: int, deadline: float,
              record: bool, ctx, t_tokens: float | None = None) -> FanoutResult | None:
        """Begin a fan-out at ``now``. Returns its result when computed at once (fast path),
        or None when it joined the throttled slot table (``on_done`` is called later).

        The pool is greedy and FIFO, like the SDK's HTTP agent: the first ``P`` posts start
        at once, each later post starts when the earliest busy call completes."""
        n = live + half + gone
        if n == 0:
            return FanoutResult(end=now)
        tt = now if t_tokens is None else t_tokens
        if self._active or self.bucket.level(tt) - self.throttle.reserved(tt, but=self) < n \
                or not self.bucket.try_take(tt, n):
            self._enqueue(now, t_pub, live, half, gone, deadline, record, ctx)
            return None
        self.rec.c["api_gateway.posts_sent"] += n
        P = self.P
        if n > _RENEWAL_ROUNDS * P:
            send, lat, dur = self._renewal_pool(n)
            return self._start_arrays(now, t_pub, live, half, gone, deadline, record, send,
                                      lat, dur, ctx)
        i0 = self._take(n)
        Lp = self._L[i0:i0 + n].tolist()   # Python floats: the pool below is scalar work
        starts = None
        if n <= P:
            dur = max(Lp)
        else:
            h = Lp[:P]
            heapify(h)
            starts = [heapreplace(h, h[0] + x) for x in Lp[P:]]
            dur = max(h)
        limit = deadline - now
        if dur > limit or n > self.sample_above:
            send = np.zeros(n)
            if starts is not None:
                send[P:] = starts
            return self._start_arrays(now, t_pub, live, half, gone, deadline, record, send,
                                      self._L[i0:i0 + n].astype(np.float64), dur, ctx)
        self.rec.bin_add("deliveries_per_s", now, now + dur, live)
        if record and live > 0:
            self._record_range(i0, n, starts, now - t_pub, live / n)
            if self.geo is not None:
                self._r_mix.append(self._mix(ctx))
            if self.stages is not None:
                self._r_cp.append(_control(ctx, now, now - t_pub))
            if self._pending >= _FLUSH:
                self.flush()
        return FanoutResult(live, half, gone, 0, now + dur)

    def _renewal_pool(self, n: int) -> tuple[np.ndarray, np.ndarray, float]:
        """The greedy FIFO pool of ``n`` posts on ``P`` sockets, drawn as ``P`` renewal
        processes: returns the posts' start offsets and latencies (by round, then socket) and
        the pool's end.

        With independent, identically distributed post latencies, the calls one socket makes
        are a renewal process (each starts when the previous one ends), and the pool's posts
        start at the ``n`` earliest epochs of the ``P`` processes merged: the first ``n``
        starts of an ``m x P`` matrix of latencies (round by socket) summed down each socket,
        once every socket's next start lies beyond the ``n``-th (else ``m`` doubles, with fresh
        draws).
        The same law as the heap's one post at a time (the same multiset of starts and
        latencies in distribution, checked against it by tests/test_fanout.py), in a few
        array operations instead of a heap operation per post."""
        P = self.P
        m = n // P + _RENEWAL_SPARE + int(3 * (n / P) ** 0.5)   # not a catalog value (3 sd)
        while True:
            i0 = self._take(P * m)
            lat = self._L[i0:i0 + P * m].astype(np.float64).reshape(m, P)   # round x socket
            ends = np.cumsum(lat, axis=0)
            starts = ends - lat
            flat = starts.ravel()
            tau = np.partition(flat, n - 1)[n - 1]      # the n-th earliest start
            if (ends[-1] > tau).all():                  # no socket starts again by then
                break
            m *= 2
        first = np.flatnonzero(flat < tau)
        ties = np.flatnonzero(flat == tau)[:n - first.size]
        pick = np.sort(np.concatenate((first, ties))) if ties.size else first
        send = flat[pick]
        lat = lat.ravel()[pick]
        return send, lat, float(ends.ravel()[pick].max())

    def _start_arrays(self, now, t_pub, live, half, gone, deadline, record, send, L, dur,
                      ctx=None):
        """Fan-outs that the Lambda timeout cuts short, or too large to record every post
        (``send``: each post's start offset, ``L``: its latency)."""
        n = send.size
        comp = send + L
        attempted = n
        end = now + dur
        limit = deadline - now
        live_all = live
        if dur > limit:
            ok = send < limit
            attempted = int(ok.sum())
            self.bucket.refund(n - attempted)  # posts never made take no token
            self.rec.c["api_gateway.posts_sent"] -= n - attempted
            comp = comp[ok]
            end = deadline
            live, half, gone = self._split(attempted, live, half, gone)
        self.rec.bin_add("deliveries_per_s", now, end, live)
        if record and live > 0:
            w = live / attempted
            if self.stages is not None:
                sent = send[ok] if dur > limit else send
            if comp.size > self.sample_above:
                k = self.sample_k
                pos = ((np.arange(k) + self.rng.random(k)) * (comp.size / k)).astype(np.int64)
                w *= comp.size / k
                comp = comp[pos]
                if self.stages is not None:
                    sent = sent[pos]
            if self.stages is not None:
                self._a_send.append(sent)
                self._a_cp.append(_control(ctx, now, now - t_pub))
            self._a_vals.append(comp)
            self._a_base.append(now - t_pub)
            self._a_w.append(w)
            if self.geo is not None:
                self._a_mix.append(self._mix(ctx))
            self._pending += comp.size
            if self._pending >= _FLUSH:
                self.flush()
        return FanoutResult(live, half, gone, n - attempted, end, live_all - live)

    def _split(self, m: int, live: int, half: int, gone: int) -> tuple[int, int, int]:
        """Which of ``m`` posts drawn without replacement went to live/half/gone rows."""
        stale = int(self.rng.hypergeometric(half + gone, live, m)) if (half + gone) else 0
        h = int(self.rng.hypergeometric(half, gone, stale)) if (half and gone and stale) else (
            stale if half else 0)
        return m - stale, h, stale - h

    # -- slow path ------------------------------------------------------------------------------
    def _grow(self, rows: int) -> None:
        old = self._cap
        P = self.P

        def ext(a: np.ndarray | None, fill: float, dtype, shape: tuple) -> np.ndarray:
            b = np.full(shape, fill, dtype=dtype)
            if a is not None:
                b[:old] = a
            return b

        g = getattr
        self.free_at = ext(g(self, "free_at", None), 0.0, float, (rows, P))
        self.attempt = ext(g(self, "attempt", None), 0, np.int16, (rows, P))
        self.kind = ext(g(self, "kind", None), 0, np.int8, (rows, P))
        # one entry per row (fan-out)
        self.remaining = ext(g(self, "remaining", None), 0, np.int64, (rows,))
        self.live_left = ext(g(self, "live_left", None), 0, np.int64, (rows,))
        self.half_left = ext(g(self, "half_left", None), 0, np.int64, (rows,))
        self.gone_left = ext(g(self, "gone_left", None), 0, np.int64, (rows,))
        self.quota = ext(g(self, "quota", None), 0.0, float, (rows,))
        self.deadline = ext(g(self, "deadline", None), 0.0, float, (rows,))
        self.t_pub = ext(g(self, "t_pub", None), 0.0, float, (rows,))
        self.n_succ = ext(g(self, "n_succ", None), 0, np.int64, (rows,))
        self.n_half = ext(g(self, "n_half", None), 0, np.int64, (rows,))
        self.n_gone = ext(g(self, "n_gone", None), 0, np.int64, (rows,))
        self.n_fail = ext(g(self, "n_fail", None), 0, np.int64, (rows,))
        self.n_fail_live = ext(g(self, "n_fail_live", None), 0, np.int64, (rows,))
        self.record = ext(g(self, "record", None), False, bool, (rows,))
        ctx = getattr(self, "ctx", [])
        self.ctx = ctx + [None] * (rows - old)
        self.row_mix = getattr(self, "row_mix", []) + [0] * (rows - old)
        self.row_cp = ext(g(self, "row_cp", None), 0.0, float, (rows, len(_CONTROL)))
        self.row_start = ext(g(self, "row_start", None), 0.0, float, (rows,))
        self.first_at = ext(g(self, "first_at", None), 0.0, float, (rows, P))   # post ready
        self._rows_free.extend(range(rows - 1, old - 1, -1))
        self._cap = rows

    def _enqueue(self, now, t_pub, live, half, gone, deadline, record, ctx) -> None:
        if not self._rows_free:
            self._grow(self._cap * 2)
        r = self._rows_free.pop()
        self.free_at[r] = now
        self.attempt[r] = 0
        self.kind[r] = 0
        self.remaining[r] = live + half + gone
        self.live_left[r] = live
        self.half_left[r] = half
        self.gone_left[r] = gone
        self.quota[r] = self.retry.quota
        self.deadline[r] = deadline
        self.t_pub[r] = t_pub
        self.n_succ[r] = self.n_half[r] = self.n_gone[r] = self.n_fail[r] = 0
        self.n_fail_live[r] = 0
        self.record[r] = record
        self.ctx[r] = ctx
        if self.geo is not None:
            self.row_mix[r] = self._mix(ctx)
        if self.stages is not None:
            self.row_cp[r] = _control(ctx, now, now - t_pub)
            self.row_start[r] = now
        self._active.append(r)
        self.rec.c["fanout.throttled_fanouts"] += 1
        if not self._ticking:
            self._ticking = True
            self.env.process(self._ticker())

    def _ticker(self):
        env = self.env
        while self._active:
            self._tick(env.now)
            if self._active:
                yield env.timeout(self.tick_s)
        self._ticking = False

    def pending_ready(self, now: float) -> np.ndarray:
        """Ready times of the attempts that the next tick will decide and that are ready by
        ``now``: retries due, and posts that free calls will start."""
        rows = np.asarray(self._active, dtype=np.int64)
        FA = self.free_at[rows]
        AT = self.attempt[rows]
        ready = FA <= now
        idle = ready & (AT == 0)
        new = idle & (np.cumsum(idle, axis=1) <= self.remaining[rows][:, None])
        return FA[(ready & (AT > 0)) | new]

    def _tick(self, t: float) -> None:
        rng = self.rng
        rows = np.asarray(self._active, dtype=np.int64)
        FA = self.free_at[rows]
        AT = self.attempt[rows].astype(np.int64)
        KD = self.kind[rows]
        # 1. free slots take new posts
        ready = FA <= t
        idle = ready & (AT == 0)
        rank = np.cumsum(idle, axis=1)
        assign = idle & (rank <= self.remaining[rows][:, None])
        m = assign.sum(axis=1)
        if m.any():
            self.remaining[rows] -= m
            ll, hl, gl = self.live_left[rows], self.half_left[rows], self.gone_left[rows]
            stale = np.zeros_like(m)
            nz = (m > 0) & ((hl + gl) > 0)
            if nz.any():
                stale[nz] = rng.hypergeometric(hl[nz] + gl[nz], np.maximum(ll[nz], 0), m[nz])
            hcnt = np.zeros_like(m)
            nz2 = (stale > 0) & (hl > 0)
            if nz2.any():
                both = nz2 & (gl > 0)
                hcnt[both] = rng.hypergeometric(hl[both], gl[both], stale[both])
                only_h = nz2 & (gl == 0)
                hcnt[only_h] = stale[only_h]
            self.live_left[rows] = ll - (m - stale)
            self.half_left[rows] = hl - hcnt
            self.gone_left[rows] = gl - (stale - hcnt)
            r2 = np.cumsum(assign, axis=1)
            KD = np.where(assign, np.where(r2 <= hcnt[:, None], 1,
                                           np.where(r2 <= stale[:, None], 2, 0)), KD)
            AT = np.where(assign, 1, AT)
            if self.stages is not None:   # when each new post was ready (its slot free)
                self.first_at[rows] = np.where(assign, FA, self.first_at[rows])
        # 2. attempts compete for the account throttle
        req = ready & (AT > 0)
        K = int(req.sum())
        if K:
            ridx = np.flatnonzero(req)
            flatFA = FA.ravel()
            send = flatFA[ridx]
            gmask = self.throttle.admit_in_order(t, "api_gateway:@connections", send)
            G = int(gmask.sum())
            self.rec.c["api_gateway.posts_sent"] += G
            if G < K:
                self.rec.c["api_gateway.throttled_posts"] += K - G
            rowi = ridx // self.P
            flatAT = AT.ravel()
            flatKD = KD.ravel()
            lat = self.post.sample(rng, K)
            done = send + lat
            # granted
            gi = ridx[gmask]
            kd = flatKD[gi]
            g_rows = rowi[gmask]
            nrow = rows.size
            succ = np.bincount(g_rows[kd == 0], minlength=nrow)
            self.rec.bin_add("deliveries_per_s", t, t, int(succ.sum()))
            halfc = np.bincount(g_rows[kd == 1], minlength=nrow)
            gonec = np.bincount(g_rows[kd == 2], minlength=nrow)
            first = flatAT[gi] == 1
            refund = np.bincount(g_rows, weights=np.where(first, self.retry.refund, self.retry.cost),
                                 minlength=nrow)
            q = np.minimum(self.quota[rows] + refund, self.retry.quota)
            live_g = kd == 0
            rec_mask = live_g & self.record[rows][g_rows]
            if rec_mask.any():
                vals = done[gmask][rec_mask] - self.t_pub[rows][g_rows[rec_mask]]
                rr = rows[g_rows[rec_mask]]
                parts = None
                if self.stages is not None:
                    cps = self.row_cp[rr]
                    parts = {name: cps[:, k] for k, name in enumerate(_CONTROL)}
                    parts["post_call"] = lat[gmask][rec_mask]
                    ready = self.first_at[rows].ravel()[gi][rec_mask]
                    parts["post_slot_wait"] = ready - self.row_start[rr]
                    parts["throttle_wait"] = done[gmask][rec_mask] - parts["post_call"] - ready
                if self.geo is None:
                    dn = self.down.sample(rng, vals.size)
                    vals = vals + dn
                    binned = self.hist.add(vals)
                    if parts is not None:
                        parts["network"] = parts["network"] + dn
                        assert self.stages is not None   # parts only with self.stages, above
                        self.stages.add(vals, 1.0, parts, binned)
                else:
                    order = np.argsort(rr, kind="stable")
                    rr, vals = rr[order], vals[order]
                    if parts is not None:
                        parts = {k: v[order] for k, v in parts.items()}
                    u, cnt = np.unique(rr, return_counts=True)
                    self._sink(vals, 1.0, [self.row_mix[int(k)] for k in u.tolist()], cnt, parts)
            flatFA[gi] = done[gmask]
            flatAT[gi] = 0
            # rejected: retry (backoff, quota) or fail
            bi = ridx[~gmask]
            fail = np.zeros(nrow, dtype=np.int64)
            fail_live = np.zeros(nrow, dtype=np.int64)
            if bi.size:
                b_rows = rowi[~gmask]
                at = flatAT[bi]
                # the retry quota is spent in slot order within each row (rows are sorted)
                allowed = (np.floor(q / self.retry.cost).astype(np.int64) if self.retry.cost > 0
                           else np.full(nrow, np.iinfo(np.int64).max))
                wants = at < self.retry.max_attempts
                cw = np.cumsum(wants)
                firsts = np.searchsorted(b_rows, b_rows, side="left")
                rank = cw - 1 - (cw[firsts] - wants[firsts])   # rank among this row's retries
                can = wants & (rank < allowed[b_rows])
                spent = np.bincount(b_rows[can], minlength=nrow) * self.retry.cost
                q = q - spent
                elat = lat[~gmask]
                back = self.retry.delay(at - 1, rng.random(bi.size))
                flatFA[bi] = send[~gmask] + elat + np.where(can, back, 0.0)
                flatAT[bi] = np.where(can, at + 1, 0)
                fail = np.bincount(b_rows[~can], minlength=nrow)
                fail_live = np.bincount(b_rows[~can & (flatKD[bi] == 0)], minlength=nrow)
            self.quota[rows] = q
            self.n_succ[rows] += succ
            self.n_half[rows] += halfc
            self.n_gone[rows] += gonec
            self.n_fail[rows] += fail
            self.n_fail_live[rows] += fail_live
            FA = flatFA.reshape(FA.shape)
            AT = flatAT.reshape(AT.shape)
            KD = flatKD.reshape(KD.shape)
        self.free_at[rows] = FA
        self.attempt[rows] = AT
        self.kind[rows] = KD
        # 3. finished or timed out
        pending = (AT > 0).sum(axis=1)
        finished = (self.remaining[rows] == 0) & (pending == 0)
        timed_out = ~finished & (self.deadline[rows] <= t)
        if finished.any() or timed_out.any():
            keep = []
            for j, r in enumerate(rows.tolist()):
                if finished[j]:
                    end = max(float(FA[j].max()), t)
                elif timed_out[j]:
                    self.n_fail[r] += int(self.remaining[r]) + int(pending[j])
                    live_pending = int(((AT[j] > 0) & (KD[j] == 0)).sum())
                    self.n_fail_live[r] += int(self.live_left[r]) + live_pending
                    self.remaining[r] = 0
                    end = max(float(self.deadline[r]), t)
                else:
                    keep.append(r)
                    continue
                res = FanoutResult(int(self.n_succ[r]), int(self.n_half[r]), int(self.n_gone[r]),
                                   int(self.n_fail[r]), end, int(self.n_fail_live[r]))
                ctx = self.ctx[r]
                self.ctx[r] = None
                self._rows_free.append(r)
                self.on_done(ctx, res)
            self._active = keep

    def abort(self, now: float) -> None:
        """The Region fails: every throttled fan-out still running ends at the next tick, its
        undecided posts failed (a fan-out computed at once has already been decided)."""
        if self._active:
            self.deadline[np.asarray(self._active)] = now

    def partial(self):
        """(ctx, counts decided so far) of each throttled fan-out still running; the counts
        are moved out, so what remains is in flight."""
        out = []
        for r in self._active:
            out.append((self.ctx[r], FanoutResult(int(self.n_succ[r]), int(self.n_half[r]),
                                                  int(self.n_gone[r]), int(self.n_fail[r]), 0.0,
                                                  int(self.n_fail_live[r]))))
            self.n_succ[r] = self.n_half[r] = self.n_gone[r] = self.n_fail[r] = 0
            self.n_fail_live[r] = 0
        return out

    @property
    def in_flight_live_posts(self) -> int:
        """Undecided posts of throttled fan-outs that go to connected recipients."""
        if not self._active:
            return 0
        rows = np.asarray(self._active)
        return int(self.live_left[rows].sum()
                   + ((self.attempt[rows] > 0) & (self.kind[rows] == 0)).sum())

    @property
    def in_flight_posts(self) -> int:
        """Posts of throttled fan-outs not yet decided (for conservation at the end)."""
        if not self._active:
            return 0
        rows = np.asarray(self._active)
        return int(self.remaining[rows].sum() + (self.attempt[rows] > 0).sum())

