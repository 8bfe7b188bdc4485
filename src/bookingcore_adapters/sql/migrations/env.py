"""Alembic's environment for bookingcore's own migrations.

Run them through :mod:`bookingcore_adapters.sql.migrations` (or ``python -m
bookingcore_adapters.sql.migrations``), which hands this script a connection;
the version is kept in ``bookingcore_alembic_version`` so a host's own Alembic
history can live in the same database.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from bookingcore_adapters.sql import metadata
from bookingcore_adapters.sql.migrations import VERSION_TABLE

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        _run(given)
    else:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
        try:
            with engine.connect() as connection:
                _run(connection)
        finally:
            engine.dispose()
