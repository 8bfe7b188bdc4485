"""Waiting lists offer freed seats as real holds, book them through the one path, on every store."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event

from bookingcore import (
    BookingCore,
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
    Settings,
    SlotId,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import (
    CommunicationType,
    Slot,
    WaitlistOffered,
    WaitlistOfferEnded,
    WaitlistStatus,
)
from bookingcore.domain.values import CustomerId, WaitlistEntryId
from bookingcore.services import QuotationRequest
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
SYSTEM = Principal.system("jobs")


class World:
    """A core over one store, a slot of ``capacity`` seats and helpers to fill it."""

    def __init__(
        self, store: MemoryStore | SqlStore, capacity: int = 4, lifecycle: str = "reservation"
    ) -> None:
        self.clock = FixedClock()
        self.notifier = RecordingNotifier()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            notifier=self.notifier,
            settings=Settings(waitlist_offer_ttl=timedelta(hours=24), default_lifecycle=lifecycle),
        )
        self.events: list[object] = []
        self.core.events.subscribe(
            WaitlistOffered, lambda e, _: self.events.append(e), name="test.offered"
        )
        self.core.events.subscribe(
            WaitlistOfferEnded, lambda e, _: self.events.append(e), name="test.ended"
        )
        location = self.core.catalog.add_location("BASE", "Base camp", principal=ADMIN)
        self.slot = self.core.catalog.create_slot(
            location_id=location.id,
            starts_at=self.clock.now() + timedelta(days=10),
            price_per_traveler=Money("1000", "INR"),
            capacity=capacity,
            principal=ADMIN,
        )
        self._phones = 0

    def customer(self, name: str = "Asha Rao", *, email: bool = True) -> CustomerId:
        self._phones += 1
        return self.core.customers.register(
            f"+9198123{self._phones:05d}",
            principal=ADMIN,
            name=name,
            email=f"c{self._phones}@example.com" if email else None,
        ).customer.id

    def book(self, customer_id: CustomerId, travelers: int):  # type: ignore[no-untyped-def]
        return self.core.bookings.book(
            BookingRequest(
                self.slot.id,
                [
                    NewTraveler(TravelerDetails(f"T{i} of {customer_id}"), is_primary=i == 0)
                    for i in range(travelers)
                ],
                customer_id=customer_id,
            ),
            principal=ADMIN,
        )

    def slot_now(self, slot_id: SlotId | None = None) -> Slot:
        return self.core.catalog.get_slot(slot_id or self.slot.id, principal=ADMIN)

    def check_invariant(self) -> None:
        """Seats held == travelers of bookings holding seats + seats of offered entries."""
        slot = self.slot_now()
        page = self.core.bookings.list(principal=ADMIN)
        booked = sum(
            b.total_travelers
            for b in page.items
            if b.slot_id == slot.id
            and self.core.settings.lifecycle(b.lifecycle).holds_capacity(b.status)
        )
        offered = sum(
            e.seats
            for e in self.core.waitlists.list_for_slot(slot.id, principal=ADMIN)
            if e.status is WaitlistStatus.OFFERED
        )
        assert slot.seats_held == booked + offered
        assert slot.capacity is None or slot.seats_held <= slot.capacity


def _travelers(n: int) -> list[NewTraveler]:
    return [NewTraveler(TravelerDetails(f"Guest {i}"), is_primary=i == 0) for i in range(n)]


@pytest.fixture
def world(any_store: MemoryStore | SqlStore) -> World:
    return World(any_store)


class TestJoining:
    def test_a_customer_joins_once_and_sees_their_place(self, world: World) -> None:
        booker = world.customer()
        world.book(booker, 4)
        first, second = world.customer("First"), world.customer("Second")
        a = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=first, seats=2)
        b = world.core.waitlists.join(
            world.slot.id, principal=Principal.customer(second), seats=1, notes="window seat"
        )
        assert (a.position, b.position) == (1, 2)
        assert a.status is WaitlistStatus.WAITING
        place = world.core.waitlists.place(b.id, principal=Principal.customer(second))
        assert (place.place, place.seats_ahead) == (2, 2)
        with pytest.raises(DuplicateError):
            world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=first)

    def test_customers_join_only_for_themselves_and_only_staff_set_priority(
        self, world: World
    ) -> None:
        me, other = world.customer("Me"), world.customer("Other")
        with pytest.raises(PermissionDeniedError):
            world.core.waitlists.join(
                world.slot.id, principal=Principal.customer(me), customer_id=other
            )
        with pytest.raises(PermissionDeniedError):
            world.core.waitlists.join(
                world.slot.id, principal=Principal.customer(me), priority="high"
            )
        with pytest.raises(ValidationError) as bad:
            world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=me, seats=0)
        assert bad.value.errors[0].field == "seats"

    def test_a_partner_sees_and_changes_only_its_own_customers_entries(self, world: World) -> None:
        registration = world.core.partners.register(
            name="Agency",
            company_name="Agency Ltd",
            contact_email="ops@agency.example",
            principal=ADMIN,
        )
        partner = Principal.partner(PartnerId(registration.partner.id))
        world.book(world.customer(), 4)
        theirs = world.core.customers.register("+919800000001", principal=partner).customer.id
        mine_not = world.customer("Walk in")
        world.core.waitlists.join(world.slot.id, principal=partner, customer_id=theirs)
        staff_entry = world.core.waitlists.join(
            world.slot.id, principal=ADMIN, customer_id=mine_not
        )
        listed = world.core.waitlists.list_for_slot(world.slot.id, principal=partner)
        assert [e.customer_id for e in listed] == [theirs]
        with pytest.raises(NotFoundError):
            world.core.waitlists.remove(staff_entry.id, principal=partner)
        with pytest.raises(NotFoundError):
            world.core.waitlists.join(world.slot.id, principal=partner, customer_id=mine_not)


class TestOffers:
    def test_a_cancellation_offers_its_seats_in_priority_then_position_order(
        self, world: World
    ) -> None:
        booking = world.book(world.customer(), 3)
        world.book(world.customer(), 1)
        big = world.customer("Big party")
        small = world.customer("Small party")
        vip = world.customer("VIP", email=False)
        e_big = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=big, seats=3)
        e_small = world.core.waitlists.join(
            world.slot.id, principal=ADMIN, customer_id=small, seats=2
        )
        e_vip = world.core.waitlists.join(
            world.slot.id, principal=ADMIN, customer_id=vip, seats=1, priority="high"
        )
        world.core.bookings.cancel(booking.id, principal=ADMIN, reason="change of plans")
        # 3 seats free: the VIP (high) takes 1, the big party (3) no longer fits and
        # keeps its place, the small party behind it takes 2.
        statuses = {
            e.id: e.status
            for e in world.core.waitlists.list_for_slot(world.slot.id, principal=ADMIN)
        }
        assert statuses == {
            e_vip.id: WaitlistStatus.OFFERED,
            e_big.id: WaitlistStatus.WAITING,
            e_small.id: WaitlistStatus.OFFERED,
        }
        slot = world.slot_now()
        assert slot.seats_held == 4  # 1 booked + 3 held by offers: nobody else can book them
        with pytest.raises(CapacityError):
            world.book(world.customer("Latecomer"), 1)
        world.check_invariant()
        assert world.core.waitlists.place(e_big.id, principal=ADMIN).place == 1
        offered = [e for e in world.events if isinstance(e, WaitlistOffered)]
        assert {e.entry_id for e in offered} == {e_vip.id, e_small.id}

    def test_the_customer_is_told_and_the_message_is_logged(self, world: World) -> None:
        booking = world.book(world.customer(), 4)
        waiting = world.customer("Waiting", email=False)
        entry = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=waiting)
        world.core.bookings.cancel(booking.id, principal=ADMIN)
        # the booker is told of the cancellation, the waiting customer of the offer
        cancellation, message = world.notifier.sent
        assert "cancelled" in cancellation.body
        assert message.channel.value == "sms"
        assert "held for you until 2026-01-02 09:00 UTC" in message.body
        logged = world.core.communications.for_customer(waiting, principal=ADMIN)
        assert [(c.type, c.status.value) for c in logged] == [
            (CommunicationType.WAITLIST_OFFER, "sent")
        ]
        assert logged[0].dedupe_key == f"waitlist_offer:{entry.id}"

    def test_an_offer_by_push_is_logged_to_the_customer_as_every_push_is(
        self, world: World
    ) -> None:
        booking = world.book(world.customer(), 4)
        waiting = world.customer("Waiting")
        world.core.devices.register(
            waiting, "android", "token-of-waiting", principal=Principal.customer(waiting)
        )
        world.core.waitlists.join(
            world.slot.id, principal=ADMIN, customer_id=waiting, preferred_contact_method="push"
        )
        world.core.bookings.cancel(booking.id, principal=ADMIN)
        (offer,) = world.core.communications.for_customer(waiting, principal=ADMIN)
        assert (offer.type, offer.channel.value, offer.status.value) == (
            CommunicationType.WAITLIST_OFFER,
            "push",
            "sent",
        )
        assert offer.recipient == f"customer:{waiting}"
        (pushed,) = [m for m in world.notifier.sent if m.channel.value == "push"]
        assert pushed.recipient == "token-of-waiting"

    def test_accepting_books_through_the_one_path_and_hands_the_seats_over(
        self, world: World
    ) -> None:
        booking = world.book(world.customer(), 4)
        waiting = world.customer("Waiting")
        entry = world.core.waitlists.join(
            world.slot.id, principal=ADMIN, customer_id=waiting, seats=2
        )
        world.core.bookings.cancel(booking.id, principal=ADMIN)
        accepted = world.core.waitlists.accept(
            entry.id, _travelers(2), principal=Principal.customer(waiting)
        )
        assert accepted.customer_id == waiting
        assert accepted.total_travelers == 2
        assert accepted.metadata["waitlist_entry_id"] == str(entry.id)
        after = world.core.waitlists.get(entry.id, principal=ADMIN)
        assert after.status is WaitlistStatus.BOOKED
        assert after.booking_id == accepted.id
        assert world.slot_now().seats_held == 2
        history = world.core.bookings.history(accepted.id, principal=ADMIN)
        assert history[0].to_status == accepted.status
        world.check_invariant()
        with pytest.raises(InvalidTransitionError):
            world.core.waitlists.accept(entry.id, _travelers(1), principal=ADMIN)

    def test_an_offer_accepted_into_the_travel_lifecycle_keeps_its_seats(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        # A travel booking starts at lead_created, which holds no seats: the booking
        # that takes the offer over moves on to booking_created in the same unit of
        # work, so the offered seats stay held (by the booking) and nobody else gets them.
        travel = World(any_store, lifecycle="travel")
        first = travel.book(travel.customer(), 4)
        for status in ("quotation_sent", "quotation_approved", "booking_created"):
            travel.core.bookings.transition(first.id, status, principal=ADMIN)
        waiting = travel.customer("Waiting")
        entry = travel.core.waitlists.join(
            travel.slot.id, principal=ADMIN, customer_id=waiting, seats=4
        )
        travel.core.bookings.cancel(first.id, principal=ADMIN)
        assert travel.core.waitlists.get(entry.id, principal=ADMIN).status is WaitlistStatus.OFFERED
        accepted = travel.core.waitlists.accept(
            entry.id, _travelers(4), principal=Principal.customer(waiting)
        )
        assert accepted.status == "booking_created"
        assert travel.slot_now().seats_held == 4
        history = travel.core.bookings.history(accepted.id, principal=ADMIN)
        assert [e.to_status for e in history] == [
            "lead_created",
            "quotation_sent",
            "quotation_approved",
            "booking_created",
        ]
        travel.check_invariant()
        late = travel.book(travel.customer("Late"), 1)
        for status in ("quotation_sent", "quotation_approved"):
            travel.core.bookings.transition(late.id, status, principal=ADMIN)
        with pytest.raises(CapacityError):
            travel.core.bookings.transition(late.id, "booking_created", principal=ADMIN)

    def test_accepting_for_fewer_travelers_offers_the_rest_onward(self, world: World) -> None:
        booking = world.book(world.customer(), 4)
        first, second = world.customer("First"), world.customer("Second")
        e1 = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=first, seats=3)
        e2 = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=second, seats=1)
        world.core.bookings.cancel(booking.id, principal=ADMIN)
        assert world.core.waitlists.get(e2.id, principal=ADMIN).status is WaitlistStatus.OFFERED
        with pytest.raises(ValidationError):
            world.core.waitlists.accept(e1.id, _travelers(4), principal=ADMIN)
        world.core.waitlists.accept(e1.id, _travelers(2), principal=ADMIN)
        assert world.slot_now().seats_held == 3  # 2 booked + 1 offered to e2; 1 free
        world.check_invariant()

    def test_declining_offers_the_seats_to_the_next_entry(self, world: World) -> None:
        booking = world.book(world.customer(), 4)
        first, second = world.customer("First"), world.customer("Second")
        e1 = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=first, seats=4)
        e2 = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=second, seats=2)
        world.core.bookings.cancel(booking.id, principal=ADMIN)
        assert world.core.waitlists.get(e2.id, principal=ADMIN).status is WaitlistStatus.WAITING
        declined = world.core.waitlists.decline(e1.id, principal=Principal.customer(first))
        assert declined.status is WaitlistStatus.CANCELLED
        assert world.core.waitlists.get(e2.id, principal=ADMIN).status is WaitlistStatus.OFFERED
        assert world.slot_now().seats_held == 2
        world.check_invariant()
        with pytest.raises(InvalidTransitionError):
            world.core.waitlists.decline(e1.id, principal=ADMIN)

    def test_an_expired_offer_frees_its_seats_for_the_next_and_cannot_be_accepted(
        self, world: World
    ) -> None:
        booking = world.book(world.customer(), 4)
        first, second = world.customer("First"), world.customer("Second")
        e1 = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=first, seats=4)
        e2 = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=second, seats=3)
        world.core.bookings.cancel(booking.id, principal=ADMIN)
        world.clock.advance(hours=23)
        assert world.core.waitlists.expire_offers(principal=SYSTEM) == []
        world.clock.advance(hours=1)
        with pytest.raises(InvalidTransitionError):
            world.core.waitlists.accept(e1.id, _travelers(1), principal=ADMIN)
        expired = world.core.waitlists.expire_offers(principal=SYSTEM)
        assert [e.id for e in expired] == [e1.id]
        assert world.core.waitlists.get(e1.id, principal=ADMIN).status is WaitlistStatus.EXPIRED
        assert world.core.waitlists.get(e2.id, principal=ADMIN).status is WaitlistStatus.OFFERED
        assert world.slot_now().seats_held == 3
        world.check_invariant()
        assert world.core.waitlists.expire_offers(principal=SYSTEM) == []
        with pytest.raises(PermissionDeniedError):
            world.core.waitlists.expire_offers(principal=Principal.customer(first))

    def test_more_capacity_is_offered_to_the_waiting_list(self, world: World) -> None:
        world.book(world.customer(), 4)
        waiting = world.customer("Waiting")
        entry = world.core.waitlists.join(
            world.slot.id, principal=ADMIN, customer_id=waiting, seats=2
        )
        world.core.catalog.change_capacity(world.slot.id, 6, principal=ADMIN)
        assert world.core.waitlists.get(entry.id, principal=ADMIN).status is WaitlistStatus.OFFERED
        assert world.slot_now().seats_held == 6
        world.check_invariant()

    def test_a_no_show_release_is_offered_too(self, world: World) -> None:
        """A move out of a seat-holding state (here: pending to cancelled) frees seats."""
        pending = world.book(world.customer(), 2)
        world.book(world.customer(), 2)
        waiting = world.customer("Waiting")
        entry = world.core.waitlists.join(
            world.slot.id, principal=ADMIN, customer_id=waiting, seats=2
        )
        world.core.bookings.transition(pending.id, "cancelled", principal=ADMIN)
        assert world.core.waitlists.get(entry.id, principal=ADMIN).status is WaitlistStatus.OFFERED


class TestStaff:
    def test_staff_reorder_and_remove_and_an_offer_round_runs_on_demand(self, world: World) -> None:
        world.book(world.customer(), 4)
        ids = [
            world.core.waitlists.join(
                world.slot.id, principal=ADMIN, customer_id=world.customer(f"C{i}")
            ).id
            for i in range(3)
        ]
        reordered = world.core.waitlists.reorder(world.slot.id, [ids[2], ids[0]], principal=ADMIN)
        assert [e.id for e in reordered] == [ids[2], ids[1], ids[0]]
        with pytest.raises(PermissionDeniedError):
            world.core.waitlists.reorder(
                world.slot.id, ids, principal=Principal.customer(CustomerId(ids[0]))
            )
        world.core.waitlists.remove(ids[1], principal=ADMIN, reason="asked by phone")
        remaining = world.core.waitlists.list_for_slot(world.slot.id, principal=ADMIN)
        assert [e.id for e in remaining] == [ids[2], ids[0]]
        assert world.core.waitlists.offer(world.slot.id, principal=ADMIN) == []
        world.core.catalog.change_capacity(world.slot.id, 5, principal=ADMIN)
        offered = world.core.waitlists.list_for_slot(world.slot.id, principal=ADMIN)
        assert [e.status for e in offered] == [WaitlistStatus.OFFERED, WaitlistStatus.WAITING]


class TestRetries:
    def test_an_accept_retried_with_its_key_returns_the_first_booking(self, world: World) -> None:
        booking = world.book(world.customer(), 4)
        waiting = world.customer("Waiting")
        entry = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=waiting)
        world.core.bookings.cancel(booking.id, principal=ADMIN)
        me = Principal.customer(waiting)
        first = world.core.waitlists.accept(
            entry.id, _travelers(1), principal=me, idempotency_key="k1"
        )
        again = world.core.waitlists.accept(
            entry.id, _travelers(1), principal=me, idempotency_key="k1"
        )
        assert again.id == first.id
        assert world.slot_now().seats_held == 1

    def test_a_failed_offer_message_is_retried_and_sent_once(self, world: World) -> None:
        booking = world.book(world.customer(), 4)
        waiting = world.customer("Waiting")
        world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=waiting)
        world.notifier.fail_next(2)  # the booker's cancellation message, then the offer
        world.core.bookings.cancel(booking.id, principal=ADMIN)
        logged = world.core.communications.for_customer(waiting, principal=ADMIN)
        assert [c.status.value for c in logged] == ["failed"]
        world.clock.advance(hours=1)
        world.core.events.run_pending()
        logged = world.core.communications.for_customer(waiting, principal=ADMIN)
        assert [c.status.value for c in logged] == ["sent"]
        assert len(world.notifier.sent) == 2
        world.clock.advance(hours=1)
        world.core.events.run_pending()
        assert len(world.notifier.sent) == 2

    def test_an_offer_message_refused_for_good_is_not_sent_again(self, world: World) -> None:
        """An invalid number, or a gateway that answered without an id (it may have
        taken the text): the dispatcher's retries do not send the offer again."""
        booking = world.book(world.customer(), 4)
        waiting = world.customer("Waiting")
        world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=waiting)
        world.notifier.fail_next(2, "twilio 21211: invalid number", retryable=False)
        world.core.bookings.cancel(booking.id, principal=ADMIN)
        attempts = world.notifier.attempts
        for _ in range(3):
            world.clock.advance(hours=7)
            world.core.events.run_pending()
        assert world.notifier.attempts == attempts
        logged = world.core.communications.for_customer(waiting, principal=ADMIN)
        assert [(c.status.value, c.failed_reason) for c in logged] == [
            ("failed", "twilio 21211: invalid number")
        ]


def test_waiting_entries_expire_once_their_slot_has_started(world: World) -> None:
    world.book(world.customer(), 4)
    waiting = world.core.waitlists.join(
        world.slot.id, principal=ADMIN, customer_id=world.customer()
    )
    assert world.core.waitlists.expire_offers(principal=SYSTEM) == []
    world.clock.advance(days=10)
    expired = world.core.waitlists.expire_offers(principal=SYSTEM)
    assert [e.id for e in expired] == [waiting.id]
    assert world.core.waitlists.get(waiting.id, principal=ADMIN).status is WaitlistStatus.EXPIRED


def test_an_unknown_priority_is_a_validation_error_naming_the_field(world: World) -> None:
    with pytest.raises(ValidationError) as bad:
        world.core.waitlists.join(
            world.slot.id, principal=ADMIN, customer_id=world.customer(), priority="urgent"
        )
    assert bad.value.errors[0].field == "priority"


def test_a_naive_now_for_the_expiry_job_is_a_validation_error_naming_it(world: World) -> None:
    """``datetime.utcnow()`` is naive: the job is told so instead of crashing on a comparison."""
    booking = world.book(world.customer(), 4)
    entry = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=world.customer())
    world.core.bookings.cancel(booking.id, principal=ADMIN)
    naive = datetime(2026, 3, 1, 9, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValidationError) as refused:
        world.core.waitlists.expire_offers(naive, principal=SYSTEM)
    assert refused.value.fields == ("now",)
    assert world.core.waitlists.get(entry.id, principal=ADMIN).status is WaitlistStatus.OFFERED
    world.check_invariant()


class TestJoiningRefusesEntriesThatCanNeverBeBooked:
    """``join`` refuses what booking would refuse, and stores nothing when it does."""

    def _nothing_stored(self, world: World) -> None:
        assert world.core.waitlists.list_for_slot(world.slot.id, principal=ADMIN) == []

    def test_a_closed_location_is_refused_on_slot_id(self, world: World) -> None:
        world.book(world.customer(), 4)
        world.core.catalog.set_location_active("BASE", False, principal=ADMIN)
        with pytest.raises(ValidationError) as refused:
            world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=world.customer())
        assert [(e.field, e.code) for e in refused.value.errors] == [("slot_id", "inactive")]
        self._nothing_stored(world)

    def test_a_product_no_longer_sold_is_refused_on_slot_id(self, world: World) -> None:
        trek = world.core.catalog.add_product("TREK", "Trek", "trek", principal=ADMIN)
        location = world.core.catalog.location("BASE", principal=ADMIN)
        slot = world.core.catalog.create_slot(
            location_id=location.id,
            starts_at=world.clock.now() + timedelta(days=5),
            price_per_traveler=Money("1000", "INR"),
            capacity=2,
            product_id=trek.id,
            principal=ADMIN,
        )
        world.core.catalog.set_product_active(trek.id, False, principal=ADMIN)
        with pytest.raises(ValidationError) as refused:
            world.core.waitlists.join(slot.id, principal=ADMIN, customer_id=world.customer())
        assert [(e.field, e.code) for e in refused.value.errors] == [("slot_id", "inactive")]
        assert world.core.waitlists.list_for_slot(slot.id, principal=ADMIN) == []

    def test_more_seats_than_the_whole_slot_holds_are_refused_on_seats(self, world: World) -> None:
        world.book(world.customer(), 4)
        customer = world.customer()
        with pytest.raises(ValidationError) as refused:
            world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=customer, seats=5)
        assert [(e.field, e.code) for e in refused.value.errors] == [("seats", "above_capacity")]
        self._nothing_stored(world)
        # The whole capacity is fine: it can be booked once everyone else cancels.
        entry = world.core.waitlists.join(
            world.slot.id, principal=ADMIN, customer_id=customer, seats=4
        )
        assert entry.status is WaitlistStatus.WAITING


class TestErasure:
    """Erasing a customer ends their active entries; their seats go to the next in line."""

    def test_erasure_cancels_waiting_and_offered_entries_and_offers_the_seats_onward(
        self, world: World
    ) -> None:
        freed = world.book(world.customer(), 2)
        world.book(world.customer(), 2)
        offered_one = world.customer("Offered One", email=False)
        waiting_one = world.customer("Waiting One", email=False)
        nxt = world.customer("Next In Line", email=False)
        e_offered = world.core.waitlists.join(
            world.slot.id, principal=ADMIN, customer_id=offered_one, seats=2
        )
        e_waiting = world.core.waitlists.join(
            world.slot.id, principal=ADMIN, customer_id=waiting_one, seats=2
        )
        e_next = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=nxt, seats=2)
        world.core.bookings.cancel(freed.id, principal=ADMIN)
        assert world.core.waitlists.get(e_offered.id, principal=ADMIN).status is (
            WaitlistStatus.OFFERED
        )
        sent_before = len(world.notifier.sent)
        events_before = len(world.events)

        world.core.privacy.erase_customer(waiting_one, principal=ADMIN, reason="GDPR 1")
        assert world.core.waitlists.get(e_waiting.id, principal=ADMIN).status is (
            WaitlistStatus.CANCELLED
        )
        world.core.privacy.erase_customer(offered_one, principal=ADMIN, reason="GDPR 2")

        statuses = {
            e.id: e.status
            for e in world.core.waitlists.list_for_slot(
                world.slot.id, principal=ADMIN, active_only=False
            )
        }
        assert statuses == {
            e_offered.id: WaitlistStatus.CANCELLED,
            e_waiting.id: WaitlistStatus.CANCELLED,
            e_next.id: WaitlistStatus.OFFERED,
        }
        assert world.slot_now().seats_held == 4  # 2 booked + 2 offered to the next in line
        world.check_invariant()
        ended = [e for e in world.events[events_before:] if isinstance(e, WaitlistOfferEnded)]
        assert [(e.entry_id, e.outcome) for e in ended] == [(e_offered.id, "cancelled")]
        offers = [e for e in world.events[events_before:] if isinstance(e, WaitlistOffered)]
        assert [e.entry_id for e in offers] == [e_next.id]
        nxt_phone = world.core.customers.get(nxt, principal=ADMIN).phone.e164
        assert [m.recipient for m in world.notifier.sent[sent_before:]] == [nxt_phone]

        # Nothing is left to offer the erased customers later: the next offer expires
        # and no message goes to a placeholder.
        world.clock.advance(hours=25)
        world.core.waitlists.expire_offers(principal=SYSTEM)
        world.core.events.run_pending()
        assert [m.recipient for m in world.notifier.sent[sent_before:]] == [nxt_phone]
        offers_logged = {
            erased: [
                c
                for c in world.core.communications.for_customer(erased, principal=ADMIN)
                if c.type is CommunicationType.WAITLIST_OFFER
            ]
            for erased in (offered_one, waiting_one)
        }
        assert len(offers_logged[offered_one]) == 1  # the one before erasure, now blanked
        assert offers_logged[waiting_one] == []
        world.check_invariant()


class TestBookingDirectly:
    """A customer who books a slot they wait on (not by accepting an offer) leaves its list.

    The entry is cancelled in the booking's unit of work, with the booking's reference
    as the reason; seats an offer held for them are theirs to book with, and what
    the booking does not use goes to the next in line.
    """

    def _status(self, world: World, entry_id: WaitlistEntryId) -> WaitlistStatus:
        return world.core.waitlists.get(entry_id, principal=ADMIN).status

    def test_a_waiting_customer_who_books_is_offered_no_seats_later(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        world = World(any_store, capacity=6)
        first = world.book(world.customer(), 2)
        second = world.book(world.customer(), 4)
        me = world.customer("Me", email=False)
        mine = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=me, seats=3)
        world.core.bookings.cancel(first.id, principal=ADMIN)  # 2 free: my party of 3 waits
        assert self._status(world, mine.id) is WaitlistStatus.WAITING
        booked = world.core.bookings.book(
            BookingRequest(world.slot.id, _travelers(2)), principal=Principal.customer(me)
        )
        assert self._status(world, mine.id) is WaitlistStatus.CANCELLED
        with any_store.unit_of_work() as uow:
            trail = uow.audit.list_for("waitlist entry", mine.id)
        assert trail[-1].new_values == {"status": "cancelled"}
        assert trail[-1].reason is not None
        assert booked.reference in trail[-1].reason
        later = world.core.waitlists.join(
            world.slot.id, principal=ADMIN, customer_id=world.customer("Later"), seats=1
        )
        sent_before = len(world.notifier.sent)
        world.core.bookings.cancel(second.id, principal=ADMIN)  # 4 free
        offered = [e.entry_id for e in world.events if isinstance(e, WaitlistOffered)]
        assert offered == [later.id]
        my_phone = world.core.customers.get(me, principal=ADMIN).phone.e164
        assert my_phone not in [m.recipient for m in world.notifier.sent[sent_before:]]
        world.check_invariant()

    def test_only_slots_someone_has_joined_are_searched_for_an_entry_to_end(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        """The slot records that it has a waiting list; booking others skips the look-up."""
        world = World(any_store)
        assert world.slot_now().has_waitlist is False
        statements: list[str] = []
        if isinstance(any_store, SqlStore):

            def seen(*args: object) -> None:
                statements.append(str(args[2]))

            event.listen(any_store.engine, "before_cursor_execute", seen)
        world.book(world.customer(), 1)
        assert not [s for s in statements if "waiting_lists" in s]
        mine = world.core.waitlists.join(
            world.slot.id, principal=ADMIN, customer_id=world.customer("Me"), seats=1
        )
        assert world.slot_now().has_waitlist is True
        statements.clear()
        world.book(mine.customer_id, 1)
        assert self._status(world, mine.id) is WaitlistStatus.CANCELLED
        assert world.slot_now().has_waitlist is True  # stays: it is never cleared
        if isinstance(any_store, SqlStore):
            event.remove(any_store.engine, "before_cursor_execute", seen)
            assert [s for s in statements if "waiting_lists" in s]

    def test_an_offered_customer_who_books_directly_books_the_seats_held_for_them(
        self, world: World
    ) -> None:
        freed = world.book(world.customer(), 2)
        world.book(world.customer(), 2)
        me, nxt = world.customer("Me"), world.customer("Next")
        mine = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=me, seats=2)
        theirs = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=nxt, seats=2)
        world.core.bookings.cancel(freed.id, principal=ADMIN)
        assert self._status(world, mine.id) is WaitlistStatus.OFFERED
        events_before = len(world.events)
        booking = world.book(me, 2)  # the slot is full but for the seats held for me
        assert booking.customer_id == me
        assert self._status(world, mine.id) is WaitlistStatus.CANCELLED
        assert self._status(world, theirs.id) is WaitlistStatus.WAITING
        ended = [e for e in world.events[events_before:] if isinstance(e, WaitlistOfferEnded)]
        assert [(e.entry_id, e.outcome) for e in ended] == [(mine.id, "cancelled")]
        assert world.slot_now().seats_held == 4
        world.check_invariant()

    def test_seats_an_offer_held_that_the_booking_does_not_use_go_to_the_next_in_line(
        self, world: World
    ) -> None:
        freed = world.book(world.customer(), 3)
        world.book(world.customer(), 1)
        me, nxt = world.customer("Me"), world.customer("Next")
        mine = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=me, seats=3)
        theirs = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=nxt, seats=2)
        world.core.bookings.cancel(freed.id, principal=ADMIN)
        assert self._status(world, mine.id) is WaitlistStatus.OFFERED
        world.book(me, 1)  # fewer seats than the entry waited for: the entry still ends
        assert self._status(world, mine.id) is WaitlistStatus.CANCELLED
        assert self._status(world, theirs.id) is WaitlistStatus.OFFERED
        assert world.slot_now().seats_held == 4  # 1 + 1 booked, 2 held for the next in line
        world.check_invariant()

    def test_a_refused_booking_leaves_the_entry_and_its_offer_as_they_were(
        self, world: World
    ) -> None:
        freed = world.book(world.customer(), 2)
        world.book(world.customer(), 2)
        me = world.customer("Me")
        mine = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=me, seats=2)
        world.core.bookings.cancel(freed.id, principal=ADMIN)
        with pytest.raises(CapacityError):
            world.book(me, 3)
        assert self._status(world, mine.id) is WaitlistStatus.OFFERED
        assert world.slot_now().seats_held == 4
        world.check_invariant()

    def test_rescheduling_onto_a_slot_the_customer_waits_on_ends_the_entry(
        self, world: World
    ) -> None:
        world.book(world.customer(), 4)
        me = world.customer("Me")
        mine = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=me, seats=2)
        location = world.core.catalog.location("BASE", principal=ADMIN)
        other = world.core.catalog.create_slot(
            location_id=location.id,
            starts_at=world.clock.now() + timedelta(days=12),
            price_per_traveler=Money("1000", "INR"),
            capacity=4,
            principal=ADMIN,
        )
        elsewhere = world.core.bookings.book(
            BookingRequest(other.id, _travelers(2), customer_id=me), principal=ADMIN
        )
        world.core.catalog.change_capacity(world.slot.id, 6, principal=ADMIN)
        assert self._status(world, mine.id) is WaitlistStatus.OFFERED
        world.core.bookings.reschedule(elsewhere.id, world.slot.id, principal=ADMIN)
        assert self._status(world, mine.id) is WaitlistStatus.CANCELLED
        assert world.slot_now().seats_held == 6
        world.check_invariant()

    def test_an_approved_quotation_for_the_slot_ends_the_entry(self, world: World) -> None:
        """The quotation's booking starts holding seats as it moves to ``booking_created``."""
        freed = world.book(world.customer(), 2)
        world.book(world.customer(), 2)
        me = world.customer("Me")
        mine = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=me, seats=2)
        quotation = world.core.quotations.create(
            QuotationRequest(
                customer_id=me, slot_id=world.slot.id, travelers=2, valid_until=date(2026, 1, 5)
            ),
            principal=ADMIN,
        )
        world.core.quotations.send(quotation.id, principal=ADMIN)
        world.core.bookings.cancel(freed.id, principal=ADMIN)
        assert self._status(world, mine.id) is WaitlistStatus.OFFERED
        booking = world.core.quotations.approve(quotation.id, _travelers(2), principal=ADMIN)
        assert booking.status == "booking_created"
        assert self._status(world, mine.id) is WaitlistStatus.CANCELLED
        assert world.slot_now().seats_held == 4
        world.check_invariant()

    def test_a_booking_that_holds_no_seats_keeps_the_entry_until_it_takes_them(
        self, world: World
    ) -> None:
        world.book(world.customer(), 4)
        me = world.customer("Me")
        mine = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=me, seats=1)
        request = BookingRequest(
            world.slot.id,
            _travelers(1),
            customer_id=me,
            lifecycle="appointment",
            status="WAITLISTED",
        )
        parked = world.core.bookings.book(request, principal=ADMIN)
        assert self._status(world, mine.id) is WaitlistStatus.WAITING
        world.core.catalog.change_capacity(world.slot.id, 5, principal=ADMIN)
        assert self._status(world, mine.id) is WaitlistStatus.OFFERED
        world.core.bookings.transition(parked.id, "PENDING", principal=ADMIN)
        assert self._status(world, mine.id) is WaitlistStatus.CANCELLED
        assert world.slot_now().seats_held == 5
        world.check_invariant()
