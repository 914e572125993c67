"""The alternative the article starts from: dedicated WebSocket servers on ECS with Fargate,
behind a load balancer, with an ElastiCache pub/sub backplane between them (``containers``).

The parts: the shared client side (:class:`~.base.Design`), a :class:`~.fleet.Fleet` of
server tasks with its autoscaling, deploys and failures, the :class:`~.fleet.FleetEdge`
that admits connections through the load balancer, the :class:`~.backplane.Backplane` that
carries each message to the tasks holding its channel's members, and the load balancer's
capacity-unit meter. Billed: Fargate vCPU-hours and GB-hours, load balancer hours and
capacity units, cache node-hours and data transfer out.

Resume from a history store is not modelled for this design (a scenario asking for it is
refused), as for the pub/sub services.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.architectures.backplane import Backplane
from simulator.architectures.base import Design, RegionStack, common_probes
from simulator.architectures.fallback import HeldPolls
from simulator.architectures.features import expected_event_rate
from simulator.architectures.fleet import (
    IN_SERVICE,
    STARTING,
    Fleet,
    FleetEdge,
    LbMeter,
    task_capacity,
)
from simulator.architectures.routing import RegionalEdges
from simulator.errors import ScenarioError
from simulator.units import MINUTE

JOBS = ("publish", "fanout", "connect")
COUNTERS = ("containers.backplane_messages",
            *(f"containers.task_{k}.{j}" for k in ("jobs", "wait_s") for j in JOBS))


class ContainersArchitecture(Design):
    """WebSocket server tasks on Fargate behind a load balancer, a pub/sub backplane."""

    name = "containers"

    def __init__(self, env, scn, params, streams, recorder):
        super().__init__(env, scn, params, streams, recorder)
        cfg = scn.containers
        self.meter = LbMeter(params, cfg.load_balancer)
        self.fleet = Fleet(self)
        self.edge = FleetEdge(self)
        self.conns.attach(RegionalEdges([self.edge], self.router, self.conns))
        self.backplane = Backplane(self)
        self.regions = {self.region: RegionStack(self.region, self.edge, None, None,
                                                 self.backplane)}
        self.initial_tasks = cfg.tasks.initial or initial_tasks(scn, params, self.channels)
        for _ in range(self.initial_tasks):
            self.fleet._new_task(0.0, IN_SERVICE)   # in service from the start
        self.fleet.peak_in_service = self.initial_tasks
        self.failures: list[dict] = []
        if self.fallback is not None:   # Socket.IO's polling transport, on the tasks
            self.fallback.attach(0, TaskPolls(self).path)
        for k in COUNTERS:
            self.c[k] += 0.0

    @classmethod
    def check(cls, scn, params) -> list:
        errs = []
        cfg = scn.containers
        if scn.app.resume.kind != "none":
            errs.append(ScenarioError("app.resume.kind", scn.app.resume.kind,
                                      "resume from a history store is not modelled for the "
                                      "'containers' design; use 'none' to compare it"))
        sizes = params["containers.fargate_task_sizes"]
        key = f"{cfg.task.vcpu:g}"
        if key not in sizes:
            errs.append(ScenarioError("containers.task.vcpu", cfg.task.vcpu,
                                      f"not a Fargate task size; valid: {', '.join(sizes)} vCPU"))
        elif not _size_ok(sizes[key], cfg.task.memory_gb):
            errs.append(ScenarioError("containers.task.memory_gb", cfg.task.memory_gb,
                                      f"not valid with {key} vCPU on Fargate; valid: "
                                      f"{sizes[key]} GB (a list, or low-high/step)"))
        cap = task_capacity(scn, params)
        if cap < 1:
            errs.append(ScenarioError("containers.task.memory_gb", cfg.task.memory_gb,
                                      "leaves no memory for connections after the server's "
                                      f"base {params['containers.server_base_memory_mb']:g} MB"))
            return errs
        n0 = int(round(scn.workload.clients * scn.workload.initially_connected))
        if cfg.tasks.initial is not None and cfg.tasks.initial * cap < n0:
            errs.append(ScenarioError("containers.tasks.initial", cfg.tasks.initial,
                                      f"too few for the {n0} clients connected at the start: a "
                                      f"task holds at most {cap} connections"))
        elif cfg.tasks.initial is None and cfg.tasks.max * cap < n0:
            errs.append(ScenarioError("containers.tasks.max", cfg.tasks.max,
                                      f"too few for the {n0} clients connected at the start: a "
                                      f"task holds at most {cap} connections"))
        if cfg.backplane.subscribe == "all_tasks" and cfg.backplane.shards > 1:
            errs.append(ScenarioError("containers.backplane.shards", cfg.backplane.shards,
                                      "classic pub/sub (subscribe: all_tasks, one channel every "
                                      "task subscribes to) reaches every node of a cluster: it "
                                      "does not spread over shards; use 1, or subscribe: "
                                      "per_channel (sharded pub/sub)"))
        for k, d in enumerate(cfg.deploys):
            if d.at_s >= scn.duration_s:
                errs.append(ScenarioError(f"containers.deploys.{k}.at_s", d.at_s,
                                          f"must be within the run (duration_s = {scn.duration_s:g})"))
        for k, f in enumerate(cfg.task_failures):
            if f.at_s >= scn.duration_s:
                errs.append(ScenarioError(f"containers.task_failures.{k}.at_s", f.at_s,
                                          f"must be within the run (duration_s = {scn.duration_s:g})"))
        return errs

    # -- the Architecture protocol ---------------------------------------------------------------
    def start(self) -> None:
        self.conns.start(sources=[*self.message_sources(self.backplane.arrive,
                                                        route_applies=False), self._minutes()])
        cfg = self.scn.containers
        env = self.env
        for d in cfg.deploys:
            env.timeout(d.at_s).callbacks.append(lambda ev, d=d: self._deploy(d))
        for f in cfg.task_failures:
            env.timeout(f.at_s).callbacks.append(lambda ev, f=f: self._fail(f))

    def _minutes(self):
        """Each metric period: the fleet's datapoint (and target tracking), the load
        balancer's active-connection sample."""
        env = self.env
        step = self.fleet.period
        while True:
            yield env.timeout(step)
            self.fleet.datapoint(env.now)
            self.backplane.datapoint(env.now, step)
            self.meter.sample(env.now, self.reg.n_connected + (
                int(self.fallback.total.value) if self.fallback is not None else 0))

    def _deploy(self, d) -> None:
        """A rolling deployment (see :class:`_Rollout`)."""
        now = self.env.now
        fleet = self.fleet
        # tasks still starting are of the old version: they stop (no connections yet) and
        # count among those to replace
        starting = np.flatnonzero(fleet.state[:fleet.n] == STARTING).tolist()
        for j in starting:
            fleet.stop(j, now)
        old = fleet.in_service().tolist()
        storm = dict(at_s=now, dropped=0, reconnected=0, gave_up=0, rejected=0,
                     last_reconnect_s=None, tasks=len(old) + len(starting), done_s=None,
                     superseded_s=None)
        fleet.deploys.append(storm)
        if old or starting:
            _Rollout(self.env, fleet, old, len(starting), d, storm).begin(now)

    def _fail(self, f) -> None:
        """``f.tasks`` tasks in service fail; the service launches replacements at once."""
        now = self.env.now
        fleet = self.fleet
        live = fleet.in_service()
        pick = self.s["containers.failures"].choice(live, size=min(f.tasks, live.size),
                                                     replace=False)
        storm = dict(at_s=now, dropped=0, reconnected=0, gave_up=0, rejected=0,
                     last_reconnect_s=None, tasks=int(pick.size))
        self.failures.append(storm)
        for j in pick.tolist():
            fleet.fail(now, int(j), storm)
        fleet.launch(now, int(pick.size))

    def join_history(self, now: float, i: int, n: int) -> float | None:
        """The member's task reads the channel's list in the backplane's cache (a round trip)
        and writes the ``n`` messages to the socket (its CPU per delivery)."""
        return self.backplane.history(now, i, n)

    def tick(self, now: float, step: float) -> None:
        pass

    def probes(self, rec) -> None:
        fleet = self.fleet
        common_probes(rec, self.reg, self.regions, self)
        rec.probe("tasks_in_service", lambda t: fleet.in_service().size)
        rec.probe("tasks_running", lambda t: fleet.running().size + fleet.n_starting())
        rec.probe("fleet_connection_capacity",
                  lambda t: fleet.in_service().size * fleet.capacity)
        rec.probe("connections_per_task_max",
                  lambda t: float(fleet.conns[fleet.running()].max())
                  if fleet.running().size else 0.0)
        rec.probe("task_connection_capacity", lambda t: fleet.capacity)
        rec.probe("task_cpu_utilisation_mean",
                  lambda t: float(np.minimum(fleet.last_util, 1.0).mean())
                  if fleet.last_util.size else 0.0)
        rec.probe("task_cpu_utilisation_max",
                  lambda t: float(fleet.last_util.max()) if fleet.last_util.size else 0.0)
        rec.probe("autoscaling_metric", lambda t: fleet.metric_last)
        rec.probe("autoscaling_target", lambda t: self.scn.containers.autoscaling.target)
        rec.probe("backplane_utilisation", lambda t: self.backplane.last_util)

    def usage_snapshot(self, now: float) -> dict:
        conn = self.conns.connected
        conn.close(now)
        c = self.c
        cfg = self.scn.containers
        task_s = self.fleet.task_seconds(now)
        arch = cfg.task.architecture
        lb = cfg.load_balancer.kind
        nodes = cfg.backplane.shards * (1 + cfg.backplane.replicas)
        usage = {
            f"fargate.vcpu_hours.{arch}": task_s * cfg.task.vcpu / 3600.0,
            f"fargate.gb_hours.{arch}": task_s * cfg.task.memory_gb / 3600.0,
            f"elb.{lb}_hours": now / 3600.0,
            f"elb.{'nlcu' if lb == 'nlb' else 'lcu'}_hours": self.meter.unit_hours(now),
            f"elasticache.node_hours.{cfg.backplane.node_type}": nodes * now / 3600.0,
            "data_transfer.internet_gb": c["data_transfer.out_bytes"] / 1e9,
        }
        aux = {"deliveries": c["deliveries.succeeded"], "connected_seconds": conn.area,
               "task_seconds": task_s}
        return {"t": now, "usage": {self.region: usage}, "aux": aux}

    def finalize(self, now: float) -> None:
        self._settle(now, publishes_in_flight=self.backplane.in_flight())
        self.c["connections.connected_minutes"] = self.conns.connected.area / MINUTE

    def gauges(self) -> dict:
        g = super().gauges()
        fleet = self.fleet
        c = self.c
        jobs = sum(c[f"containers.task_jobs.{k}"] for k in JOBS)
        wait = sum(c[f"containers.task_wait_s.{k}"] for k in JOBS)
        dep = fleet.deploys[0] if fleet.deploys else None
        fail = self.failures[0] if self.failures else None
        g["summary"] = {
            **g["summary"],
            "containers_tasks_initial": self.initial_tasks,
            "containers_tasks_peak": fleet.peak_in_service,
            "containers_tasks_end": int(fleet.in_service().size),
            "containers_tasks_launched": fleet.launched,
            "containers_connections_held": int(fleet.held.sum()),
            "containers_connections_per_task_limit": fleet.capacity,
            "containers_task_cpu_utilisation_mean": (fleet.util_sum / fleet.util_n
                                                     if fleet.util_n else None),
            "containers_task_cpu_utilisation_max": fleet.util_max if fleet.util_n else None,
            "containers_task_saturated_minutes": fleet.saturated,
            "containers_task_wait_mean_ms": 1000.0 * wait / jobs if jobs else None,
            **{f"containers_task_wait_mean_ms.{k}": (
                1000.0 * c[f"containers.task_wait_s.{k}"] / c[f"containers.task_jobs.{k}"]
                if c[f"containers.task_jobs.{k}"] else None) for k in JOBS},
            "containers_scale_outs": fleet.scale_outs,
            "containers_scale_ins": fleet.scale_ins,
            "containers_backplane_utilisation": self.backplane.utilisation(self.env.now),
            "containers_lb_capacity_units_peak": self.meter.peak(self.env.now),
            "containers_deploy_dropped": dep["dropped"] if dep else None,
            "containers_deploy_reconnected": dep["reconnected"] if dep else None,
            "containers_deploy_duration_s": (dep["done_s"] - dep["at_s"]
                                             if dep and dep["done_s"] is not None else None),
            "containers_failure_dropped": fail["dropped"] if fail else None,
            "containers_failure_reconnected": fail["reconnected"] if fail else None,
        }
        return g


class TaskPolls:
    """The server tasks answer the pollers' requests (Socket.IO's HTTP long-polling
    transport): the server holds a request until it has a packet, or answers it with a ping
    after ``containers.server_ping_interval_s``. Each request costs CPU on a task in service
    (``containers.cpu_per_poll_s``; a window's requests spread evenly over the tasks, one job
    each), and its bytes go through the load balancer."""

    def __init__(self, arch: ContainersArchitecture):
        self.fleet = arch.fleet
        self.meter = arch.meter
        self.cpu = arch.p["containers.cpu_per_poll_s"]
        assert arch.fallback is not None
        self.path = HeldPolls(arch.fallback, arch, arch.p["containers.server_ping_interval_s"],
                              on_requests=self.requests, on_bytes=self.bytes)

    def requests(self, now: float, n: int) -> None:
        live = self.fleet.in_service()
        if live.size == 0:
            return
        per, extra = divmod(n, live.size)
        for k, j in enumerate(live.tolist()):
            m = per + (1 if k < extra else 0)
            if m:
                self.fleet.run(j, now, m * self.cpu, "poll")

    def bytes(self, nbytes: float) -> None:
        self.meter.bytes += nbytes


class _Rollout:
    """One rolling deployment: new tasks up to ``maximum_percent``; each healthy new task
    deregisters an old one, whose connections close after draining; each old task that stops
    (or fails) lets another new one start, until all are replaced (scale-in waits until then).
    A newer deployment supersedes it, as in ECS: it launches no more tasks, and the newer one
    replaces whatever is in service."""

    def __init__(self, env, fleet, old: list, stopped: int, d, storm: dict):
        """``old``: the tasks in service to replace; ``stopped``: old tasks already stopped
        (those that were still starting), replaced too."""
        self.env, self.fleet, self.d, self.storm = env, fleet, d, storm
        self.queue = list(old)
        self.n_old = len(old) + stopped
        self.to_launch = self.n_old
        self.stopped = stopped
        self.active = True

    def begin(self, now: float) -> None:
        for r in self.fleet.rollouts:
            r.superseded(now)
        self.fleet.rollouts.append(self)
        self.fleet.deploying += 1
        batch = max(1, math.floor(self.n_old * (self.d.maximum_percent - 100) / 100))
        batch = min(batch, self.to_launch)
        self.to_launch -= batch
        self.fleet.launch(now, batch, self.healthy)

    def healthy(self, j: int) -> None:
        """A new task is in service: the next old task still in service leaves (those already
        gone, failed or draining for another reason, count as replaced)."""
        if not self.active:
            return
        fleet = self.fleet
        while self.queue:
            jo = self.queue.pop(0)
            if fleet.state[jo] == IN_SERVICE:
                fleet.deregister(self.env.now, jo, "deploy", self.storm, self.d.draining_s,
                                 self.old_stopped)
                return
            self.old_stopped(jo)

    def failed(self, j: int) -> None:
        """Task ``j`` failed: if it was still to be replaced, the service's own replacement
        (of the new version) takes its place."""
        if self.active and j in self.queue:
            self.queue.remove(j)
            self.to_launch = max(0, self.to_launch - 1)
            self.old_stopped(j, launch=False)

    def old_stopped(self, j: int, launch: bool = True) -> None:
        if not self.active:
            return
        self.stopped += 1
        if launch and self.to_launch > 0:
            self.to_launch -= 1
            self.fleet.launch(self.env.now, 1, self.healthy)
        if self.stopped >= self.n_old:
            self._end(self.env.now)

    def superseded(self, now: float) -> None:
        if self.active:
            self.storm["superseded_s"] = now
            self._end(now)

    def _end(self, now: float) -> None:
        self.active = False
        self.fleet.deploying -= 1
        self.fleet.rollouts.remove(self)
        self.storm["done_s"] = now


def _size_ok(options: str, gb: float) -> bool:
    """Whether ``gb`` is one of a Fargate vCPU size's memory ``options`` (``"0.5,1,2"`` or
    ``"4-16/1"``: low to high in steps)."""
    if "-" in options:
        span, step = options.split("/")
        lo, hi = (float(x) for x in span.split("-"))
        k = (gb - lo) / float(step)
        return lo <= gb <= hi and abs(k - round(k)) < 1e-9
    return any(abs(gb - float(x)) < 1e-9 for x in options.split(","))


def _mean(v) -> float:
    return float(v.mean) if hasattr(v, "mean") else float(v)


def initial_tasks(scn, p, channels) -> int:
    """Tasks at the start when the scenario does not say: enough for the clients connected at
    the start, and for the autoscaling target at the steady load (work per second from the
    publish rate and the realtime features' events, the channels' sizes and the catalog's CPU
    costs), within min..max."""
    cfg = scn.containers
    w = scn.workload
    n0 = w.clients * w.initially_connected
    cap = task_capacity(scn, p)
    need = math.ceil(n0 / cap) if cap else cfg.tasks.max
    a = cfg.autoscaling
    pub = w.publish
    rate = pub.total_rate_per_s if pub.total_rate_per_s is not None else pub.rate_per_client_per_s * n0
    # clients join channels in proportion to their sizes: a sender's channel holds itself and
    # (n0 - 1) * sum(p^2) others on average (a size is a channel's share, not its membership)
    p_ch = channels.sizes.astype(float) / float(channels.sizes.sum())
    size = 1.0 + max(n0 - 1.0, 0.0) * float((p_ch ** 2).sum())
    recipients = size - (0.0 if pub.echo_to_sender else 1.0)
    # presence and typing events travel the same path as the users' messages
    rate += expected_event_rate(scn, p, rate, n0, size)
    vcpu = cfg.task.vcpu
    for n in range(max(cfg.tasks.min, need), cfg.tasks.max + 1):
        if a.metric == "connections":
            if n0 / n <= a.target:
                return n
            continue
        per_msg_tasks = (n * (1.0 - (1.0 - 1.0 / n) ** size)
                         if cfg.backplane.subscribe == "per_channel" else n)
        work = (rate * (_mean(p["containers.cpu_per_publish_s"])
                        + per_msg_tasks * _mean(p["containers.cpu_per_backplane_message_s"])
                        + recipients * p["containers.cpu_per_delivery_s"])
                + n0 * p["containers.cpu_idle_per_connection"])
        if work / (n * vcpu) <= a.target:
            return n
    return cfg.tasks.max
