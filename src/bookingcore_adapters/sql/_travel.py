"""The travel operating system in SQL: leads and quotations (every revision).

Tables, mapping and repositories together (revision 0012). A quotation's lines
are one JSON column: they are read and written with their revision, never apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    CheckConstraint,
    Column,
    ColumnElement,
    Date,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    select,
)

from bookingcore.domain.items import BookingItemKind
from bookingcore.domain.leads import OPEN_LEAD_STATUSES, Lead, LeadFilter, LeadSource, LeadStatus
from bookingcore.domain.queries import Page, PageRequest
from bookingcore.domain.quotations import Quotation, QuotationFilter, QuotationLine, QuotationStatus
from bookingcore.domain.tallies import LeadTally
from bookingcore.domain.trips import Itinerary, ItineraryDay, Trip
from bookingcore.domain.values import (
    BookingId,
    CustomerId,
    LeadId,
    Money,
    QuotationId,
    StaffId,
    TripId,
)
from bookingcore_adapters.sql._mapper import Mapper, Row, Stored, actor_columns, required_actor
from bookingcore_adapters.sql._queries import within
from bookingcore_adapters.sql._repository import Repository
from bookingcore_adapters.sql._schema import (
    CURRENCY,
    ENUM,
    json_type,
    metadata,
    money,
    ref,
    when,
)

__all__ = [
    "ITINERARIES",
    "LEADS",
    "QUOTATIONS",
    "TRIPS",
    "ItineraryRepository",
    "LeadRepository",
    "QuotationRepository",
    "TripRepository",
    "itineraries",
    "leads",
    "quotations",
    "trips",
]


# --------------------------------------------------------------------------- tables


#: Seed 003's ``leads``.
leads = Table(
    "leads",
    metadata,
    Column("id", Uuid(), primary_key=True),
    ref("customer_id", "customers.id", nullable=False),
    Column("source", ENUM, nullable=False),
    Column("status", ENUM, nullable=False),
    Column("destination", String()),
    Column("travel_starts_on", Date()),
    Column("travel_ends_on", Date()),
    Column("travelers", Integer()),
    Column("notes", Text()),
    Column("assignee_id", Uuid()),
    ref("partner_id", "partners.id"),
    Column("follow_up_on", Date()),
    Column("lost_reason", Text()),
    Column("idempotency_key", String(), unique=True),
    Column("request_fingerprint", String()),
    when("created_at"),
    when("updated_at"),
    Column("version", Integer(), nullable=False),
    # Lists are newest first by (created_at, id), keyset-paged: each filter the staff
    # and advisor lists use leads an index that also holds that order.
    Index(None, "created_at", "id"),
    Index(None, "customer_id", "created_at", "id"),
    Index(None, "assignee_id", "created_at", "id"),
    Index(None, "follow_up_on", "created_at", "id"),
)


#: Seed 003's ``quotations``: one row per revision, ``(reference, revision)`` unique.
quotations = Table(
    "quotations",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("reference", String(50), nullable=False),
    Column("revision", Integer(), nullable=False),
    ref("customer_id", "customers.id", nullable=False),
    ref("lead_id", "leads.id", index=True),
    ref("slot_id", "slots.id", nullable=False),
    Column("travelers", Integer(), nullable=False),
    money("seat_price_amount"),
    money("seats_total_amount"),
    Column("currency", CURRENCY, nullable=False),
    Column("lines", json_type(), nullable=False),
    Column("valid_until", Date(), nullable=False),
    Column("status", ENUM, nullable=False),
    Column("created_by_kind", ENUM, nullable=False),
    Column("created_by_id", String()),
    Column("notes", Text()),
    when("sent_at", nullable=True),
    when("decided_at", nullable=True),
    ref("booking_id", "bookings.id"),
    Column("rejection_reason", Text()),
    Column("idempotency_key", String(), unique=True),
    Column("request_fingerprint", String()),
    when("created_at"),
    when("updated_at"),
    Column("version", Integer(), nullable=False),
    UniqueConstraint("reference", "revision"),
    # Newest first by (created_at, id), keyset-paged, for everyone and per customer.
    Index(None, "created_at", "id"),
    Index(None, "customer_id", "created_at", "id"),
    CheckConstraint("revision >= 1", name="revision_positive"),
)


#: Seed 003's ``trips``: the bookings of the journey as a JSON list of ids.
trips = Table(
    "trips",
    metadata,
    Column("id", Uuid(), primary_key=True),
    ref("customer_id", "customers.id", nullable=False),
    Column("name", String(), nullable=False),
    Column("starts_on", Date(), nullable=False),
    Column("ends_on", Date(), nullable=False),
    Column("booking_ids", json_type(), nullable=False),
    Column("notes", Text()),
    when("created_at"),
    when("updated_at"),
    Column("version", Integer(), nullable=False),
    # A customer's trips, newest first by (created_at, id), keyset-paged.
    Index(None, "customer_id", "created_at", "id"),
)


#: Seed 003's ``itineraries``: one plan per booking, its days as JSON.
itineraries = Table(
    "itineraries",
    metadata,
    Column("id", Uuid(), primary_key=True),
    ref("booking_id", "bookings.id", nullable=False, ondelete="CASCADE"),
    Column("days", json_type(), nullable=False),
    when("created_at"),
    when("updated_at"),
    Column("version", Integer(), nullable=False),
    UniqueConstraint("booking_id"),
)


# --------------------------------------------------------------------------- mapping


def _dump_lead(x: Lead) -> Row:
    return {
        "id": x.id,
        "customer_id": x.customer_id,
        "source": x.source.value,
        "status": x.status.value,
        "destination": x.destination,
        "travel_starts_on": x.travel_starts_on,
        "travel_ends_on": x.travel_ends_on,
        "travelers": x.travelers,
        "notes": x.notes,
        "assignee_id": x.assignee_id,
        "partner_id": x.partner_id,
        "follow_up_on": x.follow_up_on,
        "lost_reason": x.lost_reason,
        "idempotency_key": x.idempotency_key,
        "request_fingerprint": x.request_fingerprint,
        "created_at": x.created_at,
        "updated_at": x.updated_at,
        "version": x.version,
    }


def _load_lead(r: Stored, _: Sequence[Stored]) -> Lead:
    return Lead(
        id=r["id"],
        customer_id=r["customer_id"],
        source=LeadSource(r["source"]),
        status=LeadStatus(r["status"]),
        destination=r["destination"],
        travel_starts_on=r["travel_starts_on"],
        travel_ends_on=r["travel_ends_on"],
        travelers=r["travelers"],
        notes=r["notes"],
        assignee_id=r["assignee_id"],
        partner_id=r["partner_id"],
        follow_up_on=r["follow_up_on"],
        lost_reason=r["lost_reason"],
        idempotency_key=r["idempotency_key"],
        request_fingerprint=r["request_fingerprint"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        version=r["version"],
    )


def _follow_up_rank(lead: Lead) -> int:
    """A lead's place in the follow-ups list, before ``(created_at, id)``: its date's ordinal."""
    assert lead.follow_up_on is not None
    return lead.follow_up_on.toordinal()


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _dump_line(line: QuotationLine) -> dict[str, Any]:
    return {
        "kind": line.kind.value,
        "description": line.description,
        "quantity": line.quantity,
        "unit_price": str(line.unit_price.amount),
        "currency": line.unit_price.currency,
        "supplier_id": None if line.supplier_id is None else str(line.supplier_id),
        "product_id": None if line.product_id is None else str(line.product_id),
        "service_starts_on": _day(line.service_starts_on),
        "service_ends_on": _day(line.service_ends_on),
        "exchange_rate": str(line.exchange_rate),
    }


def _load_line(data: Mapping[str, Any]) -> QuotationLine:
    def day(value: str | None) -> date | None:
        return None if value is None else date.fromisoformat(value)

    def ident(value: str | None) -> Any:
        return None if value is None else UUID(value)

    return QuotationLine(
        kind=BookingItemKind(data["kind"]),
        description=data["description"],
        quantity=data["quantity"],
        unit_price=Money(Decimal(data["unit_price"]), data["currency"]),
        supplier_id=ident(data["supplier_id"]),
        product_id=ident(data["product_id"]),
        service_starts_on=day(data["service_starts_on"]),
        service_ends_on=day(data["service_ends_on"]),
        exchange_rate=Decimal(data["exchange_rate"]),
    )


def _dump_quotation(x: Quotation) -> Row:
    return {
        "id": x.id,
        "reference": x.reference,
        "revision": x.revision,
        "customer_id": x.customer_id,
        "lead_id": x.lead_id,
        "slot_id": x.slot_id,
        "travelers": x.travelers,
        "seat_price_amount": x.seat_price.amount,
        "seats_total_amount": x.seats_total.amount,
        "currency": x.currency,
        "lines": [_dump_line(line) for line in x.lines],
        "valid_until": x.valid_until,
        "status": x.status.value,
        **actor_columns("created_by_kind", "created_by_id", x.created_by),
        "notes": x.notes,
        "sent_at": x.sent_at,
        "decided_at": x.decided_at,
        "booking_id": x.booking_id,
        "rejection_reason": x.rejection_reason,
        "idempotency_key": x.idempotency_key,
        "request_fingerprint": x.request_fingerprint,
        "created_at": x.created_at,
        "updated_at": x.updated_at,
        "version": x.version,
    }


def _load_quotation(r: Stored, _: Sequence[Stored]) -> Quotation:
    currency = r["currency"]
    return Quotation(
        id=r["id"],
        reference=r["reference"],
        revision=r["revision"],
        customer_id=r["customer_id"],
        lead_id=r["lead_id"],
        slot_id=r["slot_id"],
        travelers=r["travelers"],
        seat_price=Money(r["seat_price_amount"], currency),
        seats_total=Money(r["seats_total_amount"], currency),
        lines=tuple(_load_line(line) for line in r["lines"]),
        valid_until=r["valid_until"],
        status=QuotationStatus(r["status"]),
        created_by=required_actor(r, "created_by_kind", "created_by_id"),
        notes=r["notes"],
        sent_at=r["sent_at"],
        decided_at=r["decided_at"],
        booking_id=r["booking_id"],
        rejection_reason=r["rejection_reason"],
        idempotency_key=r["idempotency_key"],
        request_fingerprint=r["request_fingerprint"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        version=r["version"],
    )


def _dump_trip(x: Trip) -> Row:
    return {
        "id": x.id,
        "customer_id": x.customer_id,
        "name": x.name,
        "starts_on": x.starts_on,
        "ends_on": x.ends_on,
        "booking_ids": [str(b) for b in x.booking_ids],
        "notes": x.notes,
        "created_at": x.created_at,
        "updated_at": x.updated_at,
        "version": x.version,
    }


def _load_trip(r: Stored, _: Sequence[Stored]) -> Trip:
    return Trip(
        id=r["id"],
        customer_id=r["customer_id"],
        name=r["name"],
        starts_on=r["starts_on"],
        ends_on=r["ends_on"],
        booking_ids=tuple(BookingId(UUID(b)) for b in r["booking_ids"]),
        notes=r["notes"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        version=r["version"],
    )


def _dump_itinerary(x: Itinerary) -> Row:
    return {
        "id": x.id,
        "booking_id": x.booking_id,
        "days": [
            {
                "day": d.day.isoformat(),
                "title": d.title,
                "entries": list(d.entries),
                "notes": d.notes,
            }
            for d in x.days
        ],
        "created_at": x.created_at,
        "updated_at": x.updated_at,
        "version": x.version,
    }


def _load_itinerary(r: Stored, _: Sequence[Stored]) -> Itinerary:
    return Itinerary(
        id=r["id"],
        booking_id=r["booking_id"],
        days=tuple(
            ItineraryDay(
                day=date.fromisoformat(d["day"]),
                title=d["title"],
                entries=tuple(d["entries"]),
                notes=d["notes"],
            )
            for d in r["days"]
        ),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        version=r["version"],
    )


LEADS = Mapper[Lead]("lead", leads, _dump_lead, _load_lead, versioned=True)
TRIPS = Mapper[Trip]("trip", trips, _dump_trip, _load_trip, versioned=True)
ITINERARIES = Mapper[Itinerary](
    "itinerary", itineraries, _dump_itinerary, _load_itinerary, versioned=True
)
QUOTATIONS = Mapper[Quotation](
    "quotation", quotations, _dump_quotation, _load_quotation, versioned=True
)


# --------------------------------------------------------------------------- repositories


class LeadRepository(Repository[Lead]):
    """:class:`~bookingcore.ports.LeadRepository` in SQL."""

    def get(self, lead_id: LeadId) -> Lead | None:
        return self._get(lead_id)

    def get_by_idempotency_key(self, key: str) -> Lead | None:
        return self._unique("idempotency_key", key, lambda x: x.idempotency_key)

    def _where(self, query: LeadFilter) -> list[ColumnElement[bool]]:
        c = self._table.c
        where: list[ColumnElement[bool]] = []
        if query.status is not None:
            where.append(c.status == query.status.value)
        if query.assignee_id is not None:
            where.append(c.assignee_id == query.assignee_id)
        if query.customer_id is not None:
            where.append(c.customer_id == query.customer_id)
        if query.partner_id is not None:
            where.append(c.partner_id == query.partner_id)
        if query.assigned is not None:
            assigned = c.assignee_id.is_not(None)
            where.append(assigned if query.assigned else c.assignee_id.is_(None))
        if query.follow_up_due_on is not None:
            where.append(c.status.in_(sorted(status.value for status in OPEN_LEAD_STATUSES)))
            where.append(c.follow_up_on <= query.follow_up_due_on)
        return where

    def list(self, query: LeadFilter, page: PageRequest) -> Page[Lead]:
        return self._session.page(self._mapper, self._where(query), query.matches, page)

    def count(self, query: LeadFilter) -> int:
        return sum(self.count_by_status(query).values())

    def count_by_status(self, query: LeadFilter) -> Mapping[LeadStatus, int]:
        return self._count_by("status", LeadStatus, self._where(query), query.matches)

    def tally_by_source(
        self, created_from: datetime | None, created_before: datetime | None
    ) -> Sequence[LeadTally]:
        c = self._table.c
        statement = (
            select(c.source, c.status, func.count())
            .where(*within(c.created_at, created_from, created_before))
            .group_by(c.source, c.status)
        )
        return [
            LeadTally(str(source), str(status), int(leads))
            for source, status, leads in self._session.connection().execute(statement)
        ]

    def list_by_follow_up(self, query: LeadFilter, page: PageRequest) -> Page[Lead]:
        c = self._table.c
        return self._session.ranked_page(
            self._mapper,
            [*self._where(query), c.follow_up_on.is_not(None)],
            lambda lead: lead.follow_up_on is not None and query.matches(lead),
            page,
            ("follow_up_on", _follow_up_rank, date.fromordinal),
        )

    def count_open_by_assignee(self) -> Mapping[StaffId, int]:
        c = self._table.c
        wanted = sorted(status.value for status in OPEN_LEAD_STATUSES)
        return self._count_by(
            "assignee_id",
            StaffId,
            [c.assignee_id.is_not(None), c.status.in_(wanted)],
            lambda lead: lead.assignee_id is not None and lead.status in OPEN_LEAD_STATUSES,
        )


class QuotationRepository(Repository[Quotation]):
    """:class:`~bookingcore.ports.QuotationRepository` in SQL."""

    def get(self, quotation_id: QuotationId) -> Quotation | None:
        return self._get(quotation_id)

    def get_by_idempotency_key(self, key: str) -> Quotation | None:
        return self._unique("idempotency_key", key, lambda x: x.idempotency_key)

    def list_revisions(self, reference: str) -> Sequence[Quotation]:
        return self._session.select_equal(
            self._mapper, {"reference": reference}, lambda q: (q.revision, q.id.bytes)
        )

    def list(self, query: QuotationFilter, page: PageRequest) -> Page[Quotation]:
        c = self._table.c
        where: list[ColumnElement[bool]] = []
        if query.status is not None:
            where.append(c.status == query.status.value)
        if query.customer_id is not None:
            where.append(c.customer_id == query.customer_id)
        if query.sent_only:
            where.append(c.sent_at.is_not(None))
        if query.lead_id is not None:
            where.append(c.lead_id == query.lead_id)
        if query.valid_on is not None:
            where.append(c.valid_until >= query.valid_on)
        if query.expired_on is not None:
            where.append(c.valid_until < query.expired_on)
        return self._session.page(self._mapper, where, query.matches, page)


class TripRepository(Repository[Trip]):
    """:class:`~bookingcore.ports.TripRepository` in SQL."""

    def get(self, trip_id: TripId) -> Trip | None:
        return self._get(trip_id)

    def list_for_customer(self, customer_id: CustomerId, page: PageRequest) -> Page[Trip]:
        return self._page_with(page, customer_id=customer_id)


class ItineraryRepository(Repository[Itinerary]):
    """:class:`~bookingcore.ports.ItineraryRepository` in SQL."""

    def get(self, itinerary_id: UUID) -> Itinerary | None:
        return self._get(itinerary_id)

    def get_for_booking(self, booking_id: BookingId) -> Itinerary | None:
        return self._unique("booking_id", booking_id, lambda i: i.booking_id)
