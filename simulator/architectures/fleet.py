"""A fleet of WebSocket server tasks on ECS with Fargate, behind a load balancer: the parts of
the ``containers`` design that hold the clients' sockets.

* :class:`Fleet`: the tasks. Each is a CPU (a FIFO queue of work at the task's vCPUs, by
  Lindley's recursion: no event per job), a number of connections bounded by its memory, and
  the channels' members it holds. Tasks launch through Fargate's launch-rate bucket, start
  after an image pull and a first health check, drain when deregistered and stop; the
  service's target tracking adds and removes them from one-minute datapoints; deploys and
  failures replace them.
* :class:`FleetEdge`: the :class:`~.connections.Edge` of the design. The load balancer picks a
  task in service for each new connection (NLB: flow hash, a random task; ALB: round robin);
  a full task refuses it (a breach of the fleet's own limit, not of a quota); the task's CPU
  does the upgrade. The server pings every client, so a vanished one is noticed after a ping
  interval and timeout, and no connection is ever idle at the load balancer while pings run.
* :class:`LbMeter`: the load balancer's capacity units, hour by hour, on the highest of new
  connections/s, active connections and GB processed.

Stated simplifications: a task is one server using all its vCPUs (Go, or one Node.js worker
per vCPU); idle CPU per connection (pings, timers) is a steady load that slows the task's
other work; load-balancer forwarding adds no latency; a failed task's clients learn of it at
once (the load balancer resets their TCP connections); a connection is never moved between
tasks (WebSockets are sticky: new tasks get only new connections).
"""

from __future__ import annotations

import math

import numpy as np

from simulator.architectures.connections import StatelessEdge
from simulator.primitives.distributions import Fixed
from simulator.primitives.events import Call
from simulator.workload.population import HALF_OPEN, OPEN

STARTING, IN_SERVICE, DRAINING, STOPPED = 0, 1, 2, 3
#: the least share of a task's CPU left for work when idle connections take the rest (a task
#: whose pings alone saturate it still crawls, so its queue grows instead of dividing by 0)
_MIN_FREE_CPU = 0.02  # not a catalog value


def task_capacity(scn, p) -> int:
    """Connections one task holds at most: its memory after the server's base, per
    connection, or the scenario's cap."""
    t = scn.containers.task
    free_mb = t.memory_gb * 1024.0 - p["containers.server_base_memory_mb"]
    cap = int(max(0.0, free_mb) * 1024.0 // p["containers.memory_per_connection_kb"])
    return min(cap, t.max_connections) if t.max_connections is not None else cap


class CpuCost:
    """A catalog CPU cost (CPU-seconds per job): a number, or a distribution drawn per job
    from its own stream (``containers.<entry>``)."""

    def __init__(self, arch, key: str):
        v = arch.p[key]
        if isinstance(v, Fixed):
            v = v.value
        self.fixed = None if hasattr(v, "sample") else float(v)
        self.draw = None if self.fixed is not None else arch.s.buffered(key, v)
        self.mean = self.fixed if self.fixed is not None else float(v.mean)

    def one(self) -> float:
        if self.draw is None:
            return self.fixed   # type: ignore[return-value]
        return self.draw()

    def many(self, n: int):
        if self.draw is None:
            return self.fixed
        return np.array([self.draw() for _ in range(n)])


class LbMeter:
    """Capacity units of the load balancer, billed per hour on the highest dimension: new
    connections/s (averaged over the hour), active connections (the peak of the per-minute
    samples) and GB processed in the hour."""

    def __init__(self, p, lb):
        kind = lb.kind
        if kind == "nlb":
            proto = lb.listener
            self.new_per_unit = p[f"containers.nlb_{proto}_new_connections_per_unit"]
            self.active_per_unit = p[f"containers.nlb_{proto}_active_connections_per_unit"]
        else:
            self.new_per_unit = p["containers.alb_new_connections_per_unit"]
            self.active_per_unit = p["containers.alb_active_connections_per_unit"]
        self.gb_per_unit = p["containers.lb_gb_per_unit_hour"]
        self.kind = kind
        self.new = 0.0             # connections this hour
        self.bytes = 0.0           # bytes processed this hour
        self.active_peak = 0.0     # peak of the minute samples this hour
        self.hour = 0
        self.units_done = 0.0      # unit-hours of the completed hours
        self.peak_units = 0.0

    def _units(self, hours: float) -> float:
        """Units of the current hour, ``hours`` of it elapsed (a partial hour: its rates so far)."""
        if hours <= 0:
            return 0.0
        return max(self.new / (hours * 3600.0) / self.new_per_unit,
                   self.active_peak / self.active_per_unit,
                   self.bytes / 1e9 / hours / self.gb_per_unit)

    def sample(self, now: float, active: int) -> None:
        """Called each minute: the active-connection sample; closes an hour when one ends."""
        hour = int(now // 3600.0)
        if hour != self.hour:
            u = self._units(1.0)
            self.units_done += u
            self.peak_units = max(self.peak_units, u)
            self.hour, self.new, self.bytes, self.active_peak = hour, 0.0, 0.0, 0.0
        self.active_peak = max(self.active_peak, float(active))

    def peak(self, now: float) -> float:
        """The highest hourly capacity units so far (the current hour's, as far as it went)."""
        frac = now / 3600.0 - self.hour
        return max(self.peak_units, self._units(frac) if frac > 0 else 0.0)

    def unit_hours(self, now: float) -> float:
        """Unit-hours so far: the completed hours and the elapsed part of the current one."""
        frac = now / 3600.0 - self.hour
        return self.units_done + self._units(frac) * frac


class Fleet:
    """The server tasks of one run (one Region).

    Parameters
    ----------
    arch : ContainersArchitecture
        Its ``env``, ``scn``, ``p`` (resolved parameters), ``rec``, ``c``, ``reg``, ``s``.
    """

    def __init__(self, arch):
        self.arch = arch
        self.env = arch.env
        self.rec = arch.rec
        self.c = arch.c
        self.reg = arch.reg
        p = arch.p
        cfg = arch.scn.containers
        self.cfg = cfg
        self.vcpu = float(cfg.task.vcpu)
        #: connections a task holds at most (memory, or the application's own cap)
        self.capacity = task_capacity(arch.scn, p)
        self.idle_cpu = p["containers.cpu_idle_per_connection"]
        self.launch_rate = p["containers.task_launch_per_s"]
        self.launch_burst = p["containers.task_launch_burst"]
        self.d_start = arch.s.buffered("containers.task_start", p["latency.fargate_task_start_s"])
        self.hc_interval = p["containers.health_check_interval_s"]
        self.drain_s = p["containers.deregistration_delay_s"]
        self.stop_s = p["containers.stop_timeout_s"]
        self.min_billed = p["containers.billing_minimum_s"]
        self.period = p["containers.metric_period_s"]
        self.out_n = int(p["containers.scale_out_datapoints"])
        self.in_n = int(p["containers.scale_in_datapoints"])
        self.in_ratio = p["containers.scale_in_ratio"]
        self.in_cool = p["containers.scale_in_cooldown_s"]
        self.rng_lb = arch.s["containers.lb"]            # the NLB's flow hash
        self.rng_health = arch.s["containers.health"]    # when a new task's first check passes
        self.rng_scale_in = arch.s["containers.scale_in"]  # which tasks a scale-in stops
        n_ch = arch.reg.n_reg * arch.channels.n
        # per task (grown together)
        self.n = 0
        size = 16
        self.state = np.full(size, STOPPED, dtype=np.int8)
        self.free_at = np.zeros(size)
        self.conns = np.zeros(size, dtype=np.int64)        # OPEN or HALF_OPEN on the task
        self.pending = np.zeros(size, dtype=np.int64)      # upgrades under way
        self.work = np.zeros(size)                         # CPU-seconds this metric period
        self.launched_at = np.zeros(size)
        self.stopped_at = np.full(size, np.inf)
        #: members of each channel held by each task (channel x task)
        self.held = np.zeros((n_ch, size), dtype=np.int32)
        #: the task of each connection slot (-1: none)
        self.task_of = np.full(self.reg.state.size, -1, dtype=np.int64)
        self._rr = 0
        self._bucket_level = float(self.launch_burst)
        self._bucket_t = 0.0
        # autoscaling state
        self.high = 0
        self.low = 0
        self.last_activity = -math.inf
        self.deploying = 0
        self.scale_outs = 0
        self.scale_ins = 0
        self.launched = 0
        self.peak_in_service = 0
        self.metric_last = 0.0
        self.util_sum = 0.0        # sum over datapoints of the mean utilisation (after warm-up)
        self.util_n = 0
        self.util_max = 0.0
        self.saturated = 0         # task-minutes at or above 100% CPU
        self.deploys: list[dict] = []
        #: rolling deployments under way (told of failures: see ``fail``)
        self.rollouts: list = []
        self.last_util = np.zeros(0)

    # -- task arrays ------------------------------------------------------------------------------
    def _grow(self) -> None:
        old = self.state.size
        new = old * 2

        def ext(a, fill):
            b = np.full((*a.shape[:-1], new), fill, dtype=a.dtype)
            b[..., :old] = a
            return b

        self.state = ext(self.state, STOPPED)
        self.free_at = ext(self.free_at, 0.0)
        self.conns = ext(self.conns, 0)
        self.pending = ext(self.pending, 0)
        self.work = ext(self.work, 0.0)
        self.launched_at = ext(self.launched_at, 0.0)
        self.stopped_at = ext(self.stopped_at, np.inf)
        self.held = ext(self.held, 0)

    def _new_task(self, launched_at: float, state: int) -> int:
        if self.n == self.state.size:
            self._grow()
        j = self.n
        self.n += 1
        self.state[j] = state
        self.launched_at[j] = launched_at
        self.free_at[j] = launched_at
        self.launched += 1
        return j

    def in_service(self) -> np.ndarray:
        return np.flatnonzero(self.state[:self.n] == IN_SERVICE)

    def running(self) -> np.ndarray:
        """Tasks that hold connections (in service or draining)."""
        s = self.state[:self.n]
        return np.flatnonzero((s == IN_SERVICE) | (s == DRAINING))

    def n_starting(self) -> int:
        return int(np.count_nonzero(self.state[:self.n] == STARTING))

    # -- CPU ----------------------------------------------------------------------------------------
    def _speed(self, j) -> np.ndarray | float:
        free = 1.0 - self.conns[j] * self.idle_cpu / self.vcpu
        return self.vcpu * np.maximum(free, _MIN_FREE_CPU)

    def run(self, j: int, now: float, work: float, kind: str) -> float:
        """``work`` CPU-seconds joins task ``j``'s queue at ``now``: when it is done. ``kind``
        (``publish``, ``connect``) names the job in the wait counters."""
        start = self.free_at[j]
        if start < now:
            start = now
        fin = start + work / float(self._speed(j))
        self.free_at[j] = fin
        self.work[j] += work
        c = self.c
        c[f"containers.task_jobs.{kind}"] += 1
        c[f"containers.task_wait_s.{kind}"] += start - now
        return float(fin)

    def run_many(self, tasks: np.ndarray, now: float, work: np.ndarray):
        """The same for several tasks at once (one ``fanout`` job each): (start, seconds per
        CPU-second)."""
        start = np.maximum(self.free_at[tasks], now)
        inv = 1.0 / self._speed(tasks)
        self.free_at[tasks] = start + work * inv
        self.work[tasks] += work
        c = self.c
        c["containers.task_jobs.fanout"] += tasks.size
        c["containers.task_wait_s.fanout"] += float((start - now).sum())
        return start, inv

    # -- connections --------------------------------------------------------------------------------
    def pick(self, lb_kind: str) -> int:
        """The task the load balancer sends a new connection to (-1: none in service)."""
        live = self.in_service()
        if live.size == 0:
            return -1
        if lb_kind == "alb":
            self._rr += 1
            return int(live[self._rr % live.size])
        return int(live[int(self.rng_lb.integers(live.size))])

    def add(self, i: int, j: int) -> None:
        if i >= self.task_of.size:
            t = np.full(max(self.reg.state.size, i + 1), -1, dtype=np.int64)
            t[:self.task_of.size] = self.task_of
            self.task_of = t
        self.task_of[i] = j
        self.conns[j] += 1
        self.held[int(self.reg.channel[i]), j] += 1

    def remove(self, i: int) -> None:
        j = int(self.task_of[i])
        if j < 0:
            return
        self.task_of[i] = -1
        self.conns[j] -= 1
        self.held[int(self.reg.channel[i]), j] -= 1

    def slots_of(self, j: int) -> np.ndarray:
        slots = self.reg.connected_slots()
        return slots[self.task_of[slots] == j] if slots.size else slots

    # -- launches, health, draining, stops -------------------------------------------------------
    def _launch_at(self, now: float) -> float:
        """When a launch asked for at ``now`` gets its token from Fargate's launch-rate bucket."""
        lvl = min(self.launch_burst,
                  self._bucket_level + self.launch_rate * (now - self._bucket_t))
        if lvl >= 1.0:
            self._bucket_level, self._bucket_t = lvl - 1.0, now
            return now
        wait = (1.0 - lvl) / self.launch_rate
        self._bucket_level, self._bucket_t = 0.0, now + wait
        self.rec.breaches.add(now, "containers.task_launch_per_s", "containers:launch",
                              self.arch.region)
        return now + wait

    def launch(self, now: float, n: int, on_healthy=None) -> None:
        """Start ``n`` tasks: each is billed from its launch, runs after its start time and
        takes connections after its first passing health check."""
        for _ in range(n):
            t = self._launch_at(now)
            j = self._new_task(t, STARTING)
            ready = t + self.d_start() + self.hc_interval * float(self.rng_health.random())
            Call(self.env, ready - now, self._healthy, (j, on_healthy))

    def _healthy(self, ev) -> None:
        j, on_healthy = ev._value
        if self.state[j] != STARTING:
            return
        self.state[j] = IN_SERVICE
        self.free_at[j] = max(self.free_at[j], self.env.now)
        self.peak_in_service = max(self.peak_in_service, self.in_service().size)
        if on_healthy is not None:
            on_healthy(j)

    def deregister(self, now: float, j: int, why: str, storm: dict | None = None,
                   drain_s: float | None = None, then=None) -> None:
        """Task ``j`` leaves the load balancer, drains, then closes its connections (clients
        reconnect by policy) and stops; ``then(j)`` is called when it has stopped."""
        if self.state[j] != IN_SERVICE:
            return
        self.state[j] = DRAINING
        d = self.drain_s if drain_s is None else drain_s
        Call(self.env, d, self._drained, (j, why, storm, then))

    def _drained(self, ev) -> None:
        j, why, storm, then = ev._value
        now = self.env.now
        self._close_all(now, j, why, storm)
        self.stop(j, now + self.stop_s)
        if then is not None:
            then(j)

    def fail(self, now: float, j: int, storm: dict) -> None:
        """Task ``j`` fails: its connections drop at once, its billing stops; a deployment that
        was to replace it counts it as gone."""
        self._close_all(now, j, "task_failure", storm)
        self.stop(j, now)
        for r in list(self.rollouts):
            r.failed(j)

    def stop(self, j: int, at: float) -> None:
        """Task ``j`` stops (billed until ``at``)."""
        self.state[j] = STOPPED
        self.stopped_at[j] = at

    def _close_all(self, now: float, j: int, why: str, storm: dict | None) -> None:
        conns = self.arch.conns
        reg = self.reg
        slots = self.slots_of(j).tolist()
        if storm is not None:
            storm["dropped"] += sum(1 for i in slots if reg.state[i] == OPEN)
        for i in slots:
            if reg.state[i] == OPEN:
                conns.drop(now, int(i), why, storm)
            elif reg.state[i] == HALF_OPEN:
                self.c[f"connections.closed.{why}_half_open"] += 1
                conns.server_close(now, int(i))

    # -- billing ----------------------------------------------------------------------------------
    def task_seconds(self, now: float) -> float:
        """Billed task-seconds so far: launch to stop (or now), a stopped task at least the
        minimum charge."""
        n = self.n
        la = self.launched_at[:n]
        st = self.stopped_at[:n]
        began = la <= now
        life = np.minimum(st, now) - la
        done = st <= now
        life = np.where(done, np.maximum(life, self.min_billed), life)
        return float(life[began].sum())

    # -- autoscaling --------------------------------------------------------------------------------
    def datapoint(self, now: float) -> None:
        """One metric period: the tasks' CPU utilisation (work done plus the idle load of their
        connections, as a share of their vCPUs), target tracking's decision, and the
        saturated tasks."""
        live = self.in_service()
        run = self.running()
        util = (self.work[run] / (self.vcpu * self.period)
                + self.conns[run] * self.idle_cpu / self.vcpu)
        self.work[:self.n] = 0.0
        self.last_util = util
        hot = int(np.count_nonzero(util >= 1.0))
        if hot:
            self.saturated += hot
            self.rec.breaches.add(now, "containers.task_cpu", "containers:task",
                                  self.arch.region, hot)
        if now > self.arch.scn.warmup_s and util.size:
            m = float(np.minimum(util, 1.0).mean())
            self.util_sum += m
            self.util_n += 1
            self.util_max = max(self.util_max, float(util.max()))
        a = self.cfg.autoscaling
        if live.size == 0:
            return
        # the service's average over its running tasks (draining ones included, as in
        # CloudWatch), against the capacity in service
        if a.metric == "cpu":
            metric = float(np.minimum(util, 1.0).mean())
        else:
            metric = float(self.conns[run].mean())
        self.metric_last = metric
        if not a.enabled:
            return
        target = a.target
        self.high = self.high + 1 if metric > target else 0
        self.low = self.low + 1 if metric < self.in_ratio * target else 0
        cfg = self.cfg.tasks
        counted = live.size + self.n_starting()
        # the alarms repeat their action every datapoint while they stay in ALARM: a further
        # scale-out asks for more than the capacity already added (tasks still starting count),
        # a further scale-in waits for the cooldown
        if self.high >= self.out_n:
            want = math.ceil(live.size * metric / target)
            if want > cfg.max:
                self.rec.breaches.add(now, "containers.tasks_max", "containers:autoscaling",
                                      self.arch.region, want - cfg.max)
                want = cfg.max
            if want > counted:
                self.launch(now, want - counted)
                self.scale_outs += 1
                self.last_activity = now
        elif (self.low >= self.in_n and not self.deploying
              and now - self.last_activity >= self.in_cool and self.n_starting() == 0):
            # AWS rounds the capacity removed down: ceil of the proportional capacity
            want = max(cfg.min, math.ceil(live.size * metric / target))
            if want < live.size:
                # ECS does not look at connections: the tasks stopped are arbitrary (their
                # clients reconnect)
                gone = self.rng_scale_in.choice(live, size=live.size - want, replace=False)
                for j in sorted(gone.tolist()):
                    self.deregister(now, int(j), "scale_in")
                self.scale_ins += 1
                self.last_activity = now


class FleetEdge(StatelessEdge):
    """Admission and closing of connections by the fleet (the design's
    :class:`~.connections.Edge`).

    Parameters
    ----------
    arch : ContainersArchitecture
    """

    component = "containers"

    def __init__(self, arch):
        self.arch = arch
        self.env = arch.env
        self.fleet = arch.fleet
        self.lc = arch.conns
        self.reg = arch.reg
        self.c = arch.c
        p = arch.p
        self.lb = arch.scn.containers.load_balancer
        self.meter = arch.meter
        self.cpu_connect = CpuCost(arch, "containers.cpu_per_connect_s")
        #: TLS ends at the task behind an NLB's tcp listener
        self.cpu_tls = (CpuCost(arch, "containers.cpu_per_tls_handshake_s")
                        if self.lb.kind == "nlb" and self.lb.listener == "tcp" else None)
        self.connect_timeout = p["containers.client_connect_timeout_s"]
        ping = p["containers.server_ping_interval_s"]
        lb_idle = p[f"containers.{self.lb.kind}_idle_timeout_s"]
        # the server's pings are traffic: while they run, the load balancer never idles out
        self.idle_timeout = math.inf if ping < lb_idle else lb_idle
        self.max_duration = math.inf
        self.half_detect = ping + p["containers.server_ping_timeout_s"]
        self.reset_idle = True
        self.ping_s = ping
        self.integrity = arch.integrity
        self._pending = -1

    def ingress(self) -> float:
        return 0.0

    def arrive(self, ev) -> None:
        """A new connection reaches the load balancer: to a task in service, whose CPU does
        the upgrade; refused when none is in service or the chosen task is full."""
        now = self.env.now
        a = ev._value
        self.meter.new += 1
        fleet = self.fleet
        j = fleet.pick(self.lb.kind)
        if j < 0:
            self.lc.reject(now, a, "no_task", "containers.tasks_in_service", "containers:connect")
            return
        if fleet.conns[j] + fleet.pending[j] >= fleet.capacity:
            self.lc.reject(now, a, "task_full", "containers.connections_per_task",
                           "containers:connect")
            return
        fleet.pending[j] += 1
        work = self.cpu_connect.one()
        if self.cpu_tls is not None:
            work += self.cpu_tls.one()
        done = fleet.run(j, now, work, "connect")
        if done - now > self.connect_timeout:
            # the client gives up first (the task still does the work, for nothing)
            Call(self.env, self.connect_timeout, self._timed_out, (a, j))
            return
        Call(self.env, done - now, self._upgraded, (a, j))

    def _timed_out(self, ev) -> None:
        a, j = ev._value
        self.fleet.pending[j] -= 1
        self.lc.reject(self.env.now, a, "connect_timeout", "containers.client_connect_timeout_s",
                       "containers:connect")

    def _upgraded(self, ev) -> None:
        a, j = ev._value
        fleet = self.fleet
        fleet.pending[j] -= 1
        now = self.env.now
        if fleet.state[j] == STOPPED:   # the task failed during the upgrade
            self.lc.reject(now, a, "task_stopped")
            return
        self._pending = j
        self.lc.established(now, a)
        self._pending = -1

    def row_written(self, i: int, connected_at: float) -> None:
        j = self._pending
        if j < 0:   # a client connected at t = 0: the load balancer's choice among the tasks
            fleet = self.fleet
            j = fleet.pick(self.lb.kind)
            if fleet.conns[j] >= fleet.capacity:   # the least loaded instead (sized to fit)
                live = fleet.in_service()
                j = int(live[np.argmin(fleet.conns[live])])
        self.fleet.add(i, j)

    def closed(self, now: float, i: int) -> None:
        self.fleet.remove(i)
        super().closed(now, i)
