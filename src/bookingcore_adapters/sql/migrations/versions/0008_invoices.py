"""Invoices and credit notes, and the series their gapless numbers come from.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 19:00:00.000000

``invoices.number`` is unique; ``invoice_series.key`` (``"2026/DL01"``) is
unique, and a series' row is locked to take its next number.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: A timezone-aware timestamp, stored in UTC.
UTC_DATETIME = sa.DateTime(timezone=True)
#: Money amounts: NUMERIC(18, 4) on PostgreSQL, decimal text (VARCHAR) on SQLite.
MONEY_AMOUNT = sa.Numeric(18, 4).with_variant(sa.String(), "sqlite")
#: JSON documents: JSONB on PostgreSQL, JSON text elsewhere.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _money(name: str) -> sa.Column[object]:
    return sa.Column(name, MONEY_AMOUNT, nullable=False)


def upgrade() -> None:
    op.create_table(
        "invoice_series",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("next_number", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_series")),
        sa.UniqueConstraint("key", name=op.f("uq_invoice_series_key")),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("series_key", sa.String(length=80), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("refund_id", sa.Uuid(), nullable=True),
        sa.Column("credited_invoice_id", sa.Uuid(), nullable=True),
        sa.Column("issued_at", UTC_DATETIME, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("lines", JSON_DOCUMENT, nullable=False),
        _money("subtotal"),
        _money("discount"),
        _money("tax"),
        _money("total"),
        _money("paid"),
        _money("due"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_invoices_booking_id_bookings")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_invoices_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_invoices_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"],
            ["payment_refunds.id"],
            name=op.f("fk_invoices_refund_id_payment_refunds"),
        ),
        sa.ForeignKeyConstraint(
            ["credited_invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoices_credited_invoice_id_invoices"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("number", name=op.f("uq_invoices_number")),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoices_booking_id"), ["booking_id"])
        batch_op.create_index(batch_op.f("ix_invoices_customer_id"), ["customer_id"])
        batch_op.create_index(batch_op.f("ix_invoices_payment_id"), ["payment_id"])


def downgrade() -> None:
    op.drop_table("invoices")
    op.drop_table("invoice_series")
