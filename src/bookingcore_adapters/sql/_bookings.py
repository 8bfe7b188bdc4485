"""Bookings in SQL: each booking, its travelers and its line items.

Tables, mapping and repositories together.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ColumnElement,
    Connection,
    Date,
    FromClause,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    and_,
    event,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    union_all,
)

from bookingcore.domain.attendance import Attendance, AttendanceRecord
from bookingcore.domain.bookings import Booking, BookingTraveler
from bookingcore.domain.customers import Customer
from bookingcore.domain.items import BookingItem, BookingItemKind, BookingItemStatus
from bookingcore.domain.queries import BookingFilter, Cursor, Page, PageRequest
from bookingcore.domain.sources import BookingSource
from bookingcore.domain.tallies import (
    UTC_ZONE,
    CohortTally,
    CustomerTally,
    FrequencyTally,
    GroupCounts,
    Grouping,
    GroupKey,
    GroupSums,
    SourceOverlapTally,
    StatusSet,
)
from bookingcore.domain.values import (
    BookingId,
    BookingItemId,
    CustomerId,
    Money,
    SlotId,
    StaffId,
    SupplierId,
)
from bookingcore.domain.vouchers import plain_percent
from bookingcore_adapters.sql._catalog import LOCATIONS
from bookingcore_adapters.sql._customers import CUSTOMERS, TRAVELERS, customers
from bookingcore_adapters.sql._driver import TUPLE_COUNTS
from bookingcore_adapters.sql._mapper import (
    Mapper,
    Row,
    Stored,
    actor_columns,
    json_copy,
    required_actor,
)
from bookingcore_adapters.sql._queries import (
    ZERO,
    TextSearch,
    exact_sum,
    keyset_after_earliest,
    local_period,
    one_of,
    read_period,
    read_sum,
    status_in,
    total,
    within,
    zone_name,
)
from bookingcore_adapters.sql._repository import IDS_PER_STATEMENT, Repository
from bookingcore_adapters.sql._schema import (
    CURRENCY,
    ENUM,
    ExactDecimal,
    index_where_set,
    json_type,
    metadata,
    money,
    ref,
    when,
)

__all__ = [
    "BOOKINGS",
    "BOOKING_ITEMS",
    "BookingItemRepository",
    "BookingRepository",
    "booking_items",
    "booking_travelers",
    "booking_where",
    "bookings",
    "describe_periods",
    "period_statistics",
]


# --------------------------------------------------------------------------- tables


_BOOKING_FILTERS = (
    "customer_id",
    "slot_id",
    "location_id",
    "product_id",
    "supplier_id",
    "partner_id",
    "assignee_id",
    "status",
    "source",
)
#: Those a booking may leave empty: their indexes hold only the bookings that have one.
_OPTIONAL_BOOKING_FILTERS = frozenset({"product_id", "supplier_id", "partner_id", "assignee_id"})

bookings = Table(
    "bookings",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("reference", String(), nullable=False, unique=True),
    ref("customer_id", "customers.id", nullable=False),
    ref("slot_id", "slots.id", nullable=False),
    ref("location_id", "locations.id", nullable=False),
    ref("product_id", "products.id"),
    ref("supplier_id", "suppliers.id"),
    ref("partner_id", "partners.id"),
    ref("created_by_partner_id", "partners.id"),
    when("starts_at"),
    Column("lifecycle", String(), nullable=False),
    Column("status", String(), nullable=False),
    Column("source", ENUM, nullable=False),
    Column("total_travelers", Integer(), nullable=False),
    Column("primary_contact_traveler_id", Uuid(), nullable=False),
    money("subtotal_amount"),
    money("discount_amount"),
    money("total_amount"),
    Column("currency", CURRENCY, nullable=False),
    # travel (revision 0012): what the booking's line items add up to.
    Column("items_total_amount", ExactDecimal(18, 4), nullable=False, server_default="0"),
    Column("created_by_kind", ENUM, nullable=False),
    Column("created_by_id", String()),
    Column("referral_source", String()),
    Column("internal_notes", Text()),
    Column("external_id", String(), unique=True),
    Column("assignee_id", Uuid()),
    Column("group_id", Uuid()),
    Column("idempotency_key", String(), unique=True),
    Column("request_fingerprint", String()),
    when("cancelled_at", nullable=True),
    Column("cancellation_reason", Text()),
    Column("metadata", json_type(), nullable=False),
    when("created_at"),
    when("updated_at"),
    Column("version", Integer(), nullable=False),
    # vouchers (revision 0038): the code a booking was made with and what it took off.
    Column("voucher_code", String(40)),
    Column("voucher_discount_amount", ExactDecimal(18, 4)),
    # loyalty tiers (revision 0041): the tier whose discount a booking got, its percent
    # then, and what it took off.
    Column("loyalty_tier", String(80)),
    Column("loyalty_percent", ExactDecimal(7, 4)),
    Column("loyalty_discount_amount", ExactDecimal(18, 4)),
    # archiving (revision 0046): when the booking left the operational lists.
    when("archived_at", nullable=True),
    # trips (revision 0054): the trip the booking is on, kept with trips.booking_ids.
    # Trips are never deleted, so the reference restricts.
    ref("trip_id", "trips.id", index=True),
    # Staff lists are newest first by (created_at, id), keyset-paged: each filter
    # column leads an index that also holds that order, so a page of a filtered
    # list is one index range scan however deep it is (bench/booking_queries.py).
    Index(None, "created_at", "id"),
    *(
        Index(None, column, "created_at", "id")
        for column in _BOOKING_FILTERS
        if column not in _OPTIONAL_BOOKING_FILTERS
    ),
    Index(None, "starts_at"),
)


# A direct booking (no product, supplier, partner, advisor or group) writes five
# index entries fewer.
for _column in sorted(_OPTIONAL_BOOKING_FILTERS):
    index_where_set(bookings, _column, "created_at", "id")
index_where_set(bookings, "group_id")
# Archiving (revision 0046) walks the live bookings by slot start: an index of the live
# ones only, which shrinks as they are archived.
Index(
    "ix_bookings_live_starts_at_id",
    bookings.c.starts_at,
    bookings.c.id,
    postgresql_where=bookings.c.archived_at.is_(None),
    sqlite_where=bookings.c.archived_at.is_(None),
)

#: PostgreSQL statistics (name: column, period) on the periods reports group bookings
#: by (:func:`booking_group`). Without them the planner guesses hundreds of thousands
#: of groups for a million bookings where there are a few dozen: it plans one serial
#: hash aggregate, ready to spill, and compiles it with JIT; with them it aggregates
#: in parallel workers. Revision 0025 creates them on a migrated database.
PERIOD_STATISTICS = {
    "st_bookings_created_day": ("created_at", "day"),
    "st_bookings_created_month": ("created_at", "month"),
    "st_bookings_starts_month": ("starts_at", "month"),
}


def period_statistics(zone: ZoneInfo = UTC_ZONE) -> dict[str, tuple[str, str]]:
    """The statistics (name: column, period) on the bookings' periods in ``zone``.

    In UTC, :data:`PERIOD_STATISTICS`; in another zone the same names followed by
    the zone's name, folded to lower-case letters, digits and ``_``, and a short
    digest of it (``Etc/GMT+5`` and ``Etc/GMT-5`` fold alike).
    """
    name = zone_name(zone)
    if name == "UTC":
        return dict(PERIOD_STATISTICS)
    folded = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:20]
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return {
        f"{statistics}_{folded}_{digest}": spec for statistics, spec in PERIOD_STATISTICS.items()
    }


def describe_periods(
    connection: Connection,
    zone: ZoneInfo = UTC_ZONE,
    *,
    if_missing: bool = False,
    analyze: bool = False,
) -> None:
    """``CREATE STATISTICS`` on the bookings' periods in ``zone`` (PostgreSQL only): the
    planner then knows how few groups a report by day or month makes. ``analyze``
    fills them at once (``ANALYZE`` of the bookings)."""
    if connection.dialect.name != "postgresql":
        return
    table = connection.dialect.identifier_preparer.format_table(bookings)
    missing = "IF NOT EXISTS " if if_missing else ""
    for statistics, (column, period) in period_statistics(zone).items():
        grouped = local_period(bookings.c[column], period, "postgresql", zone)
        expression = grouped.compile(dialect=connection.dialect)
        connection.execute(
            text(f"CREATE STATISTICS {missing}{statistics} ON ({expression}) FROM {table}")
        )
    if analyze:
        connection.execute(text(f"ANALYZE {table}"))


@event.listens_for(bookings, "after_create")
def _describe_periods(target: Table, connection: Connection, **_: object) -> None:
    describe_periods(connection)


booking_travelers = Table(
    "booking_travelers",
    metadata,
    ref("booking_id", "bookings.id", nullable=False, ondelete="CASCADE"),
    ref("traveler_id", "travelers.id", nullable=False, index=True),
    Column("position", Integer(), nullable=False),
    money("price_amount"),
    Column("price_currency", CURRENCY, nullable=False),
    Column("is_primary", Boolean(), nullable=False),
    Column("special_requirements", Text()),
    # attendance (revision 0040): whether the traveler turned up, when, by whom.
    Column("attendance", ENUM),
    when("attendance_recorded_at", nullable=True),
    Column("attendance_recorded_by_kind", ENUM),
    Column("attendance_recorded_by_id", String()),
    Column("attendance_note", Text()),
    PrimaryKeyConstraint("booking_id", "traveler_id"),
    UniqueConstraint("booking_id", "position"),
)


#: Seed 003's ``booking_items``: a booking's products, rooms, flights and services.
#: ``total_amount`` is ``unit_price_amount * quantity``, kept for reports.
booking_items = Table(
    "booking_items",
    metadata,
    Column("id", Uuid(), primary_key=True),
    ref("booking_id", "bookings.id", nullable=False, index=True, ondelete="CASCADE"),
    Column("item_type", ENUM, nullable=False),
    ref("product_id", "products.id", index=True),
    ref("supplier_id", "suppliers.id"),
    Column("description", Text(), nullable=False),
    Column("quantity", Integer(), nullable=False),
    money("unit_price_amount"),
    money("total_amount"),
    Column("currency", CURRENCY, nullable=False),
    Column("service_starts_on", Date()),
    Column("service_ends_on", Date()),
    Column("status", ENUM, nullable=False),
    Column("supplier_reference", String()),
    Column("metadata", json_type(), nullable=False),
    when("created_at"),
    when("updated_at"),
    Column("version", Integer(), nullable=False),
    # travel (revision 0012): the booking's currency, the rate used, a supplier's refusal.
    Column("booking_currency", CURRENCY),
    Column("exchange_rate", ExactDecimal(18, 8)),
    Column("rejection_reason", Text()),
    CheckConstraint("quantity >= 1", name="quantity_positive"),
    # The dashboard counts the items still waiting on suppliers (revision 0027).
    Index(None, "status", "booking_id"),
    # A supplier's items, newest first by (created_at, id), keyset-paged (revision 0028).
    Index(None, "supplier_id", "created_at", "id"),
)


# --------------------------------------------------------------------------- mapping


def _dump_booking(b: Booking) -> Row:
    return {
        "id": b.id,
        "reference": b.reference,
        "customer_id": b.customer_id,
        "slot_id": b.slot_id,
        "location_id": b.location_id,
        "product_id": b.product_id,
        "supplier_id": b.supplier_id,
        "partner_id": b.partner_id,
        "created_by_partner_id": b.created_by_partner_id,
        "starts_at": b.starts_at,
        "lifecycle": b.lifecycle,
        "status": b.status,
        "source": b.source.value,
        "total_travelers": b.total_travelers,
        "primary_contact_traveler_id": b.primary_traveler.traveler_id,
        "subtotal_amount": b.subtotal.amount,
        "discount_amount": b.discount.amount,
        "total_amount": b.total.amount,
        "currency": b.total.currency,
        "items_total_amount": b.items_sum.amount,
        **actor_columns("created_by_kind", "created_by_id", b.created_by),
        "referral_source": b.referral_source,
        "internal_notes": b.internal_notes,
        "external_id": b.external_id,
        "assignee_id": b.assignee_id,
        "group_id": b.group_id,
        "idempotency_key": b.idempotency_key,
        "request_fingerprint": b.request_fingerprint,
        "cancelled_at": b.cancelled_at,
        "cancellation_reason": b.cancellation_reason,
        "metadata": json_copy(b.metadata),
        "created_at": b.created_at,
        "updated_at": b.updated_at,
        "version": b.version,
        "voucher_code": b.voucher_code,
        "voucher_discount_amount": (
            None if b.voucher_discount is None else b.voucher_discount.amount
        ),
        "loyalty_tier": b.loyalty_tier,
        "loyalty_percent": b.loyalty_percent,
        "loyalty_discount_amount": (
            None if b.loyalty_discount is None else b.loyalty_discount.amount
        ),
        "archived_at": b.archived_at,
        "trip_id": b.trip_id,
    }


def _dump_booking_travelers(b: Booking) -> list[Row]:
    return [
        {
            "booking_id": b.id,
            "traveler_id": x.traveler_id,
            "position": position,
            "price_amount": x.price.amount,
            "price_currency": x.price.currency,
            "is_primary": x.is_primary,
            "special_requirements": x.special_requirements,
            **_dump_attendance(x.attendance),
        }
        for position, x in enumerate(b.travelers)
    ]


def _dump_attendance(record: AttendanceRecord | None) -> Row:
    if record is None:
        return {
            "attendance": None,
            "attendance_recorded_at": None,
            **actor_columns("attendance_recorded_by_kind", "attendance_recorded_by_id", None),
            "attendance_note": None,
        }
    return {
        "attendance": record.status.value,
        "attendance_recorded_at": record.recorded_at,
        **actor_columns(
            "attendance_recorded_by_kind", "attendance_recorded_by_id", record.recorded_by
        ),
        "attendance_note": record.note,
    }


def _load_attendance(c: Stored) -> AttendanceRecord | None:
    if c["attendance"] is None:
        return None
    return AttendanceRecord(
        status=Attendance(c["attendance"]),
        recorded_at=c["attendance_recorded_at"],
        recorded_by=required_actor(c, "attendance_recorded_by_kind", "attendance_recorded_by_id"),
        note=c["attendance_note"],
    )


def _load_booking(r: Stored, children: Sequence[Stored]) -> Booking:
    currency = r["currency"]
    travelers = tuple(
        BookingTraveler(
            traveler_id=c["traveler_id"],
            price=Money(c["price_amount"], c["price_currency"]),
            is_primary=c["is_primary"],
            special_requirements=c["special_requirements"],
            attendance=_load_attendance(c),
        )
        for c in sorted(children, key=lambda c: c["position"])
    )
    return Booking(
        id=r["id"],
        reference=r["reference"],
        customer_id=r["customer_id"],
        slot_id=r["slot_id"],
        location_id=r["location_id"],
        starts_at=r["starts_at"],
        lifecycle=r["lifecycle"],
        status=r["status"],
        travelers=travelers,
        subtotal=Money(r["subtotal_amount"], currency),
        discount=Money(r["discount_amount"], currency),
        total=Money(r["total_amount"], currency),
        items_total=Money(r["items_total_amount"], currency),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        created_by=required_actor(r, "created_by_kind", "created_by_id"),
        source=BookingSource(r["source"]),
        product_id=r["product_id"],
        supplier_id=r["supplier_id"],
        partner_id=r["partner_id"],
        created_by_partner_id=r["created_by_partner_id"],
        referral_source=r["referral_source"],
        internal_notes=r["internal_notes"],
        external_id=r["external_id"],
        assignee_id=r["assignee_id"],
        group_id=r["group_id"],
        idempotency_key=r["idempotency_key"],
        request_fingerprint=r["request_fingerprint"],
        cancelled_at=r["cancelled_at"],
        cancellation_reason=r["cancellation_reason"],
        metadata=dict(r["metadata"]),
        version=r["version"],
        voucher_code=r["voucher_code"],
        voucher_discount=(
            None
            if r["voucher_discount_amount"] is None
            else Money(r["voucher_discount_amount"], currency)
        ),
        loyalty_tier=r["loyalty_tier"],
        loyalty_percent=(
            None if r["loyalty_percent"] is None else plain_percent(Decimal(r["loyalty_percent"]))
        ),
        loyalty_discount=(
            None
            if r["loyalty_discount_amount"] is None
            else Money(r["loyalty_discount_amount"], currency)
        ),
        archived_at=r["archived_at"],
        trip_id=r["trip_id"],
    )


def dump_booking_item(x: BookingItem) -> Row:
    """The ``booking_items`` row of ``x``."""
    return {
        "id": x.id,
        "booking_id": x.booking_id,
        "item_type": x.kind.value,
        "product_id": x.product_id,
        "supplier_id": x.supplier_id,
        "description": x.description,
        "quantity": x.quantity,
        "unit_price_amount": x.unit_price.amount,
        "total_amount": x.total.amount,
        "currency": x.currency,
        "service_starts_on": x.service_starts_on,
        "service_ends_on": x.service_ends_on,
        "status": x.status.value,
        "supplier_reference": x.supplier_reference,
        "metadata": json_copy(x.metadata),
        "created_at": x.created_at,
        "updated_at": x.updated_at,
        "version": x.version,
        "booking_currency": x.booking_currency,
        "exchange_rate": x.exchange_rate,
        "rejection_reason": x.rejection_reason,
    }


def load_booking_item(r: Stored, _: Sequence[Stored]) -> BookingItem:
    """The line item stored in ``r``."""
    return BookingItem(
        id=r["id"],
        booking_id=r["booking_id"],
        kind=BookingItemKind(r["item_type"]),
        description=r["description"],
        quantity=r["quantity"],
        unit_price=Money(r["unit_price_amount"], r["currency"]),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        product_id=r["product_id"],
        supplier_id=r["supplier_id"],
        service_starts_on=r["service_starts_on"],
        service_ends_on=r["service_ends_on"],
        status=BookingItemStatus(r["status"]),
        supplier_reference=r["supplier_reference"],
        metadata=dict(r["metadata"]),
        version=r["version"],
        booking_currency=r["booking_currency"],
        exchange_rate=Decimal(1) if r["exchange_rate"] is None else r["exchange_rate"],
        rejection_reason=r["rejection_reason"],
    )


BOOKINGS = Mapper[Booking](
    "booking",
    bookings,
    _dump_booking,
    _load_booking,
    versioned=True,
    child_table=booking_travelers,
    dump_children=_dump_booking_travelers,
    # A locked booking is about to change: invoices, documents and messages read its travelers.
    child_refers=(TRAVELERS, "traveler_id"),
)
BOOKING_ITEMS = Mapper[BookingItem](
    "bookingitem", booking_items, dump_booking_item, load_booking_item, versioned=True
)


# --------------------------------------------------------------------------- queries


def booking_where(
    query: BookingFilter, search: TextSearch
) -> tuple[list[ColumnElement[bool]], FromClause]:
    """:meth:`BookingFilter.matches` as SQL, and the tables to select bookings from.

    The text search also reads the booking's customer: ``customer_id IN (SELECT
    id FROM customers WHERE ...)``. PostgreSQL runs that sub-query once and
    checks each booking against its hashed result; a join with ``customers``
    looked up or hashed a customer for every booking read, three to four times
    slower when few bookings match.
    """
    b = bookings.c
    exact = (
        (b.customer_id, query.customer_id),
        (b.partner_id, query.partner_id),
        (b.location_id, query.location_id),
        (b.slot_id, query.slot_id),
        (b.product_id, query.product_id),
        (b.supplier_id, query.supplier_id),
        (b.assignee_id, query.assignee_id),
        (b.group_id, query.group_id),
    )
    found: list[ColumnElement[bool]] = [
        column == wanted for column, wanted in exact if wanted is not None
    ]
    found += one_of(b.status, query.statuses)
    found += one_of(b.source, query.sources)
    found += within(b.starts_at, query.starts_from, query.starts_before)
    found += within(b.created_at, query.created_from, query.created_before)
    archived = query.archived
    if archived is not None:
        found.append(b.archived_at.is_not(None) if archived else b.archived_at.is_(None))
    c = customers.c
    own = search.matches(query.text, (b.reference, b.external_id))
    people = search.matches(query.text, (c.name, c.email, c.phone))
    if own is not None and (people is None or query.text_without_customers):
        found.append(own)
    elif own is not None and people is not None:
        # The text reads customers only where the caller may read them.
        readable = [people]
        if query.text_customers_of is not None:
            readable.append(c.partner_id == query.text_customers_of)
        found.append(or_(b.customer_id.in_(select(c.id).where(*readable)), own))
    return found, bookings


# --------------------------------------------------------------------------- repositories


class BookingRepository(Repository[Booking]):
    """:class:`~bookingcore.ports.BookingRepository` in SQL."""

    def get(self, booking_id: BookingId) -> Booking | None:
        return self._get(booking_id)

    def _by(self, column: str, value: str) -> Booking | None:
        return self._unique(column, value, lambda b: getattr(b, column, None))

    def get_for_update(self, booking_id: BookingId) -> Booking | None:
        # Its location comes in the same query (unlocked): invoicing a payment reads it next.
        return self._session.lock(self._mapper, booking_id, parent=(LOCATIONS, "location_id"))

    def get_by_reference(self, reference: str) -> Booking | None:
        return self._by("reference", reference)

    def get_by_idempotency_key(self, key: str) -> Booking | None:
        return self._by("idempotency_key", key)

    def get_by_external_id(self, external_id: str) -> Booking | None:
        return self._by("external_id", external_id)

    def _find_by(self, column: str, values: Collection[str]) -> dict[str, Booking]:
        wanted = set(values)
        if not wanted:
            return {}
        found = self._session.select(
            self._mapper,
            [self._table.c[column].in_(sorted(wanted))],
            lambda b: getattr(b, column) in wanted,
            lambda b: getattr(b, column),
            order_by=[self._table.c[column]],
        )
        return {getattr(b, column): b for b in found if getattr(b, column) is not None}

    def find_by_ids(self, booking_ids: Collection[BookingId]) -> Mapping[BookingId, Booking]:
        ordered = sorted(set(booking_ids))
        found: dict[BookingId, Booking] = {}
        # A few thousand ids a statement: far below any driver's parameter limit.
        for start in range(0, len(ordered), IDS_PER_STATEMENT):
            found.update(self._get_many(ordered[start : start + IDS_PER_STATEMENT], lambda b: b.id))
        return found

    def find_by_external_ids(self, external_ids: Collection[str]) -> Mapping[str, Booking]:
        return self._find_by("external_id", external_ids)

    def find_by_idempotency_keys(self, keys: Collection[str]) -> Mapping[str, Booking]:
        return self._find_by("idempotency_key", keys)

    def count_by_assignee(self, statuses: Collection[str]) -> Mapping[StaffId, int]:
        """Bookings per assignee in ``statuses``: stored rows plus this unit's own view."""
        wanted = set(statuses)
        c = self._table.c
        tracked = self._session.tracked(self._mapper)
        counts: dict[StaffId, int] = defaultdict(int)
        if wanted:
            statement = (
                select(c.assignee_id, func.count())
                .where(c.assignee_id.is_not(None), c.status.in_(sorted(wanted)))
                .group_by(c.assignee_id)
            )
            if tracked:
                statement = statement.where(c.id.not_in(list(tracked)))
            for assignee, count in self._session.connection().execute(statement):
                counts[StaffId(assignee)] += count
        for booking in tracked.values():
            if booking.assignee_id is not None and booking.status in wanted:
                counts[booking.assignee_id] += 1
        return dict(counts)

    def list_for_customer_slot(self, customer_id: CustomerId, slot_id: SlotId) -> Sequence[Booking]:
        return self._oldest_with(customer_id=customer_id, slot_id=slot_id)

    def find_for_customer_slots(
        self, pairs: Collection[tuple[CustomerId, SlotId]]
    ) -> Mapping[tuple[CustomerId, SlotId], Sequence[Booking]]:
        ordered = list(set(pairs))
        found: dict[tuple[CustomerId, SlotId], list[Booking]] = defaultdict(list)
        for start in range(0, len(ordered), TUPLE_COUNTS[-1]):
            batch = ordered[start : start + TUPLE_COUNTS[-1]]
            asked = set(batch)
            for booking in self._session.select_tuples(
                self._mapper,
                ("customer_id", "slot_id"),
                batch,
                lambda b, asked=asked: (b.customer_id, b.slot_id) in asked,  # type: ignore[misc]
            ):
                found[(booking.customer_id, booking.slot_id)].append(booking)
        for bookings in found.values():
            bookings.sort(key=lambda b: (b.created_at, b.id.bytes))
        return dict(found)

    def list_to_archive(
        self,
        started_before: datetime,
        statuses: StatusSet,
        *,
        limit: int,
        after: Cursor | None = None,
    ) -> Sequence[Booking]:
        b = bookings.c

        def keep(booking: Booking) -> bool:
            return (
                booking.archived_at is None
                and booking.starts_at < started_before
                and statuses.holds(booking.lifecycle, booking.status)
                and (after is None or after.precedes(booking.starts_at, booking.id))
            )

        return self._oldest_first(
            [
                b.archived_at.is_(None),
                b.starts_at < started_before,
                in_statuses(statuses),
                *keyset_after_earliest(b.starts_at, b.id, after),
            ],
            keep,
            at="starts_at",
            limit=limit,
        )

    def list_by_start(
        self, query: BookingFilter, statuses: StatusSet, *, limit: int
    ) -> Sequence[Booking]:
        where, source = booking_where(query, self._session.search)
        matches = self._matcher(query)
        b = bookings.c

        def keep(booking: Booking) -> bool:
            return statuses.holds(booking.lifecycle, booking.status) and matches(booking)

        # (starts_at, id): the order of the index of live bookings (revision 0046).
        return self._session.select(
            self._mapper,
            [*where, in_statuses(statuses)],
            keep,
            lambda booking: (booking.starts_at, booking.id.bytes),
            order_by=[b.starts_at, b.id],
            limit=limit,
            source=source,
        )

    def list(self, query: BookingFilter, page: PageRequest) -> Page[Booking]:
        where, source = booking_where(query, self._session.search)
        return self._session.page(self._mapper, where, self._matcher(query), page, source)

    def _matcher(self, query: BookingFilter) -> Callable[[Booking], bool]:
        """``query.matches`` for the bookings this unit of work holds in memory, the
        customers its text search reads looked up once each."""
        customers: dict[UUID, Customer | None] = {}

        def customer(customer_id: CustomerId) -> Customer | None:
            if customer_id not in customers:
                customers[customer_id] = self._session.peek(CUSTOMERS, customer_id)
            return customers[customer_id]

        def keep(booking: Booking) -> bool:
            return query.matches(booking, customer(booking.customer_id) if query.text else None)

        return keep

    def sum_in(
        self,
        query: BookingFilter,
        by: Grouping,
        statuses: StatusSet,
        *,
        zone: ZoneInfo = UTC_ZONE,
    ) -> Sequence[GroupSums]:
        connection = self._session.connection()
        dialect = connection.dialect.name
        where, source = booking_where(query, self._session.search)
        b = bookings.c
        key = booking_group(by, dialect, zone).label("key")
        statement = (
            select(
                key,
                b.currency,
                func.count(),
                total(b.total_travelers),
                exact_sum(b.total_amount, dialect),
            )
            .select_from(source)
            .where(*where, in_statuses(statuses))
            .group_by(key, b.currency)
        )
        return [
            GroupSums(
                read_group(row[0], by), row[1], row[2], int(row[3]), read_sum(row[4], dialect)
            )
            for row in connection.execute(statement)
        ]

    def count_in(
        self,
        query: BookingFilter,
        by: Grouping,
        sets: Sequence[StatusSet],
        *,
        zone: ZoneInfo = UTC_ZONE,
    ) -> Sequence[GroupCounts]:
        connection = self._session.connection()
        where, source = booking_where(query, self._session.search)
        b = bookings.c
        key = booking_group(by, connection.dialect.name, zone).label("key")
        # Bookings counted per group and status first, then the few rows of that
        # classified: cheaper than testing each set on every booking, and with no
        # pairs (lifecycles that agree on their statuses) an index on the status and
        # the grouped column answers it alone, as a hand-written count would.
        paired = any(wanted.pairs for wanted in sets)
        grouped = [key, b.lifecycle, b.status] if paired else [key, b.status]
        per_status = (
            select(*grouped, func.count().label("bookings"))
            .select_from(source)
            .where(*where)
            .group_by(*grouped)
            .subquery()
        )
        c = per_status.c
        lifecycle = c.lifecycle if paired else None
        counts = [
            func.sum(c.bookings).filter(in_statuses(wanted, c.status, lifecycle)) for wanted in sets
        ]
        statement = select(
            c.key, func.sum(c.bookings), *(func.coalesce(count, ZERO) for count in counts)
        ).group_by(c.key)
        return [
            GroupCounts(read_group(row[0], by), int(row[1]), tuple(int(count) for count in row[2:]))
            for row in connection.execute(statement)
        ]

    def tally_customers(
        self, query: BookingFilter, *, statuses: StatusSet | None = None
    ) -> Sequence[CustomerTally]:
        connection = self._session.connection()
        dialect = connection.dialect.name
        where, source = _where_in(query, statuses, self._session.search)
        b = bookings.c
        per_customer = (
            select(
                b.currency.label("currency"),
                func.count().label("bookings"),
                func.sum(b.total_amount).label("amount")
                if dialect == "postgresql"
                else exact_sum(b.total_amount, dialect).label("amount"),
            )
            .select_from(source)
            .where(*where)
            .group_by(b.currency, b.customer_id)
            .subquery()
        )
        c = per_customer.c
        statement = select(
            c.currency,
            func.count(),
            func.count().filter(c.bookings >= literal_column(str(_REPEAT))),
            func.sum(c.bookings),
            func.sum(c.amount),
        ).group_by(c.currency)
        return [
            CustomerTally(row[0], row[1], int(row[2]), int(row[3]), read_sum(row[4] or 0, dialect))
            for row in connection.execute(statement)
        ]

    def count_customers_by_bookings(
        self, query: BookingFilter, *, statuses: StatusSet | None = None
    ) -> Sequence[FrequencyTally]:
        where, source = _where_in(query, statuses, self._session.search)
        b = bookings.c
        per_customer = (
            select(func.count().label("bookings"))
            .select_from(source)
            .where(*where)
            .group_by(b.customer_id)
            .subquery()
        )
        statement = select(per_customer.c.bookings, func.count()).group_by(per_customer.c.bookings)
        return [
            FrequencyTally(int(row[0]), int(row[1]))
            for row in self._session.connection().execute(statement)
        ]

    def tally_cohorts(
        self,
        query: BookingFilter,
        *,
        zone: ZoneInfo = UTC_ZONE,
        statuses: StatusSet | None = None,
    ) -> Sequence[CohortTally]:
        connection = self._session.connection()
        dialect = connection.dialect.name
        where, source = _where_in(query, statuses, self._session.search)
        b = bookings.c
        # Each (customer, month) once, the months the zone's, as the created_month
        # grouping's; a customer's cohort is the first of their months (one read of
        # the bookings: the local month of the first booking is the least month).
        month = local_period(b.created_at, "month", dialect, zone).label("month")
        active = (
            select(b.customer_id.label("customer_id"), month)
            .select_from(source)
            .where(*where)
            .group_by(b.customer_id, month)
            .cte("active_months")
        )
        a = active.c
        firsts = (
            select(a.customer_id, func.min(a.month).label("cohort"))
            .group_by(a.customer_id)
            .subquery()
        )
        f = firsts.c
        statement = (
            select(f.cohort, a.month, func.count())
            .select_from(active.join(firsts, a.customer_id == f.customer_id))
            .group_by(f.cohort, a.month)
        )
        return [
            CohortTally(_period_of(row[0]), _period_of(row[1]), int(row[2]))
            for row in connection.execute(statement)
        ]

    def tally_source_overlap(self, query: BookingFilter) -> SourceOverlapTally:
        connection = self._session.connection()
        where, source = booking_where(query, self._session.search)
        b = bookings.c
        # One statement over one grouping of the bookings: the customers of several
        # sources (the row without sources), then each pair of sources and its customers.
        sources = (
            select(b.customer_id.label("customer_id"), b.source.label("source"))
            .select_from(source)
            .where(*where)
            .group_by(b.customer_id, b.source)
            .cte("customer_sources")
        )
        several = select(null().label("first"), null().label("second"), func.count()).select_from(
            select(sources.c.customer_id)
            .group_by(sources.c.customer_id)
            .having(func.count() > literal_column("1"))
            .subquery()
        )
        one, other = sources.alias("one"), sources.alias("other")
        pairs = (
            select(one.c.source, other.c.source, func.count())
            .select_from(
                one.join(
                    other,
                    and_(one.c.customer_id == other.c.customer_id, one.c.source < other.c.source),
                )
            )
            .group_by(one.c.source, other.c.source)
        )
        customers = 0
        found = set()
        for first, second, count in connection.execute(union_all(several, pairs)):
            if first is None:
                customers = int(count)
                continue
            low, high = sorted((str(first), str(second)))  # Python's order, not the collation's
            found.add((low, high, int(count)))
        return SourceOverlapTally(customers, found)


#: Bookings that make a repeat customer.
_REPEAT = 2


def _where_in(
    query: BookingFilter, statuses: StatusSet | None, search: TextSearch
) -> tuple[list[ColumnElement[bool]], FromClause]:
    """:func:`booking_where`, and the bookings in ``statuses`` when given."""
    where, source = booking_where(query, search)
    if statuses is not None:
        where.append(in_statuses(statuses))
    return where, source


def booking_group(by: Grouping, dialect: str, zone: ZoneInfo = UTC_ZONE) -> ColumnElement[Any]:
    """The SQL expression a booking tally groups ``by``: the same key as ``group_key``
    (periods in ``zone``)."""
    b = bookings.c
    match by:
        case Grouping.NONE:
            return literal(None)
        case Grouping.SOURCE:
            return b.source
        case Grouping.PARTNER:
            return b.partner_id
        case Grouping.LOCATION:
            return b.location_id
        case Grouping.PRODUCT:
            return b.product_id
        case Grouping.ASSIGNEE:
            return b.assignee_id
        case Grouping.CREATED_DAY:
            return local_period(b.created_at, "day", dialect, zone)
        case Grouping.CREATED_MONTH:
            return local_period(b.created_at, "month", dialect, zone)
        case Grouping.STARTS_MONTH:
            return local_period(b.starts_at, "month", dialect, zone)


def in_statuses(
    statuses: StatusSet,
    status: ColumnElement[str] = bookings.c.status,
    lifecycle: ColumnElement[str] | None = bookings.c.lifecycle,
) -> ColumnElement[bool]:
    """A booking (or a row of bookings counted per status) is in ``statuses``, as SQL:
    its ``status`` alone for the set's names (``status IN (...)``), its ``lifecycle``
    and ``status`` for the pairs (``lifecycle`` may be None for a set of names only).

    The names are written into the SQL (``literal_execute``, quoted by the
    dialect) rather than bound, as the other constants of tally queries: the
    text, hence the prepared statement and its plan, is the same on every call.
    """
    return status_in(statuses, status, lifecycle)


def _period_of(value: object) -> date:
    found = read_period(value)
    if found is None:  # pragma: no cover - a booking always has a creation time
        msg = "a cohort tally read a month of NULL"
        raise ValueError(msg)
    return found


def read_group(value: object, by: Grouping) -> GroupKey:
    """A group key as the database gave it back, as ``group_key`` would give it."""
    if value is None:
        return None
    if by in (Grouping.CREATED_DAY, Grouping.CREATED_MONTH, Grouping.STARTS_MONTH):
        return read_period(value)
    if by is Grouping.SOURCE:
        return str(value)
    return value if isinstance(value, UUID) else UUID(str(value))


class BookingItemRepository(Repository[BookingItem]):
    """:class:`~bookingcore.ports.BookingItemRepository` in SQL."""

    def get(self, item_id: BookingItemId) -> BookingItem | None:
        return self._get(item_id)

    def list_for_booking(self, booking_id: BookingId) -> Sequence[BookingItem]:
        return self._oldest_with(booking_id=booking_id)

    def list_for_supplier(
        self,
        supplier_id: SupplierId,
        page: PageRequest,
        *,
        status: BookingItemStatus | None = None,
    ) -> Page[BookingItem]:
        c = self._table.c
        where = [c.supplier_id == supplier_id]
        if status is not None:
            where.append(c.status == status.value)
        return self._session.page(
            self._mapper,
            where,
            lambda i: i.supplier_id == supplier_id and (status is None or i.status is status),
            page,
        )

    def count_supplied_by_booking(
        self, statuses: Collection[BookingItemStatus]
    ) -> Mapping[BookingId, int]:
        wanted = set(statuses)
        if not wanted:
            return {}
        c = self._table.c
        return self._count_by(
            "booking_id",
            BookingId,
            [c.supplier_id.is_not(None), c.status.in_(sorted(s.value for s in wanted))],
            lambda item: item.supplier_id is not None and item.status in wanted,
        )
