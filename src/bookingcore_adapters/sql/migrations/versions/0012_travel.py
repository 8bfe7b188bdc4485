"""The travel operating system: leads, quotations, multi-currency and rejected items.

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-04 21:00:00.000000

New tables ``leads``, ``quotations`` (one row per revision, ``(reference,
revision)`` unique, lines as JSON), ``trips`` and ``itineraries`` (one per
booking); ``bookings.items_total_amount`` (what the line items add up to, part
of ``total_amount``); ``booking_items`` gain the booking's currency, the
exchange rate used and a supplier's rejection reason; ``products.location_id``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None

#: A timezone-aware timestamp, stored in UTC.
UTC_DATETIME = sa.DateTime(timezone=True)
#: Money amounts: NUMERIC(18, 4) on PostgreSQL, decimal text (VARCHAR) on SQLite.
MONEY_AMOUNT = sa.Numeric(18, 4).with_variant(sa.String(), "sqlite")
#: Exchange rates: NUMERIC(18, 8) on PostgreSQL, decimal text on SQLite.
RATE = sa.Numeric(18, 8).with_variant(sa.String(), "sqlite")
#: JSON documents: JSONB on PostgreSQL, JSON text elsewhere.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


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
        "leads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("destination", sa.String(), nullable=True),
        sa.Column("travel_starts_on", sa.Date(), nullable=True),
        sa.Column("travel_ends_on", sa.Date(), nullable=True),
        sa.Column("travelers", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("partner_id", sa.Uuid(), nullable=True),
        sa.Column("follow_up_on", sa.Date(), nullable=True),
        sa.Column("lost_reason", sa.Text(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_leads_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_leads_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leads_customer_id"), ["customer_id"])
        batch_op.create_index(batch_op.f("ix_leads_assignee_id"), ["assignee_id"])

    op.create_table(
        "quotations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=50), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=True),
        sa.Column("slot_id", sa.Uuid(), nullable=False),
        sa.Column("travelers", sa.Integer(), nullable=False),
        _money("seat_price_amount"),
        _money("seats_total_amount"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("lines", JSON_DOCUMENT, nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("created_by_kind", sa.String(length=40), nullable=False),
        sa.Column("created_by_id", sa.String(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.Column("decided_at", UTC_DATETIME, nullable=True),
        sa.Column("booking_id", sa.Uuid(), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("revision >= 1", name=op.f("ck_quotations_revision_positive")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_quotations_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_quotations_lead_id_leads")
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"], ["slots.id"], name=op.f("fk_quotations_slot_id_slots")
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_quotations_booking_id_bookings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotations")),
        sa.UniqueConstraint("reference", "revision", name=op.f("uq_quotations_reference_revision")),
    )
    with op.batch_alter_table("quotations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quotations_customer_id"), ["customer_id"])
        batch_op.create_index(batch_op.f("ix_quotations_lead_id"), ["lead_id"])

    op.create_table(
        "trips",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("booking_ids", JSON_DOCUMENT, nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_trips_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trips")),
    )
    with op.batch_alter_table("trips", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trips_customer_id"), ["customer_id"])
    op.create_table(
        "itineraries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("days", JSON_DOCUMENT, nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_itineraries_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_itineraries")),
        sa.UniqueConstraint("booking_id", name=op.f("uq_itineraries_booking_id")),
    )

    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("items_total_amount", MONEY_AMOUNT, nullable=False, server_default="0")
        )
    with op.batch_alter_table("booking_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("booking_currency", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("exchange_rate", RATE, nullable=True))
        batch_op.add_column(sa.Column("rejection_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("location_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_products_location_id"), ["location_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_products_location_id_locations"), "locations", ["location_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_products_location_id_locations"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_products_location_id"))
        batch_op.drop_column("location_id")
    with op.batch_alter_table("booking_items", schema=None) as batch_op:
        batch_op.drop_column("rejection_reason")
        batch_op.drop_column("exchange_rate")
        batch_op.drop_column("booking_currency")
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_column("items_total_amount")
    op.drop_table("itineraries")
    with op.batch_alter_table("trips", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trips_customer_id"))
    op.drop_table("trips")
    with op.batch_alter_table("quotations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quotations_lead_id"))
        batch_op.drop_index(batch_op.f("ix_quotations_customer_id"))
    op.drop_table("quotations")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leads_assignee_id"))
        batch_op.drop_index(batch_op.f("ix_leads_customer_id"))
    op.drop_table("leads")
