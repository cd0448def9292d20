"""STM32 timers: update/compare timing from TIMCLK, PSC and ARR, preloads, OPM, RCR, capture, PWM."""

from types import SimpleNamespace

import pytest

from metersim._engine.clock import Clock
from metersim.peripherals.base import Context
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.stm32 import timer as t
from metersim._units import PS_PER_MS, PS_PER_S, PS_PER_US

TIM2 = 0x40000000        # APB1 -> TIMCLK1
TIM1_F1 = 0x40012C00     # APB2, advanced


def make(address=TIM2, cls=t.STM32Timer, **kw):
    machine = SimpleNamespace(name="m", clocks=ClockTree({"TIMCLK1": 72_000_000, "TIMCLK2": 72_000_000}))
    return cls(Context(Clock(), name="tim", machine=machine, address=address), **kw)


class Isr:
    """Records rising edges of an interrupt line and clears the flags like a handler would."""

    def __init__(self, tim, clear_mask):
        self.tim, self.mask, self.times = tim, clear_mask, []

    def on_gpio(self, pin, level):
        if level:
            self.times.append(self.tim.ctx.clock.now_ps)
            self.tim.write(t.SR, 4, ~self.mask & 0xFFFF)


def start(tim, psc, arr, dier=0, cr1=0):
    tim.write(t.PSC, 4, psc)
    tim.write(t.ARR, 4, arr)
    tim.write(t.EGR, 4, 1)               # UG: load PSC
    tim.write(t.SR, 4, 0)
    tim.write(t.DIER, 4, dier)
    tim.write(t.CR1, 4, t.CEN | cr1)


def test_one_hertz_update_interrupt_from_72mhz():
    tim = make()
    isr = Isr(tim, t.UIF)
    tim.UpdateInterrupt.connect(isr)
    t0 = tim.ctx.clock.now_ps
    start(tim, 7199, 9999, dier=t.UIF)
    assert tim.update_hz == pytest.approx(1.0)
    tim.ctx.clock.run_for(5 * PS_PER_S + PS_PER_MS)
    assert [x - t0 for x in isr.times] == [k * PS_PER_S for k in range(1, 6)]


def test_cnt_is_computed_on_read_without_ticking_events():
    tim = make()
    start(tim, 71, 0xFFFFFFFF)            # 1 MHz free-running 16-bit (F1-like) counter
    tim.ctx.clock.run_for(250 * PS_PER_US)
    assert tim.read(t.CNT, 4) == 250
    assert tim.ctx.clock.pending() == 0   # nobody listens: no events at all
    tim.ctx.clock.run_for(70 * PS_PER_MS)  # wraps at 0xFFFF: 70_250 - 65_536
    assert tim.read(t.CNT, 4) == 70_250 - 65_536
    assert tim.read(t.SR, 4) & t.UIF


def test_thirty_two_bit_counter_and_whole_periods_skipped_in_one_step():
    tim = make(initial_limit=0xFFFFFFFF)
    start(tim, 71, 999)                   # 1 kHz updates, UIE off
    tim.ctx.clock.run_for(3600 * PS_PER_S + 123 * PS_PER_US)
    assert tim.read(t.CNT, 4) == 123
    assert tim.read(t.SR, 4) & t.UIF
    tim.write(t.ARR, 4, 0x12345678)
    assert tim.read(t.ARR, 4) == 0x12345678


def test_one_pulse_mode_stops_at_the_update():
    tim = make()
    isr = Isr(tim, t.UIF)
    tim.IRQ.connect(isr)
    start(tim, 71, 499, dier=t.UIF, cr1=t.OPM)
    tim.ctx.clock.run_for(2 * PS_PER_MS)
    assert len(isr.times) == 1
    assert not tim.read(t.CR1, 4) & t.CEN
    assert tim.read(t.CNT, 4) == 0


def test_arr_preload_applies_at_the_next_update_only_with_arpe():
    tim = make()
    isr = Isr(tim, t.UIF)
    tim.IRQ.connect(isr)
    t0 = tim.ctx.clock.now_ps
    start(tim, 71, 999, dier=t.UIF, cr1=t.ARPE)      # 1 ms periods
    tim.ctx.clock.run_for(500 * PS_PER_US)
    tim.write(t.ARR, 4, 1999)                          # preloaded: 2 ms periods after 1 ms
    tim.ctx.clock.run_for(4 * PS_PER_MS)
    assert [x - t0 for x in isr.times] == [1 * PS_PER_MS, 3 * PS_PER_MS]
    tim.write(t.CR1, 4, t.CEN)                         # ARPE off: a new ARR applies at once
    tim.write(t.ARR, 4, 99)
    base = tim.ctx.clock.now_ps
    cnt = tim.read(t.CNT, 4)
    assert cnt > 99                                    # already past: runs on to 0xFFFF and wraps
    tim.ctx.clock.run_for((0xFFFF - cnt + 1) * PS_PER_US + 1)
    assert isr.times[-1] - base == (0xFFFF - cnt + 1) * PS_PER_US


def test_psc_is_buffered_until_an_update():
    tim = make()
    start(tim, 71, 0xFFFF)
    tim.write(t.PSC, 4, 719)
    tim.ctx.clock.run_for(100 * PS_PER_US)
    assert tim.read(t.CNT, 4) == 100                   # still 1 MHz
    tim.write(t.EGR, 4, 1)                             # UG: reload, counter to 0
    tim.ctx.clock.run_for(100 * PS_PER_US)
    assert tim.read(t.CNT, 4) == 10                    # now 100 kHz
    assert tim.read(t.SR, 4) & t.UIF                   # UG sets UIF (URS = 0)


def test_compare_interrupt_at_ccr_and_its_flag_per_period():
    tim = make()
    isr = Isr(tim, 0x2)
    tim.CaptureCompareInterrupt.connect(isr)
    t0 = tim.ctx.clock.now_ps
    tim.write(t.CCR1, 4, 300)
    start(tim, 71, 999, dier=0x2)
    tim.ctx.clock.run_for(3 * PS_PER_MS)
    assert [x - t0 for x in isr.times] == [300 * PS_PER_US, 1300 * PS_PER_US, 2300 * PS_PER_US]


def test_timer_clock_change_rebases_the_running_counter():
    tim = make()
    isr = Isr(tim, t.UIF)
    tim.IRQ.connect(isr)
    t0 = tim.ctx.clock.now_ps
    start(tim, 71, 999, dier=t.UIF)                    # 1 ms at 72 MHz
    tim.ctx.clock.run_for(500 * PS_PER_US)
    tim.ctx.machine.clocks.set_rate("TIMCLK1", 36_000_000)   # half speed from now on
    tim.ctx.clock.run_for(2 * PS_PER_MS)
    assert isr.times[0] - t0 == 1500 * PS_PER_US       # remaining 500 counts take 1 ms


def test_down_counting_underflow_and_dir():
    tim = make()
    isr = Isr(tim, t.UIF)
    tim.IRQ.connect(isr)
    tim.write(t.CR1, 4, t.DIR)
    t0 = tim.ctx.clock.now_ps
    start(tim, 71, 99, dier=t.UIF, cr1=t.DIR)
    tim.ctx.clock.run_for(30 * PS_PER_US)
    assert tim.read(t.CNT, 4) == 69                    # 99 - 30 ticks
    assert tim.read(t.CR1, 4) & t.DIR
    tim.ctx.clock.run_for(200 * PS_PER_US)
    assert [x - t0 for x in isr.times] == [100 * PS_PER_US, 200 * PS_PER_US]


def test_center_aligned_updates_at_both_ends():
    tim = make()
    isr = Isr(tim, t.UIF)
    tim.IRQ.connect(isr)
    t0 = tim.ctx.clock.now_ps
    start(tim, 71, 100, dier=t.UIF, cr1=1 << 5)
    tim.ctx.clock.run_for(150 * PS_PER_US)
    assert tim.read(t.CNT, 4) == 50 and tim.read(t.CR1, 4) & t.DIR
    tim.ctx.clock.run_for(260 * PS_PER_US)
    assert [x - t0 for x in isr.times] == [k * 100 * PS_PER_US for k in range(1, 5)]


def test_repetition_counter_on_an_advanced_timer():
    tim = make(address=TIM1_F1)
    assert tim.advanced
    isr = Isr(tim, t.UIF)
    tim.UpdateInterrupt.connect(isr)
    tim.write(t.RCR, 4, 2)
    t0 = tim.ctx.clock.now_ps
    start(tim, 71, 99, dier=t.UIF)                     # UEV every 3 x 100 us
    tim.ctx.clock.run_for(1 * PS_PER_MS)
    assert [x - t0 for x in isr.times] == [300 * PS_PER_US, 600 * PS_PER_US, 900 * PS_PER_US]


def test_input_capture_latches_cnt_and_sets_overcapture():
    tim = make()
    tim.write(t.CCMR1, 4, 0x01)                         # CC1S = 01: IC1 on TI1
    tim.write(t.CCER, 4, 0x01)                          # CC1E, rising edge
    start(tim, 71, 0xFFFF)
    tim.ctx.clock.run_for(123 * PS_PER_US)
    tim.on_gpio(0, True)
    tim.ctx.clock.run_for(10 * PS_PER_US)
    tim.on_gpio(0, False)                               # falling: ignored
    assert tim.read(t.SR, 4) & 0x2
    assert tim.read(t.CCR1, 4) == 123
    assert not tim.read(t.SR, 4) & 0x2                  # reading CCR1 cleared CC1IF
    tim.on_gpio(0, True)
    tim.on_gpio(0, False)
    tim.on_gpio(0, True)
    assert tim.read(t.SR, 4) & (1 << 9)                 # CC1OF


def test_pwm_output_duty_on_a_connected_pin():
    tim = make()
    edges = []
    tim.connections[0].connect(SimpleNamespace(
        on_gpio=lambda p, lv: edges.append((tim.ctx.clock.now_ps, lv))))
    tim.write(t.CCMR1, 4, 6 << 4)                       # PWM mode 1
    tim.write(t.CCER, 4, 0x01)
    tim.write(t.CCR1, 4, 250)
    t0 = tim.ctx.clock.now_ps
    start(tim, 71, 999)                                 # 1 kHz, 25 % duty
    tim.ctx.clock.run_for(2 * PS_PER_MS + 1)
    rel = [(x - t0, lv) for x, lv in edges]
    assert rel[:4] == [(0, True), (250 * PS_PER_US, False), (1000 * PS_PER_US, True),
                       (1250 * PS_PER_US, False)]


def test_basic_timer_variant_has_no_channels():
    tim = make(address=0x40001000)
    assert tim.channels == 0 and not tim.connections
    b = make(cls=t.STM32BasicTimer)
    assert b.channels == 0


def test_pwm_input_mode_measures_period_and_pulse_with_reset_slave_mode():
    """RM0090 18.3.6: IC1 on TI1 rising, IC2 on TI1 falling, TS = TI1FP1, SMS = reset: each
    rising edge captures the period into CCR1 and restarts the counter, so CCR2 holds the
    pulse. The trigger sets TIF; other slave modes stay unmodelled."""
    tim = make()
    tim.write(t.CCMR1, 4, 0x01 | (0x02 << 8))           # CC1S = TI1, CC2S = TI1
    tim.write(t.CCER, 4, 0x01 | (0x03 << 4))            # CC1E rising, CC2E falling (CC2P)
    tim.write(t.SMCR, 4, (5 << 4) | t.SMS_RESET)        # TS = TI1FP1, reset mode
    start(tim, 71, 0xFFFF)                              # 1 MHz count
    for _ in range(3):                                  # 1 kHz, 33 % high
        tim.on_gpio(0, True)
        tim.ctx.clock.run_for(330 * PS_PER_US)
        tim.on_gpio(0, False)
        tim.ctx.clock.run_for(670 * PS_PER_US)
    tim.on_gpio(0, True)
    assert tim.read(t.CCR1, 4) == 1000
    assert tim.read(t.CCR2, 4) == 330
    assert tim.read(t.SR, 4) & t.TIF
    assert tim.read(t.CNT, 4) == 0                      # restarted by the trigger
    tim.write(t.SMCR, 4, 0)                             # slave mode off: CNT runs on
    tim.ctx.clock.run_for(5 * PS_PER_US)
    tim.on_gpio(0, False)
    tim.on_gpio(0, True)
    assert tim.read(t.CNT, 4) == 5


def test_an_input_channel_leaves_its_af_pin_to_the_outside_drive():
    """A channel in input capture does not drive the pin its alternate function reaches
    (`timer4: 0 -> gpioPortD#12@02`): the pin reads what drives it from outside and the edge
    reaches the capture; back in output compare the timer drives the pin again."""
    from metersim.peripherals.stm32.gpio_f4 import STM32_GPIOPort

    tim = make()
    port = STM32_GPIOPort(Context(tim.ctx.clock, name="gpioPortD"))
    tim.connections[0].connect(port.get_local_receiver(12), 2)
    port.connections[12].connect(tim, 0)                # `gpioPortD: 12 -> timer4@00`
    port.write(0x00, 4, 2 << 24)                        # PD12: alternate function
    port.write(0x24, 4, 2 << 16)                        # AF2
    tim.write(t.CCMR1, 4, 0x01)                         # CC1S = 01: IC1 on TI1
    tim.write(t.CCER, 4, 0x01)
    start(tim, 71, 0xFFFF)
    tim.ctx.clock.run_for(40 * PS_PER_US)
    port.drive(12, True)                                # the signal from outside
    assert port.read(0x10, 4) >> 12 & 1
    assert tim.read(t.CCR1, 4) == 40
    tim.write(t.CCMR1, 4, 4 << 4)                       # output: OC1M = force inactive
    assert not port.read(0x10, 4) >> 12 & 1             # the timer drives the pin low again


def test_encoder_mode_counts_quadrature_edges_both_ways_and_wraps_at_arr():
    """RM0090 18.3.16: SMS=011 counts every edge of TI1 and TI2, up when TI1 leads TI2;
    time alone does not move the counter; past ARR it wraps with an update event."""
    tim = make()
    tim.write(t.CCMR1, 4, 0x01 | (0x01 << 8))           # IC1 on TI1, IC2 on TI2
    tim.write(t.SMCR, 4, 3)                             # encoder mode 3
    tim.write(t.ARR, 4, 11)
    tim.write(t.CR1, 4, t.CEN)
    a = b = False
    forward = [(0, True), (1, True), (0, False), (1, False)]   # A leads B
    for i in range(10):
        pin, level = forward[i % 4]
        tim.on_gpio(pin, level)
        a, b = (level, b) if pin == 0 else (a, level)
    tim.ctx.clock.run_for(PS_PER_MS)
    assert tim.read(t.CNT, 4) == 10
    assert not tim.read(t.CR1, 4) & t.DIR
    tim.on_gpio(1, False)                               # B falls while A high: backwards
    assert tim.read(t.CNT, 4) == 9 and tim.read(t.CR1, 4) & t.DIR
    tim.on_gpio(1, True)                                # forward again: 10, 11, then wrap
    tim.on_gpio(0, False)
    assert not tim.read(t.SR, 4) & 1
    tim.on_gpio(1, False)
    assert tim.read(t.CNT, 4) == 0 and tim.read(t.SR, 4) & 1
