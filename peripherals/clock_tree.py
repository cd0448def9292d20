"""Named clock rates of a machine (SYSCLK, HCLK, PCLK1, ...) with change notification.

The RCC model of an SoC owns the rates and sets them as the firmware configures the clock tree;
every consumer (CPU core, SysTick, timers, USART baud, SPI bit rate, RTC, IWDG) reads its rate
here and subscribes to changes, so a new configuration applies at once.

Well-known names: "SYSCLK", "HCLK" (core and SysTick), "PCLK1", "PCLK2", "TIMCLK1", "TIMCLK2"
(timer kernel clocks after the APB x2 rule), "HSI", "HSE", "LSI", "LSE", "RTCCLK".
"""

from __future__ import annotations

from typing import Callable


class ClockTree:
    def __init__(self, rates_hz: dict[str, int] | None = None):
        self._rates: dict[str, int] = dict(rates_hz or {})
        self._subs: dict[str, list[Callable[[int], None]]] = {}

    def rate_hz(self, name: str) -> int:
        """Current rate of a clock; 0 when it is stopped or not defined."""
        return self._rates.get(name, 0)

    def set_rate(self, name: str, hz: int) -> None:
        hz = int(hz)
        if self._rates.get(name) == hz:
            return
        self._rates[name] = hz
        for fn in list(self._subs.get(name, ())):
            fn(hz)

    def set_rates(self, rates_hz: dict[str, int]) -> None:
        for name, hz in rates_hz.items():
            self.set_rate(name, hz)

    def subscribe(self, name: str, fn: Callable[[int], None]) -> None:
        """Call `fn(new_hz)` whenever `name` changes."""
        self._subs.setdefault(name, []).append(fn)

    def snapshot(self) -> dict[str, int]:
        return dict(self._rates)
