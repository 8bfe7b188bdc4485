"""Jobs on PostgreSQL with real processes: apps booking while workers relay the outbox,
a worker killed with SIGKILL, and an import job killed mid-file and resumed elsewhere."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bookingcore import (
    BookingCore,
    BookingFilter,
    ImportSettings,
    Money,
    PageRequest,
    Principal,
    StaffId,
    StaffRole,
)
from bookingcore.domain import ImportStatus, Slot
from bookingcore.testing import SequentialIds
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


def _wait_ready(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        readable = selector.select(60)
    if readable and process.stdout.readline() == "ready\n":
        return
    process.kill()
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


def test_apps_and_two_workers_relay_every_event_once_through_a_sigkill(
    pg_store: SqlStore, postgres_url: str, jobs_schema: str
) -> None:
    """3 app processes book and cancel while 2 workers relay the outbox; one worker is
    SIGKILLed and restarted. Capacity stays exact; every outbox event is published at
    least once and applied exactly once."""
    core = BookingCore(uow_factory=pg_store.unit_of_work)
    slots = _slots(core, count=2, capacity=12)
    apps, attempts = 3, 16
    with _workers(postgres_url, jobs_schema, ["w1", "w2"]) as workers:
        processes = [
            _start(
                postgres_url,
                jobs_schema,
                "app",
                f"--worker={n}",
                f"--attempts={attempts}",
                *(f"--slot={s.id}" for s in slots),
            )
            for n in range(apps)
        ]
        with contextlib.ExitStack() as stack:
            for process in processes:
                stack.callback(process.kill)
                _wait_ready(process)
            for process in processes:
                assert process.stdin is not None
                process.stdin.write("go\n")
                process.stdin.flush()
            engine = create_engine(
                postgres_url, connect_args={"options": f"-csearch_path={jobs_schema}"}
            )
            stack.callback(engine.dispose)

            def published_by(worker: str) -> int:
                with engine.connect() as connection:
                    return int(
                        connection.execute(
                            text("SELECT count(*) FROM relay_published WHERE worker = :w"),
                            {"w": worker},
                        ).scalar_one()
                    )

            _wait_for(lambda: published_by("w1") > 0, "the first worker relayed something")
            workers["w1"].kill()  # SIGKILL, mid-run
            workers["w1"].wait()
            workers["w1b"] = _start(postgres_url, jobs_schema, "worker", "--name=w1b")
            _wait_ready(workers["w1b"])
            summaries = []
            for process in processes:
                output, errors = process.communicate(timeout=TIMEOUT)
                assert process.returncode == 0, errors
                summaries.append(json.loads(output))

            def unpublished() -> int:
                with engine.connect() as connection:
                    return int(
                        connection.execute(
                            text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                        ).scalar_one()
                    )

            _wait_for(lambda: unpublished() == 0, "every outbox event was published")
            with engine.connect() as connection:
                outbox = set(connection.execute(text("SELECT event_id FROM outbox")).scalars())
                applied = list(
                    connection.execute(text("SELECT event_id FROM relay_applied")).scalars()
                )
                published = list(
                    connection.execute(text("SELECT event_id FROM relay_published")).scalars()
                )
                # Periodic jobs: one job per name and due time, whatever the number of workers.
                doubled = connection.execute(
                    text(
                        "SELECT args->>'job', args->>'timestamp', count(*)"
                        " FROM procrastinate_jobs WHERE args ? 'timestamp'"
                        " GROUP BY 1, 2 HAVING count(*) > 1"
                    )
                ).all()
                relay_runs = connection.execute(
                    text(
                        "SELECT count(*) FROM procrastinate_jobs"
                        " WHERE args->>'job' = 'outbox.relay'"
                    )
                ).scalar_one()

    assert [s["unexpected"] for s in summaries] == [[]] * apps
    booked = {b for s in summaries for b in s["booked"]}
    cancelled = {b for s in summaries for b in s["cancelled"]}
    assert booked
    assert cancelled
    assert sum(s["refused"] for s in summaries) + len(booked) == apps * attempts
    for slot in slots:
        fresh = core.catalog.get_slot(slot.id, principal=ADMIN)
        stored = core.bookings.list(
            BookingFilter(slot_id=slot.id), PageRequest(limit=500), principal=ADMIN
        ).items
        active = [b for b in stored if b.status != "cancelled"]
        assert {str(b.id) for b in stored} <= booked
        assert {str(b.id) for b in stored if b.status == "cancelled"} <= cancelled
        assert fresh.seats_held == sum(b.total_travelers for b in active) <= 12
    assert len(outbox) >= len(booked) + len(cancelled)
    assert set(applied) == outbox  # applied once: relay_applied is keyed by event id
    assert len(applied) == len(outbox)
    assert set(published) == outbox  # published at least once (some twice after the kill)
    assert len(published) >= len(outbox)
    assert doubled == []
    assert relay_runs >= 2


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
