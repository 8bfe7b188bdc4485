"""Recurring slots: "every Saturday at 07:00 and 13:00, March to October".

A :class:`SlotSchedule` names the days of the week, the local (wall-clock)
start times, an optional duration, a date range and the dates to skip.
:meth:`SlotSchedule.occurrences` turns it into the aware UTC start times of the
slots, computed on the business's clock (``Settings.timezone``): a trip at
07:00 stays at 07:00 local time when daylight saving time begins or ends, so
its UTC time moves by the hour.

Two local times need a rule:

* a time that does not exist on the day clocks spring forward (02:30 in
  America/New_York on the second Sunday of March) is **shifted forward** by the
  length of the gap (to 03:30 daylight time): the trip still runs that day. If
  the shifted time is also one of the schedule's times, that day has one
  occurrence there, not two;
* a time that happens twice on the day clocks fall back (01:30 in New York on
  the first Sunday of November) is taken at its **first** occurrence (01:30
  daylight time, before the clocks go back).

Pure: nothing reads a clock or a store.

.. versionadded:: 0.4
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import attrs

from bookingcore.domain.items import MAX_SERVICE_DATE, MAX_SERVICE_DAYS, MIN_SERVICE_DATE
from bookingcore.domain.slots import Slot
from bookingcore.errors import FieldError, ValidationError

__all__ = [
    "MAX_SCHEDULE_DAYS",
    "MAX_SCHEDULE_OCCURRENCES",
    "SlotSchedule",
    "SlotsCreated",
]

#: The longest date range a schedule covers, ``starts_on`` to ``ends_on`` inclusive
#: (two years, a leap day included).
MAX_SCHEDULE_DAYS = 731
#: The most slots one schedule opens (before dates are skipped for existing slots).
MAX_SCHEDULE_OCCURRENCES = 1000


def _weekdays(value: object) -> tuple[int, ...]:
    if isinstance(value, int | str) or not isinstance(value, Iterable):
        msg = "must be a collection of ISO weekday numbers (1 = Monday ... 7 = Sunday)"
        raise ValidationError.single("weekdays", msg, "invalid_type")
    days: list[object] = list(value)
    problems = [
        FieldError(f"weekdays[{i}]", "must be an ISO weekday number, 1 to 7", "out_of_range")
        for i, day in enumerate(days)
        if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 7
    ]
    if problems:
        raise ValidationError(problems)
    return tuple(sorted({int(day) for day in days}))  # type: ignore[call-overload]


def _times(value: object) -> tuple[time, ...]:
    if isinstance(value, time) or not isinstance(value, Iterable):
        msg = "must be a collection of datetime.time"
        raise ValidationError.single("start_times", msg, "invalid_type")
    return tuple(value)


def _dates(value: object) -> frozenset[date]:
    if isinstance(value, date) or not isinstance(value, Iterable):
        raise ValidationError.single("exceptions", "must be a collection of dates", "invalid_type")
    days: list[object] = list(value)
    problems = [
        FieldError(f"exceptions[{i}]", "must be a date", "invalid_type")
        for i, day in enumerate(days)
        if isinstance(day, datetime) or not isinstance(day, date)
    ]
    if problems:
        raise ValidationError(problems)
    return frozenset(days)  # type: ignore[arg-type]


@attrs.frozen
class SlotSchedule:
    """Slots that recur every week: on ``weekdays`` at each of ``start_times``,
    from ``starts_on`` to ``ends_on`` (both included), except on ``exceptions``.

    Args:
        weekdays: ISO weekday numbers, as :meth:`datetime.date.isoweekday` gives
            them: 1 is Monday, 7 is Sunday (``{6}``: Saturdays; ``{2, 4}``:
            Tuesdays and Thursdays). Kept sorted, each once.
        start_times: the local wall-clock start times (``time(7)``,
            ``time(13)``): :class:`datetime.time` without ``tzinfo``, the
            business's time zone places them. Kept sorted.
        starts_on: the first day the schedule may open a slot.
        ends_on: the last day (included); at most :data:`MAX_SCHEDULE_DAYS`
            days after ``starts_on``, counting both.
        duration: how long each slot lasts (its ``ends_at`` is its start plus
            this, in elapsed time); ``None`` opens slots without an end.
        exceptions: days to skip (a holiday); each within the range.

    Raises:
        ValidationError: on ``weekdays`` (none, ``weekdays[<i>]`` outside
            1-7, or ``no_occurrences`` when no day of the range, less the
            exceptions, is one of them), ``start_times`` (none,
            ``start_times[<i>]`` not a time, with ``tzinfo``, or repeated),
            ``starts_on`` / ``ends_on`` (not dates, outside the library's
            calendar, ``ends_on`` before ``starts_on`` (``before_start``) or
            the range longer than :data:`MAX_SCHEDULE_DAYS` (``too_long``)),
            ``duration`` (not a positive timedelta of at most a slot's
            longest), ``exceptions`` (``exceptions[<i>]`` not a date, or
            outside the range), and ``ends_on`` with code
            ``too_many_occurrences`` when the schedule would open more than
            :data:`MAX_SCHEDULE_OCCURRENCES` slots.

    .. versionadded:: 0.4
    """

    weekdays: tuple[int, ...] = attrs.field(converter=_weekdays)
    start_times: tuple[time, ...] = attrs.field(converter=_times)
    starts_on: date
    ends_on: date
    duration: timedelta | None = None
    exceptions: frozenset[date] = attrs.field(default=frozenset(), converter=_dates)

    def __attrs_post_init__(self) -> None:
        problems: list[FieldError] = []
        if not self.weekdays:
            problems.append(FieldError("weekdays", "name at least one weekday", "required"))
        problems += self._time_problems()
        problems += self._range_problems()
        duration: object = self.duration
        if duration is not None and (
            not isinstance(duration, timedelta)
            or duration <= timedelta(0)
            or duration > timedelta(days=MAX_SERVICE_DAYS)
        ):
            msg = f"must be a positive timedelta of at most {MAX_SERVICE_DAYS} days, or None"
            problems.append(FieldError("duration", msg, "out_of_range"))
        if not problems:
            outside = sorted(d for d in self.exceptions if not self.starts_on <= d <= self.ends_on)
            if outside:
                msg = f"{outside[0].isoformat()} is outside {self.starts_on} to {self.ends_on}"
                problems.append(FieldError("exceptions", msg, "out_of_range"))
        days = () if problems else self.days()
        if not problems and not days:
            msg = "no day from starts_on to ends_on (less the exceptions) is one of these weekdays"
            problems.append(FieldError("weekdays", msg, "no_occurrences"))
        if len(days) * len(self.start_times) > MAX_SCHEDULE_OCCURRENCES:
            msg = f"the schedule opens more than {MAX_SCHEDULE_OCCURRENCES:,} slots; split it"
            problems.append(FieldError("ends_on", msg, "too_many_occurrences"))
        if problems:
            raise ValidationError(problems)
        object.__setattr__(self, "start_times", tuple(sorted(self.start_times)))

    def _time_problems(self) -> list[FieldError]:
        if not self.start_times:
            return [FieldError("start_times", "name at least one start time", "required")]
        problems: list[FieldError] = []
        seen: set[time] = set()
        given: tuple[object, ...] = self.start_times
        for i, moment in enumerate(given):
            field = f"start_times[{i}]"
            if not isinstance(moment, time):
                problems.append(FieldError(field, "must be a datetime.time", "invalid_type"))
            elif moment.tzinfo is not None:
                msg = "must be a wall-clock time without tzinfo: the business's time zone places it"
                problems.append(FieldError(field, msg, "aware_time"))
            elif moment.replace(fold=0) in seen:
                problems.append(FieldError(field, f"{moment} is given twice", "duplicate"))
            else:
                seen.add(moment.replace(fold=0))
        return problems

    def _range_problems(self) -> list[FieldError]:
        problems: list[FieldError] = []
        for field in ("starts_on", "ends_on"):
            day: object = getattr(self, field)
            if isinstance(day, datetime) or not isinstance(day, date):
                problems.append(FieldError(field, "must be a date", "invalid_type"))
            elif not MIN_SERVICE_DATE <= day <= MAX_SERVICE_DATE:
                msg = f"must fall from {MIN_SERVICE_DATE} to {MAX_SERVICE_DATE}"
                problems.append(FieldError(field, msg, "out_of_range"))
        if problems:
            return problems
        if self.ends_on < self.starts_on:
            return [FieldError("ends_on", "must not be before starts_on", "before_start")]
        if (self.ends_on - self.starts_on).days + 1 > MAX_SCHEDULE_DAYS:
            msg = f"a schedule covers at most {MAX_SCHEDULE_DAYS} days"
            return [FieldError("ends_on", msg, "too_long")]
        return []

    def days(self) -> tuple[date, ...]:
        """The days the schedule opens slots on: its weekdays in the range, less the exceptions."""
        count = (self.ends_on - self.starts_on).days + 1
        every = (self.starts_on + timedelta(days=n) for n in range(count))
        wanted = set(self.weekdays)
        return tuple(d for d in every if d.isoweekday() in wanted and d not in self.exceptions)

    def occurrences(self, zone: tzinfo) -> tuple[datetime, ...]:
        """The slots' start times, aware and in UTC, earliest first, each once.

        Each start time is placed on ``zone``'s clock that day (the business's
        ``Settings.zone``): a time the clocks skip is shifted forward by the gap,
        a time they repeat is its first occurrence (see the module's notes).
        """
        found: set[datetime] = set()
        for day in self.days():
            for moment in self.start_times:
                local = datetime.combine(day, moment.replace(fold=0), tzinfo=zone)
                found.add(local.astimezone(UTC))
        return tuple(sorted(found))

    def ends_at(self, starts_at: datetime) -> datetime | None:
        """The end of the slot starting at ``starts_at``: ``duration`` later, or None."""
        return None if self.duration is None else starts_at + self.duration


@attrs.frozen
class SlotsCreated:
    """What :meth:`~bookingcore.services.CatalogService.create_slots` did.

    Attributes:
        slots: the slots it opened, earliest first.
        skipped: the start times (aware, UTC) it opened no slot at because a slot
            of the same location and product already starts there, earliest first.

    .. versionadded:: 0.4
    """

    slots: tuple[Slot, ...]
    skipped: tuple[datetime, ...] = ()
