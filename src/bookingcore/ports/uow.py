"""The unit of work: one transaction over every repository.

Use it as a context manager; leaving the block without :meth:`UnitOfWork.commit`
rolls everything back, so an error half-way through a use case writes nothing::

    with uow_factory() as uow:
        slot = uow.slots.get_for_update(slot_id)
        ...
        uow.commit()

A use case that only reads opens its unit of work read-only (:meth:`UnitOfWork.read_only`)::

    with uow_factory().read_only() as uow:
        lines = uow.bookings.count_in(query, Grouping.LOCATION, [StatusSet({"cancelled"})])

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self

from bookingcore.ports.repositories import (
    AuditRepository,
    AuthSessionRepository,
    BookingGroupRepository,
    BookingItemRepository,
    BookingRepository,
    CertificateRepository,
    CommissionLedgerRepository,
    CommunicationRepository,
    CustomerRepository,
    CustomerStatsRepository,
    DeliveryRepository,
    DocumentRepository,
    FamilyRepository,
    IdempotencyKeyRepository,
    ImportErrorRepository,
    ImportJobRepository,
    InvoiceRepository,
    InvoiceSeriesRepository,
    ItineraryRepository,
    LeadRepository,
    LifecycleEventRepository,
    LocationRepository,
    OutboxRepository,
    PartnerRepository,
    PaymentRepository,
    ProductRepository,
    PushDeviceRepository,
    QuotationRepository,
    RefundRepository,
    ShareLinkRepository,
    SlotRepository,
    StaffRepository,
    SupplierRepository,
    TravelerRepository,
    TripRepository,
    VoucherRepository,
    WaitlistRepository,
    WebhookAttemptRepository,
    WebhookDeliveryRepository,
    WebhookInboxRepository,
)

__all__ = ["UnitOfWork", "UnitOfWorkFactory"]


class UnitOfWork(Protocol):
    """One transaction and the repositories that work inside it.

    ``commit`` stores every added entity and every change to an entity read
    through these repositories, or nothing. It raises
    :class:`~bookingcore.errors.ConflictError` subclasses for broken uniqueness
    (``DuplicateError``) or a concurrent change (``StaleVersionError``).

    .. versionadded:: 0.1
    """

    @property
    def customers(self) -> CustomerRepository:
        """Customers in this transaction."""

    @property
    def travelers(self) -> TravelerRepository:
        """Travelers in this transaction."""

    @property
    def locations(self) -> LocationRepository:
        """Locations in this transaction."""

    @property
    def products(self) -> ProductRepository:
        """Products in this transaction."""

    @property
    def suppliers(self) -> SupplierRepository:
        """Suppliers in this transaction."""

    @property
    def slots(self) -> SlotRepository:
        """Slots (and their locks) in this transaction."""

    @property
    def bookings(self) -> BookingRepository:
        """Bookings in this transaction."""

    @property
    def partners(self) -> PartnerRepository:
        """Partners in this transaction."""

    @property
    def lifecycle_events(self) -> LifecycleEventRepository:
        """Bookings' status histories in this transaction."""

    @property
    def audit(self) -> AuditRepository:
        """The audit trail in this transaction."""

    @property
    def outbox(self) -> OutboxRepository:
        """Domain events written in this transaction."""

    @property
    def deliveries(self) -> DeliveryRepository:
        """Handler deliveries in this transaction."""

    @property
    def communications(self) -> CommunicationRepository:
        """The communications log in this transaction."""

    @property
    def documents(self) -> DocumentRepository:
        """Booking documents in this transaction."""

    @property
    def staff(self) -> StaffRepository:
        """The business's people in this transaction."""

    @property
    def imports(self) -> ImportJobRepository:
        """Import jobs in this transaction."""

    @property
    def import_errors(self) -> ImportErrorRepository:
        """Import jobs' failed rows in this transaction."""

    @property
    def auth_sessions(self) -> AuthSessionRepository:
        """Signed-in sessions (refresh-token families) in this transaction."""

    @property
    def groups(self) -> BookingGroupRepository:
        """Booking groups in this transaction."""

    @property
    def booking_items(self) -> BookingItemRepository:
        """Bookings' line items in this transaction."""

    @property
    def waitlist(self) -> WaitlistRepository:
        """Waiting-list entries in this transaction."""

    @property
    def payments(self) -> PaymentRepository:
        """Payments in this transaction."""

    @property
    def refunds(self) -> RefundRepository:
        """Payments' refunds in this transaction."""

    @property
    def webhook_inbox(self) -> WebhookInboxRepository:
        """Verified provider webhook deliveries in this transaction.

        .. versionadded:: 0.2
        """

    @property
    def invoices(self) -> InvoiceRepository:
        """Invoices and credit notes in this transaction.

        .. versionadded:: 0.2
        """

    @property
    def invoice_series(self) -> InvoiceSeriesRepository:
        """The counters of invoice numbers in this transaction.

        .. versionadded:: 0.2
        """

    @property
    def commissions(self) -> CommissionLedgerRepository:
        """Partners' commission ledger in this transaction.

        .. versionadded:: 0.2
        """

    # ---------------------------------------------------------------- partner webhooks

    @property
    def webhook_deliveries(self) -> WebhookDeliveryRepository:
        """Webhooks to partners in this transaction.

        .. versionadded:: 0.2
        """

    @property
    def webhook_attempts(self) -> WebhookAttemptRepository:
        """The attempt log of webhooks to partners in this transaction.

        .. versionadded:: 0.2
        """

    # ------------------------------------------------------------------ the travel operating system

    @property
    def leads(self) -> LeadRepository:
        """Leads in this transaction.

        .. versionadded:: 0.3
        """

    @property
    def quotations(self) -> QuotationRepository:
        """Quotations (every revision) in this transaction.

        .. versionadded:: 0.3
        """

    @property
    def trips(self) -> TripRepository:
        """Trips in this transaction.

        .. versionadded:: 0.3
        """

    @property
    def itineraries(self) -> ItineraryRepository:
        """Bookings' day-by-day plans in this transaction.

        .. versionadded:: 0.3
        """

    # ---------------------------------------------------------------- customer view (0.3)

    @property
    def customer_stats(self) -> CustomerStatsRepository:
        """Aggregate figures about customers' bookings in this transaction.

        .. versionadded:: 0.3
        """

    @property
    def certificates(self) -> CertificateRepository:
        """Certificates earned on bookings in this transaction.

        .. versionadded:: 0.3
        """

    # ---------------------------------------------------------- promo codes: vouchers

    @property
    def vouchers(self) -> VoucherRepository:
        """Vouchers and their redemptions in this transaction.

        .. versionadded:: 0.4
        """

    # ---------------------------------------------------------- push notifications: devices

    @property
    def push_devices(self) -> PushDeviceRepository:
        """Customers' push devices in this transaction.

        .. versionadded:: 0.4
        """

    # ---------------------------------------------------------- sharing trips with friends

    @property
    def share_links(self) -> ShareLinkRepository:
        """Share links to bookings' trip views in this transaction.

        .. versionadded:: 0.4
        """

    # ---------------------------------------------------------- family accounts

    @property
    def families(self) -> FamilyRepository:
        """Family accounts, their members and invitations in this transaction.

        .. versionadded:: 0.4
        """

    # ---------------------------------------------------------------- the idempotency key registry

    @property
    def idempotency_keys(self) -> IdempotencyKeyRepository:
        """The key registry (which operation each idempotency key belongs to) in this
        transaction.

        .. versionadded:: 0.4
        """

    def read_only(self) -> Self:
        """Make this unit of work read-only, and return it; call it before ``with``.

        Reads work as usual. Adding an entity, an immediate write (``add_if_new``,
        bulk deletes and updates), taking row locks (``get_for_update``,
        ``claim_*``) and committing a change to an entity read raise
        :class:`~bookingcore.errors.ReadOnlyError`, and nothing is written;
        ``commit`` with nothing to write is allowed. The adapter may read more
        cheaply: the SQL adapter runs the statements of a read-only unit of work
        on PostgreSQL without ``BEGIN`` and ``ROLLBACK`` (autocommit: each
        statement sees what was committed when it started, as in a ``READ
        COMMITTED`` transaction); SQLite keeps one read transaction, so its reads
        share one snapshot.

        Raises:
            RuntimeError: the unit of work has begun already.

        .. versionadded:: 0.3
        """

    def __enter__(self) -> Self:
        """Begin the transaction."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """End it, rolling back whatever was not committed."""

    def commit(self) -> None:
        """Make every change of this unit of work durable, all or nothing."""

    def rollback(self) -> None:
        """Discard every change since the last commit."""


#: Makes a fresh unit of work for each use case.
UnitOfWorkFactory = Callable[[], UnitOfWork]
