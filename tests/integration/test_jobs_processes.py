"""Jobs on PostgreSQL with real processes: apps booking while workers relay the outbox,
expire waiting-list offers and deliver partner webhooks, a worker killed with SIGKILL,
and an import job killed mid-file and resumed elsewhere."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from tests.adapters._webhook_receiver import webhook_receiver

from bookingcore import (
    BookingCore,
    BookingFilter,
    BookingId,
    BookingRequest,
    CustomerDetails,
    ImportSettings,
    LocationId,
    Money,
    NewTraveler,
    PageRequest,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import ImportStatus, Partner, Slot
from bookingcore.services import WebhookSettings
from bookingcore.testing import RecordingWebhookSender, SequentialIds
from bookingcore_adapters.importers import open_rows
from bookingcore_adapters.jobs.procrastinate import ProcrastinateJobQueue, libpq_url
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

SCRIPT = Path(__file__).with_name("_jobs_process.py")
TIMEOUT = 120.0
ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)


def _queue_url(postgres_url: str, schema: str) -> str:
    return f"{libpq_url(postgres_url)}?options=-csearch_path%3D{schema}"


@pytest.fixture
def jobs_schema(pg_store: SqlStore, postgres_url: str, postgres_schema: str) -> str:
    """The test schema with procrastinate's schema and the publisher's tables added."""
    queue = ProcrastinateJobQueue(_queue_url(postgres_url, postgres_schema))
    try:
        queue.apply_schema()
    finally:
        queue.close()
    engine = create_engine(
        postgres_url, connect_args={"options": f"-csearch_path={postgres_schema}"}
    )
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE relay_published (id bigserial PRIMARY KEY, event_id uuid NOT NULL,"
                " worker text NOT NULL)"
            )
        )
        connection.execute(
            text("CREATE TABLE relay_applied (event_id uuid PRIMARY KEY, name text NOT NULL)")
        )
    engine.dispose()
    return postgres_schema


def _start(url: str, schema: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), url, schema, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if args[0] == "worker" else subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def _stop(process: subprocess.Popen[str]) -> None:
    """Kill ``process`` if it still runs and close its pipes (no leaked file objects)."""
    if process.poll() is None:
        process.kill()
    process.communicate()


def _wait_ready(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        readable = selector.select(60)
    if readable and process.stdout.readline() == "ready\n":
        return
    _stop(process)
    pytest.fail("a process never got ready")


@contextlib.contextmanager
def _workers(url: str, schema: str, names: list[str]) -> Iterator[dict[str, subprocess.Popen[str]]]:
    running: dict[str, subprocess.Popen[str]] = {}
    try:
        for name in names:
            running[name] = _start(url, schema, "worker", f"--name={name}")
        for process in running.values():
            _wait_ready(process)
        yield running
    finally:
        for process in running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in running.values():
            try:
                process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


def _wait_for(condition: Any, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting until {what}")


def _slots(core: BookingCore, *, count: int, capacity: int) -> list[Slot]:
    location = core.catalog.add_location("HOT", "Hot spot", principal=ADMIN)
    starts_at = core.context.clock.now() + timedelta(days=2)
    return [
        core.catalog.create_slot(
            location_id=location.id,
            starts_at=starts_at + timedelta(hours=index),
            price_per_traveler=Money("999", "INR"),
            capacity=capacity,
            name=f"Hot slot {index}",
            principal=ADMIN,
        )
        for index in range(count)
    ]


def _closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"


def _partner(core: BookingCore, name: str, url: str, location: LocationId) -> Partner:
    return core.partners.register(
        name=name,
        company_name=f"{name} Pvt Ltd",
        contact_email=f"ops@{name.lower()}.example.com",
        allowed_location_ids=[location],
        webhook_url=url,
        principal=ADMIN,
    ).partner


def _fill_and_queue(core: BookingCore, slots: list[Slot], per_slot: int) -> list[BookingId]:
    """Book every seat of ``slots`` (2 travelers a booking), then put ``per_slot``
    customers on each slot's waiting list; returns the bookings, slot by slot in turn."""
    phones = iter(range(10_000))
    made: list[list[BookingId]] = []
    for slot in slots:
        assert slot.capacity is not None
        made.append(
            [
                core.bookings.book(
                    BookingRequest(
                        slot.id,
                        [
                            NewTraveler(TravelerDetails(f"Early {n} T{i}"), is_primary=i == 0)
                            for i in range(2)
                        ],
                        customer=CustomerDetails(f"+9196{next(phones):08d}"),
                    ),
                    principal=ADMIN,
                ).id
                for n in range(slot.capacity // 2)
            ]
        )
        for n in range(per_slot):
            customer = core.customers.register(f"+9195{next(phones):08d}", principal=ADMIN)
            core.waitlists.join(
                slot.id, customer_id=customer.customer.id, seats=1 + n % 2, principal=ADMIN
            )
    return [booking for row in zip(*made, strict=True) for booking in row]


#: One statement, so one snapshot: each slot's seats held against what holds them
#: (bookings not cancelled, and open waiting-list offers).
CAPACITY = text(
    "SELECT s.id, s.seats_held,"
    " (SELECT coalesce(sum(b.total_travelers), 0) FROM bookings b"
    "   WHERE b.slot_id = s.id AND b.status <> 'cancelled')"
    " + (SELECT coalesce(sum(w.seats), 0) FROM waiting_lists w"
    "   WHERE w.slot_id = s.id AND w.status = 'offered')"
    " FROM slots s"
)


def test_apps_and_two_workers_relay_expire_and_deliver_everything_through_a_sigkill(
    pg_store: SqlStore, postgres_url: str, jobs_schema: str
) -> None:
    """3 app processes book and cancel (some bookings by partners, whose webhooks point
    at local receivers) while 2 workers relay the outbox, expire waiting-list offers and
    deliver webhooks; one worker is SIGKILLed and restarted. Capacity stays exact at
    every snapshot; every outbox event is published at least once and applied exactly
    once; every offer ends; every webhook is delivered (verified with the
    ``standardwebhooks`` package by the receiver) or dead."""
    core = BookingCore(
        uow_factory=pg_store.unit_of_work,
        settings=Settings(default_region="IN"),
        webhook_sender=RecordingWebhookSender(),  # schedules; only the workers send
        # The partners' receivers listen on 127.0.0.1, a private address: allowed.
        webhook_settings=WebhookSettings(allow_private_addresses=True),
    )
    slots = _slots(core, count=2, capacity=12)
    prebooked = _fill_and_queue(core, slots, per_slot=3)
    apps, attempts = 3, 18
    with contextlib.ExitStack() as stack:
        receiver = stack.enter_context(webhook_receiver())
        listening = _partner(core, "Trails", receiver.url, slots[0].location_id)
        unreachable = _partner(core, "Gone", _closed_port_url(), slots[0].location_id)
        assert listening.webhook_secret is not None
        receiver.secret = listening.webhook_secret
        workers = stack.enter_context(_workers(postgres_url, jobs_schema, ["w1", "w2"]))
        processes = [
            _start(
                postgres_url,
                jobs_schema,
                "app",
                f"--worker={n}",
                f"--attempts={attempts}",
                *(f"--slot={s.id}" for s in slots),
                *(f"--partner={p.id}" for p in (listening, unreachable)),
                *(f"--cancel={b}" for b in prebooked[n::apps]),
            )
            for n in range(apps)
        ]
        for process in processes:
            stack.callback(_stop, process)
            _wait_ready(process)
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        engine = create_engine(
            postgres_url, connect_args={"options": f"-csearch_path={jobs_schema}"}
        )
        stack.callback(engine.dispose)
        snapshots: list[list[tuple[Any, int, int]]] = []

        def count(sql: str, **params: object) -> int:
            with engine.connect() as connection:
                return int(connection.execute(text(sql), params).scalar_one())

        def sample() -> bool:
            with engine.connect() as connection:
                snapshots.append([tuple(row) for row in connection.execute(CAPACITY)])
            return False

        # Capacity is sampled all along, also while the replacement worker starts (on a
        # loaded machine the apps may finish before it is ready).
        sampling = threading.Event()

        def keep_sampling() -> None:
            while not sampling.wait(0.05):
                sample()

        sampler = threading.Thread(target=keep_sampling, daemon=True)
        sampler.start()
        stack.callback(sampler.join)
        stack.callback(sampling.set)

        def first_to_relay() -> str | None:
            with engine.connect() as connection:
                found = connection.execute(
                    text("SELECT worker FROM relay_published ORDER BY id LIMIT 1")
                ).scalar()
            return None if found is None else str(found)

        # Whichever worker relayed first is killed: on a busy machine the other one may
        # take every periodic relay for a while, and which one does is not the point.
        _wait_for(lambda: first_to_relay() is not None, "a worker relayed something")
        victim = first_to_relay()
        assert victim is not None
        assert [name for name, p in workers.items() if p.poll() is not None] == []
        workers[victim].kill()  # SIGKILL, mid-run
        workers[victim].wait()
        workers[f"{victim}b"] = _start(postgres_url, jobs_schema, "worker", f"--name={victim}b")
        _wait_ready(workers[f"{victim}b"])
        while any(process.poll() is None for process in processes):
            time.sleep(0.1)
        summaries = []
        for process in processes:
            output, errors = process.communicate(timeout=TIMEOUT)
            assert process.returncode == 0, errors
            summaries.append(json.loads(output))

        def settled() -> bool:
            sample()
            return (
                count("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
                and count("SELECT count(*) FROM waiting_lists WHERE status = 'offered'") == 0
                and count(
                    "SELECT count(*) FROM webhook_deliveries"
                    " WHERE status NOT IN ('delivered', 'dead')"
                )
                == 0
            )

        _wait_for(settled, "every event was published, every offer ended, every webhook settled")
        sampling.set()
        sampler.join()
        with engine.connect() as connection:
            outbox = set(connection.execute(text("SELECT event_id FROM outbox")).scalars())
            applied = list(connection.execute(text("SELECT event_id FROM relay_applied")).scalars())
            published = list(
                connection.execute(text("SELECT event_id FROM relay_published")).scalars()
            )
            # Periodic jobs: one job per name and due time, whatever the number of workers.
            # procrastinate remembers only a task's latest due time, so a worker that lags
            # more than a period behind (a restarted one, or one on a starved machine) may
            # defer an older due time again after a newer one went out; that is the one
            # doubling allowed (the jobs are safe to run twice, as `applied` shows below).
            doubled = connection.execute(
                text(
                    "SELECT first.args->>'job', first.args->>'timestamp', second.id"
                    " FROM procrastinate_jobs first JOIN procrastinate_jobs second"
                    " ON second.args->>'job' = first.args->>'job'"
                    " AND second.args->>'timestamp' = first.args->>'timestamp'"
                    " AND second.id > first.id"
                    " WHERE first.args ? 'timestamp' AND NOT EXISTS ("
                    "  SELECT FROM procrastinate_jobs newer"
                    "  WHERE newer.args->>'job' = first.args->>'job'"
                    "  AND (newer.args->>'timestamp')::bigint"
                    "   > (first.args->>'timestamp')::bigint"
                    "  AND newer.id > first.id AND newer.id < second.id)"
                )
            ).all()
            runs = dict(
                connection.execute(
                    text(
                        "SELECT args->>'job', count(*) FROM procrastinate_jobs"
                        " WHERE status = 'succeeded' GROUP BY 1"
                    )
                ).all()
            )
            entries = connection.execute(
                text("SELECT status, offered_at IS NOT NULL FROM waiting_lists")
            ).all()
            deliveries = connection.execute(
                text(
                    "SELECT partner_id, booking_id, topic, webhook_id, status, attempts, failures"
                    " FROM webhook_deliveries"
                )
            ).all()

    assert [s["unexpected"] for s in summaries] == [[]] * apps
    booked = {b for s in summaries for b in s["booked"]}
    cancelled = {b for s in summaries for b in s["cancelled"]}
    released = {b for s in summaries for b in s["released"]}
    by_partner = {b: p for s in summaries for b, p in s["partner_bookings"].items()}
    assert booked
    assert cancelled
    assert released == {str(b) for b in prebooked}
    assert sum(s["refused"] for s in summaries) + len(booked) == apps * attempts
    # Capacity: exact in every snapshot taken while apps and workers ran, and at the end.
    assert len(snapshots) > 10
    assert all(held == holders for snapshot in snapshots for _, held, holders in snapshot)
    mine = booked | {str(b) for b in prebooked}
    for slot in slots:
        fresh = core.catalog.get_slot(slot.id, principal=ADMIN)
        stored = core.bookings.list(
            BookingFilter(slot_id=slot.id), PageRequest(limit=500), principal=ADMIN
        ).items
        active = [b for b in stored if b.status != "cancelled"]
        assert {str(b.id) for b in stored} <= mine
        assert {str(b.id) for b in stored if b.status == "cancelled"} <= cancelled | released
        assert fresh.seats_held == sum(b.total_travelers for b in active) <= 12
    # The outbox: published at least once (some twice after the kill), applied once.
    assert len(outbox) >= len(booked) + len(cancelled) + len(released)
    assert set(applied) == outbox  # relay_applied is keyed by event id
    assert len(applied) == len(outbox)
    assert set(published) == outbox
    assert len(published) >= len(outbox)
    assert doubled == []
    assert runs.get("outbox.relay", 0) >= 2
    # Waiting lists: freed seats were offered, and every offer ended by the expiry job.
    assert runs.get("waitlists.expire_offers", 0) >= 2
    assert any(offered for _, offered in entries)
    assert {status for status, offered in entries if offered} == {"expired"}
    # Webhooks: one per partner booking created and cancelled; the listening partner
    # got each (verified, duplicates only with the same id), the unreachable one's died.
    assert by_partner
    expected = {(b, "booking.created") for b in by_partner} | {
        (b, "booking.cancelled") for b in by_partner if b in cancelled
    }
    assert {(str(d.booking_id), d.topic) for d in deliveries} == expected
    assert {str(d.partner_id) for d in deliveries} == {str(listening.id), str(unreachable.id)}
    heard = [d for d in deliveries if d.partner_id == listening.id]
    lost = [d for d in deliveries if d.partner_id == unreachable.id]
    assert {d.status for d in heard} == {"delivered"}
    # dead after 3 failed attempts (a claim lost with the killed worker counts one more)
    assert {(d.status, d.failures) for d in lost} == {("dead", 3)}
    assert all(d.attempts >= 3 for d in lost)
    assert sorted(set(receiver.ids())) == sorted(d.webhook_id for d in heard)
    assert all(r.verified for r in receiver.received)
    assert len(receiver.received) >= len(heard)
    assert runs.get("webhooks.deliver_due", 0) >= 2


def _write_bookings_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["customer_name", "customer_phone", "dealer_code", "booking_date", "external_id"]
        )
        for n in range(rows):
            phone = f"+9198{n:08d}" if n % 37 else "not a phone"
            writer.writerow([f"Customer {n}", phone, "DL01", "2026-03-05", f"EXT-{n}"])


def _summary(core: BookingCore, import_id: Any) -> tuple[object, ...]:
    job = core.imports.get(import_id, principal=ADMIN)
    errors = core.imports.errors(import_id, principal=ADMIN)
    return (
        job.status,
        job.created,
        job.updated,
        job.skipped,
        job.failed,
        tuple((e.row_number, e.error_type) for e in errors),
    )


def test_an_import_job_killed_mid_file_is_resumed_by_another_worker_with_no_duplicate(
    pg_store: SqlStore, postgres_url: str, jobs_schema: str, tmp_path: Path
) -> None:
    """Upload -> job; the worker running it is SIGKILLed mid-file; another worker resumes
    it, and the import ends exactly as an uninterrupted run (no booking twice)."""
    rows = 600
    upload = tmp_path / "bookings.csv"
    _write_bookings_csv(upload, rows)
    settings = ImportSettings(chunk_size=10)

    reference = BookingCore(uow_factory=MemoryStore().unit_of_work)
    reference.catalog.add_location("DL01", "Dealer One", principal=ADMIN)
    expected_job = reference.imports.run_file(open_rows(upload), principal=ADMIN, settings=settings)

    queue = ProcrastinateJobQueue(_queue_url(postgres_url, jobs_schema))
    core = BookingCore(uow_factory=pg_store.unit_of_work, jobs=queue)
    core.jobs.enable_imports(core.imports, open_rows)
    core.catalog.add_location("DL01", "Dealer One", principal=ADMIN)
    try:
        job = core.jobs.start_import(
            core.imports, open_rows(upload), str(upload), principal=ADMIN, settings=settings
        )
        (queued,) = [r for r in queue.list_jobs() if r.name == "imports.run"]
        assert queued.args == {"import_id": str(job.id), "path": str(upload)}
    finally:
        queue.close()

    def processed() -> int:
        return core.imports.get(job.id, principal=ADMIN).processed_rows

    with _workers(postgres_url, jobs_schema, ["first"]) as workers:
        _wait_for(lambda: processed() >= 50, "the import made progress")
        workers["first"].kill()
        workers["first"].wait()
        stopped_at = processed()
        assert 0 < stopped_at < rows, "the worker should die mid-file"
        assert core.imports.get(job.id, principal=ADMIN).status is ImportStatus.PROCESSING
        workers["second"] = _start(postgres_url, jobs_schema, "worker", "--name=second")
        _wait_ready(workers["second"])
        _wait_for(
            lambda: core.imports.get(job.id, principal=ADMIN).status.is_final,
            "the second worker finished the import",
        )

    assert _summary(core, job.id) == _summary(reference, expected_job.id)
    engine = create_engine(postgres_url, connect_args={"options": f"-csearch_path={jobs_schema}"})
    with engine.connect() as connection:
        count, distinct = connection.execute(
            text("SELECT count(*), count(DISTINCT external_id) FROM bookings")
        ).one()
    engine.dispose()
    assert count == distinct == expected_job.created
