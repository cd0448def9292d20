"""YMODEM sender (batch XMODEM-1K with CRC-16/XMODEM, per Forsberg's "XMODEM/YMODEM protocol
reference"): what a platform's AutoTester does to put a new app image on a meter over its
console. The receiver is firmware/image/ms_ymodem.c.

It talks through a port with `read(timeout_s) -> int | None` and `write(bytes)`: `UartPort`
drives an emulated UART through a `UartTester` in virtual time; `SerialPort` a real serial port
(pyserial). Bytes that are not protocol bytes (console text before the transfer) are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from metersim._errors import EmulationTimeout, MetersimError

SOH, STX, EOT, ACK, NAK, CAN, CRC_C = 0x01, 0x02, 0x04, 0x06, 0x15, 0x18, 0x43
PAD = 0x1A


class YmodemError(MetersimError):
    """The transfer failed: the receiver cancelled, stopped answering or refused blocks."""


def crc16_xmodem(data: bytes, crc: int = 0) -> int:
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def block(seq: int, payload: bytes, size: int, fill: int = PAD) -> bytes:
    """One block: SOH (128) or STX (1024), seq, ~seq, payload padded, CRC-16 big-endian."""
    body = payload.ljust(size, bytes([fill]))
    return (bytes([SOH if size == 128 else STX, seq & 0xFF, 0xFF - (seq & 0xFF)]) + body
            + crc16_xmodem(body).to_bytes(2, "big"))


def header_block(name: str, size: int) -> bytes:
    """Block 0: file name, NUL, decimal size (an empty name ends the batch)."""
    info = (name.encode("ascii") + b"\0" + str(size).encode() + b" ") if name else b""
    if len(info) > 128:
        raise YmodemError(f"file name {name!r} too long for YMODEM block 0")
    return block(0, info, 128, fill=0)


class UartPort:
    """An emulated UART as a YMODEM port: reads what the UART sends (from now on), writes to its
    receiver at the line's baud rate, waits in virtual time."""

    def __init__(self, tester):
        self.tester = tester
        self.pos = len(tester.data)

    def read(self, timeout_s: float) -> int | None:
        data = self.tester.data
        if self.pos >= len(data):
            try:
                self.tester.emulation.run_until(lambda: len(data) > self.pos,
                                                timeout=f"{timeout_s}s", what="a YMODEM byte")
            except EmulationTimeout:
                return None
        self.pos += 1
        return data[self.pos - 1]

    def write(self, data: bytes) -> None:
        self.tester.write(data)


class SerialPort:
    """A real serial port (pyserial `serial.Serial`) as a YMODEM port."""

    def __init__(self, serial):
        self.serial = serial

    def read(self, timeout_s: float) -> int | None:
        self.serial.timeout = timeout_s
        b = self.serial.read(1)
        return b[0] if b else None

    def write(self, data: bytes) -> None:
        self.serial.write(data)


@dataclass
class SendStats:
    blocks: int = 0
    retries: int = 0
    bytes: int = 0


class YmodemSender:
    """Send one file. `start_timeout_s`: how long to wait for the receiver's first 'C';
    `reply_timeout_s`: for each ACK; `max_retries`: NAKs or silences per block."""

    def __init__(self, port, start_timeout_s: float = 10.0, reply_timeout_s: float = 3.0,
                 max_retries: int = 10):
        self.port = port
        self.start_timeout_s = start_timeout_s
        self.reply_timeout_s = reply_timeout_s
        self.max_retries = max_retries
        self.stats = SendStats()

    def _wait_for(self, wanted: set[int], timeout_s: float, what: str) -> int:
        """The next byte in `wanted` (or CAN CAN: YmodemError); None after timeout_s."""
        while True:
            b = self.port.read(timeout_s)
            if b is None:
                return None
            if b == CAN:
                if self.port.read(1.0) == CAN:
                    raise YmodemError(f"the receiver cancelled the transfer while {what}")
                continue
            if b in wanted:
                return b

    def _send_block(self, data: bytes, what: str) -> None:
        for attempt in range(self.max_retries + 1):
            self.port.write(data)
            r = self._wait_for({ACK, NAK}, self.reply_timeout_s, f"waiting for the ACK of {what}")
            if r == ACK:
                self.stats.blocks += 1
                return
            self.stats.retries += 1
        raise YmodemError(f"{what}: no ACK after {self.max_retries + 1} tries")

    def cancel(self) -> None:
        """Abort a transfer: CAN bytes, which the receiver takes as the sender giving up."""
        self.port.write(bytes([CAN] * 5))

    def send(self, name: str, data: bytes) -> SendStats:
        """Send `data` as file `name` (ports: UartPort(tester) for an emulated console,
        SerialPort(serial.Serial(...)) for a real one); YmodemError when it fails."""
        if self._wait_for({CRC_C}, self.start_timeout_s, "waiting for the receiver") is None:
            raise YmodemError(f"the receiver never asked for a file ('C') within "
                              f"{self.start_timeout_s} s")
        self._send_block(header_block(name, len(data)), "block 0")
        if self._wait_for({CRC_C}, self.reply_timeout_s, "waiting for the data request") is None:
            raise YmodemError("no 'C' after block 0: the receiver did not accept the file")
        seq, off = 1, 0
        while off < len(data):
            # 1K blocks, but a tail that fits in fewer bytes as 128-byte blocks goes as those
            # (7 x 133 < 1029), as lrzsz does
            size = 1024 if len(data) - off > 7 * 128 else 128
            chunk = data[off:off + size]
            self._send_block(block(seq, chunk, size), f"block {seq} (offset {off})")
            off += len(chunk)
            seq += 1
        self.stats.bytes = len(data)
        for attempt in range(self.max_retries + 1):
            self.port.write(bytes([EOT]))
            r = self._wait_for({ACK, NAK}, self.reply_timeout_s, "ending the file (EOT)")
            if r == ACK:
                break
        else:
            raise YmodemError("EOT never acknowledged")
        if self._wait_for({CRC_C}, self.reply_timeout_s, "ending the batch") is not None:
            self._send_block(header_block("", 0), "the end-of-batch block")
        return self.stats


def send_file(port, name: str, data: bytes, **kw) -> SendStats:
    """Send `data` as file `name` to the YMODEM receiver on `port`."""
    return YmodemSender(port, **kw).send(name, data)
