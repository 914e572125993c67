"""A calendar of session ends, without a Python object per entry.

Each entry is a time (float seconds) with a slot and a generation (ints below 2**31). Entries
are kept in buckets of ``width_s`` seconds, each bucket three C arrays (16 bytes an entry,
where a heap of ``(t, slot, gen)`` tuples costs about 90). :meth:`pop_due` hands back every
entry due before a horizon in the order a heap of those tuples would pop them: by time, then
slot, then generation.

Bucket ``k`` holds the entries with ``floor(t / width_s) == k``. That key never decreases with
``t`` (a correctly rounded division by a positive number, then ``floor``), so every entry with
``t < horizon`` is in a bucket whose key is at most the horizon's: those buckets are all the
calendar looks at. Entries may be added to a bucket already looked at (a time in the past):
they are due at the next :meth:`pop_due`.
"""

from __future__ import annotations

import heapq
import math
from array import array

import numpy as np

#: the key of every time at or beyond ``2**62`` bucket widths (``inf`` included)
_LAST_KEY = 2.0 ** 62   # not a catalog value (any key int64 holds)
#: entries sorted into buckets at a time by push_many
_PUSH_BLOCK = 2 ** 16   # not a catalog value


class SessionCalendar:
    """Entries ``(t, slot, gen)`` handed back by time.

    Parameters
    ----------
    width_s : float
        Width of a bucket, seconds (> 0). Wider buckets: fewer of them (less memory per bucket);
        each :meth:`pop_due` then reads more entries that are not yet due.
    """

    def __init__(self, width_s: float):
        if not width_s > 0:
            raise ValueError(f"SessionCalendar: width_s = {width_s!r}, must be > 0")
        self.width_s = float(width_s)
        self._buckets: dict[int, tuple[array, array, array]] = {}
        self._keys: list[int] = []     # heap of the keys in _buckets

    def __len__(self) -> int:
        return sum(len(times) for times, _, _ in self._buckets.values())

    def _key(self, t: float) -> int:
        return math.floor(min(t / self.width_s, _LAST_KEY))

    def _bucket(self, key: int) -> tuple[array, array, array]:
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = (array("d"), array("i"), array("i"))
            heapq.heappush(self._keys, key)
        return b

    def push(self, t: float, slot: int, gen: int) -> None:
        """Add one entry."""
        times, slots, gens = self._bucket(self._key(t))
        times.append(t)
        slots.append(slot)
        gens.append(gen)

    def push_many(self, t: np.ndarray, slot: np.ndarray, gen: np.ndarray) -> None:
        """Add several entries at once (the same as :meth:`push` for each, in order). A block
        of :data:`_PUSH_BLOCK` at a time: each bucket receives its entries in the same order,
        and the sort's temporaries stay small (a million at once took some 40 MB)."""
        for lo in range(0, t.size, _PUSH_BLOCK):
            hi = lo + _PUSH_BLOCK
            self._push_block(t[lo:hi], slot[lo:hi], gen[lo:hi])

    def _push_block(self, t: np.ndarray, slot: np.ndarray, gen: np.ndarray) -> None:
        keys = np.floor(np.minimum(t / self.width_s, _LAST_KEY)).astype(np.int64)
        by_key = np.argsort(keys, kind="stable")
        keys = keys[by_key]
        times = np.ascontiguousarray(t[by_key], dtype=np.float64)
        slots = slot[by_key].astype(np.intc)
        gens = gen[by_key].astype(np.intc)
        starts = np.flatnonzero(np.diff(keys, prepend=keys[0] - 1))
        ends = np.append(starts[1:], keys.size)
        for key, a, b in zip(keys[starts].tolist(), starts.tolist(), ends.tolist()):
            bt, bs, bg = self._bucket(key)
            bt.frombytes(times[a:b].tobytes())
            bs.frombytes(slots[a:b].tobytes())
            bg.frombytes(gens[a:b].tobytes())

    def pop_due(self, horizon: float) -> tuple[list[float], list[int], list[int]]:
        """Remove the entries with ``t < horizon`` and return them as lists (times, slots,
        generations), sorted by time, then slot, then generation."""
        last = self._key(horizon)
        taken = []
        while self._keys and self._keys[0] <= last:
            taken.append(self._buckets.pop(heapq.heappop(self._keys)))
        if not taken:
            return [], [], []
        times = np.concatenate([np.frombuffer(b[0], dtype=np.float64) for b in taken])
        slots = np.concatenate([np.frombuffer(b[1], dtype=np.intc) for b in taken])
        gens = np.concatenate([np.frombuffer(b[2], dtype=np.intc) for b in taken])
        due = times < horizon
        if not due.all():
            later = ~due
            self.push_many(times[later], slots[later], gens[later])
            times, slots, gens = times[due], slots[due], gens[due]
        order = np.lexsort((gens, slots, times))
        return times[order].tolist(), slots[order].tolist(), gens[order].tolist()
