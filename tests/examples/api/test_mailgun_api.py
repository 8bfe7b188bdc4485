"""Email through Mailgun over HTTP: a message sent through a local server that speaks
Mailgun's API, then signed ``opened`` and ``clicked`` webhooks at ``/api/webhooks/mailgun``
move it to clicked, and the engagement report counts it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from tests.adapters._fake_mailgun import (
    API_KEY,
    DOMAIN,
    SIGNING_KEY,
    FakeMailgun,
    fake_mailgun,
    webhook_body,
)
from tests.examples.api._client import ApiClient

from bookingcore.testing import FixedClock
from bookingcore_adapters.email import MailgunNotifier

PATH = "/api/webhooks/mailgun"

Book = Callable[..., dict[str, Any]]
SignIn = Callable[[str], dict[str, str]]


@pytest.fixture
def mailgun() -> Iterator[FakeMailgun]:
    with fake_mailgun() as fake:
        yield fake


@pytest.fixture
def notifier(mailgun: FakeMailgun) -> Iterator[MailgunNotifier]:  # the core's notifier
    with MailgunNotifier(
        DOMAIN, API_KEY, sender="bookings@mg.example.com", base_url=mailgun.url, timeout=5
    ) as notifier:
        yield notifier


def test_opens_and_clicks_from_mailgun_move_a_sent_message_to_clicked(
    app: FastAPI,
    client: ApiClient,
    clock: FixedClock,
    mailgun: FakeMailgun,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
) -> None:
    asha = sign_in("+919876543210")
    client.put("/api/v1/customer/auth/profile", json={"email": "asha@example.com"}, headers=asha)
    booking = book(asha)
    sent = client.post(
        f"/api/admin/bookings/{booking['id']}/send-email",
        json={"type": "confirmation"},
        headers=staff_headers,
    )
    assert sent.status_code == 201, sent.text
    [request] = mailgun.requests
    assert request["form"]["to"] == "asha@example.com"
    assert request["form"]["v:communication_id"] == sent.json()["id"]
    message_id = mailgun.message_id(1)

    def webhook(event: str, minutes: int, **extra: Any) -> Any:
        at = (clock.now() + timedelta(minutes=minutes)).timestamp()
        body = webhook_body(event, message_id, at=at, signed_at=time.time(), **extra)
        return client.post(PATH, content=body, headers={"Content-Type": "application/json"})

    # Without the signing key the host takes no webhooks.
    assert webhook("opened", 2).status_code == 401
    app.state.mailgun_signing_key = SIGNING_KEY

    opened = webhook("opened", 2)
    assert opened.status_code == 200, opened.text
    assert opened.json() == {
        "event": "opened",
        "communication_id": sent.json()["id"],
        "status": "opened",
    }
    assert webhook("clicked", 3).json()["status"] == "clicked"
    assert webhook("opened", 4).json()["status"] == "clicked"  # a duplicate, later
    assert webhook("delivered", 1).json()["status"] == "clicked"  # out of order
    temporary = webhook("failed", 5, severity="temporary")
    assert temporary.json() == {"event": "failed", "communication_id": None, "status": None}

    log = client.get(f"/api/admin/bookings/{booking['id']}/communications", headers=staff_headers)
    [logged] = log.json()
    assert logged["status"] == "clicked"
    expected = {
        "delivered_at": clock.now() + timedelta(minutes=1),
        "opened_at": clock.now() + timedelta(minutes=2),
        "clicked_at": clock.now() + timedelta(minutes=3),
    }
    for field, moment in expected.items():
        assert logged[field].replace("Z", "+00:00") == moment.isoformat(), field

    report = client.get(
        "/api/admin/reports/communication-engagement",
        params={"by": "channel"},
        headers=staff_headers,
    )
    assert report.status_code == 200, report.text
    assert report.json() == [
        {
            "key": "email",
            "channel": None,
            "sent": 1,
            "delivered": 1,
            "opened": 1,
            "clicked": 1,
            "failed": 0,
            "open_rate": "1.0000",
            "click_rate": "1.0000",
        }
    ]


def test_forged_stale_malformed_and_unknown_webhooks_are_refused(
    app: FastAPI, client: ApiClient, clock: FixedClock
) -> None:
    app.state.mailgun_signing_key = SIGNING_KEY
    now = time.time()
    at = clock.now().timestamp()

    def post(body: bytes) -> Any:
        return client.post(PATH, content=body, headers={"Content-Type": "application/json"})

    forged = post(webhook_body("opened", "m@x", at=at, signed_at=now, key="not-the-key"))
    assert forged.status_code == 401
    stale = post(webhook_body("opened", "m@x", at=at, signed_at=now - 3600))
    assert stale.status_code == 401
    document = json.loads(webhook_body("opened", "m@x", at=at, signed_at=now))
    del document["event-data"]["event"]
    malformed = post(json.dumps(document).encode())
    assert malformed.status_code == 422
    assert "event-data.event" in malformed.text
    unknown = post(webhook_body("clicked", "nobody@mg.example.com", at=at, signed_at=now))
    assert unknown.status_code == 404
    complaint = post(webhook_body("complained", "nobody@mg.example.com", at=at, signed_at=now))
    assert complaint.json() == {"event": "complained", "communication_id": None, "status": None}


def test_the_engagement_report_is_for_staff_who_view_all(
    client: ApiClient, sign_in: SignIn, staff_headers: dict[str, str]
) -> None:
    path = "/api/admin/reports/communication-engagement"
    assert client.get(path, headers=staff_headers).json() == []
    assert client.get(path, headers=sign_in("+919876543210")).status_code in {401, 403}
    wrong = client.get(path, params={"by": "recipient"}, headers=staff_headers)
    assert wrong.status_code == 422
    naive = client.get(path, params={"sent_from": "2026-01-01T00:00:00"}, headers=staff_headers)
    assert naive.status_code == 422
