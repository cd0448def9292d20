"""The basic app's step tariff and control (firmware/apps/basic, docs/meter_basic_app.md): the
step changes when the period's consumption reaches the step value, at the instant the load
gives; local cost control alarms at its two thresholds, trips the relay at zero and closes it
on a top-up (the relay model's contact observed); DL/T645 1CH drives the same relay, keep-power
refuses trips, and a trip waits while the current is above the self-protection threshold."""

import math
from datetime import datetime
from decimal import Decimal

import pytest

from metersim.dlt645 import Dlt645Abnormal, bcd_encode
from metersim._units import PS_PER_S

LOAD_W = 11500.0
UNTIL = datetime(2026, 12, 7, 0, 0, 0)           # 1CH commands valid until then


def bcd(raw: bytes, decimals: int) -> Decimal:
    return Decimal(raw[::-1].hex()) / 10 ** decimals


def topup(m, yuan: str, number: int):
    m.master.write(0x04A20030, bcd_encode(yuan, 4, 2) + bcd_encode(str(number), 4, 0))


def relay_closed(m) -> bool:
    return m.board["relay"].closed


def test_step_crossing_cost_control_and_the_relay(meter):
    m = meter(voltage_V=230.0, power_W=LOAD_W)
    for r in range(1, 5):
        m.master.write(0x04050100 | r, bcd_encode("1.0000", 4, 4))
    m.master.write(0x04060101, bcd_encode("0", 4, 4))
    m.master.write(0x04060102, bcd_encode("9.0000", 4, 4))

    # the step: one step value 0.1 kWh above this month's consumption so far
    used = bcd(m.master.read(0x04A20011), 4)
    t_read = m.emu.now_ps
    step_kWh = (used + Decimal("0.10")).quantize(Decimal("0.01"), rounding="ROUND_UP")
    m.master.write(0x04060001, bcd_encode(str(step_kWh), 4, 2))
    m.master.write(0x04000207, bytes.fromhex("01"))
    assert bcd(m.master.read(0x0280000B), 4) == 0
    crossing_ps = t_read + int(float(step_kWh - used) * 3600e3 / LOAD_W * PS_PER_S)
    hit = m.con.expect("tou: step 2 from", timeout="60s")
    # sampled every 5 s from energy counted in 2 s windows: within those of the computed instant
    assert crossing_ps - 2.5 * PS_PER_S <= hit.time_ps <= crossing_ps + 7.5 * PS_PER_S, \
        ((hit.time_ps - crossing_ps) / PS_PER_S)
    assert bcd(m.master.read(0x0280000B), 4) == Decimal("9")
    assert bcd(m.master.read(0x02800020), 4) == Decimal("10")     # rate price + step price

    # cost control: thresholds, then the account opened with 1.00 yuan at 10 yuan/kWh
    assert not relay_closed(m)                    # the board's relay starts open
    m.master.write(0x04001001, bcd_encode("0.50", 4, 2))
    m.master.write(0x04001002, bcd_encode("0.25", 4, 2))
    topup(m, "1.00", 1)
    m.con.expect("control: relay close, feedback closed", timeout="1s")
    assert relay_closed(m)
    with pytest.raises(Dlt645Abnormal):
        topup(m, "5.00", 1)                       # the same purchase twice: refused
    # a read of the money used (04A20012) charges the energy up to now: the remaining money
    # read next is exact to its 0.01 yuan, and tells when each threshold is due
    m.master.read(0x04A20012)
    t0 = m.emu.now_ps
    remaining = float(bcd(m.master.read(0x00900200), 2))
    assert 0.50 < remaining <= 1.00           # less what was used since the last charge
    yuan_per_s = 10 * LOAD_W / 3600e3
    for line, left in (("control: alarm 1", 0.50), ("control: alarm 2", 0.25),
                       ("control: money used up, trip", 0.0)):
        hit = m.con.expect(line, timeout="30s")
        due = t0 + (remaining - left) / yuan_per_s * PS_PER_S
        assert due - 2.5 * PS_PER_S <= hit.time_ps <= due + 7.5 * PS_PER_S, (line, (hit.time_ps - due) / PS_PER_S)
        status3 = int.from_bytes(m.master.read(0x04000503), "little")
        assert status3 & 0x80                     # bit 7: alarm
    m.con.expect("control: relay open, feedback open", timeout="1s")
    assert not relay_closed(m)
    status3 = int.from_bytes(m.master.read(0x04000503), "little")
    assert status3 & 0x10 and status3 & 0x40      # relay open, trip commanded
    assert m.master.read(0x00900200) == bytes(4)
    assert bcd(m.master.read(0x00900201), 2) > 0  # what was used after zero, until the trip
    with pytest.raises(Dlt645Abnormal):
        m.master.relay(0x1C, UNTIL)               # a direct close while the money is out
    topup(m, "1.00", 2)
    m.con.expect("control: money restored, close", timeout="1s")
    m.con.expect("control: relay close, feedback closed", timeout="1s")
    assert relay_closed(m)
    assert Decimal("0.80") <= bcd(m.master.read(0x00900200), 2) <= Decimal("1.00")

    # remote control: trip and direct close; keep-power refuses trips
    m.master.relay(0x1A, UNTIL)
    assert not relay_closed(m)
    m.master.relay(0x1C, UNTIL)
    assert relay_closed(m)
    m.master.relay(0x3A, UNTIL)
    with pytest.raises(Dlt645Abnormal):
        m.master.relay(0x1A, UNTIL)
    assert relay_closed(m)
    m.master.relay(0x3B, UNTIL)

    # self-protection: 50 A flows, the threshold is 40 A: the trip waits for the current to fall
    m.master.write(0x04A20020, bcd_encode("40.000", 3, 3))
    m.master.relay(0x1A, UNTIL)
    m.con.expect("control: trip held back, current", timeout="1s")
    m.emu.run_for("3s")
    assert relay_closed(m)
    m.unit.power_W = 2000.0
    m.con.expect("control: relay open, feedback open", timeout="3s")
    assert not relay_closed(m)
