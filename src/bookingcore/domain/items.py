"""Booking line items: the products, rooms, flights and services of one booking.

A booking of a seat on a slot may also carry line items: a hotel night before
the trek, a flight, a guided activity, an airport transfer (a *ground
service*). Each :class:`BookingItem` has its own quantity, unit price and
supplier, and its own status: ``pending`` until its supplier confirms it
(``confirmed``, with the supplier's reference) or turns it down (``rejected``,
with a reason staff see; a rejected item may be asked for again), or
``cancelled``.

An item may be priced in its supplier's currency: ``booking_currency`` and
``exchange_rate`` record what one unit of the item's currency was worth in the
booking's currency when the item was priced, and :attr:`BookingItem.booking_total`
is the item's total in the booking's currency (Decimal only, rounded once).

``total`` is always ``unit_price * quantity`` in the unit price's currency,
rounded to that currency's minor unit; it is derived, never stored apart from
what it derives from, so it cannot disagree. :func:`items_total` adds up the
items of one booking.

.. versionadded:: 0.1
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import attrs

from bookingcore.domain._validation import (
    check_move,
    clean_text,
    parse_choice,
    require_text,
    text_mapping,
)
from bookingcore.domain.values import (
    MAX_AMOUNT,
    BookingId,
    BookingItemId,
    Money,
    ProductId,
    SupplierId,
    Versioned,
    ensure_aware,
)
from bookingcore.errors import ValidationError

__all__ = [
    "MAX_SERVICE_DATE",
    "MAX_SERVICE_DAYS",
    "MIN_SERVICE_DATE",
    "RATE_PLACES",
    "BookingItem",
    "BookingItemKind",
    "BookingItemStatus",
    "check_line_amounts",
    "check_new_item",
    "check_rate",
    "check_service_dates",
    "items_total",
    "round_rate",
]

_MAX_QUANTITY = 10_000

#: The longest an item's service may last: from ``service_starts_on`` to
#: ``service_ends_on`` at most this many days (a stay of a year, a leap year's too).
#: Items and quotation lines with a longer span are refused on ``service_ends_on``.
#:
#: .. versionadded:: 0.4
MAX_SERVICE_DAYS = 366
#: The earliest and latest service dates an item or quotation line accepts.
#:
#: .. versionadded:: 0.4
MIN_SERVICE_DATE = date(1900, 1, 1)
#: .. versionadded:: 0.4
MAX_SERVICE_DATE = date(2999, 12, 31)


class BookingItemKind(enum.StrEnum):
    """What a line item is.

    .. versionadded:: 0.1
    """

    PRODUCT = "product"
    HOTEL = "hotel"
    FLIGHT = "flight"
    ACTIVITY = "activity"
    GROUND_SERVICE = "ground_service"
    TRANSFER = "transfer"
    OTHER = "other"


class BookingItemStatus(enum.StrEnum):
    """Where a line item is with its supplier.

    .. versionadded:: 0.1
    """

    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    #: The supplier turned the item down (``rejection_reason`` says why).
    #:
    #: .. versionadded:: 0.3
    REJECTED = "rejected"


_MOVES: dict[BookingItemStatus, frozenset[BookingItemStatus]] = {
    BookingItemStatus.PENDING: frozenset(
        {BookingItemStatus.CONFIRMED, BookingItemStatus.REJECTED, BookingItemStatus.CANCELLED}
    ),
    BookingItemStatus.CONFIRMED: frozenset({BookingItemStatus.CANCELLED}),
    BookingItemStatus.REJECTED: frozenset({BookingItemStatus.PENDING, BookingItemStatus.CANCELLED}),
    BookingItemStatus.CANCELLED: frozenset(),
}


def _kind(value: object) -> BookingItemKind:
    return parse_choice(BookingItemKind, value, "kind", what="an item kind")


def _status(value: object) -> BookingItemStatus:
    return parse_choice(BookingItemStatus, value, "status", what="an item status")


def _quantity(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError.single("quantity", "must be a whole number", "invalid")
    if not 1 <= value <= _MAX_QUANTITY:
        msg = f"must be between 1 and {_MAX_QUANTITY:,}"
        raise ValidationError.single("quantity", msg, "out_of_range")
    return value


#: The decimal places an exchange rate keeps: every store holds a booking item's rate
#: to them (``NUMERIC(18, 8)`` in SQL), so rates are rounded to them when they are taken.
#:
#: .. versionadded:: 0.4
RATE_PLACES = 8
_RATE_QUANTUM = Decimal(1).scaleb(-RATE_PLACES)


def round_rate(rate: Decimal) -> Decimal:
    """``rate`` rounded half up to :data:`RATE_PLACES` decimal places, as stores keep it,
    so a line priced at it costs the same before and after it is stored (a rate
    that rounds to zero is then refused by :func:`check_rate`). Anything but a
    finite Decimal is given back as it is, for :func:`check_rate` to refuse.

    .. versionadded:: 0.4
    """
    given: object = rate
    if not isinstance(given, Decimal) or not given.is_finite():
        return rate
    rounded = rate.quantize(_RATE_QUANTUM, rounding=ROUND_HALF_UP)
    return rate if rounded == rate else rounded


def check_rate(value: object, field: str = "exchange_rate") -> Decimal:
    """``value`` as an exchange rate: a positive :class:`~decimal.Decimal` (never a float).

    Raises:
        ValidationError: on ``field`` for a float, a non-number or a rate that is not positive.

    .. versionadded:: 0.3
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise ValidationError.single(field, "must be a Decimal (never a float)", "invalid")
    rate = Decimal(value)
    if not rate.is_finite() or rate <= 0:
        raise ValidationError.single(field, "must be a positive number", "out_of_range")
    return rate


def check_service_dates(starts: date | None, ends: date | None) -> None:
    """Refuse service dates outside :data:`MIN_SERVICE_DATE`-:data:`MAX_SERVICE_DATE`,
    out of order, or more than :data:`MAX_SERVICE_DAYS` apart.

    Raises:
        ValidationError: on ``service_starts_on`` or ``service_ends_on``
            (``out_of_range``, ``before_start``, ``too_long``).

    .. versionadded:: 0.4
    """
    for field, day in (("service_starts_on", starts), ("service_ends_on", ends)):
        if day is None:
            continue
        if not isinstance(day, date):
            raise ValidationError.single(field, "must be a date", "invalid_type")
        if not MIN_SERVICE_DATE <= day <= MAX_SERVICE_DATE:
            msg = f"must fall from {MIN_SERVICE_DATE.isoformat()} to {MAX_SERVICE_DATE.isoformat()}"
            raise ValidationError.single(field, msg, "out_of_range")
    if starts is None or ends is None:
        return
    if ends < starts:
        msg = f"{ends.isoformat()} is before the service starts ({starts.isoformat()})"
        raise ValidationError.single("service_ends_on", msg, "before_start")
    if (ends - starts).days > MAX_SERVICE_DAYS:
        msg = f"a service lasts at most {MAX_SERVICE_DAYS} days after it starts"
        raise ValidationError.single("service_ends_on", msg, "too_long")


def check_line_amounts(quantity: int, unit_price: Money, exchange_rate: Decimal) -> None:
    """Refuse a line whose total (``unit_price * quantity``, and that at
    ``exchange_rate``) would be past the largest amount :class:`Money` holds.

    Raises:
        ValidationError: on ``quantity`` when the total in the line's currency is
            too large, on ``exchange_rate`` when only the converted total is
            (``out_of_range``).

    .. versionadded:: 0.4
    """
    total = unit_price.amount * quantity
    if abs(total) > MAX_AMOUNT:
        msg = f"{quantity:,} x {unit_price} comes to more than {MAX_AMOUNT:,}"
        raise ValidationError.single("quantity", msg, "out_of_range")
    if abs(total * exchange_rate) > MAX_AMOUNT:
        msg = f"at this rate the line's total comes to more than {MAX_AMOUNT:,}"
        raise ValidationError.single("exchange_rate", msg, "out_of_range")


def check_new_item(item: BookingItem) -> BookingItem:
    """``item``, checked as a new item must be: its service dates pass
    :func:`check_service_dates` and its totals :func:`check_line_amounts`.

    Items read back from storage are not held to these bounds (they came in
    before 0.4 may have broken them); every item the library makes is.

    Raises:
        ValidationError: naming the field, as those two functions do.

    .. versionadded:: 0.4
    """
    check_service_dates(item.service_starts_on, item.service_ends_on)
    check_line_amounts(item.quantity, item.unit_price, item.exchange_rate)
    return item


def _unit_price(value: Money) -> Money:
    if not isinstance(value, Money):
        raise ValidationError.single("unit_price", "must be Money", "invalid")
    if value.is_negative():
        raise ValidationError.single("unit_price", "cannot be negative", "negative_amount")
    return value


@attrs.define(slots=False, kw_only=True)
class BookingItem(Versioned):
    """One line of a booking: what, how many, at what unit price, from which supplier.

    Invariants: a description; ``quantity`` 1 to 10,000; a unit price that is
    not negative; service dates, when both are known, in order. A new item also
    passes :func:`check_new_item` (dates within bounds and span, a total
    :class:`Money` holds); so do its new dates, quantity and price.

    Raises:
        ValidationError: naming the field that breaks an invariant.

    .. versionadded:: 0.1
    """

    id: BookingItemId
    booking_id: BookingId
    kind: BookingItemKind = attrs.field(converter=_kind)
    description: str
    quantity: int = attrs.field(converter=_quantity)
    unit_price: Money = attrs.field(converter=_unit_price)
    created_at: datetime
    updated_at: datetime
    product_id: ProductId | None = None
    supplier_id: SupplierId | None = None
    service_starts_on: date | None = None
    service_ends_on: date | None = None
    status: BookingItemStatus = attrs.field(default=BookingItemStatus.PENDING, converter=_status)
    supplier_reference: str | None = None
    metadata: dict[str, str] = attrs.field(factory=dict, converter=text_mapping)
    version: int = 1
    #: The currency of the booking the item belongs to; the item's own when ``None``.
    booking_currency: str | None = None
    #: One unit of the item's currency in the booking's currency, when the item was priced.
    exchange_rate: Decimal = attrs.field(default=Decimal(1), converter=check_rate)
    #: Why the supplier turned the item down.
    rejection_reason: str | None = None

    entity_name = "booking item"

    def __attrs_post_init__(self) -> None:
        self.description = require_text(self.description, "description", max_length=1000)
        if self.booking_currency is None:
            self.booking_currency = self.unit_price.currency
        self.booking_currency = Money.zero(self.booking_currency).currency
        if self.booking_currency == self.unit_price.currency and self.exchange_rate != 1:
            msg = "an item priced in the booking's currency has the rate 1"
            raise ValidationError.single("exchange_rate", msg, "out_of_range")
        self.rejection_reason = clean_text(
            self.rejection_reason, "rejection_reason", max_length=1000
        )
        self.supplier_reference = clean_text(self.supplier_reference, "supplier_reference")
        self.created_at = ensure_aware(self.created_at, "created_at")
        self.updated_at = ensure_aware(self.updated_at, "updated_at")
        # Only the order here: rows stored before the bounds (0.4) still load; new
        # items and new dates are checked by check_new_item and reschedule.
        starts, ends = self.service_starts_on, self.service_ends_on
        if starts is not None and ends is not None and ends < starts:
            msg = f"{ends.isoformat()} is before the service starts ({starts.isoformat()})"
            raise ValidationError.single("service_ends_on", msg, "before_start")

    @property
    def currency(self) -> str:
        """The currency the item is priced in."""
        return self.unit_price.currency

    @property
    def total(self) -> Money:
        """``unit_price * quantity``, rounded to the currency's minor unit."""
        return self.unit_price * self.quantity

    @property
    def booking_total(self) -> Money:
        """:attr:`total` in the booking's currency at :attr:`exchange_rate`, rounded once.

        .. versionadded:: 0.3
        """
        currency = self.booking_currency or self.currency
        if currency == self.currency:
            return self.total
        return Money(self.unit_price.amount * self.quantity * self.exchange_rate, currency)

    @property
    def is_confirmed(self) -> bool:
        """True once the supplier confirmed the item.

        .. versionadded:: 0.3
        """
        return self.status is BookingItemStatus.CONFIRMED

    @property
    def is_cancelled(self) -> bool:
        """True once the item is cancelled (it no longer counts toward totals)."""
        return self.status is BookingItemStatus.CANCELLED

    def change_quantity(self, quantity: int, *, now: datetime) -> None:
        """Order a different number of units.

        Raises:
            ValidationError: on ``quantity`` outside 1 to 10,000, or on ``status``
                once the supplier confirmed or the item was cancelled.
        """
        self._require_pending("quantity")
        check_line_amounts(_quantity(quantity), self.unit_price, self.exchange_rate)
        self.quantity = quantity
        self.touch(now)

    def reprice(self, unit_price: Money, *, now: datetime) -> None:
        """Charge a different unit price, in the same currency.

        Raises:
            ValidationError: on ``unit_price`` when negative or in another
                currency, or on ``status`` once the item is not pending.
        """
        self._require_pending("unit_price")
        price = _unit_price(unit_price)
        if price.currency != self.currency:
            msg = f"the item is priced in {self.currency}, not {price.currency}"
            raise ValidationError.single("unit_price", msg, "currency_mismatch")
        try:
            check_line_amounts(self.quantity, price, self.exchange_rate)
        except ValidationError:
            msg = f"{self.quantity:,} x {price} comes to more than {MAX_AMOUNT:,}"
            raise ValidationError.single("unit_price", msg, "out_of_range") from None
        self.unit_price = price
        self.touch(now)

    def reschedule(self, starts_on: date | None, ends_on: date | None, *, now: datetime) -> None:
        """Move the service dates.

        Raises:
            ValidationError: on ``service_starts_on`` or ``service_ends_on``
                for dates :func:`check_service_dates` refuses, or on ``status``
                once the item is cancelled.
        """
        if self.is_cancelled:
            raise ValidationError.single("status", "a cancelled item keeps its dates", "cancelled")
        check_service_dates(starts_on, ends_on)
        self.service_starts_on, self.service_ends_on = starts_on, ends_on
        self.touch(now)

    def confirm(self, *, now: datetime, supplier_reference: str | None = None) -> None:
        """The supplier confirmed the item (with its own reference, if it gave one).

        Raises:
            InvalidTransitionError: the item is not pending.
            ValidationError: on ``supplier_reference`` when it is not text or over 255
                characters; the item is left as it was.
        """
        reference = clean_text(supplier_reference, "supplier_reference")
        self._move(BookingItemStatus.CONFIRMED)
        if reference is not None:
            self.supplier_reference = reference
        self.touch(now)

    def reject(self, reason: str, *, now: datetime) -> None:
        """The supplier turned the item down, saying why.

        Raises:
            ValidationError: on ``rejection_reason`` when blank or over 1,000 characters.
            InvalidTransitionError: the item is not pending.

        .. versionadded:: 0.3
        """
        clean = require_text(reason, "rejection_reason", max_length=1000)
        self._move(BookingItemStatus.REJECTED)
        self.rejection_reason = clean
        self.touch(now)

    def request_again(self, *, now: datetime) -> None:
        """Ask the supplier again after a rejection: back to pending, the reason kept.

        Raises:
            InvalidTransitionError: the item was not rejected.

        .. versionadded:: 0.3
        """
        self._move(BookingItemStatus.PENDING)
        self.touch(now)

    def cancel(self, *, now: datetime) -> None:
        """Cancel the item; it stops counting toward the booking's totals.

        Raises:
            InvalidTransitionError: the item is cancelled already.
        """
        self._move(BookingItemStatus.CANCELLED)
        self.touch(now)

    def touch(self, now: datetime) -> None:
        """Record that the item changed: new ``updated_at``, next version."""
        self.updated_at = ensure_aware(now, "now")
        self.version += 1

    def _move(self, target: BookingItemStatus) -> None:
        check_move("booking item", f"booking item {self.id}", _MOVES, self.status, target)
        self.status = target

    def _require_pending(self, field: str) -> None:
        if self.status is not BookingItemStatus.PENDING:
            msg = f"cannot change the {field} of a {self.status.value} item"
            raise ValidationError.single("status", msg, "not_pending")


def items_total(items: Iterable[BookingItem], currency: str) -> Money:
    """What the booking's line items add up to in ``currency``; cancelled items count nothing.

    Each item counts its :attr:`~BookingItem.booking_total`: its total converted
    at the rate recorded on it when it is priced in another currency.

    Raises:
        ValidationError: on ``items[<n>].unit_price`` for an item whose booking
            currency is not ``currency`` (cancelled ones too: a booking has one currency).

    .. versionadded:: 0.1
    .. versionchanged:: 0.3
       Items priced in a supplier's currency count at their recorded rate.
    """
    total = Money.zero(currency)
    for index, item in enumerate(items):
        if item.booking_currency != total.currency:
            msg = f"is in {item.booking_currency}; the booking is in {total.currency}"
            raise ValidationError.single(f"items[{index}].unit_price", msg, "currency_mismatch")
        if not item.is_cancelled:
            total += item.booking_total
    return total
