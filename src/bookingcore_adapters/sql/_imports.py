"""Bulk import jobs and their row errors in SQL: tables, mapping and repositories."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import attrs
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    case,
    distinct,
    func,
    literal_column,
    select,
)
from sqlalchemy.sql import Select

from bookingcore.domain.imports import (
    FILE_PURGED_AT,
    CellProblem,
    ImportJob,
    ImportKind,
    ImportRowError,
    ImportStatus,
)
from bookingcore.domain.queries import (
    Page,
    PageRequest,
)
from bookingcore.domain.tallies import ImportErrorTally, ImportTally, ImportTimingTally
from bookingcore_adapters.sql._mapper import (
    Mapper,
    Row,
    Stored,
    actor_columns,
    json_copy,
    required_actor,
)
from bookingcore_adapters.sql._queries import (
    ZERO,
    duration_summary,
    micros_between,
    read_duration,
    total,
    within,
)
from bookingcore_adapters.sql._repository import Repository
from bookingcore_adapters.sql._schema import (
    ENUM,
    json_type,
    metadata,
    ref,
    when,
)

__all__ = [
    "IMPORTS",
    "IMPORT_ERRORS",
    "ImportErrorRepository",
    "ImportJobRepository",
    "booking_import_errors",
    "booking_imports",
]

E = TypeVar("E")


# --------------------------------------------------------------------------- tables


#: Seed 004's ``booking_imports``: one row per file imported.
booking_imports = Table(
    "booking_imports",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("filename", String(512), nullable=False),
    Column("file_format", String(10), nullable=False),
    Column("file_size", BigInteger(), nullable=False),
    Column("file_digest", String(64), nullable=False),
    Column("created_by_kind", ENUM, nullable=False),
    Column("created_by_id", String()),
    Column("status", ENUM, nullable=False, index=True),
    Column("import_settings", json_type(), nullable=False),
    Column("total_rows", Integer(), nullable=False),
    Column("processed_rows", Integer(), nullable=False),
    Column("created_rows", Integer(), nullable=False),
    Column("updated_rows", Integer(), nullable=False),
    Column("skipped_rows", Integer(), nullable=False),
    Column("failed_rows", Integer(), nullable=False),
    Column("error_summary", json_type(), nullable=False),
    Column("cancel_requested", Boolean(), nullable=False),
    when("started_at", nullable=True),
    when("completed_at", nullable=True),
    when("created_at"),
    when("updated_at"),
    Column("version", Integer(), nullable=False),
    Index(None, "created_at", "id"),
)

#: Seed 004's ``booking_import_errors``: the rows an import could not take.
booking_import_errors = Table(
    "booking_import_errors",
    metadata,
    Column("id", Uuid(), primary_key=True),
    ref("import_id", "booking_imports.id", nullable=False, ondelete="CASCADE"),
    Column("row_number", Integer(), nullable=False),
    Column("raw_row", json_type(), nullable=False),
    Column("error_message", Text(), nullable=False),
    Column("error_type", String(50), nullable=False),
    Column("field_errors", json_type(), nullable=False),
    when("created_at"),
    when("resolved_at", nullable=True),
    Index(None, "import_id", "row_number"),
)


# --------------------------------------------------------------------------- mapping


def _dump_import(x: ImportJob) -> Row:
    return {
        "id": x.id,
        "filename": x.filename,
        "file_format": x.file_format,
        "file_size": x.file_size,
        "file_digest": x.file_digest,
        **actor_columns("created_by_kind", "created_by_id", x.created_by),
        "status": x.status.value,
        "import_settings": json_copy(x.settings),
        "total_rows": x.total_rows,
        "processed_rows": x.processed_rows,
        "created_rows": x.created,
        "updated_rows": x.updated,
        "skipped_rows": x.skipped,
        "failed_rows": x.failed,
        "error_summary": json_copy(x.error_summary),
        "cancel_requested": x.cancel_requested,
        "started_at": x.started_at,
        "completed_at": x.completed_at,
        "created_at": x.created_at,
        "updated_at": x.updated_at,
        "version": x.version,
    }


def _load_import(r: Stored, _: Sequence[Stored]) -> ImportJob:
    return ImportJob(
        id=r["id"],
        filename=r["filename"],
        file_format=r["file_format"],
        file_size=r["file_size"],
        file_digest=r["file_digest"],
        created_by=required_actor(r, "created_by_kind", "created_by_id"),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        status=ImportStatus(r["status"]),
        settings=json_copy(r["import_settings"]),
        total_rows=r["total_rows"],
        processed_rows=r["processed_rows"],
        created=r["created_rows"],
        updated=r["updated_rows"],
        skipped=r["skipped_rows"],
        failed=r["failed_rows"],
        error_summary=json_copy(r["error_summary"]),
        cancel_requested=r["cancel_requested"],
        started_at=r["started_at"],
        completed_at=r["completed_at"],
        version=r["version"],
    )


def _dump_import_error(x: ImportRowError) -> Row:
    return {
        "id": x.id,
        "import_id": x.job_id,
        "row_number": x.row_number,
        "raw_row": dict(x.raw_row),
        "error_message": x.message,
        "error_type": x.error_type,
        "field_errors": [attrs.asdict(problem) for problem in x.problems],
        "created_at": x.created_at,
        "resolved_at": x.resolved_at,
    }


def _load_import_error(r: Stored, _: Sequence[Stored]) -> ImportRowError:
    return ImportRowError(
        id=r["id"],
        job_id=r["import_id"],
        row_number=r["row_number"],
        raw_row=dict(r["raw_row"]),
        problems=tuple(CellProblem(**problem) for problem in r["field_errors"]),
        created_at=r["created_at"],
        resolved_at=r["resolved_at"],
    )


IMPORTS = Mapper[ImportJob](
    "importjob", booking_imports, _dump_import, _load_import, versioned=True
)
IMPORT_ERRORS = Mapper[ImportRowError](
    "importrowerror", booking_import_errors, _dump_import_error, _load_import_error
)


# --------------------------------------------------------------------------- tallies

#: Import jobs per status, without a period (:meth:`ImportJobRepository.tally` adds one):
#: built once, as building the statement costs more than running it on a few jobs.
_IMPORT_TALLY: Select[Any] = select(
    booking_imports.c.status,
    func.count(),
    *(
        total(column)
        for column in (
            booking_imports.c.total_rows,
            booking_imports.c.created_rows,
            booking_imports.c.updated_rows,
            booking_imports.c.skipped_rows,
            booking_imports.c.failed_rows,
        )
    ),
).group_by(booking_imports.c.status)

#: Failed rows per error type, without a period (:meth:`ImportErrorRepository.tally_by_type`
#: adds one on the jobs' creation). Its constants are written into the SQL, not bound
#: (see :data:`~bookingcore_adapters.sql._queries.ZERO`).
_ERROR_TALLY: Select[Any] = (
    select(
        booking_import_errors.c.error_type,
        func.count(),
        func.count(distinct(booking_import_errors.c.import_id)),
        total(
            case((booking_import_errors.c.resolved_at.is_(None), literal_column("1")), else_=ZERO)
        ),
    )
    .select_from(
        booking_import_errors.join(
            booking_imports, booking_import_errors.c.import_id == booking_imports.c.id
        )
    )
    .group_by(booking_import_errors.c.error_type)
)


@functools.lru_cache(maxsize=8)
def _import_timings(dialect: str) -> Select[Any]:
    """Processing times per status of every job: built once per dialect."""
    return _timings_within(dialect, None, None)


def _of_kind(kind: ImportKind | None) -> list[ColumnElement[bool]]:
    """The jobs of ``kind`` (any without it: none); a job whose settings name no kind
    imported bookings."""
    if kind is None:
        return []
    named = booking_imports.c.import_settings["kind"].as_string()
    return [func.coalesce(named, ImportKind.BOOKINGS.value) == kind.value]


def _timings_within(
    dialect: str,
    created_from: datetime | None,
    created_before: datetime | None,
    kind: ImportKind | None = None,
) -> Select[Any]:
    """Processing times per status of the jobs created in the period (inside the
    sub-query that times them)."""
    c = booking_imports.c
    timed = (
        select(c.status, micros_between(c.started_at, c.completed_at, dialect).label("micros"))
        .where(*within(c.created_at, created_from, created_before), *_of_kind(kind))
        .subquery()
    )
    return duration_summary(timed, ["status"], dialect)


# --------------------------------------------------------------------------- repositories


class ImportJobRepository(Repository[ImportJob]):
    """:class:`~bookingcore.ports.ImportJobRepository` in SQL."""

    def get(self, job_id: UUID) -> ImportJob | None:
        return self._get(job_id)

    def get_for_update(self, job_id: UUID) -> ImportJob | None:
        return self._session.lock(self._mapper, job_id)

    def list(self, page: PageRequest) -> Page[ImportJob]:
        return self._session.page(self._mapper, [], lambda _: True, page)

    def tally(
        self,
        created_from: datetime | None,
        created_before: datetime | None,
        *,
        kind: ImportKind | None = None,
    ) -> Sequence[ImportTally]:
        where = [
            *within(booking_imports.c.created_at, created_from, created_before),
            *_of_kind(kind),
        ]
        found: Sequence[Sequence[Any]]
        if where:
            found = self._session.connection().execute(_IMPORT_TALLY.where(*where)).all()
        else:
            # Every job: the statement built once, run as it was compiled the first time.
            found = self._session.fixed_rows(_IMPORT_TALLY)
        return [
            ImportTally(
                str(status), jobs, int(rows), int(created), int(updated), int(skipped), int(failed)
            )
            for status, jobs, rows, created, updated, skipped, failed in found
        ]

    def tally_timings(
        self,
        created_from: datetime | None,
        created_before: datetime | None,
        *,
        kind: ImportKind | None = None,
    ) -> Sequence[ImportTimingTally]:
        connection = self._session.connection()
        dialect = connection.dialect.name
        found: Sequence[Sequence[Any]]
        if created_from is None and created_before is None and kind is None:
            # Every job: the statement built once per dialect (see _import_timings).
            found = self._session.fixed_rows(_import_timings(dialect))
        else:
            statement = _timings_within(dialect, created_from, created_before, kind)
            found = connection.execute(statement).all()
        return [ImportTimingTally(str(row[0]), read_duration(row[1:])) for row in found]

    def files_to_purge(self, finished_before: datetime, *, limit: int) -> Sequence[ImportJob]:
        c = self._table.c
        final = [s.value for s in ImportStatus if s.is_final]
        return self._session.select(
            self._mapper,
            [
                c.status.in_(final),
                c.completed_at < finished_before,
                c.import_settings[FILE_PURGED_AT].as_string().is_(None),
            ],
            lambda job: (
                job.status.is_final
                and job.completed_at is not None
                and job.completed_at < finished_before
                and FILE_PURGED_AT not in job.settings
            ),
            lambda job: (job.completed_at, job.id.bytes),
            order_by=[c.completed_at, c.id],
            limit=limit,
        )


class ImportErrorRepository(Repository[ImportRowError]):
    """:class:`~bookingcore.ports.ImportErrorRepository` in SQL."""

    def tally_by_type(
        self,
        created_from: datetime | None,
        created_before: datetime | None,
        *,
        kind: ImportKind | None = None,
    ) -> Sequence[ImportErrorTally]:
        where = [
            *within(booking_imports.c.created_at, created_from, created_before),
            *_of_kind(kind),
        ]
        found: Sequence[Sequence[Any]]
        if where:
            found = self._session.connection().execute(_ERROR_TALLY.where(*where)).all()
        else:
            # Every failed row: the statement built once, run as it was compiled first.
            found = self._session.fixed_rows(_ERROR_TALLY)
        return [
            ImportErrorTally(str(row[0]), int(row[1]), int(row[2]), int(row[3])) for row in found
        ]

    def list_for_job(
        self, job_id: UUID, *, unresolved_only: bool = False
    ) -> Sequence[ImportRowError]:
        c = self._table.c
        where = [c.import_id == job_id]
        if unresolved_only:
            where.append(c.resolved_at.is_(None))
        return self._session.select(
            self._mapper,
            where,
            lambda e: e.job_id == job_id and (e.resolved_at is None or not unresolved_only),
            lambda e: (e.row_number, e.created_at, e.id.bytes),
            order_by=[c.row_number, c.created_at, c.id],
        )

    def page_for_job(
        self, job_id: UUID, page: PageRequest, *, unresolved_only: bool = False
    ) -> Page[ImportRowError]:
        c = self._table.c
        where = [c.import_id == job_id]
        if unresolved_only:
            where.append(c.resolved_at.is_(None))
        return self._session.ranked_page(
            self._mapper,
            where,
            lambda e: e.job_id == job_id and (e.resolved_at is None or not unresolved_only),
            page,
            ("row_number", lambda e: e.row_number, lambda number: number),
        )
