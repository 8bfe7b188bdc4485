"""One process of ``test_jobs_processes``: an app that books and cancels, or a job worker.

The test runs this file as a script (it is never imported)::

    python _jobs_process.py URL SCHEMA app --worker N --attempts K --slot ID [--slot ID ...]
    python _jobs_process.py URL SCHEMA worker --name NAME

Both wire their own ``SqlStore`` and ``BookingCore`` on ``SCHEMA``, print
``ready`` and then:

* ``app`` waits for a line on stdin, books 1 or 2 travelers ``K`` times
  (slot ``k % len(slots)``), cancels every second booking it made, and prints
  ``{"booked": [...], "cancelled": [...], "refused": n, "unexpected": [...]}``;
* ``worker`` runs a procrastinate worker whose ``outbox.relay`` job (every
  second) publishes to the ``relay_published`` table (each publish, at least
  once) and applies each event once into ``relay_applied`` (keyed by event id),
  and whose ``imports.run`` job imports uploaded files. It runs until SIGTERM
  (or SIGKILL, which is the point).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Engine, create_engine, text

from bookingcore import (
    BookingCore,
    BookingRequest,
    CapacityError,
    CustomerDetails,
    NewTraveler,
    Principal,
    Settings,
    SlotId,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import OutboxMessage
from bookingcore_adapters.importers import open_rows
from bookingcore_adapters.jobs.procrastinate import ProcrastinateJobQueue, libpq_url
from bookingcore_adapters.sql import SqlStore


class TablePublisher:
    """Publishes into ``relay_published`` and applies each event once into ``relay_applied``."""

    def __init__(self, engine: Engine, name: str) -> None:
        self._engine = engine
        self._name = name

    def publish(self, messages: Sequence[OutboxMessage]) -> None:
        rows = [{"event_id": m.id, "name": m.name, "worker": self._name} for m in messages]
        with self._engine.begin() as connection:
            connection.execute(
                text("INSERT INTO relay_published (event_id, worker) VALUES (:event_id, :worker)"),
                rows,
            )
            connection.execute(
                text(
                    "INSERT INTO relay_applied (event_id, name) VALUES (:event_id, :name) "
                    "ON CONFLICT (event_id) DO NOTHING"
                ),
                rows,
            )


def app(core: BookingCore, slots: list[SlotId], worker: int, attempts: int) -> dict[str, Any]:
    """Book and cancel; return what happened."""
    admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
    summary: dict[str, Any] = {"booked": [], "cancelled": [], "refused": 0, "unexpected": []}
    for attempt in range(attempts):
        travelers = 1 + (worker + attempt) % 2
        request = BookingRequest(
            slots[attempt % len(slots)],
            [
                NewTraveler(TravelerDetails(f"P{worker} A{attempt} T{i}"), is_primary=i == 0)
                for i in range(travelers)
            ],
            customer=CustomerDetails(f"+9197{worker:02d}{attempt:06d}"),
        )
        try:
            booking = core.bookings.book(request, principal=admin)
            summary["booked"].append(str(booking.id))
            if attempt % 2:
                core.bookings.cancel(booking.id, principal=admin, reason="changed plans")
                summary["cancelled"].append(str(booking.id))
        except CapacityError:
            summary["refused"] += 1
        except Exception as exc:  # reported, not raised: the test says what went wrong
            summary["unexpected"].append(f"{type(exc).__name__}: {exc}")
    return summary


def main() -> None:
    """Parse the arguments, wire the core, get ready, then play the role."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("schema")
    parser.add_argument("role", choices=["app", "worker"])
    parser.add_argument("--worker", type=int, default=0)
    parser.add_argument("--attempts", type=int, default=0)
    parser.add_argument("--name", default="worker")
    parser.add_argument(
        "--slot", dest="slots", action="append", default=[], type=lambda value: SlotId(UUID(value))
    )
    args = parser.parse_args()

    engine = create_engine(args.url, connect_args={"options": f"-csearch_path={args.schema}"})
    store = SqlStore(engine)
    queue = None
    if args.role == "worker":
        queue = ProcrastinateJobQueue(
            f"{libpq_url(args.url)}?options=-csearch_path%3D{args.schema}",
            max_attempts=20,
            backoff_seconds=0,
            stalled_after=3,
            stalled_check=timedelta(seconds=1),
            heartbeat=1,
        )
    core = BookingCore(
        uow_factory=store.unit_of_work, settings=Settings(default_region="IN"), jobs=queue
    )
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        if queue is None:
            print("ready", flush=True)
            sys.stdin.readline()
            print(json.dumps(app(core, args.slots, args.worker, args.attempts)), flush=True)
            return
        core.jobs.relay_outbox_to(TablePublisher(engine, args.name), every=timedelta(seconds=1))
        core.jobs.enable_imports(core.imports, open_rows)
        print("ready", flush=True)
        queue.run_worker(wait=True, name=args.name)
    finally:
        store.dispose()


if __name__ == "__main__":
    main()
