"""A product says who may be booked on it.

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-06 09:10:00.000000

``products.requirements`` (nullable JSON: JSONB on PostgreSQL, JSON text
elsewhere) holds the product's ``ProductRequirements`` as data, shape version 1::

    {"version": 1, "min_age": 10, "max_age": null,
     "certificates": ["PADI Open Water"], "certificates_rule": "all"}

NULL (every product stored before this revision): anyone may be booked on it,
as before. Downgrading drops the column (and with it every product's requirements).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None

#: JSON documents: JSONB on PostgreSQL, JSON text elsewhere.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requirements", JSON_DOCUMENT, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("requirements")
