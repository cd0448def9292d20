"""The engine's debug API: what a debugger (the GDB stub, the monitor's `cpu` commands, a test)
does to one machine, in virtual time and deterministically.

    dbg = Debugger.of(machine)            # one per machine
    dbg.add_breakpoint(machine.symbol("main"))
    stop = dbg.run(until_ps=emu.now_ps + PS_PER_S)    # StopReason("breakpoint", pc=...)
    dbg.add_watchpoint(machine.symbol("g_ticks"), 4, "write")
    dbg.step()                            # one instruction, interrupts held back
    dbg.read_register("pc"); dbg.write_memory(0x20000000, b"...")

- Breakpoints, any number, by address, work like the FPB's comparators: nothing is patched
  (flash stays as loaded); the core stops *before* the instruction, with the executed
  instruction count exact, so virtual time at the stop is exact. Resuming from the address
  the core stopped at executes that instruction first.
- Watchpoints (write, read, access) cover an address range and work like the DWT's: the core
  stops after the accessing instruction completes. Only CPU accesses trigger them (not
  exception stacking or host-side writes).
- `step()` executes one instruction in one cycle. By default pending interrupts are held back
  (what GDB users expect from `stepi`); `step(irqs=True)`, or `step_irqs = True`, lets one be
  taken first: the step then stops at the handler's first instruction. Stepping a core asleep
  in WFI/WFE lets virtual time run to its wake-up and stops before the first instruction run
  after it; when nothing can wake the core (no event scheduled, none within `max_sleep_ps`),
  the step returns StopReason("asleep") instead of waiting forever.
- `run()` runs the emulation until a breakpoint, a watchpoint, `halt()` or any other pause
  asked of the emulation (a `bkpt` in the firmware, a tester's pause on match, the monitor's
  `pause`), a firmware fault, or `until_ps`.
  Virtual time does not move between calls: a halted machine costs nothing.
- Registers by name (r0-r12, sp, lr, pc, xpsr, msp, psp, primask, basepri, faultmask, control,
  and d0-d15, fpscr on the M4F); system registers read and write in any privilege state.
- Memory through the system bus: RAM and flash directly; peripheral space with natural-size
  accesses through the models (reads may have side effects, as on the hardware).

Instructions inside an IT block run as one unit in unicorn: a breakpoint there triggers at the
start of the block.

- Block trace (what code coverage records): `start_block_trace()`, then `block_trace()` gives
  the set of (start address, size in bytes) of the code blocks the core ran since, each once.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from unicorn import (UC_HOOK_BLOCK, UC_HOOK_CODE, UC_HOOK_EDGE_GENERATED, UC_HOOK_MEM_READ,
                     UC_HOOK_MEM_WRITE)
from unicorn import arm_const as A

from metersim._errors import FirmwareFault, SetupError
from metersim._units import PS_PER_S

_REGS = {**{f"r{i}": getattr(A, f"UC_ARM_REG_R{i}") for i in range(13)},
         "sp": A.UC_ARM_REG_SP, "lr": A.UC_ARM_REG_LR, "pc": A.UC_ARM_REG_PC,
         "xpsr": A.UC_ARM_REG_XPSR, "msp": A.UC_ARM_REG_MSP, "psp": A.UC_ARM_REG_PSP,
         "primask": A.UC_ARM_REG_PRIMASK, "basepri": A.UC_ARM_REG_BASEPRI,
         "faultmask": A.UC_ARM_REG_FAULTMASK, "control": A.UC_ARM_REG_CONTROL}
_FP_REGS = {"fpscr": A.UC_ARM_REG_FPSCR, **{f"d{i}": getattr(A, f"UC_ARM_REG_D{i}")
                                            for i in range(16)}}
_ALIASES = {"r13": "sp", "r14": "lr", "r15": "pc", "psr": "xpsr"}
_SYSTEM = ("msp", "psp", "primask", "basepri", "faultmask", "control")
WATCH_ACCESS = ("write", "read", "access")
_WATCH_HOOKS = {"write": UC_HOOK_MEM_WRITE, "read": UC_HOOK_MEM_READ,
                "access": UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE}
#: How long a step may let a sleeping core wait for its wake-up, in virtual time.
MAX_SLEEP_PS = PS_PER_S


@dataclass(frozen=True)
class StopReason:
    """Why the core stopped.

    kind: "breakpoint", "watchpoint" (`access` is "write"/"read"/"access", `address` the
    watched byte accessed), "step", "asleep" (a step found the core in WFI with nothing to wake
    it), "stopped" (`halt()` or another pause), "fault" (`fault` holds it), "time"
    (`until_ps` reached)."""
    kind: str
    pc: int
    address: int | None = None
    access: str | None = None
    fault: FirmwareFault | None = None


class Debugger:
    """Debug access to one machine (see the module docstring). `Debugger.of(machine)`."""

    _instances: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, machine) -> "Debugger":
        dbg = cls._instances.get(machine)
        if dbg is None:
            dbg = cls._instances[machine] = cls(machine)
        return dbg

    def __init__(self, machine):
        self.machine = machine
        self.emulation = machine.emulation
        self.cpu = machine.cpu
        self.step_irqs = False
        self.max_sleep_ps = MAX_SLEEP_PS
        self._bp_hooks: dict[int, int] = {}
        self._watch_hooks: dict[tuple[int, int, str], int] = {}
        self._stop: StopReason | None = None
        self._skip: tuple[int, int] | None = None   # (pc, instructions): resume past this one
        self._resume_pc: int | None = None          # where the last reported stop left the core
        self._code_stop = False
        self._trace_hook: int | None = None
        self._first_hook: int | None = None
        self._blocks: set[tuple[int, int]] = set()
        self._exact_held = 0

    # ================================================================ state
    @property
    def pc(self) -> int:
        return self.cpu.nat.rd(A.UC_ARM_REG_PC) & ~1

    @property
    def asleep(self) -> bool:
        """Sleeping in WFI/WFE (and not stopped by a fault)."""
        return self.cpu.halted and self.cpu.fault is None

    @property
    def fault(self) -> FirmwareFault | None:
        return self.cpu.fault

    @property
    def has_fpu(self) -> bool:
        return self.cpu.has_fpu

    def counters(self) -> dict:
        """Virtual time (ps), core frequency, cycles, instructions and idle cycles."""
        cpu = self.cpu
        return {"time_ps": self.emulation.now_ps, "freq_hz": cpu.freq_hz,
                "cycles": cpu.cycles_now(), "instructions": cpu.instructions,
                "idle_cycles": cpu.idle_cycles}

    # ================================================================ breakpoints
    @property
    def breakpoints(self) -> list[int]:
        return sorted(self._bp_hooks)

    def add_breakpoint(self, address: int) -> None:
        address &= ~1
        if address in self._bp_hooks:
            return
        uc = self.cpu.uc
        self._bp_hooks[address] = uc.hook_add(UC_HOOK_CODE, self._on_breakpoint, begin=address,
                                              end=address)
        self._sync_exact()
        uc.ctl_remove_cache(address, address + 4)   # hooks apply when code is translated

    def remove_breakpoint(self, address: int) -> bool:
        hook = self._bp_hooks.pop(address & ~1, None)
        if hook is None:
            return False
        self.cpu.uc.hook_del(hook)
        self.cpu.uc.ctl_remove_cache(address & ~1, (address & ~1) + 4)
        self._sync_exact()
        return True

    # ================================================================ watchpoints
    @property
    def watchpoints(self) -> list[tuple[int, int, str]]:
        """(address, length, access) of each watchpoint."""
        return sorted(self._watch_hooks)

    def add_watchpoint(self, address: int, length: int, access: str = "write") -> None:
        if access not in WATCH_ACCESS:
            raise SetupError(f"watchpoint access {access!r}: expected one of "
                             f"{', '.join(WATCH_ACCESS)}")
        length = max(int(length), 1)
        key = (address, length, access)
        if key in self._watch_hooks:
            return
        # Accesses are at most 4 bytes: start 3 bytes early to catch overlapping ones.
        self._watch_hooks[key] = self.cpu.uc.hook_add(
            _WATCH_HOOKS[access], self._on_watch, user_data=key, begin=max(address - 3, 0),
            end=address + length - 1)
        self._sync_exact()

    def remove_watchpoint(self, address: int, length: int, access: str = "write") -> bool:
        hook = self._watch_hooks.pop((address, max(int(length), 1), access), None)
        if hook is None:
            return False
        self.cpu.uc.hook_del(hook)
        self._sync_exact()
        return True

    def clear(self) -> None:
        """Remove every breakpoint and watchpoint."""
        for addr in list(self._bp_hooks):
            self.remove_breakpoint(addr)
        for key in list(self._watch_hooks):
            self.remove_watchpoint(*key)

    # ================================================================ block trace
    @property
    def block_tracing(self) -> bool:
        """Whether a block trace is recording."""
        return self._trace_hook is not None

    def start_block_trace(self) -> None:
        """Record the code blocks the core runs from now on (see `block_trace`); the blocks
        recorded so far are kept. Nothing is hooked while no trace runs.

        Blocks are recorded when unicorn translates them (UC_HOOK_EDGE_GENERATED), which it
        does just before their first run: the cost is per translation, not per execution.
        So the translation cache is flushed here. unicorn reports a translation only once its
        core has run a block, so the block at the PC is caught by a one-shot block hook (the
        kind the engine uses for unmask sites: instruction counts stay exact). A block cut
        short by a fault counts whole."""
        if self._trace_hook is not None:
            return
        if self.cpu.in_slice:   # the flush would pull the running code from under the core
            raise SetupError("start a block trace between runs, not from inside one")
        uc = self.cpu.uc
        uc.ctl_flush_tb()
        self._trace_hook = uc.hook_add(UC_HOOK_EDGE_GENERATED, self._on_block_generated)
        pc = self.pc
        self._first_hook = uc.hook_add(UC_HOOK_BLOCK, self._on_first_block, begin=pc, end=pc)

    def stop_block_trace(self) -> set[tuple[int, int]]:
        """Stop recording; returns the blocks recorded (kept until `clear_block_trace`)."""
        if self._trace_hook is not None:
            self.cpu.uc.hook_del(self._trace_hook)   # called at translation only: no flush
            self._trace_hook = None
        self._drop_first_hook()
        return set(self._blocks)

    def block_trace(self) -> set[tuple[int, int]]:
        """(start address, size in bytes) of every code block run while tracing, each once."""
        return set(self._blocks)

    def clear_block_trace(self) -> None:
        """Forget the blocks recorded so far."""
        self._blocks = set()

    def _on_block_generated(self, uc, tb, _prev, _ud) -> None:
        if tb.size:
            self._blocks.add((tb.pc, tb.size))

    def _on_first_block(self, uc, address, size, _ud) -> None:
        if size:
            self._blocks.add((address, size))
        self._drop_first_hook()

    def _drop_first_hook(self) -> None:
        if self._first_hook is not None:
            self.cpu.uc.hook_del(self._first_hook)
            self._first_hook = None

    def _sync_exact(self) -> None:
        # Code hooks and stops "after this instruction" need unicorn's per-instruction count:
        # the core runs in its exact mode while any breakpoint or watchpoint is set.
        self.cpu.exact_users += (len(self._bp_hooks) + len(self._watch_hooks)) - self._exact_held
        self._exact_held = len(self._bp_hooks) + len(self._watch_hooks)

    # ================================================================ hooks
    def _on_breakpoint(self, uc, address, size, _ud) -> None:
        if self._skip is not None:
            pc, count = self._skip
            if address == pc and self.cpu.instructions + self.cpu.nat.executed - 1 == count:
                return  # resuming from this breakpoint: its instruction runs first
        self._stop = StopReason("breakpoint", address)
        self._halt_before_current()

    def _on_any_instruction(self, uc, address, size, _ud) -> None:
        if self._stop is None:
            self._stop = StopReason("step", address)
        self._halt_before_current()

    def _halt_before_current(self) -> None:
        """From a code hook: stop before the hooked instruction executes, count exact.

        unicorn's count hook has already counted this instruction (it runs first), so the
        slice limit becomes the instructions really executed; emu_stop then ends the slice
        before the instruction (unicorn checks for exit requests after code hooks)."""
        nat = self.cpu.nat
        self.emulation.request_stop()
        nat._limit.value = max(nat.executed - 1, 0)
        self.cpu.uc.emu_stop()
        self._code_stop = True

    def _on_watch(self, uc, access, address, size, value, key) -> None:
        start, length, kind = key
        if address >= start + length or address + size <= start:
            return
        if self._stop is None:
            self._stop = StopReason("watchpoint", self.pc, max(address, start), kind)
            self.emulation.request_stop()  # ends the slice after this instruction

    # ================================================================ execution
    def run(self, until_ps: int) -> StopReason:
        """Run the emulation until a stop (see StopReason) or virtual time `until_ps`."""
        if self.cpu.fault is not None:
            return self._report(StopReason("fault", self.pc, fault=self.cpu.fault))
        self._begin(skip_current=self.pc == self._resume_pc)
        emu = self.emulation
        try:
            # A pause asked of the emulation ends the run too (the engine's run loop would
            # otherwise go on while a stop condition is given).
            stopped = emu.run_until_time(max(until_ps, emu.now_ps),
                                         lambda: self._stop is not None or emu._stop_requested)
        except FirmwareFault as e:
            return self._end(StopReason("fault", self.pc, fault=e))
        if self._stop is None and stopped:
            self._stop = StopReason("stopped", self.pc)
        return self._end(self._stop or StopReason("time", self.pc))

    def halt(self) -> None:
        """Stop a run at the next instruction boundary (from a model's event, a tester, or
        another thread); the run returns StopReason("stopped")."""
        self.emulation.request_stop()

    def step(self, irqs: bool | None = None) -> StopReason:
        """Execute one instruction (see the module docstring)."""
        if self.cpu.fault is not None:
            return self._report(StopReason("fault", self.pc, fault=self.cpu.fault))
        irqs = self.step_irqs if irqs is None else irqs
        self._begin(skip_current=True)
        try:
            if self.cpu.halted:
                self._step_asleep()
            else:
                self._step_awake(irqs)
        except FirmwareFault as e:
            return self._end(StopReason("fault", self.pc, fault=e))
        return self._end(self._stop or StopReason("step", self.pc))

    def _begin(self, skip_current: bool) -> None:
        self._stop = None
        self._code_stop = False
        pc = self.pc
        self._skip = (pc, self.cpu.instructions) if skip_current and pc in self._bp_hooks \
            else None

    def _end(self, reason: StopReason) -> StopReason:
        self._skip = None
        self._stop = None
        if self._code_stop:
            # Stopped before an instruction, so the core is awake. (The engine takes an early
            # slice end at the instruction after a `wfi` for the WFI itself.)
            self.cpu.halted = False
            self._code_stop = False
        return self._report(reason)

    def _report(self, reason: StopReason) -> StopReason:
        self._resume_pc = None if reason.kind == "time" else self.pc
        return reason

    def _one_cycle_ps(self) -> int:
        """Time at which the core has executed one more cycle (ceil: exact for any clock)."""
        cpu = self.cpu
        c = cpu.cycles + 1
        t = cpu.time_at_cycles(c)
        if cpu.cycles_at_time(t) < c:
            t += 1
        return max(t, self.emulation.now_ps)

    def _step_awake(self, irqs: bool) -> None:
        cpu = self.cpu
        emu = self.emulation
        nvic = cpu.nvic
        if irqs and nvic.pending_set:
            taken = cpu.exceptions_taken
            now = emu.now_ps
            cpu.run_until(now, lambda: now)  # takes a pending interrupt, runs nothing
            if cpu.exceptions_taken != taken:
                self._stop = StopReason("step", self.pc)
                return
        hidden = None
        if not irqs:
            hidden, nvic.pending_set = nvic.pending_set, set()
            nvic.refresh_summary()
        try:
            emu.run_until_time(self._one_cycle_ps(), lambda: self._stop is not None)
        finally:
            if hidden is not None:
                # Interrupts that became pending (or were cleared) meanwhile are in `pending`.
                nvic.pending_set = {e for e in hidden | nvic.pending_set if nvic.pending[e]}
                nvic.refresh_summary()

    def _step_asleep(self) -> None:
        """Let virtual time run to the wake-up (at most max_sleep_ps) and stop before the
        first instruction executed after it; StopReason("asleep") if nothing woke the core."""
        emu = self.emulation
        if not self.cpu.nvic.pending_set and emu.clock.next_event_ps() is None \
                and self.cpu.machine.clock.next_event_ps() is None:
            self._stop = StopReason("asleep", self.pc)
            return
        uc = self.cpu.uc
        hook = uc.hook_add(UC_HOOK_CODE, self._on_any_instruction, begin=1, end=0)
        uc.ctl_flush_tb()
        self.cpu.exact_users += 1
        try:
            emu.run_until_time(emu.now_ps + self.max_sleep_ps, lambda: self._stop is not None)
        finally:
            self.cpu.exact_users -= 1
            uc.hook_del(hook)
            uc.ctl_flush_tb()  # translated blocks would keep calling the deleted hook
        if self._stop is None:
            self._stop = StopReason("asleep", self.pc)

    # ================================================================ registers
    def register_names(self) -> list[str]:
        return list(_REGS) + (list(_FP_REGS) if self.cpu.has_fpu else [])

    def _reg_id(self, name: str) -> tuple[str, int]:
        key = _ALIASES.get(name.lower(), name.lower())
        reg = _REGS.get(key)
        if reg is None and self.cpu.has_fpu:
            reg = _FP_REGS.get(key)
        if reg is None:
            raise SetupError(f"unknown register {name!r}; expected one of "
                             f"{', '.join(self.register_names())}")
        return key, reg

    def read_register(self, name: str) -> int:
        key, reg = self._reg_id(name)
        nat = self.cpu.nat
        if key.startswith("d"):
            return self.cpu.uc.reg_read(reg)
        if key in _SYSTEM:
            with self._privileged():
                return nat.rd(reg)
        return nat.rd(reg) & ~1 if key == "pc" else nat.rd(reg)

    def read_registers(self) -> dict[str, int]:
        return {name: self.read_register(name) for name in self.register_names()}

    def write_register(self, name: str, value: int) -> None:
        key, reg = self._reg_id(name)
        cpu, nat = self.cpu, self.cpu.nat
        if key == "pc":
            if (value & ~1) != (nat.rd(reg) & ~1):
                cpu.halted = False  # execution redirected: the core no longer sleeps
            nat.wr(reg, value | 1)  # Thumb state lives in EPSR.T, keep it
        elif key == "xpsr":
            # Flags only: IPSR is the engine's exception state, EPSR.T must stay set.
            nat.wr(A.UC_ARM_REG_XPSR_NZCVQG, value)
            nat.wr(A.UC_ARM_REG_APSR_NZCV, value)
        elif key == "control":
            if not nat.rd(A.UC_ARM_REG_XPSR) & 0x1FF and nat.rd(reg) & 1:
                with self._privileged():  # drop nPRIV first, then SPSEL can change too
                    nat.wr(reg, nat.rd(reg) & ~1)
            nat.wr(reg, value & 0x7)
            nat.wr(A.UC_ARM_REG_APSR_NZCV, nat.rd(A.UC_ARM_REG_XPSR))
        elif key in _SYSTEM:
            with self._privileged():
                nat.wr(reg, value)
        elif key.startswith("d"):
            cpu.uc.reg_write(reg, value)
        else:
            nat.wr(reg, value)

    class _Privileged:
        """Unprivileged thread mode reads MSP/PSP as 0 and ignores MSR writes (unicorn follows
        ARMv7-M); pass through handler mode for the access, as the engine's reset does."""

        def __init__(self, nat):
            self.nat = nat
            self.xpsr = None

        def __enter__(self):
            nat = self.nat
            xpsr = nat.rd(A.UC_ARM_REG_XPSR)
            if not (xpsr & 0x1FF) and nat.rd(A.UC_ARM_REG_CONTROL) & 1:
                self.xpsr = xpsr
                nat.wr(A.UC_ARM_REG_XPSR, (xpsr & ~0x1FF) | 3)

        def __exit__(self, *exc):
            if self.xpsr is not None:
                self.nat.wr(A.UC_ARM_REG_XPSR, self.xpsr)
                self.nat.wr(A.UC_ARM_REG_APSR_NZCV, self.xpsr)  # rebuilds unicorn's hflags
            return False

    def _privileged(self):
        return self._Privileged(self.cpu.nat)

    # ================================================================ memory
    def read_memory(self, address: int, length: int) -> bytes:
        """Bytes at `address`; MetersimError where nothing is mapped."""
        bus = self.machine.sysbus
        if length <= 0:
            return b""
        if bus.region_at(address) is not None and bus.region_at(address + length - 1) is not None:
            return bus.read_memory(address, length)
        out = bytearray()
        a, end = address, address + length
        while a < end:
            if bus.region_at(a) is not None:
                n = 1
                out += bus.read_memory(a, 1)
            else:
                n = 4 if a % 4 == 0 and end - a >= 4 else 2 if a % 2 == 0 and end - a >= 2 else 1
                out += bus.read_word(a, n).to_bytes(n, "little")
            a += n
        return bytes(out)

    def write_memory(self, address: int, data: bytes) -> None:
        """Write `data` (flash too, as a debug probe does); code there is retranslated."""
        if not data:
            return
        bus = self.machine.sysbus
        if bus.region_at(address) is not None and \
                bus.region_at(address + len(data) - 1) is not None:
            bus.write_memory(address, data)
        else:
            a, i = address, 0
            while i < len(data):
                if bus.region_at(a) is not None:
                    n = 1
                    bus.write_memory(a, data[i:i + 1])
                else:
                    n = 4 if a % 4 == 0 and len(data) - i >= 4 else \
                        2 if a % 2 == 0 and len(data) - i >= 2 else 1
                    bus.write_word(a, int.from_bytes(data[i:i + n], "little"), n)
                a += n
                i += n
        self.cpu.uc.ctl_remove_cache(address, address + len(data))
        self.cpu.invalidate_code_caches()

    # ================================================================ reset
    def reset(self) -> None:
        """Reset the machine; the core stays halted at the reset vector."""
        self.machine.reset()
        self._resume_pc = None
