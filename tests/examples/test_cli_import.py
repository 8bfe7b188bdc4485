"""The CLI's import commands end to end on SQLite: reference data, preview, dry run, run, errors."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from bookingcore import BookingFilter, ImportSettings, PageRequest
from bookingcore_adapters.importers import open_rows
from examples.cli.app import app
from examples.cli.imports import CLI, opened

ROWS = [
    ["customer_name", "Mobile", "customer_email", "dealer_code", "booking_date", "external_id",
     "status", "notes"],
    ["Asha Rao", "+919812345678", "asha@example.com", "DL01", "2026-03-05", "E1", "pending",
     "=HYPERLINK(\"http://evil\")"],
    ["B", "+919812345679", "", "DL01", "05-03-2026", "E2", "", ""],
    ["Ravi Kumar", "12345", "", "DL09", "2026-03-05", "E3", "", ""],
    ["Meera Shah", "+919812345670", "", "DL02", "05-03-2026", "E4", "assigned", ""],
]  # fmt: skip


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "locations.csv").write_text("code,name\nDL01,Dealer One\nDL02,Dealer Two\n")
    with (tmp_path / "bookings.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows(ROWS)
    return tmp_path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_reference_data_then_an_import_with_bad_rows_on_the_default_database(
    workdir: Path,
) -> None:
    assert invoke("locations", "import", "locations.csv") == (
        0,
        "added 2 locations (0 were there already)\n",
    )
    code, out = invoke("locations", "add", "DL03", "Dealer Three")
    assert code == 0
    assert "DL03" in out
    code, out = invoke("advisors", "add", "ravi@example.com", "Ravi", "--location", "DL01")
    assert code == 0
    assert (workdir / "bookingcore.sqlite3").exists()  # the embedded default, migrated

    code, out = invoke(
        "import", "bookings.csv", "--preview", "--mapping", '{"Mobile": "customer_phone"}'
    )
    assert code == 0
    assert "customer_phone  <- Mobile" in out
    code, out = invoke(
        "import", "bookings.csv", "--dry-run", "--mapping", '{"Mobile": "customer_phone"}'
    )
    assert code == 0
    assert "nothing was written" in out
    with opened("sqlite:///bookingcore.sqlite3") as core:
        assert core.bookings.list(BookingFilter(), principal=CLI, page=PageRequest()).items == []

    code, out = invoke(
        "import", "bookings.csv", "--mapping", '{"Mobile": "customer_phone"}',
        "--assign", "dealer_based", "--chunk-size", "2",
    )  # fmt: skip
    assert code == 0, out
    assert "COMPLETED" in out
    assert "Error report: bookings.errors.csv" in out
    with (workdir / "bookings.errors.csv").open(encoding="utf-8-sig", newline="") as handle:
        report = list(csv.DictReader(handle))
    assert [r["row"] for r in report] == ["3", "4"]
    assert "customer_name" in report[0]["column"]
    assert "Mobile" in report[1]["column"]
    with opened("sqlite:///bookingcore.sqlite3") as core:
        found = core.bookings.list(BookingFilter(), principal=CLI, page=PageRequest()).items
        assert sorted(b.external_id for b in found) == ["E1", "E4"]
        dl01 = core.catalog.location("DL01", principal=CLI)
        (ravi,) = core.staff.list(principal=CLI)
        assert {b.assignee_id for b in found if b.location_id == dl01.id} == {ravi.id}


def test_an_xlsx_error_report_marks_the_bad_cells(workdir: Path) -> None:
    invoke("locations", "import", "locations.csv")
    book = openpyxl.Workbook()
    sheet = book.active
    for values in ROWS:
        sheet.append(values)
    book.save(workdir / "bookings.xlsx")
    code, out = invoke(
        "import", "bookings.xlsx", "--errors-out", "report.xlsx",
        "--mapping", '{"Mobile": "customer_phone"}',
    )  # fmt: skip
    assert code == 0, out
    marked = openpyxl.load_workbook(workdir / "report.xlsx")
    cell = marked.active["B4"]
    assert cell.comment is not None
    assert "phone" in cell.comment.text
    assert marked.active["A2"].comment is None


def test_file_level_failures_exit_non_zero_with_one_line(workdir: Path) -> None:
    code, out = invoke("import", "missing.csv")
    assert code == 2
    assert out.strip().count("\n") == 0
    assert "missing.csv" in out
    code, out = invoke("import", "locations.csv")
    assert code == 2
    assert "missing_column" in out or "has no" in out
    (workdir / "fake.csv").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    code, out = invoke("import", "fake.csv")
    assert code == 2
    assert "import:" in out
    code, out = invoke("import", "bookings.csv", "--mapping", "{not json")
    assert code == 2
    assert "mapping" in out


def test_a_job_a_killed_process_left_processing_is_listed_and_resumed(workdir: Path) -> None:
    invoke("locations", "import", "locations.csv")
    source = open_rows(workdir / "bookings.csv")
    settings = ImportSettings(mapping={"Mobile": "customer_phone"}, chunk_size=2)

    class KilledError(Exception):
        pass

    def die(_: object) -> None:
        raise KilledError

    with opened("sqlite:///bookingcore.sqlite3") as core:
        job = core.imports.start(source, principal=CLI, settings=settings)
        with pytest.raises(KilledError):
            core.imports.run(job.id, source, principal=CLI, progress=die)

    code, out = invoke("imports")
    assert code == 0, out
    assert "PROCESSING" in out
    assert "2/2" in out  # the first chunk committed

    code, out = invoke("import", "locations.csv", "--resume", str(job.id))
    assert code == 2  # not the job's file: its digest differs
    assert "file" in out
    code, out = invoke("import", "bookings.csv", "--resume", str(job.id))
    assert code == 0, out
    assert "COMPLETED" in out
    with opened("sqlite:///bookingcore.sqlite3") as core:
        done = core.imports.get(job.id, principal=CLI)
        assert (done.created, done.failed, done.processed_rows) == (2, 2, 4)


def test_a_users_file_then_a_participants_file_become_customers_and_their_travelers(
    workdir: Path,
) -> None:
    """``--kind customers`` then ``--kind travelers``: previewed, run, listed with their kind,
    and a second run of the same files creates nothing."""
    with (workdir / "users.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows(
            [
                ["Name", "Mobile", "Email", "legacy_id", "signed_up"],
                ["Asha Rao", "+919812345678", "asha@example.com", "17", "2019"],
                ["Ravi Kumar", "12345", "", "18", "2020"],
            ]
        )
    with (workdir / "participants.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows(
            [
                ["participant_name", "user_id", "dob", "dietary"],
                ["Kiran Rao", "17", "2015-06-01", "vegan"],
            ]
        )
    code, out = invoke("import", "users.csv", "--kind", "customers", "--preview")
    assert code == 0, out
    assert "customer_phone  <- Mobile" in out
    assert "customer_external_id <- legacy_id" in out
    assert "not imported: signed_up" in out
    code, out = invoke("import", "users.csv", "--kind", "customers")
    assert code == 0, out
    assert "Error report: users.errors.csv" in out
    code, out = invoke("import", "participants.csv", "--kind", "travelers")
    assert code == 0, out
    code, out = invoke("import", "users.csv", "--kind", "customers")
    assert code == 0, out
    code, out = invoke("imports")
    assert [line.split("\t")[2:4] for line in out.splitlines()[1:]] == [
        ["customers", "COMPLETED"], ["travelers", "COMPLETED"], ["customers", "COMPLETED"],
    ]  # fmt: skip
    with opened("sqlite:///bookingcore.sqlite3") as core:
        jobs = core.imports.list(principal=CLI).items
        assert [(j.created, j.skipped, j.failed) for j in jobs] == [(0, 1, 1), (1, 0, 0), (1, 0, 1)]
        asha = core.customers.find_by_phone("+919812345678", principal=CLI)
        assert asha is not None
        assert (asha.name, asha.external_id) == ("Asha Rao", "17")
        [kid] = core.travelers.list(asha.id, principal=CLI)
        assert (kid.name, kid.special_requirements) == ("Kiran Rao", "Dietary: vegan")
    code, out = invoke("import", "users.csv", "--kind", "users")
    assert code == 2
    assert "kind" in out
