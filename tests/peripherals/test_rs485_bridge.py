import os
import socket
import threading
import time

import pytest

from metersim._errors import SetupError
from metersim._units import PS_PER_MS, PS_PER_S
from metersim.peripherals.base import Context
from metersim.peripherals.rs485 import Rs485Bus
from metersim.peripherals.rs485_bridge import Rs485Bridge


def crc16_modbus(data: bytes) -> bytes:
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


class ModbusResponder:
    """A Python Modbus RTU slave on the bus: frames end after 3.5 idle characters (virtual time),
    function 03 answers holding registers 1000 + address."""

    def __init__(self, bus, device_id=1, baud=9600):
        self.ep = bus.attach_host(f"slave{device_id}", baud=baud)
        self.clock = bus.ctx.clock
        self.device_id = device_id
        self.char_ps = 10 * PS_PER_S // baud
        self.buf = bytearray()
        self.timer = None
        self.requests = []
        self.ep.on_receive(self._byte)

    def _byte(self, value, frame):
        self.buf.append(value)
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.clock.schedule(self.char_ps * 7 // 2, self._frame_end)

    def _frame_end(self):
        req, self.buf = bytes(self.buf), bytearray()
        if len(req) < 4 or crc16_modbus(req[:-2]) != req[-2:] or req[0] != self.device_id:
            return
        self.requests.append(req)
        if req[1] == 3:
            addr, count = int.from_bytes(req[2:4], "big"), int.from_bytes(req[4:6], "big")
            body = bytes([self.device_id, 3, 2 * count]) + b"".join(
                (1000 + addr + i).to_bytes(2, "big") for i in range(count))
        else:
            body = bytes([self.device_id, req[1] | 0x80, 1])
        self.ep.send(body + crc16_modbus(body), at_ps=self.clock.now_ps + PS_PER_MS)


def pump(ctx, bridge, done, wall_s=8.0):
    """Run virtual time at about real time while an external client talks."""
    t_end = time.monotonic() + wall_s
    while not done() and time.monotonic() < t_end:
        ctx.clock.run_for(PS_PER_MS)
        bridge.poll()
        time.sleep(0.0005)


def test_needs_an_endpoint():
    with pytest.raises(SetupError, match="tcp_port"):
        Rs485Bridge(Rs485Bus(Context.standalone()))


def test_raw_socket_client_round_trip_through_the_bus():
    ctx = Context.standalone("bus")
    bus = Rs485Bus(ctx)
    responder = ModbusResponder(bus)
    with Rs485Bridge(bus, tcp_port=0) as bridge:
        sock = socket.create_connection(("127.0.0.1", bridge.port))
        sock.settimeout(0.01)
        request = bytes.fromhex("010300000001840A")
        sock.sendall(request)
        reply = bytearray()

        def got_reply():
            try:
                reply.extend(sock.recv(64))
            except socket.timeout:
                pass
            return len(reply) >= 7

        pump(ctx, bridge, got_reply)
        sock.close()
    assert responder.requests == [request]
    body = bytes([1, 3, 2]) + (1000).to_bytes(2, "big")
    assert bytes(reply) == body + crc16_modbus(body)
    # the request went over the bus at 9600 baud: 8 characters after the bridge saw it
    req_frames = [r for r in bus.tap if r.driver == "bridge"]
    assert len(req_frames) == 8
    assert abs(req_frames[-1].end_ps - req_frames[0].start_ps - 8 * 10 * PS_PER_S / 9600) < 10


def test_pymodbus_client_reads_registers_from_a_node_on_the_bus():
    from pymodbus.client import ModbusSerialClient
    from pymodbus.framer import FramerType

    ctx = Context.standalone("bus")
    bus = Rs485Bus(ctx)
    ModbusResponder(bus, device_id=7)
    result = {}
    with Rs485Bridge(bus, tcp_port=0) as bridge:
        def client():
            c = ModbusSerialClient(bridge.url, framer=FramerType.RTU, baudrate=9600, timeout=3, retries=1)
            try:
                c.connect()
                result["rr"] = c.read_holding_registers(10, count=3, device_id=7)
            finally:
                c.close()

        th = threading.Thread(target=client)
        th.start()
        pump(ctx, bridge, lambda: not th.is_alive())
        th.join(5)
    rr = result["rr"]
    assert not rr.isError()
    assert rr.registers == [1010, 1011, 1012]


def test_pty_client_round_trip():
    import serial

    ctx = Context.standalone("bus")
    bus = Rs485Bus(ctx)
    ModbusResponder(bus, device_id=2)
    with Rs485Bridge(bus, pty=True) as bridge:
        assert os.path.exists(bridge.pty_path)
        port = serial.Serial(bridge.pty_path, 9600, timeout=0)
        body = bytes([2, 3, 0, 5, 0, 1])
        port.write(body + crc16_modbus(body))
        reply = bytearray()

        def got():
            reply.extend(port.read(64))
            return len(reply) >= 7

        pump(ctx, bridge, got)
        port.close()
    expect = bytes([2, 3, 2]) + (1005).to_bytes(2, "big")
    assert bytes(reply) == expect + crc16_modbus(expect)


def test_bus_traffic_reaches_every_client_and_client_bytes_are_paced():
    ctx = Context.standalone("bus")
    bus = Rs485Bus(ctx)
    meter = bus.attach_host("meter")
    with Rs485Bridge(bus, tcp_port=0, baud=9600) as bridge:
        a = socket.create_connection(("127.0.0.1", bridge.port))
        b = socket.create_connection(("127.0.0.1", bridge.port))
        pump(ctx, bridge, lambda: len(bridge._clients) == 2, wall_s=2)
        meter.send(b"hello")
        ctx.clock.run_for(10 * PS_PER_MS)
        bridge.poll()
        a.settimeout(2)
        b.settimeout(2)
        assert a.recv(16) == b"hello" and b.recv(16) == b"hello"
        a.sendall(b"xyz")
        deadline = time.monotonic() + 2
        while bridge.bytes_in < 3 and time.monotonic() < deadline:
            bridge.poll()
            time.sleep(0.001)
        t0 = ctx.clock.now_ps
        ctx.clock.run_for(10 * PS_PER_MS)
        a.close()
        b.close()
    assert meter.read() == b"xyz"
    starts = [r.start_ps - t0 for r in bus.tap if r.driver == "bridge"]
    char_ps = 10 * PS_PER_S / 9600
    assert starts[0] == 0 and abs(starts[2] - 2 * char_ps) < 2
