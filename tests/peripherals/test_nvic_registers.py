"""The System Control Space register table (metersim.peripherals.cortexm.nvic): what the table
guarantees on top of the exception model — sub-word accesses, write-one-to-clear fault status,
AIRCR's VECTKEY, reserved bits, privilege, and the callbacks into the core."""

import logging

import pytest

from metersim._engine.clock import Clock
from metersim.peripherals.base import Context
from metersim.peripherals.cortexm import nvic as N


class FakeMachine:
    name = "m"
    clocks = None

    def __init__(self):
        self.resets = []

    def request_reset(self, cause):
        self.resets.append(cause)


class FakeCpu:
    core = "cortex-m4f"
    freq_hz = 16_000_000

    def __init__(self, core="cortex-m4f"):
        self.core = core
        self.privileged = True
        self.calls = []

    def is_privileged(self):
        return self.privileged

    def bus_error_from_mmio(self, address, is_write):
        self.calls.append(("bus error", address, is_write))

    def interrupt_pending_changed(self):
        self.calls.append("pending changed")

    def traps_changed(self):
        self.calls.append("traps changed")

    def current_exception(self):
        return 0

    def mpu_changed(self, spans):
        self.calls.append("mpu changed")


def make(lines=240, core="cortex-m4f"):
    machine = FakeMachine()
    nv = N.NVIC(Context(Clock(), "nvic", machine), number_of_interrupts=lines, cpu_type=core)
    cpu = FakeCpu(core)
    nv.attach_cpu(cpu)
    cpu.calls.clear()
    return nv, cpu, machine


def test_the_table_covers_the_system_control_space():
    regs = N.NVIC.registers
    for name, offset in [("ICTR", 0x004), ("SYST_CSR", 0x010), ("ISER0", 0x100),
                         ("ICPR15", 0x2BC), ("IABR7", 0x31C), ("IPR59", 0x4EC),
                         ("CPUID", 0xD00), ("ICSR", 0xD04), ("AIRCR", 0xD0C), ("SHPR3", 0xD20),
                         ("SHCSR", 0xD24), ("CFSR", 0xD28), ("ID_ISAR4", 0xD70),
                         ("CPACR", 0xD88), ("MPU_RASR_A2", 0xDB0), ("DEMCR", 0xDFC),
                         ("STIR", 0xF00), ("FPCCR", 0xF34), ("MVFR1", 0xF44), ("CID3", 0xFFC)]:
        assert regs[name].offset == offset
    assert regs["CFSR"].field("MMARVALID").access == "rc_w1"
    assert regs["ISER0"].fields[0].access == "rs" and regs["ICER0"].fields[0].access == "rc_w1"
    assert regs["AIRCR"].reset == 0xFA050000 and regs["CCR"].reset == N.CCR_RESET


def test_priority_bytes_and_halfwords_write_only_their_exceptions():
    nv, cpu, _ = make()
    nv.write(0x400, 4, 0x10203040)
    nv.write(0x401, 2, 0xA5B6)            # IRQ1 and IRQ2; low bits not implemented
    assert nv.read(0x400, 4) == 0x10A0B040
    assert nv.read(0x402, 1) == 0xA0 and nv.read(0x402, 2) == 0x10A0
    assert nv.prio[16 + 1] == 0xB0 and nv.prio[16 + 2] == 0xA0
    nv.write(0xD22, 1, 0xFF)              # SHPR3: PendSV
    nv.write(0xD21, 1, 0xFF)              # exception 13 is reserved
    assert nv.prio[N.PENDSV] == 0xF0 and nv.prio[13] == 0
    assert nv.read(0xD20, 4) == 0x00F00000


def test_stored_registers_keep_the_bytes_a_sub_word_write_leaves():
    nv, _, _ = make()
    nv.write(0xD08, 4, 0x20000200)        # VTOR
    nv.write(0xD09, 1, 0x04)
    assert nv.vtor == 0x20000400
    nv.write(0xD08, 1, 0xFF)              # TBLOFF starts at bit 7
    assert nv.read(0xD08, 4) == 0x20000480
    assert nv.read(0xD02, 2) == 0x410F    # CPUID, upper half


def test_mpu_rasr_halfwords_merge_and_word_writes_go_straight_to_the_mpu():
    nv, cpu, _ = make()
    nv.write(0xD98, 4, 3)                 # RNR
    nv.write(0xDA2, 2, 0x0300)            # RASR attributes: AP=011
    nv.write(0xDA0, 2, (9 << 1) | 1)      # RASR size 1 KiB, enabled
    assert nv.read(0xDA0, 4) == 0x03000013 == nv.mpu.regions[3].rasr
    seen = []
    nv.mpu.write = lambda offset, value: seen.append((offset, value))
    nv.write(0xD9C, 4, 0x20000015)
    assert seen == [(0x0C, 0x20000015)]


def test_fault_status_is_write_one_to_clear_per_byte():
    nv, _, _ = make()
    nv.cfsr = N.MMFSR_DACCVIOL | N.MMFSR_MMARVALID | N.BFSR_PRECISERR | N.UFSR_DIVBYZERO
    nv.write(0xD28, 1, N.MMFSR_MMARVALID)          # MMFSR alone
    assert nv.cfsr == N.MMFSR_DACCVIOL | N.BFSR_PRECISERR | N.UFSR_DIVBYZERO
    nv.write(0xD29, 1, 0)                          # writing 0 clears nothing
    nv.write(0xD2A, 2, N.UFSR_DIVBYZERO >> 16)     # UFSR as a halfword
    assert nv.read(0xD28, 4) == N.MMFSR_DACCVIOL | N.BFSR_PRECISERR
    nv.write(0xD28, 4, nv.read(0xD28, 4))          # the usual handler idiom
    assert nv.cfsr == 0
    nv.hfsr = N.HFSR_FORCED | N.HFSR_VECTTBL
    nv.write(0xD2C, 4, 0)
    assert nv.hfsr == N.HFSR_FORCED | N.HFSR_VECTTBL
    nv.write(0xD2C, 4, N.HFSR_FORCED)
    assert nv.read(0xD2C, 4) == N.HFSR_VECTTBL


def test_aircr_without_vectkey_changes_nothing(caplog):
    nv, cpu, machine = make()
    with caplog.at_level(logging.WARNING, logger="metersim"):
        nv.write(0xD0C, 4, 0x00000504)             # PRIGROUP 5 + SYSRESETREQ, no key
    assert nv.prigroup == 0 and machine.resets == [] and nv.read(0xD0C, 4) == 0xFA050000
    assert "VECTKEY" in caplog.text
    nv.write(0xD0C, 4, 0x05FA0300)
    assert nv.prigroup == 3 and nv.read(0xD0C, 4) == 0xFA050300
    nv.write(0xD0E, 2, 0x05FA)                     # the key alone: PRIGROUP kept
    assert nv.prigroup == 3
    nv.write(0xD0D, 1, 0x06)                       # no key in this write
    assert nv.prigroup == 3
    nv.write(0xD0C, 4, 0x05FA0304)
    assert machine.resets == ["software"]


def test_reserved_bits_read_zero_and_ignore_writes():
    nv, _, _ = make()
    for offset, kept in [(0xD10, 0x16), (0xD14, 0x31B), (0xDFC, 0x010F07F1),
                         (0xF38, 0xFFFFFFF8), (0xF3C, 0x07C00000), (0xD24, 0x70000)]:
        nv.write(offset, 4, 0xFFFFFFFF)
        assert nv.read(offset, 4) == kept, hex(offset)
    nv.write(0xF34, 4, 0)                          # FPCCR: only ASPEN and LSPEN are writable
    assert nv.read(0xF34, 4) == 0
    nv.write(0xF34, 4, 0xFFFFFFFF)
    assert nv.read(0xF34, 4) == 0xC0000000
    nv.write(0xD00, 4, 0)                          # CPUID is read-only
    assert nv.read(0xD00, 4) == 0x410FC241


def test_lines_the_nvic_does_not_have_are_reserved():
    nv, _, _ = make(lines=40)
    assert nv.read(0x004, 4) == 1                  # ICTR: two 32-line groups
    nv.write(0x100, 4, 0xFFFFFFFF)
    nv.write(0x104, 4, 0xFFFFFFFF)
    nv.write(0x108, 4, 0xFFFFFFFF)
    assert nv.read(0x104, 4) == 0xFF and nv.read(0x108, 4) == 0
    assert sum(nv.enabled) == 40
    nv.write(0x428, 4, 0xFFFFFFFF)                 # IPR10: IRQ40-43 do not exist
    assert nv.read(0x428, 4) == 0
    nv.write(0xF00, 4, 45)                         # STIR beyond the lines: ignored
    assert not nv.pending_set


def test_set_and_clear_arrays_act_on_the_ones_written_even_in_a_byte():
    nv, cpu, _ = make()
    nv.write(0x100, 4, 0b1)
    nv.write(0x101, 1, 0b1)                        # ISER0 byte 1: IRQ8
    assert nv.read(0x100, 4) == 0x101
    nv.write(0x181, 1, 0b1)                        # ICER0 byte 1: IRQ8 only
    assert nv.read(0x100, 4) == 0b1
    nv.write(0x202, 1, 0b10)                       # ISPR0 byte 2: IRQ17
    # disabled, it cannot preempt: the core is not bothered ...
    assert nv.pending_set == {16 + 17} and cpu.calls == []
    nv.write(0x102, 1, 0b10)                       # ... until ISER0 byte 2 enables it
    assert nv.pending_to_take(256) == 16 + 17 and cpu.calls == ["pending changed"]
    nv.write(0x182, 1, 0b10)                       # disabled again for what follows
    nv.write(0x280, 4, 0)                          # ICPR with no ones: nothing
    assert nv.pending_set == {16 + 17}
    nv.write(0x282, 1, 0b10)
    assert not nv.pending_set and nv.read(0x200, 4) == 0
    nv.write(0x300, 4, 0xFFFFFFFF)                 # IABR is read-only
    assert nv.read(0x300, 4) == 0


def test_icsr_sets_and_clears_pendsv_and_systick():
    nv, cpu, _ = make()
    nv.write(0xD07, 1, 0x10)                       # PENDSVSET, as a byte
    assert nv.pending[N.PENDSV] and nv.read(0xD04, 4) & N.ICSR_PENDSVSET
    nv.write(0xD04, 4, N.ICSR_PENDSVCLR | N.ICSR_PENDSTSET)
    assert not nv.pending[N.PENDSV] and nv.pending[N.SYSTICK]
    assert nv.read(0xD04, 4) >> 12 & 0x1FF == N.SYSTICK


def test_unprivileged_access_is_a_bus_fault_except_stir_with_usersetmpend():
    nv, cpu, _ = make()
    cpu.privileged = False
    assert nv.read(0xD04, 4) == 0
    nv.write(0xD08, 4, 0x20000000)
    nv.write(0xF00, 4, 3)
    assert nv.vtor == 0 and not nv.pending_set
    assert cpu.calls == [("bus error", 0xE000ED04, False), ("bus error", 0xE000ED08, True),
                         ("bus error", 0xE000EF00, True)]
    cpu.privileged = True
    nv.write(0xD14, 4, N.CCR_USERSETMPEND)
    cpu.privileged = False
    cpu.calls.clear()
    nv.write(0xF00, 4, 3)
    assert nv.pending_set == {16 + 3}
    assert cpu.calls == []                         # IRQ3 is disabled: nothing to take


def test_ccr_and_cpacr_writes_tell_the_core_and_the_m3_has_no_cpacr():
    nv, cpu, _ = make()
    nv.write(0xD14, 4, N.CCR_DIV_0_TRP)
    nv.write(0xD88, 4, 0xF << 20)
    assert cpu.calls == ["traps changed", "traps changed"]
    assert nv.read(0xD88, 4) == 0xF << 20 and nv.read(0xD14, 4) == N.CCR_DIV_0_TRP | 0x200
    m3, m3cpu, _ = make(core="cortex-m3")
    m3.write(0xD88, 4, 0xF << 20)
    assert m3.read(0xD88, 4) == 0 and m3cpu.calls == ["traps changed"]
    assert m3.read(0xD00, 4) == 0x411FC231


def test_systick_registers_are_the_systick_objects():
    nv, _, _ = make()
    nv.write(0x14, 4, 0x12345678)
    assert nv.systick.rvr == 0x345678 == nv.read(0x14, 4)
    nv.systick.csr |= 1 << 16
    assert nv.read(0x12, 1) == 1                   # COUNTFLAG, cleared by the read
    assert nv.read(0x10, 4) == 0


@pytest.mark.parametrize("offset", [0x000, 0xDF0, 0xDBC])
def test_registers_outside_the_table_are_logged_once(caplog, offset):
    nv, _, _ = make()
    with caplog.at_level(logging.WARNING, logger="metersim"):
        assert nv.read(offset, 4) == 0
        assert nv.read(offset, 4) == 0
    assert len(caplog.records) == 1 and "unknown register" in caplog.text


@pytest.mark.parametrize("exc, bit", [(N.USAGEFAULT, 12), (N.MEMMANAGE, 13), (N.BUSFAULT, 14),
                                      (N.SVCALL, 15)])
def test_shcsr_pending_bits_are_where_the_architecture_puts_them(exc, bit):
    nv, _, _ = make()
    assert nv.read(0xD24, 4) & 0xF000 == 0
    nv.set_pending(exc)
    assert nv.read(0xD24, 4) & 0xF000 == 1 << bit       # ARMv7-M B3.2.13
