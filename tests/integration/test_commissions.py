"""Partner commissions on every backend: accrued with the capture that pays a partner's booking
at the rate of that moment, reversed by refunds (in proportion) and cancellations, never twice,
and reported per partner, currency and period to whom the policy allows."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from tests.integration._sources import ListSource

from bookingcore import (
    BookingCore,
    BookingRequest,
    ImportSettings,
    Money,
    NewTraveler,
    NotFoundError,
    PageRequest,
    PermissionDeniedError,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import Booking, CommissionEntryKind, Partner, Slot
from bookingcore.testing import FakePaymentProvider, FixedClock
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
EDITOR = Principal.staff(StaffId(uuid4()), StaffRole.EDITOR)
ADVISOR = Principal.staff(StaffId(uuid4()), StaffRole.ADVISOR)


def _inr(amount: str) -> Money:
    return Money(amount, "INR")


class World:
    """A core over one backend, a partner at a base camp, and a way to book and pay."""

    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.store = store
        self.clock = FixedClock()
        self.provider = FakePaymentProvider()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            payment_providers=[self.provider, FakePaymentProvider("manual")],
        )
        self.camp = self.core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
        self.slot = self.slot_at("4000")
        self.partner = self.register("Trailhead", Decimal("12.5"))
        self.as_partner = Principal.partner(self.partner.id)
        self.seq = 0

    def slot_at(self, price: str) -> Slot:
        return self.core.catalog.create_slot(
            location_id=self.camp.id,
            starts_at=self.clock.now() + timedelta(days=30),
            price_per_traveler=_inr(price),
            capacity=50,
            principal=ADMIN,
        )

    def register(self, name: str, rate: Decimal | None) -> Partner:
        return self.core.partners.register(
            name=name,
            company_name=f"{name} Pvt Ltd",
            contact_email=f"ops@{name.lower()}.example.com",
            allowed_location_ids=[self.camp.id],
            commission_rate=rate,
            principal=ADMIN,
        ).partner

    def book(
        self,
        travelers: int = 2,
        *,
        by: Principal | None = None,
        slot: Slot | None = None,
        lifecycle: str | None = None,
    ) -> Booking:
        principal = by or self.as_partner
        self.seq += 1
        customer = self.core.customers.register(
            f"+9198000{self.seq:05d}", name=f"Guest {self.seq}", principal=principal
        ).customer
        return self.core.bookings.book(
            BookingRequest(
                (slot or self.slot).id,
                [
                    NewTraveler(TravelerDetails(f"Guest {n}"), is_primary=n == 0)
                    for n in range(travelers)
                ],
                customer_id=customer.id,
                lifecycle=lifecycle,
            ),
            principal=principal,
        )

    def pay(self, booking: Booking, amount: str, reference: str) -> None:
        self.core.payments.record_manual_payment(
            booking.id, _inr(amount), principal=ADMIN, reference=reference
        )

    def pay_online(self, booking: Booking) -> tuple[dict[str, str], bytes]:
        intent = self.core.payments.create_intent(
            booking.id, "fake", principal=self.as_partner, idempotency_key=f"pay-{booking.id}"
        )
        assert intent.payment.provider_reference is not None
        return self.provider.webhook("captured", intent.payment.provider_reference)

    def set_rate(self, partner: Partner, rate: str) -> None:
        """The partner's rate changes (as a host's admin screen would store it)."""
        with self.store.unit_of_work() as uow:
            stored = uow.partners.get(partner.id)
            assert stored is not None
            stored.commission_rate = Decimal(rate)
            stored.version += 1
            uow.commit()

    def ledger(self, booking: Booking) -> list[tuple[CommissionEntryKind, Money, Decimal]]:
        entries = self.core.commissions.for_booking(booking.id, principal=ADMIN)
        return [(e.kind, e.amount, e.rate) for e in entries]

    def owed(self, booking: Booking) -> Money:
        entries = self.core.commissions.for_booking(booking.id, principal=ADMIN)
        return sum((e.amount for e in entries), _inr("0"))


@pytest.fixture
def world(any_store: MemoryStore | SqlStore) -> World:
    return World(any_store)


ACCRUAL, REVERSAL = CommissionEntryKind.ACCRUAL, CommissionEntryKind.REVERSAL


class TestAccrual:
    def test_a_capture_by_webhook_accrues_the_rate_of_that_moment_once(self, world: World) -> None:
        booking = world.book(travelers=2)
        headers, body = world.pay_online(booking)
        world.core.payments.handle_webhook("fake", headers, body)
        world.core.payments.handle_webhook("fake", headers, body)  # delivered again
        world.set_rate(world.partner, "20")  # later changes do not rewrite the ledger
        assert world.ledger(booking) == [(ACCRUAL, _inr("1000"), Decimal("12.50"))]
        (entry,) = world.core.commissions.for_booking(booking.id, principal=ADMIN)
        assert (entry.base, entry.partner_id) == (_inr("8000"), world.partner.id)

    def test_part_payments_accrue_in_proportion_at_each_captures_rate(self, world: World) -> None:
        booking = world.book(travelers=2)
        world.pay(booking, "3000", "CASH-1")
        world.set_rate(world.partner, "20")
        world.pay(booking, "5000", "CASH-2")
        assert world.ledger(booking) == [
            (ACCRUAL, _inr("375"), Decimal("12.50")),
            (ACCRUAL, _inr("1000"), Decimal("20")),
        ]

    def test_parts_round_to_what_one_payment_of_the_total_would_earn(self, world: World) -> None:
        booking = world.book(travelers=3, slot=world.slot_at("333.33"))
        assert booking.total == _inr("999.99")
        for n in range(3):
            world.pay(booking, "333.33", f"CASH-{n}")
        # 12.5 % of 999.99 is 124.99875: 125.00, not three times 41.67 (125.01)
        assert [amount for _, amount, _ in world.ledger(booking)] == [
            _inr("41.67"),
            _inr("41.66"),
            _inr("41.67"),
        ]
        assert world.owed(booking) == _inr("125")

    def test_bookings_without_a_partner_or_a_rate_accrue_nothing(self, world: World) -> None:
        direct = world.book(by=ADMIN)
        rateless = world.register("NoRate", None)
        theirs = world.book(by=Principal.partner(rateless.id))
        world.pay(direct, "8000", "CASH-1")
        world.pay(theirs, "8000", "CASH-2")
        assert world.ledger(direct) == []
        assert world.ledger(theirs) == []


class TestReversal:
    def test_refunds_reverse_in_proportion_and_the_last_one_reverses_the_rest(
        self, world: World
    ) -> None:
        booking = world.book(travelers=3, slot=world.slot_at("333.33"))
        world.pay(booking, "999.99", "CASH-1")
        (payment,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        refund = world.core.payments.refund
        refund(payment.id, _inr("333.33"), principal=ADMIN, idempotency_key="r1")
        refund(payment.id, _inr("333.33"), principal=ADMIN, idempotency_key="r1")  # retried
        refund(payment.id, _inr("666.66"), principal=ADMIN, idempotency_key="r2")
        assert world.ledger(booking) == [
            (ACCRUAL, _inr("125"), Decimal("12.50")),
            (REVERSAL, _inr("-41.67"), Decimal("12.50")),
            (REVERSAL, _inr("-83.33"), Decimal("12.50")),
        ]
        assert world.owed(booking) == _inr("0")

    def test_cancelling_a_paid_booking_reverses_what_is_left_and_later_refunds_nothing(
        self, world: World
    ) -> None:
        booking = world.book(travelers=2)
        world.pay(booking, "8000", "CASH-1")
        (payment,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        world.core.payments.refund(payment.id, _inr("2000"), principal=ADMIN, idempotency_key="r1")
        world.core.bookings.cancel(booking.id, principal=ADMIN, reason="trek closed")
        world.core.payments.refund(payment.id, _inr("6000"), principal=ADMIN, idempotency_key="r2")
        assert world.ledger(booking) == [
            (ACCRUAL, _inr("1000"), Decimal("12.50")),
            (REVERSAL, _inr("-250"), Decimal("12.50")),
            (REVERSAL, _inr("-750"), Decimal("12.50")),
        ]
        entries = world.core.commissions.for_booking(booking.id, principal=ADMIN)
        assert entries[2].reason == f"booking {booking.reference} cancelled"

    def test_a_booking_paid_again_after_a_full_refund_accrues_again(self, world: World) -> None:
        booking = world.book(travelers=2)
        world.pay(booking, "8000", "CASH-1")
        (first,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        world.core.payments.refund(first.id, _inr("8000"), principal=ADMIN, idempotency_key="r")
        world.pay(booking, "8000", "CASH-2")
        assert world.ledger(booking) == [
            (ACCRUAL, _inr("1000"), Decimal("12.50")),
            (REVERSAL, _inr("-1000"), Decimal("12.50")),
            (ACCRUAL, _inr("1000"), Decimal("12.50")),
        ]
        assert world.owed(booking) == _inr("1000")

    def test_a_refund_made_at_the_provider_reverses_in_proportion(self, world: World) -> None:
        booking = world.book(travelers=2)
        world.core.payments.handle_webhook("fake", *world.pay_online(booking))
        (payment,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert payment.provider_reference is not None
        dashboard = world.provider.refund_webhook(
            "re_dashboard", payment.provider_reference, "succeeded", amount=_inr("2000")
        )
        world.core.payments.handle_webhook("fake", *dashboard)
        world.core.payments.handle_webhook("fake", *dashboard)  # delivered again
        assert world.ledger(booking) == [
            (ACCRUAL, _inr("1000"), Decimal("12.50")),
            (REVERSAL, _inr("-250"), Decimal("12.50")),
        ]

    def test_a_payment_captured_after_cancellation_accrues_nothing(self, world: World) -> None:
        booking = world.book(travelers=2)
        headers, body = world.pay_online(booking)
        world.core.bookings.cancel(booking.id, principal=world.as_partner)
        world.core.payments.handle_webhook("fake", headers, body)
        (payment,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert payment.is_captured
        assert world.ledger(booking) == []

    def test_a_payment_captured_after_a_full_refund_ended_the_booking_accrues_nothing(
        self, world: World
    ) -> None:
        # A travel booking whose money all went back ends `refunded`: closed to payment,
        # as a cancelled one is. A second intent paid after that is a late payment.
        customer = world.core.customers.register(
            "+919800099999", name="Guest Late", principal=world.as_partner
        ).customer
        booking = world.core.bookings.book(
            BookingRequest(
                world.slot.id,
                [NewTraveler(TravelerDetails("Guest Late"), is_primary=True)],
                customer_id=customer.id,
                lifecycle="travel",
            ),
            principal=world.as_partner,
        )
        for status in ("quotation_sent", "quotation_approved", "booking_created"):
            world.core.bookings.transition(booking.id, status, principal=ADMIN)
        headers, body = world.pay_online(booking)
        world.pay(booking, "4000", "CASH-1")
        cash = next(
            p
            for p in world.core.payments.for_booking(booking.id, principal=ADMIN)
            if p.provider == "manual"
        )
        world.core.payments.refund(cash.id, _inr("4000"), principal=ADMIN, idempotency_key="r")
        assert world.core.bookings.get(booking.id, principal=ADMIN).status == "refunded"
        world.core.payments.handle_webhook("fake", headers, body)
        late = next(
            p
            for p in world.core.payments.for_booking(booking.id, principal=ADMIN)
            if p.provider == "fake"
        )
        assert late.is_captured
        assert [item.code.value for item in late.attention] == ["late_payment"]
        assert world.ledger(booking) == [
            (ACCRUAL, _inr("500"), Decimal("12.50")),
            (REVERSAL, _inr("-500"), Decimal("12.50")),
        ]
        assert world.owed(booking) == _inr("0")

    def test_cancelling_an_unpaid_booking_writes_nothing(self, world: World) -> None:
        booking = world.book()
        world.core.bookings.cancel(booking.id, principal=ADMIN)
        assert world.ledger(booking) == []

    def test_an_import_row_cancelling_a_paid_booking_reverses_as_a_cancel_does(
        self, world: World
    ) -> None:
        """A row naming the partner's paid booking by external id with the cancelled
        status cancelled it, but the partner stayed owed the whole commission."""
        customer = world.core.customers.register(
            "+919800099999", name="Guest", principal=world.as_partner
        ).customer
        booking = world.core.bookings.book(
            BookingRequest(
                world.slot.id,
                [NewTraveler(TravelerDetails("Guest"), is_primary=True)],
                customer_id=customer.id,
                external_id="OLD-1",
            ),
            principal=world.as_partner,
        )
        world.pay(booking, "4000", "CASH-1")
        lifecycle = world.core.settings.lifecycle(booking.lifecycle)
        header = ("name", "phone", "dealer_code", "booking_date", "external_id", "status")
        when = booking.starts_at.isoformat()
        cells = ("Guest", "+919800099999", "CAMP", when, "OLD-1", lifecycle.cancelled)
        job = world.core.imports.run_file(
            ListSource(header, [cells]),
            principal=ADMIN,
            settings=ImportSettings(lifecycle=booking.lifecycle),
        )
        assert (job.updated, job.failed) == (1, 0)
        assert world.ledger(booking) == [
            (ACCRUAL, _inr("500"), Decimal("12.50")),
            (REVERSAL, _inr("-500"), Decimal("12.50")),
        ]


class TestReactivation:
    """An appointment cancelled and brought back (CANCELLED -> PENDING) earns its commission
    again, once per reactivation, at the rate of the payment; cancelled again, it is reversed."""

    def test_a_reactivated_paid_booking_earns_its_commission_again_once(self, world: World) -> None:
        start = world.clock.now()
        booking = world.book(travelers=2, lifecycle="appointment")
        world.pay(booking, "8000", "CASH-1")
        world.set_rate(world.partner, "20")  # the payment's rate still applies
        world.core.bookings.cancel(booking.id, principal=ADMIN, reason="car not ready")
        back = world.core.bookings.transition
        back(booking.id, "PENDING", principal=ADMIN, idempotency_key="back-1")
        back(booking.id, "PENDING", principal=ADMIN, idempotency_key="back-1")  # retried
        assert world.ledger(booking) == [
            (ACCRUAL, _inr("1000"), Decimal("12.50")),
            (REVERSAL, _inr("-1000"), Decimal("12.50")),
            (ACCRUAL, _inr("1000"), Decimal("12.50")),
        ]
        again = world.core.commissions.for_booking(booking.id, principal=ADMIN)[2]
        assert (again.base, again.refund_id, again.is_restoration) == (_inr("8000"), None, False)
        assert again.is_reactivation
        assert not again.is_capture_accrual
        assert again.reason == f"booking {booking.reference} reactivated"

        world.core.bookings.cancel(booking.id, principal=ADMIN)
        back(booking.id, "PENDING", principal=ADMIN, idempotency_key="back-2")
        assert world.owed(booking) == _inr("1000")  # exactly one net accrual
        report = world.core.commissions.report(
            start, world.clock.now() + timedelta(days=1), principal=ADMIN
        )
        (line,) = report.lines
        assert (line.accrued, line.reversed, line.net, line.entries) == (
            _inr("3000"),
            _inr("2000"),
            _inr("1000"),
            5,
        )
        # Cancelled once more, it is reversed again.
        world.core.bookings.cancel(booking.id, principal=ADMIN)
        assert world.owed(booking) == _inr("0")

    def test_a_reactivated_booking_earns_only_on_what_the_business_still_keeps(
        self, world: World
    ) -> None:
        booking = world.book(travelers=2, lifecycle="appointment")
        world.pay(booking, "3000", "CASH-1")
        world.pay(booking, "5000", "CASH-2")
        first, second = world.core.payments.for_booking(booking.id, principal=ADMIN)
        world.core.payments.refund(first.id, _inr("1000"), principal=ADMIN, idempotency_key="r1")
        world.core.bookings.cancel(booking.id, principal=ADMIN)
        # Refunded while cancelled: nothing left to reverse then, less to earn back now.
        world.core.payments.refund(second.id, _inr("5000"), principal=ADMIN, idempotency_key="r2")
        world.core.bookings.transition(booking.id, "PENDING", principal=ADMIN)
        assert world.owed(booking) == _inr("250")  # 12.5 % of the 2,000 kept
        # A later capture accrues on the room the refunds freed, as before.
        world.pay(booking, "6000", "CASH-3")
        assert world.owed(booking) == _inr("1000")

    def test_a_late_payment_earns_nothing_once_the_booking_is_reactivated(
        self, world: World
    ) -> None:
        booking = world.book(travelers=2, lifecycle="appointment")
        world.pay(booking, "4000", "CASH-1")
        headers, body = world.pay_online(booking)
        world.core.bookings.cancel(booking.id, principal=ADMIN)
        world.core.payments.handle_webhook("fake", headers, body)  # captured while cancelled
        payments = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert [p.is_captured for p in payments] == [True, True]
        world.core.bookings.transition(booking.id, "PENDING", principal=ADMIN)
        assert world.ledger(booking) == [
            (ACCRUAL, _inr("500"), Decimal("12.50")),
            (REVERSAL, _inr("-500"), Decimal("12.50")),
            (ACCRUAL, _inr("500"), Decimal("12.50")),
        ]

    def test_a_booking_reactivated_by_an_import_row_earns_again(self, world: World) -> None:
        customer = world.core.customers.register(
            "+919800099999", name="Guest", principal=world.as_partner
        ).customer
        booking = world.core.bookings.book(
            BookingRequest(
                world.slot.id,
                [NewTraveler(TravelerDetails("Guest"), is_primary=True)],
                customer_id=customer.id,
                external_id="OLD-1",
                lifecycle="appointment",
            ),
            principal=world.as_partner,
        )
        world.pay(booking, "4000", "CASH-1")
        world.core.bookings.cancel(booking.id, principal=ADMIN)
        header = ("name", "phone", "dealer_code", "booking_date", "external_id", "status")
        cells = ("Guest", "+919800099999", "CAMP", booking.starts_at.isoformat(), "OLD-1")
        job = world.core.imports.run_file(
            ListSource(header, [(*cells, "PENDING")]),
            principal=ADMIN,
            settings=ImportSettings(lifecycle="appointment"),
        )
        assert (job.updated, job.failed) == (1, 0)
        assert world.ledger(booking) == [
            (ACCRUAL, _inr("500"), Decimal("12.50")),
            (REVERSAL, _inr("-500"), Decimal("12.50")),
            (ACCRUAL, _inr("500"), Decimal("12.50")),
        ]


class TestReport:
    def test_staff_see_each_partners_accrued_reversed_and_net_per_period(
        self, world: World
    ) -> None:
        start = world.clock.now()
        other = world.register("Summit", Decimal("10"))
        ours = world.book(travelers=2)
        theirs = world.book(travelers=1, by=Principal.partner(other.id))
        world.pay(ours, "8000", "CASH-1")
        world.pay(theirs, "4000", "CASH-2")
        world.clock.advance(days=40)
        middle = world.clock.now()
        world.core.bookings.cancel(ours.id, principal=ADMIN)

        first = world.core.commissions.report(start, middle, principal=ADMIN)
        assert [
            (line.partner_name, line.currency, line.accrued, line.reversed, line.net)
            for line in first.lines
        ] == [
            ("Summit", "INR", _inr("400"), _inr("0"), _inr("400")),
            ("Trailhead", "INR", _inr("1000"), _inr("0"), _inr("1000")),
        ]
        second = world.core.commissions.report(middle, middle + timedelta(days=1), principal=EDITOR)
        ((line,),) = [second.for_partner(world.partner.id)]
        assert (line.accrued, line.reversed, line.net, line.entries) == (
            _inr("0"),
            _inr("1000"),
            _inr("-1000"),
            1,
        )
        assert second.for_partner(other.id) == ()
        whole = world.core.commissions.report(
            start, middle + timedelta(days=1), principal=ADMIN, partner_id=world.partner.id
        )
        assert [(x.accrued, x.net) for x in whole.lines] == [(_inr("1000"), _inr("0"))]

    def test_a_partner_reads_only_its_own_commissions(self, world: World) -> None:
        start = world.clock.now()
        other = world.register("Summit", Decimal("10"))
        as_other = Principal.partner(other.id)
        world.pay(world.book(), "8000", "CASH-1")
        theirs = world.book(travelers=1, by=as_other)
        world.pay(theirs, "4000", "CASH-2")
        end = start + timedelta(days=1)
        mine = world.core.commissions.report(start, end, principal=world.as_partner)
        assert [(x.partner_id, x.net) for x in mine.lines] == [(world.partner.id, _inr("1000"))]
        with pytest.raises(NotFoundError):
            world.core.commissions.report(
                start, end, principal=world.as_partner, partner_id=other.id
            )
        with pytest.raises(NotFoundError):
            world.core.commissions.for_booking(theirs.id, principal=world.as_partner)
        assert len(world.core.commissions.for_booking(theirs.id, principal=as_other)) == 1

    def test_a_partner_asking_about_a_booking_of_no_partner_finds_no_booking(
        self, world: World
    ) -> None:
        direct = world.book(travelers=1, by=ADMIN)
        assert direct.partner_id is None
        with pytest.raises(NotFoundError):
            world.core.commissions.for_booking(direct.id, principal=world.as_partner)

    @pytest.mark.parametrize("who", ["customer", "advisor", "supplier", "webhook"])
    def test_customers_and_staff_without_view_all_read_no_commissions(
        self, world: World, who: str
    ) -> None:
        booking = world.book()
        asker = {
            "customer": Principal.customer(booking.customer_id),
            "advisor": ADVISOR,
            "supplier": Principal.staff(StaffId(uuid4()), StaffRole.SUPPLIER),
            "webhook": Principal.webhook("fake"),  # it may view all, but is no reader
        }[who]
        now = world.clock.now()
        with pytest.raises(PermissionDeniedError):
            world.core.commissions.report(now, now + timedelta(days=1), principal=asker)
        with pytest.raises(PermissionDeniedError):
            world.core.commissions.for_booking(booking.id, principal=asker)
        with pytest.raises(PermissionDeniedError):
            world.core.commissions.entries(now, now + timedelta(days=1), principal=asker)

    def test_the_ledger_comes_newest_first_a_page_at_a_time_a_partner_its_own(
        self, world: World
    ) -> None:
        start = world.clock.now()
        other = world.register("Summit", Decimal("10"))
        as_other = Principal.partner(other.id)
        ours = []
        for n in range(3):
            booking = world.book()
            world.pay(booking, "8000", f"CASH-{n}")
            ours.append(booking.id)
            world.clock.advance(minutes=1)
        theirs = world.book(travelers=1, by=as_other)
        world.pay(theirs, "4000", "CASH-THEIRS")
        end = world.clock.now() + timedelta(days=1)

        def walk(principal: Principal, **scope: Any) -> list[Any]:
            seen: list[Any] = []
            page = world.core.commissions.entries(
                start, end, PageRequest(limit=1), principal=principal, **scope
            )
            while True:
                assert len(page) <= 1
                seen += [e.booking_id for e in page]
                if page.next_cursor is None:
                    return seen
                page = world.core.commissions.entries(
                    start,
                    end,
                    PageRequest(limit=1, cursor=page.next_cursor),
                    principal=principal,
                    **scope,
                )

        newest_first = list(reversed(ours))
        assert walk(ADMIN) == [theirs.id, *newest_first]
        assert walk(ADMIN, partner_id=world.partner.id) == newest_first
        assert walk(world.as_partner) == newest_first
        assert walk(as_other) == [theirs.id]
        with pytest.raises(NotFoundError):
            world.core.commissions.entries(
                start, end, principal=world.as_partner, partner_id=other.id
            )
        with pytest.raises(ValidationError):
            world.core.commissions.entries(end, start, principal=ADMIN)

    def test_a_period_must_end_after_it_starts(self, world: World) -> None:
        now = world.clock.now()
        with pytest.raises(ValidationError) as caught:
            world.core.commissions.report(now, now, principal=ADMIN)
        assert caught.value.errors[0].field == "end"
