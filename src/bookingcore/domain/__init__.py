"""The booking domain: entities, value objects and the rules they own.

Pure Python over attrs, phonenumbers and email-validator: no I/O, no clock,
no framework. Time is passed in; storage lives behind :mod:`bookingcore.ports`.

.. versionadded:: 0.1
"""

from bookingcore.domain.audit import AuditAction, AuditEntry
from bookingcore.domain.bookings import Booking, BookingTraveler
from bookingcore.domain.catalog import Location, Product, ProductKind, Supplier
from bookingcore.domain.communications import (
    Channel,
    Communication,
    CommunicationStatus,
    CommunicationType,
    MessageTemplate,
)
from bookingcore.domain.customers import Customer, Gender, Traveler, TravelerDetails
from bookingcore.domain.documents import Document, DocumentKind
from bookingcore.domain.events import (
    BookingCreated,
    BookingStatusChanged,
    BookingUpdated,
    CommunicationStatusChanged,
    CustomerRegistered,
    Delivery,
    DeliveryStatus,
    DocumentGenerated,
    DomainEvent,
    OutboxMessage,
    RetryPolicy,
    TravelerChanged,
)
from bookingcore.domain.lifecycle import (
    APPOINTMENT,
    PRESETS,
    RESERVATION,
    TRAVEL,
    Lifecycle,
    LifecycleEvent,
    LifecycleProblem,
)
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
    CommunicationId,
    CustomerId,
    DocumentId,
    EmailAddress,
    LocationId,
    Money,
    PartnerId,
    PhoneNumber,
    ProductId,
    RequestOrigin,
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
    "AuditAction",
    "AuditEntry",
    "Booking",
    "BookingCreated",
    "BookingFilter",
    "BookingGroupId",
    "BookingId",
    "BookingSource",
    "BookingStatusChanged",
    "BookingTraveler",
    "BookingUpdated",
    "Channel",
    "Communication",
    "CommunicationId",
    "CommunicationStatus",
    "CommunicationStatusChanged",
    "CommunicationType",
    "Cursor",
    "Customer",
    "CustomerFilter",
    "CustomerId",
    "CustomerRegistered",
    "Delivery",
    "DeliveryStatus",
    "DiscountTier",
    "Document",
    "DocumentGenerated",
    "DocumentId",
    "DocumentKind",
    "DomainEvent",
    "EmailAddress",
    "Gender",
    "Lifecycle",
    "LifecycleEvent",
    "LifecycleProblem",
    "Location",
    "LocationId",
    "MessageTemplate",
    "Money",
    "OutboxMessage",
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
    "RequestOrigin",
    "RetryPolicy",
    "Slot",
    "SlotFilter",
    "SlotId",
    "StaffId",
    "StaffRole",
    "Supplier",
    "SupplierId",
    "Traveler",
    "TravelerChanged",
    "TravelerDetails",
    "TravelerId",
    "price_booking",
]
