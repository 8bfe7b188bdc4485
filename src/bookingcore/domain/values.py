"""Value objects: a value object that exists is valid.

:class:`PhoneNumber`, :class:`EmailAddress` and :class:`Money` validate and
normalise in their constructor and raise :class:`~bookingcore.errors.ValidationError`
naming the field, so code holding one never checks it again.

.. versionadded:: 0.1
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import NewType, Self
from uuid import UUID

import attrs
import email_validator
import phonenumbers

from bookingcore.domain._currencies import MINOR_UNITS
from bookingcore.errors import StaleVersionError, ValidationError

__all__ = [
    "Actor",
    "ActorKind",
    "BookingGroupId",
    "BookingId",
    "BookingItemId",
    "CommunicationId",
    "CustomerId",
    "DocumentId",
    "EmailAddress",
    "LeadId",
    "LocationId",
    "Money",
    "PartnerId",
    "PaymentId",
    "PhoneNumber",
    "ProductId",
    "QuotationId",
    "RefundId",
    "RequestOrigin",
    "SlotId",
    "StaffId",
    "SupplierId",
    "TravelerId",
    "TripId",
    "Versioned",
    "WaitlistEntryId",
    "ensure_aware",
]

CustomerId = NewType("CustomerId", UUID)
TravelerId = NewType("TravelerId", UUID)
LocationId = NewType("LocationId", UUID)
ProductId = NewType("ProductId", UUID)
SupplierId = NewType("SupplierId", UUID)
SlotId = NewType("SlotId", UUID)
BookingId = NewType("BookingId", UUID)
BookingGroupId = NewType("BookingGroupId", UUID)
PartnerId = NewType("PartnerId", UUID)
StaffId = NewType("StaffId", UUID)
CommunicationId = NewType("CommunicationId", UUID)
DocumentId = NewType("DocumentId", UUID)
BookingItemId = NewType("BookingItemId", UUID)
WaitlistEntryId = NewType("WaitlistEntryId", UUID)
PaymentId = NewType("PaymentId", UUID)
RefundId = NewType("RefundId", UUID)
LeadId = NewType("LeadId", UUID)
QuotationId = NewType("QuotationId", UUID)
TripId = NewType("TripId", UUID)

_ID_DOCS = {
    CustomerId: "a customer (the booker)",
    TravelerId: "a traveler saved by a customer",
    LocationId: "a location (dealer, dive centre, base camp)",
    ProductId: "a product (trek, course, car variant)",
    SupplierId: "a supplier",
    SlotId: "a slot (a dated, capacity-limited thing to book)",
    BookingId: "a booking",
    BookingGroupId: "a booking group (corporate or group bookings)",
    PartnerId: "a third-party partner",
    StaffId: "a staff member",
    CommunicationId: "a logged communication (SMS, email, ...)",
    DocumentId: "a generated document",
    BookingItemId: "a booking's line item",
    WaitlistEntryId: "a waiting-list entry",
    PaymentId: "a payment",
    RefundId: "a refund",
    LeadId: "a sales lead (travel enquiry)",
    QuotationId: "one version of a quotation",
    TripId: "a trip (a customer's bookings grouped as one journey)",
}
for _id_type, _what in _ID_DOCS.items():
    _id_type.__doc__ = (
        f"The id of {_what}: a ``UUID`` that type checkers keep apart from other ids."
    )
del _id_type, _what


def ensure_aware(value: datetime, field: str) -> datetime:
    """Return ``value`` in UTC, refusing naive datetimes (their zone is a guess).

    Raises:
        ValidationError: ``value`` is not a datetime (a date, text: ``invalid_type``),
            has no ``tzinfo`` (``naive_datetime``), or lies outside the years 1-9999
            once in UTC (``out_of_range``).
    """
    given: object = value
    if not isinstance(given, datetime):
        raise ValidationError.single(field, "must be a date and time", "invalid_type")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError.single(
            field, "must be timezone-aware (naive datetimes are ambiguous)", "naive_datetime"
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:
        msg = "must fall within the years 1-9999 in UTC"
        raise ValidationError.single(field, msg, "out_of_range") from None


# --------------------------------------------------------------------------- phone


def _parse_phone(raw: str, region: str | None, field: str) -> str:
    if not isinstance(raw, str):
        raise ValidationError.single(field, "must be a string", "invalid_phone")
    text = raw.strip()
    if not text:
        raise ValidationError.single(field, "is required", "required")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        hint = "" if region else " (use international format, e.g. +919876543210)"
        msg = f"{raw!r} is not a phone number{hint}: {exc._msg}"
        raise ValidationError.single(field, msg, "invalid_phone") from None
    if not phonenumbers.is_valid_number(parsed):
        msg = f"{raw!r} is not a valid phone number"
        raise ValidationError.single(field, msg, "invalid_phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _phone_converter(value: object) -> str:
    if isinstance(value, PhoneNumber):
        return value.e164
    return _parse_phone(value, None, "phone")  # type: ignore[arg-type]


@attrs.frozen(order=True)
class PhoneNumber:
    """A valid phone number, kept in E.164 form (``+919876543210``).

    ``PhoneNumber("+91 98765-43210")`` works for numbers written with their
    country code; use :meth:`parse` with a ``region`` for national formats.
    Two numbers are equal exactly when they dial the same line.

    Raises:
        ValidationError: on ``field="phone"`` when the text is not a valid number.

    .. versionadded:: 0.1
    """

    e164: str = attrs.field(converter=_phone_converter)

    @classmethod
    def parse(cls, raw: str, *, region: str | None = None, field: str = "phone") -> Self:
        """Parse ``raw`` as written by a person.

        Args:
            raw: the number in any common notation (spaces, dashes, brackets, ``00``).
            region: ISO 3166 alpha-2 region used when ``raw`` has no country code
                (``"IN"`` reads ``09876543210`` as ``+919876543210``).
            field: the field name to put on the error.

        Raises:
            ValidationError: the text is not a valid phone number.
        """
        return cls.from_stored(_parse_phone(raw, region, field))

    @classmethod
    def from_stored(cls, e164: str) -> Self:
        """A number this library validated before, read back as stored, unchecked.

        For storage adapters and caches only: it skips the parsing that makes a
        :class:`PhoneNumber` trustworthy, so never pass it text a person typed.
        """
        number = object.__new__(cls)
        object.__setattr__(number, "e164", e164)
        return number

    @property
    def region(self) -> str | None:
        """The ISO 3166 region the number belongs to (``"IN"``), if known."""
        return phonenumbers.region_code_for_number(phonenumbers.parse(self.e164))

    def national(self) -> str:
        """The number formatted the way it is dialled inside its own country."""
        return phonenumbers.format_number(
            phonenumbers.parse(self.e164), phonenumbers.PhoneNumberFormat.NATIONAL
        )

    def masked(self) -> str:
        """The number with all but the last four digits hidden, for logs and receipts."""
        return self.e164[:3] + "*" * (len(self.e164) - 7) + self.e164[-4:]

    def __str__(self) -> str:
        return self.e164

    def __deepcopy__(self, memo: dict[int, object]) -> PhoneNumber:
        return self  # immutable

    def __reduce__(self) -> tuple[Callable[[str], PhoneNumber], tuple[str]]:
        # Pickled as its E.164 text, read back as stored (it was checked when made).
        return type(self).from_stored, (self.e164,)


# --------------------------------------------------------------------------- email


def _normalise_email(value: object, field: str = "email") -> str:
    if isinstance(value, EmailAddress):
        return value.value
    if not isinstance(value, str) or not value.strip():
        raise ValidationError.single(field, "is required", "required")
    try:
        info = email_validator.validate_email(value.strip(), check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        msg = f"{value!r} is not a valid email address: {exc}"
        raise ValidationError.single(field, msg, "invalid_email") from None
    return info.normalized


@attrs.frozen(order=True)
class EmailAddress:
    """A syntactically valid email address in normalised form.

    The domain is lower-cased and internationalised names are normalised; no
    network look-up is made.

    Raises:
        ValidationError: on ``field="email"`` when the address is malformed.

    .. versionadded:: 0.1
    """

    value: str = attrs.field(converter=_normalise_email)

    @classmethod
    def parse(cls, raw: str, *, field: str = "email") -> Self:
        """Validate ``raw``, reporting a problem under ``field``."""
        return cls.from_stored(_normalise_email(raw, field))

    @classmethod
    def from_stored(cls, value: str) -> Self:
        """An address this library normalised before, read back as stored, unchecked.

        For storage adapters and caches only; never pass it text a person typed.
        """
        address = object.__new__(cls)
        object.__setattr__(address, "value", value)
        return address

    @property
    def domain(self) -> str:
        """The part after the ``@``."""
        return self.value.rpartition("@")[2]

    @property
    def match_key(self) -> str:
        """The address as customers, staff and partners are matched by it: case folded,
        local part too.

        The address is kept as it was given (``Ann@example.com``); finding a
        customer, a staff member or a partner (its contact email) by email
        compares this key, so ``ann@example.com`` finds them, as most mail
        providers treat the local part without regard to case. Staff emails and
        partners' contact emails are unique by this key.

        .. versionadded:: 0.4
        """
        return self.value.casefold()

    def __str__(self) -> str:
        return self.value

    def __deepcopy__(self, memo: dict[int, object]) -> EmailAddress:
        return self  # immutable

    def __reduce__(self) -> tuple[Callable[[str], EmailAddress], tuple[str]]:
        # Pickled as its normalised text, read back as stored (it was checked when made).
        return type(self).from_stored, (self.value,)


# --------------------------------------------------------------------------- money


#: The largest amount, in major units, a :class:`Money` may hold (either sign): every
#: amount, total and price then fits the SQL adapter's ``NUMERIC(18, 4)`` columns.
MAX_AMOUNT = Decimal(10) ** 12
#: Each currency's minor unit as a quantum (``Decimal("0.01")`` for INR), and its zero.
_EXPONENTS = {code: Decimal(1).scaleb(-units) for code, units in MINOR_UNITS.items()}
_ZEROS = {code: Decimal(0).quantize(exponent) for code, exponent in _EXPONENTS.items()}
_NOUGHT = Decimal(0)


def _to_decimal(value: object, field: str = "amount") -> Decimal:
    if isinstance(value, (bool, float)):
        msg = "must be a Decimal, int or numeric string (floats are not exact)"
        raise ValidationError.single(field, msg, "inexact_amount")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            raise ValidationError.single(
                field, f"{value!r} is not a number", "invalid_amount"
            ) from None
    else:
        raise ValidationError.single(field, f"{value!r} is not a number", "invalid_amount")
    if not result.is_finite():
        raise ValidationError.single(field, "must be a finite number", "invalid_amount")
    if abs(result) > MAX_AMOUNT:
        msg = f"must be between -{MAX_AMOUNT:,} and {MAX_AMOUNT:,}"
        raise ValidationError.single(field, msg, "out_of_range")
    return result


def _currency_code(value: object) -> str:
    if type(value) is str and value in MINOR_UNITS:  # already a code, as most are
        return value
    code = value.strip().upper() if isinstance(value, str) else value
    if not isinstance(code, str) or code not in MINOR_UNITS:
        msg = f"{value!r} is not an ISO 4217 currency code"
        raise ValidationError.single("currency", msg, "invalid_currency")
    return code


@attrs.frozen(eq=True, order=False)
class Money:
    """An exact amount in one currency, rounded to that currency's minor unit.

    Amounts are :class:`~decimal.Decimal`; floats are refused. Rounding is half
    up (``2.345 INR`` becomes ``2.35 INR``; ``JPY`` has no minor unit). Adding or
    comparing two currencies raises :class:`~bookingcore.errors.ValidationError`.

    .. versionadded:: 0.1
    """

    amount: Decimal = attrs.field(converter=_to_decimal)
    currency: str = attrs.field(converter=_currency_code)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "amount", self._round(self.amount, self.currency))

    @staticmethod
    def _round(amount: Decimal, currency: str) -> Decimal:
        if abs(amount) > MAX_AMOUNT:  # sums and products are checked here
            msg = f"must be between -{MAX_AMOUNT:,} and {MAX_AMOUNT:,}"
            raise ValidationError.single("amount", msg, "out_of_range")
        rounded = amount.quantize(_EXPONENTS[currency], rounding=ROUND_HALF_UP)
        return rounded + Decimal(0) if rounded.is_zero() else rounded  # no "-0.00"

    @classmethod
    def _exact(cls, amount: Decimal, currency: str) -> Self:
        """Money from the sum or difference of two amounts of ``currency`` that are
        already rounded to its minor unit: exact as it is, so only its range is checked.

        Prices are added up many times a booking (subtotal, discount, total, the
        items); converting and rounding each result again cost more than the rest
        of pricing a booking.
        """
        if abs(amount) > MAX_AMOUNT:
            msg = f"must be between -{MAX_AMOUNT:,} and {MAX_AMOUNT:,}"
            raise ValidationError.single("amount", msg, "out_of_range")
        money = object.__new__(cls)
        object.__setattr__(money, "amount", amount + _NOUGHT if amount.is_zero() else amount)
        object.__setattr__(money, "currency", currency)
        return money

    @classmethod
    def summed(cls, amount: Decimal, currency: str) -> Self:
        """What many amounts of ``currency`` add up to, as a report gives it: rounded to
        the currency's minor unit (half up) like any Money, but not held to
        :data:`MAX_AMOUNT`.

        ``MAX_AMOUNT`` bounds one price, total or payment (what storage keeps); a
        year's revenue in VND or IDR passes it. Adding to or multiplying such a sum
        is held to the bound again.

        Raises:
            ValidationError: ``amount`` is not a finite Decimal, or ``currency`` is
                not an ISO 4217 code.

        .. versionadded:: 0.4
        """
        code = _currency_code(currency)
        given: object = amount  # checked at run time, whatever the caller's types said
        if not isinstance(given, Decimal) or not given.is_finite():
            raise ValidationError.single("amount", "must be a finite Decimal", "invalid_amount")
        rounded = given.quantize(_EXPONENTS[code], rounding=ROUND_HALF_UP)
        money = object.__new__(cls)
        object.__setattr__(money, "amount", rounded + _NOUGHT if rounded.is_zero() else rounded)
        object.__setattr__(money, "currency", code)
        return money

    @classmethod
    def zero(cls, currency: str) -> Self:
        """Nothing, in ``currency``.

        Money is immutable, so every zero of a currency is one shared object: a
        booking's discount and items total are zero most of the time.
        """
        if cls is Money:
            shared = _ZERO_MONEY.get(currency)
            if shared is not None:
                return shared  # type: ignore[return-value]  # cls is Money
        code = _currency_code(currency)
        return cls._exact(_ZEROS[code], code)

    @classmethod
    def parse(cls, amount: object, currency: object, *, field: str = "price") -> Self:
        """Build from loose input, reporting problems under ``field``."""
        try:
            return cls(_to_decimal(amount, f"{field}.amount"), currency)
        except ValidationError as exc:
            if exc.fields == ("currency",):
                raise exc.prefixed(field) from None
            raise

    @classmethod
    def from_minor_units(cls, units: int, currency: str) -> Self:
        """``units`` of ``currency``'s minor unit (paise, cents; yen for JPY, fils for KWD).

        Payment providers count in minor units: ``Money.from_minor_units(1050, "INR")``
        is 10.50 INR, ``Money.from_minor_units(1050, "JPY")`` is 1,050 JPY.

        Raises:
            ValidationError: ``units`` is not a whole number, or ``currency`` is unknown.

        .. versionadded:: 0.2
        """
        if isinstance(units, bool) or not isinstance(units, int):
            raise ValidationError.single(
                "amount", "must be a whole number of minor units", "invalid_amount"
            )
        code = _currency_code(currency)
        return cls(Decimal(units).scaleb(-MINOR_UNITS[code]), code)

    @property
    def minor_units(self) -> int:
        """The amount in minor units (paise, cents) as an integer."""
        return int(self.amount.scaleb(MINOR_UNITS[self.currency]))

    def _same_currency(self, other: Money, field: str = "currency") -> None:
        if self.currency != other.currency:
            msg = f"cannot combine {self.currency} with {other.currency}"
            raise ValidationError.single(field, msg, "currency_mismatch")

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        # Money is immutable: adding nothing gives the other amount itself, no new object.
        if not other.amount and type(self) is Money:
            return self
        if not self.amount and type(other) is Money:
            return other
        return Money._exact(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        if not other.amount and type(self) is Money:
            return self
        return Money._exact(self.amount - other.amount, self.currency)

    def __mul__(self, factor: int | Decimal) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int | Decimal):
            return NotImplemented
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount < other.amount

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount <= other.amount

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount > other.amount

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount >= other.amount

    def is_negative(self) -> bool:
        """True when the amount is below zero."""
        return self.amount < 0

    def percent(self, rate: Decimal) -> Money:
        """``rate`` percent of this amount, rounded to the minor unit."""
        return Money(self.amount * rate / Decimal(100), self.currency)

    def __str__(self) -> str:
        return f"{self.amount:,} {self.currency}"

    def __deepcopy__(self, memo: dict[int, object]) -> Money:
        return self  # immutable


#: One shared zero per currency (:meth:`Money.zero`); Money is immutable.
_ZERO_MONEY = {code: Money._exact(zero, code) for code, zero in _ZEROS.items()}


# --------------------------------------------------------------------------- actors


class ActorKind(enum.StrEnum):
    """Who did something, as recorded on bookings, events and audit entries.

    .. versionadded:: 0.1
    """

    CUSTOMER = "customer"
    STAFF = "staff"
    PARTNER = "partner"
    SUPPLIER = "supplier"
    WEBHOOK = "webhook"
    SYSTEM = "system"


@attrs.frozen
class Actor:
    """The record of who acted: a kind and, where there is one, an id.

    .. versionadded:: 0.1
    """

    kind: ActorKind = attrs.field(converter=ActorKind)
    id: str | None = None

    @classmethod
    def system(cls, name: str | None = None) -> Self:
        """The library or a host job acting on its own (``name`` says which)."""
        return cls(ActorKind.SYSTEM, name)

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.id}" if self.id else self.kind.value


@attrs.frozen
class RequestOrigin:
    """Where a request came from, as a host knows it: kept on audit entries.

    .. versionadded:: 0.1
    """

    ip_address: str | None = None
    user_agent: str | None = None


class Versioned:
    """Mixin for entities with an optimistic ``version`` counter.

    .. versionadded:: 0.1
    """

    id: object
    version: int
    entity_name = "record"

    def check_version(self, expected: int | None) -> None:
        """Refuse to go on when the caller read an older version.

        Raises:
            StaleVersionError: ``expected`` is given and differs from ``version``.
        """
        if expected is not None and expected != self.version:
            raise StaleVersionError(self.entity_name, self.id, expected, self.version)
