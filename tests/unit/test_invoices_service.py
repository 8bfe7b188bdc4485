"""Invoices issued by PaymentService over memory: one per capture with its lines, what was
paid and what is due; a credit note per settled refund; gapless numbers per series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bookingcore import (
    BookingCore,
    BookingRequest,
    DiscountTier,
    DuplicateError,
    Money,
    NewTraveler,
    NotFoundError,
    PaymentProviderError,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import Booking, Invoice, InvoiceKind
from bookingcore.testing import FakePaymentProvider, FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)


def _inr(amount: str) -> Money:
    return Money(amount, "INR")


class World:
    def __init__(self, settings: Settings | None = None) -> None:
        self.store = MemoryStore()
        self.clock = FixedClock()
        self.provider = FakePaymentProvider()
        self.manual = FakePaymentProvider("manual")
        self.core = BookingCore(
            uow_factory=self.store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            payment_providers=[self.provider, self.manual],
            settings=settings,
        )
        self.slots = {
            code: self.core.catalog.create_slot(
                location_id=self.core.catalog.add_location(code, code, principal=ADMIN).id,
                starts_at=self.clock.now() + timedelta(days=30),
                price_per_traveler=_inr("4000"),
                capacity=9,
                group_discounts=[DiscountTier(3, Decimal("10"))],
                principal=ADMIN,
            )
            for code in ("CAMP", "LAKE")
        }
        customer = self.core.customers.register("+919876543210", principal=ADMIN).customer
        self.me = Principal.customer(customer.id)
        other = self.core.customers.register("+919876543219", principal=ADMIN).customer
        self.someone_else = Principal.customer(other.id)

    def book(self, travelers: int = 2, at: str = "CAMP") -> Booking:
        return self.core.bookings.book(
            BookingRequest(
                self.slots[at].id,
                [
                    NewTraveler(TravelerDetails(f"Guest {n}"), is_primary=n == 0)
                    for n in range(travelers)
                ],
            ),
            principal=self.me,
        )

    def pay(self, booking: Booking, amount: str, reference: str) -> None:
        self.core.payments.record_manual_payment(
            booking.id, _inr(amount), principal=ADMIN, reference=reference
        )

    def invoices(self, booking: Booking) -> list[Invoice]:
        return list(self.core.payments.invoices_for(booking.id, principal=ADMIN))


@pytest.fixture
def world() -> World:
    return World()


class TestInvoices:
    def test_each_manual_capture_is_invoiced_with_the_booking_lines_paid_and_due(
        self, world: World
    ) -> None:
        booking = world.book(travelers=3)
        assert (booking.subtotal, booking.discount, booking.total) == (
            _inr("12000"),
            _inr("1200"),
            _inr("10800"),
        )
        world.pay(booking, "4000", "CASH-1")
        world.pay(booking, "6800", "CASH-2")
        first, second = world.invoices(booking)
        assert [line.description for line in first.lines] == [
            f"Booking {booking.reference}: Guest {n}" for n in range(3)
        ]
        assert {line.amount for line in first.lines} == {_inr("4000")}
        assert (first.subtotal, first.discount, first.tax, first.total) == (
            _inr("12000"),
            _inr("1200"),
            _inr("0"),
            _inr("10800"),
        )
        assert (first.kind, first.number, first.paid, first.due) == (
            InvoiceKind.INVOICE,
            "INV-2026-CAMP-000001",
            _inr("4000"),
            _inr("6800"),
        )
        assert (second.number, second.paid, second.due) == (
            "INV-2026-CAMP-000002",
            _inr("6800"),
            _inr("0"),
        )
        assert first.customer_id == booking.customer_id
        payments = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert [i.payment_id for i in (first, second)] == [p.id for p in payments]

    def test_a_webhook_capture_is_invoiced_once_however_often_it_is_delivered(
        self, world: World
    ) -> None:
        booking = world.book()
        intent = world.core.payments.create_intent(
            booking.id, "fake", principal=world.me, idempotency_key="pay-1"
        )
        assert world.invoices(booking) == []  # nothing is invoiced before money is captured
        reference = intent.payment.provider_reference
        assert reference is not None
        delivery = world.provider.webhook("captured", reference)
        world.core.payments.handle_webhook("fake", *delivery)
        world.core.payments.handle_webhook("fake", *delivery)
        world.core.payments.handle_webhook("fake", *world.provider.webhook("captured", reference))
        (invoice,) = world.invoices(booking)
        assert (invoice.number, invoice.paid, invoice.due, invoice.payment_id) == (
            "INV-2026-CAMP-000001",
            _inr("8000"),
            _inr("0"),
            intent.payment.id,
        )

    def test_numbers_run_per_year_and_location_without_a_gap_when_a_transaction_fails(
        self, world: World
    ) -> None:
        camp, lake = world.book(), world.book(at="LAKE")
        world.pay(camp, "1000", "CASH-1")
        with pytest.raises(DuplicateError):
            world.pay(camp, "1000", "CASH-1")  # took number 2, then failed on commit
        world.pay(lake, "1000", "CASH-L1")
        world.pay(camp, "1000", "CASH-2")
        world.pay(camp, "1000", "CASH-3")
        world.clock.set(world.clock.now().replace(year=2027))
        world.pay(camp, "1000", "CASH-4")
        assert [i.number for i in world.invoices(camp)] == [
            "INV-2026-CAMP-000001",
            "INV-2026-CAMP-000002",
            "INV-2026-CAMP-000003",
            "INV-2027-CAMP-000001",
        ]
        assert [i.number for i in world.invoices(lake)] == ["INV-2026-LAKE-000001"]

    def test_series_follow_the_business_time_zone_not_utc(self) -> None:
        world = World(Settings(timezone="Asia/Kolkata"))
        booking = world.book(travelers=3)
        # 20:00 UTC on 31 December is 01:30 on 1 January in India.
        world.clock.set(datetime(2026, 12, 31, 18, 29, tzinfo=UTC))
        world.pay(booking, "1000", "CASH-1")
        world.clock.set(datetime(2026, 12, 31, 20, 0, tzinfo=UTC))
        world.pay(booking, "1000", "CASH-2")
        assert [i.number for i in world.invoices(booking)] == [
            "INV-2026-CAMP-000001",
            "INV-2027-CAMP-000001",
        ]

    def test_a_fiscal_year_from_april_names_its_series_after_the_year_it_starts(self) -> None:
        world = World(Settings(timezone="Asia/Kolkata", fiscal_year_start=4))
        booking = world.book(travelers=3)
        for utc, reference in (
            (datetime(2027, 1, 15, 12, 0, tzinfo=UTC), "CASH-1"),  # January 2027: FY 2026-27
            (datetime(2027, 3, 31, 18, 29, tzinfo=UTC), "CASH-2"),  # 23:59 IST on 31 March
            (datetime(2027, 3, 31, 18, 30, tzinfo=UTC), "CASH-3"),  # 00:00 IST on 1 April
        ):
            world.clock.set(utc)
            world.pay(booking, "1000", reference)
        assert [i.number for i in world.invoices(booking)] == [
            "INV-2026-CAMP-000001",
            "INV-2026-CAMP-000002",
            "INV-2027-CAMP-000001",
        ]

    def test_only_who_may_see_the_booking_sees_its_invoices(self, world: World) -> None:
        booking = world.book()
        world.pay(booking, "8000", "CASH-1")
        assert len(world.core.payments.invoices_for(booking.id, principal=world.me)) == 1
        with pytest.raises(NotFoundError):
            world.core.payments.invoices_for(booking.id, principal=world.someone_else)


class TestCreditNotes:
    def test_a_settled_refund_is_credited_once_from_the_invoice_series(self, world: World) -> None:
        booking = world.book()
        world.pay(booking, "8000", "CASH-1")
        (payment,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        for _ in range(2):  # the retry with the same key changes nothing
            world.core.payments.refund(
                payment.id, _inr("500"), principal=ADMIN, idempotency_key="r1", reason="one day"
            )
        invoice, credit = world.invoices(booking)
        assert (credit.kind, credit.number, credit.credited_invoice_id) == (
            InvoiceKind.CREDIT_NOTE,
            "CN-2026-CAMP-000002",
            invoice.id,
        )
        assert [(line.description, line.amount) for line in credit.lines] == [
            ("Refund of INV-2026-CAMP-000001: one day", _inr("-500"))
        ]
        assert (credit.total, credit.paid, credit.due) == (_inr("-500"), _inr("-500"), _inr("500"))
        other = world.book(travelers=1)
        world.pay(other, "1000", "CASH-2")  # the series goes on after the credit note
        assert [i.number for i in world.invoices(other)] == ["INV-2026-CAMP-000003"]

    def test_a_credit_note_issued_in_a_later_year_is_numbered_in_that_years_series(
        self, world: World
    ) -> None:
        # A series is a year of issue: the 2026 books are closed once 2027 starts, so a
        # refund of a 2026 invoice credited in 2027 is numbered in the 2027 series (its
        # line still names the 2026 invoice it credits), in order with 2027's invoices.
        booking, other = world.book(), world.book(travelers=1)
        world.pay(booking, "8000", "CASH-1")
        (payment,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        world.clock.set(world.clock.now().replace(year=2027))
        world.pay(other, "1000", "CASH-2")
        assert [i.number for i in world.invoices(other)] == ["INV-2027-CAMP-000001"]
        world.core.payments.refund(payment.id, _inr("500"), principal=ADMIN, idempotency_key="r")
        invoice, credit = world.invoices(booking)
        assert (invoice.number, credit.number) == ("INV-2026-CAMP-000001", "CN-2027-CAMP-000002")
        assert credit.series_key == "2027/CAMP"
        assert credit.credited_invoice_id == invoice.id
        assert credit.lines[0].description.startswith("Refund of INV-2026-CAMP-000001")

    def test_a_refund_settled_later_is_credited_only_when_its_webhook_says_so(
        self, world: World
    ) -> None:
        world.provider.refunds_settle_later = True
        booking = world.book()
        intent = world.core.payments.create_intent(
            booking.id, "fake", principal=world.me, idempotency_key="pay-1"
        )
        reference = intent.payment.provider_reference
        assert reference is not None
        world.core.payments.handle_webhook("fake", *world.provider.webhook("captured", reference))
        refund = world.core.payments.refund(
            intent.payment.id, _inr("8000"), principal=ADMIN, idempotency_key="r"
        )
        assert refund.provider_reference is not None
        assert len(world.invoices(booking)) == 1
        settled = world.provider.refund_webhook(refund.provider_reference, reference, "succeeded")
        world.core.payments.handle_webhook("fake", *settled)
        world.core.payments.handle_webhook("fake", *settled)
        invoice, credit = world.invoices(booking)
        assert credit.credited_invoice_id == invoice.id
        assert (credit.number, credit.total, credit.due, credit.refund_id) == (
            "CN-2026-CAMP-000002",
            _inr("-8000"),
            _inr("8000"),
            refund.id,
        )

    def test_a_declined_refund_is_not_credited(self, world: World) -> None:
        booking = world.book()
        world.pay(booking, "8000", "CASH-1")
        (payment,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        world.manual.decline_refunds()
        with pytest.raises(PaymentProviderError):
            world.core.payments.refund(
                payment.id, _inr("500"), principal=ADMIN, idempotency_key="r"
            )
        assert [i.kind for i in world.invoices(booking)] == [InvoiceKind.INVOICE]
