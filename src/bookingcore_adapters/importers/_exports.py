"""Writing exported rows (a booking list) to CSV and XLSX files, safe to open.

Both writers take any iterable of rows (the first one the header), such as
:meth:`~bookingcore.services.ExportService.booking_rows`, and consume it one
row at a time: a million rows never sit in memory. Every cell that a
spreadsheet could read as a formula is escaped by :func:`defuse_formula`.

.. versionadded:: 0.3
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from typing import IO, Any

from openpyxl import Workbook

from bookingcore_adapters.importers._reports import _text_cell, defuse_formula

__all__ = ["write_rows_csv", "write_rows_xlsx"]


def write_rows_csv(rows: Iterable[Sequence[str]], out: IO[str]) -> int:
    """Write ``rows`` to the text stream ``out`` as CSV; returns the rows written
    after the header.

    Open ``out`` with ``newline=""`` (the :mod:`csv` rule). Cells starting with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return get a leading ``'``.

    .. versionadded:: 0.3
    """
    writer = csv.writer(out)
    written = -1
    for row in rows:
        writer.writerow([defuse_formula(cell) for cell in row])
        written += 1
    return max(written, 0)


def write_rows_xlsx(
    rows: Iterable[Sequence[str]],
    out: IO[bytes] | str | os.PathLike[str],
    *,
    sheet: str = "Bookings",
) -> int:
    """Write ``rows`` to an XLSX file (openpyxl's write-only workbook, one row in
    memory at a time); returns the rows written after the header.

    Every cell is stored as text and escaped like :func:`write_rows_csv`, so
    nothing in the file is evaluated as a formula when it is opened.

    .. versionadded:: 0.3
    """
    workbook = Workbook(write_only=True)
    worksheet: Any = workbook.create_sheet(title=sheet)
    worksheet.freeze_panes = "A2"
    written = -1
    for row in rows:
        worksheet.append([_text_cell(worksheet, defuse_formula(cell)) for cell in row])
        written += 1
    workbook.save(out)
    return max(written, 0)
