"""The basic app's time-of-use metering (firmware/apps/basic/tou.c, docs/meter_basic_app.md):
a day table compressed to one-minute periods cycles all four rates under a varying load, and
the energy by rate read over DL/T645 on RS-485 is the reference integral of the load per rate.

The meter books each sample to the rate in force, at the switch instants of its clock; the
metrology unit counts energy in 2 s line-cycle windows, so the split lags the switch by up to
2 s. Over real periods of hours that is nothing; in one-minute periods it would be 0.3 % at a
load step, so the load is the same base load for a few seconds around every switch instant and
varies inside the periods."""

from datetime import datetime, timedelta
from decimal import Decimal

import metersim
from metersim._units import PS_PER_S

START = datetime(2026, 12, 6, 10, 0, 0)         # both clocks after a cold start (a Sunday)
BASE_W = 500.0
# 10:01 sharp, 10:02 peak, 10:03 flat, 10:04 valley, 10:05 peak, 10:06 sharp (and on until
# 10:01 the next day)
TABLE = [(1, 1), (2, 2), (3, 3), (4, 4), (5, 2), (6, 1)]   # (minute, rate)
LOADS_W = [6000.0, 9000.0, 12000.0, 10500.0, 2500.0, 8000.0]  # inside each minute
END = len(TABLE) + 1


def at_ps(minute: int, second: float = 0.0) -> int:
    return int((minute * 60 + second) * PS_PER_S)


def day_table(rows) -> bytes:
    """hhmmNN rows as the 14H payload: NN, mm, hh each."""
    out = b""
    for hh, mm, nn in rows:
        out += bytes.fromhex(f"{nn:02d}{mm:02d}{hh:02d}")
    return out


def precise_kWh(raw: bytes) -> Decimal:
    """00E1RR00: XXXXXX.XXXXXX kWh, 6 BCD bytes."""
    return Decimal(raw[::-1].hex()) / 1000000


def set_load(m, power_W):
    m.unit.power_W = power_W


def test_a_compressed_day_books_each_rate_its_reference_energy(meter):
    m = meter(voltage_V=230.0, power_W=BASE_W)
    m.master.write(0x04010001, day_table([(10, mi, r) for mi, r in TABLE]))
    m.con.expect("tou: parameter 04010001 written", timeout="1s")

    m.emu.run_until_time(at_ps(0, 55))
    before = {rr: precise_kWh(m.master.read(0x00E10000 | rr << 8)) for rr in range(5)}
    t0 = m.emu.now_ps
    for i, load in enumerate(LOADS_W):            # inside minute i+1: 10:01:06 .. 10:01:54
        m.emu.run_until_time(at_ps(i + 1, 6))
        set_load(m, load)
        m.emu.run_until_time(at_ps(i + 1, 54))
        set_load(m, BASE_W)
    m.emu.run_until_time(at_ps(END, 3))
    after = {rr: precise_kWh(m.master.read(0x00E10000 | rr << 8)) for rr in range(5)}
    t1 = m.emu.now_ps

    # the reference integral per rate: minute boundaries of the clock, from t0 to t1
    edges = [t0] + [at_ps(mi) for mi, _ in TABLE] + [t1]
    rates = [1] + [r for _, r in TABLE]                  # before 10:01: sharp
    ref = {r: Decimal(0) for r in range(1, 5)}
    for (a, b), r in zip(zip(edges, edges[1:]), rates):
        ref[r] += Decimal(m.unit.reference_Wh(a, b)) / 1000
    for r in range(1, 5):
        got = after[r] - before[r]
        assert abs(got - ref[r]) <= ref[r] * Decimal("0.001"), (r, got, ref[r])
    total_ref = Decimal(m.unit.reference_Wh(t0, t1)) / 1000
    total = after[0] - before[0]
    assert abs(total - total_ref) <= total_ref * Decimal("0.0005"), (total, total_ref)
    assert abs(sum(after[r] - before[r] for r in range(1, 5)) - total) <= Decimal("0.000005")

    # the standard registers (XXXXXX.XX kWh) are the same energies to 0.01 kWh: by rate,
    # and the block 0001FF00 with the total first
    block = m.master.read(0x0001FF00)
    for rr in range(1, 5):
        std = Decimal(m.master.read(0x00010000 | rr << 8)[::-1].hex()) / 100
        assert std == after[rr].quantize(Decimal("0.01"), rounding="ROUND_DOWN"), (rr, std)
        assert block[4 * rr:4 * rr + 4] == metersim.dlt645.bcd_encode(str(std), 4, 2)
    # combined active by rate (forward + reverse; nothing reverse here) equals forward
    assert m.master.read(0x00000300) == m.master.read(0x00010300)
    assert m.master.read(0x00020300) == bytes(4)


def rate_now(m) -> int:
    """The rate in force, told by its price (02800021) with prices 1..4 set to 0.0001 .. 0.0004."""
    return int(Decimal(m.master.read(0x02800021)[::-1].hex()))


def test_holidays_rest_days_and_the_switch_to_the_other_tables(meter):
    m = meter(voltage_V=230.0, power_W=BASE_W)
    for r in range(1, 5):
        m.master.write(0x04050100 | r, metersim.dlt645.bcd_encode(str(r), 4, 0))
    # set 1, table 1: flat all day; table 2: valley all day; table 3: sharp all day
    m.master.write(0x04010001, day_table([(0, 0, 3)]))
    m.master.write(0x04010002, day_table([(0, 0, 4)]))
    m.master.write(0x04010003, day_table([(0, 0, 1)]))
    # set 2, table 1: peak from 00:00 (comes into force at the day-table switch)
    m.master.write(0x04020001, day_table([(0, 0, 2)]))
    assert rate_now(m) == 3                       # a working Sunday: zone 1 -> table 1
    m.master.write(0x04000801, bytes([0x7E]))     # Sunday rests (bit 0 clear)...
    m.master.write(0x04000802, bytes.fromhex("02"))   # ... on table 2
    assert rate_now(m) == 4
    m.master.write(0x04030001, bytes.fromhex("03061226"))   # 2026-12-06 a holiday: table 3
    assert rate_now(m) == 1
    m.master.write(0x04000205, bytes.fromhex("0000"))       # no holidays any more
    m.master.write(0x04000801, bytes([0x7F]))               # and no rest days
    assert rate_now(m) == 3
    # the day tables switch to set 2 at 10:01 (04000107, YYMMDDhhmm)
    m.master.write(0x04000107, bytes.fromhex("0110061226"))
    assert m.master.read(0x04000107) == bytes.fromhex("0110061226")
    m.emu.run_until_time(at_ps(1, 8))
    m.con.expect("tou: day tables switched to the other set", timeout="10ms")
    assert rate_now(m) == 2 and m.master.read(0x04000107) == bytes(5)
    assert m.master.read(0x04020001) == day_table([(0, 0, 3)])   # the old one is now set 2
    # kept across a restart of the management unit
    m.board.power_off()
    m.emu.run_for("1s")
    m.board.power_on()
    m.con.expect("tou: energy by rate from EEPROM", timeout="3s")
    assert rate_now(m) == 2
    # a meter clear (1AH) clears the metrology unit, and with it the energy by rate
    assert precise_kWh(m.master.read(0x00E10200)) > 0
    m.master.clear_meter()
    assert [precise_kWh(m.master.read(0x00E10000 | rr << 8)) for rr in range(1, 5)] == [0] * 4
    m.con.expect("tou: the metrology unit was cleared: energy by rate cleared", timeout="10ms")
