"""The staff booking desk (``/api/admin/bookings``): filters, text search, paging, moves.

Staff tokens only; what each role may see and do is the library's policy (an
advisor sees the bookings assigned to them, a supplier those it delivers).
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, status

from bookingcore import (
    AuthenticationError,
    BookingChanges,
    BookingId,
    CapacityError,
    DeliveryError,
    DuplicateError,
    IdempotencyConflictError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    StaffId,
    StaleVersionError,
)
from examples.api.deps import Core, IdempotencyKey, StaffPrincipal
from examples.api.errors import fields_as_sent, new_traveler_fields, problem_responses
from examples.api.routes._bookings import booking_page, partner_names, staff_booking_out
from examples.api.routes._filters import StaffBookingQuery
from examples.api.routes._paging import Cursor, Limit, page_request
from examples.api.schemas import (
    AssignIn,
    CancellationTermsOut,
    CommunicationOut,
    CustomerOut,
    Paged,
    SendMessageIn,
    StaffBookingIn,
    StaffBookingOut,
    TransitionIn,
    TransitionOut,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/admin/bookings", tags=["admin bookings"])


@router.post(
    "",
    operation_id="admin_create_booking",
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
    body: StaffBookingIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> StaffBookingOut:
    """Book a slot for a customer given by phone (found or created), on any channel."""
    with fields_as_sent(new_traveler_fields()):
        booking = core.bookings.book(
            body.to_request(), principal=staff, idempotency_key=idempotency_key
        )
    return staff_booking_out(core, staff, booking)


@router.get(
    "",
    operation_id="admin_list_bookings",
    responses=problem_responses(AuthenticationError, PermissionDeniedError),
)
def list_bookings(
    request: Request,
    core: Core,
    staff: StaffPrincipal,
    query: StaffBookingQuery,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Paged[StaffBookingOut]:
    """Bookings matching every filter given, newest first, one keyset page at a time."""
    page = core.bookings.list(query, page_request(limit, cursor), principal=staff)
    return booking_page(Paged[StaffBookingOut], request, page, core, staff, StaffBookingOut.of)


@router.get(
    "/{booking_id}",
    operation_id="admin_get_booking",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def get_booking(booking_id: UUID, core: Core, staff: StaffPrincipal) -> StaffBookingOut:
    """One booking, with its internal notes and assignee."""
    return staff_booking_out(core, staff, core.bookings.get(BookingId(booking_id), principal=staff))


@router.get(
    "/{booking_id}/cancellation-terms",
    operation_id="admin_booking_cancellation_terms",
    responses=problem_responses(AuthenticationError, NotFoundError, InvalidTransitionError),
)
def cancellation_terms(booking_id: UUID, core: Core, staff: StaffPrincipal) -> CancellationTermsOut:
    """What cancelling the booking now would give its customer: the refund percent and the
    refundable money (refund it through the payments routes), and until when the customer
    could cancel online (409 once it cannot be cancelled any more)."""
    terms = core.bookings.cancellation_terms(BookingId(booking_id), principal=staff)
    return CancellationTermsOut.of(booking_id, terms)


@router.post(
    "/{booking_id}/transitions",
    operation_id="admin_transition_booking",
    responses=problem_responses(
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
        InvalidTransitionError,
        StaleVersionError,
        CapacityError,
        IdempotencyConflictError,
    ),
)
def transition_booking(
    booking_id: UUID,
    body: TransitionIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> TransitionOut:
    """Move a booking along its lifecycle (confirm, complete, cancel, ...)."""
    moved = core.bookings.transition(
        BookingId(booking_id),
        body.to,
        principal=staff,
        note=body.note,
        expected_version=body.expected_version,
        idempotency_key=idempotency_key,
    )
    return TransitionOut.of(moved, partner_names(core, staff, [moved.booking]))


@router.get(
    "/{booking_id}/user",
    operation_id="admin_get_booking_customer",
    responses=problem_responses(AuthenticationError, NotFoundError, PermissionDeniedError),
)
def get_booking_customer(booking_id: UUID, core: Core, staff: StaffPrincipal) -> CustomerOut:
    """The customer who booked (what older booking apps call ``/user``)."""
    booking = core.bookings.get(BookingId(booking_id), principal=staff)
    return CustomerOut.of(core.customers.get(booking.customer_id, principal=staff))


@router.get(
    "/{booking_id}/communications",
    operation_id="admin_list_booking_communications",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def list_communications(
    booking_id: UUID, core: Core, staff: StaffPrincipal
) -> list[CommunicationOut]:
    """Every message sent (or tried) about the booking, oldest first."""
    sent = core.communications.for_booking(BookingId(booking_id), principal=staff)
    return [CommunicationOut.of(m) for m in sent]


@router.post(
    "/{booking_id}/send-email",
    operation_id="admin_send_booking_message",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
        IdempotencyConflictError,
        DeliveryError,
    ),
)
def send_message(
    booking_id: UUID,
    body: SendMessageIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> CommunicationOut:
    """Send a message about the booking to its customer (email by default) and log it."""
    sent = core.communications.send(
        BookingId(booking_id),
        body.type,
        principal=staff,
        channel=body.channel,
        idempotency_key=idempotency_key,
    )
    return CommunicationOut.of(sent)


@router.patch(
    "/{booking_id}/assign",
    operation_id="admin_assign_booking",
    responses=problem_responses(
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
        StaleVersionError,
        IdempotencyConflictError,
    ),
)
def assign_booking(
    booking_id: UUID,
    body: AssignIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> StaffBookingOut:
    """Assign the booking to an advisor (as car dealerships do), or unassign it with ``null``.

    An unknown booking is a 404; an ``advisor_id`` that is not an active advisor
    (unknown, inactive, or staff of another role) a 422 on ``advisor_id``. With an
    ``Idempotency-Key`` a retry answers the booking as it is now and changes nothing
    more (not even a stale ``expected_version``).
    """
    if body.advisor_id is None:
        booking = core.bookings.update(
            BookingId(booking_id),
            BookingChanges(assignee_id=None),
            principal=staff,
            expected_version=body.expected_version,
            reason=body.reason,
            idempotency_key=idempotency_key,
        )
    else:
        # The library's rule: an unknown booking is a 404, then an advisor_id that is
        # not an active advisor a 422 on advisor_id.
        booking = core.bookings.assign(
            BookingId(booking_id),
            principal=staff,
            strategy="manual",
            advisor_id=StaffId(body.advisor_id),
            reason=body.reason,
            expected_version=body.expected_version,
            idempotency_key=idempotency_key,
        )
    return staff_booking_out(core, staff, booking)
