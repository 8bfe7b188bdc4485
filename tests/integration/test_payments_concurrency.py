"""Payments under concurrency on PostgreSQL: one event delivered eight times at once is
applied once, two intents with one key make one payment, racing refunds never overdraw, eight
concurrent confirmations get invoice numbers 1 to 8, a postponed event redelivered at once is
applied once, a refund made before its capture settles once when capture and staff race, and
attention items of different reasons flagged (or one resolved) at once are all kept."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from tests._threads import at_once

from bookingcore import (
    BookingCore,
    BookingRequest,
    InvalidTransitionError,
    Money,
    NewTraveler,
    PaymentProviderError,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import AttentionReason, PaymentStatus, ReceiptStatus
from bookingcore.testing import FakePaymentProvider, FixedClock
from bookingcore_adapters.sql import SqlStore

pytestmark = pytest.mark.postgres

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


@pytest.fixture
def world(pg_store: SqlStore) -> tuple[BookingCore, FakePaymentProvider, Any, Principal]:
    provider = FakePaymentProvider()
    manual = FakePaymentProvider("manual")
    clock = FixedClock()
    core = BookingCore(uow_factory=pg_store.unit_of_work, clock=clock,
                       payment_providers=[provider, manual])  # fmt: skip
    camp = core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
    slot = core.catalog.create_slot(
        location_id=camp.id,
        starts_at=clock.now() + timedelta(days=30),
        price_per_traveler=Money("4000", "INR"),
        capacity=5,
        principal=ADMIN,
    )
    customer = core.customers.register("+919876543210", principal=ADMIN).customer
    me = Principal.customer(customer.id)
    booking = core.bookings.book(
        BookingRequest(slot.id, [NewTraveler(TravelerDetails("Asha"), is_primary=True)]),
        principal=me,
    )
    return core, provider, booking, me


def test_one_event_delivered_eight_times_at_once_is_applied_once(world: Any) -> None:
    core, provider, booking, me = world
    intent = core.payments.create_intent(booking.id, "fake", principal=me, idempotency_key="p")
    headers, body = provider.webhook("captured", intent.payment.provider_reference)
    receipts = at_once(8, lambda _: core.payments.handle_webhook("fake", headers, body))
    assert not [r for r in receipts if isinstance(r, Exception)], receipts
    assert len({r.id for r in receipts}) == 1
    history = core.bookings.history(booking.id, principal=ADMIN)
    assert [e.to_status for e in history] == ["pending", "confirmed"]
    (paid,) = core.payments.for_booking(booking.id, principal=ADMIN)
    assert paid.status is PaymentStatus.CAPTURED
    assert len(paid.processed_event_ids) == 1


def test_two_intents_with_one_key_make_one_payment(world: Any) -> None:
    core, _, booking, me = world
    made = at_once(
        2,
        lambda _: core.payments.create_intent(
            booking.id, "fake", principal=me, idempotency_key="same"
        ),
    )
    assert not [m for m in made if isinstance(m, Exception)], made
    assert len({m.payment.id for m in made}) == 1
    assert len(core.payments.for_booking(booking.id, principal=me)) == 1


def test_racing_refunds_for_more_than_is_left_one_wins_one_is_refused(world: Any) -> None:
    core, _, booking, _ = world
    payment = core.payments.record_manual_payment(
        booking.id, booking.total, principal=ADMIN, reference="CASH-1"
    )
    outcomes = at_once(
        2,
        lambda i: core.payments.refund(
            payment.id, Money("3000", "INR"), principal=ADMIN, idempotency_key=f"r{i}"
        ),
    )
    refused = [o for o in outcomes if isinstance(o, ValidationError)]
    assert len(refused) == 1, outcomes
    assert refused[0].errors[0].code == "exceeds_captured"
    (paid,) = core.payments.for_booking(booking.id, principal=ADMIN)
    assert paid.refunded_amount == Money("3000", "INR")
    assert paid.pending_refund_amount == Money("0", "INR")


def test_racing_manual_payments_for_more_than_is_due_one_wins_one_is_refused(
    world: Any,
) -> None:
    core, _, booking, _ = world
    part = Money("3000", "INR")  # each fits the 4000 due; both together do not
    outcomes = at_once(
        2,
        lambda i: core.payments.record_manual_payment(
            booking.id, part, principal=ADMIN, reference=f"CASH-{i}"
        ),
    )
    refused = [o for o in outcomes if isinstance(o, ValidationError)]
    assert len(refused) == 1, outcomes
    assert refused[0].errors[0].code == "exceeds_due"
    (paid,) = core.payments.for_booking(booking.id, principal=ADMIN)
    assert paid.captured_amount == part


def test_eight_concurrent_confirmations_get_invoice_numbers_one_to_eight(world: Any) -> None:
    core, _, first, me = world
    slot_id = first.slot_id
    bookings = [first] + [
        core.bookings.book(
            BookingRequest(slot_id, [NewTraveler(TravelerDetails(f"Guest {n}"), is_primary=True)]),
            principal=me,
        )
        for n in range(1, 4)
    ]
    camp = core.catalog.get_slot(slot_id, principal=ADMIN).location_id
    second = core.catalog.create_slot(
        location_id=camp,
        starts_at=first.starts_at + timedelta(days=1),
        price_per_traveler=Money("4000", "INR"),
        capacity=5,
        principal=ADMIN,
    )
    bookings += [
        core.bookings.book(
            BookingRequest(second.id, [NewTraveler(TravelerDetails(f"Late {n}"), is_primary=True)]),
            principal=me,
        )
        for n in range(4)
    ]
    paid = at_once(
        8,
        lambda i: core.payments.record_manual_payment(
            bookings[i].id, bookings[i].total, principal=ADMIN, reference=f"CASH-{i}"
        ),
    )
    assert not [p for p in paid if isinstance(p, Exception)], paid
    numbers = sorted(
        invoice.number
        for booking in bookings
        for invoice in core.payments.invoices_for(booking.id, principal=ADMIN)
    )
    assert numbers == [f"INV-2026-CAMP-{n:06d}" for n in range(1, 9)]
    assert {core.bookings.get(b.id, principal=ADMIN).status for b in bookings} == {"confirmed"}


def test_a_postponed_event_redelivered_eight_times_at_once_is_applied_once(world: Any) -> None:
    """A delivery that waited for an unreachable provider is applied by one redelivery."""
    core, provider, booking, me = world
    intent = core.payments.create_intent(booking.id, "fake", principal=me, idempotency_key="p")
    reference = intent.payment.provider_reference
    older = provider.webhook("requires_action", reference)
    core.payments.handle_webhook("fake", *provider.webhook("failed", reference))
    provider.fail_fetches()
    with pytest.raises(PaymentProviderError):
        core.payments.handle_webhook("fake", *older)
    provider.set_state(reference, "captured")  # paid meanwhile
    receipts = at_once(8, lambda _: core.payments.handle_webhook("fake", *older))
    assert not [r for r in receipts if isinstance(r, Exception)], receipts
    assert {(r.id, r.status) for r in receipts} == {(receipts[0].id, ReceiptStatus.APPLIED)}
    assert provider.calls.count("fetch") == 2  # the failed one, then the one that applied
    history = core.bookings.history(booking.id, principal=ADMIN)
    assert [e.to_status for e in history] == ["pending", "confirmed"]
    assert len(core.payments.invoices_for(booking.id, principal=ADMIN)) == 1


def test_a_refund_made_at_the_provider_delivered_at_once_many_times_is_recorded_once(
    world: Any,
) -> None:
    """Eight deliveries at once: four of one event, four of other events naming the same
    refund (``charge.refunded`` and ``refund.created`` both name a dashboard refund)."""
    core, provider, booking, me = world
    intent = core.payments.create_intent(booking.id, "fake", principal=me, idempotency_key="p")
    reference = intent.payment.provider_reference
    core.payments.handle_webhook("fake", *provider.webhook("captured", reference))
    amount = Money("1500", "INR")
    one = provider.refund_webhook("re_dashboard", reference, "succeeded", amount=amount)
    others = [
        provider.refund_webhook("re_dashboard", reference, "succeeded", amount=amount)
        for _ in range(4)
    ]
    deliveries = [one] * 4 + others
    receipts = at_once(8, lambda i: core.payments.handle_webhook("fake", *deliveries[i]))
    assert not [r for r in receipts if isinstance(r, Exception)], receipts
    (paid,) = core.payments.for_booking(booking.id, principal=ADMIN)
    assert (paid.status, paid.refunded_amount) == (PaymentStatus.PARTIALLY_REFUNDED, amount)
    assert paid.pending_refund_amount == Money("0", "INR")
    documents = core.payments.invoices_for(booking.id, principal=ADMIN)
    assert [d.total for d in documents] == [Money("4000", "INR"), -amount]


def test_a_refund_resolved_and_captured_at_once_is_applied_once(world: Any) -> None:
    """A refund made before its capture: the capture (four deliveries) and staff applying it
    (four calls) race; it settles once, with one credit note."""
    core, provider, booking, me = world
    intent = core.payments.create_intent(booking.id, "fake", principal=me, idempotency_key="p")
    reference = intent.payment.provider_reference
    amount = Money("1500", "INR")
    core.payments.handle_webhook(
        "fake", *provider.refund_webhook("re_early", reference, "succeeded", amount=amount)
    )
    (flagged,) = core.payments.needing_attention(principal=ADMIN)
    (early,) = flagged.unreconciled_refunds
    capture = provider.webhook("captured", reference)

    def work(i: int) -> Any:
        if i % 2:
            return core.payments.handle_webhook("fake", *capture)
        return core.payments.resolve_refund(early.id, "apply", principal=ADMIN)

    results = at_once(8, work)
    # Staff who came before the capture are refused (nothing captured yet); none else fails.
    assert all(
        not isinstance(r, Exception) or isinstance(r, InvalidTransitionError) for r in results
    ), results
    (paid,) = core.payments.for_booking(booking.id, principal=ADMIN)
    assert (paid.status, paid.refunded_amount) == (PaymentStatus.PARTIALLY_REFUNDED, amount)
    assert paid.attention == ()
    documents = core.payments.invoices_for(booking.id, principal=ADMIN)
    assert [d.total for d in documents] == [Money("4000", "INR"), -amount]
    assert core.payments.needing_attention(principal=ADMIN) == []


def test_two_reasons_flagged_at_once_are_both_kept(world: Any) -> None:
    # A late capture (booking cancelled) and a refund it cannot hold, delivered together:
    # each flags its own reason on the one payment; neither write may lose the other's.
    core, provider, booking, me = world
    intent = core.payments.create_intent(booking.id, "fake", principal=me, idempotency_key="p")
    reference = intent.payment.provider_reference
    core.bookings.cancel(booking.id, principal=me)
    deliveries = [
        provider.webhook("captured", reference),
        provider.refund_webhook("re_big", reference, "succeeded", amount=Money("9000", "INR")),
    ]
    outcomes = at_once(2, lambda i: core.payments.handle_webhook("fake", *deliveries[i]))
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    (paid,) = core.payments.for_booking(booking.id, principal=ADMIN)
    assert [i.code for i in paid.attention] == [
        AttentionReason.LATE_PAYMENT,
        AttentionReason.UNRECONCILED_REFUND,
    ]


def test_a_reason_resolved_while_another_is_flagged_keeps_the_new_one(world: Any) -> None:
    core, provider, booking, me = world
    intent = core.payments.create_intent(booking.id, "fake", principal=me, idempotency_key="p")
    reference = intent.payment.provider_reference
    core.bookings.cancel(booking.id, principal=me)
    core.payments.handle_webhook("fake", *provider.webhook("captured", reference))  # late
    delivery = provider.refund_webhook(
        "re_big", reference, "succeeded", amount=Money("9000", "INR")
    )

    def work(i: int) -> object:
        if i == 0:
            return core.payments.handle_webhook("fake", *delivery)
        return core.payments.resolve_attention(
            intent.payment.id, "late_payment", principal=ADMIN, note="refunded by hand"
        )

    outcomes = at_once(2, work)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    (paid,) = core.payments.for_booking(booking.id, principal=ADMIN)
    assert [i.code for i in paid.attention] == [AttentionReason.UNRECONCILED_REFUND]


def test_two_flags_that_change_nothing_else_at_once_are_both_kept(world: Any) -> None:
    # Neither delivery moves the payment (no new version): only its row lock keeps the
    # second flag from writing over the first.
    core, provider, booking, me = world
    intent = core.payments.create_intent(booking.id, "fake", principal=me, idempotency_key="p")
    reference = intent.payment.provider_reference
    deliveries = [
        provider.webhook("captured", reference, amount=Money("9000", "INR")),  # refused
        provider.refund_webhook("re_blank", reference, "succeeded"),  # no amount
    ]
    outcomes = at_once(2, lambda i: core.payments.handle_webhook("fake", *deliveries[i]))
    assert [o.status for o in outcomes] == [ReceiptStatus.FAILED, ReceiptStatus.FAILED]
    (flagged,) = core.payments.for_booking(booking.id, principal=ADMIN)
    assert {i.code for i in flagged.attention} == {
        AttentionReason.CAPTURE_REFUSED,
        AttentionReason.REFUND_WITHOUT_AMOUNT,
    }
