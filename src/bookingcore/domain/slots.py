"""Slots: the dated, capacity-limited things that get booked.

A trek batch, a course session, a dive trip and a dealer appointment are all
slots: a location, a start, a price per traveler and a capacity (``None`` means
unlimited). ``seats_held`` counts the travelers of bookings in states that hold
capacity; it never exceeds ``capacity``.

.. versionadded:: 0.1
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs

from bookingcore.domain.items import MAX_SERVICE_DATE, MAX_SERVICE_DAYS, MIN_SERVICE_DATE
from bookingcore.domain.pricing import DiscountTier
from bookingcore.domain.values import LocationId, Money, ProductId, SlotId, Versioned
from bookingcore.errors import CapacityError, ValidationError

__all__ = ["Slot", "check_slot_times"]


def _within_bounds(moment: datetime) -> bool:
    try:
        day = moment.astimezone(UTC).date()
    except OverflowError:
        return False
    return MIN_SERVICE_DATE <= day <= MAX_SERVICE_DATE


def check_slot_times(starts_at: datetime, ends_at: datetime | None) -> None:
    """Refuse aware slot times whose day in UTC falls outside
    :data:`~bookingcore.domain.items.MIN_SERVICE_DATE`-:data:`~bookingcore.domain.items.MAX_SERVICE_DATE`,
    an end that is not after the start, or a slot lasting longer than
    :data:`~bookingcore.domain.items.MAX_SERVICE_DAYS` days: the same bounds as
    line items' service dates, so the arithmetic done on a slot's times (its
    end, reminders a lead before its start, itinerary days, reschedule shifts)
    stays inside the calendar.

    Slots read back from storage are not held to these bounds; every slot the
    library makes is.

    Raises:
        ValidationError: on ``starts_at`` or ``ends_at`` (``out_of_range``,
            ``before_start``, ``too_long``).

    .. versionadded:: 0.4
    """
    for field, moment in (("starts_at", starts_at), ("ends_at", ends_at)):
        if moment is not None and not _within_bounds(moment):
            msg = (
                f"must fall from {MIN_SERVICE_DATE.isoformat()} to "
                f"{MAX_SERVICE_DATE.isoformat()} (UTC)"
            )
            raise ValidationError.single(field, msg, "out_of_range")
    if ends_at is None:
        return
    if ends_at <= starts_at:
        raise ValidationError.single("ends_at", "must be after starts_at", "before_start")
    if ends_at - starts_at > timedelta(days=MAX_SERVICE_DAYS):
        msg = f"a slot lasts at most {MAX_SERVICE_DAYS} days"
        raise ValidationError.single("ends_at", msg, "too_long")


@attrs.define(slots=False)
class Slot(Versioned):
    """A bookable occurrence with a capacity.

    .. versionadded:: 0.1
    """

    id: SlotId
    location_id: LocationId
    starts_at: datetime
    price_per_traveler: Money
    created_at: datetime
    capacity: int | None = None
    seats_held: int = 0
    product_id: ProductId | None = None
    ends_at: datetime | None = None
    name: str | None = None
    group_discounts: tuple[DiscountTier, ...] = ()
    is_active: bool = True
    has_waitlist: bool = False
    version: int = 1
    #: When the operator called the slot off, and why
    #: (:meth:`~bookingcore.services.CatalogService.cancel_slot`); a cancelled slot
    #: is closed for good.
    #:
    #: .. versionadded:: 0.4
    cancelled_at: datetime | None = None
    #: .. versionadded:: 0.4
    cancellation_reason: str | None = None

    entity_name = "slot"

    @property
    def is_cancelled(self) -> bool:
        """True once the operator called the slot off.

        .. versionadded:: 0.4
        """
        return self.cancelled_at is not None

    @property
    def currency(self) -> str:
        """The currency this slot is priced in; every booking on it uses it too."""
        return self.price_per_traveler.currency

    @property
    def seats_left(self) -> int | None:
        """Seats still free, or ``None`` when the slot is unlimited."""
        if self.capacity is None:
            return None
        return self.capacity - self.seats_held

    def has_room_for(self, seats: int) -> bool:
        """True when ``seats`` more travelers fit."""
        return self.capacity is None or self.seats_held + seats <= self.capacity

    def hold(self, seats: int) -> None:
        """Take ``seats`` seats.

        Call only under the unit of work's lock on this slot (``slots.get_for_update``).

        Raises:
            CapacityError: fewer than ``seats`` seats are left; nothing changes.
        """
        if seats < 0:
            msg = "seats to hold cannot be negative"
            raise ValueError(msg)
        if not self.has_room_for(seats):
            raise CapacityError(self.id, seats, max(self.seats_left or 0, 0), label=self.name)
        self.seats_held += seats
        self.version += 1

    def open_waitlist(self) -> None:
        """Mark that a customer has joined this slot's waiting list, or been offered
        its seats for an alternative date of an entry on another slot.

        ``has_waitlist`` never goes back to False: booking a slot without it
        skips looking for the customer's waiting-list entry and offers, so it
        must be True whenever an entry may be active on it or an offer hold its
        seats. Call under the slot's lock.

        .. versionchanged:: 0.4 Set by an offer for an alternative date too.
        """
        if not self.has_waitlist:
            self.has_waitlist = True
            self.version += 1

    def release(self, seats: int) -> None:
        """Give back ``seats`` seats (a cancellation, or a move out of a holding state)."""
        if not 0 <= seats <= self.seats_held:
            msg = f"cannot release {seats} seats of slot {self.id}: {self.seats_held} are held"
            raise ValueError(msg)
        self.seats_held -= seats
        self.version += 1
