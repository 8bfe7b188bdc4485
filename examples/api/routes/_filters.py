"""Query parameters several list routes share, turned into the library's filter values."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Query

from bookingcore import FieldError, ValidationError
from bookingcore.domain.items import MAX_SERVICE_DATE, MIN_SERVICE_DATE
from bookingcore.domain.sources import BookingSource

__all__ = ["OnDay", "Sources", "booking_sources", "starts_within"]

Sources = Annotated[
    list[str] | None,
    Query(description=f"Any of these channels ({', '.join(BookingSource)})"),
]

OnDay = Annotated[
    date | None,
    Query(
        description="Only those starting on this day in the business's time zone"
        " (with starts_from / starts_before: within both)"
    ),
]


def starts_within(
    zone: ZoneInfo, day: date | None, starts_from: datetime | None, starts_before: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """``starts_from`` and ``starts_before`` narrowed to ``day``, midnight to midnight in
    ``zone`` (a day 23 or 25 hours long when the clocks change); without ``day``, as given.

    Raises:
        ValidationError: on ``booking_date`` outside the days slots may start on.
    """
    if day is None:
        return starts_from, starts_before
    if not MIN_SERVICE_DATE <= day <= MAX_SERVICE_DATE:
        msg = f"must fall from {MIN_SERVICE_DATE.isoformat()} to {MAX_SERVICE_DATE.isoformat()}"
        raise ValidationError.single("booking_date", msg, "out_of_range")
    first = datetime.combine(day, time(), zone)
    after = datetime.combine(day + timedelta(days=1), time(), zone)
    return (
        first if starts_from is None else max(first, starts_from),
        after if starts_before is None else min(after, starts_before),
    )


def booking_sources(values: list[str] | None) -> frozenset[BookingSource] | None:
    """The channels named by ``?source=`` (``None``: any).

    Raises:
        ValidationError: naming ``source[<n>]`` for each unknown channel.
    """
    if not values:
        return None
    parsed: list[BookingSource] = []
    errors: list[FieldError] = []
    for index, value in enumerate(values):
        try:
            parsed.append(BookingSource.parse(value, field=f"source[{index}]"))
        except ValidationError as exc:
            errors.extend(exc.errors)
    if errors:
        raise ValidationError(errors)
    return frozenset(parsed)
