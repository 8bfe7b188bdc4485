"""What staff need to know about a customer at a glance (the customer history view).

:class:`CustomerStats` holds the figures the storage computes for one customer
(or any set of bookings): how many bookings, how many are still to come, how
many were cancelled or missed, the first and last booking dates, what they
spent and their lifetime value. Adapters compute it with aggregate queries
(:meth:`~bookingcore.ports.CustomerStatsRepository.summarise`); the reference
semantics are :func:`summarise_bookings`, which the memory adapter uses.

.. versionadded:: 0.3
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import attrs

from bookingcore.domain.audit import AuditAction, AuditEntry
from bookingcore.domain.bookings import Booking
from bookingcore.domain.payments import Payment
from bookingcore.domain.tallies import StatusSet
from bookingcore.domain.values import Actor, BookingId, Money

__all__ = ["BookingNote", "CustomerStats", "StatusGroups", "summarise_bookings"]


def _money_tuple(value: Iterable[Money]) -> tuple[Money, ...]:
    return tuple(sorted(value, key=lambda m: m.currency))


def _status_set(value: StatusSet | Iterable[str]) -> StatusSet:
    """``value`` as a :class:`StatusSet`: status names (in any lifecycle) as they are."""
    return value if isinstance(value, StatusSet) else StatusSet(value)


@attrs.frozen(kw_only=True)
class StatusGroups:
    """Which booking statuses count as cancelled, which as a no-show, and which as
    completed.

    Lifecycles are data: the service builds this from the configured lifecycles
    as the reports count statuses
    (:func:`~bookingcore.services.reports.status_groups`: a lifecycle's
    ``cancelled`` state, or a terminal one holding no seats such as travel's
    ``refunded``, is cancelled; ...) and hands it to the storage. Each group is a
    :class:`~bookingcore.domain.StatusSet` (status names, and ``(lifecycle,
    status)`` pairs for a status that counts differently in two lifecycles); a
    set of names is taken as the names. ``counted`` holds the statuses whose
    bookings add to the lifetime value: those that count towards revenue (a
    status holding seats, as :meth:`~bookingcore.services.ReportService.revenue`
    decides), so a travel booking ``refunded``, or still a quotation, adds
    nothing; ``None`` (the 0.3 rule) counts every status not ``cancelled``.

    .. versionadded:: 0.3
    .. versionchanged:: 0.4 ``completed`` and ``counted``.
    .. versionchanged:: 0.4
       ``cancelled``, ``no_show`` and ``completed`` are :class:`StatusSet` (names
       given as before are converted); test a booking with :meth:`is_cancelled`,
       :meth:`is_no_show`, :meth:`is_completed` and :meth:`has_ended`.
    """

    cancelled: StatusSet = attrs.field(factory=StatusSet, converter=_status_set)
    no_show: StatusSet = attrs.field(factory=StatusSet, converter=_status_set)
    completed: StatusSet = attrs.field(factory=StatusSet, converter=_status_set)
    counted: StatusSet | None = None

    def counts(self, lifecycle: str, status: str) -> bool:
        """Whether a booking of ``lifecycle`` in ``status`` adds to the lifetime value.

        .. versionadded:: 0.4
        """
        if self.counted is None:
            return not self.cancelled.holds(lifecycle, status)
        return self.counted.holds(lifecycle, status)

    def is_cancelled(self, lifecycle: str, status: str) -> bool:
        """Whether a booking of ``lifecycle`` in ``status`` is cancelled.

        .. versionadded:: 0.4
        """
        return self.cancelled.holds(lifecycle, status)

    def is_no_show(self, lifecycle: str, status: str) -> bool:
        """Whether a booking of ``lifecycle`` in ``status`` is a no-show.

        .. versionadded:: 0.4
        """
        return self.no_show.holds(lifecycle, status)

    def is_completed(self, lifecycle: str, status: str) -> bool:
        """Whether a booking of ``lifecycle`` in ``status`` is completed.

        .. versionadded:: 0.4
        """
        return self.completed.holds(lifecycle, status)

    def has_ended(self, lifecycle: str, status: str) -> bool:
        """Whether a booking of ``lifecycle`` in ``status`` will not take place
        (cancelled or a no-show).

        .. versionadded:: 0.4
        """
        return self.cancelled.holds(lifecycle, status) or self.no_show.holds(lifecycle, status)

    @property
    def ended(self) -> StatusSet:
        """The statuses of bookings that will not take place: cancelled or a no-show.

        .. versionchanged:: 0.4 a :class:`StatusSet`.
        """
        return StatusSet(
            self.cancelled.names | self.no_show.names, self.cancelled.pairs | self.no_show.pairs
        )


@attrs.frozen(kw_only=True)
class CustomerStats:
    """A customer's booking figures, computed by the storage.

    * ``total_bookings``: every booking, whatever its status;
    * ``upcoming_bookings``: those starting at or after ``now`` that are
      neither cancelled nor a no-show;
    * ``cancelled_bookings`` / ``no_show_bookings`` / ``completed_bookings``:
      by :class:`StatusGroups` (a booking counts as completed while it is in a
      completed state: a travel booking refunded after completion no longer does);
    * ``first_booking_at`` / ``last_booking_at``: when the oldest and newest
      booking was made (``None`` without bookings);
    * ``lifetime_value``: the totals of the bookings that count towards revenue
      (:attr:`StatusGroups.counted`), one :class:`Money` per currency;
    * ``total_spent``: the money actually kept from their payments (captured
      less refunded), one :class:`Money` per currency.

    Amount tuples are sorted by currency and leave out currencies with nothing.

    .. versionadded:: 0.3
    .. versionchanged:: 0.4 ``completed_bookings``; ``lifetime_value`` counts the
       bookings revenue counts (not a travel booking ``refunded``).
    """

    total_bookings: int = 0
    upcoming_bookings: int = 0
    cancelled_bookings: int = 0
    no_show_bookings: int = 0
    first_booking_at: datetime | None = None
    last_booking_at: datetime | None = None
    lifetime_value: tuple[Money, ...] = attrs.field(default=(), converter=_money_tuple)
    total_spent: tuple[Money, ...] = attrs.field(default=(), converter=_money_tuple)
    completed_bookings: int = 0

    def spent_in(self, currency: str) -> Money:
        """``total_spent`` in ``currency`` (zero when nothing was paid in it)."""
        return next((m for m in self.total_spent if m.currency == currency), Money.zero(currency))

    def value_in(self, currency: str) -> Money:
        """``lifetime_value`` in ``currency`` (zero when nothing was booked in it)."""
        found = (m for m in self.lifetime_value if m.currency == currency)
        return next(found, Money.zero(currency))


@attrs.frozen(kw_only=True)
class BookingNote:
    """One note of a booking's advisor log, with the booking's reference.

    Advisor notes are append-only audit entries of the booking
    (:attr:`~bookingcore.domain.audit.AuditAction.NOTE_ADDED`, the text under
    ``new_values["note"]``); :meth:`from_entry` reads one.

    .. versionadded:: 0.3
    """

    id: UUID
    booking_id: BookingId
    reference: str
    author: Actor
    written_at: datetime
    text: str

    @classmethod
    def from_entry(cls, entry: AuditEntry, reference: str) -> BookingNote:
        """The note ``entry`` records, on the booking called ``reference``.

        Raises:
            ValueError: ``entry`` is not an advisor note of a booking.
        """
        if entry.action is not AuditAction.NOTE_ADDED or entry.booking_id is None:
            msg = f"audit entry {entry.id} is not an advisor note of a booking"
            raise ValueError(msg)
        return cls(
            id=entry.id,
            booking_id=entry.booking_id,
            reference=reference,
            author=entry.actor,
            written_at=entry.occurred_at,
            text=str(entry.new_values.get("note", "")),
        )


def _sums(amounts: Mapping[str, Decimal]) -> list[Money]:
    return [Money.summed(amount, currency) for currency, amount in amounts.items() if amount]


def summarise_bookings(
    bookings: Iterable[Booking],
    payments: Iterable[Payment],
    *,
    now: datetime,
    statuses: StatusGroups,
) -> CustomerStats:
    """The reference computation of :class:`CustomerStats` over loaded records.

    ``payments`` should be those of ``bookings``; adapters compute the same
    figures in their storage.
    """
    total = upcoming = cancelled = no_show = completed = 0
    first: datetime | None = None
    last: datetime | None = None
    value: dict[str, Decimal] = {}
    for booking in bookings:
        total += 1
        lifecycle, status = booking.lifecycle, booking.status
        cancelled += statuses.is_cancelled(lifecycle, status)
        no_show += statuses.is_no_show(lifecycle, status)
        completed += statuses.is_completed(lifecycle, status)
        upcoming += booking.starts_at >= now and not statuses.has_ended(lifecycle, status)
        first = booking.created_at if first is None else min(first, booking.created_at)
        last = booking.created_at if last is None else max(last, booking.created_at)
        if statuses.counts(booking.lifecycle, booking.status):
            currency = booking.total.currency
            value[currency] = value.get(currency, Decimal(0)) + booking.total.amount
    spent: dict[str, Decimal] = {}
    for payment in payments:
        currency = payment.amount.currency
        net = payment.captured_amount.amount - payment.refunded_amount.amount
        spent[currency] = spent.get(currency, Decimal(0)) + net
    return CustomerStats(
        total_bookings=total,
        upcoming_bookings=upcoming,
        cancelled_bookings=cancelled,
        no_show_bookings=no_show,
        first_booking_at=first,
        last_booking_at=last,
        lifetime_value=_sums(value),
        total_spent=_sums(spent),
        completed_bookings=completed,
    )
