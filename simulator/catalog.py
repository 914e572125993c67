"""The data catalog: every quota, price, latency and documented behaviour, with its source.

Files under ``data/`` (``quotas/``, ``latency/``, ``behaviour/``, ``pricing/``) hold entries

.. code-block:: yaml

    meta: {namespace: api_gateway}
    entries:
      new_connections_per_s:
        value: 500
        unit: connections/s
        source: https://docs.aws.amazon.com/...
        as_of: "2025-05"
        confidence: high          # high | medium | low | assumption
        by_region: {af-south-1: 250}   # optional per-Region values
        range: [250, 1000]        # optional: plausible low and high (for a distribution,
                                  # of its median), what a sensitivity analysis varies over

and are addressed as ``namespace.entry``. No quota, price or latency is written in code:
components ask the catalog, and the scenario may override (with the override recorded as
the source).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from simulator.errors import ScenarioError

CONFIDENCE = ("high", "medium", "low", "assumption")
KINDS = ("quotas", "latency", "behaviour", "pricing")
_AS_OF = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def default_data_dir() -> Path:
    """``data/`` next to the package (a source checkout), or ``$WSCAP_DATA``."""
    import os

    env = os.environ.get("WSCAP_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "data"


def check_sourced(e: dict, where: str, required: tuple[str, ...] = ()) -> None:
    """A data entry must say where it comes from and when: ``source``, ``as_of`` (a date)
    and ``confidence``, plus the ``required`` fields of its kind."""
    for req in (*required, "source", "as_of", "confidence"):
        if req not in e:
            raise ScenarioError(where, None, f"data entry must have '{req}'")
    if e["confidence"] not in CONFIDENCE:
        raise ScenarioError(f"{where}.confidence", e["confidence"], f"must be one of {CONFIDENCE}")
    if not _AS_OF.match(str(e["as_of"])):
        raise ScenarioError(f"{where}.as_of", e["as_of"], "must be YYYY, YYYY-MM or YYYY-MM-DD")
    if not str(e["source"]).strip():
        raise ScenarioError(f"{where}.source", e["source"], "must name a source")


def median_of(value: Any) -> float | None:
    """The number a range speaks of: a number itself, a distribution's median, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict) and "kind" in value:
        from simulator.primitives.distributions import make_distribution

        return float(make_distribution(value).quantile(0.5))
    return None


def check_range(value: Any, rng: Any, where: str) -> tuple[float, float] | None:
    """An entry's optional ``range: [low, high]``: two finite numbers, low < high, around the
    value (for a distribution, around its median); only numbers and distributions have one."""
    if rng is None:
        return None
    ok = (isinstance(rng, (list, tuple)) and len(rng) == 2
          and all(isinstance(x, (int, float)) and not isinstance(x, bool) and x == x
                  and abs(x) != float("inf") for x in rng))
    if not ok:
        raise ScenarioError(where, rng, "must be [low, high], two finite numbers")
    lo, hi = float(rng[0]), float(rng[1])
    if not lo < hi:
        raise ScenarioError(where, rng, "low must be less than high")
    mid = median_of(value)
    if mid is None:
        raise ScenarioError(where, rng, "only a number or a distribution has a range")
    if not lo <= mid <= hi:
        raise ScenarioError(where, rng, f"must contain the value ({mid:g}; for a distribution, "
                                        "its median)")
    if isinstance(value, dict) and lo <= 0:
        raise ScenarioError(where, rng, "a distribution's median range must be > 0 (it is "
                                        "scaled to it)")
    return (lo, hi)


@dataclass(frozen=True)
class Fact:
    """One catalog entry, resolved for a Region."""

    key: str
    value: Any
    unit: str
    source: str
    as_of: str
    confidence: str
    kind: str
    notes: str = ""
    adjustable: bool | None = None
    by_region: dict = field(default_factory=dict)
    range: tuple[float, float] | None = None

    def for_region(self, region: str | None) -> Any:
        if region is not None and region in self.by_region:
            return self.by_region[region]
        return self.value


class Catalog:
    """All facts under a data directory.

    Parameters
    ----------
    data_dir : Path
        Directory holding ``quotas/``, ``latency/``, ``behaviour/``, ``pricing/``.
    """

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.facts: dict[str, Fact] = {}
        self.presets: dict[str, dict] = {}
        self.inter_region_rtt_ms: dict[str, dict[str, float]] = {}
        self.rtt_meta: dict = {}
        for kind in ("quotas", "latency", "behaviour"):
            for path in sorted((self.data_dir / kind).glob("*.yaml")):
                if path.name == "presets.yaml" or path.name.endswith(".meta.yaml"):
                    continue
                self._load_file(path, kind)
        self._load_presets()
        self._load_rtt()

    # -- loading -------------------------------------------------------------------------------
    def _load_file(self, path: Path, kind: str) -> None:
        rel = path.relative_to(self.data_dir)
        try:
            doc = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise ScenarioError(str(rel), None, f"malformed YAML in the data catalog: {err}") from None
        if not isinstance(doc, dict) or "entries" not in doc:
            raise ScenarioError(str(rel), None, "catalog file needs 'meta' and 'entries'")
        ns = (doc.get("meta") or {}).get("namespace") or path.stem
        for name, e in doc["entries"].items():
            key = f"{ns}.{name}"
            where = f"{rel}:{name}"
            check_sourced(e, where, ("value", "unit"))
            if key in self.facts:
                raise ScenarioError(where, key, "duplicate catalog key")
            self.facts[key] = Fact(
                key=key, value=e["value"], unit=str(e["unit"]), source=str(e["source"]).strip(),
                as_of=str(e["as_of"]), confidence=e["confidence"], kind=kind,
                notes=str(e.get("notes", "")).strip(), adjustable=e.get("adjustable"),
                by_region=dict(e.get("by_region") or {}),
                range=check_range(e["value"], e.get("range"), f"{where}.range"),
            )

    def _load_presets(self) -> None:
        path = self.data_dir / "quotas" / "presets.yaml"
        if not path.exists():
            return
        doc = yaml.safe_load(path.read_text())
        for name, p in (doc.get("presets") or {}).items():
            for key in p.get("values", {}):
                if key not in self.facts:
                    raise ScenarioError(f"quotas/presets.yaml:{name}.values", key,
                                        "preset overrides an unknown catalog key")
            self.presets[name] = p

    def _load_rtt(self) -> None:
        meta_path = self.data_dir / "latency" / "inter_region_rtt.meta.yaml"
        if not meta_path.exists():
            return
        self.rtt_meta = yaml.safe_load(meta_path.read_text())
        raw = json.loads((self.data_dir / "latency" / self.rtt_meta["file"]).read_text())
        self.inter_region_rtt_ms = raw["data"]

    # -- queries ---------------------------------------------------------------------------------
    def fact(self, key: str) -> Fact:
        try:
            return self.facts[key]
        except KeyError:
            raise KeyError(f"no catalog entry {key!r} under {self.data_dir}") from None

    def value(self, key: str, region: str | None = None) -> Any:
        return self.fact(key).for_region(region)

    @property
    def regions(self) -> list[str]:
        """Regions with latency data (the CloudPing matrix)."""
        return sorted(self.inter_region_rtt_ms)

    def frame(self):
        """All facts as a DataFrame (for the README, notebooks and reports)."""
        import pandas as pd

        return pd.DataFrame([
            {"key": f.key, "kind": f.kind, "value": f.value, "unit": f.unit,
             "confidence": f.confidence, "as_of": f.as_of, "source": f.source,
             "by_region": f.by_region or None, "range": f.range, "notes": f.notes}
            for f in self.facts.values()
        ])


@cache
def _cached(path: str) -> Catalog:
    return Catalog(Path(path))


def load_catalog(data_dir: Path | str | None = None) -> Catalog:
    """Load (and cache) the catalog under ``data_dir`` (default: the project's ``data/``)."""
    return _cached(str(Path(data_dir or default_data_dir()).resolve()))
