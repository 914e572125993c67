"""Where the users are, and how far each is from each Region of a design.

A user at location ``L`` reaches Region ``R`` in ``last_mile/2 + RTT(anchor(L), R)/2``: the
round trip to the location's nearest Region (its *anchor*, a sourced assumption per location
in ``data/latency/geography.yaml``) plus the Region-to-Region round trip of the CloudPing
matrix. Latency-based routing sends a user to the Region of the design nearest to its anchor.

Channels are *local* (every member from one location, drawn by the shares) or *global*
(each member's location drawn by the shares): ``global_channels`` is the share of global ones.
"""

from __future__ import annotations

import numpy as np


class Geography:
    """The user locations of one run and their latency to the design's Regions.

    Parameters
    ----------
    spec : Geography (scenario)
        ``workload.geography``.
    params : Params
        Resolved values (``geography.<location>``).
    rtt_ms : dict
        The catalog's Region-to-Region round trips (ms).
    regions : list of str
        The design's Regions, in their order (index = Region index).
    streams : Streams
    n_channels : int
    edge_everywhere : bool
        A service with an edge near every user (a managed pub/sub service): a user reaches it
        in half its last mile, and a message crosses from the sender's anchor to each
        recipient's (``transit``).
    """

    def __init__(self, spec, params, rtt_ms: dict, regions: list[str], streams, n_channels: int,
                 edge_everywhere: bool = False):
        from simulator.scenario import build_dist

        self.names = list(spec.locations)
        self.n = len(self.names)
        share = np.array([spec.locations[k] for k in self.names], dtype=float)
        self.share = share / share.sum()
        self._cum = np.cumsum(self.share)
        self.regions = list(regions)
        self.anchor = [params[f"geography.{k}"]["anchor"] for k in self.names]
        last_mile = []
        for k in self.names:
            d = spec.rtt_s.get(k)
            last_mile.append(build_dist(d) if d is not None else
                             _dist(params.raw(f"geography.{k}")["rtt_s"]))
        self.last_mile = last_mile
        # one way, location -> Region: half the last mile (a draw) + half the anchor's RTT
        self.offset = np.array([[_rtt(rtt_ms, a, r) / 1000.0 / 2 for r in self.regions]
                                for a in self.anchor])
        #: one way between two locations' anchors (a message crossing a global edge network)
        self.transit = np.array([[_rtt(rtt_ms, a, b) / 1000.0 / 2 for b in self.anchor]
                                 for a in self.anchor])
        if edge_everywhere:
            self.offset[:] = 0.0
        #: round trip between the design's Regions, seconds
        self.region_rtt = np.array([[_rtt(rtt_ms, a, b) / 1000.0 for b in self.regions]
                                    for a in self.regions])
        #: Regions of the design by distance from each location (nearest first)
        self.order = [list(np.argsort(self.offset[k], kind="stable")) for k in range(self.n)]
        self.half = [_half(d) for d in last_mile]
        self._draw = [streams.buffered(f"network.{k}", self.half[j])
                      for j, k in enumerate(self.names)]
        # channels: local ones belong to a location
        rng = streams["geography"]
        self.is_global = rng.random(n_channels) < spec.global_channels
        self.home = self.pick(rng.random(n_channels))
        self._rng = streams["geography.clients"]

    def pick(self, u: np.ndarray) -> np.ndarray:
        """Locations for uniforms ``u`` (by the shares)."""
        return np.minimum(np.searchsorted(self._cum, u, side="right"), self.n - 1)

    def locate(self, channels: np.ndarray) -> np.ndarray:
        """Locations of new clients of ``channels``: the channel's own for a local channel, a
        draw by the shares for a global one."""
        ch = np.asarray(channels, dtype=np.int64)
        loc = self.home[ch].copy()
        g = self.is_global[ch]
        if g.any():
            loc[g] = self.pick(self._rng.random(int(g.sum())))
        return loc

    def oneway(self, loc: int, region: int) -> float:
        """One draw of the one-way latency from a user at ``loc`` to Region ``region``."""
        return self._draw[loc]() + self.offset[loc, region]

    def downlink(self, rng, loc: np.ndarray, region: int) -> np.ndarray:
        """One-way Region -> user latencies for users at locations ``loc`` (vectorized)."""
        out = np.empty(loc.size)
        for k in np.unique(loc).tolist():
            sel = loc == k
            out[sel] = self.half[k].sample(rng, int(sel.sum()))
        return out + self.offset[loc, region]



def _rtt(rtt_ms: dict, a: str, b: str) -> float:
    if a == b:
        return 0.0
    v = rtt_ms.get(a, {}).get(b)
    if v is None:
        v = rtt_ms.get(b, {}).get(a)
    if v is None:
        raise KeyError(f"no round-trip time between {a} and {b} in the latency matrix")
    return float(v)


def _dist(raw: dict):
    from simulator.scenario import _DIST_ADAPTER, build_dist

    return build_dist(_DIST_ADAPTER.validate_python(raw))


def _half(dist):
    from simulator.architectures.base import half

    return half(dist)


def geography_frame(scn, regions: list[str] | None = None):
    """Where the users of ``scn`` are and how far each location is from each Region.

    Parameters
    ----------
    scn : Scenario
        With a ``workload.geography``.
    regions : list of str, optional
        Regions to measure against (default: the ``multi_region`` Regions, else ``region``).

    Returns
    -------
    DataFrame
        One row per location: ``share``, ``anchor`` (its nearest AWS Region),
        ``last_mile_p50_ms`` and ``last_mile_p90_ms`` (round trip to the anchor),
        ``confidence``, and ``one_way_p50_ms.<region>`` (half the last mile's median plus half
        the anchor's round trip to that Region), ``nearest`` (the Region latency routing picks).
    """
    import pandas as pd

    from simulator.errors import ScenarioError
    from simulator.rng import Streams
    from simulator.scenario import resolve

    geo = scn.workload.geography
    if geo is None:
        raise ScenarioError("workload.geography", None, "the scenario says nothing about where "
                            "its users are")
    params = resolve(scn)
    regions = list(regions or scn.multi_region.regions or [scn.region])
    g = Geography(geo, params, params.catalog.inter_region_rtt_ms, regions, Streams(0), 1)
    rows = []
    for k, name in enumerate(g.names):
        d = g.last_mile[k]
        row = {"location": name, "share": float(g.share[k]), "anchor": g.anchor[k],
               "last_mile_p50_ms": 1000.0 * _quantile(d, 0.5),
               "last_mile_p90_ms": 1000.0 * _quantile(d, 0.9),   # not a catalog value
               "confidence": params.catalog.facts[f"geography.{name}"].confidence}
        for j, r in enumerate(regions):
            row[f"one_way_p50_ms.{r}"] = 1000.0 * (_quantile(d, 0.5) / 2 + g.offset[k, j])
        row["nearest"] = regions[g.order[k][0]]
        rows.append(row)
    return pd.DataFrame(rows).set_index("location")


def _quantile(dist, q: float) -> float:
    """A quantile of a last-mile distribution (exact for log-normal and fixed ones)."""
    from statistics import NormalDist

    from simulator.primitives.distributions import Fixed, LogNormal

    if isinstance(dist, LogNormal):
        return dist.median * float(np.exp(dist.sigma * NormalDist().inv_cdf(q)))
    if isinstance(dist, Fixed):
        return dist.value
    x = np.sort(dist.sample(np.random.default_rng(0), 20_000))   # not a catalog value
    return float(x[int(q * (x.size - 1))])


def regional_quotas(scn, keys: list[str], regions: list[str] | None = None):
    """The value of each quota ``keys`` in each Region (presets and scenario settings
    applied), and their sum: the headroom several Regions give.

    Returns
    -------
    DataFrame
        Rows: quota keys; columns: the Regions, then ``all Regions``.
    """
    import pandas as pd

    from simulator.scenario import resolve

    regions = list(regions or scn.multi_region.regions or [scn.region])
    data = {r: [resolve(scn.with_overrides({"region": r}))[k] for k in keys] for r in regions}
    df = pd.DataFrame(data, index=keys)
    df["all Regions"] = df.sum(axis=1)
    return df
