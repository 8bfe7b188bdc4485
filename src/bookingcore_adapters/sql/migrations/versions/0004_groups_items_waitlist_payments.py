"""Booking groups, line items, waiting lists, payments and refunds.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 16:20:00.000000

``bookings.group_id`` keeps no foreign key to ``booking_groups``: adding one to
the existing ``bookings`` table means rebuilding it on SQLite, whose ``DROP
TABLE`` would cascade into ``booking_travelers`` when foreign keys are on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: Times as this revision created them: TIMESTAMP WITH TIME ZONE on PostgreSQL,
#: DATETIME on SQLite (what bookingcore's UtcDateTime rendered to at the time).
UTC_DATETIME = sa.DateTime(timezone=True)
#: Money amounts as this revision created them: NUMERIC(18, 4) on PostgreSQL,
#: decimal text (VARCHAR) on SQLite, which has no exact numeric type.
MONEY_AMOUNT = sa.Numeric(18, 4).with_variant(sa.String(), "sqlite")

#: JSON documents: JSONB on PostgreSQL, JSON text elsewhere.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

#: Only these entries claim a customer's place on a slot's waiting list.
ACTIVE_WAITLIST_ENTRY = "status IN ('waiting', 'offered')"


def _money(name: str) -> sa.Column[object]:
    return sa.Column(name, MONEY_AMOUNT, nullable=False)


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "booking_groups",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("group_reference", sa.String(length=100), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=True),
        sa.Column("organizer_id", sa.Uuid(), nullable=False),
        sa.Column("group_name", sa.String(length=255), nullable=True),
        sa.Column("total_participants", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        *_stamps(),
        sa.CheckConstraint(
            "total_participants >= 1", name=op.f("ck_booking_groups_total_participants_positive")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["customers.id"], name=op.f("fk_booking_groups_company_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["organizer_id"],
            ["customers.id"],
            name=op.f("fk_booking_groups_organizer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_groups")),
        sa.UniqueConstraint("group_reference", name=op.f("uq_booking_groups_group_reference")),
    )
    with op.batch_alter_table("booking_groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_booking_groups_company_id"), ["company_id"])
        batch_op.create_index(
            batch_op.f("ix_booking_groups_created_at_id"), ["created_at", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_booking_groups_organizer_id"), ["organizer_id"])
        batch_op.create_index(batch_op.f("ix_booking_groups_status"), ["status"])

    op.create_table(
        "booking_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("item_type", sa.String(length=40), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=True),
        sa.Column("supplier_id", sa.Uuid(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        _money("unit_price_amount"),
        _money("total_amount"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("service_starts_on", sa.Date(), nullable=True),
        sa.Column("service_ends_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("supplier_reference", sa.String(), nullable=True),
        sa.Column("metadata", JSON_DOCUMENT, nullable=False),
        *_stamps(),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_booking_items_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_booking_items_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_booking_items_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_booking_items_supplier_id_suppliers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_items")),
    )
    with op.batch_alter_table("booking_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_booking_items_booking_id"), ["booking_id"])
        batch_op.create_index(batch_op.f("ix_booking_items_product_id"), ["product_id"])
        batch_op.create_index(batch_op.f("ix_booking_items_supplier_id"), ["supplier_id"])

    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("provider_reference", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        _money("amount"),
        _money("captured_amount"),
        _money("refunded_amount"),
        _money("pending_refund_amount"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("processed_event_ids", JSON_DOCUMENT, nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("captured_at", UTC_DATETIME, nullable=True),
        sa.Column("metadata", JSON_DOCUMENT, nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_payments_booking_id_bookings")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_payments_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_payments_idempotency_key")),
        sa.UniqueConstraint(
            "provider", "provider_reference", name=op.f("uq_payments_provider_provider_reference")
        ),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_booking_id"), ["booking_id"])
        batch_op.create_index(batch_op.f("ix_payments_customer_id"), ["customer_id"])
        batch_op.create_index(batch_op.f("ix_payments_status"), ["status"])

    op.create_table(
        "waiting_lists",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slot_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("priority", sa.String(length=40), nullable=False),
        sa.Column("preferred_contact_method", sa.String(length=40), nullable=True),
        sa.Column("alternative_dates", JSON_DOCUMENT, nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("offered_at", UTC_DATETIME, nullable=True),
        sa.Column("offer_expires_at", UTC_DATETIME, nullable=True),
        sa.Column("booking_id", sa.Uuid(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        *_stamps(),
        sa.CheckConstraint("position >= 1", name=op.f("ck_waiting_lists_position_positive")),
        sa.CheckConstraint("seats >= 1", name=op.f("ck_waiting_lists_seats_positive")),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_waiting_lists_booking_id_bookings")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_waiting_lists_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"], ["slots.id"], name=op.f("fk_waiting_lists_slot_id_slots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waiting_lists")),
    )
    with op.batch_alter_table("waiting_lists", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_waiting_lists_booking_id"), ["booking_id"])
        batch_op.create_index(batch_op.f("ix_waiting_lists_customer_id"), ["customer_id"])
        batch_op.create_index(
            batch_op.f("ix_waiting_lists_slot_id_position"), ["slot_id", "position"]
        )
        batch_op.create_index(
            batch_op.f("ix_waiting_lists_status_offer_expires_at"), ["status", "offer_expires_at"]
        )
        batch_op.create_index(
            "uq_waiting_lists_active_slot_id_customer_id",
            ["slot_id", "customer_id"],
            unique=True,
            postgresql_where=sa.text(ACTIVE_WAITLIST_ENTRY),
            sqlite_where=sa.text(ACTIVE_WAITLIST_ENTRY),
        )

    op.create_table(
        "payment_refunds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        _money("amount"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("provider_reference", sa.String(length=255), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("completed_at", UTC_DATETIME, nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_refunds_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_refunds")),
        sa.UniqueConstraint(
            "provider_reference", name=op.f("uq_payment_refunds_provider_reference")
        ),
    )
    with op.batch_alter_table("payment_refunds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_refunds_payment_id"), ["payment_id"])


def downgrade() -> None:
    # Indexes go with their tables; children before the tables they reference.
    for table in (
        "payment_refunds",
        "waiting_lists",
        "payments",
        "booking_items",
        "booking_groups",
    ):
        op.drop_table(table)
