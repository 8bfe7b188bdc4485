"""The booking concurrency bench runs end to end on PostgreSQL and finds no overbooking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.bench._run import REPO_ROOT, run_script

BENCH = REPO_ROOT / "bench" / "booking_concurrency.py"


@pytest.mark.postgres
@pytest.mark.slow
def test_a_quick_run_sells_every_seat_once_on_every_side(postgres_url: str, tmp_path: Path) -> None:
    report_path = tmp_path / "bench.json"
    completed = run_script(
        BENCH,
        "--quick",
        "--workers",
        "1,2",
        "--url",
        postgres_url,
        "--statements",
        "--json",
        str(report_path),
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads(report_path.read_text())
    assert report["ok"] is True
    assert [run["workers"] for run in report["runs"]] == [1, 2]
    for run in report["runs"]:
        for side in ("baseline", "library", "statements"):
            figures = run[side]
            assert figures["check"] == "OK", figures["problems"]
            assert figures["overbooked"] is False
            assert figures["bookings_per_second"] > 0
            assert figures["failed"] == 0
            assert figures["booked"] == figures["seats"]
            assert figures["booked"] + figures["refused"] == figures["attempts"]
        # The verdict judges issue 16's target, library / statements (the library's own
        # SQL replayed without its Python), against the target the report states.
        target = report["settings"]["target_library_to_statements"]
        met = run["library_to_statements"] >= target
        assert run["verdict"] == ("target met" if met else "MISSED")
    assert "OVERBOOKED" not in completed.stdout
