"""List indexes: waiting-list entries of a customer, and partners, newest first.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 03:40:00.000000

A customer's waiting-list entries are listed a keyset page at a time, newest
first. As for trips (0021), the customer column leads an index on
(customer_id, created_at, id), which also serves lookups by customer alone, so the
single-column index goes. Partners are listed newest first too, so they get an
index on (created_at, id).
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_partners_created_at_id", "partners", ["created_at", "id"])
    op.drop_index("ix_waiting_lists_customer_id", table_name="waiting_lists")
    op.create_index(
        "ix_waiting_lists_customer_id_created_at_id",
        "waiting_lists",
        ["customer_id", "created_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_waiting_lists_customer_id_created_at_id", table_name="waiting_lists")
    op.create_index("ix_waiting_lists_customer_id", "waiting_lists", ["customer_id"])
    op.drop_index("ix_partners_created_at_id", table_name="partners")
