"""Designs of experiments: the points a sweep runs.

A design is a list of points (each a dict of dotted path -> value) plus a description of how
they were made, stored with a sweep's results so that a resumed sweep can tell whether it is
still the same experiment.

* :func:`grid`: the cross product of factors (lists), scalars fixed (what ``sim.sweep(scn,
  grid)`` has always done).
* :func:`lhs`: a Latin hypercube over ranges: ``n`` points; each parameter's range is cut into
  ``n`` equal strata and every stratum holds exactly one point, so each parameter is covered
  evenly however many there are (McKay, Beckman and Conover 1979).
* :func:`random_design`: ``n`` points drawn independently and uniformly over the ranges.

A range is ``(low, high)``. Both bounds integers -> integer values (rounded to the nearest,
so ``(1000, 50000)`` gives whole clients); otherwise floats. Keys listed in ``log`` are spread
evenly in log space (for parameters spanning decades, such as client counts). The draws come
from ``numpy.random.default_rng(seed)``: the same seed gives the same points.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulator.errors import ScenarioError


@dataclass(frozen=True)
class Design:
    """The points of an experiment and how they were made.

    Attributes
    ----------
    points : list of dict
        One dict of dotted path -> value per point, in run order.
    spec : dict
        JSON-able description (``kind`` and its arguments), stored in a sweep's manifest.
    """

    points: list[dict[str, Any]]
    spec: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.points)

    def keys(self) -> list[str]:
        """Every dotted path some point sets, in first-seen order."""
        return list(dict.fromkeys(k for p in self.points for k in p))


def _is_factor(v: Any) -> bool:
    return isinstance(v, (list, tuple, range, np.ndarray))


def expand(values: dict[str, Any]) -> list[dict[str, Any]]:
    """All points of a grid: the cross product of its factors, its scalars fixed."""
    if not isinstance(values, dict):
        raise ScenarioError("grid", type(values).__name__,
                            "must be a dict of dotted path -> values")
    factors = {}
    fixed = {}
    for k, v in values.items():
        if _is_factor(v):
            vals = list(v)
            if not vals:
                raise ScenarioError(f"grid[{k!r}]", v, "an empty factor: give at least one value")
            factors[k] = vals
        else:
            fixed[k] = v
    keys = list(factors)
    return [{**fixed, **dict(zip(keys, combo))}
            for combo in itertools.product(*(factors[k] for k in keys))] or [dict(fixed)]


def grid(values: dict[str, Any]) -> Design:
    """A full factorial design: every combination of the factors (lists), scalars fixed.

    Parameters
    ----------
    values : dict
        Dotted path -> value (fixed) or list of values (a factor), e.g.
        ``{"workload.clients": [1000, 10000], "duration_s": 600}``.
    """
    points = expand(values)
    return Design(points, {"kind": "grid", "grid": {k: list(v) if _is_factor(v) else v
                                                    for k, v in values.items()}})


def _ranges(ranges: Mapping[str, Any], log: Iterable[str]) -> tuple[list, list[bool], set]:
    if not isinstance(ranges, Mapping) or not ranges:
        raise ScenarioError("ranges", ranges, "must be a non-empty dict of dotted path -> "
                                              "(low, high), e.g. {'workload.clients': (1000, 50000)}")
    log = set(log)
    for k in log - set(ranges):
        raise ScenarioError("log", k, f"is not one of the ranges' keys {sorted(ranges)}")
    out, integer = [], []
    for k, r in ranges.items():
        if not isinstance(k, str) or not k:
            raise ScenarioError("ranges", k, "keys must be dotted paths like 'workload.clients'")
        if not isinstance(r, (tuple, list)) or len(r) != 2 or not all(
                isinstance(b, (int, float)) and not isinstance(b, bool) and math.isfinite(b)
                for b in r):
            raise ScenarioError(f"ranges[{k!r}]", r, "must be (low, high), two finite numbers")
        lo, hi = r
        if not lo < hi:
            raise ScenarioError(f"ranges[{k!r}]", r, "low must be below high")
        if k in log and lo <= 0:
            raise ScenarioError(f"ranges[{k!r}]", r, "a log range needs low > 0")
        out.append((k, lo, hi))
        integer.append(all(isinstance(b, (int, np.integer)) for b in r))
    return out, integer, log


def _check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ScenarioError("n", n, "must be an integer >= 1 (the number of points)")
    return int(n)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ScenarioError("seed", seed, "must be an integer >= 0")
    return int(seed)


def _scale(unit: np.ndarray, ranges: list, integer: list[bool], log: set) -> list[dict]:
    """Points from unit-cube coordinates (rows = points, columns = ranges)."""
    points: list[dict[str, Any]] = [{} for _ in range(unit.shape[0])]
    for j, ((k, lo, hi), is_int) in enumerate(zip(ranges, integer)):
        u = unit[:, j]
        if k in log:
            values = np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))
        else:
            values = lo + u * (hi - lo)
        for p, v in zip(points, values):
            p[k] = int(min(max(round(float(v)), lo), hi)) if is_int else float(v)
    return points


def _spec(kind: str, ranges: list, n: int, seed: int, log: set) -> dict:
    return {"kind": kind, "ranges": {k: [lo, hi] for k, lo, hi in ranges}, "n": n,
            "seed": seed, "log": sorted(log)}


def lhs(ranges: Mapping[str, tuple[float, float]], n: int, seed: int = 1,
        log: Iterable[str] = ()) -> Design:
    """A Latin hypercube of ``n`` points over ``ranges``.

    Parameters
    ----------
    ranges : dict
        Dotted path -> ``(low, high)``; integer bounds give integer values.
    n : int
        Number of points.
    seed : int
        Seed of the design's draws (not of the runs: those come from the scenario's seed).
    log : iterable of str
        Keys spread evenly in log space rather than linearly.

    Notes
    -----
    Each column is ``(perm + U) / n`` with ``perm`` a random permutation of ``0..n-1`` and
    ``U ~ U(0, 1)``: one point in each of the ``n`` strata of every parameter (McKay, Beckman
    and Conover, Technometrics 21(2), 1979).
    """
    rs, integer, log_keys = _ranges(ranges, log)
    n, seed = _check_n(n), _check_seed(seed)
    rng = np.random.default_rng(seed)
    strata = np.column_stack([rng.permutation(n) for _ in rs])
    unit = (strata + rng.random((n, len(rs)))) / n
    return Design(_scale(unit, rs, integer, log_keys), _spec("lhs", rs, n, seed, log_keys))


def random_design(ranges: Mapping[str, tuple[float, float]], n: int, seed: int = 1,
                  log: Iterable[str] = ()) -> Design:
    """``n`` points drawn independently and uniformly over ``ranges`` (see :func:`lhs` for
    the arguments)."""
    rs, integer, log_keys = _ranges(ranges, log)
    n, seed = _check_n(n), _check_seed(seed)
    unit = np.random.default_rng(seed).random((n, len(rs)))
    return Design(_scale(unit, rs, integer, log_keys), _spec("random", rs, n, seed, log_keys))


def combine(fixed: dict[str, Any] | None, design: Design | None) -> Design:
    """The design a sweep runs: a grid's points crossed with a sampled design's points."""
    if design is None:
        return grid(fixed if fixed is not None else {})
    if not isinstance(design, Design):
        raise ScenarioError("design", type(design).__name__,
                            "must be a Design (simulator.lhs, simulator.random_design or "
                            "simulator.designs.grid)")
    if not fixed:
        return design
    base = grid(fixed)
    clash = set(base.keys()) & set(design.keys())
    if clash:
        raise ScenarioError("grid", sorted(clash), "these keys are also in the design: "
                                                   "set each key in one place")
    return Design([{**g, **d} for g in base.points for d in design.points],
                  {"kind": "product", "grid": base.spec, "design": design.spec})
