"""What a delivery's latency is made of: its stages, recorded per latency bucket so that the
composition of the deliveries *at* the median or *at* the 99th percentile can be read back.

Every delivery's latency (publish -> receipt) is split into :data:`STAGES`, which add up to it
exactly:

* ``network``: the client legs (sender -> Region, Region -> recipient);
* ``api_gateway``: API Gateway's processing of the published frame;
* ``lambda_cold_start``, ``lambda_handler``: the publishing function's init (when cold) and
  its own work before it reads the subscribers;
* ``dynamodb``: the subscriber query (pages, throttled retries);
* ``tier_or_cross_region``: from the subscriber list to the fan-out that made the post (a fan-out
  tier's hop and worker start, another Region's hop, function and query);
* ``post_slot_wait``: waiting for one of the function's ``posts_in_flight`` sockets;
* ``throttle_wait``: in a fan-out the account throttle slows, the time from its start to the
  post (429s, backoff, and the slots together);
* ``post_call``: the PostToConnection call itself;
* ``service``: a pub/sub service's own delivery (designs with native broadcast);
* ``server_tasks``: WebSocket server tasks' CPU, queueing included (the sender's task reading
  the message, the recipient's task writing it: the ``containers`` design);
* ``backplane``: the pub/sub backplane between server tasks (both legs and its queue);
* ``poll_wait``: a client without WebSockets waiting for its next poll (``features.fallback``).

The sums of each stage, weighted like the latency histogram, are kept per bucket of the total
latency (the histogram's buckets): the stage shares at a quantile are those of the deliveries in
the buckets around it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

STAGES = ("network", "api_gateway", "lambda_cold_start", "lambda_handler", "dynamodb",
          "tier_or_cross_region", "post_slot_wait", "throttle_wait", "post_call", "service",
          "server_tasks", "backplane", "poll_wait")
_INDEX = {s: k for k, s in enumerate(STAGES)}


class PerRecord(NamedTuple):
    """A stage's seconds, one value per record of ``lens`` consecutive deliveries (a fan-out's
    control path): expanded to one per delivery only when added, one stage at a time."""

    values: np.ndarray
    lens: np.ndarray

    def expand(self) -> np.ndarray:
        return np.repeat(self.values, self.lens)


def per_delivery(v):
    """``v`` (an array, a scalar or a :class:`PerRecord`) as an array or scalar."""
    return v.expand() if isinstance(v, PerRecord) else v


class StageHistogram:
    """Per-stage latency sums by bucket of a :class:`LogHistogram`'s binning.

    Parameters
    ----------
    hist : LogHistogram
        The delivery-latency histogram whose buckets are used.
    """

    def __init__(self, hist):
        self.inv_lg = hist.inv_lg
        self.off = hist.off
        self.nb = hist.nb
        self.sums = np.zeros((len(STAGES), self.nb))
        self.weight = np.zeros(self.nb)

    def add(self, total: np.ndarray, w, parts: dict, binned: tuple | None = None) -> None:
        """Deliveries of latency ``total`` (weights ``w``), made of ``parts``: stage name ->
        an array (or scalar, or :class:`PerRecord`) of that stage's seconds per delivery. ``binned``: what
        :meth:`LogHistogram.add` returned for the same values and weights (saves binning them
        again)."""
        total = np.asarray(total, dtype=float)
        if total.size == 0:
            return
        wa = np.broadcast_to(np.asarray(w, dtype=float), total.shape)
        if binned is not None:
            idx, inc = binned
            self.weight += inc
        else:
            idx = np.ceil(np.log(np.maximum(total, 1e-300)) * self.inv_lg).astype(np.int64) \
                - self.off
            np.clip(idx, 0, self.nb - 1, out=idx)
            self.weight += np.bincount(idx, weights=wa, minlength=self.nb)
        for name, v in parts.items():
            v = np.broadcast_to(np.asarray(per_delivery(v), dtype=float), total.shape)
            self.sums[_INDEX[name]] += np.bincount(idx, weights=v * wa, minlength=self.nb)

    def merge(self, other: StageHistogram) -> None:
        self.sums += other.sums
        self.weight += other.weight

    def shares_at(self, q: float, width: int = 4) -> dict:
        """Stage -> share of the latency of the deliveries around quantile ``q`` (the
        ``width`` buckets either side of the one holding it: about ±2% of its value)."""
        if self.weight.sum() <= 0:
            return {}
        cum = np.cumsum(self.weight)
        i = min(int(np.searchsorted(cum, q * cum[-1], side="left")), self.nb - 1)
        lo, hi = max(0, i - width), min(self.nb, i + width + 1)
        s = self.sums[:, lo:hi].sum(axis=1)
        tot = s.sum()
        if tot <= 0:
            return {}
        return {name: float(s[k] / tot) for k, name in enumerate(STAGES) if s[k] > 0}
