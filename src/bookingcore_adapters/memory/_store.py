"""The in-memory store: the tables and the units of work over them."""

from __future__ import annotations

from bookingcore_adapters.memory._tables import MemoryTables
from bookingcore_adapters.memory._uow import MemoryUnitOfWork

__all__ = ["MemoryStore"]


class MemoryStore(MemoryTables):
    """Rows by table and id, unique indexes, and the lock every unit of work takes.

    .. versionadded:: 0.1
    """

    def unit_of_work(self) -> MemoryUnitOfWork:
        """A new transaction over this store (pass the bound method as ``uow_factory``)."""
        return MemoryUnitOfWork(self)
