"""The basic app's event records and commanded freezes on one meter, each checked with its time
(docs/meter_basic_app.md "Events", "Freezing"): programming (14H, with the operator code),
terminal cover open and close (the switch on PC2), relay trip and close (1CH), instantaneous
and timed freezes (16H), the management unit unplugged across the daily freeze's instant (the
missed freeze takes the metrology unit's interval freeze), clock change, event clear (1BH),
meter clear (1AH), over- and under-voltage (the metering service's voltage). One boot and
about five minutes of meter time, most of it with the management unit unplugged; about 25 s
of wall time on an idle machine."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from metersim.dlt645 import RELAY_CLOSE, RELAY_TRIP, Dlt645Abnormal, operator_field
from metersim._orchestration.power import SUPPLY_NOMINAL_V, set_supply_V

from tests.meter.conftest import started
from tests.meter.meter_days import MeterDays, bcd_kWh, bcd_time, block_kWh

START = datetime(2027, 3, 10, 10, 12, 30)
OPERATOR = "11223344"
LOAD_W = 8000.0


def count(d, di):
    return int(d.read(di)[::-1].hex())


def near(got, want, s=2):
    return want - timedelta(seconds=1) <= got <= want + timedelta(seconds=s)


@pytest.fixture(scope="module")
def meter(meter_image):
    d = MeterDays(meter_image, START)
    d.load(LOAD_W)
    return d


def test_programming_cover_relay_and_commanded_freezes(meter):
    d = meter
    # programming: the daily freeze at 10:15 (04001203, hhmm), by operator 11223344
    at = d.now()
    d.master.write(0x04001203, bytes([0x15, 0x10]), operator=OPERATOR)
    assert d.read(0x04001203) == bytes([0x15, 0x10])
    assert count(d, 0x03300000) == 1
    rec = d.read(0x03300001)
    assert near(bcd_time(rec[:6]), at.replace(microsecond=0))
    assert rec[6:10] == operator_field(OPERATOR)
    assert rec[10:14] == (0x04001203).to_bytes(4, "little") and rec[14:] == b"\xff" * 36

    # the terminal cover opened for 5 s
    opened = d.now()
    d.mu["cover"].open_cover()
    d.run_until(opened + timedelta(seconds=5))
    closed = d.now()
    d.mu["cover"].close_cover()
    d.run_until(closed + timedelta(seconds=2))
    assert count(d, 0x03300D00) == 1
    rec = d.read(0x03300D01)
    assert near(bcd_time(rec[:6]), opened) and near(bcd_time(rec[6:12]), closed)
    assert bcd_kWh(rec[12:16]) < bcd_kWh(rec[16:20])             # metered meanwhile

    # the relay (open as it left the factory) closed, tripped and closed again by 1CH
    until = d.now() + timedelta(minutes=10)
    d.master.relay(RELAY_CLOSE, until)
    d.run_until(d.now() + timedelta(seconds=2))
    trip = d.now()
    d.master.relay(RELAY_TRIP, until)
    d.run_until(d.now() + timedelta(seconds=2))
    close = d.now()
    d.master.relay(RELAY_CLOSE, until)
    d.run_until(d.now() + timedelta(seconds=2))
    assert (count(d, 0x1D000001), count(d, 0x1E000001)) == (1, 2)
    assert near(bcd_time(d.read(0x1D000101)[:6]), trip)
    assert near(bcd_time(d.read(0x1E000101)[:6]), close)
    assert bcd_time(d.read(0x1E000102)[:6]) < trip

    # 16H: an instantaneous freeze now, and a timed one every day at 10:13
    now = d.now()
    d.master.freeze("99999999")
    inst = block_kWh(d.read(0x05010101))
    assert bcd_time(d.read(0x05010001)) == now.replace(second=0, microsecond=0)   # hhmm
    tou = block_kWh(d.read(0x0001FF00))
    assert inst[0] <= tou[0] <= inst[0] + Decimal("0.01")          # the energy then
    d.master.freeze("99991013")
    d.run_until(datetime(2027, 3, 10, 10, 13, 3))
    assert bcd_time(d.read(0x05000001)) == datetime(2027, 3, 10, 10, 13)
    assert abs(bcd_kWh(d.read(0x05000101)[:4]) - d.reference_kWh(datetime(2027, 3, 10, 10, 13))) \
        <= Decimal("0.02")
    with pytest.raises(Dlt645Abnormal):
        d.read(0x05000002)


def test_unplugged_across_the_daily_freeze(meter):
    """The management unit unplugged 10:13:30..10:16:20 while the metrology unit meters on:
    the daily freeze of 10:15 is made late with the unit's interval freeze of 10:15."""
    d = meter
    d.run_until(datetime(2027, 3, 10, 10, 13, 30))
    out = d.now()
    set_supply_V(d.mu, 2.0)
    d.emu.run_for("20ms")
    d.mu.power_off()
    d.run_until(datetime(2027, 3, 10, 10, 16, 20))
    back = d.now()
    set_supply_V(d.mu, SUPPLY_NOMINAL_V)
    d.mu.power_on()
    started(d.con, "freeze: running at", timeout="8s")
    assert bcd_time(d.read(0x05060001)) == datetime(2027, 3, 10, 10, 15)
    unit_1015 = d.read(0x05F0FF01)                               # the unit's last interval freeze
    assert bcd_time(unit_1015[:5]) == datetime(2027, 3, 10, 10, 15)
    total = block_kWh(d.read(0x05060101))[0]
    assert total == bcd_kWh(unit_1015[5:9])
    assert abs(total - d.reference_kWh(datetime(2027, 3, 10, 10, 15))) <= Decimal("0.01")
    assert "freeze: supplementary daily freeze 2027-03-10 10:15" in d.con.text
    # and it was a power-down of the management unit
    rec = d.read(0x03110001)
    assert out - timedelta(seconds=61) <= bcd_time(rec[:6]) <= out
    assert near(bcd_time(rec[6:]), back, 3)


def test_clock_change_event_clear_and_meter_clear(meter):
    d = meter
    before = d.now()
    d.master.write(0x04000102, bytes([0x00, 0x30, 0x10]), operator=OPERATOR)   # 10:30:00
    d.run_until(d.now() + timedelta(seconds=2))
    assert count(d, 0x03300400) == 1
    rec = d.read(0x03300401)
    assert rec[:4] == operator_field(OPERATOR)
    assert near(bcd_time(rec[4:10]), before) and near(bcd_time(rec[10:16]), datetime(2027, 3, 10, 10, 30), 1)
    assert count(d, 0x03300000) == 2                             # programmed, too
    assert d.read(0x03300001)[10:14] == (0x04000102).to_bytes(4, "little")

    # event clear of the cover class: its count goes, the clear is recorded
    d.master.clear_events(0x03300DFF, operator=OPERATOR)
    assert count(d, 0x03300D00) == 0
    with pytest.raises(Dlt645Abnormal):
        d.read(0x03300D01)
    assert count(d, 0x03300300) == 1
    rec = d.read(0x03300301)
    assert rec[6:10] == operator_field(OPERATOR) and rec[10:14] == (0x03300DFF).to_bytes(4, "little")
    assert count(d, 0x1D000001) == 1                             # other classes kept

    # meter clear: recorded with the forward total before it (as looked at every 10 s)
    before = bcd_kWh(d.read(0x00010000))
    d.master.clear_meter(level=2, operator=OPERATOR)
    d.emu.run_for("1s")
    assert count(d, 0x03300100) == 1
    rec = d.read(0x03300101)
    assert rec[6:10] == operator_field(OPERATOR)
    assert before - Decimal(LOAD_W * 11 / 3.6e6) - Decimal("0.01") <= bcd_kWh(rec[10:14]) <= before
    assert d.read(0x00010000) == bytes(4)                        # the metrology unit cleared


def test_over_and_under_voltage(meter):
    """270 V for 15 s, then 160 V for 15 s: an over- and an under-voltage record, each from
    the metering service's voltage (looked at every 10 s)."""
    d = meter
    clock = d.mu["rtc"].datetime                                 # set to 10:30 before
    high = clock()
    d.unit.voltage_V = 270.0
    d.emu.run_for("15s")
    low = clock()
    d.unit.voltage_V = 160.0
    d.emu.run_for("15s")
    normal = clock()
    d.unit.voltage_V = 230.0
    d.emu.run_for("12s")
    assert (count(d, 0x03030000), count(d, 0x03020000)) == (1, 1)
    over, under = d.read(0x03030101), d.read(0x03020101)
    assert high <= bcd_time(over[:6]) <= high + timedelta(seconds=12)
    assert low <= bcd_time(over[6:12]) <= low + timedelta(seconds=12)
    assert bcd_time(under[:6]) == bcd_time(over[6:12])           # seen at the same look
    assert normal <= bcd_time(under[6:12]) <= normal + timedelta(seconds=12)
    assert abs(int(over[12:14][::-1].hex()) - 2700) <= 5 and abs(int(under[12:14][::-1].hex()) - 1600) <= 5
