"""SQLite stores for tests, copied from a schema built once per test process.

Building bookingcore's tables costs SQLite ~40 ms (``create_schema``) or ~300 ms
(``migrate``, every Alembic revision); copying the finished file costs ~2 ms. The
first store of each kind in a process builds its template in the session's temporary
directory (each pytest-xdist worker has its own); every later one is a copy of it.
Tests of ``create_schema`` or ``migrate`` themselves build their schema directly.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pytest

    from bookingcore_adapters.sql import SqlStore

Schema = Literal["create_schema", "migrate"]

_state: dict[str, pytest.TempPathFactory] = {}
_templates: dict[Schema, Path] = {}


def use_temp_path_factory(factory: pytest.TempPathFactory) -> None:
    """Keep the templates under ``factory``'s session directory (tests/conftest.py)."""
    _state["factory"] = factory


def _template(schema: Schema) -> Path:
    if schema in _templates:
        return _templates[schema]
    factory = _state.get("factory")
    if factory is None:  # pragma: no cover - tests/conftest.py sets it for every session
        msg = "tests/conftest.py has not set the session's temporary directory"
        raise RuntimeError(msg)
    # SQLAlchemy is imported here, not at the top: memory-only runs need no sql extra.
    from bookingcore_adapters.sql import SqlStore  # noqa: PLC0415

    path = factory.mktemp(f"sqlite-{schema}") / "template.db"
    store = SqlStore(f"sqlite:///{path}")
    try:
        store.create_schema() if schema == "create_schema" else store.migrate()
    finally:
        store.dispose()
    # The file stays in WAL mode, as a fresh store's file is; fold the log into it (the
    # last connection to close removes -wal and -shm) so the one file holds everything.
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    leftovers = [p.name for p in path.parent.iterdir() if p != path]
    assert not leftovers, f"SQLite template left side files: {leftovers}"
    _templates[schema] = path
    return path


def sqlite_file_store(path: Path, *, schema: Schema = "create_schema", **options: Any) -> SqlStore:
    """A store on a new SQLite file at ``path``, with the tables ``schema`` would make.

    ``options`` go to :class:`SqlStore`."""
    if path.exists() or Path(f"{path}-wal").exists():
        msg = f"{path} exists already"
        raise FileExistsError(msg)
    from bookingcore_adapters.sql import SqlStore  # noqa: PLC0415

    shutil.copyfile(_template(schema), path)
    return SqlStore(f"sqlite:///{path}", **options)


def sqlite_memory_store(*, schema: Schema = "create_schema", **options: Any) -> SqlStore:
    """A store on an in-memory SQLite database (``sqlite://``) holding the tables."""
    from bookingcore_adapters.sql import SqlStore  # noqa: PLC0415

    store = SqlStore("sqlite://", **options)
    source = sqlite3.connect(_template(schema))
    try:
        raw = store.engine.raw_connection()
        try:
            source.backup(raw.driver_connection)
        finally:
            raw.close()
    finally:
        source.close()
    return store
