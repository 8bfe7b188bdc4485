"""Invoices and credit notes with gapless numbers per series.

An :class:`InvoiceSeries` is a counter, one per year of issue and location
(key ``"2026/DL01"``). A number is taken from it with :meth:`InvoiceSeries.take`
while its row is locked (``invoice_series.get_for_update``), in the same
transaction that stores the :class:`Invoice`: a transaction that fails gives its
number back with everything else, so a series has no gap and no number twice.

An invoice is issued for each captured payment; a credit note (negative lines,
``credited_invoice_id`` set) for each settled refund, from the same series as
the invoice it credits. Amounts are :class:`~bookingcore.domain.values.Money`,
never floats, and the totals are checked when the document is built:
``total == subtotal - discount + tax``.

.. versionadded:: 0.2
"""

from __future__ import annotations

import enum
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
    """An invoice (money asked for or taken) or a credit note (money given back).

    .. versionadded:: 0.2
    """

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


_PREFIXES = {InvoiceKind.INVOICE: "INV", InvoiceKind.CREDIT_NOTE: "CN"}


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
    return uuid.uuid5(_SERIES_NAMESPACE, _check_key(key))


def invoice_number(kind: InvoiceKind, key: str, sequence: int) -> str:
    """The printed number: ``INV-2026-DL01-000042`` (``CN-...`` for a credit note).

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

    Take numbers only from a series read with ``invoice_series.get_for_update``,
    in the transaction that stores the invoice.

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

    ``tax_rate`` is a percentage (``Decimal("18")``) where taxes are configured.
    A credit note's lines have negative prices.

    Raises:
        ValidationError: on ``lines`` when the description is empty, the
            quantity is not a whole number above zero, or the amount is not
            quantity times unit price.

    .. versionadded:: 0.2
    """

    description: str
    quantity: int
    unit_price: Money
    amount: Money
    tax_rate: Decimal | None = None

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

    @classmethod
    def of(
        cls, description: str, unit_price: Money, quantity: int = 1, tax_rate: Decimal | None = None
    ) -> InvoiceLine:
        """A line of ``quantity`` at ``unit_price``, its amount worked out."""
        return cls(description, quantity, unit_price, unit_price * quantity, tax_rate)

    @property
    def tax(self) -> Money:
        """The tax on this line's amount (nothing without a rate)."""
        if self.tax_rate is None:
            return Money.zero(self.amount.currency)
        return self.amount.percent(self.tax_rate)


def _lines(value: Iterable[InvoiceLine]) -> tuple[InvoiceLine, ...]:
    lines = tuple(value)
    if not all(isinstance(line, InvoiceLine) for line in lines):
        raise ValidationError.single("lines", "must be invoice lines", "invalid_type")
    return lines


def _kind(value: object) -> InvoiceKind:
    return parse_choice(InvoiceKind, value, "kind", what="an invoice kind")


@attrs.define(slots=False, kw_only=True)
class Invoice(Versioned):
    """An invoice for a captured payment, or a credit note for a settled refund.

    ``number`` is made from the series key and ``sequence``
    (:func:`invoice_number`). ``paid`` is the money this document is about
    (a payment's captured amount; negative on a credit note: money given
    back); ``due`` is what the booking still owes after it.

    Invariants: at least one line; every amount in ``currency``; ``subtotal``
    is the sum of the lines, ``tax`` the sum of their taxes, and ``total ==
    subtotal - discount + tax``; an invoice's lines, discount and total are not
    negative, a credit note's lines and total are negative and it names the
    invoice it credits; ``due`` is never negative.

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
        if self.credited_invoice_id is None:
            msg = "a credit note names the invoice it credits"
            raise ValidationError.single("credited_invoice_id", msg, "required")
        if any(not line.amount.is_negative() for line in self.lines):
            msg = "a credit note's lines are negative"
            raise ValidationError.single("lines", msg, "not_negative")
        if self.discount.amount != 0 or not self.total.is_negative():
            msg = "a credit note has no discount and a negative total"
            raise ValidationError.single("total", msg, "not_negative")

    @property
    def is_credit_note(self) -> bool:
        """True for a credit note."""
        return self.kind is InvoiceKind.CREDIT_NOTE
