"""The SQL adapter passes the storage contract every adapter must pass, on SQLite and PostgreSQL.

``TestSqlStore`` then checks what the shared contract leaves to each adapter:
stale versions, which row holds a duplicate key, exact amounts and times, and
how SQLite writers wait for each other.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import event
from tests._sqlite import sqlite_file_store

from bookingcore.domain.bookings import Booking
from bookingcore.domain.customers import Customer
from bookingcore.domain.events import BookingStatusChanged
from bookingcore.domain.payments import Payment
from bookingcore.domain.queries import CustomerFilter, PageRequest, SlotFilter
from bookingcore.domain.values import Actor, CustomerId, EmailAddress, Money
from bookingcore.domain.waitlist import WaitlistStatus
from bookingcore.errors import ConflictError, DuplicateError, StaleVersionError
from bookingcore.ports.uow import UnitOfWorkFactory
from bookingcore.testing import AdapterCapabilities
from bookingcore.testing.builders import T0, Builder
from bookingcore.testing.contracts import StorageContract
from bookingcore_adapters.sql import SqlStore
from bookingcore_adapters.sql import _driver as sql_driver


def _sqlite_store(tmp_path: Path) -> SqlStore:
    return sqlite_file_store(tmp_path / "bookings.db")


class TestSqliteStorage(StorageContract):
    """The shared storage contract over a fresh SQLite file (a file, so threads share it)."""

    capabilities = AdapterCapabilities(persistent=True, row_locks_across_processes=True)

    @pytest.fixture
    def uow_factory(self, tmp_path: Path) -> Iterator[UnitOfWorkFactory]:
        store = _sqlite_store(tmp_path)
        yield store.unit_of_work
        store.dispose()

    @pytest.fixture
    def reopened_uow_factory(self, tmp_path: Path) -> Iterator[UnitOfWorkFactory]:
        store = SqlStore(f"sqlite:///{tmp_path / 'bookings.db'}")
        yield store.unit_of_work
        store.dispose()

    @pytest.fixture
    def store_opener(self, tmp_path: Path) -> Callable[[], SqlStore]:
        return partial(SqlStore, f"sqlite:///{tmp_path / 'bookings.db'}")


@pytest.mark.postgres
class TestPostgresStorage(StorageContract):
    """The shared storage contract over PostgreSQL, each test in a schema of its own.

    Needs ``BOOKINGCORE_TEST_POSTGRES_URL`` (skipped, saying so, when it is unset).
    """

    capabilities = AdapterCapabilities(persistent=True, row_locks_across_processes=True)

    @pytest.fixture
    def uow_factory(self, pg_store: SqlStore) -> UnitOfWorkFactory:
        return pg_store.unit_of_work

    @pytest.fixture
    def store_opener(self, postgres_url: str, postgres_schema: str) -> Callable[[], SqlStore]:
        return partial(
            SqlStore, postgres_url, connect_args={"options": f"-csearch_path={postgres_schema}"}
        )

    @pytest.fixture
    def reopened_uow_factory(
        self, store_opener: Callable[[], SqlStore]
    ) -> Iterator[UnitOfWorkFactory]:
        store = store_opener()
        yield store.unit_of_work
        store.dispose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("postgres-unpipelined", marks=pytest.mark.postgres),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """A fresh store on each backend; on PostgreSQL with and without the write pipeline."""
    if request.param == "sqlite":
        sqlite = _sqlite_store(tmp_path)
        yield sqlite
        sqlite.dispose()
        return
    pg_store: SqlStore = request.getfixturevalue("pg_store")
    if request.param == "postgres":
        assert pg_store.pipelined
        yield pg_store
        return
    unpipelined = SqlStore(pg_store.engine, pipeline=False)
    assert not unpipelined.pipelined
    yield unpipelined


@pytest.fixture
def make() -> Builder:
    """A builder for valid entities."""
    return Builder()


def _stored_customers(store: SqlStore, make: Builder, count: int = 1) -> list[Customer]:
    """``count`` new customers, committed."""
    customers = [make.customer() for _ in range(count)]
    with store.unit_of_work() as uow:
        for customer in customers:
            uow.customers.add(customer)
        uow.commit()
    return customers


def _stored_bookings_with_payments(store: SqlStore, make: Builder, count: int) -> list[Booking]:
    """``count`` bookings of one customer, each with two payments a minute apart, committed."""
    location = make.location()
    slot = make.slot(location.id, capacity=None)
    customer = make.customer()
    traveler = make.traveler(customer.id)
    bookings = [make.booking(customer.id, slot, [traveler.id]) for _ in range(count)]
    with store.unit_of_work() as uow:
        uow.locations.add(location)
        uow.slots.add(slot)
        uow.customers.add(customer)
        uow.travelers.add(traveler)
        for booking in bookings:
            uow.bookings.add(booking)
            for minutes in (1, 2):
                uow.payments.add(make.payment(booking, created_at=T0 + timedelta(minutes=minutes)))
        uow.commit()
    return bookings


class TestSqlStore:
    """What the SQL adapter promises beyond the shared contract."""

    def test_a_change_to_an_entity_someone_else_changed_first_is_stale(
        self, store: SqlStore, make: Builder
    ) -> None:
        (customer,) = _stored_customers(store, make)
        with store.unit_of_work() as late:
            mine = late.customers.get(customer.id)
            assert mine is not None
            with store.unit_of_work() as early:
                theirs = early.customers.get(customer.id)
                assert theirs is not None
                theirs.complete_profile(now=T0, name="First Writer")
                early.commit()
            mine.complete_profile(now=T0, name="Second Writer")
            with pytest.raises(StaleVersionError) as caught:
                late.commit()
        assert (caught.value.expected, caught.value.actual) == (1, 2)
        with store.unit_of_work() as uow:
            stored = uow.customers.get(customer.id)
            assert stored is not None
            assert (stored.name, stored.version) == ("First Writer", 2)

    def test_a_statement_failing_midway_through_a_commit_rolls_back_the_ones_before(
        self, store: SqlStore, make: Builder
    ) -> None:
        # The shared contract injects a failure before any row is written; here the
        # database has taken the first INSERTs when the second table's one fails.
        if store.pipelined:  # its writes skip the listeners this test injects through
            store = SqlStore(store.engine, pipeline=False)
        (customer,) = _stored_customers(store, make)
        location = make.location()
        slot = make.slot(location.id)
        inserts: list[str] = []

        def fail_the_second_insert(*args: Any) -> None:
            if args[2].startswith("INSERT"):
                inserts.append(args[2])
                if len(inserts) == 2:
                    msg = "injected on the second write"
                    raise RuntimeError(msg)

        with store.unit_of_work() as uow:
            loaded = uow.customers.get(customer.id)
            assert loaded is not None
            loaded.complete_profile(now=T0, name="Changed Then Undone")
            uow.locations.add(location)
            uow.slots.add(slot)
            event.listen(store.engine, "before_cursor_execute", fail_the_second_insert)
            try:
                with pytest.raises(RuntimeError, match="second write"):
                    uow.commit()
            finally:
                event.remove(store.engine, "before_cursor_execute", fail_the_second_insert)
        assert len(inserts) == 2
        with store.unit_of_work() as uow:
            stored = uow.customers.get(customer.id)
            assert stored is not None
            assert (stored.name, stored.version) == (customer.name, customer.version)
            assert uow.locations.get(location.id) is None
            assert uow.slots.get(slot.id) is None

    def test_a_duplicate_names_the_entity_and_the_row_holding_the_key(
        self, store: SqlStore, make: Builder, caplog: pytest.LogCaptureFixture
    ) -> None:
        first = make.customer()
        with store.unit_of_work() as uow:
            uow.customers.add(first)
            uow.commit()
        for clash in (make.customer(phone=first.phone), make.customer(id=first.id)):
            with store.unit_of_work() as uow:
                uow.customers.add(clash)
                with caplog.at_level(logging.WARNING), pytest.raises(DuplicateError) as caught:
                    uow.commit()
            assert (caught.value.entity, caught.value.existing_id) == ("customer", first.id)
        # An ordinary refusal is answered, not logged: with the write pipeline, psycopg
        # warned "error ignored terminating <Pipeline>" for every one of them.
        assert [r.getMessage() for r in caplog.records if r.name.startswith("psycopg")] == []

    def test_a_second_active_waitlist_entry_names_the_active_one_not_an_ended_one(
        self, store: SqlStore, make: Builder
    ) -> None:
        location = make.location()
        slot = make.slot(location.id)
        customer = make.customer()
        ended = make.waitlist_entry(slot.id, customer.id, status=WaitlistStatus.CANCELLED)
        active = make.waitlist_entry(slot.id, customer.id, position=2)
        with store.unit_of_work() as uow:
            uow.locations.add(location)
            uow.slots.add(slot)
            uow.customers.add(customer)
            uow.waitlist.add(ended)
            uow.waitlist.add(active)
            uow.commit()
        with store.unit_of_work() as uow:
            uow.waitlist.add(make.waitlist_entry(slot.id, customer.id, position=3))
            with pytest.raises(DuplicateError) as caught:
                uow.commit()
        assert (caught.value.entity, caught.value.existing_id) == ("waitlistentry", active.id)
        assert "slot_id, customer_id" in caught.value.message

    def test_a_reference_to_a_missing_row_is_a_conflict_and_stores_nothing(
        self, store: SqlStore, make: Builder
    ) -> None:
        location = make.location()
        orphan = make.traveler(CustomerId(uuid4()))
        with store.unit_of_work() as uow:
            uow.locations.add(location)
            uow.travelers.add(orphan)
            with pytest.raises(ConflictError) as caught:
                uow.commit()
        assert not isinstance(caught.value, DuplicateError)
        with store.unit_of_work() as uow:
            assert uow.locations.get(location.id) is None

    def test_lists_see_this_unit_of_works_additions_and_changes(
        self, store: SqlStore, make: Builder
    ) -> None:
        location = make.location()
        open_slot, closing = make.slot(location.id), make.slot(location.id)
        with store.unit_of_work() as uow:
            uow.locations.add(location)
            uow.slots.add(open_slot)
            uow.slots.add(closing)
            uow.commit()
        with store.unit_of_work() as uow:
            loaded = uow.slots.get(closing.id)
            assert loaded is not None
            loaded.is_active = False
            added = make.customer(name="Nila Menon")
            uow.customers.add(added)
            assert [s.id for s in uow.slots.list(SlotFilter(), PageRequest())] == [open_slot.id]
            found = uow.customers.list(CustomerFilter(text="nila"), PageRequest()).items
            assert [c.id for c in found] == [added.id]

    def test_a_lock_taken_after_a_plain_read_sees_the_latest_seats(
        self, store: SqlStore, make: Builder
    ) -> None:
        location = make.location()
        slot = make.slot(location.id, capacity=3)
        with store.unit_of_work() as uow:
            uow.locations.add(location)
            uow.slots.add(slot)
            uow.commit()
        with store.unit_of_work() as uow:
            read_first = uow.slots.get(slot.id)
            assert read_first is not None
            with store.unit_of_work() as other:
                locked = other.slots.get_for_update(slot.id)
                assert locked is not None
                locked.hold(2)
                other.commit()
            relocked = uow.slots.get_for_update(slot.id)
            assert relocked is read_first
            assert relocked.seats_held == 2
            relocked.hold(1)
            uow.commit()
        with store.unit_of_work() as uow:
            stored = uow.slots.get(slot.id)
            assert stored is not None
            assert (stored.seats_held, stored.version) == (3, 3)

    def test_a_change_made_before_the_lock_is_still_checked_against_the_version(
        self, store: SqlStore, make: Builder
    ) -> None:
        # The slot is changed in memory, then someone else commits, then the lock is
        # taken: the change was made on an old version and must not be committed.
        location = make.location()
        slot = make.slot(location.id, capacity=3)
        with store.unit_of_work() as uow:
            uow.locations.add(location)
            uow.slots.add(slot)
            uow.commit()
        with store.unit_of_work() as uow:
            mine = uow.slots.get(slot.id)
            assert mine is not None
            mine.hold(1)
            with store.unit_of_work() as other:
                theirs = other.slots.get_for_update(slot.id)
                assert theirs is not None
                theirs.hold(2)
                other.commit()
            assert uow.slots.get_for_update(slot.id) is mine
            written_with_it = make.customer()
            uow.customers.add(written_with_it)
            with pytest.raises(StaleVersionError):
                uow.commit()
        with store.unit_of_work() as uow:
            stored = uow.slots.get(slot.id)
            assert stored is not None
            assert (stored.seats_held, stored.version) == (2, 2)
            assert uow.customers.get(written_with_it.id) is None

    def _three_slots_held_once(
        self, store: SqlStore, make: Builder, monkeypatch: pytest.MonkeyPatch
    ) -> tuple[list[Any], list[tuple[str, int]]]:
        """Three stored slots, and every statement a commit then sends as
        (its first word, how many versioned rows it checks)."""
        location = make.location()
        slots = [make.slot(location.id, capacity=3) for _ in range(3)]
        with store.unit_of_work() as uow:
            uow.locations.add(location)
            for slot in slots:
                uow.slots.add(slot)
            uow.commit()
        sent: list[tuple[str, int]] = []
        real = sql_driver._note

        def spy(statement: sql_driver.Statement, *args: Any) -> None:
            sent.append((statement.compiled.sql.split()[0], len(statement.checks)))
            real(statement, *args)

        monkeypatch.setattr(sql_driver, "_note", spy)
        return slots, sent

    def test_entities_changed_alike_are_updated_by_one_statement_with_their_versions(
        self, store: SqlStore, make: Builder, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        slots, sent = self._three_slots_held_once(store, make, monkeypatch)
        with store.unit_of_work() as uow:
            for slot in slots:
                read = uow.slots.get(slot.id)
                assert read is not None
                read.hold(1)
            uow.commit()
        assert sent == [("UPDATE", 3)]
        with store.unit_of_work() as uow:
            for slot in slots:
                stored = uow.slots.get(slot.id)
                assert stored is not None
                assert (stored.seats_held, stored.version) == (1, 2)

    def test_a_stale_entity_among_those_updated_by_one_statement_is_named(
        self, store: SqlStore, make: Builder, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # The middle slot changes after it was read: the one UPDATE of the three
        # changes two rows, and the error names the middle slot with its versions.
        slots, sent = self._three_slots_held_once(store, make, monkeypatch)
        with store.unit_of_work() as uow:
            mine = [uow.slots.get(slot.id) for slot in slots]
            with store.unit_of_work() as other:
                theirs = other.slots.get_for_update(slots[1].id)
                assert theirs is not None
                theirs.hold(2)
                other.commit()
            for read in mine:
                assert read is not None
                read.hold(1)
            written_with_them = make.customer()
            uow.customers.add(written_with_them)
            with pytest.raises(StaleVersionError) as caught:
                uow.commit()
        stale = caught.value
        assert (stale.entity, stale.key, stale.expected, stale.actual) == (
            "slot",
            slots[1].id,
            1,
            2,
        )
        assert ("UPDATE", 3) in sent
        with store.unit_of_work() as uow:
            stored = [uow.slots.get(slot.id) for slot in slots]
            assert [(s.seats_held, s.version) for s in stored if s is not None] == [
                (0, 1),
                (2, 2),
                (0, 1),
            ]
            assert uow.customers.get(written_with_them.id) is None

    def test_writes_to_rows_locked_and_read_under_the_lock_commit_with_them(
        self, store: SqlStore, make: Builder, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # With the pipeline, such a commit sends its writes and COMMIT together; a
        # change to a row read without a lock waits for its version check first.
        location = make.location()
        slot = make.slot(location.id, capacity=3)
        customer = make.customer()
        with store.unit_of_work() as uow:
            uow.locations.add(location)
            uow.slots.add(slot)
            uow.customers.add(customer)
            uow.commit()
        commits: list[bool] = []
        real = sql_driver.run_pipelined

        def spy(*args: Any, commit: bool, **options: Any) -> sql_driver.Outcome:
            commits.append(commit)
            return real(*args, commit=commit, **options)

        monkeypatch.setattr(sql_driver, "run_pipelined", spy)
        with store.unit_of_work() as uow:
            locked = uow.slots.get_for_update(slot.id)
            assert locked is not None
            locked.hold(1)
            uow.customers.add(make.customer())
            uow.commit()
        with store.unit_of_work() as uow:
            read = uow.customers.get(customer.id)
            assert read is not None
            read.complete_profile(now=T0, name="Read Without A Lock")
            uow.commit()
        assert commits == ([True, False] if store.pipelined else [])
        with store.unit_of_work() as uow:
            stored_slot, stored_customer = uow.slots.get(slot.id), uow.customers.get(customer.id)
            assert stored_slot is not None
            assert stored_customer is not None
            assert (stored_slot.seats_held, stored_slot.version) == (1, 2)
            assert (stored_customer.name, stored_customer.version) == ("Read Without A Lock", 2)

    def test_a_slot_locked_for_booking_brings_its_location_in_the_same_query(
        self, store: SqlStore, make: Builder, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        location = make.location(name="Base Camp")
        slot = make.slot(location.id, capacity=3)
        with store.unit_of_work() as uow:
            uow.locations.add(location)
            uow.slots.add(slot)
            uow.commit()
        with store.unit_of_work() as uow:
            renamed = uow.locations.get(location.id)
            assert renamed is not None
            renamed.name = "Renamed In This Unit"
            assert uow.slots.get_for_update(slot.id) is not None
            assert uow.locations.get(location.id) is renamed  # this unit's change is kept
        queries: list[str] = []
        real = sql_driver._values

        def spy(
            connection: Any, query: sql_driver.Lookup, value: Any, **options: Any
        ) -> list[list[Any]]:
            queries.append(query.compiled.sql)
            return real(connection, query, value, **options)

        monkeypatch.setattr(sql_driver, "_values", spy)
        with store.unit_of_work() as uow:
            locked = uow.slots.get_for_update(slot.id)
            assert locked is not None
            assert len(queries) == 1
            found = uow.locations.get(location.id)
            assert len(queries) == 1
            assert found is not None
            assert (found.id, found.code, found.name) == (location.id, location.code, "Base Camp")
            found.name = "Changed After The Lock"
            locked.hold(1)
            uow.commit()
        with store.unit_of_work() as uow:
            stored = uow.locations.get(location.id)
            assert stored is not None
            assert stored.name == "Changed After The Lock"

    def test_statements_sent_through_sqlalchemy_reach_the_engines_cursor_listeners(
        self, store: SqlStore, make: Builder
    ) -> None:
        # Tracers and statement counters listen there. A psycopg store sends its
        # hot look-ups and its pipelined writes to the driver directly (documented
        # in SqlStore); pipeline=False sends everything through SQLAlchemy.
        location = make.location()
        slot = make.slot(location.id, capacity=3)
        customer = make.customer()
        with store.unit_of_work() as uow:
            uow.locations.add(location)
            uow.slots.add(slot)
            uow.customers.add(customer)
            uow.commit()
        before: list[str] = []
        after: list[str] = []

        def on_before(*args: Any) -> None:
            before.append(args[2].split()[0])

        def on_after(*args: Any) -> None:
            after.append(args[2].split()[0])

        event.listen(store.engine, "before_cursor_execute", on_before)
        event.listen(store.engine, "after_cursor_execute", on_after)
        try:
            with store.unit_of_work() as uow:
                assert uow.customers.get(customer.id) is not None
                locked = uow.slots.get_for_update(slot.id)
                assert locked is not None
                locked.hold(1)
                uow.customers.add(make.customer())
                uow.commit()
        finally:
            event.remove(store.engine, "before_cursor_execute", on_before)
            event.remove(store.engine, "after_cursor_execute", on_after)
        assert before == after
        # Customers are written before slots: parents first, in the mappers' order.
        expected = [] if store.pipelined else ["SELECT", "SELECT", "INSERT", "UPDATE"]
        assert [verb for verb in before if verb != "BEGIN"] == expected

    def test_a_read_only_unit_of_work_runs_without_a_transaction_on_postgresql(
        self, store: SqlStore, make: Builder
    ) -> None:
        # PostgreSQL at READ COMMITTED: autocommit, no BEGIN / ROLLBACK round trips (each
        # statement sees what was committed when it began, as in such a transaction).
        # SQLite: one read transaction, one snapshot. The pooled connection goes back
        # to transactions for the next unit of work.
        location = make.location()
        with store.unit_of_work() as uow:
            uow.locations.add(location)
            uow.commit()
        levels: list[object] = []

        def on_before(conn: Any, *args: Any) -> None:
            levels.append(conn.get_execution_options().get("isolation_level"))

        event.listen(store.engine, "before_cursor_execute", on_before)
        try:
            with store.unit_of_work().read_only() as uow:
                assert uow.locations.list() == [location]
            autocommit = levels[:]
            levels.clear()
            with store.unit_of_work() as uow:
                assert uow.locations.list() == [location]
        finally:
            event.remove(store.engine, "before_cursor_execute", on_before)
        postgres = store.dialect == "postgresql"
        assert autocommit
        assert set(autocommit) == {"AUTOCOMMIT" if postgres else None}
        assert set(levels) == {None}

    @pytest.mark.postgres
    def test_a_read_only_unit_of_work_keeps_a_stricter_isolation_level(
        self, pg_store: SqlStore, make: Builder
    ) -> None:
        strict = SqlStore(pg_store.engine.execution_options(isolation_level="REPEATABLE READ"))
        location = make.location()
        with strict.unit_of_work() as uow:
            uow.locations.add(location)
            uow.commit()
        levels: list[object] = []

        def on_before(conn: Any, *args: Any) -> None:
            levels.append(conn.get_execution_options().get("isolation_level"))

        event.listen(strict.engine, "before_cursor_execute", on_before)
        try:
            with strict.unit_of_work().read_only() as uow:
                assert uow.locations.list() == [location]
        finally:
            event.remove(strict.engine, "before_cursor_execute", on_before)
        assert levels
        assert set(levels) == {"REPEATABLE READ"}

    def test_look_ups_keep_no_driver_cursor_and_survive_a_lost_connection(
        self, store: SqlStore, make: Builder
    ) -> None:
        original = store
        if store.pipelined:  # its look-ups skip the listeners this test watches
            store = SqlStore(store.engine, pipeline=False)
        customer, other = _stored_customers(store, make, 2)
        cursors: list[Any] = []

        def on_before(*args: Any) -> None:
            if args[2].startswith("SELECT"):
                cursors.append(args[1])

        event.listen(store.engine, "before_cursor_execute", on_before)
        try:
            with store.unit_of_work() as uow:
                assert uow.customers.get(customer.id) is not None
                assert uow.customers.get(other.id) is not None
            assert len(cursors) == 2
            assert cursors[0] is not cursors[1]  # one cursor a look-up, closed after it
            # A connection the pool dropped takes its cursor with it.
            with store.engine.connect() as connection:
                connection.invalidate()
            with original.unit_of_work() as uow:
                found = uow.customers.get(customer.id)
                assert found is not None
                assert found.phone == customer.phone
        finally:
            event.remove(store.engine, "before_cursor_execute", on_before)

    def test_a_failed_look_up_leaves_no_broken_cursor_behind(
        self, store: SqlStore, make: Builder
    ) -> None:
        if store.pipelined:  # its look-ups skip the listeners this test watches
            store = SqlStore(store.engine, pipeline=False)
        (customer,) = _stored_customers(store, make)
        cursors: list[object] = []  # the cursors themselves: ids of freed ones repeat

        def fail_once(*args: Any) -> None:
            if not args[2].startswith("SELECT"):
                return
            cursors.append(args[1])
            if len(cursors) == 2:
                msg = "a tracer failed"
                raise RuntimeError(msg)

        event.listen(store.engine, "before_cursor_execute", fail_once)
        try:
            with store.unit_of_work() as uow:
                assert uow.customers.get(customer.id) is not None
            with store.unit_of_work() as uow, pytest.raises(RuntimeError, match="tracer"):
                uow.customers.get(make.customer().id)
            with store.unit_of_work() as uow:
                again = uow.customers.get(customer.id)
        finally:
            event.remove(store.engine, "before_cursor_execute", fail_once)
        assert again is not None
        assert again.id == customer.id
        assert len(cursors) == 3
        assert len({id(cursor) for cursor in cursors}) == 3  # no cursor is kept between look-ups

    def test_a_long_read_only_unit_of_work_judges_none_of_what_it_read_in_memory(
        self, store: SqlStore, make: Builder, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # A unit of work that can write may have changed any entity it tracks, so each
        # read judges them all in memory; a read-only one can add and change nothing,
        # so its reads cost the same after 40 bookings' payments as after 4 (a report
        # over a period reads thousands). Counted as reads of ``Payment.booking_id``,
        # which judging a payment for ``list_for_booking`` takes.
        bookings = _stored_bookings_with_payments(store, make, 40)
        reads = Counter[str]()
        plain = Payment.__getattribute__

        def counted(payment: Payment, name: str) -> Any:
            reads[name] += 1
            return plain(payment, name)

        def booking_id_reads(read_first: int, *, read_only: bool) -> int:
            uow = store.unit_of_work()
            with uow.read_only() if read_only else uow:
                for booking in bookings[:read_first]:
                    assert len(uow.payments.list_for_booking(booking.id)) == 2
                reads.clear()
                with monkeypatch.context() as patched:
                    patched.setattr(Payment, "__getattribute__", counted)
                    again = uow.payments.list_for_booking(bookings[0].id)
                assert [p.booking_id for p in again] == [bookings[0].id] * 2
                return reads["booking_id"]

        assert booking_id_reads(4, read_only=True) == booking_id_reads(40, read_only=True)
        assert booking_id_reads(4, read_only=False) < booking_id_reads(40, read_only=False)

    def test_a_read_only_unit_of_work_lists_what_storage_holds(
        self, store: SqlStore, make: Builder
    ) -> None:
        # A change made in memory (which a read-only unit of work refuses to commit) is
        # not judged by its reads; an entity read already is the same object.
        first, second = _stored_bookings_with_payments(store, make, 2)
        for read_only in (False, True):
            uow = store.unit_of_work()
            with uow.read_only() if read_only else uow:
                moved, stays = uow.payments.list_for_booking(first.id)
                moved.booking_id = second.id
                on_first = uow.payments.list_for_booking(first.id)
                on_second = uow.payments.list_for_booking(second.id)
                if read_only:
                    assert on_first == [moved, stays]
                    assert on_first[0] is moved
                    assert moved not in on_second
                else:
                    assert on_first == [stays]
                    assert moved in on_second

    def test_amounts_and_times_read_back_exactly_and_in_utc(
        self, store: SqlStore, make: Builder
    ) -> None:
        location = make.location()
        india = timezone(timedelta(hours=5, minutes=30))
        slot = make.slot(
            location.id,
            price_per_traveler=Money("98765432109.8765", "CLF"),
            starts_at=datetime(2026, 3, 1, 6, 30, 0, 123456, tzinfo=india),
        )
        partner = make.partner(commission_rate=Decimal("12.345"))
        with store.unit_of_work() as uow:
            uow.locations.add(location)
            uow.slots.add(slot)
            uow.partners.add(partner)
            uow.commit()
        with store.unit_of_work() as uow:
            stored_slot = uow.slots.get(slot.id)
            stored_partner = uow.partners.get(partner.id)
        assert stored_slot is not None
        assert stored_partner is not None
        assert str(stored_slot.price_per_traveler.amount) == "98765432109.8765"
        assert str(stored_partner.commission_rate) == "12.345"
        assert stored_slot.starts_at == slot.starts_at
        assert stored_slot.starts_at.tzinfo is UTC

    def test_an_outbox_message_is_numbered_when_its_commit_succeeds(
        self, store: SqlStore, make: Builder
    ) -> None:
        event = BookingStatusChanged(
            id=uuid4(),
            occurred_at=T0,
            booking_id=uuid4(),  # type: ignore[arg-type]
            lifecycle="reservation",
            from_status="pending",
            to_status="confirmed",
            actor=Actor.system("test"),
        )
        with store.unit_of_work() as uow:
            uow.outbox.add(event)
            message = uow.outbox.get(event.id)
            assert message is not None
            assert message.sequence is None
            uow.commit()
            assert message.sequence is not None

    def test_writers_that_read_first_wait_for_each_other_instead_of_failing(
        self, store: SqlStore, make: Builder
    ) -> None:
        workers = 8
        customers = [make.customer() for _ in range(workers)]
        barrier = threading.Barrier(workers)
        failures: list[BaseException] = []

        def register(index: int) -> None:
            try:
                with store.unit_of_work() as uow:
                    uow.customers.list(CustomerFilter(), PageRequest())
                    barrier.wait()
                    uow.customers.add(customers[index])
                    uow.commit()
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=register, args=(i,)) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert failures == []
        with store.unit_of_work() as uow:
            listed = uow.customers.list(CustomerFilter(), PageRequest()).items
        assert len(listed) == workers


def test_an_in_memory_sqlite_store_works_within_one_thread(make: Builder) -> None:
    store = SqlStore("sqlite://")
    store.create_schema()
    location = make.location()
    with store.unit_of_work() as uow:
        uow.locations.add(location)
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.locations.get(location.id) == location
    store.dispose()


def test_sqlite_connections_check_foreign_keys_use_wal_and_a_larger_page_cache(
    tmp_path: Path,
) -> None:
    store = _sqlite_store(tmp_path)
    try:
        with store.engine.connect() as connection:
            settings = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("foreign_keys", "journal_mode", "cache_size")
            }
    finally:
        store.dispose()
    assert settings == {"foreign_keys": 1, "journal_mode": "wal", "cache_size": -32 * 1024}


def test_sqlite_locks_a_row_read_under_its_write_lock_without_reading_it_again(
    tmp_path: Path, make: Builder
) -> None:
    # While a transaction holds SQLite's write lock nobody else can change a row,
    # so a bulk import's slots, found in one query after the job's lock, need no
    # query each when they are locked for seats.
    store = _sqlite_store(tmp_path)
    location = make.location()
    first, second = make.slot(location.id, capacity=5), make.slot(location.id, capacity=5)
    early = make.slot(location.id, capacity=5)
    with store.unit_of_work() as uow:
        uow.locations.add(location)
        for slot in (first, second, early):
            uow.slots.add(slot)
        uow.commit()
    seen: list[str] = []

    def on_before(*args: Any) -> None:
        seen.append(args[2].split()[0])

    try:
        with store.unit_of_work() as uow:
            read_early = uow.slots.get(early.id)  # a plain read: before the write lock
            assert read_early is not None
            assert uow.slots.get_for_update(first.id) is not None  # takes the write lock
            found = uow.slots.find_at([(location.id, second.starts_at)])
            assert {s.id for s in found} == {first.id, second.id, early.id}
            event.listen(store.engine, "before_cursor_execute", on_before)
            again = uow.slots.get_for_update(second.id)
            assert again is not None
            assert seen == []  # read under the lock: no query
            assert uow.slots.get_for_update(early.id) is read_early
            assert seen == ["SELECT"]  # read before the lock: read again, under it
            again.hold(2)
            uow.commit()
    finally:
        event.remove(store.engine, "before_cursor_execute", on_before)
    with store.unit_of_work() as uow:
        stored = uow.slots.get(second.id)
        assert stored is not None
        assert stored.seats_held == 2
    store.dispose()


@pytest.mark.parametrize("dialect_name", ["sqlite", "postgresql"])
def test_binding_many_rows_at_once_gives_what_binding_each_gives(dialect_name: str) -> None:
    """A commit binds an executemany's rows column by column, converting a value shared by
    every row once: the parameters are those of binding each row alone."""
    from sqlalchemy import insert  # noqa: PLC0415
    from sqlalchemy.dialects import postgresql, sqlite  # noqa: PLC0415

    from bookingcore_adapters.sql import metadata  # noqa: PLC0415

    dialect = sqlite.dialect() if dialect_name == "sqlite" else postgresql.dialect()
    table = metadata.tables["booking_audit_logs"]
    now = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    booking = uuid4()
    rows = [
        {
            "id": uuid4(),
            "entity": "booking",
            "entity_id": booking if n % 2 else uuid4(),
            "booking_id": booking if n % 2 else None,
            "action": "created",
            "changed_by_kind": "staff",
            "changed_by_id": "s-1",
            "old_value": {},
            "new_value": {"status": "confirmed", "n": n},
            "change_reason": None if n == 1 else f"row {n}",
            "ip_address": None,
            "user_agent": None,
            # the chunk's one time, and one row at another zone
            "created_at": now if n != 2 else now.astimezone(timezone(timedelta(hours=5))),
        }
        for n in range(4)
    ]
    compiled = sql_driver._compile(insert(table), dialect, tuple(rows[0]))

    def plain(parameters: list[Any]) -> list[Any]:  # psycopg's Jsonb wrappers by their value
        def value(item: Any) -> Any:
            return getattr(item, "obj", item)

        return [
            {k: value(v) for k, v in p.items()} if isinstance(p, dict) else tuple(map(value, p))
            for p in parameters
        ]

    assert plain(compiled.bind_many(rows)) == plain([compiled.bind(row) for row in rows])
    same = [dict(rows[0], id=uuid4()) for _ in range(3)]  # every time the same object
    assert plain(compiled.bind_many(same)) == plain([compiled.bind(row) for row in same])
    assert compiled.bind_many([]) == []


@pytest.mark.postgres
def test_staff_list_in_code_point_order_on_a_database_with_a_language_collation(
    postgres_url: str, postgres_schema: str, make: Builder
) -> None:
    """Most PostgreSQL databases are created with a language's collation (``en_US.UTF-8``),
    which sorts ``alice`` before ``Bob``; staff lists keep Python's code-point order, the
    memory store's, whatever the database's collation (the test database uses ``C``)."""
    store = SqlStore(postgres_url, connect_args={"options": f"-csearch_path={postgres_schema}"})
    try:
        store.create_schema()
        with store.engine.begin() as connection:
            connection.exec_driver_sql(
                'ALTER TABLE staff_members ALTER COLUMN email TYPE text COLLATE "en-x-icu"'
            )
        emails = ["alice@example.com", "Bob@example.com", "carol@example.com"]
        members = [make.staff_member(email=EmailAddress(e)) for e in emails]
        with store.unit_of_work() as uow:
            for member in members:
                uow.staff.add(member)
            uow.commit()
        with store.unit_of_work() as uow:
            listed = [m.email.value for m in uow.staff.list()]
    finally:
        store.dispose()
    assert listed == ["Bob@example.com", "alice@example.com", "carol@example.com"]


def test_a_row_taking_two_stored_rows_keys_names_the_same_one_on_sqlite_and_postgresql(
    store: SqlStore, make: Builder
) -> None:
    """SQLite and PostgreSQL check a row's unique keys in different orders; the error
    names the first taken by the table's column order (``external_id`` before
    ``idempotency_key``), on both, and the row holding it."""
    location = make.location()
    slot = make.slot(location.id, capacity=None)
    customer = make.customer()
    traveler = make.traveler(customer.id)
    by_external = make.booking(customer.id, slot, [traveler.id], external_id="OLD-1")
    by_key = make.booking(customer.id, slot, [traveler.id], idempotency_key="KEY-1")
    with store.unit_of_work() as uow:
        uow.locations.add(location)
        uow.slots.add(slot)
        uow.customers.add(customer)
        uow.travelers.add(traveler)
        uow.bookings.add(by_external)
        uow.bookings.add(by_key)
        uow.commit()
    both = make.booking(
        customer.id, slot, [traveler.id], external_id="OLD-1", idempotency_key="KEY-1"
    )
    with store.unit_of_work() as uow:
        uow.bookings.add(both)
        with pytest.raises(DuplicateError) as caught:
            uow.commit()
    assert (caught.value.entity, caught.value.existing_id) == ("booking", by_external.id)
    assert "external_id 'OLD-1'" in str(caught.value)
