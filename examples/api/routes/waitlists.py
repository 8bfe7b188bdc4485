"""Seed 001's waiting lists: staff manage a session's list, customers join, accept and decline.

Staff routes (``/api/admin/...``) list a slot's list, add a customer with any
priority, run an offer round and remove entries; customer routes
(``/api/v1/customer/waiting-lists``) join, see their place, accept an offer
(booking through the one booking path) or decline it, and leave. Who may see
and change an entry is the library's policy: an entry the caller may not see
answers 404.
"""

from __future__ import annotations

from enum import Enum
from uuid import UUID

from fastapi import APIRouter, Response, status

from bookingcore import (
    AuthenticationError,
    CapacityError,
    CustomerId,
    DuplicateError,
    IdempotencyConflictError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    Principal,
    SlotId,
    WaitlistEntryId,
)
from examples.api.deps import Core, CustomerPrincipal, IdempotencyKey, StaffPrincipal
from examples.api.errors import problem_responses
from examples.api.schemas import BookingOut
from examples.api.schemas_ops import (
    WaitlistAcceptIn,
    WaitlistAddIn,
    WaitlistEntryOut,
    WaitlistJoinIn,
    WaitlistPlaceOut,
    WaitlistReasonIn,
)

__all__ = ["router"]

router = APIRouter()

_ADMIN: list[str | Enum] = ["admin waiting lists"]
_CUSTOMER: list[str | Enum] = ["customer waiting lists"]


def _me(principal: Principal) -> CustomerId:
    assert principal.id is not None  # a customer token always names its customer
    return CustomerId(principal.id)


# ---------------------------------------------------------------------- staff


@router.get(
    "/api/admin/sessions/{slot_id}/waiting-list",
    tags=_ADMIN,
    operation_id="admin_get_waiting_list",
    responses=problem_responses(AuthenticationError, PermissionDeniedError),
)
def get_waiting_list(
    slot_id: UUID, core: Core, staff: StaffPrincipal, active_only: bool = True
) -> list[WaitlistEntryOut]:
    """The session's waiting list in offer order (priority, then position)."""
    entries = core.waitlists.list_for_slot(
        SlotId(slot_id), principal=staff, active_only=active_only
    )
    return [WaitlistEntryOut.of(e) for e in entries]


@router.post(
    "/api/admin/waiting-lists",
    tags=_ADMIN,
    operation_id="admin_add_to_waiting_list",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        AuthenticationError, PermissionDeniedError, NotFoundError, DuplicateError
    ),
)
def add_to_waiting_list(body: WaitlistAddIn, core: Core, staff: StaffPrincipal) -> WaitlistEntryOut:
    """Put a customer on a session's waiting list (offered at once if seats are free).

    A customer waits on a slot once: a second add answers 409 naming the entry.
    """
    entry = core.waitlists.join(
        SlotId(body.slot_id),
        principal=staff,
        customer_id=CustomerId(body.customer_id),
        seats=body.seats,
        priority=body.priority,
        alternative_dates=body.alternative_dates,
        preferred_contact_method=body.preferred_contact_method,
        notes=body.notes,
    )
    return WaitlistEntryOut.of(entry)


@router.put(
    "/api/admin/waiting-lists/{entry_id}/offer",
    tags=_ADMIN,
    operation_id="admin_offer_waiting_list",
    responses=problem_responses(AuthenticationError, PermissionDeniedError, NotFoundError),
)
def offer(entry_id: UUID, core: Core, staff: StaffPrincipal) -> list[WaitlistEntryOut]:
    """Offer the entry's session's free seats to its list now; the entries offered.

    Seats go in offer order, so another entry ahead of this one may get them;
    no free seats offer nothing (an empty list).
    """
    entry = core.waitlists.get(WaitlistEntryId(entry_id), principal=staff)
    offered = core.waitlists.offer(entry.slot_id, principal=staff)
    return [WaitlistEntryOut.of(e) for e in offered]


@router.delete(
    "/api/admin/waiting-lists/{entry_id}",
    tags=_ADMIN,
    operation_id="admin_remove_from_waiting_list",
    responses=problem_responses(
        AuthenticationError, PermissionDeniedError, NotFoundError, InvalidTransitionError
    ),
)
def remove(
    entry_id: UUID, core: Core, staff: StaffPrincipal, reason: str | None = None
) -> WaitlistEntryOut:
    """Take an active entry off the list; an offer it held goes to the next in line."""
    entry = core.waitlists.remove(WaitlistEntryId(entry_id), principal=staff, reason=reason)
    return WaitlistEntryOut.of(entry)


# ---------------------------------------------------------------------- customers


@router.post(
    "/api/v1/customer/waiting-lists",
    tags=_CUSTOMER,
    operation_id="customer_join_waiting_list",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(AuthenticationError, PermissionDeniedError, DuplicateError),
)
def join(body: WaitlistJoinIn, core: Core, me: CustomerPrincipal) -> WaitlistEntryOut:
    """Wait for seats on a full session (a second join of the same session answers 409)."""
    entry = core.waitlists.join(
        SlotId(body.slot_id),
        principal=me,
        seats=body.seats,
        alternative_dates=body.alternative_dates,
        preferred_contact_method=body.preferred_contact_method,
        notes=body.notes,
    )
    return WaitlistEntryOut.of(entry)


@router.get(
    "/api/v1/customer/waiting-lists",
    tags=_CUSTOMER,
    operation_id="customer_list_waiting_lists",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def list_mine(core: Core, me: CustomerPrincipal) -> list[WaitlistEntryOut]:
    """Every entry of mine, on any session and in any status, oldest first."""
    return [WaitlistEntryOut.of(e) for e in core.waitlists.list_for_customer(_me(me), principal=me)]


@router.get(
    "/api/v1/customer/waiting-lists/{entry_id}/place",
    tags=_CUSTOMER,
    operation_id="customer_waiting_list_place",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def place(entry_id: UUID, core: Core, me: CustomerPrincipal) -> WaitlistPlaceOut:
    """Where my entry stands: place 1 is offered the next freed seats (0: offered now)."""
    return WaitlistPlaceOut.of(core.waitlists.place(WaitlistEntryId(entry_id), principal=me))


@router.post(
    "/api/v1/customer/waiting-lists/{entry_id}/accept",
    tags=_CUSTOMER,
    operation_id="customer_accept_waiting_list_offer",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        InvalidTransitionError,
        CapacityError,
        IdempotencyConflictError,
    ),
)
def accept(
    entry_id: UUID,
    body: WaitlistAcceptIn,
    core: Core,
    me: CustomerPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> BookingOut:
    """Book the seats my open offer holds, for these travelers (at most the seats offered)."""
    booking = core.waitlists.accept(
        WaitlistEntryId(entry_id),
        [t.to_choice() for t in body.travelers],
        principal=me,
        idempotency_key=idempotency_key,
    )
    return BookingOut.of(booking)


@router.post(
    "/api/v1/customer/waiting-lists/{entry_id}/decline",
    tags=_CUSTOMER,
    operation_id="customer_decline_waiting_list_offer",
    responses=problem_responses(
        AuthenticationError, PermissionDeniedError, NotFoundError, InvalidTransitionError
    ),
)
def decline(
    entry_id: UUID, body: WaitlistReasonIn, core: Core, me: CustomerPrincipal
) -> WaitlistEntryOut:
    """Turn my offer down: the seats go to the next in line."""
    entry = core.waitlists.decline(WaitlistEntryId(entry_id), principal=me, reason=body.reason)
    return WaitlistEntryOut.of(entry)


@router.delete(
    "/api/v1/customer/waiting-lists/{entry_id}",
    tags=_CUSTOMER,
    operation_id="customer_leave_waiting_list",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(
        AuthenticationError, PermissionDeniedError, NotFoundError, InvalidTransitionError
    ),
)
def leave(entry_id: UUID, core: Core, me: CustomerPrincipal) -> Response:
    """Leave the list (an offer I held goes to the next in line)."""
    core.waitlists.remove(WaitlistEntryId(entry_id), principal=me)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
