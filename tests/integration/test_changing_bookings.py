"""Changing a booking: reschedule, travelers, advisor notes and (re-)assignment, on every store."""

from __future__ import annotations

import itertools
from datetime import timedelta
from uuid import uuid4

import pytest
from tests._threads import at_once

from bookingcore import (
    BookingChanges,
    BookingCore,
    BookingId,
    BookingRequest,
    CapacityError,
    DuplicateError,
    InvalidTransitionError,
    Money,
    NewTraveler,
    NotFoundError,
    PartnerId,
    PermissionDeniedError,
    Principal,
    SavedTraveler,
    StaffId,
    StaffRole,
    StaleVersionError,
    TravelerDetails,
    TravelerId,
    ValidationError,
)
from bookingcore.domain import Booking, BookingRescheduled, ItineraryDay, Slot, WaitlistStatus
from bookingcore.domain.audit import AuditAction
from bookingcore.domain.values import CustomerId
from bookingcore.services import BookedItem
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore.testing.builders import Builder
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)


class Desk:
    """A core with two locations and slots on them, and a customer."""

    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.clock = FixedClock()
        self.core = BookingCore(
            uow_factory=store.unit_of_work, clock=self.clock, ids=SequentialIds()
        )
        self.events: list[BookingRescheduled] = []
        self.core.events.subscribe(
            BookingRescheduled, lambda e, _: self.events.append(e), name="test.rescheduled"
        )
        self._n = itertools.count()
        self.base = self.core.catalog.add_location("BASE", "Base camp", principal=ADMIN)
        self.reef = self.core.catalog.add_location("REEF", "Reef centre", principal=ADMIN)
        self.customer: CustomerId = self.core.customers.register(
            "+919812300001", principal=ADMIN, name="Asha Rao"
        ).customer.id

    def slot(self, *, days: int = 10, price: str = "1000", capacity: int = 4, **kw: object) -> Slot:
        return self.core.catalog.create_slot(
            location_id=kw.pop("location_id", self.base.id),  # type: ignore[arg-type]
            starts_at=self.clock.now() + timedelta(days=days),
            price_per_traveler=Money(price, kw.pop("currency", "INR")),  # type: ignore[arg-type]
            capacity=capacity,
            principal=ADMIN,
            **kw,  # type: ignore[arg-type]
        )

    def book(self, slot: Slot, travelers: int, customer: CustomerId | None = None):  # type: ignore[no-untyped-def]
        return self.core.bookings.book(
            BookingRequest(
                slot.id,
                [
                    NewTraveler(TravelerDetails(f"Traveler {next(self._n)}"), is_primary=i == 0)
                    for i in range(travelers)
                ],
                customer_id=customer or self.customer,
            ),
            principal=ADMIN,
        )

    def held(self, slot: Slot) -> int:
        return self.core.catalog.get_slot(slot.id, principal=ADMIN).seats_held


@pytest.fixture
def desk(any_store: MemoryStore | SqlStore) -> Desk:
    return Desk(any_store)


class TestReschedule:
    def test_seats_move_prices_follow_and_the_change_is_recorded(self, desk: Desk) -> None:
        old, new = desk.slot(days=10), desk.slot(days=12, price="1200")
        booking = desk.book(old, 2)
        moved = desk.core.bookings.reschedule(
            booking.id, new.id, principal=ADMIN, reason="rain forecast"
        )
        assert moved.from_slot_id == old.id
        assert moved.price_difference == Money("400", "INR")
        assert (moved.booking.slot_id, moved.booking.starts_at) == (new.id, new.starts_at)
        assert moved.booking.total == Money("2400", "INR")
        assert (desk.held(old), desk.held(new)) == (0, 2)
        stored = desk.core.bookings.get(booking.id, principal=ADMIN)
        assert stored.slot_id == new.id
        trail = desk.core.bookings.audit_trail(booking.id, principal=ADMIN)
        assert trail[-1].reason == "rain forecast"
        assert trail[-1].new_values["slot_id"] == str(new.id)
        assert [(e.from_slot_id, e.to_slot_id, e.price_difference) for e in desk.events] == [
            (old.id, new.id, "400.00")
        ]

    def test_the_freed_seats_go_to_the_old_slots_waiting_list(self, desk: Desk) -> None:
        old, new = desk.slot(capacity=2), desk.slot(days=11)
        booking = desk.book(old, 2)
        other = desk.core.customers.register("+919812300002", principal=ADMIN).customer.id
        entry = desk.core.waitlists.join(old.id, principal=ADMIN, customer_id=other, seats=2)
        desk.core.bookings.reschedule(booking.id, new.id, principal=ADMIN)
        assert desk.core.waitlists.get(entry.id, principal=ADMIN).status is WaitlistStatus.OFFERED
        assert desk.held(old) == 2

    def test_refusals_change_nothing(self, desk: Desk) -> None:
        old, full = desk.slot(), desk.slot(days=11, capacity=1)
        booking = desk.book(old, 2)
        with pytest.raises(CapacityError):
            desk.core.bookings.reschedule(booking.id, full.id, principal=ADMIN)
        with pytest.raises(ValidationError) as same:
            desk.core.bookings.reschedule(booking.id, old.id, principal=ADMIN)
        assert same.value.errors[0].code == "same_slot"
        dollars = desk.slot(days=13, currency="USD", price="12")
        with pytest.raises(ValidationError):
            desk.core.bookings.reschedule(booking.id, dollars.id, principal=ADMIN)
        past = desk.slot(days=1)
        desk.clock.advance(days=2)
        with pytest.raises(ValidationError):
            desk.core.bookings.reschedule(booking.id, past.id, principal=ADMIN)
        assert (desk.held(old), desk.held(full)) == (2, 0)
        assert desk.core.bookings.get(booking.id, principal=ADMIN).slot_id == old.id

    def test_line_items_keep_counting_in_the_total_after_a_reschedule(self, desk: Desk) -> None:
        old, new = desk.slot(days=10), desk.slot(days=12, price="1200")
        hotel = BookedItem(
            kind="hotel", description="Night", quantity=1, unit_price=Money("500", "INR")
        )
        booking = desk.core.bookings.book(
            BookingRequest(
                old.id,
                [NewTraveler(TravelerDetails("Item Guest"), is_primary=True)],
                customer_id=desk.customer,
                items=[hotel],
            ),
            principal=ADMIN,
        )
        assert booking.total == Money("1500", "INR")
        moved = desk.core.bookings.reschedule(booking.id, new.id, principal=ADMIN)
        assert moved.price_difference == Money("200", "INR")
        assert moved.booking.total == Money("1700", "INR")
        stored = desk.core.bookings.get(booking.id, principal=ADMIN)
        assert (stored.total, stored.items_sum) == (Money("1700", "INR"), Money("500", "INR"))

    def _book_with_items(self, desk: Desk, slot: Slot, *items: BookedItem) -> Booking:
        return desk.core.bookings.book(
            BookingRequest(
                slot.id,
                [NewTraveler(TravelerDetails(f"Guest {next(desk._n)}"), is_primary=True)],
                customer_id=desk.customer,
                items=items,
            ),
            principal=ADMIN,
        )

    def test_dated_items_move_with_the_departure_and_confirmed_ones_are_flagged(
        self, desk: Desk
    ) -> None:
        old, new = desk.slot(days=10), desk.slot(days=12)
        start = old.starts_at.date()
        day = timedelta(days=1)
        price = Money("500", "INR")
        booking = self._book_with_items(
            desk,
            old,
            BookedItem(
                kind="hotel",
                description="Lodge",
                quantity=1,
                unit_price=price,
                service_starts_on=start - day,
                service_ends_on=start,
            ),
            BookedItem(
                kind="transfer",
                description="Pick-up",
                quantity=1,
                unit_price=price,
                service_starts_on=start - day,
            ),
            BookedItem(
                kind="flight",
                description="Flight home",
                quantity=1,
                unit_price=price,
                service_starts_on=start + 5 * day,
            ),
            BookedItem(
                kind="other",
                description="Insurance",
                quantity=1,
                unit_price=price,
            ),
        )
        lodge, pickup, flight, insurance = desk.core.items.for_booking(booking.id, principal=ADMIN)
        desk.core.items.confirm(flight.id, principal=ADMIN, supplier_reference="PNR42")
        desk.core.items.reject(pickup.id, "fully booked", principal=ADMIN)

        moved = desk.core.bookings.reschedule(booking.id, new.id, principal=ADMIN, reason="rain")

        after = {i.id: i for i in desk.core.items.for_booking(booking.id, principal=ADMIN)}
        shift = new.starts_at.date() - start
        assert (after[lodge.id].service_starts_on, after[lodge.id].service_ends_on) == (
            start - day + shift,
            start + shift,
        )
        assert after[pickup.id].service_starts_on == start - day + shift
        # The supplier confirmed the flight for its date: it stays, and staff are told.
        assert after[flight.id].service_starts_on == start + 5 * day
        assert after[insurance.id].service_starts_on is None
        assert [i.id for i in moved.items_to_reconfirm] == [flight.id]
        trail = desk.core.audit.trail("booking item", lodge.id, principal=ADMIN)
        assert trail[-1].new_values == {
            "service_starts_on": (start - day + shift).isoformat(),
            "service_ends_on": (start + shift).isoformat(),
        }
        assert trail[-1].reason == "rain"
        notes = desk.core.bookings.notes(booking.id, principal=ADMIN)
        assert len(notes) == 1
        assert "Flight home" in notes[0].text
        assert "PNR42" in notes[0].text

    def test_a_move_within_the_same_day_leaves_item_dates_alone(self, desk: Desk) -> None:
        old = desk.slot(days=10)
        new = desk.core.catalog.create_slot(
            location_id=desk.reef.id,
            starts_at=old.starts_at + timedelta(hours=3),
            price_per_traveler=Money("1000", "INR"),
            capacity=4,
            principal=ADMIN,
        )
        start = old.starts_at.date()
        booking = self._book_with_items(
            desk,
            old,
            BookedItem(
                kind="hotel",
                description="Lodge",
                quantity=1,
                unit_price=Money("500", "INR"),
                service_starts_on=start,
            ),
        )
        moved = desk.core.bookings.reschedule(booking.id, new.id, principal=ADMIN)
        (item,) = desk.core.items.for_booking(booking.id, principal=ADMIN)
        assert item.service_starts_on == start
        assert moved.items_to_reconfirm == ()
        assert desk.core.bookings.notes(booking.id, principal=ADMIN) == []

    def test_an_unedited_itinerary_is_planned_again_and_an_edited_one_is_flagged(
        self, desk: Desk
    ) -> None:
        old, new = desk.slot(days=10), desk.slot(days=12)
        start = old.starts_at.date()
        hotel = BookedItem(
            kind="hotel",
            description="Lodge",
            quantity=1,
            unit_price=Money("500", "INR"),
            service_starts_on=start,
            service_ends_on=start + timedelta(days=2),
        )
        plain, edited = (
            self._book_with_items(desk, old, hotel),
            self._book_with_items(desk, old, hotel),
        )
        desk.core.itineraries.generate(plain.id, principal=ADMIN)
        desk.core.itineraries.generate(edited.id, principal=ADMIN)
        desk.core.itineraries.set_day(
            edited.id,
            ItineraryDay(day=start, title="Arrival", entries=("Briefing at 6pm",)),
            principal=ADMIN,
        )
        before = desk.core.itineraries.get(edited.id, principal=ADMIN)

        desk.core.bookings.reschedule(plain.id, new.id, principal=ADMIN)
        desk.core.bookings.reschedule(edited.id, new.id, principal=ADMIN)

        replanned = desk.core.itineraries.get(plain.id, principal=ADMIN)
        shift = new.starts_at.date() - start
        assert [d.day for d in replanned.days] == [
            start + shift + timedelta(days=n) for n in range(3)
        ]
        assert desk.core.bookings.notes(plain.id, principal=ADMIN) == []
        kept = desk.core.itineraries.get(edited.id, principal=ADMIN)
        assert kept.days == before.days
        (note,) = desk.core.bookings.notes(edited.id, principal=ADMIN)
        assert "itinerary" in note.text

    def test_a_booking_moved_after_its_reminder_is_reminded_before_the_new_date(
        self, desk: Desk
    ) -> None:
        soon, later = desk.slot(days=1), desk.slot(days=5)
        booking = desk.book(soon, 1)
        desk.clock.advance(hours=1)
        first = desk.core.communications.send_due_reminders(principal=ADMIN)
        assert [m.booking_id for m in first] == [booking.id]
        desk.core.bookings.reschedule(booking.id, later.id, principal=ADMIN)
        assert desk.core.communications.due_reminders(principal=ADMIN) == []
        desk.clock.advance(days=4)
        again = desk.core.communications.send_due_reminders(principal=ADMIN)
        assert [m.booking_id for m in again] == [booking.id]
        assert again[0].dedupe_key != first[0].dedupe_key
        assert desk.core.communications.send_due_reminders(principal=ADMIN) == []

    def test_a_product_no_longer_sold_is_not_rescheduled_to(self, desk: Desk) -> None:
        trek = desk.core.catalog.add_product("TREK", "Trek", "trek", principal=ADMIN)
        old, retired = desk.slot(), desk.slot(days=11, product_id=trek.id)
        booking = desk.book(old, 1)
        desk.core.catalog.set_product_active(trek.id, False, principal=ADMIN)
        with pytest.raises(ValidationError) as refused:
            desk.core.bookings.reschedule(booking.id, retired.id, principal=ADMIN)
        assert [(e.field, e.code) for e in refused.value.errors] == [("slot_id", "inactive")]
        assert (desk.held(old), desk.held(retired)) == (1, 0)
        assert desk.core.bookings.get(booking.id, principal=ADMIN).slot_id == old.id

    def test_a_cancelled_booking_is_not_rescheduled(self, desk: Desk) -> None:
        old, new = desk.slot(), desk.slot(days=11)
        booking = desk.book(old, 1)
        desk.core.bookings.cancel(booking.id, principal=ADMIN)
        with pytest.raises(InvalidTransitionError):
            desk.core.bookings.reschedule(booking.id, new.id, principal=ADMIN)

    def test_the_same_travelers_cannot_hold_the_new_slot_twice(self, desk: Desk) -> None:
        old, new = desk.slot(), desk.slot(days=11)
        first = desk.book(old, 1)
        saved = first.travelers[0].traveler_id
        desk.core.bookings.book(
            BookingRequest(
                new.id, [SavedTraveler(saved, is_primary=True)], customer_id=desk.customer
            ),
            principal=ADMIN,
        )
        with pytest.raises(DuplicateError):
            desk.core.bookings.reschedule(first.id, new.id, principal=ADMIN)

    def test_a_partner_is_not_told_which_booking_of_another_channel_holds_the_slot(
        self, desk: Desk
    ) -> None:
        """As when booking: the duplicate is reported without naming a booking it may not see."""
        registration = desk.core.partners.register(
            name="Agency",
            company_name="Agency Ltd",
            contact_email="ops@agency.example",
            allowed_location_ids=[desk.base.id],
            principal=ADMIN,
        )
        partner = Principal.partner(PartnerId(registration.partner.id))
        theirs = desk.core.customers.register("+919800000001", principal=partner).customer.id
        old, new = desk.slot(), desk.slot(days=11)
        at_the_desk = desk.book(new, 1, theirs)
        saved = at_the_desk.travelers[0].traveler_id
        mine = desk.core.bookings.book(
            BookingRequest(old.id, [SavedTraveler(saved, is_primary=True)], customer_id=theirs),
            principal=partner,
        )
        with pytest.raises(DuplicateError) as duplicate:
            desk.core.bookings.reschedule(mine.id, new.id, principal=partner)
        assert duplicate.value.existing_id is None
        assert at_the_desk.reference not in str(duplicate.value)
        assert desk.core.bookings.get(mine.id, principal=ADMIN).slot_id == old.id

    def test_a_customer_reschedules_their_own_booking_only(self, desk: Desk) -> None:
        old, new = desk.slot(), desk.slot(days=11)
        booking = desk.book(old, 1)
        other = desk.core.customers.register("+919812300002", principal=ADMIN).customer.id
        with pytest.raises(NotFoundError):
            desk.core.bookings.reschedule(booking.id, new.id, principal=Principal.customer(other))
        moved = desk.core.bookings.reschedule(
            booking.id, new.id, principal=Principal.customer(desk.customer)
        )
        assert moved.booking.slot_id == new.id


class TestTravelers:
    def test_add_remove_and_replace_with_capacity_primary_and_prices(self, desk: Desk) -> None:
        slot = desk.slot(capacity=4)
        booking = desk.book(slot, 2)
        first, second = (t.traveler_id for t in booking.travelers)
        grown = desk.core.bookings.change_travelers(
            booking.id,
            principal=ADMIN,
            add=[NewTraveler(TravelerDetails("Newcomer"))],
        )
        assert grown.total_travelers == 3
        assert grown.total == Money("3000", "INR")
        assert grown.primary_traveler.traveler_id == first
        assert desk.held(slot) == 3
        with pytest.raises(CapacityError):
            desk.core.bookings.change_travelers(
                booking.id,
                principal=ADMIN,
                add=[NewTraveler(TravelerDetails(f"Extra {i}")) for i in range(2)],
            )
        replaced = desk.core.bookings.change_travelers(
            booking.id,
            principal=ADMIN,
            remove=[first],
            add=[NewTraveler(TravelerDetails("Stand in"), is_primary=True)],
        )
        assert first not in replaced.traveler_ids
        assert replaced.primary_traveler.traveler_id not in {first, second}
        assert desk.held(slot) == 3
        shrunk = desk.core.bookings.change_travelers(
            booking.id, principal=ADMIN, remove=[second], primary=replaced.travelers[-1].traveler_id
        )
        assert shrunk.total_travelers == 2
        assert desk.held(slot) == 2
        trail = desk.core.bookings.audit_trail(booking.id, principal=ADMIN)
        assert trail[-1].action is AuditAction.UPDATED
        assert "travelers" in trail[-1].new_values

    def test_line_items_keep_counting_in_the_total_when_travelers_change(self, desk: Desk) -> None:
        slot = desk.slot(capacity=4)
        hotel = BookedItem(
            kind="hotel", description="Night", quantity=1, unit_price=Money("500", "INR")
        )
        booking = desk.core.bookings.book(
            BookingRequest(
                slot.id,
                [NewTraveler(TravelerDetails("Item Guest"), is_primary=True)],
                customer_id=desk.customer,
                items=[hotel],
            ),
            principal=ADMIN,
        )
        grown = desk.core.bookings.change_travelers(
            booking.id, principal=ADMIN, add=[NewTraveler(TravelerDetails("Newcomer"))]
        )
        assert grown.total == Money("2500", "INR")
        stored = desk.core.bookings.get(booking.id, principal=ADMIN)
        assert (stored.total, stored.items_sum) == (Money("2500", "INR"), Money("500", "INR"))

    def test_the_rules_are_checked_again(self, desk: Desk) -> None:
        slot = desk.slot()
        booking = desk.book(slot, 1)
        only = booking.travelers[0].traveler_id
        with pytest.raises(ValidationError):
            desk.core.bookings.change_travelers(booking.id, principal=ADMIN, remove=[only])
        stranger = TravelerId(desk.customer)  # an id that is no traveler of this booking
        with pytest.raises(ValidationError) as not_theirs:
            desk.core.bookings.change_travelers(booking.id, principal=ADMIN, primary=stranger)
        assert not_theirs.value.errors[0].field == "primary"
        with pytest.raises(ValidationError) as unknown:
            desk.core.bookings.change_travelers(booking.id, principal=ADMIN, remove=[stranger])
        assert unknown.value.errors[0].field == "remove"
        with pytest.raises(ValidationError):
            desk.core.bookings.change_travelers(
                booking.id,
                principal=ADMIN,
                add=[NewTraveler(TravelerDetails("Second primary"), is_primary=True)],
                primary=only,
            )
        with pytest.raises(PermissionDeniedError):
            desk.core.bookings.change_travelers(
                booking.id,
                principal=Principal.customer(desk.customer),
                add=[NewTraveler(TravelerDetails("Cheap"), price=Money("1", "INR"))],
            )
        assert desk.core.bookings.get(booking.id, principal=ADMIN).traveler_ids == {only}
        assert desk.held(slot) == 1

    def test_a_change_that_duplicates_another_booking_of_the_slot_is_refused(
        self, desk: Desk
    ) -> None:
        # As booking refuses it: two active bookings of one slot for the same travelers.
        slot = desk.slot()
        first, second = desk.book(slot, 1), desk.book(slot, 1)
        theirs = second.travelers[0].traveler_id
        with pytest.raises(DuplicateError) as refused:
            desk.core.bookings.change_travelers(
                first.id,
                principal=ADMIN,
                remove=[first.travelers[0].traveler_id],
                add=[SavedTraveler(theirs, is_primary=True)],
            )
        assert refused.value.existing_id == second.id
        kept = desk.core.bookings.get(first.id, principal=ADMIN)
        assert kept.traveler_ids == {first.travelers[0].traveler_id}
        assert desk.held(slot) == 2
        # Once the other booking is cancelled, its travelers may be moved onto this one.
        desk.core.bookings.cancel(second.id, principal=ADMIN)
        moved = desk.core.bookings.change_travelers(
            first.id,
            principal=ADMIN,
            remove=[first.travelers[0].traveler_id],
            add=[SavedTraveler(theirs, is_primary=True)],
        )
        assert moved.traveler_ids == {theirs}

    def test_freed_seats_go_to_the_waiting_list(self, desk: Desk) -> None:
        slot = desk.slot(capacity=3)
        booking = desk.book(slot, 3)
        other = desk.core.customers.register("+919812300002", principal=ADMIN).customer.id
        entry = desk.core.waitlists.join(slot.id, principal=ADMIN, customer_id=other, seats=1)
        desk.core.bookings.change_travelers(
            booking.id, principal=ADMIN, remove=[booking.travelers[2].traveler_id]
        )
        assert desk.core.waitlists.get(entry.id, principal=ADMIN).status is WaitlistStatus.OFFERED


class TestNotesAndAssignment:
    def test_advisor_notes_are_an_append_only_log_for_staff(self, desk: Desk) -> None:
        booking = desk.book(desk.slot(), 1)
        advisor = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.STAFF)
        first = desk.core.bookings.add_note(booking.id, "Called, prefers morning", principal=ADMIN)
        desk.clock.advance(minutes=5)
        desk.core.bookings.add_note(booking.id, "Sent brochure", principal=advisor)
        notes = desk.core.bookings.notes(booking.id, principal=ADMIN)
        assert [n.text for n in notes] == ["Called, prefers morning", "Sent brochure"]
        assert notes[0].id == first.id
        assert notes[0].author == ADMIN.actor
        assert notes[1].written_at > notes[0].written_at
        customer = Principal.customer(desk.customer)
        with pytest.raises(PermissionDeniedError):
            desk.core.bookings.notes(booking.id, principal=customer)
        with pytest.raises(PermissionDeniedError):
            desk.core.bookings.add_note(booking.id, "mine", principal=customer)
        with pytest.raises(ValidationError):
            desk.core.bookings.add_note(booking.id, "   ", principal=ADMIN)

    def test_strategies_assign_single_bookings_and_reassign(self, desk: Desk) -> None:
        add = desk.core.staff.add
        ana = add("ana@desk.example", "Ana", principal=ADMIN, locations=["BASE"]).id
        ben = add("ben@desk.example", "Ben", principal=ADMIN, locations=["REEF"]).id
        slot = desk.slot(capacity=20)
        reef = desk.slot(capacity=20, location_id=desk.reef.id)
        bookings = [desk.book(slot, 1) for _ in range(4)]
        picked = [
            desk.core.bookings.assign(b.id, principal=ADMIN, strategy="round_robin").assignee_id
            for b in bookings
        ]
        assert picked == [min(ana, ben), max(ana, ben)] * 2
        spread = desk.book(slot, 1)
        least = desk.core.bookings.assign(spread.id, principal=ADMIN, strategy="least_loaded")
        assert least.assignee_id in {ana, ben}
        reef_booking = desk.book(reef, 1)
        by_dealer = desk.core.bookings.assign(
            reef_booking.id, principal=ADMIN, strategy="dealer_based"
        )
        assert by_dealer.assignee_id == ben
        moved = desk.core.bookings.assign(reef_booking.id, principal=ADMIN, advisor_id=ana)
        assert moved.assignee_id == ana
        with pytest.raises(ValidationError):
            desk.core.bookings.assign(reef_booking.id, principal=ADMIN, strategy="manual")
        with pytest.raises(ValidationError):
            desk.core.bookings.assign(reef_booking.id, principal=ADMIN, strategy="by_vibes")
        with pytest.raises(PermissionDeniedError):
            desk.core.bookings.assign(
                reef_booking.id, principal=Principal.customer(desk.customer), advisor_id=ben
            )
        trail = desk.core.bookings.audit_trail(reef_booking.id, principal=ADMIN)
        assert trail[-1].new_values == {"assignee_id": str(ana)}


@pytest.mark.postgres
def test_reschedules_in_opposite_directions_at_once_never_deadlock(pg_store: SqlStore) -> None:
    """Eight threads move bookings A -> B and B -> A at once; slots are locked in one order."""
    import threading  # noqa: PLC0415

    desk = Desk(pg_store)
    a, b = desk.slot(capacity=8), desk.slot(days=11, capacity=8)
    customers = [
        desk.core.customers.register(f"+9198123100{i:02d}", principal=ADMIN).customer.id
        for i in range(8)
    ]
    on_a = [desk.book(a, 1, customers[i]) for i in range(4)]
    on_b = [desk.book(b, 1, customers[4 + i]) for i in range(4)]
    moves = [(x.id, b.id) for x in on_a] + [(y.id, a.id) for y in on_b]
    barrier = threading.Barrier(len(moves))
    errors: list[Exception] = []

    def move(booking_id: object, slot_id: object) -> None:
        barrier.wait()
        try:
            desk.core.bookings.reschedule(booking_id, slot_id, principal=ADMIN)  # type: ignore[arg-type]
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=move, args=m) for m in moves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert (desk.held(a), desk.held(b)) == (4, 4)
    for booking in on_a:
        assert desk.core.bookings.get(booking.id, principal=ADMIN).slot_id == b.id


@pytest.mark.postgres
def test_twin_reschedules_with_one_key_move_once_and_answer_alike(pg_store: SqlStore) -> None:
    """Four threads send the same keyed reschedule at once: one moves, the others replay it."""
    import threading  # noqa: PLC0415

    desk = Desk(pg_store)
    a, b = desk.slot(capacity=8), desk.slot(days=11, capacity=8)
    booking = desk.book(a, 2)
    barrier = threading.Barrier(4)
    answers: list[object] = []

    def move() -> None:
        barrier.wait()
        try:
            answers.append(
                desk.core.bookings.reschedule(
                    booking.id, b.id, principal=ADMIN, idempotency_key="twin"
                )
            )
        except Exception as exc:
            answers.append(exc)

    threads = [threading.Thread(target=move) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(not isinstance(answer, Exception) for answer in answers), answers
    assert sum(not answer.replayed for answer in answers) == 1  # type: ignore[attr-defined]
    assert {answer.booking.slot_id for answer in answers} == {b.id}  # type: ignore[attr-defined]
    assert (desk.held(a), desk.held(b)) == (0, 2)
    trail = desk.core.bookings.audit_trail(booking.id, principal=ADMIN)
    assert sum("price_difference" in entry.new_values for entry in trail) == 1


def test_a_completed_trip_is_neither_rescheduled_nor_given_other_travelers(
    any_store: MemoryStore | SqlStore,
) -> None:
    # The travel lifecycle's `completed` moves on only to `refunded`, which money
    # decides: the trip is over, as a reservation's `completed` is.
    b = Builder(now=FixedClock().now())
    location = b.location()
    customer = b.customer()
    traveler = b.traveler(customer.id)
    past = b.slot(location.id, starts_at=b.now - timedelta(days=5), seats_held=1)
    later = b.slot(location.id, starts_at=b.now + timedelta(days=30))
    trip = b.booking(customer.id, past, [traveler.id], lifecycle="travel", status="completed")
    with any_store.unit_of_work() as uow:
        uow.locations.add(location)
        uow.customers.add(customer)
        uow.travelers.add(traveler)
        uow.slots.add(past)
        uow.slots.add(later)
        uow.bookings.add(trip)
        uow.commit()
    core = BookingCore(uow_factory=any_store.unit_of_work, clock=FixedClock(), ids=SequentialIds())
    with pytest.raises(InvalidTransitionError):
        core.bookings.reschedule(trip.id, later.id, principal=ADMIN)
    with pytest.raises(InvalidTransitionError):
        core.bookings.change_travelers(
            trip.id, principal=ADMIN, add=[NewTraveler(TravelerDetails("Late joiner"))]
        )
    assert core.bookings.get(trip.id, principal=ADMIN).slot_id == past.id
    assert core.catalog.get_slot(later.id, principal=ADMIN).seats_held == 0


def test_an_unknown_advisor_is_a_validation_error_on_its_field_the_booking_a_not_found(
    desk: Desk,
) -> None:
    """Assigning to an id that is not an active advisor names the field; an unknown
    booking stays a ``NotFoundError``, and nothing is written."""
    booking = desk.book(desk.slot(), 1)
    nobody = StaffId(uuid4())
    with pytest.raises(ValidationError) as assigned:
        desk.core.bookings.assign(booking.id, principal=ADMIN, strategy="manual", advisor_id=nobody)
    assert (assigned.value.errors[0].field, assigned.value.errors[0].code) == (
        "advisor_id",
        "unknown_advisor",
    )
    assert desk.core.bookings.get(booking.id, principal=ADMIN).assignee_id is None
    missing = BookingId(uuid4())
    with pytest.raises(NotFoundError):
        desk.core.bookings.assign(missing, principal=ADMIN, strategy="manual", advisor_id=nobody)
    meera = desk.core.staff.add("meera@example.com", "Meera", principal=ADMIN)
    moved = desk.core.bookings.assign(
        booking.id, principal=ADMIN, strategy="manual", advisor_id=meera.id
    )
    assert moved.assignee_id == meera.id


class TestAnAssigneeIsAnActiveAdvisor:
    """Every path that sets a booking's assignee applies one rule: an active advisor."""

    def test_update_refuses_an_assignee_who_is_not_an_active_advisor(self, desk: Desk) -> None:
        staff = desk.core.staff
        ana = staff.add("ana@desk.example", "Ana", principal=ADMIN)
        gone = staff.add("gone@desk.example", "Gone", principal=ADMIN)
        staff.set_active(gone.id, False, principal=ADMIN)
        boss = staff.add("boss@desk.example", "Boss", principal=ADMIN, role="staff")
        booking = desk.book(desk.slot(), 1)
        for wrong in (StaffId(uuid4()), gone.id, boss.id):
            with pytest.raises(ValidationError) as refused:
                desk.core.bookings.update(
                    booking.id, BookingChanges(assignee_id=wrong), principal=ADMIN
                )
            assert (refused.value.errors[0].field, refused.value.errors[0].code) == (
                "assignee_id",
                "unknown_advisor",
            )
        stored = desk.core.bookings.get(booking.id, principal=ADMIN)
        assert (stored.assignee_id, stored.version) == (None, booking.version)
        trail = desk.core.bookings.audit_trail(booking.id, principal=ADMIN)
        assert [e.action for e in trail] == [AuditAction.CREATED]
        given = desk.core.bookings.update(
            booking.id, BookingChanges(assignee_id=ana.id), principal=ADMIN
        )
        assert given.assignee_id == ana.id
        taken = desk.core.bookings.update(
            booking.id, BookingChanges(assignee_id=None), principal=ADMIN
        )
        assert taken.assignee_id is None

    def test_assign_refuses_an_inactive_advisor_or_another_role(self, desk: Desk) -> None:
        staff = desk.core.staff
        gone = staff.add("gone@desk.example", "Gone", principal=ADMIN)
        staff.set_active(gone.id, False, principal=ADMIN)
        boss = staff.add("boss@desk.example", "Boss", principal=ADMIN, role="admin")
        booking = desk.book(desk.slot(), 1)
        for wrong in (gone.id, boss.id):
            with pytest.raises(ValidationError) as refused:
                desk.core.bookings.assign(booking.id, principal=ADMIN, advisor_id=wrong)
            assert refused.value.errors[0].field == "advisor_id"
        assert desk.core.bookings.get(booking.id, principal=ADMIN).assignee_id is None

    def test_an_advisor_deactivated_after_the_assignment_keeps_it_through_other_edits(
        self, desk: Desk
    ) -> None:
        """The rule is for a new assignee: an edit that sends the current one again
        (a form posting every field) is no new assignment."""
        ana = desk.core.staff.add("ana@desk.example", "Ana", principal=ADMIN)
        booking = desk.book(desk.slot(), 1)
        desk.core.bookings.assign(booking.id, principal=ADMIN, advisor_id=ana.id)
        desk.core.staff.set_active(ana.id, False, principal=ADMIN)
        edited = desk.core.bookings.update(
            booking.id,
            BookingChanges(internal_notes="call first", assignee_id=ana.id),
            principal=ADMIN,
        )
        assert (edited.internal_notes, edited.assignee_id) == ("call first", ana.id)

    def test_assign_refuses_a_stale_expected_version(self, desk: Desk) -> None:
        ana = desk.core.staff.add("ana@desk.example", "Ana", principal=ADMIN)
        booking = desk.book(desk.slot(), 1)
        desk.core.bookings.update(booking.id, BookingChanges(internal_notes="x"), principal=ADMIN)
        with pytest.raises(StaleVersionError):
            desk.core.bookings.assign(
                booking.id, principal=ADMIN, advisor_id=ana.id, expected_version=booking.version
            )
        assert desk.core.bookings.get(booking.id, principal=ADMIN).assignee_id is None
        current = desk.core.bookings.get(booking.id, principal=ADMIN).version
        given = desk.core.bookings.assign(
            booking.id, principal=ADMIN, advisor_id=ana.id, expected_version=current
        )
        assert given.assignee_id == ana.id


class TestStrategiesForSingleBookings:
    def test_round_robin_re_assigning_a_booking_takes_no_extra_turn(self, desk: Desk) -> None:
        """A booking re-assigned by ``round_robin`` takes the turn it would take unassigned,
        so the advisors' counts stay within one of each other."""
        add = desk.core.staff.add
        ids = sorted(add(f"{n}@desk.example", n, principal=ADMIN).id for n in ("ana", "ben"))
        slot = desk.slot(capacity=20)
        bookings = [desk.book(slot, 1) for _ in range(4)]
        assign = desk.core.bookings.assign
        picked = [
            assign(b.id, principal=ADMIN, strategy="round_robin").assignee_id for b in bookings[:2]
        ]
        assert picked == ids
        again = assign(bookings[1].id, principal=ADMIN, strategy="round_robin")
        assert again.assignee_id == ids[1]
        for booking in bookings[2:]:
            assign(booking.id, principal=ADMIN, strategy="round_robin")
        counts = [
            sum(desk.core.bookings.get(b.id, principal=ADMIN).assignee_id == i for b in bookings)
            for i in ids
        ]
        assert counts == [2, 2]

    def test_least_loaded_counts_only_open_bookings_of_each_lifecycle(self, desk: Desk) -> None:
        """A reservation's ``completed`` is over, though the travel lifecycle's
        ``completed`` (which may still be refunded) is not terminal: it is no load."""
        add = desk.core.staff.add
        ana, ben = (add(f"{n}@desk.example", n, principal=ADMIN).id for n in ("ana", "ben"))
        past = desk.slot(capacity=20)
        for _ in range(2):
            done = desk.book(past, 1)
            desk.core.bookings.assign(done.id, principal=ADMIN, advisor_id=ana)
            desk.core.bookings.transition(done.id, "confirmed", principal=ADMIN)
            desk.clock.advance(days=11)
            desk.core.bookings.transition(done.id, "completed", principal=ADMIN)
            desk.clock.advance(days=-11)
        waiting = desk.book(desk.slot(capacity=20), 1)
        desk.core.bookings.assign(waiting.id, principal=ADMIN, advisor_id=ben)
        fresh = desk.book(desk.slot(capacity=20), 1)
        picked = desk.core.bookings.assign(fresh.id, principal=ADMIN, strategy="least_loaded")
        assert picked.assignee_id == ana


@pytest.mark.postgres
def test_round_robin_assignments_at_once_take_turns(pg_store: SqlStore) -> None:
    """Six bookings assigned by ``round_robin`` at the same moment go to three advisors
    two each: concurrent calls never take the same turn."""
    desk = Desk(pg_store)
    for name in ("ana", "ben", "cyd"):
        desk.core.staff.add(f"{name}@desk.example", name, principal=ADMIN)
    slot = desk.slot(capacity=20)
    bookings = [desk.book(slot, 1) for _ in range(6)]
    answers = at_once(
        6,
        lambda i: desk.core.bookings.assign(
            bookings[i].id, principal=ADMIN, strategy="round_robin"
        ),
    )
    assert not [a for a in answers if isinstance(a, Exception)], answers
    picked = [a.assignee_id for a in answers]
    assert sorted(picked.count(x) for x in set(picked)) == [2, 2, 2]
