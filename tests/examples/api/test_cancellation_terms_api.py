"""Cancellation terms over HTTP: customers, partners and staff read what a cancellation now
gives; the online deadline answers 403 saying until when; a cancelled booking has none left."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from tests.examples.api._client import ApiClient
from tests.examples.api.conftest import SETUP

from bookingcore import (
    BookingCore,
    BookingId,
    CancellationPolicy,
    Money,
    Principal,
    RefundTier,
    Settings,
    StaffId,
    StaffRole,
)
from bookingcore.domain import Slot
from bookingcore.testing import FixedClock

ADMIN = Principal.staff(StaffId(UUID(int=7)), StaffRole.ADMIN)


@pytest.fixture
def api_settings() -> Settings:
    """Online until 24 hours before; all back up to 7 days, half up to 48 hours."""
    return Settings(
        default_region="IN",
        cancellation=CancellationPolicy(
            self_service_until=timedelta(hours=24),
            refund_tiers=[
                RefundTier(timedelta(days=7), Decimal(100)),
                RefundTier(timedelta(hours=48), Decimal(50)),
            ],
        ),
    )


def _pay(api_core: BookingCore, booking: dict[str, Any], amount: str) -> None:
    api_core.payments.record_manual_payment(
        BookingId(UUID(booking["id"])), Money(amount, "INR"), principal=ADMIN, reference="CASH-1"
    )


def test_a_customer_reads_the_terms_and_is_refused_past_the_deadline(
    client: ApiClient,
    sign_in: Callable[[str], dict[str, str]],
    book: Callable[..., dict[str, Any]],
    api_core: BookingCore,
    clock: FixedClock,
    slot: Slot,
) -> None:
    me = sign_in("+919876500001")
    booking = book(me)
    _pay(api_core, booking, "8500")
    url = f"/api/v1/customer/bookings/{booking['id']}/cancellation-terms"
    clock.set(slot.starts_at - timedelta(days=3))
    answer = client.get(url, headers=me)
    assert answer.status_code == 200, answer.text
    terms = answer.json()
    assert terms["booking_id"] == booking["id"]
    assert terms["self_service"] is True
    assert terms["refunds_stated"] is True
    assert terms["refund_percent"] == "50"
    assert terms["tier"] == {"notice_seconds": 48 * 3600, "refund_percent": "50"}
    assert terms["paid"] == [{"amount": "8500.00", "currency": "INR"}]
    assert terms["refundable"] == [{"amount": "4250.00", "currency": "INR"}]
    deadline = slot.starts_at - timedelta(hours=48)
    assert terms["refund_until"].replace("Z", "+00:00") == deadline.isoformat()

    clock.set(slot.starts_at - timedelta(hours=24))
    refused = client.post(f"/api/v1/customer/bookings/{booking['id']}/cancel", headers=me)
    assert refused.status_code == 403, refused.text
    assert "cancelled online until" in refused.json()["detail"]
    late = client.get(url, headers=me).json()
    assert (late["self_service"], late["refund_percent"], late["tier"]) == (False, "0", None)


def test_another_customer_gets_404(
    client: ApiClient,
    sign_in: Callable[[str], dict[str, str]],
    book: Callable[..., dict[str, Any]],
) -> None:
    booking = book(sign_in("+919876500002"))
    other = sign_in("+919876500003")
    url = f"/api/v1/customer/bookings/{booking['id']}/cancellation-terms"
    assert client.get(url, headers=other).status_code == 404


def test_staff_read_the_terms_and_a_cancelled_booking_has_none_left(
    client: ApiClient,
    sign_in: Callable[[str], dict[str, str]],
    book: Callable[..., dict[str, Any]],
    staff_headers: dict[str, str],
    api_core: BookingCore,
) -> None:
    booking = book(sign_in("+919876500004"))
    _pay(api_core, booking, "8500")
    url = f"/api/admin/bookings/{booking['id']}/cancellation-terms"
    answer = client.get(url, headers=staff_headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["refundable"] == [{"amount": "8500.00", "currency": "INR"}]
    moved = client.post(
        f"/api/admin/bookings/{booking['id']}/transitions",
        json={"to": "cancelled", "note": "customer called"},
        headers=staff_headers,
    )
    assert moved.status_code == 200, moved.text
    history = api_core.bookings.history(BookingId(UUID(booking["id"])), principal=ADMIN)
    assert history[-1].metadata == {
        "cancellation_refund_percent": "100",
        "cancellation_refundable": "8500.00 INR",
    }
    assert client.get(url, headers=staff_headers).status_code == 409


def test_a_partner_reads_the_terms_of_its_own_bookings_only(
    client: ApiClient, api_core: BookingCore, slot: Slot
) -> None:
    headers = []
    for number in range(2):
        registered = api_core.partners.register(
            name=f"Blue Reef {number}",
            company_name="Blue Reef Travel",
            contact_email=f"ops{number}@bluereef.example",
            principal=SETUP,
            allowed_location_ids=[slot.location_id],
        )
        token = client.post(
            "/api/partner/auth/token",
            json={"api_key": registered.api_key, "api_secret": registered.api_secret},
        ).json()["access_token"]
        headers.append({"Authorization": f"Bearer {token}"})
    made = client.post(
        "/api/partner/bookings",
        json={
            "slot_id": str(slot.id),
            "customer": {"phone": "+919876500005", "name": "John Doe"},
            "travelers": [{"name": "John Doe", "is_primary": True}],
        },
        headers=headers[0],
    )
    assert made.status_code == 201, made.text
    url = f"/api/partner/bookings/{made.json()['id']}/cancellation-terms"
    mine = client.get(url, headers=headers[0])
    assert mine.status_code == 200, mine.text
    assert mine.json()["refundable"] == [{"amount": "0.00", "currency": "INR"}]
    assert client.get(url, headers=headers[1]).status_code == 404
