"""Property 1: whatever book/cancel sequence runs, seats held never exceed capacity and
always equal the travelers of the bookings that hold seats."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from uuid import uuid4

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule

from bookingcore import (
    BookingCore,
    BookingFilter,
    BookingRequest,
    CapacityError,
    CustomerDetails,
    InvalidTransitionError,
    Money,
    NewTraveler,
    PageRequest,
    Principal,
    Settings,
    SlotFilter,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import RESERVATION
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore


class BookAndCancel(RuleBasedStateMachine):
    """Interleaved bookings and cancellations from many customers on a few slots."""

    bookings = Bundle("bookings")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FixedClock()
        self.core = BookingCore(
            uow_factory=MemoryStore().unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            settings=Settings(default_region="IN"),
        )
        self.admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
        location = self.core.catalog.add_location("HERE", "Here", principal=self.admin)
        self.location_id = location.id
        self.slot_ids: list = []  # type: ignore[type-arg]
        self.customers = 0
        self.refusals = 0

    @precondition(lambda self: len(self.slot_ids) < 3)
    @rule(capacity=st.one_of(st.none(), st.integers(1, 12)))
    def open_slot(self, capacity: int | None) -> None:
        slot = self.core.catalog.create_slot(
            location_id=self.location_id,
            starts_at=self.clock.now() + timedelta(days=30),
            price_per_traveler=Money("100", "INR"),
            capacity=capacity,
            principal=self.admin,
        )
        self.slot_ids.append(slot.id)

    @precondition(lambda self: self.slot_ids)
    @rule(target=bookings, slot_index=st.integers(0, 2), travelers=st.integers(1, 5))
    def book(self, slot_index: int, travelers: int) -> object:
        self.customers += 1
        slot_id = self.slot_ids[slot_index % len(self.slot_ids)]
        request = BookingRequest(
            slot_id,
            [
                NewTraveler(TravelerDetails(f"Guest {i}"), is_primary=i == 0)
                for i in range(travelers)
            ],
            customer=CustomerDetails(f"+9198{self.customers:08d}"),
        )
        try:
            return self.core.bookings.book(request, principal=self.admin).id
        except CapacityError:
            self.refusals += 1
            return None

    @rule(booking_id=bookings)
    def cancel(self, booking_id: object) -> None:
        if booking_id is None:
            return
        # Cancelled already: the lifecycle refuses, and the seats stay as they are.
        with contextlib.suppress(InvalidTransitionError):
            self.core.bookings.cancel(booking_id, principal=self.admin)  # type: ignore[arg-type]

    @invariant()
    def seats_held_match_active_bookings_and_never_exceed_capacity(self) -> None:
        slots = self.core.catalog.list_slots(SlotFilter(only_active=False), principal=self.admin)
        for slot in slots:
            held_by_bookings = sum(
                booking.total_travelers
                for booking in self.core.bookings.list(
                    BookingFilter(slot_id=slot.id), PageRequest(limit=500), principal=self.admin
                )
                if RESERVATION.holds_capacity(booking.status)
            )
            assert slot.seats_held == held_by_bookings
            assert slot.capacity is None or slot.seats_held <= slot.capacity


TestBookAndCancel = BookAndCancel.TestCase
# A stateful machine finds its bugs through long runs of steps rather than through many
# runs: a quarter of the profile's examples (50 in CI), each of 50 steps.
TestBookAndCancel.settings = settings(
    max_examples=max(10, settings.default.max_examples // 4), stateful_step_count=50
)
