"""74HC154 4-to-16 line decoder/demultiplexer (drives the ADE7753 chip selects of a cabinet).

Followed (NXP/TI 74HC154 data sheet, function table): GPIO inputs 0..3 = A0..A3, 4 = /E1,
5 = /E2; outputs /Y0../Y15 are `connections[0..15]`, active low: /Yn is low only when /E1 and
/E2 are both low and A3..A0 = n; all outputs are high otherwise.

Timing: by default the outputs follow each input change at once (the 74HC154's ~11-13 ns
propagation delay is far below one CPU instruction). Changing the address while enabled walks
through intermediate codes as the pins change one by one, like the glitches of the real part, so
firmware should disable /E while it changes A0..A3. With `propagation_ps` > 0 the outputs update
once, that long after the last input change (all pins of one GPIO write settle together).

At start the enable inputs are taken as high (boards pull them up): no output selected.
Not modelled: supply, output drive strength, metastability of overlapping edges.
"""

from __future__ import annotations

import logging

from metersim.peripherals.base import GPIO, Context, History
from metersim.peripherals.registry import model


@model("metersim.HC154", "metersim.Decoder74HC154")
class Decoder74HC154:
    def __init__(self, ctx: Context, propagation_ps: int = 0, enabled_at_start: bool = False):
        self.ctx = ctx
        self.propagation_ps = int(propagation_ps)
        self.inputs = [False] * 4 + [not enabled_at_start] * 2
        self.connections = {i: GPIO(f"Y{i}", True) for i in range(16)}
        self._event = None
        self._low: int | None = -1       # output driven low (None: none; -1: not updated yet)
        self.selections: History = History()   # (time_ps, selected output or None)
        self._update()

    def outputs(self) -> dict[str, GPIO]:
        return {f"Y{i}": g for i, g in self.connections.items()}

    @property
    def selected(self) -> int | None:
        """Index of the output driven low, or None."""
        if self.inputs[4] or self.inputs[5]:
            return None
        return sum(int(self.inputs[i]) << i for i in range(4))

    def on_gpio(self, pin: int, level: bool) -> None:
        if not 0 <= pin <= 5:
            self.ctx.log_once(("pin", pin), logging.WARNING,
                              "no GPIO input %d (0-3 = A0-A3, 4 = /E1, 5 = /E2)", pin)
            return
        self.inputs[pin] = bool(level)
        if self.propagation_ps <= 0:
            self._update()
            return
        if self._event is not None:
            self._event.cancel()
        self._event = self.ctx.clock.schedule(self.propagation_ps, self._update)

    def _update(self) -> None:
        self._event = None
        inp = self.inputs
        sel = None if inp[4] or inp[5] else inp[0] | inp[1] << 1 | inp[2] << 2 | inp[3] << 3
        if sel == self._low:
            return                      # same output selected (or none): nothing changes
        if not self.selections or self.selections[-1][1] != sel:
            self.selections.append((self.ctx.clock.now_ps, sel))
        # deselect first so two outputs are never low together
        if self._low is not None and self._low >= 0:
            self.connections[self._low].set(True)
        self._low = sel
        if sel is not None:
            self.connections[sel].set(False)

    def reset(self) -> None:
        pass
