"""Dashboard indexes: follow-ups due by date, line items by status.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05 04:25:00.000000

The staff dashboard asks the storage for the open leads whose follow-up is due,
earliest first, and counts the line items still waiting on their suppliers
(pending or rejected) per booking. Without an index both read every lead and
every line item; (follow_up_on, created_at, id) holds the follow-ups in the order
they are listed, and (status, booking_id) finds the few waiting items among the
many confirmed ones, already grouped by booking.
"""

from __future__ import annotations

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

#: (table, columns) of each index, named ``ix_<table>_<columns>``.
INDEXES = (
    ("leads", ("follow_up_on", "created_at", "id")),
    ("booking_items", ("status", "booking_id")),
)


def upgrade() -> None:
    for table, columns in INDEXES:
        op.create_index(f"ix_{table}_{'_'.join(columns)}", table, list(columns))


def downgrade() -> None:
    for table, columns in reversed(INDEXES):
        op.drop_index(f"ix_{table}_{'_'.join(columns)}", table_name=table)
