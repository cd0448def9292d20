"""A minimal STM32-style USART for engine tests and bare boards: bytes out, bytes in, no timing.

Register layout of the STM32 USART v1 (SR 0x00, DR 0x04, BRR 0x08, CR1 0x0C), but TXE and TC
always read 1 and a DR write emits the byte at once. Boards with real timing use the full
USART model (peripherals/stm32/usart.py); this one exists so engine tests do not depend on it.
"""

from __future__ import annotations

from collections import deque
from typing import Callable

from metersim.peripherals.base import GPIO, Context, History, Peripheral
from metersim.peripherals.registry import model

SR_RXNE, SR_TC, SR_TXE = 1 << 5, 1 << 6, 1 << 7
CR1_RXNEIE = 1 << 5


@model("metersim.ConsoleUART")
class ConsoleUART(Peripheral):
    size = 0x400

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self.IRQ = GPIO("IRQ")
        self.output = bytearray()
        # Same host-side API as the full USART model: callbacks and (time_ps, value) records.
        self.on_byte: list[Callable[[int], None]] = []
        self.sent = History()
        self._rx: deque[int] = deque()
        self.reset()

    def reset(self) -> None:
        self.cr1 = self.cr2 = self.cr3 = self.brr = 0
        self._rx.clear()
        self.IRQ.set(False)

    def write_bytes(self, data: bytes) -> None:
        """Host -> firmware: queue bytes for the firmware to read from DR."""
        self._rx.extend(data)
        self._update_irq()

    def _update_irq(self) -> None:
        self.IRQ.set(bool(self._rx) and bool(self.cr1 & CR1_RXNEIE))

    def read(self, offset: int, size: int) -> int:
        if offset == 0x00:
            return SR_TXE | SR_TC | (SR_RXNE if self._rx else 0)
        if offset == 0x04:
            value = self._rx.popleft() if self._rx else 0
            self._update_irq()
            return value
        if offset == 0x08:
            return self.brr
        if offset == 0x0C:
            return self.cr1
        if offset == 0x10:
            return self.cr2
        if offset == 0x14:
            return self.cr3
        return super().read(offset, size)

    def write(self, offset: int, size: int, value: int) -> None:
        if offset == 0x04:
            byte = value & 0xFF
            now = self.ctx.clock.now_ps
            self.output.append(byte)
            self.sent.append((now, byte))
            for fn in self.on_byte:
                fn(byte)
        elif offset == 0x00:
            pass  # flags are constant here
        elif offset == 0x08:
            self.brr = value & 0xFFFF
        elif offset == 0x0C:
            self.cr1 = value
            self._update_irq()
        elif offset == 0x10:
            self.cr2 = value
        elif offset == 0x14:
            self.cr3 = value
        else:
            super().write(offset, size, value)

    def sent_bytes(self) -> bytes:
        return bytes(self.output)

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", errors="replace")
