"""Booking changes any signed-in caller may ask for: reschedule, change travelers.

Customers, staff and partners use the same routes; the library decides what
each may change (a customer or partner only its own bookings, and not after
the slot started), so a booking the caller may not see answers 404.
"""

from __future__ import annotations

from datetime import date
from enum import Enum
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from bookingcore import (
    AuthenticationError,
    BookingId,
    CapacityError,
    DuplicateError,
    IdempotencyConflictError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    SlotId,
    StaleVersionError,
    TravelerId,
)
from bookingcore.domain import BookingItem
from examples.api.deps import AnyPrincipal, Core, IdempotencyKey, StaffPrincipal
from examples.api.errors import fields_as_sent, new_traveler_fields, problem_responses
from examples.api.routes._bookings import booking_out, staff_booking_out
from examples.api.schemas import BookingOut, MoneyOut, StaffBookingOut
from examples.api.schemas_ops import RescheduleIn, TravelersChangeIn

__all__ = ["AutoAssignIn", "ItemToReconfirmOut", "RescheduledOut", "router"]

router = APIRouter()

_TAGS: list[str | Enum] = ["bookings"]


class ItemToReconfirmOut(BaseModel):
    """A line item its supplier confirmed for its old dates: it kept them, to change with them."""

    id: UUID
    description: str
    supplier_id: UUID | None
    service_starts_on: date | None
    service_ends_on: date | None

    @classmethod
    def of(cls, item: BookingItem) -> ItemToReconfirmOut:
        """The fields of ``item`` staff need to reconfirm it."""
        return cls(
            id=item.id,
            description=item.description,
            supplier_id=item.supplier_id,
            service_starts_on=item.service_starts_on,
            service_ends_on=item.service_ends_on,
        )


class RescheduledOut(BaseModel):
    """The booking on its new slot, the slot it left, and the price difference (new less old).

    ``replayed`` is true when an ``Idempotency-Key`` retry answered the first call's move.
    ``items_to_reconfirm`` are the dated items their suppliers had confirmed: they keep
    the confirmed dates, and staff change them with the supplier.
    """

    booking: BookingOut
    from_slot_id: UUID
    price_difference: MoneyOut
    replayed: bool = False
    items_to_reconfirm: list[ItemToReconfirmOut] = Field(default_factory=list)


@router.patch(
    "/api/bookings/{booking_id}/reschedule",
    tags=_TAGS,
    operation_id="reschedule_booking",
    responses=problem_responses(
        AuthenticationError,
        RateLimitedError,
        NotFoundError,
        PermissionDeniedError,
        StaleVersionError,
        InvalidTransitionError,
        CapacityError,
        DuplicateError,
        IdempotencyConflictError,
    ),
)
def reschedule(
    booking_id: UUID,
    body: RescheduleIn,
    core: Core,
    caller: AnyPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> RescheduledOut:
    """Move a booking to another slot: seats move, prices follow the new slot, all at once.

    With an ``Idempotency-Key`` a retry answers the first move (``replayed``) instead of
    failing because the booking is on that slot already.
    """
    moved = core.bookings.reschedule(
        BookingId(booking_id),
        SlotId(body.slot_id),
        principal=caller,
        reason=body.reason,
        expected_version=body.expected_version,
        idempotency_key=idempotency_key,
    )
    return RescheduledOut(
        booking=booking_out(core, caller, moved.booking),
        from_slot_id=moved.from_slot_id,
        price_difference=MoneyOut.of(moved.price_difference),
        replayed=moved.replayed,
        items_to_reconfirm=[ItemToReconfirmOut.of(item) for item in moved.items_to_reconfirm],
    )


@router.patch(
    "/api/bookings/{booking_id}/travelers",
    tags=_TAGS,
    operation_id="change_booking_travelers",
    responses=problem_responses(
        AuthenticationError,
        RateLimitedError,
        NotFoundError,
        PermissionDeniedError,
        StaleVersionError,
        InvalidTransitionError,
        CapacityError,
        IdempotencyConflictError,
    ),
)
def change_travelers(
    booking_id: UUID,
    body: TravelersChangeIn,
    core: Core,
    caller: AnyPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> BookingOut:
    """Add and remove travelers (replace one by removing it and adding another).

    Capacity, the primary-contact rule and prices are checked again; seats
    freed go to the waiting list. With an ``Idempotency-Key`` a retry answers
    the booking as it is now and adds or removes nobody again.
    """
    with fields_as_sent(new_traveler_fields("add")):
        booking = core.bookings.change_travelers(
            BookingId(booking_id),
            principal=caller,
            add=[t.to_choice() for t in body.add],
            remove=[TravelerId(t) for t in body.remove],
            primary=None if body.primary is None else TravelerId(body.primary),
            reason=body.reason,
            expected_version=body.expected_version,
            idempotency_key=idempotency_key,
        )
    return booking_out(core, caller, booking)


class AutoAssignIn(BaseModel):
    """How to pick the advisor: ``least_loaded``, ``round_robin`` or ``dealer_based``."""

    model_config = ConfigDict(extra="forbid")

    strategy: str = Field(default="least_loaded", max_length=32)
    reason: str | None = Field(default=None, max_length=500)


@router.post(
    "/api/admin/bookings/{booking_id}/auto-assign",
    tags=["admin bookings"],
    operation_id="admin_auto_assign_booking",
    responses=problem_responses(
        AuthenticationError, NotFoundError, PermissionDeniedError, IdempotencyConflictError
    ),
)
def auto_assign(
    booking_id: UUID,
    body: AutoAssignIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> StaffBookingOut:
    """(Re-)assign the booking to the advisor a strategy picks (``dealer_based``: maybe nobody).

    With an ``Idempotency-Key`` a retry answers the booking as it is now: the
    strategy picks nobody again.
    """
    booking = core.bookings.assign(
        BookingId(booking_id),
        principal=staff,
        strategy=body.strategy,
        reason=body.reason,
        idempotency_key=idempotency_key,
    )
    return staff_booking_out(core, staff, booking)
