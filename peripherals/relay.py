"""Magnetic latching relay (the load switch of prepaid meters), single- or dual-coil.

Followed (bistable relay data sheets, e.g. Hongfa HFE-series / Omron G6AK class, "set/reset pulse
width" and "operate time"): the contact changes only if a coil is energised with the right
polarity for at least the operate time; a shorter pulse leaves it where it was. The contact stays
put with the coil unpowered (latching), also across power loss of the board.
- `coils=2`: GPIO input 0 = SET coil (high energises, closes the contact), input 1 = RESET coil
  (opens). Both energised: the fluxes cancel, nothing switches (logged).
- `coils=1`: inputs 0 and 1 are the two coil terminals behind an H-bridge: 0 high and 1 low
  closes, 0 low and 1 high opens, equal levels leave the coil unpowered.
Outputs: `contact` (= connections[0], high when the load circuit is closed) and `feedback`
(= connections[1], an auxiliary contact following the main one; `feedback_inverted` for a
normally-closed auxiliary). `history` logs every switching with its virtual time; `operations`
counts them (relay wear); `pulses` logs every coil pulse with its length and whether it lasted
the operate time.

Faults for tests of the firmware's feedback check: `weld()` welds the contact closed (a coil
pulse no longer opens it; the feedback, an auxiliary contact on the same armature, keeps
reporting closed), `stick()` jams the armature where it is (neither coil moves it), `repair()`
ends either.

The default operate time (10 ms) is a parameter (`operate_time_ps`); take the figure of the
fitted relay's data sheet. Not modelled: contact bounce, coil resistance/current, welding under
overload, mechanical life limits, the release time of a non-latching relay.
"""

from __future__ import annotations

import logging
from typing import Callable

from metersim._errors import SetupError
from metersim._units import PS_PER_MS
from metersim.peripherals.base import GPIO, Context, History
from metersim.peripherals.registry import model


@model("metersim.LatchingRelay")
class LatchingRelay:
    def __init__(self, ctx: Context, coils: int = 2, operate_time_ps: int = 10 * PS_PER_MS,
                 initially_closed: bool = False, feedback_inverted: bool = False):
        if coils not in (1, 2):
            raise SetupError(f"a latching relay has 1 or 2 coils, got {coils}")
        if operate_time_ps <= 0:
            raise SetupError(f"operate_time_ps must be positive, got {operate_time_ps}")
        self.ctx = ctx
        self.coils = coils
        self.operate_time_ps = int(operate_time_ps)
        self.feedback_inverted = feedback_inverted
        self.closed = bool(initially_closed)
        self.contact = GPIO("contact", self.closed)
        self.feedback = GPIO("feedback", self.closed != feedback_inverted)
        self.connections = {0: self.contact, 1: self.feedback}
        self._pins = [False, False]
        self._drive: bool | None = None        # True = closing, False = opening, None = idle
        self._drive_since = 0
        self._pending = None
        self.history: list[tuple[int, bool]] = []
        self.pulses: History = History()  # (start_ps, length_ps, close?, long enough?)
        self.operations = 0
        self.fault: str | None = None          # None, "welded" or "stuck"
        self.refused: History = History()   # (time_ps, close?) of operations a fault blocked
        self._fns: list[Callable[[bool], None]] = []

    def on_change(self, fn: Callable[[bool], None]) -> None:
        """`fn(closed)` after every switching (e.g. to cut the load current)."""
        self._fns.append(fn)

    def remove_on_change(self, fn: Callable[[bool], None]) -> None:
        """Stop calling `fn` (no error if it was not registered)."""
        if fn in self._fns:
            self._fns.remove(fn)

    def outputs(self) -> dict[str, GPIO]:
        return {"contact": self.contact, "feedback": self.feedback}

    def on_gpio(self, pin: int, level: bool) -> None:
        if pin not in (0, 1):
            self.ctx.log_once(("pin", pin), logging.WARNING, "no GPIO input %d (coil pins 0, 1)", pin)
            return
        self._pins[pin] = bool(level)
        a, b = self._pins
        if self.coils == 2:
            if a and b:
                self.ctx.log(logging.WARNING, "both coils energised: no switching")
                drive = None
            else:
                drive = True if a else (False if b else None)
        else:
            drive = None if a == b else a
        if drive == self._drive:
            return
        now = self.ctx.clock.now_ps
        if self._drive is not None:
            long_enough = self._pending is None      # the operate event has run
            self.pulses.append((self._drive_since, now - self._drive_since, self._drive, long_enough))
            if self._pending is not None:
                self._pending.cancel()
                self._pending = None
                self.ctx.log(logging.INFO, "coil pulse of %d us too short to %s the relay",
                             (now - self._drive_since) // 1_000_000, "close" if self._drive else "open")
        self._drive, self._drive_since = drive, now
        if drive is not None:
            self._pending = self.ctx.clock.schedule(self.operate_time_ps, self._operate, drive)

    def weld(self) -> None:
        """Weld the contact closed (overload damage): it closes now and will not open."""
        self.fault = "welded"
        if not self.closed:
            self._switch(True)

    def stick(self) -> None:
        """Jam the armature where it is: no coil pulse moves it."""
        self.fault = "stuck"

    def repair(self) -> None:
        self.fault = None

    def _operate(self, close: bool) -> None:
        self._pending = None
        if close == self.closed:
            return
        if self.fault == "stuck" or (self.fault == "welded" and not close):
            self.refused.append((self.ctx.clock.now_ps, close))
            self.ctx.log(logging.INFO, "coil pulse to %s: contact %s, nothing moves",
                         "close" if close else "open", self.fault)
            return
        self._switch(close)

    def _switch(self, close: bool) -> None:
        self.closed = close
        self.operations += 1
        self.history.append((self.ctx.clock.now_ps, close))
        self.ctx.log(logging.INFO, "contact %s", "closed" if close else "opened")
        self.contact.set(close)
        self.feedback.set(close != self.feedback_inverted)
        for fn in list(self._fns):
            fn(close)

    def reset(self) -> None:
        """A board reset does not move a latching relay."""
