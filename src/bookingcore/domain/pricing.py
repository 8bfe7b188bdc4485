"""Per-traveler prices and group discount tiers.

Tiers are data: ``(DiscountTier(5, Decimal(10)), DiscountTier(10, Decimal(15)))``
gives 10 % off from five travelers and 15 % from ten. The best tier whose
threshold the group reaches applies to the whole subtotal.

A voucher (:class:`~bookingcore.domain.vouchers.Voucher`) applies after the
tier, to what the tier left: its percent of that amount, or its fixed amount,
never more than that amount (the total never goes below zero).

A customer's loyalty tier (:class:`LoyaltyDiscount`, from
:class:`~bookingcore.domain.loyalty.LoyaltyProgram`) comes between the two:
the order is **group tier → loyalty → voucher**. The group tier is about the
party and applies to the list price; the loyalty percent is the customer's
standing price, so it applies to what the party pays; a voucher is a promotion
on top, and a fixed-amount voucher must know the final amount it comes off
(applied last, it can never push the total below zero).

.. versionadded:: 0.1
.. versionchanged:: 0.4 loyalty discounts.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Protocol

import attrs

from bookingcore.domain.values import Money
from bookingcore.errors import ValidationError

__all__ = [
    "DiscountTier",
    "KeptVoucher",
    "LoyaltyDiscount",
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


def _plain_percent(value: object) -> Decimal:
    """A percent without trailing zeros (``5.0000`` is ``5``), as every store gives it back."""
    return Decimal(format(_percent(value).normalize(), "f"))


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
    """Return ``tiers`` sorted by threshold, refusing two tiers with one threshold,
    and a tier that takes less off than a tier for fewer travelers.

    A booking gets the tier with the highest threshold it reaches, so with
    "20 % from 2, 10 % from 5" a party of five would pay more a head than a
    party of two: a mistake to report, not a policy to guess at (as a
    cancellation policy refuses refund tiers that do not fall with the notice).

    Raises:
        ValidationError: on field ``group_discounts``: code ``duplicate`` for a
            repeated threshold, ``not_rising`` for a tier that takes less off
            than one of a lower threshold.

    .. versionchanged:: 0.4 Tiers that take less off for more travelers are refused.
    """
    ordered = _by_threshold(tiers)
    for fewer, more in itertools.pairwise(ordered):
        if more.percent < fewer.percent:
            msg = (
                f"the tier from {more.min_travelers} travelers takes {more.percent} % off,"
                f" less than the {fewer.percent} % from {fewer.min_travelers}"
            )
            raise ValidationError.single("group_discounts", msg, "not_rising")
    return ordered


def _by_threshold(tiers: Iterable[DiscountTier]) -> tuple[DiscountTier, ...]:
    """``tiers`` sorted by threshold, refusing two tiers with one threshold."""
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
class LoyaltyDiscount:
    """A loyalty tier's percent off, as a booking applies and keeps it.

    ``tier`` is the tier's name; ``percent`` (0-100) comes off what the group
    tier left. A booking records both when it is made (``Booking.loyalty_tier``
    and ``Booking.loyalty_percent``): repricing it later (other travelers,
    another slot) takes the same percent off again, whatever the customer's
    tier is by then.

    Raises:
        ValidationError: ``percent`` outside 0-100 (field ``percent``).

    .. versionadded:: 0.4
    """

    tier: str
    percent: Decimal = attrs.field(converter=_plain_percent)


@attrs.frozen
class PriceBreakdown:
    """How a booking's total was reached.

    ``total == subtotal - discount`` always holds, exactly. ``discount`` is all
    that came off: the group tier's part (:attr:`tier_discount`), the loyalty
    tier's (:attr:`loyalty_discount`, with :attr:`loyalty_tier` and
    :attr:`loyalty_percent`) and the voucher's (:attr:`voucher_discount`, with
    :attr:`voucher_code`).

    .. versionadded:: 0.1
    .. versionchanged:: 0.4
       ``voucher_code`` and ``voucher_discount``; ``loyalty_tier``,
       ``loyalty_percent`` and ``loyalty_discount``.
    """

    subtotal: Money
    discount: Money
    total: Money
    applied_tier: DiscountTier | None = None
    voucher_code: str | None = None
    voucher_discount: Money | None = None
    loyalty_tier: str | None = None
    loyalty_percent: Decimal | None = None
    loyalty_discount: Money | None = None

    @property
    def tier_discount(self) -> Money:
        """What the group discount tier took off.

        .. versionadded:: 0.4
        """
        taken = self.discount
        for part in (self.voucher_discount, self.loyalty_discount):
            if part is not None:
                taken -= part
        return taken


def price_booking(
    prices: Sequence[Money],
    tiers: Iterable[DiscountTier],
    *,
    currency: str,
    voucher: VoucherDiscount | None = None,
    loyalty: LoyaltyDiscount | None = None,
) -> PriceBreakdown:
    """Add up per-traveler ``prices``, take off the best tier the group reaches,
    then ``loyalty``'s percent of what is left, then what ``voucher`` takes off
    the rest.

    Each discount is rounded to the currency's minor unit, so the total is exact
    and never below zero.

    .. versionchanged:: 0.4
       ``voucher`` and ``loyalty``.

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
    # Tiers as stored: a slot's were checked when it was configured (check_tiers).
    for candidate in _by_threshold(tiers) if tiers else ():
        if len(prices) >= candidate.min_travelers:
            tier = candidate
    discount = subtotal.percent(tier.percent) if tier else Money.zero(currency)
    kept = None if loyalty is None else (subtotal - discount).percent(loyalty.percent)
    if kept is not None:
        discount += kept
    off = None if voucher is None else voucher.discount_on(subtotal - discount)
    return PriceBreakdown(
        subtotal,
        discount if off is None else discount + off,
        subtotal - discount if off is None else subtotal - discount - off,
        tier,
        voucher_code=None if voucher is None else voucher.code,
        voucher_discount=off,
        loyalty_tier=None if loyalty is None else loyalty.tier,
        loyalty_percent=None if loyalty is None else loyalty.percent,
        loyalty_discount=kept,
    )
