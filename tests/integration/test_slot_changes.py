"""Operators change a slot and move its departure, on every store: fields left unset stay,
a new price is for new bookings only, a move takes every live booking (and what is dated
by the departure) along, each customer is told once, retries are answered, and a booking
racing the move ends on the new time."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from tests._threads import at_once

from bookingcore import (
    BookingCore,
    BookingRequest,
    DiscountTier,
    IdempotencyConflictError,
    InvalidTransitionError,
    Money,
    NewTraveler,
    NotFoundError,
    PermissionDeniedError,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    StaleVersionError,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import Booking, BookingRescheduled, DomainEvent, Slot, SlotRescheduled
from bookingcore.domain.audit import AuditAction, AuditEntry
from bookingcore.domain.communications import CommunicationType
from bookingcore.domain.queries import BookingFilter, every_item
from bookingcore.domain.values import CustomerId
from bookingcore.domain.waitlist import WaitlistStatus
from bookingcore.services import BookedItem
from bookingcore.services import catalog as catalog_module
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
DELAY = timedelta(hours=3)


class Boat:
    """A boat trip three days out, four hours long, and customers who book it."""

    def __init__(self, store: MemoryStore | SqlStore, *, dispatch: str = "inline") -> None:
        self.clock = FixedClock()
        self.notifier = RecordingNotifier()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            settings=Settings(default_region="IN"),
            notifier=self.notifier,
            dispatch=dispatch,  # type: ignore[arg-type]
        )
        self._n = itertools.count(1)
        self.pier = self.core.catalog.add_location("PIER", "Pier 3", principal=ADMIN)
        starts = self.clock.now() + timedelta(days=3)
        self.slot = self.core.catalog.create_slot(
            location_id=self.pier.id,
            starts_at=starts,
            ends_at=starts + timedelta(hours=4),
            price_per_traveler=Money("4000", "INR"),
            capacity=6,
            name="Island hop",
            principal=ADMIN,
        )

    def customer(self) -> CustomerId:
        n = next(self._n)
        return self.core.customers.register(
            f"+9198124{n:05d}", principal=ADMIN, name=f"Sailor {n}"
        ).customer.id

    def book(
        self,
        customer: CustomerId | None = None,
        *,
        travelers: int = 1,
        items: tuple[BookedItem, ...] = (),
    ) -> Booking:
        return self.core.bookings.book(
            BookingRequest(
                self.slot.id,
                [
                    NewTraveler(TravelerDetails(f"Sailor {next(self._n)}"), is_primary=i == 0)
                    for i in range(travelers)
                ],
                customer_id=customer or self.customer(),
                items=items,
            ),
            principal=ADMIN,
        )

    def get(self, booking: Booking) -> Booking:
        return self.core.bookings.get(booking.id, principal=ADMIN)

    def bookings(self) -> list[Booking]:
        query = BookingFilter(slot_id=self.slot.id)
        return list(every_item(lambda page: self.core.bookings.list(query, page, principal=ADMIN)))

    def trail(self) -> list[AuditEntry]:
        entries = list(self.core.audit.trail("slot", self.slot.id, principal=ADMIN))
        assert entries[0].action is AuditAction.CREATED
        return entries[1:]

    def outbox(self) -> list[DomainEvent]:
        with self.core.context.uow_factory() as uow:
            return [m.event for m in uow.outbox.list_unpublished(100_000)]

    def slot_now(self) -> Slot:
        return self.core.catalog.get_slot(self.slot.id, principal=ADMIN)

    def move(self, by: timedelta = DELAY, **kwargs: object) -> catalog_module.SlotMoved:
        kwargs.setdefault("reason", "Weather delay")
        return self.core.catalog.move_slot(
            self.slot.id,
            self.slot.starts_at + by,
            principal=ADMIN,
            **kwargs,  # type: ignore[arg-type]
        )


@pytest.fixture
def boat(any_store: MemoryStore | SqlStore) -> Boat:
    return Boat(any_store)


class TestUpdating:
    def test_fields_left_unset_stay_and_the_change_is_audited(self, boat: Boat) -> None:
        version = boat.slot.version
        changed = boat.core.catalog.update_slot(
            boat.slot.id, principal=ADMIN, price_per_traveler=Money("4500", "INR")
        )
        assert changed.price_per_traveler == Money("4500", "INR")
        assert changed.name == "Island hop"
        assert changed.ends_at == boat.slot.ends_at
        assert changed.version == version + 1
        stored = boat.slot_now()
        assert stored.price_per_traveler == Money("4500", "INR")
        assert stored.name == "Island hop"
        entry = boat.trail()[-1]
        assert entry.action is AuditAction.UPDATED
        assert set(entry.old_values) == {"price_per_traveler"}
        assert set(entry.new_values) == {"price_per_traveler"}
        # None clears the name and the end; tiers are replaced.
        cleared = boat.core.catalog.update_slot(
            boat.slot.id,
            principal=ADMIN,
            name=None,
            ends_at=None,
            group_discounts=[DiscountTier(4, Decimal(10))],
        )
        assert (cleared.name, cleared.ends_at) == (None, None)
        assert boat.slot_now().group_discounts == (DiscountTier(4, Decimal(10)),)

    def test_a_new_price_is_for_bookings_made_from_now_on(self, boat: Boat) -> None:
        before = boat.book(travelers=2)
        boat.core.catalog.update_slot(
            boat.slot.id, principal=ADMIN, price_per_traveler=Money("5000", "INR")
        )
        after = boat.book(travelers=2)
        kept = boat.get(before)
        assert kept.total == Money("8000", "INR")
        assert [t.price for t in kept.travelers] == [Money("4000", "INR")] * 2
        assert after.total == Money("10000", "INR")

    def test_changing_nothing_writes_nothing(self, boat: Boat) -> None:
        same = boat.core.catalog.update_slot(boat.slot.id, principal=ADMIN, name="Island hop")
        assert same.version == boat.slot.version
        assert boat.trail() == []
        untouched = boat.core.catalog.update_slot(boat.slot.id, principal=ADMIN)
        assert untouched.version == boat.slot.version

    def test_bad_values_are_refused_as_create_slot_refuses_them(self, boat: Boat) -> None:
        cases: list[tuple[dict[str, object], str, str]] = [
            ({"price_per_traveler": Money("-1", "INR")}, "price_per_traveler", "out_of_range"),
            ({"price_per_traveler": Money("10", "USD")}, "price_per_traveler", "currency_mismatch"),
            ({"price_per_traveler": "4000"}, "price_per_traveler", "invalid_type"),
            ({"ends_at": boat.slot.starts_at}, "ends_at", "before_start"),
            ({"ends_at": boat.slot.starts_at.replace(tzinfo=None)}, "ends_at", "naive_datetime"),
            ({"name": "x" * 300}, "name", "too_long"),
        ]
        for change, field, code in cases:
            with pytest.raises(ValidationError) as refused:
                boat.core.catalog.update_slot(boat.slot.id, principal=ADMIN, **change)  # type: ignore[arg-type]
            assert refused.value.fields == (field,), change
            assert refused.value.errors[0].code == code, change
        with pytest.raises(ValidationError) as refused:
            boat.core.catalog.update_slot(
                boat.slot.id,
                principal=ADMIN,
                group_discounts=[DiscountTier(3, Decimal(5)), DiscountTier(3, Decimal(10))],
            )
        assert refused.value.fields == ("group_discounts",)
        assert boat.slot_now().version == boat.slot.version

    def test_a_stale_version_is_refused_and_a_keyed_retry_changes_nothing(self, boat: Boat) -> None:
        first = boat.core.catalog.update_slot(
            boat.slot.id,
            principal=ADMIN,
            name="Sunset hop",
            expected_version=boat.slot.version,
            idempotency_key="u-1",
        )
        with pytest.raises(StaleVersionError):
            boat.core.catalog.update_slot(
                boat.slot.id, principal=ADMIN, name="Dawn hop", expected_version=boat.slot.version
            )
        boat.core.catalog.update_slot(boat.slot.id, principal=ADMIN, name="Dawn hop")
        # The retry (even with the version it first read) answers and changes nothing.
        again = boat.core.catalog.update_slot(
            boat.slot.id,
            principal=ADMIN,
            name="Sunset hop",
            expected_version=boat.slot.version,
            idempotency_key="u-1",
        )
        assert again.name == "Dawn hop"
        assert first.version + 1 == again.version
        with pytest.raises(IdempotencyConflictError):
            boat.core.catalog.update_slot(
                boat.slot.id, principal=ADMIN, name="Other", idempotency_key="u-1"
            )

    def test_only_catalogue_managers_update_and_unknown_slots_are_not_found(
        self, boat: Boat
    ) -> None:
        with pytest.raises(PermissionDeniedError):
            boat.core.catalog.update_slot(
                boat.slot.id, principal=Principal.customer(boat.customer()), name="Mine"
            )
        with pytest.raises(NotFoundError):
            boat.core.catalog.update_slot(boat.pier.id, principal=ADMIN, name="x")  # type: ignore[arg-type]


class TestMoving:
    def test_the_slot_and_every_live_booking_move_together(self, boat: Boat) -> None:
        live, other = boat.book(travelers=2), boat.book()
        gone = boat.book()
        boat.core.bookings.cancel(gone.id, principal=ADMIN)
        old_start, old_end = boat.slot.starts_at, boat.slot.ends_at
        assert old_end is not None
        done = boat.move()
        new_start = old_start + DELAY
        assert (done.slot.starts_at, done.slot.ends_at) == (new_start, old_end + DELAY)
        assert (done.from_starts_at, done.from_ends_at) == (old_start, old_end)
        assert not done.replayed
        stored = boat.slot_now()
        assert (stored.starts_at, stored.ends_at) == (new_start, old_end + DELAY)
        assert stored.seats_held == 3
        assert {b.id for b in done.bookings} == {live.id, other.id}
        for booking in (live, other):
            now = boat.get(booking)
            assert now.starts_at == new_start
            assert now.total == booking.total
            trail = boat.core.bookings.audit_trail(booking.id, principal=ADMIN)
            assert trail[-1].new_values == {"starts_at": new_start.isoformat()}
            assert trail[-1].reason == "Weather delay"
        assert boat.get(gone).starts_at == old_start  # a cancelled booking keeps its day
        events = [e for e in boat.outbox() if isinstance(e, BookingRescheduled)]
        assert {e.booking_id for e in events} == {live.id, other.id}
        assert all(
            (e.from_slot_id, e.to_slot_id, e.from_starts_at, e.to_starts_at, e.price_difference)
            == (boat.slot.id, boat.slot.id, old_start, new_start, "0")
            for e in events
        )
        (moved,) = [e for e in boat.outbox() if isinstance(e, SlotRescheduled)]
        assert moved.booking_ids == tuple(b.id for b in done.bookings)
        assert (moved.from_starts_at, moved.to_starts_at) == (old_start, new_start)
        entry = boat.trail()[-1]
        assert entry.action is AuditAction.UPDATED
        assert entry.old_values["starts_at"] == old_start.isoformat()
        assert entry.reason == "Weather delay"

    def test_an_end_given_is_kept_and_no_end_stays_none(self, boat: Boat) -> None:
        new_end = boat.slot.starts_at + DELAY + timedelta(hours=1)
        done = boat.move(new_ends_at=new_end)
        assert done.slot.ends_at == new_end
        boat.core.catalog.update_slot(boat.slot.id, principal=ADMIN, ends_at=None)
        assert boat.move(by=DELAY * 2).slot.ends_at is None

    def test_each_customer_is_told_once_and_a_retry_answers_the_same(self, boat: Boat) -> None:
        bookings = [boat.book(), boat.book()]
        first = boat.move(idempotency_key="m-1")
        assert len(boat.notifier.sent) == 2
        assert all("Weather delay" in m.body for m in boat.notifier.sent)
        assert {c.booking_id for c in first.communications} == {b.id for b in bookings}
        assert all(c.type is CommunicationType.SCHEDULE_CHANGE for c in first.communications)
        again = boat.move(idempotency_key="m-1")
        assert again.replayed
        assert [b.id for b in again.bookings] == [b.id for b in first.bookings]
        assert [c.id for c in again.communications] == [c.id for c in first.communications]
        assert again.from_starts_at == first.from_starts_at
        assert again.slot.starts_at == first.slot.starts_at
        assert len(boat.notifier.sent) == 2
        assert sum(isinstance(e, SlotRescheduled) for e in boat.outbox()) == 1
        with pytest.raises(IdempotencyConflictError):
            boat.move(reason="Boat swap", idempotency_key="m-1")
        # A second move tells everyone again, once.
        boat.move(by=DELAY * 2, reason="Boat swap")
        assert len(boat.notifier.sent) == 4

    def test_notify_false_tells_nobody(self, boat: Boat) -> None:
        boat.book()
        done = boat.move(notify=False)
        assert done.communications == ()
        assert boat.notifier.sent == []

    def test_waiting_list_offers_keep_their_expiry(self, boat: Boat) -> None:
        boat.book(travelers=5)
        offered = boat.core.waitlists.join(
            boat.slot.id, principal=ADMIN, customer_id=boat.customer(), seats=1
        )
        entry = boat.core.waitlists.get(offered.id, principal=ADMIN)
        assert entry.status is WaitlistStatus.OFFERED
        boat.move()
        after = boat.core.waitlists.get(offered.id, principal=ADMIN)
        assert after.status is WaitlistStatus.OFFERED
        assert after.offer_expires_at == entry.offer_expires_at

    def test_cancellation_terms_count_from_the_new_start(self, boat: Boat) -> None:
        booking = boat.book()
        boat.clock.advance(hours=60)  # 12 hours before the old start
        before = boat.core.bookings.cancellation_terms(booking.id, principal=ADMIN)
        boat.move(by=timedelta(days=5))
        after = boat.core.bookings.cancellation_terms(booking.id, principal=ADMIN)
        new_start = boat.slot.starts_at + timedelta(days=5)
        assert before.starts_at == boat.slot.starts_at
        assert after.starts_at == new_start
        policy = boat.core.context.settings.cancellation
        assert after.self_service_until == policy.self_service_deadline(new_start)
        expected = policy.terms(starts_at=new_start, now=boat.clock.now())
        assert (after.tier, after.refund_until) == (expected.tier, expected.refund_until)

    def test_dated_items_and_the_reminder_follow_the_departure(self, boat: Boat) -> None:
        start = boat.slot.starts_at.date()
        lodge = BookedItem(
            kind="hotel",
            description="Lodge",
            quantity=1,
            unit_price=Money("500", "INR"),
            service_starts_on=start,
        )
        booking = boat.book(items=(lodge,))
        boat.move(by=timedelta(days=2))
        (item,) = boat.core.items.for_booking(booking.id, principal=ADMIN)
        assert item.service_starts_on == start + timedelta(days=2)
        # The reminder goes by the new start: not due at the old one's window.
        boat.clock.advance(days=2, hours=12)
        assert boat.core.communications.due_reminders(principal=ADMIN) == []
        boat.clock.advance(days=2)
        due = boat.core.communications.due_reminders(principal=ADMIN)
        assert [b.id for b in due] == [booking.id]

    def test_an_item_its_supplier_confirmed_stays_and_staff_are_told(self, boat: Boat) -> None:
        start = boat.slot.starts_at.date()
        ferry = BookedItem(
            kind="transfer",
            description="Return ferry",
            quantity=1,
            unit_price=Money("300", "INR"),
            service_starts_on=start,
        )
        booking = boat.book(items=(ferry,))
        (item,) = boat.core.items.for_booking(booking.id, principal=ADMIN)
        boat.core.items.confirm(item.id, principal=ADMIN, supplier_reference="FR-9")
        boat.move(by=timedelta(days=1))
        (kept,) = boat.core.items.for_booking(booking.id, principal=ADMIN)
        assert kept.service_starts_on == start
        (note,) = boat.core.bookings.notes(booking.id, principal=ADMIN)
        assert "Return ferry" in note.text
        assert "FR-9" in note.text

    def test_a_move_into_the_past_or_of_a_started_slot_is_refused(self, boat: Boat) -> None:
        with pytest.raises(ValidationError) as refused:
            boat.core.catalog.move_slot(boat.slot.id, boat.clock.now(), principal=ADMIN, reason="x")
        assert refused.value.fields == ("new_starts_at",)
        assert refused.value.errors[0].code == "past"
        boat.clock.set(boat.slot.starts_at)
        with pytest.raises(ValidationError) as refused:
            boat.move()
        assert refused.value.fields == ("new_starts_at",)
        assert refused.value.errors[0].code == "past"
        assert boat.slot_now().starts_at == boat.slot.starts_at

    def test_bad_requests_are_refused_with_the_field_named(self, boat: Boat) -> None:
        cases: list[tuple[dict[str, object], str, str]] = [
            ({"reason": "  "}, "reason", "required"),
            ({"by": timedelta(0)}, "new_starts_at", "unchanged"),
            ({"new_ends_at": boat.slot.starts_at}, "new_ends_at", "before_start"),
            ({"by": timedelta(days=365 * 1000)}, "new_starts_at", "out_of_range"),
        ]
        for kwargs, field, code in cases:
            with pytest.raises(ValidationError) as refused:
                boat.move(**kwargs)  # type: ignore[arg-type]
            assert refused.value.fields == (field,), kwargs
            assert refused.value.errors[0].code == code, kwargs
        assert boat.slot_now().starts_at == boat.slot.starts_at

    def test_a_cancelled_slot_is_not_moved_and_only_managers_move(self, boat: Boat) -> None:
        for who in (Principal.customer(boat.customer()),):
            with pytest.raises(PermissionDeniedError):
                boat.core.catalog.move_slot(
                    boat.slot.id, boat.slot.starts_at + DELAY, principal=who, reason="x"
                )
        boat.core.catalog.cancel_slot(boat.slot.id, principal=ADMIN, reason="Storm")
        with pytest.raises(InvalidTransitionError):
            boat.move()
        with pytest.raises(InvalidTransitionError):  # closed for good: not changed either
            boat.core.catalog.update_slot(boat.slot.id, principal=ADMIN, name="Night dive")

    def test_a_slot_over_the_limit_is_refused_whole(
        self, boat: Boat, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(catalog_module, "MAX_SLOT_BOOKINGS", 1)
        bookings = [boat.book(), boat.book()]
        with pytest.raises(ValidationError) as refused:
            boat.move()
        assert refused.value.errors[0].code == "too_many_bookings"
        assert all(boat.get(b).starts_at == boat.slot.starts_at for b in bookings)

    def test_a_failed_message_is_sent_again_later_and_only_once(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        boat = Boat(any_store, dispatch="deferred")
        boat.book()
        boat.book()
        boat.move()
        boat.notifier.fail_next(1)
        boat.core.events.run_pending()
        assert len(boat.notifier.sent) == 1
        boat.clock.advance(hours=1)
        boat.core.events.run_pending()
        boat.clock.advance(hours=1)
        boat.core.events.run_pending()
        assert len(boat.notifier.sent) == 2
        assert len({m.communication_id for m in boat.notifier.sent}) == 2


def test_a_booking_racing_the_move_ends_on_the_new_time(
    any_store: MemoryStore | SqlStore,
) -> None:
    boat = Boat(any_store)
    boat.core.catalog.change_capacity(boat.slot.id, None, principal=ADMIN)
    customers = [boat.customer() for _ in range(6)]
    boat.book(customers[0])
    new_start = boat.slot.starts_at + DELAY

    def work(index: int) -> object:
        if index == 0:
            return boat.move()
        return boat.book(customers[index])

    results = at_once(6, work)
    assert not any(isinstance(r, Exception) for r in results), results
    bookings = boat.bookings()
    assert len(bookings) == 6
    assert {b.starts_at for b in bookings} == {new_start}
    moved = results[0].bookings  # type: ignore[union-attr]
    assert 1 <= len(moved) <= 6
