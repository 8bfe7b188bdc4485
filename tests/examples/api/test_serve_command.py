"""``python -m examples.api``: what it sets up before serving (the server itself not started)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from examples.api import __main__ as serve


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The apps ``main`` would serve; uvicorn is not started."""
    apps: list[Any] = []
    monkeypatch.setattr(serve.uvicorn, "run", lambda app, **options: apps.append(app))
    monkeypatch.setenv("BOOKINGCORE_API_SECRET", "s" * 32)
    monkeypatch.setenv("BOOKINGCORE_API_OTP_PEPPER", "p" * 32)
    return apps


def test_sample_slots_are_printed_on_every_run(
    tmp_path: Path, served: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/api.md's "Try it" books the slot id the server prints: a second run with
    ``--sample-slots`` (the same database) prints the same two slots, adding none."""
    db = f"sqlite:///{tmp_path / 'api.sqlite3'}"
    serve.main(["--db", db, "--sample-slots"])
    first = re.findall(r"sample slot (\S+) on \S+: 12 seats at 8,500 INR", capsys.readouterr().out)
    assert len(first) == 2
    serve.main(["--db", db, "--sample-slots"])
    again = re.findall(r"sample slot (\S+) on \S+: 12 seats at 8,500 INR", capsys.readouterr().out)
    assert again == first
    assert len(served) == 2


def test_an_existing_admin_is_said_to_keep_its_password(
    tmp_path: Path,
    served: list[Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--admin-email`` for an admin made by an earlier run leaves the password as it
    was, and says so rather than ignore a changed BOOKINGCORE_API_ADMIN_PASSWORD."""
    db = f"sqlite:///{tmp_path / 'api.sqlite3'}"
    monkeypatch.setenv("BOOKINGCORE_API_ADMIN_PASSWORD", "a long first passphrase")
    serve.main(["--db", db, "--admin-email", "admin@example.com"])
    assert "exists already" not in capsys.readouterr().err
    monkeypatch.setenv("BOOKINGCORE_API_ADMIN_PASSWORD", "a long second passphrase")
    serve.main(["--db", db, "--admin-email", "admin@example.com"])
    err = capsys.readouterr().err
    assert "admin@example.com exists already; its password is left as it was" in err
