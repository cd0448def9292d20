"""The meter's part of `make demo` (`metersim demo`): the new-generation meter (management unit
from its factory image, metrology unit on its UART) through a virtual day shortened to five
minutes: its day table switches the four rates every minute (the periods of a day, one
minute each) while the load changes inside each period; a DL/T645-2007 master on RS-485 sets
the table and reads the energy by rate, printed beside the reference integral of the load per
rate; then the page key steps the LCD through its key list, and the LCD goes to a PNG.

The metrology unit counts energy in 2 s line-cycle windows, so the meter's split lags a switch
instant by up to 2 s: the load is the same base load for a few seconds around each switch
(over real periods of hours the lag is nothing; in one-minute periods it would show)."""

from __future__ import annotations

import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from metersim._units import PS_PER_S
from metersim.dlt645 import bcd_encode

START_HHMM = (10, 0)                       # the meter's clock after a cold start
RATE_NAMES = {1: "sharp", 2: "peak", 3: "flat", 4: "valley"}
# (minute after 10:00, rate): the day's periods, one minute each; the load inside each
PERIODS = [(1, 1), (2, 2), (3, 3), (4, 4)]
LOADS_W = [6000.0, 9000.0, 3000.0, 7500.0]
TOPUP_YUAN = "50.00"
BASE_W = 500.0
VOLTAGE_V = 230.0


def manifest() -> Path:
    from metersim._resources import platforms_dir

    return platforms_dir() / "images" / "meter_mu.yaml"


def _at_ps(minute: int, second: float = 0.0) -> int:
    return int((minute * 60 + second) * PS_PER_S)


def _day_table(periods) -> bytes:
    """hh mm NN rows as the 14H payload of 0401000n: NN, mm, hh each (BCD)."""
    hh, mm = START_HHMM
    out = b""
    for minute, rate in periods:
        out += bytes.fromhex(f"{rate:02d}{mm + minute:02d}{hh:02d}")
    return out


def _kWh(raw: bytes) -> Decimal:
    """00E1RR00: XXXXXX.XXXXXX kWh (6 BCD bytes)."""
    return Decimal(raw[::-1].hex()) / 1000000


def run_meter_demo(out=sys.stdout, picture: Path | None = None, seed: int = 1) -> dict:
    """Runs the shortened day; returns {rate: (read_kWh, reference_kWh)} (rate 0: total)."""
    import metersim
    from metersim._image.pack import pack

    wall0 = time.perf_counter()
    emu = metersim.Emulation(seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "meter_mu.bin"
        image.write_bytes(pack(manifest()))
        meter = metersim.build_meter(emu, image, voltage_V=VOLTAGE_V,
                                     current_A=BASE_W / VOLTAGE_V, power_W=BASE_W)
    board, unit = meter.mu, meter.unit
    reader = board["rs485Bus"].attach_host("reader", baud=2400, parity="E")
    con = metersim.capture_uart(board)
    master = metersim.dlt645.Master(emu, reader)
    con.expect("display: ", timeout="5s")          # the display starts before the sync
    con.expect("metering: metrology unit synchronised", timeout="3s")

    def load(power_W: float) -> None:
        unit.set_load(VOLTAGE_V, power_W / VOLTAGE_V, power_W)

    master.write(0x04010001, _day_table(PERIODS))
    master.write(0x04A20030, bcd_encode(TOPUP_YUAN, 4, 2) + bcd_encode("1", 4, 0))  # purchase 1
    out.write(f"meter: management unit (STM32F413, RTOS, services, basic app) + metrology unit "
              f"(STM32F103 + ADE7753)\na virtual day shortened to {len(PERIODS) + 1} minutes: "
              f"the day table switches rates every minute from 10:01 "
              f"({', '.join(RATE_NAMES[r] for _, r in PERIODS)}); the load changes inside "
              f"each period; {TOPUP_YUAN} yuan bought\n")
    emu.run_until_time(_at_ps(0, 55))
    before = {rr: _kWh(master.read(0x00E10000 | rr << 8)) for rr in range(5)}
    t0 = emu.now_ps
    lcd = board["lcd"]
    for i, power_W in enumerate(LOADS_W):
        emu.run_until_time(_at_ps(i + 1, 6))
        load(power_W)
        emu.run_until_time(_at_ps(i + 1, 54))
        out.write(f"  10:{i + 1:02d} {RATE_NAMES[PERIODS[i][1]]:6} {power_W:6.0f} W   "
                  f"LCD {lcd.text()!r}\n")
        out.flush()
        load(BASE_W)
    emu.run_until_time(_at_ps(len(PERIODS) + 1, 3))
    after = {rr: _kWh(master.read(0x00E10000 | rr << 8)) for rr in range(5)}
    t1 = emu.now_ps

    edges = [t0] + [_at_ps(minute) for minute, _ in PERIODS] + [_at_ps(len(PERIODS) + 1), t1]
    wrap = PERIODS[-1][1]                             # the last period runs on to 10:01
    rates = [wrap] + [r for _, r in PERIODS] + [wrap]
    ref = {r: Decimal(0) for r in range(5)}
    for (a, b), r in zip(zip(edges, edges[1:]), rates):
        ref[r] += Decimal(unit.reference_Wh(a, b)) / 1000
    ref[0] = Decimal(unit.reference_Wh(t0, t1)) / 1000
    result = {}
    out.write("\nenergy by rate, read over DL/T645 (00E1RR00) beside the reference integral "
              "of the load\n  rate        meter kWh   reference kWh   difference\n")
    for rr in (1, 2, 3, 4, 0):
        got = after[rr] - before[rr]
        result[rr] = (got, ref[rr])
        diff = (got - ref[rr]) / ref[rr] * 100 if ref[rr] else Decimal(0)
        out.write(f"  {RATE_NAMES.get(rr, 'total'):8} {got:12.4f} {ref[rr]:15.4f} "
                  f"{diff:+11.3f} %\n")

    out.write("\nthe LCD's key list, one press of the page key each:\n")
    page = board["keyPage"]
    for _ in range(11):
        page.press_and_release()
        emu.run_for("400ms")
        out.write(f"  {lcd.text()}\n")
    for _ in range(2):                                # the list again: total, then sharp
        page.press_and_release()
        emu.run_for("400ms")
    if picture is not None:
        lcd.png(picture)
        out.write(f"LCD picture: {picture} ({lcd.text()!r})\n")
    out.write(f"{emu.summary()}\nwall time {time.perf_counter() - wall0:.1f} s\n")
    return result
