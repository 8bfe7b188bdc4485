"""Payments keep their open attention items in columns: one per reason, indexed by age.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-06 03:40:00.000000

``payments.attention`` is a JSON list of the payment's open attention items
(``{"code", "text", "since"}``, ``since`` in ISO 8601 with its offset), one per
reason, and ``payments.attention_since`` the ``since`` of the oldest (NULL when
none is open). ``ix_payments_attention_since_id`` on ``(attention_since, id)``
holds only the payments with an open item (partial on PostgreSQL and SQLite), so
listing the payments needing staff reads that index, oldest first, instead of the
JSON of every payment.

A flag stored before (``metadata.needs_attention``, one text) becomes one item,
its code read from the words the library wrote (``other`` when none match), its
``since`` the payment's ``created_at`` (the order they were listed in); the key
leaves ``metadata``. Downgrading writes the texts of the open items back to
``metadata.needs_attention`` (joined with ``"; "``). Printing the DDL
(``upgrade --sql``) prints no backfill: the JSON is read in Python.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

#: Times as this revision creates them (what bookingcore's UtcDateTime renders to).
UTC_DATETIME = sa.DateTime(timezone=True)

#: JSON documents: JSONB on PostgreSQL, JSON text elsewhere.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

#: Rows read per round trip while moving the flags.
BATCH = 1000

#: The metadata key flags were kept in before this revision.
OLD_KEY = "needs_attention"

#: Words the library wrote in each kind of flag, and the reason code they become.
CODES = (
    ("that the payment cannot hold", "unreconciled_refund"),
    ("payment captured after booking", "late_payment"),
    ("could not take it", "capture_unsettled"),
    ("but it was refused", "capture_refused"),
    ("without its amount", "refund_without_amount"),
    ("due on", "overpaid"),
)

_payments = sa.table(
    "payments",
    sa.column("id", sa.Uuid()),
    sa.column("metadata", JSON_DOCUMENT),
    sa.column("attention", JSON_DOCUMENT),
    sa.column("attention_since", UTC_DATETIME),
    sa.column("created_at", UTC_DATETIME),
)


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("attention", JSON_DOCUMENT, nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("attention_since", UTC_DATETIME, nullable=True))
        batch_op.create_index(
            "ix_payments_attention_since_id",
            ["attention_since", "id"],
            postgresql_where=sa.text("attention_since IS NOT NULL"),
            sqlite_where=sa.text("attention_since IS NOT NULL"),
        )
    if not op.get_context().as_sql:
        _move_flags_to_columns()
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.alter_column("attention", existing_type=JSON_DOCUMENT, server_default=None)


def _code(text: str) -> str:
    return next((code for words, code in CODES if words in text), "other")


def _iso(moment: datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


def _move_flags_to_columns() -> None:
    """Each ``metadata.needs_attention`` becomes an open item; the key is dropped."""
    bind = op.get_bind()
    query = sa.select(_payments.c.id, _payments.c.metadata, _payments.c.created_at)
    moved = []
    for rows in bind.execute(query.execution_options(yield_per=BATCH)).partitions():
        for ident, meta, created_at in rows:
            text = (meta or {}).get(OLD_KEY)
            if text is None:
                continue
            item = {"code": _code(text), "text": text, "since": _iso(created_at)}
            rest = {k: v for k, v in meta.items() if k != OLD_KEY}
            moved.append((ident, rest, [item], created_at))
    for ident, rest, items, since in moved:
        bind.execute(
            _payments.update()
            .where(_payments.c.id == ident)
            .values(metadata=rest, attention=items, attention_since=since)
        )


def downgrade() -> None:
    if not op.get_context().as_sql:
        _move_flags_to_metadata()
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_attention_since_id")
        batch_op.drop_column("attention_since")
        batch_op.drop_column("attention")


def _move_flags_to_metadata() -> None:
    """The texts of each payment's open items go back to ``metadata.needs_attention``."""
    bind = op.get_bind()
    query = sa.select(_payments.c.id, _payments.c.metadata, _payments.c.attention).where(
        _payments.c.attention_since.is_not(None)
    )
    moved = []
    for ident, meta, items in bind.execute(query).all():
        texts = [i["text"] for i in sorted(items, key=lambda i: i["since"])]
        moved.append((ident, {**(meta or {}), OLD_KEY: "; ".join(texts)}))
    for ident, meta in moved:
        bind.execute(_payments.update().where(_payments.c.id == ident).values(metadata=meta))
