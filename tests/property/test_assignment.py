"""Advisor assignment spreads bookings fairly and never leaves its bounds: round robin
keeps every advisor within one assignment of the others, least loaded always picks a
minimum, dealer based never leaves a territory, and nobody inactive is ever picked."""

from __future__ import annotations

from collections import Counter
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bookingcore.domain.assignment import (
    Advisor,
    Assigner,
    AssignmentStrategy,
    dealer_based,
    least_loaded,
    round_robin,
)
from bookingcore.domain.values import LocationId, StaffId
from bookingcore.errors import ValidationError

LOCATIONS = [LocationId(UUID(int=1000 + n)) for n in range(4)]


def staff(n: int) -> StaffId:
    return StaffId(UUID(int=n))


@st.composite
def advisor_lists(draw: st.DrawFn, *, min_active: int = 0, max_size: int = 8) -> list[Advisor]:
    """Advisors with distinct ids, uneven loads, random territories and some inactive."""
    numbers = draw(st.lists(st.integers(1, 10_000), min_size=1, max_size=max_size, unique=True))
    advisors = [
        Advisor(
            id=staff(n),
            open_bookings=draw(st.integers(0, 20)),
            location_ids=draw(st.frozensets(st.sampled_from(LOCATIONS), max_size=3)),
            is_active=draw(st.booleans()),
        )
        for n in numbers
    ]
    missing = min_active - sum(a.is_active for a in advisors)
    for index in range(len(advisors)):
        if missing <= 0:
            break
        if not advisors[index].is_active:
            advisors[index] = Advisor(
                advisors[index].id,
                advisors[index].open_bookings,
                advisors[index].location_ids,
                is_active=True,
            )
            missing -= 1
    return advisors


def active_ids(advisors: list[Advisor]) -> set[StaffId]:
    return {a.id for a in advisors if a.is_active}


class TestRoundRobin:
    @given(advisor_lists(min_active=1), st.integers(0, 60), st.integers(0, 50))
    def test_every_active_advisor_gets_within_one_of_the_others(
        self, advisors: list[Advisor], calls: int, start: int
    ) -> None:
        counts: Counter[StaffId] = Counter()
        cursor = start
        for _ in range(calls):
            picked, cursor = round_robin(advisors, cursor)
            counts[picked] += 1
        assert set(counts) <= active_ids(advisors)
        per_advisor = [counts[a] for a in active_ids(advisors)]
        assert max(per_advisor) - min(per_advisor) <= 1
        assert sum(per_advisor) == calls

    @given(advisor_lists(min_active=1), st.integers(1, 40))
    def test_the_assigner_spreads_unnamed_rows_within_one_whatever_the_load(
        self, advisors: list[Advisor], rows: int
    ) -> None:
        assigner = Assigner(AssignmentStrategy.ROUND_ROBIN, advisors)
        before = assigner.loads
        picks = Counter(assigner.assign(LOCATIONS[0]) for _ in range(rows))
        assert None not in picks
        per_advisor = [picks[a] for a in active_ids(advisors)]
        assert max(per_advisor) - min(per_advisor) <= 1
        after = assigner.loads
        assert {a: after[a] - before[a] for a in after} == {a: picks[a] for a in after}

    def test_turns_follow_the_order_of_ids_and_the_cursor_wraps(self) -> None:
        advisors = [Advisor(staff(3)), Advisor(staff(1)), Advisor(staff(2))]
        assert round_robin(advisors, 0) == (staff(1), 1)
        assert round_robin(advisors, 1) == (staff(2), 2)
        assert round_robin(advisors, 2) == (staff(3), 0)
        assert round_robin(advisors, 7) == (staff(2), 2)

    def test_no_active_advisor_is_a_validation_error_on_advisors(self) -> None:
        with pytest.raises(ValidationError) as caught:
            round_robin([Advisor(staff(1), is_active=False)], 0)
        assert caught.value.fields == ("advisors",)
        assert caught.value.errors[0].code == "no_active_advisor"


class TestLeastLoaded:
    @given(advisor_lists(min_active=1), st.integers(1, 40))
    def test_each_pick_has_the_minimum_load_at_that_moment(
        self, advisors: list[Advisor], rows: int
    ) -> None:
        assigner = Assigner("least_loaded", advisors)
        for _ in range(rows):
            loads = assigner.loads
            minimum = min(loads[a] for a in active_ids(advisors))
            picked = assigner.assign(LOCATIONS[0])
            assert picked in active_ids(advisors)
            assert loads[picked] == minimum
            # ties go to the smallest id
            assert picked == min(a for a in active_ids(advisors) if loads[a] == minimum)
            assert assigner.loads[picked] == loads[picked] + 1

    @given(advisor_lists(min_active=1), st.data())
    def test_explicit_loads_override_open_bookings(
        self, advisors: list[Advisor], data: st.DataObject
    ) -> None:
        loads = {a.id: data.draw(st.integers(0, 30)) for a in advisors}
        picked = least_loaded(advisors, loads)
        assert picked in active_ids(advisors)
        assert loads[picked] == min(loads[a] for a in active_ids(advisors))

    def test_uneven_loads_are_evened_out_before_anyone_gets_a_second(self) -> None:
        advisors = [Advisor(staff(1), 5), Advisor(staff(2), 2), Advisor(staff(3), 0)]
        assigner = Assigner(AssignmentStrategy.LEAST_LOADED, advisors)
        picks = [assigner.assign(LOCATIONS[0]) for _ in range(7)]
        assert picks == [staff(3), staff(3), staff(2), staff(3), staff(2), staff(3), staff(2)]
        assert assigner.loads == {staff(1): 5, staff(2): 5, staff(3): 4}

    def test_no_advisor_at_all_is_a_validation_error(self) -> None:
        with pytest.raises(ValidationError, match="least_loaded assignment needs"):
            least_loaded([])


class TestDealerBased:
    @given(advisor_lists(), st.sampled_from(LOCATIONS), st.integers(1, 20))
    def test_never_assigns_outside_the_territory(
        self, advisors: list[Advisor], location: LocationId, rows: int
    ) -> None:
        covering = {a.id for a in advisors if a.is_active and location in a.location_ids}
        assigner = Assigner(AssignmentStrategy.DEALER_BASED, advisors)
        for _ in range(rows):
            loads = assigner.loads
            picked = assigner.assign(location)
            if not covering:
                assert picked is None
            else:
                assert picked in covering
                assert loads[picked] == min(loads[a] for a in covering)

    @given(advisor_lists(), st.sampled_from(LOCATIONS))
    def test_none_when_no_active_advisor_covers_the_location(
        self, advisors: list[Advisor], location: LocationId
    ) -> None:
        without_cover = [
            Advisor(a.id, a.open_bookings, a.location_ids - {location}) if a.is_active else a
            for a in advisors
        ]
        inactive_cover = [
            *without_cover,
            Advisor(staff(99_999), 0, {location}, is_active=False),
        ]
        assert dealer_based(inactive_cover, location) is None

    def test_the_least_loaded_of_the_territory_wins_even_if_others_are_idle(self) -> None:
        here, there = LOCATIONS[0], LOCATIONS[1]
        advisors = [
            Advisor(staff(1), 0, {there}),
            Advisor(staff(2), 4, {here, there}),
            Advisor(staff(3), 3, {here}),
        ]
        assert dealer_based(advisors, here) == staff(3)
        assert dealer_based(advisors, here, {staff(3): 9}) == staff(2)


class TestInactiveAdvisors:
    @given(
        advisor_lists(min_active=1),
        st.sampled_from(
            [
                AssignmentStrategy.ROUND_ROBIN,
                AssignmentStrategy.LEAST_LOADED,
                AssignmentStrategy.DEALER_BASED,
            ]
        ),
        st.lists(st.sampled_from(LOCATIONS), min_size=1, max_size=30),
    )
    def test_are_never_picked_by_any_strategy(
        self,
        advisors: list[Advisor],
        strategy: AssignmentStrategy,
        rows: list[LocationId],
    ) -> None:
        assigner = Assigner(strategy, advisors)
        inactive = {a.id for a in advisors if not a.is_active}
        for location in rows:
            assert assigner.assign(location) not in inactive

    def test_an_inactive_advisor_named_by_a_row_is_refused_on_advisor_email(self) -> None:
        assigner = Assigner("round_robin", [Advisor(staff(1)), Advisor(staff(2), is_active=False)])
        with pytest.raises(ValidationError) as caught:
            assigner.assign(LOCATIONS[0], requested=staff(2))
        assert caught.value.fields == ("advisor_email",)
        assert caught.value.errors[0].code == "inactive_advisor"
        assert assigner.loads == {staff(1): 0, staff(2): 0}


class TestAssigner:
    def test_manual_leaves_unnamed_rows_unassigned_and_keeps_named_ones(self) -> None:
        assigner = Assigner(AssignmentStrategy.MANUAL, [Advisor(staff(1)), Advisor(staff(2))])
        assert assigner.assign(LOCATIONS[0]) is None
        assert assigner.assign(LOCATIONS[0], requested=staff(2)) == staff(2)
        assert assigner.loads == {staff(1): 0, staff(2): 1}

    def test_manual_with_nobody_active_is_allowed(self) -> None:
        assert Assigner("manual", []).assign(LOCATIONS[0]) is None

    @pytest.mark.parametrize("strategy", list(AssignmentStrategy))
    def test_a_named_advisor_is_kept_under_every_strategy_even_outside_the_territory(
        self, strategy: AssignmentStrategy
    ) -> None:
        advisors = [Advisor(staff(1), 0, {LOCATIONS[0]}), Advisor(staff(2), 50, {LOCATIONS[1]})]
        assigner = Assigner(strategy, advisors)
        assert assigner.assign(LOCATIONS[0], requested=staff(2)) == staff(2)
        assert assigner.loads[staff(2)] == 51

    def test_a_named_advisor_does_not_take_a_round_robin_turn(self) -> None:
        assigner = Assigner("round_robin", [Advisor(staff(1)), Advisor(staff(2))])
        assigner.assign(LOCATIONS[0], requested=staff(2))
        assert [assigner.assign(LOCATIONS[0]) for _ in range(3)] == [staff(1), staff(2), staff(1)]

    def test_an_unknown_named_advisor_is_refused_on_advisor_email(self) -> None:
        assigner = Assigner("least_loaded", [Advisor(staff(1))])
        with pytest.raises(ValidationError) as caught:
            assigner.assign(LOCATIONS[0], requested=staff(7))
        assert caught.value.fields == ("advisor_email",)
        assert caught.value.errors[0].code == "unknown_advisor"

    @pytest.mark.parametrize("strategy", ["round_robin", "least_loaded"])
    def test_strategies_that_must_pick_refuse_a_team_with_nobody_active(
        self, strategy: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            Assigner(strategy, [Advisor(staff(1), is_active=False)])
        assert caught.value.fields == ("advisors",)

    def test_dealer_based_with_nobody_active_leaves_bookings_unassigned(self) -> None:
        assigner = Assigner("dealer_based", [Advisor(staff(1), 0, {LOCATIONS[0]}, False)])
        assert assigner.assign(LOCATIONS[0]) is None

    def test_duplicate_advisors_and_unknown_strategies_are_refused(self) -> None:
        with pytest.raises(ValidationError, match="listed twice"):
            Assigner("manual", [Advisor(staff(1)), Advisor(staff(1), 3)])
        with pytest.raises(ValidationError) as caught:
            Assigner("by_mood", [Advisor(staff(1))])
        assert caught.value.fields == ("strategy",)

    def test_loads_is_a_copy(self) -> None:
        assigner = Assigner("least_loaded", [Advisor(staff(1))])
        assigner.loads[staff(1)] = 100
        assert assigner.loads == {staff(1): 0}


class TestAdvisor:
    @pytest.mark.parametrize("load", [-1, True, 1.5])
    def test_a_load_must_be_a_non_negative_int(self, load: object) -> None:
        with pytest.raises(ValidationError) as caught:
            Advisor(staff(1), load)  # type: ignore[arg-type]
        assert caught.value.fields == ("open_bookings",)

    def test_the_territory_accepts_any_iterable_and_answers_covers(self) -> None:
        advisor = Advisor(staff(1), 0, [LOCATIONS[0], LOCATIONS[0]])
        assert advisor.location_ids == frozenset({LOCATIONS[0]})
        assert advisor.covers(LOCATIONS[0])
        assert not advisor.covers(LOCATIONS[1])
