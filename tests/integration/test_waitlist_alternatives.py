"""Waiting-list entries are offered seats on their alternative dates, on every store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from tests._threads import at_once
from tests.integration._sources import ListSource

from bookingcore import (
    BookingCore,
    BookingRequest,
    CapacityError,
    ImportSettings,
    InvalidTransitionError,
    Money,
    NewTraveler,
    Principal,
    Settings,
    SlotId,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import (
    ImportStatus,
    Slot,
    WaitlistOffered,
    WaitlistOfferEnded,
    WaitlistStatus,
)
from bookingcore.domain.bookings import Booking
from bookingcore.domain.values import CustomerId
from bookingcore.domain.waitlist import WaitlistEntry
from bookingcore.services import QuotationRequest
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
SYSTEM = Principal.system("jobs")

IMPORT_HEADER = ("customer_name", "customer_phone", "dealer_code", "booking_date", "slot_id",
                 "external_id", "status")  # fmt: skip

#: In Asia/Kolkata (UTC+05:30) a slot starting at 20:00 UTC on the 12th starts on the 13th.
ALT_DAY = date(2026, 1, 13)


class World:
    """A trek at one location: slot ``own`` (full) and slots on other days."""

    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.store = store
        self.clock = FixedClock(datetime(2026, 1, 1, 9, 0, tzinfo=UTC))
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            notifier=RecordingNotifier(),
            settings=Settings(waitlist_offer_ttl=timedelta(hours=24), timezone="Asia/Kolkata"),
        )
        self.events: list[WaitlistOffered | WaitlistOfferEnded] = []
        self.core.events.subscribe(
            WaitlistOffered, lambda e, _: self.events.append(e), name="test.offered"
        )
        self.core.events.subscribe(
            WaitlistOfferEnded, lambda e, _: self.events.append(e), name="test.ended"
        )
        catalog = self.core.catalog
        self.location = catalog.add_location("BASE", "Base camp", principal=ADMIN)
        self.trek = catalog.add_product("TREK", "Trek", "trek", principal=ADMIN)
        self._phones = 0
        self.joined: list[WaitlistEntry] = []
        self.own = self.slot(datetime(2026, 1, 10, 4, 0, tzinfo=UTC))
        self.fill(self.own)

    def slot(self, starts_at: datetime, capacity: int = 2, **fields: object) -> Slot:
        return self.core.catalog.create_slot(
            location_id=self.location.id,
            product_id=fields.pop("product_id", self.trek.id),  # type: ignore[arg-type]
            starts_at=starts_at,
            price_per_traveler=Money("1000", "INR"),
            capacity=capacity,
            principal=ADMIN,
        )

    def customer(self) -> CustomerId:
        self._phones += 1
        return self.core.customers.register(
            f"+9198123{self._phones:05d}", principal=ADMIN, name=f"C{self._phones}"
        ).customer.id

    def book(self, slot: Slot, travelers: int) -> Booking:
        return self.core.bookings.book(
            BookingRequest(slot.id, _travelers(travelers), customer_id=self.customer()),
            principal=ADMIN,
        )

    def fill(self, slot: Slot) -> list[Booking]:
        assert slot.capacity is not None
        return [self.book(slot, 1) for _ in range(slot.capacity)]

    def join(self, slot: Slot, *dates: date, seats: int = 1) -> WaitlistEntry:
        self.clock.advance(minutes=1)  # joined one after the other
        joined = self.core.waitlists.join(
            slot.id,
            principal=ADMIN,
            customer_id=self.customer(),
            seats=seats,
            alternative_dates=dates,
        )
        self.joined.append(joined)
        return joined

    def entry(self, entry: WaitlistEntry) -> WaitlistEntry:
        return self.core.waitlists.get(entry.id, principal=ADMIN)

    def held(self, slot_id: SlotId) -> int:
        return self.core.catalog.get_slot(slot_id, principal=ADMIN).seats_held

    def cancel(self, booking: Booking) -> None:
        self.core.bookings.cancel(booking.id, principal=ADMIN, reason="plans changed")

    def check_held(self, slot_id: SlotId) -> None:
        """Seats held == travelers of bookings holding seats + seats of open offers on it
        (an entry's own, or one for an alternative date)."""
        bookings = self.core.bookings.list(principal=ADMIN).items
        booked = sum(
            b.total_travelers
            for b in bookings
            if b.slot_id == slot_id
            and self.core.settings.lifecycle(b.lifecycle).holds_capacity(b.status)
        )
        entries = [self.entry(e) for e in self.joined]
        offered = sum(
            e.seats
            for e in entries
            if e.status is WaitlistStatus.OFFERED and e.offer_slot_id == slot_id
        )
        assert self.held(slot_id) == booked + offered


def _travelers(n: int) -> list[NewTraveler]:
    return [NewTraveler(TravelerDetails(f"Guest {i}"), is_primary=i == 0) for i in range(n)]


@pytest.fixture
def world(any_store: MemoryStore | SqlStore) -> World:
    return World(any_store)


def test_the_slot_s_own_list_comes_first_then_alternatives_in_the_order_they_joined(
    world: World,
) -> None:
    other = world.slot(datetime(2026, 1, 12, 20, 0, tzinfo=UTC))  # the 13th in Kolkata
    bookings = world.fill(other)
    wrong_day = world.join(world.own, date(2026, 1, 12))  # the UTC date: not the slot's day
    first = world.join(world.own, ALT_DAY)
    second = world.join(world.own, ALT_DAY)
    own_entry = world.join(other)
    for booking in bookings:
        world.cancel(booking)
    assert world.entry(own_entry).status is WaitlistStatus.OFFERED
    offered = world.entry(first)
    assert (offered.status, offered.offered_slot_id, offered.offer_slot_id) == (
        WaitlistStatus.OFFERED,
        other.id,
        other.id,
    )
    assert world.entry(second).status is WaitlistStatus.WAITING
    assert world.entry(wrong_day).status is WaitlistStatus.WAITING
    made = [e for e in world.events if isinstance(e, WaitlistOffered)]
    assert [(e.entry_id, e.slot_id) for e in made] == [
        (own_entry.id, other.id),
        (first.id, other.id),
    ]
    assert world.held(other.id) == 2

    booking = world.core.waitlists.accept(first.id, _travelers(1), principal=ADMIN)
    assert booking.slot_id == other.id
    booked = world.entry(first)
    assert (booked.status, booked.booking_id) == (WaitlistStatus.BOOKED, booking.id)
    # It left its own slot's list: the next one there moves up a place.
    waiting = world.core.waitlists.list_for_slot(world.own.id, principal=ADMIN, active_only=True)
    assert [e.id for e in waiting] == [wrong_day.id, second.id]
    assert world.core.waitlists.place(second.id, principal=ADMIN).place == 2
    assert world.held(other.id) == 2
    assert world.held(world.own.id) == 2


def test_a_party_bigger_than_what_is_free_is_passed_over(world: World) -> None:
    other = world.slot(datetime(2026, 1, 12, 20, 0, tzinfo=UTC), capacity=3)
    bookings = world.fill(other)
    big = world.join(world.own, ALT_DAY, seats=2)
    small = world.join(world.own, ALT_DAY)
    world.cancel(bookings[0])
    assert world.entry(big).status is WaitlistStatus.WAITING
    assert world.entry(small).offered_slot_id == other.id
    world.cancel(bookings[1])  # one more seat: still not two free for the big party
    assert world.entry(big).status is WaitlistStatus.WAITING
    world.cancel(bookings[2])
    assert world.entry(big).offered_slot_id == other.id
    assert world.held(other.id) == 3


def test_another_product_or_a_customer_already_on_the_slot_is_not_offered_it(
    world: World,
) -> None:
    dive = world.core.catalog.add_product("DIVE", "Dive", "activity", principal=ADMIN)
    diving = world.slot(datetime(2026, 1, 13, 4, 0, tzinfo=UTC), product_id=dive.id)
    other = world.slot(datetime(2026, 1, 13, 4, 0, tzinfo=UTC), capacity=1)
    on_dive = world.fill(diving)
    on_other = world.fill(other)
    entry = world.join(world.own, ALT_DAY)
    world.cancel(on_dive[0])
    assert world.entry(entry).status is WaitlistStatus.WAITING
    # The same customer also waits on ``other`` itself: that entry is offered, not this one.
    mine = world.core.waitlists.join(other.id, principal=ADMIN, customer_id=entry.customer_id)
    world.cancel(on_other[0])
    assert world.entry(mine).status is WaitlistStatus.OFFERED
    assert world.entry(entry).status is WaitlistStatus.WAITING


def test_a_declined_alternative_sends_the_entry_back_to_its_place_without_that_date(
    world: World,
) -> None:
    other = world.slot(datetime(2026, 1, 12, 20, 0, tzinfo=UTC), capacity=1)
    (booking,) = world.fill(other)
    first = world.join(world.own, ALT_DAY, date(2026, 1, 20))
    second = world.join(world.own, ALT_DAY)
    world.cancel(booking)
    assert world.entry(first).offered_slot_id == other.id
    declined = world.core.waitlists.decline(first.id, principal=ADMIN, reason="too far")
    assert (declined.status, declined.position, declined.offered_slot_id) == (
        WaitlistStatus.WAITING,
        first.position,
        None,
    )
    assert declined.alternative_dates == (date(2026, 1, 20),)
    ended = [e for e in world.events if isinstance(e, WaitlistOfferEnded)]
    assert [(e.entry_id, e.slot_id, e.outcome) for e in ended] == [(first.id, other.id, "declined")]
    # The seat went on to the next alternative; the first keeps its place on its own slot.
    assert world.entry(second).offered_slot_id == other.id
    assert world.core.waitlists.place(first.id, principal=ADMIN).place == 1
    assert world.held(other.id) == 1
    with pytest.raises(InvalidTransitionError):
        world.core.waitlists.accept(first.id, _travelers(1), principal=ADMIN)


def test_an_alternative_offer_that_runs_out_waits_again_and_moves_on(world: World) -> None:
    other = world.slot(datetime(2026, 1, 12, 20, 0, tzinfo=UTC), capacity=1)
    (booking,) = world.fill(other)
    first = world.join(world.own, ALT_DAY)
    second = world.join(world.own, ALT_DAY)
    world.cancel(booking)
    world.clock.advance(hours=25)
    expired = world.core.waitlists.expire_offers(principal=SYSTEM)
    assert expired == []  # nobody left a list
    again = world.entry(first)
    assert (again.status, again.alternative_dates) == (WaitlistStatus.WAITING, ())
    assert world.entry(second).offered_slot_id == other.id
    assert world.held(other.id) == 1


def test_a_cancelled_slot_s_entries_with_alternative_dates_wait_on_and_get_free_seats(
    world: World,
) -> None:
    other = world.slot(datetime(2026, 1, 12, 20, 0, tzinfo=UTC), capacity=2)
    world.book(other, 1)  # one seat free there
    later = world.slot(datetime(2026, 1, 20, 4, 0, tzinfo=UTC), capacity=1)
    world.fill(later)
    flexible = world.join(world.own, ALT_DAY)
    patient = world.join(world.own, date(2026, 1, 20))
    plain = world.join(world.own)
    done = world.core.catalog.cancel_slot(world.own.id, principal=ADMIN, reason="storm")
    assert [e.id for e in done.waitlist_entries] == [plain.id]
    assert [e.id for e in done.waitlist_kept] == [flexible.id, patient.id]
    assert world.entry(plain).status is WaitlistStatus.CANCELLED
    assert world.entry(flexible).offered_slot_id == other.id
    assert world.entry(patient).status is WaitlistStatus.WAITING  # nothing free yet on the 20th
    # Its own slot's start passes; it still waits for the 20th.
    world.clock.set(datetime(2026, 1, 11, 0, 0, tzinfo=UTC))
    world.core.waitlists.expire_offers(principal=SYSTEM)
    assert world.entry(patient).status is WaitlistStatus.WAITING
    # Once its last date is behind it (in Kolkata), it expires.
    world.clock.set(datetime(2026, 1, 20, 19, 0, tzinfo=UTC))  # 00:30 on the 21st there
    expired = world.core.waitlists.expire_offers(principal=SYSTEM)
    assert patient.id in {e.id for e in expired}
    assert world.entry(patient).status is WaitlistStatus.EXPIRED


@pytest.mark.postgres
def test_slots_freeing_seats_at_once_never_offer_one_entry_twice(pg_store: SqlStore) -> None:
    world = World(pg_store)
    day_slots = [
        world.slot(datetime(2026, 1, 13, 4 + i, 0, tzinfo=UTC), capacity=1) for i in range(6)
    ]
    bookings = [world.fill(slot)[0] for slot in day_slots]
    entries = [world.join(world.own, ALT_DAY) for _ in range(3)]
    world.events.clear()
    results = at_once(6, lambda i: world.cancel(bookings[i]))
    assert [r for r in results if isinstance(r, Exception)] == []
    offers = [e for e in world.events if isinstance(e, WaitlistOffered)]
    assert sorted(str(e.entry_id) for e in offers) == sorted(str(e.id) for e in entries)
    offered_on = {world.entry(e).offered_slot_id for e in entries}
    assert len(offered_on) == 3
    held = {slot.id: world.held(slot.id) for slot in day_slots}
    assert sum(held.values()) == 3
    assert all(held[slot_id] == 1 for slot_id in offered_on if slot_id is not None)


def test_leaving_the_list_with_an_alternative_offer_frees_its_seats_there(world: World) -> None:
    other = world.slot(datetime(2026, 1, 12, 20, 0, tzinfo=UTC), capacity=1)
    (booking,) = world.fill(other)
    first = world.join(world.own, ALT_DAY)
    second = world.join(world.own, ALT_DAY)
    world.cancel(booking)
    gone = world.core.waitlists.remove(first.id, principal=ADMIN, reason="booked elsewhere")
    assert gone.status is WaitlistStatus.CANCELLED
    assert world.entry(second).offered_slot_id == other.id
    assert (world.held(other.id), world.held(world.own.id)) == (1, 2)


@pytest.mark.parametrize("ending", ["declined", "expired"])
def test_seats_freed_on_its_own_slot_while_it_held_an_alternative_go_to_it_when_that_ends(
    world: World, ending: str
) -> None:
    # Its own slot's seat frees up while the entry holds an offer on another day: the
    # round there skips it (it holds an offer). Once that offer ends, the entry waits
    # on its own slot again, and the seat idling there is offered to it.
    other = world.slot(datetime(2026, 1, 12, 20, 0, tzinfo=UTC), capacity=1)
    (booking,) = world.fill(other)
    first = world.join(world.own, ALT_DAY)
    world.cancel(booking)
    assert world.entry(first).offered_slot_id == other.id
    own_bookings = world.core.bookings.list(principal=ADMIN).items
    on_own = next(b for b in own_bookings if b.slot_id == world.own.id)
    world.cancel(on_own)
    assert world.entry(first).status is WaitlistStatus.OFFERED  # still the other day's offer
    assert world.held(world.own.id) == 1  # a seat idles on its own slot
    if ending == "declined":
        world.core.waitlists.decline(first.id, principal=ADMIN, reason="too far")
    else:
        world.clock.advance(hours=25)
        world.core.waitlists.expire_offers(principal=SYSTEM)
    again = world.entry(first)
    assert (again.status, again.offered_slot_id) == (WaitlistStatus.OFFERED, None)
    assert (world.held(world.own.id), world.held(other.id)) == (2, 0)


def test_an_entry_that_turned_an_alternative_down_is_offered_its_own_slot_later(
    world: World,
) -> None:
    # Its offer on another day was declined; a seat freeing up on its own slot later
    # is offered to it (a new offer, told in a message of its own), and the
    # cancellation that freed it goes through.
    other = world.slot(datetime(2026, 1, 12, 20, 0, tzinfo=UTC), capacity=1)
    (booking,) = world.fill(other)
    first = world.join(world.own, ALT_DAY)
    world.cancel(booking)
    world.core.waitlists.decline(first.id, principal=ADMIN, reason="too far")
    own_bookings = world.core.bookings.list(principal=ADMIN).items
    world.cancel(next(b for b in own_bookings if b.slot_id == world.own.id))
    again = world.entry(first)
    assert (again.status, again.offered_slot_id) == (WaitlistStatus.OFFERED, None)
    offers = [e for e in world.events if isinstance(e, WaitlistOffered) and e.entry_id == first.id]
    assert [e.slot_id for e in offers] == [other.id, world.own.id]
    assert all(e.communication_id is not None for e in offers)
    assert len({e.communication_id for e in offers}) == 2
    assert world.held(world.own.id) == 2


class TestBookingTheAlternativeDirectly:
    """A customer holding an offer on another day's slot (for an alternative date) who
    books that slot directly takes the offer up: its seats are theirs, the entry is
    ``booked`` as the booking, in the booking's unit of work."""

    def test_the_offer_ends_booked_and_its_seats_are_no_longer_held(self, world: World) -> None:
        other = world.slot(datetime(2026, 1, 12, 20, 0, tzinfo=UTC), capacity=3)
        bookings = world.fill(other)
        first = world.join(world.own, ALT_DAY)
        behind = world.join(world.own)
        world.cancel(bookings[0])
        world.cancel(bookings[1])  # one seat offered to ``first``, one free
        assert world.entry(first).offered_slot_id == other.id
        assert world.held(other.id) == 2
        world.events.clear()
        booking = world.core.bookings.book(
            BookingRequest(other.id, _travelers(1), customer_id=first.customer_id),
            principal=ADMIN,
        )
        booked = world.entry(first)
        assert (booked.status, booked.booking_id) == (WaitlistStatus.BOOKED, booking.id)
        assert world.held(other.id) == 2  # two bookings; no offer left holding a seat
        world.check_held(other.id)
        ended = [e for e in world.events if isinstance(e, WaitlistOfferEnded)]
        assert [(e.entry_id, e.slot_id, e.outcome, e.booking_id) for e in ended] == [
            (first.id, other.id, "booked", booking.id)
        ]
        with world.store.unit_of_work() as uow:
            trail = uow.audit.list_for("waitlist entry", first.id)
        assert trail[-1].old_values == {"status": "offered", "offered_slot_id": str(other.id)}
        assert trail[-1].new_values == {"status": "booked", "booking_id": str(booking.id)}
        assert booking.reference in (trail[-1].reason or "")
        # It left its own slot's list, as an accepted alternative does.
        assert world.core.waitlists.place(behind.id, principal=ADMIN).place == 1

    @pytest.mark.parametrize("how", ["book", "quotation", "reschedule"])
    def test_a_booking_that_fits_only_with_the_offer_s_seats_is_made(
        self, world: World, how: str
    ) -> None:
        other = world.slot(datetime(2026, 1, 12, 20, 0, tzinfo=UTC), capacity=2)
        bookings = world.fill(other)
        first = world.join(world.own, ALT_DAY, seats=2)
        me = first.customer_id
        elsewhere = world.slot(datetime(2026, 1, 20, 4, 0, tzinfo=UTC))
        mine = world.core.bookings.book(
            BookingRequest(elsewhere.id, _travelers(1), customer_id=me), principal=ADMIN
        )
        quotation = None
        if how == "quotation":
            quotation = world.core.quotations.create(
                QuotationRequest(
                    customer_id=me, slot_id=other.id, travelers=1, valid_until=date(2026, 1, 5)
                ),
                principal=ADMIN,
            )
            world.core.quotations.send(quotation.id, principal=ADMIN)
        for booking in bookings:
            world.cancel(booking)
        assert world.entry(first).offered_slot_id == other.id
        second = world.join(world.own, ALT_DAY)  # nothing is free there for it now
        assert world.entry(second).status is WaitlistStatus.WAITING
        assert world.held(other.id) == 2  # full, but for the seats offered to ``first``
        if how == "book":
            booking = world.core.bookings.book(
                BookingRequest(other.id, _travelers(1), customer_id=me), principal=ADMIN
            )
        elif how == "quotation":
            assert quotation is not None
            booking = world.core.quotations.approve(quotation.id, _travelers(1), principal=ADMIN)
        else:
            booking = world.core.bookings.reschedule(mine.id, other.id, principal=ADMIN).booking
        assert booking.slot_id == other.id
        booked = world.entry(first)
        assert (booked.status, booked.booking_id) == (WaitlistStatus.BOOKED, booking.id)
        # The seat the booking did not need went to the next in line, in the same unit of work.
        assert world.entry(second).offered_slot_id == other.id
        assert world.held(other.id) == 2
        world.check_held(other.id)

    def test_a_refused_booking_leaves_the_offer_as_it_was(self, world: World) -> None:
        other = world.slot(datetime(2026, 1, 12, 20, 0, tzinfo=UTC), capacity=2)
        bookings = world.fill(other)
        first = world.join(world.own, ALT_DAY)
        world.cancel(bookings[0])
        assert world.entry(first).offered_slot_id == other.id
        with pytest.raises(CapacityError):
            world.core.bookings.book(
                BookingRequest(other.id, _travelers(3), customer_id=first.customer_id),
                principal=ADMIN,
            )
        assert world.entry(first).status is WaitlistStatus.OFFERED
        assert world.held(other.id) == 2
        world.check_held(other.id)

    def test_an_offer_that_ran_out_is_left_to_the_expiry_job(self, world: World) -> None:
        other = world.slot(datetime(2026, 1, 12, 20, 0, tzinfo=UTC), capacity=3)
        bookings = world.fill(other)
        first = world.join(world.own, ALT_DAY)
        world.cancel(bookings[0])
        world.cancel(bookings[1])
        world.clock.advance(hours=25)  # run out; the job has not been by yet
        world.core.bookings.book(
            BookingRequest(other.id, _travelers(1), customer_id=first.customer_id),
            principal=ADMIN,
        )
        assert world.entry(first).status is WaitlistStatus.OFFERED
        world.core.waitlists.expire_offers(principal=SYSTEM)
        again = world.entry(first)
        assert (again.status, again.alternative_dates) == (WaitlistStatus.WAITING, ())
        world.check_held(other.id)

    def test_an_import_row_booking_the_alternative_takes_the_offer_up(self, world: World) -> None:
        other = world.slot(datetime(2026, 1, 12, 20, 0, tzinfo=UTC), capacity=2)
        bookings = world.fill(other)
        first = world.join(world.own, ALT_DAY, seats=2)
        for booking in bookings:
            world.cancel(booking)
        assert world.entry(first).offered_slot_id == other.id
        second = world.join(world.own, ALT_DAY)
        customer = world.core.customers.get(first.customer_id, principal=ADMIN)
        row = (
            "Me",
            customer.phone.e164,
            "BASE",
            other.starts_at.isoformat(),
            str(other.id),
            "OLD-1",
            "",
        )
        source = ListSource(IMPORT_HEADER, [row])
        settings = ImportSettings(lifecycle="reservation")
        plan = world.core.imports.dry_run(source, principal=ADMIN, settings=settings)
        assert (plan.would_create, plan.failed) == (1, 0)  # fits with the offer's seats
        assert world.entry(first).status is WaitlistStatus.OFFERED  # the dry run wrote nothing
        job = world.core.imports.run_file(source, principal=ADMIN, settings=settings)
        assert (job.status, job.created, job.failed) == (ImportStatus.COMPLETED, 1, 0)
        booked = world.entry(first)
        assert booked.status is WaitlistStatus.BOOKED
        assert booked.booking_id is not None
        assert world.core.bookings.get(booked.booking_id, principal=ADMIN).external_id == "OLD-1"
        # The seat the row left goes to the next in line once the run ends.
        assert world.entry(second).offered_slot_id == other.id
        assert world.held(other.id) == 2
        world.check_held(other.id)
