"""Things at the far end of a board's UART: a generic serial endpoint and an IR port.

`UartEndpoint` (`metersim.UartEndpoint`) stands for whatever the MCU's USART talks to through a
connector (the metrology unit's link, a test rig): registered on a USART in the .repl
(`link: metersim.UartEndpoint @ usart6 { baud: 9600; parity: "E" }`), it receives the USART's TX
frames and decodes them with its own settings (a baud or format mismatch gives wrong bytes and
framing/parity errors, as on the wire), and `send(bytes)` paces characters into the USART's RX
at its own baud. Tests read `rx` / `read()` or register `on_receive(fn)`; `connected = False`
unplugs the cable (nothing passes either way), `errors` lists (end_ps, kind).

`IrTransceiver` (`metersim.IrTransceiver`): the meter's optical port (DL/T645-2007 §4: infrared,
1200 baud 8E1 by default, 38 kHz modulated). It is a UART endpoint whose far side is a hand-held
reader: `in_view = False` takes the reader away. An optical port hears its own LED through the
window: with `self_echo=True` what the MCU sends also comes back to its RX (off by default:
firmware that echoes what it receives would otherwise talk to itself). Not modelled: the carrier, ambient light, the reader's angle and distance.
"""

from __future__ import annotations

import logging
from typing import Callable

from metersim._errors import SetupError
from metersim.peripherals.base import Context, UartFrame, UartPort
from metersim.peripherals.registry import model
from metersim.peripherals.uart_line import receive_byte, sample_frame, take_bytes

_STOP_HALF_BITS = {1: 2, 1.5: 3, 2: 4, 0.5: 1}


@model("metersim.UartEndpoint")
class UartEndpoint:
    def __init__(self, ctx: Context, baud: int = 9600, data_bits: int = 8, parity: str = "N",
                 stop_bits: float = 1):
        parity = str(parity).upper()
        if stop_bits not in _STOP_HALF_BITS:
            raise SetupError(f"{ctx.name}: stop_bits must be 0.5, 1, 1.5 or 2, got {stop_bits}")
        self.ctx = ctx
        self.baud = float(baud)
        self.data_bits = int(data_bits)
        self.parity = parity
        self.stop_half_bits = _STOP_HALF_BITS[stop_bits]
        sample_frame(UartFrame(0), self.baud, self.data_bits, parity, self.stop_half_bits)  # validates
        self.tx = UartPort()                  # towards the MCU's RX
        self.rx = bytearray()
        self.errors: list[tuple[int, str]] = []
        self.connected = True
        self._fns: list[Callable[[int], None]] = []
        self._tx_free_ps = 0

    @property
    def name(self) -> str:
        return self.ctx.name

    def reset(self) -> None:
        """The far end does not reset with the MCU."""

    # -- wiring --------------------------------------------------------------------------------
    def attach_uart(self, usart) -> None:
        """Cross with a USART: its TX to this endpoint, this endpoint's frames to its RX."""
        usart.tx.connect(self.on_frame)
        self.tx.connect(usart.receive_frame)

    # -- from the MCU -----------------------------------------------------------------------------
    def on_frame(self, frame: UartFrame) -> None:
        """A character from the MCU starts now; it is decoded when it has fully arrived."""
        if not self.connected:
            return
        self.ctx.clock.schedule_at(frame.end_ps, self._decode, frame)

    # A USART sending a DMA run may give its characters at the run's start (each with its own
    # start_ps): decoding goes by the frame's times (uart_cable.tells_ahead).
    on_frame.tells_ahead = True

    def _decode(self, frame: UartFrame) -> None:
        value = receive_byte(frame, self.baud, self.data_bits, self.parity, self.stop_half_bits,
                             self.errors)
        self.rx.append(value)
        for fn in list(self._fns):
            fn(value)

    def on_receive(self, fn: Callable[[int], None]) -> None:
        """`fn(byte)` for every character from the MCU (after it has fully arrived)."""
        self._fns.append(fn)

    def read(self, n: int | None = None) -> bytes:
        """Take up to `n` (default all) bytes received from the MCU."""
        return take_bytes(self.rx, n)

    # -- to the MCU -----------------------------------------------------------------------------
    def send(self, data: bytes, gap_ps: int = 0) -> int:
        """Queue characters towards the MCU at this endpoint's settings, back to back (plus
        `gap_ps`); returns the virtual time at which the last one has been sent."""
        if gap_ps < 0:
            raise SetupError(f"{self.name}: gap_ps must not be negative, got {gap_ps}")
        clock = self.ctx.clock
        t = max(clock.now_ps, self._tx_free_ps)
        for b in bytes(data):
            frame = UartFrame(b & ((1 << self.data_bits) - 1), self.data_bits, self.parity,
                              self.stop_half_bits, self.baud, start_ps=t)
            clock.schedule_at(t, self._launch, frame)
            t = frame.end_ps + gap_ps
        self._tx_free_ps = t
        return t - gap_ps if data else t

    def _launch(self, frame: UartFrame) -> None:
        if self.connected:
            self.tx.send(frame)
        else:
            self.ctx.log(logging.DEBUG, "not connected: %02x lost", frame.value)


@model("metersim.IrTransceiver")
class IrTransceiver(UartEndpoint):
    def __init__(self, ctx: Context, baud: int = 1200, data_bits: int = 8, parity: str = "E",
                 stop_bits: float = 1, self_echo: bool = False):
        super().__init__(ctx, baud, data_bits, parity, stop_bits)
        self.self_echo = bool(self_echo)
        self._usart_rx: Callable[[UartFrame], None] | None = None

    @property
    def in_view(self) -> bool:
        """A hand-held reader is in front of the window."""
        return self.connected

    @in_view.setter
    def in_view(self, value: bool) -> None:
        self.connected = bool(value)

    def attach_uart(self, usart) -> None:
        super().attach_uart(usart)
        self._usart_rx = usart.receive_frame

    def on_frame(self, frame: UartFrame) -> None:
        if self.self_echo and self._usart_rx is not None:
            self._usart_rx(frame)          # the LED's light reflected into the photodiode
        super().on_frame(frame)
