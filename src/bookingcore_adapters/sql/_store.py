"""The SQL store: an engine set up for bookingcore, and the schema on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

from bookingcore_adapters.sql._bookings import describe_periods
from bookingcore_adapters.sql._driver import supports_pipeline
from bookingcore_adapters.sql._engine import BEGIN_STATEMENT, DEFAULT_RETRIES
from bookingcore_adapters.sql._queries import (
    SQLITE_DIGITS,
    SQLITE_FOLD,
    SQLITE_LOCAL_PERIOD,
    digits,
    fold,
    local_period_start,
)
from bookingcore_adapters.sql._schema import json_text, metadata
from bookingcore_adapters.sql._uow import SqlUnitOfWork

if TYPE_CHECKING:
    from bookingcore.ports.uow import UnitOfWorkFactory

__all__ = ["SqlStore"]

#: How long a SQLite connection waits for another writer before giving up (seconds).
SQLITE_BUSY_TIMEOUT = 30.0


#: SQLite's page cache per connection, in KiB (its default is 2 MiB). A bulk import
#: adds entries to fifteen booking indexes; once they outgrow 2 MiB every insert reads
#: index pages back from the operating system. At 100k imported rows, 32 MiB made the
#: import about 30 % faster; the cache fills only as far as the database needs it.
SQLITE_CACHE_KIB = 32 * 1024


def _sqlite_connect(dbapi_connection: Any, connection_record: Any) -> None:
    """Take transaction control from pysqlite, enforce foreign keys, use WAL, cache more,
    and register the functions the queries call (case folding, digits, local periods)."""
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    finally:
        cursor.close()
    dbapi_connection.create_function(SQLITE_FOLD, 1, fold, deterministic=True)
    dbapi_connection.create_function(SQLITE_DIGITS, 1, digits, deterministic=True)
    # Reports' periods in the business's zone: SQLite has no time-zone database.
    dbapi_connection.create_function(SQLITE_LOCAL_PERIOD, 3, local_period_start, deterministic=True)


def _sqlite_begin(connection: Connection) -> None:
    """``BEGIN``, or ``BEGIN IMMEDIATE`` when the unit of work needs the write lock now."""
    connection.exec_driver_sql(connection.info.pop(BEGIN_STATEMENT, "BEGIN"))


class SqlStore:
    """bookingcore's tables in a SQL database, and units of work over them.

    Pass an SQLAlchemy :class:`~sqlalchemy.Engine` or a URL
    (``sqlite:///bookings.db``, ``postgresql+psycopg://user@host/db``); extra
    keyword arguments go to :func:`~sqlalchemy.create_engine` when a URL is
    given. SQLite connections get foreign keys, WAL and a busy timeout; give a
    file, not ``:memory:``, when several threads use the store. For an engine
    you built yourself, build the store before the engine's first connection.

    ``retries`` bounds how often a unit of work repeats a step that the
    database aborted for a deadlock or a serialization failure (PostgreSQL
    SQLSTATE ``40P01``/``40001``) before it raises
    :class:`~bookingcore.errors.ConcurrentUpdateError`; see
    :class:`~bookingcore_adapters.sql.SqlUnitOfWork`.

    With psycopg 3 (PostgreSQL), a commit sends all its writes in one pipeline,
    and its ``COMMIT`` with them when no version check can fail: one network
    round trip instead of one per statement, and the hot look-ups (by id, by a
    unique key, locked) run on a psycopg cursor of their own each. Those
    statements go to the driver directly, so the engine's
    ``before_cursor_execute`` and ``after_cursor_execute`` listeners do not see
    them (they are logged on the ``bookingcore.sql`` logger at DEBUG level).
    ``pipeline=False`` sends every statement through SQLAlchemy, one by one, as
    with every other driver, for listeners (tracers, statement counters) that
    must see them all.

    Statements are logged without their parameters, which may be password or
    code hashes, tokens, webhook secrets or personal data, and an engine the
    store builds from a URL gets ``hide_parameters=True`` (SQLAlchemy's own
    ``echo`` logging and its error messages leave the values out too).
    ``log_parameters=True`` (for debugging against test data) logs them on
    ``bookingcore.sql`` and builds the engine with ``hide_parameters=False``;
    an ``hide_parameters`` engine option, or an engine passed in, keeps its own
    setting for SQLAlchemy's logging.

    ``store.unit_of_work`` is the :data:`~bookingcore.ports.uow.UnitOfWorkFactory`
    to hand the services. :meth:`migrate` creates or upgrades the schema with
    the shipped Alembic migrations; :meth:`create_schema` and
    :meth:`drop_schema` (no migration history) are for tests.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4 ``log_parameters``; before, statements sent straight to
       the driver were logged with their parameters.
    """

    def __init__(
        self,
        engine: Engine | URL | str,
        *,
        retries: int = DEFAULT_RETRIES,
        pipeline: bool = True,
        log_parameters: bool = False,
        **engine_options: Any,
    ) -> None:
        if retries < 0:
            msg = "retries must be zero or more"
            raise ValueError(msg)
        self.retries = retries
        if isinstance(engine, Engine):
            if engine_options:
                msg = "engine options apply only when the store builds the engine from a URL"
                raise TypeError(msg)
            self.engine = engine
        else:
            defaults = _defaults(make_url(engine)) | {"hide_parameters": not log_parameters}
            self.engine = create_engine(engine, **(defaults | engine_options))
        self.dialect = self.engine.dialect.name
        #: Whether commits send their writes in one driver pipeline (see above).
        self.pipelined = pipeline and supports_pipeline(self.engine.dialect)
        #: Whether statements logged on ``bookingcore.sql`` show their parameters (see above).
        self.log_parameters = log_parameters
        if self.dialect == "sqlite":
            for name, listener in (("connect", _sqlite_connect), ("begin", _sqlite_begin)):
                if not event.contains(self.engine, name, listener):
                    event.listen(self.engine, name, listener)

    def unit_of_work(self) -> SqlUnitOfWork:
        """A new transaction over this store (pass the bound method as ``uow_factory``)."""
        return SqlUnitOfWork(self)

    def migrate(self, revision: str = "head") -> None:
        """Create or upgrade the schema with the shipped migrations (to the latest by default).

        The same as ``python -m bookingcore_adapters.sql.migrations upgrade``;
        see :mod:`bookingcore_adapters.sql.migrations`.
        """
        from bookingcore_adapters.sql import migrations  # noqa: PLC0415 - Alembic only when asked

        migrations.upgrade(self.engine, revision)

    def create_schema(self) -> None:
        """Create every table and index that does not exist yet (no migration history)."""
        metadata.create_all(self.engine)

    def describe_report_periods(self, zone: ZoneInfo) -> None:
        """Tell PostgreSQL's planner how few days and months the bookings make in ``zone``.

        Reports group bookings by the calendar of ``Settings.timezone``. The schema
        describes the UTC periods (statistics objects, revision 0025); for a business
        in another zone, call this once (after :meth:`migrate`, not per request) with
        its zone: it creates the same three statistics objects on that zone's
        periods, if missing, and runs ``ANALYZE`` on the bookings so they fill.
        Without them, on a million bookings, the planner guesses hundreds of
        thousands of groups and plans one serial aggregate instead of parallel
        ones. Their names are those of revision 0025's followed by the zone's
        (``st_bookings_created_month_asia_kolkata_<digest>``); drop a zone no
        longer used with ``DROP STATISTICS``. Does nothing on SQLite.

        Raises:
            ValueError: ``zone`` has no IANA name (one read with ``ZoneInfo.from_file``).

        .. versionadded:: 0.4
        """
        if self.dialect != "postgresql":
            return
        with self.engine.begin() as connection:
            describe_periods(connection, zone, if_missing=True, analyze=True)

    def drop_schema(self) -> None:
        """Drop every table of the adapter, with its data."""
        metadata.drop_all(self.engine)

    def dispose(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"SqlStore({self.engine.url.render_as_string(hide_password=True)!r})"


def _defaults(url: URL) -> dict[str, Any]:
    if url.get_backend_name() != "sqlite":
        return {}
    if url.database in (None, "", ":memory:"):
        # One shared connection, or every checkout would see its own empty database.
        return {
            "poolclass": StaticPool,
            "connect_args": {"check_same_thread": False},
            "json_serializer": json_text,
        }
    return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT}, "json_serializer": json_text}


if TYPE_CHECKING:

    def _is_a_unit_of_work_factory(store: SqlStore) -> UnitOfWorkFactory:
        return store.unit_of_work  # mypy checks the unit of work against the port
