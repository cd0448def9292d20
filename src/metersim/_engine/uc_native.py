"""Direct ctypes access to the pinned unicorn 2.1.4 library: the hot paths of the CPU core.

- Register reads/writes through `uc_reg_read`/`uc_reg_write` without the binding's per-call
  type dispatch (~0.6 µs instead of ~1.4 µs), and batch variants for exception frames.
- The executed-instruction counter of the current `uc_emu_start` (`uc->emu_counter`) and its
  limit (`uc->emu_count`). unicorn keeps both in C but does not expose them; they are adjacent
  `size_t` fields of `struct uc_struct`, located by a calibration probe (_uc_probe.py) run in
  a child process, since it may crash where the heap is laid out unluckily, and cached per
  unicorn build in ~/.cache/metersim (`calibration`).
  Reading the counter gives exact virtual time inside a slice (during MMIO callbacks);
  lowering the limit ends a slice at an exact instruction without `emu_stop`, which would lose
  the count. This is tied to unicorn==2.1.4 (pinned) and verified at start-up.
- `BlockClock`: the per-block instruction count in C (_block_clock.c), with MMIO trampolines
  that give each access its exact count. It needs four private offsets of unicorn 2.1.4
  (`private_offsets`), found by the same probe; without them, or without the extension, the core falls back to unicorn's per-instruction count.
  A fifth, CPUState's `cflags_next_tb` (`tb_cflags_offset`), lets it translate a block
  limited to a count of instructions, to end a slice inside a block (see run_to_runner).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import json
import logging
import os
import platform
import subprocess
import sys
import weakref
from pathlib import Path

import unicorn
from unicorn import UC_ARCH_ARM, UC_MODE_THUMB, Uc
from unicorn.arm_const import UC_CPU_ARM_CORTEX_M4
from unicorn.unicorn_py3.unicorn import uclib

from metersim._engine import _uc_probe
from metersim._errors import SetupError

log = logging.getLogger("metersim._engine")

_COUNTER_INDEX: int | None = None  # index of emu_counter in uc_struct, in 8-byte words

_reg_read = uclib.uc_reg_read
_reg_write = uclib.uc_reg_write
_reg_read_batch = uclib.uc_reg_read_batch
_mem_read = uclib.uc_mem_read
_mem_write = uclib.uc_mem_write
_reg_write_batch = uclib.uc_reg_write_batch


_PROBE = Path(__file__).with_name("_uc_probe.py")
_PROBE_TRIES = 3
_PROBE_TIMEOUT_S = 60
_calibration: dict | None = None


def _cache_key() -> str:
    """What the offsets depend on: unicorn's build (version, library file), the interpreter
    and the platform."""
    lib = getattr(uclib, "_name", "") or ""
    try:
        st = os.stat(lib)
        lib_id = f"{lib}:{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        lib_id = lib
    digest = hashlib.sha1(lib_id.encode()).hexdigest()[:10]
    return (f"unicorn{unicorn.__version__}-py{sys.version_info[0]}{sys.version_info[1]}-"
            f"{sys.platform}-{platform.machine()}-{digest}")


def cache_path() -> Path:
    """Where the calibration is kept: $XDG_CACHE_HOME/metersim (default ~/.cache/metersim)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "metersim" / f"uc_offsets-{_cache_key()}.json"


def _valid(data) -> bool:
    return (isinstance(data, dict) and isinstance(data.get("counter_index"), int)
            and isinstance(data.get("offsets"), list) and len(data["offsets"]) == 4
            and all(isinstance(v, int) for v in data["offsets"])
            and isinstance(data.get("tb_cflags"), int))


def _run_probe() -> dict | None:
    """The probe in a child process (it pokes at unicorn's memory and may crash), a few
    tries; None if every try failed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    # sys.path[0] of `-c` is the working directory: drop it, so no file there shadows unicorn
    code = ("import sys, runpy; sys.path.pop(0); "
            f"runpy.run_path({str(_PROBE)!r}, run_name='__main__')")
    for attempt in range(_PROBE_TRIES):
        try:
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                 text=True, timeout=_PROBE_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as e:
            log.debug("unicorn calibration probe, try %d: %s", attempt + 1, e)
            continue
        if out.returncode == 0:
            try:
                data = json.loads(out.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                data = None
            if _valid(data) and data["counter_index"] >= 0:
                return data
        log.debug("unicorn calibration probe, try %d: exit %d %s", attempt + 1,
                  out.returncode, out.stderr.strip()[-200:])
    return None


def calibration() -> dict:
    """{"counter_index": int, "offsets": [4 ints], "tb_cflags": int} for this unicorn build:
    from the cache,
    else from the probe (then cached). Where the probe fails, the counter comes from the
    in-process probe that reads memory only through /proc/self/mem, and the offsets are -1:
    the core then counts with unicorn's own per-instruction count (slower, same results)."""
    global _calibration
    if _calibration is not None:
        return _calibration
    if not unicorn.__version__.startswith("2.1.4"):
        raise SetupError(f"metersim needs unicorn==2.1.4 (found {unicorn.__version__}); "
                         "reinstall with `make venv`")
    path = cache_path()
    data = None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    if not _valid(data) or data["counter_index"] < 0:
        data = _run_probe()
        if data is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps(data))
                os.replace(tmp, path)
            except OSError as e:
                log.debug("cannot cache unicorn's offsets in %s: %s", path, e)
        else:
            log.warning("unicorn calibration probe failed %d times: per-instruction counting "
                        "(slower)", _PROBE_TRIES)
            data = {"counter_index": _uc_probe.calibrate_counter(), "offsets": [-1] * 4,
                    "tb_cflags": -1}
    if data["counter_index"] < 0:
        raise SetupError("cannot locate unicorn's instruction counter; is unicorn 2.1.4 "
                         "installed?")
    if data["offsets"][0] >= 0 and data["tb_cflags"] < 0:
        # the probe ran and found the CPU but not the field QEMU's cpu_exec reads: this
        # unicorn is not laid out as 2.1.4 is, and ending slices inside blocks needs it
        raise SetupError("cannot locate cflags_next_tb in unicorn's CPUState (the calibration "
                         f"in {cache_path()}); is this unicorn 2.1.4 as released on PyPI?")
    _calibration = data
    return data


class NativeCore:
    """Fast register and counter access for one `Uc` instance."""

    def __init__(self, uc: Uc):
        global _COUNTER_INDEX
        if _COUNTER_INDEX is None:
            _COUNTER_INDEX = calibration()["counter_index"]
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

_OFFSETS: tuple[int, int, int, int] | None = None   # see calibration()

# take_interrupt(state_address, exc_address): CortexM._take_interrupts in C, between slices
# (_block_clock.c); it returns one of the TAKE_* answers below or, >= 0, the exception for
# Python to enter (CortexM._enter: the C entry cannot do it without a fault).
take_interrupt = getattr(_block_clock, "take_interrupt", None)
# take_interrupts(state_address, exc_address, cpu): all of CortexM._take_interrupts where C
# answers, the core's method otherwise (the core installs it on itself, bound to the three)
take_interrupts = getattr(_block_clock, "take_interrupts", None)
TAKE_NONE = -1      # nothing can be taken now; nothing changed
TAKE_WAKE = -2      # nothing to take, but WFI wakes (an interrupt masked only by PRIMASK)
TAKE_DONE = -3      # the exception was entered in C
TAKE_PYTHON = -4    # the NVIC model looks unusual: Python decides; nothing changed


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
                ("cache", ctypes.c_void_p), ("idle", ctypes.c_void_p),
                ("intr_py", ctypes.c_void_p), ("exc", ctypes.c_void_p),
                # the NVIC's InterruptSummary, checked at unmask sites (bind_summary)
                ("nv_sum", ctypes.c_void_p), ("reg_primask", ctypes.c_int32),
                ("reg_faultmask", ctypes.c_int32), ("reg_basepri", ctypes.c_int32),
                ("site_skips", ctypes.c_uint64),
                ("site_stop", ctypes.c_uint32),   # a fast slice runs (CortexM._fast_slice)
                ("stop_k", ctypes.c_uint32),      # with stop_at: instructions before it
                ("off_cflags", ctypes.c_int64),   # cflags_next_tb in CPUState
                ("code_gen", ctypes.c_uint64)]    # moves on at every clear_cache


IDLE_REGS = ["R0", "R1", "R2", "R3", "R12", "LR", "XPSR", "CONTROL", "SP", "PC", "MSP", "PSP",
             "APSR_NZCV", "XPSR_NZCVQG", "PRIMASK", "FAULTMASK", "BASEPRI"]


class IdleTicks(ctypes.Structure):
    """Parameters and results of the C idle-tick loop (the layout of bc_idle)."""
    _fields_ = [("reg_write", ctypes.c_void_p), ("mem_write", ctypes.c_void_p),
                ("emu_start", ctypes.c_void_p), ("sync", ctypes.c_void_p),
                ("regs", ctypes.c_int32 * len(IDLE_REGS)),
                ("ccr", ctypes.c_uint32), ("has_fpu", ctypes.c_uint32),
                ("primask", ctypes.c_uint32), ("faultmask", ctypes.c_uint32),
                ("basepri", ctypes.c_uint32), ("rvr", ctypes.c_uint32),
                ("t_end_ps", ctypes.c_uint64), ("other_ps", ctypes.c_uint64),
                ("qcap_ps", ctypes.c_uint64), ("max_ticks", ctypes.c_uint64),
                ("base_ps", ctypes.c_uint64), ("base_cycles", ctypes.c_uint64),
                ("freq_hz", ctypes.c_uint64), ("st_anchor_ps", ctypes.c_uint64),
                ("st_hz", ctypes.c_uint64), ("vector_addr", ctypes.c_uint64),
                ("st_start_edge", ctypes.c_int64), ("limit_word", ctypes.c_void_p),
                ("now_ps", ctypes.c_uint64), ("next_ps", ctypes.c_uint64),
                ("ticks", ctypes.c_uint64), ("last_wrap", ctypes.c_uint64),
                ("wraps", ctypes.c_uint64), ("cycles", ctypes.c_uint64),
                ("instructions", ctypes.c_uint64), ("idle_cycles", ctypes.c_uint64),
                ("exceptions", ctypes.c_uint64), ("slice_end_ps", ctypes.c_uint64),
                ("slice_cycles0", ctypes.c_uint64), ("ipsr", ctypes.c_uint32),
                ("phase", ctypes.c_uint32), ("synced", ctypes.c_uint32),
                ("status", ctypes.c_uint32), ("start_pending", ctypes.c_uint32),
                ("reg_write_batch", ctypes.c_void_p)]


FP_REGS = [f"S{i}" for i in range(16)] + ["FPSCR"]


EXC_RO_N, EXC_VC_N = 8, 256    # read-only ranges and cached vectors of bc_exc


class NativeExc(ctypes.Structure):
    """SVC entries and plain exception returns in C (the layout of bc_exc)."""
    _fields_ = [("reg_write", ctypes.c_void_p), ("mem_write", ctypes.c_void_p),
                ("frame_allowed", ctypes.c_void_p), ("mpu", ctypes.c_void_p),
                ("cpu", ctypes.c_void_p),
                ("regs", ctypes.c_int32 * len(IDLE_REGS)),
                ("fp_regs", ctypes.c_int32 * len(FP_REGS)),
                ("has_fpu", ctypes.c_uint32),
                ("entries", ctypes.c_uint64), ("returns", ctypes.c_uint64),
                ("reg_write_batch", ctypes.c_void_p),
                # the NVIC model's containers the C side holds (see exc_params)
                ("c_act", ctypes.c_void_p), ("c_prio", ctypes.c_void_p),
                ("c_active", ctypes.c_void_p), ("c_pending", ctypes.c_void_p),
                ("c_pending_set", ctypes.c_void_p), ("c_enabled", ctypes.c_void_p),
                ("c_level", ctypes.c_void_p), ("c_sum", ctypes.c_void_p),
                ("c_gen", ctypes.c_int64),
                ("reg_read_batch", ctypes.c_void_p),
                # vectors of tables in read-only memory, cached (see exc_params)
                ("ro_n", ctypes.c_uint32),
                ("ro_base", ctypes.c_uint32 * EXC_RO_N), ("ro_size", ctypes.c_uint32 * EXC_RO_N),
                ("vc_vtor", ctypes.c_uint32), ("vc_gen", ctypes.c_uint64),
                ("vc", ctypes.c_uint32 * EXC_VC_N)]


def _release_exc(release, x: NativeExc) -> None:
    release(ctypes.addressof(x))


class MmioTrampoline(ctypes.Structure):
    _fields_ = [("s", ctypes.c_void_p), ("read", ctypes.c_void_p), ("write", ctypes.c_void_p),
                ("user", ctypes.c_void_p)]


def private_offsets() -> tuple[int, int, int, int]:
    """(uc_struct.cpu, CPUState.mem_io_pc, env from CPUState, env.condexec_bits), calibrated
    once per process; all -1 where unicorn is not the build they were found in."""
    global _OFFSETS
    if _OFFSETS is None:
        _OFFSETS = tuple(calibration()["offsets"])
    return _OFFSETS


def tb_cflags_offset() -> int:
    """Offset of `cflags_next_tb` in unicorn 2.1.4's CPUState (see run_to_runner), from the
    calibration (which fails loudly where the other offsets are found and this one not)."""
    return calibration()["tb_cflags"]


def _summary_size() -> int:
    from metersim.peripherals.cortexm.nvic import InterruptSummary   # the model owns it

    return ctypes.sizeof(InterruptSummary)


class BlockClock:
    """Per-block instruction counting for one `Uc` (see _block_clock.c); None-safe: `make`
    returns None where the extension or the calibration is missing."""

    @staticmethod
    def make(uc: Uc) -> "BlockClock | None":
        if _block_clock is None or take_interrupt is None \
                or _block_clock.sizes() != (ctypes.sizeof(BlockClockState),
                                            ctypes.sizeof(MmioTrampoline)) \
                or _block_clock.addresses().get("idle_size") != ctypes.sizeof(IdleTicks) \
                or _block_clock.addresses().get("exc_size") != ctypes.sizeof(NativeExc) \
                or _block_clock.addresses().get("summary_size") != _summary_size():
            return None
        offsets = private_offsets()
        if offsets[0] < 0:
            return None
        return BlockClock(uc, *offsets, tb_cflags_offset())

    def __init__(self, uc: Uc, off_cpu: int, off_io_pc: int, off_env: int, off_condexec: int,
                 off_cflags: int):
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
        s.off_cflags = off_cflags
        s.cache = ctypes.addressof(self._cache)
        s.limit = (1 << 64) - 1
        ref = ctypes.byref(s)
        proto = ctypes.CFUNCTYPE
        self._executed = proto(ctypes.c_uint64, ctypes.c_void_p)(addr["executed"])
        self._settle = proto(None, ctypes.c_void_p)(addr["settle"])
        self._stop_before = proto(None, ctypes.c_void_p)(addr["stop_before_block"])
        self._clear = proto(None, ctypes.c_void_p)(addr["clear_cache"])
        self.intr_hook = addr["intr_hook"]
        self._idle_ticks = proto(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)(addr["idle_ticks"])
        self._idle_sync = proto(None, ctypes.c_void_p)(addr["idle_sync"])
        self._ref = ctypes.addressof(s)
        self.mmio_read = addr["mmio_read"]
        self.mmio_write = addr["mmio_write"]
        self._tramps: list = []
        self._summary = None            # the NVIC's InterruptSummary once bound (bind_summary)
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
        s.exc = None        # exceptions in C only once the core arms them for a fast slice

    def executed(self) -> int:
        """Instructions executed in this slice so far (exact inside MMIO callbacks)."""
        return self._executed(self._ref)

    def settle(self) -> None:
        self._settle(self._ref)

    def stop_before_block(self) -> None:
        self._stop_before(self._ref)

    def clear_cache(self) -> None:
        self._clear(self._ref)

    # -- idle ticks in C (CortexM.idle_ticks) -------------------------------------------------
    def idle_params(self, sync_fn) -> IdleTicks:
        """A parameter block for `idle_ticks` with unicorn's entry points and `sync_fn()` (the
        Python callback that materialises the state) filled in."""
        from unicorn import arm_const as A

        d = IdleTicks()
        d.reg_write = ctypes.cast(uclib.uc_reg_write, ctypes.c_void_p).value
        d.reg_write_batch = ctypes.cast(uclib.uc_reg_write_batch, ctypes.c_void_p).value
        d.mem_write = ctypes.cast(uclib.uc_mem_write, ctypes.c_void_p).value
        d.emu_start = ctypes.cast(uclib.uc_emu_start, ctypes.c_void_p).value
        d.regs[:] = [getattr(A, f"UC_ARM_REG_{r}") for r in IDLE_REGS]
        self._idle_sync_cfn = ctypes.CFUNCTYPE(None)(sync_fn)
        d.sync = ctypes.cast(self._idle_sync_cfn, ctypes.c_void_p).value
        return d

    # -- SVC entries and plain exception returns in C (CortexM.native_exc) ------------------
    def exc_params(self, cpu, has_fpu: bool, frame_check: int | None) -> NativeExc:
        """The parameter block of the C exception path for `cpu` (the block must not outlive
        it: it holds the core as a borrowed reference). `frame_check`: _mpu_fill's frame check,
        used with the MPU fill's state set in `mpu`."""
        from unicorn import arm_const as A

        x = NativeExc()
        x.reg_write = ctypes.cast(uclib.uc_reg_write, ctypes.c_void_p).value
        x.reg_write_batch = ctypes.cast(uclib.uc_reg_write_batch, ctypes.c_void_p).value
        x.reg_read_batch = ctypes.cast(uclib.uc_reg_read_batch, ctypes.c_void_p).value
        x.mem_write = ctypes.cast(uclib.uc_mem_write, ctypes.c_void_p).value
        x.frame_allowed = frame_check
        x.cpu = id(cpu)
        x.regs[:] = [getattr(A, f"UC_ARM_REG_{r}") for r in IDLE_REGS]
        x.fp_regs[:] = [getattr(A, f"UC_ARM_REG_{r}") for r in FP_REGS]
        x.has_fpu = int(has_fpu)
        # Memory without write permission (flash, ROM, their aliases): its content changes
        # only through SysBus.write_memory, which ends in clear_cache, so the C path reads a
        # vector from a table there once, as CortexM._vector does. Memory mapped later is
        # not listed: its vectors are read at every entry.
        bus = getattr(getattr(cpu, "machine", None), "sysbus", None)
        ro = [(start, r.size) for r in getattr(bus, "regions", ()) if not r.writable
              for start in [r.base] + list(r.aliases)][:EXC_RO_N]
        x.ro_n = len(ro)
        for i, (start, size) in enumerate(ro):
            x.ro_base[i], x.ro_size[i] = start, size
        # The C side keeps references to the NVIC model's containers (lists, sets and byte
        # arrays: none refers back to the core); they go when the core does.
        weakref.finalize(cpu, _release_exc, _block_clock.exc_release, x).atexit = False
        return x

    def idle_ticks(self, params: IdleTicks) -> int:
        """Run idle ticks in C: 0 halted between ticks, 1 a wrap's exception still to take,
        2 Python was synced inside a tick's slice (see _block_clock.c)."""
        return self._idle_ticks(self._ref, ctypes.byref(params))

    def idle_sync(self) -> None:
        """From a Python hook: materialise the state if an idle tick is running in C."""
        if self.state.idle:
            self._idle_sync(self._ref)

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

    def bind_summary(self, summary) -> None:
        """Check unmask sites in C against `summary` (the NVIC's InterruptSummary, kept alive
        by its NVIC): the site callback then runs only when an interrupt can be taken now."""
        from unicorn import arm_const as A

        s = self.state
        s.reg_primask = A.UC_ARM_REG_PRIMASK
        s.reg_faultmask = A.UC_ARM_REG_FAULTMASK
        s.reg_basepri = A.UC_ARM_REG_BASEPRI
        self._summary = summary
        s.nv_sum = ctypes.addressof(summary) if summary is not None else None

    def pending_stop(self):
        """CortexM.interrupt_pending_changed in a fast slice, as a C call without arguments
        (_block_clock.c, pending_stop): the unmask sites' rule against the bound summary, then
        the stop after the current instruction; None before `bind_summary`."""
        fn = getattr(_block_clock, "pending_stop", None)
        if fn is None or self._summary is None:
            return None
        return functools.partial(fn, self._ref)

    def privileged(self, cpu):
        """CortexM.is_privileged for `cpu` (whose unicorn this block clock counts) as one C
        call (_block_clock.c, privileged: `cpu.ipsr`, else CONTROL.nPRIV); None where the
        extension predates it."""
        from unicorn import arm_const as A

        fn = getattr(_block_clock, "privileged", None)
        if fn is None:
            return None
        return functools.partial(fn, cpu, self._ref, A.UC_ARM_REG_CONTROL)

    def nvic_paths(self, nvic):
        """(set_pending, on_gpio) for `nvic`, the NVIC whose summary is bound: NVIC.set_pending
        and NVIC.on_gpio in C (_block_clock.c, nv_set_pending and nv_on_gpio), with the check
        that follows a pend in a fast slice; None where the extension predates them."""
        pend = getattr(_block_clock, "nv_set_pending", None)
        gpio = getattr(_block_clock, "nv_on_gpio", None)
        if pend is None or gpio is None or self._summary is None \
                or self._summary is not getattr(nvic, "summary", None):
            return None
        return functools.partial(pend, nvic, self._ref), functools.partial(gpio, nvic, self._ref)

    @property
    def site_skips(self) -> int:
        """Unmask sites passed in C, without a Python call (nothing could be taken)."""
        return self.state.site_skips

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


# ================================================================ a fast slice in one call (C)
class SliceRun(ctypes.Structure):
    """Parameters and results of one fast slice run from C (the layout of bc_run)."""
    _fields_ = [("emu_start", ctypes.c_void_p), ("limit_word", ctypes.c_void_p),
                ("exc", ctypes.c_void_p), ("n", ctypes.c_uint64), ("done", ctypes.c_uint64),
                ("status", ctypes.c_uint32), ("plain", ctypes.c_uint32),
                ("stopped", ctypes.c_uint32), ("pc", ctypes.c_uint32),
                ("py_uc", ctypes.c_void_p), ("py_traps", ctypes.c_void_p),
                ("run_to", ctypes.c_void_p)]


def slice_runner(bc: BlockClock, limit_word: int):
    """(fn, state, params_addr, params) for CortexM._run_slice, or None where the extension
    predates it: `fn(state, params_addr, n)` (_block_clock.run_slice, a plain C function:
    no ctypes call per slice) resets the block clock for a fast slice of `n` instructions
    (kept in `params.n`), arms `params.exc` and runs it from the PC; a stop inside a block
    or an access it finishes as CortexM._complete_slice would, when `params.run_to` (a RunTo
    block) is set, the Uc `params.py_uc` has no hook exception waiting and the Traps
    `params.py_traps` no exits (both borrowed: the core keeps them). An end without error
    then returns (done << 1) | stopped by the limit >= 0, with the PC in `params.pc`;
    anything else returns -1 - unicorn's status, for Python to finish as after uc_emu_start."""
    get = getattr(_block_clock, "slice_addresses", None)
    fn = getattr(_block_clock, "run_slice", None)
    if get is None or fn is None:
        return None
    addr = get()
    if addr.get("run_size") != ctypes.sizeof(SliceRun):
        return None
    r = SliceRun()
    r.emu_start = ctypes.cast(uclib.uc_emu_start, ctypes.c_void_p).value
    r.limit_word = limit_word
    return fn, ctypes.addressof(bc.state), ctypes.addressof(r), r


class RunTo(ctypes.Structure):
    """unicorn's entry point for bc_run_count (the layout of bc_run_to_args)."""
    _fields_ = [("emu_start", ctypes.c_void_p)]


def run_to_runner(bc: BlockClock):
    """(fn, state, params_addr, params) for CortexM._run_to, or None where the extension
    predates it: `fn(state, params_addr, start, count)` runs from `start` with the first
    block translated for `count` instructions only (cached beside the whole block, so each
    stop at the same instruction reuses it), and returns unicorn's status. The block hook
    stops the run in front of the next block once the slice's limit is reached
    (_block_clock.c, bc_run_count)."""
    get = getattr(_block_clock, "slice_addresses", None)
    if get is None:
        return None
    addr = get()
    if addr.get("run_to_size") != ctypes.sizeof(RunTo):
        return None
    a = RunTo()
    a.emu_start = ctypes.cast(uclib.uc_emu_start, ctypes.c_void_p).value
    fn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32,
                          ctypes.c_uint32)(addr["run_to"])
    return fn, ctypes.addressof(bc.state), ctypes.addressof(a), a
