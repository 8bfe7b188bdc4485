"""The job port: a queue of named jobs that workers run, and the registry they run from.

The core defers jobs through :class:`JobQueue` and says what each name means
in a :class:`JobRegistry` (see :class:`~bookingcore.services.JobService`).
Two engines ship in ``bookingcore_adapters.jobs``: an in-process runner (the
default on memory and SQLite, and in tests) and procrastinate on PostgreSQL.
Another engine plugs in by implementing this Protocol and passing
:class:`~bookingcore.testing.JobQueueContract`.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from bookingcore.domain.jobs import JobRecord, JobRequest, JobState, Schedule

__all__ = ["JobHandler", "JobQueue", "JobRegistry", "JobRun"]


class JobRun(Protocol):
    """What a running job knows about itself.

    .. versionadded:: 0.1
    """

    @property
    def job_id(self) -> str:
        """The engine's id of the job (as a string)."""

    @property
    def name(self) -> str:
        """The job's name."""

    @property
    def attempt(self) -> int:
        """1 on the first try."""


class JobHandler(Protocol):
    """Runs one job: takes its JSON arguments; raising makes the engine retry it.

    Every handler must be safe to run twice with the same arguments: engines
    run a job at least once (a worker that dies mid-job has it run again).

    .. versionadded:: 0.1
    """

    def __call__(self, args: Mapping[str, Any], run: JobRun, /) -> object:
        """Do the job's work; the return value is logged, nothing more."""


class JobRegistry(Protocol):
    """The names an engine can run, with their handlers and schedules.

    .. versionadded:: 0.1
    """

    def names(self) -> Sequence[str]:
        """Every registered job name, sorted."""

    def schedules(self) -> Sequence[Schedule]:
        """The periodic jobs (each registered name)."""

    def run(self, name: str, args: Mapping[str, Any], run: JobRun) -> object:
        """Run the handler registered under ``name`` (with logging and counters).

        Raises:
            NotFoundError: no job is registered under ``name``.
        """


class JobQueue(Protocol):
    """An engine that keeps jobs until a worker runs them.

    Implementations run each job at least once, retry a raising job with
    backoff up to a number of attempts, then mark it dead; a periodic job runs
    once per due time whatever the number of workers.

    .. versionadded:: 0.1
    """

    def bind(self, registry: JobRegistry) -> None:
        """Take the jobs and schedules to run (call once, before deferring or working)."""

    def defer(self, request: JobRequest) -> str | None:
        """Queue ``request``; returns the job's id, or ``None`` when a queued job
        already holds its ``lock`` (the request is then already covered).

        Raises:
            NotFoundError: ``request.name`` is not a bound job name.
        """

    def list_jobs(self, *, state: JobState | None = None, limit: int = 100) -> Sequence[JobRecord]:
        """Jobs, newest first, optionally only those in ``state``."""

    def retry(self, job_id: str) -> JobRecord:
        """Queue a failed or dead job again, to run now.

        Raises:
            NotFoundError: no such job.
            InvalidTransitionError: the job is queued, running or succeeded.
        """
