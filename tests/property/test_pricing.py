"""Property 2: totals are the per-traveler prices minus the discount, exact and never negative."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from bookingcore import Money
from bookingcore.domain._currencies import MINOR_UNITS
from bookingcore.domain.pricing import DiscountTier, KeptVoucher, LoyaltyDiscount, price_booking
from bookingcore.domain.vouchers import Voucher, VoucherId
from bookingcore.testing import strategies as bst
from bookingcore.testing.builders import T0


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


@given(
    priced_groups(),
    st.one_of(
        st.decimals(min_value=Decimal("0.01"), max_value=100, places=2).map(str),
        st.integers(min_value=1, max_value=10_000_000),
    ),
)
def test_a_voucher_comes_off_what_the_tier_left_and_never_below_zero(
    group: tuple[str, list[Money], tuple[DiscountTier, ...]], off: str | int
) -> None:
    currency, prices, tiers = group
    if isinstance(off, str):
        terms: dict[str, object] = {"percent_off": off}
    else:
        amount = Money.from_minor_units(off, currency)
        if amount.amount <= 0:
            return
        terms = {"amount_off": amount}
    voucher = Voucher.create(
        voucher_id=VoucherId(uuid4()),
        code="PROPERTY",
        now=T0,
        **terms,  # type: ignore[arg-type]
    )
    plain = price_booking(prices, tiers, currency=currency)
    priced = price_booking(prices, tiers, currency=currency, voucher=voucher)
    assert priced.subtotal == plain.subtotal
    assert priced.tier_discount == plain.discount
    assert priced.voucher_discount is not None
    assert Money.zero(currency) <= priced.voucher_discount <= plain.total
    assert priced.discount == plain.discount + priced.voucher_discount
    assert priced.total == priced.subtotal - priced.discount
    assert not priced.total.is_negative()


@given(
    priced_groups(),
    st.decimals(min_value=0, max_value=100, places=4),
    st.integers(min_value=0, max_value=10_000_000),
)
def test_loyalty_comes_off_what_the_group_tier_left_before_the_voucher(
    group: tuple[str, list[Money], tuple[DiscountTier, ...]], percent: Decimal, off: int
) -> None:
    currency, prices, tiers = group
    voucher = KeptVoucher("FLAT", Money.from_minor_units(off, currency))
    plain = price_booking(prices, tiers, currency=currency)
    priced = price_booking(
        prices,
        tiers,
        currency=currency,
        loyalty=LoyaltyDiscount("Tier", percent),
        voucher=voucher,
    )
    assert priced.tier_discount == plain.discount
    assert priced.loyalty_discount == plain.total.percent(percent)
    assert priced.voucher_discount is not None
    assert priced.voucher_discount <= plain.total - priced.loyalty_discount
    assert priced.discount == plain.discount + priced.loyalty_discount + priced.voucher_discount
    assert priced.total == priced.subtotal - priced.discount
    assert not priced.total.is_negative()
