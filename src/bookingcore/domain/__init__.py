"""The booking domain: entities, value objects and the rules they own.

Pure Python over attrs, phonenumbers and email-validator: no I/O, no clock,
no framework. Time is passed in; storage lives behind :mod:`bookingcore.ports`.

.. versionadded:: 0.1
"""

from bookingcore.domain.assignment import Advisor, Assigner, AssignmentStrategy
from bookingcore.domain.audit import AuditAction, AuditEntry
from bookingcore.domain.auth import AuthSession, RevocationReason
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
from bookingcore.domain.import_rows import COLUMNS, ColumnMapping, ColumnSpec, ValidRow, map_header
from bookingcore.domain.imports import (
    CellProblem,
    ImportJob,
    ImportRowError,
    ImportStatus,
    SourceRow,
    cell_name,
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
from bookingcore.domain.staff import StaffMember
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
    "COLUMNS",
    "PRESETS",
    "RESERVATION",
    "TRAVEL",
    "Actor",
    "ActorKind",
    "Advisor",
    "Assigner",
    "AssignmentStrategy",
    "AuditAction",
    "AuditEntry",
    "AuthSession",
    "Booking",
    "BookingCreated",
    "BookingFilter",
    "BookingGroupId",
    "BookingId",
    "BookingSource",
    "BookingStatusChanged",
    "BookingTraveler",
    "BookingUpdated",
    "CellProblem",
    "Channel",
    "ColumnMapping",
    "ColumnSpec",
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
    "ImportJob",
    "ImportRowError",
    "ImportStatus",
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
    "RevocationReason",
    "Slot",
    "SlotFilter",
    "SlotId",
    "SourceRow",
    "StaffId",
    "StaffMember",
    "StaffRole",
    "Supplier",
    "SupplierId",
    "Traveler",
    "TravelerChanged",
    "TravelerDetails",
    "TravelerId",
    "ValidRow",
    "cell_name",
    "map_header",
    "price_booking",
]
