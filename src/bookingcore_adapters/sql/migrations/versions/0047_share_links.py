"""Share links: links to a booking's trip view that customers send to friends.

Revision ID: 0047
Revises: 0046
Create Date: 2026-12-06 14:30:00.000000

``share_links``: one row per link: the booking and its customer, ``token_hash``
(the ``sha256$<hex>`` of the token handed out once; unique, so a token finds
its link by one index read) and ``token_last4`` (for telling links apart), an
optional ``label``, what the view shows beyond its fixed part
(``show_first_names``, ``show_itinerary``), ``created_at``, ``updated_at``,
``expires_at`` and, once revoked, ``revoked_at``. The indexes
``(booking_id, created_at)`` and ``(customer_id, created_at)`` list a booking's
and a customer's links, oldest first. Downgrading drops the table (every link
stops working).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0047"
down_revision = "0046"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "share_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=100), nullable=False),
        sa.Column("token_last4", sa.String(length=4), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.Column("show_first_names", sa.Boolean(), nullable=False),
        sa.Column("show_itinerary", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_share_links_booking_id_bookings")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_share_links_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_share_links_token_hash")),
    )
    op.create_index(
        op.f("ix_share_links_booking_id_created_at"),
        "share_links",
        ["booking_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_share_links_customer_id_created_at"),
        "share_links",
        ["customer_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_share_links_customer_id_created_at"), table_name="share_links")
    op.drop_index(op.f("ix_share_links_booking_id_created_at"), table_name="share_links")
    op.drop_table("share_links")
