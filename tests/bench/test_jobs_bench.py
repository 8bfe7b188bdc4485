"""The outbox relay bench runs end to end on PostgreSQL: both sides relay every message once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH = REPO_ROOT / "bench" / "jobs.py"


@pytest.mark.postgres
@pytest.mark.slow
def test_a_quick_run_relays_every_message_once_on_both_sides(
    postgres_url: str, tmp_path: Path
) -> None:
    report_path = tmp_path / "bench.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--messages",
            "1200",
            "--workers",
            "1,2",
            "--batch",
            "300",
            "--url",
            postgres_url,
            "--json",
            str(report_path),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads(report_path.read_text())
    assert report["ok"] is True
    assert report["settings"]["batch"] == 300  # 1200 messages: several claims per side
    runs = {(run["side"], run["workers"]): run for run in report["runs"]}
    sides = ("baseline", "library", "typed")  # typed: the relay re-building typed events
    assert set(runs) == {(side, n) for side in sides for n in (1, 2)}
    for run in runs.values():
        assert run["relayed"] == 1200
        assert run["problems"] == []
        assert run["per_second"] > 0
    assert "vs baseline" in completed.stdout
