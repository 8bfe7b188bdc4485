"""Ports: the protocols the core needs from the outside world.

Adapters in ``bookingcore_adapters`` (or your own) implement them; the
contract suites in :mod:`bookingcore.testing.contracts` check that they do.

.. versionadded:: 0.1
"""

from bookingcore.ports.clock import Clock, IdGenerator
from bookingcore.ports.imports import RowSource
from bookingcore.ports.messaging import (
    DocumentRenderer,
    EventPublisher,
    Notifier,
    OutgoingMessage,
    SendReceipt,
)
from bookingcore.ports.payments import (
    IntentRequest,
    PaymentProvider,
    ProviderCapabilities,
    ProviderIntent,
    ProviderPayment,
    ProviderRefund,
    WebhookEvent,
)
from bookingcore.ports.repositories import (
    AuditRepository,
    AuthSessionRepository,
    BookingGroupRepository,
    BookingItemRepository,
    BookingRepository,
    CommunicationRepository,
    CustomerRepository,
    DeliveryRepository,
    DocumentRepository,
    ImportErrorRepository,
    ImportJobRepository,
    InvoiceRepository,
    InvoiceSeriesRepository,
    LifecycleEventRepository,
    LocationRepository,
    OutboxRepository,
    PartnerRepository,
    PaymentRepository,
    ProductRepository,
    RefundRepository,
    SlotRepository,
    StaffRepository,
    SupplierRepository,
    TravelerRepository,
    WaitlistRepository,
    WebhookAttemptRepository,
    WebhookDeliveryRepository,
    WebhookInboxRepository,
)
from bookingcore.ports.security import (
    OtpStore,
    PasswordHasher,
    RateDecision,
    RateLimiter,
    SmsSender,
    TokenSigner,
)
from bookingcore.ports.uow import UnitOfWork, UnitOfWorkFactory

from bookingcore.ports.webhooks import OutgoingWebhook, WebhookResponse, WebhookSender

__all__ = [
    "AuditRepository",
    "AuthSessionRepository",
    "BookingGroupRepository",
    "BookingItemRepository",
    "BookingRepository",
    "Clock",
    "CommunicationRepository",
    "CustomerRepository",
    "DeliveryRepository",
    "DocumentRenderer",
    "DocumentRepository",
    "EventPublisher",
    "IdGenerator",
    "ImportErrorRepository",
    "ImportJobRepository",
    "IntentRequest",
    "InvoiceRepository",
    "InvoiceSeriesRepository",
    "LifecycleEventRepository",
    "LocationRepository",
    "Notifier",
    "OtpStore",
    "OutboxRepository",
    "OutgoingMessage",
    "OutgoingWebhook",
    "PartnerRepository",
    "PasswordHasher",
    "PaymentProvider",
    "PaymentRepository",
    "ProductRepository",
    "ProviderCapabilities",
    "ProviderIntent",
    "ProviderPayment",
    "ProviderRefund",
    "RateDecision",
    "RateLimiter",
    "RefundRepository",
    "RowSource",
    "SendReceipt",
    "SlotRepository",
    "SmsSender",
    "StaffRepository",
    "SupplierRepository",
    "TokenSigner",
    "TravelerRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "WaitlistRepository",
    "WebhookAttemptRepository",
    "WebhookDeliveryRepository",
    "WebhookEvent",
    "WebhookInboxRepository",
    "WebhookResponse",
    "WebhookSender",
]
