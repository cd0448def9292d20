"""RCC of the newer STM32 families (F0, L0, L5, WBA, H7) as far as firmware on the oscillators
(no PLL) needs it: every register at its documented reset value, peripheral clock enables
stored, an oscillator's ready flag following its ON bit, and the reset clock published.

Reset clocks (each family's reference manual, "Clocks" section): F0 HSI 8 MHz (RM0091 §7.2),
L0 MSI range 5 = 2.097 MHz (RM0367 §7.2), L5 MSI range 6 = 4 MHz (RM0438 §9.2), WBA HSI16
16 MHz (RM0493 §11.4), H7 HSI 64 MHz (RM0433 §8.5); AHB and APB prescalers are 1 after reset,
so HCLK = PCLKx = SYSCLK.

The system-clock switch is followed for the oscillators: CFGR.SW selects HSI/MSI/HSE/CSI
(each at its nominal rate, MSI at its range), SWS reports it at once and SYSCLK, HCLK and the
APB clocks follow (prescalers stay 1). `hse_hz` is the board's HSE (crystal or ST-LINK MCO).

Not modelled (a warning names the register once): the PLL as SYSCLK (SWS then keeps the old
source and the clocks stay), AHB/APB prescalers and the rest of CFGR; oscillators become ready
at once (no start-up time); peripheral resets through the xxxRSTR registers; reset-cause
flags beyond their reset value.
"""

from __future__ import annotations

import logging

from metersim.peripherals.base import GPIO, Peripheral
from metersim.peripherals.registry import model
from metersim.peripherals.stm32 import clock_tree


class ResetClockRcc(Peripheral):
    size = 0x400
    SYSCLK_HZ = 0
    #: offset -> (name, reset value)
    REGS: dict[int, tuple[str, int]] = {}
    #: register name -> [(ON bit, RDY bit)]
    OSC_BITS: dict[str, list[tuple[int, int]]] = {}
    #: the register holding SW and the width of SW; SWS is the field right above it
    SW = ("CFGR", 2)
    #: writes the model stores but whose clock effect it does not follow
    UNFOLLOWED: tuple[str, ...] = ()
    HSE_HZ = 8_000_000

    def __init__(self, ctx, hse_hz: int | None = None, **_renode_args):
        super().__init__(ctx)
        self.IRQ = GPIO("IRQ")
        self.hse_hz = self.HSE_HZ if hse_hz is None else int(hse_hz)
        self._by_name = {name: off for off, (name, _) in self.REGS.items()}
        self.reset()

    def reset(self) -> None:
        self.regs = {off: value for off, (_, value) in self.REGS.items()}
        self._publish(self.SYSCLK_HZ)

    def _publish(self, hz: int) -> None:
        self.sysclk_hz = hz
        clock_tree(self.ctx).set_rates({"SYSCLK": hz, "HCLK": hz, "PCLK1": hz, "PCLK2": hz,
                                        "TIMCLK1": hz, "TIMCLK2": hz})

    def source_hz(self, sw: int) -> int | None:
        """SYSCLK for SW = `sw`; None where the model does not follow it (PLL)."""
        raise NotImplementedError

    def _switch(self, old: int, new: int) -> int:
        width = self.SW[1]
        mask = (1 << width) - 1
        sw = new & mask
        hz = self.source_hz(sw)
        if hz is None:
            self.ctx.log_once(("sw", sw), logging.WARNING,
                              "RCC_%s.SW = %d (PLL) is not modelled: SYSCLK stays %d Hz",
                              self.SW[0], sw, self.sysclk_hz)
            return (new & ~(mask << width)) | (old & (mask << width))
        if (new ^ old) & ~((1 << 2 * width) - 1):
            self.ctx.log_once(("prescalers", self.SW[0]), logging.WARNING,
                              "RCC_%s prescalers/MCO are not modelled: HCLK = PCLKx = SYSCLK",
                              self.SW[0])
        self._publish(hz)
        return (new & ~(mask << width)) | (sw << width)

    def reg(self, name: str) -> int:
        return self.regs[self._by_name[name]]

    def read(self, offset: int, size: int) -> int:
        off = offset & ~3
        if off not in self.regs:
            return super().read(offset, size)
        return (self.regs[off] >> (8 * (offset & 3))) & ((1 << (8 * size)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        off = offset & ~3
        if off not in self.regs:
            super().write(offset, size, value)
            return
        shift, name = 8 * (offset & 3), self.REGS[off][0]
        mask = ((1 << (8 * size)) - 1) << shift
        old = self.regs[off]
        new = (old & ~mask) | ((value << shift) & mask)
        for on, rdy in self.OSC_BITS.get(name, ()):
            new = (new & ~(1 << rdy)) | ((new >> on & 1) << rdy)   # ready at once
        if name == self.SW[0]:
            new = self._switch(old, new)
        self.regs[off] = new
        if name in self.UNFOLLOWED and new != old:
            self.ctx.log_once(("unfollowed", name), logging.WARNING,
                              "RCC_%s written (0x%08X): its clock settings are not modelled",
                              name, new)


@model("Miscellaneous.STM32F0_RCC", "metersim.STM32F0_RCC")
class STM32F0_RCC(ResetClockRcc):
    """RM0091 §7.4: HSITRIM 16 and HSION/HSIRDY after reset; AHBENR SRAM+FLITF enabled."""
    SYSCLK_HZ = 8_000_000
    REGS = {0x00: ("CR", 0x00000083), 0x04: ("CFGR", 0), 0x08: ("CIR", 0),
            0x0C: ("APB2RSTR", 0), 0x10: ("APB1RSTR", 0), 0x14: ("AHBENR", 0x14),
            0x18: ("APB2ENR", 0), 0x1C: ("APB1ENR", 0), 0x20: ("BDCR", 0),
            0x24: ("CSR", 0x0C000000), 0x28: ("AHBRSTR", 0), 0x2C: ("CFGR2", 0),
            0x30: ("CFGR3", 0), 0x34: ("CR2", 0x00000080)}
    OSC_BITS = {"CR": [(0, 1), (16, 17), (24, 25)], "CR2": [(0, 1), (16, 17)],
                "BDCR": [(0, 1)], "CSR": [(0, 1)]}

    def source_hz(self, sw):
        return {0: 8_000_000, 1: self.hse_hz, 3: 48_000_000}.get(sw)   # 2 = PLL


@model("Miscellaneous.STM32L0_RCC", "metersim.STM32L0_RCC")
class STM32L0_RCC(ResetClockRcc):
    """RM0367 §7.3: MSION/MSIRDY after reset, MSI range 5 (2.097 MHz)."""
    SYSCLK_HZ = 2_097_000
    REGS = {0x00: ("CR", 0x00000300), 0x04: ("ICSCR", 0x0000B000), 0x08: ("CRRCR", 0),
            0x0C: ("CFGR", 0), 0x10: ("CIER", 0), 0x14: ("CIFR", 0), 0x18: ("CICR", 0),
            0x1C: ("IOPRSTR", 0), 0x20: ("AHBRSTR", 0), 0x24: ("APB2RSTR", 0),
            0x28: ("APB1RSTR", 0), 0x2C: ("IOPENR", 0), 0x30: ("AHBENR", 0x100),
            0x34: ("APB2ENR", 0), 0x38: ("APB1ENR", 0), 0x3C: ("IOPSMENR", 0x8F),
            0x40: ("AHBSMENR", 0x01111301), 0x44: ("APB2SMENR", 0x00405225),
            0x48: ("APB1SMENR", 0xB8E64A11), 0x4C: ("CCIPR", 0), 0x50: ("CSR", 0x0C000000)}
    OSC_BITS = {"CR": [(0, 2), (8, 9), (16, 17), (24, 25)], "CSR": [(0, 1), (8, 9)]}

    def source_hz(self, sw):
        msi_hz = 65_536 << (self.reg("ICSCR") >> 13 & 7)     # MSIRANGE 0..6
        return {0: msi_hz, 1: 16_000_000, 2: self.hse_hz}.get(sw)  # 3 = PLL


@model("Miscellaneous.STM32L5_RCC", "metersim.STM32L5_RCC")
class STM32L5_RCC(ResetClockRcc):
    """RM0438 §9.8: MSION/MSIRDY, MSIRANGE 6 (4 MHz) after reset."""
    SYSCLK_HZ = 4_000_000
    REGS = {0x00: ("CR", 0x00000063), 0x04: ("ICSCR", 0x40000000), 0x08: ("CFGR", 0),
            0x0C: ("PLLCFGR", 0x00001000), 0x18: ("CIER", 0), 0x1C: ("CIFR", 0),
            0x20: ("CICR", 0), 0x48: ("AHB1ENR", 0x100), 0x4C: ("AHB2ENR", 0),
            0x50: ("AHB3ENR", 0), 0x58: ("APB1ENR1", 0), 0x5C: ("APB1ENR2", 0),
            0x60: ("APB2ENR", 0), 0x88: ("CCIPR1", 0), 0x90: ("BDCR", 0),
            0x94: ("CSR", 0x0C000600), 0x9C: ("CCIPR2", 0)}
    OSC_BITS = {"CR": [(0, 1), (8, 10), (16, 17), (24, 25)], "BDCR": [(0, 1)],
                "CSR": [(0, 1)]}
    MSI_HZ = (100_000, 200_000, 400_000, 800_000, 1_000_000, 2_000_000, 4_000_000, 8_000_000,
              16_000_000, 24_000_000, 32_000_000, 48_000_000)

    def source_hz(self, sw):
        cr = self.reg("CR")   # MSIRGSEL: range from CR.MSIRANGE, else CSR.MSISRANGE
        rng = cr >> 4 & 0xF if cr & 1 << 3 else self.reg("CSR") >> 8 & 0xF
        msi_hz = self.MSI_HZ[min(rng, 11)]
        return {0: msi_hz, 1: 16_000_000, 2: self.hse_hz}.get(sw)  # 3 = PLL


@model("Miscellaneous.STM32WBA_RCC", "metersim.STM32WBA_RCC")
class STM32WBA_RCC(ResetClockRcc):
    """RM0493 §11.8: HSION/HSIRDY after reset (HSI16)."""
    SYSCLK_HZ = 16_000_000
    SW = ("CFGR1", 2)
    UNFOLLOWED = ("CFGR2", "CFGR3")
    HSE_HZ = 32_000_000                     # the WBA's HSE is a 32 MHz radio crystal
    REGS = {0x00: ("CR", 0x00000500), 0x10: ("ICSCR3", 0x00100000), 0x1C: ("CFGR1", 0),
            0x20: ("CFGR2", 0), 0x24: ("CFGR3", 0), 0x28: ("PLL1CFGR", 0),
            0x50: ("CIER", 0), 0x54: ("CIFR", 0), 0x58: ("CICR", 0),
            0x88: ("AHB1ENR", 0x80000100), 0x8C: ("AHB2ENR", 0), 0x94: ("AHB4ENR", 0),
            0x98: ("AHB5ENR", 0), 0x9C: ("APB1ENR1", 0), 0xA0: ("APB1ENR2", 0),
            0xA4: ("APB2ENR", 0), 0xA8: ("APB7ENR", 0), 0xE0: ("CCIPR1", 0),
            0xE4: ("CCIPR2", 0), 0xE8: ("CCIPR3", 0), 0xF0: ("BDCR1", 0),
            0xF4: ("CSR", 0x0C000000)}
    OSC_BITS = {"CR": [(8, 10), (16, 17), (24, 25)], "BDCR1": [(0, 1), (26, 27)]}

    def source_hz(self, sw):
        return {0: 16_000_000, 2: self.hse_hz}.get(sw)           # 3 = PLL1R


@model("Miscellaneous.STM32H7_RCC", "metersim.STM32H7_RCC")
class STM32H7_RCC(ResetClockRcc):
    """RM0433 §8.7: HSION/HSIRDY, HSIDIV /1 (64 MHz) after reset; D1/D2/D3 prescalers /1."""
    SYSCLK_HZ = 64_000_000
    SW = ("CFGR", 3)
    UNFOLLOWED = ("D1CFGR", "D2CFGR", "D3CFGR")
    REGS = {0x00: ("CR", 0x00000025), 0x04: ("HSICFGR", 0x40000000), 0x08: ("CRRCR", 0),
            0x0C: ("CSICFGR", 0x20000000), 0x10: ("CFGR", 0), 0x18: ("D1CFGR", 0),
            0x1C: ("D2CFGR", 0), 0x20: ("D3CFGR", 0), 0x28: ("PLLCKSELR", 0x02020200),
            0x2C: ("PLLCFGR", 0x01FF0000), 0x4C: ("D1CCIPR", 0), 0x50: ("D2CCIP1R", 0),
            0x54: ("D2CCIP2R", 0), 0x58: ("D3CCIPR", 0), 0x60: ("CIER", 0),
            0x64: ("CIFR", 0), 0x68: ("CICR", 0), 0x70: ("BDCR", 0), 0x74: ("CSR", 0),
            0xD4: ("AHB3ENR", 0), 0xD8: ("AHB1ENR", 0), 0xDC: ("AHB2ENR", 0),
            0xE0: ("AHB4ENR", 0), 0xE4: ("APB3ENR", 0), 0xE8: ("APB1LENR", 0),
            0xEC: ("APB1HENR", 0), 0xF0: ("APB2ENR", 0), 0xF4: ("APB4ENR", 0)}
    OSC_BITS = {"CR": [(0, 2), (7, 8), (12, 13), (16, 17), (24, 25), (26, 27), (28, 29)],
                "BDCR": [(0, 1)], "CSR": [(0, 1)]}

    def __init__(self, ctx, **renode_args):
        self.aliases: dict[str, object] = {}
        super().__init__(ctx, **renode_args)

    def register_child(self, child, point=None) -> None:
        """`x: T @ { sysbus A; rcc RegistrationPeripheralAlias.X }`: Renode's RCC learns which
        block answers to its enable/reset bit X; recorded (gating is not modelled)."""
        alias = str(getattr(point, "text", point) or getattr(child, "name", child))
        self.aliases[alias.rsplit(".", 1)[-1]] = child

    def source_hz(self, sw):
        hsi_hz = 64_000_000 >> (self.reg("CR") >> 3 & 3)          # HSIDIV
        return {0: hsi_hz, 1: 4_000_000, 2: self.hse_hz}.get(sw)  # 3 = PLL1
