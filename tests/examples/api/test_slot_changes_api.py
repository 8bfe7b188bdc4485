"""The example host's slot changes: PATCH a slot and move its departure over HTTP, keyed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from tests.examples.api._client import ApiClient
from tests.examples.api._common import DESK, STORES, book_asha

from bookingcore import BookingCore, StaffRole
from bookingcore.domain import Slot
from bookingcore.testing import FixedClock, RecordingNotifier


@STORES
def test_patch_a_slot_changes_only_what_is_sent(
    client: ApiClient, api_core: BookingCore, slot: Slot, staff_headers: dict[str, str]
) -> None:
    booked = book_asha(api_core, slot, "+919876543210")
    version = api_core.catalog.get_slot(slot.id, principal=DESK).version  # seats held: +1
    url = f"/api/admin/slots/{slot.id}"
    keyed = {**staff_headers, "Idempotency-Key": "price-1"}
    body = {
        "price_per_traveler": {"amount": "9000", "currency": "INR"},
        "group_discounts": [{"min_travelers": 3, "percent": "5"}],
        "expected_version": version,
    }
    changed = client.patch(url, json=body, headers=keyed)
    assert changed.status_code == 200, changed.text
    answer = changed.json()
    assert answer["price_per_traveler"]["amount"] in ("9000", "9000.00")
    assert answer["name"] is None
    assert answer["version"] == version + 1
    assert client.patch(url, json=body, headers=keyed).json() == answer  # the retry
    stale = client.patch(
        url, json={"name": "x", "expected_version": version}, headers=staff_headers
    )
    assert stale.status_code == 409
    named = client.patch(url, json={"name": "Hampta batch 3"}, headers=staff_headers)
    assert named.json()["name"] == "Hampta batch 3"
    assert named.json()["price_per_traveler"] == answer["price_per_traveler"]
    kept = api_core.bookings.get(booked.id, principal=DESK)
    assert kept.total == booked.total  # booked before: the old price stays
    refused = client.patch(url, json={"price_per_traveler": None}, headers=staff_headers)
    assert refused.status_code == 422
    ends = client.patch(url, json={"ends_at": slot.starts_at.isoformat()}, headers=staff_headers)
    assert ends.status_code == 422
    assert client.patch(url, json={"extra": 1}, headers=staff_headers).status_code == 422


@STORES
def test_move_a_slot_moves_its_bookings_and_tells_each_customer_once(
    client: ApiClient,
    api_core: BookingCore,
    slot: Slot,
    staff_headers: dict[str, str],
    notifier: RecordingNotifier,
) -> None:
    first, second = (
        book_asha(api_core, slot, "+919876543210"),
        book_asha(api_core, slot, "+919876543211"),
    )
    move = f"/api/admin/slots/{slot.id}/move"
    keyed = {**staff_headers, "Idempotency-Key": "delay-1"}
    new_start = slot.starts_at + timedelta(hours=3)
    body = {"starts_at": new_start.isoformat(), "reason": "Snow on the pass: 3 hours later."}
    sent = len(notifier.sent)
    done = client.post(move, json=body, headers=keyed)
    assert done.status_code == 200, done.text
    answer = done.json()
    assert {b["id"] for b in answer["bookings"]} == {str(first.id), str(second.id)}
    assert len(answer["communication_ids"]) == 2
    assert answer["replayed"] is False
    assert len(notifier.sent) == sent + 2
    for booking in (first, second):
        assert api_core.bookings.get(booking.id, principal=DESK).starts_at == new_start
    again = client.post(move, json=body, headers=keyed)
    assert again.status_code == 200, again.text
    assert again.json()["replayed"] is True
    assert again.json()["communication_ids"] == answer["communication_ids"]
    assert len(notifier.sent) == sent + 2
    same = client.post(move, json=body, headers=staff_headers)
    assert same.status_code == 422  # it starts then already
    client.post(f"/api/admin/slots/{slot.id}/cancel", json={"reason": "x"}, headers=staff_headers)
    later = {**body, "starts_at": (new_start + timedelta(hours=1)).isoformat()}
    assert client.post(move, json=later, headers=staff_headers).status_code == 409


def test_a_move_into_the_past_answers_422(
    client: ApiClient, slot: Slot, staff_headers: dict[str, str], clock: FixedClock
) -> None:
    move = f"/api/admin/slots/{slot.id}/move"
    past = {"starts_at": (clock.now() - timedelta(hours=1)).isoformat(), "reason": "x"}
    refused = client.post(move, json=past, headers=staff_headers)
    assert refused.status_code == 422
    # the body's field, as pydantic names its own refusal of it
    assert [e["field"] for e in refused.json()["errors"]] == ["starts_at"]
    assert "new_starts_at" not in refused.text
    naive = {"starts_at": "2030-01-01T10:00:00", "reason": "x"}
    assert client.post(move, json=naive, headers=staff_headers).status_code == 422


def test_slot_changes_need_a_catalogue_manager(
    client: ApiClient,
    slot: Slot,
    staff_sign_in: Callable[..., dict[str, str]],
) -> None:
    advisor = staff_sign_in("advisor@example.com", StaffRole.ADVISOR)
    url = f"/api/admin/slots/{slot.id}"
    assert client.patch(url, json={"name": "x"}, headers=advisor).status_code == 403
    later = {"starts_at": (slot.starts_at + timedelta(hours=1)).isoformat(), "reason": "x"}
    assert client.post(f"{url}/move", json=later, headers=advisor).status_code == 403


def test_an_unknown_slot_answers_404(
    client: ApiClient, slot: Slot, staff_headers: dict[str, str]
) -> None:
    unknown = "/api/admin/slots/00000000-0000-0000-0000-000000000001"
    assert client.patch(unknown, json={"name": "x"}, headers=staff_headers).status_code == 404
    later = {"starts_at": (slot.starts_at + timedelta(hours=1)).isoformat(), "reason": "x"}
    assert client.post(f"{unknown}/move", json=later, headers=staff_headers).status_code == 404
