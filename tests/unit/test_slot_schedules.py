"""SlotSchedule: which days and times a recurring schedule opens slots at, on the
business's clock, and what it refuses (on the field)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bookingcore import SlotSchedule, ValidationError
from bookingcore.domain.schedules import MAX_SCHEDULE_DAYS, MAX_SCHEDULE_OCCURRENCES

NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")


def _schedule(**fields: Any) -> SlotSchedule:
    given: dict[str, Any] = {
        "weekdays": [6],
        "start_times": [time(7)],
        "starts_on": date(2026, 3, 1),
        "ends_on": date(2026, 3, 31),
        **fields,
    }
    return SlotSchedule(**given)


def _local(found: tuple[datetime, ...], zone: ZoneInfo = NEW_YORK) -> list[str]:
    return [t.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z") for t in found]


def _refused(**fields: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as refused:
        _schedule(**fields)
    return [(e.field, e.code) for e in refused.value.errors]


def test_saturdays_at_seven_and_one_in_march() -> None:
    schedule = _schedule(start_times=[time(13), time(7)])
    found = schedule.occurrences(KOLKATA)
    assert _local(found, KOLKATA) == [
        f"Sat 2026-03-{day:02d} {hour} IST"
        for day in (7, 14, 21, 28)
        for hour in ("07:00", "13:00")
    ]
    assert all(t.tzinfo is UTC for t in found)
    assert found[0] == datetime(2026, 3, 7, 1, 30, tzinfo=UTC)
    assert schedule.start_times == (time(7), time(13))  # kept sorted


def test_weekdays_are_iso_numbers_monday_one_sunday_seven() -> None:
    week = _schedule(weekdays=[7, 1, 1], starts_on=date(2026, 3, 2), ends_on=date(2026, 3, 8))
    assert week.weekdays == (1, 7)
    assert [d.isoformat() for d in week.days()] == ["2026-03-02", "2026-03-08"]
    assert [d.strftime("%A") for d in week.days()] == ["Monday", "Sunday"]


def test_seven_stays_seven_local_when_daylight_saving_time_begins() -> None:
    """New York moves its clocks forward on Sunday 8 March 2026: the UTC time moves."""
    found = _schedule(weekdays=[7]).occurrences(NEW_YORK)
    assert _local(found) == [
        "Sun 2026-03-01 07:00 EST",
        "Sun 2026-03-08 07:00 EDT",
        "Sun 2026-03-15 07:00 EDT",
        "Sun 2026-03-22 07:00 EDT",
        "Sun 2026-03-29 07:00 EDT",
    ]
    assert [t.hour for t in found[:2]] == [12, 11]


def test_seven_stays_seven_local_when_daylight_saving_time_ends() -> None:
    """New York moves its clocks back on Sunday 1 November 2026."""
    schedule = _schedule(weekdays=[7], starts_on=date(2026, 10, 25), ends_on=date(2026, 11, 8))
    found = schedule.occurrences(NEW_YORK)
    assert _local(found) == [
        "Sun 2026-10-25 07:00 EDT",
        "Sun 2026-11-01 07:00 EST",
        "Sun 2026-11-08 07:00 EST",
    ]
    assert [t.hour for t in found] == [11, 12, 12]


def test_a_time_the_clocks_skip_is_shifted_forward_by_the_gap() -> None:
    """02:30 does not exist in New York on 8 March 2026: that day's trip starts at 03:30
    daylight time, the instant 02:30 standard time would have been; other days keep 02:30."""
    schedule = _schedule(weekdays=[7], start_times=[time(2, 30)], ends_on=date(2026, 3, 15))
    assert _local(schedule.occurrences(NEW_YORK)) == [
        "Sun 2026-03-01 02:30 EST",
        "Sun 2026-03-08 03:30 EDT",
        "Sun 2026-03-15 02:30 EDT",
    ]


def test_a_skipped_time_shifted_onto_another_start_time_is_one_occurrence() -> None:
    schedule = _schedule(
        weekdays=[7],
        start_times=[time(2, 30), time(3, 30)],
        starts_on=date(2026, 3, 8),
        ends_on=date(2026, 3, 8),
    )
    assert _local(schedule.occurrences(NEW_YORK)) == ["Sun 2026-03-08 03:30 EDT"]


def test_a_time_the_clocks_repeat_is_its_first_occurrence() -> None:
    """01:30 happens twice in New York on 1 November 2026: the first, daylight time."""
    schedule = _schedule(
        weekdays=[7],
        start_times=[time(1, 30)],
        starts_on=date(2026, 11, 1),
        ends_on=date(2026, 11, 1),
    )
    (found,) = schedule.occurrences(NEW_YORK)
    assert found == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert _local((found,)) == ["Sun 2026-11-01 01:30 EDT"]
    folded = _schedule(
        weekdays=[7],
        start_times=[time(1, 30, fold=1)],
        starts_on=date(2026, 11, 1),
        ends_on=date(2026, 11, 1),
    )
    assert folded.occurrences(NEW_YORK) == (found,)  # fold=1 asks for nothing else


def test_exceptions_are_skipped_and_the_range_is_inclusive() -> None:
    schedule = _schedule(
        weekdays=[1],
        starts_on=date(2026, 3, 2),
        ends_on=date(2026, 3, 30),
        exceptions=[date(2026, 3, 16)],
    )
    assert [d.day for d in schedule.days()] == [2, 9, 23, 30]


def test_the_duration_gives_each_slot_its_end_in_elapsed_time() -> None:
    schedule = _schedule(duration=timedelta(hours=4))
    start = schedule.occurrences(UTC)[0]
    assert schedule.ends_at(start) == start + timedelta(hours=4)
    assert _schedule().ends_at(start) is None


def test_a_range_of_two_years_is_accepted_and_one_day_more_is_not() -> None:
    """731 days, both ends included: two years even when one of them has 29 February."""
    first = date(2027, 3, 1)
    longest = _schedule(starts_on=first, ends_on=first + timedelta(days=MAX_SCHEDULE_DAYS - 1))
    assert longest.ends_on == date(2029, 2, 28)
    assert len(longest.days()) == 104  # Saturdays
    too_long = first + timedelta(days=MAX_SCHEDULE_DAYS)
    assert _refused(starts_on=first, ends_on=too_long) == [("ends_on", "too_long")]


def test_more_than_a_thousand_occurrences_is_refused() -> None:
    daily = [time(h) for h in range(6, 20)]  # 14 a day
    fine = _schedule(weekdays=range(1, 8), start_times=daily, ends_on=date(2026, 5, 10))
    assert len(fine.occurrences(UTC)) == 71 * 14 <= MAX_SCHEDULE_OCCURRENCES
    assert _refused(weekdays=range(1, 8), start_times=daily, ends_on=date(2026, 5, 11)) == [
        ("ends_on", "too_many_occurrences")
    ]


@pytest.mark.parametrize(
    ("fields", "problems"),
    [
        ({"weekdays": []}, [("weekdays", "required")]),
        ({"weekdays": [0, 8, True, "Sat"]}, [(f"weekdays[{i}]", "out_of_range") for i in range(4)]),
        ({"weekdays": 6}, [("weekdays", "invalid_type")]),
        ({"start_times": []}, [("start_times", "required")]),
        ({"start_times": time(7)}, [("start_times", "invalid_type")]),
        ({"start_times": [time(7), "13:00"]}, [("start_times[1]", "invalid_type")]),
        ({"start_times": [time(7), time(7)]}, [("start_times[1]", "duplicate")]),
        (
            {"start_times": [time(7, tzinfo=timezone(timedelta(hours=5, minutes=30)))]},
            [("start_times[0]", "aware_time")],
        ),
        ({"ends_on": date(2026, 2, 28)}, [("ends_on", "before_start")]),
        ({"ends_on": date(2026, 3, 6)}, [("weekdays", "no_occurrences")]),  # Sun-Fri
        (
            {"ends_on": date(2026, 3, 7), "exceptions": [date(2026, 3, 7)]},
            [("weekdays", "no_occurrences")],
        ),
        ({"starts_on": datetime(2026, 3, 1, tzinfo=UTC)}, [("starts_on", "invalid_type")]),
        ({"starts_on": date(1800, 1, 1)}, [("starts_on", "out_of_range")]),
        ({"duration": timedelta(0)}, [("duration", "out_of_range")]),
        ({"duration": 3600}, [("duration", "out_of_range")]),
        ({"exceptions": [date(2026, 4, 1)]}, [("exceptions", "out_of_range")]),
        ({"exceptions": ["2026-03-07"]}, [("exceptions[0]", "invalid_type")]),
        (
            {"weekdays": [], "start_times": [], "ends_on": date(2026, 2, 1)},
            [("weekdays", "required"), ("start_times", "required"), ("ends_on", "before_start")],
        ),
    ],
)
def test_a_bad_schedule_is_refused_on_its_field(
    fields: dict[str, Any], problems: list[tuple[str, str]]
) -> None:
    assert _refused(**fields) == problems


def test_a_schedule_is_a_frozen_value() -> None:
    schedule = _schedule(exceptions={date(2026, 3, 14)})
    assert schedule == _schedule(exceptions=[date(2026, 3, 14)])
    with pytest.raises(AttributeError):
        schedule.ends_on = date(2026, 4, 30)  # type: ignore[misc]
