"""Counters, time-weighted levels, fixed-step time series and the breach log of one run."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable

import pandas as pd


class Level:
    """Time-weighted level (open connections, zombie rows): exact integral and peak.

    Notes
    -----
    ``area`` is the integral of the level over time (level x seconds); connection minutes
    are ``area / 60`` of the connected level.
    """

    __slots__ = ("value", "last", "area", "peak")

    def __init__(self, value: float = 0.0, t0: float = 0.0):
        self.value = value
        self.last = t0
        self.area = 0.0
        self.peak = value

    def add(self, now: float, delta: float) -> None:
        self.area += self.value * (now - self.last)
        self.last = now
        self.value += delta
        if self.value > self.peak:
            self.peak = self.value

    def close(self, now: float) -> None:
        self.area += self.value * (now - self.last)
        self.last = now


# limits that close a connection rather than refuse a request
CLOSING_LIMITS = ("api_gateway.max_connection_duration_s", "api_gateway.idle_timeout_s",
                  "api_gateway.max_payload_bytes", "api_gateway.max_frame_bytes",
                  "incident.mass_drop")


class BreachLog:
    """Quota and limit breaches aggregated per second: one row per (second, quota,
    component, region) with the number of requests that hit the limit; ``effect`` says
    whether requests were refused (throttles, quotas) or connections closed (durations,
    sizes)."""

    def __init__(self):
        self._rows: dict[tuple[int, str, str, str], float] = defaultdict(float)

    def add(self, now: float, quota: str, component: str, region: str, count: float = 1) -> None:
        self._rows[(int(now), quota, component, region)] += count

    @property
    def total(self) -> float:
        return float(sum(self._rows.values()))

    def frame(self) -> pd.DataFrame:
        cols = ["time_s", "quota", "component", "region", "count", "effect"]
        if not self._rows:
            return pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                                 zip(cols, ["float", "str", "str", "str", "float", "str"])})
        rows = [(float(t), q, c, r, n, "closed" if q in CLOSING_LIMITS else "refused")
                for (t, q, c, r), n in sorted(self._rows.items())]
        return pd.DataFrame(rows, columns=cols)


class Recorder:
    """Counters, breach log and time-series probes for one run.

    Counters are a flat dict of floats keyed by dotted names (``lambda.default.throttles``).
    Time series: ``probe(name, fn)`` registers a function sampled every ``step_s``; counters
    can be sampled as per-second rates with ``rate_probe``.
    """

    def __init__(self, step_s: float = 1.0):
        self.c: dict[str, float] = defaultdict(float)
        self.breaches = BreachLog()
        self.step_s = step_s
        self._probes: list[tuple[str, Callable[[float], float]]] = []
        self._rate_probes: list[tuple[str, str]] = []
        self._prev: dict[str, float] = {}
        self._rows: list[list[float]] = []
        self._binned: dict[str, dict[int, float]] = {}

    def binned(self, name: str) -> None:
        """A per-second series filled by :meth:`bin_add` (events counted in the second they
        happen, even when the code learns of them later)."""
        self._binned.setdefault(name, {})

    def bin_add(self, name: str, t0: float, t1: float, n: float) -> None:
        """``n`` events spread evenly over ``[t0, t1]`` (all at ``t0`` when ``t1 <= t0``)."""
        bins = self._binned.get(name)
        if bins is None or n == 0:
            return
        step = self.step_s
        k0 = int(t0 // step)
        if t1 <= t0 or int(t1 // step) == k0:
            bins[k0] = bins.get(k0, 0.0) + n
            return
        span = t1 - t0
        k1 = int(t1 // step)
        for k in range(k0, k1 + 1):
            lo, hi = max(t0, k * step), min(t1, (k + 1) * step)
            if hi > lo:
                bins[k] = bins.get(k, 0.0) + n * (hi - lo) / span

    def probe(self, name: str, fn: Callable[[float], float]) -> None:
        self._probes.append((name, fn))

    def rate_probe(self, name: str, counter: str) -> None:
        """Time series of a counter's increase per second."""
        self._rate_probes.append((name, counter))
        self._prev[counter] = 0.0

    def sample(self, now: float) -> None:
        row = [now] + [fn(now) for _, fn in self._probes]
        for _, counter in self._rate_probes:
            v = self.c.get(counter, 0.0)
            row.append((v - self._prev[counter]) / self.step_s)
            self._prev[counter] = v
        self._rows.append(row)

    def timeseries(self) -> pd.DataFrame:
        cols = ["time_s"] + [n for n, _ in self._probes] + [n for n, _ in self._rate_probes]
        df = pd.DataFrame(self._rows, columns=cols)
        step = self.step_s
        for name, bins in self._binned.items():
            # the sample at t covers (t - step, t]: bin k holds [k step, (k + 1) step)
            k = (df["time_s"] / step).round().astype(int) - 1
            df[name] = [bins.get(int(x), 0.0) / step for x in k]
        return df.set_index("time_s")


def finite_or_none(x: float) -> float | None:
    """JSON-friendly: nan/inf become None."""
    return None if x is None or not math.isfinite(x) else float(x)


class RegionCounters(dict):
    """The counters of one Region of a design over several Regions: every change is applied
    to the Region's own value and to the run's total (``total``), so the run's counters stay
    the sums over Regions and each Region's usage can be priced with its own prices."""

    __slots__ = ("total",)

    def __init__(self, total: dict):
        super().__init__()
        self.total = total

    def __missing__(self, key: str) -> float:
        return 0.0

    def __setitem__(self, key: str, value: float) -> None:
        self.total[key] += value - dict.get(self, key, 0.0)
        dict.__setitem__(self, key, value)


class RegionRecorder:
    """A :class:`Recorder` seen by the components of one Region: its own counters
    (:class:`RegionCounters`), the run's breach log and probes."""

    def __init__(self, rec: Recorder, region: str):
        self._rec = rec
        self.region = region
        self.c = RegionCounters(rec.c)
        self.breaches = rec.breaches

    def __getattr__(self, name):
        return getattr(self._rec, name)
