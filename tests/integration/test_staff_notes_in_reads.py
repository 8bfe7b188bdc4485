"""Staff notes stay with staff on every booking read a partner or a customer makes.

A booking's internal notes, and the notes and metadata of status moves someone
else made, never reach a partner or a customer through the service API; staff
and the system keep reading everything. Each test runs on memory, SQLite and
PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bookingcore import (
    BookingChanges,
    BookingCore,
    Money,
    NewTraveler,
    PageRequest,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain.bookings import Booking
from bookingcore.domain.queries import BookingFilter
from bookingcore.services import QuotationRequest
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore.testing.builders import T0, Builder
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
SYSTEM = Principal.system("tests")
SECRET = "owes us a favour"
STAFF_MOVE_NOTE = "confirmed after a rude call"
NOW = T0 + timedelta(days=1)


class _World:
    """A partner's customer with one booking in a group, carrying internal notes."""

    def __init__(self, store: MemoryStore | SqlStore) -> None:
        b = Builder()
        location = b.location()
        self.partner = b.partner(allowed_location_ids=frozenset({location.id}))
        self.customer = b.customer(name="Asha Rao", partner_id=self.partner.id)
        traveler = b.traveler(self.customer.id)
        slot = b.slot(location.id, starts_at=NOW + timedelta(days=10), seats_held=1)
        self.later = b.slot(location.id, starts_at=NOW + timedelta(days=12))
        self.group = b.group(self.customer.id)
        self.booking = b.booking(
            self.customer.id,
            slot,
            [traveler.id],
            partner_id=self.partner.id,
            group_id=self.group.id,
            internal_notes=SECRET,
        )
        with store.unit_of_work() as uow:
            uow.partners.add(self.partner)
            uow.locations.add(location)
            uow.customers.add(self.customer)
            uow.travelers.add(traveler)
            uow.slots.add(slot)
            uow.slots.add(self.later)
            uow.groups.add(self.group)
            uow.bookings.add(self.booking)
            uow.commit()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=FixedClock(NOW),
            ids=SequentialIds(),
            notifier=RecordingNotifier(),
        )

    @property
    def readers(self) -> dict[str, Principal]:
        return {
            "partner": Principal.partner(self.partner.id),
            "customer": Principal.customer(self.customer.id),
        }


def _no_secret(bookings: object) -> None:
    assert SECRET not in repr(bookings)


@pytest.mark.parametrize("reader", ["partner", "customer"])
def test_reading_bookings_never_gives_a_partner_or_customer_the_internal_notes(
    any_store: MemoryStore | SqlStore, reader: str
) -> None:
    world = _World(any_store)
    core, who, booking = world.core, world.readers[reader], world.booking

    got = core.bookings.get(booking.id, principal=who)
    by_reference = core.bookings.get_by_reference(booking.reference, principal=who)
    listed = core.bookings.list(principal=who)
    searched = core.bookings.list(BookingFilter(text=booking.reference), principal=who)
    in_group = core.groups.bookings(world.group.id, PageRequest(), principal=who)
    reminders = core.communications.due_reminders(principal=who, within=timedelta(days=30))
    exported = list(core.exports.booking_rows(principal=who))

    for found in (
        got,
        by_reference,
        *listed.items,
        *searched.items,
        *in_group.items,
        *reminders,
    ):
        assert found.id == booking.id
        assert found.internal_notes is None
    _no_secret((got, by_reference, listed, searched, in_group, reminders, exported))
    assert len(exported) == 2  # the header and the booking
    assert [b.id for b in listed.items] == [booking.id]
    assert [b.id for b in in_group.items] == [booking.id]
    # The stored booking keeps its notes: staff and the system still read them.
    for staff in (ADMIN, SYSTEM):
        assert core.bookings.get(booking.id, principal=staff).internal_notes == SECRET
        assert core.bookings.list(principal=staff).items[0].internal_notes == SECRET
        assert core.groups.bookings(world.group.id, principal=staff).items[0].internal_notes == (
            SECRET
        )


@pytest.mark.parametrize("reader", ["partner", "customer"])
def test_changing_a_booking_answers_a_partner_or_customer_without_the_internal_notes(
    any_store: MemoryStore | SqlStore, reader: str
) -> None:
    world = _World(any_store)
    core, who, booking = world.core, world.readers[reader], world.booking

    updated = core.bookings.update(
        booking.id, BookingChanges(referral_source="newsletter"), principal=who
    )
    moved = core.bookings.reschedule(booking.id, world.later.id, principal=who).booking
    cancelled = core.bookings.cancel(booking.id, principal=who, reason="plans changed")

    for answer in (updated, moved, cancelled):
        assert isinstance(answer, Booking)
        assert answer.internal_notes is None
    _no_secret((updated, moved, cancelled))
    assert core.bookings.get(booking.id, principal=ADMIN).internal_notes == SECRET


def test_a_transition_by_a_partner_answers_without_the_internal_notes(
    any_store: MemoryStore | SqlStore,
) -> None:
    world = _World(any_store)
    partner = world.readers["partner"]

    moved = world.core.bookings.transition(
        world.booking.id, "cancelled", principal=partner, note="client asked"
    )

    assert moved.booking.internal_notes is None
    assert moved.event.note == "client asked"  # its own move's note
    staff_moved = world.core.bookings.get(world.booking.id, principal=ADMIN)
    assert staff_moved.internal_notes == SECRET


def test_a_group_cancelled_by_its_organiser_comes_back_without_the_internal_notes(
    any_store: MemoryStore | SqlStore,
) -> None:
    world = _World(any_store)

    cancelled = world.core.groups.cancel(world.group.id, principal=world.readers["customer"])

    assert [b.id for b in cancelled] == [world.booking.id]
    assert cancelled[0].internal_notes is None


def test_the_status_history_shows_a_partner_or_customer_only_the_notes_of_their_own_moves(
    any_store: MemoryStore | SqlStore,
) -> None:
    world = _World(any_store)
    core, booking = world.core, world.booking
    partner, customer = world.readers["partner"], world.readers["customer"]
    core.bookings.transition(
        booking.id,
        "confirmed",
        principal=ADMIN,
        note=STAFF_MOVE_NOTE,
        metadata={"desk": "difficult customer"},
    )
    core.bookings.cancel(booking.id, principal=customer, reason="plans changed")

    as_customer = core.bookings.history(booking.id, principal=customer)
    as_partner = core.bookings.history(booking.id, principal=partner)
    as_staff = core.bookings.history(booking.id, principal=ADMIN)
    as_system = core.bookings.history(booking.id, principal=SYSTEM)

    moves = [(e.from_status, e.to_status) for e in as_staff]
    assert moves == [("pending", "confirmed"), ("confirmed", "cancelled")]
    for events in (as_customer, as_partner, as_system):
        # Everyone sees every move, who made it and when.
        assert [(e.from_status, e.to_status) for e in events] == moves
        assert [e.actor for e in events] == [e.actor for e in as_staff]
        assert [e.occurred_at for e in events] == [e.occurred_at for e in as_staff]
    for events in (as_customer, as_partner):
        staff_move = events[0]
        assert staff_move.note is None
        assert dict(staff_move.metadata) == {}
        assert STAFF_MOVE_NOTE not in repr(events)
        assert "difficult customer" not in repr(events)
    assert as_customer[1].note == "plans changed"  # the customer's own move
    assert as_partner[1].note is None  # someone else's move
    for events in (as_staff, as_system):
        assert [e.note for e in events] == [STAFF_MOVE_NOTE, "plans changed"]
        assert dict(events[0].metadata) == {"desk": "difficult customer"}


def test_a_customer_approving_a_quotation_gets_the_booking_without_its_internal_notes(
    any_store: MemoryStore | SqlStore,
) -> None:
    clock = FixedClock(NOW)
    core = BookingCore(
        uow_factory=any_store.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        notifier=RecordingNotifier(),
    )
    location = core.catalog.add_location("LEH", "Leh", principal=ADMIN)
    slot = core.catalog.create_slot(
        location_id=location.id,
        starts_at=NOW + timedelta(days=20),
        price_per_traveler=Money("10000", "INR"),
        capacity=10,
        principal=ADMIN,
    )
    customer = core.customers.register("+919876543210", principal=ADMIN).customer
    quotation = core.quotations.create(
        QuotationRequest(
            customer_id=customer.id,
            slot_id=slot.id,
            travelers=1,
            valid_until=NOW.date() + timedelta(days=5),
        ),
        principal=ADMIN,
    )
    core.quotations.send(quotation.id, principal=ADMIN)
    party = [NewTraveler(TravelerDetails("Asha Rao"), is_primary=True)]

    booking = core.quotations.approve(
        quotation.id, party, principal=Principal.customer(customer.id)
    )

    assert booking.internal_notes is None
    stored = core.bookings.get(booking.id, principal=ADMIN)
    assert stored.internal_notes is not None
    assert quotation.reference in stored.internal_notes
