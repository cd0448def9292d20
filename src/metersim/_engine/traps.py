"""Architecture traps unicorn 2.1.4 does not take, added by the engine (ARMv7-M B3.2.8, B3.2.15).

- CCR.DIV_0_TRP: SDIV/UDIV by zero is a DIVBYZERO UsageFault (unicorn returns 0).
- CPACR: with CP10/CP11 denied (the reset value) or privileged-only in unprivileged code, an FP
  instruction is a NOCP UsageFault (unicorn lets the Cortex-M4F's FPU run regardless).
- CCR.UNALIGN_TRP: an unaligned halfword or word access is an UNALIGNED UsageFault.
- LDREX/STREX (and their byte/halfword forms) at an unaligned address always fault: unicorn
  raises a data abort for them, which the core turns into UNALIGNED.

Nothing here costs anything while the firmware leaves the traps off. When DIV_0_TRP is on, or
CPACR keeps the FPU closed, the divide or FP instructions of the loaded code become unicorn
*exits*: the core stops in front of one, and `at_exit` decides: fault, or run that one
instruction (a division is computed here; anything else is stepped by unicorn with its exit
lifted). Divide and FP sites are found by scanning the executable segments of the firmware.
While UNALIGN_TRP is on, a memory hook checks every data access (slow: firmware normally sets
UNALIGN_TRP only to find such accesses).

Limits: with UNALIGN_TRP off, unaligned LDM/STM/LDRD/STRD are not trapped (unicorn performs
them). With CPACR giving the FPU to privileged code only (CP10 = 01), every FP instruction that
privileged code executes is stepped on its own (slow; firmware normally opens the FPU fully).
"""

from __future__ import annotations

from unicorn import UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE, UC_MEM_WRITE
from unicorn import arm_const as A
from unicorn.unicorn_py3.unicorn import uclib as _uclib

from metersim.peripherals.cortexm import nvic as N

_REGS = [getattr(A, f"UC_ARM_REG_R{i}") for i in range(13)] + [A.UC_ARM_REG_SP,
                                                                 A.UC_ARM_REG_LR, A.UC_ARM_REG_PC]


def is_divide(hw1: int, hw2: int) -> bool:
    """SDIV (FB9n Fdfm) or UDIV (FBBn Fdfm), Thumb-2 T1."""
    return (hw1 & 0xFFD0) == 0xFB90 and (hw2 & 0xF0F0) == 0xF0F0


def is_fp(hw1: int, hw2: int) -> bool:
    """A coprocessor instruction for CP10/CP11 (VFP and its loads, stores and moves)."""
    return (hw1 & 0xEC00) == 0xEC00 and (hw1 >> 8) != 0xFF and (hw2 & 0x0E00) == 0x0A00


def scan_sites(segments, match) -> set[int]:
    """Addresses of the halfword pairs in the executable segments that `match`. A pair that is
    really the tail of another instruction is harmless: execution never starts there."""
    sites = set()
    for base, data in segments:
        n = len(data) - 3
        for i in range(0, max(n, 0), 2):
            if match(data[i] | data[i + 1] << 8, data[i + 2] | data[i + 3] << 8):
                sites.add(base + i)
    return sites


class Traps:
    def __init__(self, cpu):
        self.cpu = cpu
        self.uc = cpu.uc
        self.div_sites: set[int] = set()
        self.fp_sites: set[int] = set()
        self._exits: frozenset[int] = frozenset()
        self._align_hook = None
        self.align_fault: tuple[int, int] | None = None      # (address, pc)
        self._undo: tuple[int, bytes] | None = None

    def scan(self, fw) -> None:
        segs = list(fw.executable_bytes())
        self.cpu.mpu_guard.scan(segs)
        self.div_sites |= scan_sites(segs, is_divide)
        if self.cpu.has_fpu:
            self.fp_sites |= scan_sites(segs, is_fp)
        self.update()

    # -- which traps are armed ---------------------------------------------------------------
    def _cp10(self) -> int:
        return (self.cpu.nvic.cpacr >> 20) & 3

    def update(self) -> None:
        nv = self.cpu.nvic
        if nv is None:
            return
        want = set()
        if nv.ccr & N.CCR_DIV_0_TRP:
            want |= self.div_sites
        if self.cpu.has_fpu and self._cp10() != 3:
            want |= self.fp_sites
        if frozenset(want) != self._exits:
            self._set_exits(frozenset(want))
        align = bool(nv.ccr & N.CCR_UNALIGN_TRP)
        if align and self._align_hook is None:
            self._align_hook = self.uc.hook_add(UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE,
                                                self._on_access)
            self.uc.ctl_flush_tb()
        elif not align and self._align_hook is not None:
            self.uc.hook_del(self._align_hook)
            self._align_hook = None
            self.uc.ctl_flush_tb()      # drop the slow-path code generated for the hook

    def _set_exits(self, sites: frozenset[int]) -> None:
        uc = self.uc
        if sites:
            uc.ctl_exits_enabled(True)
            # 0 keeps the meaning emu_start(until=0) has without exits: never reached.
            uc.ctl_set_exits(sorted(sites | {0}))
        elif self._exits:
            uc.ctl_set_exits([0])
            uc.ctl_exits_enabled(False)
        self._exits = sites
        uc.ctl_flush_tb()               # exits are seen when code is translated

    @property
    def armed(self) -> bool:
        return bool(self._exits)

    # -- the core stopped in front of an exit ---------------------------------------------------
    def at_exit(self, pc: int) -> bool:
        """The core stopped at `pc`. Handle it if it is a trap site; False if it is not one."""
        if pc not in self._exits:
            return False
        cpu = self.cpu
        code = cpu.read_code(pc, 4)
        hw1, hw2 = code[0] | code[1] << 8, code[2] | code[3] << 8
        if pc in self.fp_sites and is_fp(hw1, hw2):
            cp10 = self._cp10()
            if cp10 == 0 or (cp10 == 1 and not cpu.is_privileged()):
                cpu.raise_usage_fault(N.UFSR_NOCP, pc)
            else:
                self._step_over(pc)
            return True
        if pc in self.div_sites and is_divide(hw1, hw2):
            if self._in_it_block():
                self._step_over(pc)      # conditional: let unicorn decide and advance ITSTATE
                return True
            nat = cpu.nat
            rn, rd, rm = hw1 & 0xF, (hw2 >> 8) & 0xF, hw2 & 0xF
            den = nat.rd(_REGS[rm])
            if den == 0:
                cpu.raise_usage_fault(N.UFSR_DIVBYZERO, pc)
                return True
            num = nat.rd(_REGS[rn])
            if hw1 & 0x20:               # UDIV
                q = num // den
            else:
                sn = num - (1 << 32) if num >> 31 else num
                sd = den - (1 << 32) if den >> 31 else den
                q = abs(sn) // abs(sd) * (1 if (sn < 0) == (sd < 0) else -1)
            nat.wr(_REGS[rd], q)
            nat.wr(A.UC_ARM_REG_PC, (pc + 4) | 1)
            cpu.count_executed(1)
            return True
        self._step_over(pc)
        return True

    def _in_it_block(self) -> bool:
        xpsr = self.cpu.nat.rd(A.UC_ARM_REG_XPSR)
        return bool((xpsr >> 25) & 3 or (xpsr >> 10) & 0x3F)

    def _step_over(self, pc: int) -> None:
        """Run the one instruction at the exit `pc` with its exit lifted."""
        uc = self.uc
        others = sorted((self._exits - {pc}) | {0})
        uc.ctl_set_exits(others)
        uc.ctl_remove_cache(pc, pc + 4)
        self.cpu.run_one_instruction()
        uc.ctl_set_exits(sorted(self._exits | {0}))
        uc.ctl_remove_cache(pc, pc + 4)

    # -- UNALIGN_TRP --------------------------------------------------------------------------
    def _on_access(self, uc, access, address, size, value, _ud) -> None:
        if size > 1 and address & (size - 1) and self.align_fault is None:
            self.align_fault = (address, self.cpu.pc)
            try:
                old = bytes(uc.mem_read(address, size)) if access == UC_MEM_WRITE else None
            except Exception:  # noqa: BLE001 - MMIO: nothing to restore
                old = None
            self._undo = (address, old) if old is not None else None
            _uclib.uc_emu_stop(uc._uch)

    def undo_faulted_store(self) -> None:
        """A store the trap stopped still reached memory (unicorn's hook runs before it):
        put the old bytes back so the faulting instruction has had no effect."""
        undo, self._undo = self._undo, None
        if undo is not None:
            addr, old = undo
            try:
                self.uc.mem_write(addr, old)
            except Exception:  # noqa: BLE001 - an MMIO store cannot be undone
                pass
