"""Seeds 001, 003 and 004 over HTTP: the booking desk, the customer portal, advisors, audit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from tests.examples.api._client import ApiClient
from tests.examples.api.conftest import SETUP

from bookingcore import BookingCore, StaffRole
from bookingcore.testing import FixedClock, RecordingNotifier

SignIn = Callable[[str], dict[str, str]]
StaffSignIn = Callable[..., dict[str, str]]
Book = Callable[..., dict[str, Any]]


@pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_staff_read_the_customer_and_message_them(
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
    notifier: RecordingNotifier,
) -> None:
    """The desk reads who booked, sends a confirmation once per key, and lists it."""
    asha = sign_in("+919876543210")
    client.put("/api/v1/customer/auth/profile", json={"email": "asha@example.com"}, headers=asha)
    booking = book(asha)
    base = f"/api/admin/bookings/{booking['id']}"
    user = client.get(f"{base}/user", headers=staff_headers)
    assert user.status_code == 200, user.text
    assert user.json()["phone"] == "+919876543210"
    assert client.get(f"{base}/communications", headers=staff_headers).json() == []

    keyed = {**staff_headers, "Idempotency-Key": "confirm-1"}
    sent = client.post(f"{base}/send-email", json={"type": "confirmation"}, headers=keyed)
    assert sent.status_code == 201, sent.text
    assert sent.json()["channel"] == "email"
    assert sent.json()["recipient"] == "asha@example.com"
    again = client.post(f"{base}/send-email", json={"type": "confirmation"}, headers=keyed)
    assert again.json()["id"] == sent.json()["id"]
    assert len(notifier.sent) == 1
    listed = client.get(f"{base}/communications", headers=staff_headers).json()
    assert [m["id"] for m in listed] == [sent.json()["id"]]

    assert listed[0]["attempts"] == 1
    assert listed[0]["retryable"] is None
    notifier.fail_next(reason="no such mailbox", retryable=False)
    cancellation = {"type": "cancellation"}
    refused = client.post(f"{base}/send-email", json=cancellation, headers=staff_headers)
    failed = client.get(f"{base}/communications", headers=staff_headers).json()
    (message,) = [m for m in failed if m["status"] == "failed"]
    assert (message["attempts"], message["retryable"]) == (1, False), refused.text
    assert message["failed_reason"] == "no such mailbox"

    unknown = client.post(f"{base}/send-email", json={"type": "telegram"}, headers=staff_headers)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "type"
    # A customer's token is refused on the desk's paths.
    assert client.get(f"{base}/user", headers=asha).status_code == 401


def test_the_customer_portal_splits_upcoming_from_history_and_cancels(
    client: ApiClient, sign_in: SignIn, book: Book, clock: FixedClock
) -> None:
    asha = sign_in("+919876543210")
    first = book(asha)
    second = book(asha, name="Ravi")
    everything = client.walk("/api/customer/bookings", asha, limit=1)
    assert [b["id"] for b in everything] == [second["id"], first["id"]]
    upcoming = client.get("/api/customer/upcoming", headers=asha).json()
    assert {b["id"] for b in upcoming["items"]} == {first["id"], second["id"]}
    assert client.get("/api/customer/history", headers=asha).json()["items"] == []

    cancelled = client.put(
        f"/api/customer/bookings/{first['id']}/cancel",
        json={"reason": "plans changed"},
        headers=asha,
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    ravi = sign_in("+919812345678")
    theirs = client.put(f"/api/customer/bookings/{second['id']}/cancel", json={}, headers=ravi)
    assert theirs.status_code == 404
    assert client.get("/api/customer/bookings", headers=ravi).json()["items"] == []

    clock.advance(timedelta(days=31))
    asha = sign_in("+919876543210")  # the access token of a month ago has expired
    past = client.get("/api/customer/history", headers=asha).json()
    assert {b["id"] for b in past["items"]} == {first["id"], second["id"]}
    assert client.get("/api/customer/upcoming", headers=asha).json()["items"] == []


@pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_the_assign_route_gives_bookings_to_active_advisors_only(
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
    api_core: BookingCore,
) -> None:
    """The route applies the library's rule: an inactive advisor, or staff of another
    role, is a 422 on ``advisor_id`` and the booking keeps its advisor."""
    booking = book(sign_in("+919876543210"))
    url = f"/api/admin/bookings/{booking['id']}/assign"
    gone = api_core.staff.add("gone@example.com", "Gone", principal=SETUP)
    api_core.staff.set_active(gone.id, False, principal=SETUP)
    desk_id = client.get("/api/v1/auth/me", headers=staff_headers).json()["id"]
    for wrong in (str(gone.id), desk_id):
        refused = client.patch(url, json={"advisor_id": wrong}, headers=staff_headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "advisor_id"
    meera = api_core.staff.add("meera@example.com", "Meera", principal=SETUP)
    given = client.patch(
        url,
        json={"advisor_id": str(meera.id), "expected_version": booking["version"]},
        headers=staff_headers,
    )
    assert given.status_code == 200, given.text
    assert given.json()["assignee_id"] == str(meera.id)
    stale = client.patch(
        url,
        json={"advisor_id": None, "expected_version": booking["version"]},
        headers=staff_headers,
    )
    assert stale.status_code == 409, stale.text
    taken = client.patch(url, json={"advisor_id": None}, headers=staff_headers)
    assert taken.status_code == 200, taken.text
    assert taken.json()["assignee_id"] is None


@pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_an_assigned_advisor_sees_moves_and_reads_only_their_bookings(
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
    staff_sign_in: StaffSignIn,
) -> None:
    asha = sign_in("+919876543210")
    mine, other = book(asha), book(asha, name="Ravi")
    advisor = staff_sign_in("meera@example.com", StaffRole.ADVISOR)
    advisor_id = client.get("/api/v1/auth/me", headers=advisor).json()["id"]

    assigned = client.patch(
        f"/api/admin/bookings/{mine['id']}/assign",
        json={"advisor_id": advisor_id, "reason": "Pune desk"},
        headers=staff_headers,
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["assignee_id"] == advisor_id
    nobody = client.patch(
        f"/api/admin/bookings/{mine['id']}/assign",
        json={"advisor_id": "00000000-0000-4000-8000-000000000000"},
        headers=staff_headers,
    )
    # The booking exists, the advisor does not: a 422 on the field sent.
    assert nobody.status_code == 422, nobody.text
    assert nobody.json()["errors"][0]["field"] == "advisor_id"
    no_booking = client.patch(
        "/api/admin/bookings/00000000-0000-4000-8000-000000000000/assign",
        json={"advisor_id": "00000000-0000-4000-8000-000000000000"},
        headers=staff_headers,
    )
    assert no_booking.status_code == 404, no_booking.text
    # Only staff who may change every booking reassign them.
    refused = client.patch(
        f"/api/admin/bookings/{other['id']}/assign",
        json={"advisor_id": advisor_id},
        headers=advisor,
    )
    assert refused.status_code in (403, 404)

    listed = client.get("/api/advisor/bookings", headers=advisor).json()
    assert [b["id"] for b in listed["items"]] == [mine["id"]]
    moved = client.patch(
        f"/api/advisor/bookings/{mine['id']}/status",
        json={"status": "confirmed", "note": "called the customer"},
        headers=advisor,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["to_status"] == "confirmed"
    noted = client.post(
        f"/api/advisor/bookings/{mine['id']}/notes",
        json={"note": "prefers mornings"},
        headers=advisor,
    )
    assert noted.status_code == 200, noted.text
    again = client.post(
        f"/api/advisor/bookings/{mine['id']}/notes", json={"note": "paid cash"}, headers=advisor
    )
    assert again.json()["internal_notes"] == "prefers mornings\npaid cash"
    stale = client.post(
        f"/api/advisor/bookings/{mine['id']}/notes",
        json={"note": "late", "expected_version": noted.json()["version"]},
        headers=advisor,
    )
    assert stale.status_code == 409
    history = client.get(f"/api/advisor/bookings/{mine['id']}/history", headers=advisor).json()
    assert "status_changed" in [e["action"] for e in history]
    assert any(e["new_values"].get("assignee_id") == advisor_id for e in history)
    assert (
        client.get(f"/api/advisor/bookings/{other['id']}/history", headers=advisor).status_code
        == 404
    )
    assert (
        client.patch(
            f"/api/advisor/bookings/{other['id']}/status",
            json={"status": "confirmed"},
            headers=advisor,
        ).status_code
        == 404
    )


def test_the_audit_trail_records_origin_and_is_staff_only(
    client: ApiClient, sign_in: SignIn, book: Book, staff_headers: dict[str, str]
) -> None:
    asha = sign_in("+919876543210")
    booking = book(asha)
    desk = {**staff_headers, "User-Agent": "desk-app/2.0"}
    client.post(
        f"/api/admin/bookings/{booking['id']}/transitions", json={"to": "confirmed"}, headers=desk
    )
    trail = client.get(f"/api/bookings/{booking['id']}/audit", headers=staff_headers)
    assert trail.status_code == 200, trail.text
    last = trail.json()[-1]
    assert last["new_values"]["status"] == "confirmed"
    assert last["user_agent"] == "desk-app/2.0"
    assert last["actor"]["kind"] == "staff"
    assert client.get(f"/api/bookings/{booking['id']}/audit", headers=asha).status_code in (
        403,
        404,
    )
    assert client.get(f"/api/bookings/{booking['id']}/audit").status_code == 401


def test_the_lifecycle_call_moves_once_per_key_and_follows_the_policy(
    client: ApiClient, sign_in: SignIn, book: Book, staff_headers: dict[str, str]
) -> None:
    asha = sign_in("+919876543210")
    booking = book(asha)
    body = {
        "bookingId": booking["id"],
        "toStatus": "confirmed",
        "note": "paid",
        "idempotencyKey": "webhook:evt_123",
        "metadata": {"provider": "razorpay"},
    }
    moved = client.post("/api/core/booking-lifecycle", json=body, headers=staff_headers)
    assert moved.status_code == 200, moved.text
    assert (moved.json()["from_status"], moved.json()["to_status"]) == ("pending", "confirmed")
    assert "internal_notes" not in moved.json()["booking"]
    again = client.post("/api/core/booking-lifecycle", json=body, headers=staff_headers)
    assert again.json()["replayed"] is True
    illegal = client.post(
        "/api/core/booking-lifecycle",
        json={"bookingId": booking["id"], "toStatus": "pending"},
        headers=staff_headers,
    )
    assert illegal.status_code == 409
    by_customer = client.post(
        "/api/core/booking-lifecycle",
        json={"bookingId": booking["id"], "toStatus": "completed"},
        headers=asha,
    )
    assert by_customer.status_code == 403


def test_the_reconciliation_report_is_for_staff_and_checks_its_period(
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
    clock: FixedClock,
) -> None:
    booking = book(sign_in("+919876543210"))
    period = {
        "start": (clock.now() - timedelta(days=1)).isoformat(),
        "end": (clock.now() + timedelta(days=1)).isoformat(),
    }
    report = client.get("/api/admin/reports/reconciliation", params=period, headers=staff_headers)
    assert report.status_code == 200, report.text
    lines = report.json()["bookings"]
    assert [(line["booking_id"], line["state"]) for line in lines] == [(booking["id"], "unpaid")]
    assert report.json()["totals"][0]["total"] == {"amount": "8500.00", "currency": "INR"}
    backwards = client.get(
        "/api/admin/reports/reconciliation",
        params={"start": period["end"], "end": period["start"]},
        headers=staff_headers,
    )
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "end"


def test_the_desk_books_for_a_customer_by_phone(
    client: ApiClient, staff_headers: dict[str, str], slot: Any
) -> None:
    body = {
        "slot_id": str(slot.id),
        "customer": {"phone": "+919876543210", "name": "Asha Verma"},
        "travelers": [{"name": "Asha Verma", "is_primary": True}],
        "source": "phone",
        "internal_notes": "called in",
    }
    keyed = {**staff_headers, "Idempotency-Key": "desk-call-1"}
    made = client.post("/api/admin/bookings", json=body, headers=keyed)
    assert made.status_code == 201, made.text
    assert (made.json()["source"], made.json()["internal_notes"]) == ("phone", "called in")
    again = client.post("/api/admin/bookings", json=body, headers=keyed)
    assert again.json()["id"] == made.json()["id"]
    full = {**body, "travelers": [{"name": f"T{n}", "is_primary": n == 0} for n in range(9)]}
    refused = client.post("/api/admin/bookings", json=full, headers=staff_headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "capacity_exceeded"


def test_the_general_list_shows_each_caller_what_is_theirs(
    client: ApiClient, sign_in: SignIn, book: Book, staff_headers: dict[str, str]
) -> None:
    asha, ravi = sign_in("+919876543210"), sign_in("+919812345678")
    mine, theirs = book(asha), book(ravi, name="Ravi")
    own = client.get("/api/bookings", headers=asha).json()
    assert [b["id"] for b in own["items"]] == [mine["id"]]
    everything = client.walk("/api/bookings", staff_headers, limit=1)
    assert [b["id"] for b in everything] == [theirs["id"], mine["id"]]
    assert "internal_notes" not in everything[0]
    by_ref = client.get("/api/bookings", params={"q": theirs["reference"]}, headers=asha).json()
    assert by_ref["items"] == []
    assert client.get("/api/bookings").status_code == 401
