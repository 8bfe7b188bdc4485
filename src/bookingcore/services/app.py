"""The façade a host wires once and calls everywhere.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, Protocol

from bookingcore._clock import SystemClock
from bookingcore._ids import RandomIds
from bookingcore.domain.events import RetryPolicy, SlotCancelled, SlotRescheduled
from bookingcore.errors import ValidationError
from bookingcore.ports.clock import Clock, IdGenerator
from bookingcore.ports.documents import DocumentStore, FileStore
from bookingcore.ports.exchange import ExchangeRates
from bookingcore.ports.jobs import JobQueue
from bookingcore.ports.messaging import (
    DocumentRenderer,
    EventPublisher,
    Notifier,
    SerializedEventPublisher,
)
from bookingcore.ports.observability import Observer
from bookingcore.ports.payments import PaymentProvider
from bookingcore.ports.security import (
    OtpStore,
    PasswordHasher,
    RateLimiter,
    SmsSender,
    TokenSigner,
)
from bookingcore.ports.uow import UnitOfWorkFactory
from bookingcore.ports.webhooks import WebhookSender
from bookingcore.services import automations as _automations
from bookingcore.services._context import ServiceContext, Settings
from bookingcore.services._observing import GuardedObserver
from bookingcore.services._slot_closing import deliver_slot_messages
from bookingcore.services.archiving import ArchiveService
from bookingcore.services.audit import AuditService
from bookingcore.services.auth import AuthService, AuthSettings
from bookingcore.services.automations import Automations
from bookingcore.services.bookings import BookingService
from bookingcore.services.catalog import CatalogService
from bookingcore.services.certificates import CertificateService
from bookingcore.services.commissions import CommissionService
from bookingcore.services.communications import CommunicationService
from bookingcore.services.customers import CustomerService
from bookingcore.services.dashboard import DashboardService
from bookingcore.services.devices import PushDeviceService
from bookingcore.services.events import EventDispatcher, OutboxRelay
from bookingcore.services.exports import ExportService
from bookingcore.services.families import FamilyService
from bookingcore.services.groups import GroupService
from bookingcore.services.imports import ImportService
from bookingcore.services.invoicing import InvoiceService
from bookingcore.services.items import BookingItemService
from bookingcore.services.jobs import JobService
from bookingcore.services.leads import LeadService
from bookingcore.services.partners import PartnerService
from bookingcore.services.payments import PaymentService, PaymentSettings
from bookingcore.services.privacy import PrivacyService
from bookingcore.services.quotations import QuotationService
from bookingcore.services.reports import ReportService
from bookingcore.services.sharing import TripSharingService
from bookingcore.services.staff import StaffService
from bookingcore.services.travelers import TravelerService
from bookingcore.services.trips import ItineraryService, TravelDocumentService, TripService
from bookingcore.services.vouchers import VoucherService
from bookingcore.services.waitlists import WaitlistService, deliver_offer_messages
from bookingcore.services.webhooks import WebhookService, WebhookSettings

__all__ = ["BookingCore"]


def _declared(port: type) -> list[tuple[str, bool]]:
    """The public members ``port`` (a Protocol) declares: (name, whether it is a method)."""
    members: dict[str, bool] = {}
    for klass in reversed(port.__mro__):
        if klass in (object, Protocol) or Protocol not in klass.__mro__:
            continue
        for name in getattr(klass, "__annotations__", {}):
            if not name.startswith("_"):
                members[name] = False
        for name, value in vars(klass).items():
            if not name.startswith("_") and (callable(value) or isinstance(value, property)):
                members[name] = not isinstance(value, property)
    return sorted(members.items())


def _require_port(argument: str, given: object, port: type) -> None:
    """Refuse ``given`` for ``argument`` unless it has every member ``port`` declares.

    Duck typing is kept: any object with the members passes; only a missing one
    (a method that is not callable counts as missing) is refused, at wiring time,
    rather than deep inside the first use case that calls it.

    Raises:
        TypeError: naming the argument, the port and the missing member.
    """
    for name, is_method in _declared(port):
        found = getattr(given, name, None) if is_method else None
        if (is_method and not callable(found)) or (not is_method and not hasattr(given, name)):
            kind = "method" if is_method else "attribute"
            msg = (
                f"{argument} must provide the {port.__name__} port: {given!r}"
                f" has no {kind} {name!r}"
            )
            raise TypeError(msg)


#: The Protocol each port argument of :class:`BookingCore` must provide.
_PORTS: dict[str, type] = {
    "clock": Clock,
    "ids": IdGenerator,
    "notifier": Notifier,
    "renderer": DocumentRenderer,
    "rate_limiter": RateLimiter,
    "otp_store": OtpStore,
    "sms": SmsSender,
    "token_signer": TokenSigner,
    "password_hasher": PasswordHasher,
    "webhook_sender": WebhookSender,
    "jobs": JobQueue,
    "exchange_rates": ExchangeRates,
    "document_store": DocumentStore,
    "observer": Observer,
    "import_files": FileStore,
}


def _check_wiring(
    uow_factory: object, *, payment_providers: Iterable[object], **ports: object
) -> None:
    """Refuse, at construction, a storage or port argument that cannot work.

    Raises:
        TypeError: see :func:`_require_port`; ``uow_factory`` is not callable.
    """
    if not callable(uow_factory):
        msg = f"uow_factory must be a callable that opens a unit of work, not {uow_factory!r}"
        raise TypeError(msg)
    for argument, given in ports.items():
        if given is not None:
            _require_port(argument, given, _PORTS[argument])
    for index, provider in enumerate(payment_providers):
        _require_port(f"payment_providers[{index}]", provider, PaymentProvider)


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
        devices: :class:`~bookingcore.services.PushDeviceService` (customers' devices
            for push notifications, 0.4)
        sharing: :class:`~bookingcore.services.TripSharingService` (share links to a
            booking's trip view, read without signing in, 0.4)
        audit: :class:`~bookingcore.services.AuditService`
        archive: :class:`~bookingcore.services.ArchiveService` (ended bookings leave
            the operational lists; ``Settings.archive_after``)
        staff: :class:`~bookingcore.services.StaffService` (advisors and their territories)
        imports: :class:`~bookingcore.services.ImportService` (bulk import of bookings)
        reports: :class:`~bookingcore.services.ReportService` (bookings reconciled
            against payments)
        commissions: :class:`~bookingcore.services.CommissionService` (what partners
            are owed, from the commission ledger)
        invoices: :class:`~bookingcore.services.InvoiceService` (issued invoices and
            credit notes rendered as documents)
        auth: :class:`~bookingcore.services.AuthService` (phone sign-in by code,
            tokens, staff and partner sign-in)
        waitlists: :class:`~bookingcore.services.WaitlistService` (waiting lists
            and the offers of freed seats)
        groups: :class:`~bookingcore.services.GroupService` (group bookings)
        events: the :class:`~bookingcore.services.EventDispatcher`; subscribe your
            own handlers here.
        webhooks: :class:`~bookingcore.services.WebhookService` (partner webhooks:
            scheduled from booking events, sent by ``core.webhooks.deliver_due()``).
        jobs: :class:`~bookingcore.services.JobService` (background jobs: defer,
            register, the library's periodic jobs).
        leads: :class:`~bookingcore.services.LeadService` (travel enquiries, 0.3)
        quotations: :class:`~bookingcore.services.QuotationService` (versions,
            approval into a booking, 0.3)
        items: :class:`~bookingcore.services.BookingItemService` (suppliers'
            confirmations and rejections of line items, 0.3)
        dashboard: :class:`~bookingcore.services.DashboardService` (the staff
            dashboard, 0.3)
        trips: :class:`~bookingcore.services.TripService` (a customer's bookings
            as one journey, 0.3)
        itineraries: :class:`~bookingcore.services.ItineraryService` (day-by-day
            plans, 0.3)
        travel_documents: :class:`~bookingcore.services.TravelDocumentService`
            (quotation, vouchers, itinerary on demand, versioned, 0.3)
        privacy: :class:`~bookingcore.services.PrivacyService` (GDPR export and
            erasure of a customer)
        exports: :class:`~bookingcore.services.ExportService` (booking lists as
            rows for CSV/XLSX, streamed)
        certificates: :class:`~bookingcore.services.CertificateService`
            (certificates earned on bookings, renewal reminders, compliance report)
        vouchers: :class:`~bookingcore.services.VoucherService` (promo codes
            such as ``SUMMER10``: made by staff, used by bookings, 0.4)
        families: :class:`~bookingcore.services.FamilyService` (family accounts:
            customers linked by invitation book for each other, 0.4)

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
        renderer: renders booking documents; without one, no document handlers,
            ``core.invoices.render`` needs a renderer passed to it, and
            ``core.travel_documents`` writes plain text (with ``PdfRenderer``
            from the ``pdf`` extra every one of them is a PDF).
        dispatch: ``"inline"`` (default) hands events to handlers right after
            each commit; ``"deferred"`` leaves it to a worker calling
            ``core.events.run_pending()``.
        retry: how failing handlers are retried.
        automations: which statuses trigger the built-in handlers (a travel agency's
            documents; the customers' confirmation, cancellation and follow-up
            messages and the assigned advisor's notice, see
            :class:`~bookingcore.Automations`); ``None`` subscribes the defaults,
            ``False`` none (not even the one that sends waiting-list offers: their
            messages then stay pending).
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
        payment_settings: what happens to late payments, and whether
            cancellations are refunded by themselves
            (:class:`~bookingcore.services.PaymentSettings`).
        webhook_sender: signs and POSTs partner webhooks (``HttpxWebhookSender``).
            With one, partners' booking events schedule webhooks (handler
            ``partner_webhooks``); without one, none are scheduled and
            ``core.webhooks.deliver_due()`` refuses. Wire it in every process
            that dispatches events (app servers and workers alike).
        webhook_settings: retries, lease and batch of partner webhooks
            (:class:`~bookingcore.services.WebhookSettings`).
        jobs: the job engine (``InProcessJobQueue``, ``ProcrastinateJobQueue``);
            ``core.jobs`` registers the library's jobs in it and defers jobs
            in the caller's transaction (see docs/jobs.md).
        exchange_rates: where quotations read the rate of a line priced in a
            supplier's currency (``FixedExchangeRates``); without it such a
            line is refused.
        document_store: where travel documents' files are kept
            (``FileSystemDocumentStore``); without it they are kept only as
            the booking's document records.
        observer: told what the use cases did, for metrics and traces
            (:class:`~bookingcore.ports.Observer`;
            ``bookingcore_adapters.otel.OpenTelemetryObserver`` from the ``otel``
            extra). Without one nothing is reported and nothing is spent on
            it; one that raises is logged and ignored. See docs/observability.md.
        import_files: where imports' uploaded files are kept (a
            :class:`~bookingcore.ports.FileStore` such as
            ``FileSystemDocumentStore``; ``core.imports.keep_file``), deleted
            by the ``imports.purge_files`` job after
            ``Settings.import_file_retention``.

        Every port given is checked here, not at its first use: an object
        without a method its Protocol declares (``notifier=...`` has no
        ``send``) is a ``TypeError`` naming the argument and the method. Any
        object with the methods will do (no subclassing needed).

        The sign-in ports are optional: a ``core.auth`` method that needs one
        that was not given raises :class:`~bookingcore.AuthNotConfiguredError`
        naming it.

    Raises:
        TypeError: ``uow_factory`` is not callable, or a port argument lacks a
            method (or attribute) of its Protocol.
        ValidationError: on ``dispatch``, neither ``inline`` nor ``deferred``.

    .. versionadded:: 0.1
    .. versionchanged:: 0.1
       ``clock`` and ``ids`` are optional.
    .. versionchanged:: 0.4
       Port arguments are checked for their Protocol's methods (``TypeError``).
    .. versionchanged:: 0.4
       ``observer``.
    .. versionchanged:: 0.4
       ``import_files``; :attr:`rate_limiter`.
    """

    def __init__(  # noqa: PLR0915 - one statement per service wired
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
        webhook_sender: WebhookSender | None = None,
        webhook_settings: WebhookSettings | None = None,
        jobs: JobQueue | None = None,
        exchange_rates: ExchangeRates | None = None,
        document_store: DocumentStore | None = None,
        observer: Observer | None = None,
        import_files: FileStore | None = None,
    ) -> None:
        if dispatch not in ("inline", "deferred"):
            msg = "dispatch must be 'inline' or 'deferred'"
            raise ValidationError.single("dispatch", msg, "invalid_choice")
        payment_providers = tuple(payment_providers)
        _check_wiring(
            uow_factory,
            clock=clock,
            ids=ids,
            notifier=notifier,
            renderer=renderer,
            rate_limiter=rate_limiter,
            otp_store=otp_store,
            sms=sms,
            token_signer=token_signer,
            password_hasher=password_hasher,
            webhook_sender=webhook_sender,
            jobs=jobs,
            exchange_rates=exchange_rates,
            document_store=document_store,
            observer=observer,
            import_files=import_files,
            payment_providers=payment_providers,
        )
        self.context = ServiceContext(
            uow_factory,
            clock if clock is not None else SystemClock(),
            ids if ids is not None else RandomIds(),
            settings or Settings(),
            observer=GuardedObserver(observer) if observer is not None else None,
        )
        #: The rate limiter the core was built with (``None``: none), for a host
        #: limiting its own routes with the same counts (e.g. uploads per staff member).
        self.rate_limiter = rate_limiter
        self.customers = CustomerService(self.context)
        self.travelers = TravelerService(self.context)
        self.bookings = BookingService(self.context, self.customers)
        self.catalog = CatalogService(self.context, self.bookings)
        self.partners = PartnerService(
            self.context,
            rate_limiter=rate_limiter,
            allow_private_webhook_addresses=(
                webhook_settings is not None and webhook_settings.allow_private_addresses
            ),
        )
        self.communications = CommunicationService(self.context, notifier)
        self.devices = PushDeviceService(self.context)
        self.sharing = TripSharingService(self.context)
        self.audit = AuditService(self.context)
        self.archive = ArchiveService(self.context)
        self.staff = StaffService(
            self.context,
            password_hasher=password_hasher,
            rate_limiter=rate_limiter,
            auth_settings=auth_settings,
        )
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
        self.imports = ImportService(self.context, import_files)
        # The travel operating system (0.3): leads, quotations, suppliers' items.
        self.leads = LeadService(self.context, self.customers)
        self.quotations = QuotationService(
            self.context, self.bookings, self.communications, exchange_rates
        )
        self.items = BookingItemService(self.context, self.bookings)
        self.dashboard = DashboardService(self.context)
        self.trips = TripService(self.context)
        self.itineraries = ItineraryService(self.context)
        self.travel_documents = TravelDocumentService(
            self.context, self.itineraries, document_store, renderer
        )
        self.reports = ReportService(self.context)
        # Partner commissions (issue 18): the ledger the payment and booking paths write.
        self.commissions = CommissionService(self.context)
        # Invoice documents (issue 18): issued invoices and credit notes, rendered.
        self.invoices = InvoiceService(self.context, renderer)
        self.events = EventDispatcher(self.context, retry=retry)
        if payment_settings is not None and payment_settings.refund_on_cancel:
            self.payments.install(self.events)
        # ---------------------------------------------------------- customer care (0.3)
        self.privacy = PrivacyService(self.context, otp_store=otp_store, rate_limiter=rate_limiter)
        self.exports = ExportService(self.context)
        self.certificates = CertificateService(self.context, self.communications)
        self.vouchers = VoucherService(self.context)
        self.families = FamilyService(self.context)
        if automations is not False:
            _automations.install(
                self.events,
                self.context,
                renderer=renderer,
                communications=self.communications if notifier is not None else None,
                automations=automations,
            )
        # ---- partner webhooks: scheduled from booking events by a dispatcher handler,
        # subscribed (like the automations) only when its port is wired
        self.webhooks = WebhookService(self.context, webhook_sender, settings=webhook_settings)
        if webhook_sender is not None:
            self.webhooks.install(self.events)
        # --- waiting lists and groups (issue 22) ---
        self.waitlists = WaitlistService(self.context, self.bookings)
        if notifier is not None and automations is not False:
            deliver_offer_messages(self.events, self.communications)
            for event_type, name in (
                (SlotCancelled, "slots.cancellation_messages"),
                (SlotRescheduled, "slots.move_messages"),
            ):
                deliver_slot_messages(self.events, self.communications, event_type, name=name)
        self.groups = GroupService(
            self.context,
            self.bookings,
            self.communications,
            # which statuses confirm a booking: a group's confirmation is that one message
            automations=automations or None,
        )
        # --- end waiting lists ---
        if dispatch == "inline":
            self.context.committed.append(self.events.dispatch)
        # ---- jobs: the library's own run the services built above
        self.jobs = JobService(self.context, jobs)
        self.jobs.install_standard(
            events=self.events,
            communications=self.communications,
            auth=self.auth,
            waitlists=self.waitlists,
            webhooks=self.webhooks,
            imports=self.imports,
            archive=self.archive,
            certificates=self.certificates,
        )
        if jobs is not None:
            jobs.bind(self.jobs.catalog)

    def relay(self, publisher: EventPublisher | SerializedEventPublisher) -> OutboxRelay:
        """An :class:`~bookingcore.services.OutboxRelay` of this core's outbox to ``publisher``.

        Raises:
            ValidationError: on ``outbox_relayed`` unless the core was built with
                ``Settings(outbox_relayed=True)`` (pruning must know to keep
                unpublished messages).

        .. versionchanged:: 0.4 refused unless ``Settings.outbox_relayed``.
        """
        return OutboxRelay(self.context, publisher)

    @property
    def settings(self) -> Settings:
        """The settings this core was built with."""
        return self.context.settings
