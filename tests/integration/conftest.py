"""Fixtures the integration tests share: each backend in turn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests._sqlite import sqlite_file_store

from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStore | SqlStore]:
    """Each backend in turn: memory, a SQLite file, PostgreSQL (a schema of its own)."""
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "sqlite":
        sqlite = sqlite_file_store(tmp_path / "store.db")
        yield sqlite
        sqlite.dispose()
    else:
        yield request.getfixturevalue("pg_store")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """Each SQL backend in turn, for tests of what the store sends to the database."""
    if request.param == "sqlite":
        sqlite = sqlite_file_store(tmp_path / "store.db")
        yield sqlite
        sqlite.dispose()
    else:
        yield request.getfixturevalue("pg_store")
