"""STM32F413/423 reset and clock control (RCC) at 0x40023800, per RM0430 rev 8 §6.3.

Registered as Renode's `Miscellaneous.STM32F4_RCC` (its `rtcPeripheral` argument and
`Timer9Reset` output are accepted so upstream stm32f4.repl loads) and `metersim.STM32F4_RCC`.

Figures followed (STM32F413xG/H datasheet DS11581 §6.3):
- HSI 16 MHz, start-up ≤ 4 µs -> 4 µs; LSI 32 kHz typical, start-up ≤ 40 µs -> 40 µs.
- HSE crystal (`hse_hz`, default 8 MHz), tSU(HSE) 2 ms typical -> `hse_startup_us` 2000;
  with HSEBYP ready after 1 µs; `hse_hz=0` = no crystal (HSERDY never rises).
- Main PLL lock ≤ 100 µs at VCO 100..432 MHz (typ. 75) -> `pll_lock_us` 100; PLLI2S likewise.
- LSE 32.768 kHz, tSU(LSE) 2 s typical; default `lse_startup_ms=500` (see rcc_f1 for why).
- PLL: f_VCO = f_in(HSI|HSE) / PLLM x PLLN (M 2..63, N 50..432, VCO input 1..2 MHz, VCO
  100..432 MHz), PLLCLK = VCO / PLLP (2, 4, 6, 8), PLL48 = VCO / PLLQ, PLLR = VCO / PLLR
  (SW = 11 selects PLLR as SYSCLK on F412/F413). Out-of-range values are logged once.
- Limits: SYSCLK ≤ 100 MHz, PCLK1 ≤ 50 MHz, PCLK2 ≤ 100 MHz (logged once when exceeded).
- Timer clocks: DCKCFGR.TIMPRE = 0: the x2 rule; TIMPRE = 1: HCLK when the APB prescaler is
  1, 2 or 4, else 4 x PCLK (RM0430 §6.3.28).
- RTCCLK per BDCR.RTCSEL: LSE, LSI or HSE / CFGR.RTCPRE (2..31), gated by RTCEN.
- CIR ready flags/enables/clears and the RCC interrupt (NVIC 5); CSR flags as in rcc_f1
  (power-on value 0x0E000000: BORRSTF, PINRSTF, PORRSTF).

Not modelled: CSS/NMI, MCO1/MCO2 pins, spread spectrum (SSCGR stored), PLLI2S outputs,
DFSDM/SAI kernel-clock muxes (DCKCFGR/DCKCFGR2 stored), sleep-mode enables (LPENR stored with
reset value 0, not taken from RM0430).
"""

from __future__ import annotations

import logging

from metersim.peripherals.base import GPIO
from metersim.peripherals.registry import model
from metersim.peripherals.stm32.rcc_common import (Osc, RccBase, ahb_div, apb_div,
                                                   timer_clock, us)

HSI_HZ = 16_000_000
LSI_HZ = 32_000

REGS = {
    "CR": (0x00, 0x00000083),
    "PLLCFGR": (0x04, 0x24003010),   # M=16, N=192, P=/2, Q=4, R=2
    "CFGR": (0x08, 0x00000000),
    "CIR": (0x0C, 0x00000000),
    "AHB1RSTR": (0x10, 0), "AHB2RSTR": (0x14, 0), "AHB3RSTR": (0x18, 0),
    "APB1RSTR": (0x20, 0), "APB2RSTR": (0x24, 0),
    "AHB1ENR": (0x30, 0), "AHB2ENR": (0x34, 0), "AHB3ENR": (0x38, 0),
    "APB1ENR": (0x40, 0), "APB2ENR": (0x44, 0),
    "AHB1LPENR": (0x50, 0), "AHB2LPENR": (0x54, 0), "AHB3LPENR": (0x58, 0),
    "APB1LPENR": (0x60, 0), "APB2LPENR": (0x64, 0),
    "BDCR": (0x70, 0x00000000),
    "CSR": (0x74, 0x0E000000),
    "SSCGR": (0x80, 0), "PLLI2SCFGR": (0x84, 0x24003000),
    "DCKCFGR": (0x8C, 0), "CKGATENR": (0x90, 0), "DCKCFGR2": (0x94, 0),
}

AHB1_BITS = {0: "gpioporta", 1: "gpioportb", 2: "gpioportc", 3: "gpioportd", 4: "gpioporte",
             5: "gpioportf", 6: "gpioportg", 7: "gpioporth", 12: "crc", 21: "dma1", 22: "dma2"}
AHB2_BITS = {6: "rng", 7: "usbotg"}
APB1_BITS = {0: "timer2", 1: "timer3", 2: "timer4", 3: "timer5", 4: "timer6", 5: "timer7",
             6: "timer12", 7: "timer13", 8: "timer14", 9: "lptim1", 11: "wwdg", 14: "spi2",
             15: "spi3", 17: "usart2", 18: "usart3", 19: "uart4", 20: "uart5", 21: "i2c1",
             22: "i2c2", 23: "i2c3", 24: "fmpi2c1", 25: "can1", 26: "can2", 27: "can3",
             28: "pwr", 29: "dac", 30: "uart7", 31: "uart8"}
APB2_BITS = {0: "timer1", 1: "timer8", 4: "usart1", 5: "usart6", 6: "uart9", 7: "uart10",
             8: "adc1", 11: "sdio", 12: "spi1", 13: "spi4", 14: "syscfg", 16: "timer9",
             17: "timer10", 18: "timer11", 20: "spi5", 22: "sai1", 24: "dfsdm1", 25: "dfsdm2"}
RSTR_TABLES = {"AHB1RSTR": AHB1_BITS, "AHB2RSTR": AHB2_BITS, "APB1RSTR": APB1_BITS,
               "APB2RSTR": APB2_BITS}
ENR_TABLES = {"AHB1ENR": AHB1_BITS, "AHB2ENR": AHB2_BITS, "APB1ENR": APB1_BITS,
              "APB2ENR": APB2_BITS}


@model("Miscellaneous.STM32F4_RCC", "metersim.STM32F4_RCC")
class STM32F4_RCC(RccBase):
    hsi_hz = HSI_HZ
    REGS = REGS
    SW_SOURCES = {0: "HSI", 1: "HSE", 2: "PLL", 3: "PLLR"}
    CR_WRITABLE = 0x050D00F9   # HSION, HSITRIM, HSEON, HSEBYP, CSSON, PLLON, PLLI2SON
    CIR_IE_MASK = 0x3F00
    CSR_POR_VALUE = 0x0E000000

    def __init__(self, ctx, hse_hz: int = 8_000_000, lse_hz: int = 32768,
                 hse_startup_us: float = 2000, pll_lock_us: float = 100,
                 lse_startup_ms: float = 500, lsi_hz: int = LSI_HZ,
                 max_sysclk_hz: int = 100_000_000, max_pclk1_hz: int = 50_000_000,
                 rtc_peripheral=None, pwr=None, **kw):
        self.lsi_hz = int(lsi_hz)
        self.max_sysclk_hz = int(max_sysclk_hz)
        self.max_pclk1_hz = int(max_pclk1_hz)
        self.rtc_peripheral = rtc_peripheral
        self.Timer9Reset = GPIO("Timer9Reset")   # Renode's output, pulsed by APB2RSTR.TIM9RST
        self.OSCS = (
            Osc("LSI", "CSR", 0, 1, 0, us(40)),
            Osc("LSE", "BDCR", 0, 1, 1, us(lse_startup_ms * 1000)),
            Osc("HSI", "CR", 0, 1, 2, us(4)),
            Osc("HSE", "CR", 16, 17, 3, us(hse_startup_us)),
            Osc("PLL", "CR", 24, 25, 4, us(pll_lock_us)),
            Osc("PLLI2S", "CR", 26, 27, 5, us(pll_lock_us)),
        )
        super().__init__(ctx, hse_hz=hse_hz, lse_hz=lse_hz, pwr=pwr, **kw)

    # -- register writes ------------------------------------------------------------------------
    def write_reg(self, name: str, old: int, new: int) -> None:
        if name == "CR":
            self._write_cr(old, new)
        elif name == "PLLCFGR":
            if self._get("CR", 24):
                self.ctx.log_once("pllcfgr-on", logging.WARNING,
                                  "RCC_PLLCFGR written while the PLL is on (RM0430: write it "
                                  "only while PLLON = 0)")
            self.regs[name] = new & 0x7F437FFF
            self._update_rates()
        elif name == "CFGR":
            self.regs["CFGR"] = (new & ~0xC) | (old & 0xC)
            self._try_switch()
            self._update_rates()
        elif name == "CIR":
            self._write_cir(old, new)
        elif name == "CSR":
            self._write_csr(old, new)
        elif name == "BDCR":
            self._write_bdcr(old, new)
        elif name in RSTR_TABLES:
            self.regs[name] = new
            self._pulse_resets(RSTR_TABLES[name], old, new)
            if name == "APB2RSTR" and (new & ~old) >> 16 & 1:
                self.Timer9Reset.blink()
        else:
            self.regs[name] = new
            if name == "DCKCFGR":
                self._update_rates()

    def _write_bdcr(self, old: int, new: int) -> None:
        if not self.backup_writable:
            self.ctx.log_once("bdcr-dbp", logging.WARNING,
                              "RCC_BDCR write ignored: backup domain is write-protected "
                              "(set PWR_CR.DBP first)")
            return
        if (new >> 16) & 1:
            self.regs["BDCR"] = 1 << 16
            self._switch_oscillators("BDCR", old, self.regs["BDCR"])
            if not (old >> 16) & 1:
                self._backup_domain_lost()
            return
        rtcsel = (old >> 8) & 3
        if rtcsel == 0:
            rtcsel = (new >> 8) & 3
        if old & 1:
            new = (new & ~0x4) | (old & 0x4)
        # LSEON, LSEBYP, LSEMOD, RTCEN writable; LSERDY follows the oscillator.
        self.regs["BDCR"] = (new & 0x800D) | (old & 0x2) | (rtcsel << 8)
        self._switch_oscillators("BDCR", old, self.regs["BDCR"])
        self._update_rates()

    def startup_ps(self, o: Osc):
        if o.name == "HSE":
            if self.hse_hz == 0:
                return None
            return us(1) if self._get("CR", 18) else o.startup_ps
        if o.name == "LSE":
            if self.lse_hz == 0:
                return None
            return us(1) if self._get("BDCR", 2) else o.startup_ps
        if o.name == "PLL" and self._pll_m() < 2:
            self.ctx.log(logging.WARNING, "PLL enabled with PLLM = %d (must be 2..63): it "
                         "will not lock", self._pll_m())
            return None
        return o.startup_ps

    # -- clock tree -------------------------------------------------------------------------------
    def pll_source(self) -> str:
        return "HSE" if (self.regs["PLLCFGR"] >> 22) & 1 else "HSI"

    def _pll_m(self) -> int:
        return self.regs["PLLCFGR"] & 0x3F

    def pll_vco_hz(self) -> int:
        cfg = self.regs["PLLCFGR"]
        m, n = cfg & 0x3F, (cfg >> 6) & 0x1FF
        if m < 2:
            return 0
        fin = self.nominal_hz(self.pll_source())
        vco_in = fin // m
        vco = fin * n // m
        if not 1_000_000 <= vco_in <= 2_000_000 or not 50 <= n <= 432 \
                or not 100_000_000 <= vco <= 432_000_000:
            self.ctx.log_once(("pll-range", cfg), logging.WARNING,
                              "PLL out of range: VCO input %d Hz (1-2 MHz), N=%d (50-432), "
                              "VCO %d Hz (100-432 MHz)", vco_in, n, vco)
        return vco

    def pll_hz(self) -> int:
        return self.pll_vco_hz() // (2 * (((self.regs["PLLCFGR"] >> 16) & 3) + 1))

    def nominal_hz(self, name: str) -> int:
        return 0 if name == "PLLI2S" else super().nominal_hz(name)

    def compute_rates(self) -> dict[str, int]:
        cfgr, pllcfgr = self.regs["CFGR"], self.regs["PLLCFGR"]
        locked = self.osc_ready("PLL")
        vco = self.pll_vco_hz() if locked else 0
        pll_p = vco // (2 * (((pllcfgr >> 16) & 3) + 1))
        q, r = (pllcfgr >> 24) & 0xF, (pllcfgr >> 28) & 0x7
        pll_q = vco // q if q >= 2 else 0
        pll_r = vco // r if r >= 2 else 0
        sysclk = {0: self.osc_hz("HSI"), 1: self.osc_hz("HSE"), 2: pll_p,
                  3: pll_r}[(cfgr >> 2) & 3]
        hclk = sysclk // ahb_div(cfgr >> 4)
        d1, d2 = apb_div(cfgr >> 10), apb_div(cfgr >> 13)
        pclk1, pclk2 = hclk // d1, hclk // d2
        if self.regs["DCKCFGR"] >> 24 & 1:                 # TIMPRE
            tim1 = hclk if d1 <= 4 else 4 * pclk1
            tim2 = hclk if d2 <= 4 else 4 * pclk2
        else:
            tim1, tim2 = timer_clock(pclk1, d1), timer_clock(pclk2, d2)
        if sysclk > self.max_sysclk_hz:
            self.ctx.log_once("sysclk-max", logging.WARNING,
                              "SYSCLK %d Hz exceeds the %d Hz maximum", sysclk, self.max_sysclk_hz)
        if pclk1 > self.max_pclk1_hz:
            self.ctx.log_once("pclk1-max", logging.WARNING,
                              "PCLK1 %d Hz exceeds the %d Hz APB1 maximum", pclk1,
                              self.max_pclk1_hz)
        bdcr = self.regs["BDCR"]
        rtcpre = (cfgr >> 16) & 0x1F
        rtc_src = {1: self.osc_hz("LSE"), 2: self.osc_hz("LSI"),
                   3: self.osc_hz("HSE") // rtcpre if rtcpre >= 2 else 0}.get((bdcr >> 8) & 3, 0)
        return {
            "HSI": self.osc_hz("HSI"), "HSE": self.osc_hz("HSE"), "LSI": self.osc_hz("LSI"),
            "LSE": self.osc_hz("LSE"), "PLLCLK": pll_p, "PLL48CLK": pll_q, "PLLRCLK": pll_r,
            "SYSCLK": sysclk, "HCLK": hclk, "PCLK1": pclk1, "PCLK2": pclk2,
            "TIMCLK1": tim1, "TIMCLK2": tim2,
            "RTCCLK": rtc_src if (bdcr >> 15) & 1 else 0,
        }

    def clock_enabled(self, peripheral: str) -> bool:
        """Is the bus clock of `peripheral` (platform name, e.g. "usart2") enabled?"""
        p = peripheral.lower()
        for reg, table in ENR_TABLES.items():
            for bitn, name in table.items():
                if name == p:
                    return bool(self._get(reg, bitn))
        raise KeyError(f"RCC has no clock-enable bit for {peripheral!r}")
