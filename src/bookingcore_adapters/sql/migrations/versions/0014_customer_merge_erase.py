"""Customers merged into another one, and customers whose personal data was erased.

Revision ID: 0014
Revises: 0008
Create Date: 2026-12-04 21:00:00.000000

``customers.merged_into_id`` points at the customer a duplicate was merged
into (reads leave merged customers out); ``customers.erased_at`` is when the
customer's personal fields were anonymised (GDPR erasure).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0008"
branch_labels = None
depends_on = None

#: A timezone-aware timestamp, stored in UTC.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("erased_at", UTC_DATETIME, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_customers_merged_into_id_customers"),
            "customers",
            ["merged_into_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_customers_merged_into_id_customers"), type_="foreignkey"
        )
        batch_op.drop_column("erased_at")
        batch_op.drop_column("merged_into_id")
