"""The contract every :class:`~bookingcore.ports.JobQueue` engine passes.

Subclass :class:`JobQueueContract` in your tests, give it a ``queue``
fixture (a fresh, unbound engine that tries a failing job 3 times) and a
:meth:`~JobQueueContract.work` method that runs every due job, retries
included, until none is left::

    class TestMyQueue(JobQueueContract):
        @pytest.fixture
        def queue(self) -> MyQueue:
            return MyQueue(max_attempts=3, backoff_seconds=0)

        def work(self, queue: MyQueue) -> None:
            queue.drain()

.. versionadded:: 0.1
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pytest

from bookingcore.domain.jobs import JobRequest, JobState
from bookingcore.errors import InvalidTransitionError, NotFoundError
from bookingcore.ports.jobs import JobQueue, JobRun
from bookingcore.services.jobs import JobCatalog

__all__ = ["JobQueueContract", "RecordedJobs"]

#: Attempts the ``queue`` fixture must allow a failing job.
MAX_ATTEMPTS = 3


class RecordedJobs:
    """The contract's jobs and what they did: ``echo`` records its args, ``flaky``
    fails its first attempt, ``broken`` fails while :attr:`broken` is True.

    .. versionadded:: 0.1
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], int]] = []
        self.broken = True
        self._lock = threading.Lock()

    def _record(self, name: str, args: Mapping[str, Any], run: JobRun) -> None:
        with self._lock:
            self.calls.append((name, dict(args), run.attempt))

    def echo(self, args: Mapping[str, Any], run: JobRun) -> object:
        """Record the call."""
        self._record("echo", args, run)
        return None

    def flaky(self, args: Mapping[str, Any], run: JobRun) -> object:
        """Record the call; fail the first attempt."""
        self._record("flaky", args, run)
        if run.attempt == 1:
            msg = "the first attempt fails"
            raise RuntimeError(msg)
        return None

    def broken_job(self, args: Mapping[str, Any], run: JobRun) -> object:
        """Record the call; fail while ``broken``."""
        self._record("broken", args, run)
        if self.broken:
            msg = "still broken"
            raise RuntimeError(msg)
        return None

    def catalog(self) -> JobCatalog:
        """A catalog of the three jobs."""
        catalog = JobCatalog()
        catalog.register("echo", self.echo)
        catalog.register("flaky", self.flaky)
        catalog.register("broken", self.broken_job)
        return catalog

    def of(self, name: str) -> list[tuple[dict[str, Any], int]]:
        """The calls of job ``name``: (args, attempt)."""
        with self._lock:
            return [(args, attempt) for seen, args, attempt in self.calls if seen == name]


class JobQueueContract:
    """Behaviour every job engine shares (see the module for how to subclass).

    .. versionadded:: 0.1
    """

    @pytest.fixture
    def queue(self) -> JobQueue:
        """A fresh, unbound engine that tries a failing job :data:`MAX_ATTEMPTS` times."""
        raise NotImplementedError

    def work(self, queue: Any) -> None:
        """Run every due job, retries included, until none is left."""
        raise NotImplementedError

    @pytest.fixture
    def recorded(self, queue: JobQueue) -> RecordedJobs:
        """The contract's jobs, bound to ``queue``."""
        jobs = RecordedJobs()
        queue.bind(jobs.catalog())
        return jobs

    def test_a_deferred_job_runs_once_with_its_arguments(
        self, queue: JobQueue, recorded: RecordedJobs
    ) -> None:
        """A job runs once, with the JSON arguments it was deferred with."""
        job_id = queue.defer(JobRequest("echo", {"booking_id": "b-1", "seats": [1, 2]}))
        assert job_id is not None
        self.work(queue)
        assert recorded.of("echo") == [({"booking_id": "b-1", "seats": [1, 2]}, 1)]
        (record,) = queue.list_jobs()
        assert (record.id, record.name, record.state) == (job_id, "echo", JobState.SUCCEEDED)
        assert record.args == {"booking_id": "b-1", "seats": [1, 2]}

    def test_a_request_whose_lock_is_queued_is_covered_by_the_queued_job(
        self, queue: JobQueue, recorded: RecordedJobs
    ) -> None:
        """While a job with a lock waits, deferring another with that lock does nothing."""
        first = queue.defer(JobRequest("echo", {"n": 1}, lock="relay"))
        second = queue.defer(JobRequest("echo", {"n": 2}, lock="relay"))
        other = queue.defer(JobRequest("echo", {"n": 3}, lock="other"))
        assert first is not None
        assert second is None
        assert other is not None
        self.work(queue)
        assert sorted(args["n"] for args, _ in recorded.of("echo")) == [1, 3]
        assert queue.defer(JobRequest("echo", {"n": 4}, lock="relay")) is not None

    def test_a_failing_job_is_tried_again(self, queue: JobQueue, recorded: RecordedJobs) -> None:
        """A job that raises is retried, and succeeds on its second attempt."""
        queue.defer(JobRequest("flaky"))
        self.work(queue)
        assert [attempt for _, attempt in recorded.of("flaky")] == [1, 2]
        (record,) = queue.list_jobs()
        assert record.state is JobState.SUCCEEDED
        assert record.attempts == 2

    def test_a_job_that_keeps_failing_is_dead_until_an_operator_retries_it(
        self, queue: JobQueue, recorded: RecordedJobs
    ) -> None:
        """After its last attempt a job is dead; ``retry`` runs it again."""
        job_id = queue.defer(JobRequest("broken"))
        assert job_id is not None
        self.work(queue)
        assert len(recorded.of("broken")) == MAX_ATTEMPTS
        assert [r.id for r in queue.list_jobs(state=JobState.DEAD)] == [job_id]
        recorded.broken = False
        retried = queue.retry(job_id)
        assert retried.state in (JobState.QUEUED, JobState.FAILED)
        self.work(queue)
        assert len(recorded.of("broken")) == MAX_ATTEMPTS + 1
        assert [r.id for r in queue.list_jobs(state=JobState.SUCCEEDED)] == [job_id]
        assert queue.list_jobs(state=JobState.DEAD) == []

    def test_only_failed_or_dead_jobs_can_be_retried(
        self, queue: JobQueue, recorded: RecordedJobs
    ) -> None:
        """Retrying a finished job is refused; an unknown id is not found."""
        job_id = queue.defer(JobRequest("echo"))
        assert job_id is not None
        self.work(queue)
        with pytest.raises(InvalidTransitionError):
            queue.retry(job_id)
        with pytest.raises(NotFoundError):
            queue.retry("987654321")

    def test_an_unknown_job_name_is_not_found(
        self, queue: JobQueue, recorded: RecordedJobs
    ) -> None:
        """Deferring a name nothing is registered under fails at once."""
        with pytest.raises(NotFoundError):
            queue.defer(JobRequest("no.such.job"))
        assert queue.list_jobs() == []

    def test_jobs_are_listed_newest_first_and_by_state(
        self, queue: JobQueue, recorded: RecordedJobs
    ) -> None:
        """The listing shows queued jobs before they run, newest first."""
        first = queue.defer(JobRequest("echo", {"n": 1}))
        second = queue.defer(JobRequest("echo", {"n": 2}))
        assert [r.id for r in queue.list_jobs()] == [second, first]
        assert [r.id for r in queue.list_jobs(state=JobState.QUEUED, limit=1)] == [second]
        assert queue.list_jobs(state=JobState.RUNNING) == []
