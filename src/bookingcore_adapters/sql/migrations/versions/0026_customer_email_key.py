"""Customers are matched by email without regard to case: a stored, indexed match key.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05 03:45:00.000000

``customers.email`` keeps the address as it was given (``Ann@Example.com``);
``customers.email_key`` holds it case folded (``EmailAddress.match_key``), and
finding customers by email compares that, through its index (which replaces
the index on ``email``). Existing rows get their key here, computed in Python
as the library does (SQL ``lower()`` folds only ASCII on SQLite).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

#: Rows read and written per round trip while filling the keys in.
BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_key", sa.String(), nullable=True))
    customers = sa.table(
        "customers", sa.column("id", sa.Uuid()), sa.column("email"), sa.column("email_key")
    )
    if op.get_context().as_sql:
        # Printing the DDL (``upgrade --sql``): no rows to read; SQL's lower() is the
        # closest a script can say (ASCII addresses get the same key).
        op.execute(
            customers.update()
            .where(customers.c.email.is_not(None))
            .values(email_key=sa.func.lower(customers.c.email))
        )
    else:
        _fill_keys(customers)
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_email"))
        batch_op.create_index(batch_op.f("ix_customers_email_key"), ["email_key"], unique=False)


def _fill_keys(customers: sa.TableClause) -> None:
    """Every stored address's key, case folded in Python as ``EmailAddress.match_key`` does."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(customers.c.id, customers.c.email).where(customers.c.email.is_not(None))
    ).all()
    for start in range(0, len(rows), BATCH):
        batch = [
            {"row_id": row.id, "key": row.email.casefold()} for row in rows[start : start + BATCH]
        ]
        bind.execute(
            customers.update()
            .where(customers.c.id == sa.bindparam("row_id"))
            .values(email_key=sa.bindparam("key")),
            batch,
        )


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_email_key"))
        batch_op.create_index(batch_op.f("ix_customers_email"), ["email"], unique=False)
        batch_op.drop_column("email_key")
