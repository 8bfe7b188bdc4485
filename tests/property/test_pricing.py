"""Property 2: totals are the per-traveler prices minus the discount, exact and never negative."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bookingcore import Money
from bookingcore.domain._currencies import MINOR_UNITS
from bookingcore.domain.pricing import DiscountTier, price_booking
from bookingcore.testing import strategies as bst


@st.composite
def priced_groups(draw: st.DrawFn) -> tuple[str, list[Money], tuple[DiscountTier, ...]]:
    currency = draw(bst.currencies())
    prices = draw(st.lists(bst.money(currency, max_value=100_000), min_size=1, max_size=25))
    return currency, prices, draw(bst.discount_tiers())


@given(priced_groups())
def test_total_is_subtotal_minus_discount_exactly_and_never_negative(
    group: tuple[str, list[Money], tuple[DiscountTier, ...]],
) -> None:
    currency, prices, tiers = group
    breakdown = price_booking(prices, tiers, currency=currency)
    exact_sum = sum((p.amount for p in prices), Decimal(0))
    assert breakdown.subtotal.amount == exact_sum
    assert breakdown.total.amount == exact_sum - breakdown.discount.amount
    assert Decimal(0) <= breakdown.discount.amount <= exact_sum
    assert not breakdown.total.is_negative()
    places = MINOR_UNITS[currency]
    for money in (breakdown.subtotal, breakdown.discount, breakdown.total):
        assert money.currency == currency
        assert -money.amount.as_tuple().exponent <= max(places, 0)  # type: ignore[operator]


@given(priced_groups())
def test_the_applied_tier_is_the_best_one_the_group_reaches(
    group: tuple[str, list[Money], tuple[DiscountTier, ...]],
) -> None:
    currency, prices, tiers = group
    breakdown = price_booking(prices, tiers, currency=currency)
    reached = [t for t in tiers if t.min_travelers <= len(prices)]
    expected = max(reached, key=lambda t: t.min_travelers) if reached else None
    assert breakdown.applied_tier == expected
    rate = expected.percent if expected else Decimal(0)
    assert breakdown.discount == breakdown.subtotal.percent(rate)


@st.composite
def same_currency_pairs(draw: st.DrawFn) -> tuple[Money, Money]:
    currency = draw(bst.currencies())
    sign = draw(st.sampled_from((1, -1)))
    first = draw(bst.money(currency, max_value=100_000))
    second = draw(bst.money(currency, max_value=100_000))
    return first, second if sign > 0 else -second


@given(same_currency_pairs())
def test_sums_and_differences_equal_money_built_from_the_exact_result(
    pair: tuple[Money, Money],
) -> None:
    # Adding and subtracting skip converting and rounding again (the amounts are
    # already exact in the currency): the result must be the Money the full
    # constructor makes, to the digit, with no "-0.00".
    a, b = pair
    for got, exact in ((a + b, a.amount + b.amount), (a - b, a.amount - b.amount)):
        built = Money(exact, a.currency)
        assert got == built
        assert str(got.amount) == str(built.amount)
        assert got.amount.as_tuple().exponent == built.amount.as_tuple().exponent
        assert not (got.amount.is_zero() and got.amount.is_signed())
    zero = Money.zero(a.currency)
    assert str(zero.amount) == str(Money(0, a.currency).amount)
    assert a - a == zero
