"""One registry of idempotency keys: a key belongs to the kind of operation that first used it.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-06 03:00:00.000000

``idempotency_keys`` holds one row per stored (principal-scoped) key: the key
(unique), the ``operation`` it was first used for (``booking``, ``transition``,
``message``, ``payment``, ``refund``, ``lead``, ``quotation``, ``reschedule``)
and when. The id derives from the key (UUID 5 in the namespace below, as
``bookingcore.domain.idempotency.key_claim_id`` computes it). Every keyed
operation claims its key in the transaction of its change, instead of reading
every other kind's table for it first.

The keys already stored beside what they made (bookings, status changes,
messages, payment intents, leads, quotation revisions) are registered here,
each with its row's time; a key found in two tables keeps the first kind in
that order. Keys of reschedules and refunds made before this revision cannot be
registered (their rows keep only ids derived from the key): a retry of one
still finds what it made, but another kind of operation may now take its key.
Printing the DDL (``upgrade --sql``) prints no backfill: the ids are computed
in Python, from rows an offline script cannot read.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

#: Times as this revision creates them (what bookingcore's UtcDateTime renders to).
UTC_DATETIME = sa.DateTime(timezone=True)

#: The namespace claims' ids derive from their keys in.
NAMESPACE = uuid.UUID("5f0c2b7e-9a41-4d3c-8e26-1b7d4a9c3f58")

#: Rows read and written per round trip while registering the stored keys.
BATCH = 1000

#: Where each kind of operation kept its keys before this revision: table, key column,
#: time column, operation. A key in two tables keeps the first kind listed.
STORES = (
    ("bookings", "idempotency_key", "created_at", "booking"),
    ("booking_lifecycle_events", "idempotency_key", "occurred_at", "transition"),
    ("booking_communications", "dedupe_key", "created_at", "message"),
    ("payments", "idempotency_key", "created_at", "payment"),
    ("leads", "idempotency_key", "created_at", "lead"),
    ("quotations", "idempotency_key", "created_at", "quotation"),
)

_registry = sa.table(
    "idempotency_keys",
    sa.column("id", sa.Uuid()),
    sa.column("key", sa.String()),
    sa.column("operation", sa.String()),
    sa.column("created_at", UTC_DATETIME),
)


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("operation", sa.String(length=40), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("key", name=op.f("uq_idempotency_keys_key")),
    )
    if op.get_context().as_sql:
        return
    for table, key, at, operation in STORES:
        _register(table, key, at, operation)


def _register(table: str, key: str, at: str, operation: str) -> None:
    """Claim every key ``table`` stores for ``operation``, skipping keys claimed already."""
    bind = op.get_bind()
    source = sa.table(table, sa.column(key, sa.String()), sa.column(at, UTC_DATETIME))
    query = sa.select(source.c[key], source.c[at]).where(source.c[key].is_not(None))
    result = bind.execute(query.execution_options(yield_per=BATCH))
    for rows in result.partitions():
        claims = [
            {"id": uuid.uuid5(NAMESPACE, k), "key": k, "operation": operation, "created_at": t}
            for k, t in rows
        ]
        _insert_ignoring_duplicates(bind, claims)


def _insert_ignoring_duplicates(bind: sa.Connection, claims: list[dict[str, object]]) -> None:
    """Insert ``claims`` into the registry, skipping keys claimed already."""
    dialect = bind.dialect.name
    if dialect in {"postgresql", "sqlite"}:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        bind.execute(insert(_registry).on_conflict_do_nothing(), claims)
        return
    for claim in claims:  # another database: one savepoint a row
        try:
            with bind.begin_nested():
                bind.execute(sa.insert(_registry), claim)
        except sa.exc.IntegrityError:
            continue


def downgrade() -> None:
    op.drop_table("idempotency_keys")
