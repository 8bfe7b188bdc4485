"""The pydantic models of a travel agency's routes: leads, quotations, the catalogue's
suppliers and products, booking items, documents and the staff dashboard.

Same conventions as :mod:`examples.api.schemas`: shapes here, rules in the library.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from bookingcore import (
    CancellationPolicy,
    CustomerId,
    PartnerId,
    ProductId,
    ProductRequirements,
    RefundTier,
    SlotId,
    SupplierId,
)
from bookingcore.domain import (
    BookingItem,
    Document,
    Itinerary,
    ItineraryDay,
    Lead,
    LeadId,
    Product,
    Quotation,
    QuotationLine,
    Supplier,
    Trip,
)
from bookingcore.services import LeadRequest, QuotationRequest, QuoteLine, StaffDashboard
from examples.api.schemas import BookingOut, BookingTravelerIn, MoneyIn, MoneyOut, StrictIn

__all__ = [
    "BookingItemOut",
    "DashboardOut",
    "DocumentOut",
    "DocumentRequestIn",
    "FollowUpIn",
    "ItemRejectIn",
    "ItineraryDayIn",
    "ItineraryDayOut",
    "ItineraryOut",
    "LeadAssignIn",
    "LeadConvertIn",
    "LeadIn",
    "LeadMoveIn",
    "LeadOut",
    "ProductIn",
    "ProductOut",
    "ProductUpdateIn",
    "QuotationApproveIn",
    "QuotationIn",
    "QuotationLineOut",
    "QuotationOut",
    "QuotationReviseIn",
    "QuoteLineIn",
    "SupplierIn",
    "SupplierOut",
    "SupplierUpdateIn",
    "TripIn",
    "TripOut",
]


# ---------------------------------------------------------------------- leads


class LeadIn(StrictIn):
    """An enquiry: who asks (phone and/or email), from where, for what."""

    source: str = Field(default="phone", max_length=32, examples=["web_form", "phone"])
    phone: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=320)
    name: str | None = Field(default=None, max_length=200)
    destination: str | None = Field(default=None, max_length=200)
    travel_starts_on: date | None = None
    travel_ends_on: date | None = None
    travelers: int | None = Field(default=None, ge=1, le=10_000)
    notes: str | None = Field(default=None, max_length=2000)
    follow_up_on: date | None = None
    assign: str | None = Field(
        default=None,
        max_length=64,
        description="An active advisor's staff id, round_robin or least_loaded",
    )

    def to_request(self) -> LeadRequest:
        """The library's :class:`~bookingcore.services.LeadRequest`."""
        return LeadRequest(
            source=self.source,
            phone=self.phone,
            email=self.email,
            name=self.name,
            destination=self.destination,
            travel_starts_on=self.travel_starts_on,
            travel_ends_on=self.travel_ends_on,
            travelers=self.travelers,
            notes=self.notes,
            follow_up_on=self.follow_up_on,
        )


class LeadMoveIn(StrictIn):
    """The status to move a lead to (``contacted``, ``qualified``, ``lost`` ...)."""

    status: str = Field(max_length=32)
    reason: str | None = Field(default=None, max_length=500)


class LeadAssignIn(StrictIn):
    """Who works the lead: an active advisor's staff id, ``round_robin`` or
    ``least_loaded``; ``null`` or ``manual`` takes it from whoever had it."""

    assign: str | None = Field(max_length=64, examples=["round_robin", "least_loaded"])


class FollowUpIn(StrictIn):
    """The date of the next call (``null``: none planned)."""

    follow_up_on: date | None


class LeadOut(BaseModel):
    """An enquiry and where it stands."""

    id: UUID
    customer_id: UUID
    source: str
    status: str
    destination: str | None
    travel_starts_on: date | None
    travel_ends_on: date | None
    travelers: int | None
    notes: str | None
    assignee_id: UUID | None
    partner_id: UUID | None
    follow_up_on: date | None
    lost_reason: str | None
    created_at: datetime
    version: int

    @classmethod
    def of(cls, lead: Lead) -> LeadOut:
        """The fields of ``lead``."""
        return cls(
            id=lead.id,
            customer_id=lead.customer_id,
            source=lead.source.value,
            status=lead.status.value,
            destination=lead.destination,
            travel_starts_on=lead.travel_starts_on,
            travel_ends_on=lead.travel_ends_on,
            travelers=lead.travelers,
            notes=lead.notes,
            assignee_id=lead.assignee_id,
            partner_id=lead.partner_id,
            follow_up_on=lead.follow_up_on,
            lost_reason=lead.lost_reason,
            created_at=lead.created_at,
            version=lead.version,
        )


# ---------------------------------------------------------------------- quotations


class QuoteLineIn(StrictIn):
    """A hotel, flight, activity or ground service on a quotation."""

    kind: str = Field(max_length=32, examples=["hotel", "flight", "activity"])
    description: str = Field(min_length=1, max_length=500)
    quantity: int = Field(ge=1, le=10_000)
    unit_price: MoneyIn
    supplier_id: UUID | None = None
    product_id: UUID | None = None
    service_starts_on: date | None = None
    service_ends_on: date | None = None

    def to_line(self) -> QuoteLine:
        """The library's :class:`~bookingcore.services.QuoteLine`."""
        return QuoteLine(
            kind=self.kind,
            description=self.description,
            quantity=self.quantity,
            unit_price=self.unit_price.to_money(),
            supplier_id=None if self.supplier_id is None else SupplierId(self.supplier_id),
            product_id=None if self.product_id is None else ProductId(self.product_id),
            service_starts_on=self.service_starts_on,
            service_ends_on=self.service_ends_on,
        )


class QuotationIn(StrictIn):
    """The first revision of a quotation, for a customer and a departure."""

    customer_id: UUID
    slot_id: UUID
    travelers: int = Field(ge=1, le=10_000)
    valid_until: date
    lines: list[QuoteLineIn] = Field(default_factory=list, max_length=100)
    seat_price: MoneyIn | None = None
    lead_id: UUID | None = None
    notes: str | None = Field(default=None, max_length=2000)

    def to_request(self) -> QuotationRequest:
        """The library's :class:`~bookingcore.services.QuotationRequest`."""
        return QuotationRequest(
            customer_id=CustomerId(self.customer_id),
            slot_id=SlotId(self.slot_id),
            travelers=self.travelers,
            valid_until=self.valid_until,
            lines=tuple(line.to_line() for line in self.lines),
            seat_price=None if self.seat_price is None else self.seat_price.to_money(),
            lead_id=None if self.lead_id is None else LeadId(self.lead_id),
            notes=self.notes,
        )


class QuotationReviseIn(StrictIn):
    """What the next revision changes; fields left out are kept."""

    lines: list[QuoteLineIn] | None = Field(default=None, max_length=100)
    travelers: int | None = Field(default=None, ge=1, le=10_000)
    valid_until: date | None = None
    seat_price: MoneyIn | None = None
    slot_id: UUID | None = None
    notes: str | None = Field(default=None, max_length=2000)


class LeadConvertIn(StrictIn):
    """The quotation a lead becomes: its departure, validity and lines.

    ``travelers`` left out is the party size the lead gave.
    """

    slot_id: UUID
    valid_until: date
    travelers: int | None = Field(default=None, ge=1, le=10_000)
    lines: list[QuoteLineIn] = Field(default_factory=list, max_length=100)
    seat_price: MoneyIn | None = None
    notes: str | None = Field(default=None, max_length=2000)


class QuotationApproveIn(StrictIn):
    """The travelers the approved quotation books."""

    travelers: list[BookingTravelerIn] = Field(min_length=1, max_length=200)


class QuotationRejectIn(StrictIn):
    """Why the customer turns the revision down."""

    reason: str | None = Field(default=None, max_length=500)


class QuotationLineOut(BaseModel):
    """One line of a quotation, at the exchange rate recorded on it."""

    kind: str
    description: str
    quantity: int
    unit_price: MoneyOut
    total: MoneyOut
    supplier_id: UUID | None
    product_id: UUID | None
    service_starts_on: date | None
    service_ends_on: date | None
    exchange_rate: Decimal

    @classmethod
    def of(cls, line: QuotationLine) -> QuotationLineOut:
        """The fields of ``line``."""
        return cls(
            kind=line.kind.value,
            description=line.description,
            quantity=line.quantity,
            unit_price=MoneyOut.of(line.unit_price),
            total=MoneyOut.of(line.total),
            supplier_id=line.supplier_id,
            product_id=line.product_id,
            service_starts_on=line.service_starts_on,
            service_ends_on=line.service_ends_on,
            exchange_rate=line.exchange_rate,
        )


class QuotationOut(BaseModel):
    """One revision of a quotation: seats, lines, totals and status."""

    id: UUID
    reference: str
    revision: int
    customer_id: UUID
    slot_id: UUID
    travelers: int
    seat_price: MoneyOut
    seats_total: MoneyOut
    lines: list[QuotationLineOut]
    total: MoneyOut
    valid_until: date
    status: str
    lead_id: UUID | None
    notes: str | None
    sent_at: datetime | None
    decided_at: datetime | None
    booking_id: UUID | None
    rejection_reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, quotation: Quotation) -> QuotationOut:
        """The fields of ``quotation``."""
        return cls(
            id=quotation.id,
            reference=quotation.reference,
            revision=quotation.revision,
            customer_id=quotation.customer_id,
            slot_id=quotation.slot_id,
            travelers=quotation.travelers,
            seat_price=MoneyOut.of(quotation.seat_price),
            seats_total=MoneyOut.of(quotation.seats_total),
            lines=[QuotationLineOut.of(line) for line in quotation.lines],
            total=MoneyOut.of(quotation.total),
            valid_until=quotation.valid_until,
            status=quotation.status.value,
            lead_id=quotation.lead_id,
            notes=quotation.notes,
            sent_at=quotation.sent_at,
            decided_at=quotation.decided_at,
            booking_id=quotation.booking_id,
            rejection_reason=quotation.rejection_reason,
            created_at=quotation.created_at,
        )


# ---------------------------------------------------------------------- catalogue


class SupplierIn(StrictIn):
    """A supplier (hotel, airline, ground agent) under a unique code."""

    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)


class SupplierUpdateIn(StrictIn):
    """What changes on a supplier; fields left out (or ``null``) stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)


class SupplierOut(BaseModel):
    """A supplier."""

    id: UUID
    code: str
    name: str
    email: str | None
    phone: str | None
    is_active: bool

    @classmethod
    def of(cls, supplier: Supplier) -> SupplierOut:
        """The fields of ``supplier``."""
        return cls(
            id=supplier.id,
            code=supplier.code,
            name=supplier.name,
            email=None if supplier.email is None else str(supplier.email),
            phone=None if supplier.phone is None else str(supplier.phone),
            is_active=supplier.is_active,
        )


class ProductIn(StrictIn):
    """A product (a hotel room, an activity, a trek) under a unique code."""

    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(max_length=32)
    supplier_id: UUID | None = None
    description: str | None = Field(default=None, max_length=2000)
    location_id: UUID | None = None


class ProductUpdateIn(StrictIn):
    """What changes on a product; fields left out (or ``null``) stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: str | None = Field(default=None, max_length=32)
    supplier_id: UUID | None = None
    description: str | None = Field(default=None, max_length=2000)
    location_id: UUID | None = None


#: The longest notice or online deadline a policy over HTTP names: five years, in hours.
_MAX_HOURS = 5 * 366 * 24


class RefundTierIn(StrictIn):
    """``refund_percent`` of what was paid goes back with at least ``notice_hours`` left."""

    notice_hours: int = Field(ge=0, le=_MAX_HOURS, description="Hours before the start")
    refund_percent: Decimal = Field(
        ge=0, le=100, max_digits=6, decimal_places=3, description="Percent, 0 to 100"
    )


class CancellationPolicyIn(StrictIn):
    """A product's cancellation terms: until when customers and partners cancel online
    (``self_service_until_hours`` before the start) and what goes back, by notice.
    A longer notice must give back more (422 on ``refund_tiers`` otherwise)."""

    self_service_until_hours: int = Field(default=0, ge=0, le=_MAX_HOURS)
    refund_tiers: list[RefundTierIn] = Field(default_factory=list, max_length=20)

    def to_policy(self) -> CancellationPolicy:
        """The library's policy.

        Raises:
            ValidationError: on ``refund_tiers`` for tiers the library refuses
                (two with one notice, a percent that does not fall as the notice shrinks).
        """
        return CancellationPolicy(
            self_service_until=timedelta(hours=self.self_service_until_hours),
            refund_tiers=[
                RefundTier(timedelta(hours=t.notice_hours), t.refund_percent)
                for t in self.refund_tiers
            ],
        )


def _hours(value: timedelta) -> int | float:
    hours = value / timedelta(hours=1)
    return int(hours) if hours.is_integer() else hours


class RefundTierOut(BaseModel):
    """One refund tier, longest notice first."""

    notice_hours: int | float
    refund_percent: Decimal


class CancellationPolicyOut(BaseModel):
    """A product's own cancellation terms (what ``PUT .../cancellation-policy`` set)."""

    self_service_until_hours: int | float
    refund_tiers: list[RefundTierOut]

    @classmethod
    def of(cls, policy: CancellationPolicy) -> CancellationPolicyOut:
        """The fields of ``policy``."""
        return cls(
            self_service_until_hours=_hours(policy.self_service_until),
            refund_tiers=[
                RefundTierOut(notice_hours=_hours(t.notice), refund_percent=t.refund_percent)
                for t in policy.refund_tiers
            ],
        )


class ProductRequirementsIn(StrictIn):
    """Who may be booked on a product: ages in whole years on the slot's start day
    (both limits inclusive), and the certificate kinds a traveler must hold, ``all``
    of them or ``any`` one. ``max_age`` below ``min_age``, or a kind listed twice,
    answers 422 on the field."""

    min_age: int | None = Field(default=None, ge=0, le=130)
    max_age: int | None = Field(default=None, ge=0, le=130)
    certificates: list[str] = Field(default_factory=list, max_length=20)
    certificates_rule: Literal["all", "any"] = "all"

    def to_requirements(self) -> ProductRequirements:
        """The library's requirements.

        Raises:
            ValidationError: on ``max_age`` or ``certificates[i]`` for what the library refuses.
        """
        return ProductRequirements(
            min_age=self.min_age,
            max_age=self.max_age,
            certificates=self.certificates,
            certificates_rule=self.certificates_rule,
        )


class ProductRequirementsOut(BaseModel):
    """A product's requirements (what ``PUT .../requirements`` set)."""

    min_age: int | None
    max_age: int | None
    certificates: list[str]
    certificates_rule: str

    @classmethod
    def of(cls, rules: ProductRequirements) -> ProductRequirementsOut:
        """The fields of ``rules``."""
        return cls(
            min_age=rules.min_age,
            max_age=rules.max_age,
            certificates=list(rules.certificates),
            certificates_rule=rules.certificates_rule.value,
        )


class ProductOut(BaseModel):
    """A product of the catalogue; ``cancellation_policy`` is null when its bookings
    follow the operator's terms; ``requirements`` is null when anyone may be booked on it."""

    id: UUID
    code: str
    name: str
    kind: str
    supplier_id: UUID | None
    description: str | None
    location_id: UUID | None
    is_active: bool
    cancellation_policy: CancellationPolicyOut | None = None
    requirements: ProductRequirementsOut | None = None

    @classmethod
    def of(cls, product: Product) -> ProductOut:
        """The fields of ``product``."""
        return cls(
            id=product.id,
            code=product.code,
            name=product.name,
            kind=str(product.kind),
            supplier_id=product.supplier_id,
            description=product.description,
            location_id=product.location_id,
            is_active=product.is_active,
            cancellation_policy=(
                None
                if product.cancellation_policy is None
                else CancellationPolicyOut.of(product.cancellation_policy)
            ),
            requirements=(
                None
                if product.requirements is None
                else ProductRequirementsOut.of(product.requirements)
            ),
        )


# ---------------------------------------------------------------------- items, documents


class ItemConfirmIn(StrictIn):
    """The supplier's own reference for a confirmed item."""

    supplier_reference: str | None = Field(default=None, max_length=200)


class ItemRejectIn(StrictIn):
    """Why the supplier turns the item down (staff see it)."""

    reason: str = Field(min_length=1, max_length=500)


class BookingItemOut(BaseModel):
    """One supplier item of a booking and its confirmation status."""

    id: UUID
    booking_id: UUID
    kind: str
    description: str
    quantity: int
    unit_price: MoneyOut
    supplier_id: UUID | None
    product_id: UUID | None
    service_starts_on: date | None
    service_ends_on: date | None
    status: str
    supplier_reference: str | None

    @classmethod
    def of(cls, item: BookingItem) -> BookingItemOut:
        """The fields of ``item``."""
        return cls(
            id=item.id,
            booking_id=item.booking_id,
            kind=item.kind.value,
            description=item.description,
            quantity=item.quantity,
            unit_price=MoneyOut.of(item.unit_price),
            supplier_id=item.supplier_id,
            product_id=item.product_id,
            service_starts_on=item.service_starts_on,
            service_ends_on=item.service_ends_on,
            status=item.status.value,
            supplier_reference=item.supplier_reference,
        )


class DocumentRequestIn(StrictIn):
    """A travel desk's document request: a booking and the kind of document."""

    booking_id: UUID
    kind: str = Field(max_length=32, examples=["quotation", "voucher", "itinerary"])


class DocumentOut(BaseModel):
    """A generated document with its text."""

    id: UUID
    booking_id: UUID
    kind: str
    filename: str
    media_type: str
    content: str
    created_at: datetime
    generated_by: UUID | None = Field(
        default=None,
        description="The staff member who generated it; null for one an automation made",
    )

    @classmethod
    def of(cls, document: Document) -> DocumentOut:
        """The fields of ``document``."""
        return cls(
            id=document.id,
            booking_id=document.booking_id,
            kind=document.kind.value,
            filename=document.filename,
            media_type=document.media_type,
            content=document.content,
            created_at=document.created_at,
            generated_by=document.generated_by,
        )


# ---------------------------------------------------------------------- dashboard


class DashboardOut(BaseModel):
    """A travel desk's admin dashboard for one day."""

    day: date
    leads_by_status: dict[str, int]
    follow_ups_due: list[LeadOut]
    quotations_awaiting_approval: list[QuotationOut]
    bookings_waiting_for_supplier: list[BookingOut]
    departures: list[BookingOut]
    awaiting_payment: list[BookingOut]

    @classmethod
    def of(
        cls, board: StaffDashboard, partner_names: Mapping[PartnerId, str] | None = None
    ) -> DashboardOut:
        """The panels of ``board`` (the bookings' partners named from ``partner_names``)."""
        return cls(
            day=board.day,
            leads_by_status=dict(board.leads_by_status),
            follow_ups_due=[LeadOut.of(lead) for lead in board.follow_ups_due],
            quotations_awaiting_approval=[
                QuotationOut.of(q) for q in board.quotations_awaiting_approval
            ],
            bookings_waiting_for_supplier=[
                BookingOut.of(b, partner_names) for b, _ in board.bookings_waiting_for_supplier
            ],
            departures=[BookingOut.of(b, partner_names) for b in board.departures],
            awaiting_payment=[BookingOut.of(b, partner_names) for b in board.awaiting_payment],
        )


# ---------------------------------------------------------------------- itineraries


class ItineraryDayIn(StrictIn):
    """What staff write for one date of a booking's plan (it replaces what the date said)."""

    title: str = Field(min_length=1, max_length=200)
    entries: list[str] = Field(default_factory=list, max_length=50)
    notes: str | None = Field(default=None, max_length=2000)

    def to_day(self, day: date) -> ItineraryDay:
        """The library's :class:`~bookingcore.domain.ItineraryDay` for ``day``."""
        return ItineraryDay(day=day, title=self.title, entries=self.entries, notes=self.notes)


class ItineraryDayOut(BaseModel):
    """One day of a booking's plan."""

    day: date
    title: str
    entries: list[str]
    notes: str | None

    @classmethod
    def of(cls, day: ItineraryDay) -> ItineraryDayOut:
        """The fields of ``day``."""
        return cls(day=day.day, title=day.title, entries=list(day.entries), notes=day.notes)


class ItineraryOut(BaseModel):
    """A booking's day-by-day plan."""

    booking_id: UUID
    days: list[ItineraryDayOut]
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, itinerary: Itinerary) -> ItineraryOut:
        """The days of ``itinerary``."""
        return cls(
            booking_id=itinerary.booking_id,
            days=[ItineraryDayOut.of(d) for d in itinerary.days],
            updated_at=itinerary.updated_at,
            version=itinerary.version,
        )


# ---------------------------------------------------------------------- trips


class TripIn(StrictIn):
    """Several bookings of one customer grouped as a journey with dates."""

    customer_id: UUID
    name: str = Field(min_length=1, max_length=200)
    starts_on: date
    ends_on: date
    booking_ids: list[UUID] = Field(default_factory=list, max_length=100)
    notes: str | None = Field(default=None, max_length=5000)


class TripOut(BaseModel):
    """A customer's journey and the bookings on it."""

    id: UUID
    customer_id: UUID
    name: str
    starts_on: date
    ends_on: date
    booking_ids: list[UUID]
    notes: str | None
    created_at: datetime
    version: int

    @classmethod
    def of(cls, trip: Trip) -> TripOut:
        """The fields of ``trip``."""
        return cls(
            id=trip.id,
            customer_id=trip.customer_id,
            name=trip.name,
            starts_on=trip.starts_on,
            ends_on=trip.ends_on,
            booking_ids=list(trip.booking_ids),
            notes=trip.notes,
            created_at=trip.created_at,
            version=trip.version,
        )
