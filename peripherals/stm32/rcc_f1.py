"""STM32F10x reset and clock control (RCC) at 0x40021000, per RM0008 rev 21 §7.3.

The model owns the machine's clock rates (peripherals/clock_tree.py): SYSCLK, HCLK, PCLK1,
PCLK2, TIMCLK1/2 (APB x2 rule), ADCCLK, USBCLK, PLLCLK, HSI, HSE, LSI, LSE, RTCCLK, and keeps
them in step with what the firmware writes.

Figures followed (STM32F103x8/B datasheet DS5319 rev 20, §5.3):
- HSI 8 MHz; start-up tSU(HSI) ≤ 2 µs (Table 24) -> 2 µs.
- HSE crystal (`hse_hz`, default 8 MHz); tSU(HSE) 2 ms typical (Table 22) -> `hse_startup_us`
  default 2000. With HSEBYP the external clock is ready after 1 µs. `hse_hz=0` = no crystal:
  HSERDY never rises (firmware that waits for it times out, as on a board without one).
- PLL lock tLOCK ≤ 200 µs (Table 26) -> 200 µs.
- LSI 40 kHz typical (30-60 kHz, Table 25); tSU(LSI) ≤ 85 µs -> 85 µs.
- LSE 32.768 kHz; tSU(LSE) is 3 s typical in the datasheet (Table 23). The default here is
  `lse_startup_ms=500` so firmware waiting for LSERDY does not spend seconds of emulated
  polling; pass 3000 for the datasheet value.
- PLLMUL x2..x16, PLLSRC HSI/2 or HSE (÷2 with PLLXTPRE); PLL output ≤ 72 MHz, PCLK1 ≤ 36 MHz
  (exceeding either is logged once, the rates are still applied).
- PLLSRC/PLLXTPRE/PLLMUL are writable only while the PLL is off (§7.3.2); the running SYSCLK
  source cannot be switched off; SWS follows SW once the selected source is ready.
- CIR ready flags/enables/clears and the RCC interrupt (NVIC 5); CSR reset flags survive a
  system reset, are cleared by RMVF and set by `on_machine_reset(cause)` (with PINRSTF for
  internal causes, since the reset generator drives NRST); BDCR lives in the backup domain
  (kept across system resets, cleared by power-on or BDRST, writes need PWR_CR.DBP).

Not modelled: clock security system (CSS/NMI), MCO output pin, HSI trimming effect on the
frequency, the connectivity-line PLL2/PLL3 (STM32F105/107).
"""

from __future__ import annotations

import logging

from metersim.peripherals.registry import model
from metersim.peripherals.stm32.rcc_common import (Osc, RccBase, ahb_div, apb_div,
                                                   timer_clock, us)

HSI_HZ = 8_000_000
LSI_HZ = 40_000

# Register names -> (offset, reset value) per RM0008 §7.3.
REGS = {
    "CR": (0x00, 0x00000083),        # HSION, HSIRDY, HSITRIM = 16
    "CFGR": (0x04, 0x00000000),
    "CIR": (0x08, 0x00000000),
    "APB2RSTR": (0x0C, 0x00000000),
    "APB1RSTR": (0x10, 0x00000000),
    "AHBENR": (0x14, 0x00000014),    # SRAMEN, FLITFEN
    "APB2ENR": (0x18, 0x00000000),
    "APB1ENR": (0x1C, 0x00000000),
    "BDCR": (0x20, 0x00000000),
    "CSR": (0x24, 0x0C000000),
}

APB2_BITS = {0: "afio", 2: "gpioporta", 3: "gpioportb", 4: "gpioportc", 5: "gpioportd",
             6: "gpioporte", 7: "gpioportf", 8: "gpioportg", 9: "adc1", 10: "adc2",
             11: "timer1", 12: "spi1", 13: "timer8", 14: "usart1", 15: "adc3"}
APB1_BITS = {0: "timer2", 1: "timer3", 2: "timer4", 3: "timer5", 4: "timer6", 5: "timer7",
             11: "wwdg", 14: "spi2", 15: "spi3", 17: "usart2", 18: "usart3", 19: "uart4",
             20: "uart5", 21: "i2c1", 22: "i2c2", 23: "usb", 25: "can", 27: "bkp", 28: "pwr",
             29: "dac"}
AHB_BITS = {0: "dma1", 1: "dma2", 2: "sram", 4: "flash", 6: "crc", 8: "fsmc", 10: "sdio"}
ADC_DIV = (2, 4, 6, 8)


@model("metersim.STM32F1_RCC")
class STM32F1_RCC(RccBase):
    hsi_hz = HSI_HZ
    REGS = REGS
    SW_SOURCES = {0: "HSI", 1: "HSE", 2: "PLL"}
    CR_WRITABLE = 0x010D00F9   # HSION, HSITRIM, HSEON, HSEBYP, CSSON, PLLON
    CIR_IE_MASK = 0x1F00

    def __init__(self, ctx, hse_hz: int = 8_000_000, lse_hz: int = 32768,
                 hse_startup_us: float = 2000, pll_lock_us: float = 200,
                 lse_startup_ms: float = 500, lsi_hz: int = LSI_HZ, pwr=None, **kw):
        self.lsi_hz = int(lsi_hz)
        self.OSCS = (
            Osc("LSI", "CSR", 0, 1, 0, us(85)),
            Osc("LSE", "BDCR", 0, 1, 1, us(lse_startup_ms * 1000)),
            Osc("HSI", "CR", 0, 1, 2, us(2)),
            Osc("HSE", "CR", 16, 17, 3, us(hse_startup_us)),
            Osc("PLL", "CR", 24, 25, 4, us(pll_lock_us)),
        )
        super().__init__(ctx, hse_hz=hse_hz, lse_hz=lse_hz, pwr=pwr, **kw)

    # -- register writes ------------------------------------------------------------------------
    def write_reg(self, name: str, old: int, new: int) -> None:
        if name == "CR":
            self._write_cr(old, new)
        elif name == "CFGR":
            if self._get("CR", 24):                  # PLL on: PLLSRC/XTPRE/MUL frozen
                new = (new & ~0x003F0000) | (old & 0x003F0000)
            self.regs["CFGR"] = (new & ~0xC) | (old & 0xC)   # SWS is read-only
            self._try_switch()
            self._update_rates()
        elif name == "CIR":
            self._write_cir(old, new)
        elif name == "CSR":
            self._write_csr(old, new)
        elif name == "BDCR":
            self._write_bdcr(old, new)
        elif name in ("APB2RSTR", "APB1RSTR"):
            self.regs[name] = new
            self._pulse_resets(APB2_BITS if name == "APB2RSTR" else APB1_BITS, old, new)
        else:
            self.regs[name] = new

    def _write_bdcr(self, old: int, new: int) -> None:
        if not self.backup_writable:
            self.ctx.log_once("bdcr-dbp", logging.WARNING,
                              "RCC_BDCR write ignored: backup domain is write-protected "
                              "(set PWR_CR.DBP first)")
            return
        if (new >> 16) & 1:                          # BDRST resets the whole backup domain
            self.regs["BDCR"] = 1 << 16
            self._switch_oscillators("BDCR", old, self.regs["BDCR"])
            return
        keep_rdy = old & 0x2
        rtcsel = (old >> 8) & 3
        if rtcsel == 0:                              # RTCSEL can be set once until BDRST
            rtcsel = (new >> 8) & 3
        if (old >> 0) & 1:                           # LSEBYP writable only while LSE is off
            new = (new & ~0x4) | (old & 0x4)
        self.regs["BDCR"] = (new & 0x8005) | keep_rdy | (rtcsel << 8)
        self._switch_oscillators("BDCR", old, self.regs["BDCR"])

    def startup_ps(self, o: Osc):
        if o.name == "HSE":
            if self.hse_hz == 0:
                return None
            return us(1) if self._get("CR", 18) else o.startup_ps
        if o.name == "LSE":
            if self.lse_hz == 0:
                return None
            return us(1) if self._get("BDCR", 2) else o.startup_ps
        return o.startup_ps

    # -- clock tree ---------------------------------------------------------------------------------
    def pll_source(self) -> str:
        return "HSE" if (self.regs["CFGR"] >> 16) & 1 else "HSI"

    def pll_input_hz(self) -> int:
        cfgr = self.regs["CFGR"]
        if (cfgr >> 16) & 1:
            return self.nominal_hz("HSE") // (2 if (cfgr >> 17) & 1 else 1)
        return HSI_HZ // 2

    def pll_mul(self) -> int:
        code = (self.regs["CFGR"] >> 18) & 0xF
        return min(code + 2, 16)

    def pll_hz(self) -> int:
        return self.pll_input_hz() * self.pll_mul()

    def compute_rates(self) -> dict[str, int]:
        cfgr = self.regs["CFGR"]
        pll = self.osc_hz("PLL")
        sysclk = {0: self.osc_hz("HSI"), 1: self.osc_hz("HSE"), 2: pll}.get((cfgr >> 2) & 3, 0)
        hclk = sysclk // ahb_div(cfgr >> 4)
        d1, d2 = apb_div(cfgr >> 8), apb_div(cfgr >> 11)
        pclk1, pclk2 = hclk // d1, hclk // d2
        if pll > 72_000_000:
            self.ctx.log_once("pll-max", logging.WARNING,
                              "PLL output %d Hz exceeds the 72 MHz maximum (DS5319)", pll)
        if pclk1 > 36_000_000:
            self.ctx.log_once("pclk1-max", logging.WARNING,
                              "PCLK1 %d Hz exceeds the 36 MHz APB1 maximum (RM0008 §7.2)", pclk1)
        bdcr = self.regs["BDCR"]
        rtc_src = {1: self.osc_hz("LSE"), 2: self.osc_hz("LSI"),
                   3: self.osc_hz("HSE") // 128}.get((bdcr >> 8) & 3, 0)
        return {
            "HSI": self.osc_hz("HSI"), "HSE": self.osc_hz("HSE"), "LSI": self.osc_hz("LSI"),
            "LSE": self.osc_hz("LSE"), "PLLCLK": pll,
            "SYSCLK": sysclk, "HCLK": hclk, "PCLK1": pclk1, "PCLK2": pclk2,
            "TIMCLK1": timer_clock(pclk1, d1), "TIMCLK2": timer_clock(pclk2, d2),
            "ADCCLK": pclk2 // ADC_DIV[(cfgr >> 14) & 3],
            "USBCLK": pll if (cfgr >> 22) & 1 else pll * 2 // 3,
            "RTCCLK": rtc_src if (bdcr >> 15) & 1 else 0,
        }

    # -- queries for other models ---------------------------------------------------------------------
    def clock_enabled(self, peripheral: str) -> bool:
        """Is the bus clock of `peripheral` (platform name, e.g. "usart2") enabled?"""
        p = peripheral.lower()
        for reg, table in (("APB2ENR", APB2_BITS), ("APB1ENR", APB1_BITS),
                           ("AHBENR", AHB_BITS)):
            for bitn, name in table.items():
                if name == p:
                    return bool(self._get(reg, bitn))
        raise KeyError(f"RCC has no clock-enable bit for {peripheral!r}")
