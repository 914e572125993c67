"""A sweep's result store: a directory that survives a crash and resumes.

Layout::

    DIR/manifest.json              what the sweep is: base scenario (resolved, as a dict),
                                   design, points, replications, precision, seeds, version
    DIR/runs/p000003-r0001.parquet one file per finished run (point 3, replication 1):
                                   one row, the same columns as the sweep's DataFrame

Every file is written to a temporary name in the same directory and renamed into place
(``os.replace``, atomic on POSIX), so a process killed at any instant leaves either the whole
file or none: a sweep killed with SIGKILL loses only the runs in progress. Files are named by
run id, so a run written twice (a retried failure) replaces its earlier row; the loader also
drops duplicates by run id. A store is opened for one experiment only: a different base
scenario, design, replications or precision is refused rather than mixed in.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.errors import ScenarioError

FORMAT = 1   # not a catalog value: the store's layout version
MANIFEST = "manifest.json"
RUNS = "runs"
_RUN_FILE = re.compile(r"^p(\d+)-r(\d+)\.parquet$")


def run_file(point: int, replication: int) -> str:
    return f"p{point:06d}-r{replication:04d}.parquet"


def _jsonable(x: Any) -> Any:
    """``x`` as JSON would give it back (tuples as lists, numpy numbers as Python ones,
    anything else as its repr), so stored and new manifests compare equal."""
    return json.loads(json.dumps(x, default=_default))


def _default(x: Any) -> Any:
    import numpy as np

    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    return repr(x)


def first_difference(a: Any, b: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """The first dotted path where two JSON-like values differ: (path, a's, b's), or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            d = first_difference(a.get(k), b.get(k), f"{path}.{k}" if path else str(k))
            if d is not None:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d is not None:
                return d
        return None
    return None if a == b else (path, a, b)


def _atomic_write(path: Path, write) -> None:
    """``write(tmp_path)``, then rename into ``path``: the file is whole or absent."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# the parts of a manifest that define the experiment (a resume must match them all)
IDENTITY = ("scenario", "resolved", "design", "points", "replications", "precision", "seeds")


class SweepStore:
    """An open result store (see the module docstring). Use :meth:`open`."""

    def __init__(self, root: Path, manifest: dict):
        self.root = root
        self.manifest = manifest

    @classmethod
    def open(cls, root: str | os.PathLike, manifest: dict) -> SweepStore:
        """Create the store at ``root``, or reopen it if it holds the same experiment.

        Raises :class:`ScenarioError` when ``root`` holds another experiment (naming the
        first field that differs) or is a non-empty directory that is not a store.
        """
        path = Path(root)
        manifest = _jsonable(manifest)
        if path.exists() and not path.is_dir():
            raise ScenarioError("out", str(root), "is a file; give a directory for the store")
        mpath = path / MANIFEST
        if mpath.exists():
            stored = read_manifest(path)
            for key in IDENTITY:
                d = first_difference(stored.get(key), manifest.get(key), key)
                if d is not None:
                    where, old, new = d
                    raise ScenarioError(
                        "out", str(root),
                        f"holds a sweep of a different experiment ({where}: stored "
                        f"{_short(old)}, now {_short(new)}); resume it with the same "
                        "scenario, design, replications and precision, or give another "
                        "directory")
            if stored.get("version") != manifest.get("version"):
                warnings.warn(f"the sweep in {root} was started by wscap "
                              f"{stored.get('version')}, this is {manifest.get('version')}: "
                              "its stored rows and the new ones come from different versions",
                              stacklevel=3)
            manifest = stored
        else:
            if path.is_dir() and any(p.name != RUNS for p in path.iterdir()):
                raise ScenarioError("out", str(root), "is a non-empty directory without a "
                                    f"{MANIFEST}: not a sweep store; give a new or empty one")
            (path / RUNS).mkdir(parents=True, exist_ok=True)
            _atomic_write(mpath, lambda tmp: Path(tmp).write_text(
                json.dumps(manifest, indent=1, default=_default) + "\n"))
        (path / RUNS).mkdir(exist_ok=True)
        for stale in (path / RUNS).glob(".tmp-*"):   # a write cut short by a kill
            stale.unlink(missing_ok=True)
        return cls(path, manifest)

    def write(self, row: dict) -> None:
        """Store one finished run (a row with ``point`` and ``replication``)."""
        target = self.root / RUNS / run_file(int(row["point"]), int(row["replication"]))
        frame = pd.DataFrame([row])
        _atomic_write(target, lambda tmp: frame.to_parquet(tmp, index=False))

    def rows(self) -> dict[tuple[int, int], dict]:
        """The stored runs by (point, replication)."""
        return read_rows(self.root)


def _short(v: Any, n: int = 120) -> str:
    t = repr(v)
    return t if len(t) <= n else t[: n - 3] + "..."


def read_manifest(root: str | os.PathLike) -> dict:
    path = Path(root) / MANIFEST
    try:
        m = json.loads(path.read_text())
    except FileNotFoundError:
        raise ScenarioError("out", str(root), f"has no {MANIFEST}: not a sweep store") from None
    except (OSError, json.JSONDecodeError) as e:
        raise ScenarioError(str(path), "...", f"cannot be read as JSON ({e})") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise ScenarioError(str(path), m.get("format") if isinstance(m, dict) else m,
                            f"is not a sweep manifest of format {FORMAT}")
    return m


def read_rows(root: str | os.PathLike) -> dict[tuple[int, int], dict]:
    """Every stored run, by (point, replication); a run stored twice counts once (the
    file last written wins)."""
    out: dict[tuple[int, int], dict] = {}
    runs = Path(root) / RUNS
    files = sorted(runs.glob("*.parquet"), key=lambda p: p.stat().st_mtime_ns) \
        if runs.is_dir() else []
    for f in files:
        m = _RUN_FILE.match(f.name)
        if m is None:
            continue
        for row in pd.read_parquet(f).to_dict("records"):
            out[(int(row["point"]), int(row["replication"]))] = row
    return out


def load_sweep(root: str | os.PathLike) -> pd.DataFrame:
    """The runs of a stored sweep (finished so far), one row per run, in run order
    (point, then replication); the same DataFrame ``sim.sweep(..., out=root)`` returned.

    ``df.attrs["manifest"]`` holds the manifest (scenario, design, seeds, version).
    """
    manifest = read_manifest(root)
    rows = read_rows(root)
    df = pd.DataFrame([rows[k] for k in sorted(rows)])
    df.attrs["manifest"] = manifest
    return df
