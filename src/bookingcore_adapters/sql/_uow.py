"""The SQL unit of work: one session and every family's repository over it.

The top of the adapter's imports below the store: it imports every family
module (for their mappers and repositories) and :mod:`._session`; nothing of
the adapter imports it but :mod:`._store` and the package.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from bookingcore_adapters.sql import _bookings as bookings
from bookingcore_adapters.sql import _catalog as catalog
from bookingcore_adapters.sql import _certificates as certificates
from bookingcore_adapters.sql import _commissions as commissions
from bookingcore_adapters.sql import _customers as customers
from bookingcore_adapters.sql import _events as events
from bookingcore_adapters.sql import _identity as identity
from bookingcore_adapters.sql import _imports as imports
from bookingcore_adapters.sql import _insights as insights
from bookingcore_adapters.sql import _partners as partners
from bookingcore_adapters.sql import _payments as payments
from bookingcore_adapters.sql import _travel as travel
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
        ),
        key=lambda mapper: metadata.sorted_tables.index(mapper.table),
    )
)


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

    def __init__(self, store: StoreSettings) -> None:
        session = self._session = Session(store, MAPPERS)
        self.customers = customers.CustomerRepository(session, customers.CUSTOMERS)
        self.travelers = customers.TravelerRepository(session, customers.TRAVELERS)
        self.locations = catalog.LocationRepository(session, catalog.LOCATIONS)
        self.products = catalog.ProductRepository(session, catalog.PRODUCTS)
        self.suppliers = catalog.SupplierRepository(session, catalog.SUPPLIERS)
        self.slots = catalog.SlotRepository(session, catalog.SLOTS)
        self.bookings = bookings.BookingRepository(session, bookings.BOOKINGS)
        self.booking_items = bookings.BookingItemRepository(session, bookings.BOOKING_ITEMS)
        self.partners = partners.PartnerRepository(session, partners.PARTNERS)
        self.lifecycle_events = events.LifecycleEventRepository(session, events.LIFECYCLE_EVENTS)
        self.audit = events.AuditRepository(session, events.AUDIT)
        self.outbox = events.OutboxRepository(session, events.OUTBOX)
        self.deliveries = events.DeliveryRepository(session, events.DELIVERIES)
        self.communications = events.CommunicationRepository(session, events.COMMUNICATIONS)
        self.documents = events.DocumentRepository(session, events.DOCUMENTS)
        self.staff = identity.StaffRepository(session, identity.STAFF)
        self.auth_sessions = identity.AuthSessionRepository(session, identity.AUTH_SESSIONS)
        self.imports = imports.ImportJobRepository(session, imports.IMPORTS)
        self.import_errors = imports.ImportErrorRepository(session, imports.IMPORT_ERRORS)
        self.groups = waitlists.BookingGroupRepository(session, waitlists.BOOKING_GROUPS)
        self.waitlist = waitlists.WaitlistRepository(session, waitlists.WAITLIST)
        self.payments = payments.PaymentRepository(session, payments.PAYMENTS)
        self.refunds = payments.RefundRepository(session, payments.REFUNDS)
        self.webhook_inbox = payments.WebhookInboxRepository(session, payments.WEBHOOK_INBOX)
        self.invoices = payments.InvoiceRepository(session, payments.INVOICES)
        self.invoice_series = payments.InvoiceSeriesRepository(session, payments.INVOICE_SERIES)
        self.commissions = commissions.CommissionLedgerRepository(session, commissions.COMMISSIONS)
        # ---- partner webhooks
        self.webhook_deliveries = webhooks.WebhookDeliveryRepository(
            session, webhooks.WEBHOOK_DELIVERIES
        )
        self.webhook_attempts = webhooks.WebhookAttemptRepository(
            session, webhooks.WEBHOOK_ATTEMPTS
        )
        # The travel operating system: leads and quotations.
        self.leads = travel.LeadRepository(session, travel.LEADS)
        self.quotations = travel.QuotationRepository(session, travel.QUOTATIONS)
        self.trips = travel.TripRepository(session, travel.TRIPS)
        self.itineraries = travel.ItineraryRepository(session, travel.ITINERARIES)
        # ---------------------------------------------------------- customer view (0.3)
        self.customer_stats = insights.CustomerStatsRepository(session)
        self.certificates = certificates.CertificateRepository(session, certificates.CERTIFICATES)
        # ---------------------------------------------------------- the idempotency key registry
        self.idempotency_keys = events.IdempotencyKeyRepository(session, events.IDEMPOTENCY_KEYS)

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
