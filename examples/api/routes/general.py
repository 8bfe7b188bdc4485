"""Routes any signed-in caller may use, each answer scoped by the library's policy.

``/api/bookings`` and ``/api/bookings/:id/audit`` and the
``/api/core/booking-lifecycle`` call of travel agencies' systems take a customer's,
a staff member's or a partner's token (``/api/customers``, the business's list of
every channel's customers, a staff token): what each may read or move is decided
by the library, never here, so a caller who may not see a booking gets 404 as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime

from bookingcore import (
    AuthenticationError,
    BookingFilter,
    BookingId,
    CapacityError,
    CustomerFilter,
    CustomerId,
    IdempotencyConflictError,
    InvalidTransitionError,
    LocationId,
    NotFoundError,
    PartnerId,
    PermissionDeniedError,
    RateLimitedError,
    SlotId,
    StaleVersionError,
    ValidationError,
)
from examples.api.deps import AnyPrincipal, Core, IdempotencyKey, StaffPrincipal
from examples.api.errors import fields_as_sent, problem_responses
from examples.api.routes._bookings import booking_out, booking_page, partner_names
from examples.api.routes._filters import OnDay, Sources, booking_sources, starts_within
from examples.api.routes._paging import Cursor, Limit, page_request, paged
from examples.api.schemas import (
    AuditEntryOut,
    BookingPage,
    CustomerOut,
    CustomerPage,
    LifecycleMoveIn,
    MoveOut,
)
from examples.api.schemas_ops import CustomerViewOut, LoyaltyOut

__all__ = ["router"]

router = APIRouter()


@router.get(
    "/api/bookings",
    tags=["bookings"],
    operation_id="list_bookings",
    responses=problem_responses(AuthenticationError, RateLimitedError, PermissionDeniedError),
)
def list_bookings(
    request: Request,
    core: Core,
    caller: AnyPrincipal,
    status: Annotated[list[str] | None, Query(description="Any of these statuses")] = None,
    source: Sources = None,
    partner_id: UUID | None = None,
    location_id: UUID | None = None,
    slot_id: UUID | None = None,
    starts_from: AwareDatetime | None = None,
    starts_before: AwareDatetime | None = None,
    booking_date: OnDay = None,
    q: Annotated[str | None, Query(max_length=200, description="Reference or text")] = None,
    include_archived: Annotated[
        bool, Query(description="Archived bookings too (left out by default)")
    ] = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> BookingPage:
    """The general booking list: whatever the caller may see, filtered, newest first.

    The library scopes the list to the caller (a customer's own bookings, a
    partner's, an advisor's assigned ones, everything for admins); a partner
    asking for another partner's bookings is refused (403).
    """
    starts_from, starts_before = starts_within(
        core.context.settings.zone, booking_date, starts_from, starts_before
    )
    query = BookingFilter(
        statuses=frozenset(status) if status else None,
        sources=booking_sources(source),
        partner_id=None if partner_id is None else PartnerId(partner_id),
        location_id=None if location_id is None else LocationId(location_id),
        slot_id=None if slot_id is None else SlotId(slot_id),
        starts_from=starts_from,
        starts_before=starts_before,
        text=q,
        include_archived=include_archived,
    )
    page = core.bookings.list(query, page_request(limit, cursor), principal=caller)
    return booking_page(BookingPage, request, page, core, caller)


@router.get(
    "/api/customers",
    tags=["customers"],
    operation_id="list_customers",
    responses=problem_responses(AuthenticationError, PermissionDeniedError),
)
def list_customers(
    request: Request,
    core: Core,
    staff: StaffPrincipal,
    source: Sources = None,
    partner_id: UUID | None = None,
    created_from: AwareDatetime | None = None,
    created_before: AwareDatetime | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Name, email or phone")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> CustomerPage:
    """The business's customer list: every channel's customers (or those of
    one partner, or one channel), newest first, one keyset page at a time."""
    query = CustomerFilter(
        sources=booking_sources(source),
        partner_id=None if partner_id is None else PartnerId(partner_id),
        created_from=created_from,
        created_before=created_before,
        text=q,
    )
    page = core.customers.list(query, page_request(limit, cursor), principal=staff)
    return paged(CustomerPage, request, page, CustomerOut.of)


@router.get(
    "/api/bookings/{booking_id}/audit",
    tags=["audit"],
    operation_id="booking_audit_trail",
    responses=problem_responses(
        AuthenticationError, RateLimitedError, NotFoundError, PermissionDeniedError
    ),
)
def audit_trail(booking_id: UUID, core: Core, caller: AnyPrincipal) -> list[AuditEntryOut]:
    """Who changed what on the booking, when, from where and why; oldest first."""
    trail = core.bookings.audit_trail(BookingId(booking_id), principal=caller)
    return [AuditEntryOut.of(entry) for entry in trail]


def _lifecycle_fields(key_field: str) -> Callable[[str], str]:
    """The library's names of ``transition``'s parameters as the camelCase body (or,
    for the key, ``key_field``: the header or the body's ``idempotencyKey``) has them."""
    names = {"to": "toStatus", "expected_version": "expectedVersion", "idempotency_key": key_field}
    return lambda field: names.get(field, field)


@router.post(
    "/api/core/booking-lifecycle",
    tags=["lifecycle"],
    operation_id="core_move_booking",
    responses=problem_responses(
        AuthenticationError,
        RateLimitedError,
        NotFoundError,
        PermissionDeniedError,
        InvalidTransitionError,
        StaleVersionError,
        CapacityError,
        IdempotencyConflictError,
    ),
)
def move_booking(
    body: LifecycleMoveIn,
    core: Core,
    caller: AnyPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> MoveOut:
    """A travel agency system's lifecycle call: move a booking to ``toStatus``, once
    per idempotency key.

    The key may come as the ``Idempotency-Key`` header or the body's
    ``idempotencyKey``; the actor is the caller of the token, never the body.
    """
    key_field = "Idempotency-Key" if idempotency_key else "idempotencyKey"
    with fields_as_sent(_lifecycle_fields(key_field)):
        moved = core.bookings.transition(
            BookingId(body.booking_id),
            body.to_status,
            principal=caller,
            note=body.note,
            idempotency_key=idempotency_key or body.idempotency_key,
            metadata=body.metadata,
            expected_version=body.expected_version,
        )
    return MoveOut(
        booking=booking_out(core, caller, moved.booking),
        from_status=moved.event.from_status,
        to_status=moved.event.to_status,
        replayed=moved.replayed,
    )


@router.get(
    "/api/admin/customers/{customer_id}/view",
    tags=["customers"],
    operation_id="admin_customer_view",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def customer_view(customer_id: UUID, core: Core, staff: StaffPrincipal) -> CustomerViewOut:
    """The customer history view staff use: figures, upcoming and recent bookings, travelers'
    requirements, staff notes, messages and certificates, in one read.

    Figures and lists count only the bookings the caller may see; an unknown or
    merged customer answers 404.
    """
    view = core.customers.view(CustomerId(customer_id), principal=staff)
    names = partner_names(core, staff, [*view.upcoming, *view.recent])
    return CustomerViewOut.of(view, names)


@router.get(
    "/api/admin/customers/{customer_id}/loyalty",
    tags=["customers"],
    operation_id="admin_customer_loyalty",
    responses=problem_responses(
        AuthenticationError, PermissionDeniedError, NotFoundError, ValidationError
    ),
)
def customer_loyalty(customer_id: UUID, core: Core, staff: StaffPrincipal) -> LoyaltyOut:
    """The customer's loyalty tier, the figures it was judged on (completed bookings,
    money spent per currency) and what the next tier still needs.

    403 for staff who see only part of the customer's bookings (advisors,
    suppliers); 422 (``loyalty``, ``not_configured``) when the host configured no
    loyalty program; 404 for an unknown or merged customer.
    """
    return LoyaltyOut.of(core.customers.loyalty(CustomerId(customer_id), principal=staff))
