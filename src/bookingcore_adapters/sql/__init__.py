"""SQL storage: every repository and the unit of work over SQLAlchemy Core.

SQLite is the embedded default, PostgreSQL (psycopg 3) the production target::

    store = SqlStore("sqlite:///bookings.db")
    store.migrate()  # create or upgrade the tables (Alembic, shipped with the package)
    core = BookingCore(uow_factory=store.unit_of_work, ...)

Deployments run ``python -m bookingcore_adapters.sql.migrations upgrade --url URL``
once per release instead; see :mod:`bookingcore_adapters.sql.migrations`.

The domain classes stay plain: explicit mapping functions turn entities into
rows of the tables in :data:`metadata` and back. Each unit of work tracks what
it read, writes every addition and change on commit in one transaction, and
turns broken unique keys and stale versions into bookingcore's own errors.

:class:`SqlOtpStore` and :class:`SqlRateLimiter` keep OTP challenges and rate
limits in the same database, atomic across app processes, for deployments
without Redis.

.. versionadded:: 0.1
"""

from bookingcore_adapters.sql._identity import SqlOtpStore, SqlRateLimiter
from bookingcore_adapters.sql._schema import metadata
from bookingcore_adapters.sql._store import SqlStore
from bookingcore_adapters.sql._uow import SqlUnitOfWork

__all__ = ["SqlOtpStore", "SqlRateLimiter", "SqlStore", "SqlUnitOfWork", "metadata"]
