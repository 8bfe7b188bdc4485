"""Error reports of an import: a CSV of the failed rows, and a marked-up XLSX copy of the file."""

from __future__ import annotations

import codecs
import csv
import os
import re
from collections.abc import Iterable, Sequence
from typing import IO, Any, Final, TextIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill

from bookingcore.domain.imports import ImportRowError
from bookingcore.ports.imports import RowSource
from bookingcore_adapters.importers._files import FileLimits
from bookingcore_adapters.importers._open import open_rows
from bookingcore_adapters.importers._xlsx import XlsxSource

__all__ = ["REPORT_COLUMNS", "defuse_formula", "write_error_csv", "write_error_xlsx"]

#: The columns an error CSV adds after the file's own.
REPORT_COLUMNS: Final = ("row", "column", "cell", "message")
#: First characters that make a spreadsheet read a cell as a formula (OWASP's list).
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
#: The most characters a spreadsheet cell holds.
_CELL_LIMIT: Final = 32_767
_CELL_NAME: Final = re.compile(r"([A-Za-z]{1,3})([0-9]+)")
_BAD_FILL: Final = PatternFill(fill_type="solid", start_color="FFFFC7CE", end_color="FFFFC7CE")
_BAD_FONT: Final = Font(color="FF9C0006")
_HEADER_FONT: Final = Font(bold=True)
_AUTHOR: Final = "bookingcore"
_DEFAULT_LIMITS: Final = FileLimits()


def defuse_formula(text: str) -> str:
    """``text`` made safe to open in a spreadsheet: a leading ``'`` if it could start a formula.

    Cells starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return are prefixed with a single quote, as OWASP advises against CSV
    injection (so ``-2`` becomes ``'-2``); other text is returned unchanged.

    .. versionadded:: 0.1
    """
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def _extra_names(header: Sequence[str], wanted: Sequence[str]) -> list[str]:
    """``wanted`` column names, each prefixed with ``error_`` until it clashes with none."""
    taken = set(header)
    names = []
    for name in wanted:
        unique = name
        while unique in taken:
            unique = f"error_{unique}"
        taken.add(unique)
        names.append(unique)
    return names


def _joined(parts: Iterable[str | None]) -> str:
    return "; ".join(dict.fromkeys(part for part in parts if part))


def write_error_csv(
    errors: Iterable[ImportRowError],
    header: Sequence[str],
    out: TextIO | str | os.PathLike[str],
) -> int:
    """Write one CSV line per failed row: its original cells, then where and why it failed.

    The columns are ``header`` (each row's values taken from
    :attr:`~bookingcore.domain.imports.ImportRowError.raw_row`, ``""`` where
    missing), then ``row`` (the row number in the file), ``column`` and
    ``cell`` (the problems' columns and cell names, joined with ``"; "``) and
    ``message`` (every problem of the row). A report column whose name the
    file already uses is prefixed with ``error_`` (``error_row``).

    Every cell written, header and messages included, goes through
    :func:`defuse_formula`, so opening the report cannot run a formula.

    The report is UTF-8 with a byte order mark, which Excel needs to show
    non-ASCII text right: a path is written as ``utf-8-sig``; to a text
    stream, a leading U+FEFF is written unless the stream's codec writes a
    mark itself (``utf-8-sig``, ``utf-16``, ``utf-32``). Lines end in CRLF.

    Args:
        errors: the failed rows, in the order to report them.
        header: the file's columns (``RowSource.header``).
        out: a path to (over)write, or an open text stream (opened with
            ``newline=""``), which is left open.

    Returns:
        The number of report lines written (header not counted).

    .. versionadded:: 0.1
    """
    if isinstance(out, str | os.PathLike):
        with open(out, "w", encoding="utf-8-sig", newline="") as stream:
            return _write_csv(errors, header, stream)
    encoding = getattr(out, "encoding", None)
    if encoding is None or codecs.lookup(encoding).name == "utf-8":
        out.write("\ufeff")
    return _write_csv(errors, header, out)


def _write_csv(errors: Iterable[ImportRowError], header: Sequence[str], out: IO[str]) -> int:
    writer = csv.writer(out)
    columns = [*header, *_extra_names(header, REPORT_COLUMNS)]
    writer.writerow([defuse_formula(name) for name in columns])
    written = 0
    for error in errors:
        problems = error.problems
        cells = [
            *(error.raw_row.get(name, "") for name in header),
            str(error.row_number),
            _joined(problem.column for problem in problems),
            _joined(problem.cell for problem in problems),
            error.message,
        ]
        writer.writerow([defuse_formula(cell) for cell in cells])
        written += 1
    return written


def write_error_xlsx(
    source_file: RowSource | str | os.PathLike[str] | bytes,
    errors: Iterable[ImportRowError],
    out: IO[bytes] | str | os.PathLike[str],
    *,
    sheet: str | None = None,
    limits: FileLimits = _DEFAULT_LIMITS,
) -> int:
    """Write an XLSX copy of the imported sheet with every problem marked where it is.

    The copy holds the header and every non-empty row at the row number it
    has in the file, with the values as the reader saw them, all written as
    text (so nothing in it is ever evaluated as a formula), plus a last
    column ``errors`` (``error_errors`` if the file has an ``errors``
    column). A cell a problem points at (by its cell name, else by its
    column name) gets a red fill and the problem's message as a comment;
    a problem tied to no column of the file puts its message in a comment
    on the row's ``errors`` cell; every failed row lists all its messages in
    its ``errors`` cell. Errors for rows the file does not hold are left out.

    Rows are streamed from the source and written by openpyxl's write-only
    workbook, so memory holds one row plus the errors and their comments.
    A CSV source works too: the copy is then a sheet of its rows.

    Args:
        source_file: the opened source, or a file to open with :func:`open_rows`.
        errors: the failed rows.
        out: a path to (over)write, or a binary stream.
        sheet: the worksheet, when ``source_file`` is an XLSX file to open.
        limits: the limits, when ``source_file`` is a file to open.

    Returns:
        The number of rows of the copy marked as failed.

    Raises:
        ValidationError: when the file cannot be opened or read (see :func:`open_rows`).

    .. versionadded:: 0.1
    """
    if isinstance(source_file, str | bytes | os.PathLike):
        source = open_rows(source_file, sheet=sheet, limits=limits)
    else:
        source = source_file
    failures: dict[int, list[ImportRowError]] = {}
    for error in errors:
        failures.setdefault(error.row_number, []).append(error)

    header = list(source.header)
    columns = {name: index for index, name in enumerate(header)}
    workbook = Workbook(write_only=True)
    title = source.sheet_name if isinstance(source, XlsxSource) else "Rows"
    worksheet: Any = workbook.create_sheet(title=title)
    worksheet.freeze_panes = "A2"
    errors_column = _extra_names(header, ["errors"])[0]
    worksheet.append(
        [_text_cell(worksheet, name, font=_HEADER_FONT) for name in [*header, errors_column]]
    )
    next_row = 2
    marked = 0
    for row in source.rows():
        while next_row < row.number:  # keep the file's row numbers and cell names
            worksheet.append([])
            next_row += 1
        row_failures = failures.get(row.number, [])
        worksheet.append(_marked_row(worksheet, row.number, row.values, row_failures, columns))
        next_row += 1
        marked += bool(row_failures)
    workbook.save(out)
    return marked


def _marked_row(
    worksheet: Any,
    number: int,
    values: Sequence[str],
    failures: Sequence[ImportRowError],
    columns: dict[str, int],
) -> list[Cell]:
    notes: dict[int, list[str]] = {}
    row_notes: list[str] = []
    for failure in failures:
        for problem in failure.problems:
            index = _column_index(problem.cell, problem.column, number, columns, len(values))
            (row_notes if index is None else notes.setdefault(index, [])).append(problem.message)
    cells = []
    for index, value in enumerate(values):
        if index in notes:
            cells.append(
                _text_cell(
                    worksheet,
                    value,
                    comment="\n".join(notes[index]),
                    fill=_BAD_FILL,
                    font=_BAD_FONT,
                )
            )
        else:
            cells.append(_text_cell(worksheet, value))
    if failures:
        summary = "; ".join(failure.message or failure.error_type for failure in failures)
        comment = "\n".join(row_notes) if row_notes else None
        cells.append(_text_cell(worksheet, summary, comment=comment, font=_BAD_FONT))
    return cells


def _column_index(
    cell: str | None, column: str | None, number: int, columns: dict[str, int], width: int
) -> int | None:
    if cell:
        match = _CELL_NAME.fullmatch(cell)
        if match and int(match[2]) == number:
            index = 0
            for letter in match[1].upper():
                index = index * 26 + ord(letter) - ord("A") + 1
            if index - 1 < width:
                return index - 1
    if column is not None:
        return columns.get(column)
    return None


def _text_cell(
    worksheet: Any,
    text: str,
    *,
    comment: str | None = None,
    fill: PatternFill | None = None,
    font: Font | None = None,
) -> Cell:
    cell = WriteOnlyCell(worksheet, value=ILLEGAL_CHARACTERS_RE.sub("", text)[:_CELL_LIMIT])
    cell.data_type = "s"  # text stays text, even "=1+1" or "#N/A"
    if comment:
        cell.comment = Comment(comment[:_CELL_LIMIT], _AUTHOR)
    if fill is not None:
        cell.fill = fill
    if font is not None:
        cell.font = font
    return cell
