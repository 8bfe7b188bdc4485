"""Opening slots over HTTP: one slot, or a weekly schedule's, each with an
``Idempotency-Key``, on a business that keeps New York time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.examples.api._client import ApiClient
from tests.examples.api._common import STORES

from bookingcore import BookingCore, Settings, StaffRole
from bookingcore.domain import Slot

StaffSignIn = Callable[..., dict[str, str]]


@pytest.fixture
def api_settings() -> Settings:
    """A dive shop on New York time."""
    return Settings(default_region="IN", timezone="America/New_York")


def _schedule(slot: Slot, **fields: Any) -> dict[str, Any]:
    return {
        "location_id": str(slot.location_id),
        "weekdays": [6],
        "start_times": ["07:00", "13:00"],
        "starts_on": "2026-03-01",
        "ends_on": "2026-03-31",
        "duration": "PT3H",
        "price_per_traveler": {"amount": "90.00", "currency": "USD"},
        "capacity": 8,
        "name": "Reef trip",
        **fields,
    }


def _fields(answer: Any) -> list[str]:
    assert answer.status_code == 422, answer.text
    return [e["field"] for e in answer.json()["errors"]]


@STORES
def test_a_schedule_opens_its_saturdays_once_and_a_retry_answers_them(
    client: ApiClient, staff_headers: dict[str, str], slot: Slot, api_core: BookingCore
) -> None:
    keyed = {**staff_headers, "Idempotency-Key": "march-saturdays"}
    first = client.post("/api/admin/slots/schedule", json=_schedule(slot), headers=keyed)
    assert first.status_code == 201, first.text
    made = first.json()
    starts = [s["starts_at"] for s in made["slots"]]
    assert starts[:3] == [  # 07:00 and 13:00 local: EST, then EDT from 8 March
        "2026-03-07T12:00:00Z",
        "2026-03-07T18:00:00Z",
        "2026-03-14T11:00:00Z",
    ]
    assert len(starts) == 8
    assert made["skipped"] == []
    assert made["slots"][0]["ends_at"] == "2026-03-07T15:00:00Z"
    retry = client.post("/api/admin/slots/schedule", json=_schedule(slot), headers=keyed)
    assert retry.status_code == 201, retry.text
    assert retry.json() == made
    again = client.post("/api/admin/slots/schedule", json=_schedule(slot), headers=staff_headers)
    assert again.status_code == 201, again.text
    assert (again.json()["slots"], again.json()["skipped"]) == ([], starts)
    other = client.post(
        "/api/admin/slots/schedule", json=_schedule(slot, weekdays=[7]), headers=keyed
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_conflict"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"weekdays": []}, "weekdays"),
        ({"weekdays": [8]}, "weekdays[0]"),
        ({"start_times": ["07:00", "07:00"]}, "start_times[1]"),
        ({"start_times": ["07:00+05:30"]}, "start_times[0]"),
        ({"ends_on": "2026-02-01"}, "ends_on"),
        ({"ends_on": "2028-12-31"}, "ends_on"),
        ({"exceptions": ["2026-05-02"]}, "exceptions"),
        ({"duration": "PT0S"}, "duration"),
        ({"capacity": 0}, "capacity"),
        ({"start_times": ["seven"]}, "start_times[0]"),
        ({"weekdays": ["Sat"]}, "weekdays[0]"),
    ],
)
def test_a_bad_schedule_answers_422_on_its_field(
    client: ApiClient,
    staff_headers: dict[str, str],
    slot: Slot,
    fields: dict[str, Any],
    field: str,
) -> None:
    answer = client.post(
        "/api/admin/slots/schedule", json=_schedule(slot, **fields), headers=staff_headers
    )
    assert field in _fields(answer)


def test_only_catalog_managers_open_slots(
    client: ApiClient, staff_sign_in: StaffSignIn, slot: Slot
) -> None:
    advisor = staff_sign_in("ravi@example.com", StaffRole.ADVISOR)
    answer = client.post("/api/admin/slots/schedule", json=_schedule(slot), headers=advisor)
    assert answer.status_code == 403, answer.text


@STORES
def test_one_slot_is_opened_once_with_a_key(
    client: ApiClient, staff_headers: dict[str, str], slot: Slot
) -> None:
    body = {
        "location_id": str(slot.location_id),
        "starts_at": "2026-06-06T11:00:00Z",
        "price_per_traveler": {"amount": "90.00", "currency": "USD"},
        "capacity": 6,
    }
    keyed = {**staff_headers, "Idempotency-Key": "night-dive"}
    first = client.post("/api/admin/slots", json=body, headers=keyed)
    assert first.status_code == 201, first.text
    assert (first.json()["capacity"], first.json()["seats_left"]) == (6, 6)
    retry = client.post("/api/admin/slots", json=body, headers=keyed)
    assert retry.json()["id"] == first.json()["id"]
    twice = client.post("/api/admin/slots", json=body, headers=staff_headers)
    assert twice.status_code == 201
    assert twice.json()["id"] != first.json()["id"]  # without a key a retry opens another
    changed = client.post("/api/admin/slots", json={**body, "capacity": 7}, headers=keyed)
    assert changed.status_code == 422
    assert changed.json()["code"] == "idempotency_conflict"
    naive = client.post(
        "/api/admin/slots", json={**body, "starts_at": "2026-06-06T11:00:00"}, headers=keyed
    )
    assert _fields(naive) == ["starts_at"]
