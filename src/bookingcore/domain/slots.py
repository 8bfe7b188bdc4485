"""Slots: the dated, capacity-limited things that get booked.

A trek batch, a course session, a dive trip and a dealer appointment are all
slots: a location, a start, a price per traveler and a capacity (``None`` means
unlimited). ``seats_held`` counts the travelers of bookings in states that hold
capacity; it never exceeds ``capacity``.

.. versionadded:: 0.1
"""

from __future__ import annotations

from datetime import datetime

import attrs

from bookingcore.domain.pricing import DiscountTier
from bookingcore.domain.values import LocationId, Money, ProductId, SlotId, Versioned
from bookingcore.errors import CapacityError

__all__ = ["Slot"]


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

    entity_name = "slot"

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
        """Mark that a customer has joined this slot's waiting list.

        ``has_waitlist`` never goes back to False: booking a slot without it
        skips looking for the customer's waiting-list entry, so it must be True
        whenever an entry may be active. Call under the slot's lock.
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
