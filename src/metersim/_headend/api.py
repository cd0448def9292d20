"""The REST API (FastAPI) and the dashboard's static files, over the same database as the link.

Bearer tokens from POST /api/login (rate limited per user name and client address:
login_limit.py); operators read everything, take top-ups and manage tenants;
admins also manage users, tariffs, cabinets and room settings. Input is validated by pydantic
models (lengths, ranges, patterns) before it reaches the ORM."""


import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from . import domain
from .login_limit import LoginLimiter
from .models import Account, Cabinet, Command, Event, Reading, Room, Tariff, TopUp, User

STATIC = Path(__file__).with_name("static")
# text is stored verbatim, but control characters are refused (PostgreSQL cannot store NUL,
# and none belongs in a name, label or phone number)
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
Text = Annotated[str, Field(max_length=200, pattern=PRINTABLE)]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=PRINTABLE)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(Strict):
    name: Name
    password: Annotated[str, Field(min_length=1, max_length=256)]


class UserIn(Strict):
    name: Name
    password: Annotated[str, Field(min_length=8, max_length=256)]
    role: Literal["operator", "admin"]


class TopUpIn(Strict):
    request_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
    room_id: Annotated[int, Field(ge=1)]
    cents: Annotated[int, Field(ge=1, le=10_000_000)]


class AccountIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=PRINTABLE)]
    phone: Annotated[str, Field(max_length=40, pattern=PRINTABLE)] = ""
    deposit_cents: Annotated[int, Field(ge=0, le=100_000_000)] = 0


class MoveIn(Strict):
    account_id: Annotated[int, Field(ge=1)]


class RoomPatch(Strict):
    label: Name | None = None
    low_balance_cents: Annotated[int, Field(ge=0, le=100_000_000)] | None = None


class CabinetPatch(Strict):
    name: Name | None = None
    location: Text | None = None
    tariff_id: Annotated[int, Field(ge=1)] | None = None


class RelayIn(Strict):
    command: Literal["open", "close", "reset"]


Minute = Annotated[int, Field(ge=0, le=1439)]


class ScheduleIn(Strict):
    """The room's relay is held open every day from off_min to on_min (minutes of the day,
    the controller's clock; across midnight when off_min > on_min); both null: no schedule."""
    off_min: Minute | None
    on_min: Minute | None


class TariffIn(Strict):
    name: Name
    kind: Literal["flat", "tou", "steps"]
    rules: dict


def room_json(r: Room) -> dict:
    return {"id": r.id, "cabinet_id": r.cabinet_id, "controller": r.controller, "room": r.room,
            "label": r.label, "relay_closed": bool(r.status & 1), "tripped": bool(r.status & 2),
            "reason": r.reason, "power_W": r.power_W, "energy_Wh": r.energy_Wh,
            "cost_cents": r.cost_cents, "balance_cents": r.balance_cents, "trips": r.trips,
            "low_balance_cents": r.low_balance_cents, "schedule_off": bool(r.status & 32),
            "schedule": None if r.schedule_off_min is None else
            {"off_min": r.schedule_off_min, "on_min": r.schedule_on_min},
            "updated_at": r.updated_at and domain.aware(r.updated_at).isoformat(),
            "measured_at": r.measured_at and domain.aware(r.measured_at).isoformat()}


def command_json(c: Command) -> dict:
    return {"id": c.id, "cabinet_id": c.cabinet_id, "room_id": c.room_id, "kind": c.kind,
            "args": c.args, "state": c.state, "created_at": domain.aware(c.created_at).isoformat(),
            "done_at": c.done_at and domain.aware(c.done_at).isoformat()}


def topup_json(t: TopUp) -> dict:
    return {"id": t.id, "request_id": t.request_id, "room_id": t.room_id, "cents": t.cents,
            "state": t.state, "created_at": domain.aware(t.created_at).isoformat()}


def create_app(sessions, links=None, clock=domain.now_utc, limiter: LoginLimiter | None = None) -> FastAPI:
    """The API over `sessions` (a sessionmaker); `links` (a LinkService) is told of new
    top-ups so they go out at once; `limiter` counts failed logins (default limits)."""
    app = FastAPI(title="metersim head end", version="1.0")
    app.state.login_limiter = limiter = limiter or LoginLimiter()
    bearer = HTTPBearer(auto_error=False)

    @app.exception_handler(domain.HeadendError)
    async def _domain_error(_request: Request, e: domain.HeadendError):
        return JSONResponse({"detail": str(e)}, status_code=e.status)

    def session():
        with sessions.begin() as s:
            yield s

    # committed when the handler returns, before the response leaves: a client that got an
    # answer finds its change in the next request
    S = Annotated[object, Depends(session, scope="function")]

    def current_user(s: S, cred: HTTPAuthorizationCredentials | None = Depends(bearer)) -> User:
        user = cred and domain.user_for_token(s, cred.credentials, clock())
        if not user:
            raise HTTPException(401, "log in first: POST /api/login, then "
                                     "'Authorization: Bearer <token>'",
                                headers={"WWW-Authenticate": "Bearer"})
        return user

    def admin(user: User = Depends(current_user)) -> User:
        if user.role != "admin":
            raise HTTPException(403, f"user {user.name!r} is an operator: this needs an admin")
        return user

    Op = Annotated[User, Depends(current_user)]
    Admin = Annotated[User, Depends(admin)]

    @app.get("/", include_in_schema=False)
    def dashboard():
        return FileResponse(STATIC / "dashboard.html")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: Annotated[str, PathParam(pattern=r"^[a-z_]+\.(js|css)$")]):
        path = STATIC / name
        if path.parent != STATIC or not path.is_file():
            raise HTTPException(404, f"no static file {name!r}")
        return FileResponse(path)

    @app.post("/api/login")
    def login(body: LoginIn, s: S, request: Request):
        now = clock()
        address = request.client.host if request.client else "-"
        wait_s = limiter.begin(body.name, address, now)
        if wait_s:          # one text for every name: it tells nothing about which exist
            raise HTTPException(429, f"too many failed logins for this user name or from this "
                                     f"address: try again in {wait_s} s",
                                headers={"Retry-After": str(wait_s)})
        try:
            token, user, expires = domain.login(s, body.name, body.password, now)
        except domain.HeadendError as e:
            raise HTTPException(401, str(e)) from None
        limiter.succeeded(body.name, address, now)
        return {"token": token, "role": user.role, "name": user.name,
                "expires_at": expires.isoformat()}

    @app.get("/api/me")
    def me(user: Op):
        return {"name": user.name, "role": user.role}

    @app.post("/api/users", status_code=201)
    def add_user(body: UserIn, s: S, _: Admin):
        u = domain.add_user(s, body.name, body.password, body.role, clock())
        return {"id": u.id, "name": u.name, "role": u.role}

    @app.get("/api/users")
    def users(s: S, _: Admin):
        return [{"id": u.id, "name": u.name, "role": u.role}
                for u in s.scalars(select(User).order_by(User.id))]

    def controller_tariffs(s, cabinet_id) -> list[dict]:
        """Each controller's latest tariff push: which tariff, and its command's state."""
        latest = {}
        for c in s.scalars(select(Command).where(Command.cabinet_id == cabinet_id,
                                                 Command.kind == "tariff").order_by(Command.id)):
            latest[c.args["controller"]] = {"controller": c.args["controller"],
                                            "tariff_id": c.args["tariff_id"],
                                            "command_id": c.id, "state": c.state}
        return [latest[k] for k in sorted(latest)]

    @app.get("/api/cabinets")
    def cabinets(s: S, _: Op):
        return [{"id": c.id, "name": c.name, "location": c.location, "online": c.online,
                 "tcp_port": c.tcp_port, "tariff_id": c.tariff_id,
                 "controller_tariffs": controller_tariffs(s, c.id),
                 "last_seen": c.last_seen and domain.aware(c.last_seen).isoformat(),
                 "rooms": [room_json(r) for r in c.rooms]}
                for c in s.scalars(select(Cabinet).order_by(Cabinet.id))]

    def pushed(cabinet_ids):
        for cabinet_id in cabinet_ids:
            if links is not None:
                links.kick(cabinet_id)

    @app.patch("/api/cabinets/{cabinet_id}")
    def patch_cabinet(cabinet_id: int, body: CabinetPatch, user: Admin):
        """Rename, locate, set the tariff (admin). Setting the tariff, even to the same one,
        pushes it to the cabinet's controllers: tariff commands, listed in the answer."""
        with sessions.begin() as s:        # committed before the link is told
            c = domain.get_one(s, Cabinet, cabinet_id, "cabinet")
            if body.tariff_id is not None:
                domain.get_one(s, Tariff, body.tariff_id, "tariff")
            for k, v in body.model_dump(exclude_none=True).items():
                setattr(c, k, v)
            cmds = domain.push_tariff(s, c, user, clock()) if body.tariff_id is not None else []
            out = {"id": c.id, "name": c.name, "location": c.location, "tariff_id": c.tariff_id,
                   "commands": [command_json(x) for x in cmds]}
        pushed([cabinet_id] if cmds else [])
        return out

    @app.get("/api/rooms/{room_id}")
    def room(room_id: int, s: S, _: Op):
        r = domain.get_room(s, room_id)
        alloc = domain.current_allocation(s, room_id)
        return room_json(r) | {"tenant": alloc and {"account_id": alloc.account_id,
                                                    "name": alloc.account.name}}

    @app.patch("/api/rooms/{room_id}")
    def patch_room(room_id: int, body: RoomPatch, s: S, _: Admin):
        r = domain.get_room(s, room_id)
        for k, v in body.model_dump(exclude_none=True).items():
            setattr(r, k, v)
        return room_json(r)

    @app.get("/api/rooms/{room_id}/readings")
    def readings(room_id: int, s: S, _: Op, limit: Annotated[int, Query(ge=1, le=10000)] = 100):
        domain.get_room(s, room_id)
        rows = s.scalars(select(Reading).where(Reading.room_id == room_id)
                         .order_by(Reading.epoch.desc(), Reading.seq.desc()).limit(limit)).all()
        return [{"epoch": r.epoch, "seq": r.seq,
                 "received_at": domain.aware(r.received_at).isoformat(),
                 "measured_at": r.measured_at and domain.aware(r.measured_at).isoformat(),
                 "energy_Wh": r.energy_Wh, "power_W": r.power_100mW / 10,
                 "balance_cents": r.balance_cents, "status": r.status} for r in reversed(rows)]

    @app.get("/api/rooms/{room_id}/curve.png")
    def curve(room_id: int, s: S, _: Op, limit: Annotated[int, Query(ge=2, le=10000)] = 500):
        """The room's energy and power against time, as a PNG (matplotlib)."""
        from .curves import room_curve_png

        room = domain.get_room(s, room_id)
        rows = s.scalars(select(Reading).where(Reading.room_id == room_id)
                         .order_by(Reading.epoch.desc(), Reading.seq.desc()).limit(limit)).all()
        return Response(room_curve_png(room, list(reversed(rows))), media_type="image/png")

    @app.post("/api/rooms/{room_id}/move-in", status_code=201)
    def move_in(room_id: int, body: MoveIn, s: S, _: Op):
        a = domain.move_in(s, body.account_id, room_id, clock())
        return {"id": a.id, "account_id": a.account_id, "room_id": a.room_id}

    @app.post("/api/rooms/{room_id}/move-out")
    def move_out(room_id: int, s: S, _: Op):
        a = domain.move_out(s, room_id, clock())
        return {"id": a.id, "account_id": a.account_id, "room_id": a.room_id}

    @app.post("/api/accounts", status_code=201)
    def add_account(body: AccountIn, s: S, _: Op):
        a = Account(name=body.name, phone=body.phone, deposit_cents=body.deposit_cents,
                    created_at=clock())
        s.add(a)
        s.flush()
        return {"id": a.id, "name": a.name, "phone": a.phone, "deposit_cents": a.deposit_cents}

    @app.get("/api/accounts")
    def accounts(s: S, _: Op, name: Annotated[str | None, Query(max_length=100, pattern=PRINTABLE)] = None):
        q = select(Account).order_by(Account.id)
        if name is not None:
            q = q.where(Account.name == name)
        return [{"id": a.id, "name": a.name, "phone": a.phone, "deposit_cents": a.deposit_cents}
                for a in s.scalars(q)]

    @app.post("/api/topups")
    def topup(body: TopUpIn, user: Op):
        with sessions.begin() as s:        # committed before the link is told
            t, created = domain.request_topup(s, body.request_id, body.room_id, body.cents,
                                              user, clock())
            cabinet_id, out = t.room_ref.cabinet_id, topup_json(t)
        if created and links is not None:
            links.kick(cabinet_id)
        return JSONResponse(out, status_code=201 if created else 200)

    def queue(s, cab, kind, args, room, user):
        c = domain.request_command(s, cab, kind, args, room, user, clock())
        return c.cabinet_id, command_json(c)

    def queued(cabinet_id, out):
        if links is not None:
            links.kick(cabinet_id)
        return JSONResponse(out, status_code=202)

    @app.post("/api/rooms/{room_id}/relay")
    def relay(room_id: int, body: RelayIn, user: Op):
        """Open or close the room's relay, or reset its protection lock-out (operator)."""
        with sessions.begin() as s:        # committed before the link is told
            room = domain.get_room(s, room_id)
            out = queue(s, room.cabinet, "relay",
                        {"command": domain.RELAY_COMMANDS[body.command]}, room, user)
        return queued(*out)

    @app.put("/api/rooms/{room_id}/schedule")
    def set_schedule(room_id: int, body: ScheduleIn, user: Admin):
        """The room's daily off period (admin)."""
        with sessions.begin() as s:
            room = domain.get_room(s, room_id)
            out = queue(s, room.cabinet, "schedule", body.model_dump(), room, user)
        return queued(*out)

    @app.post("/api/cabinets/{cabinet_id}/clock")
    def push_clock(cabinet_id: int, user: Admin):
        """Set the cabinet's clock (and its controllers') to the head end's now (admin)."""
        with sessions.begin() as s:
            cab = domain.get_one(s, Cabinet, cabinet_id, "cabinet")
            out = queue(s, cab, "time", {}, None, user)
        return queued(*out)

    @app.get("/api/commands/{command_id}")
    def command_state(command_id: int, s: S, _: Op):
        return command_json(domain.get_one(s, Command, command_id, "command"))

    @app.get("/api/commands")
    def commands(s: S, _: Op, limit: Annotated[int, Query(ge=1, le=1000)] = 50):
        return [command_json(c) for c in s.scalars(select(Command).order_by(Command.id.desc())
                                                   .limit(limit))]

    @app.get("/api/topups/{topup_id}")
    def topup_state(topup_id: int, s: S, _: Op):
        return topup_json(domain.get_one(s, TopUp, topup_id, "top-up"))

    @app.get("/api/topups")
    def topups(s: S, _: Op, limit: Annotated[int, Query(ge=1, le=1000)] = 50):
        return [topup_json(t) for t in s.scalars(select(TopUp).order_by(TopUp.id.desc())
                                                 .limit(limit))]

    @app.get("/api/events")
    def events(s: S, _: Op, limit: Annotated[int, Query(ge=1, le=1000)] = 50,
               kind: Annotated[str | None, Query(max_length=24, pattern=PRINTABLE)] = None):
        q = select(Event).order_by(Event.id.desc()).limit(limit)
        if kind is not None:
            q = q.where(Event.kind == kind)
        return [{"id": e.id, "cabinet_id": e.cabinet_id, "room_id": e.room_id, "kind": e.kind,
                 "detail": e.detail, "at": domain.aware(e.at).isoformat()} for e in s.scalars(q)]

    @app.post("/api/tariffs", status_code=201)
    def add_tariff(body: TariffIn, s: S, _: Admin):
        domain.check_tariff(body.kind, body.rules)
        if s.scalar(select(Tariff).where(Tariff.name == body.name)) is not None:
            raise HTTPException(409, f"tariff {body.name!r} exists")
        t = Tariff(name=body.name, kind=body.kind, rules=body.rules)
        s.add(t)
        s.flush()
        return {"id": t.id, "name": t.name, "kind": t.kind, "rules": t.rules}

    @app.put("/api/tariffs/{tariff_id}")
    def change_tariff(tariff_id: int, body: TariffIn, user: Admin):
        """Change a tariff (admin): every cabinet on it gets it pushed to its controllers."""
        domain.check_tariff(body.kind, body.rules)
        with sessions.begin() as s:
            t = domain.get_one(s, Tariff, tariff_id, "tariff")
            other = s.scalar(select(Tariff).where(Tariff.name == body.name, Tariff.id != t.id))
            if other is not None:
                raise HTTPException(409, f"tariff {body.name!r} exists")
            t.name, t.kind, t.rules = body.name, body.kind, body.rules
            cmds = [x for cab in s.scalars(select(Cabinet).where(Cabinet.tariff_id == t.id)
                                           .order_by(Cabinet.id))
                    for x in domain.push_tariff(s, cab, user, clock())]
            out = {"id": t.id, "name": t.name, "kind": t.kind, "rules": t.rules,
                   "commands": [command_json(x) for x in cmds]}
        pushed(sorted({x["cabinet_id"] for x in out["commands"]}))
        return out

    @app.get("/api/tariffs")
    def tariffs(s: S, _: Op):
        return [{"id": t.id, "name": t.name, "kind": t.kind, "rules": t.rules}
                for t in s.scalars(select(Tariff).order_by(Tariff.id))]

    def stats_rows(s, day, month, cabinet_id):
        if (day is None) == (month is None):
            raise HTTPException(422, "give either day=YYYY-MM-DD or month=YYYY-MM")
        if day is not None:
            return domain.daily_statistics(s, day, cabinet_id)
        y, m = month.split("-")
        return domain.monthly_statistics(s, int(y), int(m), cabinet_id)

    Day = Annotated[dt.date | None, Query()]
    Month = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]

    @app.get("/api/statistics")
    def statistics(s: S, _: Op, day: Day = None, month: Month = None,
                   cabinet_id: int | None = None):
        rows = stats_rows(s, day, month, cabinet_id)
        per_cab: dict[int, dict] = {}
        for d in rows:
            c = per_cab.setdefault(d.room.cabinet_id, {"cabinet_id": d.room.cabinet_id,
                                                       "energy_Wh": 0, "cost_cents": 0,
                                                       "billed_cents": 0})
            c["energy_Wh"] += d.energy_Wh
            c["cost_cents"] += d.cost_cents
            c["billed_cents"] += d.billed_cents
        return {"rooms": [{"room_id": d.room.id, "energy_Wh": d.energy_Wh,
                           "cost_cents": d.cost_cents, "billed_cents": d.billed_cents,
                           "readings": d.readings} for d in rows],
                "cabinets": list(per_cab.values())}

    @app.get("/api/reports/statistics.csv")
    def report_csv(s: S, _: Op, day: Day = None, month: Month = None,
                   cabinet_id: int | None = None):
        return Response(domain.csv_report(s, stats_rows(s, day, month, cabinet_id)),
                        media_type="text/csv")

    return app
