"""``open_rows``: check a file, tell CSV from XLSX by content, and hand back its reader."""

from __future__ import annotations

import os
from typing import Final, Literal

from bookingcore.ports.imports import RowSource
from bookingcore_adapters.importers._csv import CsvSource, scan_text
from bookingcore_adapters.importers._files import (
    FileLimits,
    SourceFile,
    check_archive,
    check_size,
    file_kind,
    sha256_digest,
)
from bookingcore_adapters.importers._xlsx import OPENPYXL, SheetReader, XlsxSource

__all__ = ["XlsxReader", "open_rows"]

#: Which XLSX reader opens a workbook: ``"auto"`` takes python-calamine when installed,
#: else openpyxl.
XlsxReader = Literal["auto", "openpyxl", "calamine"]
_READERS: Final = ("auto", "openpyxl", "calamine")
_DEFAULT_LIMITS: Final = FileLimits()


def open_rows(
    file: str | os.PathLike[str] | bytes,
    *,
    filename: str | None = None,
    limits: FileLimits = _DEFAULT_LIMITS,
    reader: XlsxReader = "auto",
    sheet: str | None = None,
) -> RowSource:
    """Check an import file and open it as a stream of rows.

    Everything that can refuse the file happens here, before any data row is
    read: the size limit; the type, judged by content and never by name (a
    ZIP holding ``xl/workbook.xml`` is XLSX; text that decodes is CSV;
    anything else is refused); for XLSX, the archive's member count, inflated
    size, compression ratios and a DOCTYPE in any XML part; the header row;
    for CSV, every record, parsed once, so that a cell longer than
    :func:`csv.field_size_limit` refuses the file now rather than stopping an
    import half way. The file is read once in blocks for its SHA-256 digest.

    Args:
        file: a path (read again on each :meth:`~bookingcore.ports.imports.RowSource.rows`
            call, and refused with ``file_changed`` if it changed meanwhile) or
            the file's bytes.
        filename: the name to show in reports (default: the path's name, or
            ``"upload"`` for bytes). It has no say in the file's type.
        limits: size and archive limits.
        reader: the XLSX reader: ``"openpyxl"``, ``"calamine"`` (python-calamine,
            faster, the ``calamine`` extra), or ``"auto"``: calamine when it is
            installed, else openpyxl. Both yield the same rows. Ignored for CSV.
        sheet: the XLSX worksheet to read, by name (default: the first visible
            worksheet). Ignored for CSV.

    Returns:
        A :class:`CsvSource` or an :class:`XlsxSource`.

    Raises:
        ValidationError: on field ``file`` with code ``file_too_large``,
            ``empty_file``, ``unsupported_file_type``, ``zip_bomb``,
            ``unsafe_xml``, ``unreadable_file``, ``cell_too_large`` or
            ``no_header``; on field
            ``sheet`` with code ``unknown_sheet``.
        ValueError: for an unknown ``reader``.
        ImportError: for ``reader="calamine"`` without python-calamine installed.

    .. versionadded:: 0.1
    """
    if reader not in _READERS:
        msg = f"reader must be one of {', '.join(_READERS)}, not {reader!r}"
        raise ValueError(msg)
    source = SourceFile(file)
    name = filename or source.default_name
    check_size(source, limits)
    head = source.head()
    if file_kind(head) == "zip":
        check_archive(source, limits)
        digest, _ = sha256_digest(source.blocks(limits))
        return XlsxSource(
            source, filename=name, digest=digest, reader=_sheet_reader(reader), sheet=sheet
        )
    digest, encoding = scan_text(source, head, limits)
    return CsvSource(source, filename=name, digest=digest, encoding=encoding)


def _sheet_reader(reader: XlsxReader) -> SheetReader:
    if reader == "openpyxl":
        return OPENPYXL
    try:
        from bookingcore_adapters.importers._calamine import CALAMINE  # noqa: PLC0415
    except ImportError as exc:
        if reader == "calamine":
            msg = "reader='calamine' needs python-calamine: pip install 'bookingcore[calamine]'"
            raise ImportError(msg) from exc
        return OPENPYXL
    return CALAMINE
