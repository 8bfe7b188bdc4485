"""Archiving old bookings (routine maintenance): archive now, and bring one back.

Staff tokens; the library's policy allows it to those who change every booking
(``change_all``). Archived bookings are listed with ``GET /api/admin/bookings``
and ``?only_archived=true`` (or ``?include_archived=true`` for both); the daily
``bookings.archive`` job of a worker archives on its own once
``Settings.archive_after`` is set.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from bookingcore import (
    AuthenticationError,
    BookingId,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from examples.api.deps import Core, StaffPrincipal
from examples.api.errors import problem_responses
from examples.api.routes._bookings import staff_booking_out
from examples.api.schemas import StaffBookingOut
from examples.api.schemas_admin import ArchiveIn, ArchiveRunOut, ArchiveSummaryOut, UnarchiveIn

__all__ = ["router"]

router = APIRouter(tags=["archive"])


@router.get(
    "/api/admin/archive",
    operation_id="admin_archive_summary",
    responses=problem_responses(AuthenticationError, PermissionDeniedError),
)
def archive_summary(core: Core, staff: StaffPrincipal) -> ArchiveSummaryOut:
    """How many bookings are live and how many archived (storage monitoring)."""
    return ArchiveSummaryOut.of(core.archive.summary(principal=staff))


@router.post(
    "/api/admin/archive",
    operation_id="admin_archive_bookings",
    responses=problem_responses(AuthenticationError, PermissionDeniedError, ValidationError),
)
def archive_bookings(body: ArchiveIn, core: Core, staff: StaffPrincipal) -> ArchiveRunOut:
    """Archive, in batches, the bookings in a final state whose slot ended before
    ``ended_before`` and with nothing open (no balance, payment in flight, unsettled
    refund or open waiting-list offer). Safe to repeat: archived ones are left as they are.
    422 for a cutoff in the future, or none while ``Settings.archive_after`` is unset."""
    run = core.archive.archive_due(
        principal=staff, ended_before=body.ended_before, batch_size=body.batch_size
    )
    return ArchiveRunOut.of(run)


@router.post(
    "/api/admin/bookings/{booking_id}/unarchive",
    operation_id="admin_unarchive_booking",
    responses=problem_responses(AuthenticationError, PermissionDeniedError, NotFoundError),
)
def unarchive_booking(
    booking_id: UUID, body: UnarchiveIn, core: Core, staff: StaffPrincipal
) -> StaffBookingOut:
    """Bring an archived booking back to the lists, so it may be changed again (a live
    booking is answered as it is)."""
    booking = core.archive.unarchive(BookingId(booking_id), principal=staff, reason=body.reason)
    return staff_booking_out(core, staff, booking)
