"""The server down for 2 virtual hours, at real length and at the query manager's default
periods (a snapshot of every room every 10 s while connected, every 30 min while not): the
smallest cabinet (one controller, 4 rooms, two of them heated) keeps metering, its readings wait
in the query manager's EEPROM, and once the server is back they all arrive in order, none
lost, none twice (docs/firmware_query_manager.md, "Server link").

The shortened variant with `PERIOD 1 2` and 40 buffered readings is in
test_query_manager_link.py; this one runs the whole outage (a few minutes of wall time)."""

import socket

import pytest

from metersim._cabinet.board import build_controller, new_bus
from metersim._cabinet.modbus_master import ModbusMaster
from metersim._cabinet.query_manager import build_query_manager
from metersim._cabinet.scenario import RoomLoad, attach_rooms
from metersim._engine.emulation import Emulation
from metersim._orchestration.appliances import ResistiveHeater

from tests.cabinet import test_query_manager_link as link
from tests.cabinet.test_query_manager_link import r_lines

OUTAGE_S = 2 * 3600
OFFLINE_PERIOD_S = 1800          # the firmware's default snapshot period while not connected
HEATER_W = {0: 1000.0, 2: 2000.0}
ROOMS = 4


class Server(link.Server):
    """The PC server's end of the link on one host port, kept across the outage: while the
    server is down the port is bound but not listening, so a connect is refused (as by a
    stopped server's host) and no other program on this machine can take the port."""

    def __init__(self, qm):
        self.listener = self._bound(0)
        self.port = self.listener.getsockname()[1]
        qm.eth.map_port(5020, self.port)
        self.peer = None
        self.start()

    @staticmethod
    def _bound(port):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return s

    def start(self):
        self.listener.listen(1)

    def stop(self):
        """Down: the connection and the listener go; the port stays bound, not listening."""
        self.peer.close()
        self.peer = None
        self.listener.close()
        self.listener = self._bound(self.port)


@pytest.fixture(scope="module")
def cabinet(firmware):
    emu = Emulation(seed=7)
    bus = new_bus(emu)
    qm = build_query_manager(emu, bus)
    qm.machine.power_off()                       # on once the rooms are paid for
    ctrl = build_controller(emu, channels=ROOMS, bus=bus, address=1,
                            elf=firmware("f103rb", "metering_controller"))
    attach_rooms(ctrl, [RoomLoad(f"r{r}", [ResistiveHeater(HEATER_W[r], schedule=[(0.5, 1e6)])]
                                 if r in HEATER_W else []) for r in range(ROOMS)])
    emu.run_for("1s")
    master = ModbusMaster(emu, bus)
    master.set_flat_price(60)
    for r in range(ROOMS):
        master.top_up(r, 100_000)                # 1000.00: far more than 2 h of heating costs
        master.set_room(r, malicious_detect=False)   # a heater is a resistive load
    server = Server(qm)
    qm.load_firmware(firmware("f103rc", "query_manager"))
    qm.machine.power_on()
    emu.run_until(lambda: "poll: first round done" in qm.console.line_texts(), "10s",
                  "the query manager's first polling round")
    emu.run_until(server.try_accept, "8s", "the query manager connecting")
    yield emu, qm, ctrl, server
    server.close()
    qm.eth.close()


def snapshots(lines):
    """{snapshot time: {room: (seq, energy_Wh)}} from the link's T/R lines."""
    out, t = {}, None
    for ln in lines:
        f = ln.split()
        if f and f[0] == "T":
            t = int(f[1])
        elif f and f[0] == "R":
            out.setdefault(t, {})[int(f[3])] = (int(f[1]), int(f[6]))
    return out


def test_server_down_two_virtual_hours_readings_buffered_then_sent_in_order_once(cabinet):
    emu, qm, ctrl, server = cabinet
    emu.run_until(lambda: len(r_lines(server.lines())) >= 2 * ROOMS, "25s", "two snapshots")
    before = server.lines()
    acked = int(r_lines(before)[-1][1])
    server.send(f"ACK {acked}")
    emu.run_for("300ms")
    server.stop()                                # down: every connect is refused
    emu.run_until(lambda: "net: connection lost" in qm.console.line_texts(), "15s",
                  "the lost connection seen")
    for _ in range(OUTAGE_S // 600):
        emu.run_for("600s")
        # all along the query manager polls the controller, which meters alone
        assert "poll: controller 1 offline" not in qm.console.line_texts()

    server.start()                               # back, on the same port
    emu.run_until(server.try_accept, "8s", "the query manager reconnecting")

    def announced():      # "net: <n> readings to send", at each connection
        return [int(ln.split()[1]) for ln in qm.console.line_texts()
                if ln.endswith(" readings to send")]
    emu.run_until(lambda: len(announced()) >= 2, "2s", "the reconnection seen by the firmware")
    to_send = announced()[-1]
    # a snapshot every 30 min of the outage
    assert to_send >= OUTAGE_S // OFFLINE_PERIOD_S * ROOMS
    # the buffer, then a fresh snapshot within the connected period (10 s)
    emu.run_until(lambda: len(r_lines(server.lines())) >= to_send + ROOMS, "12s",
                  "the buffered readings and a fresh snapshot")
    after = server.lines()
    assert after[0] == "HELLO query-manager 1.1"
    seqs_before = [int(f[1]) for f in r_lines(before)]
    seqs_after = [int(f[1]) for f in r_lines(after)]
    assert seqs_after[0] == acked + 1            # nothing acknowledged comes again
    every = sorted(set(seqs_before) | set(seqs_after))
    assert every == list(range(1, every[-1] + 1))    # none lost
    assert seqs_after == sorted(set(seqs_after))     # in order, none twice on the link

    # the outage's snapshots: every room, 30 min apart by the RTC, and the heated rooms'
    # energy grew by their power over each half hour (the controller metered alone)
    snaps = snapshots(after)
    outage = sorted(t for t, rooms in snaps.items()
                    if min(seq for seq, _ in rooms.values()) <= acked + to_send)
    fresh = sorted(set(snaps) - set(outage))
    assert fresh and 0 < fresh[0] - outage[-1] <= OFFLINE_PERIOD_S
    assert all(sorted(snaps[t]) == list(range(ROOMS)) for t in snaps)
    # (the first may be a connected snapshot taken just before the server went)
    gaps = [b - a for a, b in zip(outage[1:], outage[2:])]
    assert len(gaps) >= 2 and all(abs(g - OFFLINE_PERIOD_S) <= 1 for g in gaps), gaps
    for a, b in zip(outage[1:], outage[2:]):
        for room, watts in HEATER_W.items():
            grown_Wh = snaps[b][room][1] - snaps[a][room][1]
            want_Wh = watts * (b - a) / 3600.0
            assert abs(grown_Wh - want_Wh) <= 0.01 * want_Wh + 2, (room, a, b, grown_Wh, want_Wh)
        for room in set(range(ROOMS)) - set(HEATER_W):
            assert snaps[b][room][1] == snaps[a][room][1]    # no load, no energy
    # busy or waiting on its link all along, no thread was late for the watchdog
    assert not [ln for ln in qm.console.line_texts() if "watchdog" in ln]
