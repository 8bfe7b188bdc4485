"""Application services: one use case per method, one unit of work per call.

Every method takes the asking :class:`~bookingcore.Principal` as
``principal=`` and asks the policy before it reads or changes anything.

This package is the one import path of the service classes (reached as
attributes of :class:`~bookingcore.BookingCore`, e.g. ``core.bookings``), of
what they return (``Transition``, ``ImportPlan``, ``SignedIn``, ...) and of
the event dispatcher's types. :class:`~bookingcore.BookingCore`, its settings
and the request types are imported from :mod:`bookingcore`.

.. versionadded:: 0.1
.. versionchanged:: 0.1
   No longer re-exports the names :mod:`bookingcore` exports.
"""

from bookingcore.services._context import UNSET, ServiceContext, Transaction, Unset
from bookingcore.services.archiving import ArchiveRun, ArchiveService, ArchiveSummary
from bookingcore.services.audit import AUDITED_ENTITIES, AuditService
from bookingcore.services.auth import (
    AuthService,
    OtpRequested,
    SignedIn,
    TokenPair,
    otp_phone_bucket,
)
from bookingcore.services.automations import (
    AssigneeNoticeHandler,
    BookingMessageHandler,
    DocumentHandler,
    MessageHandler,
    PushMessageHandler,
)
from bookingcore.services.bookings import (
    AdvisorNote,
    BookedItem,
    BookingService,
    Rescheduled,
    SeatClaim,
    Transition,
)
from bookingcore.services.catalog import (
    MAX_SLOT_BOOKINGS,
    CatalogService,
    SlotCancellation,
    SlotMoved,
)
from bookingcore.services.certificates import (
    DEFAULT_RENEWAL_LEAD,
    CertificateService,
    ComplianceLine,
    ComplianceReport,
)
from bookingcore.services.commissions import (
    CommissionReport,
    CommissionReportLine,
    CommissionService,
)
from bookingcore.services.communications import CommunicationService
from bookingcore.services.customers import (
    CustomerHistory,
    CustomerMatch,
    CustomerService,
    CustomerView,
    RebookingSuggestion,
    Registration,
    StaffNote,
    StaffNoteKind,
    TravelerRequirement,
    status_groups,
)
from bookingcore.services.dashboard import DashboardService, StaffDashboard
from bookingcore.services.devices import DeviceRegistration, PushDeviceService
from bookingcore.services.events import (
    DispatchReport,
    EventDispatcher,
    HandlerContext,
    OutboxRelay,
    Subscription,
)
from bookingcore.services.exports import BOOKING_EXPORT_COLUMNS, ExportService
from bookingcore.services.families import (
    FamilyMemberView,
    FamilyService,
    FamilyView,
    ReceivedInvitation,
)
from bookingcore.services.groups import GroupService, GroupTotals
from bookingcore.services.imports import (
    ImportFilePurgedError,
    ImportPlan,
    ImportPreview,
    ImportRow,
    ImportService,
    PreviewRow,
    Progress,
)
from bookingcore.services.invoicing import InvoiceService
from bookingcore.services.items import BookingItemService
from bookingcore.services.jobs import (
    JobAttempt,
    JobCatalog,
    JobCounters,
    JobService,
    JobsNotConfiguredError,
)
from bookingcore.services.leads import LeadRequest, LeadService
from bookingcore.services.partners import PartnerRegistration, PartnerService
from bookingcore.services.payments import PaymentAttention, PaymentIntent, PaymentService
from bookingcore.services.privacy import ERASED_TEXT, PERSONAL_FIELDS, PrivacyService
from bookingcore.services.quotations import (
    QuotationRequest,
    QuotationService,
    QuoteLine,
    SentQuotation,
)
from bookingcore.services.reports import (
    DEFAULT_FREQUENCY_BUCKETS,
    AdvisorWorkload,
    BookingSourceLine,
    CancellationLine,
    CohortLine,
    CurrencyTotals,
    CustomerValue,
    DurationSummary,
    EngagementLine,
    FrequencyLine,
    ImportErrorLine,
    ImportPerformance,
    ImportTimingLine,
    LeadSourceLine,
    ReconciliationLine,
    ReconciliationReport,
    ReconciliationState,
    ReportService,
    RevenueLine,
    SourceConversion,
    SourceOverlapLine,
    StrayPayment,
    StrayReason,
    TransitionLine,
    UtilisationLine,
    WaitlistConversion,
)
from bookingcore.services.sharing import TripSharingService
from bookingcore.services.staff import StaffService
from bookingcore.services.travelers import TravelerService
from bookingcore.services.trips import ItineraryService, TravelDocumentService, TripService
from bookingcore.services.vouchers import VoucherService
from bookingcore.services.waitlists import WaitlistPlace, WaitlistService
from bookingcore.services.webhooks import WebhookRunReport, WebhookService, WebhookSettings

__all__ = [
    "AUDITED_ENTITIES",
    "BOOKING_EXPORT_COLUMNS",
    "DEFAULT_FREQUENCY_BUCKETS",
    "DEFAULT_RENEWAL_LEAD",
    "ERASED_TEXT",
    "MAX_SLOT_BOOKINGS",
    "PERSONAL_FIELDS",
    "UNSET",
    "AdvisorNote",
    "AdvisorWorkload",
    "ArchiveRun",
    "ArchiveService",
    "ArchiveSummary",
    "AssigneeNoticeHandler",
    "AuditService",
    "AuthService",
    "BookedItem",
    "BookingItemService",
    "BookingMessageHandler",
    "BookingService",
    "BookingSourceLine",
    "CancellationLine",
    "CatalogService",
    "CertificateService",
    "CohortLine",
    "CommissionReport",
    "CommissionReportLine",
    "CommissionService",
    "CommunicationService",
    "ComplianceLine",
    "ComplianceReport",
    "CurrencyTotals",
    "CustomerHistory",
    "CustomerMatch",
    "CustomerService",
    "CustomerValue",
    "CustomerView",
    "DashboardService",
    "DeviceRegistration",
    "DispatchReport",
    "DocumentHandler",
    "DurationSummary",
    "EngagementLine",
    "EventDispatcher",
    "ExportService",
    "FamilyMemberView",
    "FamilyService",
    "FamilyView",
    "FrequencyLine",
    "GroupService",
    "GroupTotals",
    "HandlerContext",
    "ImportErrorLine",
    "ImportFilePurgedError",
    "ImportPerformance",
    "ImportPlan",
    "ImportPreview",
    "ImportRow",
    "ImportService",
    "ImportTimingLine",
    "InvoiceService",
    "ItineraryService",
    "JobAttempt",
    "JobCatalog",
    "JobCounters",
    "JobService",
    "JobsNotConfiguredError",
    "LeadRequest",
    "LeadService",
    "LeadSourceLine",
    "MessageHandler",
    "OtpRequested",
    "OutboxRelay",
    "PartnerRegistration",
    "PartnerService",
    "PaymentAttention",
    "PaymentIntent",
    "PaymentService",
    "PreviewRow",
    "PrivacyService",
    "Progress",
    "PushDeviceService",
    "PushMessageHandler",
    "QuotationRequest",
    "QuotationService",
    "QuoteLine",
    "RebookingSuggestion",
    "ReceivedInvitation",
    "ReconciliationLine",
    "ReconciliationReport",
    "ReconciliationState",
    "Registration",
    "ReportService",
    "Rescheduled",
    "RevenueLine",
    "SeatClaim",
    "SentQuotation",
    "ServiceContext",
    "SignedIn",
    "SlotCancellation",
    "SlotMoved",
    "SourceConversion",
    "SourceOverlapLine",
    "StaffDashboard",
    "StaffNote",
    "StaffNoteKind",
    "StaffService",
    "StrayPayment",
    "StrayReason",
    "Subscription",
    "TokenPair",
    "Transaction",
    "Transition",
    "TransitionLine",
    "TravelDocumentService",
    "TravelerRequirement",
    "TravelerService",
    "TripService",
    "TripSharingService",
    "Unset",
    "UtilisationLine",
    "VoucherService",
    "WaitlistConversion",
    "WaitlistPlace",
    "WaitlistService",
    "WebhookRunReport",
    "WebhookService",
    "WebhookSettings",
    "otp_phone_bucket",
    "status_groups",
]
