"""The metering-controller firmware on the cabinet board: energy against the reference
integral, prepaid trips and top-ups, protection trips, malformed Modbus frames, 32 channels."""

import os
import re

import pytest

from metersim._cabinet.checks import check_energies, reference_energy_Wh
from metersim._protocols.modbus.errors import ModbusException
from metersim._protocols.modbus.framer import encode_adu as adu
from metersim._protocols.modbus.registers import ROOM_MEASUREMENTS
from metersim._cabinet.scenario import RoomLoad, attach_rooms, prepare_rooms, run_hours, standard_rooms
from metersim._orchestration.appliances import Motor, ResistiveHeater, SwitchModeSupply
from metersim._orchestration.load_profile import HarmonicProfile
from metersim._units import PS_PER_S

# The figure: 2 virtual hours (about half a minute of wall time).
HOURS = float(os.environ.get("METERSIM_CABINET_HOURS", "2"))


def boot(board, master, rooms, **prep):
    attach_rooms(board, rooms)
    board.emu.run_for("1.5s")
    prepare_rooms(master, len(rooms), **prep)


def test_four_rooms_energy_agrees_with_the_reference(controller, pymodbus_read):
    """Heater, motor, computer and a mixed room with harmonics; the energies are read by a
    pymodbus RTU client through the RS-485 bridge, as the cabinet's query manager would."""
    board, master = controller()
    boot(board, master, standard_rooms(4, hours=HOURS))
    run_hours(board, HOURS)
    energy = ROOM_MEASUREMENTS.field("energy_Wh")
    regs = pymodbus_read(board, [(ROOM_MEASUREMENTS.address(r, "energy_Wh"), 2) for r in range(4)])
    measured = {r: energy.decode(rr) for r, rr in enumerate(regs)}
    # 0.2 % of the reference, plus 2 Wh: whole-Wh registers and the second not read yet
    rows = check_energies(board, measured, rel=0.002, abs_Wh=2.0)
    assert all(r.reference_Wh > 50 * HOURS for r in rows)  # every room really drew energy
    assert sum(board.relays[r].operations for r in range(4)) == 4   # closed once, never tripped
    # metersim's own Modbus master sees the same totals (a second or two later at most)
    assert all(0 <= master.room_energy_Wh(r) - measured[r] <= 2 for r in range(4))


def test_small_balance_trips_within_a_second_of_zero_and_top_up_closes(controller):
    board, master = controller()
    boot(board, master, [RoomLoad("heater", [ResistiveHeater(2000.0)])], credit_cents=6,
         price_cents_per_kWh=60, alarm1_cents=4, alarm2_cents=2)
    assert board.relay_closed(0)
    board.emu.run_until(lambda: not board.relay_closed(0), "400s", "balance trip")
    # 6 cents at 60 cents/kWh buy exactly 100 Wh: find when the room's reference reached it
    lo, hi = board.origins_ps[0], board.now_ps
    while hi - lo > 1_000_000:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if reference_energy_Wh(board, 0, 0, mid) < 100.0 else (lo, mid)
    relay = board.relays[0]
    coil_ps = [t for t, closed in relay.history if not closed][-1] - relay.operate_time_ps
    assert 0 <= coil_ps - hi <= 1 * PS_PER_S                # the firmware pulsed the coil in time
    r = master.room(0)
    assert r.tripped and r.trip_reason_name == "balance" and r.balance_cents <= 0
    events = [ln for ln in board.console.line_texts() if ln.startswith("event")]
    assert events[-3:] == ["event alarm1 room 0 value 4", "event alarm2 room 0 value 2",
                           "event trip room 0 value 1"]
    master.top_up(0, 100)
    board.emu.run_for("100ms")
    assert board.relay_closed(0)                            # closed at once
    board.emu.run_for("1.1s")                               # contacts are read back each cycle
    assert master.room(0).relay_closed and not master.room(0).tripped


def test_heater_trips_as_malicious_but_motor_and_computer_of_equal_power_do_not(controller):
    board, master = controller()
    rooms = [RoomLoad("heater", [ResistiveHeater(1500.0, schedule=[(5, 1e6)])]),
             RoomLoad("motor", [Motor(1500.0, pf=0.8, schedule=[(5, 1e6)])]),
             RoomLoad("computer", [SwitchModeSupply(1500.0, schedule=[(5, 1e6)])]),
             RoomLoad("overload", [Motor(1500.0, pf=0.8, schedule=[(5, 1e6)])])]
    attach_rooms(board, rooms)
    board.emu.run_for("1.5s")
    for r in range(3):
        master.set_room(r, malicious_detect=True)
        master.top_up(r, 10_000)
    master.set_room(3, malicious_detect=False, load_limit_W=1000, overload_delay_s=5)
    master.top_up(3, 10_000)
    board.emu.run_for("30s")
    got = [master.room(r) for r in range(4)]
    assert got[0].tripped and got[0].trip_reason_name == "malicious load"
    assert got[0].flag("illegal_load_seen")
    assert not got[1].tripped and not got[2].tripped and board.relay_closed(1) and board.relay_closed(2)
    assert got[3].tripped and got[3].trip_reason_name == "overload"
    trip3 = [t for t, closed in board.relays[3].history if not closed][0] / PS_PER_S
    assert 5 + 5 <= trip3 - board.origins_ps[3] / PS_PER_S <= 5 + 5 + 2  # after the 5 s delay


def test_malformed_frames_get_the_standard_replies_and_never_stop_the_slave(controller):
    board, master = controller()
    board.emu.run_for("1.5s")
    good = adu(1, bytes([4, 0, 0, 0, 1]))
    bad_crc = good[:-1] + bytes([good[-1] ^ 0xFF])
    assert master.raw(bad_crc) == []                                   # ignored, counted
    assert master.raw(bytes(range(7, 70, 3))) == []                    # line noise
    assert master.raw(adu(7, bytes([4, 0, 0, 0, 1]))) == []            # another slave's frame
    assert master.raw(adu(0, bytes([4, 0, 0, 0, 1]))) == []            # broadcast read: no reply
    cases = {bytes([3, 0, 0, 0]): 3,                                    # PDU too short
             bytes([0x41, 0, 0]): 1,                                    # unknown function
             bytes([0x11]): 1, bytes([0x2B, 0x0E, 1, 0]): 1,            # report ID, device ID: not served
             bytes([4, 0x50, 0, 0, 1]): 2,                              # no such register
             bytes([3, 0, 0, 0, 0]): 3, bytes([3, 0, 0, 0, 126]): 3,    # quantity out of range
             bytes([16, 0, 8, 0, 1, 4, 0, 1, 0, 2]): 3}                 # byte count != 2 x quantity
    for pdu, code in cases.items():
        with pytest.raises(ModbusException) as e:
            master.transact(pdu)
        assert e.value.code == code, pdu.hex(" ")
    info = master.device_info()
    assert info["crc_errors"] >= 1 and info["channels"] == 4


def test_a_write_past_the_map_is_an_address_error_even_with_a_bad_value_in_it(controller):
    """Modbus application protocol 6.12: exception 02 when start + quantity runs past the
    map, checked before the values (mode 2 at 0x0009 is an illegal value, 03, by itself);
    the quantity checks come first (03), as in 6.3 for reads; 6.6 checks the address first."""
    board, master = controller()
    board.emu.run_for("1.5s")
    before = master.read_holding(0x0008, 6)
    for pdu, code in [(bytes([16, 0, 9, 0, 6, 12, 0, 2] + [0] * 10), 2),    # 0x0E is not writable
                      (bytes([16, 0, 9, 0, 1, 2, 0, 2]), 3),                # in the map: the value
                      # 6.12: quantity and byte count (03) come before the addresses (02)
                      (bytes([16, 0xFF, 0xF0, 0, 0, 0]), 3),
                      (bytes([16, 0xFF, 0xF0, 0, 1, 4, 0, 0, 0, 0]), 3),
                      # 6.6: the address (02) before the value (03)
                      (bytes([6, 0, 0x0E, 0, 2]), 2),
                      (bytes([6, 0, 9, 0, 2]), 3),
                      # 6.3: the quantity (03) before the addresses (02), reads too
                      (bytes([3, 0xFF, 0xF0, 0, 0]), 3),
                      (bytes([3, 0xFF, 0xF0, 0, 126]), 3),
                      (bytes([3, 0xFF, 0xF0, 0, 1]), 2)]:
        with pytest.raises(ModbusException) as e:
            master.transact(pdu)
        assert e.value.code == code, pdu.hex(" ")
    assert master.read_holding(0x0008, 6) == before                         # nothing applied


def test_a_room_held_open_at_boot_says_why(controller):
    """Before any top-up a room has no credit: the relay stays open, the status's tripped bit
    is set and the trip reason register names the balance, not "none"."""
    board, master = controller()
    board.emu.run_for("1.5s")
    room = master.room(0)
    assert room.tripped and not room.flag("relay_closed")
    assert room.trip_reason_name == "balance"
    master.top_up(0, 500)
    board.emu.run_for("1.5s")
    assert not master.room(0).tripped and master.room(0).flag("relay_closed")


def test_broadcast_price_write_applies_without_a_reply(controller):
    board, master = controller()
    board.emu.run_for("1.5s")
    assert master.transact(bytes([6, 0, 8, 0, 77]), address=0) is None
    assert master.read_holding(8) == [77]


def test_32_channel_board_boots_reads_every_channel_and_answers_for_all(controller):
    board, master = controller(channels=32)
    for r in range(32):
        board.attach_load(r, HarmonicProfile.constant(230.0, 0.5 + 0.25 * r))
    board.emu.run_for("3s")
    assert re.search(r"32 channels", board.console.text)
    assert master.device_info()["channels"] == 32
    currents = [master.room(r).current_A for r in range(32)]
    assert currents == pytest.approx([0.5 + 0.25 * r for r in range(32)], abs=0.01)


US_PS = 10**6


def replies_at_tick_phases(board, master, cases: dict) -> dict:
    """Each case (parts, silences) sent at eight phases of the firmware's 1 ms tick: the
    replies heard each time."""
    replies = {}
    for case, (parts, silences, _) in cases.items():
        for phase_us in range(0, 1000, 125):
            now = board.emu.now_ps
            board.emu.run_until_time((now // PS_PER_S + 1) * PS_PER_S + phase_us * US_PS)
            heard = master.raw_with_silences(parts, silences, window="60ms")
            replies.setdefault(case, []).append(len(heard))
    return replies


def test_frames_are_delimited_by_the_silent_interval_at_any_tick_phase(controller):
    """Modbus over serial line §2.5.1.1, to the letter (docs/modbus_map.md): 3.5 characters
    of silence end a frame; a silence of more than 1.5 characters inside one makes it
    unusable (dropped, counted). The receiver's only allowance is 20 us of time-stamp
    jitter, so 50 us short of t3.5 merges and 50 us past t1.5 breaks. Each case is sent at
    eight phases of the firmware's 1 ms tick: the slave times silences with a timer, not
    with the tick."""
    board, master = controller()
    board.emu.run_for("1.5s")
    request = adu(1, bytes([4, 0, 0, 0, 1]))
    fragment = bytes([0x01, 0x04, 0x00])
    t35, t15, char = master.timing.t35_ps, master.timing.t15_ps, master.timing.char_ps
    us50 = 50 * US_PS
    cases = {   # case: (parts, silences, replies at each phase)
        "fragment, then t3.5, then a request": ([fragment, request], [t35], 1),
        "fragment, then t3.5 less 50 us, then a request": ([fragment, request], [t35 - us50], 0),
        "fragment, then 2.5 characters, then a request": ([fragment, request], [5 * char // 2], 0),
        "request with 1 character inside": ([request[:3], request[3:]], [char], 1),
        "request with t1.5 inside": ([request[:3], request[3:]], [t15], 1),
        "request with t1.5 and 50 us inside": ([request[:3], request[3:]], [t15 + us50], 0),
        "request with 2.5 characters inside": ([request[:3], request[3:]], [5 * char // 2], 0)}
    replies = replies_at_tick_phases(board, master, cases)
    assert replies == {case: [want] * 8 for case, (_, _, want) in cases.items()}
    assert t15 < 5 * char // 2 < t35 and t15 > char
    # every fragment and every broken or merged request was counted as a bus error
    assert master.device_info()["crc_errors"] == 5 * 8


def test_above_19200_baud_the_silences_are_the_fixed_1750_and_750_us(controller):
    """At 38400 bps (baud code 4) a character is 260 us, but the standard fixes t3.5 at
    1.75 ms and t1.5 at 750 us above 19200 bps: the slave, moved to 38400 by a settings
    write, splits frames there and not at 3.5 / 1.5 of its characters."""
    from metersim._cabinet.modbus_master import ModbusMaster

    board, master = controller()
    board.emu.run_for("1.5s")
    master.write_enable()                           # the baud is an installer setting
    master.write_single(0x0001, 4)
    board.emu.run_for("100ms")
    fast = ModbusMaster(board.emu, board.bus, baud=38400)
    assert fast.read_holding(0x0001, 1) == [4]
    char, us50 = fast.timing.char_ps, 50 * US_PS
    assert fast.timing.t35_ps == 1750 * US_PS and 7 * char // 2 < 1000 * US_PS
    request = adu(1, bytes([4, 0, 0, 0, 1]))
    fragment = bytes([0x01, 0x04, 0x00])
    cases = {
        "fragment, then 1.75 ms, then a request": ([fragment, request], [1750 * US_PS], 1),
        "fragment, then 1.70 ms, then a request": ([fragment, request], [1750 * US_PS - us50], 0),
        "fragment, then 3.5 characters, then a request": ([fragment, request], [7 * char // 2], 0),
        "request with 750 us inside": ([request[:3], request[3:]], [750 * US_PS], 1),
        "request with 800 us inside": ([request[:3], request[3:]], [750 * US_PS + us50], 0)}
    replies = replies_at_tick_phases(board, fast, cases)
    assert replies == {case: [want] * 8 for case, (_, _, want) in cases.items()}
