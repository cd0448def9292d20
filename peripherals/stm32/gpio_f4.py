"""STM32F4 GPIO port (MODER/OTYPER/OSPEEDR/PUPDR/IDR/ODR/BSRR/LCKR/AFRL/AFRH), RM0430 §8.4.

Registered as Renode's `GPIOPort.STM32_GPIOPort`, with its constructor arguments
(modeResetValue, outputSpeedResetValue, pullUpPullDownResetValue, numberOfAFs, invertedAFPins)
so upstream stm32f4.repl loads. Reset values: 0 except port A (MODER 0xA8000000, OSPEEDR
0x0C000000, PUPDR 0x64000000: the SWD/JTAG pins) and port B (0x00000280, 0x000000C0,
0x00000100), given per port in the .repl as upstream does.

Pin-level rules are in gpio_common. BSRR set wins over reset; half-word writes to BSRR's
upper half (old CMSIS BSRRH) reset pins. LCKR: the LCKK write/write/write sequence with the
same LCK[15:0] freezes MODER/OTYPER/OSPEEDR/PUPDR/AFR fields of those pins until reset; a
wrong sequence aborts. Output speed is stored only (edge rates are not modelled).
"""

from __future__ import annotations

from metersim.peripherals.registry import model
from metersim.peripherals.stm32.gpio_common import (AF, ANALOG, IN, OUT, GpioPortBase, kwarg,
                                                    split_write)

MODER, OTYPER, OSPEEDR, PUPDR, IDR, ODR, BSRR, LCKR, AFRL, AFRH = range(0, 0x28, 4)
_KINDS = (IN, OUT, AF, ANALOG)


@model("GPIOPort.STM32_GPIOPort", "metersim.STM32F4_GPIOPort")
class STM32_GPIOPort(GpioPortBase):
    def __init__(self, ctx, mode_reset_value: int = 0, output_speed_reset_value: int = 0,
                 pull_up_pull_down_reset_value: int = 0, **kw):
        self.mode_reset = int(mode_reset_value)
        self.speed_reset = int(output_speed_reset_value)
        self.pupd_reset = int(pull_up_pull_down_reset_value)
        self.number_of_afs = int(kwarg(kw, "numberOfAFs", 16))
        super().__init__(ctx, inverted_af_pins=kwarg(kw, "invertedAFPins", None))

    def _init_config(self) -> None:
        self.moder = self.mode_reset
        self.otyper = 0
        self.ospeedr = self.speed_reset
        self.pupdr = self.pupd_reset
        self.afr = 0          # AFRH:AFRL as one 64-bit value, 4 bits per pin

    def pin_config(self, pin: int):
        kind = _KINDS[(self.moder >> (2 * pin)) & 3]
        pull = {1: "up", 2: "down"}.get((self.pupdr >> (2 * pin)) & 3)
        return kind, bool((self.otyper >> pin) & 1), pull, (self.afr >> (4 * pin)) & 0xF

    def analog_mask(self) -> int:
        mask = 0
        moder = self.moder
        for pin in range(self.NPINS):
            if (moder >> (2 * pin)) & 3 == 3:
                mask |= 1 << pin
        return mask

    def read(self, offset: int, size: int) -> int:
        reg = offset & ~3
        values = {MODER: self.moder, OTYPER: self.otyper, OSPEEDR: self.ospeedr,
                  PUPDR: self.pupdr, ODR: self.odr, BSRR: 0, LCKR: self.lckr,
                  AFRL: self.afr & 0xFFFFFFFF, AFRH: self.afr >> 32}
        if reg == IDR:
            value = self.idr()
        elif reg in values:
            value = values[reg]
        else:
            return super().read(offset, size)
        return (value >> (8 * (offset & 3))) & ((1 << (8 * size)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        reg = offset & ~3
        if reg == BSRR:
            self.write_bsrr(split_write(0, offset, size, value)[0])
        elif reg == ODR:
            self.write_odr(split_write(self.odr, offset, size, value)[0])
        elif reg == LCKR:
            self.write_lckr(split_write(self.lckr, offset, size, value)[0])
        elif reg == MODER:
            self.moder = self.merge_locked(self.moder, split_write(self.moder, offset, size,
                                                                   value)[0], 2)
            self._refresh()
        elif reg == OTYPER:
            self.otyper = self.merge_locked(self.otyper, split_write(
                self.otyper, offset, size, value)[0] & 0xFFFF, 1)
            self._refresh()
        elif reg == OSPEEDR:
            self.ospeedr = self.merge_locked(self.ospeedr, split_write(
                self.ospeedr, offset, size, value)[0], 2)
        elif reg == PUPDR:
            self.pupdr = self.merge_locked(self.pupdr, split_write(self.pupdr, offset, size,
                                                                   value)[0], 2)
            self._refresh()
        elif reg in (AFRL, AFRH):
            first = 0 if reg == AFRL else 8
            old = (self.afr >> (4 * first)) & 0xFFFFFFFF
            new = self.merge_locked(old, split_write(old, offset, size, value)[0], 4, first)
            self.afr = (self.afr & ~(0xFFFFFFFF << (4 * first))) | (new << (4 * first))
            self._refresh()
        elif reg == IDR:
            pass                                     # read-only
        else:
            super().write(offset, size, value)
