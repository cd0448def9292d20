"""DL/T645-2007 read data (control code 11H) and the value formats of its data identifiers.

A request carries the DI (DI0 first); a normal reply (91H, B1H when a follow-up frame exists)
carries the DI and the value; an abnormal reply (D1H) carries the error word SERR. Values are
compressed BCD, least significant byte first; signed quantities keep the sign in the top bit
of the most significant byte. `DATA_IDS` lists the identifiers metersim decodes by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from metersim._protocols.dlt645.errors import Dlt645Abnormal, Dlt645Error, Dlt645FrameError
from metersim._protocols.dlt645.framer import Frame

READ_DATA = 0x11
REPLY, FOLLOWS, ABNORMAL = 0x80, 0x20, 0x40


def di_bytes(di: int) -> bytes:
    """A data identifier (DI3 DI2 DI1 DI0 as the number 0xDI3DI2DI1DI0) in wire order."""
    if not isinstance(di, int) or not 0 <= di <= 0xFFFFFFFF:
        raise Dlt645Error(f"a data identifier is 4 bytes (0..0xFFFFFFFF), got {di!r}")
    return di.to_bytes(4, "little")


def read_request(address: bytes, di: int) -> Frame:
    return Frame(bytes(address), READ_DATA, di_bytes(di))


def read_reply(address: bytes, di: int, value: bytes, follows: bool = False) -> Frame:
    return Frame(bytes(address), READ_DATA | REPLY | (FOLLOWS if follows else 0), di_bytes(di) + bytes(value))


def abnormal_reply(address: bytes, function: int, serr: int) -> Frame:
    return Frame(bytes(address), function | REPLY | ABNORMAL, bytes([serr & 0xFF]))


def parse_read_reply(request: Frame, reply: Frame) -> bytes:
    """The value bytes `reply` carries for the read `request`. Raises Dlt645Abnormal for an
    abnormal reply, Dlt645FrameError when the reply does not answer the request."""
    if request.control != READ_DATA or len(request.data) != 4:
        raise Dlt645Error(f"not a read-data request: C {request.control:#04x}, "
                          f"{len(request.data)} data bytes")
    if reply.control == READ_DATA | REPLY | ABNORMAL:
        if len(reply.data) != 1:
            raise Dlt645FrameError(f"an abnormal reply carries 1 byte (SERR), got {len(reply.data)}")
        raise Dlt645Abnormal(READ_DATA, reply.data[0])
    if reply.control not in (READ_DATA | REPLY, READ_DATA | REPLY | FOLLOWS):
        raise Dlt645FrameError(f"reply control code {reply.control:#04x} to a read (expected 91 or B1)")
    if reply.address != request.address and set(request.address) != {0xAA}:
        raise Dlt645FrameError(f"reply from {reply.address_digits} to a request for "
                               f"{request.address_digits}")
    if reply.data[:4] != request.data:
        raise Dlt645FrameError(f"reply for DI {int.from_bytes(reply.data[:4], 'little'):08X} to a "
                               f"read of DI {int.from_bytes(request.data, 'little'):08X}")
    return reply.data[4:]


@dataclass(frozen=True)
class DataId:
    di: int
    name: str
    size: int               # bytes
    decimals: int
    unit: str
    signed: bool = False

    def decode(self, value: bytes) -> Decimal:
        if len(value) != self.size:
            raise Dlt645Error(f"{self.name} ({self.di:08X}) is {self.size} bytes, got {len(value)}")
        return bcd_decode(value, self.decimals, self.signed)

    def encode(self, value) -> bytes:
        return bcd_encode(value, self.size, self.decimals, self.signed)


def bcd_decode(value: bytes, decimals: int, signed: bool = False) -> Decimal:
    raw = bytearray(value)
    negative = False
    if signed and raw:
        negative = bool(raw[-1] & 0x80)
        raw[-1] &= 0x7F
    digits = "".join(f"{b:02X}" for b in reversed(raw))
    if not digits.isdigit():
        raise Dlt645Error(f"not BCD: {bytes(value).hex(' ')}")
    number = Decimal(int(digits)).scaleb(-decimals)
    return -number if negative else number


def bcd_encode(value, size: int, decimals: int, signed: bool = False) -> bytes:
    number = Decimal(str(value))
    scaled = number.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise Dlt645Error(f"{value} has more than {decimals} decimals")
    magnitude = abs(int(scaled))
    if number < 0 and not signed:
        raise Dlt645Error(f"{value} is negative and the format is unsigned")
    digits = f"{magnitude:0{2 * size}d}"
    if len(digits) > 2 * size or (signed and digits[0] >= "8"):
        raise Dlt645Error(f"{value} does not fit {size} BCD bytes with {decimals} decimals")
    out = bytearray(int(digits[i:i + 2], 16) for i in range(2 * size - 2, -2, -2))
    if number < 0:
        out[-1] |= 0x80
    return bytes(out)


DATA_IDS = {d.di: d for d in (
    DataId(0x00000000, "combined active energy, total", 4, 2, "kWh", signed=True),
    DataId(0x00010000, "forward active energy, total", 4, 2, "kWh"),
    DataId(0x00020000, "reverse active energy, total", 4, 2, "kWh"),
    DataId(0x02010100, "voltage, phase A", 2, 1, "V"),
    DataId(0x02020100, "current, phase A", 3, 3, "A", signed=True),
    DataId(0x02030000, "active power, total", 3, 4, "kW", signed=True),
    DataId(0x02060000, "power factor, total", 2, 3, "", signed=True),
    DataId(0x02800002, "grid frequency", 2, 2, "Hz"),
    DataId(0x00900200, "remaining money", 4, 2, "CNY"),
)}


def data_id(di: int) -> DataId:
    try:
        return DATA_IDS[di]
    except KeyError:
        raise Dlt645Error(f"data identifier {di:08X} has no known format (known: "
                          f"{', '.join(f'{d:08X}' for d in DATA_IDS)})") from None
