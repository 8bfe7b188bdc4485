"""What the bench scripts share: options, databases, the loader, timing, memory and the report.

The benches are scripts run by path (``.venv/bin/python bench/<name>.py``), so
Python puts this folder first on ``sys.path`` and they import this module as
``_common``. Importing it imports only the standard library: psycopg,
SQLAlchemy and bookingcore are imported by the functions that need them, so a
bench that measures its own memory can use it.

Every bench builds bookingcore's tables with the library's own ``metadata``
(:func:`fresh_store`), never a copy of the schema, and reports the same way
(:func:`run_bench`): a headline, its text (:func:`report_text`: its tables (:func:`table`)
of each figure and its ratio to the baseline (:func:`ratio`), notes, then its
problems), ``finished in``, and with ``--json``
the same figures as ``{"ok", "seconds", "settings", ...}``; exit status 0 when
every check passed, 1 when one failed or the bench could not run
(:class:`BenchError`), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import multiprocessing
import os
import queue
import resource
import statistics
import sys
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from uuid import uuid4

if TYPE_CHECKING:
    from multiprocessing.context import SpawnProcess
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier

    import psycopg
    from sqlalchemy import Engine
    from sqlalchemy.engine import URL

    from bookingcore import BookingCore
    from bookingcore_adapters.sql import SqlStore

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: Where the PostgreSQL benches look for a database when ``--url`` is not given, in order.
POSTGRES_URL_VARIABLES = ("BOOKINGCORE_BENCH_POSTGRES_URL", "BOOKINGCORE_TEST_POSTGRES_URL")
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
#: Where the Redis benches look for a server when ``--redis-url`` is not given, in order.
REDIS_URL_VARIABLES = ("BOOKINGCORE_BENCH_REDIS_URL", "BOOKINGCORE_TEST_REDIS_URL")


class BenchError(Exception):
    """The bench itself could not run (a crashed worker, a failed setup, data that did not
    read back as loaded); :func:`run_bench` prints it and exits with status 1."""


# --------------------------------------------------------------------------- the command line


def positive(text: str) -> int:
    """An ``argparse`` type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        msg = f"expected a positive whole number, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def zero_or_more(text: str) -> int:
    """An ``argparse`` type: a whole number of at least 0."""
    value = int(text)
    if value < 0:
        msg = f"expected zero or more, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def whole_numbers(text: str, *, most: int | None = None) -> tuple[int, ...]:
    """Positive whole numbers separated by commas (``1,2,4``), each at most ``most``.

    For ``argparse``, wrap it: ``type=lambda text: whole_numbers(text, most=64)``.
    """
    try:
        numbers = tuple(int(part) for part in text.split(","))
    except ValueError:
        numbers = ()
    if not numbers or min(numbers) < 1 or (most is not None and max(numbers) > most):
        upper = "" if most is None else f" from 1 to {most}"
        kind = "positive whole numbers" if most is None else f"whole numbers{upper}"
        msg = f"expected {kind} separated by commas, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return numbers


def some_of(allowed: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    """An ``argparse`` type: some of ``allowed``, separated by commas (``csv,xlsx``)."""

    def parse(text: str) -> tuple[str, ...]:
        chosen = tuple(part.strip() for part in text.split(",") if part.strip())
        if not chosen or any(part not in allowed for part in chosen):
            msg = f"expected some of {','.join(allowed)} separated by commas, got {text!r}"
            raise argparse.ArgumentTypeError(msg)
        return chosen

    return parse


def parser(prog: str, description: str, *, url: str | None = None) -> argparse.ArgumentParser:
    """A parser with the options every bench has: ``--quick``, ``--json`` and, when ``url``
    names the service (``"PostgreSQL"``, ``"Redis"``), its URL option."""
    created = argparse.ArgumentParser(prog=prog, description=description)
    if url == "PostgreSQL":
        created.add_argument("--url", help="SQLAlchemy URL of the PostgreSQL database to use")
    elif url is not None:
        created.add_argument("--redis-url", help=f"the {url} to use (default: see bench/README)")
    created.add_argument(
        "--quick", action="store_true", help="a small smoke run (sizes: bench/README.md)"
    )
    created.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return created


def _from_environment(given: str | None, variables: Sequence[str], default: str) -> str:
    return given or next(
        (value for name in variables if (value := os.environ.get(name, "").strip())), default
    )


def postgres_url(given: str | None) -> URL:
    """The database a PostgreSQL bench uses, with the psycopg (3) driver.

    ``given`` (``--url``), else the first of :data:`POSTGRES_URL_VARIABLES` that is
    set, else :data:`DEFAULT_POSTGRES_URL`.

    Raises:
        ValueError: the URL names another database than PostgreSQL.
    """
    from sqlalchemy.engine import make_url  # noqa: PLC0415 - see the module docstring

    url = make_url(_from_environment(given, POSTGRES_URL_VARIABLES, DEFAULT_POSTGRES_URL))
    if url.get_backend_name() != "postgresql":
        msg = f"the bench needs PostgreSQL, not {url.get_backend_name()}"
        raise ValueError(msg)
    return url.set(drivername="postgresql+psycopg")


def redis_url(given: str | None) -> str:
    """``given`` (``--redis-url``), else the first of :data:`REDIS_URL_VARIABLES` that is set,
    else :data:`DEFAULT_REDIS_URL`."""
    return _from_environment(given, REDIS_URL_VARIABLES, DEFAULT_REDIS_URL)


def conninfo(url: URL) -> str:
    """``url`` as a libpq connection string, for psycopg."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


# --------------------------------------------------------------------------- the database


@dataclass(frozen=True)
class Database:
    """A bench's own schema in one PostgreSQL database, for SQLAlchemy and for psycopg."""

    url: URL
    schema: str

    @property
    def dsn(self) -> str:
        """The database as a libpq connection string."""
        return conninfo(self.url)

    @property
    def options(self) -> str:
        """libpq ``options`` that put the bench's schema alone on the search path."""
        return f"-csearch_path={self.schema}"

    def connect(self, *, autocommit: bool = False) -> psycopg.Connection[Any]:
        """A psycopg connection to the bench's schema."""
        import psycopg  # noqa: PLC0415 - see the module docstring

        return psycopg.connect(self.dsn, options=self.options, autocommit=autocommit)

    def engine(self, **connect_args: Any) -> Engine:
        """An SQLAlchemy engine on the bench's schema (psycopg 3)."""
        from sqlalchemy import create_engine  # noqa: PLC0415

        return create_engine(
            self.url.render_as_string(hide_password=False),
            connect_args={"options": self.options, **connect_args},
        )


@contextmanager
def bench_schema(dsn: str, prefix: str = "bench_", *, keep: bool = False) -> Iterator[str]:
    """A new schema ``<prefix><random>``, dropped with everything in it when the block ends.

    The schema goes even when the block fails, unless ``keep``.
    """
    import psycopg  # noqa: PLC0415 - see the module docstring

    schema = f"{prefix}{uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        if not keep:
            with psycopg.connect(dsn, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def server_description(dsn: str) -> str:
    """The server's version and commit setting, for the report's header.

    Raises:
        BenchError: the server cannot be reached.
    """
    import psycopg  # noqa: PLC0415 - see the module docstring

    try:
        with psycopg.connect(dsn) as connection:
            version, synchronous_commit = connection.execute(
                "SELECT current_setting('server_version'), current_setting('synchronous_commit')"
            ).fetchone() or ("?", "?")
    except psycopg.OperationalError as exc:
        msg = f"cannot reach the database: {exc}"
        raise BenchError(msg) from exc
    return f"PostgreSQL {version}, synchronous_commit={synchronous_commit}"


def fresh_store(database: Engine | str) -> SqlStore:
    """An :class:`~bookingcore_adapters.sql.SqlStore` on ``database`` with bookingcore's tables
    created from the library's own ``metadata``: no bench carries a copy of the schema."""
    from bookingcore_adapters.sql import SqlStore  # noqa: PLC0415

    store = SqlStore(database)
    store.create_schema()
    return store


def empty_tables(engine: Engine) -> None:
    """Remove every row of bookingcore's tables (PostgreSQL ``TRUNCATE``)."""
    from sqlalchemy import text  # noqa: PLC0415

    from bookingcore_adapters.sql import metadata  # noqa: PLC0415

    preparer = engine.dialect.identifier_preparer
    tables = ", ".join(preparer.format_table(table) for table in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY"))


def library_core(uow_factory: Callable[[], Any], **wiring: Any) -> BookingCore:
    """A :class:`~bookingcore.BookingCore` on ``uow_factory`` with its default clock and ids
    (the system clock, random ids), as a host wires it; ``wiring`` adds or overrides
    arguments (``dispatch``, ``sms``)."""
    from bookingcore import BookingCore  # noqa: PLC0415

    return BookingCore(uow_factory=uow_factory, **wiring)


@contextmanager
def copy_into(
    connection: psycopg.Connection[Any], name: str
) -> Iterator[Callable[[Sequence[Mapping[str, str]]], None]]:
    """``COPY`` into bookingcore's table ``name``: a function that writes rows of ``COPY`` text.

    A row maps column names to text (``\\N`` for NULL); the columns are the keys
    of the first row written, and every row lists the same keys in the same
    order. They are checked against the library's ``metadata``
    (:func:`check_columns`), so the loader follows the schema instead of
    copying it.
    """
    from psycopg import sql  # noqa: PLC0415

    with ExitStack() as stack:
        opened: list[Any] = []

        def write(rows: Sequence[Mapping[str, str]]) -> None:
            if not rows:
                return
            if not opened:
                columns = tuple(rows[0])
                check_columns(name, columns)
                statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                    sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, columns))
                )
                cursor = stack.enter_context(connection.cursor())
                opened.append(stack.enter_context(cursor.copy(statement)))
            opened[0].write("".join("\t".join(row.values()) + "\n" for row in rows))

        yield write


def copy_rows(
    connection: psycopg.Connection[Any], name: str, rows: Iterable[Mapping[str, str]]
) -> int:
    """``COPY`` every row of ``rows`` into ``name`` (see :func:`copy_into`); how many."""
    count = 0
    chunk: list[Mapping[str, str]] = []
    with copy_into(connection, name) as write:
        for row in rows:
            chunk.append(row)
            if len(chunk) >= 10_000:
                write(chunk)
                count, chunk = count + len(chunk), []
        write(chunk)
    return count + len(chunk)


def check_columns(name: str, columns: Collection[str]) -> None:
    """Raise :class:`BenchError` unless ``columns`` fill every required column of ``name``
    in bookingcore's ``metadata`` (not null, with no default the database fills in)
    and name no other."""
    from bookingcore_adapters.sql import metadata  # noqa: PLC0415

    table_ = metadata.tables[name]
    unknown = sorted(set(columns) - set(table_.c.keys()))
    missing = [c.name for c in table_.c if c.name not in columns and not c.nullable]
    missing = [
        name
        for name in missing
        if not table_.c[name].identity and table_.c[name].server_default is None
    ]
    if unknown or missing:
        msg = (
            f"the loader is out of date for table {name}: unknown columns {unknown},"
            f" required columns not loaded {missing}"
        )
        raise BenchError(msg)


# --------------------------------------------------------------------------- timing and memory


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    """``call()``'s result and how long it took, in milliseconds."""
    started = time.perf_counter()
    result = call()
    return result, (time.perf_counter() - started) * 1000


#: The shortest timed sample :func:`calls_per_sample` aims at, in seconds: a call of a
#: fraction of a millisecond timed alone measures the clock and the scheduler.
MIN_SAMPLE_SECONDS = 0.1


def calls_per_sample(*sides: Callable[[], object], at_least: float = MIN_SAMPLE_SECONDS) -> int:
    """How many calls in a row one timed run of each side makes: the same number for all.

    As ``timeit``'s autorange: 1, 2, 5, 10, 20, 50, ... calls, until the slowest
    side's run lasts at least ``at_least`` seconds. Run the sides once before
    (a first call compiles and prepares), and skip this for sides whose single
    call already lasts that long.
    """
    for exponent in itertools.count():
        for first in (1, 2, 5):
            number = first * 10**exponent
            if max(time_calls(side, number)[1] * number for side in sides) >= at_least:
                return number
    raise AssertionError  # pragma: no cover - itertools.count() does not end


def time_calls(call: Callable[[], T], number: int) -> tuple[T, float]:
    """``call()`` run ``number`` times in a row: its last result and the seconds per call."""
    started = time.perf_counter()
    for _ in range(number - 1):
        call()
    result = call()
    return result, (time.perf_counter() - started) / number


def percentile(values: Sequence[float], percent: int) -> float:
    """The ``percent``-th percentile of ``values`` (inclusive method); NaN when empty."""
    if not values:
        return math.nan
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """The peak resident set of this process (or of its waited-for children), in MB."""
    peak = resource.getrusage(who).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def current_rss_mb() -> float | None:
    """This process's resident set now, in MB; None where ``/proc`` does not say."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


# --------------------------------------------------------------------------- the report


def ratio(figure: float, baseline: float) -> float:
    """``figure / baseline`` (how a side compares with its baseline); NaN without a baseline."""
    return figure / baseline if baseline > 0 else math.nan


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], left: int | Collection[int] = 0
) -> str:
    """Columns padded to their widest cell, right-aligned but for those ``left`` names.

    ``left`` is how many columns, from the first, are left-aligned, or the
    positions of those columns.
    """
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lefts = set(range(left)) if isinstance(left, int) else set(left)

    def line(cells: Sequence[str]) -> str:
        padded = (
            cell.ljust(width) if i in lefts else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def report_text(
    parts: Iterable[str], problems: Sequence[str] = (), *, most: int | None = None
) -> str:
    """A bench's report text: ``parts`` a line each (a :func:`table` is one part, ``""`` a
    blank line), then, when there are any, a blank line, ``problems:`` and each problem
    on its own line, indented two spaces (only the first ``most``, when given)."""
    lines = list(parts)
    if problems:
        shown = problems if most is None else problems[:most]
        lines += ["", "problems:", *(f"  {problem}" for problem in shown)]
    return "\n".join(lines)


def say(text: str) -> None:
    """A progress line on standard error, so standard output holds only the report."""
    print(text, file=sys.stderr, flush=True)


def run_bench(
    headline: str,
    measure: Callable[[], tuple[str, dict[str, Any]]],
    *,
    settings: Mapping[str, Any],
    json_path: Path | None,
) -> int:
    """Print ``headline``, run ``measure``, print its report; the exit status.

    ``measure`` returns the report's text and its figures, which hold ``ok``
    (every check passed). The JSON file, when asked for, holds ``ok``, the
    ``seconds`` the run took, the ``settings`` and every figure.
    """
    started = time.perf_counter()
    print(headline, flush=True)
    try:
        text, figures = measure()
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    print()
    print(text)
    print(f"\nfinished in {seconds:.1f} s")
    if json_path is not None:
        report = {"ok": figures["ok"], "seconds": seconds, "settings": dict(settings), **figures}
        json_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0 if figures["ok"] else 1


# --------------------------------------------------------------------------- worker processes

#: What a worker reports when another worker failed before the start.
STOPPED = "stopped: another worker failed before the start"


class WorkerOutcome(Protocol):
    """What a bench's worker process puts on the results queue."""

    @property
    def worker(self) -> int: ...

    @property
    def crash(self) -> str | None: ...


R = TypeVar("R", bound=WorkerOutcome)
T = TypeVar("T")


def run_processes(
    work: Callable[[T, Barrier, Queue[R]], None],
    tasks: Sequence[T],
    *,
    label: str,
    timeout: float,
) -> list[R]:
    """Run ``work(task, barrier, results)`` in one spawned process per task.

    The processes share a barrier (so timing starts together) and a results
    queue; the results come back sorted by ``worker``. A worker that crashed is
    a :class:`BenchError` naming it (the first real crash, before workers that
    only stopped because of it); so is a process that dies silently or a run
    past ``timeout`` seconds.
    """
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(tasks))
    results: Queue[R] = context.Queue()
    processes = [
        context.Process(target=work, args=(task, barrier, results), name=f"bench-{label}-{n}")
        for n, task in enumerate(tasks)
    ]
    try:
        for process in processes:
            process.start()
        collected = _collect(processes, results, timeout)
        for process in processes:
            process.join()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join()
        results.close()
        results.join_thread()
    crashed = sorted((r for r in collected if r.crash), key=lambda r: r.crash == STOPPED)
    if crashed:
        msg = f"{label} worker {crashed[0].worker} failed:\n{crashed[0].crash}"
        raise BenchError(msg)
    return sorted(collected, key=lambda result: result.worker)


def _collect(processes: Sequence[SpawnProcess], results: Queue[R], timeout: float) -> list[R]:
    deadline = time.monotonic() + timeout
    collected: list[R] = []
    while len(collected) < len(processes):
        try:
            collected.append(results.get(timeout=0.5))
        except queue.Empty:
            dead = [p for p in processes if p.exitcode not in (None, 0)]
            if dead:
                msg = f"worker process {dead[0].name} exited with {dead[0].exitcode}"
                raise BenchError(msg) from None
            if time.monotonic() > deadline:
                msg = f"the workers did not finish within {timeout:.0f} s"
                raise BenchError(msg) from None
    return collected
