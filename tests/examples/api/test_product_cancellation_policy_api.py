"""A product's own cancellation terms over HTTP: staff set and clear them, product answers
show them, malformed terms answer 422 on the field, and a booking of the product is
cancelled under them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from tests.examples.api._client import ApiClient
from tests.examples.api.conftest import SETUP

from bookingcore import (
    BookingCore,
    BookingId,
    CancellationPolicy,
    Money,
    Principal,
    ProductId,
    RefundTier,
    Settings,
    StaffId,
    StaffRole,
)
from bookingcore.testing import FixedClock

ADMIN = Principal.staff(StaffId(UUID(int=7)), StaffRole.ADMIN)
NON_REFUNDABLE = {
    "self_service_until_hours": 0,
    "refund_tiers": [{"notice_hours": 0, "refund_percent": 0}],
}


@pytest.fixture
def api_settings() -> Settings:
    """The operator's terms: all back up to 7 days, half up to 48 hours."""
    return Settings(
        default_region="IN",
        cancellation=CancellationPolicy(
            refund_tiers=[
                RefundTier(timedelta(days=7), Decimal(100)),
                RefundTier(timedelta(hours=48), Decimal(50)),
            ],
        ),
    )


@pytest.fixture
def course(client: ApiClient, staff_headers: dict[str, str]) -> dict[str, Any]:
    made = client.post(
        "/api/admin/products",
        json={"code": "OW", "name": "Open water course", "kind": "course"},
        headers=staff_headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["cancellation_policy"] is None
    product: dict[str, Any] = made.json()
    return product


def _url(product: dict[str, Any]) -> str:
    return f"/api/admin/products/{product['id']}/cancellation-policy"


def test_staff_set_show_and_clear_a_product_s_terms(
    client: ApiClient, staff_headers: dict[str, str], course: dict[str, Any], api_core: BookingCore
) -> None:
    body = {
        "self_service_until_hours": 48,
        "refund_tiers": [
            {"notice_hours": 48, "refund_percent": "50"},
            {"notice_hours": 168, "refund_percent": 100},
        ],
    }
    answer = client.put(_url(course), json=body, headers=staff_headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["cancellation_policy"] == {
        "self_service_until_hours": 48,
        "refund_tiers": [
            {"notice_hours": 168, "refund_percent": "100"},
            {"notice_hours": 48, "refund_percent": "50"},
        ],
    }
    listed = client.get("/api/admin/products", headers=staff_headers).json()["items"]
    assert listed[0]["cancellation_policy"] == answer.json()["cancellation_policy"]
    stored = api_core.catalog.search_products(principal=ADMIN, text="OW").items[0]
    assert stored.cancellation_policy == CancellationPolicy(
        self_service_until=timedelta(hours=48),
        refund_tiers=[
            RefundTier(timedelta(days=7), Decimal(100)),
            RefundTier(timedelta(hours=48), Decimal(50)),
        ],
    )
    cleared = client.delete(_url(course), headers=staff_headers)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["cancellation_policy"] is None
    assert (
        api_core.catalog.search_products(principal=ADMIN, text="OW").items[0].cancellation_policy
        is None
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"self_service_until_hours": -1}, "self_service_until_hours"),
        (
            {"refund_tiers": [{"notice_hours": 24, "refund_percent": 101}]},
            "refund_tiers[0].refund_percent",
        ),
        (
            {"refund_tiers": [{"notice_hours": -24, "refund_percent": 10}]},
            "refund_tiers[0].notice_hours",
        ),
        ({"refund_tiers": [{"notice_hours": 24}]}, "refund_tiers[0].refund_percent"),
        (
            {"refund_tiers": [{"notice_hours": 24, "refund_percent": 10, "x": 1}]},
            "refund_tiers[0].x",
        ),
        (
            # 100 % up to 2 days, 50 % up to 7: the 50 % could never apply
            {
                "refund_tiers": [
                    {"notice_hours": 48, "refund_percent": 100},
                    {"notice_hours": 168, "refund_percent": 50},
                ]
            },
            "refund_tiers",
        ),
        (
            {
                "refund_tiers": [
                    {"notice_hours": 48, "refund_percent": 100},
                    {"notice_hours": 48, "refund_percent": 50},
                ]
            },
            "refund_tiers",
        ),
    ],
)
def test_malformed_terms_answer_422_on_the_field_and_change_nothing(
    client: ApiClient,
    staff_headers: dict[str, str],
    course: dict[str, Any],
    api_core: BookingCore,
    body: dict[str, Any],
    field: str,
) -> None:
    answer = client.put(_url(course), json=body, headers=staff_headers)
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == [field]
    product = api_core.catalog.search_products(principal=ADMIN, text="OW").items[0]
    assert product.cancellation_policy is None


def test_only_staff_who_manage_the_catalog_set_terms_and_unknown_products_are_404(
    client: ApiClient,
    staff_sign_in: Callable[..., dict[str, str]],
    sign_in: Callable[[str], dict[str, str]],
    staff_headers: dict[str, str],
    course: dict[str, Any],
) -> None:
    advisor = staff_sign_in("advisor@example.com", StaffRole.ADVISOR)
    assert client.put(_url(course), json=NON_REFUNDABLE, headers=advisor).status_code == 403
    customer = sign_in("+919876500011")  # a customer's token is no staff token at all
    assert client.put(_url(course), json=NON_REFUNDABLE, headers=customer).status_code == 401
    missing = f"/api/admin/products/{uuid4()}/cancellation-policy"
    assert client.put(missing, json=NON_REFUNDABLE, headers=staff_headers).status_code == 404
    assert client.delete(missing, headers=staff_headers).status_code == 404


def test_a_keyed_retry_answers_the_product_and_another_request_with_the_key_is_422(
    client: ApiClient, staff_headers: dict[str, str], course: dict[str, Any]
) -> None:
    keyed = {**staff_headers, "Idempotency-Key": "terms-1"}
    first = client.put(_url(course), json=NON_REFUNDABLE, headers=keyed)
    again = client.put(_url(course), json=NON_REFUNDABLE, headers=keyed)
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() == again.json()
    assert client.delete(_url(course), headers=keyed).status_code == 422


def test_a_booking_of_a_non_refundable_product_is_owed_nothing_ten_days_ahead(
    client: ApiClient,
    staff_headers: dict[str, str],
    sign_in: Callable[[str], dict[str, str]],
    course: dict[str, Any],
    api_core: BookingCore,
    clock: FixedClock,
) -> None:
    assert client.put(_url(course), json=NON_REFUNDABLE, headers=staff_headers).status_code == 200
    camp = api_core.catalog.add_location("REEF", "Reef dive centre", principal=SETUP)
    slot = api_core.catalog.create_slot(
        location_id=camp.id,
        starts_at=clock.now() + timedelta(days=10),
        price_per_traveler=Money("8500", "INR"),
        capacity=4,
        product_id=ProductId(UUID(course["id"])),
        principal=SETUP,
    )
    me = sign_in("+919876500012")
    made = client.post(
        "/api/v1/customer/bookings",
        json={"slot_id": str(slot.id), "travelers": [{"name": "Asha", "is_primary": True}]},
        headers=me,
    )
    assert made.status_code == 201, made.text
    booking_id = made.json()["id"]
    api_core.payments.record_manual_payment(
        BookingId(UUID(booking_id)), Money("8500", "INR"), principal=ADMIN, reference="CASH-1"
    )
    terms = client.get(f"/api/v1/customer/bookings/{booking_id}/cancellation-terms", headers=me)
    assert (terms.json()["refund_percent"], terms.json()["refundable"]) == (
        "0",
        [{"amount": "0.00", "currency": "INR"}],
    )
    cancelled = client.post(f"/api/v1/customer/bookings/{booking_id}/cancel", headers=me)
    assert cancelled.status_code == 200, cancelled.text
    history = api_core.bookings.history(BookingId(UUID(booking_id)), principal=ADMIN)
    assert history[-1].metadata["cancellation_refund_percent"] == "0"
