"""Seed 003's payments over HTTP: an intent per key, signed webhooks, invoices, refunds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.examples.api._client import ApiClient, CountedBody

from bookingcore import Money
from bookingcore.testing import FakePaymentProvider

SignIn = Callable[[str], dict[str, str]]
Book = Callable[..., dict[str, Any]]


@pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_pay_by_intent_and_webhook_then_refund(
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
    provider: FakePaymentProvider,
) -> None:
    """The payment story of seed 003: intent, signed webhook, invoice, partial refund."""
    asha = sign_in("+919876543210")
    booking = book(asha)
    body = {"booking_id": booking["id"], "provider": "fake"}
    unkeyed = client.post("/api/payments/create-intent", json=body, headers=asha)
    assert unkeyed.status_code == 422
    assert unkeyed.json()["errors"][0]["field"] == "Idempotency-Key"
    keyed = {**asha, "Idempotency-Key": "intent:1"}
    intent = client.post("/api/payments/create-intent", json=body, headers=keyed)
    assert intent.status_code == 201, intent.text
    payment = intent.json()["payment"]
    assert payment["amount"] == {"amount": "8500.00", "currency": "INR"}
    replay = client.post("/api/payments/create-intent", json=body, headers=keyed)
    assert replay.json()["payment"]["id"] == payment["id"]
    assert replay.json()["replayed"] is True

    headers, raw = provider.webhook("captured", payment["provider_reference"])
    tampered = raw.replace(b"captured", b"CAPTURED")
    forged = client.post("/api/payments/webhook?provider=fake", content=tampered, headers=headers)
    assert forged.status_code == 401
    applied = client.post("/api/payments/webhook?provider=fake", content=raw, headers=headers)
    assert applied.status_code == 200, applied.text
    assert applied.json()["status"] == "applied"
    redelivered = client.post("/api/payments/webhook?provider=fake", content=raw, headers=headers)
    assert redelivered.json()["event_id"] == applied.json()["event_id"]
    unknown = client.post("/api/payments/webhook?provider=paypal", content=raw, headers=headers)
    assert unknown.status_code == 422

    paid = client.get(f"/api/bookings/{booking['id']}/payments", headers=asha).json()
    assert [(p["id"], p["status"]) for p in paid] == [(payment["id"], "captured")]
    invoices = client.get(f"/api/bookings/{booking['id']}/invoices", headers=staff_headers).json()
    assert [i["kind"] for i in invoices] == ["invoice"]
    assert invoices[0]["paid"]["amount"] == "8500.00"

    refund_url = f"/api/payments/{payment['id']}/refunds"
    refund = {"amount": {"amount": "1000.00", "currency": "INR"}, "reason": "one day less"}
    by_customer = client.post(refund_url, json=refund, headers={**asha, "Idempotency-Key": "r1"})
    assert by_customer.status_code == 401
    made = client.post(refund_url, json=refund, headers={**staff_headers, "Idempotency-Key": "r1"})
    assert made.status_code == 201, made.text
    assert made.json()["amount"]["amount"] == "1000.00"
    too_much = {"amount": {"amount": "9000.00", "currency": "INR"}}
    over = client.post(
        refund_url, json=too_much, headers={**staff_headers, "Idempotency-Key": "r2"}
    )
    assert over.status_code == 422
    after = client.get(f"/api/bookings/{booking['id']}/payments", headers=asha).json()
    assert after[0]["refunded"]["amount"] == "1000.00"


def test_another_customer_cannot_pay_for_or_read_a_booking(
    client: ApiClient, sign_in: SignIn, book: Book
) -> None:
    booking = book(sign_in("+919876543210"))
    ravi = {**sign_in("+919812345678"), "Idempotency-Key": "intent:ravi"}
    body = {"booking_id": booking["id"], "provider": "fake"}
    assert client.post("/api/payments/create-intent", json=body, headers=ravi).status_code == 404
    assert client.get(f"/api/bookings/{booking['id']}/payments", headers=ravi).status_code == 404
    assert client.get(f"/api/bookings/{booking['id']}/invoices", headers=ravi).status_code == 404


def test_an_oversized_webhook_is_refused_unread(client: ApiClient) -> None:
    body = CountedBody(b" " * 65536, 100, first=b"{")
    answer = client.post(
        "/api/payments/webhook?provider=fake", content=body, headers={"X-Fake-Signature": "x"}
    )
    assert answer.status_code == 413
    assert body.pulled < 10


def test_staff_list_and_resolve_refunds_made_at_the_provider(
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
    provider: FakePaymentProvider,
) -> None:
    """A refund made in the provider's dashboard that the books cannot hold, resolved by staff."""
    asha = sign_in("+919876543210")
    booking = book(asha)
    body = {"booking_id": booking["id"], "provider": "fake"}
    keyed = {**asha, "Idempotency-Key": "intent:attention"}
    payment = client.post("/api/payments/create-intent", json=body, headers=keyed).json()["payment"]
    reference = payment["provider_reference"]
    webhook = "/api/payments/webhook?provider=fake"
    headers, raw = provider.webhook("captured", reference)
    assert client.post(webhook, content=raw, headers=headers).status_code == 200
    headers, raw = provider.refund_webhook(
        "re_big", reference, "succeeded", amount=Money("9000", "INR")
    )
    assert client.post(webhook, content=raw, headers=headers).status_code == 200

    listing = "/api/payments/needing-attention"
    assert client.get(listing, headers=asha).status_code == 401
    (flagged,) = client.get(listing, headers=staff_headers).json()
    assert flagged["payment"]["id"] == payment["id"]
    (refund,) = flagged["unreconciled_refunds"]
    assert refund["status"] == "unreconciled"

    url = f"/api/refunds/{refund['id']}/resolution"
    applying = client.post(url, json={"action": "apply"}, headers=staff_headers)
    assert applying.status_code == 422
    assert applying.json()["errors"][0]["field"] == "amount"
    no_note = client.post(url, json={"action": "dismiss"}, headers=staff_headers)
    assert no_note.status_code == 422
    assert no_note.json()["errors"][0]["field"] == "note"
    dismiss = {"action": "dismiss", "note": "a chargeback, booked by hand"}
    assert client.post(url, json=dismiss, headers=asha).status_code == 401
    done = client.post(url, json=dismiss, headers=staff_headers)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "dismissed"
    assert "chargeback" in done.json()["failure_reason"]
    again = client.post(url, json=dismiss, headers=staff_headers)
    assert again.json() == done.json()
    assert client.get(listing, headers=staff_headers).json() == []


def test_staff_resolve_one_reason_a_payment_needs_attention_and_keep_the_other(
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
    provider: FakePaymentProvider,
) -> None:
    """Money captured after the booking was cancelled, then refunded at the provider beyond
    it: two open items, resolved one by one."""
    asha = sign_in("+919876543210")
    booking = book(asha)
    body = {"booking_id": booking["id"], "provider": "fake"}
    keyed = {**asha, "Idempotency-Key": "intent:two-reasons"}
    payment = client.post("/api/payments/create-intent", json=body, headers=keyed).json()["payment"]
    reference = payment["provider_reference"]
    cancel = f"/api/v1/customer/bookings/{booking['id']}/cancel"
    assert client.post(cancel, json={}, headers=asha).status_code == 200
    webhook = "/api/payments/webhook?provider=fake"
    headers, raw = provider.webhook("captured", reference)
    assert client.post(webhook, content=raw, headers=headers).status_code == 200
    headers, raw = provider.refund_webhook(
        "re_big", reference, "succeeded", amount=Money("9000", "INR")
    )
    assert client.post(webhook, content=raw, headers=headers).status_code == 200

    listing = "/api/payments/needing-attention"
    (flagged,) = client.get(listing, headers=staff_headers).json()
    assert [i["code"] for i in flagged["items"]] == ["late_payment", "unreconciled_refund"]

    url = f"/api/payments/{payment['id']}/attention/resolution"
    late = {"reason_code": "late_payment", "note": "refunded by bank transfer"}
    assert client.post(url, json=late, headers=asha).status_code == 401
    refused = {"reason_code": "unreconciled_refund", "note": "done"}
    assert client.post(url, json=refused, headers=staff_headers).status_code == 409
    assert client.post(url, json={**late, "note": ""}, headers=staff_headers).status_code == 422
    done = client.post(url, json=late, headers=staff_headers)
    assert done.status_code == 200, done.text
    assert [i["code"] for i in done.json()["items"]] == ["unreconciled_refund"]
    (left,) = client.get(listing, headers=staff_headers).json()
    assert [i["code"] for i in left["items"]] == ["unreconciled_refund"]
    assert left["items"][0] == flagged["items"][1]
