"""Seed 001's customer history view over HTTP: staff see it all, a partner its own part."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from tests.examples.api._client import ApiClient
from tests.examples.api.conftest import SETUP

from bookingcore import (
    BookingChanges,
    BookingCore,
    BookingId,
    CustomerId,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import Slot
from examples.api.schemas_ops import CustomerViewOut

PHONE = "+919876543210"


def _desk_booking(client: ApiClient, headers: dict[str, str], slot: Slot) -> dict[str, Any]:
    body = {
        "slot_id": str(slot.id),
        "customer": {"phone": PHONE, "name": "Asha Verma"},
        "travelers": [{"name": "Asha Verma", "is_primary": True}],
        "source": "phone",
        "internal_notes": "called in",
    }
    made = client.post("/api/admin/bookings", json=body, headers=headers)
    assert made.status_code == 201, made.text
    booking: dict[str, Any] = made.json()
    return booking


@pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_staff_read_the_customer_view(
    api_core: BookingCore, client: ApiClient, staff_headers: dict[str, str], slot: Slot
) -> None:
    booking = _desk_booking(client, staff_headers, slot)
    admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
    api_core.bookings.add_note(BookingId(UUID(booking["id"])), "prefers mornings", principal=admin)
    customer_id = CustomerId(UUID(booking["customer_id"]))
    api_core.travelers.add(
        customer_id,
        TravelerDetails(name="Kabir Verma", special_requirements="vegetarian"),
        principal=admin,
    )
    url = f"/api/admin/customers/{booking['customer_id']}/view"
    answer = client.get(url, headers=staff_headers)
    assert answer.status_code == 200, answer.text
    view = answer.json()
    assert view["customer"]["phone"] == PHONE
    stats = view["stats"]
    assert (stats["total_bookings"], stats["upcoming_bookings"], stats["cancelled_bookings"]) == (
        1,
        1,
        0,
    )
    assert stats["no_show_bookings"] == 0
    assert stats["lifetime_value"] == [{"amount": "8500.00", "currency": "INR"}]
    assert [b["id"] for b in view["upcoming"]] == [booking["id"]]
    assert [b["id"] for b in view["recent"]] == [booking["id"]]
    assert [(r["name"], r["requirements"]) for r in view["requirements"]] == [
        ("Kabir Verma", "vegetarian")
    ]
    notes = {n["kind"]: n for n in view["notes"]}
    assert (notes["internal"]["text"], notes["internal"]["author"]) == ("called in", None)
    assert notes["internal"]["reference"] == booking["reference"]
    assert notes["advisor"]["text"] == "prefers mornings"
    assert notes["advisor"]["author"] == {"kind": "staff", "id": str(admin.id)}
    assert view["certificates"] == []
    expected = CustomerViewOut.of(api_core.customers.view(customer_id, principal=admin))
    assert view == expected.model_dump(mode="json")

    unknown = client.get(f"/api/admin/customers/{uuid4()}/view", headers=staff_headers)
    assert unknown.status_code == 404
    assert client.get(url).status_code == 401


@pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_a_partner_reads_the_view_of_its_own_customers_only(
    api_core: BookingCore, client: ApiClient, staff_headers: dict[str, str], slot: Slot
) -> None:
    registered = api_core.partners.register(
        name="Alpha",
        company_name="Alpha Travel",
        contact_email="ops@alpha.example",
        principal=SETUP,
        allowed_location_ids=[slot.location_id],
    )
    token = client.post(
        "/api/partner/auth/token",
        json={"api_key": registered.api_key, "api_secret": registered.api_secret},
    )
    partner = {"Authorization": f"Bearer {token.json()['access_token']}"}
    made = client.post(
        "/api/partner/bookings",
        json={
            "slot_id": str(slot.id),
            "customer": {"phone": "+919800000001", "name": "Alpha Customer"},
            "travelers": [{"name": "Alpha Customer", "is_primary": True}],
        },
        headers=partner,
    )
    assert made.status_code == 201, made.text
    mine = made.json()
    # Staff's notes on the partner's own booking stay with staff.
    admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
    booking_id = BookingId(UUID(mine["id"]))
    api_core.bookings.update(
        booking_id, BookingChanges(internal_notes="slow payer"), principal=admin
    )
    api_core.bookings.add_note(booking_id, "prefers mornings", principal=admin)
    view = client.get(f"/api/partner/customers/{mine['customer_id']}/view", headers=partner)
    assert view.status_code == 200, view.text
    assert view.json()["stats"]["total_bookings"] == 1
    assert [b["id"] for b in view.json()["recent"]] == [mine["id"]]
    assert view.json()["notes"] == []
    assert "slow payer" not in view.text
    assert "prefers mornings" not in view.text
    staff_view = client.get(
        f"/api/admin/customers/{mine['customer_id']}/view", headers=staff_headers
    )
    assert {n["text"] for n in staff_view.json()["notes"]} == {"slow payer", "prefers mornings"}

    desk = _desk_booking(client, staff_headers, slot)
    theirs = client.get(f"/api/partner/customers/{desk['customer_id']}/view", headers=partner)
    assert theirs.status_code == 404
    assert desk["reference"] not in theirs.text
    as_staff = client.get(
        f"/api/partner/customers/{mine['customer_id']}/view", headers=staff_headers
    )
    assert as_staff.status_code == 401
