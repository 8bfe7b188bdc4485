"""The in-process job runner: a queue in memory, run by whoever calls it."""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from bookingcore import SystemClock
from bookingcore.domain.events import RetryPolicy
from bookingcore.domain.jobs import JobRecord, JobRequest, JobState
from bookingcore.errors import InvalidTransitionError, NotFoundError, ValidationError
from bookingcore.ports.clock import Clock
from bookingcore.ports.jobs import JobRegistry
from bookingcore.services.jobs import JobAttempt

__all__ = ["InProcessJobQueue"]

_log = logging.getLogger("bookingcore.jobs")

#: A job in one of these holds its queueing lock (it has not started, or waits to retry).
_WAITING = (JobState.QUEUED, JobState.FAILED)


@attrs.define
class _Job:
    id: str
    name: str
    args: Mapping[str, Any]
    lock: str | None
    run_at: datetime
    state: JobState = JobState.QUEUED
    attempts: int = 0
    last_error: str | None = None

    def record(self) -> JobRecord:
        return JobRecord(
            id=self.id,
            name=self.name,
            args=dict(self.args),
            state=self.state,
            attempts=self.attempts,
            lock=self.lock,
            run_at=self.run_at,
            last_error=self.last_error,
        )


class InProcessJobQueue:
    """A :class:`~bookingcore.ports.JobQueue` whose jobs live in this process.

    Nothing survives a restart: use it where one process does everything (an
    embedded SQLite host, tests, the demo). Jobs deferred in a transaction are
    still safe there, because the request waits in the outbox until the
    engine has it. Periodic jobs are due at the first :meth:`run_pending` and
    then every ``every``.

    Args:
        clock: tells the time (a ``FixedClock`` in tests); the system clock by default.
        retry: backoff and attempts of a failing job (then it is ``dead``).
        keep_succeeded: how many succeeded jobs it remembers (the newest) for
            :meth:`list_jobs`; older ones are forgotten, so a runner that works for
            months (periodic jobs every few seconds) neither grows nor slows down.
            Failed and dead jobs are kept until they succeed.

    Raises:
        ValidationError: on ``keep_succeeded`` below 0.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4 ``keep_succeeded``; before, every job was kept for good.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        keep_succeeded: int = 1000,
    ) -> None:
        if isinstance(keep_succeeded, bool) or keep_succeeded < 0:
            raise ValidationError.single("keep_succeeded", "must be 0 or more", "out_of_range")
        self._clock = clock or SystemClock()
        self.retry_policy = retry or RetryPolicy(max_attempts=5, first_delay=timedelta(seconds=1))
        self._keep_succeeded = keep_succeeded
        self._succeeded: deque[str] = deque()
        self._registry: JobRegistry | None = None
        self._jobs: dict[str, _Job] = {}
        self._next_run: dict[str, datetime] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ the port

    def bind(self, registry: JobRegistry) -> None:
        """Take the job names and schedules to run."""
        self._registry = registry

    def defer(self, request: JobRequest) -> str | None:
        """Queue ``request`` to run at the next :meth:`run_pending` (see the port)."""
        registry = self._bound()
        if request.name not in registry.names():
            raise NotFoundError("job", request.name)
        with self._lock:
            if request.lock is not None and any(
                job.lock == request.lock and job.state in _WAITING for job in self._jobs.values()
            ):
                return None
            job = _Job(
                id=str(next(self._ids)),
                name=request.name,
                args=dict(request.args),
                lock=request.lock,
                run_at=self._clock.now(),
            )
            self._jobs[job.id] = job
            return job.id

    def list_jobs(self, *, state: JobState | None = None, limit: int = 100) -> Sequence[JobRecord]:
        """Jobs, newest first (see the port)."""
        with self._lock:
            jobs = [j for j in self._jobs.values() if state is None or j.state is state]
        jobs.sort(key=lambda j: int(j.id), reverse=True)
        return [job.record() for job in jobs[:limit]]

    def retry(self, job_id: str) -> JobRecord:
        """Queue a failed or dead job again, to run now (see the port)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise NotFoundError("job", job_id)
            if job.state not in (JobState.FAILED, JobState.DEAD):
                raise InvalidTransitionError("job", job.state.value, JobState.QUEUED.value)
            job.state = JobState.QUEUED
            job.run_at = self._clock.now()
            return job.record()

    # ------------------------------------------------------------------ running

    def run_pending(self, *, limit: int = 1000) -> int:
        """Run every due job (periodic ones included) until none is due; returns how many ran.

        Jobs deferred by a running job run in the same call when due. Never
        raises for a job's error: the job is retried later, or marked dead.
        """
        ran = 0
        self._defer_due_schedules()
        while ran < limit:
            job = self._claim()
            if job is None:
                break
            self._run(job)
            ran += 1
        return ran

    def start(self, *, interval: float = 1.0) -> None:
        """Run :meth:`run_pending` every ``interval`` seconds in a daemon thread."""
        if self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.run_pending()
                except Exception:  # pragma: no cover - run_pending logs job errors itself
                    _log.exception("the in-process job runner failed")
                self._stop.wait(interval)

        self._thread = threading.Thread(target=loop, name="bookingcore-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread :meth:`start` started, after its current job."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    # ------------------------------------------------------------------ internals

    def _bound(self) -> JobRegistry:
        if self._registry is None:
            msg = "bind the queue to a registry first (BookingCore(jobs=...) does)"
            raise RuntimeError(msg)
        return self._registry

    def _defer_due_schedules(self) -> None:
        now = self._clock.now()
        for schedule in self._bound().schedules():
            with self._lock:
                due = self._next_run.get(schedule.name, now)
                if due > now:
                    continue
                self._next_run[schedule.name] = now + schedule.every
            self.defer(JobRequest(schedule.name, schedule.args, lock=f"periodic:{schedule.name}"))

    def _claim(self) -> _Job | None:
        now = self._clock.now()
        with self._lock:
            due = [j for j in self._jobs.values() if j.state in _WAITING and j.run_at <= now]
            if not due:
                return None
            job = min(due, key=lambda j: (j.run_at, int(j.id)))
            job.state = JobState.RUNNING
            job.attempts += 1
            return job

    def _run(self, job: _Job) -> None:
        try:
            self._bound().run(job.name, job.args, JobAttempt(job.id, job.name, job.attempts))
        except Exception as exc:
            with self._lock:
                job.last_error = f"{type(exc).__name__}: {exc}"
                if job.attempts >= self.retry_policy.max_attempts:
                    job.state = JobState.DEAD
                else:
                    job.state = JobState.FAILED
                    job.run_at = self._clock.now() + self.retry_policy.delay(job.attempts)
            return
        with self._lock:
            job.state = JobState.SUCCEEDED
            job.last_error = None
            self._succeeded.append(job.id)
            while len(self._succeeded) > self._keep_succeeded:  # succeeded is final
                del self._jobs[self._succeeded.popleft()]
