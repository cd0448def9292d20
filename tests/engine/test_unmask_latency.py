"""An interrupt pended while masked is taken right after the instruction that unmasks it
(`cpsie i`), before the next instruction runs, as on a Cortex-M; and a block that merely
starts at an unmask site while the masks are still set neither stops nor stalls the core."""

import struct

from unicorn import arm_const as A

from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine

FLASH = 0x08000000
CODE = FLASH + 0x100
STACK_TOP = 0x20001000
ISER0, ISPR0 = 0xE000E100, 0xE000E200


def thumb(*halfwords: int) -> bytes:
    return struct.pack(f"<{len(halfwords)}H", *halfwords)


def boot_raw(code: bytes, handler_offset: int) -> tuple[Emulation, Machine]:
    """A bare M4 with `code` at CODE, IRQ0's vector at CODE + handler_offset."""
    emu = Emulation(wall_guard_s=20.0)
    m = Machine.bare(emu, "m", console_address=None)
    vectors = bytearray(0x100)
    struct.pack_into("<II", vectors, 0, STACK_TOP, CODE | 1)
    struct.pack_into("<I", vectors, 16 * 4, (CODE + handler_offset) | 1)  # IRQ0 = exception 16
    m.sysbus.write_memory(FLASH, bytes(vectors) + code)
    m.finalize()
    m.reset_cpu_only()
    return emu, m


# movs r2,#0; ldr r0,=ISER0; movs r1,#1; str r1,[r0]   IRQ0 enabled
# cpsid i; ldr r0,=ISPR0; str r1,[r0]                   IRQ0 pended while masked
# cpsie i                                               unmask ...
# SITE: adds r2,#1; adds r2,#1; b .                     ... r2 counts what ran after it
# HANDLER (0x16): mov r3,r2; b .
# literals at 0x1c, 0x20
UNMASK_PROGRAM = thumb(0x2200, 0x4806, 0x2101, 0x6001,
                       0xB672, 0x4805, 0x6001,
                       0xB662,
                       0x3201, 0x3201, 0xE7FE,
                       0x4613, 0xE7FE, 0xBF00) + struct.pack("<II", ISER0, ISPR0)
SITE = CODE + 0x10


def test_pended_interrupt_is_taken_before_the_instruction_after_cpsie():
    emu, m = boot_raw(UNMASK_PROGRAM, 0x16)
    m.cpu.add_unmask_hooks([SITE])
    emu.run_for("100us")
    cpu = m.cpu
    assert cpu.current_exception() == 16
    assert cpu.reg(A.UC_ARM_REG_R3) == 0, "instructions after cpsie ran before the interrupt"
    stacked_pc = struct.unpack("<I", m.sysbus.read_memory(cpu.reg(A.UC_ARM_REG_SP) + 24, 4))[0]
    assert stacked_pc == SITE


# movs r2,#0; ldr r0,=ISER0; movs r1,#1; str r1,[r0]; cpsid i; ldr r0,=ISPR0; str r1,[r0]
# LOOP (0x0e): adds r2,#1; b LOOP                       masked forever, IRQ0 pending
# HANDLER (0x12): b .
# literals at 0x14, 0x18
MASKED_LOOP = thumb(0x2200, 0x4804, 0x2101, 0x6001,
                    0xB672, 0x4803, 0x6001,
                    0x3201, 0xE7FD,
                    0xE7FE) + struct.pack("<II", ISER0, ISPR0)


def test_block_starting_at_a_site_while_masked_keeps_running():
    emu, m = boot_raw(MASKED_LOOP, 0x12)
    m.cpu.add_unmask_hooks([CODE + 0x0E])  # the loop head starts a block on every pass
    emu.run_for("1ms")
    cpu = m.cpu
    assert cpu.current_exception() == 0
    assert cpu.nvic.pending[16] == 1
    # 16 MHz for 1 ms: two instructions per pass, so thousands of passes were made
    assert cpu.reg(A.UC_ARM_REG_R2) > 5000
