"""The basic app's freezing and power-down events over five days across a month boundary
(docs/meter_basic_app.md "Freezing", "Events"): three seeded whole-meter outages, one of them
spanning the whole of 1 February (and with it the month's settlement and two midnights).
Daily, monthly (settlement) and hourly freezes hold the energy at their instants, the missed
daily and monthly instants are frozen late with the energy at the power-down, and the
power-down records hold each outage's times.

Compression (tests/meter/meter_days.py): the meter runs for real only in windows of about 25 s
around four of the five midnights, under a large load so each window meters a visible amount;
between windows the whole meter is off and its battery-backed clocks are moved on by the
outage's length. The windows are shorter than the time-of-use module's once-a-minute record,
so at each start it re-books the energy since its first record over the whole time since
(its resynchronisation): the rates' split is its business, the freezes are checked to hold
what it has, and its rates to add up to the metered energy. About 30 s of wall time (60 s on a busy
machine)."""

import random
import struct
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from metersim.dlt645 import Dlt645Abnormal

from tests.meter.meter_days import MeterDays, bcd_kWh, bcd_time, block_kWh, rates_add_up

SEED = 20270201
START = datetime(2027, 1, 29, 23, 59, 48)
M = [datetime(2027, 1, 30) + timedelta(days=k) for k in range(5)]   # the five midnights


def tolerance_kWh(power_W: float) -> Decimal:
    """A live freeze's energy: the register's 0.01 kWh (floored), and the metrology unit's
    2 s window still being counted at the instant (plus the 0.3 s the freeze takes)."""
    return Decimal("0.01") + Decimal(power_W * 2.5 / 3.6e6).quantize(Decimal("0.0001"))


@pytest.fixture(scope="module")
def days(meter_image):
    rng = random.Random(SEED)
    loads = [rng.uniform(6000.0, 12000.0) for _ in range(4)]
    d = MeterDays(meter_image, START)
    cuts = []
    # window 1 (a new meter) across the midnight of 30 January; outage A to the next evening
    d.load(loads[0])
    d.run_until(M[0] + timedelta(seconds=rng.randint(6, 10)))
    d.outage(M[1] - timedelta(seconds=rng.randint(14, 18)))
    cuts.append(d.outages[-1])
    # window 2 across 31 January's midnight; outage B: all of 1 February and two midnights
    d.load(loads[1])
    d.run_until(M[1] + timedelta(seconds=rng.randint(6, 10)))
    d.outage(M[3] + timedelta(seconds=rng.randint(20, 40)))
    cuts.append(d.outages[-1])
    after_b = block_kWh(d.read(0x0001FF00))                  # no load yet: as at the cut
    # window 3 just after the midnight of 2 February; outage C to that evening
    d.load(loads[2])
    d.run_until(d.now() + timedelta(seconds=15))
    d.outage(M[4] - timedelta(seconds=rng.randint(14, 18)))
    cuts.append(d.outages[-1])
    # window 4 across the midnight of 3 February
    d.load(loads[3])
    d.run_until(M[4] + timedelta(seconds=8))
    d.loads, d.cuts, d.after_b = loads, cuts, after_b
    return d


def daily(d, nn):
    return bcd_time(d.read(0x05060000 | nn)), block_kWh(d.read(0x05060100 | nn))


def test_daily_freezes_hold_the_energy_at_each_midnight(days):
    d = days
    got = [daily(d, nn) for nn in (5, 4, 3, 2, 1)]           # oldest first
    assert [t for t, _ in got] == M
    with pytest.raises(Dlt645Abnormal):
        d.read(0x05060006)                                   # five made, no more
    stored = d.energy_kWh
    for k in (0, 1, 4):                                      # live: the meter was up
        total = got[k][1][0]
        ref = d.reference_kWh(M[k])
        assert abs(total - ref) <= tolerance_kWh(max(d.loads)), (M[k], total, ref)
    # supplementary: 1 and 2 February, with the energy at outage B's start (nothing metered
    # while the whole meter was off): the time-of-use module's energy by rate when it came back
    cut_b = d.cuts[1][0]
    for k in (2, 3):
        assert got[k][1] == d.after_b, (M[k], got[k], d.after_b)
        assert abs(got[k][1][0] - d.reference_kWh(cut_b)) <= Decimal("0.01"), (M[k], got[k])
    assert got[4][1][0] > got[2][1][0] > got[1][1][0] > got[0][1][0] > stored
    # rates: they add up to the energy since the meter was new (the rates start at zero
    # there), each register rounded down to 0.01 kWh; in the first window only flat
    # (21:00-24:00) ran before the first midnight
    for t, block in got:
        assert rates_add_up(block, stored), (t, block)
    assert got[0][1][1:3] == [0, 0] and got[0][1][3] >= Decimal("0.01"), got[0]


def test_the_settlement_and_hourly_freezes(days):
    d = days
    # 1 February 00:00 was missed: frozen late as the month's settlement, like the daily one
    feb1 = block_kWh(d.read(0x05060103))
    assert block_kWh(d.read(0x0001FF01)) == feb1
    assert bcd_kWh(d.read(0x00010001)) == feb1[0]
    with pytest.raises(Dlt645Abnormal):
        d.read(0x0001FF02)                                   # the only settlement so far
    # hourly freezes are made live only: the three midnights the meter was up
    assert [bcd_time(d.read(0x05040000 | nn)) for nn in (3, 2, 1)] == [M[0], M[1], M[4]]
    assert bcd_kWh(d.read(0x05040101)) == daily(d, 1)[1][0]
    with pytest.raises(Dlt645Abnormal):
        d.read(0x05040004)
    lines = d.console_lines(r"freeze: (\w+) (daily|monthly) freeze (\S+)")
    assert lines == [("the", "daily", "2027-01-30"), ("the", "daily", "2027-01-31"),
                     ("supplementary", "daily", "2027-02-01"),
                     ("supplementary", "monthly", "2027-02-01"),
                     ("supplementary", "daily", "2027-02-02"), ("the", "daily", "2027-02-03")]


def test_power_down_records_hold_each_outage(days):
    d = days
    assert d.read(0x03110000) == bytes.fromhex("030000")      # three, BCD
    for nn, (cut, back) in zip((3, 2, 1), d.cuts):
        raw = d.read(0x03110000 | nn)
        start, end = bcd_time(raw[:6]), bcd_time(raw[6:])
        # start: the last power-down freeze (made every minute) before the cut
        assert cut - timedelta(seconds=61) <= start <= cut, (nn, start, cut)
        assert start.second == 0
        # end: when the management unit came back
        assert back <= end <= back + timedelta(seconds=3), (nn, end, back)


def test_daily_and_monthly_freezes_are_backed_up_as_nor_files(days):
    """Each daily and monthly freeze is also a closed littlefs file on the NOR
    (/nor/freeze/<kind>/NN, NN its ring slot): mounted on the host, the files hold the records
    the meter reported closed, and a freeze whose two EEPROM copies are both bad is read from
    its file over DL/T645."""
    from metersim._campaign.meter_system import closed_files, lost_closed_files, nor_files

    d = days
    files = nor_files(bytes(d.mu["nor"].mem))
    assert sorted(files) == [f"/freeze/daily/0{k}" for k in range(1, 6)] + ["/freeze/monthly/01"]
    closed = closed_files(d.con.text)
    assert sorted(closed) == sorted(files) and lost_closed_files(closed, files) == []
    # a record: freeze number, CRC, instant (s since 2000), forward then reverse energy
    for k, nn in enumerate((5, 4, 3, 2, 1)):
        n, _crc, t = struct.unpack_from("<HHI", files[f"/freeze/daily/0{k + 1}"])
        assert n == k + 1 and datetime(2000, 1, 1) + timedelta(seconds=t) == M[k]
    # both EEPROM copies of the second-last daily freeze (number 4, ring slot 4) torn
    want = d.read(0x05060102)
    ee = d.mu["eeprom"]
    saved = ee.read_image()
    for base in (0x2000, 0x4100):                  # bapp.h BAPP_EE_FREEZE_A, _B; daily at +720
        ee.mem[base + 720 + 3 * 48 + 9] ^= 0x01
    try:
        mark = len(d.con.text)
        assert d.read(0x05060102) == want
        assert "freeze: daily freeze 4 from /nor/freeze/daily/04 (both EEPROM copies bad)" in d.con.text[mark:]
    finally:
        ee.mem[:] = list(saved)
