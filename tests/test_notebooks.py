"""Notebook tests: every ``notebooks/*.ipynb`` runs end to end at a small size, headless.

Each notebook has one cell tagged ``parameters`` (papermill convention). The execution test
inserts a cell right after it that shrinks the run, executes the notebook with nbclient and
checks the outputs (no error, no traceback, figures drawn).

The kernel runs with ``MPLBACKEND=Agg`` (headless), under which ``plt.show()`` displays nothing;
so the test appends a last cell that renders every figure still open to PNG and displays it.
That both proves the figures draw without error (log axes, layout) and gives ``image/png``
outputs to check.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))

# An override with this value is replaced by a fresh temporary directory (a notebook's store of
# sweep results: the small run neither reads nor leaves results of another size).
TMP_DIR = "<tmp_path>"

# Small-size parameter overrides, by notebook file name.
OVERRIDES: dict[str, dict[str, object]] = {
    "00_what_if.ipynb": {"duration_s": 20.0, "what_if_clients": 3000,
                         "what_if_channel_size": 20},
    "01_quickstart.ipynb": {"clients": 300, "duration_s": 60.0, "warmup_s": 10.0},
    "02_basic_vs_broadcast.ipynb": {"sizes": [10, 300], "rates": [1.0], "duration_s": 40.0,
                                    "warmup_s": 10.0, "replications": 1, "workers": 1,
                                    "cdf_size": 300, "cdf_rate": 1.0},
    "03_multi_region.ipynb": {"clients": 1500, "duration_s": 90.0, "warmup_s": 20.0,
                               "replications": 1, "workers": 1, "outage_clients": 600,
                               "outage_duration_s": 600.0},
    "04_capacity_sweep.ipynb": {"duration_s": 30.0, "warmup_s": 10.0,
                                "designs": ["basic", "appsync"], "start_clients": 1000,
                                "growth": 4.0, "rtol": 0.25, "replications": 1, "workers": 1,
                                "map_designs": ["basic"], "map_clients": [1000, 10000],
                                "map_rates": [0.5, 4.0], "map_duration_s": 20.0},
    "05_failure_modes.ipynb": {"clients": 300, "duration_s": 120.0, "warmup_s": 20.0,
                               "storm_clients": 2000, "storm_duration_s": 120.0,
                               "storm_at_s": 30.0, "replications": 1, "workers": 1,
                               "results_dir": TMP_DIR},
    "06_design_review.ipynb": {"clients": 500, "duration_s": 40.0, "warmup_s": 10.0,
                               "designs": ["basic", "appsync",
                                           "multi_region@us-east-1+eu-central-1"],
                               "replications": 2, "workers": 1, "sensitivity_clients": 300,
                               "sensitivity_duration_s": 30.0, "out_dir": TMP_DIR},
    "07_validation.ipynb": {"size": "small"},
    "08_serverless_vs_containers.ipynb": {"users": [300, 3000], "rates": [1 / 600, 1 / 10],
                                          "rate_users": 300, "duration_s": 60.0,
                                          "warmup_s": 10.0, "replications": 1, "workers": 1,
                                          "surge_extra_clients": 3000,
                                          "surge_duration_s": 150.0, "deploy_clients": 500,
                                          "deploy_duration_s": 150.0, "deploy_at_s": 30.0},
    "09_realtime_features.ipynb": {"clients": 300, "duration_s": 40.0, "warmup_s": 10.0,
                                   "designs": ["basic", "appsync", "managed", "containers"],
                                   "room_sizes": [5, 20], "fill_s": 10.0, "counts_above": 10,
                                   "room_designs": ["basic", "managed"], "live_clients": 300,
                                   "live_designs": ["basic", "managed"], "workers": 1},
}
# For notebooks not listed above: applied to those of these names the parameters cell defines.
DEFAULT_OVERRIDES: dict[str, object] = {"clients": 300, "duration_s": 60.0, "warmup_s": 10.0}

# At least this many figures, by notebook file name (default 1).
MIN_FIGURES: dict[str, int] = {"01_quickstart.ipynb": 5, "02_basic_vs_broadcast.ipynb": 4,
                               "03_multi_region.ipynb": 4, "04_capacity_sweep.ipynb": 3,
                               "06_design_review.ipynb": 4,
                               "07_validation.ipynb": 2, "08_serverless_vs_containers.ipynb": 6,
                               "09_realtime_features.ipynb": 3}

RENDER_FIGURES = """\
import io as _io

import matplotlib.pyplot as _plt
from IPython.display import Image as _Image
from IPython.display import display as _display

for _n in _plt.get_fignums():
    _buf = _io.BytesIO()
    _plt.figure(_n).savefig(_buf, format="png")
    _display(_Image(data=_buf.getvalue(), format="png"))
"""

FORBIDDEN_IN_CODE = ("matplotlib.use(", "import simpy", "env.run")


def _ids(paths):
    return [p.name for p in paths]


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _parameter_cells(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]


def _defined_names(source: str) -> set[str]:
    """Names assigned at top level of a parameters cell (``name = ...`` lines)."""
    names = set()
    for line in source.splitlines():
        head, sep, _ = line.partition("=")
        head = head.split(":")[0].strip()  # allow ``name: type = value``
        if sep and head.isidentifier() and not line.lstrip().startswith("#"):
            names.add(head)
    return names


def _overrides_for(path: Path, param_source: str) -> dict[str, object]:
    if path.name in OVERRIDES:
        return OVERRIDES[path.name]
    defined = _defined_names(param_source)
    return {k: v for k, v in DEFAULT_OVERRIDES.items() if k in defined}


def test_notebooks_exist():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOKS_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_structure(path: Path):
    nb = _read(path)
    nbformat.validate(nb)
    params = _parameter_cells(nb)
    assert len(params) == 1, f"{path.name}: {len(params)} cells tagged 'parameters', want 1"
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert code_cells and code_cells[0] is nb.cells[params[0]], (
        f"{path.name}: the 'parameters' cell must be the first code cell")
    for i, cell in enumerate(code_cells):
        for bad in FORBIDDEN_IN_CODE:
            assert bad not in cell.source, f"{path.name}: code cell {i} contains {bad!r}"
        assert not cell.get("outputs"), f"{path.name}: code cell {i} is saved with outputs"
        assert cell.get("execution_count") is None, f"{path.name}: code cell {i} has a count"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_executes(path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from nbclient import NotebookClient

    nb = _read(path)
    (idx,) = _parameter_cells(nb)
    overrides = {k: str(tmp_path / k) if v == TMP_DIR else v
                 for k, v in _overrides_for(path, nb.cells[idx].source).items()}
    src = "\n".join(f"{k} = {v!r}" for k, v in overrides.items())
    nb.cells.insert(idx + 1, nbformat.v4.new_code_cell(
        src, metadata={"tags": ["injected-parameters"]}))
    nb.cells.append(nbformat.v4.new_code_cell(RENDER_FIGURES, metadata={"tags": ["injected"]}))

    monkeypatch.setenv("MPLBACKEND", "Agg")  # the kernel inherits the environment: headless
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS_DIR)}})
    client.execute()  # raises CellExecutionError on the first failing cell

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: error outputs: {[e.get('ename') for e in errors]}"
    for o in outputs:
        text = o.get("text", "") + "".join(
            str(v) for k, v in o.get("data", {}).items() if k.startswith("text/"))
        assert "Traceback" not in text, f"{path.name}: an output contains a traceback:\n{text}"
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    want = MIN_FIGURES.get(path.name, 1)
    assert len(images) >= want, f"{path.name}: {len(images)} figures (image/png), want >= {want}"
    assert all(len(o["data"]["image/png"]) > 1000 for o in images), "an empty figure"
    assert all(c.get("execution_count") is not None for c in nb.cells if c.cell_type == "code")
    for k, v in overrides.items():   # a notebook given a folder wrote its sweeps or report there
        if _overrides_for(path, nb.cells[idx].source)[k] == TMP_DIR:
            import simulator as sim

            stores = sorted(p.parent for p in Path(v).glob("*/manifest.json"))
            reports = sorted(Path(v).glob("*.html"))
            assert stores or reports, f"{path.name}: no sweep stored nor report written in {k}"
            assert all(len(sim.load_sweep(d)) for d in stores)
            assert all('<section id="recommendation"' in r.read_text() for r in reports)
