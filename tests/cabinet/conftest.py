import threading

import pytest

from metersim._cabinet.board import build_controller
from metersim._cabinet.modbus_master import ModbusMaster
from metersim._engine.emulation import Emulation


@pytest.fixture
def controller(firmware):
    """A booted 4-room controller and a Modbus master on its bus."""
    def make(channels=4, seed=1, **kw):
        emu = Emulation(seed=seed)
        board = build_controller(emu, channels=channels, elf=firmware("f103rb", "metering_controller"), **kw)
        return board, ModbusMaster(emu, board.bus)
    return make


def read_with_pymodbus(board, reads, timeout="30s"):
    """Read input registers with a pymodbus RTU client through the RS-485 bridge (a pty or TCP
    serial port onto the board's bus), the way a PC on the cabinet's RS-485 line would.

    `reads` is a list of (address, count); returns the register lists in that order. The
    emulation runs in real time meanwhile so the client's timeouts mean what they say."""
    from pymodbus.client import ModbusSerialClient
    from pymodbus.framer import FramerType

    from metersim.peripherals.rs485_bridge import Rs485Bridge

    emu = board.emu
    result, stop = {}, threading.Event()
    with Rs485Bridge(board.bus, tcp_port=0) as bridge:
        emu.pollers.append(bridge.poll)
        emu.realtime = True

        def client():
            c = ModbusSerialClient(bridge.url, framer=FramerType.RTU, baudrate=9600, timeout=3,
                                   retries=2)
            try:
                c.connect()
                result["regs"] = [c.read_input_registers(a, count=n, device_id=1) for a, n in reads]
            finally:
                c.close()
                stop.set()

        th = threading.Thread(target=client)
        th.start()
        try:
            emu.run_until(stop.is_set, timeout, "pymodbus client")
        finally:
            th.join(5)
            emu.realtime = False
            emu.pollers.remove(bridge.poll)
    bad = [rr for rr in result.get("regs", []) if rr.isError()]
    assert "regs" in result and not bad, f"pymodbus reads failed: {bad or 'no reply'}"
    return [rr.registers for rr in result["regs"]]


@pytest.fixture
def pymodbus_read():
    return read_with_pymodbus
