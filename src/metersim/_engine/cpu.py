"""Cortex-M3 / Cortex-M4F core on unicorn 2.1.4, with the exception model unicorn lacks.

unicorn executes Thumb-2 code; everything ARMv7-M does around it is done here in Python:
exception entry (stacking, basic and extended FP frames, 8-byte alignment with the xPSR bit 9
marker), exception return (EXC_RETURN 0xFFFFFFF1/F9/FD and E1/E9/ED, tail-chaining), SVC,
PSP/MSP banking and privilege, WFI/WFE idle, faults with their status registers and escalation
to HardFault, and lockup. Traps of unicorn 2.1.4 that this module avoids:
never UC_MODE_MCLASS, stacked PC | 1, no emu_stop inside a slice (the slice limit is lowered
instead, uc_native), EXC_RETURN reported as intno 3 on 2.1.4, hflags rebuilt after xPSR writes.

Counting: a C block hook (uc_native.BlockClock, _block_clock.c) adds each translated block's
instruction count and ends a slice at its exact instruction (the last block is translated again
up to the limit); MMIO callbacks get the exact count of their instruction. Every instruction
of a block counts, one an IT block skips included. A stop asked for inside an MMIO callback
ends the slice right after that instruction (`_finish_access`); one asked for from an access
inside an IT block, or from another hook, at the block's end; a limit inside an IT block,
after the IT block. While the debug API has code hooks or watchpoints (`exact_users`), or without
the C extension, unicorn's own per-instruction count runs instead (slower).

Idle ticks: a lone core asleep in WFI whose only due event is its SysTick wrap runs its ticks
in C (`idle_ticks`, _block_clock.c: wrap, entry, handler, plain return, WFI), each as the
Python path would run it; the Python objects get the state the moment anything else needs
them (an MMIO access, an unmask site, another interrupt). `Emulation.native_idle = False` (or
METERSIM_NATIVE_IDLE=0) keeps every tick in Python.

Exceptions in C: in a fast slice the C interrupt hook (_block_clock.c, exc_fast) does SVC
entries and exception returns, tail chains and IRQs pended again by a line still high
included, that need no fault, escalation or closer MPU look (a frame in pages the C fill's
regions allow uniformly), with the same register and memory writes (and slice stops) as
`_svc`/`_enter`/`_exception_return`/`_tail_chain`; between slices `_take_interrupts` is one C
call (take_interrupt: the masks, the NVIC's choice, the entry), Python entering only what
would fault. The NVIC model's bookkeeping (pending and
active bits, the active list, SHCSR, `ipsr`, `exceptions_taken`) is written into the Python
objects at once, so whatever looks sees the exact state. Anything else, the v6-M cores, the
debug API's exact mode and block observers stay in Python; `native_exc = False` (or
METERSIM_NATIVE_EXC=0) keeps every exception there.

Interrupt checks: the NVIC model keeps a summary (`NVIC.summary`, an InterruptSummary that C
reads in place): the best group priority pending and enabled, and the priority of the active
exceptions. An interrupt can be taken exactly when the best is below the execution priority
(the active part lowered by PRIMASK, FAULTMASK, BASEPRI). The C block hook answers unmask sites
with it and calls `_on_unmask_site` only when one can; `_take_interrupts` and
`interrupt_pending_changed` return at once when nothing is above the active exceptions.
A pend while a fast slice runs is checked by the same C rule (`pending_stop`), and the NVIC's
`set_pending` and `on_gpio` themselves are C functions where the extension is built
(NVIC.attach_cpu installs them; _block_clock.c, nv_set_pending and nv_on_gpio): a peripheral
raising an IRQ line, SysTick's wrap or a PendSV request through ICSR costs no Python frame.

Time: CPI 1 at the core clock. `cycles` counts executed instructions plus idle cycles; virtual
time is derived from it through an anchor (base cycles, base time) that moves only when the
core frequency changes, so rounding never accumulates.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import math
import os
import struct

from unicorn import (UC_ARCH_ARM, UC_ERR_EXCEPTION, UC_ERR_FETCH_PROT, UC_ERR_FETCH_UNMAPPED,
                     UC_ERR_INSN_INVALID, UC_ERR_READ_PROT, UC_ERR_READ_UNMAPPED,
                     UC_ERR_WRITE_PROT, UC_ERR_WRITE_UNMAPPED, UC_HOOK_BLOCK, UC_HOOK_INTR,
                     UC_HOOK_MEM_FETCH_UNMAPPED, UC_HOOK_MEM_READ_UNMAPPED,
                     UC_HOOK_MEM_WRITE_PROT, UC_HOOK_MEM_WRITE_UNMAPPED, UC_MODE_THUMB, Uc,
                     UcError)
from unicorn import arm_const as A

from metersim._engine.cores import ARCHITECTURES
from metersim._engine.mpu_guard import MpuGuard, mpu_frame_check
from metersim._engine.poll_probe import LoopProbe
from metersim._engine.traps import Traps
from metersim._engine.uc_native import (TAKE_NONE, TAKE_PYTHON, BlockClock, NativeCore,
                                        run_to_runner, slice_runner)
from metersim._engine.uc_native import take_interrupt as _take_interrupt
from metersim._engine.uc_native import take_interrupts as _take_interrupts_c
from unicorn.unicorn_py3.unicorn import HOOK_INTR_CFUNC, uc_hook_h
from unicorn.unicorn_py3.unicorn import uclib as _uclib

_uc_emu_start = _uclib.uc_emu_start
from metersim._errors import FirmwareFault, SetupError
from metersim.peripherals.cortexm import nvic as N
from metersim.peripherals.cortexm.mpu import R as RIGHT_R
from metersim.peripherals.cortexm.mpu import W as RIGHT_W
from metersim._units import PS_PER_S

log = logging.getLogger("metersim.cpu")

CORE_MODELS = {
    "cortex-m3": A.UC_CPU_ARM_CORTEX_M3,
    "cortex-m4": A.UC_CPU_ARM_CORTEX_M4,
    "cortex-m4f": A.UC_CPU_ARM_CORTEX_M4,
    # The Cortex-M0+ runs on unicorn's M0 model (same ARMv6-M instruction set); the
    # exception-model differences of v6-M and v8-M are applied here and in the NVIC model.
    "cortex-m0": A.UC_CPU_ARM_CORTEX_M0,
    "cortex-m0+": A.UC_CPU_ARM_CORTEX_M0,
    "cortex-m7": A.UC_CPU_ARM_CORTEX_M7,
    "cortex-m33": A.UC_CPU_ARM_CORTEX_M33,
}

# unicorn's ARM exception indices (qemu/target/arm/cpu.h)
EXCP_UDEF, EXCP_SWI, EXCP_PREFETCH_ABORT, EXCP_DATA_ABORT = 1, 2, 3, 4
EXCP_BKPT, EXCP_EXCEPTION_EXIT, EXCP_NOCP, EXCP_INVSTATE, EXCP_STKOF = 7, 8, 17, 18, 19
# the ones that are a UsageFault, with their UFSR bit. STKOF: ARMv8-M, an SP update below
# MSPLIM/PSPLIM (unicorn checks it and leaves SP). DATA_ABORT: unicorn's only data abort on
# these cores, LDREX/STREX at an unaligned address.
_USAGE_FAULT_OF = {EXCP_NOCP: N.UFSR_NOCP, EXCP_STKOF: N.UFSR_STKOF,
                   EXCP_INVSTATE: N.UFSR_INVSTATE, EXCP_DATA_ABORT: N.UFSR_UNALIGNED}

_FRAME_REGS = [A.UC_ARM_REG_R0, A.UC_ARM_REG_R1, A.UC_ARM_REG_R2, A.UC_ARM_REG_R3,
               A.UC_ARM_REG_R12, A.UC_ARM_REG_LR]
_FP_REGS = [getattr(A, f"UC_ARM_REG_S{i}") for i in range(16)] + [A.UC_ARM_REG_FPSCR]
_MASK_REGS = [A.UC_ARM_REG_PRIMASK, A.UC_ARM_REG_FAULTMASK, A.UC_ARM_REG_BASEPRI]
# SP is the live stack pointer (r13): MRS of MSP/PSP reads 0 while the core is unprivileged.
_ENTRY_REGS = _FRAME_REGS + [A.UC_ARM_REG_XPSR, A.UC_ARM_REG_CONTROL, A.UC_ARM_REG_SP,
                             A.UC_ARM_REG_PC]

OP_WFI, OP_WFE, OP_YIELD, OP_SEV, OP_B_SELF = 0xBF30, 0xBF20, 0xBF10, 0xBF40, 0xE7FE
XPSR_T = 1 << 24
EXC_RETURN_BASE = 0xFFFFFFE0


# In CortexM._poll_repeats: a register counting time was read since the last status read of
# the polling loop being watched (CortexM.time_register_read; _hot_regs.c's time_read).
POLL_TIMED = 1 << 32


def cycles_per_ps(freq_hz: int) -> tuple[int, int]:
    """`freq_hz / PS_PER_S` as a reduced fraction (num, den): `dt_ps * num // den` is exactly
    `dt_ps * freq_hz // PS_PER_S`, with small operands (72 MHz: 9 / 125000), so the run loop's
    time-to-cycles conversions stay on Python's fast single-digit division."""
    g = math.gcd(freq_hz, PS_PER_S)
    return freq_hz // g, PS_PER_S // g


# Unicorn's translated-code buffer per core (its default is 1 GiB). A slice whose limit falls
# inside a block re-runs that block translated to end at the limit, then drops the translation;
# the buffer's space comes back only when it is full and unicorn flushes it. With 1 GiB that
# is about 100 KB of RSS per virtual second of a busy machine, gigabytes over a virtual day;
# 32 MiB holds every translation a firmware's hot code needs, and a flush costs one
# re-translation of that code.
TCG_BUFFER_BYTES = 32 << 20

class CortexM:
    """One Cortex-M core. Built by `Machine`; runs through `run_until(target_ps)`."""

    def __init__(self, machine, core: str = "cortex-m4f", freq_hz: int = 16_000_000):
        if core not in CORE_MODELS:
            raise SetupError(f"unknown core {core!r}; expected one of {', '.join(CORE_MODELS)}")
        self.machine = machine
        self.core = core
        self.has_fpu = core in ("cortex-m4f", "cortex-m7")
        self.architecture = ARCHITECTURES[core]
        # ARMv6-M: every fault is HardFault, and there is no CFSR/HFSR to record its cause;
        # metersim keeps the cause it saw (CFSR encoding) for the fault report only.
        self.v6m = self.architecture == "v6-M"
        self.v6m_fault_cause = 0
        self.uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB)
        self.uc.ctl_set_tcg_buffer_size(TCG_BUFFER_BYTES)
        self.uc.ctl_set_cpu_model(CORE_MODELS[core])
        self.nat = NativeCore(self.uc)
        self._counter = self.nat._counter   # executed instructions of the running slice
        self._limit = self.nat._limit       # and its limit (see uc_native)
        # Per-block counting in C (fast mode); unicorn's per-instruction count (exact mode)
        # while the debug API has code hooks or watchpoints, or without the C extension.
        self.bc = BlockClock.make(self.uc)
        self._bc_state = self.bc.state if self.bc is not None else None
        # A fast slice in one C call (_block_clock.c, bc_run_slice): None without it
        self._slice_c = (slice_runner(self.bc, ctypes.addressof(self.nat._limit))
                         if self.bc is not None else None)
        self._run_to_c = run_to_runner(self.bc) if self.bc is not None else None
        self.exact_users = 0
        self._tbs_count = True       # translated code carries unicorn's per-instruction count
        self._fast_slice = False     # the running slice counts per block
        self._vtlb_tried = False
        self.nvic: N.NVIC | None = None
        self.freq_hz = freq_hz
        self._cyc_num, self._cyc_den = cycles_per_ps(freq_hz)   # freq_hz / PS_PER_S, reduced
        self.cycles = 0              # executed + idle cycles since power-on
        self.instructions = 0        # executed instructions since power-on
        self.idle_cycles = 0
        self.stall_cycles = 0        # cycles skipped in polling loops (see poll_hint)
        self._stall = 0              # ... within the running slice
        self._poll_pc = -1
        self._poll_value = -1
        self._poll_repeats = 0
        self._poll_done = 0
        self._probe: LoopProbe | None = None    # made for the first loop with a time-out
        self._poll_exit = (-1, 0)    # (pc, cycle): where that loop's time-out was found
        self.cyccnt_address = -1     # DWT CYCCNT, once the machine has a DWT (Machine.add)
        self.code_generation = 0     # moves on when flash content changes
        self._base_cycles = 0
        self._base_ps = machine.clock._now   # cycle 0 is the instant the core is made
        self.ipsr = 0                # current exception number (0 = thread mode)
        self.halted = False          # sleeping in WFI/WFE
        self.in_slice = False
        self._slice_limit = 0
        self._slice_target_ps = 0
        self._mmio_fault: tuple[int, bool, int] | None = None
        self._unmapped: tuple[int, int] | None = None
        self._break_requested = False
        self._rom_store_accepted = False
        self.fault: FirmwareFault | None = None  # set when the core stopped on a fault
        self.exceptions_taken = 0
        self._rd_masks = self.nat.batch_reader(_MASK_REGS)
        if self.v6m:
            # ARMv6-M has PRIMASK only: BASEPRI and FAULTMASK never mask (a register poke
            # through the debug API cannot make them).
            rd_masks = self._rd_masks
            self._rd_masks = lambda: (rd_masks()[0], 0, 0)
        self._rd_priv = self.nat.batch_reader([A.UC_ARM_REG_FAULTMASK, A.UC_ARM_REG_CONTROL])
        self._rd_entry = self.nat.batch_reader(_ENTRY_REGS)
        self._wr_frame = self.nat.batch_writer(_FRAME_REGS)
        if self.has_fpu:
            self._rd_fp = self.nat.batch_reader(_FP_REGS)
            self._wr_fp = self.nat.batch_writer(_FP_REGS)
        R = A
        self._wr_entry_msp = self.nat.batch_writer(
            [R.UC_ARM_REG_XPSR, R.UC_ARM_REG_APSR_NZCV, R.UC_ARM_REG_MSP, R.UC_ARM_REG_LR,
             R.UC_ARM_REG_PC])
        self._wr_entry_psp = self.nat.batch_writer(
            [R.UC_ARM_REG_XPSR, R.UC_ARM_REG_APSR_NZCV, R.UC_ARM_REG_PSP, R.UC_ARM_REG_LR,
             R.UC_ARM_REG_PC])
        self._rd_return = self.nat.batch_reader([R.UC_ARM_REG_MSP, R.UC_ARM_REG_PSP,
                                                 R.UC_ARM_REG_CONTROL])
        # Return to thread mode: registers, then leave handler mode while still privileged,
        # place SP, apply CONTROL (SPSEL, nPRIV, FPCA), rebuild hflags, jump.
        tail = [R.UC_ARM_REG_APSR_NZCV, R.UC_ARM_REG_PC]
        self._wr_ret_thread = {
            sp_reg: self.nat.batch_writer(_FRAME_REGS + [R.UC_ARM_REG_CONTROL, R.UC_ARM_REG_XPSR_NZCVQG,
                                                         sp_reg, R.UC_ARM_REG_CONTROL] + tail)
            for sp_reg in (R.UC_ARM_REG_MSP, R.UC_ARM_REG_PSP)}
        self._wr_ret_handler = self.nat.batch_writer(
            _FRAME_REGS + [R.UC_ARM_REG_MSP, R.UC_ARM_REG_XPSR_NZCVQG] + tail)
        self._wfi_at: dict[int, bool] = {}  # pc -> "the instruction before pc is WFI"
        self._frame_buf = ctypes.create_string_buffer(0x68)
        self._word_buf = ctypes.create_string_buffer(4)
        self._vector_cache: dict[tuple[int, int], int] = {}  # (VTOR, exc) -> vector, ROM only
        self._unmask_hooks: set[int] = set()
        self._pending_stop = None    # interrupt_pending_changed in C (bind_interrupt_summary)
        # the NVIC model asks at every register access: the same answer in one C call
        privileged = self.bc.privileged(self) if self.bc is not None else None
        if privileged is not None:
            self.is_privileged = privileged
        # Straight from unicorn (no binding wrapper): every SVC and exception return lands here.
        self._intr_cfn = HOOK_INTR_CFUNC(self._on_intr_raw)
        self._intr_hook = uc_hook_h()
        if self.bc is not None:
            # through the block clock's C hook, which does the plain return of an idle tick
            self.bc.state.intr_py = ctypes.cast(self._intr_cfn, ctypes.c_void_p).value
            hook_fn = ctypes.c_void_p(self.bc.intr_hook)
            hook_ud = ctypes.c_void_p(ctypes.addressof(self.bc.state))
        else:
            hook_fn, hook_ud = ctypes.cast(self._intr_cfn, ctypes.c_void_p), None
        status = _uclib.uc_hook_add(self.uc._uch, ctypes.byref(self._intr_hook), UC_HOOK_INTR,
                                    hook_fn, hook_ud, ctypes.c_uint64(1), ctypes.c_uint64(0))
        if status:
            raise SetupError(f"cannot hook unicorn's interrupts (unicorn error {status})")
        self._mem_hooks: list[int] = []
        self.bind_memory_hooks([])
        self.mpu_guard = MpuGuard(self)
        self.traps = Traps(self)
        # SVC entries and plain exception returns in C during fast slices (_block_clock.c's
        # exc_fast); False (or METERSIM_NATIVE_EXC=0) keeps every one in Python.
        self.native_exc = os.environ.get("METERSIM_NATIVE_EXC", "1") != "0"
        self._exc = None             # the C exception path's parameters (_arm_native_exc)
        self._exc_addr = None        # ... and their address
        self._take_c = None          # _take_interrupts' C call, with both addresses bound
        self._idle = None            # the C idle-tick loop's parameters (idle_ticks)
        self.native_idle_ticks = 0   # SysTick exceptions the C loop took (statistics)
        self._idle_emu = None
        self._now_ps_fn = self.now_ps   # the clock's time source while a slice runs
        self._clock = machine.clock     # the machine's clock (slices enter and leave it)
        self._slice_exc = None          # the exception parameters armed in _slice_c's block
        if self._slice_c is not None and self._run_to_c is not None:
            # the C slice finishes stops inside a block or an access too (see slice_runner)
            params = self._slice_c[3]
            params.py_uc, params.py_traps = id(self.uc), id(self.traps)
            params.run_to = self._run_to_c[2]

    def bind_memory_hooks(self, ram: list[tuple[int, int]]) -> None:
        """Hook unmapped accesses and stores into read-only memory everywhere but in the
        writable RAM ranges `ram` ((start, size) pairs; the bus calls this once its memory is
        mapped). unicorn treats a page covered by any memory hook as watched: its stores stay
        on the slow path and, in virtual-TLB mode, its TLB entry is refilled after each one."""
        for h in self._mem_hooks:
            self.uc.hook_del(h)
        self._mem_hooks = []
        lo = 0
        for start, size in sorted(ram) + [(1 << 32, 0)]:
            if start > lo:
                self._mem_hooks.append(self.uc.hook_add(
                    UC_HOOK_MEM_READ_UNMAPPED | UC_HOOK_MEM_WRITE_UNMAPPED
                    | UC_HOOK_MEM_FETCH_UNMAPPED, self._on_unmapped, begin=lo, end=start - 1))
                self._mem_hooks.append(self.uc.hook_add(UC_HOOK_MEM_WRITE_PROT,
                                                        self._on_write_prot, begin=lo,
                                                        end=start - 1))
            lo = max(lo, start + size)

    # ================================================================ time
    def cycles_now(self) -> int:
        if self.in_slice:
            return self.cycles + self._stall + self._slice_done()
        return self.cycles

    def _slice_done(self) -> int:
        """Instructions executed so far in the running slice (exact in MMIO callbacks)."""
        if self._fast_slice:
            st = self._bc_state
            return st.mmio_exec if st.in_mmio else self.bc.executed()
        done = self._counter.value
        return done if done <= self._limit.value else done - 1

    def _limit_slice(self, count: int) -> None:
        """End the running slice after `count` instructions in total (never before now). In
        fast mode a limit lowered inside a block takes effect at the block's end."""
        if self._fast_slice:
            st = self._bc_state
            done = self.bc.executed()
            st.limit = count if count > done else done
            if st.in_mmio and count <= done:
                st.stop_after_access = 1    # right after this access's instruction
        else:
            self.nat.limit_slice(count)

    def instructions_now(self) -> int:
        """Executed instructions since power-on, inside a slice too."""
        return self.instructions + (self._slice_done() if self.in_slice else 0)

    def active_cycles(self) -> int:
        """Cycles the core spent running (not sleeping): what DWT CYCCNT counts."""
        return self.cycles_now() - self.idle_cycles

    def _executed_in_slice(self) -> int:
        # unicorn counts an instruction before running it and stops once the count passes the
        # limit, so past the limit the last count did not execute. Usually that means counter =
        # limit + 1; inside an IT block unicorn cannot stop and runs on to the block's end.
        done = self.nat.executed
        return done if done <= self.nat._limit.value else done - 1

    def time_at_cycles(self, cycles: int) -> int:
        return self._base_ps + (cycles - self._base_cycles) * PS_PER_S // self.freq_hz

    def cycles_at_time(self, t_ps: int) -> int:
        """Whole cycles that complete by time `t_ps` (floor)."""
        return self._base_cycles + (t_ps - self._base_ps) * self.freq_hz // PS_PER_S

    def now_ps(self) -> int:
        # Inlined cycles_now/time_at_cycles: the clock asks this on every timed MMIO access.
        c = self.cycles
        if self.in_slice:
            if self._fast_slice:
                st = self._bc_state
                c += self._stall + (st.mmio_exec if st.in_mmio else self.bc.executed())
            else:
                done = self._counter.value
                c += self._stall + (done if done <= self._limit.value else done - 1)
        return self._base_ps + (c - self._base_cycles) * PS_PER_S // self.freq_hz

    def set_frequency(self, hz: int) -> None:
        """New core clock (RCC switched SYSCLK/HCLK): re-anchor so time stays continuous."""
        hz = int(hz)
        if hz <= 0 or hz == self.freq_hz:
            return
        now_c = self.cycles_now()
        self._base_ps = self.time_at_cycles(now_c)
        self._base_cycles = now_c
        self.freq_hz = hz
        self._cyc_num, self._cyc_den = cycles_per_ps(hz)
        if self.in_slice:
            self._retarget(self._slice_target_ps)

    def _retarget(self, t_ps: int) -> None:
        """End the running slice when local time reaches `t_ps`."""
        self._slice_target_ps = t_ps
        n = self.cycles_at_time(t_ps) - self.cycles - self._stall
        self._limit_slice(max(n, 0))

    def on_earlier_event(self, t_ps: int) -> None:
        if self.in_slice:
            self._retarget(t_ps)

    def request_boundary(self) -> None:
        """Stop the running slice after the current instruction (to take an interrupt...)."""
        if self.in_slice:
            self._limit_slice(0)

    def poll_hint(self, ready_ps: int, value: int) -> None:
        """A model says: the status register just read (`value`) cannot change before
        `ready_ps`.

        When the same instruction reads the same value a third time in a row, a few dozen
        instructions apart, the firmware is spinning on it (`while (!(SR & RXNE))`): the core
        skips ahead to `ready_ps` (or the slice end) as if it had spun until then. The loop
        sees the flag change at the right virtual time, DWT CYCCNT and timers advance as they
        would; only the number of loop iterations differs. Without this each poll costs a
        host-side register access.

        A loop that also reads a register counting time (time_register_read: a time-out on
        DWT CYCCNT, SysTick CVR, a timer's CNT) may leave before `ready_ps`, when that value
        reaches a limit only its code knows; skipped past it, it would see its time-out late
        (up to the slice's end). For such a loop the skip ends where the loop would leave
        (_timed_skip_end): with a CYCCNT time-out, a few turns before its exit cycle, found by
        running turns of the loop on a scratch core (poll_probe); when that cannot be told, the
        loop is not skipped. Either way it times out on the cycle it would on the part."""
        if not self.in_slice:
            return
        st = self._bc_state
        if self._fast_slice and st.in_mmio:
            # inside the block clock's MMIO trampoline: it has located the accessing
            # instruction (the PC unicorn reports) and its count already
            pc = st.access_pc
            done = st.mmio_exec
        else:
            pc = self.nat.rd(A.UC_ARM_REG_PC)
            done = self._slice_done()
        repeats = self._poll_repeats
        timed = repeats >= POLL_TIMED
        turn = done - self._poll_done
        if pc == self._poll_pc and value == self._poll_value and 0 < turn < 64:
            repeats = (repeats & (POLL_TIMED - 1)) + 1
        else:
            repeats = 0
            if self._poll_exit[1] < 0:
                self._poll_exit = (-1, 0)        # a loop the probe could not run has ended
        self._poll_repeats = repeats
        self._poll_pc = pc
        self._poll_value = value
        self._poll_done = done
        if repeats < 2:
            return
        t = ready_ps if ready_ps < self._slice_target_ps else self._slice_target_ps
        want = self.cycles_at_time(t)
        if -(-(t - self._base_ps) * self.freq_hz // PS_PER_S) + self._base_cycles > want:
            want += 1                                   # reach t, not just before it
        if timed:
            want = self._timed_skip_end(pc, value, turn, self.cycles + self._stall + done, want)
        stall = want - (self.cycles + self._stall + done)
        if stall > 0:
            self._stall += stall
            total = self.cycles_at_time(self._slice_target_ps) - self.cycles - self._stall
            self._limit_slice(total if total > done else done)

    def _timed_skip_end(self, pc: int, value: int, turn: int, now: int, want: int) -> int:
        """The cycle a skip of a loop that reads a time register may go to, at most `want`
        (the status register's change): a few turns before the cycle at which the loop leaves
        on its time-out (the turns left run on the core, which reads CYCCNT each time and
        leaves on its own cycle), or `now` (no skip) when that cannot be told.

        The exit cycle found for the loop at `pc` is kept (`_poll_exit`) and checked with
        one or two turns on the probe at the next decision (a slice boundary ends the run of
        repeats, the same loop goes on; a later call of the same function is a new loop with
        another exit): it still holds if the loop spins at the skip's end and, when that end
        is the exit's margin, leaves at the exit."""
        if self.cyccnt_address < 0:
            return now                  # no DWT: the time register is another: no skip
        margin = 2 * turn + 8                    # (CPI 1: a turn's cycles, twice over)
        exit_pc, exit_cycle = self._poll_exit
        if exit_pc == pc and exit_cycle < 0:
            return now                  # the probe cannot run this loop (in this run of repeats)
        probe = self._probe
        if probe is None:
            probe = self._probe = LoopProbe(self, CORE_MODELS[self.core])
        probe.start(pc, value, turn)
        if exit_pc == pc and exit_cycle > now:
            end = exit_cycle - margin
            if want < end:
                if self._loop_spins(want):
                    return want
            elif end > now and self._loop_spins(end) \
                    and not self._loop_spins(exit_cycle):
                return end
        exit_cycle = self._find_exit(now, want)
        self._poll_exit = (pc, exit_cycle)
        if exit_cycle < 0:
            return now
        end = exit_cycle - margin
        return want if want < end else (end if end > now else now)

    def _loop_spins(self, cycle: int) -> bool:
        """Whether the loop made ready on the probe still goes round at core cycle `cycle`."""
        return self._probe.spins(self.cyccnt_address, self.machine.dwt_cyccnt_at(cycle))

    def _find_exit(self, now: int, want: int) -> int:
        """The first cycle at which the loop at `pc` no longer comes back to its status read
        (its time-out), looked for up to 2^30 cycles ahead (CYCCNT's difference stays far
        from wrapping); -1 if the loop does not go round on the probe (it reads another
        register, writes one...): it is not skipped."""
        if not self._loop_spins(now):
            return -1
        lo, step = now, max(want - now, 1024)   # spins at lo; look at lo + step, doubling
        while True:
            hi = lo + step
            if hi - now > 1 << 30:
                return now + (1 << 30)       # no time-out that soon: far enough
            if not self._loop_spins(hi):
                break
            lo, step = hi, 2 * step
        while hi - lo > 1:                   # spins at lo, leaves at hi
            mid = (lo + hi) // 2
            if self._loop_spins(mid):
                lo = mid
            else:
                hi = mid
        return hi

    def time_register_read(self) -> None:
        """The firmware read a register whose value moves with time (DWT CYCCNT, SysTick
        CVR, a timer's CNT): a polling loop that reads it may time out before its status
        register changes, so its skip is bounded (poll_hint). Marked in _poll_repeats until
        the next status read; the C answer of the hot time registers (_hot_regs.c) does the
        same."""
        if self._poll_repeats < POLL_TIMED:
            self._poll_repeats += POLL_TIMED

    def interrupt_pending_changed(self) -> None:
        """An exception became pending, enabled or more urgent: end the slice after this
        instruction if it preempts now. One that cannot (masked, or not above the running
        handler) needs no stop: what later lets it in (an unmask site, an exception return,
        an enable or priority write, WFI) looks at the pending set again."""
        if self.in_slice:
            stop = self._pending_stop
            if stop is not None and self._fast_slice:
                stop()           # C: the unmask sites' rule, then _limit_slice(0)'s stop
                return
            sm = self.nvic.summary
            # best >= active: nothing preempts whatever the masks (they only lower the
            # execution priority); else the masks decide (NVIC.pending_to_take, summarised)
            if sm.best < sm.active and sm.best < self._exec_priority():
                self._limit_slice(0)

    def break_run(self) -> None:
        """Ask the core to return from run_until at the next instruction boundary."""
        self._break_requested = True
        self.request_boundary()

    # ================================================================ block observers
    def add_block_observer(self, fn) -> None:
        """Call `fn(address, size_bytes)` for every translated block that runs, before it runs
        (coverage, tracing). A Python call per block: runs get several times slower while one
        is attached."""
        if self.bc is not None:
            self.bc.add_observer(fn)
            return
        hooks = self.__dict__.setdefault("_observer_hooks", {})
        hooks[fn] = self.uc.hook_add(UC_HOOK_BLOCK, lambda _uc, a, n, _ud: fn(a, n))

    def remove_block_observer(self, fn) -> None:
        if self.bc is not None:
            self.bc.remove_observer(fn)
            return
        hook = self.__dict__.get("_observer_hooks", {}).pop(fn, None)
        if hook is not None:
            self.uc.hook_del(hook)

    # ================================================================ state helpers
    def reg(self, reg: int) -> int:
        return self.nat.rd(reg)

    def set_reg(self, reg: int, value: int) -> None:
        self.nat.wr(reg, value)

    @property
    def pc(self) -> int:
        return self.nat.rd(A.UC_ARM_REG_PC)

    def current_exception(self) -> int:
        return self.ipsr

    def is_privileged(self) -> bool:
        """Handler mode, or CONTROL.nPRIV clear (with the C extension, an instance attribute
        does this in C: BlockClock.privileged)."""
        if self.ipsr:
            return True
        return not (self.nat.rd(A.UC_ARM_REG_CONTROL) & 1)

    def access_state(self) -> tuple[bool, bool]:
        """(privileged, at a negative execution priority): what the MPU looks at. Negative
        means HardFault or NMI active, or FAULTMASK set (ARMv7-M B1.5.4)."""
        active = self.nvic.active
        faultmask, control = self._rd_priv()
        negative = bool(active[N.HARDFAULT] or active[N.NMI] or faultmask & 1)
        return bool(self.ipsr) or not control & 1, negative

    def read_code(self, addr: int, n: int) -> bytes | None:
        try:
            return bytes(self.uc.mem_read(addr & ~1, n))
        except UcError:
            return None

    def mpu_changed(self, spans=None) -> None:
        """The MPU's registers changed (the NVIC/SCB model calls this), within `spans`."""
        if self.nvic is not None:
            self.mpu_guard.update(spans)

    def traps_changed(self) -> None:
        """CCR's trap bits or CPACR changed (the NVIC/SCB model calls this)."""
        self.traps.update()

    def raise_usage_fault(self, ufsr_bits: int, pc: int) -> None:
        self._fault(N.USAGEFAULT, ufsr_bits, return_pc=pc)

    def count_executed(self, n: int) -> None:
        """Instructions the engine executed itself, between slices."""
        self.cycles += n
        self.instructions += n

    def run_one_instruction(self) -> None:
        """Execute exactly the instruction at PC (between slices), with unicorn's count."""
        self._use_counting_tbs()
        if self.bc is not None:
            self.bc.begin((1 << 64) - 1)
        status = _uc_emu_start(self.nat.uch, self.nat.rd(A.UC_ARM_REG_PC) | 1, 0, 0, 1)
        if status:
            self._on_stop_error(UcError(status))
            return
        self.count_executed(self._executed_in_slice())

    def _use_counting_tbs(self) -> None:
        # unicorn's count hook only runs in code translated while it is installed; it removes
        # the hook (and flushes) by itself when a run with count=0 follows.
        if not self._tbs_count:
            self.uc.ctl_flush_tb()
            self._tbs_count = True

    def _read32(self, addr: int) -> int | None:
        try:
            return struct.unpack("<I", self.uc.mem_read(addr, 4))[0]
        except UcError:
            return None

    def _exec_priority(self, ignore_primask: bool = False) -> int:
        pm, fm, bp = self._rd_masks()
        return self.nvic.execution_priority(0 if ignore_primask else pm, fm, bp)

    # ================================================================ reset
    def reset(self, vtor: int = 0) -> None:
        """Core reset: registers cleared, MSP and PC from the vector table at `vtor`."""
        nat = self.nat
        msp = self._read32(vtor)
        pc = self._read32(vtor + 4)
        if msp is None or pc is None:
            raise SetupError(f"no vector table at 0x{vtor:08x}: load firmware before reset")
        # Leave any unprivileged/handler state through handler mode so every write is allowed.
        nat.wr(A.UC_ARM_REG_XPSR, XPSR_T | 3)
        nat.wr(A.UC_ARM_REG_APSR_NZCV, 0)
        nat.wr(A.UC_ARM_REG_CONTROL, 0)
        nat.wr(A.UC_ARM_REG_PRIMASK, 0)
        nat.wr(A.UC_ARM_REG_FAULTMASK, 0)
        nat.wr(A.UC_ARM_REG_BASEPRI, 0)
        nat.wr(A.UC_ARM_REG_XPSR, XPSR_T)
        nat.wr(A.UC_ARM_REG_APSR_NZCV, 0)
        # SPSEL can only be cleared from (now privileged) thread mode: unicorn ignores it in
        # handler mode, which would leave the core on PSP after a SYSRESETREQ from a thread.
        nat.wr(A.UC_ARM_REG_CONTROL, 0)
        nat.wr(A.UC_ARM_REG_PSP, 0)
        for i in range(13):
            nat.wr(getattr(A, f"UC_ARM_REG_R{i}"), 0)
        nat.wr(A.UC_ARM_REG_MSP, msp & ~3)
        nat.wr(A.UC_ARM_REG_LR, 0xFFFFFFFF)
        nat.wr(A.UC_ARM_REG_PC, pc | 1)
        self.ipsr = 0
        self.halted = False
        self.fault = None
        self.v6m_fault_cause = 0
        self._mmio_fault = None
        self._unmapped = None
        if self.nvic is not None:
            self.nvic.clear_all_active()

    # ================================================================ running
    def run_until(self, target_ps: int, horizon=None) -> None:
        """Execute until local time reaches `target_ps` (or `horizon()` if earlier; without
        `horizon`, the machine's `_horizon`, which Machine.run_to keeps)."""
        # Hot path (a few hundred calls per virtual second per machine): attributes that do
        # not change inside the loop are read once (the NVIC keeps one summary: C reads it
        # in place).
        machine = self.machine
        nvic = self.nvic
        sm = nvic.summary
        while self.fault is None:
            if self._break_requested:
                self._break_requested = False
                return
            if machine.reset_pending is not None:
                machine.perform_reset()
            end_ps = machine._horizon if horizon is None else horizon()
            if target_ps < end_ps:
                end_ps = target_ps
            # _take_interrupts returns at once unless a pending interrupt beats the active
            # priority (its first test, read here from the NVIC's summary without a call)
            if nvic.pending_set and sm.best < sm.active:
                self._take_interrupts()
                if self.fault is not None:
                    return
            if self.halted:
                self.idle_to(end_ps)
                return
            # cycles_at_time(end_ps), inlined (a slice can change the frequency: re-read it)
            n = self._base_cycles + (end_ps - self._base_ps) * self._cyc_num // self._cyc_den \
                - self.cycles
            if n <= 0:
                return
            self._run_slice(n, end_ps)

    def idle_to(self, t_ps: int) -> None:
        """Let time pass without executing (core asleep or unpowered)."""
        # the first whole cycle at or after t_ps (time_at_cycles(c) >= t_ps)
        c = self._base_cycles - (self._base_ps - t_ps) * self._cyc_num // self._cyc_den
        cycles = self.cycles
        if c > cycles:
            self.idle_cycles += c - cycles
            self.cycles = c

    def _run_slice(self, n: int, end_ps: int) -> None:
        """Run at most `n` instructions, to local time `end_ps`. The common slice (counted per
        block, the whole run in one C call: bc_run_slice) is finished here when it ends
        plainly; unicorn's exact count, a build without that C call and every other end go
        through the helpers."""
        c = self._slice_c
        if c is None or self.exact_users:
            self._run_slice_uc(n, end_ps)
            return
        self._slice_target_ps = end_ps
        self._fast_slice = True
        self._tbs_count = False
        exc = self._exc_addr
        if exc is None or not self.native_exc:
            exc = self._fast_slice_exc()
        fn, state, params_addr, params = c
        if exc != self._slice_exc:
            params.exc = self._slice_exc = exc
        clock = self._clock
        uc = self._begin_slice(clock, end_ps)
        r = fn(state, params_addr, n)
        if r < 0 or uc._hook_exception is not None:
            self._complete_slice(-1 - r if r < 0 else 0, True)
            return
        # a plain end (C has cleared site_stop): what _complete_slice does for one, with the
        # C count
        self._fast_slice = False
        faulted, done = self._end_slice(r >> 1, clock)
        if faulted or self._mmio_fault is not None:
            self._slice_faults(faulted)
        elif not r & 1:          # not stopped by the limit
            self._after_early_end(done, params.pc)

    def _fast_slice_exc(self):
        """A slice counted per block is about to run: the first one switches the MPU guard to
        its virtual TLB; the exception parameters to arm (None: exceptions in Python)."""
        if not self._vtlb_tried:
            self._vtlb_tried = True
            self.mpu_guard.use_virtual_tlb()
        if self.native_exc and not self.v6m:
            if self._exc is None:
                self._arm_native_exc()
            return self._exc_addr
        return None

    def _run_slice_uc(self, n: int, end_ps: int) -> None:
        """A slice started with uc_emu_start from Python: unicorn's per-instruction count
        (the debug API's exact mode, or no C extension), or block counting where the
        extension predates the one-call slice."""
        clock = self._clock
        self._slice_target_ps = end_ps
        bc = self.bc
        fast = self._fast_slice = bc is not None and not self.exact_users
        if fast:
            self._tbs_count = False
            exc = self._fast_slice_exc()
            self._bc_state.site_stop = 1   # mirrors _fast_slice: C reads it at unmask sites
            bc.begin(n)
            if exc is not None:
                self._bc_state.exc = exc
        else:
            self._use_counting_tbs()
            if bc is not None:
                self._bc_state.site_stop = 0
                bc.begin((1 << 64) - 1)
        self._limit.value = n
        self._begin_slice(clock, end_ps)
        nat = self.nat
        # uc.emu_start without the binding's wrapper; a Python exception raised in a hook is
        # re-raised the way the binding does (_complete_slice).
        status = _uc_emu_start(nat.uch, nat.rd(A.UC_ARM_REG_PC) | 1, 0, 0, 0 if fast else n)
        self._complete_slice(status, fast)

    def _complete_slice(self, status: int, fast: bool) -> None:
        """After unicorn returned from a slice: finish a stop inside a block or an access,
        count, and turn what stopped it into faults or a halt."""
        clock = self.machine.clock
        nat = self.nat
        err = None
        uc = self.uc
        try:
            if fast:
                # a stop inside a block, then an access in the re-run block that asked for a
                # stop, which leaves the core inside that instruction (run again, it would
                # repeat the access); a third run where the translation buffer was flushed
                # under the shortened block (see _block_clock.c, finish_stops)
                st = self._bc_state
                runs = 0
                while not status and uc._hook_exception is None \
                        and (st.stop_at or st.stopped_at_access):
                    if runs == 8:       # (more: the count limit was not applied)
                        raise SetupError("a count-limited translation block did not end the "
                                         f"slice at 0x{st.cur_start:08x} (unicorn's "
                                         "cflags_next_tb: is this unicorn 2.1.4?)")
                    status = self._finish_in_block() if st.stop_at else self._finish_access()
                    runs += 1
            if status:
                err = UcError(status)
            if uc._hook_exception is not None:
                raise uc._hook_exception
        except UcError as e:
            err = e
        finally:
            if fast:
                st = self._bc_state
                st.exc = None
                stopped_by_limit = bool(st.stopped)
                done = st.base if stopped_by_limit else self.bc.executed()
                self._fast_slice = False
                st.site_stop = 0
            else:
                done = self._executed_in_slice()
                stopped_by_limit = nat.executed > nat._limit.value
            faulted, done = self._end_slice(done, clock)
        if err is not None:
            self._on_stop_error(err)
            return
        if faulted or self._mmio_fault is not None:
            self._slice_faults(faulted)
            return
        if stopped_by_limit:
            return
        self._after_early_end(done, nat.rd(A.UC_ARM_REG_PC))

    def _begin_slice(self, clock, end_ps: int):
        """Enter the slice (clock.begin_slice, inlined): the clock reads the core's time and
        an event scheduled before `end_ps` shortens the slice (the machine's clock keeps its
        `_on_earlier`). Returns the unicorn handle, its hook exception cleared."""
        self.in_slice = True
        clock._time_source = self._now_ps_fn
        clock._horizon_ps = end_ps
        uc = self.uc
        uc._hook_exception = None
        return uc

    def _end_slice(self, done: int, clock) -> tuple[bool, int]:
        """Leave the slice (clock.end_slice, inlined) and count it: `done` instructions, less
        the one a data fault stopped inside (it did not complete), plus the cycles skipped in
        polling loops. Returns (stopped on a data fault, instructions counted)."""
        faulted = self.mpu_guard.data_fault is not None or self.traps.align_fault is not None
        if faulted:
            done -= 1
        self.in_slice = False
        clock._time_source = None
        clock._horizon_ps = None
        if self._stall:
            self._count_stall()
        self.cycles += done
        self.instructions += done
        return faulted, done

    def _count_stall(self) -> None:
        """The cycles a slice skipped in polling loops (poll_hint) pass, as idle time does not:
        they count as the core's (DWT CYCCNT, timers)."""
        stall = self._stall
        self.cycles += stall
        self.stall_cycles += stall
        self._stall = 0

    def _after_early_end(self, done: int, pc: int) -> None:
        """The slice ended before its limit without an error, at `pc`, after `done`
        instructions: a trap site, or a WFI that halted the core."""
        traps = self.traps
        if traps._exits and traps.at_exit(pc):   # (traps.armed without a property call)
            return  # stopped in front of a trap site (divide, FP): handled
        if done:
            # unicorn returned without reaching the slice limit and without an error: the last
            # instruction was a WFI that halted the core. (A stop by the limit leaves the
            # counter one past it, so a breakpoint right after a WFI is not mistaken for one.)
            is_wfi = self._wfi_at.get(pc)
            if is_wfi is None:
                is_wfi = self._wfi_at[pc] = self._halfword(pc - 2) == OP_WFI
            if is_wfi:
                self.halted = True

    def _slice_faults(self, faulted: bool) -> None:
        """The slice stopped on a data fault (MPU, alignment trap) or a refused MMIO access:
        raise it (the count excludes the faulting instruction already)."""
        if faulted:
            mpu_guard = self.mpu_guard
            if mpu_guard.data_fault is not None:
                addr, is_write, pc = mpu_guard.data_fault
                mpu_guard.data_fault = None
                self._fault(N.MEMMANAGE, N.MMFSR_DACCVIOL | N.MMFSR_MMARVALID, return_pc=pc,
                            mmfar=addr)
                return
            traps = self.traps
            _addr, pc = traps.align_fault
            traps.align_fault = None
            traps.undo_faulted_store()
            self._fault(N.USAGEFAULT, N.UFSR_UNALIGNED, return_pc=pc)
            return
        addr, is_write, pc = self._mmio_fault
        self._mmio_fault = None
        self._fault(N.BUSFAULT, N.BFSR_PRECISERR | N.BFSR_BFARVALID, return_pc=pc, bfar=addr)

    def _arm_native_exc(self) -> None:
        """Let the C interrupt hook do this slice's SVC entries and plain exception returns
        (see _block_clock.c, exc_fast): only with the MPU fill in C, which it checks frames
        with."""
        x = self._exc
        if x is None:
            fast = self.mpu_guard._fast
            check = mpu_frame_check()
            if fast is None or check is None:
                return
            x = self._exc = self.bc.exc_params(self, self.has_fpu, check)
            x.mpu = ctypes.addressof(fast)
            self._exc_addr = ctypes.addressof(x)
            self._take_c = functools.partial(_take_interrupt, self.bc._ref, self._exc_addr)
            if _take_interrupts_c is not None:
                # run_until's call then reaches C without a Python frame; the method below
                # stays the definition (and what C falls back to)
                self._take_interrupts = functools.partial(_take_interrupts_c, self.bc._ref,
                                                          self._exc_addr, self)
        self._bc_state.exc = self._exc_addr

    def native_exceptions(self) -> tuple[int, int]:
        """(SVC entries, exception returns) the C path did (statistics)."""
        x = self._exc
        return (x.entries, x.returns) if x is not None else (0, 0)

    # ================================================================ idle ticks in C
    def idle_ticks(self, t_end_ps: int, qcap_ps: int, max_ticks: int = 4096):
        """Run the ticks of a core asleep in WFI whose only due event is its SysTick wrap in
        C (_block_clock.c), each exactly as the run loop would: the same slices, cycles,
        frames and SysTick state. Returns None where it does not apply (Python runs the
        step), "idle" (asleep between ticks, clock at the last wrap), "pending" (a wrap done,
        its exception to take) or "slice" (Python was needed inside a tick, whose slice it has
        now completed; the step goes on to `self._slice_target_ps`)."""
        bc = self.bc
        nv = self.nvic
        pending = nv.pending_set
        if bc is None or not self.halted or pending and pending != {N.SYSTICK} or self.ipsr \
                or self.exact_users \
                or self.fault is not None or bc._observers or self.mpu_guard.active \
                or not self._vtlb_tried or self.traps.armed or self._break_requested \
                or nv._act or self.has_fpu and self.nat.rd(A.UC_ARM_REG_CONTROL) & 4:
            return None
        machine = self.machine
        st = nv.systick
        ev = st._event
        clock = machine.clock
        if ev is None or machine.reset_pending is not None or clock._time_source is not None \
                or not st.csr & 2 or not st.rvr or st._hz <= 0 or st._hz != st._rate():
            return None
        nxt = clock.next_event_ps()
        if nxt != ev.time_ps or clock._heap[0][2] is not ev:
            return None
        pm, fm, bp = self._rd_masks()
        if nv.group_priority(nv.prio[N.SYSTICK]) >= nv.execution_priority(pm, fm, bp):
            return None
        other = min((t for t, _, e in clock._heap if e is not ev and not e.cancelled),
                    default=(1 << 64) - 1)
        host = machine.emulation.clock.next_event_ps()   # the emulation's own events count too
        if host is not None and host < other:
            other = host
        d = self._idle
        if d is None:
            d = self._idle = bc.idle_params(self._idle_sync_cb)
            d.limit_word = ctypes.addressof(self.nat._limit)
            d.has_fpu = int(self.has_fpu)
        d.ccr, d.primask, d.faultmask, d.basepri, d.rvr = nv.ccr, pm, fm, bp, st.rvr
        d.t_end_ps, d.other_ps, d.qcap_ps, d.max_ticks = t_end_ps, min(other, (1 << 64) - 1), \
            qcap_ps, max_ticks
        d.base_ps, d.base_cycles, d.freq_hz = self._base_ps, self._base_cycles, self.freq_hz
        d.st_anchor_ps, d.st_hz, d.st_start_edge = st._anchor_ps, st._hz, st._start_edge
        d.vector_addr = nv.vtor + 4 * N.SYSTICK
        d.now_ps, d.next_ps, d.ticks = clock._now, ev.time_ps, ev.args[0]
        d.wraps = d.exceptions = 0
        d.start_pending = 1 if pending else 0
        d.cycles, d.instructions, d.idle_cycles = self.cycles, self.instructions, self.idle_cycles
        d.ipsr = 0
        self._idle_exc0 = self.exceptions_taken
        self._idle_event = ev
        self._tbs_count = False
        self.uc._hook_exception = None
        result = bc.idle_ticks(d)
        self.native_idle_ticks += d.exceptions
        if result == 2:          # synced inside a tick's slice: Python completes that slice
            self._complete_slice(d.status, True)
            return "slice"
        if not d.wraps and not d.exceptions:
            return None          # nothing done
        self._idle_materialise(result)
        return "pending" if result == 1 else "idle"

    def _idle_sync_cb(self) -> None:
        # called from C inside unicorn: an exception goes back to the run loop, as from a hook
        try:
            self._idle_materialise()
        except BaseException as e:  # noqa: BLE001 - handed back to the run loop
            if self.uc._hook_exception is None:
                self.uc._hook_exception = e
            _uclib.uc_emu_stop(self.uc._uch)

    def _idle_materialise(self, phase: int | None = None) -> None:
        """Give the Python objects the state the C idle loop has reached (see idle_ticks):
        asleep between ticks (phase 0), a wrap's exception pending (1), or inside the slice of
        a tick (2, when called from C: the slice then goes on as an ordinary one)."""
        d = self._idle
        if phase is None:
            phase = d.phase
        nv = self.nvic
        st = nv.systick
        clock = self.machine.clock
        clock._now = d.now_ps
        self.cycles, self.instructions, self.idle_cycles = d.cycles, d.instructions, d.idle_cycles
        self.exceptions_taken = self._idle_exc0 + d.exceptions
        if d.wraps:
            self._idle_event.cancel()
            st._event = None
            st.csr |= 1 << 16                       # COUNTFLAG
            st._last_wrap = d.last_wrap
            st._reload = st.rvr
            st._schedule_wrap(d.ticks)
        nv.clear_pending(N.SYSTICK)     # (pending at the start of the loop, perhaps)
        if phase == 0:
            return
        nv.set_pending(N.SYSTICK)
        if phase == 1:
            return
        nv.acknowledge(N.SYSTICK)
        if d.ipsr == 0:                             # the handler has returned already
            nv.complete(N.SYSTICK)
        self.ipsr = d.ipsr
        self.halted = False
        self._slice_target_ps = d.slice_end_ps
        self._fast_slice = True
        self._bc_state.site_stop = 1
        self._stall = 0
        self.cycles = d.slice_cycles0
        self.in_slice = True
        self.machine._horizon = d.slice_end_ps
        clock.begin_slice(self.now_ps, d.slice_end_ps, self.machine._on_earlier_event)

    def _finish_access(self) -> int:
        """The run stopped inside the instruction of an MMIO access, after the access (a
        stop was asked for from the access's callback): run that instruction alone again,
        as a block of one instruction, the access answered from the record (a read gets the
        same value, a write is not repeated), so the slice ends right after it: at the next
        block's hook, the limit being the access's count. (The next instruction may start
        another block, when the access ends its page of code: that block's hook ends the run
        all the same.)"""
        st = self._bc_state
        st.stopped_at_access = 0
        st.base = st.mmio_exec - 1      # instructions before this one
        st.cur_n = 0
        st.stopped = 1
        st.limit = st.mmio_exec
        st.replay = 1
        try:
            return self._run_to(st.access_pc, 1)
        finally:
            st.replay = 0

    def _finish_in_block(self) -> int:
        """The slice limit falls inside the block the C hook stopped in front of: run that
        block again, translated for the instructions before the limit's address only (past
        an IT block if need be); the limit stays, so the next block's hook ends the slice.
        Returns unicorn's status."""
        st = self._bc_state
        start, count = st.cur_start, st.stop_k
        st.stop_at = 0
        st.stopped = 0
        return self._run_to(start, count)

    def _run_to(self, start: int, count: int) -> int:
        """Run from `start`, the first block translated for `count` instructions only: a
        count-limited translation block, cached beside the whole block (uc_native,
        run_to_runner). Trap exits need nothing more: they stay set in unicorn."""
        c = self._run_to_c
        if c is not None:
            return c[0](c[1], c[2], start, count)      # (_block_clock.c, bc_run_count)
        # the same, from Python: cflags_next_tb in unicorn's CPUState, -1 again afterwards
        st = self._bc_state
        cpu = ctypes.c_void_p.from_address(st.uc + st.off_cpu).value
        cflags = ctypes.c_uint32.from_address(cpu + st.off_cflags)
        cflags.value = count
        try:
            return _uc_emu_start(self.nat.uch, start | 1, 0, 0, 0)
        finally:
            cflags.value = 0xFFFFFFFF

    def _halfword(self, addr: int) -> int:
        try:
            return struct.unpack("<H", self.uc.mem_read(addr, 2))[0]
        except UcError:
            return -1

    def _on_stop_error(self, err: UcError) -> None:
        nat = self.nat
        pc = nat.rd(A.UC_ARM_REG_PC)
        code = err.errno
        if code in (UC_ERR_READ_UNMAPPED, UC_ERR_WRITE_UNMAPPED, UC_ERR_READ_PROT):
            addr = self._unmapped[0] if self._unmapped else 0
            self._unmapped = None
            self.machine.log_bus_error(addr, pc, code == UC_ERR_WRITE_UNMAPPED)
            self._fault(N.BUSFAULT, N.BFSR_PRECISERR | N.BFSR_BFARVALID, return_pc=pc, bfar=addr)
        elif code in (UC_ERR_FETCH_UNMAPPED, UC_ERR_FETCH_PROT):
            self._unmapped = None
            self.machine.log_bus_error(pc, pc, False, fetch=True)
            self._fault(N.BUSFAULT, N.BFSR_IBUSERR, return_pc=pc)
        elif code == UC_ERR_INSN_INVALID:
            op = self._halfword(pc - 2)
            if op == OP_WFE:
                self.halted = True  # WFE: sleep until an event; interrupts are events here
            elif op in (OP_YIELD, OP_SEV):
                pass  # hints: no-ops
            else:
                self._fault(N.USAGEFAULT, N.UFSR_UNDEFINSTR, return_pc=pc)
        elif code == UC_ERR_WRITE_PROT and self._rom_store_accepted:
            self._rom_store_accepted = False
            self._unmapped = None
            hw = self._halfword(pc)
            size = 4 if (hw >> 11) in (0x1D, 0x1E, 0x1F) else 2  # 32-bit Thumb-2 encoding
            nat.wr(A.UC_ARM_REG_PC, (pc + size) | 1)
        elif code == UC_ERR_WRITE_PROT:
            self._fault(N.BUSFAULT, N.BFSR_PRECISERR | N.BFSR_BFARVALID, return_pc=pc,
                        bfar=self._unmapped[0] if self._unmapped else 0)
        elif code == UC_ERR_EXCEPTION and self.mpu_guard.fetch_denied:
            self.mpu_guard.fetch_denied = False
            self._fault(N.MEMMANAGE, N.MMFSR_IACCVIOL, return_pc=pc)
        elif code == UC_ERR_EXCEPTION:
            self._fault(N.USAGEFAULT, N.UFSR_INVSTATE, return_pc=pc)
        else:
            raise err

    # ================================================================ hooks
    def _on_intr_raw(self, _handle, intno, _ud) -> None:
        try:
            self._on_intr(self.uc, intno, None)
        except BaseException as e:  # noqa: BLE001 - handed back to the run loop
            if self.uc._hook_exception is None:
                self.uc._hook_exception = e
            _uclib.uc_emu_stop(self.uc._uch)

    def _on_intr(self, uc, intno, _ud) -> None:
        if self._fast_slice:
            self.bc.settle()     # the block ran up to here (the whole block for SVC/return)
        if intno == EXCP_EXCEPTION_EXIT or intno == EXCP_PREFETCH_ABORT:
            pc = self.nat.rd(A.UC_ARM_REG_PC)
            if intno == EXCP_EXCEPTION_EXIT or (pc & EXC_RETURN_BASE) == EXC_RETURN_BASE:
                self._exception_return(pc | 1)
            else:
                self._fault(N.BUSFAULT, N.BFSR_IBUSERR, return_pc=pc, in_hook=True)
        elif intno == EXCP_SWI:
            self._svc()
        elif intno in _USAGE_FAULT_OF:
            self._fault(N.USAGEFAULT, _USAGE_FAULT_OF[intno],
                        return_pc=self.nat.rd(A.UC_ARM_REG_PC), in_hook=True)
        elif intno == EXCP_BKPT:
            self.machine.on_breakpoint_instruction(self.nat.rd(A.UC_ARM_REG_PC))
            self.request_boundary()
        else:
            self._fault(N.USAGEFAULT, N.UFSR_UNDEFINSTR, return_pc=self.nat.rd(A.UC_ARM_REG_PC),
                        in_hook=True)

    def _on_unmapped(self, uc, access, address, size, value, _ud) -> bool:
        self._unmapped = (address, size)
        return False

    def _on_write_prot(self, uc, access, address, size, value, _ud) -> bool:
        """A CPU store into read-only memory (on-chip flash): the flash controller decides.

        The store itself never lands: unicorn would write the read-only bytes if the hook
        returned True, so the hook always refuses it; an accepted store is then skipped as a
        completed instruction (`_on_stop_error`), a refused one is a BusFault."""
        if self.bc is not None:
            self.bc.idle_sync()      # the flash controller may look at the clock
        handler = self.machine.sysbus.rom_write_handler(address)
        self._unmapped = (address, size)
        self._rom_store_accepted = handler is not None and bool(handler(address, size, value))
        return False

    def bus_error_from_mmio(self, address: int, is_write: bool) -> None:
        """A model refused an access (e.g. unprivileged SCS access): precise BusFault."""
        pc = self.nat.rd(A.UC_ARM_REG_PC)
        self._mmio_fault = (address, is_write, pc)
        self.request_boundary()

    def bind_interrupt_summary(self, summary) -> None:
        """The NVIC's InterruptSummary (its attach_cpu calls this): the C block hook checks
        unmask sites against it and calls `_on_unmask_site` only when an interrupt can be
        taken there."""
        if self.bc is not None:
            self.bc.bind_summary(summary)
            self._pending_stop = self.bc.pending_stop()

    def nvic_native_paths(self, nvic):
        """(set_pending, on_gpio) in C for `nvic` once its summary is bound (NVIC.attach_cpu
        installs them: a peripheral raising an IRQ line then costs no Python frame), or None
        without the C extension."""
        if self.bc is None:
            return None
        return self.bc.nvic_paths(nvic)

    def unmask_site_skips(self) -> int:
        """Unmask sites the C hook passed without calling Python (statistics)."""
        return self.bc.site_skips if self.bc is not None else 0

    def add_unmask_hooks(self, addresses: list[int]) -> None:
        """Block hooks on the instructions right after `cpsie` / `msr primask|basepri|faultmask`,
        so a pending interrupt is taken as soon as the firmware unmasks it.

        The translator ends a block after every CPS and MSR on M-profile (so the new masks
        take effect), hence each site starts a block. Block hooks cost nothing on the other
        blocks; code hooks would be walked by unicorn before every instruction, because the
        instruction counter is itself a code hook over all addresses."""
        if self.bc is not None:
            # checked by the C block hook: a unicorn hook per site would make unicorn walk
            # the whole list at every block
            self._unmask_hooks.update(addresses)
            self.bc.set_sites(self._unmask_hooks, self._on_unmask_site)
            return
        for addr in addresses:
            if addr not in self._unmask_hooks:
                self.uc.hook_add(UC_HOOK_BLOCK, self._on_unmask, begin=addr, end=addr)
                self._unmask_hooks.add(addr)

    def _on_unmask_site(self, address) -> None:
        try:
            if self.bc._summary is not None:
                # the C hook has just asked _on_unmask's question (site_can_take) against
                # the same summary and masks, and calls only when the answer is yes
                if self._fast_slice:
                    self.bc.stop_before_block()
                else:
                    self.nat.limit_slice(0)
                return
            self._on_unmask(None, address, 0, None)
        except BaseException as e:  # noqa: BLE001 - handed back to the run loop
            if self.uc._hook_exception is None:
                self.uc._hook_exception = e
            self.uc.emu_stop()

    def _on_unmask(self, uc, address, size, _ud) -> None:
        # Runs before the block's first instruction: stop there only if an interrupt can be
        # taken now (a block can also start at a site for other reasons, with masks still set;
        # stopping then would make no progress).
        sm = self.nvic.summary          # (the C block hook asks the same before calling)
        if sm.best < sm.active and sm.best < self._exec_priority():
            if self._fast_slice:
                self.bc.stop_before_block()
            else:
                self.nat.limit_slice(0)

    # ================================================================ exceptions
    def _take_interrupts(self) -> None:
        """Enter the pending exception that preempts now, between slices; wake WFI on one
        that PRIMASK alone holds back. Once the C exception path is armed the instance's
        `_take_interrupts` is C's version of this method (_block_clock.c, take_interrupts),
        which comes back here where the C path does not answer."""
        take = self._take_c
        if take is not None and self.native_exc and not self.exact_users:
            # the questions below (the summary's first), and the entry where it needs no
            # fault, in one C call
            r = take()
            if r == TAKE_NONE:
                return
            if r != TAKE_PYTHON:
                self.halted = False
                if r >= 0:       # an entry C leaves to Python (a fault on the way)
                    self._enter(r, self.nat.rd(A.UC_ARM_REG_PC))
                return
        nv = self.nvic
        sm = nv.summary
        best = sm.best
        if best >= sm.active:
            return  # nothing preempts, nor wakes WFI: the masks only lower the priority
        pm, fm, bp = self._rd_masks()
        prio = nv.execution_priority(0, fm, bp)     # without PRIMASK: what wakes WFI
        if best >= prio:
            return
        if pm & 1 and prio > 0:
            prio = 0                                # PRIMASK (as execution_priority)
        exc = nv.pending_to_take(prio)
        if exc is None:
            self.halted = False  # WFI wakes on an interrupt masked only by PRIMASK
            return
        self.halted = False
        self._enter(exc, self.nat.rd(A.UC_ARM_REG_PC))

    def _svc(self) -> None:
        pc = self.nat.rd(A.UC_ARM_REG_PC)  # already past the svc instruction
        nv = self.nvic
        if nv.group_priority(nv.prio[N.SVCALL]) >= self._exec_priority():
            # SVC where it cannot be taken escalates (ARMv7-M B1.5.17).
            self._fault(N.HARDFAULT, 0, return_pc=pc, in_hook=True, forced=True)
            return
        nv.pend(N.SVCALL)
        self._enter(N.SVCALL, pc)

    def _enter(self, exc: int, return_pc: int, exc_return_override: int | None = None) -> bool:
        """Exception entry (ARMv7-M B1.5.6). Returns False if the core locked up."""
        nat = self.nat
        nv = self.nvic
        r0, r1, r2, r3, r12, lr, xpsr, control, sp, _pc = self._rd_entry()
        thread = self.ipsr == 0
        use_psp = thread and bool(control & 2)
        fpca = self.has_fpu and bool(control & 4)
        frame_size = 0x68 if fpca else 0x20
        pad = 4 if (nv.ccr & 0x200) and (sp & 4) else 0
        frame_sp = (sp - frame_size - pad) & 0xFFFFFFFF
        stacked_xpsr = (xpsr & ~(1 << 9)) | ((1 << 9) if pad else 0)
        frame = struct.pack("<8I", r0, r1, r2, r3, r12, lr, return_pc & ~1, stacked_xpsr)
        if fpca:
            fp = self._rd_fp()
            frame += struct.pack("<18I", *fp, 0)
        stacking_fault = 0
        if self.mpu_guard.active:
            stacking_fault = self._stack_with_mpu(frame_sp, frame, not thread or not control & 1)
        if stacking_fault:
            pass  # the MPU refused part of the frame: the entry goes on, MemManage follows
        elif not nat.mem_write(frame_sp, frame):
            nv.cfsr |= N.BFSR_STKERR
            self._stop_with_fault(f"stacking for {N.exception_name(exc)} failed at SP 0x{frame_sp:08x}",
                                  return_pc)
            return False
        vector = self._vector(nv.vtor, exc)
        if vector is None or vector == 0:
            nv.hfsr |= N.HFSR_VECTTBL
            self._stop_with_fault(f"no vector for {N.exception_name(exc)} at VTOR 0x{nv.vtor:08x}",
                                  return_pc)
            return False
        if thread:
            exc_return = 0xFFFFFFFD if use_psp else 0xFFFFFFF9
        else:
            exc_return = 0xFFFFFFF1
        if fpca:
            exc_return &= ~0x10
        # Enter handler mode first: privileged, live SP becomes MSP (unicorn swaps banks);
        # the APSR write rebuilds unicorn's hflags (handler mode, privilege).
        if fpca:
            nat.wr(A.UC_ARM_REG_XPSR, XPSR_T | exc)
            nat.wr(A.UC_ARM_REG_CONTROL, control & ~4)
        (self._wr_entry_psp if use_psp else self._wr_entry_msp)(
            (XPSR_T | exc, 0, frame_sp, exc_return, vector | 1))
        nv.acknowledge(exc)
        self.ipsr = exc
        self.exceptions_taken += 1
        if exc <= N.USAGEFAULT and self._is_dead_end(vector):
            self._stop_with_fault(f"unhandled {N.exception_name(exc)}", return_pc, entered=True)
            return False
        if stacking_fault:
            # A derived MemManage (ARMv7-M B1.5.14): taken at the handler's first instruction.
            self._fault(N.MEMMANAGE, stacking_fault, return_pc=vector & ~1)
        return True

    def _stack_with_mpu(self, frame_sp: int, frame: bytes, privileged: bool) -> int:
        """Write an exception frame word by word where the MPU allows it; the MMFSR bit to
        raise (MSTKERR, or MLSPERR for the FP part under lazy stacking), or 0 if all went in."""
        bad = self.nvic.mpu.refused_offsets(frame_sp, len(frame), RIGHT_W, privileged,
                                            self.access_state()[1])
        if not bad:
            return 0
        for off in range(0, len(frame), 4):
            if off not in bad:
                self.nat.mem_write(frame_sp + off, frame[off:off + 4])
        # metersim saves FP state eagerly; with lazy stacking (FPCCR.LSPEN) the hardware would
        # write the FP part later and report that as MLSPERR.
        if min(bad) >= 0x20 and self.nvic.fpccr & (1 << 30):
            return N.MMFSR_MLSPERR
        return N.MMFSR_MSTKERR

    def _vector(self, vtor: int, exc: int) -> int | None:
        """Vector of `exc`, read live at each entry; tables in read-only memory are cached."""
        key = (vtor, exc)
        v = self._vector_cache.get(key)
        if v is not None:
            return v
        v = self._read32(vtor + 4 * exc)
        region = self.machine.sysbus.region_at(vtor)
        if v is not None and region is not None and not region.writable:
            self._vector_cache[key] = v
        return v

    def invalidate_code_caches(self) -> None:
        """Flash content changed (programming, loading): forget cached vectors and opcodes."""
        self.code_generation += 1   # (the poll probe's copies of code pages)
        self._vector_cache.clear()
        self._wfi_at.clear()
        if self.bc is not None:
            self.bc.clear_cache()

    def _tail_chain(self, exc: int, exc_return: int) -> None:
        nat = self.nat
        nv = self.nvic
        vector = self._vector(nv.vtor, exc)
        if not vector:
            nv.hfsr |= N.HFSR_VECTTBL
            self._stop_with_fault(f"no vector for {N.exception_name(exc)}", 0)
            return
        nat.wr(A.UC_ARM_REG_XPSR, XPSR_T | exc)
        nat.wr(A.UC_ARM_REG_APSR_NZCV, 0)
        nat.wr(A.UC_ARM_REG_LR, exc_return)
        nat.wr(A.UC_ARM_REG_PC, vector | 1)
        nv.acknowledge(exc)
        self.ipsr = exc
        self.exceptions_taken += 1

    def _exception_return(self, exc_return: int) -> None:
        """EXC_RETURN branch (ARMv7-M B1.5.8), with tail-chaining."""
        nat = self.nat
        nv = self.nvic
        kind = exc_return & 0xF
        if self.ipsr == 0 or kind not in (0x1, 0x9, 0xD) or (exc_return & 0x10 == 0 and not self.has_fpu):
            self._fault(N.USAGEFAULT, N.UFSR_INVPC, return_pc=exc_return, in_hook=True)
            return
        # Rights granted at a negative priority (HardFault, NMI, FAULTMASK; the MPU's own map
        # when HFNMIENA is clear) end here.
        flush = self.mpu_guard.active and (self.ipsr in (N.HARDFAULT, N.NMI)
                                           or bool(self._rd_masks()[1]))
        nv.complete(self.ipsr)
        if flush:
            self.mpu_guard.flush()
        # Tail-chain: a pending exception that would preempt the context we return to.
        if nv.pending_set:
            pm, fm, bp = self._rd_masks()
            # The returning context's priority: remaining actives and masks (FAULTMASK clears
            # on return from anything but NMI).
            if fm and self.ipsr != N.NMI:
                nat.wr(A.UC_ARM_REG_FAULTMASK, 0)
                fm = 0
            exc = nv.pending_to_take(nv.execution_priority(pm, fm, bp))
            if exc is not None:
                self._tail_chain(exc, exc_return)
                return
        elif self.ipsr != N.NMI:
            nat.wr(A.UC_ARM_REG_FAULTMASK, 0)
        to_thread = bool(exc_return & 0x8)
        use_psp = bool(exc_return & 0x4)
        extended = not (exc_return & 0x10)
        msp, psp, control = self._rd_return()
        sp = psp if use_psp else msp
        size = 0x68 if extended else 0x20
        guard = self.mpu_guard
        if guard.active:
            # After the return FAULTMASK is clear (but from NMI), so only an active HardFault
            # or NMI keeps the priority negative.
            negative = bool(nv.active[N.HARDFAULT] or nv.active[N.NMI])
            if guard.mpu.refused_offsets(sp, size, RIGHT_R, not to_thread or not control & 1,
                                         negative):
                # The return is abandoned; the MemManage handler's frame returns to this
                # EXC_RETURN, so the return is tried again once the handler has fixed things.
                self._fault(N.MEMMANAGE, N.MMFSR_MUNSTKERR, return_pc=exc_return, in_hook=True)
                return
        raw = self._frame_buf
        if not nat.mem_read_into(sp, raw, size):
            nv.cfsr |= N.BFSR_UNSTKERR
            self._stop_with_fault(f"unstacking failed at SP 0x{sp:08x}", exc_return)
            return
        r0, r1, r2, r3, r12, lr, ret_pc, xpsr = struct.unpack_from("<8I", raw)
        new_sp = sp + size + (4 if xpsr & (1 << 9) and nv.ccr & 0x200 else 0)
        if extended:
            self._wr_fp(struct.unpack_from("<17I", raw, 0x20))
        xpsr_out = (xpsr & ~(1 << 9)) | XPSR_T
        if to_thread:
            want = (control & ~0x6) | (0x2 if use_psp else 0) | (0x4 if extended else 0)
            self._wr_ret_thread[A.UC_ARM_REG_PSP if use_psp else A.UC_ARM_REG_MSP](
                (r0, r1, r2, r3, r12, lr, control & ~0x1, xpsr_out & ~0x1FF, new_sp, want,
                 xpsr & 0xF0000000, ret_pc | 1))
            self.ipsr = 0
        else:
            if extended:
                nat.wr(A.UC_ARM_REG_CONTROL, control | 0x4)
            self._wr_ret_handler((r0, r1, r2, r3, r12, lr, new_sp, xpsr_out, xpsr & 0xF0000000,
                                  ret_pc | 1))
            self.ipsr = xpsr & 0x1FF

    # ================================================================ faults
    def _fault(self, exc: int, cfsr_bits: int, return_pc: int, bfar: int | None = None,
               mmfar: int | None = None, in_hook: bool = False, forced: bool = False) -> None:
        """Raise a fault the way the hardware would: status bits, escalation, lockup."""
        nv = self.nvic
        if self.v6m:
            # No configurable faults, no status registers (ARMv6-M B1.5.6): a HardFault.
            self.v6m_fault_cause |= cfsr_bits
            cfsr_bits, bfar, mmfar, forced = 0, None, None, False
            exc = N.HARDFAULT
        nv.cfsr |= cfsr_bits
        if bfar is not None:
            nv.bfar = bfar & 0xFFFFFFFF
        if mmfar is not None:
            nv.mmfar = mmfar & 0xFFFFFFFF
        prio = self._exec_priority()
        if exc != N.HARDFAULT and (not nv.exception_enabled(exc)
                                   or nv.group_priority(nv.prio[exc]) >= prio):
            exc = N.HARDFAULT
            forced = True
        if exc == N.HARDFAULT:
            if forced:
                nv.hfsr |= N.HFSR_FORCED
            if prio <= -1:
                self._stop_with_fault("lockup: fault while in HardFault/NMI or with FAULTMASK set",
                                      return_pc)
                return
        self.halted = False
        nv.pend(exc)
        # Inside a hook the PC write makes unicorn restart at the handler; at a slice
        # boundary the next slice starts there.
        self._enter(exc, return_pc)

    def _is_dead_end(self, vector: int) -> bool:
        """A handler that is a branch-to-self (`b .`) or a breakpoint: the fault is unhandled."""
        op = self._halfword(vector & ~1)
        return op == OP_B_SELF or (op >> 8) == 0xBE

    def _stop_with_fault(self, reason: str, fault_pc: int, entered: bool = False) -> None:
        from metersim._engine.fault_report import build_fault_report

        report = build_fault_report(self, reason, fault_pc, entered)
        self.fault = FirmwareFault(f"{self.machine.name}: firmware fault: {reason}", report)
        self.halted = True
        self.request_boundary()
        self.machine.on_fault(self.fault)
