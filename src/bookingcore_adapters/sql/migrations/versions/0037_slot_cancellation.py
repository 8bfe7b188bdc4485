"""A slot says whether the operator called it off.

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-06 08:50:00.000000

``slots.cancelled_at`` (nullable, UTC) and ``slots.cancellation_reason``
(nullable text): set when the operator cancels the slot (its bookings are
cancelled with it); NULL for every slot stored before this revision and for
every slot not cancelled. Downgrading drops both columns (a cancelled slot then
reads as merely closed: ``is_active`` stays false).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("cancellation_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.drop_column("cancellation_reason")
        batch_op.drop_column("cancelled_at")
