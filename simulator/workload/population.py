"""Struct-of-arrays registry of connections and of their rows in the connection table.

No Python object per connection: numpy columns indexed by a slot number (slots are reused,
so memory follows the peak number of rows, not the run length), a dense array of open
slots for O(1) uniform sampling of publishers, a stack of free slots (a C array, not a list of
Python ints), and per-channel counters of rows by state. Slot numbers, positions and
generations are 32-bit: a run holds far fewer than 2**31 rows, and a slot is reused far fewer
than 2**31 times.

States (what the client, API Gateway and DynamoDB each believe):

========== ============ ================= ===============
state       client       API Gateway       table row
========== ============ ================= ===============
OPEN        connected    connected         present
HALF_OPEN   gone         connected         present  (abrupt disconnect, not yet noticed)
CLOSING     gone         closed            present  ($disconnect running)
ZOMBIE      gone         closed            present  ($disconnect never ran or failed)
FREE        -            -                 absent
========== ============ ================= ===============

A post to a HALF_OPEN row is accepted and lost; a post to CLOSING or ZOMBIE returns 410.
"""

from __future__ import annotations

from array import array
from enum import IntEnum

import numpy as np


class State(IntEnum):
    FREE = 0
    OPEN = 1
    HALF_OPEN = 2
    CLOSING = 3
    ZOMBIE = 4


# plain ints for the hot paths (enum attribute access costs ~1 us)
FREE, OPEN, HALF_OPEN, CLOSING, ZOMBIE = (int(s) for s in State)

#: slot numbers, positions in the open list and generations (see the module docstring)
SLOT = np.int32


#: columns kept only for the designs that read them (:meth:`ConnectionRegistry.keep`), with
#: the value of a slot never used: 24 bytes a slot, 31 MB for a million connections
_OPTIONAL = {"last_seen": 0.0,        # the app's lastSeen (app heartbeats)
             "ttl_at": np.inf,        # TTL expiry of the row (a TTL on the table)
             "ttl_gone_at": np.inf}   # when DynamoDB deletes it after expiry


def _free_stack(first: int, stop: int) -> array:
    """Slots ``first .. stop - 1`` as a stack of C ints that pops them in increasing order."""
    stack = array("i")
    stack.frombytes(np.arange(stop - 1, first - 1, -1, dtype=np.intc).tobytes())
    return stack


class ConnectionRegistry:
    """Connections and rows, with per-channel counts.

    Parameters
    ----------
    n_channels : int
        Number of channels.
    capacity : int
        Initial number of slots (grows by doubling).
    n_regions, n_locations : int
        For designs over several Regions or user locations: a row's ``channel`` is then a
        *key*, ``channel * n_regions + region`` (its channel's rows in one Region), its client's
        location is kept per slot, and live rows are counted per key and location.
    """

    def __init__(self, n_channels: int, capacity: int = 1024, n_regions: int = 1,
                 n_locations: int = 1):
        cap = max(int(capacity), 16)
        self.n_reg = int(n_regions)
        self.n_loc = int(n_locations)
        n_channels *= self.n_reg
        self.state = np.zeros(cap, dtype=np.int8)
        self.channel = np.zeros(cap, dtype=np.int32)
        self.loc = np.zeros(cap, dtype=np.int8)
        self.connected_at = np.zeros(cap)
        self.last_send = np.zeros(cap)
        self.session_end = np.zeros(cap)
        # when the client left (rows that outlive it; a HALF_OPEN row's: when it went half-open)
        self.gone_at = np.full(cap, np.inf)
        self.was_zombie = np.zeros(cap, dtype=bool)
        self.last_seen: np.ndarray | None = None    # optional columns: see keep()
        self.ttl_at: np.ndarray | None = None
        self.ttl_gone_at: np.ndarray | None = None
        self.gen = np.zeros(cap, dtype=SLOT)
        self.open_pos = np.full(cap, -1, dtype=SLOT)
        self.open_ids = np.zeros(cap, dtype=SLOT)
        self.n_open = 0
        self._free = _free_stack(0, cap)
        # per-channel row counts by state (Python lists: cheapest scalar updates)
        self.live = [0] * n_channels
        self.half = [0] * n_channels
        self.gone = [0] * n_channels
        self.last_msg = np.zeros(n_channels)
        self.zombies: dict[int, list[int]] = {}
        # totals
        self.n_half = 0
        self.n_closing = 0
        self.n_zombie = 0
        self.zombie_lifetimes: list[float] = []   # client gone -> row deleted, seconds
        self.open_r = [0] * self.n_reg            # OPEN connections per Region
        self.live_loc = (np.zeros((n_channels, self.n_loc), dtype=np.int64)
                         if self.n_loc > 1 else None)

    def keep(self, *names: str) -> None:
        """Keep the optional columns ``names`` (of ``last_seen``, ``ttl_at``, ``ttl_gone_at``):
        a design that reads one asks for it before the first row is written."""
        for name in names:
            if name not in _OPTIONAL:
                raise ValueError(f"ConnectionRegistry.keep: {name!r} is not an optional column "
                                 f"(one of {', '.join(_OPTIONAL)})")
            if getattr(self, name) is not None:
                continue
            if self.n_rows or len(self._free) < self.state.size:
                raise RuntimeError(f"ConnectionRegistry.keep({name!r}) after rows were written")
            setattr(self, name, np.full(self.state.size, _OPTIONAL[name]))

    # -- slots -----------------------------------------------------------------------------------
    def _grow(self) -> None:
        old = self.state.size
        new = old * 2
        for name in ("state", "channel", "loc", "connected_at", "last_send", "session_end",
                     "gen", "open_ids", "was_zombie"):
            a = getattr(self, name)
            b = np.zeros(new, dtype=a.dtype)
            b[:old] = a
            setattr(self, name, b)
        for name in ("gone_at", *_OPTIONAL):
            a = getattr(self, name)
            if a is None:
                continue
            h = np.full(new, _OPTIONAL.get(name, np.inf))
            h[:old] = a
            setattr(self, name, h)
        p = np.full(new, -1, dtype=SLOT)
        p[:old] = self.open_pos
        self.open_pos = p
        self._free.extend(_free_stack(old, new))

    @property
    def n_rows(self) -> int:
        return self.n_open + self.n_half + self.n_closing + self.n_zombie

    @property
    def n_connected(self) -> int:
        """Connections API Gateway considers open (billed connection minutes)."""
        return self.n_open + self.n_half

    # -- transitions ----------------------------------------------------------------------------
    def open(self, now: float, channel: int, session_end: float, connected_at: float | None = None,
             last_activity: float | None = None, loc: int = 0) -> int:
        """A connection is established and its row written: returns its slot (``channel``:
        the key, see the class; ``loc``: its client's location)."""
        if not self._free:
            self._grow()
        i = self._free.pop()
        self.state[i] = OPEN
        self.channel[i] = channel
        self.loc[i] = loc
        if self.n_reg > 1:
            self.open_r[channel % self.n_reg] += 1
        if self.live_loc is not None:
            self.live_loc[channel, loc] += 1
        self.connected_at[i] = now if connected_at is None else connected_at
        self.last_send[i] = now if last_activity is None else last_activity
        self.session_end[i] = session_end
        self.gone_at[i] = np.inf
        self.was_zombie[i] = False
        if self.last_seen is not None:
            self.last_seen[i] = self.connected_at[i] if last_activity is None else last_activity
        if self.ttl_at is not None:
            self.ttl_at[i] = np.inf
        if self.ttl_gone_at is not None:
            self.ttl_gone_at[i] = np.inf
        self.gen[i] += 1
        self.open_pos[i] = self.n_open
        self.open_ids[self.n_open] = i
        self.n_open += 1
        self.live[channel] += 1
        return i

    def open_many(self, channel: np.ndarray, session_end: np.ndarray, connected_at: np.ndarray,
                  last_activity: float, loc: np.ndarray | None = None) -> np.ndarray:
        """:meth:`open` for several connections, one after the other in array order (the
        same slots, columns and counts as that loop, without a Python call per connection):
        returns their slots.

        Parameters
        ----------
        channel : ndarray of int
            The keys (see the class).
        session_end, connected_at : ndarray of float
            Seconds.
        last_activity : float
            Seconds, for every one of them.
        loc : ndarray of int, optional
            Their clients' locations (0 when omitted).
        """
        m = channel.size
        loc = np.zeros(m, dtype=np.int64) if loc is None else loc
        slots = self._pop_free(m)
        self.state[slots] = OPEN
        self.channel[slots] = channel
        self.loc[slots] = loc
        if self.n_reg > 1:
            per_region = np.bincount(channel % self.n_reg, minlength=self.n_reg)
            for r, k in enumerate(per_region.tolist()):
                self.open_r[r] += k
        if self.live_loc is not None:
            np.add.at(self.live_loc, (channel, loc), 1)
        self.connected_at[slots] = connected_at
        self.last_send[slots] = last_activity
        self.session_end[slots] = session_end
        self.gone_at[slots] = np.inf
        self.was_zombie[slots] = False
        if self.last_seen is not None:
            self.last_seen[slots] = last_activity
        if self.ttl_at is not None:
            self.ttl_at[slots] = np.inf
        if self.ttl_gone_at is not None:
            self.ttl_gone_at[slots] = np.inf
        self.gen[slots] += 1                     # the slots are distinct
        self.open_pos[slots] = np.arange(self.n_open, self.n_open + m)
        self.open_ids[self.n_open:self.n_open + m] = slots
        self.n_open += m
        keys, counts = np.unique(channel, return_counts=True)
        for c, k in zip(keys.tolist(), counts.tolist()):
            self.live[c] += k
        return slots

    def _pop_free(self, m: int) -> np.ndarray:
        """The next ``m`` slots that :meth:`open` would take one at a time (growing when the
        stack runs out, as it does)."""
        taken = []
        while m > 0:
            if not self._free:
                self._grow()
            k = min(m, len(self._free))
            top = self._free[len(self._free) - k:]
            del self._free[len(self._free) - k:]
            taken.append(np.frombuffer(top, dtype=np.intc)[::-1])   # the stack pops its end
            m -= k
        if not taken:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate(taken).astype(np.int64)

    def _unlist_open(self, i: int) -> None:
        if self.n_reg > 1:
            self.open_r[self.channel[i] % self.n_reg] -= 1
        if self.live_loc is not None:
            self.live_loc[self.channel[i], self.loc[i]] -= 1
        p = self.open_pos[i]
        last = self.open_ids[self.n_open - 1]
        self.open_ids[p] = last
        self.open_pos[last] = p
        self.open_pos[i] = -1
        self.n_open -= 1

    def vanish(self, now: float, i: int) -> None:
        """OPEN -> HALF_OPEN: the client disappeared without a close frame."""
        self._unlist_open(i)
        c = self.channel[i]
        self.live[c] -= 1
        self.half[c] += 1
        self.n_half += 1
        self.state[i] = HALF_OPEN
        self.gone_at[i] = now
        self.was_zombie[i] = True

    def close(self, i: int, now: float) -> None:
        """OPEN or HALF_OPEN -> CLOSING: API Gateway closed the connection; $disconnect runs."""
        c = self.channel[i]
        s = self.state[i]
        if s == OPEN:
            self._unlist_open(i)
            self.live[c] -= 1
        elif s == HALF_OPEN:
            self.half[c] -= 1
            self.n_half -= 1
        else:
            raise RuntimeError(f"close() on a connection in state {State(s).name}")
        self.gone[c] += 1
        self.n_closing += 1
        self.state[i] = CLOSING
        if self.gone_at[i] == np.inf:
            self.gone_at[i] = now

    def zombify(self, i: int) -> None:
        """CLOSING -> ZOMBIE: the row stays ($disconnect missed, throttled or failed)."""
        c = int(self.channel[i])
        self.n_closing -= 1
        self.n_zombie += 1
        self.state[i] = ZOMBIE
        self.was_zombie[i] = True
        self.zombies.setdefault(c, []).append(i)

    def _freed(self, i: int, now: float) -> None:
        if self.was_zombie[i]:
            self.zombie_lifetimes.append(now - self.gone_at[i])
        self.state[i] = FREE
        self._free.append(i)

    def delete_row(self, i: int, now: float) -> None:
        """CLOSING or ZOMBIE -> FREE: the row is deleted ($disconnect, a sweep, TTL)."""
        c = int(self.channel[i])
        s = self.state[i]
        self.gone[c] -= 1
        if s == CLOSING:
            self.n_closing -= 1
        elif s == ZOMBIE:
            self.n_zombie -= 1
            self.zombies[c].remove(i)
            if not self.zombies[c]:
                del self.zombies[c]
        else:
            raise RuntimeError(f"delete_row() on a row in state {State(s).name}")
        self._freed(i, now)

    def delete_zombies(self, channel: int, now: float) -> int:
        """All ZOMBIE rows of a channel are deleted (after 410s); returns how many."""
        ids = self.zombies.pop(channel, None)
        if not ids:
            return 0
        for i in ids:
            self._freed(i, now)
        k = len(ids)
        self.gone[channel] -= k
        self.n_zombie -= k
        return k

    def expired_zombies(self, channel: int, now: float) -> int:
        """ZOMBIE rows of a channel whose TTL has passed (a query can filter them out)."""
        ids = self.zombies.get(channel)
        if not ids or self.ttl_at is None:
            return 0
        return sum(1 for i in ids if self.ttl_at[i] <= now)

    # -- queries ---------------------------------------------------------------------------------
    def random_open(self, u: float) -> int:
        """A uniformly chosen OPEN connection for a uniform ``u`` in [0, 1) (-1 if none)."""
        n = self.n_open
        if n == 0:
            return -1
        return int(self.open_ids[int(u * n)])

    def region_of(self, ids):
        """Region index of slots ``ids`` (an int or an array)."""
        return self.channel[ids] % self.n_reg

    def connected_slots(self) -> np.ndarray:
        """Slots of OPEN and HALF_OPEN connections."""
        s = self.state
        return np.nonzero((s == OPEN) | (s == HALF_OPEN))[0]
