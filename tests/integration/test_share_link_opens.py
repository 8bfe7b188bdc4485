"""Share links count their opens on every backend, at one ``UPDATE`` an open, and a
booking that is shared no more opens nothing (``core.sharing``, docs/sharing.md)."""

from __future__ import annotations

import threading
from datetime import timedelta
from uuid import uuid4

import pytest
from sqlalchemy import event

from bookingcore import (
    BookingCore,
    BookingRequest,
    CustomerDetails,
    Money,
    NewTraveler,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import SharedTripNotFoundError
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


class Trip:
    """Asha's booking of the Hampta Pass trek, and a link to it."""

    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.clock = FixedClock()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            settings=Settings(default_region="IN"),
        )
        camp = self.core.catalog.add_location("MANALI", "Manali base camp", principal=ADMIN)
        slot = self.core.catalog.create_slot(
            location_id=camp.id,
            starts_at=self.clock.now() + timedelta(days=10),
            ends_at=self.clock.now() + timedelta(days=14),
            name="Hampta Pass trek",
            price_per_traveler=Money("9500", "INR"),
            principal=ADMIN,
        )
        self.booking = self.core.bookings.book(
            BookingRequest(
                slot.id,
                [NewTraveler(TravelerDetails("Asha Rao"), is_primary=True)],
                customer=CustomerDetails("+919876543210"),
            ),
            principal=ADMIN,
        )
        self.asha = Principal.customer(self.booking.customer_id)
        issued = self.core.sharing.create_link(self.booking.id, principal=self.asha)
        assert issued.token is not None
        self.token = issued.token
        self.link_id = issued.link.id

    def counted(self) -> tuple[int, object]:
        (link,) = self.core.sharing.list_links(self.booking.id, principal=self.asha)
        return link.view_count, link.last_opened_at


def test_opens_are_counted_and_a_cancelled_booking_opens_nothing(
    any_store: MemoryStore | SqlStore,
) -> None:
    trip = Trip(any_store)
    assert trip.counted() == (0, None)
    trip.core.sharing.view(trip.token)
    trip.clock.advance(minutes=3)
    trip.core.sharing.view(trip.token)
    assert trip.counted() == (2, trip.clock.now())
    trip.core.bookings.cancel(trip.booking.id, principal=ADMIN)
    with pytest.raises(SharedTripNotFoundError):
        trip.core.sharing.view(trip.token)
    assert trip.counted() == (2, trip.clock.now())


def test_an_open_writes_one_update_and_nothing_else(sql_store: SqlStore) -> None:
    """The bounded write cost of an open: one ``UPDATE share_links`` (no audit entry,
    no event); a token that opens nothing writes nothing."""
    trip = Trip(sql_store)
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(" ".join(str(args[2]).split()).upper())

    event.listen(sql_store.engine, "before_cursor_execute", record)
    try:
        trip.core.sharing.view(trip.token)
        opened = list(statements)
        statements.clear()
        with pytest.raises(SharedTripNotFoundError):
            trip.core.sharing.view("trip_" + "x" * 43)
        refused = list(statements)
    finally:
        event.remove(sql_store.engine, "before_cursor_execute", record)
    writes = [s for s in opened if s.split(None, 1)[0] in {"INSERT", "UPDATE", "DELETE"}]
    assert len(writes) == 1, writes
    assert writes[0].startswith("UPDATE SHARE_LINKS SET VIEW_COUNT=(SHARE_LINKS.VIEW_COUNT + ")
    assert not [s for s in refused if s.split(None, 1)[0] in {"INSERT", "UPDATE", "DELETE"}]


@pytest.mark.postgres
def test_opens_at_once_on_many_connections_each_count(pg_store: SqlStore) -> None:
    """Eight threads open the link at once, each on its own connection: the database
    adds one to what is stored, so none of the opens is lost."""
    trip = Trip(pg_store)
    barrier = threading.Barrier(8, timeout=30)
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            barrier.wait()
            for _ in range(3):
                trip.core.sharing.view(trip.token)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert trip.counted() == (24, trip.clock.now())
