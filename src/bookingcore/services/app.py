"""The façade a host wires once and calls everywhere.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from bookingcore._clock import SystemClock
from bookingcore._ids import RandomIds
from bookingcore.domain.events import RetryPolicy
from bookingcore.errors import ValidationError
from bookingcore.ports.clock import Clock, IdGenerator
from bookingcore.ports.messaging import DocumentRenderer, EventPublisher, Notifier
from bookingcore.ports.payments import PaymentProvider
from bookingcore.ports.security import (
    OtpStore,
    PasswordHasher,
    RateLimiter,
    SmsSender,
    TokenSigner,
)
from bookingcore.ports.uow import UnitOfWorkFactory
from bookingcore.services import automations as _automations
from bookingcore.services._context import ServiceContext, Settings
from bookingcore.services.audit import AuditService
from bookingcore.services.auth import AuthService, AuthSettings
from bookingcore.services.automations import Automations
from bookingcore.services.bookings import BookingService
from bookingcore.services.catalog import CatalogService
from bookingcore.services.certificates import CertificateService
from bookingcore.services.communications import CommunicationService
from bookingcore.services.customers import CustomerService
from bookingcore.services.events import EventDispatcher, OutboxRelay
from bookingcore.services.exports import ExportService
from bookingcore.services.imports import ImportService
from bookingcore.services.partners import PartnerService
from bookingcore.services.payments import PaymentService, PaymentSettings
from bookingcore.services.privacy import PrivacyService
from bookingcore.services.reports import ReportService
from bookingcore.services.staff import StaffService
from bookingcore.services.travelers import TravelerService

__all__ = ["BookingCore"]


class BookingCore:
    """Every bookingcore service over one set of adapters.

    Wiring is explicit: the one thing you must choose is storage, a unit-of-work
    factory; the clock and ids default to the system clock and random ids, and
    nothing is read from the environment::

        from bookingcore import BookingCore
        from bookingcore_adapters.memory import MemoryStore

        core = BookingCore(uow_factory=MemoryStore().unit_of_work)
        customer = core.customers.register("+919876543210", principal=staff).customer

    Storage has no default on purpose: the core never imports an adapter, and
    an in-memory default would let a host that forgot to wire its database lose
    every booking at the next restart without a single error.

    Attributes:
        customers: :class:`~bookingcore.services.CustomerService`
        travelers: :class:`~bookingcore.services.TravelerService`
        catalog: :class:`~bookingcore.services.CatalogService` (locations, products, slots)
        bookings: :class:`~bookingcore.services.BookingService` (transitions, history too)
        partners: :class:`~bookingcore.services.PartnerService`
        communications: :class:`~bookingcore.services.CommunicationService`
        audit: :class:`~bookingcore.services.AuditService`
        staff: :class:`~bookingcore.services.StaffService` (advisors and their territories)
        imports: :class:`~bookingcore.services.ImportService` (bulk import of bookings)
        reports: :class:`~bookingcore.services.ReportService` (bookings reconciled
            against payments)
        auth: :class:`~bookingcore.services.AuthService` (phone sign-in by code,
            tokens, staff and partner sign-in)
        events: the :class:`~bookingcore.services.EventDispatcher`; subscribe your
            own handlers here.
        privacy: :class:`~bookingcore.services.PrivacyService` (GDPR export and
            erasure of a customer)
        exports: :class:`~bookingcore.services.ExportService` (booking lists as
            rows for CSV/XLSX, streamed)
        certificates: :class:`~bookingcore.services.CertificateService`
            (certificates earned on bookings, renewal reminders, compliance report)

    Args:
        uow_factory: opens one unit of work (``MemoryStore().unit_of_work``,
            ``SqlStore(...).unit_of_work`` or your own adapter's).
        clock: tells the time; defaults to :class:`~bookingcore.SystemClock`
            (tests pass :class:`~bookingcore.testing.FixedClock`).
        ids: makes ids, references and tokens; defaults to
            :class:`~bookingcore.RandomIds` (tests pass
            :class:`~bookingcore.testing.SequentialIds`).
        settings: the host's choices (:class:`~bookingcore.Settings`); defaults
            to ``Settings()``.
        notifier: sends messages to customers; without one, sends are logged
            as failed ("no notifier configured").
        renderer: renders booking documents; without one, no document handlers.
        dispatch: ``"inline"`` (default) hands events to handlers right after
            each commit; ``"deferred"`` leaves it to a worker calling
            ``core.events.run_pending()``.
        retry: how failing handlers are retried.
        automations: which statuses trigger seed 003's built-in handlers;
            ``None`` subscribes the defaults, ``False`` none.
        rate_limiter: counts partners' API requests against their limits
            (:class:`~bookingcore.PartnerLimits`); without
            one, partners are not rate-limited. Sign-in needs it too (codes
            per phone and client, staff attempts per email).
        otp_store: where sign-in codes wait (``MemoryOtpStore``, ``RedisOtpStore``).
        sms: sends sign-in codes (``ConsoleSmsSender``, ``TwilioSmsSender``).
        token_signer: signs and checks tokens (``JwtTokenSigner``).
        password_hasher: hashes staff passwords (``Argon2PasswordHasher``).
        auth_settings: code lifetimes, rate limits and token lifetimes
            (:class:`~bookingcore.AuthSettings`; see docs/security.md).
        payment_providers: the providers ``core.payments`` takes money through
            (``ManualProvider``, ``StripeProvider``, ``RazorpayProvider``), by name.
        payment_settings: what happens to late payments
            (:class:`~bookingcore.services.PaymentSettings`).

        The sign-in ports are optional: a ``core.auth`` method that needs one
        that was not given raises :class:`~bookingcore.AuthNotConfiguredError`
        naming it.

    .. versionadded:: 0.1
    .. versionchanged:: 0.1
       ``clock`` and ``ids`` are optional.
    """

    def __init__(
        self,
        *,
        uow_factory: UnitOfWorkFactory,
        clock: Clock | None = None,
        ids: IdGenerator | None = None,
        settings: Settings | None = None,
        notifier: Notifier | None = None,
        renderer: DocumentRenderer | None = None,
        dispatch: Literal["inline", "deferred"] = "inline",
        retry: RetryPolicy | None = None,
        automations: Automations | Literal[False] | None = None,
        rate_limiter: RateLimiter | None = None,
        otp_store: OtpStore | None = None,
        sms: SmsSender | None = None,
        token_signer: TokenSigner | None = None,
        password_hasher: PasswordHasher | None = None,
        auth_settings: AuthSettings | None = None,
        payment_providers: Iterable[PaymentProvider] = (),
        payment_settings: PaymentSettings | None = None,
    ) -> None:
        if dispatch not in ("inline", "deferred"):
            msg = "dispatch must be 'inline' or 'deferred'"
            raise ValidationError.single("dispatch", msg, "invalid_choice")
        self.context = ServiceContext(
            uow_factory,
            clock if clock is not None else SystemClock(),
            ids if ids is not None else RandomIds(),
            settings or Settings(),
        )
        self.customers = CustomerService(self.context)
        self.travelers = TravelerService(self.context)
        self.catalog = CatalogService(self.context)
        self.bookings = BookingService(self.context, self.customers)
        self.partners = PartnerService(self.context, rate_limiter=rate_limiter)
        self.communications = CommunicationService(self.context, notifier)
        self.audit = AuditService(self.context)
        self.staff = StaffService(self.context, password_hasher=password_hasher)
        self.payments = PaymentService(
            self.context,
            {provider.name: provider for provider in payment_providers},
            payment_settings,
        )
        self.auth = AuthService(
            self.context,
            self.customers,
            self.partners,
            otp_store=otp_store,
            rate_limiter=rate_limiter,
            sms=sms,
            token_signer=token_signer,
            password_hasher=password_hasher,
            settings=auth_settings,
        )
        self.imports = ImportService(self.context)
        self.reports = ReportService(self.context)
        self.events = EventDispatcher(self.context, retry=retry)
        # ---------------------------------------------------------- customer care (0.3)
        self.privacy = PrivacyService(self.context)
        self.exports = ExportService(self.context)
        self.certificates = CertificateService(self.context, self.communications)
        if automations is not False:
            _automations.install(
                self.events,
                self.context,
                renderer=renderer,
                communications=self.communications if notifier is not None else None,
                automations=automations,
            )
        if dispatch == "inline":
            self.context.committed.append(self.events.dispatch)

    def relay(self, publisher: EventPublisher) -> OutboxRelay:
        """An :class:`~bookingcore.services.OutboxRelay` of this core's outbox to ``publisher``."""
        return OutboxRelay(self.context, publisher)

    @property
    def settings(self) -> Settings:
        """The settings this core was built with."""
        return self.context.settings
