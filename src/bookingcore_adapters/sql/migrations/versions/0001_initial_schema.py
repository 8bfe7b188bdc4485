"""The initial schema: catalog, customers, bookings, history, audit, outbox, messages, documents.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-21 12:30:32.762642
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

#: Times as this revision created them: TIMESTAMP WITH TIME ZONE on PostgreSQL,
#: DATETIME on SQLite (what bookingcore's UtcDateTime rendered to at the time).
UTC_DATETIME = sa.DateTime(timezone=True)
#: Exact decimals as this revision created them: NUMERIC on PostgreSQL, decimal
#: text (VARCHAR) on SQLite, which has no exact numeric type.
EXACT_DECIMAL = sa.Numeric().with_variant(sa.String(), "sqlite")

#: JSON documents: JSONB on PostgreSQL, JSON text elsewhere.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("handler", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", UTC_DATETIME, nullable=True),
        sa.Column("completed_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_deliveries")),
        sa.UniqueConstraint(
            "event_id", "handler", name=op.f("uq_event_deliveries_event_id_handler")
        ),
    )
    op.create_index(
        op.f("ix_event_deliveries_status_next_attempt_at"),
        "event_deliveries",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_table(
        "locations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
        sa.UniqueConstraint("code", name=op.f("uq_locations_code")),
    )
    op.create_table(
        "outbox",
        sa.Column(
            "sequence",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False),
            nullable=False,
        ),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_name", sa.String(), nullable=False),
        sa.Column("occurred_at", UTC_DATETIME, nullable=False),
        sa.Column("payload", JSON_DOCUMENT, nullable=False),
        sa.Column("dispatched_at", UTC_DATETIME, nullable=True),
        sa.Column("published_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_outbox_undispatched",
        "outbox",
        ["sequence"],
        unique=False,
        postgresql_where=sa.text("dispatched_at IS NULL"),
        sqlite_where=sa.text("dispatched_at IS NULL"),
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["sequence"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "partners",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("company_name", sa.String(), nullable=False),
        sa.Column("contact_email", sa.String(), nullable=False),
        sa.Column("contact_phone", sa.String(length=20), nullable=True),
        sa.Column("api_key", sa.String(), nullable=False),
        sa.Column("api_secret_hash", sa.String(), nullable=True),
        sa.Column("api_secret_last4", sa.String(), nullable=True),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("webhook_secret", sa.String(), nullable=True),
        sa.Column("commission_rate", EXACT_DECIMAL, nullable=True),
        sa.Column("allowed_locations", JSON_DOCUMENT, nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("settings", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("api_key", name=op.f("uq_partners_api_key")),
        sa.UniqueConstraint("contact_email", name=op.f("uq_partners_contact_email")),
    )
    op.create_index(op.f("ix_partners_is_active"), "partners", ["is_active"], unique=False)
    op.create_table(
        "suppliers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppliers")),
        sa.UniqueConstraint("code", name=op.f("uq_suppliers_code")),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=True),
        sa.Column("created_by_partner_id", sa.Uuid(), nullable=True),
        sa.Column("created_by_kind", sa.String(length=40), nullable=True),
        sa.Column("created_by_id", sa.String(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_partner_id"],
            ["partners.id"],
            name=op.f("fk_customers_created_by_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_customers_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("phone", name=op.f("uq_customers_phone")),
    )
    op.create_index(
        op.f("ix_customers_created_at_id"), "customers", ["created_at", "id"], unique=False
    )
    op.create_index(
        op.f("ix_customers_created_by_partner_id"),
        "customers",
        ["created_by_partner_id"],
        unique=False,
    )
    op.create_index(op.f("ix_customers_partner_id"), "customers", ["partner_id"], unique=False)
    op.create_index(op.f("ix_customers_source"), "customers", ["source"], unique=False)
    op.create_table(
        "products",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("supplier_id", sa.Uuid(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_products_supplier_id_suppliers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("code", name=op.f("uq_products_code")),
    )
    op.create_index(op.f("ix_products_supplier_id"), "products", ["supplier_id"], unique=False)
    op.create_table(
        "slots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("starts_at", UTC_DATETIME, nullable=False),
        sa.Column("ends_at", UTC_DATETIME, nullable=True),
        sa.Column("price_amount", EXACT_DECIMAL, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("seats_held", sa.Integer(), nullable=False),
        sa.Column("group_discounts", JSON_DOCUMENT, nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_slots_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_slots_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slots")),
    )
    op.create_index(op.f("ix_slots_location_id"), "slots", ["location_id"], unique=False)
    op.create_index(op.f("ix_slots_product_id"), "slots", ["product_id"], unique=False)
    op.create_index(op.f("ix_slots_starts_at"), "slots", ["starts_at"], unique=False)
    op.create_table(
        "travelers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("gender", sa.String(length=40), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("emergency_contact_name", sa.String(), nullable=True),
        sa.Column("emergency_contact_phone", sa.String(length=20), nullable=True),
        sa.Column("special_requirements", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("deleted_at", UTC_DATETIME, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_travelers_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_travelers")),
    )
    op.create_index(op.f("ix_travelers_customer_id"), "travelers", ["customer_id"], unique=False)
    op.create_table(
        "bookings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("slot_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=True),
        sa.Column("supplier_id", sa.Uuid(), nullable=True),
        sa.Column("partner_id", sa.Uuid(), nullable=True),
        sa.Column("created_by_partner_id", sa.Uuid(), nullable=True),
        sa.Column("starts_at", UTC_DATETIME, nullable=False),
        sa.Column("lifecycle", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("total_travelers", sa.Integer(), nullable=False),
        sa.Column("primary_contact_traveler_id", sa.Uuid(), nullable=False),
        sa.Column("subtotal_amount", EXACT_DECIMAL, nullable=False),
        sa.Column("discount_amount", EXACT_DECIMAL, nullable=False),
        sa.Column("total_amount", EXACT_DECIMAL, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_by_kind", sa.String(length=40), nullable=False),
        sa.Column("created_by_id", sa.String(), nullable=True),
        sa.Column("referral_source", sa.String(), nullable=True),
        sa.Column("internal_notes", sa.Text(), nullable=True),
        sa.Column("external_id", sa.String(), nullable=True),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("group_id", sa.Uuid(), nullable=True),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.Column("request_fingerprint", sa.String(), nullable=True),
        sa.Column("cancelled_at", UTC_DATETIME, nullable=True),
        sa.Column("cancellation_reason", sa.Text(), nullable=True),
        sa.Column("metadata", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_partner_id"],
            ["partners.id"],
            name=op.f("fk_bookings_created_by_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_bookings_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_bookings_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_bookings_partner_id_partners")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_bookings_product_id_products")
        ),
        sa.ForeignKeyConstraint(["slot_id"], ["slots.id"], name=op.f("fk_bookings_slot_id_slots")),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_bookings_supplier_id_suppliers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
        sa.UniqueConstraint("external_id", name=op.f("uq_bookings_external_id")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_bookings_idempotency_key")),
        sa.UniqueConstraint("reference", name=op.f("uq_bookings_reference")),
    )
    op.create_index(op.f("ix_bookings_assignee_id"), "bookings", ["assignee_id"], unique=False)
    op.create_index(
        op.f("ix_bookings_created_at_id"), "bookings", ["created_at", "id"], unique=False
    )
    op.create_index(
        op.f("ix_bookings_created_by_partner_id"),
        "bookings",
        ["created_by_partner_id"],
        unique=False,
    )
    op.create_index(op.f("ix_bookings_customer_id"), "bookings", ["customer_id"], unique=False)
    op.create_index(op.f("ix_bookings_group_id"), "bookings", ["group_id"], unique=False)
    op.create_index(op.f("ix_bookings_location_id"), "bookings", ["location_id"], unique=False)
    op.create_index(op.f("ix_bookings_partner_id"), "bookings", ["partner_id"], unique=False)
    op.create_index(op.f("ix_bookings_product_id"), "bookings", ["product_id"], unique=False)
    op.create_index(op.f("ix_bookings_slot_id"), "bookings", ["slot_id"], unique=False)
    op.create_index(op.f("ix_bookings_source"), "bookings", ["source"], unique=False)
    op.create_index(op.f("ix_bookings_starts_at"), "bookings", ["starts_at"], unique=False)
    op.create_index(op.f("ix_bookings_status"), "bookings", ["status"], unique=False)
    op.create_index(op.f("ix_bookings_supplier_id"), "bookings", ["supplier_id"], unique=False)
    op.create_table(
        "booking_audit_logs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entity", sa.String(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("changed_by_kind", sa.String(length=40), nullable=False),
        sa.Column("changed_by_id", sa.String(), nullable=True),
        sa.Column("old_value", JSON_DOCUMENT, nullable=False),
        sa.Column("new_value", JSON_DOCUMENT, nullable=False),
        sa.Column("change_reason", sa.Text(), nullable=True),
        sa.Column("ip_address", sa.String(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_booking_audit_logs_booking_id_bookings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_audit_logs")),
    )
    op.create_index(
        op.f("ix_booking_audit_logs_booking_id"), "booking_audit_logs", ["booking_id"], unique=False
    )
    op.create_index(
        op.f("ix_booking_audit_logs_entity_entity_id"),
        "booking_audit_logs",
        ["entity", "entity_id"],
        unique=False,
    )
    op.create_table(
        "booking_communications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("recipient", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("template_used", sa.String(), nullable=True),
        sa.Column("dedupe_key", sa.String(), nullable=True),
        sa.Column("request_fingerprint", sa.String(), nullable=True),
        sa.Column("provider_message_id", sa.String(), nullable=True),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.Column("delivered_at", UTC_DATETIME, nullable=True),
        sa.Column("opened_at", UTC_DATETIME, nullable=True),
        sa.Column("clicked_at", UTC_DATETIME, nullable=True),
        sa.Column("failed_at", UTC_DATETIME, nullable=True),
        sa.Column("failed_reason", sa.Text(), nullable=True),
        sa.Column("created_by_kind", sa.String(length=40), nullable=False),
        sa.Column("created_by_id", sa.String(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("source_event_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_booking_communications_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_booking_communications_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_communications")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_booking_communications_dedupe_key")),
        sa.UniqueConstraint(
            "provider_message_id", name=op.f("uq_booking_communications_provider_message_id")
        ),
    )
    op.create_index(
        op.f("ix_booking_communications_booking_id"),
        "booking_communications",
        ["booking_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_booking_communications_customer_id"),
        "booking_communications",
        ["customer_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_booking_communications_type_status"),
        "booking_communications",
        ["type", "status"],
        unique=False,
    )
    op.create_table(
        "booking_documents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("filename", sa.String(), nullable=False),
        sa.Column("media_type", sa.String(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("source_event_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_booking_documents_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_documents")),
    )
    op.create_index(
        op.f("ix_booking_documents_booking_id"), "booking_documents", ["booking_id"], unique=False
    )
    op.create_table(
        "booking_lifecycle_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("booking_version", sa.Integer(), nullable=False),
        sa.Column("lifecycle", sa.String(), nullable=False),
        sa.Column("from_status", sa.String(), nullable=True),
        sa.Column("to_status", sa.String(), nullable=False),
        sa.Column("actor_type", sa.String(length=40), nullable=False),
        sa.Column("actor_id", sa.String(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.Column("request_fingerprint", sa.String(), nullable=True),
        sa.Column("metadata", JSON_DOCUMENT, nullable=False),
        sa.Column("occurred_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_booking_lifecycle_events_booking_id_bookings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_lifecycle_events")),
        sa.UniqueConstraint(
            "booking_id",
            "booking_version",
            name=op.f("uq_booking_lifecycle_events_booking_id_booking_version"),
        ),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_booking_lifecycle_events_idempotency_key")
        ),
    )
    op.create_table(
        "booking_travelers",
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("traveler_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("price_amount", EXACT_DECIMAL, nullable=False),
        sa.Column("price_currency", sa.String(length=3), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("special_requirements", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_booking_travelers_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["traveler_id"],
            ["travelers.id"],
            name=op.f("fk_booking_travelers_traveler_id_travelers"),
        ),
        sa.PrimaryKeyConstraint("booking_id", "traveler_id", name=op.f("pk_booking_travelers")),
        sa.UniqueConstraint(
            "booking_id", "position", name=op.f("uq_booking_travelers_booking_id_position")
        ),
    )
    op.create_index(
        op.f("ix_booking_travelers_traveler_id"), "booking_travelers", ["traveler_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_booking_travelers_traveler_id"), table_name="booking_travelers")
    op.drop_table("booking_travelers")
    op.drop_table("booking_lifecycle_events")
    op.drop_index(op.f("ix_booking_documents_booking_id"), table_name="booking_documents")
    op.drop_table("booking_documents")
    op.drop_index(
        op.f("ix_booking_communications_type_status"), table_name="booking_communications"
    )
    op.drop_index(
        op.f("ix_booking_communications_customer_id"), table_name="booking_communications"
    )
    op.drop_index(op.f("ix_booking_communications_booking_id"), table_name="booking_communications")
    op.drop_table("booking_communications")
    op.drop_index(op.f("ix_booking_audit_logs_entity_entity_id"), table_name="booking_audit_logs")
    op.drop_index(op.f("ix_booking_audit_logs_booking_id"), table_name="booking_audit_logs")
    op.drop_table("booking_audit_logs")
    op.drop_index(op.f("ix_bookings_supplier_id"), table_name="bookings")
    op.drop_index(op.f("ix_bookings_status"), table_name="bookings")
    op.drop_index(op.f("ix_bookings_starts_at"), table_name="bookings")
    op.drop_index(op.f("ix_bookings_source"), table_name="bookings")
    op.drop_index(op.f("ix_bookings_slot_id"), table_name="bookings")
    op.drop_index(op.f("ix_bookings_product_id"), table_name="bookings")
    op.drop_index(op.f("ix_bookings_partner_id"), table_name="bookings")
    op.drop_index(op.f("ix_bookings_location_id"), table_name="bookings")
    op.drop_index(op.f("ix_bookings_group_id"), table_name="bookings")
    op.drop_index(op.f("ix_bookings_customer_id"), table_name="bookings")
    op.drop_index(op.f("ix_bookings_created_by_partner_id"), table_name="bookings")
    op.drop_index(op.f("ix_bookings_created_at_id"), table_name="bookings")
    op.drop_index(op.f("ix_bookings_assignee_id"), table_name="bookings")
    op.drop_table("bookings")
    op.drop_index(op.f("ix_travelers_customer_id"), table_name="travelers")
    op.drop_table("travelers")
    op.drop_index(op.f("ix_slots_starts_at"), table_name="slots")
    op.drop_index(op.f("ix_slots_product_id"), table_name="slots")
    op.drop_index(op.f("ix_slots_location_id"), table_name="slots")
    op.drop_table("slots")
    op.drop_index(op.f("ix_products_supplier_id"), table_name="products")
    op.drop_table("products")
    op.drop_index(op.f("ix_customers_source"), table_name="customers")
    op.drop_index(op.f("ix_customers_partner_id"), table_name="customers")
    op.drop_index(op.f("ix_customers_created_by_partner_id"), table_name="customers")
    op.drop_index(op.f("ix_customers_created_at_id"), table_name="customers")
    op.drop_table("customers")
    op.drop_table("suppliers")
    op.drop_index(op.f("ix_partners_is_active"), table_name="partners")
    op.drop_table("partners")
    op.drop_index(
        "ix_outbox_unpublished",
        table_name="outbox",
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    )
    op.drop_index(
        "ix_outbox_undispatched",
        table_name="outbox",
        postgresql_where=sa.text("dispatched_at IS NULL"),
        sqlite_where=sa.text("dispatched_at IS NULL"),
    )
    op.drop_table("outbox")
    op.drop_table("locations")
    op.drop_index(op.f("ix_event_deliveries_status_next_attempt_at"), table_name="event_deliveries")
    op.drop_table("event_deliveries")
