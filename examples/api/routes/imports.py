"""Bulk import (``/api/admin/bookings/import``, ``imports``, ``preview``, ``validate``).

Files arrive as ``multipart/form-data`` with a ``file`` part (CSV or XLSX) and
optional text fields for the import's settings (``kind``: ``bookings``,
``customers`` or ``travelers``; ``lifecycle``, ``currency``, ``timezone``,
``region``, ``assignment``, ``mapping`` as a JSON object of header to column).
:func:`~examples.api.uploads.receive_upload` streams the file to the app's
upload directory and refuses it as soon as it is too big (413) or not a
spreadsheet (415); the app's scanner (``create_app(scanner=...)``) then scans
it (an infected file: 422, code ``infected`` on ``file``, nothing kept), before
the library's own checks (:func:`~bookingcore_adapters.importers.open_rows`).
Each staff member's uploads and retries are rate limited (429 with
``Retry-After``). The import runs in the request (one process, small files); a
host with workers hands ``run`` to its job queue instead. The imported file is
kept in the core's ``import_files`` store (``core.imports.keep_file``), so the
error report can be an XLSX copy of the sheet, until the ``imports.purge_files``
job deletes it after ``Settings.import_file_retention`` (then 410).
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from bookingcore import (
    AuthenticationError,
    BookingCore,
    FieldError,
    IdempotencyConflictError,
    ImportSettings,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    Principal,
    RateLimitedError,
    ValidationError,
)
from bookingcore.domain import ImportJob, ImportKind
from bookingcore.domain.queries import every_item
from bookingcore.ports.imports import RowSource
from bookingcore.ports.scanning import FileScanError, FileScanner, InfectedFileError
from bookingcore.services import ImportFilePurgedError
from bookingcore_adapters.importers import (
    FileLimits,
    open_rows,
    write_error_csv,
    write_error_xlsx,
)
from examples.api.deps import Core, IdempotencyKey, ImportingStaff, StaffPrincipal
from examples.api.errors import problem_responses
from examples.api.routes._paging import Cursor, Limit, page_request, paged
from examples.api.schemas import (
    ImportJobOut,
    ImportPlanOut,
    ImportPreviewOut,
    ImportRowErrorOut,
    ImportStatsOut,
    Paged,
)
from examples.api.uploads import UnsupportedUploadError, Upload, UploadTooLargeError, receive_upload

__all__ = ["UPLOAD_BODY", "router"]

router = APIRouter(prefix="/api/admin/bookings", tags=["admin imports"])

_SETTINGS = ("lifecycle", "currency", "timezone", "region", "assignment", "kind")
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: The OpenAPI request body of the upload routes (read by hand, so declared by hand).
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "additionalProperties": False,
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The CSV or XLSX file",
                        },
                        "mapping": {
                            "type": "string",
                            "description": "A JSON object of header -> column names",
                        },
                        **{
                            name: {"type": "string", "maxLength": 64}
                            for name in _SETTINGS
                            if name != "kind"
                        },
                        "kind": {
                            "type": "string",
                            "enum": [kind.value for kind in ImportKind],
                            "description": "What the rows are (default bookings)",
                        },
                    },
                }
            }
        },
    }
}

_UPLOAD_ERRORS = (
    AuthenticationError,
    PermissionDeniedError,
    UploadTooLargeError,
    UnsupportedUploadError,
    InfectedFileError,
    FileScanError,
    RateLimitedError,
)


def _directory(request: Request) -> Path:
    directory: Path = request.app.state.upload_dir
    return directory


def _limits(request: Request) -> FileLimits:
    return FileLimits(max_bytes=request.app.state.max_upload_bytes)


def _settings(fields: dict[str, str]) -> ImportSettings:
    """The import's settings from the upload's text fields; a field that is none of them
    is refused (as a JSON body's unknown field is), not ignored: a misspelt setting would
    otherwise import with the default."""
    unknown = sorted(set(fields) - {"mapping", *_SETTINGS})
    if unknown:
        raise ValidationError(
            [
                FieldError(name, "Extra inputs are not permitted", "extra_forbidden")
                for name in unknown
            ]
        )
    values: dict[str, Any] = {k: fields[k] for k in _SETTINGS if fields.get(k)}
    raw_mapping = fields.get("mapping")
    if raw_mapping:
        try:
            mapping = json.loads(raw_mapping)
        except ValueError as exc:
            raise ValidationError.single("mapping", "is not valid JSON", "invalid_json") from exc
        if not isinstance(mapping, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
        ):
            msg = "must be a JSON object of header -> column names"
            raise ValidationError.single("mapping", msg, "invalid_mapping")
        values["mapping"] = mapping
    return ImportSettings(**values)


async def _received(request: Request) -> Upload:
    """The upload, scanned: refused (and deleted) when infected or not scannable."""
    upload = await receive_upload(
        request, directory=_directory(request), max_bytes=request.app.state.max_upload_bytes
    )
    scanner: FileScanner = request.app.state.scanner
    try:
        found = await run_in_threadpool(scanner.scan, upload.path)
        if not found.clean:
            raise InfectedFileError(found.threat or "malware")
    except BaseException:
        upload.discard()
        raise
    return upload


def _open(request: Request, upload: Upload) -> RowSource:
    return open_rows(upload.path, filename=upload.filename, limits=_limits(request))


@contextmanager
def _kept(
    request: Request, core: BookingCore, job: ImportJob, staff: Principal
) -> Iterator[Path | None]:
    """The job's kept file as a local file while in the block (``None``: none kept).

    Raises:
        ImportFilePurgedError: the file was deleted after its retention.
    """
    if core.imports.files is None:
        yield None
        return
    try:
        content = core.imports.kept_file(job.id, principal=staff)
    except ImportFilePurgedError:
        raise
    except NotFoundError:
        yield None
        return
    directory = _directory(request)
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory, suffix=".kept") as handle:
        handle.write(content)
        handle.flush()
        yield Path(handle.name)


@router.post(
    "/import",
    operation_id="admin_import_bookings",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(*_UPLOAD_ERRORS, IdempotencyConflictError),
    openapi_extra=UPLOAD_BODY,
)
async def import_bookings(
    request: Request, core: Core, staff: ImportingStaff, idempotency_key: IdempotencyKey = None
) -> ImportJobOut:
    """Upload a CSV or XLSX file of bookings and import it; the job says what happened per row.

    With an ``Idempotency-Key`` a retry (the same file, name and settings, uploaded
    again) answers the job the first call started, as it is now, and imports nothing.
    """
    upload = await _received(request)
    try:

        def run() -> ImportJobOut:
            source = _open(request, upload)
            started: list[ImportJob] = []
            job = core.imports.start(
                source,
                principal=staff,
                settings=_settings(upload.fields),
                then=lambda _tx, made: started.append(made),
                idempotency_key=idempotency_key,
            )
            if not started:  # a retry: the first call kept the file and runs (or ran) the job
                return ImportJobOut.of(job)
            if core.imports.files is not None:
                # kept before the run, so a run that stops can be resumed from it
                core.imports.keep_file(job.id, upload.path.read_bytes(), principal=staff)
            return ImportJobOut.of(core.imports.run(job.id, source, principal=staff))

        return await run_in_threadpool(run)
    finally:
        upload.discard()


async def _checked(request: Request) -> tuple[Upload, RowSource, ImportSettings]:
    upload = await _received(request)
    try:
        source = await run_in_threadpool(_open, request, upload)
        return upload, source, _settings(upload.fields)
    except BaseException:
        upload.discard()
        raise


@router.post(
    "/preview",
    operation_id="admin_preview_import",
    responses=problem_responses(*_UPLOAD_ERRORS),
    openapi_extra=UPLOAD_BODY,
)
async def preview(
    request: Request,
    core: Core,
    staff: ImportingStaff,
    rows: Annotated[int, Query(ge=1, le=100, description="How many rows to check")] = 100,
) -> ImportPreviewOut:
    """The detected column mapping and the first rows, each with what would happen to it."""
    upload, source, settings = await _checked(request)
    try:
        found = await run_in_threadpool(
            lambda: core.imports.preview(source, principal=staff, settings=settings, limit=rows)
        )
        return ImportPreviewOut.of(found)
    finally:
        upload.discard()


@router.post(
    "/validate",
    operation_id="admin_validate_import",
    responses=problem_responses(*_UPLOAD_ERRORS),
    openapi_extra=UPLOAD_BODY,
)
async def validate(request: Request, core: Core, staff: ImportingStaff) -> ImportPlanOut:
    """A dry run of the whole file: what it would create, update and skip, and every bad row."""
    upload, source, settings = await _checked(request)
    try:
        plan = await run_in_threadpool(
            lambda: core.imports.dry_run(source, principal=staff, settings=settings)
        )
        return ImportPlanOut.of(plan)
    finally:
        upload.discard()


@router.get(
    "/imports",
    operation_id="admin_list_imports",
    responses=problem_responses(AuthenticationError, PermissionDeniedError),
)
def list_imports(
    request: Request, core: Core, staff: StaffPrincipal, limit: Limit = 20, cursor: Cursor = None
) -> Paged[ImportJobOut]:
    """The import history, newest first."""
    page = core.imports.list(principal=staff, page=page_request(limit, cursor))
    return paged(Paged[ImportJobOut], request, page, ImportJobOut.of)


class StatsKind(StrEnum):
    """Which imports the statistics count: one kind, or ``all`` of them together."""

    BOOKINGS = "bookings"
    CUSTOMERS = "customers"
    TRAVELERS = "travelers"
    ALL = "all"


@router.get(
    "/stats",
    operation_id="admin_import_stats",
    responses=problem_responses(AuthenticationError, PermissionDeniedError),
)
def import_stats(
    core: Core, staff: StaffPrincipal, kind: StatsKind = StatsKind.BOOKINGS
) -> ImportStatsOut:
    """Import statistics: jobs by status and rows created, updated, skipped and failed.

    Booking imports by default (customer and traveler imports are not counted with
    them); ``kind`` picks another kind, or ``all``. Computed by
    ``core.reports.import_statistics``.
    """
    lines = core.reports.import_statistics(
        principal=staff, kind=None if kind is StatsKind.ALL else kind.value
    )
    return ImportStatsOut(
        jobs=sum(line.jobs for line in lines),
        by_status={line.status: line.jobs for line in lines},
        rows=sum(line.rows for line in lines),
        created=sum(line.created for line in lines),
        updated=sum(line.updated for line in lines),
        skipped=sum(line.skipped for line in lines),
        failed=sum(line.failed for line in lines),
    )


@router.get(
    "/imports/{job_id}",
    operation_id="admin_get_import",
    responses=problem_responses(AuthenticationError, PermissionDeniedError, NotFoundError),
)
def get_import(job_id: UUID, core: Core, staff: StaffPrincipal) -> ImportJobOut:
    """One import's status and counts."""
    return ImportJobOut.of(core.imports.get(job_id, principal=staff))


@router.post(
    "/imports/{job_id}/retry",
    operation_id="admin_retry_import",
    responses=problem_responses(
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        InvalidTransitionError,
        IdempotencyConflictError,
        RateLimitedError,
    ),
)
def retry_import(
    job_id: UUID, core: Core, staff: ImportingStaff, idempotency_key: IdempotencyKey = None
) -> ImportJobOut:
    """Import the failed rows again as they were stored (after fixing what they referred to).

    With an ``Idempotency-Key`` a retry answers the job as it is now and imports nothing
    again (no 409 while the first call still runs).
    """
    job = core.imports.retry(job_id, principal=staff, idempotency_key=idempotency_key)
    return ImportJobOut.of(job)


@router.delete(
    "/imports/{job_id}",
    operation_id="admin_cancel_import",
    responses=problem_responses(
        AuthenticationError, PermissionDeniedError, NotFoundError, InvalidTransitionError
    ),
)
def cancel_import(job_id: UUID, core: Core, staff: StaffPrincipal) -> ImportJobOut:
    """Stop an import that has not finished (finished ones answer 409)."""
    return ImportJobOut.of(core.imports.cancel(job_id, principal=staff))


class ReportFormat(StrEnum):
    """The error report's file type."""

    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


@router.get(
    "/imports/{job_id}/errors",
    operation_id="admin_import_errors",
    response_model=Paged[ImportRowErrorOut],
    responses={
        **problem_responses(
            AuthenticationError, PermissionDeniedError, NotFoundError, ImportFilePurgedError
        ),
        200: {
            "description": (
                "The failed rows: a JSON page by row number (follow ``next``), or every"
                " failed row as a CSV report or an XLSX copy with marked cells"
            ),
            "content": {
                "application/json": {},
                "text/csv": {"schema": {"type": "string"}},
                _XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        },
    },
)
def import_errors(
    request: Request,
    job_id: UUID,
    core: Core,
    staff: StaffPrincipal,
    format: ReportFormat = ReportFormat.JSON,
    unresolved_only: bool = True,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    """The import's failed rows: as JSON, by row number a page at a time (follow
    ``next``); or every one of them in a CSV to fix and re-upload, or the sheet
    marked up (``limit`` and ``cursor`` do not apply to the files). The XLSX copy
    needs the uploaded file: 410 once its retention passed (CSV still works)."""
    job = core.imports.get(job_id, principal=staff)
    if format is ReportFormat.JSON:
        page = core.imports.errors(
            job_id, page_request(limit, cursor), principal=staff, unresolved_only=unresolved_only
        )
        return paged(Paged[ImportRowErrorOut], request, page, ImportRowErrorOut.of)
    errors = list(
        every_item(
            partial(core.imports.errors, job_id, principal=staff, unresolved_only=unresolved_only)
        )
    )
    stem = Path(job.filename).stem or "import"
    if format is ReportFormat.CSV:
        header = job.settings.get("header") or _header(errors)
        text = io.StringIO(newline="")
        write_error_csv(errors, tuple(header), text)
        return Response(
            text.getvalue().encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{stem}-errors.csv"'},
        )
    out = io.BytesIO()
    with _kept(request, core, job, staff) as kept:
        if kept is None:
            msg = "the uploaded file is not kept; ask for format=csv"
            raise NotFoundError("import file", str(job.id), msg)
        write_error_xlsx(kept, errors, out, limits=_limits(request))
    return Response(
        out.getvalue(),
        media_type=_XLSX,
        headers={"Content-Disposition": f'attachment; filename="{stem}-errors.xlsx"'},
    )


def _header(errors: Any) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for error in errors:
        for name in error.raw_row:
            seen.setdefault(name)
    return tuple(seen)
