"""Bulk import of bookings: every rule of seed 004, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests._sqlite import sqlite_file_store
from tests.integration._sources import ListSource

from bookingcore import (
    BookingCore,
    BookingFilter,
    BookingRequest,
    CustomerDetails,
    ImportSettings,
    InvalidTransitionError,
    Money,
    NewTraveler,
    PageRequest,
    PermissionDeniedError,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import BookingSource, ImportStatus, every_item
from bookingcore.services import BookedItem
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.importers import open_rows, write_error_csv
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
HEADER = (
    "Customer Name",
    "customer_phone",
    "Email",
    "dealer_code",
    "booking_date",
    "external_id",
    "car_variant",
    "advisor_email",
    "status",
    "notes",
    "Campaign",
)


def row(
    name: str = "Asha Rao",
    phone: str = "+919812345678",
    email: str = "",
    dealer: str = "DL01",
    date: str = "2026-03-05",
    external_id: str = "",
    variant: str = "",
    advisor: str = "",
    status: str = "",
    notes: str = "",
    campaign: str = "",
) -> tuple[str, ...]:
    return (
        name,
        phone,
        email,
        dealer,
        date,
        external_id,
        variant,
        advisor,
        status,
        notes,
        campaign,
    )


def phone(n: int) -> str:
    return f"+9198{n:08d}"


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStore | SqlStore]:
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "sqlite":
        sqlite = sqlite_file_store(tmp_path / "imports.db")
        yield sqlite
        sqlite.dispose()
    else:
        yield request.getfixturevalue("pg_store")


@pytest.fixture
def core(store: MemoryStore | SqlStore) -> BookingCore:
    core = BookingCore(uow_factory=store.unit_of_work, clock=FixedClock(), ids=SequentialIds())
    core.catalog.add_location("DL01", "Dealer One", principal=ADMIN)
    core.catalog.add_location("DL02", "Dealer Two", principal=ADMIN)
    core.catalog.add_product("CITY-VX", "City VX", "car_variant", principal=ADMIN)
    core.staff.add("ravi@dealer.example.com", "Ravi", principal=ADMIN, locations=["DL01"])
    core.staff.add("meera@dealer.example.com", "Meera", principal=ADMIN, locations=["DL02"])
    return core


def bookings(core: BookingCore) -> list[object]:
    return list(core.bookings.list(BookingFilter(), principal=ADMIN, page=PageRequest(limit=500)))


def test_a_clean_file_books_every_row_with_its_customer_slot_and_audit(core: BookingCore) -> None:
    source = ListSource(
        HEADER,
        [
            row(name=f"Customer {i}", phone=phone(i), dealer="dl01" if i % 2 else "DL02",
                date="05-03-2026", variant="city-vx", status="pending" if i % 3 else "ASSIGNED",
                campaign="diwali")
            for i in range(12)
        ],
    )  # fmt: skip
    job = core.imports.run_file(source, principal=ADMIN)

    assert job.status is ImportStatus.COMPLETED
    assert (job.total_rows, job.processed_rows, job.created, job.failed) == (12, 12, 12, 0)
    found = bookings(core)
    assert len(found) == 12
    first = found[0]
    assert first.source is BookingSource.IMPORT
    assert first.lifecycle == "appointment"
    assert {b.status for b in found} == {"PENDING", "ASSIGNED"}
    assert first.metadata == {"Campaign": "diwali"}
    assert first.product_id is not None
    trail = core.bookings.audit_trail(first.id, principal=ADMIN)
    assert [entry.action.value for entry in trail] == ["created"]
    assert "row" in (trail[0].reason or "")
    slot = core.catalog.get_slot(first.slot_id, principal=ADMIN)
    assert slot.capacity is None
    # seats held match the bookings on each slot
    per_slot: dict[object, int] = {}
    for booking in found:
        per_slot[booking.slot_id] = per_slot.get(booking.slot_id, 0) + 1
    for slot_id, count in per_slot.items():
        assert core.catalog.get_slot(slot_id, principal=ADMIN).seats_held == count


def test_every_bad_row_is_reported_with_column_value_and_message_and_the_rest_imports(
    core: BookingCore,
) -> None:
    data = [
        row(name="A"),  # name too short
        row(phone="12345"),  # not international
        row(email="not-an-email", phone=phone(2)),
        row(dealer="NOPE", phone=phone(3)),
        row(date="31-02-2026", phone=phone(4)),
        row(status="teleported", phone=phone(5)),
        row(advisor="ghost@dealer.example.com", phone=phone(6)),
        row(phone="", email="new@example.com"),  # nobody to find, no phone to register
        row(external_id="EXT-1", phone=phone(8)),
        row(external_id="EXT-1", phone=phone(9)),  # repeated in the file
        row(phone=phone(10), name="Good Row"),
    ]
    job = core.imports.run_file(ListSource(HEADER, data), principal=ADMIN)

    assert job.status is ImportStatus.COMPLETED
    assert (job.created, job.failed) == (2, 9)
    errors = core.imports.errors(job.id, principal=ADMIN)
    by_row = {e.row_number: e for e in errors}
    assert sorted(by_row) == [2, 3, 4, 5, 6, 7, 8, 9, 11]
    assert by_row[2].problems[0].column == "Customer Name"
    assert by_row[2].problems[0].value == "A"
    assert by_row[3].problems[0].code == "invalid_phone"
    assert by_row[3].problems[0].value == "12345"
    assert by_row[4].problems[0].column == "Email"
    assert by_row[5].problems[0].code == "unknown_dealer"
    assert by_row[6].problems[0].code == "invalid_date"
    assert by_row[7].problems[0].code == "invalid_status"
    assert by_row[8].problems[0].code == "unknown_advisor"
    assert by_row[9].problems[0].code == "unknown_customer"
    assert by_row[11].problems[0].code == "duplicate_in_file"
    assert "row 10" in by_row[11].message
    assert by_row[5].raw_row["dealer_code"] == "NOPE"
    assert job.error_summary["invalid_phone"] == 1
    assert sum(job.error_summary.values()) == 9


def test_a_missing_required_column_is_one_file_level_error_and_nothing_is_written(
    core: BookingCore,
) -> None:
    header = tuple(h for h in HEADER if h != "dealer_code")
    source = ListSource(header, [row()[:3] + row()[4:]])
    with pytest.raises(ValidationError) as caught:
        core.imports.run_file(source, principal=ADMIN)
    assert caught.value.errors[0].field == "file"
    assert caught.value.errors[0].code == "missing_column"
    assert "dealer_code" in str(caught.value)
    assert core.imports.list(principal=ADMIN).items == []


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("filename", "b" * 509 + ".csv", "too_long"),
        ("file_format", "xlsx-strict", "too_long"),
        ("filename", "bookings.csv\x00", "control_character"),
    ],
)
def test_a_file_name_or_format_a_store_cannot_keep_is_refused_alike_on_every_store(
    core: BookingCore, field: str, value: str, code: str
) -> None:
    # The name is the user's upload's (a browser sends any length, any character);
    # PostgreSQL refused it with a driver error while SQLite and memory stored it.
    source = ListSource(HEADER, [row()], **{field: value})
    with pytest.raises(ValidationError) as caught:
        core.imports.start(source, principal=ADMIN)
    assert [(e.field, e.code) for e in caught.value.errors] == [(field, code)]
    assert core.imports.list(principal=ADMIN).items == []
    fits = ListSource(HEADER, [row()], **{field: value[: len(value) - 1]})
    assert getattr(core.imports.start(fits, principal=ADMIN), field) == value[:-1]


def test_a_user_mapping_overrides_aliases(core: BookingCore) -> None:
    header = ("Client", "Mobile No", "Branch", "When")
    source = ListSource(header, [("Asha Rao", phone(1), "DL01", "2026-03-05T10:30:00")])
    settings = ImportSettings(mapping={"Mobile No": "customer_phone", "When": "booking_date"})
    job = core.imports.run_file(source, principal=ADMIN, settings=settings)
    assert job.created == 1
    (booking,) = bookings(core)
    assert booking.starts_at.hour == 10
    with pytest.raises(ValidationError) as caught:
        core.imports.preview(
            source, principal=ADMIN, settings=ImportSettings(mapping={"Nope": "customer_phone"})
        )
    assert caught.value.errors[0].field == "mapping.Nope"


def test_external_ids_update_instead_of_duplicating(core: BookingCore) -> None:
    first = ListSource(HEADER, [row(external_id="EXT-9", phone=phone(1), notes="first")])
    core.imports.run_file(first, principal=ADMIN)
    again = ListSource(
        HEADER,
        [row(external_id="EXT-9", phone=phone(1), status="assigned", notes="second")],
    )
    job = core.imports.run_file(again, principal=ADMIN)
    assert (job.created, job.updated, job.failed) == (0, 1, 0)
    (booking,) = bookings(core)
    assert booking.status == "ASSIGNED"
    assert booking.internal_notes == "second"
    history = core.bookings.history(booking.id, principal=ADMIN)
    assert [(e.from_status, e.to_status) for e in history] == [
        (None, "PENDING"),
        ("PENDING", "ASSIGNED"),
    ]
    # the same row a third time changes nothing: skipped
    job = core.imports.run_file(again, principal=ADMIN)
    assert (job.created, job.updated, job.skipped) == (0, 0, 1)
    # a move the lifecycle forbids is a row error on the status cell
    bad = ListSource(HEADER, [row(external_id="EXT-9", phone=phone(1), status="completed")])
    job = core.imports.run_file(bad, principal=ADMIN)
    (error,) = core.imports.errors(job.id, principal=ADMIN)
    assert error.problems[0].code == "invalid_transition"
    assert error.problems[0].column == "status"


def test_a_blank_status_starts_a_new_booking_in_the_initial_state_and_the_preview_says_so(
    core: BookingCore,
) -> None:
    source = ListSource(HEADER, [row(phone=phone(1)), row(phone=phone(2), status="assigned")])
    preview = core.imports.preview(source, principal=ADMIN)
    assert preview.defaults == {"status": "PENDING"}
    travel = core.imports.preview(
        source, principal=ADMIN, settings=ImportSettings(lifecycle="travel")
    )
    assert travel.defaults == {"status": "lead_created"}
    core.imports.run_file(source, principal=ADMIN)
    assert sorted(b.status for b in bookings(core)) == ["ASSIGNED", "PENDING"]


@pytest.mark.parametrize("status_column", [True, False])
def test_a_blank_status_cell_updating_a_booking_keeps_its_status(
    core: BookingCore, status_column: bool
) -> None:
    """A blank status (or no status column) used to move the booking back to the
    lifecycle's initial state: ASSIGNED -> PENDING was refused as invalid_transition,
    so a file updating only notes failed on every row."""
    first = ListSource(HEADER, [row(external_id="EXT-9", phone=phone(1), status="assigned")])
    core.imports.run_file(first, principal=ADMIN)
    update = row(external_id="EXT-9", phone=phone(1), notes="called back")
    keep = [i for i, name in enumerate(HEADER) if status_column or name != "status"]
    again = ListSource(tuple(HEADER[i] for i in keep), [tuple(update[i] for i in keep)])
    job = core.imports.run_file(again, principal=ADMIN)
    assert (job.created, job.updated, job.failed) == (0, 1, 0)
    (booking,) = bookings(core)
    assert (booking.status, booking.internal_notes) == ("ASSIGNED", "called back")
    history = core.bookings.history(booking.id, principal=ADMIN)
    assert [(e.from_status, e.to_status) for e in history] == [(None, "ASSIGNED")]


def test_a_row_does_not_write_back_to_the_booking_of_an_erased_customer(
    core: BookingCore,
) -> None:
    """Erasure drops a booking's internal notes; importing the old system's row for the
    booking again (its external id) used to write them back. The row fails at its
    external id and the booking stays as erasure left it."""
    source = ListSource(
        HEADER, [row(phone=phone(1), external_id="OLD-1", notes="Asha, 12 Park Road")]
    )
    core.imports.run_file(source, principal=ADMIN)
    (booking,) = bookings(core)
    core.privacy.erase_customer(booking.customer_id, principal=ADMIN, reason="request")  # type: ignore[attr-defined]
    again = ListSource(
        HEADER,
        [row(phone=phone(1), external_id="OLD-1", status="assigned", notes="Asha, 12 Park Road")],
    )
    plan = core.imports.dry_run(again, principal=ADMIN)
    job = core.imports.run_file(again, principal=ADMIN)
    assert (plan.would_update, plan.failed) == (0, 1)
    assert (job.updated, job.failed) == (0, 1)
    (error,) = core.imports.errors(job.id, principal=ADMIN)
    assert [(p.code, p.column) for p in error.problems] == [("erased_customer", "external_id")]
    (kept,) = bookings(core)
    assert kept.internal_notes is None  # type: ignore[attr-defined]
    assert kept.status == booking.status  # type: ignore[attr-defined]


def test_erasure_clears_the_raw_cells_of_failed_rows_that_name_the_customer(
    core: BookingCore,
) -> None:
    """A failed row keeps its raw cells for the error report and retries; rows naming
    an erased customer (their phone, email or external id) lose them."""
    source = ListSource(HEADER, [row(phone=phone(1), external_id="OLD-1")])
    core.imports.run_file(source, principal=ADMIN)
    (booking,) = bookings(core)
    bad = ListSource(
        HEADER,
        [
            row(phone=phone(1), date="5th of March", notes="Asha, 12 Park Road"),
            row(name="Meera Iyer", phone=phone(2), date="5th of March", notes="Meera, Pune"),
        ],
    )
    job = core.imports.run_file(bad, principal=ADMIN)
    assert job.failed == 2

    core.privacy.erase_customer(booking.customer_id, principal=ADMIN)  # type: ignore[attr-defined]

    first, second = core.imports.errors(job.id, principal=ADMIN)
    shown = repr(first)
    for secret in ("Asha", "Park Road", phone(1)):
        assert secret not in shown
    assert "Meera, Pune" in repr(second)  # another customer's row is left alone


def test_a_row_cannot_create_a_booking_in_a_state_that_follows_from_money(
    core: BookingCore,
) -> None:
    """The travel lifecycle's ``payment_confirmed`` and ``refunded`` follow from payments
    only; an import row moving a booking there was refused, but a row creating one
    there made a paid booking without any payment. Both rows now fail at their status."""
    source = ListSource(
        HEADER,
        [
            row(phone=phone(1), status="payment_confirmed"),
            row(phone=phone(2), status="Refunded"),
            row(phone=phone(3), status="booking_created"),
        ],
    )
    settings = ImportSettings(lifecycle="travel")
    plan = core.imports.dry_run(source, principal=ADMIN, settings=settings)
    assert (plan.would_create, plan.failed) == (1, 2)
    job = core.imports.run_file(source, principal=ADMIN, settings=settings)
    assert (job.created, job.failed) == (1, 2)
    errors = core.imports.errors(job.id, principal=ADMIN)
    assert [(p.code, p.column) for e in errors for p in e.problems] == [
        ("money_state", "status"),
        ("money_state", "status"),
    ]
    assert [b.status for b in bookings(core)] == ["booking_created"]  # type: ignore[attr-defined]


def test_a_row_cannot_create_a_booking_in_a_state_only_a_payment_leads_to(
    core: BookingCore,
) -> None:
    """A travel booking reaches ``supplier_confirmed``, ``documents_generated`` and
    ``completed`` only through ``payment_confirmed``, which only a payment moves it to.
    A row creating one there made a booking past its payment without any payment; it
    now fails at its status (``after_money_state``), in the preview and dry run too.
    States reached by hand from the start (``cancelled`` included) still import."""
    statuses = [
        "supplier_confirmed", "Documents_Generated", "completed",
        "lead_created", "quotation_approved", "payment_pending", "cancelled",
    ]  # fmt: skip
    source = ListSource(
        HEADER, [row(phone=phone(n), status=status) for n, status in enumerate(statuses)]
    )
    settings = ImportSettings(lifecycle="travel")
    preview = core.imports.preview(source, principal=ADMIN, settings=settings)
    assert [r.action for r in preview.rows] == ["error"] * 3 + ["create"] * 4
    plan = core.imports.dry_run(source, principal=ADMIN, settings=settings)
    assert (plan.would_create, plan.failed) == (4, 3)
    job = core.imports.run_file(source, principal=ADMIN, settings=settings)
    assert (job.created, job.failed) == (4, 3)
    errors = core.imports.errors(job.id, principal=ADMIN)
    found = [(e.row_number, p.code, p.column, p.value) for e in errors for p in e.problems]
    assert found == [
        (2, "after_money_state", "status", "supplier_confirmed"),
        (3, "after_money_state", "status", "documents_generated"),  # as the lifecycle names it
        (4, "after_money_state", "status", "completed"),
    ]
    assert [r.problems for r in preview.rows[:3]] == [e.problems for e in errors]
    assert sorted(b.status for b in bookings(core)) == [  # type: ignore[attr-defined]
        "cancelled", "lead_created", "payment_pending", "quotation_approved",
    ]  # fmt: skip


def test_a_row_cannot_move_a_booking_to_supplier_confirmed_while_an_item_waits(
    core: BookingCore,
) -> None:
    """``core.bookings.transition`` refuses ``supplier_confirmed`` while a line item waits
    for its supplier (``items_unconfirmed``); a row naming the paid booking by external
    id moved it there. It now fails at its status, in the dry run too (the supplier
    confirming the item moves the paid booking on by itself)."""
    location = core.catalog.list_locations(principal=ADMIN)[0]
    slot = core.catalog.create_slot(
        location_id=location.id,
        starts_at=datetime(2026, 3, 5, tzinfo=UTC),
        price_per_traveler=Money("100", "INR"),
        principal=ADMIN,
    )
    supplier = core.catalog.add_supplier("S1", "Supplier One", principal=ADMIN)
    booked = core.bookings.book(
        BookingRequest(
            slot_id=slot.id,
            travelers=[NewTraveler(TravelerDetails("Asha Rao"), is_primary=True)],
            customer=CustomerDetails(phone(1)),
            external_id="T1",
            lifecycle="travel",
            items=[
                BookedItem(
                    kind="hotel",
                    description="Hotel",
                    quantity=1,
                    unit_price=Money("50", "INR"),
                    supplier_id=supplier.id,
                )
            ],
        ),
        principal=ADMIN,
    )
    for status in ("quotation_sent", "quotation_approved", "booking_created", "payment_pending"):
        core.bookings.transition(booked.id, status, principal=ADMIN)
    total = core.bookings.get(booked.id, principal=ADMIN).total
    core.payments.record_manual_payment(booked.id, total, principal=ADMIN, reference="C1")
    assert core.bookings.get(booked.id, principal=ADMIN).status == "payment_confirmed"

    source = ListSource(
        HEADER, [row(phone=phone(1), external_id="T1", status="supplier_confirmed")]
    )
    settings = ImportSettings(lifecycle="travel")
    plan = core.imports.dry_run(source, principal=ADMIN, settings=settings)
    assert [p.code for _, _, problems in plan.errors for p in problems] == ["items_unconfirmed"]
    job = core.imports.run_file(source, principal=ADMIN, settings=settings)
    assert (job.updated, job.failed) == (0, 1)
    errors = core.imports.errors(job.id, principal=ADMIN)
    assert [(p.code, p.column) for e in errors for p in e.problems] == [
        ("items_unconfirmed", "status")
    ]
    assert core.bookings.get(booked.id, principal=ADMIN).status == "payment_confirmed"


def test_a_row_whose_metadata_overflows_the_booking_it_updates_changes_nothing(
    core: BookingCore,
) -> None:
    """The booking keeps 45 metadata entries; the row adds 10 more and moves its status.
    The merged metadata breaks the 50-entry rule: the row failed, but only after the
    status move was written, and the move was committed with the chunk."""
    first = (*HEADER, *(f"Old {i}" for i in range(44)))
    core.imports.run_file(
        ListSource(first, [(*row(external_id="E1", campaign="c"), *("x",) * 44)]),
        principal=ADMIN,
    )
    (booking,) = bookings(core)
    assert len(booking.metadata) == 45  # type: ignore[attr-defined]
    second = (*HEADER, *(f"New {i}" for i in range(9)))
    data = [(*row(external_id="E1", status="cancelled", campaign="d"), *("y",) * 9)]
    job = core.imports.run_file(ListSource(second, data), principal=ADMIN)
    assert (job.updated, job.failed) == (0, 1)
    (kept,) = bookings(core)
    assert kept.status == booking.status  # type: ignore[attr-defined]
    assert kept.metadata == booking.metadata  # type: ignore[attr-defined]


def test_importing_the_same_file_twice_skips_every_row(core: BookingCore) -> None:
    source = ListSource(HEADER, [row(phone=phone(i), name=f"Person {i}") for i in range(5)])
    core.imports.run_file(source, principal=ADMIN)
    job = core.imports.run_file(source, principal=ADMIN)
    assert (job.created, job.skipped) == (0, 5)
    assert len(bookings(core)) == 5


def test_customers_are_found_by_phone_then_email(core: BookingCore) -> None:
    known = core.customers.register(
        phone(1), principal=ADMIN, name="Asha", email="asha@example.com"
    )
    source = ListSource(
        HEADER,
        [
            row(phone=phone(1), name="Asha Rao"),
            row(phone="", email="asha@EXAMPLE.COM", name="Asha Rao", date="2026-03-06"),
            row(phone=phone(2), email="new@example.com", name="New Person"),
        ],
    )
    job = core.imports.run_file(source, principal=ADMIN)
    assert job.created == 3
    found = bookings(core)
    owners = [b.customer_id for b in sorted(found, key=lambda b: b.starts_at)]
    assert owners.count(known.customer.id) == 2


@pytest.mark.parametrize("chunk_size", [1, 500])
def test_a_row_with_only_the_email_of_a_customer_an_earlier_row_registered_books_them(
    core: BookingCore, chunk_size: int
) -> None:
    """Row 2 registers Asha with her phone and email, row 3 names her by email only:
    the dry run and the run book both rows for her, whatever the chunk size (before,
    the dry run and a run with both rows in one chunk failed row 3 as ``unknown_customer``
    while a run with one row a chunk booked it)."""
    source = ListSource(
        HEADER,
        [
            row(phone=phone(1), email="Asha@Example.com"),
            row(phone="", email="asha@example.com", date="2026-03-06"),
        ],
    )
    settings = ImportSettings(chunk_size=chunk_size)
    plan = core.imports.dry_run(source, principal=ADMIN, settings=settings)
    assert (plan.would_create, plan.failed) == (2, 0)
    job = core.imports.run_file(source, principal=ADMIN, settings=settings)
    assert (job.created, job.failed) == (2, 0)
    assert len({b.customer_id for b in bookings(core)}) == 1


@pytest.mark.parametrize("chunk_size", [1, 500])
def test_a_row_with_an_unknown_phone_and_a_known_email_books_the_email_s_customer(
    core: BookingCore, chunk_size: int
) -> None:
    """As ``core.customers.identify`` does: by phone, then by email, and only then a new
    customer. Before, a row whose phone was not on file registered a second customer
    with the email of one already on file (or of one an earlier row registered)."""
    known = core.customers.register(
        phone(1), principal=ADMIN, name="Asha", email="asha@example.com"
    )
    source = ListSource(
        HEADER,
        [
            row(phone=phone(9), email="ASHA@example.com"),  # Asha, by email
            row(phone=phone(2), email="ravi@example.com", name="Ravi Kumar"),  # new
            row(phone=phone(3), email="Ravi@Example.com", name="Ravi Kumar", date="2026-03-06"),
            row(phone=phone(1), email="other@example.com", date="2026-03-07"),  # phone wins
        ],
    )
    settings = ImportSettings(chunk_size=chunk_size)
    preview = core.imports.preview(source, principal=ADMIN, settings=settings)
    assert [r.action for r in preview.rows] == ["create"] * 4
    plan = core.imports.dry_run(source, principal=ADMIN, settings=settings)
    assert (plan.would_create, plan.failed) == (4, 0)
    job = core.imports.run_file(source, principal=ADMIN, settings=settings)
    assert (job.created, job.failed) == (4, 0)

    customers = list(core.customers.list(principal=ADMIN))
    assert len(customers) == 2
    owners = [b.customer_id for b in bookings(core)]  # type: ignore[attr-defined]
    ravi = next(c for c in customers if c.id != known.customer.id)
    assert owners.count(known.customer.id) == 2
    assert owners.count(ravi.id) == 2
    assert ravi.phone.e164 == phone(2)  # the phone on file wins; no customer has phone 3
    kept = core.customers.get(known.customer.id, principal=ADMIN)
    assert kept.email is not None
    assert (kept.phone.e164, kept.email.value) == (phone(1), "asha@example.com")


def test_preview_and_dry_run_write_nothing_and_confirm_does_not_read_the_file_again(
    core: BookingCore, store: MemoryStore | SqlStore
) -> None:
    data = [row(phone=phone(i), name=f"Person {i}") for i in range(7)] + [row(dealer="X")]
    source = ListSource(HEADER, data)
    preview = core.imports.preview(source, principal=ADMIN, limit=3)
    assert [r.number for r in preview.rows] == [2, 3, 4]
    assert preview.mapping["customer_name"] == "Customer Name"
    assert preview.extra_columns == ("Campaign",)
    assert {r.action for r in preview.rows} == {"create"}
    plan = core.imports.dry_run(source, principal=ADMIN)
    assert (plan.total, plan.would_create, plan.failed) == (8, 7, 1)
    assert bookings(core) == []
    assert core.imports.list(principal=ADMIN).items == []
    reads = source.reads
    job = core.imports.confirm(plan, source, principal=ADMIN)
    assert source.reads == reads
    assert (job.created, job.failed) == (7, 1)
    changed = ListSource(HEADER, [*data, row(phone=phone(99))])
    with pytest.raises(ValidationError) as caught:
        core.imports.confirm(plan, changed, principal=ADMIN)
    assert caught.value.errors[0].code == "file_changed"


class CrashError(Exception):
    pass


def test_a_crash_between_chunks_resumes_without_duplicates_and_with_the_same_counts(
    store: MemoryStore | SqlStore, core: BookingCore
) -> None:
    data = [row(phone=phone(i), name=f"Person {i}", external_id=f"E{i % 23}") for i in range(60)]
    data[7] = row(dealer="NOPE", phone=phone(7))
    source = ListSource(HEADER, data)
    settings = ImportSettings(chunk_size=10)
    job = core.imports.start(source, principal=ADMIN, settings=settings)

    def crash_after_three(current: object) -> None:
        if current.processed_rows == 30:  # type: ignore[attr-defined]
            raise CrashError

    with pytest.raises(CrashError):
        core.imports.run(job.id, source, principal=ADMIN, progress=crash_after_three)
    halfway = core.imports.get(job.id, principal=ADMIN)
    assert (halfway.status, halfway.processed_rows) == (ImportStatus.PROCESSING, 30)
    resumed = core.imports.run(job.id, source, principal=ADMIN)

    # the same file imported in one go elsewhere gives the same counts
    other = BookingCore(
        uow_factory=MemoryStore().unit_of_work, clock=FixedClock(), ids=SequentialIds()
    )
    other.catalog.add_location("DL01", "Dealer One", principal=ADMIN)
    straight = other.imports.run_file(source, principal=ADMIN, settings=settings)
    counts = ("processed_rows", "created", "updated", "skipped", "failed")
    assert [getattr(resumed, c) for c in counts] == [getattr(straight, c) for c in counts]
    assert resumed.status is ImportStatus.COMPLETED
    # 23 distinct external ids; later repeats of an id fail as in-file duplicates
    assert len(bookings(core)) == len(bookings(other)) == 23
    assert resumed.failed == straight.failed == 60 - 23


def test_cancel_stops_between_chunks_and_keeps_committed_chunks(core: BookingCore) -> None:
    source = ListSource(HEADER, [row(phone=phone(i), name=f"P {i}") for i in range(30)])
    job = core.imports.start(source, principal=ADMIN, settings=ImportSettings(chunk_size=10))

    def cancel_after_first(current: object) -> None:
        if current.status is ImportStatus.PROCESSING:  # type: ignore[attr-defined]
            core.imports.cancel(job.id, principal=ADMIN)

    done = core.imports.run(job.id, source, principal=ADMIN, progress=cancel_after_first)
    assert done.status is ImportStatus.CANCELLED
    assert (done.processed_rows, done.created) == (10, 10)
    assert len(bookings(core)) == 10
    with pytest.raises(InvalidTransitionError):
        core.imports.cancel(job.id, principal=ADMIN)
    pending = core.imports.start(source, principal=ADMIN)
    assert core.imports.cancel(pending.id, principal=ADMIN).status is ImportStatus.CANCELLED


def test_retry_imports_only_the_failed_rows(core: BookingCore) -> None:
    data = [row(phone=phone(i), name=f"P {i}") for i in range(5)]
    data[1] = row(dealer="DL03", phone=phone(1), name="P 1")
    data[3] = row(dealer="DL03", phone=phone(3), name="P 3")
    source = ListSource(HEADER, data)
    job = core.imports.run_file(source, principal=ADMIN)
    assert (job.created, job.failed) == (3, 2)
    core.catalog.add_location("DL03", "Dealer Three", principal=ADMIN)
    again = core.imports.retry(job.id, principal=ADMIN)
    assert (again.created, again.failed, again.status) == (5, 0, ImportStatus.COMPLETED)
    assert len(bookings(core)) == 5
    assert list(core.imports.errors(job.id, principal=ADMIN)) == []
    assert len(core.imports.errors(job.id, principal=ADMIN, unresolved_only=False)) == 2
    # retrying again with nothing left to fix changes nothing
    assert core.imports.retry(job.id, principal=ADMIN).created == 5


def test_retry_keeps_a_row_that_repeats_an_external_id_of_its_file_failing(
    core: BookingCore,
) -> None:
    """Row 3 repeats row 2's external id and row 4 names a missing dealer. Retrying after
    adding the dealer used to apply row 3 as an update of row 2's booking (here: cancel
    it); it stays a ``duplicate_in_file`` error, naming row 2, and only row 4 is booked."""
    source = ListSource(
        HEADER,
        [
            row(phone=phone(1), external_id="E1", notes="first"),
            row(phone=phone(1), external_id="E1", status="cancelled", notes="second"),
            row(phone=phone(3), dealer="DL03"),
        ],
    )
    job = core.imports.run_file(source, principal=ADMIN)
    assert (job.created, job.failed) == (1, 2)
    core.catalog.add_location("DL03", "Dealer Three", principal=ADMIN)
    again = core.imports.retry(job.id, principal=ADMIN)
    assert (again.created, again.updated, again.failed) == (2, 0, 1)
    (error,) = core.imports.errors(job.id, principal=ADMIN)
    assert (error.row_number, error.error_type) == (3, "duplicate_in_file")
    assert "row 2" in error.message
    first = next(b for b in bookings(core) if b.external_id == "E1")  # type: ignore[attr-defined]
    assert (first.status, first.internal_notes) == ("PENDING", "first")  # type: ignore[attr-defined]


def test_a_retried_xlsx_row_names_the_cell_of_its_column_in_the_file(core: BookingCore) -> None:
    """A retry rebuilds the file's columns from the stored rows; PostgreSQL keeps them
    as JSONB, which reorders keys, so the retried row's problem named another column's
    letter (``A4`` for the dealer in column D). The job keeps the file's header."""
    data = [row(phone=phone(1)), row(phone=phone(2), dealer="DL03", date="2026-03-07")]
    source = ListSource(HEADER, data, filename="bookings.xlsx", file_format="xlsx", has_cells=True)
    job = core.imports.run_file(source, principal=ADMIN)
    (error,) = core.imports.errors(job.id, principal=ADMIN)
    assert [(p.column, p.cell) for p in error.problems] == [("dealer_code", "D3")]
    core.imports.retry(job.id, principal=ADMIN)
    (error,) = core.imports.errors(job.id, principal=ADMIN)
    assert [(p.column, p.cell) for p in error.problems] == [("dealer_code", "D3")]


def test_retry_from_a_corrected_error_report(core: BookingCore) -> None:
    data = [row(phone=phone(1), name="P 1"), row(phone="555", name="P 2")]
    job = core.imports.run_file(ListSource(HEADER, data), principal=ADMIN)
    assert job.failed == 1
    corrected = ListSource(
        (*HEADER, "row", "column", "cell", "message"),
        [(*row(phone=phone(2), name="P 2"), "3", "customer_phone", "", "bad phone")],
    )
    again = core.imports.retry(job.id, principal=ADMIN, source=corrected)
    assert (again.created, again.failed) == (2, 0)


def test_capacity_applies_when_a_row_names_a_slot(core: BookingCore) -> None:
    location = core.catalog.location("DL01", principal=ADMIN)
    slot = core.catalog.create_slot(
        location_id=location.id,
        starts_at=core.context.now().replace(year=2030),
        price_per_traveler=Money("0", "INR"),
        capacity=2,
        principal=ADMIN,
    )
    header = (*HEADER, "slot_id")
    data = [(*row(phone=phone(i), name=f"P {i}"), str(slot.id)) for i in range(3)]
    job = core.imports.run_file(ListSource(header, data), principal=ADMIN)
    assert (job.created, job.failed) == (2, 1)
    (error,) = core.imports.errors(job.id, principal=ADMIN)
    assert error.problems[0].code == "capacity_exceeded" or "seat" in error.message
    assert core.catalog.get_slot(slot.id, principal=ADMIN).seats_held == 2


@pytest.mark.parametrize("strategy", ["round_robin", "least_loaded", "dealer_based"])
def test_an_import_can_assign_advisors_as_it_goes(core: BookingCore, strategy: str) -> None:
    data = [
        row(phone=phone(i), name=f"P {i}", dealer="DL01" if i < 6 else "DL02") for i in range(8)
    ]
    job = core.imports.run_file(
        ListSource(HEADER, data), principal=ADMIN, settings=ImportSettings(assignment=strategy)
    )
    assert job.created == 8
    advisors = {a.email.value: a.id for a in core.staff.list(principal=ADMIN)}
    assigned = [b.assignee_id for b in bookings(core)]
    assert None not in assigned
    if strategy == "dealer_based":
        for booking in bookings(core):
            dealer = core.catalog.location("DL01", principal=ADMIN)
            expected = (
                "ravi@dealer.example.com"
                if booking.location_id == dealer.id
                else "meera@dealer.example.com"
            )
            assert booking.assignee_id == advisors[expected]
    else:
        counts = [assigned.count(a) for a in advisors.values()]
        assert max(counts) - min(counts) <= 1


def test_only_staff_who_may_import_can(core: BookingCore) -> None:
    source = ListSource(HEADER, [row()])
    for who in (Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.STAFF),
                Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADVISOR)):  # fmt: skip
        with pytest.raises(PermissionDeniedError):
            core.imports.run_file(source, principal=who)


def _rows(job_errors: Sequence[object]) -> list[int]:
    return [e.row_number for e in job_errors]  # type: ignore[attr-defined]


def test_two_validation_workers_give_the_same_result_as_one(core: BookingCore) -> None:
    data = [
        row(name=f"Person {i}", phone=phone(i % 700), external_id=f"W{i % 1900}",
            date=f"{1 + i % 28:02d}-03-2026", status="pending" if i % 2 else "ASSIGNED")
        for i in range(2300)
    ]  # fmt: skip
    data[5] = row(phone="12345")
    data[1500] = row(date="31-02-2026")
    source = ListSource(HEADER, data)

    job = core.imports.run_file(source, principal=ADMIN, settings=ImportSettings(workers=2))

    serial = BookingCore(
        uow_factory=MemoryStore().unit_of_work, clock=FixedClock(), ids=SequentialIds()
    )
    serial.catalog.add_location("DL01", "Dealer One", principal=ADMIN)
    alone = serial.imports.run_file(source, principal=ADMIN, settings=ImportSettings(workers=1))
    counts = ("total_rows", "created", "updated", "skipped", "failed")
    assert [getattr(job, c) for c in counts] == [getattr(alone, c) for c in counts]
    # W1500 only appears on the bad row 1502; W5's first good row is i=1905
    assert job.created == 1900 - 1
    assert job.error_summary == alone.error_summary
    assert job.error_summary["duplicate_in_file"] == 2300 - 1900 - 1
    assert _rows(core.imports.errors(job.id, principal=ADMIN))[:3] == [7, 1502, 1902]


def test_a_chunk_redone_after_a_conflict_does_not_flag_its_own_rows_as_duplicates(
    store: MemoryStore | SqlStore, core: BookingCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bookingcore.errors import ConcurrentUpdateError  # noqa: PLC0415
    from bookingcore.services import imports as module  # noqa: PLC0415

    real_apply = module.ImportService._apply
    calls: list[int] = []

    def conflict_once(
        self: object, tx: object, run: object, chunk: list[object], v: object
    ) -> object:
        result = real_apply(self, tx, run, chunk, v)  # type: ignore[arg-type]
        calls.append(len(chunk))
        if len(calls) == 2:  # the second chunk loses a race once, after claiming its ids
            raise ConcurrentUpdateError("a seat was taken meanwhile", attempts=1)
        return result

    monkeypatch.setattr(module.ImportService, "_apply", conflict_once)
    data = [row(phone=phone(i), external_id=f"R{i}") for i in range(30)]
    job = core.imports.run_file(
        ListSource(HEADER, data), principal=ADMIN, settings=ImportSettings(chunk_size=10)
    )
    assert calls == [10, 10, 10, 10]
    assert (job.created, job.failed) == (30, 0)
    assert len(bookings(core)) == 30


def test_a_chunk_redone_after_a_conflict_assigns_advisors_as_the_first_attempt_would(
    core: BookingCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attempt that lost the race had already taken round-robin turns; the redo used
    to go on from there, so its rows went to other advisors than in a run without the race."""
    from bookingcore.errors import ConcurrentUpdateError  # noqa: PLC0415
    from bookingcore.services import imports as module  # noqa: PLC0415

    data = [row(phone=phone(i), external_id=f"R{i}") for i in range(7)]
    settings = ImportSettings(chunk_size=3, assignment="round_robin")
    real_apply = module.ImportService._apply
    calls: list[int] = []

    def conflict_once(
        self: object, tx: object, run: object, chunk: list[object], v: object
    ) -> object:
        result = real_apply(self, tx, run, chunk, v)  # type: ignore[arg-type]
        calls.append(len(chunk))
        if len(calls) == 2:
            raise ConcurrentUpdateError("a seat was taken meanwhile", attempts=1)
        return result

    monkeypatch.setattr(module.ImportService, "_apply", conflict_once)
    core.imports.run_file(ListSource(HEADER, data), principal=ADMIN, settings=settings)
    by_id = {b.external_id: b.assignee_id for b in bookings(core)}  # type: ignore[attr-defined]
    turns = [by_id[f"R{i}"] for i in range(7)]
    assert turns[0::2] == [turns[0]] * 4
    assert turns[1::2] == [turns[1]] * 3
    assert turns[0] != turns[1]


def test_a_file_whose_external_ids_spill_out_of_memory_flags_the_same_rows(
    core: BookingCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bookingcore.services import _external_ids  # noqa: PLC0415

    data = [
        row(name=f"Person {i}", phone=phone(i % 300), external_id=f"S{i % 400}") for i in range(520)
    ]
    data[3] = row(phone="12345", external_id="S3")  # a bad row claims nothing
    source = ListSource(HEADER, data)
    in_memory = BookingCore(
        uow_factory=MemoryStore().unit_of_work, clock=FixedClock(), ids=SequentialIds()
    )
    in_memory.catalog.add_location("DL01", "Dealer One", principal=ADMIN)
    kept = in_memory.imports.run_file(source, principal=ADMIN)

    monkeypatch.setattr(_external_ids, "SPILL_AFTER", 40)  # ~10 chunks' worth on disk
    spilled = core.imports.run_file(source, principal=ADMIN, settings=ImportSettings(chunk_size=50))

    counts = ("total_rows", "created", "updated", "skipped", "failed")
    assert [getattr(spilled, c) for c in counts] == [getattr(kept, c) for c in counts]
    assert (spilled.created, spilled.failed) == (400, 120)
    errors = core.imports.errors(spilled.id, principal=ADMIN).items
    assert _rows(errors)[:2] == [5, 402]  # row 5 is the bad phone; i=400 repeats S0
    assert "repeats the external id of row 2" in str(errors[1].problems[0].message)


def test_an_imported_booking_has_the_supplier_of_its_slot_s_product(core: BookingCore) -> None:
    """As a booking made at the desk: supplier views and reports find imported bookings."""
    supplier = core.catalog.add_supplier("SUP1", "Honda Cars", principal=ADMIN)
    product = core.catalog.add_product(
        "AMAZE", "Amaze", "car_variant", principal=ADMIN, supplier_id=supplier.id
    )
    location = core.catalog.location("DL01", principal=ADMIN)
    named = core.catalog.create_slot(
        location_id=location.id,
        starts_at=datetime(2026, 3, 6, 10, 0, tzinfo=UTC),
        price_per_traveler=Money("0", "INR"),
        capacity=4,
        product_id=product.id,
        principal=ADMIN,
    )
    header = (*HEADER, "slot_id")
    data = [
        (*row(phone=phone(1), name="P 1", variant="amaze"), ""),  # the slot the import opens
        (*row(phone=phone(2), name="P 2", date="2026-03-06T10:00"), str(named.id)),
        (*row(phone=phone(3), name="P 3", variant="city-vx"), ""),  # a product without one
        (*row(phone=phone(4), name="P 4"), ""),  # no product at all
    ]
    job = core.imports.run_file(ListSource(header, data), principal=ADMIN)
    assert (job.created, job.failed) == (4, 0)
    by_name = {
        core.customers.get(b.customer_id, principal=ADMIN).name: b.supplier_id
        for b in bookings(core)
    }
    assert by_name == {"P 1": supplier.id, "P 2": supplier.id, "P 3": None, "P 4": None}
    mine = core.bookings.list(BookingFilter(supplier_id=supplier.id), principal=ADMIN)
    assert len(mine.items) == 2


def test_a_row_naming_a_slot_no_longer_sold_is_refused_at_its_slot_cell(
    core: BookingCore,
) -> None:
    """As ``book`` refuses it (``BookingService.sold_at``): dry run, preview and run agree."""
    trek = core.catalog.add_product("OLD-VX", "Old VX", "car_variant", principal=ADMIN)
    location = core.catalog.location("DL01", principal=ADMIN)
    slot = core.catalog.create_slot(
        location_id=location.id,
        starts_at=datetime(2026, 3, 6, 10, 0, tzinfo=UTC),
        price_per_traveler=Money("0", "INR"),
        capacity=4,
        product_id=trek.id,
        principal=ADMIN,
    )
    core.catalog.set_product_active(trek.id, False, principal=ADMIN)
    header = (*HEADER, "slot_id")
    data = [
        (*row(phone=phone(1), name="P 1", date="2026-03-06T10:00"), str(slot.id)),
        (*row(phone=phone(2), name="P 2"), ""),
    ]
    source = ListSource(header, data)
    plan = core.imports.dry_run(source, principal=ADMIN)
    assert plan.would_create == 1
    (number, _, problems), *_ = plan.errors
    assert (number, [(p.code, p.column) for p in problems]) == (2, [("inactive", "slot_id")])
    preview = core.imports.preview(source, principal=ADMIN)
    assert [(r.action, [p.code for p in r.problems]) for r in preview.rows] == [
        ("error", ["inactive"]),
        ("create", []),
    ]
    job = core.imports.run_file(source, principal=ADMIN)
    assert (job.created, job.failed) == (1, 1)
    (error,) = core.imports.errors(job.id, principal=ADMIN)
    assert (error.row_number, error.problems[0].code, error.problems[0].column) == (
        2,
        "inactive",
        "slot_id",
    )
    assert core.catalog.get_slot(slot.id, principal=ADMIN).seats_held == 0
    assert len(bookings(core)) == 1


@pytest.mark.parametrize("own", ["message", "row", "Cell"])
def test_a_corrected_error_report_keeps_a_file_column_named_like_a_report_column(
    core: BookingCore, tmp_path: Path, own: str
) -> None:
    """A file may have its own ``message``, ``row`` or ``Cell`` column: the error report
    then names its own columns ``error_message`` and so on (or, for ``Cell``, ``cell``
    beside it), and a retry from the corrected report must read the report's row
    numbers and keep the file's column (it used to drop it, or read the row numbers
    from it)."""
    header = (*HEADER, own)
    data = [(*row(phone=phone(1), name="P 1"), "7"), (*row(phone="555", name="P 2"), "9")]
    job = core.imports.run_file(ListSource(header, data), principal=ADMIN)
    assert job.failed == 1
    report = tmp_path / "errors.csv"
    failed = every_item(lambda page: core.imports.errors(job.id, page, principal=ADMIN))
    write_error_csv(failed, header, report)
    text = report.read_text(encoding="utf-8-sig").replace(",555,", f",{phone(2)},")
    report.write_text(text, encoding="utf-8-sig")
    again = core.imports.retry(job.id, principal=ADMIN, source=open_rows(report))
    assert (again.created, again.failed) == (2, 0)
    retried = next(
        b
        for b in bookings(core)
        if b.metadata.get("Campaign") is None and b.metadata.get(own) == "9"
    )  # type: ignore[attr-defined]
    assert not any(name.startswith("error_") for name in retried.metadata)  # type: ignore[attr-defined]


def test_a_corrected_error_report_naming_a_failed_row_twice_is_refused(core: BookingCore) -> None:
    """Each line of a corrected report replaces the failed row it names: two lines naming
    one row booked both and counted the job's failures below zero (``failed == -1``)."""
    data = [row(phone=phone(1), name="P 1"), row(phone="555", name="P 2")]
    job = core.imports.run_file(ListSource(HEADER, data), principal=ADMIN)
    corrected = ListSource(
        (*HEADER, "row", "column", "cell", "message"),
        [
            (*row(phone=phone(2), name="P 2"), "3", "", "", ""),
            (*row(phone=phone(3), name="P 3"), "3", "", "", ""),
        ],
    )
    with pytest.raises(ValidationError) as refused:
        core.imports.retry(job.id, principal=ADMIN, source=corrected)
    assert (refused.value.errors[0].field, refused.value.errors[0].code) == (
        "file",
        "duplicate_row",
    )
    again = core.imports.get(job.id, principal=ADMIN)
    assert (again.status, again.created, again.failed) == (ImportStatus.COMPLETED, 1, 1)
    assert len(bookings(core)) == 1


def test_a_retry_of_a_cancelled_import_leaves_it_cancelled(core: BookingCore) -> None:
    """A retry replays the failed rows of the chunks that ran, never the rest of the
    file: a cancelled import whose failed rows were retried used to say COMPLETED,
    as if every row of its file had been imported."""
    data = [row(phone=phone(i) if i != 3 else "555", name=f"P {i}") for i in range(30)]
    source = ListSource(HEADER, data)
    job = core.imports.start(source, principal=ADMIN, settings=ImportSettings(chunk_size=10))

    def cancel_after_first(current: object) -> None:
        if current.status is ImportStatus.PROCESSING:  # type: ignore[attr-defined]
            core.imports.cancel(job.id, principal=ADMIN)

    done = core.imports.run(job.id, source, principal=ADMIN, progress=cancel_after_first)
    assert (done.status, done.created, done.failed) == (ImportStatus.CANCELLED, 9, 1)
    corrected = ListSource(
        (*HEADER, "row", "column", "cell", "message"),
        [(*row(phone=phone(3), name="P 3"), "5", "", "", "")],
    )
    again = core.imports.retry(job.id, principal=ADMIN, source=corrected)
    assert (again.status, again.created, again.failed) == (ImportStatus.CANCELLED, 10, 0)
    assert again.completed_at is not None
    assert len(bookings(core)) == 10


def test_a_row_refused_while_booking_keeps_its_advisor_and_variant_cells(
    core: BookingCore,
) -> None:
    """A row that passed validation but broke a booking rule is stored with its cells
    rebuilt from the valid row: its advisor and a variant naming a product were left
    blank, so the error report lost them and a retry booked it with neither."""
    first = row(phone=phone(1), variant="CITY-VX", advisor="ravi@dealer.example.com", notes="a")
    again = row(phone=phone(1), variant="City VX", advisor="Ravi@dealer.example.com", notes="b")
    job = core.imports.run_file(ListSource(HEADER, [first, again]), principal=ADMIN)
    assert (job.created, job.failed) == (1, 1)
    (error,) = core.imports.errors(job.id, principal=ADMIN)
    assert error.error_type == "duplicate"
    assert error.raw_row["car_variant"].casefold() in ("city-vx", "city vx")
    assert error.raw_row["advisor_email"].casefold() == "ravi@dealer.example.com"
    (booking,) = bookings(core)
    core.bookings.transition(booking.id, "CANCELLED", principal=ADMIN)  # type: ignore[attr-defined]
    retried = core.imports.retry(job.id, principal=ADMIN)
    assert (retried.created, retried.failed) == (2, 0)
    made = next(b for b in bookings(core) if b.id != booking.id)  # type: ignore[attr-defined]
    advisors = {a.email.value: a.id for a in core.staff.list(principal=ADMIN)}
    assert made.assignee_id == advisors["ravi@dealer.example.com"]  # type: ignore[attr-defined]
    assert made.product_id == booking.product_id  # type: ignore[attr-defined]


def test_least_loaded_counts_every_open_booking_of_the_advisor_whatever_its_lifecycle(
    core: BookingCore,
) -> None:
    """An appointment import weighs an advisor's open reservations too: the load is
    what ``advisor_workload`` counts as open, as for ``bookings.assign``."""
    advisors = {a.email.value: a.id for a in core.staff.list(principal=ADMIN)}
    ravi, meera = advisors["ravi@dealer.example.com"], advisors["meera@dealer.example.com"]
    first = core.imports.run_file(
        ListSource(HEADER, [row(phone=phone(1), advisor="meera@dealer.example.com")]),
        principal=ADMIN,
    )
    assert first.created == 1
    dealer = core.catalog.location("DL01", principal=ADMIN)
    slot = core.catalog.create_slot(
        location_id=dealer.id,
        starts_at=core.context.now().replace(year=2030),
        price_per_traveler=Money("0", "INR"),
        capacity=4,
        principal=ADMIN,
    )
    for n in (2, 3):
        customer = core.customers.register(phone(n), principal=ADMIN, name=f"P {n}").customer
        booking = core.bookings.book(
            BookingRequest(
                slot.id,
                [NewTraveler(TravelerDetails(f"P {n}"), is_primary=True)],
                customer_id=customer.id,
                lifecycle="reservation",
            ),
            principal=ADMIN,
        )
        core.bookings.assign(booking.id, principal=ADMIN, advisor_id=ravi)
    job = core.imports.run_file(
        ListSource(HEADER, [row(phone=phone(4), name="P 4")]),
        principal=ADMIN,
        settings=ImportSettings(assignment="least_loaded"),
    )
    assert job.created == 1
    imported = [b for b in bookings(core) if b.source is BookingSource.IMPORT]  # type: ignore[attr-defined]
    assert [b.assignee_id for b in imported] == [meera, meera]  # type: ignore[attr-defined]
    assert ravi not in {b.assignee_id for b in imported}  # type: ignore[attr-defined]


def test_round_robin_goes_on_from_the_turn_earlier_assignments_left(core: BookingCore) -> None:
    """Imports of one row each still take turns: an import starts from the turn
    ``bookings.assign`` would take (the bookings that have an advisor), not always
    from the first advisor."""
    advisors = sorted(a.id for a in core.staff.list(principal=ADMIN))
    for n in range(4):
        job = core.imports.run_file(
            ListSource(HEADER, [row(phone=phone(n), name=f"P {n}")]),
            principal=ADMIN,
            settings=ImportSettings(assignment="round_robin"),
        )
        assert job.created == 1
    assigned = [b.assignee_id for b in bookings(core)]  # type: ignore[attr-defined]
    assert sorted(assigned.count(a) for a in advisors) == [2, 2]
