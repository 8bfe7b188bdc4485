"""Waiting-list entries are offered seats on their alternative dates.

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-06 11:00:00.000000

``waiting_lists.offered_slot_id`` (nullable UUID, by value only like
``bookings.group_id``: a foreign key would rebuild the table on SQLite) names
the slot an offer holds seats on when it is another slot than the entry's own,
one on an alternative date. NULL for every entry stored before this revision:
their offers are on their own slots.

``ix_waiting_lists_alternative_dates`` lets the adapter find who waits for a
day with a query: on PostgreSQL a GIN index (``jsonb_path_ops``) on the JSONB
array that answers ``alternative_dates @> '["2026-06-05"]'``; on SQLite a plain
index on the JSON text (the ``json_each`` query reads the rows it keeps).

Downgrading drops both (alternative-date offers then read as offers on the
entry's own slot: close them first).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("waiting_lists", schema=None) as batch_op:
        batch_op.add_column(sa.Column("offered_slot_id", sa.Uuid(), nullable=True))
    op.create_index(
        "ix_waiting_lists_alternative_dates",
        "waiting_lists",
        ["alternative_dates"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"alternative_dates": "jsonb_path_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_waiting_lists_alternative_dates", table_name="waiting_lists")
    with op.batch_alter_table("waiting_lists", schema=None) as batch_op:
        batch_op.drop_column("offered_slot_id")
