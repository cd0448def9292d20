"""A Modbus RTU master on the emulated RS-485 bus (a host endpoint), waiting in virtual time.

    master = ModbusMaster(emu, board.bus)
    master.room(0).energy_Wh                 # one 04 request, decoded per docs/modbus_map.md
    master.top_up(2, 500)                    # 16 to the room's top-up registers
    master.raw(b"\\x01\\x03...")              # any bytes, replies collected (malformed-frame tests)

Followed (Modbus over Serial Line v1.02, §2.5.1.1; reference/protocols-and-chips.md §2.1):
ADU = address | function | data | CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF, low
byte first). A frame ends after 3.5 character times of silence (fixed 1.75 ms above 19200
baud); a gap of more than 1.5 characters inside a frame makes it incomplete, and the master
discards it (counted in `gap_errors`). Before sending, the master leaves the line silent for
3.5 characters after the last traffic it heard. Broadcast (address 0) expects no reply; the
master waits the turnaround delay instead. Exception replies (function | 0x80, code) raise
`ModbusException` with the code; no reply within `timeout` raises `ModbusTimeout`.

Register decoding follows docs/modbus_map.md (input registers: device block 0x0000, rooms at
0x1000 + 0x20 r; holding: device settings 0x0000, rooms 0x2000 + 0x20 r, calibration 0x3000;
u32/s32 high word first).
"""

from __future__ import annotations

from dataclasses import dataclass

from metersim.errors import EmulationTimeout, MetersimError
from metersim.units import PS_PER_MS, PS_PER_S, parse_time_ps

ROOM_INPUT_BASE = 0x1000
ROOM_HOLDING_BASE = 0x2000
ROOM_STRIDE = 0x20
STATUS_BITS = ("relay_closed", "tripped", "alarm1", "alarm2", "locked_out", "schedule_off",
               "illegal_load_seen")
TRIP_REASONS = {0: "none", 1: "balance", 2: "load limit", 3: "overload", 4: "over-current",
                5: "malicious load", 6: "schedule", 7: "remote"}
EXCEPTION_NAMES = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
                   4: "slave device failure"}


class ModbusError(MetersimError):
    """A Modbus exchange went wrong."""


class ModbusTimeout(ModbusError):
    """No (valid) reply in time."""


class ModbusException(ModbusError):
    """The slave answered with an exception reply."""

    def __init__(self, function: int, code: int):
        self.function, self.code = function, code
        super().__init__(f"exception reply to function {function:#04x}: code {code} "
                         f"({EXCEPTION_NAMES.get(code, 'unknown')})")


def crc16(data: bytes) -> int:
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def adu(address: int, pdu: bytes) -> bytes:
    """Address + PDU + CRC (low byte first)."""
    body = bytes([address & 0xFF]) + bytes(pdu)
    return body + crc16(body).to_bytes(2, "little")


def crc_ok(frame: bytes) -> bool:
    return len(frame) >= 4 and crc16(frame[:-2]) == int.from_bytes(frame[-2:], "little")


def u32(regs, i: int = 0) -> int:
    return (regs[i] << 16) | regs[i + 1]


def s32(regs, i: int = 0) -> int:
    v = u32(regs, i)
    return v - (1 << 32) if v & 0x80000000 else v


def s16(v: int) -> int:
    return v - 0x10000 if v & 0x8000 else v


def words32(value: int) -> list[int]:
    value &= 0xFFFFFFFF
    return [value >> 16, value & 0xFFFF]


@dataclass(frozen=True)
class RoomReading:
    """The 16 input registers of one room (docs/modbus_map.md, 0x1000 + 0x20 r)."""

    room: int
    status: int
    trip_reason: int
    voltage_V: float
    current_A: float
    power_W: float
    power_factor: float
    frequency_Hz: float
    energy_Wh: int
    cost_cents: int
    balance_cents: int
    trips: int
    reclose_left: int

    @classmethod
    def decode(cls, room: int, r: list[int]) -> "RoomReading":
        return cls(room, r[0], r[1], r[2] / 100, r[3] / 1000, s32(r, 4) / 10, s16(r[6]) / 1000,
                   r[7] / 100, u32(r, 8), u32(r, 10), s32(r, 12), r[14], r[15])

    def flag(self, name: str) -> bool:
        return bool(self.status >> STATUS_BITS.index(name) & 1)

    @property
    def relay_closed(self) -> bool:
        return self.flag("relay_closed")

    @property
    def tripped(self) -> bool:
        return self.flag("tripped")

    @property
    def trip_reason_name(self) -> str:
        return TRIP_REASONS.get(self.trip_reason, f"unknown ({self.trip_reason})")


class ModbusMaster:
    """Master on `bus` at `baud` (8N1 unless told); requests run the emulation until answered."""

    def __init__(self, emu, bus, baud: int = 9600, parity: str = "N", stop_bits: int = 1,
                 name: str = "master", default_address: int = 1, timeout: str = "1s"):
        self.emu = emu
        self.clock = emu.clock
        self.ep = bus.attach_host(name, baud=baud, parity=parity, stop_half_bits=2 * stop_bits)
        self.ep.on_receive(self._byte)
        bits = 1 + 8 + (parity != "N") + stop_bits
        self.char_ps = bits * PS_PER_S // baud
        if baud > 19200:
            self.t35_ps, self.t15_ps = 1750 * PS_PER_MS // 1000, 750 * PS_PER_MS // 1000
        else:
            self.t35_ps, self.t15_ps = self.char_ps * 7 // 2, self.char_ps * 3 // 2
        self.default_address = default_address
        self.timeout = timeout
        self.frames: list[tuple[int, bytes]] = []     # (end_ps, bytes) of every frame heard
        self.gap_errors = 0
        self._buf = bytearray()
        self._gap_bad = False
        self._last_rx_ps = -1
        self._timer = None
        self._tx_end_ps = -1
        self.requests = 0

    # -- reception: frames delimited by 3.5 characters of silence ----------------------------
    def _byte(self, value: int, frame) -> None:
        end = frame.end_ps
        if self._buf and end - self._last_rx_ps > self.char_ps + self.t15_ps:
            self._gap_bad = True
        self._buf.append(value)
        self._last_rx_ps = end
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.clock.schedule_at(end + self.t35_ps, self._frame_end)

    def _frame_end(self) -> None:
        self._timer = None
        data, self._buf = bytes(self._buf), bytearray()
        if self._gap_bad:
            self.gap_errors += 1
            self._gap_bad = False
            return
        self.frames.append((self.clock.now_ps, data))

    def _quiet_line(self) -> None:
        """Leave 3.5 characters of silence after the last traffic before sending."""
        free = max(self._last_rx_ps, self._tx_end_ps) + self.t35_ps
        if free > self.clock.now_ps:
            self.emu.run_until_time(free)

    # -- raw exchanges -------------------------------------------------------------------------
    def raw(self, data: bytes, window: str = "200ms") -> list[bytes]:
        """Send `data` as is, run `window` of virtual time, return the frames heard meanwhile."""
        self._quiet_line()
        n0 = len(self.frames)
        self._tx_end_ps = self.ep.send(bytes(data))
        self.emu.run_for(window)
        return [f for _, f in self.frames[n0:]]

    def raw_with_silences(self, parts: list[bytes], silences_ps: list[int],
                          window: str = "200ms") -> list[bytes]:
        """Send `parts` one after another with `silences_ps[i]` of idle line between part i
        and i + 1 (to probe a slave's frame delimiting), run `window`, return the frames heard."""
        if len(silences_ps) != len(parts) - 1 or any(s < 0 for s in silences_ps):
            raise ValueError(f"{len(parts)} parts need {len(parts) - 1} silences >= 0, "
                             f"got {silences_ps}")
        self._quiet_line()
        n0 = len(self.frames)
        end = self.ep.send(bytes(parts[0]))
        for part, silence in zip(parts[1:], silences_ps):
            self.emu.run_until_time(end + silence)
            end = self.ep.send(bytes(part))
        self._tx_end_ps = end
        self.emu.run_for(window)
        return [f for _, f in self.frames[n0:]]

    def transact(self, pdu: bytes, address: int | None = None, timeout: str | None = None) -> bytes | None:
        """Send a request PDU, return the reply PDU (None for broadcast)."""
        address = self.default_address if address is None else address
        self._quiet_line()
        n0 = len(self.frames)
        end_ps = self._tx_end_ps = self.ep.send(adu(address, pdu))
        self.requests += 1
        if address == 0:
            self.emu.run_until_time(end_ps + 100 * PS_PER_MS)   # turnaround delay
            return None
        limit = timeout or self.timeout
        self.emu.run_until_time(end_ps)

        def answered() -> bool:
            return any(self._matches(f, address) for _, f in self.frames[n0:])

        try:
            self.emu.run_until(answered, limit, "Modbus reply")   # a time string: virtual time
        except EmulationTimeout:
            heard = [f.hex(" ") for _, f in self.frames[n0:]]
            raise ModbusTimeout(f"no valid reply from slave {address} to {pdu.hex(' ')} within "
                                f"{timeout or self.timeout} of virtual time; frames heard: "
                                f"{heard or 'none'}") from None
        reply = next(f for _, f in self.frames[n0:] if self._matches(f, address))
        func = reply[1]
        if func == pdu[0] | 0x80:
            raise ModbusException(pdu[0], reply[2])
        if func != pdu[0]:
            raise ModbusError(f"reply function {func:#04x} to request {pdu[0]:#04x}")
        return reply[1:-2]

    @staticmethod
    def _matches(frame: bytes, address: int) -> bool:
        return len(frame) >= 4 and frame[0] == address and crc_ok(frame)

    # -- standard functions -----------------------------------------------------------------
    def _read(self, func: int, addr: int, count: int, address: int | None) -> list[int]:
        if not 1 <= count <= 125:
            raise ModbusError(f"register count must be 1..125, got {count}")
        r = self.transact(bytes([func]) + addr.to_bytes(2, "big") + count.to_bytes(2, "big"), address)
        if r[1] != 2 * count or len(r) != 2 + 2 * count:
            raise ModbusError(f"reply to {func:#04x} carries {r[1]} bytes, expected {2 * count}")
        return [int.from_bytes(r[2 + 2 * i:4 + 2 * i], "big") for i in range(count)]

    def read_input(self, addr: int, count: int = 1, address: int | None = None) -> list[int]:
        return self._read(4, addr, count, address)

    def read_holding(self, addr: int, count: int = 1, address: int | None = None) -> list[int]:
        return self._read(3, addr, count, address)

    def write_single(self, addr: int, value: int, address: int | None = None) -> None:
        pdu = bytes([6]) + addr.to_bytes(2, "big") + (value & 0xFFFF).to_bytes(2, "big")
        r = self.transact(pdu, address)
        if r is not None and r != pdu:
            raise ModbusError(f"write single echo {r.hex(' ')} differs from the request")

    def write_multiple(self, addr: int, values: list[int], address: int | None = None) -> None:
        values = [v & 0xFFFF for v in values]
        pdu = (bytes([16]) + addr.to_bytes(2, "big") + len(values).to_bytes(2, "big")
               + bytes([2 * len(values)]) + b"".join(v.to_bytes(2, "big") for v in values))
        r = self.transact(pdu, address)
        if r is not None and r != pdu[:5]:
            raise ModbusError(f"write multiple reply {r.hex(' ')} differs from the request header")

    # -- the metering controller's map -----------------------------------------------------------
    def room(self, room: int, address: int | None = None) -> RoomReading:
        return RoomReading.decode(room, self.read_input(ROOM_INPUT_BASE + ROOM_STRIDE * room, 16, address))

    def room_energy_Wh(self, room: int, address: int | None = None) -> int:
        return u32(self.read_input(ROOM_INPUT_BASE + ROOM_STRIDE * room + 8, 2, address))

    def room_balance_cents(self, room: int, address: int | None = None) -> int:
        return s32(self.read_input(ROOM_INPUT_BASE + ROOM_STRIDE * room + 0x0C, 2, address))

    def device_info(self, address: int | None = None) -> dict:
        r = self.read_input(0, 13, address)
        return {"version": (r[0] >> 8, r[0] & 0xFF), "channels": r[1], "uptime_s": u32(r, 2),
                "rtc": tuple(r[4:10]), "power_failures": r[10], "events": r[11], "crc_errors": r[12]}

    def top_up(self, room: int, cents: int, address: int | None = None) -> None:
        self.write_multiple(ROOM_HOLDING_BASE + ROOM_STRIDE * room + 1, words32(cents), address)

    def relay_command(self, room: int, command: int, address: int | None = None) -> None:
        """0 open, 1 close (if allowed), 2 reset lock-out."""
        self.write_single(ROOM_HOLDING_BASE + ROOM_STRIDE * room, command, address)

    def set_room(self, room: int, address: int | None = None, *, alarm1_cents: int | None = None,
                 alarm2_cents: int | None = None, overdraft_cents: int | None = None,
                 load_limit_W: int | None = None, overload_delay_s: int | None = None,
                 overcurrent_cA: int | None = None, reclose_delay_s: int | None = None,
                 reclose_attempts: int | None = None, schedule_off_min: int | None = None,
                 schedule_on_min: int | None = None, malicious_detect: bool | None = None) -> None:
        """Write the given room settings (one request per field)."""
        base = ROOM_HOLDING_BASE + ROOM_STRIDE * room
        for off, value, wide in ((3, alarm1_cents, True), (5, alarm2_cents, True),
                                 (7, overdraft_cents, True), (9, load_limit_W, True),
                                 (0x0B, overload_delay_s, False), (0x0C, overcurrent_cA, False),
                                 (0x0D, reclose_delay_s, False), (0x0E, reclose_attempts, False),
                                 (0x0F, schedule_off_min, False), (0x10, schedule_on_min, False),
                                 (0x11, None if malicious_detect is None else int(malicious_detect), False)):
            if value is None:
                continue
            if wide:
                self.write_multiple(base + off, words32(value), address)
            else:
                self.write_single(base + off, value, address)

    def set_flat_price(self, cents_per_kWh: int, address: int | None = None) -> None:
        self.write_single(0x0008, cents_per_kWh, address)

    def set_clock(self, year: int, month: int, day: int, hour: int, minute: int, second: int,
                  address: int | None = None) -> None:
        self.write_multiple(0x0002, [year, month, day, hour, minute, second], address)

    def set_slave_address(self, new_address: int, address: int | None = None) -> None:
        self.write_single(0x0000, new_address, address)
