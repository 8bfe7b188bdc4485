"""Family accounts: families, their members and the invitations to join them.

Revision ID: 0045
Revises: 0044
Create Date: 2026-12-06 14:00:00.000000

``families``: one row per family account, its owner (``owner_id``, a customer)
and an optimistic ``version`` (the family is locked while members join or leave).

``family_members``: one row per linked customer (the owner too): the family,
the customer, their ``role`` (``owner`` or ``member``), their ``relation`` to
the owner (NULL for the owner) and when they joined. ``customer_id`` is unique:
a customer belongs to at most one family.

``family_invitations``: every invitation sent, with the family, who sent it
(``invited_by``), the invited customer, the relation offered, its ``status``
(``pending``, ``accepted``, ``declined``, ``cancelled``), when it expires and
when it was answered, and an optimistic ``version``.

Downgrading drops the three tables (and so every family link).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0045"
down_revision = "0044"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "families",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["customers.id"], name=op.f("fk_families_owner_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_families")),
    )
    op.create_index(op.f("ix_families_owner_id"), "families", ["owner_id"], unique=False)
    op.create_table(
        "family_members",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("relation", sa.String(length=40), nullable=True),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["family_id"], ["families.id"], name=op.f("fk_family_members_family_id_families")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_family_members_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_members")),
    )
    op.create_index(
        op.f("ix_family_members_family_id"), "family_members", ["family_id"], unique=False
    )
    op.create_index(
        op.f("ix_family_members_customer_id"), "family_members", ["customer_id"], unique=True
    )
    op.create_table(
        "family_invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("invited_by", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("relation", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["family_id"], ["families.id"], name=op.f("fk_family_invitations_family_id_families")
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"],
            ["customers.id"],
            name=op.f("fk_family_invitations_invited_by_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_family_invitations_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_invitations")),
    )
    op.create_index(
        op.f("ix_family_invitations_family_id"), "family_invitations", ["family_id"], unique=False
    )
    op.create_index(
        op.f("ix_family_invitations_invited_by"),
        "family_invitations",
        ["invited_by"],
        unique=False,
    )
    op.create_index(
        op.f("ix_family_invitations_customer_id"),
        "family_invitations",
        ["customer_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_family_invitations_customer_id"), table_name="family_invitations")
    op.drop_index(op.f("ix_family_invitations_invited_by"), table_name="family_invitations")
    op.drop_index(op.f("ix_family_invitations_family_id"), table_name="family_invitations")
    op.drop_table("family_invitations")
    op.drop_index(op.f("ix_family_members_customer_id"), table_name="family_members")
    op.drop_index(op.f("ix_family_members_family_id"), table_name="family_members")
    op.drop_table("family_members")
    op.drop_index(op.f("ix_families_owner_id"), table_name="families")
    op.drop_table("families")
