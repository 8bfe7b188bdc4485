"""Lead and quotation list indexes: newest first by (created_at, id), per filter.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 01:20:00.000000

Leads and quotations are listed a keyset page at a time, newest first. Without an
index holding that order an unfiltered staff list sorts every row for each page;
as for bookings (0005), the filter column (customer, assignee) leads an index on
(column, created_at, id), which also serves lookups by that column alone, so the
single-column indexes go.
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

#: (table, filter columns whose single-column index becomes a (column, created_at, id) one)
TABLES = (("leads", ("customer_id", "assignee_id")), ("quotations", ("customer_id",)))


def upgrade() -> None:
    for table, columns in TABLES:
        op.create_index(f"ix_{table}_created_at_id", table, ["created_at", "id"])
        for column in columns:
            op.drop_index(f"ix_{table}_{column}", table_name=table)
            op.create_index(
                f"ix_{table}_{column}_created_at_id", table, [column, "created_at", "id"]
            )


def downgrade() -> None:
    for table, columns in reversed(TABLES):
        for column in reversed(columns):
            op.drop_index(f"ix_{table}_{column}_created_at_id", table_name=table)
            op.create_index(f"ix_{table}_{column}", table, [column])
        op.drop_index(f"ix_{table}_created_at_id", table_name=table)
