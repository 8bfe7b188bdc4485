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

from bookingcore.services._context import ServiceContext, Transaction
from bookingcore.services.audit import AUDITED_ENTITIES, AuditService
from bookingcore.services.auth import AuthService, OtpRequested, SignedIn, TokenPair
from bookingcore.services.automations import DocumentHandler, MessageHandler
from bookingcore.services.bookings import UNSET, BookingService, Transition
from bookingcore.services.catalog import CatalogService
from bookingcore.services.certificates import (
    DEFAULT_RENEWAL_LEAD,
    CertificateService,
    ComplianceLine,
    ComplianceReport,
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
    TravelerRequirement,
    status_groups,
)
from bookingcore.services.events import (
    DispatchReport,
    EventDispatcher,
    HandlerContext,
    OutboxRelay,
    Subscription,
)
from bookingcore.services.exports import BOOKING_EXPORT_COLUMNS, ExportService
from bookingcore.services.imports import (
    ImportPlan,
    ImportPreview,
    ImportService,
    PreviewRow,
    Progress,
)
from bookingcore.services.partners import PartnerRegistration, PartnerService
from bookingcore.services.payments import PaymentIntent, PaymentService
from bookingcore.services.privacy import ERASED_TEXT, PERSONAL_FIELDS, PrivacyService
from bookingcore.services.reports import (
    CurrencyTotals,
    ReconciliationLine,
    ReconciliationReport,
    ReconciliationState,
    ReportService,
    StrayPayment,
    StrayReason,
)
from bookingcore.services.staff import StaffService
from bookingcore.services.travelers import TravelerService

__all__ = [
    "AUDITED_ENTITIES",
    "BOOKING_EXPORT_COLUMNS",
    "DEFAULT_RENEWAL_LEAD",
    "ERASED_TEXT",
    "PERSONAL_FIELDS",
    "UNSET",
    "AuditService",
    "AuthService",
    "BookingService",
    "CatalogService",
    "CertificateService",
    "CommunicationService",
    "ComplianceLine",
    "ComplianceReport",
    "CurrencyTotals",
    "CustomerHistory",
    "CustomerMatch",
    "CustomerService",
    "CustomerView",
    "DispatchReport",
    "DocumentHandler",
    "EventDispatcher",
    "ExportService",
    "HandlerContext",
    "ImportPlan",
    "ImportPreview",
    "ImportService",
    "MessageHandler",
    "OtpRequested",
    "OutboxRelay",
    "PartnerRegistration",
    "PartnerService",
    "PaymentIntent",
    "PaymentService",
    "PreviewRow",
    "PrivacyService",
    "Progress",
    "RebookingSuggestion",
    "ReconciliationLine",
    "ReconciliationReport",
    "ReconciliationState",
    "Registration",
    "ReportService",
    "ServiceContext",
    "SignedIn",
    "StaffNote",
    "StaffService",
    "StrayPayment",
    "StrayReason",
    "Subscription",
    "TokenPair",
    "Transaction",
    "Transition",
    "TravelerRequirement",
    "TravelerService",
    "status_groups",
]
