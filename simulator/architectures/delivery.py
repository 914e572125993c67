"""Delivery strategies of the API Gateway designs: what happens after the ``$default``
Lambda has started for a published message, until every subscriber's post is decided.

:class:`DirectFanout` is the article's basic design: the ``$default`` Lambda queries the
channel's subscribers (1 MB pages) and posts to each one itself. The fan-out tiers
(:mod:`.tiers`) hand the posting to worker Lambdas instead.

A strategy is built with its host (the architecture: registry, components, counters) and
implements ``begin(now, t, x)``, ``finalize(now)``, ``usage()``, ``probes(rec)`` and the
in-flight counts.
"""

from __future__ import annotations

from simulator.units import MB


class SubscriberQuery:
    """The publishing Lambda reads the channel's subscriber rows (1 MB pages, SDK retries on
    throttling), then calls ``on_list(now, x, live, half, gone)``.

    Parameters
    ----------
    host : ApiGatewayArchitecture
    function : LambdaFunction
        The querying function (finished here if the query fails).
    on_list : callable
    fast : callable(now, t_q, x) -> bool, optional
        For a one-page query whose capacity is granted at once: may handle the message now
        (return True) instead of an event at the response time ``t_q``.
    """

    def __init__(self, host, function, on_list, fast=None):
        self.host = host
        self.env = host.env
        self.reg = host.reg
        self.table = host.table
        self.f = function
        self.on_list = on_list
        self.fast = fast
        self.d_item = host.draws.d_item
        self.d_page = host.draws.d_page
        self.d_s_per_mb = host.draws.d_s_per_mb
        self.retry = host.retry
        self._one_page_rows = self.table.page_bytes // self.table.item_bytes
        self._item_bytes = self.table.item_bytes

    def begin(self, now: float, t: float, x) -> None:
        """The function runs from ``t`` (invoked at ``now``) for message ``x``."""
        reg = self.reg
        ch = x.channel
        rows = reg.live[ch] + reg.half[ch] + reg.gone[ch]
        x.pages = self.table.pages(rows) if rows > self._one_page_rows else (rows * self._item_bytes,)
        x.page = 0
        x.attempt = 1
        pages = x.pages
        if len(pages) == 1 and self.table.query_page(now, ch, pages[0]):
            t_q = t + self.d_page() + pages[0] / MB * self.d_s_per_mb()
            if self.fast is not None and t_q < x.deadline and self.fast(now, t_q, x):
                return
            self.host.at(t_q - now, self._query_done, x)
            return
        self._query(now, t, x)

    def _query(self, now: float, t: float, x) -> None:
        """Issue page ``x.page`` of the subscriber query (capacity taken at ``now``); the
        response arrives as an event at ``t`` + latency."""
        nbytes = x.pages[x.page]
        if self.table.query_page(now, x.channel, nbytes):
            lat = self.d_page() + nbytes / MB * self.d_s_per_mb()
            x.attempt = 1
            self.host.at(t + lat - now, self._query_done, x)
            return
        if x.attempt < self.retry.max_attempts:
            retry_at = t + self.d_item() + self.host.backoff(x.attempt - 1)
            x.attempt += 1
            self.host.at(retry_at - now, self._query_retry, x)
            return
        self.host.pub_rejected("dynamodb_throttle", x)
        self.f.finish(x.start, t + self.d_item())

    def _query_retry(self, ev) -> None:
        now = self.env.now
        self._query(now, now, ev._value)

    def _query_done(self, ev) -> None:
        now = self.env.now
        x = ev._value
        x.page += 1
        if now >= x.deadline:
            self.host.pub_rejected("lambda_timeout", x)
            self.f.finish(x.start, x.deadline)
            return
        if x.page < len(x.pages):
            self._query(now, now, x)
            return
        live, half, gone = self.host.recipients(now, x)
        self.on_list(now, x, live, half, gone)


class DirectFanout:
    """The ``$default`` Lambda reads the subscriber list and posts to every subscriber.

    Parameters
    ----------
    host : ApiGatewayArchitecture
    """

    name = "direct"

    def __init__(self, host):
        self.host = host
        self.f = host.f_default
        self.fanout = host.make_fanout("fanout", self._fanout_done)
        self.query = SubscriberQuery(host, self.f, self._published, self._fan_direct)

    def begin(self, now: float, t: float, x) -> None:
        """``$default`` is running from ``t`` (invoked at ``now``) for message ``x``."""
        self.query.begin(now, t, x)

    def _fan_direct(self, now: float, t_q: float, x) -> bool:
        """When the query needs one page and the throttle does not bind, compute the
        fan-out now for its start at ``t_q`` (the query's response), one event fewer per
        message: the channel's rows are read and the post tokens taken at ``now``, a few
        ms early. Returns False (nothing done) when the throttle would bind."""
        # a user's sender is open (its message just arrived); a feature event's is checked
        live, half, gone = self.host.recipients(now, x, sender_open=x.kind is None)
        if not self.fanout.can_fast(now, live + half + gone):
            return False
        self._published(t_q, x, live, half, gone, now)
        return True

    # -- the posts --------------------------------------------------------------------------------
    def _published(self, now: float, x, live: int, half: int, gone: int,
                   t_tokens: float | None = None) -> None:
        """The subscriber list is in: count the message and start its fan-out at ``now``."""
        self.host.message_published(now, x, live, half, gone)
        res = self.fanout.start(now, x.t_pub, live, half, gone, x.deadline, x.record, x,
                                t_tokens)
        if res is not None:
            self._fanout_done(x, res)

    def _fanout_done(self, x, res) -> None:
        self.host.count_posts(x, res)
        end = self.host.delete_on_410(x, res, res.end)
        self.f.finish(x.start, end)

    # -- end of run and accounting ------------------------------------------------------------------
    def finalize(self, now: float) -> None:
        for x, partial in self.fanout.partial():
            self.host.count_posts(x, partial)
        self.fanout.flush()

    @property
    def in_flight_posts(self) -> int:
        return self.fanout.in_flight_posts

    @property
    def in_flight_live_posts(self) -> int:
        return self.fanout.in_flight_live_posts

    def usage(self) -> dict:
        """Billable items of the strategy beyond API Gateway, Lambda and DynamoDB (none)."""
        return {}

    def probes(self, rec) -> None:
        pass


def split_even(n: int, k: int) -> list[int]:
    """``n`` items over ``k`` shards as evenly as possible (the first ``n % k`` get one more)."""
    q, r = divmod(int(n), int(k))
    return [q + 1 if j < r else q for j in range(k)]
