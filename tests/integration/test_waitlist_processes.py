"""Waiting-list races on PostgreSQL between separate processes, each with its own store.

* cancellations at once never offer the same seat twice: every freed seat goes
  to at most one offer, and seats held equal active bookings plus open offers;
* an accept racing an expiry ends in exactly one of them: an entry is either
  booked (by exactly one booking) or expired (and booked by none);
* customers booking a slot directly while cancellations offer its seats around
  end up either booked (their entry ended) or still on the list, never both;
* a customer booking a slot directly while their offer there (for an alternative
  date) is accepted gets exactly one booking, which the entry names.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bookingcore import (
    BookingCore,
    BookingRequest,
    Money,
    NewTraveler,
    PageRequest,
    Principal,
    RandomIds,
    StaffId,
    StaffRole,
    SystemClock,
    TravelerDetails,
)
from bookingcore.domain import CommunicationType, Slot, WaitlistEntry, WaitlistStatus
from bookingcore.domain.values import BookingId, CustomerId
from bookingcore_adapters.sql import SqlStore

pytestmark = pytest.mark.postgres

TIMEOUT = 60.0
WORKER_SCRIPT = Path(__file__).with_name("_waitlist_worker.py")
ADMIN = Principal.staff(StaffId(RandomIds().new_id()), StaffRole.ADMIN)


@pytest.fixture
def core(pg_store: SqlStore) -> BookingCore:
    return BookingCore(uow_factory=pg_store.unit_of_work, clock=SystemClock(), ids=RandomIds())


def _slot(core: BookingCore, capacity: int) -> Slot:
    location = core.catalog.add_location("BASE", "Base camp", principal=ADMIN)
    return core.catalog.create_slot(
        location_id=location.id,
        starts_at=core.context.now() + timedelta(days=10),
        price_per_traveler=Money("1000", "INR"),
        capacity=capacity,
        principal=ADMIN,
    )


def _customers(core: BookingCore, count: int, prefix: int) -> list[CustomerId]:
    return [
        core.customers.register(f"+91{prefix}{i:05d}", principal=ADMIN).customer.id
        for i in range(count)
    ]


def _book_one_each(core: BookingCore, slot: Slot, customers: list[CustomerId]) -> list[BookingId]:
    return [
        core.bookings.book(
            BookingRequest(
                slot.id,
                [NewTraveler(TravelerDetails(f"Booker {n}"), is_primary=True)],
                customer_id=customer,
            ),
            principal=ADMIN,
        ).id
        for n, customer in enumerate(customers)
    ]


def _race(url: str, schema: str, jobs: list[list[str]]) -> list[dict[str, Any]]:
    """Start one worker per job, release them together, return their summaries."""
    with contextlib.ExitStack() as stack:
        processes: list[subprocess.Popen[str]] = []
        for job in jobs:
            process = stack.enter_context(
                subprocess.Popen(
                    [sys.executable, str(WORKER_SCRIPT), url, schema, *job],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
            stack.callback(process.kill)
            processes.append(process)
        deadline = time.monotonic() + TIMEOUT
        for process in processes:
            assert process.stdout is not None
            with selectors.DefaultSelector() as selector:
                selector.register(process.stdout, selectors.EVENT_READ)
                ready = selector.select(max(0.0, deadline - time.monotonic()))
            if not ready or process.stdout.readline() != "ready\n":
                process.kill()
                pytest.fail(f"a waitlist process never got ready:\n{process.communicate()[1]}")
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        summaries = []
        for process in processes:
            output, errors = process.communicate(timeout=max(0.0, deadline - time.monotonic()))
            assert process.returncode == 0, errors
            summaries.append(json.loads(output))
    for summary in summaries:
        assert summary["unexpected"] == []
    return summaries


def _assert_seats_held_are_bookings_plus_offers(core: BookingCore, slot: Slot) -> None:
    stored = core.catalog.get_slot(slot.id, principal=ADMIN)
    lifecycle = core.settings.lifecycle(None)
    page = core.bookings.list(page=PageRequest(limit=500), principal=ADMIN)
    booked = sum(b.total_travelers for b in page.items if lifecycle.holds_capacity(b.status))
    entries = core.waitlists.list_for_slot(slot.id, principal=ADMIN, active_only=False)
    offered = sum(e.seats for e in entries if e.status is WaitlistStatus.OFFERED)
    assert stored.seats_held == booked + offered
    assert stored.capacity is not None
    assert stored.seats_held <= stored.capacity


def test_simultaneous_cancellations_never_offer_a_seat_twice(
    core: BookingCore, postgres_url: str, postgres_schema: str
) -> None:
    """Four processes cancel twelve bookings at once; twelve freed seats, twelve offered."""
    slot = _slot(core, capacity=12)
    bookings = _book_one_each(core, slot, _customers(core, 12, 98100))
    waiting = _customers(core, 20, 98200)
    for customer in waiting:
        core.waitlists.join(slot.id, principal=ADMIN, customer_id=customer, seats=1)
    jobs = [["cancel", *map(str, bookings[worker::4])] for worker in range(4)]

    summaries = _race(postgres_url, postgres_schema, jobs)

    assert sorted(i for s in summaries for i in s["done"]) == sorted(map(str, bookings))
    entries = core.waitlists.list_for_slot(slot.id, principal=ADMIN, active_only=False)
    offered = [e for e in entries if e.status is WaitlistStatus.OFFERED]
    assert len(offered) == 12
    # The first twelve in line got the seats, the last eight still wait.
    assert sorted(e.position for e in offered) == list(range(1, 13))
    assert core.catalog.get_slot(slot.id, principal=ADMIN).seats_held == 12
    _assert_seats_held_are_bookings_plus_offers(core, slot)
    messages = [
        c
        for customer in waiting
        for c in core.communications.for_customer(customer, principal=ADMIN)
        if c.type is CommunicationType.WAITLIST_OFFER
    ]
    assert len(messages) == 12
    assert len({m.customer_id for m in messages}) == 12


def _offered_entries(core: BookingCore, slot: Slot, count: int) -> list[WaitlistEntry]:
    bookings = _book_one_each(core, slot, _customers(core, count, 98300))
    for customer in _customers(core, count, 98400):
        core.waitlists.join(slot.id, principal=ADMIN, customer_id=customer)
    for booking in bookings:
        core.bookings.cancel(booking, principal=ADMIN)
    entries = core.waitlists.list_for_slot(slot.id, principal=ADMIN)
    assert [e.status for e in entries] == [WaitlistStatus.OFFERED] * count
    return list(entries)


def test_an_accept_racing_an_expiry_ends_in_exactly_one_of_them(
    core: BookingCore, postgres_url: str, postgres_schema: str
) -> None:
    """Two processes accept offers while two expire them (as seen at their expiry time)."""
    slot = _slot(core, capacity=10)
    entries = _offered_entries(core, slot, 10)
    expiry = entries[0].offer_expires_at
    assert expiry is not None
    ids = [str(e.id) for e in entries]
    jobs = [
        ["accept", *ids[0::2]],
        ["accept", *reversed(ids[1::2])],
        ["expire", "--at", expiry.isoformat(), *ids[:5]],
        ["expire", "--at", expiry.isoformat(), *ids[:5]],
    ]

    summaries = _race(postgres_url, postgres_schema, jobs)

    accepted = {entry: booking for s in summaries[:2] for entry, booking in s["done"]}
    expired = [entry for s in summaries[2:] for entry in s["done"]]
    assert len(expired) == len(set(expired))  # no offer expired twice
    assert set(accepted).isdisjoint(expired)
    assert set(accepted) | set(expired) == set(ids)
    for entry in entries:
        stored = core.waitlists.get(entry.id, principal=ADMIN)
        if str(entry.id) in accepted:
            assert stored.status is WaitlistStatus.BOOKED
            assert str(stored.booking_id) == accepted[str(entry.id)]
        else:
            assert stored.status is WaitlistStatus.EXPIRED
            assert stored.booking_id is None
    page = core.bookings.list(page=PageRequest(limit=500), principal=ADMIN)
    from_offers = [b for b in page.items if "waitlist_entry_id" in b.metadata]
    assert len(from_offers) == len(accepted)
    _assert_seats_held_are_bookings_plus_offers(core, slot)


def test_customers_booking_directly_while_seats_are_offered_leave_the_list(
    core: BookingCore, postgres_url: str, postgres_schema: str
) -> None:
    """Two processes cancel twelve bookings while two book six waiting customers directly."""
    slot = _slot(core, capacity=12)
    bookings = _book_one_each(core, slot, _customers(core, 12, 98500))
    waiting = _customers(core, 6, 98600)
    for customer in waiting:
        core.waitlists.join(slot.id, principal=ADMIN, customer_id=customer, seats=2)
    ids = list(map(str, bookings))
    customers = list(map(str, waiting))
    jobs = [
        ["cancel", *ids[0::2]],
        ["cancel", *ids[1::2]],
        ["book", "--slot", str(slot.id), *customers[0::2]],
        ["book", "--slot", str(slot.id), *customers[1::2]],
    ]

    summaries = _race(postgres_url, postgres_schema, jobs)

    booked = {customer for s in summaries[2:] for customer, _ in s["done"]}
    refused = {customer for s in summaries[2:] for customer, _ in s["refused"]}
    assert booked | refused == set(customers)
    for customer in waiting:
        entries = core.waitlists.list_for_customer(customer, principal=ADMIN).items
        assert len(entries) == 1
        if str(customer) in booked:
            assert entries[0].status is WaitlistStatus.CANCELLED
        else:
            assert entries[0].is_active
    _assert_seats_held_are_bookings_plus_offers(core, slot)


def test_booking_an_alternative_directly_racing_its_accept_books_exactly_once(
    core: BookingCore, postgres_url: str, postgres_schema: str
) -> None:
    """Eight entries hold offers on another day's slot; two processes accept them while
    two book that slot directly for the same customers. Each customer ends with one
    booking: the accept's, or the direct booking's (which took the offer up)."""
    location = core.catalog.add_location("BASE", "Base camp", principal=ADMIN)
    trek = core.catalog.add_product("TREK", "Trek", "trek", principal=ADMIN)
    starts = core.context.now() + timedelta(days=10)

    def slot(starts_at: datetime) -> Slot:
        return core.catalog.create_slot(
            location_id=location.id,
            product_id=trek.id,
            starts_at=starts_at,
            price_per_traveler=Money("1000", "INR"),
            capacity=8,
            principal=ADMIN,
        )

    own, other = slot(starts), slot(starts + timedelta(days=2))
    _book_one_each(core, own, _customers(core, 8, 98700))
    on_other = _book_one_each(core, other, _customers(core, 8, 98800))
    day = other.starts_at.astimezone(core.settings.zone).date()
    waiting = _customers(core, 8, 98900)
    entries = [
        core.waitlists.join(own.id, principal=ADMIN, customer_id=c, alternative_dates=[day])
        for c in waiting
    ]
    for booking in on_other:
        core.bookings.cancel(booking, principal=ADMIN)
    assert all(
        core.waitlists.get(e.id, principal=ADMIN).offered_slot_id == other.id for e in entries
    )
    ids = [str(e.id) for e in entries]
    customers = [str(c) for c in waiting]
    jobs = [
        ["accept", *ids[0::2]],
        ["accept", *reversed(ids[1::2])],
        ["book", "--slot", str(other.id), *reversed(customers[0::2])],
        ["book", "--slot", str(other.id), *customers[1::2]],
    ]

    summaries = _race(postgres_url, postgres_schema, jobs)

    accepted = {entry: booking for s in summaries[:2] for entry, booking in s["done"]}
    booked = {customer: booking for s in summaries[2:] for customer, booking in s["done"]}
    for entry in entries:
        stored = core.waitlists.get(entry.id, principal=ADMIN)
        assert stored.status is WaitlistStatus.BOOKED
        by_accept = accepted.get(str(entry.id))
        directly = booked.get(str(entry.customer_id))
        assert (by_accept is None) != (directly is None)  # exactly one of them
        assert str(stored.booking_id) == (by_accept or directly)
    held = core.catalog.get_slot(other.id, principal=ADMIN).seats_held
    page = core.bookings.list(page=PageRequest(limit=500), principal=ADMIN)
    lifecycle = core.settings.lifecycle(None)
    on_slot = [
        b for b in page.items if b.slot_id == other.id and lifecycle.holds_capacity(b.status)
    ]
    assert held == len(on_slot) == 8
