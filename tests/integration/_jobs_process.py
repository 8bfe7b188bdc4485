"""One process of ``test_jobs_processes``: an app that books and cancels, or a job worker.

The test runs this file as a script (it is never imported)::

    python _jobs_process.py URL SCHEMA app --worker N --attempts K --slot ID [--slot ID ...]
        [--partner ID ...] [--cancel BOOKING_ID ...]
    python _jobs_process.py URL SCHEMA worker --name NAME

Both wire their own ``SqlStore`` and ``BookingCore`` on ``SCHEMA``, print
``ready`` and then:

* ``app`` waits for a line on stdin, books 1 or 2 travelers ``K`` times
  (slot ``k % len(slots)``; every third attempt as one of the ``--partner``
  ids, for a customer that partner registers), cancels every second booking it
  made and, one per attempt, the ``--cancel`` bookings (freed seats go to the
  waiting lists as offers), and prints ``{"booked": [...], "cancelled": [...],
  "released": [...], "partner_bookings": {booking: partner}, "refused": n,
  "unexpected": [...]}``;
* ``worker`` runs a procrastinate worker whose ``outbox.relay`` job (every
  second) publishes to the ``relay_published`` table (each publish, at least
  once) and applies each event once into ``relay_applied`` (keyed by event id),
  whose ``waitlists.expire_offers`` and ``webhooks.deliver_due`` jobs run every
  second (offers last 2 seconds; a webhook is dead after 3 attempts, 1 second
  apart; a claim lasts 5 seconds), and whose ``imports.run`` job imports
  uploaded files. It runs until SIGTERM (or SIGKILL, which is the point).

Both sides wire an ``HttpxWebhookSender``, so partner bookings schedule webhooks.
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
    BookingId,
    BookingRequest,
    CapacityError,
    CustomerDetails,
    NewTraveler,
    PartnerId,
    Principal,
    Settings,
    SlotId,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import OutboxMessage, WebhookRetryPolicy
from bookingcore.services import WebhookSettings
from bookingcore_adapters.importers import open_rows
from bookingcore_adapters.jobs.procrastinate import ProcrastinateJobQueue, libpq_url
from bookingcore_adapters.sql import SqlStore
from bookingcore_adapters.webhooks import HttpxWebhookSender

#: How long a waiting-list offer stays open (short, so offers expire during the test).
OFFER_TTL = timedelta(seconds=2)
#: Webhooks on the workers: 3 attempts 1 s apart, claims held 5 s (a killed worker's
#: claims come back soon), 10 a run with a 0.5 s timeout each (within the lease).
WEBHOOKS = WebhookSettings(
    retry=WebhookRetryPolicy(
        max_attempts=3,
        first_delay=timedelta(seconds=1),
        factor=1.0,
        max_delay=timedelta(seconds=1),
        jitter=0,
    ),
    lease=timedelta(seconds=5),
    batch=10,
    allow_private_addresses=True,  # the test's receivers listen on 127.0.0.1
)


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


def app(
    core: BookingCore,
    slots: list[SlotId],
    worker: int,
    attempts: int,
    partners: list[PartnerId],
    releases: list[BookingId],
) -> dict[str, Any]:
    """Book and cancel; return what happened."""
    admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
    summary: dict[str, Any] = {
        "booked": [],
        "cancelled": [],
        "released": [],
        "partner_bookings": {},
        "refused": 0,
        "unexpected": [],
    }
    for attempt in range(attempts):
        if attempt < len(releases):
            try:
                core.bookings.cancel(releases[attempt], principal=admin, reason="seats freed")
                summary["released"].append(str(releases[attempt]))
            except Exception as exc:
                summary["unexpected"].append(f"{type(exc).__name__}: {exc}")
        travelers = 1 + (worker + attempt) % 2
        people = [
            NewTraveler(TravelerDetails(f"P{worker} A{attempt} T{i}"), is_primary=i == 0)
            for i in range(travelers)
        ]
        phone = f"+9197{worker:02d}{attempt:06d}"
        partner = partners[(worker + attempt) % len(partners)] if partners else None
        try:
            if partner is not None and attempt % 3 == 0:
                principal = Principal.partner(partner)
                customer = core.customers.register(phone, principal=principal).customer
                request = BookingRequest(
                    slots[attempt % len(slots)], people, customer_id=customer.id
                )
            else:
                principal = admin
                request = BookingRequest(
                    slots[attempt % len(slots)], people, customer=CustomerDetails(phone)
                )
            booking = core.bookings.book(request, principal=principal)
            summary["booked"].append(str(booking.id))
            if principal is not admin:
                summary["partner_bookings"][str(booking.id)] = str(partner)
            if attempt % 2:
                core.bookings.cancel(booking.id, principal=principal, reason="changed plans")
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
    parser.add_argument(
        "--partner", dest="partners", action="append", default=[], type=lambda v: PartnerId(UUID(v))
    )
    parser.add_argument(
        "--cancel", dest="releases", action="append", default=[], type=lambda v: BookingId(UUID(v))
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
    sender = HttpxWebhookSender(timeout=0.5)
    core = BookingCore(
        uow_factory=store.unit_of_work,
        settings=Settings(default_region="IN", waitlist_offer_ttl=OFFER_TTL, outbox_relayed=True),
        webhook_sender=sender,
        webhook_settings=WEBHOOKS,
        jobs=queue,
    )
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        if queue is None:
            print("ready", flush=True)
            sys.stdin.readline()
            summary = app(
                core, args.slots, args.worker, args.attempts, args.partners, args.releases
            )
            print(json.dumps(summary), flush=True)
            return
        core.jobs.relay_outbox_to(TablePublisher(engine, args.name), every=timedelta(seconds=1))
        core.jobs.reschedule("waitlists.expire_offers", timedelta(seconds=1))
        core.jobs.reschedule("webhooks.deliver_due", timedelta(seconds=1))
        core.jobs.enable_imports(core.imports, open_rows)
        print("ready", flush=True)
        queue.run_worker(wait=True, name=args.name)
    finally:
        sender.close()
        store.dispose()


if __name__ == "__main__":
    main()
