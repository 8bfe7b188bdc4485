"""Communication engagement report indexes: messages by when they went out.

Revision ID: 0043
Revises: 0042
Create Date: 2026-12-06 11:30:00.000000

The engagement report (open and click rates per message type and channel) counts
the messages that went out in a period: sent ones by ``sent_at``, those the
channel refused outright (never sent) by ``failed_at``. Without an index both
halves read the whole communications log, the largest table of a busy host;
``(sent_at)`` and ``(failed_at)`` make each half a range scan. ``(type, status)``
exists since the first revision.
"""

from __future__ import annotations

from alembic import op

revision = "0043"
down_revision = "0042"
branch_labels = None
depends_on = None

#: (table, columns) of each index, named ``ix_<table>_<columns>``.
INDEXES = (
    ("booking_communications", ("sent_at",)),
    ("booking_communications", ("failed_at",)),
)


def upgrade() -> None:
    for table, columns in INDEXES:
        op.create_index(f"ix_{table}_{'_'.join(columns)}", table, list(columns))


def downgrade() -> None:
    for table, columns in reversed(INDEXES):
        op.drop_index(f"ix_{table}_{'_'.join(columns)}", table_name=table)
