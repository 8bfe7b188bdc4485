"""The booking aggregate's attendance: marks, the rules, and what it points the status to."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import attrs
import pytest

from bookingcore import (
    Attendance,
    AttendanceMark,
    CustomerId,
    InvalidTransitionError,
    PartnerId,
    PermissionDeniedError,
    Principal,
    StaffId,
    StaffRole,
    SupplierId,
    TravelerId,
    ValidationError,
)
from bookingcore.domain import (
    PRESETS,
    Actor,
    AttendanceHistory,
    AttendanceRecord,
    AttendanceRecorded,
    Author,
    policy,
)
from bookingcore.domain.attendance import AttendanceEntry, attendance_marks, attendance_outcome
from bookingcore.testing.builders import T0, Builder

RESERVATION = PRESETS["reservation"]
APPOINTMENT = PRESETS["appointment"]


def _booking(make: Builder, travelers: int = 2, **fields: object):  # type: ignore[no-untyped-def]
    location = make.location()
    slot = make.slot(location.id, capacity=6, seats_held=travelers)
    ids = [TravelerId(uuid4()) for _ in range(travelers)]
    return slot, make.booking(CustomerId(uuid4()), slot, ids, **fields)


def _author(slot, minutes: int = 5) -> Author:  # type: ignore[no-untyped-def]
    return Author(Actor.system("desk"), slot.starts_at + timedelta(minutes=minutes), uuid4)


@pytest.fixture
def make() -> Builder:
    return Builder(now=T0)


class TestMarks:
    def test_text_and_marks_are_read_and_notes_cleaned(self) -> None:
        a, b = TravelerId(uuid4()), TravelerId(uuid4())
        checked = attendance_marks({a: "No-Show", b: AttendanceMark("attended", "  late  ")})  # type: ignore[dict-item]
        assert checked == {
            a: AttendanceMark(Attendance.NO_SHOW),
            b: AttendanceMark(Attendance.ATTENDED, "late"),
        }

    def test_every_bad_mark_is_named(self) -> None:
        a, b = TravelerId(uuid4()), TravelerId(uuid4())
        with pytest.raises(ValidationError) as refused:
            attendance_marks({a: "maybe", b: AttendanceMark("attended", "x" * 501)})  # type: ignore[dict-item]
        assert refused.value.fields == (f"attendance.{a}", f"attendance.{b}")

    def test_a_traveler_named_by_anything_but_an_id_is_refused_on_its_mark(self) -> None:
        a = TravelerId(uuid4())
        with pytest.raises(ValidationError) as refused:
            attendance_marks({a: "attended", str(a): "no_show", 7: "attended"})  # type: ignore[dict-item]
        assert [(e.field, e.code) for e in refused.value.errors] == [
            (f"attendance.{a}", "invalid_type"),
            ("attendance.7", "invalid_type"),
        ]


class TestRecordAttendance:
    def test_only_the_marked_travelers_change_and_the_event_names_them(self, make: Builder) -> None:
        slot, booking = _booking(make, travelers=3)
        first, second, _ = (t.traveler_id for t in booking.travelers)
        version = booking.version
        raised = booking.record_attendance(
            {first: AttendanceMark(Attendance.NO_SHOW)},
            lifecycle=RESERVATION,
            author=_author(slot),
        )
        assert raised is not None
        assert isinstance(raised.event, AttendanceRecorded)
        assert raised.event.no_shows == (first,)
        assert raised.history is None
        assert raised.audit.new_values == {f"attendance.{first}": "no_show"}
        assert [t.attendance is not None for t in booking.travelers] == [True, False, False]
        assert booking.version == version + 1
        assert second not in raised.event.attended

    def test_the_same_marks_again_change_nothing(self, make: Builder) -> None:
        slot, booking = _booking(make)
        first = booking.travelers[0].traveler_id
        marks = {first: AttendanceMark(Attendance.ATTENDED, "on time")}
        booking.record_attendance(marks, lifecycle=RESERVATION, author=_author(slot))
        version = booking.version
        again = booking.record_attendance(marks, lifecycle=RESERVATION, author=_author(slot, 9))
        assert again is None
        assert booking.version == version

    def test_before_the_start_or_on_a_cancelled_booking_nothing_changes(
        self, make: Builder
    ) -> None:
        slot, booking = _booking(make)
        marks = {booking.travelers[0].traveler_id: AttendanceMark(Attendance.ATTENDED)}
        with pytest.raises(ValidationError) as early:
            booking.record_attendance(marks, lifecycle=RESERVATION, author=_author(slot, -1))
        assert early.value.fields == ("starts_at",)
        _, cancelled = _booking(make, status="cancelled")
        marks = {cancelled.travelers[0].traveler_id: AttendanceMark(Attendance.ATTENDED)}
        with pytest.raises(InvalidTransitionError):
            cancelled.record_attendance(marks, lifecycle=RESERVATION, author=_author(slot))
        assert all(t.attendance is None for t in (*booking.travelers, *cancelled.travelers))

    def test_changing_travelers_keeps_the_attendance_of_those_who_stay(self, make: Builder) -> None:
        slot, booking = _booking(make, travelers=2)
        first, second = booking.travelers
        booking.record_attendance(
            {first.traveler_id: AttendanceMark(Attendance.ATTENDED)},
            lifecycle=RESERVATION,
            author=_author(slot),
        )
        recorded = booking.travelers[0].attendance
        newcomer = attrs.evolve(second, traveler_id=TravelerId(uuid4()))
        # The caller passes the travelers as asked, without attendance.
        booking.change_travelers(
            [attrs.evolve(first, attendance=None), newcomer],
            slot=slot,
            lifecycle=RESERVATION,
            author=_author(slot),
        )
        assert booking.travelers[0].attendance == recorded
        assert booking.travelers[1].attendance is None


class TestOutcome:
    @pytest.mark.parametrize(
        ("marks", "outcome"),
        [
            ([Attendance.NO_SHOW, Attendance.NO_SHOW], "no_show"),
            ([Attendance.ATTENDED, Attendance.ATTENDED], "completed"),
            ([Attendance.ATTENDED, Attendance.NO_SHOW], None),
            ([Attendance.ATTENDED, None], None),
            ([Attendance.UNKNOWN, Attendance.UNKNOWN], None),
        ],
    )
    def test_only_a_whole_booking_points_to_a_state(
        self, marks: list[Attendance | None], outcome: str | None
    ) -> None:
        records = [None if m is None else attrs.evolve(_record(), status=m) for m in marks]
        assert attendance_outcome(records) == outcome

    def test_the_target_is_the_lifecycles_own_state_where_it_allows_the_move(
        self, make: Builder
    ) -> None:
        slot, pending = _booking(make)
        _, confirmed = _booking(make, status="confirmed")
        _, appointment = _booking(make, lifecycle="appointment", status="ASSIGNED")
        for booking in (pending, confirmed, appointment):
            booking.record_attendance(
                dict.fromkeys(booking.traveler_ids, AttendanceMark(Attendance.NO_SHOW)),
                lifecycle=PRESETS[booking.lifecycle],
                author=_author(slot),
            )
        assert pending.attendance_target(RESERVATION) is None  # pending -> no_show is no move
        assert confirmed.attendance_target(RESERVATION) == "no_show"
        assert appointment.attendance_target(APPOINTMENT) == "NO_SHOW"


def _record() -> AttendanceRecord:
    return AttendanceRecord(Attendance.ATTENDED, T0, Actor.system())


def test_a_history_tallies_each_traveler_newest_session_first() -> None:
    customer, asha, ravi = CustomerId(uuid4()), TravelerId(uuid4()), TravelerId(uuid4())

    def entry(traveler: TravelerId, days: int, attendance: Attendance) -> AttendanceEntry:
        return AttendanceEntry(
            uuid4(),
            "BK-1",
            uuid4(),
            T0 + timedelta(days=days),
            traveler,
            attendance,  # type: ignore[arg-type]
        )

    history = AttendanceHistory.of(
        customer,
        [
            entry(asha, 1, Attendance.ATTENDED),
            entry(asha, 3, Attendance.NO_SHOW),
            entry(ravi, 2, Attendance.UNKNOWN),
        ],
        {asha: "Asha", ravi: "Ravi"},
    )
    assert [t.name for t in history.travelers] == ["Asha", "Ravi"]
    assert [(t.sessions, t.attended, t.no_shows, t.unrecorded) for t in history.travelers] == [
        (2, 1, 1, 0),
        (1, 0, 0, 1),
    ]
    assert [e.starts_at.day for e in history.entries] == sorted(
        (e.starts_at.day for e in history.entries), reverse=True
    )


class TestWhoMayMark:
    """policy.check_may_record_attendance: the staff who move bookings, for people only."""

    @pytest.mark.parametrize(
        ("who", "allowed"),
        [
            ("staff", True),
            ("admin", True),
            ("system", True),
            ("assigned advisor", True),
            ("other advisor", False),
            ("the supplier's user", True),
            ("another supplier's user", False),
            ("editor", False),
            ("customer", False),
            ("partner", False),
            ("webhook", False),
        ],
    )
    def test_by_principal(self, make: Builder, who: str, allowed: bool) -> None:
        advisor, supplier = StaffId(uuid4()), SupplierId(uuid4())
        partner = PartnerId(uuid4())
        _, booking = _booking(make, assignee_id=advisor, supplier_id=supplier, partner_id=partner)
        principal = {
            "staff": Principal.staff(StaffId(uuid4())),
            "admin": Principal.staff(StaffId(uuid4()), StaffRole.ADMIN),
            "system": Principal.system(),
            "assigned advisor": Principal.staff(advisor, StaffRole.ADVISOR),
            "other advisor": Principal.staff(StaffId(uuid4()), StaffRole.ADVISOR),
            "the supplier's user": Principal.staff(
                StaffId(uuid4()), StaffRole.SUPPLIER, supplier_id=supplier
            ),
            "another supplier's user": Principal.staff(
                StaffId(uuid4()), StaffRole.SUPPLIER, supplier_id=SupplierId(uuid4())
            ),
            "editor": Principal.staff(StaffId(uuid4()), StaffRole.EDITOR),
            "customer": Principal.customer(booking.customer_id),
            "partner": Principal.partner(partner),
            "webhook": Principal.webhook("razorpay"),
        }[who]
        if allowed:
            policy.check_may_record_attendance(principal, booking)
        else:
            with pytest.raises(PermissionDeniedError):
                policy.check_may_record_attendance(principal, booking)
