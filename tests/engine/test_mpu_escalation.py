"""A MemManage fault the firmware has not enabled escalates to HardFault (FORCED) and keeps its
MMFSR bits and MMFAR; the fault report shows the regions (ARMv7-M B1.5.14, B3.2.15)."""

import struct

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine
from metersim._errors import FirmwareFault

FLASH, CODE, STACK_TOP = 0x08000000, 0x08000100, 0x20001000
MPU_CTRL, MPU_RBAR, MPU_RASR = 0xE000ED94, 0xE000ED9C, 0xE000EDA0
GUARDED = 0x20002000


def boot(code: bytes) -> tuple[Emulation, Machine]:
    emu = Emulation(wall_guard_s=20.0)
    m = Machine.bare(emu, "m", console_address=None)
    vectors = bytearray(0x100)
    struct.pack_into("<II", vectors, 0, STACK_TOP, CODE | 1)
    struct.pack_into("<I", vectors, 3 * 4, (CODE + 0xC) | 1)          # HardFault: b .
    m.sysbus.write_memory(FLASH, bytes(vectors) + code)
    m.finalize()
    m.reset_cpu_only()
    return emu, m


# ldr r0,[pc,#4]; ldr r1,[r0]; b .; nop; .word GUARDED+0x10; (HardFault at +0xC) b .
PROGRAM = struct.pack("<4HIH", 0x4801, 0x6801, 0xE7FE, 0xBF00, GUARDED + 0x10, 0xE7FE)


def guard(m: Machine) -> None:
    """1 KiB at GUARDED with no access for anyone; the rest on the privileged default map."""
    bus = m.sysbus
    bus.write_word(MPU_RBAR, GUARDED | 0x10 | 0)
    bus.write_word(MPU_RASR, (0b000 << 24) | (9 << 1) | 1)
    bus.write_word(MPU_CTRL, 0b101)                                   # ENABLE | PRIVDEFENA


def test_memmanage_disabled_escalates_to_a_forced_hardfault():
    emu, m = boot(PROGRAM)
    guard(m)
    with pytest.raises(FirmwareFault, match="unhandled HardFault") as err:
        emu.run_for("1ms")
    report = err.value.report
    assert "DACCVIOL" in report and "MMARVALID" in report and "FORCED" in report
    assert f"MMFAR  : 0x{GUARDED + 0x10:08x}" in report
    assert "region 0: 0x20002000 size 1024 AP=000" in report
    nvic = m["nvic"]
    assert nvic.cfsr & 0xFF == 0x82 and nvic.hfsr & (1 << 30)


def test_without_the_region_the_same_load_completes():
    emu, m = boot(PROGRAM)
    emu.run_for("1ms")
    assert m.cpu.fault is None and m.cpu.ipsr == 0
