"""Quotations for travel agencies: what a holiday would cost, version by version.

A quotation offers a customer seats on one slot (the departure the holiday is
built around) for a number of travelers, plus :class:`QuotationLine` s: the
hotels, flights, activities and ground services of several suppliers, each
with its quantity, unit price and currency. A line priced in a supplier's
currency carries the exchange rate into the quotation's currency (the slot's)
taken when it was quoted; the booking made from the quotation keeps that rate.

Every revision is a new :class:`Quotation` with the same ``reference`` and the
next ``revision`` number; the one it replaces becomes ``superseded`` and stays
readable; a rejected or expired one may be revised too (a counter-offer, or
the offer made again) and keeps its status. Statuses::

    draft -> sent | expired | superseded
    sent -> approved | rejected | expired | superseded

Only the current revision (not superseded) that is sent and still valid on the
day may be approved: :meth:`Quotation.check_approvable` raises
:class:`QuotationSupersededError` (field ``revision``) or
:class:`QuotationExpiredError` (field ``valid_until``) otherwise.

.. versionadded:: 0.3
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import attrs

from bookingcore.domain._validation import check_move, clean_text, parse_choice, require_text
from bookingcore.domain.items import (
    BookingItemKind,
    check_line_amounts,
    check_rate,
    check_service_dates,
)
from bookingcore.domain.values import (
    Actor,
    BookingId,
    CustomerId,
    LeadId,
    Money,
    ProductId,
    QuotationId,
    SlotId,
    SupplierId,
    Versioned,
    ensure_aware,
)
from bookingcore.errors import FieldError, ValidationError

__all__ = [
    "Quotation",
    "QuotationExpiredError",
    "QuotationFilter",
    "QuotationLine",
    "QuotationStatus",
    "QuotationSupersededError",
]

_MAX_QUANTITY = 10_000
_MAX_LINES = 100


class QuotationExpiredError(ValidationError):
    """The quotation's ``valid_until`` has passed: it can no longer be approved.

    .. versionadded:: 0.3
    """

    def __init__(self, reference: str, revision: int, valid_until: date) -> None:
        msg = f"quotation {reference} v{revision} expired on {valid_until.isoformat()}"
        super().__init__(FieldError("valid_until", msg, "expired"), msg)


class QuotationSupersededError(ValidationError):
    """A newer revision replaced this quotation: only the current one can be approved.

    .. versionadded:: 0.3
    """

    def __init__(self, reference: str, revision: int) -> None:
        msg = f"quotation {reference} v{revision} was replaced by a newer revision"
        super().__init__(FieldError("revision", msg, "superseded"), msg)


class QuotationStatus(enum.StrEnum):
    """Where one revision of a quotation is.

    .. versionadded:: 0.3
    """

    DRAFT = "draft"
    SENT = "sent"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"


_MOVES: dict[QuotationStatus, frozenset[QuotationStatus]] = {
    QuotationStatus.DRAFT: frozenset(
        {QuotationStatus.SENT, QuotationStatus.EXPIRED, QuotationStatus.SUPERSEDED}
    ),
    QuotationStatus.SENT: frozenset(
        {
            QuotationStatus.SENT,  # sent again (a reminder, another channel)
            QuotationStatus.APPROVED,
            QuotationStatus.REJECTED,
            QuotationStatus.EXPIRED,
            QuotationStatus.SUPERSEDED,
        }
    ),
    QuotationStatus.APPROVED: frozenset(),
    QuotationStatus.REJECTED: frozenset(),
    QuotationStatus.EXPIRED: frozenset(),
    QuotationStatus.SUPERSEDED: frozenset(),
}


def _kind(value: object) -> BookingItemKind:
    return parse_choice(BookingItemKind, value, "kind", what="an item kind")


def _quantity(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError.single("quantity", "must be a whole number", "invalid")
    if not 1 <= value <= _MAX_QUANTITY:
        msg = f"must be between 1 and {_MAX_QUANTITY:,}"
        raise ValidationError.single("quantity", msg, "out_of_range")
    return value


def _price(value: object) -> Money:
    if not isinstance(value, Money):
        raise ValidationError.single("unit_price", "must be Money", "invalid")
    if value.is_negative():
        raise ValidationError.single("unit_price", "cannot be negative", "negative_amount")
    return value


def _status(value: object) -> QuotationStatus:
    return parse_choice(QuotationStatus, value, "status", what="a quotation status")


def _party(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 500:
        raise ValidationError.single("travelers", "must be 1 to 500", "out_of_range")
    return value


@attrs.frozen(kw_only=True)
class QuotationLine:
    """One product or service of a quotation, from one supplier.

    ``exchange_rate`` converts one unit of ``unit_price``'s currency into the
    quotation's currency (``1`` when they are the same).

    Raises:
        ValidationError: naming the field: a blank description, a quantity
            outside 1 to 10,000, a negative price, a rate that is not a positive
            Decimal, or service dates out of order (a new line also passes
            :meth:`check_new`).

    .. versionadded:: 0.3
    """

    kind: BookingItemKind = attrs.field(converter=_kind)
    description: str
    quantity: int = attrs.field(converter=_quantity)
    unit_price: Money = attrs.field(converter=_price)
    supplier_id: SupplierId | None = None
    product_id: ProductId | None = None
    service_starts_on: date | None = None
    service_ends_on: date | None = None
    exchange_rate: Decimal = attrs.field(default=Decimal(1), converter=check_rate)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(
            self, "description", require_text(self.description, "description", max_length=1000)
        )
        starts, ends = self.service_starts_on, self.service_ends_on
        if starts is not None and ends is not None and ends < starts:
            msg = f"{ends.isoformat()} is before the service starts ({starts.isoformat()})"
            raise ValidationError.single("service_ends_on", msg, "before_start")

    def check_new(self) -> QuotationLine:
        """The line, checked as a new line must be: service dates within
        :func:`~bookingcore.domain.items.check_service_dates`' bounds and totals
        :class:`Money` holds (lines stored before 0.4 still load without).

        Raises:
            ValidationError: naming the field (``service_starts_on``,
                ``service_ends_on``, ``quantity``, ``exchange_rate``).

        .. versionadded:: 0.4
        """
        check_service_dates(self.service_starts_on, self.service_ends_on)
        check_line_amounts(self.quantity, self.unit_price, self.exchange_rate)
        return self

    @property
    def total(self) -> Money:
        """``unit_price * quantity`` in the line's own currency."""
        return self.unit_price * self.quantity

    def total_in(self, currency: str) -> Money:
        """The line's total in ``currency`` (the quotation's) at its rate, rounded once."""
        if currency == self.unit_price.currency:
            return self.total
        return Money(self.unit_price.amount * self.quantity * self.exchange_rate, currency)


@attrs.define(slots=False, kw_only=True)
class Quotation(Versioned):
    """One revision of a quotation: seats on a slot for travelers, plus lines, until a date.

    ``seats_total`` is what the seats cost (``seat_price`` per traveler, after
    the slot's group discount); :attr:`total` adds the lines in the
    quotation's currency.

    Raises:
        ValidationError: naming the field: no more than 100 lines, a party of
            1 to 500, a seats total in the quotation's currency.

    .. versionadded:: 0.3
    """

    id: QuotationId
    reference: str
    revision: int
    customer_id: CustomerId
    slot_id: SlotId
    travelers: int = attrs.field(converter=_party)
    seat_price: Money
    seats_total: Money
    lines: tuple[QuotationLine, ...]
    valid_until: date
    created_at: datetime
    updated_at: datetime
    created_by: Actor
    lead_id: LeadId | None = None
    status: QuotationStatus = attrs.field(default=QuotationStatus.DRAFT, converter=_status)
    notes: str | None = None
    sent_at: datetime | None = None
    decided_at: datetime | None = None
    booking_id: BookingId | None = None
    rejection_reason: str | None = None
    #: The scoped idempotency key of the create or revise call that made this
    #: revision (unique in storage) and the digest of that request.
    #:
    #: .. versionadded:: 0.3
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    version: int = 1

    entity_name = "quotation"

    def __attrs_post_init__(self) -> None:
        self.reference = require_text(self.reference, "reference", max_length=50)
        self.notes = clean_text(self.notes, "notes", max_length=5000)
        self.created_at = ensure_aware(self.created_at, "created_at")
        self.updated_at = ensure_aware(self.updated_at, "updated_at")
        self.lines = tuple(self.lines)
        if len(self.lines) > _MAX_LINES:
            raise ValidationError.single("lines", f"at most {_MAX_LINES} lines", "too_many")
        if self.revision < 1:
            raise ValidationError.single("revision", "starts at 1", "out_of_range")
        if self.seats_total.currency != self.seat_price.currency:
            msg = f"is in {self.seats_total.currency}; seats are priced in {self.currency}"
            raise ValidationError.single("seats_total", msg, "currency_mismatch")

    @property
    def currency(self) -> str:
        """The quotation's (and its booking's) currency: the slot's."""
        return self.seat_price.currency

    @property
    def lines_total(self) -> Money:
        """The lines added up in the quotation's currency."""
        total = Money.zero(self.currency)
        for line in self.lines:
            total += line.total_in(self.currency)
        return total

    @property
    def total(self) -> Money:
        """Seats plus lines, in the quotation's currency."""
        return self.seats_total + self.lines_total

    @property
    def supplier_ids(self) -> frozenset[SupplierId]:
        """The suppliers of the quotation's lines."""
        return frozenset(line.supplier_id for line in self.lines if line.supplier_id is not None)

    @property
    def is_open(self) -> bool:
        """True while the quotation waits for a decision (draft or sent)."""
        return self.status in (QuotationStatus.DRAFT, QuotationStatus.SENT)

    @property
    def was_sent(self) -> bool:
        """True once the revision was sent to the customer (whatever its status now).

        A draft never sent is the agency's work in progress, hidden from the customer.

        .. versionadded:: 0.4
        """
        return self.sent_at is not None

    def is_expired_on(self, today: date) -> bool:
        """True when ``today`` is after the last day the quotation is valid."""
        return today > self.valid_until

    def check_approvable(self, today: date) -> None:
        """Refuse approval of anything but the current, sent, unexpired revision.

        Raises:
            QuotationSupersededError: a newer revision replaced this one.
            QuotationExpiredError: ``valid_until`` is before ``today`` (or it expired).
            InvalidTransitionError: the revision is not sent (a draft, or decided).
        """
        if self.status is QuotationStatus.SUPERSEDED:
            raise QuotationSupersededError(self.reference, self.revision)
        if self.status is QuotationStatus.EXPIRED or (self.is_open and self.is_expired_on(today)):
            raise QuotationExpiredError(self.reference, self.revision, self.valid_until)
        self._check(QuotationStatus.APPROVED)

    def send(self, *, now: datetime, today: date) -> None:
        """Mark the revision sent (again, when it was sent before) at ``now``, ``today``
        being the business's calendar day then.

        Raises:
            QuotationExpiredError: its validity has passed.
            InvalidTransitionError: it is decided or superseded.
        """
        if self.is_open and self.is_expired_on(today):
            raise QuotationExpiredError(self.reference, self.revision, self.valid_until)
        self._move(QuotationStatus.SENT, now)
        self.sent_at = now

    def approve(self, booking_id: BookingId, *, now: datetime, today: date) -> None:
        """The customer accepted: the booking ``booking_id`` was made from this revision
        at ``now``, ``today`` being the business's calendar day then.

        Raises:
            QuotationSupersededError, QuotationExpiredError, InvalidTransitionError:
                see :meth:`check_approvable`.
        """
        self.check_approvable(today)
        self._move(QuotationStatus.APPROVED, now)
        self.booking_id = booking_id
        self.decided_at = now

    def reject(self, *, now: datetime, reason: str | None = None) -> None:
        """The customer turned the quotation down.

        Raises:
            InvalidTransitionError: it is not sent.
            ValidationError: on ``reason`` when it is not text or over 1,000
                characters; the quotation is left as it was.
        """
        cleaned = clean_text(reason, "reason", max_length=1000)
        self._move(QuotationStatus.REJECTED, now)
        self.rejection_reason = cleaned
        self.decided_at = now

    def expire(self, *, now: datetime) -> None:
        """The quotation ran out of time without an answer.

        Raises:
            InvalidTransitionError: it is decided or superseded.
        """
        self._move(QuotationStatus.EXPIRED, now)
        self.decided_at = now

    def replace(self, *, now: datetime) -> None:
        """A newer revision replaces this one, as the current revision of its quotation.

        An open revision (draft or sent) becomes ``superseded``; a rejected or
        expired one keeps its decision and stays readable as it was (the newer
        revision is the counter-offer, or the offer made again).

        Raises:
            InvalidTransitionError: it is approved (or superseded already).

        .. versionadded:: 0.4
        """
        if self.status in (QuotationStatus.REJECTED, QuotationStatus.EXPIRED):
            return
        self.supersede(now=now)

    def supersede(self, *, now: datetime) -> None:
        """A newer revision replaces this one.

        Raises:
            InvalidTransitionError: it is decided already.
        """
        self._move(QuotationStatus.SUPERSEDED, now)

    def _check(self, target: QuotationStatus) -> None:
        subject = f"quotation {self.reference} v{self.revision}"
        check_move("quotation", subject, _MOVES, self.status, target)

    def _move(self, target: QuotationStatus, now: datetime) -> None:
        self._check(target)
        self.status = target
        self.touch(now)

    def touch(self, now: datetime) -> None:
        """Record that the revision changed: new ``updated_at``, next version."""
        self.updated_at = ensure_aware(now, "now")
        self.version += 1


@attrs.frozen
class QuotationFilter:
    """Which revisions to list. Every field left ``None`` does not filter.

    :func:`~bookingcore.domain.policy.scope_quotations` narrows it to what a
    principal may see (a customer's own).

    ``valid_on`` keeps the revisions still valid that day (``valid_until`` on or
    after it), ``expired_on`` those whose validity ended before it; neither looks
    at the status.

    .. versionadded:: 0.3
    .. versionchanged:: 0.3
       ``valid_on`` and ``expired_on``.
    """

    status: QuotationStatus | None = None
    customer_id: CustomerId | None = None
    lead_id: LeadId | None = None
    valid_on: date | None = None
    expired_on: date | None = None
    #: Keep only the revisions that were sent to the customer (``sent_at`` set,
    #: whatever happened to them since): what a customer may see.
    #:
    #: .. versionadded:: 0.4
    sent_only: bool = False

    def matches(self, quotation: Quotation) -> bool:
        """The reference semantics every adapter implements."""
        return (
            (self.status is None or quotation.status is self.status)
            and (not self.sent_only or quotation.was_sent)
            and (self.customer_id is None or quotation.customer_id == self.customer_id)
            and (self.lead_id is None or quotation.lead_id == self.lead_id)
            and (self.valid_on is None or not quotation.is_expired_on(self.valid_on))
            and (self.expired_on is None or quotation.is_expired_on(self.expired_on))
        )
