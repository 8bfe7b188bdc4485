"""Threads: eight threads booking the last seats of one slot through the memory adapter."""

from __future__ import annotations

import threading
from datetime import timedelta

from bookingcore import (
    BookingCore,
    BookingError,
    BookingFilter,
    BookingRequest,
    CapacityError,
    CustomerDetails,
    Money,
    NewTraveler,
    PageRequest,
    Principal,
    TravelerDetails,
)
from bookingcore.testing import FixedClock


def test_eight_threads_never_overbook_the_last_seats(
    core: BookingCore, admin: Principal, clock: FixedClock
) -> None:
    location = core.catalog.add_location("HOT", "Hot spot", principal=admin)
    slot = core.catalog.create_slot(
        location_id=location.id,
        starts_at=clock.now() + timedelta(days=2),
        price_per_traveler=Money("999", "INR"),
        capacity=20,
        principal=admin,
    )
    workers, attempts_each = 8, 6
    barrier = threading.Barrier(workers)
    held: list[int] = []
    refused: list[int] = []
    unexpected: list[BaseException] = []
    guard = threading.Lock()

    def book_repeatedly(worker: int) -> None:
        barrier.wait()
        for attempt in range(attempts_each):
            travelers = 1 + (worker + attempt) % 3
            request = BookingRequest(
                slot.id,
                [
                    NewTraveler(TravelerDetails(f"W{worker} A{attempt} T{i}"), is_primary=i == 0)
                    for i in range(travelers)
                ],
                customer=CustomerDetails(f"+9197{worker:02d}{attempt:06d}"),
            )
            try:
                core.bookings.book(request, principal=admin)
            except CapacityError:
                with guard:
                    refused.append(travelers)
            except BookingError as exc:  # anything else is a bug
                with guard:
                    unexpected.append(exc)
            else:
                with guard:
                    held.append(travelers)

    threads = [threading.Thread(target=book_repeatedly, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert unexpected == []
    assert len(held) + len(refused) == workers * attempts_each
    final = core.catalog.get_slot(slot.id, principal=admin)
    assert final.seats_held == sum(held) <= 20
    assert refused, "48 attempts for 20 seats must see refusals"
    stored = core.bookings.list(
        BookingFilter(slot_id=slot.id), PageRequest(limit=500), principal=admin
    )
    assert sum(b.total_travelers for b in stored) == final.seats_held
    assert len(stored) == len(held)
    assert final.seats_left is not None
    # seats only ever shrink, so every refused group was bigger than what is left now
    assert all(size > final.seats_left for size in refused)
