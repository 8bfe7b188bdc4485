"""Bad input gets a typed ValidationError naming its field, the same on every backend.

Amounts too large for Money or a column, control characters in any text,
counts too large for an integer column, idempotency keys too long, and
metadata past its one rule are refused at the domain edge: nothing is written,
and memory, SQLite and PostgreSQL answer alike (docs/security.md, "Limits").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest
from tests._sqlite import sqlite_file_store
from tests.integration.test_imports import HEADER, ListSource, row

from bookingcore import (
    AuthenticationError,
    BookingCore,
    BookingFilter,
    BookingRequest,
    CustomerFilter,
    ImportSettings,
    Money,
    NewTraveler,
    PageRequest,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import ImportStatus, Slot
from bookingcore.domain.items import MAX_SERVICE_DATE, MAX_SERVICE_DAYS, MIN_SERVICE_DATE
from bookingcore.domain.values import SlotId
from bookingcore.services import BookedItem, QuotationRequest, QuoteLine
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
CONTROL = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\ud800"]


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStore | SqlStore]:
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "sqlite":
        sqlite = sqlite_file_store(tmp_path / "hostile.db")
        yield sqlite
        sqlite.dispose()
    else:
        yield request.getfixturevalue("pg_store")


class World:
    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.clock = FixedClock()
        self.core = BookingCore(
            uow_factory=store.unit_of_work, clock=self.clock, ids=SequentialIds()
        )
        self.camp = self.core.catalog.add_location("DL01", "Base camp", principal=ADMIN)
        self.slot = self.core.catalog.create_slot(
            location_id=self.camp.id,
            starts_at=self.clock.now() + timedelta(days=30),
            price_per_traveler=Money("8500", "INR"),
            capacity=10,
            principal=ADMIN,
        )
        self.customer = self.core.customers.register(
            "+919876543210", name="Asha Rao", principal=ADMIN
        ).customer

    def request(self, **fields: object) -> BookingRequest:
        return BookingRequest(
            self.slot.id,
            [NewTraveler(TravelerDetails("Asha Rao"), is_primary=True)],
            customer_id=self.customer.id,
            **fields,  # type: ignore[arg-type]
        )

    def counts(self) -> tuple[int, ...]:
        page = PageRequest(limit=500)
        return (
            len(self.core.bookings.list(BookingFilter(), principal=ADMIN, page=page).items),
            len(self.core.customers.list(CustomerFilter(), principal=ADMIN, page=page).items),
            len(self.core.catalog.list_slots(principal=ADMIN)),
            len(self.core.catalog.list_locations(principal=ADMIN)),
            len(self.core.travelers.list(self.customer.id, principal=ADMIN)),
            self.core.catalog.get_slot(self.slot.id, principal=ADMIN).seats_held,
        )

    def refused(self, call: Callable[[], object], field: str) -> ValidationError:
        before = self.counts()
        with pytest.raises(ValidationError) as caught:
            call()
        assert field in caught.value.fields, caught.value.fields
        assert self.counts() == before
        return caught.value


@pytest.fixture
def world(store: MemoryStore | SqlStore) -> World:
    return World(store)


class TestAmounts:
    @pytest.mark.parametrize("amount", ["1e27", "-1e27", "1e13", 10**16, Decimal("1e999999")])
    def test_an_amount_past_the_maximum_is_a_validation_error(self, amount: object) -> None:
        with pytest.raises(ValidationError) as caught:
            Money(amount, "INR")  # type: ignore[arg-type]
        assert caught.value.errors[0].code == "out_of_range"
        with pytest.raises(ValidationError) as parsed:
            Money.parse(amount, "INR", field="price")
        assert parsed.value.fields == ("price.amount",)

    def test_a_sum_past_the_maximum_is_a_validation_error(self) -> None:
        with pytest.raises(ValidationError):
            Money(Decimal(10) ** 12, "INR") * 2

    def test_the_largest_amount_is_stored_and_read_back_exactly(self, world: World) -> None:
        top = Money(Decimal(10) ** 12, "KWD")  # three decimals
        slot = world.core.catalog.create_slot(
            location_id=world.camp.id,
            starts_at=world.clock.now() + timedelta(days=3),
            price_per_traveler=Money("999999999999.999", "KWD"),
            principal=ADMIN,
        )
        read = world.core.catalog.get_slot(slot.id, principal=ADMIN)
        assert read.price_per_traveler == Money("999999999999.999", "KWD")
        assert top.amount == Decimal("1000000000000.000")


class TestCounts:
    @pytest.mark.parametrize("capacity", [10**6 + 1, 10**12, 10**20])
    def test_a_capacity_past_the_maximum_is_refused_on_every_backend(
        self, world: World, capacity: int
    ) -> None:
        world.refused(
            lambda: world.core.catalog.create_slot(
                location_id=world.camp.id,
                starts_at=world.clock.now() + timedelta(days=3),
                price_per_traveler=Money("1", "INR"),
                capacity=capacity,
                principal=ADMIN,
            ),
            "capacity",
        )

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"chunk_size": "500"}, "chunk_size"),
            ({"chunk_size": 5.5}, "chunk_size"),
            ({"chunk_size": 10**20}, "chunk_size"),
            ({"workers": 10**20}, "workers"),
            ({"workers": True}, "workers"),
        ],
    )
    def test_import_settings_refuse_counts_that_are_not_whole_numbers_in_range(
        self, fields: dict[str, object], field: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            ImportSettings(**fields)  # type: ignore[arg-type]
        assert caught.value.fields == (field,)

    @pytest.mark.parametrize("limit", [0, -1, True, 10**20])
    def test_an_import_preview_of_a_row_count_out_of_range_is_refused_on_limit(
        self, world: World, limit: int
    ) -> None:
        world.refused(
            lambda: world.core.imports.preview(
                ListSource(HEADER, [row()]), principal=ADMIN, limit=limit
            ),
            "limit",
        )

    def test_the_largest_capacity_is_stored(self, world: World) -> None:
        slot = world.core.catalog.create_slot(
            location_id=world.camp.id,
            starts_at=world.clock.now() + timedelta(days=3),
            price_per_traveler=Money("1", "INR"),
            capacity=10**6,
            principal=ADMIN,
        )
        assert world.core.catalog.get_slot(slot.id, principal=ADMIN).capacity == 10**6


class TestControlCharacters:
    @pytest.mark.parametrize("char", CONTROL)
    def test_text_with_a_control_character_is_refused_everywhere_it_enters(
        self, world: World, char: str
    ) -> None:
        bad = f"Asha{char}Rao"
        world.refused(
            lambda: world.core.customers.register("+919876543211", name=bad, principal=ADMIN),
            "name",
        )
        world.refused(
            lambda: world.core.customers.complete_profile(
                world.customer.id, name=bad, principal=ADMIN
            ),
            "name",
        )
        world.refused(
            lambda: world.core.travelers.add(
                world.customer.id, TravelerDetails(bad), principal=ADMIN
            ),
            "name",
        )
        world.refused(lambda: world.core.catalog.add_location("DL02", bad, principal=ADMIN), "name")
        world.refused(
            lambda: world.core.catalog.add_location(f"DL{char}2", "Two", principal=ADMIN), "code"
        )
        for field in ("internal_notes", "external_id", "referral_source"):
            world.refused(
                lambda f=field: world.core.bookings.book(  # type: ignore[misc]
                    world.request(**{f: bad}), principal=ADMIN
                ),
                field,
            )
        world.refused(
            lambda: world.core.bookings.book(world.request(metadata={bad: "v"}), principal=ADMIN),
            "metadata",
        )
        world.refused(
            lambda: world.core.bookings.book(world.request(metadata={"k": bad}), principal=ADMIN),
            "metadata.k",
        )
        world.refused(
            lambda: world.core.bookings.book(world.request(), principal=ADMIN, idempotency_key=bad),
            "idempotency_key",
        )
        world.refused(lambda: BookingFilter(text=bad), "text")
        world.refused(lambda: CustomerFilter(text=bad), "text")
        booking = world.core.bookings.book(world.request(), principal=ADMIN)
        before = world.core.bookings.get(booking.id, principal=ADMIN).version
        world.refused(
            lambda: world.core.bookings.transition(
                booking.id, "confirmed", principal=ADMIN, note=bad
            ),
            "note",
        )
        world.refused(
            lambda: world.core.communications.send(
                booking.id, "reminder", principal=ADMIN, idempotency_key=bad
            ),
            "idempotency_key",
        )
        assert world.core.bookings.get(booking.id, principal=ADMIN).version == before

    @pytest.mark.parametrize("char", ["\x00", "\ud800"])
    def test_look_ups_by_text_with_a_control_character_are_typed_errors(
        self, world: World, char: str
    ) -> None:
        bad = f"BK{char}1"
        world.refused(
            lambda: world.core.bookings.get_by_reference(bad, principal=ADMIN), "reference"
        )
        world.refused(
            lambda: world.core.communications.record_callback(
                bad, "delivered", principal=Principal.system()
            ),
            "provider_message_id",
        )
        world.refused(
            lambda: world.core.partners.register(
                name="Trek Co",
                company_name="Trek Co Ltd",
                contact_email="api@trek.example.com",
                webhook_url=f"https://trek.example.com/{char}",
                principal=ADMIN,
            ),
            "webhook_url",
        )
        with pytest.raises(AuthenticationError):
            world.core.partners.authenticate(bad, bad, client_ip="192.0.2.1")

    @pytest.mark.parametrize("char", CONTROL)
    def test_a_message_s_text_with_a_control_character_is_refused_and_not_logged(
        self, world: World, char: str
    ) -> None:
        def send_text(subject: str, body: str) -> object:
            return world.core.communications.send_text(
                world.customer.id,
                "follow_up",
                subject=subject,
                body=body,
                principal=ADMIN,
                channel="sms",
            )

        world.refused(lambda: send_text(f"How was it{char}", "Tell us."), "subject")
        world.refused(lambda: send_text("How was it?", f"Tell us{char}"), "body")
        # A subject is one line: a line break would start another header of the email.
        world.refused(lambda: send_text("How was it?\nBcc: all@example.com", "Tell us."), "subject")
        assert world.core.communications.for_customer(world.customer.id, principal=ADMIN) == []

    def test_tabs_and_newlines_in_free_text_are_kept(self, world: World) -> None:
        notes = "line one\n\tline two\r\nline three"
        booking = world.core.bookings.book(world.request(internal_notes=notes), principal=ADMIN)
        assert world.core.bookings.get(booking.id, principal=ADMIN).internal_notes == notes

    def test_an_import_cell_with_a_nul_fails_its_row_and_the_report_shows_it_replaced(
        self, world: World
    ) -> None:
        data = [
            row(phone="+919812345670", notes="fine"),
            row(phone="+919812345671", notes="bad\x00note", campaign="x\x1by"),
        ]
        job = world.core.imports.run_file(ListSource(HEADER, data), principal=ADMIN)
        assert job.status is ImportStatus.COMPLETED
        assert (job.created, job.failed) == (1, 1)
        (error,) = world.core.imports.errors(job.id, principal=ADMIN)
        assert {p.code for p in error.problems} == {"control_character"}
        assert {p.column for p in error.problems} == {"notes", "Campaign"}
        assert error.raw_row["notes"] == "bad\ufffdnote"

    def test_an_import_header_with_a_control_character_is_a_file_level_error(
        self, world: World
    ) -> None:
        header = (*HEADER[:-1], "Camp\x00aign")
        world.refused(
            lambda: world.core.imports.run_file(ListSource(header, [row()]), principal=ADMIN),
            "file.header[10]",
        )


class TestMetadata:
    @pytest.mark.parametrize(
        ("metadata", "field"),
        [
            ({f"k{i}": "v" for i in range(51)}, "metadata"),
            ({"k" * 101: "v"}, "metadata." + "k" * 100),
            ({"": "v"}, "metadata"),
            ({"k": "v" * 1001}, "metadata.k"),
            ({"k": 12}, "metadata.k"),
            ({"k": None}, "metadata.k"),
            ({1: "v"}, "metadata.int"),
            ("k=v", "metadata"),
        ],
    )
    def test_booking_metadata_follows_the_one_rule(
        self, world: World, metadata: object, field: str
    ) -> None:
        world.refused(
            lambda: world.core.bookings.book(world.request(metadata=metadata), principal=ADMIN),
            field,
        )

    def test_the_largest_metadata_is_stored_and_read_back(self, world: World) -> None:
        metadata = {f"{i:02d}" + "k" * 98: "v" * 1000 for i in range(50)}
        booking = world.core.bookings.book(world.request(metadata=metadata), principal=ADMIN)
        assert world.core.bookings.get(booking.id, principal=ADMIN).metadata == metadata

    def test_transition_metadata_follows_the_same_rule(self, world: World) -> None:
        booking = world.core.bookings.book(world.request(), principal=ADMIN)
        world.refused(
            lambda: world.core.bookings.transition(
                booking.id, "confirmed", principal=ADMIN, metadata={"k": "a\x00b"}
            ),
            "metadata.k",
        )
        assert world.core.bookings.get(booking.id, principal=ADMIN).status == "pending"

    def test_import_rows_whose_extra_columns_break_the_rule_fail(self, world: World) -> None:
        job = world.core.imports.run_file(
            ListSource(HEADER, [row(campaign="v" * 1001)]), principal=ADMIN
        )
        assert (job.created, job.failed) == (1, 0)  # long cells are cut to 1,000 characters
        header = (*HEADER, *(f"Extra {i}" for i in range(50)))
        data = [(*row(phone="+919812345679", campaign="c"), *("x" for _ in range(50)))]
        job = world.core.imports.run_file(ListSource(header, data), principal=ADMIN)
        assert (job.created, job.failed) == (0, 1)
        (error,) = world.core.imports.errors(job.id, principal=ADMIN)
        assert error.problems[0].code == "too_many"


class TestItemDatesAndTotals:
    """Line items: service dates within bounds and spans, totals Money holds (docs/travel.md)."""

    def item(self, **fields: object) -> BookedItem:
        values: dict[str, object] = {
            "kind": "hotel",
            "description": "Lakeside hotel",
            "quantity": 1,
            "unit_price": Money("3000", "INR"),
        }
        return BookedItem(**(values | fields))  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("fields", "field", "code"),
        [
            (
                {"service_starts_on": date(1, 1, 1), "service_ends_on": date(9999, 12, 31)},
                "items[0].service_starts_on",
                "out_of_range",
            ),
            ({"service_ends_on": date(9999, 12, 31)}, "items[0].service_ends_on", "out_of_range"),
            (
                {"service_starts_on": date(2026, 2, 1), "service_ends_on": date(2126, 2, 1)},
                "items[0].service_ends_on",
                "too_long",
            ),
            (
                {"service_starts_on": date(2026, 2, 1), "service_ends_on": date(2026, 1, 31)},
                "items[0].service_ends_on",
                "before_start",
            ),
            (
                {"quantity": 10_000, "unit_price": Money("999999999999", "INR")},
                "items[0].quantity",
                "out_of_range",
            ),
            ({"quantity": -1}, "items[0].quantity", "out_of_range"),
        ],
    )
    def test_absurd_items_are_refused_on_their_field_and_nothing_is_booked(
        self, world: World, fields: dict[str, object], field: str, code: str
    ) -> None:
        error = world.refused(
            lambda: world.core.bookings.book(
                world.request(items=[self.item(**fields)]), principal=ADMIN
            ),
            field,
        )
        assert [e.code for e in error.errors] == [code]

    def test_quotation_lines_follow_the_same_rules(self, world: World) -> None:
        def quote(**fields: object) -> object:
            line: dict[str, object] = {
                "kind": "hotel",
                "description": "Lakeside hotel",
                "quantity": 1,
                "unit_price": Money("3000", "INR"),
            }
            return world.core.quotations.create(
                QuotationRequest(
                    customer_id=world.customer.id,
                    slot_id=world.slot.id,
                    travelers=1,
                    valid_until=world.clock.now().date() + timedelta(days=5),
                    lines=[QuoteLine(**(line | fields))],  # type: ignore[arg-type]
                ),
                principal=ADMIN,
            )

        world.refused(
            lambda: quote(service_starts_on=date(2026, 2, 1), service_ends_on=date(2526, 2, 1)),
            "lines[0].service_ends_on",
        )
        world.refused(lambda: quote(service_starts_on=date(1, 1, 1)), "lines[0].service_starts_on")
        world.refused(
            lambda: quote(quantity=10_000, unit_price=Money("999999999999", "INR")),
            "lines[0].quantity",
        )

    def test_the_longest_stay_is_planned_day_by_day(self, world: World) -> None:
        starts = world.slot.starts_at.date()
        stay = self.item(
            service_starts_on=starts, service_ends_on=starts + timedelta(days=MAX_SERVICE_DAYS - 1)
        )
        booking = world.core.bookings.book(world.request(items=[stay]), principal=ADMIN)
        plan = world.core.itineraries.generate(booking.id, principal=ADMIN)
        assert len(plan.days) == MAX_SERVICE_DAYS

    def test_a_move_that_would_push_item_dates_out_of_range_is_refused_whole(
        self, world: World
    ) -> None:
        starts = world.slot.starts_at.date() + timedelta(days=10)
        booking = world.core.bookings.book(
            world.request(items=[self.item(service_starts_on=starts)]), principal=ADMIN
        )
        far = world.core.catalog.create_slot(
            location_id=world.camp.id,
            starts_at=datetime(2999, 12, 30, tzinfo=UTC),
            price_per_traveler=Money("8500", "INR"),
            capacity=10,
            principal=ADMIN,
        )
        world.refused(
            lambda: world.core.bookings.reschedule(booking.id, far.id, principal=ADMIN), "slot_id"
        )
        kept = world.core.bookings.get(booking.id, principal=ADMIN)
        assert (kept.slot_id, kept.version) == (world.slot.id, booking.version)
        (item,) = world.core.items.for_booking(booking.id, principal=ADMIN)
        assert (item.service_starts_on, item.version) == (starts, 1)


class TestSlotTimes:
    """Slot times fall on the days items' service dates may (docs/security.md, "Limits")."""

    def create(self, world: World, starts_at: datetime, ends_at: datetime | None = None) -> Slot:
        return world.core.catalog.create_slot(
            location_id=world.camp.id,
            starts_at=starts_at,
            ends_at=ends_at,
            price_per_traveler=Money("8500", "INR"),
            capacity=10,
            principal=ADMIN,
        )

    @pytest.mark.parametrize(
        ("starts_at", "ends_at", "field", "code"),
        [
            (datetime(9999, 12, 30, tzinfo=UTC), None, "starts_at", "out_of_range"),
            (datetime(1, 1, 1, tzinfo=UTC), None, "starts_at", "out_of_range"),
            (datetime(1899, 12, 31, 23, 59, tzinfo=UTC), None, "starts_at", "out_of_range"),
            (datetime(3000, 1, 1, tzinfo=UTC), None, "starts_at", "out_of_range"),
            (
                datetime(2999, 12, 31, 20, tzinfo=UTC),
                datetime(3000, 1, 1, 2, tzinfo=UTC),
                "ends_at",
                "out_of_range",
            ),
            (
                datetime(2026, 3, 1, tzinfo=UTC),
                datetime(9999, 12, 31, tzinfo=UTC),
                "ends_at",
                "out_of_range",
            ),
            (
                datetime(2026, 3, 1, 9, tzinfo=UTC),
                datetime(2026, 3, 1, 8, tzinfo=UTC),
                "ends_at",
                "before_start",
            ),
            (
                datetime(2026, 3, 1, 9, tzinfo=UTC),
                datetime(2026, 3, 1, 9, tzinfo=UTC),
                "ends_at",
                "before_start",
            ),
            (
                datetime(2026, 3, 1, tzinfo=UTC),
                datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=MAX_SERVICE_DAYS, seconds=1),
                "ends_at",
                "too_long",
            ),
        ],
    )
    def test_a_slot_out_of_bounds_is_refused_on_its_field_and_nothing_is_made(
        self,
        world: World,
        starts_at: datetime,
        ends_at: datetime | None,
        field: str,
        code: str,
    ) -> None:
        error = world.refused(lambda: self.create(world, starts_at, ends_at), field)
        assert [e.code for e in error.errors] == [code]

    def test_a_time_on_the_last_day_in_utc_but_later_in_its_own_zone_is_refused(
        self, world: World
    ) -> None:
        moment = datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=5)))
        error = world.refused(lambda: self.create(world, moment), "starts_at")
        assert [e.code for e in error.errors] == ["out_of_range"]

    def test_the_first_and_last_days_and_the_longest_slot_are_accepted(self, world: World) -> None:
        first = datetime.combine(MIN_SERVICE_DATE, time(), tzinfo=UTC)
        last = datetime.combine(MAX_SERVICE_DATE, time(23, 59, 59), tzinfo=UTC)
        assert self.create(world, first).starts_at == first
        assert self.create(world, last - timedelta(hours=1), last).ends_at == last
        longest = first + timedelta(days=MAX_SERVICE_DAYS)
        assert self.create(world, first, longest).ends_at == longest

    def test_a_slot_stored_before_the_bounds_still_loads(
        self, world: World, store: MemoryStore | SqlStore
    ) -> None:
        old = Slot(
            id=SlotId(UUID("00000000-0000-0000-0000-0000000099ff")),
            location_id=world.camp.id,
            starts_at=datetime(9999, 12, 30, tzinfo=UTC),
            ends_at=datetime(9999, 12, 31, tzinfo=UTC),
            price_per_traveler=Money("8500", "INR"),
            created_at=world.clock.now(),
            capacity=10,
        )
        with store.unit_of_work() as uow:
            uow.slots.add(old)
            uow.commit()
        read = world.core.catalog.get_slot(old.id, principal=ADMIN)
        assert (read.starts_at, read.ends_at) == (old.starts_at, old.ends_at)
        assert old.id in {s.id for s in world.core.catalog.list_slots(principal=ADMIN)}

    @pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "31-12-3000", "1899-12-31"])
    def test_an_import_row_dated_out_of_bounds_fails_on_booking_date(
        self, world: World, day: str
    ) -> None:
        data = [row(phone="+919812345670"), row(phone="+919812345671", date=day)]
        job = world.core.imports.run_file(ListSource(HEADER, data), principal=ADMIN)
        assert (job.created, job.failed) == (1, 1)
        (error,) = world.core.imports.errors(job.id, principal=ADMIN)
        assert [(p.column, p.code) for p in error.problems] == [("booking_date", "out_of_range")]
