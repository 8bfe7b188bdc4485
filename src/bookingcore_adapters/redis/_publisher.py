"""Relaying outbox messages to a Redis stream, one transaction per batch."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import redis
from redis.typing import EncodableT, FieldT

from bookingcore.domain.events import DomainEvent, OutboxMessage, SerializedMessage
from bookingcore.errors import ValidationError
from bookingcore.serialization import event_from_dict, serialized_message
from bookingcore_adapters.redis._otp import text, translate_errors

__all__ = ["RedisStreamPublisher", "event_from_stream"]


class RedisStreamPublisher:
    """An :class:`~bookingcore.ports.EventPublisher` that appends to a Redis stream.

    Also a :class:`~bookingcore.ports.SerializedEventPublisher`, so the relay
    hands it the outbox rows' JSON text without rebuilding typed events or
    parsing the documents (the entries carry the same data either way).

    Each outbox message becomes one stream entry, in the order given, with
    the fields ``id`` (the event id; consumers deduplicate by it), ``type``
    (the event's registered name), ``sequence`` (the outbox position, ``""``
    if unknown), ``occurred_at`` (ISO 8601) and ``payload`` (the event's
    ``data`` as :func:`bookingcore.serialization.event_to_dict` writes it, as
    JSON text: compact with sorted keys from :meth:`publish`, the outbox's own
    text from :meth:`publish_serialized`, e.g. PostgreSQL's ``jsonb`` spacing
    and key order; parse it, never compare it as text).
    :func:`event_from_stream` turns an entry back into the event.

    A batch is sent in one ``MULTI``/``EXEC`` transaction: no other client's
    entries interleave with it, and a connection lost before ``EXEC`` adds
    none of it. Redis has no rollback, so an entry that fails inside ``EXEC``
    (the stream key holds another type) does not undo the others; the error
    is raised and the relay sends the whole batch again later. Delivery is
    therefore at least once.

    Args:
        client: a redis-py client (``decode_responses`` either way).
        stream: the stream's key.
        maxlen: trim the stream to about this many entries on every append
            (``None``: never trim).
        approximate: trim with ``~`` (whole radix-tree nodes, much cheaper);
            ``False`` trims to exactly ``maxlen``.

    Raises:
        ValidationError: on ``stream`` when it is blank; on ``maxlen`` when it is
            not a whole number of at least 1 (0 would trim every entry away as it
            is appended, and Redis refuses a negative one on every batch).

    .. versionadded:: 0.1
    .. versionchanged:: 0.4
       ``publish_serialized`` writes the outbox's JSON text as it is; ``stream``
       and ``maxlen`` are checked.
    """

    def __init__(
        self,
        client: redis.Redis,
        stream: str = "bookingcore:events",
        *,
        maxlen: int | None = None,
        approximate: bool = True,
    ) -> None:
        name: object = stream
        if not isinstance(name, str) or not name.strip():
            raise ValidationError.single("stream", "a stream needs a key", "required")
        cap: object = maxlen
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            msg = "must be a whole number of at least 1, or None to keep every entry"
            raise ValidationError.single("maxlen", msg, "out_of_range")
        self._client = client
        self.stream = stream
        self.maxlen = maxlen
        self.approximate = approximate

    def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Append ``messages`` to the stream, in order, in one transaction.

        Raises:
            RedisUnavailableError: Redis could not be reached; nothing is known
                to have been appended, and the relay keeps the messages.
            redis.exceptions.ResponseError: Redis refused an entry (e.g. the
                key is not a stream); the relay keeps the messages.
        """
        self.publish_serialized([serialized_message(message) for message in messages])

    def publish_serialized(self, messages: Sequence[SerializedMessage]) -> None:
        """As :meth:`publish`, for messages as the outbox stores them.

        .. versionadded:: 0.2
        """
        if not messages:
            return
        action = f"publish {len(messages)} events to {self.stream!r}"
        with translate_errors(action), self._client.pipeline(transaction=True) as pipe:
            for message in messages:
                pipe.xadd(
                    self.stream,
                    serialized_stream_fields(message),
                    maxlen=self.maxlen,
                    approximate=self.approximate,
                )
            pipe.execute()


def stream_fields(message: OutboxMessage) -> dict[FieldT, EncodableT]:
    """The stream entry's fields for ``message``."""
    return serialized_stream_fields(serialized_message(message))


def serialized_stream_fields(message: SerializedMessage) -> dict[FieldT, EncodableT]:
    """The stream entry's fields for ``message`` (as :func:`stream_fields`).

    .. versionadded:: 0.2
    """
    return {
        "id": str(message.id),
        "type": message.name,
        "sequence": "" if message.sequence is None else str(message.sequence),
        "occurred_at": message.occurred_at.isoformat(),
        # The JSON as the outbox holds it: parse it to read it (its spacing and key
        # order are storage's, not a canonical form).
        "payload": message.payload,
    }


def event_from_stream(fields: Mapping[Any, bytes | str]) -> DomainEvent:
    """Rebuild the event of one entry :class:`RedisStreamPublisher` appended.

    ``fields`` is the entry's field mapping as redis-py returns it from
    ``XRANGE`` or ``XREADGROUP`` (bytes or str keys).

    Raises:
        KeyError: the entry lacks ``type`` or ``payload``.
        ValidationError: on field ``name`` when no event class has that type.
        cattrs.errors.ClassValidationError: the payload does not fit that event.

    .. versionadded:: 0.1
    """
    decoded = {text(key): text(value) for key, value in fields.items()}
    return event_from_dict({"name": decoded["type"], "data": json.loads(decoded["payload"])})
