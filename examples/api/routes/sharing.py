"""Sharing a trip with friends, a social feature of the customer app.

The signed-in customer makes, lists and revokes share links to their bookings
(``/api/v1/customer/bookings/{booking_id}/share-links``); staff on the customer's
behalf, and a partner for the bookings it made, do the same under
``/api/bookings/{booking_id}/share-links``. Anyone holding a link's token reads the
trip at ``GET /api/v1/shared-trips/{token}`` without signing in, rate limited per
client address; every token that opens nothing answers the same 404.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Response, status

from bookingcore import (
    AuthenticationError,
    BookingCore,
    BookingId,
    IdempotencyConflictError,
    NotFoundError,
    PermissionDeniedError,
    Principal,
    RateLimitedError,
)
from bookingcore.domain import ShareLinkId, ShareLinkIssued
from examples.api.deps import (
    AnyPrincipal,
    Core,
    CustomerPrincipal,
    IdempotencyKey,
    shared_trip_rate,
)
from examples.api.errors import problem_responses
from examples.api.schemas_sharing import (
    SharedTripOut,
    ShareLinkCreatedOut,
    ShareLinkIn,
    ShareLinkOut,
)

__all__ = ["SHARED_TRIP_PATH", "router"]

router = APIRouter()

#: Where a token opens its trip.
SHARED_TRIP_PATH = "/api/v1/shared-trips/{token}"

_CUSTOMER: list[str | Enum] = ["customer sharing"]
_BOOKINGS: list[str | Enum] = ["sharing"]
_CREATE_ERRORS = problem_responses(
    AuthenticationError,
    PermissionDeniedError,
    NotFoundError,
    IdempotencyConflictError,
    RateLimitedError,
)
_ERRORS = problem_responses(
    AuthenticationError, PermissionDeniedError, NotFoundError, RateLimitedError
)


def _created(core: BookingCore, issued: ShareLinkIssued) -> ShareLinkCreatedOut:
    listed = ShareLinkOut.of(issued.link, core.context.now())
    path = None if issued.token is None else SHARED_TRIP_PATH.format(token=issued.token)
    return ShareLinkCreatedOut(**listed.model_dump(), token=issued.token, path=path)


def _create(
    core: BookingCore,
    booking_id: UUID,
    body: ShareLinkIn,
    caller: Principal,
    idempotency_key: str | None,
) -> ShareLinkCreatedOut:
    issued = core.sharing.create_link(
        BookingId(booking_id),
        principal=caller,
        expires_at=body.expires_at,
        show_first_names=body.show_first_names,
        show_itinerary=body.show_itinerary,
        label=body.label,
        idempotency_key=idempotency_key,
    )
    return _created(core, issued)


def _list(core: BookingCore, booking_id: UUID, caller: Principal) -> list[ShareLinkOut]:
    now = core.context.now()
    links = core.sharing.list_links(BookingId(booking_id), principal=caller)
    booking = core.bookings.get(BookingId(booking_id), principal=caller)
    shared = core.sharing.shared_booking_status(booking) is not None
    return [ShareLinkOut.of(link, now, booking_shared=shared) for link in links]


def _revoke(core: BookingCore, booking_id: UUID, link_id: UUID, caller: Principal) -> ShareLinkOut:
    link = core.sharing.revoke_link(BookingId(booking_id), ShareLinkId(link_id), principal=caller)
    return ShareLinkOut.of(link, core.context.now())


_CREATE_DOC = """Make a share link to the booking's trip view. The answer holds its token
(and the path that opens the trip), shown this once; the library keeps only its hash.

``expires_at`` defaults to the trip's end; ``show_first_names`` (off by default) adds
the travelers' first names. A retry with the same ``Idempotency-Key`` answers the same
link with ``token: null``. 422 names the field: ``expires_at`` (past, or later than the
longest a link may live), ``label``, or ``booking_id`` (cancelled, or five working
links already: code ``too_many_links``)."""


@router.post(
    "/api/v1/customer/bookings/{booking_id}/share-links",
    tags=_CUSTOMER,
    operation_id="customer_create_share_link",
    status_code=status.HTTP_201_CREATED,
    responses=_CREATE_ERRORS,
    description=_CREATE_DOC,
)
def customer_create_share_link(
    booking_id: UUID,
    body: ShareLinkIn,
    core: Core,
    me: CustomerPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> ShareLinkCreatedOut:
    """Share one of my bookings."""
    return _create(core, booking_id, body, me, idempotency_key)


@router.get(
    "/api/v1/customer/bookings/{booking_id}/share-links",
    tags=_CUSTOMER,
    operation_id="customer_list_share_links",
    responses=_ERRORS,
)
def customer_list_share_links(
    booking_id: UUID, core: Core, me: CustomerPrincipal
) -> list[ShareLinkOut]:
    """My booking's share links, oldest first, tokens masked; ``active`` says which work,
    ``opens`` which open the trip now (the booking may be shared no more), and
    ``view_count`` and ``last_opened_at`` how often and when each last did."""
    return _list(core, booking_id, me)


@router.delete(
    "/api/v1/customer/bookings/{booking_id}/share-links/{link_id}",
    tags=_CUSTOMER,
    operation_id="customer_revoke_share_link",
    responses=_ERRORS,
)
def customer_revoke_share_link(
    booking_id: UUID, link_id: UUID, core: Core, me: CustomerPrincipal
) -> ShareLinkOut:
    """Stop a share link working at once (again: no change). Another booking's link,
    or an unknown one, answers 404."""
    return _revoke(core, booking_id, link_id, me)


@router.post(
    "/api/bookings/{booking_id}/share-links",
    tags=_BOOKINGS,
    operation_id="booking_create_share_link",
    status_code=status.HTTP_201_CREATED,
    responses=_CREATE_ERRORS,
    description=_CREATE_DOC,
)
def booking_create_share_link(
    booking_id: UUID,
    body: ShareLinkIn,
    core: Core,
    caller: AnyPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> ShareLinkCreatedOut:
    """Share a booking: staff on the customer's behalf, a partner for its own bookings."""
    return _create(core, booking_id, body, caller, idempotency_key)


@router.get(
    "/api/bookings/{booking_id}/share-links",
    tags=_BOOKINGS,
    operation_id="booking_list_share_links",
    responses=_ERRORS,
)
def booking_list_share_links(
    booking_id: UUID, core: Core, caller: AnyPrincipal
) -> list[ShareLinkOut]:
    """A booking's share links, oldest first, tokens masked, with ``opens`` (the token
    opens the trip now), ``view_count`` and ``last_opened_at``."""
    return _list(core, booking_id, caller)


@router.delete(
    "/api/bookings/{booking_id}/share-links/{link_id}",
    tags=_BOOKINGS,
    operation_id="booking_revoke_share_link",
    responses=_ERRORS,
)
def booking_revoke_share_link(
    booking_id: UUID, link_id: UUID, core: Core, caller: AnyPrincipal
) -> ShareLinkOut:
    """Stop a booking's share link working at once."""
    return _revoke(core, booking_id, link_id, caller)


@router.get(
    SHARED_TRIP_PATH,
    tags=["shared trips"],
    operation_id="view_shared_trip",
    responses=problem_responses(NotFoundError, RateLimitedError),
    dependencies=[Depends(shared_trip_rate)],
)
def view_shared_trip(
    token: Annotated[str, Path(description="The token of a share link")],
    core: Core,
    response: Response,
) -> SharedTripOut:
    """The trip a share link opens, for anyone holding its token: no sign-in. Unknown,
    expired and revoked tokens, bookings shared no more (cancelled, refunded, a no-show,
    otherwise ended untravelled, archived) and erased customers all answer the same 404.
    Each open is counted on its link (the owner sees ``view_count`` and
    ``last_opened_at`` when listing links). Reads are rate limited per client address
    (429 with ``Retry-After``)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return SharedTripOut.of(core.sharing.view(token))
