"""A booted meter: the management unit from its factory image (platforms/images/meter_mu.yaml:
the bootloader, the RTOS image meter_mu with the virtual bus and the services, the extended app
LOADID in flashfs, started by the RTOS's loader) and the metrology unit (STM32F103 + ADE7753,
firmware/targets/metrology_unit) on its UART5, built by metersim.build_meter; a DL/T645 master
on RS-485 and one on IR."""

import re
from dataclasses import dataclass

import pytest

import metersim

from tests.conftest import REPO

MANIFEST = REPO / "platforms/images/meter_mu.yaml"


@dataclass
class Meter:
    emu: object
    board: object
    con: object
    unit: object         # metersim.MetrologyUnit: the load it measures, its EEPROM, the link
    rs485: object        # the reader's endpoint on the RS-485 bus
    master: object       # metersim.dlt645.Master on rs485
    ir: object           # metersim.dlt645.Master on the IR port

    def trace_on(self):
        self.con.write("vbus trace on\r")
        self.con.expect("vbus: trace on", timeout="1s")


def started(con, *lines, timeout="2s"):
    """Wait for the start's end and `lines`, in whatever order the processes print them: the
    kernel's "meter: started" once it created them, the communication service's port line
    once it has its settings from the EEPROM (later on a first start, which writes them)."""
    left = ["meter: started", "com: DL/T645-2007 on rs485"] + list(lines)
    while left:
        hit = con.expect(re.compile("|".join(re.escape(x) for x in left)), timeout=timeout)
        left = [x for x in left if x not in hit.line]


@pytest.fixture
def meter(meter_image):
    def make(seed=1, **unit):
        """unit: the load (voltage_V, current_A, power_W; power_W alone means power factor 1)
        and the metrology unit's stored energy (energy_kWh forward, reverse_kWh)."""
        emu = metersim.Emulation(seed=seed)
        values = dict(voltage_V=220.1, current_A=5.123, power_W=1123.4, energy_kWh=1234.56)
        if "power_W" in unit and "current_A" not in unit:
            values["current_A"] = abs(unit["power_W"]) / unit.get("voltage_V", values["voltage_V"])
        values.update(unit)
        meter = metersim.build_meter(emu, meter_image, **values)
        board = meter.mu
        rs485 = board["rs485Bus"].attach_host("reader", baud=2400, parity="E")
        con = metersim.capture_uart(board)
        started(con, "loadid: registered as 50", "metering: metrology unit synchronised")
        return Meter(emu, board, con, meter.unit, rs485, metersim.dlt645.Master(emu, rs485),
                     metersim.dlt645.Master(emu, board["ir"]))
    return make
