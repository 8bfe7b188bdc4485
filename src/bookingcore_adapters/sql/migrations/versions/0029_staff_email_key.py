"""Staff members are matched by email without regard to case: a stored, unique match key.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05 21:40:00.000000

``staff_members.email`` keeps the address as it was given (``Ann@Example.com``);
``staff_members.email_key`` holds it case folded (``EmailAddress.match_key``), and
signing in or finding a member by email compares that. The unique constraint moves
from ``email`` to ``email_key``, so two members whose addresses differ only in case
cannot both exist. Existing rows get their key here, computed in Python as the
library does (SQL ``lower()`` folds only ASCII on SQLite).

Two stored members whose addresses fold to the same key stop the upgrade before
anything changes, naming the addresses: decide which account stays (change the
other's email or delete it), then upgrade again. Nothing is merged silently.
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

#: Rows written per round trip while filling the keys in.
BATCH = 1000

_staff = sa.table(
    "staff_members", sa.column("id", sa.Uuid()), sa.column("email"), sa.column("email_key")
)


def upgrade() -> None:
    offline = op.get_context().as_sql
    keys = None if offline else _keys()
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_key", sa.String(), nullable=True))
    if keys is None:
        # Printing the DDL (``upgrade --sql``): no rows to read; SQL's lower() is the
        # closest a script can say (ASCII addresses get the same key). Addresses that
        # differ only in case make the unique constraint below fail.
        op.execute(_staff.update().values(email_key=sa.func.lower(_staff.c.email)))
    else:
        _fill(keys)
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.alter_column("email_key", existing_type=sa.String(), nullable=False)
        batch_op.drop_constraint(batch_op.f("uq_staff_members_email"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_staff_members_email_key"), ["email_key"])


def _keys() -> list[dict[str, object]]:
    """Every member's key, case folded in Python as ``EmailAddress.match_key`` does.

    Raises:
        RuntimeError: two members' addresses fold to the same key (nothing changed yet).
    """
    rows = op.get_bind().execute(sa.select(_staff.c.id, _staff.c.email)).all()
    holders: defaultdict[str, list[str]] = defaultdict(list)
    for row in rows:
        holders[row.email.casefold()].append(row.email)
    clashes = sorted(sorted(emails) for emails in holders.values() if len(emails) > 1)
    if clashes:
        listed = "; ".join(", ".join(repr(e) for e in emails) for emails in clashes)
        msg = (
            "staff_members: these staff emails differ only in case, and staff are now "
            f"matched without regard to case: {listed}. Change or remove all but one "
            "address of each group, then upgrade again (nothing was changed)."
        )
        raise RuntimeError(msg)
    return [{"row_id": row.id, "key": row.email.casefold()} for row in rows]


def _fill(keys: list[dict[str, object]]) -> None:
    bind = op.get_bind()
    for start in range(0, len(keys), BATCH):
        bind.execute(
            _staff.update()
            .where(_staff.c.id == sa.bindparam("row_id"))
            .values(email_key=sa.bindparam("key")),
            keys[start : start + BATCH],
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_staff_members_email_key"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_staff_members_email"), ["email"])
        batch_op.drop_column("email_key")
