"""Merged and erased customers, and the certificates customers earn on bookings.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-04 21:00:00.000000

``customers.merged_into_id`` points at the customer a duplicate was merged
into (reads leave merged customers out); ``customers.erased_at`` is when the
customer's personal fields were anonymised (GDPR erasure).

``certificates`` (seed 001) are unique by ``(kind, number)``; ``reminded_for``
is the expiry the last renewal reminder was about.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None

#: A timezone-aware timestamp, stored in UTC.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("erased_at", UTC_DATETIME, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_customers_merged_into_id_customers"),
            "customers",
            ["merged_into_id"],
            ["id"],
        )
    op.create_table(
        "certificates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("traveler_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=False),
        sa.Column("issued_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=True),
        sa.Column("reminded_for", UTC_DATETIME, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_certificates_booking_id_bookings")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_certificates_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["traveler_id"], ["travelers.id"], name=op.f("fk_certificates_traveler_id_travelers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("kind", "number", name=op.f("uq_certificates_kind_number")),
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificates_booking_id"), ["booking_id"])
        batch_op.create_index(batch_op.f("ix_certificates_customer_id"), ["customer_id"])
        batch_op.create_index(batch_op.f("ix_certificates_traveler_id"), ["traveler_id"])
        batch_op.create_index(batch_op.f("ix_certificates_expires_at"), ["expires_at"])
        batch_op.create_index(batch_op.f("ix_certificates_created_at_id"), ["created_at", "id"])


def downgrade() -> None:
    op.drop_table("certificates")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_customers_merged_into_id_customers"), type_="foreignkey"
        )
        batch_op.drop_column("erased_at")
        batch_op.drop_column("merged_into_id")
