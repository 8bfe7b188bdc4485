"""Attendance: whether each booked traveler turned up to a slot that started.

A booking keeps one :class:`AttendanceRecord` per traveler on its
:class:`~bookingcore.domain.bookings.BookingTraveler` entries, so attendance
changes with the booking (one lock, one version, one audit trail). This module
holds what attendance is made of and what is read from it: the staff's roll
call of a slot (:class:`RollCall`) and a customer's attendance history
(:class:`AttendanceHistory`).

.. versionadded:: 0.4
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import cast
from uuid import UUID

import attrs

from bookingcore.domain._validation import clean_text, parse_choice
from bookingcore.domain.values import Actor, BookingId, CustomerId, SlotId, TravelerId
from bookingcore.errors import FieldError, ValidationError

__all__ = [
    "NO_SHOW_STATE",
    "Attendance",
    "AttendanceEntry",
    "AttendanceHistory",
    "AttendanceMark",
    "AttendanceRecord",
    "RollCall",
    "RollCallEntry",
    "TravelerAttendance",
    "attendance_marks",
    "attendance_outcome",
]

#: The lifecycle state (matched case-insensitively) a booking whose every traveler
#: was a no-show may move to, when ``Settings.attendance_moves_status`` asks.
NO_SHOW_STATE = "no_show"
#: The state a booking whose every traveler attended may move to, likewise.
COMPLETED_STATE = "completed"
_MAX_NOTE = 500


class Attendance(enum.StrEnum):
    """Whether a booked traveler turned up.

    .. versionadded:: 0.4
    """

    ATTENDED = "attended"
    NO_SHOW = "no_show"
    #: Not known (yet): what a traveler nobody marked counts as, and a mark that
    #: takes back an earlier one.
    UNKNOWN = "unknown"


def _attendance(value: Attendance | str) -> Attendance:
    return parse_choice(Attendance, value, "attendance", what="an attendance")


@attrs.frozen
class AttendanceMark:
    """What a caller marks one traveler as: the attendance and an optional note
    ("arrived an hour late").

    .. versionadded:: 0.4
    """

    attendance: Attendance = attrs.field(converter=_attendance)
    note: str | None = None


@attrs.frozen
class AttendanceRecord:
    """A traveler's recorded attendance: what, when, by whom, with an optional note.

    .. versionadded:: 0.4
    """

    status: Attendance
    recorded_at: datetime
    recorded_by: Actor
    note: str | None = None


def attendance_marks(
    marks: Mapping[TravelerId, Attendance | str | AttendanceMark],
) -> dict[TravelerId, AttendanceMark]:
    """``marks`` as :class:`AttendanceMark` values, notes cleaned (whether each
    traveler is on the booking is :meth:`~bookingcore.domain.Booking.record_attendance`'s
    to check).

    Raises:
        ValidationError: on ``attendance`` (code ``required``) when ``marks`` is
            empty or no mapping; on ``attendance.<traveler id>`` for a key that is
            not a UUID (``invalid_type``, its text too), an unknown attendance
            (``invalid_choice``) or a note that is not text or is over 500
            characters.

    .. versionadded:: 0.4
    """
    given: object = marks
    if not isinstance(given, Mapping) or not given:
        msg = "mark at least one traveler"
        raise ValidationError.single("attendance", msg, "required")
    checked: dict[TravelerId, AttendanceMark] = {}
    problems: list[FieldError] = []
    for traveler_id, asked in marks.items():
        field = f"attendance.{traveler_id}"
        if not isinstance(cast(object, traveler_id), UUID):
            problems.append(FieldError(field, "must be a traveler id (a UUID)", "invalid_type"))
            continue
        try:
            mark = asked if isinstance(asked, AttendanceMark) else AttendanceMark(asked)
            note = clean_text(mark.note, field, max_length=_MAX_NOTE)
        except ValidationError as exc:
            problems += [attrs.evolve(p, field=field) for p in exc.errors]
            continue
        checked[traveler_id] = AttendanceMark(mark.attendance, note)
    if problems:
        raise ValidationError(problems)
    return checked


def attendance_outcome(records: Iterable[AttendanceRecord | None]) -> str | None:
    """The state name the travelers' attendance points the booking to: ``no_show``
    when every traveler was a no-show, ``completed`` when every one attended,
    else ``None`` (someone unmarked, unknown, or a mix).

    .. versionadded:: 0.4
    """
    seen = {Attendance.UNKNOWN if r is None else r.status for r in records}
    if seen == {Attendance.NO_SHOW}:
        return NO_SHOW_STATE
    if seen == {Attendance.ATTENDED}:
        return COMPLETED_STATE
    return None


@attrs.frozen
class RollCallEntry:
    """One traveler booked on a slot, with their booking and attendance.

    .. versionadded:: 0.4
    """

    booking_id: BookingId
    reference: str
    booking_status: str
    customer_id: CustomerId
    traveler_id: TravelerId
    traveler_name: str | None
    is_primary: bool
    record: AttendanceRecord | None = None

    @property
    def attendance(self) -> Attendance:
        """What was recorded, :attr:`Attendance.UNKNOWN` when nothing was."""
        return Attendance.UNKNOWN if self.record is None else self.record.status


@attrs.frozen
class RollCall:
    """Every traveler booked on a slot (cancelled bookings left out), in booking
    order, with their attendance: what staff check off at the start.

    .. versionadded:: 0.4
    """

    slot_id: SlotId
    starts_at: datetime
    entries: tuple[RollCallEntry, ...]

    def count(self, attendance: Attendance) -> int:
        """How many travelers are marked ``attendance`` (unmarked ones count as unknown)."""
        return sum(1 for e in self.entries if e.attendance is attendance)


@attrs.frozen
class AttendanceEntry:
    """One session a traveler was booked on that started: their attendance at it.

    .. versionadded:: 0.4
    """

    booking_id: BookingId
    reference: str
    slot_id: SlotId
    starts_at: datetime
    traveler_id: TravelerId
    attendance: Attendance
    recorded_at: datetime | None = None


@attrs.frozen
class TravelerAttendance:
    """How often one traveler attended and did not show, over the sessions that started.

    .. versionadded:: 0.4
    """

    traveler_id: TravelerId
    name: str | None
    sessions: int
    attended: int
    no_shows: int

    @property
    def unrecorded(self) -> int:
        """Sessions nobody marked this traveler at (or marked unknown)."""
        return self.sessions - self.attended - self.no_shows


@attrs.frozen
class AttendanceHistory:
    """A customer's travelers' attendance: one tally per traveler (by name) and every
    session that started, newest first. Cancelled bookings and sessions still to
    come are left out.

    .. versionadded:: 0.4
    """

    customer_id: CustomerId
    travelers: tuple[TravelerAttendance, ...]
    entries: tuple[AttendanceEntry, ...]

    @property
    def attended(self) -> int:
        """Sessions attended, all travelers together."""
        return sum(t.attended for t in self.travelers)

    @property
    def no_shows(self) -> int:
        """No-shows, all travelers together."""
        return sum(t.no_shows for t in self.travelers)

    @classmethod
    def of(
        cls,
        customer_id: CustomerId,
        entries: Iterable[AttendanceEntry],
        names: Mapping[TravelerId, str],
    ) -> AttendanceHistory:
        """Tally ``entries`` per traveler (``names`` gives their names)."""
        ordered = sorted(entries, key=lambda e: (e.starts_at, e.booking_id), reverse=True)
        tallies: dict[TravelerId, list[int]] = {}
        for entry in ordered:
            tally = tallies.setdefault(entry.traveler_id, [0, 0, 0])
            tally[0] += 1
            tally[1] += entry.attendance is Attendance.ATTENDED
            tally[2] += entry.attendance is Attendance.NO_SHOW
        travelers = tuple(
            TravelerAttendance(tid, names.get(tid), *counts)
            for tid, counts in sorted(
                tallies.items(), key=lambda item: (names.get(item[0]) or "", str(item[0]))
            )
        )
        return cls(customer_id, travelers, tuple(ordered))
