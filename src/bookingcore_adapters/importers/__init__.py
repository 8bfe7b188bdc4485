"""Bulk-import readers: CSV and XLSX files, checked, as streams of rows; and their error reports.

:func:`open_rows` checks a file before any row is read (size, type by content,
archive and XML safety, header) and returns a
:class:`~bookingcore.ports.imports.RowSource`: a :class:`CsvSource` (standard
library :mod:`csv`, encoding and delimiter detected) or an :class:`XlsxSource`
(openpyxl in streaming mode, or python-calamine). Every refusal is a
:class:`~bookingcore.errors.ValidationError` on field ``file`` with a stable
code: ``file_too_large``, ``empty_file``, ``unsupported_file_type``,
``zip_bomb``, ``unsafe_xml``, ``unreadable_file``, ``cell_too_large`` (a CSV
cell longer than :func:`csv.field_size_limit`), ``no_header`` or
``file_changed`` (and ``unknown_sheet``, on field ``sheet``).

:func:`write_error_csv` and :func:`write_error_xlsx` turn the failed rows into
reports people open in a spreadsheet, safe from formula injection::

    from bookingcore_adapters.importers import FileLimits, open_rows, write_error_csv

    source = open_rows("bookings.xlsx", limits=FileLimits(max_bytes=5 * 1024 * 1024))
    print(source.file_format, source.digest, source.header)
    for row in source.rows():
        print(row.number, dict(zip(source.header, row.values)))
    write_error_csv(failed_rows, source.header, "bookings-errors.csv")

:func:`write_rows_csv` and :func:`write_rows_xlsx` write exported rows (a
booking list from :meth:`~bookingcore.services.ExportService.booking_rows`) the
same safe way, streaming.

Needs the ``imports`` extra (openpyxl, defusedxml); ``calamine`` adds the
faster XLSX reader.

.. versionadded:: 0.1
"""

from bookingcore_adapters.importers._csv import CsvSource
from bookingcore_adapters.importers._exports import write_rows_csv, write_rows_xlsx
from bookingcore_adapters.importers._files import FileLimits
from bookingcore_adapters.importers._open import XlsxReader, open_rows
from bookingcore_adapters.importers._reports import (
    REPORT_COLUMNS,
    defuse_formula,
    write_error_csv,
    write_error_xlsx,
)
from bookingcore_adapters.importers._xlsx import XlsxSource, cell_text

__all__ = [
    "REPORT_COLUMNS",
    "CsvSource",
    "FileLimits",
    "XlsxReader",
    "XlsxSource",
    "cell_text",
    "defuse_formula",
    "open_rows",
    "write_error_csv",
    "write_error_xlsx",
    "write_rows_csv",
    "write_rows_xlsx",
]
