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
from bookingcore.services.bookings import UNSET, BookedItem, BookingService, Transition
from bookingcore.services.catalog import CatalogService
from bookingcore.services.communications import CommunicationService
from bookingcore.services.customers import (
    CustomerHistory,
    CustomerMatch,
    CustomerService,
    Registration,
)
from bookingcore.services.dashboard import DashboardService, StaffDashboard
from bookingcore.services.events import (
    DispatchReport,
    EventDispatcher,
    HandlerContext,
    OutboxRelay,
    Subscription,
)
from bookingcore.services.imports import (
    ImportPlan,
    ImportPreview,
    ImportService,
    PreviewRow,
    Progress,
)
from bookingcore.services.items import BookingItemService
from bookingcore.services.leads import LeadRequest, LeadService
from bookingcore.services.partners import PartnerRegistration, PartnerService
from bookingcore.services.payments import PaymentIntent, PaymentService
from bookingcore.services.quotations import (
    QuotationRequest,
    QuotationService,
    QuoteLine,
    SentQuotation,
)
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
from bookingcore.services.trips import ItineraryService, TravelDocumentService, TripService

__all__ = [
    "AUDITED_ENTITIES",
    "UNSET",
    "AuditService",
    "AuthService",
    "BookedItem",
    "BookingItemService",
    "BookingService",
    "CatalogService",
    "CommunicationService",
    "CurrencyTotals",
    "CustomerHistory",
    "CustomerMatch",
    "CustomerService",
    "DashboardService",
    "DispatchReport",
    "DocumentHandler",
    "EventDispatcher",
    "HandlerContext",
    "ImportPlan",
    "ImportPreview",
    "ImportService",
    "ItineraryService",
    "LeadRequest",
    "LeadService",
    "MessageHandler",
    "OtpRequested",
    "OutboxRelay",
    "PartnerRegistration",
    "PartnerService",
    "PaymentIntent",
    "PaymentService",
    "PreviewRow",
    "Progress",
    "QuotationRequest",
    "QuotationService",
    "QuoteLine",
    "ReconciliationLine",
    "ReconciliationReport",
    "ReconciliationState",
    "Registration",
    "ReportService",
    "SentQuotation",
    "ServiceContext",
    "SignedIn",
    "StaffDashboard",
    "StaffService",
    "StrayPayment",
    "StrayReason",
    "Subscription",
    "TokenPair",
    "Transaction",
    "Transition",
    "TravelDocumentService",
    "TravelerService",
    "TripService",
]
