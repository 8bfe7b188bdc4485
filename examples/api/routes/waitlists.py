"""Waiting lists: staff manage a session's list, customers join, accept and decline.

Staff routes (``/api/admin/...``) list a slot's list, add a customer with any
priority, reorder the list or change an entry's priority, run an offer round and
remove entries; customer routes
(``/api/v1/customer/waiting-lists``) join, see their place, accept an offer
(booking through the one booking path) or decline it, and leave; partner routes
(``/api/partner/...``) do the same for the partner's own customers. Who may see
and change an entry is the library's policy: an entry the caller may not see
answers 404.
"""

from __future__ import annotations

from enum import Enum
from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from bookingcore import (
    AuthenticationError,
    BookingCore,
    CapacityError,
    CustomerId,
    DuplicateError,
    IdempotencyConflictError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    Principal,
    RateLimitedError,
    SlotId,
    WaitlistEntryId,
)
from bookingcore.domain import WaitlistPriority
from examples.api.deps import (
    Core,
    CustomerPrincipal,
    IdempotencyKey,
    PartnerPrincipal,
    StaffPrincipal,
    customer_id_of,
)
from examples.api.errors import fields_as_sent, new_traveler_fields, problem_responses
from examples.api.routes._bookings import booking_out
from examples.api.routes._paging import Cursor, Limit, page_request, paged
from examples.api.schemas import BookingOut, Paged
from examples.api.schemas_ops import (
    WaitlistAcceptIn,
    WaitlistAddIn,
    WaitlistEntryOut,
    WaitlistForCustomerIn,
    WaitlistJoinIn,
    WaitlistOrderIn,
    WaitlistPlaceOut,
    WaitlistPriorityIn,
    WaitlistReasonIn,
)

__all__ = ["router"]

router = APIRouter()

_ADMIN: list[str | Enum] = ["admin waiting lists"]
_CUSTOMER: list[str | Enum] = ["customer waiting lists"]
_PARTNER: list[str | Enum] = ["partner waiting lists"]


def _join(
    core: BookingCore, body: WaitlistJoinIn, principal: Principal, idempotency_key: str | None
) -> WaitlistEntryOut:
    """Every join route's one call: ``body``'s customer (the caller itself, for a
    customer) waits on the slot, with the priority staff give (else normal); a
    retry with the same ``Idempotency-Key`` answers the entry the first call made."""
    customer_id = CustomerId(body.customer_id) if isinstance(body, WaitlistForCustomerIn) else None
    with fields_as_sent(new_traveler_fields()):
        entry = core.waitlists.join(
            SlotId(body.slot_id),
            principal=principal,
            customer_id=customer_id,
            seats=body.seats,
            priority=body.priority if isinstance(body, WaitlistAddIn) else WaitlistPriority.NORMAL,
            alternative_dates=body.alternative_dates,
            preferred_contact_method=body.preferred_contact_method,
            notes=body.notes,
            idempotency_key=idempotency_key,
            travelers=[t.to_choice() for t in body.travelers],
            override_requirements=body.override_requirements,
        )
    return WaitlistEntryOut.of(entry)


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
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        DuplicateError,
        IdempotencyConflictError,
    ),
)
def add_to_waiting_list(
    body: WaitlistAddIn, core: Core, staff: StaffPrincipal, idempotency_key: IdempotencyKey = None
) -> WaitlistEntryOut:
    """Put a customer on a session's waiting list (offered at once if seats are free).

    A customer waits on a slot once: a second add answers 409 naming the entry,
    unless it is a retry with the first add's ``Idempotency-Key`` (it answers that entry).
    """
    return _join(core, body, staff, idempotency_key)


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


@router.put(
    "/api/admin/sessions/{slot_id}/waiting-list/order",
    tags=_ADMIN,
    operation_id="admin_reorder_waiting_list",
    responses=problem_responses(AuthenticationError, PermissionDeniedError, NotFoundError),
)
def reorder(
    slot_id: UUID, body: WaitlistOrderIn, core: Core, staff: StaffPrincipal
) -> list[WaitlistEntryOut]:
    """Put the named active entries in this order; the session's list as it now stands.

    The entries named swap the positions they hold among themselves, so the
    others keep theirs; priority still comes before position.
    """
    entries = core.waitlists.reorder(
        SlotId(slot_id), [WaitlistEntryId(e) for e in body.entry_ids], principal=staff
    )
    return [WaitlistEntryOut.of(e) for e in entries]


@router.put(
    "/api/admin/waiting-lists/{entry_id}/priority",
    tags=_ADMIN,
    operation_id="admin_set_waiting_list_priority",
    responses=problem_responses(AuthenticationError, PermissionDeniedError, NotFoundError),
)
def set_priority(
    entry_id: UUID, body: WaitlistPriorityIn, core: Core, staff: StaffPrincipal
) -> WaitlistEntryOut:
    """Move an active entry to another priority (``high``, ``normal``, ``low``)."""
    entry = core.waitlists.set_priority(WaitlistEntryId(entry_id), body.priority, principal=staff)
    return WaitlistEntryOut.of(entry)


# ---------------------------------------------------------------------- customers


@router.post(
    "/api/v1/customer/waiting-lists",
    tags=_CUSTOMER,
    operation_id="customer_join_waiting_list",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        AuthenticationError, PermissionDeniedError, DuplicateError, IdempotencyConflictError
    ),
)
def join(
    body: WaitlistJoinIn, core: Core, me: CustomerPrincipal, idempotency_key: IdempotencyKey = None
) -> WaitlistEntryOut:
    """Wait for seats on a full session (a second join of the same session answers 409;
    a retry with the first join's ``Idempotency-Key`` answers its entry)."""
    return _join(core, body, me, idempotency_key)


@router.get(
    "/api/v1/customer/waiting-lists",
    tags=_CUSTOMER,
    operation_id="customer_list_waiting_lists",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def list_mine(
    request: Request, core: Core, me: CustomerPrincipal, limit: Limit = 50, cursor: Cursor = None
) -> Paged[WaitlistEntryOut]:
    """My entries, on any session and in any status, newest first, a page at a time
    (follow ``next``)."""
    page = core.waitlists.list_for_customer(
        customer_id_of(me), page_request(limit, cursor), principal=me
    )
    return paged(Paged[WaitlistEntryOut], request, page, WaitlistEntryOut.of)


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
    with fields_as_sent(new_traveler_fields()):
        booking = core.waitlists.accept(
            WaitlistEntryId(entry_id),
            [t.to_choice() for t in body.travelers],
            principal=me,
            idempotency_key=idempotency_key,
        )
    return booking_out(core, me, booking)


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


# ---------------------------------------------------------------------- partners

_PARTNER_ERRORS = (AuthenticationError, RateLimitedError)


@router.get(
    "/api/partner/sessions/{slot_id}/waiting-list",
    tags=_PARTNER,
    operation_id="partner_get_waiting_list",
    responses=problem_responses(*_PARTNER_ERRORS),
)
def partner_waiting_list(
    slot_id: UUID, core: Core, partner: PartnerPrincipal, active_only: bool = True
) -> list[WaitlistEntryOut]:
    """The entries of my customers on the session's list, in offer order."""
    entries = core.waitlists.list_for_slot(
        SlotId(slot_id), principal=partner, active_only=active_only
    )
    return [WaitlistEntryOut.of(e) for e in entries]


@router.post(
    "/api/partner/waiting-lists",
    tags=_PARTNER,
    operation_id="partner_join_waiting_list",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        *_PARTNER_ERRORS,
        PermissionDeniedError,
        NotFoundError,
        DuplicateError,
        IdempotencyConflictError,
    ),
)
def partner_join(
    body: WaitlistForCustomerIn,
    core: Core,
    partner: PartnerPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> WaitlistEntryOut:
    """Put one of my customers on a session's waiting list (offered at once if seats are free;
    a retry with the first call's ``Idempotency-Key`` answers its entry)."""
    return _join(core, body, partner, idempotency_key)


@router.get(
    "/api/partner/customers/{customer_id}/waiting-lists",
    tags=_PARTNER,
    operation_id="partner_customer_waiting_lists",
    responses=problem_responses(*_PARTNER_ERRORS, NotFoundError),
)
def partner_customer_entries(
    request: Request,
    customer_id: UUID,
    core: Core,
    partner: PartnerPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Paged[WaitlistEntryOut]:
    """The entries of one of my customers, on any session and in any status, newest
    first, a page at a time (follow ``next``)."""
    page = core.waitlists.list_for_customer(
        CustomerId(customer_id), page_request(limit, cursor), principal=partner
    )
    return paged(Paged[WaitlistEntryOut], request, page, WaitlistEntryOut.of)


@router.get(
    "/api/partner/waiting-lists/{entry_id}/place",
    tags=_PARTNER,
    operation_id="partner_waiting_list_place",
    responses=problem_responses(*_PARTNER_ERRORS, NotFoundError),
)
def partner_place(entry_id: UUID, core: Core, partner: PartnerPrincipal) -> WaitlistPlaceOut:
    """Where my customer's entry stands: place 1 is offered the next freed seats."""
    return WaitlistPlaceOut.of(core.waitlists.place(WaitlistEntryId(entry_id), principal=partner))


@router.post(
    "/api/partner/waiting-lists/{entry_id}/accept",
    tags=_PARTNER,
    operation_id="partner_accept_waiting_list_offer",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        *_PARTNER_ERRORS,
        PermissionDeniedError,
        NotFoundError,
        InvalidTransitionError,
        CapacityError,
        IdempotencyConflictError,
    ),
)
def partner_accept(
    entry_id: UUID,
    body: WaitlistAcceptIn,
    core: Core,
    partner: PartnerPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> BookingOut:
    """Book the seats my customer's open offer holds (a partner booking, at most the seats
    offered)."""
    with fields_as_sent(new_traveler_fields()):
        booking = core.waitlists.accept(
            WaitlistEntryId(entry_id),
            [t.to_choice() for t in body.travelers],
            principal=partner,
            idempotency_key=idempotency_key,
        )
    return booking_out(core, partner, booking)


@router.delete(
    "/api/partner/waiting-lists/{entry_id}",
    tags=_PARTNER,
    operation_id="partner_remove_from_waiting_list",
    responses=problem_responses(
        *_PARTNER_ERRORS, PermissionDeniedError, NotFoundError, InvalidTransitionError
    ),
)
def partner_remove(
    entry_id: UUID, core: Core, partner: PartnerPrincipal, reason: str | None = None
) -> WaitlistEntryOut:
    """Take my customer's entry off the list; an offer it held goes to the next in line."""
    entry = core.waitlists.remove(WaitlistEntryId(entry_id), principal=partner, reason=reason)
    return WaitlistEntryOut.of(entry)
