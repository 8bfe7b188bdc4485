"""Shared test configuration: Hypothesis profiles and the wired-up core fixtures."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, settings
from tests._sqlite import use_temp_path_factory

from bookingcore import BookingCore, Principal, Settings, StaffId, StaffRole
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from bookingcore_adapters.sql import SqlStore

settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("fast", max_examples=10, deadline=None)
#: For a nightly or pre-release run: five times CI's examples (stateful machines scale too).
settings.register_profile(
    "deep", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

#: Service-backed tests and the variable that switches each on.
SERVICES = {
    "postgres": (
        "BOOKINGCORE_TEST_POSTGRES_URL",
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    ),
    "redis": ("BOOKINGCORE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
}


def service_url(service: str) -> str:
    """The URL of a real server for ``service`` tests.

    Unset: the test is skipped with the variable to set, unless
    ``BOOKINGCORE_REQUIRE_SERVICES=1`` (as in CI), where it fails instead.
    """
    variable, example = SERVICES[service]
    url = os.environ.get(variable, "").strip()
    if url:
        return url
    if os.environ.get("BOOKINGCORE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{variable} is not set, and BOOKINGCORE_REQUIRE_SERVICES=1 requires {service}")
    pytest.skip(f"{service} tests need a server: set {variable} (e.g. {example})")


def _commit_without_waiting_for_the_disk(dbapi_connection: Any, connection_record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous = OFF")
    elif type(dbapi_connection).__module__.startswith("psycopg"):
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SET synchronous_commit = off")
        finally:
            cursor.close()
        dbapi_connection.commit()


@pytest.fixture(scope="session", autouse=True)
def _no_disk_waits() -> None:
    """Let this process's SQLAlchemy connections commit without waiting for the disk.

    A commit waits for ``fsync`` (~5 ms on SQLite, ~5.5 ms on PostgreSQL here, far more
    on a busy CI disk): most of a database test's time. SQLite's ``synchronous = OFF``
    and PostgreSQL's ``synchronous_commit = off`` change only what survives a power cut
    or a crash of the operating system or server, which no test makes: what every other
    connection and process sees, and when, is the same (a SIGKILLed client loses
    nothing it committed). Processes a test starts keep the servers' defaults."""
    try:
        from sqlalchemy import event  # noqa: PLC0415
        from sqlalchemy.engine import Engine  # noqa: PLC0415
    except ImportError:  # memory-only runs need no sql extra
        return
    if not event.contains(Engine, "connect", _commit_without_waiting_for_the_disk):
        event.listen(Engine, "connect", _commit_without_waiting_for_the_disk)


@pytest.fixture(scope="session", autouse=True)
def _sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep this process's SQLite schema templates (tests/_sqlite.py) in its session
    directory: ``sqlite_file_store`` and ``sqlite_memory_store`` copy them."""
    use_temp_path_factory(tmp_path_factory)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """An SQLAlchemy URL of a PostgreSQL database the tests may write to."""
    return service_url("postgres")


@pytest.fixture(scope="session")
def postgres_admin(postgres_url: str) -> Iterator[Engine]:
    """An engine on the test database, for creating and dropping test schemas."""
    # SQLAlchemy is imported here, not at the top, so memory-only runs need no sql extra.
    from sqlalchemy import create_engine  # noqa: PLC0415

    engine = create_engine(postgres_url)
    yield engine
    engine.dispose()


#: The shape of a schema holding exactly bookingcore's tables, for recycling checks.
_SHAPE_SQL = (
    "SELECT md5(coalesce((SELECT string_agg(table_name || '.' || column_name || ':'"
    " || data_type || ':' || is_nullable, ',' ORDER BY table_name, column_name)"
    " FROM information_schema.columns WHERE table_schema = %(schema)s), '')"
    " || coalesce((SELECT string_agg(tablename || '.' || indexname, ',' ORDER BY indexname)"
    " FROM pg_indexes WHERE schemaname = %(schema)s), ''))"
)


@pytest.fixture(scope="session")
def _emptied_schemas(postgres_admin: Engine) -> Iterator[list[str]]:
    """Schemas that held bookingcore's tables untouched in shape, emptied after their test.

    Creating the tables costs PostgreSQL far more than deleting a test's few rows, so
    ``pg_store`` tests take one of these when there is one (dropped at the end)."""
    emptied: list[str] = []
    yield emptied
    with postgres_admin.begin() as connection:
        for schema in emptied:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="session")
def _pristine_shape(postgres_admin: Engine, postgres_url: str, _emptied_schemas: list[str]) -> str:
    """The column shape of a schema freshly made by ``SqlStore.create_schema()``; the
    schema, with no rows, is the first one ``pg_store`` tests take."""
    from sqlalchemy import create_engine  # noqa: PLC0415

    from bookingcore_adapters.sql import SqlStore  # noqa: PLC0415

    schema = f"bookingcore_shape_{uuid4().hex[:16]}"
    with postgres_admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    store = SqlStore(
        create_engine(postgres_url, connect_args={"options": f"-csearch_path={schema}"})
    )
    try:
        store.create_schema()
    finally:
        store.dispose()
    with postgres_admin.begin() as connection:
        shape = str(connection.exec_driver_sql(_SHAPE_SQL, {"schema": schema}).scalar())
    _emptied_schemas.append(schema)
    return shape


def _empty_if_pristine(connection: Connection, schema: str, shape: str) -> bool:
    """Delete every row of ``schema``'s tables and restart its sequences, if the schema
    still has exactly bookingcore's tables and columns; False (nothing done) otherwise.

    One round trip (a ``DO`` block) instead of one a table: ~40 tables."""
    from bookingcore_adapters.sql import metadata  # noqa: PLC0415

    if connection.exec_driver_sql(_SHAPE_SQL, {"schema": schema}).scalar() != shape:
        return False
    deletes = "".join(
        f'DELETE FROM "{schema}"."{table.name}";' for table in reversed(metadata.sorted_tables)
    )
    connection.exec_driver_sql(
        f"DO $$DECLARE sequence text; BEGIN {deletes}"
        " FOR sequence IN SELECT sequence_name FROM information_schema.sequences"
        f" WHERE sequence_schema = '{schema}' LOOP"
        f" EXECUTE 'ALTER SEQUENCE \"{schema}\".' || quote_ident(sequence) || ' RESTART';"
        " END LOOP; END$$"
    )
    return True


#: Set on a test's node by ``pg_store``: its ``postgres_schema`` is to hold the tables.
_WITH_TABLES = pytest.StashKey[bool]()
#: Set on a test's node by ``postgres_schema``: the schema it gave holds the tables already.
_HOLDS_TABLES = pytest.StashKey[bool]()


@pytest.fixture
def postgres_schema(
    request: pytest.FixtureRequest, postgres_admin: Engine, _emptied_schemas: list[str]
) -> Iterator[str]:
    """The name of a fresh PostgreSQL schema, dropped with its tables afterwards.

    Empty, unless the test also uses ``pg_store``: then it may be a schema that already
    holds bookingcore's tables, emptied of an earlier test's rows. Connect to it with
    ``connect_args={"options": f"-csearch_path={schema}"}``.
    """
    # ``pg_store`` may be asked for by name (``request.getfixturevalue``, as the fixtures
    # parametrized by backend do): then it is not among the test's fixture names yet.
    with_tables = "pg_store" in request.fixturenames or request.node.stash.get(_WITH_TABLES, False)
    shape = request.getfixturevalue("_pristine_shape") if with_tables else ""
    if with_tables and _emptied_schemas:
        schema = _emptied_schemas.pop()
        request.node.stash[_HOLDS_TABLES] = True
    else:
        schema = f"bookingcore_test_{uuid4().hex[:16]}"
        with postgres_admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    yield schema
    with postgres_admin.begin() as connection:
        # A test that left a transaction open fails here instead of hanging the run.
        connection.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
        if with_tables and _empty_if_pristine(connection, schema, shape):
            _emptied_schemas.append(schema)
        else:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def pg_store(request: pytest.FixtureRequest, postgres_url: str) -> Iterator[SqlStore]:
    """A store with bookingcore's tables, and no rows, in a schema of its own
    (``postgres_schema``)."""
    from sqlalchemy import create_engine  # noqa: PLC0415

    from bookingcore_adapters.sql import SqlStore  # noqa: PLC0415

    request.node.stash[_WITH_TABLES] = True
    postgres_schema: str = request.getfixturevalue("postgres_schema")
    engine = create_engine(
        postgres_url, connect_args={"options": f"-csearch_path={postgres_schema}"}
    )
    store = SqlStore(engine)
    try:
        # An emptied schema has exactly the tables and indexes ``create_schema`` makes (its
        # shape was checked), where ``create_schema`` would only ask about each (~30 ms).
        if not request.node.stash.get(_HOLDS_TABLES, False):
            store.create_schema()
        yield store
    finally:
        store.dispose()


@pytest.fixture
def empty_pg_store(
    pg_store: SqlStore, postgres_schema: str, postgres_admin: Engine, _pristine_shape: str
) -> Callable[[], SqlStore]:
    """Empties ``pg_store`` for a test that needs a fresh store more than once: deletes
    every row and restarts the sequences (as its schema's next test gets it), instead of
    ``drop_schema()`` and ``create_schema()`` (~1.5 s on PostgreSQL). A schema the test
    changed is dropped and created again. Returns ``pg_store``."""

    def empty() -> SqlStore:
        with postgres_admin.begin() as connection:
            connection.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
            emptied = _empty_if_pristine(connection, postgres_schema, _pristine_shape)
        if not emptied:
            pg_store.drop_schema()
            pg_store.create_schema()
        return pg_store

    return empty


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis URL (a database number the tests may flush)."""
    return service_url("redis")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say plainly which service-backed tests did not run, and how to run them.

    Read from the skip reports, not from state kept while skipping: under pytest-xdist
    the tests run (and skip) in worker processes."""
    reasons = " ".join(str(report.longrepr) for report in terminalreporter.stats.get("skipped", []))
    for service, (variable, example) in SERVICES.items():
        if f"{service} tests need a server: set {variable}" not in reasons:
            continue
        terminalreporter.write_line(
            f"bookingcore: {service} tests were SKIPPED; set {variable}={example} to run them",
            yellow=True,
        )


@pytest.fixture
def clock() -> FixedClock:
    """A clock standing at 2026-01-01 09:00 UTC."""
    return FixedClock()


@pytest.fixture
def store() -> MemoryStore:
    """An empty in-memory store."""
    return MemoryStore()


@pytest.fixture
def core(store: MemoryStore, clock: FixedClock) -> BookingCore:
    """A core over the memory store, reading national phone numbers as Indian."""
    return BookingCore(
        uow_factory=store.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(default_region="IN"),
    )


@pytest.fixture
def admin() -> Principal:
    """A staff member with every permission."""
    return Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


@pytest.fixture
def in_a_week(clock: FixedClock) -> timedelta:
    """How far ahead test slots start."""
    return timedelta(days=7)
