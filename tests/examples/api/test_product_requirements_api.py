"""Who may be booked on a product, over HTTP: staff set and clear a product's
requirements, product answers show them, malformed ones answer 422 on the field, and a
refused booking answers 422 naming each traveler's field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from tests.examples.api._client import ApiClient
from tests.examples.api.conftest import SETUP

from bookingcore import BookingCore, BookingId, Money, ProductId, ProductRequirements, StaffRole
from bookingcore.domain import AuditAction, Slot
from bookingcore.testing import FixedClock

TEN_AND_OVER = {"min_age": 10}


@pytest.fixture
def course(client: ApiClient, staff_headers: dict[str, str]) -> dict[str, Any]:
    made = client.post(
        "/api/admin/products",
        json={"code": "OW", "name": "Open water course", "kind": "course"},
        headers=staff_headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["requirements"] is None
    product: dict[str, Any] = made.json()
    return product


@pytest.fixture
def course_slot(api_core: BookingCore, clock: FixedClock, course: dict[str, Any]) -> Slot:
    reef = api_core.catalog.add_location("REEF", "Reef dive centre", principal=SETUP)
    return api_core.catalog.create_slot(
        location_id=reef.id,
        starts_at=clock.now() + timedelta(days=10),
        price_per_traveler=Money("8500", "INR"),
        capacity=4,
        product_id=ProductId(UUID(course["id"])),
        principal=SETUP,
    )


def _url(product: dict[str, Any]) -> str:
    return f"/api/admin/products/{product['id']}/requirements"


def test_staff_set_show_and_clear_a_product_s_requirements(
    client: ApiClient, staff_headers: dict[str, str], course: dict[str, Any], api_core: BookingCore
) -> None:
    body = {"max_age": 60, "certificates": ["PADI Open Water", "SSI Open Water"]}
    answer = client.put(
        _url(course), json={**body, "certificates_rule": "any"}, headers=staff_headers
    )
    assert answer.status_code == 200, answer.text
    shown = {
        "min_age": None,
        "max_age": 60,
        "certificates": ["PADI Open Water", "SSI Open Water"],
        "certificates_rule": "any",
    }
    assert answer.json()["requirements"] == shown
    listed = client.get("/api/admin/products", headers=staff_headers).json()["items"]
    assert listed[0]["requirements"] == shown
    stored = api_core.catalog.search_products(principal=SETUP, text="OW").items[0]
    assert stored.requirements == ProductRequirements(
        max_age=60, certificates=["PADI Open Water", "SSI Open Water"], certificates_rule="any"
    )
    cleared = client.delete(_url(course), headers=staff_headers)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["requirements"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"min_age": -1}, "min_age"),
        ({"max_age": 131}, "max_age"),
        ({"min_age": 12, "max_age": 8}, "max_age"),
        ({"certificates": ["OW", "OW"]}, "certificates[1]"),
        ({"certificates": ["  "]}, "certificates[0]"),
        ({"certificates_rule": "some"}, "certificates_rule"),
        ({"minimum_age": 10}, "minimum_age"),
    ],
)
def test_malformed_requirements_answer_422_on_the_field_and_change_nothing(
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
    assert (
        api_core.catalog.search_products(principal=SETUP, text="OW").items[0].requirements is None
    )


def test_only_catalogue_staff_set_them_unknown_products_are_404_and_keys_are_honoured(
    client: ApiClient,
    staff_sign_in: Callable[..., dict[str, str]],
    staff_headers: dict[str, str],
    course: dict[str, Any],
) -> None:
    advisor = staff_sign_in("advisor@example.com", StaffRole.ADVISOR)
    assert client.put(_url(course), json=TEN_AND_OVER, headers=advisor).status_code == 403
    missing = f"/api/admin/products/{uuid4()}/requirements"
    assert client.put(missing, json=TEN_AND_OVER, headers=staff_headers).status_code == 404
    assert client.delete(missing, headers=staff_headers).status_code == 404
    keyed = {**staff_headers, "Idempotency-Key": "rules-1"}
    first = client.put(_url(course), json=TEN_AND_OVER, headers=keyed)
    again = client.put(_url(course), json=TEN_AND_OVER, headers=keyed)
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() == again.json()
    assert client.delete(_url(course), headers=keyed).status_code == 422


def test_a_refused_booking_answers_422_naming_each_traveler_field(
    client: ApiClient,
    staff_headers: dict[str, str],
    sign_in: Callable[[str], dict[str, str]],
    course: dict[str, Any],
    course_slot: Slot,
) -> None:
    rules = {"min_age": 10, "certificates": ["PADI Discover Scuba"]}
    assert client.put(_url(course), json=rules, headers=staff_headers).status_code == 200
    day = course_slot.starts_at.date()
    nine = date(day.year - 9, day.month, day.day).isoformat()
    me = sign_in("+919876500012")
    made = client.post(
        "/api/v1/customer/bookings",
        json={
            "slot_id": str(course_slot.id),
            "travelers": [
                {"name": "Asha Rao", "is_primary": True, "age": 35},
                {"name": "Meera Rao", "birth_date": nine},
            ],
        },
        headers=me,
    )
    assert made.status_code == 422, made.text
    assert [(e["field"], e["code"]) for e in made.json()["errors"]] == [
        ("travelers[0].certificates", "certificate_missing"),
        ("travelers[1].age", "too_young"),
        ("travelers[1].certificates", "certificate_missing"),
    ]


def test_the_desk_may_book_past_the_requirements_and_it_is_noted(
    client: ApiClient,
    staff_headers: dict[str, str],
    course: dict[str, Any],
    course_slot: Slot,
    api_core: BookingCore,
) -> None:
    assert client.put(_url(course), json=TEN_AND_OVER, headers=staff_headers).status_code == 200
    body = {
        "slot_id": str(course_slot.id),
        "customer": {"phone": "+919876500013", "name": "Asha Rao"},
        "travelers": [{"name": "Meera Rao", "is_primary": True, "age": 8}],
    }
    refused = client.post("/api/admin/bookings", json=body, headers=staff_headers)
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["travelers[0].age"]
    made = client.post(
        "/api/admin/bookings", json={**body, "override_requirements": True}, headers=staff_headers
    )
    assert made.status_code == 201, made.text

    trail = api_core.bookings.audit_trail(BookingId(UUID(made.json()["id"])), principal=SETUP)
    assert [e.action for e in trail if e.action is AuditAction.NOTE_ADDED] == [
        AuditAction.NOTE_ADDED
    ]
