"""Bus traffic to pcap files with virtual timestamps, framed per protocol, readable by Wireshark.

File format: classic libpcap with nanosecond timestamps (magic 0xa1b23c4d, version 2.4). A
record's timestamp is the virtual start time of its first character (start bit), counted from
virtual time 0 (plus `epoch_s`, default 0, i.e. 1970-01-01 in Wireshark's absolute view).

Modbus RTU: bytes are cut into frames by `metersim._protocols.modbus.framer.RtuSplitter`, the
same splitter the Modbus master receives with: a silence of at least t3.5 between the end of
one character and the start of the next ends a frame, a silence over t1.5 inside one makes it
invalid; t1.5/t3.5 come from the character time of the characters actually sent (their start,
data, parity and stop bits at their baud; fixed 750 us / 1.75 ms above 19200 bit/s). A frame
is valid when it is undamaged, 4..256 bytes and its CRC-16/MODBUS checks.

Why Modbus/UDP: Debian's Wireshark 4.0 registers its Modbus RTU dissector (`mbrtu`) on no link
type and no port by default (`tshark -G decodes` lists only `tcp.port 502 -> mbtcp`, `udp.port 502
-> mbudp`, `tls.port 802 -> mbtcp`; `mbrtu` is "decode as" only, also for `rtacser.data`), so a
raw RTU capture needs a preference or a `-d` option before it decodes. Modbus/TCP (MBAP header +
PDU) on port 502 decodes with no set-up at all. So `ModbusPcap` writes three files:

- the main file, `LINKTYPE_RAW` (101, bare IPv4): every valid RTU ADU becomes one IPv4/UDP
  datagram carrying MBAP + PDU: transaction id counting up per request (a response carries the
  id of the request it answers), protocol id 0, length, unit id = RTU address; the CRC is dropped
  (it was checked). Requests go from the master (10.0.0.1, port 49502) to the slave 10.0.1.<addr>
  port 502 (broadcast, address 0, to 10.0.1.255); responses go back from port 502, which is how
  Wireshark tells queries from responses and pairs them. Frames that are not valid ADUs
  (bad CRC, too short, collisions, noise) are kept as IPv4 packets of protocol 253 (RFC 3692
  experimentation): Wireshark shows their raw bytes, not a wrong decode.
- the companion `<stem>.rtu.pcap`, `LINKTYPE_USER0` (147): the raw RTU bytes of every frame as
  they were on the line, CRC and damage included (Wireshark decodes them as Modbus RTU once
  DLT_USER 147 is mapped to `mbrtu` in its preferences).
- the companion `<stem>.txt`: one line per frame with its virtual time, its direction
  (`master->slave 1`, `slave 1->master`), its bytes and what it is (`read input registers
  0x1000 x16`, `not a Modbus frame (bad CRC)`).

Which frames are requests: on an RS-485 bus, the frames driven by the master node (`master=`, by
default the driver of the first valid ADU); on a UART, `role="master"` / `"slave"`, or a guess
from the frame layout of the common function codes when not given
(`metersim._protocols.modbus.pdu.looks_like_request`).

Other traffic (console text, DL/T645 or unknown protocols) goes to a single file of raw bytes
with a DLT_USER link type (`LINKTYPE_USER1`, 148, for UART text; `LINKTYPE_USER0` for raw bus
chunks): one record per line (up to and including '\n') or per burst ended by an idle gap.

Frames are cut as a receiver on the line would cut them, whoever drives: a reply that starts
less than t3.5 after the query merges with it into one (invalid) frame whose driver reads
"master+slave". Bytes are the values on the line (`TapRecord.value`), so collision and noise
damage shows in the raw file.

Not done: multi-master buses (one master is assumed), Modbus ASCII, separate records per driver
inside a collision, pcapng.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from metersim._protocols.modbus.framer import RtuFrame, RtuSplitter
from metersim._protocols.modbus.pdu import describe, looks_like_request
from metersim._protocols.modbus.transport import Char, char_time_ps
from metersim._traces.errors import TraceError
from metersim._units import PS_PER_NS, PS_PER_S

PCAP_MAGIC_NS = 0xA1B23C4D
LINKTYPE_RAW = 101        # bare IPv4/IPv6 packets
LINKTYPE_USER0 = 147      # DLT_USER0: raw Modbus RTU ADUs / raw bus chunks
LINKTYPE_USER1 = 148      # DLT_USER1: UART text / raw UART bytes

MASTER_IP = (10, 0, 0, 1)
MASTER_PORT = 49502
MODBUS_PORT = 502
IP_PROTO_UDP = 17
IP_PROTO_EXPERIMENTAL = 253


# ------------------------------------------------------------------ pcap files
class PcapWriter:
    """A classic pcap file with nanosecond timestamps, written record by record."""

    def __init__(self, path: str | Path, linktype: int, snaplen: int = 65535, epoch_s: int = 0):
        if not 0 <= int(linktype) <= 0xFFFF:
            raise TraceError(f"pcap link type must be 0..65535, got {linktype!r}")
        self.path = Path(path)
        self.linktype = int(linktype)
        self.snaplen = int(snaplen)
        self.epoch_s = int(epoch_s)
        self.records = 0
        try:
            self._f = open(self.path, "wb")
        except OSError as e:
            raise TraceError(f"cannot create pcap file {self.path}: {e}") from None
        self._f.write(struct.pack("<IHHiIII", PCAP_MAGIC_NS, 2, 4, 0, 0, self.snaplen, self.linktype))

    @property
    def closed(self) -> bool:
        return self._f.closed

    def write(self, time_ps: int, data: bytes) -> None:
        """One record stamped with virtual time `time_ps` (truncated to the nanosecond)."""
        if self._f.closed:
            raise TraceError(f"pcap file {self.path} is closed: cannot add a record")
        if time_ps < 0:
            raise TraceError(f"pcap record time must be >= 0 ps, got {time_ps}")
        sec, ns = divmod(int(time_ps) // PS_PER_NS, 1_000_000_000)
        data = bytes(data)
        cap = data[:self.snaplen]
        self._f.write(struct.pack("<IIII", sec + self.epoch_s, ns, len(cap), len(data)))
        self._f.write(cap)
        self.records += 1

    def flush(self) -> None:
        if not self._f.closed:
            self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()

    def __enter__(self) -> "PcapWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass(frozen=True)
class PcapRecord:
    time_ns: int
    data: bytes
    orig_len: int


def read_pcap(path: str | Path) -> tuple[int, list[PcapRecord]]:
    """(link type, records) of a pcap file (micro- or nanosecond, either byte order)."""
    raw = Path(path).read_bytes()
    if len(raw) < 24:
        raise TraceError(f"{path}: too short for a pcap header ({len(raw)} bytes)")
    for endian in "<>":
        magic = struct.unpack(endian + "I", raw[:4])[0]
        if magic in (0xA1B2C3D4, PCAP_MAGIC_NS):
            break
    else:
        raise TraceError(f"{path}: not a pcap file (magic 0x{raw[:4].hex()})")
    scale = 1 if magic == PCAP_MAGIC_NS else 1000
    _, _, _, _, _, linktype = struct.unpack(endian + "HHiIII", raw[4:24])
    out, pos = [], 24
    while pos + 16 <= len(raw):
        sec, frac, incl, orig = struct.unpack(endian + "IIII", raw[pos:pos + 16])
        pos += 16
        if pos + incl > len(raw):
            raise TraceError(f"{path}: record {len(out)} is cut short")
        out.append(PcapRecord(sec * 1_000_000_000 + frac * scale, raw[pos:pos + incl], orig))
        pos += incl
    return linktype, out


# ------------------------------------------------------------------ chunks of text and raw bytes
@dataclass
class Chunk:
    """A run of characters from one driver with no long gap: a frame, a line or a burst."""

    start_ps: int
    end_ps: int
    data: bytes
    driver: str = ""
    corrupted: bool = False


class _Grouper:
    """Groups characters into chunks: a silence of `idle_chars` character times, a change of
    driver, or a byte in `split_after` (e.g. b'\\n', after it) ends one."""

    def __init__(self, emit: Callable[[Chunk], None], idle_chars: float, split_after: bytes = b""):
        self._emit = emit
        self._idle_chars = idle_chars
        self._split_after = split_after
        self._buf = bytearray()
        self._start = self._end = 0
        self._limit = 0
        self._driver = ""
        self._bad = False

    def feed(self, value: int, start_ps: int, end_ps: int, baud: float, driver: str = "",
             corrupted: bool = False) -> None:
        if self._buf and (start_ps - self._end >= self._limit or driver != self._driver):
            self.flush()
        if not self._buf:
            self._start, self._driver, self._bad = start_ps, driver, False
        self._buf.append(value & 0xFF)
        self._end = end_ps
        self._bad |= bool(corrupted)
        self._limit = round(self._idle_chars * (end_ps - start_ps))
        if self._split_after and (value & 0xFF) in self._split_after:
            self.flush()

    def flush(self) -> None:
        if self._buf:
            chunk = Chunk(self._start, self._end, bytes(self._buf), self._driver, self._bad)
            self._buf.clear()
            self._emit(chunk)


# ------------------------------------------------------------------ Modbus/UDP
def _ip_checksum(header: bytes) -> int:
    if len(header) % 2:
        header += b"\0"
    s = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4_packet(src: tuple, dst: tuple, proto: int, payload: bytes, ident: int) -> bytes:
    total = 20 + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ident & 0xFFFF, 0x4000, 64, proto, 0,
                      bytes(src), bytes(dst))
    hdr = hdr[:10] + _ip_checksum(hdr).to_bytes(2, "big") + hdr[12:]
    return hdr + payload


def udp_datagram(src: tuple, sport: int, dst: tuple, dport: int, payload: bytes) -> bytes:
    length = 8 + len(payload)
    pseudo = bytes(src) + bytes(dst) + struct.pack("!BBH", 0, IP_PROTO_UDP, length)
    udp = struct.pack("!HHHH", sport, dport, length, 0) + payload
    csum = _ip_checksum(pseudo + udp) or 0xFFFF
    return udp[:6] + csum.to_bytes(2, "big") + udp[8:]


def slave_ip(address: int) -> tuple:
    return (10, 0, 1, 255 if address == 0 else address)


class ModbusPcap:
    """Modbus RTU frames to a Modbus/UDP pcap (decoded by stock Wireshark), a raw RTU pcap and
    a text listing with each frame's direction.

    Feed characters with `feed(...)`; `close()` writes the last frame. Frames are cut by the
    same `RtuSplitter` as the Modbus master's. `master`: driver name whose frames are requests
    (RS-485); `role`: "master" / "slave" when every frame comes from one side (a UART's
    transmit line).
    """

    def __init__(self, path: str | Path, rtu_path: str | Path | None = None,
                 master: str | None = None, role: str | None = None, epoch_s: int = 0,
                 text_path: str | Path | None = None):
        if role not in (None, "master", "slave"):
            raise TraceError(f"role must be 'master', 'slave' or None, got {role!r}")
        self.path = Path(path)
        self.rtu_path = Path(rtu_path) if rtu_path is not None else default_rtu_path(self.path)
        self.text_path = Path(text_path) if text_path is not None else self.path.with_suffix(".txt")
        if len({self.path, self.rtu_path, self.text_path}) != 3:
            raise TraceError(f"the pcap, the raw RTU pcap and the text listing need three files, "
                             f"got {self.path}, {self.rtu_path}, {self.text_path}")
        self.master = master
        self.role = role
        self.main = PcapWriter(self.path, LINKTYPE_RAW, epoch_s=epoch_s)
        self.rtu = PcapWriter(self.rtu_path, LINKTYPE_USER0, epoch_s=epoch_s)
        try:
            self.text = open(self.text_path, "w")
        except OSError as e:
            raise TraceError(f"cannot create the Modbus text listing {self.text_path}: {e}") from None
        self.text.write("# virtual time of the first start bit, direction, RTU bytes, meaning\n")
        self.frames: list[RtuFrame] = []
        self.valid = 0
        self.invalid = 0
        self._tid = 0
        self._pending: dict[int, int] = {}       # unit id -> transaction id of its open query
        self._previous_request: bytes | None = None
        self._ident = 0
        self._splitter = RtuSplitter(self.add_frame)

    def feed(self, value: int, start_ps: int, end_ps: int, baud: float, driver: str = "",
             corrupted: bool = False) -> None:
        self._splitter.feed(Char(value, start_ps, end_ps, baud, driver, bool(corrupted)))

    def _from_master(self, frame: RtuFrame) -> bool:
        if self.role is not None:
            return self.role == "master"
        if frame.drivers:
            if self.master is None and frame.valid:
                self.master = frame.drivers[0]
            return frame.drivers[0] == self.master
        return frame.valid and looks_like_request(frame.data[1:-2], self._previous_request)

    def add_frame(self, frame: RtuFrame) -> None:
        self.frames.append(frame)
        self.rtu.write(frame.start_ps, frame.data)
        self._ident += 1
        request = self._from_master(frame)
        unit = frame.data[0]
        slave = "slave " + ("(broadcast)" if unit == 0 else str(unit))
        direction = f"master->{slave}" if request else f"{slave}->master"
        if not frame.valid:
            self.invalid += 1
            why = ("damaged on the line" if frame.corrupted else
                   "silence over t1.5 inside" if frame.gap_error else
                   f"{len(frame.data)} bytes" if not 4 <= len(frame.data) <= 256 else "bad CRC")
            self._list(frame, direction, f"not a Modbus frame ({why})")
            src, dst = (MASTER_IP, slave_ip(254)) if request else (slave_ip(254), MASTER_IP)
            self.main.write(frame.start_ps, ipv4_packet(src, dst, IP_PROTO_EXPERIMENTAL,
                                                        frame.data, self._ident))
            return
        self.valid += 1
        pdu = frame.data[1:-2]
        self._list(frame, direction, describe(pdu, request))
        if request:
            self._tid = (self._tid + 1) & 0xFFFF
            tid = self._tid
            self._pending[unit] = tid
            src, sport, dst, dport = MASTER_IP, MASTER_PORT, slave_ip(unit), MODBUS_PORT
        else:
            tid = self._pending.pop(unit, None)
            if tid is None:                       # a response whose query was not seen
                self._tid = (self._tid + 1) & 0xFFFF
                tid = self._tid
            src, sport, dst, dport = slave_ip(unit), MODBUS_PORT, MASTER_IP, MASTER_PORT
        self._previous_request = pdu if request else None
        mbap = struct.pack("!HHHB", tid, 0, len(pdu) + 1, unit)
        udp = udp_datagram(src, sport, dst, dport, mbap + pdu)
        self.main.write(frame.start_ps, ipv4_packet(src, dst, IP_PROTO_UDP, udp, self._ident))

    def _list(self, frame: RtuFrame, direction: str, meaning: str) -> None:
        sec, ps = divmod(frame.start_ps, PS_PER_S)
        self.text.write(f"{sec}.{ps // PS_PER_NS:09d} s  {direction:<20} "
                        f"{frame.data.hex(' ')}  {meaning}\n")

    def flush(self) -> None:
        """Write a pending frame (call once the line has been idle) and flush the files."""
        self._splitter.flush()
        self.main.flush()
        self.rtu.flush()
        self.text.flush()

    def close(self) -> None:
        if not self.main.closed:
            self._splitter.flush()
        self.main.close()
        self.rtu.close()
        self.text.close()

    def __enter__(self) -> "ModbusPcap":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def default_rtu_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.rtu.pcap")


class RawPcap:
    """Raw bytes per line / burst with a DLT_USER link type (console text, other protocols)."""

    def __init__(self, path: str | Path, linktype: int = LINKTYPE_USER1, split_lines: bool = True,
                 idle_chars: float = 10.0, epoch_s: int = 0):
        if not idle_chars > 0:
            raise TraceError(f"idle_chars must be > 0, got {idle_chars!r}")
        self.path = Path(path)
        self.pcap = PcapWriter(self.path, linktype, epoch_s=epoch_s)
        self.chunks: list[Chunk] = []
        self._grouper = _Grouper(self._write, idle_chars, b"\n" if split_lines else b"")

    def feed(self, value: int, start_ps: int, end_ps: int, baud: float, driver: str = "",
             corrupted: bool = False) -> None:
        self._grouper.feed(value, start_ps, end_ps, baud, driver, corrupted)

    def _write(self, chunk: Chunk) -> None:
        self.chunks.append(chunk)
        self.pcap.write(chunk.start_ps, chunk.data)

    def flush(self) -> None:
        self._grouper.flush()
        self.pcap.flush()

    def close(self) -> None:
        if not self.pcap.closed:
            self._grouper.flush()
        self.pcap.close()

    def __enter__(self) -> "RawPcap":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def describe_dlt645(raw: bytes) -> str:
    """What a burst of DL/T645-2007 bytes is, for listings: 'read 02010100', 'reply 91 DI
    02010100 value 01 22', 'abnormal D1 SERR 02 (no requested data)', or why it is no frame."""
    from metersim._protocols.dlt645.errors import SERR_BITS, Dlt645FrameError
    from metersim._protocols.dlt645.framer import decode_frame
    try:
        f = decode_frame(raw)
    except Dlt645FrameError as e:
        return f"not a DL/T645 frame ({str(e).split(':')[0]})"
    di = f"{int.from_bytes(f.data[:4], 'little'):08X}" if len(f.data) >= 4 else ""
    if f.abnormal and f.data:
        names = [n for i, n in enumerate(SERR_BITS) if f.data[0] >> i & 1] or ["no bit set"]
        return f"abnormal {f.control:02X} SERR {f.data[0]:02X} ({', '.join(names)})"
    if f.from_meter:
        value = f" value {f.data[4:].hex(' ')}" if di and f.function in (0x11, 0x12) else ""
        return f"reply {f.control:02X} to {f.address_digits}" + (f" DI {di}{value}" if value else "")
    names = {0x08: "broadcast time", 0x11: "read", 0x12: "read follow-up", 0x13: "read address",
             0x14: "write", 0x15: "write address", 0x16: "freeze", 0x17: "change baud",
             0x18: "change password", 0x19: "clear demand", 0x1A: "clear meter",
             0x1B: "clear events", 0x1C: "relay control"}
    name = names.get(f.control, f"control {f.control:02X}")
    return f"{name} {di}".rstrip() if f.function in (0x11, 0x12, 0x14) else name


class Dlt645Pcap(RawPcap):
    """DL/T645 bursts on an RS-485 bus: raw records (DLT_USER0) in `path` and a listing in
    `<stem>.txt`, one line per burst: virtual time, driver, bytes, `describe_dlt645`."""

    def __init__(self, path: str | Path, idle_chars: float = 10.0, epoch_s: int = 0):
        super().__init__(path, LINKTYPE_USER0, split_lines=False, idle_chars=idle_chars,
                         epoch_s=epoch_s)
        self.listing_path = self.path.with_suffix(".txt")
        self._listing = open(self.listing_path, "w", encoding="utf-8")

    def _write(self, chunk: Chunk) -> None:
        super()._write(chunk)
        self._listing.write(f"{chunk.start_ps / PS_PER_S:.6f} {chunk.driver or '?'} "
                            f"{chunk.data.hex(' ')}  {describe_dlt645(chunk.data)}\n")

    def flush(self) -> None:
        super().flush()
        self._listing.flush()

    def close(self) -> None:
        super().close()
        if not self._listing.closed:
            self._listing.close()


# ------------------------------------------------------------------ hooking into the models
def _uart_of(machine_or_uart, name: str | None):
    if hasattr(machine_or_uart, "peripherals") and hasattr(machine_or_uart, "clock"):
        from metersim._orchestration.testers import console_uart_of
        return console_uart_of(machine_or_uart, name)[1]
    return machine_or_uart


def capture_uart_pcap(machine_or_uart, path: str | Path, protocol: str = "text",
                      uart: str | None = None, role: str | None = None,
                      baud: float = 115200.0, **kw):
    """Capture what a UART transmits into `path`, from now on.

    `machine_or_uart`: a Machine (its console UART, or the one named `uart`) or a UART model.
    `protocol`: "text" (DLT_USER1 records per line or idle burst) or "modbus" (see the module
    docstring: Modbus/UDP in `path`, raw RTU in `<stem>.rtu.pcap`, a listing in `<stem>.txt`;
    `role` says whether this UART is the "master" or the "slave"). UARTs with a timed transmit line (the STM32 USART:
    `tx` delivers `UartFrame`s) give exact character times; untimed ones (the console UART:
    only `on_byte`) are stamped when the byte is written and assume `baud` 8N1 characters.
    Returns the writer; call `close()` at the end (or use it as a context manager).
    """
    dev = _uart_of(machine_or_uart, uart)
    port = getattr(dev, "tx", None)
    timed = port is not None and hasattr(port, "connect")
    if not timed and not hasattr(dev, "on_byte"):
        raise TraceError(f"{dev!r} is not a UART: it has neither a `tx` port nor `on_byte` callbacks")
    ctx = getattr(dev, "ctx", None)
    if not timed and ctx is None:
        raise TraceError(f"{dev!r} has no ctx.clock: its bytes cannot be timed")
    if protocol == "modbus":
        writer = ModbusPcap(path, role=role, **kw)
    elif protocol == "text":
        if role is not None:
            raise TraceError("role only applies to protocol='modbus'")
        writer = RawPcap(path, LINKTYPE_USER1, **kw)
    else:
        raise TraceError(f"protocol must be 'text' or 'modbus', got {protocol!r}")
    if timed:
        port.connect(lambda f: writer.feed(f.value, f.start_ps, f.end_ps, f.baud,
                                           corrupted=f.corrupted or f.is_break))
    else:
        char_ps = char_time_ps(baud)

        def on_byte(value: int) -> None:
            now = ctx.clock.now_ps
            writer.feed(value, now, now + char_ps, baud)

        dev.on_byte.append(on_byte)
    return writer


def capture_rs485_pcap(bus, path: str | Path, protocol: str = "modbus", master: str | None = None,
                       **kw):
    """Capture every frame on an `Rs485Bus` (its tap) into `path`, from now on.

    "modbus": Modbus/UDP in `path` + raw RTU in `<stem>.rtu.pcap` + the text listing
    `<stem>.txt`; requests are the frames driven by `master` (default: whoever drives the first valid ADU). "raw": DLT_USER0 records
    per burst of one driver (ended by a change of driver or `idle_chars`, default 10, character
    times of silence; for anything). "dlt645": the raw records and a listing `<stem>.txt` that
    decodes each DL/T645-2007 frame (`describe_dlt645`). Returns the writer; `close()` it.
    """
    if not hasattr(bus, "on_tap"):
        raise TraceError(f"{bus!r} is not an RS-485 bus (no on_tap)")
    if protocol == "modbus":
        writer = ModbusPcap(path, master=master, **kw)
    elif protocol == "raw":
        writer = RawPcap(path, LINKTYPE_USER0, split_lines=False, **kw)
    elif protocol == "dlt645":
        writer = Dlt645Pcap(path, **kw)
    else:
        raise TraceError(f"protocol must be 'modbus', 'raw' or 'dlt645', got {protocol!r}")
    bus.on_tap(lambda r: writer.feed(r.value, r.start_ps, r.end_ps, r.frame.baud, r.driver,
                                     r.corrupted or r.framing_error))
    return writer
