"""Registry of architecture variants (a strategy per name, not a flag)."""

from __future__ import annotations

_REGISTRY: dict[str, str] = {
    "basic": "simulator.architectures.basic:BasicArchitecture",
}


def names() -> list[str]:
    return sorted(_REGISTRY)


def get(name: str):
    """The architecture class registered under ``name``."""
    import importlib

    try:
        target = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown architecture {name!r}; known: {', '.join(names())}") from None
    mod, _, cls = target.partition(":")
    return getattr(importlib.import_module(mod), cls)
