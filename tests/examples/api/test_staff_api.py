"""Staff sign-in (``/api/v1/auth``) and the booking desk (``/api/admin/bookings``) over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.examples.api._client import ApiClient
from tests.examples.api.conftest import STAFF_PASSWORD

from bookingcore.domain import Slot

SignIn = Callable[[str], dict[str, str]]


def _book(client: ApiClient, headers: dict[str, str], slot: Slot, name: str) -> dict[str, Any]:
    request = {"slot_id": str(slot.id), "travelers": [{"name": name, "is_primary": True}]}
    made = client.post("/api/v1/customer/bookings", json=request, headers=headers)
    assert made.status_code == 201, made.text
    return dict(made.json())


def test_staff_sign_in_refresh_and_me(client: ApiClient, staff_headers: dict[str, str]) -> None:
    me = client.get("/api/v1/auth/me", headers=staff_headers)
    assert me.status_code == 200
    assert me.json()["role"] == "admin"
    assert "password" not in me.text
    wrong = client.post(
        "/api/v1/auth/login", json={"email": "desk@example.com", "password": "not it at all"}
    )
    assert wrong.status_code == 401
    signed = client.post(
        "/api/v1/auth/login", json={"email": "desk@example.com", "password": STAFF_PASSWORD}
    ).json()
    assert signed["staff"]["email"] == "desk@example.com"
    elsewhere = client.post(
        "/api/v1/customer/auth/refresh", json={"refresh_token": signed["refresh_token"]}
    )
    assert elsewhere.status_code == 401  # a staff token is refreshed on the staff route only
    fresh = client.post("/api/v1/auth/refresh", json={"refresh_token": signed["refresh_token"]})
    assert fresh.status_code == 200
    bearer = {"Authorization": f"Bearer {fresh.json()['access_token']}"}
    assert client.post("/api/v1/auth/logout", headers=bearer).status_code == 204
    assert client.get("/api/v1/auth/me", headers=bearer).status_code == 401


def test_the_desk_filters_searches_and_pages(
    client: ApiClient, sign_in: SignIn, staff_headers: dict[str, str], slot: Slot
) -> None:
    asha = sign_in("+919876543210")
    client.put("/api/v1/customer/auth/profile", json={"name": "Asha Verma"}, headers=asha)
    ravi = sign_in("+919811122233")
    first = _book(client, asha, slot, "Asha Verma")
    second = _book(client, ravi, slot, "Ravi Kumar")
    third = _book(client, ravi, slot, "Mira Kumar")

    page = client.get("/api/admin/bookings", params={"limit": 2}, headers=staff_headers).json()
    assert [b["id"] for b in page["items"]] == [third["id"], second["id"]]
    assert page["next"] is not None
    rest = client.get(page["next"], headers=staff_headers).json()
    assert [b["id"] for b in rest["items"]] == [first["id"]]
    assert rest["next"] is None

    found = client.get("/api/admin/bookings", params={"q": "Asha"}, headers=staff_headers)
    assert [b["id"] for b in found.json()["items"]] == [first["id"]]
    by_ref = client.get(
        "/api/admin/bookings", params={"q": second["reference"]}, headers=staff_headers
    )
    assert [b["id"] for b in by_ref.json()["items"]] == [second["id"]]

    client.post(f"/api/v1/customer/bookings/{third['id']}/cancel", headers=ravi)
    pending = client.get(
        "/api/admin/bookings",
        params=[("status", "pending"), ("source", "website")],
        headers=staff_headers,
    ).json()
    assert {b["id"] for b in pending["items"]} == {first["id"], second["id"]}


def test_bad_filters_are_named(client: ApiClient, staff_headers: dict[str, str]) -> None:
    answer = client.get(
        "/api/admin/bookings",
        params={"source": "carrier-pigeon", "starts_from": "2026-01-01T00:00:00"},
        headers=staff_headers,
    )
    assert answer.status_code == 422
    # A naive time is refused at the edge; the unknown channel by the library.
    assert {e["field"] for e in answer.json()["errors"]} == {"starts_from"}
    unknown = client.get(
        "/api/admin/bookings", params={"source": "carrier-pigeon"}, headers=staff_headers
    )
    assert [e["field"] for e in unknown.json()["errors"]] == ["source[0]"]
    cursor = client.get("/api/admin/bookings", params={"cursor": "garbage"}, headers=staff_headers)
    assert cursor.status_code == 422


def test_a_transition_retried_with_its_key_is_replayed(
    client: ApiClient, sign_in: SignIn, staff_headers: dict[str, str], slot: Slot
) -> None:
    booking = _book(client, sign_in("+919876543210"), slot, "Asha Verma")
    url = f"/api/admin/bookings/{booking['id']}/transitions"
    keyed = {**staff_headers, "Idempotency-Key": "desk-4711"}
    moved = client.post(url, json={"to": "confirmed", "note": "paid at the desk"}, headers=keyed)
    assert moved.status_code == 200, moved.text
    assert moved.json()["from_status"] == "pending"
    assert moved.json()["booking"]["status"] == "confirmed"
    again = client.post(url, json={"to": "confirmed", "note": "paid at the desk"}, headers=keyed)
    assert again.json()["replayed"] is True
    assert again.json()["booking"]["version"] == moved.json()["booking"]["version"]
    illegal = client.post(url, json={"to": "pending"}, headers=staff_headers)
    assert illegal.status_code == 409
    assert illegal.json()["from_state"] == "confirmed"
    got = client.get(f"/api/admin/bookings/{booking['id']}", headers=staff_headers)
    assert got.json()["status"] == "confirmed"
