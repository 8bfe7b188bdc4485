"""The example host's vouchers: staff make, change and list them; customers and partners
book with ``voucher_code`` and check what a code would take off."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.examples.api._client import ApiClient
from tests.examples.api._common import STORES
from tests.examples.api.conftest import SETUP

from bookingcore import BookingCore
from bookingcore.domain import Slot


def _refusal(answer: Any) -> tuple[str, str]:
    assert answer.status_code == 422, answer.text
    error = answer.json()["errors"][0]
    return error["field"], error["code"]


@STORES
def test_staff_make_change_list_and_deactivate_vouchers(
    client: ApiClient, staff_headers: dict[str, str], slot: Slot
) -> None:
    keyed = {**staff_headers, "Idempotency-Key": "summer-1"}
    body = {"code": "summer10", "percent_off": "10", "max_uses": 2}
    made = client.post("/api/admin/vouchers", json=body, headers=keyed)
    assert made.status_code == 201, made.text
    voucher = made.json()
    assert (voucher["code"], voucher["percent_off"], voucher["uses"]) == ("SUMMER10", "10", 0)
    again = client.post("/api/admin/vouchers", json=body, headers=keyed)
    assert again.json() == voucher
    taken = client.post(
        "/api/admin/vouchers", json={**body, "code": "Summer10"}, headers=staff_headers
    )
    assert taken.status_code == 409, taken.text
    both = {"code": "BOTH", "percent_off": "5", "amount_off": {"amount": "10", "currency": "INR"}}
    assert _refusal(client.post("/api/admin/vouchers", json=both, headers=staff_headers)) == (
        "percent_off",
        "invalid",
    )
    base = f"/api/admin/vouchers/{voucher['id']}"
    changed = client.patch(
        base,
        json={"max_uses": 5, "location_ids": [str(slot.location_id)], "expected_version": 1},
        headers=staff_headers,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["max_uses"], changed.json()["version"]) == (5, 2)
    assert changed.json()["location_ids"] == [str(slot.location_id)]
    stale = client.patch(base, json={"max_uses": 6, "expected_version": 1}, headers=staff_headers)
    assert stale.status_code == 409, stale.text
    off = client.post(f"{base}/deactivate", headers=staff_headers)
    assert off.json()["active"] is False
    listed = client.get("/api/admin/vouchers?active=false", headers=staff_headers).json()
    assert [v["code"] for v in listed["items"]] == ["SUMMER10"]
    assert client.get(base, headers=staff_headers).json()["version"] == 3
    assert client.get("/api/admin/vouchers/" + "0" * 32, headers=staff_headers).status_code == 404


def test_customers_book_with_a_code_and_check_it_first(
    client: ApiClient,
    staff_headers: dict[str, str],
    sign_in: Callable[[str], dict[str, str]],
    slot: Slot,
) -> None:
    client.post(
        "/api/admin/vouchers",
        json={"code": "TREK500", "amount_off": {"amount": "500", "currency": "INR"}},
        headers=staff_headers,
    )
    me = sign_in("+919876543210")
    check = {"code": "trek500", "slot_id": str(slot.id), "travelers": 2}
    quoted = client.post("/api/v1/vouchers/check", json=check, headers=me)
    assert quoted.status_code == 200, quoted.text
    assert quoted.json()["voucher_discount"] == {"amount": "500.00", "currency": "INR"}
    assert quoted.json()["total"] == {"amount": "16500.00", "currency": "INR"}
    unknown = {**check, "code": "NOPE"}
    assert _refusal(client.post("/api/v1/vouchers/check", json=unknown, headers=me)) == (
        "voucher_code",
        "unknown",
    )
    travelers = [{"name": f"Asha {n}", "is_primary": n == 0} for n in range(2)]
    booking = {"slot_id": str(slot.id), "travelers": travelers, "voucher_code": "Trek500"}
    made = client.post("/api/v1/customer/bookings", json=booking, headers=me)
    assert made.status_code == 201, made.text
    answer = made.json()
    assert (answer["voucher_code"], answer["voucher_discount"]["amount"]) == ("TREK500", "500.00")
    assert answer["total"]["amount"] == "16500.00"
    expired = {**booking, "voucher_code": "NOPE"}
    refused = client.post("/api/v1/customer/bookings", json=expired, headers=me)
    assert _refusal(refused) == ("voucher_code", "unknown")
    assert client.post("/api/admin/vouchers", json=check, headers=me).status_code in (401, 403)
    redeemed = client.get(
        f"/api/admin/vouchers/{quoted_voucher_id(client, staff_headers)}/redemptions",
        headers=staff_headers,
    ).json()
    assert [r["booking_id"] for r in redeemed] == [answer["id"]]


def quoted_voucher_id(client: ApiClient, headers: dict[str, str]) -> str:
    (voucher,) = client.get("/api/admin/vouchers", headers=headers).json()["items"]
    identifier: str = voucher["id"]
    return identifier


def test_partners_book_with_codes_not_limited_to_products_or_locations(
    client: ApiClient, api_core: BookingCore, staff_headers: dict[str, str], slot: Slot
) -> None:
    registered = api_core.partners.register(
        name="Blue Reef",
        company_name="Blue Reef Travel",
        contact_email="ops@bluereef.example",
        principal=SETUP,
        allowed_location_ids=[slot.location_id],
    )
    token = client.post(
        "/api/partner/auth/token",
        json={"api_key": registered.api_key, "api_secret": registered.api_secret},
    ).json()["access_token"]
    partner = {"Authorization": f"Bearer {token}"}
    for code, limits in (("OPEN10", []), ("BASECAMP", [str(slot.location_id)])):
        body = {"code": code, "percent_off": "10", "location_ids": limits}
        assert (
            client.post("/api/admin/vouchers", json=body, headers=staff_headers).status_code == 201
        )

    def booking(code: str, phone: str) -> dict[str, Any]:
        return {
            "slot_id": str(slot.id),
            "customer": {"phone": phone, "name": "John Doe"},
            "travelers": [{"name": "John Doe", "is_primary": True}],
            "voucher_code": code,
        }

    made = client.post(
        "/api/partner/bookings", json=booking("open10", "+919800000001"), headers=partner
    )
    assert made.status_code == 201, made.text
    assert made.json()["voucher_discount"] == {"amount": "850.00", "currency": "INR"}
    limited = client.post(
        "/api/partner/bookings", json=booking("BASECAMP", "+919800000002"), headers=partner
    )
    assert _refusal(limited) == ("voucher_code", "not_for_partners")
