"""Per-traveler prices and group discount tiers.

Tiers are data: ``(DiscountTier(5, Decimal(10)), DiscountTier(10, Decimal(15)))``
gives 10 % off from five travelers and 15 % from ten. The best tier whose
threshold the group reaches applies to the whole subtotal.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

import attrs

from bookingcore.domain.values import Money
from bookingcore.errors import ValidationError

__all__ = ["DiscountTier", "PriceBreakdown", "check_tiers", "price_booking"]


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


@attrs.frozen
class PriceBreakdown:
    """How a booking's total was reached.

    ``total == subtotal - discount`` always holds, exactly.

    .. versionadded:: 0.1
    """

    subtotal: Money
    discount: Money
    total: Money
    applied_tier: DiscountTier | None = None


def price_booking(
    prices: Sequence[Money], tiers: Iterable[DiscountTier], *, currency: str
) -> PriceBreakdown:
    """Add up per-traveler ``prices`` and take off the best tier the group reaches.

    The discount is rounded to the currency's minor unit, so the total is exact
    and never below zero.

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
    return PriceBreakdown(subtotal, discount, subtotal - discount, tier)
