"""The booking domain: entities, value objects and the rules they own.

Pure Python over attrs, phonenumbers and email-validator: no I/O, no clock,
no framework. Time is passed in; storage lives behind :mod:`bookingcore.ports`.

This package is the one import path of the domain types that services return
(entities, statuses, events, lifecycle presets, audit entries, pages):
``from bookingcore.domain import Booking, Slot``. What a host passes in (the
ids, :class:`~bookingcore.Money`, :class:`~bookingcore.Principal`, the filters,
:class:`~bookingcore.Lifecycle`) is imported from :mod:`bookingcore` instead,
and each name has only one of the two homes. The modules inside this package
are the library's own layout, not import paths.

.. versionadded:: 0.1
.. versionchanged:: 0.1
   No longer re-exports the names :mod:`bookingcore` exports.
"""

from bookingcore.domain.archiving import KeptReason, final_states
from bookingcore.domain.assignment import Advisor, Assigner, AssignmentStrategy
from bookingcore.domain.attendance import (
    AttendanceEntry,
    AttendanceHistory,
    AttendanceRecord,
    RollCall,
    RollCallEntry,
    TravelerAttendance,
)
from bookingcore.domain.audit import AuditAction, AuditEntry
from bookingcore.domain.auth import AuthSession, RevocationReason
from bookingcore.domain.bookings import Author, Booking, BookingDraft, BookingTraveler, Raised
from bookingcore.domain.cancellation import CANCELLATION_METADATA_KEYS, CancellationTerms
from bookingcore.domain.catalog import (
    Location,
    Product,
    ProductFilter,
    ProductKind,
    Supplier,
    SupplierFilter,
)
from bookingcore.domain.certificates import (
    Certificate,
    CertificateFilter,
    CertificateId,
    CertificateState,
)
from bookingcore.domain.commissions import (
    CommissionEntry,
    CommissionEntryId,
    CommissionEntryKind,
    CommissionSummary,
)
from bookingcore.domain.communications import (
    Channel,
    Communication,
    CommunicationStatus,
    CommunicationType,
    MessageTemplate,
)
from bookingcore.domain.customers import Customer, Gender, Traveler
from bookingcore.domain.documents import Document, DocumentKind
from bookingcore.domain.events import (
    AttendanceRecorded,
    BookingCreated,
    BookingRescheduled,
    BookingsArchived,
    BookingStatusChanged,
    BookingUnarchived,
    BookingUpdated,
    CommunicationStatusChanged,
    CustomerRegistered,
    Delivery,
    DeliveryStatus,
    DocumentGenerated,
    DomainEvent,
    OutboxMessage,
    SerializedMessage,
    SlotCancelled,
    SlotRescheduled,
    TravelerChanged,
    WaitlistOffered,
    WaitlistOfferEnded,
)
from bookingcore.domain.groups import BookingGroup, BookingGroupStatus
from bookingcore.domain.idempotency import request_digest
from bookingcore.domain.import_people import (
    CUSTOMER_COLUMNS,
    TRAVELER_COLUMNS,
    CustomerRow,
    CustomerRowValidator,
    TravelerRow,
    TravelerRowValidator,
)
from bookingcore.domain.import_rows import COLUMNS, ColumnMapping, ColumnSpec, ValidRow, map_header
from bookingcore.domain.imports import (
    CellProblem,
    ImportJob,
    ImportKind,
    ImportRowError,
    ImportStatus,
    SourceRow,
    cell_name,
)
from bookingcore.domain.inbox import ReceiptStatus, WebhookReceipt
from bookingcore.domain.insights import (
    BookingNote,
    CustomerStats,
    StatusGroups,
    summarise_bookings,
)
from bookingcore.domain.invoices import (
    Invoice,
    InvoiceId,
    InvoiceKind,
    InvoiceLine,
    InvoiceSeries,
    invoice_number,
    series_key,
)
from bookingcore.domain.items import BookingItem, BookingItemKind, BookingItemStatus, items_total
from bookingcore.domain.jobs import JobRecord, JobRequest, JobRequested, JobState, Schedule
from bookingcore.domain.leads import Lead, LeadFilter, LeadSource, LeadStatus
from bookingcore.domain.lifecycle import (
    APPOINTMENT,
    PRESETS,
    RESERVATION,
    TRAVEL,
    LifecycleEvent,
    LifecycleProblem,
)
from bookingcore.domain.loyalty import LoyaltyStatus
from bookingcore.domain.partner_webhooks import (
    SignatureScheme,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookRetryPolicy,
    WebhookTopic,
)
from bookingcore.domain.partners import Partner, PartnerFilter
from bookingcore.domain.payments import (
    AttentionItem,
    AttentionReason,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from bookingcore.domain.policy import Permission
from bookingcore.domain.pricing import KeptVoucher, LoyaltyDiscount, PriceBreakdown, price_booking
from bookingcore.domain.queries import Cursor, Page, every_item
from bookingcore.domain.quotations import (
    Quotation,
    QuotationExpiredError,
    QuotationFilter,
    QuotationLine,
    QuotationStatus,
    QuotationSupersededError,
)
from bookingcore.domain.requirements import HeldCertificate, TravelerInfo
from bookingcore.domain.schedules import SlotsCreated
from bookingcore.domain.slots import Slot
from bookingcore.domain.sources import BookingSource
from bookingcore.domain.staff import StaffMember
from bookingcore.domain.tallies import (
    CohortTally,
    CommunicationTally,
    CustomerTally,
    DurationTally,
    FrequencyTally,
    GroupCounts,
    Grouping,
    GroupSums,
    ImportErrorTally,
    ImportTally,
    ImportTimingTally,
    LeadTally,
    SlotTally,
    SourceOverlapTally,
    StatusSet,
    TransitionTally,
    WaitlistTally,
)
from bookingcore.domain.taxes import TaxRates
from bookingcore.domain.trips import Itinerary, ItineraryDay, Trip
from bookingcore.domain.values import Actor, ActorKind, LeadId, QuotationId, TripId
from bookingcore.domain.vouchers import (
    Voucher,
    VoucherFilter,
    VoucherId,
    VoucherRedemption,
    VoucherRedemptionId,
)
from bookingcore.domain.waitlist import (
    WaitlistEntry,
    WaitlistPriority,
    WaitlistStatus,
    offer_order,
    pick_offers,
)

__all__ = [
    "APPOINTMENT",
    "CANCELLATION_METADATA_KEYS",
    "COLUMNS",
    "CUSTOMER_COLUMNS",
    "PRESETS",
    "RESERVATION",
    "TRAVEL",
    "TRAVELER_COLUMNS",
    "Actor",
    "ActorKind",
    "Advisor",
    "Assigner",
    "AssignmentStrategy",
    "AttendanceEntry",
    "AttendanceHistory",
    "AttendanceRecord",
    "AttendanceRecorded",
    "AttentionItem",
    "AttentionReason",
    "AuditAction",
    "AuditEntry",
    "AuthSession",
    "Author",
    "Booking",
    "BookingCreated",
    "BookingDraft",
    "BookingGroup",
    "BookingGroupStatus",
    "BookingItem",
    "BookingItemKind",
    "BookingItemStatus",
    "BookingNote",
    "BookingRescheduled",
    "BookingSource",
    "BookingStatusChanged",
    "BookingTraveler",
    "BookingUnarchived",
    "BookingUpdated",
    "BookingsArchived",
    "CancellationTerms",
    "CellProblem",
    "Certificate",
    "CertificateFilter",
    "CertificateId",
    "CertificateState",
    "Channel",
    "CohortTally",
    "ColumnMapping",
    "ColumnSpec",
    "CommissionEntry",
    "CommissionEntryId",
    "CommissionEntryKind",
    "CommissionSummary",
    "Communication",
    "CommunicationStatus",
    "CommunicationStatusChanged",
    "CommunicationTally",
    "CommunicationType",
    "Cursor",
    "Customer",
    "CustomerRegistered",
    "CustomerRow",
    "CustomerRowValidator",
    "CustomerStats",
    "CustomerTally",
    "Delivery",
    "DeliveryStatus",
    "Document",
    "DocumentGenerated",
    "DocumentKind",
    "DomainEvent",
    "DurationTally",
    "FrequencyTally",
    "Gender",
    "GroupCounts",
    "GroupSums",
    "Grouping",
    "HeldCertificate",
    "ImportErrorTally",
    "ImportJob",
    "ImportKind",
    "ImportRowError",
    "ImportStatus",
    "ImportTally",
    "ImportTimingTally",
    "Invoice",
    "InvoiceId",
    "InvoiceKind",
    "InvoiceLine",
    "InvoiceSeries",
    "Itinerary",
    "ItineraryDay",
    "JobRecord",
    "JobRequest",
    "JobRequested",
    "JobState",
    "KeptReason",
    "KeptVoucher",
    "Lead",
    "LeadFilter",
    "LeadId",
    "LeadSource",
    "LeadStatus",
    "LeadTally",
    "LifecycleEvent",
    "LifecycleProblem",
    "Location",
    "LoyaltyDiscount",
    "LoyaltyStatus",
    "MessageTemplate",
    "OutboxMessage",
    "Page",
    "Partner",
    "PartnerFilter",
    "Payment",
    "PaymentStatus",
    "Permission",
    "PriceBreakdown",
    "Product",
    "ProductFilter",
    "ProductKind",
    "Quotation",
    "QuotationExpiredError",
    "QuotationFilter",
    "QuotationId",
    "QuotationLine",
    "QuotationStatus",
    "QuotationSupersededError",
    "Raised",
    "ReceiptStatus",
    "Refund",
    "RefundStatus",
    "RevocationReason",
    "RollCall",
    "RollCallEntry",
    "Schedule",
    "SerializedMessage",
    "SignatureScheme",
    "Slot",
    "SlotCancelled",
    "SlotRescheduled",
    "SlotTally",
    "SlotsCreated",
    "SourceOverlapTally",
    "SourceRow",
    "StaffMember",
    "StatusGroups",
    "StatusSet",
    "Supplier",
    "SupplierFilter",
    "TaxRates",
    "TransitionTally",
    "Traveler",
    "TravelerAttendance",
    "TravelerChanged",
    "TravelerInfo",
    "TravelerRow",
    "TravelerRowValidator",
    "Trip",
    "TripId",
    "ValidRow",
    "Voucher",
    "VoucherFilter",
    "VoucherId",
    "VoucherRedemption",
    "VoucherRedemptionId",
    "WaitlistEntry",
    "WaitlistOfferEnded",
    "WaitlistOffered",
    "WaitlistPriority",
    "WaitlistStatus",
    "WaitlistTally",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookReceipt",
    "WebhookRetryPolicy",
    "WebhookTopic",
    "cell_name",
    "every_item",
    "final_states",
    "invoice_number",
    "items_total",
    "map_header",
    "offer_order",
    "pick_offers",
    "price_booking",
    "request_digest",
    "series_key",
    "summarise_bookings",
]
