"""Slots for staff (``/api/admin/slots``): open one or a recurring schedule's at once;
change a slot's name, price, discounts or end; move its departure with its bookings (a
weather delay, a boat swap); stop selling a slot, sell it again, or call it off (a dive
trip cancelled for weather, a batch with too few travelers).

Staff tokens with ``manage_catalog``; moving a slot or calling it off also needs the
right to change every booking. Each route takes an ``Idempotency-Key``: a retry answers
what the first call did and does nothing twice. The request and answer models live
here, with the routes they serve.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from fastapi import APIRouter, status
from pydantic import AwareDatetime, BaseModel, Field

from bookingcore import (
    AuthenticationError,
    IdempotencyConflictError,
    InvalidTransitionError,
    LocationId,
    NotFoundError,
    PartnerId,
    PermissionDeniedError,
    ProductId,
    SlotId,
    StaleVersionError,
)
from bookingcore.domain import Slot
from bookingcore.domain.pricing import DiscountTier
from bookingcore.services import SlotCancellation, SlotMoved
from examples.api.deps import Core, IdempotencyKey, StaffPrincipal
from examples.api.errors import fields_as_sent, problem_responses
from examples.api.routes._bookings import partner_names
from examples.api.schemas import MoneyIn, MoneyOut, SlotOut, StaffBookingOut, StrictIn
from examples.api.schemas_slots import SlotIn, SlotScheduleIn, SlotsCreatedOut

__all__ = ["router"]

router = APIRouter(prefix="/api/admin/slots", tags=["admin slots"])

_ERRORS = (AuthenticationError, PermissionDeniedError, NotFoundError, IdempotencyConflictError)


class SlotReasonIn(StrictIn):
    """Why the slot is closed or reopened (kept on its audit entry)."""

    reason: str | None = Field(default=None, max_length=500)


class SlotCancelIn(StrictIn):
    """Why the slot is called off: every customer is told it."""

    reason: str = Field(min_length=1, max_length=500, examples=["Storm warning: no boats out."])


class AdminSlotOut(BaseModel):
    """A slot as staff see it: open for sale (``is_active``) or closed, seats held and left."""

    id: UUID
    location_id: UUID
    name: str | None
    starts_at: datetime
    ends_at: datetime | None
    price_per_traveler: MoneyOut
    capacity: int | None
    seats_held: int
    seats_left: int | None
    is_active: bool
    cancelled_at: datetime | None = Field(description="When the slot was called off, if it was")
    cancellation_reason: str | None
    version: int

    @classmethod
    def of(cls, slot: Slot) -> AdminSlotOut:
        """The slot's fields."""
        return cls(
            id=slot.id,
            location_id=slot.location_id,
            name=slot.name,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            price_per_traveler=MoneyOut.of(slot.price_per_traveler),
            capacity=slot.capacity,
            seats_held=slot.seats_held,
            seats_left=slot.seats_left,
            is_active=slot.is_active,
            cancelled_at=slot.cancelled_at,
            cancellation_reason=slot.cancellation_reason,
            version=slot.version,
        )


class SlotCancelledOut(BaseModel):
    """What calling a slot off did: the slot (closed), the bookings cancelled, the
    waiting-list entries ended and the messages logged to tell their customers."""

    slot: AdminSlotOut
    reason: str
    bookings: list[StaffBookingOut]
    waitlist_entry_ids: list[UUID]
    communication_ids: list[UUID]
    replayed: bool

    @classmethod
    def of(
        cls, done: SlotCancellation, partner_names: Mapping[PartnerId, str] | None = None
    ) -> SlotCancelledOut:
        """The cancellation's fields (the bookings' partners named from ``partner_names``)."""
        return cls(
            slot=AdminSlotOut.of(done.slot),
            reason=done.reason,
            bookings=[StaffBookingOut.of(b, partner_names) for b in done.bookings],
            waitlist_entry_ids=[e.id for e in done.waitlist_entries],
            communication_ids=[c.id for c in done.communications],
            replayed=done.replayed,
        )


class DiscountTierIn(StrictIn):
    """``percent`` off once a booking has ``min_travelers`` or more."""

    min_travelers: int = Field(ge=1, examples=[5])
    percent: Decimal = Field(ge=0, le=100, examples=["10"])


class SlotChangeIn(StrictIn):
    """What to change on a slot: only the fields sent change (``null`` clears ``name``
    or ``ends_at``). A new price is for bookings made from now on."""

    name: str | None = Field(default=None, max_length=255)
    price_per_traveler: MoneyIn | None = None
    group_discounts: list[DiscountTierIn] | None = Field(default=None, max_length=20)
    ends_at: AwareDatetime | None = None
    expected_version: int | None = Field(
        default=None, description="Refuse (409) when the slot changed since this version"
    )

    def changes(self) -> dict[str, Any]:
        """The fields sent, as :meth:`~bookingcore.services.CatalogService.update_slot`
        takes them."""
        given = self.model_fields_set - {"expected_version"}
        out: dict[str, Any] = {}
        if "name" in given:
            out["name"] = self.name
        if "ends_at" in given:
            out["ends_at"] = self.ends_at
        if "price_per_traveler" in given:  # null is refused (422): a slot has a price
            price = self.price_per_traveler
            out["price_per_traveler"] = None if price is None else price.to_money()
        if "group_discounts" in given:
            tiers = self.group_discounts or []
            out["group_discounts"] = [DiscountTier(t.min_travelers, t.percent) for t in tiers]
        return out


class SlotMoveIn(StrictIn):
    """Where the departure moves: the new start, and the new end (by default the slot
    keeps its length). Every customer is told, with the reason, unless ``notify`` is false."""

    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    reason: str = Field(min_length=1, max_length=500, examples=["Weather delay: 3 hours later."])
    notify: bool = True


class SlotMovedOut(BaseModel):
    """What moving a slot did: the slot at its new time, the times it had, the bookings
    that moved with it and the messages logged to tell their customers."""

    slot: AdminSlotOut
    from_starts_at: datetime
    from_ends_at: datetime | None
    reason: str
    bookings: list[StaffBookingOut]
    communication_ids: list[UUID]
    replayed: bool

    @classmethod
    def of(
        cls, done: SlotMoved, partner_names: Mapping[PartnerId, str] | None = None
    ) -> SlotMovedOut:
        """The move's fields (the bookings' partners named from ``partner_names``)."""
        return cls(
            slot=AdminSlotOut.of(done.slot),
            from_starts_at=done.from_starts_at,
            from_ends_at=done.from_ends_at,
            reason=done.reason,
            bookings=[StaffBookingOut.of(b, partner_names) for b in done.bookings],
            communication_ids=[c.id for c in done.communications],
            replayed=done.replayed,
        )


@router.patch(
    "/{slot_id}",
    operation_id="admin_update_slot",
    responses=problem_responses(*_ERRORS, StaleVersionError),
)
def update_slot(
    slot_id: UUID,
    body: SlotChangeIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> AdminSlotOut:
    """Change the slot's name, price per traveler, group discounts or end; fields not
    sent stay. Bookings already made keep their prices. With an ``Idempotency-Key`` a
    retry answers the slot as it is now and changes nothing (not even a stale
    ``expected_version``)."""
    slot = core.catalog.update_slot(
        SlotId(slot_id),
        principal=staff,
        expected_version=body.expected_version,
        idempotency_key=idempotency_key,
        **body.changes(),
    )
    return AdminSlotOut.of(slot)


@router.post(
    "/{slot_id}/move",
    operation_id="admin_move_slot",
    responses=problem_responses(*_ERRORS, InvalidTransitionError),
)
def move_slot(
    slot_id: UUID,
    body: SlotMoveIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> SlotMovedOut:
    """Move the slot's departure, all or nothing: every live booking on it moves with it
    (its start, dated items, reminder) and every customer is told once, with the reason.
    A start in the past or a slot that started answers 422, a cancelled slot 409. With an
    ``Idempotency-Key`` a retry answers what the first call did (``replayed``)."""
    with fields_as_sent(lambda field: field.removeprefix("new_")):
        done = core.catalog.move_slot(
            SlotId(slot_id),
            body.starts_at,
            principal=staff,
            new_ends_at=body.ends_at,
            reason=body.reason,
            notify=body.notify,
            idempotency_key=idempotency_key,
        )
    return SlotMovedOut.of(done, partner_names(core, staff, done.bookings))


@router.post(
    "/{slot_id}/close", operation_id="admin_close_slot", responses=problem_responses(*_ERRORS)
)
def close_slot(
    slot_id: UUID,
    core: Core,
    staff: StaffPrincipal,
    body: SlotReasonIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> AdminSlotOut:
    """Stop selling the slot: no new bookings, reschedules or waiting-list entries, and
    partners' availability leaves it out. What is booked on it stays. Closing a closed
    slot changes nothing."""
    slot = core.catalog.close_slot(
        SlotId(slot_id),
        principal=staff,
        reason=None if body is None else body.reason,
        idempotency_key=idempotency_key,
    )
    return AdminSlotOut.of(slot)


@router.post(
    "/{slot_id}/reopen",
    operation_id="admin_reopen_slot",
    responses=problem_responses(*_ERRORS, InvalidTransitionError),
)
def reopen_slot(
    slot_id: UUID,
    core: Core,
    staff: StaffPrincipal,
    body: SlotReasonIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> AdminSlotOut:
    """Sell the slot again; its free seats go to its waiting list at once. A slot that
    started answers 422, one that was called off 409."""
    slot = core.catalog.reopen_slot(
        SlotId(slot_id),
        principal=staff,
        reason=None if body is None else body.reason,
        idempotency_key=idempotency_key,
    )
    return AdminSlotOut.of(slot)


@router.post(
    "/{slot_id}/cancel",
    operation_id="admin_cancel_slot",
    responses=problem_responses(*_ERRORS, InvalidTransitionError),
)
def cancel_slot(
    slot_id: UUID,
    body: SlotCancelIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> SlotCancelledOut:
    """Call the slot off: close it and cancel every live booking on it, all or nothing,
    each with everything paid owed back; end its waiting list; tell every customer once,
    with the reason. With an ``Idempotency-Key`` a retry answers what the first call did
    (``replayed``) instead of 409 (the slot is cancelled already)."""
    done = core.catalog.cancel_slot(
        SlotId(slot_id), principal=staff, reason=body.reason, idempotency_key=idempotency_key
    )
    return SlotCancelledOut.of(done, partner_names(core, staff, done.bookings))


_OPEN = problem_responses(AuthenticationError, PermissionDeniedError, IdempotencyConflictError)


@router.post(
    "",
    operation_id="admin_create_slot",
    status_code=status.HTTP_201_CREATED,
    responses=_OPEN,
)
def create_slot(
    body: SlotIn, core: Core, staff: StaffPrincipal, idempotency_key: IdempotencyKey = None
) -> SlotOut:
    """Open one slot (a trek batch, a course session, a dive trip).

    With an ``Idempotency-Key`` a retry answers the slot the first call opened;
    without one, a retry opens another.
    """
    slot = core.catalog.create_slot(
        location_id=LocationId(body.location_id),
        product_id=None if body.product_id is None else ProductId(body.product_id),
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        price_per_traveler=body.price_per_traveler.to_money(),
        capacity=body.capacity,
        name=body.name,
        principal=staff,
        idempotency_key=idempotency_key,
    )
    return SlotOut.of(slot)


@router.post(
    "/schedule",
    operation_id="admin_create_slot_schedule",
    status_code=status.HTTP_201_CREATED,
    responses=_OPEN,
)
def create_slot_schedule(
    body: SlotScheduleIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> SlotsCreatedOut:
    """Open the slots of a weekly schedule, all or none, on the business's clock.

    A start where a slot of the same location and product already starts is skipped
    (and listed in ``skipped``): running a schedule twice opens nothing more. With an
    ``Idempotency-Key`` a retry answers what the first call opened and skipped.
    """
    made = core.catalog.create_slots(
        body.to_schedule(),
        location_id=LocationId(body.location_id),
        product_id=None if body.product_id is None else ProductId(body.product_id),
        price_per_traveler=body.price_per_traveler.to_money(),
        capacity=body.capacity,
        name=body.name,
        principal=staff,
        idempotency_key=idempotency_key,
    )
    return SlotsCreatedOut.of(made)
