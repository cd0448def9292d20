"""ESAM (embedded secure access module) on the meter's ISO 7816 port: a T=0 smartcard chip.

Followed: ISO/IEC 7816-3 (electrical interface and T=0) and ISO/IEC 7816-4 (APDUs):
- Activation: GPIO input 0 is RST (low = reset). The card answers RST going high with its ATR
  after `atr_delay_clocks` clock cycles (7816-3 §6.2.2: 400 .. 40 000), at the initial
  etu of F = 372, D = 1 clock cycles per bit: baud = f_CK / 372, where f_CK is the clock the
  USART gives on its CK pin (`usart.ck_hz`). Without a clock the card stays silent (logged).
- Characters: 1 start bit, 8 data bits, even parity, 2 etu of guard time (12 etu per character,
  direct convention, TS = 3B). A character the card receives with a parity error is NACKed
  (7816-3 §7.3: the line held low in the guard time): the USART then flags FE on its echo and
  the firmware repeats it. A NACK from the reader makes the card repeat its last character
  (up to `max_repeats` times).
- ATR: 3B 68 00 00 + 8 historical bytes (T0 = 0x68: TB1 and TC1 present, K = 8; TB1 = 00 no
  Vpp, TC1 = 00 no extra guard time; protocol T=0 implied).
- T=0 commands (header CLA INS P1 P2 P3): GET CHALLENGE (00 84 00 00 Le, Le = 4 or 8) answers
  the procedure byte INS, Le random bytes from a generator seeded by the emulation seed and
  the card's name, then 90 00. Status words: 6E 00 class not supported, 6D 00 instruction not
  supported, 6A 86 wrong P1-P2, 67 00 wrong length. The card answers 16 etu after the last
  header character (above the 7816-3 minimum delay between opposite-direction characters).
Fault injection for tests: `corrupt_next_tx(n)` sends the next n characters with a wrong parity
bit; `nack_next_rx(n)` NACKs the next n characters received.

Not modelled: PPS (speed negotiation), T=1, inverse convention, clock stop, Vcc classes,
the ESAM's secure file system and keys (EXTERNAL AUTHENTICATE, MAC, encryption).
"""

from __future__ import annotations

import logging

from metersim._errors import SetupError
from metersim.peripherals.base import Context, History, UartFrame, UartPort
from metersim.peripherals.registry import model
from metersim.peripherals.uart_line import LineFrame, encode_frame_bits, sample_frame
from metersim._units import PS_PER_S

F_DEFAULT, D_DEFAULT = 372, 1
GET_CHALLENGE = 0x84
DEFAULT_ATR = bytes.fromhex("3B680000") + b"MSESAM01"
SW_OK = b"\x90\x00"


@model("metersim.Esam")
class Esam:
    def __init__(self, ctx: Context, atr_delay_clocks: int = 10_000, max_repeats: int = 4,
                 historical: str = "MSESAM01"):
        hist = historical.encode("ascii")
        if len(hist) > 15:
            raise SetupError(f"{ctx.name}: at most 15 historical bytes, got {len(hist)}")
        if not 400 <= atr_delay_clocks <= 40_000:
            raise SetupError(f"{ctx.name}: atr_delay_clocks must be 400..40000 (ISO 7816-3), got {atr_delay_clocks}")
        self.ctx = ctx
        self.atr = bytes([0x3B, 0x60 | len(hist), 0x00, 0x00]) + hist
        self.atr_delay_clocks = int(atr_delay_clocks)
        self.max_repeats = int(max_repeats)
        self.tx = UartPort()
        self.usart = None
        self.rst = False
        self.powered = True
        self.apdus: History = History()    # (header, everything answered)
        self.challenges: list[bytes] = []
        self.atr_count = 0
        self.nacks_sent = 0
        self.nacks_received = 0
        self._rng = ctx.rng("challenge")
        self._corrupt_tx = 0
        self._nack_rx = 0
        self._queue: list[int] = []
        self._current: int | None = None
        self._repeats = 0
        self._nacked = False
        self._header = bytearray()
        self._events: list = []

    @property
    def name(self) -> str:
        return self.ctx.name

    # -- wiring -----------------------------------------------------------------------------
    def attach_uart(self, usart) -> None:
        self.usart = usart
        usart.tx.connect(self.on_frame)
        self.tx.connect(usart.receive_frame)
        usart.nack_port.append(self.on_nack)

    def corrupt_next_tx(self, n: int = 1) -> None:
        self._corrupt_tx += int(n)

    def nack_next_rx(self, n: int = 1) -> None:
        self._nack_rx += int(n)

    # -- timing -----------------------------------------------------------------------------
    def clock_hz(self) -> float:
        return float(getattr(self.usart, "ck_hz", 0.0) or 0.0)

    def etu_ps(self) -> int:
        hz = self.clock_hz()
        return round(F_DEFAULT * PS_PER_S / (D_DEFAULT * hz)) if hz else 0

    # -- contacts ---------------------------------------------------------------------------
    def on_gpio(self, pin: int, level: bool) -> None:
        if pin != 0:
            self.ctx.log_once(("pin", pin), logging.WARNING, "no GPIO input %d (0 = RST)", pin)
            return
        rising = level and not self.rst
        self.rst = bool(level)
        if not level:
            self._deactivate()
        elif rising and self.powered:
            hz = self.clock_hz()
            if not hz:
                self.ctx.log(logging.WARNING, "RST released without a clock on CLK: no ATR "
                             "(enable the USART's CK: CLKEN, SCEN, PSC)")
                return
            delay = round(self.atr_delay_clocks * PS_PER_S / hz)
            self._events.append(self.ctx.clock.schedule(delay, self._answer_to_reset))

    def _deactivate(self) -> None:
        for ev in self._events:
            ev.cancel()
        self._events = []
        self._queue = []
        self._current = None
        self._header = bytearray()

    def _answer_to_reset(self) -> None:
        self.atr_count += 1
        self.ctx.log(logging.DEBUG, "ATR %s", self.atr.hex(" "))
        self._transmit(self.atr)

    def power_off(self) -> None:
        self.powered = False
        self.rst = False
        self._deactivate()

    def power_on(self) -> None:
        self.powered = True

    def reset(self) -> None:
        """The card follows its RST contact, not the MCU's reset."""

    # -- card -> reader -----------------------------------------------------------------------
    def _transmit(self, data: bytes) -> None:
        self._queue.extend(data)
        if self._current is None:
            self._send_next()

    def _send_next(self) -> None:
        if self._current is None:
            if not self._queue:
                return
            self._current = self._queue.pop(0)
            self._repeats = 0
        etu = self.etu_ps()
        if not etu:
            self.ctx.log(logging.WARNING, "clock stopped while sending: answer abandoned")
            self._deactivate()
            return
        baud = PS_PER_S / etu
        now = self.ctx.clock.now_ps
        frame: UartFrame = UartFrame(self._current, 8, "E", 4, baud, now)
        if self._corrupt_tx:
            self._corrupt_tx -= 1
            bits = encode_frame_bits(frame)
            bits[9] ^= 1                                  # the parity bit
            frame = LineFrame(self._current, 8, "E", 4, baud, now, corrupted=True,
                              line_bits=tuple(bits))
        self._nacked = False
        self.tx.send(frame)
        self._events.append(self.ctx.clock.schedule_at(frame.end_ps, self._char_done))

    def _char_done(self) -> None:
        if self._nacked and self._repeats < self.max_repeats:
            self._repeats += 1                             # 7816-3 §7.3: repeat the character
            self._events.append(self.ctx.clock.schedule(2 * self.etu_ps(), self._send_next))
            return
        self._current = None
        self._send_next()

    def on_nack(self, t_ps: int) -> None:
        """The reader pulled the line low in our guard time: it got a parity error."""
        if self._current is not None:
            self.nacks_received += 1
            self._nacked = True

    # -- reader -> card -----------------------------------------------------------------------
    def on_frame(self, frame: UartFrame) -> None:
        if not (self.rst and self.powered) or not self.etu_ps():
            return
        value, fe, pe, _nf = sample_frame(frame, PS_PER_S / self.etu_ps(), 8, "E", 4)
        if pe or self._nack_rx:
            if not pe:
                self._nack_rx -= 1
            self.nacks_sent += 1
            self.usart.nack(frame.start_ps)               # line low in the reader's stop bit
            return
        self._events.append(self.ctx.clock.schedule_at(frame.end_ps, self._received, value & 0xFF))

    def _received(self, byte: int) -> None:
        self._header.append(byte)
        if len(self._header) < 5:
            return
        header = bytes(self._header)
        self._header = bytearray()
        answer = self._command(header)
        self.apdus.append((header, answer))
        delay = 16 * self.etu_ps()
        self._events.append(self.ctx.clock.schedule(delay, self._transmit, answer))

    def _command(self, h: bytes) -> bytes:
        cla, ins, p1, p2, p3 = h
        if cla != 0x00:
            return b"\x6E\x00"
        if ins != GET_CHALLENGE:
            return b"\x6D\x00"
        if p1 or p2:
            return b"\x6A\x86"
        if p3 not in (4, 8):
            return b"\x67\x00"
        challenge = bytes(self._rng.getrandbits(8) for _ in range(p3))
        self.challenges.append(challenge)
        return bytes([ins]) + challenge + SW_OK
