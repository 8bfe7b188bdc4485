"""Application services: one use case per method, one unit of work per call.

Every method takes the asking :class:`~bookingcore.domain.policy.Principal`
as ``principal=`` and asks :mod:`bookingcore.domain.policy` before it reads or
changes anything.

.. versionadded:: 0.1
"""

from bookingcore.services._context import ServiceContext, Settings, Transaction
from bookingcore.services.app import BookingCore
from bookingcore.services.audit import AUDITED_ENTITIES, AuditService
from bookingcore.services.auth import (
    AuthNotConfiguredError,
    AuthService,
    AuthSettings,
    OtpRequested,
    RateLimit,
    SignedIn,
    TokenLifetimes,
    TokenPair,
)
from bookingcore.services.automations import Automations, DocumentHandler, MessageHandler
from bookingcore.services.bookings import (
    UNSET,
    BookingChanges,
    BookingRequest,
    BookingService,
    CustomerDetails,
    NewTraveler,
    SavedTraveler,
    Transition,
)
from bookingcore.services.catalog import CatalogService
from bookingcore.services.communications import CommunicationService
from bookingcore.services.customers import (
    CustomerHistory,
    CustomerMatch,
    CustomerService,
    Registration,
)
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
    ImportSettings,
    PreviewRow,
    Progress,
)
from bookingcore.services.partners import PartnerLimits, PartnerRegistration, PartnerService
from bookingcore.services.staff import StaffService
from bookingcore.services.travelers import TravelerService

__all__ = [
    "AUDITED_ENTITIES",
    "UNSET",
    "AuditService",
    "AuthNotConfiguredError",
    "AuthService",
    "AuthSettings",
    "Automations",
    "BookingChanges",
    "BookingCore",
    "BookingRequest",
    "BookingService",
    "CatalogService",
    "CommunicationService",
    "CustomerDetails",
    "CustomerHistory",
    "CustomerMatch",
    "CustomerService",
    "DispatchReport",
    "DocumentHandler",
    "EventDispatcher",
    "HandlerContext",
    "ImportPlan",
    "ImportPreview",
    "ImportService",
    "ImportSettings",
    "MessageHandler",
    "NewTraveler",
    "OtpRequested",
    "OutboxRelay",
    "PartnerLimits",
    "PartnerRegistration",
    "PartnerService",
    "PreviewRow",
    "Progress",
    "RateLimit",
    "Registration",
    "SavedTraveler",
    "ServiceContext",
    "Settings",
    "SignedIn",
    "StaffService",
    "Subscription",
    "TokenLifetimes",
    "TokenPair",
    "Transaction",
    "Transition",
    "TravelerService",
]
