"""Opening slots: one at a time, or a recurring schedule's at once.

Staff with ``manage_catalog`` open slots on ``/api/admin/slots``; both routes take an
``Idempotency-Key``, so a retried request answers the slots the first one opened.
"""

from __future__ import annotations

from fastapi import APIRouter, status

from bookingcore import (
    AuthenticationError,
    IdempotencyConflictError,
    LocationId,
    PermissionDeniedError,
    ProductId,
)
from examples.api.deps import Core, IdempotencyKey, StaffPrincipal
from examples.api.errors import problem_responses
from examples.api.schemas import SlotOut
from examples.api.schemas_slots import SlotIn, SlotScheduleIn, SlotsCreatedOut

__all__ = ["router"]

router = APIRouter(prefix="/api/admin/slots", tags=["admin slots"])

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
