"""A product keeps its own cancellation terms.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-06 08:40:00.000000

``products.cancellation_policy`` (nullable JSON: JSONB on PostgreSQL, JSON
text elsewhere) holds the product's ``CancellationPolicy`` as data, shape
version 1::

    {"version": 1, "self_service_until_seconds": 86400,
     "refund_tiers": [{"notice_seconds": 604800, "refund_percent": "100"}]}

durations in whole seconds, percents as decimal strings, tiers longest notice
first. NULL (every product stored before this revision): the product's
bookings follow the settings' policy, as before. Downgrading drops the column
(and with it every product's own terms).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None

#: JSON documents: JSONB on PostgreSQL, JSON text elsewhere.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancellation_policy", JSON_DOCUMENT, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("cancellation_policy")
