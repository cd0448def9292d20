"""The head end's rules, on an ORM session: users and tokens, cabinets and rooms, readings from
the link (each stored once, in order), events, accounts and allocation, top-ups (once per
request id), tariffs and billing, statistics and the CSV report. No SQL is built from strings:
every query is an ORM select with bound values."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .._errors import MetersimError
from .models import (ROLES, TARIFF_KINDS, Account, Allocation, Cabinet, Command, Event, Reading,
                     Room, Tariff, Token, TopUp, User)

UTC = dt.timezone.utc
TOKEN_TTL = dt.timedelta(hours=8)
SCRYPT = dict(n=2 ** 14, r=8, p=1, dklen=64)
R_FIELDS = ("seq", "controller", "room", "status", "reason", "energy_Wh", "cost_cents",
            "balance_cents", "voltage_10mV", "current_mA", "power_100mW", "pf_milli",
            "freq_10mHz", "trips", "age_s")
TRIP_EVENTS = {2: "load_limit", 3: "overload", 4: "over_current", 5: "malicious_load"}


class HeadendError(MetersimError):
    """A head-end request that cannot be done (the API answers it with 4xx)."""

    status = 400


class NotFound(HeadendError):
    status = 404


class Conflict(HeadendError):
    status = 409


class Invalid(HeadendError):
    """Input that is well formed but cannot be taken (a tariff the controllers cannot hold)."""

    status = 422


def now_utc() -> dt.datetime:
    return dt.datetime.now(UTC)


def aware(t: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives naive datetimes back; every time stored is UTC."""
    return t if t is None or t.tzinfo else t.replace(tzinfo=UTC)


# -- users and tokens ----------------------------------------------------------------------------
def hash_password(password: str, salt: bytes) -> str:
    return hashlib.scrypt(password.encode(), salt=salt, **SCRYPT).hex()


def add_user(s: Session, name: str, password: str, role: str, now: dt.datetime) -> User:
    if role not in ROLES:
        raise HeadendError(f"role must be one of {ROLES}, got {role!r}")
    if len(password) < 8:
        raise HeadendError("a password needs at least 8 characters")
    if s.scalar(select(User).where(User.name == name)) is not None:
        raise Conflict(f"user {name!r} exists")
    salt = secrets.token_bytes(16)
    user = User(name=name, role=role, pw_salt=salt.hex(), pw_hash=hash_password(password, salt),
                created_at=now)
    s.add(user)
    s.flush()
    return user


def login(s: Session, name: str, password: str, now: dt.datetime,
          ttl: dt.timedelta = TOKEN_TTL) -> tuple[str, User, dt.datetime]:
    user = s.scalar(select(User).where(User.name == name))
    # the hash is computed for unknown names too, so timing does not tell which names exist
    salt = bytes.fromhex(user.pw_salt) if user else b"\0" * 16
    good = hmac.compare_digest(hash_password(password, salt), user.pw_hash if user else "")
    if not (user and good):
        raise HeadendError("wrong user name or password")
    token = secrets.token_urlsafe(32)
    expires = now + ttl
    s.add(Token(token_sha256=hashlib.sha256(token.encode()).hexdigest(), user_id=user.id,
                expires_at=expires))
    return token, user, expires


def user_for_token(s: Session, token: str, now: dt.datetime) -> User | None:
    row = s.scalar(select(Token).where(
        Token.token_sha256 == hashlib.sha256(token.encode()).hexdigest()))
    if row is None or aware(row.expires_at) <= now:
        return None
    return row.user


# -- cabinets and rooms --------------------------------------------------------------------------
def cabinet_named(s: Session, name: str, port: int | None = None) -> Cabinet:
    """The cabinet `name` (made when new), its link now arriving on `port`."""
    cab = s.scalar(select(Cabinet).where(Cabinet.name == name))
    if cab is None:
        cab = Cabinet(name=name, location="", online=False, epoch=0, last_seq=0)
        s.add(cab)
    if port is not None and cab.tcp_port != port:
        for other in s.scalars(select(Cabinet).where(Cabinet.tcp_port == port)):
            other.tcp_port = None              # the port moved to this cabinet
        s.flush()
        cab.tcp_port = port
    s.flush()
    return cab


def room_of(s: Session, cab: Cabinet, controller: int, room: int,
            now: dt.datetime | None = None) -> Room:
    r = s.scalar(select(Room).where(Room.cabinet_id == cab.id, Room.controller == controller,
                                    Room.room == room))
    if r is None:
        known = s.scalar(select(Room.id).where(Room.cabinet_id == cab.id,
                                               Room.controller == controller).limit(1))
        if known is None and cab.tariff_id is not None:   # a controller seen for the first
            try:                                          # time: the cabinet's tariff
                push_tariff(s, cab, None, now or now_utc(), [controller])
            except Invalid as e:       # stored before prices were checked as they are now
                add_event(s, cab, "command_failed", f"tariff {cab.tariff_id} for controller "
                          f"{controller} cannot be pushed: {e}", now or now_utc())
        r = Room(cabinet_id=cab.id, controller=controller, room=room,
                 label=f"{controller}-{room}", low_balance_cents=1000, status=0, reason=0,
                 power_W=0.0, energy_Wh=0, cost_cents=0, balance_cents=0, trips=0)
        s.add(r)
        s.flush()
    return r


def add_event(s: Session, cab: Cabinet, kind: str, detail: str, now: dt.datetime,
              room: Room | None = None) -> Event:
    ev = Event(cabinet_id=cab.id, room_id=room.id if room else None, kind=kind,
               detail=detail[:200], at=now, acknowledged=False)
    s.add(ev)
    return ev


I32, U8, U16, I16 = (-2**31, 2**31 - 1), (0, 255), (0, 65535), (-32768, 32767)
# what the query manager can send in each field (docs/firmware_query_manager.md: its registers
# printed as signed 32-bit, or as the u8 / u16 / i16 they are); a value outside is malformed
R_RANGES = {"seq": (1, 2**31 - 1), "controller": (1, 8), "room": (0, 31), "status": U8,
            "reason": U8, "energy_Wh": I32, "cost_cents": I32, "balance_cents": I32,
            "voltage_10mV": U16, "current_mA": U16, "power_100mW": I32, "pf_milli": I16,
            "freq_10mHz": U16, "trips": U16, "age_s": U8}
_DECIMAL = re.compile(r"-?[0-9]{1,10}")


def parse_r_line(line: str) -> dict[str, int]:
    """One R line, strictly as the query manager writes it: 'R' and 15 decimal integers, one
    space apart, each in its field's range (R_RANGES). Anything else raises HeadendError."""
    parts = line.split(" ")
    if parts[:1] != ["R"] or len(parts) != 1 + len(R_FIELDS):
        raise HeadendError(f"expected 'R' and {len(R_FIELDS)} integers, got {line[:80]!r}")
    f = {}
    for name, text in zip(R_FIELDS, parts[1:]):
        lo, hi = R_RANGES[name]
        if not _DECIMAL.fullmatch(text) or not lo <= int(text) <= hi:
            raise HeadendError(f"R line: {name} must be an integer in {lo}..{hi}, "
                               f"got {text[:20]!r}")
        f[name] = int(text)
    return f


_CONTENT = R_FIELDS[3:]


def parse_t_line(line: str) -> dt.datetime:
    """`T unix_s`: the cabinet's clock at the snapshot whose R lines follow (1..2^31-1, as the
    query manager prints it)."""
    parts = line.split(" ")
    if (len(parts) != 2 or parts[0] != "T" or not _DECIMAL.fullmatch(parts[1])
            or not 1 <= int(parts[1]) <= 2**31 - 1):
        raise HeadendError(f"expected 'T unix_seconds', got {line[:80]!r}")
    return dt.datetime.fromtimestamp(int(parts[1]), UTC)


def reading_time(r: Reading) -> dt.datetime:
    """When a reading was taken: the cabinet's clock of its snapshot, or its arrival when the
    cabinet sent no T line. Statistics count readings by this time, so readings a cabinet
    buffered through an outage fall in the day they were taken, not the day they arrived."""
    return aware(r.measured_at or r.received_at)


def ingest(s: Session, cab: Cabinet, f: dict[str, int], now: dt.datetime,
           measured_at: dt.datetime | None = None) -> Reading | None:
    """Store one R line unless it is a repeat (same seq and content as one stored this epoch).
    A seq at or below the last one with other content means the query manager started again:
    a new epoch. A seq past last + 1 records a gap. `measured_at`: the time of the T line
    before it. Returns the stored reading or None."""
    seq = f["seq"]
    if cab.epoch == 0:
        cab.epoch, cab.last_seq = 1, 0
    elif seq <= cab.last_seq:
        old = s.scalar(select(Reading).where(Reading.cabinet_id == cab.id,
                                             Reading.epoch == cab.epoch, Reading.seq == seq))
        if old is not None:
            room = s.get(Room, old.room_id)
            same = (room.controller, room.room) == (f["controller"], f["room"]) and all(
                getattr(old, k) == f[k] for k in _CONTENT)
            if same:
                return None
            cab.epoch, cab.last_seq = cab.epoch + 1, 0
    if seq > cab.last_seq + 1 and cab.last_seq > 0:
        add_event(s, cab, "reading_gap", f"lines {cab.last_seq + 1}..{seq - 1} never arrived",
                  now)
    room = room_of(s, cab, f["controller"], f["room"], now)
    rd = Reading(cabinet_id=cab.id, epoch=cab.epoch, room_id=room.id, received_at=now,
                 measured_at=measured_at, **{k: f[k] for k in R_FIELDS if k not in ("controller", "room")})
    s.add(rd)
    _update_room(s, cab, room, f, now)
    room.measured_at = measured_at
    cab.last_seq = max(cab.last_seq, seq)
    cab.last_seen = now
    return rd


def _update_room(s: Session, cab: Cabinet, room: Room, f: dict[str, int], now) -> None:
    first = room.updated_at is None
    if f["trips"] > room.trips and f["reason"] in TRIP_EVENTS and f["status"] & 2:
        add_event(s, cab, TRIP_EVENTS[f["reason"]],
                  f"room {room.label} tripped at {f['power_100mW'] / 10:.1f} W", now, room)
    bal = f["balance_cents"]
    if bal < 0 and (first or room.balance_cents >= 0):
        add_event(s, cab, "arrears", f"room {room.label} owes {-bal / 100:.2f}", now, room)
    elif 0 <= bal < room.low_balance_cents and (first or room.balance_cents >= room.low_balance_cents):
        add_event(s, cab, "low_balance", f"room {room.label} has {bal / 100:.2f} left", now, room)
    room.status, room.reason, room.trips = f["status"], f["reason"], f["trips"]
    room.power_W = f["power_100mW"] / 10
    room.energy_Wh, room.cost_cents, room.balance_cents = f["energy_Wh"], f["cost_cents"], bal
    room.updated_at = now


# -- accounts and allocation --------------------------------------------------------------------
def get_one(s: Session, model, key: int, what: str):
    """The row of `model` with primary key `key`, or NotFound ("no <what> <key>": a 404)."""
    row = s.get(model, key)
    if row is None:
        raise NotFound(f"no {what} {key}")
    return row


def get_room(s: Session, room_id: int) -> Room:
    return get_one(s, Room, room_id, "room")


def current_allocation(s: Session, room_id: int) -> Allocation | None:
    return s.scalar(select(Allocation).where(Allocation.room_id == room_id,
                                             Allocation.moved_out.is_(None)))


def move_in(s: Session, account_id: int, room_id: int, now: dt.datetime) -> Allocation:
    get_room(s, room_id)
    get_one(s, Account, account_id, "account")
    if current_allocation(s, room_id) is not None:
        raise Conflict(f"room {room_id} is occupied: move the tenant out first")
    a = Allocation(account_id=account_id, room_id=room_id, moved_in=now)
    s.add(a)
    s.flush()
    return a


def move_out(s: Session, room_id: int, now: dt.datetime) -> Allocation:
    a = current_allocation(s, room_id)
    if a is None:
        raise NotFound(f"room {room_id} has nobody moved in")
    a.moved_out = now
    return a


# -- top-ups -------------------------------------------------------------------------------------
def request_topup(s: Session, request_id: str, room_id: int, cents: int, user: User | None,
                  now: dt.datetime) -> tuple[TopUp, bool]:
    """(top-up, created): the same request id again returns the first one, applied once."""
    old = s.scalar(select(TopUp).where(TopUp.request_id == request_id))
    if old is not None:
        if (old.room_id, old.cents) != (room_id, cents):
            raise Conflict(f"request id {request_id!r} was used for another top-up")
        return old, False
    get_room(s, room_id)
    t = TopUp(request_id=request_id, room_id=room_id, cents=cents, state="pending",
              user_id=user.id if user else None, created_at=now)
    s.add(t)
    s.flush()
    return t, True


# -- commands to the cabinets (relay, schedule, clock, tariff) ----------------------------------
RELAY_COMMANDS = {"open": 0, "close": 1, "reset": 2}
NO_MINUTE = 0xFFFF        # the controller's "no schedule" (docs/modbus_map.md, room settings)


def request_command(s: Session, cab: Cabinet, kind: str, args: dict, room: Room | None,
                    user: User | None, now: dt.datetime) -> Command:
    """Queue a command for the cabinet's link (sent in order while it is connected)."""
    if kind == "relay" and args.get("command") not in RELAY_COMMANDS.values():
        raise HeadendError(f"relay command must be one of {sorted(RELAY_COMMANDS)}")
    if kind == "schedule":
        for k in ("off_min", "on_min"):
            v = args.get(k)
            if v is not None and not 0 <= v < 1440:
                raise HeadendError(f"{k} must be a minute of the day (0..1439) or null, got {v!r}")
        if (args["off_min"] is None) != (args["on_min"] is None):
            raise HeadendError("give both off_min and on_min, or neither (no schedule)")
    if kind == "tariff" and not (1 <= args.get("controller", 0) <= 8 and args.get("mode") in (0, 1)
                                 and len(args.get("prices", ())) == TOU_PRICES
                                 and len(args.get("periods", ())) == TOU_PERIODS):
        raise HeadendError(f"a tariff command needs a controller 1..8 and its registers, "
                           f"got {args!r}")
    c = Command(cabinet_id=cab.id, room_id=room.id if room else None, kind=kind, args=args,
                state="pending", user_id=user.id if user else None, created_at=now)
    s.add(c)
    s.flush()
    return c


def command_line(c: Command, room: Room | None) -> tuple[str, str]:
    """(line for the link, the word of its answer); time lines are made at sending."""
    a = c.args
    if c.kind == "relay":
        return f"RELAY {room.controller} {room.room} {a['command']}", "RELAY"
    if c.kind == "schedule":
        off = NO_MINUTE if a["off_min"] is None else a["off_min"]
        on = NO_MINUTE if a["on_min"] is None else a["on_min"]
        return f"SCHED {room.controller} {room.room} {off} {on}", "SCHED"
    if c.kind == "tariff":
        regs = [a["flat"], a["mode"], *a["prices"], *(v for p in a["periods"] for v in p)]
        return f"TARIFF {a['controller']} " + " ".join(map(str, regs)), "TARIFF"
    return "TIME", "TIME"


def push_tariff(s: Session, cab: Cabinet, user: User | None, now: dt.datetime,
                controllers: list[int] | None = None) -> list[Command]:
    """Queue the cabinet's tariff for its controllers (`controllers`, or every one its rooms
    name): one tariff command each, with the registers the controller is to hold
    (controller_tariff). None for a steps tariff or no tariff: the controllers keep theirs."""
    tariff = s.get(Tariff, cab.tariff_id) if cab.tariff_id else None
    regs = tariff and controller_tariff(tariff.kind, tariff.rules)
    if regs is None:
        return []
    if controllers is None:
        controllers = s.scalars(select(Room.controller).where(Room.cabinet_id == cab.id)
                                .distinct().order_by(Room.controller)).all()
    return [request_command(s, cab, "tariff", {"controller": n, "tariff_id": tariff.id, **regs},
                            None, user, now) for n in controllers]


def command_done(s: Session, c: Command, ok: bool | None, now: dt.datetime) -> None:
    """The cabinet's answer (None: none came): done, failed with an event, or back to pending
    when the link dropped (relay, schedule and clock commands are safe to send again)."""
    cab = s.get(Cabinet, c.cabinet_id)
    if ok is None:
        c.state = "pending"
        return
    c.state, c.done_at = ("done" if ok else "failed"), now
    if ok and c.kind == "schedule":
        c.room_ref.schedule_off_min = c.args["off_min"]
        c.room_ref.schedule_on_min = c.args["on_min"]
    if not ok:
        what = (f"tariff {c.args['tariff_id']} for controller {c.args['controller']}"
                if c.kind == "tariff" else f"{c.kind} {c.args}")
        add_event(s, cab, "command_failed", f"{what} refused or not answered by the cabinet", now,
                  c.room_ref)


# -- tariffs and billing -------------------------------------------------------------------------
PRICE_MAX = 0xFFFF          # cents per kWh: the controllers' price registers are u16
TOU_PRICES, TOU_PERIODS = 4, 8      # what a controller holds (docs/modbus_map.md, 0x000A, 0x0010)


def _price(p) -> int:
    """A price as the controllers take it: whole cents per kWh, 0..65535."""
    if type(p) is not int or not 0 <= p <= PRICE_MAX:
        raise Invalid(f"a tariff price is whole cents per kWh, 0..{PRICE_MAX} (the controllers' "
                      f"price registers), got {p!r}")
    return p


def _hour(h) -> int:
    if type(h) is not int or not 0 <= h <= 24:
        raise Invalid(f"a time-of-use tariff's periods run between whole hours 0..24, got {h!r}")
    return h


def _tou_segments(rules: dict) -> list[tuple[int, int]]:
    """(start hour, price) of each run of one price through the day, in order from midnight;
    raises Invalid unless the periods cover 0..24 without a gap or an overlap."""
    periods = rules["periods"]
    if not isinstance(periods, list) or not periods or not all(
            isinstance(p, list) and len(p) == 3 for p in periods):
        raise Invalid(f"a time-of-use tariff's periods are a list of [from_hour, to_hour, "
                      f"cents_per_kWh], got {periods!r}")
    periods = sorted((_hour(a), _hour(b), _price(p)) for a, b, p in periods)
    if (periods[0][0] != 0 or periods[-1][1] != 24 or any(a >= b for a, b, _ in periods)
            or any(x[1] != y[0] for x, y in zip(periods, periods[1:]))):
        raise Invalid(f"a time-of-use tariff's periods must cover the day from hour 0 to 24 "
                      f"without gap or overlap, got {rules['periods']!r}")
    runs: list[tuple[int, int]] = []
    for a, _, p in periods:
        if not runs or runs[-1][1] != p:
            runs.append((a, p))
    return runs


def check_tariff(kind: str, rules: dict) -> None:
    """Raises Invalid (a 422) unless `rules` are a tariff of `kind` (docs/headend.md): prices
    whole cents per kWh in 0..65535; a time-of-use tariff within what a controller holds (4
    prices, 8 periods), since it is pushed to them."""
    if kind not in TARIFF_KINDS:
        raise Invalid(f"tariff kind must be one of {TARIFF_KINDS}, got {kind!r}")
    try:
        if kind == "flat":
            if set(rules) != {"cents_per_kWh"}:
                raise KeyError
            _price(rules["cents_per_kWh"])
        elif kind == "tou":
            if set(rules) != {"periods"}:
                raise KeyError
            controller_tariff(kind, rules)
        else:
            steps = rules["steps"]
            if set(rules) != {"steps"} or not isinstance(steps, list) or not steps:
                raise KeyError
            for st in steps:
                if not isinstance(st, list) or len(st) != 2:
                    raise KeyError
                _price(st[1])
            limits = [st[0] for st in steps[:-1]]
            if (steps[-1][0] is not None or limits != sorted(limits) or any(
                    type(x) is not int or x <= 0 for x in limits)):
                raise Invalid(f"tariff steps: limits are whole kWh a month, rising, the last "
                              f"null (open), got {steps!r}")
    except (KeyError, TypeError, IndexError, ValueError, AttributeError):
        raise Invalid(f"tariff rules do not fit kind {kind!r}: {rules!r} "
                      "(see docs/headend.md)") from None


def controller_tariff(kind: str, rules: dict) -> dict | None:
    """The controller's tariff registers (docs/modbus_map.md, device settings 0x0008..0x001F)
    for a tariff: {"flat", "mode", "prices": [sharp, peak, flat, valley], "periods": 8 x
    [start minute, price index]}; None for a steps tariff, which the controllers cannot
    hold. Flat: mode 0, the price everywhere, no periods. Time of use: mode 1, one period per
    run of one price (a run over midnight is one period: the controller's day wraps), the
    distinct prices highest first, unused price slots repeating the lowest, unused periods
    65535; the flat-price register (the controller's fallback) holds the price at midnight.
    Raises Invalid for more than 4 prices or 8 periods."""
    if kind == "flat":
        p = _price(rules["cents_per_kWh"])
        return {"flat": p, "mode": 0, "prices": [p] * TOU_PRICES,
                "periods": [[0xFFFF, 0]] * TOU_PERIODS}
    if kind != "tou":
        return None
    runs = _tou_segments(rules)
    if len(runs) > 1 and runs[0][1] == runs[-1][1]:
        runs = runs[1:]                  # the evening's run goes on past midnight
    prices = sorted({p for _, p in runs}, reverse=True)
    if len(prices) > TOU_PRICES:
        raise Invalid(f"a time-of-use tariff has at most {TOU_PRICES} prices (the controllers' "
                      f"sharp, peak, flat and valley), got {len(prices)}: {prices}")
    if len(runs) > TOU_PERIODS:
        raise Invalid(f"a time-of-use tariff has at most {TOU_PERIODS} periods of one price "
                      f"(the controllers' period registers), got {len(runs)}")
    midnight = runs[-1][1] if runs[0][0] != 0 else runs[0][1]
    return {"flat": midnight, "mode": 1,
            "prices": prices + [prices[-1]] * (TOU_PRICES - len(prices)),
            "periods": [[h * 60, prices.index(p)] for h, p in runs]
            + [[0xFFFF, 0]] * (TOU_PERIODS - len(runs))}


def bill_cents(tariff: Tariff | None, deltas: list[tuple[dt.datetime, int]],
               month_Wh_before: int = 0) -> float:
    """Cost of energy deltas [(time, Wh)] under `tariff` (None: nothing billed by the server).
    ToU prices each delta at the hour it was reported; steps count the month's kWh so far."""
    if tariff is None:
        return 0.0
    r = tariff.rules
    if tariff.kind == "flat":
        return sum(d for _, d in deltas) * r["cents_per_kWh"] / 1000
    if tariff.kind == "tou":
        def price(t):
            return next(p for a, b, p in r["periods"] if a <= t.hour < b)
        return sum(d * price(t) / 1000 for t, d in deltas)
    total, month = 0.0, month_Wh_before
    for _, d in deltas:
        while d > 0:
            for limit_kWh, p in r["steps"]:
                room_left = d if limit_kWh is None else limit_kWh * 1000 - month
                if room_left > 0:
                    take = min(d, room_left)
                    total += take * p / 1000
                    month, d = month + take, d - take
                    break
    return total


@dataclass
class RoomDay:
    room: Room
    energy_Wh: int
    cost_cents: int          # as the controller billed it
    billed_cents: int        # under the server's tariff
    readings: int


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + dt.timedelta(days=1)


def room_period(s: Session, room: Room, start: dt.datetime, end: dt.datetime) -> RoomDay:
    """Energy and cost of `room` between two instants of the readings' time (reading_time):
    the counters' rise from the last reading before `start` (or the first inside) to the last
    one inside."""
    at = func.coalesce(Reading.measured_at, Reading.received_at)
    rows = s.scalars(select(Reading).where(Reading.room_id == room.id, at < end)
                     .order_by(at, Reading.epoch, Reading.seq)).all()
    before = [r for r in rows if reading_time(r) < start]
    inside = [r for r in rows if reading_time(r) >= start]
    if not inside:
        return RoomDay(room, 0, 0, 0, 0)
    prev = before[-1] if before else inside[0]
    deltas, last = [], prev
    for r in inside:
        deltas.append((reading_time(r), max(0, r.energy_Wh - last.energy_Wh)))
        last = r
    month_start = start.replace(day=1)
    month_before = max(0, prev.energy_Wh - next(
        (r.energy_Wh for r in rows if reading_time(r) >= month_start), prev.energy_Wh))
    cab = s.get(Cabinet, room.cabinet_id)
    tariff = s.get(Tariff, cab.tariff_id) if cab.tariff_id else None
    return RoomDay(room, inside[-1].energy_Wh - prev.energy_Wh,
                   inside[-1].cost_cents - prev.cost_cents,
                   round(bill_cents(tariff, deltas, month_before)), len(inside))


def daily_statistics(s: Session, day: dt.date, cabinet_id: int | None = None) -> list[RoomDay]:
    start, end = _day_bounds(day)
    q = select(Room).order_by(Room.cabinet_id, Room.controller, Room.room)
    if cabinet_id is not None:
        q = q.where(Room.cabinet_id == cabinet_id)
    return [room_period(s, room, start, end) for room in s.scalars(q)]


def monthly_statistics(s: Session, year: int, month: int,
                       cabinet_id: int | None = None) -> list[RoomDay]:
    start = dt.datetime(year, month, 1, tzinfo=UTC)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    q = select(Room).order_by(Room.cabinet_id, Room.controller, Room.room)
    if cabinet_id is not None:
        q = q.where(Room.cabinet_id == cabinet_id)
    return [room_period(s, room, start, end) for room in s.scalars(q)]


def csv_report(s: Session, rows: list[RoomDay]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["cabinet", "controller", "room", "label", "tenant", "energy_Wh", "cost_cents",
                "billed_cents", "balance_cents", "readings"])
    for d in rows:
        alloc = current_allocation(s, d.room.id)
        tenant = alloc.account.name if alloc else ""
        # a cell starting with = + - @ would be a formula in a spreadsheet: quote it as text
        cells = [d.room.cabinet.name, d.room.controller, d.room.room, d.room.label, tenant,
                 d.energy_Wh, d.cost_cents, d.billed_cents, d.room.balance_cents, d.readings]
        w.writerow(["'" + c if isinstance(c, str) and c[:1] and c[0] in "=+-@" else c
                    for c in cells])
    return out.getvalue()
