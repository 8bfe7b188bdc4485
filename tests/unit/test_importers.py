"""The import readers: files checked before any row is read, then streamed as rows of text."""

from __future__ import annotations

import codecs
import gc
import hashlib
import io
import tracemalloc
import zipfile
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import cast

import openpyxl
import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from bookingcore.domain.imports import SourceRow, cell_name
from bookingcore.errors import ValidationError
from bookingcore.ports.imports import RowSource
from bookingcore_adapters.importers import (
    CsvSource,
    FileLimits,
    XlsxReader,
    XlsxSource,
    cell_text,
    open_rows,
)

READERS: list[XlsxReader] = ["openpyxl", "calamine"]


def naive(iso: str) -> datetime:
    """A datetime without a time zone, as spreadsheets hold them."""
    return datetime.fromisoformat(iso)


def refusal(excinfo: pytest.ExceptionInfo[ValidationError]) -> tuple[str, str]:
    """The field and code of a refusal."""
    (error,) = excinfo.value.errors
    return error.field, error.code


def rows_of(source: RowSource, **kwargs: int) -> list[tuple[int, tuple[str, ...]]]:
    return [(row.number, row.values) for row in source.rows(**kwargs)]


def xlsx_bytes(
    rows: Sequence[Sequence[object]],
    *,
    title: str = "Bookings",
    build: Callable[[openpyxl.Workbook], None] | None = None,
) -> bytes:
    """A workbook whose first sheet holds ``rows`` from A1 (``None`` leaves a cell empty)."""
    workbook = openpyxl.Workbook()
    worksheet = workbook.active
    assert worksheet is not None
    worksheet.title = title
    for row in rows:
        worksheet.append(list(row))
    if build is not None:
        build(workbook)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def rezip(data: bytes, changes: dict[str, bytes]) -> bytes:
    """``data`` (a ZIP) with some members' bytes replaced or added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename not in changes:
                target.writestr(info, source.read(info), zipfile.ZIP_DEFLATED)
        for name, content in changes.items():
            target.writestr(name, content, zipfile.ZIP_DEFLATED)
    return out.getvalue()


class TestFileLimits:
    def test_the_defaults_are_ten_mib_a_hundred_mib_inflated_ratio_100_and_1000_members(
        self,
    ) -> None:
        limits = FileLimits()
        assert limits.max_bytes == 10 * 1024 * 1024
        assert limits.max_uncompressed_bytes == 100 * 1024 * 1024
        assert limits.max_compression_ratio == 100
        assert limits.max_archive_members == 1000

    def test_a_limit_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match="max_bytes must be positive"):
            FileLimits(max_bytes=0)


class TestFileChecks:
    def test_a_file_over_the_size_limit_is_refused_unread(self, tmp_path: Path) -> None:
        path = tmp_path / "big.csv"
        path.write_bytes(b"name\n" + b"x\n" * 100)
        with pytest.raises(ValidationError) as excinfo:
            open_rows(path, limits=FileLimits(max_bytes=100))
        assert refusal(excinfo) == ("file", "file_too_large")
        assert "limit is 100 bytes" in excinfo.value.message

    def test_bytes_over_the_size_limit_are_refused(self) -> None:
        with pytest.raises(ValidationError) as excinfo:
            open_rows(b"name\n" + b"x\n" * 100, limits=FileLimits(max_bytes=100))
        assert refusal(excinfo) == ("file", "file_too_large")

    def test_a_file_of_exactly_the_limit_is_accepted(self) -> None:
        data = b"name\n" + b"x\n" * 10
        assert open_rows(data, limits=FileLimits(max_bytes=len(data))).size == len(data)

    def test_an_empty_file_is_refused(self) -> None:
        with pytest.raises(ValidationError) as excinfo:
            open_rows(b"")
        assert refusal(excinfo) == ("file", "empty_file")

    @pytest.mark.parametrize("data", [b"\xef\xbb\xbf", b"\n\n\r\n", b",,,\n , ,\n"])
    def test_a_file_without_any_cell_is_empty(self, data: bytes) -> None:
        with pytest.raises(ValidationError) as excinfo:
            open_rows(data)
        assert refusal(excinfo) == ("file", "empty_file")

    def test_a_file_whose_first_row_is_blank_has_no_header(self) -> None:
        with pytest.raises(ValidationError) as excinfo:
            open_rows(b"\nname,phone\nAnn,+1\n")
        assert refusal(excinfo) == ("file", "no_header")

    def test_a_missing_path_is_unreadable(self, tmp_path: Path) -> None:
        with pytest.raises(ValidationError) as excinfo:
            open_rows(tmp_path / "nowhere.csv")
        assert refusal(excinfo) == ("file", "unreadable_file")

    def test_digest_and_size_are_those_of_the_bytes(self, tmp_path: Path) -> None:
        data = b"name,phone\n" + b"Ann,+1\n" * 50_000  # several read blocks
        path = tmp_path / "bookings.csv"
        path.write_bytes(data)
        source = open_rows(path)
        assert source.digest == hashlib.sha256(data).hexdigest()
        assert source.size == len(data)
        assert source.filename == "bookings.csv"

    def test_filename_is_the_given_name_or_upload_for_bytes(self) -> None:
        assert open_rows(b"name\nAnn\n").filename == "upload"
        assert open_rows(b"name\nAnn\n", filename="march.csv").filename == "march.csv"

    def test_a_file_changed_after_opening_is_not_read(self, tmp_path: Path) -> None:
        path = tmp_path / "bookings.csv"
        path.write_bytes(b"name\nAnn\n")
        source = open_rows(path)
        path.write_bytes(b"name\nAnn\nBob\n")
        with pytest.raises(ValidationError) as excinfo:
            list(source.rows())
        assert refusal(excinfo) == ("file", "file_changed")

    def test_an_unknown_reader_is_a_programming_error(self) -> None:
        with pytest.raises(ValueError, match="reader must be one of"):
            open_rows(b"name\nAnn\n", reader="xlrd")  # type: ignore[arg-type]


class TestTypeByContent:
    def test_a_workbook_named_csv_is_read_as_xlsx(self, tmp_path: Path) -> None:
        path = tmp_path / "bookings.csv"
        path.write_bytes(xlsx_bytes([["name"], ["Ann"]]))
        source = open_rows(path, reader="openpyxl")
        assert isinstance(source, XlsxSource)
        assert source.file_format == "xlsx"
        assert rows_of(source) == [(2, ("Ann",))]

    def test_a_workbook_named_csv_is_read_by_calamine_too(self, tmp_path: Path) -> None:
        path = tmp_path / "bookings.csv"
        path.write_bytes(xlsx_bytes([["name"], ["Ann"]]))
        assert rows_of(open_rows(path, reader="calamine")) == [(2, ("Ann",))]

    def test_text_named_xlsx_is_read_as_csv(self, tmp_path: Path) -> None:
        path = tmp_path / "bookings.xlsx"
        path.write_bytes(b"name;phone\nAnn;+1\n")
        source = open_rows(path)
        assert isinstance(source, CsvSource)
        assert source.file_format == "csv"

    @pytest.mark.parametrize(
        ("data", "what"),
        [
            (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01", "PNG"),
            (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n", "PDF"),
            (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, ".xls"),
            (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
            (b"name,phone\nAnn\x00\x00,+1\n", "NUL"),
            (b"<html><body><table><tr><td>Ann</td></tr></table></body></html>", "HTML"),
            (bytes(range(1, 32)) * 20, "binary"),
        ],
    )
    def test_a_non_tabular_file_named_csv_is_refused(
        self, tmp_path: Path, data: bytes, what: str
    ) -> None:
        path = tmp_path / "bookings.csv"
        path.write_bytes(data)
        with pytest.raises(ValidationError) as excinfo:
            open_rows(path)
        assert refusal(excinfo) == ("file", "unsupported_file_type")
        assert "upload a CSV or XLSX file" in excinfo.value.message

    def test_a_zip_that_is_not_a_workbook_is_refused(self) -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("word/document.xml", "<document/>")
        with pytest.raises(ValidationError) as excinfo:
            open_rows(buffer.getvalue())
        assert refusal(excinfo) == ("file", "unsupported_file_type")

    def test_a_damaged_zip_is_unreadable(self) -> None:
        with pytest.raises(ValidationError) as excinfo:
            open_rows(b"PK\x03\x04" + b"garbage" * 100)
        assert refusal(excinfo) == ("file", "unreadable_file")


class TestArchiveSafety:
    def test_a_zip_bomb_member_is_refused_for_its_ratio(self, tmp_path: Path) -> None:
        path = tmp_path / "bomb.xlsx"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("xl/workbook.xml", "<workbook/>")
            with archive.open("xl/worksheets/sheet1.xml", "w") as member:
                block = b"\x00" * (1024 * 1024)
                for _ in range(50):  # 50 MiB of zeros, about 50 KiB compressed
                    member.write(block)
        assert path.stat().st_size < 200 * 1024
        with pytest.raises(ValidationError) as excinfo:
            open_rows(path, limits=FileLimits(max_uncompressed_bytes=60 * 1024 * 1024))
        assert refusal(excinfo) == ("file", "zip_bomb")
        assert "compressed" in excinfo.value.message

    def test_an_archive_inflating_past_the_limit_is_refused(self) -> None:
        data = xlsx_bytes([["name"], ["Ann"]])
        with pytest.raises(ValidationError) as excinfo:
            open_rows(data, limits=FileLimits(max_uncompressed_bytes=1000))
        assert refusal(excinfo) == ("file", "zip_bomb")
        assert "inflates to" in excinfo.value.message

    def test_an_archive_with_too_many_members_is_refused(self) -> None:
        data = xlsx_bytes([["name"], ["Ann"]])
        with pytest.raises(ValidationError) as excinfo:
            open_rows(data, limits=FileLimits(max_archive_members=3))
        assert refusal(excinfo) == ("file", "zip_bomb")
        assert "members" in excinfo.value.message

    XXE = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&xxe;</t></is></c></row>'
        b"</sheetData></worksheet>"
    )

    @pytest.mark.parametrize("reader", READERS)
    def test_a_sheet_declaring_an_external_entity_is_refused(self, reader: XlsxReader) -> None:
        data = rezip(xlsx_bytes([["name"]]), {"xl/worksheets/sheet1.xml": self.XXE})
        with pytest.raises(ValidationError) as excinfo:
            open_rows(data, reader=reader)
        assert refusal(excinfo) == ("file", "unsafe_xml")
        assert "xl/worksheets/sheet1.xml" in excinfo.value.message

    def test_a_doctype_hidden_behind_a_long_comment_is_still_found(self) -> None:
        padded = self.XXE.replace(b"?>\n", b"?>\n<!--" + b" padding" * 2000 + b"-->", 1)
        data = rezip(xlsx_bytes([["name"]]), {"xl/worksheets/sheet1.xml": padded})
        with pytest.raises(ValidationError) as excinfo:
            open_rows(data)
        assert refusal(excinfo) == ("file", "unsafe_xml")

    def test_a_doctype_in_a_utf16_part_is_found(self) -> None:
        utf16 = codecs.BOM_UTF16_LE + self.XXE.decode().replace("UTF-8", "UTF-16").encode(
            "utf-16-le"
        )
        data = rezip(xlsx_bytes([["name"]]), {"xl/sharedStrings.xml": utf16})
        with pytest.raises(ValidationError) as excinfo:
            open_rows(data)
        assert refusal(excinfo) == ("file", "unsafe_xml")

    def test_a_doctype_in_any_part_is_refused(self) -> None:
        rels = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><Relationships/>'
        data = rezip(xlsx_bytes([["name"]]), {"_rels/.rels": rels})
        with pytest.raises(ValidationError) as excinfo:
            open_rows(data)
        assert refusal(excinfo) == ("file", "unsafe_xml")


class TestCsvEncodings:
    @pytest.mark.parametrize(
        ("encoded", "encoding"),
        [
            ("name,price\nZoë,5 €\n".encode("utf-8-sig"), "utf-8-sig"),
            ("name,price\nZoë,5 €\n".encode(), "utf-8"),
            ("name,price\nZoë,5 €\n".encode("utf-16"), "utf-16"),
            (codecs.BOM_UTF16_BE + "name,price\nZoë,5 €\n".encode("utf-16-be"), "utf-16"),
            ("name,price\nZoë,5 €\n".encode("cp1252"), "cp1252"),
        ],
    )
    def test_the_encoding_is_detected_and_the_bom_stripped(
        self, encoded: bytes, encoding: str
    ) -> None:
        source = open_rows(encoded)
        assert isinstance(source, CsvSource)
        assert source.encoding == encoding
        assert source.header == ("name", "price")
        assert rows_of(source) == [(2, ("Zoë", "5 €"))]

    def test_bytes_windows_1252_leaves_undefined_fall_back_to_latin_1(self) -> None:
        source = open_rows(b"name\nZo\xeb\x81\n")
        assert isinstance(source, CsvSource)
        assert source.encoding == "latin-1"
        assert rows_of(source) == [(2, ("Zoë\x81",))]

    def test_one_invalid_utf8_byte_late_in_the_file_switches_to_cp1252(self) -> None:
        data = b"name\n" + b"Ann\n" * 30_000 + "Zoë\n".encode("cp1252")
        source = open_rows(data)
        assert isinstance(source, CsvSource)
        assert source.encoding == "cp1252"
        assert list(source.rows())[-1].values == ("Zoë",)

    def test_a_utf8_bom_on_invalid_utf8_is_unreadable(self) -> None:
        with pytest.raises(ValidationError) as excinfo:
            open_rows(codecs.BOM_UTF8 + b"name\nZo\xeb\n")
        assert refusal(excinfo) == ("file", "unreadable_file")


class TestCsvDelimiters:
    @pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
    def test_the_delimiter_is_detected(self, delimiter: str) -> None:
        text = delimiter.join(["name", "phone", "seats"]) + "\n"
        text += delimiter.join(["Ann", "+44 20 7946 0958", "2"]) + "\n"
        text += delimiter.join(["Bob", "+1 202 555 0143", "3"]) + "\n"
        source = open_rows(text.encode())
        assert isinstance(source, CsvSource)
        assert source.delimiter == delimiter
        assert rows_of(source)[1] == (3, ("Bob", "+1 202 555 0143", "3"))

    def test_semicolons_win_over_decimal_commas(self) -> None:
        source = open_rows(b"name;price;deposit\nAnn;1,5;0,5\nBob;2,5;1,0\n")
        assert rows_of(source) == [(2, ("Ann", "1,5", "0,5")), (3, ("Bob", "2,5", "1,0"))]

    def test_a_single_column_file_falls_back_to_commas(self) -> None:
        source = open_rows(b"name\nAnn\nBob\n")
        assert isinstance(source, CsvSource)
        assert source.delimiter == ","
        assert source.header == ("name",)

    def test_a_header_only_file_is_split_on_its_delimiter(self) -> None:
        source = open_rows(b"name;phone;email\n")
        assert source.header == ("name", "phone", "email")
        assert rows_of(source) == []


class TestCsvRows:
    def test_quoted_newlines_stay_in_one_cell_and_one_row_number(self) -> None:
        data = b'name,notes\nAnn,"line one\nline two"\nBob,"a ""quoted"", word"\n'
        assert rows_of(open_rows(data)) == [
            (2, ("Ann", "line one\nline two")),
            (3, ("Bob", 'a "quoted", word')),
        ]

    def test_blank_rows_are_skipped_but_counted(self) -> None:
        data = b"name,phone\r\nAnn,+1\r\n\r\n,\r\n  ,  \r\nBob,+2\r\n"
        assert rows_of(open_rows(data)) == [(2, ("Ann", "+1")), (6, ("Bob", "+2"))]

    def test_values_are_stripped_padded_and_cut_to_the_header(self) -> None:
        data = b"name,phone,email\n  Ann  , +1 \nBob,+2,b@example.com,extra,more\n"
        assert rows_of(open_rows(data)) == [
            (2, ("Ann", "+1", "")),
            (3, ("Bob", "+2", "b@example.com")),  # cells past the header are dropped
        ]

    def test_blank_and_repeated_header_names_are_made_unique(self) -> None:
        source = open_rows(b"name,,phone,phone, name ,phone_2,,\nAnn,x,+1,+2,A,+3\n")
        assert source.header == ("name", "column_2", "phone", "phone_3", "name_2", "phone_2")
        assert rows_of(source) == [(2, ("Ann", "x", "+1", "+2", "A", "+3"))]

    def test_rows_skip_passes_over_the_first_data_rows(self) -> None:
        data = b"name\nAnn\n\nBob\nCid\nDee\n"
        source = open_rows(data)
        assert rows_of(source, skip=2) == [(5, ("Cid",)), (6, ("Dee",))]
        assert rows_of(source, skip=10) == []
        assert [row.number for row in source.rows()] == [2, 4, 5, 6]  # read again from the start

    def test_a_path_is_read_again_on_each_call(self, tmp_path: Path) -> None:
        path = tmp_path / "bookings.csv"
        path.write_bytes(b"name\nAnn\nBob\n")
        source = open_rows(path)
        assert (
            list(source.rows())
            == list(source.rows())
            == [
                SourceRow(2, ("Ann",)),
                SourceRow(3, ("Bob",)),
            ]
        )

    def test_csv_rows_have_no_cell_names(self) -> None:
        assert open_rows(b"name\nAnn\n").has_cells is False

    def test_abandoning_the_row_stream_closes_the_file(self, tmp_path: Path) -> None:
        path = tmp_path / "bookings.csv"
        path.write_bytes(b"name\nAnn\nBob\n")
        rows = open_rows(path).rows()
        assert next(rows).values == ("Ann",)
        del rows
        gc.collect()  # a leaked file would raise ResourceWarning, an error here

    def test_a_cell_past_the_csv_size_limit_refuses_the_file_when_it_is_opened(self) -> None:
        data = b"name,notes\nAnn,ok\nBen," + b"x" * 200_000 + b"\nCid,ok\n"
        with pytest.raises(ValidationError) as excinfo:
            open_rows(data)  # before any row is read for an import
        assert refusal(excinfo) == ("file", "cell_too_large")
        assert "row 3" in excinfo.value.message
        assert "131,072" in excinfo.value.message

    def test_a_quote_never_closed_refuses_the_file_when_it_is_opened(self) -> None:
        data = b'name,notes\nAnn,"never closed\n' + b"Ben,ok\n" * 20_000
        with pytest.raises(ValidationError) as excinfo:
            open_rows(data)
        assert refusal(excinfo) == ("file", "cell_too_large")
        assert "row 2" in excinfo.value.message

    def test_a_cell_just_under_the_limit_is_read_whole(self) -> None:
        source = open_rows(b"name,notes\nAnn," + b"x" * 131_072 + b"\n")
        assert [len(row.values[1]) for row in source.rows()] == [131_072]

    @pytest.mark.slow
    def test_memory_stays_flat_however_long_the_file(self, tmp_path: Path) -> None:
        path = tmp_path / "large.csv"
        line = (
            "Customer {0:06d},+44 20 7946 {0:06d},customer{0}@example.com,"
            "TREK-EVEREST,2026-03-05,{1}\n"
        )
        notes = "n" * 40
        with path.open("w", encoding="utf-8") as out:
            out.write(
                "customer_name,customer_phone,customer_email,dealer_code,booking_date,notes\n"
            )
            out.writelines(line.format(number, notes) for number in range(200_000))
        size = path.stat().st_size
        assert size > 20 * 1024 * 1024

        tracemalloc.start()
        try:
            source = open_rows(path, limits=FileLimits(max_bytes=64 * 1024 * 1024))
            count = sum(1 for _ in source.rows())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert count == 200_000
        assert peak < 5 * 1024 * 1024, f"peak {peak:,} bytes for a {size:,} byte file"


class TestCellText:
    @pytest.mark.parametrize(
        ("value", "text"),
        [
            (None, ""),
            ("  Ann ", "Ann"),
            ("#N/A", ""),
            (True, "true"),
            (False, "false"),
            (naive("2026-03-05T10:30"), "2026-03-05T10:30:00"),
            (naive("2026-03-05"), "2026-03-05"),
            (datetime(2026, 3, 5, tzinfo=UTC), "2026-03-05T00:00:00+00:00"),
            (date(2026, 3, 5), "2026-03-05"),
            (time(10, 30), "10:30:00"),
            (timedelta(hours=30, minutes=5), "30:05:00"),
            (9876543210.0, "9876543210"),
            (9876543210, "9876543210"),
            (447946095800.0, "447946095800"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (1e-05, "0.00001"),
            (1e20, "100000000000000000000"),
            (12345678901234567890, "12345678901234567000"),
            (-0.0, "0"),
            (-3.0, "-3"),
        ],
    )
    def test_a_cell_value_becomes_text(self, value: object, text: str) -> None:
        assert cell_text(value) == text


def _rich_workbook(workbook: openpyxl.Workbook) -> None:
    """Add what both readers must read alike: gaps, errors, a hidden first sheet."""
    hidden = workbook.create_sheet("Lookup", 0)
    hidden["A1"] = "not this one"
    hidden.sheet_state = "hidden"
    other = workbook.create_sheet("Walk-ins")
    other.append(["name", "seats"])
    other.append(["Eve", 4])
    bookings = workbook["Bookings"]
    bookings["A9"] = "late row"
    bookings["E9"] = "#N/A"  # stored as an error value
    bookings["B10"] = 12345678901234567890


RICH_ROWS: list[list[object]] = [
    ["name", "booked_at", "phone", "paid", None, "name", "seats"],
    ["Zoë", naive("2026-03-05T10:30"), 9876543210.0, True, None, "dup", 2],
    [],
    ["  Bob  ", naive("2026-03-06"), 447946095800, False, "extra", "", 1.5],
    [None, date(2026, 3, 7), None, None, None, None, None],
    ["Cid", time(9, 15), 0.1, None, None, None, timedelta(hours=1, minutes=30)],
]


class TestXlsx:
    @pytest.fixture(params=READERS)
    def reader(self, request: pytest.FixtureRequest) -> XlsxReader:
        return cast("XlsxReader", request.param)

    def test_cells_become_text_at_their_sheet_row_numbers(self, reader: XlsxReader) -> None:
        source = open_rows(xlsx_bytes(RICH_ROWS, build=_rich_workbook), reader=reader)
        assert isinstance(source, XlsxSource)
        assert source.reader == reader
        assert source.sheet_name == "Bookings"  # the hidden first sheet is passed over
        assert source.has_cells is True
        assert source.header == (
            "name", "booked_at", "phone", "paid", "column_5", "name_2", "seats",
        )  # fmt: skip
        assert rows_of(source) == [
            (2, ("Zoë", "2026-03-05T10:30:00", "9876543210", "true", "", "dup", "2")),
            (4, ("Bob", "2026-03-06", "447946095800", "false", "extra", "", "1.5")),
            (5, ("", "2026-03-07", "", "", "", "", "")),
            (6, ("Cid", "09:15:00", "0.1", "", "", "", "1:30:00")),
            (9, ("late row", "", "", "", "", "", "")),
            (10, ("", "12345678901234570000", "", "", "", "", "")),  # as openpyxl wrote it
        ]

    def test_cell_names_point_at_the_sheet_cells(self, reader: XlsxReader) -> None:
        source = open_rows(xlsx_bytes(RICH_ROWS), reader=reader)
        bob = next(row for row in source.rows() if row.values[0] == "Bob")
        phone = source.header.index("phone")
        assert cell_name(phone, bob.number) == "C4"
        assert bob.values[phone] == "447946095800"

    def test_a_sheet_is_chosen_by_name(self, reader: XlsxReader) -> None:
        data = xlsx_bytes(RICH_ROWS, build=_rich_workbook)
        source = open_rows(data, reader=reader, sheet="Walk-ins")
        assert isinstance(source, XlsxSource)
        assert source.sheet_name == "Walk-ins"
        assert rows_of(source) == [(2, ("Eve", "4"))]

    def test_an_unknown_sheet_is_refused_with_the_sheet_names(self, reader: XlsxReader) -> None:
        with pytest.raises(ValidationError) as excinfo:
            open_rows(xlsx_bytes(RICH_ROWS), reader=reader, sheet="March")
        assert refusal(excinfo) == ("sheet", "unknown_sheet")
        assert "'Bookings'" in excinfo.value.message

    def test_data_in_a_later_column_keeps_its_column(self, reader: XlsxReader) -> None:
        def move_right(workbook: openpyxl.Workbook) -> None:
            sheet = workbook["Bookings"]
            sheet.move_range("A1:B3", cols=2)

        data = xlsx_bytes([["name", "phone"], ["Ann", "+1"], ["Bob", "+2"]], build=move_right)
        source = open_rows(data, reader=reader)
        assert source.header == ("column_1", "column_2", "name", "phone")
        rows = list(source.rows())
        assert rows[1] == SourceRow(3, ("", "", "Bob", "+2"))
        assert cell_name(source.header.index("phone"), rows[1].number) == "D3"

    def test_a_blank_first_row_means_no_header(self, reader: XlsxReader) -> None:
        data = xlsx_bytes([[], [], ["name"], ["Ann"]])
        with pytest.raises(ValidationError) as excinfo:
            open_rows(data, reader=reader)
        assert refusal(excinfo) == ("file", "no_header")

    def test_an_empty_sheet_is_an_empty_file(self, reader: XlsxReader) -> None:
        with pytest.raises(ValidationError) as excinfo:
            open_rows(xlsx_bytes([]), reader=reader)
        assert refusal(excinfo) == ("file", "empty_file")

    def test_rows_skip_and_rereading_work(self, reader: XlsxReader, tmp_path: Path) -> None:
        path = tmp_path / "bookings.xlsx"
        path.write_bytes(xlsx_bytes(RICH_ROWS))
        source = open_rows(path, reader=reader)
        assert [row.number for row in source.rows(skip=2)] == [5, 6]
        assert [row.number for row in source.rows()] == [2, 4, 5, 6]
        assert source.digest == hashlib.sha256(path.read_bytes()).hexdigest()

    def test_abandoning_the_row_stream_closes_the_workbook(
        self, reader: XlsxReader, tmp_path: Path
    ) -> None:
        path = tmp_path / "bookings.xlsx"
        path.write_bytes(xlsx_bytes(RICH_ROWS))
        rows = open_rows(path, reader=reader).rows()
        assert next(rows).number == 2
        del rows
        gc.collect()

    def test_a_damaged_sheet_is_unreadable(self, reader: XlsxReader) -> None:
        broken = b'<?xml version="1.0"?><worksheet><sheetData><row r="1"><c r="A1"'
        data = rezip(xlsx_bytes([["name"]]), {"xl/worksheets/sheet1.xml": broken})
        with pytest.raises(ValidationError) as excinfo:
            open_rows(data, reader=reader)
        assert refusal(excinfo) == ("file", "unreadable_file")


def test_both_xlsx_readers_agree_on_every_sheet() -> None:
    data = xlsx_bytes(RICH_ROWS, build=_rich_workbook)
    for sheet in ("Bookings", "Walk-ins", "Lookup"):
        by_openpyxl = open_rows(data, reader="openpyxl", sheet=sheet)
        by_calamine = open_rows(data, reader="calamine", sheet=sheet)
        assert by_openpyxl.header == by_calamine.header
        assert list(by_openpyxl.rows()) == list(by_calamine.rows())
        assert by_openpyxl.digest == by_calamine.digest


def test_both_xlsx_readers_read_a_long_integer_as_the_float_a_spreadsheet_keeps() -> None:
    sheet = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>ref</t></is></c></row>'
        b'<row r="2"><c r="A2"><v>12345678901234567890</v></c></row></sheetData></worksheet>'
    )
    data = rezip(xlsx_bytes([["ref"]]), {"xl/worksheets/sheet1.xml": sheet})
    for reader in ("openpyxl", "calamine"):
        rows = list(open_rows(data, reader=reader).rows())
        assert rows == [SourceRow(2, ("12345678901234567000",))]


def test_both_xlsx_readers_read_dates_of_the_1904_calendar() -> None:
    def mac_calendar(workbook: openpyxl.Workbook) -> None:
        workbook.epoch = CALENDAR_MAC_1904

    data = xlsx_bytes(
        [["when"], [naive("2026-03-05T10:30")], [date(2026, 3, 5)]], build=mac_calendar
    )
    for reader in READERS:
        rows = list(open_rows(data, reader=reader).rows())
        assert [row.values for row in rows] == [("2026-03-05T10:30:00",), ("2026-03-05",)]


def test_auto_picks_calamine_when_it_is_installed() -> None:
    source = open_rows(xlsx_bytes([["name"], ["Ann"]]))
    assert isinstance(source, XlsxSource)
    assert source.reader == "calamine"
