"""STM32F1 GPIO port (CRL/CRH/IDR/ODR/BSRR/BRR/LCKR), RM0008 §9.2.

Registered as Renode's `GPIOPort.STM32F1GPIOPort` (accepts its `invertedAFPins`).
CRL/CRH reset to 0x44444444 (all pins floating inputs). Per pin MODE[1:0] = 00 input,
01/10/11 output at 10/2/50 MHz (speed stored only); CNF for inputs: 00 analog, 01 floating,
10 pull-up (ODR bit 1) / pull-down (ODR bit 0); for outputs: 00 push-pull, 01 open-drain,
10 AF push-pull, 11 AF open-drain. The F1 has no AF multiplexer: an AF pin follows whichever
alternate-function source (`gpioPortA#08@01` local receivers, as upstream wires timers) last
changed. BRR resets pins; BSRR set wins over reset. LCKR: write LCKK=1/0/1 with the same
LCK[15:0] freezes those pins' CRL/CRH fields until reset.
"""

from __future__ import annotations

from metersim.peripherals.registry import model
from metersim.peripherals.stm32.gpio_common import (AF, ANALOG, IN, OUT, GpioPortBase, kwarg,
                                                    split_write)

CRL, CRH, IDR, ODR, BSRR, BRR, LCKR = range(0, 0x1C, 4)
CR_RESET = 0x44444444


@model("GPIOPort.STM32F1GPIOPort", "metersim.STM32F1_GPIOPort")
class STM32F1GPIOPort(GpioPortBase):
    def __init__(self, ctx, **kw):
        super().__init__(ctx, inverted_af_pins=kwarg(kw, "invertedAFPins", None))

    def _init_config(self) -> None:
        self.cr = CR_RESET | (CR_RESET << 32)       # CRH:CRL, 4 bits per pin

    def pin_config(self, pin: int):
        nib = (self.cr >> (4 * pin)) & 0xF
        mode, cnf = nib & 3, nib >> 2
        if mode == 0:
            if cnf == 0:
                return ANALOG, False, None, -1
            if cnf == 2:
                return IN, False, "up" if (self.odr >> pin) & 1 else "down", -1
            return IN, False, None, -1
        return (AF if cnf & 2 else OUT), bool(cnf & 1), None, -1

    def analog_mask(self) -> int:
        mask = 0
        cr = self.cr
        for pin in range(self.NPINS):
            if not (cr >> (4 * pin)) & 0xF:          # MODE = 00 (input), CNF = 00 (analog)
                mask |= 1 << pin
        return mask

    def _set_af_level(self, pin: int, af: int, level: bool) -> None:
        self._af[(pin, -1)] = bool(level) ^ ((pin, af) in self._inverted)
        if self.pin_config(pin)[0] == AF:
            self._refresh()

    def read(self, offset: int, size: int) -> int:
        reg = offset & ~3
        if reg == IDR:
            value = self.idr()
        elif reg in (CRL, CRH):
            value = (self.cr >> (32 if reg == CRH else 0)) & 0xFFFFFFFF
        elif reg == ODR:
            value = self.odr
        elif reg == LCKR:
            value = self.lckr
        elif reg in (BSRR, BRR):
            value = 0
        else:
            return super().read(offset, size)
        return (value >> (8 * (offset & 3))) & ((1 << (8 * size)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        reg = offset & ~3
        if reg in (CRL, CRH):
            first = 8 if reg == CRH else 0
            old = (self.cr >> (4 * first)) & 0xFFFFFFFF
            new = self.merge_locked(old, split_write(old, offset, size, value)[0], 4, first)
            self.cr = (self.cr & ~(0xFFFFFFFF << (4 * first))) | (new << (4 * first))
            self._refresh()
        elif reg == ODR:
            self.write_odr(split_write(self.odr, offset, size, value)[0])
        elif reg == BSRR:
            self.write_bsrr(split_write(0, offset, size, value)[0])
        elif reg == BRR:
            self.write_bsrr((split_write(0, offset, size, value)[0] & 0xFFFF) << 16)
        elif reg == LCKR:
            self.write_lckr(split_write(self.lckr, offset, size, value)[0])
        elif reg == IDR:
            pass
        else:
            super().write(offset, size, value)
