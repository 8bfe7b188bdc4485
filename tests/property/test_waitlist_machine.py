"""Property: waiting-list offers are real holds, whatever happens in whatever order.

A stateful model drives the real services (bookings, cancellations, joins,
accepts, declines, removals, capacity changes, time passing and offer expiry)
over the memory store and over SQLite, and after every step checks what is
stored:

* ``seats_held == travelers of bookings holding seats + seats of offered entries``;
* ``seats_held <= capacity``;
* once expired offers are processed, no waiting entry fits in the free seats
  (freed seats are never left idle while someone who fits waits);
* every booked entry names a booking of its customer on its slot, for at most
  the seats it was offered.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)
from tests._sqlite import sqlite_file_store

from bookingcore import (
    BookingCore,
    BookingId,
    BookingRequest,
    CapacityError,
    DuplicateError,
    InvalidTransitionError,
    Money,
    NewTraveler,
    Principal,
    SlotId,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import WaitlistStatus
from bookingcore.domain.values import CustomerId, WaitlistEntryId
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
SYSTEM = Principal.system("jobs")
CUSTOMERS = 6


def _travelers(n: int, tag: str) -> list[NewTraveler]:
    return [NewTraveler(TravelerDetails(f"{tag} {i}"), is_primary=i == 0) for i in range(n)]


class WaitlistMachine(RuleBasedStateMachine):
    """Bookings and waiting-list entries on one small slot."""

    bookings = Bundle("bookings")
    entries = Bundle("entries")

    def make_store(self) -> MemoryStore | SqlStore:
        return MemoryStore()

    def __init__(self) -> None:
        super().__init__()
        self.store = self.make_store()
        self.clock = FixedClock()
        self.core = BookingCore(
            uow_factory=self.store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            notifier=RecordingNotifier(),
        )
        self.steps = 0

    def teardown(self) -> None:
        if isinstance(self.store, SqlStore):
            self.store.dispose()

    @initialize(capacity=st.integers(1, 6))
    def make_slot(self, capacity: int) -> None:
        location = self.core.catalog.add_location("BASE", "Base camp", principal=ADMIN)
        self.slot_id: SlotId = self.core.catalog.create_slot(
            location_id=location.id,
            starts_at=self.clock.now() + timedelta(days=30),
            price_per_traveler=Money("100", "INR"),
            capacity=capacity,
            principal=ADMIN,
        ).id
        self.customers: list[CustomerId] = [
            self.core.customers.register(f"+91981230{i:04d}", principal=ADMIN).customer.id
            for i in range(CUSTOMERS)
        ]

    def _tag(self) -> str:
        self.steps += 1
        return f"S{self.steps}"

    # ------------------------------------------------------------------ rules

    @rule(target=bookings, who=st.integers(0, CUSTOMERS - 1), travelers=st.integers(1, 3))
    def book(self, who: int, travelers: int) -> BookingId | None:
        request = BookingRequest(
            self.slot_id, _travelers(travelers, self._tag()), customer_id=self.customers[who]
        )
        try:
            return self.core.bookings.book(request, principal=ADMIN).id
        except CapacityError:
            return None

    @rule(booking=consumes(bookings))
    def cancel(self, booking: BookingId | None) -> None:
        if booking is None:
            return
        with contextlib.suppress(InvalidTransitionError):  # cancelled already
            self.core.bookings.cancel(booking, principal=ADMIN)

    @rule(
        target=entries,
        who=st.integers(0, CUSTOMERS - 1),
        seats=st.integers(1, 4),
        priority=st.sampled_from(["high", "normal", "low"]),
    )
    def join(self, who: int, seats: int, priority: str) -> WaitlistEntryId | None:
        slot = self.core.catalog.get_slot(self.slot_id, principal=ADMIN)
        assert slot.capacity is not None
        if seats > slot.capacity:
            # A party bigger than the whole slot could never be booked: refused, not stored.
            with pytest.raises(ValidationError) as refused:
                self.core.waitlists.join(
                    self.slot_id, principal=ADMIN, customer_id=self.customers[who], seats=seats
                )
            assert [(e.field, e.code) for e in refused.value.errors] == [
                ("seats", "above_capacity")
            ]
            return None
        try:
            return self.core.waitlists.join(
                self.slot_id,
                principal=ADMIN,
                customer_id=self.customers[who],
                seats=seats,
                priority=priority,
            ).id
        except DuplicateError:
            return None

    @rule(target=bookings, entry=entries, travelers=st.integers(1, 4))
    def accept(self, entry: WaitlistEntryId | None, travelers: int) -> BookingId | None:
        if entry is None:
            return None
        try:
            booking = self.core.waitlists.accept(
                entry, _travelers(travelers, self._tag()), principal=ADMIN
            )
        except (InvalidTransitionError, ValidationError):
            return None
        # An accepted offer books at most the seats it held (travelers may change later).
        offered = self.core.waitlists.get(entry, principal=ADMIN)
        assert booking.total_travelers <= offered.seats
        return booking.id

    @rule(entry=entries)
    def decline(self, entry: WaitlistEntryId | None) -> None:
        if entry is None:
            return
        with contextlib.suppress(InvalidTransitionError):
            self.core.waitlists.decline(entry, principal=ADMIN)

    @rule(entry=entries)
    def remove(self, entry: WaitlistEntryId | None) -> None:
        if entry is None:
            return
        with contextlib.suppress(InvalidTransitionError):
            self.core.waitlists.remove(entry, principal=ADMIN)

    @rule(booking=bookings, grow=st.booleans())
    def change_travelers(self, booking: BookingId | None, grow: bool) -> None:
        if booking is None:
            return
        current = self.core.bookings.get(booking, principal=ADMIN)
        try:
            if grow:
                self.core.bookings.change_travelers(
                    booking, principal=ADMIN, add=[NewTraveler(TravelerDetails(self._tag()))]
                )
            elif current.total_travelers > 1:
                dropped = next(t for t in current.travelers if not t.is_primary)
                self.core.bookings.change_travelers(
                    booking, principal=ADMIN, remove=[dropped.traveler_id]
                )
        except (CapacityError, InvalidTransitionError):
            pass  # no seat left, or the booking was cancelled

    @rule(more=st.integers(1, 3))
    def grow(self, more: int) -> None:
        slot = self.core.catalog.get_slot(self.slot_id, principal=ADMIN)
        assert slot.capacity is not None
        self.core.catalog.change_capacity(self.slot_id, slot.capacity + more, principal=ADMIN)

    @rule(hours=st.sampled_from([1, 12, 25]))
    def time_passes_and_offers_expire(self, hours: int) -> None:
        self.clock.advance(hours=hours)
        self.core.waitlists.expire_offers(principal=SYSTEM)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def seats_held_are_bookings_plus_open_offers(self) -> None:
        if not hasattr(self, "slot_id"):
            return
        slot = self.core.catalog.get_slot(self.slot_id, principal=ADMIN)
        lifecycle = self.core.settings.lifecycle(None)
        booked = sum(
            b.total_travelers
            for b in self.core.bookings.list(principal=ADMIN).items
            if lifecycle.holds_capacity(b.status)
        )
        entries = self.core.waitlists.list_for_slot(
            self.slot_id, principal=ADMIN, active_only=False
        )
        offered = sum(e.seats for e in entries if e.status is WaitlistStatus.OFFERED)
        assert slot.seats_held == booked + offered
        assert slot.capacity is not None
        assert slot.seats_held <= slot.capacity
        now = self.clock.now()
        if not any(
            e.status is WaitlistStatus.OFFERED and not e.offer_is_open(now) for e in entries
        ):
            free = slot.capacity - slot.seats_held
            waiting = [e.seats for e in entries if e.status is WaitlistStatus.WAITING]
            assert all(seats > free for seats in waiting), (free, waiting)
        for entry in entries:
            if entry.status is WaitlistStatus.BOOKED:
                assert entry.booking_id is not None
                booking = self.core.bookings.get(entry.booking_id, principal=ADMIN)
                assert booking.customer_id == entry.customer_id
                assert booking.slot_id == entry.slot_id


class SqliteWaitlistMachine(WaitlistMachine):
    """The same model over a SQLite file."""

    def make_store(self) -> MemoryStore | SqlStore:
        directory = Path(tempfile.mkdtemp(prefix="waitlist-machine-"))
        return sqlite_file_store(directory / "store.db")


# Stateful machines find their bugs through long runs of steps rather than many runs:
# half the profile's examples on memory (100 in CI), a quarter on SQLite.
_STATEFUL = settings(
    max_examples=max(10, settings.default.max_examples // 2), stateful_step_count=25
)
_SQL = settings(
    stateful_step_count=20,
    max_examples=max(5, settings.default.max_examples // 4),
)

TestWaitlistOnMemory = WaitlistMachine.TestCase
TestWaitlistOnMemory.settings = _STATEFUL
TestWaitlistOnSqlite = SqliteWaitlistMachine.TestCase
TestWaitlistOnSqlite.settings = _SQL


@pytest.mark.postgres
def test_the_model_holds_on_postgresql(empty_pg_store: Callable[[], SqlStore]) -> None:
    """The same model over PostgreSQL, each run on the test's schema emptied again."""
    from hypothesis.stateful import run_state_machine_as_test  # noqa: PLC0415

    class PostgresWaitlistMachine(WaitlistMachine):
        def make_store(self) -> MemoryStore | SqlStore:
            return empty_pg_store()

    run_state_machine_as_test(
        PostgresWaitlistMachine,
        settings=settings(
            stateful_step_count=15,
            max_examples=int(os.environ.get("BOOKINGCORE_PG_MACHINE_EXAMPLES", "5")),
            deadline=None,
        ),
    )
