"""On every backend, with Stripe's and Razorpay's own events: a refund the provider reports
before the capture it refunds follows what the provider reported, not what the library
guessed. Pending when the capture lands, it reserves its amount; a later report moves it on
(succeeded: refunded; failed: the amount is refundable again), and never back."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol
from uuid import uuid4

import pytest
from tests._payable import Payable
from tests.adapters._fake_razorpay import KEY_ID, KEY_SECRET, FakeRazorpay

from bookingcore import (
    BookingCore,
    Money,
    Principal,
    StaffId,
    StaffRole,
)
from bookingcore.domain import (
    AuditAction,
    Booking,
    DomainEvent,
    InvoiceKind,
    PaymentStatus,
    ReceiptStatus,
    Refund,
    RefundReversed,
    RefundStatus,
)
from bookingcore.errors import ValidationError
from bookingcore.ports.payments import PaymentProvider
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.payments.fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe
from bookingcore_adapters.payments.razorpay import RazorpayProvider
from bookingcore_adapters.payments.stripe import StripeProvider
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
RAZORPAY_SECRET = "whsec-razorpay-out-of-order"
Delivery = tuple[dict[str, str], bytes]


class Vendor(Protocol):
    name: str

    def provider(self) -> PaymentProvider: ...

    def paying(self, reference: str) -> None: ...

    def refund(self, ref: str, status: str, units: int) -> Delivery: ...

    def capture(self) -> Delivery: ...


class Stripe:
    """Stripe's shapes: ``refund.created`` (pending), ``refund.updated`` (succeeded) and
    ``refund.failed``, each carrying the Refund object; ``payment_intent.succeeded``."""

    name = "stripe"
    _kinds: ClassVar[dict[str, str]] = {
        "pending": "refund.created",
        "succeeded": "refund.updated",
        "failed": "refund.failed",
    }

    def __init__(self, fake: FakeStripe) -> None:
        self.fake = fake
        self.intent = ""

    def provider(self) -> PaymentProvider:
        return StripeProvider(API_KEY, [WEBHOOK_SECRET], api_base=self.fake.url)

    def paying(self, reference: str) -> None:
        self.intent = reference

    def refund(self, ref: str, status: str, units: int) -> Delivery:
        refund = {
            "id": ref,
            "object": "refund",
            "amount": units,
            "currency": "inr",
            "charge": "ch_out_of_order",
            "payment_intent": self.intent,
            "metadata": {},  # made in the dashboard: no idempotency key
            "reason": None,
            "status": status,
            "failure_reason": "expired_or_canceled_card" if status == "failed" else None,
        }
        return self.fake.event(self._kinds[status], refund)

    def capture(self) -> Delivery:
        return self.fake.event("payment_intent.succeeded", self.fake.succeed(self.intent))


class Razorpay:
    """Razorpay's shapes: ``refund.created``, ``refund.processed`` and ``refund.failed`` with
    the refund and its payment entities; ``payment.captured``."""

    name = "razorpay"
    _kinds: ClassVar[dict[str, str]] = {
        "pending": "refund.created",
        "succeeded": "refund.processed",
        "failed": "refund.failed",
    }
    _statuses: ClassVar[dict[str, str]] = {
        "pending": "pending",
        "succeeded": "processed",
        "failed": "failed",
    }

    def __init__(self, fake: FakeRazorpay) -> None:
        self.fake = fake
        self.payment_id = ""
        self._ids = itertools.count(1)

    def provider(self) -> PaymentProvider:
        return RazorpayProvider(
            KEY_ID, KEY_SECRET, RAZORPAY_SECRET, base_url=self.fake.base_url, timeout=2
        )

    def paying(self, reference: str) -> None:
        self.payment_id = self.fake.pay(reference)

    def _delivery(self, event: str, payload: dict[str, Any]) -> Delivery:
        body = json.dumps(
            {
                "entity": "event",
                "account_id": "acc_BFQ7uQEaa7j2z7",
                "event": event,
                "contains": sorted(payload),
                "payload": payload,
                "created_at": 1_767_000_000,
            },
            indent=2,
        ).encode()
        signature = hmac.new(RAZORPAY_SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "X-Razorpay-Signature": signature,
            "X-Razorpay-Event-Id": f"evt_{next(self._ids)}",
        }
        return headers, body

    def refund(self, ref: str, status: str, units: int) -> Delivery:
        refund = {
            "id": ref,
            "entity": "refund",
            "amount": units,
            "currency": "INR",
            "payment_id": self.payment_id,
            "notes": [],  # made in the dashboard: no idempotency key
            "receipt": None,
            "status": self._statuses[status],
            "speed_requested": "normal",
            "created_at": 1_767_000_000,
        }
        payment = self.fake.payments[self.payment_id]
        return self._delivery(
            event=self._kinds[status],
            payload={
                "refund": {"entity": refund},
                "payment": {"entity": payment},
            },
        )

    def capture(self) -> Delivery:
        payment = self.fake.payments[self.payment_id]
        return self._delivery("payment.captured", {"payment": {"entity": payment}})


@pytest.fixture(params=["stripe", "razorpay"])
def vendor(request: pytest.FixtureRequest) -> Iterator[Vendor]:
    if request.param == "stripe":
        with FakeStripe() as stripe:
            yield Stripe(stripe)
    else:
        with FakeRazorpay().running() as razorpay:
            yield Razorpay(razorpay)


class Shop:
    def __init__(self, store: MemoryStore | SqlStore, vendor: Vendor) -> None:
        self.store = store
        self.vendor = vendor
        payable = Payable(vendor.provider(), store=store, location="OOO1")
        self.core: BookingCore = payable.core
        self.booking: Booking = payable.booking
        vendor.paying(payable.intent(vendor.name))

    def deliver(self, delivery: Delivery) -> ReceiptStatus:
        return self.core.payments.handle_webhook(self.vendor.name, *delivery).status

    def refund(self, ref: str) -> Refund:
        with self.store.unit_of_work() as uow:
            found = uow.refunds.get_by_provider_reference(ref)
        assert found is not None
        return found

    def money(self) -> tuple[PaymentStatus, Money, Money, Money]:
        (payment,) = self.core.payments.for_booking(self.booking.id, principal=ADMIN)
        return (
            payment.status,
            payment.refunded_amount,
            payment.pending_refund_amount,
            payment.refundable_amount,
        )

    def reconciled(self) -> tuple[Money, Money, str]:
        """The booking's line in the reconciliation report: refunded, net paid, state."""
        now = datetime.now(UTC)
        report = self.core.reports.reconciliation(
            now - timedelta(days=1), now + timedelta(days=1), principal=ADMIN
        )
        (line,) = report.bookings
        return line.refunded, line.net_paid, line.state.value

    def events(self) -> list[DomainEvent]:
        with self.store.unit_of_work() as uow:
            return [m.event for m in uow.outbox.list_unpublished(100_000)]

    def credit_notes(self) -> list[Money]:
        documents = self.core.payments.invoices_for(self.booking.id, principal=ADMIN)
        return [d.total for d in documents if d.kind is InvoiceKind.CREDIT_NOTE]


@pytest.fixture
def shop(any_store: MemoryStore | SqlStore, vendor: Vendor) -> Shop:
    return Shop(any_store, vendor)


def inr(amount: str) -> Money:
    return Money(amount, "INR")


def test_a_pending_refund_before_its_capture_reserves_its_amount_then_fails(shop: Shop) -> None:
    shop.deliver(shop.vendor.refund("re_early", "pending", 100000))  # 1000.00, before the capture
    assert shop.refund("re_early").status is RefundStatus.UNRECONCILED

    assert shop.deliver(shop.vendor.capture()) is ReceiptStatus.APPLIED

    early = shop.refund("re_early")
    assert early.status is RefundStatus.PENDING  # was settled as succeeded
    assert early.provider_status is RefundStatus.PENDING
    # Reserved, not refunded: no credit note yet, and staff cannot overdraw.
    assert shop.money() == (PaymentStatus.CAPTURED, inr("0"), inr("1000"), inr("1500"))
    assert shop.credit_notes() == []
    (payment,) = shop.core.payments.for_booking(shop.booking.id, principal=ADMIN)
    assert payment.attention == ()
    with pytest.raises(ValidationError) as refused:
        shop.core.payments.refund(payment.id, inr("2000"), principal=ADMIN, idempotency_key="x")
    assert refused.value.errors[0].field == "amount"

    assert shop.deliver(shop.vendor.refund("re_early", "failed", 100000)) is ReceiptStatus.APPLIED

    failed = shop.refund("re_early")
    assert (failed.status, failed.provider_status) == (RefundStatus.FAILED, RefundStatus.FAILED)
    assert failed.completed_at is not None
    assert shop.money() == (PaymentStatus.CAPTURED, inr("0"), inr("0"), inr("2500"))
    assert shop.credit_notes() == []
    assert shop.core.bookings.get(shop.booking.id, principal=ADMIN).status == "confirmed"
    trail = shop.core.audit.trail("payment", payment.id, principal=ADMIN)
    moved = [
        e
        for e in trail
        if e.action is AuditAction.UPDATED and e.new_values.get("status") == "failed"
    ]
    assert [(e.old_values, e.new_values) for e in moved] == [
        (
            {"refund": str(failed.id), "status": "pending"},
            {"refund": str(failed.id), "status": "failed"},
        )
    ]

    # Forward only: a late (or redelivered) pending report moves nothing back.
    shop.deliver(shop.vendor.refund("re_early", "pending", 100000))
    assert shop.refund("re_early").status is RefundStatus.FAILED
    assert shop.money() == (PaymentStatus.CAPTURED, inr("0"), inr("0"), inr("2500"))


def test_a_pending_refund_before_its_capture_settles_when_reported_succeeded(shop: Shop) -> None:
    shop.deliver(shop.vendor.refund("re_early", "pending", 100000))
    shop.deliver(shop.vendor.capture())
    assert shop.refund("re_early").status is RefundStatus.PENDING
    assert shop.credit_notes() == []

    shop.deliver(shop.vendor.refund("re_early", "succeeded", 100000))

    settled = shop.refund("re_early")
    assert (settled.status, settled.provider_status) == (
        RefundStatus.SUCCEEDED,
        RefundStatus.SUCCEEDED,
    )
    assert shop.money() == (PaymentStatus.PARTIALLY_REFUNDED, inr("1000"), inr("0"), inr("1500"))
    assert shop.credit_notes() == [inr("-1000")]
    # A late pending report moves nothing back.
    shop.deliver(shop.vendor.refund("re_early", "pending", 100000))
    assert shop.refund("re_early").status is RefundStatus.SUCCEEDED


def test_a_refund_that_failed_before_its_capture_is_not_applied_by_it(shop: Shop) -> None:
    shop.deliver(shop.vendor.refund("re_early", "pending", 100000))
    shop.deliver(shop.vendor.refund("re_early", "failed", 100000))
    failed = shop.refund("re_early")
    assert failed.status is RefundStatus.FAILED  # the report was ignored
    assert failed.provider_status is RefundStatus.FAILED
    assert shop.core.payments.needing_attention(principal=ADMIN) == []

    shop.deliver(shop.vendor.capture())

    assert shop.refund("re_early").status is RefundStatus.FAILED
    assert shop.money() == (PaymentStatus.CAPTURED, inr("0"), inr("0"), inr("2500"))
    assert shop.credit_notes() == []
    assert shop.core.bookings.get(shop.booking.id, principal=ADMIN).status == "confirmed"


def test_a_refund_that_succeeded_before_its_capture_settles_with_it(shop: Shop) -> None:
    shop.deliver(shop.vendor.refund("re_early", "pending", 100000))
    shop.deliver(shop.vendor.refund("re_early", "succeeded", 100000))
    early = shop.refund("re_early")
    assert early.status is RefundStatus.UNRECONCILED
    assert early.provider_status is RefundStatus.SUCCEEDED

    shop.deliver(shop.vendor.capture())

    assert shop.refund("re_early").status is RefundStatus.SUCCEEDED
    assert shop.money() == (PaymentStatus.PARTIALLY_REFUNDED, inr("1000"), inr("0"), inr("1500"))
    assert shop.credit_notes() == [inr("-1000")]


def test_a_refund_that_failed_after_it_succeeded_is_owed_again(shop: Shop) -> None:
    # Stripe reports refund.failed after the refund had succeeded when the customer's bank
    # returns it (a closed account, an expired card): the money is the business's again.
    shop.deliver(shop.vendor.capture())
    shop.deliver(shop.vendor.refund("re_back", "succeeded", 250000))  # all of it
    assert shop.money() == (PaymentStatus.REFUNDED, inr("2500"), inr("0"), inr("0"))
    assert shop.reconciled() == (inr("2500"), inr("0"), "refunded")
    booked = shop.core.bookings.get(shop.booking.id, principal=ADMIN).status

    assert shop.deliver(shop.vendor.refund("re_back", "failed", 250000)) is ReceiptStatus.APPLIED

    back = shop.refund("re_back")
    assert (back.status, back.provider_status) == (RefundStatus.FAILED, RefundStatus.FAILED)
    # Refunded no more: refundable again, and the booking's balance counts it as paid.
    assert shop.money() == (PaymentStatus.CAPTURED, inr("0"), inr("0"), inr("2500"))
    assert shop.reconciled() == (inr("0"), inr("2500"), "paid")
    assert shop.core.bookings.get(shop.booking.id, principal=ADMIN).status == booked
    (payment,) = shop.core.payments.for_booking(shop.booking.id, principal=ADMIN)
    assert [item.code for item in payment.attention] == ["refund_reversed"]
    assert "re_back" in payment.attention[0].text
    trail = shop.core.audit.trail("payment", payment.id, principal=ADMIN)
    (failed,) = [e for e in trail if e.old_values.get("refund") == str(back.id)]
    assert (failed.old_values["status"], failed.new_values["status"]) == ("succeeded", "failed")
    assert failed.actor.kind.value == "webhook"
    moves = [
        (e.actor.kind.value, e.old_values["status"], e.new_values["status"])
        for e in trail
        if e.action is AuditAction.STATUS_CHANGED
    ]
    assert ("webhook", "refunded", "captured") in moves
    (reversed_,) = [e for e in shop.events() if isinstance(e, RefundReversed)]
    assert (reversed_.payment_id, reversed_.refund_id) == (payment.id, back.id)
    assert (reversed_.amount, reversed_.refunded_amount) == (inr("2500"), inr("0"))
    assert (reversed_.payment_status, reversed_.refund_reference) == ("captured", "re_back")
    assert reversed_.booking_id == shop.booking.id

    # Forward only: late (or redelivered) reports of it move nothing back.
    for late in ("succeeded", "pending", "failed"):
        shop.deliver(shop.vendor.refund("re_back", late, 250000))
    assert shop.refund("re_back").status is RefundStatus.FAILED
    assert shop.money() == (PaymentStatus.CAPTURED, inr("0"), inr("0"), inr("2500"))
    assert len([e for e in shop.events() if isinstance(e, RefundReversed)]) == 1
