"""Booking groups (``/api/admin/bookings/groups``): create, find, total, confirm,
cancel.

Staff tokens; the library's policy decides who reads and changes which group.
Included before the booking desk's router, whose ``/{booking_id}`` would
otherwise claim ``/groups``.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, status

from bookingcore import (
    AuthenticationError,
    BookingGroupId,
    CustomerId,
    DuplicateError,
    IdempotencyConflictError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
)
from examples.api.deps import Core, IdempotencyKey, StaffPrincipal
from examples.api.errors import problem_responses
from examples.api.routes._bookings import booking_page, staff_bookings
from examples.api.routes._paging import Cursor, Limit, page_request, paged
from examples.api.schemas import CommunicationOut, Paged, StaffBookingOut
from examples.api.schemas_ops import GroupCancelIn, GroupIn, GroupOut, GroupTotalsOut

__all__ = ["router"]

router = APIRouter(prefix="/api/admin/bookings/groups", tags=["admin groups"])


@router.post(
    "",
    operation_id="admin_create_group",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        DuplicateError,
        IdempotencyConflictError,
    ),
)
def create_group(
    body: GroupIn, core: Core, staff: StaffPrincipal, idempotency_key: IdempotencyKey = None
) -> GroupOut:
    """Open a group for an organiser; its reference is unique.

    With an ``Idempotency-Key`` a retry answers the group the first call opened;
    without one, a retry answers 409 (the reference is taken).
    """
    group = core.groups.create(
        body.group_reference,
        organizer_id=CustomerId(body.organizer_id),
        principal=staff,
        company_id=None if body.company_id is None else CustomerId(body.company_id),
        group_name=body.group_name,
        total_participants=body.total_participants,
        idempotency_key=idempotency_key,
    )
    return GroupOut.of(group)


@router.get(
    "",
    operation_id="admin_list_groups",
    responses=problem_responses(AuthenticationError, PermissionDeniedError, NotFoundError),
)
def list_groups(
    request: Request,
    core: Core,
    staff: StaffPrincipal,
    status: Annotated[str | None, Query(max_length=32, description="active, cancelled")] = None,
    customer_id: Annotated[UUID | None, Query(description="Organiser or company")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Reference or name")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Paged[GroupOut]:
    """Groups newest first, by status, organiser or company, and text."""
    page = core.groups.list(
        page_request(limit, cursor),
        principal=staff,
        status=status,
        customer_id=None if customer_id is None else CustomerId(customer_id),
        search=q,
    )
    return paged(Paged[GroupOut], request, page, GroupOut.of)


@router.get(
    "/{group_id}",
    operation_id="admin_get_group",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def get_group(group_id: UUID, core: Core, staff: StaffPrincipal) -> GroupOut:
    """One group."""
    return GroupOut.of(core.groups.get(BookingGroupId(group_id), principal=staff))


@router.get(
    "/{group_id}/totals",
    operation_id="admin_group_totals",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def group_totals(group_id: UUID, core: Core, staff: StaffPrincipal) -> GroupTotalsOut:
    """The group's bookings, travelers, amount, paid and due (cancelled bookings apart)."""
    return GroupTotalsOut.of(core.groups.totals(BookingGroupId(group_id), principal=staff))


@router.get(
    "/{group_id}/bookings",
    operation_id="admin_group_bookings",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def group_bookings(
    request: Request,
    group_id: UUID,
    core: Core,
    staff: StaffPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Paged[StaffBookingOut]:
    """The group's bookings, newest first, cancelled ones included, a page at a time
    (follow ``next``)."""
    page = core.groups.bookings(
        BookingGroupId(group_id), page_request(limit, cursor), principal=staff
    )
    return booking_page(Paged[StaffBookingOut], request, page, core, staff, StaffBookingOut.of)


@router.post(
    "/{group_id}/cancel",
    operation_id="admin_cancel_group",
    responses=problem_responses(
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
        InvalidTransitionError,
        IdempotencyConflictError,
    ),
)
def cancel_group(
    group_id: UUID,
    body: GroupCancelIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> list[StaffBookingOut]:
    """Cancel the group and every booking in it that can be, all or nothing; those cancelled.

    With an ``Idempotency-Key`` a retry answers the bookings the first call cancelled
    instead of 409 (the group is cancelled already).
    """
    cancelled = core.groups.cancel(
        BookingGroupId(group_id),
        principal=staff,
        reason=body.reason,
        idempotency_key=idempotency_key,
    )
    return staff_bookings(core, staff, cancelled)


@router.post(
    "/{group_id}/confirmations",
    operation_id="admin_send_group_confirmations",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
        IdempotencyConflictError,
    ),
)
def send_confirmations(
    group_id: UUID,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> list[CommunicationOut]:
    """Confirm the group: a summary to the organiser and a confirmation to each booking's
    primary contact (cancelled and refunded bookings get none); the messages logged.

    A booking's confirmation is sent once each time the booking is confirmed, whether
    this call or the booking's automatic confirmation sends it first: the answer lists
    the one already logged (sent again only if it failed). A message that fails is
    logged as failed and the others still go out. Without an ``Idempotency-Key`` a
    second call sends the organiser a new summary; with one, a retry answers the
    messages the first call listed and sends nothing more.
    """
    sent = core.groups.send_confirmations(
        BookingGroupId(group_id), principal=staff, idempotency_key=idempotency_key
    )
    return [CommunicationOut.of(m) for m in sent]
