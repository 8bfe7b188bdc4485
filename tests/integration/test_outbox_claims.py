"""Relays claim outbox messages: two at once on PostgreSQL take different ones; marks stick."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import event
from tests._sqlite import sqlite_memory_store

from bookingcore import BookingCore, Settings
from bookingcore.domain import JobRequested, SerializedMessage
from bookingcore.serialization import event_to_dict
from bookingcore.testing import FixedClock
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore
from bookingcore_adapters.sql import _driver as sql_driver

#: These cores relay their outbox (a relay is refused otherwise).
RELAYED = Settings(outbox_relayed=True)


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
            return sqlite_memory_store()

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
        mine = first.outbox.claim_to_publish(4, FixedClock().now())
        theirs = second.outbox.claim_to_publish(4, FixedClock().now())
        assert [m.id for m in mine] == ids[:4]
        assert [m.id for m in theirs] == ids[4:]
        assert {m.name for m in [*mine, *theirs]} == {"job.requested"}
        assert [m.data["args"] for m in mine] == [{"n": n} for n in range(4)]


class _SerializedPublisher:
    """Takes the rows' JSON (a ``SerializedEventPublisher``); refuses while ``fail``."""

    def __init__(self) -> None:
        self.fail = False
        self.published: list[SerializedMessage] = []

    def publish(self, messages: Sequence[object]) -> None:  # pragma: no cover - never typed
        raise AssertionError("the relay hands this publisher serialized messages")

    def publish_serialized(self, messages: Sequence[SerializedMessage]) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.published.extend(messages)


def test_a_relay_that_fails_to_publish_marks_nothing_and_the_next_run_sends_in_order(
    make_store: Callable[[], MemoryStore | SqlStore],
) -> None:
    store = make_store()
    ids = _fill(store, 5)
    clock = FixedClock()
    publisher = _SerializedPublisher()
    relay = BookingCore(uow_factory=store.unit_of_work, clock=clock, settings=RELAYED).relay(
        publisher
    )
    publisher.fail = True
    with pytest.raises(ConnectionError):
        relay.relay(limit=3)
    with store.unit_of_work() as uow:
        assert [m.id for m in uow.outbox.list_unpublished(10)] == ids
    publisher.fail = False
    assert relay.relay(limit=3) == 3
    assert relay.relay(limit=3) == 2
    assert relay.relay(limit=3) == 0
    assert [m.id for m in publisher.published] == ids
    assert [m.data["args"] for m in publisher.published] == [{"n": n} for n in range(5)]
    with store.unit_of_work() as uow:
        assert list(uow.outbox.list_unpublished(10)) == []
        assert {uow.outbox.get(i).published_at for i in ids} == {clock.now()}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "backend",
    [
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("postgres-unpipelined", marks=pytest.mark.postgres),
    ],
)
def test_a_serialized_relay_batch_is_one_statement_on_sql(
    backend: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    """Claim, mark and read in one ``UPDATE ... RETURNING``: no second statement
    naming each message (the relay's cost per batch, issue 23).

    A store that pipelines sends it straight to psycopg (logged on
    ``bookingcore.sql``); with ``pipeline=False`` the engine's cursor listeners see it.
    """
    if backend == "sqlite":
        store = sqlite_memory_store()
    else:
        pg_store: SqlStore = request.getfixturevalue("pg_store")
        store = SqlStore(pg_store.engine, pipeline=backend == "postgres")
    ids = _fill(store, 4)
    statements: list[str] = []
    direct: list[str] = []

    def record(*args: object) -> None:
        statement = str(args[2]).lstrip().split(None, 1)[0].upper()
        if statement in {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"}:
            statements.append(str(args[2]))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        publisher = _SerializedPublisher()
        core = BookingCore(uow_factory=store.unit_of_work, settings=RELAYED)
        with caplog.at_level(logging.DEBUG, logger="bookingcore.sql"):
            assert core.relay(publisher).relay(limit=10) == 4
        direct = [r.getMessage() for r in caplog.records if r.name == "bookingcore.sql"]
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    assert [m.id for m in publisher.published] == ids
    assert [m.sequence for m in publisher.published] == sorted(
        m.sequence for m in publisher.published if m.sequence is not None
    )
    if backend == "postgres":
        assert statements == []
        statements = direct
    assert len(statements) == 1, statements
    # On PostgreSQL the batch is chosen once, in a materialized CTE: WITH ... UPDATE.
    assert statements[0].lstrip().upper().startswith("UPDATE" if backend == "sqlite" else "WITH")
    assert "UPDATE OUTBOX SET" in " ".join(statements[0].upper().split())
    assert "RETURNING" in statements[0].upper()


@pytest.mark.postgres
@pytest.mark.parametrize("pipeline", [True, False])
def test_a_serialized_relay_hands_over_the_data_as_stored(
    pipeline: bool, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the payload holds (non-ASCII text, escapes, nesting, large and
    fractional numbers), the relay's messages carry the data ``event_to_dict``
    stored, in outbox order, each with its sequence, as JSON text, whether the
    claim goes straight to psycopg (its ``jsonb`` read as text by the relay's own
    loader, never parsed) or through SQLAlchemy (psycopg's, written back as text)."""
    loaded: list[object] = []
    loader = sql_driver.json_text_loader()

    class Counting(loader):  # type: ignore[misc,valid-type]
        def load(self, data: Any) -> Any:
            value = super().load(data)
            loaded.append(value)
            return value

    monkeypatch.setattr(sql_driver, "json_text_loader", lambda: Counting)
    pg_store: SqlStore = request.getfixturevalue("pg_store")
    store = SqlStore(pg_store.engine, pipeline=pipeline)
    clock = FixedClock()
    now = clock.now()
    payloads: list[dict[str, object]] = [
        {"text": 'ça "va" \\ \n\t 😀', "n": 12345678901234567890, "f": -2.5e-7},
        {"nested": [{"a": [None, True, False, {}]}], "empty": []},
        {"é": {"deeper": {"still": ["x" * 300]}}},
    ]
    events = [JobRequested(id=uuid4(), occurred_at=now, job="echo", args=args) for args in payloads]
    with store.unit_of_work() as uow:
        for one in events:
            uow.outbox.add(one)
        uow.commit()
    publisher = _SerializedPublisher()
    core = BookingCore(uow_factory=store.unit_of_work, clock=clock, settings=RELAYED)
    assert core.relay(publisher).relay(limit=10) == 3
    assert [m.id for m in publisher.published] == [e.id for e in events]
    assert all(type(m.payload) is str for m in publisher.published)
    assert [m.data for m in publisher.published] == [event_to_dict(e)["data"] for e in events]
    assert [m.name for m in publisher.published] == [e.name for e in events]
    assert {m.occurred_at for m in publisher.published} == {now}
    assert all(m.occurred_at.tzinfo is UTC for m in publisher.published)
    sequences = [m.sequence for m in publisher.published]
    assert None not in sequences
    assert sequences == sorted(s for s in sequences if s is not None)
    with store.unit_of_work() as uow:
        assert {uow.outbox.get(e.id).published_at for e in events} == {now}  # type: ignore[union-attr]
    # Each claimed message's JSON read as text by that loader on the direct path only:
    # the very text each message carries, not parsed and written again.
    assert sorted(loaded) == (sorted(m.payload for m in publisher.published) if pipeline else [])
