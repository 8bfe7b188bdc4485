"""Outbox pages keep room for the two updates each message gets (PostgreSQL fillfactor 70).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 23:55:00.000000

Every outbox message is updated twice after it is written: ``dispatched_at``
when its handlers ran, ``published_at`` when the relay handed it to a broker.
Neither update can be HOT (both columns are in a partial index's predicate),
but when the new row version fits on the same page PostgreSQL logs only the
bytes that changed instead of the whole row with its JSON payload: about half
the WAL per relayed message in ``bench/jobs.py``. Pages written from now on are
filled to 70 %; pages already full stay as they are until rewritten
(``VACUUM FULL`` or ``CLUSTER``). ``ALTER TABLE ... SET`` takes only a SHARE
UPDATE EXCLUSIVE lock: writes to the outbox go on. SQLite has no fillfactor.
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def _postgresql() -> bool:
    return bool(op.get_context().dialect.name == "postgresql")


def upgrade() -> None:
    if _postgresql():
        op.execute("ALTER TABLE outbox SET (fillfactor = 70)")


def downgrade() -> None:
    if _postgresql():
        op.execute("ALTER TABLE outbox RESET (fillfactor)")
