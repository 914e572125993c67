"""A what-if panel for the first minute in a notebook: the knobs an architect turns first
(users, channel size, message rate, payload, design, Region, the account throttle, Lambda
concurrency) over a short simulation, redrawn on each change: the verdict, the headroom of
every quota, and the latency CDF.

>>> from simulator.widgets import WhatIf
>>> panel = WhatIf("chat-basic")          # doctest: +SKIP
>>> panel                                  # doctest: +SKIP  (displays in JupyterLab)

The panel needs ``ipywidgets`` (the ``notebooks`` extra). Without a browser (tests), set the
controls' values and call :meth:`WhatIf.update`; ``panel.result`` is the last run.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from simulator.units import MINUTE

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from simulator.metrics.result import Result

#: the knobs: name -> (label, kind, slider range); a range of None is read from the catalog
KNOBS = {
    "clients": ("users", "log", (100, 1e6)),  # not a catalog value (slider range)
    "channel_size": ("channel size (members)", "log", (2, 1e5)),  # not a catalog value
    "messages_per_user_per_min": ("messages per user per minute", "float",
                                  (0.1, 60.0)),  # not a catalog value
    "payload_bytes": ("payload (bytes)", "log", None),   # up to API Gateway's maximum
    "design": ("design", "choice", None),
    "region": ("Region", "choice", None),
    "throttle_rps": ("API Gateway account throttle (requests/s)", "log",
                     (1e3, 1e6)),  # not a catalog value
    "lambda_concurrency": ("Lambda account concurrency", "log", (1e2, 1e5)),  # not a catalog value
}


class WhatIf:
    """The what-if panel (see the module).

    Parameters
    ----------
    scenario : str or Scenario
        A bundled scenario name, a YAML path, or a loaded scenario (its values are the
        starting point).
    duration_s : float
        Simulated seconds per re-run (short: the panel redraws on every change).
    auto : bool
        Re-run on every change of a control (False: only on the button).
    """

    def __init__(self, scenario="chat-basic", duration_s: float = 60.0,  # not a catalog value
                 auto: bool = True):
        import ipywidgets as w

        from simulator.architectures import registry
        from simulator.costs import price_book
        from simulator.scenario import Scenario, load_scenario, resolve

        base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.base = base.with_overrides({"duration_s": duration_s,
                                         "warmup_s": min(base.warmup_s, duration_s / 4)})
        p = resolve(self.base)
        pub = self.base.workload.publish
        if pub.rate_per_client_per_s is not None:
            rate = pub.rate_per_client_per_s
        else:
            assert pub.total_rate_per_s is not None   # the schema: exactly one of the two
            rate = pub.total_rate_per_s / max(self.base.workload.clients, 1)
        start = {
            "clients": self.base.workload.clients,
            "channel_size": _dist_mean(self.base.workload.channels.size),
            "messages_per_user_per_min": rate * MINUTE,
            "payload_bytes": _dist_mean(pub.payload_bytes),
            "design": self.base.architecture,
            "region": self.base.region,
            "throttle_rps": p["api_gateway.account_throttle_rps"],
            "lambda_concurrency": p["lambda.account_concurrency"],
        }
        designs = [d for d in registry.names() if d != "multi_region"]
        regions = sorted(price_book().regions)
        self.controls = {}
        ranges = {"payload_bytes": (16, p["api_gateway.max_payload_bytes"])}  # not a catalog value
        for name, (label, kind, opt) in KNOBS.items():
            v = start[name]
            style = {"description_width": "initial"}
            opt = opt or ranges.get(name)
            if kind == "log":
                assert opt is not None   # a slider has a range (in KNOBS or from the catalog)
                lo, hi = opt
                v = min(max(v, lo), hi)
                c = w.FloatLogSlider(value=v, base=10, min=math.log10(lo), max=math.log10(hi),
                                     step=0.05, description=label, style=style,
                                     readout_format=",.0f", continuous_update=False)
            elif kind == "float":
                assert opt is not None
                lo, hi = opt
                c = w.FloatSlider(value=min(max(v, lo), hi), min=lo, max=hi, step=lo,   # not a catalog value
                                  description=label, style=style, continuous_update=False)
            else:
                choices = designs if name == "design" else regions
                c = w.Dropdown(options=choices, value=v if v in choices else choices[0],
                               description=label, style=style)
            self.controls[name] = c
        self.button = w.Button(description="run again", icon="refresh")
        self.output = w.Output()
        self.result: Result | None = None   # the last run
        self.text = ""            # its verdict, as printed
        self.figure: Figure | None = None   # its headroom bars and latency CDF
        self.error: str | None = None
        self.button.on_click(lambda _: self.update())
        if auto:
            for c in self.controls.values():
                c.observe(lambda _: self.update(), names="value")
        self.panel = w.VBox([w.HBox([w.VBox(list(self.controls.values())[:4]),
                                     w.VBox(list(self.controls.values())[4:] + [self.button])]),
                             self.output])

    # -- the scenario the controls describe ----------------------------------------------------------
    def overrides(self) -> dict:
        """The scenario settings of the controls' current values."""
        v = {k: c.value for k, c in self.controls.items()}
        out = {
            "workload.clients": int(round(v["clients"])),
            "workload.channels.size": {"kind": "fixed", "value": float(round(v["channel_size"]))},
            "workload.publish.rate_per_client_per_s": v["messages_per_user_per_min"] / MINUTE,
            "workload.publish.total_rate_per_s": None,
            "workload.publish.payload_bytes": {"kind": "fixed", "value": float(round(v["payload_bytes"]))},
            "architecture": v["design"],
            "region": v["region"],
            "aws.api_gateway.account_throttle_rps": float(v["throttle_rps"]),
            "aws.lambda.account_concurrency": int(round(v["lambda_concurrency"])),
        }
        return out

    def update(self) -> None:
        """Run the scenario the controls describe and redraw."""
        import matplotlib.pyplot as plt

        from simulator.engine import run
        from simulator.errors import ScenarioError
        from simulator.plots import latency_cdfs

        self.output.clear_output(wait=True)
        with self.output:
            try:
                scn = self.base.with_overrides(self.overrides())
                self.result = run(scn, progress=False)
                self.error = None
            except ScenarioError as e:
                self.error = str(e)
                print(f"error: {e}")
                return
            v = self.result.verdict()
            self.text = str(v)
            print(self.text)
            fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 3.8))
            self.figure = fig
            _headroom_bars(v.headroom, a1)
            cdf = self.result.latency_cdf().assign(variant=scn.architecture)
            latency_cdfs(cdf, ax=a2, title="delivery latency")
            fig.tight_layout()
            plt.show()

    def _ipython_display_(self):
        from IPython.display import display

        self.update()
        display(self.panel)


def _headroom_bars(room, ax) -> None:
    """Peak use of each quota as a share of its limit, with the 100% line."""
    if not len(room):
        ax.text(0.5, 0.5, "no quota measured for this design", ha="center", va="center",
                transform=ax.transAxes)
        return
    r = room.iloc[::-1]
    share = 100.0 * r["peak_share"].to_numpy()
    colors = ["tab:red" if s >= 100 else "tab:orange" if s >= 70 else "tab:green"  # not a catalog value
              for s in share]
    ax.barh(range(len(r)), share, color=colors)
    ax.set_yticks(range(len(r)), list(r["limit"]))
    ax.axvline(100.0, color="black", ls="--", lw=1, label="the limit")
    for y, s in enumerate(share):
        ax.text(s, y, f" {s:.0f}%", va="center", fontsize="small")
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlabel("peak use as a share of the limit (%, log above 10%)")
    ax.set_title("headroom")
    ax.legend(loc="lower right", fontsize="small")


def _dist_mean(d) -> float:
    from simulator.scenario import build_dist

    return float(build_dist(d).mean)
