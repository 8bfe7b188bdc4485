"""Seed 002 over HTTP: a partner's token, locations, availability, customers and bookings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from tests.examples.api._client import ApiClient
from tests.examples.api.conftest import SETUP

from bookingcore import BookingCore, Money
from bookingcore.domain import Slot
from bookingcore.testing import FixedClock

Partner = Callable[..., dict[str, str]]


@pytest.fixture
def partner(api_core: BookingCore, client: ApiClient, slot: Slot) -> Partner:
    """Register a partner allowed at the slot's location; returns its bearer header."""
    count = iter(range(100))

    def make(*, allowed: bool = True, rate_limit: str | None = None) -> dict[str, str]:
        number = next(count)
        registered = api_core.partners.register(
            name=f"Blue Reef {number}",
            company_name="Blue Reef Travel",
            contact_email=f"ops{number}@bluereef.example",
            principal=SETUP,
            allowed_location_ids=[slot.location_id] if allowed else [],
            settings={"rate_limit": rate_limit} if rate_limit else None,
        )
        answer = client.post(
            "/api/partner/auth/token",
            json={"api_key": registered.api_key, "api_secret": registered.api_secret},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["refresh_token"] is None
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    return make


def _booking(slot: Slot, phone: str = "+919876543210", **extra: Any) -> dict[str, Any]:
    return {
        "slot_id": str(slot.id),
        "customer": {"phone": phone, "name": "John Doe", "email": "john@example.com"},
        "travelers": [{"name": "John Doe", "is_primary": True}],
        **extra,
    }


def test_a_partner_books_lists_and_cancels(
    client: ApiClient, partner: Partner, slot: Slot, api_core: BookingCore, clock: FixedClock
) -> None:
    me = partner()
    api_core.catalog.add_location("ELSEWHERE", "Not for partners", principal=SETUP)
    locations = client.get("/api/partner/locations", headers=me).json()
    assert [loc["code"] for loc in locations] == ["HAMPTA-BC"]
    open_slots = client.walk(
        "/api/partner/availability",
        me,
        starts_from=clock.now().isoformat(),
        location_id=str(slot.location_id),
    )
    assert [(s["id"], s["seats_left"]) for s in open_slots] == [(str(slot.id), 4)]

    made = client.post(
        "/api/partner/bookings",
        json=_booking(slot, external_id="BR-1001"),
        headers={**me, "Idempotency-Key": "br-1001"},
    )
    assert made.status_code == 201, made.text
    booking = made.json()
    assert booking["source"] == "partner"
    assert booking["external_id"] == "BR-1001"
    assert booking["partner_id"] is not None

    customers = client.get("/api/partner/customers", headers=me).json()
    assert [c["phone"] for c in customers["items"]] == ["+919876543210"]
    one = client.get(f"/api/partner/customers/{booking['customer_id']}", headers=me)
    assert one.json()["name"] == "John Doe"
    assert [b["id"] for b in client.get("/api/partner/bookings", headers=me).json()["items"]] == [
        booking["id"]
    ]
    cancelled = client.delete(
        f"/api/partner/bookings/{booking['id']}", params={"reason": "diver ill"}, headers=me
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"


@pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_availability_is_listed_earliest_first_in_pages_with_a_next_link(
    client: ApiClient, partner: Partner, slot: Slot, api_core: BookingCore, clock: FixedClock
) -> None:
    """Only the partner's locations, earliest start first (slots starting together by
    id), full slots left out unless asked for, every page reached by ``next``."""
    me = partner()
    elsewhere = api_core.catalog.add_location("ELSEWHERE", "Not for partners", principal=SETUP)
    made = [slot]
    for days in (10, 3, 3, 20):
        made.append(
            api_core.catalog.create_slot(
                location_id=slot.location_id,
                starts_at=clock.now() + timedelta(days=days),
                price_per_traveler=Money("8500", "INR"),
                capacity=2,
                principal=SETUP,
            )
        )
    api_core.catalog.create_slot(
        location_id=elsewhere.id,
        starts_at=clock.now() + timedelta(days=1),
        price_per_traveler=Money("8500", "INR"),
        capacity=2,
        principal=SETUP,
    )
    full = made[4]
    booked = client.post(
        "/api/partner/bookings",
        json={
            **_booking(full),
            "travelers": [{"name": f"Guest {n}", "is_primary": n == 0} for n in range(2)],
        },
        headers=me,
    )
    assert booked.status_code == 201, booked.text
    earliest = sorted(made, key=lambda s: (s.starts_at, s.id.bytes))
    url = "/api/partner/availability"
    for limit in (1, 2, 3):
        seen = client.walk(url, me, limit=limit)
        assert [s["id"] for s in seen] == [str(s.id) for s in earliest if s is not full], limit
    everything = client.walk(url, me, limit=2, only_available="false")
    assert [s["id"] for s in everything] == [str(s.id) for s in earliest]
    bad = client.get(url, params={"cursor": "not-a-cursor"}, headers=me)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "cursor")
    nowhere = partner(allowed=False)
    assert client.walk(url, nowhere) == []


def test_a_partner_lists_dive_sites_and_their_slots(
    client: ApiClient, partner: Partner, slot: Slot, api_core: BookingCore, clock: FixedClock
) -> None:
    """Seed 002's dive sites: active dive products (at a location it may book, when
    asked), and the slots of one through ``product_id`` on the availability."""
    me = partner()
    elsewhere = api_core.catalog.add_location("ELSEWHERE", "Not for partners", principal=SETUP)
    reef = api_core.catalog.add_product(
        "BLUE-HOLE", "Blue Hole", "dive", location_id=slot.location_id, principal=SETUP
    )
    wreck = api_core.catalog.add_product(
        "WRECK", "Wreck of the Maru", "dive", location_id=elsewhere.id, principal=SETUP
    )
    closed = api_core.catalog.add_product("CLOSED", "Closed reef", "dive", principal=SETUP)
    api_core.catalog.set_product_active(closed.id, False, principal=SETUP)
    api_core.catalog.add_product("HAMPTA", "Hampta Pass trek", "trek", principal=SETUP)
    sites = client.walk("/api/partner/dive-sites", me, limit=1)
    assert sorted(s["code"] for s in sites) == ["BLUE-HOLE", "WRECK"]
    assert {s["kind"] for s in sites} == {"dive"}
    here = client.walk("/api/partner/dive-sites", me, location_id=str(slot.location_id))
    assert [s["id"] for s in here] == [str(reef.id)]
    assert [s["id"] for s in client.walk("/api/partner/dive-sites", me, q="maru")] == [
        str(wreck.id)
    ]
    refused = client.get(
        "/api/partner/dive-sites", params={"location_id": str(elsewhere.id)}, headers=me
    )
    assert refused.status_code == 404, refused.text

    dive = api_core.catalog.create_slot(
        location_id=slot.location_id,
        starts_at=clock.now() + timedelta(days=5),
        price_per_traveler=Money("4000", "INR"),
        capacity=6,
        product_id=reef.id,
        principal=SETUP,
    )
    found = client.walk("/api/partner/availability", me, product_id=str(reef.id))
    assert [(s["id"], s["seats_left"]) for s in found] == [(str(dive.id), 6)]
    assert client.walk("/api/partner/availability", me, product_id=str(wreck.id)) == []


def test_a_partner_never_sees_another_partners_records(
    client: ApiClient, partner: Partner, slot: Slot
) -> None:
    first, second = partner(), partner()
    booking = client.post("/api/partner/bookings", json=_booking(slot), headers=first).json()
    made = client.post(
        "/api/partner/customers", json={"phone": "+919811122233", "name": "Ravi"}, headers=first
    )
    assert made.status_code == 201
    customer = made.json()

    assert client.get(f"/api/partner/bookings/{booking['id']}", headers=second).status_code == 404
    assert client.delete(f"/api/partner/bookings/{booking['id']}", headers=second).status_code == (
        404
    )
    assert client.get(f"/api/partner/customers/{customer['id']}", headers=second).status_code == (
        404
    )
    assert client.get("/api/partner/bookings", headers=second).json()["items"] == []
    assert client.get("/api/partner/customers", headers=second).json()["items"] == []
    found = client.get("/api/partner/customers", params={"q": "Ravi"}, headers=second)
    assert found.json()["items"] == []


def test_a_partner_may_not_book_outside_its_locations(
    client: ApiClient, partner: Partner, slot: Slot
) -> None:
    outsider = partner(allowed=False)
    assert client.get("/api/partner/locations", headers=outsider).json() == []
    answer = client.post("/api/partner/bookings", json=_booking(slot), headers=outsider)
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "permission_denied"


def test_partner_requests_past_the_rate_limit_answer_429(
    client: ApiClient, partner: Partner
) -> None:
    me = partner(rate_limit="2/60")  # the sign-in itself counts as one
    assert client.get("/api/partner/locations", headers=me).status_code == 200
    refused = client.get("/api/partner/locations", headers=me)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1


def test_wrong_credentials_and_other_tokens_are_refused(
    client: ApiClient, partner: Partner, staff_headers: dict[str, str]
) -> None:
    wrong = client.post("/api/partner/auth/token", json={"api_key": "pk_x", "api_secret": "sk_y"})
    assert wrong.status_code == 401
    assert client.get("/api/partner/bookings", headers=staff_headers).status_code == 401
    assert client.get("/api/admin/bookings", headers=partner()).status_code == 401


def test_staff_filter_bookings_by_source_and_partner(
    client: ApiClient,
    partner: Partner,
    slot: Slot,
    staff_headers: dict[str, str],
    sign_in: Callable[[str], dict[str, str]],
) -> None:
    me = partner()
    by_partner = client.post("/api/partner/bookings", json=_booking(slot), headers=me).json()
    direct = client.post(
        "/api/v1/customer/bookings",
        json={"slot_id": str(slot.id), "travelers": [{"name": "Asha", "is_primary": True}]},
        headers=sign_in("+919811122233"),
    ).json()
    source = client.get(
        "/api/admin/bookings", params={"source": "partner"}, headers=staff_headers
    ).json()
    assert [b["id"] for b in source["items"]] == [by_partner["id"]]
    mine = client.get(
        "/api/admin/bookings",
        params={"partner_id": by_partner["partner_id"]},
        headers=staff_headers,
    ).json()
    assert [b["id"] for b in mine["items"]] == [by_partner["id"]]
    direct_only = client.get(
        "/api/admin/bookings", params={"source": "direct"}, headers=staff_headers
    ).json()
    assert [b["id"] for b in direct_only["items"]] == [direct["id"]]


def test_booking_text_fields_take_what_the_library_takes(
    client: ApiClient, partner: Partner, slot: Slot, api_core: BookingCore
) -> None:
    """``external_id`` up to 255 characters, ``referral_source`` up to 100, as the
    library and the booking edit route; the OpenAPI document says the same."""
    me = partner()
    made = client.post(
        "/api/partner/bookings", json=_booking(slot, external_id="E" * 255), headers=me
    )
    assert made.status_code == 201, made.text
    assert made.json()["external_id"] == "E" * 255
    too_long = client.post(
        "/api/partner/bookings",
        json=_booking(slot, "+919876543211", referral_source="r" * 101),
        headers=me,
    )
    assert too_long.status_code == 422, too_long.text
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("PartnerBookingIn", "BookingCreateIn", "BookingUpdateIn", "StaffBookingIn"):
        fields = schemas[name]["properties"]
        assert fields["referral_source"]["anyOf"][0]["maxLength"] == 100, name
        if "external_id" in fields:
            assert fields["external_id"]["anyOf"][0]["maxLength"] == 255, name


def test_a_partner_edits_its_booking_by_patch_or_replaces_the_fields_by_put(
    client: ApiClient, partner: Partner, slot: Slot
) -> None:
    """``PATCH`` changes the fields given and keeps the others; seed 002's ``PUT`` sets
    both editable fields, clearing one left out. A stale version is 409, another
    partner's booking 404, an external id the partner already uses 409."""
    me, other = partner(), partner()
    made = client.post(
        "/api/partner/bookings",
        json=_booking(slot, external_id="BR-1", referral_source="newsletter"),
        headers=me,
    ).json()
    client.post(
        "/api/partner/bookings",
        json=_booking(slot, "+919876543219", external_id="BR-2"),
        headers=me,
    )
    url = f"/api/partner/bookings/{made['id']}"

    patched = client.patch(url, json={"referral_source": "fair"}, headers=me)
    assert patched.status_code == 200, patched.text
    assert (patched.json()["external_id"], patched.json()["referral_source"]) == ("BR-1", "fair")

    put = client.put(url, json={"external_id": "BR-1b"}, headers=me)
    assert put.status_code == 200, put.text
    assert (put.json()["external_id"], put.json()["referral_source"]) == ("BR-1b", None)
    assert client.get(url, headers=me).json()["referral_source"] is None

    stale = client.put(url, json={"external_id": "X", "expected_version": 1}, headers=me)
    assert stale.status_code == 409, stale.text
    taken = client.put(url, json={"external_id": "BR-2"}, headers=me)
    assert taken.status_code == 409, taken.text
    assert client.put(url, json={"external_id": "MINE"}, headers=other).status_code == 404
    assert client.get(url, headers=me).json()["external_id"] == "BR-1b"
