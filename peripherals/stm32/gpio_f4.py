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
from metersim.peripherals.regmap import Reg, RegisterMap
from metersim.peripherals.stm32.gpio_common import (AF, ANALOG, IN, OUT, GpioPortBase, kwarg,
                                                    data_registers, per_pin)

MODER, OTYPER, OSPEEDR, PUPDR, IDR, ODR, BSRR, LCKR, AFRL, AFRH = range(0, 0x28, 4)
_KINDS = (IN, OUT, AF, ANALOG)
_PER_PORT = "reset 0 but on ports A and B (from the .repl)"

REGISTERS = RegisterMap([
    Reg("MODER", MODER, 32, fields=per_pin("MODER", 2, doc="00 input, 01 output, 10 AF, 11 analog"),
        on_write="_moder_written", doc=f"pin modes; {_PER_PORT}"),
    Reg("OTYPER", OTYPER, 32, fields=per_pin("OT", 1, doc="0 push-pull, 1 open-drain"),
        on_write="_otyper_written", doc="output types"),
    Reg("OSPEEDR", OSPEEDR, 32, fields=per_pin("OSPEEDR", 2, doc="stored only"),
        on_write="_ospeedr_written", doc=f"output speeds; {_PER_PORT}"),
    Reg("PUPDR", PUPDR, 32, fields=per_pin("PUPDR", 2, doc="00 none, 01 pull-up, 10 pull-down"),
        on_write="_pupdr_written", doc=f"pulls; {_PER_PORT}"),
    *data_registers(IDR, ODR, BSRR, LCKR),
    Reg("AFRL", AFRL, 32, fields=per_pin("AFRL", 4, pins=range(8)), on_write="_afrl_written",
        doc="alternate function of pins 0-7"),
    Reg("AFRH", AFRH, 32, fields=per_pin("AFRH", 4, pins=range(8, 16)),
        on_write="_afrh_written", doc="alternate function of pins 8-15"),
], title="STM32F4 GPIO port (RM0430 §8.4)")


@model("GPIOPort.STM32_GPIOPort", "metersim.STM32F4_GPIOPort")
class STM32_GPIOPort(GpioPortBase):
    registers = REGISTERS

    def __init__(self, ctx, mode_reset_value: int = 0, output_speed_reset_value: int = 0,
                 pull_up_pull_down_reset_value: int = 0, **kw):
        self.mode_reset = int(mode_reset_value)
        self.speed_reset = int(output_speed_reset_value)
        self.pupd_reset = int(pull_up_pull_down_reset_value)
        self.number_of_afs = int(kwarg(kw, "numberOfAFs", 16))
        super().__init__(ctx, inverted_af_pins=kwarg(kw, "invertedAFPins", None))

    def _reset_config(self) -> None:
        self.moder = self.mode_reset
        self.ospeedr = self.speed_reset
        self.pupdr = self.pupd_reset
        self._sync_afr()

    def _sync_afr(self) -> None:
        """AFRH:AFRL as one value, 4 bits per pin: pin_config is on the ODR/BSRR hot path."""
        self._afr = self.afrl | (self.afrh << 32)

    def hot_registers(self) -> list:
        """A BSRR word write is made in C by the engine (metersim._engine.hot_regs) when every
        pin whose ODR bit it changes is a push-pull output with no external drive, or a pin
        whose level ODR does not decide, and a pin that changes level is watched by nobody:
        no receiver on its line (a device, the EXTI, another machine) and no watcher of the
        port (`watch`: AFIO, a trace). It reads odr, _levels, _ext, moder, otyper,
        connections, _watchers and sets odr, _levels and the lines' levels."""
        from metersim._engine.hot_regs import HotRegister

        return [HotRegister(BSRR, "gpio_f4_bsrr_write", self, sizes=(4,))]

    def pin_config(self, pin: int):
        kind = _KINDS[(self.moder >> (2 * pin)) & 3]
        pull = {1: "up", 2: "down"}.get((self.pupdr >> (2 * pin)) & 3)
        return kind, bool((self.otyper >> pin) & 1), pull, (self._afr >> (4 * pin)) & 0xF

    def analog_mask(self) -> int:
        mask = 0
        moder = self.moder
        for pin in range(self.NPINS):
            if (moder >> (2 * pin)) & 3 == 3:
                mask |= 1 << pin
        return mask

    def _moder_written(self, old: int, _value: int) -> None:
        self.moder = self.merge_locked(old, self.moder, 2)
        self._modes_changed()

    def _otyper_written(self, old: int, _value: int) -> None:
        self.otyper = self.merge_locked(old, self.otyper, 1)
        self._refresh()

    def _ospeedr_written(self, old: int, _value: int) -> None:
        self.ospeedr = self.merge_locked(old, self.ospeedr, 2)

    def _pupdr_written(self, old: int, _value: int) -> None:
        self.pupdr = self.merge_locked(old, self.pupdr, 2)
        self._refresh()

    def _afrl_written(self, old: int, _value: int) -> None:
        self.afrl = self.merge_locked(old, self.afrl, 4, 0)
        self._sync_afr()
        self._refresh()

    def _afrh_written(self, old: int, _value: int) -> None:
        self.afrh = self.merge_locked(old, self.afrh, 4, 8)
        self._sync_afr()
        self._refresh()
