"""Repository protocols: how the core reads and stores entities.

Repositories hand out entities tracked by their unit of work: change a loaded
entity and :meth:`~bookingcore.ports.uow.UnitOfWork.commit` stores the change;
there is no ``save``. ``add`` registers a new entity. Lookups return ``None``
when nothing matches; the services turn that into
:class:`~bookingcore.errors.NotFoundError`.

Adapters must pass :mod:`bookingcore.testing.contracts` for each protocol here.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from typing import Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from bookingcore.domain.audit import AuditEntry
from bookingcore.domain.auth import AuthSession
from bookingcore.domain.bookings import Booking
from bookingcore.domain.catalog import Location, Product, ProductFilter, Supplier, SupplierFilter
from bookingcore.domain.certificates import Certificate, CertificateFilter, CertificateId
from bookingcore.domain.commissions import CommissionEntry, CommissionSummary
from bookingcore.domain.communications import Communication
from bookingcore.domain.customers import Customer, Traveler
from bookingcore.domain.devices import PushDevice, PushDeviceId
from bookingcore.domain.documents import Document
from bookingcore.domain.events import Delivery, DomainEvent, OutboxMessage, SerializedMessage
from bookingcore.domain.families import (
    Family,
    FamilyId,
    FamilyInvitation,
    FamilyInvitationId,
    FamilyMember,
)
from bookingcore.domain.groups import BookingGroup, BookingGroupStatus
from bookingcore.domain.idempotency import KeyClaim
from bookingcore.domain.imports import ImportJob, ImportKind, ImportRowError
from bookingcore.domain.inbox import WebhookReceipt
from bookingcore.domain.insights import BookingNote, CustomerStats, StatusGroups
from bookingcore.domain.invoices import Invoice, InvoiceId, InvoiceSeries
from bookingcore.domain.items import BookingItem, BookingItemStatus
from bookingcore.domain.leads import Lead, LeadFilter, LeadStatus
from bookingcore.domain.lifecycle import LifecycleEvent
from bookingcore.domain.partner_webhooks import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
)
from bookingcore.domain.partners import Partner, PartnerFilter
from bookingcore.domain.payments import Payment, Refund
from bookingcore.domain.queries import (
    BookingFilter,
    Cursor,
    CustomerFilter,
    Page,
    PageRequest,
    SlotFilter,
)
from bookingcore.domain.quotations import Quotation, QuotationFilter
from bookingcore.domain.sharing import ShareLink, ShareLinkId
from bookingcore.domain.slots import Slot
from bookingcore.domain.staff import StaffMember
from bookingcore.domain.tallies import (
    UTC_ZONE,
    CohortTally,
    CommunicationTally,
    CustomerTally,
    FrequencyTally,
    GroupCounts,
    Grouping,
    GroupSums,
    ImportErrorTally,
    ImportTally,
    ImportTimingTally,
    LeadTally,
    ReconciliationTally,
    SlotTally,
    SourceOverlapTally,
    StatusSet,
    TransitionTally,
    WaitlistTally,
)
from bookingcore.domain.trips import Itinerary, Trip
from bookingcore.domain.values import (
    BookingGroupId,
    BookingId,
    BookingItemId,
    CommunicationId,
    CustomerId,
    DocumentId,
    EmailAddress,
    LeadId,
    LocationId,
    PartnerId,
    PaymentId,
    PhoneNumber,
    ProductId,
    QuotationId,
    RefundId,
    SlotId,
    StaffId,
    SupplierId,
    TravelerId,
    TripId,
    WaitlistEntryId,
)
from bookingcore.domain.vouchers import Voucher, VoucherFilter, VoucherId, VoucherRedemption
from bookingcore.domain.waitlist import WaitlistEntry

__all__ = [
    "AuditRepository",
    "AuthSessionRepository",
    "BookingGroupRepository",
    "BookingItemRepository",
    "BookingRepository",
    "CertificateRepository",
    "CommissionLedgerRepository",
    "CommunicationRepository",
    "CustomerRepository",
    "CustomerStatsRepository",
    "DeliveryRepository",
    "DocumentRepository",
    "FamilyRepository",
    "IdempotencyKeyRepository",
    "ImportErrorRepository",
    "ImportJobRepository",
    "InvoiceRepository",
    "InvoiceSeriesRepository",
    "ItineraryRepository",
    "LeadRepository",
    "LifecycleEventRepository",
    "LocationRepository",
    "OutboxRepository",
    "PartnerRepository",
    "PaymentRepository",
    "ProductRepository",
    "PushDeviceRepository",
    "QuotationRepository",
    "RefundRepository",
    "ShareLinkRepository",
    "SlotRepository",
    "StaffRepository",
    "SupplierRepository",
    "TravelerRepository",
    "TripRepository",
    "VoucherRepository",
    "WaitlistRepository",
    "WebhookAttemptRepository",
    "WebhookDeliveryRepository",
    "WebhookInboxRepository",
]


class CustomerRepository(Protocol):
    """Customers, unique by normalised phone.

    .. versionadded:: 0.1
    """

    def add(self, customer: Customer) -> None:
        """Register a new customer; a second customer with the same phone is a
        :class:`~bookingcore.errors.DuplicateError` at the latest on commit."""

    def get(self, customer_id: CustomerId) -> Customer | None:
        """The customer with this id."""

    def get_many(self, customer_ids: Collection[CustomerId]) -> Mapping[CustomerId, Customer]:
        """The customers with any of ``customer_ids``, by id, in one look-up (a page of
        an export reads its bookings' customers at once).

        .. versionadded:: 0.3
        """

    def get_by_phone(self, phone: PhoneNumber) -> Customer | None:
        """The customer with this normalised phone number; for a customer merged
        into another one, the customer it was merged into.

        .. versionchanged:: 0.3
           Follows merges.
        """

    def find_by_phones(self, phones: Collection[PhoneNumber]) -> Mapping[PhoneNumber, Customer]:
        """The customers holding any of ``phones``, by the phone asked for, in one
        look-up (merged customers replaced by the customer they were merged into).

        .. versionadded:: 0.1
        """

    def get_by_external_id(self, external_id: str) -> Customer | None:
        """The customer with this ``external_id`` (their id in another system), or the
        customer they were merged into.

        .. versionadded:: 0.3
        """

    def find_by_emails(self, emails: Collection[EmailAddress]) -> Mapping[EmailAddress, Customer]:
        """Customers by email for any of ``emails``, keyed by the address asked
        for; where several share one address, the oldest. One look-up. Merged
        customers are left out.

        Addresses match by :attr:`~bookingcore.domain.EmailAddress.match_key`,
        so ``Ann@Example.com`` finds the customer stored as ``ann@example.com``.

        .. versionadded:: 0.1
        .. versionchanged:: 0.4
           Matches without regard to case, local part included.
        """

    def list(self, query: CustomerFilter, page: PageRequest) -> Page[Customer]:
        """Customers matching ``query``, newest first (never merged ones)."""


class CustomerStatsRepository(Protocol):
    """Figures about a customer's bookings, computed by the storage.

    Its methods read what is committed and cost a fixed number of queries
    however many bookings match (SQL adapters use aggregate queries).

    .. versionadded:: 0.3
    """

    def summarise(
        self, query: BookingFilter, *, now: datetime, statuses: StatusGroups
    ) -> CustomerStats:
        """The :class:`~bookingcore.domain.insights.CustomerStats` of the bookings
        matching ``query`` (and of their payments), as
        :func:`~bookingcore.domain.insights.summarise_bookings` computes them.

        .. versionchanged:: 0.4
           Each group of ``statuses`` is a :class:`~bookingcore.domain.StatusSet`:
           a booking is in it by its status's name or by its ``(lifecycle, status)``.
        """

    def booked_products(self, query: BookingFilter, *, limit: int) -> Sequence[ProductId]:
        """Up to ``limit`` distinct products of the bookings matching ``query``,
        the most recently booked first (bookings without a product are skipped)."""

    def booking_notes(self, query: BookingFilter, *, limit: int) -> Sequence[BookingNote]:
        """Up to ``limit`` advisor notes of the bookings matching ``query``, newest
        first (ties by id, highest first), each with its booking's reference; one
        query however many bookings or notes there are.

        .. versionadded:: 0.3
        """


class TravelerRepository(Protocol):
    """Travelers saved under their customer.

    .. versionadded:: 0.1
    """

    def add(self, traveler: Traveler) -> None:
        """Register a new traveler."""

    def get(self, traveler_id: TravelerId) -> Traveler | None:
        """The traveler with this id, soft-deleted or not."""

    def list_for_customer(
        self, customer_id: CustomerId, *, include_deleted: bool = False
    ) -> Sequence[Traveler]:
        """The customer's travelers, oldest first."""

    def list_for_customers(
        self, customer_ids: Collection[CustomerId]
    ) -> Mapping[CustomerId, Sequence[Traveler]]:
        """The saved (not deleted) travelers of each of ``customer_ids``, oldest
        first, in one query; customers with none are left out."""


class LocationRepository(Protocol):
    """Locations, unique by code.

    .. versionadded:: 0.1
    """

    def add(self, location: Location) -> None:
        """Register a new location; a repeated code is a DuplicateError."""

    def get(self, location_id: LocationId) -> Location | None:
        """The location with this id."""

    def get_many(self, location_ids: Collection[LocationId]) -> Mapping[LocationId, Location]:
        """The locations with these ids, by id, in one read; unknown ids are left out
        (an import's chunk reads the dealers its rows name at once).

        .. versionadded:: 0.4
        """

    def get_by_code(self, code: str) -> Location | None:
        """The location with this (normalised, upper-case) code."""

    def get_for_update(self, location_id: LocationId) -> Location | None:
        """The location, locked until the unit of work ends.

        What must happen one at a time per location takes this lock first: two
        schedules opening slots at one place look for the slots already there
        one after the other, so they never open the same slot twice. SQL
        adapters take a row lock (``SELECT ... FOR UPDATE``; SQLite's write
        lock); the memory adapter serialises.

        .. versionadded:: 0.4
        """

    def list(self, *, only_active: bool = False) -> Sequence[Location]:
        """All locations ordered by code."""


class ProductRepository(Protocol):
    """Products, unique by code.

    .. versionadded:: 0.1
    """

    def add(self, product: Product) -> None:
        """Register a new product; a repeated code is a DuplicateError."""

    def get(self, product_id: ProductId) -> Product | None:
        """The product with this id."""

    def get_many(self, product_ids: Collection[ProductId]) -> Mapping[ProductId, Product]:
        """The products with these ids, by id, in one read; unknown ids are left out
        (an import's chunk reads the products its rows name at once).

        .. versionadded:: 0.4
        """

    def get_by_code(self, code: str) -> Product | None:
        """The product with this (normalised) code."""

    def list(self, query: ProductFilter, page: PageRequest) -> Page[Product]:
        """Products matching ``query``, newest first (keyset pages on ``(created_at, id)``).

        .. versionchanged:: 0.3
           A filter and a page in, a :class:`~bookingcore.domain.Page` out, newest first
           (was every product by code).
        """


class SupplierRepository(Protocol):
    """Suppliers, unique by code.

    .. versionadded:: 0.1
    """

    def add(self, supplier: Supplier) -> None:
        """Register a new supplier; a repeated code is a DuplicateError."""

    def get(self, supplier_id: SupplierId) -> Supplier | None:
        """The supplier with this id."""

    def get_by_code(self, code: str) -> Supplier | None:
        """The supplier with this (normalised) code."""

    def list(self, query: SupplierFilter, page: PageRequest) -> Page[Supplier]:
        """Suppliers matching ``query``, newest first (keyset pages on ``(created_at, id)``).

        .. versionchanged:: 0.3
           A filter and a page in, a :class:`~bookingcore.domain.Page` out, newest first
           (was every supplier by code).
        """


class SlotRepository(Protocol):
    """Slots, and the lock that keeps their capacity exact.

    .. versionadded:: 0.1
    """

    def add(self, slot: Slot) -> None:
        """Register a new slot."""

    def get(self, slot_id: SlotId) -> Slot | None:
        """The slot with this id, for reading."""

    def get_for_update(self, slot_id: SlotId) -> Slot | None:
        """The slot, locked until the unit of work ends.

        Two units of work that both call this for one slot run one after the
        other: the second sees the seats the first held. SQL adapters take a row
        lock (``SELECT ... FOR UPDATE``); the memory adapter serialises.
        """

    def list(self, query: SlotFilter, page: PageRequest) -> Page[Slot]:
        """Slots matching ``query``, earliest start first, a keyset page on
        ``(starts_at, id)`` (the cursor holds the last slot's start: see
        :meth:`~bookingcore.domain.Cursor.precedes`).

        .. versionchanged:: 0.3
           A page in, a :class:`~bookingcore.domain.Page` out (was every slot).
        """

    def tally(
        self, query: SlotFilter, by: Grouping, *, zone: ZoneInfo = UTC_ZONE
    ) -> Sequence[SlotTally]:
        """Slots matching ``query`` counted per group, with their capacity and seats held.

        ``by`` is one of ``none``, ``location``, ``product`` or ``starts_month``;
        months are ``zone``'s calendar months (see
        :func:`~bookingcore.domain.tallies.slot_group_key`).

        .. versionadded:: 0.3
        .. versionchanged:: 0.4 ``zone``.
        """

    def find_at(self, starts: Collection[tuple[LocationId, datetime]]) -> Sequence[Slot]:
        """Every slot starting exactly at one of the ``(location, start)`` pairs, in one
        query (bulk imports look up a chunk's slots at once), by start time."""

    def find_exact(
        self, keys: Collection[tuple[LocationId, ProductId | None, datetime]]
    ) -> Sequence[Slot]:
        """Every slot at one of the ``(location, product, start)`` keys, by start time.

        A key whose product is None matches slots with no product. Like
        :meth:`find_at`, one query for many keys, but only the slots asked for:
        a bulk import finds each row's slot without loading the other
        products' slots at the same place and time.
        """


class BookingRepository(Protocol):
    """Bookings and the lookups that keep them unique.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4
       ``tally`` and ``count_statuses`` are removed: reports use :meth:`sum_in` and
       :meth:`count_in`, and adapters no longer implement them.
    .. versionchanged:: 0.4
       :meth:`list_to_archive`; every query by :class:`BookingFilter` leaves archived
       bookings out unless the filter asks for them (``include_archived``).
    """

    def add(self, booking: Booking) -> None:
        """Register a new booking. Repeated reference, idempotency key or external
        id is a DuplicateError at the latest on commit."""

    def get(self, booking_id: BookingId) -> Booking | None:
        """The booking with this id."""

    def get_for_update(self, booking_id: BookingId) -> Booking | None:
        """The booking, locked until the unit of work ends, like a slot's ``get_for_update``.

        Status moves lock the booking before its slot, so a second move of the
        same booking waits and then sees the first one's result.

        .. versionadded:: 0.1
        """

    def get_by_reference(self, reference: str) -> Booking | None:
        """The booking with this human-readable reference."""

    def get_by_idempotency_key(self, key: str) -> Booking | None:
        """The booking created with this idempotency key."""

    def get_by_external_id(self, external_id: str) -> Booking | None:
        """The booking carrying this external id (from a partner or an import)."""

    def find_by_external_ids(self, external_ids: Collection[str]) -> Mapping[str, Booking]:
        """The bookings carrying any of ``external_ids``, by external id, in one look-up.

        .. versionadded:: 0.1
        """

    def find_by_idempotency_keys(self, keys: Collection[str]) -> Mapping[str, Booking]:
        """The bookings created with any of ``keys``, by key, in one look-up.

        .. versionadded:: 0.1
        """

    def find_by_ids(self, booking_ids: Collection[BookingId]) -> Mapping[BookingId, Booking]:
        """The bookings with any of ``booking_ids``, by id, in one look-up (unknown
        ids are left out).

        .. versionadded:: 0.3
        """

    def count_by_assignee(self, statuses: Collection[str]) -> Mapping[StaffId, int]:
        """How many bookings in one of ``statuses`` each assignee has (their load).

        .. versionadded:: 0.1
        """

    def list_for_customer_slot(self, customer_id: CustomerId, slot_id: SlotId) -> Sequence[Booking]:
        """Every booking of ``customer_id`` on ``slot_id``, whatever its status."""

    def find_for_customer_slots(
        self, pairs: Collection[tuple[CustomerId, SlotId]]
    ) -> Mapping[tuple[CustomerId, SlotId], Sequence[Booking]]:
        """:meth:`list_for_customer_slot` for many pairs in one look-up.

        Pairs with no booking are left out.

        .. versionadded:: 0.2
        """

    def list(self, query: BookingFilter, page: PageRequest) -> Page[Booking]:
        """Bookings matching ``query``, newest first."""

    def list_by_start(
        self, query: BookingFilter, statuses: StatusSet, *, limit: int
    ) -> Sequence[Booking]:
        """Up to ``limit`` bookings matching ``query`` and in ``statuses``, earliest slot
        start first by ``(starts_at, id)``: the first ``limit`` in that order, whatever
        order they were made in.

        One ordered query (``ORDER BY starts_at, id LIMIT``), the statuses tested by the
        storage; what the staff dashboard lists (the day's departures, the bookings
        awaiting payment that depart soonest).

        .. versionadded:: 0.4
        """

    def list_to_archive(
        self,
        started_before: datetime,
        statuses: StatusSet,
        *,
        limit: int,
        after: Cursor | None = None,
    ) -> Sequence[Booking]:
        """Up to ``limit`` live (not archived) bookings in ``statuses`` whose slot started
        before ``started_before``, earliest start first by ``(starts_at, id)``, after
        ``after`` (a :class:`~bookingcore.domain.Cursor` holding the last one's start
        and id, as :meth:`~bookingcore.domain.Cursor.precedes` tests).

        What archiving walks through; a SQL store answers it from an index of the
        live bookings only.

        .. versionadded:: 0.4
        """

    def tally_customers(
        self, query: BookingFilter, *, statuses: StatusSet | None = None
    ) -> Sequence[CustomerTally]:
        """Per currency, the customers with bookings matching ``query``, and how many booked twice.

        With ``statuses``, only the bookings in that set count (tested by the storage,
        as :meth:`sum_in` tests it: the bookings that hold seats, for customer value).

        .. versionadded:: 0.3
        .. versionchanged:: 0.4 ``statuses``.
        """

    def sum_in(
        self,
        query: BookingFilter,
        by: Grouping,
        statuses: StatusSet,
        *,
        zone: ZoneInfo = UTC_ZONE,
    ) -> Sequence[GroupSums]:
        """Bookings matching ``query`` and in ``statuses``, counted and summed per group
        and currency (revenue: the bookings that hold seats).

        Computed by the storage (one grouped query, the statuses tested there),
        never booking by booking; groups follow
        :func:`~bookingcore.domain.tallies.group_key`, periods being ``zone``'s
        calendar days and months (DST included). Reads what is committed. Groups
        with no such booking are left out (no bookings, no rows, even for
        ``Grouping.NONE``); the order of the rows is unspecified.

        .. versionadded:: 0.4
        """

    def count_in(
        self,
        query: BookingFilter,
        by: Grouping,
        sets: Sequence[StatusSet],
        *,
        zone: ZoneInfo = UTC_ZONE,
    ) -> Sequence[GroupCounts]:
        """Bookings matching ``query`` counted per group, with how many of them are in each
        of ``sets`` (cancelled, no-shows, completed: ``counts[i]`` for ``sets[i]``).

        One grouped query that counts every set at once (``count(*) FILTER``), never
        booking by booking; groups and periods as for :meth:`sum_in`. Groups with no
        booking are left out; the order of the rows is unspecified.

        .. versionadded:: 0.4
        """

    def count_customers_by_bookings(
        self, query: BookingFilter, *, statuses: StatusSet | None = None
    ) -> Sequence[FrequencyTally]:
        """Customers counted by how many bookings matching ``query`` (and, when given, in
        ``statuses``) each has: one row per number of bookings that some customer has
        (``GROUP BY`` the customer, then ``GROUP BY`` that count); the order of the rows
        is unspecified.

        .. versionadded:: 0.4
        """

    def tally_cohorts(
        self,
        query: BookingFilter,
        *,
        zone: ZoneInfo = UTC_ZONE,
        statuses: StatusSet | None = None,
    ) -> Sequence[CohortTally]:
        """Customers per month of their first booking matching ``query`` (and, when given,
        in ``statuses``: their cohort) and month of any such booking: how many of a
        cohort's customers booked
        in each month, months being ``zone``'s calendar months (as
        :func:`~bookingcore.domain.tallies.group_key`'s ``created_month``). Computed by
        the storage, grouped; pairs with no customer are left out.

        .. versionadded:: 0.4
        """

    def tally_source_overlap(self, query: BookingFilter) -> SourceOverlapTally:
        """The customers whose bookings matching ``query`` came through more than one
        source, and per two sources how many customers booked through both.

        .. versionadded:: 0.4
        """


class PartnerRepository(Protocol):
    """Partners, unique by API key and contact email.

    .. versionadded:: 0.1
    """

    def add(self, partner: Partner) -> None:
        """Register a new partner."""

    def get(self, partner_id: PartnerId) -> Partner | None:
        """The partner with this id."""

    def get_many(self, partner_ids: Collection[PartnerId]) -> Mapping[PartnerId, Partner]:
        """The partners with these ids, by id, in one read; unknown ids are left out.

        .. versionadded:: 0.4
        """

    def get_by_api_key(self, api_key: str) -> Partner | None:
        """The partner holding this API key."""

    def list(self, query: PartnerFilter, page: PageRequest) -> Page[Partner]:
        """Partners matching ``query``, newest first (keyset pages on ``(created_at, id)``).

        .. versionchanged:: 0.3
           A filter and a page in, a :class:`~bookingcore.domain.Page` out, newest
           first (was every partner by name, ``only_active`` a keyword).
        """


class LifecycleEventRepository(Protocol):
    """Each booking's history of status moves, append-only.

    .. versionadded:: 0.1
    """

    def add(self, event: LifecycleEvent) -> None:
        """Append an event. A repeated idempotency key is a DuplicateError at the
        latest on commit."""

    def list_for_booking(self, booking_id: BookingId) -> Sequence[LifecycleEvent]:
        """The booking's events in the order they happened."""

    def get_by_idempotency_key(self, key: str) -> LifecycleEvent | None:
        """The event written by the transition that carried ``key``."""

    def tally_transitions(
        self, occurred_from: datetime | None, occurred_before: datetime | None
    ) -> Sequence[TransitionTally]:
        """The moves (events with a ``from_status``; not creations) that happened in
        ``[occurred_from, occurred_before)``, counted per lifecycle, from-status and
        to-status, with the time from each booking's previous event (in or before the
        period) to the move: totals, extremes and the middle durations, computed by
        the storage (window functions and ``GROUP BY`` in SQL).

        .. versionadded:: 0.4
        """


class AuditRepository(Protocol):
    """The audit trail, append-only.

    .. versionadded:: 0.1
    """

    def add(self, entry: AuditEntry) -> None:
        """Append an entry."""

    def list_for(self, entity: str, entity_id: UUID) -> Sequence[AuditEntry]:
        """Every entry about one entity, oldest first."""

    def page_for(self, entity: str, entity_id: UUID, page: PageRequest) -> Page[AuditEntry]:
        """The entries about one entity, newest first (keyset pages on
        ``(occurred_at, id)``): for trails that grow without bound, such as a
        partner's.

        .. versionadded:: 0.3
        """


class OutboxRepository(Protocol):
    """Events written with the change that raised them, waiting to be handled.

    .. versionadded:: 0.1
    """

    def add(self, event: DomainEvent) -> None:
        """Put ``event`` in the outbox; storage numbers it on commit."""

    def get(self, event_id: UUID) -> OutboxMessage | None:
        """The message carrying the event with this id."""

    def list_undispatched(self, limit: int) -> Sequence[OutboxMessage]:
        """Up to ``limit`` messages not yet dispatched, in outbox order."""

    def list_unpublished(self, limit: int) -> Sequence[OutboxMessage]:
        """Up to ``limit`` messages not yet relayed to a broker, in outbox order."""

    def claim_unpublished(self, limit: int) -> Sequence[OutboxMessage]:
        """As :meth:`list_unpublished`, for a relay: the messages returned stay
        claimed until this unit of work ends, and messages another unit of work
        claimed are skipped, so two relays publish different messages
        (``FOR UPDATE SKIP LOCKED`` on PostgreSQL).

        .. versionadded:: 0.1
        """

    def claim_to_publish(self, limit: int, at: datetime) -> Sequence[SerializedMessage]:
        """Claim up to ``limit`` unpublished messages and mark them published at ``at``,
        in one step: a relay's batch for a
        :class:`~bookingcore.ports.SerializedEventPublisher`.

        The messages come as stored (the data as the JSON text storage holds,
        no typed event), in outbox order; only stored ones (those added in this
        unit of work are not numbered yet). They stay claimed until this unit of work ends, and
        messages another unit of work claimed are skipped, as with
        :meth:`claim_unpublished`. The mark is part of this unit of work: a
        rollback (say, the broker refused the batch) leaves them unpublished
        for the next relay, and a commit makes it durable. On SQL, one
        ``UPDATE ... RETURNING`` claims, marks and reads the batch.

        .. versionadded:: 0.2
        """

    def mark_published(self, event_ids: Sequence[UUID], at: datetime) -> None:
        """Record that the messages with ``event_ids`` were relayed at ``at`` (written on
        commit, with the rest of the unit of work; already published ones keep their time).

        .. versionadded:: 0.1
        """

    def list_for_bookings(self, booking_ids: Collection[BookingId]) -> Sequence[OutboxMessage]:
        """The messages whose event is about one of ``booking_ids`` (the ``booking_id``
        of its data), in outbox order; those added in this unit of work last.

        Changes to them (:meth:`~bookingcore.domain.OutboxMessage.erase`) are
        written on commit. On SQL the look-up reads the JSON payload's
        ``booking_id`` (no index: a scan of the outbox, which retention keeps
        bounded; for erasure, not for hot paths).

        .. versionadded:: 0.4
        """

    def delete_finished(self, before: datetime, *, published: bool, limit: int) -> int:
        """Delete up to ``limit`` messages that are done with, oldest (by sequence)
        first, with their deliveries, at once in this unit of work; how many went.

        A message is done with when it occurred and was dispatched before
        ``before``, every delivery of its event is finished (done or given up,
        not waiting for a retry) and finished before ``before``, and, with
        ``published``, it was published (relayed to a broker) before ``before``.
        The walk by sequence stops at the first message that occurred at or after
        ``before`` (so no batch reads the messages within the retention; one that
        occurred earlier but was numbered after it, by clock skew, waits for a
        later prune). Messages another unit of work holds (a relay's claim, on stores with row
        locks: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL) are skipped, and the
        deliveries of the chosen messages are locked before they are judged, so a
        delivery another unit of work is moving back to retrying keeps its
        message. Messages and deliveries this unit of work tracks are left alone.
        A rollback undoes the deletion.

        .. versionadded:: 0.4
        """


class DeliveryRepository(Protocol):
    """What each handler did with each event.

    .. versionadded:: 0.1
    """

    def add(self, delivery: Delivery) -> None:
        """Record a first attempt; a second record for the same event and handler
        is a DuplicateError at the latest on commit."""

    def get(self, event_id: UUID, handler: str) -> Delivery | None:
        """The delivery of ``event_id`` to ``handler``."""

    def claim_retry(self, event_id: UUID, handler: str, *, attempts: int) -> Delivery | None:
        """The delivery of ``event_id`` to ``handler`` if, as stored now, it still waits
        for a retry after ``attempts`` attempts; ``None`` otherwise.

        A compare-and-set decided by the storage, with the row locked until the
        unit of work ends: of two dispatchers that retried one delivery at once,
        the one that asks second gets ``None`` once the first stored its
        outcome, and drops its handler's writes. The delivery returned counts as
        read under the lock (brought up to date when read before).

        .. versionadded:: 0.4
        """

    def list_for_event(self, event_id: UUID) -> Sequence[Delivery]:
        """Every handler's delivery of one event, by handler name."""

    def list_due(
        self, now: datetime, limit: int, *, handlers: Collection[str] | None = None
    ) -> Sequence[Delivery]:
        """Up to ``limit`` deliveries waiting for a retry that is due at ``now``, soonest
        due first (then by handler and id); with ``handlers``, only theirs.

        .. versionchanged:: 0.4 ``handlers``.
        """


class CommunicationRepository(Protocol):
    """The communications log.

    .. versionadded:: 0.1
    """

    def add(self, communication: Communication) -> None:
        """Log a new message; a repeated dedupe key or provider message id is a
        DuplicateError at the latest on commit."""

    def get(self, communication_id: CommunicationId) -> Communication | None:
        """The message with this id."""

    def get_by_dedupe_key(self, key: str) -> Communication | None:
        """The message logged with this dedupe key."""

    def get_by_provider_message_id(self, provider_message_id: str) -> Communication | None:
        """The message the provider knows by this id (for delivery callbacks)."""

    def get_for_update(self, communication_id: CommunicationId) -> Communication | None:
        """The message with this id, read as stored now and locked until the unit of work
        ends: delivery reports and the sender's answer about one message are applied one
        after the other, each to what the other wrote.

        .. versionadded:: 0.4
        """

    def requeue_failed(
        self, communication_id: CommunicationId, *, at: datetime | None = None
    ) -> bool:
        """Claim a failed message for sending again: move it from ``failed`` back to
        ``pending`` (as :meth:`~bookingcore.domain.Communication.requeue` does, with
        ``sending_since`` set to ``at``) at once, only if it is still failed in
        storage. True when this unit of work moved it (the caller sends it, after
        commit); False when there is no such
        message or it is not failed (another sender claimed it first, or it was
        never failed).

        A compare-and-set decided by the storage, not by what this unit of work
        read before: of two units of work that both read the message failed, one
        gets True and the other False (on PostgreSQL the second waits for the
        first to end, then finds the message pending). Either way the message as
        this unit of work sees it (``get``, and the entity it handed out before
        if unchanged since) is brought up to date: pending when claimed, as the
        other sender left it otherwise. A rollback gives the claim back.

        .. versionadded:: 0.4
        .. versionchanged:: 0.4
           ``at``: when the claimed message is handed over for sending.
        """

    def requeue_for_retry(
        self,
        communication_id: CommunicationId,
        *,
        at: datetime,
        failed_by: datetime,
        attempts_below: int,
    ) -> bool:
        """Claim a failed message for another attempt, as :meth:`requeue_failed`
        does, only if, as stored, it is due for one
        (:meth:`~bookingcore.domain.Communication.retry_due`): failed, its last
        failure ``retryable``, failed at or before ``failed_by``, and handed to
        its channel fewer than ``attempts_below`` times. True when this unit of
        work moved it back to pending (the caller sends it, after commit); False
        otherwise (no such message, not due, or another sender claimed it first).

        A compare-and-set decided by the storage, as :meth:`requeue_failed`: of
        two units of work that both found the message due, one gets True; the
        other gets False even when the first one's attempt failed again before it
        asked (that failure is newer than ``failed_by``). Either way the message as
        this unit of work sees it is brought up to date. A rollback gives the claim
        back.

        .. versionadded:: 0.4
        """

    def list_stalled(self, before: datetime, limit: int) -> Sequence[Communication]:
        """Up to ``limit`` pending messages handed over for sending before ``before``
        (``sending_since`` set and earlier), longest waiting first (by
        ``sending_since``, then id): messages whose sender may have crashed before
        the notifier answered. Pending messages without ``sending_since`` are never
        listed.

        .. versionadded:: 0.4
        """

    def claim_stalled(
        self,
        communication_id: CommunicationId,
        *,
        before: datetime,
        at: datetime,
        claim: UUID | None = None,
    ) -> bool:
        """Claim a stalled message for sending it once more: set its
        ``sending_since`` to ``at`` and its ``sending_claim`` to ``claim`` at once,
        only if, as stored, it is still pending and was handed over before
        ``before`` (whoever held it then: its sender is taken to have crashed).
        True when this unit of work claimed it (the caller sends it, after commit);
        False when there is no such message, it moved on (sent, failed), or another
        sender claimed it since (its ``sending_since`` is ``before`` or later now).

        A compare-and-set decided by the storage, as :meth:`requeue_failed`: of two
        units of work that both listed the message, one gets True and the other
        False. Either way the message as this unit of work sees it is brought up to
        date. A rollback gives the claim back. A claim adds one to the message's
        ``attempts``.

        .. versionadded:: 0.4
        .. versionchanged:: 0.4
           ``claim``: the sweeper's token, which its answer is recorded under.
        .. versionchanged:: 0.4
           Adds one to ``attempts``.
        """

    def claim_for_sending(
        self, communication_id: CommunicationId, *, claim: UUID, at: datetime
    ) -> bool:
        """Claim a pending message nobody holds for handing it to the notifier: set its
        ``sending_claim`` to ``claim`` and its ``sending_since`` to ``at`` at once,
        only if, as stored, it is pending and its ``sending_claim`` is empty. True
        when this unit of work claimed it (the caller sends it, after commit);
        False when there is no such message, it moved on, or another sender holds
        it (that sender sends it; the caller does not hand it to the gateway).

        A compare-and-set decided by the storage, as :meth:`requeue_failed`; either
        way the message as this unit of work sees it is brought up to date. A
        rollback gives the claim back. A claim adds one to the message's
        ``attempts``.

        .. versionadded:: 0.4
        .. versionchanged:: 0.4
           Adds one to ``attempts``.
        """

    def settle_claim(self, communication_id: CommunicationId, claim: UUID) -> bool:
        """Take back this sender's claim to record the notifier's answer: clear
        ``sending_claim`` at once, only if, as stored, it is still ``claim``. True
        when it was (the caller records the answer as the claim holder); False when
        another sender took the message over meanwhile (the stalled-message job),
        or its answer was recorded already.

        Either way the message's row is this unit of work's until it ends (locked
        on PostgreSQL) and the message as it sees it is brought up to date, so
        what the caller then records is decided on the stored state.

        .. versionadded:: 0.4
        """

    def list_for_booking(self, booking_id: BookingId) -> Sequence[Communication]:
        """A booking's messages, oldest first."""

    def list_for_customer(self, customer_id: CustomerId) -> Sequence[Communication]:
        """A customer's messages, about any booking or none, oldest first."""

    def tally_engagement(
        self, sent_from: datetime | None, sent_before: datetime | None
    ) -> Sequence[CommunicationTally]:
        """The messages that went out in ``[sent_from, sent_before)``, counted per type
        and channel by the storage (see :class:`~bookingcore.domain.CommunicationTally`).

        A message goes out when it is sent (``sent_at``); one the channel refused
        outright, never sent, when it failed (``failed_at``). Pending messages are
        not counted. Groups without messages are left out.

        .. versionadded:: 0.4
        """


class DocumentRepository(Protocol):
    """Documents stored with their booking.

    .. versionadded:: 0.1
    """

    def add(self, document: Document) -> None:
        """Store a new document."""

    def get(self, document_id: DocumentId) -> Document | None:
        """The document with this id."""

    def list_for_booking(self, booking_id: BookingId) -> Sequence[Document]:
        """A booking's documents, oldest first."""


class StaffRepository(Protocol):
    """The business's people, unique by email without regard to case.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4
       Emails match by :attr:`~bookingcore.domain.EmailAddress.match_key`.
    """

    def add(self, member: StaffMember) -> None:
        """Register a new staff member. An email whose
        :attr:`~bookingcore.domain.EmailAddress.match_key` another member has
        (``ANN@example.com`` next to ``Ann@example.com``) is a DuplicateError at
        the latest on commit."""

    def get(self, staff_id: StaffId) -> StaffMember | None:
        """The staff member with this id."""

    def get_for_update(self, staff_id: StaffId) -> StaffMember | None:
        """The staff member, locked until the unit of work ends, like a slot's
        ``get_for_update``. A sign-in takes this lock before it starts a session,
        and deactivating or changing a password takes it before ending the
        member's sessions, so a sign-in never slips a session past either.

        .. versionadded:: 0.4
        """

    def get_by_email(self, email: EmailAddress) -> StaffMember | None:
        """The staff member whose email has the same
        :attr:`~bookingcore.domain.EmailAddress.match_key`, so ``ann@example.com``
        finds the member stored as ``Ann@Example.com`` (whose email stays as stored).

        .. versionchanged:: 0.4
           Matches without regard to case, local part included.
        """

    def list(self, *, role: str | None = None, only_active: bool = False) -> Sequence[StaffMember]:
        """Staff ordered by email, optionally only one role or only active people."""


class ImportJobRepository(Protocol):
    """Import jobs: one per file imported.

    .. versionadded:: 0.1
    """

    def add(self, job: ImportJob) -> None:
        """Register a new import job."""

    def get(self, job_id: UUID) -> ImportJob | None:
        """The import job with this id."""

    def get_for_update(self, job_id: UUID) -> ImportJob | None:
        """The job, locked until the unit of work ends: a chunk, a cancel and a
        retry of one job never interleave."""

    def list(self, page: PageRequest) -> Page[ImportJob]:
        """Import jobs, newest first."""

    def tally(
        self,
        created_from: datetime | None,
        created_before: datetime | None,
        *,
        kind: ImportKind | None = None,
    ) -> Sequence[ImportTally]:
        """Import jobs created in ``[created_from, created_before)`` counted per status;
        with ``kind``, only the jobs of that :attr:`~bookingcore.domain.ImportJob.kind`
        (a job without one in its settings imported bookings).

        .. versionadded:: 0.3
        .. versionchanged:: 0.4 ``kind``.
        """

    def tally_timings(
        self,
        created_from: datetime | None,
        created_before: datetime | None,
        *,
        kind: ImportKind | None = None,
    ) -> Sequence[ImportTimingTally]:
        """Import jobs created in ``[created_from, created_before)`` per status, with how
        long those that started and completed took (``completed_at - started_at``),
        computed by the storage; with ``kind``, only the jobs of that kind.

        .. versionadded:: 0.4
        """

    def files_to_purge(self, finished_before: datetime, *, limit: int) -> Sequence[ImportJob]:
        """Up to ``limit`` finished jobs (completed, failed, cancelled) whose
        ``completed_at`` is before ``finished_before`` and whose file is not marked
        purged (settings' ``file_purged_at``), oldest ``completed_at`` first; not locked.

        .. versionadded:: 0.4
        """


class ImportErrorRepository(Protocol):
    """The rows each import could not take, with their raw cells and problems.

    .. versionadded:: 0.1
    """

    def add(self, error: ImportRowError) -> None:
        """Record a failed row."""

    def list_for_job(
        self, job_id: UUID, *, unresolved_only: bool = False
    ) -> Sequence[ImportRowError]:
        """The job's failed rows in row order; ``unresolved_only`` leaves out rows a
        retry has since imported."""

    def page_for_job(
        self, job_id: UUID, page: PageRequest, *, unresolved_only: bool = False
    ) -> Page[ImportRowError]:
        """The job's failed rows in row order, a keyset page at a time on
        ``(row_number, created_at, id)`` (cursors hold the row number as their
        :attr:`~bookingcore.domain.Cursor.rank`); ``unresolved_only`` as in
        :meth:`list_for_job`.

        .. versionadded:: 0.3
        """

    def tally_by_type(
        self,
        created_from: datetime | None,
        created_before: datetime | None,
        *,
        kind: ImportKind | None = None,
    ) -> Sequence[ImportErrorTally]:
        """The failed rows of the import jobs created in ``[created_from,
        created_before)`` (with ``kind``, of that kind only), counted per error type
        (the code of each row's first problem) by the storage.

        .. versionadded:: 0.4
        """


class AuthSessionRepository(Protocol):
    """Signed-in sessions, the families of refresh tokens.

    .. versionadded:: 0.1
    """

    def add(self, session: AuthSession) -> None:
        """Start a new session."""

    def get(self, session_id: UUID) -> AuthSession | None:
        """The session with this id."""

    def get_for_update(self, session_id: UUID) -> AuthSession | None:
        """The session, locked until the unit of work ends: two refreshes with one
        token never both rotate it."""

    def list_for_subject(
        self, kind: str, subject_id: UUID, *, active_at: datetime | None = None
    ) -> Sequence[AuthSession]:
        """A customer's, staff member's or partner's sessions, newest first;
        ``active_at`` keeps only those neither revoked nor expired at that time."""

    def delete_expired(self, now: datetime) -> int:
        """Remove sessions that expired before ``now``; returns how many."""


class BookingGroupRepository(Protocol):
    """Booking groups, unique by group reference.

    .. versionadded:: 0.1
    """

    def add(self, group: BookingGroup) -> None:
        """Register a new group. A repeated group reference is a DuplicateError at
        the latest on commit."""

    def get(self, group_id: BookingGroupId) -> BookingGroup | None:
        """The group with this id."""

    def get_for_update(self, group_id: BookingGroupId) -> BookingGroup | None:
        """The group, locked until the unit of work ends (bookings joining it wait)."""

    def get_by_reference(self, group_reference: str) -> BookingGroup | None:
        """The group with this reference (compared in its upper-case normal form)."""

    def list(
        self,
        page: PageRequest,
        *,
        status: BookingGroupStatus | None = None,
        customer_id: CustomerId | None = None,
        search: str | None = None,
    ) -> Page[BookingGroup]:
        """Groups newest first; ``status`` keeps one status, ``customer_id`` the groups
        that customer organises or whose company profile it is, ``search`` the groups
        whose reference or name contains it (case-insensitive).

        .. versionchanged:: 0.2
           ``search``.
        """


class BookingItemRepository(Protocol):
    """Bookings' line items.

    .. versionadded:: 0.1
    """

    def add(self, item: BookingItem) -> None:
        """Register a new line item of a stored booking."""

    def get(self, item_id: BookingItemId) -> BookingItem | None:
        """The line item with this id."""

    def list_for_booking(self, booking_id: BookingId) -> Sequence[BookingItem]:
        """A booking's line items, oldest first, cancelled ones included."""

    def list_for_supplier(
        self,
        supplier_id: SupplierId,
        page: PageRequest,
        *,
        status: BookingItemStatus | None = None,
    ) -> Page[BookingItem]:
        """One supplier's line items (in ``status``, when given), newest first
        (keyset pages on ``(created_at, id)``).

        .. versionadded:: 0.3

        .. versionchanged:: 0.3
           A page in, a :class:`~bookingcore.domain.Page` out, newest first (was
           every item, oldest first); ``status`` is keyword-only.
        """

    def count_supplied_by_booking(
        self, statuses: Collection[BookingItemStatus]
    ) -> Mapping[BookingId, int]:
        """How many line items ordered from a supplier (``supplier_id`` set) and in
        one of ``statuses`` each booking has, counted by the storage in one grouped
        query; bookings with none are left out.

        .. versionadded:: 0.3
        """


class WaitlistRepository(Protocol):
    """Waiting lists: at most one active (waiting or offered) entry per customer and slot.

    .. versionadded:: 0.1
    """

    def add(self, entry: WaitlistEntry) -> None:
        """Register a new entry. A second *active* entry of one customer on one slot
        is a DuplicateError at the latest on commit; ended entries do not count."""

    def get(self, entry_id: WaitlistEntryId) -> WaitlistEntry | None:
        """The entry with this id."""

    def get_for_update(self, entry_id: WaitlistEntryId) -> WaitlistEntry | None:
        """The entry, locked until the unit of work ends: an offer, a booking and an
        expiry of one entry never interleave."""

    def get_active(self, slot_id: SlotId, customer_id: CustomerId) -> WaitlistEntry | None:
        """The customer's waiting or offered entry on the slot, if any."""

    def list_for_slot(
        self, slot_id: SlotId, *, active_only: bool = False
    ) -> Sequence[WaitlistEntry]:
        """The slot's entries in offer order (:attr:`WaitlistEntry.offer_key`: priority,
        position, joined); ``active_only`` keeps the waiting and offered ones."""

    def list_for_customer(self, customer_id: CustomerId, page: PageRequest) -> Page[WaitlistEntry]:
        """The customer's entries, on any slot and in any status, newest first
        (keyset pages on ``(created_at, id)``).

        .. versionchanged:: 0.3
           A page in, a :class:`~bookingcore.domain.Page` out, newest first (was
           every entry, oldest first).
        """

    def list_expired_offers(self, now: datetime, limit: int) -> Sequence[WaitlistEntry]:
        """Up to ``limit`` offered entries whose offer ran out at or before ``now``,
        the longest expired first (what an expiry job works through)."""

    def list_waiting_past_start(
        self, now: datetime, limit: int, *, waiting_from: date | None = None
    ) -> Sequence[WaitlistEntry]:
        """Up to ``limit`` ``waiting`` entries whose slot started at or before ``now``,
        oldest first (what an expiry job closes: nobody will be offered those seats).
        With ``waiting_from``, entries listing an alternative date on or after it are
        left out (they still wait for it), in the query.

        .. versionadded:: 0.2
        .. versionchanged:: 0.4 ``waiting_from``.
        """

    def list_waiting_for_day(
        self,
        product_id: ProductId,
        location_id: LocationId,
        day: date,
        *,
        other_than: SlotId,
    ) -> Sequence[WaitlistEntry]:
        """The ``waiting`` entries of the other slots of ``product_id`` at
        ``location_id`` (every slot but ``other_than``) that list ``day`` among
        their :attr:`~bookingcore.domain.WaitlistEntry.alternative_dates`, in the
        order they joined (``created_at``, then id). One query: adapters index
        the dates rather than read every entry.

        .. versionadded:: 0.4
        """

    def list_offers_on(self, slot_id: SlotId, customer_id: CustomerId) -> Sequence[WaitlistEntry]:
        """The customer's ``offered`` entries whose offer holds seats on ``slot_id``
        (:attr:`~bookingcore.domain.WaitlistEntry.offer_slot_id`): an offer on their
        entry of that slot, and offers made there for an alternative date of their
        entries on other slots; open or run out (not yet expired by the job), in the
        order they joined (``created_at``, then id). What booking the slot directly
        looks for: those seats are the customer's.

        .. versionadded:: 0.4
        """

    def next_position(self, slot_id: SlotId) -> int:
        """The position a new entry on the slot takes: one past the highest position
        any entry of the slot ever had (1 for the first). Call it under the slot's
        lock (``slots.get_for_update``) so two joiners do not take the same one."""

    def tally(
        self,
        created_from: datetime | None,
        created_before: datetime | None,
        location_id: LocationId | None = None,
    ) -> Sequence[WaitlistTally]:
        """Entries that joined in ``[created_from, created_before)`` counted per status,
        of slots at ``location_id`` or anywhere; one grouped query.

        .. versionadded:: 0.3
        """


class PaymentRepository(Protocol):
    """Payments, unique by provider and provider reference, and by idempotency key.

    Refunds have a repository of their own (:class:`RefundRepository`): they
    are written by other requests than their payment (refund webhooks) and
    looked up by their own provider reference. What keeps them within the
    captured amount is the payment's running totals, which change under the
    payment's version (and lock), not a sum over stored refunds.

    .. versionadded:: 0.1
    """

    def add(self, payment: Payment) -> None:
        """Register a new payment. A repeated ``(provider, provider_reference)`` or
        idempotency key is a DuplicateError at the latest on commit."""

    def get(self, payment_id: PaymentId) -> Payment | None:
        """The payment with this id."""

    def get_for_update(self, payment_id: PaymentId) -> Payment | None:
        """The payment, locked until the unit of work ends: two deliveries of one
        webhook, or two refunds, run one after the other."""

    def get_by_provider_reference(self, provider: str, reference: str) -> Payment | None:
        """The payment the provider knows by ``reference`` (its payment intent or order
        id); ``provider`` is compared in its lower-case normal form."""

    def get_by_provider_reference_for_update(
        self, provider: str, reference: str, *, with_booking: bool = False
    ) -> Payment | None:
        """As :meth:`get_by_provider_reference`, locked as :meth:`get_for_update` locks:
        a webhook finds and locks its payment in one read.

        ``with_booking`` says the caller locks the payment's booking next
        (``bookings.get_for_update``, as a capture does): a store may lock it
        here, after the payment and in the same round trip, and answer that
        call from memory. The locks and what the calls return are the same
        either way.

        .. versionadded:: 0.2
        .. versionchanged:: 0.4
           ``with_booking``.
        """

    def get_by_idempotency_key(self, key: str) -> Payment | None:
        """The payment created with this idempotency key."""

    def list_for_booking(self, booking_id: BookingId) -> Sequence[Payment]:
        """A booking's payments, oldest first."""

    def list_for_customer(self, customer_id: CustomerId) -> Sequence[Payment]:
        """A customer's payments for any booking, oldest first."""

    def tally_reconciliation(
        self, created_from: datetime, created_before: datetime, cancelled: StatusSet
    ) -> ReconciliationTally:
        """The bookings made in ``[created_from, created_before)`` against their
        payments, computed by the storage (see
        :class:`~bookingcore.domain.ReconciliationTally`): each active booking
        (its lifecycle status not in ``cancelled``) with the sums its payments in its
        currency captured and refunded, and the payments holding money that none of
        them accounts for. Amounts are exact; only the few columns needed are read,
        in a few statements whatever the number of bookings.

        .. versionadded:: 0.4
        """

    def list_needing_attention(self, limit: int) -> Sequence[Payment]:
        """At most ``limit`` payments with an open attention item, by when their oldest
        open item was flagged (``Payment.attention_since``), then id.

        .. versionadded:: 0.4
        .. versionchanged:: 0.4
           By their open attention items, not a ``needs_attention`` metadata key.
        """


class RefundRepository(Protocol):
    """Refunds of payments, unique by provider reference.

    .. versionadded:: 0.1
    """

    def add(self, refund: Refund) -> None:
        """Register a refund started with ``Payment.start_refund``. A repeated
        provider reference is a DuplicateError at the latest on commit."""

    def get(self, refund_id: RefundId) -> Refund | None:
        """The refund with this id."""

    def get_by_provider_reference(self, reference: str) -> Refund | None:
        """The refund the provider knows by this id (for refund webhooks)."""

    def list_for_payment(self, payment_id: PaymentId) -> Sequence[Refund]:
        """A payment's refunds, oldest first, failed ones included."""


class WebhookInboxRepository(Protocol):
    """Verified provider webhook deliveries, unique by ``(provider, event_id)``.

    .. versionadded:: 0.2
    """

    def add(self, receipt: WebhookReceipt) -> None:
        """Store a new delivery. A repeated ``(provider, event_id)`` is a
        DuplicateError at the latest on commit: the delivery was received before."""

    def add_if_new(self, receipt: WebhookReceipt) -> bool:
        """Store ``receipt`` now, in this unit of work's transaction, unless its
        ``(provider, event_id)`` is stored already: True when it was new.

        When another transaction is storing the same event at this moment, wait
        for it to end: False once it committed (read the stored receipt with
        :meth:`get_by_event`), True if it rolled back. A receipt stored here is
        tracked like one read: later changes are written on commit, and a
        rollback removes it. PostgreSQL: ``INSERT ... ON CONFLICT DO NOTHING``.

        .. versionadded:: 0.2
        """

    def get(self, receipt_id: UUID) -> WebhookReceipt | None:
        """The receipt with this id."""

    def get_by_event(self, provider: str, event_id: str) -> WebhookReceipt | None:
        """The receipt of ``provider``'s event ``event_id`` (``provider`` in its
        lower-case normal form)."""

    def list_unsettled(self, limit: int) -> Sequence[WebhookReceipt]:
        """Up to ``limit`` receipts still ``received`` or ``failed``, oldest first:
        what a job applies again."""

    def list_for_payment(self, provider: str, payment_reference: str) -> Sequence[WebhookReceipt]:
        """Every receipt of ``provider`` (any spelling of its name) about the payment
        it knows as ``payment_reference``, oldest first (by ``received_at``, then id).

        .. versionadded:: 0.3
        """


class IdempotencyKeyRepository(Protocol):
    """The key registry: which kind of operation each stored idempotency key belongs to.

    One claim per key (:class:`~bookingcore.domain.idempotency.KeyClaim`), taken
    in the unit of work of the change the key stands for, so a key answers one
    kind of operation even when two kinds send it at the same moment.

    .. versionadded:: 0.4
    """

    def add_if_new(self, claim: KeyClaim) -> bool:
        """Store ``claim`` now, in this unit of work's transaction, unless its key is
        claimed already: True when it was new.

        As :meth:`WebhookInboxRepository.add_if_new`: when another transaction is
        claiming the same key at this moment, wait for it to end: False once it
        committed (read its claim with :meth:`get`), True if it rolled back. A
        rollback of this unit of work gives the key back. PostgreSQL:
        ``INSERT ... ON CONFLICT DO NOTHING``.
        """

    def get(self, key: str) -> KeyClaim | None:
        """The claim on ``key`` (as stored: scoped to its principal), if any."""


class InvoiceRepository(Protocol):
    """Invoices and credit notes, unique by number.

    .. versionadded:: 0.2
    """

    def add(self, invoice: Invoice) -> None:
        """Store a new invoice. A repeated number is a DuplicateError at the latest
        on commit."""

    def get(self, invoice_id: InvoiceId) -> Invoice | None:
        """The invoice or credit note with this id."""

    def get_by_number(self, number: str) -> Invoice | None:
        """The invoice or credit note printed with ``number``."""

    def list_for_booking(self, booking_id: BookingId) -> Sequence[Invoice]:
        """A booking's invoices, credit notes and debit notes, in the order they were issued."""


class InvoiceSeriesRepository(Protocol):
    """The counters invoice numbers are taken from, unique by key.

    .. versionadded:: 0.2
    """

    def add(self, series: InvoiceSeries) -> None:
        """Store a new series. A repeated key is a DuplicateError at the latest on commit."""

    def add_if_new(self, series: InvoiceSeries) -> bool:
        """Store ``series`` now unless its key is stored already (or being stored by
        another transaction, which this waits for): True when it was new. As
        :meth:`WebhookInboxRepository.add_if_new`: the first number of a new
        series is taken in the transaction that needs it, without a duplicate.

        .. versionadded:: 0.2
        """

    def get(self, key: str) -> InvoiceSeries | None:
        """The series with ``key`` (``"2026/DL01"``), not locked: to show where it stands."""

    def get_for_update(self, key: str) -> InvoiceSeries | None:
        """The series with ``key``, locked until the unit of work ends, so that two
        transactions take its numbers one after the other; None when there is none."""

    def take_number(self, key: str) -> int | None:
        """The next number of the series with ``key``, taken now: the series moves on by
        one and stays locked until the unit of work ends, as ``get_for_update`` leaves
        it, so two transactions take its numbers one after the other and a rollback
        gives the number back. None when there is no such series.

        The same as ``get_for_update(key).take()``, in one statement where the
        store can (``UPDATE ... RETURNING``): no read before and no write on commit.

        .. versionadded:: 0.3
        """


# --------------------------------------------------------------------------- partner commissions


class CommissionLedgerRepository(Protocol):
    """Partners' commission ledger: append-only entries, unique by key.

    Entries are only ever added; there is no update and no delete.

    .. versionadded:: 0.2
    """

    def add(self, entry: CommissionEntry) -> None:
        """Store a new entry. A repeated key (or id) is a DuplicateError at the latest
        on commit."""

    def list_for_booking(self, booking_id: BookingId) -> Sequence[CommissionEntry]:
        """A booking's entries, oldest first (by ``recorded_at``, then id)."""

    def list_recorded(
        self, start: datetime, end: datetime, partner_id: PartnerId | None = None
    ) -> Sequence[CommissionEntry]:
        """Entries recorded in ``[start, end)``, of one partner or all, oldest first."""

    def page_recorded(
        self, start: datetime, end: datetime, partner_id: PartnerId | None, page: PageRequest
    ) -> Page[CommissionEntry]:
        """Entries recorded in ``[start, end)``, of one partner or all, newest first
        (keyset pages on ``(recorded_at, id)``): the ledger a partner or staff browse.

        .. versionadded:: 0.3
        """

    def totals(
        self, start: datetime, end: datetime, partner_id: PartnerId | None = None
    ) -> Sequence[CommissionSummary]:
        """Entries recorded in ``[start, end)``, of one partner or all, summed per
        partner and currency: accrued, reversed (as a positive amount), net and the
        number of entries, as :func:`~bookingcore.domain.commissions.summarise` works
        them out from :meth:`list_recorded`.

        Computed by the storage (one grouped query), never entry by entry; exact
        on every backend. Reads what is committed. A partner and currency with no
        entry in the period has no row; the order of the rows is unspecified.
        The sums are :meth:`~bookingcore.domain.values.Money.summed`: not held to
        the bound of one amount.

        .. versionadded:: 0.3
        .. versionchanged:: 0.4
           Sums above :data:`~bookingcore.domain.values.MAX_AMOUNT` are given in
           full; they raised ``ValidationError``.
        """


# --------------------------------------------------------------------------- partner webhooks


class WebhookDeliveryRepository(Protocol):
    """Webhooks to partners, one per (event, partner, topic): its id says which.

    .. versionadded:: 0.2
    """

    def add(self, delivery: WebhookDelivery) -> None:
        """Store a new delivery; an id stored already is a DuplicateError at commit."""

    def get(self, delivery_id: UUID) -> WebhookDelivery | None:
        """The delivery with this id."""

    def claim_due(self, now: datetime, limit: int) -> Sequence[WebhookDelivery]:
        """Up to ``limit`` pending deliveries due at ``now`` and not claimed, oldest due
        first, locked for this unit of work.

        Two units of work that claim at once get different deliveries: rows
        another one has locked are skipped (``FOR UPDATE SKIP LOCKED`` on
        PostgreSQL; SQLite and memory let one writer in at a time). Claim them
        (:meth:`~bookingcore.domain.partner_webhooks.WebhookDelivery.claim`)
        and commit before sending anything.
        """

    def list(
        self,
        page: PageRequest,
        *,
        partner_id: PartnerId | None = None,
        status: WebhookDeliveryStatus | None = None,
    ) -> Page[WebhookDelivery]:
        """Deliveries newest first (by ``created_at``, then id), optionally of one
        partner and of one status, a page at a time."""

    def list_for_booking(self, booking_id: BookingId) -> Sequence[WebhookDelivery]:
        """Every delivery about the booking, to any partner, oldest first (by
        ``created_at``, then id).

        .. versionadded:: 0.3
        """


class WebhookAttemptRepository(Protocol):
    """The log of webhook attempts, one per delivery and attempt number.

    .. versionadded:: 0.2
    """

    def add(self, attempt: WebhookAttempt) -> None:
        """Store an attempt; the same id twice is a DuplicateError at commit."""

    def list_for_delivery(self, delivery_id: UUID) -> Sequence[WebhookAttempt]:
        """A delivery's attempts in the order they were made."""


# ------------------------------------------------------------ the travel operating system


class LeadRepository(Protocol):
    """Leads: enquiries on their way to a quotation.

    .. versionadded:: 0.3
    """

    def add(self, lead: Lead) -> None:
        """Register a new lead."""

    def get(self, lead_id: LeadId) -> Lead | None:
        """The lead with this id."""

    def get_by_idempotency_key(self, key: str) -> Lead | None:
        """The lead a capture with this (scoped) idempotency key made.

        .. versionadded:: 0.3
        """

    def list(self, query: LeadFilter, page: PageRequest) -> Page[Lead]:
        """Leads matching ``query``, newest first (keyset pages on ``(created_at, id)``).

        .. versionchanged:: 0.3
           A filter and a page in, a :class:`~bookingcore.domain.Page` out, newest first.
        """

    def count_open_by_assignee(self) -> Mapping[StaffId, int]:
        """How many open leads (new, contacted, qualified, quoted) each person holds."""

    def count(self, query: LeadFilter) -> int:
        """How many leads match ``query``, counted by the storage.

        .. versionadded:: 0.3
        """

    def count_by_status(self, query: LeadFilter) -> Mapping[LeadStatus, int]:
        """How many leads matching ``query`` are in each status, counted by the
        storage in one grouped query; statuses no lead is in are left out.

        .. versionadded:: 0.3
        """

    def tally_by_source(
        self, created_from: datetime | None, created_before: datetime | None
    ) -> Sequence[LeadTally]:
        """Leads created in ``[created_from, created_before)`` counted per source and
        status by the storage (one grouped query); pairs with no lead are left out.

        .. versionadded:: 0.4
        """

    def list_by_follow_up(self, query: LeadFilter, page: PageRequest) -> Page[Lead]:
        """Leads matching ``query`` that have a follow-up date, earliest follow-up
        first (then oldest first by ``(created_at, id)``), a keyset page at a time on
        ``(follow_up_on, created_at, id)`` (cursors hold the date's ordinal as their
        :attr:`~bookingcore.domain.Cursor.rank`).

        .. versionadded:: 0.3

        .. versionchanged:: 0.3
           A page in, a :class:`~bookingcore.domain.Page` out (was up to ``limit``).
        """


class QuotationRepository(Protocol):
    """Quotations, every revision of each.

    ``(reference, revision)`` is unique, and so is a revision's ``idempotency_key``.

    .. versionadded:: 0.3
    """

    def add(self, quotation: Quotation) -> None:
        """Register a new revision."""

    def get(self, quotation_id: QuotationId) -> Quotation | None:
        """The revision with this id."""

    def get_by_idempotency_key(self, key: str) -> Quotation | None:
        """The revision a create or revise call with this (scoped) idempotency key made.

        .. versionadded:: 0.3
        """

    def list_revisions(self, reference: str) -> Sequence[Quotation]:
        """Every revision of the quotation ``reference``, first revision first."""

    def list(self, query: QuotationFilter, page: PageRequest) -> Page[Quotation]:
        """Revisions matching ``query``, newest first (keyset pages on ``(created_at, id)``).

        .. versionchanged:: 0.3
           A filter and a page in, a :class:`~bookingcore.domain.Page` out, newest first.
        """


class TripRepository(Protocol):
    """Trips: a customer's bookings grouped as one journey.

    .. versionadded:: 0.3
    """

    def add(self, trip: Trip) -> None:
        """Register a new trip."""

    def get(self, trip_id: TripId) -> Trip | None:
        """The trip with this id."""

    def list_for_customer(self, customer_id: CustomerId, page: PageRequest) -> Page[Trip]:
        """A customer's trips, newest first (keyset pages on ``(created_at, id)``).

        .. versionchanged:: 0.3
           A page in, a :class:`~bookingcore.domain.Page` out, newest first (was
           every trip, earliest start first).
        """


class ItineraryRepository(Protocol):
    """Bookings' day-by-day plans; one per booking.

    .. versionadded:: 0.3
    """

    def add(self, itinerary: Itinerary) -> None:
        """Register a booking's plan; a second plan of the same booking is a
        :class:`~bookingcore.errors.DuplicateError` at the latest on commit."""

    def get(self, itinerary_id: UUID) -> Itinerary | None:
        """The plan with this id."""

    def get_for_booking(self, booking_id: BookingId) -> Itinerary | None:
        """The booking's plan, if one was made."""


class CertificateRepository(Protocol):
    """Certificates earned on bookings, unique by ``(kind, number)``.

    .. versionadded:: 0.3
    """

    def add(self, certificate: Certificate) -> None:
        """Register a new certificate. A repeated ``(kind, number)`` is a
        DuplicateError at the latest on commit."""

    def get(self, certificate_id: CertificateId) -> Certificate | None:
        """The certificate with this id."""

    def get_by_number(self, kind: str, number: str) -> Certificate | None:
        """The certificate of ``kind`` printed with ``number``."""

    def list(self, query: CertificateFilter, page: PageRequest) -> Page[Certificate]:
        """Certificates matching ``query``, newest first (keyset pages)."""

    def list_expiring(
        self, expires_by: datetime, *, after: datetime, limit: int
    ) -> Sequence[Certificate]:
        """Up to ``limit`` certificates expiring after ``after`` and at or before
        ``expires_by`` (included: the
        :func:`~bookingcore.domain.certificates.reminder_horizon`) whose reminder for
        that expiry has not gone out (``reminded_for`` differs from ``expires_at``),
        soonest expiry first.

        .. versionchanged:: 0.4
           The upper bound ``expires_by`` is included (was ``expires_before``,
           excluded), as the compliance report counts a certificate expiring then.
        """

    def held_by(
        self,
        customer_ids: Collection[CustomerId],
        traveler_ids: Collection[TravelerId],
        kinds: Collection[str],
    ) -> Sequence[Certificate]:
        """Certificates of one of ``kinds`` (compared exactly) issued to one of
        ``traveler_ids``, or to one of ``customer_ids`` naming no traveler, oldest
        first (by ``created_at``, then id); expired ones too. One read for a whole
        booking: what a product's requirements are checked against
        (``customer_ids`` are the owners of the booking's travelers: the booking's
        customer, and the family members whose travelers it names).

        .. versionadded:: 0.4
        """


class VoucherRepository(Protocol):
    """Vouchers, unique by their (normalised) code, and their redemptions.

    .. versionadded:: 0.4
    """

    def add(self, voucher: Voucher) -> None:
        """Register a new voucher. A code held already is a
        :class:`~bookingcore.errors.DuplicateError` at the latest on commit."""

    def get(self, voucher_id: VoucherId) -> Voucher | None:
        """The voucher with this id."""

    def get_for_update(self, voucher_id: VoucherId) -> Voucher | None:
        """The voucher, locked until the unit of work ends (its uses are counted
        under this lock)."""

    def get_by_code(self, code: str) -> Voucher | None:
        """The voucher with this code, in any case and with spaces around it;
        None for a code no voucher could have."""

    def list(self, query: VoucherFilter, page: PageRequest) -> Page[Voucher]:
        """Vouchers matching ``query``, newest first (keyset pages)."""

    def add_redemption(self, redemption: VoucherRedemption) -> None:
        """Record one use of a voucher; a second redemption for one booking is a
        :class:`~bookingcore.errors.DuplicateError` at the latest on commit."""

    def redemptions(
        self, voucher_id: VoucherId, *, customer_id: CustomerId | None = None
    ) -> Sequence[VoucherRedemption]:
        """The voucher's redemptions (only ``customer_id``'s when given), oldest first."""

    def redemption_for_booking(self, booking_id: BookingId) -> VoucherRedemption | None:
        """The redemption of the booking, if it was made with a voucher."""

    def move_redemptions(self, source: CustomerId, target: CustomerId) -> int:
        """Point every redemption of customer ``source`` at ``target`` in this unit of
        work (a customer merge); how many moved. Redemptions this unit of work added
        move too.

        .. versionadded:: 0.4
        """


class PushDeviceRepository(Protocol):
    """Customers' devices for push notifications, one per token.

    .. versionadded:: 0.4
    """

    def add(self, device: PushDevice) -> None:
        """Register a new device. A token held already is a
        :class:`~bookingcore.errors.DuplicateError` at the latest on commit."""

    def get(self, device_id: PushDeviceId) -> PushDevice | None:
        """The device with this id."""

    def get_by_token(self, token: str) -> PushDevice | None:
        """The device holding this token (exactly as stored), whoever's it is."""

    def list_for_customer(
        self, customer_id: CustomerId, *, only_active: bool = False
    ) -> Sequence[PushDevice]:
        """The customer's devices (only the active ones when asked), oldest first."""

    def remove(self, device_id: PushDeviceId) -> bool:
        """Delete the device in this unit of work (at once, undone by a rollback);
        False when there was none."""


class FamilyRepository(Protocol):
    """Family accounts: the families, their members (a customer in at most one)
    and the invitations to join them.

    .. versionadded:: 0.4
    """

    def add(self, family: Family) -> None:
        """Register a new family."""

    def get(self, family_id: FamilyId) -> Family | None:
        """The family with this id."""

    def get_for_update(self, family_id: FamilyId) -> Family | None:
        """The family, locked until the unit of work ends (members join and leave
        under this lock)."""

    def delete(self, family_id: FamilyId) -> None:
        """Remove the family, its members and its invitations at once."""

    def add_member(self, member: FamilyMember) -> None:
        """Link a customer into a family. A customer linked to a family already is a
        :class:`~bookingcore.errors.DuplicateError` at the latest on commit."""

    def member(self, customer_id: CustomerId) -> FamilyMember | None:
        """The customer's link to their family, if they have one."""

    def members(self, family_id: FamilyId) -> Sequence[FamilyMember]:
        """The family's members, in the order they joined (the owner first)."""

    def remove_member(self, customer_id: CustomerId) -> bool:
        """Unlink the customer from their family at once; whether they were linked."""

    def add_invitation(self, invitation: FamilyInvitation) -> None:
        """Store a new invitation."""

    def get_invitation(self, invitation_id: FamilyInvitationId) -> FamilyInvitation | None:
        """The invitation with this id."""

    def invitations(self, family_id: FamilyId) -> Sequence[FamilyInvitation]:
        """The family's invitations, every status, oldest first."""

    def invitations_involving(self, customer_id: CustomerId) -> Sequence[FamilyInvitation]:
        """The invitations sent to or by the customer, every status, oldest first."""

    def delete_invitations(self, invitation_ids: Sequence[FamilyInvitationId]) -> None:
        """Remove these invitations at once."""


class ShareLinkRepository(Protocol):
    """Share links to bookings' trip views (only their tokens' hashes).

    .. versionadded:: 0.4
    """

    def add(self, link: ShareLink) -> None:
        """Store a new link. A token hash held already is a
        :class:`~bookingcore.errors.DuplicateError` at the latest on commit."""

    def get(self, link_id: ShareLinkId) -> ShareLink | None:
        """The link with this id."""

    def get_by_token_hash(self, token_hash: str) -> ShareLink | None:
        """The link whose token hashes to ``token_hash`` (exactly), working or not."""

    def get_for_update(self, link_id: ShareLinkId) -> ShareLink | None:
        """The link with this id, read as stored now and locked until the unit of work
        ends: two revokes of one link run one after the other, and the second finds it
        revoked.

        .. versionadded:: 0.4
        """

    def list_for_booking(self, booking_id: BookingId) -> Sequence[ShareLink]:
        """The booking's links, every state, oldest first."""

    def list_for_customer(self, customer_id: CustomerId) -> Sequence[ShareLink]:
        """The links to the customer's bookings, every state, oldest first."""

    def record_open(self, link_id: ShareLinkId, at: datetime) -> ShareLink | None:
        """Count one open of the link at once: add one to its ``view_count`` as
        stored and set its ``last_opened_at`` to ``at``, in one write (an
        ``UPDATE`` on SQL; concurrent opens each count). The link as it is now, or
        ``None`` when none is stored. Its row stays this unit of work's until it
        ends; a rollback takes the open back.

        .. versionadded:: 0.4
        """

    def remove(self, link_id: ShareLinkId) -> bool:
        """Delete the link in this unit of work (at once, undone by a rollback);
        False when there was none."""
