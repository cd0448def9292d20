"""initial schema: users, tokens, tariffs, cabinets, rooms, accounts, allocations, top-ups,
readings, events

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("pw_salt", sa.String(64), nullable=False),
        sa.Column("pw_hash", sa.String(128), nullable=False),
        sa.Column("created_at", TZ, nullable=False))
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("expires_at", TZ, nullable=False))
    op.create_table(
        "tariffs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("rules", sa.JSON, nullable=False))
    op.create_table(
        "cabinets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("location", sa.String(200), nullable=False),
        sa.Column("tcp_port", sa.Integer, unique=True),
        sa.Column("tariff_id", sa.Integer, sa.ForeignKey("tariffs.id")),
        sa.Column("online", sa.Boolean, nullable=False),
        sa.Column("last_seen", TZ),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("last_seq", sa.Integer, nullable=False))
    op.create_table(
        "rooms",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cabinet_id", sa.Integer, sa.ForeignKey("cabinets.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("controller", sa.Integer, nullable=False),
        sa.Column("room", sa.Integer, nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("low_balance_cents", sa.Integer, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("reason", sa.Integer, nullable=False),
        sa.Column("power_W", sa.Float, nullable=False),
        sa.Column("energy_Wh", sa.Integer, nullable=False),
        sa.Column("cost_cents", sa.Integer, nullable=False),
        sa.Column("balance_cents", sa.Integer, nullable=False),
        sa.Column("trips", sa.Integer, nullable=False),
        sa.Column("updated_at", TZ),
        sa.UniqueConstraint("cabinet_id", "controller", "room"))
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(40), nullable=False),
        sa.Column("deposit_cents", sa.Integer, nullable=False),
        sa.Column("created_at", TZ, nullable=False))
    op.create_table(
        "allocations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("room_id", sa.Integer, sa.ForeignKey("rooms.id"), nullable=False),
        sa.Column("moved_in", TZ, nullable=False),
        sa.Column("moved_out", TZ))
    op.create_table(
        "topups",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False, unique=True),
        sa.Column("room_id", sa.Integer, sa.ForeignKey("rooms.id"), nullable=False),
        sa.Column("cents", sa.Integer, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id")),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("done_at", TZ))
    op.create_table(
        "readings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cabinet_id", sa.Integer, sa.ForeignKey("cabinets.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("room_id", sa.Integer, sa.ForeignKey("rooms.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        *[sa.Column(c, sa.Integer, nullable=False) for c in (
            "status", "reason", "energy_Wh", "cost_cents", "balance_cents", "voltage_10mV",
            "current_mA", "power_100mW", "pf_milli", "freq_10mHz", "trips", "age_s")],
        sa.UniqueConstraint("cabinet_id", "epoch", "seq"))
    op.create_index("ix_readings_room_time", "readings", ["room_id", "received_at"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cabinet_id", sa.Integer, sa.ForeignKey("cabinets.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("room_id", sa.Integer, sa.ForeignKey("rooms.id", ondelete="CASCADE")),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("acknowledged", sa.Boolean, nullable=False))


def downgrade() -> None:
    for table in ("events", "readings", "topups", "allocations", "accounts", "rooms", "cabinets",
                  "tariffs", "tokens", "users"):
        op.drop_table(table)
