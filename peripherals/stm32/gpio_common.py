"""Pin-level machinery shared by the F1 (CRL/CRH) and F4 (MODER/AFR) GPIO port models.

A pin's level is a signal: `connections[pin]` carries the level of the pin net whatever drives
it (the port as output/alternate function, an external device through `on_gpio`, or the
pull resistor), so board devices and the EXTI routing (AFIO/SYSCFG, or the EXTI directly as in
Renode's stm32f4.repl) see it change.

Resolution rules (RM0008 §9.1, RM0430 §8.3):
- push-pull output / AF: the port drives ODR (output) or the selected AF source's level;
- open-drain output / AF: driving 0 pulls low; driving 1 releases the net, which then takes
  the external level, else the internal pull, else high (a board pull-up is assumed: an
  open-drain line with no pull-up at all floats, which a simulator cannot represent);
- input: external level, else the internal pull (up = 1, down/none = 0);
- analog: IDR reads 0 (Schmitt trigger off).
An external device driving against a push-pull output is logged once (contention); the port
wins, as the stronger driver would.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from metersim._errors import SetupError
from metersim.peripherals.base import GPIO, Context, Peripheral
from metersim.peripherals.regmap import Field, Reg

IN, OUT, AF, ANALOG = "in", "out", "af", "analog"
LCKK = 1 << 16


def kwarg(kw: dict, name: str, default: Any) -> Any:
    """Constructor argument by Renode name, whatever snake_case spelling the builder used."""
    want = name.replace("_", "").lower()
    for k, v in kw.items():
        if k.replace("_", "").lower() == want:
            return v
    return default


def per_pin(prefix: str, bits: int, access: str = "rw", reset: int = 0, pins=range(16),
            lsb: int = 0, stride: int = 0, doc: str = "") -> tuple[Field, ...]:
    """One field per pin: `prefix0`, `prefix1` ... each `bits` wide, from bit `lsb` up every
    `stride` bits (default: `bits`), taking its reset value from the register-wide `reset`."""
    fields = []
    for i, pin in enumerate(pins):
        shift = lsb + (stride or bits) * i
        fields.append(Field(f"{prefix}{pin}", shift, bits, access,
                            (reset >> shift) & ((1 << bits) - 1), doc))
    return tuple(fields)


def data_registers(idr: int, odr: int, bsrr: int, lckr: int) -> list[Reg]:
    """IDR, ODR, BSRR and LCKR: the same on F1 and F4, at family offsets."""
    return [
        Reg("IDR", idr, 32, fields=per_pin("IDR", 1, "r"), on_read="idr",
            doc="pin levels (0 for analog pins)"),
        Reg("ODR", odr, 32, fields=per_pin("ODR", 1), on_write="_odr_written",
            doc="output levels (F1 input pins: 1 pull-up, 0 pull-down)"),
        Reg("BSRR", bsrr, 32, fields=per_pin("BS", 1, "w") + per_pin("BR", 1, "w", lsb=16),
            on_write="_bsrr_written", doc="set (BSn) and reset (BRn) ODR bits; set wins"),
        Reg("LCKR", lckr, 32, fields=per_pin("LCK", 1) + (Field("LCKK", 16, doc="lock key"),),
            on_write="_lckr_written",
            doc="LCKK written 1, 0, 1 with the same LCK bits freezes those pins' configuration"),
    ]


class _AfInput:
    """Local receiver `gpioPortA#8`: input `af` carries that alternate function's level, or
    None when the function is an input (a timer channel capturing) and drives nothing."""

    accepts_release = True

    def __init__(self, port: "GpioPortBase", pin: int):
        self.port, self.pin = port, pin

    def on_gpio(self, af: int, level: bool | None) -> None:
        self.port._set_af_level(self.pin, af, level)


class GpioPortBase(Peripheral):
    size = 0x400
    NPINS = 16

    def __init__(self, ctx: Context, inverted_af_pins=None):
        super().__init__(ctx)
        self.connections = {i: GPIO(str(i)) for i in range(self.NPINS)}
        self._ext: list[bool | None] = [None] * self.NPINS
        self._af: dict[tuple[int, int], bool] = {}
        self._af_inputs: set[tuple[int, int]] = set()   # functions that take the pin as input
        self._inverted: set[tuple[int, int]] = set()
        for entry in inverted_af_pins or ():
            pin, *afs = list(entry)
            self._inverted |= {(int(pin), int(af)) for af in afs}
        self._watchers: list[Callable[[int, bool], None]] = []
        self._levels = 0                             # pin levels, bit n = pin n
        self._analog = 0                             # analog_mask(), kept by _modes_changed
        self.reset()

    # -- family hooks ---------------------------------------------------------------------------
    def _reset_config(self) -> None:
        """Per-port reset values the table cannot know (F4 ports A and B)."""

    def pin_config(self, pin: int) -> tuple[str, bool, str | None, int]:
        """(kind, open_drain, pull "up"/"down"/None, af number) of a pin."""
        raise NotImplementedError

    # -- public helpers ---------------------------------------------------------------------------
    def drive(self, pin: int, level: bool | None) -> None:
        """Drive the pin from outside (a board device or a test); None releases it."""
        self._check_pin(pin)
        self._ext[pin] = None if level is None else bool(level)
        self._refresh()

    def on_gpio(self, pin: int, level: bool) -> None:
        self.drive(pin, level)

    def pin_level(self, pin: int) -> bool:
        self._check_pin(pin)
        return bool(self._levels >> pin & 1)

    def is_output(self, pin: int) -> bool:
        """Is the port driving this pin (output or alternate-function mode)?"""
        self._check_pin(pin)
        return self.pin_config(pin)[0] in (OUT, AF)

    def watch(self, fn: Callable[[int, bool], None]) -> None:
        """Call `fn(pin, level)` on every level change (AFIO uses this, as Renode's does)."""
        self._watchers.append(fn)

    def get_local_receiver(self, pin: int) -> _AfInput:
        """Renode's ILocalGPIOReceiver: `timer1: 0 -> gpioPortA#08@01` feeds AF1 of PA8."""
        self._check_pin(pin)
        return _AfInput(self, pin)

    def _check_pin(self, pin: int) -> None:
        if not 0 <= pin < self.NPINS:
            raise SetupError(f"{self.name}: no pin {pin} (a port has pins 0..{self.NPINS - 1})")

    # -- level resolution ----------------------------------------------------------------------------
    def _set_af_level(self, pin: int, af: int, level: bool | None) -> None:
        if level is None:
            self._af_inputs.add((pin, af))
        else:
            self._af_inputs.discard((pin, af))
            self._af[(pin, af)] = bool(level) ^ ((pin, af) in self._inverted)
        kind, _, _, sel = self.pin_config(pin)
        if kind == AF and sel == af:
            self._refresh()

    def _resolve(self, pin: int) -> bool:
        kind, open_drain, pull, af = self.pin_config(pin)
        ext = self._ext[pin]
        if kind == AF and (pin, af) in self._af_inputs:
            kind = IN                                # an input function: the pin is read
        if kind in (OUT, AF):
            v = (self.odr >> pin) & 1 if kind == OUT else self._af.get((pin, af), False)
            if open_drain and v:
                if ext is not None:
                    return ext
                return pull != "down"
            if ext is not None and ext != bool(v) and not open_drain:
                self.ctx.log_once(("contention", pin), logging.WARNING,
                                  "pin %d: external drive %d against push-pull output %d",
                                  pin, ext, v)
            return bool(v)
        if ext is not None:
            return ext
        return kind == IN and pull == "up"

    def _refresh(self) -> None:
        self._refresh_pins((1 << self.NPINS) - 1)

    def _modes_changed(self) -> None:
        """After a reset or a write to the pin modes: the analog pins IDR hides, every pin."""
        self._analog = self.analog_mask()
        self._refresh()

    def _refresh_pins(self, mask: int) -> None:
        """Re-resolve the pins in `mask`, lowest first, announcing each change. ODR/BSRR/BRR
        writes pass only the pins whose ODR bit changed: nothing else about the others did
        (mode, pull, external drive and AF level changes refresh every pin themselves)."""
        while mask:
            bit = mask & -mask
            mask ^= bit
            pin = bit.bit_length() - 1
            level = self._resolve(pin)
            if level != bool(self._levels & bit):
                self._levels ^= bit
                self.connections[pin].set(level)
                for fn in self._watchers:
                    fn(pin, level)

    def analog_mask(self) -> int:
        """Pins in analog mode (IDR reads 0 there)."""
        mask = 0
        for pin in range(self.NPINS):
            if self.pin_config(pin)[0] == ANALOG:
                mask |= 1 << pin
        return mask

    def idr(self) -> int:
        return self._levels & ~self._analog

    # -- ODR / BSRR / LCKR shared semantics ----------------------------------------------------------
    def _odr_written(self, old: int, _value: int) -> None:
        self._refresh_pins(old ^ self.odr)

    def _bsrr_written(self, _old: int, value: int) -> None:
        set_bits, reset_bits = value & 0xFFFF, (value >> 16) & 0xFFFF
        # BS wins when both are set (RM0008 §9.2.5, RM0430 §8.4.7).
        old, self.odr = self.odr, (self.odr & ~reset_bits | set_bits) & 0xFFFF
        self._refresh_pins(old ^ self.odr)

    def _lckr_written(self, old: int, _value: int) -> None:
        value, self.lckr = self.lckr, old            # it changes only as the sequence says
        if self.locked_mask or self.lckr & LCKK:
            return                                   # frozen until reset
        keys = value & 0xFFFF
        k = bool(value & LCKK)
        expected = (True, False, True)[self._lock_step]
        if k == expected and (self._lock_step == 0 or keys == self.lckr & 0xFFFF):
            self._lock_step += 1
        else:
            self._lock_step = 1 if k else 0
        self.lckr = keys
        if self._lock_step == 3:
            self.lckr = keys | LCKK
            self.locked_mask = keys
            self._lock_step = 0

    def merge_locked(self, old: int, new: int, bits_per_pin: int, first_pin: int = 0) -> int:
        """Keep the fields of locked pins at their old value."""
        field = (1 << bits_per_pin) - 1
        for i in range(32 // bits_per_pin):
            if (self.locked_mask >> (first_pin + i)) & 1:
                m = field << (i * bits_per_pin)
                new = (new & ~m) | (old & m)
        return new

    def reset(self) -> None:
        self.reset_registers()
        self._reset_config()
        self._lock_step = 0
        self.locked_mask = 0
        self._af.clear()
        self._modes_changed()
