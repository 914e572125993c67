"""Heartbeat strategies (``workload.heartbeat``): what keeps connections alive and how dead
ones are noticed.

* ``none``: nothing. A client that vanishes is noticed by API Gateway only at the idle
  timeout after its last traffic, or (when messages keep being sent to it) when the TCP
  connection gives up; an idle client is cut after 10 minutes.
* ``ws_ping``: the client sends WebSocket ping frames every ``interval_s``. They keep the
  connection from idling if pings reset the idle timer (a catalog assumption); whether they
  are billed or take throttle tokens are catalog assumptions too (default: no; when they do,
  pings are counted per window from the connected population). The client notices a dead
  connection ``interval_s + timeout_s`` after its last pong at worst, or sooner by its own
  means (``blips.client_detection_s``).
* ``app``: the client sends an application keep-alive message every ``interval_s``: a billed
  message and a throttle token each; with ``route: lambda`` a Lambda records ``lastSeen`` on
  the row (an UpdateItem), so a sweep (``app.cleanup.sweep``) can delete the rows and close
  the connections of clients silent for ``interval_s + timeout_s``.
"""

from __future__ import annotations

import numpy as np


class Heartbeat:
    kind = "none"
    interval = np.inf
    timeout = 0.0
    server_detection = False

    def __init__(self, cfg, params):
        self.cfg = cfg

    def client_detection(self, u: float, fallback: float) -> float:
        """Seconds until a client notices its connection died (``u`` uniform in [0, 1))."""
        return fallback

    def last_activity(self, connected_at: np.ndarray, until: np.ndarray) -> np.ndarray | None:
        """Time of the last heartbeat that reset the idle timer before ``until`` (None if
        heartbeats do not reset it)."""
        return None


class NoHeartbeat(Heartbeat):
    pass


class _Periodic(Heartbeat):
    """A heartbeat every ``interval_s``; the client gives up ``timeout_s`` after a missed one."""

    def __init__(self, cfg, params):
        super().__init__(cfg, params)
        self.interval = cfg.interval_s
        self.timeout = cfg.timeout_s

    def client_detection(self, u: float, fallback: float) -> float:
        # the missing answer, or the client's own means (the OS, its next send), whichever first
        return min(u * self.interval + self.timeout, fallback)


class PingHeartbeat(_Periodic):
    kind = "ws_ping"

    def __init__(self, cfg, params):
        super().__init__(cfg, params)
        self.resets_idle = bool(params["behaviour.apigw_ping_resets_idle"])
        self.billed = bool(params["behaviour.apigw_ping_billed"])
        self.uses_throttle = bool(params["behaviour.apigw_ping_uses_throttle"])

    def last_activity(self, connected_at, until):
        if not self.resets_idle:
            return None
        h = self.interval
        return connected_at + np.floor(np.maximum(until - connected_at, 0.0) / h) * h


class AppHeartbeat(_Periodic):
    kind = "app"

    def __init__(self, cfg, params):
        super().__init__(cfg, params)
        self.route = cfg.route
        self.server_detection = cfg.route == "lambda"


_KINDS = {"none": NoHeartbeat, "ws_ping": PingHeartbeat, "app": AppHeartbeat}


def make_heartbeat(cfg, params) -> Heartbeat:
    return _KINDS[cfg.kind](cfg, params)
