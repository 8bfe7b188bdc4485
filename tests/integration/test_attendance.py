"""Per-traveler attendance: staff mark who turned up once the slot started, read a
slot's roll call, and a customer's attendance history adds it up.

Each test runs on memory, SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bookingcore import (
    Attendance,
    AttendanceMark,
    BookingCore,
    BookingRequest,
    IdempotencyConflictError,
    InvalidTransitionError,
    NewTraveler,
    NotFoundError,
    PermissionDeniedError,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import AttendanceRecorded, Booking, BookingStatusChanged, DomainEvent
from bookingcore.domain.values import TravelerId
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore.testing.builders import T0, Builder
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

DESK = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.STAFF)
NOW = T0 + timedelta(days=1)
STARTS = NOW + timedelta(days=3)
NAMES = ("Asha Rao", "Ravi Rao", "Meera Rao", "Dev Rao")


class _Dive:
    """A dive trip, a family of four booked on it (confirmed), and a clock to move."""

    def __init__(self, store: MemoryStore | SqlStore, *, moves_status: bool = False) -> None:
        b = Builder()
        location = b.location()
        self.customer = b.customer(name="Asha Rao")
        self.other = b.customer(name="Kiran Desai")
        self.slot = b.slot(location.id, starts_at=STARTS, capacity=10)
        with store.unit_of_work() as uow:
            uow.locations.add(location)
            uow.customers.add(self.customer)
            uow.customers.add(self.other)
            uow.slots.add(self.slot)
            uow.commit()
        self.clock = FixedClock(NOW)
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            notifier=RecordingNotifier(),
            settings=Settings(attendance_moves_status=moves_status),
        )
        self.booking = self.book(self.customer.id, NAMES)

    def book(self, customer_id: object, names: tuple[str, ...]) -> Booking:
        travelers = [
            NewTraveler(TravelerDetails(name), is_primary=index == 0)
            for index, name in enumerate(names)
        ]
        request = BookingRequest(self.slot.id, travelers, customer_id=customer_id)  # type: ignore[arg-type]
        booking = self.core.bookings.book(request, principal=DESK)
        return self.core.bookings.transition(booking.id, "confirmed", principal=DESK).booking

    @property
    def travelers(self) -> list[TravelerId]:
        return [t.traveler_id for t in self.booking.travelers]

    def start(self) -> None:
        self.clock.set(STARTS + timedelta(minutes=10))

    def mark(self, marks: dict[TravelerId, Attendance], **kwargs: object) -> Booking:
        return self.core.bookings.record_attendance(
            self.booking.id,
            marks,  # type: ignore[arg-type]
            principal=kwargs.pop("principal", DESK),  # type: ignore[arg-type]
            **kwargs,  # type: ignore[arg-type]
        )

    def outbox(self) -> list[DomainEvent]:
        with self.core.context.uow_factory() as uow:
            return [m.event for m in uow.outbox.list_unpublished(100_000)]

    def audit_count(self) -> int:
        return len(self.core.bookings.audit_trail(self.booking.id, principal=DESK))


def test_one_no_show_among_four_travelers_is_recorded_and_the_status_stays(
    any_store: MemoryStore | SqlStore,
) -> None:
    dive = _Dive(any_store)
    dive.start()
    first, second, third, fourth = dive.travelers

    marked = dive.mark(
        {
            first: Attendance.ATTENDED,
            second: Attendance.ATTENDED,
            third: AttendanceMark("no_show", note="  ear infection  "),  # type: ignore[dict-item]
            fourth: "attended",  # type: ignore[dict-item]
        }
    )

    assert marked.status == "confirmed"
    assert marked.version == dive.booking.version + 1
    records = [t.attendance for t in marked.travelers]
    assert [r.status for r in records if r] == ["attended", "attended", "no_show", "attended"]
    assert records[2] is not None
    assert records[2].note == "ear infection"
    assert records[2].recorded_by == DESK.actor
    assert records[2].recorded_at == dive.clock.now()
    stored = dive.core.bookings.get(dive.booking.id, principal=DESK)
    assert stored.travelers == marked.travelers
    trail = dive.core.bookings.audit_trail(dive.booking.id, principal=DESK)
    assert trail[-1].new_values[f"attendance.{third}"] == "no_show"
    assert trail[-1].new_values["notes"] == {str(third): "ear infection"}
    assert trail[-1].old_values[f"attendance.{third}"] is None
    recorded = [e for e in dive.outbox() if isinstance(e, AttendanceRecorded)]
    assert len(recorded) == 1
    assert recorded[0].no_shows == (third,)
    assert set(recorded[0].attended) == {first, second, fourth}
    assert recorded[0].slot_id == dive.slot.id


def test_a_correction_records_only_what_changed_and_a_repeat_changes_nothing(
    any_store: MemoryStore | SqlStore,
) -> None:
    dive = _Dive(any_store)
    dive.start()
    first, second, *_ = dive.travelers
    dive.mark({first: Attendance.NO_SHOW, second: Attendance.ATTENDED})
    trail = dive.audit_count()

    dive.clock.advance(minutes=30)
    corrected = dive.mark({first: Attendance.ATTENDED, second: Attendance.ATTENDED})
    again = dive.mark({first: Attendance.ATTENDED})

    assert dive.audit_count() == trail + 1
    assert again.version == corrected.version
    assert corrected.travelers[0].attendance is not None
    assert corrected.travelers[0].attendance.recorded_at == dive.clock.now()
    last = [e for e in dive.outbox() if isinstance(e, AttendanceRecorded)][-1]
    assert (last.attended, last.no_shows) == ((first,), ())


def test_attendance_waits_for_the_slot_to_start(any_store: MemoryStore | SqlStore) -> None:
    dive = _Dive(any_store)
    dive.clock.set(STARTS - timedelta(minutes=1))

    with pytest.raises(ValidationError) as refused:
        dive.mark({dive.travelers[0]: Attendance.ATTENDED})

    assert refused.value.fields == ("starts_at",)
    assert refused.value.errors[0].code == "not_started"
    assert dive.core.bookings.get(dive.booking.id, principal=DESK).version == dive.booking.version


def test_a_cancelled_booking_takes_no_attendance(any_store: MemoryStore | SqlStore) -> None:
    dive = _Dive(any_store)
    dive.core.bookings.cancel(dive.booking.id, principal=DESK)
    dive.start()

    with pytest.raises(InvalidTransitionError):
        dive.mark({dive.travelers[0]: Attendance.NO_SHOW})


def test_a_traveler_not_on_the_booking_or_an_unknown_mark_is_named(
    any_store: MemoryStore | SqlStore,
) -> None:
    dive = _Dive(any_store)
    dive.start()
    stranger = TravelerId(SequentialIds().new_id())

    with pytest.raises(ValidationError) as not_on:
        dive.mark({dive.travelers[0]: Attendance.ATTENDED, stranger: Attendance.ATTENDED})
    with pytest.raises(ValidationError) as unknown:
        dive.mark({dive.travelers[1]: "late"})  # type: ignore[dict-item]
    with pytest.raises(ValidationError) as empty:
        dive.mark({})

    assert not_on.value.fields == (f"attendance.{stranger}",)
    assert unknown.value.fields == (f"attendance.{dive.travelers[1]}",)
    assert empty.value.fields == ("attendance",)
    stored = dive.core.bookings.get(dive.booking.id, principal=DESK)
    assert all(t.attendance is None for t in stored.travelers)


@pytest.mark.parametrize("who", ["customer", "partner", "editor"])
def test_only_staff_who_move_bookings_record_attendance(
    any_store: MemoryStore | SqlStore, who: str
) -> None:
    dive = _Dive(any_store)
    dive.start()
    principal = {
        "customer": Principal.customer(dive.customer.id),
        "partner": Principal.partner(SequentialIds().new_id()),  # type: ignore[arg-type]
        "editor": Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.EDITOR),
    }[who]
    trail = dive.audit_count()

    with pytest.raises((PermissionDeniedError, NotFoundError)):
        dive.mark({dive.travelers[0]: Attendance.NO_SHOW}, principal=principal)

    assert dive.audit_count() == trail
    stored = dive.core.bookings.get(dive.booking.id, principal=DESK)
    assert stored.travelers[0].attendance is None


def test_a_retry_with_the_key_records_once_and_another_request_with_it_is_refused(
    any_store: MemoryStore | SqlStore,
) -> None:
    dive = _Dive(any_store)
    dive.start()
    first = dive.travelers[0]
    marked = dive.mark({first: Attendance.NO_SHOW}, idempotency_key="roll-1")
    trail = dive.audit_count()

    retried = dive.mark({first: Attendance.NO_SHOW}, idempotency_key="roll-1")
    with pytest.raises(IdempotencyConflictError):
        dive.mark({first: Attendance.ATTENDED}, idempotency_key="roll-1")

    assert retried.version == marked.version
    assert dive.audit_count() == trail
    assert len([e for e in dive.outbox() if isinstance(e, AttendanceRecorded)]) == 1


def test_without_the_setting_every_no_show_leaves_the_status_alone(
    any_store: MemoryStore | SqlStore,
) -> None:
    dive = _Dive(any_store)
    dive.start()

    marked = dive.mark(dict.fromkeys(dive.travelers, Attendance.NO_SHOW))

    assert marked.status == "confirmed"
    assert not [e for e in dive.outbox() if isinstance(e, BookingStatusChanged)][1:]


@pytest.mark.parametrize(
    ("attendance", "status"), [(Attendance.NO_SHOW, "no_show"), (Attendance.ATTENDED, "completed")]
)
def test_with_the_setting_a_whole_booking_absent_or_present_moves_its_status(
    any_store: MemoryStore | SqlStore, attendance: Attendance, status: str
) -> None:
    dive = _Dive(any_store, moves_status=True)
    dive.start()
    first, *others = dive.travelers
    partly = dive.mark(dict.fromkeys(others, attendance))
    assert partly.status == "confirmed"

    marked = dive.mark({first: attendance})

    assert marked.status == status
    history = dive.core.bookings.history(dive.booking.id, principal=DESK)
    assert (history[-1].from_status, history[-1].to_status) == ("confirmed", status)
    moved = [e for e in dive.outbox() if isinstance(e, BookingStatusChanged)]
    assert moved[-1].to_status == status


def test_the_roll_call_lists_every_booked_traveler_with_their_attendance(
    any_store: MemoryStore | SqlStore,
) -> None:
    dive = _Dive(any_store)
    later = dive.book(dive.other.id, ("Kiran Desai",))
    gone = dive.book(dive.other.id, ("Zoya Khan",))
    dive.core.bookings.cancel(gone.id, principal=DESK)
    dive.start()
    dive.mark({dive.travelers[1]: Attendance.NO_SHOW})

    roll = dive.core.bookings.roll_call(dive.slot.id, principal=DESK)

    assert [e.traveler_name for e in roll.entries] == [*NAMES, "Kiran Desai"]
    assert [e.attendance for e in roll.entries] == [
        Attendance.UNKNOWN,
        Attendance.NO_SHOW,
        Attendance.UNKNOWN,
        Attendance.UNKNOWN,
        Attendance.UNKNOWN,
    ]
    assert roll.entries[-1].booking_id == later.id
    assert roll.entries[0].is_primary
    assert (roll.count(Attendance.NO_SHOW), roll.count(Attendance.UNKNOWN)) == (1, 4)
    assert roll.starts_at == STARTS
    with pytest.raises(PermissionDeniedError):
        dive.core.bookings.roll_call(dive.slot.id, principal=Principal.customer(dive.customer.id))
    with pytest.raises(NotFoundError):
        dive.core.bookings.roll_call(SequentialIds().new_id(), principal=DESK)  # type: ignore[arg-type]


def test_a_customers_attendance_history_counts_sessions_attended_and_missed(
    any_store: MemoryStore | SqlStore,
) -> None:
    dive = _Dive(any_store)
    dive.start()
    first, second, *_ = dive.travelers
    dive.mark({first: Attendance.ATTENDED, second: Attendance.NO_SHOW})

    mine = dive.core.bookings.attendance_history(
        dive.customer.id, principal=Principal.customer(dive.customer.id)
    )

    tallies = {t.name: t for t in mine.travelers}
    assert set(tallies) == set(NAMES)
    assert (tallies["Asha Rao"].attended, tallies["Asha Rao"].no_shows) == (1, 0)
    assert (tallies["Ravi Rao"].attended, tallies["Ravi Rao"].no_shows) == (0, 1)
    assert tallies["Meera Rao"].unrecorded == 1
    assert (mine.attended, mine.no_shows) == (1, 1)
    assert len(mine.entries) == 4
    assert mine == dive.core.bookings.attendance_history(dive.customer.id, principal=DESK)
    with pytest.raises(NotFoundError):
        dive.core.bookings.attendance_history(
            dive.customer.id, principal=Principal.customer(dive.other.id)
        )


def test_erasing_the_customer_erases_their_travelers_attendance_notes(
    any_store: MemoryStore | SqlStore,
) -> None:
    dive = _Dive(any_store)
    dive.start()
    sick = dive.travelers[1]
    dive.mark({sick: AttendanceMark(Attendance.NO_SHOW, "ear infection")})

    dive.core.privacy.erase_customer(dive.customer.id, principal=DESK, reason="request 7")

    kept = dive.core.bookings.get(dive.booking.id, principal=DESK).travelers[1].attendance
    assert kept is not None
    assert (kept.status, kept.note) == (Attendance.NO_SHOW, None)
    trail = dive.core.bookings.audit_trail(dive.booking.id, principal=DESK)
    marked = next(e for e in trail if f"attendance.{sick}" in e.new_values)
    assert "ear infection" not in str(marked.new_values)
