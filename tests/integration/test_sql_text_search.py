"""The SQL text search and keyset match the reference semantics on every SQL backend.

``TextSearch`` writes the ``text`` filter differently per backend (PostgreSQL
matches digits with a regular expression, SQLite with a registered function),
and ``keyset_after`` is a row-value comparison; both must agree with
:func:`bookingcore.domain.queries.text_matches` and :meth:`Cursor.is_after`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid, select

from bookingcore.domain.queries import Cursor, text_matches
from bookingcore_adapters.sql import SqlStore
from bookingcore_adapters.sql._queries import TextSearch, keyset_after
from bookingcore_adapters.sql._schema import UtcDateTime

probes = MetaData()
texts = Table(
    "bench_text_probe",
    probes,
    Column("id", Integer(), primary_key=True),
    Column("value", String()),
)

VALUES = (
    "+919876543210",
    "+91 98765-43210",
    "(987) 654 3210",
    "OTA-778-12",
    "BK-9A8B7C6D",
    "Ravi Kumar",
    "ravi.k98@example.com",
    "50% off_now",
    "a/b path",
    "",
    None,
)
NEEDLES = (
    "98765",
    "9876543210",
    "98765 43210",
    "987-654",
    "77812",
    "778 12",
    "987",
    "9876",
    "876",
    "98",
    "RAVI",
    "vi ku",
    "K98@",
    "50%",
    "%",
    "_",
    "f_n",
    "a/b",
    "/",
    "9a8",
    "  ravi  ",
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        sqlite = SqlStore(f"sqlite:///{tmp_path / 'text.db'}")
        yield sqlite
        sqlite.dispose()
    else:
        yield request.getfixturevalue("pg_store")


def test_the_text_search_finds_what_text_matches_finds(store: SqlStore) -> None:
    probes.create_all(store.engine)
    with store.engine.begin() as connection:
        connection.execute(
            texts.insert(), [{"id": n, "value": value} for n, value in enumerate(VALUES)]
        )
    search = TextSearch(store.dialect)
    with store.engine.connect() as connection:
        for needle in NEEDLES:
            condition = search.matches(needle, [texts.c.value])
            assert condition is not None
            found = set(connection.execute(select(texts.c.id).where(condition)).scalars())
            expected = {n for n, value in enumerate(VALUES) if text_matches(needle, [value])}
            assert found == expected, needle


def test_the_keyset_is_every_row_after_the_cursor(store: SqlStore) -> None:
    rows = Table(
        "bench_keyset_probe",
        MetaData(),
        Column("id", Uuid(), primary_key=True),
        Column("created_at", UtcDateTime(), nullable=False),
    )
    rows.metadata.create_all(store.engine)
    at = datetime(2025, 1, 1, tzinfo=UTC)
    times = [at, at, at, at + timedelta(microseconds=1), at - timedelta(days=1)]
    ids = [UUID(int=n << 120) for n in (3, 1, 2, 9, 5)]
    with store.engine.begin() as connection:
        connection.execute(
            rows.insert(), [{"id": i, "created_at": t} for i, t in zip(ids, times, strict=True)]
        )
    india = timezone(timedelta(hours=5, minutes=30))
    with store.engine.connect() as connection:
        for cursor_at, cursor_id in zip(times, ids, strict=True):
            # The same instant in another offset must find the same rows.
            for cursor in (
                Cursor(cursor_at, cursor_id),
                Cursor(cursor_at.astimezone(india), cursor_id),
            ):
                query = select(rows.c.id).where(*keyset_after(rows, cursor))
                found = set(connection.execute(query).scalars())
                expected = {i for i, t in zip(ids, times, strict=True) if cursor.is_after(t, i)}
                assert found == expected, cursor
