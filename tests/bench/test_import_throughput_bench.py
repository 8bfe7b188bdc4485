"""The import throughput bench runs end to end and its counts match the file it generated."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.bench._run import REPO_ROOT, run_script

BENCH = REPO_ROOT / "bench" / "import_throughput.py"
ROWS = 1000
#: The XLSX readers the bench can use here: calamine only when it is installed.
READERS = ("openpyxl", "calamine") if importlib.util.find_spec("python_calamine") else ("openpyxl",)


def run_bench(tmp_path: Path, *options: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    report_path = tmp_path / "bench.json"
    completed = run_script(
        BENCH,
        "--quick",
        "--rows",
        str(ROWS),
        "--tmpdir",
        str(tmp_path),
        "--json",
        str(report_path),
        *options,
        timeout=120,
    )
    assert report_path.exists(), completed.stdout + completed.stderr
    return completed, json.loads(report_path.read_text())


def assert_counts_match(case: dict[str, Any], file: dict[str, Any]) -> None:
    assert case["check"] == "OK", case["problems"]
    job = case["job"]
    assert job["status"] == "COMPLETED"
    assert job["created"] + job["failed"] + job["skipped"] + job["updated"] == file["rows"]
    assert job["created"] == file["good"]
    assert job["failed"] == file["bad"]
    assert case["stored_bookings"] == job["created"]
    assert case["rows_per_second"] > 0
    assert case["peak_rss_mb"] > 0


@pytest.mark.slow
def test_a_quick_run_measures_both_sides_and_every_bad_row_fails(tmp_path: Path) -> None:
    completed, report = run_bench(tmp_path, "--workers", "1", "--xlsx-readers", ",".join(READERS))

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert report["ok"] is True
    file = report["file"]
    assert file["rows"] == ROWS
    assert 0 < file["bad"] < ROWS // 10
    assert all(count > 0 for count in file["bad_by_kind"].values()), file["bad_by_kind"]
    assert file["good"] + file["bad"] == ROWS

    assert set(report["baselines"]) == {"csv", "xlsx"}
    for baseline in report["baselines"].values():
        assert baseline["check"] == "OK", baseline["problems"]
        assert baseline["rows"] == ROWS
        assert baseline["rows_per_second"] > 0
        assert baseline["bad_by_kind"] == file["bad_by_kind"]

    cases = {(case["case"], case["workers"]): case for case in report["cases"]}
    assert set(cases) == {("csv", 1), *((f"xlsx/{reader}", 1) for reader in READERS)}
    for case in cases.values():
        assert_counts_match(case, file)
        assert case["baseline_rows_per_second"] > 0
        # The ratio is the case's rate over its format's baseline, as both were measured.
        assert case["ratio"] == pytest.approx(
            case["rows_per_second"] / case["baseline_rows_per_second"]
        )
    assert "baseline: parse + strict validation only" in completed.stdout
    assert "rows/s" in completed.stdout
    assert "targets:" in completed.stdout


@pytest.mark.slow
def test_the_growth_check_imports_n_and_ten_times_n_rows(tmp_path: Path) -> None:
    completed, report = run_bench(tmp_path, "--growth", "--workers", "1")

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert report["ok"] is True
    assert [file["rows"] for file in report["files"]] == [ROWS, 10 * ROWS]
    (growth,) = report["growth"]
    assert growth["workers"] == 1
    assert growth["check"] == "OK", growth["problems"]
    small, large = report["files"]
    for case, file in ((growth["small"], small), (growth["large"], large)):
        assert_counts_match({**case, "check": "OK", "problems": []}, file)

    # The RSS ratio compares the larger of main process and worker, ten times N to N.
    def judged(case: dict[str, float]) -> float:
        return max(case["peak_rss_mb"], case.get("workers_peak_rss_mb") or 0.0)

    assert growth["rss_ratio"] == pytest.approx(judged(growth["large"]) / judged(growth["small"]))
    assert "memory growth" in completed.stdout


@pytest.mark.slow
def test_the_statements_side_replays_the_library_sql_into_the_same_bookings(
    tmp_path: Path,
) -> None:
    completed, report = run_bench(tmp_path, "--workers", "1", "--formats", "csv", "--statements")

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert report["ok"] is True
    floor = report["statements"]
    assert floor["problems"] == []
    # The replay on the copied database stored every booking the import created.
    assert floor["created"] == report["file"]["good"]
    assert floor["stored_bookings"] == floor["created"]
    assert floor["statements"] > 0
    assert floor["rows_per_second"] > 0
    assert "replayed by raw sqlite3" in completed.stdout
