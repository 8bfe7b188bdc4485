"""One booking process of ``test_sql_concurrency``: books hot slots on a shared PostgreSQL schema.

The test runs this file as a script (it is never imported)::

    python _booking_worker.py URL SCHEMA --worker N --attempts K SLOT_ID [SLOT_ID ...]

It wires its own ``SqlStore`` and ``BookingCore`` on ``SCHEMA``, opens a
connection, prints ``ready`` and waits for a line on stdin: the start signal.
Attempt ``k`` books slot ``k % len(slots)`` (so every process wants the same slot
at the same moment) for 1 to 3 travelers of a new customer, and the process
then prints one JSON line::

    {"booked": [[booking_id, slot_id, travelers], ...],
     "refused": [[slot_id, travelers], ...],
     "unexpected": ["ErrorType: message", ...]}
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import create_engine, text

from bookingcore import (
    BookingCore,
    BookingRequest,
    CapacityError,
    CustomerDetails,
    NewTraveler,
    Principal,
    RandomIds,
    Settings,
    SlotId,
    StaffId,
    StaffRole,
    SystemClock,
    TravelerDetails,
)
from bookingcore_adapters.sql import SqlStore


def book_attempts(
    core: BookingCore, principal: Principal, slots: list[SlotId], worker: int, attempts: int
) -> dict[str, list[Any]]:
    """Make this worker's attempts; return what each came to."""
    summary: dict[str, list[Any]] = {"booked": [], "refused": [], "unexpected": []}
    for attempt in range(attempts):
        slot_id, travelers = slots[attempt % len(slots)], 1 + (worker + attempt) % 3
        request = BookingRequest(
            slot_id,
            [
                NewTraveler(TravelerDetails(f"P{worker} A{attempt} T{i}"), is_primary=i == 0)
                for i in range(travelers)
            ],
            customer=CustomerDetails(f"+9198{worker:02d}{attempt:06d}"),
        )
        try:
            booking = core.bookings.book(request, principal=principal)
        except CapacityError:
            summary["refused"].append([str(slot_id), travelers])
        except Exception as exc:  # reported, not raised: the test says what went wrong
            summary["unexpected"].append(f"{type(exc).__name__}: {exc}")
        else:
            summary["booked"].append([str(booking.id), str(slot_id), travelers])
    return summary


def main() -> None:
    """Parse the arguments, get ready, wait for the start signal, book, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("schema")
    parser.add_argument("--worker", type=int, required=True)
    parser.add_argument("--attempts", type=int, required=True)
    parser.add_argument("slots", nargs="+", type=lambda value: SlotId(UUID(value)))
    args = parser.parse_args()

    engine = create_engine(args.url, connect_args={"options": f"-csearch_path={args.schema}"})
    store = SqlStore(engine)
    core = BookingCore(
        uow_factory=store.unit_of_work,
        clock=SystemClock(),
        ids=RandomIds(),
        settings=Settings(default_region="IN"),
    )
    admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
    try:
        with engine.connect() as connection:  # connect now, not when the race has begun
            connection.execute(text("SELECT 1"))
        print("ready", flush=True)
        sys.stdin.readline()
        summary = book_attempts(core, admin, args.slots, args.worker, args.attempts)
    finally:
        store.dispose()
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
