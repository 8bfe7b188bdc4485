"""The analytics reports through the service, on memory, SQLite and PostgreSQL alike.

Booking frequency and cohort retention (seed 001), conversion by source and the
customers who booked through several sources (seed 002), status transitions and
import processing times and error types (seed 004): records are made through the
real services, the figures checked against numbers worked out by hand, and each
report refused to anyone but staff who may see everything. Each report asks the
storage a few grouped statements, never a statement per booking.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from sqlalchemy import event
from tests.integration._sources import ListSource

from bookingcore import (
    BookingCore,
    BookingFilter,
    BookingRequest,
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
from bookingcore.domain import Booking
from bookingcore.services import (
    BookingSourceLine,
    CohortLine,
    DurationSummary,
    FrequencyLine,
    LeadRequest,
    LeadSourceLine,
    SourceOverlapLine,
)
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
HOUR = timedelta(hours=1)


class Desk:
    """A camp with room for everyone, a partner, an advisor; India's calendar."""

    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.clock = FixedClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            settings=Settings(timezone="Asia/Kolkata"),
        )
        self.camp = self.core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
        self.slot = self.core.catalog.create_slot(
            location_id=self.camp.id,
            starts_at=datetime(2027, 6, 1, 6, 0, tzinfo=UTC),
            price_per_traveler=Money("1000", "INR"),
            capacity=None,
            principal=ADMIN,
        )
        self.partner = self.core.partners.register(
            name="Blue",
            company_name="Blue Pvt Ltd",
            contact_email="ops@blue.example.com",
            allowed_location_ids=[self.camp.id],
            principal=ADMIN,
        ).partner
        self.as_partner = Principal.partner(self.partner.id)
        advisor = self.core.staff.add("ravi@example.com", "Ravi", principal=ADMIN)
        self.as_advisor = Principal.staff(advisor.id, StaffRole.ADVISOR)
        self._phones = self._travelers = 0

    def customer(self, principal: Principal = ADMIN) -> object:
        self._phones += 1
        return self.core.customers.register(
            f"+9198000{self._phones:05d}", name=f"Guest {self._phones}", principal=principal
        ).customer.id

    def book(self, customer_id: object, principal: Principal = ADMIN) -> Booking:
        self._travelers += 1
        return self.core.bookings.book(
            BookingRequest(
                self.slot.id,
                [NewTraveler(TravelerDetails(f"Guest {self._travelers}"), is_primary=True)],
                customer_id=customer_id,  # type: ignore[arg-type]
            ),
            principal=principal,
        )

    def refused_to_all_but_staff(self, report: object) -> None:
        for principal in (self.as_partner, self.as_advisor):
            with pytest.raises(PermissionDeniedError):
                report(principal)  # type: ignore[operator]


@pytest.fixture
def desk(any_store: MemoryStore | SqlStore) -> Desk:
    return Desk(any_store)


class TestBookingFrequency:
    def test_customers_are_put_in_buckets_by_their_bookings(self, desk: Desk) -> None:
        for count in (1, 1, 2, 3, 5, 7):
            customer = desk.customer()
            for _ in range(count):
                desk.book(customer)
        dropped = desk.book(desk.customer())
        desk.core.bookings.cancel(dropped.id, principal=ADMIN)  # holds no seats: not counted

        lines = desk.core.reports.booking_frequency(principal=ADMIN)
        assert lines == [
            FrequencyLine("1", 1, 1, customers=2, bookings=2),
            FrequencyLine("2", 2, 2, customers=1, bookings=2),
            FrequencyLine("3-5", 3, 5, customers=2, bookings=8),
            FrequencyLine("6+", 6, None, customers=1, bookings=7),
        ]
        custom = desk.core.reports.booking_frequency(principal=ADMIN, buckets=[1, 4, 10])
        assert [(line.label, line.customers) for line in custom] == [
            ("1-3", 4),
            ("4-9", 2),
            ("10+", 0),
        ]

    @pytest.mark.parametrize("buckets", [[], [2, 3], [1, 3, 3], [1, 0]])
    def test_buckets_must_rise_from_one(self, desk: Desk, buckets: list[int]) -> None:
        with pytest.raises(ValidationError) as refused:
            desk.core.reports.booking_frequency(principal=ADMIN, buckets=buckets)
        assert refused.value.errors[0].field == "buckets"

    def test_only_staff_who_see_everything_read_it(self, desk: Desk) -> None:
        desk.refused_to_all_but_staff(
            lambda who: desk.core.reports.booking_frequency(principal=who)
        )


class TestCohortRetention:
    def test_cohorts_are_first_booking_months_on_the_business_calendar(self, desk: Desk) -> None:
        at = desk.clock.set
        asha, ravi, zoya = desk.customer(), desk.customer(), desk.customer()
        for who, moment in [
            (asha, datetime(2026, 1, 10, 9, tzinfo=UTC)),
            (ravi, datetime(2026, 1, 20, 9, tzinfo=UTC)),
            # 00:30 on 1 February in India: Zoya's cohort is February
            (zoya, datetime(2026, 1, 31, 19, 0, tzinfo=UTC)),
            (asha, datetime(2026, 2, 15, 9, tzinfo=UTC)),
            (asha, datetime(2026, 2, 16, 9, tzinfo=UTC)),
            (zoya, datetime(2026, 3, 3, 9, tzinfo=UTC)),
            (asha, datetime(2026, 4, 2, 9, tzinfo=UTC)),
        ]:
            at(moment)
            desk.book(who)

        lines = desk.core.reports.cohort_retention(principal=ADMIN, months=3)
        assert lines == [
            CohortLine(date(2026, 1, 1), 2, (2, 1, 0, 1)),
            CohortLine(date(2026, 2, 1), 1, (1, 1, 0, 0)),
        ]
        assert lines[0].retention == (Decimal(1), Decimal("0.5"), Decimal(0), Decimal("0.5"))
        # from March on, Asha's first booking is April's
        short = desk.core.reports.cohort_retention(
            principal=ADMIN,
            months=0,
            where=BookingFilter(created_from=datetime(2026, 3, 1, tzinfo=UTC)),
        )
        assert short == [
            CohortLine(date(2026, 3, 1), 1, (1,)),
            CohortLine(date(2026, 4, 1), 1, (1,)),
        ]

    @pytest.mark.parametrize("months", [-1, 121])
    def test_months_are_bounded(self, desk: Desk, months: int) -> None:
        with pytest.raises(ValidationError) as refused:
            desk.core.reports.cohort_retention(principal=ADMIN, months=months)
        assert refused.value.errors[0].field == "months"

    def test_only_staff_who_see_everything_read_it(self, desk: Desk) -> None:
        desk.refused_to_all_but_staff(lambda who: desk.core.reports.cohort_retention(principal=who))


class TestSourceConversion:
    def _lead(self, desk: Desk, source: str, phone: str) -> object:
        return desk.core.leads.capture(
            LeadRequest(source=source, phone=phone, name="Asha Rao", travelers=1),
            principal=ADMIN,
        )

    def test_leads_convert_bookings_come_through_sources_and_customers_overlap(
        self, desk: Desk
    ) -> None:
        core = desk.core
        won = self._lead(desk, "web_form", "+919811100001")
        self._lead(desk, "web_form", "+919811100002")
        lost = self._lead(desk, "phone", "+919811100003")
        core.leads.move(lost.id, "lost", reason="price", principal=ADMIN)  # type: ignore[attr-defined]
        quotation = core.quotations.convert_lead(
            won.id,  # type: ignore[attr-defined]
            slot_id=desk.slot.id,
            valid_until=desk.clock.now().date() + timedelta(days=5),
            principal=ADMIN,
        )
        core.quotations.send(quotation.id, principal=ADMIN)
        party = [NewTraveler(TravelerDetails("Asha Rao"), is_primary=True)]
        core.quotations.approve(quotation.id, party, principal=ADMIN)  # a direct booking
        # A customer the partner registered books through the partner and directly too.
        both = desk.customer(desk.as_partner)
        desk.book(both, desk.as_partner)
        cancelled = desk.book(both)
        core.bookings.cancel(cancelled.id, principal=ADMIN)

        report = core.reports.source_conversion(principal=ADMIN)
        assert report.leads == (
            LeadSourceLine("phone", 1, 0, 1, 0, Decimal(0)),
            LeadSourceLine("web_form", 2, 1, 0, 1, Decimal("0.5")),
        )
        assert report.bookings == (
            BookingSourceLine("direct", 2, 1),
            BookingSourceLine("partner", 1, 0),
        )
        assert report.overlap_customers == 1
        assert report.overlaps == (SourceOverlapLine(("direct", "partner"), 1),)

        later = desk.clock.now() + HOUR
        empty = core.reports.source_conversion(principal=ADMIN, created_from=later)
        assert (empty.leads, empty.bookings, empty.overlap_customers) == ((), (), 0)

    def test_only_staff_who_see_everything_read_it(self, desk: Desk) -> None:
        desk.refused_to_all_but_staff(
            lambda who: desk.core.reports.source_conversion(principal=who)
        )


class TestStatusTransitions:
    def test_moves_are_counted_with_the_time_spent_before_them(self, desk: Desk) -> None:
        core, clock = desk.core, desk.clock
        first, second, third = (desk.book(desk.customer()) for _ in range(3))
        start = clock.now()
        clock.advance(hours=1)
        core.bookings.transition(first.id, "confirmed", principal=ADMIN)
        clock.advance(minutes=30)
        core.bookings.cancel(third.id, principal=ADMIN)
        clock.advance(hours=1, minutes=30, microseconds=1)
        core.bookings.transition(second.id, "confirmed", principal=ADMIN)
        clock.advance(hours=2)
        core.bookings.transition(first.id, "completed", principal=ADMIN)

        lines = core.reports.status_transitions(principal=ADMIN)
        found = {(line.from_status, line.to_status): line for line in lines}
        assert [(line.from_status, line.to_status) for line in lines] == sorted(found)
        confirmed = found["pending", "confirmed"]
        assert (confirmed.lifecycle, confirmed.transitions) == ("reservation", 2)
        # 1 h and 3 h + 1 µs: the median is halfway, rounded up to the microsecond
        assert confirmed.time_before == DurationSummary(
            timed=2,
            mean=2 * HOUR + timedelta(microseconds=1),
            median=2 * HOUR + timedelta(microseconds=1),
            shortest=HOUR,
            longest=3 * HOUR + timedelta(microseconds=1),
        )
        assert found["pending", "cancelled"].time_before.median == timedelta(minutes=90)
        assert found["confirmed", "completed"].time_before.mean == 4 * HOUR + timedelta(
            microseconds=1
        )
        late = core.reports.status_transitions(
            principal=ADMIN, occurred_from=start + 2 * HOUR + timedelta(minutes=30)
        )
        assert {(line.from_status, line.to_status) for line in late} == {
            ("pending", "confirmed"),
            ("confirmed", "completed"),
        }
        naive = datetime(2026, 1, 1)  # noqa: DTZ001 - refused, as meant
        with pytest.raises(ValidationError) as refused:
            core.reports.status_transitions(principal=ADMIN, occurred_from=naive)
        assert refused.value.errors[0].field == "occurred_from"

    def test_only_staff_who_see_everything_read_it(self, desk: Desk) -> None:
        desk.refused_to_all_but_staff(
            lambda who: desk.core.reports.status_transitions(principal=who)
        )


class TestImportPerformance:
    def test_jobs_are_timed_and_errors_counted_by_type(self, desk: Desk) -> None:
        header = ("customer_name", "customer_phone", "dealer_code", "booking_date")
        rows = [
            ("Kiran", "+919811100001", "CAMP", "2026-03-05"),
            ("Lata", "not a phone", "CAMP", "2026-03-05"),
            ("Mohan", "+919811100003", "NOWHERE", "2026-03-06"),
            ("Nina", "12", "CAMP", "2026-03-06"),
        ]
        desk.core.imports.run_file(ListSource(header, rows), principal=ADMIN)
        desk.core.imports.run_file(ListSource(header, rows[1:2]), principal=ADMIN)

        report = desk.core.reports.import_performance(principal=ADMIN)
        (timing,) = report.timings
        # the fixed clock stands still while a file is read: every job took no time
        assert (timing.status, timing.jobs) == ("COMPLETED", 2)
        assert timing.processing == DurationSummary(2, *(timedelta(0),) * 4)
        errors = {line.error_type: line for line in report.errors}
        assert sum(line.errors for line in report.errors) == 4
        assert [line.errors for line in report.errors] == sorted(
            (line.errors for line in report.errors), reverse=True
        )
        phone = next(line for kind, line in errors.items() if "phone" in kind)
        assert (phone.errors, phone.jobs, phone.unresolved) == (3, 2, 3)

        editor = Principal.staff(StaffId(uuid4()), StaffRole.EDITOR)
        assert desk.core.reports.import_performance(principal=editor) == report
        with pytest.raises(PermissionDeniedError):
            desk.core.reports.import_performance(principal=desk.as_advisor)


def test_each_report_asks_the_storage_a_few_grouped_statements(
    sql_store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    desk = Desk(sql_store)
    customers = [desk.customer() for _ in range(3)]
    for index in range(30):
        booking = desk.book(customers[index % 3])
        desk.clock.advance(days=7)
        desk.core.bookings.transition(booking.id, "confirmed", principal=ADMIN)
    reports = desk.core.reports
    sent: list[str] = []

    def record(_c: object, _cur: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            sent.append(statement)

    calls = {
        "frequency": (lambda: reports.booking_frequency(principal=ADMIN), 1),
        "cohorts": (lambda: reports.cohort_retention(principal=ADMIN), 1),
        "sources": (lambda: reports.source_conversion(principal=ADMIN), 3),
        "transitions": (lambda: reports.status_transitions(principal=ADMIN), 1),
        "imports": (lambda: reports.import_performance(principal=ADMIN), 2),
    }
    for name, (report, statements) in calls.items():
        sent.clear()
        event.listen(sql_store.engine, "before_cursor_execute", record)
        try:
            with caplog.at_level(logging.DEBUG, logger="bookingcore.sql"):
                caplog.clear()
                report()
        finally:
            event.remove(sql_store.engine, "before_cursor_execute", record)
        # A statement built once goes straight to psycopg, which the DEBUG log records.
        sent.extend(
            logged.getMessage()
            for logged in caplog.records
            if logged.name == "bookingcore.sql"
            and logged.getMessage().lstrip().upper().startswith(("SELECT", "WITH"))
        )
        assert len(sent) == statements, name
        assert all("GROUP BY" in statement for statement in sent), name
