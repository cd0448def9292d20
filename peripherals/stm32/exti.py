"""STM32 extended interrupt/event controller (EXTI), RM0008 §10.3 and RM0430 §10.3.

Registered as Renode's `IRQControllers.STM32F4_EXTI` (used by upstream F1 and F4 files),
`IRQControllers.EXTI` and `metersim.STM32_EXTI`; `numberOfOutputLines` sets the line count
(F103: 19 = GPIO 0-15, 16 PVD, 17 RTC alarm, 18 USB wake-up; F413: 24 = ... 16 PVD,
17 RTC alarm, 18 OTG FS wake-up, 21 RTC tamper/time-stamp, 22 RTC wake-up, 23 LPTIM1).

Inputs: `on_gpio(line, level)`, from AFIO/SYSCFG (lines 0-15), PWR's PVD output (16), the
RTC (17, 21, 22). Per the block diagram (RM0430 Figure 24): a selected edge (RTSR/FTSR) or
a 0->1 write to SWIER, gated by IMR, sets PR; PR drives output `connections[line]` (wired to
the NVIC, lines 5-9 and 10-15 through `Miscellaneous.CombinedInput`). Writing 1 to PR clears
it (and the matching SWIER bit). A masked line (IMR = 0) leaves PR alone. EMR-enabled lines
pulse the `Event` output (the CPU's WFE event input) and count in `events`.

Renode's G0/L5/WBA files give `numberOfOutputLines` above 32 and `firstDirectLine`: lines from
`firstDirectLine` on are direct lines (the output follows the input while IMR lets it through,
no edge detection, no PR bit), lines 32 and above are direct and unmasked (the second register
bank, IMR2, is not modelled). The register layout stays the F1/F4 one (IMR at 0x00): the
G0/L5 EXTI's RTSR1-at-0x00 layout is not modelled.

Not modelled: the 2-cycle input synchroniser delay; interrupt and event lines being
independent of the peripheral clock (the EXTI is always clocked here).
"""

from __future__ import annotations

from functools import lru_cache

from metersim.peripherals.base import GPIO, Context, Peripheral
from metersim.peripherals.registry import model
from metersim.peripherals.regmap import Reg, RegisterMap
from metersim.peripherals.stm32.gpio_common import kwarg, per_pin

IMR, EMR, RTSR, FTSR, SWIER, PR = range(0, 0x18, 4)


@lru_cache(maxsize=None)
def exti_registers(lines: int) -> RegisterMap:
    """The EXTI's registers for `lines` lines (bits above them are reserved)."""
    def bits(prefix: str, access: str = "rw") -> tuple:
        return per_pin(prefix, 1, access, pins=range(lines))
    return RegisterMap([
        Reg("IMR", IMR, 32, fields=bits("MR"), on_write="_imr_written", doc="interrupt mask: 1 lets a line set PR"),
        Reg("EMR", EMR, 32, fields=bits("MR"), doc="event mask: 1 pulses the Event output"),
        Reg("RTSR", RTSR, 32, fields=bits("TR"), doc="rising-edge trigger"),
        Reg("FTSR", FTSR, 32, fields=bits("TR"), doc="falling-edge trigger"),
        Reg("SWIER", SWIER, 32, fields=bits("SWIER"), on_write="_swier_written",
            doc="software interrupt: writing 0 -> 1 triggers the line"),
        Reg("PR", PR, 32, fields=bits("PR", "rc_w1"), on_write="_pr_written",
            doc="pending; writing 1 clears it and the SWIER bit"),
    ], title=f"STM32 EXTI, {lines} lines (RM0008 §10.3, RM0430 §10.3)")


@model("IRQControllers.STM32F4_EXTI", "IRQControllers.EXTI", "metersim.STM32_EXTI")
class STM32_EXTI(Peripheral):
    size = 0x400
    registers = exti_registers(24)       # numberOfOutputLines decides, per instance

    def __init__(self, ctx: Context, number_of_output_lines: int = 24,
                 first_direct_line: int | None = None, **kw):
        self.lines = int(kwarg(kw, "numberOfOutputLines", number_of_output_lines))
        direct = kwarg(kw, "firstDirectLine", first_direct_line)
        self.first_direct_line = min(self.lines if direct is None else int(direct), 32)
        self.registers = exti_registers(min(self.lines, 32))
        super().__init__(ctx)
        self.mask = (1 << min(self.lines, 32)) - 1
        self.connections = {i: GPIO(f"EXTI{i}") for i in range(self.lines)}
        self.Event = GPIO("Event")
        self.events = 0
        self._inputs = 0
        self.reset()

    def reset(self) -> None:
        self.reset_registers()
        self._update()

    # -- inputs ---------------------------------------------------------------------------------
    def on_gpio(self, line: int, level: bool) -> None:
        if not 0 <= line < self.lines:
            self.ctx.log_once(("line", line), 30, "input on line %d ignored: only %d lines",
                              line, self.lines)
            return
        b = 1 << line
        was = bool(self._inputs & b)
        self._inputs = (self._inputs | b) if level else (self._inputs & ~b)
        if line >= self.first_direct_line:
            self.connections[line].set(bool(level) and (line >= 32 or bool(self.imr & b)))
            return
        if level == was:
            return
        if (level and self.rtsr & b) or (not level and self.ftsr & b):
            self._trigger(b)

    def _trigger(self, bits: int) -> None:
        self.pr |= bits & self.imr
        ev = bits & self.emr
        if ev:
            self.events += bin(ev).count("1")
            self.Event.blink()
        self._update()

    def _update(self) -> None:
        for i, out in self.connections.items():
            if i < self.first_direct_line:
                out.set(bool((self.pr >> i) & 1))
            else:
                out.set(bool((self._inputs >> i) & 1) and (i >= 32 or bool((self.imr >> i) & 1)))

    def pending(self, line: int) -> bool:
        return bool((self.pr >> line) & 1)

    # -- bus ------------------------------------------------------------------------------------
    def _imr_written(self, _old: int, _value: int) -> None:
        self._update()     # direct lines follow the mask at once

    def _pr_written(self, _old: int, value: int) -> None:
        self.swier &= ~value
        self._update()

    def _swier_written(self, old: int, _value: int) -> None:
        rising = self.swier & ~old
        if rising:
            self._trigger(rising)


@model("Miscellaneous.CombinedInput", "metersim.CombinedInput")
class CombinedInput:
    """Renode's CombinedInput: an OR gate of `numberOfInputs` lines onto one output, used for
    the shared EXTI9_5 and EXTI15_10 NVIC inputs."""

    size = 0

    def __init__(self, ctx: Context, number_of_inputs: int = 2, **kw):
        self.ctx = ctx
        self.n = int(kwarg(kw, "numberOfInputs", number_of_inputs))
        self.IRQ = GPIO("IRQ")
        self.connections: dict[int, GPIO] = {}
        self._levels = 0

    def on_gpio(self, pin: int, level: bool) -> None:
        if not 0 <= pin < self.n:
            return
        self._levels = (self._levels | 1 << pin) if level else (self._levels & ~(1 << pin))
        self.IRQ.set(bool(self._levels))

    def reset(self) -> None:
        pass

    def outputs(self) -> dict[str, GPIO]:
        return {"IRQ": self.IRQ}
