"""Connection-arrival profiles as rate functions, sampled per window as a
non-homogeneous Poisson process (thinning), in numpy batches."""

from __future__ import annotations

import numpy as np

from simulator.scenario import RampArrivals, SpikeArrivals, SteadyArrivals


class ArrivalProcess:
    """Rate of new connection attempts (per second) over time.

    Parameters
    ----------
    profile : SteadyArrivals | RampArrivals | SpikeArrivals
    clients : int
        Target connected population.
    initial : int
        Connections open at t = 0.
    mean_session_s : float
        Mean session length; replacements arrive at ``population / mean_session_s``.

    Notes
    -----
    steady: ``lambda(t) = clients / S``.
    ramp: the target population grows linearly from ``initial`` to ``clients`` over
    ``[start, start + ramp_s]``: ``lambda(t) = growth + target(t) / S``.
    spike: ``lambda(t) = clients / S + extra / duration`` inside the spike window.
    Sampling uses thinning (Lewis and Shedler 1979) against the window's maximum rate.
    """

    def __init__(self, profile, clients: int, initial: int, mean_session_s: float):
        self.profile = profile
        self.clients = clients
        self.initial = initial
        self.S = mean_session_s

    def rate(self, t: np.ndarray | float) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        p = self.profile
        if isinstance(p, SteadyArrivals):
            return np.full(t.shape, self.clients / self.S)
        if isinstance(p, RampArrivals):
            frac = np.clip((t - p.start_s) / p.ramp_s, 0.0, 1.0)
            target = self.initial + (self.clients - self.initial) * frac
            inside = (t >= p.start_s) & (t < p.start_s + p.ramp_s)
            return target / self.S + inside * max(self.clients - self.initial, 0) / p.ramp_s
        if isinstance(p, SpikeArrivals):
            inside = (t >= p.start_s) & (t < p.start_s + p.duration_s)
            return self.clients / self.S + inside * p.extra_clients / p.duration_s
        raise TypeError(f"unknown arrival profile {p!r}")

    def max_rate(self, t0: float, t1: float) -> float:
        """An upper bound of the rate on [t0, t1) (the rate is piecewise linear)."""
        pts = [t0, t1 - 1e-12]
        p = self.profile
        for edge in (getattr(p, "start_s", None),):
            if edge is not None and t0 <= edge < t1:
                pts.append(edge)
        return float(np.max(self.rate(np.array(pts))))

    def expected(self, t0: float, t1: float, n: int = 2001) -> float:
        """Expected arrivals on [t0, t1) (numerical integral; for tests and reports)."""
        ts = np.linspace(t0, t1, n)
        r = self.rate(ts[:-1] + (ts[1] - ts[0]) / 2)
        return float(r.sum() * (ts[1] - ts[0]))

    def sample(self, rng: np.random.Generator, t0: float, t1: float) -> np.ndarray:
        """Sorted arrival times on [t0, t1)."""
        lam = self.max_rate(t0, t1)
        if lam <= 0:
            return np.empty(0)
        n = rng.poisson(lam * (t1 - t0))
        ts = np.sort(rng.uniform(t0, t1, n))
        if isinstance(self.profile, SteadyArrivals):
            return ts
        keep = rng.random(n) * lam < self.rate(ts)
        return ts[keep]
