"""Push devices over HTTP: the signed-in customer registers, lists and unregisters their
devices; staff list them; a push message about a booking goes to each active device."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.examples.api._client import ApiClient

from bookingcore import BookingCore, Principal
from bookingcore.domain import Slot
from bookingcore.testing import RecordingNotifier

SignIn = Callable[[str], dict[str, str]]

ASHA, RAVI = "+919876543210", "+919812345678"
TOKEN = "ZmNtLXRva2VuLWFzaGE:APA91bHasha-phone"


@pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_a_customer_registers_lists_and_unregisters_a_device(
    client: ApiClient, sign_in: SignIn
) -> None:
    me = sign_in(ASHA)
    made = client.post(
        "/api/v1/customer/devices",
        json={"platform": "android", "token": TOKEN, "label": "Pixel 8"},
        headers=me,
    )
    assert made.status_code == 201, made.text
    device = made.json()
    assert (device["platform"], device["label"], device["active"]) == ("android", "Pixel 8", True)
    assert device["token_hint"] == "ZmNtLX…hone"
    assert TOKEN not in made.text

    listed = client.get("/api/v1/customer/devices", headers=me)
    assert [d["id"] for d in listed.json()] == [device["id"]]

    gone = client.delete(f"/api/v1/customer/devices/{device['id']}", headers=me)
    assert gone.status_code == 204
    assert client.get("/api/v1/customer/devices", headers=me).json() == []
    again = client.delete(f"/api/v1/customer/devices/{device['id']}", headers=me)
    assert again.status_code == 404


def test_bad_input_names_the_field(client: ApiClient, sign_in: SignIn) -> None:
    me = sign_in(ASHA)
    refused = client.post(
        "/api/v1/customer/devices", json={"platform": "palm", "token": " "}, headers=me
    )
    assert refused.status_code == 422, refused.text
    assert {e["field"] for e in refused.json()["errors"]} == {"platform", "token"}
    assert client.get("/api/v1/customer/devices", headers=me).json() == []


def test_a_token_registered_by_another_customer_moves_and_they_cannot_unregister_mine(
    client: ApiClient, sign_in: SignIn, staff_headers: dict[str, str], api_core: BookingCore
) -> None:
    asha, ravi = sign_in(ASHA), sign_in(RAVI)
    first = client.post(
        "/api/v1/customer/devices", json={"platform": "web", "token": TOKEN}, headers=asha
    ).json()
    moved = client.post(
        "/api/v1/customer/devices", json={"platform": "web", "token": TOKEN}, headers=ravi
    )
    assert moved.status_code == 200, moved.text  # not a new device: the same one, moved
    assert moved.json()["id"] == first["id"]
    assert client.get("/api/v1/customer/devices", headers=asha).json() == []
    mine = client.post(
        "/api/v1/customer/devices", json={"platform": "ios", "token": "asha-iphone"}, headers=asha
    ).json()
    assert client.delete(f"/api/v1/customer/devices/{mine['id']}", headers=ravi).status_code == 404
    customer = api_core.customers.find_by_phone(ASHA, principal=Principal.system("test"))
    assert customer is not None
    customer_id = customer.id
    seen = client.get(f"/api/admin/customers/{customer_id}/devices", headers=staff_headers)
    assert seen.status_code == 200, seen.text
    assert [d["id"] for d in seen.json()] == [mine["id"]]
    # Customers do not reach the staff route.
    assert client.get(f"/api/admin/customers/{customer_id}/devices", headers=asha).status_code in (
        401,
        403,
    )


def test_staff_send_a_push_message_to_every_active_device(
    client: ApiClient,
    sign_in: SignIn,
    staff_headers: dict[str, str],
    slot: Slot,
    notifier: RecordingNotifier,
) -> None:
    me = sign_in(ASHA)
    for token in ("asha-phone-token", "asha-tablet-token"):
        client.post(
            "/api/v1/customer/devices", json={"platform": "ios", "token": token}, headers=me
        )
    traveler = client.post("/api/v1/customer/travelers", json={"name": "Asha"}, headers=me).json()
    booking = client.post(
        "/api/v1/customer/bookings",
        json={"slot_id": str(slot.id), "travelers": [{"id": traveler["id"], "is_primary": True}]},
        headers=me,
    )
    assert booking.status_code == 201, booking.text
    booking_id = booking.json()["id"]
    sent = client.post(
        f"/api/admin/bookings/{booking_id}/send-email",
        json={"type": "confirmation", "channel": "push"},
        headers=staff_headers,
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["channel"] == "push"
    pushes = [m for m in notifier.sent if m.channel.value == "push"]
    assert sorted(m.recipient for m in pushes) == ["asha-phone-token", "asha-tablet-token"]
    assert all(m.data["booking_id"] == booking_id for m in pushes)
