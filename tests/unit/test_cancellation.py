"""Cancellation terms: the online deadline, refund tiers to the second, money per currency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from bookingcore import CancellationPolicy, Money, RefundTier, Settings, ValidationError
from bookingcore.domain import CANCELLATION_METADATA_KEYS
from bookingcore.domain.cancellation import POLICY_DATA_VERSION, recorded_refund
from bookingcore.domain.catalog import Product, ProductKind
from bookingcore.domain.values import ProductId

START = datetime(2026, 3, 19, 10, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)

#: "Full refund up to 7 days before, 50 % up to 48 hours, nothing after."
OPERATOR = CancellationPolicy(
    self_service_until=timedelta(hours=24),
    refund_tiers=(
        RefundTier(timedelta(hours=48), Decimal(50)),
        RefundTier(timedelta(days=7), Decimal(100)),
    ),
)


def inr(amount: str) -> Money:
    return Money(amount, "INR")


class TestTiers:
    def test_tiers_are_kept_longest_notice_first(self) -> None:
        assert [t.notice for t in OPERATOR.refund_tiers] == [timedelta(days=7), timedelta(hours=48)]

    @pytest.mark.parametrize(
        ("before_start", "percent"),
        [
            (timedelta(days=30), Decimal(100)),
            (timedelta(days=7), Decimal(100)),  # exactly the notice: the tier applies
            (timedelta(days=7) - SECOND, Decimal(50)),  # one second later: the next tier
            (timedelta(hours=48), Decimal(50)),
            (timedelta(hours=48) - SECOND, Decimal(0)),
            (timedelta(0), Decimal(0)),
            (-timedelta(hours=1), Decimal(0)),  # after the start
        ],
    )
    def test_the_best_tier_with_enough_notice_left_applies_to_the_second(
        self, before_start: timedelta, percent: Decimal
    ) -> None:
        terms = OPERATOR.terms(starts_at=START, now=START - before_start, paid=[inr("1000")])
        assert terms.refund_percent == percent
        assert terms.refundable == (inr("1000").percent(percent),)
        assert (terms.tier is None) == (percent == 0)

    def test_refund_until_is_the_last_moment_the_percent_holds(self) -> None:
        early = OPERATOR.terms(starts_at=START, now=START - timedelta(days=10))
        assert early.refund_until == START - timedelta(days=7)
        at_edge = OPERATOR.terms(starts_at=START, now=early.refund_until)
        assert at_edge.refund_percent == 100
        after = OPERATOR.terms(starts_at=START, now=START - timedelta(days=7) + SECOND)
        assert after.refund_percent == Decimal(50)
        assert after.refund_until == START - timedelta(hours=48)
        late = OPERATOR.terms(starts_at=START, now=START - timedelta(hours=1))
        assert (late.tier, late.refund_until) == (None, None)

    def test_a_zero_notice_tier_holds_until_the_start_included(self) -> None:
        policy = CancellationPolicy(refund_tiers=[RefundTier(timedelta(0), Decimal(100))])
        assert policy.terms(starts_at=START, now=START).refund_percent == 100
        assert policy.terms(starts_at=START, now=START + SECOND).refund_percent == 0

    def test_times_in_other_zones_are_the_same_instants(self) -> None:
        ist = timezone(timedelta(hours=5, minutes=30))
        now = (START - timedelta(days=7)).astimezone(ist)
        terms = OPERATOR.terms(starts_at=START.astimezone(ist), now=now)
        assert terms.refund_percent == 100
        assert terms.refund_until == START - timedelta(days=7)


class TestSelfService:
    def test_customers_cancel_online_before_the_deadline_not_at_it(self) -> None:
        deadline = START - timedelta(hours=24)
        before = OPERATOR.terms(starts_at=START, now=deadline - SECOND)
        at = OPERATOR.terms(starts_at=START, now=deadline)
        assert (before.self_service, before.self_service_until) == (True, deadline)
        assert (at.self_service, at.self_service_until) == (False, deadline)

    def test_the_default_is_until_the_start_and_states_no_refunds(self) -> None:
        policy = CancellationPolicy()
        before = policy.terms(starts_at=START, now=START - SECOND, paid=[inr("500")])
        assert before.self_service
        assert not policy.terms(starts_at=START, now=START).self_service
        assert not before.refunds_stated
        assert before.tier is None
        assert before.refund_percent == Decimal(0)
        assert before.refundable == (inr("0"),)
        assert before.metadata() == {}


class TestMoney:
    def test_zero_paid_gives_zero_back(self) -> None:
        terms = OPERATOR.terms(starts_at=START, now=START - timedelta(days=8), paid=[inr("0")])
        assert terms.paid == (inr("0"),)
        assert terms.refundable == (inr("0"),)
        assert OPERATOR.terms(starts_at=START, now=START).refundable == ()

    def test_several_currencies_are_summed_apart_and_rounded_each_its_way(self) -> None:
        policy = CancellationPolicy(refund_tiers=[RefundTier(timedelta(0), Decimal("33.33"))])
        paid = [inr("100"), Money("1001", "JPY"), inr("0.01"), Money("1.005", "BHD")]
        terms = policy.terms(starts_at=START, now=START - SECOND, paid=paid)
        assert terms.paid == (Money("1.005", "BHD"), inr("100.01"), Money("1001", "JPY"))
        assert terms.refundable == (
            Money("0.335", "BHD"),  # 0.33496665 half up to fils
            inr("33.33"),  # 33.333333 to paise
            Money("334", "JPY"),  # 333.6333 to whole yen
        )
        assert terms.refundable_in("JPY") == Money("334", "JPY")
        assert terms.refundable_in("USD") == Money("0", "USD")

    def test_the_terms_recorded_on_a_cancellation(self) -> None:
        terms = OPERATOR.terms(
            starts_at=START,
            now=START - timedelta(days=3),
            paid=[inr("1250"), Money("10", "USD")],
        )
        assert terms.metadata() == {
            "cancellation_refund_percent": "50",
            "cancellation_refundable": "625.00 INR; 5.00 USD",
        }
        assert tuple(terms.metadata()) == CANCELLATION_METADATA_KEYS
        fraction = CancellationPolicy(refund_tiers=[RefundTier(timedelta(0), Decimal("12.50"))])
        recorded = fraction.terms(starts_at=START, now=START, paid=[inr("10")]).metadata()
        assert recorded["cancellation_refund_percent"] == "12.5"

    def test_paid_must_be_money(self) -> None:
        with pytest.raises(ValidationError) as caught:
            OPERATOR.terms(starts_at=START, now=START, paid=[Decimal(1)])  # type: ignore[list-item]
        assert caught.value.fields == ("paid",)

    def test_naive_times_are_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            OPERATOR.terms(starts_at=START, now=datetime(2026, 3, 1))  # noqa: DTZ001
        assert caught.value.fields == ("now",)


class TestValidation:
    @pytest.mark.parametrize(
        ("build", "field", "code"),
        [
            (lambda: RefundTier(-SECOND, Decimal(10)), "notice", "out_of_range"),
            (lambda: RefundTier(3600, Decimal(10)), "notice", "invalid_type"),  # type: ignore[arg-type]
            (lambda: RefundTier(SECOND, Decimal(101)), "refund_percent", "out_of_range"),
            (lambda: RefundTier(SECOND, Decimal(-1)), "refund_percent", "out_of_range"),
            (lambda: RefundTier(SECOND, 50.0), "refund_percent", "inexact_amount"),
            (lambda: RefundTier(SECOND, "half"), "refund_percent", "invalid_amount"),
            (lambda: RefundTier(SECOND, Decimal("NaN")), "refund_percent", "out_of_range"),
            (
                lambda: CancellationPolicy(self_service_until=-SECOND),
                "self_service_until",
                "out_of_range",
            ),
            (
                lambda: CancellationPolicy(refund_tiers=[RefundTier(SECOND, 10), "10%"]),
                "refund_tiers.1",
                "invalid_type",
            ),
            (
                lambda: CancellationPolicy(refund_tiers=RefundTier(SECOND, 10)),
                "refund_tiers",
                "invalid_type",
            ),
            (
                lambda: CancellationPolicy(
                    refund_tiers=[RefundTier(SECOND, 10), RefundTier(SECOND, 20)]
                ),
                "refund_tiers",
                "duplicate",
            ),
            (
                # 100 % up to 2 days would swallow the 50 % up to 7 days: refused.
                lambda: CancellationPolicy(
                    refund_tiers=[
                        RefundTier(timedelta(days=2), 100),
                        RefundTier(timedelta(days=7), 50),
                    ]
                ),
                "refund_tiers",
                "not_decreasing",
            ),
            (
                lambda: CancellationPolicy(
                    refund_tiers=[
                        RefundTier(timedelta(days=2), 50),
                        RefundTier(timedelta(days=7), 50),
                    ]
                ),
                "refund_tiers",
                "not_decreasing",
            ),
        ],
    )
    def test_bad_input_names_the_field(self, build: object, field: str, code: str) -> None:
        with pytest.raises(ValidationError) as caught:
            build()  # type: ignore[operator]
        assert caught.value.fields == (field,)
        assert caught.value.errors[0].code == code

    def test_percents_may_be_written_as_int_or_text(self) -> None:
        assert RefundTier(SECOND, 50).refund_percent == Decimal(50)
        assert RefundTier(SECOND, " 12.5 ").refund_percent == Decimal("12.5")

    def test_a_zero_percent_tier_states_a_non_refundable_booking(self) -> None:
        policy = CancellationPolicy(refund_tiers=[RefundTier(timedelta(0), 0)])
        terms = policy.terms(starts_at=START, now=START - timedelta(days=30), paid=[inr("80")])
        assert terms.refunds_stated
        assert terms.metadata() == {
            "cancellation_refund_percent": "0",
            "cancellation_refundable": "0.00 INR",
        }


class TestSettings:
    def test_bookings_follow_their_lifecycle_s_policy_or_the_default(self) -> None:
        settings = Settings(cancellation=OPERATOR, cancellation_by_lifecycle={"travel": TRAVEL})
        assert settings.cancellation_policy("travel") is TRAVEL
        assert settings.cancellation_policy("reservation") is OPERATOR
        assert Settings().cancellation_policy("reservation") == CancellationPolicy()

    def test_a_product_s_own_policy_comes_first(self) -> None:
        settings = Settings(cancellation=OPERATOR, cancellation_by_lifecycle={"travel": TRAVEL})
        course = Product(ProductId(uuid4()), "OW", "Open water", ProductKind.COURSE, START)
        assert settings.cancellation_policy("travel", course) is TRAVEL  # none of its own
        course.cancellation_policy = NON_REFUNDABLE
        assert settings.cancellation_policy("travel", course) is NON_REFUNDABLE
        assert settings.cancellation_policy("reservation", course) is NON_REFUNDABLE
        assert settings.cancellation_policy("reservation", None) is OPERATOR

    @pytest.mark.parametrize(
        ("kwargs", "field", "code"),
        [
            ({"cancellation": timedelta(hours=24)}, "cancellation", "invalid_type"),
            (
                {"cancellation_by_lifecycle": {"cruise": OPERATOR}},
                "cancellation_by_lifecycle.cruise",
                "invalid_choice",
            ),
            (
                {"cancellation_by_lifecycle": {"travel": "strict"}},
                "cancellation_by_lifecycle.travel",
                "invalid_type",
            ),
            (
                {"cancellation_by_lifecycle": [OPERATOR]},
                "cancellation_by_lifecycle",
                "invalid_type",
            ),
        ],
    )
    def test_a_bad_policy_is_refused_at_construction(
        self, kwargs: dict[str, object], field: str, code: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            Settings(**kwargs)  # type: ignore[arg-type]
        assert caught.value.fields == (field,)
        assert caught.value.errors[0].code == code


TRAVEL = CancellationPolicy(refund_tiers=[RefundTier(timedelta(days=30), 90)])


class TestRecordedRefund:
    def test_what_a_cancellation_recorded_reads_back(self) -> None:
        terms = OPERATOR.terms(
            starts_at=START, now=START - timedelta(days=3), paid=[inr("1250"), Money("9", "JPY")]
        )
        assert recorded_refund(terms.metadata()) == (
            Decimal(50),
            (inr("625"), Money("5", "JPY")),  # 4.5 yen rounds half up
        )

    def test_nothing_recorded_reads_as_none_and_garbage_is_left_out(self) -> None:
        assert recorded_refund({}) is None
        assert recorded_refund({"cancellation_refund_percent": "lots"}) is None
        odd = {"cancellation_refund_percent": "10", "cancellation_refundable": "1 XXX; 2.00 INR; "}
        assert recorded_refund(odd) == (Decimal(10), (inr("2"),))


NON_REFUNDABLE = CancellationPolicy(refund_tiers=[RefundTier(timedelta(0), Decimal(0))])


class TestData:
    """A policy as stored data: a versioned shape, read back only when it is valid."""

    def test_the_shape_is_versioned_seconds_and_decimal_strings(self) -> None:
        assert OPERATOR.as_data() == {
            "version": 1,
            "self_service_until_seconds": 86_400,
            "refund_tiers": [
                {"notice_seconds": 604_800, "refund_percent": "100"},
                {"notice_seconds": 172_800, "refund_percent": "50"},
            ],
        }
        assert POLICY_DATA_VERSION == 1
        assert CancellationPolicy().as_data() == {
            "version": 1,
            "self_service_until_seconds": 0,
            "refund_tiers": [],
        }

    @pytest.mark.parametrize(
        "policy",
        [
            OPERATOR,
            NON_REFUNDABLE,
            CancellationPolicy(),
            TRAVEL,
            CancellationPolicy(refund_tiers=[RefundTier(timedelta(days=400), Decimal("12.5"))]),
        ],
    )
    def test_what_is_written_reads_back_equal(self, policy: CancellationPolicy) -> None:
        assert CancellationPolicy.from_data(policy.as_data()) == policy

    def test_durations_below_a_second_are_not_stored(self) -> None:
        fraction = CancellationPolicy(self_service_until=timedelta(hours=1, microseconds=5))
        with pytest.raises(ValidationError) as caught:
            fraction.as_data()
        assert caught.value.fields == ("self_service_until",)
        assert caught.value.errors[0].code == "precision"
        tier = CancellationPolicy(refund_tiers=[RefundTier(timedelta(milliseconds=1), 10)])
        with pytest.raises(ValidationError) as caught:
            tier.as_data()
        assert caught.value.fields == ("refund_tiers.0.notice",)

    @pytest.mark.parametrize(
        ("change", "field", "code"),
        [
            ({"version": 2}, "version", "unknown_version"),
            ({"version": True}, "version", "unknown_version"),
            ({"self_service_until_seconds": -1}, "self_service_until_seconds", "out_of_range"),
            ({"self_service_until_seconds": 1.5}, "self_service_until_seconds", "invalid_type"),
            ({"self_service_until_seconds": "3600"}, "self_service_until_seconds", "invalid_type"),
            ({"refund_tiers": {"notice_seconds": 0}}, "refund_tiers", "invalid_type"),
            ({"refund_tiers": ["100"]}, "refund_tiers.0", "invalid_type"),
            (
                {"refund_tiers": [{"notice_seconds": 0, "refund_percent": "150"}]},
                "refund_tiers.0.refund_percent",
                "out_of_range",
            ),
            (
                {"refund_tiers": [{"notice_seconds": 0, "refund_percent": 50}]},
                "refund_tiers.0.refund_percent",
                "invalid_type",
            ),
            (
                {"refund_tiers": [{"notice_seconds": -60, "refund_percent": "50"}]},
                "refund_tiers.0.notice_seconds",
                "out_of_range",
            ),
            (
                {"refund_tiers": [{"notice_seconds": 0, "refund_percent": "5", "x": 1}]},
                "refund_tiers.0.x",
                "unknown_field",
            ),
            (
                # 100 % up to 2 days, 50 % up to 7: the policy itself refuses it again
                {
                    "refund_tiers": [
                        {"notice_seconds": 172_800, "refund_percent": "100"},
                        {"notice_seconds": 604_800, "refund_percent": "50"},
                    ]
                },
                "refund_tiers",
                "not_decreasing",
            ),
            ({"refund": []}, "refund", "unknown_field"),
        ],
    )
    def test_stored_data_that_is_no_valid_policy_is_refused(
        self, change: dict[str, Any], field: str, code: str
    ) -> None:
        data = {**OPERATOR.as_data(), **change}
        with pytest.raises(ValidationError) as caught:
            CancellationPolicy.from_data(data)
        assert caught.value.fields == (field,)
        assert caught.value.errors[0].code == code

    def test_something_other_than_a_mapping_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            CancellationPolicy.from_data(["version", 1])
        assert caught.value.errors[0].code == "invalid_type"
