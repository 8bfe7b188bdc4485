"""A booking keeps the loyalty tier discount it was made with.

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-06 11:00:00.000000

Three nullable columns on ``bookings``:

* ``loyalty_tier`` (``VARCHAR(80)``): the name of the customer's loyalty tier
  whose discount the booking got;
* ``loyalty_percent`` (``NUMERIC(7, 4)``, decimal text on SQLite): that tier's
  percent off when the booking was made (repricing the booking later takes the
  same percent off again, whatever the customer's tier is by then);
* ``loyalty_discount_amount`` (``NUMERIC(18, 4)``, decimal text on SQLite, in
  the booking's ``currency``): what the tier took off (part of ``discount_amount``).

NULL in all three (every booking stored before this revision, and every booking
made without a loyalty discount): no loyalty discount. Downgrading drops the
columns; the discounts stay in ``discount_amount`` and the totals are unchanged.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None


def _amount(precision: int, scale: int) -> sa.types.TypeEngine[Any]:
    """An exact amount: NUMERIC, decimal text on SQLite (as the adapter stores it)."""
    return sa.Numeric(precision, scale).with_variant(sa.String(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("loyalty_tier", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("loyalty_percent", _amount(7, 4), nullable=True))
        batch_op.add_column(sa.Column("loyalty_discount_amount", _amount(18, 4), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_column("loyalty_discount_amount")
        batch_op.drop_column("loyalty_percent")
        batch_op.drop_column("loyalty_tier")
