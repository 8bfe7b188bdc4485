"""CSV files as a :class:`~bookingcore.ports.imports.RowSource`, with the standard library only."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from bookingcore.domain.imports import SourceRow
from bookingcore_adapters.importers._files import (
    FileLimits,
    SourceFile,
    refuse,
    unique_header,
)

__all__ = ["CsvSource", "scan_text"]

#: Byte order marks and the codec that reads past them; UTF-32 first, as its
#: little-endian mark starts with UTF-16's.
_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: The five bytes Windows-1252 leaves undefined: a file holding one is Latin-1.
_CP1252_HOLES: Final = re.compile(b"[\x81\x8d\x8f\x90\x9d]")
_DELIMITERS: Final = ",;\t|"
_SAMPLE_CHARS: Final = 32 * 1024
_SNIFF_CHARS: Final = 4 * 1024
_SNIFF_LINES: Final = 20
#: Control characters a text file may hold; more than 1% of others means binary.
_TEXT_CONTROLS: Final = frozenset("\t\n\r\f\v\x1a")
_MARKUP: Final = ("<?xml", "<!doctype", "<html", "<table")


def scan_text(file: SourceFile, head: bytes, limits: FileLimits) -> tuple[str, str]:
    """Read a would-be CSV file once: its SHA-256 digest and the encoding that reads it all.

    A byte order mark decides (UTF-8, UTF-16, UTF-32); otherwise the whole
    file must be valid UTF-8, else Windows-1252, else Latin-1.

    Returns:
        ``(digest, encoding)``, the encoding as a Python codec name.

    Raises:
        ValidationError: ``unsupported_file_type`` for NUL bytes (binary data),
            ``unreadable_file`` when the byte order mark promises an encoding
            the bytes break, ``file_too_large`` when the file grew past the limit.
    """
    bom_encoding = next((name for bom, name in _BOMS if head.startswith(bom)), None)
    decoder = codecs.getincrementaldecoder(bom_encoding or "utf-8")()
    decodes = True
    cp1252_ok = True
    digest = hashlib.sha256()
    for block in file.blocks(limits):
        digest.update(block)
        if bom_encoding in (None, "utf-8-sig") and b"\x00" in block:
            msg = "the file holds NUL bytes, so it is not CSV text; upload a CSV or XLSX file"
            raise refuse(msg, "unsupported_file_type")
        if bom_encoding is None:
            cp1252_ok = cp1252_ok and not _CP1252_HOLES.search(block)
        decodes = decodes and _feeds(decoder, block)
    decodes = decodes and _feeds(decoder, b"", final=True)
    if bom_encoding is not None:
        if not decodes:
            msg = f"the file starts with a {bom_encoding} byte order mark but is not {bom_encoding}"
            raise refuse(msg, "unreadable_file")
        return digest.hexdigest(), bom_encoding
    encoding = "utf-8" if decodes else "cp1252" if cp1252_ok else "latin-1"
    return digest.hexdigest(), encoding


def _feeds(decoder: codecs.IncrementalDecoder, block: bytes, *, final: bool = False) -> bool:
    try:
        decoder.decode(block, final)
    except UnicodeDecodeError:
        return False
    return True


def _looks_binary(sample: str) -> bool:
    controls = sum(1 for char in sample if char < " " and char not in _TEXT_CONTROLS)
    return controls > len(sample) // 100


def detect_delimiter(sample: str) -> str:
    """The delimiter among ``, ; TAB |`` that the sample's first lines use.

    :class:`csv.Sniffer` decides when its answer splits the header; otherwise
    the candidate that splits the header into the most fields wins, and a
    header that no candidate splits is read with ``,``.
    """
    lines = sample.splitlines(keepends=True)
    if len(sample) >= _SAMPLE_CHARS and len(lines) > 1:
        lines.pop()  # cut short by the sample
    snippet = "".join(lines[:_SNIFF_LINES])
    if len(snippet) > _SNIFF_CHARS:  # end on a whole line where there is one
        cut = snippet.rfind("\n", 0, _SNIFF_CHARS)
        snippet = snippet[: cut + 1] if cut > 0 else snippet[:_SNIFF_CHARS]

    def header_width(delimiter: str) -> int:
        reader = csv.reader(io.StringIO(snippet), delimiter=delimiter, skipinitialspace=True)
        return len(next(reader, []))

    try:
        sniffed: str | None = csv.Sniffer().sniff(snippet, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    if sniffed in tuple(_DELIMITERS) and header_width(sniffed) > 1:
        return sniffed
    best = max(_DELIMITERS, key=header_width)  # the first of equals wins: "," before the rest
    return best if header_width(best) > 1 else ","


class CsvSource:
    """A CSV file read as rows of stripped text, streamed anew on each :meth:`rows` call.

    The header is the first record; :attr:`header` holds its names,
    stripped, with trailing blank ones dropped, a blank one named after its
    position (``column_5``) and a repeated one numbered (``phone_2``).
    Each data row is padded with ``""`` or cut to the header's width: cells
    beyond the header's last named column are dropped. Records count from 1
    for the header, so the first data row is number 2, as in a spreadsheet;
    a quoted value spanning several lines is one record, and an empty line
    is a record that is never yielded. Cells are limited to :func:`csv.field_size_limit`
    characters (128 KiB by default): the whole file is parsed once when it is
    opened, and a file holding a longer cell (most often a quote that is never
    closed, which makes the rest of the file one cell) is refused then, with
    code ``cell_too_large`` naming its row, before any row is imported.

    Built by :func:`~bookingcore_adapters.importers.open_rows`, which chose
    :attr:`encoding` and :attr:`delimiter`.

    Attributes:
        filename: the name given to :func:`open_rows` (or the path's name).
        file_format: ``"csv"``.
        size: the file's size in bytes.
        digest: the SHA-256 hex digest of the file's bytes.
        header: the column names.
        has_cells: ``False``: CSV rows have no cell names.
        encoding: the Python codec that decodes the file (``"utf-8-sig"``,
            ``"utf-16"``, ``"utf-8"``, ``"cp1252"``, ``"latin-1"``...).
        delimiter: the field delimiter, one of ``, ; TAB |``.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        file: SourceFile,
        *,
        filename: str,
        digest: str,
        encoding: str,
        delimiter: str | None = None,
    ) -> None:
        self._file = file
        self.filename = filename
        self.file_format = "csv"
        self.size = file.size
        self.digest = digest
        self.has_cells = False
        self.encoding = encoding
        if delimiter is None:
            delimiter = self._detect_delimiter()
        self.delimiter = delimiter
        self.header = self._read_header()
        self._check_records()

    def _detect_delimiter(self) -> str:
        with self._file.open() as raw, io.TextIOWrapper(raw, self.encoding, newline="") as text:
            sample = text.read(_SAMPLE_CHARS)
        stripped = sample.lstrip("\ufeff \t\r\n").lower()
        if stripped.startswith(_MARKUP):
            msg = "the file is an HTML or XML document, not CSV; upload a CSV or XLSX file"
            raise refuse(msg, "unsupported_file_type")
        if _looks_binary(sample):
            msg = "the file holds binary data, not CSV text; upload a CSV or XLSX file"
            raise refuse(msg, "unsupported_file_type")
        return detect_delimiter(sample)

    @contextmanager
    def _records(self) -> Iterator[Iterator[tuple[int, list[str]]]]:
        with self._file.open() as raw, io.TextIOWrapper(raw, self.encoding, newline="") as text:
            reader = csv.reader(
                text,
                delimiter=self.delimiter,
                quotechar='"',
                doublequote=True,
                skipinitialspace=True,
            )
            yield self._numbered(reader)

    @staticmethod
    def _numbered(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
        number = 0
        try:
            for number, record in enumerate(reader, start=1):
                yield number, record
        except csv.Error as exc:
            limit = csv.field_size_limit()
            if "field limit" in str(exc):
                msg = (
                    f"row {number + 1} has a cell longer than {limit:,} characters, the most"
                    " a CSV cell may hold; a quote that is never closed makes the rest of the"
                    " file one cell"
                )
                raise refuse(msg, "cell_too_large") from exc
            msg = f"row {number + 1} cannot be read: {exc}"
            raise refuse(msg, "unreadable_file") from exc
        except UnicodeDecodeError as exc:
            msg = f"row {number + 1} cannot be read: {exc}"
            raise refuse(msg, "unreadable_file") from exc

    def _check_records(self) -> None:
        """Parse every record once, so that a file the reader would stop on is refused now."""
        with self._records() as records:
            for _ in records:
                pass

    def _read_header(self) -> tuple[str, ...]:
        with self._records() as records:
            first = next(records, None)
            if first is not None and any(cell.strip() for cell in first[1]):
                return unique_header(first[1])
            if first is not None and any(any(c.strip() for c in cells) for _, cells in records):
                msg = "the first row, the header, is empty; put the column names in row 1"
                raise refuse(msg, "no_header")
        msg = "the file holds no rows"
        raise refuse(msg, "empty_file")

    def rows(self, *, skip: int = 0) -> Iterator[SourceRow]:
        """Stream the data rows in file order, skipping the first ``skip`` of them.

        Args:
            skip: how many (non-empty) data rows to pass over first.

        Raises:
            ValidationError: ``file_changed`` when the file on disk changed
                since it was opened (a file whose cells the reader refuses,
                ``cell_too_large``, was refused when it was opened).
        """
        width = len(self.header)
        padding = ("",) * width
        with self._records() as records:
            for number, cells in records:
                if number == 1:
                    continue
                values = tuple(map(str.strip, cells[:width]))
                if not any(values):
                    continue
                if skip > 0:
                    skip -= 1
                    continue
                yield SourceRow(number, values + padding[len(values) :])
