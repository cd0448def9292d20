"""Checks of a metering-controller run: energy per room against the reference integral of its
load profile, relay states against expected trips, the EEPROM records, and power cuts.

Reference energy: the room's profile integrated (closed form, `LoadProfile.energy`) over the
intervals in which current could flow: relay contact closed (the relay's own switching history)
and mains up (`Controller.mains_history`). Rooms attached directly (not behind the relay, see
`Controller.attach_load`) count all the time.

EEPROM layout: docs/firmware_metering_controller.md, "EEPROM layout" (all integers little
endian, every record closed by CRC-16/MODBUS low byte first; rings of records whose sequence
number `seq` sits in slot (seq - 1) mod slots; A/B pairs where the valid copy with the higher
seq wins).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from metersim._cabinet.board import CabinetError, Controller, SUPPLY_NOMINAL_V
from metersim._errors import CheckFailed
from metersim._protocols.modbus.framer import crc_ok
from metersim._units import PS_PER_MS, PS_PER_S

# ---- reference energy -------------------------------------------------------------------------


def _flow_intervals(board: Controller, room: int, since_ps: int, until_ps: int) -> list[tuple[int, int]]:
    behind_relay = bool(board.feeds) and room < len(board.feeds)
    if not behind_relay:
        return [(since_ps, until_ps)]
    relay = board.relays[room]
    closed = (not relay.history[0][1]) if relay.history else relay.closed
    mains = (not board.mains_history[0][1]) if board.mains_history else board.mains_on
    changes = sorted([(t, "relay", v) for t, v in relay.history] +
                     [(t, "mains", v) for t, v in board.mains_history], key=lambda c: c[0])
    out, t_prev = [], None
    state = closed and mains
    start = 0 if state else None
    for t, what, v in changes:
        if what == "relay":
            closed = v
        else:
            mains = v
        now = closed and mains
        if now and start is None:
            start = t
        elif not now and start is not None:
            out.append((start, t))
            start = None
    if start is not None:
        out.append((start, until_ps))
    clipped = []
    for a, b in out:
        a, b = max(a, since_ps), min(b, until_ps)
        if b > a:
            clipped.append((a, b))
    return clipped


def reference_energy_Wh(board: Controller, room: int, since_ps: int = 0, until_ps: int | None = None) -> float:
    """Active energy delivered to room `room` between two virtual times (the reference meter)."""
    prof = board.profiles.get(room)
    if prof is None:
        raise CabinetError(f"room {room} has no load profile attached")
    until = board.now_ps if until_ps is None else until_ps
    origin = board.origins_ps[room]
    total = 0.0
    for a, b in _flow_intervals(board, room, max(since_ps, origin), until):
        t0 = max((a - origin) / PS_PER_S, prof.start_s)
        t1 = min((b - origin) / PS_PER_S, prof.end_s)
        if t1 > t0:
            total += prof.energy(t0, t1).active_Wh
    return total


@dataclass(frozen=True)
class EnergyCheck:
    room: int
    measured_Wh: float
    reference_Wh: float
    limit_Wh: float

    @property
    def error_Wh(self) -> float:
        return self.measured_Wh - self.reference_Wh

    @property
    def error_pct(self) -> float:
        return 100.0 * self.error_Wh / self.reference_Wh if self.reference_Wh else 0.0

    @property
    def ok(self) -> bool:
        return abs(self.error_Wh) <= self.limit_Wh


def check_against_references(rows: list[tuple[int, float, float]], rel: float = 0.002,
                             abs_Wh: float = 0.0) -> list[EnergyCheck]:
    """(room, measured Wh, reference Wh) rows against |error| <= rel * reference + abs_Wh.
    Raises CheckFailed naming every room outside; returns the checks otherwise."""
    checks = [EnergyCheck(room, wh, ref, rel * ref + abs_Wh) for room, wh, ref in rows]
    bad = [c for c in checks if not c.ok]
    if bad:
        raise CheckFailed("energy outside the limit: " + "; ".join(
            f"room {c.room}: measured {c.measured_Wh:.1f} Wh, reference {c.reference_Wh:.2f} Wh "
            f"(error {c.error_Wh:+.2f} Wh, limit {c.limit_Wh:.2f} Wh)" for c in bad))
    return checks


def check_energies(board: Controller, measured_Wh: dict, rel: float = 0.002, abs_Wh: float = 0.0,
                   until_ps: int | None = None) -> list[EnergyCheck]:
    """Measured room energies ({room: Wh}) against the board's reference integrals
    (check_against_references)."""
    return check_against_references(
        [(room, wh, reference_energy_Wh(board, room, 0, until_ps)) for room, wh in sorted(measured_Wh.items())],
        rel, abs_Wh)


def check_relays(board: Controller, expected_closed: dict) -> None:
    """Relay contacts against what the test expects (room -> closed)."""
    bad = {r: board.relay_closed(r) for r, want in expected_closed.items() if board.relay_closed(r) != want}
    if bad:
        raise CheckFailed("relay states differ: " + ", ".join(
            f"room {r} {'closed' if c else 'open'} (expected {'closed' if not c else 'open'})"
            for r, c in sorted(bad.items())))


# ---- power cuts -------------------------------------------------------------------------------

def power_cut(board: Controller, at_ps: int | None = None, holdup_ms: float = 20.0, off_ms: float = 2000.0,
              low_V: float = 2.0) -> None:
    """A mains failure at `at_ps` (default now): the loads stop and VDD falls below the PVD
    threshold at once (PVD interrupt), the MCU keeps running for `holdup_ms` on the supply's
    capacitors, then power is cut for `off_ms`; then mains and supply come back (power-on reset)."""
    emu = board.emu
    if at_ps is not None:
        if at_ps < emu.now_ps:
            raise CabinetError(f"power cut at {at_ps} ps is in the past (now {emu.now_ps} ps)")
        emu.run_until_time(at_ps)
    board.set_mains(False)
    board.set_supply_V(low_V)
    emu.run_until_time(emu.now_ps + round(holdup_ms * PS_PER_MS))
    board.machine.power_off()
    emu.run_until_time(emu.now_ps + round(off_ms * PS_PER_MS))
    board.set_supply_V(SUPPLY_NOMINAL_V)
    board.set_mains(True)
    board.machine.power_on()


# ---- EEPROM records ---------------------------------------------------------------------------

HEADER, DEV_A, DEV_B = 0x0000, 0x0040, 0x0080
ROOM_BASE, ROOM_STRIDE, ROOM_SIZE = 0x0100, 128, 64
LIVE_BASE, LIVE_SLOTS, LIVE_STRIDE = 0x1100, 16, 320
DAY_BASE, DAY_SLOTS, DAY_STRIDE = 0x2500, 62, 272
EVENT_BASE, EVENT_SLOTS, EVENT_SIZE = 0x6800, 384, 16
MAGIC = b"MCE1"
EVENT_TYPES = {1: "trip", 2: "alarm1", 3: "alarm2", 4: "top-up", 5: "power-failure",
               6: "clock-change", 7: "illegal-load", 8: "reclose", 9: "lock-out-reset",
               10: "watchdog-reset"}


@dataclass(frozen=True)
class Totals:
    """A live-totals or daily-freeze record."""

    seq: int
    rooms: int
    year: int
    month: int
    day: int
    energy_Wh: tuple
    cost_cents: tuple
    reason: int | None = None        # live totals only: 0 periodic, 1 power failure, 2 boot, 3 day
    power_fails: int | None = None
    time: int | None = None


@dataclass(frozen=True)
class Event:
    seq: int
    time: int
    value: int
    type: str
    room: int | None


@dataclass
class EepromRecords:
    header_ok: bool
    rooms: int
    live: list                  # valid live-totals records, oldest first
    freezes: list               # valid daily freezes, oldest first
    events: list                # valid events, oldest first
    room_records: dict          # room -> dict of the winning A/B copy

    @property
    def newest_live(self) -> Totals | None:
        return self.live[-1] if self.live else None

    def daily_consumption_Wh(self, room: int) -> list[tuple[tuple[int, int, int], int]]:
        """((y, m, d), Wh) per recorded day: difference between consecutive freezes."""
        out = []
        for prev, cur in zip(self.freezes, self.freezes[1:]):
            if cur.seq == prev.seq + 1:
                out.append(((cur.year, cur.month, cur.day), cur.energy_Wh[room] - prev.energy_Wh[room]))
        return out


def _ring(image: bytes, base: int, slots: int, stride: int, length: int) -> list[tuple[int, bytes]]:
    out = []
    for k in range(slots):
        rec = image[base + k * stride: base + k * stride + length]
        if crc_ok(rec):
            seq = int.from_bytes(rec[0:4], "little")
            if seq >= 1 and (seq - 1) % slots == k:
                out.append((seq, rec))
    return sorted(out)


def _totals(rec: bytes, live: bool) -> Totals:
    seq, n = struct.unpack_from("<IB", rec, 0)
    if live:
        reason, fails, t, year, month, day = struct.unpack_from("<BHIHBB", rec, 5)
        off = 16
    else:
        year, month, day = struct.unpack_from("<HBB", rec, 6)
        reason = fails = t = None
        off = 12
    e = tuple(struct.unpack_from("<I", rec, off + 8 * r)[0] for r in range(n))
    c = tuple(struct.unpack_from("<I", rec, off + 8 * r + 4)[0] for r in range(n))
    return Totals(seq, n, year, month, day, e, c, reason, fails, t)


_ROOM_FIELDS = ("<IBBBBIHBBIIIIHHHHHHhhhhIHHH",
                ("seq", "room", "flags", "protection_reason", "reclose_left", "credit_cents", "trips",
                 "last_trip_reason", "malicious_detect", "alarm1_cents", "alarm2_cents", "overdraft_cents",
                 "load_limit_W", "overload_delay_s", "overcurrent_cA", "reclose_delay_s", "reclose_attempts",
                 "schedule_off", "schedule_on", "wgain", "apos", "vrmsos", "irmsos", "e_nWh", "v_scale",
                 "i_scale", "top_up_token"))


def parse_eeprom(image: bytes) -> EepromRecords:
    """Every valid record of a metering-controller EEPROM image."""
    image = bytes(image)
    if len(image) < 0x8000:
        raise CabinetError(f"EEPROM image has {len(image)} bytes, expected 32768 (AT24C256)")
    hdr = image[HEADER:HEADER + 14]
    header_ok = hdr[:4] == MAGIC and crc_ok(hdr)
    rooms = hdr[6] if header_ok else 0
    live = [_totals(r, True) for _, r in _ring(image, LIVE_BASE, LIVE_SLOTS, LIVE_STRIDE, 18 + 8 * rooms)] if rooms else []
    freezes = [_totals(r, False) for _, r in _ring(image, DAY_BASE, DAY_SLOTS, DAY_STRIDE, 14 + 8 * rooms)] if rooms else []
    events = []
    for seq, rec in _ring(image, EVENT_BASE, EVENT_SLOTS, EVENT_SIZE, EVENT_SIZE):
        _, t, value, typ, room = struct.unpack_from("<IIiBB", rec, 0)
        events.append(Event(seq, t, value, EVENT_TYPES.get(typ, f"type {typ}"), None if room == 0xFF else room))
    room_records = {}
    fmt, names = _ROOM_FIELDS
    for r in range(rooms):
        best = None
        for off in (0, ROOM_SIZE):
            rec = image[ROOM_BASE + ROOM_STRIDE * r + off: ROOM_BASE + ROOM_STRIDE * r + off + ROOM_SIZE]
            if crc_ok(rec):
                fields = dict(zip(names, struct.unpack_from(fmt, rec, 0)))
                if best is None or fields["seq"] > best["seq"]:
                    best = fields
        if best is not None:
            room_records[r] = best
    return EepromRecords(header_ok, rooms, [t for t in live], freezes, events, room_records)


def read_records(board: Controller) -> EepromRecords:
    return parse_eeprom(board.eeprom.read_image(0, 0x8000))
