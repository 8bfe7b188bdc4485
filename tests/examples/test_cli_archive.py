"""The CLI's archive commands on SQLite: archive now, list the archived, unarchive one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from bookingcore.testing.builders import Builder
from bookingcore_adapters.sql import SqlStore
from examples.cli.app import app


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def _ended_bookings(db: str) -> tuple[str, str]:
    """A cancelled booking of a slot that ended 400 days ago, and a pending one of it."""
    store = SqlStore(db)
    store.migrate()
    make = Builder(datetime.now(UTC) - timedelta(days=420))
    location = make.location()
    slot = make.slot(location.id, starts_at=datetime.now(UTC) - timedelta(days=400))
    customer = make.customer()
    traveler = make.traveler(customer.id)
    cancelled = make.booking(customer.id, slot, [traveler.id], status="cancelled")
    pending = make.booking(customer.id, slot, [traveler.id])
    with store.unit_of_work() as uow:
        uow.locations.add(location)
        uow.slots.add(slot)
        uow.customers.add(customer)
        uow.travelers.add(traveler)
        uow.bookings.add(cancelled)
        uow.bookings.add(pending)
        uow.commit()
    store.dispose()
    return cancelled.reference, pending.reference


def test_archive_list_and_unarchive(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    cancelled, pending = _ended_bookings(db)
    day = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()

    code, output = invoke("archive", "--ended-before", day, "--db", db)
    assert code == 0, output
    assert "archived 1 booking(s) in 1 batch(es)" in output

    code, output = invoke("archive", "list", "--db", db)
    assert code == 0, output
    assert cancelled in output
    assert pending not in output

    code, output = invoke("archive", "unarchive", cancelled, "--reason", "dispute", "--db", db)
    assert code == 0, output
    assert f"booking {cancelled} is live again (cancelled)" in output
    assert "no archived bookings" in invoke("archive", "list", "--db", db)[1]


def test_archive_needs_a_cutoff_and_refuses_one_in_the_future(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    code, output = invoke("archive", "--db", db)
    assert code == 2
    assert "--ended-before" in output
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    code, output = invoke("archive", "--ended-before", tomorrow, "--db", db)
    assert code == 2
    assert "must not be later than now" in output
