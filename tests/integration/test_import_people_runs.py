"""Customers and travelers imports keep the pipeline's promises: the dry run and the preview
say what the real run then does, a stopped run resumes without doubling anyone, and a
re-run of the same file creates nothing.

The real run writes a chunk a transaction; the dry run writes the whole file in
one transaction it never commits. Generated files repeat people in other
notations, across chunk boundaries, by phone and by email, next to customers
already stored.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests._sqlite import sqlite_memory_store
from tests.integration._sources import ListSource

from bookingcore import (
    BookingCore,
    CustomerFilter,
    ImportSettings,
    PageRequest,
    Principal,
    StaffId,
    StaffRole,
)
from bookingcore.domain import ImportJob, ImportStatus
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
HEADER = ("name", "phone", "email")
TRAVELER_HEADER = ("traveler_name", "customer_phone", "customer_email", "birth_date")


class ProcessKilledError(Exception):
    """The process dies after a committed chunk."""


def _phone(n: int, *, spaced: bool = False) -> str:
    return f"+91 98{n:04d} {n:04d}" if spaced else f"+9198{n:04d}{n:04d}"


def _core(store: MemoryStore | SqlStore) -> BookingCore:
    """A core with two customers on file: a phone-only one and a complete one."""
    core = BookingCore(uow_factory=store.unit_of_work, clock=FixedClock(), ids=SequentialIds())
    core.customers.register(_phone(0), principal=ADMIN)
    core.customers.register(_phone(1), principal=ADMIN, name="Old One", email="p1@example.com")
    return core


@attrs.frozen
class Outcome:
    """First problem code per failed row, and the counts."""

    errors: dict[int, str]
    created: int
    updated: int
    skipped: int


def _dry_run(core: BookingCore, source: ListSource, chosen: ImportSettings) -> Outcome:
    plan = core.imports.dry_run(source, principal=ADMIN, settings=chosen)
    errors = {number: problems[0].code for number, _, problems in plan.errors}
    return Outcome(errors, plan.would_create, plan.would_update, plan.would_skip)


def _preview(core: BookingCore, source: ListSource, chosen: ImportSettings) -> Outcome:
    preview = core.imports.preview(source, principal=ADMIN, settings=chosen, limit=1000)
    actions = [r.action for r in preview.rows]
    errors = {r.number: r.problems[0].code for r in preview.rows if r.problems}
    return Outcome(errors, actions.count("create"), actions.count("update"), actions.count("skip"))


def _outcome(core: BookingCore, job: ImportJob) -> Outcome:
    assert job.status is ImportStatus.COMPLETED
    errors = {
        e.row_number: e.problems[0].code for e in core.imports.errors(job.id, principal=ADMIN)
    }
    return Outcome(errors, job.created, job.updated, job.skipped)


def _people(core: BookingCore) -> list[tuple[str, str | None, str | None]]:
    page = core.customers.list(CustomerFilter(), PageRequest(limit=500), principal=ADMIN)
    return sorted(
        (c.phone.e164, c.name, None if c.email is None else str(c.email)) for c in page.items
    )


# --------------------------------------------------------------------------- generated files

_PHONES = st.sampled_from([None, 0, 1, 2, 3, 3, "bad"])
_EMAILS = st.sampled_from([None, None, 1, 2, 3, 4, "bad"])
_NAMES = st.sampled_from(["", "Asha Rao", "Ravi Kumar", "A"])
_ROWS = st.lists(st.tuples(_PHONES, st.booleans(), _EMAILS, _NAMES), min_size=1, max_size=12)


def _file(rows: list[tuple[object, bool, object, str]]) -> ListSource:
    data = []
    for phone, spaced, email, name in rows:
        phone_text = (
            ""
            if phone is None
            else "12345"
            if phone == "bad"
            else _phone(
                phone,  # type: ignore[arg-type]
                spaced=spaced,
            )
        )
        email_text = (
            "" if email is None else "no-at-sign" if email == "bad" else f"p{email}@example.com"
        )
        data.append((name, phone_text, email_text))
    return ListSource(HEADER, data, filename="users.csv")


def _agree(
    make_store: Callable[[], MemoryStore | SqlStore], rows: list[object], chunk: int
) -> None:
    store = make_store()
    try:
        core = _core(store)
        source = _file(rows)  # type: ignore[arg-type]
        chosen = ImportSettings(kind="customers", chunk_size=chunk)
        before = _people(core)
        dry = _dry_run(core, source, chosen)
        assert _preview(core, source, chosen) == dry
        assert _people(core) == before  # the dry run and the preview wrote nothing
        real = _outcome(core, core.imports.run_file(source, principal=ADMIN, settings=chosen))
        assert real == dry
        assert len(_people(core)) == len(before) + real.created
        rerun = core.imports.run_file(source, principal=ADMIN, settings=chosen)
        assert rerun.created == 0
        assert len(_people(core)) == len(before) + real.created
    finally:
        if isinstance(store, SqlStore):
            store.dispose()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_ROWS, chunk=st.integers(1, 4))
def test_on_generated_customer_files_the_dry_run_and_preview_equal_the_real_run_in_memory(
    rows: list[object], chunk: int
) -> None:
    _agree(MemoryStore, rows, chunk)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_ROWS, chunk=st.integers(1, 4))
def test_on_generated_customer_files_the_dry_run_and_preview_equal_the_real_run_on_sqlite(
    rows: list[object], chunk: int
) -> None:
    def sqlite() -> SqlStore:
        return sqlite_memory_store()

    _agree(sqlite, rows, chunk)


# --------------------------------------------------------------------------- resume

_USERS = [
    ("", _phone(0, spaced=True), "p0@example.com"),  # fills the stored phone-only customer
    ("Asha Rao", _phone(2), ""),
    ("Asha Rao", _phone(2, spaced=True), "p2@example.com"),  # the same person: email filled
    ("Lost Soul", "", "p9@example.com"),  # unknown email, no phone: fails
    ("Ravi Kumar", _phone(3), "p3@example.com"),
    ("R. Kumar", "", "p3@example.com"),  # found by email: skipped
    ("Bad Phone", "12345", ""),  # fails
]
_TRAVELERS = [
    ("Kid One", _phone(0), "", "2015-01-01"),
    ("Kid One", _phone(0), "", "2015-01-01"),  # the same traveler
    ("Kid Two", "", "p1@example.com", "2016-02-02"),
    ("Kid Nobody", _phone(8), "", ""),  # no such customer: fails
    ("Kid Three", _phone(1), "", "31-12-2017"),
]


def _summary(core: BookingCore, job: ImportJob) -> tuple[object, ...]:
    errors = core.imports.errors(job.id, principal=ADMIN)
    failed = tuple((e.row_number, e.error_type) for e in errors)
    return (job.status, job.created, job.updated, job.skipped, job.failed, failed)


def _travelers(core: BookingCore) -> list[tuple[str, str]]:
    found = []
    for phone, _, _ in _people(core):
        owner = core.customers.find_by_phone(phone, principal=ADMIN)
        assert owner is not None
        found += [(phone, t.name) for t in core.travelers.list(owner.id, principal=ADMIN)]
    return sorted(found)


def _import_all(core: BookingCore, *, stop_after: int | None) -> tuple[object, ...]:
    """Both files with chunks of 2; the first run of each dies after ``stop_after`` chunks
    and is resumed with ``run(job_id, source)``."""
    results: list[object] = []
    for kind, source in (
        ("customers", ListSource(HEADER, list(_USERS), filename="users.csv")),
        ("travelers", ListSource(TRAVELER_HEADER, list(_TRAVELERS), filename="participants.csv")),
    ):
        chosen = ImportSettings(kind=kind, chunk_size=2)
        job = core.imports.start(source, principal=ADMIN, settings=chosen)
        done = 0

        def crash(_: ImportJob) -> None:
            nonlocal done
            done += 1
            if done == stop_after:
                raise ProcessKilledError

        try:
            core.imports.run(job.id, source, principal=ADMIN, progress=crash)
        except ProcessKilledError:
            assert core.imports.get(job.id, principal=ADMIN).status is ImportStatus.PROCESSING
            job = core.imports.run(job.id, source, principal=ADMIN)
        results.append(_summary(core, core.imports.get(job.id, principal=ADMIN)))
    return (*results, _people(core), _travelers(core))


@pytest.mark.parametrize("stop_after", [1, 2, 3])
def test_a_stopped_customers_and_travelers_import_resumes_as_if_it_never_stopped(
    any_store: MemoryStore | SqlStore, stop_after: int
) -> None:
    """Killed after a committed chunk, each run resumes after it: the counts, the errors,
    the customers and the travelers equal an uninterrupted run's (in memory)."""
    expected = _import_all(_core(MemoryStore()), stop_after=None)
    customers_summary = expected[0]
    assert customers_summary[1:5] == (2, 2, 1, 2)  # type: ignore[index]
    assert _import_all(_core(any_store), stop_after=stop_after) == expected


def test_a_dry_run_longer_than_one_batch_remembers_what_earlier_batches_made(
    any_store: MemoryStore | SqlStore,
) -> None:
    """2,150 rows: the dry run simulates them 2,000 at a time, each batch in its own
    transaction; rows after the first batch repeat people it made (by phone, by email,
    by id) and the plan still says exactly what the run does."""
    data = [(f"Person {n}", f"+9197{n:08d}", "") for n in range(2000)]
    data += [("", f"+9197{n:08d}", f"p{n}@example.com") for n in range(50)]  # fill emails
    data += [("Someone", "", f"p{n}@example.com") for n in range(50)]  # found by those emails
    data += [("", "", f"p{n}@example.com") for n in range(50, 100)]  # nobody has these: fail
    source = ListSource(HEADER, data, filename="users.csv")
    core = _core(any_store)
    chosen = ImportSettings(kind="customers", chunk_size=500)
    dry = _dry_run(core, source, chosen)
    assert (dry.created, dry.updated, dry.skipped, len(dry.errors)) == (2000, 50, 50, 50)
    assert _outcome(core, core.imports.run_file(source, principal=ADMIN, settings=chosen)) == dry
