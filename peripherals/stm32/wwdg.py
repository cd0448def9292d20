"""STM32F1/F4 window watchdog (WWDG) at 0x40002C00, RM0008 §20 and RM0430 §18.

Registered as `metersim.STM32_WWDG` (Renode has no WWDG model; upstream files tag it).
- CR: T[6:0] counter, WDGA enables (only a reset disables it); reset 0x7F.
  CFR: W[6:0] window, WDGTB[1:0] timer base (bits 8:7), EWI (bit 9, set-only); reset 0x7F.
  SR: EWIF, cleared by writing 0.
- The counter decrements every 4096 x 2^WDGTB PCLK1 cycles (the machine's "PCLK1" clock,
  followed when it changes). A reset ("wwdg") is requested when T6 clears (0x40 -> 0x3F),
  when CR is written while the counter is above the window W, or when CR is written with T6
  = 0 while enabled. EWIF is set when the counter reaches 0x40; with EWI the `IRQ` output
  (NVIC 0) rises until EWIF is cleared.
- One event per milestone is scheduled; the counter value read back is computed from time.

Not modelled: freezing in debug (DBGMCU), clock gating by RCC_APB1ENR.
"""

from __future__ import annotations

import logging

from metersim.peripherals.base import GPIO, Context, Peripheral
from metersim.peripherals.registry import model
from metersim.peripherals.regmap import Field, Reg, RegisterMap
from metersim.peripherals.stm32 import clock_tree, request_reset
from metersim._units import PS_PER_S

CR, CFR, SR = 0x00, 0x04, 0x08
WDGA, EWI, EWIF = 1 << 7, 1 << 9, 1 << 0

REGISTERS = RegisterMap([
    Reg("CR", CR, 32, on_read="_cr_value", on_write="_cr_written", doc="read: the counter now",
        fields=(Field("T", 0, 7, reset=0x7F, doc="counter; T6 clearing resets the chip"),
                Field("WDGA", 7, access="rs", doc="activation; only a reset clears it"))),
    Reg("CFR", CFR, 32, on_write="_cfr_written",
        fields=(Field("W", 0, 7, reset=0x7F, doc="window: refreshing above it resets"),
                Field("WDGTB", 7, 2, doc="timer base: PCLK1 / 4096 / 2^WDGTB"),
                Field("EWI", 9, access="rs", doc="early wake-up interrupt at 0x40"))),
    Reg("SR", SR, 32, on_write="_sr_written",
        fields=(Field("EWIF", 0, access="rc_w0", doc="early wake-up interrupt flag"),)),
], title="STM32F1/F4 window watchdog (RM0008 §20, RM0430 §18)")


@model("metersim.STM32_WWDG")
class STM32_WWDG(Peripheral):
    size = 0x400
    registers = REGISTERS

    def __init__(self, ctx: Context, **kw):
        super().__init__(ctx)
        self.IRQ = GPIO("IRQ")
        self._events: list = []
        self.clocks = clock_tree(ctx)
        self.clocks.subscribe("PCLK1", lambda hz: self._rebase())
        self.reset()

    def reset(self) -> None:
        self._cancel()
        self.enabled = False
        self.t0 = 0x7F
        self.t0_ps = self.ctx.clock.now_ps
        self.reset_registers()
        self.IRQ.unset()

    # -- counter ---------------------------------------------------------------------------------
    def tick_ps(self) -> int:
        pclk1 = self.clocks.rate_hz("PCLK1") or 8_000_000
        return 4096 * (1 << ((self.cfr >> 7) & 3)) * PS_PER_S // pclk1

    def counter(self) -> int:
        if not self.enabled:
            return self.t0
        ticks = (self.ctx.clock.now_ps - self.t0_ps) // self.tick_ps()
        return max(self.t0 - ticks, 0x3F) & 0x7F

    def _cancel(self) -> None:
        for ev in self._events:
            ev.cancel()
        self._events.clear()

    def _load(self, value: int) -> None:
        self._cancel()
        self.t0 = value & 0x7F
        self.t0_ps = self.ctx.clock.now_ps
        if not self.enabled:
            return
        tick = self.tick_ps()
        if self.t0 >= 0x40:
            self._events.append(self.ctx.clock.schedule((self.t0 - 0x40) * tick, self._early))
            self._events.append(self.ctx.clock.schedule((self.t0 - 0x3F) * tick, self._fire,
                                                        "counter reached 0x3F"))

    def _rebase(self) -> None:
        if self.enabled:
            self._load(self.counter())

    def _early(self) -> None:
        self.sr |= EWIF
        if self.cfr & EWI:
            self.IRQ.set()

    def _fire(self, why: str) -> None:
        self._cancel()
        self.ctx.log(logging.WARNING, "window watchdog reset: %s", why)
        if not request_reset(self.ctx, "wwdg"):
            self.enabled = False

    # -- bus -----------------------------------------------------------------------------------------
    def _cr_value(self) -> int:
        note = getattr(self.ctx.machine, "time_register_read", None)
        if note is not None:
            note()                # the counter moves with time: a loop on it is not skipped ahead
        return self.counter() | (WDGA if self.enabled else 0)

    def _cr_written(self, _old: int, value: int) -> None:
        if self.enabled and self.counter() > (self.cfr & 0x7F):
            self._fire("refreshed outside the window (counter %#x > W %#x)"
                       % (self.counter(), self.cfr & 0x7F))
            return
        self.enabled = self.enabled or bool(value & WDGA)
        if self.enabled and not value & 0x40:
            self._fire("T6 written as 0")
            return
        self._load(value)

    def _cfr_written(self, _old: int, _value: int) -> None:
        self._rebase()

    def _sr_written(self, _old: int, _value: int) -> None:
        if not self.sr & EWIF:
            self.IRQ.unset()
