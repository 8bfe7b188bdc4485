"""The customer API behind a mobile booking app: phone sign-in, profile, saved travelers
and bookings; the customer's certificates, payment history and data export.

Every path is under ``/api/v1/customer`` and, past sign-in, takes a customer's
access token only.
"""

from __future__ import annotations

from enum import Enum
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from bookingcore import (
    AuthenticationError,
    BookingId,
    CapacityError,
    DeliveryError,
    DuplicateError,
    IdempotencyConflictError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    StaleVersionError,
    TravelerId,
)
from examples.api.deps import (
    Core,
    CustomerPrincipal,
    IdempotencyKey,
    Origin,
    Token,
    client_key,
    customer_id_of,
)
from examples.api.errors import fields_as_sent, new_traveler_fields, problem_responses
from examples.api.routes._bookings import booking_out, booking_page
from examples.api.routes._paging import Cursor, Limit, page_request
from examples.api.schemas import (
    BookingCreateIn,
    BookingOut,
    BookingPage,
    CancelIn,
    CancellationTermsOut,
    CustomerOut,
    OtpRequestedOut,
    OtpRequestIn,
    OtpVerifyIn,
    PaymentOut,
    ProfileIn,
    RefreshIn,
    SignedInOut,
    TokensOut,
    TravelerIn,
    TravelerOut,
    TravelerUpdateIn,
)
from examples.api.schemas_ops import CertificateOut

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/customer")

_AUTH: list[str | Enum] = ["customer auth"]
_TRAVELERS: list[str | Enum] = ["customer travelers"]
_BOOKINGS: list[str | Enum] = ["customer bookings"]
_RECORDS: list[str | Enum] = ["customer records"]


# ---------------------------------------------------------------------- auth


@router.post(
    "/auth/request-otp",
    tags=_AUTH,
    operation_id="customer_request_otp",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(RateLimitedError, DeliveryError),
)
def request_otp(body: OtpRequestIn, core: Core, origin: Origin) -> OtpRequestedOut:
    """Text a 6-digit sign-in code to ``phone`` (5 minutes; one per minute)."""
    sent = core.auth.request_otp(body.phone, client_key=client_key(origin))
    return OtpRequestedOut.of(sent)


@router.post(
    "/auth/verify-otp",
    tags=_AUTH,
    operation_id="customer_verify_otp",
    responses=problem_responses(AuthenticationError, RateLimitedError),
)
def verify_otp(body: OtpVerifyIn, core: Core, origin: Origin) -> SignedInOut:
    """Check the code; sign the customer in, registering a new phone number."""
    with fields_as_sent(lambda field: "otp" if field == "code" else field):
        signed = core.auth.verify_otp(
            body.phone, body.otp, client_key=client_key(origin), origin=origin
        )
    return SignedInOut.of_sign_in(signed)


@router.post(
    "/auth/refresh",
    tags=_AUTH,
    operation_id="customer_refresh",
    responses=problem_responses(AuthenticationError),
)
def refresh(body: RefreshIn, core: Core, origin: Origin) -> TokensOut:
    """Trade a refresh token for new tokens; a spent one ends the whole session."""
    return TokensOut.of(core.auth.refresh(body.refresh_token, expect="customer", origin=origin))


@router.post(
    "/auth/logout",
    tags=_AUTH,
    operation_id="customer_logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(AuthenticationError),
)
def logout(core: Core, token: Token, origin: Origin) -> Response:
    """End the session of the bearer token (access or refresh): every token of it stops working."""
    core.auth.logout(token, origin=origin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/auth/profile",
    tags=_AUTH,
    operation_id="customer_get_profile",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def get_profile(core: Core, me: CustomerPrincipal) -> CustomerOut:
    """The signed-in customer."""
    return CustomerOut.of(core.customers.get(customer_id_of(me), principal=me))


@router.put(
    "/auth/profile",
    tags=_AUTH,
    operation_id="customer_update_profile",
    responses=problem_responses(AuthenticationError, NotFoundError, StaleVersionError),
)
def update_profile(body: ProfileIn, core: Core, me: CustomerPrincipal) -> CustomerOut:
    """Complete the profile: name and email."""
    customer = core.customers.complete_profile(
        customer_id_of(me),
        principal=me,
        name=body.name,
        email=body.email,
        expected_version=body.expected_version,
    )
    return CustomerOut.of(customer)


# ---------------------------------------------------------------------- travelers


@router.get(
    "/travelers",
    tags=_TRAVELERS,
    operation_id="customer_list_travelers",
    responses=problem_responses(AuthenticationError),
)
def list_travelers(core: Core, me: CustomerPrincipal) -> list[TravelerOut]:
    """The customer's saved travelers, oldest first (deleted ones left out)."""
    return [TravelerOut.of(t) for t in core.travelers.list(customer_id_of(me), principal=me)]


@router.post(
    "/travelers",
    tags=_TRAVELERS,
    operation_id="customer_add_traveler",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(AuthenticationError, IdempotencyConflictError),
)
def add_traveler(
    body: TravelerIn, core: Core, me: CustomerPrincipal, idempotency_key: IdempotencyKey = None
) -> TravelerOut:
    """Save a traveler for this and later bookings.

    With an ``Idempotency-Key`` a retry answers the traveler the first call saved
    instead of saving another.
    """
    traveler = core.travelers.add(
        customer_id_of(me), body.to_details(), principal=me, idempotency_key=idempotency_key
    )
    return TravelerOut.of(traveler)


@router.get(
    "/travelers/{traveler_id}",
    tags=_TRAVELERS,
    operation_id="customer_get_traveler",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def get_traveler(traveler_id: UUID, core: Core, me: CustomerPrincipal) -> TravelerOut:
    """One of the customer's travelers (another customer's answers 404)."""
    return TravelerOut.of(core.travelers.get(TravelerId(traveler_id), principal=me))


@router.put(
    "/travelers/{traveler_id}",
    tags=_TRAVELERS,
    operation_id="customer_update_traveler",
    responses=problem_responses(
        AuthenticationError, NotFoundError, StaleVersionError, IdempotencyConflictError
    ),
)
def update_traveler(
    traveler_id: UUID,
    body: TravelerUpdateIn,
    core: Core,
    me: CustomerPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> TravelerOut:
    """Replace a traveler's details; past bookings keep pointing at the same person.

    With an ``Idempotency-Key`` a retry answers the traveler as it is now.
    """
    traveler = core.travelers.update(
        TravelerId(traveler_id),
        body.to_details(),
        principal=me,
        expected_version=body.expected_version,
        idempotency_key=idempotency_key,
    )
    return TravelerOut.of(traveler)


@router.delete(
    "/travelers/{traveler_id}",
    tags=_TRAVELERS,
    operation_id="customer_delete_traveler",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def delete_traveler(traveler_id: UUID, core: Core, me: CustomerPrincipal) -> Response:
    """Soft-delete a traveler: gone from lists and new bookings, kept on past ones."""
    core.travelers.delete(TravelerId(traveler_id), principal=me)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------- bookings


@router.post(
    "/bookings",
    tags=_BOOKINGS,
    operation_id="customer_create_booking",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        CapacityError,
        DuplicateError,
        IdempotencyConflictError,
    ),
)
def create_booking(
    body: BookingCreateIn,
    core: Core,
    me: CustomerPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> BookingOut:
    """Book a slot for saved travelers (by ``id``) and new ones (by their details).

    Exactly one traveler is the primary contact. With an ``Idempotency-Key`` a
    retry answers the first booking and books nothing more.
    """
    with fields_as_sent(new_traveler_fields()):
        booking = core.bookings.book(
            body.to_request(), principal=me, idempotency_key=idempotency_key
        )
    return booking_out(core, me, booking)


@router.get(
    "/bookings",
    tags=_BOOKINGS,
    operation_id="customer_list_bookings",
    responses=problem_responses(AuthenticationError),
)
def list_bookings(
    request: Request, core: Core, me: CustomerPrincipal, limit: Limit = 20, cursor: Cursor = None
) -> BookingPage:
    """The customer's bookings, newest first."""
    page = core.bookings.list(None, page_request(limit, cursor), principal=me)
    return booking_page(BookingPage, request, page, core, me)


@router.get(
    "/bookings/{booking_id}",
    tags=_BOOKINGS,
    operation_id="customer_get_booking",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def get_booking(booking_id: UUID, core: Core, me: CustomerPrincipal) -> BookingOut:
    """One of the customer's bookings (another customer's answers 404)."""
    return booking_out(core, me, core.bookings.get(BookingId(booking_id), principal=me))


@router.get(
    "/bookings/{booking_id}/cancellation-terms",
    tags=_BOOKINGS,
    operation_id="customer_booking_cancellation_terms",
    responses=problem_responses(AuthenticationError, NotFoundError, InvalidTransitionError),
)
def cancellation_terms(booking_id: UUID, core: Core, me: CustomerPrincipal) -> CancellationTermsOut:
    """What cancelling one of the customer's bookings now would give: until when it can be
    cancelled online, the refund percent and the refundable money (409 once it cannot be
    cancelled any more)."""
    terms = core.bookings.cancellation_terms(BookingId(booking_id), principal=me)
    return CancellationTermsOut.of(booking_id, terms)


@router.post(
    "/bookings/{booking_id}/cancel",
    tags=_BOOKINGS,
    operation_id="customer_cancel_booking",
    responses=problem_responses(
        AuthenticationError,
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
    me: CustomerPrincipal,
    body: CancelIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> BookingOut:
    """Cancel a booking before the business's online deadline (its slot's start unless the
    business says otherwise; see ``cancellation-terms``); its seats go back to the slot."""
    wanted = body or CancelIn()
    booking = core.bookings.cancel(
        BookingId(booking_id),
        principal=me,
        reason=wanted.reason,
        expected_version=wanted.expected_version,
        idempotency_key=idempotency_key,
    )
    return booking_out(core, me, booking)


# ---------------------------------------------------------------------- records


@router.get(
    "/certificates",
    tags=_RECORDS,
    operation_id="customer_list_certificates",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def list_certificates(core: Core, me: CustomerPrincipal) -> list[CertificateOut]:
    """The certificates the customer earned (theirs and their travelers'), newest first."""
    found = core.certificates.for_customer(customer_id_of(me), principal=me)
    return [CertificateOut.of(c) for c in found]


@router.get(
    "/payments",
    tags=_RECORDS,
    operation_id="customer_list_payments",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def list_payments(core: Core, me: CustomerPrincipal) -> list[PaymentOut]:
    """The customer's payment history: every payment of their bookings,
    oldest first."""
    return [PaymentOut.of(p) for p in core.payments.for_customer(customer_id_of(me), principal=me)]


@router.get(
    "/export",
    tags=_RECORDS,
    operation_id="customer_export_data",
    responses=problem_responses(AuthenticationError, PermissionDeniedError, NotFoundError),
)
def export_data(core: Core, me: CustomerPrincipal) -> dict[str, Any]:
    """Everything stored about the signed-in customer, as JSON (the right of access)."""
    return core.privacy.export_customer(customer_id_of(me), principal=me)
