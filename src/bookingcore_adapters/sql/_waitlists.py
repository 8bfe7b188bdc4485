"""Waiting lists and booking groups in SQL: tables, mapping and repositories."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ColumnElement,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql import Select

from bookingcore.domain.communications import (
    Channel,
)
from bookingcore.domain.groups import BookingGroup, BookingGroupStatus, normalise_group_reference
from bookingcore.domain.queries import (
    Page,
    PageRequest,
    fold_case,
)
from bookingcore.domain.tallies import WaitlistTally
from bookingcore.domain.values import (
    BookingGroupId,
    CustomerId,
    LocationId,
    ProductId,
    SlotId,
    WaitlistEntryId,
)
from bookingcore.domain.waitlist import (
    ACTIVE_WAITLIST_STATUSES,
    WaitlistEntry,
    WaitlistPriority,
    WaitlistStatus,
)
from bookingcore.errors import (
    ValidationError,
)
from bookingcore_adapters.sql._catalog import SLOTS, slots
from bookingcore_adapters.sql._mapper import (
    Mapper,
    Row,
    Stored,
)
from bookingcore_adapters.sql._queries import total, within
from bookingcore_adapters.sql._repository import Repository
from bookingcore_adapters.sql._schema import (
    ENUM,
    json_type,
    metadata,
    ref,
    when,
)

__all__ = [
    "BOOKING_GROUPS",
    "WAITLIST",
    "BookingGroupRepository",
    "WaitlistRepository",
    "booking_groups",
    "waiting_lists",
]


# --------------------------------------------------------------------------- tables


#: Seed 001's ``booking_groups``: corporate and group bookings under one reference.
#: ``bookings.group_id`` points here by value only: adding a foreign key to the
#: existing ``bookings`` table would mean rebuilding it on SQLite (see docs/sql.md).
booking_groups = Table(
    "booking_groups",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("group_reference", String(100), nullable=False, unique=True),
    ref("company_id", "customers.id", index=True),
    ref("organizer_id", "customers.id", nullable=False, index=True),
    Column("group_name", String(255)),
    Column("total_participants", Integer()),
    Column("status", ENUM, nullable=False, index=True),
    when("created_at"),
    when("updated_at"),
    Column("version", Integer(), nullable=False),
    CheckConstraint("total_participants >= 1", name="total_participants_positive"),
    Index(None, "created_at", "id"),
)


#: Seed 001's ``waiting_lists``, on slots: at most one active entry per customer and slot.
waiting_lists = Table(
    "waiting_lists",
    metadata,
    Column("id", Uuid(), primary_key=True),
    ref("slot_id", "slots.id", nullable=False),
    ref("customer_id", "customers.id", nullable=False),
    Column("seats", Integer(), nullable=False),
    Column("position", Integer(), nullable=False),
    Column("priority", ENUM, nullable=False),
    Column("preferred_contact_method", ENUM),
    Column("alternative_dates", json_type(), nullable=False),
    Column("status", ENUM, nullable=False),
    when("offered_at", nullable=True),
    when("offer_expires_at", nullable=True),
    ref("booking_id", "bookings.id", index=True),
    Column("notes", Text()),
    when("created_at"),
    when("updated_at"),
    Column("version", Integer(), nullable=False),
    # The slot an alternative-date offer holds seats on (by value only: adding a
    # foreign key to the existing table would mean rebuilding it on SQLite).
    Column("offered_slot_id", Uuid()),
    CheckConstraint("seats >= 1", name="seats_positive"),
    CheckConstraint("position >= 1", name="position_positive"),
    Index(None, "slot_id", "position"),
    Index(None, "status", "offer_expires_at"),
    # A customer's entries, newest first by (created_at, id), keyset-paged.
    Index(None, "customer_id", "created_at", "id"),
)
#: Who waits for a day: ``alternative_dates @> '["2026-06-05"]'`` answers from this GIN
#: index on PostgreSQL (on SQLite it is a plain index the json_each query does not use).
Index(
    "ix_waiting_lists_alternative_dates",
    waiting_lists.c.alternative_dates,
    postgresql_using="gin",
    postgresql_ops={"alternative_dates": "jsonb_path_ops"},
)
_ACTIVE_WAITLIST_ENTRY = waiting_lists.c.status.in_(["waiting", "offered"])
Index(
    "uq_waiting_lists_active_slot_id_customer_id",
    waiting_lists.c.slot_id,
    waiting_lists.c.customer_id,
    unique=True,
    postgresql_where=_ACTIVE_WAITLIST_ENTRY,
    sqlite_where=_ACTIVE_WAITLIST_ENTRY,
)


# --------------------------------------------------------------------------- mapping


_ACTIVE = sorted(status.value for status in ACTIVE_WAITLIST_STATUSES)


def dump_booking_group(g: BookingGroup) -> Row:
    """The ``booking_groups`` row of ``g``."""
    return {
        "id": g.id,
        "group_reference": g.group_reference,
        "company_id": g.company_id,
        "organizer_id": g.organizer_id,
        "group_name": g.group_name,
        "total_participants": g.total_participants,
        "status": g.status.value,
        "created_at": g.created_at,
        "updated_at": g.updated_at,
        "version": g.version,
    }


def load_booking_group(r: Stored, _: Sequence[Stored]) -> BookingGroup:
    """The group stored in ``r``."""
    return BookingGroup(
        id=r["id"],
        group_reference=r["group_reference"],
        organizer_id=r["organizer_id"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        company_id=r["company_id"],
        group_name=r["group_name"],
        total_participants=r["total_participants"],
        status=BookingGroupStatus(r["status"]),
        version=r["version"],
    )


def dump_waitlist_entry(w: WaitlistEntry) -> Row:
    """The ``waiting_lists`` row of ``w``."""
    contact = w.preferred_contact_method
    return {
        "id": w.id,
        "slot_id": w.slot_id,
        "customer_id": w.customer_id,
        "seats": w.seats,
        "position": w.position,
        "priority": w.priority.value,
        "preferred_contact_method": None if contact is None else contact.value,
        "alternative_dates": [day.isoformat() for day in w.alternative_dates],
        "status": w.status.value,
        "offered_at": w.offered_at,
        "offer_expires_at": w.offer_expires_at,
        "booking_id": w.booking_id,
        "notes": w.notes,
        "created_at": w.created_at,
        "updated_at": w.updated_at,
        "version": w.version,
        "offered_slot_id": w.offered_slot_id,
    }


def load_waitlist_entry(r: Stored, _: Sequence[Stored]) -> WaitlistEntry:
    """The waiting-list entry stored in ``r``."""
    contact = r["preferred_contact_method"]
    return WaitlistEntry(
        id=r["id"],
        slot_id=r["slot_id"],
        customer_id=r["customer_id"],
        seats=r["seats"],
        position=r["position"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        priority=WaitlistPriority(r["priority"]),
        preferred_contact_method=None if contact is None else Channel(contact),
        alternative_dates=tuple(date.fromisoformat(day) for day in r["alternative_dates"]),
        status=WaitlistStatus(r["status"]),
        offered_at=r["offered_at"],
        offer_expires_at=r["offer_expires_at"],
        booking_id=r["booking_id"],
        notes=r["notes"],
        offered_slot_id=r["offered_slot_id"],
        version=r["version"],
    )


def _lists_day(column: ColumnElement[Any], day: date, dialect: str) -> ColumnElement[bool]:
    """``column`` (a JSON array of ISO dates) holds ``day``: a JSONB containment on
    PostgreSQL (the GIN index answers it), ``json_each`` elsewhere."""
    text = day.isoformat()
    if dialect == "postgresql":
        return column.op("@>")(type_coerce([text], JSONB()))
    listed = func.json_each(column).table_valued("value")
    return exists(select(literal(1)).select_from(listed).where(listed.c.value == text))


def _lists_from(column: ColumnElement[Any], day: date, dialect: str) -> ColumnElement[bool]:
    """``column`` (a JSON array of ISO dates) holds a date on or after ``day`` (ISO
    dates compare as text)."""
    text = day.isoformat()
    if dialect == "postgresql":
        listed = func.jsonb_array_elements_text(column).table_valued("value")
    else:
        listed = func.json_each(column).table_valued("value")
    return exists(select(literal(1)).select_from(listed).where(listed.c.value >= text))


BOOKING_GROUPS = Mapper[BookingGroup](
    "bookinggroup", booking_groups, dump_booking_group, load_booking_group, versioned=True
)
WAITLIST = Mapper[WaitlistEntry](
    "waitlistentry", waiting_lists, dump_waitlist_entry, load_waitlist_entry, versioned=True
)


#: Waiting-list entries per status, without a filter (:meth:`WaitlistRepository.tally`
#: adds one): built once, as building the statement costs more than running it.
_WAITLIST_TALLY: Select[Any] = select(
    waiting_lists.c.status,
    func.count(),
    total(waiting_lists.c.seats),
    func.count(waiting_lists.c.offered_at),
).group_by(waiting_lists.c.status)


# --------------------------------------------------------------------------- repositories


class BookingGroupRepository(Repository[BookingGroup]):
    """:class:`~bookingcore.ports.BookingGroupRepository` in SQL."""

    def get(self, group_id: BookingGroupId) -> BookingGroup | None:
        return self._get(group_id)

    def get_for_update(self, group_id: BookingGroupId) -> BookingGroup | None:
        return self._lock(group_id)

    def get_by_reference(self, group_reference: str) -> BookingGroup | None:
        try:
            reference = normalise_group_reference(group_reference)
        except ValidationError:
            return None  # no group can hold a malformed reference
        return self._unique("group_reference", reference, lambda g: g.group_reference)

    def list(
        self,
        page: PageRequest,
        *,
        status: BookingGroupStatus | None = None,
        customer_id: CustomerId | None = None,
        search: str | None = None,
    ) -> Page[BookingGroup]:
        c = self._table.c
        where: list[ColumnElement[bool]] = []
        if status is not None:
            where.append(c.status == BookingGroupStatus(status).value)
        if customer_id is not None:
            where.append(or_(c.organizer_id == customer_id, c.company_id == customer_id))
        text = self._session.search.contains(search, (c.group_reference, c.group_name))
        if text is not None:
            where.append(text)

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

        return self._session.page(self._mapper, where, keep, page)


class WaitlistRepository(Repository[WaitlistEntry]):
    """:class:`~bookingcore.ports.WaitlistRepository` in SQL."""

    def get(self, entry_id: WaitlistEntryId) -> WaitlistEntry | None:
        return self._get(entry_id)

    def get_for_update(self, entry_id: WaitlistEntryId) -> WaitlistEntry | None:
        return self._lock(entry_id)

    def get_active(self, slot_id: SlotId, customer_id: CustomerId) -> WaitlistEntry | None:
        c = self._table.c
        return self._first(
            [c.slot_id == slot_id, c.customer_id == customer_id, c.status.in_(_ACTIVE)],
            lambda w: w.slot_id == slot_id and w.customer_id == customer_id and w.is_active,
        )

    def list_for_slot(
        self, slot_id: SlotId, *, active_only: bool = False
    ) -> Sequence[WaitlistEntry]:
        c = self._table.c
        where = [c.slot_id == slot_id]
        if active_only:
            where.append(c.status.in_(_ACTIVE))
        rank = case(
            {priority.value: priority.rank for priority in WaitlistPriority},
            value=c.priority,
            else_=len(WaitlistPriority),
        )
        return self._session.select(
            self._mapper,
            where,
            lambda w: w.slot_id == slot_id and (w.is_active or not active_only),
            lambda w: w.offer_key,
            order_by=[rank, c.position, c.created_at, c.id],
        )

    def list_for_customer(self, customer_id: CustomerId, page: PageRequest) -> Page[WaitlistEntry]:
        return self._page_with(page, customer_id=customer_id)

    def list_expired_offers(self, now: datetime, limit: int) -> Sequence[WaitlistEntry]:
        c = self._table.c
        return self._oldest_first(
            [c.status == WaitlistStatus.OFFERED.value, c.offer_expires_at <= now],
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
        c = self._table.c
        started = select(SLOTS.table.c.id).where(SLOTS.table.c.starts_at <= now)
        where = [c.status == WaitlistStatus.WAITING.value, c.slot_id.in_(started)]
        if waiting_from is not None:
            dialect = self._session.connection().dialect.name
            where.append(~_lists_from(c.alternative_dates, waiting_from, dialect))

        def keep(w: WaitlistEntry) -> bool:
            if w.status is not WaitlistStatus.WAITING:
                return False
            if waiting_from is not None and any(d >= waiting_from for d in w.alternative_dates):
                return False
            slot = self._session.peek(SLOTS, w.slot_id)
            return slot is not None and slot.starts_at <= now

        return self._oldest_first(where, keep, limit=limit)

    def list_waiting_for_day(
        self,
        product_id: ProductId,
        location_id: LocationId,
        day: date,
        *,
        other_than: SlotId,
    ) -> Sequence[WaitlistEntry]:
        c = self._table.c
        s = SLOTS.table.c
        alike = select(s.id).where(s.product_id == product_id, s.location_id == location_id)
        dialect = self._session.connection().dialect.name

        def keep(w: WaitlistEntry) -> bool:
            if w.status is not WaitlistStatus.WAITING or w.slot_id == other_than:
                return False
            if day not in w.alternative_dates:
                return False
            slot = self._session.peek(SLOTS, w.slot_id)
            return (
                slot is not None
                and slot.product_id == product_id
                and slot.location_id == location_id
            )

        return self._oldest_first(
            [
                c.status == WaitlistStatus.WAITING.value,
                c.slot_id != other_than,
                c.slot_id.in_(alike),
                _lists_day(c.alternative_dates, day, dialect),
            ],
            keep,
        )

    def list_offers_on(self, slot_id: SlotId, customer_id: CustomerId) -> Sequence[WaitlistEntry]:
        c = self._table.c
        # The customer's entries are few: the (customer_id, created_at, id) index finds them.
        held_on = or_(
            c.offered_slot_id == slot_id,
            and_(c.offered_slot_id.is_(None), c.slot_id == slot_id),
        )
        return self._oldest_first(
            [c.customer_id == customer_id, c.status == WaitlistStatus.OFFERED.value, held_on],
            lambda w: (
                w.customer_id == customer_id
                and w.status is WaitlistStatus.OFFERED
                and w.offer_slot_id == slot_id
            ),
        )

    def next_position(self, slot_id: SlotId) -> int:
        c = self._table.c
        tracked = self._session.tracked(self._mapper)
        mine = [w.position for w in tracked.values() if w.slot_id == slot_id]
        statement = select(func.max(c.position)).where(c.slot_id == slot_id)
        stored = self._session.connection().execute(statement).scalar()
        return max([*mine, stored or 0]) + 1

    def tally(
        self,
        created_from: datetime | None,
        created_before: datetime | None,
        location_id: LocationId | None = None,
    ) -> Sequence[WaitlistTally]:
        c = waiting_lists.c
        where = within(c.created_at, created_from, created_before)
        if location_id is not None:
            at_location = select(slots.c.id).where(slots.c.location_id == location_id)
            where.append(c.slot_id.in_(at_location))
        found: Sequence[Sequence[Any]]
        if where:
            found = self._session.connection().execute(_WAITLIST_TALLY.where(*where)).all()
        else:
            # Every entry: the statement built once, run as it was compiled the first time.
            found = self._session.fixed_rows(_WAITLIST_TALLY)
        return [WaitlistTally(str(row[0]), row[1], int(row[2]), row[3]) for row in found]
