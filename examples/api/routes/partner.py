"""The partner API (``/api/partner``): token, locations, dive sites, availability,
customers, bookings.

A partner trades its API key and secret for an hour's bearer token at
``/api/partner/auth/token``; every other path takes that token, counts the
request against the partner's rate limit (429 with ``Retry-After`` past it),
and shows and changes only what the partner created, at the locations it may
book (the library's policy decides; other records answer 404).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, status
from pydantic import AwareDatetime

from bookingcore import (
    AuthenticationError,
    BookingChanges,
    BookingCore,
    BookingId,
    CapacityError,
    CustomerFilter,
    CustomerId,
    DuplicateError,
    IdempotencyConflictError,
    InvalidTransitionError,
    LocationId,
    NotFoundError,
    PartnerId,
    PermissionDeniedError,
    Principal,
    ProductId,
    RateLimitedError,
    SlotFilter,
    StaleVersionError,
)
from bookingcore.domain import ProductKind
from bookingcore.services import UNSET
from examples.api.deps import Core, IdempotencyKey, Origin, PartnerPrincipal
from examples.api.errors import fields_as_sent, new_traveler_fields, problem_responses
from examples.api.routes._bookings import booking_out, booking_page, partner_names
from examples.api.routes._filters import OnDay, starts_within
from examples.api.routes._paging import Cursor, Limit, page_request, paged
from examples.api.routes.partners import KeepPreviousFor
from examples.api.schemas import (
    BookingOut,
    BookingPage,
    BookingReplaceIn,
    BookingUpdateIn,
    CancellationTermsOut,
    CustomerIn,
    CustomerOut,
    CustomerPage,
    LocationOut,
    Paged,
    PartnerBookingIn,
    PartnerCredentialsOut,
    PartnerOut,
    PartnerRotateIn,
    PartnerTokenIn,
    PartnerWebhookSecretOut,
    SignedInOut,
    SlotOut,
)
from examples.api.schemas_ops import CustomerViewOut
from examples.api.schemas_travel import ProductOut

__all__ = ["router"]

router = APIRouter(prefix="/api/partner", tags=["partner"])

#: What every token-taking partner route may answer besides its own errors: a bad
#: token (401), a call from outside the partner's allowed_ips (403), too many requests (429).
_PARTNER = (AuthenticationError, PermissionDeniedError, RateLimitedError)


@router.post(
    "/auth/token",
    operation_id="partner_token",
    responses=problem_responses(AuthenticationError, RateLimitedError),
)
def token(body: PartnerTokenIn, core: Core, origin: Origin) -> SignedInOut:
    """A bearer token (an hour, no refresh) for the partner's API key and secret."""
    signed = core.auth.sign_in_partner(
        body.api_key, body.api_secret, client_ip=origin.ip_address, user_agent=origin.user_agent
    )
    return SignedInOut.of_sign_in(signed)


@router.get(
    "/locations", operation_id="partner_list_locations", responses=problem_responses(*_PARTNER)
)
def list_locations(core: Core, partner: PartnerPrincipal) -> list[LocationOut]:
    """The active locations the partner may book."""
    return [
        LocationOut.of(loc)
        for loc in core.catalog.list_locations(principal=partner, only_active=True)
    ]


@router.get(
    "/dive-sites",
    operation_id="partner_list_dive_sites",
    responses=problem_responses(*_PARTNER, NotFoundError),
)
def list_dive_sites(
    request: Request,
    core: Core,
    partner: PartnerPrincipal,
    location_id: Annotated[
        UUID | None, Query(description="Only those at this location (one the partner may book)")
    ] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Text in code, name or description")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Paged[ProductOut]:
    """Dive sites for partner dive shops: the active products of kind ``dive``, newest first, a page
    at a time (follow ``next``); pass one's ``id`` as ``product_id`` to ``/availability``
    for its slots. A ``location_id`` the partner may not book answers 404."""
    location = None
    if location_id is not None:
        location = core.catalog.location(LocationId(location_id), principal=partner).id
    page = core.catalog.search_products(
        page_request(limit, cursor),
        principal=partner,
        kind=ProductKind.DIVE,
        location_id=location,
        text=q,
    )
    return paged(Paged[ProductOut], request, page, ProductOut.of)


@router.get(
    "/availability", operation_id="partner_availability", responses=problem_responses(*_PARTNER)
)
def availability(
    request: Request,
    core: Core,
    partner: PartnerPrincipal,
    location_id: UUID | None = None,
    product_id: Annotated[
        UUID | None, Query(description="Only slots of this product (a dive site, a trek)")
    ] = None,
    starts_from: AwareDatetime | None = None,
    starts_before: AwareDatetime | None = None,
    booking_date: OnDay = None,
    only_available: Annotated[bool, Query(description="Leave out full slots")] = True,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Paged[SlotOut]:
    """Open slots at the partner's locations, earliest start first, with the seats
    left, a page at a time (follow ``next``)."""
    starts_from, starts_before = starts_within(
        core.context.settings.zone, booking_date, starts_from, starts_before
    )
    query = SlotFilter(
        location_id=None if location_id is None else LocationId(location_id),
        product_id=None if product_id is None else ProductId(product_id),
        starts_from=starts_from,
        starts_before=starts_before,
        only_available=only_available,
    )
    page = core.catalog.list_slots(query, page_request(limit, cursor), principal=partner)
    return paged(Paged[SlotOut], request, page, SlotOut.of)


@router.post(
    "/customers",
    operation_id="partner_create_customer",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(*_PARTNER, PermissionDeniedError),
)
def create_customer(body: CustomerIn, core: Core, partner: PartnerPrincipal) -> CustomerOut:
    """Register a customer by phone (the same number again answers the same customer)."""
    registered = core.customers.register(
        body.phone, principal=partner, name=body.name, email=body.email
    )
    return CustomerOut.of(registered.customer)


@router.get(
    "/customers", operation_id="partner_list_customers", responses=problem_responses(*_PARTNER)
)
def list_customers(
    request: Request,
    core: Core,
    partner: PartnerPrincipal,
    q: Annotated[str | None, Query(max_length=200, description="Name, email or phone")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> CustomerPage:
    """The partner's customers, newest first."""
    page = core.customers.list(
        CustomerFilter(text=q) if q else None, page_request(limit, cursor), principal=partner
    )
    return paged(CustomerPage, request, page, CustomerOut.of)


@router.get(
    "/customers/{customer_id}",
    operation_id="partner_get_customer",
    responses=problem_responses(*_PARTNER, NotFoundError),
)
def get_customer(customer_id: UUID, core: Core, partner: PartnerPrincipal) -> CustomerOut:
    """One of the partner's customers (anyone else's answers 404)."""
    return CustomerOut.of(core.customers.get(CustomerId(customer_id), principal=partner))


@router.post(
    "/bookings",
    operation_id="partner_create_booking",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        *_PARTNER,
        PermissionDeniedError,
        NotFoundError,
        CapacityError,
        DuplicateError,
        IdempotencyConflictError,
    ),
)
def create_booking(
    body: PartnerBookingIn,
    core: Core,
    partner: PartnerPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> BookingOut:
    """Book a slot at one of the partner's locations for a customer given by phone."""
    with fields_as_sent(new_traveler_fields()):
        booking = core.bookings.book(
            body.to_request(), principal=partner, idempotency_key=idempotency_key
        )
    return booking_out(core, partner, booking)


@router.get(
    "/bookings", operation_id="partner_list_bookings", responses=problem_responses(*_PARTNER)
)
def list_bookings(
    request: Request,
    core: Core,
    partner: PartnerPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> BookingPage:
    """The partner's bookings, newest first."""
    page = core.bookings.list(None, page_request(limit, cursor), principal=partner)
    return booking_page(BookingPage, request, page, core, partner)


@router.get(
    "/bookings/{booking_id}",
    operation_id="partner_get_booking",
    responses=problem_responses(*_PARTNER, NotFoundError),
)
def get_booking(booking_id: UUID, core: Core, partner: PartnerPrincipal) -> BookingOut:
    """One of the partner's bookings (anyone else's answers 404)."""
    return booking_out(core, partner, core.bookings.get(BookingId(booking_id), principal=partner))


@router.get(
    "/bookings/{booking_id}/cancellation-terms",
    operation_id="partner_booking_cancellation_terms",
    responses=problem_responses(*_PARTNER, NotFoundError, InvalidTransitionError),
)
def cancellation_terms(
    booking_id: UUID, core: Core, partner: PartnerPrincipal
) -> CancellationTermsOut:
    """What cancelling one of the partner's bookings now would give: until when it can be
    cancelled online, the refund percent and the refundable money (409 once it cannot be
    cancelled any more)."""
    terms = core.bookings.cancellation_terms(BookingId(booking_id), principal=partner)
    return CancellationTermsOut.of(booking_id, terms)


@router.delete(
    "/bookings/{booking_id}",
    operation_id="partner_cancel_booking",
    responses=problem_responses(
        *_PARTNER,
        NotFoundError,
        PermissionDeniedError,
        StaleVersionError,
        InvalidTransitionError,
        IdempotencyConflictError,
    ),
)
def cancel_booking(
    booking_id: UUID,
    core: Core,
    partner: PartnerPrincipal,
    reason: Annotated[str | None, Query(max_length=500)] = None,
    idempotency_key: IdempotencyKey = None,
) -> BookingOut:
    """Cancel one of the partner's bookings before the online deadline (its slot's start
    unless the business says otherwise; a DELETE cancels)."""
    booking = core.bookings.cancel(
        BookingId(booking_id),
        principal=partner,
        reason=reason,
        idempotency_key=idempotency_key,
    )
    return booking_out(core, partner, booking)


@router.patch(
    "/bookings/{booking_id}",
    operation_id="partner_update_booking",
    responses=problem_responses(
        *_PARTNER,
        NotFoundError,
        PermissionDeniedError,
        StaleVersionError,
        DuplicateError,
        IdempotencyConflictError,
    ),
)
def update_booking(
    booking_id: UUID,
    body: BookingUpdateIn,
    core: Core,
    partner: PartnerPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> BookingOut:
    """Change the partner's own id or the referral source of one of its bookings.

    With an ``Idempotency-Key`` a retry answers the booking as it is now and changes
    nothing more.
    """
    given = body.model_fields_set
    changes = BookingChanges(
        external_id=body.external_id if "external_id" in given else UNSET,
        referral_source=body.referral_source if "referral_source" in given else UNSET,
    )
    return _updated(core, partner, booking_id, changes, body, idempotency_key)


@router.put(
    "/bookings/{booking_id}",
    operation_id="partner_replace_booking",
    responses=problem_responses(
        *_PARTNER,
        NotFoundError,
        PermissionDeniedError,
        StaleVersionError,
        DuplicateError,
        IdempotencyConflictError,
    ),
)
def replace_booking(
    booking_id: UUID,
    body: BookingReplaceIn,
    core: Core,
    partner: PartnerPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> BookingOut:
    """Set the partner's own id and the referral source of one of its bookings, both at
    once (a ``PUT`` of the few fields a partner may change): a field left out is cleared.

    The same service call as ``PATCH``, with every editable field named.
    """
    changes = BookingChanges(external_id=body.external_id, referral_source=body.referral_source)
    return _updated(core, partner, booking_id, changes, body, idempotency_key)


def _updated(
    core: BookingCore,
    partner: Principal,
    booking_id: UUID,
    changes: BookingChanges,
    body: BookingUpdateIn | BookingReplaceIn,
    idempotency_key: str | None,
) -> BookingOut:
    booking = core.bookings.update(
        BookingId(booking_id),
        changes,
        principal=partner,
        expected_version=body.expected_version,
        reason=body.reason,
        idempotency_key=idempotency_key,
    )
    return booking_out(core, partner, booking)


@router.get(
    "/customers/{customer_id}/view",
    operation_id="partner_customer_view",
    responses=problem_responses(*_PARTNER, NotFoundError),
)
def customer_view(customer_id: UUID, core: Core, partner: PartnerPrincipal) -> CustomerViewOut:
    """The customer history view of one of the partner's customers, counting and
    listing only the partner's own bookings, without staff notes (``notes`` is empty;
    anyone else's customer answers 404)."""
    view = core.customers.view(CustomerId(customer_id), principal=partner)
    names = partner_names(core, partner, [*view.upcoming, *view.recent])
    return CustomerViewOut.of(view, names)


# ---------------------------------------------------------------------- its own record


def _own(partner: Principal) -> PartnerId:
    assert partner.id is not None  # a partner principal always names its partner
    return PartnerId(partner.id)


@router.get(
    "/me", operation_id="partner_get_self", responses=problem_responses(*_PARTNER, NotFoundError)
)
def get_self(core: Core, partner: PartnerPrincipal) -> PartnerOut:
    """The partner's own record and settings (never its secrets).

    Settings are changed by the business's admins (``PUT /api/admin/partners/{id}/settings``).
    """
    return PartnerOut.of(core.partners.get(_own(partner), principal=partner))


@router.post(
    "/me/rotate-secret",
    operation_id="partner_rotate_secret",
    responses=problem_responses(*_PARTNER, NotFoundError, PermissionDeniedError),
)
def rotate_secret(
    body: PartnerRotateIn,
    core: Core,
    partner: PartnerPrincipal,
    keep_previous_for: KeepPreviousFor = 0,
) -> PartnerCredentialsOut:
    """Issue a new API secret, shown in this answer only; the old one and every token bought
    with it stop working at once (sign in again with the new one). With ``keep_previous_for``
    seconds, the old secret and its tokens keep working that long: move clients over meanwhile.

    The body repeats the current API secret (``current_secret``; during a grace period the
    previous one counts too): the bearer token alone does not change credentials. A missing
    or wrong one answers 401 and changes nothing."""
    rotated = core.partners.rotate_secret(
        _own(partner),
        principal=partner,
        keep_previous_for=timedelta(seconds=keep_previous_for),
        current_secret=body.current_secret,
    )
    return PartnerCredentialsOut.of(rotated)


@router.post(
    "/me/rotate-webhook-secret",
    operation_id="partner_rotate_webhook_secret",
    responses=problem_responses(*_PARTNER, NotFoundError, PermissionDeniedError),
)
def rotate_webhook_secret(
    body: PartnerRotateIn,
    core: Core,
    partner: PartnerPrincipal,
    keep_previous_for: KeepPreviousFor = 0,
) -> PartnerWebhookSecretOut:
    """Issue a new webhook signing secret, shown in this answer only; webhooks from now on are
    signed with it only (accept both in the receiver before rotating), or with it and the
    previous one for ``keep_previous_for`` seconds (switch the receiver meanwhile).

    The body repeats the current API secret (``current_secret``), as for ``rotate-secret``."""
    rotated = core.partners.rotate_webhook_secret(
        _own(partner),
        principal=partner,
        keep_previous_for=timedelta(seconds=keep_previous_for),
        current_secret=body.current_secret,
    )
    return PartnerWebhookSecretOut.of(rotated)
