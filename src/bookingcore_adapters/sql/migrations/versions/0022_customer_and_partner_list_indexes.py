"""List indexes: a customer's waiting-list entries, partners and an entity's audit trail.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 03:40:00.000000

A customer's waiting-list entries are listed a keyset page at a time, newest
first. As for trips (0021), the customer column leads an index on
(customer_id, created_at, id), which also serves lookups by customer alone, so the
single-column index goes. Partners are listed newest first too, so they get an
index on (created_at, id). An entity's audit trail (a partner's history) is read
newest first a page at a time: the (entity, entity_id) index grows to
(entity, entity_id, created_at, id), which serves the whole trail oldest first too.
The commission ledger is browsed newest first by (recorded_at, id), per partner or
for everyone: its two indexes gain the id.
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


#: The audit trail's index, before and after.
AUDIT_BY_ENTITY = "ix_booking_audit_logs_entity_entity_id"
AUDIT_PAGES = "ix_booking_audit_logs_entity_entity_id_created_at_id"


#: The commission ledger's indexes, by name: the columns before and after.
LEDGER = {
    "ix_commission_ledger_partner_recorded": (
        ["partner_id", "recorded_at"],
        ["partner_id", "recorded_at", "id"],
    ),
    "ix_commission_ledger_recorded_at": (["recorded_at"], ["recorded_at", "id"]),
}


def upgrade() -> None:
    for name, (_, after) in LEDGER.items():
        op.drop_index(name, table_name="commission_ledger")
        op.create_index(name, "commission_ledger", after)
    op.drop_index(AUDIT_BY_ENTITY, table_name="booking_audit_logs")
    op.create_index(AUDIT_PAGES, "booking_audit_logs", ["entity", "entity_id", "created_at", "id"])
    op.create_index("ix_partners_created_at_id", "partners", ["created_at", "id"])
    op.drop_index("ix_waiting_lists_customer_id", table_name="waiting_lists")
    op.create_index(
        "ix_waiting_lists_customer_id_created_at_id",
        "waiting_lists",
        ["customer_id", "created_at", "id"],
    )


def downgrade() -> None:
    for name, (before, _) in LEDGER.items():
        op.drop_index(name, table_name="commission_ledger")
        op.create_index(name, "commission_ledger", before)
    op.drop_index("ix_waiting_lists_customer_id_created_at_id", table_name="waiting_lists")
    op.create_index("ix_waiting_lists_customer_id", "waiting_lists", ["customer_id"])
    op.drop_index("ix_partners_created_at_id", table_name="partners")
    op.drop_index(AUDIT_PAGES, table_name="booking_audit_logs")
    op.create_index(AUDIT_BY_ENTITY, "booking_audit_logs", ["entity", "entity_id"])
