"""The booking aggregate's reschedule and traveler changes, and a waiting entry's move in line."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import attrs
import pytest

from bookingcore import (
    CapacityError,
    CustomerId,
    DiscountTier,
    InvalidTransitionError,
    Money,
    TravelerId,
    ValidationError,
)
from bookingcore.domain import (
    PRESETS,
    Actor,
    Author,
    BookingRescheduled,
    BookingTraveler,
    BookingUpdated,
    WaitlistStatus,
)
from bookingcore.testing.builders import T0, Builder

RESERVATION = PRESETS["reservation"]


def _author() -> Author:
    return Author(actor=Actor.system(), now=T0, new_id=uuid4)


@pytest.fixture
def make() -> Builder:
    return Builder(now=T0)


def _held(make: Builder, seats: int = 2):  # type: ignore[no-untyped-def]
    location = make.location()
    old = make.slot(location.id, capacity=4, seats_held=seats)
    booking = make.booking(CustomerId(uuid4()), old, [TravelerId(uuid4()) for _ in range(seats)])
    return old, booking


class TestReschedule:
    def test_seats_and_prices_move_and_the_difference_is_returned(self, make: Builder) -> None:
        old, booking = _held(make)
        new = make.slot(
            old.location_id,
            price_per_traveler=Money("150", "INR"),
            starts_at=old.starts_at + timedelta(days=2),
        )
        difference, raised = booking.reschedule(
            new, from_slot=old, lifecycle=RESERVATION, author=_author(), note="rain"
        )
        assert difference == Money("100", "INR")
        assert (old.seats_held, new.seats_held) == (0, 2)
        assert (booking.slot_id, booking.starts_at) == (new.id, new.starts_at)
        assert booking.total == Money("300", "INR")
        assert isinstance(raised.event, BookingRescheduled)
        assert raised.history is None
        assert raised.audit.new_values["price_difference"] == "100.00 INR"

    def test_hand_set_prices_stay_and_the_new_slots_discount_applies(self, make: Builder) -> None:
        old, booking = _held(make, seats=2)
        special = attrs.evolve(booking.travelers[1], price=Money("40", "INR"))
        booking.travelers = (booking.travelers[0], special)
        tiers = (DiscountTier(2, 10),)
        new = make.slot(old.location_id, group_discounts=tiers)
        booking.reschedule(new, from_slot=old, lifecycle=RESERVATION, author=_author())
        assert [t.price for t in booking.travelers] == [Money("100", "INR"), Money("40", "INR")]
        assert booking.discount == Money("14", "INR")

    def test_a_full_slot_refuses_and_nothing_changes(self, make: Builder) -> None:
        old, booking = _held(make)
        full = make.slot(old.location_id, capacity=1)
        before = (booking.slot_id, booking.version, old.seats_held)
        with pytest.raises(CapacityError):
            booking.reschedule(full, from_slot=old, lifecycle=RESERVATION, author=_author())
        assert (booking.slot_id, booking.version, old.seats_held) == before
        assert full.seats_held == 0

    def test_an_ended_booking_or_another_currency_is_refused(self, make: Builder) -> None:
        old, booking = _held(make)
        dollars = make.slot(old.location_id, price_per_traveler=Money("5", "USD"))
        with pytest.raises(ValidationError):
            booking.reschedule(dollars, from_slot=old, lifecycle=RESERVATION, author=_author())
        booking.status = "completed"
        other = make.slot(old.location_id)
        with pytest.raises(InvalidTransitionError):
            booking.reschedule(other, from_slot=old, lifecycle=RESERVATION, author=_author())


class TestChangeTravelers:
    def test_more_travelers_take_seats_and_are_priced(self, make: Builder) -> None:
        slot, booking = _held(make)
        extra = BookingTraveler(TravelerId(uuid4()), Money("100", "INR"))
        raised = booking.change_travelers(
            (*booking.travelers, extra), slot=slot, lifecycle=RESERVATION, author=_author()
        )
        assert raised is not None
        assert isinstance(raised.event, BookingUpdated)
        assert (slot.seats_held, booking.total) == (3, Money("300", "INR"))

    def test_fewer_travelers_give_seats_back_and_no_change_raises_nothing(
        self, make: Builder
    ) -> None:
        slot, booking = _held(make)
        assert (
            booking.change_travelers(
                booking.travelers, slot=slot, lifecycle=RESERVATION, author=_author()
            )
            is None
        )
        booking.change_travelers(
            booking.travelers[:1], slot=slot, lifecycle=RESERVATION, author=_author()
        )
        assert slot.seats_held == 1

    def test_the_primary_contact_rule_is_checked_again(self, make: Builder) -> None:
        slot, booking = _held(make)
        nobody_primary = tuple(attrs.evolve(t, is_primary=False) for t in booking.travelers)
        with pytest.raises(ValidationError):
            booking.change_travelers(
                nobody_primary, slot=slot, lifecycle=RESERVATION, author=_author()
            )
        assert slot.seats_held == 2


def test_a_waiting_entry_moves_in_line_only_while_active(make: Builder) -> None:
    entry = make.waitlist_entry(uuid4(), uuid4())  # type: ignore[arg-type]
    entry.move_to(5, now=T0 + timedelta(minutes=1))
    assert (entry.position, entry.version) == (5, 2)
    with pytest.raises(ValidationError):
        entry.move_to(0, now=T0)
    entry.cancel(now=T0 + timedelta(minutes=2))
    assert entry.status is WaitlistStatus.CANCELLED
    with pytest.raises(ValidationError):
        entry.move_to(1, now=T0)
