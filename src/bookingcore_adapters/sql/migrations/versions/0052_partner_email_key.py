"""Partners are matched by contact email without regard to case: a stored, unique key.

Revision ID: 0052
Revises: 0051
Create Date: 2026-12-07 01:30:00.000000

``partners.contact_email`` keeps the address as it was given (``Ops@Agency.example``);
``partners.contact_email_key`` holds it case folded (``EmailAddress.match_key``), and
finding a partner by its contact email (``PartnerFilter.contact_email``, the partners
service's duplicate check) compares that. The unique constraint moves from
``contact_email`` to ``contact_email_key``, so two partners whose addresses differ only
in case cannot both exist, as with staff (revision 0029). Existing rows get their key
here, computed in Python as the library does (SQL ``lower()`` folds only ASCII on
SQLite).

Two stored partners whose contact emails fold to the same key stop the upgrade before
anything changes, naming the addresses: decide which partner keeps the address (change
the other's contact email), then upgrade again. Nothing is merged silently.

A downgrade drops the key and puts the unique constraint back on ``contact_email``.
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0052"
down_revision = "0051"
branch_labels = None
depends_on = None

#: Rows written per round trip while filling the keys in.
BATCH = 1000

_partners = sa.table(
    "partners",
    sa.column("id", sa.Uuid()),
    sa.column("contact_email"),
    sa.column("contact_email_key"),
)


def upgrade() -> None:
    offline = op.get_context().as_sql
    keys = None if offline else _keys()
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_email_key", sa.String(), nullable=True))
    if keys is None:
        # Printing the DDL (``upgrade --sql``): no rows to read; SQL's lower() is the
        # closest a script can say (ASCII addresses get the same key). Addresses that
        # differ only in case make the unique constraint below fail.
        op.execute(
            _partners.update().values(contact_email_key=sa.func.lower(_partners.c.contact_email))
        )
    else:
        _fill(keys)
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.alter_column("contact_email_key", existing_type=sa.String(), nullable=False)
        batch_op.drop_constraint(batch_op.f("uq_partners_contact_email"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_partners_contact_email_key"), ["contact_email_key"]
        )


def _keys() -> list[dict[str, object]]:
    """Every partner's key, case folded in Python as ``EmailAddress.match_key`` does.

    Raises:
        RuntimeError: two partners' contact emails fold to the same key (nothing
            changed yet).
    """
    rows = op.get_bind().execute(sa.select(_partners.c.id, _partners.c.contact_email)).all()
    holders: defaultdict[str, list[str]] = defaultdict(list)
    for row in rows:
        holders[row.contact_email.casefold()].append(row.contact_email)
    clashes = sorted(sorted(emails) for emails in holders.values() if len(emails) > 1)
    if clashes:
        listed = "; ".join(", ".join(repr(e) for e in emails) for emails in clashes)
        msg = (
            "partners: these partners' contact emails differ only in case, and partners "
            f"are now matched by contact email without regard to case: {listed}. Change "
            "all but one contact email of each group, then upgrade again (nothing was "
            "changed)."
        )
        raise RuntimeError(msg)
    return [{"row_id": row.id, "key": row.contact_email.casefold()} for row in rows]


def _fill(keys: list[dict[str, object]]) -> None:
    bind = op.get_bind()
    for start in range(0, len(keys), BATCH):
        bind.execute(
            _partners.update()
            .where(_partners.c.id == sa.bindparam("row_id"))
            .values(contact_email_key=sa.bindparam("key")),
            keys[start : start + BATCH],
        )


def downgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_partners_contact_email_key"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_partners_contact_email"), ["contact_email"]
        )
        batch_op.drop_column("contact_email_key")
