"""A rotated partner secret may keep working for a grace period: the previous one, kept.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-05 23:55:00.000000

``partners.previous_api_secret_hash`` keeps the hash of the API secret a
rotation replaced, accepted until ``previous_api_secret_expires_at``;
``partners.previous_webhook_secret`` keeps the webhook signing secret a
rotation replaced, which signs webhooks next to the new one until
``previous_webhook_secret_expires_at``. All four are NULL without a grace
period, and for every existing partner: nothing to fill in.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

#: A timezone-aware timestamp, stored in UTC.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_api_secret_hash", sa.String(), nullable=True))
        batch_op.add_column(
            sa.Column("previous_api_secret_expires_at", UTC_DATETIME, nullable=True)
        )
        batch_op.add_column(sa.Column("previous_webhook_secret", sa.String(), nullable=True))
        batch_op.add_column(
            sa.Column("previous_webhook_secret_expires_at", UTC_DATETIME, nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_column("previous_webhook_secret_expires_at")
        batch_op.drop_column("previous_webhook_secret")
        batch_op.drop_column("previous_api_secret_expires_at")
        batch_op.drop_column("previous_api_secret_hash")
