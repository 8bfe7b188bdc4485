"""Vouchers (promo codes), their redemptions, and the voucher a booking was made with.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-06 09:00:00.000000

``vouchers``: one row per code (unique, stored upper-case), a percent
(``percent_off``) or a fixed amount (``amount_off_amount`` in
``amount_off_currency``) off, an optional validity window, the products and
locations it is limited to (JSON lists of ids; empty: all), ``max_uses`` (NULL:
unlimited) and the ``uses`` counted so far, ``max_uses_per_customer``,
``min_travelers``, ``active`` and an optimistic ``version``.

``voucher_redemptions``: one row per booking made with a voucher (its booking,
customer, when, and the amount it took off); ``booking_id`` is unique.

``bookings.voucher_code`` and ``bookings.voucher_discount_amount`` (nullable):
the code a booking was made with and what it took off (part of
``discount_amount``); NULL for every booking stored before this revision.
Downgrading drops both tables and both columns.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None

#: JSON documents: JSONB on PostgreSQL, JSON text elsewhere.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _amount(precision: int, scale: int) -> sa.types.TypeEngine[Any]:
    """An exact amount: NUMERIC, decimal text on SQLite (as the adapter stores it)."""
    return sa.Numeric(precision, scale).with_variant(sa.String(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "vouchers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("percent_off", _amount(7, 4), nullable=True),
        sa.Column("amount_off_amount", _amount(18, 4), nullable=True),
        sa.Column("amount_off_currency", sa.String(length=3), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("product_ids", JSON_DOCUMENT, nullable=False),
        sa.Column("location_ids", JSON_DOCUMENT, nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("max_uses_per_customer", sa.Integer(), nullable=True),
        sa.Column("min_travelers", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vouchers")),
        sa.UniqueConstraint("code", name=op.f("uq_vouchers_code")),
    )
    op.create_index(
        op.f("ix_vouchers_created_at_id"), "vouchers", ["created_at", "id"], unique=False
    )
    op.create_table(
        "voucher_redemptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("voucher_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount", _amount(18, 4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["voucher_id"], ["vouchers.id"], name=op.f("fk_voucher_redemptions_voucher_id_vouchers")
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_voucher_redemptions_booking_id_bookings")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_voucher_redemptions_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_redemptions")),
    )
    op.create_index(
        op.f("ix_voucher_redemptions_voucher_id_customer_id"),
        "voucher_redemptions",
        ["voucher_id", "customer_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_voucher_redemptions_booking_id"),
        "voucher_redemptions",
        ["booking_id"],
        unique=True,
    )
    op.create_index(
        op.f("ix_voucher_redemptions_customer_id"),
        "voucher_redemptions",
        ["customer_id"],
        unique=False,
    )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("voucher_code", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("voucher_discount_amount", _amount(18, 4), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_column("voucher_discount_amount")
        batch_op.drop_column("voucher_code")
    op.drop_index(op.f("ix_voucher_redemptions_customer_id"), table_name="voucher_redemptions")
    op.drop_index(op.f("ix_voucher_redemptions_booking_id"), table_name="voucher_redemptions")
    op.drop_index(
        op.f("ix_voucher_redemptions_voucher_id_customer_id"), table_name="voucher_redemptions"
    )
    op.drop_table("voucher_redemptions")
    op.drop_index(op.f("ix_vouchers_created_at_id"), table_name="vouchers")
    op.drop_table("vouchers")
