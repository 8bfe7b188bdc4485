"""ProductRequirements and check(): ages at the slot's start, certificates, the stored shape."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bookingcore import CertificateRule, ProductRequirements, ValidationError
from bookingcore.domain import HeldCertificate, TravelerInfo
from bookingcore.domain.requirements import age_on, check
from bookingcore.serialization import from_dict, to_dict
from bookingcore.testing.builders import Builder

START = datetime(2026, 3, 15, 9, 0, tzinfo=UTC)
OW = "PADI Open Water"
AOW = "PADI Advanced Open Water"


def born(day: date) -> TravelerInfo:
    return TravelerInfo(birth_date=day)


def codes(problems: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(p.field, p.code) for p in problems]


class TestAges:
    def test_a_birthday_on_the_slot_s_start_day_counts(self) -> None:
        rules = ProductRequirements(min_age=10)
        tenth_today = born(date(2016, 3, 15))
        tenth_tomorrow = born(date(2016, 3, 16))
        problems = check(rules, [tenth_today, tenth_tomorrow], START)
        assert codes(problems) == [("travelers[1].age", "too_young")]
        assert "is 9 on 2026-03-15" in problems[0].message

    def test_max_age_is_inclusive_and_the_day_after_the_birthday_is_too_old(self) -> None:
        rules = ProductRequirements(min_age=12, max_age=60)
        sixty = born(date(1966, 3, 16))  # 59 still, 60 tomorrow
        sixty_today = born(date(1966, 3, 15))  # 60 today: still allowed
        sixty_one = born(date(1965, 3, 15))  # 61 today
        problems = check(rules, [sixty, sixty_today, sixty_one], START)
        assert codes(problems) == [("travelers[2].age", "too_old")]

    @pytest.mark.parametrize(
        ("day", "years"),
        [
            (date(2027, 2, 28), 10),  # common year: not yet
            (date(2027, 3, 1), 11),  # the leap-day birthday comes on 1 March
            (date(2028, 2, 28), 11),
            (date(2028, 2, 29), 12),  # a leap year: on the day itself
        ],
    )
    def test_leap_day_birthdays(self, day: date, years: int) -> None:
        assert age_on(date(2016, 2, 29), day) == years

    def test_the_day_is_the_business_s_calendar_day(self) -> None:
        """01:00 on 15 March in Kolkata is 19:30 on the 14th in UTC: the birthday
        counts on the business's calendar."""
        start = datetime(2026, 3, 15, 1, 0, tzinfo=ZoneInfo("Asia/Kolkata"))
        rules = ProductRequirements(min_age=10)
        traveler = born(date(2016, 3, 15))
        assert check(rules, [traveler], start, zone=ZoneInfo("Asia/Kolkata")) == []
        assert codes(check(rules, [traveler], start, zone=UTC)) == [
            ("travelers[0].age", "too_young")
        ]

    def test_a_stated_age_ages_in_whole_years_from_the_day_it_was_stated(self) -> None:
        rules = ProductRequirements(min_age=10)
        stated = TravelerInfo(age=9, age_as_of=date(2025, 3, 16))  # a year less a day
        later = TravelerInfo(age=9, age_as_of=date(2025, 3, 15))  # a year exactly
        as_is = TravelerInfo(age=9)  # no date: the age on the slot's day
        problems = check(rules, [stated, later, as_is], START)
        assert codes(problems) == [
            ("travelers[0].age", "too_young"),
            ("travelers[2].age", "too_young"),
        ]

    def test_a_stated_age_is_never_counted_younger_for_a_slot_before_it_was_stated(self) -> None:
        info = TravelerInfo(age=12, age_as_of=date(2026, 6, 1))
        assert info.age_on(date(2026, 3, 15)) == 12

    def test_a_birth_date_wins_over_an_age(self) -> None:
        info = TravelerInfo(birth_date=date(2016, 3, 16), age=30)
        assert codes(check(ProductRequirements(min_age=10), [info], START)) == [
            ("travelers[0].age", "too_young")
        ]

    def test_no_age_known_is_age_unknown_only_when_an_age_limit_applies(self) -> None:
        nobody = TravelerInfo()
        assert codes(check(ProductRequirements(max_age=60), [nobody], START)) == [
            ("travelers[0].age", "age_unknown")
        ]
        assert (
            check(
                ProductRequirements(certificates=[OW]),
                [TravelerInfo(certificates=[HeldCertificate(kind=OW)])],
                START,
            )
            == []
        )

    def test_no_requirements_check_nothing(self) -> None:
        assert check(None, [TravelerInfo()], START) == []
        assert check(ProductRequirements(), [TravelerInfo()], START) == []


class TestCertificates:
    def test_a_certificate_expiring_the_day_before_or_at_the_start_does_not_count(self) -> None:
        rules = ProductRequirements(certificates=[OW])
        day_before = HeldCertificate(kind=OW, expires_at=START - timedelta(days=1))
        at_start = HeldCertificate(kind=OW, expires_at=START)
        a_second_after = HeldCertificate(kind=OW, expires_at=START + timedelta(seconds=1))
        forever = HeldCertificate(kind=OW)
        travelers = [
            TravelerInfo(certificates=[day_before]),
            TravelerInfo(certificates=[at_start]),
            TravelerInfo(certificates=[a_second_after]),
            TravelerInfo(certificates=[forever]),
            TravelerInfo(certificates=[day_before, forever]),  # renewed by a newer one
            TravelerInfo(),
        ]
        assert codes(check(rules, travelers, START)) == [
            ("travelers[0].certificates", "certificate_expired"),
            ("travelers[1].certificates", "certificate_expired"),
            ("travelers[5].certificates", "certificate_missing"),
        ]

    def test_all_of_reports_each_missing_kind(self) -> None:
        rules = ProductRequirements(certificates=[OW, "Nitrox"])
        problems = check(rules, [TravelerInfo()], START)
        assert codes(problems) == [
            ("travelers[0].certificates", "certificate_missing"),
            ("travelers[0].certificates", "certificate_missing"),
        ]
        assert [OW in problems[0].message, "Nitrox" in problems[1].message] == [True, True]

    def test_any_of_needs_one_valid_kind(self) -> None:
        rules = ProductRequirements(
            certificates=[AOW, "SSI Advanced Adventurer"], certificates_rule="any"
        )
        assert rules.certificates_rule is CertificateRule.ANY
        ssi = TravelerInfo(certificates=[HeldCertificate(kind="SSI Advanced Adventurer")])
        lapsed = TravelerInfo(
            certificates=[HeldCertificate(kind=AOW, expires_at=START - timedelta(days=1))]
        )
        other = TravelerInfo(certificates=[HeldCertificate(kind=OW)])
        assert codes(check(rules, [ssi, lapsed, other], START)) == [
            ("travelers[1].certificates", "certificate_expired"),
            ("travelers[2].certificates", "certificate_missing"),
        ]

    def test_every_problem_of_every_traveler_comes_at_once(self) -> None:
        rules = ProductRequirements(min_age=10, certificates=[OW])
        problems = check(rules, [born(date(2020, 1, 1)), TravelerInfo()], START)
        assert codes(problems) == [
            ("travelers[0].age", "too_young"),
            ("travelers[0].certificates", "certificate_missing"),
            ("travelers[1].age", "age_unknown"),
            ("travelers[1].certificates", "certificate_missing"),
        ]

    def test_a_stored_traveler_s_info_ages_from_its_last_save(self) -> None:
        make = Builder()
        traveler = make.traveler(make.customer().id)
        info = TravelerInfo.of(traveler, [HeldCertificate(kind=OW)])
        assert info.age_as_of == traveler.updated_at.date()
        assert info.certificates == (HeldCertificate(kind=OW),)


class TestValidation:
    @pytest.mark.parametrize(
        ("kwargs", "field", "code"),
        [
            ({"min_age": -1}, "min_age", "out_of_range"),
            ({"max_age": 131}, "max_age", "out_of_range"),
            ({"min_age": True}, "min_age", "invalid_type"),
            ({"min_age": "10"}, "min_age", "invalid_type"),
            ({"min_age": 12, "max_age": 11}, "max_age", "out_of_range"),
            ({"certificates": OW}, "certificates", "invalid_type"),
            ({"certificates": [OW, " "]}, "certificates[1]", "required"),
            ({"certificates": [OW, f" {OW} "]}, "certificates[1]", "duplicate"),
            ({"certificates": ["x" * 101]}, "certificates[0]", "too_long"),
            ({"certificates": [3]}, "certificates[0]", "invalid_type"),
            ({"certificates": [f"k{i}" for i in range(21)]}, "certificates", "too_many"),
            ({"certificates_rule": "some"}, "certificates_rule", "invalid_choice"),
        ],
    )
    def test_bad_requirements_name_the_field(
        self, kwargs: dict[str, object], field: str, code: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            ProductRequirements(**kwargs)  # type: ignore[arg-type]
        assert [(e.field, e.code) for e in caught.value.errors] == [(field, code)]

    def test_kinds_are_trimmed_and_kept_in_order(self) -> None:
        rules = ProductRequirements(certificates=(f" {AOW}", OW))
        assert rules.certificates == (AOW, OW)

    def test_a_naive_start_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            check(ProductRequirements(min_age=1), [], datetime(2026, 3, 15))  # noqa: DTZ001
        assert caught.value.fields == ("starts_at",)


class TestStoredShape:
    def test_as_data_is_versioned_and_reads_back_equal(self) -> None:
        rules = ProductRequirements(min_age=10, certificates=[OW], certificates_rule="any")
        data = rules.as_data()
        assert data == {
            "version": 1,
            "min_age": 10,
            "max_age": None,
            "certificates": [OW],
            "certificates_rule": "any",
        }
        assert ProductRequirements.from_data(data) == rules

    @pytest.mark.parametrize(
        ("change", "field", "code"),
        [
            ({"version": 2}, "version", "unknown_version"),
            ({"version": True}, "version", "unknown_version"),
            ({"extra": 1}, "extra", "unknown_field"),
            ({"certificates": "OW"}, "certificates", "invalid_type"),
            ({"min_age": 200}, "min_age", "out_of_range"),
            ({"certificates_rule": None}, "certificates_rule", "invalid_type"),
            ({"certificates": [OW, OW]}, "certificates[1]", "duplicate"),
        ],
    )
    def test_stored_data_the_library_refuses_names_the_part(
        self, change: dict[str, object], field: str, code: str
    ) -> None:
        data = {**ProductRequirements(min_age=10, certificates=[OW]).as_data(), **change}
        with pytest.raises(ValidationError) as caught:
            ProductRequirements.from_data(data)
        assert [(e.field, e.code) for e in caught.value.errors] == [(field, code)]

    def test_not_a_mapping_is_refused(self) -> None:
        with pytest.raises(ValidationError):
            ProductRequirements.from_data([1])

    def test_a_product_s_requirements_round_trip_through_serialization(self) -> None:
        product = Builder().product(requirements=ProductRequirements(max_age=60, certificates=[OW]))
        data = to_dict(product)
        assert data["requirements"]["version"] == 1
        assert from_dict(data, type(product)) == product


@given(
    birth=st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)),
    day=st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)),
)
def test_an_age_is_the_whole_years_whose_anniversary_has_come(birth: date, day: date) -> None:
    """age_on matches counting anniversaries one by one (leap days on 1 March)."""
    years = age_on(birth, day)
    if day < birth:
        assert years < 0
        return

    def anniversary(n: int) -> date:
        try:
            return birth.replace(year=birth.year + n)
        except ValueError:  # 29 February in a common year
            return date(birth.year + n, 3, 1)

    assert anniversary(years) <= day
    if birth.year + years + 1 <= 9999:
        assert anniversary(years + 1) > day
