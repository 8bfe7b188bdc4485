"""The in-memory unit of work and its repositories."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from itertools import combinations
from types import TracebackType
from typing import Any, Generic, Self, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

import attrs

from bookingcore.domain.audit import AuditAction, AuditEntry
from bookingcore.domain.auth import AuthSession
from bookingcore.domain.bookings import Booking
from bookingcore.domain.catalog import Location, Product, ProductFilter, Supplier, SupplierFilter
from bookingcore.domain.certificates import Certificate, CertificateFilter, CertificateId
from bookingcore.domain.commissions import CommissionEntry, CommissionSummary, summarise
from bookingcore.domain.communications import Communication, CommunicationStatus
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
from bookingcore.domain.groups import BookingGroup, BookingGroupStatus, normalise_group_reference
from bookingcore.domain.idempotency import KeyClaim, key_claim_id
from bookingcore.domain.imports import FILE_PURGED_AT, ImportJob, ImportKind, ImportRowError
from bookingcore.domain.inbox import ReceiptStatus, WebhookReceipt
from bookingcore.domain.insights import (
    BookingNote,
    CustomerStats,
    StatusGroups,
    summarise_bookings,
)
from bookingcore.domain.invoices import Invoice, InvoiceId, InvoiceSeries, series_id
from bookingcore.domain.items import BookingItem, BookingItemStatus
from bookingcore.domain.leads import OPEN_LEAD_STATUSES, Lead, LeadFilter, LeadStatus
from bookingcore.domain.lifecycle import LifecycleEvent
from bookingcore.domain.partner_webhooks import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
)
from bookingcore.domain.partners import Partner, PartnerFilter
from bookingcore.domain.payments import Payment, Refund, normalise_provider
from bookingcore.domain.queries import (
    BookingFilter,
    Cursor,
    CustomerFilter,
    Page,
    PageRequest,
    SlotFilter,
    fold_case,
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
    GroupKey,
    GroupSums,
    HeldPaymentTally,
    ImportErrorTally,
    ImportTally,
    ImportTimingTally,
    LeadTally,
    PaidBookingTally,
    ReconciliationTally,
    SlotTally,
    SourceOverlapTally,
    StatusSet,
    TransitionTally,
    WaitlistTally,
    check_slot_grouping,
    duration_tally,
    group_key,
    micros,
    slot_group_key,
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
from bookingcore.domain.vouchers import (
    Voucher,
    VoucherFilter,
    VoucherId,
    VoucherRedemption,
    normalise_code,
)
from bookingcore.domain.waitlist import WaitlistEntry, WaitlistStatus
from bookingcore.errors import (
    ConflictError,
    DuplicateError,
    ReadOnlyError,
    StaleVersionError,
    ValidationError,
)
from bookingcore.serialization import serialized_message
from bookingcore_adapters.memory._tables import TABLES, MemoryTables, Reference, Table

__all__ = ["MemoryUnitOfWork"]

E = TypeVar("E")
_TABLES = {t.name: t for t in TABLES}


def _referrers() -> dict[str, list[tuple[Table, Reference]]]:
    """Table -> the (table, field) pairs naming its rows: what deleting its rows checks."""
    found: dict[str, list[tuple[Table, Reference]]] = {t.name: [] for t in TABLES}
    for table in TABLES:
        for reference in table.references:
            found[reference.table].append((table, reference))
    return found


_REFERRERS = _referrers()


class MemoryUnitOfWork:
    """One transaction over a :class:`MemoryStore`.

    Entities handed out are private copies tracked in an identity map (the same
    id gives the same object within one unit of work); :meth:`commit` checks the
    unique keys and then stores copies of every tracked entity, or raises
    :class:`~bookingcore.errors.DuplicateError` and stores nothing.

    .. versionadded:: 0.1
    """

    def __init__(self, store: MemoryTables) -> None:
        self._store = store
        self._seen: dict[str, dict[UUID, Any]] = {}
        self._inserted: dict[str, set[UUID]] = {}
        self._read: dict[str, dict[UUID, Any]] = {}  # versioned tables: entities as read
        self._deleted: dict[str, set[UUID]] = {}
        self._active = False
        self._read_only = False
        self.customers = _CustomerRepository(self, "customers")
        self.travelers = _TravelerRepository(self, "travelers")
        self.locations = _LocationRepository(self, "locations")
        self.products = _ProductRepository(self, "products")
        self.suppliers = _SupplierRepository(self, "suppliers")
        self.slots = _SlotRepository(self, "slots")
        self.bookings = _BookingRepository(self, "bookings")
        self.partners = _PartnerRepository(self, "partners")
        self.lifecycle_events = _LifecycleEventRepository(self, "lifecycle_events")
        self.audit = _AuditRepository(self, "audit")
        self.outbox = _OutboxRepository(self, "outbox")
        self.deliveries = _DeliveryRepository(self, "deliveries")
        self.communications = _CommunicationRepository(self, "communications")
        self.documents = _DocumentRepository(self, "documents")
        self.staff = _StaffRepository(self, "staff")
        self.imports = _ImportJobRepository(self, "imports")
        self.import_errors = _ImportErrorRepository(self, "import_errors")
        self.auth_sessions = _AuthSessionRepository(self, "auth_sessions")
        self.groups = _BookingGroupRepository(self, "groups")
        self.booking_items = _BookingItemRepository(self, "booking_items")
        self.waitlist = _WaitlistRepository(self, "waitlist")
        self.payments = _PaymentRepository(self, "payments")
        self.refunds = _RefundRepository(self, "refunds")
        self.webhook_inbox = _WebhookInboxRepository(self, "webhook_inbox")
        self.invoices = _InvoiceRepository(self, "invoices")
        self.invoice_series = _InvoiceSeriesRepository(self, "invoice_series")
        self.commissions = _CommissionLedgerRepository(self, "commissions")
        # ---- partner webhooks
        self.webhook_deliveries = _WebhookDeliveryRepository(self, "webhook_deliveries")
        self.webhook_attempts = _WebhookAttemptRepository(self, "webhook_attempts")
        # The travel operating system: leads and quotations.
        self.leads = _LeadRepository(self, "leads")
        self.quotations = _QuotationRepository(self, "quotations")
        self.trips = _TripRepository(self, "trips")
        self.itineraries = _ItineraryRepository(self, "itineraries")
        # ---------------------------------------------------------- customer view (0.3)
        self.customer_stats = _CustomerStatsRepository(self)
        self.certificates = _CertificateRepository(self, "certificates")
        # ---------------------------------------------------------- promo codes: vouchers
        self.vouchers = _VoucherRepository(self, "vouchers")
        # ---------------------------------------------------------- push notifications: devices
        self.push_devices = _PushDeviceRepository(self, "push_devices")
        # ---------------------------------------------------------- sharing trips (0.4)
        self.share_links = _ShareLinkRepository(self, "share_links")
        # ---------------------------------------------------------- family accounts (0.4)
        self.families = _FamilyRepository(self, "families")
        # ---------------------------------------------------------- the idempotency key registry
        self.idempotency_keys = _IdempotencyKeyRepository(self, "idempotency_keys")

    def read_only(self) -> Self:
        """Make this unit of work read-only (see :meth:`bookingcore.ports.UnitOfWork.read_only`).

        Adding, removing or locking raises :class:`~bookingcore.errors.ReadOnlyError`
        at once; :meth:`commit` raises it when an entity read was changed.

        .. versionadded:: 0.3
        """
        if self._active:
            msg = "make the unit of work read-only before its `with` block begins"
            raise RuntimeError(msg)
        self._read_only = True
        return self

    def __enter__(self) -> Self:
        self._store.lock.acquire()
        self._active = True
        self.rollback()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self._active = False
            self._store.lock.release()

    def commit(self) -> None:
        """Store every tracked entity, all or nothing.

        Raises:
            DuplicateError: a unique key (phone, code, reference, idempotency key,
                external id, API key, contact email, group reference, provider
                reference, a customer's active waitlist entry on a slot) would be
                held twice.
            StaleVersionError: a versioned entity (every subclass of
                :class:`~bookingcore.domain.values.Versioned`) that this unit of
                work changed had changed in the store after it was read here.
            ConflictError: a row names a row that does not exist where the SQL
                store has a foreign key (a traveler's customer; a slot's location
                and product; a booking's customer, slot, travelers, location,
                product, supplier and partners; a line item's, lifecycle event's,
                payment's, waitlist entry's and invoice's booking; a refund's
                payment; and every other foreign key of the SQL tables, see
                ``docs/sql.md``); or a row deleted here is still named by a row
                that stays, where the SQL key has no ``ON DELETE CASCADE`` (the
                error names the row and the column that names it). Rows named
                through a cascading key are deleted with the row they name.
        """
        self._require_active()
        if self._read_only:
            self._check_unchanged()
            return
        deleted = self._deletions()
        for table in TABLES:
            self._check_new_ids(table)
            self._check_unique(table)
            self._check_versions(table)
            self._check_references(table, deleted)
        # Every stored copy is made before the store changes: a copy that fails (a value
        # that cannot be copied) fails the commit with nothing written, never half of it.
        copies: dict[str, list[tuple[UUID, Any, Any]]] = {}
        for table in TABLES:
            going = deleted[table.name]
            copies[table.name] = [
                (row_id, entity, copy.deepcopy(entity))
                for row_id, entity in self._seen[table.name].items()
                if row_id not in going
                and not (table.versioned and self._read[table.name].get(row_id) == entity)
            ]  # an unchanged versioned entity is left alone: whatever is stored stays
        for table in TABLES:
            rows = self._store.rows[table.name]
            indexes = self._store.indexes[table.name]
            for row_id, entity, stored in copies[table.name]:
                old = rows.get(row_id)
                if old is None and isinstance(entity, OutboxMessage):
                    self._store.last_sequence += 1
                    entity.sequence = stored.sequence = self._store.last_sequence
                for key, read in table.unique.items():
                    # Another row of this commit may have claimed the value already.
                    if old is not None and indexes[key].get(read(old)) == row_id:
                        indexes[key].pop(read(old))
                    if read(entity) is not None:
                        indexes[key][read(entity)] = row_id
                rows[row_id] = stored
                if table.versioned:
                    self._read[table.name][row_id] = copy.deepcopy(stored)
            for row_id in deleted[table.name]:
                old = rows.pop(row_id, None)
                for key, read in table.unique.items():
                    if old is not None and indexes[key].get(read(old)) == row_id:
                        indexes[key].pop(read(old))

        self._inserted = {name: set() for name in _TABLES}
        self._deleted = {name: set() for name in _TABLES}

    def rollback(self) -> None:
        """Forget every change since the last commit."""
        self._seen = {name: {} for name in _TABLES}
        self._inserted = {name: set() for name in _TABLES}
        self._read = {name: {} for name in _TABLES}
        self._deleted = {name: set() for name in _TABLES}

    # ------------------------------------------------------------------ used by repositories

    def _require_active(self) -> None:
        if not self._active:
            msg = "use the unit of work as a context manager: `with uow: ...`"
            raise RuntimeError(msg)

    def _require_writable(self, operation: str, table: str) -> None:
        if self._read_only:
            raise ReadOnlyError(operation, _TABLES[table].entity_name)

    def _check_unchanged(self) -> None:
        """A read-only commit: refuse if anything read was changed here (nothing is stored).

        What others committed since it was read is no change of this unit of work's.
        """
        for table in TABLES:
            read = self._read[table.name]
            for row_id, entity in self._seen[table.name].items():
                if read.get(row_id) != entity:
                    raise ReadOnlyError("commit a change to", table.entity_name)

    def _check_new_ids(self, table: Table) -> None:
        rows = self._store.rows[table.name]
        for row_id in self._inserted[table.name]:
            if row_id in rows:
                entity_name = table.entity_name
                msg = f"{entity_name} {row_id} exists already"
                raise DuplicateError(msg, entity=entity_name, existing_id=row_id)

    def _check_unique(self, table: Table) -> None:
        changed = self._seen[table.name]
        if not changed or not table.unique:
            return
        inserted = self._inserted[table.name]
        # Stored rows that take a value another stored row gives up in this commit:
        # taker -> (giver, key, value). A database writes one row after the other, so
        # rows that take each other's values (a swap) cannot all be written.
        takes: dict[UUID, list[tuple[UUID, str, object]]] = {}
        for key, read in table.unique.items():
            index = self._store.indexes[table.name][key]
            claimed: dict[object, UUID] = {}
            for row_id, entity in changed.items():
                value = read(entity)
                if value is None:
                    continue
                owner = claimed.setdefault(value, row_id)
                if owner == row_id:
                    owner = index.get(value, row_id)
                    if owner != row_id and owner in changed and read(changed[owner]) != value:
                        if row_id not in inserted:  # a new row is written after the changes
                            takes.setdefault(row_id, []).append((owner, key, value))
                        owner = row_id  # the holder gives the value up in this same commit
                    elif owner in self._deleted[table.name]:
                        owner = row_id  # the holder is deleted in this same commit
                if owner != row_id:
                    entity_name = table.entity_name
                    msg = f"{entity_name} {key} {value!r} is already taken"
                    # Two new rows of this commit: none holds the value in the store.
                    holder = None if owner in inserted else owner
                    raise DuplicateError(msg, entity=entity_name, existing_id=holder)
        self._check_no_swaps(table, takes)

    @staticmethod
    def _check_no_swaps(table: Table, takes: Mapping[UUID, list[tuple[UUID, str, object]]]) -> None:
        """Refuse rows that take each other's unique values in one commit (a cycle of
        takers and givers, as a database refuses it whatever order it writes them in)."""
        finished: set[UUID] = set()
        for start in takes:
            if start in finished:
                continue
            on_path = {start}
            stack = [(start, iter(takes[start]))]
            while stack:
                row_id, edges = stack[-1]
                edge = next(edges, None)
                if edge is None:
                    stack.pop()
                    on_path.discard(row_id)
                    finished.add(row_id)
                    continue
                giver, key, value = edge
                if giver in on_path:
                    entity_name = table.entity_name
                    msg = f"{entity_name} {key} {value!r} is already taken"
                    raise DuplicateError(msg, entity=entity_name, existing_id=giver)
                if giver not in finished and giver in takes:
                    on_path.add(giver)
                    stack.append((giver, iter(takes[giver])))

    def _check_versions(self, table: Table) -> None:
        """A versioned entity read here must still have the version it was read at."""
        if not table.versioned:
            return
        rows = self._store.rows[table.name]
        seen = self._seen[table.name]
        for row_id, read in self._read[table.name].items():
            if row_id not in seen or seen[row_id] == read:
                continue  # forgotten or unchanged: nothing will be written
            stored = rows.get(row_id)
            actual = 0 if stored is None else stored.version
            if actual != read.version:
                entity_name = table.entity_name
                raise StaleVersionError(entity_name, row_id, read.version, actual)

    def _deletions(self) -> dict[str, set[UUID]]:
        """The rows this commit deletes: those deleted here, and the rows that name
        them through a cascading key (and so on). Refused when a row that stays names
        a deleted row through a key that does not cascade, as a SQL store's foreign
        keys refuse it. Only tables whose rows are named elsewhere are looked through,
        and only when this commit deletes some of their rows."""
        deleted = {name: set(ids) for name, ids in self._deleted.items()}
        pending = [(name, set(ids)) for name, ids in self._deleted.items() if ids]
        while pending:
            name, going = pending.pop()
            for referrer, reference in _REFERRERS[name]:
                gone = deleted[referrer.name]
                cascaded: set[UUID] = set()
                for row_id, entity in self._view(referrer.name, gone):
                    named = [ident for ident in reference.ids(entity) if ident in going]
                    if not named:
                        continue
                    if reference.cascade:
                        cascaded.add(row_id)
                        continue
                    parent = _TABLES[name].entity_name
                    msg = (
                        f"{parent} {named[0]} is still named by {referrer.entity_name} "
                        f"{row_id} ({reference.field}); nothing was stored"
                    )
                    raise ConflictError(msg)
                if cascaded:
                    gone |= cascaded
                    pending.append((referrer.name, cascaded))
        return deleted

    def _view(self, table: str, gone: Collection[UUID]) -> Iterator[tuple[UUID, Any]]:
        """The rows of ``table`` this unit of work sees, but those in ``gone``."""
        seen = self._seen[table]
        for row_id, entity in seen.items():
            if row_id not in gone:
                yield row_id, entity
        for row_id, entity in self._store.rows[table].items():
            if row_id not in seen and row_id not in gone:
                yield row_id, entity

    def _check_references(self, table: Table, deleted: Mapping[str, Collection[UUID]]) -> None:
        """A row written here must name rows that exist, as a SQL store's foreign keys
        make it: stored and not deleted here, or added in this unit of work. A row whose
        references did not change since it was stored is not checked again."""
        if not table.references:
            return
        rows = self._store.rows[table.name]
        for row_id, entity in self._seen[table.name].items():
            stored = rows.get(row_id)
            for reference in table.references:
                ids = reference.ids(entity)
                if stored is not None and ids == reference.ids(stored):
                    continue
                for ident in ids:
                    if ident is None or self._exists(reference.table, ident, deleted):
                        continue
                    entity_name = table.entity_name
                    parent = _TABLES[reference.table].entity_name
                    msg = (
                        f"{entity_name} {row_id}: {reference.field} names {parent} {ident}, "
                        "which does not exist; nothing was stored"
                    )
                    raise ConflictError(msg)

    def _exists(self, table: str, row_id: object, deleted: Mapping[str, Collection[UUID]]) -> bool:
        """Whether ``row_id`` is a row of ``table`` this commit would leave stored: added
        here (even after a delete of its id), or stored and not deleted by this commit."""
        if row_id in self._inserted[table]:
            return True
        if row_id in deleted[table]:
            return False
        return row_id in self._seen[table] or row_id in self._store.rows[table]

    def _track(self, table: str, row_id: UUID, row: Any) -> Any:
        seen = self._seen[table]
        if row_id not in seen:
            seen[row_id] = copy.deepcopy(row)
            # As read: what a commit checks versions against, and what a read-only
            # commit compares with (the store may have moved on since, by others' commits).
            if self._read_only or _TABLES[table].versioned:
                self._read[table][row_id] = copy.deepcopy(row)
        return seen[row_id]

    def _delete(self, table: str, row_ids: Collection[UUID]) -> None:
        """Remove rows on commit (and from this unit of work's view at once)."""
        self._require_active()
        self._require_writable("delete", table)
        for row_id in row_ids:
            self._seen[table].pop(row_id, None)
            self._inserted[table].discard(row_id)
            self._read[table].pop(row_id, None)
            if row_id in self._store.rows[table]:
                self._deleted[table].add(row_id)

    def _lock(self, table: str, row_id: UUID) -> Any | None:
        """``get_for_update``: the unit of work already holds the store's lock for its life.

        A versioned entity read before and not changed here since is brought up to date
        (the same object) when another unit of work of this thread committed a change
        to it meanwhile, as a SQL store's lock reads the row again.
        """
        self._require_active()
        self._require_writable("lock", table)
        found = self._load(table, row_id)
        read = self._read[table].get(row_id)
        if found is None or read is None or found != read:
            return found  # not read from the store, or changed here: as it is
        stored = self._store.rows[table].get(row_id)
        if stored is not None and stored != read:
            for field in attrs.fields(type(found)):
                if field.init:
                    setattr(found, field.name, copy.deepcopy(getattr(stored, field.name)))
            self._read[table][row_id] = copy.deepcopy(stored)
        return found

    def _load(self, table: str, row_id: UUID) -> Any | None:
        self._require_active()
        seen = self._seen[table]
        if row_id in seen:
            return seen[row_id]
        if row_id in self._deleted[table]:
            return None
        row = self._store.rows[table].get(row_id)
        return None if row is None else self._track(table, row_id, row)

    def _add(self, table: str, entity: Any) -> None:
        self._require_active()
        self._require_writable("add", table)
        self._seen[table][entity.id] = entity
        self._inserted[table].add(entity.id)

    def _replace(self, table: str, entities: Iterable[Any]) -> None:
        """Store ``entities`` on commit in place of the tracked rows with their ids
        (changes to frozen entities, made with ``attrs.evolve``)."""
        seen = self._seen[table]
        for entity in entities:
            seen[entity.id] = entity

    def _add_if_new(self, table: str, entity: Any) -> bool:
        """Add ``entity`` unless its id or a unique key of it is held: True when added.

        The unit of work holds the store's lock, so nobody else can claim them first.
        """
        self._require_active()
        self._require_writable("add", table)
        if self._load(table, entity.id) is not None:
            return False
        for key, read in _TABLES[table].unique.items():
            value = read(entity)
            if value is not None and self._find_unique(table, key, value) is not None:
                return False
        self._add(table, entity)
        return True

    def _rows(self, table: str) -> Iterator[Any]:
        """Every row as this transaction sees it, without copying untouched ones."""
        self._require_active()
        seen = self._seen[table]
        deleted = self._deleted[table]
        for row_id, row in self._store.rows[table].items():
            if row_id not in deleted:
                yield seen.get(row_id, row)
        for row_id, entity in seen.items():
            if row_id not in self._store.rows[table]:
                yield entity

    def _select(
        self, table: str, where: Callable[[Any], bool], order: Callable[[Any], Any]
    ) -> list[Any]:
        found = sorted((row for row in self._rows(table) if where(row)), key=order)
        return [self._track(table, row.id, row) for row in found]

    def _find_unique(self, table: str, key: str, value: object) -> Any | None:
        self._require_active()
        read = _TABLES[table].unique[key]
        for entity in self._seen[table].values():
            if read(entity) == value:
                return entity
        row_id = self._store.indexes[table][key].get(value)
        if row_id is None:
            return None
        entity = self._load(table, row_id)
        return entity if entity is not None and read(entity) == value else None

    def _page(
        self,
        table: str,
        where: Callable[[Any], bool],
        page: PageRequest,
        at: str = "created_at",
    ) -> Page[Any]:
        after = page.after
        rows = [
            row
            for row in self._rows(table)
            if where(row) and (after is None or after.is_after(getattr(row, at), row.id))
        ]
        rows.sort(key=lambda r: (getattr(r, at), r.id.bytes), reverse=True)
        chosen = [self._track(table, row.id, row) for row in rows[: page.limit]]
        more = len(rows) > page.limit
        last = chosen[-1] if chosen else None
        cursor = Cursor(getattr(last, at), last.id).encode() if more and last else None
        return Page(chosen, cursor)

    def _ranked_page(
        self,
        table: str,
        where: Callable[[Any], bool],
        page: PageRequest,
        rank: Callable[[Any], int],
    ) -> Page[Any]:
        after = page.after
        start = None if after is None else (after.ranked, after.created_at, after.id.bytes)

        def key(row: Any) -> tuple[int, datetime, bytes]:
            return (rank(row), row.created_at, row.id.bytes)

        rows = [
            row for row in self._rows(table) if where(row) and (start is None or key(row) > start)
        ]
        rows.sort(key=key)
        chosen = [self._track(table, row.id, row) for row in rows[: page.limit]]
        last = chosen[-1] if chosen and len(rows) > page.limit else None
        cursor = None if last is None else Cursor(last.created_at, last.id, rank(last)).encode()
        return Page(chosen, cursor)


class _Repository(Generic[E]):
    def __init__(self, uow: MemoryUnitOfWork, table: str) -> None:
        self._uow = uow
        self._table = table

    def add(self, entity: E) -> None:
        self._uow._add(self._table, entity)

    def _locked(self, row_id: UUID) -> E | None:
        found: E | None = self._uow._lock(self._table, row_id)
        return found

    def _get(self, row_id: UUID) -> E | None:
        found: E | None = self._uow._load(self._table, row_id)
        return found

    def _unique(self, key: str, value: object) -> E | None:
        found: E | None = self._uow._find_unique(self._table, key, value)
        return found

    def _oldest_first(
        self, where: Callable[[E], bool], *, at: str = "created_at", limit: int | None = None
    ) -> list[E]:
        """The rows ``where`` holds for by ``(created_at, id)``, the first ``limit`` of
        them; ``at`` names another time."""
        found: list[E] = self._uow._select(
            self._table, where, lambda row: (getattr(row, at), row.id.bytes)
        )
        return found if limit is None else found[:limit]

    def _get_many(self, row_ids: Iterable[I]) -> dict[I, E]:
        found = ((row_id, self._get(row_id)) for row_id in set(row_ids))
        return {row_id: entity for row_id, entity in found if entity is not None}


I = TypeVar("I", bound=UUID)  # noqa: E741


class _CodedRepository(_Repository[E], Generic[E, I]):
    def get(self, row_id: I) -> E | None:
        return self._get(row_id)

    def get_many(self, row_ids: Collection[I]) -> Mapping[I, E]:
        return self._get_many(row_ids)

    def get_by_code(self, code: str) -> E | None:
        return self._unique("code", code.strip().upper())


class _LocationRepository(_CodedRepository[Location, LocationId]):
    def get_for_update(self, location_id: LocationId) -> Location | None:
        return self._locked(location_id)

    def list(self, *, only_active: bool = False) -> Sequence[Location]:
        return self._uow._select(
            self._table, lambda r: r.is_active or not only_active, lambda r: r.code
        )


class _SupplierRepository(_CodedRepository[Supplier, SupplierId]):
    def list(self, query: SupplierFilter, page: PageRequest) -> Page[Supplier]:
        return self._uow._page(self._table, query.matches, page)


class _ProductRepository(_CodedRepository[Product, ProductId]):
    def list(self, query: ProductFilter, page: PageRequest) -> Page[Product]:
        inactive = {s.id for s in self._uow._rows("suppliers") if not s.is_active}
        return self._uow._page(
            self._table,
            lambda p: query.matches(p, supplier_active=p.supplier_id not in inactive),
            page,
        )


class _CustomerRepository(_Repository[Customer]):
    def get(self, customer_id: CustomerId) -> Customer | None:
        return self._get(customer_id)

    def get_many(self, customer_ids: Collection[CustomerId]) -> Mapping[CustomerId, Customer]:
        return self._get_many(customer_ids)

    def get_by_phone(self, phone: PhoneNumber) -> Customer | None:
        found = self._unique("phone", phone.e164)
        if found is not None and found.merged_into is not None:
            return self._get(found.merged_into)  # merges never chain
        return found

    def get_by_external_id(self, external_id: str) -> Customer | None:
        found = self._unique("external_id", external_id)
        if found is not None and found.merged_into is not None:
            return self._get(found.merged_into)
        return found

    def find_by_phones(self, phones: Collection[PhoneNumber]) -> Mapping[PhoneNumber, Customer]:
        found = ((phone, self.get_by_phone(phone)) for phone in set(phones))
        return {phone: c for phone, c in found if c is not None}

    def find_by_emails(self, emails: Collection[EmailAddress]) -> Mapping[EmailAddress, Customer]:
        wanted = {email.match_key for email in emails}
        matching = self._oldest_first(
            lambda c: c.email is not None and c.email.match_key in wanted and c.merged_into is None
        )
        oldest: dict[str, Customer] = {}
        for customer in matching:
            assert customer.email is not None
            oldest.setdefault(customer.email.match_key, customer)
        return {e: oldest[e.match_key] for e in emails if e.match_key in oldest}

    def list(self, query: CustomerFilter, page: PageRequest) -> Page[Customer]:
        return self._uow._page(self._table, query.matches, page)


class _TravelerRepository(_Repository[Traveler]):
    def get(self, traveler_id: TravelerId) -> Traveler | None:
        return self._get(traveler_id)

    def list_for_customer(
        self, customer_id: CustomerId, *, include_deleted: bool = False
    ) -> Sequence[Traveler]:
        return self._oldest_first(
            lambda t: t.customer_id == customer_id and (include_deleted or t.deleted_at is None)
        )

    def list_for_customers(
        self, customer_ids: Collection[CustomerId]
    ) -> Mapping[CustomerId, Sequence[Traveler]]:
        wanted = set(customer_ids)
        found = self._oldest_first(lambda t: t.customer_id in wanted and t.deleted_at is None)
        by_customer: dict[CustomerId, list[Traveler]] = {}
        for traveler in found:
            by_customer.setdefault(traveler.customer_id, []).append(traveler)
        return by_customer


class _SlotRepository(_Repository[Slot]):
    def get(self, slot_id: SlotId) -> Slot | None:
        return self._get(slot_id)

    def get_for_update(self, slot_id: SlotId) -> Slot | None:
        return self._locked(slot_id)

    def list(self, query: SlotFilter, page: PageRequest) -> Page[Slot]:
        after = page.after
        found = self._oldest_first(
            lambda s: query.matches(s) and (after is None or after.precedes(s.starts_at, s.id)),
            at="starts_at",
        )
        chosen = found[: page.limit]
        more = len(found) > page.limit and chosen
        return Page(chosen, Cursor(chosen[-1].starts_at, chosen[-1].id).encode() if more else None)

    def tally(
        self, query: SlotFilter, by: Grouping, *, zone: ZoneInfo = UTC_ZONE
    ) -> Sequence[SlotTally]:
        check_slot_grouping(by)
        groups: dict[GroupKey, list[int]] = {}
        for slot in self._uow._rows(self._table):
            if not query.matches(slot):
                continue
            group = groups.setdefault(slot_group_key(slot, by, zone), [0, 0, 0, 0])
            group[0] += 1
            if slot.capacity is None:
                group[1] += 1
            else:
                group[2] += slot.capacity
                group[3] += slot.seats_held
        return [SlotTally(key, *figures) for key, figures in groups.items()]

    def find_at(self, starts: Collection[tuple[LocationId, datetime]]) -> Sequence[Slot]:
        wanted = set(starts)
        return self._oldest_first(lambda s: (s.location_id, s.starts_at) in wanted, at="starts_at")

    def find_exact(
        self, keys: Collection[tuple[LocationId, ProductId | None, datetime]]
    ) -> Sequence[Slot]:
        wanted = set(keys)
        return self._oldest_first(
            lambda s: (s.location_id, s.product_id, s.starts_at) in wanted, at="starts_at"
        )


class _BookingRepository(_Repository[Booking]):
    def get(self, booking_id: BookingId) -> Booking | None:
        return self._get(booking_id)

    def get_for_update(self, booking_id: BookingId) -> Booking | None:
        return self._locked(booking_id)

    def get_by_reference(self, reference: str) -> Booking | None:
        return self._unique("reference", reference)

    def get_by_idempotency_key(self, key: str) -> Booking | None:
        return self._unique("idempotency_key", key)

    def get_by_external_id(self, external_id: str) -> Booking | None:
        return self._unique("external_id", external_id)

    def find_by_ids(self, booking_ids: Collection[BookingId]) -> Mapping[BookingId, Booking]:
        return self._get_many(booking_ids)

    def find_by_external_ids(self, external_ids: Collection[str]) -> Mapping[str, Booking]:
        found = (self.get_by_external_id(ident) for ident in set(external_ids))
        return {b.external_id: b for b in found if b is not None and b.external_id is not None}

    def find_by_idempotency_keys(self, keys: Collection[str]) -> Mapping[str, Booking]:
        found = (self.get_by_idempotency_key(key) for key in set(keys))
        return {b.idempotency_key: b for b in found if b is not None and b.idempotency_key}

    def count_by_assignee(self, statuses: Collection[str]) -> Mapping[StaffId, int]:
        wanted = set(statuses)
        counts: dict[StaffId, int] = {}
        for booking in self._uow._rows(self._table):
            if booking.assignee_id is not None and booking.status in wanted:
                counts[booking.assignee_id] = counts.get(booking.assignee_id, 0) + 1
        return counts

    def list_for_customer_slot(self, customer_id: CustomerId, slot_id: SlotId) -> Sequence[Booking]:
        return self._oldest_first(lambda b: b.customer_id == customer_id and b.slot_id == slot_id)

    def find_for_customer_slots(
        self, pairs: Collection[tuple[CustomerId, SlotId]]
    ) -> Mapping[tuple[CustomerId, SlotId], Sequence[Booking]]:
        wanted = set(pairs)
        found: dict[tuple[CustomerId, SlotId], list[Booking]] = {}
        if not wanted:
            return found
        for booking in self._oldest_first(lambda b: (b.customer_id, b.slot_id) in wanted):
            found.setdefault((booking.customer_id, booking.slot_id), []).append(booking)
        return found

    def list_to_archive(
        self,
        started_before: datetime,
        statuses: StatusSet,
        *,
        limit: int,
        after: Cursor | None = None,
    ) -> Sequence[Booking]:
        return self._oldest_first(
            lambda b: (
                b.archived_at is None
                and b.starts_at < started_before
                and statuses.holds(b.lifecycle, b.status)
                and (after is None or after.precedes(b.starts_at, b.id))
            ),
            at="starts_at",
            limit=limit,
        )

    def list_by_start(
        self, query: BookingFilter, statuses: StatusSet, *, limit: int
    ) -> Sequence[Booking]:
        matches = self._matcher(query)
        return self._oldest_first(
            lambda b: statuses.holds(b.lifecycle, b.status) and matches(b),
            at="starts_at",
            limit=limit,
        )

    def list(self, query: BookingFilter, page: PageRequest) -> Page[Booking]:
        return self._uow._page(self._table, self._matcher(query), page)

    def _matcher(self, query: BookingFilter) -> Callable[[Booking], bool]:
        """``query.matches``, with the customers its text search reads."""
        customers: dict[UUID, Customer] = {}
        if query.text:
            customers = {c.id: c for c in self._uow._rows("customers")}
        return lambda b: query.matches(b, customers.get(b.customer_id))

    def _matching(self, query: BookingFilter) -> Iterator[Booking]:
        matches = self._matcher(query)
        for booking in self._uow._rows(self._table):
            if matches(booking):
                yield booking

    def sum_in(
        self,
        query: BookingFilter,
        by: Grouping,
        statuses: StatusSet,
        *,
        zone: ZoneInfo = UTC_ZONE,
    ) -> Sequence[GroupSums]:
        groups: dict[tuple[GroupKey, str], list[Any]] = {}
        for b in self._matching(query):
            if not statuses.holds(b.lifecycle, b.status):
                continue
            group = groups.setdefault(
                (group_key(b, by, zone), b.total.currency), [0, 0, Decimal(0)]
            )
            group[0] += 1
            group[1] += b.total_travelers
            group[2] += b.total.amount
        return [GroupSums(*key, *figures) for key, figures in groups.items()]

    def count_in(
        self,
        query: BookingFilter,
        by: Grouping,
        sets: Sequence[StatusSet],
        *,
        zone: ZoneInfo = UTC_ZONE,
    ) -> Sequence[GroupCounts]:
        groups: dict[GroupKey, list[int]] = {}
        for b in self._matching(query):
            group = groups.setdefault(group_key(b, by, zone), [0] * (len(sets) + 1))
            group[0] += 1
            for index, wanted in enumerate(sets, 1):
                group[index] += wanted.holds(b.lifecycle, b.status)
        return [GroupCounts(key, found[0], tuple(found[1:])) for key, found in groups.items()]

    def _matching_in(self, query: BookingFilter, statuses: StatusSet | None) -> Iterator[Booking]:
        """The bookings matching ``query`` and, when given, in ``statuses``."""
        for booking in self._matching(query):
            if statuses is None or statuses.holds(booking.lifecycle, booking.status):
                yield booking

    def tally_customers(
        self, query: BookingFilter, *, statuses: StatusSet | None = None
    ) -> Sequence[CustomerTally]:
        per_customer: dict[tuple[str, CustomerId], list[Any]] = {}
        for b in self._matching_in(query, statuses):
            figures = per_customer.setdefault((b.total.currency, b.customer_id), [0, Decimal(0)])
            figures[0] += 1
            figures[1] += b.total.amount
        totals: dict[str, list[Any]] = {}
        for (currency, _), (bookings, amount) in per_customer.items():
            total = totals.setdefault(currency, [0, 0, 0, Decimal(0)])
            total[0] += 1
            total[1] += bookings >= 2
            total[2] += bookings
            total[3] += amount
        return [CustomerTally(currency, *figures) for currency, figures in totals.items()]

    def count_customers_by_bookings(
        self, query: BookingFilter, *, statuses: StatusSet | None = None
    ) -> Sequence[FrequencyTally]:
        per_customer = Counter(b.customer_id for b in self._matching_in(query, statuses))
        counts = Counter(per_customer.values())
        return [FrequencyTally(bookings, customers) for bookings, customers in counts.items()]

    def tally_cohorts(
        self,
        query: BookingFilter,
        *,
        zone: ZoneInfo = UTC_ZONE,
        statuses: StatusSet | None = None,
    ) -> Sequence[CohortTally]:
        firsts: dict[CustomerId, datetime] = {}
        months: set[tuple[CustomerId, GroupKey]] = set()
        for b in self._matching_in(query, statuses):
            first = firsts.get(b.customer_id)
            firsts[b.customer_id] = b.created_at if first is None else min(first, b.created_at)
            months.add((b.customer_id, group_key(b, Grouping.CREATED_MONTH, zone)))
        counts: Counter[tuple[date, date]] = Counter()
        for customer, month in months:
            local = firsts[customer].astimezone(zone)
            assert isinstance(month, date)
            counts[(date(local.year, local.month, 1), month)] += 1
        return [CohortTally(*key, customers) for key, customers in counts.items()]

    def tally_source_overlap(self, query: BookingFilter) -> SourceOverlapTally:
        sources: dict[CustomerId, set[str]] = {}
        for b in self._matching(query):
            sources.setdefault(b.customer_id, set()).add(str(b.source))
        several = [found for found in sources.values() if len(found) > 1]
        pairs = Counter(pair for found in several for pair in combinations(sorted(found), 2))
        return SourceOverlapTally(
            len(several), {(first, second, n) for (first, second), n in pairs.items()}
        )


class _PartnerRepository(_Repository[Partner]):
    def get(self, partner_id: PartnerId) -> Partner | None:
        return self._get(partner_id)

    def get_many(self, partner_ids: Collection[PartnerId]) -> Mapping[PartnerId, Partner]:
        return self._get_many(partner_ids)

    def get_by_api_key(self, api_key: str) -> Partner | None:
        return self._unique("api_key", api_key)

    def list(self, query: PartnerFilter, page: PageRequest) -> Page[Partner]:
        return self._uow._page(self._table, query.matches, page)


class _LifecycleEventRepository(_Repository[LifecycleEvent]):
    def list_for_booking(self, booking_id: BookingId) -> Sequence[LifecycleEvent]:
        return self._uow._select(
            self._table, lambda e: e.booking_id == booking_id, lambda e: e.booking_version
        )

    def get_by_idempotency_key(self, key: str) -> LifecycleEvent | None:
        return self._unique("idempotency_key", key)

    def tally_transitions(
        self, occurred_from: datetime | None, occurred_before: datetime | None
    ) -> Sequence[TransitionTally]:
        histories: dict[BookingId, list[LifecycleEvent]] = {}
        for event in self._uow._rows(self._table):
            histories.setdefault(event.booking_id, []).append(event)
        groups: dict[tuple[str, str, str], list[int | None]] = {}
        for history in histories.values():
            history.sort(key=lambda e: e.booking_version)
            before: LifecycleEvent | None = None
            for event in history:
                if event.from_status is not None and _within(
                    event.occurred_at, occurred_from, occurred_before
                ):
                    key = (event.lifecycle, event.from_status, event.to_status)
                    spent = (
                        None if before is None else micros(event.occurred_at - before.occurred_at)
                    )
                    groups.setdefault(key, []).append(spent)
                before = event
        return [TransitionTally(*key, duration_tally(spent)) for key, spent in groups.items()]


class _AuditRepository(_Repository[AuditEntry]):
    def list_for(self, entity: str, entity_id: UUID) -> Sequence[AuditEntry]:
        return self._uow._select(
            self._table,
            lambda a: a.entity == entity and a.entity_id == entity_id,
            lambda a: (a.occurred_at, a.id.bytes),
        )

    def page_for(self, entity: str, entity_id: UUID, page: PageRequest) -> Page[AuditEntry]:
        return self._uow._page(
            self._table, lambda a: a.entity == entity and a.entity_id == entity_id, page
        )


class _OutboxRepository(_Repository[OutboxMessage]):
    def add(self, event: DomainEvent) -> None:  # type: ignore[override]
        self._uow._add(self._table, OutboxMessage(event))

    def get(self, event_id: UUID) -> OutboxMessage | None:
        return self._get(event_id)

    def list_undispatched(self, limit: int) -> Sequence[OutboxMessage]:
        return self._oldest(lambda m: m.dispatched_at is None, limit)

    def list_unpublished(self, limit: int) -> Sequence[OutboxMessage]:
        return self._oldest(lambda m: m.published_at is None, limit)

    def claim_unpublished(self, limit: int) -> Sequence[OutboxMessage]:
        # One unit of work at a time writes to the memory store: nothing to skip.
        self._uow._require_writable("claim", self._table)
        return self.list_unpublished(limit)

    def claim_to_publish(self, limit: int, at: datetime) -> Sequence[SerializedMessage]:
        # Messages added in this unit of work (no sequence yet) come last: the stored come first.
        claimed = [m for m in self.claim_unpublished(limit) if m.sequence is not None]
        for message in claimed:
            message.published_at = at
        return [serialized_message(message) for message in claimed]

    def mark_published(self, event_ids: Sequence[UUID], at: datetime) -> None:
        for event_id in event_ids:
            message = self._get(event_id)
            if message is not None and message.published_at is None:
                message.published_at = at

    def list_for_bookings(self, booking_ids: Collection[BookingId]) -> Sequence[OutboxMessage]:
        wanted = set(booking_ids)
        return self._oldest(lambda m: getattr(m.event, "booking_id", None) in wanted, None)

    def delete_finished(self, before: datetime, *, published: bool, limit: int) -> int:
        uow = self._uow
        uow._require_writable("delete", self._table)
        mine, theirs = uow._seen[self._table], uow._seen["deliveries"]
        by_event: dict[UUID, list[Delivery]] = {}
        for delivery in uow._rows("deliveries"):
            by_event.setdefault(delivery.event_id, []).append(delivery)

        def finished(message: OutboxMessage) -> bool:
            if message.id in mine or message.sequence is None:
                return False  # this unit of work's own: left alone
            if message.event.occurred_at >= before:
                return False
            if message.dispatched_at is None or message.dispatched_at >= before:
                return False
            if published and (message.published_at is None or message.published_at >= before):
                return False
            return all(
                d.id not in theirs
                and d.finished
                and d.completed_at is not None
                and d.completed_at < before
                for d in by_event.get(message.id, ())
            )

        stored = sorted(uow._rows(self._table), key=lambda m: m.sequence or 0)
        young = [m.sequence for m in stored if m.sequence and m.event.occurred_at >= before]
        bound = min(young, default=None)
        going = [
            message.id
            for message in stored
            if (bound is None or (message.sequence or 0) < bound) and finished(message)
        ][:limit]
        uow._delete(self._table, going)
        uow._delete("deliveries", [d.id for ident in going for d in by_event.get(ident, ())])
        return len(going)

    def _oldest(
        self, where: Callable[[OutboxMessage], bool], limit: int | None
    ) -> list[OutboxMessage]:
        # Messages added in this unit of work have no sequence yet: they come last.
        found: list[OutboxMessage] = self._uow._select(
            self._table,
            where,
            lambda m: (m.sequence is None, m.sequence or 0),
        )
        return found if limit is None else found[:limit]


class _DeliveryRepository(_Repository[Delivery]):
    def get(self, event_id: UUID, handler: str) -> Delivery | None:
        return self._get(Delivery.key(event_id, handler))

    def claim_retry(self, event_id: UUID, handler: str, *, attempts: int) -> Delivery | None:
        found = self._locked(Delivery.key(event_id, handler))
        if found is None or found.finished or found.attempts != attempts:
            return None
        return found

    def list_for_event(self, event_id: UUID) -> Sequence[Delivery]:
        return self._uow._select(self._table, lambda d: d.event_id == event_id, lambda d: d.handler)

    def list_due(
        self, now: datetime, limit: int, *, handlers: Collection[str] | None = None
    ) -> Sequence[Delivery]:
        wanted = None if handlers is None else frozenset(handlers)
        found: list[Delivery] = self._uow._select(
            self._table,
            lambda d: d.is_due(now) and (wanted is None or d.handler in wanted),
            lambda d: (d.next_attempt_at or now, d.handler, d.id.bytes),
        )
        return found[:limit]


class _CommunicationRepository(_Repository[Communication]):
    def get(self, communication_id: CommunicationId) -> Communication | None:
        return self._get(communication_id)

    def get_by_dedupe_key(self, key: str) -> Communication | None:
        return self._unique("dedupe_key", key)

    def get_by_provider_message_id(self, provider_message_id: str) -> Communication | None:
        return self._unique("provider_message_id", provider_message_id)

    def get_for_update(self, communication_id: CommunicationId) -> Communication | None:
        return self._locked(communication_id)

    def requeue_failed(
        self, communication_id: CommunicationId, *, at: datetime | None = None
    ) -> bool:
        # Decided on the stored row, not on a copy read before another unit of work
        # (interleaved in this thread) committed; the store's lock keeps others out.
        found = self._claimable(communication_id, lambda c: c.status is CommunicationStatus.FAILED)
        if found is None:
            return False
        found.requeue(at)
        return True

    def requeue_for_retry(
        self,
        communication_id: CommunicationId,
        *,
        at: datetime,
        failed_by: datetime,
        attempts_below: int,
    ) -> bool:
        found = self._claimable(
            communication_id,
            lambda c: c.retry_due(failed_by=failed_by, attempts_below=attempts_below),
        )
        if found is None:
            return False
        found.requeue(at)
        return True

    def list_stalled(self, before: datetime, limit: int) -> Sequence[Communication]:
        return self._oldest_first(lambda c: _stalled(c, before), at="sending_since", limit=limit)

    def claim_stalled(
        self,
        communication_id: CommunicationId,
        *,
        before: datetime,
        at: datetime,
        claim: UUID | None = None,
    ) -> bool:
        found = self._claimable(communication_id, lambda c: _stalled(c, before))
        if found is None:
            return False
        found.sending_since = at
        found.sending_claim = claim
        found.attempts += 1
        return True

    def claim_for_sending(
        self, communication_id: CommunicationId, *, claim: UUID, at: datetime
    ) -> bool:
        found = self._claimable(
            communication_id,
            lambda c: c.status is CommunicationStatus.PENDING and c.sending_claim is None,
        )
        if found is None:
            return False
        found.sending_claim = claim
        found.sending_since = at
        found.attempts += 1
        return True

    def settle_claim(self, communication_id: CommunicationId, claim: UUID) -> bool:
        found = self._claimable(communication_id, lambda c: c.sending_claim == claim)
        if found is None:
            return False
        found.sending_claim = None
        return True

    def _claimable(
        self, communication_id: CommunicationId, claimable: Callable[[Communication], bool]
    ) -> Communication | None:
        """The message, locked, when it is ``claimable`` as stored (and as this unit of
        work sees it); None otherwise, having read it again when another unit of
        work changed it since this one read it."""
        found: Communication | None = self._locked(communication_id)
        stored = self._uow._store.rows[self._table].get(communication_id)
        if found is None or stored is None or not claimable(found):
            return None
        if not claimable(stored):
            # Claimed by another unit of work since this one read it: read it again.
            for field in attrs.fields(Communication):
                if field.init:
                    setattr(found, field.name, copy.deepcopy(getattr(stored, field.name)))
            return None
        return found

    def list_for_booking(self, booking_id: BookingId) -> Sequence[Communication]:
        return self._uow._select(
            self._table, lambda c: c.booking_id == booking_id, lambda c: c.created_at
        )

    def list_for_customer(self, customer_id: CustomerId) -> Sequence[Communication]:
        return self._uow._select(
            self._table, lambda c: c.customer_id == customer_id, lambda c: c.created_at
        )

    def tally_engagement(
        self, sent_from: datetime | None, sent_before: datetime | None
    ) -> Sequence[CommunicationTally]:
        groups: dict[tuple[str, str], list[int]] = {}
        for message in self._uow._rows(self._table):
            went_out = message.sent_at or message.failed_at
            if went_out is None or not _within(went_out, sent_from, sent_before):
                continue
            figures = groups.setdefault((message.type.value, message.channel.value), [0] * 5)
            figures[0] += message.sent_at is not None
            figures[1] += any(
                moment is not None
                for moment in (message.delivered_at, message.opened_at, message.clicked_at)
            )
            figures[2] += message.opened_at is not None
            figures[3] += message.clicked_at is not None
            figures[4] += message.status == CommunicationStatus.FAILED
        return [
            CommunicationTally(kind, channel, *figures)
            for (kind, channel), figures in groups.items()
        ]


def _stalled(message: Communication, before: datetime) -> bool:
    """Whether ``message`` is pending and was handed over for sending before ``before``."""
    return (
        message.status is CommunicationStatus.PENDING
        and message.sending_since is not None
        and message.sending_since < before
    )


class _DocumentRepository(_Repository[Document]):
    def get(self, document_id: DocumentId) -> Document | None:
        return self._get(document_id)

    def list_for_booking(self, booking_id: BookingId) -> Sequence[Document]:
        return self._uow._select(
            self._table, lambda d: d.booking_id == booking_id, lambda d: d.created_at
        )


class _StaffRepository(_Repository[StaffMember]):
    def get(self, staff_id: StaffId) -> StaffMember | None:
        return self._get(staff_id)

    def get_for_update(self, staff_id: StaffId) -> StaffMember | None:
        return self._locked(staff_id)

    def get_by_email(self, email: EmailAddress) -> StaffMember | None:
        return self._unique("email_key", email.match_key)

    def list(self, *, role: str | None = None, only_active: bool = False) -> Sequence[StaffMember]:
        return self._uow._select(
            self._table,
            lambda s: (role is None or s.role == role) and (s.is_active or not only_active),
            lambda s: s.email.value,
        )


class _ImportJobRepository(_Repository[ImportJob]):
    def get(self, job_id: UUID) -> ImportJob | None:
        return self._get(job_id)

    def get_for_update(self, job_id: UUID) -> ImportJob | None:
        return self._locked(job_id)

    def list(self, page: PageRequest) -> Page[ImportJob]:
        return self._uow._page(self._table, lambda _: True, page)

    def tally(
        self,
        created_from: datetime | None,
        created_before: datetime | None,
        *,
        kind: ImportKind | None = None,
    ) -> Sequence[ImportTally]:
        groups: dict[str, list[int]] = {}
        for job in self._uow._rows(self._table):
            if created_from is not None and job.created_at < created_from:
                continue
            if created_before is not None and job.created_at >= created_before:
                continue
            if kind is not None and job.kind is not kind:
                continue
            figures = groups.setdefault(str(job.status), [0] * 6)
            counted = (1, job.total_rows, job.created, job.updated, job.skipped, job.failed)
            for index, value in enumerate(counted):
                figures[index] += value
        return [ImportTally(status, *figures) for status, figures in groups.items()]

    def tally_timings(
        self,
        created_from: datetime | None,
        created_before: datetime | None,
        *,
        kind: ImportKind | None = None,
    ) -> Sequence[ImportTimingTally]:
        groups: dict[str, list[int | None]] = {}
        for job in self._uow._rows(self._table):
            if not _within(job.created_at, created_from, created_before):
                continue
            if kind is not None and job.kind is not kind:
                continue
            took = None
            if job.started_at is not None and job.completed_at is not None:
                took = micros(job.completed_at - job.started_at)
            groups.setdefault(str(job.status), []).append(took)
        return [ImportTimingTally(status, duration_tally(took)) for status, took in groups.items()]

    def files_to_purge(self, finished_before: datetime, *, limit: int) -> Sequence[ImportJob]:
        return self._oldest_first(
            lambda job: (
                job.status.is_final
                and job.completed_at is not None
                and job.completed_at < finished_before
                and FILE_PURGED_AT not in job.settings
            ),
            at="completed_at",
            limit=limit,
        )


class _ImportErrorRepository(_Repository[ImportRowError]):
    def tally_by_type(
        self,
        created_from: datetime | None,
        created_before: datetime | None,
        *,
        kind: ImportKind | None = None,
    ) -> Sequence[ImportErrorTally]:
        jobs = {
            job.id
            for job in self._uow._rows("imports")
            if _within(job.created_at, created_from, created_before)
            and (kind is None or job.kind is kind)
        }
        groups: dict[str, list[Any]] = {}
        for error in self._uow._rows(self._table):
            if error.job_id not in jobs:
                continue
            group = groups.setdefault(error.error_type, [0, set(), 0])
            group[0] += 1
            group[1].add(error.job_id)
            group[2] += error.resolved_at is None
        return [
            ImportErrorTally(kind, errors, len(in_jobs), unresolved)
            for kind, (errors, in_jobs, unresolved) in groups.items()
        ]

    def list_for_job(
        self, job_id: UUID, *, unresolved_only: bool = False
    ) -> Sequence[ImportRowError]:
        return self._uow._select(
            self._table,
            lambda e: e.job_id == job_id and (e.resolved_at is None or not unresolved_only),
            lambda e: (e.row_number, e.created_at, e.id.bytes),
        )

    def page_for_job(
        self, job_id: UUID, page: PageRequest, *, unresolved_only: bool = False
    ) -> Page[ImportRowError]:
        return self._uow._ranked_page(
            self._table,
            lambda e: e.job_id == job_id and (e.resolved_at is None or not unresolved_only),
            page,
            lambda e: e.row_number,
        )


class _AuthSessionRepository(_Repository[AuthSession]):
    def get(self, session_id: UUID) -> AuthSession | None:
        return self._get(session_id)

    def get_for_update(self, session_id: UUID) -> AuthSession | None:
        return self._locked(session_id)

    def list_for_subject(
        self, kind: str, subject_id: UUID, *, active_at: datetime | None = None
    ) -> Sequence[AuthSession]:
        found = self._oldest_first(
            lambda s: (
                s.kind == kind
                and s.subject_id == subject_id
                and (active_at is None or s.is_active(active_at))
            )
        )
        return found[::-1]

    def delete_expired(self, now: datetime) -> int:
        expired = [s.id for s in self._uow._rows(self._table) if s.expires_at <= now]
        self._uow._delete(self._table, expired)
        return len(expired)


class _BookingGroupRepository(_Repository[BookingGroup]):
    def get(self, group_id: BookingGroupId) -> BookingGroup | None:
        return self._get(group_id)

    def get_for_update(self, group_id: BookingGroupId) -> BookingGroup | None:
        return self._locked(group_id)

    def get_by_reference(self, group_reference: str) -> BookingGroup | None:
        try:
            reference = normalise_group_reference(group_reference)
        except ValidationError:
            return None  # no group can hold a malformed reference
        return self._unique("group_reference", reference)

    def list(
        self,
        page: PageRequest,
        *,
        status: BookingGroupStatus | None = None,
        customer_id: CustomerId | None = None,
        search: str | None = None,
    ) -> Page[BookingGroup]:
        needle = fold_case((search or "").strip())

        def found(group: BookingGroup) -> bool:
            texts = (group.group_reference, group.group_name)
            return not needle or any(needle in fold_case(t) for t in texts if t)

        def keep(group: BookingGroup) -> bool:
            return (
                (status is None or group.status == status)
                and (customer_id is None or customer_id in (group.organizer_id, group.company_id))
                and found(group)
            )

        return self._uow._page(self._table, keep, page)


class _BookingItemRepository(_Repository[BookingItem]):
    def get(self, item_id: BookingItemId) -> BookingItem | None:
        return self._get(item_id)

    def list_for_booking(self, booking_id: BookingId) -> Sequence[BookingItem]:
        return self._oldest_first(lambda i: i.booking_id == booking_id)

    def list_for_supplier(
        self,
        supplier_id: SupplierId,
        page: PageRequest,
        *,
        status: BookingItemStatus | None = None,
    ) -> Page[BookingItem]:
        return self._uow._page(
            self._table,
            lambda i: i.supplier_id == supplier_id and (status is None or i.status is status),
            page,
        )

    def count_supplied_by_booking(
        self, statuses: Collection[BookingItemStatus]
    ) -> Mapping[BookingId, int]:
        wanted = set(statuses)
        counts: dict[BookingId, int] = {}
        for item in self._uow._rows(self._table):
            if item.supplier_id is not None and item.status in wanted:
                counts[item.booking_id] = counts.get(item.booking_id, 0) + 1
        return counts


def _still_wanted(entry: WaitlistEntry, waiting_from: date | None) -> bool:
    """True when ``entry`` lists an alternative date on or after ``waiting_from``."""
    return waiting_from is not None and any(d >= waiting_from for d in entry.alternative_dates)


class _WaitlistRepository(_Repository[WaitlistEntry]):
    def get(self, entry_id: WaitlistEntryId) -> WaitlistEntry | None:
        return self._get(entry_id)

    def get_for_update(self, entry_id: WaitlistEntryId) -> WaitlistEntry | None:
        return self._locked(entry_id)

    def get_active(self, slot_id: SlotId, customer_id: CustomerId) -> WaitlistEntry | None:
        return self._unique("active_entry", (slot_id, customer_id))

    def list_for_slot(
        self, slot_id: SlotId, *, active_only: bool = False
    ) -> Sequence[WaitlistEntry]:
        return self._uow._select(
            self._table,
            lambda w: w.slot_id == slot_id and (w.is_active or not active_only),
            lambda w: w.offer_key,
        )

    def list_for_customer(self, customer_id: CustomerId, page: PageRequest) -> Page[WaitlistEntry]:
        return self._uow._page(self._table, lambda w: w.customer_id == customer_id, page)

    def list_expired_offers(self, now: datetime, limit: int) -> Sequence[WaitlistEntry]:
        return self._oldest_first(
            lambda w: (
                w.status is WaitlistStatus.OFFERED
                and w.offer_expires_at is not None
                and w.offer_expires_at <= now
            ),
            at="offer_expires_at",
            limit=limit,
        )

    def list_waiting_past_start(
        self, now: datetime, limit: int, *, waiting_from: date | None = None
    ) -> Sequence[WaitlistEntry]:
        started = {s.id for s in self._uow._rows("slots") if s.starts_at <= now}
        found = self._oldest_first(
            lambda w: (
                w.status is WaitlistStatus.WAITING
                and w.slot_id in started
                and not _still_wanted(w, waiting_from)
            )
        )
        return found[:limit]

    def list_waiting_for_day(
        self,
        product_id: ProductId,
        location_id: LocationId,
        day: date,
        *,
        other_than: SlotId,
    ) -> Sequence[WaitlistEntry]:
        alike = {
            s.id
            for s in self._uow._rows("slots")
            if s.product_id == product_id and s.location_id == location_id
        }
        alike.discard(other_than)
        return self._oldest_first(
            lambda w: (
                w.status is WaitlistStatus.WAITING
                and w.slot_id in alike
                and day in w.alternative_dates
            )
        )

    def list_offers_on(self, slot_id: SlotId, customer_id: CustomerId) -> Sequence[WaitlistEntry]:
        return self._oldest_first(
            lambda w: (
                w.customer_id == customer_id
                and w.status is WaitlistStatus.OFFERED
                and w.offer_slot_id == slot_id
            )
        )

    def next_position(self, slot_id: SlotId) -> int:
        positions = [w.position for w in self._uow._rows(self._table) if w.slot_id == slot_id]
        return max(positions, default=0) + 1

    def tally(
        self,
        created_from: datetime | None,
        created_before: datetime | None,
        location_id: LocationId | None = None,
    ) -> Sequence[WaitlistTally]:
        at = {slot.id: slot.location_id for slot in self._uow._rows("slots")}
        groups: dict[str, list[int]] = {}
        for entry in self._uow._rows(self._table):
            if created_from is not None and entry.created_at < created_from:
                continue
            if created_before is not None and entry.created_at >= created_before:
                continue
            if location_id is not None and at.get(entry.slot_id) != location_id:
                continue
            figures = groups.setdefault(str(entry.status), [0, 0, 0])
            figures[0] += 1
            figures[1] += entry.seats
            figures[2] += entry.offered_at is not None
        return [WaitlistTally(status, *figures) for status, figures in groups.items()]


class _PaymentRepository(_Repository[Payment]):
    def get(self, payment_id: PaymentId) -> Payment | None:
        return self._get(payment_id)

    def get_for_update(self, payment_id: PaymentId) -> Payment | None:
        return self._locked(payment_id)

    def get_by_provider_reference(self, provider: str, reference: str) -> Payment | None:
        try:
            key = (normalise_provider(provider), reference)
        except ValidationError:
            return None  # no payment can name a malformed provider
        return self._unique("provider_reference", key)

    def get_by_provider_reference_for_update(
        self, provider: str, reference: str, *, with_booking: bool = False
    ) -> Payment | None:
        # The unit of work already holds the store's lock for its whole life (the
        # booking's too: with_booking changes nothing here).
        self._uow._require_writable("lock", self._table)
        return self.get_by_provider_reference(provider, reference)

    def get_by_idempotency_key(self, key: str) -> Payment | None:
        return self._unique("idempotency_key", key)

    def list_for_booking(self, booking_id: BookingId) -> Sequence[Payment]:
        return self._oldest_first(lambda p: p.booking_id == booking_id)

    def list_for_customer(self, customer_id: CustomerId) -> Sequence[Payment]:
        return self._oldest_first(lambda p: p.customer_id == customer_id)

    def tally_reconciliation(
        self, created_from: datetime, created_before: datetime, cancelled: StatusSet
    ) -> ReconciliationTally:
        period = sorted(
            (
                b
                for b in self._uow._rows("bookings")
                if created_from <= b.created_at < created_before
            ),
            key=lambda b: (b.created_at, b.id.bytes),
        )
        by_id = {b.id: b for b in period}
        # Customers in the order of their first booking in the period.
        customers = dict.fromkeys(b.customer_id for b in period)
        of_booking: dict[UUID, list[Payment]] = {}
        of_customer: dict[UUID, list[Payment]] = {}
        for p in sorted(self._uow._rows(self._table), key=lambda p: (p.created_at, p.id.bytes)):
            if p.booking_id in by_id:
                of_booking.setdefault(p.booking_id, []).append(p)
            elif p.customer_id in customers and created_from <= p.created_at < created_before:
                of_customer.setdefault(p.customer_id, []).append(p)
        lines: list[PaidBookingTally] = []
        held: list[HeldPaymentTally] = []
        for b in period:
            payments = of_booking.get(b.id, [])
            gone = cancelled.holds(b.lifecycle, b.status)
            held.extend(
                _held(p, for_cancelled=gone)
                for p in payments
                if p.captured_amount.amount and (gone or p.currency != b.currency)
            )
            if gone:
                continue
            counted = [p for p in payments if p.currency == b.currency]
            lines.append(
                PaidBookingTally(
                    b.id,
                    b.reference,
                    b.status,
                    b.currency,
                    b.total.amount,
                    sum((p.captured_amount.amount for p in counted), Decimal(0)),
                    sum((p.refunded_amount.amount for p in counted), Decimal(0)),
                    tuple(p.id for p in counted),
                )
            )
        for customer_id in customers:
            held.extend(
                _held(p, for_cancelled=False)
                for p in of_customer.get(customer_id, [])
                if p.captured_amount.amount
            )
        return ReconciliationTally(tuple(lines), tuple(held))

    def list_needing_attention(self, limit: int) -> Sequence[Payment]:
        return self._oldest_first(
            lambda p: p.attention_since is not None, at="attention_since", limit=limit
        )


class _RefundRepository(_Repository[Refund]):
    def get(self, refund_id: RefundId) -> Refund | None:
        return self._get(refund_id)

    def get_by_provider_reference(self, reference: str) -> Refund | None:
        return self._unique("provider_reference", reference)

    def list_for_payment(self, payment_id: PaymentId) -> Sequence[Refund]:
        return self._oldest_first(lambda r: r.payment_id == payment_id)


class _WebhookInboxRepository(_Repository[WebhookReceipt]):
    def get(self, receipt_id: UUID) -> WebhookReceipt | None:
        return self._get(receipt_id)

    def get_by_event(self, provider: str, event_id: str) -> WebhookReceipt | None:
        try:
            key = (normalise_provider(provider), event_id)
        except ValidationError:
            return None  # no receipt can name a malformed provider
        return self._unique("event", key)

    def add_if_new(self, receipt: WebhookReceipt) -> bool:
        return self._uow._add_if_new(self._table, receipt)

    def list_unsettled(self, limit: int) -> Sequence[WebhookReceipt]:
        unsettled = {ReceiptStatus.RECEIVED, ReceiptStatus.FAILED}
        return self._oldest_first(lambda w: w.status in unsettled, at="received_at", limit=limit)

    def list_for_payment(self, provider: str, payment_reference: str) -> Sequence[WebhookReceipt]:
        try:
            name = normalise_provider(provider)
        except ValidationError:
            return []  # no receipt can name a malformed provider
        return self._oldest_first(
            lambda w: w.provider == name and w.payment_reference == payment_reference,
            at="received_at",
        )


class _IdempotencyKeyRepository(_Repository[KeyClaim]):
    def add_if_new(self, claim: KeyClaim) -> bool:
        return self._uow._add_if_new(self._table, claim)

    def get(self, key: str) -> KeyClaim | None:
        found: KeyClaim | None = self._get(key_claim_id(key))
        return found


class _InvoiceRepository(_Repository[Invoice]):
    def get(self, invoice_id: InvoiceId) -> Invoice | None:
        return self._get(invoice_id)

    def get_by_number(self, number: str) -> Invoice | None:
        return self._unique("number", number)

    def list_for_booking(self, booking_id: BookingId) -> Sequence[Invoice]:
        return self._uow._select(
            self._table,
            lambda i: i.booking_id == booking_id,
            lambda i: (i.issued_at, i.series_key, i.sequence),
        )


class _InvoiceSeriesRepository(_Repository[InvoiceSeries]):
    def add_if_new(self, series: InvoiceSeries) -> bool:
        return self._uow._add_if_new(self._table, series)

    def get_for_update(self, key: str) -> InvoiceSeries | None:
        # The unit of work already holds the store's lock for its whole life.
        self._uow._require_writable("lock", self._table)
        return self.get(key)

    def take_number(self, key: str) -> int | None:
        series = self.get_for_update(key)
        return None if series is None else series.take()

    def get(self, key: str) -> InvoiceSeries | None:
        try:
            wanted = series_id(key)
        except ValidationError:
            return None  # no series can have a malformed key
        return self._get(wanted)


class _CommissionLedgerRepository(_Repository[CommissionEntry]):
    def list_for_booking(self, booking_id: BookingId) -> Sequence[CommissionEntry]:
        return self._oldest_first(lambda e: e.booking_id == booking_id, at="recorded_at")

    def list_recorded(
        self, start: datetime, end: datetime, partner_id: PartnerId | None = None
    ) -> Sequence[CommissionEntry]:
        return self._oldest_first(
            lambda e: start <= e.recorded_at < end and partner_id in (None, e.partner_id),
            at="recorded_at",
        )

    def page_recorded(
        self, start: datetime, end: datetime, partner_id: PartnerId | None, page: PageRequest
    ) -> Page[CommissionEntry]:
        return self._uow._page(
            self._table,
            lambda e: start <= e.recorded_at < end and partner_id in (None, e.partner_id),
            page,
            at="recorded_at",
        )

    def totals(
        self, start: datetime, end: datetime, partner_id: PartnerId | None = None
    ) -> Sequence[CommissionSummary]:
        return summarise(
            e
            for e in self._uow._rows(self._table)
            if start <= e.recorded_at < end and partner_id in (None, e.partner_id)
        )


# --------------------------------------------------------------------------- partner webhooks


class _WebhookDeliveryRepository(_Repository[WebhookDelivery]):
    def get(self, delivery_id: UUID) -> WebhookDelivery | None:
        return self._get(delivery_id)

    def claim_due(self, now: datetime, limit: int) -> Sequence[WebhookDelivery]:
        # The unit of work holds the store's lock: nobody else claims meanwhile.
        self._uow._require_writable("claim", self._table)
        return self._oldest_first(lambda d: d.is_due(now), at="next_attempt_at", limit=limit)

    def list(
        self,
        page: PageRequest,
        *,
        partner_id: PartnerId | None = None,
        status: WebhookDeliveryStatus | None = None,
    ) -> Page[WebhookDelivery]:
        return self._uow._page(
            self._table,
            lambda d: (
                (partner_id is None or d.partner_id == partner_id)
                and (status is None or d.status is status)
            ),
            page,
        )

    def list_for_booking(self, booking_id: BookingId) -> Sequence[WebhookDelivery]:
        return self._oldest_first(lambda d: d.booking_id == booking_id)


class _WebhookAttemptRepository(_Repository[WebhookAttempt]):
    def list_for_delivery(self, delivery_id: UUID) -> Sequence[WebhookAttempt]:
        return self._uow._select(
            self._table, lambda a: a.delivery_id == delivery_id, lambda a: a.number
        )


# ------------------------------------------------------------ the travel operating system


class _LeadRepository(_Repository[Lead]):
    def get(self, lead_id: LeadId) -> Lead | None:
        return self._get(lead_id)

    def get_by_idempotency_key(self, key: str) -> Lead | None:
        return self._unique("idempotency_key", key)

    def list(self, query: LeadFilter, page: PageRequest) -> Page[Lead]:
        return self._uow._page(self._table, query.matches, page)

    def count_open_by_assignee(self) -> Mapping[StaffId, int]:
        counts: dict[StaffId, int] = {}
        for lead in self._uow._rows(self._table):
            if lead.assignee_id is not None and lead.status in OPEN_LEAD_STATUSES:
                counts[lead.assignee_id] = counts.get(lead.assignee_id, 0) + 1
        return counts

    def count(self, query: LeadFilter) -> int:
        return sum(1 for lead in self._uow._rows(self._table) if query.matches(lead))

    def count_by_status(self, query: LeadFilter) -> Mapping[LeadStatus, int]:
        counts: dict[LeadStatus, int] = {}
        for lead in self._uow._rows(self._table):
            if query.matches(lead):
                counts[lead.status] = counts.get(lead.status, 0) + 1
        return counts

    def tally_by_source(
        self, created_from: datetime | None, created_before: datetime | None
    ) -> Sequence[LeadTally]:
        counts = Counter(
            (str(lead.source), str(lead.status))
            for lead in self._uow._rows(self._table)
            if _within(lead.created_at, created_from, created_before)
        )
        return [LeadTally(source, status, leads) for (source, status), leads in counts.items()]

    def list_by_follow_up(self, query: LeadFilter, page: PageRequest) -> Page[Lead]:
        return self._uow._ranked_page(
            self._table,
            lambda lead: lead.follow_up_on is not None and query.matches(lead),
            page,
            _follow_up_rank,
        )


def _within(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    """``start <= moment < end``, for the bounds that are given."""
    return (start is None or moment >= start) and (end is None or moment < end)


def _follow_up_rank(lead: Lead) -> int:
    assert lead.follow_up_on is not None
    return lead.follow_up_on.toordinal()


class _QuotationRepository(_Repository[Quotation]):
    def get(self, quotation_id: QuotationId) -> Quotation | None:
        return self._get(quotation_id)

    def get_by_idempotency_key(self, key: str) -> Quotation | None:
        return self._unique("idempotency_key", key)

    def list_revisions(self, reference: str) -> Sequence[Quotation]:
        return self._uow._select(
            self._table, lambda q: q.reference == reference, lambda q: (q.revision, q.id.bytes)
        )

    def list(self, query: QuotationFilter, page: PageRequest) -> Page[Quotation]:
        return self._uow._page(self._table, query.matches, page)


class _TripRepository(_Repository[Trip]):
    def get(self, trip_id: TripId) -> Trip | None:
        return self._get(trip_id)

    def list_for_customer(self, customer_id: CustomerId, page: PageRequest) -> Page[Trip]:
        return self._uow._page(self._table, lambda t: t.customer_id == customer_id, page)


class _ItineraryRepository(_Repository[Itinerary]):
    def get(self, itinerary_id: UUID) -> Itinerary | None:
        return self._get(itinerary_id)

    def get_for_booking(self, booking_id: BookingId) -> Itinerary | None:
        return self._unique("booking_id", booking_id)


# --------------------------------------------------------------- customer view (0.3)


class _CustomerStatsRepository:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    def _bookings(self, query: BookingFilter) -> list[Booking]:
        customers: dict[UUID, Customer] = {}
        if query.text:
            customers = {c.id: c for c in self._uow._rows("customers")}
        return [
            b for b in self._uow._rows("bookings") if query.matches(b, customers.get(b.customer_id))
        ]

    def summarise(
        self, query: BookingFilter, *, now: datetime, statuses: StatusGroups
    ) -> CustomerStats:
        found = self._bookings(query)
        ids = {b.id for b in found}
        paid = [p for p in self._uow._rows("payments") if p.booking_id in ids]
        return summarise_bookings(found, paid, now=now, statuses=statuses)

    def booked_products(self, query: BookingFilter, *, limit: int) -> Sequence[ProductId]:
        latest: dict[ProductId, tuple[datetime, bytes]] = {}
        for booking in self._bookings(query):
            if booking.product_id is not None:
                key = (booking.created_at, booking.id.bytes)
                latest[booking.product_id] = max(latest.get(booking.product_id, key), key)
        ordered = sorted(latest, key=lambda p: (-latest[p][0].timestamp(), p.bytes))
        return ordered[:limit]

    def booking_notes(self, query: BookingFilter, *, limit: int) -> Sequence[BookingNote]:
        references = {b.id: b.reference for b in self._bookings(query)}
        notes = [
            BookingNote.from_entry(entry, references[entry.booking_id])
            for entry in self._uow._rows("audit")
            if entry.action is AuditAction.NOTE_ADDED and entry.booking_id in references
        ]
        notes.sort(key=lambda n: (n.written_at, n.id.bytes), reverse=True)
        return notes[:limit]


class _CertificateRepository(_Repository[Certificate]):
    def get(self, certificate_id: CertificateId) -> Certificate | None:
        return self._get(certificate_id)

    def get_by_number(self, kind: str, number: str) -> Certificate | None:
        return self._unique("number", (kind, number))

    def list(self, query: CertificateFilter, page: PageRequest) -> Page[Certificate]:
        return self._uow._page(self._table, query.matches, page)

    def list_expiring(
        self, expires_by: datetime, *, after: datetime, limit: int
    ) -> Sequence[Certificate]:
        return self._oldest_first(
            lambda c: (
                c.expires_at is not None
                and after < c.expires_at <= expires_by
                and c.reminded_for != c.expires_at
            ),
            at="expires_at",
            limit=limit,
        )

    def held_by(
        self,
        customer_ids: Collection[CustomerId],
        traveler_ids: Collection[TravelerId],
        kinds: Collection[str],
    ) -> Sequence[Certificate]:
        travelers, owners, wanted = set(traveler_ids), set(customer_ids), set(kinds)
        return self._oldest_first(
            lambda c: (
                c.kind in wanted
                and (
                    c.traveler_id in travelers
                    or (c.traveler_id is None and c.customer_id in owners)
                )
            )
        )


class _VoucherRepository(_Repository[Voucher]):
    def get(self, voucher_id: VoucherId) -> Voucher | None:
        return self._get(voucher_id)

    def get_for_update(self, voucher_id: VoucherId) -> Voucher | None:
        return self._locked(voucher_id)

    def get_by_code(self, code: str) -> Voucher | None:
        try:
            normal = normalise_code(code)
        except ValidationError:
            return None
        return self._unique("code", normal)

    def list(self, query: VoucherFilter, page: PageRequest) -> Page[Voucher]:
        return self._uow._page(self._table, query.matches, page)

    def add_redemption(self, redemption: VoucherRedemption) -> None:
        self._uow._add("voucher_redemptions", redemption)

    def redemptions(
        self, voucher_id: VoucherId, *, customer_id: CustomerId | None = None
    ) -> Sequence[VoucherRedemption]:
        found: list[VoucherRedemption] = self._uow._select(
            "voucher_redemptions",
            lambda x: (
                x.voucher_id == voucher_id and (customer_id is None or x.customer_id == customer_id)
            ),
            lambda x: (x.at, x.id.bytes),
        )
        return found

    def redemption_for_booking(self, booking_id: BookingId) -> VoucherRedemption | None:
        found: VoucherRedemption | None = self._uow._find_unique(
            "voucher_redemptions", "booking_id", booking_id
        )
        return found

    def move_redemptions(self, source: CustomerId, target: CustomerId) -> int:
        table = "voucher_redemptions"
        self._uow._require_writable("update", table)
        moving: list[VoucherRedemption] = self._uow._select(
            table, lambda x: x.customer_id == source, lambda x: x.id.bytes
        )
        # Redemptions are frozen values: each moved one replaces its tracked copy.
        self._uow._replace(table, [attrs.evolve(x, customer_id=target) for x in moving])
        return len(moving)


class _PushDeviceRepository(_Repository[PushDevice]):
    def get(self, device_id: PushDeviceId) -> PushDevice | None:
        return self._get(device_id)

    def get_by_token(self, token: str) -> PushDevice | None:
        return self._unique("token", token)

    def list_for_customer(
        self, customer_id: CustomerId, *, only_active: bool = False
    ) -> Sequence[PushDevice]:
        return self._oldest_first(
            lambda d: d.customer_id == customer_id and (d.active or not only_active)
        )

    def remove(self, device_id: PushDeviceId) -> bool:
        if self._get(device_id) is None:
            return False
        self._uow._delete(self._table, [device_id])
        return True


def _joined(member: FamilyMember) -> tuple[object, ...]:
    return (not member.is_owner, member.joined_at, member.id.bytes)


def _sent(invitation: FamilyInvitation) -> tuple[object, ...]:
    return (invitation.created_at, invitation.id.bytes)


class _FamilyRepository(_Repository[Family]):
    def get(self, family_id: FamilyId) -> Family | None:
        return self._get(family_id)

    def get_for_update(self, family_id: FamilyId) -> Family | None:
        return self._locked(family_id)

    def delete(self, family_id: FamilyId) -> None:
        uow = self._uow
        uow._delete("family_members", [m.id for m in self.members(family_id)])
        uow._delete("family_invitations", [i.id for i in self.invitations(family_id)])
        uow._delete(self._table, [family_id])

    def add_member(self, member: FamilyMember) -> None:
        self._uow._add("family_members", member)

    def member(self, customer_id: CustomerId) -> FamilyMember | None:
        found: FamilyMember | None = self._uow._find_unique(
            "family_members", "customer_id", customer_id
        )
        return found

    def members(self, family_id: FamilyId) -> Sequence[FamilyMember]:
        found: list[FamilyMember] = self._uow._select(
            "family_members", lambda m: m.family_id == family_id, _joined
        )
        return found

    def remove_member(self, customer_id: CustomerId) -> bool:
        member = self.member(customer_id)
        if member is None:
            return False
        self._uow._delete("family_members", [member.id])
        return True

    def add_invitation(self, invitation: FamilyInvitation) -> None:
        self._uow._add("family_invitations", invitation)

    def get_invitation(self, invitation_id: FamilyInvitationId) -> FamilyInvitation | None:
        found: FamilyInvitation | None = self._uow._load("family_invitations", invitation_id)
        return found

    def invitations(self, family_id: FamilyId) -> Sequence[FamilyInvitation]:
        found: list[FamilyInvitation] = self._uow._select(
            "family_invitations", lambda i: i.family_id == family_id, _sent
        )
        return found

    def invitations_involving(self, customer_id: CustomerId) -> Sequence[FamilyInvitation]:
        found: list[FamilyInvitation] = self._uow._select(
            "family_invitations",
            lambda i: customer_id in (i.customer_id, i.invited_by),
            _sent,
        )
        return found

    def delete_invitations(self, invitation_ids: Sequence[FamilyInvitationId]) -> None:
        self._uow._delete("family_invitations", list(invitation_ids))


class _ShareLinkRepository(_Repository[ShareLink]):
    def get(self, link_id: ShareLinkId) -> ShareLink | None:
        return self._get(link_id)

    def get_by_token_hash(self, token_hash: str) -> ShareLink | None:
        return self._unique("token_hash", token_hash)

    def get_for_update(self, link_id: ShareLinkId) -> ShareLink | None:
        return self._locked(link_id)

    def list_for_booking(self, booking_id: BookingId) -> Sequence[ShareLink]:
        return self._oldest_first(lambda x: x.booking_id == booking_id)

    def list_for_customer(self, customer_id: CustomerId) -> Sequence[ShareLink]:
        return self._oldest_first(lambda x: x.customer_id == customer_id)

    def record_open(self, link_id: ShareLinkId, at: datetime) -> ShareLink | None:
        # Added to what is stored: another unit of work (interleaved in this thread)
        # may have counted opens since this one read the link.
        found: ShareLink | None = self._locked(link_id)
        if found is None:
            return None
        stored: ShareLink | None = self._uow._store.rows[self._table].get(link_id)
        if stored is not None and stored.view_count > found.view_count:
            found.view_count = stored.view_count
        found.view_count += 1
        found.last_opened_at = at
        return found

    def remove(self, link_id: ShareLinkId) -> bool:
        if self._get(link_id) is None:
            return False
        self._uow._delete(self._table, [link_id])
        return True


def _held(payment: Payment, *, for_cancelled: bool) -> HeldPaymentTally:
    return HeldPaymentTally(
        payment.id,
        payment.booking_id,
        payment.provider,
        payment.provider_reference,
        payment.currency,
        payment.captured_amount.amount,
        payment.refunded_amount.amount,
        for_cancelled,
    )
