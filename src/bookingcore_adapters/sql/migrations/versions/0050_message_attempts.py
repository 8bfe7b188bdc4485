"""Message attempts.

Revision ID: 0050
Revises: 0049
Create Date: 2026-12-06 22:00:00.000000

``booking_communications.attempts`` (not null, ``0`` for the messages stored
before: they were not counted) is how many times a message was handed to its
channel; every claim for sending adds one. ``booking_communications.retryable``
(a nullable boolean, ``NULL`` for the messages stored before: unknown) says
whether a message's last failure may work later. A reminder whose last failure
is retryable is tried again by the reminder job, up to
``Settings.reminder_attempts`` attempts; one with ``NULL`` is not.

A downgrade drops both columns and keeps the rows; on SQLite each column is
dropped in place, never by copying the table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0050"
down_revision = "0049"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("booking_communications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("retryable", sa.Boolean(), nullable=True))


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for column in ("attempts", "retryable"):
        if sqlite:
            # SQLite 3.35+ drops the column in place; a batch copy would rebuild the table.
            op.execute(f"ALTER TABLE booking_communications DROP COLUMN {column}")
        else:
            op.drop_column("booking_communications", column)
