"""Deadlocks on PostgreSQL: the unit of work retries them, within bounds, without losing a lock.

Two units of work lock the same two slots in opposite orders, so PostgreSQL
must abort one of them (``deadlock_timeout`` is cut to 20 ms for speed). The
aborted one locks its first slot again and carries on when that slot is as it
left it; it gives up with ``ConcurrentUpdateError`` when the slot changed, or
when its retries run out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Literal

import pytest
from sqlalchemy import create_engine

from bookingcore.domain import InvoiceSeries
from bookingcore.domain.values import SlotId
from bookingcore.errors import ConcurrentUpdateError
from bookingcore.testing.builders import Builder
from bookingcore_adapters.sql import SqlStore

pytestmark = pytest.mark.postgres

Outcome = Literal["committed"] | ConcurrentUpdateError


@pytest.fixture
def stores(postgres_url: str, postgres_schema: str) -> Iterator[Callable[..., SqlStore]]:
    """Makes stores on the schema whose deadlocks are detected after 20 ms; disposes them."""
    made: list[SqlStore] = []

    def store(*, retries: int = 3) -> SqlStore:
        options = f"-csearch_path={postgres_schema} -cdeadlock_timeout=20ms"
        engine = create_engine(postgres_url, connect_args={"options": options})
        made.append(SqlStore(engine, retries=retries))
        return made[-1]

    yield store
    for each in made:
        each.dispose()


@pytest.fixture
def two_slots(stores: Callable[..., SqlStore]) -> tuple[SlotId, SlotId]:
    """Two slots with ten seats each."""
    store = stores()
    make = Builder()
    location = make.location()
    x, y = make.slot(location.id, capacity=10), make.slot(location.id, capacity=10)
    store.create_schema()
    with store.unit_of_work() as uow:
        uow.locations.add(location)
        uow.slots.add(x)
        uow.slots.add(y)
        uow.commit()
    return x.id, y.id


def _cross_lock(
    store: SqlStore, slots: tuple[SlotId, SlotId], hold_on: Literal["first", "second"]
) -> list[Outcome]:
    """Two threads lock both slots in opposite orders, then each holds a seat and commits."""
    both_hold_one = threading.Barrier(2, timeout=10)
    outcomes: list[Outcome] = []

    def lock(first: SlotId, second: SlotId) -> None:
        try:
            with store.unit_of_work() as uow:
                a = uow.slots.get_for_update(first)
                both_hold_one.wait()
                b = uow.slots.get_for_update(second)
                assert a is not None
                assert b is not None
                (a if hold_on == "first" else b).hold(1)
                uow.commit()
            outcomes.append("committed")
        except ConcurrentUpdateError as exc:
            outcomes.append(exc)

    x, y = slots
    threads = [
        threading.Thread(target=lock, args=(x, y)),
        threading.Thread(target=lock, args=(y, x)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive(), "a unit of work hung on a lock"
    return outcomes


def _seats(store: SqlStore, slots: tuple[SlotId, SlotId]) -> list[int]:
    with store.unit_of_work() as uow:
        found = [uow.slots.get(slot_id) for slot_id in slots]
    return [slot.seats_held for slot in found if slot is not None]


def test_the_deadlock_victim_locks_its_rows_again_and_commits(
    stores: Callable[..., SqlStore],
    two_slots: tuple[SlotId, SlotId],
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = stores()
    with caplog.at_level(logging.WARNING, logger="bookingcore.sql"):
        outcomes = _cross_lock(store, two_slots, hold_on="first")
    assert outcomes == ["committed", "committed"]
    retries = [r for r in caplog.records if "retrying the transaction" in r.getMessage()]
    assert len(retries) == 1
    assert "DeadlockDetected" in retries[0].getMessage()
    assert _seats(store, two_slots) == [1, 1]


def test_a_victim_whose_locked_row_changed_meanwhile_gives_up_and_writes_nothing(
    stores: Callable[..., SqlStore], two_slots: tuple[SlotId, SlotId]
) -> None:
    store = stores()
    outcomes = _cross_lock(store, two_slots, hold_on="second")
    assert outcomes.count("committed") == 1
    [refused] = [o for o in outcomes if isinstance(o, ConcurrentUpdateError)]
    assert "changed while this transaction waited to retry" in str(refused)
    assert sorted(_seats(store, two_slots)) == [0, 1]  # the winner's seat only


def test_a_deadlock_past_the_retry_limit_is_a_concurrent_update_error(
    stores: Callable[..., SqlStore], two_slots: tuple[SlotId, SlotId]
) -> None:
    store = stores(retries=0)
    outcomes = _cross_lock(store, two_slots, hold_on="first")
    assert outcomes.count("committed") == 1
    [refused] = [o for o in outcomes if isinstance(o, ConcurrentUpdateError)]
    assert refused.attempts == 1
    assert refused.to_dict()["code"] == "concurrent_update"
    assert sorted(_seats(store, two_slots)) == [0, 1]


def test_retries_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="retries"):
        SqlStore("sqlite://", retries=-1)


def test_a_victim_that_took_an_invoice_number_gives_up_when_its_series_moved_on(
    stores: Callable[..., SqlStore],
) -> None:
    # Two units of work each take a number from one series, then from the other: PostgreSQL
    # aborts one. Retrying, it would take its first number again, but the winner took the
    # next one meanwhile, so it gives up and writes nothing: no number is lost or doubled.
    store = stores()
    store.create_schema()
    with store.unit_of_work() as uow:
        uow.invoice_series.add(InvoiceSeries(key="2026/AAA"))
        uow.invoice_series.add(InvoiceSeries(key="2026/BBB"))
        uow.commit()
    both_took_one = threading.Barrier(2, timeout=10)
    taken: list[tuple[int | None, int | None]] = []
    failed: list[ConcurrentUpdateError] = []

    def take(first: str, second: str) -> None:
        try:
            with store.unit_of_work() as uow:
                a = uow.invoice_series.take_number(first)
                both_took_one.wait()
                b = uow.invoice_series.take_number(second)
                uow.commit()
            taken.append((a, b))
        except ConcurrentUpdateError as exc:
            failed.append(exc)

    threads = [
        threading.Thread(target=take, args=("2026/AAA", "2026/BBB")),
        threading.Thread(target=take, args=("2026/BBB", "2026/AAA")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert taken == [(1, 1)]
    assert len(failed) == 1
    with store.unit_of_work() as uow:
        for key in ("2026/AAA", "2026/BBB"):
            series = uow.invoice_series.get(key)
            assert series is not None
            assert series.next_number == 2
