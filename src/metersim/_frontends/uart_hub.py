"""`emulation CreateUARTHub "name"`: a wire joining UARTs, every character sent by one goes to
all the others (Renode's `UARTHub`, renode-docs `networking/machine-to-machine-connections.md`).

UARTs with a frame port (`tx` UartPort + `receive_frame`, the STM32 USART model) exchange whole
`UartFrame`s, so each receiver samples the character at its own baud and format as real wiring
would (a baud mismatch gives framing errors, not clean bytes). UARTs with only the byte API
(`on_byte` + `write_bytes`, e.g. metersim.ConsoleUART) send and take plain bytes; a byte from
such a UART reaches a framed receiver as a frame at the receiver's own settings.

A frame reaches a UART of the same machine at its start, as a direct wire does, and a UART of
another machine where that UART first looks at it (`uart_cable.arrival_ps`, an event on the
emulation's clock); the hub is a link whose lookahead bounds the machines' quantum
(metersim._engine.emulation, time model). Renode's hub delivers at synchronisation points
(quantum ends) instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from metersim._frontends.monitor_syntax import MonitorError
from metersim.peripherals.base import UartFrame
from metersim.peripherals.uart_cable import (arrival_ps, cached_lookahead, check_arrival,
                                             lookahead_ps, machine_of, settings_changed)


@dataclass
class _Member:
    label: str          # "machine:usart2"
    uart: Any
    unhook: Callable[[], None] = lambda: None


@dataclass
class UartHub:
    name: str
    members: list[_Member] = field(default_factory=list)
    frames: int = 0     # characters forwarded (each counted once, whatever the fan-out)

    def attach(self, label: str, uart: Any) -> None:
        if any(m.uart is uart for m in self.members):
            raise MonitorError(f"{label} is already connected to hub {self.name!r}")
        framed = hasattr(uart, "tx") and hasattr(uart.tx, "connect")
        if not framed and not hasattr(uart, "on_byte"):
            raise MonitorError(f"{label} ({type(uart).__name__}) is not a UART: it has neither a "
                               "frame port (tx) nor an on_byte callback list")
        member = _Member(label, uart)
        machine = machine_of(uart)
        if machine is not None:
            machine.emulation.add_link(self)
        if framed:
            def on_frame(frame: UartFrame, src=member) -> None:
                self._forward(src, frame=frame)
            uart.tx.connect(on_frame)
            member.unhook = lambda: uart.tx.disconnect(on_frame)
        else:
            def on_byte(value: int, src=member) -> None:
                self._forward(src, byte=value)
            uart.on_byte.append(on_byte)
            member.unhook = lambda: uart.on_byte.remove(on_byte)
        self.members.append(member)
        settings_changed()

    def detach(self, uart: Any) -> bool:
        for m in self.members:
            if m.uart is uart:
                m.unhook()
                self.members.remove(m)
                settings_changed()
                return True
        return False

    def lookahead_ps(self) -> int | None:
        return cached_lookahead(self, lambda: lookahead_ps(
            m.uart for m in self.members if hasattr(m.uart, "tx") and hasattr(m.uart, "frame_format")))

    def _forward(self, src: _Member, frame: UartFrame | None = None, byte: int | None = None) -> None:
        self.frames += 1
        here = machine_of(src.uart)
        for m in list(self.members):
            if m is src:
                continue
            there = machine_of(m.uart)
            if here is not None and there is not None and there.clock is not here.clock:
                # another machine: at the character's arrival, on the emulation's clock
                f = frame if frame is not None else _frame_for(m.uart, byte, here.clock.now_ps)
                if f is not None:
                    # the receiver hears the start now (its line is not idle from then on),
                    # as on a cable between machines
                    rx_start = getattr(m.uart, "rx_start", None)
                    if rx_start is not None:
                        rx_start(f.start_ps)
                    here.emulation.clock.schedule_at(arrival_ps(f), self._arrive, m, f, byte)
                continue
            self._deliver(m, frame, byte)

    def _arrive(self, m: _Member, frame: UartFrame, byte: int | None) -> None:
        check_arrival(m.uart, arrival_ps(frame))
        self._deliver(m, frame, byte)

    def _deliver(self, m: _Member, frame: UartFrame | None, byte: int | None) -> None:
        if m not in self.members:
            return          # detached meanwhile
        rx = m.uart
        receive = getattr(rx, "receive_frame", None)
        if receive is not None:
            if frame is None:
                frame = _frame_for(rx, byte)
                if frame is None:
                    return   # the receiver has no baud rate yet: the line is not listened to
            receive(frame)
        elif hasattr(rx, "write_bytes"):
            rx.write_bytes(bytes([(frame.value if frame is not None else byte) & 0xFF]))

    def describe(self) -> str:
        names = ", ".join(m.label for m in self.members) or "nothing"
        return f"{self.name}: {names} ({self.frames} characters forwarded)"


def _frame_for(rx: Any, byte: int, start_ps: int | None = None) -> UartFrame | None:
    """A frame carrying `byte` at the receiver's own settings, starting now (or `start_ps`)."""
    try:
        baud = float(rx.baud)
        data_bits, parity, stop = rx.frame_format()
    except (AttributeError, ZeroDivisionError):
        return None
    if baud <= 0:
        return None
    return UartFrame(byte & ((1 << data_bits) - 1), data_bits, parity, stop, baud,
                     rx.ctx.clock.now_ps if start_ps is None else start_ps)
