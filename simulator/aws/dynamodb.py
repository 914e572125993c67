"""Amazon DynamoDB: the connection table and its channel index.

* Items: one row per connection (``item_bytes``), keyed by connection id, with a global
  secondary index on the channel. A write costs ``ceil(item/1 KB)`` write units on the table
  and as many on the index; a channel's subscriber query reads the index in 1 MB pages at
  ``ceil(page/4 KB) x 0.5`` read units (index queries are eventually consistent).
* Capacity (a strategy): on-demand (instant capacity up to twice the previous peak, the
  peak counting only once it is 30 minutes old; new tables start at 4,000 writes/s and
  12,000 reads/s) or provisioned (fixed units/s with 300 s of burst capacity).
* Hot keys: every channel is one partition of the index and gets at most 3,000 read and
  1,000 write units/s, whatever the table's capacity.
* A request that finds too few units is throttled (ProvisionedThroughputExceeded); the
  caller retries with the SDK's backoff.

The table and its index share one capacity pool in this model (a simplification: on AWS
each global secondary index has its own capacity).
"""

from __future__ import annotations

import math
from collections import deque

from simulator.primitives.token_bucket import TokenBucket
from simulator.scenario import OnDemandCapacity, ProvisionedCapacity


class OnDemand:
    """On-demand capacity: a table bucket whose rate follows the 2x-previous-peak rule."""

    def __init__(self, params, cfg: OnDemandCapacity):
        self.mult = params["dynamodb.on_demand_peak_multiplier"]
        self.window = params["dynamodb.on_demand_peak_window_s"]
        self.initial = (params["dynamodb.on_demand_initial_read_units_per_s"],
                        params["dynamodb.on_demand_initial_write_units_per_s"])
        self.table_max = (params["dynamodb.table_max_read_units_per_s"],
                          params["dynamodb.table_max_write_units_per_s"])
        self.matured = [cfg.previous_peak_read_units_per_s, cfg.previous_peak_write_units_per_s]
        self._recent: deque[tuple[float, float, float]] = deque()
        r, w = self.limits()
        self.read = TokenBucket(r, r)
        self.write = TokenBucket(w, w)

    def limits(self) -> tuple[float, float]:
        return tuple(min(mx, max(ini, self.mult * pk))
                     for mx, ini, pk in zip(self.table_max, self.initial, self.matured))

    def tick(self, now: float, read_per_s: float, write_per_s: float) -> None:
        """Record the last second's consumption; peaks older than the window become the
        'previous peak' that capacity doubles from."""
        self._recent.append((now, read_per_s, write_per_s))
        changed = False
        while self._recent and self._recent[0][0] <= now - self.window:
            _, r, w = self._recent.popleft()
            if r > self.matured[0] or w > self.matured[1]:
                self.matured = [max(self.matured[0], r), max(self.matured[1], w)]
                changed = True
        if changed:
            r, w = self.limits()
            self.read.set_rate(now, r, r)
            self.write.set_rate(now, w, w)


class Provisioned:
    """Provisioned capacity with burst capacity (unused units kept for ``burst_capacity_s``)."""

    def __init__(self, params, cfg: ProvisionedCapacity):
        burst = params["dynamodb.burst_capacity_s"]
        self.read = TokenBucket(cfg.read_units_per_s, cfg.read_units_per_s * burst)
        self.write = TokenBucket(cfg.write_units_per_s, cfg.write_units_per_s * burst)

    def limits(self) -> tuple[float, float]:
        return self.read.rate, self.write.rate

    def tick(self, now: float, read_per_s: float, write_per_s: float) -> None:
        pass


CAPACITY_MODES = {"on_demand": OnDemand, "provisioned": Provisioned}


class Table:
    """The connection table (one Region).

    Parameters
    ----------
    params : Params
        Resolved parameters (``dynamodb.*``).
    cfg : DynamoConfig
        Scenario configuration (capacity mode, item size).
    recorder : Recorder
        Counters (``dynamodb.read_units``, ``dynamodb.write_units``, ``dynamodb.throttles``)
        and the breach log.
    """

    def __init__(self, params, cfg, recorder, region: str):
        self.rec = recorder
        self.c = recorder.c
        self.region = region
        self.capacity = CAPACITY_MODES[cfg.capacity.mode](params, cfg.capacity)
        self.item_bytes = cfg.item_bytes
        self.page_bytes = params["dynamodb.query_page_bytes"]
        self.read_unit_bytes = params["dynamodb.read_unit_bytes"]
        self.ec = params["dynamodb.eventually_consistent_read_factor"]
        self.item_wu = math.ceil(cfg.item_bytes / params["dynamodb.write_unit_bytes"])
        self.part_r = params["dynamodb.partition_max_read_units_per_s"]
        self.part_w = params["dynamodb.partition_max_write_units_per_s"]
        self._parts: dict[int, tuple[TokenBucket, TokenBucket]] = {}
        self._last = (0.0, 0.0)
        # units per partition in the current step: the hottest partition's use per second
        self._step_r: dict[int, float] = {}
        self._step_w: dict[int, float] = {}
        self.hot_read_per_s = 0.0
        self.hot_write_per_s = 0.0
        for k in ("dynamodb.read_units", "dynamodb.write_units", "dynamodb.throttles",
                  "dynamodb.read_throttles", "dynamodb.write_throttles"):
            self.c[k] += 0.0

    def _partition(self, key: int) -> tuple[TokenBucket, TokenBucket]:
        p = self._parts.get(key)
        if p is None:
            p = (TokenBucket(self.part_r, self.part_r), TokenBucket(self.part_w, self.part_w))
            self._parts[key] = p
        return p

    def pages(self, items: int) -> list[float]:
        """Bytes of each Query page for ``items`` rows (at least one page)."""
        return self.pages_of(items * self.item_bytes)

    def read_units(self, nbytes: float) -> float:
        return max(1, math.ceil(nbytes / self.read_unit_bytes)) * self.ec

    def _throttled(self, now: float, quota: str, kind: str) -> bool:
        """Count a throttled request (ProvisionedThroughputExceeded) and log the breach."""
        self.c["dynamodb.throttles"] += 1
        self.c[f"dynamodb.{kind}_throttles"] += 1
        self.rec.breaches.add(now, quota, "dynamodb:connections", self.region)
        return False

    def query_page(self, now: float, channel: int, nbytes: float) -> bool:
        """Consume read units for one index page of ``channel``; False if throttled."""
        units = self.read_units(nbytes)
        table = self.capacity.read
        part = self._partition(channel)[0]
        if part.try_take(now, units):
            if table.try_take(now, units):
                self.c["dynamodb.read_units"] += units
                self._step_r[channel] = self._step_r.get(channel, 0.0) + units
                return True
            part.refund(units)  # the table refused: the partition's units were not used
        return self._throttled(now, "dynamodb.partition_read_units" if part.tokens < units
                               else "dynamodb.table_read_capacity", "read")

    def write_item(self, now: float, channel: int) -> bool:
        """Consume write units for a put or delete of one connection row (table + index)."""
        units = 2 * self.item_wu
        table = self.capacity.write
        part = self._partition(channel)[1]
        if table.level(now) >= units and part.level(now) >= self.item_wu:
            table.try_take(now, units)
            part.try_take(now, self.item_wu)
            self.c["dynamodb.write_units"] += units
            self._step_w[channel] = self._step_w.get(channel, 0.0) + self.item_wu
            return True
        return self._throttled(now, "dynamodb.partition_write_units" if part.tokens < self.item_wu
                               else "dynamodb.table_write_capacity", "write")

    def update_item(self, now: float) -> bool:
        """An UpdateItem of a connection row on the table only (an attribute the index does
        not project, such as lastSeen)."""
        if self.capacity.write.try_take(now, self.item_wu):
            self.c["dynamodb.write_units"] += self.item_wu
            return True
        return self._throttled(now, "dynamodb.table_write_capacity", "write")

    def scan_page(self, now: float, nbytes: float) -> bool:
        """One Scan page of the table (eventually consistent)."""
        units = self.read_units(nbytes)
        if self.capacity.read.try_take(now, units):
            self.c["dynamodb.read_units"] += units
            return True
        return self._throttled(now, "dynamodb.table_read_capacity", "read")

    def pages_of(self, nbytes: float) -> list[float]:
        """Query pages for ``nbytes`` of items (at least one page)."""
        if nbytes <= self.page_bytes:
            return [nbytes]
        n = math.ceil(nbytes / self.page_bytes)
        return [self.page_bytes] * (n - 1) + [nbytes - self.page_bytes * (n - 1)]

    def tick(self, now: float, step_s: float) -> None:
        """Per-step bookkeeping: on-demand peak tracking from the step's consumption."""
        r = self.c["dynamodb.read_units"]
        w = self.c["dynamodb.write_units"]
        lr, lw = self._last
        self._last = (r, w)
        self.capacity.tick(now, (r - lr) / step_s, (w - lw) / step_s)
        self.hot_read_per_s = max(self._step_r.values(), default=0.0) / step_s
        self.hot_write_per_s = max(self._step_w.values(), default=0.0) / step_s
        self._step_r.clear()
        self._step_w.clear()
