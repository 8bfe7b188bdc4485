"""The CLI's job commands: a worker, the list of jobs, and an operator's retry.

On SQLite (the default ``--db``) the engine is the in-process runner: the
``worker`` command runs due jobs in its own process, every second. With
``--db postgresql+psycopg://...`` it is procrastinate: run as many
``worker`` processes as you like, on as many machines; app servers defer
jobs into the same database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy.engine import make_url

from bookingcore import BookingCore, Settings
from bookingcore.domain import JobRecord, JobRequest, JobState, OutboxMessage
from bookingcore.ports.jobs import JobQueue
from bookingcore_adapters.importers import open_rows
from bookingcore_adapters.jobs import InProcessJobQueue
from bookingcore_adapters.notifications import LogNotifier
from bookingcore_adapters.sql import SqlStore

__all__ = [
    "ARCHIVE_AFTER",
    "LogPublisher",
    "NoStoredQueueError",
    "job_core",
    "list_jobs",
    "retry_job",
    "run_worker",
]

_log = logging.getLogger("bookingcore.jobs")

#: How long after its slot ended the worker's daily ``bookings.archive`` job archives a
#: settled booking.
ARCHIVE_AFTER = timedelta(days=365)


class LogPublisher:
    """An :class:`~bookingcore.ports.EventPublisher` that logs what it relays
    (pass ``--redis`` to the worker to publish to Redis streams instead)."""

    def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Log one line per message."""
        for message in messages:
            _log.info("published %s %s", message.name, message.id, extra={"event": message.name})


def is_postgres(database: str) -> bool:
    """True when ``database`` is a PostgreSQL URL."""
    return make_url(database).get_backend_name() == "postgresql"


def make_queue(database: str, *, attempts: int = 5) -> JobQueue:
    """procrastinate for a PostgreSQL ``database``, the in-process runner otherwise."""
    if is_postgres(database):
        from bookingcore_adapters.jobs.procrastinate import ProcrastinateJobQueue  # noqa: PLC0415

        return ProcrastinateJobQueue(database, max_attempts=attempts)
    return InProcessJobQueue()


@contextmanager
def job_core(database: str, *, redis_url: str | None = None) -> Iterator[BookingCore]:
    """A core over ``database`` with its job engine, the outbox relay and imports as jobs."""
    store = SqlStore(database)
    queue = make_queue(database)
    try:
        store.migrate()
        core = BookingCore(
            uow_factory=store.unit_of_work,
            settings=Settings(
                default_region="IN", outbox_relayed=True, archive_after=ARCHIVE_AFTER
            ),
            notifier=LogNotifier(),
            jobs=queue,
        )
        if redis_url is not None:
            import redis  # noqa: PLC0415

            from bookingcore_adapters.redis import RedisStreamPublisher  # noqa: PLC0415

            core.jobs.relay_outbox_to(RedisStreamPublisher(redis.Redis.from_url(redis_url)))
        else:
            core.jobs.relay_outbox_to(LogPublisher())
        core.jobs.enable_imports(core.imports, open_rows)
        yield core
    finally:
        close = getattr(queue, "close", None)
        if close is not None:
            close()
        store.dispose()


def run_worker(
    database: str,
    *,
    once: bool = False,
    concurrency: int = 1,
    interval: float = 1.0,
    apply_schema: bool = False,
    redis_url: str | None = None,
) -> int | None:
    """Run jobs until stopped (Ctrl-C, SIGTERM), or until none is due with ``once``.

    Returns how many jobs ran on the in-process runner, or ``None`` on procrastinate,
    which logs each job it runs and counts none.
    """
    with job_core(database, redis_url=redis_url) as core:
        queue = core.jobs.queue
        if isinstance(queue, InProcessJobQueue):
            ran = 0
            try:
                while True:
                    ran += queue.run_pending()
                    if once:
                        return ran
                    time.sleep(interval)
            except KeyboardInterrupt:
                return ran
        from bookingcore_adapters.jobs.procrastinate import ProcrastinateJobQueue  # noqa: PLC0415

        assert isinstance(queue, ProcrastinateJobQueue)
        if apply_schema:
            queue.apply_schema()
        if once:
            # "What is due" on a one-shot run: every periodic job now (the lock is the
            # periodic one, so a worker's own periodic defer does not double it).
            for schedule in core.jobs.catalog.schedules():
                queue.defer(JobRequest(schedule.name, schedule.args, f"periodic:{schedule.name}"))
        queue.run_worker(wait=not once, concurrency=concurrency)
        return None


class NoStoredQueueError(Exception):
    """``jobs`` and ``jobs retry`` on a database without a stored queue (SQLite).

    The in-process runner keeps its jobs in the memory of the process that runs
    them (an app server's ``queue.start()``, or ``worker``), so another process
    (this command) has nothing to list or retry; only procrastinate on PostgreSQL
    stores its queue.
    """

    def __init__(self) -> None:
        super().__init__(
            "needs a PostgreSQL --db: with this database jobs run on the "
            "in-process runner, which keeps no queue to list or retry (its jobs live in "
            "the memory of the process that runs them, an app server or `worker`, and "
            "that process's log shows each failed attempt)"
        )


#: What ``jobs`` lists without ``--state``: the jobs not finished.
OPEN_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.FAILED, JobState.DEAD)

#: The most jobs ``jobs`` lists (of each state, without ``--state``).
LISTED = 200


def list_jobs(database: str, state: JobState | None = None) -> Sequence[JobRecord]:
    """The jobs in ``state`` the engine knows, newest first; without a state, the open
    ones (:data:`OPEN_STATES`), each state asked for on its own so that the jobs
    finished since (a periodic job every few seconds) do not crowd out a dead one.

    Raises:
        NoStoredQueueError: ``database`` is not PostgreSQL, so its jobs run on the
            in-process runner of another process, which keeps no queue to list.
    """
    if not is_postgres(database):
        raise NoStoredQueueError
    with job_core(database) as core:
        queue = core.jobs.queue
        if state is not None:
            return queue.list_jobs(state=state, limit=LISTED)
        found = [r for wanted in OPEN_STATES for r in queue.list_jobs(state=wanted, limit=LISTED)]
        return sorted(found, key=lambda r: _newest_first(r.id))


def _newest_first(job_id: str) -> tuple[int, str]:
    """Engines number their jobs: the highest number is the newest."""
    return (-int(job_id), "") if job_id.isdigit() else (0, job_id)


def retry_job(database: str, job_id: str) -> JobRecord:
    """Queue a failed or dead job again.

    Raises:
        NotFoundError: no such job.
        InvalidTransitionError: the job is not failed or dead.
        NoStoredQueueError: ``database`` is not PostgreSQL (no stored queue).
    """
    if not is_postgres(database):
        raise NoStoredQueueError
    with job_core(database) as core:
        return core.jobs.queue.retry(job_id)
