"""Direct ctypes access to the pinned unicorn 2.1.4 library: the hot paths of the CPU core.

- Register reads/writes through `uc_reg_read`/`uc_reg_write` without the binding's per-call
  type dispatch (~0.6 µs instead of ~1.4 µs), and batch variants for exception frames.
- The executed-instruction counter of the current `uc_emu_start` (`uc->emu_counter`) and its
  limit (`uc->emu_count`). unicorn keeps both in C but does not expose them; they are adjacent
  `size_t` fields of `struct uc_struct`, located once per process by a calibration run.
  Reading the counter gives exact virtual time inside a slice (during MMIO callbacks);
  lowering the limit ends a slice at an exact instruction without `emu_stop`, which would lose
  the count. This is tied to unicorn==2.1.4 (pinned) and verified at start-up.
- `BlockClock`: the per-block instruction count in C (_block_clock.c), with MMIO trampolines
  that give each access its exact count. It needs four private offsets of unicorn 2.1.4
  (`private_offsets`), found by a calibration run like the counter's; without them, or
  without the extension, the core falls back to unicorn's per-instruction count.
"""

from __future__ import annotations

import ctypes

import unicorn
from unicorn import UC_ARCH_ARM, UC_MODE_THUMB, Uc
from unicorn.arm_const import UC_CPU_ARM_CORTEX_M4
from unicorn.unicorn_py3.unicorn import uclib

from metersim._errors import SetupError

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


# ================================================================ per-block counting (C)
try:
    from metersim._engine import _block_clock
except ImportError:            # not built: unicorn counts every instruction (slower)
    _block_clock = None

_OFFSETS: tuple[int, int, int, int] | None = None   # see _calibrate_offsets


class BlockClockState(ctypes.Structure):
    """The C counter's shared state (the layout of bc_state in _block_clock.c)."""
    _fields_ = [("uc", ctypes.c_void_p), ("reg_read", ctypes.c_void_p),
                ("mem_read", ctypes.c_void_p), ("emu_stop", ctypes.c_void_p),
                ("restore", ctypes.c_void_p), ("observer", ctypes.c_void_p),
                ("off_cpu", ctypes.c_int64), ("off_io_pc", ctypes.c_int64),
                ("off_env", ctypes.c_int64), ("off_condexec", ctypes.c_int64),
                ("base", ctypes.c_uint64), ("limit", ctypes.c_uint64),
                ("mmio_exec", ctypes.c_uint64),
                ("cur_start", ctypes.c_uint32), ("cur_size", ctypes.c_uint32),
                ("cur_n", ctypes.c_uint32), ("stopped", ctypes.c_uint32),
                ("stop_at", ctypes.c_uint32), ("in_mmio", ctypes.c_uint32),
                ("site_cb", ctypes.c_void_p), ("sites", ctypes.c_void_p),
                ("n_sites", ctypes.c_uint64), ("site_bits", ctypes.c_uint64 * 64),
                ("stop_after_access", ctypes.c_uint32), ("stopped_at_access", ctypes.c_uint32),
                ("replay", ctypes.c_uint32), ("access_pc", ctypes.c_uint32),
                ("access_len", ctypes.c_uint32), ("access_in_it", ctypes.c_uint32),
                ("rec_tramp", ctypes.c_void_p), ("rec_offset", ctypes.c_uint64),
                ("rec_value", ctypes.c_uint64), ("rec_size", ctypes.c_uint32),
                ("rec_write", ctypes.c_uint32),
                ("cache", ctypes.c_void_p)]


class MmioTrampoline(ctypes.Structure):
    _fields_ = [("s", ctypes.c_void_p), ("read", ctypes.c_void_p), ("write", ctypes.c_void_p),
                ("user", ctypes.c_void_p)]


def _readable(fd: int, addr: int, n: int) -> bytes | None:
    import os
    try:
        return os.pread(fd, n, addr)
    except (OSError, OverflowError, ValueError):
        return None


def _calibrate_offsets() -> tuple[int, int, int, int]:
    """Locate what unicorn 2.1.4 keeps private: `uc->cpu`, `cpu->mem_io_pc`, the CPU's
    register file (env) and `env->condexec_bits` (the IT state). During an MMIO read, the
    CPUState is the object that points back at the uc handle and whose env holds r0/r1's
    magic values; mem_io_pc is the field from which cpu_restore_state recovers the accessing
    instruction's PC; condexec_bits is what that restore changes for an access inside an IT
    block (and not outside one). Returns (-1, -1, -1, -1) if anything is not found."""
    import os
    import struct as _st

    fail = (-1, -1, -1, -1)
    restore = getattr(uclib, "cpu_restore_state_arm", None)
    if restore is None:
        return fail
    restore.restype = ctypes.c_bool
    restore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_bool]
    uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB)
    uc.ctl_set_cpu_model(UC_CPU_ARM_CORTEX_M4)
    # mov.w r5,#0x40000000; ldr r2,[r5]; nop; ldr r3,[r5,#4]; cmp r0,r0; it eq;
    # ldreq r4,[r5,#8]; wfi (r0 and r1 keep the magic values that identify the registers)
    uc.mem_map(0x08000000, 0x1000)
    uc.mem_write(0x08000000, bytes.fromhex("4ff08045" "2a68" "00bf" "6b68" "8042" "08bf"
                                           "ac68" "30bf"))
    magic = _st.pack("<2I", 0x5EC0_0000, 0x5EC0_0001)
    for r in range(2):
        uc.reg_write(66 + r, 0x5EC0_0000 + r)   # UC_ARM_REG_R0, R1
    base = ctypes.cast(uc._uch, ctypes.c_void_p).value
    fd = os.open("/proc/self/mem", os.O_RDONLY)
    u32 = ctypes.c_uint32()
    found: dict = {"hits": [], "changed": []}
    expect_pc = {0: 0x08000004, 4: 0x08000008, 8: 0x0800000E}

    def on_read(_uc, off, _size, _ud):
        if "cpu" not in found:
            words = (ctypes.c_uint64 * _SCAN_WORDS).from_address(base)
            for i in range(_SCAN_WORDS):
                p = words[i]
                if p < 0x10000 or p & 7:
                    continue
                raw = _readable(fd, p, 0x10000)
                if raw is None or len(raw) < 0x10000:
                    continue
                vals = _st.unpack("<8192Q", raw)
                # CPUState.uc lies after the 4096-entry jump cache, a little after mem_io_pc
                back = [k for k in range(0x1000, 8192) if vals[k] == base]
                envs = [q for q in vals if p < q < p + 0x20000 and _readable(fd, q, 8) == magic]
                if back and envs:
                    found.update(cpu=(8 * i, p), env=envs[0], back=back[0], vals=vals)
                    break
            else:
                return 0
        off_cpu, p = found["cpu"]
        env, vals = found["env"], found["vals"]
        hits = set()
        for j in range(found["back"] - 64, found["back"]):
            v = ctypes.c_uint64.from_address(p + 8 * j).value
            if v < 0x10000:
                continue
            before = _readable(fd, env, 0x1000)
            if not restore(p, v, False):
                continue
            after = _readable(fd, env, 0x1000)
            uclib.uc_reg_read(uc._uch, 11, ctypes.byref(u32))
            if u32.value == expect_pc[off]:
                hits.add(8 * j)
                found["changed"].append({k for k in range(0, 0x1000, 4)
                                         if before[k:k + 4] != after[k:k + 4]})
        found["hits"].append(hits)
        return 0

    try:
        uc.mmio_map(0x40000000, 0x400, on_read, None, lambda *a: None, None)
        uc.emu_start(0x08000001, 0, count=0)
    finally:
        os.close(fd)
    hits = found["hits"]
    io = hits[0] & hits[1] & hits[2] if len(hits) == 3 else set()
    if len(io) != 1 or len(found["changed"]) != 3:
        return fail
    # changed by the access inside the IT block only: condexec_bits (PC, 0x3c, and the
    # syndrome change for every access)
    cx = found["changed"][2] - found["changed"][0] - {0x3C}
    if len(cx) != 1:
        return fail
    return found["cpu"][0], io.pop(), found["env"] - found["cpu"][1], cx.pop()


def private_offsets() -> tuple[int, int, int, int]:
    """(uc_struct.cpu, CPUState.mem_io_pc, env from CPUState, env.condexec_bits), calibrated
    once per process; all -1 where unicorn is not the build they were found in."""
    global _OFFSETS
    if _OFFSETS is None:
        _OFFSETS = _calibrate_offsets()
    return _OFFSETS


class BlockClock:
    """Per-block instruction counting for one `Uc` (see _block_clock.c); None-safe: `make`
    returns None where the extension or the calibration is missing."""

    @staticmethod
    def make(uc: Uc) -> "BlockClock | None":
        if _block_clock is None or _block_clock.sizes() != (ctypes.sizeof(BlockClockState),
                                                            ctypes.sizeof(MmioTrampoline)):
            return None
        offsets = private_offsets()
        if offsets[0] < 0:
            return None
        return BlockClock(uc, *offsets)

    def __init__(self, uc: Uc, off_cpu: int, off_io_pc: int, off_env: int, off_condexec: int):
        from unicorn import UC_HOOK_BLOCK
        from unicorn.unicorn_py3.unicorn import uc_hook_h

        addr = _block_clock.addresses()
        self.uc = uc
        s = self.state = BlockClockState()
        self._cache = ctypes.create_string_buffer(addr["cache_bytes"])
        s.uc = ctypes.cast(uc._uch, ctypes.c_void_p).value
        s.reg_read = ctypes.cast(uclib.uc_reg_read, ctypes.c_void_p).value
        s.mem_read = ctypes.cast(uclib.uc_mem_read, ctypes.c_void_p).value
        s.emu_stop = ctypes.cast(uclib.uc_emu_stop, ctypes.c_void_p).value
        s.restore = ctypes.cast(uclib.cpu_restore_state_arm, ctypes.c_void_p).value
        s.off_cpu, s.off_io_pc = off_cpu, off_io_pc
        s.off_env, s.off_condexec = off_env, off_condexec
        s.cache = ctypes.addressof(self._cache)
        s.limit = (1 << 64) - 1
        ref = ctypes.byref(s)
        proto = ctypes.CFUNCTYPE
        self._executed = proto(ctypes.c_uint64, ctypes.c_void_p)(addr["executed"])
        self._settle = proto(None, ctypes.c_void_p)(addr["settle"])
        self._stop_before = proto(None, ctypes.c_void_p)(addr["stop_before_block"])
        self._clear = proto(None, ctypes.c_void_p)(addr["clear_cache"])
        self._ref = ctypes.addressof(s)
        self.mmio_read = addr["mmio_read"]
        self.mmio_write = addr["mmio_write"]
        self._tramps: list = []
        self._observers: list = []
        self._observer_cfn = None
        self._hook = uc_hook_h()
        status = uclib.uc_hook_add(uc._uch, ctypes.byref(self._hook), UC_HOOK_BLOCK,
                                   ctypes.c_void_p(addr["block_hook"]), ref, ctypes.c_uint64(1),
                                   ctypes.c_uint64(0))
        if status:
            raise SetupError(f"cannot hook unicorn's blocks (unicorn error {status})")

    # -- slices ------------------------------------------------------------------------------
    def begin(self, limit: int) -> None:
        s = self.state
        s.base = 0
        s.cur_n = 0
        s.cur_start = s.cur_size = 0
        s.stopped = 0
        s.stop_at = 0
        s.stop_after_access = s.stopped_at_access = s.replay = 0
        s.limit = limit

    def executed(self) -> int:
        """Instructions executed in this slice so far (exact inside MMIO callbacks)."""
        return self._executed(self._ref)

    def settle(self) -> None:
        self._settle(self._ref)

    def stop_before_block(self) -> None:
        self._stop_before(self._ref)

    def clear_cache(self) -> None:
        self._clear(self._ref)

    # -- MMIO callbacks with an exact count -------------------------------------------------------
    def trampoline(self, read_cfn, write_cfn, user: int | None):
        """user_data for `uc_mmio_map(..., self.mmio_read, ud, self.mmio_write, ud)`: the C
        trampoline records the exact count, then calls `read_cfn`/`write_cfn` with `user`."""
        t = MmioTrampoline(ctypes.addressof(self.state),
                           ctypes.cast(read_cfn, ctypes.c_void_p).value,
                           ctypes.cast(write_cfn, ctypes.c_void_p).value, user)
        self._tramps.append(t)
        return ctypes.addressof(t)

    # -- blocks starting at chosen addresses -----------------------------------------------------
    def set_sites(self, addresses, fn) -> None:
        """Call `fn(address)` when a block that starts at one of `addresses` runs (before it
        runs; `stop_before_block` keeps it from running). Checked in C: free elsewhere."""
        s = self.state
        sites = sorted(set(addresses))
        self._sites = (ctypes.c_uint32 * max(len(sites), 1))(*sites)
        bits = [0] * 64
        for a in sites:
            h = (a >> 1) & 4095
            bits[h >> 6] |= 1 << (h & 63)
        s.site_cb = None
        s.sites = ctypes.addressof(self._sites)
        s.n_sites = len(sites)
        s.site_bits[:] = bits
        self._site_cfn = ctypes.CFUNCTYPE(None, ctypes.c_uint64)(fn)
        s.site_cb = ctypes.cast(self._site_cfn, ctypes.c_void_p).value if sites else None

    # -- observers of every block that runs (debug API) ----------------------------------------
    def add_observer(self, fn) -> None:
        """`fn(address, size)` for every block that runs, before it runs. Costs a Python call
        per block (about 1 µs): for coverage and tracing, not for normal runs."""
        self._observers.append(fn)
        if self._observer_cfn is None:
            obs = self._observers

            def call(address, size):
                for f in obs:
                    f(address, size)

            self._observer_cfn = ctypes.CFUNCTYPE(None, ctypes.c_uint64, ctypes.c_uint32)(call)
        self.state.observer = ctypes.cast(self._observer_cfn, ctypes.c_void_p).value

    def remove_observer(self, fn) -> None:
        if fn in self._observers:
            self._observers.remove(fn)
        if not self._observers:
            self.state.observer = None
