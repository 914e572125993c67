"""Figures of a report: drawn by :mod:`simulator.plots`, embedded as PNG ``data:`` URIs
(no file beside the HTML, nothing fetched), each with a caption that says what it shows."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

from matplotlib.figure import Figure

#: resolution of the embedded PNGs (sharp on screen and in print at A4 width)
DPI = 110   # not a catalog value


@dataclass
class Embedded:
    """One figure of the report: its ``data:`` URI, alt text and caption."""

    title: str
    uri: str
    alt: str
    caption: str = ""


def new_axes(figsize=(11, 4.5)):
    """Axes on a figure that belongs to no pyplot state (nothing to close)."""
    return Figure(figsize=figsize, layout="constrained").subplots()


def embed(drawn, title: str, caption: str = "") -> Embedded:
    """A figure (or the figure of an Axes) as a PNG ``data:`` URI; pyplot figures are
    closed after rendering."""
    fig = drawn if isinstance(drawn, Figure) else drawn.figure
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)   # a figure a helper made through pyplot; a no-op for the others
    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return Embedded(title, uri, alt=title, caption=caption)
