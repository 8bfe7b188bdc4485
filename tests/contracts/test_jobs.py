"""Both job engines pass the job-queue contract: in-process, and procrastinate on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import uuid4

import pytest
from sqlalchemy import Engine

from bookingcore.domain.events import RetryPolicy
from bookingcore.domain.jobs import JobRequest, JobState
from bookingcore.errors import ValidationError
from bookingcore.testing import FixedClock
from bookingcore.testing.job_contracts import MAX_ATTEMPTS, JobQueueContract, RecordedJobs
from bookingcore_adapters.jobs import InProcessJobQueue

if TYPE_CHECKING:
    from bookingcore_adapters.jobs.procrastinate import ProcrastinateJobQueue


class TestInProcessJobQueue(JobQueueContract):
    """The in-process runner, driven by a fixed clock."""

    @pytest.fixture
    def clock(self) -> FixedClock:
        return FixedClock()

    @pytest.fixture
    def queue(self, clock: FixedClock) -> InProcessJobQueue:
        return InProcessJobQueue(
            clock=clock,
            retry=RetryPolicy(max_attempts=MAX_ATTEMPTS, first_delay=timedelta(hours=1)),
        )

    def work(self, queue: InProcessJobQueue) -> None:
        clock = queue._clock
        assert isinstance(clock, FixedClock)
        for _ in range(MAX_ATTEMPTS + 1):
            queue.run_pending()
            clock.advance(days=2)

    def test_periodic_jobs_are_due_at_once_and_then_every_period(
        self, queue: InProcessJobQueue, clock: FixedClock
    ) -> None:
        """A schedule runs at the first run and again only when its period has passed."""
        from bookingcore.services.jobs import JobCatalog  # noqa: PLC0415

        ticks: list[int] = []
        catalog = JobCatalog()
        catalog.register("tick", lambda args, run: ticks.append(1), every=timedelta(minutes=5))
        queue.bind(catalog)
        assert queue.run_pending() == 1
        assert queue.run_pending() == 0
        clock.advance(minutes=5)
        assert queue.run_pending() == 1
        assert len(ticks) == 2


@pytest.fixture(scope="session")
def procrastinate_schema(postgres_admin: Engine, postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema with procrastinate's schema applied, for this session."""
    from bookingcore_adapters.jobs.procrastinate import ProcrastinateJobQueue  # noqa: PLC0415

    schema = f"procrastinate_test_{uuid4().hex[:12]}"
    with postgres_admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    queue = ProcrastinateJobQueue(procrastinate_url(postgres_url, schema))
    try:
        queue.apply_schema()
    finally:
        queue.close()
    yield schema
    with postgres_admin.begin() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


def procrastinate_url(postgres_url: str, schema: str) -> str:
    """A libpq URL of the test database whose search path is ``schema``."""
    from bookingcore_adapters.jobs.procrastinate import libpq_url  # noqa: PLC0415

    return f"{libpq_url(postgres_url)}?options=-csearch_path%3D{schema}"


class TestProcrastinateJobQueue(JobQueueContract):
    """procrastinate on real PostgreSQL; each test has a queue of its own."""

    @pytest.fixture
    def queue(self, postgres_url: str, procrastinate_schema: str) -> Iterator[object]:
        from bookingcore_adapters.jobs.procrastinate import ProcrastinateJobQueue  # noqa: PLC0415

        queue = ProcrastinateJobQueue(
            procrastinate_url(postgres_url, procrastinate_schema),
            queue=f"q{uuid4().hex[:12]}",
            max_attempts=MAX_ATTEMPTS,
            backoff_seconds=0,
        )
        yield queue
        queue.close()

    def work(self, queue: object) -> None:
        from bookingcore_adapters.jobs.procrastinate import ProcrastinateJobQueue  # noqa: PLC0415

        assert isinstance(queue, ProcrastinateJobQueue)
        queue.run_worker(wait=False, install_signal_handlers=False)

    def test_a_job_waiting_for_its_next_attempt_is_retried_now(
        self, postgres_url: str, procrastinate_schema: str
    ) -> None:
        """``retry`` of a job whose backoff is not over runs it now, keeping its id and
        attempts (procrastinate itself retries only running or dead jobs)."""
        from bookingcore_adapters.jobs.procrastinate import ProcrastinateJobQueue  # noqa: PLC0415

        queue = ProcrastinateJobQueue(
            procrastinate_url(postgres_url, procrastinate_schema),
            queue=f"q{uuid4().hex[:12]}",
            max_attempts=MAX_ATTEMPTS,
            backoff_seconds=600,
        )
        try:
            recorded = RecordedJobs()
            queue.bind(recorded.catalog())
            job_id = queue.defer(JobRequest("broken"))
            assert job_id is not None
            queue.run_worker(wait=False, install_signal_handlers=False)
            (waiting,) = queue.list_jobs(state=JobState.FAILED)
            assert (waiting.id, waiting.attempts) == (job_id, 1)
            recorded.broken = False
            retried = queue.retry(job_id)
            assert (retried.id, retried.state) == (job_id, JobState.FAILED)
            queue.run_worker(wait=False, install_signal_handlers=False)
            assert [attempt for _, attempt in recorded.of("broken")] == [1, 2]
            assert [r.id for r in queue.list_jobs(state=JobState.SUCCEEDED)] == [job_id]
        finally:
            queue.close()

    @staticmethod
    def strand(queue: ProcrastinateJobQueue) -> list[int]:
        """Take every waiting job of ``queue`` (and of ``<queue>_other``) as a worker
        does, then die without finishing them: the worker's row goes, as procrastinate's
        pruning of a silent worker does. The ids taken, left ``doing``."""
        import asyncio  # noqa: PLC0415

        queue.close()
        manager = queue.app.job_manager

        async def take_and_die() -> list[int]:
            async with queue.app.open_async():
                worker = await manager.register_worker()
                taken = []
                queues = [queue.queue_name, f"{queue.queue_name}_other"]
                while (job := await manager.fetch_job(queues, worker)) is not None:
                    assert job.id is not None
                    taken.append(job.id)
                await manager.unregister_worker(worker)
                return taken

        taken = asyncio.run(take_and_die())
        queue.open()
        return taken

    def test_the_jobs_a_dead_worker_left_running_are_queued_again_periodic_tasks_too(
        self, queue: ProcrastinateJobQueue, recorded: RecordedJobs
    ) -> None:
        """The stalled check requeues every bookingcore task a dead worker left
        ``doing`` on its queue (a job, the prune, the stalled check itself), so none
        stays ``doing``; another queue's are left to its own check."""
        from bookingcore_adapters.jobs.procrastinate import (  # noqa: PLC0415
            PRUNE_TASK_NAME,
            STALLED_TASK_NAME,
            TASK_NAME,
        )

        job_id = queue.defer(JobRequest("echo", {"n": 1}))
        tasks = queue.app.tasks
        prune = tasks[PRUNE_TASK_NAME].defer(timestamp=0)
        check = tasks[STALLED_TASK_NAME].defer(timestamp=0)
        elsewhere = (
            tasks[TASK_NAME]
            .configure(queue=f"{queue.queue_name}_other")
            .defer(job="echo", args={"n": 9})
        )
        assert sorted(self.strand(queue)) == sorted([int(str(job_id)), prune, check, elsewhere])
        assert [r.id for r in queue.list_jobs(state=JobState.RUNNING)] == [job_id]

        tasks[STALLED_TASK_NAME].defer(timestamp=1)  # the check, as its schedule defers it
        self.work(queue)

        assert [(r.id, r.state) for r in queue.list_jobs()] == [(job_id, JobState.SUCCEEDED)]
        assert recorded.of("echo") == [({"n": 1}, 2)]  # run again, as its second attempt
        manager = queue.app.job_manager
        # Run again, or aborted when the worker's periodic deferrer had queued its twin.
        for periodic in (prune, check):
            (job,) = manager.list_jobs(id=periodic)
            assert job.status in {"succeeded", "aborted"}
        assert [job.status for job in manager.list_jobs(queue=queue.queue_name)].count("doing") == 0
        assert [job.status for job in manager.list_jobs(id=elsewhere)] == ["doing"]

    def test_a_dead_workers_job_whose_twin_waits_under_its_queueing_lock_is_aborted(
        self, queue: ProcrastinateJobQueue, recorded: RecordedJobs
    ) -> None:
        """Requeueing a stranded periodic task would break its queueing lock when the
        next one waits already: the check aborts the stranded one, the waiting one runs,
        and the check goes on with the other stranded jobs."""
        from bookingcore_adapters.jobs.procrastinate import (  # noqa: PLC0415
            PRUNE_TASK_NAME,
            STALLED_TASK_NAME,
        )

        queue.open()
        tasks = queue.app.tasks
        stranded = tasks[PRUNE_TASK_NAME].defer(timestamp=0)
        job_id = queue.defer(JobRequest("echo", {"n": 1}))
        assert len(self.strand(queue)) == 2
        tasks[STALLED_TASK_NAME].defer(timestamp=1)  # runs first: deferred first
        twin = tasks[PRUNE_TASK_NAME].defer(timestamp=3600)
        self.work(queue)

        queue.open()  # the worker closed it
        manager = queue.app.job_manager
        assert [job.status for job in manager.list_jobs(id=stranded)] == ["aborted"]
        assert [job.status for job in manager.list_jobs(id=twin)] == ["succeeded"]
        assert [(r.id, r.state) for r in queue.list_jobs()] == [(job_id, JobState.SUCCEEDED)]

    def test_applying_the_schema_again_leaves_the_queue_as_it_is(
        self, queue: ProcrastinateJobQueue, recorded: RecordedJobs
    ) -> None:
        """A deployment step that applies the schema on every release does not fail on
        the second, and the jobs queued meanwhile stay."""
        job_id = queue.defer(JobRequest("echo", {"n": 1}))
        queue.apply_schema()
        assert [r.id for r in queue.list_jobs(state=JobState.QUEUED)] == [job_id]

    def test_finished_jobs_are_deleted_after_keep_finished_and_dead_ones_stay(
        self,
        queue: ProcrastinateJobQueue,
        recorded: RecordedJobs,
        postgres_url: str,
        procrastinate_schema: str,
    ) -> None:
        """The hourly prune task deletes the rows of jobs that succeeded longer than
        ``keep_finished`` (7 days) ago; newer ones and dead ones stay."""
        from sqlalchemy import create_engine, text  # noqa: PLC0415

        from bookingcore_adapters.jobs.procrastinate import (  # noqa: PLC0415
            PRUNE_TASK_NAME,
            ProcrastinateJobQueue,
        )

        old = queue.defer(JobRequest("echo", {"n": 1}))
        dead = queue.defer(JobRequest("broken"))
        self.work(queue)
        engine = create_engine(
            postgres_url, connect_args={"options": f"-csearch_path={procrastinate_schema}"}
        )
        try:
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "UPDATE procrastinate_events SET at = at - interval '8 days'"
                        " WHERE job_id IN (:old, :dead)"
                    ),
                    {"old": int(str(old)), "dead": int(str(dead))},
                )
        finally:
            engine.dispose()
        recent = queue.defer(JobRequest("echo", {"n": 2}))
        self.work(queue)
        queue.open()
        queue.app.tasks[PRUNE_TASK_NAME].defer(timestamp=0)
        self.work(queue)
        assert [(r.id, r.state) for r in queue.list_jobs()] == [
            (recent, JobState.SUCCEEDED),
            (dead, JobState.DEAD),
        ]
        with pytest.raises(ValidationError):
            ProcrastinateJobQueue(postgres_url, keep_finished=timedelta(minutes=5))
