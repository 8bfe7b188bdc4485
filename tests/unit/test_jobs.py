"""core.jobs: jobs deferred with their change, the library's jobs, logs and counters."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests._sqlite import sqlite_memory_store

from bookingcore import (
    BookingCore,
    BookingRequest,
    CustomerDetails,
    ImportSettings,
    Money,
    NewTraveler,
    Principal,
    Settings,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import ImportStatus, JobRequest, JobRequested, JobState
from bookingcore.errors import IdempotencyConflictError, NotFoundError
from bookingcore.ports.jobs import JobRun
from bookingcore.serialization import event_from_dict, event_to_dict
from bookingcore.services import JobAttempt, JobsNotConfiguredError
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.importers import open_rows
from bookingcore_adapters.jobs import InProcessJobQueue
from bookingcore_adapters.memory import MemoryStore


@pytest.fixture
def queue(clock: FixedClock) -> InProcessJobQueue:
    return InProcessJobQueue(clock=clock)


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def jobs_core(
    store: MemoryStore, clock: FixedClock, queue: InProcessJobQueue, notifier: RecordingNotifier
) -> BookingCore:
    return BookingCore(
        uow_factory=store.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(default_region="IN", outbox_relayed=True),
        notifier=notifier,
        jobs=queue,
    )


class Echo:
    """A job that records its arguments."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, args: Mapping[str, Any], run: JobRun) -> object:
        self.calls.append(dict(args))
        return len(self.calls)


class TestDeferringWithTheChange:
    def test_a_job_deferred_in_a_transaction_that_rolls_back_never_runs(
        self, jobs_core: BookingCore, queue: InProcessJobQueue
    ) -> None:
        """No commit, no job: the request was only in the outbox of the rolled-back change."""
        echo = Echo()
        jobs_core.jobs.register("echo", echo)
        with jobs_core.context.transaction() as tx:
            jobs_core.jobs.defer("echo", {"n": 1}, tx=tx)
        queue.run_pending()
        assert echo.calls == []
        assert [r for r in queue.list_jobs() if r.name == "echo"] == []

    def test_a_job_deferred_in_a_committed_transaction_reaches_the_engine_after_commit(
        self, jobs_core: BookingCore, queue: InProcessJobQueue
    ) -> None:
        """The request commits with the change, then the engine has it and runs it once."""
        echo = Echo()
        jobs_core.jobs.register("echo", echo)
        with jobs_core.context.transaction() as tx:
            jobs_core.jobs.defer("echo", {"booking_id": "b-1"}, lock="echo:b-1", tx=tx)
            assert queue.list_jobs() == []  # not before commit
            tx.commit()
        (record,) = queue.list_jobs()
        assert (record.name, record.state, record.lock) == ("echo", JobState.QUEUED, "echo:b-1")
        queue.run_pending()
        queue.run_pending()
        assert echo.calls == [{"booking_id": "b-1"}]

    def test_with_deferred_dispatch_the_events_dispatch_job_hands_requests_over(
        self, store: MemoryStore, clock: FixedClock, queue: InProcessJobQueue
    ) -> None:
        """A request left in the outbox (a crash after commit) is handed over by events.dispatch."""
        core = BookingCore(
            uow_factory=store.unit_of_work, clock=clock, jobs=queue, dispatch="deferred"
        )
        echo = Echo()
        core.jobs.register("echo", echo)
        core.jobs.defer("echo", {"n": 7})
        assert queue.list_jobs() == []
        queue.run_pending()  # events.dispatch (due at once) queues it; the same call runs it
        assert echo.calls == [{"n": 7}]

    def test_unknown_names_and_arguments_that_are_not_json_are_refused(
        self, jobs_core: BookingCore
    ) -> None:
        with pytest.raises(NotFoundError):
            jobs_core.jobs.defer("no.such.job")
        jobs_core.jobs.register("echo", Echo())
        with pytest.raises(ValidationError) as raised:
            jobs_core.jobs.defer("echo", {"when": object()})
        assert raised.value.errors[0].field == "args"

    def test_a_core_without_a_queue_says_so(self, core: BookingCore) -> None:
        with pytest.raises(JobsNotConfiguredError):
            core.jobs.queue.list_jobs()
        assert "events.dispatch" in core.jobs.catalog.names()

    def test_a_core_without_a_queue_refuses_to_defer_rather_than_lose_the_job(
        self, core: BookingCore, tmp_path: Path, admin: Principal
    ) -> None:
        """Without a queue nothing hands a request to an engine (the dispatcher marks
        it dispatched with no handler): defer and start_import say so, record nothing."""
        echo = Echo()
        core.jobs.register("echo", echo)
        with pytest.raises(JobsNotConfiguredError):
            core.jobs.defer("echo", {"n": 1})
        core.jobs.enable_imports(core.imports, open_rows)
        upload = tmp_path / "bookings.csv"
        upload.write_text(
            "customer_name,customer_phone,dealer_code,booking_date\n"
            "C1,+919800000001,DL01,2026-03-05\n",
            encoding="utf-8",
        )
        with pytest.raises(JobsNotConfiguredError):
            core.jobs.start_import(core.imports, open_rows(upload), str(upload), principal=admin)
        assert core.imports.list(principal=admin).items == []

    def test_a_job_request_survives_the_sql_outbox(self) -> None:
        """JobRequested round-trips through the outbox serialization."""
        event = JobRequested(
            id=SequentialIds().new_id(),
            occurred_at=FixedClock().now(),
            job="imports.run",
            args={"import_id": "x", "n": [1, 2]},
            lock="import:x",
        )
        assert event_from_dict(event_to_dict(event)) == event


class TestLibraryJobs:
    def test_the_library_registers_its_periodic_jobs(self, jobs_core: BookingCore) -> None:
        schedules = {s.name: s.every for s in jobs_core.jobs.catalog.schedules()}
        assert schedules == {
            "auth.cleanup": timedelta(minutes=15),
            "certificates.renewal_reminders": timedelta(days=1),
            "communications.resend_stalled": timedelta(minutes=5),
            "events.dispatch": timedelta(seconds=10),
            "outbox.prune": timedelta(hours=1),
            "reminders.send_due": timedelta(minutes=5),
            "waitlists.expire_offers": timedelta(seconds=30),
        }
        # no webhook sender is wired, so no webhook job
        assert "webhooks.deliver_due" not in jobs_core.jobs.catalog.names()

    def test_certificate_renewal_reminders_go_out_daily_once_per_certificate(
        self,
        jobs_core: BookingCore,
        queue: InProcessJobQueue,
        notifier: RecordingNotifier,
        clock: FixedClock,
        admin: Principal,
    ) -> None:
        """docs/certificates.md's "run daily": the job reminds a certificate expiring within
        the lead once, however often it runs."""
        location = jobs_core.catalog.add_location("REEF", "House reef", principal=admin)
        slot = jobs_core.catalog.create_slot(
            location_id=location.id,
            starts_at=clock.now() + timedelta(days=10),
            price_per_traveler=Money("100", "INR"),
            capacity=4,
            principal=admin,
        )
        booking = jobs_core.bookings.book(
            BookingRequest(
                slot.id,
                [NewTraveler(TravelerDetails("Ravi"), is_primary=True)],
                customer=CustomerDetails("+919812345679", "Ravi", "ravi@example.com"),
            ),
            principal=admin,
        )
        jobs_core.bookings.transition(booking.id, "confirmed", principal=admin)
        jobs_core.bookings.transition(booking.id, "completed", principal=admin)
        jobs_core.certificates.issue(
            booking.id,
            kind="PADI Open Water",
            number="OW-1",
            expires_at=clock.now() + timedelta(days=20),
            principal=admin,
        )
        queue.run_pending()
        clock.advance(days=1)
        queue.run_pending()
        sent = jobs_core.communications.for_booking(booking.id, principal=admin)
        reminders = [m for m in sent if m.type.value == "certificate"]
        assert [m.recipient for m in reminders] == ["ravi@example.com"]
        counters = jobs_core.jobs.counters.snapshot()
        assert counters[("certificates.renewal_reminders", "succeeded")] == 2

    def test_a_library_job_can_be_rescheduled_keeping_its_handler(
        self, jobs_core: BookingCore, queue: InProcessJobQueue
    ) -> None:
        jobs_core.jobs.reschedule("waitlists.expire_offers", timedelta(seconds=2))
        jobs_core.jobs.reschedule("auth.cleanup", None)
        schedules = {s.name: s.every for s in jobs_core.jobs.catalog.schedules()}
        assert schedules["waitlists.expire_offers"] == timedelta(seconds=2)
        assert "auth.cleanup" not in schedules
        assert "auth.cleanup" in jobs_core.jobs.catalog  # still runs on demand
        jobs_core.jobs.defer("auth.cleanup")
        queue.run_pending()
        ran = {record.name: record.state for record in queue.list_jobs()}
        assert ran["auth.cleanup"] is JobState.SUCCEEDED
        with pytest.raises(NotFoundError):
            jobs_core.jobs.reschedule("no.such.job", timedelta(seconds=5))
        with pytest.raises(ValidationError) as raised:
            jobs_core.jobs.reschedule("waitlists.expire_offers", timedelta(milliseconds=10))
        assert raised.value.fields == ("every",)

    def test_a_reminder_is_delivered_by_the_in_process_runner_once(
        self,
        jobs_core: BookingCore,
        queue: InProcessJobQueue,
        notifier: RecordingNotifier,
        clock: FixedClock,
        admin: Principal,
    ) -> None:
        """The reminders job sends a due booking its reminder, and never a second one."""
        location = jobs_core.catalog.add_location("BC", "Base camp", principal=admin)
        slot = jobs_core.catalog.create_slot(
            location_id=location.id,
            starts_at=clock.now() + timedelta(hours=6),
            price_per_traveler=Money("100", "INR"),
            capacity=4,
            principal=admin,
        )
        booking = jobs_core.bookings.book(
            BookingRequest(
                slot.id,
                [NewTraveler(TravelerDetails("Asha"), is_primary=True)],
                customer=CustomerDetails("+919812345678"),
            ),
            principal=admin,
        )
        queue.run_pending()
        clock.advance(minutes=5)
        queue.run_pending()
        assert [m.recipient for m in notifier.sent] == ["+919812345678"]
        reminders = jobs_core.communications.for_booking(booking.id, principal=admin)
        assert [m.type.value for m in reminders] == ["reminder"]
        assert jobs_core.jobs.counters.snapshot()[("reminders.send_due", "succeeded")] == 2

    def test_offer_expiry_always_runs_and_webhooks_run_when_a_sender_is_wired(
        self, store: MemoryStore, clock: FixedClock, queue: InProcessJobQueue
    ) -> None:
        """Both periodic jobs call their services with the clock's time and succeed."""
        from bookingcore.domain import JobState  # noqa: PLC0415
        from bookingcore.testing import RecordingWebhookSender  # noqa: PLC0415

        core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=clock,
            jobs=queue,
            webhook_sender=RecordingWebhookSender(),
        )
        names = set(core.jobs.catalog.names())
        assert {"waitlists.expire_offers", "webhooks.deliver_due"} <= names
        queue.run_pending()
        ran = {record.name: record.state for record in queue.list_jobs()}
        assert ran["waitlists.expire_offers"] is JobState.SUCCEEDED
        assert ran["webhooks.deliver_due"] is JobState.SUCCEEDED

    def test_the_outbox_relay_job_publishes_each_event(
        self, jobs_core: BookingCore, queue: InProcessJobQueue, admin: Principal
    ) -> None:
        from bookingcore.testing import RecordingPublisher  # noqa: PLC0415

        publisher = RecordingPublisher()
        jobs_core.jobs.relay_outbox_to(publisher)
        requested = jobs_core.jobs.defer("auth.cleanup")
        queue.run_pending()
        queue.run_pending()
        with jobs_core.context.uow_factory() as uow:
            assert uow.outbox.list_unpublished(100) == []
        assert [m.id for m in publisher.published] == [requested]

    def test_a_failing_job_is_logged_with_its_fields_and_counted(
        self, jobs_core: BookingCore, queue: InProcessJobQueue, caplog: pytest.LogCaptureFixture
    ) -> None:
        def broken(args: Mapping[str, Any], run: JobRun) -> object:
            msg = "gateway down"
            raise ConnectionError(msg)

        jobs_core.jobs.register("notify.partner", broken)
        queue.defer(JobRequest("notify.partner", {"booking_id": "b-9", "partner_id": "p-3"}))
        with caplog.at_level(logging.WARNING, logger="bookingcore.jobs"):
            queue.run_pending()
        (record,) = [r for r in caplog.records if getattr(r, "job", None) == "notify.partner"]
        assert (record.booking, record.partner, record.attempt) == ("b-9", "p-3", 1)  # type: ignore[attr-defined]
        assert jobs_core.jobs.counters.snapshot()[("notify.partner", "failed")] == 1
        (failed,) = queue.list_jobs(state=JobState.FAILED)
        assert failed.last_error == "ConnectionError: gateway down"


def test_an_upload_becomes_an_import_job_with_progress_on_sqlite(
    tmp_path: Path, clock: FixedClock, admin: Principal
) -> None:
    """Upload -> job in one transaction; the in-process runner imports it."""
    upload = tmp_path / "bookings.csv"
    upload.write_text(
        "customer_name,customer_phone,dealer_code,booking_date,external_id\n"
        + "".join(f"C{n},+9198{n:08d},DL01,2026-03-05,E{n}\n" for n in range(1, 8)),
        encoding="utf-8",
    )
    store = sqlite_memory_store()
    queue = InProcessJobQueue(clock=clock)
    core = BookingCore(uow_factory=store.unit_of_work, clock=clock, jobs=queue)
    core.jobs.enable_imports(core.imports, open_rows)
    core.catalog.add_location("DL01", "Dealer One", principal=admin)
    job = core.jobs.start_import(
        core.imports,
        open_rows(upload),
        str(upload),
        principal=admin,
        settings=ImportSettings(chunk_size=3),
    )
    assert core.imports.get(job.id, principal=admin).status is ImportStatus.PENDING
    (queued,) = [r for r in queue.list_jobs() if r.name == "imports.run"]
    assert queued.lock == f"import:{job.id}"
    queue.run_pending()
    done = core.imports.get(job.id, principal=admin)
    assert (done.status, done.created, done.processed_rows) == (ImportStatus.COMPLETED, 7, 7)
    # Run twice (a redelivery): the finished import is returned as it is.
    again = core.jobs.catalog.run("imports.run", queued.args, JobAttempt("x", "imports.run", 2))
    assert str(again) == "COMPLETED: 7/7 rows"
    assert core.imports.get(job.id, principal=admin).created == 7
    store.dispose()


def test_a_keyed_upload_retried_from_another_path_defers_one_run(
    tmp_path: Path, clock: FixedClock, admin: Principal
) -> None:
    """The same file uploaded again (another path) with the first upload's key answers
    the first import job and defers no second run; another file with the key is refused."""
    rows = (
        "customer_name,customer_phone,dealer_code,booking_date\nC1,+919800000001,DL01,2026-03-05\n"
    )
    first_upload, second_upload, other_upload = (
        tmp_path / name for name in ("a.csv", "b.csv", "c.csv")
    )
    for upload in (first_upload, second_upload):
        upload.write_text(rows, encoding="utf-8")
    other_upload.write_text(rows + "C2,+919800000002,DL01,2026-03-05\n", encoding="utf-8")
    store = sqlite_memory_store()
    queue = InProcessJobQueue(clock=clock)
    core = BookingCore(uow_factory=store.unit_of_work, clock=clock, jobs=queue)
    core.jobs.enable_imports(core.imports, open_rows)

    def upload(path: Path) -> Any:
        source = open_rows(path, filename="bookings.csv")
        return core.jobs.start_import(
            core.imports, source, str(path), principal=admin, idempotency_key="up-1"
        )

    job = upload(first_upload)
    assert upload(second_upload).id == job.id
    assert len([r for r in queue.list_jobs() if r.name == "imports.run"]) == 1
    with pytest.raises(IdempotencyConflictError):
        upload(other_upload)
    assert [j.id for j in core.imports.list(principal=admin).items] == [job.id]
    store.dispose()


def test_the_in_process_runner_forgets_old_succeeded_jobs(
    queue: InProcessJobQueue, clock: FixedClock
) -> None:
    """A runner that works for months (a periodic job every few seconds) keeps the
    newest 1000 succeeded jobs, and every failed or dead one, not every job it ran."""
    from bookingcore.services.jobs import JobCatalog  # noqa: PLC0415

    def broken(args: Mapping[str, Any], run: JobRun) -> object:
        msg = "gateway down"
        raise ConnectionError(msg)

    catalog = JobCatalog()
    catalog.register("tick", lambda args, run: None, every=timedelta(seconds=5))
    catalog.register("broken", broken)
    queue.bind(catalog)
    dead_id = queue.defer(JobRequest("broken"))
    for _ in range(1500):
        queue.run_pending()
        clock.advance(seconds=5)
    succeeded = queue.list_jobs(state=JobState.SUCCEEDED, limit=10_000)
    assert len(succeeded) == 1000
    assert succeeded[0].id == queue.list_jobs(limit=1)[0].id  # the newest are kept
    assert [r.id for r in queue.list_jobs(state=JobState.DEAD)] == [dead_id]
    assert len(queue.list_jobs(limit=10_000)) == 1001
    with pytest.raises(ValidationError):
        InProcessJobQueue(keep_succeeded=-1)
