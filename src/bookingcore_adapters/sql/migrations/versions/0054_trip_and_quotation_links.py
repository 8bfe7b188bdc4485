"""Bookings name their trip; quotation documents name their quotation.

Revision ID: 0054
Revises: 0053
Create Date: 2026-12-07 04:30:00.000000

``bookings.trip_id`` (nullable, foreign key to ``trips``, indexed) is the trip a
booking is on, kept with the trip's ``booking_ids`` list.
``booking_documents.quotation_id`` (nullable, foreign key to ``quotations``,
indexed) is the quotation revision a quotation document was generated from.
Trips and quotations are never deleted, so both references restrict (the default).

Each booking a stored trip lists gets that trip's id: the trips' ``booking_ids``
JSON is read once, in Python (a booking is on one trip at most). Documents stored
before keep NULL: nothing recorded which revision they showed. Printed for a DBA
(``upgrade --sql``) the revision adds the columns only: run it online to fill
``bookings.trip_id``. On SQLite both tables are rebuilt (batch mode, foreign keys
checked before the commit).

A downgrade drops both columns and their indexes; the trips' lists stay.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from alembic import op

revision = "0054"
down_revision = "0053"
branch_labels = None
depends_on = None

#: Rows written per round trip.
BATCH = 1000

_trips = sa.table(
    "trips",
    sa.column("id", sa.Uuid()),
    sa.column("booking_ids", sa.Text()),
)
_bookings = sa.table(
    "bookings",
    sa.column("id", sa.Uuid()),
    sa.column("trip_id", sa.Uuid()),
)


def upgrade() -> None:
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trip_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_bookings_trip_id_trips"), "trips", ["trip_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_bookings_trip_id"), ["trip_id"], unique=False)
    with op.batch_alter_table("booking_documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quotation_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_booking_documents_quotation_id_quotations"),
            "quotations",
            ["quotation_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_booking_documents_quotation_id"), ["quotation_id"], unique=False
        )
    if not op.get_context().as_sql:
        _backfill_trip_ids()


def _booking_ids(stored: Any) -> list[str]:
    """A trip's ``booking_ids`` as read back: a list (JSONB) or its JSON text."""
    values = json.loads(stored) if isinstance(stored, str) else stored
    return [str(value) for value in values or ()]


def _backfill_trip_ids() -> None:
    bind = op.get_bind()
    t = _trips.c
    # JSON text on both databases, whatever the column's type.
    as_text = sa.cast(t.booking_ids, sa.Text())
    updates: list[dict[str, Any]] = []
    for row in bind.execute(sa.select(t.id, as_text.label("booking_ids")).order_by(t.id)):
        updates += [
            {"row_id": UUID(booking_id), "trip": row.id}
            for booking_id in _booking_ids(row.booking_ids)
        ]
    b = _bookings.c
    for start in range(0, len(updates), BATCH):
        bind.execute(
            _bookings.update()
            .where(b.id == sa.bindparam("row_id"))
            .values(trip_id=sa.bindparam("trip")),
            updates[start : start + BATCH],
        )


def downgrade() -> None:
    with op.batch_alter_table("booking_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booking_documents_quotation_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_booking_documents_quotation_id_quotations"), type_="foreignkey"
        )
        batch_op.drop_column("quotation_id")
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bookings_trip_id"))
        batch_op.drop_constraint(batch_op.f("fk_bookings_trip_id_trips"), type_="foreignkey")
        batch_op.drop_column("trip_id")
