"""Power cuts at seeded random instants during a loaded run, 60 days of daily records, and the
cost of a metering second."""

import calendar
import random

from metersim._cabinet.checks import power_cut, read_records, reference_energy_Wh
from metersim._cabinet.scenario import attach_rooms, prepare_rooms, standard_rooms
from metersim._units import PS_PER_S


def test_twenty_power_cuts_keep_every_room_within_10_Wh_of_the_reference(controller):
    """The issue's bound: 20 power cuts at seeded random instants during a loaded run (2 kW
    rooms), and after each restart every room's energy is within 0.01 kWh (10 Wh) of the
    reference, the error counted in total since the start, not per cut. Nothing may be lost
    at a cut that the firmware can know of: the energy the ADE7753s count while the MCU
    boots, the energy since the last 1 s cycle (read at the PVD save), the sub-Wh remainder
    (saved with the totals). What stays: the whole-Wh register and the unread second at the
    moment of reading (< 1.6 Wh), and a save torn by a hold-up shorter than the save itself
    (cut 13 here: 6.4 ms < 6.7 ms), which falls back to the last periodic save (< 5 Wh)."""
    board, master = controller(seed=5)
    attach_rooms(board, standard_rooms(4, hours=1.0, power_W=2000.0))
    board.emu.run_for("1.5s")
    prepare_rooms(master, 4)
    rng = random.Random(2024)
    worst = [0.0] * 4
    for cut in range(20):
        at = board.now_ps + round(rng.uniform(3.0, 12.0) * PS_PER_S)
        power_cut(board, at_ps=at, holdup_ms=rng.uniform(5, 40), off_ms=rng.uniform(200, 3000))
        board.emu.run_for("2.5s")                      # boot and a metering cycle
        for r in range(4):
            error = reference_energy_Wh(board, r) - master.room_energy_Wh(r)
            assert -1.0 <= error <= 10.0, (cut, r, error)
            worst[r] = max(worst[r], error)
    assert sum(reference_energy_Wh(board, r) for r in range(4)) > 150   # the rooms drew power
    assert master.device_info()["power_failures"] == 20
    rec = read_records(board)
    assert rec.header_ok and rec.newest_live is not None
    assert sum(1 for e in rec.events if e.type == "power-failure") == 20
    # only the torn save costs more than the readout's rounding: most cuts lose nothing
    assert sorted(worst)[1] < 2.0, worst


RTC_EPOCH_UNIX = 946684800          # the firmware's RTC counts seconds since 2000-01-01


def test_rtc_counts_through_a_cut_and_the_outage_is_logged_in_seconds(controller):
    """With the backup battery the RTC runs on through the outage: after the restart the
    clock is the set time plus the virtual time since (not 2000-01-01), and the power-failure
    event is stamped with the RTC second of the cut (not of the last 1 s cycle before it) and
    carries the outage as the RTC counted it. The cut comes 5 ms after an RTC second starts
    and power returns mid-second, so each value is exact (the RTC model's counter is the
    ground truth)."""
    board, master = controller(seed=3)
    rtc = board["rtc"]
    attach_rooms(board, standard_rooms(4, hours=1.0))
    board.emu.run_for("1.5s")
    master.set_clock(2024, 5, 1, 12, 0, 0)
    set_ps = board.now_ps
    set_unix = calendar.timegm((2024, 5, 1, 12, 0, 0))
    board.emu.run_for("6.3s")
    next_second_ps = board.now_ps + (rtc.divider + 1) * PS_PER_S // 32768
    board.emu.run_until_time(next_second_ps + 5 * PS_PER_S // 1000)
    cut_counter = rtc.counter
    power_cut(board, holdup_ms=20.0, off_ms=7480.0)          # back 0.505 s into a second
    back_counter = rtc.counter
    board.emu.run_for("2.5s")
    y, mo, d, h, mi, sec = master.device_info()["rtc"]
    rtc_unix = calendar.timegm((y, mo, d, h, mi, sec))
    elapsed_s = (board.now_ps - set_ps) / PS_PER_S
    assert set_unix + elapsed_s - 2.0 <= rtc_unix <= set_unix + elapsed_s + 1.0, (rtc_unix - set_unix, elapsed_s)
    fails = [e for e in read_records(board).events if e.type == "power-failure"]
    assert len(fails) == 1
    assert fails[0].time == RTC_EPOCH_UNIX + cut_counter, (fails[0].time - set_unix, cut_counter)
    assert fails[0].value == back_counter - cut_counter == 7


def test_sixty_days_of_records_are_readable_over_modbus_and_in_the_eeprom(controller):
    board, master = controller()
    attach_rooms(board, standard_rooms(4, hours=100.0))
    board.emu.run_for("1.5s")
    prepare_rooms(master, 4)
    for day in range(61):
        y, m, d = 2024, 1 + day // 28, 1 + day % 28       # valid dates, 61 day changes
        master.set_clock(y, m, d, 23, 59, 58)
        board.emu.run_for("3s")
    rec = read_records(board)
    days = rec.daily_consumption_Wh(0)
    assert len(days) >= 60
    master.write_multiple(0x0100, [0, 59])                # room 0, 59 days ago
    r = master.read_input(0x0800, 8)
    assert r[0] == 1                                      # valid
    assert (r[1], r[2], r[3]) in [ymd for ymd, _ in days]


def test_a_metering_second_is_small_work_and_the_core_sleeps_between(controller):
    """The virtual-day demo's budget: once booted, the 4-room controller wakes for its 1 s
    cycle (and the tick it sleeps on) and idles in WFI otherwise. A second of metering costs
    under 20 000 instructions (16 ADE7753 register reads in 4 chip-select frames, billing,
    protection, relay contacts; the line period every 8th cycle), and the core sleeps through
    more than 99.8 % of its cycles. (v1.0 spent 22 900 instructions: a frame per register,
    seven pin writes each, the period every second.)"""
    board, master = controller()
    attach_rooms(board, standard_rooms(4, hours=24))
    board.emu.run_for("1.5s")
    prepare_rooms(master, 4, credit_cents=2000, price_cents_per_kWh=60, alarm1_cents=500, alarm2_cents=200)
    board.emu.run_for("1s")
    cpu = board.machine.cpu
    i0, c0, idle0, x0 = cpu.instructions, cpu.cycles, cpu.idle_cycles, cpu.exceptions_taken
    board.emu.run_for("10s")
    per_s = (cpu.instructions - i0) / 10
    assert 2000 < per_s < 20000, per_s
    assert (cpu.idle_cycles - idle0) / (cpu.cycles - c0) > 0.998
    assert (cpu.exceptions_taken - x0) / 10 <= 12
    assert master.device_info()["uptime_s"] >= 12          # and the cycle ran on
