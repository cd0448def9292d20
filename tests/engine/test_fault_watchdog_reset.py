"""A core stopped on a fault comes back with a reset, as on the chip (Machine.on_fault).

On the part, firmware that crashes into its `b .` default handler spins there while the
independent watchdog keeps counting on the LSI: the watchdog resets the MCU and the meter boots
again. The engine stops such a core (a fault report, no spinning); its machine's events go
on, and a reset asked for meanwhile (IWDG, WWDG, a software reset from Python) brings it back
at the instant it was asked for. Every fault is kept in `Machine.faults`, in order.

The firmware is bad_access (prints its banner, then reads unmapped memory: an unhandled
HardFault, BFAR 0x60000000). Its IWDG runs from reset as with the WDG_SW option byte
cleared (the model's `hardware_mode`, set in a .repl that extends the part's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.platform_builder import create_machine
from metersim._errors import FirmwareFault
from metersim._orchestration.testers import capture_uart
from metersim._units import PS_PER_S

REPO = Path(__file__).resolve().parents[2]
PARTS = {"f103rb": ("stm32f103rb.repl", "STM32F103RB"), "f413rg": ("stm32f413.repl", "STM32F413RG")}
BANNER = "test bad_access on "


def crashing_board(tmp_path, firmware, target, iwdg_from_reset):
    repl, _ = PARTS[target]
    platform = tmp_path / "board.repl"
    text = f'using "{REPO / "platforms/cpus" / repl}"\n'
    if iwdg_from_reset:
        text += "\niwdg:\n    hardware_mode: true\n"
    platform.write_text(text)
    emu = Emulation()
    m = create_machine(emu, platform, elf=firmware(target, "bad_access"), name="meter")
    return emu, m, capture_uart(m, "usart1")


def run_through_faults(emu, duration, faults_expected):
    """Run `duration` of virtual time; each fault raised on the way is seen (and counted)."""
    end = emu.now_ps + duration
    raised = 0
    while emu.now_ps < end:
        try:
            emu.run_until_time(end)
        except FirmwareFault:
            raised += 1
    assert raised == faults_expected


def banners(cap):
    return [ln.start_ps for ln in cap.lines if ln.text.startswith(BANNER)]


@pytest.mark.parametrize("target", sorted(PARTS))
def test_the_iwdg_brings_a_crashed_core_back_and_its_fault_reports_are_kept(
        tmp_path, firmware, target):
    emu, m, cap = crashing_board(tmp_path, firmware, target, iwdg_from_reset=True)
    iwdg = m["iwdg"]
    timeout_ps = iwdg.timeout_ps()       # 4 x 4096 LSI ticks: 409.6 ms on F1, 512 ms on F4
    lsi_tick_ps = PS_PER_S // iwdg.lsi_hz()
    # one crash, then two watchdog resets, each followed by the same crash
    run_through_faults(emu, 2 * timeout_ps + timeout_ps // 2, faults_expected=3)
    assert m.reset_count == 2 and m.last_reset_cause == "iwdg"
    assert "iwdg" in m["rcc"].reset_causes()
    # each boot runs again from the vector table, starting where the watchdog expired
    # (the core's time caught up with its machine's): the banner shifted by the timeout
    boots = banners(cap)
    assert len(boots) == 3
    for k in (1, 2):
        assert abs(boots[k] - (boots[0] + k * timeout_ps)) < lsi_tick_ps
    assert boots[1] - boots[0] == timeout_ps          # to the picosecond, in fact
    # every fault stays on record, with its instant and the boot it happened in
    assert [f.resets_before for f in m.faults] == [0, 1, 2]
    assert [f.at_ps - m.faults[0].at_ps for f in m.faults] == [0, timeout_ps, 2 * timeout_ps]
    for f in m.faults:
        assert "unhandled HardFault" in str(f.fault)
        assert "BFAR   : 0x60000000" in f.report
    assert m.cpu.fault is m.faults[-1].fault           # stopped again on the last one


@pytest.mark.parametrize("target", sorted(PARTS))
def test_without_a_watchdog_the_crashed_core_stays_stopped(tmp_path, firmware, target):
    emu, m, cap = crashing_board(tmp_path, firmware, target, iwdg_from_reset=False)
    run_through_faults(emu, PS_PER_S, faults_expected=1)
    assert m.reset_count == 0 and len(banners(cap)) == 1
    assert m.cpu.fault is not None and len(m.faults) == 1
    assert m.clock.now_ps == emu.now_ps == PS_PER_S     # its machine's time went on


def test_the_window_watchdog_brings_a_crashed_core_back(tmp_path, firmware):
    """WWDG enabled before the crash (WDGA, counter 0x7F): it resets the part when its
    counter passes 0x40, 64 ticks of 4096 PCLK1 cycles later (32.768 ms at 8 MHz)."""
    emu, m, cap = crashing_board(tmp_path, firmware, "f103rb", iwdg_from_reset=False)
    wwdg = m["wwdg"]
    m.write_u32(0x40002C00, 0xFF)                     # CR = WDGA | T 0x7F
    expiry_ps = 64 * wwdg.tick_ps()
    run_through_faults(emu, expiry_ps + expiry_ps // 2, faults_expected=2)
    assert m.reset_count == 1 and m.last_reset_cause == "wwdg"
    boots = banners(cap)
    assert len(boots) == 2 and boots[1] - boots[0] == expiry_ps
    assert m.faults[0].at_ps < expiry_ps < m.faults[1].at_ps


def test_a_software_reset_from_python_brings_a_crashed_core_back(tmp_path, firmware):
    emu, m, cap = crashing_board(tmp_path, firmware, "f103rb", iwdg_from_reset=False)
    run_through_faults(emu, 100 * PS_PER_S // 1000, faults_expected=1)
    asked_ps = emu.now_ps
    m.request_reset("software")           # as SYSRESETREQ would: at the next boundary
    run_through_faults(emu, 100 * PS_PER_S // 1000, faults_expected=1)
    assert m.reset_count == 1 and m.last_reset_cause == "software"
    assert "software" in m["rcc"].reset_causes()
    boots = banners(cap)
    assert len(boots) == 2 and boots[1] - boots[0] == asked_ps
    assert len(m.faults) == 2 and m.faults[1].at_ps - m.faults[0].at_ps == asked_ps
