"""The CLI's reference-data and import commands, as plain functions over a database URL.

``--db`` defaults to :data:`DEFAULT_DATABASE`, an SQLite file in the working
directory that is created and migrated on first use. Every function here
opens the store, does one job, and closes it; :mod:`examples.cli.app` only
turns arguments into calls and outcomes into exit codes.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from uuid import UUID

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from bookingcore import (
    BookingCore,
    ImportSettings,
    PageRequest,
    Principal,
    ValidationError,
)
from bookingcore.domain import ImportJob, ImportKind, Location, StaffMember
from bookingcore.domain.queries import every_item
from bookingcore.ports.imports import RowSource
from bookingcore.services import ImportPlan, ImportPreview
from bookingcore_adapters.importers import open_rows, write_error_csv, write_error_xlsx
from bookingcore_adapters.sql import SqlStore

__all__ = [
    "CLI",
    "DEFAULT_DATABASE",
    "add_advisor",
    "add_location",
    "import_file",
    "import_jobs",
    "import_locations",
    "opened",
]

#: The embedded database the commands use unless ``--db`` names another.
DEFAULT_DATABASE = "sqlite:///bookingcore.sqlite3"

#: Who the CLI acts as: the operator at the terminal, recorded as ``system:cli``.
CLI = Principal.system("cli")


@contextmanager
def opened(database: str) -> Iterator[BookingCore]:
    """A core over ``database``, migrated to the current schema first."""
    store = SqlStore(database)
    try:
        store.migrate()
        yield BookingCore(uow_factory=store.unit_of_work)
    finally:
        store.dispose()


def add_location(database: str, code: str, name: str) -> Location:
    """Add one location (a dealer, centre or base camp)."""
    with opened(database) as core:
        return core.catalog.add_location(code, name, principal=CLI)


def import_locations(database: str, path: Path) -> tuple[int, int]:
    """Add the locations of a ``code,name`` CSV; returns (added, already there).

    Raises:
        ValidationError: on ``file`` when a column is missing, or on the first bad row
            (named ``row N``), with nothing added.
    """
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        fields = {f.strip().casefold(): f for f in reader.fieldnames or ()}
        if "code" not in fields or "name" not in fields:
            msg = "needs the columns code,name"
            raise ValidationError.single("file", msg, "missing_column")
        wanted = [
            (number, row[fields["code"]] or "", row[fields["name"]] or "")
            for number, row in enumerate(reader, start=2)
        ]
    added = existing = 0
    with opened(database) as core:
        known = {loc.code for loc in core.catalog.list_locations(principal=CLI)}
        for number, code, name in wanted:
            if code.strip().upper() in known:
                existing += 1
                continue
            try:
                core.catalog.add_location(code, name, principal=CLI)
            except ValidationError as exc:
                raise ValidationError(exc.errors, f"row {number}: {exc}") from None
            known.add(code.strip().upper())
            added += 1
    return added, existing


def add_advisor(database: str, email: str, name: str, location: str | None) -> StaffMember:
    """Add an advisor, covering ``location`` (a code) when given."""
    with opened(database) as core:
        return core.staff.add(email, name, principal=CLI, locations=[location] if location else [])


def import_file(
    console: Console,
    database: str,
    path: Path,
    *,
    preview: bool = False,
    dry_run: bool = False,
    chunk_size: int = 500,
    errors_out: Path | None = None,
    mapping: str | None = None,
    assign: str = "manual",
    resume: UUID | None = None,
    kind: str = "bookings",
) -> ImportJob | ImportPlan | ImportPreview:
    """Preview, dry-run or run the import of ``path``, printing what happened.

    ``kind`` says what the rows are: ``bookings``, ``customers`` or ``travelers``
    (:class:`~bookingcore.domain.ImportKind`). ``resume`` names a job a stopped
    process left PROCESSING (see :func:`import_jobs`): the run goes on after its
    last committed chunk, with the job's own settings (its kind too), and ends as
    an uninterrupted run would have.

    Raises:
        ValidationError: a file-level problem (on ``file``, ``mapping`` or a setting),
            or ``path`` is not the resumed job's file.
        NotFoundError: ``resume`` names no job.
    """
    overrides = _mapping(mapping)
    settings = ImportSettings(
        kind=kind, mapping=overrides, chunk_size=chunk_size, assignment=assign
    )
    source = open_rows(path)
    with opened(database) as core:
        if preview:
            shown = core.imports.preview(source, principal=CLI, settings=settings)
            _print_preview(console, shown)
            return shown
        if dry_run:
            plan = core.imports.dry_run(source, principal=CLI, settings=settings)
            _print_counts(
                console,
                f"Dry run of {path.name}: nothing was written",
                {
                    "total": plan.total,
                    "would create": plan.would_create,
                    "would update": plan.would_update,
                    "would skip": plan.would_skip,
                    "failed": plan.failed,
                },
            )
            for number, _, problems in plan.errors[:20]:
                text = "; ".join(p.describe() for p in problems)
                console.print(f"  row {number}: {escape(text)}")
            return plan
        if resume is None:
            resume = core.imports.start(source, principal=CLI, settings=settings).id
        job = _run_with_progress(console, core, source, resume)
        _print_counts(
            console,
            f"Import of {path.name}: {job.status.value}",
            {
                "total": job.total_rows,
                "created": job.created,
                "updated": job.updated,
                "skipped": job.skipped,
                "failed": job.failed,
            },
        )
        if job.failed:
            report = errors_out or path.with_name(f"{path.stem}.errors.csv")
            errors = list(every_item(partial(core.imports.errors, job.id, principal=CLI)))
            if report.suffix.lower() == ".xlsx":
                write_error_xlsx(source, errors, report)
            else:
                write_error_csv(errors, source.header, report)
            console.print(f"Error report: {report}")
        return job


def import_jobs(database: str, limit: int = 50) -> Sequence[ImportJob]:
    """The newest import jobs, with their status and counts."""
    with opened(database) as core:
        return core.imports.list(principal=CLI, page=PageRequest(limit=limit)).items


def _run_with_progress(
    console: Console, core: BookingCore, source: RowSource, job_id: UUID
) -> ImportJob:
    if not console.is_terminal:
        return core.imports.run(job_id, source, principal=CLI)
    columns = (
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} rows"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(f"importing {source.filename}", total=None)

        def advance(current: ImportJob) -> None:
            bar.update(task, completed=current.processed_rows)

        return core.imports.run(job_id, source, principal=CLI, progress=advance)


def _mapping(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"is not JSON: {exc.msg}"
        raise ValidationError.single("mapping", msg, "invalid_json") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        msg = 'must be a JSON object of header -> column, e.g. {"Mobile": "customer_phone"}'
        raise ValidationError.single("mapping", msg, "invalid_mapping")
    return value


def _print_counts(console: Console, title: str, counts: dict[str, int]) -> None:
    table = Table(title=title)
    for name in counts:
        table.add_column(name, justify="right")
    table.add_row(*(str(value) for value in counts.values()))
    console.print(table)


def _print_preview(console: Console, preview: ImportPreview) -> None:
    console.print(f"[bold]{escape(preview.filename)}[/]: columns found")
    for column, header in preview.mapping.items():
        console.print(f"  {column:<15} <- {escape(header)}")
    if preview.extra_columns:
        fate = "kept in metadata" if preview.kind is ImportKind.BOOKINGS else "not imported"
        console.print(f"  {fate}: {escape(', '.join(preview.extra_columns))}")
    for column, value in preview.defaults.items():
        console.print(f"  a blank {column} means {escape(value)} (an update keeps its {column})")
    table = Table(title=f"First {len(preview.rows)} rows ({preview.problems} with problems)")
    table.add_column("row", justify="right")
    table.add_column("action")
    table.add_column("problems")
    for row in preview.rows:
        text = "; ".join(p.describe() for p in row.problems)
        table.add_row(str(row.number), row.action, escape(text))
    console.print(table)
