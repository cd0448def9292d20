"""Fault reports: what a firmware developer needs when the firmware faults without handling it.

PC, LR, xPSR and SP of the faulting context (taken from the exception frame when the core had
already entered a dead-end handler such as `b .`), CFSR/HFSR decoded bit by bit, BFAR/MMFAR
when valid, the registers, and a backtrace symbolised from the ELF: the faulting PC, LR, then
return addresses found on the stack (words that point just after a BL/BLX in code).

A machine keeps every fault its core stopped on (`Machine.faults`, one FaultRecord each, in
order): a watchdog that brings the core back after a fault (Machine.on_fault) does not lose the
report, and a run with several crashes shows each.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from unicorn import UcError
from unicorn import arm_const as A

from metersim._errors import FirmwareFault
from metersim.peripherals.cortexm import nvic as N
from metersim._units import format_time


@dataclass(frozen=True)
class FaultRecord:
    """One fault a core stopped on: when (the core's time, ps), after how many resets of its
    machine (0: in the run from power-on), and the FirmwareFault with its report."""

    at_ps: int
    resets_before: int
    fault: FirmwareFault

    @property
    def report(self) -> str:
        return self.fault.report

    def __str__(self) -> str:
        return f"[{format_time(self.at_ps)}] {str(self.fault).splitlines()[0]}"

CFSR_BITS = [
    (0, "IACCVIOL", "instruction access violation (MPU)"),
    (1, "DACCVIOL", "data access violation (MPU)"),
    (3, "MUNSTKERR", "MemManage fault on unstacking"),
    (4, "MSTKERR", "MemManage fault on stacking"),
    (5, "MLSPERR", "MemManage fault during FP lazy state preservation"),
    (7, "MMARVALID", "MMFAR holds the faulting address"),
    (8, "IBUSERR", "instruction bus error (fetch from an invalid address)"),
    (9, "PRECISERR", "precise data bus error"),
    (10, "IMPRECISERR", "imprecise data bus error"),
    (11, "UNSTKERR", "BusFault on unstacking"),
    (12, "STKERR", "BusFault on stacking"),
    (13, "LSPERR", "BusFault during FP lazy state preservation"),
    (15, "BFARVALID", "BFAR holds the faulting address"),
    (16, "UNDEFINSTR", "undefined instruction"),
    (17, "INVSTATE", "invalid state (EPSR.T = 0 or bad IT)"),
    (18, "INVPC", "invalid PC load (bad EXC_RETURN)"),
    (19, "NOCP", "no coprocessor (FP instruction without an enabled FPU)"),
    (20, "STKOF", "stack overflow: SP below MSPLIM/PSPLIM (ARMv8-M)"),
    (24, "UNALIGNED", "unaligned access"),
    (25, "DIVBYZERO", "divide by zero"),
]
HFSR_BITS = [(1, "VECTTBL", "bus fault on vector table read"),
             (30, "FORCED", "escalated from a configurable fault"),
             (31, "DEBUGEVT", "debug event")]


def decode_bits(value: int, table) -> list[str]:
    return [f"{name} ({text})" for bit, name, text in table if value >> bit & 1]


def _u32(cpu, addr: int) -> int | None:
    try:
        return struct.unpack("<I", cpu.uc.mem_read(addr, 4))[0]
    except UcError:
        return None


def _is_after_call(cpu, ret: int, text_ranges) -> bool:
    """True if `ret` (Thumb, bit 0 set) follows a BL (32-bit) or BLX rN (16-bit)."""
    if not ret & 1:
        return False
    addr = ret & ~1
    if not any(lo <= addr <= hi for lo, hi in text_ranges):
        return False
    try:
        raw = bytes(cpu.uc.mem_read(addr - 4, 4))
    except UcError:
        return False
    hw1, hw2 = struct.unpack("<HH", raw)
    if (hw1 & 0xF800) == 0xF000 and (hw2 & 0xD000) == 0xD000:  # BL
        return True
    return (hw2 & 0xFF87) == 0x4780  # BLX rN


def build_fault_report(cpu, reason: str, fault_pc: int, entered: bool) -> str:
    nat = cpu.nat
    nv = cpu.nvic
    machine = cpu.machine
    fw = getattr(machine, "firmware", None)
    sym = fw.symbols.symbolize if fw is not None else (lambda a: f"0x{a:08x}")
    regs = {f"r{i}": nat.rd(getattr(A, f"UC_ARM_REG_R{i}")) for i in range(13)}
    lr = nat.rd(A.UC_ARM_REG_LR)
    xpsr = nat.rd(A.UC_ARM_REG_XPSR)
    msp = nat.rd(A.UC_ARM_REG_MSP)
    psp = nat.rd(A.UC_ARM_REG_PSP)
    control = nat.rd(A.UC_ARM_REG_CONTROL)
    sp = nat.rd(A.UC_ARM_REG_SP)
    pc = fault_pc
    handler = ""
    if entered:
        # We are at the entry of a dead-end handler: the faulting context is on the stack.
        handler = N.exception_name(cpu.ipsr)
        frame_sp = psp if (lr & 0xFFFFFFF0) in (0xFFFFFFF0, 0xFFFFFFE0) and lr & 4 else msp
        frame = [_u32(cpu, frame_sp + 4 * i) for i in range(8)]
        if None not in frame:
            for i, name in enumerate(["r0", "r1", "r2", "r3", "r12"]):
                regs[name] = frame[i]
            lr, pc, xpsr = frame[5], frame[6], frame[7]
            sp = frame_sp + 0x20
    lines = [f"=== firmware fault on {machine.name} at {format_time(cpu.now_ps())} ===",
             f"reason : {reason}" + (f" (handler {handler} is a dead end)" if handler else ""),
             f"PC     : 0x{pc:08x}  {sym(pc)}",
             f"LR     : 0x{lr:08x}  {sym(lr) if lr < 0xF0000000 else 'EXC_RETURN'}",
             f"xPSR   : 0x{xpsr:08x}  (IPSR {xpsr & 0x1FF}: {N.exception_name(xpsr & 0x1FF) if xpsr & 0x1FF else 'thread'})",
             f"SP     : 0x{sp:08x}  MSP 0x{msp:08x}  PSP 0x{psp:08x}  CONTROL 0x{control:x}"]
    if cpu.v6m:
        # ARMv6-M: every fault is a HardFault and no register tells the firmware why.
        cause = cpu.v6m_fault_cause | nv.cfsr
        lines.append(f"core   : {cpu.core} (ARMv6-M): no CFSR/HFSR, every fault is HardFault")
        lines.append("cause  : seen by metersim, not visible to the firmware"
                     + "".join(f"\n         - {d}" for d in decode_bits(cause, CFSR_BITS)))
        return _finish_report(cpu, lines, regs, pc, lr, sp, sym, fw)
    lines += [f"CFSR   : 0x{nv.cfsr:08x}" + "".join(f"\n         - {d}" for d in decode_bits(nv.cfsr, CFSR_BITS)),
              f"HFSR   : 0x{nv.hfsr:08x}" + "".join(f"\n         - {d}" for d in decode_bits(nv.hfsr, HFSR_BITS))]
    if nv.cfsr & N.UFSR_STKOF:
        lines.append(f"STKOF  : {cpu.core} (ARMv8-M) stack limit: the frame or SP update would "
                     f"have gone below {'PSPLIM' if control & 2 and not xpsr & 0x1FF else 'MSPLIM'}")
    if nv.cfsr & N.BFSR_BFARVALID:
        m = machine.sysbus.find_mapping(nv.bfar)
        where = f" ({m.name})" if m else " (nothing mapped there)"
        lines.append(f"BFAR   : 0x{nv.bfar:08x}{where}")
    if nv.cfsr & N.MMFSR_MMARVALID:
        lines.append(f"MMFAR  : 0x{nv.mmfar:08x}  {sym(nv.mmfar)}")
    if nv.cfsr & 0xFF:  # a MemManage status: show the MPU the firmware had set up
        mpu = nv.mpu
        lines.append(f"MPU    : {'on' if mpu.enabled else 'off'}, CTRL 0x{mpu.ctrl:x}"
                     + "".join(f"\n         {r}" for r in mpu.describe()))
    return _finish_report(cpu, lines, regs, pc, lr, sp, sym, fw)


def _finish_report(cpu, lines, regs, pc, lr, sp, sym, fw) -> str:
    lines.append("regs   : " + " ".join(f"{k}=0x{v:08x}" for k, v in list(regs.items())[:7]))
    lines.append("         " + " ".join(f"{k}=0x{v:08x}" for k, v in list(regs.items())[7:]))
    lines.append("backtrace:")
    lines.append(f"  #0 0x{pc:08x} {sym(pc)}")
    frames = [lr] if lr < 0xF0000000 else []
    text = fw.text_ranges if fw is not None else []
    for i in range(256):
        word = _u32(cpu, sp + 4 * i)
        if word is None:
            break
        if _is_after_call(cpu, word, text) and word not in frames:
            frames.append(word)
        if len(frames) >= 12:
            break
    for n, ret in enumerate(frames, 1):
        lines.append(f"  #{n} 0x{ret & ~1:08x} {sym(ret)}")
    lines.append(f"executed {cpu.instructions} instructions; "
                 f"{cpu.exceptions_taken} exceptions taken")
    return "\n".join(lines)
