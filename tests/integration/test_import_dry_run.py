"""A dry run and a preview promise exactly what the real import then does, row by row.

They go through the same booking aggregate as the real run, against what is
stored plus what the earlier rows of the same file would hold (seats, customers,
bookings by external id or fingerprint), in a transaction that is never committed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests._sqlite import sqlite_memory_store
from tests.integration._sources import ListSource

from bookingcore import (
    BookingCore,
    BookingFilter,
    ImportSettings,
    Money,
    PageRequest,
    Principal,
    StaffId,
    StaffRole,
)
from bookingcore.domain import Booking, ImportStatus, Slot
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
HEADER = ("customer_name", "customer_phone", "dealer_code", "booking_date", "slot_id",
          "external_id", "status", "notes", "customer_email")  # fmt: skip
WHEN = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)


@attrs.frozen
class Dealers:
    core: BookingCore
    slots: dict[str, Slot]


def _dealers(store: MemoryStore | SqlStore, *, waiting: bool = False) -> Dealers:
    core = BookingCore(uow_factory=store.unit_of_work, clock=FixedClock(), ids=SequentialIds())
    one = core.catalog.add_location("DL01", "Dealer One", principal=ADMIN)
    two = core.catalog.add_location("DL02", "Dealer Two", principal=ADMIN)

    def slot(location_id: object, capacity: int) -> Slot:
        return core.catalog.create_slot(
            location_id=location_id,  # type: ignore[arg-type]
            starts_at=WHEN,
            price_per_traveler=Money("0", "INR"),
            capacity=capacity,
            principal=ADMIN,
        )

    # A customer on file whose email rows may name with another phone, or alone.
    core.customers.register("+919899999999", principal=ADMIN, email="known@example.com")
    slots = {"three": slot(one.id, 3), "one": slot(one.id, 1), "far": slot(two.id, 2)}
    # Rows' customers 2 and 3 wait on "three" for two seats: 2 is offered them (held),
    # 3 waits. A row booking them ends their entry (2's row books a held seat and frees
    # the other); seats rows free are offered only after the last row.
    for n, seats in ((2, 2), (3, 2)) if waiting else ():
        joined = core.customers.register(f"+9198{n:08d}", principal=ADMIN, name=f"Customer {n}")
        core.waitlists.join(
            slots["three"].id, principal=ADMIN, customer_id=joined.customer.id, seats=seats
        )
    return Dealers(core, slots)


def _row(
    n: int,
    *,
    slot: Slot | None = None,
    external_id: str = "",
    status: str = "",
    notes: str = "",
    email: str = "",
    with_phone: bool = True,
) -> tuple[str, ...]:
    return (
        f"Customer {n}",
        f"+9198{n:08d}" if with_phone else "",
        "DL01",
        "2026-03-05T10:00:00",
        "" if slot is None else str(slot.id),
        external_id,
        status,
        notes,
        email,
    )


@attrs.frozen
class Outcome:
    """Per row: its action and first problem code; plus the counts."""

    errors: dict[int, str]
    created: int
    updated: int
    skipped: int


def _bookings(core: BookingCore) -> list[Booking]:
    return list(core.bookings.list(BookingFilter(), principal=ADMIN, page=PageRequest(limit=500)))


def _dry_run(
    core: BookingCore, source: ListSource, settings: ImportSettings | None = None
) -> Outcome:
    plan = core.imports.dry_run(source, principal=ADMIN, settings=settings)
    errors = {number: problems[0].code for number, _, problems in plan.errors}
    return Outcome(errors, plan.would_create, plan.would_update, plan.would_skip)


def _preview(
    core: BookingCore, source: ListSource, settings: ImportSettings | None = None
) -> Outcome:
    preview = core.imports.preview(
        source, principal=ADMIN, limit=len(source.data), settings=settings
    )
    actions = [r.action for r in preview.rows]
    errors = {r.number: r.problems[0].code for r in preview.rows if r.problems}
    return Outcome(errors, actions.count("create"), actions.count("update"), actions.count("skip"))


def _real(core: BookingCore, source: ListSource, settings: ImportSettings | None = None) -> Outcome:
    job = core.imports.run_file(source, principal=ADMIN, settings=settings)
    assert job.status is ImportStatus.COMPLETED
    errors = {
        e.row_number: e.problems[0].code for e in core.imports.errors(job.id, principal=ADMIN)
    }
    return Outcome(errors, job.created, job.updated, job.skipped)


@pytest.fixture
def store(any_store: MemoryStore | SqlStore) -> MemoryStore | SqlStore:
    return any_store


def test_a_dry_run_counts_seats_elsewhere_slots_and_repeats_as_the_real_run_will(
    store: MemoryStore | SqlStore,
) -> None:
    """Six rows on a 3-seat slot, a slot at another dealer, two identical rows:
    the dry run says 4 creates, 1 skip, 4 failures, and the run does exactly that."""
    dealers = _dealers(store)
    three, far = dealers.slots["three"], dealers.slots["far"]
    data = [_row(n, slot=three) for n in range(6)]
    data.append(_row(6, slot=far))
    data += [_row(7), _row(7)]
    source = ListSource(HEADER, data)

    dry = _dry_run(dealers.core, source)
    assert (dry.created, dry.updated, dry.skipped) == (4, 0, 1)
    assert dry.errors == {
        5: "capacity_exceeded",
        6: "capacity_exceeded",
        7: "capacity_exceeded",
        8: "slot_elsewhere",
    }
    assert _preview(dealers.core, source) == dry
    assert dealers.core.catalog.get_slot(three.id, principal=ADMIN).seats_held == 0

    assert _real(dealers.core, source) == dry
    assert dealers.core.catalog.get_slot(three.id, principal=ADMIN).seats_held == 3


def test_a_dry_run_writes_nothing(store: MemoryStore | SqlStore) -> None:
    dealers = _dealers(store)
    source = ListSource(HEADER, [_row(n, external_id=f"E{n}") for n in range(3)])
    _dry_run(dealers.core, source)
    _preview(dealers.core, source)
    again = _dry_run(dealers.core, source)
    assert (again.created, again.updated) == (3, 0)  # nothing was stored by the first passes

    one = dealers.slots["one"]
    dealers.core.imports.run_file(
        ListSource(HEADER, [_row(9, slot=one, external_id="E9")]), principal=ADMIN
    )
    cancel = ListSource(HEADER, [_row(9, slot=one, external_id="E9", status="cancelled")])
    plan = _dry_run(dealers.core, cancel)
    assert (plan.created, plan.updated) == (0, 1)
    assert dealers.core.catalog.get_slot(one.id, principal=ADMIN).seats_held == 1
    (stored,) = [b for b in _bookings(dealers.core) if b.external_id == "E9"]
    assert stored.status == "PENDING"


# --------------------------------------------------------------------------- generated files

_SLOTS = st.sampled_from([None, "three", "one", "far"])
# Appointment and travel states: each lifecycle reads the other's as invalid_status.
_STATUSES = st.sampled_from(
    ["", "pending", "assigned", "cancelled", "completed", "waitlisted",
     "payment_pending", "payment_confirmed", "supplier_confirmed"]
)  # fmt: skip
# The stored customer's email (in another case), emails rows share, or none.
_EMAILS = st.sampled_from(["", "", "Known@Example.com", "a@example.com", "A@example.com"])
_ROWS = st.lists(
    st.tuples(
        st.integers(0, 4),  # customer
        _SLOTS,
        st.sampled_from(["", "", "E1", "E2", "E3"]),  # external id
        _STATUSES,
        st.sampled_from(["", "call back"]),  # notes
        _EMAILS,
        st.sampled_from([True, True, False]),  # with a phone
    ),
    min_size=1,
    max_size=14,
)
_LIFECYCLES = st.sampled_from(["appointment", "travel"])
# The run commits chunk by chunk; the dry run keeps the whole file in one booker.
_CHUNKS = st.sampled_from([1, 3, 500])

_Generated = tuple[int, str | None, str, str, str, str, bool]


def _file(dealers: Dealers, rows: list[_Generated]) -> ListSource:
    return ListSource(
        HEADER,
        [
            _row(n, slot=None if s is None else dealers.slots[s], external_id=e, status=st_,
                 notes=notes, email=email, with_phone=with_phone)
            for n, s, e, st_, notes, email, with_phone in rows
        ]
    )  # fmt: skip


def _equal_outcomes(
    make_store: Callable[[], MemoryStore | SqlStore],
    rows: list[object],
    lifecycle: str,
    chunk_size: int = 500,
) -> None:
    store = make_store()
    settings = ImportSettings(lifecycle=lifecycle, chunk_size=chunk_size)
    try:
        dealers = _dealers(store, waiting=True)
        source = _file(dealers, rows)  # type: ignore[arg-type]
        dry = _dry_run(dealers.core, source, settings)
        assert _preview(dealers.core, source, settings) == dry
        assert _real(dealers.core, source, settings) == dry
        # found by phone, then by email: no two customers share an email
        customers = dealers.core.customers.list(principal=ADMIN, page=PageRequest(limit=500))
        emails = [c.email.match_key for c in customers if c.email is not None]
        assert len(emails) == len(set(emails))
    finally:
        if isinstance(store, SqlStore):
            store.dispose()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_ROWS, lifecycle=_LIFECYCLES, chunk_size=_CHUNKS)
def test_on_generated_files_the_dry_run_and_preview_equal_the_real_run_in_memory(
    rows: list[object], lifecycle: str, chunk_size: int
) -> None:
    _equal_outcomes(MemoryStore, rows, lifecycle, chunk_size)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_ROWS, lifecycle=_LIFECYCLES, chunk_size=_CHUNKS)
def test_on_generated_files_the_dry_run_and_preview_equal_the_real_run_on_sqlite(
    rows: list[object], lifecycle: str, chunk_size: int
) -> None:
    def sqlite() -> SqlStore:
        return sqlite_memory_store()

    _equal_outcomes(sqlite, rows, lifecycle, chunk_size)
