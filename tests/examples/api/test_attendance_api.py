"""The example host's attendance routes: mark travelers, read a slot's roll call and a
customer's attendance history, over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from tests.examples.api._client import ApiClient
from tests.examples.api._common import STORES

from bookingcore import StaffRole
from bookingcore.domain import Slot
from bookingcore.testing import FixedClock


@STORES
def test_staff_mark_a_no_show_read_the_roll_call_and_the_customer_reads_their_history(
    client: ApiClient,
    slot: Slot,
    clock: FixedClock,
    staff_headers: dict[str, str],
    staff_sign_in: Callable[..., dict[str, str]],
    sign_in: Callable[[str], dict[str, str]],
    book: Callable[..., dict[str, Any]],
) -> None:
    customer = sign_in("+919876543210")
    booking = book(customer, name="Rao", seats=3)
    first, second, third = (t["traveler_id"] for t in booking["travelers"])
    url = f"/api/admin/bookings/{booking['id']}/attendance"
    body = {
        "travelers": [
            {"traveler_id": first, "attendance": "attended"},
            {"traveler_id": second, "attendance": "no_show", "note": "fever"},
        ]
    }

    early = client.post(url, json=body, headers=staff_headers)
    assert early.status_code == 422
    assert early.json()["errors"][0]["field"] == "starts_at"

    clock.set(slot.starts_at + timedelta(minutes=15))
    # A month on, the tokens signed at booking time have expired: sign in again.
    staff_headers = staff_sign_in("guide@example.com")
    customer = sign_in("+919876543210")
    keyed = {**staff_headers, "Idempotency-Key": "roll-1"}
    marked = client.post(url, json=body, headers=keyed)
    assert marked.status_code == 200, marked.text
    answer = marked.json()
    records = [t["record"] for t in answer["travelers"]]
    assert [r and r["attendance"] for r in records] == ["attended", "no_show", None]
    assert records[1]["note"] == "fever"
    assert answer["booking"]["status"] == booking["status"]
    assert client.post(url, json=body, headers=keyed).json() == answer  # the retry

    roll = client.get(f"/api/admin/slots/{slot.id}/roll-call", headers=staff_headers)
    assert roll.status_code == 200, roll.text
    assert (roll.json()["attended"], roll.json()["no_shows"], roll.json()["unknown"]) == (1, 1, 1)
    assert [t["traveler_id"] for t in roll.json()["travelers"]] == [first, second, third]

    mine = client.get("/api/v1/customer/attendance", headers=customer)
    assert mine.status_code == 200, mine.text
    assert (mine.json()["attended"], mine.json()["no_shows"]) == (1, 1)
    assert len(mine.json()["sessions"]) == 3
    desk = client.get(
        f"/api/admin/customers/{booking['customer_id']}/attendance", headers=staff_headers
    )
    assert desk.json() == mine.json()


def test_a_stranger_on_the_booking_or_a_customer_token_is_refused(
    client: ApiClient,
    slot: Slot,
    clock: FixedClock,
    staff_sign_in: Callable[..., dict[str, str]],
    sign_in: Callable[[str], dict[str, str]],
    book: Callable[..., dict[str, Any]],
) -> None:
    customer = sign_in("+919876543211")
    booking = book(customer)
    clock.set(slot.starts_at + timedelta(minutes=1))
    url = f"/api/admin/bookings/{booking['id']}/attendance"
    stranger = {"travelers": [{"traveler_id": booking["id"], "attendance": "attended"}]}
    editor = staff_sign_in("editor@example.com", StaffRole.EDITOR)
    admin = staff_sign_in("admin@example.com")

    assert client.post(url, json=stranger, headers=admin).status_code == 422
    mark = {
        "travelers": [{"traveler_id": booking["travelers"][0]["traveler_id"], "attendance": "x"}]
    }
    assert client.post(url, json=mark, headers=admin).status_code == 422
    mark["travelers"][0]["attendance"] = "attended"
    assert client.post(url, json=mark, headers=editor).status_code == 403
    assert client.post(url, json=mark, headers=customer).status_code in (401, 403)
    roll = f"/api/admin/slots/{slot.id}/roll-call"
    assert client.get(roll, headers=customer).status_code in (401, 403)
