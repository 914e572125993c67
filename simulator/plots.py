"""Plots for design comparisons: latency CDFs, breach maps, cost and delivery rate against size.

Each helper draws on the Axes it is given, or creates a new figure when ``ax`` is None, and
returns what it drew on (an Axes, or a Figure for multi-panel plots). Helpers touch no other
pyplot state. A design keeps the same colour in every plot (:data:`DESIGN_COLORS`).

The tables are those of :func:`simulator.compare` and :func:`simulator.compare_sweep`; the
CDFs those of :meth:`simulator.Comparison.cdf`. Axis labels carry their units: known columns
are labelled from :data:`LABELS`, any other column by its name (override with ``xlabel`` /
``ylabel``).

>>> from simulator import plots
>>> ax = plots.latency_cdfs(comparison)                           # doctest: +SKIP
>>> fig = plots.breach_map(table, "param.workload.clients",
...                        "param.workload.publish.total_rate_per_s")  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, NullFormatter

#: fixed colour per registered design (others take the next free tab10 colour)
DESIGN_COLORS: dict[str, str] = {
    "basic": "tab:blue",
    "sns": "tab:orange",
    "sqs": "tab:brown",
    "appsync": "tab:green",
    "managed": "tab:purple",
    "containers": "tab:red",
}
_SPARE_COLORS = ("tab:pink", "tab:olive", "tab:cyan", "tab:gray")
#: fixed marker per registered design, so that overlapping lines stay distinguishable
DESIGN_MARKERS: dict[str, str] = {"basic": "o", "sns": "s", "sqs": "D", "appsync": "^",
                                  "managed": "v", "containers": "P"}
_SPARE_MARKERS = ("X", "*", "h", "<")

#: column -> (quantity, unit) used for axis labels
LABELS: dict[str, tuple[str, str]] = {
    "param.workload.clients": ("channel size", "subscribers"),
    "param.workload.publish.total_rate_per_s": ("message rate", "messages/s"),
    "cost_usd_per_month": ("cost", "USD/month"),
    "cost_usd_per_1k_users_month": ("cost per 1,000 subscribers", "USD/month"),
    "cost_usd_per_million_deliveries": ("cost per million deliveries", "USD"),
    "latency_p50_ms": ("p50 delivery latency", "ms"),
    "latency_p95_ms": ("p95 delivery latency", "ms"),
    "latency_p99_ms": ("p99 delivery latency", "ms"),
    "latency_p999_ms": ("p99.9 delivery latency", "ms"),
    "latency_mean_ms": ("mean delivery latency", "ms"),
    "deliveries_per_s": ("deliveries", "per second"),
}

#: colour of "no limit refused work" in :func:`breach_map`
NONE_COLOR = "#d9efd3"
_LIMIT_COLORS = ("#d62728", "#ff7f0e", "#e7ba52", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf", "#393b79")
_QUANTILE_MARKERS = ("o", "^", "s", "D", "v", "P")


# ----------------------------------------------------------------------------- formatting


def design_color(name: str, order: Sequence[str] = ()) -> str:
    """The colour of design ``name``: fixed for registered designs, else by position in
    ``order`` among the spare colours."""
    if name in DESIGN_COLORS:
        return DESIGN_COLORS[name]
    others = [n for n in order if n not in DESIGN_COLORS]
    k = others.index(name) if name in others else 0
    return _SPARE_COLORS[k % len(_SPARE_COLORS)]


def design_marker(name: str, order: Sequence[str] = ()) -> str:
    """The marker of design ``name`` (as :func:`design_color`)."""
    if name in DESIGN_MARKERS:
        return DESIGN_MARKERS[name]
    others = [n for n in order if n not in DESIGN_MARKERS]
    k = others.index(name) if name in others else 0
    return _SPARE_MARKERS[k % len(_SPARE_MARKERS)]


def label(col: str, log: bool = False) -> str:
    """Axis label of a column: ``"quantity (unit)"``, ``", log scale"`` appended if ``log``."""
    if col in LABELS:
        name, unit = LABELS[col]
        text = f"{name} ({unit}{', log scale' if log else ''})"
    else:
        text = col.removeprefix("param.") + (" (log scale)" if log else "")
    return text


def unit(col: str) -> str:
    """The unit of a column (``""`` if unknown)."""
    return LABELS[col][1] if col in LABELS else ""


def fmt_number(v: float) -> str:
    """``1,000``, ``0.5``, ``2``: thousands separators, no trailing zeros."""
    v = float(v)
    if not math.isfinite(v):
        return str(v)
    return f"{v:,.0f}" if abs(v) >= 10 or v.is_integer() else f"{v:.3g}"


def fmt_approx(v: float) -> str:
    """Two significant figures, thousands separators: ``110``, ``1,100``, ``4.3``."""
    v = float(v)
    if not math.isfinite(v) or v == 0:
        return fmt_number(v)
    r = float(f"{v:.2g}")
    return f"{r:,.0f}" if abs(r) >= 10 else f"{r:.2g}"


def fmt_ms(ms: float) -> str:
    """A latency: ``61 ms``, ``1.2 s``, ``29 s``, ``-`` when missing."""
    ms = float(ms)
    if not math.isfinite(ms):
        return "-"
    if ms < 1000:
        return f"{ms:.3g} ms"
    return f"{ms / 1000:.2g} s" if ms < 10_000 else f"{ms / 1000:,.0f} s"  # not a catalog value


def fmt_usd(v: float) -> str:
    """``$1,234`` (``$2.5`` below 10)."""
    v = float(v)
    return f"${v:,.0f}" if abs(v) >= 10 else f"${v:.2g}"


def _new_ax(ax: Axes | None, figsize=(8, 4.5)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _require(table: pd.DataFrame, cols: Sequence[str]) -> None:
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise KeyError(f"missing column(s) {missing}; have {list(table.columns)}")


def _designs(table: pd.DataFrame, by: str) -> list[str]:
    return list(dict.fromkeys(table[by].tolist()))


def _one_row_per(table: pd.DataFrame, keys: list[str]) -> None:
    dup = table.duplicated(keys, keep=False)
    if dup.any():
        raise ValueError(
            f"several rows per {tuple(keys)} (e.g. {table.loc[dup, keys].iloc[0].tolist()}): "
            "filter the table to one value of every other grid parameter first")


def _is_none(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


# ----------------------------------------------------------------------------- latency CDFs


def latency_cdfs(cdf_or_comparison, ax: Axes | None = None,
                 quantiles: Sequence[float] = (0.5, 0.99), title: str | None = None) -> Axes:
    """Delivery-latency CDFs, one step line per design, on a log latency axis.

    Parameters
    ----------
    cdf_or_comparison : DataFrame or Comparison
        ``variant, latency_ms, fraction`` (as :meth:`Comparison.cdf` returns), or a
        :class:`~simulator.Comparison`, whose ``cdf()`` is plotted.
    ax : Axes, optional
        Where to draw; a new figure when None.
    quantiles : sequence of float
        Quantiles marked on each curve (read off the plotted CDF: the smallest latency whose
        cumulative fraction reaches q) and quoted, per design, in the legend.
    title : str, optional

    Returns
    -------
    Axes
        Legend: one entry per design (``basic: p50 61 ms, p99 628 ms``), a design without any
        measured delivery listed as such, then one entry per quantile marker shape.
    """
    names: list[str] | None = None
    if hasattr(cdf_or_comparison, "cdf") and not isinstance(cdf_or_comparison, pd.DataFrame):
        names = list(cdf_or_comparison.variants)
        cdf = cdf_or_comparison.cdf()
    else:
        cdf = cdf_or_comparison
    _require(cdf, ["variant", "latency_ms", "fraction"])
    names = names or _designs(cdf, "variant")
    for q in quantiles:
        if not 0 < q <= 1:
            raise ValueError(f"quantile {q!r} must be within (0, 1]")
    ax = _new_ax(ax, figsize=(11, 4.5))
    markers = dict(zip(quantiles, _QUANTILE_MARKERS))
    handles = []
    for name in names:
        color = design_color(name, names)
        d = cdf[(cdf["variant"] == name) & (cdf["latency_ms"] > 0)].sort_values("latency_ms")
        if d.empty:
            handles.append(Line2D([], [], color=color, ls=":",
                                  label=f"{name}: no delivery measured"))
            continue
        x = d["latency_ms"].to_numpy(dtype=float)
        f = d["fraction"].to_numpy(dtype=float)
        # start the step at 0 so that the curve rises from the axis
        (line,) = ax.step(np.r_[x[0], x], np.r_[0.0, f], where="post", color=color, lw=1.8)
        parts = []
        for q in quantiles:
            i = min(int(np.searchsorted(f, q - 1e-12, side="left")), len(x) - 1)
            ax.plot(x[i], q, marker=markers[q], color=color, ms=8, mec="black", mew=0.8,
                    ls="none", zorder=4)
            parts.append(f"{_qname(q)} {fmt_ms(x[i])}")
        line.set_label(f"{name}: " + ", ".join(parts))
        handles.append(line)
    for q in quantiles:
        ax.axhline(q, color="grey", lw=0.8, ls=":", zorder=0)
        handles.append(Line2D([], [], marker=markers[q], color="grey", mec="black", ls="none",
                              label=f"{_qname(q)} marker (fraction {q:g})"))
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("delivery latency (ms, log scale)")
    ax.set_ylabel("fraction of deliveries")
    ax.grid(True, which="both", alpha=0.3)  # not a catalog value
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def _qname(q: float) -> str:
    return "p" + f"{100 * q:.6g}"


# ----------------------------------------------------------------------------- breach map


def breach_map(table: pd.DataFrame, x: str, y: str, ax=None, by: str = "variant",
               annotate: str | None = "latency_p99_ms", ncols: int = 3,
               title: str | None = None, xlabel: str | None = None,
               ylabel: str | None = None) -> Figure:
    """For each design, the grid of ``x`` by ``y`` coloured by the first limit that refused work.

    Parameters
    ----------
    table : DataFrame
        A :func:`~simulator.compare_sweep` table: columns ``by``, ``x``, ``y``,
        ``first_binding_limit`` and ``first_binding_s`` (and ``annotate``), one row per design
        and grid point.
    x, y : str
        Grid columns, e.g. ``"param.workload.clients"`` (channel size) and
        ``"param.workload.publish.total_rate_per_s"`` (message rate). Shown as categories,
        sorted (one cell per value, so a log-spaced grid reads evenly).
    ax : Axes or sequence of Axes, optional
        One Axes per design; a new figure (``ncols`` panels a row, a spare panel holding the
        legend) when None.
    by : str
        The design column.
    annotate : str or None
        A latency column (ms) written in each cell, e.g. ``latency_p99_ms``; with the second
        the limit first refused work, when it did.
    ncols : int
        Panels per row of a new figure.
    title : str, optional
        Figure title.
    xlabel, ylabel : str, optional
        Axis labels (default: from :data:`LABELS`, else the column's name).

    Returns
    -------
    Figure
        Legend: one entry per limit found, plus ``none`` (nothing refused work) and, when the
        grid has holes, ``not run``.
    """
    cols = [by, x, y, "first_binding_limit", "first_binding_s"] + ([annotate] if annotate else [])
    _require(table, cols)
    _one_row_per(table, [by, x, y])
    names = _designs(table, by)
    xs = sorted(table[x].unique())
    ys = sorted(table[y].unique())
    limits = sorted({str(v) for v in table["first_binding_limit"] if not _is_none(v)})
    cats = ["none"] + limits
    colors = [NONE_COLOR] + [_LIMIT_COLORS[k % len(_LIMIT_COLORS)] for k in range(len(limits))]
    cmap = ListedColormap(colors).with_extremes(bad="white")

    if ax is None:
        import matplotlib.pyplot as plt

        ncols = max(1, min(ncols, len(names) + 1))
        nrows = math.ceil((len(names) + 1) / ncols)   # + 1: a panel for the legend
        w = max(3.2, 0.8 * len(xs) + 1.4)
        h = max(2.2, 0.6 * len(ys) + 1.4)  # not a catalog value
        fig, grid = plt.subplots(nrows, ncols, figsize=(w * ncols, h * nrows), squeeze=False,
                                 layout="constrained")
        axes = list(grid.ravel())
        panels, spare = axes[:len(names)], axes[len(names):]
        for a in spare:
            a.axis("off")
        legend_ax = spare[0] if spare else None
    else:
        panels = [ax] if isinstance(ax, Axes) else list(ax)
        if len(panels) < len(names):
            raise ValueError(f"{len(panels)} Axes for {len(names)} designs")
        fig = panels[0].figure
        legend_ax = None

    missing = False
    for pa, name in zip(panels, names):
        d = table[table[by] == name].set_index([x, y])
        codes = np.full((len(ys), len(xs)), np.nan)
        for j, yv in enumerate(ys):
            for i, xv in enumerate(xs):
                if (xv, yv) not in d.index:
                    missing = True
                    continue
                row = d.loc[(xv, yv)]
                lim = row["first_binding_limit"]
                k = 0 if _is_none(lim) else cats.index(str(lim))
                codes[j, i] = k
                text = []
                if annotate:
                    text.append(f"{_short(annotate)} {fmt_ms(row[annotate])}")
                if not _is_none(row["first_binding_s"]):
                    text.append(f"from {float(row['first_binding_s']):,.0f} s")
                if text:
                    pa.text(i, j, "\n".join(text), ha="center", va="center", fontsize=7,
                            color=_ink(colors[k]))
        pa.imshow(np.ma.masked_invalid(codes), cmap=cmap, vmin=-0.5, vmax=len(cats) - 0.5,
                  origin="lower", aspect="auto", interpolation="nearest")
        pa.set_xticks(range(len(xs)), [fmt_number(v) for v in xs], fontsize="small")
        pa.set_yticks(range(len(ys)), [fmt_number(v) for v in ys], fontsize="small")
        pa.set_xticks(np.arange(-0.5, len(xs)), minor=True)
        pa.set_yticks(np.arange(-0.5, len(ys)), minor=True)
        pa.grid(which="minor", color="white", lw=1.5)
        pa.tick_params(which="minor", length=0)
        pa.set_xlabel(xlabel or label(x))
        pa.set_ylabel(ylabel or label(y))
        pa.set_title(name, color=design_color(name, names), fontweight="bold")

    handles = [Patch(facecolor=c, edgecolor="grey", label=n) for n, c in zip(cats, colors)]
    handles[0].set_label("none (no limit refused work)")
    if missing:
        handles.append(Patch(facecolor="white", edgecolor="grey", label="not run"))
    legend_title = "first limit that refused work"
    if annotate:
        legend_title += f"\ncells: {_short(annotate)} latency, and when the limit first bit"
    if legend_ax is not None:
        legend_ax.legend(handles=handles, title=legend_title, loc="center", fontsize="small",
                         title_fontsize="small", frameon=False)
    else:
        fig.legend(handles=handles, title=legend_title, loc="lower center",
                   ncol=min(len(handles), 4), fontsize="small", title_fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def _short(col: str) -> str:
    """``latency_p99_ms`` -> ``p99``."""
    return col.removeprefix("latency_").removesuffix("_ms")


def _ink(background: str) -> str:
    r, g, b = to_rgb(background)
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


# ----------------------------------------------------------------------------- against size


def _throttle_size(ax: Axes, throttle_rps, rate) -> None:
    if throttle_rps is None or rate is None:
        return
    xs = float(throttle_rps) / float(rate)
    ax.axvline(xs, color="black", ls="--", lw=1,
               label=f"size × rate = API Gateway throttle ({fmt_number(throttle_rps)}/s): "
                     f"{fmt_number(xs)} subscribers")


def cost_vs(table: pd.DataFrame, x: str, y: str = "cost_usd_per_month", crossovers=None,
            ax: Axes | None = None, by: str = "variant", throttle_rps: float | None = None,
            rate: float | None = None, title: str | None = None) -> Axes:
    """Cost (or any metric) against ``x`` on log-log axes, one line per design, with the
    crossovers marked and explained.

    Parameters
    ----------
    table : DataFrame
        One row per design and ``x`` value (filter a sweep's table to one message rate first):
        columns ``by``, ``x``, ``y`` and ``first_binding_limit``; ``<y>_ci95`` draws error bars
        where finite.
    x : str
        Usually ``"param.workload.clients"`` (channel size).
    y : str
        Default ``cost_usd_per_month``.
    crossovers : DataFrame, optional
        :func:`simulator.crossovers` of the same table: ``a, b, x, y, below``. Each crossing is
        marked with its number, and the legend says which design is lower below it
        ("1: appsync cheaper than basic below ~11 subscribers").
    ax : Axes, optional
    by : str
        The design column.
    throttle_rps, rate : float, optional
        Both given: a vertical line at the channel size whose posts (size × rate) reach the
        API Gateway account throttle (only meaningful when ``x`` is the channel size).
    title : str, optional

    Returns
    -------
    Axes
        Points where a quota refused work are hollow: those designs did not deliver everything,
        and undelivered messages cost nothing, so their cost understates what the load needs.
    """
    _require(table, [by, x, y, "first_binding_limit"])
    _one_row_per(table, [by, x])
    ax = _new_ax(ax, figsize=(10, 5))  # not a catalog value
    names = _designs(table, by)
    hollow = []
    for name in names:
        d = table[table[by] == name].sort_values(x)
        color, marker = design_color(name, names), design_marker(name, names)
        xv = d[x].to_numpy(dtype=float)
        yv = d[y].to_numpy(dtype=float)
        ax.plot(xv, yv, "-", marker=marker, color=color, lw=1.8, ms=6, label=name)
        ci = f"{y}_ci95"
        if ci in d and np.isfinite(d[ci].to_numpy(dtype=float)).any():
            ax.errorbar(xv, yv, yerr=d[ci].to_numpy(dtype=float), fmt="none", ecolor=color,
                        capsize=3, lw=1)
        bound = d["first_binding_limit"].map(lambda v: not _is_none(v)).to_numpy(dtype=bool)
        if bound.any():
            hollow.append((xv[bound], yv[bound], marker, color))
    for xv, yv, marker, color in hollow:   # on top of every line, so none hides them
        ax.plot(xv, yv, ls="none", marker=marker, ms=9, mfc="white", mec=color, mew=1.8,
                zorder=4)
    any_bound = bool(hollow)
    _throttle_size(ax, throttle_rps, rate)
    handles, _ = ax.get_legend_handles_labels()
    if any_bound:
        handles.append(Line2D([], [], marker="o", ls="none", mfc="white", mec="black", ms=8,
                              label="hollow: a quota refused work (undelivered, so unbilled)"))
    n = 0 if crossovers is None else len(crossovers)
    if n:
        _require(crossovers, ["a", "b", "x", "y", "below"])
        word = "cheaper" if "cost" in y else "lower"
        u = unit(x)
        for k, row in enumerate(crossovers.itertuples(index=False), start=1):
            other = row.b if row.below == row.a else row.a
            ax.plot(row.x, row.y, marker="X", ms=10, color="black", mec="white", ls="none",
                    zorder=5)  # not a catalog value
            dx, dy = _OFFSETS[(k - 1) % len(_OFFSETS)]
            ax.annotate(str(k), (row.x, row.y), xytext=(dx, dy), textcoords="offset points",
                        fontsize=8, fontweight="bold", gid="crossover",
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "black",
                              "lw": 0.5})
            handles.append(Line2D([], [], marker=f"${k}$", color="black", ls="none", ms=7,
                                  label=f"{k}: {row.below} {word} than {other} below "
                                        f"~{fmt_approx(row.x)}{' ' + u if u else ''}"))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(label(x, log=True))
    ax.set_ylabel(label(y, log=True))
    ax.grid(True, which="both", alpha=0.3)  # not a catalog value
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small",
              title=f"design; {n} crossover{'s' if n != 1 else ''} (×)",
              title_fontsize="small")
    if title:
        ax.set_title(title)
    return ax


# label offsets (points) cycled over crossovers, so that neighbours do not overprint
_OFFSETS = ((6, 6), (6, -16), (-16, 6), (-16, -16))


def delivery_rate(table: pd.DataFrame, x: str, duration_s: float, ax: Axes | None = None,
                  by: str = "variant", rate: float | None = None,
                  throttle_rps: float | None = None, title: str | None = None) -> Axes:
    """Deliveries per second each design achieved against ``x`` (log-log), with the demand
    and the API Gateway account throttle drawn.

    Parameters
    ----------
    table : DataFrame
        One row per design and ``x`` value (one message rate): columns ``by``, ``x``,
        ``deliveries_succeeded`` (over the whole run, warm-up included).
    x : str
        The channel size column, e.g. ``"param.workload.clients"``.
    duration_s : float
        The simulated seconds of each run: deliveries per second =
        ``deliveries_succeeded / duration_s``.
    ax : Axes, optional
    by : str
        The design column.
    rate : float, optional
        The message rate: draws the demand, ``size × rate`` deliveries per second (a design
        on that line delivers everything).
    throttle_rps : float, optional
        The account throttle: a horizontal line. The designs that post through API Gateway's
        @connections (basic, sns, sqs) cannot deliver above it.
    title : str, optional

    Returns
    -------
    Axes
    """
    _require(table, [by, x, "deliveries_succeeded"])
    _one_row_per(table, [by, x])
    if not duration_s > 0:
        raise ValueError(f"duration_s = {duration_s!r}: must be > 0")
    ax = _new_ax(ax, figsize=(10, 5))  # not a catalog value
    names = _designs(table, by)
    values = []
    for name in names:
        d = table[table[by] == name].sort_values(x)
        per_s = d["deliveries_succeeded"].to_numpy(dtype=float) / float(duration_s)
        ax.plot(d[x].to_numpy(dtype=float), per_s, "-", marker=design_marker(name, names),
                color=design_color(name, names), lw=1.8, ms=6, label=name)
        values.append(per_s)
    xs = np.sort(table[x].unique().astype(float))
    if rate is not None:
        ax.plot(xs, xs * float(rate), color="grey", ls=":", lw=2,
                label=f"demand: size × {fmt_number(rate)} messages/s (expected)")
        values.append(xs * float(rate))
    if throttle_rps is not None:
        values.append(np.array([float(throttle_rps)]))
    v = np.concatenate(values)
    v = v[np.isfinite(v) & (v > 0)]
    lo, hi = (v.min() / 3, v.max() * 3) if v.size else (0.1, 10.0)  # not a catalog value
    if throttle_rps is not None:
        ax.axhline(float(throttle_rps), color="tab:red", ls="--", lw=1.5,
                   label=f"API Gateway account throttle ({fmt_number(throttle_rps)} requests/s)")
        ax.axhspan(float(throttle_rps), hi, color="tab:red", alpha=0.06, lw=0,  # not a catalog value
                   label="above the throttle: out of reach of basic, sns, sqs")
    ax.set_ylim(lo, hi)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(label(x, log=True))
    ax.set_ylabel("deliveries per second (run average, log scale)")
    ax.grid(True, which="both", alpha=0.3)  # not a catalog value
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    if title:
        ax.set_title(title)
    return ax


__all__ = ["DESIGN_COLORS", "DESIGN_MARKERS", "LABELS", "breach_map", "cost_vs", "delivery_rate",
           "design_color", "design_marker", "fmt_approx", "fmt_ms", "fmt_number", "fmt_usd", "label", "latency_cdfs", "unit"]


# ----------------------------------------------------------------------------- geography

BAR_FILL, BAR_WIDTH = 0.9, 0.6   # not a catalog value (bar sizes, of their slot)
SHADE, THIN = 0.08, 0.9          # not a catalog value (shading alpha, thin line width)


def latency_by_location(comparison, ax: Axes | None = None, quantiles=(0.5, 0.99),
                        title: str | None = None) -> Axes:
    """Delivery latency to users at each location, one bar per design (grouped), the first
    quantile solid and the second as a lighter bar behind it.

    Parameters
    ----------
    comparison : Comparison
        Of a scenario with a ``workload.geography`` (its ``by_location`` histograms).
    quantiles : pair of float
        The quantiles shown (p50 in front, p99 behind by default).

    Returns
    -------
    Axes
        One group of bars per location (ordered by the first design's p50), latency in ms.
    """
    by = comparison.by_location
    if not by:
        raise ValueError("the comparison has no latency by location: give the scenario a "
                         "workload.geography")
    names = [v for v in comparison.variants if v in by]
    locs = list(by[names[0]])
    front, back = quantiles
    order = sorted(locs, key=lambda k: by[names[0]][k].quantile(front))
    ax = _new_ax(ax, figsize=(11, 0.55 * len(locs) * max(len(names), 2) + 1.5))
    h = 0.8 / len(names)
    y0 = np.arange(len(order))
    for j, name in enumerate(names):
        color = design_color(name, names)
        y = y0 - 0.4 + h * (j + 0.5)
        hi = [by[name][k].quantile(back) * 1000.0 for k in order]
        lo = [by[name][k].quantile(front) * 1000.0 for k in order]
        ax.barh(y, hi, height=h * BAR_FILL, color=color, alpha=0.35,
                label=f"{name}: {_qname(back)}")
        ax.barh(y, lo, height=h * BAR_FILL, color=color, label=f"{name}: {_qname(front)}")
        for yy, v in zip(y, lo):
            ax.text(v, yy, f" {fmt_ms(v)}", va="center", fontsize="x-small")
    ax.set_yticks(y0, [k.replace("_", " ") for k in order])
    ax.invert_yaxis()
    ax.set_xlabel("delivery latency to users there (ms)")
    ax.set_ylabel("user location")
    ax.grid(True, axis="x", alpha=0.3)  # not a catalog value
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    if title:
        ax.set_title(title)
    return ax


#: cost items shown on their own in :func:`cost_breakdown` (the price of going multi-Region)
COST_PARTS = {
    "dynamodb.replicated_write_request_units": "DynamoDB replicated writes",
    "data_transfer.inter_region_gb": "inter-Region transfer",
    "eventbridge.events": "EventBridge events",
}


def cost_breakdown(comparison, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Monthly cost of each design stacked by service (mean over replications), with the
    multi-Region items (:data:`COST_PARTS`) apart, and each design's total on top."""
    costs = comparison.costs
    _require(costs, ["variant", "replication", "service", "item", "cost_usd_per_month"])
    part = costs["item"].map(COST_PARTS).fillna(costs["service"].str.replace("_", " "))
    reps = costs.groupby("variant")["replication"].nunique()
    table = (costs.assign(part=part).groupby(["variant", "part"])["cost_usd_per_month"].sum()
             .div(reps, level="variant").unstack(fill_value=0.0))
    names = [v for v in comparison.variants if v in table.index]
    table = table.loc[names]
    table = table[table.sum().sort_values(ascending=False).index]
    ax = _new_ax(ax, figsize=(11, 4.5))
    bottom = np.zeros(len(names))
    cmap = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3",
            "#8c8c8c", "#ccb974", "#64b5cd"]
    x = np.arange(len(names))
    for k, col in enumerate(table.columns):
        v = table[col].to_numpy()
        ax.bar(x, v, bottom=bottom, color=cmap[k % len(cmap)], label=col, width=BAR_WIDTH)
        bottom += v
    for xx, tot in zip(x, bottom):
        ax.text(float(xx), tot, fmt_usd(tot), ha="center", va="bottom", fontsize="small")
    ax.set_xticks(x, names, rotation=10)
    ax.set_ylabel("cost (USD/month)")
    ax.set_xlabel("design")
    ax.set_ylim(0, bottom.max() * 1.12 if len(bottom) else 1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", title="part")
    if title:
        ax.set_title(title)
    return ax


def outage_timeline(res, title: str | None = None) -> Figure:
    """A Region outage in one run: connections per Region, connection attempts refused per
    second, and messages lost so far; the outage and the DNS failover delay shaded.

    Parameters
    ----------
    res : Result
        A run with a ``region_outage`` incident.

    Returns
    -------
    Figure
        Three panels sharing the time axis (seconds).
    """
    import matplotlib.pyplot as plt

    scn = res.scenario
    outs = [i for i in scn.workload.incidents if i.kind == "region_outage"]
    if not outs:
        raise ValueError(f"scenario {scn.name!r} has no region_outage incident")
    ts = res.timeseries
    fig, axes = plt.subplots(3, 1, figsize=(11, 8), sharex=True)
    per_region = [c for c in ts.columns if c.startswith("connections_open.")]
    cols = per_region or ["connections_open"]
    for k, col in enumerate(cols):
        name = col.split(".", 1)[1] if "." in col else scn.region
        axes[0].plot(ts.index, ts[col], label=name, color=_SPARE_COLORS[k % len(_SPARE_COLORS)]
                     if k else "tab:blue", lw=1.6)
    axes[0].set_ylabel("connections open")
    axes[0].legend(title="Region", loc="upper left", bbox_to_anchor=(1.01, 1),
                   fontsize="small")
    axes[1].plot(ts.index, ts["connections_rejected_per_s"], color="tab:red", lw=1.2)
    axes[1].set_ylabel("attempts refused (per s)")
    lost = ts["messages_lost"] if "messages_lost" in ts else None
    if lost is not None:
        axes[2].plot(ts.index, lost, color="black", lw=1.4)
    axes[2].set_ylabel("(message, recipient) pairs\nlost (counted when a gap ends)")
    axes[2].set_xlabel("simulated time (s)")
    p = res.params
    detect = (float(p["behaviour.route53_health_check_interval_s"])
              * float(p["behaviour.route53_failure_threshold"]))
    ttl = float(p["behaviour.dns_ttl_s"])
    failover = len(res.usage_by_region) > 1   # one Region: there is nowhere to go
    for inc in outs:
        for ax in axes:
            ax.axvspan(inc.at_s, inc.at_s + inc.duration_s, color="tab:red", alpha=SHADE)
            if failover:
                ax.axvline(inc.at_s + detect, color="grey", ls="--", lw=THIN)
                ax.axvline(inc.at_s + detect + ttl, color="grey", ls=":", lw=THIN)
            ax.grid(True, alpha=0.3)  # not a catalog value
        axes[0].text(inc.at_s, axes[0].get_ylim()[1], f" {inc.region} down",
                     va="top", fontsize="small", color="tab:red")
    handles: list[Patch | Line2D] = [Patch(color="tab:red", alpha=2 * SHADE, label="Region down")]
    if failover:
        handles += [Line2D([], [], color="grey", ls="--", label=f"DNS notices ({detect:g} s)"),
                    Line2D([], [], color="grey", ls=":", label=f"+ record TTL ({ttl:g} s)")]
    axes[2].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1),
                   fontsize="small")
    fig.suptitle(title or f"{scn.name}: {scn.architecture}")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- one run's answer

#: time series of a run: (label, use column(s), limit column or params key, colour)
_LIMIT_SERIES = (
    ("API Gateway account throttle", ("posts_sent_per_s", "posts_throttled_per_s",
                                      "inbound_messages_per_s"), "apigw_throttle_rps",
     "tab:red"),
    ("API Gateway new connections", ("connections_attempted_per_s",),
     "api_gateway.new_connections_per_s", "tab:orange"),
    ("Lambda concurrency", ("lambda_concurrency",), "lambda_concurrency_limit", "tab:blue"),
    ("DynamoDB reads", ("dynamodb_read_units_per_s",), "dynamodb_read_capacity_per_s",
     "tab:green"),
    ("DynamoDB writes", ("dynamodb_write_units_per_s",), "dynamodb_write_capacity_per_s",
     "tab:olive"),
)


def limits_over_time(res, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Each quota's use as a share of its limit, per simulated second, on one axis with the
    100% line; the seconds in which a load limit refused requests marked along the top.

    Parameters
    ----------
    res : Result
        One run (designs with API Gateway, Lambda and DynamoDB; others show what they have).
    """
    ts = res.timeseries
    ax = _new_ax(ax, figsize=(11, 4.5))
    n_reg = max(len(res.usage_by_region), 1)
    peak = 0.0
    for label, uses, limit, color in _LIMIT_SERIES:
        if not all(u in ts for u in uses):
            continue
        use = sum(ts[u] for u in uses)
        if limit in ts:
            lim = ts[limit]
        else:
            try:
                lim = float(res.params[limit]) * n_reg
            except KeyError:
                continue
        share = 100.0 * use / lim.where(lim > 0) if isinstance(lim, pd.Series) else (
            100.0 * use / lim if lim > 0 else None)
        if share is None or not np.isfinite(share.max()) or share.max() <= 0:
            continue
        peak = max(peak, float(share.max()))
        ax.plot(ts.index, share, color=color, lw=1.3, label=f"{label} (peak {share.max():.0f}%)")
    ax.axhline(100.0, color="black", lw=1.2, ls="--", label="the limit (100%)")
    br = res.breaches
    refused = br[br["effect"] == "refused"] if len(br) else br
    top = max(peak, 100.0) * 1.08
    if len(refused):
        for k, (q, g) in enumerate(refused.groupby("quota")):
            ax.plot(g["time_s"], np.full(len(g), top * (1.15 + 0.05 * k)), "|", ms=8,
                    color=_LIMIT_COLORS[k % len(_LIMIT_COLORS)],
                    label=f"refused: {q} ({g['count'].sum():,.0f})")
    if res.scenario.warmup_s > 0:
        ax.axvspan(0, res.scenario.warmup_s, color="grey", alpha=SHADE, label="warm-up")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylim(0, top * 1.6)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("use as a share of the limit (%, log above 1%)")
    ax.grid(True, alpha=0.3)  # not a catalog value
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    ax.set_title(title or f"{res.scenario.name}: how close each limit came")
    return ax


def latency_tail(res, ax: Axes | None = None, title: str | None = None) -> Axes:
    """The share of deliveries slower than each latency (1 − CDF), log-log: the tail that a
    CDF hides, with p50, p99 and p99.9 marked."""
    v, c = res.histogram.cdf()
    if v.size == 0:
        raise ValueError("no delivery latency was recorded")
    ax = _new_ax(ax, figsize=(9, 4.5))
    tail = np.clip(1.0 - np.r_[0.0, c[:-1]], 1e-7, 1.0)
    ax.step(v * 1000.0, tail, where="post", color="tab:blue", lw=1.6, label="deliveries")
    for q, color in ((0.5, "tab:green"), (0.99, "tab:orange"), (0.999, "tab:red")):
        x = res.histogram.quantile(q) * 1000.0
        ax.axvline(x, color=color, ls="--", lw=THIN, label=f"{_qname(q)} = {fmt_ms(x)}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("delivery latency (ms, log scale)")
    ax.set_ylabel("share of deliveries slower (log scale)")
    ax.grid(True, which="both", alpha=0.3)  # not a catalog value
    ax.legend(loc="lower left", fontsize="small")
    ax.set_title(title or f"{res.scenario.name}: the latency tail")
    return ax


#: colours of the latency stages (simulator.metrics.stages.STAGES)
STAGE_COLORS = {"network": "#4c72b0", "api_gateway": "#8172b3", "lambda_cold_start": "#c44e52",
                "lambda_handler": "#dd8452", "dynamodb": "#55a868",
                "tier_or_cross_region": "#937860", "post_slot_wait": "#d62728",
                "throttle_wait": "#ff7f0e", "post_call": "#64b5cd", "service": "#8c8c8c",
                "server_tasks": "#17becf", "backplane": "#bcbd22", "poll_wait": "#7f7f7f"}


def latency_stages(results, ax: Axes | None = None, quantiles=(0.5, 0.99),
                   title: str | None = None) -> Axes:
    """What the latency is made of: for each run (a Result, or a dict label -> Result) and each
    quantile, a bar of the stage shares of the deliveries at that quantile, with its latency."""
    from simulator.metrics.stages import STAGES

    runs = results if isinstance(results, dict) else {results.scenario.architecture: results}
    bars = []
    for name, r in runs.items():
        for q in quantiles:
            sh = r.latency_stages.shares_at(q) if r.latency_stages is not None else {}
            bars.append((f"{name} {_qname(q)} ({fmt_ms(r.quantile(q))})", sh))
    ax = _new_ax(ax, figsize=(11, 0.6 * len(bars) + 1.8))  # not a catalog value
    y = np.arange(len(bars))
    left = np.zeros(len(bars))
    for stage in STAGES:
        v = np.array([100.0 * sh.get(stage, 0.0) for _, sh in bars])
        if not v.any():
            continue
        ax.barh(y, v, left=left, color=STAGE_COLORS[stage], label=stage.replace("_", " "),
                height=BAR_WIDTH)
        for yy, x0, w in zip(y, left, v):
            if w >= 8:
                ax.text(x0 + w / 2, float(yy), f"{w:.0f}%", ha="center", va="center",
                        fontsize="x-small", color=_ink(STAGE_COLORS[stage]))
        left += v
    ax.set_yticks(y, [b for b, _ in bars])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of the delivery latency at that quantile (%)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", title="stage")
    ax.set_title(title or "what the latency is made of")
    return ax


def connections_and_lambda(res, title: str | None = None) -> Figure:
    """Two panels over simulated time: connections (open, half-open, zombie rows) on a log
    scale, so that a few stale rows next to thousands of open connections stay visible; and
    Lambda concurrency by function, stacked, under the account limit."""
    import matplotlib.pyplot as plt

    ts = res.timeseries
    scn = res.scenario
    fig, (ax_conn, ax_lambda) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for col, lab in (("connections_open", "open"), ("connections_half_open", "half-open"),
                     ("zombie_rows", "zombie rows")):
        ax_conn.plot(ts.index, ts[col].clip(lower=0.8), label=f"{lab} (end: {ts[col].iloc[-1]:,.0f})")
    ax_conn.set_yscale("log")
    ax_conn.set_ylabel("connections (log scale)")
    ax_conn.set_title("Connections")
    fns = [c for c in ts.columns if c.startswith("lambda_concurrency_")
           and c != "lambda_concurrency_limit"]
    if fns:
        ax_lambda.stackplot(ts.index, *[ts[c] for c in fns],
                            labels=[c.removeprefix("lambda_concurrency_") for c in fns], alpha=0.8)
        ax_lambda.plot(ts.index, ts["lambda_concurrency_limit"], color="black", ls="--",
                       label=f"account limit ({ts['lambda_concurrency_limit'].iloc[-1]:,.0f})")
        ax_lambda.set_yscale("symlog", linthresh=10)
    ax_lambda.set_ylabel("concurrent executions (log above 10)")
    ax_lambda.set_title("Lambda concurrency by function (stacked)")
    ax_lambda.set_xlabel("simulated time (s)")
    for ax in (ax_conn, ax_lambda):
        if scn.warmup_s > 0:
            ax.axvspan(0, scn.warmup_s, color="grey", alpha=SHADE, lw=0, label="warm-up")
        ax.grid(True, alpha=0.3)  # not a catalog value
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    fig.suptitle(title or f"{scn.name}: connections and Lambda")
    fig.tight_layout()
    return fig


#: time-series columns :func:`fleet_timeline` draws (the ``containers`` design's probes)
_FLEET_COLUMNS = ("tasks_in_service", "tasks_running", "connections_open",
                  "fleet_connection_capacity", "task_connection_capacity",
                  "connections_rejected_per_s",
                  "task_cpu_utilisation_max", "task_cpu_utilisation_mean",
                  "autoscaling_metric", "autoscaling_target")


def fleet_timeline(res, title: str | None = None) -> Figure:
    """The server fleet of a ``containers`` run over simulated time, three panels sharing the
    time axis: the tasks (in service, and running: starting or draining too); the connections
    open against the fleet's connection capacity (tasks in service × connections per task),
    with the connection attempts refused per second on a second axis; the tasks' CPU
    utilisation (mean and busiest task, one value per metric period) with the 100% line and
    the autoscaling target (for a ``connections`` target, the average connections per task
    against it on a second axis). Deploys and task failures are marked.

    Parameters
    ----------
    res : Result
        A run of the ``containers`` design.
    title : str, optional

    Returns
    -------
    Figure

    Raises
    ------
    ScenarioError
        The run is not of the ``containers`` design (it has no fleet to draw).
    """
    import matplotlib.pyplot as plt

    from simulator.errors import ScenarioError

    scn = res.scenario
    if scn.architecture != "containers":
        raise ScenarioError("architecture", scn.architecture,
                            "fleet_timeline draws the server tasks of the 'containers' design; "
                            "run the scenario with architecture: containers")
    ts = res.timeseries
    _require(ts, _FLEET_COLUMNS)
    cfg = scn.containers
    t = ts.index
    fig, (ax_t, ax_c, ax_u) = plt.subplots(3, 1, figsize=(11, 9), sharex=True)

    ax_t.step(t, ts["tasks_running"], where="post", color="tab:grey", lw=1.4,
              label=f"running, starting or draining (peak {ts['tasks_running'].max():,.0f})")
    ax_t.step(t, ts["tasks_in_service"], where="post", color="tab:red", lw=1.8,
              label=f"in service (peak {ts['tasks_in_service'].max():,.0f})")
    ax_t.set_ylim(bottom=0)
    ax_t.set_ylabel("tasks")
    ax_t.set_title(f"Tasks ({cfg.task.vcpu:g} vCPU, {cfg.task.memory_gb:g} GB each)",
                   loc="left", fontsize="medium")

    n_task = float(ts["task_connection_capacity"].iloc[-1])
    ax_c.plot(t, ts["connections_open"], color="tab:blue", lw=1.6,
              label=f"open (peak {ts['connections_open'].max():,.0f})")
    ax_c.step(t, ts["fleet_connection_capacity"], where="post", color="black", ls="--", lw=1.2,
              label=f"limit: tasks in service × {fmt_number(n_task)} connections per task")
    ax_c.set_ylim(bottom=0)
    ax_c.set_ylabel("connections")
    ax_c.set_title("Connections against the fleet's capacity", loc="left", fontsize="medium")
    ax_r = ax_c.twinx()
    rej = ts["connections_rejected_per_s"]
    ax_r.plot(t, rej, color="tab:orange", lw=1.0,
              label=f"attempts refused per second (right axis; {rej.sum():,.0f} in all)")
    ax_r.set_ylim(bottom=0, top=max(float(rej.max()), 1.0) * 1.1)
    ax_r.set_ylabel("refused (attempts/s)", color="tab:orange")
    ax_r.tick_params(axis="y", colors="tab:orange")

    ax_u.plot(t, 100.0 * ts["task_cpu_utilisation_max"], color="tab:red", lw=1.4,
              label="busiest task")
    ax_u.plot(t, 100.0 * ts["task_cpu_utilisation_mean"], color="tab:purple", lw=1.4,
              label="mean over the tasks")
    ax_u.axhline(100.0, color="black", ls="--", lw=1.2, label="the limit (100%)")
    a = cfg.autoscaling
    extra: list = []
    if a.metric == "cpu":
        ax_u.step(t, 100.0 * ts["autoscaling_target"], where="post", color="tab:green", ls=":",
                  lw=1.6, label=f"autoscaling target ({100.0 * a.target:g}%)"
                                + ("" if a.enabled else ", autoscaling off"))
    else:
        ax_m = ax_u.twinx()
        ax_m.step(t, ts["autoscaling_metric"], where="post", color="tab:green", lw=1.4,
                  label="autoscaling metric: mean connections per task (right axis)")
        ax_m.step(t, ts["autoscaling_target"], where="post", color="tab:green", ls=":", lw=1.6,
                  label=f"autoscaling target ({a.target:,.0f} connections per task)"
                        + ("" if a.enabled else ", autoscaling off"))
        ax_m.set_ylim(bottom=0, top=1.15 * max(float(ts["autoscaling_metric"].max()),
                                               float(a.target)))
        ax_m.set_ylabel("connections per task", color="tab:green")
        ax_m.tick_params(axis="y", colors="tab:green")
        extra = ax_m.get_legend_handles_labels()[0]
    ax_u.set_ylim(bottom=0, top=max(110.0, 105.0 * float(ts["task_cpu_utilisation_max"].max())))
    ax_u.set_ylabel("CPU utilisation (% of the task's vCPUs)")
    ax_u.set_title(f"Task CPU (one value per {fmt_number(res.params['containers.metric_period_s'])}"
                   " s metric period)", loc="left", fontsize="medium")
    ax_u.set_xlabel("simulated time (s)")

    marks = [(d.at_s, "deploy", "tab:cyan") for d in cfg.deploys] + \
            [(f.at_s, "task failure", "tab:brown") for f in cfg.task_failures]
    for ax in (ax_t, ax_c, ax_u):   # the marks named once, in the top panel's legend
        if scn.warmup_s > 0:
            ax.axvspan(0, scn.warmup_s, color="grey", alpha=SHADE, lw=0,
                       label="warm-up" if ax is ax_t else "_nolegend_")
        for at, what, color in marks:
            ax.axvline(at, color=color, ls="-.", lw=THIN,
                       label=what if ax is ax_t else "_nolegend_")
        ax.grid(True, alpha=0.3)  # not a catalog value
    for ax, twin in ((ax_t, []), (ax_c, ax_r.get_legend_handles_labels()[0]), (ax_u, extra)):
        handles, labels = ax.get_legend_handles_labels()
        handles += twin
        labels += [h.get_label() for h in twin]
        keep = dict(zip(labels, handles))   # a mark once, however many times it was drawn
        ax.legend(list(keep.values()), list(keep.keys()), loc="upper left",
                  bbox_to_anchor=(1.12, 1), fontsize="small")
    fig.suptitle(title or f"{scn.name}: the server fleet ({scn.architecture})")
    fig.tight_layout()
    return fig


def qq(fit, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Quantile-quantile plot of a calibration fit (:class:`simulator.calibrate.Fit`).

    Per-request samples: the empirical quantiles (ms) against the fitted distribution's at
    the same plotting positions ``(k - 0.5) / n``, log axes, with the p50 and p99 marked.
    Period averages: the standardized averages against N(0, 1) quantiles (the model the fit
    assumes). Points on the diagonal mean a good fit."""
    from statistics import NormalDist

    ax = _new_ax(ax, figsize=(5, 5))  # not a catalog value
    n = len(fit.values_s)
    probs = (np.arange(1, n + 1) - 0.5) / n
    if fit.basis == "samples":
        d = fit.dist
        theo = np.array([d.quantile(p) for p in probs]) * 1000.0
        data = np.sort(fit.values_s) * 1000.0
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"fitted {fit.kind} quantile (ms)")
        ax.set_ylabel("measured quantile (ms)")
        for q, ls in ((0.5, ":"), (0.99, "--")):
            ax.axvline(d.quantile(q) * 1000.0, color="gray", ls=ls, lw=1,
                       label=f"fitted {_qname(q)} = {fmt_ms(d.quantile(q) * 1000.0)}")
    else:
        m, v = fit.moments
        theo = np.array([NormalDist().inv_cdf(p) for p in probs])
        data = np.sort((fit.values_s - m) * np.sqrt(fit.counts / v))
        ax.set_xlabel("N(0, 1) quantile")
        ax.set_ylabel("standardized period average (1)")
    lo, hi = min(theo.min(), data.min()), max(theo.max(), data.max())
    ax.plot([lo, hi], [lo, hi], color="black", lw=1, label="perfect fit (y = x)")
    ax.plot(theo, data, ".", ms=3, color="tab:blue", label=f"{fit.n:,} {'samples' if fit.basis == 'samples' else 'requests (period averages)'}")
    ax.set_title(title or f"{fit.key}: KS {fit.ks:.3f}")
    ax.legend(loc="upper left", fontsize=8)
    return ax


# ----------------------------------------------------------------------------- sensitivity


def _short_unit(unit_text: str) -> str:
    """``"s, one PostToConnection call ..."`` -> ``"s"``: the unit before its description."""
    head = str(unit_text).split(",")[0].split(" (")[0].strip()
    return head if len(head.split()) <= 3 else head.split()[0]


def _range_text(row) -> str:
    if isinstance(row["low"], (bool, np.bool_)):
        return "no / yes"
    u = _short_unit(row.get("unit", ""))
    what = "median " if row.get("varied") == "median" else ""
    return f"{what}{fmt_number(row['low'])}-{fmt_number(row['high'])} {u}".rstrip()


#: unit of a summary key by its ending, for keys without a LABELS entry
_SUFFIX_UNITS = (("_usd_per_month", "USD/month"), ("_usd", "USD"), ("_ms", "ms"),
                 ("_gb_seconds", "GB-s"), ("_seconds", "s"), ("_s", "s"), ("_bytes", "bytes"),
                 ("_fraction", "share"))


def _metric_label(metric: str) -> tuple[str, str]:
    """(axis label, unit) of a summary key: from LABELS, else its unit from its name's ending
    (``cost_usd`` -> USD), else a count."""
    if metric in LABELS:
        return label(metric), unit(metric)
    base = metric.split(".")[0]
    u = next((u for end, u in _SUFFIX_UNITS if base.endswith(end)), "count")
    return f"{metric} ({u})", u


def tornado(table: pd.DataFrame, ax: Axes | None = None,
            top: int | None = 15,  # not a catalog value
            title: str | None = None) -> Axes:
    """A tornado chart of a one-at-a-time sensitivity table
    (:func:`simulator.sensitivity`, ``method="oat"``): for each value, a bar from the baseline
    metric to the metric at the value's low end and one to its high end, the largest swing
    on top, the range tried in the label, and the baseline drawn.

    ``top`` keeps the largest swings (None: all). The metric comes from ``table.attrs``.
    """
    _require(table, ["key", "low", "high", "metric_low", "metric_high", "metric_baseline",
                     "swing"])
    if table.empty:
        raise ValueError("the sensitivity table is empty")
    metric = table.attrs.get("metric", "metric")
    rows = table.sort_values("swing", ascending=False, na_position="last", kind="stable")
    if top is not None:
        rows = rows.head(top)
    base = float(rows["metric_baseline"].iloc[0])
    ax = _new_ax(ax, figsize=(10, 0.5 * len(rows) + 1.8))  # not a catalog value
    y = np.arange(len(rows))
    lo = rows["metric_low"].to_numpy(dtype=float)
    hi = rows["metric_high"].to_numpy(dtype=float)
    ax.barh(y, lo - base, left=base, height=BAR_WIDTH, color="tab:blue",
            label="value at the low end of its range")
    ax.barh(y, hi - base, left=base, height=BAR_WIDTH, color="tab:red", alpha=0.75,
            label="value at the high end of its range")
    failed = ~(np.isfinite(lo) & np.isfinite(hi))
    for yy in y[failed]:
        ax.text(base, yy, " a run failed (see the table's error column)", va="center",
                fontsize="x-small")
    for yy in y[~failed & (lo == base) & (hi == base)]:
        ax.text(base, yy, " no change", va="center", fontsize="x-small", color="grey")
    xlabel, xunit = _metric_label(metric)
    ax.axvline(base, color="black", lw=THIN,
               label=f"baseline = {fmt_number(base)} {xunit}".rstrip())
    ax.set_yticks(y, [f"{r['key']}\n{_range_text(r)}" for _, r in rows.iterrows()],
                  fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("catalog value varied (range tried)")
    ax.grid(True, axis="x", alpha=0.3)  # not a catalog value
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    what = LABELS[metric][0] if metric in LABELS else metric
    ax.set_title(title or f"which assumptions move the {what} most")
    return ax


# ----------------------------------------------------------------------------- validation
def validation_blocking(table: pd.DataFrame, curves: pd.DataFrame, ax: Axes | None = None,
                        title: str | None = None) -> Axes:
    """Lambda's throttled share against Erlang-B: the analytic curve per concurrency ``c``
    (``simulator.validation.erlang_b_curve``), the model's estimates with their tolerance
    (the Student-t interval of the replications) as error bars.

    ``table``: rows of ``simulator.validation.lambda_blocking`` (``c``, ``erlangs``,
    ``expected``, ``simulated``, ``tolerance``)."""
    _require(table, ["c", "erlangs", "simulated", "tolerance"])
    _require(curves, ["c", "erlangs", "blocking"])
    ax = _new_ax(ax, figsize=(8, 4.5))
    for i, (c, cur) in enumerate(curves.groupby("c", sort=True)):
        color = f"C{i}"
        ax.plot(cur["erlangs"] / c, cur["blocking"], color=color, lw=1.4,
                label=f"Erlang-B, c = {c:,}")
        pts = table[table["c"] == c]
        if len(pts):
            ax.errorbar(pts["erlangs"] / c, pts["simulated"], yerr=pts["tolerance"], fmt="o",
                        color=color, ms=5, capsize=3,  # not a catalog value
                        label=f"model, c = {c:,} (± tolerance)")
    ax.set_yscale("log")
    ax.set_xlabel("offered load per execution (Erlangs / c)")
    ax.set_ylabel("throttled share of invocations (log scale)")
    ax.grid(True, which="both", alpha=0.3)  # not a catalog value
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title(title or "Lambda concurrency: model vs Erlang-B")
    return ax


def validation_errors(table: pd.DataFrame, ax: Axes | None = None,
                      title: str | None = None) -> Axes:
    """Every validation row's error as a share of its tolerance: inside ±1 passes. Rows
    with a zero tolerance (exact checks) sit at 0 when exact; anything outside ±1.5 is
    drawn at the edge with an arrow marker. Colour: pass (green) or fail (red)."""
    _require(table, ["group", "check", "error_abs", "tolerance", "passed"])
    n = len(table)
    ax = _new_ax(ax, figsize=(9, max(3.0, 0.22 * n + 1.2)))
    tol = table["tolerance"].to_numpy(dtype=float)
    err = table["error_abs"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(tol > 0, err / np.where(tol > 0, tol, 1.0),
                         np.where(err == 0, 0.0, np.sign(err) * np.inf))
    edge = 1.5  # not a catalog value
    shown = np.clip(share, -edge, edge)
    y = np.arange(n)[::-1]
    colors = np.where(table["passed"].to_numpy(dtype=bool), "tab:green", "tab:red")
    ax.barh(y, shown, color=colors, height=0.6)  # not a catalog value
    out = np.abs(share) > edge
    ax.scatter(shown[out], y[out], marker=">", color="tab:red", zorder=3)
    for x in (-1.0, 1.0):
        ax.axvline(x, color="black", ls="--", lw=THIN)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{g.split(' vs ')[0]}: {c}" for g, c in
                        zip(table["group"], table["check"])], fontsize="x-small")
    ax.set_xlim(-edge - 0.1, edge + 0.1)  # not a catalog value
    ax.set_xlabel("error / tolerance (−1 to 1 passes)")
    ax.legend(handles=[Patch(color="tab:green", label="pass"), Patch(color="tab:red", label="fail"),
                       Line2D([], [], color="black", ls="--", lw=THIN, label="tolerance")],
              loc="lower right", fontsize="small")
    ax.set_title(title or "Validation: error relative to tolerance, every check")
    return ax


# ----------------------------------------------------------------------------- capacity

#: (quantity, unit) of scenario settings used as loads or swept, by dotted path
PARAM_LABELS: dict[str, tuple[str, str]] = {
    "workload.clients": ("clients", "users"),
    "workload.channels.size": ("channel size", "subscribers"),
    "workload.arrivals.rate_per_s": ("connection arrival rate", "connections/s"),
    "workload.arrivals.extra_clients": ("flash-crowd clients", "clients"),
    "workload.publish.total_rate_per_s": ("message rate", "messages/s"),
    "workload.publish.rate_per_client_per_s": ("message rate per client", "messages/s"),
}
#: unit of a scenario setting by the ending of its path (units are in the names)
_PARAM_SUFFIX_UNITS = (("_per_s", "/s"), ("_ms", "ms"), ("_s", "s"), ("_bytes", "bytes"),
                       ("_mb", "MB"), ("_usd", "USD"), ("_fraction", "share"))


def param_label(col: str, log: bool = False) -> str:
    """Axis label of a scenario setting (``workload.clients`` or ``param.workload.clients``):
    ``"quantity (unit)"`` from :data:`PARAM_LABELS`, else the path with the unit its name ends
    in (``duration_s`` -> s), else a count."""
    path = col.removeprefix("param.")
    if path in PARAM_LABELS:
        name, u = PARAM_LABELS[path]
    else:
        name = path
        u = next((u for end, u in _PARAM_SUFFIX_UNITS if path.endswith(end)), "count")
    return f"{name} ({u}{', log scale' if log else ''})"


def sweep_breach_map(df: pd.DataFrame, x: str, y: str, by: str = "architecture",
                     annotate: str | None = "latency_p99_ms", title: str | None = None,
                     ax=None) -> Figure:
    """Which quota binds first over two swept parameters: a :func:`simulator.sweep` over a
    2-D grid, drawn as :func:`breach_map` (one panel per design, one cell per grid point,
    categorical colours, every quota shown in the legend).

    Parameters
    ----------
    df : DataFrame
        ``sim.sweep`` rows (one per run): ``param.<x>``, ``param.<y>``, ``by``,
        ``first_load_breach_quota``, ``first_load_breach_time_s``, ``error``.
    x, y : str
        The swept settings, with or without the ``param.`` prefix.
    by : str
        The design column (``architecture``; sweep ``architecture`` to compare designs).
    annotate : str or None
        A latency column (ms), averaged over the replications, written in each cell.
    title : str, optional
    ax : Axes or sequence of Axes, optional
        As :func:`breach_map`.

    Returns
    -------
    Figure
        A cell's limit is the first load limit to refuse work in most of its replications
        (``none`` when most saw none), with the median second it first did; runs that failed
        are left out (a point with none left shows as ``not run``).
    """
    x = x if x.startswith("param.") else f"param.{x}"
    y = y if y.startswith("param.") else f"param.{y}"
    _require(df, [x, y, by, "first_load_breach_quota", "first_load_breach_time_s"]
             + ([annotate] if annotate else []))
    ok = df[df["error"].isna()] if "error" in df else df
    rows = []
    for (d, xv, yv), g in ok.groupby([by, x, y], sort=False):
        quotas = [None if _is_none(q) else str(q) for q in g["first_load_breach_quota"]]
        first = max(set(quotas), key=lambda q: (quotas.count(q), q is None))
        at = g.loc[g["first_load_breach_quota"] == first, "first_load_breach_time_s"]
        row = {by: d, x: xv, y: yv, "first_binding_limit": first,
               "first_binding_s": float(at.median()) if first is not None and len(at) else None}
        if annotate:
            row[annotate] = float(pd.to_numeric(g[annotate], errors="coerce").mean())
        rows.append(row)
    table = pd.DataFrame(rows, columns=[by, x, y, "first_binding_limit", "first_binding_s"]
                         + ([annotate] if annotate else []))
    return breach_map(table, x, y, ax=ax, by=by, annotate=annotate, title=title,
                      xlabel=param_label(x), ylabel=param_label(y))


def _capacity_table(cap) -> pd.DataFrame:
    t = cap.table if hasattr(cap, "table") else cap
    _require(t, ["variant", "capacity", "bracket_low", "bracket_high", "status",
                 "binding_limit"])
    return t


def _sig3(v: float) -> str:
    """Three significant figures, thousands separated: ``1,830``, ``225,000``, ``49.5``."""
    r = float(f"{float(v):.3g}")
    return f"{r:,.0f}" if abs(r) >= 100 else f"{r:.3g}"


def capacity_frontier(cap, ax: Axes | None = None, title: str | None = None,
                      log: bool | None = None) -> Axes:
    """The capacity of each design: a bar to the largest load that held the SLO, a whisker to
    the first load that failed (the bracket), coloured by the limit that binds there.

    Parameters
    ----------
    cap : Capacity or DataFrame
        :func:`simulator.capacity`'s result (or its ``table``).
    ax : Axes, optional
    title : str, optional
    log : bool, optional
        A log load axis; default when the capacities span more than a factor of 30.

    Returns
    -------
    Axes
        Each bar is labelled with its capacity (three significant figures); a design that held at every load tried is
        hatched and labelled ``>=``; one that failed at every load has no bar. The legend lists
        every binding limit shown (``nothing refused`` when the SLO broke without a refusal and
        the verdict named no limit).
    """
    t = _capacity_table(cap)
    load = getattr(cap, "load", None) or str(t["load_key"].iloc[0])
    ax = _new_ax(ax, figsize=(max(9.0, 1.4 * len(t) + 6), 4.5))  # not a catalog value
    limits = list(dict.fromkeys("nothing named" if _is_none(b) else str(b)
                                for b in t["binding_limit"]))
    colors = {b: _LIMIT_COLORS[k % len(_LIMIT_COLORS)] for k, b in enumerate(limits)}
    colors["nothing named"] = NONE_COLOR
    xs = np.arange(len(t))
    tops = []
    for i, r in enumerate(t.itertuples(index=False)):
        cap_v = float(r.capacity) if not _is_none(r.capacity) else 0.0
        b = "nothing named" if _is_none(r.binding_limit) else str(r.binding_limit)
        unbounded = _is_none(r.bracket_high)
        ax.bar(i, cap_v, color=colors[b], edgecolor="black", lw=0.8, width=0.6,  # not a catalog value
               hatch="//" if unbounded else None)
        if not unbounded and cap_v > 0:
            ax.errorbar(i, cap_v, yerr=[[0.0], [float(r.bracket_high) - cap_v]], fmt="none",
                        ecolor="black", capsize=6, lw=1.2)
        text = (f">= {_sig3(cap_v)}" if unbounded else _sig3(cap_v)) if cap_v > 0 \
            else str(r.status)
        top = cap_v if unbounded else float(r.bracket_high)
        ax.annotate(text, (i, top), xytext=(0, 4), textcoords="offset points", ha="center",
                    va="bottom", fontsize="small", fontweight="bold")
        tops.append(top)
    ax.set_xticks(xs, [str(v) for v in t["variant"]])
    ax.set_xlabel("design")
    shown = [v for v in tops if v > 0] or [1.0]
    if log is None:
        log = max(shown) / min(shown) > 30  # not a catalog value
    ax.set_ylabel(param_label(load, log=log) + " at capacity")
    if log:
        ax.set_yscale("log")
        ax.set_ylim(min(shown) / 3, max(shown) * 4)   # room for the labels, in decades
    else:
        ax.set_ylim(0, max(shown) * 1.18)
    handles: list[Artist] = [Patch(facecolor=colors[b], edgecolor="black", label=b) for b in limits]
    handles.append(Line2D([], [], color="black", marker="_", ms=12, ls="-",
                          label="whisker: first load that broke the SLO"))
    if any(_is_none(v) for v in t["bracket_high"]):
        handles.append(Patch(facecolor="white", edgecolor="black", hatch="//",
                             label="held at every load tried"))
    slo = getattr(cap, "slo", None)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small",
              title="binding limit above capacity"
                    + (f"\nSLO: {', '.join(f'{k} <= {fmt_number(v)}' for k, v in slo.items())}"
                       if slo else ""), title_fontsize="small")
    ax.grid(True, axis="y", alpha=0.3)  # not a catalog value
    if title:
        ax.set_title(title)
    return ax


def capacity_cost(cap, ax: Axes | None = None, y: str = "cost_usd_per_1k_users_month",
                  title: str | None = None) -> Axes:
    """Cost per 1,000 users along each design's way to its capacity: the loads that held the
    SLO (one line per design, log load axis), its capacity starred.

    Parameters
    ----------
    cap : Capacity
        :func:`simulator.capacity`'s result (its ``points``).
    ax : Axes, optional
    y : str
        A cost column of ``cap.points``: ``cost_usd_per_1k_users_month`` (default) or
        ``cost_usd_per_month``.
    title : str, optional

    Returns
    -------
    Axes
        Loads that broke the SLO are left out: refused work is not billed, so their cost
        understates what the load needs.
    """
    pts = cap.points
    _require(pts, ["variant", "load", "holds", y])
    ax = _new_ax(ax, figsize=(9, 4.5))  # not a catalog value
    names = [str(v) for v in cap.table["variant"]]
    for name in names:
        d = pts[(pts["variant"] == name) & pts["holds"].astype(bool)].sort_values("load")
        color, marker = design_color(name, names), design_marker(name, names)
        if d.empty:
            ax.plot([], [], color=color, ls=":", label=f"{name}: no load held the SLO")
            continue
        ax.plot(d["load"], d[y], "-", marker=marker, color=color, lw=1.6, ms=5,  # not a catalog value
                label=f"{name}: capacity {fmt_approx(d['load'].iloc[-1])}, "
                      f"{fmt_usd(float(d[y].iloc[-1]))}")
        ax.plot(d["load"].iloc[-1], d[y].iloc[-1], marker="*", ms=16, color=color, mec="black",
                ls="none", zorder=4)
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], marker="*", ms=12, color="grey", mec="black", ls="none",
                          label="star: capacity (largest load within the SLO)"))
    ax.set_xscale("log")
    ax.set_xlabel(param_label(cap.load, log=True))
    ax.set_ylabel(label(y) if y in LABELS else _metric_label(y)[0])
    ax.grid(True, which="both", alpha=0.3)  # not a catalog value
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small",
              title="design: capacity, cost there", title_fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def breach_timelines(comparison, title: str | None = None) -> Figure:
    """Requests refused per second by each load limit, one panel per design that had any
    (mean over the replications, on a log count axis), the warm-up shaded.

    Parameters
    ----------
    comparison : Comparison
        :func:`simulator.compare`'s result (its ``timeline``).
    title : str, optional

    Returns
    -------
    Figure
        One panel per design with a refusal, one line per limit (its total per run in the
        legend); the designs without one are named in the figure's title.

    Raises
    ------
    ValueError
        When no design had a request refused (there is nothing to draw).
    """
    tl = comparison.timeline
    _require(tl, ["variant", "replication", "time_s", "quota", "effect", "count"])
    refused = tl[tl["effect"] == "refused"]
    names = [v for v in comparison.variants if v in set(refused["variant"])]
    if not names:
        raise ValueError("no design had a request refused: no breach timeline to draw")
    clean = [v for v in comparison.variants if v not in names]
    scn = comparison.scenario
    fig = Figure(figsize=(11, 2.2 * len(names) + 0.8), layout="constrained")
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    quotas = sorted(set(refused["quota"]))
    colors = {q: _LIMIT_COLORS[k % len(_LIMIT_COLORS)] for k, q in enumerate(quotas)}
    reps = comparison.runs.groupby("variant")["replication"].nunique()
    for ax, name in zip(axes, names):
        mine = refused[refused["variant"] == name]
        per_s = (mine.groupby(["quota", "time_s"])["count"].sum() / reps[name]).unstack(0)
        full = np.arange(0.0, float(scn.duration_s), float(scn.engine.timeseries_step_s))
        per_s = per_s.reindex(full, fill_value=0.0).fillna(0.0)
        for q in per_s.columns:
            ax.plot(per_s.index, per_s[q], color=colors[q], lw=1.2,
                    label=f"{q} ({per_s[q].sum():,.0f} per run)")
        if scn.warmup_s > 0:
            ax.axvspan(0, scn.warmup_s, color="grey", alpha=SHADE, label="warm-up")
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("refused (requests/s)")
        ax.set_title(name, loc="left", fontsize="medium")
        ax.grid(True, alpha=0.3)  # not a catalog value
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    axes[-1].set_xlabel("simulated time (s)")
    head = title or f"{scn.name}: requests refused per second, by limit"
    if clean:
        head += f" (none refused: {', '.join(clean)})"
    fig.suptitle(head)
    return fig


# ----------------------------------------------------------------------------- realtime features

#: where the "no message delivered" marks sit (axes fraction), how far the labels tilt (deg)
_FOOT, _TILT = 0.04, 15  # not a catalog value (figure layout)
#: how :func:`feature_impact` names the feature sets of :func:`simulator.feature_impact`
FEATURE_LABELS = {"none": "no features", "presence": "presence", "typing": "typing",
                  "history_on_join": "history on join", "fallback": "HTTP polling",
                  "all": "all of them"}


def feature_impact(table: pd.DataFrame, title: str | None = None,
                   slo_ms: float | None = None) -> Figure:
    """What each realtime feature adds, by design (the table of
    :func:`simulator.feature_impact`): left, the extra cost as a share of the design's bill
    without features; right, the users' p99 latency with each feature set (log scale; a
    cross where no message was delivered in the measured window), with ``slo_ms`` drawn."""
    import matplotlib.pyplot as plt

    _require(table, ["variant", "features", "extra_cost_share", "extra_cost_usd_per_month",
                     "latency_p99_ms"])
    _one_row_per(table, ["variant", "features"])
    designs = _designs(table, "variant")
    sets = list(dict.fromkeys(table["features"].tolist()))
    extra = [s for s in sets if s != "none"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), layout="constrained")
    width = 0.8 / max(len(designs), 1)
    t = table.set_index(["variant", "features"])
    for k, d in enumerate(designs):
        color = design_color(d, designs)
        xs = np.arange(len(extra)) + (k - (len(designs) - 1) / 2) * width
        share = [100.0 * _nz(t.loc[(d, s), "extra_cost_share"]) for s in extra]
        left.bar(xs, share, width=width, color=color, label=d)
        xr = np.arange(len(sets)) + (k - (len(designs) - 1) / 2) * width
        p99 = [t.loc[(d, s), "latency_p99_ms"] for s in sets]
        ok = [not _is_none(v) for v in p99]
        right.bar(xr[ok], [v for v, o in zip(p99, ok) if o], width=width, color=color)
        right.plot(xr[[not o for o in ok]], [_FOOT] * (len(ok) - sum(ok)), "x", color=color,
                   markersize=9, transform=right.get_xaxis_transform())
    left.axhline(0.0, color="black", linewidth=0.8)
    left.set_xticks(np.arange(len(extra)), [FEATURE_LABELS.get(s, s) for s in extra])
    left.set_ylabel("extra cost (% of the bill without features)")
    left.set_xlabel("feature")
    left.legend(title="design", fontsize="small")
    right.set_yscale("log")
    right.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_ms(v)))
    right.yaxis.set_minor_formatter(NullFormatter())
    right.set_xticks(np.arange(len(sets)), [FEATURE_LABELS.get(s, s) for s in sets],
                     rotation=_TILT)
    right.set_ylabel("users' messages, p99 latency")
    right.set_xlabel("features on")
    handles = [Line2D([], [], marker="x", linestyle="", color="black",
                      label="no message delivered")]
    if slo_ms is not None:
        right.axhline(slo_ms, color="black", linestyle="--", linewidth=1)
        handles.append(Line2D([], [], color="black", linestyle="--",
                              label=f"SLO {fmt_ms(slo_ms)}"))
    right.legend(handles=handles, fontsize="small", loc="upper left")
    if title:
        fig.suptitle(title)
    return fig


def _nz(v) -> float:
    return 0.0 if _is_none(v) else float(v)


def scaling(table: pd.DataFrame, wall_targets: dict[int, float] | None = None,
            memory_limit_mb: float | None = None, title: str | None = None) -> Figure:
    """The simulator's own cost against size (the table of ``benchmarks/bench_scale.py``:
    ``design``, ``connections``, ``wall_s_per_sim_minute``, ``peak_rss_mb``): left, wall time
    per simulated minute; right, peak memory; log-log, one line per design. ``wall_targets``
    (connections -> wall seconds per simulated minute) are drawn as crosses, ``memory_limit_mb``
    as a dashed line."""
    import matplotlib.pyplot as plt

    _require(table, ["design", "connections", "wall_s_per_sim_minute", "peak_rss_mb"])
    _one_row_per(table, ["design", "connections"])
    designs = _designs(table, "design")
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    for d in designs:
        t = table[table["design"] == d].sort_values("connections")
        style = dict(color=design_color(d, designs), marker=design_marker(d, designs), label=d)
        left.plot(t["connections"], t["wall_s_per_sim_minute"], **style)
        right.plot(t["connections"], t["peak_rss_mb"], **style)
    handles: list[Artist] = []
    if wall_targets:
        xs, ys = zip(*sorted(wall_targets.items()))
        left.plot(xs, ys, "X", color="black", markersize=11, linestyle="")
        handles.append(Line2D([], [], marker="X", color="black", linestyle="",
                              label="target (wall per simulated minute)"))
    left.legend(handles=left.get_legend_handles_labels()[0] + handles, title="design",
                fontsize="small")
    if memory_limit_mb is not None:
        right.axhline(memory_limit_mb, color="black", linestyle="--", linewidth=1)
        right.legend(handles=right.get_legend_handles_labels()[0] + [
            Line2D([], [], color="black", linestyle="--",
                   label=f"target {memory_limit_mb:,.0f} MB")], title="design",
                     fontsize="small")
        right.set_ylim(0, max(memory_limit_mb, float(table["peak_rss_mb"].max())) * 1.1)
    else:
        right.set_ylim(0, None)
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    left.set_yscale("log")
    left.yaxis.set_major_formatter(plain)
    left.yaxis.set_minor_formatter(NullFormatter())
    for ax, ylabel in ((left, "wall time per simulated minute (s, set-up included)"),
                       (right, "peak memory of the process (MB)")):
        ax.set_xscale("log")
        ax.set_xlabel("connections")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", alpha=0.3)  # not a catalog value
    if title:
        fig.suptitle(title)
    return fig
