"""The webhook intake bench runs end to end on PostgreSQL: every payment captured once, one
inbox row per event, and the duplicate deliveries change nothing, on both sides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.bench._run import REPO_ROOT, run_script

BENCH = REPO_ROOT / "bench" / "webhook_intake.py"


@pytest.mark.postgres
@pytest.mark.slow
def test_a_quick_run_captures_every_payment_once_despite_duplicates(
    postgres_url: str, tmp_path: Path
) -> None:
    report_path = tmp_path / "bench.json"
    completed = run_script(
        BENCH,
        "--quick",
        "--deliveries",
        "30",
        "--warmup",
        "1",
        "--processes",
        "1,2",
        "--url",
        postgres_url,
        "--json",
        str(report_path),
        timeout=180,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads(report_path.read_text())
    assert report["ok"] is True
    assert [run["processes"] for run in report["runs"]] == [1, 2]
    for run in report["runs"]:
        payments = 30 + run["processes"]  # one per event, one per warm-up delivery
        for side in ("baseline", "library"):
            figures = run[side]
            assert figures["ok"] is True, figures["problems"]
            assert figures["events"] == 30
            assert figures["deliveries"] == 33  # 10 % of the events delivered twice
            assert figures["taken"] == figures["deliveries"]
            assert figures["failed"] == 0
            assert figures["payments"] == payments
            assert figures["payments_captured_once"] == payments
            assert figures["inbox_rows"] == payments
            assert figures["applied_receipts"] == payments
            assert figures["confirmed_bookings"] == payments
            assert figures["deliveries_per_second"] > 0
        # The ratio is the library's rate over the baseline's, as both were measured.
        rates = {side: run[side]["deliveries_per_second"] for side in ("baseline", "library")}
        assert run["ratio"] == pytest.approx(rates["library"] / rates["baseline"])
    assert "MISMATCH" not in completed.stdout


@pytest.mark.postgres
@pytest.mark.slow
def test_the_statements_side_replays_the_library_sql_with_the_same_outcome(
    postgres_url: str, tmp_path: Path
) -> None:
    report_path = tmp_path / "bench.json"
    completed = run_script(
        BENCH,
        "--quick",
        "--deliveries",
        "20",
        "--warmup",
        "2",
        "--processes",
        "2",
        "--statements",
        "--series",
        "2",
        "--url",
        postgres_url,
        "--json",
        str(report_path),
        timeout=240,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads(report_path.read_text())
    (run,) = report["runs"]
    figures = run["statements"]
    # The replay captured every payment once, confirmed every booking once through the
    # library's own rows (history entries), and the duplicates changed nothing; a number
    # taken from the wrong series would clash on a unique key and fail its delivery.
    assert figures["ok"] is True, figures["problems"]
    assert figures["taken"] == figures["deliveries"] == 22
    assert figures["payments_captured_once"] == figures["payments"] == 24
    assert figures["applied_receipts"] == figures["confirmed_bookings"] == 24
    rates = {side: run[side]["deliveries_per_second"] for side in ("baseline", "library")}
    replayed = figures["deliveries_per_second"]
    assert run["statements_ratio"] == pytest.approx(replayed / rates["baseline"])
    assert run["library_to_statements"] == pytest.approx(rates["library"] / replayed)
    assert "statements ratio" in completed.stdout
    assert report["settings"]["invoice_series"] == 2


def test_the_statements_side_needs_two_warm_up_deliveries() -> None:
    completed = run_script(BENCH, "--statements", "--warmup", "1", timeout=60)
    assert completed.returncode == 2
    assert "--warmup 2" in completed.stderr
