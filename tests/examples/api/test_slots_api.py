"""The example host's slot operations: close, reopen and cancel a slot over HTTP, keyed."""

from __future__ import annotations

from collections.abc import Callable

from tests.examples.api._client import ApiClient
from tests.examples.api._common import STORES, book_asha

from bookingcore import BookingCore, StaffRole
from bookingcore.domain import Slot
from bookingcore.testing import RecordingNotifier


@STORES
def test_close_and_reopen_a_slot(
    client: ApiClient, api_core: BookingCore, slot: Slot, staff_headers: dict[str, str]
) -> None:
    base = f"/api/admin/slots/{slot.id}"
    keyed = {**staff_headers, "Idempotency-Key": "close-1"}
    closed = client.post(f"{base}/close", json={"reason": "boat repair"}, headers=keyed)
    assert closed.status_code == 200, closed.text
    assert closed.json()["is_active"] is False
    again = client.post(f"{base}/close", json={"reason": "boat repair"}, headers=keyed)
    assert again.json() == closed.json()
    assert client.post(f"{base}/close", json={"reason": "x"}, headers=keyed).status_code == 422
    opened = client.post(f"{base}/reopen", headers=staff_headers)
    assert opened.status_code == 200, opened.text
    assert opened.json()["is_active"] is True
    assert opened.json()["version"] == closed.json()["version"] + 1
    assert client.post(f"{base}/close", json={"extra": 1}, headers=staff_headers).status_code == 422


@STORES
def test_cancel_a_slot_cancels_its_bookings_and_tells_each_customer_once(
    client: ApiClient,
    api_core: BookingCore,
    slot: Slot,
    staff_headers: dict[str, str],
    notifier: RecordingNotifier,
) -> None:
    first, second = (
        book_asha(api_core, slot, "+919876543210"),
        book_asha(api_core, slot, "+919876543211"),
    )
    cancel = f"/api/admin/slots/{slot.id}/cancel"
    keyed = {**staff_headers, "Idempotency-Key": "storm-1"}
    body = {"reason": "Storm warning: the trip is off."}
    done = client.post(cancel, json=body, headers=keyed)
    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["slot"]["is_active"] is False
    assert {b["id"] for b in answer["bookings"]} == {str(first.id), str(second.id)}
    assert {b["status"] for b in answer["bookings"]} == {"cancelled"}
    assert len(answer["communication_ids"]) == 2
    assert answer["replayed"] is False
    sent = len(notifier.sent)
    assert all("Storm warning" in m.body for m in notifier.sent[-2:])
    again = client.post(cancel, json=body, headers=keyed)
    assert again.status_code == 200, again.text
    assert again.json()["replayed"] is True
    assert again.json()["communication_ids"] == answer["communication_ids"]
    assert len(notifier.sent) == sent
    assert client.post(cancel, json=body, headers=staff_headers).status_code == 409
    reopen = client.post(f"/api/admin/slots/{slot.id}/reopen", headers=staff_headers)
    assert reopen.status_code == 409


def test_slot_operations_need_a_catalogue_manager(
    client: ApiClient,
    slot: Slot,
    staff_sign_in: Callable[..., dict[str, str]],
    sign_in: Callable[[str], dict[str, str]],
) -> None:
    advisor = staff_sign_in("advisor@example.com", StaffRole.ADVISOR)
    base = f"/api/admin/slots/{slot.id}"
    assert client.post(f"{base}/close", headers=advisor).status_code == 403
    body = {"reason": "Storm"}
    assert client.post(f"{base}/cancel", json=body, headers=advisor).status_code == 403
    customer = sign_in("+919876543212")
    assert client.post(f"{base}/close", headers=customer).status_code in (401, 403)
    assert client.post(f"{base}/cancel", json={"reason": ""}, headers=advisor).status_code == 422
    assert client.post("/api/admin/slots/not-an-id/close", headers=advisor).status_code == 422


def test_an_unknown_slot_answers_404(client: ApiClient, staff_headers: dict[str, str]) -> None:
    unknown = "/api/admin/slots/00000000-0000-0000-0000-000000000001"
    assert client.post(f"{unknown}/close", headers=staff_headers).status_code == 404
    body = {"reason": "Storm"}
    assert client.post(f"{unknown}/cancel", json=body, headers=staff_headers).status_code == 404
