"""Message integrity: for every published message and every intended recipient, was it
delivered once, delivered late (resumed), duplicated, or lost?

Intended recipients of a message are the channel's clients in session when it is published:
the connected ones (the sender excepted) and those in a *gap*, between a drop and their
reconnection. A gap's missed messages are settled when it ends: recovered from the history
store (within its retention) when the client reconnects with ``resume: history``, lost
otherwise (no resume, beyond retention, or the session ended first). Re-sent messages from the
resume overlap are duplicates unless the client de-duplicates. Counts, not identities: a gap
remembers its channel's message count when it began.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import count


class Integrity:
    """The ledger of one run.

    Parameters
    ----------
    n_channels : int
    resume : NoResume | HistoryResume
        The scenario's ``app.resume``.
    """

    def __init__(self, n_channels: int, resume):
        self.resume = resume
        self.history = resume.kind == "history"
        self.msg_count = [0] * n_channels
        self.times: list[list[float]] | None = [[] for _ in range(n_channels)] if self.history else None
        self.base = [0] * n_channels        # index of times[c][0] (old entries are trimmed)
        self.gap = [0] * n_channels
        self.open: dict[int, tuple[int, float, int, float]] = {}
        self._ids = count()
        self.intended = 0
        self.delivered = 0
        self.recovered = 0
        self.duplicated = 0
        self.dup_suppressed = 0
        self.lost = 0
        self.missed = 0
        self.resent = 0

    # -- messages ------------------------------------------------------------------------------------
    def published(self, ch: int, now: float, live_recipients: int) -> None:
        """A message reaches its fan-out: its intended recipients are counted."""
        self.intended += live_recipients + self.gap[ch]
        self.msg_count[ch] += 1
        if self.times is not None:   # kept with a history store
            t = self.times[ch]
            t.append(now)
            if len(t) > 4096 and t[0] < now - 2 * self._keep():  # not a catalog value
                cut = bisect_left(t, now - self._keep())
                del t[:cut]
                self.base[ch] += cut

    def count(self, c, in_flight_live_posts: int = 0) -> None:
        """Write the ledger's totals into the counters ``c`` (at the end of a run);
        posts still in flight to live recipients count as pending."""
        c["integrity.intended"] = self.intended
        c["integrity.delivered"] = self.delivered
        c["integrity.recovered"] = self.recovered
        c["integrity.duplicated"] = self.duplicated
        c["integrity.duplicates_suppressed"] = self.dup_suppressed
        c["integrity.lost"] = self.lost
        c["integrity.missed"] = self.missed
        c["integrity.pending"] = self.pending + in_flight_live_posts

    def posts(self, delivered: int, failed: int) -> None:
        """Posts to connected recipients: delivered, or failed (throttled out, timed out)."""
        self.delivered += delivered
        self.lost += failed

    def _keep(self) -> float:
        return self.resume.retention_s + self.resume.overlap_s

    # -- gaps ---------------------------------------------------------------------------------------
    def gap_start(self, ch: int, now: float, connected_at: float) -> int:
        gid = next(self._ids)
        self.open[gid] = (ch, now, self.msg_count[ch], connected_at)
        self.gap[ch] += 1
        return gid

    def gap_lost(self, gid: int) -> None:
        """The gap ends without a reconnection (session over, client gave up)."""
        ch, _, idx, _ = self.open.pop(gid)
        self.gap[ch] -= 1
        k = self.msg_count[ch] - idx
        self.missed += k
        self.lost += k

    def gap_reconnected(self, gid: int, now: float, resume_ok: bool) -> tuple[int, int]:
        """The client is back: returns (messages re-sent by resume, of which duplicates).
        ``resume_ok`` False: no resume ran (none configured, or the request failed)."""
        ch, start, idx, connected_at = self.open.pop(gid)
        self.gap[ch] -= 1
        k = self.msg_count[ch] - idx
        self.missed += k
        if self.times is None or not resume_ok:   # no history store, or no resume ran
            self.lost += k
            return 0, 0
        t = self.times[ch]
        base = self.base[ch]
        oldest = bisect_left(t, now - self.resume.retention_s) + base
        rec = self.msg_count[ch] - max(idx, oldest)
        self.recovered += rec
        self.lost += k - rec
        dup = 0
        if self.resume.overlap_s > 0:
            lo = max(start - self.resume.overlap_s, connected_at, now - self.resume.retention_s)
            dup = max(0, idx - max(bisect_left(t, lo) + base, oldest))
            if self.resume.client_dedup:
                self.dup_suppressed += dup
            else:
                self.duplicated += dup
                self.delivered -= dup
        self.resent += rec + dup
        return rec + dup, dup

    # -- end of run -----------------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Messages missed by clients still in a gap (settled after the run)."""
        return sum(self.msg_count[ch] - idx for ch, _, idx, _ in self.open.values())

    def guarantee(self) -> str:
        """The delivery guarantee this run achieved."""
        lost = self.lost > 0
        dup = self.duplicated > 0
        if not lost and not dup:
            return "exactly-once (no loss, no duplicate observed)"
        if lost and not dup:
            return "at-most-once (losses, no duplicates)"
        if dup and not lost:
            return "at-least-once (duplicates, no losses)"
        return "none (losses and duplicates)"
