"""A share link made with an idempotency key is made once on every backend: a retry
asking the same (the same instant in another timezone, the label spaced otherwise)
answers the first link without its token, even once the expiry it asked for has passed
(``core.sharing.create_link``, docs/sharing.md)."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from tests.integration.test_share_link_opens import Trip

from bookingcore import IdempotencyConflictError
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

IST = timezone(timedelta(hours=5, minutes=30))


def test_a_retry_with_expires_at_in_another_timezone_and_the_label_spaced_otherwise(
    any_store: MemoryStore | SqlStore,
) -> None:
    trip = Trip(any_store)
    until = trip.clock.now() + timedelta(days=3)
    first = trip.core.sharing.create_link(
        trip.booking.id,
        principal=trip.asha,
        expires_at=until.astimezone(IST),
        label="for the trek group",
        idempotency_key="share-1",
    )
    # Kept in UTC on every store, as the clock gives time.
    assert first.link.expires_at == until
    assert first.link.expires_at.utcoffset() == timedelta(0)
    again = trip.core.sharing.create_link(
        trip.booking.id,
        principal=trip.asha,
        expires_at=until,
        label="  for the  trek group ",
        idempotency_key="share-1",
    )
    assert (again.link.id, again.token) == (first.link.id, None)
    assert len(trip.core.sharing.list_links(trip.booking.id, principal=trip.asha)) == 2
    with pytest.raises(IdempotencyConflictError):
        trip.core.sharing.create_link(
            trip.booking.id,
            principal=trip.asha,
            expires_at=until + timedelta(minutes=1),
            label="for the trek group",
            idempotency_key="share-1",
        )


def test_a_retry_after_the_expiry_it_asked_for_answers_the_first_link(
    any_store: MemoryStore | SqlStore,
) -> None:
    trip = Trip(any_store)
    until = trip.clock.now() + timedelta(hours=2)
    first = trip.core.sharing.create_link(
        trip.booking.id, principal=trip.asha, expires_at=until, idempotency_key="share-2"
    )
    trip.clock.advance(hours=3)
    again = trip.core.sharing.create_link(
        trip.booking.id, principal=trip.asha, expires_at=until, idempotency_key="share-2"
    )
    assert (again.link.id, again.token) == (first.link.id, None)
    assert not again.link.is_active(trip.clock.now())
    assert len(trip.core.sharing.list_links(trip.booking.id, principal=trip.asha)) == 2
