"""STM32F1 / STM32F4 on-chip blocks.

System half (this package's rcc_*, gpio_*, exti, afio, syscfg, pwr, flash_*, crc, iwdg, wwdg,
ids) and communication/timer half (usart, spi, i2c, timer, rtc_*, bkp). Each block is one
module named after it; the reference manuals followed are RM0008 (STM32F101/103, "F1") and
RM0430 (STM32F413/423, "F4").

Small helpers shared by the system models live here so each model stays unit-testable with a
fake machine (any object with `clocks`, `sysbus` and `request_reset`).
"""

from __future__ import annotations

from typing import Any

from metersim._errors import SetupError
from metersim.peripherals.clock_tree import ClockTree


def clock_tree(ctx: Any) -> ClockTree:
    """The machine's ClockTree; a private one when the model runs without a machine."""
    tree = getattr(getattr(ctx, "machine", None), "clocks", None)
    if tree is None:
        tree = getattr(ctx, "_standalone_clocks", None)
        if tree is None:
            tree = ClockTree()
            ctx._standalone_clocks = tree
    return tree


def sysbus(ctx: Any) -> Any:
    """The machine's system bus (read_memory/write_memory); an error names what is missing."""
    bus = getattr(getattr(ctx, "machine", None), "sysbus", None)
    if bus is None:
        raise SetupError(f"{ctx.name}: needs a machine with a sysbus to reach flash memory")
    return bus


def request_reset(ctx: Any, cause: str) -> bool:
    """Ask the machine for a reset; False when there is no machine to ask (unit tests)."""
    fn = getattr(getattr(ctx, "machine", None), "request_reset", None)
    if fn is None:
        return False
    fn(cause)
    return True


def series_of(value: Any, default: str) -> str:
    """'STM32Series.F4', 'F4', an enum-like object -> 'F1' / 'F4' ..."""
    if value is None:
        return default
    # .repl enums arrive as objects with `text` ("STM32Series.F4"); plain strings also work.
    text = str(getattr(value, "text", getattr(value, "name", value))).strip().strip('"').upper()
    return text.rsplit(".", 1)[-1]


def bit(value: int, n: int) -> int:
    return (value >> n) & 1
