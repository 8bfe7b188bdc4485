"""The python-calamine XLSX reader (the ``calamine`` extra): faster, same rows as openpyxl.

calamine parses the whole worksheet in Rust before the first row comes out, so
its memory grows with the sheet (bounded by ``FileLimits.max_uncompressed_bytes``);
rows are still handed to Python one at a time. Cell values go through the same
:func:`~bookingcore_adapters.importers._xlsx.cell_text` as openpyxl's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from python_calamine import (
    CalamineSheet,
    CalamineWorkbook,
    SheetTypeEnum,
    SheetVisibleEnum,
)

from bookingcore.errors import ValidationError
from bookingcore_adapters.importers._files import SourceFile, refuse
from bookingcore_adapters.importers._xlsx import (
    NumberedRows,
    SheetReader,
    unknown_sheet,
    unreadable,
)

__all__ = ["CALAMINE"]


class _CalamineReader:
    name = "calamine"

    @contextmanager
    def open_sheet(
        self, file: SourceFile, sheet: str | None, width: int | None
    ) -> Iterator[tuple[str, NumberedRows]]:
        with file.open() as stream:
            try:
                workbook = CalamineWorkbook.from_filelike(stream)
            except Exception as exc:
                raise unreadable(exc) from exc
            try:
                name = self._pick(workbook, sheet)
                try:
                    worksheet = workbook.get_sheet_by_name(name)
                except Exception as exc:
                    raise unreadable(exc) from exc
                rows = self._rows(worksheet, width)
                try:
                    yield name, rows
                finally:
                    rows.close()
            finally:
                workbook.close()

    @staticmethod
    def _pick(workbook: CalamineWorkbook, sheet: str | None) -> str:
        worksheets = [
            meta for meta in workbook.sheets_metadata if meta.typ == SheetTypeEnum.WorkSheet
        ]
        if sheet is None:
            if not worksheets:
                msg = "the workbook has no worksheets"
                raise refuse(msg, "empty_file")
            visible = [meta for meta in worksheets if meta.visible == SheetVisibleEnum.Visible]
            return (visible or worksheets)[0].name
        if any(meta.name == sheet for meta in worksheets):
            return sheet
        raise unknown_sheet(sheet, [meta.name for meta in worksheets])

    @staticmethod
    def _rows(worksheet: CalamineSheet, width: int | None) -> NumberedRows:
        try:
            # Rows come from the sheet's row 1, but cells from its first used
            # column: put back the empty columns on the left.
            start = worksheet.start
            left: list[object] = [""] * (start[1] if start else 0)
            for number, cells in enumerate(worksheet.iter_rows(), start=1):
                row = left + list(cells)
                if width is not None:
                    row = row[:width] + [""] * (width - len(row))
                yield number, row
        except ValidationError:
            raise
        except Exception as exc:
            raise unreadable(exc) from exc


#: The python-calamine reader.
CALAMINE: Final[SheetReader] = _CalamineReader()
