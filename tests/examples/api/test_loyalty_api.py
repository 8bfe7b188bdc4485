"""Loyalty tiers over HTTP: the tier in the customer view, its own admin endpoint, and
the discount a booking records."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from tests.examples.api._client import ApiClient

from bookingcore import (
    BookingCore,
    BookingId,
    LoyaltyProgram,
    LoyaltyTier,
    Money,
    Principal,
    Settings,
    StaffId,
    StaffRole,
)
from bookingcore.domain import Slot

PHONE = "+919876543210"
ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


@pytest.fixture
def api_settings() -> Settings:
    """Silver from one completed booking (5 % off); Gold from three and 20,000 INR."""
    return Settings(
        default_region="IN",
        loyalty=LoyaltyProgram(
            [
                LoyaltyTier("Silver", min_completed_bookings=1, discount_percent=Decimal(5)),
                LoyaltyTier(
                    "Gold",
                    min_completed_bookings=3,
                    min_spent={"INR": Money("20000", "INR")},
                    discount_percent=Decimal(10),
                ),
            ]
        ),
    )


def _desk_booking(client: ApiClient, headers: dict[str, str], slot: Slot) -> dict[str, Any]:
    body = {
        "slot_id": str(slot.id),
        "customer": {"phone": PHONE, "name": "Asha Verma"},
        "travelers": [{"name": f"Asha Verma {uuid4().hex[:6]}", "is_primary": True}],
    }
    made = client.post("/api/admin/bookings", json=body, headers=headers)
    assert made.status_code == 201, made.text
    booking: dict[str, Any] = made.json()
    return booking


def test_staff_read_the_tier_and_a_booking_records_its_discount(
    api_core: BookingCore, client: ApiClient, staff_headers: dict[str, str], slot: Slot
) -> None:
    first = _desk_booking(client, staff_headers, slot)
    assert (first["loyalty_tier"], first["total"]["amount"]) == (None, "8500.00")
    customer = first["customer_id"]
    answer = client.get(f"/api/admin/customers/{customer}/loyalty", headers=staff_headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "tier": None,
        "completed_bookings": 0,
        "spent": [],
        "next_tier": {
            "name": "Silver",
            "min_completed_bookings": 1,
            "min_spent": [],
            "discount_percent": "5",
        },
        "bookings_to_next": 1,
        "spent_to_next": [],
    }
    for status in ("confirmed", "completed"):
        api_core.bookings.transition(BookingId(UUID(first["id"])), status, principal=ADMIN)
    second = _desk_booking(client, staff_headers, slot)
    assert second["loyalty_tier"] == "Silver"
    assert second["loyalty_discount"] == {"amount": "425.00", "currency": "INR"}
    assert (second["discount"]["amount"], second["total"]["amount"]) == ("425.00", "8075.00")
    view = client.get(f"/api/admin/customers/{customer}/view", headers=staff_headers).json()
    loyalty = view["loyalty"]
    assert (loyalty["tier"]["name"], loyalty["completed_bookings"]) == ("Silver", 1)
    assert (loyalty["next_tier"]["name"], loyalty["bookings_to_next"]) == ("Gold", 2)
    assert loyalty["spent_to_next"] == [{"amount": "20000.00", "currency": "INR"}]


def test_unknown_customers_and_partial_readers_are_refused(
    client: ApiClient,
    staff_headers: dict[str, str],
    staff_sign_in: Any,
    slot: Slot,
) -> None:
    missing = client.get(f"/api/admin/customers/{uuid4()}/loyalty", headers=staff_headers)
    assert missing.status_code == 404, missing.text
    customer = _desk_booking(client, staff_headers, slot)["customer_id"]
    advisor = staff_sign_in("advisor@example.com", StaffRole.ADVISOR)
    # An advisor sees only the bookings assigned to them, never a customer's whole figures.
    refused = client.get(f"/api/admin/customers/{customer}/loyalty", headers=advisor)
    assert refused.status_code == 404, refused.text
