"""Staff notes are written by staff: no booking path lets a partner or a customer write them.

``BookingService.update`` refuses ``internal_notes`` to a partner or a customer;
booking (``book``, ``book_claimed``, ``waitlists.accept``, joining a group)
refuses them the same way, with the same error, and stores nothing. Staff who
book still write them. Each test runs on memory, SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bookingcore import (
    BookingChanges,
    BookingCore,
    BookingRequest,
    NewTraveler,
    PermissionDeniedError,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import WaitlistStatus
from bookingcore.domain.bookings import Booking
from bookingcore.domain.slots import Slot
from bookingcore.services import Transaction
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore.testing.builders import T0, Builder
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
DESK = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.STAFF)
NOTE = "owes us a favour"
NOW = T0 + timedelta(days=1)


class _Shop:
    """A partner's customer, a slot the partner may sell, and the customer's group."""

    def __init__(self, store: MemoryStore | SqlStore) -> None:
        b = Builder()
        location = b.location()
        self.partner = b.partner(allowed_location_ids=frozenset({location.id}))
        self.customer = b.customer(name="Asha Rao", partner_id=self.partner.id)
        self.slot = b.slot(location.id, starts_at=NOW + timedelta(days=10), capacity=4)
        self.group = b.group(self.customer.id)
        with store.unit_of_work() as uow:
            uow.partners.add(self.partner)
            uow.locations.add(location)
            uow.customers.add(self.customer)
            uow.slots.add(self.slot)
            uow.groups.add(self.group)
            uow.commit()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=FixedClock(NOW),
            ids=SequentialIds(),
            notifier=RecordingNotifier(),
        )

    def principal(self, kind: str) -> Principal:
        if kind == "partner":
            return Principal.partner(self.partner.id)
        return Principal.customer(self.customer.id)

    def request(self, **fields: object) -> BookingRequest:
        return BookingRequest(
            self.slot.id,
            [NewTraveler(TravelerDetails("Asha Rao"), is_primary=True)],
            customer_id=self.customer.id,
            **fields,  # type: ignore[arg-type]
        )

    def update_refusal(self, who: Principal) -> str:
        """What ``update`` says when ``who`` writes internal notes on a booking of theirs."""
        booking = self.core.bookings.book(self.request(), principal=who)
        with pytest.raises(PermissionDeniedError) as refused:
            self.core.bookings.update(
                booking.id, BookingChanges(internal_notes=NOTE), principal=who
            )
        self.core.bookings.cancel(booking.id, principal=ADMIN)
        return str(refused.value)

    def stored_notes(self) -> list[str | None]:
        return [b.internal_notes for b in self.core.bookings.list(principal=ADMIN).items]

    def seats_held(self) -> int:
        return self.core.catalog.get_slot(self.slot.id, principal=ADMIN).seats_held


class _NoClaim:
    """A seat claim that holds nothing (book_claimed's extra steps do nothing)."""

    def release(self, tx: Transaction, slot: Slot, seats: int) -> None:
        """Nothing to give back."""

    def settle(self, tx: Transaction, slot: Slot, booking: Booking) -> None:
        """Nothing to record."""


@pytest.mark.parametrize("kind", ["partner", "customer"])
@pytest.mark.parametrize("path", ["book", "book_claimed", "group"])
def test_a_partner_or_customer_booking_with_internal_notes_is_refused_as_update_refuses_it(
    any_store: MemoryStore | SqlStore, kind: str, path: str
) -> None:
    shop = _Shop(any_store)
    who = shop.principal(kind)
    said_by_update = shop.update_refusal(who)
    before = shop.stored_notes()

    bookings = shop.core.bookings
    attempts = {
        "book": lambda: bookings.book(shop.request(internal_notes=NOTE), principal=who),
        "book_claimed": lambda: bookings.book_claimed(
            shop.request(internal_notes=NOTE), _NoClaim(), principal=who
        ),
        "group": lambda: bookings.book(
            shop.request(internal_notes=NOTE, group_id=shop.group.id), principal=who
        ),
    }

    with pytest.raises(PermissionDeniedError) as refused:
        attempts[path]()

    assert str(refused.value) == said_by_update
    assert "internal_notes" in str(refused.value)
    assert shop.stored_notes() == before
    assert shop.seats_held() == 0
    # Without the notes the same booking goes through.
    booked = shop.core.bookings.book(shop.request(), principal=who)
    assert booked.internal_notes is None


@pytest.mark.parametrize("kind", ["partner", "customer"])
def test_accepting_a_waiting_list_offer_with_internal_notes_is_refused_to_a_partner_or_customer(
    any_store: MemoryStore | SqlStore, kind: str
) -> None:
    shop = _Shop(any_store)
    who = shop.principal(kind)
    said_by_update = shop.update_refusal(who)
    entry = shop.core.waitlists.join(shop.slot.id, principal=ADMIN, customer_id=shop.customer.id)
    assert entry.status is WaitlistStatus.OFFERED
    party = [NewTraveler(TravelerDetails("Asha Rao"), is_primary=True)]
    before = shop.stored_notes()

    with pytest.raises(PermissionDeniedError) as refused:
        shop.core.waitlists.accept(entry.id, party, principal=who, internal_notes=NOTE)

    assert str(refused.value) == said_by_update
    assert shop.stored_notes() == before
    # The offer stands, its seat still held for the customer.
    assert shop.core.waitlists.get(entry.id, principal=ADMIN).status is WaitlistStatus.OFFERED
    assert shop.seats_held() == 1
    booked = shop.core.waitlists.accept(entry.id, party, principal=who)
    assert booked.internal_notes is None


@pytest.mark.parametrize("staff", [ADMIN, DESK], ids=["admin", "staff"])
def test_staff_still_write_internal_notes_when_they_book(
    any_store: MemoryStore | SqlStore, staff: Principal
) -> None:
    shop = _Shop(any_store)

    booked = shop.core.bookings.book(
        shop.request(internal_notes=NOTE, group_id=shop.group.id), principal=staff
    )
    claimed = shop.core.bookings.book_claimed(
        BookingRequest(
            shop.slot.id,
            [NewTraveler(TravelerDetails("Ravi Rao"), is_primary=True)],
            customer_id=shop.customer.id,
            internal_notes=NOTE,
        ),
        _NoClaim(),
        principal=staff,
    )
    other = shop.core.customers.register("+919812300777", principal=ADMIN).customer
    entry = shop.core.waitlists.join(shop.slot.id, principal=ADMIN, customer_id=other.id)
    accepted = shop.core.waitlists.accept(
        entry.id,
        [NewTraveler(TravelerDetails("Mira Das"), is_primary=True)],
        principal=staff,
        internal_notes=NOTE,
    )

    for booking in (booked, claimed, accepted):
        assert booking.internal_notes == NOTE
        assert shop.core.bookings.get(booking.id, principal=ADMIN).internal_notes == NOTE
