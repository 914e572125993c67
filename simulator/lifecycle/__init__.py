"""Connection lifecycle and message integrity: reconnect policies, heartbeats, zombie-row
cleanup strategies, and the ledger of missed, recovered, duplicated and lost messages."""

from simulator.lifecycle.heartbeat import make_heartbeat
from simulator.lifecycle.integrity import Integrity
from simulator.lifecycle.reconnect import Reconnect

__all__ = ["Integrity", "Reconnect", "make_heartbeat"]
