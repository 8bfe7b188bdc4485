"""One process of ``test_waitlist_processes``: cancels bookings, accepts or expires offers.

The test runs this file as a script (it is never imported)::

    python _waitlist_worker.py URL SCHEMA ROLE [--at ISO] [--slot ID] ID [ID ...]

``ROLE`` is ``cancel`` (cancel each booking id), ``accept`` (accept each
waiting-list entry id for one traveler), ``expire`` (run ``expire_offers``
once per id given, at ``--at``) or ``book`` (book ``--slot`` directly for each
customer id, one traveler each; a full slot is a refusal). It wires its own ``SqlStore`` and
``BookingCore`` on ``SCHEMA``, prints ``ready``, waits for a line on stdin (the
start signal), and prints one JSON line::

    {"done": [id, ...], "refused": [[id, "ErrorType"], ...], "unexpected": ["..."]}
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import create_engine, text

from bookingcore import (
    BookingCore,
    BookingId,
    BookingRequest,
    CapacityError,
    CustomerId,
    InvalidTransitionError,
    NewTraveler,
    Principal,
    RandomIds,
    SlotId,
    StaffId,
    StaffRole,
    SystemClock,
    TravelerDetails,
    WaitlistEntryId,
)
from bookingcore_adapters.sql import SqlStore


def run(
    core: BookingCore, role: str, ids: list[UUID], at: datetime | None, slot: UUID | None
) -> dict[str, Any]:
    """Do this worker's part; report what each id came to."""
    admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
    summary: dict[str, list[Any]] = {"done": [], "refused": [], "unexpected": []}
    for ident in ids:
        try:
            if role == "cancel":
                core.bookings.cancel(BookingId(ident), principal=admin)
                summary["done"].append(str(ident))
            elif role == "accept":
                booking = core.waitlists.accept(
                    WaitlistEntryId(ident),
                    [NewTraveler(TravelerDetails(f"Guest {ident}"), is_primary=True)],
                    principal=admin,
                )
                summary["done"].append([str(ident), str(booking.id)])
            elif role == "book":
                assert slot is not None
                booking = core.bookings.book(
                    BookingRequest(
                        SlotId(slot),
                        [NewTraveler(TravelerDetails(f"Guest {ident}"), is_primary=True)],
                        customer_id=CustomerId(ident),
                    ),
                    principal=admin,
                )
                summary["done"].append([str(ident), str(booking.id)])
            else:
                expired = core.waitlists.expire_offers(at, principal=Principal.system("job"))
                summary["done"].extend(str(entry.id) for entry in expired)
        except (InvalidTransitionError, CapacityError) as exc:
            summary["refused"].append([str(ident), type(exc).__name__])
        except Exception as exc:  # reported, not raised: the test says what went wrong
            summary["unexpected"].append(f"{type(exc).__name__}: {exc}")
    return summary


def main() -> None:
    """Parse the arguments, get ready, wait for the start signal, work, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("schema")
    parser.add_argument("role", choices=["cancel", "accept", "expire", "book"])
    parser.add_argument("--at", type=datetime.fromisoformat, default=None)
    parser.add_argument("--slot", type=UUID, default=None)
    parser.add_argument("ids", nargs="+", type=UUID)
    args = parser.parse_args()

    engine = create_engine(args.url, connect_args={"options": f"-csearch_path={args.schema}"})
    store = SqlStore(engine)
    core = BookingCore(uow_factory=store.unit_of_work, clock=SystemClock(), ids=RandomIds())
    try:
        with engine.connect() as connection:  # connect now, not when the race has begun
            connection.execute(text("SELECT 1"))
        print("ready", flush=True)
        sys.stdin.readline()
        summary = run(core, args.role, args.ids, args.at, args.slot)
    finally:
        store.dispose()
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
