"""STM32 independent watchdog (IWDG) at 0x40003000, RM0008 §19 and RM0430 §17.

Registered as Renode's `Timers.STM32_IndependentWatchdog` (arguments `frequency`,
`windowOption`, `defaultPrescaler` accepted) and `metersim.STM32_IWDG`.

- KR: 0xCCCC starts the watchdog (LSI forced on), 0xAAAA reloads the counter from RLR,
  0x5555 enables writes to PR/RLR, any other key disables them again.
- PR[2:0] divides the LSI by 4 << PR (/4 ... /256, 6 and 7 both /256); RLR[11:0] reset 0xFFF.
  Timeout = prescaler x (RLR + 1) / f_LSI (RM0008 Table 96: 0.1 ms .. 26.2 s at 40 kHz).
- f_LSI is the machine's "LSI" clock when the RCC runs it, else `frequency` (the nominal
  LSI: 40 kHz on F1, 32 kHz on F4). One event is scheduled at expiry (not per tick); at expiry
  the machine is asked for an "iwdg" reset.
- SR.PVU / SR.RVU are set for 5 LSI cycles after a PR / RLR write (RM0008 §19.4.4); new
  values take effect at the next reload.
- `hardware_mode=True` models the WDG_SW option byte = 0: running from reset.

- `windowOption: true` (F0/F7/L0/L4/G0/WBA parts, RM0385 §22.3.5) adds WINR at 0x10 (reset 0xFFF):
  a refresh while the down-counter is above WINR resets the part; writing WINR reloads the
  counter; SR.WVU marks the update. On F1/F4 (windowOption false) 0x10 is reserved.

Not modelled: freezing in debug
(DBGMCU), the LSI's ±50 % spread (the nominal value is used).
"""

from __future__ import annotations

import logging

from metersim.peripherals.base import Context, Peripheral
from metersim.peripherals.registry import model
from metersim.peripherals.regmap import Field, Reg, RegisterMap
from metersim.peripherals.stm32 import clock_tree, request_reset
from metersim.peripherals.stm32.gpio_common import kwarg
from metersim._units import PS_PER_S

KR, PR, RLR, SR, WINR = 0x00, 0x04, 0x08, 0x0C, 0x10
PVU, RVU, WVU = 1 << 0, 1 << 1, 1 << 2

REGISTERS = RegisterMap([
    Reg("KR", KR, 32, fields=(Field("KEY", 0, 16, "w", doc="0xCCCC start, 0xAAAA reload, "
                                    "0x5555 unprotect PR/RLR"),), on_write="_kr_written"),
    Reg("PR", PR, 32, fields=(Field("PR", 0, 3, doc="LSI divided by 4 << PR (6, 7: 256)"),),
        on_write="_pr_written"),
    Reg("RLR", RLR, 32, fields=(Field("RL", 0, 12, reset=0xFFF, doc="reload value"),),
        on_write="_rlr_written"),
    Reg("SR", SR, 32, fields=(Field("PVU", 0, access="r", doc="PR update in progress"),
                              Field("RVU", 1, access="r", doc="RLR update in progress"))),
], title="STM32 independent watchdog (RM0008 §19, RM0430 §17)")

WINDOW_REGISTERS = RegisterMap([
    *[r for r in REGISTERS.regs if r.name != "SR"],
    Reg("SR", SR, 32, fields=(Field("PVU", 0, access="r", doc="PR update in progress"),
                              Field("RVU", 1, access="r", doc="RLR update in progress"),
                              Field("WVU", 2, access="r", doc="WINR update in progress"))),
    Reg("WINR", WINR, 32, fields=(Field("WIN", 0, 12, reset=0xFFF, doc="refresh window: a "
                                        "refresh above it resets"),), on_write="_winr_written"),
], title="STM32 independent watchdog with window (RM0385 §22)")


@model("Timers.STM32_IndependentWatchdog", "metersim.STM32_IWDG")
class STM32_IWDG(Peripheral):
    size = 0x400
    registers = REGISTERS

    def __init__(self, ctx: Context, frequency: int = 32000, window_option: bool = False,
                 default_prescaler: int = 4, hardware_mode: bool = False, **kw):
        self.window_option = bool(kwarg(kw, "windowOption", window_option))
        if self.window_option:
            self.registers = WINDOW_REGISTERS
        super().__init__(ctx)
        self.frequency = int(frequency)
        self.default_prescaler = int(kwarg(kw, "defaultPrescaler", default_prescaler))
        self.hardware_mode = bool(hardware_mode)
        self._expiry = None
        self._updates: dict[int, object] = {}
        self.expiries = 0
        self.reset()

    def reset(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        for ev in self._updates.values():
            ev.cancel()
        self._updates.clear()
        self._expiry = None
        self.reset_registers()
        self.access = False
        self.running = False
        self.deadline_ps: int | None = None
        if self.hardware_mode:
            self._start()

    # -- timing ----------------------------------------------------------------------------------
    def lsi_hz(self) -> int:
        return clock_tree(self.ctx).rate_hz("LSI") or self.frequency

    def prescaler(self) -> int:
        return self.default_prescaler << min(self.pr, 6)

    def timeout_ps(self) -> int:
        return self.prescaler() * (self.rlr + 1) * PS_PER_S // self.lsi_hz()

    def _start(self) -> None:
        self.running = True
        self._reload()

    def _reload(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        delay = self.timeout_ps()
        self.deadline_ps = self.ctx.clock.now_ps + delay
        self._expiry = self.ctx.clock.schedule(delay, self._expired)

    def _expired(self) -> None:
        self._expiry = None
        self.expiries += 1
        self.ctx.log(logging.WARNING, "watchdog not refreshed within %d us: reset",
                     self.timeout_ps() // 1_000_000)
        if not request_reset(self.ctx, "iwdg"):
            self.running = False

    def counter(self) -> int:
        """The down-counter now (RLR right after a reload, 0 at expiry)."""
        if not self.running or self.deadline_ps is None:
            return self.rlr
        left_ps = max(0, self.deadline_ps - self.ctx.clock.now_ps)
        return left_ps * self.lsi_hz() // (self.prescaler() * PS_PER_S)

    def _mark_update(self, flag: int) -> None:
        self.sr |= flag
        old = self._updates.pop(flag, None)
        if old is not None:
            old.cancel()
        delay = 5 * PS_PER_S // self.lsi_hz()
        self._updates[flag] = self.ctx.clock.schedule(delay, self._update_done, flag)

    def _update_done(self, flag: int) -> None:
        self._updates.pop(flag, None)
        self.sr &= ~flag

    # -- bus ---------------------------------------------------------------------------------------
    def _kr_written(self, _old: int, key: int) -> None:
        self.access = key == 0x5555
        if key == 0xCCCC and not self.running:
            self._start()
        elif key == 0xAAAA and self.running:
            if self.window_option and self.counter() > self.winr:
                self.ctx.log(logging.WARNING, "watchdog refreshed outside its window (counter "
                             "0x%x above WINR 0x%x): reset", self.counter(), self.winr)
                if self._expiry is not None:
                    self._expiry.cancel()
                    self._expiry = None
                self.expiries += 1
                if not request_reset(self.ctx, "iwdg"):
                    self.running = False
                return
            self._reload()

    def _protected(self, name: str) -> bool:
        if not self.access:
            self.ctx.log_once(("protected", name), logging.INFO,
                              "IWDG %s write ignored: write 0x5555 to KR first", name)
        return not self.access

    def _pr_written(self, old: int, _value: int) -> None:
        if self._protected("PR"):
            self.pr = old
        else:
            self._mark_update(PVU)

    def _rlr_written(self, old: int, _value: int) -> None:
        if self._protected("RLR"):
            self.rlr = old
        else:
            self._mark_update(RVU)

    def _winr_written(self, old: int, _value: int) -> None:
        if self._protected("WINR"):
            self.winr = old
            return
        self._mark_update(WVU)
        if self.running:
            self._reload()    # RM0385 §22.3.5: writing WINR refreshes the counter
