"""Job engines behind :class:`~bookingcore.ports.JobQueue`.

* :class:`InProcessJobQueue` (here): jobs wait in memory and run in the
  calling process, on :meth:`~InProcessJobQueue.run_pending` or in a
  background thread. The default for memory and SQLite stores and for tests.
* ``bookingcore_adapters.jobs.procrastinate.ProcrastinateJobQueue`` (extra
  ``jobs``): procrastinate on PostgreSQL, for several app servers and workers.

.. versionadded:: 0.1
"""

from bookingcore_adapters.jobs._inprocess import InProcessJobQueue

__all__ = ["InProcessJobQueue"]
