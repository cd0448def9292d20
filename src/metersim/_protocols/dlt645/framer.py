"""DL/T645-2007 framing: `[FE x 0..4] 68 A0..A5 68 C L D0..D(L-1) CS 16`.

The address is 12 BCD digits sent least significant byte first (`000000123456` ->
`56 34 12 00 00 00`); `99..99` is broadcast, `AA` a wildcard digit pair. Every data byte is sent
+0x33 (mod 256); CS is the sum mod 256 of every byte from the first 68 through the last data
byte as sent. Frames carry their own length, so a receiver finds them by content: the
splitter skips FE preambles and anything before a 68, and re-synchronises at the next 68 when
byte 7 is not 68, the checksum fails or the end byte is not 16.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from metersim._protocols.dlt645.errors import Dlt645FrameError

START, END, PREAMBLE, OFFSET = 0x68, 0x16, 0xFE, 0x33
MAX_DATA = 200              # the largest data field the standard allows (read replies)
BROADCAST = bytes([0x99] * 6)
WILDCARD = bytes([0xAA] * 6)


def address_bytes(digits: str) -> bytes:
    """Wire order of a 12-digit address ("000000123456"; A for wildcard digits)."""
    s = str(digits).upper()
    if len(s) != 12 or any(c not in "0123456789A" for c in s):
        raise Dlt645FrameError(f"a DL/T645 address is 12 digits (0-9, A for wildcard), got {digits!r}")
    return bytes(int(s[i:i + 2], 16) for i in range(10, -2, -2))


def address_digits(wire: bytes) -> str:
    """The 12 digits of a wire-order address."""
    if len(wire) != 6:
        raise Dlt645FrameError(f"a DL/T645 address is 6 bytes, got {len(wire)}")
    return "".join(f"{b:02X}" for b in reversed(bytes(wire)))


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


@dataclass(frozen=True)
class Frame:
    address: bytes          # 6 bytes, wire order
    control: int
    data: bytes = b""       # plain (the +0x33 removed)

    @property
    def address_digits(self) -> str:
        return address_digits(self.address)

    @property
    def from_meter(self) -> bool:
        return bool(self.control & 0x80)

    @property
    def abnormal(self) -> bool:
        return bool(self.control & 0x40)

    @property
    def follows(self) -> bool:
        return bool(self.control & 0x20)

    @property
    def function(self) -> int:
        return self.control & 0x1F


def encode_frame(frame: Frame, preamble: int = 0) -> bytes:
    """The bytes on the line, with `preamble` (0..4) FE wake-up bytes first."""
    if len(frame.address) != 6:
        raise Dlt645FrameError(f"a DL/T645 address is 6 bytes, got {len(frame.address)}")
    if not 0 <= frame.control <= 0xFF:
        raise Dlt645FrameError(f"control code must be 0..0xFF, got {frame.control!r}")
    if len(frame.data) > MAX_DATA:
        raise Dlt645FrameError(f"a DL/T645 data field is at most {MAX_DATA} bytes, got {len(frame.data)}")
    if not 0 <= preamble <= 4:
        raise Dlt645FrameError(f"preamble is 0..4 FE bytes, got {preamble!r}")
    body = (bytes([START]) + bytes(frame.address) + bytes([START, frame.control, len(frame.data)])
            + bytes((b + OFFSET) & 0xFF for b in frame.data))
    return bytes([PREAMBLE] * preamble) + body + bytes([checksum(body), END])


def decode_frame(raw: bytes) -> Frame:
    """The frame in `raw` (FE preamble allowed, nothing after the 16); a clear error otherwise."""
    raw = bytes(raw)
    i = 0
    while i < len(raw) and raw[i] == PREAMBLE:
        i += 1
    body = raw[i:]
    if len(body) < 12:
        raise Dlt645FrameError(f"a DL/T645 frame is at least 12 bytes after its preamble, got "
                               f"{len(body)}: {raw.hex(' ')}")
    if body[0] != START or body[7] != START:
        raise Dlt645FrameError(f"expected 68 at bytes 0 and 7 of the frame, got {body[0]:02x} and "
                               f"{body[7]:02x}: {raw.hex(' ')}")
    n = body[9]
    if len(body) != 12 + n:
        raise Dlt645FrameError(f"L = {n} makes a {12 + n}-byte frame, got {len(body)}: {raw.hex(' ')}")
    if checksum(body[:10 + n]) != body[10 + n]:
        raise Dlt645FrameError(f"bad checksum: frame carries {body[10 + n]:02x}, its bytes give "
                               f"{checksum(body[:10 + n]):02x}: {raw.hex(' ')}")
    if body[11 + n] != END:
        raise Dlt645FrameError(f"expected end byte 16, got {body[11 + n]:02x}: {raw.hex(' ')}")
    return Frame(body[1:7], body[8], bytes((b - OFFSET) & 0xFF for b in body[10:10 + n]))


@dataclass
class Dlt645Splitter:
    """Finds frames in a byte stream: `feed(byte)` and whole frames go to `emit`; bytes that
    belong to no frame (FE preambles aside) are counted in `discarded`."""

    emit: Callable[[Frame], None]
    discarded: int = 0
    _buf: bytearray = field(default_factory=bytearray)

    def feed(self, value: int) -> None:
        self._buf.append(value & 0xFF)
        self._scan()

    def _scan(self) -> None:
        buf = self._buf
        while buf:
            if buf[0] != START:
                self.discarded += buf[0] != PREAMBLE     # wake-up bytes are not garbage
                del buf[0]
                continue
            if len(buf) >= 8 and buf[7] != START:
                self._resync()
                continue
            if len(buf) < 10 or len(buf) < 12 + buf[9]:
                return                       # wait for more
            n = 12 + buf[9]
            try:
                frame = decode_frame(bytes(buf[:n]))
            except Dlt645FrameError:
                self._resync()
                continue
            del buf[:n]
            self.emit(frame)

    def _resync(self) -> None:
        """Drop the false start and look for the next 68."""
        self.discarded += 1
        del self._buf[0]
