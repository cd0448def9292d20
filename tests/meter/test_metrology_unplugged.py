"""The management unit unplugged for a virtual hour while the metrology unit meters on alone
under a known load: plugged back, the total read over DL/T645 is the reference integral (no
energy lost), the unit's 15-minute interval freezes cover the hour and reach the management
unit (which serves them on while the unit is away again), and the link re-synchronises
(docs/meter_metrology_unit.md)."""

import re
from datetime import datetime, timedelta
from decimal import Decimal

import metersim
from metersim._units import PS_PER_S

from tests.meter.conftest import started

START = datetime(2026, 12, 6, 10, 0, 0)         # both clocks after a cold start
LOAD_W = 2000.0
STORED_KWH = Decimal("1234.56")


def bcd_time(raw: bytes) -> datetime:
    """YYMMDDhhmm(ss), least significant byte first."""
    f = [int(f"{b:02x}") for b in raw]
    if len(f) == 5:
        f = [0] + f
    ss, mi, hh, dd, mo, yy = f
    return datetime(2000 + yy, mo, dd, hh, mi, ss)


def expected_kWh(m) -> Decimal:
    """The stored energy plus the reference integral of the load since the start."""
    return STORED_KWH + Decimal(m.unit.reference_Wh() / 1000).quantize(Decimal("0.000001"))


def test_an_hour_without_the_management_unit_loses_no_energy(meter):
    m = meter(voltage_V=230.0, power_W=LOAD_W)
    before = m.master.read_value(0x00010000)
    assert abs(before - expected_kWh(m)) <= Decimal("0.01")

    m.emu.run_until_time(10 * PS_PER_S)
    m.board.power_off()                           # the management unit unplugged at 10:00:10
    off_ps = m.emu.now_ps
    m.emu.run_for("3600s")                        # back at 11:00:10, the 11:00 freeze made
    assert m.unit.reference_Wh(off_ps) == LOAD_W  # an hour at 2 kW: 2 kWh to account for
    m.board.power_on()                            # plugged back: it boots from its image
    started(m.con, "metering: metrology unit synchronised")

    # no energy lost: the reading is the reference integral to the register's 0.01 kWh
    total = m.master.read_value(0x00010000)
    assert total - before >= Decimal("1.99")
    assert abs(total - expected_kWh(m)) <= Decimal("0.01"), (total, expected_kWh(m))

    # the link re-synchronised: the unit's clock ran on, and the freezes it made came over
    sync = re.findall(r"metering: metrology unit synchronised: forward \S+ kWh, clock (\S+ \S+), "
                      r"(\d+) interval records \((\d+) fetched, last (\S+ \S+)\)", m.con.text)
    assert sync[-1][0].startswith("2026-12-06 11:0") and sync[-1][1:] == ("4", "4", "2026-12-06 11:00")
    clock = bcd_time(m.master.read(0x028000F0))
    assert timedelta(hours=1) <= clock - START < timedelta(hours=1, seconds=15)

    # the interval freezes cover the hour: 10:15, 10:30, 10:45, 11:00, each holding the
    # reference energy at its boundary (made within one 2 s line-cycle window after it)
    assert m.master.read(0x05F00000) == metersim.dlt645.bcd_encode("4", 4, 0)
    freezes = []
    for nn in (4, 3, 2, 1):
        raw = m.master.read(0x05F0FF00 | nn)
        at = bcd_time(raw[:5])
        fwd = Decimal(raw[5:9][::-1].hex()) / 100
        freezes.append((at, fwd))
        boundary_ps = int((at - START).total_seconds()) * PS_PER_S   # the clocks started at 0
        ref = STORED_KWH + Decimal(m.unit.reference_Wh(0, boundary_ps) / 1000)
        assert ref - Decimal("0.01") <= fwd <= ref + Decimal("0.01"), (at, fwd, ref)
    assert [at for at, _ in freezes] == [START + timedelta(minutes=15 * k) for k in (1, 2, 3, 4)]
    steps = [b - a for (_, a), (_, b) in zip(freezes, freezes[1:])]
    assert all(Decimal("0.49") <= s <= Decimal("0.51") for s in steps)    # 0.5 kWh a quarter
    # with the cable pulled again the freezes it fetched are still served (from its cache)
    newest = m.master.read(0x05F0FF01)
    m.unit.plugged = False
    # noticed by the first read after the last answer's second (the display's), then served
    m.con.expect("metering: metrology unit not answering", timeout="1.2s")
    assert m.master.read(0x05F0FF01) == newest
    m.unit.plugged = True
    # the unit kept it in its own EEPROM too (its copies are written at each freeze)
    stored_kWh, _, records = m.unit.stored_energy()
    stored = Decimal(stored_kWh).quantize(Decimal("0.000001"))
    assert records == 4 and stored >= freezes[-1][1]
    assert Decimal(0) <= expected_kWh(m) - stored < Decimal("0.1")
