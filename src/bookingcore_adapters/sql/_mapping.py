"""Compatibility names for ``bench/booking_queries.py``: every mapper, by its old name.

The mappers now live with their families (:mod:`._bookings`, :mod:`._customers`,
...), their base in :mod:`._mapper`, and the write order in :mod:`._uow`. Nothing
in the adapter imports this module.
"""

from bookingcore_adapters.sql._bookings import BOOKING_ITEMS, BOOKINGS
from bookingcore_adapters.sql._catalog import LOCATIONS, PRODUCTS, SLOTS, SUPPLIERS
from bookingcore_adapters.sql._customers import CUSTOMERS, TRAVELERS
from bookingcore_adapters.sql._events import (
    AUDIT,
    COMMUNICATIONS,
    DELIVERIES,
    DOCUMENTS,
    LIFECYCLE_EVENTS,
    OUTBOX,
)
from bookingcore_adapters.sql._identity import AUTH_SESSIONS, STAFF
from bookingcore_adapters.sql._imports import IMPORT_ERRORS, IMPORTS
from bookingcore_adapters.sql._mapper import Mapper, Row
from bookingcore_adapters.sql._partners import PARTNERS
from bookingcore_adapters.sql._payments import PAYMENTS, REFUNDS
from bookingcore_adapters.sql._uow import MAPPERS
from bookingcore_adapters.sql._waitlists import BOOKING_GROUPS, WAITLIST

__all__ = [
    "AUDIT",
    "AUTH_SESSIONS",
    "BOOKINGS",
    "BOOKING_GROUPS",
    "BOOKING_ITEMS",
    "COMMUNICATIONS",
    "CUSTOMERS",
    "DELIVERIES",
    "DOCUMENTS",
    "IMPORTS",
    "IMPORT_ERRORS",
    "LIFECYCLE_EVENTS",
    "LOCATIONS",
    "MAPPERS",
    "OUTBOX",
    "PARTNERS",
    "PAYMENTS",
    "PRODUCTS",
    "REFUNDS",
    "SLOTS",
    "STAFF",
    "SUPPLIERS",
    "TRAVELERS",
    "WAITLIST",
    "Mapper",
    "Row",
]
