"""Reports: figures computed by the storage, and bookings reconciled against payments.

The operational reports staff read (revenue, capacity utilisation, cancellations and no-shows,
repeat customers and lifetime value, import statistics, advisor workload) are
each one service call over a tally: the storage groups and sums the bookings
(``GROUP BY`` in SQL) and the service turns the few rows into figures. They take
a :class:`~bookingcore.BookingFilter` (a period is ``created_from`` and
``created_before``) and a :class:`~bookingcore.domain.Grouping`, and are scoped
like lists: a partner's figures are its own bookings', an advisor's the bookings
assigned to them. Periods (``created_day``, ``created_month``, ``starts_month``)
are the calendar days and months of the business's clock, ``Settings.timezone``. ::

    lines = core.reports.revenue(principal=staff, by="partner", where=BookingFilter(
        created_from=datetime(2026, 3, 1, tzinfo=UTC),
        created_before=datetime(2026, 4, 1, tzinfo=UTC),
    ))
    for line in lines:
        print(line.key, line.bookings, line.amount)

Archived bookings count as every other (a report's filter always includes
them, ``only_archived`` still narrows it): archiving never changes a figure.

How statuses count, for any lifecycle: a booking counts towards revenue while
its status holds seats; it is *cancelled* in the lifecycle's ``cancelled``
status or in a terminal status that holds none (``refunded``); a *no-show* is in
a status named ``no_show`` (any case); *completed* is a terminal status that
holds seats, or a status named ``completed`` (any case; travel's may still be
refunded), and neither cancelled nor a no-show; anything else is *open*.

The analytics reports are for staff who may view all, and
are grouped by the storage too: :meth:`ReportService.booking_frequency` (customers
by number of bookings, in buckets), :meth:`ReportService.cohort_retention`
(customers by month of first booking, and who booked again in each later month),
:meth:`ReportService.source_conversion` (leads converted per source, bookings per
source, customers of several sources), :meth:`ReportService.status_transitions`
(moves between statuses and the time spent before them) and
:meth:`ReportService.import_performance` (processing times of import jobs, failed
rows per error type)::

    for cohort in core.reports.cohort_retention(principal=staff, months=6):
        print(cohort.cohort, cohort.customers, cohort.retention)

The reconciliation report::

    report = core.reports.reconciliation(
        datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC), principal=staff
    )
    for line in report.bookings:
        if line.state is ReconciliationState.PART_PAID:
            print(line.reference, "owes", line.total - line.net_paid)
    for stray in report.stray_payments:
        print(stray.reason, stray.provider_reference, stray.net_paid)
    print(report.totals_for("INR").net_paid)

.. versionadded:: 0.2
"""

from __future__ import annotations

import enum
import functools
import itertools
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

import attrs

from bookingcore.domain import policy
from bookingcore.domain._validation import check_range
from bookingcore.domain.imports import ImportKind
from bookingcore.domain.insights import StatusGroups
from bookingcore.domain.leads import OPEN_LEAD_STATUSES, LeadStatus
from bookingcore.domain.lifecycle import Lifecycle
from bookingcore.domain.policy import Permission, Principal, PrincipalKind, StaffRole
from bookingcore.domain.queries import BookingFilter, SlotFilter
from bookingcore.domain.staff import StaffMember
from bookingcore.domain.tallies import (
    DurationTally,
    Grouping,
    GroupKey,
    HeldPaymentTally,
    ImportTally,
    PaidBookingTally,
    StatusSet,
)
from bookingcore.domain.values import (
    BookingId,
    LocationId,
    Money,
    PaymentId,
    StaffId,
    ensure_aware,
)
from bookingcore.domain.waitlist import WaitlistStatus
from bookingcore.errors import PermissionDeniedError, ValidationError
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import ServiceContext

__all__ = [
    "DEFAULT_FREQUENCY_BUCKETS",
    "AdvisorWorkload",
    "BookingSourceLine",
    "CancellationLine",
    "CohortLine",
    "CurrencyTotals",
    "CustomerValue",
    "DurationSummary",
    "EngagementLine",
    "FrequencyLine",
    "ImportErrorLine",
    "ImportPerformance",
    "ImportTimingLine",
    "LeadSourceLine",
    "ReconciliationLine",
    "ReconciliationReport",
    "ReconciliationState",
    "ReportService",
    "RevenueLine",
    "SourceConversion",
    "SourceOverlapLine",
    "StrayPayment",
    "StrayReason",
    "TransitionLine",
    "UtilisationLine",
    "WaitlistConversion",
    "status_groups",
]


class ReconciliationState(enum.StrEnum):
    """How a booking's money stands against its total.

    * ``paid``: what was taken, less refunds, is the total;
    * ``part_paid``: something was kept, less than the total;
    * ``over_paid``: more than the total was kept;
    * ``refunded``: money was taken and all of it went back;
    * ``unpaid``: nothing was taken (and the total is above zero).

    .. versionadded:: 0.2
    """

    PAID = "paid"
    PART_PAID = "part_paid"
    OVER_PAID = "over_paid"
    REFUNDED = "refunded"
    UNPAID = "unpaid"


class StrayReason(enum.StrEnum):
    """Why a payment holding money is listed apart from the period's bookings.

    * ``no_booking_in_period``: taken in the period for a booking made outside
      it, or for a booking that no longer exists;
    * ``paid_for_cancelled``: its booking (made in the period) is cancelled.

    .. versionadded:: 0.2
    """

    NO_BOOKING_IN_PERIOD = "no_booking_in_period"
    PAID_FOR_CANCELLED = "paid_for_cancelled"


@attrs.frozen
class ReconciliationLine:
    """One booking made in the period, against its payments in the booking's currency.

    ``captured`` is what providers took, ``refunded`` what went back for good,
    ``net_paid`` the difference; all in the booking's currency.

    .. versionadded:: 0.2
    """

    booking_id: BookingId
    reference: str
    status: str
    total: Money
    captured: Money
    refunded: Money
    net_paid: Money
    state: ReconciliationState
    payment_ids: tuple[PaymentId, ...] = ()


@attrs.frozen
class StrayPayment:
    """A payment holding money that no active booking of the period accounts for.

    .. versionadded:: 0.2
    """

    payment_id: PaymentId
    booking_id: BookingId
    provider: str
    provider_reference: str | None
    captured: Money
    refunded: Money
    net_paid: Money
    reason: StrayReason


@attrs.frozen
class CurrencyTotals:
    """The report's sums in one currency.

    ``total``, ``captured``, ``refunded`` and ``net_paid`` add up the booking
    lines; ``stray_net_paid`` adds up the stray payments' ``net_paid``.

    .. versionadded:: 0.2
    """

    currency: str
    total: Money
    captured: Money
    refunded: Money
    net_paid: Money
    stray_net_paid: Money

    @classmethod
    def zero(cls, currency: str) -> CurrencyTotals:
        """Nothing yet, in ``currency``."""
        nothing = Money.zero(currency)
        return cls(currency, nothing, nothing, nothing, nothing, nothing)


@attrs.frozen
class ReconciliationReport:
    """Bookings made in ``[start, end)`` against their payments.

    ``bookings`` holds the active (not cancelled) bookings, oldest first;
    ``stray_payments`` the payments holding money that none of them accounts
    for; ``totals`` one :class:`CurrencyTotals` per currency, sorted by code.

    .. versionadded:: 0.2
    """

    start: datetime
    end: datetime
    bookings: tuple[ReconciliationLine, ...]
    stray_payments: tuple[StrayPayment, ...]
    totals: tuple[CurrencyTotals, ...]

    def totals_for(self, currency: str) -> CurrencyTotals:
        """The sums in ``currency`` (zero when the report has nothing in it)."""
        for totals in self.totals:
            if totals.currency == currency:
                return totals
        return CurrencyTotals.zero(currency)

    def lines_in(self, state: ReconciliationState) -> tuple[ReconciliationLine, ...]:
        """The booking lines in ``state``."""
        return tuple(line for line in self.bookings if line.state is state)


def _state(total: Decimal, captured: Decimal, net: Decimal) -> ReconciliationState:
    """How a booking's money stands: its total, what was captured and the net paid, as
    amounts of one currency."""
    if not captured:
        return ReconciliationState.PAID if not total else ReconciliationState.UNPAID
    if not net:
        return ReconciliationState.REFUNDED
    if net < total:
        return ReconciliationState.PART_PAID
    if net > total:
        return ReconciliationState.OVER_PAID
    return ReconciliationState.PAID


def _stray(row: HeldPaymentTally, money: _Amounts) -> StrayPayment:
    captured = money(row.captured, row.currency)
    refunded = money(row.refunded, row.currency)
    return StrayPayment(
        payment_id=PaymentId(row.payment_id),
        booking_id=BookingId(row.booking_id),
        provider=row.provider,
        provider_reference=row.provider_reference,
        captured=captured,
        refunded=refunded,
        net_paid=money(row.captured - row.refunded, row.currency),
        reason=StrayReason.PAID_FOR_CANCELLED
        if row.for_cancelled
        else StrayReason.NO_BOOKING_IN_PERIOD,
    )


def _line(row: PaidBookingTally, money: _Amounts) -> ReconciliationLine:
    currency = row.currency
    total = money(row.total, currency)
    captured = money(row.captured, currency)
    refunded = money(row.refunded, currency)
    net = money(row.captured - row.refunded, currency)
    return ReconciliationLine(
        booking_id=BookingId(row.booking_id),
        reference=row.reference,
        status=row.status,
        total=total,
        captured=captured,
        refunded=refunded,
        net_paid=net,
        state=_state(total.amount, captured.amount, net.amount),
        # PaymentId is a UUID at run time: the storage's tuple as it is.
        payment_ids=cast(tuple[PaymentId, ...], row.payment_ids),
    )


class _Amounts:
    """``Money.summed(amount, currency)``, each amount and currency built once per report
    (what a booking's payments captured may pass what one payment may be).

    A reconciliation's bookings share a few prices, and Money is immutable, so its
    lines share their Money objects: the same figures, without rounding and
    checking one amount again for every booking that has it.
    """

    def __init__(self) -> None:
        self._made: dict[tuple[Decimal, str], Money] = {}

    def __call__(self, amount: Decimal, currency: str) -> Money:
        key = (amount, currency)
        found = self._made.get(key)
        if found is None:
            found = self._made[key] = Money.summed(amount, currency)
        return found


# --------------------------------------------------------------------------- figures


@attrs.frozen
class RevenueLine:
    """Revenue of one group in one currency: the bookings that hold seats, and their totals.

    .. versionadded:: 0.3
    """

    key: GroupKey
    currency: str
    bookings: int
    travelers: int
    amount: Money


@attrs.frozen
class CancellationLine:
    """Cancellations and no-shows of one group, against all its bookings.

    Rates are fractions of ``bookings`` with four decimals (``0.25`` is a quarter).

    .. versionadded:: 0.3
    """

    key: GroupKey
    bookings: int
    cancelled: int
    no_shows: int
    cancellation_rate: Decimal
    no_show_rate: Decimal


@attrs.frozen
class AdvisorWorkload:
    """One advisor's bookings by how far they got.

    ``completion_rate`` is ``completed`` over the bookings not cancelled.

    .. versionadded:: 0.3
    """

    assignee_id: StaffId | None
    assigned: int
    open: int
    completed: int
    cancelled: int
    no_shows: int
    completion_rate: Decimal


@attrs.frozen
class UtilisationLine:
    """Seats held against capacity for one group of slots.

    ``utilisation`` is ``seats_held`` over ``capacity`` (slots with a capacity only).

    .. versionadded:: 0.3
    """

    key: GroupKey
    slots: int
    unlimited_slots: int
    capacity: int
    seats_held: int
    utilisation: Decimal


@attrs.frozen
class CustomerValue:
    """Repeat customers and lifetime value in one currency.

    ``lifetime_value`` is what the customers' bookings that hold seats add up to,
    per customer; ``repeat_rate`` the share of customers who booked twice or more.

    .. versionadded:: 0.3
    """

    currency: str
    customers: int
    repeat_customers: int
    repeat_rate: Decimal
    lifetime_value: Money


@attrs.frozen
class WaitlistConversion:
    """How waiting lists turned into bookings: entries that joined in a period, by outcome.

    ``offered`` counts entries that were ever offered seats (whatever came after);
    ``conversion_rate`` is ``booked`` over ``joined`` and ``acceptance_rate``
    ``booked`` over ``offered``.

    .. versionadded:: 0.3
    """

    joined: int
    seats: int
    waiting: int
    offered: int
    booked: int
    expired: int
    cancelled: int
    conversion_rate: Decimal
    acceptance_rate: Decimal


# --------------------------------------------------------------------------- analytics

#: The booking-frequency buckets when none are given: 1, 2, 3-5 and 6 or more bookings.
DEFAULT_FREQUENCY_BUCKETS: tuple[int, ...] = (1, 2, 3, 6)

#: The most later months a cohort table follows (ten years).
_MAX_COHORT_MONTHS = 120


@attrs.frozen
class FrequencyLine:
    """Customers whose number of bookings is in ``least..most`` (``most`` None: or more).

    ``label`` reads ``"1"``, ``"3-5"`` or ``"6+"``; ``bookings`` adds up their bookings.

    .. versionadded:: 0.4
    """

    label: str
    least: int
    most: int | None
    customers: int
    bookings: int


@attrs.frozen
class CohortLine:
    """The customers whose first booking was made in the month ``cohort`` (its first day,
    on the business's calendar), and how many of them booked in each month after.

    ``active[k]`` counts the cohort's customers who made a booking in the k-th month
    after ``cohort``: ``active[0]`` is ``customers`` (each booked in their first
    month), ``active[1]`` those who booked again the next month, and so on, up to
    the months asked for. ``retention`` is each of them over ``customers``.

    .. versionadded:: 0.4
    """

    cohort: date
    customers: int
    active: tuple[int, ...]

    @property
    def retention(self) -> tuple[Decimal, ...]:
        """``active`` as fractions of ``customers`` (four decimals)."""
        return tuple(_rate(count, self.customers) for count in self.active)


@attrs.frozen
class LeadSourceLine:
    """The leads from one source and how many turned into bookings.

    ``converted`` are the ``won`` leads (one of their quotations was approved: a
    booking exists), ``lost`` the lost ones, ``open`` the rest;
    ``conversion_rate`` is ``converted`` over ``leads``.

    .. versionadded:: 0.4
    """

    source: str
    leads: int
    converted: int
    lost: int
    open: int
    conversion_rate: Decimal


@attrs.frozen
class BookingSourceLine:
    """The bookings made through one source, and how many of them were cancelled.

    .. versionadded:: 0.4
    """

    source: str
    bookings: int
    cancelled: int


@attrs.frozen
class SourceOverlapLine:
    """Customers who booked through both ``sources`` (sorted by name).

    .. versionadded:: 0.4
    """

    sources: tuple[str, str]
    customers: int


@attrs.frozen
class SourceConversion:
    """Conversion by source, to compare channels: leads and their conversion per lead source,
    bookings per booking source, and the customers who booked through more than one
    source (``overlap_customers``, and ``overlaps`` per two sources).

    .. versionadded:: 0.4
    """

    leads: tuple[LeadSourceLine, ...]
    bookings: tuple[BookingSourceLine, ...]
    overlap_customers: int
    overlaps: tuple[SourceOverlapLine, ...]


@attrs.frozen
class DurationSummary:
    """How long something took, over the ``timed`` cases that have a duration.

    ``mean`` and ``median`` are rounded to the microsecond (halves up); all four are
    ``None`` when nothing was timed.

    .. versionadded:: 0.4
    """

    timed: int
    mean: timedelta | None
    median: timedelta | None
    shortest: timedelta | None
    longest: timedelta | None

    @classmethod
    def of(cls, tally: DurationTally) -> DurationSummary:
        """The summary of what the storage added up."""
        if not tally.timed or tally.median_low is None or tally.median_high is None:
            return cls(tally.timed, None, None, None, None)

        def span(value: int | None) -> timedelta | None:
            return None if value is None else timedelta(microseconds=value)

        return cls(
            timed=tally.timed,
            mean=span(_halves_up(tally.total, tally.timed)),
            median=span(_halves_up(tally.median_low + tally.median_high, 2)),
            shortest=span(tally.shortest),
            longest=span(tally.longest),
        )


def _halves_up(part: int, whole: int) -> int:
    """``part / whole`` rounded to a whole number, halves up (exact integers)."""
    return (2 * part + whole) // (2 * whole)


@attrs.frozen
class EngagementLine:
    """How far the messages of one type (or on one channel) that went out in the
    period got, and their open and click rates, to monitor engagement.

    ``key`` is the message type (``confirmation``) or the channel (``email``);
    ``channel`` is the channel when grouped by type and channel, ``None`` otherwise.
    ``open_rate`` is ``opened / delivered`` and ``click_rate`` ``clicked / delivered``
    (4 places, 0 without deliveries); see
    :class:`~bookingcore.domain.CommunicationTally` for what each count holds.

    .. versionadded:: 0.4
    """

    key: str
    channel: str | None
    sent: int
    delivered: int
    opened: int
    clicked: int
    failed: int
    open_rate: Decimal
    click_rate: Decimal


#: How the engagement report groups its lines.
_ENGAGEMENT_GROUPS = ("type", "channel", "type_and_channel")


@attrs.frozen
class TransitionLine:
    """The bookings of ``lifecycle`` that moved from ``from_status`` to ``to_status``
    in the period, and how long they had been in ``from_status`` (since their
    previous move or their creation).

    .. versionadded:: 0.4
    """

    lifecycle: str
    from_status: str
    to_status: str
    transitions: int
    time_before: DurationSummary


@attrs.frozen
class ImportTimingLine:
    """The import jobs in one status and how long those that ran took (started to completed).

    .. versionadded:: 0.4
    """

    status: str
    jobs: int
    processing: DurationSummary


@attrs.frozen
class ImportErrorLine:
    """The failed rows of one error type across jobs: rows, jobs, rows still unresolved.

    .. versionadded:: 0.4
    """

    error_type: str
    errors: int
    jobs: int
    unresolved: int


@attrs.frozen
class ImportPerformance:
    """Processing-time statistics and error-type distribution of import jobs.

    ``timings`` per job status, ``errors`` per error type (most frequent first).

    .. versionadded:: 0.4
    """

    timings: tuple[ImportTimingLine, ...]
    errors: tuple[ImportErrorLine, ...]


def _bucket_label(least: int, most: int | None) -> str:
    if most is None:
        return f"{least}+"
    return str(least) if least == most else f"{least}-{most}"


def _buckets(buckets: Sequence[int]) -> list[tuple[int, int | None]]:
    """``buckets`` (lower bounds) as ``(least, most)`` pairs, checked.

    Raises:
        ValidationError: on ``buckets`` unless whole numbers from 1, strictly rising.
    """
    bounds = list(buckets)
    if (
        not bounds
        or any(isinstance(b, bool) or not isinstance(b, int) for b in bounds)
        or bounds[0] != 1
        or any(low >= high for low, high in itertools.pairwise(bounds))
    ):
        msg = "must be whole numbers rising strictly from 1, such as 1, 2, 3, 6"
        raise ValidationError.single("buckets", msg, "invalid")
    return [
        (low, None if index + 1 == len(bounds) else bounds[index + 1] - 1)
        for index, low in enumerate(bounds)
    ]


def _months_after(start: date, later: date) -> int:
    return (later.year - start.year) * 12 + later.month - start.month


def _within(
    start: datetime | None, end: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """A period's bounds, checked (fields ``created_from`` and ``created_before``)."""
    return _bounds(start, end, "created_from", "created_before")


def _bounds(
    start: datetime | None, end: datetime | None, start_field: str, end_field: str
) -> tuple[datetime | None, datetime | None]:
    """A period's optional bounds, checked aware and in order (equal bounds: empty).

    Raises:
        ValidationError: on either field when naive; on ``end_field`` when ``end``
            is before ``start`` (``invalid_range``).
    """
    start = None if start is None else ensure_aware(start, start_field)
    end = None if end is None else ensure_aware(end, end_field)
    check_range(start, end, start_field, end_field)
    return start, end


_RATE = Decimal("0.0001")

#: The capacity report's slots when it is given no filter: every one, active or not.
_EVERY_SLOT = SlotFilter(only_active=False)


def _rate(part: int, whole: int) -> Decimal:
    if not whole:
        return Decimal(0)
    # A Decimal over an int divides as over Decimal(whole), without making it.
    return (Decimal(part) / whole).quantize(_RATE)


@attrs.frozen
class _Kind:
    """How one lifecycle status counts in the reports (see the module docstring)."""

    counted: bool
    cancelled: bool
    no_show: bool
    completed: bool


def _kind(lifecycle: Lifecycle, status: str) -> _Kind:
    holding = lifecycle.holds_capacity(status)
    terminal = lifecycle.is_terminal(status)
    no_show = status.casefold() == "no_show"
    cancelled = status == lifecycle.cancelled or (terminal and not holding)
    # Travel's ``completed`` may still be refunded (not terminal): the trip took place.
    ended = (terminal and holding) or status.casefold() == "completed"
    return _Kind(
        counted=holding,
        cancelled=cancelled,
        no_show=no_show,
        completed=ended and not (no_show or cancelled),
    )


@attrs.frozen
class _Statuses:
    """The statuses that count as each kind in the configured lifecycles, for the storage."""

    counted: StatusSet
    cancelled: StatusSet
    no_show: StatusSet
    completed: StatusSet

    @classmethod
    def of(cls, lifecycles: Iterable[Lifecycle]) -> _Statuses:
        given = tuple(lifecycles)
        return cls(*(StatusSet.of(given, _is_kind(field)) for field in attrs.fields_dict(cls)))


def _is_kind(field: str) -> Callable[[Lifecycle, str], bool]:
    """Whether a lifecycle's status counts as ``field`` (a field of :class:`_Kind`)."""

    def test(lifecycle: Lifecycle, status: str) -> bool:
        return bool(getattr(_kind(lifecycle, status), field))

    return test


def open_statuses(lifecycles: Iterable[Lifecycle]) -> StatusSet:
    """The statuses of ``lifecycles`` whose bookings are still open: neither completed,
    cancelled nor a no-show, as :meth:`ReportService.advisor_workload` counts ``open``.
    The load the assignment strategies compare (``least_loaded``, ``dealer_based``).

    Judged in each booking's own lifecycle: a reservation's ``completed`` is over even
    though the travel lifecycle's ``completed`` (which may still be refunded) is not
    terminal.

    .. versionadded:: 0.4
    """
    kinds: dict[str, dict[str, _Kind]] = {}
    for lifecycle in lifecycles:
        for status in lifecycle.states:
            kinds.setdefault(status, {})[lifecycle.name] = _kind(lifecycle, status)
    names: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for status, by_lifecycle in kinds.items():
        wanted = {
            name
            for name, kind in by_lifecycle.items()
            if not (kind.cancelled or kind.no_show or kind.completed)
        }
        if wanted == by_lifecycle.keys():
            names.add(status)
        else:
            pairs.update((name, status) for name in wanted)
    return StatusSet(names, pairs)


def advisor_loads(uow: UnitOfWork, lifecycles: Iterable[Lifecycle]) -> dict[StaffId, int]:
    """Inside ``uow``: each assignee's open bookings (:func:`open_statuses` of
    ``lifecycles``), counted in the storage; assignees with none are left out. The
    load ``BookingService.assign`` and an import's assignment strategies compare.

    .. versionadded:: 0.4
    """
    open_set = open_statuses(lifecycles)
    candidates = open_set.names | {status for _, status in open_set.pairs}
    rows = uow.bookings.count_in(BookingFilter(statuses=candidates), Grouping.ASSIGNEE, [open_set])
    return {
        StaffId(row.key): row.counts[0]
        for row in rows
        if isinstance(row.key, UUID) and row.counts[0]
    }


def round_robin_turn(uow: UnitOfWork, lifecycles: Iterable[Lifecycle]) -> int:
    """Inside ``uow``: whose turn it is under ``round_robin``, the number of bookings
    (in any status of ``lifecycles``) that have an advisor now. Counted, not stored:
    ``BookingService.assign`` and every import start from it, so separate calls and
    processes share the turn.

    .. versionadded:: 0.4
    """
    every_state = {state for lifecycle in lifecycles for state in lifecycle.states}
    return sum(uow.bookings.count_by_assignee(every_state).values())


def locked_advisors(uow: UnitOfWork) -> list[StaffMember]:
    """Inside ``uow``: the active advisors, each row locked, in id order. Every
    assignment strategy (bookings, leads, imports) takes these locks before it counts
    loads or turns, so picks at the same time wait for each other, count the
    assignments made before them, and never take the same turn or spare load.

    .. versionadded:: 0.4
    """
    listed = uow.staff.list(role=StaffRole.ADVISOR.value, only_active=True)
    locked = (uow.staff.get_for_update(member.id) for member in sorted(listed, key=lambda m: m.id))
    return [member for member in locked if member is not None]


def check_advisor(uow: UnitOfWork, staff_id: StaffId, field: str) -> StaffMember:
    """Inside ``uow``: the one rule for whoever is given a booking or a lead, an
    active advisor. Their row is locked, so a deactivation at the same time lands
    first (and is seen here) or waits for this assignment.

    Raises:
        ValidationError: on ``field`` (code ``unknown_advisor``) for an unknown
            member of staff, one of another role, or an inactive advisor.

    .. versionadded:: 0.4
    """
    member = uow.staff.get_for_update(staff_id)
    if member is not None and member.role == StaffRole.ADVISOR and member.is_active:
        return member
    if member is None:
        msg = "is not a member of staff"
    elif member.role != StaffRole.ADVISOR:
        msg = f"is {member.role} staff, not an advisor"
    else:
        msg = "is an inactive advisor"
    raise ValidationError.single(field, msg, "unknown_advisor")


def counted_statuses(lifecycles: Iterable[Lifecycle]) -> StatusSet:
    """The statuses of ``lifecycles`` whose bookings count towards revenue (those
    holding seats): the decision :meth:`ReportService.revenue` makes, which the
    customer view's lifetime value reuses.

    .. versionadded:: 0.4
    """
    return _Statuses.of(lifecycles).counted


def status_groups(lifecycles: Iterable[Lifecycle]) -> StatusGroups:
    """How the reports count the statuses of ``lifecycles`` (see the module docstring),
    as the :class:`~bookingcore.domain.StatusGroups` the customer view hands to the
    storage: cancelled (a lifecycle's ``cancelled`` state, or a terminal one holding
    no seats, such as travel's ``refunded``), no-shows, completed, and the statuses
    that add to the lifetime value (those revenue counts, :func:`counted_statuses`).
    A customer's figures therefore equal the cancellation report's over their bookings.

    .. versionadded:: 0.3
    .. versionchanged:: 0.4
       The reports' rules: a terminal state holding no seats (``refunded``) is
       cancelled, and a status counting differently in two lifecycles is matched
       with its lifecycle; ``completed`` and ``counted``.
    """
    found = _Statuses.of(lifecycles)
    return StatusGroups(
        cancelled=found.cancelled,
        no_show=found.no_show,
        completed=found.completed,
        counted=found.counted,
    )


class ReportService:
    """Reports over bookings and payments, for staff who may see every booking.

    Args:
        context: the core's service context.

    .. versionadded:: 0.2
    .. versionchanged:: 0.4
       No ``page_size``: the storage computes every report, the reconciliation too.
    """

    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    def reconciliation(
        self, start: datetime, end: datetime, *, principal: Principal
    ) -> ReconciliationReport:
        """Bookings created in ``[start, end)`` against what was paid for them.

        Each active booking gets a line: its total, what its payments in its
        currency captured and refunded, the net paid and a
        :class:`ReconciliationState`. Payments holding money (captured, less
        refunded, above zero, or anything captured for a cancelled booking) are
        listed as :class:`StrayPayment` when their booking is cancelled
        (``paid_for_cancelled``), or when they were taken in the period by a
        customer who booked in it, for a booking made outside it or gone
        (``no_booking_in_period``). Payments in another currency than their
        booking's are listed as ``no_booking_in_period`` too. Only reads: the
        storage computes the figures
        (:meth:`~bookingcore.ports.PaymentRepository.tally_reconciliation`; on SQL
        three or four statements, whatever the number of bookings).

        .. versionchanged:: 0.4
           Computed by the storage, which sums the payments of each booking and
           finds the stray ones, rather than from the bookings and payments read
           whole.

        Raises:
            PermissionDeniedError: ``principal`` is not staff with ``view_all``.
            ValidationError: on ``start`` or ``end`` when naive, or on ``end``
                when it is not after ``start``.
        """
        _require_staff(principal, "reconciliation reports", Permission.VIEW_ALL)
        start = ensure_aware(start, "start")
        end = ensure_aware(end, "end")
        if end <= start:
            raise ValidationError.single("end", "must be after start", "invalid_range")
        with self._ctx.uow_factory().read_only() as uow:
            tally = uow.payments.tally_reconciliation(start, end, self._statuses.cancelled)
        money = _Amounts()
        lines = [_line(row, money) for row in tally.bookings]
        strays = [_stray(row, money) for row in tally.held]
        return ReconciliationReport(
            start=start,
            end=end,
            bookings=tuple(lines),
            stray_payments=tuple(strays),
            totals=_totals(lines, strays),
        )

    # ----------------------------------------------------------------------- tallies

    @functools.cached_property
    def _statuses(self) -> _Statuses:
        """How the configured lifecycles' statuses count, as the storage tests them."""
        return _Statuses.of(self._ctx.settings.lifecycles.values())

    def _scoped(
        self, principal: Principal, by: Grouping | str, where: BookingFilter | None
    ) -> tuple[BookingFilter, Grouping]:
        grouping = _grouping(by)
        return _counting_archived(
            policy.scope_bookings(principal, where or BookingFilter())
        ), grouping

    def revenue(
        self,
        *,
        principal: Principal,
        by: Grouping | str = Grouping.NONE,
        where: BookingFilter | None = None,
    ) -> Sequence[RevenueLine]:
        """Bookings that hold seats and their totals, per group and currency.

        Args:
            by: ``source``, ``partner``, ``location``, ``product``, ``assignee``,
                a period (``created_day``, ``created_month``, ``starts_month``:
                days and months in ``Settings.timezone``) or ``none``.
            where: which bookings (a period is ``created_from``/``created_before``).

        Raises:
            ValidationError: on ``by`` when it is not a grouping.
            PermissionDeniedError: ``principal`` may not list these bookings.
        """
        query, grouping = self._scoped(principal, by, where)
        with self._ctx.uow_factory().read_only() as uow:
            rows = uow.bookings.sum_in(
                query, grouping, self._statuses.counted, zone=self._ctx.settings.zone
            )
        return sorted(
            (
                RevenueLine(
                    row.key,
                    row.currency,
                    row.bookings,
                    row.travelers,
                    Money.summed(row.amount, row.currency),
                )
                for row in rows
            ),
            key=lambda line: (_order(line.key), line.currency),
        )

    def cancellations(
        self,
        *,
        principal: Principal,
        by: Grouping | str = Grouping.NONE,
        where: BookingFilter | None = None,
    ) -> Sequence[CancellationLine]:
        """Cancelled bookings and no-shows against all bookings, per group.

        Raises:
            ValidationError: on ``by`` when it is not a grouping.
            PermissionDeniedError: ``principal`` may not list these bookings.
        """
        query, grouping = self._scoped(principal, by, where)
        statuses = self._statuses
        with self._ctx.uow_factory().read_only() as uow:
            rows = uow.bookings.count_in(
                query,
                grouping,
                (statuses.cancelled, statuses.no_show),
                zone=self._ctx.settings.zone,
            )
        return sorted(
            (
                CancellationLine(
                    row.key,
                    row.bookings,
                    cancelled,
                    no_shows,
                    _rate(cancelled, row.bookings),
                    _rate(no_shows, row.bookings),
                )
                for row in rows
                for cancelled, no_shows in (row.counts,)
            ),
            key=_keyed_order,
        )

    def advisor_workload(
        self, *, principal: Principal, where: BookingFilter | None = None
    ) -> Sequence[AdvisorWorkload]:
        """Each assignee's bookings: open, completed, cancelled, no-shows, completion rate.

        Bookings with no assignee are one line with ``assignee_id=None``. An
        advisor sees their own line only.

        Raises:
            PermissionDeniedError: ``principal`` may not list these bookings.
        """
        query, grouping = self._scoped(principal, Grouping.ASSIGNEE, where)
        statuses = self._statuses
        with self._ctx.uow_factory().read_only() as uow:
            rows = uow.bookings.count_in(
                query,
                grouping,
                (statuses.completed, statuses.cancelled, statuses.no_show),
                zone=self._ctx.settings.zone,
            )
        return sorted(
            (
                AdvisorWorkload(
                    assignee_id=StaffId(row.key) if isinstance(row.key, UUID) else None,
                    assigned=row.bookings,
                    open=row.bookings - completed - cancelled - no_shows,
                    completed=completed,
                    cancelled=cancelled,
                    no_shows=no_shows,
                    completion_rate=_rate(completed, row.bookings - cancelled),
                )
                for row in rows
                for completed, cancelled, no_shows in (row.counts,)
            ),
            key=lambda line: _order(line.assignee_id),
        )

    def customer_value(
        self, *, principal: Principal, where: BookingFilter | None = None
    ) -> Sequence[CustomerValue]:
        """Repeat-customer rate and lifetime value per currency, from bookings that hold seats.

        Raises:
            PermissionDeniedError: ``principal`` may not list these bookings.
        """
        query = _counting_archived(policy.scope_bookings(principal, where or BookingFilter()))
        with self._ctx.uow_factory().read_only() as uow:
            rows = uow.bookings.tally_customers(query, statuses=self._statuses.counted)
        return sorted(
            (
                CustomerValue(
                    currency=row.currency,
                    customers=row.customers,
                    repeat_customers=row.repeat_customers,
                    repeat_rate=_rate(row.repeat_customers, row.customers),
                    lifetime_value=Money.summed(
                        row.amount / row.customers if row.customers else Decimal(0), row.currency
                    ),
                )
                for row in rows
            ),
            key=lambda line: line.currency,
        )

    def capacity_utilisation(
        self,
        *,
        principal: Principal,
        by: Grouping | str = Grouping.NONE,
        where: SlotFilter | None = None,
    ) -> Sequence[UtilisationLine]:
        """Seats held against capacity, per location, product, month of start, or overall.

        Every slot counts, active or not: a closed slot still runs with the seats its
        bookings hold, and a cancelled one holds none. ``where`` narrows the slots
        (location, product, start, ``only_available``); its ``only_active``, true by
        default for lists, is not applied, so a filter that selects every slot gives
        the figures of no filter.

        .. versionchanged:: 0.4
           A ``where`` no longer leaves out closed and cancelled slots.

        Raises:
            ValidationError: on ``by`` when slots cannot be grouped that way.
            PermissionDeniedError: ``principal`` is not staff with ``view_all``.
        """
        _require_staff(principal, "capacity reports", Permission.VIEW_ALL)
        grouping = _grouping(by)
        if where is None:
            where = _EVERY_SLOT
        elif where.only_active:
            where = attrs.evolve(where, only_active=False)
        with self._ctx.uow_factory().read_only() as uow:
            rows = uow.slots.tally(where, grouping, zone=self._ctx.settings.zone)
        lines = [
            UtilisationLine(
                row.key,
                row.slots,
                row.unlimited_slots,
                row.capacity,
                row.seats_held,
                _rate(row.seats_held, row.capacity),
            )
            for row in rows
        ]
        lines.sort(key=_keyed_order)
        return lines

    def waitlist_conversion(
        self,
        *,
        principal: Principal,
        created_from: datetime | None = None,
        created_before: datetime | None = None,
        location_id: LocationId | None = None,
    ) -> WaitlistConversion:
        """Waiting-list entries that joined in the period, by outcome, and their conversion.

        Raises:
            PermissionDeniedError: ``principal`` is not staff with ``view_all``.
            ValidationError: on ``created_from`` or ``created_before`` when naive.
        """
        _require_staff(principal, "waiting-list reports", Permission.VIEW_ALL)
        start, end = _bounds(created_from, created_before, "created_from", "created_before")
        with self._ctx.uow_factory().read_only() as uow:
            rows = uow.waitlist.tally(start, end, location_id)
        by_status = {row.status: row for row in rows}

        def entries(status: WaitlistStatus) -> int:
            row = by_status.get(status.value)
            return row.entries if row is not None else 0

        joined = sum(row.entries for row in rows)
        booked = entries(WaitlistStatus.BOOKED)
        offered = sum(row.offered for row in rows)
        return WaitlistConversion(
            joined=joined,
            seats=sum(row.seats for row in rows),
            waiting=entries(WaitlistStatus.WAITING),
            offered=offered,
            booked=booked,
            expired=entries(WaitlistStatus.EXPIRED),
            cancelled=entries(WaitlistStatus.CANCELLED),
            conversion_rate=_rate(booked, joined),
            acceptance_rate=_rate(booked, offered),
        )

    def import_statistics(
        self,
        *,
        principal: Principal,
        created_from: datetime | None = None,
        created_before: datetime | None = None,
        kind: ImportKind | str | None = ImportKind.BOOKINGS,
    ) -> Sequence[ImportTally]:
        """Import jobs per status and the rows they created, updated, skipped and failed.

        Args:
            kind: which imports: booking imports by default, so customer and
                traveler (people) imports never skew the booking figures;
                ``customers`` or ``travelers`` for those, ``None`` for every kind
                together.

        Raises:
            PermissionDeniedError: ``principal`` is not staff who may import or view all.
            ValidationError: on ``created_from`` or ``created_before`` when naive, on
                ``kind`` when it names no import kind.

        .. versionchanged:: 0.4
           ``kind``, booking imports by default (every kind was counted together).
        """
        _require_staff(
            principal, "import statistics", Permission.IMPORT_BOOKINGS, Permission.VIEW_ALL
        )
        start, end = _bounds(created_from, created_before, "created_from", "created_before")
        which = None if kind is None else ImportKind.parse(kind)
        with self._ctx.uow_factory().read_only() as uow:
            rows = uow.imports.tally(start, end, kind=which)
        return sorted(rows, key=lambda row: row.status)

    # ----------------------------------------------------------------------- analytics

    def _staff_bookings(
        self, principal: Principal, what: str, where: BookingFilter | None
    ) -> BookingFilter:
        """Refuse all but staff who may view all; ``where`` with archived bookings counted
        (the tallies are asked for the bookings that hold seats, ``_statuses.counted``)."""
        _require_staff(principal, what, Permission.VIEW_ALL)
        return _counting_archived(policy.scope_bookings(principal, where or BookingFilter()))

    def booking_frequency(
        self,
        *,
        principal: Principal,
        where: BookingFilter | None = None,
        buckets: Sequence[int] = DEFAULT_FREQUENCY_BUCKETS,
    ) -> Sequence[FrequencyLine]:
        """Customers by how many bookings they made (booking frequency).

        Counts the bookings matching ``where`` that hold seats (as
        :meth:`customer_value`), per customer, in the storage (``GROUP BY`` the
        customer, then the count); the service puts the few rows in ``buckets``:
        lower bounds, ``(1, 2, 3, 6)`` giving ``1``, ``2``, ``3-5`` and ``6+``. Every
        bucket has a line, empty ones too, in order.

        Raises:
            PermissionDeniedError: ``principal`` is not staff with ``view_all``.
            ValidationError: on ``buckets`` unless whole numbers rising strictly from 1.

        .. versionadded:: 0.4
        """
        ranges = _buckets(buckets)
        query = self._staff_bookings(principal, "booking frequency reports", where)
        with self._ctx.uow_factory().read_only() as uow:
            rows = uow.bookings.count_customers_by_bookings(query, statuses=self._statuses.counted)
        customers = [0] * len(ranges)
        booked = [0] * len(ranges)
        for row in rows:
            index = max(i for i, (least, _) in enumerate(ranges) if least <= row.bookings)
            customers[index] += row.customers
            booked[index] += row.customers * row.bookings
        return [
            FrequencyLine(_bucket_label(least, most), least, most, customers[i], booked[i])
            for i, (least, most) in enumerate(ranges)
        ]

    def cohort_retention(
        self,
        *,
        principal: Principal,
        where: BookingFilter | None = None,
        months: int = 12,
    ) -> Sequence[CohortLine]:
        """Customers grouped by the month of their first booking, and how many of them
        booked in each of the ``months`` months after (retention analysis).

        Months are the business's calendar months (``Settings.timezone``), as the
        ``created_month`` grouping's. Bookings are those matching ``where`` that
        hold seats: with a period in ``where``, a customer's first booking is their
        first in it. The storage counts customers per (first month, month booked);
        the lines are the cohorts, oldest first.

        Raises:
            PermissionDeniedError: ``principal`` is not staff with ``view_all``.
            ValidationError: on ``months`` unless 0 to 120.

        .. versionadded:: 0.4
        """
        wrong = isinstance(months, bool) or not isinstance(months, int)
        if wrong or not 0 <= months <= _MAX_COHORT_MONTHS:
            msg = f"must be a whole number of months from 0 to {_MAX_COHORT_MONTHS}"
            raise ValidationError.single("months", msg, "out_of_range")
        query = self._staff_bookings(principal, "retention reports", where)
        with self._ctx.uow_factory().read_only() as uow:
            rows = uow.bookings.tally_cohorts(
                query, zone=self._ctx.settings.zone, statuses=self._statuses.counted
            )
        active: dict[date, list[int]] = {}
        for row in rows:
            offset = _months_after(row.cohort, row.month)
            if offset <= months:
                active.setdefault(row.cohort, [0] * (months + 1))[offset] += row.customers
        return [
            CohortLine(cohort, counts[0], tuple(counts))
            for cohort, counts in sorted(active.items())
        ]

    def source_conversion(
        self,
        *,
        principal: Principal,
        created_from: datetime | None = None,
        created_before: datetime | None = None,
    ) -> SourceConversion:
        """Leads and their conversion per lead source, bookings per booking source, and
        the customers who booked through more than one source (where channels overlap).

        Leads and bookings created in the period count, whatever their status (a
        cancelled booking was still made through its source). Each figure is a
        grouped query in the storage: leads per source and status, bookings per
        source, customers per source and then per pair of sources.

        Raises:
            PermissionDeniedError: ``principal`` is not staff with ``view_all``.
            ValidationError: on ``created_from`` or ``created_before`` when naive.

        .. versionadded:: 0.4
        """
        _require_staff(principal, "conversion reports", Permission.VIEW_ALL)
        start, end = _within(created_from, created_before)
        query = policy.scope_bookings(
            principal, BookingFilter(created_from=start, created_before=end, include_archived=True)
        )
        with self._ctx.uow_factory().read_only() as uow:
            leads = uow.leads.tally_by_source(start, end)
            counted = uow.bookings.count_in(
                query,
                Grouping.SOURCE,
                (self._statuses.cancelled,),
                zone=self._ctx.settings.zone,
            )
            overlap = uow.bookings.tally_source_overlap(query)
        per_source: dict[str, list[int]] = {}
        for row in leads:
            figures = per_source.setdefault(row.source, [0, 0, 0, 0])
            figures[0] += row.leads
            figures[1] += row.leads if row.status == LeadStatus.WON else 0
            figures[2] += row.leads if row.status == LeadStatus.LOST else 0
            figures[3] += row.leads if row.status in OPEN_LEAD_STATUSES else 0
        return SourceConversion(
            leads=tuple(
                LeadSourceLine(source, total, won, lost, open_, _rate(won, total))
                for source, (total, won, lost, open_) in sorted(per_source.items())
            ),
            bookings=tuple(
                sorted(
                    (
                        BookingSourceLine(str(row.key), row.bookings, row.counts[0])
                        for row in counted
                    ),
                    key=lambda line: line.source,
                )
            ),
            overlap_customers=overlap.customers,
            overlaps=tuple(
                SourceOverlapLine((first, second), customers)
                for first, second, customers in sorted(overlap.pairs)
            ),
        )

    def status_transitions(
        self,
        *,
        principal: Principal,
        occurred_from: datetime | None = None,
        occurred_before: datetime | None = None,
    ) -> Sequence[TransitionLine]:
        """Each move between two statuses made in the period, counted, with the time
        bookings had spent in the status they left (status transition
        analytics), from the bookings' history.

        A booking's creation is not a move. The time before a move runs from the
        booking's previous history event (its creation or its move into the status),
        which may be before the period. The storage numbers and groups the moves
        (window functions and ``GROUP BY`` in SQL); lines are sorted by lifecycle,
        from-status and to-status.

        Raises:
            PermissionDeniedError: ``principal`` is not staff with ``view_all``.
            ValidationError: on ``occurred_from`` or ``occurred_before`` when naive.

        .. versionadded:: 0.4
        """
        _require_staff(principal, "status transition reports", Permission.VIEW_ALL)
        start, end = _bounds(occurred_from, occurred_before, "occurred_from", "occurred_before")
        with self._ctx.uow_factory().read_only() as uow:
            rows = uow.lifecycle_events.tally_transitions(start, end)
        return sorted(
            (
                TransitionLine(
                    row.lifecycle,
                    row.from_status,
                    row.to_status,
                    row.durations.rows,
                    DurationSummary.of(row.durations),
                )
                for row in rows
            ),
            key=lambda line: (line.lifecycle, line.from_status, line.to_status),
        )

    def import_performance(
        self,
        *,
        principal: Principal,
        created_from: datetime | None = None,
        created_before: datetime | None = None,
        kind: ImportKind | str | None = ImportKind.BOOKINGS,
    ) -> ImportPerformance:
        """How long the import jobs created in the period took, per status, and their
        failed rows per error type across jobs (processing-time statistics
        and error-type distribution).

        A job's processing time runs from ``started_at`` to ``completed_at``; jobs
        that never started or have not finished are counted but not timed. An error
        type is the code of a failed row's first problem (``invalid_phone``,
        ``unknown_location``, ...). Both are grouped by the storage. ``kind`` picks
        the imports as :meth:`import_statistics` does: booking imports by default,
        ``None`` for every kind.

        Raises:
            PermissionDeniedError: ``principal`` is not staff who may import or view all.
            ValidationError: on ``created_from`` or ``created_before`` when naive, on
                ``kind`` when it names no import kind.

        .. versionadded:: 0.4
        """
        _require_staff(
            principal, "import statistics", Permission.IMPORT_BOOKINGS, Permission.VIEW_ALL
        )
        start, end = _within(created_from, created_before)
        which = None if kind is None else ImportKind.parse(kind)
        with self._ctx.uow_factory().read_only() as uow:
            timings = uow.imports.tally_timings(start, end, kind=which)
            errors = uow.import_errors.tally_by_type(start, end, kind=which)
        return ImportPerformance(
            timings=tuple(
                sorted(
                    (
                        ImportTimingLine(
                            row.status, row.durations.rows, DurationSummary.of(row.durations)
                        )
                        for row in timings
                    ),
                    key=lambda line: line.status,
                )
            ),
            errors=tuple(
                sorted(
                    (
                        ImportErrorLine(row.error_type, row.errors, row.jobs, row.unresolved)
                        for row in errors
                    ),
                    key=lambda line: (-line.errors, line.error_type),
                )
            ),
        )

    def communication_engagement(
        self,
        *,
        principal: Principal,
        sent_from: datetime | None = None,
        sent_before: datetime | None = None,
        by: str = "type",
    ) -> Sequence[EngagementLine]:
        """Messages that went out in the period per type (or channel), how many were
        delivered, opened, clicked or failed, and the open and click rates.

        A message goes out when it is sent (``sent_at``), or, refused outright by
        its channel, when it failed. Opens and clicks count by their timestamps
        (``opened_at``, ``clicked_at``), so a click reported without an open still
        counts as a click; an opened or clicked message counts as delivered. The
        storage counts per type and channel (``GROUP BY`` with ``FILTER`` in SQL);
        ``by`` is ``"type"``, ``"channel"`` or ``"type_and_channel"``. Lines are
        sorted by key (then channel).

        Raises:
            PermissionDeniedError: ``principal`` is not staff with ``view_all``.
            ValidationError: on ``sent_from`` or ``sent_before`` when naive, on
                ``by`` when not one of the groupings.

        .. versionadded:: 0.4
        """
        _require_staff(principal, "engagement reports", Permission.VIEW_ALL)
        if by not in _ENGAGEMENT_GROUPS:
            allowed = ", ".join(_ENGAGEMENT_GROUPS)
            raise ValidationError.single("by", f"is not one of {allowed}", "invalid_choice")
        start, end = _bounds(sent_from, sent_before, "sent_from", "sent_before")
        with self._ctx.uow_factory().read_only() as uow:
            rows = uow.communications.tally_engagement(start, end)
        groups: dict[tuple[str, str | None], list[int]] = {}
        for row in rows:
            if by == "type":
                group: tuple[str, str | None] = (row.type, None)
            elif by == "channel":
                group = (row.channel, None)
            else:
                group = (row.type, row.channel)
            figures = groups.setdefault(group, [0] * 5)
            for index, count in enumerate(
                (row.sent, row.delivered, row.opened, row.clicked, row.failed)
            ):
                figures[index] += count
        lines = []
        for (key, channel), (sent, delivered, opened, clicked, failed) in groups.items():
            lines.append(
                EngagementLine(
                    key,
                    channel,
                    sent,
                    delivered,
                    opened,
                    clicked,
                    failed,
                    open_rate=_rate(opened, delivered),
                    click_rate=_rate(clicked, delivered),
                )
            )
        return sorted(lines, key=lambda line: (line.key, line.channel or ""))


def _totals(
    lines: Sequence[ReconciliationLine], strays: Sequence[StrayPayment]
) -> tuple[CurrencyTotals, ...]:
    # Amounts of one currency are exact in its minor unit: their sums are too, so the
    # sums are added up as decimals and made Money once per currency.
    sums: dict[str, list[Decimal]] = {}
    for line in lines:
        currency = line.total.currency
        found = sums.get(currency)
        if found is None:
            found = sums[currency] = [_NO_AMOUNT] * 5
        found[0] += line.total.amount
        found[1] += line.captured.amount
        found[2] += line.refunded.amount
        found[3] += line.net_paid.amount
    for stray in strays:
        currency = stray.net_paid.currency
        found = sums.get(currency)
        if found is None:
            found = sums[currency] = [_NO_AMOUNT] * 5
        found[4] += stray.net_paid.amount
    return tuple(
        CurrencyTotals(currency, *(Money.summed(amount, currency) for amount in sums[currency]))
        for currency in sorted(sums)
    )


#: Nothing, to add amounts to.
_NO_AMOUNT = Decimal(0)


def _require_staff(principal: Principal, what: str, *permissions: Permission) -> None:
    """Refuse ``principal`` reading ``what`` unless it is staff holding one of ``permissions``.

    The refusal's message, which names the principal, is written only when it is
    raised: a report answered in a fraction of a millisecond should not spend a
    tenth of it on text nobody reads.
    """
    if principal.kind is not PrincipalKind.STAFF or not any(map(principal.has, permissions)):
        raise PermissionDeniedError(f"{principal} may not read {what}")


def _grouping(by: Grouping | str) -> Grouping:
    try:
        return Grouping(by)
    except ValueError:
        allowed = ", ".join(grouping.value for grouping in Grouping)
        raise ValidationError.single("by", f"is not one of {allowed}", "invalid_choice") from None


def _keyed_order(line: CancellationLine | UtilisationLine) -> tuple[int, Any]:
    """:func:`_order` of a line's key (one call a line where a lambda would make two)."""
    key = line.key
    if key is None:
        return (1, 0)
    return (0, key.int) if isinstance(key, UUID) else (0, key)


def _order(key: GroupKey) -> tuple[int, Any]:
    """Lines in a stable order: no key last, then by the key's text.

    The keys of one grouping are all ids, all dates or all strings, and each sorts
    as its text does (an id as its number, whose hex digits its text spells; a
    date as its ISO form), compared without writing it out.
    """
    if key is None:
        return (1, 0)
    return (0, key.int) if isinstance(key, UUID) else (0, key)


def _counting_archived(query: BookingFilter) -> BookingFilter:
    """``query`` with archived bookings counted: archiving never changes a report's figures.

    .. versionadded:: 0.4
    """
    return query if query.include_archived else attrs.evolve(query, include_archived=True)
