"""A claim on an idempotency key can remember what its call made.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-06 04:30:00.000000

``idempotency_keys.made_id`` (nullable UUID) is the id of what the call that
claimed the key made, for operations whose retries find their result through
the claim: an advisor note (``operation`` ``note``, the id of its audit entry)
and a group (``group``, the group's id). Claims of every other operation, and
every claim stored before this revision, keep it NULL. Downgrading drops the
column: a retry of a keyed note or group then cannot find what it made.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("made_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_column("made_id")
