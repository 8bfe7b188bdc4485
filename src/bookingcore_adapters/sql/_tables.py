"""Compatibility names for the shipped migrations: the column types and the metadata.

The tables now live with their families (:mod:`._bookings`, :mod:`._customers`,
...), the shared types in :mod:`._schema`. Revisions 0001-0004 import
``ExactDecimal`` and ``UtcDateTime`` from here, and ``migrations/env.py``
imports ``metadata``; this module goes once they no longer do. Importing it
imports the package, so :data:`metadata` holds every table.
"""

from bookingcore_adapters.sql._schema import ExactDecimal, UtcDateTime, metadata

__all__ = ["ExactDecimal", "UtcDateTime", "metadata"]
