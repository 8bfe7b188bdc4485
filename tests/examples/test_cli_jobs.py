"""The CLI's worker and jobs commands: in-process on SQLite, procrastinate on PostgreSQL."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from bookingcore.domain import JobRequest, JobState
from examples.cli.app import app
from examples.cli.jobs import job_core


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_a_worker_on_sqlite_runs_the_due_periodic_jobs_once(tmp_path: Path) -> None:
    """``worker --once`` runs the library's periodic jobs on the in-process runner."""
    db = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    code, output = invoke("worker", "--db", db, "--once")
    assert code == 0, output
    # events.dispatch, reminders.send_due, communications.resend_stalled, auth.cleanup,
    # waitlists.expire_offers, outbox.relay, outbox.prune, certificates.renewal_reminders,
    # bookings.archive
    assert "ran 9 job(s)" in output


def test_jobs_refuses_an_unknown_state(tmp_path: Path) -> None:
    code, output = invoke("jobs", "--db", f"sqlite:///{tmp_path / 'j.sqlite3'}", "--state", "x")
    assert code == 2
    assert "unknown state 'x'" in output


def test_jobs_on_sqlite_says_the_in_process_runner_keeps_no_queue(tmp_path: Path) -> None:
    """On SQLite the jobs run on the in-process runner of another process (an app
    server, ``worker``): ``jobs`` and ``jobs retry`` say there is no queue to look at,
    and fail, rather than answer "no jobs" or "not found" as if the queue were empty."""
    db = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    code, output = invoke("worker", "--db", db, "--once")
    assert code == 0, output
    for args in (("jobs",), ("jobs", "--state", "dead"), ("jobs", "retry", "1")):
        code, output = invoke(*args, "--db", db)
        assert code == 2, (args, output)
        assert "no jobs" not in output
        assert "not found" not in output
        assert "in-process runner, which keeps no queue to list or retry" in output
        assert "needs a PostgreSQL --db" in output


@pytest.fixture
def pg_db(postgres_url: str, postgres_schema: str, postgres_admin: Engine) -> str:
    """The test database with its search path on a fresh schema, as a CLI ``--db``."""
    return f"{postgres_url}?options=-csearch_path%3D{postgres_schema}"


def test_on_postgresql_a_dead_job_is_listed_and_retried(
    pg_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    """``worker --apply-schema --once`` runs procrastinate; ``jobs`` lists a dead job and
    ``jobs retry`` queues it again."""
    code, output = invoke("worker", "--db", pg_db, "--once", "--apply-schema")
    assert code == 0, output
    # procrastinate logs each job it ran; the summary does not claim that none ran
    assert "ran 0 job(s)" not in output
    assert "procrastinate ran what was due" in output
    with job_core(pg_db) as core:
        records = core.jobs.queue.list_jobs(state=JobState.SUCCEEDED)
        assert {r.name for r in records} >= {
            "events.dispatch",
            "reminders.send_due",
            "outbox.prune",
        }

        def broken(args: object, run: object) -> object:
            msg = "partner endpoint down"
            raise ConnectionError(msg)

        core.jobs.register("partner.ping", broken)
        queue = core.jobs.queue
        job_id = queue.defer(JobRequest("partner.ping", {"partner_id": "p-1"}))
        assert job_id is not None
        from bookingcore_adapters.jobs.procrastinate import ProcrastinateJobQueue  # noqa: PLC0415

        assert isinstance(queue, ProcrastinateJobQueue)
        retrying = ProcrastinateJobQueue(pg_db, max_attempts=1)
        retrying.bind(core.jobs.catalog)
        with caplog.at_level(logging.WARNING, logger="bookingcore.jobs"):
            retrying.run_worker(wait=False, install_signal_handlers=False)
    code, output = invoke("jobs", "--db", pg_db)
    assert code == 0, output
    assert f"{job_id}\tpartner.ping\tdead\tattempts=1" in output
    code, output = invoke("jobs", "retry", job_id, "--db", pg_db)
    assert code == 0, output
    assert f"job {job_id} (partner.ping) will run again" in output
    code, output = invoke("jobs", "--db", pg_db, "--state", "failed")
    assert f"{job_id}\tpartner.ping\tfailed" in output  # waiting to run again
    code, output = invoke("jobs", "retry", "999999", "--db", pg_db)
    assert code != 0
    assert "999999 not found" in output


def test_on_postgresql_jobs_lists_a_dead_job_behind_many_finished_ones(pg_db: str) -> None:
    """``jobs`` with no state lists the open jobs (queued, running, failed, dead), however
    many finished jobs (a periodic job every few seconds) came after them."""
    code, output = invoke("worker", "--db", pg_db, "--once", "--apply-schema")
    assert code == 0, output
    with job_core(pg_db) as core:

        def broken(args: object, run: object) -> object:
            msg = "partner endpoint down"
            raise ConnectionError(msg)

        core.jobs.register("partner.ping", broken)
        queue = core.jobs.queue
        from bookingcore_adapters.jobs.procrastinate import ProcrastinateJobQueue  # noqa: PLC0415

        assert isinstance(queue, ProcrastinateJobQueue)
        dead_id = queue.defer(JobRequest("partner.ping", {"partner_id": "p-1"}))
        assert dead_id is not None
        dying = ProcrastinateJobQueue(pg_db, max_attempts=1)
        dying.bind(core.jobs.catalog)
        dying.run_worker(wait=False, install_signal_handlers=False)
        for n in range(250):  # finished since: cancelled here, as succeeded ones would be
            job_id = queue.defer(JobRequest("partner.ping", {"n": n}))
            assert job_id is not None
            assert queue.app.job_manager.cancel_job_by_id(int(job_id))
    code, output = invoke("jobs", "--db", pg_db)
    assert code == 0, output
    assert f"{dead_id}\tpartner.ping\tdead\tattempts=1" in output
    assert "cancelled" not in output


def test_on_postgresql_the_release_step_runs_again_on_the_next_release(pg_db: str) -> None:
    """``worker --apply-schema --once`` (deployment.md's step "once per release") works
    on a database that has procrastinate's schema already."""
    for _ in range(2):
        code, output = invoke("worker", "--db", pg_db, "--once", "--apply-schema")
        assert code == 0, output
