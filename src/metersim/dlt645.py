"""DL/T645-2007 for tests and users: the frame codec (from metersim._protocols.dlt645) and a
master that talks to a meter through an emulated port.

    import metersim
    from metersim import dlt645
    reader = board["rs485Bus"].attach_host("reader", baud=2400, parity="E")
    master = metersim.dlt645.Master(emu, reader, address="000000123456")
    master.read_value(0x00010000)          # Decimal('1234.56'), kWh
    master.write(0x04000102, bytes.fromhex("563412"), password="123456")   # 12:34:56
    master.relay(0x1A, until=datetime(2030, 1, 1))                        # trip

`port` is anything with `send(bytes)` and `read()` on the emulation's clock: an RS-485 host
endpoint, the IR reader (`board["ir"]`), a UART endpoint. Every wait is in virtual time. An
abnormal reply raises `Dlt645Abnormal` (its `serr` holds the error word); no reply raises
`EmulationTimeout`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from metersim._errors import EmulationTimeout
from metersim._protocols.dlt645.codec import (  # noqa: F401  (the codec is part of this API)
    DATA_IDS, DataId, abnormal_reply, bcd_decode, bcd_encode, data_id, di_bytes, read_reply,
    read_request,
)
from metersim._protocols.dlt645.errors import (  # noqa: F401
    SERR_BITS, Dlt645Abnormal, Dlt645Error, Dlt645FrameError,
)
from metersim._protocols.dlt645.framer import (  # noqa: F401
    BROADCAST, WILDCARD, Dlt645Splitter, Frame, address_bytes, address_digits, decode_frame,
    encode_frame,
)

# function codes (reference §1.4)
BROADCAST_TIME, READ, READ_NEXT, READ_ADDRESS, WRITE, WRITE_ADDRESS = 0x08, 0x11, 0x12, 0x13, 0x14, 0x15
FREEZE, CHANGE_BAUD, CHANGE_PASSWORD = 0x16, 0x17, 0x18
CLEAR_DEMAND, CLEAR_METER, CLEAR_EVENTS, RELAY = 0x19, 0x1A, 0x1B, 0x1C
# relay control N1 (reference §1.4)
RELAY_TRIP, RELAY_CLOSE_ALLOWED, RELAY_CLOSE = 0x1A, 0x1B, 0x1C
ALARM_ON, ALARM_OFF, KEEP_POWER_ON, KEEP_POWER_OFF = 0x2A, 0x2B, 0x3A, 0x3B
BAUD_WORDS = {600: 0x02, 1200: 0x04, 2400: 0x08, 4800: 0x10, 9600: 0x20, 19200: 0x40}


def bcd_time(t: datetime) -> bytes:
    """ss mm hh DD MM YY as sent (least significant first, BCD)."""
    return bytes(int(f"{v:02d}", 16) for v in (t.second, t.minute, t.hour, t.day, t.month, t.year % 100))


def password_field(level: int, password: str) -> bytes:
    """PA P0 P1 P2: the level and the 6-digit password, least significant byte first."""
    if not 0 <= int(level) <= 9:
        raise Dlt645Error(f"a password level is 0..9, got {level!r}")
    if len(str(password)) != 6 or not str(password).isdigit():
        raise Dlt645Error(f"a DL/T645 password is 6 digits, got {password!r}")
    return bytes([int(level)]) + bytes(int(str(password)[i:i + 2], 16) for i in (4, 2, 0))


def operator_field(operator: str) -> bytes:
    if len(str(operator)) != 8 or any(c not in "0123456789ABCDEFabcdef" for c in str(operator)):
        raise Dlt645Error(f"an operator code is 8 hex digits, got {operator!r}")
    return bytes.fromhex(str(operator))[::-1]


@dataclass
class Master:
    """A DL/T645-2007 master on `port` of emulation `emu`."""

    emu: object
    port: object
    address: str = "000000123456"
    preamble: int = 4
    timeout: str = "1s"
    level: int = 2
    password: str = "123456"
    operator: str = "00000000"

    def __post_init__(self):
        self.sent: list[Frame] = []
        self.received: list[Frame] = []
        self._frames: list[Frame] = []
        self._splitter = Dlt645Splitter(self._frames.append)

    # -- the exchange ---------------------------------------------------------------------
    def send_raw(self, raw: bytes) -> int:
        """Put bytes on the port as they are; returns when the last one will have left."""
        return self.port.send(bytes(raw))

    def exchange(self, frame: Frame, reply: bool = True) -> Frame | None:
        """Send `frame`; the meter's reply (None when `reply` is False: broadcast)."""
        self._drain()
        self._frames.clear()
        self.sent.append(frame)
        end_ps = self.port.send(encode_frame(frame, self.preamble))
        if not reply:
            self.emu.run_until(lambda: self.emu.now_ps >= end_ps, "10s", "frame sent")
            self.emu.run_for("300ms")
            self._drain()
            if self._frames:
                raise Dlt645FrameError(f"a reply to a broadcast: {self._frames[0]}")
            return None

        def answered() -> bool:
            self._drain()
            return any(f.from_meter for f in self._frames)
        try:
            self.emu.run_until(answered, self._timeout_after(end_ps), "DL/T645 reply")
        except EmulationTimeout as e:
            raise EmulationTimeout(f"no DL/T645 reply to C {frame.control:02X} "
                                   f"(data {frame.data.hex(' ')}) within {self.timeout}") from e
        got = next(f for f in self._frames if f.from_meter)
        self.received.append(got)
        return got

    def request(self, control: int, data: bytes = b"", address: str | None = None) -> bytes:
        """A request that must be answered normally; the reply's data (Dlt645Abnormal if not)."""
        frame = Frame(address_bytes(address or self.address), control, bytes(data))
        got = self.exchange(frame)
        if got.abnormal:
            raise Dlt645Abnormal(control, got.data[0] if got.data else 0)
        if got.function != control & 0x1F:
            raise Dlt645FrameError(f"reply C {got.control:02X} to a request C {control:02X}")
        return got.data

    def _timeout_after(self, end_ps: int) -> str:
        from metersim._units import parse_time_ps
        span = end_ps - self.emu.now_ps + parse_time_ps(self.timeout)
        return f"{max(span, 0) / 1e9:.3f}ms"

    def _drain(self) -> None:
        for b in self.port.read():
            self._splitter.feed(b)

    # -- functions --------------------------------------------------------------------------
    def read(self, di: int) -> bytes:
        """The value bytes of identifier `di` (11H)."""
        data = self.request(READ, di_bytes(di))
        if data[:4] != di_bytes(di):
            raise Dlt645FrameError(f"reply for DI {int.from_bytes(data[:4], 'little'):08X} to a "
                                   f"read of {di:08X}")
        return data[4:]

    def read_value(self, di: int) -> Decimal:
        """Identifier `di` decoded by its format (codec.DATA_IDS)."""
        return data_id(di).decode(self.read(di))

    def read_next(self, di: int, seq: int) -> bytes:
        """Follow-up frame `seq` of `di` (12H)."""
        data = self.request(READ_NEXT, di_bytes(di) + bytes([seq & 0xFF]))
        return data[4:]

    def _auth(self, level, password, operator) -> bytes:
        return (password_field(self.level if level is None else level,
                               self.password if password is None else password)
                + operator_field(self.operator if operator is None else operator))

    def write(self, di: int, value: bytes, level: int | None = None, password: str | None = None,
              operator: str | None = None) -> None:
        """Write `value` (plain bytes, least significant first) to `di` (14H)."""
        self.request(WRITE, di_bytes(di) + self._auth(level, password, operator) + bytes(value))

    def broadcast_time(self, t: datetime) -> None:
        """08H to 99..99: no reply."""
        self.exchange(Frame(BROADCAST, BROADCAST_TIME, bcd_time(t)), reply=False)

    def read_address(self) -> str:
        return address_digits(self.request(READ_ADDRESS, b"", address="AAAAAAAAAAAA"))

    def write_address(self, digits: str) -> None:
        self.request(WRITE_ADDRESS, address_bytes(digits), address="AAAAAAAAAAAA")
        self.address = digits

    def freeze(self, when: str = "99999999") -> None:
        """16H: `when` as MMDDhhmm digits (99 wildcards; 99999999 = freeze now)."""
        self.request(FREEZE, bytes.fromhex(when)[::-1])

    def change_baud(self, baud: int) -> None:
        """17H; the port follows once the meter has answered at the old rate."""
        if baud not in BAUD_WORDS:
            raise Dlt645Error(f"baud must be one of {sorted(BAUD_WORDS)}, got {baud!r}")
        self.request(CHANGE_BAUD, bytes([BAUD_WORDS[baud]]))
        self.port.baud = baud

    def change_password(self, new_level: int, new: str, level: int | None = None,
                        password: str | None = None) -> None:
        """18H: the password of `new_level`, authorised by (`level`, `password`)."""
        di = 0x04000C01 + new_level
        old = password_field(self.level if level is None else level,
                             self.password if password is None else password)
        self.request(CHANGE_PASSWORD, di_bytes(di) + old + password_field(new_level, new))

    def clear_demand(self, level: int | None = 4, password: str | None = None, operator=None):
        self.request(CLEAR_DEMAND, self._auth(level, password, operator))

    def clear_meter(self, level: int | None = None, password: str | None = None, operator=None):
        self.request(CLEAR_METER, self._auth(level, password, operator))

    def clear_events(self, di: int = 0xFFFFFFFF, level=None, password=None, operator=None):
        self.request(CLEAR_EVENTS, self._auth(level, password, operator) + di_bytes(di))

    def relay(self, n1: int, until: datetime, level=None, password=None, operator=None) -> None:
        """1CH: N1 (RELAY_TRIP, RELAY_CLOSE, ...), valid until `until`."""
        self.request(RELAY, self._auth(level, password, operator) + bytes([n1, 0]) + bcd_time(until))


# `metersim.dlt645` in the facade is this module.
dlt645 = sys.modules[__name__]
