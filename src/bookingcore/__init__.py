"""bookingcore: the rules of a booking business, written once, behind ports.

This namespace holds what a host needs to wire the library and call it, and
each name has this one import path:

* wiring: :class:`BookingCore`, :class:`Settings`, :class:`AuthSettings`
  (with :class:`RateLimit`, :class:`TokenLifetimes`), :class:`PartnerLimits`,
  :class:`Automations`, :class:`RetryPolicy`, :class:`Lifecycle`, and the
  default clock and ids, :class:`SystemClock` and :class:`RandomIds`;
* who asks: :class:`Principal`, :class:`PrincipalKind`, :class:`StaffRole`,
  :class:`RequestOrigin`;
* what services take: :class:`BookingRequest`, :class:`NewTraveler`,
  :class:`SavedTraveler`, :class:`CustomerDetails`, :class:`TravelerDetails`,
  :class:`BookingChanges`, :class:`DiscountTier`, :class:`LoyaltyProgram` (with
  :class:`LoyaltyTier`), :class:`CancellationPolicy`
  (with :class:`RefundTier`), :class:`ProductRequirements` (with
  :class:`CertificateRule`), :class:`SlotSchedule`, :class:`ImportSettings`, the
  filters and :class:`PageRequest`;
* values and ids: :class:`Money`, :class:`PhoneNumber`, :class:`EmailAddress`,
  :class:`BookingId`, :class:`SlotId`, ... (one ``NewType`` of ``UUID`` each);
* the error tree under :class:`BookingError` (see :mod:`bookingcore.errors`).

What services return lives in :mod:`bookingcore.domain` (entities, statuses,
events, lifecycle presets) and :mod:`bookingcore.services` (results such as
``Transition`` or ``ImportPlan``, and the service classes); the protocols an
adapter implements in :mod:`bookingcore.ports`; fakes and contract suites in
:mod:`bookingcore.testing`. The modules below those packages are the library's
own layout, not import paths: they may move without notice.

Storage is the one thing a host must choose::

    from bookingcore import BookingCore, Money, Principal
    from bookingcore_adapters.memory import MemoryStore

    core = BookingCore(uow_factory=MemoryStore().unit_of_work)

Everything it raises on purpose is a :class:`BookingError`.

.. versionadded:: 0.1
.. versionchanged:: 0.1
   The top level keeps only what a host wires and calls; entities, statuses and
   events moved to :mod:`bookingcore.domain`, service results to
   :mod:`bookingcore.services`. :class:`SystemClock` and :class:`RandomIds`
   moved here from ``bookingcore_adapters.system``.
"""

from bookingcore._clock import SystemClock
from bookingcore._ids import RandomIds
from bookingcore.domain.attendance import Attendance, AttendanceMark
from bookingcore.domain.cancellation import CancellationPolicy, RefundTier
from bookingcore.domain.customers import TravelerDetails
from bookingcore.domain.events import RetryPolicy
from bookingcore.domain.lifecycle import Lifecycle
from bookingcore.domain.loyalty import LoyaltyProgram, LoyaltyTier
from bookingcore.domain.policy import Principal, PrincipalKind, StaffRole
from bookingcore.domain.pricing import DiscountTier
from bookingcore.domain.queries import BookingFilter, CustomerFilter, PageRequest, SlotFilter
from bookingcore.domain.requirements import CertificateRule, ProductRequirements
from bookingcore.domain.schedules import SlotSchedule
from bookingcore.domain.values import (
    BookingGroupId,
    BookingId,
    BookingItemId,
    CommunicationId,
    CustomerId,
    DocumentId,
    EmailAddress,
    LocationId,
    Money,
    PartnerId,
    PaymentId,
    PhoneNumber,
    ProductId,
    RefundId,
    RequestOrigin,
    SlotId,
    StaffId,
    SupplierId,
    TravelerId,
    WaitlistEntryId,
)
from bookingcore.errors import (
    AuthenticationError,
    BookingArchivedError,
    BookingError,
    CapacityError,
    ConcurrentUpdateError,
    ConflictError,
    DeliveryError,
    DuplicateError,
    FieldError,
    IdempotencyConflictError,
    InvalidTransitionError,
    NotFoundError,
    PaymentProviderError,
    PermissionDeniedError,
    RateLimitedError,
    ReadOnlyError,
    RecipientGoneError,
    StaleVersionError,
    ValidationError,
)
from bookingcore.services._context import Settings
from bookingcore.services.app import BookingCore
from bookingcore.services.auth import (
    AuthNotConfiguredError,
    AuthSettings,
    RateLimit,
    TokenLifetimes,
)
from bookingcore.services.automations import Automations
from bookingcore.services.bookings import (
    BookingChanges,
    BookingRequest,
    CustomerDetails,
    NewTraveler,
    SavedTraveler,
)
from bookingcore.services.imports import ImportSettings
from bookingcore.services.partners import PartnerLimits
from bookingcore.services.payments import PaymentSettings

#: The version being developed: 0.4 (nothing is released yet; see the CHANGELOG).
__version__ = "0.4.0.dev0"

__all__ = [
    "Attendance",
    "AttendanceMark",
    "AuthNotConfiguredError",
    "AuthSettings",
    "AuthenticationError",
    "Automations",
    "BookingArchivedError",
    "BookingChanges",
    "BookingCore",
    "BookingError",
    "BookingFilter",
    "BookingGroupId",
    "BookingId",
    "BookingItemId",
    "BookingRequest",
    "CancellationPolicy",
    "CapacityError",
    "CertificateRule",
    "CommunicationId",
    "ConcurrentUpdateError",
    "ConflictError",
    "CustomerDetails",
    "CustomerFilter",
    "CustomerId",
    "DeliveryError",
    "DiscountTier",
    "DocumentId",
    "DuplicateError",
    "EmailAddress",
    "FieldError",
    "IdempotencyConflictError",
    "ImportSettings",
    "InvalidTransitionError",
    "Lifecycle",
    "LocationId",
    "LoyaltyProgram",
    "LoyaltyTier",
    "Money",
    "NewTraveler",
    "NotFoundError",
    "PageRequest",
    "PartnerId",
    "PartnerLimits",
    "PaymentId",
    "PaymentProviderError",
    "PaymentSettings",
    "PermissionDeniedError",
    "PhoneNumber",
    "Principal",
    "PrincipalKind",
    "ProductId",
    "ProductRequirements",
    "RandomIds",
    "RateLimit",
    "RateLimitedError",
    "ReadOnlyError",
    "RecipientGoneError",
    "RefundId",
    "RefundTier",
    "RequestOrigin",
    "RetryPolicy",
    "SavedTraveler",
    "Settings",
    "SlotFilter",
    "SlotId",
    "SlotSchedule",
    "StaffId",
    "StaffRole",
    "StaleVersionError",
    "SupplierId",
    "SystemClock",
    "TokenLifetimes",
    "TravelerDetails",
    "TravelerId",
    "ValidationError",
    "WaitlistEntryId",
]
