"""Modbus RTU framing: CRC-16/MODBUS, ADUs, and frame boundaries by silence.

ADU = address | function | data | CRC (reflected polynomial 0xA001, initial 0xFFFF, low byte
first), 4..256 bytes. A silence of at least t3.5 (3.5 character times) between the end of one
character and the start of the next ends a frame; a silence of more than t1.5 inside a frame
makes it unusable (Modbus over Serial Line v1.02 §2.5.1.1). Above 19200 bit/s the standard
fixes t1.5 = 750 us and t3.5 = 1.75 ms. Everything is integer picoseconds, computed from the
character time of `transport.char_time_ps`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from metersim._protocols.modbus.errors import ModbusFrameError
from metersim._protocols.modbus.transport import Char
from metersim._units import PS_PER_US

MIN_ADU, MAX_ADU = 4, 256
FIXED_ABOVE_BAUD = 19200
FIXED_T15_PS = 750 * PS_PER_US
FIXED_T35_PS = 1750 * PS_PER_US


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS of `data`."""
    crc = 0xFFFF
    for b in bytes(data):
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def encode_adu(address: int, pdu: bytes) -> bytes:
    """Address + PDU + CRC (low byte first)."""
    if not 0 <= address <= 255:
        raise ModbusFrameError(f"RTU address must be 0..255, got {address!r}")
    body = bytes([address]) + bytes(pdu)
    if not MIN_ADU <= len(body) + 2 <= MAX_ADU:
        raise ModbusFrameError(f"an RTU frame is {MIN_ADU}..{MAX_ADU} bytes, this one would be "
                               f"{len(body) + 2}")
    return body + crc16(body).to_bytes(2, "little")


def crc_ok(adu: bytes) -> bool:
    return len(adu) >= MIN_ADU and crc16(adu[:-2]) == int.from_bytes(adu[-2:], "little")


def decode_adu(adu: bytes) -> tuple[int, bytes]:
    """(address, PDU) of a frame; ModbusFrameError if it is not a valid RTU frame."""
    adu = bytes(adu)
    if not MIN_ADU <= len(adu) <= MAX_ADU:
        raise ModbusFrameError(f"an RTU frame is {MIN_ADU}..{MAX_ADU} bytes, got {len(adu)}: "
                               f"{adu.hex(' ')}")
    if not crc_ok(adu):
        raise ModbusFrameError(f"bad CRC: frame {adu.hex(' ')} carries "
                               f"{int.from_bytes(adu[-2:], 'little'):04x}, its bytes give "
                               f"{crc16(adu[:-2]):04x}")
    return adu[0], adu[1:-2]


@dataclass(frozen=True)
class RtuTiming:
    """Character time and the two silences of RTU framing, in picoseconds."""

    char_ps: int
    t15_ps: int
    t35_ps: int


def rtu_timing(char_ps: int, baud: float) -> RtuTiming:
    """t1.5 and t3.5 for characters of `char_ps` at `baud` (fixed above 19200 bit/s);
    half characters round up, so a silence of exactly t3.5 is never shorter than 3.5 chars."""
    char_ps = int(char_ps)
    if char_ps <= 0:
        raise ModbusFrameError(f"character time must be > 0 ps, got {char_ps}")
    if baud > FIXED_ABOVE_BAUD:
        return RtuTiming(char_ps, FIXED_T15_PS, FIXED_T35_PS)
    return RtuTiming(char_ps, (3 * char_ps + 1) // 2, (7 * char_ps + 1) // 2)


@dataclass
class RtuFrame:
    """Characters between two silences of at least t3.5."""

    start_ps: int
    end_ps: int
    data: bytes
    drivers: tuple[str, ...] = ()
    corrupted: bool = False     # a character was damaged on the line
    gap_error: bool = False     # a silence longer than t1.5 inside the frame

    @property
    def valid(self) -> bool:
        """A usable ADU: undamaged, no inner gap, 4..256 bytes, CRC right."""
        return (not self.corrupted and not self.gap_error and len(self.data) <= MAX_ADU
                and crc_ok(self.data))

    @property
    def driver(self) -> str:
        return "+".join(self.drivers)


@dataclass
class RtuSplitter:
    """Cuts characters into frames as a receiver on the line does, whoever drives.

    `feed` each character in order; a frame is emitted when the next character starts t3.5 or
    more after it, or by `flush()`. A live receiver calls `flush_if_idle(now_ps)` at
    `idle_deadline_ps()`: by then every character that started within t3.5 has arrived.
    """

    emit: Callable[[RtuFrame], None]
    _timings: dict = field(default_factory=dict)
    _buf: bytearray = field(default_factory=bytearray)
    _start: int = 0
    _end: int = 0
    _drivers: list = field(default_factory=list)
    _bad: bool = False
    _gap: bool = False
    _timing: RtuTiming | None = None

    def timing_of(self, ch: Char) -> RtuTiming:
        key = (ch.end_ps - ch.start_ps, ch.baud)
        t = self._timings.get(key)
        if t is None:
            t = self._timings[key] = rtu_timing(*key)
        return t

    def feed(self, ch: Char) -> None:
        if self._buf:
            silence = ch.start_ps - self._end
            if silence >= self._timing.t35_ps:
                self.flush()
            elif silence > self._timing.t15_ps:
                self._gap = True
        if not self._buf:
            self._start, self._drivers, self._bad, self._gap = ch.start_ps, [], False, False
        if ch.driver and ch.driver not in self._drivers:
            self._drivers.append(ch.driver)
        self._buf.append(ch.value & 0xFF)
        self._end = ch.end_ps
        self._bad |= ch.corrupted
        self._timing = self.timing_of(ch)

    def idle_deadline_ps(self) -> int:
        """When the pending frame is surely over (t3.5 and one character after its end)."""
        return self._end + self._timing.t35_ps + self._timing.char_ps

    def flush_if_idle(self, now_ps: int) -> None:
        if self._buf and now_ps >= self.idle_deadline_ps():
            self.flush()

    def flush(self) -> None:
        if self._buf:
            frame = RtuFrame(self._start, self._end, bytes(self._buf), tuple(self._drivers),
                             self._bad, self._gap)
            self._buf.clear()
            self.emit(frame)
