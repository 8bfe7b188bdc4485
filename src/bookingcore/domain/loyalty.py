"""Loyalty tiers: customer-based rewards and loyalty tracking.

A :class:`LoyaltyProgram` is a ladder of :class:`LoyaltyTier` s, lowest first.
A tier is reached with at least ``min_completed_bookings`` completed bookings
and, when it names amounts, at least its ``min_spent`` in one of its
currencies (amounts in different currencies are never converted: a business
selling in rupees and dollars gives one threshold in each, and either one
counts). A customer's tier is the highest one whose thresholds they meet
(``None`` below the first). Reaching a tier may take a percent off their
bookings (``discount_percent``; see
:func:`~bookingcore.domain.pricing.price_booking` for where it comes in: after
the group tier, before a voucher).

The figures come from the storage (:class:`~bookingcore.domain.insights.CustomerStats`):

* completed bookings: ``completed_bookings``, the bookings in a lifecycle's
  completed state (a state named ``completed``, in any case);
* spent: ``total_spent``, what their payments captured less what was refunded,
  one amount per currency.

.. versionadded:: 0.4
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from functools import partial
from typing import Any

import attrs

from bookingcore.domain._validation import Problems
from bookingcore.domain.insights import CustomerStats
from bookingcore.domain.pricing import LoyaltyDiscount
from bookingcore.domain.values import Money
from bookingcore.domain.vouchers import PERCENT_PLACES
from bookingcore.errors import FieldError, ValidationError

__all__ = ["LoyaltyProgram", "LoyaltyStatus", "LoyaltyTier"]

#: The longest tier name.
MAX_TIER_NAME = 80


def _spent(value: Mapping[str, Money] | Iterable[Money] | None) -> tuple[Money, ...]:
    """Amounts by currency, sorted; a mapping's keys must be its amounts' currencies."""
    if value is None:
        return ()
    amounts: list[Money] = []
    pairs = value.items() if isinstance(value, Mapping) else ((None, m) for m in value)
    for key, amount in pairs:
        field = f"min_spent.{key}" if key is not None else "min_spent"
        if not isinstance(amount, Money):
            raise ValidationError.single(field, "must be a Money amount", "invalid_type")
        if key is not None and key != amount.currency:
            msg = f"is in {amount.currency} but is given for {key}"
            raise ValidationError.single(field, msg, "currency_mismatch")
        amounts.append(amount)
    currencies = [m.currency for m in amounts]
    if len(set(currencies)) != len(currencies):
        msg = "gives one currency twice"
        raise ValidationError.single("min_spent", msg, "duplicate")
    return tuple(sorted(amounts, key=lambda m: m.currency))


def _discount(value: object) -> Decimal:
    if isinstance(value, float | bool):
        msg = "must be exact (Decimal, int or str)"
        raise ValidationError.single("discount_percent", msg, "inexact_amount")
    try:
        rate = Decimal(str(value)) if isinstance(value, int | str) else value
    except ArithmeticError:
        rate = None
    if not isinstance(rate, Decimal) or not rate.is_finite() or not 0 <= rate <= 100:
        msg = "must be between 0 and 100"
        raise ValidationError.single("discount_percent", msg, "out_of_range")
    exponent = rate.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > PERCENT_PLACES:
        # A booking keeps the percent it got (Booking.loyalty_percent) to four places on
        # every store (NUMERIC(7, 4) on PostgreSQL would round a finer one).
        msg = f"must have at most {PERCENT_PLACES} decimal places"
        raise ValidationError.single("discount_percent", msg, "too_precise")
    return rate


@attrs.frozen
class LoyaltyTier:
    """One rung of a :class:`LoyaltyProgram`.

    Args:
        name: how the tier is called (``"Gold"``), 1-80 characters, unique
            within its program.
        min_completed_bookings: completed bookings needed (0: none).
        min_spent: money needed, at most one amount per currency (a mapping
            ``{"INR": Money("50000", "INR")}`` or the amounts); reaching any one
            of them is enough. Empty: no money threshold.
        discount_percent: what comes off the customer's new bookings (0-100,
            exact, at most four decimal places; 0 by default: a tier that only
            recognises).

    Raises:
        ValidationError: on ``name``, ``min_completed_bookings``,
            ``min_spent[.<currency>]`` or ``discount_percent``.

    .. versionadded:: 0.4
    """

    name: str
    min_completed_bookings: int = 0
    min_spent: tuple[Money, ...] = attrs.field(default=(), converter=_spent)
    discount_percent: Decimal = attrs.field(default=Decimal(0), converter=_discount)

    def __attrs_post_init__(self) -> None:
        name: object = self.name
        if not isinstance(name, str) or not name.strip():
            raise ValidationError.single("name", "is required", "required")
        if name != name.strip() or len(name) > MAX_TIER_NAME:
            msg = f"must be trimmed and at most {MAX_TIER_NAME} characters"
            raise ValidationError.single("name", msg, "invalid")
        count: object = self.min_completed_bookings
        if isinstance(count, bool) or not isinstance(count, int):
            msg = "must be a whole number"
            raise ValidationError.single("min_completed_bookings", msg, "invalid_type")
        if count < 0:
            msg = "cannot be negative"
            raise ValidationError.single("min_completed_bookings", msg, "out_of_range")
        for amount in self.min_spent:
            if amount.is_negative():
                msg = "cannot be negative"
                raise ValidationError.single(f"min_spent.{amount.currency}", msg, "out_of_range")

    def spent_threshold(self, currency: str) -> Money | None:
        """The money threshold in ``currency``, if the tier gives one."""
        return next((m for m in self.min_spent if m.currency == currency), None)

    def reached_by(self, completed_bookings: int, spent: Iterable[Money]) -> bool:
        """True when ``completed_bookings`` and the amounts ``spent`` meet this tier."""
        if completed_bookings < self.min_completed_bookings:
            return False
        return not self.min_spent or not self.spent_missing(spent)

    def spent_missing(self, spent: Iterable[Money]) -> tuple[Money, ...]:
        """What is still missing of ``min_spent``, per currency; empty once any one
        currency's threshold is reached (or when the tier needs no money)."""
        paid = {m.currency: m for m in spent}
        missing = []
        for needed in self.min_spent:
            have = paid.get(needed.currency, Money.zero(needed.currency))
            if have >= needed:
                return ()
            missing.append(needed - have)
        return tuple(missing)

    @property
    def discount(self) -> LoyaltyDiscount | None:
        """The discount a booking applies for this tier (``None`` at 0 %)."""
        if not self.discount_percent:
            return None
        return LoyaltyDiscount(self.name, self.discount_percent)

    def to_dict(self) -> dict[str, Any]:
        """The tier as plain data (amounts as strings), as
        :meth:`LoyaltyProgram.from_dict` reads it."""
        return {
            "name": self.name,
            "min_completed_bookings": self.min_completed_bookings,
            "min_spent": {m.currency: str(m.amount) for m in self.min_spent},
            "discount_percent": str(self.discount_percent),
        }


def _harder(lower: LoyaltyTier, higher: LoyaltyTier, field: str) -> list[FieldError]:
    """The problems with ``higher`` following ``lower`` in a program."""
    problems = []
    if higher.min_completed_bookings < lower.min_completed_bookings:
        msg = (
            f"is {higher.min_completed_bookings}, below the "
            f"{lower.min_completed_bookings} of tier {lower.name!r} before it"
        )
        problems.append(FieldError(f"{field}.min_completed_bookings", msg, "out_of_order"))
    if lower.min_spent:
        lower_currencies = [m.currency for m in lower.min_spent]
        if [m.currency for m in higher.min_spent] != lower_currencies:
            msg = (
                f"must give amounts in the currencies of tier {lower.name!r} before it "
                f"({', '.join(lower_currencies)})"
            )
            problems.append(FieldError(f"{field}.min_spent", msg, "out_of_order"))
        else:
            for low, high in zip(lower.min_spent, higher.min_spent, strict=True):
                if high < low:
                    msg = f"is {high}, below the {low} of tier {lower.name!r} before it"
                    problems.append(
                        FieldError(f"{field}.min_spent.{high.currency}", msg, "out_of_order")
                    )
    same = (lower.min_completed_bookings, lower.min_spent) == (
        higher.min_completed_bookings,
        higher.min_spent,
    )
    if same and not problems:
        msg = f"has the same thresholds as tier {lower.name!r} before it"
        problems.append(FieldError(field, msg, "duplicate"))
    return problems


def _tiers(value: Iterable[LoyaltyTier]) -> tuple[LoyaltyTier, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class LoyaltyStatus:
    """Where a customer stands in a :class:`LoyaltyProgram`.

    * ``tier``: the highest tier reached (``None`` below the first);
    * ``completed_bookings`` and ``spent``: the figures it was judged on;
    * ``next_tier``: the tier above (``None`` at the top);
    * ``bookings_to_next``: completed bookings still missing for it (0 when
      there are enough, or at the top);
    * ``spent_to_next``: money still missing for it, one amount per currency
      the tier names; any one of them is enough (empty when the money is
      reached, the tier needs none, or at the top).

    .. versionadded:: 0.4
    """

    tier: LoyaltyTier | None
    completed_bookings: int
    spent: tuple[Money, ...]
    next_tier: LoyaltyTier | None
    bookings_to_next: int = 0
    spent_to_next: tuple[Money, ...] = ()

    @property
    def discount_percent(self) -> Decimal:
        """The tier's percent off new bookings (0 without a tier)."""
        return Decimal(0) if self.tier is None else self.tier.discount_percent


@attrs.frozen
class LoyaltyProgram:
    """Loyalty tiers, lowest first: ``Settings(loyalty=LoyaltyProgram([...]))``.

    Each tier must be harder to reach than the one before it: no fewer
    completed bookings, and, once a tier names amounts, every later tier names
    amounts in the same currencies, none lower; and not the same thresholds.

    Raises:
        ValidationError: one field error per problem, under
            ``loyalty.tiers[<i>]``: a tier that is no :class:`LoyaltyTier`
            (``invalid_type``), a name used twice (``.name``, ``duplicate``), a
            tier out of order (``.min_completed_bookings`` /
            ``.min_spent[.<currency>]``, ``out_of_order``) or as hard as the one
            before (``duplicate``).

    .. versionadded:: 0.4
    """

    tiers: tuple[LoyaltyTier, ...] = attrs.field(converter=_tiers)

    def __attrs_post_init__(self) -> None:
        problems: list[FieldError] = []
        seen: set[str] = set()
        previous: LoyaltyTier | None = None
        given: tuple[object, ...] = self.tiers
        for index, tier in enumerate(given):
            field = f"loyalty.tiers[{index}]"
            if not isinstance(tier, LoyaltyTier):
                problems.append(FieldError(field, "must be a LoyaltyTier", "invalid_type"))
                continue
            if tier.name.casefold() in seen:
                msg = f"{tier.name!r} names another tier too"
                problems.append(FieldError(f"{field}.name", msg, "duplicate"))
            seen.add(tier.name.casefold())
            if previous is not None:
                problems += _harder(previous, tier, field)
            previous = tier
        if problems:
            raise ValidationError(problems, "the loyalty program's tiers are not valid")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoyaltyProgram:
        """Read a program from plain data (a settings file)::

            {"tiers": [{"name": "Gold", "min_completed_bookings": 5,
                        "min_spent": {"INR": "50000"}, "discount_percent": "5"}]}

        Raises:
            ValidationError: every problem at once, on
                ``loyalty.tiers[<i>].<field>`` (``loyalty.tiers`` when it is not a list).
        """
        given: object = data
        raw = given.get("tiers", ()) if isinstance(given, Mapping) else None
        if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
            raise ValidationError.single("loyalty.tiers", "must be a list of tiers", "invalid_type")
        problems = Problems()
        tiers: list[LoyaltyTier] = []
        for index, entry in enumerate(raw):
            inner = Problems(prefix=f"loyalty.tiers[{index}]")
            tier = inner.capture(partial(_tier_from, entry))
            problems.extend(inner)
            if tier is not None:
                tiers.append(tier)
        problems.raise_if_any()
        return cls(tiers)

    def to_dict(self) -> dict[str, Any]:
        """The program as plain data, as :meth:`from_dict` reads it."""
        return {"tiers": [tier.to_dict() for tier in self.tiers]}

    def tier_for(self, completed_bookings: int, spent: Iterable[Money]) -> LoyaltyTier | None:
        """The highest tier ``completed_bookings`` and ``spent`` reach (``None``: none)."""
        amounts = tuple(spent)
        reached = None
        for tier in self.tiers:
            if tier.reached_by(completed_bookings, amounts):
                reached = tier
        return reached

    def status(self, stats: CustomerStats) -> LoyaltyStatus:
        """Where the customer with ``stats`` stands: tier, figures, what the next needs."""
        completed, spent = stats.completed_bookings, stats.total_spent
        tier = self.tier_for(completed, spent)
        above = 0 if tier is None else self.tiers.index(tier) + 1
        following = self.tiers[above] if above < len(self.tiers) else None
        if following is None:
            return LoyaltyStatus(
                tier=tier, completed_bookings=completed, spent=spent, next_tier=None
            )
        return LoyaltyStatus(
            tier=tier,
            completed_bookings=completed,
            spent=spent,
            next_tier=following,
            bookings_to_next=max(0, following.min_completed_bookings - completed),
            spent_to_next=following.spent_missing(spent),
        )

    def discount_for(self, stats: CustomerStats) -> LoyaltyDiscount | None:
        """The discount a new booking of the customer with ``stats`` gets, if any."""
        tier = self.tier_for(stats.completed_bookings, stats.total_spent)
        return None if tier is None else tier.discount

    @property
    def gives_discounts(self) -> bool:
        """True when some tier takes a percent off (bookings then read the figures)."""
        return any(tier.discount_percent for tier in self.tiers)


def _tier_from(entry: object) -> LoyaltyTier:
    if not isinstance(entry, Mapping):
        raise ValidationError.single("", "must be a mapping", "invalid_type")
    p = Problems()
    spent: list[Money] = []
    given = entry.get("min_spent") or {}
    if not isinstance(given, Mapping):
        p.add("min_spent", "must map currencies to amounts", "invalid_type")
        given = {}
    for currency, amount in given.items():
        money = p.capture(partial(Money.parse, amount, currency, field=f"min_spent.{currency}"))
        if money is not None:
            spent.append(money)
    unknown = set(entry) - {"name", "min_completed_bookings", "min_spent", "discount_percent"}
    for key in sorted(map(str, unknown)):
        p.add(key, "is not a tier field", "unknown_field")
    p.raise_if_any()
    return LoyaltyTier(
        name=entry.get("name"),  # type: ignore[arg-type]  # checked by LoyaltyTier
        min_completed_bookings=entry.get("min_completed_bookings", 0),
        min_spent=spent,
        discount_percent=entry.get("discount_percent", Decimal(0)),
    )
