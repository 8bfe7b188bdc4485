"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}

# A revision states its own DDL and imports nothing of bookingcore: it must mean
# the same after the live table definitions change. Spell column types out
# (sa.DateTime(timezone=True), sa.Numeric(18, 4) with a SQLite VARCHAR variant)
# as revisions 0001-0006 do.

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
