"""Maps Renode type names (`UART.STM32_UART`) and metersim's own names to model classes.

Models register themselves with `@model("UART.STM32_UART", ...)`. The .repl builder and
`metersim platform show` look names up here; a type without a model becomes a tagged region.
Every module under `metersim.peripherals` is imported on the first lookup, so a new model
module registers itself just by existing.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable

_REGISTRY: dict[str, type] = {}
_loaded = False

def model(*type_names: str) -> Callable[[type], type]:
    """Class decorator: register a model under one or more type names."""

    def deco(cls: type) -> type:
        for name in type_names:
            _REGISTRY[name] = cls
        cls.type_names = tuple(type_names)  # type: ignore[attr-defined]
        return cls

    return deco


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import metersim.peripherals as pkg

    for info in pkgutil.walk_packages(pkg.__path__, prefix="metersim.peripherals."):
        importlib.import_module(info.name)


def lookup(type_name: str) -> type | None:
    """The model class for a type name, or None (the entry becomes a tagged region)."""
    _load_all()
    return _REGISTRY.get(type_name)


def known_types() -> dict[str, type]:
    _load_all()
    return dict(_REGISTRY)
