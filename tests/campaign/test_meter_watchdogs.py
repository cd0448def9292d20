"""The meter's watchdogs (issue 17): a hang injected into a thread of either unit is reset by
its independent watchdog within the configured time, the reset cause is logged and counted
(the metrology unit in its backup domain; the management unit's bootloader hands RCC_CSR on
to the RTOS image, whose platform service counts the resets by cause in the EEPROM and serves
the counts as 04A00010..04A00017), metering resumes and nothing stored is lost. The cabinet's are in
tests/cabinet/test_watchdog.py and test_query_manager_watchdog.py.

The hang is injected the way a debug probe would: the first instruction of a function the
thread runs is overwritten in flash with `b .`, so the thread spins there with interrupts on
and everything else scheduled as usual; the patch is taken back once the watchdog has reset
the unit (a glitch that does not come again)."""

from decimal import Decimal

import pytest

import metersim
from metersim._campaign.meter_system import factory_image, metrology_records, newest_ring_record
from metersim._engine.debug import Debugger
from metersim._engine.firmware import Firmware
from metersim._errors import MetersimError
from metersim._units import PS_PER_S

from tests.meter.conftest import started

BRANCH_TO_SELF = bytes([0xFE, 0xE7])
METROLOGY_WATCHDOG_S = 8.0      # firmware/targets/metrology_unit/main.c WATCHDOG_MS
MU_WATCHDOG_S = 2.0             # firmware/targets/meter_mu/main.c WATCHDOG_MS
MU_KICK_S = 0.5                 # its WATCHDOG_KICK_MS
LSI_SLACK_S = 0.1               # the LSI and the start of the hang
# firmware/services/platform_service.c: this boot's RCC_CSR[31:24], resets so far by cause
DI_RESET_CAUSE = 0x04A00010
DI_RESETS = {"watchdog": 0x04A00011, "window-watchdog": 0x04A00012, "software": 0x04A00013,
             "power-on": 0x04A00014, "brown-out": 0x04A00015, "pin": 0x04A00016,
             "low-power": 0x04A00017}
PORRSTF_BORRSTF_PINRSTF, IWDGRSTF_PINRSTF, PINRSTF = 0x0E, 0x24, 0x04   # RM0430 6.3.23


def reset_ps(emu, iwdg, timeout: str) -> int:
    """Runs until the watchdog's first reset and returns its time: the deadline of the last
    refresh (the run stops at the next step after it, which may be later)."""
    deadlines = set()

    def reset() -> bool:
        if iwdg.deadline_ps is not None:
            deadlines.add(iwdg.deadline_ps)
        return iwdg.expiries == 1
    emu.run_until(reset, timeout, f"a reset by {iwdg}")
    return max(d for d in deadlines if d <= emu.now_ps)


@pytest.fixture
def meter(firmware, tmp_path):
    image = factory_image(str(firmware("f413rg", "meter_mu")), tmp_path)
    emu = metersim.Emulation(seed=3)
    meter = metersim.build_meter(emu, image, firmware("f103rb", "metrology_unit"), voltage_V=230.0,
                                 current_A=3000 / 230.0, power_W=3000.0, energy_kWh=1234.5)
    mu_con, mt_con = metersim.capture_uart(meter.mu), metersim.capture_uart(meter.unit.machine)
    started(mu_con, "metering: metrology unit synchronised", timeout="3s")
    rs485 = meter.mu["rs485Bus"].attach_host("reader", baud=2400, parity="E")
    return meter, mu_con, mt_con, metersim.dlt645.Master(emu, rs485)


def resets(master) -> dict[str, int]:
    """The management unit's reset counts by cause, as a reader gets them (3 BCD bytes each)."""
    return {cause: int(master.read(di)[::-1].hex()) for cause, di in DI_RESETS.items()}


def counts_line(**n) -> str:
    causes = ", ".join(f"{c} {n.get(c.replace('-', '_'), 0)}" for c in DI_RESETS)
    return f"resets so far: {causes}"


def test_a_hung_metering_thread_of_the_metrology_unit_is_reset_and_metering_resumes(meter):
    m, mu_con, mt_con, master = meter
    emu, unit = m.emu, m.unit
    mt_con.expect("metrology: reset cause power-on, 0 watchdog resets so far", timeout="1ms")
    emu.run_for("5s")
    dbg = Debugger.of(unit.machine)
    entry = unit.machine.symbol("ade7753_line_energy") & ~1
    original = dbg.read_memory(entry, 2)
    dbg.write_memory(entry, BRANCH_TO_SELF)      # the meter thread hangs at its next window
    hung_at = emu.now_ps
    waited_s = (reset_ps(emu, unit.machine["iwdg"], "12s") - hung_at) / PS_PER_S
    stored, bad = metrology_records(unit.eeprom)     # as the hung unit left it
    assert bad == [] and stored is not None
    newest = newest_ring_record(bytes(unit.eeprom.read_image(0, 0x8000)))
    ring = bytes(unit.eeprom.read_image(0x100, 0x2000))
    mt_con.expect("metrology: reset cause watchdog, 1 watchdog reset so far", timeout="1s")
    dbg.write_memory(entry, original)
    # fed at the end of every window (2 s): the window under way at the patch ends with a last
    # feed, the next call spins, and the reset comes 8 s after that feed
    assert METROLOGY_WATCHDOG_S <= waited_s <= METROLOGY_WATCHDOG_S + 2.0 + LSI_SLACK_S, waited_s
    # nothing stored is lost: the newest record is the one before the hang, the ring the same
    line = mt_con.expect("metrology: energy from EEPROM copy", timeout="500ms")
    assert f"(seq {stored[0]}) and ring record {newest[1]} (seq {newest[0]})" in line.line
    assert metrology_records(unit.eeprom)[0] == stored
    assert bytes(unit.eeprom.read_image(0x100, 0x2000)) == ring
    # metering resumes: the management unit reads it again, the energy grows at 3 kW
    mt_con.expect("metrology: link on USART2 9600 8E1, metering", timeout="1s")
    e0 = master.read_value(0x00010000)
    emu.run_for("12s")
    e1 = master.read_value(0x00010000)
    assert Decimal("0.01") <= e1 - e0 <= Decimal("0.02")        # 3 kW x 12 s = 0.01 kWh
    assert e0 >= Decimal(stored[1]) / 1000000 // Decimal("0.01") * Decimal("0.01")
    assert mt_con.text.count("reset cause") == 2                # no second reset
    assert mu_con.text.count("meter management unit on") == 1   # the other unit went on


def test_a_hung_service_of_the_management_unit_is_reset_and_serves_again(meter, firmware):
    m, mu_con, mt_con, master = meter
    emu = m.emu
    before = master.read_value(0x00010000)
    # the settings: the communication service's window (address, passwords, lock record) and
    # the basic app's parameters (time-of-use tables 0x1100, display lists 0x1600); its
    # energy, freeze and event records go on being written as the meter runs
    settings = [(0x0000, 0x0100), (0x1100, 0x0400), (0x1600, 0x0100)]
    ee = [bytes(m.mu["eeprom"].read_image(a, n)) for a, n in settings]
    iwdg = m.mu["iwdg"]
    assert iwdg.running and iwdg.expiries == 0
    # the factory-fresh meter's first boot: a power-on, counted in the EEPROM
    assert "meter: reset cause: power-on" in mu_con.text
    assert "platform: reset cause power-on, counted in the EEPROM" in mu_con.text
    assert f"platform: {counts_line(power_on=1)}" in mu_con.text
    assert master.read(DI_RESET_CAUSE) == bytes([PORRSTF_BORRSTF_PINRSTF])
    assert resets(master) == {**dict.fromkeys(DI_RESETS, 0), "power-on": 1}
    stored = bytes(m.mu["eeprom"].read_image(0x0100, 0x80))
    # the metering service (a process of the RTOS image) hangs in the next answer it decodes:
    # its snapshot is at most a second old, so the basic app's readers fetch one within 1 s
    entry = Firmware(firmware("f413rg", "meter_mu")).symbols.lookup("mt_measure_get") & ~1
    dbg = Debugger.of(m.mu)
    original = dbg.read_memory(entry, 2)
    dbg.write_memory(entry, BRANCH_TO_SELF)
    emu.run_until(lambda: m.mu.cpu.pc & ~1 == entry, "1.5s", "the metering service spinning")
    hung_at = emu.now_ps
    with pytest.raises(MetersimError):
        master.read_value(0x02030000)       # the power: the service no longer answers
    waited_s = (reset_ps(emu, iwdg, "3s") - hung_at) / PS_PER_S
    mu_con.expect("boot: metersim bootloader 1.0.0, reset watchdog", timeout="100ms")
    dbg.write_memory(entry, original)           # before the bootloader checks the image's CRC
    # the start thread feeds every 0.5 s and is starved by the spinning process: the reset
    # comes 1.5 to 2 s after the hang began
    assert MU_WATCHDOG_S - MU_KICK_S <= waited_s <= MU_WATCHDOG_S + LSI_SLACK_S, waited_s
    # serves again, with the stored settings and the energy the metrology unit kept counting
    started(mu_con, "metering: metrology unit synchronised", "meter: reset cause: watchdog",
            "platform: reset cause watchdog, counted in the EEPROM",
            f"platform: {counts_line(watchdog=1, power_on=1)}", timeout="3s")
    assert [bytes(m.mu["eeprom"].read_image(a, n)) for a, n in settings] == ee
    assert "factory settings written" not in mu_con.text.split("reset watchdog")[1]
    assert master.read_value(0x02030000) == Decimal("3.0000")
    assert master.read_value(0x00010000) >= before
    assert mt_con.text.count("reset cause") == 1                # the metrology unit went on
    # counted once, readable from outside; the other counts kept
    assert master.read(DI_RESET_CAUSE) == bytes([IWDGRSTF_PINRSTF])
    assert resets(master) == {**dict.fromkeys(DI_RESETS, 0), "power-on": 1, "watchdog": 1}
    assert bytes(m.mu["eeprom"].read_image(0x0100, 0x80)) != stored
    mu_con.expect_no("reset", timeout="3s")


def test_a_power_cut_and_a_pin_reset_are_not_counted_as_watchdog_resets(meter):
    m, mu_con, mt_con, master = meter
    metersim.power_cut(m.mu, holdup="10ms", off="200ms")
    started(mu_con, f"platform: {counts_line(power_on=2)}", timeout="3s")
    assert master.read(DI_RESET_CAUSE) == bytes([PORRSTF_BORRSTF_PINRSTF])
    m.mu.reset()                                # NRST
    started(mu_con, "platform: reset cause pin, counted", f"platform: {counts_line(power_on=2, pin=1)}",
            timeout="3s")
    assert master.read(DI_RESET_CAUSE) == bytes([PINRSTF])
    assert resets(master) == {**dict.fromkeys(DI_RESETS, 0), "power-on": 2, "pin": 1}
    assert m.mu["iwdg"].expiries == 0

