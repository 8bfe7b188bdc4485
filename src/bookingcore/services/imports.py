"""Bulk import of bookings from a file: preview, dry run, chunked and resumable runs, retry.

The flow (a bulk import of bookings, as a car dealership runs it)::

    from bookingcore_adapters.importers import open_rows

    source = open_rows("bookings.xlsx")
    preview = core.imports.preview(source, principal=admin)      # first 100 rows
    plan = core.imports.dry_run(source, principal=admin)         # validates all, writes nothing
    job = core.imports.confirm(plan, source, principal=admin)    # no second validation
    # or in one go:
    job = core.imports.run_file(source, principal=admin, progress=print)

Each chunk of rows (500 by default) is one transaction that also moves the
job's counters, so a run that stops (a crash, a cancel) resumes with
:meth:`ImportService.run` after the last committed chunk and never books a row
twice. A row that breaks a rule becomes an
:class:`~bookingcore.domain.imports.ImportRowError` and the import goes on.

Rows that carry an ``external_id`` update the booking that already has it;
other rows are recognised by a fingerprint of their values, so importing the
same row again is *skipped*, not doubled.

Rows meet the booking path's rules: a new booking gets its slot's product's
supplier, a slot no longer sold is refused (``inactive``), a row booking a
waiting customer ends their waiting-list entry, and seats rows free are offered
to the slots' waiting lists once the rows are all applied (so a dry run, which
offers nothing, still predicts every row).

.. versionadded:: 0.1
"""

from __future__ import annotations

import builtins
import logging
import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import nullcontext
from datetime import datetime
from itertools import islice
from typing import Any
from uuid import UUID

import attrs

from bookingcore.domain import policy
from bookingcore.domain._validation import bounded_count, check_metadata, parse_timezone
from bookingcore.domain.assignment import Advisor, Assigner, AssignmentStrategy
from bookingcore.domain.audit import AuditAction
from bookingcore.domain.bookings import Author, Booking, BookingDraft, BookingTraveler, Raised
from bookingcore.domain.catalog import Location, Product, ProductFilter
from bookingcore.domain.customers import Customer, Traveler
from bookingcore.domain.import_people import (
    CUSTOMER_COLUMNS,
    TRAVELER_COLUMNS,
    CustomerRow,
    CustomerRowValidator,
    TravelerRow,
    TravelerRowValidator,
)
from bookingcore.domain.import_rows import (
    ColumnMapping,
    ReferenceData,
    RowValidator,
    ValidRow,
    map_header,
)
from bookingcore.domain.imports import (
    FILE_PURGED_AT,
    CellProblem,
    ImportJob,
    ImportKind,
    ImportRowError,
    ImportStatus,
    SourceRow,
    check_file_names,
)
from bookingcore.domain.lifecycle import Lifecycle
from bookingcore.domain.policy import Permission, Principal, StaffRole
from bookingcore.domain.pricing import LoyaltyDiscount
from bookingcore.domain.queries import Page, PageRequest, every_item
from bookingcore.domain.slots import Slot
from bookingcore.domain.sources import BookingSource
from bookingcore.domain.values import (
    Actor,
    BookingId,
    CustomerId,
    LocationId,
    Money,
    PhoneNumber,
    ProductId,
    SlotId,
    SupplierId,
    TravelerId,
)
from bookingcore.domain.waitlist import WaitlistEntry, WaitlistStatus
from bookingcore.errors import (
    BookingError,
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    ValidationError,
)
from bookingcore.ports.documents import FileStore
from bookingcore.ports.imports import RowSource
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services import commissions
from bookingcore.services._context import (
    ServiceContext,
    Transaction,
    claim_change,
    claim_creation,
    fingerprint,
    principal_key,
    under_fresh_reference,
)
from bookingcore.services._external_ids import ExternalIds
from bookingcore.services._import_kinds import (
    CustomerRules,
    RowChecker,
    RowRules,
    RowWriter,
    TravelerRules,
)
from bookingcore.services._requirements import requirement_problems
from bookingcore.services._seat_offers import (
    cancel_entries,
    offer_free_seats,
    take_up_alternative_offer,
)
from bookingcore.services._suppliers import check_items_allow
from bookingcore.services.bookings import check_sold_at
from bookingcore.services.customers import CustomerService, loyalty_discount_in
from bookingcore.services.reports import advisor_loads, round_robin_turn
from bookingcore.services.travelers import TravelerService

__all__ = [
    "ImportFilePurgedError",
    "ImportPlan",
    "ImportPreview",
    "ImportRow",
    "ImportService",
    "ImportSettings",
    "PreviewRow",
    "Progress",
]

_log = logging.getLogger("bookingcore.imports")

#: Called after each committed chunk with the job as it now stands.
Progress = Callable[[ImportJob], object]

_STRATEGIES = {s.value for s in AssignmentStrategy}
#: The job settings' key for the advisor assigner's state after the last committed chunk.
_ASSIGNER = "assigner_state"
#: Media types of the kept uploaded files, by the format the reader detected.
_MEDIA_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: The job settings' key for the file's header, in the file's order.
_HEADER = "header"
#: The job settings' key for the slots whose freed seats the committed chunks have not
#: offered to their waiting lists yet (offered when the run ends, stops or fails).
_OFFERS = "offer_slots"


def _mapping(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return dict(value or {})


def _kind(value: str | ImportKind) -> ImportKind:
    return ImportKind.parse(value)


#: A row that passed validation, of whichever kind the import reads.
ImportRow = ValidRow | CustomerRow | TravelerRow


@attrs.frozen
class ImportSettings:
    """How an import reads and writes its rows; kept on the job as JSON.

    Args:
        mapping: the file's header cell -> column name, overriding aliases
            (``{"Mobile No": "customer_phone"}``; ``""`` ignores a column).
        chunk_size: rows per transaction (500 by default).
        lifecycle: the lifecycle imported bookings follow; a car dealership's
            ``appointment`` by default. ``status`` cells must name its states.
        assignment: ``manual`` (only rows naming an advisor are assigned),
            ``round_robin``, ``least_loaded`` or ``dealer_based``.
        region: phone region for numbers written without a country code;
            ``None`` (the default) insists on international format.
        timezone: the IANA zone of dates and times written without an offset.
        currency: the currency of the free appointment slots the import opens
            where a row names no slot.
        emit_events: write a ``booking.created`` event per new booking, which
            runs your handlers (and the built-in automations, which message
            customers). Off by default: an import records history. Waiting-list
            changes are not history: entries a row ends and the offers of seats
            the rows freed (made once every row is applied) write their events
            and offer messages either way.
        workers: processes that validate rows; ``1`` validates in this process.
            More start fresh interpreters (``spawn``), get the validator once
            each and at most two batches of 1,000 rows each at a time, so the
            file is never read ahead; worth it only when validation, not
            storage, is the bottleneck (see ``docs/importing.md``).
        kind: what each row is (:class:`~bookingcore.domain.ImportKind`):
            ``bookings`` (the default; columns in ``docs/importing.md``), ``customers`` or
            ``travelers`` (see ``docs/importing-people.md``). ``lifecycle``,
            ``assignment`` and ``currency`` apply to bookings only; with
            ``emit_events`` a customers or travelers import writes
            ``CustomerRegistered`` and ``TravelerChanged`` events.

    Raises:
        ValidationError: naming the setting that is out of range or unknown.

    .. versionadded:: 0.1
    .. versionchanged:: 0.3 ``kind``.
    """

    mapping: Mapping[str, str] = attrs.field(factory=dict, converter=_mapping)
    chunk_size: int = 500
    lifecycle: str = "appointment"
    assignment: str = "manual"
    region: str | None = None
    timezone: str = "UTC"
    currency: str = "USD"
    emit_events: bool = False
    workers: int = 1
    kind: ImportKind = attrs.field(default=ImportKind.BOOKINGS, converter=_kind)

    def __attrs_post_init__(self) -> None:
        bounded_count(self.chunk_size, "chunk_size", minimum=1, maximum=10_000)
        if self.assignment not in _STRATEGIES:
            msg = f"{self.assignment!r} is not one of {', '.join(sorted(_STRATEGIES))}"
            raise ValidationError.single("assignment", msg, "invalid_choice")
        bounded_count(self.workers, "workers", minimum=1, maximum=64)
        parse_timezone(self.timezone)
        Money(0, self.currency)

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON data (what the job keeps)."""
        data = attrs.asdict(self)
        data["mapping"] = dict(self.mapping)
        data["kind"] = self.kind.value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImportSettings:
        """Settings from :meth:`to_dict` data; unknown keys are ignored."""
        names = {a.name for a in attrs.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@attrs.frozen
class PreviewRow:
    """One row of a preview: its cells, what the import would do, and its problems.

    ``action`` is ``"create"``, ``"update"``, ``"skip"`` or ``"error"``.

    .. versionadded:: 0.1
    """

    number: int
    values: Mapping[str, str]
    action: str
    problems: tuple[CellProblem, ...] = ()


@attrs.frozen
class ImportPreview:
    """The first rows of a file as the import reads them, before anything is written.

    ``extra_columns`` are the file's columns the kind does not know: a bookings
    import keeps them in each booking's metadata, a customers or travelers
    import leaves them out (a customer or traveler has no field for them).

    ``defaults`` says what a blank cell (or a missing column) stands for in a
    row that creates something: for a bookings import, ``{"status": initial}``,
    the initial state of the import's lifecycle (``"PENDING"`` for
    ``appointment``). A row updating a booking by ``external_id`` keeps the
    booking's status when its status cell is blank.

    .. versionadded:: 0.1
    .. versionchanged:: 0.3 ``kind``.
    .. versionchanged:: 0.4 ``defaults``.
    """

    filename: str
    header: tuple[str, ...]
    mapping: Mapping[str, str]
    extra_columns: tuple[str, ...]
    rows: tuple[PreviewRow, ...]
    kind: ImportKind = ImportKind.BOOKINGS
    defaults: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def problems(self) -> int:
        """How many of the previewed rows have problems."""
        return sum(1 for row in self.rows if row.problems)


@attrs.frozen(eq=False)
class ImportPlan:
    """A whole file validated by a dry run; nothing was written.

    :meth:`ImportService.confirm` writes ``rows`` without reading or validating
    the file again, as long as the file still has ``digest``. ``rows`` are of
    the settings' kind: :class:`~bookingcore.domain.ValidRow` (bookings),
    :class:`~bookingcore.domain.CustomerRow` or :class:`~bookingcore.domain.TravelerRow`.

    .. versionadded:: 0.1
    """

    filename: str
    file_format: str
    size: int
    digest: str
    settings: ImportSettings
    mapping: Mapping[str, str]
    rows: tuple[ImportRow, ...]
    errors: tuple[tuple[int, Mapping[str, str], tuple[CellProblem, ...]], ...]
    total: int
    would_create: int
    would_update: int
    would_skip: int

    @property
    def failed(self) -> int:
        """Rows that would fail."""
        return len(self.errors)


@attrs.frozen
class _Failure:
    number: int
    raw: Mapping[str, str]
    problems: tuple[CellProblem, ...]


_Item = ImportRow | _Failure


@attrs.frozen
class _Outcome:
    """What one row did: ``create``, ``update``, ``skip`` or ``error`` (with its failure)."""

    number: int
    action: str
    failure: _Failure | None = None

    @property
    def problems(self) -> tuple[CellProblem, ...]:
        return self.failure.problems if self.failure else ()


@attrs.define
class _Run:
    """What one pass of an import keeps between chunks."""

    job_id: UUID
    settings: ImportSettings
    lifecycle: Lifecycle
    mapping: ColumnMapping
    has_cells: bool
    principal: Principal
    assigner: Assigner
    #: ``principal.actor``, built once for the many rows that record it
    actor: Actor = attrs.field(init=False)
    seen_external: ExternalIds = attrs.Factory(ExternalIds)
    #: external ids first seen in the chunk being applied, forgotten if it is redone
    claimed: list[str] = attrs.Factory(list)
    retrying: dict[int, ImportRowError] | None = None
    #: the status the pass ends in: a retry of a cancelled or failed import, which
    #: never reads the rest of its file, leaves it as it was
    ends_as: ImportStatus = ImportStatus.COMPLETED
    #: what the import's kind decides: how rows are written and their errors shown
    rules: RowRules = attrs.field(init=False)
    #: rows this pass committed, and how many of them were refused (for the observer)
    rows_done: int = 0
    rows_refused: int = 0

    def __attrs_post_init__(self) -> None:
        self.actor = self.principal.actor


@attrs.define
class _Chunk:
    """Counts of one chunk, applied to the job with it."""

    created: int = 0
    updated: int = 0
    skipped: int = 0
    failures: list[_Failure] = attrs.Factory(list)
    fixed: list[int] = attrs.Factory(list)
    #: slots with a waiting list where the chunk freed seats
    freed: set[SlotId] = attrs.Factory(set)


class ImportFilePurgedError(NotFoundError):
    """The import's uploaded file was deleted after its retention
    (:attr:`Settings.import_file_retention`); ``purged_at`` says when.

    Its error report is still available as CSV (from the stored rows), and a
    retry of its failed rows still works: it replays the stored rows, never the file.

    .. versionadded:: 0.4
    """

    code = "import_file_purged"

    def __init__(self, job: ImportJob) -> None:
        self.purged_at = job.file_purged_at
        msg = (
            f"the uploaded file of import {job.id} is no longer kept"
            f" (deleted {self.purged_at:%Y-%m-%d %H:%M} UTC after its retention)"
        )
        super().__init__("import file", job.id, msg)

    def details(self) -> Mapping[str, Any]:
        purged = None if self.purged_at is None else self.purged_at.isoformat()
        return {**super().details(), "purged_at": purged}


class ImportService:
    """Preview, validate, run, cancel and retry bulk imports of bookings, customers
    and travelers (:attr:`ImportSettings.kind`).

    Only staff with ``import_bookings`` (admins by default) may
    import, whatever the kind.

    ``files`` is the store uploaded files are kept in (``BookingCore(import_files=...)``;
    ``None``: none kept), purged after ``Settings.import_file_retention``.

    .. versionadded:: 0.1
    .. versionchanged:: 0.3 customers and travelers files.
    .. versionchanged:: 0.4 ``files``: keeping and purging uploaded files.
    """

    def __init__(self, context: ServiceContext, files: FileStore | None = None) -> None:
        self._ctx = context
        self.files = files

    # ------------------------------------------------------------------ uploaded files

    @staticmethod
    def file_key(job_id: UUID) -> str:
        """The key an import's uploaded file is kept under in :attr:`files`.

        .. versionadded:: 0.4
        """
        return f"{job_id}.import"

    def keep_file(self, job_id: UUID, content: bytes, *, principal: Principal) -> str:
        """Keep the uploaded file of import ``job_id`` in the core's ``import_files``
        store (for its error report, and for resuming a run that stopped) until
        :attr:`Settings.import_file_retention` after the import finished; returns
        where it is. Keeping it again replaces it (a retried upload).

        Raises:
            PermissionDeniedError: ``principal`` may not import.
            NotFoundError: no such job.
            ImportFilePurgedError: the job's file was already purged.
            ValidationError: on ``import_files`` when no store is wired.

        .. versionadded:: 0.4
        """
        self._require(principal)
        files = self._files()
        with self._ctx.uow_factory() as uow:
            job = self._job(uow, job_id)
        if job.file_purged_at is not None:
            raise ImportFilePurgedError(job)
        media_type = _MEDIA_TYPES.get(job.file_format, "application/octet-stream")
        return files.put(self.file_key(job_id), content, media_type=media_type)

    def kept_file(self, job_id: UUID, *, principal: Principal) -> bytes:
        """The uploaded file of import ``job_id``, as kept by :meth:`keep_file`.

        Raises:
            PermissionDeniedError: ``principal`` may not import.
            NotFoundError: no such job, or its file was never kept.
            ImportFilePurgedError: the file was deleted after its retention (a
                :class:`~bookingcore.NotFoundError` saying when).
            ValidationError: on ``import_files`` when no store is wired.

        .. versionadded:: 0.4
        """
        self._require(principal)
        files = self._files()
        with self._ctx.uow_factory() as uow:
            job = self._job(uow, job_id)
        if job.file_purged_at is not None:
            raise ImportFilePurgedError(job)
        return files.get(self.file_key(job_id))

    def purge_files(self, *, principal: Principal, limit: int = 100) -> int:
        """Delete the uploaded files of imports that finished (completed, failed or
        cancelled) more than :attr:`Settings.import_file_retention` ago; returns how
        many jobs were marked purged.

        A job still pending or running is never touched, and a retried job's
        retention counts from the end of its last run (``completed_at``). Each job
        is locked, checked again, its file deleted and the job marked
        (``ImportJob.file_purged_at``, with an audit entry) in one transaction:
        two workers purging at once delete each file once and mark each job once;
        deleting a file that is gone already is no error. Nothing happens when
        no store is wired or the retention is ``None``.

        Raises:
            PermissionDeniedError: ``principal`` may not import.

        .. versionadded:: 0.4
        """
        self._require(principal)
        retention = self._ctx.settings.import_file_retention
        if self.files is None or retention is None:
            return 0
        limit = bounded_count(limit, "limit", minimum=1, maximum=10_000)
        now = self._ctx.now()
        cutoff = now - retention
        purged = 0
        seen: set[UUID] = set()
        while True:
            with self._ctx.uow_factory() as uow:
                due = [job.id for job in uow.imports.files_to_purge(cutoff, limit=limit)]
            fresh = [job_id for job_id in due if job_id not in seen]
            seen.update(fresh)
            purged += sum(self._purge(job_id, cutoff, now, principal) for job_id in fresh)
            if len(due) < limit or not fresh:
                return purged

    def _purge(self, job_id: UUID, cutoff: datetime, now: datetime, principal: Principal) -> bool:
        assert self.files is not None
        with self._ctx.transaction() as tx:
            job = tx.uow.imports.get_for_update(job_id)
            if (
                job is None
                or not job.status.is_final
                or job.completed_at is None
                or job.completed_at >= cutoff
                or job.file_purged_at is not None
            ):
                return False  # retried, or purged by another worker, meanwhile
            deleted = self.files.delete(self.file_key(job.id))
            job.settings = {**job.settings, FILE_PURGED_AT: now.isoformat()}
            self._touch(job)
            tx.audit(
                principal,
                entity="import",
                entity_id=job.id,
                action=AuditAction.UPDATED,
                new={FILE_PURGED_AT: now.isoformat(), "file_deleted": deleted},
                reason="uploaded file kept past its retention",
            )
            tx.commit()
            return True

    def _files(self) -> FileStore:
        if self.files is None:
            msg = "no store for uploaded files is configured: pass import_files=... to BookingCore"
            raise ValidationError.single("import_files", msg, "not_configured")
        return self.files

    # ------------------------------------------------------------------ reading

    def get(self, job_id: UUID, *, principal: Principal) -> ImportJob:
        """The import job.

        Raises:
            PermissionDeniedError: ``principal`` may not import.
            NotFoundError: no such job.
        """
        self._require(principal)
        with self._ctx.uow_factory() as uow:
            return self._job(uow, job_id)

    def list(self, *, principal: Principal, page: PageRequest | None = None) -> Page[ImportJob]:
        """Import jobs, newest first (the import history)."""
        self._require(principal)
        with self._ctx.uow_factory() as uow:
            return uow.imports.list(page or PageRequest())

    def errors(
        self,
        job_id: UUID,
        page: PageRequest | None = None,
        *,
        principal: Principal,
        unresolved_only: bool = True,
    ) -> Page[ImportRowError]:
        """The job's failed rows by row number, a page at a time (pass the page's
        ``next_cursor`` for the next rows; by default only those still failing).

        Raises:
            NotFoundError: no such job.
            PermissionDeniedError: ``principal`` may not import.
            ValidationError: on ``limit`` or ``cursor`` for a bad page.

        .. versionchanged:: 0.3
           Takes a :class:`~bookingcore.domain.PageRequest` and answers a
           :class:`~bookingcore.domain.Page` (was every failed row); an error
           report to fix and re-upload follows every page.
        """
        self._require(principal)
        with self._ctx.uow_factory() as uow:
            self._job(uow, job_id)
            return uow.import_errors.page_for_job(
                job_id, page or PageRequest(), unresolved_only=unresolved_only
            )

    # ------------------------------------------------------------------ looking before booking

    def preview(
        self,
        source: RowSource,
        *,
        principal: Principal,
        settings: ImportSettings | None = None,
        limit: int = 100,
    ) -> ImportPreview:
        """The detected mapping and the first ``limit`` rows with what would happen
        to each and its problems. Writes nothing.

        Raises:
            PermissionDeniedError: ``principal`` may not import.
            ValidationError: a file-level problem (missing column, bad mapping),
                or on ``limit`` when it is not a whole number from 1 to 1,000,000.
        """
        self._require(principal)
        limit = bounded_count(limit, "limit", minimum=1)
        settings = settings or ImportSettings()
        run, validator = self._prepare(source, settings, principal, job_id=None)
        read = list(islice(source.rows(), limit))
        items = [_validated(validator, row) for row in read]
        try:
            outcomes = self._simulate(run.rules.writer(lock=False), run, items, validator)
        finally:
            run.seen_external.close()
        rows = tuple(
            PreviewRow(row.number, validator.raw(row), outcome.action, outcome.problems)
            for row, outcome in zip(read, outcomes, strict=True)
        )
        return ImportPreview(
            filename=source.filename,
            header=source.header,
            mapping=run.mapping.describe(),
            extra_columns=tuple(run.mapping.extra),
            rows=rows,
            kind=settings.kind,
            defaults=(
                {"status": run.lifecycle.initial} if settings.kind is ImportKind.BOOKINGS else {}
            ),
        )

    def dry_run(
        self,
        source: RowSource,
        *,
        principal: Principal,
        settings: ImportSettings | None = None,
    ) -> ImportPlan:
        """Validate the whole file against the rules and the stored data; write nothing.

        Raises:
            PermissionDeniedError: ``principal`` may not import.
            ValidationError: a file-level problem.
        """
        self._require(principal)
        settings = settings or ImportSettings()
        run, validator = self._prepare(source, settings, principal, job_id=None)
        valid: builtins.list[ImportRow] = []
        errors: builtins.list[tuple[int, Mapping[str, str], tuple[CellProblem, ...]]] = []
        counts = {"create": 0, "update": 0, "skip": 0}
        total = 0
        booker = run.rules.writer(lock=False)
        try:
            for batch in _batches(self._validate(source.rows(), validator, settings), 2000):
                outcomes = self._simulate(booker, run, batch, validator)
                for item, outcome in zip(batch, outcomes, strict=True):
                    total += 1
                    if outcome.failure is not None:
                        failed = outcome.failure
                        errors.append((failed.number, failed.raw, failed.problems))
                    else:
                        assert not isinstance(item, _Failure)
                        counts[outcome.action] += 1
                        valid.append(item)
        finally:
            run.seen_external.close()
        return ImportPlan(
            filename=source.filename,
            file_format=source.file_format,
            size=source.size,
            digest=source.digest,
            settings=settings,
            mapping=run.mapping.describe(),
            rows=tuple(valid),
            errors=tuple(errors),
            total=total,
            would_create=counts["create"],
            would_update=counts["update"],
            would_skip=counts["skip"],
        )

    # ------------------------------------------------------------------ running

    def start(
        self,
        source: RowSource,
        *,
        principal: Principal,
        settings: ImportSettings | None = None,
        then: Callable[[Transaction, ImportJob], None] | None = None,
        idempotency_key: str | None = None,
    ) -> ImportJob:
        """Record a PENDING import of ``source`` after its file-level checks.

        ``then`` is called with the transaction that records the job, before it
        commits (``core.jobs.start_import`` defers the job's run there).

        A retry with the same ``idempotency_key`` and the same request (the
        file's name, format and content digest, and ``settings``: its kind and
        options) returns the job the first call recorded, as it is now (run or
        running since, perhaps), and starts nothing: no second job, no second
        call of ``then``. Where the file came from (an upload path) is no part
        of the request.

        Raises:
            PermissionDeniedError: ``principal`` may not import.
            ValidationError: a file-level problem (missing column, bad mapping,
                bad settings); a malformed ``idempotency_key``.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``.
        """
        self._require(principal)
        settings = settings or ImportSettings()
        key = principal_key(principal, idempotency_key)
        # File-level checks read the file's header and the settings only: a retry
        # asking the same passes them as the first call did.
        self._prepare(source, settings, principal, job_id=None)
        check_file_names(source.filename, source.file_format)
        now = self._ctx.now()
        job = ImportJob(
            id=self._ctx.ids.new_id(),
            filename=source.filename,
            file_format=source.file_format,
            file_size=source.size,
            file_digest=source.digest,
            created_by=principal.actor,
            created_at=now,
            updated_at=now,
            # the header too: a retry rebuilds rows from stored cells in the file's order
            settings={**settings.to_dict(), _HEADER: list(source.header)},
        )
        with self._ctx.transaction() as tx:
            if key is not None:
                asked = fingerprint(
                    "import_start",
                    principal,
                    filename=source.filename,
                    file_format=source.file_format,
                    file_digest=source.digest,
                    settings=_asked_settings(settings),
                )
                made, prior = claim_creation(
                    tx.uow, key, "import_start", now, asked, as_id=_same, load=tx.uow.imports.get
                )
                if prior is not None:
                    return prior
                job = attrs.evolve(job, id=made)
            tx.uow.imports.add(job)
            tx.audit(
                principal,
                entity="import",
                entity_id=job.id,
                action=AuditAction.CREATED,
                new={"filename": job.filename, "size": job.file_size, **settings.to_dict()},
            )
            if then is not None:
                then(tx, job)
            tx.commit()
        return job

    def run(
        self,
        job_id: UUID,
        source: RowSource,
        *,
        principal: Principal,
        progress: Progress | None = None,
    ) -> ImportJob:
        """Import the job's file, chunk by chunk, from where it stopped.

        A PENDING job starts; a PROCESSING job (a run that crashed) resumes
        after its last committed chunk; a finished job is returned as it is.

        Raises:
            PermissionDeniedError: ``principal`` may not import.
            NotFoundError: no such job.
            ValidationError: on field ``file`` when ``source`` is not the job's
                file (another digest), or a file-level problem.
        """
        self._require(principal)
        job = self._begin(job_id, source, principal)
        if job.status.is_final:
            return job
        settings = ImportSettings.from_dict(job.settings)
        run, validator = self._prepare(source, settings, principal, job_id=job.id)
        if _ASSIGNER in job.settings:  # a stopped run: advisors take turns from where it was
            run.assigner.restore(job.settings[_ASSIGNER])
        skip = job.processed_rows
        if skip:
            self._remember_earlier(run, source, skip, validator)
        items = self._validate(source.rows(skip=skip), validator, settings)
        return self._process(run, items, progress, validator)

    def run_file(
        self,
        source: RowSource,
        *,
        principal: Principal,
        settings: ImportSettings | None = None,
        progress: Progress | None = None,
        idempotency_key: str | None = None,
    ) -> ImportJob:
        """:meth:`start` and :meth:`run` in one call.

        A retry with the same ``idempotency_key`` and the same request (as
        :meth:`start` compares it) returns the job the first call started, as it
        is now (still running, perhaps), and runs nothing.

        .. versionchanged:: 0.4
           ``idempotency_key``.
        """
        started: builtins.list[ImportJob] = []
        job = self.start(
            source,
            principal=principal,
            settings=settings,
            then=lambda _tx, made: started.append(made),
            idempotency_key=idempotency_key,
        )
        if not started:  # a retry: the first call runs (or ran) the job
            return job
        return self.run(job.id, source, principal=principal, progress=progress)

    def confirm(
        self,
        plan: ImportPlan,
        source: RowSource,
        *,
        principal: Principal,
        progress: Progress | None = None,
        idempotency_key: str | None = None,
    ) -> ImportJob:
        """Book a dry run's rows without parsing or validating the file again.

        Stored data may have changed since the dry run: each chunk still checks
        capacity, existing external ids and customers as it books. The failed
        rows of the plan are recorded as the job's errors. A retry with the same
        ``idempotency_key`` and the same file and settings (as :meth:`start`
        compares them) returns the job the first call started, as it is now, and
        books nothing.

        Raises:
            PermissionDeniedError: ``principal`` may not import.
            ValidationError: on field ``file`` when the file changed since the
                dry run (its digest differs).
            IdempotencyConflictError: the key was used for another request.

        .. versionchanged:: 0.4
           ``idempotency_key``.
        """
        self._require(principal)
        if source.digest != plan.digest:
            msg = "changed since the dry run; run the dry run again"
            raise ValidationError.single("file", msg, "file_changed")
        started: builtins.list[ImportJob] = []
        job = self.start(
            source,
            principal=principal,
            settings=plan.settings,
            then=lambda _tx, made: started.append(made),
            idempotency_key=idempotency_key,
        )
        if not started:  # a retry: the first call books (or booked) the rows
            return job
        job = self._begin(job.id, source, principal)
        run, validator = self._prepare(source, plan.settings, principal, job_id=job.id)
        failures = (_Failure(number, raw, problems) for number, raw, problems in plan.errors)
        items: builtins.list[_Item] = sorted([*plan.rows, *failures], key=lambda item: item.number)
        return self._process(run, iter(items), progress, validator)

    def cancel(self, job_id: UUID, *, principal: Principal) -> ImportJob:
        """Stop an import: a PENDING job is cancelled now, a running one after its
        current chunk (chunks already committed stay).

        Raises:
            PermissionDeniedError: ``principal`` may not import.
            NotFoundError: no such job.
            InvalidTransitionError: the job already finished.
        """
        self._require(principal)
        with self._ctx.transaction() as tx:
            job = self._job(tx.uow, job_id, lock=True)
            if job.status.is_final:
                raise InvalidTransitionError("import", job.status.value, "CANCELLED")
            now = self._ctx.now()
            if job.status is ImportStatus.PENDING:
                job.status = ImportStatus.CANCELLED
                job.completed_at = now
            job.cancel_requested = True
            job.updated_at = now
            job.version += 1
            tx.audit(
                principal,
                entity="import",
                entity_id=job.id,
                action=AuditAction.STATUS_CHANGED,
                new={"cancel_requested": True, "status": job.status.value},
            )
            tx.commit()
            return job

    def retry(
        self,
        job_id: UUID,
        *,
        principal: Principal,
        source: RowSource | None = None,
        progress: Progress | None = None,
        idempotency_key: str | None = None,
    ) -> ImportJob:
        """Import the job's failed rows again, and only them.

        Without ``source`` the stored raw rows are replayed (useful after
        adding a missing location or advisor). With ``source`` (a corrected
        error report: the original columns plus ``row``) each row replaces the
        failed row its ``row`` column names; rows naming no failed row are ignored.
        Rows that now pass are booked and their errors resolved; the job's
        counts move accordingly. The job ends COMPLETED, or CANCELLED or FAILED
        again when it was cancelled or failed: the rows after where it stopped
        were never read, and a retry does not read them.

        A retry of this call with the same ``idempotency_key`` and the same
        request (the job, and the content digest of ``source`` if given) returns
        the job as it is now and imports nothing again (not even rows that still
        fail): no ``InvalidTransitionError`` while the first call still runs.

        Raises:
            PermissionDeniedError: ``principal`` may not import.
            NotFoundError: no such job.
            InvalidTransitionError: the job is still running.
            ValidationError: ``source`` lacks a ``row`` column or the job's
                columns, or names one failed row on two lines (``duplicate_row``);
                a malformed ``idempotency_key``.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``.
        """
        self._require(principal)
        with self._ctx.transaction() as tx:
            uow = tx.uow
            _, fresh = claim_change(
                uow,
                self._ctx.now(),
                idempotency_key,
                "import_retry",
                principal,
                job_id=job_id,
                corrections=None if source is None else source.digest,
            )
            job = self._job(uow, job_id, lock=True)
            if not fresh:
                return job
            if job.status in (ImportStatus.PENDING, ImportStatus.PROCESSING):
                raise InvalidTransitionError("import", job.status.value, "retry")
            pending = {
                e.row_number: e
                for e in uow.import_errors.list_for_job(job_id)
                if e.resolved_at is None
            }
            settings = ImportSettings.from_dict(job.settings)
            if source is None:
                header = _stored_header(pending.values(), job.settings.get(_HEADER))
                rows: builtins.list[SourceRow] = [
                    SourceRow(number, tuple(error.raw_row.get(name, "") for name in header))
                    for number, error in sorted(pending.items())
                ]
                has_cells = job.file_format == "xlsx"
            else:
                header, rows = _corrected_rows(source, pending, job.settings.get(_HEADER))
                has_cells = False  # the report's columns are not the original sheet's
            if not rows:
                tx.commit()  # with a key, its claim: a retry answers the job
                return job
            run, validator = self._prepare_header(
                header, settings, principal, job_id=job.id, has_cells=has_cells, uow=uow
            )
            run.retrying = pending
            if job.status in (ImportStatus.CANCELLED, ImportStatus.FAILED):
                run.ends_as = job.status
            job.status = ImportStatus.PROCESSING
            job.completed_at = None
            job.cancel_requested = False
            self._touch(job)
            tx.commit()
        items = self._validate(iter(rows), validator, settings)
        return self._process(run, items, progress, validator, counts_rows=False)

    # ------------------------------------------------------------------ the pipeline

    def _process(
        self,
        run: _Run,
        items: Iterator[_Item],
        progress: Progress | None,
        validator: RowChecker,
        *,
        counts_rows: bool = True,
    ) -> ImportJob:
        observer = self._ctx.observer
        if observer is None:
            return self._process_rows(run, items, progress, validator, counts_rows=counts_rows)
        with observer.use_case("import"):
            started = time.perf_counter()
            status = ImportStatus.FAILED.value
            file_format = "unknown"
            try:
                job = self._process_rows(run, items, progress, validator, counts_rows=counts_rows)
                status, file_format = job.status.value, job.file_format
                return job
            finally:
                observer.import_finished(
                    file_format=file_format,
                    status=status,
                    rows=run.rows_done,
                    failed_rows=run.rows_refused,
                    seconds=time.perf_counter() - started,
                )

    def _process_rows(
        self,
        run: _Run,
        items: Iterator[_Item],
        progress: Progress | None,
        validator: RowChecker,
        *,
        counts_rows: bool,
    ) -> ImportJob:
        job: ImportJob | None = None
        try:
            for chunk in _batches(items, run.settings.chunk_size):
                job = self._commit_chunk(run, chunk, validator, counts_rows=counts_rows)
                if progress is not None:
                    progress(job)
                if job.status is ImportStatus.CANCELLED:
                    return job
        except BookingError as exc:
            self._fail(run.job_id, exc)
            raise
        finally:
            run.seen_external.close()
        return self._finish(run.job_id, run.ends_as)

    def _commit_chunk(
        self, run: _Run, chunk: builtins.list[_Item], validator: RowChecker, *, counts_rows: bool
    ) -> ImportJob:
        """Apply ``chunk`` in one transaction and count it on the job.

        As a booking made directly, the chunk is made again, whole, under fresh
        references when a reference one of its bookings drew is taken, or drawn
        twice in it (``under_fresh_reference``): no row fails for it. Another
        conflict (an external id, a phone or a seat another writer took meanwhile)
        redoes the chunk once.
        """
        assigned = run.assigner.state()

        def attempt(fresh: Callable[[], str]) -> ImportJob:
            run.claimed.clear()
            try:
                return self._apply_chunk(run, chunk, validator, fresh, counts_rows=counts_rows)
            except ConflictError:
                # The chunk wrote nothing: forget what it claimed before it is redone.
                for external_id in run.claimed:
                    run.seen_external.release(external_id)
                run.assigner.restore(assigned)
                raise

        for redo in range(2):
            try:
                return under_fresh_reference(
                    self._ctx,
                    attempt,
                    draw=self._ctx.ids.new_reference,
                    entity="booking",
                    taken=lambda uow, reference: (
                        uow.bookings.get_by_reference(reference) is not None
                    ),
                )
            except ConflictError:
                # Another writer took an external id, a phone or a seat meanwhile:
                # the chunk wrote nothing; read again and redo it once.
                if redo:
                    raise
                _log.warning(
                    "import %s: chunk conflicted with another writer; redoing it", run.job_id
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def _apply_chunk(
        self,
        run: _Run,
        chunk: builtins.list[_Item],
        validator: RowChecker,
        fresh: Callable[[], str],
        *,
        counts_rows: bool,
    ) -> ImportJob:
        """:meth:`_commit_chunk`'s one transaction; new bookings' references from ``fresh``."""
        with self._ctx.transaction() as tx:
            job = self._job(tx.uow, run.job_id, lock=True)
            if job.cancel_requested:
                now = self._ctx.now()
                job.status = ImportStatus.CANCELLED
                job.completed_at = now
                self._offer_freed(tx, job)
                self._touch(job)
                tx.commit()
                return job
            booker = run.rules.writer(lock=True)
            if isinstance(booker, _Booker):
                booker.new_reference = fresh
            booker.load(tx, [item for item in chunk if not isinstance(item, _Failure)])
            result = _tally(run, self._apply(booker, run, chunk, validator))
            if isinstance(booker, _Booker):
                result.freed = booker.freed
            self._count(tx, run, job, chunk, result, counts_rows=counts_rows)
            tx.commit()
            run.rows_done += len(chunk)
            run.rows_refused += len(result.failures)
            return job

    def _count(
        self,
        tx: Transaction,
        run: _Run,
        job: ImportJob,
        chunk: builtins.list[_Item],
        result: _Chunk,
        *,
        counts_rows: bool,
    ) -> None:
        now = self._ctx.now()
        summary = dict(job.error_summary)
        stored: dict[int, ImportRowError] = {}
        if run.retrying is not None:
            stored = {
                e.row_number: e
                for e in tx.uow.import_errors.list_for_job(job.id, unresolved_only=True)
            }
        for failure in result.failures:
            code = failure.problems[0].code if failure.problems else "error"
            previous = stored.get(failure.number)
            if previous is not None:
                summary[previous.error_type] = summary.get(previous.error_type, 1) - 1
                previous.problems = failure.problems
                previous.raw_row = dict(failure.raw)
            else:
                tx.uow.import_errors.add(
                    ImportRowError(
                        id=self._ctx.ids.new_id(),
                        job_id=job.id,
                        row_number=failure.number,
                        raw_row=dict(failure.raw),
                        problems=failure.problems,
                        created_at=now,
                    )
                )
            summary[code] = summary.get(code, 0) + 1
        for number in result.fixed:
            error = stored[number]
            error.resolved_at = now
            summary[error.error_type] = summary.get(error.error_type, 1) - 1
        if run.retrying is None:
            job.failed += len(result.failures)
        else:  # rows still failing were counted by the first pass
            job.failed -= len(result.fixed)
        if counts_rows:
            job.processed_rows += len(chunk)
            job.total_rows = max(job.total_rows, job.processed_rows)
        job.created += result.created
        job.updated += result.updated
        job.skipped += result.skipped
        job.error_summary = {k: v for k, v in summary.items() if v > 0}
        if run.settings.kind is ImportKind.BOOKINGS:
            # with the chunk: a resumed run assigns the next rows as this one would have
            job.settings = {**job.settings, _ASSIGNER: run.assigner.state()}
        if result.freed:
            # offered when the run ends, so that no offer changes what a later row does
            pending = {*job.settings.get(_OFFERS, ()), *(str(s) for s in result.freed)}
            job.settings = {**job.settings, _OFFERS: sorted(pending)}
        self._touch(job)

    def _apply(
        self, booker: RowWriter, run: _Run, chunk: Sequence[_Item], validator: RowChecker
    ) -> Iterator[_Outcome]:
        """What each item of ``chunk`` does, applied as it is asked for: its action and,
        for a row that fails, why.

        The one place rows meet the booking rules, for real runs, dry runs and
        previews alike; the booker must have loaded the chunk's transaction. A real
        run counts each outcome as it comes (nothing of it is kept but its failure).
        """
        for item in chunk:
            if isinstance(item, _Failure):
                yield _Outcome(item.number, "error", item)
                continue
            rules = run.rules
            problems = rules.in_file_duplicate(item)
            action = "error"
            if not problems:
                try:
                    action = booker.apply(item)
                except (ValidationError, ConflictError, InvalidTransitionError) as exc:
                    problems = rules.problems_of(exc, item)
            if problems:
                failure = _Failure(item.number, rules.raw_of(item), problems)
                yield _Outcome(item.number, "error", failure)
            else:
                yield _Outcome(item.number, action)

    def _simulate(
        self, booker: RowWriter, run: _Run, items: Sequence[_Item], validator: RowChecker
    ) -> builtins.list[_Outcome]:
        """What :meth:`_apply` does with ``items``, in a transaction that is never committed."""
        with self._ctx.transaction() as tx:
            booker.load(tx, [item for item in items if not isinstance(item, _Failure)])
            return builtins.list(self._apply(booker, run, items, validator))

    # ------------------------------------------------------------------ helpers

    def _require(self, principal: Principal) -> None:
        policy.require(
            principal.has(Permission.IMPORT_BOOKINGS), f"{principal} may not import bookings"
        )

    @staticmethod
    def _job(uow: UnitOfWork, job_id: UUID, *, lock: bool = False) -> ImportJob:
        job = uow.imports.get_for_update(job_id) if lock else uow.imports.get(job_id)
        if job is None:
            raise NotFoundError("import", job_id)
        return job

    def _touch(self, job: ImportJob) -> None:
        job.updated_at = self._ctx.now()
        job.version += 1

    def _begin(self, job_id: UUID, source: RowSource, principal: Principal) -> ImportJob:
        with self._ctx.transaction() as tx:
            job = self._job(tx.uow, job_id, lock=True)
            if job.status.is_final:
                return job
            if source.digest != job.file_digest:
                msg = "is not the file this import was started with (its content differs)"
                raise ValidationError.single("file", msg, "file_changed")
            if job.status is ImportStatus.PENDING:
                job.status = ImportStatus.PROCESSING
                job.started_at = self._ctx.now()
                tx.audit(
                    principal,
                    entity="import",
                    entity_id=job.id,
                    action=AuditAction.STATUS_CHANGED,
                    old={"status": ImportStatus.PENDING.value},
                    new={"status": ImportStatus.PROCESSING.value},
                )
            self._touch(job)
            tx.commit()
            return job

    def _finish(self, job_id: UUID, ends_as: ImportStatus = ImportStatus.COMPLETED) -> ImportJob:
        with self._ctx.transaction() as tx:
            job = self._job(tx.uow, job_id, lock=True)
            if job.status is ImportStatus.PROCESSING:
                job.status = ends_as
                job.completed_at = self._ctx.now()
                self._offer_freed(tx, job)
                self._touch(job)
                tx.commit()
            return job

    def _offer_freed(self, tx: Transaction, job: ImportJob) -> None:
        """Offer the seats the job's committed rows freed to the slots' waiting lists.

        Called once the rows are applied (the run ends, is cancelled or fails),
        in the transaction that records it: rows never see the offers, so a dry
        run, which offers nothing, predicts every row. Each slot is locked, in
        id order, after the job.
        """
        pending = job.settings.get(_OFFERS)
        if not pending:
            return
        now = self._ctx.now()
        for slot_id in sorted(pending):
            slot = tx.uow.slots.get_for_update(SlotId(UUID(slot_id)))
            if slot is not None:
                offer_free_seats(self._ctx, tx, slot, now=now)
        job.settings = {k: v for k, v in job.settings.items() if k != _OFFERS}

    def _fail(self, job_id: UUID, exc: BookingError) -> None:
        with self._ctx.transaction() as tx:
            job = self._job(tx.uow, job_id, lock=True)
            job.status = ImportStatus.FAILED
            job.completed_at = self._ctx.now()
            job.error_summary = {**job.error_summary, "file": 1}
            job.settings = {**job.settings, "failure": str(exc)}
            self._offer_freed(tx, job)
            self._touch(job)
            tx.commit()

    def _prepare(
        self,
        source: RowSource,
        settings: ImportSettings,
        principal: Principal,
        *,
        job_id: UUID | None,
    ) -> tuple[_Run, RowChecker]:
        return self._prepare_header(
            source.header, settings, principal, job_id=job_id, has_cells=source.has_cells
        )

    def _prepare_header(
        self,
        header: Sequence[str],
        settings: ImportSettings,
        principal: Principal,
        *,
        job_id: UUID | None,
        has_cells: bool,
        uow: UnitOfWork | None = None,
    ) -> tuple[_Run, RowChecker]:
        """The run and validator of a file with ``header``; the stored data they need
        is read in ``uow`` if given (the caller's transaction), else in a new one."""
        if settings.kind is not ImportKind.BOOKINGS:
            return self._prepare_people(
                header, settings, principal, job_id=job_id, has_cells=has_cells
            )
        mapping = map_header(header, settings.mapping)
        lifecycle = self._ctx.settings.lifecycle(settings.lifecycle)
        with self._ctx.uow_factory() if uow is None else nullcontext(uow) as reading:
            locations = {loc.code: loc.id for loc in reading.locations.list(only_active=True)}
            products: dict[str, ProductId] = {}
            active = ProductFilter(only_active=True)
            listed = every_item(lambda page: reading.products.list(active, page))
            for product in sorted(listed, key=lambda product: product.code):
                products.setdefault(product.name.casefold(), product.id)
                products[product.code] = product.id
            advisors = reading.staff.list(role=StaffRole.ADVISOR.value)
            loads = advisor_loads(reading, self._ctx.settings.lifecycles.values())
            turn = round_robin_turn(reading, self._ctx.settings.lifecycles.values())
        reference = ReferenceData(
            locations=locations,
            products=products,
            advisors={a.email.match_key: a.id for a in advisors if a.is_active},
        )
        validator = RowValidator(
            mapping,
            reference,
            lifecycle,
            region=settings.region
            if settings.region is not None
            else self._ctx.settings.default_region,
            timezone=parse_timezone(settings.timezone),
            has_cells=has_cells,
        )
        assigner = Assigner(
            settings.assignment,
            [
                Advisor(a.id, loads.get(a.id, 0), a.location_ids, is_active=a.is_active)
                for a in advisors
            ],
        )
        # Advisors take turns from where earlier assignments left them; a stopped
        # run restores its own cursor over this (see _ASSIGNER).
        assigner.restore({"cursor": turn})
        run = _Run(
            job_id=job_id or UUID(int=0),
            settings=settings,
            lifecycle=lifecycle,
            mapping=mapping,
            has_cells=has_cells,
            principal=principal,
            assigner=assigner,
        )
        run.rules = _BookingRules(self._ctx, run, validator)
        return run, validator

    def _prepare_people(
        self,
        header: Sequence[str],
        settings: ImportSettings,
        principal: Principal,
        *,
        job_id: UUID | None,
        has_cells: bool,
    ) -> tuple[_Run, RowChecker]:
        """The run and validator of a customers or travelers file."""
        region = (
            settings.region if settings.region is not None else self._ctx.settings.default_region
        )
        validator: CustomerRowValidator | TravelerRowValidator
        if settings.kind is ImportKind.CUSTOMERS:
            mapping = map_header(header, settings.mapping, columns=CUSTOMER_COLUMNS)
            validator = CustomerRowValidator(mapping, region=region, has_cells=has_cells)
        else:
            mapping = map_header(header, settings.mapping, columns=TRAVELER_COLUMNS)
            today = self._ctx.today()
            validator = TravelerRowValidator(
                mapping, region=region, today=today, has_cells=has_cells
            )
        run = _Run(
            job_id=job_id or UUID(int=0),
            settings=settings,
            # People rows follow no lifecycle and are assigned to nobody.
            lifecycle=self._ctx.settings.lifecycle(None),
            mapping=mapping,
            has_cells=has_cells,
            principal=principal,
            assigner=Assigner(AssignmentStrategy.MANUAL.value, []),
        )
        rules = CustomerRules if settings.kind is ImportKind.CUSTOMERS else TravelerRules
        run.rules = rules(
            validator,
            principal,
            CustomerService(self._ctx),
            TravelerService(self._ctx),
            emit=settings.emit_events,
        )
        return run, validator

    def _validate(
        self, rows: Iterator[SourceRow], validator: RowChecker, settings: ImportSettings
    ) -> Iterator[_Item]:
        if settings.workers <= 1:
            for row in rows:
                yield _validated(validator, row)
            return
        # Each worker gets the validator once; at most two batches per worker are in
        # flight, so a huge file is never read ahead into memory.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            settings.workers,
            mp_context=context,
            initializer=_start_worker,
            initargs=(validator,),
        ) as pool:
            pending: deque[Future[list[_Item]]] = deque()
            for batch in _batches(rows, _WORKER_BATCH):
                pending.append(pool.submit(_validate_batch, batch))
                if len(pending) >= 2 * settings.workers:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()

    @staticmethod
    def _remember_earlier(run: _Run, source: RowSource, count: int, validator: RowChecker) -> None:
        """Rebuild the in-file external id register from rows a stopped run already did.

        An uninterrupted run registers the external id of each row that passed
        validation (a row that failed it never reached the register), so the
        earlier rows are validated again and only the valid ones registered:
        the resumed run then ends exactly as an uninterrupted one.
        """
        if "external_id" not in run.mapping.columns:
            return
        for row in islice(source.rows(), count):
            item = _validated(validator, row)
            if isinstance(item, ValidRow) and item.external_id:
                run.seen_external.claim(item.external_id, item.number)


@attrs.define
class _BookingRules:
    """The bookings kind: rows booked by :class:`_Booker`, external ids unique in the file."""

    context: ServiceContext
    run: _Run
    validator: RowValidator

    def writer(self, *, lock: bool) -> _Booker:
        return _Booker(self.context, self.run, lock=lock)

    def in_file_duplicate(self, row: ValidRow) -> tuple[CellProblem, ...]:
        return _in_file_duplicate(self.run, row, self.validator)

    def problems_of(self, exc: BookingError, row: ValidRow) -> tuple[CellProblem, ...]:
        return _problems_of(exc, row, self.validator)

    def raw_of(self, row: ValidRow) -> dict[str, str]:
        return _raw_of(self.validator, row)


class _Booker:
    """Books or updates valid rows through the booking aggregate, one transaction at a time.

    A real run makes one booker per chunk, inside the chunk's transaction. A dry
    run or a preview keeps one booker for the whole file and never commits: what
    earlier rows would have written (seats held, customers and travelers created,
    bookings made or moved) stays in the booker, so later rows meet the same
    rules they will meet in the real run.
    """

    def __init__(self, context: ServiceContext, run: _Run, *, lock: bool = True) -> None:
        self._ctx = context
        self._run = run
        self._lock = lock
        self._now = context.now()
        self._author = Author(
            actor=run.actor,
            now=self._now,
            new_id=context.ids.new_id,
            origin=run.principal.origin,
        )
        #: "import <job> row " (each row's history note ends with its number)
        self._note = f"import {run.job_id} row "
        self._existing: dict[str, Booking] = {}
        self._keys: set[str] = set()
        self._phones: dict[PhoneNumber, Customer] = {}
        #: by EmailAddress.match_key; None: asked, and nobody has it
        self._emails: dict[str, Customer | None] = {}
        self._travelers: dict[CustomerId, list[Traveler]] = {}
        self._booked: dict[tuple[CustomerId, SlotId], list[Booking]] = {}
        self._new_customers: set[CustomerId] = set()
        #: each customer's loyalty tier discount, judged once per booker
        self._loyalty: dict[CustomerId, LoyaltyDiscount | None] = {}
        #: erased customers among the owners of the bookings named by external id
        self._erased: set[CustomerId] = set()
        self._slots: dict[SlotId, Slot] = {}
        self._open: dict[tuple[LocationId, ProductId | None, datetime], SlotId] = {}
        #: new slots' names by wall-clock start time
        self._slot_names: dict[datetime, str] = {}
        #: read once each: whether a slot is still sold (location, product) and its supplier
        self._locations: dict[LocationId, Location | None] = {}
        self._products: dict[ProductId, Product | None] = {}
        #: (customer, slot) whose waiting-list entry a row ended (a dry run never commits it)
        self._ended: set[tuple[CustomerId, SlotId]] = set()
        #: slots with a waiting list where rows freed seats, offered once the rows are applied
        self.freed: set[SlotId] = set()
        #: draws each new booking's reference (a real run's chunk: under_fresh_reference's)
        self.new_reference: Callable[[], str] = context.ids.new_reference
        self._tx: Transaction | None = None

    def load(self, tx: Transaction, rows: Sequence[ValidRow]) -> None:
        """Work in ``tx`` from now on, and look up in one go what ``rows`` refer to."""
        self._tx = tx
        uow = tx.uow
        # The dealers and products the rows name, in one read each (a slot a row names by
        # id may be elsewhere: read when that row needs it).
        locations = {r.location_id for r in rows} - self._locations.keys()
        found_locations = uow.locations.get_many(locations) if locations else {}
        self._locations.update((i, found_locations.get(i)) for i in locations)
        products = {r.product_id for r in rows if r.product_id} - self._products.keys()
        found_products = uow.products.get_many(products) if products else {}
        self._products.update((i, found_products.get(i)) for i in products)
        external = {r.external_id for r in rows if r.external_id} - self._existing.keys()
        named = uow.bookings.find_by_external_ids(external) if external else {}
        self._existing.update(named)
        owners = {b.customer_id for b in named.values()}
        if owners:
            owned_by = uow.customers.get_many(owners).values()
            self._erased.update(c.id for c in owned_by if c.is_erased)
        keys = {_key(r) for r in rows if not r.external_id} - self._keys
        self._keys.update(uow.bookings.find_by_idempotency_keys(keys))
        phones = {r.phone for r in rows if r.phone} - self._phones.keys()
        self._phones.update(uow.customers.find_by_phones(phones))
        # Emails of rows that may name their customer by it, and of rows that register
        # one, so a later row naming that customer by email alone finds them (as the
        # store will once the chunk is committed).
        emails = {
            r.email
            for r in rows
            if r.email and r.email.match_key not in self._emails and r.phone not in self._phones
        }
        found_emails = uow.customers.find_by_emails(emails) if emails else {}
        self._emails.update((e.match_key, found_emails.get(e)) for e in emails)
        holders = (c for c in self._emails.values() if c is not None)
        known = {c.id for c in (*self._phones.values(), *holders)}
        unread = known - self._travelers.keys()
        for customer_id, saved in uow.travelers.list_for_customers(unread).items():
            self._travelers[customer_id] = list(saved)
        self._travelers.update((customer_id, []) for customer_id in unread - self._travelers.keys())
        wanted = {
            (r.location_id, r.product_id, r.starts_at)
            for r in rows
            if r.slot_id is None and r.external_id not in self._existing
        } - self._open.keys()
        for slot in uow.slots.find_exact(wanted):
            if slot.capacity is None:
                self._open.setdefault((slot.location_id, slot.product_id, slot.starts_at), slot.id)
        # The customers' bookings of the slots the rows name, for the duplicate rule.
        pairs: set[tuple[CustomerId, SlotId]] = set()
        for r in rows:
            stored = self._phones.get(r.phone) if r.phone else None
            if stored is None and r.email:
                stored = self._emails.get(r.email.match_key)
            if stored is None or stored.id in self._new_customers:
                continue
            slot_id = r.slot_id or self._open.get((r.location_id, r.product_id, r.starts_at))
            if slot_id is not None:
                pairs.add((stored.id, slot_id))
        pairs -= self._booked.keys()
        found = uow.bookings.find_for_customer_slots(pairs)
        for pair in pairs:
            self._booked[pair] = list(found.get(pair, ()))

    @property
    def _uow(self) -> UnitOfWork:
        assert self._tx is not None, "load() a chunk first"
        return self._tx.uow

    def apply(self, row: ValidRow) -> str:
        """Book, update or skip ``row``; what it did. Writes nothing when a rule refuses it.

        Raises:
            ValidationError, ConflictError, InvalidTransitionError: the rule the row breaks.
        """
        if row.external_id and row.external_id in self._existing:
            return self._update(self._existing[row.external_id], row)
        key = _key(row)
        if not row.external_id and key in self._keys:
            return "skip"
        # An import records no payment: no booking paid, refunded or past its payment.
        self._run.lifecycle.check_reached_by_hand(row.status)
        customer, new_customer = self._customer_for(row)
        traveler, new_traveler = self._traveler_for(customer, row.name)
        slot, new_slot = self._slot_for(row)
        # As BookingService.sold_at: no booking of a slot whose location closed or
        # whose product is no longer sold (a refused row's slot cell says so).
        product = self._product(slot.product_id)
        check_sold_at(self._location(slot.location_id), product)
        # As BookingService.book: who may be booked on the slot's product (a refused row
        # reports the same codes, on travelers[0].age / travelers[0].certificates).
        refused = requirement_problems(
            self._ctx,
            self._uow,
            product,
            [traveler],
            starts_at=slot.starts_at,
        )
        if refused:
            raise ValidationError(refused)
        supplier_id: SupplierId | None = product.supplier_id if product else None
        price = slot.price_per_traveler
        note = f"{self._note}{row.number}"
        draft = BookingDraft(
            id=BookingId(self._ctx.ids.new_id()),
            reference=self.new_reference(),
            customer_id=customer.id,
            travelers=(BookingTraveler(traveler.id, price, is_primary=True),),
            status=row.status,
            source=BookingSource.IMPORT,
            supplier_id=supplier_id,
            internal_notes=row.notes,
            external_id=row.external_id,
            assignee_id=self._run.assigner.pick(row.location_id, requested=row.advisor_id),
            idempotency_key=None if row.external_id else key,
            request_fingerprint=row.fingerprint,
            metadata=dict(row.metadata),
            note=note,
        )
        booking, raised = self._open_booking(
            draft,
            slot,
            new=new_customer or new_slot,
            loyalty=self._loyalty_of(customer.id, new=new_customer),
        )
        self._run.assigner.assign(row.location_id, requested=row.advisor_id)
        uow = self._uow
        if new_slot:
            uow.slots.add(slot)
            self._slots[slot.id] = slot
            self._open[(slot.location_id, slot.product_id, slot.starts_at)] = slot.id
        if new_customer:
            uow.customers.add(customer)
            self._new_customers.add(customer.id)
            self._phones[customer.phone] = customer
            if customer.email is not None and self._emails.get(customer.email.match_key) is None:
                self._emails[customer.email.match_key] = customer
            self._travelers[customer.id] = []
        if new_traveler:
            uow.travelers.add(traveler)
            self._travelers[customer.id].append(traveler)
        uow.bookings.add(booking)
        self._booked.setdefault((customer.id, slot.id), []).append(booking)
        if row.external_id:
            self._existing[row.external_id] = booking
        else:
            self._keys.add(key)
        assert self._tx is not None
        self._tx.record(raised, emit=self._run.settings.emit_events)
        return "create"

    def _loyalty_of(self, customer_id: CustomerId, *, new: bool) -> LoyaltyDiscount | None:
        """The customer's loyalty tier discount, as booking directly applies it.

        Judged from the figures stored when this booker (one chunk's transaction in
        a real run) first books for the customer, and kept for its later rows: the
        bookings of the same chunk do not move the customer up mid-chunk. A customer
        new to the store has no completed bookings and has spent nothing.
        """
        program = self._ctx.settings.loyalty
        if program is None or not program.gives_discounts:
            return None
        if customer_id not in self._loyalty:
            if new or customer_id in self._new_customers:
                tier = program.tier_for(0, ())
                self._loyalty[customer_id] = None if tier is None else tier.discount
            else:
                self._loyalty[customer_id] = loyalty_discount_in(self._ctx, self._uow, customer_id)
        return self._loyalty[customer_id]

    def _open_booking(
        self,
        draft: BookingDraft,
        slot: Slot,
        *,
        new: bool,
        loyalty: LoyaltyDiscount | None = None,
    ) -> tuple[Booking, Raised]:
        """:meth:`Booking.open` on ``slot``, ending the customer's entry on its waiting list
        as booking directly does. ``new``: the customer or the slot is new to the store;
        ``loyalty``: the customer's loyalty tier discount."""
        principal = self._run.principal
        lifecycle = self._run.lifecycle
        entry = None
        offers: Sequence[WaitlistEntry] = ()
        if not new and lifecycle.holds_capacity(lifecycle.resolve(draft.status)):
            entry = self._active_entry(draft.customer_id, slot)
            offers = self._alternative_offers(draft.customer_id, slot)
        # An offer's seats are the customer's to book (their entry's on the slot, or one
        # there for an alternative date): the booking's rules are checked on the slot
        # as it is once they are released, so a row that fails ends nothing.
        held = _held(entry, offers)
        checked = slot
        if held:
            checked = attrs.evolve(slot, seats_held=slot.seats_held - held)
        booking, raised = Booking.open(
            draft,
            slot=checked,
            lifecycle=lifecycle,
            author=self._author,
            others=self._bookings_of(draft.customer_id, slot.id, new),
            may_see=lambda other: policy.can_view_booking(principal, other),
            loyalty=loyalty,
        )
        reason = f"{draft.note} booked the slot (booking {booking.reference})"
        if entry is not None:
            self._end_entry(entry, slot, reason)  # releases what the offer held
        self._take_up(offers, slot, booking.id, reason)
        if checked is not slot:
            slot.hold(len(draft.travelers))  # what Booking.open held on ``checked``
        return booking, raised

    def _bookings_of(self, customer_id: CustomerId, slot_id: SlotId, new: bool) -> list[Booking]:
        """The customer's bookings of the slot: stored ones and those this run made."""
        found = self._booked.get((customer_id, slot_id))
        if found is None:
            stored = new or customer_id in self._new_customers
            found = (
                []
                if stored
                else list(self._uow.bookings.list_for_customer_slot(customer_id, slot_id))
            )
            self._booked[(customer_id, slot_id)] = found
        return found

    def _update(self, booking: Booking, row: ValidRow) -> str:
        if booking.customer_id in self._erased:
            # Erasure dropped the booking's notes; the old system's row would write them back.
            msg = "names a booking of an erased customer; an import does not change it"
            raise ValidationError.single("external_id", msg, "erased_customer")
        lifecycle = self._run.lifecycle
        if booking.lifecycle != lifecycle.name:
            msg = f"belongs to a {booking.lifecycle} booking; this import uses {lifecycle.name}"
            raise ValidationError.single("external_id", msg, "other_lifecycle")
        if booking.location_id != row.location_id or booking.starts_at != row.starts_at:
            msg = (
                "names a booking at another dealer or date; an import does not move "
                "bookings (reschedule it instead)"
            )
            raise ValidationError.single("booking_date", msg, "cannot_move")
        assert self._tx is not None
        emit = self._run.settings.emit_events
        reason = f"import {self._run.job_id} row {row.number}"
        # Every check before the first write: a row that fails changes nothing.
        metadata = check_metadata({**booking.metadata, **dict(row.metadata)})
        values: dict[str, object] = {"metadata": metadata}
        if row.notes is not None:
            values["internal_notes"] = row.notes
        if row.advisor_id is not None:
            values["assignee_id"] = row.advisor_id
        changed = False
        if row.status_given and row.status != booking.status:
            lifecycle.check_by_hand(row.status)
            lifecycle.check_move(booking.status, row.status)
            check_items_allow(self._uow, booking, row.status, field="status")
            seats = booking.seats_to_move(row.status, lifecycle)
            slot = self._lock_slot(booking.slot_id) if seats else None
            moved = self._move(booking, row, slot, seats, reason)
            if slot is not None and seats < 0 and slot.has_waitlist:
                self.freed.add(slot.id)
            self._tx.record(moved, emit=emit)
            assert moved.history is not None
            # As a move at the desk: what is left of a partner's commission is reversed
            # by a cancellation, and earned again by a reactivation.
            commissions.reverse_on_cancellation(self._ctx, self._tx, booking, moved.history.id)
            commissions.accrue_on_reactivation(self._ctx, self._tx, booking, moved.history)
            changed = True
        edited = booking.edit(values, author=self._author, reason=reason)
        if edited is not None:
            self._tx.record(edited, emit=emit)
            changed = True
        return "update" if changed else "skip"

    def _move(
        self, booking: Booking, row: ValidRow, slot: Slot | None, seats: int, reason: str
    ) -> Raised:
        """Move ``booking`` to the row's status (``seats`` more held on ``slot``, locked
        when the move changes them) as a move at the desk does: when it takes seats, the
        customer's entry on the slot's list ends, and seats an offer held for them (or
        one there for an alternative date) are theirs, only if the move then fits: a
        move that fails ends nothing."""
        entry = None
        offers: Sequence[WaitlistEntry] = ()
        took = f"{reason}: booking took its seats"
        if slot is not None and seats > 0:
            entry = self._active_entry(booking.customer_id, slot)
            offers = self._alternative_offers(booking.customer_id, slot)
            held = _held(entry, offers)
            if held and slot.has_room_for(seats - held):
                if entry is not None:
                    self._end_entry(entry, slot, took)
                self._take_up(offers, slot, booking.id, took)
                entry, offers = None, ()
        moved = booking.move(
            row.status, lifecycle=self._run.lifecycle, author=self._author, slot=slot, note=reason
        )
        if slot is not None and entry is not None:
            self._end_entry(entry, slot, took)
        if slot is not None:
            self._take_up(offers, slot, booking.id, took)
        return moved

    def _location(self, location_id: LocationId) -> Location | None:
        if location_id not in self._locations:
            self._locations[location_id] = self._uow.locations.get(location_id)
        return self._locations[location_id]

    def _product(self, product_id: ProductId | None) -> Product | None:
        if product_id is None:
            return None
        if product_id not in self._products:
            self._products[product_id] = self._uow.products.get(product_id)
        return self._products[product_id]

    def _active_entry(self, customer_id: CustomerId, slot: Slot) -> WaitlistEntry | None:
        """The customer's active entry on ``slot``'s waiting list (locked in a real run)."""
        if not slot.has_waitlist or (customer_id, slot.id) in self._ended:
            return None  # nobody ever joined, or a row of this run ended it
        waitlist = self._uow.waitlist
        found = waitlist.get_active(slot.id, customer_id)
        if found is None or not self._lock:
            return found
        entry = waitlist.get_for_update(found.id)
        return entry if entry is not None and entry.is_active else None

    def _alternative_offers(self, customer_id: CustomerId, slot: Slot) -> Sequence[WaitlistEntry]:
        """The customer's open offers on ``slot`` for an alternative date of their entries
        on other slots (locked in a real run); one that has run out is the expiry job's."""
        if not slot.has_waitlist or (customer_id, slot.id) in self._ended:
            return ()
        waitlist = self._uow.waitlist
        found: list[WaitlistEntry] = []
        for held in waitlist.list_offers_on(slot.id, customer_id):
            if held.offered_slot_id is None:
                continue  # the customer's entry of the slot itself: see _active_entry
            entry = waitlist.get_for_update(held.id) if self._lock else held
            if (
                entry is not None
                and entry.offered_slot_id == slot.id
                and entry.offer_is_open(self._now)
            ):
                found.append(entry)
        return found

    def _take_up(
        self, offers: Iterable[WaitlistEntry], slot: Slot, booking_id: BookingId, reason: str
    ) -> None:
        """The row's booking takes ``offers`` (see :meth:`_alternative_offers`) up: their
        seats are released for it and their entries are booked; what it leaves is
        offered after the run."""
        assert self._tx is not None
        for entry in offers:
            take_up_alternative_offer(
                self._tx,
                slot,
                entry,
                booking_id=booking_id,
                principal=self._run.principal,
                reason=reason,
                now=self._now,
            )
            self._ended.add((entry.customer_id, slot.id))
            self.freed.add(slot.id)

    def _end_entry(self, entry: WaitlistEntry, slot: Slot, reason: str) -> None:
        """Cancel ``entry``: its customer is getting a seat from a row. Seats its offer
        held are released for the row; what the row leaves is offered after the run."""
        assert self._tx is not None
        released = cancel_entries(
            self._ctx,
            self._tx,
            slot,
            [entry],
            principal=self._run.principal,
            reason=reason,
            now=self._now,
            offer_onward=False,
        )
        self._ended.add((entry.customer_id, slot.id))
        if released:
            self.freed.add(slot.id)

    def _customer_for(self, row: ValidRow) -> tuple[Customer, bool]:
        """The row's customer, and whether it is new (not stored nor made by this run yet).

        By phone, then by email, then registered with the row's phone, as
        :meth:`~bookingcore.services.CustomerService.identify` finds a customer: a
        customer found by email is booked as they are (the phone on file wins).
        """
        if row.phone is not None:
            known = self._phones.get(row.phone)
            if known is not None:
                return known, False
        if row.email is not None:
            known = self._emails.get(row.email.match_key)
            if known is not None:
                return known, False
        if row.phone is None:
            msg = "no customer has this email; a phone number is needed to register one"
            raise ValidationError.single("customer_email", msg, "unknown_customer")
        customer = Customer(
            id=CustomerId(self._ctx.ids.new_id()),
            phone=row.phone,
            created_at=self._now,
            updated_at=self._now,
            name=row.name,
            email=row.email,
            source=BookingSource.IMPORT,
            created_by=self._run.actor,
        )
        return customer, True

    def _traveler_for(self, customer: Customer, name: str) -> tuple[Traveler, bool]:
        # every known customer of the chunk was looked up with its travelers
        wanted = name.casefold()
        for traveler in self._travelers.get(customer.id, ()):
            if traveler.name.casefold() == wanted:
                return traveler, False
        traveler = Traveler(
            id=TravelerId(self._ctx.ids.new_id()),
            customer_id=customer.id,
            name=name,
            created_at=self._now,
            updated_at=self._now,
        )
        return traveler, True

    def _lock_slot(self, slot_id: SlotId) -> Slot:
        slot = self._slots.get(slot_id)
        if slot is None:
            read = self._uow.slots.get_for_update if self._lock else self._uow.slots.get
            slot = read(slot_id)
            if slot is None:
                raise ValidationError.single("slot_id", "names no slot", "unknown_slot")
            self._slots[slot_id] = slot
        return slot

    def _slot_for(self, row: ValidRow) -> tuple[Slot, bool]:
        if row.slot_id is not None:
            slot = self._lock_slot(row.slot_id)
            if slot.location_id != row.location_id:
                msg = "is a slot at another location than the row's dealer"
                raise ValidationError.single("slot_id", msg, "slot_elsewhere")
            return slot, False
        known = self._open.get((row.location_id, row.product_id, row.starts_at))
        if known is not None:
            return self._lock_slot(known), False
        slot = Slot(
            id=SlotId(self._ctx.ids.new_id()),
            location_id=row.location_id,
            starts_at=row.starts_at,
            price_per_traveler=Money.zero(self._run.settings.currency),
            created_at=self._now,
            product_id=row.product_id,
            name=self._slot_name(row.starts_at),
        )
        return slot, True

    def _slot_name(self, starts_at: datetime) -> str:
        """A new slot's name, formatted once per wall-clock start time (``strftime`` is
        slow, and most rows of a file share their start times)."""
        wall = starts_at.replace(tzinfo=None)  # all the name shows: equal keys, equal names
        name = self._slot_names.get(wall)
        if name is None:
            name = self._slot_names[wall] = f"Appointments {wall:%Y-%m-%d %H:%M}"
        return name


# --------------------------------------------------------------------------- module helpers


def _tally(run: _Run, outcomes: Iterable[_Outcome]) -> _Chunk:
    result = _Chunk()
    for outcome in outcomes:
        action = outcome.action
        if outcome.failure is not None:
            result.failures.append(outcome.failure)
            continue
        if run.retrying is not None:
            result.fixed.append(outcome.number)
        if action == "create":
            result.created += 1
        elif action == "update":
            result.updated += 1
        else:
            result.skipped += 1
    return result


def _held(entry: WaitlistEntry | None, offers: Iterable[WaitlistEntry]) -> int:
    """The seats held on a slot for a customer a row books there: by the offer of their
    ``entry`` on it (if offered) and by their ``offers`` there for alternative dates."""
    own = entry.seats if entry is not None and entry.status is WaitlistStatus.OFFERED else 0
    return own + sum(offer.seats for offer in offers)


def _key(row: ValidRow) -> str:
    return f"import:{row.fingerprint[:48]}"


def _validated(validator: RowChecker, row: SourceRow) -> _Item:
    result = validator.validate(row)
    if isinstance(result, list):
        return _Failure(row.number, validator.raw(row), tuple(result))
    valid: ImportRow = result
    return valid


_WORKER_BATCH = 1000
_worker_validator: RowChecker | None = None


def _start_worker(validator: RowChecker) -> None:
    global _worker_validator  # noqa: PLW0603 - one validator per worker process
    _worker_validator = validator


def _validate_batch(rows: list[SourceRow]) -> list[_Item]:
    validator = _worker_validator
    if validator is None:  # pragma: no cover - the pool's initializer always ran
        msg = "the import worker was started without its validator"
        raise RuntimeError(msg)
    return [_validated(validator, row) for row in rows]


#: Settings that say how an import runs, not what it imports: a retry may change them.
_HOW_IT_RUNS = frozenset({"chunk_size", "workers"})


def _asked_settings(settings: ImportSettings) -> dict[str, Any]:
    """The settings an import's request is recognised by: what it imports, not how it runs."""
    return {k: v for k, v in settings.to_dict().items() if k not in _HOW_IT_RUNS}


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _raw_of(validator: RowValidator, row: ValidRow) -> dict[str, str]:
    """The cells of a valid row that failed later, rebuilt for its error record."""
    mapping = validator.mapping
    values = dict.fromkeys(mapping.header, "")

    def put(column: str, value: object) -> None:
        if column in mapping.columns and value is not None:
            values[mapping.header_of(column)] = str(value)

    put("customer_name", row.name)
    put("customer_phone", row.phone.e164 if row.phone else None)
    put("customer_email", row.email.value if row.email else None)
    code = next((c for c, i in validator.reference.locations.items() if i == row.location_id), "")
    put("dealer_code", code)
    put("booking_date", row.starts_at.isoformat())
    put("external_id", row.external_id)
    put("status", row.status if row.status_given else None)
    put("notes", row.notes)
    put("slot_id", row.slot_id)
    reference = validator.reference
    if row.advisor_id is not None:  # the advisor's email, as validation matched it
        put(
            "advisor_email",
            next((e for e, i in reference.advisors.items() if i == row.advisor_id), None),
        )
    extra = dict(row.metadata)
    variant = extra.pop("car_variant", None)
    if variant is None and row.product_id is not None:
        # the product the variant named: a code (looked up first) if it has one
        named = [k for k, i in reference.products.items() if i == row.product_id]
        variant = next((k for k in named if k == k.upper()), named[0] if named else None)
    put("car_variant", variant)
    for name, value in extra.items():
        if name in values:
            values[name] = value
    return values


def _in_file_duplicate(
    run: _Run, row: ValidRow, validator: RowValidator
) -> tuple[CellProblem, ...]:
    if not row.external_id:
        return ()
    if run.retrying is not None and row.number in run.retrying:
        # A retry reads the failed rows only, not the rows their external ids repeat:
        # a row that repeated another's and still has the same id repeats it still.
        earlier = run.retrying[row.number].problems
        kept = tuple(
            p for p in earlier if p.code == "duplicate_in_file" and p.value == row.external_id
        )
        if kept:
            return kept
    first = run.seen_external.claim(row.external_id, row.number)
    if first == row.number:
        run.claimed.append(row.external_id)
        return ()
    column = validator.mapping.header_of("external_id")
    msg = f"repeats the external id of row {first}"
    return (
        CellProblem(
            msg,
            "duplicate_in_file",
            column,
            _cell(run, validator, "external_id", row),
            row.external_id,
        ),
    )


def _cell(run: _Run, validator: RowValidator, column: str, row: ValidRow) -> str | None:
    from bookingcore.domain.imports import cell_name  # noqa: PLC0415

    if not run.has_cells or column not in validator.mapping.columns:
        return None
    return cell_name(validator.mapping.columns[column], row.number)


_FIELD_COLUMNS = {
    "external_id": "external_id",
    "booking_date": "booking_date",
    "customer_email": "customer_email",
    "customer_phone": "customer_phone",
    "slot_id": "slot_id",
    "advisor_email": "advisor_email",
    "status": "status",
}


def _problems_of(
    exc: BookingError, row: ValidRow, validator: RowValidator
) -> tuple[CellProblem, ...]:
    """A rule broken while booking, as the row's problems (at the cell to blame, if any)."""
    mapping = validator.mapping

    def at(column: str | None, message: str, code: str) -> CellProblem:
        if column is None or column not in mapping.columns:
            return CellProblem(message, code)
        index = mapping.columns[column]
        from bookingcore.domain.imports import cell_name  # noqa: PLC0415

        return CellProblem(
            message,
            code,
            column=mapping.header[index],
            cell=cell_name(index, row.number) if validator.has_cells else None,
            value=_raw_of(validator, row).get(mapping.header[index], ""),
        )

    if isinstance(exc, ValidationError):
        return tuple(
            at(_FIELD_COLUMNS.get(error.field), error.message, error.code) for error in exc.errors
        )
    if isinstance(exc, InvalidTransitionError):
        return (at("status", str(exc), exc.code),)
    column = "slot_id" if row.slot_id is not None else "booking_date"
    return (at(column, str(exc), exc.code),)


def _stored_header(
    errors: Iterable[ImportRowError], kept: Sequence[str] | None = None
) -> tuple[str, ...]:
    """The columns of the failed rows: the file's header the job kept (storage such as
    PostgreSQL's JSONB does not keep the order of a row's cells), else as the rows hold them."""
    header: dict[str, None] = dict.fromkeys(kept or ())
    for error in errors:
        for name in error.raw_row:
            header.setdefault(name, None)
    return tuple(header)


_REPORT_COLUMNS = ("row", "column", "cell", "message")


def _report_columns(kept: Sequence[str]) -> tuple[str, ...]:
    """The names the error report gives its ``row``, ``column``, ``cell`` and ``message``
    columns beside a file with header ``kept``: each prefixed with ``error_`` until it
    clashes with none of the file's (as ``write_error_csv`` names them)."""
    taken = set(kept)
    names = []
    for plain in _REPORT_COLUMNS:
        name = plain
        while name in taken:
            name = f"error_{name}"
        taken.add(name)
        names.append(name)
    return tuple(names)


def _corrected_rows(
    source: RowSource, pending: Mapping[int, ImportRowError], kept: Sequence[str] | None = None
) -> tuple[tuple[str, ...], list[SourceRow]]:
    """The rows of a corrected error report, numbered as the failed rows they replace.

    A failed row named by two lines of the report is refused (``duplicate_row``):
    which one replaces it would be a guess. The report's own columns are told from
    the file's (``kept``, the job's header):
    a file with its own ``message`` column gets a report whose ``error_message``
    is the report's, and its ``message`` stays one of the file's columns."""
    own = {name.strip().casefold() for name in kept or ()}
    exact = {name: i for i, name in enumerate(source.header)}
    folded = {name.strip().casefold(): i for i, name in enumerate(source.header)}
    positions: dict[str, int] = {}
    for plain, name in zip(_REPORT_COLUMNS, _report_columns(kept or ()), strict=True):
        index = exact.get(name)
        if index is None and name.casefold() not in own:
            index = folded.get(name.casefold())
        if index is not None:
            positions[plain] = index
    if "row" not in positions:
        msg = "has no 'row' column: send back the error report with its row numbers"
        raise ValidationError.single("file", msg, "missing_column")
    report = set(positions.values())
    keep = [i for i in range(len(source.header)) if i not in report]
    header = tuple(source.header[i] for i in keep)
    rows: list[SourceRow] = []
    replaced: dict[int, int] = {}  # failed row -> the report's row that replaces it
    for row in source.rows():
        text = row.values[positions["row"]].strip().lstrip("'")
        if not text.isdigit() or int(text) not in pending:
            continue
        number = int(text)
        if number in replaced:
            msg = (
                f"rows {replaced[number]} and {row.number} both replace failed row {number}; "
                "keep one line for each failed row"
            )
            raise ValidationError.single("file", msg, "duplicate_row")
        replaced[number] = row.number
        values = tuple(_unescape(row.values[i]) for i in keep)
        rows.append(SourceRow(number, values))
    return header, rows


def _unescape(value: str) -> str:
    """Undo the error report's formula escaping (a leading ``'`` before ``= + - @``)."""
    if len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r":
        return value[1:]
    return value


def _same(made: UUID) -> UUID:
    """An import job's id is a plain UUID: a keyed start's made id as it is."""
    return made
