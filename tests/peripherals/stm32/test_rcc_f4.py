"""STM32F413 RCC: PLL to 100 MHz, bus/timer clocks, ready timing, reset flags."""

from metersim._engine.clock import Clock
from metersim.peripherals.base import Context
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.registry import lookup
from metersim.peripherals.stm32.rcc_f4 import STM32F4_RCC
from metersim._units import PS_PER_MS, PS_PER_US

CR, PLLCFGR, CFGR, CIR, APB2RSTR, BDCR, CSR, DCKCFGR = 0, 4, 8, 0xC, 0x24, 0x70, 0x74, 0x8C


class FakeMachine:
    def __init__(self):
        self.clocks = ClockTree()


def make(**kw):
    m = FakeMachine()
    ctx = Context(Clock(), name="rcc", machine=m, address=0x40023800)
    return STM32F4_RCC(ctx, **kw), m, ctx.clock


def test_registered_under_renode_name():
    assert lookup("Miscellaneous.STM32F4_RCC") is STM32F4_RCC


def test_reset_state():
    rcc, m, _ = make()
    assert rcc.read(PLLCFGR, 4) == 0x24003010
    assert m.clocks.rate_hz("HCLK") == 16_000_000
    assert rcc.read(CSR, 4) >> 24 == 0x0E


def configure_100mhz(rcc, clock):
    rcc.write(CR, 4, rcc.read(CR, 4) | 1 << 16)
    while not rcc.read(CR, 4) & 1 << 17:
        clock.run_for(100 * PS_PER_US)
    # PLLSRC=HSE, M=8, N=400, P=4 (code 1), Q=8 (48 MHz is not reachable from 400: 50 MHz)
    rcc.write(PLLCFGR, 4, 8 | 400 << 6 | 1 << 16 | 1 << 22 | 8 << 24 | 2 << 28)
    rcc.write(CFGR, 4, 4 << 10)                          # PPRE1 /2
    rcc.write(CR, 4, rcc.read(CR, 4) | 1 << 24)


def test_100mhz_from_8mhz_hse():
    rcc, m, clock = make(hse_hz=8_000_000)
    t0 = clock.now_ps
    configure_100mhz(rcc, clock)
    assert 2 * PS_PER_MS <= clock.now_ps - t0 <= 2.1 * PS_PER_MS   # HSE 2 ms start-up
    clock.run_for(99 * PS_PER_US)
    assert not rcc.read(CR, 4) & 1 << 25
    clock.run_for(1 * PS_PER_US)
    assert rcc.read(CR, 4) & 1 << 25
    rcc.write(CFGR, 4, rcc.read(CFGR, 4) | 2)
    assert (rcc.read(CFGR, 4) >> 2) & 3 == 2
    r = m.clocks.snapshot()
    assert r["SYSCLK"] == r["HCLK"] == 100_000_000
    assert r["PCLK1"] == 50_000_000 and r["TIMCLK1"] == 100_000_000
    assert r["PCLK2"] == 100_000_000 and r["TIMCLK2"] == 100_000_000
    assert r["PLL48CLK"] == 50_000_000


def test_timpre_quadruples_timer_clock():
    rcc, m, clock = make()
    configure_100mhz(rcc, clock)
    clock.run_for(PS_PER_MS)
    rcc.write(CFGR, 4, 2 | 6 << 10 | 5 << 13)            # PLL, APB1 /8, APB2 /4
    assert m.clocks.rate_hz("TIMCLK1") == 25_000_000     # 2 x 12.5 MHz
    rcc.write(DCKCFGR, 4, 1 << 24)                       # TIMPRE
    assert m.clocks.rate_hz("TIMCLK1") == 50_000_000     # 4 x PCLK1
    assert m.clocks.rate_hz("TIMCLK2") == 100_000_000    # HCLK (APB2 /4)


def test_pll_not_running_when_sysclk_requested_early():
    rcc, m, clock = make()
    rcc.write(CR, 4, rcc.read(CR, 4) | 1 << 24)          # PLL from HSI 16/16*192/2 = 96 MHz
    rcc.write(CFGR, 4, 2)
    assert m.clocks.rate_hz("HCLK") == 16_000_000
    clock.run_for(200 * PS_PER_US)
    assert m.clocks.rate_hz("HCLK") == 96_000_000
    rcc.write(CR, 4, rcc.read(CR, 4) & ~(1 << 24))       # cannot stop PLL while it is SYSCLK
    assert rcc.read(CR, 4) & 1 << 25


def test_rtcclk_from_hse_divided():
    rcc, m, clock = make(hse_hz=8_000_000)
    rcc.write(CR, 4, rcc.read(CR, 4) | 1 << 16)
    clock.run_for(3 * PS_PER_MS)
    rcc.write(CFGR, 4, 8 << 16)                          # RTCPRE = 8 -> 1 MHz
    rcc.write(BDCR, 4, 3 << 8 | 1 << 15)
    assert m.clocks.rate_hz("RTCCLK") == 1_000_000


def test_wwdg_reset_sets_flag_and_timer9_output():
    rcc, _, _ = make()
    rcc.write(CSR, 4, 1 << 24)
    rcc.reset()
    rcc.on_machine_reset("wwdg")
    assert rcc.reset_causes() == {"wwdg", "pin"}
    pulses = []

    class Rx:
        def on_gpio(self, pin, level):
            pulses.append(level)
    rcc.Timer9Reset.connect(Rx())
    rcc.write(APB2RSTR, 4, 1 << 16)
    assert pulses == [True, False]
