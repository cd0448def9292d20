"""Open-drain outputs tied together on one line with a pull-up (wired-AND), e.g. the IRQ pins of
the cabinet's ADE7753s onto one MCU pin.

Followed: the open-drain output stage of the ADE7753 IRQ pin (data sheet: "open-drain, active
low", needs an external pull-up) and the usual wired-AND rule: the line is low while any output
pulls it low, high (pull-up) otherwise. GPIO inputs 0..inputs-1 are the outputs tied to the
line (high = released, low = pulling down); `connections[0]` / `OUT` is the line.

At time 0 the line announces its level (high through the pull-up) to its receivers, so an MCU
input sees the pulled-up level before any device changes state.
Not modelled: the RC rise time of the pull-up, sink current, which device pulls (see `pulling`).
"""

from __future__ import annotations

import logging

from metersim._errors import SetupError
from metersim.peripherals.base import GPIO, Context
from metersim.peripherals.registry import model


@model("metersim.WiredAnd", "metersim.OpenDrainLine")
class WiredAnd:
    def __init__(self, ctx: Context, inputs: int = 2):
        if not isinstance(inputs, int) or not 1 <= inputs <= 256:
            raise SetupError(f"{ctx.name}: inputs must be 1..256, got {inputs!r}")
        self.ctx = ctx
        self.levels = [True] * inputs
        self.OUT = GPIO("OUT", True)
        self.connections = {0: self.OUT}
        ctx.clock.schedule(0, self._announce)

    def outputs(self) -> dict[str, GPIO]:
        return {"OUT": self.OUT}

    @property
    def pulling(self) -> list[int]:
        """Inputs pulling the line low now."""
        return [i for i, lv in enumerate(self.levels) if not lv]

    def on_gpio(self, pin: int, level: bool) -> None:
        if not 0 <= pin < len(self.levels):
            self.ctx.log_once(("pin", pin), logging.WARNING, "no input %d (0..%d)", pin,
                              len(self.levels) - 1)
            return
        self.levels[pin] = bool(level)
        self.OUT.set(all(self.levels))

    def _announce(self) -> None:
        for rx, pin in list(self.OUT._targets):
            rx.on_gpio(pin, self.OUT.level)

    def reset(self) -> None:
        pass
