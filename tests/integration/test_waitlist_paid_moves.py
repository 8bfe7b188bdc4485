"""A payment that moves a booking into a seat-holding state ends the customer's waiting-list
entry on the slot, as booking directly does, on every store."""

from __future__ import annotations

from datetime import timedelta

from bookingcore import (
    BookingCore,
    BookingRequest,
    Lifecycle,
    Money,
    NewTraveler,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import PRESETS, Booking, WaitlistStatus
from bookingcore.domain.values import CustomerId, WaitlistEntryId
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.payments import ManualProvider
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)

#: A request confirmed by its payment: only the paid state takes seats.
REQUESTS = Lifecycle(
    name="requests",
    states=("requested", "confirmed", "done", "cancelled"),
    initial="requested",
    transitions={"requested": {"confirmed", "cancelled"}, "confirmed": {"done", "cancelled"}},
    terminal={"done", "cancelled"},
    holding={"confirmed", "done"},
    cancelled="cancelled",
)


class World:
    """A core whose bookings follow ``requests``, and one slot of ``capacity`` seats."""

    def __init__(self, store: MemoryStore | SqlStore, capacity: int) -> None:
        self.clock = FixedClock()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            settings=Settings(
                default_region="IN",
                lifecycles={**PRESETS, "requests": REQUESTS},
                default_lifecycle="requests",
                waitlist_offer_ttl=timedelta(hours=24),
            ),
            payment_providers=[ManualProvider()],
        )
        camp = self.core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
        self.slot = self.core.catalog.create_slot(
            location_id=camp.id,
            starts_at=self.clock.now() + timedelta(days=10),
            price_per_traveler=Money("1000", "INR"),
            capacity=capacity,
            principal=ADMIN,
        )
        self._n = 0

    def customer(self) -> CustomerId:
        self._n += 1
        phone = f"+91981230{self._n:04d}"
        return self.core.customers.register(phone, principal=ADMIN, name="Asha Rao").customer.id

    def book(self, customer_id: CustomerId) -> Booking:
        request = BookingRequest(
            self.slot.id,
            [NewTraveler(TravelerDetails(f"Traveler {self._n}"), is_primary=True)],
            customer_id=customer_id,
        )
        return self.core.bookings.book(request, principal=ADMIN)

    def pay(self, booking: Booking) -> str:
        self.core.payments.record_manual_payment(
            booking.id, Money("1000", "INR"), principal=ADMIN, reference=f"CASH-{booking.id}"
        )
        return self.core.bookings.get(booking.id, principal=ADMIN).status

    def join(self, customer_id: CustomerId, seats: int = 1) -> WaitlistEntryId:
        entry = self.core.waitlists.join(
            self.slot.id, principal=ADMIN, customer_id=customer_id, seats=seats
        )
        return entry.id

    def entry_status(self, entry_id: WaitlistEntryId) -> WaitlistStatus:
        return self.core.waitlists.get(entry_id, principal=ADMIN).status

    def seats_held(self) -> int:
        return self.core.catalog.get_slot(self.slot.id, principal=ADMIN).seats_held


def test_a_payment_taking_seats_ends_the_customer_s_waiting_entry(
    any_store: MemoryStore | SqlStore,
) -> None:
    """The customer waits for two seats, one is free; their request for one is paid and
    takes it. Their entry used to stay ``waiting``, to be offered seats they had."""
    world = World(any_store, capacity=2)
    world.pay(world.book(world.customer()))  # one seat held
    asha = world.customer()
    request = world.book(asha)  # requested: no seat yet
    entry = world.join(asha, seats=2)
    assert world.entry_status(entry) is WaitlistStatus.WAITING
    assert world.pay(request) == "confirmed"
    assert world.entry_status(entry) is WaitlistStatus.CANCELLED
    assert world.seats_held() == 2


def test_a_payment_takes_the_seat_an_offer_holds_for_the_customer(
    any_store: MemoryStore | SqlStore,
) -> None:
    """The slot's one seat is held by the customer's own offer; their paid request used
    to find the slot full and stay ``requested``, the offer holding the seat."""
    world = World(any_store, capacity=1)
    first = world.book(world.customer())
    world.pay(first)  # the only seat
    asha = world.customer()
    request = world.book(asha)
    entry = world.join(asha)
    world.core.bookings.cancel(first.id, principal=ADMIN)  # the seat goes to Asha's offer
    assert world.entry_status(entry) is WaitlistStatus.OFFERED
    assert world.seats_held() == 1
    assert world.pay(request) == "confirmed"
    assert world.entry_status(entry) is WaitlistStatus.CANCELLED
    assert world.seats_held() == 1
