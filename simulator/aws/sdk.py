"""AWS SDK retry behaviour (standard mode of the SDK for JavaScript v3)."""

from __future__ import annotations


class RetryPolicy:
    """Retries with capped exponential backoff and full jitter.

    Parameters
    ----------
    max_attempts : int
        Attempts per call, the first included.
    base_s : float
        Backoff base for throttling errors.
    max_delay_s : float
        Cap of one delay.
    quota, cost, refund : float
        Retry quota per client instance: a retry needs ``cost`` tokens; a call that
        succeeds at once returns ``refund`` (capped at ``quota``).

    Notes
    -----
    Delay before retry ``k`` (k = 0 for the first retry): ``U(0,1) * min(max_delay, base * 2**k)``
    (smithy-typescript ``defaultRetryBackoffStrategy``: ``min(20000, random() * 2**k * base)``).
    """

    def __init__(self, max_attempts: int, base_s: float, max_delay_s: float,
                 quota: float, cost: float, refund: float):
        self.max_attempts = int(max_attempts)
        self.base = float(base_s)
        self.max_delay = float(max_delay_s)
        self.quota = float(quota)
        self.cost = float(cost)
        self.refund = float(refund)

    @classmethod
    def from_params(cls, p) -> RetryPolicy:
        return cls(p["sdk.max_attempts"], p["sdk.throttling_base_delay_s"], p["sdk.max_delay_s"],
                   p["sdk.retry_quota_tokens"], p["sdk.retry_cost_throttling"],
                   p["sdk.retry_refund_success"])

    def delay(self, retry_index, u):
        """Backoff before retry ``retry_index`` (0-based) given uniforms ``u`` (scalar or array)."""
        import numpy as np

        cap = np.minimum(self.max_delay, self.base * np.power(2.0, retry_index))
        return u * cap
