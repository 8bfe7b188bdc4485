"""The booking queries bench loads, reads back and walks every shape on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.bench._run import REPO_ROOT, run_script

BENCH = REPO_ROOT / "bench" / "booking_queries.py"
ROWS = 3000
SHAPES = (
    "no filter",
    "status",
    "source",
    "partner",
    "location",
    "slot",
    "date range",
    "assignee",
    "combination",
    "text: name",
    "text: email",
    "text: phone",
)


@pytest.mark.postgres
@pytest.mark.slow
def test_a_quick_run_walks_every_shape_and_both_sides_agree(
    postgres_url: str, tmp_path: Path
) -> None:
    report_path = tmp_path / "bench.json"
    completed = run_script(
        BENCH,
        "--quick",
        "--rows",
        str(ROWS),
        "--url",
        postgres_url,
        "--json",
        str(report_path),
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads(report_path.read_text())
    assert report["ok"] is True, report["problems"]
    assert report["readback_problems"] == []
    assert report["load"]["rows"] == ROWS
    assert report["load"]["booking_travelers"] >= ROWS

    shapes = {shape["shape"]: shape for shape in report["shapes"]}
    assert tuple(shapes) == SHAPES
    for shape in shapes.values():
        assert shape["problems"] == [], shape["shape"]
        assert shape["pages"] >= 1
        assert shape["rows"] >= 1, shape["shape"]
        assert shape["library_ms"]["p50"] > 0
        assert shape["baseline_ms"]["p50"] > 0
        # Speed is the baseline's median time over the library's.
        medians = shape["baseline_ms"]["p50"] / shape["library_ms"]["p50"]
        assert shape["speed_ratio"] == pytest.approx(medians)
        assert shape["plan_deep"]["access"]
    assert shapes["no filter"]["pages"] == 5  # --quick walks five pages of a long list

    histories = {history["bookings"]: history for history in report["histories"]}
    assert set(histories) == {1, 30}
    assert histories[1]["statements"] == histories[30]["statements"] > 0
    assert all(history["problems"] == [] for history in histories.values())

    assert "speed ratio" in completed.stdout
    for name in SHAPES:
        assert f"\n{name} " in completed.stdout
    assert "read-back through the library: OK" in completed.stdout


@pytest.mark.slow
def test_bad_arguments_exit_with_status_2() -> None:
    completed = run_script(BENCH, "--rows", "10", timeout=60)
    assert completed.returncode == 2
    assert "--rows must be at least" in completed.stderr
