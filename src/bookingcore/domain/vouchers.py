"""Vouchers (promo codes such as ``SUMMER10``): a percent or a fixed amount off a booking.

A :class:`Voucher` has a code (case-insensitive: stored upper-case, spaces
trimmed), takes a percent or a fixed :class:`~bookingcore.domain.values.Money`
amount off each booking it is used on, and may be limited: a validity window
(``valid_from`` inclusive, ``valid_until`` exclusive, instants), some products
and/or locations, a number of uses in all and per customer, a smallest party,
and an active flag.

How it combines with group discount tiers: the tier applies first, to the
subtotal; the voucher then takes its percent of what is left, or its fixed
amount, never more than what is left: the total never goes below zero (see
:func:`~bookingcore.domain.pricing.price_booking`). A booking keeps the code and
the amount it took off (``Booking.voucher_code`` and ``Booking.voucher_discount``);
when its travelers or slot change later, the same amount comes off again, at
most what the new tier leaves.

Every refusal is a :class:`~bookingcore.errors.ValidationError` on field
``voucher_code``, its code saying why: ``unknown``, ``inactive``,
``not_yet_valid``, ``expired``, ``used_up``, ``used_up_by_customer``,
``not_for_this_slot``, ``currency_mismatch`` and ``too_few_travelers``.

.. versionadded:: 0.4
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any, NewType
from uuid import UUID

import attrs

from bookingcore.domain._validation import Problems, clean_text
from bookingcore.domain.slots import Slot
from bookingcore.domain.values import (
    BookingId,
    CustomerId,
    LocationId,
    Money,
    ProductId,
    Versioned,
    ensure_aware,
)
from bookingcore.errors import ValidationError

__all__ = [
    "PERCENT_PLACES",
    "VOUCHER_FIELD",
    "Voucher",
    "VoucherFilter",
    "VoucherId",
    "VoucherRedemption",
    "VoucherRedemptionId",
    "normalise_code",
    "plain_percent",
]

VoucherId = NewType("VoucherId", UUID)
VoucherRedemptionId = NewType("VoucherRedemptionId", UUID)

#: The field every refusal of a voucher names.
VOUCHER_FIELD = "voucher_code"

_CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]{2,39}")
#: The decimal places a percent off keeps: every store holds it to four (``NUMERIC(7, 4)``
#: on PostgreSQL, which would round a finer one), so a finer one is refused.
PERCENT_PLACES = 4


def _places(rate: Decimal) -> int:
    exponent = rate.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


#: Fields :meth:`Voucher.change` may change.
CHANGEABLE = (
    "percent_off",
    "amount_off",
    "valid_from",
    "valid_until",
    "product_ids",
    "location_ids",
    "max_uses",
    "max_uses_per_customer",
    "min_travelers",
    "active",
    "description",
)


def normalise_code(code: object, field: str = VOUCHER_FIELD) -> str:
    """``code`` as stored: spaces trimmed, upper-case; 3-40 letters, digits, ``-`` or ``_``.

    Raises:
        ValidationError: on ``field`` (``invalid``) for anything else.
    """
    if not isinstance(code, str):
        raise ValidationError.single(field, "must be text", "invalid_type")
    normal = code.strip().upper()
    if not _CODE.fullmatch(normal):
        msg = "must be 3-40 letters, digits, '-' or '_', starting with a letter or digit"
        raise ValidationError.single(field, msg, "invalid")
    return normal


def _refuse(message: str, code: str) -> ValidationError:
    return ValidationError.single(VOUCHER_FIELD, message, code)


def _check_terms(v: Any) -> None:
    """Refuse terms :meth:`Voucher.create` would refuse (``v``: any voucher-like value)."""
    p = Problems()
    if (v.percent_off is None) == (v.amount_off is None):
        p.add("percent_off", "give a percent or an amount off, not both", "invalid")
    if v.percent_off is not None:
        rate = v.percent_off
        if not isinstance(rate, Decimal) or not rate.is_finite() or not 0 < rate <= 100:
            p.add("percent_off", "must be a Decimal above 0 and at most 100", "out_of_range")
        elif _places(rate) > PERCENT_PLACES:
            msg = f"must have at most {PERCENT_PLACES} decimal places"
            p.add("percent_off", msg, "too_precise")
    if v.amount_off is not None and (
        not isinstance(v.amount_off, Money) or v.amount_off.amount <= 0
    ):
        p.add("amount_off", "must be money above zero", "not_positive")
    for name in ("valid_from", "valid_until"):
        value = getattr(v, name)
        if value is not None:
            p.capture(partial(ensure_aware, value, name))
    if (
        v.valid_from is not None
        and v.valid_until is not None
        and v.valid_from.tzinfo is not None
        and v.valid_until.tzinfo is not None
        and v.valid_until <= v.valid_from
    ):
        p.add("valid_until", "must come after valid_from", "out_of_range")
    for name, least in (("max_uses", 1), ("max_uses_per_customer", 1), ("min_travelers", 1)):
        value = getattr(v, name)
        if value is None and name != "min_travelers":
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            p.add(name, "must be a whole number", "invalid_type")
        elif value < least:
            p.add(name, f"must be at least {least}", "out_of_range")
    if not isinstance(v.active, bool):
        p.add("active", "must be true or false", "invalid_type")
    p.raise_if_any()


@attrs.define(slots=False, kw_only=True)
class Voucher(Versioned):
    """A promo code: a percent (``percent_off``) or a fixed amount (``amount_off``)
    off each booking it is used on, with the limits the module describes.

    Empty ``product_ids`` and ``location_ids`` mean every product and location;
    ``max_uses`` and ``max_uses_per_customer`` of ``None`` mean unlimited;
    ``uses`` counts the bookings made with it.

    .. versionadded:: 0.4
    """

    id: VoucherId
    code: str
    created_at: datetime
    updated_at: datetime
    percent_off: Decimal | None = None
    amount_off: Money | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    product_ids: frozenset[ProductId] = frozenset()
    location_ids: frozenset[LocationId] = frozenset()
    max_uses: int | None = None
    uses: int = 0
    max_uses_per_customer: int | None = None
    min_travelers: int = 1
    active: bool = True
    description: str | None = None
    version: int = 1

    entity_name = "voucher"

    @classmethod
    def create(
        cls,
        *,
        voucher_id: VoucherId,
        code: str,
        now: datetime,
        percent_off: Decimal | str | int | None = None,
        amount_off: Money | None = None,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        product_ids: Iterable[ProductId] = (),
        location_ids: Iterable[LocationId] = (),
        max_uses: int | None = None,
        max_uses_per_customer: int | None = None,
        min_travelers: int = 1,
        description: str | None = None,
    ) -> Voucher:
        """A new, active voucher with no uses.

        Raises:
            ValidationError: naming each bad field: ``code`` (see
                :func:`normalise_code`), both or neither of ``percent_off`` and
                ``amount_off``, a percent outside 0-100 or an amount not above
                zero, a percent with more than :data:`PERCENT_PLACES` decimal
                places (``too_precise``), a naive or inverted validity window,
                limits below 1.
        """
        voucher = cls(
            id=voucher_id,
            code=normalise_code(code, "code"),
            created_at=now,
            updated_at=now,
            percent_off=_rate(percent_off),
            amount_off=amount_off,
            valid_from=valid_from,
            valid_until=valid_until,
            product_ids=_id_set(product_ids, "product_ids"),
            location_ids=_id_set(location_ids, "location_ids"),
            max_uses=max_uses,
            max_uses_per_customer=max_uses_per_customer,
            min_travelers=min_travelers,
            description=clean_text(description, "description", max_length=1000),
        )
        _check_terms(voucher)
        voucher.valid_from, voucher.valid_until = _utc(valid_from), _utc(valid_until)
        return voucher

    def change(self, *, now: datetime, **fields: object) -> dict[str, object]:
        """Change the terms named in ``fields`` (any of :data:`CHANGEABLE`); returns
        the fields that changed, as they were. Nothing changes when a rule refuses.

        Raises:
            ValidationError: an unknown field, or terms :meth:`create` would refuse.
        """
        unknown = sorted(set(fields) - set(CHANGEABLE))
        if unknown:
            msg = f"cannot change {', '.join(unknown)}"
            raise ValidationError.single(unknown[0], msg, "not_changeable")
        if "percent_off" in fields:
            fields["percent_off"] = _rate(fields["percent_off"])
        for name in ("product_ids", "location_ids"):
            if name in fields:
                fields[name] = _id_set(fields[name], name)
        if "description" in fields:
            fields["description"] = clean_text(
                fields["description"], "description", max_length=1000
            )
        wanted: dict[str, Any] = dict(fields)
        changed = attrs.evolve(self, **wanted)
        _check_terms(changed)
        for name in ("valid_from", "valid_until"):
            if name in fields:
                fields[name] = _utc(wanted[name])
        before = {
            name: getattr(self, name) for name in fields if getattr(self, name) != fields[name]
        }
        if not before:
            return {}
        for name in before:
            setattr(self, name, fields[name])
        self.updated_at = now
        self.version += 1
        return before

    def check(self, *, slot: Slot, travelers: int, now: datetime, customer_uses: int = 0) -> None:
        """Refuse the voucher for a booking of ``slot`` by ``travelers`` travelers at
        ``now`` whose customer used it ``customer_uses`` times before.

        Raises:
            ValidationError: on field ``voucher_code``: ``inactive``,
                ``not_yet_valid``, ``expired``, ``used_up``,
                ``used_up_by_customer``, ``not_for_this_slot``,
                ``currency_mismatch`` or ``too_few_travelers``, the first that applies.
        """
        if not self.active:
            raise _refuse(f"voucher {self.code} is no longer offered", "inactive")
        if self.valid_from is not None and now < self.valid_from:
            raise _refuse(f"voucher {self.code} is valid from {self.valid_from}", "not_yet_valid")
        if self.valid_until is not None and now >= self.valid_until:
            raise _refuse(f"voucher {self.code} expired at {self.valid_until}", "expired")
        if self.max_uses is not None and self.uses >= self.max_uses:
            raise _refuse(f"voucher {self.code} has been used up", "used_up")
        if self.max_uses_per_customer is not None and customer_uses >= self.max_uses_per_customer:
            msg = f"this customer used voucher {self.code} as often as it allows"
            raise _refuse(msg, "used_up_by_customer")
        if not self.applies_to(slot):
            raise _refuse(f"voucher {self.code} is not for this slot", "not_for_this_slot")
        if self.amount_off is not None and self.amount_off.currency != slot.currency:
            msg = (
                f"voucher {self.code} is in {self.amount_off.currency}; the slot in {slot.currency}"
            )
            raise _refuse(msg, "currency_mismatch")
        if travelers < self.min_travelers:
            msg = f"voucher {self.code} needs at least {self.min_travelers} travelers"
            raise _refuse(msg, "too_few_travelers")

    def applies_to(self, slot: Slot) -> bool:
        """True when the voucher's product and location limits allow ``slot``."""
        if self.product_ids and slot.product_id not in self.product_ids:
            return False
        return not self.location_ids or slot.location_id in self.location_ids

    @property
    def restricted(self) -> bool:
        """True when the voucher is limited to some products or locations."""
        return bool(self.product_ids or self.location_ids)

    def discount_on(self, amount: Money) -> Money:
        """What the voucher takes off ``amount`` (never more than ``amount``).

        Raises:
            ValidationError: a fixed amount in another currency (``currency_mismatch``).
        """
        if self.percent_off is not None:
            return amount.percent(self.percent_off)
        assert self.amount_off is not None
        if self.amount_off.currency != amount.currency:
            msg = f"voucher {self.code} is in {self.amount_off.currency}"
            raise _refuse(msg, "currency_mismatch")
        return amount if self.amount_off > amount else self.amount_off

    def count_use(self, now: datetime) -> None:
        """Count one more booking made with the voucher (after :meth:`check`)."""
        self.uses += 1
        self.updated_at = now
        self.version += 1


def _id_set(value: object, field: str) -> frozenset[Any]:
    """``value``'s ids as a set: any iterable of UUIDs (never text, which iterates too)."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValidationError.single(field, "must be a list of ids", "invalid_type")
    found = frozenset(value)
    if not all(isinstance(item, UUID) for item in found):
        raise ValidationError.single(field, "must hold ids (UUIDs) only", "invalid_type")
    return found


def _utc(moment: datetime | None) -> datetime | None:
    """``moment`` (checked aware) in UTC, as every store gives it back."""
    return None if moment is None else moment.astimezone(UTC)


def _rate(value: object) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, float):
        raise ValidationError.single(
            "percent_off", "must be exact (Decimal or str)", "inexact_amount"
        )
    if isinstance(value, int | str) and not isinstance(value, bool):
        try:
            value = Decimal(str(value))
        except ArithmeticError:
            raise ValidationError.single("percent_off", "must be a number", "invalid") from None
    if isinstance(value, Decimal):
        return plain_percent(value)
    raise ValidationError.single("percent_off", "must be a number", "invalid_type")


def plain_percent(rate: Decimal) -> Decimal:
    """``rate`` without trailing zeros (``10.0000`` is ``10``), as every store gives it back."""
    if not rate.is_finite():
        return rate
    return Decimal(format(rate.normalize(), "f"))


@attrs.frozen(kw_only=True)
class VoucherRedemption:
    """One use of a voucher: the booking made with it, its customer, and when.

    .. versionadded:: 0.4
    """

    id: VoucherRedemptionId
    voucher_id: VoucherId
    booking_id: BookingId
    customer_id: CustomerId
    at: datetime
    amount: Money


@attrs.frozen(kw_only=True)
class VoucherFilter:
    """Which vouchers a list returns: all, or only active (or inactive) ones.

    .. versionadded:: 0.4
    """

    active: bool | None = None

    def matches(self, voucher: Voucher) -> bool:
        """True when ``voucher`` is one the filter keeps."""
        return self.active is None or voucher.active is self.active
