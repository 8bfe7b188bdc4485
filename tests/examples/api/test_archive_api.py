"""Archiving over HTTP: staff archive ended bookings now, list them with the filter, and
bring one back; the customer's own history keeps them; a move of one answers 409."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from tests.examples.api._client import ApiClient
from tests.examples.api._common import STORES

from bookingcore.domain import Slot
from bookingcore.testing import FixedClock

SignIn = Callable[[str], dict[str, str]]
StaffSignIn = Callable[..., dict[str, str]]
Book = Callable[..., dict[str, Any]]


@STORES
def test_staff_archive_list_and_unarchive_bookings(
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
    staff_sign_in: StaffSignIn,
    clock: FixedClock,
    slot: Slot,
) -> None:
    asha = sign_in("+919876543210")
    gone, kept = book(asha), book(asha, name="Ravi")
    cancelled = client.put(f"/api/customer/bookings/{gone['id']}/cancel", json={}, headers=asha)
    assert cancelled.status_code == 200, cancelled.text
    clock.set(slot.starts_at + timedelta(days=400))
    staff = staff_sign_in("ops@example.com")
    cutoff = (slot.starts_at + timedelta(days=1)).isoformat()

    ahead = client.post(
        "/api/admin/archive",
        json={"ended_before": (clock.now() + timedelta(days=1)).isoformat()},
        headers=staff,
    )
    assert ahead.status_code == 422, ahead.text
    run = client.post("/api/admin/archive", json={"ended_before": cutoff}, headers=staff)
    assert run.status_code == 200, run.text
    # The pending booking is no final state: it is never a candidate.
    assert run.json() | {"ended_before": None} == {
        "ended_before": None,
        "archived": 1,
        "batches": 1,
        "kept": {},
    }

    listed = client.get("/api/admin/bookings", headers=staff).json()["items"]
    assert [b["id"] for b in listed] == [kept["id"]]
    summary = client.get("/api/admin/archive", headers=staff).json()
    assert summary == {"live": 1, "archived": 1, "archived_share": 0.5}
    archived = client.get("/api/admin/bookings?only_archived=true", headers=staff).json()
    assert [b["id"] for b in archived["items"]] == [gone["id"]]
    assert archived["items"][0]["archived_at"] is not None
    both = client.get("/api/admin/bookings?include_archived=true", headers=staff).json()
    assert {b["id"] for b in both["items"]} == {gone["id"], kept["id"]}
    asha = sign_in("+919876543210")
    mine = client.get("/api/customer/bookings", headers=asha).json()["items"]
    assert {b["id"] for b in mine} == {gone["id"], kept["id"]}

    moved = client.post(
        f"/api/admin/bookings/{gone['id']}/transitions", json={"to": "confirmed"}, headers=staff
    )
    assert moved.status_code == 409, moved.text
    assert moved.json()["code"] == "booking_archived"

    advisor = staff_sign_in("advisor@example.com", role="advisor")
    refused = client.post(f"/api/admin/bookings/{gone['id']}/unarchive", json={}, headers=advisor)
    assert refused.status_code == 403, refused.text
    back = client.post(
        f"/api/admin/bookings/{gone['id']}/unarchive", json={"reason": "dispute"}, headers=staff
    )
    assert back.status_code == 200, back.text
    assert back.json()["archived_at"] is None
    listed = client.get("/api/admin/bookings", headers=staff).json()["items"]
    assert {b["id"] for b in listed} == {gone["id"], kept["id"]}
