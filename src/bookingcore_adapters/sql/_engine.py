"""What the store, the unit of work and the OTP and rate-limit stores agree on about connections.

The bottom of the adapter's transaction code: it imports nothing of the adapter,
so :mod:`._session`, :mod:`._identity` and :mod:`._store` can all use it.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

__all__ = [
    "BEGIN_STATEMENT",
    "CONCURRENCY_STATES",
    "DEFAULT_RETRIES",
    "RETRY_PAUSE",
    "StoreSettings",
    "sqlstate",
]

#: Key in ``Connection.info`` naming the statement that begins the next SQLite transaction.
BEGIN_STATEMENT = "bookingcore.begin"

#: How many times a unit of work repeats a step the database aborted for a deadlock or a
#: serialization failure before it gives up with ConcurrentUpdateError.
DEFAULT_RETRIES = 3

#: SQLSTATEs a concurrent transaction causes on PostgreSQL: serialization failure, deadlock.
CONCURRENCY_STATES = frozenset({"40001", "40P01"})

#: The first pause before repeating an aborted step (seconds); it doubles each time, jittered.
RETRY_PAUSE = 0.005


class StoreSettings(Protocol):
    """What a unit of work or an OTP store needs of its store (:class:`SqlStore` has it)."""

    @property
    def engine(self) -> Engine:
        """The engine to connect with."""
        ...

    @property
    def dialect(self) -> str:
        """The engine's dialect name (``sqlite``, ``postgresql``)."""
        ...

    @property
    def retries(self) -> int:
        """How often a step aborted by a deadlock or serialization failure is repeated."""
        ...

    @property
    def pipelined(self) -> bool:
        """Whether commits send their writes in one psycopg pipeline."""
        ...

    @property
    def log_parameters(self) -> bool:
        """Whether statements logged on ``bookingcore.sql`` show their parameters."""
        ...


def sqlstate(exc: DBAPIError) -> str | None:
    """The SQLSTATE the driver reported for ``exc``, if it reports one."""
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return state if isinstance(state, str) else None
