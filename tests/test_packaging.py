"""environment.yml (conda) lists the same packages as pyproject.toml (pip): conda is not on
the CI machine, so this test keeps them from drifting apart."""

import re
import tomllib

import yaml

from tests.conftest import ROOT


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_names = {_name(r) for r in py["dependencies"]}
    for extra in py["optional-dependencies"].values():
        pip_names |= {_name(r) for r in extra}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "conda-forge" in env["channels"]
    conda = {_name(d) for d in env["dependencies"] if isinstance(d, str)} - {"python", "pip"}
    assert conda == pip_names, (conda ^ pip_names)
    pins = {_name(d): d for d in env["dependencies"] if isinstance(d, str)}
    assert pins["python"].endswith("3.11")


def test_requested_packages_are_there():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    everything = " ".join(py["dependencies"] + sum(py["optional-dependencies"].values(), []))
    for pkg in ("simpy", "numpy", "pandas", "matplotlib", "jupyterlab", "pytest"):
        assert pkg in everything


def test_the_dask_extra_is_installed_by_the_test_script():
    """The Dask sweep test skips only when distributed is missing: CI must install it."""
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "distributed" in {_name(r) for r in py["optional-dependencies"]["dask"]}
    assert "pyarrow" in {_name(r) for r in py["dependencies"]}     # the sweep store
    line = next(ln for ln in (ROOT / "scripts" / "test.sh").read_text().splitlines()
                if "_venv.sh" in ln and ln.startswith("source"))
    assert "dask" in line.rsplit(" ", 1)[1].split(",")
