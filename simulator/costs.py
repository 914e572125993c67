"""Costs: usage x the price catalog (``data/pricing/``) -> a cost table, line by line.

One code path: :func:`price` turns monthly usage quantities into rows; a run's cost table is
``price(res.usage, region)`` and its monthly projection is ``price`` of the projected usage.
Every row is ``quantity x unit_price_usd = cost_usd`` for one tier of one item, and says where
the price comes from (``basis``, ``source``), so a design review can trace each dollar.

Tiers are monthly (per account and Region; Lambda's per architecture), so pricing a short
window treats it as the start of a month. Free tiers apply only with ``free_tier=True``;
they take the first units of an item (a shared pool, such as Lambda's 400,000 GB-s for both
architectures, is consumed in catalog order). Where a Region's price is not published in the
reference material, the catalog says so and the row is priced at the stated fallback Region's
rate with ``basis`` saying it is an estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pandas as pd
import yaml

from simulator.catalog import check_sourced, default_data_dir
from simulator.errors import ScenarioError

COLUMNS = ["service", "item", "region", "quantity", "unit", "unit_price_usd", "cost_usd",
           "tier", "basis", "source"]


@dataclass(frozen=True)
class PriceItem:
    """The price of one billable item in one Region."""

    name: str
    region: str
    service: str
    unit: str
    tiers: tuple[tuple[float, float], ...]   # (upper bound of the tier, USD per unit)
    source: str
    as_of: str
    confidence: str
    free_quantity: float = 0.0
    free_per_hour: float = 0.0          # capacity free every hour (25 WCU): x hours in the month
    free_pool: str | None = None
    free_kind: str = ""
    basis: str = "published"
    fallback: dict = field(default_factory=dict)


class PriceBook:
    """Prices of every Region under ``data/pricing/`` (one YAML file per Region)."""

    def __init__(self, data_dir: Path):
        self.items: dict[str, dict[str, PriceItem]] = {}
        self.order: list[str] = []
        files = sorted((Path(data_dir) / "pricing").glob("*.yaml"))
        raw = {}
        for p in files:
            try:
                doc = yaml.safe_load(p.read_text())
            except yaml.YAMLError as err:
                raise ScenarioError(f"pricing/{p.name}", None, f"malformed YAML: {err}") from None
            region = (doc.get("meta") or {}).get("region")
            if region != p.stem:
                raise ScenarioError(f"pricing/{p.name}:meta.region", region,
                                    "must equal the file name (the Region)")
            raw[region] = doc["items"]
        if "us-east-1" in raw:
            self.order = list(raw["us-east-1"])
        for region, items in raw.items():
            self.items[region] = {}
            for name, e in items.items():
                where = f"pricing/{region}.yaml:{name}"
                check_sourced(e, where, ("service", "unit"))
                if name not in self.order:
                    self.order.append(name)
                if e.get("status") == "not_found":
                    self.items[region][name] = PriceItem(
                        name, region, e["service"], e["unit"], (), str(e["source"]).strip(),
                        str(e["as_of"]), e["confidence"], basis="not_found",
                        fallback={"region": e["estimate_from"]})
                    continue
                tiers = tuple((math.inf if t["up_to"] is None else float(t["up_to"]), float(t["usd"]))
                              for t in e["tiers"])
                if any(b <= a for (a, _), (b, _) in zip(tiers, tiers[1:])):
                    raise ScenarioError(f"{where}.tiers", e["tiers"], "tier bounds must increase")
                if tiers[-1][0] != math.inf:
                    raise ScenarioError(f"{where}.tiers", e["tiers"], "the last tier must be open (up_to: null)")
                free = e.get("free") or {}
                self.items[region][name] = PriceItem(
                    name, region, e["service"], e["unit"], tiers, str(e["source"]).strip(),
                    str(e["as_of"]), e["confidence"], float(free.get("quantity", 0.0)),
                    float(free.get("per_hour", 0.0)), free.get("pool"), str(free.get("kind", "")))

    @property
    def regions(self) -> list[str]:
        return sorted(self.items)

    def item(self, region: str, name: str) -> PriceItem:
        """The price of ``name`` in ``region``, resolving a documented fallback."""
        if region not in self.items:
            raise ScenarioError("region", region, "no price data for this Region (data/pricing/); "
                                f"Regions with prices: {', '.join(self.regions)}")
        it = self.items[region].get(name)
        if it is None:
            raise ScenarioError("usage", name, f"not a billable item of {region}; known items: "
                                + ", ".join(self.order))
        if it.basis != "not_found":
            return it
        src = self.item(it.fallback["region"], name)
        return PriceItem(name, region, src.service, src.unit, src.tiers,
                         f"{it.source} | rate used: {src.source}", src.as_of, "assumption",
                         src.free_quantity, src.free_per_hour, src.free_pool, src.free_kind,
                         basis=f"estimate: {src.region} rate ({region} price not found)")


@cache
def _book(path: str) -> PriceBook:
    return PriceBook(Path(path))


def price_book(data_dir: str | Path | None = None) -> PriceBook:
    return _book(str(Path(data_dir or default_data_dir()).resolve()))


def price(usage: dict[str, float], region: str = "us-east-1", free_tier: bool = False, *,
          month_hours: float | None = None, data_dir: str | Path | None = None) -> pd.DataFrame:
    """Price monthly usage quantities: one row per item and tier used.

    Parameters
    ----------
    usage : dict
        Item name -> quantity for one month (``apigw.messages``, ``lambda.gb_seconds.arm64``,
        ``dynamodb.read_request_units``, ``data_transfer.internet_gb``, ...). Quantities are in
        the item's unit (see ``price_book().items["us-east-1"]``).
    region : str
        A Region with a file under ``data/pricing/``.
    free_tier : bool
        Subtract free-tier allowances (the 12-month and always-free ones) first.
    month_hours : float, optional
        Hours in the billed month, for free capacity given per hour (DynamoDB's 25 WCU and
        25 RCU); default ``billing.hours_per_month`` of the catalog (730).

    Returns
    -------
    DataFrame
        ``service, item, region, quantity, unit, unit_price_usd, cost_usd, tier, basis, source``;
        ``cost_usd.sum()`` is the bill.

    Raises
    ------
    ScenarioError
        An unknown item or Region, or a negative or non-finite quantity.

    Notes
    -----
    Tiered cost of quantity ``q``: ``sum_k max(0, min(q, b_k) - b_{k-1}) * p_k`` with free
    units occupying the start of the first tier; continuous and non-decreasing in ``q``.
    """
    if not isinstance(usage, dict):
        raise ScenarioError("usage", type(usage).__name__, "must be a dict of item -> quantity")
    book = price_book(data_dir)
    for name, q in usage.items():
        book.item(region, name)  # raises for unknown items and Regions
        if not isinstance(q, (int, float)) or isinstance(q, bool) or not math.isfinite(q) or q < 0:
            raise ScenarioError(f"usage[{name!r}]", q, "must be a finite number >= 0")
    if region not in book.items:
        book.item(region, "apigw.messages")
    if month_hours is None:
        from simulator.catalog import load_catalog

        month_hours = load_catalog(data_dir).value("billing.hours_per_month")
    pools: dict[str, float] = {}
    rows = []
    for name in book.order:
        if name not in usage:
            continue
        q = float(usage[name])
        it = book.item(region, name)
        pos = 0.0
        allowance = it.free_quantity + it.free_per_hour * month_hours
        if free_tier and allowance > 0:
            pool = it.free_pool or name
            left = pools.setdefault(pool, allowance)
            free = min(q, left)
            pools[pool] = left - free
            if free > 0:
                rows.append(_row(it, free, 0.0, f"free tier ({it.free_kind})"))
            pos = free
        lo = 0.0
        for up, usd in it.tiers:
            take = min(q, up) - max(pos, lo)
            if take > 0:
                rows.append(_row(it, take, usd, _tier_label(lo, up)))
                pos += take
            lo = up
            if pos >= q:
                break
        if q == 0:
            rows.append(_row(it, 0.0, it.tiers[0][1], _tier_label(0.0, it.tiers[0][0])))
    return pd.DataFrame(rows, columns=COLUMNS)


def _row(it: PriceItem, q: float, usd: float, tier: str) -> dict:
    return {"service": it.service, "item": it.name, "region": it.region, "quantity": q,
            "unit": it.unit, "unit_price_usd": usd, "cost_usd": q * usd, "tier": tier,
            "basis": it.basis, "source": it.source}


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf"
    for div, suf in ((1e9, "B"), (1e6, "M"), (1e3, "k")):  # not a catalog value
        if x >= div:
            return f"{x / div:g}{suf}"
    return f"{x:g}"


def _tier_label(lo: float, up: float) -> str:
    return f"{_fmt(lo)}-{_fmt(up)}" if not math.isinf(up) else f"over {_fmt(lo)}" if lo else "all"


# -- monthly projection ---------------------------------------------------------------------------
# items billed by time (capacity held, storage), not by load
TIME_ITEMS = ("dynamodb.wcu_hours", "dynamodb.rcu_hours", "dynamodb.storage_gb_months",
              "lambda.provisioned_concurrency_gb_seconds")


def project_month(window_usage: dict[str, float], window_s: float, month_s: float,
                  hourly_load: list[float] | None) -> tuple[dict[str, float], str]:
    """Scale a measured window's usage to a month.

    Load-driven items scale by ``month_s / window_s`` times the mean of the daily profile
    (the load in each hour of the day relative to the measured window: a peak-hour window is
    not an average hour); time-driven items (provisioned capacity, storage) by time only.

    Returns the monthly usage and a sentence naming the method.
    """
    profile = list(hourly_load) if hourly_load else [1.0] * 24
    load = sum(profile) / len(profile)
    k = month_s / window_s
    out = {name: q * (k if name in TIME_ITEMS else k * load) for name, q in window_usage.items()}
    method = (f"measured window of {window_s:g} s (after warm-up) x {k:,.1f} to a {month_s / 86400:g}-day "
              f"month; load-driven items x {load:.3f}, the mean of the daily profile "
              f"({'flat' if hourly_load is None else f'{len(profile)} hourly values'}); "
              f"provisioned capacity and storage by time only")
    return out, method
