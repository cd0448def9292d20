"""Hooks the monitor adds to a running machine: Python code at an instruction address (Renode's
`cpu AddHook`) and logging of every access to peripherals (`sysbus LogPeripheralAccess`,
`LogAllPeripheralsAccess`). Kept in the engine because they reach into unicorn and the bus's
page table; the monitor only passes callables."""

from __future__ import annotations

import logging
from typing import Any, Callable

from unicorn import UC_HOOK_CODE

from metersim._engine.sysbus import MemoryRegion, _SharedPage

log = logging.getLogger("metersim.access")


class AddressHooks:
    """`fn(pc)` runs each time the core is about to execute the instruction at an address."""

    def __init__(self, machine):
        self.machine = machine
        self._hooks: dict[int, list[tuple[Callable[[int], Any], int]]] = {}

    @classmethod
    def of(cls, machine) -> "AddressHooks":
        hooks = getattr(machine, "_address_hooks", None)
        if hooks is None:
            hooks = machine._address_hooks = cls(machine)
        return hooks

    def add(self, address: int, fn: Callable[[int], Any]) -> None:
        address &= ~1
        uc = self.machine.cpu.uc

        def on_code(_uc, pc, _size, _ud):
            fn(pc)

        handle = uc.hook_add(UC_HOOK_CODE, on_code, begin=address, end=address)
        uc.ctl_remove_cache(address, address + 4)     # hooks apply when code is translated
        self._hooks.setdefault(address, []).append((fn, handle))

    def remove_at(self, address: int) -> int:
        address &= ~1
        uc = self.machine.cpu.uc
        hooks = self._hooks.pop(address, [])
        for _fn, handle in hooks:
            uc.hook_del(handle)
        if hooks:
            uc.ctl_remove_cache(address, address + 4)
        return len(hooks)

    def clear(self) -> int:
        return sum(self.remove_at(a) for a in list(self._hooks))

    @property
    def addresses(self) -> list[int]:
        return sorted(self._hooks)


class _Logged:
    """A peripheral seen through the bus with every access logged at INFO."""

    def __init__(self, machine_name: str, name: str, model: Any):
        self.machine_name, self.name, self.model = machine_name, name, model

    def read(self, offset: int, size: int) -> int:
        value = self.model.read(offset, size)
        log.info("%s: %s: read%d +0x%x -> 0x%x", self.machine_name, self.name, 8 * size, offset,
                 value)
        return value

    def write(self, offset: int, size: int, value: int) -> None:
        log.info("%s: %s: write%d +0x%x <- 0x%x", self.machine_name, self.name, 8 * size, offset,
                 value)
        self.model.write(offset, size, value)


def log_peripheral_access(machine, name: str | None, on: bool) -> list[str]:
    """Log (or stop logging) the bus accesses of one peripheral, or of all when `name` is None.
    Returns the names affected. Memories are never logged (they are not peripherals)."""
    bus = machine.sysbus
    targets = {mp.model: mp.name for mp in bus.mappings
               if not isinstance(mp.model, MemoryRegion) and mp.kind != "bitband"
               and (name is None or mp.name == name or mp.name.split("@")[0] == name)}

    def swap(model):
        inner = model.model if isinstance(model, _Logged) else model
        if inner not in targets:
            return model
        return _Logged(machine.name, targets[inner], inner) if on else inner

    for page, (model, base) in list(bus._pages.items()):
        if isinstance(model, _SharedPage):
            model.parts = [(swap(m), b, sz) for m, b, sz in model.parts]
        else:
            bus._pages[page] = (swap(model), base)
    return sorted(set(targets.values()))
