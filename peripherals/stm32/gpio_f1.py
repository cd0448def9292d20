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
from metersim.peripherals.regmap import Reg, RegisterMap
from metersim.peripherals.stm32.gpio_common import (AF, ANALOG, IN, OUT, GpioPortBase, kwarg,
                                                    data_registers, per_pin)

CRL, CRH, IDR, ODR, BSRR, BRR, LCKR = range(0, 0x1C, 4)
CR_RESET = 0x44444444


def _config(pins: range) -> tuple:
    return (per_pin("MODE", 2, pins=pins, stride=4, doc="00 input, 01/10/11 output 10/2/50 MHz")
            + per_pin("CNF", 2, reset=CR_RESET, pins=pins, lsb=2, stride=4,
                      doc="in: analog/floating/pull; out: push-pull/open-drain/AF pp/AF od"))


REGISTERS = RegisterMap([
    Reg("CRL", CRL, 32, fields=_config(range(8)), on_write="_crl_written",
        doc="configuration of pins 0-7"),
    Reg("CRH", CRH, 32, fields=_config(range(8, 16)), on_write="_crh_written",
        doc="configuration of pins 8-15"),
    *data_registers(IDR, ODR, BSRR, LCKR),
    Reg("BRR", BRR, 32, fields=per_pin("BR", 1, "w"), on_write="_brr_written",
        doc="reset ODR bits"),
], title="STM32F1 GPIO port (RM0008 §9.2)")


@model("GPIOPort.STM32F1GPIOPort", "metersim.STM32F1_GPIOPort")
class STM32F1GPIOPort(GpioPortBase):
    registers = REGISTERS

    def __init__(self, ctx, **kw):
        super().__init__(ctx, inverted_af_pins=kwarg(kw, "invertedAFPins", None))

    def _reset_config(self) -> None:
        self._sync_cr()

    def _sync_cr(self) -> None:
        """CRH:CRL as one value, 4 bits per pin: pin_config is on the ODR/BSRR hot path."""
        self._cr = self.crl | (self.crh << 32)

    def hot_registers(self) -> list:
        """A BSRR word write is made in C by the engine (metersim._engine.hot_regs) when every
        pin whose ODR bit it changes is a push-pull output with no external drive, or a pin
        whose level ODR does not decide, and a pin that changes level is watched by nobody:
        no receiver on its line (a device, the EXTI, another machine) and no watcher of the
        port (`watch`: AFIO, a trace). It reads odr, _levels, _ext, _cr,
        connections, _watchers and sets odr, _levels and the lines' levels."""
        from metersim._engine.hot_regs import HotRegister

        return [HotRegister(BSRR, "gpio_f1_bsrr_write", self, sizes=(4,))]

    def pin_config(self, pin: int):
        nib = (self._cr >> (4 * pin)) & 0xF
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
        cr = self._cr
        for pin in range(self.NPINS):
            if not (cr >> (4 * pin)) & 0xF:          # MODE = 00 (input), CNF = 00 (analog)
                mask |= 1 << pin
        return mask

    def _set_af_level(self, pin: int, af: int, level: bool) -> None:
        self._af[(pin, -1)] = bool(level) ^ ((pin, af) in self._inverted)
        if self.pin_config(pin)[0] == AF:
            self._refresh()

    def _crl_written(self, old: int, _value: int) -> None:
        self.crl = self.merge_locked(old, self.crl, 4, 0)
        self._sync_cr()
        self._modes_changed()

    def _crh_written(self, old: int, _value: int) -> None:
        self.crh = self.merge_locked(old, self.crh, 4, 8)
        self._sync_cr()
        self._modes_changed()

    def _brr_written(self, _old: int, value: int) -> None:
        self._bsrr_written(0, (value & 0xFFFF) << 16)
