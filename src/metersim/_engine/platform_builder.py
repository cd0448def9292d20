"""Builds a running Machine from a platform description (`.repl`, see metersim._engine.repl).

    from metersim._engine.emulation import Emulation
    from metersim._engine.platform_builder import create_machine
    emu = Emulation()
    m = create_machine(emu, "platforms/cpus/stm32f413.repl", elf="build/fw/f413rg/hello.elf")
    emu.run_for("1s")

What each kind of entry becomes (Renode's semantics where metersim has them):

- `CPU.CortexM`: the machine's core; `cpuType` picks it ("cortex-m0", "cortex-m0+",
  "cortex-m3", "cortex-m4", "cortex-m4f", "cortex-m7", "cortex-m33", any case, `_` for `-`;
  metersim._engine.cores), and `machine.architecture` records v6-M / v7-M / v8-M. Exactly one.
- `Memory.MappedMemory` (and `Memory.ArrayMemory`): RAM/ROM on the system bus; several sysbus
  registrations are aliases of the same bytes. The on-chip flash (named `flash`, or at
  0x08000000) is read-only to the CPU, its stores go to the flash controller (any model with
  `on_flash_write`). `machine.flash`, `machine.sram`, `machine.memories` keep the regions.
  Boot: from 0 when memory is mapped there, else from the flash.
- `Miscellaneous.BitBanding`: a bit-band alias (ARMv7-M B3.5.3) onto `peripheralBase`.
- A type with a metersim model (`metersim.peripherals.registry`): the model is built with its
  constructor arguments in snake_case (`systickFrequency` -> `systick_frequency`), references
  first; `UpperCase` properties are set as attributes afterwards.
- A Renode type without a model (metersim._engine.repl.renode_types): its system-bus window
  answers as a tagged region (reads 0, accesses logged once), sized from the registration
  range, its `size:` argument, platform_show.DEFAULT_SIZES, or 1 KiB cut short at the next
  registered block. A type neither Renode nor metersim knows is an error naming the nearest.
- A registration on a GPIO port (`led: Miscellaneous.LED @ gpioPortC 6`) only names the device
  under the port (the wire is `->`); one on an unmodelled RCC's clock-gate alias
  (`rcc RegistrationPeripheralAlias.GPIOK`) is left out.
- `sysbus` `Tag <a, b> "NAME" value`: the value inside a tagged region, or a new tagged region
  where nothing is mapped (`<start, end>`, `<start size>` and `<start, +size>` ranges).
  `WriteByte/Word/DoubleWord <offset> <value>` in an entry's `init:` writes into it (random
  values from Renode's `py` RandomGenerator substitution come from the emulation seed).
  `ApplySVD` and other `init:` statements are ignored (logged once).
- `->` connections: the source output (default = `IRQ` or the model's only output, a name, or
  a number = `connections[n]`) is wired to each receiver's `on_gpio(pin, level)`; `#n` local
  receivers use the receiver's `get_local_receiver(n)`. Wires to the CPU (`nvic: IRQ -> cpu@0`)
  and to entries without a model are left out.

Added by the builder because they are part of every Cortex-M3/M4 core (ARMv7-M C1.1, the PPB),
when the platform does not map them itself: the DWT (CYCCNT) at 0xE0001000 and tagged ITM
(0xE0000000) and FPB (0xE0002000) windows. When no model publishes the APB clocks (no RCC
model), PCLK1/PCLK2/TIMCLK1/TIMCLK2 are set to HCLK: every STM32 APB prescaler is 1 at reset.

`extend_machine` builds a platform piece into a machine that is already running.

Not done: `reset:` and `preinit:` blocks, per-core registrations (`cpu:` in a registration
point), the `as "alias"` of a registration, constructor overload resolution (a model has one
constructor; its signature is the contract).
"""

from __future__ import annotations

import difflib
import inspect
import logging
import os
import random
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from metersim._engine.cores import ARCHITECTURES, RESET_HCLK_HZ, core_name
from metersim._engine.repl import (
    Entry, Enum, InlineObject, Platform, Range, Reference, Registration, load_platform,
)
from metersim._engine.loader import find_unmask_sites
from metersim._engine.sysbus import MemoryRegion, TaggedRegion
from metersim._errors import MetersimError, PlatformError, SetupError
from metersim._platform_show import DEFAULT_SIZES

log = logging.getLogger("metersim.platform")

MEMORY_TYPES = ("Memory.MappedMemory", "Memory.ArrayMemory")
BITBAND_TYPE = "Miscellaneous.BitBanding"
STM32_FLASH_BASE = 0x08000000


#: Core-internal windows of the Cortex-M3/M4 private peripheral bus (ARMv7-M Table B3-1 / C1.1)
#: that the builder provides when the platform leaves them unmapped.
_DWT_BASE = 0xE0001000
_CORE_TAGS = ((0xE0000000, 0x1000, "itm"), (0xE0002000, 0x1000, "fpb"))

_FALLBACK_SIZE = 0x400

_NUMBER = r"(?:0[xX][0-9A-Fa-f_]+|\d[\d_]*)"
_INIT_WRITE = re.compile(
    rf"""^Write(?P<width>Byte|Word|DoubleWord)\s+(?P<offset>{_NUMBER})\s+
         (?:(?P<value>{_NUMBER})
          |`py\s+"print\s+(?P<random>[\w.]*RandomGenerator\.Next(?:Ulong)?\(\)[^"]*)"`)\s*$""",
    re.VERBOSE)


def snake_case(name: str) -> str:
    """`systickFrequency` -> `systick_frequency`, `invertedAFPins` -> `inverted_af_pins`,
    `numberOfAFs` -> `number_of_afs` (a plural acronym stays one word)."""
    s = re.sub(r"([A-Z]{2,})s(?=[A-Z]|$)", r"\1S", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.lower()


def _core_name(value: Any, entry: Entry) -> str:
    if value is None:
        return "cortex-m4f"
    text = core_name(value)
    if text is None:
        raise PlatformError(f"{entry.location}: {entry.name}: cpuType {value!r} is not supported; "
                            f"metersim emulates {', '.join(ARCHITECTURES)}")
    return text


def _check_known_type(e: Entry) -> None:
    """A type neither metersim models nor Renode has is a typo: reject it as Renode does
    ("could not resolve type"), with the nearest names, instead of tagging its window."""
    from metersim._engine.repl.renode_types import RENODE_NAMESPACES, RENODE_TYPES
    from metersim.peripherals.registry import known_types

    # a bare class name is what a .repl with `using "Namespace."` writes
    if e.type_name in RENODE_TYPES or (
            "." not in e.type_name and any(t.endswith("." + e.type_name) for t in RENODE_TYPES)):
        return
    known = sorted(RENODE_TYPES | set(known_types()))
    near = difflib.get_close_matches(e.type_name, known, n=3, cutoff=0.6)
    if not near:   # a wrong namespace: match the class name alone
        by_class = {k.rsplit(".", 1)[-1]: k for k in known}
        near = [by_class[c] for c in difflib.get_close_matches(
            e.type_name.rsplit(".", 1)[-1], list(by_class), n=3, cutoff=0.6)]
    if near:
        hint = f"; did you mean {', '.join(near)}?"
    elif e.type_name.split(".", 1)[0] in RENODE_NAMESPACES:
        # likely a real Renode peripheral (a modem, a sensor ...) that metersim has no model of:
        # say so rather than calling it a typo
        hint = (f": metersim has no model of it (Renode's {e.type_name.split('.', 1)[0]} "
                f"namespace); remove the entry or model it in metersim.peripherals")
    else:
        hint = " (not a Renode peripheral type metersim knows, nor a metersim model)"
    raise PlatformError(f"{e.location}: {e.name}: could not resolve type {e.type_name!r}{hint}")


class _Built:
    """What one entry became."""

    __slots__ = ("kind", "obj")

    def __init__(self, kind: str, obj: Any):
        self.kind = kind   # "cpu", "memory", "model", "bitband", "tag", "none"
        self.obj = obj


class PlatformBuilder:
    """One build of one platform into one machine (see the module docstring)."""

    def __init__(self, emulation, platform: Platform, name: str = "machine-0",
                 freq_hz: int | None = None):
        self.emulation = emulation
        self.platform = platform
        self.name = name
        self.freq_hz = freq_hz
        self.machine = None
        self.built: dict[str, _Built] = {}
        self._flash_args: dict[str, MemoryRegion] = {}  # model name -> region given as `flash:`
        self._init_done: set[tuple[str, str]] = set()    # init statements carried out

    # -- entry points --------------------------------------------------------------------------
    def build(self):
        from metersim._engine.machine import Machine
        from metersim.peripherals.registry import lookup

        p = self.platform
        if any(x.name == self.name for x in self.emulation.machines):
            raise PlatformError(f"a machine named {self.name!r} exists already")
        self._lookup = lookup
        cpu_entry = self._cpu_entry()
        core = _core_name(cpu_entry.ctor_args.get("cpuType"), cpu_entry)
        self.machine = m = Machine(self.emulation, self.name, core, self._initial_hz(core))
        m.architecture = ARCHITECTURES[core]
        m.memories = {}
        m.flash = None
        m.sram = None
        m.platform = p
        self.built[cpu_entry.name] = _Built("cpu", m.cpu)
        self._check_cpu_args(cpu_entry)
        self._default_apb_clocks()

        for e in self._creation_order():
            if e.name in self.built:
                continue
            self._build_entry(e)
        self._choose_boot_address()
        self._attach_children()
        self._connect_all()
        self._flash_handlers()
        self._apply_tags()
        self._core_blocks()
        self._run_init_writes()
        self._log_ignored_statements()
        try:
            m.finalize()
        except PlatformError as exc:
            raise PlatformError(f"{p.name}: {exc}") from None
        self.emulation.add_machine(m)
        return m

    # -- core ----------------------------------------------------------------------------------
    def _cpu_entry(self) -> Entry:
        cpus = [e for e in self.platform.peripherals() if e.type_name.startswith("CPU.")]
        if not cpus:
            raise PlatformError(f"{self.platform.name}: the platform has no CPU "
                                "(expected an entry like `cpu: CPU.CortexM @ sysbus`)")
        for e in cpus:
            if e.type_name != "CPU.CortexM":
                raise PlatformError(f"{e.location}: {e.name}: CPU type {e.type_name} is not "
                                    "supported; metersim emulates CPU.CortexM only")
        if len(cpus) > 1:
            where = ", ".join(f"{e.name} ({e.location})" for e in cpus)
            raise PlatformError(f"{self.platform.name}: one core per machine, the platform has "
                                f"{len(cpus)}: {where}")
        return cpus[0]

    def _check_cpu_args(self, e: Entry) -> None:
        known = {"cpuType", "nvic"}
        for arg, value in e.ctor_args.items():
            if arg not in known:
                log.info("%s: %s: constructor argument %r of CPU.CortexM is not used by metersim",
                         e.location, e.name, arg)
            elif arg == "nvic":
                if not isinstance(value, Reference) or value.name not in self.platform:
                    raise PlatformError(f"{e.location}: {e.name}: nvic: {value!r} does not name an "
                                        "entry of the platform")
        for prop in e.properties:
            log.info("%s: %s: property %s of the CPU is not used by metersim (the core runs at "
                     "the clock the RCC sets, one cycle per instruction)", e.location, e.name, prop)

    def _initial_hz(self, core: str) -> int:
        """The explicit frequency; else Renode's NVIC `systickFrequency` (what SysTick counts
        at in Renode); else the part's reset clock. An RCC model overrides it when built."""
        if self.freq_hz:
            return int(self.freq_hz)
        for e in self.platform.peripherals():
            if e.type_name == "IRQControllers.NVIC":
                hz = e.ctor_args.get("systickFrequency")
                if isinstance(hz, int) and hz > 0:
                    return hz
        return RESET_HCLK_HZ[core]

    # -- order ---------------------------------------------------------------------------------
    def _creation_order(self) -> list[Entry]:
        """Entries with a type, each after the entries its constructor arguments reference."""
        entries = self.platform.entries
        order: list[Entry] = []
        state: dict[str, int] = {}   # 1 = in progress, 2 = done

        def refs(v: Any) -> Iterable[str]:
            if isinstance(v, Reference):
                yield v.name
            elif isinstance(v, list):
                for x in v:
                    yield from refs(x)
            elif isinstance(v, InlineObject):
                for x in v.attrs.values():
                    yield from refs(x)

        def visit(e: Entry, chain: list[str]) -> None:
            if state.get(e.name) == 2:
                return
            if state.get(e.name) == 1:
                cycle = " -> ".join(chain[chain.index(e.name):] + [e.name])
                raise PlatformError(f"{e.location}: {e.name}: constructor references form a cycle: "
                                    f"{cycle}")
            state[e.name] = 1
            for v in list(e.ctor_args.values()) + list(e.properties.values()):
                for r in refs(v):
                    dep = entries.get(r)
                    if dep is not None and dep.type_name is not None:
                        visit(dep, chain + [e.name])
            state[e.name] = 2
            order.append(e)

        for e in self.platform.peripherals():
            visit(e, [])
        return order

    # -- entries -------------------------------------------------------------------------------
    def _build_entry(self, e: Entry) -> None:
        if e.type_name in MEMORY_TYPES:
            self._build_memory(e)
        elif e.type_name == BITBAND_TYPE:
            self._build_bitband(e)
        else:
            cls = self._lookup(e.type_name)
            if cls is None:
                _check_known_type(e)
                self._build_unmodelled(e)
            else:
                self._build_model(e, cls)

    def _sysbus_regs(self, e: Entry) -> list[Registration]:
        return [r for r in e.registrations if r.parent == "sysbus" and r.address is not None]

    def _wrap(self, e: Entry, exc: Exception, what: str = "") -> PlatformError:
        text = str(exc)
        prefix = f"{e.location}: {e.name}"
        return PlatformError(f"{prefix}: {what}{text}" if not text.startswith(e.location) else text)

    def _build_memory(self, e: Entry) -> None:
        m = self.machine
        size = e.ctor_args.get("size")
        if not isinstance(size, int) or size <= 0:
            raise PlatformError(f"{e.location}: {e.name}: {e.type_name} needs a positive "
                                f"`size`, got {size!r}")
        regs = self._sysbus_regs(e)
        if not regs:
            # Backing store of another device (e.g. `underlyingMemory:` of an SPI flash).
            self.built[e.name] = _Built("memory", bytearray(size))
            log.debug("%s: %s: memory not on the system bus: a %d-byte buffer", e.location, e.name,
                      size)
            return
        for r in regs:
            if r.size is not None and r.size != size:
                raise PlatformError(f"{r.location or e.location}: {e.name}: registration size "
                                    f"0x{r.size:x} differs from the memory size 0x{size:x}")
        bases = [r.address for r in regs]
        is_flash = e.name == "flash" or STM32_FLASH_BASE in bases
        try:
            region = m.sysbus.map_memory(e.name, bases[0], size, writable=not is_flash,
                                         aliases=bases[1:])
        except PlatformError as exc:
            raise self._wrap(e, exc) from None
        m.memories[e.name] = region
        if is_flash and m.flash is None:
            m.flash = region
        if e.name == "sram" or (m.sram is None and bases[0] == 0x20000000):
            m.sram = region
        self.built[e.name] = _Built("memory", region)
        for prop in e.properties:
            log.info("%s: %s: property %s of %s is ignored", e.location, e.name, prop, e.type_name)

    def _build_bitband(self, e: Entry) -> None:
        regs = self._sysbus_regs(e)
        target = e.ctor_args.get("peripheralBase")
        if not regs or not isinstance(target, int):
            raise PlatformError(f"{e.location}: {e.name}: {BITBAND_TYPE} needs a sysbus range and "
                                "`peripheralBase`")
        for r in regs:
            try:
                self.machine.sysbus.add_bitband(r.address, target, r.size or 0x2000000)
            except PlatformError as exc:
                raise self._wrap(e, exc) from None
        self.built[e.name] = _Built("bitband", None)

    def _build_unmodelled(self, e: Entry) -> None:
        regs = self._sysbus_regs(e)
        if not regs:
            log.info("%s: %s (%s) has no metersim model and no system-bus address: not built",
                     e.location, e.name, e.type_name)
            self.built[e.name] = _Built("none", None)
            return
        region = None
        ctor_size = e.ctor_args.get("size")
        for i, r in enumerate(regs):
            size = r.size or (ctor_size if isinstance(ctor_size, int) and ctor_size > 0 else None) \
                or DEFAULT_SIZES.get(e.type_name)
            if size is None:
                size = self._gap_size(e, r.address)
                log.info("%s: %s (%s) gives no size: tagging 0x%x bytes", e.location, e.name,
                         e.type_name, size)
            label = e.name if i == 0 else f"{e.name}@{r.address:08x}"
            try:
                if region is None:
                    region = self.machine.add_tag(label, r.address, size)
                else:
                    self.machine.sysbus.map_peripheral(label, r.address, size, region, "tag")
            except PlatformError as exc:
                raise self._wrap(e, exc) from None
            log.info("%s: %s (%s) has no metersim model: tagged at <0x%08x, +0x%x>",
                     self.machine.name, e.name, e.type_name, r.address, size)
        self.built[e.name] = _Built("tag", region)

    def _gap_size(self, e: Entry, address: int) -> int:
        """1 KiB (the usual STM32 peripheral slot), cut short where the platform registers
        another entry: Renode's F7 file puts adc2 0x100 after adc1."""
        size = _FALLBACK_SIZE
        for other in self.platform.peripherals():
            if other.name == e.name:
                continue
            for r in other.registrations:
                if r.parent == "sysbus" and r.address is not None and address < r.address:
                    size = min(size, r.address - address)
        return size

    def _convert(self, e: Entry, arg: str, v: Any) -> Any:
        if isinstance(v, Reference):
            if v.name == "sysbus":
                return self.machine.sysbus
            b = self.built.get(v.name)
            if b is not None:
                if b.kind in ("model", "memory", "cpu"):
                    return b.obj
                return v.name  # no model: the name is all a model can be given
            if v.name in self.platform:
                return v.name
            raise PlatformError(f"{e.location}: {e.name}: {arg}: reference to {v.name!r}, which no "
                                "entry of the platform declares")
        if isinstance(v, Range):
            return (v.start, v.size)
        if isinstance(v, Enum):
            return v.text
        if isinstance(v, list):
            return [self._convert(e, arg, x) for x in v]
        if isinstance(v, InlineObject):
            return InlineObject(v.type_name, {k: self._convert(e, arg, x) for k, x in v.attrs.items()},
                                v.connections)
        return v

    def _build_model(self, e: Entry, cls: type) -> None:
        m = self.machine
        regs = self._sysbus_regs(e)
        address = regs[0].address if regs else None
        kwargs: dict[str, Any] = {}
        for arg, value in e.ctor_args.items():
            if value is None:
                continue  # `empty`: the parameter's default
            kwargs[snake_case(arg)] = self._convert(e, arg, value)
        self._check_signature(e, cls, kwargs)
        try:
            model = cls(m.context(e.name, address), **kwargs)
        except MetersimError as exc:
            raise self._wrap(e, exc, f"cannot build {e.type_name}: ") from None
        except (TypeError, ValueError, KeyError) as exc:
            raise PlatformError(f"{e.location}: {e.name}: cannot build {e.type_name} "
                                f"({cls.__module__}.{cls.__name__}): {exc}") from None
        flash = kwargs.get("flash")
        if isinstance(flash, MemoryRegion):
            self._flash_args[e.name] = flash
        for prop, value in e.properties.items():
            attr = snake_case(prop)
            if not hasattr(model, attr):
                raise PlatformError(f"{e.location}: {e.name}: {e.type_name} has no property {prop} "
                                    f"(looked for attribute {attr!r})")
            try:
                setattr(model, attr, self._convert(e, prop, value))
            except (AttributeError, TypeError, ValueError) as exc:
                raise PlatformError(f"{e.location}: {e.name}: cannot set {prop}: {exc}") from None
        try:
            if regs:
                r0 = regs[0]
                m.add(e.name, model, r0.address, r0.size or getattr(model, "size", None) or None)
                for r in regs[1:]:
                    self._extra_mapping(e, model, r)
            else:
                m.add(e.name, model)
        except PlatformError as exc:
            raise self._wrap(e, exc) from None
        self.built[e.name] = _Built("model", model)

    def _extra_mapping(self, e: Entry, model: Any, r: Registration) -> None:
        """A further sysbus registration: the same model again, or a named region of it
        (`new Bus.BusMultiRegistration { ...; region: "optionBytes" }` -> `model.option_bytes`)."""
        sysbus = self.machine.sysbus
        region = r.extra.get("region")
        size = r.size or getattr(model, "size", None) or _FALLBACK_SIZE
        label = f"{e.name}@{r.address:08x}"
        if region is None:
            sysbus.map_peripheral(label, r.address, size, model)
            return
        target = getattr(model, snake_case(str(region)), None)
        if target is not None and hasattr(target, "read") and hasattr(target, "write"):
            sysbus.map_peripheral(f"{e.name}.{region}", r.address, size, target)
        else:
            tag = TaggedRegion(f"{e.name}.{region}", machine_name=self.machine.name)
            sysbus.map_peripheral(f"{e.name}.{region}", r.address, size, tag, "tag")
            log.info("%s: %s: region %r is not modelled: tagged at <0x%08x, +0x%x>",
                     r.location or e.location, e.name, region, r.address, size)

    def _check_signature(self, e: Entry, cls: type, kwargs: dict[str, Any]) -> None:
        try:
            sig = inspect.signature(cls)
        except (TypeError, ValueError):
            return
        params = list(sig.parameters.values())[1:]  # after the Context
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return
        accepted = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        for arg in e.ctor_args:
            if snake_case(arg) not in accepted:
                shown = ", ".join(accepted) if accepted else "none"
                raise PlatformError(
                    f"{e.location}: {e.name}: {e.type_name} has no constructor argument {arg!r} "
                    f"(as {snake_case(arg)!r}); accepted: {shown}")

    # -- registrations on other buses ----------------------------------------------------------
    def _attach_children(self, entries: list[Entry] | None = None) -> None:
        for e in self.platform.peripherals() if entries is None else entries:
            b = self.built.get(e.name)
            for r in e.registrations:
                if r.parent == "sysbus":
                    continue
                where = r.location or e.location
                parent_entry = self.platform.entries.get(r.parent)
                if parent_entry is None:
                    raise PlatformError(f"{where}: {e.name}: registered on {r.parent!r}, which no "
                                        "entry of the platform declares")
                if b is None or b.kind != "model":
                    log.info("%s: %s (%s) has no metersim model: not attached to %s", where,
                             e.name, e.type_name, r.parent)
                    continue
                pb = self.built.get(r.parent)
                point = r.address if r.address is not None else r.extra.get("point")
                if isinstance(point, Enum) and (pb is None or pb.kind != "model"):
                    # `rcc RegistrationPeripheralAlias.GPIOK` (H7): a clock-gate alias on an
                    # RCC metersim does not model; the sysbus registration is the device.
                    log.info("%s: %s: registration on %s (%s) left out: %s has no model",
                             where, e.name, r.parent, point.text, r.parent)
                    continue
                if pb is None or pb.kind != "model":
                    raise PlatformError(f"{where}: {e.name}: cannot attach to {r.parent!r} "
                                        f"({parent_entry.type_name}): metersim has no model for it")
                parent = pb.obj
                register = getattr(parent, "register_child", None)
                if register is None:
                    if hasattr(parent, "on_gpio") and (point is None or isinstance(point, int)):
                        # `led: Miscellaneous.LED @ gpioPortC 6`: in Renode this registers the
                        # device under the port (pin 6 names it); the wire is the port's
                        # `6 -> led@0` (or the button's `-> gpioPortA@0`).
                        log.debug("%s: %s registered under %s%s (wiring is by '->')", where,
                                  e.name, r.parent, "" if point is None else f" {point}")
                        continue
                    raise PlatformError(f"{where}: {e.name}: {r.parent} ({parent_entry.type_name}) "
                                        "is not a bus: it has no register_child()")
                try:
                    register(b.obj, point)
                except MetersimError as exc:
                    raise PlatformError(f"{where}: {e.name}: cannot attach to {r.parent}: {exc}") from None
                except (TypeError, ValueError) as exc:
                    raise PlatformError(f"{where}: {e.name}: cannot attach to {r.parent}: {exc}") from None

    # -- wires ---------------------------------------------------------------------------------
    @staticmethod
    def _outputs(model: Any) -> dict[str, Any]:
        from metersim.peripherals.base import GPIO

        fn = getattr(model, "outputs", None)
        if callable(fn):
            return dict(fn())
        return {k: v for k, v in vars(model).items() if isinstance(v, GPIO)}

    def _source(self, e: Entry, model: Any, source: str | int | None, where: str):
        outs = self._outputs(model)
        if source is None:
            if "IRQ" in outs:
                return outs["IRQ"]
            if len(outs) == 1:
                return next(iter(outs.values()))
            raise PlatformError(f"{where}: {e.name}: '-> ...' needs a default output, but "
                                f"{e.type_name} has {len(outs)} outputs: "
                                f"{', '.join(sorted(outs)) or 'none'}; name one")
        if isinstance(source, int):
            conns = getattr(model, "connections", None) or {}
            gpio = conns.get(source) if isinstance(conns, dict) else (
                conns[source] if 0 <= source < len(conns) else None)
            if gpio is None:
                have = sorted(conns) if isinstance(conns, dict) else list(range(len(conns)))
                shown = f"{have[0]}..{have[-1]}" if have else "none"
                raise PlatformError(f"{where}: {e.name}: {e.type_name} has no numbered output "
                                    f"{source} (it has: {shown})")
            return gpio
        gpio = outs.get(source) or outs.get(snake_case(source))
        if gpio is None:
            raise PlatformError(f"{where}: {e.name}: {e.type_name} has no output {source!r}; "
                                f"it has: {', '.join(sorted(outs)) or 'none'}")
        return gpio

    def _connect_all(self, entries: list[Entry] | None = None) -> None:
        p = self.platform
        skipped: set[str] = set()
        for e in p.peripherals() if entries is None else entries:
            b = self.built.get(e.name)
            for c in e.connections:
                where = c.location or e.location
                receivers = []
                for t in c.targets:
                    te = p.entries.get(t.peripheral)
                    if te is None:
                        raise PlatformError(f"{where}: {e.name}: '{c}': receiver {t.peripheral!r} "
                                            "is not declared by any entry of the platform")
                    tb = self.built.get(t.peripheral)
                    if tb is not None and tb.kind == "cpu":
                        continue  # the NVIC's link to the core is internal (Machine.add)
                    if tb is None or tb.kind != "model":
                        skipped.add(t.peripheral)
                        continue
                    rx = tb.obj
                    if t.local_index is not None:
                        local = getattr(rx, "get_local_receiver", None)
                        if local is None:
                            raise PlatformError(f"{where}: {e.name}: '{c}': {t.peripheral} "
                                                f"({te.type_name}) has no local receivers (#n): "
                                                "not supported yet for this type")
                        try:
                            rx = local(t.local_index)
                        except MetersimError as exc:
                            raise PlatformError(f"{where}: {e.name}: '{c}': {exc}") from None
                    if not hasattr(rx, "on_gpio"):
                        raise PlatformError(f"{where}: {e.name}: '{c}': {t.peripheral} "
                                            f"({te.type_name}) cannot receive signals (no on_gpio)")
                    receivers.append((rx, t.pin))
                if b is None or b.kind != "model":
                    continue  # the source has no model: nothing drives these wires
                gpio = self._source(e, b.obj, c.source, where)
                for rx, pin in receivers:
                    gpio.connect(rx, pin)
        for name in sorted(skipped):
            log.debug("%s: %s has no model: signals wired to it are left out", self.machine.name,
                      name)

    # -- flash ---------------------------------------------------------------------------------
    def _flash_handlers(self) -> None:
        for name, b in self.built.items():
            if b.kind != "model" or not callable(getattr(b.obj, "on_flash_write", None)):
                continue
            region = self._flash_args.get(name) or self.machine.flash
            if region is None:
                e = self.platform.entries[name]
                raise PlatformError(f"{e.location}: {name}: a flash controller needs the flash "
                                    "memory: declare `flash: Memory.MappedMemory @ sysbus "
                                    "0x08000000` or pass `flash: <memory>`")
            self.machine.sysbus.set_rom_write_handler(region, b.obj.on_flash_write)

    def _choose_boot_address(self) -> None:
        m = self.machine
        at_zero = m.sysbus.region_at(0)
        if at_zero is not None:
            m.boot_address = 0
        elif m.flash is not None:
            m.boot_address = m.flash.base
        elif m.sysbus.regions:
            m.boot_address = m.sysbus.regions[0].base

    # -- tags ----------------------------------------------------------------------------------
    def _apply_tags(self) -> None:
        sysbus = self.machine.sysbus
        created: list[tuple[int, int, TaggedRegion]] = []   # regions made for Tags: (base, size, r)
        for tag in self.platform.tags:
            mp = sysbus.find_mapping(tag.start)
            region = None
            base = 0
            if mp is not None:
                if mp.kind == "tag" and isinstance(mp.model, TaggedRegion):
                    region, base = mp.model, mp.base
                else:
                    log.debug("%s: Tag %r at 0x%08x is inside %s (modelled): ignored",
                              tag.location, tag.name, tag.start, mp.name)
                    continue
            else:
                for b, s, r in created:
                    if b <= tag.start < b + s:
                        region, base = r, b
                        break
            if region is None:
                base, size = self._tag_window(tag.start, tag.end)
                region = TaggedRegion(tag.name, machine_name=self.machine.name)
                try:
                    sysbus.map_peripheral(f"tag:{tag.name}", base, size, region, "tag")
                except PlatformError as exc:
                    raise PlatformError(f"{tag.location}: Tag {tag.name!r}: {exc}") from None
                created.append((base, size, region))
                if base == tag.start and size == tag.size:
                    region.value = tag.value or 0
                    continue
            self._set_tag_words(region, base, tag)

    def _tag_window(self, start: int, end: int) -> tuple[int, int]:
        """The 1 KiB-aligned block around a Tag when nothing else is mapped there (accesses
        next to a tagged register then read 0 instead of faulting), else the Tag's own range."""
        lo = start & ~(_FALLBACK_SIZE - 1)
        hi = (end | (_FALLBACK_SIZE - 1)) + 1
        for mp in self.machine.sysbus.mappings:
            starts = [mp.base] + (mp.model.aliases if isinstance(mp.model, MemoryRegion) else [])
            if any(s < hi and lo < s + mp.size for s in starts):
                return start, end - start + 1
        return lo, hi - lo

    @staticmethod
    def _set_tag_words(region: TaggedRegion, base: int, tag) -> None:
        value = tag.value or 0
        first = (tag.start - base) & ~3
        last = tag.end - base
        if last - first > 0x10000:
            region.value = value  # a huge tag: it is the region's value
            return
        for off in range(first, last + 1, 4):
            region.add_tag(off, tag.name, value)

    # -- extras --------------------------------------------------------------------------------
    def _core_blocks(self) -> None:
        from metersim.peripherals.cortexm.nvic import DWT

        m = self.machine
        sysbus = m.sysbus
        if sysbus.find_mapping(_DWT_BASE) is None and not any(
                isinstance(p, DWT) for p in m.peripherals.values()):
            name = "dwt" if "dwt" not in m.peripherals else "core.dwt"
            m.add(name, DWT(m.context(name, _DWT_BASE)), _DWT_BASE)
        for base, size, name in _CORE_TAGS:
            if sysbus.find_mapping(base) is None and name not in m.peripherals:
                m.add_tag(name, base, size)

    def _default_apb_clocks(self) -> None:
        """APB clocks = HCLK (all prescalers are 1 at reset); an RCC model built later
        publishes its own rates over these."""
        clocks = self.machine.clocks
        hclk = clocks.rate_hz("HCLK")
        for name in ("PCLK1", "PCLK2", "TIMCLK1", "TIMCLK2"):
            if clocks.rate_hz(name) == 0:
                clocks.set_rate(name, hclk)

    def _run_init_writes(self) -> None:
        """`init:` writes into a memory or a model, as Renode's F7/H7 files seed the device
        UID and FLASH_SIZE in system memory: `WriteDoubleWord 0xF420 <value>`, the value a
        number or Renode's substitution `py "print ...RandomGenerator.Next()"` (drawn here
        from the emulation seed, so the same seed gives the same UID)."""
        for e in self.platform.entries.values():
            b = self.built.get(e.name)
            if e.name == "sysbus" or b is None or b.kind not in ("memory", "model"):
                continue
            for i, stmt in enumerate(e.init):
                m = _INIT_WRITE.match(stmt)
                if m is None:
                    continue
                size = {"Byte": 1, "Word": 2, "DoubleWord": 4}[m["width"]]
                offset = int(m["offset"].replace("_", ""), 0)
                if m["random"]:
                    rng = random.Random(f"{self.emulation.seed}/{self.name}/{e.name}/{i}")
                    value = rng.getrandbits(31 if "Next()" in m["random"] else 32)
                else:
                    value = int(m["value"].replace("_", ""), 0)
                value &= (1 << (8 * size)) - 1
                if b.kind == "memory" and isinstance(b.obj, MemoryRegion):
                    if offset + size > b.obj.size:
                        raise PlatformError(f"{e.location}: {e.name}: init {stmt!r}: offset "
                                            f"0x{offset:x} is outside the 0x{b.obj.size:x} bytes")
                    self.machine.sysbus.write_memory(b.obj.base + offset,
                                                     value.to_bytes(size, "little"))
                elif b.kind == "model" and hasattr(b.obj, "write"):
                    b.obj.write(offset, size, value)
                else:
                    continue
                self._init_done.add((e.name, stmt))

    def _log_ignored_statements(self) -> None:
        seen: set[str] = set()
        for e in self.platform.entries.values():
            for kind, stmts in (("init", e.init), ("reset", e.reset), ("preinit", e.preinit)):
                for s in stmts:
                    if kind == "init" and e.name == "sysbus" and re.match(r"Tag\b", s):
                        continue
                    if kind == "init" and (e.name, s) in self._init_done:
                        continue
                    verb = s.split(None, 1)[0] if s.strip() else s
                    key = f"{e.name}/{kind}/{verb}"
                    if key in seen:
                        continue
                    seen.add(key)
                    level = logging.INFO if verb == "ApplySVD" else logging.WARNING
                    log.log(level, "%s: %s: %s statement %r is not supported by metersim: ignored",
                            e.location, e.name, kind, s if len(s) < 80 else s[:77] + "...")


def extend_machine(machine, piece: Platform) -> list[str]:
    """Build a platform piece into a machine that already runs or holds firmware (Renode's
    `machine LoadPlatformDescriptionFromString` on a live machine): new entries are created,
    wired and mapped; entries naming existing peripherals may add connections and set
    properties (constructor arguments of a built peripheral cannot change); sysbus Tags apply.
    Returns the names added. PlatformError, with file:line, on anything else."""
    from metersim.peripherals.registry import lookup

    old = getattr(machine, "platform", None) or Platform(name=machine.name)
    b = PlatformBuilder(machine.emulation, old, machine.name)
    b.machine = machine
    b._lookup = lookup
    for name, model in machine.peripherals.items():
        kind = "tag" if isinstance(model, TaggedRegion) else "model"
        b.built[name] = _Built(kind, model)
    for name, region in (getattr(machine, "memories", None) or {}).items():
        b.built[name] = _Built("memory", region)
    for e in old.peripherals():
        if e.type_name.startswith("CPU."):
            b.built[e.name] = _Built("cpu", machine.cpu)
        b.built.setdefault(e.name, _Built("none", None))
    new = [e for e in piece.entries.values() if e.type_name is not None]
    updates = [e for e in piece.entries.values() if e.type_name is None and e.name != "sysbus"]
    for e in new:
        if e.name in b.built:
            raise PlatformError(f"{e.location}: {e.name}: {machine.name} has a peripheral of that "
                                "name already; leave out the type to update it")
        if e.type_name.startswith("CPU.") or e.type_name in MEMORY_TYPES:
            raise PlatformError(f"{e.location}: {e.name}: a {e.type_name} cannot be added to a "
                                "machine that already holds firmware; load it before LoadELF")
    for e in updates:
        if e.ctor_args or e.registrations:
            raise PlatformError(f"{e.location}: {e.name}: constructor arguments and registrations "
                                "of a built peripheral cannot change; only connections and "
                                "properties can be added")
    combined = Platform(entries={**old.entries, **{e.name: e for e in new}}, sources=old.sources,
                        tags=piece.tags, name=piece.name)
    b.platform = combined
    for e in b._creation_order():
        if e.name not in b.built:
            b._build_entry(e)
    for e in updates:
        target = b.built.get(e.name)
        for prop, value in e.properties.items():
            if target is None or target.kind != "model":
                raise PlatformError(f"{e.location}: {e.name}: has no model to set {prop} on")
            setattr(target.obj, snake_case(prop), b._convert(e, prop, value))
    b._attach_children(new)
    b._connect_all(new + [e for e in updates if e.connections])
    b._apply_tags()
    machine.sysbus.finalize()          # map the pages the new peripherals use
    for e in new:
        old.entries[e.name] = e
    for e in updates:
        if e.name in old.entries:
            old.entries[e.name].connections.extend(e.connections)
    old.tags.extend(piece.tags)
    machine.platform = old
    return [e.name for e in new]


def build_machine(emulation, platform: Platform | str | os.PathLike, name: str = "machine-0",
                  search_paths: Iterable[str | os.PathLike] | None = None,
                  freq_hz: int | None = None):
    """Build a Machine from a .repl path or an already parsed Platform, add it to `emulation`
    and return it (finalized, no firmware loaded). PlatformError on anything the platform
    gets wrong, with the file:line of the entry."""
    if not isinstance(platform, Platform):
        platform = load_platform(platform, search_paths)
    return PlatformBuilder(emulation, platform, name, freq_hz).build()


def load_firmware(machine, elf: str | os.PathLike):
    """Load an ELF and reset the core. When the boot address holds no vector table (Renode's
    STM32F103 maps a blank 512 MiB "flash" at 0 and the firmware lands at 0x08000000), boot
    from the ELF's lowest loaded address instead, as Renode's Cortex-M does."""
    fw = machine.load_elf(elf, reset=False)
    boot = machine.boot_address
    if boot is not None and fw.segments:
        sp = int.from_bytes(machine.sysbus.read_memory(boot, 4), "little")
        if sp in (0, 0xFFFFFFFF):
            lowest = min(seg.paddr for seg in fw.segments)
            if lowest != boot:
                log.info("%s: nothing to boot at 0x%08x: booting from the firmware's vector "
                         "table at 0x%08x", machine.name, boot, lowest)
                machine.boot_address = lowest
    machine.finalize()
    machine.reset_cpu_only()
    return fw


def load_binary(machine, path: str | os.PathLike, address: int = 0x08000000):
    """Write a raw binary (a factory image of the on-chip flash, `metersim image pack`) into
    the machine's memory at `address` (default: the STM32 flash base) and reset the core, which
    boots from the vector table the binary puts at the boot address. No symbols: a fault report
    shows addresses only."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise SetupError(f"{path}: {e.strerror}") from None
    region = machine.sysbus.region_at(address)
    if region is None or not region.contains(address + max(len(data), 1) - 1):
        raise SetupError(f"{path}: {len(data)} bytes at 0x{address:08x} do not fit the memory of "
                         f"{machine.name}" + (f" (0x{region.base:08x} + 0x{region.size:x})"
                                              if region is not None else ""))
    machine.sysbus.write_memory(address, data)
    # The sites the core hooks (interrupt unmasking, divide and FP traps, unprivileged
    # loads/stores), found in the written bytes as in an ELF's code; data scanned as code only
    # adds sites where execution never starts, which is harmless. Erased flash is skipped.
    code = _BinaryCode(address, data)
    machine.cpu.add_unmask_hooks(find_unmask_sites(code))
    machine.cpu.traps.scan(code)
    machine.finalize()
    machine.reset_cpu_only()
    return data


class _BinaryCode:
    """A raw binary's non-erased stretches, shaped like Firmware.executable_bytes()."""

    def __init__(self, address: int, data: bytes):
        self.address, self.data = address, data

    def executable_bytes(self):
        start = 0
        for gap in re.finditer(rb"\xff{64,}", self.data):
            if gap.start() > start:
                yield self.address + start, self.data[start:gap.start()]
            start = gap.end() + (gap.end() & 1)   # stay on halfword boundaries
        if start < len(self.data):
            yield self.address + start, self.data[start:]


def create_machine(emulation, repl_path: Platform | str | os.PathLike,
                   elf: str | os.PathLike | None = None, name: str | None = None,
                   search_paths: Iterable[str | os.PathLike] | None = None,
                   freq_hz: int | None = None):
    """Build a machine from a .repl (path or Platform), load `elf` if given, and return it.
    The default name is `machine-<n>` with n the number of machines already there."""
    if name is None:
        name = f"machine-{len(emulation.machines)}"
    m = build_machine(emulation, repl_path, name, search_paths, freq_hz)
    if elf is not None:
        if not Path(elf).is_file():
            raise SetupError(f"{elf}: firmware file not found")
        load_firmware(m, elf)
    return m
