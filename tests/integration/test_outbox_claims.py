"""Relays claim outbox messages: two at once on PostgreSQL take different ones; marks stick."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

import pytest

from bookingcore.domain import JobRequested
from bookingcore.testing import FixedClock
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore


def _fill(store: MemoryStore | SqlStore, count: int) -> list[object]:
    now = FixedClock().now()
    events = [
        JobRequested(id=uuid4(), occurred_at=now, job="echo", args={"n": n}) for n in range(count)
    ]
    with store.unit_of_work() as uow:
        for event in events:
            uow.outbox.add(event)
        uow.commit()
    return [event.id for event in events]


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def make_store(request: pytest.FixtureRequest) -> Callable[[], MemoryStore | SqlStore]:
    if request.param == "memory":
        return MemoryStore
    if request.param == "sqlite":

        def sqlite() -> SqlStore:
            store = SqlStore("sqlite://")
            store.create_schema()
            return store

        return sqlite
    store: SqlStore = request.getfixturevalue("pg_store")
    return lambda: store


def test_claimed_messages_marked_published_are_not_claimed_again(
    make_store: Callable[[], MemoryStore | SqlStore],
) -> None:
    store = make_store()
    ids = _fill(store, 5)
    at = FixedClock().now()
    with store.unit_of_work() as uow:
        claimed = uow.outbox.claim_unpublished(3)
        assert [m.id for m in claimed] == ids[:3]
        uow.outbox.mark_published([m.id for m in claimed], at)
        uow.commit()
    with store.unit_of_work() as uow:
        assert [m.id for m in uow.outbox.list_unpublished(10)] == ids[3:]
        message = uow.outbox.get(ids[0])
        assert message is not None
        assert message.published_at == at
    with store.unit_of_work() as uow:  # rolled back: not marked
        uow.outbox.mark_published(ids[3:], at)
    with store.unit_of_work() as uow:
        assert [m.id for m in uow.outbox.list_unpublished(10)] == ids[3:]


@pytest.mark.postgres
def test_two_relays_at_once_claim_different_messages_on_postgresql(pg_store: SqlStore) -> None:
    ids = _fill(pg_store, 6)
    with pg_store.unit_of_work() as first, pg_store.unit_of_work() as second:
        mine = [m.id for m in first.outbox.claim_unpublished(4)]
        theirs = [m.id for m in second.outbox.claim_unpublished(4)]
        assert mine == ids[:4]
        assert theirs == ids[4:]


@pytest.mark.postgres
def test_two_relays_at_once_claim_different_serialized_messages_on_postgresql(
    pg_store: SqlStore,
) -> None:
    ids = _fill(pg_store, 6)
    with pg_store.unit_of_work() as first, pg_store.unit_of_work() as second:
        mine = first.outbox.claim_unpublished_serialized(4)
        theirs = second.outbox.claim_unpublished_serialized(4)
        assert [m.id for m in mine] == ids[:4]
        assert [m.id for m in theirs] == ids[4:]
        assert {m.name for m in [*mine, *theirs]} == {"job.requested"}
        assert [m.data["args"] for m in mine] == [{"n": n} for n in range(4)]
