"""Interrupts pended while masked, disabled or below the running priority are taken exactly
where ARMv7-M takes them (right after the instruction that lets them in: CPSIE, MSR BASEPRI,
CPSIE F, an ISER or IPR store), and not before, whichever path decides: the C block hook
reading the NVIC's summary at unmask sites, the Python hooks (exceptions in Python, exact
mode with the debug API's counting, no C extension at all)."""

import struct

import pytest
from unicorn import arm_const as A

from metersim._engine import uc_native
from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine

FLASH = 0x08000000
CODE = FLASH + 0x100
RAM = 0x20000000
LOG = RAM + 0x400               # LOG[step] = exception taken at that step
STACK_TOP = 0x20002000
ISER0, ICER0, ISPR0, IPR0 = 0xE000E100, 0xE000E180, 0xE000E200, 0xE000E400
LATE = 100                      # a step + LATE in the log: taken one instruction too late


class Asm:
    """The few Thumb-2 instructions the program needs, and its unmask sites."""

    def __init__(self):
        self.hw: list[int] = []
        self.sites: list[int] = []

    def here(self) -> int:
        return CODE + 2 * len(self.hw)

    def movs(self, rd, imm):
        self.hw.append(0x2000 | rd << 8 | imm)

    def mov32(self, rd, value):
        for op, imm in ((0xF240, value & 0xFFFF), (0xF2C0, value >> 16)):   # MOVW, MOVT
            self.hw += [op | (imm >> 11 & 1) << 10 | imm >> 12,
                        (imm >> 8 & 7) << 12 | rd << 8 | imm & 0xFF]

    def str_(self, rt, rn):
        self.hw.append(0x6000 | rn << 3 | rt)

    def msr(self, sysm, rn):                    # then an unmask site
        self.hw += [0xF380 | rn, 0x8800 | sysm]
        self.sites.append(self.here())

    def cps(self, op):                          # cpsie/cpsid i/f
        self.hw.append(op)
        if op in (0xB662, 0xB661):
            self.sites.append(self.here())

    def store(self, addr, value):               # r0 = addr, r1 = value, [r0] = r1
        self.mov32(0, addr)
        self.mov32(1, value)
        self.str_(1, 0)

    def step(self, n):
        self.movs(2, n)

    def after(self, n):                         # the instruction right after the way in
        self.movs(2, n + LATE)


PRIMASK, BASEPRI, FAULTMASK = 0x10, 0x11, 0x13
CPSIE_I, CPSID_I, CPSIE_F, CPSID_F = 0xB662, 0xB672, 0xB661, 0xB671


def program() -> tuple[bytes, list[int], dict[int, int], dict[int, int]]:
    a = Asm()
    expect = {}
    a.mov32(5, LOG)
    a.store(IPR0, 0x4080)                       # IRQ0 at 0x80, IRQ1 at 0x40
    a.store(ISER0, 3)
    a.cps(CPSID_I)
    a.store(ISPR0, 3)                           # both pending, PRIMASK set
    a.step(1)
    a.movs(0, 0x40)
    a.msr(BASEPRI, 0)                           # BASEPRI 0x40 masks both; PRIMASK too
    a.after(1)
    a.step(2)
    a.cps(CPSIE_I)                              # PRIMASK clear, BASEPRI still masks both
    a.after(2)
    a.step(3)
    a.movs(0, 0x60)
    a.msr(BASEPRI, 0)                           # IRQ1 (0x40) is let in, IRQ0 (0x80) not
    a.after(3)
    expect[3] = 17
    a.step(4)
    a.movs(0, 0)
    a.msr(BASEPRI, 0)                           # IRQ0 let in
    a.after(4)
    expect[4] = 16
    a.cps(CPSID_F)                              # FAULTMASK
    a.store(ISPR0, 1)
    a.step(5)
    a.cps(CPSIE_F)
    a.after(5)
    expect[5] = 16
    a.store(ICER0, 2)                           # IRQ1 disabled, then pended
    a.store(ISPR0, 2)
    a.step(6)
    a.store(ISER0, 2)                           # enabled: taken after the store
    a.after(6)
    expect[6] = 17
    a.movs(0, 0x60)
    a.msr(BASEPRI, 0)
    a.store(ISPR0, 1)                           # IRQ0 (0x80) below BASEPRI 0x60
    a.step(7)
    a.store(IPR0, 0x4020)                       # raised to 0x20: taken after the store
    a.after(7)
    expect[7] = 16
    a.movs(0, 1)
    a.msr(PRIMASK, 0)                           # PRIMASK by MSR
    a.store(ISPR0, 3)
    a.step(8)
    a.movs(0, 0)
    a.msr(PRIMASK, 0)                           # both let in: IRQ0 (0x20) first, then
    a.after(8)                                  # IRQ1 (0x40) tail-chains: it logs last
    expect[8] = 17
    a.step(9)
    a.hw.append(0xE7FE)                         # b .
    handler = {}
    for exc in (16, 17):
        handler[exc] = a.here()
        # lsls r3, r2, #2; movs r4, #exc; str r4, [r5, r3]; bx lr
        a.hw += [0x0093, 0x2400 | exc, 0x50EC, 0x4770]
    code = struct.pack(f"<{len(a.hw)}H", *a.hw)
    return code, a.sites, expect, handler


def boot(code, handler):
    emu = Emulation(wall_guard_s=20.0)
    m = Machine.bare(emu, "m", console_address=None)
    vectors = bytearray(0x100)
    struct.pack_into("<II", vectors, 0, STACK_TOP, CODE | 1)
    for exc, addr in handler.items():
        struct.pack_into("<I", vectors, 4 * exc, addr | 1)
    m.sysbus.write_memory(FLASH, bytes(vectors) + code)
    m.finalize()
    m.reset_cpu_only()
    return emu, m


MODES = ["c", "python-exceptions", "exact", "no-extension"]


def engine_before_boot(mode: str, monkeypatch) -> None:
    """The engine of `mode` (MODES): without its C extension, or with exceptions in Python."""
    if mode == "no-extension":
        monkeypatch.setattr(uc_native, "_block_clock", None)
    if mode == "python-exceptions":
        monkeypatch.setenv("METERSIM_NATIVE_EXC", "0")


def engine_after_boot(mode: str, cpu) -> None:
    """An exact user on the core (as a debugger is) in mode "exact"."""
    if mode == "exact":
        cpu.exact_users += 1
        cpu.uc.ctl_flush_tb()


@pytest.mark.parametrize("mode", MODES)
def test_interrupts_are_taken_exactly_where_they_are_let_in(mode, monkeypatch):
    engine_before_boot(mode, monkeypatch)
    code, sites, expect, handler = program()
    emu, m = boot(code, handler)
    cpu = m.cpu
    assert (cpu.bc is None) == (mode == "no-extension")
    cpu.add_unmask_hooks(sites)
    engine_after_boot(mode, cpu)
    emu.run_for("1ms")
    log = struct.unpack("<200I", m.sysbus.read_memory(LOG, 800))
    taken = {step: exc for step, exc in enumerate(log) if exc}
    assert taken == expect
    assert cpu.reg(A.UC_ARM_REG_R2) == 9, "the program did not reach its end"
    assert cpu.exceptions_taken == 7
    assert cpu.current_exception() == 0


def test_sites_with_nothing_to_take_call_no_python():
    """A masked loop through an unmask site with an interrupt pending but held back by
    BASEPRI: the C hook answers every pass itself."""
    a = Asm()
    a.store(IPR0, 0x80)
    a.store(ISER0, 1)
    a.movs(0, 0x40)
    loop = a.here()
    a.msr(BASEPRI, 0)                           # IRQ0 (0x80) stays masked
    a.store(ISPR0, 1)
    a.movs(0, 0x40)
    a.hw.append(0xE000 | ((loop - (a.here() + 4)) >> 1) & 0x7FF)   # b loop
    handler = {16: a.here()}
    a.hw += [0xE7FE]
    emu, m = boot(struct.pack(f"<{len(a.hw)}H", *a.hw), handler)
    cpu = m.cpu
    calls = []
    real = cpu._on_unmask_site
    cpu._on_unmask_site = lambda address: (calls.append(address), real(address))
    cpu.add_unmask_hooks(a.sites)
    emu.run_for("1ms")
    assert cpu.current_exception() == 0 and cpu.nvic.pending[16]
    assert cpu.unmask_site_skips() > 1000     # 16 MHz, a few instructions per pass
    assert calls == []


SYST_CSR, SYST_RVR, SYST_CVR, SHPR3 = 0xE000E010, 0xE000E014, 0xE000E018, 0xE000ED20


def wfi_program(basepri: int) -> tuple[bytes, list[int], dict[int, int]]:
    """SysTick (priority 0x80) fires while the core sleeps in WFI with PRIMASK set and
    BASEPRI at `basepri`; r2 = 1 once WFI returned, the handler logs r2 and stops SysTick."""
    a = Asm()
    a.mov32(5, LOG)
    a.movs(2, 0)
    a.store(SHPR3, 0x80 << 24)
    a.cps(CPSID_I)
    a.movs(0, basepri)
    a.msr(BASEPRI, 0)
    a.store(SYST_RVR, 1599)                     # 100 µs at 16 MHz
    a.store(SYST_CVR, 0)
    a.store(SYST_CSR, 7)
    a.hw.append(0xBF30)                         # wfi
    a.step(1)
    a.cps(CPSIE_I)                              # SysTick taken here, if it woke the core
    a.after(1)
    a.hw.append(0xE7FE)                         # b .
    handler = {15: a.here()}
    a.store(SYST_CSR, 0)
    a.hw += [0x0093, 0x2400 | 15, 0x50EC, 0x4770]
    return struct.pack(f"<{len(a.hw)}H", *a.hw), a.sites, handler


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("basepri, wakes", [(0, True), (0x40, False)])
def test_wfi_wakes_on_an_interrupt_masked_only_by_primask(mode, basepri, wakes, monkeypatch):
    """ARMv7-M B1.5.19: WFI wakes on an interrupt that would preempt if PRIMASK were clear;
    one that BASEPRI holds back leaves the core asleep."""
    engine_before_boot(mode, monkeypatch)
    code, sites, handler = wfi_program(basepri)
    emu, m = boot(code, handler)
    cpu = m.cpu
    cpu.add_unmask_hooks(sites)
    engine_after_boot(mode, cpu)
    emu.run_for("1ms")
    log = struct.unpack("<200I", m.sysbus.read_memory(LOG, 800))
    taken = {step: exc for step, exc in enumerate(log) if exc}
    if wakes:
        assert taken == {1: 15}, "SysTick not taken right at the cpsie after WFI woke"
        assert not cpu.halted
    else:
        assert taken == {} and cpu.reg(A.UC_ARM_REG_R2) == 0 and cpu.halted
        assert cpu.nvic.pending[15]
