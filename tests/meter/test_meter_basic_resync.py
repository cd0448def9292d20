"""The basic app's rates re-synchronised after the management unit was unplugged for an hour
(firmware/apps/basic/tou.c, docs/meter_basic_app.md): the metrology unit meters on alone and
freezes its totals every 15 minutes; plugged back, the basic app books the hour's energy to the
rates of its quarters from those freezes. The day table switches at 10:20 (valley to peak) and
10:40 (peak to flat), inside the quarters 10:15-10:30 and 10:30-10:45, which are split by the
minutes each rate held: under the steady load of this test that is right to the unit's 2 s
counting windows, and nothing is lost."""

from decimal import Decimal

from metersim._units import PS_PER_S

from tests.meter.conftest import started
from tests.meter.test_meter_basic_tou import day_table, precise_kWh

LOAD_W = 2000.0


def minute_ps(minute: int) -> int:
    return minute * 60 * PS_PER_S


def test_rates_after_an_hour_unplugged(meter):
    m = meter(voltage_V=230.0, power_W=LOAD_W)
    m.master.write(0x04010001, day_table([(0, 0, 4), (10, 20, 2), (10, 40, 3)]))
    before = {rr: precise_kWh(m.master.read(0x00E10000 | rr << 8)) for rr in range(5)}
    t0 = m.emu.now_ps
    assert before[2] == before[3] == 0            # valley so far

    m.emu.run_until_time(10 * PS_PER_S)
    m.board.power_off()                           # unplugged at 10:00:10
    m.emu.run_for("3600s")                        # back at 11:00:10
    m.board.power_on()
    started(m.con, "metering: metrology unit synchronised")
    after = {rr: precise_kWh(m.master.read(0x00E10000 | rr << 8)) for rr in range(5)}
    t1 = m.emu.now_ps
    hit = m.con.expect("tou: re-synchronised", timeout="10ms")
    assert "4 interval freezes used" in hit.line, hit.line

    ref = {4: m.unit.reference_Wh(t0, minute_ps(20)), 2: m.unit.reference_Wh(minute_ps(20), minute_ps(40)),
           3: m.unit.reference_Wh(minute_ps(40), t1)}
    # each split lies where the unit's counting put it: the reads see the energy of the last
    # 2 s line-cycle window ended, and each freeze is made within a window after its boundary
    # of the unit's clock (which began its first second when the unit started): a rate may
    # hold up to 5 s of the load more or less than the clock's minutes give (0.4 % here; an
    # hour of the rate's own would make it 0.14 %, the real tables' hours far less)
    window_kWh = Decimal(2 * LOAD_W / 3600e3)
    for r, wh in ref.items():
        got = after[r] - before[r]
        want = Decimal(wh) / 1000
        assert abs(got - want) <= window_kWh * Decimal("2.5"), (r, got, want)
    assert after[1] == 0                          # no sharp period in this table
    # no energy lost: the total moved by the reference integral, and is the metrology unit's
    total = Decimal(m.unit.reference_Wh(t0, t1)) / 1000
    assert abs((after[0] - before[0]) - total) <= window_kWh, (after[0] - before[0], total)
    assert abs(sum(after[r] for r in range(1, 5)) - sum(before[r] for r in range(1, 5)) -
               (after[0] - before[0])) <= Decimal("0.000005")
    assert m.master.read_value(0x00010000) == after[0].quantize(Decimal("0.01"),
                                                                 rounding="ROUND_DOWN")
