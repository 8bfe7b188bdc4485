"""Customers carry their id in another system: what an import of a ``users`` table matches on.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 23:55:00.000000

``customers.external_id`` is unique when set (NULL for customers made here);
a travelers file names its customer by it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_customers_external_id"), ["external_id"])


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_customers_external_id"), type_="unique")
        batch_op.drop_column("external_id")
