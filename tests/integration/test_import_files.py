"""Uploaded import files are kept until ``Settings.import_file_retention`` after the import
finished, then deleted once by ``imports.purge_files``, on every backend, on a real disk."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from tests._threads import at_once
from tests.integration._sources import ListSource

from bookingcore import (
    BookingCore,
    ImportSettings,
    NotFoundError,
    Principal,
    RandomIds,
    Settings,
    StaffId,
    StaffRole,
    ValidationError,
)
from bookingcore.domain import ImportJob, ImportStatus
from bookingcore.ports import IdGenerator
from bookingcore.services import ImportFilePurgedError, JobAttempt
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.filestore import FileSystemDocumentStore
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
WORKER = Principal.system("tests")
HEADER = ("customer_name", "customer_phone", "dealer_code", "booking_date")
RETENTION = timedelta(days=7)


class CountingStore(FileSystemDocumentStore):
    """The file system store, counting the deletes that found a file."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.deleted: list[str] = []
        self._lock = threading.Lock()

    def delete(self, key: str) -> bool:
        found = super().delete(key)
        if found:
            with self._lock:
                self.deleted.append(key)
        return found


def _core(
    store: MemoryStore | SqlStore,
    files: FileSystemDocumentStore | None,
    clock: FixedClock,
    *,
    ids: IdGenerator | None = None,
) -> BookingCore:
    return BookingCore(
        uow_factory=store.unit_of_work,
        clock=clock,
        ids=ids or SequentialIds(),
        settings=Settings(import_file_retention=RETENTION),
        import_files=files,
    )


def _source(n: int, *, valid: bool = True) -> ListSource:
    phone = f"+9198{n:08d}" if valid else "not a phone"
    return ListSource(HEADER, [(f"Customer {n}", phone, "DL01", "2026-03-05")], f"b{n}.csv")


def _imported(core: BookingCore, n: int, *, valid: bool = True) -> ImportJob:
    source = _source(n, valid=valid)
    job = core.imports.run_file(source, principal=ADMIN)
    core.imports.keep_file(job.id, f"file {n}".encode(), principal=ADMIN)
    return job


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def files(tmp_path: Path) -> CountingStore:
    return CountingStore(tmp_path / "uploads")


@pytest.fixture
def core(any_store: MemoryStore | SqlStore, files: CountingStore, clock: FixedClock) -> BookingCore:
    made = _core(any_store, files, clock)
    made.catalog.add_location("DL01", "Dealer One", principal=ADMIN)
    return made


def _kept(files: FileSystemDocumentStore, job: ImportJob) -> bool:
    return files.path(f"{job.id}.import").exists()


class TestRetention:
    def test_only_files_of_imports_finished_past_the_retention_are_deleted_and_marked(
        self, core: BookingCore, files: CountingStore, clock: FixedClock
    ) -> None:
        completed = _imported(core, 1)
        cancelled = core.imports.start(_source(2), principal=ADMIN)
        core.imports.keep_file(cancelled.id, b"two", principal=ADMIN)
        core.imports.cancel(cancelled.id, principal=ADMIN)
        pending = core.imports.start(_source(3), principal=ADMIN)
        core.imports.keep_file(pending.id, b"three", principal=ADMIN)
        clock.advance(days=3)
        recent = _imported(core, 4)
        clock.advance(RETENTION - timedelta(days=3) + timedelta(seconds=1))

        assert core.imports.purge_files(principal=WORKER) == 2

        for job in (completed, cancelled):
            assert not _kept(files, job)
            assert core.imports.get(job.id, principal=ADMIN).file_purged_at == clock.now()
        for job in (pending, recent):  # still running, and finished 4 days ago
            assert _kept(files, job)
            assert core.imports.get(job.id, principal=ADMIN).file_purged_at is None
        entries = core.audit.trail("import", completed.id, principal=ADMIN)
        assert entries[-1].new_values["file_deleted"] is True
        assert core.imports.purge_files(principal=WORKER) == 0  # done is done
        assert sorted(files.deleted) == sorted(f"{j.id}.import" for j in (completed, cancelled))

    def test_a_retry_restarts_the_retention_from_its_own_end(
        self, core: BookingCore, files: CountingStore, clock: FixedClock
    ) -> None:
        failing = _imported(core, 1, valid=False)
        assert failing.failed == 1
        clock.advance(days=6)
        retried = core.imports.retry(failing.id, principal=ADMIN)
        assert retried.status is ImportStatus.COMPLETED
        clock.advance(days=2)  # 8 days after the first run, 2 after the retry
        assert core.imports.purge_files(principal=WORKER) == 0
        assert _kept(files, failing)
        clock.advance(RETENTION)
        assert core.imports.purge_files(principal=WORKER) == 1
        assert not _kept(files, failing)

    def test_a_file_deleted_by_hand_still_marks_its_job_once(
        self, core: BookingCore, files: CountingStore, clock: FixedClock
    ) -> None:
        job = _imported(core, 1)
        files.path(f"{job.id}.import").unlink()
        clock.advance(RETENTION * 2)
        assert core.imports.purge_files(principal=WORKER) == 1
        assert files.deleted == []
        history = core.audit.trail("import", job.id, principal=ADMIN)
        assert history[-1].new_values["file_deleted"] is False

    def test_two_workers_purging_at_once_delete_and_mark_each_file_once(
        self,
        any_store: MemoryStore | SqlStore,
        core: BookingCore,
        files: CountingStore,
        clock: FixedClock,
    ) -> None:
        jobs = [_imported(core, n) for n in range(1, 7)]
        clock.advance(RETENTION * 2)
        # each worker is another process: ids of its own
        workers = [_core(any_store, files, clock, ids=RandomIds()) for _ in range(2)]

        results = at_once(2, lambda i: workers[i].imports.purge_files(principal=WORKER, limit=2))

        assert not [r for r in results if isinstance(r, Exception)], results
        assert sum(results) == len(jobs)
        assert sorted(files.deleted) == sorted(f"{job.id}.import" for job in jobs)
        for job in jobs:
            marks = [
                entry
                for entry in core.audit.trail("import", job.id, principal=ADMIN)
                if "file_purged_at" in (entry.new_values or {})
            ]
            assert len(marks) == 1


class TestAfterThePurge:
    def test_the_file_answers_a_typed_error_and_a_retry_still_replays_stored_rows(
        self, core: BookingCore, clock: FixedClock
    ) -> None:
        job = _imported(core, 1, valid=False)
        assert core.imports.kept_file(job.id, principal=ADMIN) == b"file 1"
        clock.advance(RETENTION * 2)
        core.imports.purge_files(principal=WORKER)

        with pytest.raises(ImportFilePurgedError) as raised:
            core.imports.kept_file(job.id, principal=ADMIN)
        assert isinstance(raised.value, NotFoundError)
        assert raised.value.details()["purged_at"] == clock.now().isoformat()
        assert raised.value.code == "import_file_purged"
        with pytest.raises(ImportFilePurgedError):
            core.imports.keep_file(job.id, b"again", principal=ADMIN)
        retried = core.imports.retry(job.id, principal=ADMIN)  # the rows are stored, not the file
        assert (retried.status, retried.failed) == (ImportStatus.COMPLETED, 1)

    def test_a_repeated_run_job_of_a_purged_import_answers_without_opening_the_file(
        self, core: BookingCore, clock: FixedClock
    ) -> None:
        opened: list[str] = []

        def open_source(path: str) -> ListSource:
            opened.append(path)
            raise FileNotFoundError(path)

        core.jobs.enable_imports(core.imports, open_source)
        job = _imported(core, 1)
        clock.advance(RETENTION * 2)
        core.imports.purge_files(principal=WORKER)
        answer = core.jobs.catalog.run(
            "imports.run",
            {"import_id": str(job.id), "path": "/gone.csv"},
            JobAttempt("j1", "imports.run"),
        )
        assert answer == "COMPLETED: 1/1 rows"
        assert opened == []


class TestWiring:
    def test_without_a_store_nothing_is_purged_and_keeping_a_file_says_why(
        self, any_store: MemoryStore | SqlStore, clock: FixedClock
    ) -> None:
        core = _core(any_store, None, clock)
        assert "imports.purge_files" not in core.jobs.catalog.names()
        assert core.imports.purge_files(principal=WORKER) == 0
        job = core.imports.start(_source(1), principal=ADMIN, settings=ImportSettings())
        with pytest.raises(ValidationError) as raised:
            core.imports.keep_file(job.id, b"x", principal=ADMIN)
        assert raised.value.errors[0].code == "not_configured"

    def test_the_purge_job_runs_hourly_unless_files_are_kept_forever(
        self, any_store: MemoryStore | SqlStore, files: CountingStore, clock: FixedClock
    ) -> None:
        core = _core(any_store, files, clock)
        schedules = {s.name: s.every for s in core.jobs.catalog.schedules()}
        assert schedules["imports.purge_files"] == timedelta(hours=1)
        forever = BookingCore(
            uow_factory=any_store.unit_of_work,
            settings=Settings(import_file_retention=None),
            import_files=files,
        )
        assert "imports.purge_files" not in forever.jobs.catalog.names()
        with pytest.raises(ValidationError) as raised:
            Settings(import_file_retention=timedelta(0))
        assert raised.value.fields == ("import_file_retention",)
