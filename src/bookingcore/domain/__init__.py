"""The booking domain: entities, value objects and the rules they own.

Pure Python over attrs, phonenumbers and email-validator: no I/O, no clock,
no framework. Time is passed in; storage lives behind :mod:`bookingcore.ports`.

.. versionadded:: 0.1
"""

from bookingcore.domain.bookings import Booking, BookingTraveler
from bookingcore.domain.catalog import Location, Product, ProductKind, Supplier
from bookingcore.domain.customers import Customer, Gender, Traveler, TravelerDetails
from bookingcore.domain.lifecycle import APPOINTMENT, PRESETS, RESERVATION, TRAVEL, Lifecycle
from bookingcore.domain.partners import Partner
from bookingcore.domain.policy import Permission, Principal, PrincipalKind, StaffRole
from bookingcore.domain.pricing import DiscountTier, PriceBreakdown, price_booking
from bookingcore.domain.queries import (
    BookingFilter,
    Cursor,
    CustomerFilter,
    Page,
    PageRequest,
    SlotFilter,
)
from bookingcore.domain.slots import Slot
from bookingcore.domain.sources import BookingSource
from bookingcore.domain.values import (
    Actor,
    ActorKind,
    BookingGroupId,
    BookingId,
    CustomerId,
    EmailAddress,
    LocationId,
    Money,
    PartnerId,
    PhoneNumber,
    ProductId,
    SlotId,
    StaffId,
    SupplierId,
    TravelerId,
)

__all__ = [
    "APPOINTMENT",
    "PRESETS",
    "RESERVATION",
    "TRAVEL",
    "Actor",
    "ActorKind",
    "Booking",
    "BookingFilter",
    "BookingGroupId",
    "BookingId",
    "BookingSource",
    "BookingTraveler",
    "Cursor",
    "Customer",
    "CustomerFilter",
    "CustomerId",
    "DiscountTier",
    "EmailAddress",
    "Gender",
    "Lifecycle",
    "Location",
    "LocationId",
    "Money",
    "Page",
    "PageRequest",
    "Partner",
    "PartnerId",
    "Permission",
    "PhoneNumber",
    "PriceBreakdown",
    "Principal",
    "PrincipalKind",
    "Product",
    "ProductId",
    "ProductKind",
    "Slot",
    "SlotFilter",
    "SlotId",
    "StaffId",
    "StaffRole",
    "Supplier",
    "SupplierId",
    "Traveler",
    "TravelerDetails",
    "TravelerId",
    "price_booking",
]
