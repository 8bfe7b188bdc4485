"""Message claims and share link opens.

Revision ID: 0049
Revises: 0048
Create Date: 2026-12-06 16:30:00.000000

``booking_communications.sending_claim`` (a nullable UUID) is the token of the
sender that holds a pending message at the gateway: every sender claims the
message with a compare-and-set on it before it hands the message to the
notifier, and records the notifier's answer as the holder only while the token
is still its own. Messages stored before have none: nobody holds them, so the
first sender that finds one pending may claim it.

``share_links.view_count`` (not null, ``0`` for the links stored before) and
``share_links.last_opened_at`` (nullable) count the opens of each link: one
``UPDATE`` per open. A downgrade drops the three columns and keeps the rows; on
SQLite each column is dropped in place, never by copying the table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0049"
down_revision = "0048"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("booking_communications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sending_claim", sa.Uuid(), nullable=True))
    with op.batch_alter_table("share_links", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("view_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("last_opened_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    columns = (
        ("booking_communications", "sending_claim"),
        ("share_links", "view_count"),
        ("share_links", "last_opened_at"),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column in columns:
        if sqlite:
            # SQLite 3.35+ drops the column in place; a batch copy would rebuild the table.
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        else:
            op.drop_column(table, column)
