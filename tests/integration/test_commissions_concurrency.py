"""Partner commissions under concurrency on PostgreSQL: a capture delivered eight times at once
accrues once; part payments, refunds and a cancellation racing on one booking never accrue or
reverse more than the booking earns."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from tests._threads import at_once

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
from bookingcore.domain import Booking, CommissionEntryKind
from bookingcore.testing import FakePaymentProvider, FixedClock
from bookingcore_adapters.sql import SqlStore

pytestmark = pytest.mark.postgres

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


@pytest.fixture
def world(pg_store: SqlStore) -> tuple[BookingCore, FakePaymentProvider, Booking, Principal]:
    provider = FakePaymentProvider()
    clock = FixedClock()
    core = BookingCore(
        uow_factory=pg_store.unit_of_work,
        clock=clock,
        payment_providers=[provider, FakePaymentProvider("manual")],
    )
    camp = core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
    slot = core.catalog.create_slot(
        location_id=camp.id,
        starts_at=clock.now() + timedelta(days=30),
        price_per_traveler=Money("333.33", "INR"),
        capacity=5,
        principal=ADMIN,
    )
    partner = core.partners.register(
        name="Trailhead",
        company_name="Trailhead Pvt Ltd",
        contact_email="ops@trailhead.example.com",
        allowed_location_ids=[camp.id],
        commission_rate=Decimal("12.5"),
        principal=ADMIN,
    ).partner
    as_partner = Principal.partner(partner.id)
    customer = core.customers.register("+919876543210", principal=as_partner).customer
    booking = core.bookings.book(
        BookingRequest(
            slot.id,
            [NewTraveler(TravelerDetails(f"Guest {n}"), is_primary=n == 0) for n in range(3)],
            customer_id=customer.id,
        ),
        principal=as_partner,
    )
    return core, provider, booking, as_partner


def _owed(core: BookingCore, booking: Booking) -> tuple[int, int, Money]:
    entries = core.commissions.for_booking(booking.id, principal=ADMIN)
    accruals = sum(1 for e in entries if e.kind is CommissionEntryKind.ACCRUAL)
    net = sum((e.amount for e in entries), Money.zero(booking.currency))
    return accruals, len(entries) - accruals, net


def test_a_capture_delivered_eight_times_at_once_accrues_once(world: Any) -> None:
    core, provider, booking, as_partner = world
    intent = core.payments.create_intent(
        booking.id, "fake", principal=as_partner, idempotency_key="pay"
    )
    headers, body = provider.webhook("captured", intent.payment.provider_reference)
    receipts = at_once(8, lambda _: core.payments.handle_webhook("fake", headers, body))
    assert not [r for r in receipts if isinstance(r, Exception)], receipts
    assert _owed(core, booking) == (1, 0, Money("125", "INR"))


def test_three_part_payments_at_once_accrue_what_the_whole_total_earns(world: Any) -> None:
    core, _, booking, _ = world
    paid = at_once(
        3,
        lambda i: core.payments.record_manual_payment(
            booking.id, Money("333.33", "INR"), principal=ADMIN, reference=f"CASH-{i}"
        ),
    )
    assert not [p for p in paid if isinstance(p, Exception)], paid
    assert _owed(core, booking) == (3, 0, Money("125", "INR"))


def test_refunds_racing_a_cancellation_never_reverse_more_than_was_accrued(world: Any) -> None:
    core, _, booking, _ = world
    payment = core.payments.record_manual_payment(
        booking.id, booking.total, principal=ADMIN, reference="CASH-1"
    )

    def work(i: int) -> object:
        if i == 0:
            return core.bookings.cancel(booking.id, principal=ADMIN)
        return core.payments.refund(
            payment.id, Money("100", "INR"), principal=ADMIN, idempotency_key=f"r{i}"
        )

    outcomes = at_once(4, work)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    accruals, reversals, net = _owed(core, booking)
    assert (accruals, net) == (1, Money("0", "INR"))
    assert 1 <= reversals <= 4


def test_a_reversed_refund_racing_a_cancellation_never_leaves_commission(world: Any) -> None:
    # The bank returns a refund (its failed report delivered four times at once) while staff
    # cancel the booking: whichever goes first, the cancelled booking ends with nothing owed
    # to the partner, restored at most once, and one debit note.
    core, provider, booking, as_partner = world
    intent = core.payments.create_intent(
        booking.id, "fake", principal=as_partner, idempotency_key="pay"
    )
    reference = intent.payment.provider_reference
    core.payments.handle_webhook("fake", *provider.webhook("captured", reference))
    back = core.payments.refund(
        intent.payment.id, Money("333.33", "INR"), principal=ADMIN, idempotency_key="r"
    )
    headers, body = provider.refund_webhook(back.provider_reference, reference, "failed")

    def work(i: int) -> object:
        if i == 0:
            return core.bookings.cancel(booking.id, principal=ADMIN)
        return core.payments.handle_webhook("fake", headers, body)

    outcomes = at_once(5, work)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    entries = core.commissions.for_booking(booking.id, principal=ADMIN)
    assert sum(1 for e in entries if e.is_restoration) <= 1
    assert sum((e.amount for e in entries), Money.zero(booking.currency)) == Money("0", "INR")
    documents = core.payments.invoices_for(booking.id, principal=ADMIN)
    assert [d.number[:3] for d in documents] == ["INV", "CN-", "DN-"]
