"""Import error reports: a formula-safe CSV of the failed rows and a marked-up XLSX copy."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import openpyxl
import pytest

from bookingcore.domain.imports import CellProblem, ImportRowError
from bookingcore_adapters.importers import (
    REPORT_COLUMNS,
    defuse_formula,
    open_rows,
    write_error_csv,
    write_error_xlsx,
)

JOB = uuid4()
NOW = datetime(2026, 3, 5, 10, 30, tzinfo=UTC)


def failed_row(number: int, raw_row: Mapping[str, str], *problems: CellProblem) -> ImportRowError:
    return ImportRowError(
        id=uuid4(),
        job_id=JOB,
        row_number=number,
        raw_row=raw_row,
        problems=problems,
        created_at=NOW,
    )


def read_report(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as report:
        return list(csv.reader(report))


class TestDefuseFormula:
    @pytest.mark.parametrize(
        ("text", "safe"),
        [
            ("=1+1", "'=1+1"),
            ("+SUM(A1:A9)", "'+SUM(A1:A9)"),
            ("-2", "'-2"),
            ("@x", "'@x"),
            ("\tcmd", "'\tcmd"),
            ("\r=1", "'\r=1"),
            ("Ann", "Ann"),
            ("a=b", "a=b"),
            ("", ""),
        ],
    )
    def test_text_that_could_start_a_formula_gets_a_quote(self, text: str, safe: str) -> None:
        assert defuse_formula(text) == safe


class TestErrorCsv:
    HEADER = ("customer_name", "customer_phone", "notes")

    def test_the_report_holds_the_original_columns_then_where_and_why(self, tmp_path: Path) -> None:
        errors = [
            failed_row(
                3,
                {"customer_name": "Ann", "customer_phone": "12345", "notes": "window seat"},
                CellProblem("not a valid phone number", "invalid_phone", "customer_phone"),
            ),
            failed_row(
                7,
                {"customer_name": "", "customer_phone": "+44 20 7946 0958"},
                CellProblem("required", "required", "customer_name", "A7"),
                CellProblem("duplicate booking", "duplicate"),
            ),
        ]
        path = tmp_path / "errors.csv"
        assert write_error_csv(errors, self.HEADER, path) == 2
        assert read_report(path) == [
            [*self.HEADER, *REPORT_COLUMNS],
            [
                "Ann",
                "12345",
                "window seat",
                "3",
                "customer_phone",
                "",
                "customer_phone: not a valid phone number",
            ],
            [
                "",
                "'+44 20 7946 0958",
                "",
                "7",
                "customer_name",
                "A7",
                "A7 customer_name: required; duplicate booking",
            ],
        ]

    def test_formula_cells_are_escaped_everywhere(self, tmp_path: Path) -> None:
        header = ("=name", "phone")
        errors = [
            failed_row(
                2,
                {"=name": "=1+1", "phone": "+SUM(A1:A9)"},
                CellProblem("-2 seats", "invalid", "phone", value="@x"),
            ),
            failed_row(3, {"=name": "@cmd", "phone": "-2"}, CellProblem("=HYPERLINK()", "x")),
        ]
        path = tmp_path / "errors.csv"
        write_error_csv(errors, header, path)
        lines = read_report(path)
        assert lines[0][0] == "'=name"
        assert lines[1][:2] == ["'=1+1", "'+SUM(A1:A9)"]
        assert lines[1][-1] == "phone '@x': -2 seats"
        assert lines[2][:2] == ["'@cmd", "'-2"]
        assert lines[2][-1] == "'=HYPERLINK()"
        for line in lines:
            for cell in line:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))

    def test_it_round_trips_through_csv_with_newlines_and_quotes(self, tmp_path: Path) -> None:
        raw = {"customer_name": 'Zoë "Z" Åberg', "customer_phone": "0044 1", "notes": "a,\nb"}
        path = tmp_path / "errors.csv"
        write_error_csv([failed_row(4, raw, CellProblem("bad", "x", "notes"))], self.HEADER, path)
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
        rows = read_report(path)
        assert dict(zip(self.HEADER, rows[1], strict=False)) == raw

    def test_report_columns_the_file_already_has_are_prefixed(self, tmp_path: Path) -> None:
        header = ("row", "message", "error_row")
        path = tmp_path / "errors.csv"
        write_error_csv([failed_row(2, {"row": "1"}, CellProblem("bad", "x"))], header, path)
        assert read_report(path)[0] == [
            "row",
            "message",
            "error_row",
            "error_error_row",
            "column",
            "cell",
            "error_message",
        ]

    def test_a_text_stream_gets_a_bom_once(self) -> None:
        buffer = io.StringIO()
        assert write_error_csv([failed_row(2, {}, CellProblem("bad", "x"))], ["a"], buffer) == 1
        assert buffer.getvalue().startswith("\ufeffa,row,column,cell,message\r\n")

        raw = io.BytesIO()
        stream = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        write_error_csv([], ["a"], stream)
        stream.flush()
        assert raw.getvalue() == b"\xef\xbb\xbfa,row,column,cell,message\r\n"
        stream.close()

    def test_no_errors_write_just_the_header(self, tmp_path: Path) -> None:
        path = tmp_path / "errors.csv"
        assert write_error_csv(iter(()), self.HEADER, path) == 0
        assert read_report(path) == [[*self.HEADER, *REPORT_COLUMNS]]


def xlsx_file(tmp_path: Path, rows: Sequence[Sequence[object]]) -> Path:
    workbook = openpyxl.Workbook()
    worksheet = workbook.active
    assert worksheet is not None
    worksheet.title = "Bookings"
    for row in rows:
        worksheet.append(list(row))
    path = tmp_path / "bookings.xlsx"
    workbook.save(path)
    return path


def load(path: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(path)


class TestErrorXlsx:
    ROWS: Sequence[Sequence[object]] = (
        ("customer_name", "customer_phone", "seats"),
        ("Ann", "+44 20 7946 0958", 2),
        (),
        ("Bob", 12345, "two"),
        ("Cid", "+1 202 555 0143", 1),
    )

    def errors(self) -> list[ImportRowError]:
        return [
            failed_row(
                4,
                {"customer_name": "Bob", "customer_phone": "12345", "seats": "two"},
                CellProblem("not a valid phone number", "invalid_phone", "customer_phone", "B4"),
                CellProblem("not a number", "invalid", "seats", "C4"),
            ),
            failed_row(5, {"customer_name": "Cid"}, CellProblem("duplicate booking", "duplicate")),
        ]

    def test_bad_cells_are_red_with_the_message_as_a_comment(self, tmp_path: Path) -> None:
        out = tmp_path / "errors.xlsx"
        assert write_error_xlsx(xlsx_file(tmp_path, self.ROWS), self.errors(), out) == 2
        workbook = load(out)
        sheet = workbook["Bookings"]
        assert sheet["B4"].value == "12345"
        assert sheet["B4"].fill.fgColor.rgb == "FFFFC7CE"
        assert sheet["B4"].comment is not None
        assert sheet["B4"].comment.text == "not a valid phone number"
        assert sheet["C4"].comment is not None
        assert sheet["C4"].comment.text == "not a number"
        for good in ("A4", "A2", "B2", "C2", "B5"):
            assert sheet[good].comment is None
            assert sheet[good].fill.fill_type is None
        workbook.close()

    def test_the_errors_column_lists_each_failed_rows_messages(self, tmp_path: Path) -> None:
        out = tmp_path / "errors.xlsx"
        write_error_xlsx(xlsx_file(tmp_path, self.ROWS), self.errors(), out)
        workbook = load(out)
        sheet = workbook["Bookings"]
        assert [cell.value for cell in sheet[1]] == [
            "customer_name",
            "customer_phone",
            "seats",
            "errors",
        ]
        assert sheet["D2"].value is None
        assert sheet["D4"].value == (
            "B4 customer_phone: not a valid phone number; C4 seats: not a number"
        )
        assert sheet["D4"].comment is None  # every problem sits on its own cell
        assert sheet["D5"].value == "duplicate booking"
        assert sheet["D5"].comment is not None
        assert sheet["D5"].comment.text == "duplicate booking"
        workbook.close()

    def test_the_copy_keeps_row_numbers_and_values_as_the_reader_saw_them(
        self, tmp_path: Path
    ) -> None:
        out = tmp_path / "errors.xlsx"
        write_error_xlsx(xlsx_file(tmp_path, self.ROWS), self.errors(), out)
        workbook = load(out)
        sheet = workbook["Bookings"]
        assert [cell.value for cell in sheet[3]] == [None, None, None, None]
        assert sheet["A5"].value == "Cid"
        assert sheet["C2"].value == "2"  # text, as the reader saw it
        assert sheet["C4"].value == "two"
        workbook.close()

    def test_formula_like_values_are_written_as_text(self, tmp_path: Path) -> None:
        source = open_rows(b"name,seats\n=1+1,#N/A\n@SUM(A1),-2\n")
        out = tmp_path / "errors.xlsx"
        write_error_xlsx(source, [], out)
        workbook = load(out)
        sheet = workbook.active
        assert sheet is not None
        for name, text in {"A2": "=1+1", "B2": "#N/A", "A3": "@SUM(A1)", "B3": "-2"}.items():
            assert sheet[name].value == text
            assert sheet[name].data_type == "s"
        workbook.close()

    def test_a_csv_source_is_copied_too(self, tmp_path: Path) -> None:
        path = tmp_path / "bookings.csv"
        path.write_text("name;phone\nAnn;+1\n\nBob;12\n", encoding="utf-8")
        source = open_rows(path)
        errors = [failed_row(4, {"name": "Bob"}, CellProblem("too short", "invalid", "phone"))]
        out = io.BytesIO()
        assert write_error_xlsx(source, errors, out) == 1
        workbook = openpyxl.load_workbook(io.BytesIO(out.getvalue()))
        sheet = workbook.active
        assert sheet is not None
        assert [[cell.value for cell in row] for row in sheet.iter_rows()] == [
            ["name", "phone", "errors"],
            ["Ann", "+1", None],
            [None, None, None],
            ["Bob", "12", "phone '12': too short".replace(" '12'", "")],
        ]
        assert sheet["B4"].comment is not None
        assert sheet["B4"].comment.text == "too short"
        workbook.close()

    def test_a_named_sheet_of_a_file_is_opened(self, tmp_path: Path) -> None:
        path = xlsx_file(tmp_path, self.ROWS)
        workbook = openpyxl.load_workbook(path)
        walk_ins = workbook.create_sheet("Walk-ins")
        walk_ins.append(["name"])
        walk_ins.append(["Eve"])
        workbook.save(path)
        workbook.close()
        out = tmp_path / "errors.xlsx"
        errors = [failed_row(2, {"name": "Eve"}, CellProblem("unknown", "x", "name", "A2"))]
        assert write_error_xlsx(path, errors, out, sheet="Walk-ins") == 1
        report = load(out)
        assert report.sheetnames == ["Walk-ins"]
        assert report["Walk-ins"]["A2"].comment is not None
        report.close()

    def test_errors_of_rows_the_file_lacks_are_left_out(self, tmp_path: Path) -> None:
        out = tmp_path / "errors.xlsx"
        errors = [failed_row(99, {}, CellProblem("gone", "x"))]
        assert write_error_xlsx(xlsx_file(tmp_path, self.ROWS), errors, out) == 0
        workbook = load(out)
        assert workbook["Bookings"].max_row == 5
        workbook.close()
