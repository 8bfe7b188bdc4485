"""Trips and itineraries for travel agencies: a customer's journey and its day-by-day plan.

A :class:`Trip` groups several bookings of one customer as one journey with
its dates (a trek, then a beach week). An :class:`Itinerary` is the
day-by-day plan of one booking, generated from its line items
(:func:`plan_days`) and then edited by staff; :func:`render_itinerary` writes
it as text for a document.

.. versionadded:: 0.3
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from uuid import UUID

import attrs

from bookingcore.domain._validation import calendar_day, clean_text, require_text
from bookingcore.domain.items import BookingItem, BookingItemKind
from bookingcore.domain.values import BookingId, CustomerId, TripId, Versioned, ensure_aware
from bookingcore.errors import ValidationError

__all__ = ["Itinerary", "ItineraryDay", "Trip", "plan_days", "render_itinerary"]

_MAX_DAYS = 366


def _booking_ids(values: Iterable[BookingId]) -> tuple[BookingId, ...]:
    ids = tuple(values)
    if len(set(ids)) != len(ids):
        raise ValidationError.single("booking_ids", "lists a booking twice", "duplicate")
    return ids


@attrs.define(slots=False, kw_only=True)
class Trip(Versioned):
    """Several bookings of one customer grouped as one journey, from ``starts_on`` to ``ends_on``.

    Raises:
        ValidationError: naming the field: a blank name, ``starts_on`` or
            ``ends_on`` not a date (``invalid_type``), ``ends_on`` before
            ``starts_on``, a booking listed twice.

    .. versionadded:: 0.3
    """

    id: TripId
    customer_id: CustomerId
    name: str
    starts_on: date
    ends_on: date
    created_at: datetime
    updated_at: datetime
    booking_ids: tuple[BookingId, ...] = attrs.field(default=(), converter=_booking_ids)
    notes: str | None = None
    version: int = 1

    entity_name = "trip"

    def __attrs_post_init__(self) -> None:
        self.name = require_text(self.name, "name", max_length=200)
        self.notes = clean_text(self.notes, "notes", max_length=5000)
        self.created_at = ensure_aware(self.created_at, "created_at")
        self.updated_at = ensure_aware(self.updated_at, "updated_at")
        self.starts_on = calendar_day(self.starts_on, "starts_on")
        self.ends_on = calendar_day(self.ends_on, "ends_on")
        if self.ends_on < self.starts_on:
            msg = f"{self.ends_on.isoformat()} is before the trip starts"
            raise ValidationError.single("ends_on", msg, "before_start")

    def add_booking(self, booking_id: BookingId, *, now: datetime) -> None:
        """Put a booking on the trip.

        Raises:
            ValidationError: on ``booking_ids`` when it is on the trip already.
        """
        self.booking_ids = _booking_ids((*self.booking_ids, booking_id))
        self.touch(now)

    def remove_booking(self, booking_id: BookingId, *, now: datetime) -> None:
        """Take a booking off the trip; a booking that is not on it leaves the trip
        as it is. :class:`~bookingcore.services.TripService` clears the booking's
        ``trip_id`` in the same unit of work."""
        if booking_id not in self.booking_ids:
            return
        self.booking_ids = tuple(b for b in self.booking_ids if b != booking_id)
        self.touch(now)

    def touch(self, now: datetime) -> None:
        """Record that the trip changed: new ``updated_at``, next version."""
        self.updated_at = ensure_aware(now, "now")
        self.version += 1


def _entries(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(require_text(v, "entries", max_length=500) for v in values)


@attrs.frozen(kw_only=True)
class ItineraryDay:
    """One day of the plan: its date, a title, what happens, and notes.

    Raises:
        ValidationError: naming the field: ``day`` not a date (``invalid_type``),
            a blank or over-long title, entry or note.

    .. versionadded:: 0.3
    """

    day: date
    title: str
    entries: tuple[str, ...] = attrs.field(default=(), converter=_entries)
    notes: str | None = None

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "day", calendar_day(self.day, "day"))
        object.__setattr__(self, "title", require_text(self.title, "title", max_length=200))
        object.__setattr__(self, "notes", clean_text(self.notes, "notes", max_length=2000))


def _days(values: Iterable[ItineraryDay]) -> tuple[ItineraryDay, ...]:
    days = tuple(sorted(values, key=lambda d: d.day))
    if len({d.day for d in days}) != len(days):
        raise ValidationError.single("days", "lists a date twice", "duplicate")
    if len(days) > _MAX_DAYS:
        raise ValidationError.single("days", f"at most {_MAX_DAYS} days", "too_many")
    return days


@attrs.define(slots=False, kw_only=True)
class Itinerary(Versioned):
    """The day-by-day plan of one booking, in date order, one entry per date.

    .. versionadded:: 0.3
    """

    id: UUID
    booking_id: BookingId
    days: tuple[ItineraryDay, ...] = attrs.field(converter=_days)
    created_at: datetime
    updated_at: datetime
    version: int = 1

    entity_name = "itinerary"

    def set_day(self, day: ItineraryDay, *, now: datetime) -> None:
        """Replace the plan of ``day.day`` (or add that date)."""
        self.days = _days((*(d for d in self.days if d.day != day.day), day))
        self.touch(now)

    def remove_day(self, day: date, *, now: datetime) -> None:
        """Drop the plan of ``day``."""
        self.days = tuple(d for d in self.days if d.day != day)
        self.touch(now)

    def touch(self, now: datetime) -> None:
        """Record that the plan changed: new ``updated_at``, next version."""
        self.updated_at = ensure_aware(now, "now")
        self.version += 1


_STAY = frozenset({BookingItemKind.HOTEL})


def plan_days(
    starts: datetime, items: Sequence[BookingItem], zone: tzinfo = UTC
) -> tuple[ItineraryDay, ...]:
    """The plan a booking's live items give: the departure day, then each service on its
    dates (a hotel on every night from check-in to the day before check-out).

    The departure's day and time are those on the business's clock ``zone``.
    Items without a date are listed on the departure day.

    The work is bounded whatever the items say: a plan of more than 366 dates is
    refused as soon as it would have one more, before the rest is laid out.

    Raises:
        ValidationError: on ``days`` (``too_many``) when the plan would cover more
            than 366 dates.

    .. versionadded:: 0.3
    .. versionchanged:: 0.4 ``zone``; bounded before it is built.
    """
    local = starts.astimezone(zone)
    first = local.date()
    entries: dict[date, list[str]] = {first: [f"Departure at {local:%H:%M} {local.tzname()}"]}
    for item in items:
        if item.is_cancelled:
            continue
        on = item.service_starts_on or first
        last = item.service_ends_on or on
        if item.kind in _STAY and last > on:
            nights = (last - on).days
            for night in range(nights):
                day = on + timedelta(days=night)
                entries.setdefault(day, []).append(f"{item.description} (night {night + 1})")
                _check_plan_size(entries)
            entries.setdefault(last, []).append(f"Check out: {item.description}")
        else:
            entries.setdefault(on, []).append(item.description)
        _check_plan_size(entries)
    return tuple(
        ItineraryDay(
            day=day,
            title=f"Day {(day - first).days + 1}" if day >= first else "Before departure",
            entries=tuple(found),
        )
        for day, found in sorted(entries.items())
    )


def _check_plan_size(entries: dict[date, list[str]]) -> None:
    if len(entries) > _MAX_DAYS:
        raise ValidationError.single("days", f"at most {_MAX_DAYS} days", "too_many")


def render_itinerary(itinerary: Itinerary, *, heading: str) -> str:
    """The plan as plain text, one block per day.

    .. versionadded:: 0.3
    """
    lines = [heading, ""]
    for day in itinerary.days:
        lines.append(f"{day.day.isoformat()}  {day.title}")
        lines += [f"  - {entry}" for entry in day.entries]
        if day.notes:
            lines.append(f"  Note: {day.notes}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
