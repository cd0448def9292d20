"""`metersim platform show FILE.repl`: what a platform description builds, as a table.

One row per peripheral: name, Renode type, where it sits (address range on the system bus, or
the bus it is attached to), size, whether metersim has a model for the type (`modelled`) or
will only answer its address range as a tagged region (`tagged`), and its interrupt
connections. Then the `Tag` statements of the sysbus init block, warnings (overlapping
ranges, connections to receivers that do not exist) and a summary.

With `--registers NAME`, the register map of that peripheral's model instead: each register
with its address, width, reset value and fields (bits, access mode, reset value), from the
same table that drives the model. `--docs PATH` writes every model's map as Markdown
(docs/registers.md; a test checks that it is up to date).

    python -m metersim._platform_show platforms/boards/meter.repl [-I SEARCH_PATH] [--all]
    python -m metersim._platform_show platforms/cpus/stm32f103rb.repl --registers gpioPortA
    python -m metersim._platform_show --docs docs/registers.md
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Callable, Iterable

from metersim._engine.repl import Connection, Entry, Platform, load_platform
from metersim._errors import MetersimError
from metersim.peripherals.regmap import RegisterMap

#: Register-window sizes of Renode types whose .repl entries give no size, from the memory maps
#: of RM0090 (STM32F40x, section 2.3) and RM0008 (STM32F10x, section 3.3): most APB/AHB
#: blocks own a 1 KiB slot; the Ethernet MAC owns 5 KiB (0x4002_8000-0x4002_93FF); the
#: Cortex-M System Control Space is 4 KiB. Used only when neither the .repl nor a model says.
DEFAULT_SIZES: dict[str, int] = {
    "UART.STM32_UART": 0x400,
    "SPI.STM32SPI": 0x400,
    "I2C.STM32F1_I2C": 0x400,
    "I2C.STM32F7_I2C": 0x400,
    "CAN.STMCAN": 0x400,
    "IRQControllers.NVIC": 0x1000,
    "IRQControllers.STM32F4_EXTI": 0x400,
    "GPIOPort.STM32_GPIOPort": 0x400,
    "GPIOPort.STM32F1GPIOPort": 0x400,
    "GPIOPort.STM32F1AFIO": 0x400,
    "DMA.STM32DMA": 0x400,
    "DMA.STM32G0DMA": 0x400,
    "Timers.STM32_Timer": 0x400,
    "Timers.STM32F4_RTC": 0x400,
    "Timers.STM32_IndependentWatchdog": 0x400,
    "Miscellaneous.STM32F4_RCC": 0x400,
    "Miscellaneous.STM32_PWR": 0x400,
    "Miscellaneous.STM32_RNG": 0x400,
    "CRC.STM32_CRC": 0x400,
    "MTD.STM32F4_FlashController": 0x400,
    "Network.SynopsysEthernetMAC": 0x1400,
}

#: Types whose `size` constructor argument is the size of their window on the bus.
_SIZE_FROM_CTOR = ("Memory.MappedMemory", "Memory.ArrayMemory", "Python.PythonPeripheral")

Lookup = Callable[[str], "type | None"]


def _registry_lookup(type_name: str) -> type | None:
    from metersim.peripherals.registry import lookup

    return lookup(type_name)


def _addr(v: int) -> str:
    return f"0x{v:08X}"


def _size_hex(v: int) -> str:
    return f"0x{v:X}"


def _runs(values: list[int]) -> str:
    """[0,1,2,4,6,7] -> '0-2,4,6-7' (order kept, only ascending runs merged)."""
    out: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        out.append(str(values[i]) if i == j else f"{values[i]}-{values[j]}")
        i = j + 1
    return ",".join(out)


def _is_irq_receiver(platform: Platform, name: str) -> bool:
    e = platform.entries.get(name)
    if e is None or e.type_name is None:
        return True  # unknown: show it rather than hide it
    t = e.type_name
    return t.startswith(("IRQControllers.", "CPU.")) or t == "Miscellaneous.CombinedInput"


def format_connections(platform: Platform, entry: Entry, show_all: bool = False) -> str:
    """Connections of an entry, compressed: `-> nvic@37`, `[0-4] -> nvic@[6-10]`,
    `UpdateInterrupt -> nvic@25 | dma1@5`. Unless `show_all`, only wires into interrupt
    controllers are spelled out; the rest is counted (`+16 signals`)."""
    parts: list[str] = []
    groups: dict[str, tuple[list[int], list[int]]] = {}
    order: list[str | tuple] = []
    hidden = 0
    for c in entry.connections:
        targets = [t for t in c.targets if show_all or _is_irq_receiver(platform, t.peripheral)]
        hidden += len(c.targets) - len(targets)
        if not targets:
            continue
        if isinstance(c.source, int) and len(targets) == 1 and targets[0].local_index is None:
            t = targets[0]
            if t.peripheral not in groups:
                groups[t.peripheral] = ([], [])
                order.append(t.peripheral)
            groups[t.peripheral][0].append(c.source)
            groups[t.peripheral][1].append(t.pin)
        else:
            order.append(("one", Connection(c.source, targets)))
    for item in order:
        if isinstance(item, tuple):
            parts.append(str(item[1]))
            continue
        srcs, pins = groups[item]
        if len(srcs) == 1:
            parts.append(f"{srcs[0]} -> {item}@{pins[0]}")
        else:
            parts.append(f"[{_runs(srcs)}] -> {item}@[{_runs(pins)}]")
    if hidden:
        parts.append(f"+{hidden} signal{'s' if hidden != 1 else ''}")
    return ", ".join(parts)


def _size_of(entry: Entry, reg_size: int | None, model: type | None) -> tuple[int | None, bool]:
    """(size, given_in_repl)."""
    if reg_size is not None:
        return reg_size, True
    if entry.type_name in _SIZE_FROM_CTOR and isinstance(entry.ctor_args.get("size"), int):
        return entry.ctor_args["size"], True
    if model is not None and isinstance(getattr(model, "size", None), int):
        return model.size, False
    if entry.type_name in DEFAULT_SIZES:
        return DEFAULT_SIZES[entry.type_name], False
    return None, False


def _sort_key(platform: Platform, e: Entry) -> tuple:
    """By system-bus address; a device on another bus (`@ spi1`) right after that bus."""
    regs = e.registrations
    addr = e.sysbus_address
    if addr is not None:
        return (0, addr, 0, e.name)
    if any(r.parent == "sysbus" for r in regs):
        return (1, 0, 0, e.name)
    if regs:
        parent = platform.entries.get(regs[0].parent)
        paddr = parent.sysbus_address if parent is not None else None
        if paddr is not None:
            return (0, paddr, 1, e.name)
        return (2, 0, 0, f"{regs[0].parent}/{e.name}")
    return (3, 0, 0, e.name)


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    out = []
    for r in [header, *rows]:
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return out


# Types the engine itself provides (no Python model class): memory, the core, bit-band aliases.
ENGINE_TYPES = {
    "Memory.MappedMemory": "memory",
    "Memory.ArrayMemory": "memory",
    "CPU.CortexM": "core",
    "Miscellaneous.BitBanding": "modelled",
}


def render_platform(platform: Platform, lookup: Lookup | None = None, show_all: bool = False) -> str:
    """The report for an already loaded platform (see the module docstring)."""
    lookup = lookup or _registry_lookup
    periph = sorted(platform.peripherals(), key=lambda e: _sort_key(platform, e))
    rows: list[list[str]] = []
    counts = {"modelled": 0, "memory": 0, "core": 0, "tagged": 0, "no model": 0}
    footnote = False
    spans: list[tuple[int, int, str]] = []
    for e in periph:
        model = lookup(e.type_name) if e.type_name else None
        # Only something with a bus address can be stood in for by a tagged region.
        on_sysbus = any(r.parent == "sysbus" and r.address is not None for r in e.registrations)
        status = ENGINE_TYPES.get(e.type_name or "") or (
            "modelled" if model is not None else ("tagged" if on_sysbus else "no model"))
        counts[status] += 1
        conns = format_connections(platform, e, show_all)
        regs = e.registrations or [None]
        for i, r in enumerate(regs):
            if r is None:
                where, size_txt = "(not on a bus)", "-"
            elif r.parent != "sysbus":
                where = f"@ {r.parent}" + (f" 0x{r.address:X}" if r.address is not None else "")
                size_txt = "-"
            elif r.address is None:
                where, size_txt = "sysbus", "-"
            else:
                size, given = _size_of(e, r.size, model)
                if size is None:
                    where, size_txt = _addr(r.address), "?"
                else:
                    where = f"{_addr(r.address)}-{_addr(r.address + size - 1)}"
                    size_txt = _size_hex(size) + ("" if given else "*")
                    footnote |= not given
                    spans.append((r.address, r.address + size - 1, e.name))
                if r.extra.get("region"):
                    where += f" ({r.extra['region']})"
            if i == 0:
                rows.append([e.name, e.type_name or "", where, size_txt, status, conns])
            else:
                rows.append(["", "", where, size_txt, "", ""])

    lines = [f"Platform {platform.name}"]
    for i, src in enumerate(platform.sources):
        lines.append(f"  {'file' if i == 0 else 'uses'}: {src}")
    lines.append("")
    lines += _table(rows, ["NAME", "TYPE", "ADDRESS", "SIZE", "STATUS", "CONNECTIONS"])
    if footnote:
        lines.append("  * size not given in the .repl: from the metersim model or its default table")

    if platform.tags:
        lines += ["", "Tags (sysbus init):"]
        trows = []
        for t in sorted(platform.tags, key=lambda t: t.start):
            inside = next((n for a, b, n in spans if a <= t.start <= b), "")
            trows.append([f"{_addr(t.start)}-{_addr(t.end)}", t.name,
                          "" if t.value is None else f"0x{t.value:08X}", f"in {inside}" if inside else ""])
        lines += ["  " + ln for ln in _table(trows, ["RANGE", "NAME", "VALUE", ""])]

    warnings = []
    spans.sort()
    for (a1, b1, n1), (a2, b2, n2) in zip(spans, spans[1:]):
        if a2 <= b1:
            warnings.append(f"{n1} ({_addr(a1)}-{_addr(b1)}) overlaps {n2} ({_addr(a2)}-{_addr(b2)})")
    for e in periph:
        for c in e.connections:
            for t in c.targets:
                if t.peripheral not in platform.entries:
                    warnings.append(f"{e.name}: '{c}' goes to '{t.peripheral}', which no entry declares")
    if warnings:
        lines += ["", "Warnings:"] + [f"  {w}" for w in warnings]

    lines += ["", f"{len(periph)} peripherals: {counts['modelled']} modelled, {counts['tagged']} tagged, "
                  f"{counts['memory']} memory regions, {counts['core']} core"
                  + (f", {counts['no model']} without a model or bus address" if counts["no model"] else "")
                  + f"; {len(platform.tags)} tag{'s' if len(platform.tags) != 1 else ''}"]
    return "\n".join(lines) + "\n"


def show_platform(path: str, search_paths: Iterable[str] | None = None, *,
                  lookup: Lookup | None = None, show_all: bool = False) -> str:
    """Load a .repl (with its usings) and return the report text."""
    return render_platform(load_platform(path, search_paths), lookup=lookup, show_all=show_all)


def _hex(value: int, width: int) -> str:
    return f"0x{value:0{(width + 3) // 4}X}"


def _field_rows(reg) -> list[tuple[str, str, str, int, str]]:
    """(name, bits, access, reset, doc) per field, high bits first; a run of numbered fields
    alike but for their place (ODR0 ... ODR15) is one row: `ODR15..0`, `[15]..[0]`."""
    groups: list[list] = []
    for f in reg.fields:
        m = re.fullmatch(r"(.*?)(\d+)", f.name)
        last = groups[-1][-1] if groups else None
        if (m and last is not None and last[1] == m.group(1) and last[2] + 1 == int(m.group(2))
                and (last[0].width, last[0].access, last[0].reset, last[0].doc)
                == (f.width, f.access, f.reset, f.doc)
                and (len(groups[-1]) == 1 or f.lsb - last[0].lsb
                     == last[0].lsb - groups[-1][-2][0].lsb)):
            groups[-1].append((f, m.group(1), int(m.group(2))))
        else:
            groups.append([(f, m.group(1), int(m.group(2))) if m else (f, f.name, -2)])
    rows = []
    for g in sorted(groups, key=lambda g: -max(x[0].lsb for x in g)):
        f = g[0][0]
        if len(g) == 1:
            rows.append((f.name, f.bits, f.access, f.reset, f.doc))
        else:
            hi, lo = max(g, key=lambda x: x[0].lsb), min(g, key=lambda x: x[0].lsb)
            rows.append((f"{hi[1]}{hi[2]}..{lo[2]}", f"{hi[0].bits}..{lo[0].bits}",
                         f.access, f.reset, f.doc))
    return rows


def render_registers(regs: RegisterMap, base: int | None = None) -> str:
    """A register map as text: one line per register, its fields below (high bits first)."""
    lines = [regs.title] if regs.title else []
    rows = []
    for r in sorted(regs, key=lambda r: r.offset):
        where = _addr(base + r.offset) if base is not None else f"+0x{r.offset:03X}"
        one_field = len(r.fields) == 1 and r.fields[0].width == r.width
        rows.append([where, r.name, str(r.width), _hex(r.reset, r.width),
                     r.fields[0].access if one_field else "",
                     r.doc or (r.fields[0].doc if one_field else "")])
        if not one_field:
            for name, bits, access, reset, doc in _field_rows(r):
                extra = f" reset {reset:#x}" if reset else ""
                rows.append(["", f"  {name} {bits} {access}{extra}", "", "", "", doc])
    lines += _table(rows, ["ADDRESS" if base is not None else "OFFSET", "REGISTER", "BITS",
                           "RESET", "ACCESS", ""])
    return "\n".join(lines) + "\n"


def show_registers(path: str, peripheral: str, search_paths: Iterable[str] | None = None, *,
                   lookup: Lookup | None = None) -> str:
    """The register map of one peripheral of a platform, at its bus address."""
    platform = load_platform(path, search_paths)
    entry = platform.entries.get(peripheral)
    if entry is None or entry.type_name is None:
        raise MetersimError(f"{path}: no peripheral named {peripheral!r} "
                            f"(names: {', '.join(sorted(platform.entries))})")
    model = (lookup or _registry_lookup)(entry.type_name)
    regs = getattr(model, "registers", None)
    if regs is None:
        raise MetersimError(f"{peripheral} ({entry.type_name}): its model has no register table")
    return f"{peripheral}: {entry.type_name}\n" + render_registers(regs, entry.sysbus_address)


def registers_markdown() -> str:
    """docs/registers.md: every model's register table, as Markdown."""
    from metersim.peripherals.registry import known_types
    from metersim.peripherals.regmap import ACCESS_MODES

    models: dict[type, list[str]] = {}
    for name, cls in sorted(known_types().items()):
        if isinstance(getattr(cls, "registers", None), RegisterMap):
            models.setdefault(cls, []).append(name)
    out = ["# Register maps", "",
           "Generated from the models' register tables by "
           "`python -m metersim._platform_show --docs docs/registers.md`; do not edit by hand. "
           "`metersim platform show FILE.repl --registers NAME` prints one peripheral's map "
           "at its address.", "",
           "Access modes (as the STM32 reference manuals name them): "
           + "; ".join(f"`{k}` {v}" for k, v in ACCESS_MODES.items())
           + ". Bits in no field are reserved: they read 0 and ignore writes.", ""]
    for cls, names in sorted(models.items(), key=lambda kv: kv[0].registers.title):
        regs = cls.registers
        out += [f"## {regs.title}", "", "Types: " + ", ".join(f"`{n}`" for n in names), "",
                "| offset | register | reset | field | bits | access | field reset | notes |",
                "|---|---|---|---|---|---|---|---|"]
        for r in sorted(regs, key=lambda r: r.offset):
            head = f"| 0x{r.offset:02X} | {r.name} | {_hex(r.reset, r.width)} "
            if r.doc:
                out.append(head + f"| | | | | {r.doc} |")
                head = "| | | "
            for name, bits, access, reset, doc in _field_rows(r):
                out.append(head + f"| {name} | {bits} | {access} | {reset:#x} | {doc} |")
                head = "| | | "
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="metersim platform show",
                                 description="Show what a Renode platform description (.repl) builds.")
    ap.add_argument("file", nargs="?", help="the .repl file")
    ap.add_argument("-I", "--search-path", action="append", default=None, metavar="DIR",
                    help="where to look up `using` files (repeatable; default: current dir and the metersim checkout)")
    ap.add_argument("--all", action="store_true", help="list every connection, not only interrupt wiring")
    ap.add_argument("--registers", metavar="NAME", help="show the register map of peripheral NAME")
    ap.add_argument("--docs", metavar="PATH", help="write every model's register map as Markdown")
    args = ap.parse_args(argv)
    if args.docs:
        from pathlib import Path

        Path(args.docs).write_text(registers_markdown())
        return 0
    if not args.file:
        ap.error("a .repl file is needed (or --docs PATH)")
    search = None
    if args.search_path:
        from metersim._engine.repl import default_search_paths

        search = [*args.search_path, *default_search_paths()]
    try:
        if args.registers:
            sys.stdout.write(show_registers(args.file, args.registers, search))
        else:
            sys.stdout.write(show_platform(args.file, search, show_all=args.all))
    except MetersimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
