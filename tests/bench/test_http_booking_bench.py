"""The HTTP booking bench runs end to end on PostgreSQL and finds no overbooking on either side."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH = REPO_ROOT / "bench" / "http_booking.py"


@pytest.mark.postgres
@pytest.mark.slow
def test_a_quick_run_sells_every_seat_once_over_http_and_by_library_calls(
    postgres_url: str, tmp_path: Path
) -> None:
    report_path = tmp_path / "bench.json"
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--url", postgres_url, "--json", str(report_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads(report_path.read_text())
    assert report["ok"] is True
    assert report["server_workers"] == 2
    for side in ("library", "http"):
        figures = report[side]
        assert figures["check"] == "OK", figures["problems"]
        assert figures["overbooked"] is False
        assert figures["failed"] == 0
        assert figures["booked"] == figures["seats"]
        assert figures["booked"] + figures["refused"] == figures["attempts"]
        assert figures["bookings_per_second"] > 0
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"]
    assert report["ratio"] > 0
    assert "OVERBOOKED" not in completed.stdout
