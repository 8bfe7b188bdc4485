"""BookingService.transition, cancel and history over the memory adapter."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from bookingcore import (
    BookingChanges,
    BookingCore,
    BookingRequest,
    CapacityError,
    CustomerDetails,
    IdempotencyConflictError,
    InvalidTransitionError,
    Money,
    NewTraveler,
    NotFoundError,
    PermissionDeniedError,
    Principal,
    StaffId,
    StaffRole,
    StaleVersionError,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import APPOINTMENT, RESERVATION, Actor, ActorKind, Booking, Slot
from bookingcore.domain.audit import AuditAction
from bookingcore.domain.lifecycle import replay
from bookingcore.testing import FixedClock
from bookingcore_adapters.memory import MemoryStore

WRITES = ("lifecycle_events", "audit", "outbox", "bookings", "slots")


def written(store: MemoryStore) -> dict[str, int]:
    return {table: store.count(table) for table in WRITES}


class World:
    """A location with a reservation slot and an appointment slot, and a customer."""

    def __init__(self, core: BookingCore, admin: Principal, clock: FixedClock) -> None:
        self.core, self.admin, self.clock = core, admin, clock
        self.camp = core.catalog.add_location("CAMP", "Base camp", principal=admin)
        self.trek = self.slot(capacity=10)
        self.customer = core.customers.register("+919876543210", principal=admin).customer
        self.me = Principal.customer(self.customer.id)
        self._phones = iter(range(1, 10_000))

    def slot(self, *, capacity: int | None, product_id: Any = None) -> Slot:
        return self.core.catalog.create_slot(
            location_id=self.camp.id,
            product_id=product_id,
            starts_at=self.clock.now() + timedelta(days=10),
            price_per_traveler=Money("1000", "INR"),
            capacity=capacity,
            principal=self.admin,
        )

    def mine(self, slot: Slot | None = None, *, travelers: int = 1, **options: Any) -> Booking:
        """A booking the customer makes for themselves."""
        return self.core.bookings.book(
            BookingRequest(
                (slot or self.trek).id,
                [
                    NewTraveler(TravelerDetails(f"Mine {next(self._phones)}"), is_primary=i == 0)
                    for i in range(travelers)
                ],
                **options,
            ),
            principal=self.me,
        )

    def theirs(
        self,
        slot: Slot | None = None,
        *,
        travelers: int = 1,
        principal: Principal | None = None,
        **options: Any,
    ) -> Booking:
        """A booking staff (or ``principal``) make for a new customer."""
        number = next(self._phones)
        return self.core.bookings.book(
            BookingRequest(
                (slot or self.trek).id,
                [
                    NewTraveler(TravelerDetails(f"Guest {number} {i}"), is_primary=i == 0)
                    for i in range(travelers)
                ],
                customer=CustomerDetails(f"+9197{number:08d}"),
                **options,
            ),
            principal=principal or self.admin,
        )

    def seats_held(self, slot: Slot) -> int:
        return self.core.catalog.get_slot(slot.id, principal=self.admin).seats_held

    def stored(self, booking: Booking) -> Booking:
        return self.core.bookings.get(booking.id, principal=self.admin)

    def history(self, booking: Booking) -> list[Any]:
        return list(self.core.bookings.history(booking.id, principal=self.admin))

    def trail(self, booking: Booking) -> list[Any]:
        return list(self.core.bookings.audit_trail(booking.id, principal=self.admin))


@pytest.fixture
def world(core: BookingCore, admin: Principal, clock: FixedClock) -> World:
    return World(core, admin, clock)


def unchanged(world: World, store: MemoryStore, booking: Booking) -> Any:
    """A snapshot of what a refused move must not change."""
    stored = world.stored(booking)
    return (
        written(store),
        stored.status,
        stored.version,
        stored.updated_at,
        len(world.history(booking)),
        len(world.trail(booking)),
    )


# ---------------------------------------------------------------------- refused moves


class TestRefusedMoves:
    def test_a_move_the_lifecycle_lacks_names_both_states_and_writes_nothing(
        self, world: World, core: BookingCore, store: MemoryStore, clock: FixedClock
    ) -> None:
        booking = world.mine()
        before = unchanged(world, store, booking)
        clock.advance(minutes=1)
        with pytest.raises(InvalidTransitionError) as refused:
            core.bookings.transition(booking.id, "completed", principal=world.admin)
        assert (refused.value.from_state, refused.value.to_state) == ("pending", "completed")
        assert refused.value.lifecycle == "reservation"
        assert unchanged(world, store, booking) == before

    def test_an_unknown_target_is_a_validation_error_on_to(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        booking = world.mine()
        before = unchanged(world, store, booking)
        with pytest.raises(ValidationError) as refused:
            core.bookings.transition(booking.id, "teleported", principal=world.admin)
        assert refused.value.fields == ("to",)
        assert refused.value.errors[0].code == "invalid_choice"
        assert unchanged(world, store, booking) == before

    @pytest.mark.parametrize("spelling", ["CONFIRMED", "Confirmed", "  confirmed "])
    def test_status_names_resolve_case_insensitively(
        self, world: World, core: BookingCore, spelling: str
    ) -> None:
        booking = world.mine()
        moved = core.bookings.transition(booking.id, spelling, principal=world.admin)
        assert moved.booking.status == "confirmed"
        assert moved.event.to_status == "confirmed"
        assert world.stored(booking).status == "confirmed"

    def test_appointment_states_resolve_from_lower_case(
        self, world: World, core: BookingCore
    ) -> None:
        booking = world.theirs(world.slot(capacity=5), lifecycle="appointment")
        assert booking.status == "PENDING"
        moved = core.bookings.transition(booking.id, "assigned", principal=world.admin)
        assert moved.booking.status == "ASSIGNED"

    def test_an_unknown_booking_is_not_found(self, world: World, core: BookingCore) -> None:
        with pytest.raises(NotFoundError):
            core.bookings.transition(uuid4(), "confirmed", principal=world.admin)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- what a move writes


class TestWhatAMoveWrites:
    def test_one_history_entry_with_everything_about_the_move(
        self, world: World, core: BookingCore, store: MemoryStore, clock: FixedClock
    ) -> None:
        booking = world.mine()
        before = written(store)
        clock.advance(hours=2)
        moved = core.bookings.transition(
            booking.id,
            "confirmed",
            principal=world.admin,
            note="deposit received",
            idempotency_key="pay-1",
            metadata={"payment_id": "pay_123", "gateway": "razorpay"},
        )
        event = moved.event
        assert moved.replayed is False
        assert (event.booking_id, event.lifecycle) == (booking.id, "reservation")
        assert (event.from_status, event.to_status) == ("pending", "confirmed")
        assert event.actor == world.admin.actor
        assert event.note == "deposit received"
        assert event.idempotency_key == f"staff:{world.admin.id}:pay-1"
        assert dict(event.metadata) == {"payment_id": "pay_123", "gateway": "razorpay"}
        assert event.occurred_at == clock.now()
        assert event.booking_version == moved.booking.version == booking.version + 1
        assert moved.booking.updated_at == clock.now()
        assert world.history(booking)[-1] == event
        after = written(store)
        assert after["lifecycle_events"] == before["lifecycle_events"] + 1
        assert after["audit"] == before["audit"] + 1
        assert after["outbox"] == before["outbox"] + 1

    def test_one_audit_entry_with_the_old_and_new_status_and_the_request_origin(
        self, world: World, core: BookingCore, clock: FixedClock
    ) -> None:
        booking = world.mine()
        clock.advance(minutes=30)
        staff = world.admin.with_origin(ip_address="203.0.113.9", user_agent="ops-console/2.1")
        core.bookings.transition(booking.id, "confirmed", principal=staff, note="called back")
        trail = world.trail(booking)
        assert [e.action for e in trail] == [AuditAction.CREATED, AuditAction.STATUS_CHANGED]
        entry = trail[-1]
        assert (dict(entry.old_values), dict(entry.new_values)) == (
            {"status": "pending"},
            {"status": "confirmed"},
        )
        assert entry.reason == "called back"
        assert (entry.ip_address, entry.user_agent) == ("203.0.113.9", "ops-console/2.1")
        assert entry.actor == world.admin.actor
        assert (entry.entity, entry.entity_id, entry.booking_id) == (
            "booking",
            booking.id,
            booking.id,
        )
        assert entry.occurred_at == clock.now()

    def test_without_an_origin_the_audit_entry_has_none(
        self, world: World, core: BookingCore
    ) -> None:
        booking = world.mine()
        core.bookings.transition(booking.id, "confirmed", principal=world.admin)
        entry = world.trail(booking)[-1]
        assert (entry.ip_address, entry.user_agent, entry.reason) == (None, None, None)

    def test_cancel_keeps_the_reason_on_the_booking_history_and_audit(
        self, world: World, core: BookingCore, clock: FixedClock
    ) -> None:
        booking = world.mine()
        clock.advance(days=1)
        cancelled = core.bookings.cancel(booking.id, principal=world.me, reason="fell ill")
        assert (cancelled.status, cancelled.cancellation_reason) == ("cancelled", "fell ill")
        assert cancelled.cancelled_at == clock.now()
        event = world.history(booking)[-1]
        assert (event.to_status, event.note, event.actor) == (
            "cancelled",
            "fell ill",
            world.me.actor,
        )
        assert world.trail(booking)[-1].reason == "fell ill"


# ---------------------------------------------------------------------- seats


class TestSeats:
    def test_leaving_a_holding_state_gives_seats_back_and_reentering_takes_them(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        slot = world.slot(capacity=3)
        booking = world.theirs(slot, travelers=2, lifecycle="appointment")
        assert world.seats_held(slot) == 2
        core.bookings.transition(booking.id, "assigned", principal=world.admin)
        assert world.seats_held(slot) == 2
        core.bookings.cancel(booking.id, principal=world.admin)
        assert world.seats_held(slot) == 0
        other = world.theirs(slot, travelers=2, lifecycle="appointment")
        assert world.seats_held(slot) == 2
        before = unchanged(world, store, booking)
        with pytest.raises(CapacityError) as full:
            core.bookings.transition(booking.id, "PENDING", principal=world.admin)
        assert (full.value.requested, full.value.seats_left) == (2, 1)
        assert full.value.slot_id == slot.id
        assert unchanged(world, store, booking) == before
        assert world.seats_held(slot) == 2
        core.bookings.cancel(other.id, principal=world.admin)
        reactivated = core.bookings.transition(booking.id, "PENDING", principal=world.admin)
        assert reactivated.booking.status == "PENDING"
        assert reactivated.event.from_status == "CANCELLED"
        assert world.seats_held(slot) == 2

    def test_a_reactivated_booking_is_no_longer_marked_cancelled(
        self, world: World, core: BookingCore
    ) -> None:
        booking = world.theirs(world.slot(capacity=3), lifecycle="appointment")
        core.bookings.cancel(booking.id, principal=world.admin, reason="car broke down")
        reactivated = core.bookings.transition(booking.id, "PENDING", principal=world.admin)
        stored = core.bookings.get(booking.id, principal=world.admin)
        for seen in (reactivated.booking, stored):
            assert (seen.cancelled_at, seen.cancellation_reason) == (None, None)
        # its share links open again (docs/sharing.md: "It follows the booking back")
        assert core.sharing.shared_booking_status(stored) is not None
        # the reason stays on the cancellation's history entry
        assert world.history(booking)[-2].note == "car broke down"

    def test_a_waitlisted_booking_holds_no_seats_until_it_moves_to_pending(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        slot = world.slot(capacity=2)
        first = world.theirs(slot, travelers=2, lifecycle="appointment")
        waiting = world.theirs(slot, travelers=2, lifecycle="appointment", status="waitlisted")
        assert waiting.status == "WAITLISTED"
        assert world.seats_held(slot) == 2
        assert [(e.from_status, e.to_status) for e in world.history(waiting)] == [
            (None, "WAITLISTED")
        ]
        before = unchanged(world, store, waiting)
        with pytest.raises(CapacityError):
            core.bookings.transition(waiting.id, "PENDING", principal=world.admin)
        assert unchanged(world, store, waiting) == before
        core.bookings.cancel(first.id, principal=world.admin)
        assert world.seats_held(slot) == 0
        moved = core.bookings.transition(waiting.id, "PENDING", principal=world.admin)
        assert moved.booking.status == "PENDING"
        assert world.seats_held(slot) == 2

    def test_cancelling_a_waitlisted_booking_gives_nothing_back(
        self, world: World, core: BookingCore
    ) -> None:
        slot = world.slot(capacity=2)
        world.theirs(slot, travelers=1, lifecycle="appointment")
        waiting = world.theirs(slot, travelers=1, lifecycle="appointment", status="WAITLISTED")
        core.bookings.cancel(waiting.id, principal=world.admin)
        assert world.seats_held(slot) == 1

    def test_a_booking_may_not_start_in_a_state_that_is_not_a_start_state(
        self, world: World, store: MemoryStore
    ) -> None:
        slot = world.slot(capacity=2)
        before = written(store)
        with pytest.raises(ValidationError) as refused:
            world.theirs(slot, lifecycle="appointment", status="ASSIGNED")
        assert refused.value.fields == ("status",)
        assert refused.value.errors[0].code == "not_a_start_state"
        assert written(store) == before
        assert world.seats_held(slot) == 0


# ---------------------------------------------------------------------- idempotency


class TestIdempotency:
    def test_a_repeat_returns_the_first_move_and_writes_nothing(
        self, world: World, core: BookingCore, store: MemoryStore, clock: FixedClock
    ) -> None:
        booking = world.mine()
        call = {
            "principal": world.admin,
            "note": "paid",
            "idempotency_key": "webhook-77",
            "metadata": {"payment": "p1"},
        }
        first = core.bookings.transition(booking.id, "confirmed", **call)
        before = unchanged(world, store, booking)
        clock.advance(minutes=3)
        again = core.bookings.transition(booking.id, "confirmed", **call)
        assert again.replayed is True
        assert again.event == first.event
        assert again.booking.id == booking.id
        assert again.booking.version == first.booking.version
        assert again.booking.status == "confirmed"
        assert unchanged(world, store, booking) == before

    def test_a_replay_returns_the_booking_as_it_is_now(
        self, world: World, core: BookingCore
    ) -> None:
        booking = world.mine()
        first = core.bookings.transition(
            booking.id, "confirmed", principal=world.admin, idempotency_key="k1"
        )
        core.bookings.transition(booking.id, "completed", principal=world.admin)
        again = core.bookings.transition(
            booking.id, "confirmed", principal=world.admin, idempotency_key="k1"
        )
        assert again.replayed is True
        assert again.event == first.event
        assert again.booking.status == "completed"

    @pytest.mark.parametrize(
        "changed",
        [
            {"to": "cancelled"},
            {"note": "another note"},
            {"metadata": {"payment": "p2"}},
            {"metadata": {"payment": "p1", "extra": "x"}},
        ],
        ids=["target", "note", "metadata-value", "metadata-keys"],
    )
    def test_the_same_key_for_a_different_request_is_a_conflict(
        self, world: World, core: BookingCore, store: MemoryStore, changed: dict[str, Any]
    ) -> None:
        booking = world.mine()
        call: dict[str, Any] = {
            "to": "confirmed",
            "principal": world.admin,
            "note": "paid",
            "idempotency_key": "webhook-78",
            "metadata": {"payment": "p1"},
        }
        core.bookings.transition(booking.id, **call)
        before = unchanged(world, store, booking)
        with pytest.raises(IdempotencyConflictError) as conflict:
            core.bookings.transition(booking.id, **{**call, **changed})
        assert conflict.value.key == "webhook-78"
        assert unchanged(world, store, booking) == before

    def test_a_cancel_repeated_with_its_key_is_a_replay_and_without_it_is_refused(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        booking = world.mine(travelers=2)
        assert world.seats_held(world.trek) == 2
        first = core.bookings.cancel(
            booking.id, principal=world.me, reason="plans changed", idempotency_key="c-1"
        )
        assert world.seats_held(world.trek) == 0
        before = unchanged(world, store, booking)
        again = core.bookings.cancel(
            booking.id, principal=world.me, reason="plans changed", idempotency_key="c-1"
        )
        assert (again.id, again.status, again.version) == (first.id, "cancelled", first.version)
        assert unchanged(world, store, booking) == before
        assert world.seats_held(world.trek) == 0
        with pytest.raises(IdempotencyConflictError):
            core.bookings.cancel(
                booking.id, principal=world.me, reason="other reason", idempotency_key="c-1"
            )
        with pytest.raises(InvalidTransitionError):
            core.bookings.cancel(booking.id, principal=world.me, reason="plans changed")
        assert unchanged(world, store, booking) == before

    def test_a_key_used_on_one_booking_conflicts_on_another(
        self, world: World, core: BookingCore
    ) -> None:
        one, two = world.mine(), world.mine()
        core.bookings.transition(one.id, "confirmed", principal=world.admin, idempotency_key="k")
        with pytest.raises(IdempotencyConflictError):
            core.bookings.transition(
                two.id, "confirmed", principal=world.admin, idempotency_key="k"
            )
        assert world.stored(two).status == "pending"


# ---------------------------------------------------------------------- versions


class TestExpectedVersion:
    def test_a_stale_version_is_refused_and_nothing_is_written(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        booking = world.mine()
        moved = core.bookings.transition(
            booking.id, "confirmed", principal=world.admin, expected_version=booking.version
        )
        before = unchanged(world, store, booking)
        with pytest.raises(StaleVersionError) as stale:
            core.bookings.transition(
                booking.id, "completed", principal=world.admin, expected_version=booking.version
            )
        assert (stale.value.expected, stale.value.actual) == (
            booking.version,
            moved.booking.version,
        )
        assert unchanged(world, store, booking) == before
        done = core.bookings.transition(
            booking.id, "completed", principal=world.admin, expected_version=moved.booking.version
        )
        assert done.booking.status == "completed"

    def test_a_stale_cancel_keeps_the_seats(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        booking = world.mine(travelers=3)
        core.bookings.update(booking.id, BookingChanges(referral_source="x"), principal=world.me)
        before = unchanged(world, store, booking)
        with pytest.raises(StaleVersionError):
            core.bookings.cancel(booking.id, principal=world.me, expected_version=booking.version)
        assert unchanged(world, store, booking) == before
        assert world.seats_held(world.trek) == 3


# ---------------------------------------------------------------------- metadata


class TestMetadata:
    def refused(
        self, world: World, store: MemoryStore, booking: Booking, metadata: Any
    ) -> ValidationError:
        before = unchanged(world, store, booking)
        with pytest.raises(ValidationError) as error:
            world.core.bookings.transition(
                booking.id, "confirmed", principal=world.admin, metadata=metadata
            )
        assert unchanged(world, store, booking) == before
        return error.value

    def test_values_must_be_strings(self, world: World, store: MemoryStore) -> None:
        error = self.refused(world, store, world.mine(), {"ok": "yes", "count": 3})
        assert error.fields == ("metadata.count",)
        assert error.errors[0].code == "invalid_value"

    def test_keys_are_at_most_100_characters(self, world: World, store: MemoryStore) -> None:
        long_key = "k" * 101
        error = self.refused(world, store, world.mine(), {long_key: "v"})
        assert error.fields == (f"metadata.{long_key[:100]}",)
        assert error.errors[0].code == "invalid_key"

    def test_at_most_50_entries(self, world: World, store: MemoryStore) -> None:
        error = self.refused(world, store, world.mine(), {f"k{i}": "v" for i in range(51)})
        assert [e.code for e in error.errors] == ["too_many"]
        assert error.fields == ("metadata",)

    def test_the_limits_themselves_are_accepted(self, world: World, core: BookingCore) -> None:
        metadata = {f"k{i}": "v" for i in range(49)} | {"x" * 100: "y" * 1000}
        moved = core.bookings.transition(
            world.mine().id, "confirmed", principal=world.admin, metadata=metadata
        )
        assert dict(moved.event.metadata) == metadata

    def test_metadata_must_be_a_mapping(self, world: World, store: MemoryStore) -> None:
        error = self.refused(world, store, world.mine(), [("a", "b")])
        assert error.fields == ("metadata",)


# ---------------------------------------------------------------------- policy


class TestPolicy:
    def test_a_customer_cancels_their_own_booking_but_may_not_confirm_it(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        booking = world.mine()
        before = unchanged(world, store, booking)
        with pytest.raises(PermissionDeniedError):
            core.bookings.transition(booking.id, "confirmed", principal=world.me)
        assert unchanged(world, store, booking) == before
        moved = core.bookings.transition(booking.id, "cancelled", principal=world.me)
        assert moved.booking.status == "cancelled"
        assert moved.event.actor == world.me.actor

    def test_a_customer_may_not_cancel_once_the_slot_has_started(
        self, world: World, core: BookingCore, clock: FixedClock
    ) -> None:
        booking = world.mine()
        clock.advance(days=10)
        with pytest.raises(PermissionDeniedError):
            core.bookings.transition(booking.id, "cancelled", principal=world.me)
        assert world.stored(booking).status == "pending"

    def test_a_customer_may_not_touch_another_customers_booking(
        self, world: World, core: BookingCore
    ) -> None:
        other = world.theirs()
        with pytest.raises(NotFoundError):
            core.bookings.cancel(other.id, principal=world.me)
        assert world.stored(other).status == "pending"

    def test_an_advisor_moves_only_the_bookings_assigned_to_them(
        self, world: World, core: BookingCore
    ) -> None:
        advisor_id, colleague_id = (
            core.staff.add(f"{name}@example.com", name, principal=world.admin).id
            for name in ("Advisor", "Colleague")
        )
        advisor = Principal.staff(advisor_id, StaffRole.ADVISOR)
        assigned, elsewhere, unassigned = world.theirs(), world.theirs(), world.theirs()
        core.bookings.update(
            assigned.id, BookingChanges(assignee_id=advisor_id), principal=world.admin
        )
        core.bookings.update(
            elsewhere.id, BookingChanges(assignee_id=colleague_id), principal=world.admin
        )
        moved = core.bookings.transition(assigned.id, "confirmed", principal=advisor)
        assert moved.booking.status == "confirmed"
        assert moved.event.actor == Actor(ActorKind.STAFF, str(advisor_id))
        for booking in (elsewhere, unassigned):
            with pytest.raises(NotFoundError):
                core.bookings.transition(booking.id, "confirmed", principal=advisor)
            assert world.stored(booking).status == "pending"

    def test_supplier_staff_move_the_bookings_of_their_supplier(
        self, world: World, core: BookingCore, admin: Principal
    ) -> None:
        guides = core.catalog.add_supplier("GUIDES", "Himalaya Guides", principal=admin)
        boats = core.catalog.add_supplier("BOATS", "Reef Boats", principal=admin)
        product = core.catalog.add_product(
            "HAMPTA", "Hampta Pass", "trek", supplier_id=guides.id, principal=admin
        )
        booking = world.theirs(world.slot(capacity=5, product_id=product.id))
        plain = world.theirs()
        assert booking.supplier_id == guides.id
        guide_desk = Principal.staff(StaffId(uuid4()), StaffRole.SUPPLIER, supplier_id=guides.id)
        boat_desk = Principal.staff(StaffId(uuid4()), StaffRole.SUPPLIER, supplier_id=boats.id)
        with pytest.raises(NotFoundError):
            core.bookings.transition(booking.id, "confirmed", principal=boat_desk)
        with pytest.raises(NotFoundError):
            core.bookings.transition(plain.id, "confirmed", principal=guide_desk)
        moved = core.bookings.transition(booking.id, "confirmed", principal=guide_desk)
        assert moved.booking.status == "confirmed"
        assert moved.event.actor == Actor(ActorKind.SUPPLIER, str(guides.id))
        assert world.stored(plain).status == "pending"

    def test_a_webhook_moves_no_booking_by_hand(self, world: World, core: BookingCore) -> None:
        # What a payment does to its booking the payment service moves itself; a
        # provider's webhook sees no booking, so it moves none through the API.
        payments = Principal.webhook("payments")
        for booking in (world.mine(), world.theirs()):
            with pytest.raises(NotFoundError):
                core.bookings.transition(booking.id, "confirmed", principal=payments)
            assert world.stored(booking).status == "pending"

    def test_a_partner_cancels_only_its_own_bookings(
        self, world: World, core: BookingCore, admin: Principal
    ) -> None:
        partner = core.partners.register(
            name="TrekMates",
            company_name="TrekMates Pvt Ltd",
            contact_email="ops@trekmates.example",
            allowed_location_ids=[world.camp.id],
            principal=admin,
        ).partner
        as_partner = Principal.partner(partner.id)
        ours = world.theirs(principal=as_partner)
        direct = world.mine()
        with pytest.raises(PermissionDeniedError):
            core.bookings.transition(ours.id, "confirmed", principal=as_partner)
        with pytest.raises(NotFoundError):
            core.bookings.cancel(direct.id, principal=as_partner)
        assert world.stored(direct).status == "pending"
        cancelled = core.bookings.cancel(ours.id, principal=as_partner, reason="no show")
        assert cancelled.status == "cancelled"

    def test_an_editor_who_may_only_read_cannot_move_bookings(
        self, world: World, core: BookingCore
    ) -> None:
        editor = Principal.staff(StaffId(uuid4()), StaffRole.EDITOR)
        booking = world.mine()
        for target in ("confirmed", "cancelled"):
            with pytest.raises(PermissionDeniedError):
                core.bookings.transition(booking.id, target, principal=editor)
        assert world.stored(booking).status == "pending"


# ---------------------------------------------------------------------- history


class TestHistory:
    def test_history_starts_with_the_creation_and_replays_to_the_status(
        self, world: World, core: BookingCore, clock: FixedClock
    ) -> None:
        booking = world.mine()
        clock.advance(hours=1)
        core.bookings.transition(booking.id, "confirmed", principal=world.admin)
        clock.advance(hours=1)
        core.bookings.transition(booking.id, "no_show", principal=world.admin)
        history = core.bookings.history(booking.id, principal=world.me)
        assert [(e.from_status, e.to_status) for e in history] == [
            (None, "pending"),
            ("pending", "confirmed"),
            ("confirmed", "no_show"),
        ]
        assert [e.booking_version for e in history] == [1, 2, 3]
        assert [e.occurred_at for e in history] == sorted(e.occurred_at for e in history)
        assert history[0].actor == world.me.actor
        assert replay(RESERVATION, history) == world.stored(booking).status == "no_show"

    def test_an_appointment_history_with_a_reactivation_replays_to_the_status(
        self, world: World, core: BookingCore
    ) -> None:
        booking = world.theirs(world.slot(capacity=4), lifecycle="appointment", status="WAITLISTED")
        for target in ("PENDING", "CANCELLED", "PENDING", "ASSIGNED", "IN_PROGRESS"):
            core.bookings.transition(booking.id, target, principal=world.admin)
        history = world.history(booking)
        assert [e.to_status for e in history] == [
            "WAITLISTED",
            "PENDING",
            "CANCELLED",
            "PENDING",
            "ASSIGNED",
            "IN_PROGRESS",
        ]
        assert replay(APPOINTMENT, history) == world.stored(booking).status == "IN_PROGRESS"
        assert [e.booking_version for e in history] == list(range(1, 7))

    def test_another_customer_may_not_read_the_history(
        self, world: World, core: BookingCore, admin: Principal
    ) -> None:
        booking = world.mine()
        stranger = core.customers.register("+919000000001", principal=admin).customer
        with pytest.raises(NotFoundError):
            core.bookings.history(booking.id, principal=Principal.customer(stranger.id))
        assert len(core.bookings.history(booking.id, principal=world.me)) == 1
