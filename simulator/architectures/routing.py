"""Which Region a client connects to, and what happens when a Region fails.

:class:`Router` is latency-based DNS routing with health checks (Route 53): a client's
connection attempt resolves to the nearest of the design's Regions (from its location's anchor)
that DNS answers. When a Region fails, Route 53 notices after ``interval x threshold`` seconds
of failed checks; each resolver keeps its cached answer up to the record's TTL, so clients move
to the next Region over the following TTL (uniformly, one draw per attempt). Until then their
attempts go to the failed Region and are refused, and they retry by their reconnect policy.
When the Region is back, DNS answers it again after as many passed checks (and the TTL), and
with ``failback: reconnect`` the application sends its clients home: their connections in other
Regions are closed and they reconnect (a second storm). When every Region is unhealthy, DNS
answers the nearest anyway (Route 53 fails open).

:class:`RegionalEdges` gives the lifecycle one edge over the per-Region edges: it sends each
attempt, close and resume to the edge of its Region, and refuses what reaches a failed Region.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simulator.workload.population import HALF_OPEN, OPEN

if TYPE_CHECKING:
    from simulator.architectures.connections import Connections


class Router:
    """Latency-based routing over the Regions ``names`` of a design, with outages.

    Parameters
    ----------
    env : simpy.Environment
    names : list of str
        The design's Regions (index = Region index).
    geo : Geography or None
        Where clients are (None: every client goes to Region 0).
    params : Params
        ``behaviour.route53_*`` and ``behaviour.dns_ttl_s``.
    u : callable
        Uniform draws (the resolver's cache age).
    recorder : Recorder
    failback : str
        ``"reconnect"`` or ``"stay"``.
    outages : bool
        Whether Region outages apply to this design (False for a service outside AWS Regions).
    """

    conns: Connections   # set by attach(), before the run

    def __init__(self, env, names, geo, params, u, recorder, failback: str = "reconnect",
                 outages: bool = True):
        self.env = env
        self.names = list(names)
        self.n = len(self.names)
        self.geo = geo
        self.u = u
        self.rec = recorder
        self.c = recorder.c
        self.failback = failback
        self.outages = outages
        self.detect_s = (float(params["behaviour.route53_health_check_interval_s"])
                         * float(params["behaviour.route53_failure_threshold"]))
        self.ttl_s = float(params["behaviour.dns_ttl_s"])
        self.up = [True] * self.n
        #: per Region, (DNS stops answering from, answers again from) for each outage, before
        #: the resolver's cache: an attempt adds its own cache age (0..TTL)
        self.windows: list[list[list[float]]] = [[] for _ in range(self.n)]
        self.failbacks: list[dict] = []
        #: called with the Region index when a Region fails (its parts stop their work)
        self.on_fail: list = []

    def attach(self, conns: Connections) -> None:
        self.conns = conns

    # -- routing -----------------------------------------------------------------------------------
    def order(self, loc: int) -> list[int]:
        return self.geo.order[loc] if self.geo is not None else [0]

    def initial(self, loc: int) -> int:
        """The Region of a client connected at t = 0 (every Region healthy)."""
        return int(self.order(loc)[0])

    def _answered(self, r: int, now: float, age: float) -> bool:
        """Whether DNS gives Region ``r`` to a resolver whose cached answer is ``age`` old."""
        for off, on in self.windows[r]:
            if off + age <= now < on + age:
                return False
        return True

    def pick(self, now: float, loc: int) -> int:
        """The Region a connection attempt from ``loc`` resolves to at ``now``."""
        order = self.order(loc)
        if not any(self.windows[r] for r in order):
            return int(order[0])
        age = self.u() * self.ttl_s
        for r in order:
            if self._answered(r, now, age):
                return int(r)
        return int(order[0])   # every Region unhealthy: Route 53 answers anyway

    def home_of(self, loc: int) -> int:
        return int(self.order(loc)[0])

    def _n_loc(self) -> int:
        return self.geo.n if self.geo is not None else 1

    # -- outages ------------------------------------------------------------------------------------
    def schedule(self, k: int, inc, storm: dict) -> None:
        """Region outage ``inc`` (the ``k``-th incident; ``storm`` its storm record)."""
        if not self.outages:
            return
        r = self.names.index(inc.region)
        end = inc.at_s + inc.duration_s
        self.windows[r].append([inc.at_s + self.detect_s, end + self.detect_s])
        env = self.env
        env.timeout(inc.at_s).callbacks.append(lambda ev: self._fail(r, storm))
        env.timeout(end).callbacks.append(lambda ev: self._recover(r))
        if self.failback == "reconnect" and self.n > 1:
            fb = dict(at_s=None, dropped=0, reconnected=0, gave_up=0, rejected=0,
                      last_reconnect_s=None, region=inc.region)
            self.failbacks.append(fb)
            t_home = end + self.detect_s + self.ttl_s   # every resolver answers it again
            env.timeout(t_home).callbacks.append(lambda ev: self._failback(r, fb))

    def _fail(self, r: int, storm: dict) -> None:
        """Region ``r`` fails: its connections drop (their clients reconnect by policy); its
        half-open connections are gone; their rows stay in the table (no ``$disconnect``)."""
        now = self.env.now
        self.up[r] = False
        for f in self.on_fail:
            f(r)
        conns = self.conns
        reg = conns.reg
        slots = reg.connected_slots()
        slots = slots[reg.channel[slots] % reg.n_reg == r]
        is_open = reg.state[slots] == OPEN
        n = int(is_open.sum())
        storm.update(at_s=now, dropped=n)
        self.rec.breaches.add(now, "region.outage", "region", self.names[r], max(n, 1))
        for i, op in zip(slots.tolist(), is_open.tolist()):
            if op:
                conns.drop(now, i, "region_outage", storm)
            elif reg.state[i] == HALF_OPEN:
                self.c["connections.closed.region_outage_half_open"] += 1
                conns.server_close(now, i)

    def _recover(self, r: int) -> None:
        self.up[r] = True

    def _failback(self, r: int, fb: dict) -> None:
        """The application closes the connections of Region ``r``'s clients served elsewhere:
        they reconnect home (their DNS answers ``r`` again)."""
        now = self.env.now
        conns = self.conns
        reg = conns.reg
        ids = reg.open_ids[:reg.n_open]
        away = (reg.channel[ids] % reg.n_reg != r)
        home = np.array([self.home_of(k) == r for k in range(max(1, self._n_loc()))])
        sel = ids[away & home[reg.loc[ids]]]
        fb.update(at_s=now, dropped=int(sel.size))
        for i in sel.tolist():
            conns.drop(now, int(i), "failback", fb)


class RegionalEdges:
    """One :class:`~.connections.Edge` over the edges of a design's Regions (index = Region)."""

    def __init__(self, edges: list, router: Router, conns):
        self.edges = edges
        self.router = router
        self.conns = conns
        self.reg = conns.reg
        e = edges[0]
        self.component = e.component
        self.idle_timeout = e.idle_timeout
        self.max_duration = e.max_duration
        self.half_detect = e.half_detect
        self.reset_idle = e.reset_idle
        self.n = len(edges)

    def _r(self, i: int) -> int:
        return int(self.reg.channel[i]) % self.n if self.n > 1 else 0

    def ingress(self) -> float:
        return self.edges[0].ingress()

    def arrive(self, ev) -> None:
        a = ev._value
        r = a.region
        if not self.router.up[r]:
            self.conns.reject(self.conns.env.now, a, "region_down", "region.unavailable",
                              f"{self.component}:$connect")
            return
        self.edges[r].arrive(ev)

    def row_written(self, i: int, connected_at: float) -> None:
        self.edges[self._r(i)].row_written(i, connected_at)

    def closed(self, now: float, i: int) -> None:
        r = self._r(i)
        if self.router.up[r]:
            self.edges[r].closed(now, i)
            return
        # the Region is down: nothing runs there; the row stays (a zombie) if it has one
        self.edges[r].lost(now, i)

    def resume(self, now: float, a) -> None:
        self.edges[a.region].resume(now, a)

    def on_check(self, now: float) -> None:
        for e in self.edges:
            e.on_check(now)

    def start(self) -> None:
        for e in self.edges:
            e.start()
