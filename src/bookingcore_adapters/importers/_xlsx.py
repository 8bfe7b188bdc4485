"""XLSX workbooks as a :class:`~bookingcore.ports.imports.RowSource`, read with openpyxl.

openpyxl reads in ``read_only`` (streaming) and ``data_only`` (cached formula
results) mode, and parses XML through defusedxml when it is installed (the
``imports`` extra installs it). :mod:`._calamine` offers a faster reader that
yields the same rows.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Generator, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final, Protocol

import openpyxl

from bookingcore.domain.imports import SourceRow
from bookingcore.errors import ValidationError
from bookingcore_adapters.importers._files import SourceFile, refuse, unique_header

__all__ = ["OPENPYXL", "SheetReader", "XlsxSource", "cell_text", "unknown_sheet"]

#: What a spreadsheet shows for a formula that failed. python-calamine reads
#: such cells as empty, so both readers do.
_ERROR_VALUES: Final = frozenset(
    ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA")
)
#: Integers up to this size are exact in a float, the way spreadsheets store numbers.
_EXACT_INTEGER: Final = 2**53

Cells = Sequence[object]
NumberedRows = Generator[tuple[int, Cells], None, None]


def cell_text(value: object) -> str:
    """The text of a spreadsheet cell value, the same from every XLSX reader.

    ``None`` and formula errors (``#N/A``) are ``""``; text is stripped;
    ``True``/``False`` are ``"true"``/``"false"``; a datetime is ISO 8601
    (``2026-03-05T10:30:00``), or just its date when the time is midnight
    (``2026-03-05``); a date or time is ISO 8601; a duration is
    ``H:MM:SS``; a number is written out in full without exponent, and an
    integral one without ``.0`` (``9876543210``), so phone numbers stored
    as numbers keep their digits.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        text = value.strip()
        return "" if text in _ERROR_VALUES else text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.time() == time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        seconds = round(value.total_seconds())
        sign = "-" if seconds < 0 else ""
        hours, rest = divmod(abs(seconds), 3600)
        return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"
    if isinstance(value, int | float):
        return _number_text(value)
    return str(value).strip()


def _number_text(value: int | float) -> str:
    if isinstance(value, int) and -_EXACT_INTEGER <= value <= _EXACT_INTEGER:
        return str(value)
    # Larger integers went through a float in the spreadsheet (and in
    # python-calamine): show the float's digits, not openpyxl's exact text.
    number = float(value)
    if not math.isfinite(number):
        return repr(number)
    if number == 0:
        return "0"
    exact = Decimal(repr(number))
    if number.is_integer():
        exact = exact.to_integral_value()
    return format(exact, "f")


def unknown_sheet(sheet: str, names: Sequence[str]) -> ValidationError:
    """The error for a ``sheet=`` the workbook does not have (field ``sheet``)."""
    listed = ", ".join(repr(name) for name in names) or "none"
    msg = f"the workbook has no worksheet named {sheet!r}; its worksheets: {listed}"
    return ValidationError.single("sheet", msg, "unknown_sheet")


def unreadable(exc: Exception) -> ValidationError:
    """The error for a workbook its reader chokes on (``unreadable_file``)."""
    detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    return refuse(f"the XLSX workbook cannot be read: {detail}", "unreadable_file")


class SheetReader(Protocol):
    """A library that reads one worksheet of an XLSX file as numbered rows of raw values."""

    name: str

    def open_sheet(
        self, file: SourceFile, sheet: str | None, width: int | None
    ) -> AbstractContextManager[tuple[str, NumberedRows]]:
        """Open ``sheet`` (by name; ``None`` for the first visible worksheet).

        Yields the sheet's name and its rows from row 1, each numbered as in
        the sheet, missing rows included; with ``width``, each row is padded
        with ``None`` or cut to that many cells.

        Raises:
            ValidationError: ``unknown_sheet`` or ``unreadable_file``.
        """
        ...


class _OpenpyxlReader:
    name = "openpyxl"

    @contextmanager
    def open_sheet(
        self, file: SourceFile, sheet: str | None, width: int | None
    ) -> Iterator[tuple[str, NumberedRows]]:
        with file.open() as stream:
            try:
                with warnings.catch_warnings():
                    # Unsupported extensions and missing styles are no reason to refuse a file.
                    warnings.simplefilter("ignore")
                    workbook = openpyxl.load_workbook(
                        stream, read_only=True, data_only=True, keep_links=False
                    )
            except Exception as exc:
                raise unreadable(exc) from exc
            try:
                worksheet = self._pick(workbook, sheet)
                # Ignore the stated dimensions: a sheet claiming A1:XFD1048576
                # would otherwise be padded out to them.
                worksheet.reset_dimensions()
                rows = self._rows(worksheet, width)
                try:
                    yield worksheet.title, rows
                finally:
                    rows.close()  # closes the sheet's XML stream before the archive
            finally:
                workbook.close()

    @staticmethod
    def _pick(workbook: Any, sheet: str | None) -> Any:
        worksheets = list(workbook.worksheets)
        if sheet is None:
            if not worksheets:
                msg = "the workbook has no worksheets"
                raise refuse(msg, "empty_file")
            visible = [ws for ws in worksheets if ws.sheet_state == "visible"]
            return (visible or worksheets)[0]
        for worksheet in worksheets:
            if worksheet.title == sheet:
                return worksheet
        raise unknown_sheet(sheet, [ws.title for ws in worksheets])

    @staticmethod
    def _rows(worksheet: Any, width: int | None) -> NumberedRows:
        try:
            rows = worksheet.iter_rows(min_row=1, max_col=width, values_only=True)
            yield from enumerate(rows, start=1)
        except ValidationError:
            raise
        except Exception as exc:
            raise unreadable(exc) from exc


#: The openpyxl reader (always available with the ``imports`` extra).
OPENPYXL: Final[SheetReader] = _OpenpyxlReader()


class XlsxSource:
    """One worksheet of an XLSX workbook read as rows of text, streamed anew on each call.

    The header is the sheet's row 1, its names made unique as for CSV
    (a blank one in column E is ``column_5``, a repeated one ``phone_2``); a row's
    number is its row in the sheet, so with :func:`~bookingcore.domain.imports.cell_name`
    it names the cell a person sees (``D17``). Cell values become text with
    :func:`cell_text`, whichever reader is used. Cells right of the header's
    last named column are dropped; empty rows are skipped.

    Built by :func:`~bookingcore_adapters.importers.open_rows`, which checked
    the archive first.

    Attributes:
        filename: the name given to :func:`open_rows` (or the path's name).
        file_format: ``"xlsx"``.
        size: the file's size in bytes.
        digest: the SHA-256 hex digest of the file's bytes.
        header: the column names.
        has_cells: ``True``.
        sheet_name: the worksheet read (the first visible one unless named).
        reader: ``"openpyxl"`` or ``"calamine"``.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        file: SourceFile,
        *,
        filename: str,
        digest: str,
        reader: SheetReader = OPENPYXL,
        sheet: str | None = None,
    ) -> None:
        self._file = file
        self._reader = reader
        self.filename = filename
        self.file_format = "xlsx"
        self.size = file.size
        self.digest = digest
        self.has_cells = True
        self.reader = reader.name
        with reader.open_sheet(file, sheet, None) as (sheet_name, rows):
            self.sheet_name: str = sheet_name
            self.header = self._read_header(rows)

    def _read_header(self, rows: NumberedRows) -> tuple[str, ...]:
        first = next(rows, None)
        if first is not None:
            names = [cell_text(cell) for cell in first[1]]
            if any(names):
                return unique_header(names)
            if any(any(cell_text(cell) for cell in cells) for _, cells in rows):
                msg = (
                    f"row 1 of sheet {self.sheet_name!r}, the header, is empty; "
                    "put the column names in row 1"
                )
                raise refuse(msg, "no_header")
        msg = f"sheet {self.sheet_name!r} holds no rows"
        raise refuse(msg, "empty_file")

    def rows(self, *, skip: int = 0) -> Iterator[SourceRow]:
        """Stream the data rows in sheet order, skipping the first ``skip`` of them.

        Args:
            skip: how many (non-empty) data rows to pass over first.

        Raises:
            ValidationError: ``unreadable_file`` when the workbook turns out
                damaged part-way, ``file_changed`` when the file on disk
                changed since it was opened.
        """
        width = len(self.header)
        with self._reader.open_sheet(self._file, self.sheet_name, width) as (_, rows):
            for number, cells in rows:
                if number == 1:
                    continue
                values = tuple(cell_text(cell) for cell in cells[:width])
                if not any(values):
                    continue
                if skip > 0:
                    skip -= 1
                    continue
                yield SourceRow(number, values + ("",) * (width - len(values)))
