"""Seed 001's reports through the service, on memory, SQLite and PostgreSQL alike.

Bookings are made and moved through the real services; the figures are then
checked against numbers worked out by hand, and against each principal's scope
(a partner sees only its own bookings' figures, an advisor only their own line).
Periods are the business's calendar days and months (``Settings.timezone``),
across daylight-saving changes, the same on every backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event
from tests.integration._sources import ListSource

from bookingcore import (
    BookingChanges,
    BookingCore,
    BookingFilter,
    BookingRequest,
    ImportSettings,
    Money,
    NewTraveler,
    PermissionDeniedError,
    Principal,
    Settings,
    SlotFilter,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import Booking, Grouping, ImportKind, ImportTally
from bookingcore.domain.lifecycle import PRESETS, Lifecycle
from bookingcore.domain.values import MAX_AMOUNT
from bookingcore.services import AdvisorWorkload, CustomerValue, RevenueLine
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore.testing.builders import Builder
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


class Shop:
    """A camp (1,000 INR a seat, 5 seats) and a reef (250.50 INR, no limit), a partner."""

    def __init__(self, store: MemoryStore | SqlStore, settings: Settings | None = None) -> None:
        self.clock = FixedClock()
        self.core = BookingCore(
            uow_factory=store.unit_of_work, clock=self.clock, ids=SequentialIds(), settings=settings
        )
        catalog = self.core.catalog
        self.camp = catalog.add_location("CAMP", "Base camp", principal=ADMIN)
        self.reef = catalog.add_location("REEF", "House reef", principal=ADMIN)
        starts = self.clock.now() + timedelta(days=20)
        self.trek = catalog.create_slot(
            location_id=self.camp.id,
            starts_at=starts,
            price_per_traveler=Money("1000", "INR"),
            capacity=5,
            principal=ADMIN,
        )
        self.dive = catalog.create_slot(
            location_id=self.reef.id,
            starts_at=starts,
            price_per_traveler=Money("250.50", "INR"),
            capacity=None,
            principal=ADMIN,
        )
        self.partner = self.core.partners.register(
            name="Blue",
            company_name="Blue Pvt Ltd",
            contact_email="ops@blue.example.com",
            allowed_location_ids=[self.camp.id, self.reef.id],
            principal=ADMIN,
        ).partner
        self.as_partner = Principal.partner(self.partner.id)
        self.advisor = self.core.staff.add("ravi@example.com", "Ravi", principal=ADMIN)
        self._phones = 0

    def book(self, slot_id: object, travelers: int, *, via_partner: bool = False) -> Booking:
        self._phones += 1
        self.clock.advance(minutes=1)
        principal = self.as_partner if via_partner else ADMIN
        customer = self.core.customers.register(
            f"+9198000{self._phones:05d}", name=f"Guest {self._phones}", principal=principal
        ).customer
        return self.core.bookings.book(
            BookingRequest(
                slot_id,  # type: ignore[arg-type]
                [
                    NewTraveler(TravelerDetails(f"T{i}"), is_primary=i == 0)
                    for i in range(travelers)
                ],
                customer_id=customer.id,
            ),
            principal=principal,
        )


@pytest.fixture
def shop(any_store: MemoryStore | SqlStore) -> Shop:
    return Shop(any_store)


def test_revenue_counts_bookings_that_hold_seats_per_group(shop: Shop) -> None:
    direct = shop.book(shop.trek.id, 2)
    partner_dive = shop.book(shop.dive.id, 3, via_partner=True)
    gone = shop.book(shop.trek.id, 1)
    shop.core.bookings.cancel(gone.id, principal=ADMIN)

    (overall,) = shop.core.reports.revenue(principal=ADMIN)
    assert (overall.bookings, overall.travelers) == (2, 5)
    assert overall.amount == Money("2751.50", "INR")

    by_partner = {
        line.key: line for line in shop.core.reports.revenue(principal=ADMIN, by="partner")
    }
    assert by_partner[shop.partner.id].amount == partner_dive.total
    assert by_partner[None].amount == direct.total

    by_location = shop.core.reports.revenue(principal=ADMIN, by=Grouping.LOCATION)
    assert {line.key: line.bookings for line in by_location} == {shop.camp.id: 1, shop.reef.id: 1}

    (month,) = shop.core.reports.revenue(principal=ADMIN, by="created_month")
    assert month.key == shop.clock.now().date().replace(day=1)


def test_a_partner_sees_only_the_figures_of_its_own_bookings(shop: Shop) -> None:
    shop.book(shop.trek.id, 2)
    mine = shop.book(shop.dive.id, 1, via_partner=True)
    (line,) = shop.core.reports.revenue(principal=shop.as_partner, by="source")
    assert (line.key, line.bookings, line.amount) == ("partner", 1, mine.total)
    with pytest.raises(PermissionDeniedError):
        shop.core.reports.revenue(
            principal=shop.as_partner,
            where=BookingFilter(partner_id=uuid4()),  # type: ignore[arg-type]
        )
    with pytest.raises(PermissionDeniedError):
        shop.core.reports.capacity_utilisation(principal=shop.as_partner)


def test_cancellations_and_no_shows_are_rates_of_all_bookings(shop: Shop) -> None:
    kept = shop.book(shop.trek.id, 1)
    cancelled = shop.book(shop.trek.id, 1)
    missed = shop.book(shop.trek.id, 1)
    shop.book(shop.trek.id, 1)
    shop.core.bookings.cancel(cancelled.id, principal=ADMIN)
    shop.core.bookings.transition(missed.id, "confirmed", principal=ADMIN)
    shop.core.bookings.transition(missed.id, "no_show", principal=ADMIN)
    shop.core.bookings.transition(kept.id, "confirmed", principal=ADMIN)

    (line,) = shop.core.reports.cancellations(principal=ADMIN, by="location")
    assert line.key == shop.camp.id
    assert (line.bookings, line.cancelled, line.no_shows) == (4, 1, 1)
    assert (line.cancellation_rate, line.no_show_rate) == (Decimal("0.25"), Decimal("0.25"))


def test_advisor_workload_counts_open_completed_and_cancelled(shop: Shop) -> None:
    bookings = [shop.book(shop.trek.id, 1) for _ in range(4)]
    for booking in bookings[:3]:
        shop.core.bookings.update(
            booking.id, BookingChanges(assignee_id=shop.advisor.id), principal=ADMIN
        )
    done, dropped, _ = bookings[:3]
    shop.core.bookings.transition(done.id, "confirmed", principal=ADMIN)
    shop.core.bookings.transition(done.id, "completed", principal=ADMIN)
    shop.core.bookings.cancel(dropped.id, principal=ADMIN)

    lines = shop.core.reports.advisor_workload(principal=ADMIN)
    assert lines[0] == AdvisorWorkload(
        assignee_id=shop.advisor.id,
        assigned=3,
        open=1,
        completed=1,
        cancelled=1,
        no_shows=0,
        completion_rate=Decimal("0.5"),
    )
    assert lines[1].assignee_id is None
    assert lines[1].assigned == 1

    as_advisor = Principal.staff(shop.advisor.id, StaffRole.ADVISOR)
    (own,) = shop.core.reports.advisor_workload(principal=as_advisor)
    assert own.assignee_id == shop.advisor.id


def test_customer_value_counts_repeat_customers_and_their_average_spend(shop: Shop) -> None:
    first = shop.book(shop.trek.id, 1)
    shop.book(shop.dive.id, 2)
    again = shop.core.bookings.book(
        BookingRequest(
            shop.dive.id,
            [NewTraveler(TravelerDetails("Again"), is_primary=True)],
            customer_id=first.customer_id,
        ),
        principal=ADMIN,
    )
    cancelled = shop.book(shop.trek.id, 1)
    shop.core.bookings.cancel(cancelled.id, principal=ADMIN)

    (value,) = shop.core.reports.customer_value(principal=ADMIN)
    # the cancelled booking's customer spent nothing and is not counted
    assert value == CustomerValue(
        currency="INR",
        customers=2,
        repeat_customers=1,
        repeat_rate=Decimal("0.5"),
        lifetime_value=Money((Decimal(1000) + Decimal("501.00") + again.total.amount) / 2, "INR"),
    )


def test_capacity_utilisation_adds_seats_held_against_capacity(shop: Shop) -> None:
    shop.book(shop.trek.id, 2)
    shop.book(shop.dive.id, 4)
    by_location = {
        line.key: line
        for line in shop.core.reports.capacity_utilisation(principal=ADMIN, by="location")
    }
    camp, reef = by_location[shop.camp.id], by_location[shop.reef.id]
    assert (camp.capacity, camp.seats_held, camp.utilisation) == (5, 2, Decimal("0.4"))
    assert (reef.slots, reef.unlimited_slots, reef.capacity) == (1, 1, 0)
    lines = shop.core.reports.capacity_utilisation(principal=ADMIN, by="location")
    assert [line.key for line in lines] == sorted(by_location, key=lambda key: key.int)
    with pytest.raises(ValidationError) as refused:
        shop.core.reports.capacity_utilisation(principal=ADMIN, by="partner")
    assert refused.value.errors[0].field == "by"


def test_capacity_utilisation_counts_closed_slots_with_a_filter_as_without(shop: Shop) -> None:
    """A closed slot still runs with the seats its bookings hold: the report counts
    every slot, active or not, and a ``SlotFilter`` only narrows which (its
    ``only_active``, true by default for lists, does not drop closed slots here)."""
    shop.book(shop.trek.id, 2)
    shop.core.catalog.close_slot(shop.trek.id, principal=ADMIN)
    reports = shop.core.reports

    (everything,) = reports.capacity_utilisation(principal=ADMIN)
    (filtered,) = reports.capacity_utilisation(principal=ADMIN, where=SlotFilter())
    by_location = reports.capacity_utilisation(principal=ADMIN, by="location")
    (camp,) = reports.capacity_utilisation(
        principal=ADMIN, by="location", where=SlotFilter(location_id=shop.camp.id)
    )

    assert (everything.slots, everything.capacity, everything.seats_held) == (2, 5, 2)
    assert filtered == everything
    assert camp == next(line for line in by_location if line.key == shop.camp.id)
    assert (camp.slots, camp.seats_held, camp.utilisation) == (1, 2, Decimal("0.4"))


def test_capacity_utilisation_is_for_staff_who_may_view_everything(shop: Shop) -> None:
    advisor = Principal.staff(shop.advisor.id, StaffRole.ADVISOR)
    editor = Principal.staff(StaffId(uuid4()), StaffRole.EDITOR)
    assert shop.core.reports.capacity_utilisation(principal=editor)
    for refused_principal in (shop.as_partner, advisor):
        with pytest.raises(PermissionDeniedError) as refused:
            shop.core.reports.capacity_utilisation(principal=refused_principal)
        assert str(refused.value) == f"{refused_principal} may not read capacity reports"


def test_import_statistics_count_jobs_and_rows_and_need_staff_who_may_import(shop: Shop) -> None:
    header = ("customer_name", "customer_phone", "dealer_code", "booking_date", "external_id")
    rows = [
        ("Kiran", "+919811100001", "CAMP", "2026-03-05", "CRM-1"),
        ("Lata", "not a phone", "CAMP", "2026-03-05", "CRM-2"),
        ("Mohan", "+919811100003", "CAMP", "2026-03-06", "CRM-3"),
    ]
    shop.core.imports.run_file(ListSource(header, rows), principal=ADMIN)
    shop.core.imports.run_file(ListSource(header, rows[:1]), principal=ADMIN)  # a re-run skips

    (completed,) = shop.core.reports.import_statistics(principal=ADMIN)
    assert completed == ImportTally(
        "COMPLETED", jobs=2, rows=4, created=2, updated=0, skipped=1, failed=1
    )
    later = shop.clock.now() + timedelta(days=1)
    assert shop.core.reports.import_statistics(principal=ADMIN, created_from=later) == []
    editor = Principal.staff(StaffId(uuid4()), StaffRole.EDITOR)
    assert shop.core.reports.import_statistics(principal=editor) == [completed]
    advisor = Principal.staff(shop.advisor.id, StaffRole.ADVISOR)
    with pytest.raises(PermissionDeniedError):
        shop.core.reports.import_statistics(principal=advisor)


def test_import_statistics_count_booking_imports_unless_asked_for_another_kind(
    shop: Shop,
) -> None:
    """A customers import has its own rows and failures: booking figures leave it out."""
    header = ("customer_name", "customer_phone", "dealer_code", "booking_date", "external_id")
    shop.core.imports.run_file(
        ListSource(header, [("Kiran", "+919811100001", "CAMP", "2026-03-05", "CRM-1")]),
        principal=ADMIN,
    )
    people = ListSource(
        ("Full Name", "Mobile", "E-mail"),
        [
            ("Asha Rao", "+919800000001", "asha@example.com"),
            ("Ravi Kumar", "+919800000002", "ravi@example.com"),
            ("Nobody", "not a phone", ""),
        ],
        filename="users.csv",
    )
    shop.core.imports.run_file(people, principal=ADMIN, settings=ImportSettings(kind="customers"))
    reports = shop.core.reports

    (bookings,) = reports.import_statistics(principal=ADMIN)
    assert bookings == ImportTally(
        "COMPLETED", jobs=1, rows=1, created=1, updated=0, skipped=0, failed=0
    )
    assert reports.import_statistics(principal=ADMIN, kind=ImportKind.BOOKINGS) == [bookings]
    (customers,) = reports.import_statistics(principal=ADMIN, kind="customers")
    assert (customers.jobs, customers.rows, customers.created, customers.failed) == (1, 3, 2, 1)
    (every,) = reports.import_statistics(principal=ADMIN, kind=None)
    assert (every.jobs, every.rows, every.failed) == (2, 4, 1)
    assert reports.import_statistics(principal=ADMIN, kind="travelers") == []

    performance = reports.import_performance(principal=ADMIN)
    assert [(line.status, line.jobs) for line in performance.timings] == [("COMPLETED", 1)]
    assert performance.errors == ()
    people_only = reports.import_performance(principal=ADMIN, kind="customers")
    assert [(line.errors, line.jobs) for line in people_only.errors] == [(1, 1)]
    assert reports.import_performance(principal=ADMIN, kind=None).errors == people_only.errors
    with pytest.raises(ValidationError) as refused:
        reports.import_statistics(principal=ADMIN, kind="partners")
    assert refused.value.errors[0].field == "kind"


def test_an_unknown_grouping_is_a_field_error(shop: Shop) -> None:
    with pytest.raises(ValidationError) as refused:
        shop.core.reports.revenue(principal=ADMIN, by="weekday")
    assert refused.value.errors[0].field == "by"


def test_waitlist_conversion_counts_entries_by_outcome(shop: Shop) -> None:
    seat = shop.core.catalog.create_slot(
        location_id=shop.camp.id,
        starts_at=shop.clock.now() + timedelta(days=30),
        price_per_traveler=Money("1000", "INR"),
        capacity=1,
        principal=ADMIN,
    )
    taken = shop.book(seat.id, 1)
    waiting = [
        shop.core.customers.register(phone, principal=ADMIN).customer
        for phone in ("+919811100101", "+919811100102")
    ]
    first, _ = (
        shop.core.waitlists.join(seat.id, customer_id=person.id, principal=ADMIN)
        for person in waiting
    )
    shop.core.bookings.cancel(taken.id, principal=ADMIN)  # the seat is offered to the first
    shop.core.waitlists.accept(
        first.id,
        [NewTraveler(TravelerDetails("First in line"), is_primary=True)],
        principal=Principal.customer(waiting[0].id),
    )
    report = shop.core.reports.waitlist_conversion(principal=ADMIN, location_id=shop.camp.id)
    assert (report.joined, report.offered, report.booked, report.waiting) == (2, 1, 1, 1)
    assert (report.conversion_rate, report.acceptance_rate) == (Decimal("0.5"), Decimal("1"))
    elsewhere = shop.core.reports.waitlist_conversion(principal=ADMIN, location_id=shop.reef.id)
    assert elsewhere.joined == 0
    with pytest.raises(PermissionDeniedError):
        shop.core.reports.waitlist_conversion(principal=shop.as_partner)


def _utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


#: A slot that starts at 23:30 UTC on the last day of 2026: 1 January 2027 east of UTC.
YEAR_END = _utc(2026, 12, 31, 23, 30)


@pytest.mark.parametrize(
    ("zone", "made_at", "days", "months", "starts_month"),
    [
        pytest.param(
            "UTC",
            [_utc(2026, 2, 28, 18, 29), _utc(2026, 2, 28, 19, 0)],
            {date(2026, 2, 28): 2},
            {date(2026, 2, 1): 2},
            date(2026, 12, 1),
            id="utc",
        ),
        pytest.param(
            # 23:59 on 28 February and 00:30 on 1 March in India (UTC+05:30).
            "Asia/Kolkata",
            [_utc(2026, 2, 28, 18, 29), _utc(2026, 2, 28, 19, 0)],
            {date(2026, 2, 28): 1, date(2026, 3, 1): 1},
            {date(2026, 2, 1): 1, date(2026, 3, 1): 1},
            date(2027, 1, 1),
            id="kolkata",
        ),
        pytest.param(
            # 29 March 2026 lasts 23 hours in Berlin (CET to CEST at 01:00 UTC).
            "Europe/Berlin",
            [
                _utc(2026, 3, 28, 23, 0),  # 29 March 00:00 CET
                _utc(2026, 3, 29, 21, 59),  # 29 March 23:59 CEST
                _utc(2026, 3, 29, 22, 0),  # 30 March 00:00 CEST
                _utc(2026, 3, 31, 22, 0),  # 1 April 00:00 CEST
            ],
            {date(2026, 3, 29): 2, date(2026, 3, 30): 1, date(2026, 4, 1): 1},
            {date(2026, 3, 1): 3, date(2026, 4, 1): 1},
            date(2027, 1, 1),
            id="berlin-spring-forward",
        ),
        pytest.param(
            # 1 November 2026 lasts 25 hours in New York (EDT to EST at 06:00 UTC).
            "America/New_York",
            [
                _utc(2026, 11, 1, 3, 59),  # 31 October 23:59 EDT
                _utc(2026, 11, 1, 4, 0),  # 1 November 00:00 EDT
                _utc(2026, 11, 2, 4, 59),  # 1 November 23:59 EST
            ],
            {date(2026, 10, 31): 1, date(2026, 11, 1): 2},
            {date(2026, 10, 1): 1, date(2026, 11, 1): 2},
            date(2026, 12, 1),
            id="new-york-fall-back",
        ),
    ],
)
def test_periods_are_the_business_calendar_days_and_months(
    any_store: MemoryStore | SqlStore,
    zone: str,
    made_at: list[datetime],
    days: dict[date, int],
    months: dict[date, int],
    starts_month: date,
) -> None:
    shop = Shop(any_store, Settings(timezone=zone))
    trip = shop.core.catalog.create_slot(
        location_id=shop.camp.id,
        starts_at=YEAR_END,
        price_per_traveler=Money("10", "INR"),
        capacity=None,
        principal=ADMIN,
    )
    for moment in made_at:
        shop.clock.set(moment - timedelta(minutes=1))  # book() moves the clock a minute on
        assert shop.book(trip.id, 1).created_at == moment
    reports = shop.core.reports

    by_day = reports.revenue(principal=ADMIN, by=Grouping.CREATED_DAY)
    assert {line.key: line.bookings for line in by_day} == days
    by_month = reports.cancellations(principal=ADMIN, by=Grouping.CREATED_MONTH)
    assert {line.key: line.bookings for line in by_month} == months
    by_start = reports.revenue(principal=ADMIN, by=Grouping.STARTS_MONTH)
    assert {line.key: line.bookings for line in by_start} == {starts_month: len(made_at)}
    capacity = reports.capacity_utilisation(principal=ADMIN, by=Grouping.STARTS_MONTH)
    # The shop's own two slots start on 21 January 2026 at 09:00 UTC.
    assert {line.key: line.slots for line in capacity} == {date(2026, 1, 1): 2, starts_month: 1}


def _stored_bookings(store: MemoryStore | SqlStore, specs: list[tuple[str, str]]) -> StaffId:
    """Bookings of ``(lifecycle, status)`` stored as they are, all assigned to one advisor."""
    make = Builder()
    advisor = StaffId(uuid4())
    location = make.location()
    slot = make.slot(location.id)
    customer = make.customer()
    traveler = make.traveler(customer.id)
    with store.unit_of_work() as uow:
        uow.locations.add(location)
        uow.slots.add(slot)
        uow.customers.add(customer)
        uow.travelers.add(traveler)
        for lifecycle, status in specs:
            uow.bookings.add(
                make.booking(
                    customer.id,
                    slot,
                    [traveler.id],
                    lifecycle=lifecycle,
                    status=status,
                    assignee_id=advisor,
                )
            )
        uow.commit()
    return advisor


def test_each_booking_counts_as_its_own_lifecycle_says(any_store: MemoryStore | SqlStore) -> None:
    # ``refunded`` ends a trip holding no seats: cancelled; a trip still being prepared
    # is open; a completed trip or reservation holds seats, so both are revenue.
    advisor = _stored_bookings(
        any_store,
        [
            ("reservation", "completed"),
            ("travel", "completed"),
            ("travel", "documents_generated"),
            ("travel", "refunded"),
            ("reservation", "cancelled"),
            ("reservation", "no_show"),
        ],
    )
    core = BookingCore(uow_factory=any_store.unit_of_work)

    (line,) = core.reports.advisor_workload(principal=ADMIN)
    assert line == AdvisorWorkload(
        assignee_id=advisor,
        assigned=6,
        open=1,
        completed=2,
        cancelled=2,
        no_shows=1,
        completion_rate=Decimal("0.5"),
    )
    (cancellations,) = core.reports.cancellations(principal=ADMIN)
    assert (cancellations.bookings, cancellations.cancelled, cancellations.no_shows) == (6, 2, 1)
    (revenue,) = core.reports.revenue(principal=ADMIN)
    assert (revenue.bookings, revenue.travelers) == (4, 4)


def test_a_customer_s_lifetime_value_counts_the_bookings_revenue_counts(
    any_store: MemoryStore | SqlStore,
) -> None:
    """A refunded trip, or one still a quotation, holds no seats: revenue leaves it out,
    and so does the customer view's lifetime value."""
    make = Builder()
    location = make.location()
    customer = make.customer()
    traveler = make.traveler(customer.id)
    specs = [
        ("reservation", "confirmed", "100"),
        ("reservation", "cancelled", "200"),
        ("reservation", "no_show", "400"),
        ("travel", "completed", "800"),
        ("travel", "refunded", "1600"),
        ("travel", "quotation_sent", "3200"),
        ("travel", "payment_pending", "6400"),
        ("appointment", "WAITLISTED", "12800"),
    ]
    with any_store.unit_of_work() as uow:
        uow.locations.add(location)
        uow.customers.add(customer)
        uow.travelers.add(traveler)
        for lifecycle, status, price in specs:
            slot = make.slot(location.id, price_per_traveler=Money(price, "INR"))
            uow.slots.add(slot)
            booking = make.booking(
                customer.id, slot, [traveler.id], lifecycle=lifecycle, status=status
            )
            uow.bookings.add(booking)
        uow.commit()
    core = BookingCore(uow_factory=any_store.unit_of_work)

    (revenue,) = core.reports.revenue(principal=ADMIN, where=BookingFilter(customer_id=customer.id))
    stats = core.customers.view(customer.id, principal=ADMIN).stats
    assert revenue.amount == Money("7700", "INR")
    assert stats.lifetime_value == (revenue.amount,)
    assert stats.total_bookings == len(specs)


def test_a_trip_that_took_place_counts_as_completed_in_its_advisor_s_workload(
    any_store: MemoryStore | SqlStore,
) -> None:
    """Travel's ``completed`` may still be refunded, so it is not terminal; the trip took
    place all the same, as the customer view and certificates count it: completed."""
    advisor = _stored_bookings(
        any_store, [("travel", "completed"), ("travel", "completed"), ("travel", "cancelled")]
    )
    core = BookingCore(uow_factory=any_store.unit_of_work)

    (line,) = core.reports.advisor_workload(principal=ADMIN)
    assert (line.assignee_id, line.assigned, line.open, line.completed) == (advisor, 3, 0, 2)
    assert line.completion_rate == Decimal(1)


def test_a_booking_report_asks_the_storage_for_its_lines_only(sql_store: SqlStore) -> None:
    _stored_bookings(
        sql_store,
        [
            ("reservation", "pending"),
            ("reservation", "confirmed"),
            ("reservation", "cancelled"),
            ("travel", "completed"),
            ("travel", "refunded"),
            ("reservation", "no_show"),
        ],
    )
    core = BookingCore(uow_factory=sql_store.unit_of_work)
    sent: list[tuple[str, object]] = []

    def record(_c: object, _cur: object, statement: str, parameters: object, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):  # not SQLite's BEGIN
            sent.append((statement, parameters))

    reports = {
        "revenue": lambda: core.reports.revenue(principal=ADMIN, by="location"),
        "cancellations": lambda: core.reports.cancellations(principal=ADMIN, by="created_day"),
        "workload": lambda: core.reports.advisor_workload(principal=ADMIN),
    }
    for name, report in reports.items():
        sent.clear()
        event.listen(sql_store.engine, "before_cursor_execute", record)
        try:
            lines = report()
        finally:
            event.remove(sql_store.engine, "before_cursor_execute", record)
        assert len(lines) == 1, name
        # One statement, whose rows are the report's lines: the storage classified the
        # statuses, not a loop over a row per status.
        ((statement, parameters),) = sent
        with sql_store.engine.connect() as connection:
            rows = connection.exec_driver_sql(statement, parameters).all()  # type: ignore[arg-type]
        assert len(rows) == len(lines), name


#: A lifecycle of requests: a pending request holds no seats (a reservation's does).
REQUESTS = Lifecycle(
    name="request",
    states=("pending", "approved", "declined"),
    initial="pending",
    transitions={"pending": {"approved", "declined"}},
    terminal={"approved", "declined"},
    holding={"approved"},
    cancelled="declined",
)


def test_customer_figures_count_the_bookings_their_own_lifecycle_says_hold_seats(
    any_store: MemoryStore | SqlStore,
) -> None:
    """``pending`` holds seats in a reservation, not in a request: customer value,
    booking frequency and cohorts count the bookings revenue counts."""
    make = Builder()
    location = make.location()
    slot = make.slot(location.id)  # 100 INR a seat
    reserving, asking = make.customer(), make.customer()
    with any_store.unit_of_work() as uow:
        uow.locations.add(location)
        uow.slots.add(slot)
        for customer in (reserving, asking):
            uow.customers.add(customer)
            traveler = make.traveler(customer.id)
            uow.travelers.add(traveler)
            lifecycle = "reservation" if customer is reserving else "request"
            for _ in range(2):
                uow.bookings.add(
                    make.booking(customer.id, slot, [traveler.id], lifecycle=lifecycle)
                )
        uow.commit()
    core = BookingCore(
        uow_factory=any_store.unit_of_work,
        settings=Settings(lifecycles={**PRESETS, "request": REQUESTS}),
    )
    reports = core.reports

    (revenue,) = reports.revenue(principal=ADMIN)
    assert (revenue.bookings, revenue.amount) == (2, Money("200", "INR"))
    assert reports.customer_value(principal=ADMIN) == [
        CustomerValue("INR", 1, 1, Decimal(1), Money("200", "INR"))
    ]
    frequency = reports.booking_frequency(principal=ADMIN)
    assert [(line.label, line.customers, line.bookings) for line in frequency] == [
        ("1", 0, 0),
        ("2", 1, 2),
        ("3-5", 0, 0),
        ("6+", 0, 0),
    ]
    (cohort,) = reports.cohort_retention(principal=ADMIN, months=0)
    assert (cohort.customers, cohort.active) == (1, (1,))


def test_sums_past_the_largest_single_amount_are_reported(shop: Shop) -> None:
    """One booking may cost up to MAX_AMOUNT (10^12); what several add up to may be
    more, and a report gives it rather than failing on it."""
    price = Money("600000000000", "VND")  # about 24 million USD a seat
    palace = shop.core.catalog.create_slot(
        location_id=shop.camp.id,
        starts_at=shop.clock.now() + timedelta(days=30),
        price_per_traveler=price,
        capacity=None,
        principal=ADMIN,
    )
    start = shop.clock.now()
    made = [shop.book(palace.id, 1) for _ in range(3)]
    everything = Decimal("1800000000000")
    assert everything > MAX_AMOUNT

    (revenue,) = shop.core.reports.revenue(principal=ADMIN)
    assert (revenue.bookings, revenue.amount.amount, revenue.currency) == (3, everything, "VND")
    (value,) = shop.core.reports.customer_value(principal=ADMIN)
    assert value.lifetime_value == price
    report = shop.core.reports.reconciliation(
        start, shop.clock.now() + timedelta(minutes=1), principal=ADMIN
    )
    assert len(report.bookings) == len(made)
    totals = report.totals_for("VND")
    assert (totals.total.amount, totals.net_paid) == (everything, Money.zero("VND"))


def test_amounts_near_the_largest_add_up_to_the_cent(shop: Shop) -> None:
    """Near 10^12 a binary float holds an amount a ten-thousandth off: fifty bookings of
    900,705,833,309.06 INR summed as floats came to a cent more than they cost. The
    revenue is their exact sum on every store."""
    price = Money("900705833309.06", "INR")
    palace = shop.core.catalog.create_slot(
        location_id=shop.camp.id,
        starts_at=shop.clock.now() + timedelta(days=30),
        price_per_traveler=price,
        capacity=None,
        principal=ADMIN,
    )
    for _ in range(50):
        shop.book(palace.id, 1)

    (revenue,) = shop.core.reports.revenue(principal=ADMIN)
    assert (revenue.bookings, revenue.amount) == (50, Money.summed(price.amount * 50, "INR"))


NEW_YORK = ZoneInfo("America/New_York")


def test_a_tricky_month_adds_up_to_the_figures_worked_out_by_hand(
    any_store: MemoryStore | SqlStore,
) -> None:
    """Two currencies, a booking made at 23:30 on 31 March in New York (April in UTC),
    one exactly at April's first instant, a cancellation, a no-show, a booking moved to
    another location, a partner's and an advisor's scope, and an empty period."""
    clock = FixedClock(datetime(2026, 3, 20, 12, tzinfo=NEW_YORK))
    core = BookingCore(
        uow_factory=any_store.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(timezone="America/New_York"),
    )
    catalog = core.catalog
    camp = catalog.add_location("CAMP", "Base camp", principal=ADMIN)
    reef = catalog.add_location("REEF", "House reef", principal=ADMIN)
    later = datetime(2026, 6, 15, 6, tzinfo=NEW_YORK)

    def slot(location: object, price: Money) -> object:
        return catalog.create_slot(
            location_id=location,  # type: ignore[arg-type]
            starts_at=later,
            price_per_traveler=price,
            capacity=None,
            principal=ADMIN,
        ).id

    trek, dive = slot(camp.id, Money("1000.50", "INR")), slot(reef.id, Money("19.99", "USD"))
    lagoon = slot(reef.id, Money("1000.50", "INR"))
    partner = core.partners.register(
        name="Blue",
        company_name="Blue Pvt Ltd",
        contact_email="ops@blue.example.com",
        allowed_location_ids=[camp.id, reef.id],
        principal=ADMIN,
    ).partner
    as_partner = Principal.partner(partner.id)
    advisor = core.staff.add("ravi@example.com", "Ravi", principal=ADMIN)
    phones = iter(range(1, 100))

    def book(at: datetime, slot_id: object, travelers: int, *, customer: object = None,
             principal: Principal = ADMIN) -> Booking:  # fmt: skip
        clock.set(at.astimezone(UTC))
        if customer is None:
            customer = core.customers.register(
                f"+9198000{next(phones):05d}", principal=principal
            ).customer.id
        return core.bookings.book(
            BookingRequest(
                slot_id,  # type: ignore[arg-type]
                [
                    NewTraveler(TravelerDetails(f"T{i}"), is_primary=i == 0)
                    for i in range(travelers)
                ],
                customer_id=customer,  # type: ignore[arg-type]
            ),
            principal=principal,
        )

    def local(day: int, hour: int, minute: int = 0, month: int = 4) -> datetime:
        return datetime(2026, month, day, hour, minute, tzinfo=NEW_YORK)

    late = book(local(31, 23, 30, month=3), trek, 2)  # 03:30 UTC on 1 April: March here
    first = book(local(1, 0), dive, 1, principal=as_partner)  # April's first instant
    assert first.created_at == datetime(2026, 4, 1, 4, tzinfo=UTC)
    dropped = book(local(1, 0, 45), trek, 1)
    moved = book(local(2, 9), trek, 1, customer=late.customer_id)
    missed = book(local(3, 9), dive, 3, principal=as_partner)
    book(local(30, 23, 59), dive, 1)
    core.bookings.cancel(dropped.id, principal=ADMIN)
    core.bookings.transition(missed.id, "confirmed", principal=ADMIN)
    core.bookings.transition(missed.id, "no_show", principal=ADMIN)
    core.bookings.reschedule(moved.id, lagoon, principal=ADMIN)  # CAMP to REEF
    core.bookings.update(late.id, BookingChanges(assignee_id=advisor.id), principal=ADMIN)
    reports = core.reports

    def sums(lines: Sequence[RevenueLine]) -> set[tuple[object, str, int, int, str]]:
        return {(x.key, x.currency, x.bookings, x.travelers, str(x.amount)) for x in lines}

    march, april = date(2026, 3, 1), date(2026, 4, 1)
    assert sums(reports.revenue(principal=ADMIN, by="created_month")) == {
        (march, "INR", 1, 2, "2,001.00 INR"),
        (april, "INR", 1, 1, "1,000.50 INR"),
        (april, "USD", 3, 5, "99.95 USD"),
    }
    assert sums(reports.revenue(principal=ADMIN, by="location")) == {
        (camp.id, "INR", 1, 2, "2,001.00 INR"),
        (reef.id, "INR", 1, 1, "1,000.50 INR"),
        (reef.id, "USD", 3, 5, "99.95 USD"),
    }
    # bounds: from is inclusive, before exclusive (both instants, April in New York)
    in_april = BookingFilter(created_from=local(1, 0), created_before=local(1, 0, month=5))
    assert sums(reports.revenue(principal=ADMIN, where=in_april)) == {
        (None, "INR", 1, 1, "1,000.50 INR"),
        (None, "USD", 3, 5, "99.95 USD"),
    }
    in_march = BookingFilter(created_before=local(1, 0))
    assert sums(reports.revenue(principal=ADMIN, where=in_march)) == {
        (None, "INR", 1, 2, "2,001.00 INR")
    }
    by_source = {
        line.key: (line.bookings, line.cancelled, line.no_shows, line.cancellation_rate,
                   line.no_show_rate)
        for line in reports.cancellations(principal=ADMIN, by="source")
    }  # fmt: skip
    assert by_source == {
        "direct": (4, 1, 0, Decimal("0.2500"), Decimal(0)),
        "partner": (2, 0, 1, Decimal(0), Decimal("0.5000")),
    }
    values = {line.currency: line for line in reports.customer_value(principal=ADMIN)}
    assert (values["INR"].customers, values["INR"].repeat_customers) == (1, 1)
    assert values["INR"].lifetime_value == Money("3001.50", "INR")
    assert (values["USD"].customers, values["USD"].repeat_rate) == (3, Decimal(0))
    assert values["USD"].lifetime_value == Money("33.32", "USD")  # 99.95 / 3, half up

    # scopes: the partner's own bookings, the advisor's own
    assert sums(reports.revenue(principal=as_partner, by="partner")) == {
        (partner.id, "USD", 2, 4, "79.96 USD")
    }
    as_advisor = Principal.staff(advisor.id, StaffRole.ADVISOR)
    assert sums(reports.revenue(principal=as_advisor)) == {(None, "INR", 1, 2, "2,001.00 INR")}
    (workload,) = reports.advisor_workload(principal=as_advisor)
    assert (workload.assignee_id, workload.assigned, workload.open) == (advisor.id, 1, 1)

    # an empty period: no lines, no rates divided by nothing
    nothing = BookingFilter(created_from=local(1, 0, month=6))
    assert reports.revenue(principal=ADMIN, where=nothing) == []
    assert reports.cancellations(principal=ADMIN, where=nothing) == []
    assert reports.customer_value(principal=ADMIN, where=nothing) == []
    assert reports.advisor_workload(principal=ADMIN, where=nothing) == []
    assert [
        line.customers for line in reports.booking_frequency(principal=ADMIN, where=nothing)
    ] == [0, 0, 0, 0]
