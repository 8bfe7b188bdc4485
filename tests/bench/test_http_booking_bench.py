"""The HTTP booking bench runs end to end on PostgreSQL and finds no overbooking on either side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.bench._run import REPO_ROOT, run_script

BENCH = REPO_ROOT / "bench" / "http_booking.py"


@pytest.mark.postgres
@pytest.mark.slow
def test_a_quick_run_sells_every_seat_once_over_http_and_by_library_calls(
    postgres_url: str, tmp_path: Path
) -> None:
    report_path = tmp_path / "bench.json"
    completed = run_script(
        BENCH, "--quick", "--url", postgres_url, "--json", str(report_path), timeout=180
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
    # HTTP's rate over the library's, as both were measured.
    rates = {side: report[side]["bookings_per_second"] for side in ("library", "http")}
    assert report["ratio"] == pytest.approx(rates["http"] / rates["library"])
    assert "OVERBOOKED" not in completed.stdout
