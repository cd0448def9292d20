"""Hot registers: MMIO reads answered in C, without a Python call (see _hot_regs.c).

Every firmware register access costs a ctypes callback into the model's Python `read` (about
1-2 µs for a plain status register, more for a model with work to do, against 0.3-0.4 µs
answered in C); the few status and time registers firmware reads most (SysTick CVR, DWT CYCCNT, SPI, I2C and
USART SR) account for a large share of them. A model declares such registers with
`hot_registers()`, a list of `HotRegister`: its offset, a kind the C side knows (`KINDS`) and
the object whose attributes hold the register's state. The bus registers them per MMIO range
(`attach_range`), and the block clock's MMIO trampoline asks the C side first during a fast
slice; the C side answers exactly as the model's `read` would, from the same attributes and
the core's time, with the same state changes, or leaves the read to Python (a side effect it
does not do, a state it does not handle). The model's Python state stays the only copy.

Writes work the same way (`hr_write` in _hot_regs.c): a model declares a register with a write
kind (`WRITE_KINDS`), and C makes a write to it whose whole effect it can make exactly (an I2C
DR byte queued behind the one shifting, an SPI DR byte queued or starting a polled frame, a
PendSV pended through ICSR, a stopped timer's SR flags cleared, a GPIO BSRR write moving no pin
anybody watches, a SysTick CSR/RVR/CVR write with its restart of counting and its rescheduled
wrap); any other write goes to the model's
Python `write`. These kinds are the one C path for System Control Space writes, with or
without the MPU guard (whose SCS callback does only the MPU's registers).

`METERSIM_HOT_REGS=0` keeps every access in Python; `METERSIM_HOT_REGS=verify` computes each
hot value in C without answering, and the bus compares it with the model's answer; a write C
would make is made by Python, then C checks that Python changed what C would have changed and
nothing else (the model's attributes and register dict) (tests).
"""

from __future__ import annotations

import ctypes
import logging
import os
from dataclasses import dataclass

log = logging.getLogger("metersim._engine")

#: Register kinds computed in C (the HR_* numbers of _hot_regs.c).
KINDS = {"systick_csr": 1, "systick_rvr": 2, "systick_cvr": 3, "dwt_ctrl": 4, "dwt_cyccnt": 5,
         "spi_sr": 6, "usart_sr": 7, "usart_isr": 8, "i2c_sr1": 9, "i2c_sr2": 10,
         "timer_sr": 11, "i2c_cr1": 12,
         "icsr": 24,                         # System Control Space reads
         # writes (HR_FIRST_WRITE on)
         "i2c_dr_write": 32, "icsr_write": 33, "timer_sr_write": 34,
         "gpio_f1_bsrr_write": 35, "gpio_f4_bsrr_write": 36,
         "spi_dr_write": 40,
         # System Control Space writes: SysTick (the NVIC's ICSR is icsr_write above)
         "systick_csr_write": 48, "systick_rvr_write": 49, "systick_cvr_write": 50}
#: The kinds that are writes.
WRITE_KINDS = frozenset(k for k, n in KINDS.items() if n >= 32)


@dataclass(frozen=True)
class HotRegister:
    """A register a model lets C answer: at `offset` from the model's base, of kind `kind`
    (see KINDS), its state in the attributes of `state`, for accesses of `sizes` bytes;
    `privileged`: unprivileged accesses fault (the System Control Space), so they go to
    Python."""
    offset: int
    kind: str
    state: object
    sizes: tuple[int, ...] = (1, 2, 4)
    privileged: bool = False


def mode() -> str:
    """"on" (default), "off" or "verify", from METERSIM_HOT_REGS."""
    v = os.environ.get("METERSIM_HOT_REGS", "1").strip().lower()
    return {"0": "off", "off": "off", "verify": "verify"}.get(v, "on")


def declared(model) -> list[HotRegister]:
    """The hot registers `model` declares; the NVIC's SysTick declares its own (its registers
    lie in the System Control Space the NVIC maps). A subclass that replaces `read` (`write`)
    but not `hot_registers` declares no read (write) kinds: C would answer for the parent's."""
    regs: list[HotRegister] = []
    for obj in (model, getattr(model, "systick", None)):
        fn = getattr(obj, "hot_registers", None)
        if not callable(fn):
            continue
        cls = type(obj)
        owner = next(c for c in cls.__mro__ if "hot_registers" in vars(c))
        below = cls.__mro__[:cls.__mro__.index(owner)]
        replaced = {m for m in ("read", "write") if any(m in vars(c) for c in below)}
        regs.extend(r for r in fn()
                    if ("write" if r.kind in WRITE_KINDS else "read") not in replaced)
    return regs


class HotEntry(ctypes.Structure):
    """The layout of hr_entry in _hot_regs.c."""
    _fields_ = [("offset", ctypes.c_uint32), ("kind", ctypes.c_uint32),
                ("sizes", ctypes.c_uint32), ("privileged", ctypes.c_uint32),
                ("owner", ctypes.c_void_p), ("page", ctypes.c_void_p),
                ("state", ctypes.c_void_p), ("method", ctypes.c_void_p),
                ("hits", ctypes.c_uint64), ("declined", ctypes.c_uint64),
                ("verified", ctypes.c_uint64), ("mismatched", ctypes.c_uint64)]


class HotRange(ctypes.Structure):
    """The layout of hr_range in _hot_regs.c."""
    _fields_ = [("tramp", ctypes.c_void_p), ("cpu", ctypes.c_void_p),
                ("pages", ctypes.c_void_p), ("entries", ctypes.c_void_p),
                ("n", ctypes.c_uint32), ("reg_control", ctypes.c_int32),
                ("verify", ctypes.c_uint32), ("pending", ctypes.c_uint32),
                ("value", ctypes.c_uint64), ("wlog", ctypes.c_void_p),
                ("wv", ctypes.c_void_p)]


_lib = None


def _library():
    """The C side (in the _block_clock extension), or None where it is not built."""
    global _lib
    if _lib is None:
        try:
            from metersim._engine import _block_clock
            lib = ctypes.PyDLL(_block_clock.__file__)     # the GIL stays held: quick calls
            lib.hr_init.restype = ctypes.c_int
            lib.hr_register.restype = ctypes.c_int
            lib.hr_register.argtypes = [ctypes.c_void_p]
            lib.hr_unregister.restype = None
            lib.hr_unregister.argtypes = [ctypes.c_void_p]
            if lib.hr_init() != 0:
                raise OSError("hr_init failed")
            # the NVIC's C set_pending and on_gpio, which writes made in C call (a PendSV
            # pended through ICSR, a timer's IRQ line lowered), and the lines' GPIO.set
            from metersim.peripherals.base import GPIO

            lib.hr_natives.restype = None
            lib.hr_natives.argtypes = [ctypes.py_object] * 3
            lib.hr_natives(getattr(_block_clock, "nv_set_pending", None),
                           getattr(_block_clock, "nv_on_gpio", None), GPIO.set)
        except (ImportError, OSError, AttributeError) as e:
            log.debug("hot registers unavailable: %s", e)
            lib = False
        _lib = lib
    return _lib or None


class RangeHotRegs:
    """The hot registers of one MMIO range, registered with the C side for as long as this
    object lives. It holds every object the C side points at (the trampoline included, so
    its address, the registry's key, cannot be reused while registered)."""

    def __init__(self, lib, tramp, cpu, pages: dict, start: int,
                 regs: list[tuple[int, HotRegister, object]], verify: bool):
        from unicorn import arm_const as A

        self._lib = lib
        self.start = start
        self.regs = regs                    # (address, HotRegister, owner)
        self.write_mismatches: list[tuple[int, int, object, object, object]] = []
        self._keep = [tramp, cpu, pages, self.write_mismatches]
        self._entries = (HotEntry * len(regs))()
        for e, (addr, reg, owner) in zip(self._entries, regs):
            page = addr >> 10
            method = type(owner).write if reg.kind in WRITE_KINDS else type(owner).read
            self._keep += [owner, page, reg.state, method]
            e.offset = addr - start
            e.kind = KINDS[reg.kind]
            e.sizes = sum(1 << n for n in reg.sizes)
            e.privileged = int(reg.privileged)
            e.owner, e.page, e.state, e.method = id(owner), id(page), id(reg.state), id(method)
        r = self.range = HotRange()
        r.tramp = ctypes.addressof(tramp)
        r.cpu = id(cpu)
        r.pages = id(pages)
        r.entries = ctypes.addressof(self._entries)
        r.n = len(regs)
        r.reg_control = A.UC_ARM_REG_CONTROL
        r.verify = int(verify)
        r.wlog = id(self.write_mismatches)    # verify: (offset, kind, key, C's, Python's)
        self.registered = lib.hr_register(ctypes.addressof(r)) == 0
        self.verified: dict[str, int] = {}  # verify mode: values compared, per kind
        self.mismatches: list[tuple[int, str, int, int]] = []

    def close(self) -> None:
        if self.registered:
            self.registered = False
            self._lib.hr_unregister(ctypes.addressof(self.range))

    def __del__(self) -> None:
        self.close()

    def check(self, value: int) -> None:
        """Verify mode, from the bus's Python read: compare the value C computed for this
        access (if it would have answered it) with the model's `value`."""
        r = self.range
        k = r.pending
        if k:
            r.pending = 0
            addr, reg, _owner = self.regs[k - 1]
            self.verified[reg.kind] = self.verified.get(reg.kind, 0) + 1
            if r.value != value & 0xFFFFFFFF:
                self.mismatches.append((addr, reg.kind, r.value, value & 0xFFFFFFFF))

    @property
    def checked(self) -> int:
        return sum(self.verified.values())

    def writes_verified(self) -> dict[str, tuple[int, int]]:
        """Verify mode: {write kind: (writes whose effects C and Python made alike, writes
        where they differed)}; `write_mismatches` says where."""
        out: dict[str, tuple[int, int]] = {}
        for e, (_addr, reg, _o) in zip(self._entries, self.regs):
            if reg.kind in WRITE_KINDS:
                ok, bad = out.get(reg.kind, (0, 0))
                out[reg.kind] = (ok + e.verified, bad + e.mismatched)
        return out

    def stats(self) -> dict[tuple[int, str], tuple[int, int]]:
        """{(address, kind): (accesses answered in C, accesses left to Python)}"""
        return {(addr, reg.kind): (e.hits, e.declined)
                for e, (addr, reg, _o) in zip(self._entries, self.regs)}


def attach_range(bus, start: int, size: int, ud: int) -> RangeHotRegs | None:
    """Register the hot registers of the models mapped in the MMIO range [start, start+size),
    whose trampoline is at `ud` (BlockClock.trampoline); None if there are none, the C side
    is missing or hot registers are off."""
    how = mode()
    if how == "off":
        return None
    lib = _library()
    bc = bus.machine.cpu.bc
    if lib is None or bc is None:
        return None
    regs = []
    for m in bus.mappings:
        if m.kind != "model" or not start <= m.base < start + size:
            continue
        for reg in declared(m.model):
            addr = m.base + reg.offset
            owner, base = bus._pages.get(addr >> 10, (None, None))
            if owner is m.model and base == m.base and start <= addr < start + size:
                regs.append((addr, reg, m.model))
    if not regs:
        return None
    tramp = next((t for t in bc._tramps if ctypes.addressof(t) == ud), None)
    if tramp is None:
        return None
    hot = RangeHotRegs(lib, tramp, bus.machine.cpu, bus._pages, start, regs, how == "verify")
    if not hot.registered:
        log.debug("hot registers of <0x%08x, +0x%x> stay in Python (registry full)", start, size)
        return None
    return hot
