"""Polled bus steps: the end of an SPI frame or an I2C step (START, address, byte, STOP) that
no interrupt or DMA request watches, finished without cutting the running CPU slice.

With nothing outside the peripheral able to see such an end at its own instant, the model
finishes it "at" its end time (the clock reads that time while the devices take their bytes)
when something comes after it first: a register access, a pin change of a device on the bus
(`watch_device_pins`), or a quiet backstop event (`Clock.schedule_quiet_at`) no later than
the end, which runs in time order after the slice if nothing came first. One backstop serves
many ends: when it runs it finishes the ends passed by then and re-arms itself for the one
still on the bus. `PolledEnd` is that bookkeeping, shared by the SPI (spi.py) and I2C
(i2c.py) models; the engine's hot-register C path (_hot_regs.c) reads `due_ps` and
`settling` to answer a status read while the end has not passed, and starts an SPI frame
(`due_ps`, `fn`, `args`) where `backstop` is already due no later than the new end.
"""

from __future__ import annotations

from typing import Any, Callable

from metersim.peripherals.base import Context


def is_past(ctx: Context, due_ps: int) -> bool:
    """Has an event due at `due_ps` happened, seen from the current access?

    In a CPU slice the core's cycle count decides: with an event, the slice stops after the
    last instruction whose cycle count is not past the event's time (`cycles_at_time`,
    floor), so an access has passed it exactly when its cycle count is above that. (Where
    the access's time differs from `due_ps` this is the same as comparing times, now_ps
    being the cycle count's time rounded down; at equality, an access in an instruction
    ending exactly at `due_ps` precedes the event while one rounded down onto it follows.)
    Outside a slice the event queue's order decides: only a later time has passed it."""
    cpu = getattr(ctx.machine, "cpu", None)
    if cpu is not None and cpu.in_slice:
        return cpu.cycles_now() > cpu.cycles_at_time(due_ps)
    return ctx.clock.now_ps > due_ps


def watch_device_pins(device: Any, before: Any) -> bool:
    """Call `before()` ahead of every pin change of `device` (its `on_gpio` / `set_chip_select`),
    and of devices later attached below it (`register_child`, e.g. shared SPI lines).
    Returns False when the device's methods cannot be wrapped."""
    if getattr(device, "_metersim_pin_watch", None) == before:
        return True
    try:
        for name in ("on_gpio", "set_chip_select"):
            inner = getattr(device, name, None)
            if callable(inner):
                setattr(device, name, _before(before, inner))
        inner_reg = getattr(device, "register_child", None)
        if callable(inner_reg):
            def register_child(child: Any, *args: Any, _inner=inner_reg, **kw: Any) -> Any:
                _inner(child, *args, **kw)
                watch_device_pins(child, before)
            device.register_child = register_child
        device._metersim_pin_watch = before
    except (AttributeError, TypeError):
        return False
    ok = True
    for child in list(getattr(device, "members", ())):
        ok = watch_device_pins(child, before) and ok
    return ok


def _before(hook: Any, inner: Any) -> Any:
    def wrapped(*args: Any, **kw: Any) -> Any:
        hook()
        return inner(*args, **kw)
    return wrapped


class PolledEnd:
    """The polled step on the bus, if any: due at `due_ps`, finished by `fn(*args)` run as of
    that time, and the quiet backstop event that guarantees it ends (module docstring)."""

    __slots__ = ("ctx", "due_ps", "fn", "args", "backstop", "settling")

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.due_ps: int | None = None   # None: no polled step on the bus
        self.fn: Callable[..., Any] | None = None
        self.args: tuple = ()
        self.backstop = None             # quiet event at or before due_ps
        self.settling = False            # finishing ends (a device pin change then waits)

    def start(self, due_ps: int, fn: Callable[..., Any], *args: Any) -> None:
        """A polled step that ends at `due_ps` with `fn(*args)`."""
        self.due_ps, self.fn, self.args = due_ps, fn, args
        bs = self.backstop
        if bs is None or bs.time_ps > due_ps:
            if bs is not None:
                bs.cancel()
            self.backstop = self.ctx.clock.schedule_quiet_at(due_ps, self._backstop_event)

    def take(self) -> tuple[int, Callable[..., Any], tuple] | None:
        """Remove the pending end without running it (the step was aborted, or an interrupt
        now watches it): (due_ps, fn, args), or None. The backstop stays; it finds nothing."""
        if self.due_ps is None:
            return None
        end = (self.due_ps, self.fn, self.args)
        self.due_ps, self.fn, self.args = None, None, ()
        return end

    def drop(self) -> None:
        """Forget the pending end and the backstop (reset, peripheral disabled)."""
        self.take()
        if self.backstop is not None:
            self.backstop.cancel()
            self.backstop = None

    def finish(self) -> None:
        """End the pending step now, as of its end time (which may start the next one)."""
        due_ps, fn, args = self.take()
        self.ctx.clock.call_as_of(due_ps, fn, *args)

    def settle(self) -> None:
        """Before a register access or a device pin change: finish the ends passed by now, in
        order (an end may start the next step, which may have ended too)."""
        if self.due_ps is None or self.settling or not is_past(self.ctx, self.due_ps):
            return
        self.settling = True
        try:
            while True:
                self.finish()
                if self.due_ps is None or not is_past(self.ctx, self.due_ps):
                    break
        finally:
            self.settling = False

    def finish_until(self, t_ps: int) -> None:
        """Finish the ends due at or before `t_ps` (outside a slice: the backstop, a reset)."""
        while self.due_ps is not None and self.due_ps <= t_ps:
            self.finish()

    def _backstop_event(self) -> None:
        """Nothing finished the step before the clock got here: the ends passed by now finish
        (the event is due at or before the first), and the backstop moves on to the step
        still on the bus."""
        self.backstop = None
        self.finish_until(self.ctx.clock.now_ps)
        if self.due_ps is not None and self.backstop is None:
            self.backstop = self.ctx.clock.schedule_quiet_at(self.due_ps, self._backstop_event)
