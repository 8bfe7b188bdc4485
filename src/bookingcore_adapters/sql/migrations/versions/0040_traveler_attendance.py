"""A booked traveler's attendance: whether they turned up, when, by whom.

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-06 10:50:00.000000

On ``booking_travelers``, all nullable: ``attendance`` (``attended``,
``no_show`` or ``unknown``), ``attendance_recorded_at`` (UTC),
``attendance_recorded_by_kind`` and ``attendance_recorded_by_id`` (the actor)
and ``attendance_note``. NULL (every traveler stored before this revision, and
every one nobody marked): no attendance recorded. Downgrading drops the columns
(and with them every recorded attendance; the audit trail keeps the changes).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("booking_travelers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attendance", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("attendance_recorded_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("attendance_recorded_by_kind", sa.String(length=40), nullable=True)
        )
        batch_op.add_column(sa.Column("attendance_recorded_by_id", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("attendance_note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("booking_travelers", schema=None) as batch_op:
        batch_op.drop_column("attendance_note")
        batch_op.drop_column("attendance_recorded_by_id")
        batch_op.drop_column("attendance_recorded_by_kind")
        batch_op.drop_column("attendance_recorded_at")
        batch_op.drop_column("attendance")
