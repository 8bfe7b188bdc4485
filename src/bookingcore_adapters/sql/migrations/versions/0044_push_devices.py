"""Push devices: the push tokens customers register for their devices.

Revision ID: 0044
Revises: 0043
Create Date: 2026-12-06 13:30:00.000000

``push_devices``: one row per token (``token`` unique, up to 1024 characters),
the customer it belongs to, its ``platform`` (``android``, ``ios``, ``web``), an
optional ``label``, ``active`` and, for a device the push service refused,
``deactivated_at`` and ``deactivation_reason``; ``created_at``,
``registered_at`` (the last registration) and ``updated_at``. The index
``(customer_id, created_at)`` lists a customer's devices, oldest first, when a
push message goes out. Downgrading drops the table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0044"
down_revision = "0043"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_devices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("platform", sa.String(length=40), nullable=False),
        sa.Column("token", sa.String(length=1024), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deactivation_reason", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_push_devices_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_devices")),
        sa.UniqueConstraint("token", name=op.f("uq_push_devices_token")),
    )
    op.create_index(
        op.f("ix_push_devices_customer_id_created_at"),
        "push_devices",
        ["customer_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_push_devices_customer_id_created_at"), table_name="push_devices")
    op.drop_table("push_devices")
