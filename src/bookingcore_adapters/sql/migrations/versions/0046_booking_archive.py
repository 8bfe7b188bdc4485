"""Booking archive: when a booking left the operational lists, and an index of the live ones.

Revision ID: 0046
Revises: 0045
Create Date: 2026-12-06 14:00:00.000000

``bookings.archived_at`` (nullable) is set when an ended booking is archived
(``core.archive.archive_due``) and cleared when staff unarchive it. Every
booking stored before this revision is live (``NULL``).

``ix_bookings_live_starts_at_id`` indexes ``(starts_at, id)`` of the live
bookings only (``WHERE archived_at IS NULL``): archiving walks them by slot
start, and the index shrinks as bookings are archived instead of growing with
the whole history. The staff lists keep their full indexes: a newest-first page
reads the newest rows, which are live, so a second, partial copy of each list
index would cost every write and spare no read (docs/archiving.md, *Storage*).

A downgrade drops both and keeps every booking: on SQLite the column is dropped
in place, never by copying the table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0046"
down_revision = "0045"
branch_labels = None
depends_on = None

#: The index of the live bookings by slot start.
LIVE_INDEX = "ix_bookings_live_starts_at_id"


def upgrade() -> None:
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    live = sa.column("archived_at").is_(None)
    op.create_index(
        LIVE_INDEX,
        "bookings",
        ["starts_at", "id"],
        postgresql_where=live,
        sqlite_where=live,
    )


def downgrade() -> None:
    op.drop_index(LIVE_INDEX, table_name="bookings")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite 3.35+ drops the column in place. A batch copy would drop and rebuild
        # ``bookings``, and with foreign keys on that drop deletes every booking's
        # travelers (``ON DELETE CASCADE``).
        op.execute("ALTER TABLE bookings DROP COLUMN archived_at")
    else:
        op.drop_column("bookings", "archived_at")
