"""Direct ctypes access to the pinned unicorn 2.1.4 library: the hot paths of the CPU core.

- Register reads/writes through `uc_reg_read`/`uc_reg_write` without the binding's per-call
  type dispatch (~0.6 µs instead of ~1.4 µs), and batch variants for exception frames.
- The executed-instruction counter of the current `uc_emu_start` (`uc->emu_counter`) and its
  limit (`uc->emu_count`). unicorn keeps both in C but does not expose them; they are adjacent
  `size_t` fields of `struct uc_struct`, located once per process by a calibration run.
  Reading the counter gives exact virtual time inside a slice (during MMIO callbacks);
  lowering the limit ends a slice at an exact instruction without `emu_stop`, which would lose
  the count. This is tied to unicorn==2.1.4 (pinned) and verified at start-up.
"""

from __future__ import annotations

import ctypes

import unicorn
from unicorn import UC_ARCH_ARM, UC_MODE_THUMB, Uc
from unicorn.arm_const import UC_CPU_ARM_CORTEX_M4
from unicorn.unicorn_py3.unicorn import uclib

from metersim.errors import SetupError

_COUNTER_INDEX: int | None = None  # index of emu_counter in uc_struct, in 8-byte words
_SCAN_WORDS = 4096

_reg_read = uclib.uc_reg_read
_reg_write = uclib.uc_reg_write
_reg_read_batch = uclib.uc_reg_read_batch
_mem_read = uclib.uc_mem_read
_mem_write = uclib.uc_mem_write
_reg_write_batch = uclib.uc_reg_write_batch


def _calibrate() -> int:
    """Find emu_counter by running 5 instructions, the 5th an MMIO read, with count=12345."""
    if not unicorn.__version__.startswith("2.1.4"):
        raise SetupError(f"metersim needs unicorn==2.1.4 (found {unicorn.__version__}); "
                         "reinstall with `make venv`")
    uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB)
    uc.ctl_set_cpu_model(UC_CPU_ARM_CORTEX_M4)
    # mov.w r1,#0x40000000; movs r0,#1; adds r0,#1; adds r0,#1; ldr r2,[r1]; wfi
    code = bytes.fromhex("4ff08041" "0120" "0130" "0130" "0a68" "30bf")
    uc.mem_map(0x08000000, 0x1000)
    uc.mem_write(0x08000000, code)
    base = ctypes.cast(uc._uch, ctypes.c_void_p).value
    hits: list[list[int]] = []

    def on_read(_uc, _off, _size, _ud, limit):
        words = (ctypes.c_uint64 * _SCAN_WORDS).from_address(base)
        hits.append([i for i in range(_SCAN_WORDS - 1) if words[i] == 5 and words[i + 1] == limit])
        return 0

    limit = 12345
    uc.mmio_map(0x40000000, 0x400, lambda *a: on_read(*a, limit), None, lambda *a: None, None)
    uc.emu_start(0x08000001, 0, count=limit)
    words = (ctypes.c_uint64 * _SCAN_WORDS).from_address(base)
    cands = [i for i in hits[0] if words[i] == 6]  # after the wfi: 6 instructions executed
    if len(cands) != 1:
        raise SetupError("cannot locate unicorn's instruction counter; is unicorn 2.1.4 installed?")
    return cands[0]


class NativeCore:
    """Fast register and counter access for one `Uc` instance."""

    def __init__(self, uc: Uc):
        global _COUNTER_INDEX
        if _COUNTER_INDEX is None:
            _COUNTER_INDEX = _calibrate()
        self.uc = uc
        self.uch = uc._uch
        base = ctypes.cast(uc._uch, ctypes.c_void_p).value
        self._counter = ctypes.c_uint64.from_address(base + 8 * _COUNTER_INDEX)
        self._limit = ctypes.c_uint64.from_address(base + 8 * (_COUNTER_INDEX + 1))
        self._u32 = ctypes.c_uint32()
        self._u32_ref = ctypes.byref(self._u32)

    # -- instruction counter of the running slice -------------------------------------------
    @property
    def executed(self) -> int:
        """Instructions executed so far by the current (or last) `emu_start`."""
        return self._counter.value

    def limit_slice(self, count: int) -> None:
        """End the running slice after `count` instructions in total (never before now)."""
        cur = self._counter.value
        self._limit.value = count if count > cur else cur

    # -- memory (no binding wrappers: exception frames are on the hot path) ----------------
    def mem_read_into(self, addr: int, buf, size: int) -> bool:
        """Read `size` bytes at `addr` into the ctypes buffer `buf`; False if unmapped."""
        return _mem_read(self.uch, addr, buf, size) == 0

    def mem_write(self, addr: int, data: bytes) -> bool:
        return _mem_write(self.uch, addr, data, len(data)) == 0

    # -- registers --------------------------------------------------------------------------
    def rd(self, reg: int) -> int:
        _reg_read(self.uch, reg, self._u32_ref)
        return self._u32.value

    def wr(self, reg: int, value: int) -> None:
        self._u32.value = value & 0xFFFFFFFF
        _reg_write(self.uch, reg, self._u32_ref)

    def batch_reader(self, regs: list[int]):
        """Return a function reading `regs` in one native call, as a list of ints."""
        n = len(regs)
        ids = (ctypes.c_int * n)(*regs)
        vals = (ctypes.c_uint32 * n)()
        ptrs = (ctypes.c_void_p * n)(*[ctypes.addressof(vals) + 4 * i for i in range(n)])
        uch = self.uch

        def read() -> list[int]:
            _reg_read_batch(uch, ids, ptrs, n)
            return vals[:]

        return read

    def batch_writer(self, regs: list[int]):
        """Return a function writing `regs` (in order) in one native call."""
        n = len(regs)
        ids = (ctypes.c_int * n)(*regs)
        vals = (ctypes.c_uint32 * n)()
        ptrs = (ctypes.c_void_p * n)(*[ctypes.addressof(vals) + 4 * i for i in range(n)])
        uch = self.uch

        def write(values) -> None:
            vals[:] = values  # c_uint32 keeps the low 32 bits, as a register does
            _reg_write_batch(uch, ids, ptrs, n)

        return write
