"""A Modbus RTU master on the emulated RS-485 bus (a host endpoint), waiting in virtual time.

    master = ModbusMaster(emu, board.bus)
    master.room(0).energy_Wh                 # one 04 request, decoded by the register table
    master.top_up(2, 500)                    # 16 to the room's top-up amount and token
    master.raw(b"\\x01\\x03...")              # any bytes, replies collected (malformed-frame tests)

Built on the layers of `metersim._protocols.modbus`: the transport link sends and receives
timed characters, the RTU splitter cuts them into frames (t3.5 silence; a frame with a
silence of more than t1.5 inside is discarded and counted in `gap_errors`), the PDU codec
builds requests and checks replies, and the register table (docs/modbus_map.md) decodes them.
Before sending, the master leaves the line silent for t3.5 after the last traffic it heard or
sent. Broadcast (address 0) expects no reply; the master waits the turnaround delay instead.
Exception replies raise `ModbusException` with the code; no reply within `timeout` raises
`ModbusTimeout`.
"""

from __future__ import annotations

from dataclasses import dataclass

from metersim._errors import EmulationTimeout
from metersim._protocols.modbus import pdu as codec
from metersim._protocols.modbus.errors import ModbusError, ModbusTimeout
from metersim._protocols.modbus.framer import RtuFrame, RtuSplitter, encode_adu, rtu_timing
from metersim._protocols.modbus.registers import (DEVICE_INFO, DEVICE_SETTINGS, ROOM_MEASUREMENTS,
                                                 ROOM_SETTINGS, STATUS_BITS, TRIP_REASONS)
from metersim._protocols.modbus.transport import BusLink, SerialFormat
from metersim._units import PS_PER_MS

TURNAROUND_PS = 100 * PS_PER_MS
FACTORY_WRITE_KEY = 0x12345678    # the controller's write-enable key as it leaves the factory


@dataclass(frozen=True)
class RoomReading:
    """The input registers of one room (ROOM_MEASUREMENTS, 0x1000 + 0x20 r), in units."""

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
        fmt = SerialFormat(baud, parity, stop_bits)
        self.link = BusLink(bus, name, fmt)
        self.timing = rtu_timing(fmt.char_ps, baud)
        self.default_address = default_address
        self.timeout = timeout
        self.frames: list[RtuFrame] = []     # every frame heard without an inner gap
        self.gap_errors = 0
        self.requests = 0
        self._splitter = RtuSplitter(self._frame)
        self._timer = None
        self._tx_end_ps = -1
        self._rx_end_ps = -1
        self.link.on_char(self._char)

    def close(self) -> None:
        """Take the master off the bus (a setup master once the scenario's own master takes
        over): it no longer hears, splits or times every character on the line."""
        self.link.close()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- reception ------------------------------------------------------------------------------
    def _char(self, ch) -> None:
        self._rx_end_ps = ch.end_ps
        self._splitter.feed(ch)
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.clock.schedule_at(self._splitter.idle_deadline_ps(), self._idle)

    def _idle(self) -> None:
        self._timer = None
        self._splitter.flush_if_idle(self.clock.now_ps)

    def _frame(self, frame: RtuFrame) -> None:
        if frame.gap_error:
            self.gap_errors += 1
        else:
            self.frames.append(frame)

    def _quiet_line(self) -> None:
        """Leave t3.5 of silence after the last traffic before sending."""
        free = max(self._rx_end_ps, self._tx_end_ps) + self.timing.t35_ps
        if free > self.clock.now_ps:
            self.emu.run_until_time(free)

    # -- raw exchanges -------------------------------------------------------------------------
    def raw(self, data: bytes, window: str = "200ms") -> list[bytes]:
        """Send `data` as is, run `window` of virtual time, return the frames heard meanwhile."""
        return self.raw_with_silences([data], [], window)

    def raw_with_silences(self, parts: list[bytes], silences_ps: list[int],
                          window: str = "200ms") -> list[bytes]:
        """Send `parts` one after another with `silences_ps[i]` of idle line between part i
        and i + 1 (to probe a slave's frame delimiting), run `window`, return the frames heard."""
        if len(silences_ps) != len(parts) - 1 or any(s < 0 for s in silences_ps):
            raise ValueError(f"{len(parts)} parts need {len(parts) - 1} silences >= 0, "
                             f"got {silences_ps}")
        self._quiet_line()
        n0 = len(self.frames)
        end = self.link.send(bytes(parts[0]))
        for part, silence in zip(parts[1:], silences_ps):
            self.emu.run_until_time(end + silence)
            end = self.link.send(bytes(part))
        self._tx_end_ps = end
        self.emu.run_for(window)
        return [f.data for f in self.frames[n0:]]

    def transact(self, pdu: bytes, address: int | None = None, timeout: str | None = None) -> bytes | None:
        """Send a request PDU, return the reply PDU (None for broadcast)."""
        address = self.default_address if address is None else address
        adu = encode_adu(address, pdu)
        self._quiet_line()
        n0 = len(self.frames)
        end_ps = self._tx_end_ps = self.link.send(adu)
        self.requests += 1
        if address == 0:
            self.emu.run_until_time(end_ps + TURNAROUND_PS)
            return None
        limit = timeout or self.timeout
        self.emu.run_until_time(end_ps)

        def reply() -> RtuFrame | None:
            return next((f for f in self.frames[n0:] if f.valid and f.data[0] == address), None)

        try:
            self.emu.run_until(lambda: reply() is not None, limit, "Modbus reply")   # virtual time
        except EmulationTimeout:
            heard = [f.data.hex(" ") for f in self.frames[n0:]]
            raise ModbusTimeout(f"no valid reply from slave {address} to {bytes(pdu).hex(' ')} "
                                f"within {limit} of virtual time; frames heard: "
                                f"{heard or 'none'}") from None
        answer = reply().data[1:-2]
        codec.check_reply_function(pdu, answer)
        return answer

    # -- standard functions -----------------------------------------------------------------
    def _exchange(self, request: bytes, address: int | None):
        reply = self.transact(request, address)
        return None if reply is None else codec.parse_reply(request, reply)

    def read_input(self, addr: int, count: int = 1, address: int | None = None) -> list[int]:
        return self._exchange(codec.read_request(codec.READ_INPUT, addr, count), address)

    def read_holding(self, addr: int, count: int = 1, address: int | None = None) -> list[int]:
        return self._exchange(codec.read_request(codec.READ_HOLDING, addr, count), address)

    def write_single(self, addr: int, value: int, address: int | None = None) -> None:
        self._exchange(codec.write_single_request(addr, value & 0xFFFF), address)

    def write_multiple(self, addr: int, values: list[int], address: int | None = None) -> None:
        self._exchange(codec.write_multiple_request(addr, [v & 0xFFFF for v in values]), address)

    # -- the metering controller's map -----------------------------------------------------------
    def _read_field(self, block, index: int, key: str, address: int | None):
        f = block.field(key)
        return f.decode(self.read_input(block.address(index, key), f.words, address))

    def _write_field(self, block, index: int, key: str, value: int, address: int | None) -> None:
        f = block.field(key)
        regs = f.encode(value)
        if f.words == 1:
            self.write_single(block.address(index, key), regs[0], address)
        else:
            self.write_multiple(block.address(index, key), regs, address)

    def room(self, room: int, address: int | None = None) -> RoomReading:
        b = ROOM_MEASUREMENTS
        return RoomReading(room, **b.decode(self.read_input(b.address(room), b.size, address)))

    def room_energy_Wh(self, room: int, address: int | None = None) -> int:
        return self._read_field(ROOM_MEASUREMENTS, room, "energy_Wh", address)

    def room_balance_cents(self, room: int, address: int | None = None) -> int:
        return self._read_field(ROOM_MEASUREMENTS, room, "balance_cents", address)

    def device_info(self, address: int | None = None) -> dict:
        b = DEVICE_INFO
        v = b.decode(self.read_input(b.address(), b.size, address))
        rtc = tuple(v.pop(k) for k in ("rtc_year", "rtc_month", "rtc_day", "rtc_hour",
                                       "rtc_minute", "rtc_second"))
        version = v.pop("version")
        return {"version": (version >> 8, version & 0xFF), **v, "rtc": rtc}

    def top_up_token(self, room: int, address: int | None = None) -> int:
        """The token of the room's last applied top-up (0: none yet)."""
        b = ROOM_SETTINGS
        return b.field("top_up_token").decode(self.read_holding(b.address(room, "top_up_token"), 1,
                                                                address))

    def top_up(self, room: int, cents: int, address: int | None = None,
               token: int | None = None) -> int:
        """Add `cents` of credit to the room: amount and token with one function 16 (room
        settings +0x12..+0x14, docs/modbus_map.md, "Top-up tokens"). Without `token` the room's
        last applied token is read first and the next one is used, so every call is a new
        top-up, as the query manager does; pass a token to repeat a write (the controller
        answers it again but applies it once). Returns the token written."""
        b = ROOM_SETTINGS
        if token is None:
            if address == 0:
                raise ModbusError("a broadcast top-up cannot read the rooms' last tokens: give "
                                  "token=")
            token = self.top_up_token(room, address) % 0xFFFF + 1     # 1..65535, never 0
        regs = b.field("top_up_cents").encode(cents) + b.field("top_up_token").encode(token)
        self.write_multiple(b.address(room, "top_up_cents"), regs, address)
        return token

    def relay_command(self, room: int, command: int, address: int | None = None) -> None:
        """0 open, 1 close (if allowed), 2 reset lock-out."""
        self._write_field(ROOM_SETTINGS, room, "relay_command", command, address)

    def set_room(self, room: int, address: int | None = None, *, alarm1_cents: int | None = None,
                 alarm2_cents: int | None = None, overdraft_cents: int | None = None,
                 load_limit_W: int | None = None, overload_delay_s: int | None = None,
                 overcurrent_cA: int | None = None, reclose_delay_s: int | None = None,
                 reclose_attempts: int | None = None, schedule_off_min: int | None = None,
                 schedule_on_min: int | None = None, malicious_detect: bool | None = None) -> None:
        """Write the given room settings (one request per field, in register order)."""
        given = {k: v for k, v in locals().items()
                 if k not in ("self", "room", "address") and v is not None}
        for f in ROOM_SETTINGS.fields:
            if f.key in given:
                self._write_field(ROOM_SETTINGS, room, f.key, int(given[f.key]), address)

    def set_flat_price(self, cents_per_kWh: int, address: int | None = None) -> None:
        self._write_field(DEVICE_SETTINGS, 0, "flat_price", cents_per_kWh, address)

    def set_clock(self, year: int, month: int, day: int, hour: int, minute: int, second: int,
                  address: int | None = None) -> None:
        self.write_multiple(DEVICE_SETTINGS.address(0, "clock"),
                            [year, month, day, hour, minute, second], address)

    def write_enable(self, key: int = FACTORY_WRITE_KEY, address: int | None = None) -> None:
        """Open the controller's setting writes for 300 s (docs/modbus_map.md, "Write enable")."""
        self._write_field(DEVICE_SETTINGS, 0, "write_enable", key, address)

    def set_slave_address(self, new_address: int, address: int | None = None,
                          key: int = FACTORY_WRITE_KEY) -> None:
        """The installer's step: write enable with `key`, then the new address."""
        self.write_enable(key, address)
        self._write_field(DEVICE_SETTINGS, 0, "slave_address", new_address, address)
