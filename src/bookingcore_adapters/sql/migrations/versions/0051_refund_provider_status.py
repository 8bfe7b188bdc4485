"""Refund provider status.

Revision ID: 0051
Revises: 0050
Create Date: 2026-12-06 23:00:00.000000

``payment_refunds.provider_status`` (a nullable ``VARCHAR(40)``) is the status
the payment provider last reported a refund in: ``pending``, ``succeeded`` or
``failed``, moved forward only. A refund reported before its capture was seen
(``unreconciled``) is taken into the books as the provider reported it: one
reported ``pending`` stays pending, its amount reserved, until the provider
reports it ``succeeded`` or ``failed``.

Refunds stored before have ``NULL`` (the column's default): what their
provider reported was not kept. A refund that ended (``succeeded``,
``failed``) stays as it is; one still ``unreconciled`` is left for staff when
its capture arrives (``PaymentService.resolve_refund``), not settled as if the
money had gone back.

A downgrade drops the column and keeps the rows; on SQLite it is dropped in
place, never by copying the table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0051"
down_revision = "0050"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payment_refunds", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("provider_status", sa.String(40), nullable=True, server_default=None)
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite 3.35+ drops the column in place; a batch copy would rebuild the table.
        op.execute("ALTER TABLE payment_refunds DROP COLUMN provider_status")
    else:
        op.drop_column("payment_refunds", "provider_status")
