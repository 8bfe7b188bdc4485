"""A stopped import resumed with ``run(job_id, source)`` ends exactly as an uninterrupted one."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests._sqlite import sqlite_memory_store
from tests.integration._sources import ListSource

from bookingcore import (
    BookingCore,
    BookingFilter,
    ImportSettings,
    PageRequest,
    Principal,
    StaffId,
    StaffRole,
    ValidationError,
)
from bookingcore.domain import ImportJob, ImportStatus
from bookingcore.ports.imports import RowSource
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.importers import open_rows
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
HEADER = ("customer_name", "customer_phone", "dealer_code", "booking_date", "external_id", "status")


class ProcessKilledError(Exception):
    """The process dies after a committed chunk."""


def _core(store: MemoryStore | SqlStore) -> BookingCore:
    core = BookingCore(uow_factory=store.unit_of_work, clock=FixedClock(), ids=SequentialIds())
    core.catalog.add_location("DL01", "Dealer One", principal=ADMIN)
    return core


def _row(n: int, external_id: str, *, valid: bool = True, status: str = "") -> tuple[str, ...]:
    phone = f"+9198{n:08d}" if valid else "not a phone"
    return (f"Customer {n}", phone, "DL01", "2026-03-05", external_id, status)


def _summary(core: BookingCore, job: ImportJob) -> tuple[object, ...]:
    errors = core.imports.errors(job.id, principal=ADMIN)
    return (
        job.status,
        job.created,
        job.updated,
        job.skipped,
        job.failed,
        tuple((e.row_number, e.error_type) for e in errors),
    )


def _uninterrupted(store: MemoryStore | SqlStore, source: RowSource) -> tuple[object, ...]:
    core = _core(store)
    job = core.imports.run_file(source, principal=ADMIN, settings=ImportSettings(chunk_size=2))
    return _summary(core, job)


def _stopped_after(
    store: MemoryStore | SqlStore, source: RowSource, chunks: int
) -> tuple[object, ...]:
    core = _core(store)
    job = core.imports.start(source, principal=ADMIN, settings=ImportSettings(chunk_size=2))
    done = 0

    def crash(_: ImportJob) -> None:
        nonlocal done
        done += 1
        if done == chunks:
            raise ProcessKilledError

    try:
        core.imports.run(job.id, source, principal=ADMIN, progress=crash)
    except ProcessKilledError:
        assert core.imports.get(job.id, principal=ADMIN).status is ImportStatus.PROCESSING
    resumed = core.imports.run(job.id, source, principal=ADMIN)
    return _summary(core, resumed)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def make_store(request: pytest.FixtureRequest) -> Callable[[], MemoryStore | SqlStore]:
    """Fresh stores of one backend (PostgreSQL: one schema, emptied each time)."""
    if request.param == "memory":
        return MemoryStore
    if request.param == "sqlite":

        def sqlite() -> SqlStore:
            return sqlite_memory_store()

        return sqlite
    emptied: Callable[[], SqlStore] = request.getfixturevalue("empty_pg_store")
    return emptied


def test_an_external_id_of_a_row_that_failed_validation_is_free_for_a_later_row(
    make_store: Callable[[], MemoryStore | SqlStore],
) -> None:
    """4 rows, chunk size 2, stopped after the first chunk: 2 created and 2 failed, as
    an uninterrupted run; before, the resumed run refused row 3 as a repeat of row 1."""
    source = ListSource(
        HEADER, [_row(1, "E1", valid=False), _row(2, "E2"), _row(3, "E1"), _row(4, "E2")]
    )
    expected = _uninterrupted(make_store(), source)
    assert expected[1:5] == (2, 0, 0, 2)
    assert _stopped_after(make_store(), source, 1) == expected


_ROWS = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.sampled_from(["", "E1", "E2", "E3"]),
        st.booleans(),
        st.sampled_from(["", "assigned", "cancelled"]),
    ),
    min_size=1,
    max_size=9,
)


def _check_every_boundary(
    make_store: Callable[[], MemoryStore | SqlStore], rows: list[tuple[int, str, bool, str]]
) -> None:
    source = ListSource(HEADER, [_row(n, e, valid=v, status=s) for n, e, v, s in rows])
    expected = _uninterrupted(make_store(), source)
    chunks = (len(rows) + 1) // 2
    for boundary in range(1, chunks):
        assert _stopped_after(make_store(), source, boundary) == expected, boundary


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_ROWS)
def test_resumed_at_every_chunk_boundary_equals_uninterrupted_in_memory(
    rows: list[tuple[int, str, bool, str]],
) -> None:
    _check_every_boundary(MemoryStore, rows)


@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_ROWS)
def test_resumed_at_every_chunk_boundary_equals_uninterrupted_on_sqlite(
    rows: list[tuple[int, str, bool, str]],
) -> None:
    def sqlite() -> SqlStore:
        return sqlite_memory_store()

    _check_every_boundary(sqlite, rows)


@pytest.mark.parametrize("strategy", ["round_robin", "least_loaded"])
def test_a_resumed_import_assigns_advisors_as_an_uninterrupted_one(
    make_store: Callable[[], MemoryStore | SqlStore], strategy: str
) -> None:
    """Advisors take turns from where the stopped run left off: the resumed run used to
    start round robin again at the first advisor, and least_loaded forgot the bookings
    it had given in states that hold no load (cancelled rows)."""
    statuses = ["", "cancelled", "cancelled", "", "", "cancelled", "", ""]
    source = ListSource(HEADER, [_row(n, f"E{n}", status=s) for n, s in enumerate(statuses)])
    settings = ImportSettings(chunk_size=2, assignment=strategy)

    def assignees(core: BookingCore) -> list[object]:
        found = core.bookings.list(BookingFilter(), principal=ADMIN, page=PageRequest(limit=50))
        emails = {a.id: a.email.value for a in core.staff.list(principal=ADMIN)}
        return [emails[b.assignee_id] for b in sorted(found, key=lambda b: b.external_id)]

    def staffed(core: BookingCore) -> BookingCore:
        for name in ("ana", "ben", "cy"):
            core.staff.add(f"{name}@dealer.example.com", name, principal=ADMIN, locations=["DL01"])
        return core

    straight = staffed(_core(make_store()))
    straight.imports.run_file(source, principal=ADMIN, settings=settings)
    expected = assignees(straight)
    for boundary in (1, 2, 3):
        core = staffed(_core(make_store()))
        job = core.imports.start(source, principal=ADMIN, settings=settings)

        def crash(current: ImportJob, boundary: int = boundary) -> None:
            if current.processed_rows == 2 * boundary:
                raise ProcessKilledError

        with pytest.raises(ProcessKilledError):
            core.imports.run(job.id, source, principal=ADMIN, progress=crash)
        core.imports.run(job.id, source, principal=ADMIN)
        assert assignees(core) == expected, boundary


def _csv(rows: list[tuple[str, ...]]) -> bytes:
    lines = [",".join((*HEADER, "notes")), *(",".join(row) for row in rows)]
    return ("\n".join(lines) + "\n").encode()


def test_a_csv_cell_over_the_reader_limit_refuses_the_file_before_anything_is_written(
    make_store: Callable[[], MemoryStore | SqlStore],
) -> None:
    """The file used to open, import its first chunks, then stop mid-run on the long
    cell with the job half done; now it is refused whole. A long cell the reader
    accepts is one row's cell error, and a resumed run ends as an uninterrupted one."""
    rows = [(*_row(n, f"E{n}"), "ok") for n in range(6)]
    too_long = [*rows[:4], (*rows[4][:-1], "x" * 200_000), rows[5]]
    store = make_store()
    core = _core(store)
    with pytest.raises(ValidationError) as excinfo:
        open_rows(_csv(too_long))
    assert [(e.field, e.code) for e in excinfo.value.errors] == [("file", "cell_too_large")]
    assert "row 6" in excinfo.value.message
    assert core.bookings.list(BookingFilter(), principal=ADMIN).items == []

    long_but_legal = [*rows[:4], (*rows[4][:-1], "x" * 100_000), rows[5]]
    source = open_rows(_csv(long_but_legal))
    expected = _uninterrupted(make_store(), source)
    assert expected[1:5] == (5, 0, 0, 1)  # notes hold 5000 characters: a cell error
    assert expected[5] == ((6, "invalid_length"),)
    assert _stopped_after(make_store(), source, 1) == expected
