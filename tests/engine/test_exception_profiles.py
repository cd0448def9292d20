"""The exception model a firmware sees on each architecture: ARMv6-M (Cortex-M0/M0+) has no
configurable faults, no fault status registers, 2 priority bits, word-only priority registers
and PRIMASK as its only mask; ARMv8-M mainline (Cortex-M33) checks MSPLIM/PSPLIM and reports a
stack overflow as a STKOF UsageFault. Small probes assembled here run on bare machines."""

from __future__ import annotations

import shutil
import struct
import subprocess
from functools import lru_cache

import pytest
from unicorn import arm_const as A

from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine
from metersim._errors import FirmwareFault

FLASH, CODE, STACK_TOP = 0x08000000, 0x08000100, 0x20001000
HANDLER = CODE + 0x80                      # HardFault's and UsageFault's vector
IPR0, SHPR2, SHCSR, CFSR, HFSR = 0xE000ED00 - 0x900, 0xE000ED1C, 0xE000ED24, 0xE000ED28, 0xE000ED2C
VTOR, CCR, CPUID, ISER0, ISPR0 = 0xE000ED08, 0xE000ED14, 0xE000ED00, 0xE000E100, 0xE000E200

needs_as = pytest.mark.skipif(shutil.which("arm-none-eabi-as") is None,
                              reason="arm-none-eabi-as (make setup) builds the probes")


@lru_cache(maxsize=None)
def assemble(source: str, cpu: str) -> bytes:
    """Thumb code for `source` at CODE (position-independent: literals are pc-relative)."""
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as d:
        s, o, b = Path(d, "p.s"), Path(d, "p.o"), Path(d, "p.bin")
        s.write_text(".syntax unified\n.thumb\n" + source + "\n")
        subprocess.run(["arm-none-eabi-as", f"-mcpu={cpu}", "-mthumb", str(s), "-o", str(o)],
                       check=True)
        subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", str(o), str(b)], check=True)
        return b.read_bytes()


def boot(core: str, main: str = "b .", handler: str = "b .") -> tuple[Emulation, Machine]:
    cpu = {"cortex-m0+": "cortex-m0plus"}.get(core, core)
    code = assemble(main, cpu)
    fault = assemble(handler, cpu)
    assert len(code) <= 0x80
    emu = Emulation(wall_guard_s=20.0)
    m = Machine.bare(emu, "m", core=core, console_address=None)
    vectors = bytearray(0x100)
    struct.pack_into("<II", vectors, 0, STACK_TOP, CODE | 1)
    for exc in (3, 6):                       # HardFault, UsageFault
        struct.pack_into("<I", vectors, 4 * exc, HANDLER | 1)
    struct.pack_into("<I", vectors, 4 * 16, (HANDLER + 0x40) | 1)   # IRQ0: r7 = 1; b .
    irq0 = assemble("movs r7, #1\nb .", cpu)
    image = bytes(vectors) + code.ljust(0x80, b"\0") + fault.ljust(0x40, b"\0") + irq0
    m.sysbus.write_memory(FLASH, image)
    m.finalize()
    m.reset_cpu_only()
    return emu, m


def r(m: Machine, n: int) -> int:
    return m.cpu.reg(getattr(A, f"UC_ARM_REG_R{n}"))


# A HardFault handler that reads what a v7-M fault handler would look at, then waits.
READ_FAULT_REGS = """
    ldr r4, =0xE000ED28
    ldr r4, [r4]          @ CFSR
    ldr r5, =0xE000ED2C
    ldr r5, [r5]          @ HFSR
    mrs r6, ipsr
    movs r7, #0x5A
    b .
"""


@needs_as
@pytest.mark.parametrize("core", ["cortex-m0", "cortex-m0+"])
def test_v6m_undefined_instruction_is_a_hardfault_with_no_status_registers(core):
    emu, m = boot(core, "movs r0, #1\nudf #0\nb .", READ_FAULT_REGS)
    emu.run_for("20us")
    assert (r(m, 7), r(m, 6)) == (0x5A, 3)           # the HardFault handler ran
    assert (r(m, 4), r(m, 5)) == (0, 0)             # CFSR, HFSR: reserved, read 0


@needs_as
def test_v7m_same_probe_reports_undefinstr_forced():
    emu, m = boot("cortex-m4", "movs r0, #1\nudf #0\nb .", READ_FAULT_REGS)
    emu.run_for("20us")
    assert (r(m, 6), r(m, 4), r(m, 5)) == (3, 1 << 16, 1 << 30)   # UNDEFINSTR, FORCED


@needs_as
def test_v6m_unaligned_word_load_is_a_hardfault():
    emu, m = boot("cortex-m0", "ldr r0, =0x20000001\nldr r1, [r0]\nmovs r2, #1\nb .",
                  READ_FAULT_REGS)
    emu.run_for("20us")
    assert (r(m, 6), r(m, 2)) == (3, 0)             # HardFault before the next instruction
    assert m.sysbus.read_word(CCR) == 0x208          # STKALIGN and UNALIGN_TRP, fixed


@needs_as
def test_v6m_fault_report_names_the_cause_the_firmware_cannot_see():
    emu, m = boot("cortex-m0", "udf #0\nb .")
    with pytest.raises(FirmwareFault) as exc:
        emu.run_for("20us")
    report = exc.value.report
    assert "no CFSR/HFSR, every fault is HardFault" in report
    assert "UNDEFINSTR (undefined instruction)" in report
    assert "CFSR   :" not in report and "HFSR   :" not in report


@needs_as
def test_v6m_fault_registers_shpr1_and_shcsr_enables_read_zero():
    _, m = boot("cortex-m0+")
    bus = m.sysbus
    for addr in (CFSR, HFSR, 0xE000ED34, 0xE000ED38, 0xE000ED18):   # ... MMFAR, BFAR, SHPR1
        bus.write_word(addr, 0xFFFFFFFF)
        assert bus.read_word(addr) == 0, hex(addr)
    bus.write_word(SHCSR, 0x70000)                   # MEM/BUS/USGFAULTENA do not exist
    assert bus.read_word(SHCSR) == 0
    assert bus.read_word(CPUID) == 0x410CC601        # Cortex-M0+ r0p1


@needs_as
def test_v6m_priorities_have_two_bits_and_take_word_writes_only():
    _, m = boot("cortex-m0")
    bus = m.sysbus
    bus.write_word(IPR0, 0xFFFFFFFF)
    assert bus.read_word(IPR0) == 0xC0C0C0C0
    bus.write_word(IPR0 + 1, 0x40, size=1)           # byte write: ignored on ARMv6-M
    bus.write_word(IPR0, 0x4000, size=2)             # halfword write: ignored too
    assert bus.read_word(IPR0) == 0xC0C0C0C0
    bus.write_word(SHPR2, 0xFFFFFFFF)                # only SVCall's priority exists
    assert bus.read_word(SHPR2) == 0xC0000000
    bus.write_word(SHPR2 + 4, 0xFFFFFFFF)            # SHPR3: PendSV, SysTick; no DebugMonitor
    assert bus.read_word(SHPR2 + 4) == 0xC0C00000
    # the same byte write lands on ARMv7-M
    _, m4 = boot("cortex-m4")
    m4.sysbus.write_word(IPR0 + 1, 0x40, size=1)
    assert m4.sysbus.read_word(IPR0) == 0x4000


@needs_as
@pytest.mark.parametrize("core, masked", [("cortex-m0", False), ("cortex-m4", True)])
def test_basepri_masks_on_v7m_only(core, masked):
    # IRQ0 at priority 0x80, BASEPRI 0x40: masked on v7-M; on v6-M BASEPRI does not exist.
    emu, m = boot(core, f"""
        ldr r0, ={IPR0:#x}
        ldr r1, =0x80
        str r1, [r0]
        ldr r0, ={ISER0:#x}
        movs r1, #1
        str r1, [r0]
        ldr r0, ={ISPR0:#x}
        str r1, [r0]
        b .""")
    m.cpu.set_reg(A.UC_ARM_REG_BASEPRI, 0x40)
    emu.run_for("20us")
    assert (r(m, 7) == 1) == (not masked)


@needs_as
def test_vtor_is_absent_on_m0_and_present_on_m0plus():
    _, m0 = boot("cortex-m0")
    m0.sysbus.write_word(VTOR, 0x20000000)
    assert m0.sysbus.read_word(VTOR) == 0
    _, m0p = boot("cortex-m0+")
    m0p.sysbus.write_word(VTOR, 0x20000000)
    assert m0p.sysbus.read_word(VTOR) == 0x20000000


STACK_OVERFLOW = """
    ldr r0, =0xE000ED24
    ldr r1, ={shcsr:#x}
    str r1, [r0]          @ SHCSR: UsageFault enabled or not
    ldr r0, =0x20000F00
    msr msplim, r0
    sub sp, sp, #0x200    @ below MSPLIM
    movs r2, #1
    b .
"""


@needs_as
def test_v8m_msplim_overflow_is_a_stkof_usagefault():
    emu, m = boot("cortex-m33", STACK_OVERFLOW.format(shcsr=1 << 18), READ_FAULT_REGS)
    emu.run_for("20us")
    assert (r(m, 6), r(m, 4), r(m, 5), r(m, 2)) == (6, 1 << 20, 0, 0)   # UsageFault, STKOF
    assert m.cpu.reg(A.UC_ARM_REG_MSP) >= 0x20000F00     # SP never went below the limit


@needs_as
def test_v8m_stack_overflow_unhandled_escalates_and_is_reported():
    emu, m = boot("cortex-m33", STACK_OVERFLOW.format(shcsr=0))
    with pytest.raises(FirmwareFault) as exc:
        emu.run_for("20us")
    report = exc.value.report
    assert "STKOF (stack overflow: SP below MSPLIM/PSPLIM (ARMv8-M))" in report
    assert "FORCED" in report and "below MSPLIM" in report
