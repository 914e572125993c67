"""Delivery through a pub/sub backplane to server tasks (the ``containers`` design).

A client's message reaches its own task over its WebSocket; the task's CPU reads it and
publishes it to the channel's shard of an ElastiCache (Valkey) pub/sub backplane; the shard
(one FIFO server: a message in, a copy out to each subscribed task, bounded by its message
rate and its network bandwidth) sends it to the tasks subscribed to the channel; each task's
CPU then writes it to its local sockets of that channel, one after another. No API call per
subscriber and no account throttle: the cost of a delivery is CPU time on a task.

Three events per message (the arrival at the sender's task, at the backplane, back at the
subscribed tasks), each queue served in arrival order by Lindley's recursion.

Stated simplifications: the server has no message-size or per-connection rate limit of its
own; one backplane latency draw serves both legs' tasks of a message; a message published
while no task subscribes to its channel reaches nobody (as in Redis).
"""

from __future__ import annotations

import numpy as np

from simulator.architectures.base import sender_slot
from simulator.architectures.features import feature_of, feature_sender, open_sender
from simulator.architectures.fleet import CpuCost
from simulator.primitives.events import Call


class Backplane:
    """The publish path and fan-out of the ``containers`` design (one Region).

    Parameters
    ----------
    arch : ContainersArchitecture
    """

    def __init__(self, arch):
        self.arch = arch
        self.env = arch.env
        self.c = arch.c
        self.rec = arch.rec
        self.reg = arch.reg
        self.fleet = arch.fleet
        self.meter = arch.meter
        p = arch.p
        cfg = arch.scn.containers.backplane
        self.per_channel = cfg.subscribe == "per_channel"
        self.shards = cfg.shards
        self.msg_s = 1.0 / p["elasticache.pubsub_messages_per_s"]
        self.s_per_byte = 8.0 / (p[f"elasticache.network_gbps.{cfg.node_type}"] * 1e9)
        self.free_at = np.zeros(cfg.shards)
        self.busy = np.zeros(cfg.shards)      # seconds of work each shard was given
        self._done_prev = np.zeros(cfg.shards)
        self.last_util = 0.0       # the busiest shard's share of the last metric period
        self.d_bp = arch.s.buffered("containers.backplane", p["latency.backplane_s"])
        self.cpu_pub = CpuCost(arch, "containers.cpu_per_publish_s")
        self.cpu_fan = CpuCost(arch, "containers.cpu_per_backplane_message_s")
        self.cpu_del = p["containers.cpu_per_delivery_s"]
        self.rng = arch.s["containers.delivery"]
        self.echo = arch.scn.workload.publish.echo_to_sender
        #: whether the channels keep their last messages in the cache (history on join)
        self.keep = arch.scn.features.history_on_join is not None
        self.warmup = arch.scn.warmup_s
        self.sample_above = arch.scn.engine.fanout_sample_above
        self.sample_k = arch.scn.engine.fanout_sample_k

    # -- the path of a message ------------------------------------------------------------------
    def arrive(self, ev) -> None:
        """A client's message reaches its task (``(t_pub, nbytes, route[, slot, gen])``)."""
        now = self.env.now
        v = ev._value
        t_pub, nbytes = v[0], v[1]
        reg = self.reg
        fleet = self.fleet
        feature = feature_of(v)
        if feature is not None:   # a member's event (a leave's member has left its task)
            sent = feature_sender(reg, v, self.c, now)
            if sent is None:
                return
            i, key, kind = sent
            gen = v[4]
            j = int(fleet.task_of[i]) if i >= 0 and i < fleet.task_of.size else -1
            if j < 0:
                running = fleet.running()
                if running.size == 0:
                    return   # no task to announce it
                j = int(running[key % running.size])
        else:
            i = sender_slot(self.arch, v, self.c)
            if i < 0:
                return
            reg.last_send[i] = now
            key, kind, gen = int(reg.channel[i]), None, int(reg.gen[i])
            j = int(fleet.task_of[i])
        self.c["publishes.attempted"] += 1
        self.meter.bytes += nbytes
        done = fleet.run(j, now, self.cpu_pub.one(), "publish")
        msg = (t_pub, nbytes, i, gen, key, now, done, kind)
        Call(self.env, done + self.d_bp() - now, self._at_backplane, msg)

    def history(self, now: float, i: int, n: int) -> float:
        """A member's request for its channel's last ``n`` messages (history on join): its
        task reads the list the channel keeps in the cache and writes them to the socket (the
        CPU of a request and of ``n`` deliveries, queued as one job; the cache's round trip
        added after it); returns when the last is written."""
        j = int(self.fleet.task_of[i])
        self.c["join_history.requests"] += 1
        work = self.cpu_pub.one() + n * self.cpu_del
        return self.fleet.run(j, now, work, "connect") + 2 * self.d_bp()

    def _subscribers(self, ch: int) -> np.ndarray:
        """The tasks subscribed to channel ``ch`` now."""
        fleet = self.fleet
        if self.per_channel:
            return np.flatnonzero(fleet.held[ch, :fleet.n])
        return fleet.running()

    def _at_backplane(self, ev) -> None:
        """The message reaches its channel's shard: in, and a copy out to each subscriber."""
        now = self.env.now
        msg = ev._value
        ch, nbytes = msg[4], msg[1]
        k = ch % self.shards    # all_tasks: one shard (classic pub/sub does not shard)
        n_sub = self._subscribers(ch).size
        if self.keep and msg[7] is None:   # a user's message is also pushed to the channel's list
            n_sub += 1
        service = max((1 + n_sub) * self.msg_s, (1 + n_sub) * nbytes * self.s_per_byte)
        start = max(now, self.free_at[k])
        self.free_at[k] = done = start + service
        self.busy[k] += service
        self.c["containers.backplane_messages"] += 1 + n_sub
        Call(self.env, done + self.d_bp() - now, self._fan_out, (*msg, now))

    def _fan_out(self, ev) -> None:
        """The subscribed tasks receive the message and write it to their local sockets."""
        now = self.env.now
        t_pub, nbytes, i, gen, ch, t_task, t_out, kind, t_bp = ev._value
        reg = self.reg
        fleet = self.fleet
        c = self.c
        tasks = self._subscribers(ch)
        w = fleet.held[ch, tasks].astype(np.int64)
        live = reg.live[ch]
        half = reg.half[ch]
        if not self.echo and open_sender(reg, i, gen):
            live -= 1   # the sender's own socket is skipped
            w[np.flatnonzero(tasks == fleet.task_of[i])] -= 1
        n = live + half
        c["messages.published"] += 1
        c["deliveries.attempted"] += n
        reg.last_msg[ch] = now
        if kind is not None:   # a feature event: not in the integrity ledger
            c[f"features.{kind}.recipients"] += n
            c["features.published"] += 1
        else:
            self.arch.integrity.published(ch, now, live)
            if self.arch.fallback is not None:   # the pollers get the users' messages
                self.arch.fallback.published(now, ch, t_pub, nbytes, {
                    "network": t_task - t_pub, "server_tasks": t_out - t_task,
                    "backplane": now - t_out}, t_pub >= self.warmup)
        if tasks.size == 0:
            return
        fan = self.cpu_fan.many(tasks.size)
        start, inv = fleet.run_many(tasks, now, fan + w * self.cpu_del)
        c["deliveries.succeeded"] += live
        c["deliveries.stale_lost"] += half
        if kind is None:
            self.arch.integrity.posts(live, 0)
        c["data_transfer.out_bytes"] += nbytes * n
        self.meter.bytes += nbytes * n
        if n == 0:
            return
        first = start + fan * inv
        last = float((first + w * self.cpu_del * inv).max())
        self.rec.bin_add("deliveries_per_s", float(first.min()), last, live)
        if live and t_pub >= self.warmup and kind is None:
            self._record(t_pub, t_task, t_out, t_bp, now, first, inv, w, live, n, ch)

    # -- latencies ------------------------------------------------------------------------------
    def _record(self, t_pub, t_task, t_out, t_bp, now, first, inv, w, live, n, ch) -> None:
        """Latencies (publish -> receipt) of the message's deliveries: the ``k``-th write on a
        task ends ``k`` deliveries' CPU after the task started on it. Above ``sample_above``
        recipients, a uniform sample of ``sample_k`` weighted to the live ones."""
        k = n if n <= self.sample_above else self.sample_k
        cum = np.cumsum(w)
        if k == n:
            pos = np.arange(n)
        else:
            pos = self.rng.integers(0, n, k)
        t_of = np.searchsorted(cum, pos, side="right")          # the task of each recipient
        rank = pos - (cum[t_of] - w[t_of]) + 1                  # its place in the task's writes
        written = first[t_of] + rank * self.cpu_del * inv[t_of]
        arch = self.arch
        geo = arch.geo
        if geo is None:
            down = arch.oneway.sample(self.rng, k)
            loc = None
        else:
            counts = self.reg.live_loc[ch] if self.reg.live_loc is not None else np.ones(1)
            loc = self.rng.choice(counts.size, size=k, p=counts / counts.sum())
            down = geo.downlink(self.rng, loc, 0)
        lat = written - t_pub + down
        backplane = (t_bp - t_out) + (now - t_bp)
        tasks = (t_out - t_task) + (written - now)
        weight = np.full(k, live / k)
        arch.add_latencies(lat, weight, {"server_tasks": tasks, "backplane": np.full(k, backplane),
                                         "network": lat - tasks - backplane}, loc)

    # -- delivery-strategy protocol (the engine's in-flight accounting) --------------------------
    in_flight_posts = 0
    in_flight_live_posts = 0

    def in_flight(self) -> int:
        """Messages on their way (the pending events that carry one), counted from the event
        queue, so a path that drops a message breaks conservation."""
        n = 0
        mine = (self._at_backplane, self._fan_out)
        for _, _, _, ev in self.env._queue:
            fn = ev.callbacks[0] if ev.callbacks else None
            if fn in mine:
                n += 1
        return n

    def _done_work(self, now: float) -> np.ndarray:
        """Seconds each shard has worked up to ``now`` (its queued work excluded)."""
        return self.busy - np.maximum(self.free_at - now, 0.0)

    def utilisation(self, now: float) -> float:
        """The busiest shard's share of time worked so far."""
        return float(self._done_work(now).max() / now) if now > 0 else 0.0

    def datapoint(self, now: float, period: float) -> None:
        """Each metric period: a shard that worked the whole period (its queue growing:
        messages reach the tasks ever later, where Redis would cut the subscribers whose output
        buffers overflow) is a breach of its throughput."""
        done = self._done_work(now)
        worked = done - self._done_prev
        self._done_prev = done
        self.last_util = float(worked.max() / period)
        full = int(np.count_nonzero(worked >= period * (1.0 - 1e-9)))
        if full:
            self.rec.breaches.add(now, "containers.backplane_throughput",
                                  "containers:backplane", self.arch.region, full)

