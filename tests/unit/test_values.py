"""Value objects: phone numbers, email addresses, money, actors and aware datetimes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from bookingcore import EmailAddress, Money, PhoneNumber, ValidationError
from bookingcore.domain import Actor, ActorKind
from bookingcore.domain.values import ensure_aware

CANONICAL = "+919876543210"


class TestPhoneNumber:
    @pytest.mark.parametrize(
        "written",
        [
            "+919876543210",
            "+91 98765 43210",
            "+91-98765-43210",
            "(+91) 98765-43210",
            "0091 9876543210",
            "098765 43210",
            "  +91 98765 43210  ",
        ],
    )
    def test_the_same_number_written_many_ways_normalises_to_e164(self, written: str) -> None:
        assert PhoneNumber.parse(written, region="IN").e164 == CANONICAL

    def test_an_international_number_needs_no_region(self) -> None:
        assert PhoneNumber("+91 98765-43210").e164 == CANONICAL

    @pytest.mark.parametrize(
        ("raw", "code"),
        [
            ("12", "invalid_phone"),
            ("abc", "invalid_phone"),
            ("+91 12345", "invalid_phone"),
            ("", "required"),
            ("   ", "required"),
        ],
    )
    def test_an_invalid_number_is_refused_on_the_phone_field(self, raw: str, code: str) -> None:
        with pytest.raises(ValidationError) as caught:
            PhoneNumber(raw)
        assert caught.value.fields == ("phone",)
        assert caught.value.errors[0].code == code

    def test_parse_names_the_field_it_is_given(self) -> None:
        with pytest.raises(ValidationError) as caught:
            PhoneNumber.parse("12", region="IN", field="emergency_contact_phone")
        assert caught.value.fields == ("emergency_contact_phone",)
        assert caught.value.errors[0].code == "invalid_phone"

    def test_a_national_number_without_a_region_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            PhoneNumber.parse("098765 43210")
        assert caught.value.fields == ("phone",)
        assert "international format" in caught.value.errors[0].message

    def test_masked_hides_all_but_the_last_four_digits(self) -> None:
        masked = PhoneNumber(CANONICAL).masked()
        assert masked.endswith("3210")
        assert "98765" not in masked
        assert "*" in masked
        assert len(masked) == len(CANONICAL)

    def test_numbers_that_dial_the_same_line_are_equal_and_hash_alike(self) -> None:
        a = PhoneNumber("+91 98765 43210")
        b = PhoneNumber.parse("098765-43210", region="IN")
        assert a == b
        assert hash(a) == hash(b)
        assert len({a, b}) == 1
        assert a != PhoneNumber("+919876543211")

    def test_str_region_and_national_form(self) -> None:
        number = PhoneNumber(CANONICAL)
        assert str(number) == CANONICAL
        assert number.region == "IN"
        assert number.national().replace(" ", "") == "09876543210"

    def test_constructing_from_another_phone_number_keeps_it(self) -> None:
        assert PhoneNumber(PhoneNumber(CANONICAL)).e164 == CANONICAL


class TestEmailAddress:
    def test_the_domain_is_lower_cased_and_the_local_part_kept(self) -> None:
        email = EmailAddress("  Ravi.Kumar@Example.COM ")
        assert email.value == "Ravi.Kumar@example.com"
        assert email.domain == "example.com"
        assert str(email) == "Ravi.Kumar@example.com"

    def test_addresses_differing_only_in_domain_case_are_equal(self) -> None:
        assert EmailAddress("ops@PARTNER.example") == EmailAddress("ops@partner.example")

    @pytest.mark.parametrize("raw", ["not-an-email", "a@", "@example.com", "a b@example.com"])
    def test_a_malformed_address_is_refused_on_the_email_field(self, raw: str) -> None:
        with pytest.raises(ValidationError) as caught:
            EmailAddress(raw)
        assert caught.value.fields == ("email",)
        assert caught.value.errors[0].code == "invalid_email"

    def test_an_empty_address_is_required(self) -> None:
        with pytest.raises(ValidationError) as caught:
            EmailAddress("  ")
        assert caught.value.errors[0].code == "required"

    def test_parse_names_the_field_it_is_given(self) -> None:
        with pytest.raises(ValidationError) as caught:
            EmailAddress.parse("nope", field="contact_email")
        assert caught.value.fields == ("contact_email",)


class TestMoney:
    def test_amounts_round_half_up_to_the_minor_unit(self) -> None:
        assert Money(Decimal("2.345"), "INR").amount == Decimal("2.35")
        assert Money(Decimal("2.344"), "INR").amount == Decimal("2.34")
        assert Money(Decimal("-2.345"), "INR").amount == Decimal("-2.35")

    def test_jpy_has_no_minor_unit(self) -> None:
        assert Money("2.5", "JPY").amount == Decimal("3")
        assert Money("2.5", "JPY").minor_units == 3

    def test_bhd_has_three_decimal_places(self) -> None:
        assert Money("1.2345", "BHD").amount == Decimal("1.235")
        assert Money("1.2345", "BHD").minor_units == 1235

    def test_currency_codes_are_read_case_insensitively(self) -> None:
        assert Money("1", " inr ").currency == "INR"

    def test_a_float_amount_is_refused_as_inexact(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Money(0.1, "INR")  # type: ignore[arg-type]
        assert caught.value.errors[0].code == "inexact_amount"

    @pytest.mark.parametrize("raw", ["abc", "NaN", "Infinity"])
    def test_a_non_numeric_or_infinite_amount_is_refused(self, raw: str) -> None:
        with pytest.raises(ValidationError) as caught:
            Money(raw, "INR")
        assert caught.value.errors[0].code == "invalid_amount"

    @pytest.mark.parametrize("code", ["XYZ", "XAU", "", "rupees"])
    def test_an_unknown_currency_is_refused_on_the_currency_field(self, code: str) -> None:
        with pytest.raises(ValidationError) as caught:
            Money("1", code)
        assert caught.value.fields == ("currency",)
        assert caught.value.errors[0].code == "invalid_currency"

    def test_adding_different_currencies_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Money("1", "INR") + Money("1", "USD")
        assert caught.value.errors[0].code == "currency_mismatch"

    def test_subtracting_different_currencies_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Money("1", "INR") - Money("1", "USD")
        assert caught.value.errors[0].code == "currency_mismatch"

    def test_comparing_different_currencies_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            _ = Money("1", "INR") < Money("2", "USD")
        assert caught.value.errors[0].code == "currency_mismatch"

    def test_amounts_in_different_currencies_are_never_equal(self) -> None:
        assert Money("1", "INR") != Money("1", "USD")

    def test_minor_units_counts_paise(self) -> None:
        assert Money("1234.56", "INR").minor_units == 123456
        assert Money("-0.05", "INR").minor_units == -5

    def test_percent_is_rounded_to_the_minor_unit(self) -> None:
        assert Money("999.99", "INR").percent(Decimal(15)) == Money("150.00", "INR")
        assert Money("10.05", "INR").percent(Decimal(50)) == Money("5.03", "INR")

    def test_negative_zero_is_normalised(self) -> None:
        money = Money("-0.001", "INR")
        assert money.amount == Decimal("0.00")
        assert not money.amount.is_signed()
        assert "-" not in str(money)
        assert not money.is_negative()

    def test_arithmetic_is_exact(self) -> None:
        total = Money("0.10", "INR") + Money("0.20", "INR")
        assert total.amount == Decimal("0.30")
        assert Money("1.00", "INR") - Money("0.99", "INR") == Money("0.01", "INR")
        assert Money("33.33", "INR") * 3 == Money("99.99", "INR")
        assert 3 * Money("33.33", "INR") == Money("99.99", "INR")
        assert -Money("5", "INR") == Money("-5", "INR")

    def test_comparisons_in_one_currency_follow_the_amount(self) -> None:
        assert Money("1", "INR") < Money("2", "INR") <= Money("2.00", "INR")
        assert Money("3", "INR") > Money("2", "INR") >= Money("2", "INR")

    def test_str_groups_thousands_and_names_the_currency(self) -> None:
        assert str(Money("1234.5", "INR")) == "1,234.50 INR"

    def test_zero_and_parse(self) -> None:
        assert Money.zero("BHD").amount == Decimal("0.000")
        with pytest.raises(ValidationError) as caught:
            Money.parse("1", "XYZ", field="price")
        assert caught.value.fields == ("price.currency",)

    def test_a_sum_may_pass_the_largest_single_amount_and_is_rounded_as_money_is(
        self,
    ) -> None:
        with pytest.raises(ValidationError):
            Money("1800000000000", "VND")
        total = Money.summed(Decimal("1800000000000.4"), "vnd")
        assert (total.amount, total.currency) == (Decimal("1800000000000"), "VND")
        assert Money.summed(Decimal("2.345"), "INR") == Money("2.35", "INR")
        assert not Money.summed(Decimal("-0.001"), "INR").amount.is_signed()
        with pytest.raises(ValidationError) as caught:
            total + Money("1", "VND")  # arithmetic keeps the bound
        assert caught.value.fields == ("amount",)
        for wrong in (Decimal("NaN"), 1.5):
            with pytest.raises(ValidationError):
                Money.summed(wrong, "INR")  # type: ignore[arg-type]


class TestActor:
    def test_str_shows_kind_and_id(self) -> None:
        assert str(Actor(ActorKind.STAFF, "42")) == "staff:42"

    def test_str_of_an_actor_without_id_is_its_kind(self) -> None:
        assert str(Actor("webhook")) == "webhook"

    def test_system_actor_carries_its_name(self) -> None:
        actor = Actor.system("nightly")
        assert actor.kind is ActorKind.SYSTEM
        assert str(actor) == "system:nightly"


class TestEnsureAware:
    def test_a_naive_datetime_is_refused_on_the_named_field(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ensure_aware(datetime(2026, 1, 1, 9, 0), "starts_at")  # noqa: DTZ001
        assert caught.value.fields == ("starts_at",)
        assert caught.value.errors[0].code == "naive_datetime"

    def test_an_aware_datetime_is_converted_to_utc(self) -> None:
        ist = timezone(timedelta(hours=5, minutes=30))
        result = ensure_aware(datetime(2026, 1, 1, 14, 30, tzinfo=ist), "starts_at")
        assert result == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
        assert result.utcoffset() == timedelta(0)
        assert result.hour == 9


def test_ordering_money_against_a_non_money_value_is_a_type_error() -> None:
    """Comparisons with plain numbers are refused like arithmetic is, not an AttributeError."""
    with pytest.raises(TypeError):
        _ = Money("1", "INR") < 5  # type: ignore[operator]


def test_from_stored_rebuilds_equal_values_without_parsing_again() -> None:
    phone = PhoneNumber.parse("098765 43210", region="IN")
    stored = PhoneNumber.from_stored(phone.e164)
    assert stored == phone
    assert hash(stored) == hash(phone)
    assert stored.masked() == phone.masked()
    email = EmailAddress.parse("Meera@Example.COM")
    assert EmailAddress.from_stored(email.value) == email
    assert EmailAddress.from_stored(email.value).domain == "example.com"


def test_random_references_use_the_crockford_alphabet_and_differ() -> None:
    from bookingcore import RandomIds  # noqa: PLC0415

    ids = RandomIds(reference_prefix="TRK")
    references = {ids.new_reference() for _ in range(2000)}
    assert len(references) == 2000
    alphabet = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    for reference in references:
        prefix, _, body = reference.partition("-")
        assert prefix == "TRK"
        assert len(body) == 8
        assert set(body) <= alphabet
    # every character position takes many values, not a fixed pattern
    for position in range(8):
        assert len({r[4 + position] for r in references}) > 20


class TestMinorUnits:
    @pytest.mark.parametrize(
        ("units", "currency", "amount"),
        [(1050, "INR", "10.50"), (1050, "JPY", "1050"), (1050, "KWD", "1.050"), (0, "USD", "0.00")],
    )
    def test_minor_units_follow_the_iso_4217_exponent_both_ways(
        self, units: int, currency: str, amount: str
    ) -> None:
        money = Money.from_minor_units(units, currency)
        assert money == Money(amount, currency)
        assert money.minor_units == units

    @pytest.mark.parametrize("units", [10.5, "1050", True])
    def test_minor_units_must_be_a_whole_number(self, units: object) -> None:
        with pytest.raises(ValidationError) as caught:
            Money.from_minor_units(units, "INR")  # type: ignore[arg-type]
        assert caught.value.errors[0].field == "amount"


def _imported_row() -> object:
    from uuid import uuid4  # noqa: PLC0415

    from bookingcore.domain.import_rows import ValidRow  # noqa: PLC0415

    return ValidRow(
        number=7,
        name="Asha Verma",
        phone=PhoneNumber("+919812345678"),
        email=EmailAddress("Asha@Example.com"),
        location_id=uuid4(),  # type: ignore[arg-type]
        starts_at=datetime(2026, 5, 1, 9, 30, tzinfo=UTC),
        status="booked",
        fingerprint="f" * 64,
        external_id="EXT-7",
        product_id=uuid4(),  # type: ignore[arg-type]
        notes="by the window",
        metadata=(("car_variant", "ZX"),),
    )


def _source_row() -> object:
    from bookingcore.domain.imports import SourceRow  # noqa: PLC0415

    return SourceRow(7, ("Asha Verma", "+91 98123 45678", ""))


@pytest.mark.parametrize(
    "make",
    [
        lambda: PhoneNumber("+919812345678"),
        lambda: EmailAddress("Asha@Example.com"),
        _imported_row,
        _source_row,
    ],
    ids=["phone", "email", "valid-row", "source-row"],
)
def test_values_an_import_sends_between_processes_pickle_to_equal_values(
    make: Callable[[], object],
) -> None:
    """Phones, emails and an import's rows pickle to equal values of the same type
    (validation workers send rows back and forth)."""
    import pickle  # noqa: PLC0415

    original = make()
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        copy = pickle.loads(pickle.dumps(original, protocol=protocol))
        assert type(copy) is type(original)
        assert copy == original
        assert hash(copy) == hash(original)
