"""The outbox relay bench runs end to end on PostgreSQL: both sides relay every message once."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from tests.bench._run import REPO_ROOT, run_script

BENCH = REPO_ROOT / "bench" / "jobs.py"


@pytest.mark.postgres
@pytest.mark.slow
def test_a_quick_run_relays_every_message_once_on_both_sides(
    postgres_url: str, tmp_path: Path
) -> None:
    report_path = tmp_path / "bench.json"
    completed = run_script(
        BENCH,
        "--messages",
        "1200",
        "--workers",
        "1,2",
        "--batch",
        "300",
        "--url",
        postgres_url,
        "--json",
        str(report_path),
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads(report_path.read_text())
    assert report["ok"] is True
    assert report["settings"]["batch"] == 300  # 1200 messages: several claims per side
    runs = {(run["side"], run["workers"]): run for run in report["runs"]}
    sides = ("baseline", "library", "typed")  # typed: the relay re-building typed events
    assert set(runs) == {(side, n) for side in sides for n in (1, 2)}
    for run in runs.values():
        assert run["relayed"] == 1200
        assert run["problems"] == []
        assert run["per_second"] > 0
        assert run["client_cpu"] > 0
        # The backend's CPU when the server runs on this machine, else unknown.
        assert run["server_cpu"] is None or run["server_cpu"] >= 0
    assert "vs baseline" in completed.stdout
    assert "CPU vs baseline" in completed.stdout


CLAIM_PLAN = (
    "EXPLAIN UPDATE outbox SET published_at = now() WHERE event_id IN (SELECT event_id"
    " FROM outbox WHERE published_at IS NULL ORDER BY sequence LIMIT 500"
    " FOR UPDATE SKIP LOCKED)"
)


@pytest.fixture(scope="module")
def jobs_bench() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCH.parent))
    try:
        spec = importlib.util.spec_from_file_location("bench_jobs", BENCH)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_jobs"] = module  # its dataclasses look their module up
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("bench_jobs", None)
        sys.path.remove(str(BENCH.parent))


@pytest.mark.postgres
@pytest.mark.slow
def test_every_run_claims_through_the_unpublished_index(
    jobs_bench: ModuleType, postgres_url: str
) -> None:
    """The reset before each run leaves the outbox as a fresh backlog: the claim walks
    ``ix_outbox_unpublished``. After a plain ``VACUUM`` that index kept the previous
    run's half-empty pages, the planner walked the primary key instead, and every
    claim stepped over all the messages already published (the 2-worker runs, which
    come after a second reset, measured that)."""
    url = jobs_bench.postgres_url(postgres_url)
    with jobs_bench.bench_schema(jobs_bench.conninfo(url), "test_jobs_") as schema:
        database = jobs_bench.Database(url, schema)
        jobs_bench.fill(database, 20000)
        plans = []
        for _ in range(3):  # each run publishes every message, then the next reset
            jobs_bench.reset(database, "baseline")
            jobs_bench.reset(database, "library")
            with database.connect() as connection:
                plan = "\n".join(row[0] for row in connection.execute(CLAIM_PLAN).fetchall())
                connection.execute("UPDATE outbox SET published_at = now()")
                connection.commit()
            plans.append(plan)
    for plan in plans:
        assert "using ix_outbox_unpublished" in plan, plan
        assert "using pk_outbox" not in plan, plan
