"""Attendance: who turned up to a slot, traveler by traveler.

Staff mark each booked traveler attended, no-show or unknown once the slot started
(``POST /api/admin/bookings/{id}/attendance``, with an ``Idempotency-Key`` a retry
records nothing twice), read a slot's roll call (``GET
/api/admin/slots/{id}/roll-call``) and a customer's attendance history (``GET
/api/admin/customers/{id}/attendance``); a signed-in customer reads their own
(``GET /api/v1/customer/attendance``). The request and answer models live here,
with the routes they serve.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field

from bookingcore import (
    Attendance,
    AttendanceMark,
    AuthenticationError,
    BookingId,
    CustomerId,
    IdempotencyConflictError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    SlotId,
    StaleVersionError,
    TravelerId,
)
from bookingcore.domain import (
    AttendanceHistory,
    AttendanceRecord,
    Booking,
    RollCall,
    RollCallEntry,
    TravelerAttendance,
)
from bookingcore.domain.attendance import AttendanceEntry
from examples.api.deps import (
    Core,
    CustomerPrincipal,
    IdempotencyKey,
    StaffPrincipal,
    customer_id_of,
)
from examples.api.errors import problem_responses
from examples.api.schemas import ActorOut, StaffBookingOut, StrictIn

__all__ = ["router"]

router = APIRouter(tags=["attendance"])


class TravelerMarkIn(StrictIn):
    """One traveler's attendance, with an optional note ("arrived an hour late")."""

    traveler_id: UUID
    attendance: Attendance
    note: str | None = Field(default=None, max_length=500)


class AttendanceIn(StrictIn):
    """The travelers to mark (others stay as they are)."""

    travelers: list[TravelerMarkIn] = Field(min_length=1, max_length=500)
    expected_version: int | None = Field(
        default=None, description="Refuse (409) when the booking changed since this version"
    )


class AttendanceRecordOut(BaseModel):
    """What was recorded for a traveler: the attendance, when, by whom, the note."""

    attendance: Attendance
    recorded_at: datetime
    recorded_by: ActorOut
    note: str | None

    @classmethod
    def of(cls, record: AttendanceRecord | None) -> AttendanceRecordOut | None:
        """The record's fields (``None`` when nothing was recorded)."""
        if record is None:
            return None
        return cls(
            attendance=record.status,
            recorded_at=record.recorded_at,
            recorded_by=ActorOut.of(record.recorded_by),
            note=record.note,
        )


class TravelerAttendanceOut(BaseModel):
    """A traveler on the booking and their attendance (``null``: not recorded)."""

    traveler_id: UUID
    record: AttendanceRecordOut | None


class BookingAttendanceOut(BaseModel):
    """The booking after the marks, and each traveler's attendance."""

    booking: StaffBookingOut
    travelers: list[TravelerAttendanceOut]

    @classmethod
    def of(cls, booking: Booking) -> BookingAttendanceOut:
        """The booking and its travelers' records."""
        return cls(
            booking=StaffBookingOut.of(booking),
            travelers=[
                TravelerAttendanceOut(
                    traveler_id=t.traveler_id, record=AttendanceRecordOut.of(t.attendance)
                )
                for t in booking.travelers
            ],
        )


class RollCallEntryOut(BaseModel):
    """One traveler booked on the slot: their booking, name and attendance."""

    booking_id: UUID
    reference: str
    booking_status: str
    customer_id: UUID
    traveler_id: UUID
    traveler_name: str | None
    is_primary: bool
    attendance: Attendance = Field(description="unknown when nothing was recorded")
    record: AttendanceRecordOut | None

    @classmethod
    def of(cls, entry: RollCallEntry) -> RollCallEntryOut:
        """The entry's fields."""
        return cls(
            booking_id=entry.booking_id,
            reference=entry.reference,
            booking_status=entry.booking_status,
            customer_id=entry.customer_id,
            traveler_id=entry.traveler_id,
            traveler_name=entry.traveler_name,
            is_primary=entry.is_primary,
            attendance=entry.attendance,
            record=AttendanceRecordOut.of(entry.record),
        )


class RollCallOut(BaseModel):
    """Every traveler booked on the slot (cancelled bookings left out), with counts."""

    slot_id: UUID
    starts_at: datetime
    attended: int
    no_shows: int
    unknown: int
    travelers: list[RollCallEntryOut]

    @classmethod
    def of(cls, roll: RollCall) -> RollCallOut:
        """The roll call's entries and counts."""
        return cls(
            slot_id=roll.slot_id,
            starts_at=roll.starts_at,
            attended=roll.count(Attendance.ATTENDED),
            no_shows=roll.count(Attendance.NO_SHOW),
            unknown=roll.count(Attendance.UNKNOWN),
            travelers=[RollCallEntryOut.of(e) for e in roll.entries],
        )


class TravelerTallyOut(BaseModel):
    """How often one traveler attended, did not show, or was not marked."""

    traveler_id: UUID
    name: str | None
    sessions: int
    attended: int
    no_shows: int
    unrecorded: int

    @classmethod
    def of(cls, tally: TravelerAttendance) -> TravelerTallyOut:
        """The tally's fields."""
        return cls(
            traveler_id=tally.traveler_id,
            name=tally.name,
            sessions=tally.sessions,
            attended=tally.attended,
            no_shows=tally.no_shows,
            unrecorded=tally.unrecorded,
        )


class AttendanceEntryOut(BaseModel):
    """One session a traveler was booked on that started."""

    booking_id: UUID
    reference: str
    slot_id: UUID
    starts_at: datetime
    traveler_id: UUID
    attendance: Attendance
    recorded_at: datetime | None

    @classmethod
    def of(cls, entry: AttendanceEntry) -> AttendanceEntryOut:
        """The entry's fields."""
        return cls(
            booking_id=entry.booking_id,
            reference=entry.reference,
            slot_id=entry.slot_id,
            starts_at=entry.starts_at,
            traveler_id=entry.traveler_id,
            attendance=entry.attendance,
            recorded_at=entry.recorded_at,
        )


class AttendanceHistoryOut(BaseModel):
    """A customer's attendance: totals, a tally per traveler, every session newest first."""

    customer_id: UUID
    attended: int
    no_shows: int
    travelers: list[TravelerTallyOut]
    sessions: list[AttendanceEntryOut]

    @classmethod
    def of(cls, history: AttendanceHistory) -> AttendanceHistoryOut:
        """The history's figures and sessions."""
        return cls(
            customer_id=history.customer_id,
            attended=history.attended,
            no_shows=history.no_shows,
            travelers=[TravelerTallyOut.of(t) for t in history.travelers],
            sessions=[AttendanceEntryOut.of(e) for e in history.entries],
        )


@router.post(
    "/api/admin/bookings/{booking_id}/attendance",
    operation_id="admin_record_attendance",
    responses=problem_responses(
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
        InvalidTransitionError,
        StaleVersionError,
        IdempotencyConflictError,
    ),
)
def record_attendance(
    booking_id: UUID,
    body: AttendanceIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> BookingAttendanceOut:
    """Mark travelers attended, no-show or unknown once the slot started. A slot not
    started yet or a traveler not on the booking answers 422, a cancelled booking 409.
    The booking's status stays as it is unless the business set
    ``attendance_moves_status`` (then a booking whose every traveler is a no-show moves
    to ``no_show``, one whose every traveler attended to ``completed``)."""
    marks = {
        TravelerId(m.traveler_id): AttendanceMark(m.attendance, m.note) for m in body.travelers
    }
    booking = core.bookings.record_attendance(
        BookingId(booking_id),
        marks,
        principal=staff,
        expected_version=body.expected_version,
        idempotency_key=idempotency_key,
    )
    return BookingAttendanceOut.of(booking)


@router.get(
    "/api/admin/slots/{slot_id}/roll-call",
    operation_id="admin_slot_roll_call",
    responses=problem_responses(AuthenticationError, NotFoundError, PermissionDeniedError),
)
def roll_call(slot_id: UUID, core: Core, staff: StaffPrincipal) -> RollCallOut:
    """Every traveler booked on the slot with their attendance, oldest booking first:
    the list staff check off at the start (each sees the bookings they may see)."""
    return RollCallOut.of(core.bookings.roll_call(SlotId(slot_id), principal=staff))


@router.get(
    "/api/admin/customers/{customer_id}/attendance",
    operation_id="admin_customer_attendance",
    responses=problem_responses(AuthenticationError, NotFoundError, PermissionDeniedError),
)
def customer_attendance(
    customer_id: UUID, core: Core, staff: StaffPrincipal
) -> AttendanceHistoryOut:
    """A customer's attendance history: sessions attended and missed per
    traveler, over the started sessions of the bookings the caller may see."""
    history = core.bookings.attendance_history(CustomerId(customer_id), principal=staff)
    return AttendanceHistoryOut.of(history)


@router.get(
    "/api/v1/customer/attendance",
    operation_id="customer_attendance",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def my_attendance(core: Core, me: CustomerPrincipal) -> AttendanceHistoryOut:
    """The signed-in customer's attendance history: each of their travelers' sessions."""
    history = core.bookings.attendance_history(customer_id_of(me), principal=me)
    return AttendanceHistoryOut.of(history)
