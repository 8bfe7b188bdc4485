"""The booking aggregate: one factory and one method per change, each checking every rule
and returning the history entry, audit entry and event it raised."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from bookingcore import (
    BookingId,
    CapacityError,
    CustomerId,
    DiscountTier,
    DuplicateError,
    InvalidTransitionError,
    Money,
    RequestOrigin,
    TravelerId,
    ValidationError,
)
from bookingcore.domain import (
    PRESETS,
    Actor,
    AuditAction,
    Author,
    Booking,
    BookingCreated,
    BookingDraft,
    BookingSource,
    BookingStatusChanged,
    BookingTraveler,
    BookingUpdated,
    Slot,
)
from bookingcore.testing.builders import T0, Builder

RESERVATION = PRESETS["reservation"]
TRAVEL = PRESETS["travel"]
ORIGIN = RequestOrigin("203.0.113.9", "phone-app/2.1")


def _author(now: object = T0) -> Author:
    return Author(actor=Actor.system(), now=now, new_id=uuid4, origin=ORIGIN)  # type: ignore[arg-type]


def _draft(
    seats: int = 2, *, status: str = "pending", price: Money | None = None, **fields: object
) -> BookingDraft:
    travelers = tuple(
        BookingTraveler(TravelerId(uuid4()), price or Money("100", "INR"), is_primary=i == 0)
        for i in range(seats)
    )
    values: dict[str, object] = {
        "id": BookingId(uuid4()),
        "reference": "BK-TEST0001",
        "customer_id": CustomerId(uuid4()),
        "travelers": travelers,
        "status": status,
    }
    return BookingDraft(**(values | fields))  # type: ignore[arg-type]


@pytest.fixture
def make() -> Builder:
    return Builder()


@pytest.fixture
def slot(make: Builder) -> Slot:
    return make.slot(make.location().id, capacity=3)


class TestOpen:
    def test_a_new_booking_holds_its_seats_and_raises_history_audit_and_event(
        self, slot: Slot
    ) -> None:
        booking, raised = Booking.open(
            _draft(2), slot=slot, lifecycle=RESERVATION, author=_author()
        )
        assert slot.seats_held == 2
        assert booking.total == Money("200", "INR")
        assert raised.history is not None
        assert (raised.history.from_status, raised.history.to_status) == (None, "pending")
        assert raised.audit.action is AuditAction.CREATED
        assert raised.audit.entity_id == booking.id
        assert raised.audit.ip_address == ORIGIN.ip_address
        assert raised.audit.new_values["status"] == "pending"
        assert isinstance(raised.event, BookingCreated)
        assert raised.event.travelers == 2
        assert len({raised.history.id, raised.audit.id, raised.event.id}) == 3

    def test_group_discount_tiers_of_the_slot_apply(self, make: Builder) -> None:
        slot = make.slot(make.location().id, group_discounts=[DiscountTier(3, Decimal(10))])
        booking, _ = Booking.open(_draft(3), slot=slot, lifecycle=RESERVATION, author=_author())
        assert booking.subtotal == Money("300", "INR")
        assert booking.total == Money("270", "INR")

    def test_too_few_seats_is_refused_and_nothing_is_held(self, slot: Slot) -> None:
        with pytest.raises(CapacityError):
            Booking.open(_draft(4), slot=slot, lifecycle=RESERVATION, author=_author())
        assert slot.seats_held == 0

    def test_a_status_that_holds_no_seats_takes_none(self, make: Builder) -> None:
        slot = make.slot(make.location().id, capacity=1)
        booking, _ = Booking.open(
            _draft(1, status="lead_created"), slot=slot, lifecycle=TRAVEL, author=_author()
        )
        assert booking.status == "lead_created"
        assert slot.seats_held == 0

    def test_a_direct_booking_must_start_in_a_start_state(self, slot: Slot) -> None:
        with pytest.raises(ValidationError) as caught:
            Booking.open(
                _draft(1, status="completed"), slot=slot, lifecycle=RESERVATION, author=_author()
            )
        assert caught.value.errors[0].field == "status"
        assert slot.seats_held == 0

    def test_an_import_may_record_a_booking_in_any_state_and_in_the_past(self, slot: Slot) -> None:
        later = slot.starts_at + timedelta(days=1)
        booking, raised = Booking.open(
            _draft(1, status="completed", source=BookingSource.IMPORT, note="import row 7"),
            slot=slot,
            lifecycle=RESERVATION,
            author=_author(later),
        )
        assert booking.status == "completed"
        assert raised.audit.reason == "import row 7"

    def test_a_started_slot_is_refused_for_direct_bookings(self, slot: Slot) -> None:
        with pytest.raises(ValidationError) as caught:
            Booking.open(
                _draft(1), slot=slot, lifecycle=RESERVATION, author=_author(slot.starts_at)
            )
        assert caught.value.errors[0].field == "slot_id"
        assert caught.value.errors[0].code == "past"

    def test_a_closed_slot_is_refused_for_everyone(self, make: Builder) -> None:
        slot = make.slot(make.location().id, is_active=False)
        for source in (BookingSource.DIRECT, BookingSource.IMPORT):
            with pytest.raises(ValidationError) as caught:
                Booking.open(
                    _draft(1, source=source), slot=slot, lifecycle=RESERVATION, author=_author()
                )
            assert caught.value.errors[0].code == "inactive"

    def test_a_price_in_another_currency_is_refused_naming_the_traveler(self, slot: Slot) -> None:
        with pytest.raises(ValidationError) as caught:
            Booking.open(
                _draft(1, price=Money("5", "USD")),
                slot=slot,
                lifecycle=RESERVATION,
                author=_author(),
            )
        assert caught.value.errors[0].field == "travelers[0].price"

    def test_an_active_booking_for_the_same_travelers_is_a_duplicate(self, slot: Slot) -> None:
        first, _ = Booking.open(_draft(1), slot=slot, lifecycle=RESERVATION, author=_author())
        again = _draft(1, customer_id=first.customer_id, travelers=first.travelers)
        with pytest.raises(DuplicateError) as caught:
            Booking.open(again, slot=slot, lifecycle=RESERVATION, author=_author(), others=[first])
        assert caught.value.existing_id == first.id
        with pytest.raises(DuplicateError) as hidden:
            Booking.open(
                again,
                slot=slot,
                lifecycle=RESERVATION,
                author=_author(),
                others=[first],
                may_see=lambda _: False,
            )
        assert hidden.value.existing_id is None
        assert slot.seats_held == 1

    def test_a_cancelled_booking_for_the_same_travelers_is_no_duplicate(self, slot: Slot) -> None:
        first, _ = Booking.open(_draft(1), slot=slot, lifecycle=RESERVATION, author=_author())
        first.move("cancelled", lifecycle=RESERVATION, author=_author(), slot=slot)
        again = _draft(1, customer_id=first.customer_id, travelers=first.travelers)
        Booking.open(again, slot=slot, lifecycle=RESERVATION, author=_author(), others=[first])
        assert slot.seats_held == 1


class TestMove:
    def _open(self, slot: Slot, travelers: int = 3) -> Booking:
        booking, _ = Booking.open(
            _draft(travelers), slot=slot, lifecycle=RESERVATION, author=_author()
        )
        return booking

    def test_cancelling_gives_back_every_seat_and_keeps_the_reason(self, slot: Slot) -> None:
        booking = self._open(slot)
        later = T0 + timedelta(hours=2)
        raised = booking.move(
            "cancelled",
            lifecycle=RESERVATION,
            author=_author(later),
            slot=slot,
            note="change of plans",
        )
        assert slot.seats_held == 0
        assert booking.status == "cancelled"
        assert booking.cancelled_at == later
        assert booking.cancellation_reason == "change of plans"
        assert booking.version == 2
        assert raised.history is not None
        assert raised.history.booking_version == 2
        assert raised.audit.old_values == {"status": "pending"}
        assert raised.audit.action is AuditAction.STATUS_CHANGED
        assert isinstance(raised.event, BookingStatusChanged)
        assert raised.event.to_status == "cancelled"

    def test_moving_between_holding_states_needs_no_slot(self, slot: Slot) -> None:
        booking = self._open(slot, travelers=2)
        assert booking.seats_to_move("confirmed", RESERVATION) == 0
        booking.move("confirmed", lifecycle=RESERVATION, author=_author())
        assert booking.status == "confirmed"
        assert slot.seats_held == 2

    def test_a_move_that_changes_seats_without_its_slot_is_a_programming_error(
        self, slot: Slot
    ) -> None:
        booking = self._open(slot)
        with pytest.raises(ValueError, match="needs its slot"):
            booking.move("cancelled", lifecycle=RESERVATION, author=_author())
        assert booking.status == "pending"

    def test_entering_a_holding_state_without_room_is_refused_unchanged(
        self, make: Builder
    ) -> None:
        slot = make.slot(make.location().id, capacity=1)
        booking, _ = Booking.open(
            _draft(2, status="quotation_approved", source=BookingSource.IMPORT),
            slot=slot,
            lifecycle=TRAVEL,
            author=_author(),
        )
        assert booking.seats_to_move("booking_created", TRAVEL) == 2
        with pytest.raises(CapacityError):
            booking.move("booking_created", lifecycle=TRAVEL, author=_author(), slot=slot)
        assert booking.status == "quotation_approved"
        assert booking.version == 1

    def test_an_illegal_move_raises_and_leaves_the_booking_unchanged(self, slot: Slot) -> None:
        booking = self._open(slot)
        with pytest.raises(InvalidTransitionError) as caught:
            booking.move("completed", lifecycle=RESERVATION, author=_author(), slot=slot)
        assert (caught.value.from_state, caught.value.to_state) == ("pending", "completed")
        assert booking.status == "pending"
        assert booking.version == 1
        assert slot.seats_held == 3

    def test_malformed_metadata_refuses_the_move_unchanged(self, slot: Slot) -> None:
        booking = self._open(slot)
        too_many = {f"k{i}": "v" for i in range(51)}
        with pytest.raises(ValidationError):
            booking.move(
                "cancelled", lifecycle=RESERVATION, author=_author(), slot=slot, metadata=too_many
            )
        assert (booking.status, booking.cancelled_at, booking.version) == ("pending", None, 1)
        assert slot.seats_held == 3


class TestEdit:
    def test_an_edit_records_old_and_new_values(self, slot: Slot) -> None:
        booking, _ = Booking.open(_draft(1), slot=slot, lifecycle=RESERVATION, author=_author())
        raised = booking.edit(
            {"internal_notes": "VIP", "metadata": {"a": "1"}}, author=_author(), reason="call"
        )
        assert raised is not None
        assert raised.history is None
        assert raised.audit.old_values == {"internal_notes": None, "metadata": {}}
        assert raised.audit.new_values == {"internal_notes": "VIP", "metadata": {"a": "1"}}
        assert isinstance(raised.event, BookingUpdated)
        assert raised.event.fields == ("internal_notes", "metadata")
        assert booking.version == 2

    def test_an_edit_that_changes_nothing_raises_nothing(self, slot: Slot) -> None:
        booking, _ = Booking.open(_draft(1), slot=slot, lifecycle=RESERVATION, author=_author())
        assert booking.edit({"internal_notes": None}, author=_author()) is None
        assert booking.version == 1

    def test_fields_outside_the_bookkeeping_ones_cannot_be_edited(self, slot: Slot) -> None:
        booking, _ = Booking.open(_draft(1), slot=slot, lifecycle=RESERVATION, author=_author())
        with pytest.raises(ValueError, match="not editable"):
            booking.edit({"status": "confirmed"}, author=_author())


def test_ids_of_raised_records_come_from_the_author() -> None:
    counter = iter(range(1, 100))
    author = Author(
        actor=Actor.system(), now=T0, new_id=lambda: UUID(int=next(counter)), origin=None
    )
    slot = Builder().slot(Builder().location().id)
    _, raised = Booking.open(_draft(1), slot=slot, lifecycle=RESERVATION, author=author)
    assert raised.history is not None
    assert [raised.history.id.int, raised.audit.id.int, raised.event.id.int] == [1, 2, 3]
