"""A meter (both units) living through calendar days with whole-meter outages, cheaply: the
basic app's freezing and event tests (tests/meter/test_meter_basic_freeze.py) and the 40-day
benchmark (benchmarks/meter_freeze_days.py) drive it.

How the days are compressed. The meter runs for real only in short windows around the
instants that matter (a minute or so around a midnight); between windows the whole meter is
off, both units. While it is off nothing runs but the two battery-backed RTCs, so an outage is
emulated as a real supply failure of both units (PVD, 20 ms hold-up, power off), 0.2 s of
emulated time, and both RTC calendars moved on to the outage's end, then the supply back
(power-on reset, boot from the factory image). The firmware cannot tell this from an outage
of that length: the clocks are all it has across one. The load is switched off 4 s before each
outage (the mains failure takes the load with it; the metrology unit's unsaved partial 2 s
window then holds nothing, docs/meter_metrology_unit.md "Not done yet"). The reference energy
is the integral of the load the metrology unit was given, which is zero during outages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import metersim
from metersim._orchestration.power import SUPPLY_NOMINAL_V, set_supply_V
from metersim._units import PS_PER_S

from tests.meter.conftest import started

EPOCH_2000 = datetime(2000, 1, 1)
LOAD_OFF_S = 4                   # the load goes this long before an outage


def bcd_time(raw: bytes) -> datetime:
    """YYMMDDhhmm(ss), least significant byte first."""
    f = [int(f"{b:02x}") for b in raw]
    if len(f) == 5:
        f = [0] + f
    ss, mi, hh, dd, mo, yy = f
    return datetime(2000 + yy, mo, dd, hh, mi, ss)


def bcd_kWh(raw: bytes) -> Decimal:
    """XXXXXX.XX kWh, 4 BCD bytes least significant first."""
    return Decimal(raw[::-1].hex()) / 100


def block_kWh(raw: bytes) -> list[Decimal]:
    """Total and rates 1..4 of a 20-byte energy block."""
    return [bcd_kWh(raw[4 * i:4 * i + 4]) for i in range(len(raw) // 4)]


def rates_add_up(block, stored) -> bool:
    """Total and four rates, each rounded down to 0.01 kWh: the rates' sum is below the
    energy since the start by less than 0.04 (four roundings), above it by less than 0.01."""
    gap = (block[0] - stored) - sum(block[1:])
    return Decimal("-0.01") < gap < Decimal("0.04")


@dataclass
class Window:
    start_ps: int
    start: datetime              # the meters' clocks at start_ps
    end: datetime | None = None


@dataclass
class MeterDays:
    image: object
    start: datetime
    energy_kWh: Decimal = Decimal("1234.56")
    seed: int = 1
    windows: list[Window] = field(default_factory=list)
    outages: list[tuple[datetime, datetime]] = field(default_factory=list)

    def __post_init__(self):
        self.emu = metersim.Emulation(seed=self.seed)
        meter = metersim.build_meter(self.emu, self.image, voltage_V=230.0, power_W=0.0,
                                     energy_kWh=float(self.energy_kWh))
        self.mu, self.unit = meter.mu, meter.unit
        self.con = metersim.capture_uart(self.mu)
        rs485 = self.mu["rs485Bus"].attach_host("reader", baud=2400, parity="E")
        self.master = metersim.dlt645.Master(self.emu, rs485)
        # the factory: a first power-on starts both RTCs (the firmware inits a cold backup
        # domain and marks it), then, before the basic app keeps anything, the clocks are set
        unit_con = metersim.capture_uart(self.unit.machine)
        unit_con.expect("metrology: link on", timeout="3s")
        self.con.expect("vbus: pipes ready", timeout="2s")
        self.mu.power_off()
        self.unit.machine.power_off()
        self._set_clocks(self.start)
        self.mu.power_on()
        self.unit.machine.power_on()
        self._up(self.start)

    # -- time -----------------------------------------------------------------------------
    def _set_clocks(self, when: datetime) -> None:
        self.mu["rtc"].set_datetime(when)
        self.unit["rtc"].set_datetime(when, epoch=EPOCH_2000)

    def now(self) -> datetime:
        """The meter's time (its clocks run exactly at their rate from a window's start)."""
        w = self.windows[-1]
        return w.start + timedelta(seconds=(self.emu.now_ps - w.start_ps) / PS_PER_S)

    def run_until(self, when: datetime) -> None:
        ps = round((when - self.now()).total_seconds() * PS_PER_S)
        if ps < 0:
            raise ValueError(f"{when} is before the meter's time {self.now()}")
        self.emu.run_until_time(self.emu.now_ps + ps)

    def _ps_at(self, when: datetime) -> int:
        """The emulated instant of meter time `when` (an outage's: its window's end)."""
        for w in reversed(self.windows):
            if w.start <= when:
                end = w.end or self.now()
                return w.start_ps + round((min(when, end) - w.start).total_seconds() * PS_PER_S)
        return 0

    def reference_kWh(self, at: datetime | None = None) -> Decimal:
        """The stored energy plus the integral of the load up to meter time `at` (default now)."""
        ps = self.emu.now_ps if at is None else self._ps_at(at)
        return self.energy_kWh + Decimal(self.unit.reference_Wh(0, ps) / 1000).quantize(Decimal("0.000001"))

    # -- power ----------------------------------------------------------------------------
    def _up(self, when: datetime) -> None:
        self.windows.append(Window(self.emu.now_ps, when))
        started(self.con, "freeze: running at", timeout="8s")

    def load(self, power_W: float) -> None:
        self.unit.power_W = power_W

    def outage(self, until: datetime) -> None:
        """The load off now, the whole meter off LOAD_OFF_S later until meter time `until`."""
        self.load(0.0)
        self.run_until(self.now() + timedelta(seconds=LOAD_OFF_S))
        cut = self.now()
        for m in (self.mu, self.unit.machine):
            set_supply_V(m, 2.0)                    # PVD in both units
        self.emu.run_for("20ms")                    # hold-up
        self.mu.power_off()
        self.unit.machine.power_off()
        self.windows[-1].end = self.now()
        self.emu.run_for("200ms")
        self.outages.append((cut, until))
        self._set_clocks(until)
        for m in (self.mu, self.unit.machine):
            set_supply_V(m, SUPPLY_NOMINAL_V)
            m.power_on()
        self._up(until)

    # -- reading ----------------------------------------------------------------------------
    def read(self, di: int) -> bytes:
        return self.master.read(di)

    def console_lines(self, pattern: str) -> list[str]:
        return re.findall(pattern, self.con.text)
