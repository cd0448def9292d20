"""Characters with their timing on an RS-485 / UART link (the layer under the RTU framer).

A character is a value with the virtual times of its start bit and of the end of its stop
bits. Its length comes from ONE function, `char_time_ps`, which asks the line model itself
(`UartFrame.duration_ps`), so a master, a trace decoder and the bus never disagree by a
rounding picosecond about where a silence ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from metersim.peripherals.base import UartFrame

from metersim._protocols.modbus.errors import ModbusError

PARITIES = ("N", "E", "O")


@dataclass(frozen=True)
class Char:
    """One character as a receiver on the line saw it."""

    value: int
    start_ps: int
    end_ps: int
    baud: float
    driver: str = ""           # who drove it (RS-485 tap), "" when unknown
    corrupted: bool = False    # collision, noise, framing or parity error


@dataclass(frozen=True)
class SerialFormat:
    """Baud and character format of a link (Modbus RTU: 8 data bits, default 8E1; 8N1 here)."""

    baud: float = 9600
    parity: str = "N"
    stop_bits: int = 1

    def __post_init__(self):
        if not self.baud > 0:
            raise ModbusError(f"baud must be > 0, got {self.baud!r}")
        if self.parity not in PARITIES:
            raise ModbusError(f"parity must be one of {PARITIES}, got {self.parity!r}")
        if self.stop_bits not in (1, 2):
            raise ModbusError(f"stop bits must be 1 or 2, got {self.stop_bits!r}")

    @property
    def char_ps(self) -> int:
        return char_time_ps(self.baud, self.parity, self.stop_bits)


def char_time_ps(baud: float, parity: str = "N", stop_bits: int = 1, data_bits: int = 8) -> int:
    """Start bit to end of stop bits of one character, as the line model times it."""
    return UartFrame(0, data_bits, parity, 2 * stop_bits, baud).duration_ps


class BusLink:
    """A host node on an `Rs485Bus`: sends bytes paced at its format, hands every received
    character to `on_char` as a `Char`."""

    def __init__(self, bus, name: str, fmt: SerialFormat):
        self.fmt = fmt
        self.endpoint = bus.attach_host(name, baud=fmt.baud, parity=fmt.parity,
                                        stop_half_bits=2 * fmt.stop_bits, keep_rx=False)
        self._fns: list[Callable[[Char], None]] = []
        self._call: tuple[Callable[[Char], None], ...] = ()    # snapshot of _fns
        self.endpoint.on_receive(self._receive)

    @property
    def bus(self):
        return self.endpoint.bus

    def on_char(self, fn: Callable[[Char], None]) -> None:
        self._fns.append(fn)
        self._call = tuple(self._fns)

    def _receive(self, value: int, frame) -> None:
        ch = Char(value, frame.start_ps, frame.end_ps, frame.baud, corrupted=frame.corrupted)
        for fn in self._call:
            fn(ch)

    def close(self) -> None:
        """Unplug from the bus: nothing more is received (characters already queued to send
        still go out, as from a converter pulled with its buffer full)."""
        self.endpoint.bus.detach(self.endpoint)

    def send(self, data: bytes, at_ps: int | None = None) -> int:
        """Queue `data`; returns the virtual time at which its last character ends."""
        return self.endpoint.send(bytes(data), at_ps=at_ps)
