"""The customer portal (``/api/customer``): all my bookings, upcoming, history, cancel.

Customer tokens only; the library scopes every list to the signed-in customer.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request

from bookingcore import (
    AuthenticationError,
    BookingFilter,
    BookingId,
    IdempotencyConflictError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    StaleVersionError,
)
from examples.api.deps import Core, CustomerPrincipal, IdempotencyKey
from examples.api.errors import problem_responses
from examples.api.routes._bookings import booking_out, booking_page
from examples.api.routes._paging import Cursor, Limit, page_request
from examples.api.schemas import BookingOut, BookingPage, CancelIn

__all__ = ["router"]

router = APIRouter(prefix="/api/customer", tags=["customer portal"])


def _page(
    request: Request,
    core: Core,
    me: CustomerPrincipal,
    query: BookingFilter | None,
    limit: int,
    cursor: str | None,
) -> BookingPage:
    page = core.bookings.list(query, page_request(limit, cursor), principal=me)
    return booking_page(BookingPage, request, page, core, me)


@router.get(
    "/bookings",
    operation_id="portal_list_bookings",
    responses=problem_responses(AuthenticationError),
)
def list_bookings(
    request: Request, core: Core, me: CustomerPrincipal, limit: Limit = 20, cursor: Cursor = None
) -> BookingPage:
    """Every booking of the signed-in customer, newest first."""
    return _page(request, core, me, None, limit, cursor)


@router.get(
    "/upcoming", operation_id="portal_upcoming", responses=problem_responses(AuthenticationError)
)
def upcoming(
    request: Request, core: Core, me: CustomerPrincipal, limit: Limit = 20, cursor: Cursor = None
) -> BookingPage:
    """Bookings whose slot has not started yet."""
    query = BookingFilter(starts_from=core.context.now())
    return _page(request, core, me, query, limit, cursor)


@router.get(
    "/history", operation_id="portal_history", responses=problem_responses(AuthenticationError)
)
def history(
    request: Request, core: Core, me: CustomerPrincipal, limit: Limit = 20, cursor: Cursor = None
) -> BookingPage:
    """Bookings whose slot has started or is over."""
    query = BookingFilter(starts_before=core.context.now())
    return _page(request, core, me, query, limit, cursor)


@router.put(
    "/bookings/{booking_id}/cancel",
    operation_id="portal_cancel_booking",
    responses=problem_responses(
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
        StaleVersionError,
        InvalidTransitionError,
        IdempotencyConflictError,
    ),
)
def cancel(
    booking_id: UUID,
    body: CancelIn,
    core: Core,
    me: CustomerPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> BookingOut:
    """Cancel one of my bookings before the online deadline (its slot's start unless the
    business says otherwise); its seats go back on sale."""
    booking = core.bookings.cancel(
        BookingId(booking_id),
        principal=me,
        reason=body.reason,
        expected_version=body.expected_version,
        idempotency_key=idempotency_key,
    )
    return booking_out(core, me, booking)
