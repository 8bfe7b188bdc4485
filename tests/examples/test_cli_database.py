"""The CLI's ``--db``: a URL it cannot use is one line and exit code 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from examples.cli.app import app

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "args",
    [
        ("locations", "add", "DL01", "Dealer One"),
        ("imports",),
        ("jobs",),
        ("archive", "list"),
        ("worker", "--once"),
    ],
)
def test_a_db_that_is_no_url_is_a_usage_error_naming_the_option(args: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*args, "--db", "bookings.sqlite3"])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.replace("│", " ").split())  # rich wraps it in a box
    assert "Invalid value for '--db'" in said
    assert "is not an SQLAlchemy database URL" in said
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_database_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    """``python -m examples.cli`` on a database it cannot open (a directory that does not
    exist) says why in one line, with exit code 2."""
    missing = tmp_path / "no-such-dir" / "bookings.sqlite3"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-m", "examples.cli", "imports", "--db", f"sqlite:///{missing}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "database: cannot use it: unable to open database file" in done.stderr
