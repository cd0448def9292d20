"""The query manager on one RS-485 bus with three metering controllers (4, 4 and 32 rooms):
its readings table against each controller's own registers, a room query typed on the keypad
read back from the TFT, a top-up typed on the keypad, a controller pulled off the bus."""

import pytest

from metersim.cabinet.board import new_bus
from metersim.cabinet.modbus_master import ModbusMaster
from metersim.cabinet.query_manager import build_controllers, build_query_manager
from metersim.cabinet.scenario import RoomLoad, attach_rooms
from metersim.engine.emulation import Emulation
from metersim.orchestration.appliances import ResistiveHeater
from metersim.protocols.modbus.registers import ROOM_MEASUREMENTS
from metersim.units import PS_PER_MS

CABINET = ((1, 4), (2, 4), (3, 32))     # (Modbus address, rooms)
LOADED = {1: (0, 2), 2: (1, 3), 3: (0, 17, 31)}


def room_regs(master, addr, room):
    return tuple(master.read_input(ROOM_MEASUREMENTS.address(room, "status"), 16, address=addr))


def fixed(v, dec):
    s = f"{abs(v) / 10 ** dec:.{dec}f}" if dec else str(abs(v))
    return ("-" if v < 0 else "") + s


def u32(regs, i, signed=False):
    v = regs[i] << 16 | regs[i + 1]
    return v - (1 << 32) if signed and v >> 31 else v


@pytest.fixture(scope="module")
def cabinet(firmware):
    """Controllers set up over Modbus by a test master while the query manager has no firmware
    yet (one master per bus), loads on for a minute then off so the registers stand still; then the
    query manager boots and polls."""
    emu = Emulation(seed=3)
    bus = new_bus(emu)
    mc_elf = firmware("f103rb", "metering_controller")
    qm = build_query_manager(emu, bus)
    qm.machine.power_off()              # switched on once the controllers are set up
    master = ModbusMaster(emu, bus)
    ctrls = build_controllers(emu, bus, CABINET, mc_elf, master)
    for a, n in CABINET:
        rooms = [RoomLoad(f"r{r}", [ResistiveHeater(2000.0 + 30 * r + 70 * a, schedule=[(2, 62)])]
                          if r in LOADED[a] else []) for r in range(n)]
        attach_rooms(ctrls[a], rooms)
    emu.run_for("1.5s")
    for a, n in CABINET:
        master.set_flat_price(55 + a, address=a)
        for r in range(n):
            master.top_up(r, 5000 + 113 * r + 1000 * a, address=a)
        for r in LOADED[a]:                 # heaters are resistive: not a malicious load here
            master.set_room(r, malicious_detect=False, address=a)
    emu.run_for("65s")
    reference = {a: {r: room_regs(master, a, r) for r in range(n)} for a, n in CABINET}
    qm.load_firmware(firmware("f103rc", "query_manager"))
    qm.machine.power_on()
    emu.run_until(lambda: "poll: first round done" in qm.console.line_texts(), "10s",
                  "the query manager's first polling round")
    return emu, ctrls, qm, master, reference


def test_readings_equal_each_controllers_registers(cabinet):
    emu, ctrls, qm, master, reference = cabinet
    lines = qm.console.line_texts()
    for a, n in CABINET:
        assert f"poll: controller {a} online, {n} rooms" in lines
        state, rooms = qm.readings(a)
        assert state == "online"
        assert sorted(rooms) == list(range(n))
        for r in range(n):
            assert rooms[r].regs == reference[a][r], f"controller {a} room {r}"
    assert qm.readings(4) == ("absent", {})
    # the loaded rooms really counted energy and were billed (the comparison is not of zeros)
    for a, loaded in LOADED.items():
        for r in loaded:
            assert u32(reference[a][r], 8) > 0 and u32(reference[a][r], 10) > 0


def test_room_query_on_the_keypad_shows_the_room_on_the_tft(cabinet, tmp_path):
    emu, ctrls, qm, master, reference = cabinet
    took = qm.keypad.type_keys(["QUERY", "3", "OK", "1", "7", "OK"])
    emu.run_for(f"{took // PS_PER_MS}ms")
    emu.run_for("1.5s")
    text = qm.tft.text_lines()
    regs = reference[3][17]
    expected = {
        "Energy": fixed(u32(regs, 8), 3) + " kWh",
        "Cost": fixed(u32(regs, 10), 2),
        "Balance": fixed(u32(regs, 12, signed=True), 2),
        "Voltage": fixed(regs[2], 2) + " V",
        "Current": fixed(regs[3], 3) + " A",
        "Power": fixed(u32(regs, 4, signed=True), 1) + " W",
        "PF": fixed(regs[6] - (regs[6] >> 15 << 16), 3),
        "Freq": fixed(regs[7], 2) + " Hz",
        "Trips": str(regs[14]),
    }
    assert text[0] == "ROOM QUERY"
    assert text[2 * 2] == "Controller 3  room 17  online"
    shown = {ln.split()[0]: ln[10:] for ln in text if ln[:10].strip() in expected}
    assert shown == expected
    assert text[3 * 2] == "Relay     closed"
    qm.tft.save_png(tmp_path / "room_query.png")
    assert (tmp_path / "room_query.png").stat().st_size > 1000
    qm.keypad.type_keys(["ESC"])
    emu.run_for("1.5s")
    assert qm.tft.text_lines()[0] == "QUERY MANAGER v1.0"
