"""ReportService.reconciliation on memory and SQLite: bookings of a period against their
payments (paid, part paid, over paid, refunded, unpaid), stray payments, totals per currency."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from tests._sqlite import sqlite_file_store

from bookingcore import (
    BookingCore,
    BookingRequest,
    CustomerId,
    Money,
    NewTraveler,
    PermissionDeniedError,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import Booking
from bookingcore.services import (
    ReconciliationReport,
    ReconciliationState,
    StrayReason,
)
from bookingcore.testing import FakePaymentProvider, FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
EDITOR = Principal.staff(StaffId(uuid4()), StaffRole.EDITOR)
INR = "INR"


def inr(amount: str) -> Money:
    return Money(amount, INR)


class World:
    """Bookings of 4000 INR each on one slot, paid by card (fake) or at the desk (manual)."""

    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.clock = FixedClock()
        self.provider = FakePaymentProvider()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            payment_providers=[self.provider, FakePaymentProvider("manual")],
        )
        camp = self.core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
        self.slot = self.core.catalog.create_slot(
            location_id=camp.id,
            starts_at=self.clock.now() + timedelta(days=90),
            price_per_traveler=Money("4000", INR),
            capacity=None,
            principal=ADMIN,
        )
        customer = self.core.customers.register("+919876543210", principal=ADMIN).customer
        self.me = Principal.customer(customer.id)
        self._guests = 0

    def book(self) -> Booking:
        self._guests += 1
        self.clock.advance(minutes=1)
        return self.core.bookings.book(
            BookingRequest(
                self.slot.id,
                [NewTraveler(TravelerDetails(f"Guest {self._guests}"), is_primary=True)],
            ),
            principal=self.me,
        )

    def pay_by_card(self, booking: Booking, key: str) -> None:
        intent = self.core.payments.create_intent(
            booking.id, "fake", principal=self.me, idempotency_key=key
        )
        assert intent.payment.provider_reference is not None
        self.core.payments.handle_webhook(
            "fake", *self.provider.webhook("captured", intent.payment.provider_reference)
        )

    def pay_at_desk(self, booking: Booking, amount: str, reference: str) -> None:
        self.core.payments.record_manual_payment(
            booking.id, inr(amount), principal=ADMIN, reference=reference
        )


@pytest.fixture(params=["memory", "sqlite"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    if request.param == "memory":
        yield World(MemoryStore())
        return
    store = sqlite_file_store(tmp_path / "reports.db")
    try:
        yield World(store)
    finally:
        store.dispose()


class Period:
    """One month of bookings with every outcome, and what happened around it."""

    def __init__(self, world: World) -> None:
        w = world
        self.before = w.book()  # made before the period, paid in it
        self.start = w.clock.advance(hours=1)
        self.paid = w.book()
        w.pay_by_card(self.paid, "card-paid")
        self.part_paid = w.book()
        w.pay_at_desk(self.part_paid, "1500", "desk-1")
        self.over_paid = w.book()
        # A card intent asked for before the cash came in, captured after it.
        extra = w.core.payments.create_intent(
            self.over_paid.id,
            "fake",
            principal=w.me,
            idempotency_key="card-extra",
            amount=inr("250.50"),
        )
        w.pay_at_desk(self.over_paid, "4000", "desk-2")
        assert extra.payment.provider_reference is not None
        w.core.payments.handle_webhook(
            "fake", *w.provider.webhook("captured", extra.payment.provider_reference)
        )
        self.refunded = w.book()
        w.pay_at_desk(self.refunded, "4000", "desk-4")
        (taken,) = w.core.payments.for_booking(self.refunded.id, principal=ADMIN)
        w.core.payments.refund(taken.id, inr("4000"), principal=ADMIN, idempotency_key="r-1")
        self.unpaid = w.book()
        self.cancelled = w.book()
        intent = w.core.payments.create_intent(
            self.cancelled.id, "fake", principal=w.me, idempotency_key="card-cancelled"
        )
        w.core.bookings.cancel(self.cancelled.id, principal=ADMIN, reason="changed plans")
        assert intent.payment.provider_reference is not None
        w.core.payments.handle_webhook(
            "fake", *w.provider.webhook("captured", intent.payment.provider_reference)
        )
        w.pay_at_desk(self.before, "1000", "desk-before")
        self.end = w.clock.advance(hours=1)
        self.after = w.book()  # made after the period
        w.pay_at_desk(self.after, "4000", "desk-after")

    def report(self, world: World) -> ReconciliationReport:
        return world.core.reports.reconciliation(self.start, self.end, principal=EDITOR)


class TestReconciliation:
    def test_each_booking_of_the_period_is_stated_against_its_payments(self, world: World) -> None:
        period = Period(world)
        report = period.report(world)
        lines = {line.booking_id: line for line in report.bookings}
        assert list(lines) == [
            period.paid.id,
            period.part_paid.id,
            period.over_paid.id,
            period.refunded.id,
            period.unpaid.id,
        ]
        expected = {
            period.paid.id: (ReconciliationState.PAID, "4000", "0", "4000"),
            period.part_paid.id: (ReconciliationState.PART_PAID, "1500", "0", "1500"),
            period.over_paid.id: (ReconciliationState.OVER_PAID, "4250.50", "0", "4250.50"),
            period.refunded.id: (ReconciliationState.REFUNDED, "4000", "4000", "0"),
            period.unpaid.id: (ReconciliationState.UNPAID, "0", "0", "0"),
        }
        for booking_id, (state, captured, refunded, net) in expected.items():
            line = lines[booking_id]
            assert (line.state, line.captured, line.refunded, line.net_paid) == (
                state,
                inr(captured),
                inr(refunded),
                inr(net),
            ), line.reference
            assert line.total == inr("4000")
        assert report.lines_in(ReconciliationState.PAID) == (lines[period.paid.id],)
        assert lines[period.paid.id].status == "confirmed"

    def test_payments_no_booking_of_the_period_accounts_for_are_listed_apart(
        self, world: World
    ) -> None:
        period = Period(world)
        report = period.report(world)
        strays = {(s.booking_id, s.reason, s.net_paid) for s in report.stray_payments}
        assert strays == {
            (period.cancelled.id, StrayReason.PAID_FOR_CANCELLED, inr("4000")),
            (period.before.id, StrayReason.NO_BOOKING_IN_PERIOD, inr("1000")),
        }
        assert period.cancelled.id not in {line.booking_id for line in report.bookings}
        assert period.after.id not in {s.booking_id for s in report.stray_payments}

    def test_totals_per_currency_add_up_the_lines_and_the_strays(self, world: World) -> None:
        report = Period(world).report(world)
        (totals,) = report.totals
        assert totals.currency == INR
        assert totals.total == inr("20000")
        assert totals.captured == inr("13750.50")
        assert totals.refunded == inr("4000")
        assert totals.net_paid == inr("9750.50")
        assert totals.stray_net_paid == inr("5000")
        assert report.totals_for(INR) == totals
        assert report.totals_for("EUR").net_paid == Money.zero("EUR")

    def test_an_empty_period_has_no_lines_and_no_totals(self, world: World) -> None:
        Period(world)
        later = world.clock.advance(days=1)
        report = world.core.reports.reconciliation(
            later, later + timedelta(days=1), principal=ADMIN
        )
        assert (report.bookings, report.stray_payments, report.totals) == ((), (), ())


class TestWhoAndWhat:
    @pytest.mark.parametrize(
        "who",
        [
            Principal.staff(StaffId(uuid4()), StaffRole.ADVISOR),
            Principal.customer(CustomerId(uuid4())),
        ],
    )
    def test_only_staff_who_see_every_booking_may_read_it(
        self, world: World, who: Principal
    ) -> None:
        now = world.clock.now()
        with pytest.raises(PermissionDeniedError):
            world.core.reports.reconciliation(now, now + timedelta(days=1), principal=who)

    def test_a_naive_or_empty_period_is_refused_naming_the_field(self, world: World) -> None:
        now = world.clock.now()
        naive = datetime(2026, 1, 1)  # noqa: DTZ001 - the input under test
        with pytest.raises(ValidationError) as caught:
            world.core.reports.reconciliation(naive, now, principal=ADMIN)
        assert caught.value.errors[0].field == "start"
        with pytest.raises(ValidationError) as caught:
            world.core.reports.reconciliation(now, now, principal=ADMIN)
        assert caught.value.errors[0].field == "end"
