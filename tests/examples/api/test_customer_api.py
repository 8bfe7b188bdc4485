"""Seed 000 over HTTP: phone sign-in, profile, travelers, a booking and its cancel."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import pytest
from tests.examples.api._client import ApiClient, last_code

from bookingcore import BookingCore, Principal
from bookingcore.domain import Slot
from bookingcore_adapters.sms import ConsoleSmsSender

PHONE = "+919876543210"

SignIn = Callable[[str], dict[str, str]]


@pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_sign_in_by_code_then_book_and_cancel(
    client: ApiClient, sms: ConsoleSmsSender, api_core: BookingCore, slot: Slot
) -> None:
    """The story of seed 000, end to end over HTTP, on each store."""
    sent = client.post("/api/v1/customer/auth/request-otp", json={"phone": "098765 43210"})
    assert sent.status_code == 202
    assert sent.json()["phone"] == PHONE
    signed = client.post(
        "/api/v1/customer/auth/verify-otp", json={"phone": PHONE, "otp": last_code(sms)}
    )
    assert signed.status_code == 200, signed.text
    body = signed.json()
    assert body["created"] is True
    assert body["customer"]["phone"] == PHONE
    me = {"Authorization": f"Bearer {body['access_token']}", "User-Agent": "trek-app/1.0"}

    profile = client.put(
        "/api/v1/customer/auth/profile",
        json={"name": "Asha Verma", "email": "Asha@Example.com"},
        headers=me,
    )
    assert profile.status_code == 200, profile.text
    assert profile.json()["profile_complete"] is True
    assert client.get("/api/v1/customer/auth/profile", headers=me).json()["name"] == "Asha Verma"

    saved = client.post(
        "/api/v1/customer/travelers", json={"name": "Asha Verma", "age": 29}, headers=me
    )
    assert saved.status_code == 201, saved.text
    asha = saved.json()["id"]

    made = client.post(
        "/api/v1/customer/bookings",
        json={
            "slot_id": str(slot.id),
            "travelers": [
                {"id": asha, "is_primary": True},
                {"name": "Ravi", "age": 12, "special_requirements": "Vegetarian"},
            ],
        },
        headers=me,
    )
    assert made.status_code == 201, made.text
    booking = made.json()
    assert booking["status"] == "pending"
    assert booking["total"] == {"amount": "17000.00", "currency": "INR"}
    assert [t["is_primary"] for t in booking["travelers"]] == [True, False]
    # The new traveler was saved under the customer too.
    names = [t["name"] for t in client.get("/api/v1/customer/travelers", headers=me).json()]
    assert sorted(names) == ["Asha Verma", "Ravi"]

    listed = client.get("/api/v1/customer/bookings", headers=me).json()
    assert [b["id"] for b in listed["items"]] == [booking["id"]]
    got = client.get(f"/api/v1/customer/bookings/{booking['id']}", headers=me)
    assert got.json()["reference"] == booking["reference"]
    assert api_core.catalog.get_slot(slot.id, principal=Principal.system()).seats_held == 2

    cancelled = client.post(
        f"/api/v1/customer/bookings/{booking['id']}/cancel",
        json={"reason": "plans changed"},
        headers=me,
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancellation_reason"] == "plans changed"
    assert api_core.catalog.get_slot(slot.id, principal=Principal.system()).seats_held == 0

    # Where the cancel came from is on its audit entry.
    trail = api_core.audit.trail(
        "booking", UUID(cancelled.json()["id"]), principal=Principal.system()
    )
    assert trail[-1].ip_address == "127.0.0.1"
    assert trail[-1].user_agent == "trek-app/1.0"


def test_travelers_update_and_soft_delete(client: ApiClient, sign_in: SignIn) -> None:
    me = sign_in(PHONE)
    made = client.post("/api/v1/customer/travelers", json={"name": "Kabir"}, headers=me).json()
    url = f"/api/v1/customer/travelers/{made['id']}"
    keyed = {**me, "Idempotency-Key": "update-1"}
    asked = {"name": "Kabir Verma", "age": 31, "expected_version": made["version"]}
    changed = client.put(url, json=asked, headers=keyed)
    assert changed.status_code == 200, changed.text
    assert changed.json()["age"] == 31
    retried = client.put(url, json=asked, headers=keyed)  # its version is stale now: no 409
    assert (retried.status_code, retried.json()) == (200, changed.json())
    other = client.put(url, json={**asked, "age": 32}, headers=keyed)
    assert other.status_code == 422, other.text
    assert client.put(url, json=asked, headers=me).status_code == 409
    gone = client.delete(f"/api/v1/customer/travelers/{made['id']}", headers=me)
    assert gone.status_code == 204
    assert client.get("/api/v1/customer/travelers", headers=me).json() == []
    # Soft: it is still readable by id, marked deleted.
    kept = client.get(f"/api/v1/customer/travelers/{made['id']}", headers=me).json()
    assert kept["deleted"] is True


def test_an_idempotency_key_retry_returns_the_same_booking(
    client: ApiClient, sign_in: SignIn, api_core: BookingCore, slot: Slot
) -> None:
    me = {**sign_in(PHONE), "Idempotency-Key": "app-request-7f3a"}
    request = {"slot_id": str(slot.id), "travelers": [{"name": "Asha", "is_primary": True}]}
    first = client.post("/api/v1/customer/bookings", json=request, headers=me)
    again = client.post("/api/v1/customer/bookings", json=request, headers=me)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert api_core.catalog.get_slot(slot.id, principal=Principal.system()).seats_held == 1
    other = {**request, "referral_source": "instagram"}
    clash = client.post("/api/v1/customer/bookings", json=other, headers=me)
    assert clash.status_code == 422
    assert clash.json()["code"] == "idempotency_conflict"


def test_a_customer_cannot_read_another_customers_booking(
    client: ApiClient, sign_in: SignIn, slot: Slot
) -> None:
    asha = sign_in(PHONE)
    request = {"slot_id": str(slot.id), "travelers": [{"name": "Asha", "is_primary": True}]}
    booking = client.post("/api/v1/customer/bookings", json=request, headers=asha).json()
    ravi = sign_in("+919811122233")
    answer = client.get(f"/api/v1/customer/bookings/{booking['id']}", headers=ravi)
    # The library hides other customers' bookings: 404, never 403, so ids reveal nothing.
    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"
    assert client.get("/api/v1/customer/bookings", headers=ravi).json()["items"] == []
    cancel = client.post(f"/api/v1/customer/bookings/{booking['id']}/cancel", headers=ravi)
    assert cancel.status_code == 404


def test_refresh_rotates_and_logout_ends_the_session(
    client: ApiClient, sms: ConsoleSmsSender
) -> None:
    client.post("/api/v1/customer/auth/request-otp", json={"phone": PHONE})
    tokens = client.post(
        "/api/v1/customer/auth/verify-otp", json={"phone": PHONE, "otp": last_code(sms)}
    ).json()
    fresh = client.post(
        "/api/v1/customer/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert fresh.status_code == 200, fresh.text
    spent = client.post(
        "/api/v1/customer/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert spent.status_code == 401  # reuse revokes the whole session
    me = {"Authorization": f"Bearer {fresh.json()['access_token']}"}
    assert client.get("/api/v1/customer/auth/profile", headers=me).status_code == 401

    client.post("/api/v1/customer/auth/request-otp", json={"phone": "+919811122233"})
    again = client.post(
        "/api/v1/customer/auth/verify-otp",
        json={"phone": "+919811122233", "otp": last_code(sms)},
    ).json()
    me = {"Authorization": f"Bearer {again['access_token']}"}
    assert client.get("/api/v1/customer/auth/profile", headers=me).status_code == 200
    assert client.post("/api/v1/customer/auth/logout", headers=me).status_code == 204
    assert client.get("/api/v1/customer/auth/profile", headers=me).status_code == 401


def test_a_traveler_saved_again_with_the_same_key_is_saved_once(
    client: ApiClient, sign_in: SignIn
) -> None:
    me = sign_in(PHONE)
    keyed = {**me, "Idempotency-Key": "save-kabir"}
    first = client.post("/api/v1/customer/travelers", json={"name": "Kabir"}, headers=keyed)
    again = client.post("/api/v1/customer/travelers", json={"name": "Kabir"}, headers=keyed)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    other = client.post("/api/v1/customer/travelers", json={"name": "Meera"}, headers=keyed)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_conflict"
    assert len(client.get("/api/v1/customer/travelers", headers=me).json()) == 1
