"""The Typer application of the example CLI host.

Each command is a thin shell: it builds a :class:`rich.console.Console`, calls
one function that does the work, and lets Typer turn the outcome into an exit
code. Further command groups attach here with ``app.add_typer(...)``.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bookingcore import BookingError
from bookingcore.domain import JobState
from examples.cli.archive import archive_bookings, archived_bookings, unarchive_booking
from examples.cli.demo import DEFAULT_DATABASE, DemoError, run_demo
from examples.cli.imports import DEFAULT_DATABASE as DEFAULT_IMPORT_DATABASE
from examples.cli.imports import (
    add_advisor,
    add_location,
    import_file,
    import_jobs,
    import_locations,
)
from examples.cli.jobs import NoStoredQueueError, list_jobs, retry_job, run_worker

app = typer.Typer(
    name="bookingcore-cli",
    help="An example host for bookingcore.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """An example host for bookingcore: run its commands against an adapter."""
    # A callback keeps Typer in command-group mode, so `demo` stays a named
    # subcommand even while it is the only one.


@app.command()
def demo(
    db: Annotated[
        str,
        typer.Option(
            help="SQLAlchemy URL of an EMPTY database, or 'memory'. "
            "The default SQLite file is recreated on every run.",
        ),
    ] = DEFAULT_DATABASE,
) -> None:
    """Walk through the library's story on a database (a fresh SQLite file) and print it."""
    try:
        run_demo(Console(), db)
    except DemoError as exc:
        typer.echo(f"demo: {exc}", err=True)
        raise typer.Exit(2) from exc


locations = typer.Typer(help="Locations (dealers, centres, base camps) rows are booked at.")
advisors = typer.Typer(help="Advisors that imported bookings are assigned to.")
app.add_typer(locations, name="locations")
app.add_typer(advisors, name="advisors")


def _database_url(value: str) -> str:
    """``--db`` checked before any command opens it: a URL SQLAlchemy cannot parse is a
    usage error naming the option, not a traceback."""
    try:
        make_url(value)
    except ArgumentError as exc:
        msg = f"{value!r} is not an SQLAlchemy database URL (e.g. sqlite:///bookings.sqlite3)"
        raise typer.BadParameter(msg) from exc
    return value


Db = Annotated[
    str,
    typer.Option(
        help="SQLAlchemy URL of the database (created and migrated on first use).",
        callback=_database_url,
    ),
]


def _fail(command: str, exc: BookingError) -> NoReturn:
    """One line saying why, and exit code 2."""
    typer.echo(f"{command}: {exc}", err=True)
    raise typer.Exit(2) from exc


@locations.command("add")
def locations_add(code: str, name: str, db: Db = DEFAULT_IMPORT_DATABASE) -> None:
    """Add a location with a unique CODE."""
    try:
        location = add_location(db, code, name)
    except BookingError as exc:
        _fail("locations add", exc)
    typer.echo(f"added location {location.code} ({location.name})")


@locations.command("import")
def locations_import(file: Path, db: Db = DEFAULT_IMPORT_DATABASE) -> None:
    """Add the locations of a CSV file with the columns code,name."""
    try:
        added, existing = import_locations(db, file)
    except (BookingError, OSError) as exc:
        typer.echo(f"locations import: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"added {added} locations ({existing} were there already)")


@advisors.command("add")
def advisors_add(
    email: str,
    name: str,
    location: Annotated[
        str | None, typer.Option(help="The code of the location the advisor covers.")
    ] = None,
    db: Db = DEFAULT_IMPORT_DATABASE,
) -> None:
    """Add an advisor by EMAIL and NAME."""
    try:
        advisor = add_advisor(db, email, name, location)
    except BookingError as exc:
        _fail("advisors add", exc)
    typer.echo(f"added advisor {advisor.email}")


@app.command("import")
def import_(
    file: Path,
    db: Db = DEFAULT_IMPORT_DATABASE,
    preview: Annotated[bool, typer.Option(help="Show the first 100 rows; write nothing.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Validate every row; write nothing.")] = False,
    chunk_size: Annotated[int, typer.Option(help="Rows per transaction.")] = 500,
    errors_out: Annotated[
        Path | None, typer.Option(help="Where to write the error report (.csv or .xlsx).")
    ] = None,
    mapping: Annotated[
        str | None, typer.Option(help='JSON header -> column, e.g. {"Mobile": "customer_phone"}.')
    ] = None,
    assign: Annotated[
        str, typer.Option(help="manual, round_robin, least_loaded or dealer_based.")
    ] = "manual",
    resume: Annotated[
        UUID | None,
        typer.Option(help="Go on with the job a stopped run left PROCESSING (see `imports`)."),
    ] = None,
    kind: Annotated[
        str,
        typer.Option(
            help="What the rows are: bookings (see docs/importing.md), customers or travelers."
        ),
    ] = "bookings",
) -> None:
    """Import bookings, customers or travelers from a CSV or XLSX FILE."""
    try:
        import_file(
            Console(),
            db,
            file,
            preview=preview,
            dry_run=dry_run,
            chunk_size=chunk_size,
            errors_out=errors_out,
            mapping=mapping,
            assign=assign,
            resume=resume,
            kind=kind,
        )
    except (BookingError, OSError) as exc:
        typer.echo(f"import: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command("imports")
def imports_(db: Db = DEFAULT_IMPORT_DATABASE) -> None:
    """List the import jobs, newest first: a PROCESSING one can be resumed."""
    try:
        jobs = import_jobs(db)
    except BookingError as exc:
        _fail("imports", exc)
    columns = ("job", "file", "kind", "status", "rows done", "created", "updated", "failed")
    rows = [
        (
            str(job.id),
            job.filename,
            job.kind.value,
            job.status.value,
            f"{job.processed_rows}/{job.total_rows}",
            str(job.created),
            str(job.updated),
            str(job.failed),
        )
        for job in jobs
    ]
    console = Console()
    if not console.is_terminal:  # one tab-separated line a job, for scripts
        for row in (columns, *rows):
            typer.echo("\t".join(row))
        return
    table = Table(title="Import jobs")
    for column in columns:
        table.add_column(column, no_wrap=column == "job")
    for row in rows:
        table.add_row(*row)
    console.print(table)


# ---------------------------------------------------------------------- archive

archive_app = typer.Typer(
    help="Archive ended bookings now (the worker does it daily), list them, bring one back.",
    no_args_is_help=False,
)
app.add_typer(archive_app, name="archive")


@archive_app.callback(invoke_without_command=True)
def archive_(
    ctx: typer.Context,
    ended_before: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="Archive bookings whose slot ended before this day (UTC), e.g. 2026-01-01.",
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Bookings per transaction.")] = 200,
    db: Db = DEFAULT_IMPORT_DATABASE,
) -> None:
    """Archive ended, settled bookings whose slot ended before --ended-before."""
    if ctx.invoked_subcommand is not None:
        return
    if ended_before is None:
        typer.echo(
            "archive: give --ended-before YYYY-MM-DD (or subcommand list/unarchive)", err=True
        )
        raise typer.Exit(2)
    try:
        run = archive_bookings(db, ended_before.date(), batch_size=batch_size)
    except BookingError as exc:
        _fail("archive", exc)
    kept = ", ".join(f"{reason} {count}" for reason, count in run.kept.items()) or "none"
    typer.echo(
        f"archived {run.archived} booking(s) in {run.batches} batch(es) ending before "
        f"{run.ended_before:%Y-%m-%d}; kept live: {kept}"
    )


@archive_app.command("list")
def archive_list(
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    db: Db = DEFAULT_IMPORT_DATABASE,
) -> None:
    """List archived bookings, newest first: reference, status, slot start, archived at."""
    try:
        found = archived_bookings(db, limit=limit)
    except BookingError as exc:
        _fail("archive list", exc)
    for booking in found:
        assert booking.archived_at is not None
        typer.echo(
            "\t".join(
                (
                    booking.reference,
                    booking.status,
                    booking.starts_at.isoformat(),
                    booking.archived_at.isoformat(),
                )
            )
        )
    if not found:
        typer.echo("no archived bookings")


@archive_app.command("unarchive")
def archive_unarchive(
    reference: str,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit trail).")] = None,
    db: Db = DEFAULT_IMPORT_DATABASE,
) -> None:
    """Bring the booking REFERENCE back to the operational lists."""
    try:
        booking = unarchive_booking(db, reference, reason)
    except BookingError as exc:
        _fail("archive unarchive", exc)
    typer.echo(f"booking {booking.reference} is live again ({booking.status})")


# ---------------------------------------------------------------------- jobs

jobs_app = typer.Typer(
    help="List background jobs, or retry one (PostgreSQL: procrastinate's queue).",
    no_args_is_help=False,
)
app.add_typer(jobs_app, name="jobs")


@app.command("worker")
def worker(
    db: Db = DEFAULT_IMPORT_DATABASE,
    once: Annotated[bool, typer.Option(help="Run what is due, then stop.")] = False,
    concurrency: Annotated[int, typer.Option(help="Jobs at once (procrastinate).")] = 1,
    apply_schema: Annotated[
        bool, typer.Option(help="Apply procrastinate's schema first (PostgreSQL).")
    ] = False,
    redis: Annotated[
        str | None, typer.Option(help="Relay the outbox to this Redis (streams).")
    ] = None,
) -> None:
    """Run background jobs: in-process on SQLite, procrastinate on PostgreSQL."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        ran = run_worker(
            db, once=once, concurrency=concurrency, apply_schema=apply_schema, redis_url=redis
        )
    except BookingError as exc:
        _fail("worker", exc)
    if once and ran is None:
        typer.echo("procrastinate ran what was due; its log above lists each job")
    elif once:
        typer.echo(f"ran {ran} job(s)")


@jobs_app.callback(invoke_without_command=True)
def jobs_(
    ctx: typer.Context,
    db: Db = DEFAULT_IMPORT_DATABASE,
    state: Annotated[
        str | None, typer.Option(help="queued, running, failed, dead, succeeded or cancelled.")
    ] = None,
) -> None:
    """List jobs, newest first (queued, running, failed and dead ones by default).

    PostgreSQL only: on SQLite the in-process runner keeps no queue to list.
    """
    if ctx.invoked_subcommand is not None:
        return
    try:
        wanted = None if state is None else JobState(state)
    except ValueError:
        typer.echo(f"jobs: unknown state {state!r}", err=True)
        raise typer.Exit(2) from None
    try:
        records = list_jobs(db, wanted)
    except NoStoredQueueError as exc:
        typer.echo(f"jobs: {exc}", err=True)
        raise typer.Exit(2) from exc
    except BookingError as exc:
        _fail("jobs", exc)
    for record in records:
        typer.echo(
            "\t".join(
                (
                    record.id,
                    record.name,
                    record.state.value,
                    f"attempts={record.attempts}",
                    json.dumps(dict(record.args), sort_keys=True),
                )
            )
        )
    if not records:
        typer.echo("no jobs")


@jobs_app.command("retry")
def jobs_retry(job_id: str, db: Db = DEFAULT_IMPORT_DATABASE) -> None:
    """Queue a failed or dead job again, to run now."""
    try:
        record = retry_job(db, job_id)
    except NoStoredQueueError as exc:
        typer.echo(f"jobs retry: {exc}", err=True)
        raise typer.Exit(2) from exc
    except BookingError as exc:
        _fail("jobs retry", exc)
    typer.echo(
        f"job {record.id} ({record.name}) will run again (attempts so far: {record.attempts})"
    )
