"""Archiving old bookings through the services, on memory, SQLite and PostgreSQL alike.

Ended, settled bookings leave the staff lists in batches, each with its audit
entry and one event per batch; open ones stay live with the reason counted.
Archived bookings stay in the customer's own history, in privacy exports and in
every report's figures, and nothing moves them until staff unarchive them.
"""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from tests._threads import at_once

from bookingcore import (
    BookingArchivedError,
    BookingCore,
    BookingFilter,
    BookingRequest,
    InvalidTransitionError,
    Money,
    NewTraveler,
    PermissionDeniedError,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import AuditAction, Booking, BookingsArchived, BookingUnarchived
from bookingcore.domain.queries import PageRequest
from bookingcore.services import ReportService
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore.testing.builders import T0
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


class Operator:
    """A three-day trek, and a liveaboard dive from its third day to its sixteenth."""

    def __init__(self, store: MemoryStore | SqlStore, settings: Settings | None = None) -> None:
        self.clock = FixedClock(T0)
        self.core = BookingCore(
            uow_factory=store.unit_of_work, clock=self.clock, ids=SequentialIds(), settings=settings
        )
        catalog = self.core.catalog
        camp = catalog.add_location("CAMP", "Base camp", principal=ADMIN)
        starts = T0 + timedelta(days=20)
        self.trek = catalog.create_slot(
            location_id=camp.id,
            starts_at=starts,
            ends_at=starts + timedelta(days=3),
            price_per_traveler=Money("1000", "INR"),
            capacity=20,
            principal=ADMIN,
        )
        self.dive = catalog.create_slot(
            location_id=camp.id,
            starts_at=starts + timedelta(days=2),
            ends_at=starts + timedelta(days=15),
            price_per_traveler=Money("250", "INR"),
            capacity=None,
            principal=ADMIN,
        )
        self.partner = self.core.partners.register(
            name="Blue",
            company_name="Blue Pvt Ltd",
            contact_email="ops@blue.example.com",
            allowed_location_ids=[camp.id],
            principal=ADMIN,
        ).partner
        self._n = 0
        self.customer = self.core.customers.register(
            "+919800000001", name="Kiran", principal=ADMIN
        ).customer
        self.seen: list[Any] = []
        self.core.events.subscribe(BookingsArchived, self._seen, name="tests.archived")
        self.core.events.subscribe(BookingUnarchived, self._seen, name="tests.unarchived")

    def _seen(self, event: Any, context: Any) -> None:
        self.seen.append(event)

    def book(self, slot_id: Any, travelers: int = 1, *, via_partner: bool = False) -> Booking:
        self._n += 1
        principal = Principal.partner(self.partner.id) if via_partner else ADMIN
        return self.core.bookings.book(
            BookingRequest(
                slot_id,
                [
                    NewTraveler(TravelerDetails(f"T{self._n}-{i}"), is_primary=i == 0)
                    for i in range(travelers)
                ],
                customer_id=self.customer.id,
            ),
            principal=principal,
        )

    def pay(self, booking: Booking) -> None:
        self._n += 1
        self.core.payments.record_manual_payment(
            booking.id, booking.total, principal=ADMIN, reference=f"CASH-{self._n}"
        )

    def ids(self, query: BookingFilter, principal: Principal = ADMIN) -> set[Any]:
        page = self.core.bookings.list(query, PageRequest(limit=100), principal=principal)
        return {b.id for b in page.items}


@pytest.fixture
def world(any_store: MemoryStore | SqlStore) -> Operator:
    return Operator(any_store)


def _ended(world: Operator) -> dict[str, Booking]:
    """Bookings of the trek in each situation, once it ended; the dive's, cancelled."""
    paid = world.book(world.trek.id, 2)
    world.pay(paid)  # confirmed by the money
    cancelled = world.book(world.trek.id)
    world.core.bookings.cancel(cancelled.id, principal=ADMIN, reason="changed plans")
    unpaid = world.book(world.trek.id)
    world.core.bookings.transition(unpaid.id, "confirmed", principal=ADMIN)
    pending = world.book(world.trek.id)
    later = world.book(world.dive.id)
    world.core.bookings.cancel(later.id, principal=ADMIN)
    world.clock.set(world.trek.starts_at + timedelta(days=5))
    for done in (paid, unpaid):
        world.core.bookings.transition(done.id, "completed", principal=ADMIN)
    return {
        "paid": paid,
        "cancelled": cancelled,
        "unpaid": unpaid,
        "pending": pending,
        "later": later,
    }


def test_ended_settled_bookings_are_archived_and_open_ones_kept(world: Operator) -> None:
    made = _ended(world)
    world.clock.set(world.trek.starts_at + timedelta(days=400))
    cutoff = world.trek.starts_at + timedelta(days=10)  # the trek ended, the dive had not

    run = world.core.archive.archive_due(principal=ADMIN, ended_before=cutoff, batch_size=1)

    assert (run.archived, run.batches, run.ended_before) == (2, 2, cutoff)
    assert run.kept == {"open_balance": 1, "recent": 1}
    archived = {made["paid"].id, made["cancelled"].id}
    every = {b.id for b in made.values()}
    assert world.ids(BookingFilter()) == every - archived
    assert world.ids(BookingFilter(include_archived=True)) == every
    assert world.ids(BookingFilter(only_archived=True)) == archived
    assert world.ids(BookingFilter(text=made["paid"].reference)) == set()
    stored = world.core.bookings.get(made["paid"].id, principal=ADMIN)
    assert stored.archived_at == world.clock.now()
    assert stored.status == "completed"
    # One audit entry per booking, one event per batch.
    trail = world.core.bookings.audit_trail(made["paid"].id, principal=ADMIN)
    assert [e.action for e in trail].count(AuditAction.ARCHIVED) == 1
    batches = [e for e in world.seen if isinstance(e, BookingsArchived)]
    assert sorted(i for e in batches for i in e.booking_ids) == sorted(archived)
    assert [len(e.booking_ids) for e in batches] == [1, 1]

    summary = world.core.archive.summary(principal=ADMIN)
    assert (summary.live, summary.archived, summary.archived_share) == (3, 2, 0.4)

    again = world.core.archive.archive_due(principal=ADMIN, ended_before=cutoff)
    assert (again.archived, again.batches) == (0, 0)
    assert len([e for e in world.seen if isinstance(e, BookingsArchived)]) == 2


def test_the_customer_keeps_archived_bookings_in_their_history_and_exports(
    world: Operator,
) -> None:
    made = _ended(world)
    world.clock.set(world.trek.starts_at + timedelta(days=400))
    world.core.archive.archive_due(
        principal=ADMIN, ended_before=world.trek.starts_at + timedelta(days=10)
    )
    everyone = {b.id for b in made.values()}
    me = Principal.customer(world.customer.id)
    assert world.ids(BookingFilter(), principal=me) == everyone
    history = world.core.customers.history(world.customer.id, principal=ADMIN)
    assert {b.id for b in history.bookings.items} == everyone
    view = world.core.customers.view(world.customer.id, principal=ADMIN)
    assert view.stats.total_bookings == len(everyone)
    exported = world.core.privacy.export_customer(world.customer.id, principal=me)
    assert {b["id"] for b in exported["bookings"]} == {str(i) for i in everyone}
    archived = [b for b in exported["bookings"] if b["id"] == str(made["paid"].id)]
    assert archived[0]["archived_at"] is not None


def test_nothing_moves_an_archived_booking_until_staff_unarchive_it(world: Operator) -> None:
    made = _ended(world)
    world.clock.set(world.trek.starts_at + timedelta(days=400))
    world.core.archive.archive_due(
        principal=ADMIN, ended_before=world.trek.starts_at + timedelta(days=10)
    )
    cancelled = made["cancelled"]
    with pytest.raises(BookingArchivedError) as refused:
        world.core.bookings.transition(made["paid"].id, "no_show", principal=ADMIN)
    assert refused.value.reference == made["paid"].reference
    with pytest.raises(BookingArchivedError):
        world.core.bookings.reschedule(made["paid"].id, world.dive.id, principal=ADMIN)
    with pytest.raises(BookingArchivedError):
        world.core.bookings.cancel(made["paid"].id, principal=ADMIN)
    advisor = Principal.staff(StaffId(uuid4()), StaffRole.ADVISOR)
    with pytest.raises(PermissionDeniedError):
        world.core.archive.unarchive(cancelled.id, principal=advisor)

    back = world.core.archive.unarchive(cancelled.id, principal=ADMIN, reason="dispute")

    assert back.archived_at is None
    assert cancelled.id in world.ids(BookingFilter())
    trail = world.core.bookings.audit_trail(cancelled.id, principal=ADMIN)
    assert trail[-1].action is AuditAction.UNARCHIVED
    assert trail[-1].reason == "dispute"
    assert [e.booking_id for e in world.seen if isinstance(e, BookingUnarchived)] == [cancelled.id]
    # Live again, it is changed as any booking; unarchiving twice records nothing.
    world.core.archive.unarchive(cancelled.id, principal=ADMIN)
    assert len([e for e in world.seen if isinstance(e, BookingUnarchived)]) == 1
    paid = world.core.archive.unarchive(made["paid"].id, principal=ADMIN)
    with pytest.raises(InvalidTransitionError) as lifecycle_says:
        world.core.bookings.transition(paid.id, "no_show", principal=ADMIN)
    assert not isinstance(lifecycle_says.value, BookingArchivedError)


def test_a_cutoff_must_be_given_or_configured_and_never_in_the_future(world: Operator) -> None:
    with pytest.raises(ValidationError) as unset:
        world.core.archive.archive_due(principal=ADMIN)
    assert unset.value.errors[0].code == "not_configured"
    with pytest.raises(ValidationError) as ahead:
        world.core.archive.archive_due(
            principal=ADMIN, ended_before=world.clock.now() + timedelta(seconds=1)
        )
    assert ahead.value.errors[0].code == "in_future"
    booking = world.book(world.trek.id)
    day = world.clock.now().date()
    for bad, code in ((day, "invalid_type"), (day.isoformat(), "invalid_type")):
        with pytest.raises(ValidationError) as refused:
            world.core.archive.archive_due(principal=ADMIN, ended_before=bad)  # type: ignore[arg-type]
        assert (refused.value.fields, refused.value.errors[0].code) == (("ended_before",), code)
        with pytest.raises(ValidationError) as asked:
            world.core.archive.why_kept(booking.id, principal=ADMIN, ended_before=bad)  # type: ignore[arg-type]
        assert asked.value.fields == ("ended_before",)
    with pytest.raises(PermissionDeniedError):
        world.core.archive.archive_due(
            principal=Principal.partner(world.partner.id), ended_before=world.clock.now()
        )


def test_the_daily_job_archives_what_settings_archive_after_makes_due(
    any_store: MemoryStore | SqlStore,
) -> None:
    world = Operator(any_store, Settings(archive_after=timedelta(days=365)))
    made = _ended(world)
    catalog = world.core.jobs.catalog
    assert "bookings.archive" in catalog
    (schedule,) = [s for s in catalog.schedules() if s.name == "bookings.archive"]
    assert schedule.every == timedelta(days=1)
    from bookingcore.services.jobs import JobAttempt  # noqa: PLC0415

    world.clock.set(world.trek.starts_at + timedelta(days=300))  # the trek ended < 365 days ago
    nothing = catalog.run("bookings.archive", {}, JobAttempt("1", "bookings.archive"))
    assert nothing["archived"] == 0
    world.clock.set(world.trek.starts_at + timedelta(days=380))
    done = catalog.run("bookings.archive", {"batch_size": 1}, JobAttempt("2", "bookings.archive"))
    assert (done["archived"], done["batches"]) == (2, 2)
    assert world.ids(BookingFilter(only_archived=True)) == {made["paid"].id, made["cancelled"].id}
    assert "bookings.archive" not in Operator(MemoryStore()).core.jobs.catalog


#: How each report is asked for; every public method of ReportService is here.
_REPORTS: dict[str, list[dict[str, Any]]] = {
    "reconciliation": [{}],
    "revenue": [{}, {"by": "created_month"}, {"by": "partner"}],
    "cancellations": [{}, {"by": "location"}],
    "advisor_workload": [{}],
    "customer_value": [{}],
    "capacity_utilisation": [{}],
    "waitlist_conversion": [{}],
    "import_statistics": [{}],
    "booking_frequency": [{}],
    "cohort_retention": [{}],
    "source_conversion": [{}],
    "status_transitions": [{}],
    "import_performance": [{}],
    "communication_engagement": [{}],
}


def _figures(world: Operator) -> dict[str, list[Any]]:
    reports = world.core.reports
    found: dict[str, list[Any]] = {}
    for name, asked in _REPORTS.items():
        method = getattr(reports, name)
        takes = inspect.signature(method).parameters
        found[name] = []
        for kwargs in asked:
            if name == "reconciliation":
                start, end = T0 - timedelta(days=1), T0 + timedelta(days=1000)
                found[name].append(method(start, end, principal=ADMIN))
                continue
            where = takes.get("where")
            if where is not None and "BookingFilter" in str(where.annotation):
                # An explicit default filter, which leaves archived bookings out of a
                # list: a report counts them all the same.
                asked_with = {**kwargs, "where": BookingFilter()}
            else:
                asked_with = kwargs
            found[name].append(method(principal=ADMIN, **asked_with))
    return found


def test_every_report_is_checked_here() -> None:
    public = {
        name
        for name, member in inspect.getmembers(ReportService, inspect.isfunction)
        if not name.startswith("_")
    }
    assert public == set(_REPORTS)


def test_archiving_changes_no_report_figure(world: Operator) -> None:
    _ended(world)
    world.clock.set(world.trek.starts_at + timedelta(days=400))
    before = _figures(world)
    run = world.core.archive.archive_due(
        principal=ADMIN, ended_before=world.trek.starts_at + timedelta(days=10)
    )
    assert run.archived == 2
    assert _figures(world) == before


def test_workers_archiving_at_once_archive_each_booking_once(
    any_store: MemoryStore | SqlStore,
) -> None:
    world = Operator(any_store)
    made = [world.book(world.trek.id) for _ in range(8)]
    for booking in made:
        world.core.bookings.cancel(booking.id, principal=ADMIN)
    world.clock.set(world.trek.starts_at + timedelta(days=400))
    racers = [BookingCore(uow_factory=any_store.unit_of_work, clock=world.clock) for _ in range(3)]
    cutoff = world.trek.starts_at + timedelta(days=10)

    runs = at_once(
        3,
        lambda i: racers[i].archive.archive_due(principal=ADMIN, ended_before=cutoff, batch_size=3),
    )

    assert not [run for run in runs if isinstance(run, Exception)], runs
    assert sum(run.archived for run in runs) == len(made)
    for booking in made:
        trail = world.core.bookings.audit_trail(booking.id, principal=ADMIN)
        assert [e.action for e in trail].count(AuditAction.ARCHIVED) == 1
    assert world.ids(BookingFilter(only_archived=True)) == {b.id for b in made}
