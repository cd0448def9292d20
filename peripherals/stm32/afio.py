"""STM32F1 alternate-function I/O (AFIO) at 0x40010000, RM0008 §9.4, and the EXTI line
routing shared with the F4 SYSCFG.

Registered as Renode's `GPIOPort.STM32F1AFIO`: `gpioPorts: [gpioPortA, ..., gpioPortG]`
gives the ports (their index in the list is the EXTICR port code, A = 0); outputs
`[0-15] -> exti@[0-15]` carry, for each line x, the level of pin x of the port selected in
AFIO_EXTICR((x/4)+1) (reset: port A). Changing the selection moves the line to the new
port's current level (which may itself be an edge, as on the chip).

EVCR, MAPR (SWJ_CFG reads 0, write-only) and MAPR2 are stored; remapping does not move
peripheral signals to other pins here (boards wire devices to the pins they use).
"""

from __future__ import annotations

from typing import Any

from metersim.peripherals.base import GPIO, Context, Peripheral
from metersim.peripherals.registry import model
from metersim.peripherals.stm32.gpio_common import kwarg


class ExtiRouter(Peripheral):
    """Lines 0-15 follow pin x of the port chosen by the EXTICR registers."""

    size = 0x400
    EXTICR_OFFSET = 0x08

    def __init__(self, ctx: Context, gpio_ports: Any = None):
        super().__init__(ctx)
        self.connections = {i: GPIO(f"EXTI{i}") for i in range(16)}
        self._pins: dict[int, int] = {}        # port index -> pin level bits
        self.exticr = [0, 0, 0, 0]
        for index, port in enumerate(gpio_ports or ()):
            if port is None:
                continue
            self._pins[index] = sum(1 << p for p in range(16) if port.pin_level(p))
            port.watch(lambda pin, level, i=index: self.port_changed(i, pin, level))
        self._route_all()

    def selected_port(self, line: int) -> int:
        return (self.exticr[line // 4] >> (4 * (line % 4))) & 0xF

    def port_changed(self, port: int, pin: int, level: bool) -> None:
        bits = self._pins.get(port, 0)
        self._pins[port] = (bits | 1 << pin) if level else (bits & ~(1 << pin))
        if 0 <= pin < 16 and self.selected_port(pin) == port:
            self.connections[pin].set(level)

    def _route_all(self) -> None:
        for line in range(16):
            port = self.selected_port(line)
            self.connections[line].set(bool((self._pins.get(port, 0) >> line) & 1))

    def read_exticr(self, index: int) -> int:
        return self.exticr[index]

    def write_exticr(self, index: int, value: int) -> None:
        self.exticr[index] = value & 0xFFFF
        self._route_all()

    def reset(self) -> None:
        self.exticr = [0, 0, 0, 0]
        self._route_all()


def _sub(old: int, offset: int, size: int, value: int) -> int:
    shift = 8 * (offset & 3)
    mask = ((1 << (8 * size)) - 1) << shift
    return (old & ~mask) | ((value << shift) & mask)


@model("GPIOPort.STM32F1AFIO", "metersim.STM32F1_AFIO")
class STM32F1AFIO(ExtiRouter):
    def __init__(self, ctx: Context, gpio_ports: Any = None, **kw):
        super().__init__(ctx, gpio_ports=kwarg(kw, "gpioPorts", gpio_ports))
        self.evcr = self.mapr = self.mapr2 = 0

    def read(self, offset: int, size: int) -> int:
        reg = offset & ~3
        if 0x08 <= reg <= 0x14:
            value = self.read_exticr((reg - 0x08) // 4)
        elif reg == 0x00:
            value = self.evcr
        elif reg == 0x04:
            value = self.mapr & ~(7 << 24)     # SWJ_CFG is write-only
        elif reg == 0x1C:
            value = self.mapr2
        else:
            return super().read(offset, size)
        return (value >> (8 * (offset & 3))) & ((1 << (8 * size)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        reg = offset & ~3
        if 0x08 <= reg <= 0x14:
            i = (reg - 0x08) // 4
            self.write_exticr(i, _sub(self.exticr[i], offset, size, value))
        elif reg == 0x00:
            self.evcr = _sub(self.evcr, offset, size, value) & 0xFF
        elif reg == 0x04:
            self.mapr = _sub(self.mapr, offset, size, value)
        elif reg == 0x1C:
            self.mapr2 = _sub(self.mapr2, offset, size, value)
        else:
            super().write(offset, size, value)

    def reset(self) -> None:
        self.evcr = self.mapr = self.mapr2 = 0
        super().reset()
