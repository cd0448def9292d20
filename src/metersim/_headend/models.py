"""The head end's tables (SQLAlchemy 2 declarative models). Money in cents, energy in Wh, times
in UTC; the migration in migrations/versions/ creates the same schema (tests compare them)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint,
                        Index)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ROLES = ("operator", "admin")
TARIFF_KINDS = ("flat", "tou", "steps")
TOPUP_STATES = ("pending", "sent", "done", "failed", "unconfirmed")
COMMAND_KINDS = ("relay", "schedule", "time", "tariff")
COMMAND_STATES = TOPUP_STATES
EVENT_KINDS = ("malicious_load", "overload", "over_current", "load_limit", "arrears",
               "low_balance", "reading_gap", "topup_unconfirmed", "cabinet_online",
               "cabinet_offline", "command_failed")


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    pw_salt: Mapped[str] = mapped_column(String(64))
    pw_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Token(Base):
    """A bearer token: only its SHA-256 is stored, so a copy of the database logs nobody in."""
    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    user: Mapped[User] = relationship()


class Tariff(Base):
    """flat: rules = {"cents_per_kWh": p}; tou: {"periods": [[from_hour, to_hour, p], ...]}
    covering 0..24; steps: {"steps": [[up_to_kWh_per_month or null, p], ...]}."""
    __tablename__ = "tariffs"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    rules: Mapped[dict] = mapped_column(JSON)


class Cabinet(Base):
    """One query manager and its controllers; `tcp_port` is the port its link arrives on."""
    __tablename__ = "cabinets"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    location: Mapped[str] = mapped_column(String(200), default="")
    tcp_port: Mapped[int | None] = mapped_column(Integer, unique=True)
    tariff_id: Mapped[int | None] = mapped_column(ForeignKey("tariffs.id"))
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    epoch: Mapped[int] = mapped_column(Integer, default=0)    # query-manager start-ups seen
    last_seq: Mapped[int] = mapped_column(Integer, default=0)  # last R line stored this epoch
    rooms: Mapped[list[Room]] = relationship(back_populates="cabinet",
                                             order_by="(Room.controller, Room.room)")
    tariff: Mapped[Tariff | None] = relationship()


class Room(Base):
    """A room = one channel of one controller; its latest reading is kept here for the live view."""
    __tablename__ = "rooms"
    __table_args__ = (UniqueConstraint("cabinet_id", "controller", "room"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cabinet_id: Mapped[int] = mapped_column(ForeignKey("cabinets.id", ondelete="CASCADE"))
    controller: Mapped[int] = mapped_column(Integer)     # Modbus address 1..8
    room: Mapped[int] = mapped_column(Integer)           # 0-based channel, as in the register map
    label: Mapped[str] = mapped_column(String(64), default="")
    low_balance_cents: Mapped[int] = mapped_column(Integer, default=1000)
    status: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[int] = mapped_column(Integer, default=0)
    power_W: Mapped[float] = mapped_column(Float, default=0.0)
    energy_Wh: Mapped[int] = mapped_column(Integer, default=0)
    cost_cents: Mapped[int] = mapped_column(Integer, default=0)
    balance_cents: Mapped[int] = mapped_column(Integer, default=0)
    trips: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    measured_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))  # its T time
    # the daily off period the controller confirmed (minutes of the day; None: no schedule)
    schedule_off_min: Mapped[int | None] = mapped_column(Integer)
    schedule_on_min: Mapped[int | None] = mapped_column(Integer)
    cabinet: Mapped[Cabinet] = relationship(back_populates="rooms")


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(40), default="")
    deposit_cents: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Allocation(Base):
    """Who lives in a room from move-in to move-out (open while moved_out is null)."""
    __tablename__ = "allocations"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    moved_in: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    moved_out: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    account: Mapped[Account] = relationship()
    room_ref: Mapped[Room] = relationship()


class TopUp(Base):
    """A payment for a room, applied once per `request_id` (the client's idempotency key)."""
    __tablename__ = "topups"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    cents: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    room_ref: Mapped[Room] = relationship()


class Reading(Base):
    """One R line of the link, stored once: (cabinet, epoch, seq) is unique."""
    __tablename__ = "readings"
    __table_args__ = (UniqueConstraint("cabinet_id", "epoch", "seq"),
                      Index("ix_readings_room_time", "room_id", "received_at"),
                      Index("ix_readings_room_measured", "room_id", "measured_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    cabinet_id: Mapped[int] = mapped_column(ForeignKey("cabinets.id", ondelete="CASCADE"))
    epoch: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # the cabinet's clock at the snapshot (the T line before it); None if the cabinet sent none
    measured_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[int] = mapped_column(Integer)
    reason: Mapped[int] = mapped_column(Integer)
    energy_Wh: Mapped[int] = mapped_column(Integer)
    cost_cents: Mapped[int] = mapped_column(Integer)
    balance_cents: Mapped[int] = mapped_column(Integer)
    voltage_10mV: Mapped[int] = mapped_column(Integer)
    current_mA: Mapped[int] = mapped_column(Integer)
    power_100mW: Mapped[int] = mapped_column(Integer)
    pf_milli: Mapped[int] = mapped_column(Integer)
    freq_10mHz: Mapped[int] = mapped_column(Integer)
    trips: Mapped[int] = mapped_column(Integer)
    age_s: Mapped[int] = mapped_column(Integer)


class Event(Base):
    """Alarms and records: malicious load, overload, arrears, gaps, link state..."""
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    cabinet_id: Mapped[int] = mapped_column(ForeignKey("cabinets.id", ondelete="CASCADE"))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)


class Command(Base):
    """A command for a cabinet through its link: relay (args {"command": 0 open, 1 close,
    2 reset lock-out}), schedule ({"off_min", "on_min"}: minutes of the day or None), time (set
    the cabinet's clock now) or tariff ({"controller", "tariff_id", "flat", "mode", "prices",
    "periods"}: one controller's tariff registers, room_id None). States as top-ups; a relay,
    schedule or tariff command is the same whether sent once or twice, so one cut by a lost
    link goes out again on the next."""
    __tablename__ = "commands"
    id: Mapped[int] = mapped_column(primary_key=True)
    cabinet_id: Mapped[int] = mapped_column(ForeignKey("cabinets.id", ondelete="CASCADE"))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))
    args: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    room_ref: Mapped[Room | None] = relationship()
