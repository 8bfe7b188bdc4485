"""Outbox relay on PostgreSQL: the ``outbox.relay`` job against a raw SKIP LOCKED loop.

For each worker count (1 and 2 by default) both sides drain the same number
of outbox messages, each worker a process of its own started together:

* *library*: the body of the ``outbox.relay`` job (what a procrastinate
  worker runs: one job relays until nothing is left), i.e.
  ``OutboxRelay.relay(limit=500)`` in a loop over ``SqlStore``: claim the
  oldest unpublished messages and mark them published in one statement
  (``WITH claimed AS MATERIALIZED (SELECT ... FOR UPDATE SKIP LOCKED)
  UPDATE ... FROM claimed RETURNING ...``), hand their JSON as stored to a publisher that takes
  serialized messages (a ``SerializedEventPublisher``, as
  ``RedisStreamPublisher`` is; this one accepts and drops them), commit;
* *typed*: the same with a publisher that takes typed events only (an
  ``EventPublisher``): the relay claims, rebuilds each event from its JSON,
  publishes, then marks them in a second statement (shown for comparison;
  the target is for *library*);
* *baseline*: raw psycopg on a minimal table of its own (``bench_outbox``,
  filled with the same payloads): ``SELECT ... ORDER BY sequence LIMIT 500
  FOR UPDATE SKIP LOCKED``, hand the payloads to the same kind of publisher,
  ``DELETE`` them, ``COMMIT``. It does less than the library must: it reads
  no event name or time, and it deletes what it relayed, where the library
  keeps every message (dispatch, handler retries and ``outbox.get`` read
  them later) and records when it was published.

``--batch N`` claims N messages at a time on every side instead.

Before each run the side's table is rewritten with every index rebuilt
(``VACUUM (FULL, ANALYZE)``), so every run starts from a fresh backlog.

Checked after each run: every message relayed exactly once by the library
(each marked published, none left) and the baseline table empty. The target
is library >= 0.5 x baseline (issue 23). Next to the wall-clock figures: the
CPU seconds of the worker processes and of their PostgreSQL backends (read
from ``/proc`` when the server runs on this machine), and the baseline's CPU
over each side's, which a busy machine skews far less than wall time. From
the repository root::

    .venv/bin/python bench/jobs.py
    .venv/bin/python bench/jobs.py --workers 1,2 --messages 20000 --json out.json
    .venv/bin/python bench/jobs.py --quick
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from uuid import uuid4

from _common import (
    BenchError,
    Database,
    bench_schema,
    conninfo,
    fresh_store,
    library_core,
    parser,
    positive,
    postgres_url,
    ratio,
    report_text,
    run_bench,
    run_processes,
    say,
    server_description,
    table,
    whole_numbers,
)
from bookingcore import Settings
from bookingcore.domain import BookingCreated
from bookingcore.domain.sources import BookingSource
from bookingcore.domain.values import Actor, BookingId, CustomerId, SlotId
from bookingcore.services import OutboxRelay

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier

Side = Literal["baseline", "library", "typed"]
SIDES: tuple[Side, ...] = ("baseline", "library", "typed")
DEFAULT_WORKERS = (1, 2)
DEFAULT_MESSAGES = 20000
QUICK_MESSAGES = 600
#: Messages per claim, the same on every side: the ``outbox.relay`` job's default ``limit``.
BATCH = 500
#: The ratio library / baseline the issue asks for (issue 23).
TARGET_RATIO = 0.5
RUN_TIMEOUT = 900.0


class DropPublisher:
    """Accepts every message and keeps a count (the broker is not what is measured).

    It takes typed messages only (:class:`~bookingcore.ports.EventPublisher`):
    the relay rebuilds each event from its JSON before handing it over.
    """

    def __init__(self) -> None:
        self.count = 0

    def publish(self, messages: Sequence[Any]) -> None:
        self.count += len(messages)


class DropSerializedPublisher(DropPublisher):
    """As :class:`DropPublisher`, and a :class:`~bookingcore.ports.SerializedEventPublisher`:
    the relay hands it the rows' JSON as stored, as it does to a broker publisher
    (``RedisStreamPublisher``)."""

    def publish_serialized(self, messages: Sequence[Any]) -> None:
        self.count += len(messages)


@dataclass(frozen=True)
class WorkerTask:
    side: Side
    worker: int
    target: Database
    batch: int = BATCH


@dataclass(frozen=True)
class WorkerResult:
    worker: int
    relayed: int = 0
    started: float = 0.0
    finished: float = 0.0
    #: CPU seconds this worker process spent between the start and the finish.
    client_cpu: float = 0.0
    #: CPU seconds its PostgreSQL backend spent meanwhile; None when the server's
    #: processes cannot be read here (a server on another host).
    server_cpu: float | None = None
    crash: str | None = None


def backend_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of the PostgreSQL backend ``pid``, from ``/proc``.

    None unless the server runs on this machine and its process can be read: the
    load-independent side of the figures (wall time on a shared machine mostly
    follows how long the processes waited for a core).
    """
    try:
        if Path(f"/proc/{pid}/comm").read_text().strip() != "postgres":
            return None
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuClock:
    """Client and server CPU of one worker, from :meth:`start` to :meth:`stop`."""

    def __init__(self, backend_pid: int) -> None:
        self.pid = backend_pid
        self.client = time.process_time()
        self.server = backend_cpu(backend_pid)

    def result(self, worker: int, relayed: int, started: float, backend_pid: int) -> WorkerResult:
        """The worker's result, its CPU measured from the clock's creation to now."""
        finished = time.time()
        client = time.process_time() - self.client
        now = backend_cpu(self.pid)
        server = None
        if self.server is not None and now is not None and backend_pid == self.pid:
            server = now - self.server
        return WorkerResult(worker, relayed, started, finished, client, server)


def _library(task: WorkerTask, barrier: Barrier, results: Queue[WorkerResult]) -> int:
    from sqlalchemy import text  # noqa: PLC0415

    from bookingcore_adapters.sql import SqlStore  # noqa: PLC0415

    engine = task.target.engine()
    store = SqlStore(engine)

    def backend_pid() -> int:
        # The pool's one connection: the relay's units of work run on it, one at a time.
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())

    try:
        core = library_core(
            store.unit_of_work, dispatch="deferred", settings=Settings(outbox_relayed=True)
        )
        publisher = DropSerializedPublisher() if task.side == "library" else DropPublisher()
        relay = OutboxRelay(core.context, publisher)
        relay.relay(limit=1)  # connect and warm the mapper before the clock starts
        pid = backend_pid()
        barrier.wait()
        started = time.time()
        clock = CpuClock(pid)
        total = 1
        while (sent := relay.relay(limit=task.batch)) > 0:
            total += sent
        results.put(clock.result(task.worker, total, started, backend_pid()))
    finally:
        store.dispose()
    return total


CLAIM = (
    "SELECT sequence, event_id, payload FROM bench_outbox ORDER BY sequence"
    " LIMIT %s FOR UPDATE SKIP LOCKED"
)


def _baseline(task: WorkerTask, barrier: Barrier, results: Queue[WorkerResult]) -> int:
    publisher = DropPublisher()
    with task.target.connect() as connection:
        connection.execute("SELECT 1")
        connection.commit()
        barrier.wait()
        started = time.time()
        clock = CpuClock(connection.info.backend_pid)
        total = 0
        while True:
            rows = connection.execute(CLAIM, (task.batch,)).fetchall()
            if not rows:
                connection.commit()
                break
            publisher.publish(rows)
            connection.execute(
                "DELETE FROM bench_outbox WHERE sequence = ANY(%s)", ([r[0] for r in rows],)
            )
            connection.commit()
            total += len(rows)
        results.put(clock.result(task.worker, total, started, connection.info.backend_pid))
    return total


def work(task: WorkerTask, barrier: Barrier, results: Queue[WorkerResult]) -> None:
    """One worker process of one side."""
    try:
        (_baseline if task.side == "baseline" else _library)(task, barrier, results)
    except Exception:
        barrier.abort()
        results.put(WorkerResult(task.worker, crash=traceback.format_exc()))


# --------------------------------------------------------------------------- the runs


def fill(database: Database, messages: int) -> None:
    """``messages`` booking events in the library's outbox, written through the library."""
    store = fresh_store(database.engine())
    now = datetime.now(UTC)
    try:
        written = 0
        while written < messages:
            with store.unit_of_work() as uow:
                for _ in range(min(1000, messages - written)):
                    uow.outbox.add(
                        BookingCreated(
                            id=uuid4(),
                            occurred_at=now,
                            booking_id=BookingId(uuid4()),
                            reference="BK-BENCH",
                            customer_id=CustomerId(uuid4()),
                            slot_id=SlotId(uuid4()),
                            lifecycle="reservation",
                            status="pending",
                            source=BookingSource.API,
                            actor=Actor.system("bench"),
                            travelers=2,
                        )
                    )
                    written += 1
                uow.commit()
    finally:
        store.dispose()
    with database.connect() as connection:
        connection.execute(
            "CREATE TABLE bench_outbox (sequence bigint PRIMARY KEY, event_id uuid NOT NULL,"
            " payload jsonb NOT NULL)"
        )
        connection.commit()


def reset(database: Database, side: Side) -> None:
    """Make every message unpublished again (library), or refill the baseline's table."""
    with database.connect() as connection:
        if side != "baseline":
            connection.execute("UPDATE outbox SET published_at = NULL")
        else:
            connection.execute("TRUNCATE bench_outbox")
            connection.execute(
                "INSERT INTO bench_outbox SELECT sequence, event_id, payload FROM outbox"
            )
        connection.commit()
    # Rewritten, every index rebuilt: each run starts from the state a fresh backlog
    # has. A plain VACUUM would leave ix_outbox_unpublished with the pages of the
    # previous run (emptied, then refilled by the reset: half-full pages), larger
    # than the primary key; with every row unpublished the planner then prefers
    # walking the primary key, stepping over every message already published in
    # each claim (see bench/README.md).
    with database.connect(autocommit=True) as connection:
        connection.execute("VACUUM (FULL, ANALYZE) outbox")
        connection.execute("VACUUM (FULL, ANALYZE) bench_outbox")


def check(database: Database, side: Side, messages: int, relayed: int) -> list[str]:
    """What is wrong after a run (nothing, if it relayed each message once)."""
    problems = []
    with database.connect() as connection:
        if side != "baseline":
            left = connection.execute(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            ).fetchone()
            if left and left[0]:
                problems.append(f"{side}: {left[0]} messages left unpublished")
        else:
            left = connection.execute("SELECT count(*) FROM bench_outbox").fetchone()
            if left and left[0]:
                problems.append(f"baseline: {left[0]} messages left")
    if relayed != messages:
        problems.append(f"{side}: relayed {relayed} of {messages} messages")
    return problems


@dataclass
class Run:
    side: Side
    workers: int
    relayed: int
    seconds: float
    problems: list[str]
    client_cpu: float = 0.0
    server_cpu: float | None = None

    @property
    def per_second(self) -> float:
        return self.relayed / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu(self) -> float | None:
        """Client and server CPU seconds together; None when the server's is unknown."""
        return None if self.server_cpu is None else self.client_cpu + self.server_cpu


def run(url: Any, workers: Sequence[int], messages: int, batch: int = BATCH) -> list[Run]:
    """Every side at every worker count, in one schema."""
    runs = []
    with bench_schema(conninfo(url), "bench_jobs_") as schema:
        database = Database(url, schema)
        say(f"filling the outbox with {messages} messages ...")
        fill(database, messages)
        for count in workers:
            for side in SIDES:
                reset(database, side)
                say(f"{side}: {count} worker(s) ...")
                tasks = [WorkerTask(side, n, database, batch) for n in range(count)]
                results = run_processes(work, tasks, label=side, timeout=RUN_TIMEOUT)
                relayed = sum(r.relayed for r in results)
                seconds = max(r.finished for r in results) - min(r.started for r in results)
                server = [r.server_cpu for r in results]
                runs.append(
                    Run(
                        side,
                        count,
                        relayed,
                        seconds,
                        check(database, side, messages, relayed),
                        client_cpu=sum(r.client_cpu for r in results),
                        server_cpu=None if None in server else sum(s or 0.0 for s in server),
                    )
                )
    return runs


def render(runs: Sequence[Run]) -> tuple[str, bool]:
    """The report's table and whether every check passed and the target was met."""
    rows = []
    ok = True
    by_key = {(r.side, r.workers): r for r in runs}
    for (side, workers), current in sorted(by_key.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        baseline = by_key[("baseline", workers)]
        figure = ratio(current.per_second, baseline.per_second)
        verdict = "" if side != "library" else ("ok" if figure >= TARGET_RATIO else "MISSED")
        cpu = "-"
        cpu_figure = "-"
        if current.server_cpu is not None:
            cpu = f"{current.client_cpu:.2f} + {current.server_cpu:.2f}"
        if current.cpu is not None and baseline.cpu is not None:
            # Messages per CPU second, as a ratio: the baseline's CPU over this side's.
            cpu_figure = f"{ratio(baseline.cpu, current.cpu):.2f}x"
        rows.append(
            (
                str(workers),
                side,
                str(current.relayed),
                f"{current.seconds:.2f}",
                f"{current.per_second:,.0f}",
                f"{figure:.2f}x",
                verdict,
                cpu,
                cpu_figure,
            )
        )
        ok = ok and not current.problems
    checks = [p for r in runs for p in r.problems] or ["every message relayed exactly once"]
    text = table(
        (
            "workers",
            "side",
            "messages",
            "seconds",
            "msgs/s",
            "vs baseline",
            "target 0.5x",
            "CPU s client + server",
            "CPU vs baseline",
        ),
        rows,
        left=2,
    )
    return report_text([text, "", "checks: " + "; ".join(checks)]), ok


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench and print the report; 0 when every check passes."""
    cli = parser("bench/jobs.py", __doc__ or "", url="PostgreSQL")
    cli.add_argument(
        "--workers", type=lambda text: whole_numbers(text, most=16), default=DEFAULT_WORKERS
    )
    cli.add_argument("--messages", type=positive, default=None)
    cli.add_argument(
        "--batch",
        type=positive,
        default=BATCH,
        help=f"messages per claim, the same on every side (default {BATCH}, the job's)",
    )
    options = cli.parse_args(argv)
    url = postgres_url(options.url)
    messages = options.messages or (QUICK_MESSAGES if options.quick else DEFAULT_MESSAGES)
    try:
        server = server_description(conninfo(url))
    except BenchError as exc:
        print(f"{url.render_as_string(hide_password=True)}: {exc}", file=sys.stderr)
        return 1

    def measure() -> tuple[str, dict[str, Any]]:
        runs = run(url, options.workers, messages, options.batch)
        text, ok = render(runs)
        figures = [
            {
                "side": r.side,
                "workers": r.workers,
                "relayed": r.relayed,
                "seconds": r.seconds,
                "per_second": r.per_second,
                "client_cpu": r.client_cpu,
                "server_cpu": r.server_cpu,
                "problems": r.problems,
            }
            for r in runs
        ]
        return text, {"ok": ok, "runs": figures}

    return run_bench(
        f"bookingcore outbox relay: {messages} messages, batches of {options.batch}\n"
        f"{url.render_as_string(hide_password=True)}: {server}",
        measure,
        settings={
            "workers": list(options.workers),
            "messages": messages,
            "batch": options.batch,
            "target_ratio": TARGET_RATIO,
        },
        json_path=options.json,
    )


if __name__ == "__main__":
    sys.exit(main())
