"""A booking's document records the staff member who generated it.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-06 08:10:00.000000

``booking_documents.generated_by`` (nullable UUID, no foreign key, as every
actor column) is the id of the staff member who generated the document on
demand (``TravelDocumentService.generate``). It is NULL for a document an
automation handler made (that one has ``source_event_id``) and for every
document stored before this revision. Downgrading drops the column.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("booking_documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("generated_by", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("booking_documents", schema=None) as batch_op:
        batch_op.drop_column("generated_by")
