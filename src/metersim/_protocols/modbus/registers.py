"""The metering controller's Modbus register map as data: the single source of the tables in
docs/modbus_map.md (rewrite them with `python -m metersim._protocols.modbus.registers
docs/modbus_map.md`; a test checks the doc is up to date) and of the master's decoding.

A `Block` is a run of registers in one table (input or holding) at `base`, repeated every
`stride` registers per room or channel (stride 0: one block). A `Field` is one value in it:
offset, width in registers (2 = 32 bits, high word first), signedness and the divisor that
turns the raw integer into the unit named in its key (`voltage_V` = raw / 100).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from metersim._protocols.modbus.errors import ModbusError

STATUS_BITS = ("relay_closed", "tripped", "alarm1", "alarm2", "locked_out", "schedule_off",
               "illegal_load_seen")
TRIP_REASONS = {0: "none", 1: "balance", 2: "load limit", 3: "overload", 4: "over-current",
                5: "malicious load", 6: "schedule", 7: "remote"}
EVENT_TYPES = {1: "trip", 2: "alarm 1", 3: "alarm 2", 4: "top-up", 5: "power failure",
               6: "clock change", 7: "illegal load", 8: "reclose", 9: "lock-out reset",
               10: "watchdog reset"}
BAUD_CODES = {0: 2400, 1: 4800, 2: 9600, 3: 19200, 4: 38400}


def _enum(d: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in d.items())


@dataclass(frozen=True)
class Field:
    offset: int
    key: str
    name: str
    notes: str = ""
    words: int = 1
    signed: bool = False
    divisor: int = 1

    @property
    def type(self) -> str:
        if self.words > 2:
            return f"u16 x {self.words}"
        return ("s" if self.signed else "u") + ("32" if self.words == 2 else "16")

    def decode(self, regs: list[int]):
        if self.words > 2:
            return list(regs)
        raw = regs[0] if self.words == 1 else (regs[0] << 16) | regs[1]
        bits = 16 * self.words
        if self.signed and raw >> (bits - 1):
            raw -= 1 << bits
        return raw if self.divisor == 1 else raw / self.divisor

    def encode(self, value: int) -> list[int]:
        """Raw integer `value` as this field's registers (high word first)."""
        bits = 16 * min(self.words, 2)
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if self.signed else (0, (1 << bits) - 1)
        if self.words > 2 or not isinstance(value, int) or not lo <= value <= hi:
            raise ModbusError(f"{self.key} takes a {self.type} integer ({lo}..{hi}), got {value!r}")
        value &= (1 << bits) - 1
        return [value >> 16, value & 0xFFFF] if self.words == 2 else [value]


@dataclass(frozen=True)
class Block:
    key: str
    table: str                  # "input" or "holding"
    title: str
    base: int
    fields: tuple[Field, ...]
    stride: int = 0             # registers per room / channel; 0 = a single block
    per: str = ""               # "room" or "channel" when stride != 0

    @property
    def size(self) -> int:
        last = self.fields[-1]
        return last.offset + last.words

    def field(self, key: str) -> Field:
        for f in self.fields:
            if f.key == key:
                return f
        raise ModbusError(f"{self.title} has no field {key!r} (fields: "
                          f"{', '.join(f.key for f in self.fields)})")

    def address(self, index: int = 0, key: str | None = None) -> int:
        """Register address of the block for room/channel `index` (or of its field `key`)."""
        if self.stride == 0 and index != 0:
            raise ModbusError(f"{self.title} is a single block, not one per room: index {index}")
        if not isinstance(index, int) or not 0 <= index < 32:
            raise ModbusError(f"{self.per or 'index'} must be 0..31, got {index!r}")
        return self.base + self.stride * index + (0 if key is None else self.field(key).offset)

    def decode(self, regs: list[int]) -> dict:
        """Values by key from the block's `size` registers."""
        if len(regs) != self.size:
            raise ModbusError(f"{self.title} is {self.size} registers, got {len(regs)}")
        return {f.key: f.decode(regs[f.offset:f.offset + f.words]) for f in self.fields}

    def markdown(self) -> str:
        col = "addr" if self.stride == 0 else "off"
        rows = [f"| {col} | name | type | unit / notes |", "|---|---|---|---|"]
        for f in self.fields:
            at = f"0x{self.base + f.offset:04X}" if self.stride == 0 else f"+0x{f.offset:02X}"
            rows.append(f"| {at} | {f.name} | {f.type} | {f.notes} |")
        return "\n".join(rows)


F = Field
DEVICE_INFO = Block("device_info", "input", "Device", 0x0000, (
    F(0x00, "version", "firmware version", "major<<8 \\| minor"),
    F(0x01, "channels", "channels", "count"),
    F(0x02, "uptime_s", "uptime", "s", words=2),
    F(0x04, "rtc_year", "RTC year"), F(0x05, "rtc_month", "RTC month"),
    F(0x06, "rtc_day", "RTC day"), F(0x07, "rtc_hour", "RTC hour"),
    F(0x08, "rtc_minute", "RTC minute"), F(0x09, "rtc_second", "RTC second"),
    F(0x0A, "power_failures", "power failures survived", "count"),
    F(0x0B, "events", "event log entries", "count"),
    F(0x0C, "crc_errors", "CRC errors seen", "count"),
    F(0x0D, "watchdog_resets", "watchdog resets", "count")))
ROOM_MEASUREMENTS = Block("room_measurements", "input", "Room measurements", 0x1000, (
    F(0x00, "status", "status", "bit " + ", ".join(f"{i} {n.replace('_', ' ')}"
                                                      for i, n in enumerate(STATUS_BITS))),
    F(0x01, "trip_reason", "last trip reason", _enum(TRIP_REASONS)),
    F(0x02, "voltage_V", "voltage", "0.01 V", divisor=100),
    F(0x03, "current_A", "current", "0.001 A", divisor=1000),
    F(0x04, "power_W", "active power", "0.1 W", words=2, signed=True, divisor=10),
    F(0x06, "power_factor", "power factor", "0.001", signed=True, divisor=1000),
    F(0x07, "frequency_Hz", "frequency", "0.01 Hz", divisor=100),
    F(0x08, "energy_Wh", "energy total", "Wh (0.001 kWh)", words=2),
    F(0x0A, "cost_cents", "cost total", "cents", words=2),
    F(0x0C, "balance_cents", "balance", "cents", words=2, signed=True),
    F(0x0E, "trips", "trips", "count"),
    F(0x0F, "reclose_left", "reclose attempts left", "count")), stride=0x20, per="room")
DAILY_RECORD = Block("daily_record", "input", "Daily record", 0x0800, (
    F(0x00, "valid", "valid", "1 valid, 0 empty"),
    F(0x01, "year", "year"), F(0x02, "month", "month"), F(0x03, "day", "day"),
    F(0x04, "energy_Wh", "energy that day", "Wh", words=2),
    F(0x06, "cost_cents", "cost that day", "cents", words=2)))
EVENT_ENTRY = Block("event_entry", "input", "Event log entry", 0x0900, (
    F(0x00, "valid", "valid", "1 valid, 0 empty"),
    F(0x01, "type", "type", _enum(EVENT_TYPES)),
    F(0x02, "room", "room", "0xFFFF = device"),
    F(0x03, "time", "time", "unix time, s", words=2),
    F(0x05, "value", "value", "trip reason, amount, ...", words=2, signed=True)))

DEVICE_SETTINGS = Block("device_settings", "holding", "Device settings", 0x0000, (
    F(0x00, "slave_address", "slave address", "1..247"),
    F(0x01, "baud_code", "baud code", ", ".join(f"{k} = {v}" for k, v in BAUD_CODES.items())),
    F(0x02, "clock", "clock: year, month, day, hour, minute, second",
      "all six with one 16 set the RTC; broadcast allowed (clock sync)", words=6),
    F(0x08, "flat_price", "flat price", "cents per kWh"),
    F(0x09, "tariff_mode", "tariff mode", "0 flat, 1 time-of-use"),
    F(0x0A, "tou_prices", "TOU prices: sharp, peak, flat, valley", "cents per kWh", words=4),
    F(0x10, "tou_periods", "TOU periods: 8 x (start minute of day, price index 0..3)",
      "sorted by start", words=16),
    F(0x100, "record_room", "record room", "selects the daily-record window"),
    F(0x101, "record_day", "record day", "0 = yesterday ... 59"),
    F(0x110, "event_index", "event index", "selects the event-log entry, 0 = newest"),
    F(0x120, "write_enable", "write enable", "write the key whole with 16: setting writes open for 300 s; reads 0", words=2),
    F(0x122, "write_enable_left_s", "write enable left", "s the writes stay open (0 closed); write 0 to close"),
    F(0x123, "write_enable_key", "write-enable key", "a new key (never 0), whole with 16, while open; reads 0",
      words=2),
    F(0x125, "write_protect_scope", "write-protection scope", "0 installer settings, 1 every setting; while open")))
ROOM_SETTINGS = Block("room_settings", "holding", "Room settings", 0x2000, (
    F(0x00, "relay_command", "relay command", "write 0 open, 1 close (if allowed), 2 reset lock-out"),
    F(0x01, "reserved_top_up", "reserved", "the top-up before tokens (+0x12): reads 0, a write is "
      "exception 02", words=2),
    F(0x03, "alarm1_cents", "alarm threshold 1", "cents", words=2),
    F(0x05, "alarm2_cents", "alarm threshold 2", "cents (lower than 1)", words=2),
    F(0x07, "overdraft_cents", "overdraft limit", "cents (trip when balance < -limit)", words=2),
    F(0x09, "load_limit_W", "load limit", "W (0 = off)", words=2),
    F(0x0B, "overload_delay_s", "overload delay", "s"),
    F(0x0C, "overcurrent_cA", "over-current limit", "0.01 A"),
    F(0x0D, "reclose_delay_s", "reclose delay", "s"),
    F(0x0E, "reclose_attempts", "reclose attempts", "count before lock-out"),
    F(0x0F, "schedule_off_min", "schedule off", "minute of day, 0xFFFF = none"),
    F(0x10, "schedule_on_min", "schedule on", "minute of day, 0xFFFF = none"),
    F(0x11, "malicious_detect", "malicious-load detection", "0 off, 1 on"),
    F(0x12, "top_up_cents", "top-up amount", "cents (not 0); with its token, one 16 of 3 registers; "
      "reads 0", words=2),
    F(0x14, "top_up_token", "top-up token", "1..65535; the room's last applied token again is "
      "answered but not applied (\"Top-up tokens\"); reads the last applied, 0 none")),
    stride=0x20, per="room")
CALIBRATION = Block("calibration", "holding", "Calibration", 0x3000, (
    F(0x00, "wgain", "WGAIN", "ADE7753, 12-bit signed", signed=True),
    F(0x01, "apos", "APOS", "ADE7753", signed=True),
    F(0x02, "vrmsos", "VRMSOS", "ADE7753, 12-bit signed", signed=True),
    F(0x03, "irmsos", "IRMSOS", "ADE7753, 12-bit signed", signed=True),
    F(0x04, "energy_per_lsb", "energy per AENERGY LSB",
      "1e-9 Wh (default 388007 = 0.388007 mWh; 0 rejected)", words=2),
    F(0x06, "voltage_scale", "voltage scale",
      "0.01 uV of line voltage per VRMS LSB (default 22643 = 226.43 uV)"),
    F(0x07, "current_scale", "current scale",
      "0.01 uA of line current per IRMS LSB (default 4731 = 47.31 uA)")), stride=0x08, per="channel")

BLOCKS = (DEVICE_INFO, ROOM_MEASUREMENTS, DAILY_RECORD, EVENT_ENTRY, DEVICE_SETTINGS,
          ROOM_SETTINGS, CALIBRATION)

_MARKED = re.compile(r"(<!-- register table: (\w+) -->\n)(.*?)(\n<!-- end of table -->)", re.S)


def update_doc(text: str) -> str:
    """`text` with every marked table replaced by the one rendered from BLOCKS."""
    by_key = {b.key: b for b in BLOCKS}
    seen = set()

    def table(m: re.Match) -> str:
        key = m.group(2)
        if key not in by_key:
            raise ModbusError(f"the doc marks a table {key!r}, which is not a register block "
                              f"({', '.join(by_key)})")
        seen.add(key)
        return m.group(1) + by_key[key].markdown() + m.group(4)

    out = _MARKED.sub(table, text)
    missing = [k for k in by_key if k not in seen]
    if missing:
        raise ModbusError(f"the doc has no marked table for {', '.join(missing)} "
                          f"(add '<!-- register table: KEY -->' ... '<!-- end of table -->')")
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m metersim._protocols.modbus.registers docs/modbus_map.md", file=sys.stderr)
        return 3
    path = Path(argv[0])
    path.write_text(update_doc(path.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
