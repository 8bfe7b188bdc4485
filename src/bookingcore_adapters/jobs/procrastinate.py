"""procrastinate on PostgreSQL behind :class:`~bookingcore.ports.JobQueue` (extra ``jobs``).

Jobs wait in procrastinate's tables in the application's PostgreSQL: no
broker to run. Every worker listens on the same queue; a job is taken by one
worker (``FOR UPDATE SKIP LOCKED`` inside procrastinate), retried with
exponential backoff up to ``max_attempts``, then left ``failed`` (reported
here as ``dead``) for an operator's retry. Periodic jobs use procrastinate's
periodic tasks, so each due time is deferred once however many workers run.

Apply procrastinate's schema once per database before the first worker
starts: ``procrastinate --app=... schema --apply``, or
:meth:`ProcrastinateJobQueue.apply_schema` (what the tests and the CLI's
``worker --apply-schema`` do).

All of bookingcore's jobs go through one procrastinate task,
``bookingcore.run`` with arguments ``job`` and ``args``, so a worker needs no
import path: it runs whatever names the bound registry has.

.. versionadded:: 0.1
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued, UniqueViolation
from procrastinate.jobs import Job as ProcrastinateJob
from procrastinate.jobs import Status as ProcrastinateStatus
from sqlalchemy.engine import make_url

from bookingcore.domain.jobs import JobRecord, JobRequest, JobState
from bookingcore.errors import InvalidTransitionError, NotFoundError, ValidationError
from bookingcore.ports.jobs import JobRegistry
from bookingcore.services.jobs import JobAttempt

__all__ = [
    "PRUNE_TASK_NAME",
    "STALLED_TASK_NAME",
    "TASK_NAME",
    "ProcrastinateJobQueue",
    "cron_of",
    "libpq_url",
]

_log = logging.getLogger("bookingcore.jobs")

#: The one procrastinate task every bookingcore job runs through.
TASK_NAME = "bookingcore.run"

#: The periodic task that puts back the jobs of workers that died (no heartbeat).
STALLED_TASK_NAME = "bookingcore.retry_stalled"

#: The hourly task that deletes the rows of jobs finished longer than ``keep_finished`` ago.
#:
#: .. versionadded:: 0.4
PRUNE_TASK_NAME = "bookingcore.prune_finished"

#: Every procrastinate task bookingcore defines: the stalled check requeues any of them
#: that a dead worker left running.
_OWN_TASKS = frozenset({TASK_NAME, STALLED_TASK_NAME, PRUNE_TASK_NAME})

_STATUSES: Mapping[str, JobState] = {
    "doing": JobState.RUNNING,
    "succeeded": JobState.SUCCEEDED,
    "failed": JobState.DEAD,
    "cancelled": JobState.CANCELLED,
    "aborting": JobState.CANCELLED,
    "aborted": JobState.CANCELLED,
}


#: The procrastinate status a state is read from, for the states that have one alone.
_STATUS_OF: Mapping[JobState, str] = {
    JobState.QUEUED: "todo",
    JobState.FAILED: "todo",
    JobState.RUNNING: "doing",
    JobState.SUCCEEDED: "succeeded",
    JobState.DEAD: "failed",
}


def libpq_url(url: str) -> str:
    """A libpq connection string for an SQLAlchemy URL (``postgresql+psycopg://`` -> ``postgresql://``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        msg = f"procrastinate needs PostgreSQL, not {parsed.get_backend_name()}"
        raise ValidationError.single("url", msg, "invalid_choice")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def cron_of(every: timedelta) -> str:
    """The cron line (seconds as a 6th column when needed) of a period of ``every``.

    Raises:
        ValidationError: on ``every`` when it does not divide a minute, an hour or a day.
    """
    seconds = int(every.total_seconds())
    if seconds == every.total_seconds():
        if seconds < 60 and 60 % seconds == 0:
            return f"* * * * * */{seconds}"
        if seconds % 60 == 0 and seconds < 3600 and 3600 % seconds == 0:
            return f"*/{seconds // 60} * * * *"
        if seconds % 3600 == 0 and seconds < 86400 and 86400 % seconds == 0:
            return f"0 */{seconds // 3600} * * *"
        if seconds == 86400:
            return "0 0 * * *"
    msg = f"{every} does not divide a minute, an hour or a day evenly"
    raise ValidationError.single("every", msg, "invalid")


def _state(job: ProcrastinateJob) -> JobState:
    if job.status == "todo":
        return JobState.FAILED if job.attempts else JobState.QUEUED
    return _STATUSES.get(str(job.status), JobState.QUEUED)


class ProcrastinateJobQueue:
    """A :class:`~bookingcore.ports.JobQueue` on procrastinate over PostgreSQL.

    Args:
        url: the database (an SQLAlchemy ``postgresql+psycopg://`` URL or a
            libpq one); usually the application's own database.
        queue: the procrastinate queue bookingcore's jobs go to.
        max_attempts: tries of a failing job (the first included) before it is dead.
        backoff_seconds: the base of the exponential wait between tries
            (``backoff ** (attempt + 1)`` seconds; ``0`` retries at once).
        pool: keyword arguments for procrastinate's connection pool
            (``min_size``, ``max_size`` ...).
        stalled_after: seconds without a heartbeat after which a worker counts
            as dead; its running jobs of bookingcore's tasks on ``queue`` (the
            jobs, and the stalled check and prune tasks themselves) are queued
            again, or aborted when the same job already waits under its
            queueing lock (checked every ``stalled_check`` by
            :data:`STALLED_TASK_NAME`, on one worker).
        stalled_check: how often, as a period that divides a minute or an hour.
        heartbeat: seconds between a worker's heartbeats (below ``stalled_after``).
        keep_finished: how long the rows of succeeded and cancelled jobs stay in
            procrastinate's table (7 days by default, whole hours) before the hourly
            :data:`PRUNE_TASK_NAME` deletes them; periodic jobs add tens of
            thousands a day. Dead jobs stay for an operator. ``None`` keeps every row.

    Raises:
        ValidationError: on ``max_attempts`` below 1, on ``keep_finished`` under an hour.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4 ``keep_finished``; before, finished jobs were kept for good.
       The stalled check requeues bookingcore's periodic tasks too; it requeued
       only ``bookingcore.run`` jobs.
    """

    def __init__(
        self,
        url: str,
        *,
        queue: str = "bookingcore",
        max_attempts: int = 5,
        backoff_seconds: int = 2,
        pool: Mapping[str, Any] | None = None,
        stalled_after: float = 30,
        stalled_check: timedelta = timedelta(seconds=10),
        heartbeat: float = 10,
        keep_finished: timedelta | None = timedelta(days=7),
    ) -> None:
        conninfo = libpq_url(url) if "+" in url.split("://", 1)[0] else url
        self.queue_name = queue
        self.app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(conninfo=conninfo, **dict(pool or {}))
        )
        self._registry: JobRegistry | None = None
        self._open = False
        self._periodic_registered = False
        if max_attempts < 1:
            raise ValidationError.single("max_attempts", "must be at least 1", "too_small")
        if keep_finished is not None and keep_finished < timedelta(hours=1):
            raise ValidationError.single("keep_finished", "must be an hour or more", "too_small")
        self.keep_finished = keep_finished
        # procrastinate counts the retries after the first try (and reads 0 as "no limit").
        retry = (
            procrastinate.RetryStrategy(
                max_attempts=max_attempts - 1, exponential_wait=backoff_seconds
            )
            if max_attempts > 1
            else False
        )

        def run(
            context: procrastinate.JobContext, /, job: str, args: dict[str, Any], **_: Any
        ) -> Any:
            return self._run(context, job, args)

        self._task = self.app.task(name=TASK_NAME, queue=queue, pass_context=True, retry=retry)(run)
        self.heartbeat = heartbeat
        self.stalled_after = stalled_after
        self.stalled_check = stalled_check
        manager = self.app.job_manager

        async def retry_stalled(timestamp: int) -> int:
            # Every task of bookingcore's on its queue: its jobs, and its own periodic
            # tasks (this check, the prune), which would otherwise stay "doing" for good.
            stalled = await manager.get_stalled_jobs(
                queue=queue, seconds_since_heartbeat=stalled_after
            )
            count = 0
            for job in stalled:
                if job.task_name not in _OWN_TASKS:
                    continue
                name = job.task_kwargs.get("job") or job.task_name
                extra = {"job": name, "job_id": str(job.id)}
                try:
                    await manager.retry_job(job)
                except UniqueViolation as exc:
                    if exc.queueing_lock is None:
                        raise
                    # The same job waits already under its queueing lock (a periodic
                    # task deferred again, a keyed job): that one does the work.
                    _log.warning(
                        "job %s %s was running on a worker that died; the same job is "
                        "queued already, so this one is aborted",
                        name,
                        job.id,
                        extra=extra,
                    )
                    await manager.finish_job(
                        job, status=ProcrastinateStatus.ABORTED, delete_job=False
                    )
                    continue
                _log.warning(
                    "job %s %s was running on a worker that died; queued again",
                    name,
                    job.id,
                    extra=extra,
                )
                count += 1
            return count

        self._stalled_task = self.app.task(
            name=STALLED_TASK_NAME, queue=queue, queueing_lock=f"{queue}:{STALLED_TASK_NAME}"
        )(retry_stalled)
        hours = None if keep_finished is None else int(keep_finished.total_seconds() // 3600)

        async def prune_finished(timestamp: int) -> None:
            if hours is not None:
                await manager.delete_old_jobs(
                    hours, queue=queue, include_cancelled=True, include_aborted=True
                )

        self._prune_task = self.app.task(
            name=PRUNE_TASK_NAME, queue=queue, queueing_lock=f"{queue}:{PRUNE_TASK_NAME}"
        )(prune_finished)

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> None:
        """Open the connection pool for deferring and listing (workers open their own)."""
        if not self._open:
            self.app.open()
            self._open = True

    def close(self) -> None:
        """Close what :meth:`open` opened."""
        if self._open:
            self.app.close()
            self._open = False

    def apply_schema(self) -> None:
        """Create procrastinate's tables and functions in the database, unless it has
        them already (so a deployment step may run it on every release).

        A database whose schema came from an older procrastinate is left as it is:
        upgrade it with procrastinate's migrations (see its documentation).

        .. versionchanged:: 0.4 a database that has the schema is left as it is;
           applying it again failed.
        """
        self.open()
        if self.app.job_manager.check_connection():  # procrastinate_jobs is there
            return
        self.app.schema_manager.apply_schema()

    # ------------------------------------------------------------------ the port

    def bind(self, registry: JobRegistry) -> None:
        """Take the job names and schedules to run."""
        self._registry = registry

    def defer(self, request: JobRequest) -> str | None:
        """Queue ``request`` in procrastinate (``lock`` is its queueing lock)."""
        if request.name not in self._bound().names():
            raise NotFoundError("job", request.name)
        self.open()
        try:
            job_id = self._task.configure(queueing_lock=request.lock).defer(
                job=request.name, args=dict(request.args)
            )
        except AlreadyEnqueued:
            return None
        return str(job_id)

    def list_jobs(self, *, state: JobState | None = None, limit: int = 100) -> Sequence[JobRecord]:
        """bookingcore's jobs in procrastinate's table, newest first."""
        self.open()
        status = None if state is None else _STATUS_OF.get(state)
        found = self.app.job_manager.list_jobs(task=TASK_NAME, queue=self.queue_name, status=status)
        records = [self._record(job) for job in found]
        if state is not None:
            records = [r for r in records if r.state is state]
        records.sort(key=lambda r: int(r.id), reverse=True)
        return records[:limit]

    def retry(self, job_id: str) -> JobRecord:
        """Queue a failed (dead) or retrying job again, to run now.

        A dead job (procrastinate's ``failed``) is retried through procrastinate; a
        job waiting for its next attempt (``todo``, its backoff not over) is made
        due now, keeping its attempts.
        """
        self.open()
        found = self._get(job_id)
        if found.state is JobState.FAILED:
            # procrastinate retries only jobs that are doing or failed: a job waiting
            # for its backoff is brought forward instead (a no-op if a worker took it).
            self.app.connector.get_sync_connector().execute_query(
                "UPDATE procrastinate_jobs SET scheduled_at = now() "
                "WHERE id = %(job_id)s AND status = 'todo'",
                job_id=int(job_id),
            )
        elif found.state is JobState.DEAD:
            self.app.job_manager.retry_job_by_id(int(job_id), retry_at=datetime.now(UTC))
        else:
            raise InvalidTransitionError("job", found.state.value, JobState.QUEUED.value)
        return self._get(job_id)

    # ------------------------------------------------------------------ working

    def run_worker(
        self,
        *,
        wait: bool = True,
        concurrency: int = 1,
        name: str | None = None,
        install_signal_handlers: bool = True,
    ) -> None:
        """Run a procrastinate worker on this queue in the foreground (periodic jobs too).

        ``wait=False`` returns once the queue is empty (tests, one-shot runs).
        """
        self._register_periodic()
        self.close()  # the worker opens its own (async) pool
        self.app.run_worker(
            queues=[self.queue_name],
            wait=wait,
            concurrency=concurrency,
            name=name,
            install_signal_handlers=install_signal_handlers,
            update_heartbeat_interval=self.heartbeat,
            stalled_worker_timeout=self.stalled_after,
        )

    # ------------------------------------------------------------------ internals

    def _bound(self) -> JobRegistry:
        if self._registry is None:
            msg = "bind the queue to a registry first (BookingCore(jobs=...) does)"
            raise RuntimeError(msg)
        return self._registry

    def _register_periodic(self) -> None:
        if self._periodic_registered:
            return
        for schedule in self._bound().schedules():
            # procrastinate types a periodic task's first argument as its timestamp; ours
            # takes it as a keyword (ignored), so the decorator is applied untyped.
            periodic: Any = self.app.periodic(
                cron=cron_of(schedule.every),
                periodic_id=schedule.name,
                queueing_lock=f"periodic:{schedule.name}",
                task_kwargs={"job": schedule.name, "args": dict(schedule.args)},
            )
            periodic(self._task)
        self.app.periodic(cron=cron_of(self.stalled_check), periodic_id="stalled")(
            self._stalled_task
        )
        if self.keep_finished is not None:
            self.app.periodic(cron="0 * * * *", periodic_id="prune")(self._prune_task)
        self._periodic_registered = True

    def _run(self, context: procrastinate.JobContext, job: str, args: dict[str, Any]) -> Any:
        attempt = JobAttempt(str(context.job.id), job, context.job.attempts + 1)
        return self._bound().run(job, args, attempt)

    def _get(self, job_id: str) -> JobRecord:
        try:
            number = int(job_id)
        except ValueError:
            raise NotFoundError("job", job_id) from None
        found = self.app.job_manager.list_jobs(id=number, task=TASK_NAME)
        if not found:
            raise NotFoundError("job", job_id)
        return self._record(found[0])

    @staticmethod
    def _record(job: ProcrastinateJob) -> JobRecord:
        kwargs = job.task_kwargs
        args = kwargs.get("args")
        return JobRecord(
            id=str(job.id),
            name=str(kwargs.get("job", "")),
            args=dict(args) if isinstance(args, dict) else {},
            state=_state(job),
            attempts=job.attempts,
            lock=job.queueing_lock,
            run_at=job.scheduled_at,
        )
