"""Cursors a client tampered with answer a page or 422 on ``cursor`` on every store, never a 500."""

from __future__ import annotations

import base64
from uuid import UUID, uuid4

import pytest
from tests.examples.api._client import ApiClient
from tests.examples.api._common import STORES


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


WHEN = "2026-01-01T00:00:00+00:00"

#: A fixed id: test ids must be the same in every pytest-xdist worker.
SOME_ID = UUID("4a18f045-4ea1-4b84-bbea-a7bd36fd3a21")

TAMPERED = {
    "rank-zero": _cursor(f"0|{WHEN}|{SOME_ID}"),
    "rank-negative": _cursor(f"-5|{WHEN}|{SOME_ID}"),
    "rank-huge": _cursor(f"{10**30}|{WHEN}|{SOME_ID}"),
    "rank-int64-overflow": _cursor(f"{2**63}|{WHEN}|{SOME_ID}"),
    "before-year-1-in-utc": _cursor(f"0001-01-01T00:00:00+05:00|{SOME_ID}"),
    "after-year-9999-in-utc": _cursor(f"9999-12-31T23:59:59-05:00|{SOME_ID}"),
}


@STORES
@pytest.mark.parametrize("cursor", list(TAMPERED.values()), ids=list(TAMPERED))
@pytest.mark.parametrize(
    "url",
    [
        "/api/admin/leads/follow-ups-due",
        "/api/admin/leads",
        "/api/admin/partners",
        "/api/admin/bookings/imports/{job}/errors",
    ],
)
def test_a_tampered_cursor_is_a_422_on_cursor(
    client: ApiClient, staff_headers: dict[str, str], cursor: str, url: str
) -> None:
    answer = client.get(url.format(job=uuid4()), params={"cursor": cursor}, headers=staff_headers)
    assert answer.status_code in (200, 404, 422), answer.text
    if answer.status_code == 422:
        assert answer.json()["errors"][0]["field"] == "cursor"
