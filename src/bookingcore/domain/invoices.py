"""Invoices and credit notes with gapless numbers per series.

An :class:`InvoiceSeries` is a counter, one per year of issue and location
(key ``"2026/DL01"``). A number is taken from it with :meth:`InvoiceSeries.take`
while its row is locked (``invoice_series.get_for_update``), or with
``invoice_series.take_number`` (the same in one statement), in the same
transaction that stores the :class:`Invoice`: a transaction that fails gives its
number back with everything else, so a series has no gap and no number twice.

An invoice is issued for each captured payment; a credit note (negative lines,
``credited_invoice_id`` set) for each settled refund; a debit note (positive
lines, ``credited_invoice_id`` naming the credit note) for a settled refund the
provider reported failed afterwards, reversing its credit note, which stays as
issued. Each takes its
number from the series of its year of issue and its booking's location (a credit
note issued in 2027 for a 2026 invoice is numbered in 2027's series). Amounts are
:class:`~bookingcore.domain.values.Money`, never floats, and the totals are
checked when the document is built: ``total == subtotal - discount + tax``.

.. versionadded:: 0.2
"""

from __future__ import annotations

import enum
import functools
import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import NewType
from uuid import UUID

import attrs

from bookingcore.domain._validation import parse_choice, require_text
from bookingcore.domain.values import (
    BookingId,
    CustomerId,
    Money,
    PaymentId,
    RefundId,
    Versioned,
    ensure_aware,
)
from bookingcore.errors import ValidationError

__all__ = [
    "Invoice",
    "InvoiceId",
    "InvoiceKind",
    "InvoiceLine",
    "InvoiceSeries",
    "invoice_number",
    "priced_lines",
    "series_id",
    "series_key",
]

InvoiceId = NewType("InvoiceId", UUID)
InvoiceId.__doc__ = "The id of an invoice or credit note: a ``UUID`` kept apart from other ids."

#: Series ids derive from their keys, so a series is found (and locked) by its key.
_SERIES_NAMESPACE = uuid.UUID("0b6f3d2e-5c1a-4e8b-9f47-3a2d1c6e8b90")

#: How many digits the running number of an invoice number has.
_DIGITS = 6


class InvoiceKind(enum.StrEnum):
    """An invoice (money asked for or taken), a credit note (money given back), or a
    debit note (a credit note reversed: the refund it recorded failed afterwards).

    .. versionadded:: 0.2
    """

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    #: reverses a credit note whose refund failed after it succeeded
    #:
    #: .. versionadded:: 0.4
    DEBIT_NOTE = "debit_note"


_PREFIXES = {
    InvoiceKind.INVOICE: "INV",
    InvoiceKind.CREDIT_NOTE: "CN",
    InvoiceKind.DEBIT_NOTE: "DN",
}


def series_key(year: int, location_code: str) -> str:
    """The key of the series of ``year`` at the location with ``location_code``: ``"2026/DL01"``.

    Raises:
        ValidationError: on ``series_key`` when the year or code is unusable.
    """
    raw_code: object = location_code
    raw_year: object = year
    code = raw_code.strip().upper() if isinstance(raw_code, str) else ""
    if isinstance(raw_year, bool) or not isinstance(raw_year, int) or not 1 <= raw_year <= 9999:
        raise ValidationError.single("series_key", f"{year!r} is not a year", "invalid_year")
    if not code or "/" in code or any(ch.isspace() for ch in code):
        msg = f"{location_code!r} is not a location code"
        raise ValidationError.single("series_key", msg, "invalid_code")
    return f"{year:04d}/{code}"


def _check_key(value: object) -> str:
    if type(value) is str:
        return _checked_text_key(value)
    return _checked_key(value)


@functools.lru_cache(maxsize=256)
def _checked_text_key(value: str) -> str:
    # A capture checks its series' key six times (the series, its id, the number,
    # the invoice): the answer for a string never changes, and a bad key raises
    # every time (lru_cache keeps no exceptions).
    return _checked_key(value)


def _checked_key(value: object) -> str:
    key = require_text(value, "series_key", max_length=80)
    year, _, code = key.partition("/")
    if not (year.isdigit() and len(year) == 4):
        msg = f"{key!r} is not YEAR/LOCATION"
        raise ValidationError.single("series_key", msg, "invalid_series_key")
    return series_key(int(year), code)


def series_id(key: str) -> UUID:
    """The id of the series with ``key`` (derived from the key, the same everywhere).

    Raises:
        ValidationError: on ``series_key`` when ``key`` is not ``YEAR/LOCATION``.
    """
    raw: object = key
    if type(raw) is str:
        return _text_series_id(raw)
    return uuid.uuid5(_SERIES_NAMESPACE, _check_key(key))


@functools.lru_cache(maxsize=256)
def _text_series_id(key: str) -> UUID:
    # A name-based UUID costs a SHA-1 and more than the rest of taking a number.
    return uuid.uuid5(_SERIES_NAMESPACE, _check_key(key))


def invoice_number(kind: InvoiceKind, key: str, sequence: int) -> str:
    """The printed number: ``INV-2026-DL01-000042`` (``CN-...`` for a credit note,
    ``DN-...`` for a debit note).

    Raises:
        ValidationError: on ``series_key`` or ``sequence`` when unusable.
    """
    raw: object = sequence
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise ValidationError.single("sequence", "must be a whole number above zero", "invalid")
    year, _, code = _check_key(key).partition("/")
    return f"{_PREFIXES[InvoiceKind(kind)]}-{year}-{code}-{sequence:0{_DIGITS}d}"


@attrs.define(slots=False, kw_only=True)
class InvoiceSeries(Versioned):
    """A gapless counter of invoice numbers, unique by ``key`` (``"2026/DL01"``).

    Take numbers only from a series read with ``invoice_series.get_for_update``
    (or with ``invoice_series.take_number``), in the transaction that stores the
    invoice.

    Raises:
        ValidationError: on ``series_key`` or ``next_number`` when unusable.

    .. versionadded:: 0.2
    """

    key: str = attrs.field(converter=_check_key)
    next_number: int = 1
    version: int = 1
    id: UUID = attrs.field(default=attrs.Factory(lambda self: series_id(self.key), takes_self=True))

    entity_name = "invoice_series"

    def __attrs_post_init__(self) -> None:
        if self.id != series_id(self.key):
            msg = f"the id of series {self.key} is {series_id(self.key)}"
            raise ValidationError.single("id", msg, "invalid_series_id")
        if isinstance(self.next_number, bool) or not isinstance(self.next_number, int):
            raise ValidationError.single("next_number", "must be a whole number", "invalid")
        if self.next_number < 1:
            raise ValidationError.single("next_number", "must be at least 1", "invalid")

    def take(self) -> int:
        """The next number of the series, which moves on by one."""
        taken = self.next_number
        self.next_number += 1
        self.version += 1
        return taken


@attrs.frozen
class InvoiceLine:
    """One line of an invoice: ``quantity`` times ``unit_price`` is ``amount``.

    ``discount`` is the part of the document's discount this line carries
    (nothing by default); ``net`` is ``amount - discount``. ``tax_rate`` is a
    percentage (``Decimal("18")``) where taxes are configured, and ``tax`` the
    tax on ``net``: ``tax_amount`` when given (a line split out of a price that
    includes tax, :meth:`including_tax`), else ``net`` times the rate. ``total``
    is ``net + tax``. A credit note's lines have negative prices, discounts
    and taxes.

    Raises:
        ValidationError: on ``lines`` when the description is empty, the
            quantity is not a whole number above zero, the amount is not
            quantity times unit price, the discount or tax is in another
            currency, larger than the amount or of the other sign, or a tax
            amount is given without a rate.

    .. versionadded:: 0.2
    .. versionchanged:: 0.2 ``discount``, ``tax_amount``, ``net`` and ``total``.
    """

    description: str
    quantity: int
    unit_price: Money
    amount: Money
    tax_rate: Decimal | None = None
    discount: Money | None = None
    tax_amount: Money | None = None

    def __attrs_post_init__(self) -> None:
        object.__setattr__(
            self, "description", require_text(self.description, "lines", max_length=500)
        )
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int):
            raise ValidationError.single("lines", "quantity must be a whole number", "invalid")
        if self.quantity < 1:
            raise ValidationError.single("lines", "quantity must be at least 1", "invalid")
        if self.unit_price * self.quantity != self.amount:
            msg = f"{self.amount} is not {self.quantity} x {self.unit_price}"
            raise ValidationError.single("lines", msg, "inconsistent_line")
        rate: object = self.tax_rate
        if rate is not None and not (isinstance(rate, Decimal) and 0 <= rate <= 100):
            msg = "tax rate must be a Decimal percentage from 0 to 100"
            raise ValidationError.single("lines", msg, "invalid_tax_rate")
        if self.discount is not None:
            _within("discount", self.discount, self.amount)
        if self.tax_amount is not None:
            if self.tax_rate is None:
                msg = "a tax amount needs the tax rate it was worked out at"
                raise ValidationError.single("lines", msg, "tax_without_rate")
            _within("tax", self.tax_amount, self.amount)

    @classmethod
    def of(
        cls, description: str, unit_price: Money, quantity: int = 1, tax_rate: Decimal | None = None
    ) -> InvoiceLine:
        """A line of ``quantity`` at ``unit_price``, its amount worked out."""
        return cls(description, quantity, unit_price, unit_price * quantity, tax_rate)

    @classmethod
    def including_tax(
        cls,
        description: str,
        price: Money,
        *,
        tax_rate: Decimal | None,
        discount: Money | None = None,
    ) -> InvoiceLine:
        """One line of a ``price`` that includes tax at ``tax_rate`` (and ``discount``, if any).

        The price (and the discount) are split into the amount before tax and
        the tax it holds, each rounded to the currency's minor unit, so that
        the line's ``total`` is exactly ``price - discount``: what the
        customer pays is never changed by the split. Without a rate the line
        is ``price`` with ``discount`` and no tax.

        Raises:
            ValidationError: on ``lines`` as the class does.
        """
        zero = Money.zero(price.currency)
        off = discount if discount is not None else zero
        if not tax_rate:
            return cls(description, 1, price, price, tax_rate, off if off.amount else None)
        paid = price - off
        tax = Money(paid.amount * tax_rate / (_HUNDRED + tax_rate), price.currency)
        if not off.amount:
            return cls(description, 1, paid - tax, paid - tax, tax_rate, None, tax)
        net = Money(price.amount * _HUNDRED / (_HUNDRED + tax_rate), price.currency)
        # net - net discount + tax == price - discount, to the minor unit
        net_off = net - (paid - tax)
        if net_off.amount and net_off.is_negative() != net.is_negative():
            net, net_off = paid - tax, zero  # both halves rounded away: the net price takes it
        return cls(description, 1, net, net, tax_rate, net_off if net_off.amount else None, tax)

    @property
    def net(self) -> Money:
        """The line's amount less its discount: what its tax is worked out on."""
        return self.amount if self.discount is None else self.amount - self.discount

    @property
    def tax(self) -> Money:
        """The tax on this line (nothing without a rate)."""
        if self.tax_amount is not None:
            return self.tax_amount
        if self.tax_rate is None:
            return Money.zero(self.amount.currency)
        return self.net.percent(self.tax_rate)

    @property
    def total(self) -> Money:
        """What the line comes to: its net amount plus its tax."""
        return self.net + self.tax


_HUNDRED = Decimal(100)


def _within(what: str, part: Money, amount: Money) -> None:
    """``part`` of a line's ``amount``: same currency, same sign, not larger."""
    if part.currency != amount.currency:
        msg = f"the {what} is in {part.currency}; the line is in {amount.currency}"
        raise ValidationError.single("lines", msg, "currency_mismatch")
    if part.amount and (
        part.is_negative() != amount.is_negative() or abs(part.amount) > abs(amount.amount)
    ):
        msg = f"the {what} {part} does not fit the line's {amount}"
        raise ValidationError.single("lines", msg, f"invalid_{what}")


def priced_lines(
    items: Iterable[tuple[str, Money]], discount: Money, tax_rate: Decimal | None
) -> tuple[InvoiceLine, ...]:
    """Invoice lines for ``items`` (description, price including any tax) less ``discount``.

    The discount is shared out over the lines in proportion to their prices,
    in whole minor units (the remainder going to the largest shares first),
    so the lines' discounts add up to it exactly; then each line is split
    with :meth:`InvoiceLine.including_tax`. The lines' totals add up to the
    sum of the prices less the discount.

    Raises:
        ValidationError: on ``lines`` when there is no item, prices are in
            several currencies or negative, or the discount is larger than
            their sum.

    .. versionadded:: 0.2
    """
    priced = list(items)
    if not priced:
        raise ValidationError.single("lines", "at least one line is required", "required")
    currency = discount.currency
    if any(price.currency != currency for _, price in priced):
        raise ValidationError.single("lines", f"prices must be in {currency}", "currency_mismatch")
    total = sum((price for _, price in priced), Money.zero(currency))
    if (
        any(price.is_negative() for _, price in priced)
        or discount > total
        or discount.is_negative()
    ):
        msg = f"a discount of {discount} does not fit prices adding up to {total}"
        raise ValidationError.single("lines", msg, "invalid_discount")
    shares = _shares(discount, [price for _, price in priced], total)
    return tuple(
        InvoiceLine.including_tax(text, price, tax_rate=tax_rate, discount=share)
        for (text, price), share in zip(priced, shares, strict=True)
    )


def _shares(discount: Money, prices: list[Money], total: Money) -> list[Money]:
    """``discount`` split over ``prices`` in proportion, in whole minor units, adding up exactly."""
    if not discount.amount:
        return [Money.zero(discount.currency) for _ in prices]
    units = discount.minor_units
    exact = [Decimal(units) * p.amount / total.amount for p in prices]
    whole = [int(x) for x in exact]  # floor: shares are not negative
    left = units - sum(whole)
    by_remainder = sorted(range(len(prices)), key=lambda i: (whole[i] - exact[i], i))
    for i in by_remainder[:left]:
        whole[i] += 1
    return [Money.from_minor_units(n, discount.currency) for n in whole]


def _lines(value: Iterable[InvoiceLine]) -> tuple[InvoiceLine, ...]:
    lines = tuple(value)
    if not all(isinstance(line, InvoiceLine) for line in lines):
        raise ValidationError.single("lines", "must be invoice lines", "invalid_type")
    return lines


def _kind(value: object) -> InvoiceKind:
    return parse_choice(InvoiceKind, value, "kind", what="an invoice kind")


@attrs.define(slots=False, kw_only=True)
class Invoice(Versioned):
    """An invoice for a captured payment, a credit note for a settled refund, or a
    debit note reversing the credit note of a refund that failed after it settled.

    ``number`` is made from the series key and ``sequence``
    (:func:`invoice_number`). ``paid`` is the money this document is about
    (a payment's captured amount; negative on a credit note: money given
    back; positive on a debit note: money the business holds again); ``due``
    is what the booking still owes after it. ``credited_invoice_id`` names the
    document this one corrects: the invoice a credit note credits, the credit
    note a debit note reverses; ``refund_id`` the refund both are about.

    Invariants: at least one line; every amount in ``currency``; ``subtotal``
    is the sum of the lines, ``tax`` the sum of their taxes, and ``total ==
    subtotal - discount + tax``; an invoice's lines, discount and total are not
    negative, a credit note's lines and total are negative and it names the
    invoice it credits, a debit note's lines and total are positive, with no
    discount, and it names the credit note it reverses and its refund; ``due``
    is never negative.

    Raises:
        ValidationError: naming the field that breaks an invariant.

    .. versionadded:: 0.2
    """

    id: InvoiceId
    kind: InvoiceKind = attrs.field(converter=_kind)
    series_key: str = attrs.field(converter=_check_key)
    sequence: int
    number: str
    booking_id: BookingId
    customer_id: CustomerId
    payment_id: PaymentId
    issued_at: datetime
    currency: str
    lines: tuple[InvoiceLine, ...] = attrs.field(converter=_lines)
    subtotal: Money
    discount: Money
    tax: Money
    total: Money
    paid: Money
    due: Money
    refund_id: RefundId | None = None
    credited_invoice_id: InvoiceId | None = None
    version: int = 1

    entity_name = "invoice"

    def __attrs_post_init__(self) -> None:
        expected = invoice_number(self.kind, self.series_key, self.sequence)
        if self.number != expected:
            msg = f"{self.number!r} is not {expected!r}, the number of its series and sequence"
            raise ValidationError.single("number", msg, "inconsistent_number")
        self.issued_at = ensure_aware(self.issued_at, "issued_at")
        if not self.lines:
            raise ValidationError.single("lines", "at least one line is required", "required")
        self._check_currency()
        self._check_totals()
        self._check_kind()

    def _check_currency(self) -> None:
        self.currency = Money.zero(self.currency).currency
        amounts = [
            ("subtotal", self.subtotal),
            ("discount", self.discount),
            ("tax", self.tax),
            ("total", self.total),
            ("paid", self.paid),
            ("due", self.due),
        ]
        amounts += [("lines", line.unit_price) for line in self.lines]
        amounts += [("lines", line.amount) for line in self.lines]
        for field, amount in amounts:
            if amount.currency != self.currency:
                msg = f"is in {amount.currency}; the invoice is in {self.currency}"
                raise ValidationError.single(field, msg, "currency_mismatch")

    def _check_totals(self) -> None:
        subtotal = sum((line.amount for line in self.lines), Money.zero(self.currency))
        if subtotal != self.subtotal:
            msg = f"{self.subtotal} is not the sum of the lines, {subtotal}"
            raise ValidationError.single("subtotal", msg, "inconsistent_subtotal")
        tax = sum((line.tax for line in self.lines), Money.zero(self.currency))
        if tax != self.tax:
            msg = f"{self.tax} is not the sum of the lines' taxes, {tax}"
            raise ValidationError.single("tax", msg, "inconsistent_tax")
        line_discounts = [line.discount for line in self.lines if line.discount is not None]
        if line_discounts and sum(line_discounts, Money.zero(self.currency)) != self.discount:
            msg = f"{self.discount} is not the sum of the lines' discounts"
            raise ValidationError.single("discount", msg, "inconsistent_discount")
        if self.subtotal - self.discount + self.tax != self.total:
            msg = f"{self.total} is not {self.subtotal} minus {self.discount} plus {self.tax}"
            raise ValidationError.single("total", msg, "inconsistent_total")
        if self.due.is_negative():
            raise ValidationError.single("due", "must not be negative", "negative")

    def _check_kind(self) -> None:
        if self.kind is InvoiceKind.INVOICE:
            if self.credited_invoice_id is not None or self.refund_id is not None:
                msg = "only a credit note credits an invoice"
                raise ValidationError.single("credited_invoice_id", msg, "not_a_credit_note")
            for field in ("discount", "total", "paid"):
                if getattr(self, field).is_negative():
                    raise ValidationError.single(field, "must not be negative", "negative")
            if any(line.amount.is_negative() for line in self.lines):
                raise ValidationError.single("lines", "must not be negative", "negative")
            return
        if self.kind is InvoiceKind.DEBIT_NOTE:
            self._check_debit_note()
            return
        if self.credited_invoice_id is None:
            msg = "a credit note names the invoice it credits"
            raise ValidationError.single("credited_invoice_id", msg, "required")
        if any(not line.amount.is_negative() for line in self.lines):
            msg = "a credit note's lines are negative"
            raise ValidationError.single("lines", msg, "not_negative")
        if self.discount.amount != 0 or not self.total.is_negative():
            msg = "a credit note has no discount and a negative total"
            raise ValidationError.single("total", msg, "not_negative")

    def _check_debit_note(self) -> None:
        if self.credited_invoice_id is None:
            msg = "a debit note names the credit note it reverses"
            raise ValidationError.single("credited_invoice_id", msg, "required")
        if self.refund_id is None:
            msg = "a debit note names the refund whose credit note it reverses"
            raise ValidationError.single("refund_id", msg, "required")
        if any(not line.amount.amount > 0 for line in self.lines):
            msg = "a debit note's lines are above zero"
            raise ValidationError.single("lines", msg, "not_positive")
        if self.discount.amount != 0 or self.total.amount <= 0 or self.paid.is_negative():
            msg = "a debit note has no discount, a total above zero and nothing paid back"
            raise ValidationError.single("total", msg, "not_positive")

    @property
    def is_credit_note(self) -> bool:
        """True for a credit note."""
        return self.kind is InvoiceKind.CREDIT_NOTE

    @property
    def is_debit_note(self) -> bool:
        """True for a debit note (a credit note reversed).

        .. versionadded:: 0.4
        """
        return self.kind is InvoiceKind.DEBIT_NOTE
