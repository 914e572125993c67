"""Shared helpers for the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "data" / "scenarios").glob("*.yaml"))


def small(name: str, **extra):
    """A bundled scenario shrunk for tests (overrides by dotted path)."""
    import simulator as sim

    path = ROOT / "data" / "scenarios" / f"{name}.yaml"
    return sim.load_scenario(path, overrides=extra)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
