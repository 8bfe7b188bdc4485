"""Application services: one use case per method, one unit of work per call.

Every method takes the asking :class:`~bookingcore.domain.policy.Principal`
as ``principal=`` and asks :mod:`bookingcore.domain.policy` before it reads or
changes anything.

.. versionadded:: 0.1
"""

from bookingcore.services._context import ServiceContext, Settings
from bookingcore.services.app import BookingCore
from bookingcore.services.bookings import (
    UNSET,
    BookingChanges,
    BookingRequest,
    BookingService,
    CustomerDetails,
    NewTraveler,
    SavedTraveler,
)
from bookingcore.services.catalog import CatalogService
from bookingcore.services.customers import CustomerMatch, CustomerService, Registration
from bookingcore.services.partners import PartnerService
from bookingcore.services.travelers import TravelerService

__all__ = [
    "UNSET",
    "BookingChanges",
    "BookingCore",
    "BookingRequest",
    "BookingService",
    "CatalogService",
    "CustomerDetails",
    "CustomerMatch",
    "CustomerService",
    "NewTraveler",
    "PartnerService",
    "Registration",
    "SavedTraveler",
    "ServiceContext",
    "Settings",
    "TravelerService",
]
