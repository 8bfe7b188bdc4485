"""Bookings: a customer's reservation of a slot for one or more travelers.

The booking keeps its per-traveler prices, exactly one primary contact, the
totals after any group discount, where it came from (source, partner, referral,
who created it) and its status in a :class:`~bookingcore.domain.lifecycle.Lifecycle`.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from bookingcore.domain.lifecycle import Lifecycle
from bookingcore.domain.sources import BookingSource
from bookingcore.domain.values import (
    Actor,
    BookingGroupId,
    BookingId,
    CustomerId,
    LocationId,
    Money,
    PartnerId,
    ProductId,
    SlotId,
    StaffId,
    SupplierId,
    TravelerId,
    Versioned,
)
from bookingcore.errors import ValidationError

__all__ = ["Booking", "BookingTraveler"]


@attrs.frozen
class BookingTraveler:
    """One traveler on a booking, with what they pay and need on this trip.

    .. versionadded:: 0.1
    """

    traveler_id: TravelerId
    price: Money
    is_primary: bool = False
    special_requirements: str | None = None


def check_travelers(travelers: Sequence[BookingTraveler]) -> None:
    """Enforce the traveler rules of a booking.

    Raises:
        ValidationError: no travelers, not exactly one primary contact, or the
            same traveler twice.
    """
    if not travelers:
        raise ValidationError.single(
            "travelers", "a booking needs at least one traveler", "required"
        )
    primaries = [i for i, t in enumerate(travelers) if t.is_primary]
    if len(primaries) != 1:
        msg = f"exactly one traveler must be the primary contact ({len(primaries)} marked)"
        raise ValidationError.single("travelers", msg, "primary_contact")
    seen: dict[TravelerId, int] = {}
    for index, traveler in enumerate(travelers):
        if traveler.traveler_id in seen:
            msg = f"is the same traveler as travelers[{seen[traveler.traveler_id]}]"
            raise ValidationError.single(f"travelers[{index}].traveler_id", msg, "duplicate")
        seen[traveler.traveler_id] = index


@attrs.define(slots=False)
class Booking(Versioned):
    """A reservation of a slot by a customer for travelers.

    Invariants: at least one traveler, exactly one primary contact, no traveler
    twice, ``total == subtotal - discount`` in the slot's currency.

    .. versionadded:: 0.1
    """

    id: BookingId
    reference: str
    customer_id: CustomerId
    slot_id: SlotId
    location_id: LocationId
    starts_at: datetime
    lifecycle: str
    status: str
    travelers: tuple[BookingTraveler, ...]
    subtotal: Money
    discount: Money
    total: Money
    created_at: datetime
    updated_at: datetime
    created_by: Actor
    source: BookingSource = BookingSource.DIRECT
    product_id: ProductId | None = None
    supplier_id: SupplierId | None = None
    partner_id: PartnerId | None = None
    created_by_partner_id: PartnerId | None = None
    referral_source: str | None = None
    internal_notes: str | None = None
    external_id: str | None = None
    assignee_id: StaffId | None = None
    group_id: BookingGroupId | None = None
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    cancelled_at: datetime | None = None
    cancellation_reason: str | None = None
    metadata: dict[str, str] = attrs.Factory(dict)
    version: int = 1

    entity_name = "booking"

    def __attrs_post_init__(self) -> None:
        check_travelers(self.travelers)
        if self.subtotal - self.discount != self.total:
            msg = f"{self.total} is not {self.subtotal} minus {self.discount}"
            raise ValidationError.single("total", msg, "inconsistent_total")

    @property
    def currency(self) -> str:
        """The currency every amount on this booking is in."""
        return self.total.currency

    @property
    def total_travelers(self) -> int:
        """How many travelers the booking is for (the seats it needs)."""
        return len(self.travelers)

    @property
    def traveler_ids(self) -> frozenset[TravelerId]:
        """The ids of the travelers on this booking."""
        return frozenset(t.traveler_id for t in self.travelers)

    @property
    def primary_traveler(self) -> BookingTraveler:
        """The traveler who is the primary contact."""
        return next(t for t in self.travelers if t.is_primary)

    def holds_seats(self, lifecycle: Lifecycle) -> bool:
        """True when the booking's status keeps its seats on the slot."""
        return lifecycle.holds_capacity(self.status)

    def move_to(
        self,
        target: str,
        *,
        lifecycle: Lifecycle,
        now: datetime,
        reason: str | None = None,
    ) -> int:
        """Move to ``target`` if the lifecycle allows it.

        Returns the change in seats the slot must apply: ``+n`` entering a
        holding state, ``-n`` leaving one, ``0`` otherwise.

        Raises:
            InvalidTransitionError: the lifecycle has no such move.
        """
        lifecycle.check_move(self.status, target)
        held_before = lifecycle.holds_capacity(self.status)
        held_after = lifecycle.holds_capacity(target)
        self.status = target
        if target == lifecycle.cancelled:
            self.cancelled_at = now
            self.cancellation_reason = reason
        self.touch(now)
        return (int(held_after) - int(held_before)) * self.total_travelers

    def touch(self, now: datetime) -> None:
        """Record that the booking changed: new ``updated_at``, next version."""
        self.updated_at = now
        self.version += 1
