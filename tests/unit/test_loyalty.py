"""Loyalty tiers in the domain: programs checked with every field named, tiers judged
at their exact thresholds, and the discount priced after the group tier, before a voucher."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import uuid4

import attrs
import pytest

from bookingcore import DiscountTier, LoyaltyProgram, LoyaltyTier, Money, Settings, ValidationError
from bookingcore.domain.bookings import Author, BookingTraveler
from bookingcore.domain.documents import DocumentData, DocumentKind
from bookingcore.domain.insights import CustomerStats
from bookingcore.domain.lifecycle import RESERVATION
from bookingcore.domain.pricing import KeptVoucher, LoyaltyDiscount, price_booking
from bookingcore.testing.builders import T0, Builder
from bookingcore_adapters.documents import document_rows


def inr(amount: str) -> Money:
    return Money(amount, "INR")


def usd(amount: str) -> Money:
    return Money(amount, "USD")


SILVER = LoyaltyTier("Silver", min_completed_bookings=2, discount_percent=5)
GOLD = LoyaltyTier(
    "Gold",
    min_completed_bookings=5,
    min_spent={"INR": inr("50000"), "USD": usd("600")},
    discount_percent="10",
)
PROGRAM = LoyaltyProgram([LoyaltyTier("Member"), SILVER, GOLD])


def fields(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in exc.value.errors]


class TestTier:
    @pytest.mark.parametrize(
        ("terms", "field", "code"),
        [
            ({"name": ""}, "name", "required"),
            ({"name": " Gold"}, "name", "invalid"),
            ({"name": "x" * 81}, "name", "invalid"),
            ({"min_completed_bookings": -1}, "min_completed_bookings", "out_of_range"),
            ({"min_completed_bookings": True}, "min_completed_bookings", "invalid_type"),
            ({"discount_percent": Decimal("100.01")}, "discount_percent", "out_of_range"),
            ({"discount_percent": -1}, "discount_percent", "out_of_range"),
            ({"discount_percent": 5.5}, "discount_percent", "inexact_amount"),
            ({"discount_percent": "lots"}, "discount_percent", "out_of_range"),
            ({"min_spent": {"INR": usd("5")}}, "min_spent.INR", "currency_mismatch"),
            ({"min_spent": [inr("5"), inr("6")]}, "min_spent", "duplicate"),
            ({"min_spent": {"INR": inr("-1")}}, "min_spent.INR", "out_of_range"),
            ({"min_spent": {"INR": "100"}}, "min_spent.INR", "invalid_type"),
        ],
    )
    def test_bad_terms_name_their_field(self, terms: dict[str, Any], field: str, code: str) -> None:
        with pytest.raises(ValidationError) as bad:
            LoyaltyTier(**{"name": "Gold", **terms})
        assert fields(bad) == [(field, code)]

    def test_amounts_are_kept_by_currency_and_percent_exact(self) -> None:
        assert GOLD.min_spent == (inr("50000"), usd("600"))
        assert GOLD.discount_percent == Decimal(10)
        assert GOLD.spent_threshold("USD") == usd("600")
        assert GOLD.spent_threshold("EUR") is None
        assert LoyaltyTier("Member").discount is None
        assert SILVER.discount == LoyaltyDiscount("Silver", Decimal(5))


class TestProgram:
    def test_a_program_is_checked_with_every_problem_named(self) -> None:
        with pytest.raises(ValidationError) as bad:
            LoyaltyProgram(
                [
                    LoyaltyTier("Gold", min_completed_bookings=5, min_spent=[inr("100")]),
                    LoyaltyTier("gold", min_completed_bookings=3, min_spent=[inr("50")]),
                    LoyaltyTier("Platinum", min_completed_bookings=6),
                ]
            )
        assert fields(bad) == [
            ("loyalty.tiers[1].name", "duplicate"),
            ("loyalty.tiers[1].min_completed_bookings", "out_of_order"),
            ("loyalty.tiers[1].min_spent.INR", "out_of_order"),
            ("loyalty.tiers[2].min_spent", "out_of_order"),
        ]

    def test_a_tier_as_easy_as_the_one_before_is_refused(self) -> None:
        with pytest.raises(ValidationError) as bad:
            LoyaltyProgram([LoyaltyTier("A", 1), LoyaltyTier("B", 1, discount_percent=5)])
        assert fields(bad) == [("loyalty.tiers[1]", "duplicate")]

    def test_something_else_than_a_tier_is_refused(self) -> None:
        with pytest.raises(ValidationError) as bad:
            LoyaltyProgram([SILVER, "Gold"])  # type: ignore[list-item]
        assert fields(bad) == [("loyalty.tiers[1]", "invalid_type")]

    def test_plain_data_reads_back_and_names_each_tiers_field(self) -> None:
        assert LoyaltyProgram.from_dict(PROGRAM.to_dict()) == PROGRAM
        with pytest.raises(ValidationError) as bad:
            LoyaltyProgram.from_dict(
                {
                    "tiers": [
                        {"name": "Silver", "discount_percent": "5"},
                        {"name": "Gold", "discount_percent": "150"},
                        {"name": "Big", "min_spent": {"INR": "x"}, "colour": "red"},
                    ]
                }
            )
        assert fields(bad) == [
            ("loyalty.tiers[1].discount_percent", "out_of_range"),
            ("loyalty.tiers[2].min_spent.INR.amount", "invalid_amount"),
            ("loyalty.tiers[2].colour", "unknown_field"),
        ]
        with pytest.raises(ValidationError) as not_a_list:
            LoyaltyProgram.from_dict({"tiers": "Gold"})
        assert fields(not_a_list) == [("loyalty.tiers", "invalid_type")]

    def test_settings_take_a_program_or_none(self) -> None:
        assert Settings().loyalty is None
        assert Settings(loyalty=PROGRAM).loyalty is PROGRAM
        with pytest.raises(ValidationError) as bad:
            Settings(loyalty={"tiers": []})  # type: ignore[arg-type]
        assert fields(bad) == [("loyalty", "invalid_type")]


class TestTierFor:
    @pytest.mark.parametrize(
        ("completed", "spent", "tier"),
        [
            (0, (), "Member"),
            (1, (inr("999999"),), "Member"),
            (2, (), "Silver"),
            (4, (inr("50000"),), "Silver"),
            (5, (inr("49999.99"),), "Silver"),
            (5, (inr("50000"),), "Gold"),
            (5, (inr("10"), usd("600")), "Gold"),
            (5, (Money("600", "EUR"),), "Silver"),
        ],
    )
    def test_the_highest_tier_whose_thresholds_are_met(
        self, completed: int, spent: tuple[Money, ...], tier: str
    ) -> None:
        found = PROGRAM.tier_for(completed, spent)
        assert found is not None
        assert found.name == tier

    def test_below_the_first_tier_there_is_none(self) -> None:
        program = LoyaltyProgram([SILVER])
        assert program.tier_for(1, ()) is None
        status = program.status(CustomerStats(completed_bookings=1))
        assert (status.tier, status.next_tier, status.bookings_to_next) == (None, SILVER, 1)
        assert status.discount_percent == 0

    def test_the_status_says_what_the_next_tier_still_needs(self) -> None:
        stats = CustomerStats(completed_bookings=3, total_spent=(inr("20000"), usd("100.50")))
        status = PROGRAM.status(stats)
        assert status.tier == SILVER
        assert status.next_tier == GOLD
        assert status.bookings_to_next == 2
        assert status.spent_to_next == (inr("30000"), usd("499.50"))
        reached = PROGRAM.status(CustomerStats(completed_bookings=3, total_spent=[usd("700")]))
        assert (reached.bookings_to_next, reached.spent_to_next) == (2, ())
        top = PROGRAM.status(CustomerStats(completed_bookings=9, total_spent=[inr("50000")]))
        assert (top.tier, top.next_tier, top.bookings_to_next, top.spent_to_next) == (
            GOLD,
            None,
            0,
            (),
        )

    def test_the_discount_comes_only_from_a_tier_that_gives_one(self) -> None:
        assert PROGRAM.gives_discounts
        assert PROGRAM.discount_for(CustomerStats()) is None
        assert PROGRAM.discount_for(CustomerStats(completed_bookings=2)) == SILVER.discount
        assert not LoyaltyProgram([LoyaltyTier("Member")]).gives_discounts


class TestPricing:
    def test_group_tier_then_loyalty_then_voucher(self) -> None:
        breakdown = price_booking(
            [inr("1000")] * 4,
            (DiscountTier(4, Decimal(10)),),
            currency="INR",
            loyalty=LoyaltyDiscount("Silver", Decimal(5)),
            voucher=KeptVoucher("FLAT", inr("100")),
        )
        assert breakdown.subtotal == inr("4000")
        assert breakdown.tier_discount == inr("400")
        assert breakdown.loyalty_discount == inr("180")
        assert breakdown.voucher_discount == inr("100")
        assert breakdown.discount == inr("680")
        assert breakdown.total == inr("3320")
        assert (breakdown.loyalty_tier, breakdown.loyalty_percent) == ("Silver", Decimal(5))

    def test_the_discount_is_rounded_to_the_minor_unit_and_the_total_exact(self) -> None:
        breakdown = price_booking(
            [inr("99.99")], (), currency="INR", loyalty=LoyaltyDiscount("Odd", Decimal("12.5"))
        )
        assert breakdown.loyalty_discount == inr("12.50")
        assert breakdown.total == inr("87.49")
        assert breakdown.subtotal - breakdown.discount == breakdown.total

    def test_without_loyalty_nothing_is_recorded(self) -> None:
        breakdown = price_booking([inr("100")], (), currency="INR")
        assert (breakdown.loyalty_tier, breakdown.loyalty_discount) == (None, None)

    def test_a_full_discount_leaves_nothing_for_the_voucher(self) -> None:
        breakdown = price_booking(
            [inr("100")],
            (),
            currency="INR",
            loyalty=LoyaltyDiscount("Free", Decimal(100)),
            voucher=KeptVoucher("FLAT", inr("10")),
        )
        assert (breakdown.total, breakdown.voucher_discount) == (inr("0"), inr("0"))


class TestBooking:
    def test_repricing_keeps_the_percent_the_booking_was_made_with(self) -> None:
        make = Builder()
        location = make.location()
        slot = make.slot(location.id, price_per_traveler=inr("1000"))
        customer = make.customer()
        one, two = make.traveler(customer.id), make.traveler(customer.id)
        booking = make.booking(customer.id, slot, [one.id])
        booking = attrs.evolve(
            booking,
            discount=inr("50"),
            total=inr("950"),
            loyalty_tier="Silver",
            loyalty_percent=Decimal(5),
            loyalty_discount=inr("50"),
        )
        assert booking.kept_loyalty == LoyaltyDiscount("Silver", Decimal(5))
        author = Author(actor=booking.created_by, now=T0, new_id=uuid4)
        travelers = (*booking.travelers, BookingTraveler(two.id, inr("1000")))
        booking.change_travelers(travelers, slot=slot, lifecycle=RESERVATION, author=author)
        assert (booking.loyalty_tier, booking.loyalty_discount, booking.total) == (
            "Silver",
            inr("100"),
            inr("1900"),
        )

    def test_the_invoice_rows_show_the_tier_and_what_it_took(self) -> None:
        make = Builder()
        location = make.location()
        slot = make.slot(location.id, price_per_traveler=inr("1000"))
        customer = make.customer()
        traveler = make.traveler(customer.id)
        booking = attrs.evolve(
            make.booking(customer.id, slot, [traveler.id]),
            discount=inr("50"),
            total=inr("950"),
            loyalty_tier="Silver",
            loyalty_percent=Decimal(5),
            loyalty_discount=inr("50"),
        )
        data = DocumentData(
            kind=DocumentKind.INVOICE,
            booking=booking,
            customer=customer,
            travelers=[],
            location=None,
            product=None,
            issued_at=T0,
            business_name="Walks",
        )
        assert document_rows(data)[-3:] == [
            ("Discount", str(inr("50"))),
            ("Loyalty Silver (5%)", str(inr("50"))),
            ("Total", str(inr("950"))),
        ]
