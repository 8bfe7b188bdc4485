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
from bookingcore.domain import Booking, PaymentStatus, Refund, RefundStatus
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

    def refunded_at_provider(self, ref: str, reference: str, amount: str) -> Refund:
        self.core.payments.handle_webhook(
            "fake",
            *self.provider.refund_webhook(ref, reference, "succeeded", amount=Money(amount, "INR")),
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
    assert "needs_attention" not in paid.metadata
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
