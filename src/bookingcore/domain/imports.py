"""Bulk imports: a file of rows becomes bookings, and every bad row is kept with why.

An :class:`ImportJob` records one file's import: its counts, status, settings
and a summary of the errors. Each row that could not be imported is an
:class:`ImportRowError` holding the raw row and one :class:`CellProblem` per
bad cell (row number, column, spreadsheet cell, raw value, message), so a
report can point at ``D17`` and a retry can replay exactly the failed rows.

Readers (``bookingcore_adapters.importers``) turn files into :class:`SourceRow`
streams behind the :class:`~bookingcore.ports.imports.RowSource` port.

.. versionadded:: 0.1
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

from bookingcore.domain._validation import check_text
from bookingcore.domain.values import Actor, Versioned
from bookingcore.errors import ValidationError

__all__ = [
    "FILE_PURGED_AT",
    "CellProblem",
    "ImportJob",
    "ImportKind",
    "ImportRowError",
    "ImportStatus",
    "SourceRow",
    "cell_name",
    "column_letters",
]


#: The job settings' key saying when the job's uploaded file was deleted (ISO 8601).
FILE_PURGED_AT = "file_purged_at"

#: The longest ``filename`` and ``file_format`` a job keeps (what every store can hold).
_MAX_LENGTHS = {"filename": 512, "file_format": 10}


def check_file_names(filename: str, file_format: str) -> None:
    """Refuse a file name or format a job cannot keep on every store.

    Raises:
        ValidationError: on ``filename`` (more than 512 characters) or
            ``file_format`` (more than 10), code ``too_long``; on either holding a
            control character (NUL included), code ``control_character``.
    """
    for field, value in (("filename", filename), ("file_format", file_format)):
        check_text(value, field)
        limit = _MAX_LENGTHS[field]
        if len(value) > limit:
            msg = f"must be at most {limit} characters"
            raise ValidationError.single(field, msg, "too_long")


def column_letters(index: int) -> str:
    """The spreadsheet letters of a 0-based column index (``0`` is ``A``, ``27`` is ``AB``)."""
    if index < 0:
        msg = "column index cannot be negative"
        raise ValueError(msg)
    letters = ""
    number = index + 1
    while number:
        number, remainder = divmod(number - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def cell_name(column_index: int, row_number: int) -> str:
    """The A1-style name of a cell: ``cell_name(3, 17) == "D17"``."""
    return f"{column_letters(column_index)}{row_number}"


@attrs.frozen
class SourceRow:
    """One data row as a reader found it.

    ``number`` is the row's 1-based line (CSV record) or sheet row (XLSX), the
    number a person sees in their editor; ``values`` are the cells as text,
    in header order (``""`` for an empty cell), padded or cut to the header's width.

    .. versionadded:: 0.1
    """

    number: int
    values: tuple[str, ...]

    def __reduce__(self) -> tuple[type[SourceRow], tuple[int, tuple[str, ...]]]:
        # Pickled as its two fields (an import sends each row to a validation worker):
        # a quarter of the cost of attrs' default state.
        return type(self), (self.number, self.values)


class ImportKind(enum.StrEnum):
    """What the rows of an import file are: each kind has its own columns and rules.

    ``bookings`` (the default) books each row; ``customers`` finds
    each row's customer by phone, then email, fills in their blank fields or
    registers them; ``travelers`` saves each row's traveler under the customer
    its ``customer_phone`` or ``customer_email`` names. All three go through the
    same pipeline: preview, dry run, chunks, resume, retry and error reports.

    .. versionadded:: 0.3
    """

    BOOKINGS = "bookings"
    CUSTOMERS = "customers"
    TRAVELERS = "travelers"

    @classmethod
    def parse(cls, value: str | ImportKind, *, field: str = "kind") -> ImportKind:
        """Read a kind name, any case.

        Raises:
            ValidationError: on ``field`` when the value names no kind.
        """
        try:
            return cls(str(value).strip().casefold())
        except ValueError:
            known = ", ".join(kind.value for kind in cls)
            msg = f"{value!r} is not an import kind (one of {known})"
            raise ValidationError.single(field, msg, "invalid_choice") from None


class ImportStatus(enum.StrEnum):
    """Where an import job is (what older import systems call ``ImportStatus``).

    .. versionadded:: 0.1
    """

    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        """True once the job will not process more rows (retry starts a new pass)."""
        return self in (ImportStatus.COMPLETED, ImportStatus.FAILED, ImportStatus.CANCELLED)


@attrs.frozen
class CellProblem:
    """What is wrong with one cell of a row (or with the row, when ``column`` is ``None``).

    ``cell`` is the spreadsheet cell (``"D17"``) for XLSX files and ``None`` for CSV.

    .. versionadded:: 0.1
    """

    message: str
    code: str
    column: str | None = None
    cell: str | None = None
    value: str | None = None

    def describe(self) -> str:
        """One line for people: ``"D17 customer_phone '12345': not a valid phone number"``."""
        where = " ".join(part for part in (self.cell, self.column) if part)
        shown = f" {self.value!r}" if self.value not in (None, "") else ""
        return f"{where}{shown}: {self.message}" if where or shown else self.message


def _problems(values: Any) -> tuple[CellProblem, ...]:
    return tuple(values)


@attrs.define(slots=False)
class ImportRowError:
    """A row that could not be imported, with its raw cells and every problem found.

    ``raw_row`` maps the file's own column names to the cell text, so an error
    report can reproduce the row and a retry can replay it. ``resolved_at`` is
    set when a later retry imported the row.

    .. versionadded:: 0.1
    """

    id: UUID
    job_id: UUID
    row_number: int
    raw_row: Mapping[str, str]
    problems: tuple[CellProblem, ...] = attrs.field(converter=_problems)
    created_at: datetime
    resolved_at: datetime | None = None

    @property
    def error_type(self) -> str:
        """The code of the first problem: what the error summary counts."""
        return self.problems[0].code if self.problems else "error"

    @property
    def message(self) -> str:
        """Every problem of the row on one line."""
        return "; ".join(problem.describe() for problem in self.problems)


@attrs.define(slots=False)
class ImportJob(Versioned):
    """One file's import: counts, status, settings and an error summary.

    ``processed_rows`` counts the data rows done in file order, so a run that
    stopped (a crash, a cancel) resumes after them. ``settings`` keeps what the
    import was started with (mapping, chunk size, lifecycle, assignment
    strategy) as JSON data. ``file_digest`` is the SHA-256 of the file's bytes.

    .. versionadded:: 0.1
    """

    id: UUID
    filename: str
    file_format: str
    file_size: int
    file_digest: str
    created_by: Actor
    created_at: datetime
    updated_at: datetime
    status: ImportStatus = ImportStatus.PENDING
    settings: Mapping[str, Any] = attrs.Factory(dict)
    total_rows: int = 0
    processed_rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    error_summary: Mapping[str, int] = attrs.Factory(dict)
    started_at: datetime | None = None
    completed_at: datetime | None = None
    cancel_requested: bool = False
    version: int = 1

    entity_name = "import"

    @property
    def successful(self) -> int:
        """Rows that made or changed a booking (a customer, a traveler: see :attr:`kind`)."""
        return self.created + self.updated

    @property
    def kind(self) -> ImportKind:
        """What the job's rows are (its settings' ``kind``; jobs from before 0.3 imported bookings).

        .. versionadded:: 0.3
        """
        return ImportKind(self.settings.get("kind", ImportKind.BOOKINGS.value))

    @property
    def file_purged_at(self) -> datetime | None:
        """When the job's uploaded file was deleted after its retention (settings'
        ``file_purged_at``); ``None`` while it is kept (or was never kept).

        .. versionadded:: 0.4
        """
        purged = self.settings.get(FILE_PURGED_AT)
        return None if purged is None else datetime.fromisoformat(str(purged))
