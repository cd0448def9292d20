"""System bus: memory aliases, MMIO page dispatch, tagged regions, bit-band, overlaps, ELF errors."""

import logging

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.loader import load_elf
from metersim._engine.machine import Machine
from metersim._errors import PlatformError, SetupError
from metersim.peripherals.base import Context, Peripheral


class Recorder(Peripheral):
    size = 0x100

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self.regs = {}

    def read(self, offset, size):
        return self.regs.get(offset, 0xA5A5A5A5 ^ offset)

    def write(self, offset, size, value):
        self.regs[offset] = value


@pytest.fixture
def machine():
    emu = Emulation()
    return Machine.bare(emu, "m", console_address=None)


def test_flash_alias_at_zero_shares_bytes(machine):
    machine.sysbus.write_memory(0x08000010, b"\x12\x34\x56\x78")
    assert machine.sysbus.read_memory(0x00000010, 4) == b"\x12\x34\x56\x78"
    assert machine.cpu.uc.mem_read(0x10, 4) == b"\x12\x34\x56\x78"


def test_two_small_peripherals_in_one_page_are_dispatched_by_offset(machine):
    a = machine.add("a", Recorder(machine.context("a")), 0x50000000, 0x100)
    b = machine.add("b", Recorder(machine.context("b")), 0x50000100, 0x100)
    machine.finalize()
    machine.sysbus.write_word(0x50000104, 7)
    machine.sysbus.write_word(0x50000004, 9)
    assert b.regs == {4: 7} and a.regs == {4: 9}
    # the CPU path goes through unicorn's MMIO callbacks and the same page table
    assert machine.cpu.uc.mem_read(0x50000104, 4) == (7).to_bytes(4, "little")


def test_overlapping_registrations_are_refused(machine):
    machine.add("a", Recorder(machine.context("a")), 0x50000000, 0x100)
    with pytest.raises(PlatformError, match="overlaps 'a'"):
        machine.add("b", Recorder(machine.context("b")), 0x500000F0, 0x100)


def test_bitband_alias_sets_and_clears_single_sram_bits(machine):
    machine.finalize()
    sram = 0x20000100
    machine.sysbus.write_memory(sram, b"\x00\x00\x00\x00")
    alias = 0x22000000 + (sram - 0x20000000) * 32 + 5 * 4     # bit 5 of byte 0
    machine.cpu.uc.mem_write(alias, (1).to_bytes(4, "little"))
    assert machine.sysbus.read_memory(sram, 1) == b"\x20"
    alias9 = 0x22000000 + (sram - 0x20000000) * 32 + 9 * 4    # bit 1 of byte 1
    machine.cpu.uc.mem_write(alias9, (1).to_bytes(4, "little"))
    assert machine.sysbus.read_memory(sram, 2) == b"\x20\x02"
    assert int.from_bytes(machine.cpu.uc.mem_read(alias9, 4), "little") == 1
    machine.cpu.uc.mem_write(alias, (0).to_bytes(4, "little"))
    assert machine.sysbus.read_memory(sram, 2) == b"\x00\x02"


def test_tagged_region_reads_its_value_and_logs_each_address_once(machine, caplog):
    tag = machine.add_tag("rng", 0x50060800, 0x400, value=0x11)
    machine.finalize()
    caplog.set_level(logging.INFO, logger="metersim.sysbus")
    assert machine.cpu.uc.mem_read(0x50060800, 4) == b"\x11\x00\x00\x00"
    machine.cpu.uc.mem_read(0x50060800, 4)
    assert sum("unmodelled rng+0x0" in r.message for r in caplog.records) == 1
    tag.add_tag(0x4, "RNG_SR", 0x1)
    assert machine.sysbus.read_word(0x50060804) == 1


def test_elf_errors_are_clear(tmp_path):
    with pytest.raises(SetupError, match="not found"):
        load_elf(tmp_path / "missing.elf")
    bad = tmp_path / "bad.elf"
    bad.write_bytes(b"not an elf at all")
    with pytest.raises(SetupError, match="not a valid ELF"):
        load_elf(bad)


def test_firmware_outside_memory_is_refused(firmware, tmp_path):
    emu = Emulation()
    m = Machine.bare(emu, "tiny", flash=(0x08000000, 0x400), console_address=None)
    with pytest.raises(SetupError, match="outside the memory"):
        m.load_elf(firmware("f413rg", "hello"))


def test_code_rewritten_in_flash_runs_as_rewritten(machine):
    """Flash programmed behind the CPU's back (the flash controller, an app upgraded in place)
    must not keep running the code translated from the old bytes."""
    def flash_program(value):
        # movs r0,#value; movs r1,#0x20; lsls r1,r1,#24; str r0,[r1]; b .
        code = bytes([value, 0x20, 0x20, 0x21, 0x09, 0x06, 0x08, 0x60, 0xFE, 0xE7])
        machine.sysbus.write_memory(0x08000100, code)

    machine.sysbus.write_memory(0x08000000, (0x20001000).to_bytes(4, "little")
                                + (0x08000101).to_bytes(4, "little"))
    flash_program(1)
    machine.finalize()
    machine.reset()
    machine.emulation.run_for("10us")
    assert machine.read_u32(0x20000000) == 1
    flash_program(2)
    machine.reset()
    machine.emulation.run_for("10us")
    assert machine.read_u32(0x20000000) == 2
