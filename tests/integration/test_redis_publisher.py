"""The outbox relay publishes real events to a Redis stream, and keeps them when Redis is down."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from uuid import uuid4

import pytest
import redis
from tests._sqlite import sqlite_memory_store

from bookingcore import (
    BookingCore,
    BookingRequest,
    CustomerDetails,
    Money,
    NewTraveler,
    Principal,
    Settings,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain.events import BookingCreated, OutboxMessage
from bookingcore.ports import SerializedEventPublisher
from bookingcore.serialization import event_to_dict
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.redis import (
    RedisStreamPublisher,
    RedisUnavailableError,
    event_from_stream,
    from_url,
)

pytestmark = pytest.mark.redis


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A client on the test database."""
    client = from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def stream(client: redis.Redis) -> Iterator[str]:
    """A stream key no other test uses, deleted afterwards."""
    key = f"bookingcore-test:{uuid4().hex}:events"
    yield key
    client.delete(key)


@pytest.fixture
def unreachable_publisher() -> Iterator[RedisStreamPublisher]:
    """A publisher on a port nothing listens on."""
    down = from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    yield RedisStreamPublisher(down)
    down.close()


@pytest.fixture
def core(store: MemoryStore, clock: FixedClock) -> BookingCore:
    """A core over the memory store that relays its outbox (``outbox_relayed``)."""
    return BookingCore(
        uow_factory=store.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(default_region="IN", outbox_relayed=True),
    )


def book_twice_and_cancel(core: BookingCore, admin: Principal, clock: FixedClock) -> None:
    """Register customers, book and cancel: several kinds of events in the outbox."""
    location = core.catalog.add_location("HAMPTA", "Hampta Pass base", principal=admin)
    slot = core.catalog.create_slot(
        location_id=location.id,
        starts_at=clock.now() + timedelta(days=10),
        price_per_traveler=Money("4500", "INR"),
        capacity=8,
        principal=admin,
    )
    bookings = [
        core.bookings.book(
            BookingRequest(
                slot.id,
                [NewTraveler(TravelerDetails(f"Trekker {n}"), is_primary=True)],
                customer=CustomerDetails(phone, name=f"Customer {n}"),
            ),
            principal=admin,
        )
        for n, phone in enumerate(["+919876500001", "+919876500002"])
    ]
    core.bookings.cancel(bookings[0].id, principal=admin)


def unpublished(store: MemoryStore) -> list[OutboxMessage]:
    with store.unit_of_work() as uow:
        return list(uow.outbox.list_unpublished(1000))


@pytest.fixture
def waiting(
    core: BookingCore, store: MemoryStore, admin: Principal, clock: FixedClock
) -> list[OutboxMessage]:
    """The outbox after :func:`book_twice_and_cancel`: nothing relayed yet."""
    book_twice_and_cancel(core, admin, clock)
    return unpublished(store)


def entries(client: redis.Redis, stream: str) -> list[dict[str, str]]:
    """Every entry of ``stream``, oldest first, as text."""
    return [
        {_text(key): _text(value) for key, value in (fields or {}).items()}
        for _, fields in client.xrange(stream) or []
    ]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class TestRelayToRedisStream:
    def test_the_relay_appends_every_event_in_outbox_order_with_its_payload(
        self,
        core: BookingCore,
        store: MemoryStore,
        waiting: list[OutboxMessage],
        client: redis.Redis,
        stream: str,
    ) -> None:
        assert len({m.name for m in waiting}) >= 3, "expected several kinds of events"

        relayed = core.relay(RedisStreamPublisher(client, stream)).relay()

        assert relayed == len(waiting)
        published = entries(client, stream)
        assert [e["id"] for e in published] == [str(m.id) for m in waiting]
        assert [e["type"] for e in published] == [m.name for m in waiting]
        assert [int(e["sequence"]) for e in published] == [m.sequence for m in waiting]
        for entry, message in zip(published, waiting, strict=True):
            assert entry["occurred_at"] == message.event.occurred_at.isoformat()
            assert json.loads(entry["payload"]) == event_to_dict(message.event)["data"]
        assert unpublished(store) == []

    def test_serialized_messages_from_sql_make_the_same_entries_as_typed_ones(
        self, admin: Principal, clock: FixedClock, client: redis.Redis, stream: str
    ) -> None:
        """The relay hands this publisher the stored JSON (``publish_serialized``); the
        entries are those ``publish`` makes from the typed events, field for field."""
        sql = sqlite_memory_store()
        core = BookingCore(
            uow_factory=sql.unit_of_work,
            clock=clock,
            ids=SequentialIds(),
            settings=Settings(default_region="IN", outbox_relayed=True),
        )
        book_twice_and_cancel(core, admin, clock)
        with sql.unit_of_work() as uow:
            typed = list(uow.outbox.list_unpublished(1000))
        publisher = RedisStreamPublisher(client, stream)
        assert isinstance(publisher, SerializedEventPublisher)
        publisher.publish(typed)
        relayed = core.relay(publisher).relay(limit=1000)  # the serialized path
        assert relayed == len(typed) >= 3
        published = entries(client, stream)
        # Field for field; the payloads as JSON (the relay's is the text SQLite stored).
        as_data = [{**e, "payload": json.loads(e["payload"])} for e in published]
        assert as_data[: len(typed)] == as_data[len(typed) :]
        assert [event_from_stream(e) for e in published[len(typed) :]] == [m.event for m in typed]
        sql.dispose()

    def test_a_consumer_rebuilds_equal_events_from_the_stream(
        self,
        core: BookingCore,
        waiting: list[OutboxMessage],
        client: redis.Redis,
        stream: str,
    ) -> None:
        core.relay(RedisStreamPublisher(client, stream)).relay()
        rebuilt = [event_from_stream(fields or {}) for _, fields in client.xrange(stream) or []]
        assert rebuilt == [m.event for m in waiting]
        created = [e for e in rebuilt if isinstance(e, BookingCreated)]
        assert [e.travelers for e in created] == [1, 1]

    def test_later_runs_append_only_new_events(
        self,
        core: BookingCore,
        store: MemoryStore,
        admin: Principal,
        clock: FixedClock,
        client: redis.Redis,
        stream: str,
    ) -> None:
        relay = core.relay(RedisStreamPublisher(client, stream))
        book_twice_and_cancel(core, admin, clock)
        first = relay.relay()
        assert relay.relay() == 0
        core.customers.register("+919876500003", principal=admin)
        second = relay.relay()
        assert second >= 1
        assert client.xlen(stream) == first + second

    def test_maxlen_trims_the_stream_to_the_newest_entries(
        self,
        core: BookingCore,
        waiting: list[OutboxMessage],
        client: redis.Redis,
        stream: str,
    ) -> None:
        publisher = RedisStreamPublisher(client, stream, maxlen=2, approximate=False)
        core.relay(publisher).relay()
        assert [e["id"] for e in entries(client, stream)] == [str(m.id) for m in waiting[-2:]]

    def test_when_redis_is_unreachable_the_messages_stay_unpublished(
        self,
        core: BookingCore,
        store: MemoryStore,
        waiting: list[OutboxMessage],
        client: redis.Redis,
        stream: str,
    ) -> None:
        down = from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
        try:
            with pytest.raises(RedisUnavailableError, match="could not publish") as raised:
                core.relay(RedisStreamPublisher(down, stream)).relay()
        finally:
            down.close()
        assert isinstance(raised.value, ConnectionError)
        assert [m.id for m in unpublished(store)] == [m.id for m in waiting]
        assert client.exists(stream) == 0
        assert core.relay(RedisStreamPublisher(client, stream)).relay() == len(waiting)
        assert [e["id"] for e in entries(client, stream)] == [str(m.id) for m in waiting]

    def test_when_redis_refuses_the_batch_the_messages_stay_unpublished(
        self,
        core: BookingCore,
        store: MemoryStore,
        waiting: list[OutboxMessage],
        client: redis.Redis,
        stream: str,
    ) -> None:
        """A key of the wrong type makes every XADD fail; the relay keeps the batch."""
        client.set(stream, "not a stream")
        with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
            core.relay(RedisStreamPublisher(client, stream)).relay()
        assert [m.id for m in unpublished(store)] == [m.id for m in waiting]

    def test_publishing_nothing_touches_nothing(
        self, unreachable_publisher: RedisStreamPublisher
    ) -> None:
        unreachable_publisher.publish([])


class TestPublisherSettings:
    @pytest.mark.parametrize(
        ("options", "field"),
        [
            ({"maxlen": 0}, "maxlen"),
            ({"maxlen": -5}, "maxlen"),
            ({"maxlen": 2.5}, "maxlen"),
            ({"maxlen": True}, "maxlen"),
            ({"stream": ""}, "stream"),
            ({"stream": "   "}, "stream"),
        ],
    )
    def test_a_stream_or_maxlen_that_would_lose_or_refuse_every_batch_is_refused(
        self, options: dict[str, object], field: str
    ) -> None:
        """``maxlen=0`` would trim each entry away as it is appended (a negative one makes
        Redis refuse every batch): refused when the publisher is made."""
        down = from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
        try:
            with pytest.raises(ValidationError) as refused:
                RedisStreamPublisher(down, **options)  # type: ignore[arg-type]
        finally:
            down.close()
        assert refused.value.fields == (field,)
