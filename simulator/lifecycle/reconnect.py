"""Client reconnect policies (a strategy chosen in the scenario: ``workload.reconnect``)."""

from __future__ import annotations


class Reconnect:
    """When a client tries again after a drop or a refused attempt.

    Parameters
    ----------
    cfg : ReconnectPolicy
        ``policy`` none | immediate | backoff, ``base_s``, ``cap_s``, ``jitter``,
        ``max_attempts``.

    Notes
    -----
    Delay before attempt ``k`` after a drop (k = 0 for the first): ``immediate`` 0;
    ``backoff`` with ``c = min(cap_s, base_s * 2**k)``: full jitter ``U(0,1) c``, equal jitter
    ``c/2 + U(0,1) c/2``, none ``c`` (the AWS Architecture Blog's "Exponential Backoff And
    Jitter" variants). ``None`` means the client gives up.
    """

    def __init__(self, cfg):
        self.cfg = cfg
        self.enabled = cfg.policy != "none"

    def delay(self, k: int, u: float) -> float | None:
        c = self.cfg
        if c.policy == "none" or (c.max_attempts is not None and k >= c.max_attempts):
            return None
        if c.policy == "immediate":
            return 0.0
        cap = min(c.cap_s, c.base_s * 2.0 ** min(k, 60))  # not a catalog value (overflow guard)
        if c.jitter == "full":
            return u * cap
        if c.jitter == "equal":
            return cap / 2 + u * cap / 2
        return cap
