"""The recommendation of a design review, computed from a comparison's numbers.

The rule (nothing in it is written by hand):

1. A design **meets the SLO** when every bound holds for the mean over its replications:
   each SLO metric (a numeric summary key, e.g. ``latency_p99_ms``) at or under its bound,
   and ``breaches`` (requests refused by a load limit, per run) at or under its bound. A
   review always asks for no refused work, so ``breaches: 0`` is added when the SLO does not
   bound it.
2. The recommendation is the **cheapest** design that meets it (``cost_usd_per_month``).
3. **What binds next**: the capacity search's answer for that design when one was run
   (:func:`simulator.capacity`), else the tightest limit of its verdict's headroom and the
   load at which it would reach 100% if use grows in proportion to the load (a linear
   extrapolation of the peak).
4. **Caveats**: a bound that the 95% confidence interval straddles (the answer may be noise),
   prices estimated from another Region, and the uncertain catalog values (``assumption`` or
   ``low`` confidence) whose one-at-a-time range would move the deciding metric across its
   bound, or move it most (:func:`simulator.sensitivity`). The same for the **challenger**:
   the cheapest cheaper design that refused nothing and missed only a metric bound, which a
   value at one end of its range (or more replications) could make the answer.

When no design meets the SLO the closest one is named (fewest broken terms, then the smallest
relative excess), with what its verdict says to change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from simulator.capacity import BREACHES

#: confidence levels whose values can be caveats
UNCERTAIN = ("assumption", "low")
#: the caveats listed from a sensitivity table besides those that flip the answer
TOP_SWINGS = 3   # not a catalog value


@dataclass
class Verdict:
    """One design against the SLO: each term's value and bound, whether it holds."""

    design: str
    cost_usd_per_month: float
    terms: list[dict]
    meets: bool

    @property
    def broken(self) -> list[dict]:
        return [t for t in self.terms if not t["holds"]]

    def excess(self) -> float:
        """Relative excess over the bounds (0 when it meets them), to rank the near misses."""
        out = 0.0
        for t in self.broken:
            v, b = t["value"], t["bound"]
            out += (v - b) / b if b > 0 else (1.0 if v > 0 else 0.0)
        return out


@dataclass
class Recommendation:
    """What :func:`recommend` returns (see the module)."""

    slo: dict
    verdicts: list[Verdict]
    choice: str | None
    subject: str | None          # the design the caveats are about (the choice or the closest)
    headline: str
    #: the cheapest design cheaper than the choice that refused nothing and missed only latency
    #: or other metric bounds: the one a changed assumption or more replications could promote
    challenger: str | None = None
    reasons: list[str] = field(default_factory=list)
    next_limit: str = ""
    caveats: list[str] = field(default_factory=list)
    deciding_metric: str | None = None

    def to_dict(self) -> dict:
        return {"slo": self.slo, "choice": self.choice, "subject": self.subject,
                "headline": self.headline, "reasons": self.reasons,
                "next_limit": self.next_limit, "caveats": self.caveats,
                "designs": [{"design": v.design, "meets": v.meets,
                             "cost_usd_per_month": v.cost_usd_per_month, "terms": v.terms}
                            for v in self.verdicts]}


def effective_slo(slo: dict | None) -> dict[str, float]:
    """The SLO a review applies: the given bounds (default :data:`simulator.capacity.
    DEFAULT_SLO`) with ``breaches: 0`` added when they do not bound refusals."""
    from simulator.capacity import _slo

    out = _slo(slo)
    out.setdefault(BREACHES, 0.0)
    return out


def refused_per_run(cmp, design: str) -> float:
    """Requests refused by load limits, per run of ``design`` (mean over its replications)."""
    b = cmp.breaches
    reps = max(int((cmp.runs["variant"] == design).sum()), 1)
    mine = b[(b["variant"] == design) & (b["effect"] == "refused")]
    return float(mine["count"].sum()) / reps


def _value(cmp, row: pd.Series, design: str, key: str) -> tuple[float, float | None]:
    """The mean of ``key`` over a design's replications and its 95% CI half-width."""
    if key == BREACHES:
        return refused_per_run(cmp, design), None
    if key in row.index and row[key] is not None:
        ci = row.get(f"{key}_ci95")
        return float(row[key]), (None if ci is None or ci != ci else float(ci))
    runs = cmp.runs[cmp.runs["variant"] == design]
    if key not in runs:
        from simulator.errors import ScenarioError

        raise ScenarioError(f"slo[{key!r}]", key, "not a summary metric of the comparison's "
                            "runs ('breaches' or a numeric key of res.summary)")
    vals = pd.to_numeric(runs[key], errors="coerce")
    return float(vals.mean()), None


def judge(cmp, slo: dict) -> list[Verdict]:
    """Each design of a comparison against the SLO (in the comparison's order)."""
    out = []
    for _, row in cmp.table.iterrows():
        d = row["variant"]
        terms = []
        for key, bound in slo.items():
            v, ci = _value(cmp, row, d, key)
            holds = v == v and v <= bound
            straddles = ci is not None and (v - ci <= bound < v + ci)
            terms.append({"key": key, "value": v, "ci95": ci, "bound": bound, "holds": holds,
                          "straddles": straddles})
        out.append(Verdict(d, float(row["cost_usd_per_month"]), terms,
                           all(t["holds"] for t in terms)))
    return out


def recommend(cmp, slo: dict | None = None, capacity=None,
              sensitivity=None) -> Recommendation:
    """The recommendation for a :class:`~simulator.Comparison` (see the module).

    Parameters
    ----------
    cmp : Comparison
    slo : dict, optional
        Metric -> upper bound (see :func:`effective_slo`).
    capacity : Capacity, optional
        A capacity search that includes the chosen design (what binds next, and where).
    sensitivity : DataFrame or list of DataFrame, optional
        One-at-a-time :func:`simulator.sensitivity` tables (``attrs["metric"]``, and
        ``attrs["design"]``, the design each is about) for the caveats: the chosen design's,
        and the challenger's (:func:`challenger`).
    """
    bounds = effective_slo(slo)
    verdicts = judge(cmp, bounds)
    passing = sorted((v for v in verdicts if v.meets), key=lambda v: v.cost_usd_per_month)
    choice = passing[0].design if passing else None
    if choice is not None:
        subject = choice
    else:
        closest = min(verdicts, key=lambda v: (len(v.broken), v.excess(), v.cost_usd_per_month))
        subject = closest.design
    by = {v.design: v for v in verdicts}
    slo_text = slo_words(bounds)
    rec = Recommendation(bounds, verdicts, choice, subject, "")
    if choice is not None:
        v = by[choice]
        rec.headline = (f"{choice}: the cheapest design that meets the SLO ({slo_text}), at "
                        f"{usd(v.cost_usd_per_month)} per month")
        rec.reasons.append(f"{choice} meets it: " + "; ".join(term_words(t) for t in v.terms))
    else:
        v = by[subject]
        rec.headline = (f"no design meets the SLO ({slo_text}); the closest is {subject}, "
                        f"at {usd(v.cost_usd_per_month)} per month")
        rec.reasons.append(f"{subject} misses: " + "; ".join(term_words(t) for t in v.broken))
        advice = _advice(cmp, subject)
        if advice:
            rec.reasons.append(f"what its runs say to change: {advice}")
    for w in sorted(verdicts, key=lambda w: w.cost_usd_per_month):
        if w.design in (choice, subject):
            continue
        ref = by[subject].cost_usd_per_month
        rel = w.cost_usd_per_month / ref - 1 if ref > 0 else math.nan
        cost = f"{usd(w.cost_usd_per_month)} per month ({rel:+.0%} against {subject})"
        if w.meets:
            rec.reasons.append(f"{w.design} meets it too but costs more: {cost}")
        else:
            rec.reasons.append(f"{w.design} ({cost}) misses: "
                               + "; ".join(term_words(t) for t in w.broken))
    rec.next_limit = next_limit(cmp, subject, capacity)
    rec.deciding_metric = _deciding(by[subject])
    rec.challenger = challenger(verdicts, choice)
    tables = _tables(sensitivity)
    rec.caveats = caveats(cmp, by[subject],
                          tables[subject] if subject in tables else tables.get(None))
    if rec.challenger is not None:
        rec.caveats.extend(challenger_caveats(by[rec.challenger], by[subject],
                                              tables.get(rec.challenger)))
    return rec


def _tables(sensitivity) -> dict:
    """Sensitivity tables by the design they are about (None: not said)."""
    if sensitivity is None:
        return {}
    if isinstance(sensitivity, pd.DataFrame):
        sensitivity = [sensitivity]
    return {t.attrs.get("design"): t for t in sensitivity if len(t)}


def challenger(verdicts: list[Verdict], choice: str | None) -> str | None:
    """The cheapest design cheaper than ``choice`` that refused no request and broke only
    bounds on metrics (a near miss that more replications or another assumption could turn),
    or None."""
    if choice is None:
        return None
    cost = next(v.cost_usd_per_month for v in verdicts if v.design == choice)
    near = [v for v in verdicts if v.cost_usd_per_month < cost and not v.meets
            and all(t["key"] != BREACHES for t in v.broken)]
    return min(near, key=lambda v: v.cost_usd_per_month).design if near else None


def challenger_caveats(v: Verdict, chosen: Verdict, table: pd.DataFrame | None) -> list[str]:
    """Why the cheaper near miss ``v`` might be the answer after all: a bound inside its
    confidence interval, or an uncertain value whose range would bring it within the SLO."""
    saving = 1 - v.cost_usd_per_month / chosen.cost_usd_per_month
    head = f"{v.design} costs {saving:.0%} less than {chosen.design} and refused nothing"
    out = []
    for t in v.broken:
        if t["straddles"]:
            out.append(f"{head}; its {term_words(t)} misses by less than its 95% confidence "
                       "half-width: more replications may show it meets the SLO")
    if table is None or not len(table) or table.attrs.get("metric") is None:
        return out
    metric = table.attrs["metric"]
    term = next((t for t in v.terms if t["key"] == metric), None)
    if term is None or term["holds"]:
        return out
    rows = table[table["confidence"].isin(UNCERTAIN) & table["swing"].notna()]
    base = rows["metric_baseline"].astype(float)
    scale = term["value"] / base.where(base > 0)
    lo = rows["metric_low"].astype(float) * scale
    hi = rows["metric_high"].astype(float) * scale
    best = lo.combine(hi, min)
    flips = rows[best <= term["bound"]]
    for idx, r in flips.loc[best[flips.index].sort_values().index].iterrows():
        end = "low" if lo[idx] <= hi[idx] else "high"
        out.append(f"{head}, and would meet {metric} <= {number(term['bound'])} with "
                   f"{r['key']} ({r['confidence']}) at the {end} end of its range "
                   f"{_range(r)} ({metric} {number(best[idx])}, scaled to this comparison): "
                   "the answer depends on it")
    if not len(flips):
        out.append(f"{head}; no {'/'.join(UNCERTAIN)}-confidence value alone brings its "
                   f"{metric} within {number(term['bound'])} over its range (the closest: "
                   f"{number(best.min())})")
    return out


def _advice(cmp, design: str) -> str:
    v = cmp.verdicts[cmp.verdicts["variant"] == design]
    texts = [a for a in v["advice"] if a]
    return max(set(texts), key=texts.count) if texts else ""


def _deciding(v: Verdict) -> str | None:
    """The SLO metric (not ``breaches``) with the smallest relative margin to its bound."""
    terms = [t for t in v.terms if t["key"] != BREACHES and t["bound"] > 0]
    if not terms:
        return None
    return min(terms, key=lambda t: (t["bound"] - t["value"]) / t["bound"])["key"]


def next_limit(cmp, design: str, capacity=None) -> str:
    """What binds next for ``design``, and at what load (see the module)."""
    if capacity is not None and design in set(capacity.table["variant"]):
        r = capacity.table.set_index("variant").loc[design]
        if r["status"] == "found":
            return (f"the capacity search found {design} holds the SLO up to "
                    f"{r['capacity']:,.4g} ({capacity.load}); at {r['bracket_high']:,.4g} it "
                    f"breaks {r['slo_broken']}, bound by {r['binding_limit']}")
        return f"the capacity search of {design} in {capacity.load}: {r['status']}"
    room = cmp.headroom[cmp.headroom["variant"] == design]
    if room.empty:
        return f"{design}'s runs measured no quota's use against its limit"
    peak = (room.groupby(["limit", "raise"], as_index=False)["peak_share"].mean()
            .sort_values("peak_share", ascending=False))
    top = peak.iloc[0]
    share = float(top["peak_share"])
    clients = cmp.scenario.workload.clients
    if share <= 0:
        return f"{design}'s runs put no load on its limits"
    if share >= 1:
        return (f"{top['limit']} is already at {share:.0%} of its limit at the peak "
                f"(raise: {top['raise']})")
    second = ""
    if len(peak) > 1:
        nxt = peak.iloc[1]
        second = f"; next, {nxt['limit']} at {_share(float(nxt['peak_share']))}"
    return (f"of the limits its verdict measures, the tightest for {design} is {top['limit']}, "
            f"at {_share(share)} of it at the peak: if its use grows in proportion to the load "
            f"it reaches 100% at about {1 / share:,.1f}x this load (about "
            f"{clients / share:,.0f} users; a linear extrapolation, not a run: sim.capacity "
            f"measures it){second}")


def caveats(cmp, v: Verdict, sensitivity: pd.DataFrame | None) -> list[str]:
    """The caveats of the answer about design ``v`` (see the module)."""
    out = []
    for t in v.terms:
        if t["straddles"]:
            out.append(f"{t['key']} of {v.design} is {number(t['value'])} ± "
                       f"{number(t['ci95'])} against a bound of {number(t['bound'])}: the 95% "
                       "confidence interval straddles the bound; more replications decide it")
    runs = cmp.runs[cmp.runs["variant"] == v.design]
    if "cost_estimated_items" in runs:
        est = sorted({str(x) for x in runs["cost_estimated_items"]
                      if isinstance(x, str) and x.strip()})
        if est:
            out.append(f"{v.design}'s bill prices some items at another Region's rate (no "
                       f"published price in the catalog): {', '.join(est)}")
    if v.design.split("@")[0] == "containers":
        out.append("containers' bill is AWS's only: a fleet of servers also takes engineering "
                   "time (deploys, patching, capacity, on-call) that the serverless designs leave "
                   "to AWS; and its server costs (CPU per message and per delivery, memory per "
                   "connection: catalog containers.*) depend on the server software, so measure "
                   "yours")
    if sensitivity is not None and len(sensitivity):
        out.extend(_sensitivity_caveats(v, sensitivity))
    return out


def _sensitivity_caveats(v: Verdict, table: pd.DataFrame) -> list[str]:
    metric = table.attrs.get("metric")
    about = table.attrs.get("design")
    if about is not None and about != v.design:
        return []
    term = next((t for t in v.terms if t["key"] == metric), None)
    rows = table[table["confidence"].isin(UNCERTAIN)]
    rows = rows[rows["swing"].notna() & (rows["swing"] > 0)]
    if rows.empty:
        return [f"no {'/'.join(UNCERTAIN)}-confidence value moved {metric} in the "
                "sensitivity runs"]
    out = []
    base = rows["metric_baseline"].astype(float)
    shown = set()
    if term is not None:
        # the swings are relative to the sensitivity's own baseline (often a smaller run):
        # scale them to this comparison's value
        scale = term["value"] / base.where(base > 0)
        lo = rows["metric_low"].astype(float) * scale
        hi = rows["metric_high"].astype(float) * scale
        flips = rows[(lo.combine(hi, max) > term["bound"]) != (term["value"] > term["bound"])]
        for idx, r in flips.iterrows():
            shown.add(idx)
            out.append(f"{r['key']} ({r['confidence']}): over its range {_range(r)}, "
                       f"{metric} would be {number(lo[idx])} to {number(hi[idx])} (scaled to "
                       f"this comparison) against the bound {number(term['bound'])}: the "
                       "answer depends on it")
    for idx, r in rows.sort_values("swing", ascending=False).head(TOP_SWINGS).iterrows():
        if idx in shown:
            continue
        rel = float(r["swing"]) / float(r["metric_baseline"]) if r["metric_baseline"] else math.nan
        scaled = ""
        if term is not None:
            scaled = (f", {number(lo[idx])} to {number(hi[idx])} scaled to this comparison: "
                      f"{'within' if term['holds'] else 'above'} the bound "
                      f"{number(term['bound'])} at both ends")
        out.append(f"{r['key']} ({r['confidence']}): over its range {_range(r)}, {metric} "
                   f"moves by {rel:.0%} of its value ({number(r['metric_low'])} to "
                   f"{number(r['metric_high'])} in the sensitivity runs{scaled})")
    return out


def _share(x: float) -> str:
    """A share of a limit: whole percent from 10%, two significant figures below."""
    return f"{x:.0%}" if x >= 0.1 else f"{100 * x:.2g}%"   # not a catalog value


def _range(r) -> str:
    unit = str(r.get("unit") or "")
    unit = f" {unit}" if unit and len(unit) <= 12 else ""   # not a catalog value (text width)
    return f"{number(r['low'])}-{number(r['high'])}{unit}" + (
        f" ({r['varied']})" if r.get("varied") not in (None, "value") else "")


# ----------------------------------------------------------------------------- words


def usd(v: float) -> str:
    return f"${v:,.0f}" if abs(v) >= 100 else f"${v:,.2f}"


def number(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    v = float(v)
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def term_words(t: dict) -> str:
    name = "requests refused per run" if t["key"] == BREACHES else t["key"]
    ci = f" ± {number(t['ci95'])}" if t.get("ci95") else ""
    rel = "<=" if t["holds"] else ">"
    return f"{name} {number(t['value'])}{ci} {rel} {number(t['bound'])}"


def slo_words(slo: dict) -> str:
    return ", ".join(("no request refused by a load limit" if k == BREACHES and b == 0 else
                      f"{'requests refused per run' if k == BREACHES else k} <= {number(b)}")
                     for k, b in slo.items())


__all__ = ["Recommendation", "effective_slo", "judge", "next_limit", "recommend"]
