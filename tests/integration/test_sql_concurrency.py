"""Races on PostgreSQL through the public services: the SQL adapter's locks and unique keys.

Each test wires a :class:`~bookingcore.BookingCore` over an ``SqlStore`` on a
schema of its own, releases threads (or processes) together, and then reads
back what was stored: no seat sold twice, a retried request written once, and
the loser of a race told so with the documented error.
"""

from __future__ import annotations

import contextlib
import json
import runpy
import selectors
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests._threads import at_once, split

from bookingcore import (
    BookingChanges,
    BookingCore,
    BookingFilter,
    BookingRequest,
    CustomerDetails,
    DuplicateError,
    Money,
    NewTraveler,
    PageRequest,
    Principal,
    RandomIds,
    Settings,
    StaleVersionError,
    SystemClock,
    TravelerDetails,
)
from bookingcore.domain import Booking, Slot
from bookingcore.domain.audit import AuditAction
from bookingcore_adapters.sql import SqlStore

pytestmark = pytest.mark.postgres


#: Seconds a race may take before the test calls it hung.
TIMEOUT = 30.0

#: The booking process of the multi-process race; its ``book_attempts`` also drives the threads.
WORKER_SCRIPT = Path(__file__).with_name("_booking_worker.py")
book_attempts: Callable[..., dict[str, list[Any]]] = runpy.run_path(str(WORKER_SCRIPT))[
    "book_attempts"
]


@pytest.fixture
def core(pg_store: SqlStore) -> BookingCore:
    """A core over PostgreSQL with the real clock and ids, reading national phones as Indian."""
    return BookingCore(
        uow_factory=pg_store.unit_of_work,
        clock=SystemClock(),
        ids=RandomIds(),
        settings=Settings(default_region="IN"),
    )


def _slots(core: BookingCore, admin: Principal, *, count: int, capacity: int) -> list[Slot]:
    """``count`` slots of ``capacity`` seats at one location, starting in two days."""
    location = core.catalog.add_location("HOT", "Hot spot", principal=admin)
    starts_at = core.context.clock.now() + timedelta(days=2)
    return [
        core.catalog.create_slot(
            location_id=location.id,
            starts_at=starts_at + timedelta(hours=index),
            price_per_traveler=Money("999", "INR"),
            capacity=capacity,
            name=f"Hot slot {index}",
            principal=admin,
        )
        for index in range(count)
    ]


def _request(slot: Slot, *names: str, **fields: Any) -> BookingRequest:
    """A booking of ``slot`` for travelers called ``names`` (the first one the primary contact)."""
    travelers = [
        NewTraveler(TravelerDetails(name), is_primary=i == 0) for i, name in enumerate(names)
    ]
    return BookingRequest(slot.id, travelers, **fields)


def _merged(summaries: Iterable[Mapping[str, list[Any]]]) -> dict[str, list[Any]]:
    """The summaries of several workers (see ``_booking_worker.py``) as one."""
    merged: dict[str, list[Any]] = {"booked": [], "refused": [], "unexpected": []}
    for summary in summaries:
        for key, entries in merged.items():
            entries.extend(summary[key])
    return merged


def _assert_every_seat_sold_once(
    core: BookingCore,
    admin: Principal,
    slots: list[Slot],
    outcome: Mapping[str, list[Any]],
    attempts: int,
) -> None:
    """What a race of ``attempts`` for the last seats must end with, read back from the database.

    Nothing but ``CapacityError`` refused an attempt; each successful call left
    one booking row and nothing else did; each slot holds exactly its bookings'
    seats, within capacity; and every refusal was justified: seats only ever
    shrink, so each refused group must be bigger than what is left now (which
    also proves the last seats were sold rather than lost to a failed writer).
    """
    assert outcome["unexpected"] == []
    assert len(outcome["booked"]) + len(outcome["refused"]) == attempts
    booked_ids = {booking_id for booking_id, _, _ in outcome["booked"]}
    assert len(booked_ids) == len(outcome["booked"])
    stored_ids: set[str] = set()
    for slot in slots:
        fresh = core.catalog.get_slot(slot.id, principal=admin)
        stored = core.bookings.list(
            BookingFilter(slot_id=slot.id), PageRequest(limit=500), principal=admin
        ).items
        stored_ids |= {str(booking.id) for booking in stored}
        assert {booking.status for booking in stored} <= {"pending"}  # all active, all holding
        assert fresh.capacity is not None
        assert fresh.seats_held == sum(b.total_travelers for b in stored) <= fresh.capacity
        refused = [size for slot_id, size in outcome["refused"] if slot_id == str(slot.id)]
        assert refused, f"{slot.name} was never refused: the race did not reach its last seats"
        assert fresh.capacity - fresh.seats_held < min(refused), (fresh, refused)
    assert stored_ids == booked_ids


# ---------------------------------------------------------------------- the last seats


def test_eight_threads_never_overbook_the_last_seats(core: BookingCore, admin: Principal) -> None:
    """Eight threads booking three hot slots at once sell every seat exactly once."""
    slots = _slots(core, admin, count=3, capacity=10)
    workers, attempts = 8, 6  # 48 attempts for about 96 seats; 30 exist

    summaries, raised = split(
        at_once(
            workers,
            lambda worker: book_attempts(core, admin, [s.id for s in slots], worker, attempts),
            timeout=TIMEOUT,
        )
    )

    assert raised == []
    _assert_every_seat_sold_once(core, admin, slots, _merged(summaries), workers * attempts)


def _start_worker(
    url: str, schema: str, worker: int, attempts: int, slots: list[Slot]
) -> subprocess.Popen[str]:
    """A booking process (``_booking_worker.py``) on ``schema``, waiting for the start signal."""
    return subprocess.Popen(
        [
            sys.executable,
            str(WORKER_SCRIPT),
            url,
            schema,
            f"--worker={worker}",
            f"--attempts={attempts}",
            *(str(slot.id) for slot in slots),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_until_ready(process: subprocess.Popen[str], deadline: float) -> None:
    """Return once ``process`` prints ``ready``; fail with its stderr if it dies or hangs."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        readable = selector.select(max(0.0, deadline - time.monotonic()))
    # The worker writes nothing more until it is started, so no read-ahead is lost.
    if readable and process.stdout.readline() == "ready\n":
        return
    process.kill()
    _, errors = process.communicate()
    pytest.fail(f"a booking process never got ready:\n{errors}")


def _summary(process: subprocess.Popen[str], deadline: float) -> dict[str, list[Any]]:
    """The JSON summary ``process`` prints when its attempts are done."""
    try:
        output, errors = process.communicate(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pytest.fail(f"a booking process was still running after {TIMEOUT:.0f} s")
    assert process.returncode == 0, errors
    summary: dict[str, list[Any]] = json.loads(output)
    return summary


def test_four_processes_never_overbook_the_last_seats(
    core: BookingCore, admin: Principal, postgres_url: str, postgres_schema: str
) -> None:
    """Four processes, each with its own store and core, sell every seat exactly once."""
    slots = _slots(core, admin, count=3, capacity=8)
    workers, attempts = 4, 9  # 36 attempts for about 72 seats; 24 exist

    with contextlib.ExitStack() as stack:
        processes = []
        for worker in range(workers):
            process = stack.enter_context(
                _start_worker(postgres_url, postgres_schema, worker, attempts, slots)
            )
            stack.callback(process.kill)  # runs first on the way out: never wait on a hung one
            processes.append(process)
        deadline = time.monotonic() + TIMEOUT
        for process in processes:
            _wait_until_ready(process, deadline)
        for process in processes:  # the start signal
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outcome = _merged(_summary(process, deadline) for process in processes)

    _assert_every_seat_sold_once(core, admin, slots, outcome, workers * attempts)


# ---------------------------------------------------------------------- idempotent retries


def test_concurrent_retries_of_one_booking_write_it_once(
    core: BookingCore, admin: Principal
) -> None:
    """Eight retries with one idempotency key, in flight at once: one booking, and all get it."""
    [slot] = _slots(core, admin, count=1, capacity=10)
    registration = core.customers.register("+919812345678", name="Asha Verma", principal=admin)
    request = _request(slot, "Asha Verma", "Ravi Verma", customer_id=registration.customer.id)

    bookings, raised = split(
        at_once(
            8,
            lambda _: core.bookings.book(request, principal=admin, idempotency_key="same-key"),
            timeout=TIMEOUT,
        )
    )

    assert raised == []
    assert len({booking.id for booking in bookings}) == 1
    stored = core.bookings.list(BookingFilter(slot_id=slot.id), principal=admin).items
    assert [booking.id for booking in stored] == [bookings[0].id]
    assert core.catalog.get_slot(slot.id, principal=admin).seats_held == 2


@pytest.mark.parametrize(("target", "seats_after"), [("confirmed", 2), ("cancelled", 0)])
def test_concurrent_retries_of_one_transition_move_the_booking_once(
    core: BookingCore, admin: Principal, target: str, seats_after: int
) -> None:
    """Eight retries of one move, in flight at once: one history entry, seven replays of it.

    Confirming keeps the seats; cancelling gives them back, exactly once.
    """
    [slot] = _slots(core, admin, count=1, capacity=4)
    booking = core.bookings.book(
        _request(slot, "Asha Verma", "Ravi Verma", customer=CustomerDetails("+919812345678")),
        principal=admin,
    )

    moves, raised = split(
        at_once(
            8,
            lambda _: core.bookings.transition(
                booking.id, target, principal=admin, idempotency_key="move-once"
            ),
            timeout=TIMEOUT,
        )
    )

    assert raised == []
    assert sorted(move.replayed for move in moves) == [False] + [True] * 7
    first = next(move for move in moves if not move.replayed)
    assert {move.event.id for move in moves} == {first.event.id}
    assert {move.booking.status for move in moves} == {target}
    history = core.bookings.history(booking.id, principal=admin)
    assert [(event.from_status, event.to_status) for event in history] == [
        (None, "pending"),
        ("pending", target),
    ]
    assert history[-1].id == first.event.id
    assert core.catalog.get_slot(slot.id, principal=admin).seats_held == seats_after


# ---------------------------------------------------------------------- versions and unique keys


def test_two_edits_from_the_same_read_keep_only_the_winners_change(
    core: BookingCore, admin: Principal
) -> None:
    """Two edits made on the same version, saved at once: one is stored, the other is stale."""
    [slot] = _slots(core, admin, count=1, capacity=4)
    booking = core.bookings.book(
        _request(slot, "Asha Verma", customer=CustomerDetails("+919812345678")), principal=admin
    )
    read = core.bookings.get(booking.id, principal=admin)

    def edit(writer: int) -> Booking:
        return core.bookings.update(
            booking.id,
            BookingChanges(internal_notes=f"note by writer {writer}"),
            principal=admin,
            expected_version=read.version,
        )

    saved, raised = split(at_once(2, edit, timeout=TIMEOUT))

    assert len(saved) == 1, raised
    [stale] = raised
    assert isinstance(stale, StaleVersionError), stale
    assert (stale.expected, stale.actual) == (read.version, read.version + 1)
    winner = saved[0].internal_notes
    stored = core.bookings.get(booking.id, principal=admin)
    assert (stored.internal_notes, stored.version) == (winner, read.version + 1)
    trail = core.bookings.audit_trail(booking.id, principal=admin)
    edits = [entry.new_values for entry in trail if entry.action is AuditAction.UPDATED]
    assert edits == [{"internal_notes": winner}]


def test_one_external_id_booked_on_several_slots_at_once_is_stored_once(
    core: BookingCore, admin: Principal
) -> None:
    """Four bookings of four slots carrying one external id: one row, three duplicates naming it."""
    slots = _slots(core, admin, count=4, capacity=4)

    def book(index: int) -> Booking:
        request = _request(
            slots[index],
            f"Traveler {index}",
            customer=CustomerDetails(f"+91990000{index:04d}"),
            external_id="PARTNER-REF-1",
        )
        return core.bookings.book(request, principal=admin)

    booked, raised = split(at_once(len(slots), book, timeout=TIMEOUT))

    assert len(booked) == 1, raised
    winner = booked[0]
    assert [type(error) for error in raised] == [DuplicateError] * 3
    named = {(e.entity, e.existing_id) for e in raised if isinstance(e, DuplicateError)}
    assert named == {("booking", winner.id)}
    stored = core.bookings.list(principal=admin).items
    assert [booking.id for booking in stored] == [winner.id]
    held = {slot.id: core.catalog.get_slot(slot.id, principal=admin).seats_held for slot in slots}
    assert held == {slot.id: int(slot.id == winner.slot_id) for slot in slots}
