"""A booking is on one trip at most, also when two staff members put it on two trips at once
(PostgreSQL: the booking's row is locked while the trips are checked)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from tests._threads import at_once

from bookingcore import (
    BookingCore,
    BookingRequest,
    Money,
    NewTraveler,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import Booking, Trip
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.sql import SqlStore, SqlUnitOfWork

pytestmark = pytest.mark.postgres

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


class Desk:
    """A core whose trip scans linger, so two checks at once overlap; a customer's booking."""

    def __init__(self, store: SqlStore) -> None:
        clock = FixedClock()
        self.core = BookingCore(
            uow_factory=self._slow_trip_scans(store),
            clock=clock,
            ids=SequentialIds(),
            settings=Settings(default_region="IN"),
        )
        location = self.core.catalog.add_location("LEH", "Leh", principal=ADMIN)
        self.slots = [
            self.core.catalog.create_slot(
                location_id=location.id,
                starts_at=clock.now() + timedelta(days=days),
                price_per_traveler=Money("10000", "INR"),
                capacity=10,
                principal=ADMIN,
            )
            for days in (20, 22)
        ]
        self.customer = self.core.customers.register("+919876543210", principal=ADMIN).customer
        self.today = clock.now().date()

    @staticmethod
    def _slow_trip_scans(store: SqlStore) -> Callable[[], SqlUnitOfWork]:
        def unit_of_work() -> SqlUnitOfWork:
            uow = store.unit_of_work()
            scan = uow.trips.list_for_customer

            def slow(*args: Any, **kwargs: Any) -> Any:
                found = scan(*args, **kwargs)
                time.sleep(0.3)  # the other caller's check runs meanwhile
                return found

            uow.trips.list_for_customer = slow  # type: ignore[method-assign]
            return uow

        return unit_of_work

    def book(self, slot: int = 0) -> Booking:
        return self.core.bookings.book(
            BookingRequest(
                self.slots[slot].id,
                [NewTraveler(TravelerDetails("Asha Rao"), is_primary=True)],
                customer_id=self.customer.id,
            ),
            principal=ADMIN,
        )

    def trip(self, name: str, booking_ids: tuple[Any, ...] = ()) -> Trip:
        return self.core.trips.create(
            self.customer.id,
            name,
            starts_on=self.today + timedelta(days=20),
            ends_on=self.today + timedelta(days=25),
            booking_ids=booking_ids,
            principal=ADMIN,
        )

    def trips_holding(self, booking: Booking) -> list[str]:
        trips = self.core.trips.for_customer(self.customer.id, principal=ADMIN).items
        return [trip.name for trip in trips if booking.id in trip.booking_ids]


@pytest.fixture
def desk(pg_store: SqlStore) -> Desk:
    return Desk(pg_store)


def _one_refused(results: list[Any]) -> None:
    done = [r for r in results if isinstance(r, Trip)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert (len(done), len(refused)) == (1, 1), results
    assert refused[0].errors[0].code == "on_another_trip"


def test_adding_one_booking_to_two_trips_at_once_adds_it_to_one(desk: Desk) -> None:
    booking = desk.book()
    trips = [desk.trip("Ladakh"), desk.trip("Spiti")]
    results = at_once(
        2, lambda i: desk.core.trips.add_booking(trips[i].id, booking.id, principal=ADMIN)
    )
    _one_refused(results)
    assert len(desk.trips_holding(booking)) == 1


def test_creating_two_trips_with_one_booking_at_once_creates_one(desk: Desk) -> None:
    booking = desk.book()
    results = at_once(2, lambda i: desk.trip(f"Trip {i}", (booking.id,)))
    _one_refused(results)
    assert len(desk.trips_holding(booking)) == 1


def test_creating_and_adding_at_once_puts_the_booking_on_one_trip(desk: Desk) -> None:
    booking = desk.book()
    empty = desk.trip("Ladakh")
    results = at_once(
        2,
        lambda i: (
            desk.core.trips.add_booking(empty.id, booking.id, principal=ADMIN)
            if i == 0
            else desk.trip("Spiti", (booking.id,))
        ),
    )
    _one_refused(results)
    assert len(desk.trips_holding(booking)) == 1


def test_trips_listing_each_others_bookings_at_once_do_not_deadlock(desk: Desk) -> None:
    first, second = desk.book(), desk.book(1)
    orders = [(first.id, second.id), (second.id, first.id)]
    results = at_once(2, lambda i: desk.trip(f"Trip {i}", orders[i]))
    _one_refused(results)
    assert len(desk.trips_holding(first)) == len(desk.trips_holding(second)) == 1
