"""Tallies: what storage adds up for reports, so no report reads booking by booking.

A tally is the answer to one grouped query: bookings counted and their totals
summed per group (a source, a partner, a month, ...) and currency, the storage
sorting them by :class:`StatusSet` itself. Reports
(:class:`~bookingcore.services.ReportService`) turn the few rows of a tally into
figures; the rows themselves are computed where the bookings are, with
``GROUP BY`` in SQL.

:func:`group_key` is the reference meaning of each :class:`Grouping`: the memory
adapter applies it to each booking, and the SQL adapter's expressions must give
the same key.

.. versionadded:: 0.3
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

import attrs

from bookingcore.domain.bookings import Booking
from bookingcore.domain.lifecycle import Lifecycle
from bookingcore.domain.slots import Slot
from bookingcore.errors import ValidationError

__all__ = [
    "UTC_ZONE",
    "CohortTally",
    "CommunicationTally",
    "CustomerTally",
    "DurationTally",
    "FrequencyTally",
    "GroupCounts",
    "GroupKey",
    "GroupSums",
    "Grouping",
    "HeldPaymentTally",
    "ImportErrorTally",
    "ImportTally",
    "ImportTimingTally",
    "LeadTally",
    "PaidBookingTally",
    "ReconciliationTally",
    "SlotTally",
    "SourceOverlapTally",
    "StatusSet",
    "TransitionTally",
    "WaitlistTally",
    "check_slot_grouping",
    "duration_tally",
    "group_key",
    "micros",
    "slot_group_key",
]

#: The value a tally row is grouped by: an id, a source, the first day of a period, or
#: ``None`` (no grouping, or a booking with no partner, product or assignee).
GroupKey = UUID | str | date | None

#: The zone tallies group periods in unless told another: UTC.
UTC_ZONE = ZoneInfo("UTC")


class Grouping(enum.StrEnum):
    """What a tally groups bookings (or slots) by.

    Periods are calendar days and months on the business's clock (the zone a
    tally is given; reports give ``Settings.timezone``): ``created_day`` and
    ``created_month`` by when the booking was made, ``starts_month`` by when its
    slot starts. A booking made at 00:30 on 1 March in Asia/Kolkata (18:00 UTC
    on 28 February) is in March. Days follow the zone's daylight-saving changes
    (a day may last 23 or 25 hours). The key of a period is its first day.

    .. versionadded:: 0.3
    .. versionchanged:: 0.4
       Periods are in the tally's zone (``Settings.timezone`` for reports), not always UTC.
    """

    NONE = "none"
    SOURCE = "source"
    PARTNER = "partner"
    LOCATION = "location"
    PRODUCT = "product"
    ASSIGNEE = "assignee"
    CREATED_DAY = "created_day"
    CREATED_MONTH = "created_month"
    STARTS_MONTH = "starts_month"


#: The groupings a slot tally accepts (slots have no source, partner or assignee).
SLOT_GROUPINGS = frozenset(
    {Grouping.NONE, Grouping.LOCATION, Grouping.PRODUCT, Grouping.STARTS_MONTH}
)


def check_slot_grouping(by: Grouping) -> None:
    """Refuse a grouping slots do not have (source, partner, assignee, creation dates).

    Raises:
        ValidationError: on field ``by``.
    """
    if by not in SLOT_GROUPINGS:
        allowed = ", ".join(sorted(SLOT_GROUPINGS))
        raise ValidationError.single("by", f"slots are grouped by one of {allowed}", "invalid")


def _day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def _month(moment: datetime, zone: ZoneInfo) -> date:
    local = moment.astimezone(zone)
    return date(local.year, local.month, 1)


def group_key(booking: Booking, by: Grouping, zone: ZoneInfo = UTC_ZONE) -> GroupKey:
    """The key ``booking`` falls under when bookings are grouped ``by``.

    Periods are the calendar days and months of ``zone`` (UTC unless given).

    .. versionchanged:: 0.4 ``zone``.
    """
    match by:
        case Grouping.NONE:
            return None
        case Grouping.SOURCE:
            return str(booking.source)
        case Grouping.PARTNER:
            return booking.partner_id
        case Grouping.LOCATION:
            return booking.location_id
        case Grouping.PRODUCT:
            return booking.product_id
        case Grouping.ASSIGNEE:
            return booking.assignee_id
        case Grouping.CREATED_DAY:
            return _day(booking.created_at, zone)
        case Grouping.CREATED_MONTH:
            return _month(booking.created_at, zone)
        case Grouping.STARTS_MONTH:
            return _month(booking.starts_at, zone)


def slot_group_key(slot: Slot, by: Grouping, zone: ZoneInfo = UTC_ZONE) -> GroupKey:
    """The key ``slot`` falls under when slots are grouped ``by`` (one of the slot groupings),
    months in ``zone`` (UTC unless given).

    .. versionchanged:: 0.4 ``zone``.
    """
    match by:
        case Grouping.LOCATION:
            return slot.location_id
        case Grouping.PRODUCT:
            return slot.product_id
        case Grouping.STARTS_MONTH:
            return _month(slot.starts_at, zone)
        case _:
            return None


def _names(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


def _pairs(value: Iterable[tuple[str, str]]) -> frozenset[tuple[str, str]]:
    return frozenset(value)


@attrs.frozen
class StatusSet:
    """Which bookings a tally counts apart, by lifecycle status: those whose status is
    one of ``names`` (in any lifecycle), and those whose ``(lifecycle, status)`` is one
    of ``pairs``.

    Reports build them from the configured lifecycles (a booking counts towards
    revenue while its status holds seats, ...): a status that means the same in
    every lifecycle that has it is a name, so the storage tests the status column
    alone; the others are pairs. The storage computes the counts with it (``count(*)
    FILTER (WHERE status IN (...))`` in SQL), never row by row in Python.

    .. versionadded:: 0.4
    """

    names: frozenset[str] = attrs.field(converter=_names, factory=frozenset)
    pairs: frozenset[tuple[str, str]] = attrs.field(converter=_pairs, factory=frozenset)

    @classmethod
    def of(
        cls, lifecycles: Iterable[Lifecycle], test: Callable[[Lifecycle, str], bool]
    ) -> StatusSet:
        """The statuses of ``lifecycles`` that ``test`` holds for: a status by its name
        when every lifecycle that has it agrees, as ``(lifecycle, status)`` pairs
        otherwise (a reservation's ``completed`` has ended, travel's may still be
        refunded).

        .. versionadded:: 0.4
        """
        # status -> the lifecycles that have it, and those of them test holds for
        having: dict[str, set[str]] = {}
        wanted: dict[str, set[str]] = {}
        for lifecycle in lifecycles:
            for status in lifecycle.states:
                having.setdefault(status, set()).add(lifecycle.name)
                if test(lifecycle, status):
                    wanted.setdefault(status, set()).add(lifecycle.name)
        names = {status for status, found in wanted.items() if found == having[status]}
        pairs = {
            (name, status)
            for status, found in wanted.items()
            if status not in names
            for name in found
        }
        return cls(names, pairs)

    def holds(self, lifecycle: str, status: str) -> bool:
        """Whether a booking of ``lifecycle`` in ``status`` is in this set."""
        return status in self.names or (lifecycle, status) in self.pairs

    def by_lifecycle(self) -> dict[str, list[str]]:
        """``pairs`` as each lifecycle's statuses, both sorted (a stable SQL text)."""
        found: dict[str, list[str]] = {}
        for lifecycle, status in sorted(self.pairs):
            found.setdefault(lifecycle, []).append(status)
        return found


@attrs.frozen
class GroupSums:
    """The bookings of one group in one currency that are in a :class:`StatusSet`:
    how many, their travelers and the sum of their totals (exact).

    .. versionadded:: 0.4
    """

    key: GroupKey
    currency: str
    bookings: int
    travelers: int
    amount: Decimal


@attrs.frozen
class GroupCounts:
    """The bookings of one group, and how many of them are in each :class:`StatusSet`
    asked for (``counts``, in the order asked).

    .. versionadded:: 0.4
    """

    key: GroupKey
    bookings: int
    counts: tuple[int, ...]


@attrs.frozen
class CustomerTally:
    """The customers with bookings in one currency.

    ``customers`` have at least one booking, ``repeat_customers`` at least two;
    ``bookings`` and ``amount`` add up all of them.

    .. versionadded:: 0.3
    """

    currency: str
    customers: int
    repeat_customers: int
    bookings: int
    amount: Decimal


@attrs.frozen
class SlotTally:
    """The slots of one group: how many, and their seats.

    Only slots with a capacity count towards ``capacity`` and ``seats_held``;
    ``unlimited_slots`` have none.

    .. versionadded:: 0.3
    """

    key: GroupKey
    slots: int
    unlimited_slots: int
    capacity: int
    seats_held: int


@attrs.frozen
class ImportTally:
    """The import jobs in one status, and the rows they counted.

    .. versionadded:: 0.3
    """

    status: str
    jobs: int
    rows: int
    created: int
    updated: int
    skipped: int
    failed: int


@attrs.frozen
class WaitlistTally:
    """The waiting-list entries in one status, their seats, and how many were ever offered.

    .. versionadded:: 0.3
    """

    status: str
    entries: int
    seats: int
    offered: int


# --------------------------------------------------------------------------- analytics


@attrs.frozen
class FrequencyTally:
    """How many customers have exactly ``bookings`` bookings (among those tallied).

    .. versionadded:: 0.4
    """

    bookings: int
    customers: int


@attrs.frozen
class CohortTally:
    """Of the customers whose first booking was made in the month ``cohort``, how many
    made a booking in the month ``month`` (both keyed by their first day, in the
    tally's zone).

    .. versionadded:: 0.4
    """

    cohort: date
    month: date
    customers: int


def _overlaps(value: Iterable[tuple[str, str, int]]) -> frozenset[tuple[str, str, int]]:
    return frozenset(value)


@attrs.frozen
class SourceOverlapTally:
    """Customers who booked through more than one source.

    ``customers`` counts them; ``pairs`` holds, for each two sources (``(first,
    second)`` with ``first < second`` as Python compares the names), how many
    customers booked through both.

    .. versionadded:: 0.4
    """

    customers: int
    pairs: frozenset[tuple[str, str, int]] = attrs.field(converter=_overlaps, factory=frozenset)


@attrs.frozen
class LeadTally:
    """The leads from one source in one status.

    .. versionadded:: 0.4
    """

    source: str
    status: str
    leads: int


@attrs.frozen
class DurationTally:
    """Durations of one group, in whole microseconds, as the storage adds them up.

    ``rows`` counts the group's rows, ``timed`` those with a duration; ``total``,
    ``shortest`` and ``longest`` are over the timed ones; ``median_low`` and
    ``median_high`` are the middle duration(s) in order (the same one when ``timed``
    is odd). Durations are ``None`` when nothing was timed.

    .. versionadded:: 0.4
    """

    rows: int
    timed: int = 0
    total: int = 0
    shortest: int | None = None
    longest: int | None = None
    median_low: int | None = None
    median_high: int | None = None


def micros(delta: timedelta) -> int:
    """``delta`` in whole microseconds (exact: a timedelta holds whole microseconds).

    .. versionadded:: 0.4
    """
    return delta // timedelta(microseconds=1)


def duration_tally(durations: Iterable[int | None]) -> DurationTally:
    """The reference :class:`DurationTally` of ``durations`` (``None``: not timed).

    .. versionadded:: 0.4
    """
    found = list(durations)
    timed = sorted(value for value in found if value is not None)
    if not timed:
        return DurationTally(len(found))
    count = len(timed)
    return DurationTally(
        rows=len(found),
        timed=count,
        total=sum(timed),
        shortest=timed[0],
        longest=timed[-1],
        median_low=timed[(count + 1) // 2 - 1],
        median_high=timed[(count + 2) // 2 - 1],
    )


@attrs.frozen
class TransitionTally:
    """The moves of bookings of ``lifecycle`` from ``from_status`` to ``to_status``,
    with the time each booking spent in ``from_status`` before the move (from the
    booking's previous history event to this one).

    .. versionadded:: 0.4
    """

    lifecycle: str
    from_status: str
    to_status: str
    durations: DurationTally


@attrs.frozen
class CommunicationTally:
    """The messages of one type on one channel that went out in a period, by how far
    they got (to monitor open and click rates).

    Counted from the messages' timestamps, so a report that never came does not hide
    a later one: ``sent`` have ``sent_at``; ``delivered`` have ``delivered_at``,
    ``opened_at`` or ``clicked_at`` (an opened message was delivered); ``opened``
    have ``opened_at``; ``clicked`` have ``clicked_at`` (with or without an open
    report); ``failed`` are in status ``failed`` now.

    .. versionadded:: 0.4
    """

    type: str
    channel: str
    sent: int
    delivered: int
    opened: int
    clicked: int
    failed: int


@attrs.frozen
class ImportTimingTally:
    """The import jobs in one status and how long they took, started to completed.

    .. versionadded:: 0.4
    """

    status: str
    durations: DurationTally


@attrs.frozen
class ImportErrorTally:
    """The failed rows of one error type (a problem code), across import jobs.

    ``errors`` counts the rows, ``jobs`` the jobs they are in, ``unresolved`` the
    rows no retry has imported since.

    .. versionadded:: 0.4
    """

    error_type: str
    errors: int
    jobs: int
    unresolved: int


@attrs.frozen
class PaidBookingTally:
    """An active booking made in a reconciled period, with what its payments in its
    currency captured and refunded (``0`` when none), summed by the storage.

    ``payment_ids`` are those payments, oldest first.

    .. versionadded:: 0.4
    """

    booking_id: UUID
    reference: str
    status: str
    currency: str
    total: Decimal
    captured: Decimal
    refunded: Decimal
    payment_ids: tuple[UUID, ...] = ()


@attrs.frozen
class HeldPaymentTally:
    """A payment holding money (captured above zero) that no active booking of a
    reconciled period accounts for: ``for_cancelled`` when its booking, made in the
    period, is cancelled; otherwise it is in another currency than its booking, or
    was taken in the period by a customer who booked in it, for a booking made
    outside it or gone.

    .. versionadded:: 0.4
    """

    payment_id: UUID
    booking_id: UUID
    provider: str
    provider_reference: str | None
    currency: str
    captured: Decimal
    refunded: Decimal
    for_cancelled: bool


@attrs.frozen
class ReconciliationTally:
    """Bookings made in a period against their payments, as the storage computes them
    (see :meth:`~bookingcore.ports.PaymentRepository.tally_reconciliation`).

    ``bookings`` are the active bookings, oldest first (then by id). ``held``
    lists, for each booking of the period oldest first, its payments holding money
    for a cancelled booking or in another currency (oldest first); then, for each
    customer of the period in the order of their first booking in it, their other
    payments taken in the period (oldest first).

    .. versionadded:: 0.4
    """

    bookings: tuple[PaidBookingTally, ...]
    held: tuple[HeldPaymentTally, ...]
