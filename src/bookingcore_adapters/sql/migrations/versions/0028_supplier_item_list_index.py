"""List index: a supplier's line items newest first by (supplier_id, created_at, id).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05 04:40:00.000000

A supplier's line items are listed a keyset page at a time, newest first. As for
trips (0021) and waiting lists (0022), the supplier column leads an index on
(supplier_id, created_at, id), which also serves lookups by supplier alone, so the
single-column index goes.
"""

from __future__ import annotations

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_booking_items_supplier_id", table_name="booking_items")
    op.create_index(
        "ix_booking_items_supplier_id_created_at_id",
        "booking_items",
        ["supplier_id", "created_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_booking_items_supplier_id_created_at_id", table_name="booking_items")
    op.create_index("ix_booking_items_supplier_id", "booking_items", ["supplier_id"])
