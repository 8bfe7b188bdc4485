"""List indexes of trips, suppliers and products: newest first by (created_at, id).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 01:25:00.000000

A customer's trips are listed a keyset page at a time, newest first. As for leads
and quotations (0020), the customer column leads an index on
(customer_id, created_at, id), which also serves lookups by customer alone, so the
single-column index goes. Suppliers and products are listed newest first too, so
each gets an index on (created_at, id).
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


#: Tables listed newest first with no filter leading the order.
NEWEST_FIRST = ("suppliers", "products")


def upgrade() -> None:
    for table in NEWEST_FIRST:
        op.create_index(f"ix_{table}_created_at_id", table, ["created_at", "id"])
    op.drop_index("ix_trips_customer_id", table_name="trips")
    op.create_index(
        "ix_trips_customer_id_created_at_id", "trips", ["customer_id", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_trips_customer_id_created_at_id", table_name="trips")
    op.create_index("ix_trips_customer_id", "trips", ["customer_id"])
    for table in reversed(NEWEST_FIRST):
        op.drop_index(f"ix_{table}_created_at_id", table_name=table)
