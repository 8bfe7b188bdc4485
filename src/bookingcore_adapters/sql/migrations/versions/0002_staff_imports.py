"""Staff members (advisors and their territories), import jobs and their failed rows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 13:10:04.886630
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

#: Times as this revision created them: TIMESTAMP WITH TIME ZONE on PostgreSQL,
#: DATETIME on SQLite (what bookingcore's UtcDateTime rendered to at the time).
UTC_DATETIME = sa.DateTime(timezone=True)

#: JSON documents: JSONB on PostgreSQL, JSON text elsewhere.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "booking_imports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=512), nullable=False),
        sa.Column("file_format", sa.String(length=10), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("file_digest", sa.String(length=64), nullable=False),
        sa.Column("created_by_kind", sa.String(length=40), nullable=False),
        sa.Column("created_by_id", sa.String(), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("import_settings", JSON_DOCUMENT, nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("processed_rows", sa.Integer(), nullable=False),
        sa.Column("created_rows", sa.Integer(), nullable=False),
        sa.Column("updated_rows", sa.Integer(), nullable=False),
        sa.Column("skipped_rows", sa.Integer(), nullable=False),
        sa.Column("failed_rows", sa.Integer(), nullable=False),
        sa.Column("error_summary", JSON_DOCUMENT, nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=True),
        sa.Column("completed_at", UTC_DATETIME, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_imports")),
    )
    with op.batch_alter_table("booking_imports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_booking_imports_created_at_id"), ["created_at", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_booking_imports_status"), ["status"], unique=False)

    op.create_table(
        "booking_import_errors",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("raw_row", JSON_DOCUMENT, nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("error_type", sa.String(length=50), nullable=False),
        sa.Column("field_errors", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("resolved_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["booking_imports.id"],
            name=op.f("fk_booking_import_errors_import_id_booking_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_import_errors")),
    )
    with op.batch_alter_table("booking_import_errors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_booking_import_errors_import_id_row_number"),
            ["import_id", "row_number"],
            unique=False,
        )

    op.create_table(
        "staff_members",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("locations", JSON_DOCUMENT, nullable=False),
        sa.Column("supplier_id", sa.Uuid(), nullable=True),
        sa.Column("password_hash", sa.String(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_staff_members_supplier_id_suppliers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_members")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_members_email")),
    )
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_members_role"), ["role"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_staff_members_supplier_id"), ["supplier_id"], unique=False
        )

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customers_email"), ["email"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_email"))

    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_members_supplier_id"))
        batch_op.drop_index(batch_op.f("ix_staff_members_role"))

    op.drop_table("staff_members")
    with op.batch_alter_table("booking_import_errors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booking_import_errors_import_id_row_number"))

    op.drop_table("booking_import_errors")
    with op.batch_alter_table("booking_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booking_imports_status"))
        batch_op.drop_index(batch_op.f("ix_booking_imports_created_at_id"))

    op.drop_table("booking_imports")
