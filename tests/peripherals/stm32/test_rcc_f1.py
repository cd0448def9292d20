"""STM32F1 RCC: the clock rates firmware configures and the timing of the ready bits."""

from metersim._engine.clock import Clock
from metersim.peripherals.base import Context
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.stm32.rcc_f1 import STM32F1_RCC
from metersim._units import PS_PER_MS, PS_PER_US

CR, CFGR, CIR, APB1ENR, BDCR, CSR = 0x00, 0x04, 0x08, 0x1C, 0x20, 0x24


class FakeMachine:
    def __init__(self):
        self.clocks = ClockTree()
        self.resets = []

    def request_reset(self, cause):
        self.resets.append(cause)


def make(**kw):
    m = FakeMachine()
    ctx = Context(Clock(), name="rcc", machine=m, address=0x40021000)
    return STM32F1_RCC(ctx, **kw), m, ctx.clock


def test_reset_state_runs_on_hsi_8mhz():
    rcc, m, _ = make()
    assert rcc.read(CR, 4) & 0x3 == 0x3          # HSION, HSIRDY
    assert m.clocks.rate_hz("HCLK") == 8_000_000
    assert m.clocks.rate_hz("PCLK1") == 8_000_000
    assert m.clocks.rate_hz("HSE") == 0


def test_72mhz_from_hse_x9_with_ready_delays():
    rcc, m, clock = make(hse_hz=8_000_000)
    seen = []
    m.clocks.subscribe("HCLK", seen.append)
    rcc.write(CR, 4, rcc.read(CR, 4) | 1 << 16)          # HSEON
    clock.run_for(1 * PS_PER_MS)
    assert not rcc.read(CR, 4) & 1 << 17                 # HSE still starting (2 ms typ.)
    clock.run_for(1 * PS_PER_MS + 1)
    assert rcc.read(CR, 4) & 1 << 17                     # HSERDY
    # PLLSRC=HSE, PLLMUL=x9 (0b0111), PPRE1=/2, HPRE=/1, PPRE2=/1
    rcc.write(CFGR, 4, (1 << 16) | (7 << 18) | (4 << 8))
    rcc.write(CR, 4, rcc.read(CR, 4) | 1 << 24)          # PLLON
    clock.run_for(150 * PS_PER_US)
    assert not rcc.read(CR, 4) & 1 << 25
    clock.run_for(50 * PS_PER_US)
    assert rcc.read(CR, 4) & 1 << 25                     # PLLRDY after 200 us
    assert m.clocks.rate_hz("HCLK") == 8_000_000         # not switched yet
    rcc.write(CFGR, 4, rcc.read(CFGR, 4) | 2)            # SW = PLL
    assert (rcc.read(CFGR, 4) >> 2) & 3 == 2             # SWS follows
    r = m.clocks.snapshot()
    assert (r["SYSCLK"], r["HCLK"], r["PCLK1"], r["PCLK2"]) == (72e6, 72e6, 36e6, 72e6)
    assert r["TIMCLK1"] == 72_000_000                    # x2 rule on APB1 (/2)
    assert r["TIMCLK2"] == 72_000_000
    assert seen[-1] == 72_000_000


def test_switch_to_unready_source_waits():
    rcc, m, clock = make()
    rcc.write(CR, 4, rcc.read(CR, 4) | 1 << 16)
    rcc.write(CFGR, 4, 1)                                # SW = HSE before HSERDY
    assert (rcc.read(CFGR, 4) >> 2) & 3 == 0
    clock.run_for(3 * PS_PER_MS)
    assert (rcc.read(CFGR, 4) >> 2) & 3 == 1
    assert m.clocks.rate_hz("SYSCLK") == 8_000_000
    # the running source cannot be stopped
    rcc.write(CR, 4, rcc.read(CR, 4) & ~(1 << 16))
    assert rcc.read(CR, 4) & 1 << 16


def test_no_crystal_never_ready():
    rcc, _, clock = make(hse_hz=0)
    rcc.write(CR, 4, rcc.read(CR, 4) | 1 << 16)
    clock.run_for(100 * PS_PER_MS)
    assert not rcc.read(CR, 4) & 1 << 17


def test_pllmul_frozen_while_pll_on_and_apb_prescalers():
    rcc, m, clock = make()
    rcc.write(CFGR, 4, 4 << 18)                          # HSI/2 x6 = 24 MHz
    rcc.write(CR, 4, rcc.read(CR, 4) | 1 << 24)
    clock.run_for(PS_PER_MS)
    rcc.write(CFGR, 4, (7 << 18) | 2 | (5 << 8) | (6 << 11) | (8 << 4))
    r = m.clocks.snapshot()
    assert r["SYSCLK"] == 24_000_000                     # PLLMUL change ignored while on
    assert r["HCLK"] == 12_000_000                       # HPRE /2
    assert r["PCLK1"] == 3_000_000 and r["TIMCLK1"] == 6_000_000    # /4, x2
    assert r["PCLK2"] == 1_500_000 and r["TIMCLK2"] == 3_000_000    # /8, x2


def test_ready_interrupt_and_clear():
    rcc, _, clock = make()
    rcc.write(CIR, 4, 1 << 12)                           # PLLRDYIE
    rcc.write(CR, 4, rcc.read(CR, 4) | 1 << 24)
    assert not rcc.IRQ.level
    clock.run_for(PS_PER_MS)
    assert rcc.IRQ.level and rcc.read(CIR, 4) & 1 << 4
    rcc.write(CIR, 4, (1 << 12) | (1 << 20))             # PLLRDYC
    assert not rcc.IRQ.level and not rcc.read(CIR, 4) & 1 << 4


def test_reset_flags_survive_reset_and_rmvf_clears():
    rcc, m, _ = make()
    assert rcc.reset_causes() == {"por", "pin"}
    rcc.write(CSR, 4, 1 << 24)                           # RMVF
    assert rcc.reset_causes() == set()
    rcc.write(CFGR, 4, 0x400)
    rcc.reset()
    rcc.on_machine_reset("iwdg")
    assert rcc.reset_causes() == {"iwdg", "pin"}
    assert rcc.read(CFGR, 4) == 0                        # other registers back to reset value


def test_lse_and_rtcclk_in_backup_domain():
    rcc, m, clock = make(lse_startup_ms=300, vbat=False)   # no backup battery fitted
    rcc.write(BDCR, 4, 1 | 1 << 8 | 1 << 15)             # LSEON, RTCSEL=LSE, RTCEN
    clock.run_for(299 * PS_PER_MS)
    assert m.clocks.rate_hz("RTCCLK") == 0
    clock.run_for(2 * PS_PER_MS)
    assert rcc.read(BDCR, 4) & 2
    assert m.clocks.rate_hz("RTCCLK") == 32768
    rcc.reset()
    rcc.on_machine_reset("software")
    assert m.clocks.rate_hz("RTCCLK") == 32768           # backup domain kept over reset
    rcc.on_machine_reset("por")
    assert m.clocks.rate_hz("RTCCLK") == 0


def test_bdcr_gated_by_dbp():
    class Pwr:
        backup_writable = False
    rcc, _, _ = make(pwr=Pwr())
    rcc.write(BDCR, 4, 1)
    assert rcc.read(BDCR, 4) == 0
    rcc.pwr.backup_writable = True
    rcc.write(BDCR, 4, 1)
    assert rcc.read(BDCR, 4) & 1


def test_clock_enable_query_and_reset_hook():
    rcc, _, _ = make()
    hits = []
    rcc.subscribe_peripheral_reset("usart2", lambda: hits.append(1))
    assert not rcc.clock_enabled("usart2")
    rcc.write(APB1ENR, 4, 1 << 17)
    assert rcc.clock_enabled("usart2")
    rcc.write(0x10, 4, 1 << 17)                          # APB1RSTR USART2RST
    rcc.write(0x10, 4, 0)
    assert hits == [1]


def test_backup_battery_keeps_lse_and_rtc_clock_through_a_power_cut():
    rcc, m, clock = make()
    rcc.write(BDCR, 4, 1 | 1 << 8 | 1 << 15)             # LSEON, RTCSEL=LSE, RTCEN
    clock.run_for(3000 * PS_PER_MS)
    assert m.clocks.rate_hz("RTCCLK") == 32768
    rcc.reset()
    rcc.on_machine_reset("por")                          # power back after a cut
    assert rcc.read(BDCR, 4) & (1 | 2 | 1 << 15) == (1 | 2 | 1 << 15)
    assert m.clocks.rate_hz("RTCCLK") == 32768
    assert rcc.read(CSR, 4) & (1 << 27)                  # PORRSTF


def test_without_a_battery_a_power_cut_clears_the_backup_domain():
    rcc, m, clock = make(vbat=False)
    rcc.write(BDCR, 4, 1 | 1 << 8 | 1 << 15)
    clock.run_for(3000 * PS_PER_MS)
    rcc.reset()
    rcc.on_machine_reset("por")
    assert rcc.read(BDCR, 4) == 0
    assert m.clocks.rate_hz("RTCCLK") == 0
