"""The reports bench loads bookings and gets the same figures from both sides on PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH = REPO_ROOT / "bench" / "reports.py"
ROWS = 2000


@pytest.mark.postgres
@pytest.mark.slow
def test_a_quick_run_times_every_report_and_both_sides_agree(
    postgres_url: str, tmp_path: Path
) -> None:
    report_path = tmp_path / "bench.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--rows",
            str(ROWS),
            "--repeats",
            "1",
            "--url",
            postgres_url,
            "--json",
            str(report_path),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads(report_path.read_text())
    assert report["ok"] is True
    assert report["rows"] == ROWS
    reports = report["reports"]
    assert len(reports) == 10
    assert all(figures["agree"] for figures in reports.values())
    # the data has bookings at 20 locations, of 5 partners plus direct ones
    assert reports["revenue by location"]["groups"] == 20
    assert reports["revenue by partner"]["groups"] == 6
