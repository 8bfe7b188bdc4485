"""The pydantic models of the operations routes: waiting lists, groups, reports, commissions,
partner webhooks and booking changes; each ``*Out`` built from what a service returns.

Kept apart from :mod:`examples.api.schemas` (same conventions) so the two grow separately.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from bookingcore import LoyaltyTier, PartnerId
from bookingcore.domain import (
    BookingGroup,
    Certificate,
    CommissionEntry,
    CustomerStats,
    ImportTally,
    LoyaltyStatus,
    WaitlistEntry,
    WaitlistStatus,
    WebhookAttempt,
    WebhookDelivery,
)
from bookingcore.services import (
    AdvisorNote,
    AdvisorWorkload,
    CancellationLine,
    CommissionReport,
    CustomerValue,
    CustomerView,
    GroupTotals,
    RevenueLine,
    StaffNote,
    UtilisationLine,
    WaitlistPlace,
)
from examples.api.schemas import (
    ActorOut,
    BookingOut,
    BookingTravelerIn,
    CommunicationOut,
    CustomerOut,
    MoneyOut,
    PaymentOut,
    StrictIn,
    TravelerOut,
)

__all__ = [
    "AdvisorNoteIn",
    "AdvisorNoteOut",
    "AdvisorWorkloadOut",
    "CancellationLineOut",
    "CertificateOut",
    "CommissionEntryOut",
    "CommissionLineOut",
    "CommissionReportOut",
    "CustomerStatsOut",
    "CustomerValueOut",
    "CustomerViewOut",
    "GroupCancelIn",
    "GroupIn",
    "GroupOut",
    "GroupTotalsOut",
    "ImportTallyOut",
    "RescheduleIn",
    "RevenueLineOut",
    "StaffNoteOut",
    "TravelerRequirementOut",
    "TravelersChangeIn",
    "UtilisationLineOut",
    "WaitlistAcceptIn",
    "WaitlistAddIn",
    "WaitlistEntryOut",
    "WaitlistForCustomerIn",
    "WaitlistJoinIn",
    "WaitlistOrderIn",
    "WaitlistPlaceOut",
    "WaitlistPriorityIn",
    "WaitlistReasonIn",
    "WebhookAttemptOut",
    "WebhookDeliveryOut",
]


def _key(value: UUID | str | date | None) -> str | None:
    """A report line's group key as text (``None`` for the overall line or no value)."""
    return None if value is None else str(value)


# ---------------------------------------------------------------------- waiting lists


class WaitlistJoinIn(StrictIn):
    """A customer's request to wait for seats on a full slot."""

    slot_id: UUID
    seats: int = Field(default=1, ge=1, le=1000)
    alternative_dates: list[date] = Field(
        default_factory=list,
        max_length=20,
        description=(
            "Other days the party could come on (in the business's time zone): seats "
            "freed on the product's slots at the location on those days are offered too, "
            "after that slot's own list"
        ),
    )
    preferred_contact_method: str | None = Field(default=None, max_length=16)
    notes: str | None = Field(default=None, max_length=2000)
    travelers: list[BookingTravelerIn] = Field(
        default_factory=list,
        max_length=200,
        description=(
            "The party (at most seats), checked against the product's requirements now; "
            "named again when the offer is accepted"
        ),
    )
    override_requirements: bool = Field(
        default=False,
        description=(
            "Put travelers the product's requirements refuse on the list; staff who "
            "change every booking only"
        ),
    )


class WaitlistForCustomerIn(WaitlistJoinIn):
    """A partner putting one of its customers on a slot's waiting list."""

    customer_id: UUID


class WaitlistAddIn(WaitlistForCustomerIn):
    """Staff putting a customer on a slot's waiting list, with any priority."""

    priority: str = Field(default="normal", max_length=16, examples=["high", "normal", "low"])


class WaitlistOrderIn(StrictIn):
    """Active entries of one slot in the order they should be offered seats."""

    entry_ids: list[UUID] = Field(min_length=1, max_length=1000)


class WaitlistPriorityIn(StrictIn):
    """The priority an active entry moves to (priority comes before position)."""

    priority: str = Field(max_length=16, examples=["high", "normal", "low"])


class WaitlistReasonIn(StrictIn):
    """Why an entry leaves the list (kept on its audit entry)."""

    reason: str | None = Field(default=None, max_length=500)


class WaitlistAcceptIn(StrictIn):
    """The travelers an accepted offer books (at most the seats offered)."""

    travelers: list[BookingTravelerIn] = Field(min_length=1, max_length=200)


class WaitlistEntryOut(BaseModel):
    """One customer waiting on a slot: seats, place order, status and any open offer."""

    id: UUID
    slot_id: UUID
    customer_id: UUID
    seats: int
    position: int
    priority: str
    status: str
    created_at: datetime
    offered_at: datetime | None
    offer_expires_at: datetime | None
    booking_id: UUID | None
    preferred_contact_method: str | None
    alternative_dates: list[date]
    notes: str | None
    offer_slot_id: UUID | None = Field(
        description=(
            "The slot an offer is (or was, once booked) for: the entry's own slot, or one "
            "on an alternative date; null while waiting or once ended unbooked"
        )
    )

    @classmethod
    def of(cls, entry: WaitlistEntry) -> WaitlistEntryOut:
        """The fields of ``entry``."""
        contact = entry.preferred_contact_method
        return cls(
            id=entry.id,
            slot_id=entry.slot_id,
            customer_id=entry.customer_id,
            seats=entry.seats,
            position=entry.position,
            priority=entry.priority.value,
            status=entry.status.value,
            created_at=entry.created_at,
            offered_at=entry.offered_at,
            offer_expires_at=entry.offer_expires_at,
            booking_id=entry.booking_id,
            preferred_contact_method=None if contact is None else contact.value,
            alternative_dates=list(entry.alternative_dates),
            notes=entry.notes,
            offer_slot_id=entry.offer_slot_id
            if entry.status in (WaitlistStatus.OFFERED, WaitlistStatus.BOOKED)
            else None,
        )


class WaitlistPlaceOut(BaseModel):
    """Where an entry stands: ``place`` 1 is offered the next freed seats (0: offered now)."""

    entry: WaitlistEntryOut
    place: int
    seats_ahead: int

    @classmethod
    def of(cls, place: WaitlistPlace) -> WaitlistPlaceOut:
        """The fields of ``place``."""
        return cls(
            entry=WaitlistEntryOut.of(place.entry), place=place.place, seats_ahead=place.seats_ahead
        )


# ---------------------------------------------------------------------- groups


class GroupIn(StrictIn):
    """A booking group (a corporate or group outing) for an organiser, under a
    reference of your choosing."""

    group_reference: str = Field(min_length=1, max_length=100, examples=["ACME-OFFSITE-26"])
    organizer_id: UUID
    company_id: UUID | None = None
    group_name: str | None = Field(default=None, max_length=255)
    total_participants: int | None = Field(default=None, ge=1, le=100_000)


class GroupCancelIn(StrictIn):
    """Why the group (and every booking in it) is cancelled."""

    reason: str | None = Field(default=None, max_length=500)


class GroupOut(BaseModel):
    """A booking group: reference, organiser, company and status."""

    id: UUID
    group_reference: str
    organizer_id: UUID
    company_id: UUID | None
    group_name: str | None
    total_participants: int | None
    status: str
    created_at: datetime
    version: int

    @classmethod
    def of(cls, group: BookingGroup) -> GroupOut:
        """The fields of ``group``."""
        return cls(
            id=group.id,
            group_reference=group.group_reference,
            organizer_id=group.organizer_id,
            company_id=group.company_id,
            group_name=group.group_name,
            total_participants=group.total_participants,
            status=group.status.value,
            created_at=group.created_at,
            version=group.version,
        )


class GroupTotalsOut(BaseModel):
    """A group's bookings that are not cancelled: travelers, amount, paid and due."""

    group: GroupOut
    bookings: int
    cancelled_bookings: int
    travelers: int
    amount: MoneyOut | None
    paid: MoneyOut | None
    due: MoneyOut | None

    @classmethod
    def of(cls, totals: GroupTotals) -> GroupTotalsOut:
        """The figures of ``totals``."""

        def money(value: Any) -> MoneyOut | None:
            return None if value is None else MoneyOut.of(value)

        return cls(
            group=GroupOut.of(totals.group),
            bookings=totals.bookings,
            cancelled_bookings=totals.cancelled_bookings,
            travelers=totals.travelers,
            amount=money(totals.amount),
            paid=money(totals.paid),
            due=money(totals.due),
        )


# ---------------------------------------------------------------------- booking changes


class RescheduleIn(StrictIn):
    """The slot to move the booking to."""

    slot_id: UUID
    reason: str | None = Field(default=None, max_length=500)
    expected_version: int | None = None


class TravelersChangeIn(StrictIn):
    """Travelers to add and remove (ids of the booking's travelers), and the new primary."""

    add: list[BookingTravelerIn] = Field(default_factory=list, max_length=200)
    remove: list[UUID] = Field(default_factory=list, max_length=200)
    primary: UUID | None = None
    reason: str | None = Field(default=None, max_length=500)
    expected_version: int | None = None


class AdvisorNoteIn(StrictIn):
    """A note for the booking's advisor log (notes are never edited)."""

    text: str = Field(min_length=1, max_length=5000)


class AdvisorNoteOut(BaseModel):
    """One note of a booking's advisor log: who wrote what, when."""

    id: UUID
    booking_id: UUID
    author: ActorOut
    written_at: datetime
    text: str

    @classmethod
    def of(cls, note: AdvisorNote) -> AdvisorNoteOut:
        """The fields of ``note``."""
        return cls(
            id=note.id,
            booking_id=note.booking_id,
            author=ActorOut.of(note.author),
            written_at=note.written_at,
            text=note.text,
        )


# ---------------------------------------------------------------------- reports


class RevenueLineOut(BaseModel):
    """Bookings holding seats in one group and currency, and their total."""

    key: str | None
    currency: str
    bookings: int
    travelers: int
    amount: MoneyOut

    @classmethod
    def of(cls, line: RevenueLine) -> RevenueLineOut:
        """The figures of ``line``."""
        return cls(
            key=_key(line.key),
            currency=line.currency,
            bookings=line.bookings,
            travelers=line.travelers,
            amount=MoneyOut.of(line.amount),
        )


class CancellationLineOut(BaseModel):
    """Cancelled bookings and no-shows against all bookings of one group."""

    key: str | None
    bookings: int
    cancelled: int
    no_shows: int
    cancellation_rate: Decimal
    no_show_rate: Decimal

    @classmethod
    def of(cls, line: CancellationLine) -> CancellationLineOut:
        """The figures of ``line``."""
        return cls(
            key=_key(line.key),
            bookings=line.bookings,
            cancelled=line.cancelled,
            no_shows=line.no_shows,
            cancellation_rate=line.cancellation_rate,
            no_show_rate=line.no_show_rate,
        )


class AdvisorWorkloadOut(BaseModel):
    """One assignee's bookings (``assignee_id`` null: the unassigned ones)."""

    assignee_id: UUID | None
    assigned: int
    open: int
    completed: int
    cancelled: int
    no_shows: int
    completion_rate: Decimal

    @classmethod
    def of(cls, line: AdvisorWorkload) -> AdvisorWorkloadOut:
        """The figures of ``line``."""
        return cls(
            assignee_id=line.assignee_id,
            assigned=line.assigned,
            open=line.open,
            completed=line.completed,
            cancelled=line.cancelled,
            no_shows=line.no_shows,
            completion_rate=line.completion_rate,
        )


class CustomerValueOut(BaseModel):
    """Repeat-customer rate and lifetime value in one currency."""

    currency: str
    customers: int
    repeat_customers: int
    repeat_rate: Decimal
    lifetime_value: MoneyOut

    @classmethod
    def of(cls, line: CustomerValue) -> CustomerValueOut:
        """The figures of ``line``."""
        return cls(
            currency=line.currency,
            customers=line.customers,
            repeat_customers=line.repeat_customers,
            repeat_rate=line.repeat_rate,
            lifetime_value=MoneyOut.of(line.lifetime_value),
        )


class UtilisationLineOut(BaseModel):
    """Seats held against capacity over one group of slots."""

    key: str | None
    slots: int
    unlimited_slots: int
    capacity: int
    seats_held: int
    utilisation: Decimal

    @classmethod
    def of(cls, line: UtilisationLine) -> UtilisationLineOut:
        """The figures of ``line``."""
        return cls(
            key=_key(line.key),
            slots=line.slots,
            unlimited_slots=line.unlimited_slots,
            capacity=line.capacity,
            seats_held=line.seats_held,
            utilisation=line.utilisation,
        )


class ImportTallyOut(BaseModel):
    """Import jobs in one status and the rows they handled."""

    status: str
    jobs: int
    rows: int
    created: int
    updated: int
    skipped: int
    failed: int

    @classmethod
    def of(cls, tally: ImportTally) -> ImportTallyOut:
        """The figures of ``tally``."""
        return cls(
            status=tally.status,
            jobs=tally.jobs,
            rows=tally.rows,
            created=tally.created,
            updated=tally.updated,
            skipped=tally.skipped,
            failed=tally.failed,
        )


# ---------------------------------------------------------------------- commissions


class CommissionLineOut(BaseModel):
    """What one partner is owed in one currency for the period."""

    partner_id: UUID
    partner_name: str
    currency: str
    accrued: MoneyOut
    reversed: MoneyOut
    net: MoneyOut
    entries: int


class CommissionReportOut(BaseModel):
    """Partners' commissions recorded in ``[start, end)``."""

    start: datetime
    end: datetime
    lines: list[CommissionLineOut]

    @classmethod
    def of(cls, report: CommissionReport) -> CommissionReportOut:
        """The lines of ``report``."""
        return cls(
            start=report.start,
            end=report.end,
            lines=[
                CommissionLineOut(
                    partner_id=line.partner_id,
                    partner_name=line.partner_name,
                    currency=line.currency,
                    accrued=MoneyOut.of(line.accrued),
                    reversed=MoneyOut.of(line.reversed),
                    net=MoneyOut.of(line.net),
                    entries=line.entries,
                )
                for line in report.lines
            ],
        )


class CommissionEntryOut(BaseModel):
    """One entry of a booking's commission ledger (an accrual or a reversal)."""

    id: UUID
    kind: str
    partner_id: UUID
    booking_id: UUID
    payment_id: UUID
    base: MoneyOut
    rate: Decimal
    amount: MoneyOut
    recorded_at: datetime

    @classmethod
    def of(cls, entry: CommissionEntry) -> CommissionEntryOut:
        """The fields of ``entry``."""
        return cls(
            id=entry.id,
            kind=entry.kind.value,
            partner_id=entry.partner_id,
            booking_id=entry.booking_id,
            payment_id=entry.payment_id,
            base=MoneyOut.of(entry.base),
            rate=entry.rate,
            amount=MoneyOut.of(entry.amount),
            recorded_at=entry.recorded_at,
        )


# ---------------------------------------------------------------------- partner webhooks


class WebhookDeliveryOut(BaseModel):
    """One webhook to a partner: its topic, status and the last attempt's outcome."""

    id: UUID
    webhook_id: str
    partner_id: UUID
    topic: str
    booking_id: UUID | None
    status: str
    attempts: int
    failures: int
    created_at: datetime
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    dead_at: datetime | None
    payload: dict[str, Any]

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> WebhookDeliveryOut:
        """The fields of ``delivery``."""
        return cls(
            id=delivery.id,
            webhook_id=delivery.webhook_id,
            partner_id=delivery.partner_id,
            topic=delivery.topic.value,
            booking_id=delivery.booking_id,
            status=delivery.status.value,
            attempts=delivery.attempts,
            failures=delivery.failures,
            created_at=delivery.created_at,
            next_attempt_at=delivery.next_attempt_at,
            last_attempt_at=delivery.last_attempt_at,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            delivered_at=delivery.delivered_at,
            dead_at=delivery.dead_at,
            payload=dict(delivery.payload),
        )


class WebhookAttemptOut(BaseModel):
    """One try at sending a webhook: where, how long, and what came back."""

    number: int
    started_at: datetime
    url: str
    succeeded: bool
    latency_ms: int
    status_code: int | None
    error: str | None

    @classmethod
    def of(cls, attempt: WebhookAttempt) -> WebhookAttemptOut:
        """The fields of ``attempt`` (without the response excerpt)."""
        return cls(
            number=attempt.number,
            started_at=attempt.started_at,
            url=attempt.url,
            succeeded=attempt.succeeded,
            latency_ms=attempt.latency_ms,
            status_code=attempt.status_code,
            error=attempt.error,
        )


# ---------------------------------------------------------------------- customer view


class CustomerStatsOut(BaseModel):
    """A customer's booking figures, counted over the bookings the caller may see."""

    total_bookings: int
    upcoming_bookings: int
    cancelled_bookings: int
    no_show_bookings: int
    first_booking_at: datetime | None
    last_booking_at: datetime | None
    lifetime_value: list[MoneyOut] = Field(
        description="Totals of the bookings revenue counts (holding seats), per currency"
    )
    total_spent: list[MoneyOut] = Field(description="Captured less refunded, per currency")
    completed_bookings: int = Field(default=0, description="Bookings in a completed state")

    @classmethod
    def of(cls, stats: CustomerStats) -> CustomerStatsOut:
        """The figures' fields."""
        return cls(
            total_bookings=stats.total_bookings,
            upcoming_bookings=stats.upcoming_bookings,
            cancelled_bookings=stats.cancelled_bookings,
            no_show_bookings=stats.no_show_bookings,
            first_booking_at=stats.first_booking_at,
            last_booking_at=stats.last_booking_at,
            lifetime_value=[MoneyOut.of(m) for m in stats.lifetime_value],
            total_spent=[MoneyOut.of(m) for m in stats.total_spent],
            completed_bookings=stats.completed_bookings,
        )


class LoyaltyTierOut(BaseModel):
    """One tier of the loyalty program: what reaching it takes, and its discount."""

    name: str
    min_completed_bookings: int
    min_spent: list[MoneyOut] = Field(description="Any one of these amounts is enough")
    discount_percent: str = Field(examples=["5"])

    @classmethod
    def of(cls, tier: LoyaltyTier) -> LoyaltyTierOut:
        """The tier's fields."""
        return cls(
            name=tier.name,
            min_completed_bookings=tier.min_completed_bookings,
            min_spent=[MoneyOut.of(m) for m in tier.min_spent],
            discount_percent=str(tier.discount_percent),
        )


class LoyaltyOut(BaseModel):
    """Where a customer stands in the loyalty program: their tier (``null`` below the
    first), the figures it was judged on, and what the next tier still needs."""

    tier: LoyaltyTierOut | None
    completed_bookings: int
    spent: list[MoneyOut] = Field(description="Captured less refunded, per currency")
    next_tier: LoyaltyTierOut | None
    bookings_to_next: int = Field(description="Completed bookings still missing")
    spent_to_next: list[MoneyOut] = Field(
        description="Money still missing, per currency; any one of them is enough"
    )

    @classmethod
    def of(cls, status: LoyaltyStatus) -> LoyaltyOut:
        """The status's fields."""
        return cls(
            tier=None if status.tier is None else LoyaltyTierOut.of(status.tier),
            completed_bookings=status.completed_bookings,
            spent=[MoneyOut.of(m) for m in status.spent],
            next_tier=None if status.next_tier is None else LoyaltyTierOut.of(status.next_tier),
            bookings_to_next=status.bookings_to_next,
            spent_to_next=[MoneyOut.of(m) for m in status.spent_to_next],
        )


class TravelerRequirementOut(BaseModel):
    """What one of the customer's travelers needs (special requirements, preferences)."""

    traveler_id: UUID
    name: str
    requirements: str


class StaffNoteOut(BaseModel):
    """A note staff left on one of the customer's bookings.

    ``internal``: the booking's internal notes (no author kept); ``advisor``: an
    entry of the booking's advisor log, with its author.
    """

    booking_id: UUID
    reference: str
    text: str
    written_at: datetime
    kind: Literal["internal", "advisor"]
    author: ActorOut | None

    @classmethod
    def of(cls, note: StaffNote) -> StaffNoteOut:
        """The note's fields."""
        return cls(
            booking_id=note.booking_id,
            reference=note.reference,
            text=note.text,
            written_at=note.written_at,
            kind=note.kind.value,
            author=None if note.author is None else ActorOut.of(note.author),
        )


class CertificateOut(BaseModel):
    """A certificate one person earned on one booking."""

    id: UUID
    customer_id: UUID
    booking_id: UUID
    traveler_id: UUID | None
    kind: str
    number: str
    issued_at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, certificate: Certificate) -> CertificateOut:
        """The certificate's fields."""
        return cls(
            id=certificate.id,
            customer_id=certificate.customer_id,
            booking_id=certificate.booking_id,
            traveler_id=certificate.traveler_id,
            kind=certificate.kind,
            number=certificate.number,
            issued_at=certificate.issued_at,
            expires_at=certificate.expires_at,
        )


class CustomerViewOut(BaseModel):
    """The customer history view staff use: the customer, their figures and what staff need.

    ``upcoming`` are bookings still to take place, soonest first; ``recent`` the
    newest bookings; ``notes`` newest first, for staff only (always empty for a
    partner, whose bookings here never carry staff notes); ``communications``
    oldest first; ``certificates`` newest first; ``payments`` oldest first.
    Everything is scoped to what the caller may see.
    """

    customer: CustomerOut
    stats: CustomerStatsOut
    upcoming: list[BookingOut]
    recent: list[BookingOut]
    travelers: list[TravelerOut]
    requirements: list[TravelerRequirementOut]
    notes: list[StaffNoteOut]
    communications: list[CommunicationOut]
    certificates: list[CertificateOut]
    payments: list[PaymentOut] = Field(
        description=(
            "The customer's payment history: of the bookings the caller may see, oldest first"
        )
    )
    loyalty: LoyaltyOut | None = Field(
        default=None, description="The loyalty tier; null without a program or for a partner"
    )

    @classmethod
    def of(
        cls, view: CustomerView, partner_names: Mapping[PartnerId, str] | None = None
    ) -> CustomerViewOut:
        """The view's parts (the bookings' partners named from ``partner_names``)."""
        return cls(
            customer=CustomerOut.of(view.customer),
            stats=CustomerStatsOut.of(view.stats),
            upcoming=[BookingOut.of(b, partner_names) for b in view.upcoming],
            recent=[BookingOut.of(b, partner_names) for b in view.recent],
            travelers=[TravelerOut.of(t) for t in view.travelers],
            requirements=[
                TravelerRequirementOut(
                    traveler_id=r.traveler_id, name=r.name, requirements=r.requirements
                )
                for r in view.requirements
            ],
            notes=[StaffNoteOut.of(n) for n in view.notes],
            communications=[CommunicationOut.of(m) for m in view.communications],
            certificates=[CertificateOut.of(c) for c in view.certificates],
            payments=[PaymentOut.of(p) for p in view.payments],
            loyalty=None if view.loyalty is None else LoyaltyOut.of(view.loyalty),
        )
