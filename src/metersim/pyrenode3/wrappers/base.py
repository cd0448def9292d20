"""What the wrappers share: pyrenode3's singletons, its Wrapper (`internal`, element access by
attribute), and calls forwarded to metersim's monitor under Renode's command names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from metersim._errors import MetersimError
from metersim.pyrenode3.session import Session
from metersim.pyrenode3.timeinterval import TimeInterval


class MetaSingleton(type):
    """pyrenode3's MetaSingleton: one instance per class per process."""

    instances: dict = {}

    def __call__(cls, *args, **kwargs):
        if cls not in cls.instances:
            cls.instances[cls] = super().__call__(*args, **kwargs)
        return cls.instances[cls]


def monitor_arg(value: Any) -> str:
    """A Python value as a monitor command argument."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, TimeInterval):
        return f"{value.TotalSeconds!r}"
    if isinstance(value, Path):
        return f"@{value}"
    if isinstance(value, Wrapper) and getattr(value, "path", None):
        return value.path
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def locked(fn):
    """Hold the monitor's lock for the call: with run_in_background() a runner thread
    advances the emulation between calls, never during one."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with Session.monitor().lock:
            return fn(*args, **kwargs)
    return wrapper


class RenodeCallError(RuntimeError):
    """A forwarded call failed (pyrenode3 raises the .NET exception; this carries metersim's
    message)."""


def run_command(command: str, machine: str | None = None) -> str:
    """Run one monitor command, with `machine` selected when given; a MetersimError becomes a
    RenodeCallError with the monitor's message."""
    mon = Session.monitor()
    previous = mon.current_machine_name
    try:
        if machine is not None:
            mon.select(machine)
        return mon.execute(command, where="pyrenode3")
    except MetersimError as exc:
        raise RenodeCallError(f"{command}: {exc}") from exc
    finally:
        if machine is not None and previous in mon.slots:
            mon.select(previous)


class Wrapper:
    """pyrenode3's Wrapper: `internal` is the wrapped object (here a metersim one), and
    `_elements()` / `_get()` add names reachable as attributes (machines, peripherals)."""

    def __init__(self, internal: Any = None):
        object.__setattr__(self, "_internal", internal)

    @property
    def internal(self):
        if self._internal is None:
            raise NotImplementedError
        return self._internal

    def _elements(self) -> list[str]:
        return []

    def _get(self, item: str):
        raise AttributeError(item)

    def _command_prefix(self) -> str | None:
        """Monitor object name for calls forwarded as commands (`emulation`, `sysbus` ...)."""
        return None

    def _machine_name(self) -> str | None:
        return None

    def __getattr__(self, item: str):
        if item.startswith("_"):
            raise AttributeError(item)
        if item in self._elements():
            return self._get(item)
        prefix = self._command_prefix()
        if prefix is not None and item[:1].isupper():
            def call(*args):
                return run_command(" ".join([prefix, item, *map(monitor_arg, args)]),
                                   self._machine_name())
            call.__name__ = item
            return call
        raise AttributeError(f"{type(self).__name__} has no attribute {item!r}")

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._elements()))
