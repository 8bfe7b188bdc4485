"""A partner's webhook endpoint can be disabled (it answered 410 Gone); attempt logs
written before URL passwords were masked are masked now.

Revision ID: 0053
Revises: 0052
Create Date: 2026-12-07 03:00:00.000000

``partners.webhook_disabled_at`` and ``partners.webhook_disabled_reason`` say since
when and why a partner's webhook endpoint gets no webhooks: its receiver answered
``410 Gone``. Both are NULL for every partner stored before (their endpoints stay
enabled).

A webhook URL may carry credentials (``https://user:secret@host/hook``). Attempts
logged before the library masked the password kept it in ``webhook_attempts.url``,
and a sender's error quoting the URL kept it in ``webhook_attempts.error``,
``webhook_attempts.response_excerpt`` and ``webhook_deliveries.last_error``. Here
every such password becomes ``***`` (``https://user:***@host/hook``), as the library
writes them now: in each URL found in those texts, and, where the attempt's stored
URL names the password (four characters or more), wherever else the attempt's texts
and its delivery's last error quote it, as it is or percent-decoded. The masking is
stated here, not imported, so later changes to the library do not change what this
revision did. Printed for a DBA (``upgrade --sql``) the revision adds the columns only:
there are no rows to read; run it online to mask stored passwords.

A downgrade drops the two columns; masked passwords stay masked (they are gone).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

import sqlalchemy as sa
from alembic import op

revision = "0053"
down_revision = "0052"
branch_labels = None
depends_on = None

#: A timezone-aware timestamp, stored in UTC.
UTC_DATETIME = sa.DateTime(timezone=True)

#: Rows written per round trip.
BATCH = 1000

#: ``scheme://user:`` then the password up to the last ``@`` of the authority.
URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^/?#@:\s]*:)(?P<password>[^/?#\s]*)@"
)
MASK = "***"
#: Shorter passwords are masked only where they stand in a URL.
MIN_LOOSE_PASSWORD = 4

_attempts = sa.table(
    "webhook_attempts",
    sa.column("id", sa.Uuid()),
    sa.column("delivery_id", sa.Uuid()),
    sa.column("url", sa.Text()),
    sa.column("error", sa.Text()),
    sa.column("response_excerpt", sa.Text()),
)
_deliveries = sa.table(
    "webhook_deliveries",
    sa.column("id", sa.Uuid()),
    sa.column("last_error", sa.Text()),
)


def upgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_disabled_at", UTC_DATETIME, nullable=True))
        batch_op.add_column(sa.Column("webhook_disabled_reason", sa.Text(), nullable=True))
    if not op.get_context().as_sql:
        _mask_stored_passwords()


def _passwords(url: str) -> set[str]:
    """The passwords of the URLs in ``url`` long enough to look for elsewhere."""
    found: set[str] = set()
    for match in URL_PASSWORD.finditer(url):
        raw = match["password"]
        found |= {p for p in (raw, unquote(raw)) if len(p) >= MIN_LOOSE_PASSWORD}
    return found


def _masked(text: str | None, passwords: set[str]) -> str | None:
    """``text`` with every URL's password, and each of ``passwords``, as ``***``."""
    if text is None:
        return None
    masked = URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)
    for password in sorted(passwords, key=len, reverse=True):
        masked = masked.replace(password, MASK)
    return masked


def _mask_stored_passwords() -> None:
    bind = op.get_bind()
    a = _attempts.c
    attempts = bind.execute(
        sa.select(a.id, a.delivery_id, a.url, a.error, a.response_excerpt).where(
            sa.or_(a.url.like("%@%"), a.error.like("%@%"), a.response_excerpt.like("%@%"))
        )
    ).all()
    by_delivery: dict[Any, set[str]] = {}
    changed: list[dict[str, Any]] = []
    for row in attempts:
        passwords = _passwords(row.url)
        by_delivery.setdefault(row.delivery_id, set()).update(passwords)
        new = {
            "url": _masked(row.url, passwords),
            "error": _masked(row.error, passwords),
            "response_excerpt": _masked(row.response_excerpt, passwords),
        }
        if new != {"url": row.url, "error": row.error, "response_excerpt": row.response_excerpt}:
            changed.append({"row_id": row.id, **new})
    for start in range(0, len(changed), BATCH):
        bind.execute(
            _attempts.update()
            .where(a.id == sa.bindparam("row_id"))
            .values(
                url=sa.bindparam("url"),
                error=sa.bindparam("error"),
                response_excerpt=sa.bindparam("response_excerpt"),
            ),
            changed[start : start + BATCH],
        )
    d = _deliveries.c
    stored: dict[Any, str | None] = {}
    for found in bind.execute(sa.select(d.id, d.last_error).where(d.last_error.like("%@%"))):
        stored[found.id] = found.last_error
    quoted = [ident for ident, passwords in by_delivery.items() if passwords]
    for start in range(0, len(quoted), BATCH):
        chunk = quoted[start : start + BATCH]
        for found in bind.execute(sa.select(d.id, d.last_error).where(d.id.in_(chunk))):
            stored[found.id] = found.last_error
    errors: list[dict[str, Any]] = []
    for ident, last_error in stored.items():
        masked = _masked(last_error, by_delivery.get(ident, set()))
        if masked != last_error:
            errors.append({"row_id": ident, "last_error": masked})
    for start in range(0, len(errors), BATCH):
        bind.execute(
            _deliveries.update()
            .where(d.id == sa.bindparam("row_id"))
            .values(last_error=sa.bindparam("last_error")),
            errors[start : start + BATCH],
        )


def downgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_column("webhook_disabled_reason")
        batch_op.drop_column("webhook_disabled_at")
