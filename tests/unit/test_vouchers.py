"""Vouchers in the domain: codes normalised, terms checked, each refusal its own code,
and prices with a voucher taken off after the group tier, never below zero."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import attrs
import pytest

from bookingcore import DiscountTier, Money, ValidationError
from bookingcore.domain.bookings import Booking
from bookingcore.domain.documents import DocumentData, DocumentKind
from bookingcore.domain.pricing import KeptVoucher, price_booking
from bookingcore.domain.vouchers import Voucher, VoucherId, normalise_code
from bookingcore.testing.builders import T0, Builder
from bookingcore_adapters.documents import document_rows

TIERS = (DiscountTier(5, Decimal(10)),)


def inr(amount: str) -> Money:
    return Money(amount, "INR")


def voucher(**terms: Any) -> Voucher:
    if "percent_off" not in terms and "amount_off" not in terms:
        terms["percent_off"] = "10"
    return Voucher.create(voucher_id=VoucherId(uuid4()), code="summer10", now=T0, **terms)


def refusal(exc: pytest.ExceptionInfo[ValidationError]) -> tuple[str, str]:
    return exc.value.errors[0].field, exc.value.errors[0].code


class TestCodes:
    @pytest.mark.parametrize("raw", ["summer10", " Summer10 ", "SUMMER10"])
    def test_codes_are_trimmed_and_upper_case(self, raw: str) -> None:
        assert normalise_code(raw) == "SUMMER10"

    @pytest.mark.parametrize("raw", ["", "ab", "has space", "-LEADING", "x" * 41, "CAFÉ"])
    def test_malformed_codes_are_refused_on_the_field_named(self, raw: str) -> None:
        with pytest.raises(ValidationError) as bad:
            normalise_code(raw, "code")
        assert refusal(bad) == ("code", "invalid")


class TestTerms:
    def test_a_percent_or_an_amount_never_both_nor_neither(self) -> None:
        with pytest.raises(ValidationError) as both:
            voucher(percent_off="5", amount_off=inr("10"))
        assert refusal(both) == ("percent_off", "invalid")
        with pytest.raises(ValidationError) as neither:
            Voucher.create(voucher_id=VoucherId(uuid4()), code="NONE", now=T0)
        assert refusal(neither) == ("percent_off", "invalid")

    @pytest.mark.parametrize(
        ("terms", "field", "code"),
        [
            ({"percent_off": "0"}, "percent_off", "out_of_range"),
            ({"percent_off": "100.5"}, "percent_off", "out_of_range"),
            ({"percent_off": 12.5}, "percent_off", "inexact_amount"),
            ({"amount_off": inr("0")}, "amount_off", "not_positive"),
            ({"valid_from": T0.replace(tzinfo=None)}, "valid_from", "naive_datetime"),
            ({"valid_from": T0, "valid_until": T0}, "valid_until", "out_of_range"),
            ({"max_uses": 0}, "max_uses", "out_of_range"),
            ({"max_uses_per_customer": True}, "max_uses_per_customer", "invalid_type"),
            ({"min_travelers": 0}, "min_travelers", "out_of_range"),
        ],
    )
    def test_bad_terms_name_their_field(self, terms: dict[str, Any], field: str, code: str) -> None:
        with pytest.raises(ValidationError) as bad:
            voucher(**terms)
        assert (field, code) in [(e.field, e.code) for e in bad.value.errors]

    def test_change_returns_what_changed_and_raises_the_version(self) -> None:
        v = voucher(max_uses=5)
        assert v.change(now=T0, max_uses=5) == {}
        assert v.version == 1
        assert v.change(now=T0 + timedelta(hours=1), max_uses=8, product_ids=[]) == {"max_uses": 5}
        assert (v.max_uses, v.version, v.updated_at) == (8, 2, T0 + timedelta(hours=1))
        with pytest.raises(ValidationError) as bad:
            v.change(now=T0, percent_off="0")
        assert refusal(bad) == ("percent_off", "out_of_range")
        assert v.percent_off == Decimal(10)
        with pytest.raises(ValidationError) as unknown:
            v.change(now=T0, uses=0)
        assert refusal(unknown) == ("uses", "not_changeable")


class TestCheck:
    def setup_method(self) -> None:
        self.make = Builder()
        self.location = self.make.location()
        self.product = self.make.product()
        self.slot = self.make.slot(
            self.location.id, product_id=self.product.id, price_per_traveler=inr("100")
        )

    def check(self, v: Voucher, *, travelers: int = 2, customer_uses: int = 0) -> None:
        v.check(slot=self.slot, travelers=travelers, now=T0, customer_uses=customer_uses)

    @pytest.mark.parametrize(
        ("terms", "code"),
        [
            ({"valid_from": T0 + timedelta(seconds=1)}, "not_yet_valid"),
            ({"valid_until": T0}, "expired"),
            ({"product_ids": [uuid4()]}, "not_for_this_slot"),
            ({"location_ids": [uuid4()]}, "not_for_this_slot"),
            ({"amount_off": Money("5", "EUR")}, "currency_mismatch"),
            ({"min_travelers": 3}, "too_few_travelers"),
        ],
    )
    def test_each_refusal_has_its_own_code_on_voucher_code(
        self, terms: dict[str, Any], code: str
    ) -> None:
        with pytest.raises(ValidationError) as refused:
            self.check(voucher(**terms))
        assert refusal(refused) == ("voucher_code", code)

    def test_inactive_used_up_and_used_up_by_customer(self) -> None:
        off = voucher()
        off.change(now=T0, active=False)
        with pytest.raises(ValidationError) as inactive:
            self.check(off)
        assert refusal(inactive) == ("voucher_code", "inactive")
        once = voucher(max_uses=1)
        self.check(once)
        once.count_use(T0)
        assert (once.uses, once.version) == (1, 2)
        with pytest.raises(ValidationError) as used:
            self.check(once)
        assert refusal(used) == ("voucher_code", "used_up")
        mine = voucher(max_uses_per_customer=2)
        self.check(mine, customer_uses=1)
        with pytest.raises(ValidationError) as theirs:
            self.check(mine, customer_uses=2)
        assert refusal(theirs) == ("voucher_code", "used_up_by_customer")

    def test_a_voucher_for_the_slots_product_and_location_within_its_window_passes(self) -> None:
        self.check(
            voucher(
                product_ids=[self.product.id],
                location_ids=[self.location.id],
                valid_from=T0,
                valid_until=T0 + timedelta(days=1),
                min_travelers=2,
                amount_off=inr("50"),
            )
        )


class TestPricing:
    def test_a_percent_comes_off_what_the_tier_left(self) -> None:
        breakdown = price_booking([inr("100")] * 5, TIERS, currency="INR", voucher=voucher())
        assert (breakdown.subtotal, breakdown.tier_discount) == (inr("500"), inr("50"))
        assert (breakdown.voucher_code, breakdown.voucher_discount) == ("SUMMER10", inr("45"))
        assert (breakdown.discount, breakdown.total) == (inr("95"), inr("405"))
        assert breakdown.total == breakdown.subtotal - breakdown.discount

    def test_a_fixed_amount_stops_at_zero(self) -> None:
        big = voucher(amount_off=inr("1000"))
        breakdown = price_booking([inr("100")] * 2, (), currency="INR", voucher=big)
        assert (breakdown.voucher_discount, breakdown.total) == (inr("200"), inr("0"))

    def test_the_voucher_part_is_rounded_to_the_minor_unit(self) -> None:
        odd = voucher(percent_off="12.5")
        breakdown = price_booking([inr("33.33")], (), currency="INR", voucher=odd)
        # 12.5 % of 33.33 is 4.16625, half up to 4.17
        assert (breakdown.voucher_discount, breakdown.total) == (inr("4.17"), inr("29.16"))

    def test_without_a_voucher_nothing_changes(self) -> None:
        breakdown = price_booking([inr("100")] * 5, TIERS, currency="INR")
        assert (breakdown.voucher_code, breakdown.voucher_discount) == (None, None)
        assert breakdown.tier_discount == breakdown.discount == inr("50")

    def test_a_kept_amount_comes_off_again_at_most_what_is_left(self) -> None:
        kept = KeptVoucher("FLAT", inr("300"))
        assert price_booking([inr("100")] * 5, TIERS, currency="INR", voucher=kept).total == inr(
            "150"
        )
        assert price_booking([inr("100")], (), currency="INR", voucher=kept).total == inr("0")


class TestDocuments:
    def test_a_pro_forma_invoice_names_the_voucher_and_what_it_took_off(self) -> None:
        make = Builder()
        slot = make.slot(make.location().id)
        customer = make.customer()
        plain = make.booking(customer.id, slot, [make.traveler(customer.id).id])
        off = Money("25", plain.currency)
        booking = attrs.evolve(
            plain,
            discount=off,
            total=plain.subtotal - off,
            voucher_code="SAVE25",
            voucher_discount=off,
        )

        def rows(of: Booking) -> list[tuple[str, str]]:
            data = DocumentData(
                kind=DocumentKind.INVOICE,
                booking=of,
                customer=customer,
                travelers=[],
                location=None,
                product=None,
                issued_at=T0,
                business_name="Walks",
            )
            return document_rows(data)[-4:]

        assert rows(booking)[-3:] == [
            ("Discount", str(off)),
            ("Voucher SAVE25", str(off)),
            ("Total", str(booking.total)),
        ]
        assert not any(label.startswith("Voucher") for label, _ in rows(plain))
