"""commands (relay, schedule, time) for the cabinets; readings keep the cabinet's clock of
their snapshot (the link's T line); rooms keep their latest reading's and their confirmed schedule

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("readings") as b:       # batch: SQLite rebuilds the table
        b.add_column(sa.Column("measured_at", TZ))
    op.create_index("ix_readings_room_measured", "readings", ["room_id", "measured_at"])
    with op.batch_alter_table("rooms") as b:
        b.add_column(sa.Column("measured_at", TZ))
        b.add_column(sa.Column("schedule_off_min", sa.Integer))
        b.add_column(sa.Column("schedule_on_min", sa.Integer))
    op.create_table(
        "commands",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cabinet_id", sa.Integer, sa.ForeignKey("cabinets.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("room_id", sa.Integer, sa.ForeignKey("rooms.id", ondelete="CASCADE")),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("args", sa.JSON, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id")),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("done_at", TZ))


def downgrade() -> None:
    op.drop_table("commands")
    with op.batch_alter_table("rooms") as b:
        b.drop_column("schedule_on_min")
        b.drop_column("schedule_off_min")
        b.drop_column("measured_at")
    op.drop_index("ix_readings_room_measured", "readings")
    with op.batch_alter_table("readings") as b:
        b.drop_column("measured_at")
