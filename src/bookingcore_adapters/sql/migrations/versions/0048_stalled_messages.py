"""Stalled messages: when a pending message was handed over for sending.

Revision ID: 0048
Revises: 0047
Create Date: 2026-12-06 15:00:00.000000

``booking_communications.sending_since`` (nullable) is set when a message is
logged pending by a use case that sends it after commit, and again when a
failed message is claimed to be sent again; it is cleared once the message
moves on (sent, failed). The ``communications.resend_stalled`` job sends again,
once, a message pending longer than ``Settings.stalled_message_after`` (its
sender crashed before the notifier answered). Every message stored before this
revision has none, so the job leaves the messages pending then alone.

``ix_booking_communications_sending_since`` indexes ``sending_since`` of the
messages that have one (``WHERE sending_since IS NOT NULL``): only pending ones
do, so the index stays small however long the log grows. A downgrade drops
both; on SQLite the column is dropped in place, never by copying the table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0048"
down_revision = "0047"
branch_labels = None
depends_on = None

#: The index of the pending messages by when they were handed over.
INDEX = "ix_booking_communications_sending_since"


def upgrade() -> None:
    with op.batch_alter_table("booking_communications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sending_since", sa.DateTime(timezone=True), nullable=True))
    handed_over = sa.text("sending_since IS NOT NULL")
    op.create_index(
        INDEX,
        "booking_communications",
        ["sending_since"],
        postgresql_where=handed_over,
        sqlite_where=handed_over,
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="booking_communications")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite 3.35+ drops the column in place; a batch copy would rebuild the table.
        op.execute("ALTER TABLE booking_communications DROP COLUMN sending_since")
    else:
        op.drop_column("booking_communications", "sending_since")
