"""Cancellation terms on every store: the online deadline, the terms each cancellation path
records, what `cancellation_terms` answers, and what a partner's webhook carries."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from tests._threads import at_once

from bookingcore import (
    BookingCore,
    BookingRequest,
    CancellationPolicy,
    ConflictError,
    IdempotencyConflictError,
    InvalidTransitionError,
    Money,
    NewTraveler,
    NotFoundError,
    PaymentProviderError,
    PaymentSettings,
    PermissionDeniedError,
    Principal,
    RefundTier,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import Booking, Slot, WebhookTopic
from bookingcore.domain.values import CustomerId, ProductId
from bookingcore.testing import FixedClock, RecordingWebhookSender, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.payments import ManualProvider
from bookingcore_adapters.sql import SqlStore
from bookingcore_adapters.sql import _driver as sql_driver

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)

#: Online until 24 hours before; everything back up to 7 days, half up to 48 hours.
OPERATOR = CancellationPolicy(
    self_service_until=timedelta(hours=24),
    refund_tiers=(
        RefundTier(timedelta(days=7), Decimal(100)),
        RefundTier(timedelta(hours=48), Decimal(50)),
    ),
)
PERCENT, REFUNDABLE = "cancellation_refund_percent", "cancellation_refundable"


class Desk:
    """A core with one camp, a slot ten days out, a partner and its customer."""

    def __init__(self, store: MemoryStore | SqlStore, settings: Settings) -> None:
        self.clock = FixedClock()
        self.sender = RecordingWebhookSender()
        self.core = self._make_core(store, settings)
        self._n = itertools.count()
        self.camp = self.core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
        self.slot = self.new_slot(days=10)
        self.partner = self.core.partners.register(
            name="Trails",
            company_name="Trails Pvt Ltd",
            contact_email="ops@trails.example.com",
            allowed_location_ids=[self.camp.id],
            webhook_url="https://partner.example.com/hooks",
            principal=ADMIN,
        ).partner
        self.as_partner = Principal.partner(self.partner.id)
        self.customer: CustomerId = self.core.customers.register(
            "+919812300001", principal=self.as_partner, name="Asha Rao"
        ).customer.id
        self.as_customer = Principal.customer(self.customer)

    def _make_core(self, store: MemoryStore | SqlStore, settings: Settings) -> BookingCore:
        return BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            settings=settings,
            webhook_sender=self.sender,
            payment_providers=[ManualProvider()],
        )

    def new_slot(self, *, days: int, currency: str = "INR") -> Slot:
        return self.core.catalog.create_slot(
            location_id=self.camp.id,
            starts_at=self.clock.now() + timedelta(days=days),
            price_per_traveler=Money("1000", currency),
            capacity=50,
            principal=ADMIN,
        )

    def book(self, travelers: int = 2, *, slot: Slot | None = None, **kw: object) -> Booking:
        return self.core.bookings.book(
            BookingRequest(
                (slot or self.slot).id,
                [
                    NewTraveler(TravelerDetails(f"Traveler {next(self._n)}"), is_primary=i == 0)
                    for i in range(travelers)
                ],
                customer_id=self.customer,
                **kw,  # type: ignore[arg-type]
            ),
            principal=self.as_partner,
        )

    def pay(self, booking: Booking, amount: str) -> None:
        self.core.payments.record_manual_payment(
            booking.id,
            Money(amount, booking.currency),
            principal=ADMIN,
            reference=f"CASH-{next(self._n)}",
        )

    def until_start(self, left: timedelta) -> None:
        """Set the clock ``left`` before the slot starts."""
        self.clock.set(self.slot.starts_at - left)

    def cancelled_entry(self, booking: Booking, principal: Principal = ADMIN):  # type: ignore[no-untyped-def]
        return self.core.bookings.history(booking.id, principal=principal)[-1]


@pytest.fixture
def desk(any_store: MemoryStore | SqlStore) -> Desk:
    return Desk(any_store, Settings(default_region="IN", cancellation=OPERATOR))


class TestTerms:
    def test_the_terms_follow_the_clock_tier_by_tier(self, desk: Desk) -> None:
        booking = desk.book()
        desk.pay(booking, "2000")
        desk.until_start(timedelta(days=7))
        terms = desk.core.bookings.cancellation_terms(booking.id, principal=desk.as_customer)
        assert terms.refund_percent == 100
        assert terms.paid == (Money("2000", "INR"),)
        assert terms.refundable == (Money("2000", "INR"),)
        assert terms.refund_until == desk.slot.starts_at - timedelta(days=7)
        assert (terms.self_service, terms.self_service_until) == (
            True,
            desk.slot.starts_at - timedelta(hours=24),
        )
        desk.clock.advance(seconds=1)
        later = desk.core.bookings.cancellation_terms(booking.id, principal=desk.as_partner)
        assert (later.refund_percent, later.refundable) == (50, (Money("1000", "INR"),))
        assert later.refund_until == desk.slot.starts_at - timedelta(hours=48)

    def test_paid_is_what_the_payments_still_hold(self, desk: Desk) -> None:
        booking = desk.book()
        desk.pay(booking, "1500")
        payment = desk.core.payments.for_booking(booking.id, principal=ADMIN)[0]
        desk.core.payments.refund(
            payment.id, Money("300", "INR"), principal=ADMIN, idempotency_key="goodwill"
        )
        desk.until_start(timedelta(days=3))
        terms = desk.core.bookings.cancellation_terms(booking.id, principal=ADMIN)
        assert terms.paid == (Money("1200", "INR"),)
        assert terms.refundable == (Money("600", "INR"),)

    def test_nothing_paid_is_nothing_refundable_in_the_booking_s_currency(self, desk: Desk) -> None:
        slot = desk.new_slot(days=10, currency="JPY")
        booking = desk.book(slot=slot)
        terms = desk.core.bookings.cancellation_terms(booking.id, principal=desk.as_customer)
        assert terms.paid == (Money("0", "JPY"),)
        assert terms.refundable == (Money("0", "JPY"),)

    def test_only_those_who_see_the_booking_read_its_terms(self, desk: Desk) -> None:
        booking = desk.book()
        stranger = desk.core.customers.register("+919812300009", principal=ADMIN).customer.id
        with pytest.raises(NotFoundError):
            desk.core.bookings.cancellation_terms(
                booking.id, principal=Principal.customer(stranger)
            )

    def test_a_cancelled_booking_has_no_terms_left(self, desk: Desk) -> None:
        booking = desk.book()
        desk.core.bookings.cancel(booking.id, principal=ADMIN)
        with pytest.raises(InvalidTransitionError):
            desk.core.bookings.cancellation_terms(booking.id, principal=ADMIN)


class TestDeadline:
    def test_customers_and_partners_cancel_online_before_the_deadline(self, desk: Desk) -> None:
        first, second = desk.book(), desk.book()
        desk.until_start(timedelta(hours=24, seconds=1))
        assert desk.core.bookings.cancel(first.id, principal=desk.as_customer).cancelled_at
        desk.clock.advance(seconds=1)  # exactly 24 hours left: too late online
        for who in (desk.as_customer, desk.as_partner):
            with pytest.raises(PermissionDeniedError, match="cancelled online until") as caught:
                desk.core.bookings.cancel(second.id, principal=who)
            deadline = (desk.slot.starts_at - timedelta(hours=24)).isoformat()
            assert deadline in caught.value.message
        with pytest.raises(PermissionDeniedError):
            desk.core.bookings.transition(second.id, "cancelled", principal=desk.as_customer)
        # Staff still can, and the terms (nothing left to give back) are recorded.
        desk.core.bookings.cancel(second.id, principal=ADMIN, reason="called the desk")
        assert desk.cancelled_entry(second).metadata[PERCENT] == "0"

    def test_a_group_cancel_follows_the_deadline_and_records_terms(self, desk: Desk) -> None:
        group = desk.core.groups.create(
            "OFFSITE-1", organizer_id=desk.customer, principal=desk.as_partner
        )
        booking = desk.book(group_id=group.id)
        desk.pay(booking, "2000")
        desk.until_start(timedelta(hours=20))
        with pytest.raises(PermissionDeniedError, match="cancelled online until"):
            desk.core.groups.cancel(group.id, principal=desk.as_customer)
        desk.until_start(timedelta(days=3))
        cancelled = desk.core.groups.cancel(group.id, principal=desk.as_customer)
        assert [b.id for b in cancelled] == [booking.id]
        metadata = desk.cancelled_entry(booking).metadata
        assert (metadata[PERCENT], metadata[REFUNDABLE]) == ("50", "1000.00 INR")


class TestRecorded:
    def test_the_cancellation_records_the_terms_that_applied(self, desk: Desk) -> None:
        booking = desk.book()
        desk.pay(booking, "2000")
        desk.until_start(timedelta(days=8))
        desk.core.bookings.cancel(booking.id, principal=desk.as_customer, reason="ill")
        entry = desk.cancelled_entry(booking)
        assert entry.to_status == "cancelled"
        assert entry.metadata == {PERCENT: "100", REFUNDABLE: "2000.00 INR"}
        # Nothing was refunded by itself: the money is still held.
        payment = desk.core.payments.for_booking(booking.id, principal=ADMIN)[0]
        assert payment.refunded_amount == Money("0", "INR")

    def test_a_transition_to_cancelled_records_them_beside_the_caller_s_metadata(
        self, desk: Desk
    ) -> None:
        booking = desk.book()
        desk.pay(booking, "1000")
        desk.until_start(timedelta(days=2))
        desk.core.bookings.transition(
            booking.id, "cancelled", principal=ADMIN, metadata={"ticket": "T-9"}
        )
        assert desk.cancelled_entry(booking).metadata == {
            PERCENT: "50",
            REFUNDABLE: "500.00 INR",
            "ticket": "T-9",
        }

    def test_callers_may_not_write_the_terms_themselves(self, desk: Desk) -> None:
        booking = desk.book()
        with pytest.raises(ValidationError) as caught:
            desk.core.bookings.transition(
                booking.id,
                "cancelled",
                principal=desk.as_customer,
                metadata={PERCENT: "100"},
            )
        assert caught.value.fields == (f"metadata.{PERCENT}",)
        assert desk.core.bookings.get(booking.id, principal=ADMIN).status == booking.status

    def test_the_customer_reads_the_terms_of_a_cancellation_staff_made(self, desk: Desk) -> None:
        booking = desk.book()
        desk.pay(booking, "2000")
        desk.until_start(timedelta(days=3))
        desk.core.bookings.transition(
            booking.id, "cancelled", principal=ADMIN, note="staff only", metadata={"desk": "2"}
        )
        seen = desk.cancelled_entry(booking, desk.as_customer)
        assert seen.note is None
        assert seen.metadata == {PERCENT: "50", REFUNDABLE: "1000.00 INR"}

    def test_the_partner_s_webhook_says_what_the_customer_is_owed(self, desk: Desk) -> None:
        booking = desk.book()
        desk.pay(booking, "2000")
        desk.until_start(timedelta(days=3))
        desk.core.bookings.cancel(booking.id, principal=ADMIN, reason="weather")
        cancelled = [
            d
            for d in desk.core.webhooks.list(principal=ADMIN).items
            if d.topic is WebhookTopic.BOOKING_CANCELLED
        ]
        assert len(cancelled) == 1
        assert cancelled[0].payload["data"]["cancellation"] == {
            "refund_percent": "50",
            "refundable": [{"amount": "1000.00", "currency": "INR"}],
        }


class TestDefault:
    def test_without_a_policy_nothing_changes(self, any_store: MemoryStore | SqlStore) -> None:
        desk = Desk(any_store, Settings(default_region="IN"))
        booking = desk.book()
        desk.pay(booking, "2000")
        desk.until_start(timedelta(seconds=1))
        terms = desk.core.bookings.cancellation_terms(booking.id, principal=desk.as_customer)
        assert terms.self_service
        assert not terms.refunds_stated
        assert terms.refundable == (Money("0", "INR"),)
        desk.core.bookings.cancel(booking.id, principal=desk.as_customer)
        assert desk.cancelled_entry(booking).metadata == {}
        webhook = next(
            d
            for d in desk.core.webhooks.list(principal=ADMIN).items
            if d.topic is WebhookTopic.BOOKING_CANCELLED
        )
        assert "cancellation" not in webhook.payload["data"]

    def test_a_lifecycle_may_have_its_own_policy(self, any_store: MemoryStore | SqlStore) -> None:
        settings = Settings(
            default_region="IN",
            cancellation_by_lifecycle={"reservation": OPERATOR},
        )
        desk = Desk(any_store, settings)
        booking = desk.book()
        assert booking.lifecycle == "reservation"
        desk.until_start(timedelta(hours=2))
        with pytest.raises(PermissionDeniedError):
            desk.core.bookings.cancel(booking.id, principal=desk.as_customer)


# ---------------------------------------------------------------- refund on cancel (stretch)


class FlakyManual(ManualProvider):
    """The manual provider, unreachable for the first ``outages`` refunds."""

    def __init__(self, outages: int = 0) -> None:
        super().__init__()
        self.outages = outages
        self.refunds: list[str] = []

    def refund(  # type: ignore[no-untyped-def]
        self, reference: str, amount: Money, *, idempotency_key: str, reason=None
    ):
        if self.outages:
            self.outages -= 1
            raise PaymentProviderError("timed out", provider="manual", retryable=True)
        self.refunds.append(idempotency_key)
        return super().refund(reference, amount, idempotency_key=idempotency_key, reason=reason)


class RefundingDesk(Desk):
    """A desk whose core refunds cancellations by itself (``refund_on_cancel``)."""

    def __init__(
        self, store: MemoryStore | SqlStore, provider: FlakyManual, *, dispatch: str = "inline"
    ) -> None:
        self.provider = provider
        self._dispatch = dispatch
        super().__init__(store, Settings(default_region="IN", cancellation=OPERATOR))

    def _make_core(self, store: MemoryStore | SqlStore, settings: Settings) -> BookingCore:
        return BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            settings=settings,
            payment_providers=[self.provider],
            payment_settings=PaymentSettings(refund_on_cancel=True),
            dispatch=self._dispatch,  # type: ignore[arg-type]
        )

    def refunded(self, booking: Booking) -> list[Money]:
        return [
            p.refunded_amount for p in self.core.payments.for_booking(booking.id, principal=ADMIN)
        ]


class TestRefundOnCancel:
    def test_the_refundable_amount_goes_back_once_after_the_cancellation(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        desk = RefundingDesk(any_store, FlakyManual())
        booking = desk.book()
        desk.pay(booking, "2000")
        desk.until_start(timedelta(days=3))
        desk.core.bookings.cancel(booking.id, principal=desk.as_customer)
        assert desk.refunded(booking) == [Money("1000", "INR")]
        # Asked again (a redelivery, a second worker, staff): the same refund, nothing more.
        again = desk.core.payments.refund_cancellation(booking.id, principal=ADMIN)
        assert [r.amount for r in again] == [Money("1000", "INR")]
        assert desk.refunded(booking) == [Money("1000", "INR")]
        assert len(desk.provider.refunds) == 1

    def test_the_owed_amount_is_taken_from_the_oldest_payments_first(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        desk = RefundingDesk(any_store, FlakyManual())
        booking = desk.book()
        desk.pay(booking, "800")
        desk.clock.advance(seconds=1)
        desk.pay(booking, "1200")
        desk.until_start(timedelta(days=3))  # half of 2000 back: 800 from the first, 200 more
        desk.core.bookings.cancel(booking.id, principal=desk.as_customer)
        assert desk.refunded(booking) == [Money("800", "INR"), Money("200", "INR")]

    def test_a_cancellation_owed_nothing_refunds_nothing(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        desk = RefundingDesk(any_store, FlakyManual())
        booking = desk.book()
        desk.pay(booking, "2000")
        desk.until_start(timedelta(hours=30))  # under 48 hours: 0 %
        desk.core.bookings.cancel(booking.id, principal=desk.as_customer)
        assert desk.refunded(booking) == [Money("0", "INR")]
        assert desk.core.payments.refund_cancellation(booking.id, principal=ADMIN) == ()

    def test_an_unreachable_provider_is_retried_and_still_refunds_once(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        desk = RefundingDesk(any_store, FlakyManual(outages=1))
        booking = desk.book()
        desk.pay(booking, "2000")
        desk.until_start(timedelta(days=8))
        desk.core.bookings.cancel(booking.id, principal=desk.as_customer)
        assert desk.refunded(booking) == [Money("0", "INR")]  # pending: the provider timed out
        event_id = next(
            e.id
            for e in desk.core.bookings.history(booking.id, principal=ADMIN)
            if e.to_status == "cancelled"
        )
        assert event_id  # the history entry; the handler works from the booking's history
        desk.clock.advance(hours=1)
        desk.core.events.run_pending()
        assert desk.refunded(booking) == [Money("2000", "INR")]
        desk.core.events.run_pending()
        desk.core.payments.refund_cancellation(booking.id, principal=ADMIN)
        assert desk.refunded(booking) == [Money("2000", "INR")]
        assert len(desk.provider.refunds) == 1

    def test_two_workers_at_once_refund_once(self, any_store: MemoryStore | SqlStore) -> None:
        desk = RefundingDesk(any_store, FlakyManual(), dispatch="deferred")
        booking = desk.book()
        desk.pay(booking, "900")
        desk.pay(booking, "1100")
        desk.until_start(timedelta(days=8))
        desk.core.bookings.cancel(booking.id, principal=desk.as_customer)
        assert sum(m.amount for m in desk.refunded(booking)) == 0
        results = at_once(
            4, lambda _: desk.core.payments.refund_cancellation(booking.id, principal=ADMIN)
        )
        for result in results:
            assert not isinstance(result, Exception) or isinstance(result, ConflictError), result
        assert sorted(m.amount for m in desk.refunded(booking)) == [900, 1100]
        desk.core.events.run_pending()
        assert sorted(m.amount for m in desk.refunded(booking)) == [900, 1100]
        # A twin may ask the provider again, always under the refund's own key, which
        # the provider answers once: two refunds, one per payment.
        assert len(set(desk.provider.refunds)) == 2


class TestRefundCancellationByHand:
    def test_staff_refund_what_a_cancellation_recorded_once(self, desk: Desk) -> None:
        booking = desk.book()
        desk.pay(booking, "2000")
        desk.until_start(timedelta(days=3))
        with pytest.raises(InvalidTransitionError):
            desk.core.payments.refund_cancellation(booking.id, principal=ADMIN)
        desk.core.bookings.cancel(booking.id, principal=desk.as_customer)
        payment = desk.core.payments.for_booking(booking.id, principal=ADMIN)[0]
        assert payment.refunded_amount == Money("0", "INR")  # refund_on_cancel is off
        with pytest.raises(PermissionDeniedError):
            desk.core.payments.refund_cancellation(booking.id, principal=desk.as_customer)
        first = desk.core.payments.refund_cancellation(booking.id, principal=ADMIN)
        second = desk.core.payments.refund_cancellation(booking.id, principal=ADMIN)
        assert [r.id for r in first] == [r.id for r in second]
        assert [r.amount for r in first] == [Money("1000", "INR")]
        payment = desk.core.payments.for_booking(booking.id, principal=ADMIN)[0]
        assert payment.refunded_amount == Money("1000", "INR")

    def test_without_refund_terms_there_is_nothing_to_refund(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        desk = Desk(any_store, Settings(default_region="IN"))
        booking = desk.book()
        desk.pay(booking, "2000")
        desk.core.bookings.cancel(booking.id, principal=ADMIN)
        assert desk.core.payments.refund_cancellation(booking.id, principal=ADMIN) == ()


# ---------------------------------------------------------------- per product


NON_REFUNDABLE = CancellationPolicy(refund_tiers=[RefundTier(timedelta(0), Decimal(0))])
#: "Free cancellation up to 48 hours", online until then too.
FREE_48H = CancellationPolicy(
    self_service_until=timedelta(hours=48),
    refund_tiers=[RefundTier(timedelta(hours=48), Decimal(100))],
)


class Shop(Desk):
    """A dive centre: an open-water course that is non-refundable, fun dives that
    follow the settings (OPERATOR), each with a slot ten days out."""

    def __init__(self, store: MemoryStore | SqlStore) -> None:
        super().__init__(store, Settings(default_region="IN", cancellation=OPERATOR))
        catalog = self.core.catalog
        self.course = catalog.add_product(
            "OW", "Open water course", "course", principal=ADMIN, cancellation_policy=NON_REFUNDABLE
        )
        self.dives = catalog.add_product("FUN", "Fun dives", "dive", principal=ADMIN)
        self.course_slot = self.product_slot(self.course.id)
        self.dive_slot = self.product_slot(self.dives.id)

    def product_slot(self, product_id: ProductId, *, days: int = 10) -> Slot:
        return self.core.catalog.create_slot(
            location_id=self.camp.id,
            starts_at=self.clock.now() + timedelta(days=days),
            price_per_traveler=Money("1000", "INR"),
            capacity=50,
            product_id=product_id,
            principal=ADMIN,
        )


@pytest.fixture
def shop(any_store: MemoryStore | SqlStore) -> Shop:
    return Shop(any_store)


class TestPerProduct:
    def test_a_non_refundable_product_records_nothing_owed_ten_days_ahead(self, shop: Shop) -> None:
        course, dives, plain = (
            shop.book(slot=shop.course_slot),
            shop.book(slot=shop.dive_slot),
            shop.book(slot=shop.slot),  # a slot without a product
        )
        for booking in (course, dives, plain):
            shop.pay(booking, "2000")
        terms = shop.core.bookings.cancellation_terms(course.id, principal=shop.as_customer)
        assert (terms.refund_percent, terms.refundable) == (Decimal(0), (Money("0", "INR"),))
        for booking in (course, dives, plain):
            shop.core.bookings.cancel(booking.id, principal=shop.as_customer)
        assert shop.cancelled_entry(course).metadata[PERCENT] == "0"
        assert shop.cancelled_entry(course).metadata[REFUNDABLE] == "0.00 INR"
        # The other product, and a slot without one, follow the settings: 100 % at 10 days.
        assert shop.cancelled_entry(dives).metadata[PERCENT] == "100"
        assert shop.cancelled_entry(plain).metadata[REFUNDABLE] == "2000.00 INR"
        # What the cancellation recorded is what staff refund: nothing for the course.
        assert shop.core.payments.refund_cancellation(course.id, principal=ADMIN) == ()
        refunded = shop.core.payments.refund_cancellation(dives.id, principal=ADMIN)
        assert [r.amount for r in refunded] == [Money("2000", "INR")]

    def test_the_product_s_deadline_binds_customers_and_partners(self, shop: Shop) -> None:
        shop.core.catalog.set_cancellation_policy(shop.dives.id, FREE_48H, principal=ADMIN)
        early, late = shop.book(slot=shop.dive_slot), shop.book(slot=shop.dive_slot)
        shop.clock.set(shop.dive_slot.starts_at - timedelta(hours=50))
        shop.core.bookings.cancel(early.id, principal=shop.as_partner)
        assert shop.cancelled_entry(early).metadata[PERCENT] == "100"
        # 30 hours left: the settings would still let them (24 hours), the product not.
        shop.clock.set(shop.dive_slot.starts_at - timedelta(hours=30))
        for who in (shop.as_customer, shop.as_partner):
            with pytest.raises(PermissionDeniedError, match="cancelled online until"):
                shop.core.bookings.transition(late.id, "cancelled", principal=who)
        shop.core.bookings.cancel(late.id, principal=ADMIN)
        assert shop.cancelled_entry(late).metadata[PERCENT] == "0"

    def test_the_terms_in_force_at_cancellation_apply(self, shop: Shop) -> None:
        """A product's policy changed after a booking was made applies to its later
        cancellation, as a change of the settings does; clearing it brings the
        settings back."""
        booked = shop.book(slot=shop.dive_slot)
        other = shop.book(slot=shop.dive_slot)
        shop.pay(booked, "2000")
        shop.core.catalog.set_cancellation_policy(shop.dives.id, NON_REFUNDABLE, principal=ADMIN)
        shop.core.bookings.cancel(booked.id, principal=shop.as_customer)
        assert shop.cancelled_entry(booked).metadata[PERCENT] == "0"
        shop.core.catalog.set_cancellation_policy(shop.dives.id, None, principal=ADMIN)
        terms = shop.core.bookings.cancellation_terms(other.id, principal=shop.as_customer)
        assert terms.refund_percent == 100

    def test_a_rescheduled_booking_follows_its_new_slot_s_product(self, shop: Shop) -> None:
        booking = shop.book(slot=shop.dive_slot)
        shop.core.bookings.reschedule(booking.id, shop.course_slot.id, principal=ADMIN)
        shop.core.bookings.cancel(booking.id, principal=ADMIN)
        assert shop.cancelled_entry(booking).metadata[PERCENT] == "0"

    def test_a_group_cancel_follows_each_booking_s_product(self, shop: Shop) -> None:
        group = shop.core.groups.create(
            "CLUB-1", organizer_id=shop.customer, principal=shop.as_partner
        )
        course = shop.book(slot=shop.course_slot, group_id=group.id)
        dives = shop.book(slot=shop.dive_slot, group_id=group.id)
        shop.core.groups.cancel(group.id, principal=shop.as_customer)
        assert shop.cancelled_entry(course).metadata[PERCENT] == "0"
        assert shop.cancelled_entry(dives).metadata[PERCENT] == "100"


class TestSettingAProductPolicy:
    def test_the_change_is_kept_and_audited_with_old_and_new(self, shop: Shop) -> None:
        changed = shop.core.catalog.set_cancellation_policy(
            shop.course.id, FREE_48H, principal=ADMIN
        )
        assert changed.cancellation_policy == FREE_48H
        found = shop.core.catalog.search_products(principal=ADMIN, text="OW").items[0]
        assert found.cancellation_policy == FREE_48H
        trail = shop.core.audit.trail("product", shop.course.id, principal=ADMIN)
        assert trail[0].new_values["cancellation_policy"] == NON_REFUNDABLE.as_data()
        assert trail[-1].old_values == {"cancellation_policy": NON_REFUNDABLE.as_data()}
        assert trail[-1].new_values == {"cancellation_policy": FREE_48H.as_data()}
        # The same policy again changes and audits nothing; None clears it.
        shop.core.catalog.set_cancellation_policy(shop.course.id, FREE_48H, principal=ADMIN)
        assert len(shop.core.audit.trail("product", shop.course.id, principal=ADMIN)) == 2
        cleared = shop.core.catalog.set_cancellation_policy(shop.course.id, None, principal=ADMIN)
        assert cleared.cancellation_policy is None
        last = shop.core.audit.trail("product", shop.course.id, principal=ADMIN)[-1]
        assert (last.old_values, last.new_values) == (
            {"cancellation_policy": FREE_48H.as_data()},
            {"cancellation_policy": None},
        )

    def test_a_retry_with_the_key_changes_nothing_more(self, shop: Shop) -> None:
        catalog = shop.core.catalog
        first = catalog.set_cancellation_policy(
            shop.dives.id, FREE_48H, principal=ADMIN, idempotency_key="terms-1"
        )
        # Changed since by someone else: the retry answers the product, changes nothing.
        catalog.set_cancellation_policy(shop.dives.id, NON_REFUNDABLE, principal=ADMIN)
        again = catalog.set_cancellation_policy(
            shop.dives.id, FREE_48H, principal=ADMIN, idempotency_key="terms-1"
        )
        assert first.id == again.id
        assert again.cancellation_policy == NON_REFUNDABLE
        trail = shop.core.audit.trail("product", shop.dives.id, principal=ADMIN)
        assert len(trail) == 3  # created, FREE_48H, NON_REFUNDABLE
        with pytest.raises(IdempotencyConflictError):
            catalog.set_cancellation_policy(
                shop.dives.id, None, principal=ADMIN, idempotency_key="terms-1"
            )

    def test_twins_with_one_key_change_once(self, any_store: MemoryStore | SqlStore) -> None:
        shop = Shop(any_store)
        results = at_once(
            4,
            lambda _: shop.core.catalog.set_cancellation_policy(
                shop.dives.id, FREE_48H, principal=ADMIN, idempotency_key="twins"
            ),
        )
        for result in results:
            assert not isinstance(result, Exception) or isinstance(result, ConflictError), result
        trail = shop.core.audit.trail("product", shop.dives.id, principal=ADMIN)
        assert [e.new_values for e in trail[1:]] == [{"cancellation_policy": FREE_48H.as_data()}]

    def test_only_catalog_managers_set_it_and_bad_input_names_the_field(self, shop: Shop) -> None:
        catalog = shop.core.catalog
        with pytest.raises(PermissionDeniedError):
            catalog.set_cancellation_policy(shop.dives.id, None, principal=shop.as_partner)
        with pytest.raises(NotFoundError):
            catalog.set_cancellation_policy(ProductId(uuid4()), FREE_48H, principal=ADMIN)
        with pytest.raises(ValidationError) as caught:
            catalog.set_cancellation_policy(shop.dives.id, "strict", principal=ADMIN)  # type: ignore[arg-type]
        assert caught.value.fields == ("cancellation_policy",)
        fraction = CancellationPolicy(self_service_until=timedelta(seconds=1.5))
        with pytest.raises(ValidationError) as caught:
            catalog.set_cancellation_policy(shop.dives.id, fraction, principal=ADMIN)
        assert caught.value.fields == ("cancellation_policy.self_service_until",)
        with pytest.raises(ValidationError) as caught:
            catalog.add_product("X", "X", "dive", principal=ADMIN, cancellation_policy=fraction)
        assert caught.value.fields == ("cancellation_policy.self_service_until",)
        assert shop.core.audit.trail("product", shop.dives.id, principal=ADMIN)[-1].action == (
            "created"
        )


def test_a_group_of_one_product_reads_the_product_once(
    sql_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The booking carries its slot's product id, so resolving the policy reads no slot;
    the product is read by id once per unit of work, however many of its bookings a
    group cancel covers."""
    shop = Shop(sql_store)
    group = shop.core.groups.create("CLUB-2", organizer_id=shop.customer, principal=ADMIN)
    booked = [shop.book(slot=shop.course_slot, group_id=group.id) for _ in range(3)]
    queries: list[str] = []
    real = sql_driver._values

    def spy(connection: Any, query: sql_driver.Lookup, value: Any, **options: Any) -> Any:
        queries.append(query.compiled.sql)
        return real(connection, query, value, **options)

    monkeypatch.setattr(sql_driver, "_values", spy)
    shop.core.groups.cancel(group.id, principal=ADMIN)
    assert len([q for q in queries if "FROM products" in q]) == 1
    assert {shop.cancelled_entry(b).metadata[PERCENT] for b in booked} == {"0"}
