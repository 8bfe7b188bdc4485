"""In-memory storage: every repository and the unit of work, safe under threads.

The default for tests, examples and single-process tools. A :class:`MemoryStore`
holds the data; each :meth:`MemoryStore.unit_of_work` is one transaction that
sees its own writes, stores all of them or none on commit, and runs alone: the
store's lock is held from ``__enter__`` to ``__exit__``, which is how
``slots.get_for_update`` keeps capacity exact across threads.

.. versionadded:: 0.1
"""

from bookingcore_adapters.memory._security import MemoryOtpStore, MemoryRateLimiter
from bookingcore_adapters.memory._store import MemoryStore
from bookingcore_adapters.memory._uow import MemoryUnitOfWork

__all__ = ["MemoryOtpStore", "MemoryRateLimiter", "MemoryStore", "MemoryUnitOfWork"]
