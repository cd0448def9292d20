"""Capture what a machine prints on a UART: bytes with virtual times, and complete lines.

Works with any UART model that offers the host-side API of the STM32 USART model: an `on_byte`
list of callbacks and a `sent` list of (time_ps, value).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from metersim.errors import SetupError


@dataclass
class Line:
    text: str
    start_ps: int   # time of the line's first byte
    end_ps: int     # time of its newline


@dataclass
class UartCapture:
    machine_name: str
    uart_name: str
    data: bytearray = field(default_factory=bytearray)
    times_ps: list[int] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    echo: Callable[[str, str], None] | None = None
    _clock: object = None
    _line_start: int | None = None
    _partial: bytearray = field(default_factory=bytearray)

    def feed(self, byte: int) -> None:
        now = self._clock.now_ps
        self.data.append(byte)
        self.times_ps.append(now)
        if byte == 0x0A:
            text = self._partial.decode("utf-8", "replace").rstrip("\r")
            self.lines.append(Line(text, self._line_start if self._line_start is not None else now, now))
            if self.echo is not None:
                self.echo(self.machine_name, text)
            self._partial.clear()
            self._line_start = None
        else:
            if self._line_start is None:
                self._line_start = now
            self._partial.append(byte)

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")

    def line_texts(self) -> list[str]:
        return [ln.text for ln in self.lines]

    def find_line(self, prefix: str) -> Line | None:
        for ln in self.lines:
            if ln.text.startswith(prefix):
                return ln
        return None


def console_uart_of(machine, name: str | None = None):
    if name is not None:
        return name, machine[name]
    for candidate in ("usart1", "uart1", "usart2"):
        if candidate in machine.peripherals:
            return candidate, machine.peripherals[candidate]
    for pname, p in machine.peripherals.items():
        if hasattr(p, "on_byte") and hasattr(p, "sent"):
            return pname, p
    raise SetupError(f"{machine.name} has no UART to capture")


def capture_uart(machine, name: str | None = None,
                 echo: Callable[[str, str], None] | None = None) -> UartCapture:
    uart_name, uart = console_uart_of(machine, name)
    cap = UartCapture(machine.name, uart_name, echo=echo)
    cap._clock = machine.clock
    uart.on_byte.append(cap.feed)
    return cap
