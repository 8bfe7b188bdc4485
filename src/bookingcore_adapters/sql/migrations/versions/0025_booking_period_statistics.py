"""Statistics on the periods reports group bookings by (PostgreSQL).

Revision ID: 0025
Revises: 0022
Create Date: 2026-12-05 04:00:00.000000

Revenue by day or month of creation, or by month of the booking date, groups the
bookings on ``date_trunc(period, timezone('UTC', column))::date``. PostgreSQL
keeps no statistics on an expression by itself: on a million bookings it guessed
some 280 000 groups where there are a few dozen, planned one serial hash aggregate
ready to spill to disk, and compiled it with JIT. With a statistics object on each
expression it knows how few groups there are and aggregates in parallel workers.
The statistics are filled by the ``ANALYZE`` run here (a sample of the table, a
few seconds at most) and kept up to date by autovacuum. SQLite has none.
"""

from __future__ import annotations

from alembic import op

revision = "0025"
down_revision = "0022"
branch_labels = None
depends_on = None

#: Statistics name -> the expression, as the SQL adapter groups bookings.
PERIODS = {
    "st_bookings_created_day": "date_trunc('day', timezone('UTC', created_at))",
    "st_bookings_created_month": "date_trunc('month', timezone('UTC', created_at))",
    "st_bookings_starts_month": "date_trunc('month', timezone('UTC', starts_at))",
}


def _postgresql() -> bool:
    return bool(op.get_context().dialect.name == "postgresql")


def upgrade() -> None:
    if _postgresql():
        for name, expression in PERIODS.items():
            op.execute(f"CREATE STATISTICS {name} ON (CAST({expression} AS DATE)) FROM bookings")
        op.execute("ANALYZE bookings")


def downgrade() -> None:
    if _postgresql():
        for name in PERIODS:
            op.execute(f"DROP STATISTICS IF EXISTS {name}")
