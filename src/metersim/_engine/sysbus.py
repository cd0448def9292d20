"""The system bus: RAM/ROM regions mapped into unicorn, MMIO peripherals dispatched per page.

- Memory regions are host buffers mapped with `mem_map_ptr`, so an alias (the boot alias of
  flash at 0x00000000) shares the same bytes, and Python reads them without copies.
- Read-only regions (on-chip flash) trap CPU stores; the handler registered for the region
  (the flash controller model) decides whether the store programs the cells.
- MMIO: unicorn dispatches each mapped range in C to one Python callback pair; inside it the
  page table (1 KiB pages, a dict) finds the model in O(1), whatever the number of peripherals.
- Tagged regions (types without a model, `Tag` statements) read a constant and log each
  address once.
- Hot registers: the status and time registers firmware reads most (SysTick CVR, DWT CYCCNT,
  SPI SR) are answered in C from the models' state, without a Python call (hot_regs).
- Bit-band aliases (0x22000000 -> SRAM, 0x42000000 -> peripherals) turn word accesses into
  single-bit read-modify-writes (ARMv7-M B3.5.3 / PM0214 2.2.5).
"""

from __future__ import annotations

import ctypes
import logging
import mmap
from dataclasses import dataclass, field
from typing import Callable

from unicorn import UC_PROT_ALL, UC_PROT_EXEC, UC_PROT_READ, UcError
from unicorn.unicorn_py3.unicorn import MMIO_READ_CFUNC, MMIO_WRITE_CFUNC
from unicorn.unicorn_py3.unicorn import uclib as _uclib

from metersim._engine.hot_regs import RangeHotRegs, attach_range
from metersim._engine.hot_regs import mode as hot_regs_mode
from metersim._errors import PlatformError

PAGE_SHIFT = 10
PAGE = 1 << PAGE_SHIFT

log = logging.getLogger("metersim.sysbus")


@dataclass
class MemoryRegion:
    name: str
    base: int
    size: int
    writable: bool
    buffer: ctypes.Array
    aliases: list[int] = field(default_factory=list)
    write_handler: Callable[[int, int, int], bool] | None = None

    def contains(self, addr: int) -> bool:
        if self.base <= addr < self.base + self.size:
            return True
        return any(a <= addr < a + self.size for a in self.aliases)


@dataclass
class Mapping:
    name: str
    base: int
    size: int
    model: object
    kind: str = "model"   # "model", "tag", "bitband"


class TaggedRegion:
    """A region with no model: reads return the tag value, accesses are logged once."""

    def __init__(self, name: str, value: int = 0, tags: dict[int, tuple[str, int]] | None = None,
                 machine_name: str = ""):
        self.name = name
        self.value = value
        self.tags = tags or {}   # offset -> (register name, value)
        self._seen: set[tuple[int, bool]] = set()
        self.machine_name = machine_name

    def add_tag(self, offset: int, reg_name: str, value: int) -> None:
        self.tags[offset] = (reg_name, value)

    def read(self, offset: int, size: int) -> int:
        tag = self.tags.get(offset & ~3)
        if (offset, False) not in self._seen:
            self._seen.add((offset, False))
            what = f" ({tag[0]})" if tag else ""
            log.info("%s: read from unmodelled %s+0x%x%s", self.machine_name, self.name, offset, what)
        value = tag[1] if tag else self.value
        shift = (offset & 3) * 8
        return (value >> shift) & ((1 << (8 * size)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        if (offset, True) not in self._seen:
            self._seen.add((offset, True))
            log.info("%s: write 0x%x to unmodelled %s+0x%x", self.machine_name, value, self.name,
                     offset)

    def reset(self) -> None:
        pass


class SysBus:
    def __init__(self, machine):
        self.machine = machine
        self.uc = machine.cpu.uc
        self.regions: list[MemoryRegion] = []
        self.mappings: list[Mapping] = []
        self._pages: dict[int, tuple[object, int]] = {}  # page index -> (model, base)
        self._mmio_ranges: list[tuple[int, int]] = []
        self.hot_ranges: dict[int, RangeHotRegs] = {}   # range start -> its hot registers
        self._make_mmio_callbacks()

    # -- memory -----------------------------------------------------------------------------
    def map_memory(self, name: str, base: int, size: int, writable: bool = True,
                   aliases: list[int] | None = None) -> MemoryRegion:
        if size <= 0 or size % PAGE or base % PAGE:
            raise PlatformError(f"memory {name!r} at 0x{base:08x} size 0x{size:x}: base and size "
                                f"must be multiples of 0x{PAGE:x}")
        for start in [base] + list(aliases or []):
            self._check_free(name, start, size)
        # Anonymous mmap: pages materialise on first touch, so a platform that declares a
        # 512 MiB region costs nothing until the firmware uses it. Flash reads erased (0xFF).
        backing = mmap.mmap(-1, size)
        buf = (ctypes.c_uint8 * size).from_buffer(backing)
        if not writable:
            ctypes.memset(buf, 0xFF, size)
        perms = UC_PROT_ALL if writable else (UC_PROT_READ | UC_PROT_EXEC)
        region = MemoryRegion(name, base, size, writable, buf, list(aliases or []))
        region.backing = backing
        for start in [base] + region.aliases:
            self.uc.mem_map_ptr(start, size, perms, ctypes.addressof(buf))
        self.regions.append(region)
        self.mappings.append(Mapping(name, base, size, region, "memory"))
        return region

    def _check_free(self, name: str, base: int, size: int) -> None:
        end = base + size
        for m in self.mappings:
            starts = [m.base] + (m.model.aliases if isinstance(m.model, MemoryRegion) else [])
            for s in starts:
                if s < end and base < s + m.size:
                    raise PlatformError(
                        f"{name!r} at <0x{base:08x}, +0x{size:x}> overlaps {m.name!r} at "
                        f"<0x{s:08x}, +0x{m.size:x}>")

    def region_at(self, addr: int) -> MemoryRegion | None:
        for r in self.regions:
            if r.contains(addr):
                return r
        return None

    def rom_write_handler(self, addr: int):
        r = self.region_at(addr)
        return r.write_handler if r is not None else None

    def set_rom_write_handler(self, region: MemoryRegion, fn: Callable[[int, int, int], bool]) -> None:
        region.write_handler = fn

    def read_memory(self, addr: int, n: int) -> bytes:
        """Bytes from RAM/ROM regardless of protection (host side, no side effects)."""
        r = self.region_at(addr)
        if r is not None:
            off = self._offset_in(r, addr)
            if off + n <= r.size:
                return bytes(r.buffer[off:off + n])
        try:
            return bytes(self.uc.mem_read(addr, n))
        except UcError:
            raise PlatformError(f"no memory at 0x{addr:08x} (+{n})") from None

    def write_memory(self, addr: int, data: bytes) -> None:
        """Store bytes into RAM/ROM regardless of protection (loader, flash programming)."""
        r = self.region_at(addr)
        if r is None:
            raise PlatformError(f"no memory at 0x{addr:08x} to write {len(data)} bytes to")
        off = self._offset_in(r, addr)
        if off + len(data) > r.size:
            raise PlatformError(f"{len(data)} bytes at 0x{addr:08x} run past the end of {r.name!r}")
        ctypes.memmove(ctypes.addressof(r.buffer) + off, bytes(data), len(data))
        if not r.writable:
            self.machine.cpu.invalidate_code_caches()
            # The bytes bypassed unicorn: code it translated from them (flash rewritten by the
            # firmware, e.g. an app upgraded in place) must be translated again.
            self.uc.ctl_remove_cache(r.base + off, r.base + off + len(data))
            for a in r.aliases:
                self.uc.ctl_remove_cache(a + off, a + off + len(data))

    @staticmethod
    def _offset_in(r: MemoryRegion, addr: int) -> int:
        if r.base <= addr < r.base + r.size:
            return addr - r.base
        for a in r.aliases:
            if a <= addr < a + r.size:
                return addr - a
        raise ValueError(addr)

    # -- MMIO -------------------------------------------------------------------------------
    def map_peripheral(self, name: str, base: int, size: int, model, kind: str = "model") -> None:
        if size <= 0:
            raise PlatformError(f"peripheral {name!r} has no size")
        self._check_free(name, base, size)
        self.mappings.append(Mapping(name, base, size, model, kind))
        first, last = base >> PAGE_SHIFT, (base + size - 1) >> PAGE_SHIFT
        for page in range(first, last + 1):
            if page in self._pages:
                # Two small peripherals in one page: dispatch by offset inside a shared page.
                prev_model, prev_base = self._pages[page]
                if isinstance(prev_model, _SharedPage):
                    shared = prev_model
                else:
                    prev_size = next(m.size for m in self.mappings if m.model is prev_model)
                    shared = _SharedPage(page, [(prev_model, prev_base, prev_size)])
                shared.parts.append((model, base, size))
                self._pages[page] = (shared, page << PAGE_SHIFT)
            else:
                self._pages[page] = (model, base)

    def finalize(self) -> None:
        """Map every MMIO page range into unicorn (contiguous pages share one mapping).
        Called again after peripherals were added to a running machine, it maps only the
        pages not mapped yet."""
        self.machine.cpu.bind_memory_hooks(
            [(start, r.size) for r in self.regions if r.writable for start in [r.base] + r.aliases])
        pages = sorted(p for p in self._pages
                       if not any(s <= (p << PAGE_SHIFT) < s + z for s, z in self._mmio_ranges))
        i = 0
        while i < len(pages):
            j = i
            while j + 1 < len(pages) and pages[j + 1] == pages[j] + 1:
                j += 1
            start = pages[i] << PAGE_SHIFT
            size = (pages[j] - pages[i] + 1) << PAGE_SHIFT
            if (start, size) not in self._mmio_ranges:
                bc = self.machine.cpu.bc
                if bc is not None:
                    # through the block clock's trampoline: it records the access's exact
                    # instruction count (and PC) before the model sees the access
                    ud = bc.trampoline(self._read_cfn, self._write_cfn, start)
                    status = _uclib.uc_mmio_map(self.uc._uch, start, size,
                                                ctypes.c_void_p(bc.mmio_read), ud,
                                                ctypes.c_void_p(bc.mmio_write), ud)
                else:
                    status = _uclib.uc_mmio_map(self.uc._uch, start, size, self._read_cfn,
                                                start, self._write_cfn, start)
                if status:
                    raise PlatformError(f"cannot map MMIO <0x{start:08x}, +0x{size:x}>: "
                                        f"{UcError(status)}")
                if bc is not None:
                    # the registers its models let C answer (SysTick, DWT, SPI SR, USART SR/ISR)
                    hot = attach_range(self, start, size, ud)
                    if hot is not None:
                        self.hot_ranges[start] = hot
                self._mmio_ranges.append((start, size))
            i = j + 1

    def _make_mmio_callbacks(self) -> None:
        """Native MMIO callbacks straight from unicorn to the page table: every firmware
        register access goes through here, so the binding's generic wrappers are skipped. A
        model's exception stops the emulation and is re-raised by the core, as the binding does."""
        pages = self._pages
        uc = self.uc

        def fail(e: BaseException) -> None:
            if uc._hook_exception is None:
                uc._hook_exception = e
            _uclib.uc_emu_stop(uc._uch)

        # Lean on purpose (one call per register access): locals only, no global lookups.
        shift = PAGE_SHIFT
        masks = tuple((1 << (8 * n)) - 1 for n in range(9))    # access size (bytes) -> mask

        def read(_handle, offset, size, range_base):
            try:
                addr = range_base + offset if range_base else offset
                model, base = pages[addr >> shift]
                return model.read(addr - base, size) & 0xFFFFFFFF
            except BaseException as e:  # noqa: BLE001 - handed back to the run loop
                fail(e)
                return 0

        def write(_handle, offset, size, value, range_base):
            try:
                addr = range_base + offset if range_base else offset
                model, base = pages[addr >> shift]
                model.write(addr - base, size, value & masks[size])
            except BaseException as e:  # noqa: BLE001
                fail(e)

        if hot_regs_mode() == "verify":
            hot_ranges = self.hot_ranges
            plain_read = read

            def read(_handle, offset, size, range_base):   # noqa: F811 - the checking one
                value = plain_read(_handle, offset, size, range_base)
                hot = hot_ranges.get(range_base)
                if hot is not None:
                    hot.check(value)     # the value C computed for this access, if any
                return value

        self._read_cfn = MMIO_READ_CFUNC(read)
        self._write_cfn = MMIO_WRITE_CFUNC(write)

    def read_word(self, addr: int, size: int = 4) -> int:
        """Host-side read through the bus (MMIO models included)."""
        entry = self._pages.get(addr >> PAGE_SHIFT)
        if entry is not None:
            model, base = entry
            return model.read(addr - base, size)
        return int.from_bytes(self.read_memory(addr, size), "little")

    def write_word(self, addr: int, value: int, size: int = 4) -> None:
        entry = self._pages.get(addr >> PAGE_SHIFT)
        if entry is not None:
            model, base = entry
            model.write(addr - base, size, value & ((1 << (8 * size)) - 1))
            return
        self.write_memory(addr, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))

    def cpu_read(self, addr: int, size: int) -> int | None:
        """A core access made on the core's behalf (the MPU's checked path): a model register,
        or RAM/ROM bytes; None where nothing answers (a BusFault)."""
        entry = self._pages.get(addr >> PAGE_SHIFT)
        if entry is not None:
            model, base = entry
            return model.read(addr - base, size) & ((1 << (8 * size)) - 1)
        r = self.region_at(addr)
        if r is None or self._offset_in(r, addr) + size > r.size:
            return None
        off = self._offset_in(r, addr)
        return int.from_bytes(bytes(r.buffer[off:off + size]), "little")

    def cpu_write(self, addr: int, size: int, value: int) -> bool:
        """A core store made on the core's behalf; False where it is a BusFault. Stores into
        read-only memory go to the region's write handler (the flash controller), as the
        core's own stores do."""
        value &= (1 << (8 * size)) - 1
        entry = self._pages.get(addr >> PAGE_SHIFT)
        if entry is not None:
            model, base = entry
            model.write(addr - base, size, value)
            return True
        r = self.region_at(addr)
        if r is None or self._offset_in(r, addr) + size > r.size:
            return False
        if not r.writable:
            return r.write_handler is not None and bool(r.write_handler(addr, size, value))
        # Through unicorn, so code translated from these bytes is invalidated.
        self.uc.mem_write(addr, value.to_bytes(size, "little"))
        return True

    def find_mapping(self, addr: int) -> Mapping | None:
        for m in self.mappings:
            if m.base <= addr < m.base + m.size:
                return m
        return None

    # -- bit-band ---------------------------------------------------------------------------
    def add_bitband(self, alias_base: int, target_base: int, size: int = 0x2000000) -> None:
        self.map_peripheral(f"bitband@{alias_base:08x}", alias_base, size,
                            BitBand(self, target_base), "bitband")


class _SharedPage:
    """Dispatch inside one 1 KiB page shared by several small peripherals."""

    def __init__(self, page: int, parts: list[tuple[object, int, int]]):
        self.base = page << PAGE_SHIFT
        self.parts: list[tuple[object, int, int]] = list(parts)

    def _find(self, off: int):
        addr = self.base + off
        for model, base, size in self.parts:
            if base <= addr < base + size:
                return model, addr - base
        return None, 0

    def read(self, off: int, size: int) -> int:
        model, o = self._find(off)
        return model.read(o, size) if model is not None else 0

    def write(self, off: int, size: int, value: int) -> None:
        model, o = self._find(off)
        if model is not None:
            model.write(o, size, value)


class BitBand:
    """Bit-band alias: word n of the alias is bit (n % 8) of byte (n // 8) of the target."""

    def __init__(self, bus: SysBus, target_base: int):
        self.bus = bus
        self.target_base = target_base

    def _locate(self, offset: int) -> tuple[int, int]:
        return self.target_base + (offset >> 5), (offset >> 2) & 7

    def read(self, offset: int, size: int) -> int:
        addr, bit = self._locate(offset)
        word_addr = addr & ~3
        word = self.bus.read_word(word_addr, 4)
        return (word >> (bit + 8 * (addr & 3))) & 1

    def write(self, offset: int, size: int, value: int) -> None:
        addr, bit = self._locate(offset)
        word_addr = addr & ~3
        shift = bit + 8 * (addr & 3)
        word = self.bus.read_word(word_addr, 4)
        word = (word | (1 << shift)) if value & 1 else (word & ~(1 << shift))
        self.bus.write_word(word_addr, word, 4)

    def reset(self) -> None:
        pass
