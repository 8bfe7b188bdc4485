"""The reports bench loads bookings and gets the same figures from both sides on PostgreSQL."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from tests.bench._run import REPO_ROOT, run_script

BENCH = REPO_ROOT / "bench" / "reports.py"
ROWS = 2000
#: Every report of ``core.reports``, as the bench names it.
EVERY_REPORT = {
    "revenue by source",
    "revenue by partner",
    "revenue by location",
    "revenue by created_month",
    "cancellations by location",
    "cancellations by created_day",
    "advisor workload",
    "repeat customers and lifetime value",
    "capacity utilisation by location",
    "capacity utilisation by starts_month",
    "waitlist conversion",
    "import statistics",
    "booking frequency",
    "cohort retention",
    "source conversion",
    "status transitions",
    "status transitions in a month",
    "import performance",
    "communication engagement by type",
    "communication engagement by channel",
    "communication engagement by type in a month",
    "reconciliation of a week",
}


@pytest.mark.postgres
@pytest.mark.slow
def test_a_quick_run_times_every_report_and_both_sides_agree(
    postgres_url: str, tmp_path: Path
) -> None:
    report_path = tmp_path / "bench.json"
    completed = run_script(
        BENCH,
        "--rows",
        str(ROWS),
        "--repeats",
        "1",
        "--url",
        postgres_url,
        "--json",
        str(report_path),
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads(report_path.read_text())
    assert report["ok"] is True
    assert report["rows"] == ROWS
    reports = report["reports"]
    assert set(reports) == EVERY_REPORT
    assert all(figures["agree"] for figures in reports.values())
    # the analytics had rows to agree on, not two empty answers
    for name in EVERY_REPORT:
        assert reports[name]["groups"] >= 1, name
    # reservation moves: pending to confirmed or cancelled, confirmed to completed,
    # cancelled or no_show
    assert reports["status transitions"]["groups"] == 5
    # the frequency report has a line per default bucket: 1, 2, 3-5, 6+
    assert reports["booking frequency"]["groups"] == 4
    # messages go by email and by text
    assert reports["communication engagement by channel"]["groups"] == 2
    # the data has bookings at 20 locations, of 5 partners plus direct ones
    assert reports["revenue by location"]["groups"] == 20
    assert reports["revenue by partner"]["groups"] == 6


def test_only_picks_the_reports_whose_names_contain_its_text() -> None:
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    try:
        import reports  # noqa: PLC0415 - the bench script, from its folder
    finally:
        sys.path.remove(str(REPO_ROOT / "bench"))

    options = reports.parse_options(["--only", "capacity", "--only", "import statistics"])
    chosen = [r.name for r in reports.REPORTS if reports._chosen(r.name, options.only)]
    assert chosen == [
        "capacity utilisation by location",
        "capacity utilisation by starts_month",
        "import statistics",
    ]
    every = reports.parse_options([])
    assert all(reports._chosen(r.name, every.only) for r in reports.REPORTS)
    with pytest.raises(SystemExit) as refused:
        reports.parse_options(["--only", "no such report"])
    assert refused.value.code == 2
