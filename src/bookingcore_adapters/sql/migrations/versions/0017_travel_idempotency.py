"""Idempotency keys on leads and quotations: a retried capture, create or revise is recognised.

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-04 21:45:00.000000

``leads.idempotency_key`` and ``quotations.idempotency_key`` hold the caller's
key scoped to who sent it (unique, NULL when no key was given);
``request_fingerprint`` the canonical digest of the request, so the same key
with a different request is refused.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None

_TABLES = ("leads", "quotations")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("idempotency_key", sa.String(), nullable=True))
            batch_op.add_column(sa.Column("request_fingerprint", sa.String(), nullable=True))
            batch_op.create_unique_constraint(
                batch_op.f(f"uq_{table}_idempotency_key"), ["idempotency_key"]
            )


def downgrade() -> None:
    for table in reversed(_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f"uq_{table}_idempotency_key"), type_="unique")
            batch_op.drop_column("request_fingerprint")
            batch_op.drop_column("idempotency_key")
