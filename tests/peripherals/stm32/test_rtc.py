"""STM32 RTCs: F4 BCD calendar/alarms/wake-up and F1 counter/alarm, in virtual time; F1 BKP."""

import datetime as dt
from types import SimpleNamespace

import pytest

from metersim._engine.clock import Clock
from metersim._errors import SetupError
from metersim.peripherals.base import Context
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.stm32 import bkp as b
from metersim.peripherals.stm32 import rtc_f1 as r1
from metersim.peripherals.stm32 import rtc_f4 as r4
from metersim._units import PS_PER_MS, PS_PER_S

DAY_PS = 86400 * PS_PER_S


def ctx(name, clock=None, rtcclk=32768):
    machine = SimpleNamespace(name="m", clocks=ClockTree({"RTCCLK": rtcclk}))
    return Context(clock or Clock(), name=name, machine=machine)


class Edges:
    def __init__(self, clock):
        self.clock, self.rising = clock, []

    def on_gpio(self, pin, level):
        if level:
            self.rising.append(self.clock.now_ps)


def run_until(clock, cond, limit_ps=PS_PER_S):
    end = clock.now_ps + limit_ps
    while not cond():
        nxt = clock.next_event_ps()
        assert nxt is not None and nxt <= end, "condition never met"
        clock.advance_to(nxt)


# -- F4 -------------------------------------------------------------------------------------
def f4_init(rtc, tr, dr):
    """The RM0430 initialisation sequence as firmware does it."""
    rtc.write(r4.WPR, 4, 0xCA)
    rtc.write(r4.WPR, 4, 0x53)
    rtc.write(r4.ISR, 4, r4.INIT)
    run_until(rtc.ctx.clock, lambda: rtc.read(r4.ISR, 4) & r4.INITF)
    rtc.write(r4.PRER, 4, (127 << 16) | 255)
    rtc.write(r4.TR, 4, tr)
    rtc.write(r4.DR, 4, dr)
    rtc.write(r4.ISR, 4, 0)                   # leave INIT (and clear RSF)


def f4_read(rtc):
    tr = rtc.read(r4.TR, 4)
    return tr, rtc.read(r4.DR, 4)


def test_f4_calendar_set_by_firmware_advances_over_a_virtual_day():
    rtc = r4.STM32F4Rtc(ctx("rtc"))
    assert not rtc.read(r4.ISR, 4) & r4.INITS
    # 2024-02-28 (Wednesday = 3) 23:59:50
    f4_init(rtc, 0x235950, 0x24_6228)
    assert rtc.read(r4.ISR, 4) & r4.INITS
    rtc.ctx.clock.run_for(10 * PS_PER_S)
    assert f4_read(rtc) == (0x000000, 0x24_8229)         # leap year: Thursday 29 February
    rtc.ctx.clock.run_for(DAY_PS + 3723 * PS_PER_S)
    assert f4_read(rtc) == (0x010203, 0x24_A301)         # Friday 1 March, 01:02:03
    assert rtc.datetime() == dt.datetime(2024, 3, 1, 1, 2, 3)


def test_f4_registers_are_locked_without_the_key_and_tr_needs_init():
    rtc = r4.STM32F4Rtc(ctx("rtc"))
    rtc.write(r4.ISR, 4, r4.INIT)
    rtc.ctx.clock.run_for(PS_PER_MS)
    assert not rtc.read(r4.ISR, 4) & (r4.INIT | r4.INITF)
    rtc.write(r4.WPR, 4, 0xCA)
    rtc.write(r4.WPR, 4, 0x53)
    rtc.write(r4.TR, 4, 0x120000)                         # unlocked but not in INIT: ignored
    assert rtc.read(r4.TR, 4) >> 16 == 0
    rtc.write(r4.WPR, 4, 0xFF)                            # wrong key locks again
    rtc.write(r4.CR, 4, r4.ALRAE)
    assert not rtc.read(r4.CR, 4) & r4.ALRAE


def test_f4_shadow_lock_and_rsf_resynchronisation():
    clock = Clock()
    rtc = r4.STM32F4Rtc(ctx("rtc", clock))
    f4_init(rtc, 0x101010, 0x24_2101)
    run_until(clock, lambda: rtc.read(r4.ISR, 4) & r4.RSF)
    tr = rtc.read(r4.TR, 4)                               # locks DR
    clock.run_for(2 * PS_PER_S)
    assert rtc.read(r4.DR, 4) == 0x24_2101
    assert rtc.read(r4.TR, 4) == tr + 2                   # fresh read after DR unlocked
    rtc.read(r4.DR, 4)
    rtc.write(r4.ISR, 4, rtc.read(r4.ISR, 4) & ~r4.RSF)  # software clears RSF ...
    assert not rtc.read(r4.ISR, 4) & r4.RSF
    clock.run_for(2 * PS_PER_S // 32768 + 1)              # ... set again two RTCCLK later
    assert rtc.read(r4.ISR, 4) & r4.RSF


def test_f4_alarm_a_daily_at_a_time_with_date_masked():
    clock = Clock()
    rtc = r4.STM32F4Rtc(ctx("rtc", clock))
    irq = Edges(clock)
    rtc.AlarmIRQ.connect(irq)
    rtc.set_datetime(dt.datetime(2025, 6, 30, 7, 0, 0))
    t0 = clock.now_ps
    f = rtc
    f.write(r4.WPR, 4, 0xCA)
    f.write(r4.WPR, 4, 0x53)
    f.write(r4.ALRMAR, 4, (1 << 31) | 0x073015)           # 07:30:15 every day
    f.write(r4.CR, 4, r4.ALRAE | r4.ALRAIE)
    clock.run_for(2 * DAY_PS)
    assert len(irq.rising) == 1                           # flag not cleared: level stays high
    assert irq.rising[0] - t0 == (30 * 60 + 15) * PS_PER_S
    f.write(r4.ISR, 4, f.read(r4.ISR, 4) & ~r4.ALRAF)
    assert not rtc.AlarmIRQ.level
    clock.run_for(DAY_PS)
    assert len(irq.rising) == 2
    assert (irq.rising[1] - irq.rising[0]) % DAY_PS == 0


def test_f4_alarm_b_on_a_weekday_and_alarm_register_guard():
    clock = Clock()
    rtc = r4.STM32F4Rtc(ctx("rtc", clock))
    rtc.set_datetime(dt.datetime(2025, 6, 30, 12, 0, 0))  # Monday
    rtc.write(r4.WPR, 4, 0xCA)
    rtc.write(r4.WPR, 4, 0x53)
    # Weekday 3 (Wednesday), 00:00:00
    rtc.write(r4.ALRMBR, 4, (1 << 30) | (3 << 24))
    rtc.write(r4.CR, 4, r4.ALRBE | r4.ALRBIE)
    assert not rtc.read(r4.ISR, 4) & r4.ALRBWF
    rtc.write(r4.ALRMBR, 4, 0)                            # ignored while enabled
    assert rtc.read(r4.ALRMBR, 4) == (1 << 30) | (3 << 24)
    clock.run_for(DAY_PS + 11 * 3600 * PS_PER_S)
    assert not rtc.read(r4.ISR, 4) & r4.ALRBF
    clock.run_for(2 * 3600 * PS_PER_S)
    assert rtc.read(r4.ISR, 4) & r4.ALRBF and rtc.WakeupIRQ.level is False
    assert rtc.datetime().weekday() == 2                  # Python: Wednesday


def test_f4_wakeup_timer_from_ck_spre_and_from_rtcclk_div16():
    clock = Clock()
    rtc = r4.STM32F4Rtc(ctx("rtc", clock))
    irq = Edges(clock)
    rtc.WakeupIRQ.connect(irq)
    rtc.write(r4.WPR, 4, 0xCA)
    rtc.write(r4.WPR, 4, 0x53)
    rtc.write(r4.WUTR, 4, 4)                              # 5 periods
    rtc.write(r4.CR, 4, 4 | r4.WUTE | r4.WUTIE)           # ck_spre: every 5 s
    t0 = clock.now_ps
    clock.run_for(5 * PS_PER_S + 1)
    assert [x - t0 for x in irq.rising] == [5 * PS_PER_S]
    rtc.write(r4.ISR, 4, rtc.read(r4.ISR, 4) & ~r4.WUTF)
    rtc.write(r4.CR, 4, 0)                                # WUTE off: WUTR writable again
    assert rtc.read(r4.ISR, 4) & r4.WUTWF
    rtc.write(r4.WUTR, 4, 2047)                           # 2048 x 16 / 32768 = 1 s
    t1 = clock.now_ps
    rtc.write(r4.CR, 4, 0 | r4.WUTE | r4.WUTIE)
    clock.run_for(PS_PER_S)
    assert irq.rising[-1] - t1 == PS_PER_S


def test_f4_calendar_stops_without_rtcclk_and_survives_system_reset():
    clock = Clock()
    c = ctx("rtc", clock, rtcclk=0)                       # RCC: RTCEN still clear
    rtc = r4.STM32F4Rtc(c)
    rtc.set_datetime(dt.datetime(2030, 1, 1))
    clock.run_for(10 * PS_PER_S)
    assert rtc.datetime() == dt.datetime(2030, 1, 1)
    c.machine.clocks.set_rate("RTCCLK", 32768)
    clock.run_for(10 * PS_PER_S)
    rtc.write(r4.BKP0R + 4 * 19, 4, 0xCAFE)
    rtc.reset()
    assert rtc.datetime() == dt.datetime(2030, 1, 1, 0, 0, 10)
    assert rtc.read(r4.BKP0R + 4 * 19, 4) == 0xCAFE
    rtc.backup_domain_reset()
    assert rtc.read(r4.BKP0R + 4 * 19, 4) == 0 and rtc.datetime() == dt.datetime(2000, 1, 1)


def test_f4_writes_need_pwr_dbp_backup_registers_included():
    from metersim.peripherals.stm32.pwr import STM32_PWR
    c = ctx("rtc")
    pwr = STM32_PWR(Context(c.clock, name="pwr"))
    rtc = r4.STM32F4Rtc(c, pwr=pwr)
    bkp9 = r4.BKP0R + 4 * 9
    rtc.write(bkp9, 4, 0xBC24)                # after reset DBP is clear: ignored
    rtc.write(r4.WPR, 4, 0xCA)
    rtc.write(r4.WPR, 4, 0x53)
    rtc.write(r4.ISR, 4, r4.INIT)
    assert rtc.read(bkp9, 4) == 0 and not rtc.read(r4.ISR, 4) & r4.INIT
    pwr.write(0, 4, pwr.read(0, 4) | 1 << 8)  # PWR_CR.DBP
    rtc.write(bkp9, 4, 0xBC24)
    f4_init(rtc, 0x123456, 0x262207)
    assert rtc.read(bkp9, 4) == 0xBC24 and f4_read(rtc) == (0x123456, 0x262207)


def test_f4_subseconds_and_12_hour_format():
    clock = Clock()
    rtc = r4.STM32F4Rtc(ctx("rtc", clock))
    rtc.write(r4.WPR, 4, 0xCA)
    rtc.write(r4.WPR, 4, 0x53)
    rtc.write(r4.CR, 4, r4.FMT)
    rtc.set_datetime(dt.datetime(2025, 1, 1, 15, 4, 5))
    clock.run_for(PS_PER_S // 4)
    assert rtc.read(r4.SSR, 4) == 255 - 64                # SS counts down from PREDIV_S
    tr = rtc.read(r4.TR, 4)
    rtc.read(r4.DR, 4)
    assert tr == (1 << 22) | 0x030405                     # 3 PM


# -- F1 -------------------------------------------------------------------------------------
def f1_config(rtc, prl=None, cnt=None, alr=None):
    """RM0008 §18.3.4 configuration procedure."""
    clock = rtc.ctx.clock
    run_until(clock, lambda: rtc.read(r1.CRL, 4) & r1.RTOFF)
    rtc.write(r1.CRL, 4, rtc.read(r1.CRL, 4) | r1.CNF)
    for value, hi, lo in ((prl, r1.PRLH, r1.PRLL), (cnt, r1.CNTH, r1.CNTL), (alr, r1.ALRH, r1.ALRL)):
        if value is not None:
            rtc.write(hi, 4, value >> 16)
            rtc.write(lo, 4, value & 0xFFFF)
    rtc.write(r1.CRL, 4, rtc.read(r1.CRL, 4) & ~r1.CNF)
    assert not rtc.read(r1.CRL, 4) & r1.RTOFF             # write in progress
    run_until(clock, lambda: rtc.read(r1.CRL, 4) & r1.RTOFF)


def f1_cnt(rtc):
    return (rtc.read(r1.CNTH, 4) << 16) | rtc.read(r1.CNTL, 4)


def test_f1_second_interrupt_each_second():
    clock = Clock()
    rtc = r1.STM32F1Rtc(ctx("rtc", clock))
    irq = []
    rtc.IRQ.connect(SimpleNamespace(on_gpio=lambda p, lv: lv and (
        irq.append(clock.now_ps), rtc.write(r1.CRL, 4, rtc.read(r1.CRL, 4) & ~r1.SECF))))
    f1_config(rtc, prl=32767, cnt=1000)
    t0 = clock.now_ps
    rtc.write(r1.CRH, 4, r1.SECIE)
    clock.run_for(3 * PS_PER_S + 1)
    assert len(irq) == 3
    assert [b - a for a, b in zip(irq, irq[1:])] == [PS_PER_S, PS_PER_S]
    assert irq[0] - t0 <= PS_PER_S
    assert f1_cnt(rtc) == 1003


def test_f1_alarm_and_rtoff_write_delay():
    clock = Clock()
    rtc = r1.STM32F1Rtc(ctx("rtc", clock))
    alarm = Edges(clock)
    rtc.AlarmIRQ.connect(alarm)
    f1_config(rtc, prl=32767, cnt=0, alr=5)
    rtc.write(r1.CRH, 4, r1.ALRIE)
    t0 = clock.now_ps
    clock.run_for(10 * PS_PER_S)
    assert len(alarm.rising) == 1
    assert 4 * PS_PER_S < alarm.rising[0] - t0 <= 5 * PS_PER_S
    assert rtc.read(r1.CRL, 4) & r1.ALRF
    rtc.write(r1.CNTL, 4, 0)                              # not in configuration mode: ignored
    assert f1_cnt(rtc) == 10


def test_f1_writes_apply_only_after_cnf_clear_and_divider_reads():
    clock = Clock()
    rtc = r1.STM32F1Rtc(ctx("rtc", clock))
    run_until(clock, lambda: rtc.read(r1.CRL, 4) & r1.RTOFF)
    rtc.write(r1.CRL, 4, r1.CNF)
    rtc.write(r1.CNTH, 4, 0x1234)
    rtc.write(r1.CNTL, 4, 0x5678)
    assert f1_cnt(rtc) != 0x12345678                      # pending until CNF is cleared
    rtc.write(r1.CRL, 4, 0)
    clock.run_for(3 * PS_PER_S // 32768 + 1)
    assert f1_cnt(rtc) == 0x12345678
    clock.run_for(PS_PER_S // 4)
    div = (rtc.read(r1.DIVH, 4) << 16) | rtc.read(r1.DIVL, 4)
    assert abs(div - 3 * 32768 // 4) <= 4


def f1_div(rtc):
    return (rtc.read(r1.DIVH, 4) << 16) | rtc.read(r1.DIVL, 4)


@pytest.mark.parametrize("new_prl", [16383, 65535])
def test_f1_new_prescaler_applies_at_the_next_divider_reload(new_prl):
    """RM0008 §18.4.4: DIV is reloaded from PRL once per TR_CLK period, so a PRL written a
    quarter into a second leaves that second its old length (the seconds interrupt comes
    0.75 s after the write, not at once nor a whole new period later); the periods after it
    last (PRL + 1) / 32768 s."""
    clock = Clock()
    rtc = r1.STM32F1Rtc(ctx("rtc", clock))
    ticks = Edges(clock)
    rtc.IRQ.connect(SimpleNamespace(on_gpio=lambda p, lv: lv and (
        ticks.on_gpio(p, lv), rtc.write(r1.CRL, 4, rtc.read(r1.CRL, 4) & ~r1.SECF))))
    f1_config(rtc, prl=32767)
    rtc.write(r1.CRH, 4, r1.SECIE)
    run_until(clock, lambda: ticks.rising, 2 * PS_PER_S)
    second = ticks.rising.pop()                         # a second tick: DIV just reloaded
    clock.run_for(PS_PER_S // 4)
    cnt = f1_cnt(rtc)
    f1_config(rtc, prl=new_prl)
    assert abs(f1_div(rtc) - 3 * 32768 // 4) <= 8       # still counting down the old second
    clock.run_for(3 * (new_prl + 1) * PS_PER_S // 32768 + PS_PER_S)
    period = (new_prl + 1) * PS_PER_S // 32768
    assert abs(ticks.rising[0] - (second + PS_PER_S)) <= PS_PER_S // 32768
    assert [b - a for a, b in zip(ticks.rising, ticks.rising[1:])] == [period] * (len(ticks.rising) - 1)
    assert len(ticks.rising) >= 3
    assert f1_cnt(rtc) == cnt + len(ticks.rising)


def test_f1_counter_overflow_and_host_set_counter():
    clock = Clock()
    rtc = r1.STM32F1Rtc(ctx("rtc", clock))
    f1_config(rtc, prl=32767)
    rtc.set_counter(0xFFFFFFFE)
    clock.run_for(2 * PS_PER_S + 1)
    assert f1_cnt(rtc) == 0 and rtc.read(r1.CRL, 4) & r1.OWF
    rtc.set_datetime(dt.datetime(2025, 1, 1), epoch=dt.datetime(1970, 1, 1))
    assert rtc.counter == 1735689600


def test_f1_counter_survives_system_reset_but_not_backup_domain_reset():
    clock = Clock()
    rtc = r1.STM32F1Rtc(ctx("rtc", clock))
    f1_config(rtc, prl=32767)
    rtc.set_counter(500)
    rtc.write(r1.CRH, 4, r1.SECIE)
    rtc.reset()
    assert rtc.read(r1.CRH, 4) == 0 and not rtc.read(r1.CRL, 4) & r1.RSF
    clock.run_for(PS_PER_S)
    assert rtc.counter == 501
    rtc.backup_domain_reset()
    assert rtc.counter == 0


# -- F1 BKP ---------------------------------------------------------------------------------
def test_bkp_data_registers_layout_and_tamper_erase():
    bkp = b.STM32F1Bkp(ctx("bkp"), data_registers=42)
    bkp.write(0x04, 4, 0xA5A5)                            # DR1
    bkp.write(0x28, 4, 0x1111)                            # DR10
    bkp.write(0x40, 4, 0x2222)                            # DR11
    bkp.write(0xBC, 4, 0x4242)                            # DR42
    assert [bkp.read(o, 4) for o in (0x04, 0x28, 0x40, 0xBC)] == [0xA5A5, 0x1111, 0x2222, 0x4242]
    bkp.reset()
    assert bkp.read(0x04, 4) == 0xA5A5                    # survives a system reset
    irq = []
    bkp.IRQ.connect(SimpleNamespace(on_gpio=lambda p, lv: irq.append(lv)))
    bkp.write(b.CSR, 4, b.TPIE)
    bkp.write(b.CR, 4, b.TPE)                             # tamper pin active high
    bkp.on_gpio(0, True)
    assert bkp.read(0x04, 4) == 0 and bkp.read(0xBC, 4) == 0
    assert bkp.read(b.CSR, 4) & (b.TEF | b.TIF) == b.TEF | b.TIF and irq == [True]
    bkp.write(b.CSR, 4, b.TPIE | b.CTI | b.CTE)
    assert not bkp.read(b.CSR, 4) & (b.TEF | b.TIF) and irq == [True, False]


def test_bkp_medium_density_has_ten_registers():
    bkp = b.STM32F1Bkp(ctx("bkp"))
    bkp.write(0x40, 4, 0x1234)                            # DR11 does not exist on an RB part
    assert bkp.read(0x40, 4) == 0


def test_f1_crystal_drift_in_ppm_gains_or_loses_seconds_and_bad_values_are_refused():
    """A +100 ppm crystal gains 8.64 s a day, a -100 ppm one loses as much."""
    clocks = {}
    for ppm in (100, -100, 0):
        clock = Clock()
        rtc = r1.STM32F1Rtc(ctx("rtc", clock), drift_ppm=ppm)
        f1_config(rtc, prl=32767, cnt=0)
        clock.run_for(DAY_PS)
        clocks[ppm] = rtc.counter
    assert clocks == {0: 86400, 100: 86408, -100: 86391}
    # set at run time: from then on
    clock = Clock()
    rtc = r1.STM32F1Rtc(ctx("rtc", clock))
    f1_config(rtc, prl=32767, cnt=0)
    clock.run_for(1000 * PS_PER_S)
    rtc.set_drift_ppm(36000)
    assert rtc.drift_ppm == 36000
    clock.run_for(1000 * PS_PER_S)
    assert rtc.counter == 2036
    for bad in ("5", 2e5, True):
        with pytest.raises(SetupError, match="drift_ppm"):
            rtc.set_drift_ppm(bad)


def test_f4_tr_read_locks_only_dr_and_calendar_writes_drop_the_lock():
    """RM0090 26.3.6: reading TR freezes DR (not TR) until DR is read; a calendar written in
    initialization mode is what the next reads give, whatever was locked before."""
    clock = Clock()
    rtc = r4.STM32F4Rtc(ctx("rtc", clock))
    f4_init(rtc, 0x000000, 0x06_2109)                     # 2006-01-09 00:00:00
    run_until(clock, lambda: rtc.read(r4.ISR, 4) & r4.RSF)
    rtc.read(r4.TR, 4)                                    # locks DR
    clock.run_for(2 * PS_PER_S)
    assert rtc.read(r4.TR, 4) & 0x7F == 0x02              # TR itself keeps counting
    rtc.write(r4.ISR, 4, r4.INIT)
    run_until(clock, lambda: rtc.read(r4.ISR, 4) & r4.INITF)
    rtc.write(r4.DR, 4, 0x06_3009)                        # month 10 (BCD tens digit)
    rtc.write(r4.TR, 4, 0x200000)                         # hour 20
    rtc.write(r4.ISR, 4, 0)
    assert rtc.read(r4.TR, 4) == 0x200000
    assert rtc.read(r4.DR, 4) == 0x06_3009


def test_f4_wakeup_timer_frequency_sets_the_rtcclk_rate():
    """Renode's `wakeupTimerFrequency`: with 32000 Hz and the 32 kHz prescalers (127, 249)
    the calendar advances exactly once per second."""
    clock = Clock()
    rtc = r4.STM32F4Rtc(ctx("rtc", clock, rtcclk=32768), wakeup_timer_frequency=32000)
    rtc.write(r4.WPR, 4, 0xCA)
    rtc.write(r4.WPR, 4, 0x53)
    rtc.write(r4.ISR, 4, r4.INIT)
    run_until(clock, lambda: rtc.read(r4.ISR, 4) & r4.INITF)
    rtc.write(r4.PRER, 4, (127 << 16) | 249)
    rtc.write(r4.ISR, 4, 0)
    clock.run_for(100 * PS_PER_S)
    assert rtc.read(r4.TR, 4) == 0x000140                 # 00:01:40 (LSE rate: 00:01:42)
    with pytest.raises(SetupError, match="wakeupTimerFrequency"):
        r4.STM32F4Rtc(ctx("rtc"), wakeup_timer_frequency=0)
