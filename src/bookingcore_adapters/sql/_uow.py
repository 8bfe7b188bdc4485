"""The SQL unit of work: one session and every family's repository over it.

The top of the adapter's imports below the store: it imports every family
module (for their mappers and repositories) and :mod:`._session`; nothing of
the adapter imports it but :mod:`._store` and the package.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, Self, TypeVar, overload

from bookingcore_adapters.sql import _bookings as bookings
from bookingcore_adapters.sql import _catalog as catalog
from bookingcore_adapters.sql import _certificates as certificates
from bookingcore_adapters.sql import _commissions as commissions
from bookingcore_adapters.sql import _customers as customers
from bookingcore_adapters.sql import _devices as devices
from bookingcore_adapters.sql import _events as events
from bookingcore_adapters.sql import _families as families
from bookingcore_adapters.sql import _identity as identity
from bookingcore_adapters.sql import _imports as imports
from bookingcore_adapters.sql import _insights as insights
from bookingcore_adapters.sql import _partners as partners
from bookingcore_adapters.sql import _payments as payments
from bookingcore_adapters.sql import _sharing as sharing
from bookingcore_adapters.sql import _travel as travel
from bookingcore_adapters.sql import _vouchers as vouchers
from bookingcore_adapters.sql import _waitlists as waitlists
from bookingcore_adapters.sql import _webhooks as webhooks
from bookingcore_adapters.sql._engine import StoreSettings
from bookingcore_adapters.sql._mapper import Mapper
from bookingcore_adapters.sql._schema import metadata
from bookingcore_adapters.sql._session import Session

__all__ = ["MAPPERS", "SqlUnitOfWork"]

#: Every mapper, parents before children: the order a commit writes in.
MAPPERS: tuple[Mapper[Any], ...] = tuple(
    sorted(
        (
            customers.CUSTOMERS,
            customers.TRAVELERS,
            catalog.LOCATIONS,
            catalog.PRODUCTS,
            catalog.SUPPLIERS,
            catalog.SLOTS,
            bookings.BOOKINGS,
            bookings.BOOKING_ITEMS,
            partners.PARTNERS,
            events.LIFECYCLE_EVENTS,
            events.AUDIT,
            events.OUTBOX,
            events.DELIVERIES,
            events.COMMUNICATIONS,
            events.DOCUMENTS,
            events.IDEMPOTENCY_KEYS,
            identity.STAFF,
            identity.AUTH_SESSIONS,
            imports.IMPORTS,
            imports.IMPORT_ERRORS,
            waitlists.BOOKING_GROUPS,
            waitlists.WAITLIST,
            payments.PAYMENTS,
            payments.REFUNDS,
            payments.WEBHOOK_INBOX,
            payments.INVOICES,
            payments.INVOICE_SERIES,
            commissions.COMMISSIONS,
            webhooks.WEBHOOK_DELIVERIES,
            webhooks.WEBHOOK_ATTEMPTS,
            # The travel operating system: leads and quotations.
            travel.LEADS,
            travel.QUOTATIONS,
            travel.TRIPS,
            travel.ITINERARIES,
            certificates.CERTIFICATES,
            vouchers.VOUCHERS,
            vouchers.VOUCHER_REDEMPTIONS,
            devices.PUSH_DEVICES,
            families.FAMILIES,
            families.FAMILY_MEMBERS,
            families.FAMILY_INVITATIONS,
            sharing.SHARE_LINKS,
        ),
        key=lambda mapper: metadata.sorted_tables.index(mapper.table),
    )
)


R = TypeVar("R")


class _Lazy(Generic[R]):
    """A unit of work's repository, made on first use and kept on the instance.

    A unit of work touches a few of its thirty-odd repositories; making every one
    up front cost more client CPU than a booking's own look-ups of a slot and a
    customer. Reading the attribute the first time makes the repository over the
    unit of work's session and stores it in the instance's ``__dict__``, which
    later reads find first (this descriptor defines no ``__set__``).
    """

    def __init__(self, make: Callable[[Session], R]) -> None:
        self._make = make
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, uow: None, owner: type) -> Self: ...

    @overload
    def __get__(self, uow: SqlUnitOfWork, owner: type) -> R: ...

    def __get__(self, uow: SqlUnitOfWork | None, owner: type) -> Self | R:
        if uow is None:
            return self
        repository = uow.__dict__[self._name] = self._make(uow._session)
        return repository


class SqlUnitOfWork:
    """One database transaction over a :class:`~bookingcore_adapters.sql.SqlStore`.

    Entities read through the repositories are tracked in an identity map (one
    object per id) with a snapshot of their rows. Nothing is written until
    :meth:`commit`, which inserts the added entities and updates the changed
    ones, parents before children, in one transaction: an entity with a
    ``version`` is updated only if the stored version is still the one read
    (:class:`~bookingcore.errors.StaleVersionError` otherwise), and a unique key
    held twice is a :class:`~bookingcore.errors.DuplicateError`. Either error
    rolls the whole commit back. Reads see this unit's own additions and changes.

    ``slots.get_for_update`` locks the slot's row until the unit of work ends:
    ``SELECT ... FOR UPDATE`` on PostgreSQL, the database's write lock
    (``BEGIN IMMEDIATE``) on SQLite. On SQLite, writing also takes the write lock
    only when the unit of work commits, so readers never wait for writers.

    Pass a :class:`~bookingcore_adapters.sql.SqlStore` (``store.unit_of_work()``
    does); anything with the store's ``engine``, ``dialect``, ``retries`` and
    ``pipelined`` will do.

    .. versionadded:: 0.1
    """

    # Each repository is made when first used (see _Lazy). The lambdas see the
    # family modules' names, not these attributes: a class body is no enclosing scope.
    customers = _Lazy(lambda s: customers.CustomerRepository(s, customers.CUSTOMERS))
    travelers = _Lazy(lambda s: customers.TravelerRepository(s, customers.TRAVELERS))
    locations = _Lazy(lambda s: catalog.LocationRepository(s, catalog.LOCATIONS))
    products = _Lazy(lambda s: catalog.ProductRepository(s, catalog.PRODUCTS))
    suppliers = _Lazy(lambda s: catalog.SupplierRepository(s, catalog.SUPPLIERS))
    slots = _Lazy(lambda s: catalog.SlotRepository(s, catalog.SLOTS))
    bookings = _Lazy(lambda s: bookings.BookingRepository(s, bookings.BOOKINGS))
    booking_items = _Lazy(lambda s: bookings.BookingItemRepository(s, bookings.BOOKING_ITEMS))
    partners = _Lazy(lambda s: partners.PartnerRepository(s, partners.PARTNERS))
    lifecycle_events = _Lazy(lambda s: events.LifecycleEventRepository(s, events.LIFECYCLE_EVENTS))
    audit = _Lazy(lambda s: events.AuditRepository(s, events.AUDIT))
    outbox = _Lazy(lambda s: events.OutboxRepository(s, events.OUTBOX))
    deliveries = _Lazy(lambda s: events.DeliveryRepository(s, events.DELIVERIES))
    communications = _Lazy(lambda s: events.CommunicationRepository(s, events.COMMUNICATIONS))
    documents = _Lazy(lambda s: events.DocumentRepository(s, events.DOCUMENTS))
    staff = _Lazy(lambda s: identity.StaffRepository(s, identity.STAFF))
    auth_sessions = _Lazy(lambda s: identity.AuthSessionRepository(s, identity.AUTH_SESSIONS))
    imports = _Lazy(lambda s: imports.ImportJobRepository(s, imports.IMPORTS))
    import_errors = _Lazy(lambda s: imports.ImportErrorRepository(s, imports.IMPORT_ERRORS))
    groups = _Lazy(lambda s: waitlists.BookingGroupRepository(s, waitlists.BOOKING_GROUPS))
    waitlist = _Lazy(lambda s: waitlists.WaitlistRepository(s, waitlists.WAITLIST))
    payments = _Lazy(lambda s: payments.PaymentRepository(s, payments.PAYMENTS))
    refunds = _Lazy(lambda s: payments.RefundRepository(s, payments.REFUNDS))
    webhook_inbox = _Lazy(lambda s: payments.WebhookInboxRepository(s, payments.WEBHOOK_INBOX))
    invoices = _Lazy(lambda s: payments.InvoiceRepository(s, payments.INVOICES))
    invoice_series = _Lazy(lambda s: payments.InvoiceSeriesRepository(s, payments.INVOICE_SERIES))
    commissions = _Lazy(
        lambda s: commissions.CommissionLedgerRepository(s, commissions.COMMISSIONS)
    )
    # ---- partner webhooks
    webhook_deliveries = _Lazy(
        lambda s: webhooks.WebhookDeliveryRepository(s, webhooks.WEBHOOK_DELIVERIES)
    )
    webhook_attempts = _Lazy(
        lambda s: webhooks.WebhookAttemptRepository(s, webhooks.WEBHOOK_ATTEMPTS)
    )
    # The travel operating system: leads and quotations.
    leads = _Lazy(lambda s: travel.LeadRepository(s, travel.LEADS))
    quotations = _Lazy(lambda s: travel.QuotationRepository(s, travel.QUOTATIONS))
    trips = _Lazy(lambda s: travel.TripRepository(s, travel.TRIPS))
    itineraries = _Lazy(lambda s: travel.ItineraryRepository(s, travel.ITINERARIES))
    # ---------------------------------------------------------- customer view (0.3)
    customer_stats = _Lazy(insights.CustomerStatsRepository)
    certificates = _Lazy(lambda s: certificates.CertificateRepository(s, certificates.CERTIFICATES))
    # ---------------------------------------------------------- promo codes: vouchers
    vouchers = _Lazy(lambda s: vouchers.VoucherRepository(s, vouchers.VOUCHERS))
    # ---------------------------------------------------------- push notifications: devices
    push_devices = _Lazy(lambda s: devices.PushDeviceRepository(s, devices.PUSH_DEVICES))
    # ---------------------------------------------------------- family accounts (0.4)
    families = _Lazy(lambda s: families.FamilyRepository(s, families.FAMILIES))
    # ---------------------------------------------------------- sharing trips (0.4)
    share_links = _Lazy(lambda s: sharing.ShareLinkRepository(s, sharing.SHARE_LINKS))
    # ---------------------------------------------------------- the idempotency key registry
    idempotency_keys = _Lazy(lambda s: events.IdempotencyKeyRepository(s, events.IDEMPOTENCY_KEYS))

    def __init__(self, store: StoreSettings) -> None:
        self._session = Session(store, MAPPERS)

    def read_only(self) -> Self:
        """Make this unit of work read-only (see :meth:`bookingcore.ports.UnitOfWork.read_only`).

        Adding, immediate writes and row locks raise
        :class:`~bookingcore.errors.ReadOnlyError` at once; :meth:`commit` raises
        it when an entity read was changed. On PostgreSQL (at ``READ COMMITTED``)
        its statements run on an autocommit connection, without ``BEGIN`` and
        ``ROLLBACK``; on SQLite they share one read transaction.

        .. versionadded:: 0.3
        """
        self._session.make_read_only()
        return self

    def __enter__(self) -> Self:
        self._session.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._session.close()

    def commit(self) -> None:
        """Write every added and changed entity in one transaction, or nothing.

        Raises:
            DuplicateError: a unique key (id, phone, code, reference, idempotency
                key, external id, API key, contact email, dedupe key, ...) would
                be held twice.
            StaleVersionError: an entity changed in the database after it was read.
            ConflictError: another constraint refused the change (a reference to a
                row that does not exist).
            ConcurrentUpdateError: deadlocks or serialization failures outlasted
                the store's ``retries``, or a row this unit of work had locked
                changed while it retried.
        """
        self._session.commit()

    def rollback(self) -> None:
        """Forget every change since the last commit, and every entity read."""
        self._session.rollback()
