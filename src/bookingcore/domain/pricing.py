"""Per-traveler prices and group discount tiers.

Tiers are data: ``(DiscountTier(5, Decimal(10)), DiscountTier(10, Decimal(15)))``
gives 10 % off from five travelers and 15 % from ten. The best tier whose
threshold the group reaches applies to the whole subtotal.

A voucher (:class:`~bookingcore.domain.vouchers.Voucher`) applies after the
tier, to what the tier left: its percent of that amount, or its fixed amount,
never more than that amount (the total never goes below zero).

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Protocol

import attrs

from bookingcore.domain.values import Money
from bookingcore.errors import ValidationError

__all__ = [
    "DiscountTier",
    "KeptVoucher",
    "PriceBreakdown",
    "VoucherDiscount",
    "check_tiers",
    "price_booking",
]


def _percent(value: object) -> Decimal:
    if isinstance(value, float):
        raise ValidationError.single("percent", "must be exact (Decimal or str)", "inexact_amount")
    rate = Decimal(str(value)) if isinstance(value, int | str) else value
    if not isinstance(rate, Decimal) or not rate.is_finite() or not 0 <= rate <= 100:
        raise ValidationError.single("percent", "must be between 0 and 100", "out_of_range")
    return rate


@attrs.frozen(order=True)
class DiscountTier:
    """``percent`` off the subtotal once a booking has ``min_travelers`` or more.

    Raises:
        ValidationError: ``min_travelers`` below 1 or ``percent`` outside 0-100.

    .. versionadded:: 0.1
    """

    min_travelers: int
    percent: Decimal = attrs.field(converter=_percent)

    def __attrs_post_init__(self) -> None:
        if isinstance(self.min_travelers, bool) or not isinstance(self.min_travelers, int):
            raise ValidationError.single("min_travelers", "must be a whole number", "invalid_type")
        if self.min_travelers < 1:
            raise ValidationError.single("min_travelers", "must be at least 1", "out_of_range")


def check_tiers(tiers: Iterable[DiscountTier]) -> tuple[DiscountTier, ...]:
    """Return ``tiers`` sorted by threshold, refusing two tiers with one threshold.

    Raises:
        ValidationError: on field ``group_discounts`` for a repeated threshold.
    """
    ordered = tuple(sorted(tiers, key=lambda t: t.min_travelers))
    thresholds = [t.min_travelers for t in ordered]
    if len(set(thresholds)) != len(thresholds):
        msg = "two tiers share a min_travelers threshold"
        raise ValidationError.single("group_discounts", msg, "duplicate")
    return ordered


class VoucherDiscount(Protocol):
    """What a voucher takes off an amount: a :class:`~bookingcore.domain.vouchers.Voucher`,
    or the amount a booking kept (:class:`KeptVoucher`).

    .. versionadded:: 0.4
    """

    @property
    def code(self) -> str:
        """The voucher's (normalised) code."""
        ...  # pragma: no cover

    def discount_on(self, amount: Money) -> Money:
        """What comes off ``amount`` (never more than ``amount``)."""
        ...  # pragma: no cover


@attrs.frozen
class KeptVoucher:
    """The voucher discount a booking kept: when its travelers or slot change, the
    same amount comes off again (never more than what the tier leaves).

    .. versionadded:: 0.4
    """

    code: str
    amount: Money

    def discount_on(self, amount: Money) -> Money:
        """``amount`` kept, at most ``amount``."""
        return amount if self.amount > amount else self.amount


@attrs.frozen
class PriceBreakdown:
    """How a booking's total was reached.

    ``total == subtotal - discount`` always holds, exactly. ``discount`` is all
    that came off: the group tier's part (:attr:`tier_discount`) and the
    voucher's (:attr:`voucher_discount`, with :attr:`voucher_code`).

    .. versionadded:: 0.1
    .. versionchanged:: 0.4
       ``voucher_code`` and ``voucher_discount``.
    """

    subtotal: Money
    discount: Money
    total: Money
    applied_tier: DiscountTier | None = None
    voucher_code: str | None = None
    voucher_discount: Money | None = None

    @property
    def tier_discount(self) -> Money:
        """What the group discount tier took off.

        .. versionadded:: 0.4
        """
        if self.voucher_discount is None:
            return self.discount
        return self.discount - self.voucher_discount


def price_booking(
    prices: Sequence[Money],
    tiers: Iterable[DiscountTier],
    *,
    currency: str,
    voucher: VoucherDiscount | None = None,
) -> PriceBreakdown:
    """Add up per-traveler ``prices``, take off the best tier the group reaches,
    then what ``voucher`` takes off the rest.

    The discount is rounded to the currency's minor unit, so the total is exact
    and never below zero.

    .. versionchanged:: 0.4
       ``voucher``.

    Raises:
        ValidationError: a price is in another currency than ``currency`` (field
            ``travelers[i].price``) or is negative.
    """
    subtotal = Money.zero(currency)
    for index, price in enumerate(prices):
        if price.currency != currency:
            msg = f"is in {price.currency} but this slot is priced in {currency}"
            raise ValidationError.single(f"travelers[{index}].price", msg, "currency_mismatch")
        if price.is_negative():
            msg = "cannot be negative"
            raise ValidationError.single(f"travelers[{index}].price", msg, "out_of_range")
        subtotal += price
    tier = None
    tiers = tuple(tiers)
    for candidate in check_tiers(tiers) if tiers else ():
        if len(prices) >= candidate.min_travelers:
            tier = candidate
    discount = subtotal.percent(tier.percent) if tier else Money.zero(currency)
    if voucher is None:
        return PriceBreakdown(subtotal, discount, subtotal - discount, tier)
    off = voucher.discount_on(subtotal - discount)
    total = subtotal - discount - off
    return PriceBreakdown(subtotal, discount + off, total, tier, voucher.code, off)
