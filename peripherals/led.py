"""LED on a GPIO (Renode's Miscellaneous.LED): records its on/off history in virtual time.

GPIO input 0 drives it; `invert=True` for an LED wired from VDD through a resistor to the pin
(lit when the pin is low). `state` is Renode's property; `history` holds (time_ps, on) for every
change, so tests can check blink rates and on-times. Not modelled: brightness/PWM averaging
(a PWM-driven LED shows every edge), forward voltage, colour.
"""

from __future__ import annotations

import logging
from typing import Callable

from metersim.peripherals.base import Context
from metersim.peripherals.registry import model


@model("Miscellaneous.LED", "metersim.LED")
class Led:
    def __init__(self, ctx: Context, invert: bool = False):
        self.ctx = ctx
        self.invert = bool(invert)
        self.state = self.invert          # pin low at start
        self.history: list[tuple[int, bool]] = [(ctx.clock.now_ps, self.state)]
        self._fns: list[Callable[[bool], None]] = []

    @property
    def is_on(self) -> bool:
        return self.state

    def on_state_change(self, fn: Callable[[bool], None]) -> None:
        self._fns.append(fn)

    def on_gpio(self, pin: int, level: bool) -> None:
        if pin != 0:
            self.ctx.log_once(("pin", pin), logging.WARNING, "an LED has only GPIO input 0, got %d", pin)
            return
        on = bool(level) != self.invert
        if on == self.state:
            return
        self.state = on
        self.history.append((self.ctx.clock.now_ps, on))
        for fn in list(self._fns):
            fn(on)

    def on_time_ps(self, since_ps: int = 0, until_ps: int | None = None) -> int:
        """How long the LED was lit between `since_ps` and `until_ps` (default now)."""
        until = self.ctx.clock.now_ps if until_ps is None else until_ps
        total = 0
        for i, (t, on) in enumerate(self.history):
            t_next = self.history[i + 1][0] if i + 1 < len(self.history) else until
            lo, hi = max(t, since_ps), min(t_next, until)
            if on and hi > lo:
                total += hi - lo
        return total

    def turn_ons(self, since_ps: int = 0) -> int:
        """How many times it lit up since `since_ps` (blinks)."""
        return sum(1 for t, on in self.history[1:] if on and t >= since_ps)

    def reset(self) -> None:
        pass
