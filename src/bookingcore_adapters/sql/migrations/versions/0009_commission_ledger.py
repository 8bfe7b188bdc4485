"""Partners' commission ledger: accruals and reversals, append-only, one entry per key.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 21:00:00.000000

``commission_ledger.key`` is unique (``accrual:<payment>``, ``refund:<refund>``,
``cancellation:<payment>:<status change>``), so a capture, refund or
cancellation is on the ledger once. Reports read it by partner and time.
``payment_id`` and ``refund_id`` have no foreign key on purpose: checking one
share-locks the payment row, which would make a cancellation and a refund of
one booking wait for each other in opposite orders.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

#: A timezone-aware timestamp, stored in UTC.
UTC_DATETIME = sa.DateTime(timezone=True)
#: Money amounts: NUMERIC(18, 4) on PostgreSQL, decimal text (VARCHAR) on SQLite.
MONEY_AMOUNT = sa.Numeric(18, 4).with_variant(sa.String(), "sqlite")
#: Exact decimals (the commission rate): NUMERIC on PostgreSQL, decimal text on SQLite.
EXACT_DECIMAL = sa.Numeric().with_variant(sa.String(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "commission_ledger",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("refund_id", sa.Uuid(), nullable=True),
        sa.Column("base", MONEY_AMOUNT, nullable=False),
        sa.Column("rate", EXACT_DECIMAL, nullable=False),
        sa.Column("amount", MONEY_AMOUNT, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("recorded_at", UTC_DATETIME, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_commission_ledger_partner_id_partners")
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_commission_ledger_booking_id_bookings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_ledger")),
        sa.UniqueConstraint("key", name=op.f("uq_commission_ledger_key")),
    )
    with op.batch_alter_table("commission_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_commission_ledger_booking_id"), ["booking_id"])
        batch_op.create_index(
            "ix_commission_ledger_partner_recorded", ["partner_id", "recorded_at"]
        )
        batch_op.create_index("ix_commission_ledger_recorded_at", ["recorded_at"])


def downgrade() -> None:
    op.drop_table("commission_ledger")
