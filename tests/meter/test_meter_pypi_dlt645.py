"""An independent master: PyPI `dlt645` 3.2.0 (its RTU client over a socket:// serial URL)
reads the meter through the RS-485 bridge, as a PC with a USB-RS485 converter would.

Its quirks are worked around here, never in the firmware (reference §8.1): Q1, it sends the
address in string order, so it gets the wire order "563412000000"; it cannot build 1CH relay
commands nor 12H follow-ups (not used here)."""

import threading

import pytest
from dlt645.service.clientsvc import client_service as dlt645_client


def test_pypi_dlt645_reads_energy_voltage_current_and_address(meter):
    m = meter()
    from metersim.peripherals.rs485_bridge import Rs485Bridge

    result, stop = {}, threading.Event()
    with Rs485Bridge(m.board["rs485Bus"], baud=2400, parity="E", tcp_port=0) as bridge:
        m.emu.pollers.append(bridge.poll)
        m.emu.realtime = True

        def client():
            c = dlt645_client.MeterClientService.new_rtu_client(
                port=bridge.url, baudrate=2400, databits=8, stopbits=1, parity="E", timeout=5.0)
            try:
                c.set_address("563412000000")               # quirk Q1: wire order
                result["energy"] = c.read_00(0x00010000)
                result["voltage"] = c.read_02(0x02010100)
                result["current"] = c.read_02(0x02020100)
                result["address"] = c.read_address()
            finally:
                c.client.disconnect()
                stop.set()

        th = threading.Thread(target=client)
        th.start()
        try:
            m.emu.run_until(stop.is_set, "60s", "dlt645 client")
        finally:
            th.join(10)
            m.emu.realtime = False
            m.emu.pollers.remove(bridge.poll)
    assert result["energy"] is not None and result["energy"].value == pytest.approx(1234.56)
    assert result["voltage"].value == pytest.approx(220.1)
    assert result["current"].value == pytest.approx(5.123)
    assert result["address"].value == "563412000000"        # Q1: wire order as a string
    assert bridge.bytes_in > 0 and bridge.bytes_out > 0
