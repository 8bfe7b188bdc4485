"""The webhook inbox: every verified payment-provider delivery, once.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 18:30:00.000000

``(provider, event_id)`` is unique, so concurrent redeliveries of one event
leave one row; ``(status, received_at)`` finds what is still to be applied.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: A timezone-aware timestamp, stored in UTC.
UTC_DATETIME = sa.DateTime(timezone=True)
#: JSON documents: JSONB on PostgreSQL, JSON text elsewhere.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "webhook_inbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("payload", JSON_DOCUMENT, nullable=False),
        sa.Column("payment_reference", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("received_at", UTC_DATETIME, nullable=False),
        sa.Column("applied_at", UTC_DATETIME, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_inbox")),
        sa.UniqueConstraint(
            "provider", "event_id", name=op.f("uq_webhook_inbox_provider_event_id")
        ),
    )
    with op.batch_alter_table("webhook_inbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_inbox_payment_reference"), ["payment_reference"]
        )
        batch_op.create_index("ix_webhook_inbox_unsettled", ["status", "received_at"])


def downgrade() -> None:
    op.drop_table("webhook_inbox")
