"""Contract suites: what every adapter of the storage ports must do, written once.

Subclass :class:`StorageContract` (or a single contract) in a class whose name
starts with ``Test`` and provide a ``uow_factory`` fixture that returns a
factory over a fresh, empty store::

    class TestMyAdapter(StorageContract):
        capabilities = AdapterCapabilities(persistent=True)

        @pytest.fixture
        def uow_factory(self):
            return MyStore(...).unit_of_work

The memory adapter and the SQL adapter run exactly this suite, so an adapter
that passes it can replace either without the services noticing.

What the backend cannot do is declared, not discovered:
:class:`~bookingcore.testing.capabilities.AdapterCapabilities` (the class
attribute ``capabilities``, or a ``capabilities`` fixture for a choice made per
test) lists it, and each test that needs a missing capability is skipped with
a reason naming it. Some capabilities need one more fixture:
``reopened_uow_factory`` (``persistent``) and ``store_opener``
(``row_locks_across_processes``).

Optimistic versions are checked on every entity kind that carries one
(:data:`VERSIONED_KINDS`, one per subclass of
:class:`~bookingcore.domain.values.Versioned`): whoever changes an entity raises
its ``version`` (the domain's methods do), the adapter stores it, and a commit
that would overwrite a version it did not read raises
:class:`~bookingcore.errors.StaleVersionError` and writes nothing.

.. versionadded:: 0.1
"""

from __future__ import annotations

import itertools
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, ClassVar, TypeVar
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import attrs
import pytest

from bookingcore.domain.attendance import Attendance, AttendanceMark
from bookingcore.domain.audit import AuditAction, AuditEntry
from bookingcore.domain.auth import AuthSession, RevocationReason
from bookingcore.domain.bookings import Author, Booking
from bookingcore.domain.cancellation import CancellationPolicy, RefundTier
from bookingcore.domain.catalog import (
    Product,
    ProductFilter,
    ProductKind,
    Supplier,
    SupplierFilter,
)
from bookingcore.domain.certificates import Certificate, CertificateFilter, CertificateId
from bookingcore.domain.commissions import (
    CommissionEntry,
    CommissionEntryKind,
    CommissionSummary,
    summarise,
)
from bookingcore.domain.communications import (
    Channel,
    Communication,
    CommunicationStatus,
    CommunicationType,
)
from bookingcore.domain.customers import Customer, Traveler
from bookingcore.domain.devices import PushDevice, PushDeviceId
from bookingcore.domain.documents import Document, DocumentKind
from bookingcore.domain.events import (
    BookingStatusChanged,
    Delivery,
    DeliveryStatus,
    RetryPolicy,
    SerializedMessage,
)
from bookingcore.domain.families import (
    Family,
    FamilyId,
    FamilyInvitation,
    FamilyInvitationId,
    FamilyMember,
    FamilyMemberId,
    FamilyRole,
    InvitationStatus,
)
from bookingcore.domain.groups import BookingGroup, BookingGroupStatus
from bookingcore.domain.idempotency import KeyClaim, key_claim_id
from bookingcore.domain.imports import (
    FILE_PURGED_AT,
    CellProblem,
    ImportJob,
    ImportRowError,
    ImportStatus,
)
from bookingcore.domain.inbox import ReceiptStatus, WebhookReceipt
from bookingcore.domain.insights import (
    BookingNote,
    CustomerStats,
    StatusGroups,
    summarise_bookings,
)
from bookingcore.domain.invoices import Invoice, InvoiceKind, InvoiceLine, InvoiceSeries
from bookingcore.domain.items import BookingItem, BookingItemKind, BookingItemStatus, items_total
from bookingcore.domain.leads import Lead, LeadFilter, LeadSource, LeadStatus
from bookingcore.domain.lifecycle import RESERVATION, LifecycleEvent
from bookingcore.domain.partner_webhooks import WebhookDelivery, WebhookDeliveryStatus
from bookingcore.domain.partners import Partner, PartnerFilter
from bookingcore.domain.payments import (
    AttentionReason,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from bookingcore.domain.policy import PrincipalKind, StaffRole
from bookingcore.domain.queries import (
    BookingFilter,
    Cursor,
    CustomerFilter,
    Page,
    PageRequest,
    SlotFilter,
)
from bookingcore.domain.quotations import (
    Quotation,
    QuotationFilter,
    QuotationLine,
    QuotationStatus,
)
from bookingcore.domain.requirements import CertificateRule, ProductRequirements
from bookingcore.domain.sharing import ShareLink, ShareLinkId, new_share_token
from bookingcore.domain.slots import Slot
from bookingcore.domain.sources import BookingSource
from bookingcore.domain.staff import StaffMember
from bookingcore.domain.tallies import (
    CohortTally,
    CommunicationTally,
    CustomerTally,
    DurationTally,
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
    duration_tally,
    group_key,
    micros,
    slot_group_key,
)
from bookingcore.domain.trips import Itinerary, ItineraryDay, Trip
from bookingcore.domain.values import (
    Actor,
    ActorKind,
    BookingGroupId,
    BookingId,
    BookingItemId,
    CommunicationId,
    CustomerId,
    DocumentId,
    EmailAddress,
    LeadId,
    LocationId,
    Money,
    PartnerId,
    PaymentId,
    PhoneNumber,
    QuotationId,
    RefundId,
    SlotId,
    StaffId,
    SupplierId,
    TripId,
    Versioned,
    WaitlistEntryId,
)
from bookingcore.domain.vouchers import (
    Voucher,
    VoucherFilter,
    VoucherId,
    VoucherRedemption,
    VoucherRedemptionId,
)
from bookingcore.domain.waitlist import WaitlistEntry, WaitlistPriority, WaitlistStatus
from bookingcore.errors import (
    CapacityError,
    ConflictError,
    DuplicateError,
    ReadOnlyError,
    StaleVersionError,
    ValidationError,
)
from bookingcore.ports.uow import UnitOfWork, UnitOfWorkFactory
from bookingcore.testing.builders import T0, Builder
from bookingcore.testing.capabilities import AdapterCapabilities, required_capabilities, requires

__all__ = [
    "DANGLING_ROWS",
    "VERSIONED_KINDS",
    "AuthSessionRepositoryContract",
    "BookingGroupRepositoryContract",
    "BookingItemRepositoryContract",
    "BookingRepositoryContract",
    "CatalogRepositoryContract",
    "CertificateHoldersContract",
    "CertificateRepositoryContract",
    "CommissionLedgerContract",
    "CommunicationRepositoryContract",
    "CustomerRepositoryContract",
    "CustomerStatsRepositoryContract",
    "DocumentRepositoryContract",
    "FamilyRepositoryContract",
    "HistoryRepositoryContract",
    "IdempotencyKeyRepositoryContract",
    "ImportRepositoryContract",
    "InvoiceRepositoryContract",
    "LookupContract",
    "OutboxRepositoryContract",
    "PartnerRepositoryContract",
    "PaymentRepositoryContract",
    "PersistenceContract",
    "PushDeviceRepositoryContract",
    "ReferenceContract",
    "ShareLinkRepositoryContract",
    "SlotRepositoryContract",
    "StaffRepositoryContract",
    "StorageContract",
    "TallyContract",
    "TravelerRepositoryContract",
    "UnitOfWorkContract",
    "VersionContract",
    "VersionedKind",
    "WaitlistRepositoryContract",
    "WebhookDeliveryRepositoryContract",
    "WebhookInboxRepositoryContract",
    "assert_pages_walk",
]

E = TypeVar("E")
A = TypeVar("A")
R = TypeVar("R")


def walk_pages(fetch: Callable[[PageRequest], Page[Any]], limit: int) -> list[Any]:
    """Follow ``next_cursor`` from the first page to the last; return every item.

    Every page must hold at most ``limit`` items.
    """
    items: list[Any] = []
    cursor: str | None = None
    while True:
        page = fetch(PageRequest(limit=limit, cursor=cursor))
        assert len(page.items) <= limit, (len(page.items), limit)
        items.extend(page.items)
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def assert_pages_walk(
    uow_factory: UnitOfWorkFactory,
    fetch: Callable[[UnitOfWork, PageRequest], Page[Any]],
    expected: Iterable[Any],
    *,
    limits: Iterable[int] = (1, 2, 5),
    label: object = None,
    at: str = "created_at",
    key: Callable[[Any], Any] | None = None,
) -> None:
    """Assert a keyset-paged list answers ``expected``, newest first, at every page size.

    For each of ``limits``, one unit of work follows ``next_cursor`` from the
    first page of ``fetch(uow, page)`` to the last (:func:`walk_pages`): every
    expected item comes exactly once (none missing, none twice, nothing else),
    newest first by ``(created_at, id)`` (``at`` names another time attribute,
    such as ``recorded_at``), or, given ``key``, smallest ``key`` first (a list
    ranked by row number or date). A page as long as the whole list answers it in
    one go, with no next cursor. ``label`` names the case in a failure.

    .. versionadded:: 0.3
    """
    if key is None:
        wanted = sorted(expected, key=lambda e: (getattr(e, at), e.id.bytes), reverse=True)
    else:
        wanted = sorted(expected, key=key)
    ids = [e.id for e in wanted]
    for limit in limits:
        with uow_factory() as uow:
            seen = walk_pages(partial(fetch, uow), limit=limit)
        assert [e.id for e in seen] == ids, (label, limit)
    if wanted:
        with uow_factory() as uow:
            whole = fetch(uow, PageRequest(limit=len(wanted)))
        assert ([e.id for e in whole.items], whole.next_cursor) == (ids, None), label


def _assert_each_filter_walks(
    uow_factory: UnitOfWorkFactory,
    fetch: Callable[[Any, UnitOfWork, PageRequest], Page[Any]],
    entities: Iterable[Any],
    queries: Iterable[Any],
    *,
    limits: Iterable[int] = (1, 2, 5),
) -> None:
    """For each filter in ``queries``, the ``entities`` it ``matches`` (at least one)
    walk newest first through ``fetch(query, uow, page)``: :func:`assert_pages_walk`."""
    entities = list(entities)
    for query in queries:
        expected = [entity for entity in entities if query.matches(entity)]
        assert expected, query
        assert_pages_walk(uow_factory, partial(fetch, query), expected, limits=limits, label=query)


def _assert_each_customer_walks(
    uow_factory: UnitOfWorkFactory,
    fetch: Callable[[CustomerId, UnitOfWork, PageRequest], Page[Any]],
    entities: Iterable[Any],
    customers: Iterable[Customer],
) -> None:
    """For each of ``customers``, the ``entities`` whose ``customer_id`` is theirs walk
    newest first through ``fetch(customer_id, uow, page)``: :func:`assert_pages_walk`."""
    entities = list(entities)
    for customer in customers:
        assert_pages_walk(
            uow_factory,
            partial(fetch, customer.id),
            [entity for entity in entities if entity.customer_id == customer.id],
            label=customer.id,
        )


def _assert_the_second_writer_is_stale(
    uow_factory: UnitOfWorkFactory,
    read: Callable[[UnitOfWork], Any],
    first: Callable[[Any], object],
    second: Callable[[Any], object],
) -> Any:
    """Two units of work ``read`` one entity (stored at version 1); ``first`` changes
    it and commits, then ``second`` changes its own copy: that commit raises
    :class:`~bookingcore.errors.StaleVersionError` (version 1 read, 2 stored).
    Returns the entity as stored afterwards, for the caller to check ``first``'s change."""
    with uow_factory() as late:
        mine = read(late)
        assert mine is not None
        with uow_factory() as early:
            theirs = read(early)
            assert theirs is not None
            first(theirs)
            early.commit()
        second(mine)
        with pytest.raises(StaleVersionError) as caught:
            late.commit()
    assert (caught.value.expected, caught.value.actual) == (1, 2)
    with uow_factory() as uow:
        stored = read(uow)
    assert stored is not None
    return stored


def _race(work: Callable[[A], R], arguments: Iterable[A]) -> list[R]:
    """Run ``work`` on one thread per argument, all released at once by a barrier.

    Returns what the calls returned, in the order they finished; asserts that none
    raised (a worker's exception fails the test, named).
    """
    arguments = list(arguments)
    barrier = threading.Barrier(len(arguments))
    results: list[R] = []
    failures: list[BaseException] = []
    guard = threading.Lock()

    def run(argument: A) -> None:
        try:
            barrier.wait()
            result = work(argument)
        except BaseException as exc:
            with guard:
                failures.append(exc)
        else:
            with guard:
                results.append(result)

    threads = [threading.Thread(target=run, args=(argument,)) for argument in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == [], failures
    return results


class _InjectedError(Exception):
    """The failure a contract test injects into a commit."""


class _FailsToStore:
    """A value no adapter can store: copying it (for a snapshot, a row or a stored
    copy) raises :class:`_InjectedError`."""

    def __copy__(self) -> Any:
        raise _InjectedError

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        raise _InjectedError


class _Base:
    #: What the backend can do; override in the adapter's test class.
    capabilities: ClassVar[AdapterCapabilities] = AdapterCapabilities()

    @pytest.fixture
    def uow_factory(self) -> UnitOfWorkFactory:
        """Override: a factory over a fresh, empty store."""
        msg = "subclasses provide a uow_factory fixture"
        raise NotImplementedError(msg)

    @pytest.fixture(name="capabilities")
    def declared_capabilities(self) -> AdapterCapabilities:
        """The backend's capabilities: the class attribute, unless a subclass overrides this."""
        return self.capabilities

    @pytest.fixture(autouse=True)
    def _skip_without_required_capabilities(
        self, request: pytest.FixtureRequest, capabilities: AdapterCapabilities
    ) -> None:
        missing = capabilities.lacks(*required_capabilities(request.function))
        if missing:
            pytest.skip(f"the adapter declares no {', '.join(missing)} (AdapterCapabilities)")

    @pytest.fixture
    def make(self) -> Builder:
        """A builder for valid entities."""
        return Builder()


class UnitOfWorkContract(_Base):
    """Transactions: all or nothing, read your own writes, locks that serialise.

    .. versionadded:: 0.1
    """

    def test_a_row_naming_a_missing_row_is_refused_with_nothing_stored(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """What a SQL store's foreign keys refuse, every store refuses: a traveler, a
        booking, a payment, a refund, a line item or a waitlist entry naming a row that
        does not exist is a ``ConflictError`` on commit that names the column, and
        nothing of that commit is stored."""
        location = make.location()
        slot = make.slot(location.id)
        customer = make.customer()
        traveler = make.traveler(customer.id)
        booking = make.booking(customer.id, slot, [traveler.id])
        with uow_factory() as uow:
            uow.locations.add(location)
            uow.slots.add(slot)
            uow.customers.add(customer)
            uow.travelers.add(traveler)
            uow.bookings.add(booking)
            uow.commit()
        # Never stored: only their ids are named.
        gone_customer = make.customer()
        gone_slot = make.slot(location.id)
        gone_traveler = make.traveler(customer.id)
        gone_booking = make.booking(customer.id, slot, [traveler.id])
        gone_payment = make.payment(gone_booking)
        # (the column the error names, what the unit of work adds)
        cases: list[tuple[str, Callable[[UnitOfWork], None]]] = [
            ("customer_id", lambda uow: uow.travelers.add(make.traveler(gone_customer.id))),
            (
                "customer_id",
                lambda uow: uow.bookings.add(make.booking(gone_customer.id, slot, [traveler.id])),
            ),
            (
                "slot_id",
                lambda uow: uow.bookings.add(make.booking(customer.id, gone_slot, [traveler.id])),
            ),
            (
                "traveler_id",
                lambda uow: uow.bookings.add(make.booking(customer.id, slot, [gone_traveler.id])),
            ),
            ("booking_id", lambda uow: uow.payments.add(make.payment(gone_booking))),
            ("payment_id", lambda uow: uow.refunds.add(make.refund(gone_payment.id))),
            ("booking_id", lambda uow: uow.booking_items.add(make.booking_item(gone_booking.id))),
            (
                "slot_id",
                lambda uow: uow.waitlist.add(make.waitlist_entry(gone_slot.id, customer.id)),
            ),
        ]
        for what, add in cases:
            bystander = make.customer()
            with uow_factory() as uow:
                uow.customers.add(bystander)
                add(uow)
                with pytest.raises(ConflictError, match=what):
                    uow.commit()
            with uow_factory() as uow:
                assert uow.customers.get(bystander.id) is None, what

    def test_committed_changes_are_visible_to_the_next_unit_of_work(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        customer = make.customer(name="Asha")
        with uow_factory() as uow:
            uow.customers.add(customer)
            uow.commit()
        with uow_factory() as uow:
            assert uow.customers.get(customer.id) == customer

    def test_a_read_only_unit_of_work_reads_and_commits_nothing_to_write(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        customer = make.customer(name="Asha")
        with uow_factory() as uow:
            uow.customers.add(customer)
            uow.commit()
        with uow_factory().read_only() as uow:
            assert uow.customers.get(customer.id) == customer
            assert uow.customers.get_by_phone(customer.phone) == customer
            uow.commit()  # nothing to write: allowed
            assert uow.customers.get(customer.id) == customer

    def test_a_read_only_unit_of_work_refuses_to_add_and_stores_nothing(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        customer = make.customer()
        with uow_factory().read_only() as uow:
            with pytest.raises(ReadOnlyError) as refused:
                uow.customers.add(customer)
            assert refused.value.operation == "add"
            assert refused.value.code == "read_only"
            uow.commit()
        with uow_factory() as uow:
            assert uow.customers.get(customer.id) is None

    def test_a_read_only_unit_of_work_refuses_to_commit_a_change_to_an_entity_read(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        customer = make.customer()
        with uow_factory() as uow:
            uow.customers.add(customer)
            uow.commit()
        with uow_factory().read_only() as uow:
            loaded = uow.customers.get(customer.id)
            assert loaded is not None
            loaded.complete_profile(now=T0, name="Ravi Kumar", email="ravi@example.com")
            with pytest.raises(ReadOnlyError) as refused:
                uow.commit()
            assert refused.value.entity == "customer"
        with uow_factory() as uow:
            stored = uow.customers.get(customer.id)
            assert stored is not None
            assert (stored.name, stored.version) == (customer.name, customer.version)

    @requires("interleaved_units_of_work")
    def test_a_read_only_unit_of_work_commits_what_others_changed_meanwhile(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        # Only its own changes are refused: a customer (versioned) and a location (not)
        # it read, changed and committed by another unit of work, are none of them.
        customer, location = make.customer(), make.location(name="Base camp")
        with uow_factory() as uow:
            uow.customers.add(customer)
            uow.locations.add(location)
            uow.commit()
        with uow_factory().read_only() as reader:
            assert reader.customers.get(customer.id) is not None
            assert reader.locations.get(location.id) is not None
            with uow_factory() as writer:
                theirs = writer.customers.get(customer.id)
                place = writer.locations.get(location.id)
                assert theirs is not None
                assert place is not None
                theirs.complete_profile(now=T0, name="Ravi Kumar")
                place.name = "Upper camp"
                writer.commit()
            reader.commit()
        with uow_factory() as uow:
            stored = uow.customers.get(customer.id)
            assert stored is not None
            assert stored.name == "Ravi Kumar"

    def test_a_read_only_unit_of_work_takes_no_locks(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        location = make.location()
        slot = make.slot(location.id)
        with uow_factory() as uow:
            uow.locations.add(location)
            uow.slots.add(slot)
            uow.commit()
        with uow_factory().read_only() as uow:
            with pytest.raises(ReadOnlyError) as refused:
                uow.slots.get_for_update(slot.id)
            assert refused.value.operation == "lock"
            with pytest.raises(ReadOnlyError):
                uow.outbox.claim_unpublished(10)
            assert uow.slots.get(slot.id) == slot

    def test_a_unit_of_work_becomes_read_only_only_before_it_begins(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        with uow_factory() as uow, pytest.raises(RuntimeError):
            uow.read_only()

    def test_leaving_without_commit_stores_nothing(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        customer = make.customer()
        with uow_factory() as uow:
            uow.customers.add(customer)
        with uow_factory() as uow:
            assert uow.customers.get(customer.id) is None

    def test_an_exception_inside_the_block_stores_nothing(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        location = make.location()

        def add_then_fail() -> None:
            with uow_factory() as uow:
                uow.locations.add(location)
                raise RuntimeError

        with pytest.raises(RuntimeError):
            add_then_fail()
        with uow_factory() as uow:
            assert uow.locations.get(location.id) is None

    def test_changes_to_a_loaded_entity_are_stored_on_commit(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        customer = make.customer()
        with uow_factory() as uow:
            uow.customers.add(customer)
            uow.commit()
        with uow_factory() as uow:
            loaded = uow.customers.get(customer.id)
            assert loaded is not None
            loaded.complete_profile(now=T0, name="Ravi Kumar", email="ravi@example.com")
            uow.commit()
        with uow_factory() as uow:
            stored = uow.customers.get(customer.id)
            assert stored is not None
            assert (stored.name, stored.email, stored.version) == (
                "Ravi Kumar",
                EmailAddress("ravi@example.com"),
                2,
            )

    def test_rollback_discards_changes_to_loaded_entities(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        location = make.location()
        with uow_factory() as uow:
            uow.locations.add(location)
            uow.commit()
        with uow_factory() as uow:
            loaded = uow.locations.get(location.id)
            assert loaded is not None
            loaded.name = "Renamed"
            uow.rollback()
            uow.commit()
        with uow_factory() as uow:
            stored = uow.locations.get(location.id)
            assert stored is not None
            assert stored.name == location.name

    def test_one_id_gives_one_object_within_a_unit_of_work(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        customer = make.customer()
        with uow_factory() as uow:
            uow.customers.add(customer)
            uow.commit()
        with uow_factory() as uow:
            first = uow.customers.get(customer.id)
            assert first is uow.customers.get(customer.id)
            assert first is uow.customers.get_by_phone(customer.phone)

    def test_uncommitted_additions_are_visible_inside_the_same_unit_of_work(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        customer = make.customer()
        with uow_factory() as uow:
            uow.customers.add(customer)
            assert uow.customers.get_by_phone(customer.phone) is customer
            assert uow.customers.get(customer.id) is customer

    def test_a_duplicate_key_fails_the_whole_commit(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        first = make.location(code="SAME")
        with uow_factory() as uow:
            uow.locations.add(first)
            uow.commit()
        bystander = make.customer()
        clash = make.location(code="SAME")
        with uow_factory() as uow:
            uow.customers.add(bystander)
            uow.locations.add(clash)
            with pytest.raises(DuplicateError):
                uow.commit()
        with uow_factory() as uow:
            assert uow.customers.get(bystander.id) is None
            assert uow.locations.get(clash.id) is None
            assert uow.locations.get(first.id) is not None

    @pytest.mark.parametrize("taker_read_first", [False, True])
    def test_a_unique_key_moved_from_one_stored_row_to_another_in_one_commit_is_stored(
        self, uow_factory: UnitOfWorkFactory, make: Builder, taker_read_first: bool
    ) -> None:
        giver, taker = make.location(code="BASE"), make.location(code="CAMP")
        _commit_all(uow_factory, "locations", [giver, taker])
        with uow_factory() as uow:
            first, second = (taker, giver) if taker_read_first else (giver, taker)
            read = {e.id: uow.locations.get(e.id) for e in (first, second)}
            read[giver.id].code = "OLD-BASE"  # type: ignore[union-attr]
            read[taker.id].code = "BASE"  # type: ignore[union-attr]
            uow.commit()
        with uow_factory() as uow:
            assert [(x.id, x.code) for x in uow.locations.list()] == sorted(
                [(giver.id, "OLD-BASE"), (taker.id, "BASE")], key=lambda pair: pair[1]
            )

    def test_adding_a_stored_entity_again_names_it_though_its_keys_clash_too(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        # The same id, phone and code as a stored row: the row holding them is that one.
        customer, location = make.customer(), make.location()
        with uow_factory() as uow:
            uow.customers.add(customer)
            uow.locations.add(location)
            uow.commit()
        for repository, again in (
            ("customers", attrs.evolve(customer, name="Someone Else")),
            ("locations", attrs.evolve(location, name="Elsewhere")),
        ):
            refused = _assert_duplicate(uow_factory, repository, again)
            assert (refused.entity, refused.existing_id) == (
                type(again).__name__.lower(),
                again.id,
            )

    def test_a_key_given_up_in_the_commit_is_not_what_a_clash_names(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        # The new customer takes the phone the first gives up (allowed) and the
        # external id the second holds (refused): the error names the second.
        moving, holding = make.customer(), make.customer(external_id="CRM-7")
        with uow_factory() as uow:
            uow.customers.add(moving)
            uow.customers.add(holding)
            uow.commit()
        newcomer = make.customer(phone=moving.phone, external_id="CRM-7")
        with uow_factory() as uow:
            gives_up = uow.customers.get(moving.id)
            assert gives_up is not None
            gives_up.phone = make.customer().phone
            uow.customers.add(newcomer)
            with pytest.raises(DuplicateError) as caught:
                uow.commit()
        assert (caught.value.entity, caught.value.existing_id) == ("customer", holding.id)
        with uow_factory() as uow:
            assert uow.customers.get_by_phone(moving.phone) == moving

    def test_two_new_rows_with_one_key_name_no_existing_row(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        # ``existing_id`` names a stored row holding the key; none does here, and the
        # first of the two is not stored either once the commit fails.
        first = make.customer()
        second = make.customer(phone=first.phone)
        with uow_factory() as uow:
            uow.customers.add(first)
            uow.customers.add(second)
            with pytest.raises(DuplicateError) as caught:
                uow.commit()
        assert (caught.value.entity, caught.value.existing_id) == ("customer", None)
        with uow_factory() as uow:
            assert uow.customers.get_by_phone(first.phone) is None

    def test_two_stored_rows_swapping_a_unique_key_in_one_commit_is_a_duplicate(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        # Each row takes the key the other gives up: a database checks each row as it
        # writes it, so no order stores both, and every adapter refuses the commit.
        one, two = make.location(code="ONE"), make.location(code="TWO")
        _commit_all(uow_factory, "locations", [one, two])
        with uow_factory() as uow:
            mine, theirs = uow.locations.get(one.id), uow.locations.get(two.id)
            assert mine is not None
            assert theirs is not None
            mine.code, theirs.code = "TWO", "ONE"
            with pytest.raises(DuplicateError) as caught:
                uow.commit()
        assert caught.value.entity == "location"
        assert caught.value.existing_id in {one.id, two.id}
        with uow_factory() as uow:
            assert sorted((x.code, x.id) for x in uow.locations.list()) == [
                ("ONE", one.id),
                ("TWO", two.id),
            ]

    def test_a_commit_that_fails_midway_leaves_nothing_half_written(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        # A failure injected in the last entity a commit writes (a value in a booking's
        # metadata that cannot be copied or stored) fails the commit after the
        # customer's change, the location and the slot could have been written: none is.
        customer = make.customer(name="Asha")
        traveler = make.traveler(customer.id)
        with uow_factory() as uow:
            uow.customers.add(customer)
            uow.travelers.add(traveler)
            uow.commit()
        location = make.location()
        slot = make.slot(location.id)
        booking = make.booking(customer.id, slot, [traveler.id])
        booking.metadata["injected"] = _FailsToStore()  # type: ignore[assignment]
        with uow_factory() as uow:
            loaded = uow.customers.get(customer.id)
            assert loaded is not None
            loaded.complete_profile(now=T0, name="Asha Rao")
            uow.locations.add(location)
            uow.slots.add(slot)
            uow.bookings.add(booking)
            with pytest.raises(_InjectedError):
                uow.commit()
        with uow_factory() as uow:
            stored = uow.customers.get(customer.id)
            assert stored is not None
            assert (stored.name, stored.version) == ("Asha", customer.version)
            assert uow.locations.get(location.id) is None
            assert uow.slots.get(slot.id) is None
            assert uow.bookings.get(booking.id) is None

    def test_entities_handed_out_are_detached_after_the_unit_of_work(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        location = make.location(name="Original")
        with uow_factory() as uow:
            uow.locations.add(location)
            uow.commit()
        location.name = "Changed outside any unit of work"
        with uow_factory() as uow:
            stored = uow.locations.get(location.id)
            assert stored is not None
            assert stored.name == "Original"

    @requires("concurrent_units_of_work")
    def test_get_for_update_serialises_seat_holds_across_threads(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        location = make.location()
        slot = make.slot(location.id, capacity=3)
        with uow_factory() as uow:
            uow.locations.add(location)
            uow.slots.add(slot)
            uow.commit()

        def take_a_seat(_: int) -> str:
            try:
                with uow_factory() as uow:
                    locked = uow.slots.get_for_update(slot.id)
                    assert locked is not None
                    locked.hold(1)
                    uow.commit()
            except CapacityError:
                return "full"
            return "held"

        outcomes = _race(take_a_seat, range(8))
        assert sorted(outcomes) == ["full"] * 5 + ["held"] * 3
        with uow_factory() as uow:
            stored = uow.slots.get(slot.id)
            assert stored is not None
            assert stored.seats_held == 3

    @requires("concurrent_units_of_work")
    def test_get_for_update_serialises_moves_of_one_booking(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)

        def cancel_if_still_pending(worker: int) -> bool:
            with uow_factory() as uow:
                locked = uow.bookings.get_for_update(booking.id)
                assert locked is not None
                if locked.status != "pending":
                    return False  # a worker before this one saw it pending and moved it
                locked.status = "cancelled"
                locked.touch(T0 + timedelta(minutes=worker))
                uow.commit()
            return True

        moved = _race(cancel_if_still_pending, range(6))
        assert moved.count(True) == 1
        with uow_factory() as uow:
            stored = uow.bookings.get(booking.id)
            assert stored is not None
            assert (stored.status, stored.version) == ("cancelled", booking.version + 1)


class CustomerRepositoryContract(_Base):
    """Customers: unique phones, filters, newest-first keyset pages.

    .. versionadded:: 0.1
    """

    def test_a_customer_reads_back_equal_by_id_and_by_phone(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        customer = make.customer(name="Asha Rao", email=EmailAddress("asha@example.com"))
        _committed(uow_factory, "customers", customer)
        with uow_factory() as uow:
            assert uow.customers.get(customer.id) == customer
            assert uow.customers.get_by_phone(customer.phone) == customer
            assert uow.customers.get_by_phone(make.phone()) is None

    def test_a_second_customer_with_the_same_phone_is_a_duplicate(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        first = make.customer()
        _committed(uow_factory, "customers", first)
        _assert_duplicate(uow_factory, "customers", make.customer(phone=first.phone))

    def test_a_customer_is_found_by_their_external_id_and_it_is_unique(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """An imported customer's id in the old system finds them, in the unit that adds
        them and after commit; a second customer with it is a duplicate; none is ``None``."""
        imported = make.customer(external_id="users:17")
        made_here = make.customer()
        with uow_factory() as uow:
            uow.customers.add(imported)
            uow.customers.add(made_here)
            assert uow.customers.get_by_external_id("users:17") == imported
            uow.commit()
        with uow_factory() as uow:
            assert uow.customers.get_by_external_id("users:17") == imported
            assert uow.customers.get_by_external_id("users:18") is None
            uow.customers.add(make.customer(external_id="users:17"))
            with pytest.raises(DuplicateError):
                uow.commit()

    def test_a_merged_customers_external_id_finds_the_survivor(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        survivor = make.customer()
        duplicate = make.customer(external_id="users:9")
        with uow_factory() as uow:
            uow.customers.add(survivor)
            uow.customers.add(duplicate)
            uow.commit()
        with uow_factory() as uow:
            stored = uow.customers.get(duplicate.id)
            assert stored is not None
            stored.merge_into(survivor.id, now=T0 + timedelta(hours=1))
            uow.commit()
        with uow_factory() as uow:
            found = uow.customers.get_by_external_id("users:9")
            assert found is not None
            assert found.id == survivor.id

    def test_list_filters_by_source_partner_dates_and_text(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        partner = make.partner()
        direct = make.customer(name="Meera Iyer", created_at=T0)
        walk_in = make.customer(
            source=BookingSource.WALK_IN,
            email=EmailAddress("walkin@shop.example"),
            created_at=T0 + timedelta(days=1),
        )
        via_partner = make.customer(
            source=BookingSource.PARTNER, partner_id=partner.id, created_at=T0 + timedelta(days=2)
        )
        with uow_factory() as uow:
            uow.partners.add(partner)
            for customer in (direct, walk_in, via_partner):
                uow.customers.add(customer)
            uow.commit()

        def ids(query: CustomerFilter) -> set[Any]:
            with uow_factory() as uow:
                return {c.id for c in uow.customers.list(query, PageRequest()).items}

        assert ids(CustomerFilter()) == {direct.id, walk_in.id, via_partner.id}
        assert ids(CustomerFilter(sources=[BookingSource.WALK_IN])) == {walk_in.id}
        assert ids(CustomerFilter(partner_id=partner.id)) == {via_partner.id}
        assert ids(CustomerFilter(customer_id=direct.id)) == {direct.id}
        assert ids(CustomerFilter(text="meera")) == {direct.id}
        assert ids(CustomerFilter(text="SHOP.example")) == {walk_in.id}
        assert ids(CustomerFilter(text=via_partner.phone.e164[-6:])) == {via_partner.id}
        window = CustomerFilter(
            created_from=T0 + timedelta(days=1), created_before=T0 + timedelta(days=2)
        )
        assert ids(window) == {walk_in.id}

    def test_text_compares_letters_in_lower_case_one_for_one(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """Text search lowers each letter to one letter (``fold_case``): the Turkish
        capital I with a dot finds ``i``, a capital sigma is the small one wherever it
        stands, and the sharp s and the final sigma are letters of their own."""
        street = make.customer(name="Anna Stra\u00dfe")  # sharp s
        capitals = make.customer(name="\u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3")
        small = make.customer(name="\u039f\u03b4\u03c5\u03c3\u03c3\u03b5\u03c5\u03c2")
        turkish = make.customer(name="\u0130pek Y\u0131lmaz")  # dotted I, dotless i
        with uow_factory() as uow:
            for customer in (street, capitals, small, turkish):
                uow.customers.add(customer)
            uow.commit()

        def ids(text: str) -> set[Any]:
            with uow_factory() as uow:
                found = uow.customers.list(CustomerFilter(text=text), PageRequest()).items
                return {c.id for c in found}

        assert ids("STRA\u00dfE") == {street.id}
        assert ids("strasse") == set()
        assert ids("\u03bf\u03b4\u03c5\u03c3\u03c3\u03b5\u03c5") == {capitals.id, small.id}
        # The capitals lower to a small sigma at the end, the other name keeps its final one.
        assert ids("\u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3") == {capitals.id}
        assert ids("\u03bf\u03b4\u03c5\u03c3\u03c3\u03b5\u03c5\u03c2") == {small.id}
        assert ids("ipek") == ids("IPEK") == ids("\u0130PEK") == {turkish.id}
        assert ids("yilmaz") == set()
        assert ids("Y\u0131LMAZ") == {turkish.id}

    def test_pages_walk_every_customer_once_newest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        # Pairs share a creation time so the id must break ties.
        customers = [make.customer(created_at=T0 + timedelta(minutes=i // 2)) for i in range(11)]
        _commit_all(uow_factory, "customers", customers)
        assert_pages_walk(
            uow_factory, lambda uow, page: uow.customers.list(CustomerFilter(), page), customers
        )


class TravelerRepositoryContract(_Base):
    """Travelers: scoped to their customer, oldest first, soft-deleted hidden.

    .. versionadded:: 0.1
    """

    def test_list_for_customer_is_scoped_ordered_and_hides_deleted(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        owner, other = make.customer(), make.customer()
        first = make.traveler(owner.id, created_at=T0)
        second = make.traveler(owner.id, created_at=T0 + timedelta(hours=1))
        gone = make.traveler(owner.id, deleted_at=T0 + timedelta(hours=2))
        theirs = make.traveler(other.id)
        with uow_factory() as uow:
            uow.customers.add(owner)
            uow.customers.add(other)
            for traveler in (second, gone, first, theirs):
                uow.travelers.add(traveler)
            uow.commit()
        with uow_factory() as uow:
            listed = uow.travelers.list_for_customer(owner.id)
            assert [t.id for t in listed] == [first.id, second.id]
            everyone = uow.travelers.list_for_customer(owner.id, include_deleted=True)
            assert {t.id for t in everyone} == {first.id, second.id, gone.id}
            assert uow.travelers.get(gone.id) == gone
            assert uow.travelers.get(theirs.id) == theirs

    def test_list_for_customers_groups_several_customers_in_one_call(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        owner, other, lonely = make.customer(), make.customer(), make.customer()
        first = make.traveler(owner.id, created_at=T0)
        second = make.traveler(owner.id, created_at=T0 + timedelta(hours=1))
        gone = make.traveler(owner.id, deleted_at=T0 + timedelta(hours=2))
        theirs = make.traveler(other.id)
        with uow_factory() as uow:
            for customer in (owner, other, lonely):
                uow.customers.add(customer)
            for traveler in (second, gone, theirs, first):
                uow.travelers.add(traveler)
            uow.commit()
        with uow_factory() as uow:
            unsaved = make.traveler(lonely.id, created_at=T0 + timedelta(days=1))
            uow.travelers.add(unsaved)  # seen before commit, like every lookup
            found = uow.travelers.list_for_customers([owner.id, other.id, lonely.id])
            assert {k: [t.id for t in v] for k, v in found.items()} == {
                owner.id: [first.id, second.id],
                other.id: [theirs.id],
                lonely.id: [unsaved.id],
            }
            assert uow.travelers.list_for_customers([]) == {}


class CatalogRepositoryContract(_Base):
    """Locations, products and suppliers: unique codes, ordered lists.

    .. versionadded:: 0.1
    """

    @staticmethod
    def _builders(make: Builder) -> dict[str, Callable[..., Any]]:
        return {"locations": make.location, "products": make.product, "suppliers": make.supplier}

    @pytest.mark.parametrize("kind", ["locations", "products", "suppliers"])
    def test_codes_are_unique_and_looked_up_exactly(
        self, uow_factory: UnitOfWorkFactory, make: Builder, kind: str
    ) -> None:
        build = self._builders(make)[kind]
        item = build(code="GOA-1")
        with uow_factory() as uow:
            getattr(uow, kind).add(item)
            uow.commit()
        with uow_factory() as uow:
            repo = getattr(uow, kind)
            assert repo.get_by_code("GOA-1") == item
            assert repo.get(item.id) == item
            assert repo.get_by_code("GOA-2") is None
        with uow_factory() as uow:
            getattr(uow, kind).add(build(code="GOA-1"))
            with pytest.raises(DuplicateError):
                uow.commit()

    @pytest.mark.parametrize("kind", ["locations", "products"])
    def test_get_many_reads_several_by_id_in_one_call(
        self, uow_factory: UnitOfWorkFactory, make: Builder, kind: str
    ) -> None:
        build = self._builders(make)[kind]
        items = [build(code=f"GM-{n}", is_active=n != 1) for n in range(3)]
        with uow_factory() as uow:
            for item in items:
                getattr(uow, kind).add(item)
            uow.commit()
        with uow_factory() as uow:
            repo = getattr(uow, kind)
            missing = uuid4()
            found = repo.get_many([items[0].id, items[1].id, missing])
            assert found == {items[0].id: items[0], items[1].id: items[1]}  # inactive too
            assert repo.get_many([]) == {}
            fresh = build(code="GM-NEW")
            repo.add(fresh)
            assert repo.get_many([fresh.id, fresh.id]) == {fresh.id: fresh}

    def test_locations_list_by_code_and_can_skip_inactive(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        items = [make.location(code="C"), make.location(code="A", is_active=False)]
        items.append(make.location(code="B"))
        _commit_all(uow_factory, "locations", items)
        with uow_factory() as uow:
            assert [i.code for i in uow.locations.list()] == ["A", "B", "C"]
            assert [i.code for i in uow.locations.list(only_active=True)] == ["B", "C"]

    def test_a_location_is_locked_for_its_unit_of_work(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        location = make.location(code="LOCK")
        _committed(uow_factory, "locations", location)
        with uow_factory() as uow:
            repo = uow.locations
            assert repo.get_for_update(location.id) == location
            assert repo.get_for_update(LocationId(uuid4())) is None
            fresh = make.location(code="NEW")
            repo.add(fresh)
            assert repo.get_for_update(fresh.id) == fresh

    @requires("concurrent_units_of_work")
    def test_get_for_update_serialises_changes_of_one_location(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """Each worker reads the name under the lock and appends to it: none is lost."""
        location = make.location(code="SERIAL", name="x")
        _committed(uow_factory, "locations", location)
        workers = 6

        def append(_: int) -> None:
            with uow_factory() as uow:
                locked = uow.locations.get_for_update(location.id)
                assert locked is not None
                locked.name += "x"
                uow.commit()

        _race(append, range(workers))
        with uow_factory() as uow:
            stored = uow.locations.get(location.id)
            assert stored is not None
            assert stored.name == "x" * (workers + 1)

    @pytest.mark.parametrize(
        ("kind", "everything", "active"),
        [
            ("products", ProductFilter(), ProductFilter(only_active=True)),
            ("suppliers", SupplierFilter(), SupplierFilter(only_active=True)),
        ],
    )
    def test_list_newest_first_and_can_skip_inactive(
        self, uow_factory: UnitOfWorkFactory, make: Builder, kind: str, everything: Any, active: Any
    ) -> None:
        build = self._builders(make)[kind]
        items = [
            build(code=code, is_active=code != "A", created_at=T0 + timedelta(minutes=n))
            for n, code in enumerate("CAB")
        ]
        with uow_factory() as uow:
            for item in items:
                getattr(uow, kind).add(item)
            uow.commit()
        with uow_factory() as uow:
            repo = getattr(uow, kind)
            assert [i.code for i in repo.list(everything, PageRequest())] == ["B", "A", "C"]
            assert [i.code for i in repo.list(active, PageRequest())] == ["B", "C"]

    def test_changed_products_and_suppliers_are_saved_with_their_unit_of_work(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """What the catalog service changes (name, contact, kind, links, deactivation)
        is written by the commit, and only by it.

        .. versionadded:: 0.3
        """
        supplier, location = make.supplier(), make.location()
        product = make.product(supplier_id=supplier.id)
        with uow_factory() as uow:
            uow.suppliers.add(supplier)
            uow.locations.add(location)
            uow.products.add(product)
            uow.commit()

        def change(uow: UnitOfWork) -> tuple[Supplier, Product]:
            found, offered = uow.suppliers.get(supplier.id), uow.products.get(product.id)
            assert found is not None
            assert offered is not None
            found.name = "Lakeside Hotel"
            found.email = EmailAddress.parse("desk@lakeside.example")
            found.phone = PhoneNumber.parse("+919876543210")
            found.is_active = False
            offered.kind = ProductKind.HOTEL
            offered.description = "Lake view, two nights"
            offered.location_id = location.id
            offered.is_active = False
            return found, offered

        with uow_factory() as uow:
            change(uow)
            uow.rollback()
        with uow_factory() as uow:
            assert uow.suppliers.get(supplier.id) == supplier
            assert uow.products.get(product.id) == product
            changed = change(uow)
            uow.commit()
        with uow_factory() as uow:
            assert (uow.suppliers.get(supplier.id), uow.products.get(product.id)) == changed
            assert list(uow.suppliers.list(SupplierFilter(only_active=True), PageRequest())) == []
            assert list(uow.products.list(ProductFilter(only_active=True), PageRequest())) == []

    @pytest.mark.parametrize(
        ("field", "kept", "changed"),
        [
            pytest.param(
                "cancellation_policy",
                CancellationPolicy(
                    self_service_until=timedelta(hours=48),
                    refund_tiers=(
                        RefundTier(timedelta(days=14), Decimal(100)),
                        RefundTier(timedelta(days=2, seconds=1), Decimal("12.5")),
                        RefundTier(timedelta(0), Decimal(0)),
                    ),
                ),
                CancellationPolicy(refund_tiers=[RefundTier(timedelta(0), Decimal(0))]),
                id="cancellation_policy",
            ),
            pytest.param(
                "requirements",
                ProductRequirements(
                    min_age=10, max_age=60, certificates=("PADI Open Water", "Nitrox ß")
                ),
                ProductRequirements(
                    certificates=["PADI Advanced Open Water", "SSI Advanced Adventurer"],
                    certificates_rule=CertificateRule.ANY,
                ),
                id="requirements",
            ),
        ],
    )
    def test_a_product_s_policy_and_requirements_are_kept_changed_and_cleared(
        self, uow_factory: UnitOfWorkFactory, make: Builder, field: str, kept: Any, changed: Any
    ) -> None:
        """``Product.cancellation_policy`` (tiers, percents with decimals, durations to
        the second) and ``Product.requirements`` (ages, kinds in order, the rule) read
        back equal, change and clear with the unit of work; a product without one
        reads back None.

        .. versionadded:: 0.4
        """
        course, dives = make.product(**{field: kept}), make.product()
        _commit_all(uow_factory, "products", (course, dives))
        with uow_factory() as uow:
            found, plain = uow.products.get(course.id), uow.products.get(dives.id)
            assert found is not None
            assert plain is not None
            assert (getattr(found, field), getattr(plain, field)) == (kept, None)
            setattr(found, field, None)
            setattr(plain, field, changed)
            uow.commit()
        with uow_factory() as uow:
            assert getattr(uow.products.get(course.id), field) is None
            assert getattr(uow.products.get(dives.id), field) == changed
            listed = uow.products.list(ProductFilter(), PageRequest())
            assert {p.id: getattr(p, field) for p in listed} == {course.id: None, dives.id: changed}

    def test_pages_walk_every_matching_supplier_and_product_once_newest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """Suppliers and products list newest first a keyset page at a time; text is
        found case-insensitively in any of the fields; a product of a deactivated
        supplier is inactive.

        .. versionadded:: 0.3
        """
        # Pairs share a creation time so the id must break ties.
        suppliers = [
            make.supplier(
                name=("Lakeside Hotel", "Jeep Safaris")[n % 2],
                is_active=n != 3,
                created_at=T0 + timedelta(minutes=n // 2),
            )
            for n in range(6)
        ]
        location = make.location()
        products = [
            make.product(
                name=("Rafting on the Indus", "Lake LODGE stay")[n % 2],
                kind=(ProductKind.ACTIVITY, ProductKind.HOTEL)[n % 2],
                supplier_id=suppliers[n % 6].id if n % 4 else None,
                location_id=location.id if n % 3 == 0 else None,
                is_active=n != 7,
                created_at=T0 + timedelta(minutes=n // 2),
            )
            for n in range(13)
        ]
        with uow_factory() as uow:
            uow.locations.add(location)
            for supplier in suppliers:
                uow.suppliers.add(supplier)
            for product in products:
                uow.products.add(product)
            uow.commit()
        inactive = {s.id for s in suppliers if not s.is_active}

        supplier_queries = [
            SupplierFilter(),
            SupplierFilter(only_active=True),
            SupplierFilter(text="jeep"),
            SupplierFilter(text="SUP", only_active=True),
        ]

        def products_walk(query: ProductFilter) -> None:
            expected = [
                p
                for p in products
                if query.matches(p, supplier_active=p.supplier_id not in inactive)
            ]
            assert expected, query
            assert_pages_walk(
                uow_factory, lambda uow, page: uow.products.list(query, page), expected, label=query
            )

        _assert_each_filter_walks(
            uow_factory,
            lambda query, uow, page: uow.suppliers.list(query, page),
            suppliers,
            supplier_queries,
            limits=(1, 2, 4),
        )
        product_queries = [
            ProductFilter(),
            ProductFilter(only_active=True),
            ProductFilter(kind=ProductKind.HOTEL, text="lodge"),
            ProductFilter(location_id=location.id, only_active=True),
            ProductFilter(supplier_id=suppliers[1].id),
            ProductFilter(text="INDUS", only_active=True),
        ]
        for pquery in product_queries:
            products_walk(pquery)
        with uow_factory() as uow:
            active = uow.products.list(ProductFilter(only_active=True), PageRequest(limit=200))
            assert not {p.supplier_id for p in active} & inactive
            assert all(p.is_active for p in active)


class SlotRepositoryContract(_Base):
    """Slots: exact money and tiers, filters by place, time, activity and room.

    .. versionadded:: 0.1
    """

    @requires("interleaved_units_of_work")
    def test_locking_a_slot_read_before_brings_it_up_to_date(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        # Read, then locked after another unit of work held seats: the lock answers the
        # seats held now (the same object), and holding more is stored, not stale.
        slot = _store_slot(uow_factory, make)
        with uow_factory() as late:
            read = late.slots.get(slot.id)
            assert read is not None
            with uow_factory() as early:
                theirs = early.slots.get_for_update(slot.id)
                assert theirs is not None
                theirs.hold(2)
                early.commit()
            locked = late.slots.get_for_update(slot.id)
            assert locked is read
            assert (locked.seats_held, locked.version) == (2, slot.version + 1)
            locked.hold(1)
            late.commit()
        with uow_factory() as uow:
            stored = uow.slots.get(slot.id)
            assert stored is not None
            assert (stored.seats_held, stored.version) == (3, slot.version + 2)

    def test_list_filters_by_location_window_activity_and_room(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        here, there = make.location(), make.location()
        day = timedelta(days=1)
        early = make.slot(here.id, starts_at=T0 + day)
        full = make.slot(here.id, starts_at=T0 + 2 * day, capacity=2, seats_held=2)
        closed = make.slot(here.id, starts_at=T0 + 3 * day, is_active=False)
        unlimited = make.slot(there.id, starts_at=T0 + 4 * day, capacity=None, seats_held=40)
        with uow_factory() as uow:
            uow.locations.add(here)
            uow.locations.add(there)
            for slot in (unlimited, closed, full, early):
                uow.slots.add(slot)
            uow.commit()

        def ids(query: SlotFilter) -> list[Any]:
            with uow_factory() as uow:
                return [s.id for s in uow.slots.list(query, PageRequest())]

        assert ids(SlotFilter()) == [early.id, full.id, unlimited.id]
        assert ids(SlotFilter(only_active=False)) == [early.id, full.id, closed.id, unlimited.id]
        assert ids(SlotFilter(location_id=here.id)) == [early.id, full.id]
        assert ids(SlotFilter(location_ids=[there.id])) == [unlimited.id]
        assert ids(SlotFilter(only_available=True)) == [early.id, unlimited.id]
        assert ids(SlotFilter(starts_from=T0 + 2 * day, starts_before=T0 + 4 * day)) == [full.id]
        with uow_factory() as uow:
            assert uow.slots.get(unlimited.id) == unlimited

    def test_pages_walk_every_matching_slot_once_earliest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """Slots list earliest start first a keyset page at a time (availability);
        slots starting together are ordered by id; filters hold on every page.

        .. versionadded:: 0.3
        """
        here, there = make.location(), make.location()
        day = timedelta(days=1)
        # Pairs share a start so the id must break ties.
        slots = [
            make.slot(
                (here, there)[n % 3 == 0].id,
                starts_at=T0 + (n // 2) * day,
                is_active=n != 5,
                capacity=1 if n % 4 == 1 else 10,
                seats_held=1 if n % 4 == 1 else 0,
            )
            for n in range(13)
        ]
        with uow_factory() as uow:
            uow.locations.add(here)
            uow.locations.add(there)
            for slot in slots:
                uow.slots.add(slot)
            uow.commit()

        def walks(query: SlotFilter) -> None:
            expected = sorted(
                (s for s in slots if query.matches(s)), key=lambda s: (s.starts_at, s.id.bytes)
            )
            assert expected, query
            for limit in (1, 2, 5, len(expected)):
                with uow_factory() as uow:
                    seen = walk_pages(partial(uow.slots.list, query), limit=limit)
                assert [s.id for s in seen] == [s.id for s in expected], (query, limit)
            with uow_factory() as uow:
                whole = uow.slots.list(query, PageRequest(limit=len(expected)))
            assert whole.next_cursor is None, query

        for query in (
            SlotFilter(),
            SlotFilter(only_active=False),
            SlotFilter(location_id=here.id, only_available=True),
            SlotFilter(location_ids=[there.id], starts_from=T0 + day),
            SlotFilter(starts_from=T0 + 2 * day, starts_before=T0 + 5 * day),
        ):
            walks(query)

    def test_find_at_matches_exact_location_and_start_pairs(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        here, there = make.location(), make.location()
        at = T0 + timedelta(days=3, hours=10, minutes=30)
        mine = make.slot(here.id, starts_at=at)
        closed = make.slot(here.id, starts_at=at, is_active=False)
        elsewhere = make.slot(there.id, starts_at=at)
        later = make.slot(here.id, starts_at=at + timedelta(microseconds=1))
        with uow_factory() as uow:
            uow.locations.add(here)
            uow.locations.add(there)
            for slot in (mine, closed, elsewhere, later):
                uow.slots.add(slot)
            uow.commit()
        with uow_factory() as uow:
            found = uow.slots.find_at([(here.id, at), (there.id, at + timedelta(hours=1))])
            assert {s.id for s in found} == {mine.id, closed.id}
            added = make.slot(there.id, starts_at=at + timedelta(hours=1))
            uow.slots.add(added)
            found = uow.slots.find_at([(there.id, at + timedelta(hours=1))])
            assert [s.id for s in found] == [added.id]
            assert list(uow.slots.find_at([])) == []

    def test_find_exact_matches_location_product_and_start(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        here = make.location()
        car, van = make.product(), make.product()
        at = T0 + timedelta(days=3, hours=9)
        cars = make.slot(here.id, starts_at=at, product_id=car.id)
        vans = make.slot(here.id, starts_at=at, product_id=van.id)
        plain = make.slot(here.id, starts_at=at)
        later = make.slot(here.id, starts_at=at + timedelta(hours=1), product_id=car.id)
        with uow_factory() as uow:
            uow.locations.add(here)
            uow.products.add(car)
            uow.products.add(van)
            for slot in (cars, vans, plain, later):
                uow.slots.add(slot)
            uow.commit()
        with uow_factory() as uow:
            found = uow.slots.find_exact([(here.id, car.id, at)])
            assert [s.id for s in found] == [cars.id]
            found = uow.slots.find_exact([(here.id, None, at), (here.id, van.id, at)])
            assert {s.id for s in found} == {plain.id, vans.id}
            found = uow.slots.find_exact([(here.id, car.id, at + timedelta(hours=1))])
            assert [s.id for s in found] == [later.id]
            added = make.slot(here.id, starts_at=at + timedelta(hours=2), product_id=van.id)
            uow.slots.add(added)
            wanted = [(here.id, van.id, at + timedelta(hours=2)), (here.id, car.id, at)]
            assert [s.id for s in uow.slots.find_exact(wanted)] == [cars.id, added.id]
            assert list(uow.slots.find_exact([])) == []


class BookingRepositoryContract(_Base):
    """Bookings: unique keys, look-ups, every filter, and keyset pages.

    .. versionadded:: 0.1
    """

    def _world(self, uow: UnitOfWork, make: Builder) -> tuple[Customer, Any, Any]:
        location = make.location()
        slot = make.slot(location.id)
        customer = make.customer(name="Kiran Desai", email=EmailAddress("kiran@example.com"))
        uow.locations.add(location)
        uow.slots.add(slot)
        uow.customers.add(customer)
        return customer, slot, location

    def test_a_booking_reads_back_equal_through_every_lookup(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        with uow_factory() as uow:
            customer, slot, _ = self._world(uow, make)
            travelers = [make.traveler(customer.id) for _ in range(3)]
            for traveler in travelers:
                uow.travelers.add(traveler)
            booking = make.booking(
                customer.id,
                slot,
                [t.id for t in travelers],
                idempotency_key="key-1",
                external_id="EXT-1",
                metadata={"campaign": "diwali"},
            )
            uow.bookings.add(booking)
            uow.commit()
        with uow_factory() as uow:
            assert uow.bookings.get(booking.id) == booking
            assert uow.bookings.get_by_reference(booking.reference) == booking
            assert uow.bookings.get_by_idempotency_key("key-1") == booking
            assert uow.bookings.get_by_external_id("EXT-1") == booking
            assert uow.bookings.get_by_external_id("EXT-2") is None
            assert list(uow.bookings.list_for_customer_slot(customer.id, slot.id)) == [booking]

    @pytest.mark.parametrize("key", ["reference", "idempotency_key", "external_id"])
    def test_reference_idempotency_key_and_external_id_are_unique(
        self, uow_factory: UnitOfWorkFactory, make: Builder, key: str
    ) -> None:
        with uow_factory() as uow:
            customer, slot, _ = self._world(uow, make)
            traveler = make.traveler(customer.id)
            uow.travelers.add(traveler)
            uow.bookings.add(make.booking(customer.id, slot, [traveler.id], **{key: "SAME-1"}))
            uow.commit()
        _assert_duplicate(
            uow_factory,
            "bookings",
            make.booking(customer.id, slot, [traveler.id], **{key: "SAME-1"}),
        )

    def test_list_applies_every_filter(self, uow_factory: UnitOfWorkFactory, make: Builder) -> None:
        partner = make.partner()
        advisor = StaffId(make.customer().id)
        group = BookingGroupId(uuid4())
        with uow_factory() as uow:
            uow.partners.add(partner)
            customer, slot, location = self._world(uow, make)
            other_location = make.location()
            later = make.slot(other_location.id, starts_at=slot.starts_at + timedelta(days=30))
            stranger = make.customer(name="Zoya Khan")
            uow.locations.add(other_location)
            uow.slots.add(later)
            uow.customers.add(stranger)
            t1, t2 = make.traveler(customer.id), make.traveler(stranger.id)
            uow.travelers.add(t1)
            uow.travelers.add(t2)
            mine = make.booking(customer.id, slot, [t1.id], external_id="OTA-778")
            via_partner = make.booking(
                stranger.id,
                later,
                [t2.id],
                source=BookingSource.PARTNER,
                partner_id=partner.id,
                status="confirmed",
                created_at=T0 + timedelta(hours=1),
                assignee_id=advisor,
                group_id=group,
            )
            cancelled = make.booking(
                customer.id, later, [t1.id], status="cancelled", created_at=T0 + timedelta(hours=2)
            )
            for booking in (mine, via_partner, cancelled):
                uow.bookings.add(booking)
            uow.commit()

        def ids(query: BookingFilter) -> set[Any]:
            with uow_factory() as uow:
                return {b.id for b in uow.bookings.list(query, PageRequest()).items}

        everyone = {mine.id, via_partner.id, cancelled.id}
        assert ids(BookingFilter()) == everyone
        assert ids(BookingFilter(statuses=["pending", "confirmed"])) == {mine.id, via_partner.id}
        assert ids(BookingFilter(sources=[BookingSource.PARTNER])) == {via_partner.id}
        assert ids(BookingFilter(partner_id=partner.id)) == {via_partner.id}
        assert ids(BookingFilter(partner_id=PartnerId(make.partner().id))) == set()
        assert ids(BookingFilter(customer_id=customer.id)) == {mine.id, cancelled.id}
        assert ids(BookingFilter(location_id=location.id)) == {mine.id}
        assert ids(BookingFilter(slot_id=later.id)) == {via_partner.id, cancelled.id}
        assert ids(BookingFilter(assignee_id=advisor)) == {via_partner.id}
        assert ids(BookingFilter(group_id=group)) == {via_partner.id}
        assert ids(BookingFilter(group_id=BookingGroupId(uuid4()))) == set()
        assert ids(BookingFilter(starts_from=later.starts_at)) == {via_partner.id, cancelled.id}
        assert ids(BookingFilter(starts_before=later.starts_at)) == {mine.id}
        assert ids(BookingFilter(created_from=T0 + timedelta(hours=1))) == {
            via_partner.id,
            cancelled.id,
        }
        assert ids(BookingFilter(created_before=T0 + timedelta(hours=1))) == {mine.id}
        assert ids(BookingFilter(text="zoya")) == {via_partner.id}
        assert ids(BookingFilter(text="KIRAN@example")) == {mine.id, cancelled.id}
        assert ids(BookingFilter(text=stranger.phone.e164[-7:])) == {via_partner.id}
        assert ids(BookingFilter(text=mine.reference.lower())) == {mine.id}
        assert ids(BookingFilter(text="ota-778")) == {mine.id}

    def test_each_travelers_attendance_reads_back_and_changes_with_the_booking(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """Attendance marked on a locked booking is stored with it, per traveler, and
        read back equal: what, when, by whom, the note; an unmarked traveler has none.

        .. versionadded:: 0.4
        """
        with uow_factory() as uow:
            customer, slot, _ = self._world(uow, make)
            travelers = [make.traveler(customer.id) for _ in range(3)]
            for traveler in travelers:
                uow.travelers.add(traveler)
            booking = make.booking(customer.id, slot, [t.id for t in travelers])
            uow.bookings.add(booking)
            uow.commit()
        staff = Actor(ActorKind.STAFF, str(uuid4()))
        marked_at = slot.starts_at + timedelta(minutes=20)
        with uow_factory() as uow:
            locked = uow.bookings.get_for_update(booking.id)
            assert locked is not None
            marks = {
                travelers[0].id: AttendanceMark(Attendance.ATTENDED),
                travelers[2].id: AttendanceMark(Attendance.NO_SHOW, "phone switched off"),
            }
            locked.record_attendance(
                marks, lifecycle=RESERVATION, author=Author(staff, marked_at, uuid4)
            )
            uow.commit()
        with uow_factory() as uow:
            stored = uow.bookings.get(booking.id)
        assert stored == locked
        assert stored.version == booking.version + 1
        first, second, third = stored.travelers
        assert first.attendance is not None
        assert (first.attendance.status, first.attendance.recorded_by) == (
            Attendance.ATTENDED,
            staff,
        )
        assert first.attendance.recorded_at == marked_at
        assert second.attendance is None
        assert third.attendance is not None
        assert (third.attendance.status, third.attendance.note) == (
            Attendance.NO_SHOW,
            "phone switched off",
        )

    def test_archived_bookings_are_listed_only_when_asked_for(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """A booking archived in one unit of work reads back archived; every filtered
        query leaves it out unless ``include_archived`` (both) or ``only_archived``
        (it alone), and the tallies count it only when asked too; unarchived, it is
        live again.

        .. versionadded:: 0.4
        """
        with uow_factory() as uow:
            customer, slot, _ = self._world(uow, make)
            traveler = make.traveler(customer.id)
            uow.travelers.add(traveler)
            live = make.booking(customer.id, slot, [traveler.id], status="completed")
            old = make.booking(
                customer.id,
                slot,
                [traveler.id],
                status="cancelled",
                created_at=T0 + timedelta(hours=1),
            )
            uow.bookings.add(live)
            uow.bookings.add(old)
            uow.commit()
        archived_at = T0 + timedelta(days=400)
        staff = Actor(ActorKind.STAFF, str(uuid4()))
        with uow_factory() as uow:
            locked = uow.bookings.get_for_update(old.id)
            assert locked is not None
            assert locked.archive(author=Author(staff, archived_at, uuid4)) is not None
            uow.commit()
        with uow_factory() as uow:
            stored = uow.bookings.get(old.id)
            assert stored is not None
            assert stored.archived_at == archived_at
            assert stored.version == old.version + 1

        def ids(query: BookingFilter) -> set[Any]:
            with uow_factory() as uow:
                return {b.id for b in uow.bookings.list(query, PageRequest()).items}

        mine = BookingFilter(customer_id=customer.id)
        assert ids(mine) == {live.id}
        assert ids(attrs.evolve(mine, include_archived=True)) == {live.id, old.id}
        assert ids(attrs.evolve(mine, only_archived=True)) == {old.id}
        assert ids(BookingFilter(text=old.reference)) == set()
        assert ids(BookingFilter(text=old.reference, include_archived=True)) == {old.id}
        statuses = StatusSet({"completed", "cancelled"})
        with uow_factory() as uow:
            (counted,) = uow.bookings.count_in(mine, Grouping.NONE, [statuses])
            (everything,) = uow.bookings.count_in(
                attrs.evolve(mine, include_archived=True), Grouping.NONE, [statuses]
            )
        assert (counted.bookings, everything.bookings) == (1, 2)
        with uow_factory() as uow:
            again = uow.bookings.get_for_update(old.id)
            assert again is not None
            assert again.unarchive(author=Author(staff, archived_at, uuid4)) is not None
            uow.commit()
        assert ids(mine) == {live.id, old.id}

    def test_bookings_to_archive_are_live_final_and_started_before_the_cutoff(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """:meth:`list_to_archive` gives live bookings in the asked statuses whose slot
        started before the cutoff, earliest start first, ``limit`` at a time, after a
        cursor; an archived booking, a later slot or another status is never given.

        .. versionadded:: 0.4
        """
        with uow_factory() as uow:
            customer, slot, location = self._world(uow, make)
            later = make.slot(location.id, starts_at=slot.starts_at + timedelta(days=10))
            uow.slots.add(later)
            traveler = make.traveler(customer.id)
            uow.travelers.add(traveler)
            first = make.booking(customer.id, slot, [traveler.id], status="completed")
            second = make.booking(customer.id, slot, [traveler.id], status="cancelled")
            pending = make.booking(customer.id, slot, [traveler.id], status="pending")
            recent = make.booking(customer.id, later, [traveler.id], status="completed")
            gone = make.booking(customer.id, slot, [traveler.id], status="completed")
            gone.archived_at = T0
            for booking in (first, second, pending, recent, gone):
                uow.bookings.add(booking)
            uow.commit()
        final = StatusSet(pairs={("reservation", "completed"), ("reservation", "cancelled")})
        cutoff = slot.starts_at + timedelta(days=1)
        in_order = sorted([first, second], key=lambda b: (b.starts_at, b.id.bytes))
        with uow_factory() as uow:
            found = uow.bookings.list_to_archive(cutoff, final, limit=10)
            assert [b.id for b in found] == [b.id for b in in_order]
            one = uow.bookings.list_to_archive(cutoff, final, limit=1)
            assert [b.id for b in one] == [in_order[0].id]
            rest = uow.bookings.list_to_archive(
                cutoff, final, limit=10, after=Cursor(one[0].starts_at, one[0].id)
            )
            assert [b.id for b in rest] == [in_order[1].id]
            everyone = uow.bookings.list_to_archive(later.starts_at + timedelta(1), final, limit=9)
            assert {b.id for b in everyone} == {first.id, second.id, recent.id}
            assert uow.bookings.list_to_archive(slot.starts_at, final, limit=10) == []

    def test_bookings_by_start_are_the_earliest_departures_in_the_statuses_given(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """:meth:`list_by_start` gives the first ``limit`` bookings matching the filter
        and in the status set by ``(starts_at, id)``, whenever they were made: a status
        named in one lifecycle only (a pair) is matched with its lifecycle; archived
        bookings and uncommitted additions follow the filter as in :meth:`list`.

        .. versionadded:: 0.4
        """
        with uow_factory() as uow:
            customer, slot, location = self._world(uow, make)
            later = make.slot(location.id, starts_at=slot.starts_at + timedelta(days=10))
            uow.slots.add(later)
            traveler = make.traveler(customer.id)
            uow.travelers.add(traveler)

            def made(on: Any, minutes: int, **fields: Any) -> Booking:
                return make.booking(
                    customer.id,
                    on,
                    [traveler.id],
                    created_at=T0 + timedelta(minutes=minutes),
                    **fields,
                )

            late = [made(later, 100 + n, lifecycle="travel", status="completed") for n in range(3)]
            early = [made(slot, n, status="pending") for n in range(3)]
            ended = made(slot, 200, status="completed")
            gone = made(slot, 201, status="pending")
            gone.archived_at = T0
            for booking in (*late, *early, ended, gone):
                uow.bookings.add(booking)
            uow.commit()
        wanted = StatusSet({"pending"}, {("travel", "completed")})

        def order(found: Iterable[Booking]) -> list[Any]:
            return [b.id for b in sorted(found, key=lambda b: (b.starts_at, b.id.bytes))]

        with uow_factory() as uow:
            found = uow.bookings.list_by_start(BookingFilter(), wanted, limit=10)
            assert [b.id for b in found] == order([*early, *late])
            first = uow.bookings.list_by_start(BookingFilter(), wanted, limit=4)
            assert [b.id for b in first] == order([*early, *late])[:4]
            after = BookingFilter(starts_from=later.starts_at)
            assert [b.id for b in uow.bookings.list_by_start(after, wanted, limit=10)] == order(
                late
            )
            archived = BookingFilter(include_archived=True, starts_before=later.starts_at)
            assert [b.id for b in uow.bookings.list_by_start(archived, wanted, limit=10)] == order(
                [*early, gone]
            )
            assert uow.bookings.list_by_start(BookingFilter(), StatusSet(), limit=10) == []
            added = made(slot, 300, status="pending", starts_at=slot.starts_at - timedelta(1))
            uow.bookings.add(added)
            mine = uow.bookings.list_by_start(BookingFilter(), wanted, limit=2)
            assert [b.id for b in mine] == [added.id, order(early)[0]]

    def test_pages_walk_every_booking_once_newest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        with uow_factory() as uow:
            customer, slot, _ = self._world(uow, make)
            traveler = make.traveler(customer.id)
            uow.travelers.add(traveler)
            bookings = [
                make.booking(
                    customer.id, slot, [traveler.id], created_at=T0 + timedelta(seconds=i // 3)
                )
                for i in range(13)
            ]
            for booking in bookings:
                uow.bookings.add(booking)
            uow.commit()
        assert_pages_walk(
            uow_factory,
            lambda uow, page: uow.bookings.list(BookingFilter(), page),
            bookings,
            limits=(1, 4),
        )


class PartnerRepositoryContract(_Base):
    """Partners: unique API key and contact email, lists by name.

    Contact emails match by :attr:`~bookingcore.domain.EmailAddress.match_key`:
    found (``PartnerFilter.contact_email``) and unique without regard to case,
    stored as given.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4
       Contact emails match without regard to case, local part included.
    """

    def test_contact_emails_match_without_regard_to_case_and_keep_their_spelling(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        ops = make.partner(contact_email=EmailAddress("Ops@Agency.example"))
        other = make.partner(contact_email=EmailAddress("ops.desk@agency.example"))
        _commit_all(uow_factory, "partners", [ops, other])

        def by_email(address: str) -> list[Partner]:
            query = PartnerFilter(contact_email=EmailAddress(address))
            with uow_factory() as uow:
                return list(uow.partners.list(query, PageRequest()))

        found = by_email("ops@agency.example")
        assert [p.id for p in found] == [ops.id]
        assert found[0].contact_email.value == "Ops@agency.example"  # as given (domain normalised)
        assert [p.id for p in by_email("OPS@AGENCY.EXAMPLE")] == [ops.id]
        assert by_email("ops2@agency.example") == []
        clash = _assert_duplicate(
            uow_factory, "partners", make.partner(contact_email=EmailAddress("oPs@agency.example"))
        )
        assert clash.entity == "partner"
        with uow_factory() as uow:
            listed = uow.partners.list(PartnerFilter(), PageRequest())
            assert sorted(p.contact_email.value for p in listed) == [
                "Ops@agency.example",
                "ops.desk@agency.example",
            ]
        with uow_factory() as uow:  # its own address in another case is no clash
            stored = uow.partners.get(ops.id)
            assert stored is not None
            stored.contact_email = EmailAddress("OPS@agency.example")
            stored.version += 1
            uow.commit()
        assert [p.contact_email.value for p in by_email("ops@agency.example")] == [
            "OPS@agency.example"
        ]

    def test_get_many_reads_several_partners_by_id_in_one_call(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        partners = [make.partner() for _ in range(3)]
        _commit_all(uow_factory, "partners", partners)
        with uow_factory() as uow:
            missing = PartnerId(uuid4())
            found = uow.partners.get_many([partners[0].id, partners[2].id, missing])
            assert found == {partners[0].id: partners[0], partners[2].id: partners[2]}
            assert uow.partners.get_many([]) == {}
            fresh = make.partner()
            uow.partners.add(fresh)
            assert uow.partners.get_many([fresh.id, fresh.id]) == {fresh.id: fresh}

    def test_lookup_by_api_key_and_unique_keys(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        location = make.location()
        partner = make.partner(allowed_location_ids={location.id})
        with uow_factory() as uow:
            uow.locations.add(location)
            uow.partners.add(partner)
            uow.commit()
        with uow_factory() as uow:
            assert uow.partners.get_by_api_key(partner.api_key) == partner
            assert uow.partners.get(partner.id) == partner
            assert uow.partners.get_by_api_key("pk_nobody") is None
        for clash in (
            make.partner(api_key=partner.api_key),
            make.partner(contact_email=partner.contact_email),
        ):
            _assert_duplicate(uow_factory, "partners", clash)

    def test_credentials_and_settings_round_trip_and_rotations_are_saved(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        first_hash, second_hash = ("sha256$" + c * 64 for c in "ab")
        first_signing, second_signing = ("whsec_" + uuid4().hex for _ in range(2))
        partner = make.partner(
            api_secret_hash=first_hash,
            api_secret_last4=first_hash[-4:],
            webhook_url="https://partner.example/hooks",
            webhook_secret=first_signing,
            settings={"rate_limit": "120/60", "allowed_ips": "203.0.113.0/24"},
        )
        _committed(uow_factory, "partners", partner)
        with uow_factory() as uow:
            stored = uow.partners.get_by_api_key(partner.api_key)
            assert stored == partner
            assert stored is not None
            stored.api_secret_hash = second_hash
            stored.api_secret_last4 = second_hash[-4:]
            stored.webhook_secret = second_signing
            stored.settings = {"rate_limit": "10"}
            stored.is_active = False
            stored.version += 1
            uow.commit()
        with uow_factory() as uow:
            rotated = uow.partners.get_by_api_key(partner.api_key)
        assert rotated is not None
        assert rotated.id == partner.id
        assert (rotated.api_secret_hash, rotated.api_secret_last4) == (second_hash, "bbbb")
        assert rotated.webhook_secret == second_signing
        assert rotated.settings == {"rate_limit": "10"}
        assert not rotated.is_active
        assert rotated.version == partner.version + 1

    def test_secrets_kept_through_a_grace_period_round_trip_and_are_dropped(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """A rotated secret kept for a grace period is stored with its expiry, and a
        later rotation without one clears it.

        .. versionadded:: 0.4
        """
        kept_hash = "sha256$" + "c" * 64
        kept_signing = "whsec_" + uuid4().hex
        partner = make.partner(webhook_url="https://partner.example/hooks")
        assert partner.previous_api_secret_hash is None
        _committed(uow_factory, "partners", partner)
        with uow_factory() as uow:
            stored = uow.partners.get(partner.id)
            assert stored == partner
            assert stored is not None
            stored.previous_api_secret_hash = kept_hash
            stored.previous_api_secret_expires_at = T0 + timedelta(hours=1, microseconds=5)
            stored.previous_webhook_secret = kept_signing
            stored.previous_webhook_secret_expires_at = T0 + timedelta(days=7)
            stored.version += 1
            uow.commit()
        with uow_factory() as uow:
            kept = uow.partners.get_by_api_key(partner.api_key)
            assert kept is not None
            assert kept.previous_api_secret_hash == kept_hash
            assert kept.previous_api_secret_expires_at == T0 + timedelta(hours=1, microseconds=5)
            assert kept.previous_webhook_secret == kept_signing
            assert kept.previous_webhook_secret_expires_at == T0 + timedelta(days=7)
            kept.previous_api_secret_hash = kept.previous_api_secret_expires_at = None
            kept.previous_webhook_secret = kept.previous_webhook_secret_expires_at = None
            kept.version += 1
            uow.commit()
        with uow_factory() as uow:
            assert uow.partners.get(partner.id) == attrs.evolve(
                partner, version=partner.version + 2
            )

    def test_pages_walk_every_matching_partner_once_newest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """Partners list newest first a keyset page at a time; text is found
        case-insensitively in the name, company or email; one contact email finds
        its partner; inactive partners can be left out.

        .. versionadded:: 0.3
        """
        # Pairs share a creation time so the id must break ties.
        partners = [
            make.partner(
                name=("Zest Holidays", "Atlas Tours", "Mango Trips")[n % 3],
                is_active=n % 4 != 1,
                created_at=T0 + timedelta(minutes=n // 2),
            )
            for n in range(11)
        ]
        _commit_all(uow_factory, "partners", partners)

        queries = [
            PartnerFilter(),
            PartnerFilter(only_active=True),
            PartnerFilter(text="atlas"),
            PartnerFilter(text="MANGO trips", only_active=True),
            PartnerFilter(text="@PARTNER.example"),
            PartnerFilter(contact_email=partners[5].contact_email),
        ]
        _assert_each_filter_walks(
            uow_factory, lambda query, uow, page: uow.partners.list(query, page), partners, queries
        )
        with uow_factory() as uow:
            active = uow.partners.list(PartnerFilter(only_active=True), PageRequest(limit=50))
            assert all(p.is_active for p in active)
            unknown = PartnerFilter(contact_email=EmailAddress("nobody@partner.example"))
            assert list(uow.partners.list(unknown, PageRequest())) == []


def _stored_bookings(uow_factory: UnitOfWorkFactory, make: Builder, count: int) -> list[Booking]:
    """Commit a location, slot, customer (Mira Shah), traveler and ``count`` bookings of
    the traveler on the slot; return the bookings."""
    location = make.location()
    slot = make.slot(location.id)
    customer = make.customer(name="Mira Shah", email=EmailAddress("mira@example.com"))
    traveler = make.traveler(customer.id)
    bookings = [make.booking(customer.id, slot, [traveler.id]) for _ in range(count)]
    with uow_factory() as uow:
        uow.locations.add(location)
        uow.slots.add(slot)
        uow.customers.add(customer)
        uow.travelers.add(traveler)
        for booking in bookings:
            uow.bookings.add(booking)
        uow.commit()
    return bookings


def _stored_booking(uow_factory: UnitOfWorkFactory, make: Builder) -> Booking:
    """Commit a location, slot, customer, traveler and booking; return the booking."""
    (booking,) = _stored_bookings(uow_factory, make, 1)
    return booking


def _move(booking: Booking, version: int, to: str, **fields: Any) -> LifecycleEvent:
    return LifecycleEvent(
        id=uuid4(),
        booking_id=booking.id,
        booking_version=version,
        lifecycle=booking.lifecycle,
        from_status=fields.pop("from_status", "pending"),
        to_status=to,
        actor=Actor.system("contract"),
        occurred_at=T0 + timedelta(minutes=version),
        **fields,
    )


class HistoryRepositoryContract(_Base):
    """Lifecycle events and audit entries: append-only, ordered, unique keys.

    .. versionadded:: 0.1
    """

    def test_lifecycle_events_read_back_in_version_order(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        created = _move(booking, 1, "pending", from_status=None)
        confirmed = _move(
            booking,
            2,
            "confirmed",
            note="paid at the desk",
            idempotency_key="move-1",
            request_fingerprint="f" * 64,
            metadata={"channel": "desk"},
        )
        with uow_factory() as uow:
            uow.lifecycle_events.add(confirmed)
            uow.lifecycle_events.add(created)
            uow.commit()
        with uow_factory() as uow:
            assert list(uow.lifecycle_events.list_for_booking(booking.id)) == [created, confirmed]
            assert uow.lifecycle_events.get_by_idempotency_key("move-1") == confirmed
            assert uow.lifecycle_events.get_by_idempotency_key("move-2") is None

    def test_an_erased_lifecycle_event_and_audit_reason_are_stored_on_commit(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        moved = _move(
            booking,
            2,
            "cancelled",
            note="Asha fell ill",
            metadata={"payment_id": "p-1", "pickup": "Asha's hotel"},
        )
        entry = AuditEntry(
            id=uuid4(),
            entity="booking",
            entity_id=booking.id,
            action=AuditAction.STATUS_CHANGED,
            actor=Actor.system("contract"),
            occurred_at=make.now,
            old_values={"status": "pending"},
            new_values={"status": "cancelled"},
            reason="Asha fell ill",
            booking_id=booking.id,
        )
        with uow_factory() as uow:
            uow.lifecycle_events.add(moved)
            uow.audit.add(entry)
            uow.commit()
        with uow_factory() as uow:
            (event,) = uow.lifecycle_events.list_for_booking(booking.id)
            assert event.erase("[erased]", keep={"payment_id"})
            assert not event.erase("[erased]", keep={"payment_id"})
            (logged,) = uow.audit.list_for("booking", booking.id)
            assert logged.redact_reason()
            uow.commit()
        with uow_factory() as uow:
            (event,) = uow.lifecycle_events.list_for_booking(booking.id)
            assert (event.note, dict(event.metadata)) == (
                "[erased]",
                {"payment_id": "p-1", "pickup": "[erased]"},
            )
            assert (event.to_status, event.booking_version) == ("cancelled", 2)
            (logged,) = uow.audit.list_for("booking", booking.id)
            assert logged.reason == "[erased]"

    @pytest.mark.parametrize("clash", ["idempotency_key", "booking_version"])
    def test_a_key_or_version_used_twice_fails_the_commit(
        self, uow_factory: UnitOfWorkFactory, make: Builder, clash: str
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        _committed(
            uow_factory, "lifecycle_events", _move(booking, 2, "confirmed", idempotency_key="k")
        )
        again = (
            _move(booking, 3, "cancelled", idempotency_key="k")
            if clash == "idempotency_key"
            else _move(booking, 2, "cancelled", idempotency_key="other")
        )
        _assert_duplicate(uow_factory, "lifecycle_events", again)
        with uow_factory() as uow:
            assert len(uow.lifecycle_events.list_for_booking(booking.id)) == 1

    def test_audit_entries_are_kept_per_entity_oldest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)

        def entry(minutes: int, **fields: Any) -> AuditEntry:
            values: dict[str, Any] = {
                "id": uuid4(),
                "entity": "booking",
                "entity_id": booking.id,
                "action": AuditAction.UPDATED,
                "actor": Actor.system("contract"),
                "occurred_at": T0 + timedelta(minutes=minutes),
                "booking_id": booking.id,
            }
            return AuditEntry(**(values | fields))

        later = entry(
            5,
            old_values={"internal_notes": None},
            new_values={"internal_notes": "VIP", "tags": ["a", "b"], "count": 2},
            reason="asked by phone",
            ip_address="203.0.113.9",
            user_agent="desk/1.0",
        )
        first = entry(1, action=AuditAction.CREATED, new_values={"total": "100.00 INR"})
        elsewhere = entry(2, entity="customer", entity_id=booking.customer_id, booking_id=None)
        # Two entries of one moment (one call's changes) come by id, whatever their order
        # of writing: the largest id is written first here.
        low, high = sorted((uuid4(), uuid4()), key=lambda ident: ident.bytes)
        tied = [entry(3, id=high), entry(3, id=low)]
        _commit_all(uow_factory, "audit", (later, first, elsewhere, *tied))
        with uow_factory() as uow:
            assert list(uow.audit.list_for("booking", booking.id)) == [first, *tied[::-1], later]
            assert list(uow.audit.list_for("customer", booking.customer_id)) == [elsewhere]
            assert list(uow.audit.list_for("traveler", booking.id)) == []

    def test_pages_walk_every_entry_of_an_entity_once_newest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """One entity's trail lists newest first a keyset page at a time (a partner's
        history); another entity's, or another kind's with the same id, never comes.

        .. versionadded:: 0.3
        """
        ours, theirs = make.partner(), make.partner()
        with uow_factory() as uow:
            uow.partners.add(ours)
            uow.partners.add(theirs)
            uow.commit()
        # Pairs share a time so the id must break ties.
        entries = [
            AuditEntry(
                id=uuid4(),
                entity=("partner", "partner", "supplier")[n % 3],
                entity_id=(ours, theirs)[n % 2 == 1 and n % 3 != 2].id,
                action=AuditAction.UPDATED,
                actor=Actor.system("contract"),
                occurred_at=T0 + timedelta(minutes=n // 2),
            )
            for n in range(13)
        ]
        _commit_all(uow_factory, "audit", entries)

        def walks(entity: str, entity_id: UUID) -> None:
            expected = [e for e in entries if (e.entity, e.entity_id) == (entity, entity_id)]
            assert expected, (entity, entity_id)
            assert_pages_walk(
                uow_factory,
                lambda uow, page: uow.audit.page_for(entity, entity_id, page),
                expected,
                label=(entity, entity_id),
            )

        walks("partner", ours.id)
        walks("partner", theirs.id)
        walks("supplier", ours.id)
        with uow_factory() as uow:
            assert list(uow.audit.page_for("customer", ours.id, PageRequest())) == []


class OutboxRepositoryContract(_Base):
    """The outbox keeps events in order; deliveries are unique per event and handler.

    .. versionadded:: 0.1
    """

    @staticmethod
    def _event(booking: Booking, to: str) -> BookingStatusChanged:
        return BookingStatusChanged(
            id=uuid4(),
            occurred_at=T0,
            booking_id=booking.id,
            lifecycle="reservation",
            from_status="pending",
            to_status=to,
            actor=Actor.system("contract"),
            metadata={"k": "v"},
        )

    def test_events_come_back_equal_and_in_outbox_order(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        events = [self._event(booking, status) for status in ("confirmed", "cancelled", "x")]
        for event in events:
            _committed(uow_factory, "outbox", event)
        with uow_factory() as uow:
            waiting = uow.outbox.list_undispatched(10)
            assert [m.event for m in waiting] == events
            assert all(m.sequence is not None for m in waiting)
            sequences = [m.sequence or 0 for m in waiting]
            assert sequences == sorted(sequences)
            assert len(set(sequences)) == len(sequences)
            assert [m.event for m in uow.outbox.list_undispatched(2)] == events[:2]
            first = uow.outbox.get(events[0].id)
            assert first is not None
            first.dispatched_at = T0
            uow.commit()
        with uow_factory() as uow:
            assert [m.event for m in uow.outbox.list_undispatched(10)] == events[1:]
            assert [m.event for m in uow.outbox.list_unpublished(10)] == events
            assert uow.outbox.get(uuid4()) is None

    def test_a_relay_claims_the_oldest_unpublished_and_marks_them_published(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        events = [self._event(booking, status) for status in ("confirmed", "cancelled", "x")]
        _commit_all(uow_factory, "outbox", events)
        with uow_factory() as uow:
            claimed = uow.outbox.claim_unpublished(2)
            assert [m.event for m in claimed] == events[:2]
            uow.outbox.mark_published([m.event.id for m in claimed], T0)
            uow.commit()
        with uow_factory() as uow:
            assert [m.event for m in uow.outbox.list_unpublished(10)] == events[2:]
            assert [m.event for m in uow.outbox.claim_unpublished(10)] == events[2:]
            uow.outbox.mark_published([events[0].id, events[2].id], T0 + timedelta(hours=1))
            uow.commit()
        with uow_factory() as uow:
            assert list(uow.outbox.list_unpublished(10)) == []
            first = uow.outbox.get(events[0].id)
            assert first is not None
            assert first.published_at == T0  # already published ones keep their time

    def test_a_relay_claims_and_marks_the_stored_json_in_outbox_order(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``claim_to_publish``: the oldest unpublished messages as stored (the event's
        JSON, no typed event), marked published with the unit of work: a rollback
        leaves them for the next claim, messages not yet stored are never taken."""
        from bookingcore.serialization import (  # noqa: PLC0415
            event_from_serialized,
            serialized_message,
        )

        booking = _stored_booking(uow_factory, make)
        events = [self._event(booking, status) for status in ("confirmed", "cancelled", "x")]
        _commit_all(uow_factory, "outbox", events)

        def fields(messages: Iterable[SerializedMessage]) -> list[tuple[object, ...]]:
            # The JSON text is storage's own (key order, spacing): compare it parsed.
            return [(m.id, m.name, m.occurred_at, m.data, m.sequence) for m in messages]

        with uow_factory() as uow:
            stored = fields(serialized_message(m) for m in uow.outbox.list_unpublished(10))
        with uow_factory() as uow:  # rolled back: nothing marked
            assert [m.id for m in uow.outbox.claim_to_publish(2, T0)] == [e.id for e in events[:2]]
        with uow_factory() as uow:
            claimed = uow.outbox.claim_to_publish(2, T0)
            assert all(type(m.payload) is str for m in claimed)
            assert fields(claimed) == stored[:2]
            assert [event_from_serialized(m) for m in claimed] == events[:2]
            assert all(m.sequence is not None for m in claimed)
            assert [m.event for m in uow.outbox.list_unpublished(10)] == events[2:]
            uow.commit()
        with uow_factory() as uow:
            extra = self._event(booking, "not yet stored")
            uow.outbox.add(extra)
            assert uow.outbox.get(events[0].id) is not None
            assert fields(uow.outbox.claim_to_publish(10, T0 + timedelta(hours=1))) == stored[2:]
            uow.commit()
        with uow_factory() as uow:
            assert [m.event for m in uow.outbox.list_unpublished(10)] == [extra]
            marked = [uow.outbox.get(e.id) for e in events]
            assert [m.published_at if m else None for m in marked] == [
                T0,
                T0,
                T0 + timedelta(hours=1),
            ]
            assert [m.id for m in uow.outbox.claim_to_publish(10, T0)] == [extra.id]

    def test_an_uncommitted_event_is_never_seen(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        with uow_factory() as uow:
            uow.outbox.add(self._event(booking, "confirmed"))
        with uow_factory() as uow:
            assert list(uow.outbox.list_undispatched(10)) == []

    def test_one_delivery_per_event_and_handler(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        event = self._event(booking, "confirmed")
        policy = RetryPolicy()
        with uow_factory() as uow:
            uow.outbox.add(event)
            failing = Delivery(event.id, "mailer")
            failing.fail("SMTP timeout", T0, policy)
            done = Delivery(event.id, "invoices")
            done.succeed(T0)
            uow.deliveries.add(failing)
            uow.deliveries.add(done)
            uow.commit()
        with uow_factory() as uow:
            assert uow.deliveries.get(event.id, "mailer") == failing
            assert [d.handler for d in uow.deliveries.list_for_event(event.id)] == [
                "invoices",
                "mailer",
            ]
            assert list(uow.deliveries.list_due(T0, 10)) == []
            due_at = T0 + policy.delay(1)
            assert list(uow.deliveries.list_due(due_at, 10)) == [failing]
            assert list(uow.deliveries.list_due(due_at, 10, handlers=["mailer"])) == [failing]
            assert list(uow.deliveries.list_due(due_at, 10, handlers=["invoices"])) == []
            assert list(uow.deliveries.list_due(due_at, 10, handlers=[])) == []
        _assert_duplicate(uow_factory, "deliveries", Delivery(event.id, "mailer"))
        # Deliveries due at one moment to one handler come by id, the first ``limit`` of
        # them whatever order they were written in.
        others = [self._event(booking, "cancelled") for _ in range(3)]
        tied = sorted((Delivery(e.id, "mailer") for e in others), key=lambda d: d.id.bytes)
        with uow_factory() as uow:
            for delivery in reversed(tied):
                uow.outbox.add(next(e for e in others if e.id == delivery.event_id))
                delivery.fail("SMTP timeout", T0, policy)
                uow.deliveries.add(delivery)
            uow.commit()
        with uow_factory() as uow:
            assert [d.id for d in uow.deliveries.list_due(due_at, 2)] == sorted(
                [failing.id, tied[0].id, tied[1].id, tied[2].id], key=lambda ident: ident.bytes
            )[:2]
        with uow_factory() as uow:
            assert uow.deliveries.claim_retry(event.id, "mailer", attempts=1) == failing
            assert uow.deliveries.claim_retry(event.id, "mailer", attempts=0) is None
            assert uow.deliveries.claim_retry(event.id, "invoices", attempts=1) is None  # done
            assert uow.deliveries.claim_retry(event.id, "nobody", attempts=0) is None

    @requires("concurrent_units_of_work")
    def test_claim_retry_lets_one_of_several_dispatchers_store_an_attempt(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """Workers that all read the delivery after one attempt each try to store the
        second: one does, the others find it moved on.

        .. versionadded:: 0.4
        """
        booking = _stored_booking(uow_factory, make)
        event = self._event(booking, "confirmed")
        first = Delivery(event.id, "mailer")
        first.fail("SMTP timeout", T0, RetryPolicy())
        with uow_factory() as uow:
            uow.outbox.add(event)
            uow.deliveries.add(first)
            uow.commit()

        def attempt(_: int) -> bool:
            with uow_factory() as uow:
                read = uow.deliveries.get(event.id, "mailer")
                assert read is not None
                claimed = uow.deliveries.claim_retry(event.id, "mailer", attempts=read.attempts)
                if claimed is None:
                    return False
                claimed.succeed(T0)
                uow.commit()
                return True

        assert sorted(_race(attempt, range(6))) == [False] * 5 + [True]
        with uow_factory() as uow:
            stored = uow.deliveries.get(event.id, "mailer")
            assert stored is not None
            assert (stored.status, stored.attempts) == (DeliveryStatus.DONE, 2)

    def _store_handled(
        self,
        uow_factory: UnitOfWorkFactory,
        booking: Booking,
        *,
        dispatched: datetime | None = T0,
        published: datetime | None = T0,
        deliveries: Iterable[Delivery] = (),
    ) -> BookingStatusChanged:
        """A message as a dispatcher (and a relay) left it, with these deliveries."""
        event = self._event(booking, "confirmed")
        _committed(uow_factory, "outbox", event)
        with uow_factory() as uow:
            message = uow.outbox.get(event.id)
            assert message is not None
            message.dispatched_at = dispatched
            message.published_at = published
            for delivery in deliveries:
                uow.deliveries.add(attrs.evolve(delivery, event_id=event.id))
            uow.commit()
        return event

    def test_only_messages_done_with_before_the_cutoff_are_deleted_with_their_deliveries(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``delete_finished``: dispatched, every delivery done or given up, (published,)
        all before the cutoff; oldest first, up to the limit; deliveries go too."""
        booking = _stored_booking(uow_factory, make)
        cutoff = T0 + timedelta(days=1)
        later = cutoff + timedelta(hours=1)
        done, gave_up, retrying, recent = (Delivery(uuid4(), h) for h in "abcd")
        done.succeed(T0)
        gave_up.fail("boom", T0, RetryPolicy(max_attempts=1))
        retrying.fail("boom", T0, RetryPolicy())
        recent.succeed(later)
        replayed = Delivery(uuid4(), "e")  # gave up, then an operator's retry is pending
        replayed.fail("boom", T0, RetryPolicy(max_attempts=1))
        replayed.status = DeliveryStatus.RETRYING
        unpublished = self._store_handled(uow_factory, booking, published=None)
        finished = self._store_handled(uow_factory, booking, deliveries=[done, gave_up])
        waiting = self._store_handled(uow_factory, booking, deliveries=[done, retrying])
        too_recent = self._store_handled(uow_factory, booking, deliveries=[recent])
        undispatched = self._store_handled(uow_factory, booking, dispatched=None)
        dispatched_late = self._store_handled(uow_factory, booking, dispatched=later)
        published_late = self._store_handled(uow_factory, booking, published=later)
        retried = self._store_handled(uow_factory, booking, deliveries=[replayed])
        also_finished = self._store_handled(uow_factory, booking)
        with uow_factory() as uow:  # rolled back: nothing goes
            assert uow.outbox.delete_finished(cutoff, published=True, limit=10) == 2
        with uow_factory() as uow:
            assert uow.outbox.delete_finished(cutoff, published=True, limit=1) == 1
            uow.commit()
        with uow_factory() as uow:
            assert uow.outbox.get(finished.id) is None  # the oldest first
            assert list(uow.deliveries.list_for_event(finished.id)) == []
        with uow_factory() as uow:
            assert uow.outbox.delete_finished(cutoff, published=True, limit=10) == 1
            uow.commit()
        with uow_factory() as uow:
            assert uow.outbox.get(also_finished.id) is None
            assert uow.outbox.delete_finished(cutoff, published=True, limit=10) == 0
            # Without a relay, an unpublished message is done with once handled.
            assert uow.outbox.delete_finished(cutoff, published=False, limit=10) == 2
            uow.commit()
        with uow_factory() as uow:
            left = [
                unpublished,
                waiting,
                too_recent,
                undispatched,
                dispatched_late,
                published_late,
                retried,
            ]
            kept = [uow.outbox.get(e.id) for e in left]
            assert [m.id if m else None for m in kept] == [
                None,
                waiting.id,
                too_recent.id,
                undispatched.id,
                dispatched_late.id,
                None,
                retried.id,
            ]
            assert [d.handler for d in uow.deliveries.list_for_event(waiting.id)] == ["a", "c"]
            assert [d.handler for d in uow.deliveries.list_for_event(retried.id)] == ["e"]

    def test_the_walk_stops_at_the_first_message_within_the_retention(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """A message numbered after one that occurred within the retention (clock skew
        between processes) waits for a later prune: no batch reads the young messages."""
        booking = _stored_booking(uow_factory, make)
        old = self._store_handled(uow_factory, booking)
        young_at = T0 + timedelta(days=2)
        young = self._event(booking, "young")
        young = attrs.evolve(young, occurred_at=young_at)
        _committed(uow_factory, "outbox", young)
        with uow_factory() as uow:
            message = uow.outbox.get(young.id)
            assert message is not None
            message.dispatched_at = message.published_at = young_at
            uow.commit()
        skewed = self._store_handled(uow_factory, booking)
        with uow_factory() as uow:
            assert uow.outbox.delete_finished(T0 + timedelta(days=1), published=True, limit=10) == 1
            uow.commit()
        with uow_factory() as uow:
            assert [uow.outbox.get(e.id) is not None for e in (old, young, skewed)] == [
                False,
                True,
                True,
            ]
        with uow_factory() as uow:
            assert uow.outbox.delete_finished(T0 + timedelta(days=3), published=True, limit=10) == 2
            uow.commit()

    def test_messages_and_deliveries_a_unit_of_work_holds_are_not_deleted_under_it(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        done = Delivery(uuid4(), "a")
        done.succeed(T0)
        read = self._store_handled(uow_factory, booking)
        handled = self._store_handled(uow_factory, booking, deliveries=[done])
        cutoff = T0 + timedelta(days=1)
        with uow_factory() as uow:
            assert uow.outbox.get(read.id) is not None
            assert uow.deliveries.get(handled.id, "a") is not None
            assert uow.outbox.delete_finished(cutoff, published=True, limit=10) == 0
            uow.commit()
        with uow_factory() as uow:
            assert uow.outbox.delete_finished(cutoff, published=True, limit=10) == 2
            uow.commit()

    def test_the_messages_about_some_bookings_are_found_and_an_erasure_stored(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``list_for_bookings`` reads the event data's ``booking_id``, in outbox order
        (this unit of work's additions last); :meth:`OutboxMessage.erase` is stored."""
        from bookingcore.domain.events import (  # noqa: PLC0415
            BookingRescheduled,
            CustomerRegistered,
        )

        mine, other = _stored_booking(uow_factory, make), _stored_booking(uow_factory, make)
        moved = BookingRescheduled(
            id=uuid4(),
            occurred_at=T0,
            booking_id=mine.id,
            from_slot_id=mine.slot_id,
            to_slot_id=mine.slot_id,
            from_starts_at=T0,
            to_starts_at=T0,
            price_difference="0",
            currency="INR",
            actor=Actor.system("contract"),
            note="call Asha on +91 98765 43210",
        )
        registered = CustomerRegistered(
            id=uuid4(), occurred_at=T0, customer_id=mine.customer_id, actor=Actor.system("c")
        )
        changed = attrs.evolve(
            self._event(mine, "confirmed"),
            note="allergic to nuts",
            metadata={"quotation": "Q-1", "diet": "vegan", "empty": ""},
        )
        theirs = self._event(other, "confirmed")
        _commit_all(uow_factory, "outbox", (changed, registered, theirs, moved))
        with uow_factory() as uow:
            assert list(uow.outbox.list_for_bookings([])) == []
            found = uow.outbox.list_for_bookings([mine.id])
            assert [m.id for m in found] == [changed.id, moved.id]
            extra = self._event(mine, "cancelled")
            uow.outbox.add(extra)
            both = uow.outbox.list_for_bookings([mine.id, other.id])
            assert [m.id for m in both] == [changed.id, theirs.id, moved.id, extra.id]
            assert [m.erase("[erased]", keep={"quotation"}) for m in found] == [True, True]
            assert not found[0].erase("[erased]", keep={"quotation"})  # nothing left to erase
            uow.commit()
        with uow_factory() as uow:
            erased = uow.outbox.get(changed.id)
            assert erased is not None
            assert isinstance(erased.event, BookingStatusChanged)
            assert erased.event.note == "[erased]"
            assert dict(erased.event.metadata) == {
                "quotation": "Q-1",
                "diet": "[erased]",
                "empty": "",
            }
            assert erased.event.to_status == "confirmed"
            rescheduled = uow.outbox.get(moved.id)
            assert rescheduled is not None
            assert rescheduled.event == attrs.evolve(moved, note="[erased]")
            untouched = uow.outbox.get(theirs.id)
            assert untouched is not None
            assert untouched.event == theirs


class CommunicationRepositoryContract(_Base):
    """The communications log: unique dedupe keys and provider ids, per booking and customer.

    .. versionadded:: 0.1
    """

    @staticmethod
    def _message(booking: Booking, minutes: int, **fields: Any) -> Communication:
        values: dict[str, Any] = {
            "id": CommunicationId(uuid4()),
            "customer_id": booking.customer_id,
            "booking_id": booking.id,
            "type": CommunicationType.CONFIRMATION,
            "channel": Channel.EMAIL,
            "recipient": "mira@example.com",
            "created_at": T0 + timedelta(minutes=minutes),
            "created_by": Actor.system("contract"),
            "subject": "Confirmed",
            "content": "Hello",
            "template_used": "confirmation.email",
        }
        return Communication(**(values | fields))

    def test_messages_read_back_by_every_lookup(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        later = self._message(booking, 5, dedupe_key="reminder:1", provider_message_id="SM1")
        first = self._message(booking, 1)
        unrelated = self._message(booking, 3, booking_id=None, channel=Channel.SMS)
        _commit_all(uow_factory, "communications", (later, first, unrelated))
        with uow_factory() as uow:
            assert uow.communications.get(first.id) == first
            assert uow.communications.get_by_dedupe_key("reminder:1") == later
            assert uow.communications.get_by_provider_message_id("SM1") == later
            assert uow.communications.get_by_provider_message_id("SM2") is None
            assert list(uow.communications.list_for_booking(booking.id)) == [first, later]
            assert list(uow.communications.list_for_customer(booking.customer_id)) == [
                first,
                unrelated,
                later,
            ]
            stored = uow.communications.get(first.id)
            assert stored is not None
            stored.record("delivered", T0 + timedelta(minutes=9), provider_message_id="SM9")
            uow.commit()
        with uow_factory() as uow:
            reread = uow.communications.get(first.id)
            assert reread is not None
            assert reread.status.value == "delivered"
            assert reread.delivered_at == T0 + timedelta(minutes=9)
            assert uow.communications.get_by_provider_message_id("SM9") == reread

    @requires("concurrent_units_of_work")
    def test_a_message_locked_is_read_as_the_unit_of_work_before_it_left_it(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``get_for_update`` waits for a unit of work that holds the message and reads
        what it committed: two delivery reports never write over each other."""
        booking = _stored_booking(uow_factory, make)
        message = self._message(booking, 1, provider_message_id="SM1")
        _committed(uow_factory, "communications", message)
        with uow_factory() as uow:
            assert uow.communications.get_for_update(CommunicationId(uuid4())) is None
        reports = [("sent", 2), ("delivered", 3), ("opened", 4), ("failed", 5)]

        def report(which: tuple[str, int]) -> None:
            status, minutes = which
            with uow_factory() as uow:
                locked = uow.communications.get_for_update(message.id)
                assert locked is not None
                locked.record(status, T0 + timedelta(minutes=minutes))
                uow.commit()

        _race(report, reports)
        with uow_factory() as uow:
            stored = uow.communications.get(message.id)
            assert stored is not None
            # Forward only, whatever order they ran in: the furthest status wins.
            assert stored.status.value == "opened"

    @pytest.mark.parametrize("key", ["dedupe_key", "provider_message_id"])
    def test_dedupe_key_and_provider_id_are_unique(
        self, uow_factory: UnitOfWorkFactory, make: Builder, key: str
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        _committed(uow_factory, "communications", self._message(booking, 1, **{key: "SAME"}))
        _assert_duplicate(uow_factory, "communications", self._message(booking, 2, **{key: "SAME"}))

    def test_a_failed_message_is_claimed_for_sending_again_once(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``requeue_failed`` (0.4): failed -> pending once, only while it is failed."""
        booking = _stored_booking(uow_factory, make)
        failed_at = T0 + timedelta(minutes=2)
        failed = self._message(
            booking,
            1,
            status=CommunicationStatus.FAILED,
            failed_at=failed_at,
            failed_reason="gateway down",
        )
        sent = self._message(booking, 2, status=CommunicationStatus.SENT, sent_at=failed_at)
        with uow_factory() as uow:
            uow.communications.add(failed)
            uow.communications.add(sent)
            uow.commit()
        with uow_factory() as uow:
            assert uow.communications.requeue_failed(failed.id) is True
            # A rollback gives the claim back.
        with uow_factory() as uow:
            read = uow.communications.get(failed.id)
            assert read is not None
            assert read.status.value == "failed"
            assert uow.communications.requeue_failed(failed.id) is True
            # The entity handed out before is brought up to date.
            assert (read.status, read.failed_at) == (CommunicationStatus.PENDING, None)
            assert read.failed_reason == "gateway down"
            assert uow.communications.requeue_failed(failed.id) is False  # pending now
            assert uow.communications.requeue_failed(sent.id) is False
            assert uow.communications.requeue_failed(CommunicationId(uuid4())) is False
            uow.commit()
        with uow_factory() as uow:
            stored = uow.communications.get(failed.id)
            assert stored is not None
            assert (stored.status, stored.failed_at) == (CommunicationStatus.PENDING, None)
            assert stored.failed_reason == "gateway down"
            assert uow.communications.requeue_failed(failed.id) is False
            unsent = uow.communications.get(sent.id)
            assert unsent is not None
            assert unsent.status is CommunicationStatus.SENT

    @requires("interleaved_units_of_work")
    def test_of_two_senders_that_read_a_message_failed_only_one_claims_it(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``requeue_failed`` (0.4) is decided by storage, not by what was read before."""
        booking = _stored_booking(uow_factory, make)
        failed = self._message(
            booking, 1, status=CommunicationStatus.FAILED, failed_at=T0, dedupe_key="k:1"
        )
        _committed(uow_factory, "communications", failed)
        with uow_factory() as late:
            mine = late.communications.get_by_dedupe_key("k:1")
            assert mine is not None
            assert mine.status.value == "failed"
            with uow_factory() as early:
                assert early.communications.requeue_failed(failed.id) is True
                early.commit()
            assert late.communications.requeue_failed(failed.id) is False
            # Read again as the other sender left it.
            assert mine.status is CommunicationStatus.PENDING
        with uow_factory() as uow:
            stored = uow.communications.get(failed.id)
            assert stored is not None
            assert stored.status is CommunicationStatus.PENDING

    def test_a_failed_message_due_for_a_retry_is_claimed_once(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``requeue_for_retry`` (0.4): failed -> pending once, only while the stored
        message is due for another attempt: failed, ``retryable``, failed at or
        before ``failed_by``, fewer than ``attempts_below`` attempts."""
        booking = _stored_booking(uow_factory, make)
        failed_by = T0 + timedelta(minutes=15)
        at = T0 + timedelta(minutes=20)

        def failed(minutes: int, **fields: Any) -> Communication:
            values: dict[str, Any] = {
                "status": CommunicationStatus.FAILED,
                "failed_at": T0,
                "failed_reason": "HTTP 503",
                "retryable": True,
                "attempts": 1,
            }
            return self._message(booking, minutes, **(values | fields))

        due = failed(1)
        edge = failed(2, failed_at=failed_by, attempts=2)  # at the limits, still due
        recent = failed(3, failed_at=failed_by + timedelta(seconds=1))
        final = failed(4, retryable=False)
        unknown = failed(5, retryable=None)
        spent = failed(6, attempts=3)
        sent = self._message(booking, 7, status=CommunicationStatus.SENT, sent_at=T0)
        _commit_all(uow_factory, "communications", (due, edge, recent, final, unknown, spent, sent))

        def claim(uow: UnitOfWork, message_id: CommunicationId) -> bool:
            return uow.communications.requeue_for_retry(
                message_id, at=at, failed_by=failed_by, attempts_below=3
            )

        with uow_factory() as uow:
            assert claim(uow, due.id)
            # A rollback gives the claim back.
        with uow_factory() as uow:
            read = uow.communications.get(due.id)
            assert read is not None
            assert read.status is CommunicationStatus.FAILED
            assert claim(uow, due.id)
            # The entity handed out before is brought up to date.
            assert (read.status, read.failed_at, read.sending_since) == (
                CommunicationStatus.PENDING,
                None,
                at,
            )
            assert (read.failed_reason, read.retryable, read.attempts) == ("HTTP 503", True, 1)
            assert not claim(uow, due.id)  # pending now
            assert claim(uow, edge.id)
            for other in (recent, final, unknown, spent, sent):
                assert not claim(uow, other.id)
            assert not claim(uow, CommunicationId(uuid4()))
            uow.commit()
        with uow_factory() as uow:
            for message, status in (
                (due, CommunicationStatus.PENDING),
                (edge, CommunicationStatus.PENDING),
                (recent, CommunicationStatus.FAILED),
                (final, CommunicationStatus.FAILED),
                (unknown, CommunicationStatus.FAILED),
                (spent, CommunicationStatus.FAILED),
                (sent, CommunicationStatus.SENT),
            ):
                stored = uow.communications.get(message.id)
                assert stored is not None
                assert stored.status is status
            stored = uow.communications.get(due.id)
            assert stored is not None
            assert (stored.sending_since, stored.sending_claim) == (at, None)

    def test_attempts_are_counted_by_the_claims_for_sending(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``attempts`` and ``retryable`` (0.4) are stored; ``claim_for_sending`` and
        ``claim_stalled`` each add one attempt, a claim refused adds none, and
        ``requeue_failed`` and ``settle_claim`` leave the count alone."""
        booking = _stored_booking(uow_factory, make)
        logged = self._message(booking, 1, sending_since=T0)
        _committed(uow_factory, "communications", logged)
        first, second = uuid4(), uuid4()
        with uow_factory() as uow:
            assert uow.communications.claim_for_sending(logged.id, claim=first, at=T0)
            assert not uow.communications.claim_for_sending(logged.id, claim=second, at=T0)
            uow.commit()
        with uow_factory() as uow:
            stored = uow.communications.get(logged.id)
            assert stored is not None
            assert (stored.attempts, stored.retryable) == (1, None)
            assert uow.communications.settle_claim(logged.id, first)
            stored.record("failed", T0 + timedelta(seconds=1), reason="timeout", retryable=True)
            uow.commit()
        with uow_factory() as uow:
            stored = uow.communications.get(logged.id)
            assert stored is not None
            assert (stored.status, stored.attempts, stored.retryable) == (
                CommunicationStatus.FAILED,
                1,
                True,
            )
            assert uow.communications.requeue_failed(logged.id, at=T0 + timedelta(minutes=1))
            assert stored.attempts == 1
            uow.commit()
        later = T0 + timedelta(minutes=30)
        with uow_factory() as uow:
            cutoff = T0 + timedelta(minutes=20)
            assert uow.communications.claim_stalled(logged.id, before=cutoff, at=later)
            uow.commit()
        with uow_factory() as uow:
            stored = uow.communications.get(logged.id)
            assert stored is not None
            assert stored.attempts == 2
            stored.record("failed", later, reason="invalid number", retryable=False)
            uow.commit()
        with uow_factory() as uow:
            stored = uow.communications.get(logged.id)
            assert stored is not None
            assert (stored.attempts, stored.retryable) == (2, False)

    @requires("interleaved_units_of_work")
    def test_of_two_senders_that_found_a_message_due_for_a_retry_only_one_claims_it(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``requeue_for_retry`` (0.4) is decided by storage: the second sender's claim
        fails, even when the first one's attempt failed again before it asked."""
        booking = _stored_booking(uow_factory, make)
        failed = self._message(
            booking,
            1,
            status=CommunicationStatus.FAILED,
            failed_at=T0,
            retryable=True,
            attempts=1,
            dedupe_key="reminder:1",
        )
        _committed(uow_factory, "communications", failed)
        failed_by = T0 + timedelta(minutes=15)
        at = T0 + timedelta(minutes=16)
        with uow_factory() as late:
            mine = late.communications.get_by_dedupe_key("reminder:1")
            assert mine is not None
            assert mine.retry_due(failed_by=failed_by, attempts_below=3)
            with uow_factory() as early:
                assert early.communications.requeue_for_retry(
                    failed.id, at=at, failed_by=failed_by, attempts_below=3
                )
                early.commit()
            claim = uuid4()
            with uow_factory() as early:
                assert early.communications.claim_for_sending(failed.id, claim=claim, at=at)
                early.commit()
            with uow_factory() as early:
                assert early.communications.settle_claim(failed.id, claim)
                theirs = early.communications.get(failed.id)
                assert theirs is not None
                # Their attempt failed again at once, retryably.
                theirs.record("failed", at, reason="HTTP 503", retryable=True)
                early.commit()
            assert not late.communications.requeue_for_retry(
                failed.id, at=at, failed_by=failed_by, attempts_below=3
            )
            # Read again as the other sender left it.
            assert (mine.status, mine.failed_at, mine.attempts) == (
                CommunicationStatus.FAILED,
                at,
                2,
            )
        with uow_factory() as uow:
            stored = uow.communications.get(failed.id)
            assert stored is not None
            assert (stored.status, stored.attempts) == (CommunicationStatus.FAILED, 2)

    def test_requeue_failed_hands_the_message_over_at_the_given_time(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``requeue_failed(at=...)`` (0.4) sets ``sending_since``; a report clears it."""
        booking = _stored_booking(uow_factory, make)
        failed = self._message(booking, 1, status=CommunicationStatus.FAILED, failed_at=T0)
        claimed_at = T0 + timedelta(minutes=30)
        _committed(uow_factory, "communications", failed)
        with uow_factory() as uow:
            assert uow.communications.requeue_failed(failed.id, at=claimed_at) is True
            uow.commit()
        with uow_factory() as uow:
            stored = uow.communications.get(failed.id)
            assert stored is not None
            assert (stored.status, stored.sending_since) == (
                CommunicationStatus.PENDING,
                claimed_at,
            )
            stored.record("sent", claimed_at + timedelta(seconds=2))
            uow.commit()
        with uow_factory() as uow:
            sent = uow.communications.get(failed.id)
            assert sent is not None
            assert (sent.status, sent.sending_since) == (CommunicationStatus.SENT, None)

    def test_stalled_messages_are_listed_longest_waiting_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``list_stalled`` (0.4): pending, handed over before the cutoff; never a
        pending message without ``sending_since``, nor one that moved on."""
        booking = _stored_booking(uow_factory, make)
        cutoff = T0 + timedelta(minutes=20)
        newer = self._message(booking, 1, sending_since=T0 + timedelta(minutes=10))
        older = self._message(booking, 2, sending_since=T0 + timedelta(minutes=5))
        recent = self._message(booking, 3, sending_since=cutoff)  # not before the cutoff
        unowned = self._message(booking, 4)  # pending, never handed over
        sent = self._message(
            booking, 5, status=CommunicationStatus.SENT, sent_at=T0, sending_since=T0
        )
        _commit_all(uow_factory, "communications", (newer, older, recent, unowned, sent))
        with uow_factory() as uow:
            listed = uow.communications.list_stalled(cutoff, 10)
            assert [m.id for m in listed] == [older.id, newer.id]
            assert [m.id for m in uow.communications.list_stalled(cutoff, 1)] == [older.id]
            assert list(uow.communications.list_stalled(T0, 10)) == []

    def test_a_stalled_message_is_claimed_once(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``claim_stalled`` (0.4): moves ``sending_since`` to ``at`` only while the
        message is pending and was handed over before the cutoff."""
        booking = _stored_booking(uow_factory, make)
        cutoff = T0 + timedelta(minutes=20)
        claimed_at = T0 + timedelta(minutes=35)
        stalled = self._message(booking, 1, sending_since=T0)
        unowned = self._message(booking, 2)
        sent = self._message(
            booking, 3, status=CommunicationStatus.SENT, sent_at=T0, sending_since=T0
        )
        _commit_all(uow_factory, "communications", (stalled, unowned, sent))
        with uow_factory() as uow:
            assert uow.communications.claim_stalled(stalled.id, before=cutoff, at=claimed_at)
            # A rollback gives the claim back.
        with uow_factory() as uow:
            read = uow.communications.get(stalled.id)
            assert read is not None
            assert uow.communications.claim_stalled(stalled.id, before=cutoff, at=claimed_at)
            assert read.sending_since == claimed_at  # brought up to date
            # Claimed now: not stalled any more for the same cutoff.
            assert not uow.communications.claim_stalled(stalled.id, before=cutoff, at=claimed_at)
            assert not uow.communications.claim_stalled(unowned.id, before=cutoff, at=claimed_at)
            assert not uow.communications.claim_stalled(sent.id, before=cutoff, at=claimed_at)
            missing = CommunicationId(uuid4())
            assert not uow.communications.claim_stalled(missing, before=cutoff, at=claimed_at)
            uow.commit()
        with uow_factory() as uow:
            stored = uow.communications.get(stalled.id)
            assert stored is not None
            assert (stored.status, stored.sending_since) == (
                CommunicationStatus.PENDING,
                claimed_at,
            )
            assert list(uow.communications.list_stalled(cutoff, 10)) == []
            untouched = uow.communications.get(unowned.id)
            assert untouched is not None
            assert untouched.sending_since is None

    @requires("interleaved_units_of_work")
    def test_of_two_sweepers_that_listed_a_stalled_message_only_one_claims_it(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``claim_stalled`` (0.4) is decided by storage, not by the listing before it."""
        booking = _stored_booking(uow_factory, make)
        stalled = self._message(booking, 1, sending_since=T0)
        cutoff = T0 + timedelta(minutes=20)
        _committed(uow_factory, "communications", stalled)
        with uow_factory() as late:
            assert [m.id for m in late.communications.list_stalled(cutoff, 10)] == [stalled.id]
            with uow_factory() as early:
                at = T0 + timedelta(minutes=30)
                assert early.communications.claim_stalled(stalled.id, before=cutoff, at=at)
                early.commit()
            at = T0 + timedelta(minutes=31)
            assert not late.communications.claim_stalled(stalled.id, before=cutoff, at=at)
            mine = late.communications.get(stalled.id)
            assert mine is not None
            assert mine.sending_since == T0 + timedelta(minutes=30)  # as the other left it

    def test_a_pending_message_is_claimed_for_sending_by_one_sender(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``claim_for_sending`` (0.4): a pending message nobody holds is claimed once,
        with the sender's token and the time it goes to the gateway; only the holder's
        ``settle_claim`` takes it back; a report clears the claim."""
        booking = _stored_booking(uow_factory, make)
        logged = self._message(booking, 1, sending_since=T0)
        sent = self._message(booking, 2, status=CommunicationStatus.SENT, sent_at=T0)
        failed = self._message(booking, 3, status=CommunicationStatus.FAILED, failed_at=T0)
        mine, theirs = uuid4(), uuid4()
        at = T0 + timedelta(seconds=5)
        _commit_all(uow_factory, "communications", (logged, sent, failed))
        with uow_factory() as uow:
            assert uow.communications.claim_for_sending(logged.id, claim=theirs, at=at)
            # A rollback gives the claim back.
        with uow_factory() as uow:
            read = uow.communications.get(logged.id)
            assert read is not None
            assert uow.communications.claim_for_sending(logged.id, claim=mine, at=at)
            assert (read.sending_claim, read.sending_since) == (mine, at)  # brought up to date
            assert not uow.communications.claim_for_sending(logged.id, claim=theirs, at=at)
            assert not uow.communications.claim_for_sending(sent.id, claim=theirs, at=at)
            assert not uow.communications.claim_for_sending(failed.id, claim=theirs, at=at)
            missing = CommunicationId(uuid4())
            assert not uow.communications.claim_for_sending(missing, claim=theirs, at=at)
            uow.commit()
        with uow_factory() as uow:
            stored = uow.communications.get(logged.id)
            assert stored is not None
            assert (stored.status, stored.sending_claim, stored.sending_since) == (
                CommunicationStatus.PENDING,
                mine,
                at,
            )
            assert not uow.communications.settle_claim(logged.id, theirs)
            assert not uow.communications.settle_claim(missing, mine)
            assert uow.communications.settle_claim(logged.id, mine)
            assert stored.sending_claim is None
            assert stored.record("sent", at + timedelta(seconds=1))
            uow.commit()
        with uow_factory() as uow:
            done = uow.communications.get(logged.id)
            assert done is not None
            assert (done.status, done.sending_claim, done.sending_since) == (
                CommunicationStatus.SENT,
                None,
                None,
            )
            assert not uow.communications.settle_claim(logged.id, mine)

    def test_a_stalled_claim_takes_a_message_over_from_its_slow_sender(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``claim_stalled(claim=...)`` (0.4) takes over a message whose holder is past
        the cutoff: the holder's ``settle_claim`` then fails and it reads the message
        as the sweeper left it; the sweeper's succeeds."""
        booking = _stored_booking(uow_factory, make)
        slow, sweeper = uuid4(), uuid4()
        held = self._message(booking, 1, sending_since=T0, sending_claim=slow)
        cutoff = T0 + timedelta(minutes=15)
        at = T0 + timedelta(minutes=16)
        _committed(uow_factory, "communications", held)
        with uow_factory() as uow:
            # Held, but not stalled yet: nobody else may claim it.
            assert not uow.communications.claim_for_sending(held.id, claim=sweeper, at=at)
            assert not uow.communications.claim_stalled(held.id, before=T0, at=at, claim=sweeper)
            assert uow.communications.claim_stalled(held.id, before=cutoff, at=at, claim=sweeper)
            uow.commit()
        with uow_factory() as uow:
            assert not uow.communications.settle_claim(held.id, slow)
            read = uow.communications.get(held.id)
            assert read is not None
            assert (read.sending_claim, read.sending_since) == (sweeper, at)
        with uow_factory() as uow:
            assert uow.communications.settle_claim(held.id, sweeper)
            uow.commit()
        with uow_factory() as uow:
            stored = uow.communications.get(held.id)
            assert stored is not None
            assert (stored.status, stored.sending_claim) == (CommunicationStatus.PENDING, None)

    def test_a_failed_message_claimed_again_is_held_by_nobody(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``requeue_failed`` (0.4) leaves the message for the next ``claim_for_sending``."""
        booking = _stored_booking(uow_factory, make)
        failed = self._message(
            booking, 1, status=CommunicationStatus.FAILED, failed_at=T0, sending_claim=uuid4()
        )
        _committed(uow_factory, "communications", failed)
        with uow_factory() as uow:
            assert uow.communications.requeue_failed(failed.id, at=T0)
            uow.commit()
        with uow_factory() as uow:
            stored = uow.communications.get(failed.id)
            assert stored is not None
            assert (stored.status, stored.sending_claim) == (CommunicationStatus.PENDING, None)
            assert uow.communications.claim_for_sending(failed.id, claim=uuid4(), at=T0)

    @requires("interleaved_units_of_work")
    def test_of_two_senders_that_read_a_message_pending_only_one_claims_it(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``claim_for_sending`` (0.4) is decided by storage, not by what was read before."""
        booking = _stored_booking(uow_factory, make)
        logged = self._message(booking, 1, sending_since=T0)
        first, second = uuid4(), uuid4()
        _committed(uow_factory, "communications", logged)
        with uow_factory() as late:
            mine = late.communications.get(logged.id)
            assert mine is not None
            assert mine.sending_claim is None
            with uow_factory() as early:
                assert early.communications.claim_for_sending(logged.id, claim=first, at=T0)
                early.commit()
            assert not late.communications.claim_for_sending(logged.id, claim=second, at=T0)
            assert mine.sending_claim == first  # as the other sender left it

    def test_engagement_is_counted_per_type_and_channel_from_the_timestamps(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``tally_engagement`` (0.4): messages that went out in the period (sent_at, or
        failed_at for those never sent), delivered/opened/clicked by their timestamps."""
        booking = _stored_booking(uow_factory, make)
        start, end = T0, T0 + timedelta(days=1)

        def at(minutes: int) -> datetime:
            return T0 + timedelta(minutes=minutes)

        sms = Channel.SMS
        reminder = CommunicationType.REMINDER
        specs: list[dict[str, Any]] = [
            # confirmation by email: clicked with an open report, clicked without one
            {
                "status": "clicked",
                "sent_at": at(1),
                "delivered_at": at(2),
                "opened_at": at(3),
                "clicked_at": at(4),
            },
            {"status": "clicked", "sent_at": at(1), "delivered_at": at(2), "clicked_at": at(5)},
            # opened without a delivery report, delivered only, sent only
            {"status": "opened", "sent_at": at(1), "opened_at": at(9)},
            {"status": "delivered", "sent_at": at(1), "delivered_at": at(2)},
            {"status": "sent", "sent_at": at(1)},
            # bounced after sending; refused outright (never sent) in the period
            {"status": "failed", "sent_at": at(1), "failed_at": at(2)},
            {"status": "failed", "failed_at": at(1)},
            # a temporary failure then delivery counts as delivered, not failed
            {"status": "delivered", "sent_at": at(1), "failed_at": at(2), "delivered_at": at(3)},
            # outside the period: sent before it, refused after it, and still pending
            {"status": "clicked", "sent_at": at(-1), "opened_at": at(2), "clicked_at": at(2)},
            {"status": "failed", "failed_at": end},
            {"status": "pending"},
            # the period's end is open, its start closed
            {"status": "sent", "sent_at": end - timedelta(microseconds=1), "type": reminder},
            {"status": "delivered", "sent_at": at(0), "delivered_at": at(5), "type": reminder},
            {"status": "opened", "sent_at": at(0), "opened_at": at(7), "channel": sms},
        ]
        with uow_factory() as uow:
            for index, fields in enumerate(specs):
                status = CommunicationStatus(fields.pop("status"))
                uow.communications.add(self._message(booking, index, status=status, **fields))
            uow.commit()
        with uow_factory() as uow:
            tallied = set(uow.communications.tally_engagement(start, end))
            everything = set(uow.communications.tally_engagement(None, None))
            empty = list(uow.communications.tally_engagement(end + timedelta(days=1), None))
        assert tallied == {
            CommunicationTally("confirmation", "email", 7, 5, 2, 2, 2),
            CommunicationTally("reminder", "email", 2, 1, 0, 0, 0),
            CommunicationTally("confirmation", "sms", 1, 1, 1, 0, 0),
        }
        assert CommunicationTally("confirmation", "email", 8, 6, 3, 3, 3) in everything
        assert len(everything) == 3
        assert empty == []


class DocumentRepositoryContract(_Base):
    """Documents stored with their booking, oldest first, with who or what made them.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4 ``Document.generated_by`` reads back.
    """

    def test_documents_read_back_per_booking(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        other = _stored_booking(uow_factory, make)

        def document(
            target: Booking, kind: DocumentKind, minutes: int, *, by_staff: bool = False
        ) -> Document:
            return Document(
                id=DocumentId(uuid4()),
                booking_id=target.id,
                kind=kind,
                filename=f"{kind.value}.html",
                media_type="text/html; charset=utf-8",
                content=f"<h1>{kind.value} ü €</h1>",
                created_at=T0 + timedelta(minutes=minutes),
                source_event_id=None if by_staff else uuid4(),
                generated_by=uuid4() if by_staff else None,
            )

        voucher = document(booking, DocumentKind.VOUCHER, 2, by_staff=True)
        invoice = document(booking, DocumentKind.INVOICE, 1)
        theirs = document(other, DocumentKind.INVOICE, 0)
        with uow_factory() as uow:
            for item in (voucher, invoice, theirs):
                uow.documents.add(item)
            uow.commit()
        with uow_factory() as uow:
            assert uow.documents.get(invoice.id) == invoice
            assert list(uow.documents.list_for_booking(booking.id)) == [invoice, voucher]
            assert list(uow.documents.list_for_booking(other.id)) == [theirs]


class AuthSessionRepositoryContract(_Base):
    """Signed-in sessions: versions that catch a concurrent refresh, per-subject
    lists newest first, locks that let one refresh win, and cleanup of expired ones.

    .. versionadded:: 0.1
    """

    @staticmethod
    def session(
        subject_id: UUID | None = None,
        *,
        kind: PrincipalKind = PrincipalKind.CUSTOMER,
        minutes: int = 0,
        lifetime: timedelta = timedelta(days=30),
        **fields: Any,
    ) -> AuthSession:
        """A session of ``subject_id`` started ``minutes`` after T0 and living ``lifetime``."""
        created = T0 + timedelta(minutes=minutes)
        values: dict[str, Any] = {
            "id": uuid4(),
            "kind": kind,
            "subject_id": subject_id or uuid4(),
            "created_at": created,
            "expires_at": created + lifetime,
            "refresh_jti": uuid4(),
        }
        return AuthSession(**(values | fields))

    @staticmethod
    def _store(uow_factory: UnitOfWorkFactory, *sessions: AuthSession) -> None:
        _commit_all(uow_factory, "auth_sessions", sessions)

    @staticmethod
    def _rotate(session: AuthSession, now: datetime) -> None:
        session.refresh_jti = uuid4()
        session.refreshed_at = now
        session.version += 1

    def test_a_session_reads_back_equal_and_its_changes_are_stored(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        session = self.session(kind=PrincipalKind.STAFF)
        self._store(uow_factory, session)
        with uow_factory() as uow:
            assert uow.auth_sessions.get(session.id) == session
            assert uow.auth_sessions.get(uuid4()) is None
            locked = uow.auth_sessions.get_for_update(session.id)
            assert locked is uow.auth_sessions.get(session.id)
            assert locked is not None
            self._rotate(locked, T0 + timedelta(hours=1))
            locked.revoke(RevocationReason.LOGOUT, T0 + timedelta(hours=2))
            uow.commit()
        with uow_factory() as uow:
            stored = uow.auth_sessions.get(session.id)
            assert stored is not None
            assert stored == locked
            assert (stored.revoked_reason, stored.version) == (RevocationReason.LOGOUT, 2)
            assert uow.auth_sessions.get_for_update(uuid4()) is None

    @requires("interleaved_units_of_work")
    def test_a_change_to_a_session_someone_else_changed_first_is_stale(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        session = self.session()
        self._store(uow_factory, session)
        with uow_factory() as late:
            mine = late.auth_sessions.get(session.id)
            assert mine is not None
            with uow_factory() as early:
                theirs = early.auth_sessions.get(session.id)
                assert theirs is not None
                self._rotate(theirs, T0 + timedelta(minutes=1))
                early.commit()
            self._rotate(mine, T0 + timedelta(minutes=2))
            with pytest.raises(StaleVersionError) as caught:
                late.commit()
        assert (caught.value.expected, caught.value.actual) == (1, 2)
        with uow_factory() as uow:
            stored = uow.auth_sessions.get(session.id)
            assert stored is not None
            assert (stored.refresh_jti, stored.version) == (theirs.refresh_jti, 2)

    def test_list_for_subject_is_newest_first_and_active_at_filters(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        subject = uuid4()
        oldest = self.session(subject, minutes=0)
        expiring = self.session(subject, minutes=1, lifetime=timedelta(hours=1))
        revoked = self.session(subject, minutes=2)
        revoked.revoke(RevocationReason.REFRESH_REUSED, T0 + timedelta(minutes=3))
        newest = self.session(subject, minutes=4)
        same_id_other_kind = self.session(subject, kind=PrincipalKind.PARTNER, minutes=5)
        someone_else = self.session(minutes=6)
        self._store(
            uow_factory, newest, oldest, revoked, someone_else, expiring, same_id_other_kind
        )
        ends = expiring.expires_at
        with uow_factory() as uow:
            sessions = uow.auth_sessions

            def ids(**filters: Any) -> list[UUID]:
                listed = sessions.list_for_subject(PrincipalKind.CUSTOMER, subject, **filters)
                return [s.id for s in listed]

            assert ids() == [newest.id, revoked.id, expiring.id, oldest.id]
            assert ids(active_at=T0) == [newest.id, expiring.id, oldest.id]
            assert ids(active_at=ends - timedelta(microseconds=1)) == [
                newest.id,
                expiring.id,
                oldest.id,
            ]
            assert ids(active_at=ends) == [newest.id, oldest.id]
            assert ids(active_at=oldest.expires_at) == [newest.id]
            partner = sessions.list_for_subject("partner", subject)
            assert [s.id for s in partner] == [same_id_other_kind.id]
            assert sessions.list_for_subject(PrincipalKind.STAFF, subject) == []
            listed = sessions.list_for_subject(PrincipalKind.CUSTOMER, subject)
            assert listed[0] is sessions.get(newest.id)
            later = self.session(subject, minutes=10)
            sessions.add(later)
            oldest_now = sessions.get(oldest.id)
            assert oldest_now is not None
            oldest_now.revoke(RevocationReason.ADMIN, T0)
            assert ids(active_at=T0) == [later.id, newest.id, expiring.id]

    def test_delete_expired_removes_only_expired_sessions_and_counts_them(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        now = T0 + timedelta(hours=1)
        expired = self.session(lifetime=timedelta(minutes=10))
        revoked_and_expired = self.session(lifetime=timedelta(minutes=20))
        revoked_and_expired.revoke(RevocationReason.LOGOUT, T0)
        exactly_now = self.session(lifetime=timedelta(hours=1))
        live = self.session(lifetime=timedelta(hours=1, microseconds=1))
        revoked_but_live = self.session(lifetime=timedelta(days=1))
        revoked_but_live.revoke(RevocationReason.LOGOUT, T0)
        self._store(uow_factory, expired, revoked_and_expired, exactly_now, live, revoked_but_live)
        with uow_factory() as uow:
            assert uow.auth_sessions.delete_expired(now) == 3
        with uow_factory() as uow:
            assert uow.auth_sessions.get(expired.id) is not None  # not committed: still there
            assert uow.auth_sessions.delete_expired(now) == 3
            assert uow.auth_sessions.get(expired.id) is None
            assert uow.auth_sessions.delete_expired(now) == 0
            uow.commit()
        with uow_factory() as uow:
            for gone in (expired, revoked_and_expired, exactly_now):
                assert uow.auth_sessions.get(gone.id) is None
            for kept in (live, revoked_but_live):
                assert uow.auth_sessions.get(kept.id) == kept
            assert uow.auth_sessions.delete_expired(now) == 0
            assert uow.auth_sessions.delete_expired(live.expires_at) == 1
            uow.commit()
        with uow_factory() as uow:
            assert uow.auth_sessions.get(live.id) is None
            assert uow.auth_sessions.get(revoked_but_live.id) == revoked_but_live

    def test_delete_expired_judges_sessions_of_this_unit_of_work_as_they_are_now(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        now = T0 + timedelta(hours=1)
        shortened = self.session(lifetime=timedelta(days=1))
        extended = self.session(lifetime=timedelta(minutes=1))
        self._store(uow_factory, shortened, extended)
        with uow_factory() as uow:
            short = uow.auth_sessions.get(shortened.id)
            long = uow.auth_sessions.get(extended.id)
            assert short is not None
            assert long is not None
            short.expires_at = T0 + timedelta(minutes=5)
            long.expires_at = T0 + timedelta(days=2)
            added_expired = self.session(lifetime=timedelta(minutes=1))
            uow.auth_sessions.add(added_expired)
            assert uow.auth_sessions.delete_expired(now) == 2
            assert uow.auth_sessions.get(short.id) is None
            assert uow.auth_sessions.get(added_expired.id) is None
            uow.commit()
        with uow_factory() as uow:
            assert uow.auth_sessions.get(shortened.id) is None
            assert uow.auth_sessions.get(added_expired.id) is None
            stored = uow.auth_sessions.get(extended.id)
            assert stored is not None
            assert stored.expires_at == T0 + timedelta(days=2)

    @requires("concurrent_units_of_work")
    def test_get_for_update_lets_one_of_several_refreshes_rotate_the_token(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        session = self.session()
        self._store(uow_factory, session)
        presented = session.refresh_jti

        def refresh(worker: int) -> bool:
            with uow_factory() as uow:
                locked = uow.auth_sessions.get_for_update(session.id)
                assert locked is not None
                if locked.refresh_jti != presented:
                    return False  # spent: a real service would revoke the family here
                self._rotate(locked, T0 + timedelta(seconds=worker))
                uow.commit()
            return True

        rotated = _race(refresh, range(8))
        assert rotated.count(True) == 1
        with uow_factory() as uow:
            stored = uow.auth_sessions.get(session.id)
            assert stored is not None
            assert stored.version == 2
            assert stored.refresh_jti != presented


def _stored_slot_customers(
    uow_factory: UnitOfWorkFactory, make: Builder, customers: int = 1
) -> tuple[Slot, list[Customer]]:
    """Commit a location, a slot and ``customers`` customers; return the slot and customers."""
    location = make.location()
    slot = make.slot(location.id)
    people = [make.customer() for _ in range(customers)]
    with uow_factory() as uow:
        uow.locations.add(location)
        uow.slots.add(slot)
        for customer in people:
            uow.customers.add(customer)
        uow.commit()
    return slot, people


class BookingGroupRepositoryContract(_Base):
    """Booking groups: unique references, locks, versions, filtered newest-first pages.

    .. versionadded:: 0.1
    """

    def test_a_group_reads_back_equal_and_its_changes_are_stored(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        organizer, company = make.customer(), make.customer(name="Acme Travel Desk")
        group = make.group(
            organizer.id,
            group_reference="acme-offsite-2026",
            company_id=company.id,
            group_name="Acme offsite",
            total_participants=42,
        )
        with uow_factory() as uow:
            uow.customers.add(organizer)
            uow.customers.add(company)
            uow.groups.add(group)
            uow.commit()
        with uow_factory() as uow:
            assert uow.groups.get(group.id) == group
            assert uow.groups.get_by_reference(" Acme-Offsite-2026 ") == group
            assert uow.groups.get_by_reference("ACME-OTHER") is None
            assert uow.groups.get_by_reference("not a reference!") is None
            assert uow.groups.get(BookingGroupId(uuid4())) is None
            locked = uow.groups.get_for_update(group.id)
            assert locked is uow.groups.get(group.id)
            assert locked is not None
            locked.set_participants(40, now=T0 + timedelta(hours=1))
            locked.close(now=T0 + timedelta(hours=2))
            uow.commit()
        with uow_factory() as uow:
            stored = uow.groups.get(group.id)
        assert stored == locked
        assert (stored.group_reference, stored.total_participants) == ("ACME-OFFSITE-2026", 40)
        assert (stored.status, stored.version) == (BookingGroupStatus.CLOSED, 3)

    def test_a_group_reference_is_held_once(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        organizer = make.customer()
        with uow_factory() as uow:
            uow.customers.add(organizer)
            uow.groups.add(make.group(organizer.id, group_reference="SCHOOL-TRIP"))
            uow.commit()
        _assert_duplicate(
            uow_factory, "groups", make.group(organizer.id, group_reference="school-trip")
        )

    @requires("interleaved_units_of_work")
    def test_a_change_to_a_group_someone_else_changed_first_is_stale(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        organizer = make.customer()
        group = make.group(organizer.id)
        with uow_factory() as uow:
            uow.customers.add(organizer)
            uow.groups.add(group)
            uow.commit()
        stored = _assert_the_second_writer_is_stale(
            uow_factory,
            lambda uow: uow.groups.get(group.id),
            lambda theirs: theirs.rename("First name", now=T0),
            lambda mine: mine.rename("Second name", now=T0),
        )
        assert stored.group_name == "First name"

    def test_list_filters_by_status_and_customer_newest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        organizer, company, other = make.customer(), make.customer(), make.customer()
        minutes = itertools.count()

        def group(**fields: Any) -> BookingGroup:
            at = T0 + timedelta(minutes=next(minutes) // 2)  # pairs share a time
            return make.group(fields.pop("organizer_id", organizer.id), created_at=at, **fields)

        groups = [group() for _ in range(5)]
        corporate = group(organizer_id=other.id, company_id=company.id)
        closed = group(status=BookingGroupStatus.CLOSED)
        theirs = group(organizer_id=other.id)
        with uow_factory() as uow:
            for customer in (organizer, company, other):
                uow.customers.add(customer)
            for item in (*groups, corporate, closed, theirs):
                uow.groups.add(item)
            uow.commit()

        def walks(expected: list[BookingGroup], **filters: Any) -> None:
            assert_pages_walk(
                uow_factory,
                lambda uow, page: uow.groups.list(page, **filters),
                expected,
                limits=(1, 3),
                label=filters,
            )

        walks([*groups, corporate, closed, theirs])
        walks([closed], status=BookingGroupStatus.CLOSED)
        walks([*groups, closed], customer_id=organizer.id)
        walks([corporate], customer_id=company.id)
        walks([corporate, theirs], customer_id=other.id)
        walks([], customer_id=other.id, status=BookingGroupStatus.CANCELLED)
        with uow_factory() as uow:
            added = make.group(company.id, created_at=T0 + timedelta(days=1))
            uow.groups.add(added)
            first = uow.groups.list(PageRequest(limit=1), customer_id=company.id).items
            assert [g.id for g in first] == [added.id]

    # --- group search (issue 22) ---

    def test_list_searches_references_and_names_case_insensitively(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        organizer = make.customer()
        offsite = make.group(organizer.id, group_reference="ACME-2026", group_name="Team Offsite")
        school = make.group(organizer.id, group_reference="SCHOOL_1", group_name="50% off_trip")
        plain = make.group(organizer.id, group_reference="DIVE-7", group_name="Reef week")
        with uow_factory() as uow:
            uow.customers.add(organizer)
            for item in (offsite, school, plain):
                uow.groups.add(item)
            uow.commit()

        def ids(search: str, **filters: Any) -> set[UUID]:
            with uow_factory() as uow:
                page = uow.groups.list(PageRequest(limit=50), search=search, **filters)
            return {g.id for g in page.items}

        assert ids("acme") == {offsite.id}
        assert ids("OFFSITE") == {offsite.id}
        assert ids("e") == {offsite.id, plain.id}
        assert ids("_") == {school.id}
        assert ids("%") == {school.id}  # LIKE wildcards are matched literally
        assert ids("f_t") == {school.id}
        assert ids("school") == {school.id}
        assert ids("zzz") == set()
        assert ids("reef", status=BookingGroupStatus.CLOSED) == set()


class BookingItemRepositoryContract(_Base):
    """Bookings' line items: every field round trips, per booking oldest first, versions.

    .. versionadded:: 0.1
    """

    def test_items_read_back_equal_per_booking_oldest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        other = _stored_booking(uow_factory, make)
        supplier = make.supplier()
        product = make.product(supplier_id=supplier.id)
        hotel = make.booking_item(
            booking.id,
            kind=BookingItemKind.HOTEL,
            description="Two nights at the base camp lodge, twin room",
            quantity=2,
            unit_price=Money("3499.50", "INR"),
            product_id=product.id,
            supplier_id=supplier.id,
            service_starts_on=date(2026, 1, 7),
            service_ends_on=date(2026, 1, 9),
            supplier_reference="LODGE-778",
            metadata={"room": "twin", "meal_plan": "MAP"},
            created_at=T0 + timedelta(minutes=2),
        )
        transfer = make.booking_item(
            booking.id, kind="ground_service", created_at=T0 + timedelta(minutes=1)
        )
        theirs = make.booking_item(other.id)
        with uow_factory() as uow:
            uow.suppliers.add(supplier)
            uow.products.add(product)
            for item in (hotel, transfer, theirs):
                uow.booking_items.add(item)
            uow.commit()
        with uow_factory() as uow:
            assert uow.booking_items.get(hotel.id) == hotel
            assert uow.booking_items.get(BookingItemId(uuid4())) is None
            assert list(uow.booking_items.list_for_booking(booking.id)) == [transfer, hotel]
            assert list(uow.booking_items.list_for_booking(other.id)) == [theirs]
            stored = uow.booking_items.get(hotel.id)
            assert stored is not None
            assert stored.total == Money("6999.00", "INR")
            stored.confirm(now=T0 + timedelta(hours=1), supplier_reference="LODGE-779")
            transfer_now = uow.booking_items.get(transfer.id)
            assert transfer_now is not None
            transfer_now.cancel(now=T0 + timedelta(hours=1))
            uow.commit()
        with uow_factory() as uow:
            listed = uow.booking_items.list_for_booking(booking.id)
            assert [(i.status, i.version) for i in listed] == [
                (BookingItemStatus.CANCELLED, 2),
                (BookingItemStatus.CONFIRMED, 2),
            ]
            assert listed[1].supplier_reference == "LODGE-779"
            assert listed[1] == stored

    @requires("interleaved_units_of_work")
    def test_a_change_to_an_item_someone_else_changed_first_is_stale(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        item = make.booking_item(booking.id)
        _committed(uow_factory, "booking_items", item)
        stored = _assert_the_second_writer_is_stale(
            uow_factory,
            lambda uow: uow.booking_items.get(item.id),
            lambda theirs: theirs.change_quantity(3, now=T0),
            lambda mine: mine.change_quantity(5, now=T0),
        )
        assert (stored.quantity, stored.version) == (3, 2)


class WaitlistRepositoryContract(_Base):
    """Waiting lists: one active entry per customer and slot, offer order, positions, locks.

    .. versionadded:: 0.1
    """

    def test_an_entry_reads_back_equal_through_every_lookup(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        slot, (customer,) = _stored_slot_customers(uow_factory, make)
        entry = make.waitlist_entry(
            slot.id,
            customer.id,
            seats=3,
            position=7,
            priority=WaitlistPriority.HIGH,
            preferred_contact_method=Channel.SMS,
            alternative_dates=[date(2026, 2, 14), date(2026, 2, 1)],
            notes="Vegetarian meals; can leave at short notice",
        )
        _committed(uow_factory, "waitlist", entry)
        with uow_factory() as uow:
            stored = uow.waitlist.get(entry.id)
            assert stored == entry
            assert stored is not None
            assert stored.alternative_dates == (date(2026, 2, 1), date(2026, 2, 14))
            assert uow.waitlist.get_active(slot.id, customer.id) is stored
            assert uow.waitlist.get_active(slot.id, CustomerId(uuid4())) is None
            assert uow.waitlist.get(WaitlistEntryId(uuid4())) is None
            assert uow.waitlist.get_for_update(entry.id) is stored
            assert list(uow.waitlist.list_for_customer(customer.id, PageRequest())) == [stored]

    def test_waiting_entries_are_found_by_an_alternative_date(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``list_waiting_for_day``: waiting entries of the product's other slots at the
        location that list the day, in the order they joined; nobody else.

        .. versionadded:: 0.4
        """
        day, other_day = date(2026, 3, 14), date(2026, 3, 15)
        here, there = make.location(), make.location()
        trek, dive = make.product(), make.product()
        freed = make.slot(here.id, product_id=trek.id)
        first = make.slot(here.id, product_id=trek.id, starts_at=T0 + timedelta(days=3))
        second = make.slot(here.id, product_id=trek.id, starts_at=T0 + timedelta(days=4))
        diving = make.slot(here.id, product_id=dive.id)
        elsewhere = make.slot(there.id, product_id=trek.id)
        people = [make.customer() for _ in range(8)]

        def entry(slot: Slot, n: int, dates: list[date], **fields: Any) -> WaitlistEntry:
            joined = T0 + timedelta(minutes=n)
            return make.waitlist_entry(
                slot.id,
                people[n].id,
                alternative_dates=dates,
                created_at=joined,
                updated_at=joined,
                **fields,
            )

        later = entry(first, 5, [other_day, day])
        earlier = entry(second, 1, [day])
        entries = [
            later,
            earlier,
            entry(first, 0, [other_day]),  # another day
            entry(diving, 2, [day]),  # another product
            entry(elsewhere, 3, [day]),  # another location
            entry(freed, 4, [day]),  # the freed slot's own list
            entry(second, 6, [day], status=WaitlistStatus.CANCELLED),  # ended
            entry(
                first,
                7,
                [day],
                status=WaitlistStatus.OFFERED,
                offered_at=T0,
                offer_expires_at=T0 + timedelta(days=1),
            ),  # offered already
        ]
        with uow_factory() as uow:
            uow.locations.add(here)
            uow.locations.add(there)
            uow.products.add(trek)
            uow.products.add(dive)
            for slot in (freed, first, second, diving, elsewhere):
                uow.slots.add(slot)
            for customer in people:
                uow.customers.add(customer)
            for waiting in entries:
                uow.waitlist.add(waiting)
            # Uncommitted entries are found inside their unit of work.
            found = uow.waitlist.list_waiting_for_day(trek.id, here.id, day, other_than=freed.id)
            assert [e.id for e in found] == [earlier.id, later.id]
            uow.commit()
        with uow_factory() as uow:
            found = uow.waitlist.list_waiting_for_day(trek.id, here.id, day, other_than=freed.id)
            assert [e.id for e in found] == [earlier.id, later.id]
            assert found[0] == earlier
            mine = uow.waitlist.list_waiting_for_day(trek.id, here.id, day, other_than=first.id)
            assert [e.id for e in mine] == [earlier.id, entries[5].id]
            assert not uow.waitlist.list_waiting_for_day(
                trek.id, here.id, date(2026, 3, 16), other_than=freed.id
            )
            # A change made in the unit of work counts before it is committed.
            stored = uow.waitlist.get_for_update(earlier.id)
            assert stored is not None
            stored.cancel(now=T0 + timedelta(hours=1))
            found = uow.waitlist.list_waiting_for_day(trek.id, here.id, day, other_than=freed.id)
            assert [e.id for e in found] == [later.id]

    def test_an_offer_on_an_alternative_slot_names_it_and_can_be_passed(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``offered_slot_id`` reads back; passing the offer drops the date, waits again.

        .. versionadded:: 0.4
        """
        slot, (customer,) = _stored_slot_customers(uow_factory, make)
        other = make.slot(slot.location_id, starts_at=T0 + timedelta(days=9))
        day = date(2026, 3, 14)
        entry = make.waitlist_entry(
            slot.id, customer.id, position=4, alternative_dates=[day, date(2026, 3, 20)]
        )
        with uow_factory() as uow:
            uow.slots.add(other)
            uow.waitlist.add(entry)
            uow.commit()
        with uow_factory() as uow:
            locked = uow.waitlist.get_for_update(entry.id)
            assert locked is not None
            locked.offer(now=T0, expires_at=T0 + timedelta(hours=2), slot_id=other.id)
            uow.commit()
        with uow_factory() as uow:
            offered = uow.waitlist.get_for_update(entry.id)
            assert offered is not None
            assert (offered.offered_slot_id, offered.offer_slot_id) == (other.id, other.id)
            assert offered.holds_alternative
            offered.pass_alternative(day, now=T0 + timedelta(hours=3))
            uow.commit()
        with uow_factory() as uow:
            waiting = uow.waitlist.get(entry.id)
            assert waiting is not None
            assert (waiting.status, waiting.position, waiting.offered_slot_id) == (
                WaitlistStatus.WAITING,
                4,
                None,
            )
            assert waiting.alternative_dates == (date(2026, 3, 20),)
            assert waiting.offer_slot_id == slot.id

    def test_a_customer_s_offers_are_found_by_the_slot_they_hold_seats_on(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``list_offers_on``: the customer's offered entries whose seats are held on the
        slot (their own entry's offer there, offers for an alternative date, open or run
        out), in the order they joined; nobody else's, and no other slot's.

        .. versionadded:: 0.4
        """
        slot, (me, other) = _stored_slot_customers(uow_factory, make, customers=2)
        there = make.slot(slot.location_id, starts_at=T0 + timedelta(days=9))
        third = make.slot(slot.location_id, starts_at=T0 + timedelta(days=11))
        offered = {"status": WaitlistStatus.OFFERED, "offered_at": T0}

        def entry(on: Slot, who: Customer, minute: int, **fields: Any) -> WaitlistEntry:
            joined = T0 - timedelta(minutes=minute)
            return make.waitlist_entry(
                on.id, who.id, created_at=joined, updated_at=joined, **fields
            )

        alternative = entry(
            there,
            me,
            5,
            offered_slot_id=slot.id,
            offer_expires_at=T0 + timedelta(hours=1),
            **offered,
        )
        own = entry(slot, me, 9, offer_expires_at=T0 + timedelta(hours=2), **offered)
        ran_out = entry(
            third,
            me,
            1,
            offered_slot_id=slot.id,
            offer_expires_at=T0 + timedelta(seconds=1),
            **offered,
        )
        entries = [
            alternative,
            own,
            ran_out,
            # the customer's other holds, and another customer's offer on the slot
            entry(there, me, 2, status=WaitlistStatus.CANCELLED, offered_slot_id=slot.id),
            entry(slot, other, 3, offer_expires_at=T0 + timedelta(hours=1), **offered),
            entry(
                third,
                other,
                4,
                offered_slot_id=slot.id,
                offer_expires_at=T0 + timedelta(hours=1),
                **offered,
            ),
        ]
        with uow_factory() as uow:
            uow.slots.add(there)
            uow.slots.add(third)
            for made in entries:
                uow.waitlist.add(made)
            # Uncommitted entries are found inside their unit of work.
            found = uow.waitlist.list_offers_on(slot.id, me.id)
            assert [e.id for e in found] == [own.id, alternative.id, ran_out.id]
            uow.commit()
        with uow_factory() as uow:
            found = uow.waitlist.list_offers_on(slot.id, me.id)
            assert [e.id for e in found] == [own.id, alternative.id, ran_out.id]
            assert found[1] == alternative
            assert not uow.waitlist.list_offers_on(there.id, me.id)  # waits there, not offered
            assert not uow.waitlist.list_offers_on(slot.id, CustomerId(uuid4()))
            # A change made in the unit of work counts before it is committed.
            locked = uow.waitlist.get_for_update(alternative.id)
            assert locked is not None
            locked.pass_alternative(date(2026, 3, 14), now=T0 + timedelta(minutes=1))
            found = uow.waitlist.list_offers_on(slot.id, me.id)
            assert [e.id for e in found] == [own.id, ran_out.id]

    def test_offers_and_bookings_are_stored(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        entry = make.waitlist_entry(booking.slot_id, booking.customer_id)
        _committed(uow_factory, "waitlist", entry)
        offered_at, expires_at = T0 + timedelta(hours=1), T0 + timedelta(hours=25)
        with uow_factory() as uow:
            locked = uow.waitlist.get_for_update(entry.id)
            assert locked is not None
            locked.offer(now=offered_at, expires_at=expires_at)
            uow.commit()
        with uow_factory() as uow:
            offered = uow.waitlist.get(entry.id)
            assert offered is not None
            assert (offered.status, offered.offered_at, offered.offer_expires_at) == (
                WaitlistStatus.OFFERED,
                offered_at,
                expires_at,
            )
            offered.book(booking_id=booking.id, now=offered_at + timedelta(hours=2))
            uow.commit()
        with uow_factory() as uow:
            booked = uow.waitlist.get(entry.id)
            assert booked is not None
            assert (booked.status, booked.booking_id, booked.version) == (
                WaitlistStatus.BOOKED,
                booking.id,
                3,
            )
            assert uow.waitlist.get_active(booking.slot_id, booking.customer_id) is None

    def test_a_second_active_entry_of_a_customer_on_a_slot_is_a_duplicate(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        slot, (customer, other) = _stored_slot_customers(uow_factory, make, customers=2)
        first = make.waitlist_entry(slot.id, customer.id)
        with uow_factory() as uow:
            uow.waitlist.add(first)
            uow.waitlist.add(make.waitlist_entry(slot.id, other.id, position=2))
            uow.commit()
        refused = _assert_duplicate(
            uow_factory, "waitlist", make.waitlist_entry(slot.id, customer.id, position=3)
        )
        assert refused.existing_id == first.id
        with uow_factory() as uow:  # an offered entry is still active
            stored = uow.waitlist.get(first.id)
            assert stored is not None
            stored.offer(now=T0, expires_at=T0 + timedelta(days=1))
            uow.commit()
        _assert_duplicate(
            uow_factory, "waitlist", make.waitlist_entry(slot.id, customer.id, position=3)
        )
        with uow_factory() as uow:
            mine = uow.waitlist.list_for_customer(customer.id, PageRequest())
            assert [e.id for e in mine] == [first.id]

    def test_a_customer_may_join_again_once_their_entry_ended(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        slot, (customer,) = _stored_slot_customers(uow_factory, make)
        first = make.waitlist_entry(slot.id, customer.id)
        _committed(uow_factory, "waitlist", first)
        with uow_factory() as uow:
            stored = uow.waitlist.get(first.id)
            assert stored is not None
            stored.cancel(now=T0 + timedelta(minutes=1))
            assert uow.waitlist.get_active(slot.id, customer.id) is None
            uow.commit()
        rejoined = make.waitlist_entry(
            slot.id, customer.id, position=2, created_at=T0 + timedelta(minutes=1)
        )
        with uow_factory() as uow:
            uow.waitlist.add(rejoined)
            assert uow.waitlist.get_active(slot.id, customer.id) is rejoined
            uow.commit()
        with uow_factory() as uow:
            active = uow.waitlist.get_active(slot.id, customer.id)
            assert active is not None
            assert active.id == rejoined.id
            active.cancel(now=T0 + timedelta(minutes=2))
            uow.commit()
        third = make.waitlist_entry(
            slot.id, customer.id, position=3, created_at=T0 + timedelta(minutes=2)
        )
        _committed(uow_factory, "waitlist", third)
        fourth = make.waitlist_entry(
            slot.id, customer.id, position=4, created_at=T0 + timedelta(minutes=3)
        )
        with uow_factory() as uow:  # giving the place up and taking it again: one commit
            active = uow.waitlist.get_active(slot.id, customer.id)
            assert active is not None
            active.cancel(now=T0 + timedelta(minutes=3))
            uow.waitlist.add(fourth)
            uow.commit()
        with uow_factory() as uow:
            entries = uow.waitlist.list_for_customer(customer.id, PageRequest())
            assert [(e.id, e.status) for e in entries] == [
                (fourth.id, WaitlistStatus.WAITING),
                (third.id, WaitlistStatus.CANCELLED),
                (rejoined.id, WaitlistStatus.CANCELLED),
                (first.id, WaitlistStatus.CANCELLED),
            ]
            assert uow.waitlist.get_active(slot.id, customer.id) == fourth

    def test_pages_walk_every_entry_of_a_customer_once_newest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """A customer's entries, in any status and on any slot, list newest first a
        keyset page at a time; another customer's never come.

        .. versionadded:: 0.3
        """
        slot, (asha, ravi) = _stored_slot_customers(uow_factory, make, customers=2)
        other_slot, _ = _stored_slot_customers(uow_factory, make)
        # Pairs share a creation time so the id must break ties; one active entry
        # per customer and slot, the rest ended.
        entries = [
            make.waitlist_entry(
                (slot, other_slot)[n % 2].id,
                (asha, ravi)[n % 3 == 0].id,
                position=n + 1,
                status=WaitlistStatus.WAITING if n < 4 else WaitlistStatus.CANCELLED,
                created_at=T0 + timedelta(minutes=n // 2),
            )
            for n in range(11)
        ]
        _commit_all(uow_factory, "waitlist", entries)
        _assert_each_customer_walks(
            uow_factory,
            lambda customer_id, uow, page: uow.waitlist.list_for_customer(customer_id, page),
            entries,
            (asha, ravi),
        )
        with uow_factory() as uow:
            nobody = uow.waitlist.list_for_customer(CustomerId(uuid4()), PageRequest())
            assert (list(nobody), nobody.next_cursor) == ([], None)

    def test_list_for_slot_is_in_offer_order(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        slot, people = _stored_slot_customers(uow_factory, make, customers=6)
        other_slot, (stranger,) = _stored_slot_customers(uow_factory, make)
        low = make.waitlist_entry(slot.id, people[0].id, position=1, priority="low")
        normal_late = make.waitlist_entry(slot.id, people[1].id, position=5)
        high = make.waitlist_entry(slot.id, people[2].id, position=6, priority="high")
        normal_early = make.waitlist_entry(slot.id, people[3].id, position=2)
        cancelled = make.waitlist_entry(
            slot.id, people[4].id, position=3, status=WaitlistStatus.CANCELLED
        )
        tie = make.waitlist_entry(
            slot.id, people[5].id, position=5, created_at=T0 - timedelta(minutes=1)
        )
        elsewhere = make.waitlist_entry(other_slot.id, stranger.id, priority="high")
        _commit_all(
            uow_factory,
            "waitlist",
            (low, normal_late, high, normal_early, cancelled, tie, elsewhere),
        )
        with uow_factory() as uow:
            listed = [e.id for e in uow.waitlist.list_for_slot(slot.id)]
            assert listed == [
                high.id,
                normal_early.id,
                cancelled.id,
                tie.id,
                normal_late.id,
                low.id,
            ]
            active = [e.id for e in uow.waitlist.list_for_slot(slot.id, active_only=True)]
            assert active == [high.id, normal_early.id, tie.id, normal_late.id, low.id]
            moved = uow.waitlist.get(low.id)
            assert moved is not None
            moved.set_priority(WaitlistPriority.HIGH, now=T0)
            gone = uow.waitlist.get(high.id)
            assert gone is not None
            gone.cancel(now=T0)
            active = [e.id for e in uow.waitlist.list_for_slot(slot.id, active_only=True)]
            assert active == [low.id, normal_early.id, tie.id, normal_late.id]
            assert [e.id for e in uow.waitlist.list_for_slot(other_slot.id)] == [elsewhere.id]

    def test_next_position_follows_every_entry_the_slot_ever_had(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        slot, (first, second, third) = _stored_slot_customers(uow_factory, make, customers=3)
        other_slot, (stranger,) = _stored_slot_customers(uow_factory, make)
        with uow_factory() as uow:
            assert uow.waitlist.next_position(slot.id) == 1
            uow.waitlist.add(make.waitlist_entry(slot.id, first.id, position=1))
            uow.waitlist.add(
                make.waitlist_entry(slot.id, second.id, position=4, status=WaitlistStatus.CANCELLED)
            )
            uow.waitlist.add(make.waitlist_entry(other_slot.id, stranger.id, position=9))
            assert uow.waitlist.next_position(slot.id) == 5  # uncommitted entries count
            uow.commit()
        with uow_factory() as uow:
            assert uow.waitlist.next_position(slot.id) == 5  # an ended entry keeps its place
            assert uow.waitlist.next_position(other_slot.id) == 10
            uow.waitlist.add(make.waitlist_entry(slot.id, third.id, position=5))
            assert uow.waitlist.next_position(slot.id) == 6

    def test_expired_offers_are_listed_longest_expired_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        slot, people = _stored_slot_customers(uow_factory, make, customers=4)
        now = T0 + timedelta(days=2)

        def offered(customer: Customer, expires_in: timedelta) -> WaitlistEntry:
            entry = make.waitlist_entry(slot.id, customer.id)
            entry.offer(now=T0, expires_at=now + expires_in)
            return entry

        late = offered(people[0], -timedelta(hours=1))
        later = offered(people[1], -timedelta(minutes=1))
        exactly_now = offered(people[2], timedelta(0))
        still_open = offered(people[3], timedelta(seconds=1))
        _commit_all(uow_factory, "waitlist", (still_open, exactly_now, later, late))
        with uow_factory() as uow:
            due = [e.id for e in uow.waitlist.list_expired_offers(now, 10)]
            assert due == [late.id, later.id, exactly_now.id]
            assert [e.id for e in uow.waitlist.list_expired_offers(now, 1)] == [late.id]
            ended = uow.waitlist.get(late.id)
            assert ended is not None
            ended.expire(now=now)
            assert [e.id for e in uow.waitlist.list_expired_offers(now, 10)] == [
                later.id,
                exactly_now.id,
            ]

    # --- waiting entries of started slots (issue 22) ---

    def test_waiting_entries_of_started_slots_are_listed_oldest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        early, people = _stored_slot_customers(uow_factory, make, customers=3)
        location = make.location()
        later = make.slot(location.id, starts_at=early.starts_at + timedelta(days=3))
        with uow_factory() as uow:
            uow.locations.add(location)
            uow.slots.add(later)
            uow.commit()
        first = make.waitlist_entry(early.id, people[0].id, created_at=T0)
        second = make.waitlist_entry(early.id, people[1].id, created_at=T0 + timedelta(hours=1))
        offered = make.waitlist_entry(early.id, people[2].id, created_at=T0)
        offered.offer(now=T0, expires_at=T0 + timedelta(days=1))
        not_yet = make.waitlist_entry(later.id, people[0].id, created_at=T0 + timedelta(minutes=30))
        _commit_all(uow_factory, "waitlist", (second, offered, not_yet, first))
        with uow_factory() as uow:
            assert (
                uow.waitlist.list_waiting_past_start(early.starts_at - timedelta(seconds=1), 10)
                == []
            )
            due = uow.waitlist.list_waiting_past_start(early.starts_at, 10)
            assert [e.id for e in due] == [first.id, second.id]
            assert [e.id for e in uow.waitlist.list_waiting_past_start(early.starts_at, 1)] == [
                first.id
            ]
            everything = uow.waitlist.list_waiting_past_start(later.starts_at, 10)
            assert [e.id for e in everything] == [first.id, not_yet.id, second.id]

    def test_entries_still_waiting_for_an_alternative_date_are_not_past_start(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``list_waiting_past_start(..., waiting_from=day)`` leaves out entries listing
        a date on or after ``day``.

        .. versionadded:: 0.4
        """
        slot, people = _stored_slot_customers(uow_factory, make, customers=3)
        day = date(2026, 3, 14)
        done = make.waitlist_entry(slot.id, people[0].id, alternative_dates=[date(2026, 3, 13)])
        on_it = make.waitlist_entry(slot.id, people[1].id, alternative_dates=[day])
        later = make.waitlist_entry(
            slot.id, people[2].id, alternative_dates=[date(2026, 3, 1), date(2026, 4, 1)]
        )
        with uow_factory() as uow:
            for entry in (done, on_it, later):
                uow.waitlist.add(entry)
            found = uow.waitlist.list_waiting_past_start(slot.starts_at, 10, waiting_from=day)
            assert [e.id for e in found] == [done.id]
            uow.commit()
        with uow_factory() as uow:
            found = uow.waitlist.list_waiting_past_start(slot.starts_at, 10, waiting_from=day)
            assert [e.id for e in found] == [done.id]
            every = uow.waitlist.list_waiting_past_start(slot.starts_at, 10)
            assert {e.id for e in every} == {done.id, on_it.id, later.id}

    @requires("interleaved_units_of_work")
    def test_a_change_to_an_entry_someone_else_changed_first_is_stale(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        slot, (customer,) = _stored_slot_customers(uow_factory, make)
        entry = make.waitlist_entry(slot.id, customer.id)
        _committed(uow_factory, "waitlist", entry)
        stored = _assert_the_second_writer_is_stale(
            uow_factory,
            lambda uow: uow.waitlist.get(entry.id),
            lambda theirs: theirs.cancel(now=T0),
            lambda mine: mine.offer(now=T0, expires_at=T0 + timedelta(hours=1)),
        )
        assert stored.status is WaitlistStatus.CANCELLED

    @requires("concurrent_units_of_work")
    def test_get_for_update_lets_one_of_several_offers_through(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        slot, (customer,) = _stored_slot_customers(uow_factory, make)
        entry = make.waitlist_entry(slot.id, customer.id)
        _committed(uow_factory, "waitlist", entry)

        def offer(worker: int) -> bool:
            with uow_factory() as uow:
                locked = uow.waitlist.get_for_update(entry.id)
                assert locked is not None
                if locked.status is not WaitlistStatus.WAITING:
                    return False  # someone offered it first
                at = T0 + timedelta(seconds=worker)
                locked.offer(now=at, expires_at=at + timedelta(hours=1))
                uow.commit()
            return True

        offered = _race(offer, range(6))
        assert offered.count(True) == 1
        with uow_factory() as uow:
            stored = uow.waitlist.get(entry.id)
            assert stored is not None
            assert (stored.status, stored.version) == (WaitlistStatus.OFFERED, 2)


class PaymentRepositoryContract(_Base):
    """Payments and refunds: unique provider references, webhooks applied once, versions.

    .. versionadded:: 0.1
    """

    def test_a_payment_reads_back_equal_through_every_lookup(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        payment = make.payment(
            booking,
            provider="Razorpay",
            provider_reference="order_Nx81",
            idempotency_key="intent:booking:1",
            metadata={"checkout": "hosted"},
        )
        payment.apply_event("evt_1", "requires_action", now=T0 + timedelta(minutes=1))
        payment.apply_event("evt_2", "failed", now=T0 + timedelta(minutes=2), reason="declined")
        payment.apply_event(
            "evt_3", "captured", now=T0 + timedelta(minutes=3), amount=Money("60", "INR")
        )
        _committed(uow_factory, "payments", payment)
        with uow_factory() as uow:
            stored = uow.payments.get(payment.id)
            assert stored == payment
            assert stored is not None
            assert stored.processed_event_ids == frozenset({"evt_1", "evt_2", "evt_3"})
            assert (stored.captured_amount, stored.failure_reason) == (
                Money("60", "INR"),
                "declined",
            )
            assert uow.payments.get_by_provider_reference("RAZORPAY", "order_Nx81") is stored
            assert uow.payments.get_by_provider_reference("stripe", "order_Nx81") is None
            assert uow.payments.get_by_provider_reference("razorpay", "order_Nx82") is None
            assert uow.payments.get_by_provider_reference("no such provider!", "x") is None
            assert uow.payments.get_by_idempotency_key("intent:booking:1") is stored
            assert uow.payments.get_by_idempotency_key("intent:booking:2") is None
            assert uow.payments.get_for_update(payment.id) is stored
            assert uow.payments.get(PaymentId(uuid4())) is None

    @pytest.mark.parametrize("key", ["provider_reference", "idempotency_key"])
    def test_provider_reference_and_idempotency_key_are_unique(
        self, uow_factory: UnitOfWorkFactory, make: Builder, key: str
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        _committed(uow_factory, "payments", make.payment(booking, **{key: "SAME-1"}))
        _assert_duplicate(uow_factory, "payments", make.payment(booking, **{key: "SAME-1"}))

    def test_one_reference_may_exist_at_two_providers_and_many_payments_have_none(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        at_stripe = make.payment(booking, provider="stripe", provider_reference="ref_1")
        at_razorpay = make.payment(booking, provider="razorpay", provider_reference="ref_1")
        cash = [make.payment(booking, provider="manual", provider_reference=None) for _ in "ab"]
        _commit_all(uow_factory, "payments", (at_stripe, at_razorpay, *cash))
        with uow_factory() as uow:
            assert uow.payments.get_by_provider_reference("stripe", "ref_1") == at_stripe
            assert uow.payments.get_by_provider_reference("razorpay", "ref_1") == at_razorpay

    def test_lists_per_booking_and_customer_are_oldest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        other = _stored_booking(uow_factory, make)
        second = make.payment(booking, created_at=T0 + timedelta(minutes=2))
        first = make.payment(booking, created_at=T0 + timedelta(minutes=1))
        theirs = make.payment(other)
        _commit_all(uow_factory, "payments", (second, theirs, first))
        with uow_factory() as uow:
            assert list(uow.payments.list_for_booking(booking.id)) == [first, second]
            assert list(uow.payments.list_for_customer(booking.customer_id)) == [first, second]
            assert list(uow.payments.list_for_customer(other.customer_id)) == [theirs]
            added = make.payment(booking, created_at=T0)
            uow.payments.add(added)
            assert [p.id for p in uow.payments.list_for_booking(booking.id)] == [
                added.id,
                first.id,
                second.id,
            ]

    def test_tally_reconciliation_sums_amounts_near_the_largest_exactly(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """A booking's captured and refunded sums are exact to their last digit however
        large the amounts (binary floats are a ten-thousandth off at these).

        .. versionadded:: 0.4
        """
        price, back = _NEAR_THE_LARGEST[0], _NEAR_THE_LARGEST[1]
        location = make.location()
        slot = make.slot(location.id, price_per_traveler=price)
        customer = make.customer()
        traveler = make.traveler(customer.id)
        booking = make.booking(customer.id, slot, [traveler.id], status="confirmed")
        payment = make.payment(booking, captured_amount=price, refunded_amount=back)
        with uow_factory() as uow:
            uow.locations.add(location)
            uow.slots.add(slot)
            uow.customers.add(customer)
            uow.travelers.add(traveler)
            uow.bookings.add(booking)
            uow.payments.add(payment)
            uow.commit()
        with uow_factory() as uow:
            tally = uow.payments.tally_reconciliation(
                T0, T0 + timedelta(days=1), StatusSet({"cancelled"})
            )
        (line,) = tally.bookings
        assert (line.total, line.captured, line.refunded) == (
            price.amount,
            price.amount,
            back.amount,
        )

    def test_tally_reconciliation_sums_each_booking_and_finds_the_stray_payments(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``tally_reconciliation`` (0.4): the period's active bookings oldest first,
        with exact sums of their payments in their currency and those payments' ids
        oldest first; then the payments holding money none of them accounts for, in
        the bookings' order, then in the order of their customers' first booking."""
        location = make.location()
        slot = make.slot(location.id)
        ana, ben, cai = (make.customer() for _ in range(3))
        travelers = {c.id: make.traveler(c.id) for c in (ana, ben, cai)}
        hour = timedelta(hours=1)

        def booked(customer: Customer, at: datetime, status: str = "confirmed") -> Booking:
            return make.booking(
                customer.id,
                slot,
                [travelers[customer.id].id],
                status=status,
                created_at=at,
                updated_at=at,
            )

        before = booked(ana, T0 - 24 * hour)
        paid = booked(ana, T0 + hour)
        cancelled = booked(ben, T0 + hour / 2, status="cancelled")
        unpaid = booked(ana, T0 + 3 * hour)
        after = booked(cai, T0 + 25 * hour)
        currency = paid.currency
        other = "USD" if currency != "USD" else "EUR"

        def pay(
            booking: Booking, at: datetime, captured: str, refunded: str = "0", **fields: Any
        ) -> Payment:
            money = fields.pop("currency", booking.currency)
            return make.payment(
                booking,
                amount=Money("500", money),
                captured_amount=Money(captured, money),
                refunded_amount=Money(refunded, money),
                created_at=at,
                updated_at=at,
                **fields,
            )

        later = pay(paid, T0 + 2 * hour, "100.25", "40.10")
        sooner = pay(paid, T0 + hour * 1.5, "50")
        failed = pay(paid, T0 + hour * 1.6, "0")
        foreign = pay(paid, T0 + hour * 1.7, "10", currency=other)
        kept = pay(cancelled, T0 + hour, "20", "5")
        refused = pay(cancelled, T0 + hour, "0")
        elsewhere = pay(before, T0 + 4 * hour, "30")
        too_early = pay(before, T0 - hour, "30")
        by_someone_else = pay(before, T0 + 5 * hour, "30", customer_id=cai.id)
        tomorrow = pay(after, T0 + 26 * hour, "30", customer_id=ana.id)
        with uow_factory() as uow:
            uow.locations.add(location)
            uow.slots.add(slot)
            for customer in (ana, ben, cai):
                uow.customers.add(customer)
                uow.travelers.add(travelers[customer.id])
            for booking in (before, paid, cancelled, unpaid, after):
                uow.bookings.add(booking)
            for payment in (later, sooner, failed, foreign, kept, refused, elsewhere):
                uow.payments.add(payment)
            for payment in (too_early, by_someone_else, tomorrow):
                uow.payments.add(payment)
            uow.commit()
        with uow_factory() as uow:
            tally = uow.payments.tally_reconciliation(
                T0, T0 + 24 * hour, StatusSet(names={"cancelled"})
            )
            assert tally.bookings == (
                PaidBookingTally(
                    paid.id,
                    paid.reference,
                    "confirmed",
                    currency,
                    paid.total.amount,
                    Decimal("150.25"),
                    Decimal("40.10"),
                    (sooner.id, failed.id, later.id),
                ),
                PaidBookingTally(
                    unpaid.id,
                    unpaid.reference,
                    "confirmed",
                    currency,
                    unpaid.total.amount,
                    Decimal(0),
                    Decimal(0),
                ),
            )
            assert tally.held == (
                HeldPaymentTally(
                    kept.id,
                    cancelled.id,
                    "stripe",
                    kept.provider_reference,
                    currency,
                    Decimal(20),
                    Decimal(5),
                    for_cancelled=True,
                ),
                HeldPaymentTally(
                    foreign.id,
                    paid.id,
                    "stripe",
                    foreign.provider_reference,
                    other,
                    Decimal(10),
                    Decimal(0),
                    for_cancelled=False,
                ),
                HeldPaymentTally(
                    elsewhere.id,
                    before.id,
                    "stripe",
                    elsewhere.provider_reference,
                    currency,
                    Decimal(30),
                    Decimal(0),
                    for_cancelled=False,
                ),
            )
            # A period with no bookings has nothing; "cancelled" is a lifecycle status
            # only when the set says so.
            empty = uow.payments.tally_reconciliation(
                T0 + 48 * hour, T0 + 72 * hour, StatusSet(names={"cancelled"})
            )
            assert empty == ReconciliationTally((), ())
            kept_all = uow.payments.tally_reconciliation(T0, T0 + 24 * hour, StatusSet())
            assert [row.booking_id for row in kept_all.bookings] == [
                cancelled.id,
                paid.id,
                unpaid.id,
            ]
            assert kept_all.bookings[0].captured == Decimal(20)
            # Payments made at the same moment come by id.
            assert kept_all.bookings[0].payment_ids == tuple(
                sorted((kept.id, refused.id), key=lambda i: i.bytes)
            )

    @requires("interleaved_units_of_work")
    def test_a_change_to_a_payment_someone_else_changed_first_is_stale(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        payment = _store_payment(uow_factory, make)
        stored = _assert_the_second_writer_is_stale(
            uow_factory,
            lambda uow: uow.payments.get(payment.id),
            lambda theirs: theirs.apply_event("evt_a", PaymentStatus.CAPTURED, now=T0),
            lambda mine: mine.apply_event("evt_b", PaymentStatus.FAILED, now=T0),
        )
        assert (stored.status, stored.processed_event_ids) == (
            PaymentStatus.CAPTURED,
            frozenset({"evt_a"}),
        )

    @requires("concurrent_units_of_work")
    def test_a_webhook_delivered_to_several_workers_is_applied_once(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        payment = _store_payment(uow_factory, make)
        workers = 6

        def deliver(worker: int) -> bool:
            with uow_factory() as uow:
                locked = uow.payments.get_for_update(payment.id)
                assert locked is not None
                at = T0 + timedelta(seconds=worker)
                fresh = locked.apply_event("evt_captured", "captured", now=at)
                uow.commit()
            return fresh

        applied = _race(deliver, range(workers))
        assert sorted(applied) == [False] * (workers - 1) + [True]
        with uow_factory() as uow:
            stored = uow.payments.get(payment.id)
            assert stored is not None
            assert (stored.status, stored.version) == (PaymentStatus.CAPTURED, 2)

    def test_a_payment_is_found_and_locked_by_its_provider_reference(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        payment = _store_payment(
            uow_factory, make, provider="Stripe", provider_reference="pi_3Nx81"
        )
        with uow_factory() as uow:
            locked = uow.payments.get_by_provider_reference_for_update("STRIPE", "pi_3Nx81")
            assert locked == payment
            assert uow.payments.get(payment.id) is locked
            assert uow.payments.get_by_provider_reference_for_update("stripe", "pi_3Nx81") is locked
            assert uow.payments.get_by_provider_reference_for_update("razorpay", "pi_3Nx81") is None
            assert uow.payments.get_by_provider_reference_for_update("stripe", "pi_other") is None
            assert uow.payments.get_by_provider_reference_for_update("no such one!", "x") is None
            assert locked is not None
            locked.apply_event("evt_1", "captured", now=T0)
            uow.commit()
        with uow_factory() as uow:
            read = uow.payments.get(payment.id)
            assert read is not None
            assert uow.payments.get_by_provider_reference_for_update("stripe", "pi_3Nx81") is read
            assert read.status is PaymentStatus.CAPTURED

    def test_a_payment_locked_with_its_booking_gives_both_as_they_are(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        payment = make.payment(booking, provider="stripe", provider_reference="pi_both")
        _committed(uow_factory, "payments", payment)
        with uow_factory() as uow:
            locked = uow.payments.get_by_provider_reference_for_update(
                "stripe", "pi_both", with_booking=True
            )
            assert locked == payment
            held = uow.bookings.get_for_update(booking.id)
            assert held == booking
            assert uow.bookings.get(booking.id) is held
            assert uow.payments.list_for_booking(booking.id) == [locked]
            assert held is not None
            held.metadata = {"paid": "yes"}
            uow.commit()
        with uow_factory() as uow:
            assert (
                uow.payments.get_by_provider_reference_for_update(
                    "stripe", "pi_other", with_booking=True
                )
                is None
            )
            stored = uow.bookings.get(booking.id)
            assert stored is not None
            assert stored.metadata == {"paid": "yes"}

    @requires("concurrent_units_of_work")
    def test_workers_locking_one_payment_by_reference_see_each_other_s_events(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        payment = _store_payment(uow_factory, make, provider="stripe", provider_reference="pi_race")
        workers = 5

        def deliver(worker: int) -> None:
            with uow_factory() as uow:
                locked = uow.payments.get_by_provider_reference_for_update("stripe", "pi_race")
                assert locked is not None
                locked.record_event(f"evt_{worker}", now=T0)
                uow.commit()

        _race(deliver, range(workers))
        with uow_factory() as uow:
            stored = uow.payments.get(payment.id)
            assert stored is not None
            assert stored.processed_event_ids == {f"evt_{n}" for n in range(workers)}
            assert stored.version == 1 + workers

    def test_refunds_read_back_and_settle_with_their_payment(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        payment = make.payment(booking, amount=Money("1000", "INR"))
        payment.capture(now=T0)
        other_payment = make.payment(booking)
        other_payment.capture(now=T0)
        with uow_factory() as uow:
            uow.payments.add(payment)
            uow.payments.add(other_payment)
            first = payment.start_refund(
                refund_id=RefundId(uuid4()),
                amount=Money("300", "INR"),
                now=T0 + timedelta(minutes=1),
                reason="one traveler dropped out",
                provider_reference="rfnd_1",
            )
            second = payment.start_refund(
                refund_id=RefundId(uuid4()),
                amount=Money("700", "INR"),
                now=T0 + timedelta(minutes=2),
            )
            theirs = other_payment.start_refund(
                refund_id=RefundId(uuid4()), amount=Money("1", "INR"), now=T0
            )
            for refund in (second, theirs, first):
                uow.refunds.add(refund)
            uow.commit()
        with uow_factory() as uow:
            assert uow.refunds.get(first.id) == first
            assert uow.refunds.get(RefundId(uuid4())) is None
            assert uow.refunds.get_by_provider_reference("rfnd_1") == first
            assert uow.refunds.get_by_provider_reference("rfnd_2") is None
            assert list(uow.refunds.list_for_payment(payment.id)) == [first, second]
            locked = uow.payments.get_for_update(payment.id)
            assert locked is not None
            assert locked.refundable_amount == Money.zero("INR")
            stored_first = uow.refunds.get(first.id)
            stored_second = uow.refunds.get(second.id)
            assert stored_first is not None
            assert stored_second is not None
            later = T0 + timedelta(hours=1)
            locked.settle_refund(stored_first, now=later)
            locked.fail_refund(stored_second, now=later, reason="card closed")
            uow.commit()
        with uow_factory() as uow:
            settled = uow.payments.get(payment.id)
            assert settled is not None
            assert (settled.status, settled.refunded_amount, settled.pending_refund_amount) == (
                PaymentStatus.PARTIALLY_REFUNDED,
                Money("300", "INR"),
                Money.zero("INR"),
            )
            assert [
                (r.status, r.completed_at) for r in uow.refunds.list_for_payment(payment.id)
            ] == [
                (RefundStatus.SUCCEEDED, later),
                (RefundStatus.FAILED, later),
            ]

    def test_a_refund_keeps_what_its_provider_reported(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``Refund.provider_status`` is stored and read back: ``None`` until the provider
        reported, then each report as it moves forward (migration 0051 on SQL)."""
        booking = _stored_booking(uow_factory, make)
        payment = make.payment(booking, amount=Money("1000", "INR"))
        with uow_factory() as uow:
            uow.payments.add(payment)
            early = payment.record_provider_refund(
                refund_id=RefundId(uuid4()),
                amount=Money("400", "INR"),
                now=T0,
                provider_reference="re_early",
                status=RefundStatus.PENDING,
            )
            uow.refunds.add(early)
            uow.commit()
        payment.capture(now=T0)
        with uow_factory() as uow:
            mine = payment.start_refund(
                refund_id=RefundId(uuid4()), amount=Money("100", "INR"), now=T0 + timedelta(1)
            )
            uow.refunds.add(mine)
            uow.commit()
        with uow_factory() as uow:
            stored = uow.refunds.get_by_provider_reference("re_early")
            assert stored is not None
            assert (stored.status, stored.provider_status) == (
                RefundStatus.UNRECONCILED,
                RefundStatus.PENDING,
            )
            unreported = uow.refunds.get(mine.id)
            assert unreported is not None
            assert unreported.provider_status is None
            locked = uow.payments.get_for_update(payment.id)
            assert locked is not None
            assert locked.report_refund(stored, RefundStatus.FAILED, now=T0 + timedelta(hours=1))
            locked.fail_refund(stored, now=T0 + timedelta(hours=1), reason="refund.failed")
            uow.commit()
        with uow_factory() as uow:
            failed = uow.refunds.get(early.id)
            assert failed is not None
            assert (failed.status, failed.provider_status) == (
                RefundStatus.FAILED,
                RefundStatus.FAILED,
            )
            assert [r.provider_status for r in uow.refunds.list_for_payment(payment.id)] == [
                RefundStatus.FAILED,
                None,
            ]

    def test_payments_needing_attention_are_listed_oldest_first_up_to_the_limit(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        # Listed by when their oldest open item was flagged, not when they were made.
        later = make.payment(booking)
        later.flag(AttentionReason.OVERPAID, "second", now=T0 + timedelta(minutes=2))
        first = make.payment(booking)
        first.created_at = first.updated_at = T0 + timedelta(minutes=5)
        first.flag(AttentionReason.LATE_PAYMENT, "first", now=T0 + timedelta(minutes=1))
        calm = make.payment(booking, metadata={"needs_attention": "old words, not a flag"})
        _commit_all(uow_factory, "payments", (later, calm, first))
        with uow_factory() as uow:
            assert [p.id for p in uow.payments.list_needing_attention(10)] == [first.id, later.id]
            assert [p.id for p in uow.payments.list_needing_attention(1)] == [first.id]
            stored = uow.payments.get_for_update(first.id)
            assert stored is not None
            stored.resolve_attention(AttentionReason.LATE_PAYMENT)
            stored.touch(T0 + timedelta(hours=1))
            uow.commit()
        with uow_factory() as uow:
            assert [p.id for p in uow.payments.list_needing_attention(10)] == [later.id]

    def test_a_payments_attention_items_are_stored_and_resolved_one_by_one(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        payment = make.payment(booking)
        since = datetime(2026, 3, 1, 9, 30, tzinfo=ZoneInfo("Asia/Kolkata"))
        payment.flag(AttentionReason.LATE_PAYMENT, "captured after it was cancelled", now=since)
        later = since + timedelta(days=1)
        payment.flag(AttentionReason.UNRECONCILED_REFUND, "refund re_1 cannot be held", now=later)
        other = make.payment(booking)
        other.flag(AttentionReason.OVERPAID, "captured 10 more", now=since + timedelta(hours=1))
        with uow_factory() as uow:
            uow.payments.add(payment)
            uow.payments.add(other)
            uow.commit()
        with uow_factory() as uow:
            stored = uow.payments.get(payment.id)
            assert stored is not None
            assert [(i.code, i.text, i.since) for i in stored.attention] == [
                (AttentionReason.LATE_PAYMENT, "captured after it was cancelled", since),
                (AttentionReason.UNRECONCILED_REFUND, "refund re_1 cannot be held", later),
            ]
            assert stored.attention_since == since
            assert [p.id for p in uow.payments.list_needing_attention(10)] == [
                payment.id,
                other.id,
            ]
            locked = uow.payments.get_for_update(payment.id)
            assert locked is not None
            locked.resolve_attention(AttentionReason.LATE_PAYMENT)
            locked.touch(T0 + timedelta(hours=1))
            uow.commit()
        with uow_factory() as uow:
            # Still listed for the refund, now from the time that item was flagged.
            assert [p.id for p in uow.payments.list_needing_attention(10)] == [
                other.id,
                payment.id,
            ]
            stored = uow.payments.get(payment.id)
            assert stored is not None
            assert [i.code for i in stored.attention] == [AttentionReason.UNRECONCILED_REFUND]
            assert stored.attention_since == later
            locked = uow.payments.get_for_update(payment.id)
            assert locked is not None
            locked.resolve_attention(AttentionReason.UNRECONCILED_REFUND)
            locked.touch(T0 + timedelta(hours=2))
            uow.commit()
        with uow_factory() as uow:
            assert [p.id for p in uow.payments.list_needing_attention(10)] == [other.id]
            stored = uow.payments.get(payment.id)
            assert stored is not None
            assert stored.attention == ()
            assert stored.attention_since is None

    def test_a_refund_provider_reference_is_held_once(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        payment = make.payment(booking)
        payment.capture(now=T0)
        _committed(uow_factory, "payments", payment)
        for attempt in range(2):
            with uow_factory() as uow:
                locked = uow.payments.get_for_update(payment.id)
                assert locked is not None
                refund = locked.start_refund(
                    refund_id=RefundId(uuid4()),
                    amount=Money("1", "INR"),
                    now=T0,
                    provider_reference="rfnd_same",
                )
                uow.refunds.add(refund)
                if attempt:
                    with pytest.raises(DuplicateError):
                        uow.commit()
                else:
                    uow.commit()
        with uow_factory() as uow:
            stored = uow.payments.get(payment.id)
            assert stored is not None
            assert stored.pending_refund_amount == Money("1", "INR")  # the refused one left none


class WebhookInboxRepositoryContract(_Base):
    """Verified provider deliveries: once per ``(provider, event_id)``, look-ups, what is unsettled.

    .. versionadded:: 0.2
    """

    def test_a_receipt_reads_back_equal_by_id_and_by_event(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        receipt = make.webhook_receipt(payload={"id": "evt_1", "amount": 1050, "nested": [1, "a"]})
        _committed(uow_factory, "webhook_inbox", receipt)
        with uow_factory() as uow:
            assert uow.webhook_inbox.get(receipt.id) == receipt
            assert uow.webhook_inbox.get_by_event("Stripe", receipt.event_id) == receipt
            assert uow.webhook_inbox.get_by_event("razorpay", receipt.event_id) is None
            assert uow.webhook_inbox.get_by_event("not a provider!", receipt.event_id) is None
            assert uow.webhook_inbox.get(uuid4()) is None

    def test_the_same_event_twice_is_a_duplicate_and_another_provider_is_not(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        first = make.webhook_receipt(event_id="evt_same")
        _committed(uow_factory, "webhook_inbox", first)
        with uow_factory() as uow:
            uow.webhook_inbox.add(make.webhook_receipt(event_id="evt_same"))
            with pytest.raises(DuplicateError):
                uow.commit()
        _committed(
            uow_factory,
            "webhook_inbox",
            make.webhook_receipt(provider="razorpay", event_id="evt_same"),
        )

    def test_add_if_new_stores_an_event_once_and_tracks_the_receipt(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        receipt = make.webhook_receipt(event_id="evt_once")
        with uow_factory() as uow:
            assert uow.webhook_inbox.add_if_new(receipt)
            assert uow.webhook_inbox.get_by_event("stripe", "evt_once") is receipt
            receipt.mark_applied(now=make.now)
            uow.commit()
        twin = make.webhook_receipt(event_id="evt_once")
        with uow_factory() as uow:
            assert not uow.webhook_inbox.add_if_new(twin)
            stored = uow.webhook_inbox.get_by_event("stripe", "evt_once")
            assert stored == receipt
            assert stored is not None
            assert (stored.status, stored.version) == (ReceiptStatus.APPLIED, 2)
            uow.commit()  # nothing to write
        with uow_factory() as uow:
            assert uow.webhook_inbox.get(twin.id) is None
            assert uow.webhook_inbox.add_if_new(
                make.webhook_receipt(provider="razorpay", event_id="evt_once")
            )
            uow.commit()

    def test_a_receipt_added_if_new_is_gone_with_a_rollback(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        with uow_factory() as uow:
            assert uow.webhook_inbox.add_if_new(make.webhook_receipt(event_id="evt_undone"))
        receipt = make.webhook_receipt(event_id="evt_undone")
        with uow_factory() as uow:
            assert uow.webhook_inbox.get_by_event("stripe", "evt_undone") is None
            assert uow.webhook_inbox.add_if_new(receipt)
            uow.commit()
        with uow_factory() as uow:
            assert uow.webhook_inbox.get_by_event("stripe", "evt_undone") == receipt

    @requires("concurrent_units_of_work")
    def test_an_event_added_by_several_workers_at_once_is_stored_by_one(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        workers = 6
        receipts = [make.webhook_receipt(event_id="evt_race") for _ in range(workers)]

        def receive(receipt: WebhookReceipt) -> tuple[bool, UUID]:
            """Whether this worker stored the event, and the id of the receipt it saw."""
            with uow_factory() as uow:
                if uow.webhook_inbox.add_if_new(receipt):
                    time.sleep(0.05)  # the others reach the same event meanwhile
                    receipt.mark_applied(now=make.now)
                    uow.commit()
                    return True, receipt.id
                stored = uow.webhook_inbox.get_by_event("stripe", "evt_race")
                assert stored is not None
                assert stored.status is ReceiptStatus.APPLIED
                return False, stored.id

        outcomes = _race(receive, receipts)
        first = [receipt_id for stored, receipt_id in outcomes if stored]
        found = [receipt_id for stored, receipt_id in outcomes if not stored]
        assert len(first) == 1
        assert found == first * (workers - 1)

    def test_unsettled_lists_received_and_failed_oldest_first_up_to_the_limit(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        received = [
            make.webhook_receipt(received_at=make.now + timedelta(minutes=n)) for n in range(3)
        ]
        applied = make.webhook_receipt(received_at=make.now - timedelta(minutes=5))
        applied.mark_applied(now=make.now)
        failed = make.webhook_receipt(received_at=make.now - timedelta(minutes=1))
        failed.mark_failed("provider timed out", now=make.now)
        _commit_all(uow_factory, "webhook_inbox", (*received, applied, failed))
        with uow_factory() as uow:
            unsettled = uow.webhook_inbox.list_unsettled(3)
            assert [r.id for r in unsettled] == [failed.id, received[0].id, received[1].id]
            assert unsettled[0].error == "provider timed out"
            assert len(uow.webhook_inbox.list_unsettled(10)) == 4

    def test_the_receipts_of_one_payment_oldest_first_and_an_erasure_stored(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        payload = {"data": {"object": {"id": "pi_1", "amount": 1050, "email": "a@example.com"}}}
        later = make.webhook_receipt(
            payment_reference="pi_1", payload=payload, received_at=make.now + timedelta(minutes=1)
        )
        first = make.webhook_receipt(payment_reference="pi_1", payload=payload)
        elsewhere = make.webhook_receipt(provider="razorpay", payment_reference="pi_1")
        other = make.webhook_receipt(payment_reference="pi_2")
        _commit_all(uow_factory, "webhook_inbox", (later, first, elsewhere, other))
        with uow_factory() as uow:
            found = uow.webhook_inbox.list_for_payment("Stripe", "pi_1")
            assert [r.id for r in found] == [first.id, later.id]
            assert uow.webhook_inbox.list_for_payment("stripe", "pi_3") == []
            assert uow.webhook_inbox.list_for_payment("not a provider!", "pi_1") == []
            assert found[0].erase("[erased]")
            uow.commit()
        with uow_factory() as uow:
            stored = uow.webhook_inbox.get(first.id)
            assert stored is not None
            assert stored.payload == {
                "data": {"object": {"id": "pi_1", "amount": 1050, "email": "[erased]"}}
            }
            assert stored.version == first.version + 1
            assert uow.webhook_inbox.get(later.id) == later


class IdempotencyKeyRepositoryContract(_Base):
    """The key registry: one claim per key, the first operation's, taken inside a unit of work.

    .. versionadded:: 0.4
    """

    def test_a_key_is_claimed_once_and_keeps_its_first_operation(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        claim = KeyClaim("customer:c-1:k-1", "booking", make.now)
        with uow_factory() as uow:
            assert uow.idempotency_keys.get(claim.key) is None
            assert uow.idempotency_keys.add_if_new(claim)
            assert uow.idempotency_keys.get(claim.key) == claim  # seen in its unit of work
            assert not uow.idempotency_keys.add_if_new(KeyClaim(claim.key, "lead", make.now))
            uow.commit()
        with uow_factory() as uow:
            later = make.now + timedelta(minutes=1)
            assert not uow.idempotency_keys.add_if_new(KeyClaim(claim.key, "booking", later))
            assert not uow.idempotency_keys.add_if_new(KeyClaim(claim.key, "message", later))
            assert uow.idempotency_keys.get(claim.key) == claim
            uow.commit()  # nothing to write
        with uow_factory() as uow:
            stored = uow.idempotency_keys.get(claim.key)
            assert stored == claim
            assert stored is not None
            assert (stored.id, stored.operation) == (key_claim_id(claim.key), "booking")
            assert uow.idempotency_keys.get("customer:c-2:k-1") is None  # another principal's

    def test_a_claim_keeps_the_id_of_what_its_call_made(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``made_id`` is stored with the claim (None when not given); a later claim
        with another ``made_id`` changes nothing.

        .. versionadded:: 0.4
        """
        made = UUID("0f8e4a52-6d1b-4c3e-9a7f-2b5c8d1e3f40")
        claim = KeyClaim("staff:s-1:k-7", "note", make.now, made_id=made)
        with uow_factory() as uow:
            assert uow.idempotency_keys.add_if_new(claim)
            assert uow.idempotency_keys.add_if_new(KeyClaim("staff:s-1:k-8", "group", make.now))
            uow.commit()
        with uow_factory() as uow:
            other = KeyClaim(claim.key, "note", make.now, made_id=UUID(int=1))
            assert not uow.idempotency_keys.add_if_new(other)
            uow.commit()
        with uow_factory() as uow:
            stored = uow.idempotency_keys.get(claim.key)
            assert stored == claim
            assert stored is not None
            assert stored.made_id == made
            plain = uow.idempotency_keys.get("staff:s-1:k-8")
            assert plain is not None
            assert plain.made_id is None

    def test_a_claim_is_gone_with_a_rollback(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        with uow_factory() as uow:
            assert uow.idempotency_keys.add_if_new(KeyClaim("staff:s-1:k-9", "lead", make.now))
        with uow_factory() as uow:
            assert uow.idempotency_keys.get("staff:s-1:k-9") is None
            assert uow.idempotency_keys.add_if_new(KeyClaim("staff:s-1:k-9", "payment", make.now))
            uow.commit()
        with uow_factory() as uow:
            stored = uow.idempotency_keys.get("staff:s-1:k-9")
            assert stored is not None
            assert stored.operation == "payment"

    @requires("concurrent_units_of_work")
    def test_a_key_claimed_by_several_operations_at_once_goes_to_one(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """Each claimant waits for the one before it: exactly one claims the key, and the
        others read the winner's operation once it committed."""
        operations = ("booking", "lead", "message", "payment", "quotation", "transition")

        def claim(operation: str) -> tuple[bool, str]:
            """Whether this operation claimed the key, and the operation it found holding it."""
            with uow_factory() as uow:
                if uow.idempotency_keys.add_if_new(KeyClaim("k-race", operation, make.now)):
                    time.sleep(0.05)  # the others reach the same key meanwhile
                    uow.commit()
                    return True, operation
                stored = uow.idempotency_keys.get("k-race")
                assert stored is not None
                return False, stored.operation

        outcomes = _race(claim, operations)
        won = [holder for claimed, holder in outcomes if claimed]
        lost = [holder for claimed, holder in outcomes if not claimed]
        assert len(won) == 1
        assert lost == won * (len(operations) - 1)
        with uow_factory() as uow:
            stored = uow.idempotency_keys.get("k-race")
        assert stored is not None
        assert stored.operation == won[0]


class InvoiceRepositoryContract(_Base):
    """Invoices unique by number, a booking's invoices in order, and series locked to count.

    .. versionadded:: 0.2
    """

    def test_an_invoice_and_its_credit_note_read_back_equal_by_id_number_and_booking(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        payment = _store_payment(uow_factory, make)
        price = Money("1234.5", payment.currency)
        lines = (
            InvoiceLine.of("Trek seat, Asha (primary)", price, tax_rate=Decimal("18")),
            InvoiceLine.of("Porter", Money("100", payment.currency), quantity=2),
        )
        subtotal = price + Money("200", payment.currency)
        tax = price.percent(Decimal("18"))
        invoice = make.invoice(
            payment,
            series_key="2026/DL01",
            sequence=7,
            lines=lines,
            subtotal=subtotal,
            discount=Money("34.5", payment.currency),
            tax=tax,
            total=subtotal - Money("34.5", payment.currency) + tax,
            paid=Money("500", payment.currency),
            due=subtotal - Money("534.5", payment.currency) + tax,
        )
        refund = make.refund(payment.id, amount=Money("100", payment.currency))
        credit = make.invoice(
            payment,
            kind=InvoiceKind.CREDIT_NOTE,
            series_key="2026/DL01",
            sequence=8,
            issued_at=T0 + timedelta(days=1),
            lines=(InvoiceLine.of("Refund of INV-2026-DL01-000007", -refund.amount),),
            subtotal=-refund.amount,
            total=-refund.amount,
            paid=-refund.amount,
            refund_id=refund.id,
            credited_invoice_id=invoice.id,
        )
        with uow_factory() as uow:
            uow.refunds.add(refund)
            uow.invoices.add(invoice)
            uow.commit()
        _committed(uow_factory, "invoices", credit)
        with uow_factory() as uow:
            assert uow.invoices.get(invoice.id) == invoice
            assert uow.invoices.get_by_number("INV-2026-DL01-000007") == invoice
            assert uow.invoices.get_by_number("CN-2026-DL01-000008") == credit
            assert uow.invoices.get_by_number("INV-2026-DL01-000008") is None
            assert uow.invoices.get(credit.id) == credit
            assert uow.invoices.list_for_booking(payment.booking_id) == [invoice, credit]
            assert uow.invoices.list_for_booking(BookingId(uuid4())) == []
            stored = uow.invoices.get(invoice.id)
            assert stored is not None
            assert stored.lines[0].tax_rate == Decimal("18")
            assert stored.tax == Money("222.21", payment.currency)

    def test_lines_with_discounts_and_the_tax_their_price_holds_read_back_equal(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        payment = _store_payment(uow_factory, make)
        price = Money("4000", payment.currency)
        lines = (
            InvoiceLine.including_tax(
                "Trek seat", price, tax_rate=Decimal("18"), discount=Money("400", price.currency)
            ),
            InvoiceLine.of("Porter", Money("100", price.currency), quantity=2),
        )
        zero = Money.zero(price.currency)
        subtotal = sum((line.amount for line in lines), zero)
        discount = sum((line.discount for line in lines if line.discount is not None), zero)
        tax = sum((line.tax for line in lines), zero)
        invoice = make.invoice(
            payment,
            lines=lines,
            subtotal=subtotal,
            discount=discount,
            tax=tax,
            total=subtotal - discount + tax,
        )
        _committed(uow_factory, "invoices", invoice)
        with uow_factory() as uow:
            stored = uow.invoices.get(invoice.id)
            assert stored == invoice
            assert stored is not None
            assert [(line.discount, line.tax, line.total) for line in stored.lines] == [
                (lines[0].discount, lines[0].tax, Money("3600", price.currency)),
                (None, zero, Money("200", price.currency)),
            ]

    def test_a_number_is_held_once(self, uow_factory: UnitOfWorkFactory, make: Builder) -> None:
        payment = _store_payment(uow_factory, make)
        _committed(
            uow_factory, "invoices", make.invoice(payment, series_key="2026/DL01", sequence=1)
        )
        _assert_duplicate(
            uow_factory, "invoices", make.invoice(payment, series_key="2026/DL01", sequence=1)
        )
        with uow_factory() as uow:
            assert len(uow.invoices.list_for_booking(payment.booking_id)) == 1

    def test_a_series_counts_across_transactions_and_a_rollback_gives_its_number_back(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        series = make.invoice_series(key="2026/dl01")
        _committed(uow_factory, "invoice_series", series)
        taken = []
        for commit in (True, False, True):
            with uow_factory() as uow:
                locked = uow.invoice_series.get_for_update("2026/DL01")
                assert locked is not None
                taken.append(locked.take())
                if commit:
                    uow.commit()
        assert taken == [1, 2, 2]
        with uow_factory() as uow:
            stored = uow.invoice_series.get_for_update("2026/DL01")
            assert stored is not None
            assert (stored.key, stored.next_number, stored.version) == ("2026/DL01", 3, 3)
            assert uow.invoice_series.get_for_update("2027/DL01") is None
            assert uow.invoice_series.get_for_update("not a key") is None
        with uow_factory() as uow:
            assert uow.invoice_series.get("2026/DL01") == stored
            assert uow.invoice_series.get("2027/DL01") is None
            assert uow.invoice_series.get("not a key") is None

    def test_a_number_taken_in_one_step_moves_the_series_on_and_a_rollback_gives_it_back(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        _committed(uow_factory, "invoice_series", make.invoice_series(key="2026/dl02"))
        taken = []
        for commit in (True, False, True):
            with uow_factory() as uow:
                taken.append(uow.invoice_series.take_number("2026/DL02"))
                if commit:
                    uow.commit()
        assert taken == [1, 2, 2]
        with uow_factory() as uow:
            # Twice in one unit of work, then after reading it locked: a new number each time.
            assert uow.invoice_series.take_number("2026/DL02") == 3
            assert uow.invoice_series.take_number("2026/DL02") == 4
            uow.commit()
        with uow_factory() as uow:
            locked = uow.invoice_series.get_for_update("2026/DL02")
            assert locked is not None
            assert locked.take() == 5
            assert uow.invoice_series.take_number("2026/DL02") == 6
            assert uow.invoice_series.get("2026/DL02") == locked
            uow.commit()
        with uow_factory() as uow:
            stored = uow.invoice_series.get("2026/DL02")
            assert stored is not None
            assert (stored.key, stored.next_number, stored.version) == ("2026/DL02", 7, 7)
            assert uow.invoice_series.take_number("2027/DL02") is None
            assert uow.invoice_series.take_number("not a key") is None
            uow.commit()
        with uow_factory() as uow:
            assert uow.invoice_series.get("2027/DL02") is None

    def test_a_series_key_is_held_once(self, uow_factory: UnitOfWorkFactory, make: Builder) -> None:
        _committed(uow_factory, "invoice_series", make.invoice_series(key="2026/GOA"))
        with uow_factory() as uow:
            uow.invoice_series.add(InvoiceSeries(key="2026/goa", next_number=5))
            with pytest.raises(DuplicateError):
                uow.commit()

    def test_a_new_series_added_if_new_gives_its_first_number_in_the_same_transaction(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        series = InvoiceSeries(key="2027/DL01")
        with uow_factory() as uow:
            assert uow.invoice_series.add_if_new(series)
            assert series.take() == 1
            uow.commit()
        with uow_factory() as uow:
            assert not uow.invoice_series.add_if_new(InvoiceSeries(key="2027/dl01"))
            locked = uow.invoice_series.get_for_update("2027/DL01")
            assert locked is not None
            assert (locked.next_number, locked.take()) == (2, 2)
            uow.commit()
        with uow_factory() as uow:
            stored = uow.invoice_series.get("2027/DL01")
            assert stored is not None
            assert stored.next_number == 3

    @requires("concurrent_units_of_work")
    def test_numbers_taken_by_several_workers_at_once_are_each_taken_once(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        _committed(uow_factory, "invoice_series", make.invoice_series(key="2026/RACE"))
        workers = 6

        def take(_: int) -> int:
            with uow_factory() as uow:
                locked = uow.invoice_series.get_for_update("2026/RACE")
                assert locked is not None
                number = locked.take()
                uow.commit()
            return number

        taken = _race(take, range(workers))
        assert sorted(taken) == list(range(1, workers + 1))


# --------------------------------------------------------------------------- partner commissions


def _partner_payment(uow_factory: UnitOfWorkFactory, make: Builder) -> tuple[Partner, Payment]:
    """A stored partner and a stored payment (of a booking of its own) to put on its ledger."""
    partner = _committed(uow_factory, "partners", make.partner())
    return partner, _store_payment(uow_factory, make)


class CommissionLedgerContract(_Base):
    """Partners' commission ledger: append-only entries unique by key, read by booking or period.

    .. versionadded:: 0.2
    """

    def test_entries_read_back_equal_per_booking_and_per_period_oldest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        partner, payment = _partner_payment(uow_factory, make)
        other, elsewhere = _partner_payment(uow_factory, make)
        accrual = make.commission_entry(payment, partner.id, rate=Decimal("12.5"))
        reversal = make.commission_entry(
            payment,
            partner.id,
            key=f"cancellation:{payment.id}:{uuid4()}",
            kind=CommissionEntryKind.REVERSAL,
            amount=-Money("0.01", payment.currency),
            rate=Decimal("12.5"),
            recorded_at=T0 + timedelta(days=1),
            reason="cancelled by the customer",
        )
        theirs = make.commission_entry(elsewhere, other.id, recorded_at=T0 + timedelta(hours=1))
        with uow_factory() as uow:
            uow.commissions.add(reversal)
            uow.commissions.add(accrual)
            uow.commissions.add(theirs)
            uow.commit()
        with uow_factory() as uow:
            assert uow.commissions.list_for_booking(payment.booking_id) == [accrual, reversal]
            assert uow.commissions.list_for_booking(BookingId(uuid4())) == []
            day = timedelta(days=1)
            assert uow.commissions.list_recorded(T0, T0 + 2 * day) == [accrual, theirs, reversal]
            assert uow.commissions.list_recorded(T0, T0 + day) == [accrual, theirs]
            assert uow.commissions.list_recorded(T0 + day, T0 + 2 * day, partner.id) == [reversal]
            assert uow.commissions.list_recorded(T0, T0 + day, other.id) == [theirs]
            assert uow.commissions.list_recorded(T0 - day, T0) == []
            (stored, _) = uow.commissions.list_for_booking(payment.booking_id)
            assert (stored.rate, stored.amount) == (Decimal("12.5"), accrual.amount)

    def test_pages_walk_every_entry_of_a_period_once_newest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """The ledger of a period, a partner's or everyone's, lists newest first a
        keyset page at a time; a partner never sees another's entries.

        .. versionadded:: 0.3
        """
        ours, payment = _partner_payment(uow_factory, make)
        theirs, elsewhere = _partner_payment(uow_factory, make)
        hour = timedelta(hours=1)
        # Pairs share a time so the id must break ties; keys are unique per entry.
        entries = [
            make.commission_entry(
                (payment, elsewhere)[n % 3 == 0],
                (ours, theirs)[n % 3 == 0].id,
                key=f"accrual:{n}:{uuid4()}",
                recorded_at=T0 + (n // 2) * hour,
            )
            for n in range(13)
        ]
        _commit_all(uow_factory, "commissions", entries)

        def walks(start: datetime, end: datetime, partner_id: PartnerId | None) -> None:
            expected = [
                e
                for e in entries
                if start <= e.recorded_at < end and partner_id in (None, e.partner_id)
            ]
            assert_pages_walk(
                uow_factory,
                lambda uow, page: uow.commissions.page_recorded(start, end, partner_id, page),
                expected,
                label=(start, end, partner_id),
                at="recorded_at",
            )

        walks(T0, T0 + 7 * hour, None)
        walks(T0, T0 + 7 * hour, ours.id)
        walks(T0, T0 + 7 * hour, theirs.id)
        walks(T0 + hour, T0 + 4 * hour, ours.id)
        with uow_factory() as uow:
            before = uow.commissions.page_recorded(T0 - hour, T0, None, PageRequest())
            assert (list(before), before.next_cursor) == ([], None)

    def test_totals_sum_a_period_per_partner_and_currency_as_the_entries_do(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """Accruals and reversals recorded in ``[start, end)`` are summed per partner
        and currency, exactly, by the storage; the same answers as summing the
        period's entries one by one.

        .. versionadded:: 0.3
        """
        ours, payment = _partner_payment(uow_factory, make)
        theirs, elsewhere = _partner_payment(uow_factory, make)
        hour, tick = timedelta(hours=1), timedelta(microseconds=1)
        end = T0 + timedelta(days=1)
        recorded = [  # (partner, amount, currency, when)
            (ours, "100.10", "INR", T0),  # the start is in the period
            (ours, "0.20", "INR", T0 + hour),
            (ours, "-30.15", "INR", T0 + 2 * hour),
            (ours, "-0.05", "INR", end - tick),
            (ours, "12.34", "USD", T0 + 3 * hour),
            (ours, "7.00", "INR", T0 - tick),  # before the period
            (ours, "999.00", "INR", end),  # the end is not
            (theirs, "-5.00", "INR", T0 + 4 * hour),  # more clawed back than earned
            (theirs, "0.10", "INR", T0 + 5 * hour),
            (theirs, "8.00", "USD", end + hour),
        ]
        entries = [
            make.commission_entry(
                (payment, elsewhere)[partner is theirs],
                partner.id,
                key=f"entry:{n}:{uuid4()}",
                kind=CommissionEntryKind.ACCRUAL
                if amount[0] != "-"
                else CommissionEntryKind.REVERSAL,
                base=Money("1000", currency),
                amount=Money(amount, currency),
                recorded_at=when,
            )
            for n, (partner, amount, currency, when) in enumerate(recorded)
        ]
        _commit_all(uow_factory, "commissions", entries)

        def line(
            partner: Partner, currency: str, accrued: str, reversed_: str, *, net: str, count: int
        ) -> CommissionSummary:
            return CommissionSummary(
                partner_id=partner.id,
                currency=currency,
                accrued=Money(accrued, currency),
                reversed=Money(reversed_, currency),
                net=Money(net, currency),
                entries=count,
            )

        ours_inr = line(ours, "INR", "100.30", "30.20", net="70.10", count=4)
        ours_usd = line(ours, "USD", "12.34", "0", net="12.34", count=1)
        theirs_inr = line(theirs, "INR", "0.10", "5.00", net="-4.90", count=2)

        def totals(
            start: datetime, stop: datetime, partner_id: PartnerId | None = None
        ) -> list[CommissionSummary]:
            with uow_factory() as uow:
                found = uow.commissions.totals(start, stop, partner_id)
                assert sorted(found, key=lambda s: (str(s.partner_id), s.currency)) == summarise(
                    uow.commissions.list_recorded(start, stop, partner_id)
                )
            return sorted(found, key=lambda s: (s.partner_id != ours.id, s.currency))

        assert totals(T0, end) == [ours_inr, ours_usd, theirs_inr]
        assert totals(T0, end, ours.id) == [ours_inr, ours_usd]
        assert totals(T0, end, theirs.id) == [theirs_inr]
        assert totals(T0 - tick, T0) == [line(ours, "INR", "7.00", "0", net="7.00", count=1)]
        assert totals(end, end + 2 * hour) == [
            line(ours, "INR", "999.00", "0", net="999.00", count=1),
            line(theirs, "USD", "8.00", "0", net="8.00", count=1),
        ]
        assert totals(T0 + 2 * hour, T0 + 3 * hour, ours.id) == [
            line(ours, "INR", "0", "30.15", net="-30.15", count=1)
        ]
        assert totals(T0 - hour, T0 - tick) == []
        assert totals(T0, end, PartnerId(uuid4())) == []

    def test_totals_of_amounts_near_the_largest_are_exact(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """Accruals and reversals near the largest amount are summed to their last
        digit (binary floats are a ten-thousandth off at these).

        .. versionadded:: 0.4
        """
        partner, payment = _partner_payment(uow_factory, make)
        most = _NEAR_THE_LARGEST[3]
        base = Money("1000", most.currency)
        accrual = make.commission_entry(payment, partner.id, base=base, amount=most)
        reversal = make.commission_entry(
            payment,
            partner.id,
            key=f"reversal:{uuid4()}",
            kind=CommissionEntryKind.REVERSAL,
            base=base,
            amount=-most,
        )
        _commit_all(uow_factory, "commissions", (accrual, reversal))
        with uow_factory() as uow:
            (found,) = uow.commissions.totals(T0, T0 + timedelta(days=1))
        assert (found.accrued, found.reversed, found.entries) == (most, most, 2)

    def test_totals_above_the_largest_single_amount_are_given_in_full(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """A period's accruals may add up to more than one amount may be (a year of
        commissions in VND or IDR): the totals give the whole sum, as reports do
        (:meth:`Money.summed`), and ``net`` follows from it.

        .. versionadded:: 0.4
        """
        partner, payment = _partner_payment(uow_factory, make)
        most = _NEAR_THE_LARGEST[0]
        base = Money("1000", most.currency)
        entries = [
            make.commission_entry(payment, partner.id, key=f"accrual:{n}", base=base, amount=most)
            for n in range(3)
        ]
        entries.append(
            make.commission_entry(
                payment,
                partner.id,
                key="reversal:0",
                kind=CommissionEntryKind.REVERSAL,
                base=base,
                amount=-most,
            )
        )
        _commit_all(uow_factory, "commissions", entries)
        with uow_factory() as uow:
            (found,) = uow.commissions.totals(T0, T0 + timedelta(days=1))
            listed = summarise(uow.commissions.list_recorded(T0, T0 + timedelta(days=1)))
        accrued = Money.summed(most.amount * 3, most.currency)
        assert (found.accrued, found.reversed, found.entries) == (accrued, most, 4)
        assert found.net == Money.summed(most.amount * 2, most.currency)
        assert listed == [found]

    def test_an_entry_added_in_this_unit_of_work_is_listed_before_commit(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        partner, payment = _partner_payment(uow_factory, make)
        entry = make.commission_entry(payment, partner.id)
        with uow_factory() as uow:
            uow.commissions.add(entry)
            assert uow.commissions.list_for_booking(payment.booking_id) == [entry]
            assert uow.commissions.list_recorded(T0, T0 + timedelta(days=1)) == [entry]
        with uow_factory() as uow:
            assert uow.commissions.list_for_booking(payment.booking_id) == []

    def test_a_key_is_on_the_ledger_once(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        partner, payment = _partner_payment(uow_factory, make)
        _committed(uow_factory, "commissions", make.commission_entry(payment, partner.id))
        twin = make.commission_entry(payment, partner.id)
        bystander = make.location()
        with uow_factory() as uow:
            uow.locations.add(bystander)
            uow.commissions.add(twin)
            with pytest.raises(DuplicateError):
                uow.commit()
        with uow_factory() as uow:
            assert len(uow.commissions.list_for_booking(payment.booking_id)) == 1
            assert uow.locations.get(bystander.id) is None

    @requires("concurrent_units_of_work")
    def test_workers_adding_one_key_at_once_leave_one_entry(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        partner, payment = _partner_payment(uow_factory, make)
        workers = 6
        entries = [make.commission_entry(payment, partner.id) for _ in range(workers)]

        def add(entry: CommissionEntry) -> str:
            try:
                _committed(uow_factory, "commissions", entry)
            except DuplicateError:
                return "duplicate"
            return "added"

        outcomes = _race(add, entries)
        assert sorted(outcomes) == ["added"] + ["duplicate"] * (workers - 1)
        with uow_factory() as uow:
            assert len(uow.commissions.list_for_booking(payment.booking_id)) == 1


# --------------------------------------------------------------------------- partner webhooks


def _store_webhook_delivery(uow_factory: UnitOfWorkFactory, make: Builder) -> WebhookDelivery:
    partner = _committed(uow_factory, "partners", make.partner())
    return _committed(uow_factory, "webhook_deliveries", make.webhook_delivery(partner.id))


class WebhookDeliveryRepositoryContract(_Base):
    """Partner webhooks: deliveries read back, claims that never overlap, pages, attempt logs.

    .. versionadded:: 0.2
    """

    def test_a_delivery_and_its_attempts_read_back_equal_in_order(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        delivery = _store_webhook_delivery(uow_factory, make)
        attempts = [
            make.webhook_attempt(delivery.id, 2, succeeded=False, status_code=None, error="x"),
            make.webhook_attempt(delivery.id, 1, status_code=500, succeeded=False),
        ]
        _commit_all(uow_factory, "webhook_attempts", attempts)
        with uow_factory() as uow:
            assert uow.webhook_deliveries.get(delivery.id) == delivery
            assert uow.webhook_deliveries.get(uuid4()) is None
            assert uow.webhook_attempts.list_for_delivery(delivery.id) == attempts[::-1]
            assert uow.webhook_attempts.list_for_delivery(uuid4()) == []

    def test_the_same_attempt_number_twice_is_a_duplicate(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        delivery = _store_webhook_delivery(uow_factory, make)
        _committed(uow_factory, "webhook_attempts", make.webhook_attempt(delivery.id, 1))
        with uow_factory() as uow:
            uow.webhook_attempts.add(make.webhook_attempt(delivery.id, 1))
            with pytest.raises(DuplicateError) as caught:
                uow.commit()
        assert caught.value.entity == "webhook_attempt"

    def test_a_second_delivery_with_the_same_webhook_id_is_a_duplicate(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        delivery = _store_webhook_delivery(uow_factory, make)
        twin = attrs.evolve(
            make.webhook_delivery(delivery.partner_id), webhook_id=delivery.webhook_id
        )
        refused = _assert_duplicate(uow_factory, "webhook_deliveries", twin)
        assert (refused.entity, refused.existing_id) == ("webhook_delivery", delivery.id)
        with uow_factory() as uow:
            assert uow.webhook_deliveries.get(twin.id) is None

    def test_claim_due_takes_pending_due_unclaimed_ones_oldest_due_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        partner = _committed(uow_factory, "partners", make.partner())
        now = make.now
        due = [
            make.webhook_delivery(partner.id, next_attempt_at=now - timedelta(minutes=n))
            for n in range(3)
        ]
        later = make.webhook_delivery(partner.id, next_attempt_at=now + timedelta(seconds=1))
        claimed = make.webhook_delivery(partner.id, claimed_until=now + timedelta(minutes=1))
        lapsed = make.webhook_delivery(
            partner.id,
            next_attempt_at=now - timedelta(hours=1),
            claimed_until=now - timedelta(seconds=1),
        )
        done = make.webhook_delivery(partner.id, status=WebhookDeliveryStatus.DELIVERED)
        _commit_all(uow_factory, "webhook_deliveries", (*due, later, claimed, lapsed, done))
        with uow_factory() as uow:
            first = uow.webhook_deliveries.claim_due(now, 3)
            assert [d.id for d in first] == [lapsed.id, due[2].id, due[1].id]
            all_due = uow.webhook_deliveries.claim_due(now, 10)
            assert {d.id for d in all_due} == {lapsed.id, *(d.id for d in due)}

    def test_a_committed_claim_keeps_others_off_until_it_lapses(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        delivery = _store_webhook_delivery(uow_factory, make)
        lease = timedelta(minutes=2)
        with uow_factory() as uow:
            [taken] = uow.webhook_deliveries.claim_due(make.now, 5)
            assert taken.claim(make.now, lease) == 1
            uow.commit()
        with uow_factory() as uow:
            assert uow.webhook_deliveries.claim_due(make.now + timedelta(minutes=1), 5) == []
            [again] = uow.webhook_deliveries.claim_due(make.now + lease, 5)
            assert (again.id, again.attempts) == (delivery.id, 1)

    def test_concurrent_claimers_never_take_the_same_delivery(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        partner = _committed(uow_factory, "partners", make.partner())
        deliveries = [make.webhook_delivery(partner.id) for _ in range(12)]
        _commit_all(uow_factory, "webhook_deliveries", deliveries)

        def claim_until_none_left(_: int) -> list[UUID]:
            taken: list[UUID] = []
            while True:
                with uow_factory() as uow:
                    batch = uow.webhook_deliveries.claim_due(make.now, 2)
                    for delivery in batch:
                        delivery.claim(make.now, timedelta(minutes=5))
                    uow.commit()
                if not batch:
                    return taken
                taken.extend(delivery.id for delivery in batch)

        taken = [each for mine in _race(claim_until_none_left, range(4)) for each in mine]
        assert sorted(taken) == sorted(d.id for d in deliveries)
        with uow_factory() as uow:
            for delivery in deliveries:
                stored = uow.webhook_deliveries.get(delivery.id)
                assert stored is not None
                assert stored.attempts == 1

    def test_list_pages_newest_first_by_partner_and_status(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        ours = _committed(uow_factory, "partners", make.partner())
        theirs = _committed(uow_factory, "partners", make.partner())
        mine = [
            make.webhook_delivery(ours.id, created_at=make.now + timedelta(minutes=n))
            for n in range(3)
        ]
        dead = make.webhook_delivery(
            ours.id, created_at=make.now - timedelta(days=1), status=WebhookDeliveryStatus.DEAD
        )
        other = make.webhook_delivery(theirs.id)
        _commit_all(uow_factory, "webhook_deliveries", (*mine, dead, other))
        assert_pages_walk(
            uow_factory,
            lambda uow, page: uow.webhook_deliveries.list(page, partner_id=ours.id),
            [*mine, dead],
        )
        with uow_factory() as uow:
            only_dead = uow.webhook_deliveries.list(
                PageRequest(), status=WebhookDeliveryStatus.DEAD
            )
            assert [d.id for d in only_dead.items] == [dead.id]
            everyone = uow.webhook_deliveries.list(PageRequest(limit=50))
            assert len(everyone.items) == 5

    def test_the_deliveries_about_one_booking_oldest_first_and_an_erasure_stored(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        ours = _committed(uow_factory, "partners", make.partner())
        theirs = _committed(uow_factory, "partners", make.partner())
        booking_id = BookingId(uuid4())
        payload = {
            "type": "booking.cancelled",
            "data": {"booking": {"reference": "BK-1", "cancellation_reason": "Asha is ill"}},
        }
        later = make.webhook_delivery(
            ours.id,
            booking_id=booking_id,
            payload=payload,
            created_at=make.now + timedelta(minutes=1),
        )
        first = make.webhook_delivery(theirs.id, booking_id=booking_id, payload=payload)
        unrelated = make.webhook_delivery(ours.id, booking_id=BookingId(uuid4()))
        with uow_factory() as uow:
            for delivery in (later, first, unrelated):
                uow.webhook_deliveries.add(delivery)
            uow.commit()
        with uow_factory() as uow:
            found = uow.webhook_deliveries.list_for_booking(booking_id)
            assert [d.id for d in found] == [first.id, later.id]
            assert uow.webhook_deliveries.list_for_booking(BookingId(uuid4())) == []
            assert found[0].erase("[erased]")
            uow.commit()
        with uow_factory() as uow:
            stored = uow.webhook_deliveries.get(first.id)
            assert stored is not None
            assert stored.payload["data"]["booking"] == {
                "reference": "BK-1",
                "cancellation_reason": "[erased]",
            }
            assert stored.version == first.version + 1
            assert uow.webhook_deliveries.get(later.id) == later


class StaffRepositoryContract(_Base):
    """The business's people: unique emails, look-ups, lists by email, role and activity.

    Emails match by :attr:`~bookingcore.domain.EmailAddress.match_key`: found and
    unique without regard to case, stored as given.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4
       Emails match without regard to case, local part included.
    """

    def test_a_member_reads_back_equal_by_id_and_by_email(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        location = make.location()
        member = make.staff_member(
            role=StaffRole.ADVISOR,
            location_ids={location.id},
            password_hash="argon2id$stored-hash",  # noqa: S106 (a stored hash, not a secret)
        )
        with uow_factory() as uow:
            uow.locations.add(location)
            uow.staff.add(member)
            uow.commit()
        with uow_factory() as uow:
            assert uow.staff.get(member.id) == member
            assert uow.staff.get_by_email(member.email) == member
            assert uow.staff.get_by_email(member.email) is uow.staff.get(member.id)
            assert uow.staff.get(StaffId(uuid4())) is None
            assert uow.staff.get_by_email(EmailAddress("nobody@example.com")) is None

    def test_a_member_is_locked_for_its_unit_of_work(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """.. versionadded:: 0.4"""
        member = make.staff_member(email=EmailAddress("lock@example.com"))
        _committed(uow_factory, "staff", member)
        with uow_factory() as uow:
            assert uow.staff.get_for_update(member.id) == member
            assert uow.staff.get_for_update(StaffId(uuid4())) is None

    @requires("concurrent_units_of_work")
    def test_get_for_update_serialises_changes_of_one_member(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """Each worker reads the name under the lock and appends to it: none is lost.

        .. versionadded:: 0.4
        """
        member = make.staff_member(email=EmailAddress("serial@example.com"), name="x")
        _committed(uow_factory, "staff", member)
        workers = 6

        def append(_: int) -> None:
            with uow_factory() as uow:
                locked = uow.staff.get_for_update(member.id)
                assert locked is not None
                locked.name += "x"
                locked.version += 1
                uow.commit()

        _race(append, range(workers))
        with uow_factory() as uow:
            stored = uow.staff.get(member.id)
            assert stored is not None
            assert stored.name == "x" * (workers + 1)

    def test_a_second_member_with_the_same_email_is_a_duplicate(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        first = make.staff_member(email=EmailAddress("desk@example.com"))
        _committed(uow_factory, "staff", first)
        _assert_duplicate(
            uow_factory, "staff", make.staff_member(email=EmailAddress("desk@example.com"))
        )
        with uow_factory() as uow:
            assert [m.id for m in uow.staff.list()] == [first.id]

    def test_emails_match_without_regard_to_case_and_keep_their_spelling(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        ann = make.staff_member(email=EmailAddress("Ann@Example.com"))
        _committed(uow_factory, "staff", ann)
        with uow_factory() as uow:
            found = uow.staff.get_by_email(EmailAddress("ann@example.com"))
            assert found is not None
            assert found.id == ann.id
            assert found.email.value == "Ann@example.com"  # as given (the domain normalised)
            assert uow.staff.get_by_email(EmailAddress("ANN@EXAMPLE.COM")) is found
            assert uow.staff.get_by_email(EmailAddress("anne@example.com")) is None
        _assert_duplicate(
            uow_factory, "staff", make.staff_member(email=EmailAddress("ANN@example.com"))
        )
        with uow_factory() as uow:
            assert [m.email.value for m in uow.staff.list()] == ["Ann@example.com"]

    def test_a_member_added_in_this_unit_of_work_is_found_by_any_case(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        ann = make.staff_member(email=EmailAddress("Ann@example.com"))
        with uow_factory() as uow:
            uow.staff.add(ann)
            assert uow.staff.get_by_email(EmailAddress("ann@example.com")) is ann

    def test_list_orders_emails_by_code_point_as_python_sorts_them(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        # Capitals before small letters, whatever the database's collation says: a
        # member read earlier in the unit of work sorts among the stored ones the same.
        emails = ["bob@example.com", "Carol@example.com", "alice@example.com", "Dan@example.com"]
        members = [make.staff_member(email=EmailAddress(e)) for e in emails]
        _commit_all(uow_factory, "staff", members)
        expected = sorted(emails)
        assert expected[:2] == ["Carol@example.com", "Dan@example.com"]
        with uow_factory() as uow:
            assert [m.email.value for m in uow.staff.list()] == expected
            assert uow.staff.get(members[0].id) is not None  # tracked, then listed again
            assert [m.email.value for m in uow.staff.list()] == expected

    def test_list_orders_by_email_and_filters_role_and_activity(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        carol = make.staff_member(email=EmailAddress("carol@example.com"))
        alice = make.staff_member(
            email=EmailAddress("alice@example.com"), role=StaffRole.ADVISOR, is_active=False
        )
        bob = make.staff_member(email=EmailAddress("bob@example.com"), role=StaffRole.ADVISOR)
        _commit_all(uow_factory, "staff", (carol, alice, bob))
        with uow_factory() as uow:
            assert list(uow.staff.list()) == [alice, bob, carol]
            assert list(uow.staff.list(role=StaffRole.ADVISOR)) == [alice, bob]
            assert list(uow.staff.list(only_active=True)) == [bob, carol]
            assert list(uow.staff.list(role=StaffRole.ADVISOR, only_active=True)) == [bob]
            assert list(uow.staff.list(role=StaffRole.ADMIN)) == []


class ImportRepositoryContract(_Base):
    """Import jobs (progress, locks, newest-first pages) and their failed rows in row order.

    .. versionadded:: 0.1
    """

    def test_a_job_reads_back_equal_and_its_progress_is_stored(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        job = make.import_job(
            settings={"chunk_size": 500, "mapping": {"Phone": "customer_phone"}},
            total_rows=40,
        )
        _committed(uow_factory, "imports", job)
        with uow_factory() as uow:
            assert uow.imports.get(job.id) == job
            assert uow.imports.get(uuid4()) is None
            assert uow.imports.get_for_update(uuid4()) is None
            locked = uow.imports.get_for_update(job.id)
            assert locked is not None
            assert locked is uow.imports.get(job.id)
            locked.status = ImportStatus.PROCESSING
            locked.started_at = T0 + timedelta(minutes=1)
            locked.processed_rows, locked.created, locked.failed = 20, 18, 2
            locked.error_summary = {"invalid_phone": 2}
            locked.version += 1
            uow.commit()
        with uow_factory() as uow:
            stored = uow.imports.get(job.id)
            assert stored == locked
            assert stored is not None
            assert (stored.processed_rows, stored.version) == (20, 2)

    def test_files_to_purge_are_finished_jobs_before_the_cutoff_not_purged_oldest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """.. versionadded:: 0.4"""
        cutoff = T0 + timedelta(days=7)
        day = timedelta(days=1)
        due = [
            make.import_job(status=ImportStatus.FAILED, completed_at=T0 + 2 * day),
            make.import_job(status=ImportStatus.COMPLETED, completed_at=T0),
            make.import_job(status=ImportStatus.CANCELLED, completed_at=T0 + day),
        ]
        kept = [
            make.import_job(status=ImportStatus.COMPLETED, completed_at=cutoff),
            make.import_job(status=ImportStatus.COMPLETED, completed_at=cutoff + day),
            make.import_job(status=ImportStatus.PROCESSING, started_at=T0),
            make.import_job(status=ImportStatus.PENDING),
            make.import_job(
                status=ImportStatus.COMPLETED,
                completed_at=T0,
                settings={"kind": "bookings", FILE_PURGED_AT: cutoff.isoformat()},
            ),
        ]
        _commit_all(uow_factory, "imports", (*due, *kept))
        oldest_first = sorted(due, key=lambda j: j.completed_at or T0)
        with uow_factory() as uow:
            assert list(uow.imports.files_to_purge(cutoff, limit=10)) == oldest_first
            assert list(uow.imports.files_to_purge(cutoff, limit=2)) == oldest_first[:2]
            marked = uow.imports.get_for_update(oldest_first[0].id)
            assert marked is not None
            marked.settings = {**marked.settings, FILE_PURGED_AT: cutoff.isoformat()}
            marked.version += 1
            uow.commit()
        with uow_factory() as uow:
            assert list(uow.imports.files_to_purge(cutoff, limit=10)) == oldest_first[1:]

    def test_jobs_are_listed_newest_first_in_pages(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        jobs = [make.import_job(created_at=T0 + timedelta(minutes=n)) for n in (3, 1, 4, 0, 2)]
        _commit_all(uow_factory, "imports", jobs)
        newest_first = sorted(jobs, key=lambda j: j.created_at, reverse=True)
        assert_pages_walk(uow_factory, lambda uow, page: uow.imports.list(page), jobs)
        with uow_factory() as uow:
            assert list(uow.imports.list(PageRequest(limit=10)).items) == newest_first

    def test_failed_rows_are_kept_per_job_in_row_order(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        job, other = make.import_job(), make.import_job()
        rows = {n: make.import_row_error(job.id, n) for n in (7, 2, 5)}
        theirs = make.import_row_error(other.id, 1)
        # A second record of row 5 made at the same moment comes by id, as the pages do
        # (the largest id is written first here).
        low, high = sorted((uuid4(), uuid4()), key=lambda ident: ident.bytes)
        again = [make.import_row_error(job.id, 5, id=ident) for ident in (high, low)]
        with uow_factory() as uow:
            uow.imports.add(job)
            uow.imports.add(other)
            for error in (*rows.values(), theirs, *again):
                uow.import_errors.add(error)
            uow.commit()
        five = sorted([rows[5], *again], key=lambda error: error.id.bytes)
        with uow_factory() as uow:
            assert list(uow.import_errors.list_for_job(job.id)) == [rows[2], *five, rows[7]]
            assert list(uow.import_errors.list_for_job(other.id)) == [theirs]
            assert list(uow.import_errors.list_for_job(uuid4())) == []

    def test_rows_a_retry_imported_can_be_left_out(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        job = make.import_job()
        errors = [make.import_row_error(job.id, n) for n in (2, 3, 4)]
        with uow_factory() as uow:
            uow.imports.add(job)
            for error in errors:
                uow.import_errors.add(error)
            uow.commit()
        with uow_factory() as uow:
            loaded = {e.row_number: e for e in uow.import_errors.list_for_job(job.id)}
            loaded[3].resolved_at = T0 + timedelta(hours=1)
            uow.commit()
        with uow_factory() as uow:
            unresolved = uow.import_errors.list_for_job(job.id, unresolved_only=True)
            assert [e.row_number for e in unresolved] == [2, 4]
            every = uow.import_errors.list_for_job(job.id)
            assert [e.resolved_at for e in every] == [None, T0 + timedelta(hours=1), None]

    def test_pages_walk_every_failed_row_of_a_job_once_by_row_number(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """A job's failed rows list by row number a keyset page at a time (two records
        of one row by when they were made); another job's never come, and rows a
        retry imported are left out when asked. A cursor of another list is refused.

        .. versionadded:: 0.3
        """
        job, other = make.import_job(), make.import_job()
        errors = [
            make.import_row_error(
                (job, other)[n % 4 == 3].id,
                row_number=(17, 2, 9, 40, 3, 11, 9, 25, 5)[n],
                created_at=T0 + timedelta(minutes=n % 3),
                resolved_at=T0 + timedelta(hours=1) if n in (1, 5) else None,
            )
            for n in range(9)
        ]
        with uow_factory() as uow:
            uow.imports.add(job)
            uow.imports.add(other)
            for error in errors:
                uow.import_errors.add(error)
            uow.commit()

        def by_row(e: ImportRowError) -> tuple[int, datetime, bytes]:
            return (e.row_number, e.created_at, e.id.bytes)

        def walks(job_id: UUID, unresolved_only: bool) -> None:
            assert_pages_walk(
                uow_factory,
                lambda uow, page: uow.import_errors.page_for_job(
                    job_id, page, unresolved_only=unresolved_only
                ),
                [
                    e
                    for e in errors
                    if e.job_id == job_id and not (unresolved_only and e.resolved_at)
                ],
                key=by_row,
                label=(job_id, unresolved_only),
            )

        for job_id, unresolved_only in itertools.product((job.id, other.id), (False, True)):
            walks(job_id, unresolved_only)
        with uow_factory() as uow:
            nothing = uow.import_errors.page_for_job(uuid4(), PageRequest())
            assert (list(nothing), nothing.next_cursor) == ([], None)
            newest = PageRequest(cursor=Cursor(T0, uuid4()).encode())
            with pytest.raises(ValidationError) as refused:
                uow.import_errors.page_for_job(job.id, newest)
            assert refused.value.fields == ("cursor",)


class LookupContract(_Base):
    """The bulk look-ups imports and reports lean on: many keys, one call.

    .. versionadded:: 0.1
    """

    def test_customers_are_found_by_many_phones_and_emails_at_once(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        shared = EmailAddress("family@example.com")
        older = make.customer(email=shared)
        newer = make.customer(email=shared, created_at=T0 + timedelta(minutes=5))
        alone = make.customer(email=EmailAddress("alone@example.com"))
        _commit_all(uow_factory, "customers", (newer, older, alone))
        unknown_phone, unknown_email = make.phone(), EmailAddress("nobody@example.com")
        with uow_factory() as uow:
            by_phone = uow.customers.find_by_phones([older.phone, alone.phone, unknown_phone])
            assert dict(by_phone) == {older.phone: older, alone.phone: alone}
            by_email = uow.customers.find_by_emails([shared, alone.email or shared, unknown_email])
            assert dict(by_email) == {shared: older, alone.email: alone}
            assert dict(uow.customers.find_by_phones([])) == {}
            assert dict(uow.customers.find_by_emails([])) == {}

    def test_customers_are_found_by_email_in_any_case(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``Ann@Example.com`` finds the customer stored as ``ann@example.com`` and back;
        the answer is keyed by the address asked for, and the stored one is kept as given."""
        lower = make.customer(email=EmailAddress("ann@example.com"))
        upper = make.customer(email=EmailAddress("Bob@Example.com"))
        with uow_factory() as uow:
            uow.customers.add(lower)
            uow.customers.add(upper)
            uow.commit()
        asked = [EmailAddress("Ann@Example.com"), EmailAddress("bob@example.com")]
        with uow_factory() as uow:
            found = uow.customers.find_by_emails(asked)
            assert dict(found) == {asked[0]: lower, asked[1]: upper}
            stored = uow.customers.get(upper.id)
            assert stored is not None
            assert stored.email == EmailAddress("Bob@Example.com")
            both = [EmailAddress("ANN@example.com"), EmailAddress("ann@EXAMPLE.com")]
            assert dict(uow.customers.find_by_emails(both)) == {both[0]: lower, both[1]: lower}

    def test_bookings_are_found_by_many_external_ids_and_keys_at_once(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        with uow_factory() as uow:
            slot = uow.slots.get(booking.slot_id)
            assert slot is not None
            both = make.booking(
                booking.customer_id,
                slot,
                [t.traveler_id for t in booking.travelers],
                external_id="EXT-1",
                idempotency_key="key-1",
            )
            external = make.booking(
                booking.customer_id,
                slot,
                [t.traveler_id for t in booking.travelers],
                external_id="EXT-2",
            )
            uow.bookings.add(both)
            uow.bookings.add(external)
            uow.commit()
        with uow_factory() as uow:
            found = uow.bookings.find_by_external_ids(["EXT-1", "EXT-2", "EXT-3"])
            assert dict(found) == {"EXT-1": both, "EXT-2": external}
            assert dict(uow.bookings.find_by_idempotency_keys(["key-1", "key-2"])) == {
                "key-1": both
            }
            assert dict(uow.bookings.find_by_external_ids([])) == {}

    def test_bookings_of_many_customer_slot_pairs_come_in_one_look_up(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        other_slot = make.slot(booking.location_id)
        with uow_factory() as uow:
            uow.slots.add(other_slot)
            slot = uow.slots.get(booking.slot_id)
            assert slot is not None
            again = make.booking(
                booking.customer_id, slot, [t.traveler_id for t in booking.travelers]
            )
            uow.bookings.add(again)
            uow.commit()
        mine = (booking.customer_id, booking.slot_id)
        with uow_factory() as uow:
            found = uow.bookings.find_for_customer_slots(
                [mine, (booking.customer_id, other_slot.id)]
            )
            assert {key: [b.id for b in value] for key, value in found.items()} == {
                mine: [
                    b.id for b in sorted([booking, again], key=lambda b: (b.created_at, b.id.bytes))
                ]
            }
            # this unit's own additions are seen too
            added = make.booking(
                booking.customer_id, other_slot, [t.traveler_id for t in booking.travelers]
            )
            uow.bookings.add(added)
            found = uow.bookings.find_for_customer_slots([(booking.customer_id, other_slot.id)])
            assert [b.id for b in found[(booking.customer_id, other_slot.id)]] == [added.id]
            assert dict(uow.bookings.find_for_customer_slots([])) == {}

    def test_count_by_assignee_counts_only_the_statuses_asked_for(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        busy, idle = make.staff_member(), make.staff_member()
        with uow_factory() as uow:
            uow.staff.add(busy)
            uow.staff.add(idle)
            slot = uow.slots.get(booking.slot_id)
            assert slot is not None
            travelers = [t.traveler_id for t in booking.travelers]
            for status, assignee in [
                ("pending", busy.id),
                ("pending", busy.id),
                ("confirmed", busy.id),
                ("cancelled", idle.id),
                ("pending", None),
            ]:
                uow.bookings.add(
                    make.booking(
                        booking.customer_id, slot, travelers, status=status, assignee_id=assignee
                    )
                )
            uow.commit()
        with uow_factory() as uow:
            assert dict(uow.bookings.count_by_assignee(["pending", "confirmed"])) == {busy.id: 3}
            assert dict(uow.bookings.count_by_assignee(["pending"])) == {busy.id: 2}
            assert dict(uow.bookings.count_by_assignee(["cancelled"])) == {idle.id: 1}
            assert dict(uow.bookings.count_by_assignee([])) == {}


def _store_customer(uow_factory: UnitOfWorkFactory, make: Builder) -> Customer:
    return _committed(uow_factory, "customers", make.customer())


def _store_traveler(uow_factory: UnitOfWorkFactory, make: Builder) -> Traveler:
    return _committed(
        uow_factory, "travelers", make.traveler(_store_customer(uow_factory, make).id)
    )


def _store_slot(uow_factory: UnitOfWorkFactory, make: Builder) -> Slot:
    slot, _ = _stored_slot_customers(uow_factory, make, customers=0)
    return slot


def _committed(uow_factory: UnitOfWorkFactory, repository: str, entity: E) -> E:
    """``entity`` added through the unit of work's ``repository`` and committed."""
    with uow_factory() as uow:
        getattr(uow, repository).add(entity)
        uow.commit()
    return entity


def _commit_all(uow_factory: UnitOfWorkFactory, repository: str, entities: Iterable[Any]) -> None:
    """``entities`` added in order through the unit of work's ``repository``, one commit."""
    with uow_factory() as uow:
        add = getattr(uow, repository).add
        for entity in entities:
            add(entity)
        uow.commit()


def _assert_duplicate(
    uow_factory: UnitOfWorkFactory, repository: str, entity: object
) -> DuplicateError:
    """Adding ``entity`` through the unit of work's ``repository`` fails the commit with
    :class:`~bookingcore.errors.DuplicateError`, which is returned."""
    with uow_factory() as uow:
        getattr(uow, repository).add(entity)
        with pytest.raises(DuplicateError) as caught:
            uow.commit()
    return caught.value


def _store_alone(repository: str, build: Callable[[Builder], Any]) -> Callable[..., Any]:
    def store(uow_factory: UnitOfWorkFactory, make: Builder) -> Any:
        return _committed(uow_factory, repository, build(make))

    return store


def _store_certificate(uow_factory: UnitOfWorkFactory, make: Builder) -> Certificate:
    booking = _stored_booking(uow_factory, make)
    certificate = Certificate.issue(
        certificate_id=CertificateId(uuid4()),
        customer_id=booking.customer_id,
        booking_id=booking.id,
        kind="AOW",
        number=f"V-{uuid4().hex[:8]}",
        issued_at=T0,
        now=T0,
    )
    return _committed(uow_factory, "certificates", certificate)


def _voucher(code: str | None = None, **fields: Any) -> Voucher:
    return Voucher.create(
        voucher_id=VoucherId(uuid4()),
        code=code or f"V-{uuid4().hex[:8]}",
        now=fields.pop("now", T0),
        **({"percent_off": "10"} | fields),
    )


def _store_voucher(uow_factory: UnitOfWorkFactory, make: Builder) -> Voucher:
    return _committed(uow_factory, "vouchers", _voucher())


def _store_group(uow_factory: UnitOfWorkFactory, make: Builder) -> BookingGroup:
    return _committed(uow_factory, "groups", make.group(_store_customer(uow_factory, make).id))


def _store_waitlist_entry(uow_factory: UnitOfWorkFactory, make: Builder) -> WaitlistEntry:
    slot, (customer,) = _stored_slot_customers(uow_factory, make)
    return _committed(uow_factory, "waitlist", make.waitlist_entry(slot.id, customer.id))


def _store_payment(uow_factory: UnitOfWorkFactory, make: Builder, **fields: Any) -> Payment:
    """Commit a booking (:func:`_stored_booking`) and a payment of it with ``fields``."""
    booking = _stored_booking(uow_factory, make)
    return _committed(uow_factory, "payments", make.payment(booking, **fields))


def _store_refund(uow_factory: UnitOfWorkFactory, make: Builder) -> Refund:
    return _committed(uow_factory, "refunds", make.refund(_store_payment(uow_factory, make).id))


def _store_invoice(uow_factory: UnitOfWorkFactory, make: Builder) -> Invoice:
    return _committed(uow_factory, "invoices", make.invoice(_store_payment(uow_factory, make)))


def _store_booking_item(uow_factory: UnitOfWorkFactory, make: Builder) -> BookingItem:
    return _committed(
        uow_factory, "booking_items", make.booking_item(_stored_booking(uow_factory, make).id)
    )


# ------------------------------------------------------------ the travel operating system (0.3)


class LeadRepositoryContract(_Base):
    """Leads: every field round trips, filters combine, open leads counted per assignee.

    .. versionadded:: 0.3
    """

    def test_leads_read_back_equal_and_filter_by_status_assignee_and_customer(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        ann, bob = StaffId(uuid4()), StaffId(uuid4())
        asha = _store_customer(uow_factory, make)
        ravi = _store_customer(uow_factory, make)
        full = make.lead(
            asha.id,
            source=LeadSource.PHONE,
            destination="Ladakh, Nubra valley",
            travel_starts_on=date(2026, 6, 1),
            travel_ends_on=date(2026, 6, 9),
            travelers=4,
            notes="Vegetarian; wants a lake view",
            assignee_id=ann,
            follow_up_on=date(2026, 1, 5),
            created_at=T0 + timedelta(minutes=1),
        )
        plain = make.lead(ravi.id, assignee_id=ann, created_at=T0 + timedelta(minutes=2))
        lost = make.lead(
            asha.id,
            assignee_id=bob,
            status=LeadStatus.LOST,
            lost_reason="booked elsewhere",
            created_at=T0 + timedelta(minutes=3),
        )
        with uow_factory() as uow:
            for lead in (lost, plain, full):
                uow.leads.add(lead)
            assert uow.leads.count_open_by_assignee() == {ann: 2}
            uow.commit()
        with uow_factory() as uow:
            assert uow.leads.get(full.id) == full
            assert uow.leads.get(LeadId(uuid4())) is None

            def listed(query: LeadFilter) -> list[Lead]:
                return list(uow.leads.list(query, PageRequest()))

            assert listed(LeadFilter()) == [lost, plain, full]
            assert listed(LeadFilter(customer_id=asha.id)) == [lost, full]
            assert listed(LeadFilter(assignee_id=ann, customer_id=ravi.id)) == [plain]
            assert listed(LeadFilter(status=LeadStatus.LOST)) == [lost]
            assert uow.leads.count_open_by_assignee() == {ann: 2}
            stored = uow.leads.get(plain.id)
            assert stored is not None
            stored.move(LeadStatus.LOST, now=T0 + timedelta(hours=1), reason="no answer")
            moved = uow.leads.get(full.id)
            assert moved is not None
            moved.assign(bob, now=T0 + timedelta(hours=1))
            assert uow.leads.count_open_by_assignee() == {bob: 1}
            uow.commit()
        with uow_factory() as uow:
            assert uow.leads.count_open_by_assignee() == {bob: 1}
            again = uow.leads.get(plain.id)
            assert again is not None
            assert (again.status, again.lost_reason, again.version) == (
                LeadStatus.LOST,
                "no answer",
                2,
            )

    def test_pages_walk_every_matching_lead_once_newest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        ann = StaffId(uuid4())
        agency = _committed(uow_factory, "partners", make.partner())
        asha = _store_customer(uow_factory, make)
        ravi = _store_customer(uow_factory, make)
        # Pairs share a creation time so the id must break ties.
        leads = [
            make.lead(
                (asha, ravi)[n % 2].id,
                assignee_id=ann if n % 3 else None,
                partner_id=agency.id if n % 4 == 0 else None,
                status=LeadStatus.LOST if n % 5 == 0 else LeadStatus.NEW,
                created_at=T0 + timedelta(minutes=n // 2),
            )
            for n in range(13)
        ]
        _commit_all(uow_factory, "leads", leads)
        queries = [
            LeadFilter(),
            LeadFilter(customer_id=asha.id),
            LeadFilter(assignee_id=ann, status=LeadStatus.NEW),
            LeadFilter(partner_id=agency.id),
            LeadFilter(customer_id=ravi.id, status=LeadStatus.LOST),
        ]
        _assert_each_filter_walks(
            uow_factory, lambda query, uow, page: uow.leads.list(query, page), leads, queries
        )

    # ---- counted and due in the storage (the dashboard at scale)

    def test_leads_are_counted_by_status_and_assignment_by_the_storage(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        ann = StaffId(uuid4())
        asha = _store_customer(uow_factory, make)
        ravi = _store_customer(uow_factory, make)
        statuses = [LeadStatus.NEW, LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.LOST]
        leads = [
            make.lead(
                (asha, ravi)[n % 2].id,
                status=status,
                assignee_id=ann if n % 2 else None,
                created_at=T0 + timedelta(minutes=n),
            )
            for n, status in enumerate(statuses)
        ]
        with uow_factory() as uow:
            for lead in leads:
                uow.leads.add(lead)
            assert uow.leads.count_by_status(LeadFilter()) == {
                LeadStatus.NEW: 2,
                LeadStatus.CONTACTED: 1,
                LeadStatus.LOST: 1,
            }
            uow.commit()
        with uow_factory() as uow:
            assert uow.leads.count_by_status(LeadFilter()) == {
                LeadStatus.NEW: 2,
                LeadStatus.CONTACTED: 1,
                LeadStatus.LOST: 1,
            }
            assert uow.leads.count_by_status(LeadFilter(customer_id=ravi.id)) == {
                LeadStatus.NEW: 1,
                LeadStatus.LOST: 1,
            }
            assert uow.leads.count_by_status(LeadFilter(status=LeadStatus.WON)) == {}
            assert uow.leads.count(LeadFilter()) == 4
            assert uow.leads.count(LeadFilter(assigned=True)) == 2
            assert uow.leads.count(LeadFilter(assigned=False)) == 2
            assert uow.leads.count(LeadFilter(assigned=True, status=LeadStatus.LOST)) == 1
            assigned = list(uow.leads.list(LeadFilter(assigned=True), PageRequest()))
            assert assigned == [leads[3], leads[1]]
            # This unit's own changes count before they are committed.
            first = uow.leads.get(leads[0].id)
            assert first is not None
            first.assign(ann, now=T0 + timedelta(hours=1))
            first.move(LeadStatus.CONTACTED, now=T0 + timedelta(hours=1))
            assert uow.leads.count(LeadFilter(assigned=True)) == 3
            assert uow.leads.count_by_status(LeadFilter()) == {
                LeadStatus.NEW: 1,
                LeadStatus.CONTACTED: 2,
                LeadStatus.LOST: 1,
            }
            uow.commit()
        with uow_factory() as uow:
            assert uow.leads.count(LeadFilter(assigned=False)) == 1
            assert uow.leads.count_by_status(LeadFilter(assignee_id=ann)) == {
                LeadStatus.NEW: 1,
                LeadStatus.CONTACTED: 1,
                LeadStatus.LOST: 1,
            }

    def test_follow_ups_due_are_open_leads_due_by_the_day_earliest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        ann = StaffId(uuid4())
        asha = _store_customer(uow_factory, make)
        day = date(2026, 1, 10)

        def lead(n: int, follow_up_on: date | None, **fields: Any) -> Lead:
            return make.lead(
                asha.id, follow_up_on=follow_up_on, created_at=T0 + timedelta(minutes=n), **fields
            )

        late = lead(1, day - timedelta(days=3))
        today = lead(2, day, assignee_id=ann)
        tied = lead(3, day - timedelta(days=3), status=LeadStatus.QUALIFIED)
        tomorrow = lead(4, day + timedelta(days=1))
        lost = lead(5, day - timedelta(days=5), status=LeadStatus.LOST)
        won = lead(6, day - timedelta(days=5), status=LeadStatus.WON)
        never = lead(7, None)
        _commit_all(uow_factory, "leads", (never, won, lost, tomorrow, tied, today, late))
        due = LeadFilter(follow_up_due_on=day)
        first, two, one = PageRequest(), PageRequest(limit=2), PageRequest(limit=1)
        with uow_factory() as uow:
            assert list(uow.leads.list_by_follow_up(due, first)) == [late, tied, today]
            assert list(uow.leads.list_by_follow_up(due, two)) == [late, tied]
            assert list(uow.leads.list_by_follow_up(LeadFilter(), first)) == [
                lost,
                won,
                late,
                tied,
                today,
                tomorrow,
            ]
            mine = attrs.evolve(due, assignee_id=ann)
            assert list(uow.leads.list_by_follow_up(mine, first)) == [today]
            assert list(uow.leads.list(due, PageRequest())) == [tied, today, late]
            assert uow.leads.count(due) == 3
            earlier = LeadFilter(follow_up_due_on=T0.date())
            assert list(uow.leads.list_by_follow_up(earlier, first)) == []
            # A lead moved on in this unit is no longer due; one rescheduled is.
            stored = uow.leads.get(late.id)
            assert stored is not None
            stored.move(LeadStatus.LOST, now=T0 + timedelta(hours=1), reason="no answer")
            moved = uow.leads.get(tomorrow.id)
            assert moved is not None
            moved.schedule_follow_up(day - timedelta(days=4), now=T0 + timedelta(hours=1))
            assert [x.id for x in uow.leads.list_by_follow_up(due, first)] == [
                tomorrow.id,
                tied.id,
                today.id,
            ]
            assert [x.id for x in uow.leads.list_by_follow_up(due, one)] == [tomorrow.id]

    def test_pages_walk_every_follow_up_due_once_earliest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """Follow-ups list earliest date first, then oldest lead first, a keyset page
        at a time on ``(follow_up_on, created_at, id)``: leads sharing a date and a
        creation time are ordered by id; closed leads, leads due later and leads
        without a date never come; an advisor's filter holds across pages. A cursor
        of a newest-first list is refused.

        .. versionadded:: 0.3
        """
        ann = StaffId(uuid4())
        asha = _store_customer(uow_factory, make)
        day = date(2026, 1, 10)
        leads = [
            make.lead(
                asha.id,
                follow_up_on=None if n % 7 == 6 else day + timedelta(days=n % 4 - 2),
                created_at=T0 + timedelta(minutes=n // 3),
                status=LeadStatus.LOST if n % 5 == 4 else LeadStatus.NEW,
                assignee_id=ann if n % 2 else None,
            )
            for n in range(16)
        ]
        _commit_all(uow_factory, "leads", leads)

        def by_follow_up(lead: Lead) -> tuple[date, datetime, bytes]:
            assert lead.follow_up_on is not None
            return (lead.follow_up_on, lead.created_at, lead.id.bytes)

        def walks(query: LeadFilter) -> None:
            assert_pages_walk(
                uow_factory,
                lambda uow, page: uow.leads.list_by_follow_up(query, page),
                [x for x in leads if x.follow_up_on is not None and query.matches(x)],
                key=by_follow_up,
                label=query,
            )

        due = LeadFilter(follow_up_due_on=day)
        walks(due)
        walks(attrs.evolve(due, assignee_id=ann))
        walks(LeadFilter())
        with uow_factory() as uow:
            newest = PageRequest(cursor=Cursor(T0, uuid4()).encode())
            with pytest.raises(ValidationError) as refused:
                uow.leads.list_by_follow_up(due, newest)
            assert refused.value.fields == ("cursor",)

    # ---- idempotency keys of leads (issue 19 follow-up)

    def test_a_lead_is_found_by_its_idempotency_key_held_once(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        customer = _store_customer(uow_factory, make)
        keyed = make.lead(customer.id, idempotency_key="system:web-1", request_fingerprint="v1:cd")
        unkeyed = make.lead(customer.id, created_at=T0 + timedelta(minutes=1))
        with uow_factory() as uow:
            uow.leads.add(keyed)
            uow.leads.add(unkeyed)
            assert uow.leads.get_by_idempotency_key("system:web-1") == keyed
            uow.commit()
        with uow_factory() as uow:
            assert uow.leads.get_by_idempotency_key("system:web-1") == keyed
            assert uow.leads.get_by_idempotency_key("system:web-2") is None
            uow.leads.add(make.lead(customer.id, idempotency_key="system:web-1"))
            with pytest.raises(DuplicateError):
                uow.commit()
        with uow_factory() as uow:
            mine = uow.leads.list(LeadFilter(customer_id=customer.id), PageRequest())
            assert list(mine) == [unkeyed, keyed]


class QuotationRepositoryContract(_Base):
    """Quotations: every revision round trips with its lines, exact amounts and rates;
    ``(reference, revision)`` is held once.

    .. versionadded:: 0.3
    """

    def test_revisions_filter_by_the_day_their_validity_ends(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        slot, (asha,) = _stored_slot_customers(uow_factory, make)
        day = date(2026, 3, 10)

        def quotation(n: int, valid_until: date, status: QuotationStatus) -> Quotation:
            return make.quotation(
                asha.id,
                slot.id,
                valid_until=valid_until,
                status=status,
                created_at=T0 + timedelta(minutes=n),
            )

        sent, draft = QuotationStatus.SENT, QuotationStatus.DRAFT
        ended = quotation(1, day - timedelta(days=1), sent)
        last_day = quotation(2, day, sent)
        later = quotation(3, day + timedelta(days=1), draft)
        old_draft = quotation(4, day - timedelta(days=30), draft)
        _commit_all(uow_factory, "quotations", (old_draft, later, last_day, ended))
        with uow_factory() as uow:

            def listed(query: QuotationFilter) -> list[Quotation]:
                return walk_pages(partial(uow.quotations.list, query), limit=1)

            assert listed(QuotationFilter(valid_on=day)) == [later, last_day]
            assert listed(QuotationFilter(status=sent, valid_on=day)) == [last_day]
            assert listed(QuotationFilter(expired_on=day)) == [old_draft, ended]
            assert listed(QuotationFilter(status=draft, expired_on=day)) == [old_draft]
            assert listed(QuotationFilter(valid_on=day, expired_on=day)) == []
            assert listed(QuotationFilter(expired_on=day + timedelta(days=1))) == [
                old_draft,
                last_day,
                ended,
            ]

    def test_sent_only_keeps_the_revisions_that_were_sent_whatever_their_status(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        slot, (asha,) = _stored_slot_customers(uow_factory, make)
        sent_at = T0 + timedelta(hours=1)

        def quotation(n: int, status: QuotationStatus, *, sent: bool) -> Quotation:
            return make.quotation(
                asha.id,
                slot.id,
                status=status,
                sent_at=sent_at if sent else None,
                created_at=T0 + timedelta(minutes=n),
            )

        draft = quotation(1, QuotationStatus.DRAFT, sent=False)
        sent = quotation(2, QuotationStatus.SENT, sent=True)
        expired_unsent = quotation(3, QuotationStatus.EXPIRED, sent=False)
        expired_sent = quotation(4, QuotationStatus.EXPIRED, sent=True)
        _commit_all(uow_factory, "quotations", (draft, sent, expired_unsent, expired_sent))
        with uow_factory() as uow:

            def listed(query: QuotationFilter) -> list[Quotation]:
                return walk_pages(partial(uow.quotations.list, query), limit=1)

            assert listed(QuotationFilter(sent_only=True)) == [expired_sent, sent]
            expired = QuotationStatus.EXPIRED
            assert listed(QuotationFilter(status=expired, sent_only=True)) == [expired_sent]
            assert listed(QuotationFilter()) == [expired_sent, expired_unsent, sent, draft]

    def test_revisions_read_back_equal_in_order_and_filter(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        slot, (asha, ravi) = _stored_slot_customers(uow_factory, make, customers=2)
        lead = _committed(uow_factory, "leads", make.lead(asha.id))
        supplier = make.supplier()
        product = make.product(supplier_id=supplier.id)
        hotel = QuotationLine(
            kind=BookingItemKind.HOTEL,
            description="Lakeside hotel, twin room",
            quantity=3,
            unit_price=Money("80.55", "EUR"),
            supplier_id=supplier.id,
            product_id=product.id,
            service_starts_on=date(2026, 1, 8),
            service_ends_on=date(2026, 1, 11),
            exchange_rate=Decimal("90.12345678"),
        )
        first = make.quotation(
            asha.id,
            slot.id,
            lead_id=lead.id,
            lines=(hotel,),
            notes="Window seats if possible",
            status=QuotationStatus.SUPERSEDED,
            created_at=T0 + timedelta(minutes=1),
        )
        second = make.quotation(
            asha.id,
            slot.id,
            reference=first.reference,
            revision=2,
            lead_id=lead.id,
            lines=(hotel, *first.lines),
            status=QuotationStatus.SENT,
            sent_at=T0 + timedelta(minutes=5),
            created_at=T0 + timedelta(minutes=2),
        )
        theirs = make.quotation(ravi.id, slot.id, created_at=T0 + timedelta(minutes=3))
        with uow_factory() as uow:
            uow.suppliers.add(supplier)
            uow.products.add(product)
            for quotation in (second, theirs, first):
                uow.quotations.add(quotation)
            uow.commit()
        with uow_factory() as uow:
            assert uow.quotations.get(first.id) == first
            assert uow.quotations.get(QuotationId(uuid4())) is None
            assert list(uow.quotations.list_revisions(first.reference)) == [first, second]

            def listed(query: QuotationFilter) -> list[Quotation]:
                return list(uow.quotations.list(query, PageRequest()))

            assert listed(QuotationFilter(customer_id=asha.id)) == [second, first]
            assert listed(QuotationFilter(status=QuotationStatus.SENT)) == [second]
            assert listed(QuotationFilter(lead_id=lead.id, status=QuotationStatus.DRAFT)) == []
            assert listed(QuotationFilter(lead_id=lead.id)) == [second, first]
            stored = uow.quotations.get(second.id)
            assert stored is not None
            assert stored.lines[0].total_in("INR") == Money("21778.33", "INR")
            assert stored.total == second.total
            stored.reject(now=T0 + timedelta(hours=1), reason="too dear")
            uow.commit()
        with uow_factory() as uow:
            rejected = uow.quotations.get(second.id)
            assert rejected is not None
            assert (rejected.status, rejected.rejection_reason, rejected.version) == (
                QuotationStatus.REJECTED,
                "too dear",
                2,
            )

    def test_pages_walk_every_matching_revision_once_newest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        slot, (asha, ravi) = _stored_slot_customers(uow_factory, make, customers=2)
        lead = _committed(uow_factory, "leads", make.lead(asha.id))
        # Pairs share a creation time so the id must break ties.
        quotations = [
            make.quotation(
                (asha, ravi)[n % 2].id,
                slot.id,
                lead_id=lead.id if n % 3 == 0 else None,
                status=QuotationStatus.SENT if n % 4 == 0 else QuotationStatus.DRAFT,
                created_at=T0 + timedelta(minutes=n // 2),
            )
            for n in range(13)
        ]
        _commit_all(uow_factory, "quotations", quotations)
        queries = [
            QuotationFilter(),
            QuotationFilter(customer_id=ravi.id),
            QuotationFilter(status=QuotationStatus.SENT),
            QuotationFilter(lead_id=lead.id, status=QuotationStatus.DRAFT),
        ]
        _assert_each_filter_walks(
            uow_factory,
            lambda query, uow, page: uow.quotations.list(query, page),
            quotations,
            queries,
        )

    def test_a_revision_number_is_held_once_per_reference(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        slot, (customer,) = _stored_slot_customers(uow_factory, make)
        first = _committed(uow_factory, "quotations", make.quotation(customer.id, slot.id))
        _assert_duplicate(
            uow_factory,
            "quotations",
            make.quotation(customer.id, slot.id, reference=first.reference),
        )
        with uow_factory() as uow:
            assert list(uow.quotations.list_revisions(first.reference)) == [first]

    # ---- idempotency keys of leads and quotations (issue 19 follow-up)

    def test_a_revision_is_found_by_its_idempotency_key_held_once(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        slot, (customer,) = _stored_slot_customers(uow_factory, make)
        keyed = make.quotation(
            customer.id, slot.id, idempotency_key="staff:k-1", request_fingerprint="v1:ab"
        )
        _committed(uow_factory, "quotations", keyed)
        with uow_factory() as uow:
            assert uow.quotations.get_by_idempotency_key("staff:k-1") == keyed
            assert uow.quotations.get_by_idempotency_key("staff:k-2") is None
            uow.quotations.add(make.quotation(customer.id, slot.id, idempotency_key="staff:k-1"))
            with pytest.raises(DuplicateError):
                uow.commit()
        with uow_factory() as uow:
            mine = uow.quotations.list(QuotationFilter(customer_id=customer.id), PageRequest())
            assert list(mine) == [keyed]

    # ---- end idempotency keys


class SupplierItemContract(_Base):
    """Line items of several suppliers: rates, booking currency and rejections round trip;
    each supplier's items are listed apart; the booking's items total round trips; items
    still waiting on their suppliers are counted per booking by the storage and their
    bookings read in one look-up.

    .. versionadded:: 0.3
    """

    def test_items_per_supplier_with_rates_and_rejections(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        hotel, jeeps = make.supplier(), make.supplier()
        room = make.booking_item(
            booking.id,
            kind=BookingItemKind.HOTEL,
            unit_price=Money("80.50", "EUR"),
            quantity=2,
            supplier_id=hotel.id,
            booking_currency="INR",
            exchange_rate=Decimal("90.25"),
            created_at=T0 + timedelta(minutes=1),
        )
        jeep = make.booking_item(
            booking.id, supplier_id=jeeps.id, created_at=T0 + timedelta(minutes=2)
        )
        late_room = make.booking_item(
            booking.id, supplier_id=hotel.id, created_at=T0 + timedelta(minutes=3)
        )
        with uow_factory() as uow:
            uow.suppliers.add(hotel)
            uow.suppliers.add(jeeps)
            for item in (late_room, jeep, room):
                uow.booking_items.add(item)
            uow.commit()
        with uow_factory() as uow:
            assert uow.booking_items.get(room.id) == room
            assert list(uow.booking_items.list_for_supplier(hotel.id, PageRequest())) == [
                late_room,
                room,
            ]
            assert list(uow.booking_items.list_for_supplier(jeeps.id, PageRequest())) == [jeep]
            stored = uow.booking_items.get(room.id)
            assert stored is not None
            assert stored.booking_total == Money("14530.25", "INR")
            stored.confirm(now=T0 + timedelta(hours=1), supplier_reference="LK-1")
            refused = uow.booking_items.get(jeep.id)
            assert refused is not None
            refused.reject("no jeep that day", now=T0 + timedelta(hours=1))
            uow.commit()
        with uow_factory() as uow:
            confirmed = BookingItemStatus.CONFIRMED
            first = PageRequest()
            assert list(uow.booking_items.list_for_supplier(hotel.id, first, status=confirmed)) == [
                stored
            ]
            rejected = uow.booking_items.list_for_supplier(
                jeeps.id, first, status=BookingItemStatus.REJECTED
            )
            assert [(i.status, i.rejection_reason) for i in rejected] == [
                (BookingItemStatus.REJECTED, "no jeep that day")
            ]
            assert (
                list(uow.booking_items.list_for_supplier(jeeps.id, first, status=confirmed)) == []
            )
            items = uow.booking_items.list_for_booking(booking.id)
            mine = uow.bookings.get(booking.id)
            assert mine is not None
            assert mine.recount_items(items, now=T0 + timedelta(hours=2))
            uow.commit()
        with uow_factory() as uow:
            again = uow.bookings.get(booking.id)
            assert again is not None
            assert again.items_total == items_total(items, again.currency)
            assert again.total == again.subtotal - again.discount + again.items_sum

    def test_supplied_items_in_statuses_are_counted_per_booking(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        lodge, jeeps = make.supplier(), make.supplier()
        first, second = _stored_bookings(uow_factory, make, 2)
        pending, rejected = BookingItemStatus.PENDING, BookingItemStatus.REJECTED
        items = [
            make.booking_item(first.id, supplier_id=lodge.id),
            make.booking_item(first.id, supplier_id=jeeps.id, status=rejected),
            make.booking_item(first.id, supplier_id=jeeps.id, status=BookingItemStatus.CONFIRMED),
            make.booking_item(first.id),
            make.booking_item(second.id, supplier_id=lodge.id, status=rejected),
            make.booking_item(second.id),
        ]
        with uow_factory() as uow:
            uow.suppliers.add(lodge)
            uow.suppliers.add(jeeps)
            for item in items:
                uow.booking_items.add(item)
            uow.commit()
        with uow_factory() as uow:
            items_of = uow.booking_items
            counted = items_of.count_supplied_by_booking
            assert items_of.count_supplied_by_booking({pending, rejected}) == {
                first.id: 2,
                second.id: 1,
            }
            assert counted({pending}) == {first.id: 1}
            assert counted({BookingItemStatus.CANCELLED}) == {}
            assert counted(()) == {}
            # This unit's own changes count before they are committed.
            confirmed = uow.booking_items.get(items[0].id)
            assert confirmed is not None
            confirmed.confirm(now=T0 + timedelta(hours=1), supplier_reference="L-1")
            uow.booking_items.add(make.booking_item(second.id, supplier_id=jeeps.id))
            assert counted({pending, rejected}) == {first.id: 1, second.id: 2}
            uow.commit()
        with uow_factory() as uow:
            counted = uow.booking_items.count_supplied_by_booking
            assert counted({pending, rejected}) == {first.id: 1, second.id: 2}

    def test_pages_walk_every_item_of_a_supplier_once_newest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """A supplier's items, of any booking and (unless ``status`` is given) in any
        status, list newest first a keyset page at a time; another supplier's and
        items without a supplier never come.

        .. versionadded:: 0.3
        """
        lodge, jeeps = make.supplier(), make.supplier()
        first, second = _stored_bookings(uow_factory, make, 2)
        statuses = (BookingItemStatus.PENDING, BookingItemStatus.CONFIRMED)
        # Pairs share a creation time so the id must break ties.
        items = [
            make.booking_item(
                (first, second)[n % 2].id,
                supplier_id=None if n % 5 == 4 else (lodge, jeeps)[n % 3 == 0].id,
                status=statuses[n % 2],
                created_at=T0 + timedelta(minutes=n // 2),
            )
            for n in range(12)
        ]
        with uow_factory() as uow:
            uow.suppliers.add(lodge)
            uow.suppliers.add(jeeps)
            for item in items:
                uow.booking_items.add(item)
            uow.commit()

        def walks(supplier_id: SupplierId, status: BookingItemStatus | None = None) -> None:
            assert_pages_walk(
                uow_factory,
                lambda uow, page: uow.booking_items.list_for_supplier(
                    supplier_id, page, status=status
                ),
                [i for i in items if i.supplier_id == supplier_id and status in (None, i.status)],
                label=(supplier_id, status),
            )

        for supplier in (lodge, jeeps):
            walks(supplier.id)
            for status in statuses:
                walks(supplier.id, status)
        with uow_factory() as uow:
            nobody = uow.booking_items.list_for_supplier(SupplierId(uuid4()), PageRequest())
            assert (list(nobody), nobody.next_cursor) == ([], None)

    def test_bookings_are_found_by_their_ids_in_one_look_up(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        first, second = _stored_bookings(uow_factory, make, 2)
        unknown = BookingId(uuid4())
        with uow_factory() as uow:
            found = uow.bookings.find_by_ids([first.id, second.id, unknown, first.id])
            assert found == {first.id: first, second.id: second}
            assert uow.bookings.find_by_ids([]) == {}
            assert uow.bookings.find_by_ids([second.id]) == {second.id: second}
            # Many ids at once (more than one statement's worth on SQL).
            many = [BookingId(uuid4()) for _ in range(4500)]
            assert uow.bookings.find_by_ids([*many, second.id, first.id]) == {
                first.id: first,
                second.id: second,
            }


class TripRepositoryContract(_Base):
    """Trips and itineraries: every field round trips; a customer's trips newest
    first, a keyset page at a time; one itinerary per booking.

    .. versionadded:: 0.3
    .. versionchanged:: 0.4 ``Booking.trip_id`` and ``Document.quotation_id`` read back.
    """

    def test_trips_read_back_equal_per_customer_newest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        other = _store_customer(uow_factory, make)
        later = make.trip(
            booking.customer_id,
            name="Ladakh and Goa",
            starts_on=date(2026, 3, 1),
            ends_on=date(2026, 3, 20),
            booking_ids=(booking.id,),
            notes="Anniversary",
            created_at=T0,
        )
        sooner = make.trip(
            booking.customer_id, starts_on=date(2026, 1, 2), created_at=T0 + timedelta(minutes=1)
        )
        theirs = make.trip(other.id)
        with uow_factory() as uow:
            for trip in (later, theirs, sooner):
                uow.trips.add(trip)
            uow.commit()
        with uow_factory() as uow:
            assert uow.trips.get(later.id) == later
            assert uow.trips.get(TripId(uuid4())) is None
            mine = uow.trips.list_for_customer(booking.customer_id, PageRequest())
            assert list(mine) == [sooner, later]
            assert mine.next_cursor is None
            stored = uow.trips.get(sooner.id)
            assert stored is not None
            stored.add_booking(booking.id, now=T0 + timedelta(hours=1))
            uow.commit()
        with uow_factory() as uow:
            again = uow.trips.get(sooner.id)
            assert again is not None
            assert (again.booking_ids, again.version) == ((booking.id,), 2)

    def test_a_booking_s_trip_and_a_document_s_quotation_read_back(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``Booking.trip_id`` and ``Document.quotation_id`` are stored, changed
        and cleared with their unit of work.

        .. versionadded:: 0.4
        """
        booking = _stored_booking(uow_factory, make)
        trip = _committed(
            uow_factory, "trips", make.trip(booking.customer_id, booking_ids=(booking.id,))
        )
        quotation = _committed(
            uow_factory, "quotations", make.quotation(booking.customer_id, booking.slot_id)
        )
        document = Document(
            id=DocumentId(uuid4()),
            booking_id=booking.id,
            kind=DocumentKind.QUOTATION,
            filename="quotation-v1.txt",
            media_type="text/plain; charset=utf-8",
            content="Quotation",
            created_at=T0,
            generated_by=uuid4(),
            quotation_id=quotation.id,
        )
        with uow_factory() as uow:
            assert uow.bookings.get(booking.id).trip_id is None  # type: ignore[union-attr]
            stored = uow.bookings.get_for_update(booking.id)
            assert stored is not None
            assert stored.set_trip(trip.id, now=T0 + timedelta(hours=1))
            assert not stored.set_trip(trip.id, now=T0 + timedelta(hours=2))
            uow.documents.add(document)
            uow.commit()
        with uow_factory() as uow:
            on_trip = uow.bookings.get(booking.id)
            assert on_trip is not None
            assert (on_trip.trip_id, on_trip.version) == (trip.id, booking.version + 1)
            assert uow.documents.get(document.id) == document
            assert uow.documents.get(document.id).quotation_id == quotation.id  # type: ignore[union-attr]
            stored = uow.bookings.get_for_update(booking.id)
            assert stored is not None
            stored.set_trip(None, now=T0 + timedelta(hours=3))
            uow.commit()
        with uow_factory() as uow:
            assert uow.bookings.get(booking.id).trip_id is None  # type: ignore[union-attr]

    def test_pages_walk_every_trip_of_a_customer_once_newest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        asha = _store_customer(uow_factory, make)
        ravi = _store_customer(uow_factory, make)
        # Pairs share a creation time so the id must break ties.
        trips = [
            make.trip((asha, ravi)[n % 3 == 0].id, created_at=T0 + timedelta(minutes=n // 2))
            for n in range(11)
        ]
        _commit_all(uow_factory, "trips", trips)
        _assert_each_customer_walks(
            uow_factory,
            lambda customer_id, uow, page: uow.trips.list_for_customer(customer_id, page),
            trips,
            (asha, ravi),
        )

    def test_one_itinerary_per_booking_round_trips_and_is_edited(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        plan = make.itinerary(booking.id)
        _committed(uow_factory, "itineraries", plan)
        with uow_factory() as uow:
            assert uow.itineraries.get(plan.id) == plan
            assert uow.itineraries.get_for_booking(booking.id) == plan
            assert uow.itineraries.get_for_booking(BookingId(uuid4())) is None
            stored = uow.itineraries.get_for_booking(booking.id)
            assert stored is not None
            stored.set_day(
                attrs.evolve(plan.days[1], entries=("Monastery visit",), notes=None),
                now=T0 + timedelta(hours=1),
            )
            uow.commit()
        with uow_factory() as uow:
            edited = uow.itineraries.get(plan.id)
            assert edited is not None
            assert edited.days[1].entries == ("Monastery visit",)
            assert edited.version == 2
            uow.itineraries.add(make.itinerary(booking.id))
            with pytest.raises(DuplicateError):
                uow.commit()


def _store_lead(uow_factory: UnitOfWorkFactory, make: Builder) -> Lead:
    return _committed(uow_factory, "leads", make.lead(_store_customer(uow_factory, make).id))


def _store_quotation(uow_factory: UnitOfWorkFactory, make: Builder) -> Quotation:
    slot, (customer,) = _stored_slot_customers(uow_factory, make)
    return _committed(uow_factory, "quotations", make.quotation(customer.id, slot.id))


def _store_trip(uow_factory: UnitOfWorkFactory, make: Builder) -> Trip:
    return _committed(uow_factory, "trips", make.trip(_store_customer(uow_factory, make).id))


def _store_itinerary(uow_factory: UnitOfWorkFactory, make: Builder) -> Itinerary:
    booking = _stored_booking(uow_factory, make)
    return _committed(uow_factory, "itineraries", make.itinerary(booking.id))


def _family_of(
    make: Builder, owner: Customer, *others: Customer
) -> tuple[Family, list[FamilyMember]]:
    """A family ``owner`` owns, with ``others`` joined a minute apart."""
    family = Family(id=FamilyId(uuid4()), owner_id=owner.id, created_at=T0, updated_at=T0)
    members = [
        FamilyMember(
            id=FamilyMemberId(uuid4()),
            family_id=family.id,
            customer_id=customer.id,
            role=FamilyRole.OWNER if n == 0 else FamilyRole.MEMBER,
            relation=None if n == 0 else f"relation {n}",
            joined_at=T0 + timedelta(minutes=n),
        )
        for n, customer in enumerate((owner, *others))
    ]
    return family, members


def _invitation(
    family: Family, customer: Customer, *, minutes: int = 0, relation: str = "cousin"
) -> FamilyInvitation:
    return FamilyInvitation.create(
        invitation_id=FamilyInvitationId(uuid4()),
        family_id=family.id,
        invited_by=family.owner_id,
        customer_id=customer.id,
        relation=relation,
        now=T0 + timedelta(minutes=minutes),
        expires_at=T0 + timedelta(days=7),
    )


def _store_family(uow_factory: UnitOfWorkFactory, make: Builder) -> Family:
    owner, invited = make.customer(), make.customer()
    family, members = _family_of(make, owner)
    with uow_factory() as uow:
        uow.customers.add(owner)
        uow.customers.add(invited)
        uow.families.add(family)
        uow.families.add_member(members[0])
        uow.families.add_invitation(_invitation(family, invited))
        uow.commit()
    return family


def _store_family_invitation(uow_factory: UnitOfWorkFactory, make: Builder) -> FamilyInvitation:
    family = _store_family(uow_factory, make)
    with uow_factory() as uow:
        return uow.families.invitations(family.id)[0]


@attrs.frozen
class VersionedKind:
    """One kind of versioned entity, as :class:`VersionContract` stores, changes and reads it.

    Attributes:
        entity: the domain class (a subclass of
            :class:`~bookingcore.domain.values.Versioned`).
        repository: the unit of work's repository holding it (``"bookings"``).
        field: a field a writer changes; ``value(n)`` is what writer ``n`` sets.
        store: commits what the entity needs (its customer, slot, booking...)
            and the entity itself, and returns the entity.
        read: reads the entity by its id where the repository's ``get``
            takes something else (an invoice series is read by its key).

    .. versionadded:: 0.1
    .. versionchanged:: 0.2 ``read``.
    """

    entity: type[Versioned]
    repository: str
    field: str
    value: Callable[[int], object]
    store: Callable[[UnitOfWorkFactory, Builder], Any]
    read: Callable[[UnitOfWork, Any], Any] | None = None

    @property
    def name(self) -> str:
        """The entity class's name, the test id."""
        return self.entity.__name__

    def load(self, uow: UnitOfWork, entity_id: Any) -> Any:
        """The entity with ``entity_id``, read through its repository's ``get``."""
        if self.read is not None:
            found = self.read(uow, entity_id)
        else:
            found = getattr(uow, self.repository).get(entity_id)
        assert found is not None, f"{self.name} {entity_id} is not stored"
        return found

    def change(self, entity: Any, writer: int) -> None:
        """What writer ``writer`` does: set the field to its value and raise the version."""
        setattr(entity, self.field, self.value(writer))
        entity.version += 1


#: The entity names storage errors give where they are not the class's name in lower
#: case (``"customer"``, ``"bookinggroup"``): the names the services give them too.
_ENTITY_NAMES: dict[type[Any], str] = {
    WebhookDelivery: "webhook_delivery",
    FamilyInvitation: "family invitation",
}

#: The one series a version test stores (each test has a store of its own).
_VERSIONED_SERIES = "2026/VERSIONED"


def _text(prefix: str) -> Callable[[int], object]:
    return lambda writer: f"{prefix} by writer {writer}"


#: Every versioned entity kind of the domain; a test keeps it complete.
VERSIONED_KINDS: tuple[VersionedKind, ...] = (
    VersionedKind(Customer, "customers", "name", _text("Name"), _store_customer),
    VersionedKind(Traveler, "travelers", "name", _text("Name"), _store_traveler),
    VersionedKind(Slot, "slots", "name", _text("Batch"), _store_slot),
    VersionedKind(Booking, "bookings", "internal_notes", _text("Notes"), _stored_booking),
    VersionedKind(
        Partner, "partners", "name", _text("Partner"), _store_alone("partners", Builder.partner)
    ),
    VersionedKind(
        StaffMember, "staff", "name", _text("Staff"), _store_alone("staff", Builder.staff_member)
    ),
    VersionedKind(
        ImportJob,
        "imports",
        "processed_rows",
        lambda writer: 10 * writer,
        _store_alone("imports", Builder.import_job),
    ),
    VersionedKind(
        AuthSession,
        "auth_sessions",
        "refresh_jti",
        lambda writer: UUID(int=writer),
        _store_alone("auth_sessions", Builder.auth_session),
    ),
    VersionedKind(BookingGroup, "groups", "group_name", _text("Group"), _store_group),
    VersionedKind(BookingItem, "booking_items", "description", _text("Item"), _store_booking_item),
    VersionedKind(WaitlistEntry, "waitlist", "notes", _text("Notes"), _store_waitlist_entry),
    VersionedKind(Payment, "payments", "failure_reason", _text("Declined"), _store_payment),
    VersionedKind(Refund, "refunds", "reason", _text("Reason"), _store_refund),
    VersionedKind(
        WebhookReceipt,
        "webhook_inbox",
        "error",
        _text("Timeout"),
        _store_alone("webhook_inbox", Builder.webhook_receipt),
    ),
    VersionedKind(
        WebhookDelivery,
        "webhook_deliveries",
        "last_error",
        _text("Refused"),
        _store_webhook_delivery,
    ),
    VersionedKind(
        Invoice,
        "invoices",
        "issued_at",
        lambda writer: T0 + timedelta(minutes=writer),
        _store_invoice,
    ),
    VersionedKind(
        InvoiceSeries,
        "invoice_series",
        "next_number",
        lambda writer: 10 * writer,
        _store_alone("invoice_series", lambda make: make.invoice_series(key=_VERSIONED_SERIES)),
        read=lambda uow, _: uow.invoice_series.get(_VERSIONED_SERIES),
    ),
    # The travel operating system (0.3).
    VersionedKind(Lead, "leads", "notes", _text("Notes"), _store_lead),
    VersionedKind(Quotation, "quotations", "notes", _text("Notes"), _store_quotation),
    VersionedKind(Trip, "trips", "notes", _text("Notes"), _store_trip),
    VersionedKind(
        Itinerary,
        "itineraries",
        "days",
        lambda writer: (ItineraryDay(day=date(2026, 2, writer), title=f"Day {writer}"),),
        _store_itinerary,
    ),
    # ------------------------------------------------------------ customer care (0.3)
    VersionedKind(
        Certificate,
        "certificates",
        "issued_at",
        lambda writer: T0 + timedelta(minutes=writer),
        _store_certificate,
    ),
    # ------------------------------------------------------------ promo codes (0.4)
    VersionedKind(Voucher, "vouchers", "description", _text("Terms"), _store_voucher),
    # ------------------------------------------------------------ family accounts (0.4)
    VersionedKind(
        Family,
        "families",
        "updated_at",
        lambda writer: T0 + timedelta(minutes=writer),
        _store_family,
    ),
    VersionedKind(
        FamilyInvitation,
        "families",
        "relation",
        _text("Cousin"),
        _store_family_invitation,
        read=lambda uow, invitation_id: uow.families.get_invitation(invitation_id),
    ),
)


class VersionContract(_Base):
    """Optimistic versions on every versioned entity: no update is lost, none is refused twice.

    Parametrised over :data:`VERSIONED_KINDS`. The writer raises the version
    (as the domain's methods do); the adapter stores it and refuses, on commit,
    to overwrite a version its unit of work did not read.

    .. versionadded:: 0.1
    """

    @pytest.mark.parametrize("kind", VERSIONED_KINDS, ids=lambda kind: kind.name)
    def test_each_committed_change_is_stored_with_its_raised_version(
        self, uow_factory: UnitOfWorkFactory, make: Builder, kind: VersionedKind
    ) -> None:
        entity = kind.store(uow_factory, make)
        for writer in (1, 2):
            with uow_factory() as uow:
                kind.change(kind.load(uow, entity.id), writer)
                uow.commit()
            with uow_factory() as uow:
                stored = kind.load(uow, entity.id)
                assert (getattr(stored, kind.field), stored.version) == (
                    kind.value(writer),
                    1 + writer,
                )

    @requires("interleaved_units_of_work")
    @pytest.mark.parametrize("kind", VERSIONED_KINDS, ids=lambda kind: kind.name)
    def test_the_second_of_two_writers_is_stale_and_writes_nothing(
        self, uow_factory: UnitOfWorkFactory, make: Builder, kind: VersionedKind
    ) -> None:
        entity = kind.store(uow_factory, make)
        bystander = make.location()
        with uow_factory() as late:
            mine = kind.load(late, entity.id)
            with uow_factory() as early:
                kind.change(kind.load(early, entity.id), 1)
                early.commit()
            late.locations.add(bystander)
            kind.change(mine, 2)
            with pytest.raises(StaleVersionError) as caught:
                late.commit()
        assert (caught.value.expected, caught.value.actual) == (1, 2)
        assert caught.value.entity == _ENTITY_NAMES.get(kind.entity, kind.name.lower())
        with uow_factory() as uow:
            stored = kind.load(uow, entity.id)
            assert (getattr(stored, kind.field), stored.version) == (kind.value(1), 2)
            assert uow.locations.get(bystander.id) is None

    @requires("interleaved_units_of_work")
    @pytest.mark.parametrize("kind", VERSIONED_KINDS, ids=lambda kind: kind.name)
    def test_a_writer_that_forgot_to_raise_the_version_is_stale_too(
        self, uow_factory: UnitOfWorkFactory, make: Builder, kind: VersionedKind
    ) -> None:
        entity = kind.store(uow_factory, make)
        with uow_factory() as late:
            mine = kind.load(late, entity.id)
            with uow_factory() as early:
                kind.change(kind.load(early, entity.id), 1)
                early.commit()
            setattr(mine, kind.field, kind.value(2))  # version left at 1
            with pytest.raises(StaleVersionError):
                late.commit()
        with uow_factory() as uow:
            stored = kind.load(uow, entity.id)
            assert (getattr(stored, kind.field), stored.version) == (kind.value(1), 2)

    @requires("interleaved_units_of_work")
    @pytest.mark.parametrize("kind", VERSIONED_KINDS, ids=lambda kind: kind.name)
    def test_only_reading_an_entity_changed_meanwhile_does_not_fail_the_commit(
        self, uow_factory: UnitOfWorkFactory, make: Builder, kind: VersionedKind
    ) -> None:
        entity = kind.store(uow_factory, make)
        bystander = make.location()
        with uow_factory() as late:
            kind.load(late, entity.id)
            with uow_factory() as early:
                kind.change(kind.load(early, entity.id), 1)
                early.commit()
            late.locations.add(bystander)
            late.commit()
        with uow_factory() as uow:
            stored = kind.load(uow, entity.id)
            assert (getattr(stored, kind.field), stored.version) == (kind.value(1), 2)
            assert uow.locations.get(bystander.id) == bystander


class PersistenceContract(_Base):
    """Storage that outlives the store object, and locks that hold across processes.

    Needs, besides ``uow_factory``, a ``reopened_uow_factory`` fixture (a unit
    of work factory of a *new* store object over the same storage) for
    ``persistent`` backends, and a ``store_opener`` fixture (a picklable
    callable that opens a new store over the same storage and returns an
    object with a ``unit_of_work`` method) for ``row_locks_across_processes``.

    .. versionadded:: 0.1
    """

    @requires("persistent")
    def test_a_new_store_reads_what_was_committed_and_nothing_else(
        self, uow_factory: UnitOfWorkFactory, make: Builder, request: pytest.FixtureRequest
    ) -> None:
        booking = _stored_booking(uow_factory, make)
        forgotten = make.location()
        with uow_factory() as uow:
            uow.locations.add(forgotten)  # never committed
        reopened: UnitOfWorkFactory = request.getfixturevalue("reopened_uow_factory")
        with reopened() as uow:
            assert uow.bookings.get(booking.id) == booking
            assert uow.locations.get(forgotten.id) is None

    @requires("row_locks_across_processes")
    def test_get_for_update_serialises_seat_holds_across_processes(
        self, uow_factory: UnitOfWorkFactory, make: Builder, request: pytest.FixtureRequest
    ) -> None:
        location = make.location()
        slot = make.slot(location.id, capacity=3)
        with uow_factory() as uow:
            uow.locations.add(location)
            uow.slots.add(slot)
            uow.commit()
        opener: Callable[[], Any] = request.getfixturevalue("store_opener")
        workers = 5
        context = multiprocessing.get_context("spawn")
        with context.Pool(workers) as pool:
            outcomes = pool.starmap(_hold_a_seat, [(opener, slot.id)] * workers, chunksize=1)
        assert sorted(outcomes) == ["full"] * 2 + ["held"] * 3
        with uow_factory() as uow:
            held = uow.slots.get(slot.id)
            assert held is not None
            assert held.seats_held == 3


def _hold_a_seat(opener: Callable[[], Any], slot_id: SlotId) -> str:
    """In another process: lock the slot, hold one seat, commit; ``"full"`` when none is left."""
    store = opener()
    try:
        with store.unit_of_work() as uow:
            locked = uow.slots.get_for_update(slot_id)
            assert locked is not None
            time.sleep(0.05)  # give the other processes time to reach the lock
            locked.hold(1)
            uow.commit()
    except CapacityError:
        return "full"
    finally:
        dispose = getattr(store, "dispose", None)
        if dispose is not None:
            dispose()
    return "held"


#: Amounts a binary float holds a ten-thousandth off (``CAST(... AS REAL) * 10000``
#: on SQLite gives ``9007058333090601`` for the first), the last with four decimals (CLF).
_NEAR_THE_LARGEST = (
    Money("900705833309.06", "INR"),
    Money("900138930526.18", "INR"),
    Money("900605909220.31", "INR"),
    Money("999999999999.9999", "CLF"),
)


class TallyContract(_Base):
    """Tallies: the storage groups and sums exactly as the reference keys say.

    Every :class:`~bookingcore.domain.Grouping` of the booking sums and counts
    (``sum_in``, ``count_in``) is checked against
    :func:`~bookingcore.domain.tallies.group_key` applied to the same bookings,
    with amounts that a binary float would not add up exactly and timestamps on
    both sides of a month's end; periods also in zones with summer time and
    half-hour offsets, on both sides of their changes.

    .. versionadded:: 0.3
    .. versionchanged:: 0.4 periods in a given zone.
    .. versionchanged:: 0.4
       No ``tally`` nor ``count_statuses`` on bookings (removed from the port); what
       they were checked for is checked on ``sum_in`` and ``count_in``.
    """

    def _bookings(self, uow: UnitOfWork, make: Builder) -> list[Booking]:
        partner = make.partner()
        uow.partners.add(partner)
        advisor = StaffId(uuid4())
        here, there = make.location(), make.location()
        uow.locations.add(here)
        uow.locations.add(there)
        cheap = make.slot(here.id, price_per_traveler=Money("0.10", "INR"))
        dear = make.slot(
            there.id,
            price_per_traveler=Money("1999.99", "INR"),
            starts_at=datetime(2026, 2, 28, 23, 30, tzinfo=UTC),
        )
        euro = make.slot(here.id, price_per_traveler=Money("0.70", "EUR"))
        for slot in (cheap, dear, euro):
            uow.slots.add(slot)
        kiran, zoya = make.customer(), make.customer()
        uow.customers.add(kiran)
        uow.customers.add(zoya)
        people = {c.id: [make.traveler(c.id) for _ in range(3)] for c in (kiran, zoya)}
        for travelers in people.values():
            for traveler in travelers:
                uow.travelers.add(traveler)
        month_end = datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=UTC)
        specs: list[tuple[Customer, Slot, int, dict[str, Any]]] = [
            (kiran, cheap, 3, {"created_at": month_end}),
            (kiran, cheap, 1, {"status": "cancelled", "created_at": month_end}),
            (kiran, dear, 2, {"source": BookingSource.PARTNER, "partner_id": partner.id}),
            (zoya, cheap, 1, {"assignee_id": advisor, "status": "confirmed"}),
            (zoya, dear, 3, {"status": "no_show", "assignee_id": advisor}),
            (zoya, euro, 2, {"created_at": month_end + timedelta(microseconds=1)}),
            (kiran, euro, 1, {"source": BookingSource.WALK_IN, "status": "completed"}),
        ]
        made = []
        for customer, slot, count, fields in specs:
            ids = [t.id for t in people[customer.id][:count]]
            booking = make.booking(customer.id, slot, ids, **fields)
            uow.bookings.add(booking)
            made.append(booking)
        return made

    @staticmethod
    def _sums(
        bookings: Iterable[Booking], by: Grouping, statuses: StatusSet | None = None
    ) -> set[GroupSums]:
        """What ``sum_in`` must give for ``bookings`` (every status when ``statuses`` is
        None), from the reference keys."""
        groups: dict[tuple[Any, ...], list[Any]] = {}
        for b in bookings:
            if statuses is not None and not statuses.holds(b.lifecycle, b.status):
                continue
            group = groups.setdefault((group_key(b, by), b.total.currency), [0, 0, Decimal(0)])
            group[0] += 1
            group[1] += b.total_travelers
            group[2] += b.total.amount
        return {GroupSums(*key, *figures) for key, figures in groups.items()}

    @staticmethod
    def _every_status(bookings: Iterable[Booking]) -> StatusSet:
        """A status set that holds each of ``bookings``."""
        return StatusSet(pairs={(b.lifecycle, b.status) for b in bookings})

    #: Instants on either side of a local midnight, a month's end or a daylight-saving change.
    ZONED_INSTANTS = (
        datetime(2026, 2, 28, 18, 29, 59, 999999, tzinfo=UTC),  # Kolkata: 28 Feb 23:59:59
        datetime(2026, 2, 28, 19, 0, tzinfo=UTC),  # Kolkata: 1 March 00:30
        datetime(2026, 3, 8, 6, 59, tzinfo=UTC),  # New York: 01:59 EST, before the change
        datetime(2026, 3, 8, 7, 0, tzinfo=UTC),  # New York: 03:00 EDT
        datetime(2026, 3, 29, 21, 59, 59, tzinfo=UTC),  # Berlin: 23:59 of a 23-hour day
        datetime(2026, 3, 29, 22, 0, tzinfo=UTC),  # Berlin: 30 March 00:00 CEST
        datetime(2026, 3, 31, 22, 0, tzinfo=UTC),  # Berlin: 1 April 00:00 CEST
        datetime(2026, 10, 31, 23, 0, tzinfo=UTC),  # Berlin: 1 November 00:00 CET
        datetime(2026, 11, 1, 3, 59, 59, tzinfo=UTC),  # New York: 31 October 23:59 EDT
        datetime(2026, 11, 1, 4, 0, tzinfo=UTC),  # New York: 1 November 00:00 EDT
        datetime(2026, 11, 2, 4, 59, tzinfo=UTC),  # New York: 23:59 of a 25-hour day
        datetime(2026, 12, 31, 23, 30, tzinfo=UTC),  # a year's end, east and west of UTC
    )

    @pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])
    @pytest.mark.parametrize(
        "by", [Grouping.CREATED_DAY, Grouping.CREATED_MONTH, Grouping.STARTS_MONTH]
    )
    def test_periods_are_the_calendar_of_the_zone_given(
        self, uow_factory: UnitOfWorkFactory, make: Builder, by: Grouping, zone: str
    ) -> None:
        local = ZoneInfo(zone)
        location = make.location()
        customer = make.customer()
        traveler = make.traveler(customer.id)
        slots = [make.slot(location.id, starts_at=moment) for moment in self.ZONED_INSTANTS]
        made = [
            make.booking(customer.id, slot, [traveler.id], created_at=slot.starts_at)
            for slot in slots
        ]
        with uow_factory() as uow:
            uow.locations.add(location)
            uow.customers.add(customer)
            uow.travelers.add(traveler)
            for slot in slots:
                uow.slots.add(slot)
            for booking in made:
                uow.bookings.add(booking)
            uow.commit()
        with uow_factory().read_only() as uow:
            pending, cancelled = StatusSet({"pending"}), StatusSet({"cancelled"})
            in_sets = list(
                uow.bookings.count_in(BookingFilter(), by, (pending, cancelled), zone=local)
            )
            summed_rows = [
                attrs.astuple(row)
                for row in uow.bookings.sum_in(BookingFilter(), by, pending, zone=local)
            ]
            slot_months = set(
                uow.slots.tally(SlotFilter(only_active=False), Grouping.STARTS_MONTH, zone=local)
            )
        expected: dict[Any, int] = {}
        for booking in made:
            key = group_key(booking, by, local)
            expected[key] = expected.get(key, 0) + 1
        assert len(in_sets) == len({row.key for row in in_sets})
        assert set(in_sets) == {GroupCounts(k, n, (n, 0)) for k, n in expected.items()}
        assert len(summed_rows) == len(expected)
        assert {row[0]: row[2] for row in summed_rows} == expected
        months: dict[Any, int] = {}
        for slot in slots:
            key = slot_group_key(slot, Grouping.STARTS_MONTH, local)
            months[key] = months.get(key, 0) + 1
        assert {row.key: row.slots for row in slot_months} == months

    def test_sums_and_counts_apply_the_filter(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        with uow_factory() as uow:
            made = self._bookings(uow, make)
            uow.commit()
        every = self._every_status(made)
        partner_id = next(b.partner_id for b in made if b.partner_id is not None)
        query = BookingFilter(partner_id=partner_id)
        gone = BookingFilter(statuses=["gone"])
        with uow_factory().read_only() as uow:
            summed = set(uow.bookings.sum_in(query, Grouping.SOURCE, every))
            nothing_summed = list(uow.bookings.sum_in(gone, Grouping.NONE, every))
            nothing_counted = list(uow.bookings.count_in(gone, Grouping.NONE, [every]))
        wanted = [b for b in made if b.partner_id == partner_id]
        assert summed == self._sums(wanted, Grouping.SOURCE)
        # no bookings, no rows: not one row of zeros, even with no grouping
        assert nothing_summed == []
        assert nothing_counted == []

    #: Statuses by name and by (lifecycle, status); a pair of another lifecycle
    #: (``travel``) and a name with a quote must match nothing of these bookings.
    SOME_STATUSES = StatusSet(
        {"pending", "it's"}, {("reservation", "no_show"), ("travel", "completed")}
    )

    @pytest.mark.parametrize("by", list(Grouping))
    def test_sums_in_a_status_set_are_per_group_and_currency(
        self, uow_factory: UnitOfWorkFactory, make: Builder, by: Grouping
    ) -> None:
        with uow_factory() as uow:
            made = self._bookings(uow, make)
            uow.commit()
        with uow_factory().read_only() as uow:
            summed = list(uow.bookings.sum_in(BookingFilter(), by, self.SOME_STATUSES))
            every = list(uow.bookings.sum_in(BookingFilter(), by, self._every_status(made)))
            nothing = list(uow.bookings.sum_in(BookingFilter(), by, StatusSet()))
        assert len(summed) == len(set(summed))
        assert set(summed) == self._sums(made, by, self.SOME_STATUSES)
        # every booking, whatever its status: amounts a binary float would not add up
        # exactly, and creation times on both sides of a month's end
        assert len(every) == len({(row.key, row.currency) for row in every})
        assert set(every) == self._sums(made, by)
        assert nothing == []

    @pytest.mark.parametrize("by", list(Grouping))
    def test_counts_in_status_sets_are_per_group(
        self, uow_factory: UnitOfWorkFactory, make: Builder, by: Grouping
    ) -> None:
        with uow_factory() as uow:
            made = self._bookings(uow, make)
            uow.commit()
        sets = (StatusSet({"cancelled"}), self.SOME_STATUSES, StatusSet())
        partner_id = next(b.partner_id for b in made if b.partner_id is not None)
        with uow_factory().read_only() as uow:
            counted = list(uow.bookings.count_in(BookingFilter(), by, sets))
            scoped = set(uow.bookings.count_in(BookingFilter(partner_id=partner_id), by, sets))
            cancelled_only = set(
                uow.bookings.count_in(BookingFilter(statuses=["cancelled"]), by, sets)
            )
        expected: dict[GroupKey, list[int]] = {}
        for b in made:
            group = expected.setdefault(group_key(b, by), [0, 0, 0, 0])
            group[0] += 1
            for index, wanted in enumerate(sets, 1):
                group[index] += wanted.holds(b.lifecycle, b.status)
        assert len(counted) == len({row.key for row in counted})
        assert set(counted) == {GroupCounts(k, n[0], tuple(n[1:])) for k, n in expected.items()}
        (own,) = [b for b in made if b.partner_id == partner_id]
        own_counts = tuple(int(wanted.holds(own.lifecycle, own.status)) for wanted in sets)
        assert own_counts == (0, 1, 0)  # pending
        assert scoped == {GroupCounts(group_key(own, by), 1, own_counts)}
        (gone,) = [b for b in made if b.status == "cancelled"]
        assert cancelled_only == {GroupCounts(group_key(gone, by), 1, (1, 0, 0))}

    def test_amounts_near_the_largest_add_up_exactly(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """Sums of amounts near :data:`~bookingcore.domain.values.MAX_AMOUNT` are exact
        to their last digit, in ``sum_in`` and ``tally_customers`` alike: no amount is
        ever a binary float on its way to the sum.

        .. versionadded:: 0.4
        """
        location = make.location()
        customer = make.customer()
        traveler = make.traveler(customer.id)
        slots = [
            make.slot(location.id, price_per_traveler=price, starts_at=T0 + timedelta(days=n))
            for n, price in enumerate(_NEAR_THE_LARGEST)
        ]
        with uow_factory() as uow:
            uow.locations.add(location)
            uow.customers.add(customer)
            uow.travelers.add(traveler)
            for slot in slots:
                uow.slots.add(slot)
                uow.bookings.add(make.booking(customer.id, slot, [traveler.id], status="confirmed"))
            uow.commit()
        confirmed = StatusSet({"confirmed"})
        inr = sum((price.amount for price in _NEAR_THE_LARGEST[:3]), Decimal(0))
        clf = _NEAR_THE_LARGEST[3].amount
        with uow_factory().read_only() as uow:
            summed = set(uow.bookings.sum_in(BookingFilter(), Grouping.NONE, confirmed))
            tallied = set(uow.bookings.tally_customers(BookingFilter(), statuses=confirmed))
        assert summed == {GroupSums(None, "INR", 3, 3, inr), GroupSums(None, "CLF", 1, 1, clf)}
        assert tallied == {CustomerTally("INR", 1, 1, 3, inr), CustomerTally("CLF", 1, 0, 1, clf)}

    def test_a_customer_tally_counts_repeat_customers_per_currency(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        with uow_factory() as uow:
            made = self._bookings(uow, make)
            uow.commit()
        with uow_factory() as uow:
            tallied = set(uow.bookings.tally_customers(BookingFilter()))
        inr = [b for b in made if b.total.currency == "INR"]
        eur = [b for b in made if b.total.currency == "EUR"]
        assert tallied == {
            CustomerTally("INR", 2, 2, len(inr), sum((b.total.amount for b in inr), Decimal(0))),
            CustomerTally("EUR", 2, 0, len(eur), sum((b.total.amount for b in eur), Decimal(0))),
        }

    @pytest.mark.parametrize(
        "by", [Grouping.NONE, Grouping.LOCATION, Grouping.PRODUCT, Grouping.STARTS_MONTH]
    )
    def test_a_slot_tally_adds_capacity_and_seats_held(
        self, uow_factory: UnitOfWorkFactory, make: Builder, by: Grouping
    ) -> None:
        location = make.location()
        slots = [
            make.slot(location.id, capacity=10, seats_held=4),
            make.slot(location.id, capacity=6, seats_held=6, is_active=False),
            make.slot(location.id, capacity=None, seats_held=3),
            make.slot(
                location.id, capacity=8, seats_held=1, starts_at=datetime(2026, 3, 1, tzinfo=UTC)
            ),
        ]
        with uow_factory() as uow:
            uow.locations.add(location)
            for slot in slots:
                uow.slots.add(slot)
            uow.commit()
        expected: dict[Any, list[int]] = {}
        for slot in slots:
            figures = expected.setdefault(slot_group_key(slot, by), [0, 0, 0, 0])
            figures[0] += 1
            figures[1] += slot.capacity is None
            figures[2] += slot.capacity or 0
            figures[3] += slot.seats_held if slot.capacity is not None else 0
        with uow_factory() as uow:
            tallied = set(uow.slots.tally(SlotFilter(only_active=False), by))
            active = set(uow.slots.tally(SlotFilter(), Grouping.NONE))
        assert tallied == {SlotTally(key, *figures) for key, figures in expected.items()}
        assert active == {SlotTally(None, 3, 1, 18, 5)}

    def test_a_slot_tally_refuses_a_grouping_slots_do_not_have(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        with uow_factory() as uow, pytest.raises(ValidationError) as refused:
            uow.slots.tally(SlotFilter(), Grouping.PARTNER)
        assert refused.value.errors[0].field == "by"

    def test_a_waitlist_tally_counts_entries_per_status_at_a_location_in_the_period(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        made_from_offer = _stored_booking(uow_factory, make)
        here, there = make.location(), make.location()
        near, far = make.slot(here.id), make.slot(there.id)
        people = [make.customer() for _ in range(5)]
        offered_at = T0 + timedelta(hours=1)
        entries = [
            make.waitlist_entry(near.id, people[0].id, seats=2),
            make.waitlist_entry(
                near.id,
                people[1].id,
                position=2,
                status=WaitlistStatus.BOOKED,
                offered_at=offered_at,
                booking_id=made_from_offer.id,
            ),
            make.waitlist_entry(
                near.id,
                people[2].id,
                position=3,
                status=WaitlistStatus.EXPIRED,
                offered_at=offered_at,
            ),
            make.waitlist_entry(
                near.id, people[3].id, position=4, created_at=T0 - timedelta(days=1)
            ),
            make.waitlist_entry(far.id, people[4].id, seats=3),
        ]
        with uow_factory() as uow:
            for location in (here, there):
                uow.locations.add(location)
            for slot in (near, far):
                uow.slots.add(slot)
            for person in people:
                uow.customers.add(person)
            for entry in entries:
                uow.waitlist.add(entry)
            uow.commit()
        with uow_factory() as uow:
            at_here = set(uow.waitlist.tally(T0, T0 + timedelta(days=1), here.id))
            everywhere = set(uow.waitlist.tally(None, None))
        assert at_here == {
            WaitlistTally("waiting", 1, 2, 0),
            WaitlistTally("booked", 1, 1, 1),
            WaitlistTally("expired", 1, 1, 1),
        }
        assert WaitlistTally("waiting", 3, 6, 0) in everywhere

    def test_an_import_tally_counts_jobs_and_rows_per_status_in_the_period(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        jobs = [
            make.import_job(status=ImportStatus.COMPLETED, total_rows=10, created=7, failed=3),
            make.import_job(status=ImportStatus.COMPLETED, total_rows=5, created=4, skipped=1),
            make.import_job(status=ImportStatus.FAILED, total_rows=2, failed=2),
            make.import_job(
                status=ImportStatus.COMPLETED,
                total_rows=9,
                created=9,
                created_at=T0 - timedelta(days=1),
            ),
        ]
        _commit_all(uow_factory, "imports", jobs)
        with uow_factory() as uow:
            tallied = set(uow.imports.tally(T0, T0 + timedelta(days=1)))
            everything = set(uow.imports.tally(None, None))
        assert tallied == {
            ImportTally("COMPLETED", 2, 15, 11, 0, 1, 3),
            ImportTally("FAILED", 1, 2, 0, 0, 0, 2),
        }
        assert ImportTally("COMPLETED", 3, 24, 20, 0, 1, 3) in everything


# --------------------------------------------------------------- customer view (0.3)


class AnalyticsTallyContract(_Base):
    """The analytics tallies (booking frequency, cohorts, source overlap, leads per source,
    status transitions, import timings and error types): the storage computes them
    grouped, and gives what the reference computations give over the same records,
    to the microsecond for durations and on the business's calendar for months.

    .. versionadded:: 0.4
    """

    KOLKATA = ZoneInfo("Asia/Kolkata")

    def _customers(self, uow: UnitOfWork, make: Builder, count: int) -> list[Any]:
        location = make.location()
        uow.locations.add(location)
        slot = make.slot(location.id)
        uow.slots.add(slot)
        people = []
        for _ in range(count):
            customer = make.customer()
            traveler = make.traveler(customer.id)
            uow.customers.add(customer)
            uow.travelers.add(traveler)
            people.append((customer, traveler))
        return [slot, *people]

    def test_customers_are_counted_by_their_number_of_bookings(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        with uow_factory() as uow:
            slot, *people = self._customers(uow, make, 4)
            for (customer, traveler), count in zip(people, (1, 2, 2, 5), strict=True):
                for _ in range(count):
                    uow.bookings.add(make.booking(customer.id, slot, [traveler.id]))
            cancelled = make.booking(people[0][0].id, slot, [people[0][1].id], status="cancelled")
            uow.bookings.add(cancelled)
            uow.commit()
        with uow_factory().read_only() as uow:
            every = set(uow.bookings.count_customers_by_bookings(BookingFilter()))
            pending = set(
                uow.bookings.count_customers_by_bookings(BookingFilter(statuses={"pending"}))
            )
            nobody = uow.bookings.count_customers_by_bookings(BookingFilter(statuses=set()))
        assert every == {FrequencyTally(2, 3), FrequencyTally(5, 1)}
        assert pending == {FrequencyTally(1, 1), FrequencyTally(2, 2), FrequencyTally(5, 1)}
        assert list(nobody) == []

    def test_customer_tallies_count_only_the_bookings_in_the_status_set_given(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """A status two lifecycles count differently is tested with its lifecycle: a
        ``pending`` reservation holds seats, a ``pending`` request does not."""
        with uow_factory() as uow:
            slot, (held, held_traveler), (asked, asked_traveler) = self._customers(uow, make, 2)
            for lifecycle, customer, traveler in (
                ("reservation", held, held_traveler),
                ("reservation", held, held_traveler),
                ("request", asked, asked_traveler),
                ("request", held, held_traveler),
            ):
                uow.bookings.add(
                    make.booking(customer.id, slot, [traveler.id], lifecycle=lifecycle)
                )
            uow.commit()
        seats = StatusSet({"confirmed"}, {("reservation", "pending")})
        price = slot.price_per_traveler.amount
        with uow_factory().read_only() as uow:
            customers = set(uow.bookings.tally_customers(BookingFilter(), statuses=seats))
            frequency = set(
                uow.bookings.count_customers_by_bookings(BookingFilter(), statuses=seats)
            )
            cohorts = set(uow.bookings.tally_cohorts(BookingFilter(), statuses=seats))
            every = set(uow.bookings.count_customers_by_bookings(BookingFilter()))
        assert customers == {CustomerTally("INR", 1, 1, 2, 2 * price)}
        assert frequency == {FrequencyTally(2, 1)}
        month = date(make.now.year, make.now.month, 1)
        assert cohorts == {CohortTally(month, month, 1)}
        assert every == {FrequencyTally(3, 1), FrequencyTally(1, 1)}

    def test_cohorts_are_the_first_booking_s_month_in_the_zone_given(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        at = partial(datetime, tzinfo=UTC)
        # Kolkata is 05:30 ahead: 18:30 UTC on 31 January is 1 February there.
        histories = [
            [at(2026, 1, 10, 9), at(2026, 2, 15, 9), at(2026, 2, 16, 9), at(2026, 4, 2, 9)],
            [at(2026, 1, 20, 9)],
            [at(2026, 1, 31, 18, 30), at(2026, 3, 3, 9)],
        ]
        with uow_factory() as uow:
            slot, *people = self._customers(uow, make, len(histories))
            for (customer, traveler), history in zip(people, histories, strict=True):
                for moment in history:
                    uow.bookings.add(
                        make.booking(customer.id, slot, [traveler.id], created_at=moment)
                    )
            uow.commit()
        with uow_factory().read_only() as uow:
            local = set(uow.bookings.tally_cohorts(BookingFilter(), zone=self.KOLKATA))
            utc = set(uow.bookings.tally_cohorts(BookingFilter()))
            later = set(uow.bookings.tally_cohorts(BookingFilter(created_from=at(2026, 2, 1))))
        jan, feb, mar, apr = (date(2026, month, 1) for month in (1, 2, 3, 4))
        assert local == {
            CohortTally(jan, jan, 2),
            CohortTally(jan, feb, 1),
            CohortTally(jan, apr, 1),
            CohortTally(feb, feb, 1),
            CohortTally(feb, mar, 1),
        }
        assert utc == {
            CohortTally(jan, jan, 3),
            CohortTally(jan, feb, 1),
            CohortTally(jan, mar, 1),
            CohortTally(jan, apr, 1),
        }
        # with a period, a customer's first booking is their first in it
        assert later == {
            CohortTally(feb, feb, 1),
            CohortTally(feb, apr, 1),
            CohortTally(mar, mar, 1),
        }

    def test_customers_who_booked_through_several_sources_are_counted_per_pair(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        direct, partner, walk_in = (
            BookingSource.DIRECT,
            BookingSource.PARTNER,
            BookingSource.WALK_IN,
        )
        sources = [[direct, partner, walk_in, direct], [partner, direct], [direct, direct]]
        with uow_factory() as uow:
            slot, *people = self._customers(uow, make, len(sources))
            for (customer, traveler), found in zip(people, sources, strict=True):
                for source in found:
                    uow.bookings.add(make.booking(customer.id, slot, [traveler.id], source=source))
            uow.commit()
        with uow_factory().read_only() as uow:
            overlap = uow.bookings.tally_source_overlap(BookingFilter())
            none = uow.bookings.tally_source_overlap(BookingFilter(sources={direct}))
        assert overlap == SourceOverlapTally(
            2,
            {
                ("direct", "partner", 2),
                ("direct", "walk_in", 1),
                ("partner", "walk_in", 1),
            },
        )
        assert none == SourceOverlapTally(0)

    def test_leads_are_counted_per_source_and_status_in_the_period(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        later = make.now + timedelta(days=3)
        specs = [
            (LeadSource.WEB_FORM, LeadStatus.NEW, make.now),
            (LeadSource.WEB_FORM, LeadStatus.WON, make.now),
            (LeadSource.WEB_FORM, LeadStatus.WON, later),
            (LeadSource.PHONE, LeadStatus.LOST, make.now),
        ]
        with uow_factory() as uow:
            customer = make.customer()
            uow.customers.add(customer)
            for source, status, moment in specs:
                uow.leads.add(
                    make.lead(
                        customer.id,
                        source=source,
                        status=status,
                        created_at=moment,
                        lost_reason="price" if status is LeadStatus.LOST else None,
                    )
                )
            uow.commit()
        with uow_factory().read_only() as uow:
            every = set(uow.leads.tally_by_source(None, None))
            early = set(uow.leads.tally_by_source(None, later))
        assert every == {
            LeadTally("web_form", "new", 1),
            LeadTally("web_form", "won", 2),
            LeadTally("phone", "lost", 1),
        }
        assert early == {
            LeadTally("web_form", "new", 1),
            LeadTally("web_form", "won", 1),
            LeadTally("phone", "lost", 1),
        }

    def test_transitions_are_counted_with_the_time_spent_before_them(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        hour, tick = timedelta(hours=1), timedelta(microseconds=1)
        t0 = make.now
        # (lifecycle, [(from, to, time since the previous event)])
        histories = [
            [("pending", "confirmed", hour), ("confirmed", "completed", 2 * hour)],
            [("pending", "confirmed", 3 * hour + tick), ("confirmed", "no_show", hour)],
            [("pending", "confirmed", 2 * hour), ("confirmed", "completed", 5 * hour)],
            [("pending", "cancelled", timedelta(minutes=30))],
            [],
        ]
        with uow_factory() as uow:
            slot, (customer, traveler) = self._customers(uow, make, 1)
            for history in histories:
                booking = make.booking(customer.id, slot, [traveler.id])
                uow.bookings.add(booking)
                moment = t0
                made: list[tuple[str | None, str, datetime]] = [(None, "pending", moment)]
                for left, entered, spent in history:
                    moment += spent
                    made.append((left, entered, moment))
                for version, (from_status, to_status, when) in enumerate(made, 1):
                    event = LifecycleEvent(
                        id=uuid4(),
                        booking_id=booking.id,
                        booking_version=version,
                        lifecycle="reservation",
                        from_status=from_status,
                        to_status=to_status,
                        actor=Actor.system("tests"),
                        occurred_at=when,
                    )
                    uow.lifecycle_events.add(event)
            uow.commit()
        with uow_factory().read_only() as uow:
            every = {
                (row.from_status, row.to_status): row
                for row in uow.lifecycle_events.tally_transitions(None, None)
            }
            # moves from t0 + 2h on: the times before them still run from earlier events
            later = {
                (row.from_status, row.to_status): row
                for row in uow.lifecycle_events.tally_transitions(t0 + 2 * hour, None)
            }
        us = micros
        assert set(every) == {
            ("pending", "confirmed"),
            ("confirmed", "completed"),
            ("confirmed", "no_show"),
            ("pending", "cancelled"),
        }
        assert every["pending", "confirmed"] == TransitionTally(
            "reservation",
            "pending",
            "confirmed",
            DurationTally(
                rows=3,
                timed=3,
                total=us(6 * hour + tick),
                shortest=us(hour),
                longest=us(3 * hour + tick),
                median_low=us(2 * hour),
                median_high=us(2 * hour),
            ),
        )
        assert every["confirmed", "completed"].durations == duration_tally(
            [us(2 * hour), us(5 * hour)]
        )
        assert every["pending", "cancelled"].durations == duration_tally(
            [us(timedelta(minutes=30))]
        )
        assert set(later) == {
            ("pending", "confirmed"),
            ("confirmed", "completed"),
            ("confirmed", "no_show"),
        }
        assert later["pending", "confirmed"].durations == duration_tally(
            [us(2 * hour), us(3 * hour + tick)]
        )
        assert later["confirmed", "completed"].durations == duration_tally(
            [us(2 * hour), us(5 * hour)]
        )

    def test_import_jobs_are_timed_and_their_errors_counted_by_type(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        t0, second, tick = make.now, timedelta(seconds=1), timedelta(microseconds=1)
        later = t0 + timedelta(days=1)
        took = [3 * second, 4 * second + tick, 10 * second, 11 * second]
        with uow_factory() as uow:
            jobs = [
                make.import_job(
                    status=ImportStatus.COMPLETED,
                    started_at=t0 + tick,
                    completed_at=t0 + tick + spent,
                )
                for spent in took
            ]
            jobs.append(make.import_job(status=ImportStatus.PENDING))
            jobs.append(
                make.import_job(status=ImportStatus.FAILED, created_at=later, started_at=later)
            )
            for job in jobs:
                uow.imports.add(job)
            phone, place = CellProblem("bad", "invalid_phone"), CellProblem("?", "unknown_location")
            rows = [
                (jobs[0], phone, None),
                (jobs[0], phone, t0),
                (jobs[1], phone, None),
                (jobs[1], place, None),
                (jobs[5], place, None),
            ]
            for number, (job, problem, resolved) in enumerate(rows, 2):
                uow.import_errors.add(
                    make.import_row_error(job.id, number, problems=(problem,), resolved_at=resolved)
                )
            uow.commit()
        with uow_factory().read_only() as uow:
            timings = {row.status: row for row in uow.imports.tally_timings(None, None)}
            early = {row.status for row in uow.imports.tally_timings(None, later)}
            errors = set(uow.import_errors.tally_by_type(None, None))
            early_errors = set(uow.import_errors.tally_by_type(None, later))
        us = micros
        assert timings["COMPLETED"] == ImportTimingTally(
            "COMPLETED", duration_tally([us(spent) for spent in took])
        )
        assert timings["COMPLETED"].durations.median_low == us(4 * second + tick)
        assert timings["PENDING"].durations == DurationTally(rows=1)
        assert timings["FAILED"].durations == DurationTally(rows=1)
        assert early == {"COMPLETED", "PENDING"}
        assert errors == {
            ImportErrorTally("invalid_phone", 3, 2, 2),
            ImportErrorTally("unknown_location", 2, 2, 2),
        }
        assert early_errors == {
            ImportErrorTally("invalid_phone", 3, 2, 2),
            ImportErrorTally("unknown_location", 1, 1, 1),
        }


class CustomerStatsRepositoryContract(_Base):
    """Customer figures from the storage equal :func:`summarise_bookings`; merged and
    erased customers read back as such.

    .. versionadded:: 0.3
    """

    STATUSES = StatusGroups(
        cancelled=frozenset({"cancelled"}),
        no_show=frozenset({"no_show"}),
        completed=frozenset({"completed"}),
    )

    def _history(self, uow_factory: UnitOfWorkFactory, make: Builder) -> dict[str, Any]:
        partner = make.partner()
        location = make.location()
        products = [make.product(), make.product()]
        customer = make.customer(partner_id=partner.id)
        other = make.customer()
        traveler = make.traveler(customer.id)
        before = make.slot(location.id, starts_at=T0 + timedelta(days=1))
        after = make.slot(location.id, starts_at=T0 + timedelta(days=40))
        bhd = make.slot(
            location.id, starts_at=T0 + timedelta(days=41), price_per_traveler=Money("0.125", "BHD")
        )
        rows = [
            ("completed", before, products[0], None, 1),
            ("no_show", before, products[1], None, 2),
            ("cancelled", after, products[1], partner.id, 3),
            ("confirmed", after, products[0], partner.id, 4),
            ("pending", bhd, None, None, 5),
        ]
        bookings = []
        for status, slot, product, via, hour in rows:
            booking = make.booking(
                customer.id,
                slot,
                [traveler.id],
                status=status,
                partner_id=via,
                product_id=None if product is None else product.id,
                created_at=T0 + timedelta(hours=hour),
            )
            bookings.append(booking)
        bookings[3].total = Money("1234567.89", "INR")
        elsewhere = make.booking(other.id, after, [make.traveler(other.id).id])
        payment = make.payment(bookings[0])
        payment.captured_amount = Money("100.01", "INR")
        payment.refunded_amount = Money("0.02", "INR")
        odd = make.payment(bookings[4])
        odd.captured_amount = Money("0.125", "BHD")
        with uow_factory() as uow:
            uow.partners.add(partner)
            uow.locations.add(location)
            for product in products:
                uow.products.add(product)
            for person in (customer, other):
                uow.customers.add(person)
            uow.travelers.add(traveler)
            uow.travelers.add(make.traveler(other.id, id=elsewhere.travelers[0].traveler_id))
            for slot in (before, after, bhd):
                uow.slots.add(slot)
            for booking in [*bookings, elsewhere]:
                uow.bookings.add(booking)
            uow.payments.add(payment)
            uow.payments.add(odd)
            uow.commit()
        return {
            "customer": customer,
            "partner": partner,
            "products": products,
            "bookings": bookings,
            "payments": [payment, odd],
        }

    def test_summarise_equals_the_reference_computation(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        world = self._history(uow_factory, make)
        customer, bookings = world["customer"], world["bookings"]
        now = T0 + timedelta(days=10)
        with uow_factory() as uow:
            stats = uow.customer_stats.summarise(
                BookingFilter(customer_id=customer.id), now=now, statuses=self.STATUSES
            )
        expected = summarise_bookings(bookings, world["payments"], now=now, statuses=self.STATUSES)
        assert stats == expected
        assert stats.total_bookings == 5
        assert (stats.cancelled_bookings, stats.no_show_bookings) == (1, 1)
        assert stats.completed_bookings == 1
        assert stats.upcoming_bookings == 2
        assert stats.total_spent == (Money("0.125", "BHD"), Money("99.99", "INR"))
        assert stats.value_in("INR") == Money("1234767.89", "INR")

    def test_completed_bookings_count_the_completed_statuses_given(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """.. versionadded:: 0.4 (loyalty tiers count completed bookings)."""
        world = self._history(uow_factory, make)
        query = BookingFilter(customer_id=world["customer"].id)
        wider = attrs.evolve(self.STATUSES, completed=frozenset({"completed", "confirmed"}))
        with uow_factory() as uow:
            none = uow.customer_stats.summarise(
                query, now=T0, statuses=attrs.evolve(self.STATUSES, completed=frozenset())
            )
            two = uow.customer_stats.summarise(query, now=T0, statuses=wider)
        assert none.completed_bookings == 0
        assert two.completed_bookings == 2
        expected = summarise_bookings(world["bookings"], world["payments"], now=T0, statuses=wider)
        assert two == expected

    def test_lifetime_value_counts_the_counted_statuses_given(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """.. versionadded:: 0.4 (the customer view counts the bookings revenue counts)."""
        world = self._history(uow_factory, make)
        completed, confirmed = world["bookings"][0], world["bookings"][3]
        query = BookingFilter(customer_id=world["customer"].id)
        counted = StatusSet(
            {"confirmed"}, {(completed.lifecycle, "completed"), ("another", "pending")}
        )
        statuses = attrs.evolve(self.STATUSES, counted=counted)
        with uow_factory() as uow:
            stats = uow.customer_stats.summarise(query, now=T0, statuses=statuses)
        assert stats.lifetime_value == (completed.total + confirmed.total,)
        expected = summarise_bookings(
            world["bookings"], world["payments"], now=T0, statuses=statuses
        )
        assert stats == expected

    def test_status_groups_match_a_status_by_its_lifecycle_where_given_pairs(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """.. versionadded:: 0.4 (the view counts statuses as the reports do: a status
        may be cancelled in one lifecycle and not in another)."""
        world = self._history(uow_factory, make)
        lifecycle = world["bookings"][0].lifecycle
        statuses = StatusGroups(
            cancelled=StatusSet({"cancelled"}, {(lifecycle, "pending"), ("another", "confirmed")}),
            no_show=StatusSet((), {(lifecycle, "no_show")}),
            completed=StatusSet((), {(lifecycle, "completed"), ("another", "confirmed")}),
        )
        now = T0 + timedelta(days=10)
        query = BookingFilter(customer_id=world["customer"].id)
        with uow_factory() as uow:
            stats = uow.customer_stats.summarise(query, now=now, statuses=statuses)
        assert (stats.cancelled_bookings, stats.no_show_bookings) == (2, 1)
        assert stats.completed_bookings == 1
        assert stats.upcoming_bookings == 1  # the pending one is cancelled here
        assert stats.value_in("BHD") == Money.zero("BHD")  # nor counted
        expected = summarise_bookings(
            world["bookings"], world["payments"], now=now, statuses=statuses
        )
        assert stats == expected

    def test_summarise_applies_the_filter_and_counts_nothing_for_no_match(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        world = self._history(uow_factory, make)
        scoped = BookingFilter(customer_id=world["customer"].id, partner_id=world["partner"].id)
        with uow_factory() as uow:
            stats = uow.customer_stats.summarise(scoped, now=T0, statuses=self.STATUSES)
            nothing = uow.customer_stats.summarise(
                BookingFilter(customer_id=CustomerId(uuid4())), now=T0, statuses=self.STATUSES
            )
        assert stats.total_bookings == 2
        assert stats.lifetime_value == (Money("1234567.89", "INR"),)
        assert stats.total_spent == ()
        assert nothing == CustomerStats()

    def test_booking_notes_are_the_advisor_notes_of_matching_bookings_newest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        world = self._history(uow_factory, make)
        customer, partner, bookings = world["customer"], world["partner"], world["bookings"]
        staff = Actor(ActorKind.STAFF, str(uuid4()))

        def note(booking: Booking, minutes: int, **fields: Any) -> AuditEntry:
            values: dict[str, Any] = {
                "id": uuid4(),
                "entity": "booking",
                "entity_id": booking.id,
                "action": AuditAction.NOTE_ADDED,
                "actor": staff,
                "occurred_at": T0 + timedelta(minutes=minutes),
                "new_values": {"note": f"note {minutes}"},
                "booking_id": booking.id,
            }
            return AuditEntry(**(values | fields))

        entries = [
            note(bookings[0], 1),
            note(bookings[3], 2),
            note(bookings[2], 3),
            note(bookings[0], 4, action=AuditAction.UPDATED),  # not a note
        ]
        _commit_all(uow_factory, "audit", entries)
        mine = BookingFilter(customer_id=customer.id)
        with uow_factory().read_only() as uow:
            notes = list(uow.customer_stats.booking_notes(mine, limit=10))
            two = list(uow.customer_stats.booking_notes(mine, limit=2))
            partners = list(
                uow.customer_stats.booking_notes(
                    BookingFilter(customer_id=customer.id, partner_id=partner.id), limit=10
                )
            )
            nobody = uow.customer_stats.booking_notes(
                BookingFilter(customer_id=CustomerId(uuid4())), limit=10
            )
        by_id = {b.id: b for b in bookings}
        expected = [
            BookingNote.from_entry(e, by_id[e.booking_id].reference) for e in reversed(entries[:3])
        ]
        assert notes == expected
        assert notes[0].text == "note 3"
        assert notes[0].author == staff
        assert two == expected[:2]
        assert partners == expected[:2]  # bookings[2] and [3] came through the partner
        assert list(nobody) == []

    def test_booked_products_are_distinct_and_most_recent_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        world = self._history(uow_factory, make)
        first, second = world["products"]
        query = BookingFilter(customer_id=world["customer"].id)
        with uow_factory() as uow:
            assert list(uow.customer_stats.booked_products(query, limit=10)) == [
                first.id,
                second.id,
            ]
            assert list(uow.customer_stats.booked_products(query, limit=1)) == [first.id]

    def test_get_many_reads_several_customers_by_id_in_one_call(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        people = [make.customer(name=f"Person {n}") for n in range(3)]
        _commit_all(uow_factory, "customers", people)
        with uow_factory() as uow:
            missing = CustomerId(uuid4())
            found = uow.customers.get_many([people[0].id, people[2].id, missing])
            assert found == {people[0].id: people[0], people[2].id: people[2]}
            assert uow.customers.get_many([]) == {}
            fresh = make.customer()
            uow.customers.add(fresh)
            assert uow.customers.get_many([fresh.id]) == {fresh.id: fresh}

    def test_a_merged_customer_is_left_out_of_lists_and_its_phone_finds_the_survivor(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        email = EmailAddress("same@example.com")
        survivor = make.customer(created_at=T0 + timedelta(minutes=1))
        duplicate = make.customer(email=email, created_at=T0)
        with uow_factory() as uow:
            uow.customers.add(survivor)
            uow.customers.add(duplicate)
            uow.commit()
        with uow_factory() as uow:
            found = uow.customers.get(duplicate.id)
            assert found is not None
            found.merge_into(survivor.id, now=T0 + timedelta(hours=1))
            uow.commit()
        with uow_factory() as uow:
            stored = uow.customers.get(duplicate.id)
            assert stored is not None
            assert stored.merged_into == survivor.id
            assert uow.customers.get_by_phone(duplicate.phone) == survivor
            assert uow.customers.find_by_phones([duplicate.phone]) == {duplicate.phone: survivor}
            assert uow.customers.find_by_emails([email]) == {}
            listed = uow.customers.list(CustomerFilter(), PageRequest()).items
            assert [c.id for c in listed] == [survivor.id]

    def test_an_erased_customer_reads_back_anonymised(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        customer = make.customer(name="Asha Rao", email=EmailAddress("asha@example.com"))
        phone = customer.phone
        _committed(uow_factory, "customers", customer)
        with uow_factory() as uow:
            found = uow.customers.get(customer.id)
            assert found is not None
            found.erase(now=T0 + timedelta(days=1))
            uow.commit()
        with uow_factory() as uow:
            stored = uow.customers.get(customer.id)
            assert stored is not None
            assert (stored.name, stored.email, stored.erased_at) == (
                None,
                None,
                T0 + timedelta(days=1),
            )
            assert uow.customers.get_by_phone(phone) is None
            assert uow.customers.list(CustomerFilter(text="asha"), PageRequest()).items == []


class CertificateRepositoryContract(_Base):
    """Certificates: unique ``(kind, number)``, filters, pages, the reminder queue.

    .. versionadded:: 0.3
    """

    def _stored(
        self, uow_factory: UnitOfWorkFactory, make: Builder, expiries: list[datetime | None]
    ) -> list[Certificate]:
        location = make.location()
        slot = make.slot(location.id)
        customer = make.customer()
        traveler = make.traveler(customer.id)
        booking = make.booking(customer.id, slot, [traveler.id], status="completed")
        found = [
            Certificate.issue(
                certificate_id=CertificateId(uuid4()),
                customer_id=customer.id,
                booking_id=booking.id,
                traveler_id=traveler.id if index % 2 else None,
                kind="AOW" if index < 3 else "EFR",
                number=f"N-{index}",
                issued_at=T0,
                expires_at=expires,
                now=T0 + timedelta(minutes=index),
            )
            for index, expires in enumerate(expiries)
        ]
        with uow_factory() as uow:
            uow.locations.add(location)
            uow.slots.add(slot)
            uow.customers.add(customer)
            uow.travelers.add(traveler)
            uow.bookings.add(booking)
            for certificate in found:
                uow.certificates.add(certificate)
            uow.commit()
        return found

    def test_a_certificate_reads_back_equal_and_kind_and_number_are_unique(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        (first,) = self._stored(uow_factory, make, [T0 + timedelta(days=400)])
        with uow_factory() as uow:
            assert uow.certificates.get(first.id) == first
            assert uow.certificates.get_by_number("AOW", "N-0") == first
            assert uow.certificates.get_by_number("EFR", "N-0") is None
            uow.certificates.add(attrs.evolve(first, id=CertificateId(uuid4())))
            with pytest.raises(DuplicateError):
                uow.commit()

    def test_list_filters_by_kind_customer_and_expiry_newest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        days = [T0 + timedelta(days=d) for d in (10, 20, 30, 40)]
        found = self._stored(uow_factory, make, [*days, None])

        def numbers(query: CertificateFilter) -> list[str]:
            expected = [c for c in found if query.matches(c)]
            assert_pages_walk(
                uow_factory,
                lambda uow, page: uow.certificates.list(query, page),
                expected,
                limits=(1, 2),
                label=query,
            )
            newest = sorted(expected, key=lambda c: (c.created_at, c.id.bytes), reverse=True)
            return [c.number for c in newest]

        assert numbers(CertificateFilter()) == ["N-4", "N-3", "N-2", "N-1", "N-0"]
        assert numbers(CertificateFilter(kind="EFR")) == ["N-4", "N-3"]
        assert numbers(CertificateFilter(customer_id=found[0].customer_id))[-1] == "N-0"
        window = CertificateFilter(expires_from=days[1], expires_before=days[3])
        assert numbers(window) == ["N-2", "N-1"]

    def test_list_expiring_skips_reminded_expiries_and_comes_soonest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        days = [T0 + timedelta(days=d) for d in (30, 10, 20, 90)]
        found = self._stored(uow_factory, make, [*days, None])
        with uow_factory() as uow:
            reminded = uow.certificates.get(found[2].id)
            assert reminded is not None
            reminded.mark_reminded(now=T0)
            uow.commit()
        with uow_factory() as uow:
            due = uow.certificates.list_expiring(T0 + timedelta(days=60), after=T0, limit=10)
            assert [c.number for c in due] == ["N-1", "N-0"]
            assert (
                len(uow.certificates.list_expiring(T0 + timedelta(days=60), after=T0, limit=1)) == 1
            )
            later = uow.certificates.list_expiring(
                T0 + timedelta(days=60), after=T0 + timedelta(days=15), limit=10
            )
            assert [c.number for c in later] == ["N-0"]
            # The upper bound is included: a certificate expiring exactly then is due.
            at_the_edge = uow.certificates.list_expiring(days[1], after=T0, limit=10)
            assert [c.number for c in at_the_edge] == ["N-1"]


def _stored_plain_and_discounted(
    uow_factory: UnitOfWorkFactory, make: Builder, discount: Money, **fields: Any
) -> tuple[Booking, Booking]:
    """Commit two bookings of one traveler on one slot (priced in INR): a plain one,
    and one ``discount`` cheaper with ``fields`` (what the discount came from)."""
    location = make.location()
    slot = make.slot(location.id)
    customer = make.customer()
    traveler = make.traveler(customer.id)
    plain = make.booking(customer.id, slot, [traveler.id])
    total = plain.subtotal - discount
    discounted = make.booking(
        customer.id, slot, [traveler.id], discount=discount, total=total, **fields
    )
    with uow_factory() as uow:
        uow.locations.add(location)
        uow.slots.add(slot)
        uow.customers.add(customer)
        uow.travelers.add(traveler)
        uow.bookings.add(plain)
        uow.bookings.add(discounted)
        uow.commit()
    return plain, discounted


class VoucherRepositoryContract(_Base):
    """Vouchers: unique codes in any case, every term read back, filters and pages,
    redemptions (one per booking), and locks that count every use once.

    .. versionadded:: 0.4
    """

    def test_a_voucher_reads_back_equal_and_its_code_is_unique_in_any_case(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        location = make.location()
        product = make.product()
        voucher = _voucher(
            "summer-10",
            percent_off=None,
            amount_off=Money("150.50", "INR"),
            valid_from=T0,
            valid_until=T0 + timedelta(days=30),
            product_ids=[product.id],
            location_ids=[location.id],
            max_uses=100,
            max_uses_per_customer=2,
            min_travelers=3,
            description="Summer campaign",
        )
        _committed(uow_factory, "vouchers", voucher)
        with uow_factory() as uow:
            assert uow.vouchers.get(voucher.id) == voucher
            assert uow.vouchers.get_by_code(" Summer-10 ") == voucher
            assert uow.vouchers.get_by_code("WINTER") is None
            assert uow.vouchers.get_by_code("not a code!") is None
            uow.vouchers.add(_voucher("SUMMER-10"))
            with pytest.raises(DuplicateError):
                uow.commit()
        percent = _voucher("PCT", percent_off=Decimal("12.5"))
        _committed(uow_factory, "vouchers", percent)
        with uow_factory() as uow:
            assert uow.vouchers.get(percent.id) == percent

    def test_list_filters_by_active_newest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        made = [_voucher(f"CODE{n}", now=T0 + timedelta(minutes=n)) for n in range(5)]
        for voucher in made[::2]:
            voucher.change(now=T0, active=False)
        _commit_all(uow_factory, "vouchers", made)
        _assert_each_filter_walks(
            uow_factory,
            lambda query, uow, page: uow.vouchers.list(query, page),
            made,
            (VoucherFilter(), VoucherFilter(active=True), VoucherFilter(active=False)),
            limits=(1, 2),
        )

    def test_redemptions_are_one_per_booking_and_read_by_customer(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        location = make.location()
        slot = make.slot(location.id)
        customers = [make.customer(), make.customer()]
        travelers = [make.traveler(c.id) for c in customers for _ in range(2)]
        bookings = [make.booking(customers[n // 2].id, slot, [travelers[n].id]) for n in range(4)]
        voucher = _voucher("EVERY")
        redeemed = [
            VoucherRedemption(
                id=VoucherRedemptionId(uuid4()),
                voucher_id=voucher.id,
                booking_id=booking.id,
                customer_id=booking.customer_id,
                at=T0 + timedelta(minutes=n),
                amount=Money(str(10 + n), "INR"),
            )
            for n, booking in enumerate(bookings[:3])
        ]
        with uow_factory() as uow:
            uow.locations.add(location)
            uow.slots.add(slot)
            for customer in customers:
                uow.customers.add(customer)
            for traveler in travelers:
                uow.travelers.add(traveler)
            for booking in bookings:
                uow.bookings.add(booking)
            uow.vouchers.add(voucher)
            for redemption in redeemed:
                uow.vouchers.add_redemption(redemption)
            uow.commit()
        with uow_factory() as uow:
            assert list(uow.vouchers.redemptions(voucher.id)) == redeemed
            mine = uow.vouchers.redemptions(voucher.id, customer_id=customers[1].id)
            assert list(mine) == redeemed[2:]
            assert uow.vouchers.redemption_for_booking(bookings[1].id) == redeemed[1]
            assert uow.vouchers.redemption_for_booking(bookings[3].id) is None
            uow.vouchers.add_redemption(attrs.evolve(redeemed[0], id=VoucherRedemptionId(uuid4())))
            with pytest.raises(DuplicateError) as caught:
                uow.commit()
        assert caught.value.entity == "voucher redemption"

    def test_move_redemptions_points_a_customers_redemptions_at_another(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """Stored ones and ones added in the same unit of work move; a rollback moves none."""
        location = make.location()
        slot = make.slot(location.id)
        source, target, bystander = make.customer(), make.customer(), make.customer()
        owners = [source, source, bystander, source]
        travelers = [make.traveler(c.id) for c in owners]
        bookings = [
            make.booking(c.id, slot, [t.id]) for c, t in zip(owners, travelers, strict=True)
        ]
        voucher = _voucher("MOVE")
        redeemed = [
            VoucherRedemption(
                id=VoucherRedemptionId(uuid4()),
                voucher_id=voucher.id,
                booking_id=booking.id,
                customer_id=booking.customer_id,
                at=T0 + timedelta(minutes=n),
                amount=Money("10", "INR"),
            )
            for n, booking in enumerate(bookings)
        ]
        with uow_factory() as uow:
            uow.locations.add(location)
            uow.slots.add(slot)
            for customer in (source, target, bystander):
                uow.customers.add(customer)
            for traveler in travelers:
                uow.travelers.add(traveler)
            for booking in bookings:
                uow.bookings.add(booking)
            uow.vouchers.add(voucher)
            for redemption in redeemed[:3]:
                uow.vouchers.add_redemption(redemption)
            uow.commit()
        with uow_factory() as uow:
            assert uow.vouchers.move_redemptions(source.id, target.id) == 2
            # Not committed: nothing moved.
        with uow_factory() as uow:
            assert len(uow.vouchers.redemptions(voucher.id, customer_id=source.id)) == 2
        with uow_factory() as uow:
            # One read (tracked), one not read, one added here: all three move.
            read = uow.vouchers.redemption_for_booking(bookings[0].id)
            assert read is not None
            uow.vouchers.add_redemption(redeemed[3])
            assert uow.vouchers.move_redemptions(source.id, target.id) == 3
            assert uow.vouchers.move_redemptions(source.id, target.id) == 0
            uow.commit()
        with uow_factory() as uow:
            assert not uow.vouchers.redemptions(voucher.id, customer_id=source.id)
            moved = uow.vouchers.redemptions(voucher.id, customer_id=target.id)
            assert [x.id for x in moved] == [redeemed[n].id for n in (0, 1, 3)]
            assert all(
                x == attrs.evolve(redeemed[n], customer_id=target.id)
                for x, n in zip(moved, (0, 1, 3), strict=True)
            )
            assert list(uow.vouchers.redemptions(voucher.id, customer_id=bystander.id)) == [
                redeemed[2]
            ]

    def test_a_booking_keeps_its_voucher_code_and_discount(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        off = Money("25", "INR")
        plain, booking = _stored_plain_and_discounted(
            uow_factory, make, off, voucher_code="SAVE25", voucher_discount=off
        )
        with uow_factory() as uow:
            assert uow.bookings.get(booking.id) == booking
            stored = uow.bookings.get(plain.id)
            assert stored is not None
            assert (stored.voucher_code, stored.voucher_discount) == (None, None)

    def test_a_booking_keeps_its_loyalty_tier_percent_and_discount(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """.. versionadded:: 0.4 (loyalty tiers)."""
        off = Money("12.50", "INR")
        plain, booking = _stored_plain_and_discounted(
            uow_factory,
            make,
            off,
            loyalty_tier="Gold",
            loyalty_percent=Decimal("12.5"),
            loyalty_discount=off,
        )
        with uow_factory() as uow:
            stored = uow.bookings.get(booking.id)
            assert stored == booking
            assert stored is not None
            assert str(stored.loyalty_percent) == "12.5"
            kept = uow.bookings.get(plain.id)
            assert kept is not None
            assert (kept.loyalty_tier, kept.loyalty_percent, kept.loyalty_discount) == (
                None,
                None,
                None,
            )

    @requires("concurrent_units_of_work")
    def test_get_for_update_counts_every_use_once(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        voucher = _committed(uow_factory, "vouchers", _voucher("RACE", max_uses=3))

        def use(_: int) -> str:
            with uow_factory() as uow:
                locked = uow.vouchers.get_for_update(voucher.id)
                assert locked is not None
                if locked.max_uses is not None and locked.uses >= locked.max_uses:
                    return "used up"
                locked.count_use(T0)
                uow.commit()
            return "used"

        outcomes = _race(use, range(6))
        assert sorted(outcomes) == ["used"] * 3 + ["used up"] * 3
        with uow_factory() as uow:
            stored = uow.vouchers.get(voucher.id)
            assert stored is not None
            assert (stored.uses, stored.version) == (3, 4)


class CertificateHoldersContract(_Base):
    """``certificates.held_by``: one booking's travelers' certificates in one read.

    .. versionadded:: 0.4
    .. versionchanged:: 0.4 the owners of the travelers, several at once.
    """

    def test_held_by_finds_the_travelers_and_the_customer_s_own_of_the_kinds_asked(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        location = make.location()
        slot = make.slot(location.id)
        customer, stranger = make.customer(), make.customer()
        anna, ben = make.traveler(customer.id), make.traveler(customer.id)
        other = make.traveler(stranger.id)
        booking = make.booking(customer.id, slot, [anna.id, ben.id], status="completed")
        theirs = make.booking(stranger.id, slot, [other.id], status="completed")

        def issued(
            n: int, kind: str, holder: Traveler | None, owner: Booking = booking
        ) -> Certificate:
            return Certificate.issue(
                certificate_id=CertificateId(uuid4()),
                customer_id=owner.customer_id,
                booking_id=owner.id,
                traveler_id=None if holder is None else holder.id,
                kind=kind,
                number=f"H-{n}",
                issued_at=T0,
                expires_at=T0 + timedelta(days=n) if n % 2 else None,
                now=T0 + timedelta(minutes=n),
            )

        made = [
            issued(0, "OW", anna),
            issued(1, "OW", None),  # the customer's own
            issued(2, "AOW", ben),
            issued(3, "EFR", anna),  # a kind not asked for
            issued(4, "OW", other, theirs),  # another customer's traveler
            issued(5, "OW", None, theirs),  # another customer's own
        ]
        with uow_factory() as uow:
            uow.locations.add(location)
            uow.slots.add(slot)
            for person in (customer, stranger):
                uow.customers.add(person)
            for traveler in (anna, ben, other):
                uow.travelers.add(traveler)
            uow.bookings.add(booking)
            uow.bookings.add(theirs)
            for certificate in made:
                uow.certificates.add(certificate)
            uow.commit()
        with uow_factory() as uow:
            found = uow.certificates.held_by([customer.id], {anna.id, ben.id}, {"OW", "AOW"})
            assert [c.number for c in found] == ["H-0", "H-1", "H-2"]
            assert found[1] == made[1]
            only_ben = uow.certificates.held_by([customer.id], [ben.id], ["OW"])
            assert [c.number for c in only_ben] == ["H-1"]
            assert uow.certificates.held_by([customer.id], [anna.id], []) == []
            # Several owners (a family booking): each one's own, and each traveler's.
            both = uow.certificates.held_by({customer.id, stranger.id}, [other.id], ["OW"])
            assert [c.number for c in both] == ["H-1", "H-4", "H-5"]
            assert [c.number for c in uow.certificates.held_by([], [other.id], ["OW"])] == ["H-4"]
            assert uow.certificates.held_by([], [], ["OW"]) == []
            # Seen before commit too: a certificate added in this unit of work counts.
            late = issued(7, "AOW", anna)
            uow.certificates.add(late)
            again = uow.certificates.held_by([customer.id], [anna.id], ["AOW"])
            assert [c.number for c in again] == ["H-7"]


def _device(customer_id: CustomerId, token: str, *, at: datetime = T0, **fields: Any) -> PushDevice:
    return PushDevice.register(
        device_id=PushDeviceId(uuid4()),
        customer_id=customer_id,
        platform=fields.pop("platform", "android"),
        token=token,
        now=at,
        **fields,
    )


class PushDeviceRepositoryContract(_Base):
    """Push devices: one per token, a customer's devices oldest first (the active ones
    when asked), changes that persist, and removal at once.

    .. versionadded:: 0.4
    """

    def _stored_customers(
        self, uow_factory: UnitOfWorkFactory, make: Builder, count: int
    ) -> list[Any]:
        found = [make.customer() for _ in range(count)]
        _commit_all(uow_factory, "customers", found)
        return found

    def test_a_device_reads_back_equal_and_its_token_is_unique(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        asha, ravi = self._stored_customers(uow_factory, make, 2)
        token = "e" + "x" * 160 + ":APA91b_-"
        phone = _device(asha.id, token, platform="ios", label="Asha's iPhone")
        _committed(uow_factory, "push_devices", phone)
        with uow_factory() as uow:
            assert uow.push_devices.get(phone.id) == phone
            assert uow.push_devices.get_by_token(token) == phone
            assert uow.push_devices.get_by_token(token.upper()) is None
            assert uow.push_devices.get(PushDeviceId(uuid4())) is None
        refused = _assert_duplicate(uow_factory, "push_devices", _device(ravi.id, token))
        assert (refused.entity, refused.existing_id) == ("push device", phone.id)
        with uow_factory() as uow:
            assert uow.push_devices.list_for_customer(ravi.id) == []

    def test_a_customers_devices_come_oldest_first_and_only_active_when_asked(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        asha, ravi = self._stored_customers(uow_factory, make, 2)
        theirs = [
            _device(asha.id, f"token-{n}", at=T0 + timedelta(minutes=m))
            for n, m in ((0, 5), (1, 1), (2, 3))
        ]
        other = _device(ravi.id, "token-ravi", at=T0)
        _commit_all(uow_factory, "push_devices", [*theirs, other])
        with uow_factory() as uow:
            gone = uow.push_devices.get(theirs[2].id)
            assert gone is not None
            assert gone.deactivate("UNREGISTERED", now=T0 + timedelta(hours=1))
            uow.commit()
        with uow_factory() as uow:
            listed = uow.push_devices.list_for_customer(asha.id)
            assert [d.token for d in listed] == ["token-1", "token-2", "token-0"]
            assert listed[1].active is False
            assert listed[1].deactivation_reason == "UNREGISTERED"
            assert listed[1].deactivated_at == T0 + timedelta(hours=1)
            active = uow.push_devices.list_for_customer(asha.id, only_active=True)
            assert [d.token for d in active] == ["token-1", "token-0"]
            assert [d.token for d in uow.push_devices.list_for_customer(ravi.id)] == ["token-ravi"]

    def test_a_token_registered_again_by_another_customer_moves_to_them(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        asha, ravi = self._stored_customers(uow_factory, make, 2)
        device = _device(asha.id, "shared-tablet", label="Asha's tablet")
        _committed(uow_factory, "push_devices", device)
        later = T0 + timedelta(days=2)
        with uow_factory() as uow:
            found = uow.push_devices.get_by_token("shared-tablet")
            assert found is not None
            moved = found.register_again(customer_id=ravi.id, platform="web", label=None, now=later)
            assert moved == asha.id
            uow.commit()
        with uow_factory() as uow:
            assert uow.push_devices.list_for_customer(asha.id) == []
            (theirs,) = uow.push_devices.list_for_customer(ravi.id)
            assert (theirs.id, theirs.platform.value, theirs.label) == (device.id, "web", None)
            assert (theirs.registered_at, theirs.created_at) == (later, T0)

    def test_remove_deletes_at_once_and_a_rollback_keeps_the_device(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        (asha,) = self._stored_customers(uow_factory, make, 1)
        kept, going = _device(asha.id, "kept"), _device(asha.id, "going")
        with uow_factory() as uow:
            uow.push_devices.add(kept)
            uow.push_devices.add(going)
            uow.commit()
        with uow_factory() as uow:
            assert uow.push_devices.remove(going.id) is True
            assert uow.push_devices.get(going.id) is None
            assert uow.push_devices.get_by_token("going") is None
            # not committed: rolled back
        with uow_factory() as uow:
            assert uow.push_devices.get(going.id) == going
            assert uow.push_devices.remove(going.id) is True
            assert uow.push_devices.remove(going.id) is False
            uow.commit()
        with uow_factory() as uow:
            assert [d.id for d in uow.push_devices.list_for_customer(asha.id)] == [kept.id]
            # the token is free again
            uow.push_devices.add(_device(asha.id, "going"))
            uow.commit()
        with uow_factory() as uow:
            assert len(uow.push_devices.list_for_customer(asha.id)) == 2


class FamilyRepositoryContract(_Base):
    """Family accounts: families, members (a customer in one family at most) and
    invitations read back equal, in their orders; unlinking and deleting at once.

    .. versionadded:: 0.4
    """

    def _stored_family(
        self, uow_factory: UnitOfWorkFactory, make: Builder, members: int = 3
    ) -> tuple[Family, list[FamilyMember], list[Customer]]:
        customers = [make.customer() for _ in range(members + 1)]
        family, linked = _family_of(make, *customers[:members])
        with uow_factory() as uow:
            for customer in customers:
                uow.customers.add(customer)
            uow.families.add(family)
            for member in reversed(linked):  # the order of adding is not the order read
                uow.families.add_member(member)
            uow.commit()
        return family, linked, customers

    def test_families_and_members_read_back_equal_owner_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        family, linked, customers = self._stored_family(uow_factory, make)
        with uow_factory() as uow:
            assert uow.families.get(family.id) == family
            assert uow.families.get_for_update(family.id) == family
            assert list(uow.families.members(family.id)) == linked
            assert uow.families.member(customers[1].id) == linked[1]
            assert uow.families.member(customers[3].id) is None
            assert uow.families.get(FamilyId(uuid4())) is None

    def test_a_customer_is_a_member_of_one_family_at_most(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        _, linked, customers = self._stored_family(uow_factory, make)
        other, _ = _family_of(make, customers[3])
        with uow_factory() as uow:
            uow.families.add(other)
            uow.families.add_member(
                attrs.evolve(linked[1], id=FamilyMemberId(uuid4()), family_id=other.id)
            )
            with pytest.raises(DuplicateError) as caught:
                uow.commit()
        assert (caught.value.entity, caught.value.existing_id) == ("family member", linked[1].id)

    def test_removing_a_member_is_seen_at_once_and_undone_by_a_rollback(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        family, linked, customers = self._stored_family(uow_factory, make)
        with uow_factory() as uow:
            assert uow.families.remove_member(customers[2].id) is True
            assert uow.families.member(customers[2].id) is None
            assert list(uow.families.members(family.id)) == linked[:2]
            assert uow.families.remove_member(customers[3].id) is False
        with uow_factory() as uow:
            assert list(uow.families.members(family.id)) == linked  # rolled back
            uow.families.remove_member(customers[2].id)
            uow.commit()
        with uow_factory() as uow:
            assert list(uow.families.members(family.id)) == linked[:2]
            # Linked again to another family in one unit of work with the removal.
            other, _ = _family_of(make, customers[3])
            uow.families.add(other)
            uow.families.remove_member(customers[1].id)
            moved = attrs.evolve(linked[1], id=FamilyMemberId(uuid4()), family_id=other.id)
            uow.families.add_member(moved)
            uow.commit()
        with uow_factory() as uow:
            assert uow.families.member(customers[1].id) == moved

    def test_a_member_changed_in_place_is_stored(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        _, linked, customers = self._stored_family(uow_factory, make, members=2)
        with uow_factory() as uow:
            member = uow.families.member(customers[1].id)
            assert member is not None
            member.customer_id = customers[2].id
            member.relation = "twin"
            uow.commit()
        with uow_factory() as uow:
            assert uow.families.member(customers[1].id) is None
            found = uow.families.member(customers[2].id)
            assert found is not None
            assert (found.id, found.relation) == (linked[1].id, "twin")

    def test_invitations_read_back_by_family_and_by_either_customer_oldest_first(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        family, _, customers = self._stored_family(uow_factory, make, members=1)
        invited = [make.customer() for _ in range(2)]
        sent = [
            _invitation(family, invited[n % 2], minutes=10 - n, relation=f"r{n}") for n in range(3)
        ]
        with uow_factory() as uow:
            for customer in invited:
                uow.customers.add(customer)
            for invitation in sent:
                uow.families.add_invitation(invitation)
            uow.commit()
        oldest_first = sent[::-1]
        with uow_factory() as uow:
            assert list(uow.families.invitations(family.id)) == oldest_first
            assert uow.families.get_invitation(sent[1].id) == sent[1]
            assert list(uow.families.invitations_involving(invited[0].id)) == [sent[2], sent[0]]
            assert list(uow.families.invitations_involving(customers[0].id)) == oldest_first
            assert uow.families.invitations_involving(customers[1].id) == []
            answered = uow.families.get_invitation(sent[0].id)
            assert answered is not None
            answered.accept(now=T0 + timedelta(hours=1))
            uow.families.delete_invitations([sent[1].id])
            assert list(uow.families.invitations(family.id)) == [sent[2], answered]
            uow.commit()
        with uow_factory() as uow:
            stored = uow.families.get_invitation(sent[0].id)
            assert stored == answered
            assert stored is not None
            assert (stored.status, stored.version) == (InvitationStatus.ACCEPTED, 2)
            assert uow.families.get_invitation(sent[1].id) is None

    def test_deleting_a_family_takes_its_members_and_invitations(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        family, _, customers = self._stored_family(uow_factory, make)
        keep, keep_members, _ = self._stored_family(uow_factory, make, members=1)
        with uow_factory() as uow:
            uow.families.add_invitation(_invitation(family, customers[3]))
            uow.commit()
        with uow_factory() as uow:
            uow.families.delete(family.id)
            assert uow.families.get(family.id) is None
            assert uow.families.member(customers[0].id) is None
            uow.commit()
        with uow_factory() as uow:
            assert uow.families.get(family.id) is None
            assert uow.families.members(family.id) == []
            assert uow.families.invitations(family.id) == []
            assert uow.families.invitations_involving(customers[3].id) == []
            assert list(uow.families.members(keep.id)) == keep_members


def _share_link(booking: Booking, *, at: datetime = T0, **fields: Any) -> ShareLink:
    return ShareLink.issue(
        link_id=ShareLinkId(uuid4()),
        booking_id=booking.id,
        customer_id=booking.customer_id,
        token=fields.pop("token", None) or new_share_token(),
        expires_at=fields.pop("expires_at", at + timedelta(days=30)),
        now=at,
        **fields,
    )


class ShareLinkRepositoryContract(_Base):
    """Share links: found by their token's hash (unique, exact), a booking's and a
    customer's links oldest first, revocation that persists, removal at once.

    .. versionadded:: 0.4
    """

    def test_a_link_reads_back_equal_and_its_token_hash_is_unique(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        (booking,) = _stored_bookings(uow_factory, make, 1)
        link = _share_link(booking, label="for the Sharma family", show_first_names=True)
        _committed(uow_factory, "share_links", link)
        with uow_factory() as uow:
            assert uow.share_links.get(link.id) == link
            assert uow.share_links.get_by_token_hash(link.token_hash) == link
            assert uow.share_links.get_by_token_hash(link.token_hash.upper()) is None
            assert uow.share_links.get(ShareLinkId(uuid4())) is None
        twin = _share_link(booking)
        twin.token_hash = link.token_hash
        refused = _assert_duplicate(uow_factory, "share_links", twin)
        assert (refused.entity, refused.existing_id) == ("share link", link.id)
        with uow_factory() as uow:
            assert [x.id for x in uow.share_links.list_for_booking(booking.id)] == [link.id]

    def test_links_list_oldest_first_per_booking_and_customer_and_revocation_persists(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        first, second = _stored_bookings(uow_factory, make, 2)
        links = [
            _share_link(first, at=T0 + timedelta(minutes=5)),
            _share_link(second, at=T0 + timedelta(minutes=1)),
            _share_link(first, at=T0 + timedelta(minutes=3)),
        ]
        _commit_all(uow_factory, "share_links", links)
        with uow_factory() as uow:
            found = uow.share_links.get(links[0].id)
            assert found is not None
            assert found.revoke(now=T0 + timedelta(hours=1))
            uow.commit()
        with uow_factory() as uow:
            mine = uow.share_links.list_for_booking(first.id)
            assert [x.id for x in mine] == [links[2].id, links[0].id]
            assert mine[1].revoked_at == T0 + timedelta(hours=1)
            assert not mine[1].is_active(T0 + timedelta(hours=2))
            assert mine[0].is_active(T0 + timedelta(hours=2))
            theirs = uow.share_links.list_for_customer(first.customer_id)
            assert [x.id for x in theirs] == [links[1].id, links[2].id, links[0].id]
            assert uow.share_links.list_for_customer(CustomerId(uuid4())) == []

    @requires("concurrent_units_of_work")
    def test_a_link_locked_is_read_as_the_unit_of_work_before_it_left_it(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``get_for_update`` (0.4) waits for a unit of work that holds the link and
        reads what it committed: of two revokes at once, one revokes it."""
        (booking,) = _stored_bookings(uow_factory, make, 1)
        link = _share_link(booking)
        _committed(uow_factory, "share_links", link)
        with uow_factory() as uow:
            assert uow.share_links.get_for_update(ShareLinkId(uuid4())) is None

        def revoke(minutes: int) -> bool:
            with uow_factory() as uow:
                locked = uow.share_links.get_for_update(link.id)
                assert locked is not None
                revoked = locked.revoke(now=T0 + timedelta(minutes=minutes))
                uow.commit()
                return revoked

        assert sorted(_race(revoke, [1, 2])) == [False, True]
        with uow_factory() as uow:
            stored = uow.share_links.get(link.id)
            assert stored is not None
            assert stored.revoked_at in {T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)}

    def test_opens_are_counted_at_once_and_undone_by_a_rollback(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """``record_open`` (0.4): one more open and its time, written at once."""
        (booking,) = _stored_bookings(uow_factory, make, 1)
        link = _share_link(booking)
        assert (link.view_count, link.last_opened_at) == (0, None)
        first, second = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
        _committed(uow_factory, "share_links", link)
        with uow_factory() as uow:
            read = uow.share_links.get_by_token_hash(link.token_hash)
            assert read is not None
            opened = uow.share_links.record_open(link.id, first)
            assert opened is not None
            assert (opened.view_count, opened.last_opened_at) == (1, first)
            assert uow.share_links.record_open(ShareLinkId(uuid4()), first) is None
            uow.commit()
        with uow_factory() as uow:
            again = uow.share_links.record_open(link.id, second)
            assert again is not None
            assert again.view_count == 2
            # Rolled back: this open is not counted.
        with uow_factory() as uow:
            stored = uow.share_links.get(link.id)
            assert stored is not None
            assert (stored.view_count, stored.last_opened_at) == (1, first)
            assert uow.share_links.list_for_booking(booking.id)[0].view_count == 1

    @requires("interleaved_units_of_work")
    def test_an_open_adds_to_what_is_stored_not_to_what_was_read(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        """Two opens that read the link at once both count (0.4)."""
        (booking,) = _stored_bookings(uow_factory, make, 1)
        link = _share_link(booking)
        _committed(uow_factory, "share_links", link)
        with uow_factory() as late:
            read = late.share_links.get_by_token_hash(link.token_hash)
            assert read is not None
            with uow_factory() as early:
                assert early.share_links.get_by_token_hash(link.token_hash) is not None
                early.share_links.record_open(link.id, T0 + timedelta(minutes=1))
                early.commit()
            opened = late.share_links.record_open(link.id, T0 + timedelta(minutes=2))
            assert opened is not None
            assert opened.view_count == 2
            late.commit()
        with uow_factory() as uow:
            stored = uow.share_links.get(link.id)
            assert stored is not None
            assert (stored.view_count, stored.last_opened_at) == (2, T0 + timedelta(minutes=2))

    def test_removing_a_link_is_seen_at_once_and_undone_by_a_rollback(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        (booking,) = _stored_bookings(uow_factory, make, 1)
        link = _share_link(booking)
        _committed(uow_factory, "share_links", link)
        with uow_factory() as uow:
            assert uow.share_links.remove(link.id)
            assert uow.share_links.get(link.id) is None
            assert uow.share_links.list_for_booking(booking.id) == []
            uow.rollback()
        with uow_factory() as uow:
            assert uow.share_links.get(link.id) == link
            assert uow.share_links.remove(link.id)
            assert not uow.share_links.remove(link.id)
            uow.commit()
        with uow_factory() as uow:
            assert uow.share_links.get_by_token_hash(link.token_hash) is None

    def test_a_link_moved_to_another_customer_is_listed_under_them(
        self, uow_factory: UnitOfWorkFactory, make: Builder
    ) -> None:
        (booking,) = _stored_bookings(uow_factory, make, 1)
        survivor = make.customer()
        link = _share_link(booking)
        with uow_factory() as uow:
            uow.customers.add(survivor)
            uow.share_links.add(link)
            uow.commit()
        with uow_factory() as uow:
            found = uow.share_links.get(link.id)
            assert found is not None
            found.customer_id = survivor.id
            found.updated_at = T0 + timedelta(days=1)
            uow.commit()
        with uow_factory() as uow:
            assert [x.id for x in uow.share_links.list_for_customer(survivor.id)] == [link.id]
            assert uow.share_links.list_for_customer(booking.customer_id) == []


#: What a unit of work adds: a row naming a row that was never stored.
_Adds = Callable[[UnitOfWork], None]


def _gone() -> UUID:
    """The id of a row no store holds."""
    return uuid4()


def _dangling_certificate(uow_factory: UnitOfWorkFactory, make: Builder) -> _Adds:
    certificate = Certificate.issue(
        certificate_id=CertificateId(uuid4()),
        customer_id=_store_customer(uow_factory, make).id,
        booking_id=BookingId(_gone()),
        kind="AOW",
        number=f"V-{uuid4().hex[:8]}",
        issued_at=T0,
        now=T0,
    )
    return lambda uow: uow.certificates.add(certificate)


def _dangling_family(uow_factory: UnitOfWorkFactory, make: Builder) -> _Adds:
    family = Family(
        id=FamilyId(uuid4()), owner_id=CustomerId(_gone()), created_at=T0, updated_at=T0
    )
    return lambda uow: uow.families.add(family)


def _dangling_family_member(uow_factory: UnitOfWorkFactory, make: Builder) -> _Adds:
    _, (member,) = _family_of(make, _store_customer(uow_factory, make))  # family never stored
    return lambda uow: uow.families.add_member(member)


def _dangling_family_invitation(uow_factory: UnitOfWorkFactory, make: Builder) -> _Adds:
    invitation = _invitation(_store_family(uow_factory, make), make.customer())
    return lambda uow: uow.families.add_invitation(invitation)


def _dangling_communication(uow_factory: UnitOfWorkFactory, make: Builder) -> _Adds:
    booking = _stored_booking(uow_factory, make)
    message = CommunicationRepositoryContract._message(booking, 1, customer_id=CustomerId(_gone()))
    return lambda uow: uow.communications.add(message)


def _dangling_document(uow_factory: UnitOfWorkFactory, make: Builder) -> _Adds:
    document = Document(
        id=DocumentId(uuid4()),
        booking_id=BookingId(_gone()),
        kind=DocumentKind.VOUCHER,
        filename="voucher.html",
        media_type="text/html; charset=utf-8",
        content="<h1>voucher</h1>",
        created_at=T0,
        source_event_id=uuid4(),
        generated_by=None,
    )
    return lambda uow: uow.documents.add(document)


def _dangling_share_link(uow_factory: UnitOfWorkFactory, make: Builder) -> _Adds:
    link = attrs.evolve(
        _share_link(_stored_booking(uow_factory, make)), booking_id=BookingId(_gone())
    )
    return lambda uow: uow.share_links.add(link)


def _dangling_voucher_redemption(uow_factory: UnitOfWorkFactory, make: Builder) -> _Adds:
    booking = _stored_booking(uow_factory, make)
    redemption = VoucherRedemption(
        id=VoucherRedemptionId(uuid4()),
        voucher_id=VoucherId(_gone()),
        booking_id=booking.id,
        customer_id=booking.customer_id,
        at=T0,
        amount=Money("10", "INR"),
    )
    return lambda uow: uow.vouchers.add_redemption(redemption)


def _dangling_commission(uow_factory: UnitOfWorkFactory, make: Builder) -> _Adds:
    entry = make.commission_entry(_store_payment(uow_factory, make), PartnerId(_gone()))
    return lambda uow: uow.commissions.add(entry)


def _dangling_quotation(uow_factory: UnitOfWorkFactory, make: Builder) -> _Adds:
    quotation = make.quotation(_store_customer(uow_factory, make).id, SlotId(_gone()))
    return lambda uow: uow.quotations.add(quotation)


def _dangling_push_device(uow_factory: UnitOfWorkFactory, make: Builder) -> _Adds:
    device = _device(CustomerId(_gone()), f"token-{uuid4().hex}")
    return lambda uow: uow.push_devices.add(device)


def _dangling_audit_entry(uow_factory: UnitOfWorkFactory, make: Builder) -> _Adds:
    booking_id = BookingId(_gone())
    entry = AuditEntry(
        id=uuid4(),
        entity="booking",
        entity_id=booking_id,
        action=AuditAction.STATUS_CHANGED,
        actor=Actor.system("contract"),
        occurred_at=make.now,
        old_values={"status": "pending"},
        new_values={"status": "cancelled"},
        reason=None,
        booking_id=booking_id,
    )
    return lambda uow: uow.audit.add(entry)


def _dangling(repository: str, build: Callable[[Builder], Any]) -> Callable[..., _Adds]:
    """A case whose row needs no stored row but the one it names and misses."""

    def dangling(uow_factory: UnitOfWorkFactory, make: Builder) -> _Adds:
        row = build(make)
        return lambda uow: getattr(uow, repository).add(row)

    return dangling


#: Entity -> (the column the error names, what stores the rows it needs and returns
#: what adds a row naming a missing row through that column).
DANGLING_ROWS: dict[str, tuple[str, Callable[[UnitOfWorkFactory, Builder], _Adds]]] = {
    "customer": ("partner_id", _dangling("customers", lambda m: m.customer(partner_id=_gone()))),
    "staff member": (
        "supplier_id",
        _dangling("staff", lambda m: m.staff_member(supplier_id=SupplierId(_gone()))),
    ),
    "booking group": (
        "organizer_id",
        _dangling("groups", lambda m: m.group(CustomerId(_gone()))),
    ),
    "import row error": (
        "import_id",
        _dangling("import_errors", lambda m: m.import_row_error(_gone(), 1)),
    ),
    "webhook delivery": (
        "partner_id",
        _dangling("webhook_deliveries", lambda m: m.webhook_delivery(PartnerId(_gone()))),
    ),
    "webhook attempt": (
        "delivery_id",
        _dangling("webhook_attempts", lambda m: m.webhook_attempt(_gone(), 1)),
    ),
    "lead": ("customer_id", _dangling("leads", lambda m: m.lead(CustomerId(_gone())))),
    "trip": ("customer_id", _dangling("trips", lambda m: m.trip(CustomerId(_gone())))),
    "itinerary": (
        "booking_id",
        _dangling("itineraries", lambda m: m.itinerary(BookingId(_gone()))),
    ),
    "quotation": ("slot_id", _dangling_quotation),
    "certificate": ("booking_id", _dangling_certificate),
    "family": ("owner_id", _dangling_family),
    "family member": ("family_id", _dangling_family_member),
    "family invitation": ("customer_id", _dangling_family_invitation),
    "communication": ("customer_id", _dangling_communication),
    "document": ("booking_id", _dangling_document),
    "share link": ("booking_id", _dangling_share_link),
    "voucher redemption": ("voucher_id", _dangling_voucher_redemption),
    "commission entry": ("partner_id", _dangling_commission),
    "push device": ("customer_id", _dangling_push_device),
    "audit entry": ("booking_id", _dangling_audit_entry),
}


class ReferenceContract(_Base):
    """Every store refuses what a SQL store's foreign keys refuse, on every table
    that has them: a row naming a row that does not exist.

    .. versionadded:: 0.4
    """

    @pytest.mark.parametrize("entity", sorted(DANGLING_ROWS))
    def test_a_row_naming_a_missing_row_is_refused_naming_the_column(
        self, uow_factory: UnitOfWorkFactory, make: Builder, entity: str
    ) -> None:
        """A ``ConflictError`` on commit names the column; nothing of the commit is
        stored."""
        column, dangling = DANGLING_ROWS[entity]
        add = dangling(uow_factory, make)
        bystander = make.customer()
        with uow_factory() as uow:
            uow.customers.add(bystander)
            add(uow)
            with pytest.raises(ConflictError, match=column):
                uow.commit()
        with uow_factory() as uow:
            assert uow.customers.get(bystander.id) is None


class StorageContract(
    UnitOfWorkContract,
    ReferenceContract,
    CustomerRepositoryContract,
    TravelerRepositoryContract,
    CatalogRepositoryContract,
    SlotRepositoryContract,
    BookingRepositoryContract,
    PartnerRepositoryContract,
    HistoryRepositoryContract,
    OutboxRepositoryContract,
    CommunicationRepositoryContract,
    DocumentRepositoryContract,
    AuthSessionRepositoryContract,
    BookingGroupRepositoryContract,
    BookingItemRepositoryContract,
    WaitlistRepositoryContract,
    PaymentRepositoryContract,
    WebhookInboxRepositoryContract,
    IdempotencyKeyRepositoryContract,
    InvoiceRepositoryContract,
    CommissionLedgerContract,
    WebhookDeliveryRepositoryContract,
    LeadRepositoryContract,
    QuotationRepositoryContract,
    SupplierItemContract,
    TripRepositoryContract,
    StaffRepositoryContract,
    ImportRepositoryContract,
    LookupContract,
    VersionContract,
    PersistenceContract,
    TallyContract,
    AnalyticsTallyContract,
    CustomerStatsRepositoryContract,
    CertificateRepositoryContract,
    VoucherRepositoryContract,
    CertificateHoldersContract,
    PushDeviceRepositoryContract,
    FamilyRepositoryContract,
    ShareLinkRepositoryContract,
):
    """Every storage contract at once: what a full storage adapter must pass.

    .. versionadded:: 0.1
    """
