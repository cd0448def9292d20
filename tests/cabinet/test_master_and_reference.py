"""The Modbus master against a Python slave on the bus (no firmware), and the reference
energy following relay and mains."""

import pytest

from metersim._cabinet.board import build_controller
from metersim._cabinet.checks import reference_energy_Wh
from metersim._cabinet.modbus_master import ModbusMaster
from metersim._protocols.modbus.errors import ModbusException, ModbusTimeout
from metersim._protocols.modbus.framer import encode_adu
from metersim._cabinet.scenario import RoomLoad, attach_rooms
from metersim._engine.emulation import Emulation
from metersim._orchestration.appliances import ResistiveHeater
from metersim.peripherals.rs485 import Rs485Bus
from metersim.peripherals.base import Context
from metersim._units import PS_PER_MS, PS_PER_S


class Slave:
    def __init__(self, bus, clock):
        self.ep, self.clock, self.buf, self.t = bus.attach_host("slave"), clock, bytearray(), None
        self.ep.on_receive(self.byte)

    def byte(self, v, frame):
        self.buf.append(v)
        if self.t:
            self.t.cancel()
        self.t = self.clock.schedule(4 * PS_PER_MS, self.frame)

    def frame(self):
        req, self.buf = bytes(self.buf), bytearray()
        if req[0] != 1:
            return
        if req[1] == 4:
            n = req[5]
            body = bytes([1, 4, 2 * n]) + b"".join((0x1234 + i).to_bytes(2, "big") for i in range(n))
        else:
            body = bytes([1, req[1] | 0x80, 2])
        self.ep.send(encode_adu(body[0], body[1:]), at_ps=self.clock.now_ps + PS_PER_MS)


def master_and_slave():
    emu = Emulation()
    bus = Rs485Bus(Context(emu.clock, "bus"))
    return ModbusMaster(emu, bus, timeout="200ms"), Slave(bus, emu.clock), emu


def test_reads_decode_and_exceptions_raise():
    m, _, emu = master_and_slave()
    assert m.read_input(0x10, 3) == [0x1234, 0x1235, 0x1236]
    with pytest.raises(ModbusException) as e:
        m.read_holding(0)
    assert e.value.code == 2
    t0 = emu.now_ps
    with pytest.raises(ModbusTimeout, match="slave 9"):
        m.read_input(0, 1, address=9)
    assert emu.now_ps - t0 >= 200 * PS_PER_MS           # waited in virtual time


def test_master_leaves_three_and_a_half_characters_between_frames():
    m, s, emu = master_and_slave()
    m.read_input(0, 1)
    m.read_input(0, 1)
    starts = [r.start_ps for r in m.link.bus.tap if r.driver == "master"]
    ends = [r.end_ps for r in m.link.bus.tap if r.driver == "slave"]
    assert starts[8] - ends[6] >= m.timing.t35_ps              # second request after the first reply


def test_a_closed_master_is_off_the_bus_and_hears_nothing_more():
    m, s, emu = master_and_slave()
    assert m.read_input(0x10, 1) == [0x1234]
    heard = len(m.frames)
    m.close()
    assert m.link.endpoint not in m.link.bus.nodes
    s.ep.send(encode_adu(1, bytes([4, 2, 0x12, 0x34])))      # a reply nobody asked for
    emu.run_for("50ms")
    assert len(m.frames) == heard and m.gap_errors == 0
    assert [r.driver for r in m.link.bus.tap][-6:] == ["slave"] * 6   # it was on the line


def test_reference_counts_only_while_relay_closed_and_mains_up():
    emu = Emulation()
    board = build_controller(emu)
    board.machine.powered = False                        # no firmware: only the models run
    attach_rooms(board, [RoomLoad("h", [ResistiveHeater(3600.0)])])
    relay = board.relays[0]
    emu.run_until_time(10 * PS_PER_S)
    assert reference_energy_Wh(board, 0) == 0.0          # relay open
    relay.on_gpio(0, True)
    emu.run_until_time(10 * PS_PER_S + 20 * PS_PER_MS)
    relay.on_gpio(0, False)
    emu.run_until_time(20 * PS_PER_S + 10 * PS_PER_MS)
    board.set_mains(False)
    emu.run_until_time(30 * PS_PER_S + 10 * PS_PER_MS)
    board.set_mains(True)
    emu.run_until_time(40 * PS_PER_S + 10 * PS_PER_MS)
    # closed from 10.010 s; mains off 20.010..30.010 s: 20 s of 3600 W
    assert reference_energy_Wh(board, 0) == pytest.approx(20.0, rel=1e-6)
    ade_Wh = board.ades[0].peek("AENERGY") * board.ades[0].energy_lsb_Wh()
    assert ade_Wh == pytest.approx(20.0, rel=0.002)      # the chip saw the same current


def test_a_capture_on_the_bus_sees_the_masters_exchanges_as_separate_frames(tmp_path):
    """The master's silence before a request is at least the t3.5 a receiver on the line
    measures (it was a few picoseconds short, and the pcap glued reply and next request)."""
    from metersim._traces.pcap import capture_rs485_pcap

    m, _, emu = master_and_slave()
    cap = capture_rs485_pcap(m.link.bus, tmp_path / "bus.pcap", master="master")
    for i in range(3):
        m.read_input(i, 1)
    cap.close()
    assert [f.driver for f in cap.frames] == ["master", "slave"] * 3
    assert (cap.valid, cap.invalid) == (6, 0)
