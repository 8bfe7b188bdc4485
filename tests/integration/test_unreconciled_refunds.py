"""On every backend: a refund made at the provider before its capture is applied when the
capture comes, and staff list what needs attention and resolve what is left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from bookingcore import (
    BookingCore,
    BookingRequest,
    Money,
    NewTraveler,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import AttentionReason, Booking, PaymentStatus, Refund, RefundStatus
from bookingcore.errors import InvalidTransitionError, PermissionDeniedError, ValidationError
from bookingcore.testing import FakePaymentProvider
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
PRICE = Money("1000", "INR")


class Shop:
    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.store = store
        self.provider = FakePaymentProvider("fake", secret="s")
        self.core = BookingCore(uow_factory=store.unit_of_work, payment_providers=[self.provider])
        location = self.core.catalog.add_location("UR01", "Refunds", principal=ADMIN)
        self.slot = self.core.catalog.create_slot(
            location_id=location.id,
            starts_at=datetime.now(UTC) + timedelta(days=9),
            price_per_traveler=PRICE,
            capacity=None,
            principal=ADMIN,
        )
        customer = self.core.customers.register("+919800000078", principal=ADMIN).customer
        self.payer = Principal.customer(customer.id)

    def paying(self, name: str = "Asha Rao") -> tuple[Booking, str]:
        booking = self.core.bookings.book(
            BookingRequest(self.slot.id, [NewTraveler(TravelerDetails(name), True)]),
            principal=self.payer,
        )
        intent = self.core.payments.create_intent(
            booking.id, "fake", principal=self.payer, idempotency_key=f"pay-{booking.id}"
        )
        reference = intent.payment.provider_reference
        assert reference is not None
        return booking, reference

    def refunded_at_provider(
        self, ref: str, reference: str, amount: str, status: str = "succeeded"
    ) -> Refund:
        self.core.payments.handle_webhook(
            "fake",
            *self.provider.refund_webhook(ref, reference, status, amount=Money(amount, "INR")),
        )
        with self.store.unit_of_work() as uow:
            found = uow.refunds.get_by_provider_reference(ref)
            assert found is not None
            return found

    def captured(self, reference: str) -> None:
        self.core.payments.handle_webhook("fake", *self.provider.webhook("captured", reference))


@pytest.fixture
def shop(any_store: MemoryStore | SqlStore) -> Shop:
    return Shop(any_store)


def test_a_refund_before_its_capture_settles_with_the_capture(shop: Shop) -> None:
    booking, reference = shop.paying()
    early = shop.refunded_at_provider("re_early", reference, "400")
    assert early.status is RefundStatus.UNRECONCILED
    (flagged,) = shop.core.payments.needing_attention(principal=ADMIN)
    assert [r.id for r in flagged.unreconciled_refunds] == [early.id]

    shop.captured(reference)

    (paid,) = shop.core.payments.for_booking(booking.id, principal=ADMIN)
    assert (paid.status, paid.refunded_amount) == (
        PaymentStatus.PARTIALLY_REFUNDED,
        Money("400", "INR"),
    )
    assert paid.attention == ()
    _, credit = shop.core.payments.invoices_for(booking.id, principal=ADMIN)
    assert credit.refund_id == early.id
    assert shop.core.payments.needing_attention(principal=ADMIN) == []


def test_staff_list_and_resolve_what_is_left(shop: Shop) -> None:
    first, first_ref = shop.paying()
    second, second_ref = shop.paying("Ravi Iyer")
    shop.captured(first_ref)
    shop.captured(second_ref)
    too_much = shop.refunded_at_provider("re_big", first_ref, "5000")
    other = shop.refunded_at_provider("re_other", second_ref, "2000")
    listed = shop.core.payments.needing_attention(principal=ADMIN)
    assert [a.unreconciled_refunds for a in listed] == [(too_much,), (other,)]
    assert len(shop.core.payments.needing_attention(principal=ADMIN, limit=1)) == 1

    dismissed = shop.core.payments.resolve_refund(
        too_much.id, "dismiss", principal=ADMIN, note="a chargeback, not a refund"
    )
    assert dismissed.status is RefundStatus.DISMISSED
    again = shop.core.payments.resolve_refund(too_much.id, "dismiss", principal=ADMIN, note="x")
    assert again == dismissed
    (left,) = shop.core.payments.needing_attention(principal=ADMIN)
    assert left.payment.booking_id == second.id
    with shop.store.unit_of_work() as uow:
        stored = uow.refunds.get(too_much.id)
    assert stored is not None
    assert stored.status is RefundStatus.DISMISSED
    assert "chargeback" in (stored.failure_reason or "")
    (kept,) = shop.core.payments.for_booking(first.id, principal=ADMIN)
    assert kept.refunded_amount == Money.zero("INR")


def test_two_reasons_on_one_payment_are_listed_and_resolved_separately(shop: Shop) -> None:
    booking, reference = shop.paying()
    shop.core.bookings.cancel(booking.id, principal=shop.payer)
    shop.captured(reference)  # late: the booking was cancelled
    too_much = shop.refunded_at_provider("re_big", reference, "5000")

    (flagged,) = shop.core.payments.needing_attention(principal=ADMIN)
    assert [i.code for i in flagged.items] == [
        AttentionReason.LATE_PAYMENT,
        AttentionReason.UNRECONCILED_REFUND,
    ]
    assert "cancelled" in flagged.items[0].text
    assert "re_big" in flagged.items[1].text
    assert flagged.reason == f"{flagged.items[0].text}; {flagged.items[1].text}"
    assert flagged.unreconciled_refunds == (too_much,)

    shop.core.payments.resolve_refund(too_much.id, "dismiss", principal=ADMIN, note="chargeback")
    (left,) = shop.core.payments.needing_attention(principal=ADMIN)
    assert [i.code for i in left.items] == [AttentionReason.LATE_PAYMENT]
    assert left.items[0] == flagged.items[0]  # still open since it was first flagged

    resolved = shop.core.payments.resolve_attention(
        left.payment.id, "late_payment", principal=ADMIN, note="refunded by bank transfer"
    )
    assert resolved.attention == ()
    assert shop.core.payments.needing_attention(principal=ADMIN) == []
    trail = shop.core.audit.trail("payment", resolved.id, principal=ADMIN)
    assert trail[-1].old_values == {
        "needs_attention": flagged.items[0].text,
        "attention_code": "late_payment",
    }
    assert trail[-1].reason == "refunded by bank transfer"
    again = shop.core.payments.resolve_attention(
        resolved.id, "late_payment", principal=ADMIN, note="again"
    )
    assert again.version == resolved.version  # a retry changes nothing


def test_the_refund_item_is_resolved_with_its_refunds_not_by_hand(shop: Shop) -> None:
    _, reference = shop.paying()
    shop.captured(reference)
    too_much = shop.refunded_at_provider("re_big", reference, "5000")
    (flagged,) = shop.core.payments.needing_attention(principal=ADMIN)
    with pytest.raises(InvalidTransitionError, match="unreconciled refunds"):
        shop.core.payments.resolve_attention(
            flagged.payment.id, "unreconciled_refund", principal=ADMIN, note="done"
        )
    with pytest.raises(ValidationError):
        shop.core.payments.resolve_attention(
            flagged.payment.id, "no_such_reason", principal=ADMIN, note="done"
        )
    with pytest.raises(PermissionDeniedError):
        shop.core.payments.resolve_attention(
            flagged.payment.id, "unreconciled_refund", principal=shop.payer, note="mine"
        )
    shop.core.payments.resolve_refund(too_much.id, "dismiss", principal=ADMIN, note="chargeback")
    assert shop.core.payments.needing_attention(principal=ADMIN) == []


def test_staff_apply_a_refund_reported_pending_as_pending(shop: Shop) -> None:
    """Two refunds reported pending before the capture: the first fits and is reserved,
    the second is left for staff; once the first fails, staff apply the second, which
    stays pending (reserved, no credit note) until the provider reports it succeeded."""
    booking, reference = shop.paying()
    first = shop.refunded_at_provider("re_a", reference, "600", "pending")
    second = shop.refunded_at_provider("re_b", reference, "600", "pending")
    shop.captured(reference)

    with shop.store.unit_of_work() as uow:
        assert [(r.id, r.status) for r in uow.refunds.list_for_payment(first.payment_id)] == [
            (first.id, RefundStatus.PENDING),
            (second.id, RefundStatus.UNRECONCILED),
        ]
    shop.refunded_at_provider("re_a", reference, "600", "failed")
    (payment,) = shop.core.payments.for_booking(booking.id, principal=ADMIN)
    assert (payment.pending_refund_amount, payment.refundable_amount) == (
        Money("0", "INR"),
        Money("1000", "INR"),
    )

    applied = shop.core.payments.resolve_refund(second.id, "apply", principal=ADMIN)

    assert (applied.status, applied.provider_status) == (
        RefundStatus.PENDING,
        RefundStatus.PENDING,
    )
    (payment,) = shop.core.payments.for_booking(booking.id, principal=ADMIN)
    assert (payment.status, payment.refunded_amount, payment.pending_refund_amount) == (
        PaymentStatus.CAPTURED,
        Money("0", "INR"),
        Money("600", "INR"),
    )
    assert payment.attention == ()
    assert len(shop.core.payments.invoices_for(booking.id, principal=ADMIN)) == 1  # no credit
    settled = shop.refunded_at_provider("re_b", reference, "600", "succeeded")
    assert settled.status is RefundStatus.SUCCEEDED
    (payment,) = shop.core.payments.for_booking(booking.id, principal=ADMIN)
    assert (payment.status, payment.refunded_amount) == (
        PaymentStatus.PARTIALLY_REFUNDED,
        Money("600", "INR"),
    )
