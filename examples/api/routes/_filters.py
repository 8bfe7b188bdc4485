"""Query parameters several list routes share, turned into the library's filter values."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import Depends, Query
from pydantic import AwareDatetime

from bookingcore import (
    BookingFilter,
    BookingGroupId,
    CustomerId,
    FieldError,
    LocationId,
    PartnerId,
    ProductId,
    SlotId,
    StaffId,
    ValidationError,
)
from bookingcore.domain.items import MAX_SERVICE_DATE, MIN_SERVICE_DATE
from bookingcore.domain.sources import BookingSource
from examples.api.deps import Core

__all__ = [
    "OnDay",
    "Sources",
    "StaffBookingQuery",
    "booking_sources",
    "staff_booking_filter",
    "starts_within",
]

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
        ValidationError: on ``booking_date`` outside the days slots may start on, on
            ``starts_before`` when before ``starts_from``.
    """
    if starts_from is not None and starts_before is not None and starts_before < starts_from:
        # As the library's BookingFilter refuses it, before narrowing to the day.
        msg = "must not be before starts_from"
        raise ValidationError.single("starts_before", msg, "invalid_range")
    if day is None:
        return starts_from, starts_before
    if not MIN_SERVICE_DATE <= day <= MAX_SERVICE_DATE:
        msg = f"must fall from {MIN_SERVICE_DATE.isoformat()} to {MAX_SERVICE_DATE.isoformat()}"
        raise ValidationError.single("booking_date", msg, "out_of_range")
    first = datetime.combine(day, time(), zone)
    after = datetime.combine(day + timedelta(days=1), time(), zone)
    low = first if starts_from is None else max(first, starts_from)
    high = after if starts_before is None else min(after, starts_before)
    # A day outside the given bounds: nothing starts within both (an empty period).
    return low, max(low, high)


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


def staff_booking_filter(
    core: Core,
    status: Annotated[list[str] | None, Query(description="Any of these statuses")] = None,
    source: Sources = None,
    partner_id: UUID | None = None,
    location_id: UUID | None = None,
    slot_id: UUID | None = None,
    product_id: UUID | None = None,
    customer_id: UUID | None = None,
    group_id: Annotated[UUID | None, Query(description="The booking group")] = None,
    assignee_id: UUID | None = None,
    starts_from: AwareDatetime | None = None,
    starts_before: AwareDatetime | None = None,
    booking_date: OnDay = None,
    created_from: AwareDatetime | None = None,
    created_before: AwareDatetime | None = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Reference, external id, customer name, email, phone"),
    ] = None,
    include_archived: Annotated[
        bool, Query(description="Archived bookings too (left out by default)")
    ] = False,
    only_archived: Annotated[bool, Query(description="Archived bookings only")] = False,
) -> BookingFilter:
    """The staff booking filters of ``GET /api/admin/bookings`` (and its CSV export), as
    the library's :class:`~bookingcore.BookingFilter`."""
    starts_from, starts_before = starts_within(
        core.context.settings.zone, booking_date, starts_from, starts_before
    )
    return BookingFilter(
        statuses=frozenset(status) if status else None,
        sources=booking_sources(source),
        partner_id=None if partner_id is None else PartnerId(partner_id),
        location_id=None if location_id is None else LocationId(location_id),
        slot_id=None if slot_id is None else SlotId(slot_id),
        product_id=None if product_id is None else ProductId(product_id),
        customer_id=None if customer_id is None else CustomerId(customer_id),
        group_id=None if group_id is None else BookingGroupId(group_id),
        assignee_id=None if assignee_id is None else StaffId(assignee_id),
        starts_from=starts_from,
        starts_before=starts_before,
        created_from=created_from,
        created_before=created_before,
        text=q,
        include_archived=include_archived,
        only_archived=only_archived,
    )


#: A route parameter taking every staff booking filter from the query string.
StaffBookingQuery = Annotated[BookingFilter, Depends(staff_booking_filter)]
