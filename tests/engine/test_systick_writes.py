"""SysTick's CSR, RVR and CVR word writes are made in C (the hot-register write kinds
systick_csr_write, systick_rvr_write, systick_cvr_write in _hot_regs.c): a tickless RTOS
rewrites RVR and CVR around every sleep. Each must leave exactly what SysTick.write leaves:
COUNTFLAG, the count restarted at the access's instant at the rate CLKSOURCE selects, the old
wrap cancelled and the next one scheduled, so the firmware counts and takes the same ticks."""

import struct

import pytest
from unicorn import arm_const as A

from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine
from metersim._engine.runtime_hooks import log_peripheral_access
from metersim._errors import FirmwareFault
from metersim._units import PS_PER_MS

from tests.engine.test_hot_regs import bare_program, hits, write_figures

pytestmark = pytest.mark.skipif(
    Machine.bare(Emulation(), "probe", "cortex-m4f").cpu.bc is None,
    reason="the block clock extension is not built (setup.py build_ext)")

SYSTICK_WRITES = ("systick_csr_write", "systick_rvr_write", "systick_cvr_write")

# At 0x08000040: RVR = 100, CVR cleared, CSR = ENABLE|TICKINT|CLKSOURCE, spin 500 cycles (the
# SysTick handler counts wraps in r7), CVR cleared (r0: CSR after it, r4: CVR), CSR =
# ENABLE|TICKINT at HCLK/8, spin 500 cycles (r5: CVR), CSR = 0 (r6: CVR, kept), `b .`.
#   ldr r1, =0xE000E010; movs r2, #100; str r2, [r1, #4]; str r2, [r1, #8]; movs r2, #7;
#   str r2, [r1]; movs r3, #250; 1: subs r3, #1; bne 1b; str r2, [r1, #8]; ldr r0, [r1];
#   ldr r4, [r1, #8]; movs r2, #3; str r2, [r1]; movs r3, #250; 2: subs r3, #1; bne 2b;
#   ldr r5, [r1, #8]; movs r2, #0; str r2, [r1]; ldr r6, [r1, #8]; b .
# SysTick handler at 0x0800006C: adds r7, #1; bx lr
PROGRAM = struct.pack("<24H", 0x490B, 0x2264, 0x604A, 0x608A, 0x2207, 0x600A, 0x23FA, 0x3B01,
                      0xD1FD, 0x608A, 0x6808, 0x688C, 0x2203, 0x600A, 0x23FA, 0x3B01, 0xD1FD,
                      0x688D, 0x2200, 0x600A, 0x688E, 0xE7FE, 0x3701, 0x4770) \
    + struct.pack("<I", 0xE000E010)
VECTORS = struct.pack("<16I", 0x20001000, 0x08000041, *[0x0800006B] * 13, 0x0800006D)


def systick_machine(monkeypatch, how, unprivileged=False):
    return bare_program(monkeypatch, how, VECTORS + PROGRAM, unprivileged)


def systick_run(monkeypatch, how):
    """(r0 r4 r5 r6 r7, instructions, SysTick's state), writes made in C, (verified, wrong)"""
    emu, m = systick_machine(monkeypatch, how)
    emu.run_until_time(emu.now_ps + PS_PER_MS)
    st = m["nvic"].systick
    regs = tuple(m.cpu.reg(getattr(A, f"UC_ARM_REG_R{n}")) for n in (0, 4, 5, 6, 7))
    made, checked, wrong = write_figures(m)
    return ((regs, m.cpu.instructions, m.stats()["exceptions"], st.csr, st.rvr, st.current(),
             st._event),
            sum(made.get(k, 0) for k in SYSTICK_WRITES),
            tuple(checked.get(k, (0, 0)) for k in SYSTICK_WRITES), wrong)


def test_systick_writes_made_in_c_count_and_interrupt_as_in_python(monkeypatch):
    plain, _, _, _ = systick_run(monkeypatch, "0")
    r0, r4, r5, r6, r7 = plain[0]
    assert not r0 & (1 << 16)             # the CVR write cleared COUNTFLAG
    assert r7 >= 4                        # ~500 cycles at RVR = 100: wraps taken as SysTick
    assert 0 < r5 < 100 and r6 == r5 - 1  # HCLK/8 after the CSR write: no wrap; stopped: kept
    assert plain[-1] is None              # stopped: no wrap scheduled
    hot, made, _, _ = systick_run(monkeypatch, "1")
    assert hot == plain and made == 6
    verified, made, checked, wrong = systick_run(monkeypatch, "verify")
    assert verified == plain and made == 0 and wrong == []
    assert checked == ((3, 0), (1, 0), (2, 0))


def test_verify_mode_notices_a_wrap_scheduled_elsewhere(monkeypatch):
    # a model change C does not know of (here: each wrap one tick later) is reported with the
    # attribute that differs: the wrap event C would have scheduled is not the model's
    from metersim.peripherals.cortexm.systick import SysTick

    def late(self, ticks):
        self._event = self._clock.schedule_at(self._tick_time(ticks + 1), self._on_wrap,
                                              ticks + 1)

    monkeypatch.setattr(SysTick, "_schedule_wrap", late)
    _state, _made, checked, wrong = systick_run(monkeypatch, "verify")
    assert checked[0][1] >= 1 and checked[2][1] >= 1      # CSR and CVR writes restart it
    assert {key for _off, _kind, key, _c, _py in wrong} == {"_event"}


def test_logging_the_nvic_shows_every_systick_write(monkeypatch, caplog):
    emu, m = systick_machine(monkeypatch, "1")
    log_peripheral_access(m, "nvic", True)
    with caplog.at_level("INFO", logger="metersim.access"):
        emu.run_until_time(emu.now_ps + PS_PER_MS)
    text = caplog.text
    assert "nvic: write32 +0x14 <- 0x64" in text          # RVR
    assert text.count("nvic: write32 +0x18") == 2          # CVR
    assert "nvic: write32 +0x10 <- 0x3" in text           # CSR: HCLK/8
    assert sum(write_figures(m)[0].get(k, 0) for k in SYSTICK_WRITES) == 0


def test_an_unprivileged_systick_write_is_still_a_busfault(monkeypatch):
    reports = []
    for how in ("1", "0"):
        emu, m = systick_machine(monkeypatch, how, unprivileged=True)
        with pytest.raises(FirmwareFault) as fault:
            emu.run_until_time(emu.now_ps + PS_PER_MS)
        assert sum(write_figures(m)[0].get(k, 0) for k in SYSTICK_WRITES) == 0
        assert m.sysbus.read_word(0xE000ED38) == 0xE000E014       # BFAR: SYST_RVR
        assert m["nvic"].systick.rvr == 0
        reports.append(str(fault.value))
    assert reports[0] == reports[1]


def meter_run(monkeypatch, meter_image, how):
    """The meter for eight virtual seconds after the units synchronise: both RTOSes sleep
    tickless (the management unit with its MPU guard, the F103 metrology unit without), up to
    a second per SysTick wrap on their reference clock, so some seconds for enough sleeps."""
    import metersim

    monkeypatch.setenv("METERSIM_HOT_REGS", how)
    emu = metersim.Emulation(seed=1)
    meter = metersim.build_meter(emu, meter_image, voltage_V=230.0, power_W=300.0,
                                 current_A=300.0 / 230.0, energy_kWh=1234.56)
    con = metersim.capture_uart(meter.mu)
    con.expect("metering: metrology unit synchronised", timeout="8s")
    emu.run_for("8s")
    state, figures = [con.text], []
    for m in (meter.mu, meter.unit.machine):
        st = m["nvic"].systick
        state.append((m.cpu.instructions_now(), m.stats()["exceptions"], st.csr, st.rvr,
                      st.current(), st._event.time_ps))
        figures.append((*write_figures(m), hits(m),
                        [x for h in m.sysbus.hot_ranges.values() for x in h.mismatches]))
    return state, figures


def test_the_meters_tickless_sleeps_run_as_with_python_writes(monkeypatch, meter_image):
    plain, _ = meter_run(monkeypatch, meter_image, "0")
    hot, figures = meter_run(monkeypatch, meter_image, "1")
    assert hot == plain
    for made, _checked, _wrong, answered, _ in figures:   # both units: RVR and CVR at each sleep,
        assert made["systick_rvr_write"] >= 10 and made["systick_cvr_write"] >= 5
        assert answered["icsr"] >= 5                   # and ICSR read before it
    verified, figures = meter_run(monkeypatch, meter_image, "verify")
    assert verified == plain
    for _made, checked, wrong, _answered, wrong_reads in figures:
        assert wrong_reads == []                       # (ICSR and CVR reads compared too)
        assert wrong == [] and checked["systick_rvr_write"][0] >= 10
        assert checked["systick_cvr_write"][0] >= 5



# ---- ICSR reads: answered in C while nothing is pending (VECTACTIVE, RETTOBASE), by the
# model otherwise. At 0x08000040, with interrupts masked: r0 = ICSR; PendSV pended through
# ICSR; r3 = ICSR; unmasked, PendSV's handler reads r4 = ICSR.
#   cpsid i; ldr r1, =0xE000ED04; ldr r0, [r1]; ldr r2, =0x10000000; str r2, [r1];
#   ldr r3, [r1]; cpsie i; b .      PendSV handler at 0x08000050: ldr r4, [r1]; bx lr
ICSR_PROGRAM = struct.pack("<10H", 0xB672, 0x4904, 0x6808, 0x4A04, 0x600A, 0x680B, 0xB662,
                           0xE7FE, 0x680C, 0x4770) + struct.pack("<2I", 0xE000ED04, 0x10000000)
ICSR_VECTORS = struct.pack("<16I", 0x20001000, 0x08000041, *[0x0800004F] * 12, 0x08000051,
                           0x0800004F)


def icsr_run(monkeypatch, how):
    emu, m = bare_program(monkeypatch, how, ICSR_VECTORS + ICSR_PROGRAM)
    for _ in range(2):           # (the core looks for PendSV at the next slice at the latest)
        emu.run_until_time(emu.now_ps + PS_PER_MS)
    regs = tuple(m.cpu.reg(getattr(A, f"UC_ARM_REG_R{n}")) for n in (0, 3, 4))
    hot = [h for h in m.sysbus.hot_ranges.values() if (0xE000ED04, "icsr") in h.stats()]
    if not hot:
        return regs, (0, 0), 0, []              # hot registers off
    return (regs, hot[0].stats()[(0xE000ED04, "icsr")], hot[0].verified.get("icsr", 0),
            hot[0].mismatches)


def test_icsr_reads_in_c_are_the_models(monkeypatch):
    plain, _, _, _ = icsr_run(monkeypatch, "0")
    # thread mode: RETTOBASE; PendSV pending: VECTPENDING 14, PENDSVSET; in its handler:
    # VECTACTIVE 14
    assert plain == (0x800, 0x1000E800, 0x80E)
    hot, (made, declined), _, _ = icsr_run(monkeypatch, "1")
    assert hot == plain and (made, declined) == (2, 1)      # pending: the model answered
    verified, _, compared, wrong = icsr_run(monkeypatch, "verify")
    assert verified == plain and compared == 2 and wrong == []
