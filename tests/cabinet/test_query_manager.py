"""The query manager on one RS-485 bus with three metering controllers (4, 4 and 32 rooms):
its readings table against each controller's own registers, a room query typed on the keypad
read back from the TFT, a top-up typed on the keypad, a controller pulled off the bus, the TCP
link to a server socket."""

import socket

import pytest

from metersim._cabinet.board import new_bus
from metersim._cabinet.modbus_master import ModbusMaster
from metersim._cabinet.query_manager import build_controllers, build_query_manager
from metersim._cabinet.scenario import RoomLoad, attach_rooms
from metersim._engine.emulation import Emulation
from metersim._orchestration.appliances import ResistiveHeater
from metersim._protocols.modbus.registers import ROOM_MEASUREMENTS
from metersim._units import PS_PER_MS

from tests.cabinet.link_peer import LinkPeer

UNIX_2000 = 946684800            # the BSP's RTC counts seconds from 2000-01-01

CABINET = ((1, 4), (2, 4), (3, 32))     # (Modbus address, rooms)
LOADED = {1: (0, 2), 2: (1, 3), 3: (0, 17, 31)}
UNPAID = (1, 3)                         # never topped up: its relay is held open (balance)


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
    server = socket.socket()            # the PC server: the firmware connects to 192.168.1.2:5020
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(5)
    qm.eth.map_port(5020, server.getsockname()[1])
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
            if (a, r) != UNPAID:
                master.top_up(r, 5000 + 113 * r + 1000 * a, address=a)
        for r in LOADED[a]:                 # heaters are resistive: not a malicious load here
            master.set_room(r, malicious_detect=False, address=a)
    emu.run_for("65s")
    reference = {a: {r: room_regs(master, a, r) for r in range(n)} for a, n in CABINET}
    qm.load_firmware(firmware("f103rc", "query_manager"))
    qm.machine.power_on()
    emu.run_until(lambda: "poll: first round done" in qm.console.line_texts(), "10s",
                  "the query manager's first polling round")
    qm.server = server
    yield emu, ctrls, qm, master, reference
    qm.eth.close()
    server.close()


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
    assert qm.tft.text_lines()[0] == "QUERY MANAGER v1.1"


def test_top_up_typed_on_the_keypad_closes_a_tripped_relay(cabinet):
    emu, ctrls, qm, master, reference = cabinet
    a, r = UNPAID
    status = reference[a][r][0]
    assert status & 2 and not status & 1 and not ctrls[a].relay_closed(r)   # held open, no credit
    wrong = ["PAY", str(a), "OK", str(r), "OK", "5", "0", "0", "OK", "9", "9", "9", "9", "OK"]
    emu.run_for(f"{qm.keypad.type_keys(wrong) // PS_PER_MS}ms")
    assert "Wrong PIN" in qm.tft.text()
    emu.run_for("4s")
    assert not ctrls[a].relay_closed(r)
    keys = ["PAY", str(a), "OK", str(r), "OK", "5", "0", "0", "OK", "1", "2", "3", "4", "OK"]
    emu.run_for(f"{qm.keypad.type_keys(keys) // PS_PER_MS}ms")
    emu.run_until(lambda: "Top-up done" in qm.tft.text(), "3s", "the top-up confirmation")
    assert "PIN: ****" in qm.tft.text()
    emu.run_for("200ms")
    assert f"poll: top-up 500 cents controller {a} room {r}: ok" in qm.console.line_texts()
    assert ctrls[a].relay_closed(r)
    assert any(ln == f"event top-up room {r} value 500" for ln in ctrls[a].console.line_texts())


def test_controller_pulled_off_the_bus_goes_offline_and_comes_back(cabinet):
    """Documented (docs/firmware_query_manager.md): offline at most one polling round plus
    three tries of 8.3 + 100 ms after the controller stops answering; probed again every 10 s."""
    emu, ctrls, qm, master, reference = cabinet
    off_ps = emu.now_ps
    ctrls[2].xcvr.detach()
    emu.run_until(lambda: "poll: controller 2 offline" in qm.console.line_texts(), "3s",
                  "controller 2 marked offline")
    offline_s = (emu.now_ps - off_ps) / 1e12
    assert qm.controller_state(2) == "offline"
    round_s = sum(n for _, n in CABINET) * 0.053
    assert offline_s <= round_s + 3 * 0.109
    polled = {a: max(s.polled_ms for s in qm.readings(a)[1].values()) for a in (1, 3)}
    emu.run_for("3s")
    for a in (1, 3):                     # the others are still polled
        assert max(s.polled_ms for s in qm.readings(a)[1].values()) > polled[a]
    ctrls[2].xcvr.attach(ctrls[2].bus)
    emu.run_until(lambda: qm.console.line_texts().count("poll: controller 2 online, 4 rooms") == 2,
                  "15s", "controller 2 back online")
    assert qm.controller_state(2) == "online"


def test_server_link_reports_readings_and_takes_a_top_up_and_a_tariff(cabinet):
    """Text protocol over TCP (docs/firmware_query_manager.md): HELLO, then every 10 s a T line,
    one R line per room and END; the server's TOPUP goes to the controller, and so does its
    TARIFF, into the controller's tariff registers, when every value is in range."""
    emu, ctrls, qm, master, reference = cabinet
    conn, _ = qm.server.accept()        # the firmware connected while the earlier tests ran
    peer = LinkPeer(conn)
    # a report of a snapshot taken from now on (its T line, the RTC time of the snapshot, after
    # the query manager's clock now): the reports before may be of snapshots taken while
    # controller 2 was off the bus, whichever side of now their lines arrive (a snapshot's 40
    # records go to the EEPROM one by one before they are sent). PERIOD: the next snapshot in
    # 2 s instead of up to 10.
    now_s = UNIX_2000 + qm.machine["rtc"].counter
    peer.send("PERIOD 2 1800")

    def fresh() -> tuple[int, int] | None:
        lines = peer.lines()
        t = next((i for i, ln in enumerate(lines) if ln.startswith("T ") and int(ln[2:]) > now_s),
                 None)
        return t is not None and "END" in lines[t:] and (t, lines.index("END", t))
    emu.run_until(fresh, "12s", "a report from now on")
    t, end = fresh()
    lines = peer.lines()
    assert lines[0] == "HELLO query-manager 1.1" and "OK PERIOD" in lines
    assert any(ln.startswith("net: connected to the server") for ln in qm.console.line_texts())
    block = lines[t + 1:end]
    assert len(block) == sum(n for _, n in CABINET)
    seqs = [int(ln.split()[1]) for ln in lines if ln.startswith("R ")]
    assert seqs == list(range(1, len(seqs) + 1))        # numbered in order, none twice
    for ln in block:
        f = ln.split()
        a, r = int(f[2]), int(f[3])
        regs = qm.readings(a)[1][r].regs
        assert [int(x) for x in f[4:15]] == [
            regs[0], regs[1], u32(regs, 8), u32(regs, 10), u32(regs, 12, signed=True), regs[2],
            regs[3], u32(regs, 4, signed=True), regs[6] - (regs[6] >> 15 << 16), regs[7],
            regs[14]], ln
    before = u32(qm.readings(2)[1][1].regs, 12, signed=True)
    peer.send("TOPUP 2 1 250")
    emu.run_until(lambda: "OK TOPUP" in peer.lines(), "3s", "the top-up's answer")
    emu.run_for("3s")
    assert u32(qm.readings(2)[1][1].regs, 12, signed=True) == before + 250
    peer.send("TOPUP 9 1 250")
    emu.run_until(lambda: "ERR TOPUP" in peer.lines(), "3s", "the refusal")
    unused = " 65535 0"
    for bad in (f"TARIFF 9 60 0 60 60 60 60{unused * 8}",              # no controller 9
                f"TARIFF 2 60 2 60 60 60 60{unused * 8}",              # mode 2
                f"TARIFF 2 60 1 60 60 60 60 1440 0{unused * 7}",       # minute 1440
                f"TARIFF 2 60 1 60 60 60 60 0 4{unused * 7}",          # price index 4
                f"TARIFF 2 65536 0 60 60 60 60{unused * 8}",           # past the u16 register
                f"TARIFF 2 60 0 60 60 60{unused * 8}",                 # a number short
                f"TARIFF 2 60 0 60 60 60 60{unused * 8} 7"):           # one too many
        peer.send(bad)
    # time of use: sharp 1.20 from 00:00, peak 0.90 from 08:00, flat 0.60 from 18:00, valley
    # 0.30 from 22:00; the flat-price register 0.90
    peer.send("TARIFF 2 90 1 120 90 60 30 0 0 480 1 1080 2 1320 3" + unused * 4)
    emu.run_until(lambda: "OK TARIFF" in peer.lines(), "3s", "the tariff's answer")
    assert [ln for ln in peer.lines() if ln.endswith(" TARIFF")] == ["ERR TARIFF"] * 7 + [
        "OK TARIFF"]
    emu.run_until(lambda: "poll: tariff mode 1 flat 90 controller 2: ok" in qm.console.line_texts(),
                  "100ms", "the tariff in the console (printed as OK TARIFF leaves)")
    peer.close()
    qm.machine.power_off()                  # the test's master reads the registers back
    emu.run_for("50ms")
    assert master.read_holding(0x0008, 6, address=2) == [90, 1, 120, 90, 60, 30]
    assert master.read_holding(0x0010, 16, address=2) == [0, 0, 480, 1, 1080, 2, 1320, 3] + [
        65535, 0] * 4
    assert master.read_holding(0x0008, 2, address=1) == [56, 0]     # the others kept theirs
