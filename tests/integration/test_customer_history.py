"""A customer's history comes back whole, scoped, and in a fixed number of queries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from tests._sqlite import sqlite_file_store

from bookingcore import (
    BookingCore,
    BookingRequest,
    Money,
    NewTraveler,
    NotFoundError,
    PageRequest,
    PartnerId,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain.values import CustomerId
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore.testing.builders import Builder
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStore | SqlStore]:
    """Each backend: memory, a SQLite file, PostgreSQL."""
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "sqlite":
        sqlite = sqlite_file_store(tmp_path / "history.db")
        yield sqlite
        sqlite.dispose()
    else:
        yield request.getfixturevalue("pg_store")


def _core(store: MemoryStore | SqlStore) -> BookingCore:
    return BookingCore(
        uow_factory=store.unit_of_work,
        clock=FixedClock(),
        ids=SequentialIds(),
        notifier=RecordingNotifier(),
    )


def _customer_with_bookings(core: BookingCore, bookings: int) -> CustomerId:
    """A customer with ``bookings`` bookings (one new traveler each) and a message for each."""
    location = core.catalog.add_location("BASE", "Base camp", principal=ADMIN)
    customer = core.customers.register("+919812345678", principal=ADMIN, name="Asha Rao").customer
    for index in range(bookings):
        slot = core.catalog.create_slot(
            location_id=location.id,
            starts_at=core.context.now() + timedelta(days=10 + index),
            price_per_traveler=Money("1000", "INR"),
            capacity=4,
            principal=ADMIN,
        )
        booking = core.bookings.book(
            BookingRequest(
                slot.id,
                [NewTraveler(TravelerDetails(f"Traveler {index}"), is_primary=True)],
                customer_id=customer.id,
            ),
            principal=ADMIN,
        )
        core.communications.send(booking.id, "confirmation", principal=ADMIN)
    return customer.id


def test_the_history_holds_the_customer_travelers_bookings_and_messages(
    store: MemoryStore | SqlStore,
) -> None:
    core = _core(store)
    customer_id = _customer_with_bookings(core, 3)

    history = core.customers.history(customer_id, principal=ADMIN)

    assert history.customer.id == customer_id
    assert [t.name for t in history.travelers] == [f"Traveler {i}" for i in range(3)]
    assert len(history.bookings.items) == 3
    assert history.bookings.items[0].created_at >= history.bookings.items[-1].created_at
    assert {c.booking_id for c in history.communications} == {b.id for b in history.bookings.items}
    assert history.payments == []
    paid = Builder().payment(history.bookings.items[-1])
    with core.context.uow_factory() as uow:
        uow.payments.add(paid)
        uow.commit()
    mine = core.customers.history(customer_id, principal=Principal.customer(customer_id))
    assert [(p.id, p.amount) for p in mine.payments] == [(paid.id, paid.amount)]
    older = core.customers.history(customer_id, principal=ADMIN, page=PageRequest(limit=2))
    assert len(older.bookings.items) == 2
    assert older.bookings.next_cursor is not None


def test_the_history_is_scoped_to_what_the_principal_may_see(
    store: MemoryStore | SqlStore,
) -> None:
    core = _core(store)
    customer_id = _customer_with_bookings(core, 1)
    stranger = Principal.partner(PartnerId(SequentialIds().new_id()))
    with pytest.raises(NotFoundError):
        core.customers.history(customer_id, principal=stranger)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_number_of_queries_does_not_grow_with_the_bookings(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    counts = []
    for bookings in (1, 12):
        if backend == "sqlite":
            store = sqlite_file_store(tmp_path / f"count-{bookings}.db")
        else:
            store = request.getfixturevalue("empty_pg_store")()
        core = _core(store)
        customer_id = _customer_with_bookings(core, bookings)
        statements: list[str] = []

        def count(*args: Any, statements: list[str] = statements) -> None:
            statements.append(args[2])

        event.listen(store.engine, "before_cursor_execute", count)
        history = core.customers.history(customer_id, principal=ADMIN)
        event.remove(store.engine, "before_cursor_execute", count)
        assert len(history.bookings.items) == bookings
        assert len(history.communications) == bookings
        counts.append(len(statements))
        if backend == "sqlite":
            store.dispose()
    # BEGIN (SQLite), the customer, messages, payments, travelers, bookings, their travelers.
    assert counts[0] == counts[1] <= 7
