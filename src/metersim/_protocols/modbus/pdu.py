"""Modbus PDUs (function code + data) of the functions the metering controller serves:
03 read holding registers, 04 read input registers, 06 write single register, 16 (0x10) write
multiple registers, 08 diagnostics; exception replies (function | 0x80, code).

Requests are built by the `*_request` functions; `parse_reply` checks a reply against its
request and returns what it carries; `describe` names any PDU for a human-readable trace.
Malformed PDUs raise `ModbusPduError` saying what the layout should have been.
"""

from __future__ import annotations

from metersim._protocols.modbus.errors import EXCEPTION_NAMES, ModbusException, ModbusPduError

READ_HOLDING, READ_INPUT, WRITE_SINGLE, DIAGNOSTICS, WRITE_MULTIPLE = 3, 4, 6, 8, 16
FUNCTION_NAMES = {READ_HOLDING: "read holding registers", READ_INPUT: "read input registers",
                  WRITE_SINGLE: "write single register", DIAGNOSTICS: "diagnostics",
                  WRITE_MULTIPLE: "write multiple registers"}
MAX_READ, MAX_WRITE = 125, 123
ECHO_QUERY, CLEAR_COUNTERS = b"\x00\x00", b"\x00\x0a"   # diagnostics sub-functions answered by an echo


def _u16(name: str, v: int) -> bytes:
    if not isinstance(v, int) or not 0 <= v <= 0xFFFF:
        raise ModbusPduError(f"{name} must be 0..0xFFFF, got {v!r}")
    return v.to_bytes(2, "big")


def read_request(function: int, address: int, count: int) -> bytes:
    if function not in (READ_HOLDING, READ_INPUT):
        raise ModbusPduError(f"read function must be 3 or 4, got {function!r}")
    if not isinstance(count, int) or not 1 <= count <= MAX_READ:
        raise ModbusPduError(f"register count must be 1..{MAX_READ}, got {count!r}")
    return bytes([function]) + _u16("register address", address) + _u16("count", count)


def write_single_request(address: int, value: int) -> bytes:
    return bytes([WRITE_SINGLE]) + _u16("register address", address) + _u16("value", value)


def write_multiple_request(address: int, values: list[int]) -> bytes:
    if not 1 <= len(values) <= MAX_WRITE:
        raise ModbusPduError(f"a multiple write carries 1..{MAX_WRITE} registers, got {len(values)}")
    return (bytes([WRITE_MULTIPLE]) + _u16("register address", address) + _u16("count", len(values))
            + bytes([2 * len(values)]) + b"".join(_u16("value", v) for v in values))


def diagnostics_request(subfunction: int, data: int = 0) -> bytes:
    return bytes([DIAGNOSTICS]) + _u16("sub-function", subfunction) + _u16("data", data)


def exception_reply(function: int, code: int) -> bytes:
    return bytes([function | 0x80, code])


def _need(pdu: bytes, n: int, what: str) -> None:
    if len(pdu) != n:
        raise ModbusPduError(f"{what} is {n} bytes, got {len(pdu)}: {pdu.hex(' ')}")


def check_reply_function(request: bytes, reply: bytes) -> None:
    """ModbusException if `reply` is an exception reply to `request`, ModbusPduError if it
    answers another function (any function code: raw requests to probe a slave use it too)."""
    if not request or not reply:
        raise ModbusPduError(f"empty PDU (request {bytes(request).hex(' ')}, reply {bytes(reply).hex(' ')})")
    fc = request[0]
    if reply[0] == fc | 0x80:
        _need(reply, 2, f"an exception reply to {fc:#04x}")
        raise ModbusException(fc, reply[1])
    if reply[0] != fc:
        raise ModbusPduError(f"reply function {reply[0]:#04x} to request {fc:#04x}")


def parse_reply(request: bytes, reply: bytes):
    """What `reply` carries for `request`: the registers of a read, None for a write (whose echo
    is checked), the counter of a diagnostics counter reply (sub-functions 0x0B..0x0D). Raises ModbusException for an exception
    reply and ModbusPduError when the reply does not fit the request."""
    request, reply = bytes(request), bytes(reply)
    check_reply_function(request, reply)
    fc = request[0]
    if fc in (READ_HOLDING, READ_INPUT):
        _need(request, 5, f"a request {fc:#04x}")
        count = int.from_bytes(request[3:5], "big")
        _need(reply, 2 + 2 * count, f"the reply to a read of {count} registers")
        if reply[1] != 2 * count:
            raise ModbusPduError(f"reply to {fc:#04x} announces {reply[1]} bytes, expected {2 * count}")
        return [int.from_bytes(reply[2 + 2 * i:4 + 2 * i], "big") for i in range(count)]
    if fc == WRITE_SINGLE or (fc == DIAGNOSTICS and request[1:3] in (ECHO_QUERY, CLEAR_COUNTERS)):
        if reply != request:
            raise ModbusPduError(f"{FUNCTION_NAMES[fc]} echo {reply.hex(' ')} differs from the "
                                 f"request {request.hex(' ')}")
        return None
    if fc == DIAGNOSTICS:                        # a counter: sub-function echoed, then its value
        _need(reply, 5, "a diagnostics counter reply")
        if reply[1:3] != request[1:3]:
            raise ModbusPduError(f"diagnostics reply for sub-function {reply[1:3].hex()} to a "
                                 f"request for {request[1:3].hex()}")
        return int.from_bytes(reply[3:5], "big")
    if fc == WRITE_MULTIPLE:
        if reply != request[:5]:
            raise ModbusPduError(f"write multiple reply {reply.hex(' ')} differs from the request "
                                 f"header {request[:5].hex(' ')}")
        return None
    raise ModbusPduError(f"function {fc:#04x} is not one the metering controller serves "
                         f"({', '.join(f'{f:02d}' for f in FUNCTION_NAMES)})")


def describe(pdu: bytes, request: bool) -> str:
    """One line naming a PDU (for text traces); never raises on malformed input."""
    pdu = bytes(pdu)
    if not pdu:
        return "empty PDU"
    fc = pdu[0]
    if fc & 0x80:
        code = pdu[1] if len(pdu) > 1 else None
        return (f"exception to {fc & 0x7F:#04x}: code {code} "
                f"({EXCEPTION_NAMES.get(code, 'unknown')})")
    name = FUNCTION_NAMES.get(fc, f"function {fc:#04x}")
    if fc in (READ_HOLDING, READ_INPUT) and not request:
        return f"{name}: {(len(pdu) - 2) // 2} registers"
    if len(pdu) < 5:
        return f"{name} ({len(pdu) - 1} data bytes)"

    def word(i: int) -> int:
        return int.from_bytes(pdu[i:i + 2], "big")

    if fc in (READ_HOLDING, READ_INPUT):
        return f"{name} {word(1):#06x} x{word(3)}"
    if fc == WRITE_SINGLE:
        return f"{name} {word(1):#06x} = {word(3)}"
    if fc == WRITE_MULTIPLE:
        return f"{name} {word(1):#06x} x{word(3)}"
    if fc == DIAGNOSTICS:
        return f"{name} sub-function {word(1)} data {word(3):#06x}"
    return f"{name} ({len(pdu) - 1} data bytes)"


def looks_like_request(pdu: bytes, previous_request: bytes | None = None) -> bool:
    """Is this PDU (of a valid frame) a request? A guess from the layouts, for traces of a line
    where nobody says who sent what.

    Exceptions (function | 0x80) are replies. 03/04: a request is 5 bytes, a reply 2 + byte
    count. 16: a request is 6 + byte count, a reply 5. 06/08 (and anything undecided): a copy
    of the previous request is its echo reply, else a request.
    """
    pdu = bytes(pdu)
    fc, n = pdu[0], len(pdu)
    if fc & 0x80:
        return False
    if fc in (1, 2, READ_HOLDING, READ_INPUT):
        if n == 2 + pdu[1] and n != 5:
            return False
        if n == 5:
            return True
    if fc in (15, WRITE_MULTIPLE) and n >= 5:
        if n >= 6 and n == 6 + pdu[5]:
            return True
        if n == 5:
            return False
    return previous_request != pdu
