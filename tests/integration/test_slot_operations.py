"""Operators stop selling a slot and call it off, on every store: closing and reopening,
cancelling every booking on it with a full refund owed, its waiting list ended, each
customer told once, retries answered, and a booking racing the cancellation never left
live on a cancelled slot."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from tests._threads import at_once

from bookingcore import (
    BookingCore,
    BookingRequest,
    CancellationPolicy,
    IdempotencyConflictError,
    InvalidTransitionError,
    Money,
    NewTraveler,
    NotFoundError,
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
from bookingcore.domain import Booking, DomainEvent, Slot, SlotCancelled
from bookingcore.domain.audit import AuditAction, AuditEntry
from bookingcore.domain.communications import CommunicationType
from bookingcore.domain.queries import BookingFilter, SlotFilter, every_item
from bookingcore.domain.values import CustomerId
from bookingcore.domain.waitlist import WaitlistStatus
from bookingcore.services import catalog as catalog_module
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.payments import ManualProvider
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)

#: Half back up to 48 hours before; nothing after. An operator's cancellation ignores it.
STINGY = CancellationPolicy(refund_tiers=(RefundTier(timedelta(hours=48), Decimal(50)),))
PERCENT, REFUNDABLE = "cancellation_refund_percent", "cancellation_refundable"


class Dive:
    """A dive centre with a trip three days out, a partner, and customers who book it."""

    def __init__(self, store: MemoryStore | SqlStore, *, dispatch: str = "inline") -> None:
        self.clock = FixedClock()
        self.notifier = RecordingNotifier()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            settings=Settings(default_region="IN", cancellation=STINGY),
            notifier=self.notifier,
            payment_providers=[ManualProvider()],
            payment_settings=PaymentSettings(refund_on_cancel=True),
            dispatch=dispatch,  # type: ignore[arg-type]
        )
        self._n = itertools.count(1)
        self.reef = self.core.catalog.add_location("REEF", "Reef dive centre", principal=ADMIN)
        self.slot = self.core.catalog.create_slot(
            location_id=self.reef.id,
            starts_at=self.clock.now() + timedelta(days=3),
            price_per_traveler=Money("4000", "INR"),
            capacity=6,
            name="Wreck dive",
            principal=ADMIN,
        )
        self.partner = self.core.partners.register(
            name="Blue",
            company_name="Blue Pvt Ltd",
            contact_email="ops@blue.example.com",
            allowed_location_ids=[self.reef.id],
            principal=ADMIN,
        ).partner
        self.as_partner = Principal.partner(self.partner.id)

    def customer(self) -> CustomerId:
        n = next(self._n)
        return self.core.customers.register(
            f"+9198123{n:05d}", principal=ADMIN, name=f"Diver {n}"
        ).customer.id

    def book(self, customer: CustomerId | None = None, *, travelers: int = 1) -> Booking:
        return self.core.bookings.book(
            BookingRequest(
                self.slot.id,
                [
                    NewTraveler(TravelerDetails(f"Diver {next(self._n)}"), is_primary=i == 0)
                    for i in range(travelers)
                ],
                customer_id=customer or self.customer(),
            ),
            principal=ADMIN,
        )

    def pay(self, booking: Booking, amount: str) -> None:
        self.core.payments.record_manual_payment(
            booking.id, Money(amount, "INR"), principal=ADMIN, reference=f"CASH-{next(self._n)}"
        )

    def refunded(self, booking: Booking) -> list[Money]:
        return [
            p.refunded_amount for p in self.core.payments.for_booking(booking.id, principal=ADMIN)
        ]

    def live_bookings(self, slot: Slot | None = None) -> list[Booking]:
        query = BookingFilter(slot_id=(slot or self.slot).id)
        every = every_item(lambda page: self.core.bookings.list(query, page, principal=ADMIN))
        lifecycle = self.core.context.settings.lifecycle
        return [b for b in every if lifecycle(b.lifecycle).is_active(b.status)]

    def trail(self) -> list[AuditEntry]:
        """The slot's audit entries after the one that opened it."""
        entries = list(self.core.audit.trail("slot", self.slot.id, principal=ADMIN))
        assert entries[0].action is AuditAction.CREATED
        return entries[1:]

    def outbox(self) -> list[DomainEvent]:
        with self.core.context.uow_factory() as uow:
            return [m.event for m in uow.outbox.list_unpublished(100_000)]

    def slot_now(self) -> Slot:
        return self.core.catalog.get_slot(self.slot.id, principal=ADMIN)


@pytest.fixture
def dive(any_store: MemoryStore | SqlStore) -> Dive:
    return Dive(any_store)


class TestClosing:
    def test_a_closed_slot_takes_no_booking_but_keeps_what_is_booked(self, dive: Dive) -> None:
        kept = dive.book(travelers=2)
        before = dive.slot_now().version
        closed = dive.core.catalog.close_slot(dive.slot.id, principal=ADMIN, reason="boat repair")
        assert not closed.is_active
        assert closed.version == before + 1
        with pytest.raises(ValidationError) as refused:
            dive.book()
        assert refused.value.fields == ("slot_id",)
        assert refused.value.errors[0].code == "inactive"
        assert dive.core.bookings.get(kept.id, principal=ADMIN).status == kept.status
        assert dive.slot_now().seats_held == 2
        # Partners' availability leaves it out, even when asked for closed slots.
        listed = dive.core.catalog.list_slots(
            SlotFilter(only_active=False), principal=dive.as_partner
        )
        assert listed.items == []
        assert [s.id for s in dive.core.catalog.list_slots(principal=ADMIN).items] == []
        entry = dive.trail()[-1]
        assert entry.action is AuditAction.DEACTIVATED
        assert entry.reason == "boat repair"

    def test_waiting_list_joins_are_refused_while_closed(self, dive: Dive) -> None:
        dive.core.catalog.close_slot(dive.slot.id, principal=ADMIN)
        with pytest.raises(ValidationError) as refused:
            dive.core.waitlists.join(dive.slot.id, principal=ADMIN, customer_id=dive.customer())
        assert refused.value.fields == ("slot_id",)

    def test_reopening_sells_it_again_and_offers_free_seats(self, dive: Dive) -> None:
        full = dive.book(travelers=6)
        waiting = dive.core.waitlists.join(
            dive.slot.id, principal=ADMIN, customer_id=dive.customer(), seats=2
        )
        dive.core.catalog.close_slot(dive.slot.id, principal=ADMIN)
        dive.core.bookings.cancel(full.id, principal=ADMIN)  # seats free up while closed
        entry = dive.core.waitlists.get(waiting.id, principal=ADMIN)
        assert entry.status is WaitlistStatus.WAITING  # no offer on a closed slot
        opened = dive.core.catalog.reopen_slot(dive.slot.id, principal=ADMIN)
        assert opened.is_active
        entry = dive.core.waitlists.get(waiting.id, principal=ADMIN)
        assert entry.status is WaitlistStatus.OFFERED
        assert dive.book().slot_id == dive.slot.id
        actions = [e.action for e in dive.trail()]
        assert actions[-2:] == [AuditAction.DEACTIVATED, AuditAction.ACTIVATED]

    def test_closing_twice_or_opening_an_open_slot_changes_nothing(self, dive: Dive) -> None:
        dive.core.catalog.close_slot(dive.slot.id, principal=ADMIN)
        version = dive.slot_now().version
        assert not dive.core.catalog.close_slot(dive.slot.id, principal=ADMIN).is_active
        assert dive.slot_now().version == version
        dive.core.catalog.reopen_slot(dive.slot.id, principal=ADMIN)
        dive.core.catalog.reopen_slot(dive.slot.id, principal=ADMIN)
        assert dive.slot_now().version == version + 1
        assert len(dive.trail()) == 2

    def test_a_keyed_retry_changes_nothing_more(self, dive: Dive) -> None:
        dive.core.catalog.close_slot(dive.slot.id, principal=ADMIN, idempotency_key="c-1")
        dive.core.catalog.reopen_slot(dive.slot.id, principal=ADMIN)
        # The retry of the close is recognised: the slot stays open.
        again = dive.core.catalog.close_slot(dive.slot.id, principal=ADMIN, idempotency_key="c-1")
        assert again.is_active
        with pytest.raises(IdempotencyConflictError):
            dive.core.catalog.close_slot(
                dive.slot.id, principal=ADMIN, reason="other", idempotency_key="c-1"
            )
        with pytest.raises(IdempotencyConflictError):
            dive.core.catalog.reopen_slot(dive.slot.id, principal=ADMIN, idempotency_key="c-1")

    def test_a_started_slot_is_not_reopened(self, dive: Dive) -> None:
        dive.core.catalog.close_slot(dive.slot.id, principal=ADMIN)
        dive.clock.set(dive.slot.starts_at)
        with pytest.raises(ValidationError) as refused:
            dive.core.catalog.reopen_slot(dive.slot.id, principal=ADMIN)
        assert refused.value.fields == ("slot_id",)
        assert refused.value.errors[0].code == "past"

    def test_only_catalogue_managers_close_and_unknown_slots_are_not_found(
        self, dive: Dive
    ) -> None:
        customer = Principal.customer(dive.customer())
        for who in (dive.as_partner, customer):
            with pytest.raises(PermissionDeniedError):
                dive.core.catalog.close_slot(dive.slot.id, principal=who)
            with pytest.raises(PermissionDeniedError):
                dive.core.catalog.cancel_slot(dive.slot.id, principal=who, reason="storm")
        assert dive.slot_now().is_active
        with pytest.raises(NotFoundError):
            dive.core.catalog.close_slot(dive.reef.id, principal=ADMIN)  # type: ignore[arg-type]
        with pytest.raises(ValidationError) as refused:
            dive.core.catalog.close_slot(dive.slot.id, principal=ADMIN, reason="x" * 501)
        assert refused.value.fields == ("reason",)


class TestCancelling:
    def test_every_live_booking_is_cancelled_with_everything_refunded(self, dive: Dive) -> None:
        paid, unpaid = dive.book(travelers=2), dive.book()
        dive.pay(paid, "5000")
        gone = dive.book()
        dive.core.bookings.cancel(gone.id, principal=ADMIN)
        dive.clock.advance(hours=60)  # 12 hours left: the policy would give back nothing
        done = dive.core.catalog.cancel_slot(
            dive.slot.id, principal=ADMIN, reason="Storm warning: the trip is off."
        )
        assert not done.slot.is_active
        assert done.slot.seats_held == 0
        stored = dive.core.catalog.get_slot(dive.slot.id, principal=ADMIN)
        assert stored.is_cancelled
        assert stored.cancelled_at == dive.clock.now()
        assert stored.cancellation_reason == "Storm warning: the trip is off."
        assert {b.id for b in done.bookings} == {paid.id, unpaid.id}
        assert dive.live_bookings() == []
        for booking in (paid, unpaid):
            last = dive.core.bookings.history(booking.id, principal=ADMIN)[-1]
            assert last.to_status == "cancelled"
            assert last.metadata[PERCENT] == "100"
            assert last.metadata["cancelled_by_operator"] == "slot_cancelled"
            assert last.note == "Storm warning: the trip is off."
        last = dive.core.bookings.history(paid.id, principal=ADMIN)[-1]
        assert last.metadata[REFUNDABLE] == "5000.00 INR"
        assert dive.refunded(paid) == [Money("5000", "INR")]  # refund_on_cancel: all of it
        # The booking cancelled before is left as it was.
        assert len(dive.core.bookings.history(gone.id, principal=ADMIN)) == 2

    def test_each_customer_is_told_once_with_the_reason(self, dive: Dive) -> None:
        bookings = [dive.book(), dive.book()]
        done = dive.core.catalog.cancel_slot(dive.slot.id, principal=ADMIN, reason="Too few divers")
        assert len(dive.notifier.sent) == 2
        assert all("Too few divers" in m.body for m in dive.notifier.sent)
        assert {c.booking_id for c in done.communications} == {b.id for b in bookings}
        assert all(c.type is CommunicationType.CANCELLATION for c in done.communications)
        for booking in bookings:
            logged = dive.core.communications.for_booking(booking.id, principal=ADMIN)
            assert [c.status.value for c in logged] == ["sent"]
        # A redelivered event finds every message sent: nothing goes out twice.
        for message in done.communications:
            dive.core.communications.deliver_logged(message.id)
        assert len(dive.notifier.sent) == 2

    def test_the_waiting_list_ends_and_is_told_without_offers(self, dive: Dive) -> None:
        dive.book(travelers=5)
        offered = dive.core.waitlists.join(
            dive.slot.id, principal=ADMIN, customer_id=dive.customer(), seats=1
        )
        waiting = dive.core.waitlists.join(
            dive.slot.id, principal=ADMIN, customer_id=dive.customer(), seats=3
        )
        assert dive.core.waitlists.get(offered.id, principal=ADMIN).status is WaitlistStatus.OFFERED
        sent_before = len(dive.notifier.sent)
        offers_before = sum(e.name == "waitlist.offered" for e in dive.outbox())
        done = dive.core.catalog.cancel_slot(dive.slot.id, principal=ADMIN, reason="Storm")
        assert {e.id for e in done.waitlist_entries} == {offered.id, waiting.id}
        for entry in (offered, waiting):
            assert dive.core.waitlists.get(entry.id, principal=ADMIN).status is (
                WaitlistStatus.CANCELLED
            )
        assert dive.slot_now().seats_held == 0
        assert len(dive.notifier.sent) == sent_before + 3  # one booking, two entries
        assert sum(e.name == "waitlist.offered" for e in dive.outbox()) == offers_before

    def test_a_slot_cancelled_event_lists_what_was_done(self, dive: Dive) -> None:
        booking = dive.book()
        done = dive.core.catalog.cancel_slot(dive.slot.id, principal=ADMIN, reason="Storm")
        events = [e for e in dive.outbox() if isinstance(e, SlotCancelled)]
        assert len(events) == 1
        assert events[0].slot_id == dive.slot.id
        assert events[0].booking_ids == (booking.id,)
        assert events[0].communication_ids == tuple(c.id for c in done.communications)
        assert events[0].reason == "Storm"
        entry = dive.trail()[-1]
        assert entry.action is AuditAction.STATUS_CHANGED
        assert entry.new_values["booking_ids"] == [str(booking.id)]

    def test_a_keyed_retry_answers_the_same_and_cancels_nothing_twice(self, dive: Dive) -> None:
        first_booking = dive.book()
        first = dive.core.catalog.cancel_slot(
            dive.slot.id, principal=ADMIN, reason="Storm", idempotency_key="off-1"
        )
        again = dive.core.catalog.cancel_slot(
            dive.slot.id, principal=ADMIN, reason="Storm", idempotency_key="off-1"
        )
        assert again.replayed
        assert not first.replayed
        assert [b.id for b in again.bookings] == [first_booking.id]
        assert [c.id for c in again.communications] == [c.id for c in first.communications]
        assert len(dive.notifier.sent) == 1
        assert len(dive.core.bookings.history(first_booking.id, principal=ADMIN)) == 2
        with pytest.raises(IdempotencyConflictError):
            dive.core.catalog.cancel_slot(
                dive.slot.id, principal=ADMIN, reason="Wind", idempotency_key="off-1"
            )
        with pytest.raises(InvalidTransitionError):
            dive.core.catalog.cancel_slot(dive.slot.id, principal=ADMIN, reason="Storm")
        with pytest.raises(InvalidTransitionError):
            dive.core.catalog.reopen_slot(dive.slot.id, principal=ADMIN)

    def test_a_reason_is_required(self, dive: Dive) -> None:
        for reason in ("", "   ", "x" * 501):
            with pytest.raises(ValidationError) as refused:
                dive.core.catalog.cancel_slot(dive.slot.id, principal=ADMIN, reason=reason)
            assert refused.value.fields == ("reason",)
        assert dive.slot_now().is_active

    def test_a_slot_over_the_limit_is_refused_whole(
        self, dive: Dive, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(catalog_module, "MAX_SLOT_BOOKINGS", 2)
        bookings = [dive.book() for _ in range(3)]
        with pytest.raises(ValidationError) as refused:
            dive.core.catalog.cancel_slot(dive.slot.id, principal=ADMIN, reason="Storm")
        assert refused.value.fields == ("slot_id",)
        assert refused.value.errors[0].code == "too_many_bookings"
        assert dive.slot_now().is_active  # nothing changed
        assert {b.id for b in dive.live_bookings()} == {b.id for b in bookings}
        # Bookings cancelled already do not count.
        dive.core.bookings.cancel(bookings[0].id, principal=ADMIN)
        done = dive.core.catalog.cancel_slot(dive.slot.id, principal=ADMIN, reason="Storm")
        assert {b.id for b in done.bookings} == {b.id for b in bookings[1:]}

    def test_a_failed_message_is_sent_again_later_and_only_once(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        dive = Dive(any_store, dispatch="deferred")
        dive.book()
        dive.book()
        dive.core.catalog.cancel_slot(dive.slot.id, principal=ADMIN, reason="Storm")
        dive.notifier.fail_next(1)
        dive.core.events.run_pending()
        assert len(dive.notifier.sent) == 1
        dive.clock.advance(hours=1)
        dive.core.events.run_pending()
        dive.clock.advance(hours=1)
        dive.core.events.run_pending()
        assert len(dive.notifier.sent) == 2
        assert len({m.communication_id for m in dive.notifier.sent}) == 2

    def test_a_message_refused_for_good_is_not_sent_again(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        dive = Dive(any_store, dispatch="deferred")
        dive.book()
        dive.book()
        dive.core.catalog.cancel_slot(dive.slot.id, principal=ADMIN, reason="Storm")
        dive.notifier.fail_next(1, "twilio 21211: invalid number", retryable=False)
        dive.core.events.run_pending()
        assert (dive.notifier.attempts, len(dive.notifier.sent)) == (2, 1)
        for _ in range(3):
            dive.clock.advance(hours=7)
            dive.core.events.run_pending()
        assert (dive.notifier.attempts, len(dive.notifier.sent)) == (2, 1)


def test_a_booking_racing_the_cancellation_is_refused_or_cancelled(
    any_store: MemoryStore | SqlStore,
) -> None:
    dive = Dive(any_store)
    dive.core.catalog.change_capacity(dive.slot.id, None, principal=ADMIN)
    customers = [dive.customer() for _ in range(6)]
    dive.book(customers[0])

    def work(index: int) -> object:
        if index == 0:
            return dive.core.catalog.cancel_slot(dive.slot.id, principal=ADMIN, reason="Storm")
        return dive.book(customers[index])

    results = at_once(6, work)
    assert not isinstance(results[0], Exception), results[0]
    for result in results[1:]:
        if isinstance(result, Exception):
            assert isinstance(result, ValidationError), result
            assert result.errors[0].code == "inactive"
        else:
            assert dive.core.bookings.get(result.id, principal=ADMIN).status == "cancelled"
    assert dive.live_bookings() == []
    assert dive.slot_now().seats_held == 0
    cancelled = results[0].bookings  # type: ignore[union-attr]
    booked = [r for r in results[1:] if not isinstance(r, Exception)]
    assert len(cancelled) == 1 + len(booked)


def test_customers_cancelling_while_the_slot_is_cancelled_cancel_each_booking_once(
    any_store: MemoryStore | SqlStore,
) -> None:
    dive = Dive(any_store)
    bookings = [dive.book() for _ in range(4)]

    def work(index: int) -> object:
        if index == 0:
            return dive.core.catalog.cancel_slot(dive.slot.id, principal=ADMIN, reason="Storm")
        return dive.core.bookings.cancel(bookings[index - 1].id, principal=ADMIN)

    results = at_once(5, work)
    assert not isinstance(results[0], Exception), results[0]
    for result in results[1:]:
        assert not isinstance(result, Exception) or isinstance(result, InvalidTransitionError)
    for booking in bookings:
        history = dive.core.bookings.history(booking.id, principal=ADMIN)
        assert [e.to_status for e in history].count("cancelled") == 1
    assert dive.live_bookings() == []
    assert dive.slot_now().seats_held == 0
