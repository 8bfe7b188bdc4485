"""bookingcore's schema migrations (Alembic), shipped with the package.

Create or upgrade the schema of a database with one command::

    python -m bookingcore_adapters.sql.migrations upgrade --url postgresql+psycopg://app@db/bookings

or from code, at deploy time::

    from bookingcore_adapters.sql import migrations

    migrations.upgrade("postgresql+psycopg://app@db/bookings")   # to the latest revision
    migrations.downgrade(store, "base")                           # back to an empty schema
    migrations.current(store)                                     # the revision it is at

``--url`` defaults to the ``BOOKINGCORE_DATABASE_URL`` environment variable;
``upgrade --sql`` prints the DDL instead of running it, for a DBA to review.
The applied revision is kept in its own table, :data:`VERSION_TABLE`, so the
host application's Alembic history can share the database.

.. versionadded:: 0.1
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine

__all__ = ["VERSION_TABLE", "current", "downgrade", "head", "main", "upgrade"]

#: The table recording which bookingcore revision a database is at.
VERSION_TABLE = "bookingcore_alembic_version"

#: Where the revisions live, in Alembic's ``package:directory`` form.
SCRIPT_LOCATION = "bookingcore_adapters.sql:migrations"

#: The environment variable the command line reads when ``--url`` is not given.
URL_VARIABLE = "BOOKINGCORE_DATABASE_URL"

Database = Engine | str


def _config(*, connection: Connection | None = None, url: str | None = None) -> Config:
    config = Config(stdout=sys.stdout)
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


@contextlib.contextmanager
def _connection(database: Database, *, migrating: bool = False) -> Iterator[Connection]:
    """A connection in a transaction that commits when the block succeeds.

    ``migrating``, on SQLite: foreign keys are not enforced while the block runs
    revisions and are checked (``PRAGMA foreign_key_check``) before the commit.
    SQLite changes a table's columns by copying it into a new table and dropping
    the old one (Alembic's batch mode), and with foreign keys on, that ``DROP
    TABLE`` deletes the rows that refer to it (``ON DELETE CASCADE``: a downgrade
    of ``bookings`` would empty ``booking_travelers``) or is refused. SQLite's own
    procedure for such changes turns them off the same way; a store's engine
    turns them on for every connection (see
    :class:`~bookingcore_adapters.sql.SqlStore`), and they are turned on again
    before the connection goes back to its pool. A migration that leaves a
    broken reference raises ``RuntimeError`` and commits nothing.
    """
    engine = create_engine(database) if isinstance(database, str) else database
    try:
        with engine.connect() as connection:
            if not migrating or connection.dialect.name != "sqlite":
                with connection.begin():
                    yield connection
                return
            with _sqlite_foreign_keys_off(connection), connection.begin():
                yield connection
                violations = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if violations:
                    msg = f"the migration left rows whose references are broken: {violations[:5]}"
                    raise RuntimeError(msg)
    finally:
        if isinstance(database, str):
            engine.dispose()


@contextlib.contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """``PRAGMA foreign_keys = OFF`` for the block, restored after it.

    The pragma is a no-op inside a transaction, so it is sent on the driver's
    connection before SQLAlchemy begins one (a store's engine sends ``BEGIN`` at
    that moment).
    """
    driver = connection.connection.driver_connection
    if driver is None:  # pragma: no cover - a live connection always has one
        msg = "the connection has no driver connection"
        raise RuntimeError(msg)
    enforced = driver.execute("PRAGMA foreign_keys").fetchone()[0]
    driver.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA foreign_keys = {'ON' if enforced else 'OFF'}")


def _engine_of(database: Database | object) -> Database:
    """Accept an :class:`~bookingcore_adapters.sql.SqlStore` too (anything with ``.engine``)."""
    engine = getattr(database, "engine", database)
    if not isinstance(engine, Engine | str):
        msg = f"expected a URL, an Engine or an SqlStore, not {type(database).__name__}"
        raise TypeError(msg)
    return engine


def upgrade(database: Database | object, revision: str = "head") -> None:
    """Bring the schema of ``database`` (a URL, Engine or SqlStore) up to ``revision``."""
    with _connection(_engine_of(database), migrating=True) as connection:
        command.upgrade(_config(connection=connection), revision)


def downgrade(database: Database | object, revision: str) -> None:
    """Take the schema of ``database`` back to ``revision`` (``"base"``: no tables at all)."""
    with _connection(_engine_of(database), migrating=True) as connection:
        command.downgrade(_config(connection=connection), revision)


def current(database: Database | object) -> str | None:
    """The revision ``database`` is at, or None for a database never migrated."""
    with _connection(_engine_of(database)) as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def head() -> str:
    """The latest revision this version of the package ships."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    if revision is None:  # pragma: no cover - the package always ships a revision
        msg = "no migrations are installed"
        raise RuntimeError(msg)
    return revision


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``upgrade``, ``downgrade``, ``current`` and ``history``."""
    parser = argparse.ArgumentParser(
        prog="python -m bookingcore_adapters.sql.migrations",
        description="Create, upgrade or downgrade bookingcore's tables in a database.",
    )
    parser.add_argument(
        "--url",
        default=os.environ.get(URL_VARIABLE),
        help=f"SQLAlchemy database URL (default: ${URL_VARIABLE})",
    )
    # ``--url`` reads the same before or after the command (``upgrade --url URL``).
    url_after = argparse.ArgumentParser(add_help=False)
    url_after.add_argument("--url", default=argparse.SUPPRESS, help="as before the command")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser(
        "upgrade", parents=[url_after], help="upgrade to a revision (default: head)"
    )
    up.add_argument("revision", nargs="?", default="head")
    up.add_argument("--sql", action="store_true", help="print the SQL instead of running it")
    down = commands.add_parser(
        "downgrade", parents=[url_after], help="downgrade to a revision ('base': empty)"
    )
    down.add_argument("revision")
    commands.add_parser(
        "current", parents=[url_after], help="print the revision the database is at"
    )
    commands.add_parser("history", help="list the revisions this package ships")
    args = parser.parse_args(argv)

    if args.command == "history":
        command.history(_config())
        return 0
    if not args.url:
        parser.error(f"give --url or set {URL_VARIABLE}")
    if args.command == "upgrade" and args.sql:
        command.upgrade(_config(url=args.url), args.revision, sql=True)
    elif args.command == "upgrade":
        upgrade(args.url, args.revision)
        print(f"bookingcore schema at {current(args.url)}")
    elif args.command == "downgrade":
        downgrade(args.url, args.revision)
        print(f"bookingcore schema at {current(args.url) or 'base (no tables)'}")
    else:
        print(current(args.url) or "base (not migrated)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
