"""Registry of architecture variants (a strategy per name, not a flag)."""

from __future__ import annotations

_REGISTRY: dict[str, str] = {
    "basic": "simulator.architectures.basic:BasicArchitecture",
    "sns": "simulator.architectures.basic:SnsArchitecture",
    "sqs": "simulator.architectures.basic:SqsArchitecture",
    "appsync": "simulator.architectures.services:AppSyncArchitecture",
    "managed": "simulator.architectures.services:ManagedArchitecture",
    "multi_region": "simulator.architectures.multi_region:MultiRegionArchitecture",
    "containers": "simulator.architectures.containers:ContainersArchitecture",
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
