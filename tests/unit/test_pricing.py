"""Pricing: per-traveler prices, group discount tiers, exact totals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bookingcore import DiscountTier, Money, ValidationError
from bookingcore.domain.pricing import check_tiers, price_booking

TIERS = (DiscountTier(5, Decimal(10)), DiscountTier(10, Decimal(15)))


def inr(amount: str) -> Money:
    return Money(amount, "INR")


class TestPriceBooking:
    def test_without_tiers_there_is_no_discount(self) -> None:
        breakdown = price_booking([inr("100")] * 6, (), currency="INR")
        assert breakdown.subtotal == inr("600")
        assert breakdown.discount == inr("0")
        assert breakdown.total == inr("600")
        assert breakdown.applied_tier is None

    def test_below_the_lowest_threshold_no_tier_applies(self) -> None:
        breakdown = price_booking([inr("100")] * 4, TIERS, currency="INR")
        assert breakdown.discount == inr("0")
        assert breakdown.total == inr("400")
        assert breakdown.applied_tier is None

    def test_reaching_a_threshold_exactly_applies_that_tier(self) -> None:
        breakdown = price_booking([inr("100")] * 5, TIERS, currency="INR")
        assert breakdown.applied_tier == DiscountTier(5, Decimal(10))
        assert breakdown.discount == inr("50")
        assert breakdown.total == inr("450")

    def test_the_best_reached_tier_applies(self) -> None:
        breakdown = price_booking([inr("100")] * 12, TIERS, currency="INR")
        assert breakdown.applied_tier == DiscountTier(10, Decimal(15))
        assert breakdown.discount == inr("180")
        assert breakdown.total == inr("1020")

    def test_tiers_given_out_of_order_still_pick_the_best(self) -> None:
        breakdown = price_booking([inr("100")] * 12, tuple(reversed(TIERS)), currency="INR")
        assert breakdown.applied_tier == DiscountTier(10, Decimal(15))

    def test_the_discount_is_rounded_to_the_minor_unit_and_the_total_is_exact(self) -> None:
        prices = [inr("33.33"), inr("33.33"), inr("33.35"), inr("10.01"), inr("0.99")]
        breakdown = price_booking(prices, (DiscountTier(5, Decimal("12.5")),), currency="INR")
        assert breakdown.subtotal == inr("111.01")
        # 12.5 % of 111.01 is 13.87625, rounded half up to 13.88
        assert breakdown.discount.amount == Decimal("13.88")
        assert breakdown.total.amount == Decimal("97.13")
        assert breakdown.total == breakdown.subtotal - breakdown.discount

    def test_mixed_per_traveler_prices_are_added_up(self) -> None:
        breakdown = price_booking([inr("100"), inr("50.50"), inr("0")], (), currency="INR")
        assert breakdown.subtotal == inr("150.50")

    def test_a_full_discount_brings_the_total_to_zero(self) -> None:
        breakdown = price_booking([inr("10")], (DiscountTier(1, Decimal(100)),), currency="INR")
        assert breakdown.total == inr("0")
        assert not breakdown.total.is_negative()

    def test_jpy_discounts_round_to_whole_yen(self) -> None:
        prices = [Money("333", "JPY")] * 5
        breakdown = price_booking(prices, (DiscountTier(5, Decimal(10)),), currency="JPY")
        assert breakdown.discount == Money("167", "JPY")  # 166.5 rounds half up
        assert breakdown.total == Money("1498", "JPY")

    def test_a_price_in_another_currency_names_that_traveler(self) -> None:
        prices = [inr("100"), Money("100", "USD"), inr("100")]
        with pytest.raises(ValidationError) as caught:
            price_booking(prices, (), currency="INR")
        assert caught.value.fields == ("travelers[1].price",)
        assert caught.value.errors[0].code == "currency_mismatch"

    def test_a_negative_price_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            price_booking([inr("100"), inr("-1")], (), currency="INR")
        assert caught.value.fields == ("travelers[1].price",)
        assert caught.value.errors[0].code == "out_of_range"

    def test_no_travelers_cost_nothing_in_the_slot_currency(self) -> None:
        breakdown = price_booking([], TIERS, currency="BHD")
        assert breakdown.total == Money.zero("BHD")


class TestDiscountTier:
    @pytest.mark.parametrize("threshold", [0, -1])
    def test_a_threshold_below_one_is_refused(self, threshold: int) -> None:
        with pytest.raises(ValidationError) as caught:
            DiscountTier(threshold, Decimal(10))
        assert caught.value.fields == ("min_travelers",)

    def test_a_non_integer_threshold_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            DiscountTier(True, Decimal(10))
        assert caught.value.errors[0].code == "invalid_type"

    @pytest.mark.parametrize("percent", [Decimal("-0.01"), Decimal("100.01"), Decimal("NaN")])
    def test_a_percent_outside_zero_to_one_hundred_is_refused(self, percent: Decimal) -> None:
        with pytest.raises(ValidationError) as caught:
            DiscountTier(5, percent)
        assert caught.value.fields == ("percent",)
        assert caught.value.errors[0].code == "out_of_range"

    def test_a_float_percent_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            DiscountTier(5, 10.0)  # type: ignore[arg-type]
        assert caught.value.errors[0].code == "inexact_amount"

    def test_int_and_string_percents_become_decimals(self) -> None:
        assert DiscountTier(5, 10).percent == Decimal(10)  # type: ignore[arg-type]
        assert DiscountTier(5, "12.5").percent == Decimal("12.5")  # type: ignore[arg-type]

    def test_the_bounds_zero_and_one_hundred_are_allowed(self) -> None:
        assert DiscountTier(1, Decimal(0)).percent == 0
        assert DiscountTier(1, Decimal(100)).percent == 100


class TestCheckTiers:
    def test_tiers_are_sorted_by_threshold(self) -> None:
        ordered = check_tiers([DiscountTier(10, Decimal(15)), DiscountTier(5, Decimal(10))])
        assert [t.min_travelers for t in ordered] == [5, 10]

    def test_a_repeated_threshold_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            check_tiers([DiscountTier(5, Decimal(10)), DiscountTier(5, Decimal(12))])
        assert caught.value.fields == ("group_discounts",)
        assert caught.value.errors[0].code == "duplicate"

    def test_a_tier_taking_less_off_for_more_travelers_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            check_tiers([DiscountTier(5, Decimal(10)), DiscountTier(2, Decimal(20))])
        assert caught.value.fields == ("group_discounts",)
        assert caught.value.errors[0].code == "not_rising"

    def test_price_booking_applies_stored_tiers_as_they_are(self) -> None:
        """Tiers stored before the rule (or written around it) still price a booking:
        the highest threshold reached, as before."""
        tiers = (DiscountTier(2, Decimal(20)), DiscountTier(5, Decimal(10)))
        assert price_booking([inr("100")] * 5, tiers, currency="INR").discount == inr("50")

    def test_price_booking_also_refuses_repeated_thresholds(self) -> None:
        tiers = (DiscountTier(2, Decimal(10)), DiscountTier(2, Decimal(20)))
        with pytest.raises(ValidationError) as caught:
            price_booking([inr("1")] * 3, tiers, currency="INR")
        assert caught.value.fields == ("group_discounts",)
