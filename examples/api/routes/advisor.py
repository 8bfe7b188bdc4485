"""The advisors' endpoints: the bookings assigned to me, their status, history and notes.

Staff tokens; the library's policy limits an advisor to the bookings assigned to
them (a booking assigned to someone else answers 404), and other staff roles
see what their role sees.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request

from bookingcore import (
    AuthenticationError,
    BookingFilter,
    BookingId,
    CapacityError,
    IdempotencyConflictError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    StaleVersionError,
)
from examples.api.deps import Core, IdempotencyKey, StaffPrincipal
from examples.api.errors import fields_as_sent, problem_responses
from examples.api.routes._bookings import booking_page, partner_names, staff_booking_out
from examples.api.routes._paging import Cursor, Limit, page_request
from examples.api.schemas import (
    AuditEntryOut,
    NoteIn,
    Paged,
    StaffBookingOut,
    StatusIn,
    TransitionOut,
)
from examples.api.schemas_ops import AdvisorNoteIn, AdvisorNoteOut

__all__ = ["router"]

router = APIRouter(prefix="/api/advisor/bookings", tags=["advisor"])


@router.get(
    "",
    operation_id="advisor_list_bookings",
    responses=problem_responses(AuthenticationError, PermissionDeniedError),
)
def list_bookings(
    request: Request,
    core: Core,
    me: StaffPrincipal,
    status: Annotated[list[str] | None, Query(description="Any of these statuses")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Paged[StaffBookingOut]:
    """The bookings assigned to the signed-in advisor, newest first."""
    query = BookingFilter(statuses=frozenset(status) if status else None)
    page = core.bookings.list(query, page_request(limit, cursor), principal=me)
    return booking_page(Paged[StaffBookingOut], request, page, core, me, StaffBookingOut.of)


@router.patch(
    "/{booking_id}/status",
    operation_id="advisor_update_status",
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
def update_status(
    booking_id: UUID,
    body: StatusIn,
    core: Core,
    me: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> TransitionOut:
    """Move an assigned booking to ``status`` with a note (checked against its lifecycle)."""
    with fields_as_sent(lambda field: "status" if field == "to" else field):
        moved = core.bookings.transition(
            BookingId(booking_id),
            body.status,
            principal=me,
            note=body.note,
            expected_version=body.expected_version,
            idempotency_key=idempotency_key,
        )
    return TransitionOut.of(moved, partner_names(core, me, [moved.booking]))


@router.get(
    "/{booking_id}/history",
    operation_id="advisor_booking_history",
    responses=problem_responses(AuthenticationError, NotFoundError, PermissionDeniedError),
)
def history(booking_id: UUID, core: Core, me: StaffPrincipal) -> list[AuditEntryOut]:
    """The audit history of an assigned booking, oldest first."""
    trail = core.bookings.audit_trail(BookingId(booking_id), principal=me)
    return [AuditEntryOut.of(entry) for entry in trail]


@router.post(
    "/{booking_id}/notes",
    operation_id="advisor_add_note",
    responses=problem_responses(
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
        StaleVersionError,
        IdempotencyConflictError,
    ),
)
def add_note(
    booking_id: UUID,
    body: NoteIn,
    core: Core,
    me: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> StaffBookingOut:
    """Add a note to an assigned booking's internal notes (the audit trail keeps each one).

    The notes are read and written back under the booking's lock, so a note added
    meanwhile by someone else is kept; with ``expected_version`` a booking changed
    since answers 409. With an ``Idempotency-Key`` a retry answers the booking as it
    is now and adds the note no second time.
    """
    updated = core.bookings.append_internal_note(
        BookingId(booking_id),
        body.note,
        principal=me,
        expected_version=body.expected_version,
        idempotency_key=idempotency_key,
    )
    return staff_booking_out(core, me, updated)


@router.get(
    "/{booking_id}/log",
    operation_id="advisor_list_log",
    responses=problem_responses(AuthenticationError, NotFoundError, PermissionDeniedError),
)
def list_log(booking_id: UUID, core: Core, me: StaffPrincipal) -> list[AdvisorNoteOut]:
    """The booking's advisor log (append-only, unlike the editable internal notes), oldest first."""
    return [AdvisorNoteOut.of(n) for n in core.bookings.notes(BookingId(booking_id), principal=me)]


@router.post(
    "/{booking_id}/log",
    operation_id="advisor_log_note",
    responses=problem_responses(
        AuthenticationError, NotFoundError, PermissionDeniedError, IdempotencyConflictError
    ),
)
def log_note(
    booking_id: UUID,
    body: AdvisorNoteIn,
    core: Core,
    me: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> AdvisorNoteOut:
    """Append a note to the booking's advisor log (who, when, what; never edited).

    With an ``Idempotency-Key`` a retry answers the note the first call wrote.
    """
    note = core.bookings.add_note(
        BookingId(booking_id), body.text, principal=me, idempotency_key=idempotency_key
    )
    return AdvisorNoteOut.of(note)
