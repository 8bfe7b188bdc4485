"""Reports for staff: bookings reconciled against the money taken for them (seeds 003, 001).

::

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
from collections.abc import Iterator, Sequence
from datetime import datetime

import attrs

from bookingcore.domain import policy
from bookingcore.domain.bookings import Booking
from bookingcore.domain.payments import Payment
from bookingcore.domain.policy import Permission, Principal, PrincipalKind
from bookingcore.domain.queries import BookingFilter, PageRequest
from bookingcore.domain.values import BookingId, CustomerId, Money, PaymentId, ensure_aware
from bookingcore.errors import ValidationError
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import ServiceContext

__all__ = [
    "CurrencyTotals",
    "ReconciliationLine",
    "ReconciliationReport",
    "ReconciliationState",
    "ReportService",
    "StrayPayment",
    "StrayReason",
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


def _state(total: Money, captured: Money, net: Money) -> ReconciliationState:
    if not captured.amount:
        return ReconciliationState.PAID if not total.amount else ReconciliationState.UNPAID
    if not net.amount:
        return ReconciliationState.REFUNDED
    if net < total:
        return ReconciliationState.PART_PAID
    if net > total:
        return ReconciliationState.OVER_PAID
    return ReconciliationState.PAID


def _stray(payment: Payment, reason: StrayReason) -> StrayPayment:
    return StrayPayment(
        payment_id=payment.id,
        booking_id=payment.booking_id,
        provider=payment.provider,
        provider_reference=payment.provider_reference,
        captured=payment.captured_amount,
        refunded=payment.refunded_amount,
        net_paid=payment.net_amount,
        reason=reason,
    )


class ReportService:
    """Reports over bookings and payments, for staff who may see every booking.

    Args:
        context: the core's service context.
        page_size: how many bookings each read of the bookings repository
            fetches (keyset pages), 1-500.

    .. versionadded:: 0.2
    """

    def __init__(self, context: ServiceContext, *, page_size: int = 200) -> None:
        PageRequest(limit=page_size)  # refuses a size out of range, naming ``limit``
        self._ctx = context
        self._page_size = page_size

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
        booking's are listed as ``no_booking_in_period`` too. Only reads.

        Raises:
            PermissionDeniedError: ``principal`` is not staff with ``view_all``.
            ValidationError: on ``start`` or ``end`` when naive, or on ``end``
                when it is not after ``start``.
        """
        policy.require(
            principal.kind is PrincipalKind.STAFF and principal.has(Permission.VIEW_ALL),
            f"{principal} may not read reconciliation reports",
        )
        start = ensure_aware(start, "start")
        end = ensure_aware(end, "end")
        if end <= start:
            raise ValidationError.single("end", "must be after start", "invalid_range")
        lines: list[ReconciliationLine] = []
        strays: list[StrayPayment] = []
        with self._ctx.uow_factory() as uow:
            bookings = sorted(self._bookings(uow, start, end), key=lambda b: (b.created_at, b.id))
            in_period = {booking.id for booking in bookings}
            customers: dict[CustomerId, None] = {}
            for booking in bookings:
                customers.setdefault(booking.customer_id)
                payments = uow.payments.list_for_booking(booking.id)
                if self._is_cancelled(booking):
                    strays.extend(
                        _stray(p, StrayReason.PAID_FOR_CANCELLED)
                        for p in payments
                        if p.captured_amount.amount
                    )
                    continue
                lines.append(self._line(booking, payments))
                strays.extend(
                    _stray(p, StrayReason.NO_BOOKING_IN_PERIOD)
                    for p in payments
                    if p.currency != booking.currency and p.captured_amount.amount
                )
            for customer_id in customers:
                for payment in uow.payments.list_for_customer(customer_id):
                    if (
                        payment.booking_id not in in_period
                        and start <= payment.created_at < end
                        and payment.captured_amount.amount
                    ):
                        strays.append(_stray(payment, StrayReason.NO_BOOKING_IN_PERIOD))
        return ReconciliationReport(
            start=start,
            end=end,
            bookings=tuple(lines),
            stray_payments=tuple(strays),
            totals=_totals(lines, strays),
        )

    def _bookings(self, uow: UnitOfWork, start: datetime, end: datetime) -> Iterator[Booking]:
        query = BookingFilter(created_from=start, created_before=end)
        cursor: str | None = None
        while True:
            page = uow.bookings.list(query, PageRequest(limit=self._page_size, cursor=cursor))
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def _is_cancelled(self, booking: Booking) -> bool:
        lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
        return lifecycle.cancelled is not None and booking.status == lifecycle.cancelled

    @staticmethod
    def _line(booking: Booking, payments: Sequence[Payment]) -> ReconciliationLine:
        captured = refunded = Money.zero(booking.currency)
        counted: list[PaymentId] = []
        for payment in payments:
            if payment.currency != booking.currency:
                continue
            captured += payment.captured_amount
            refunded += payment.refunded_amount
            counted.append(payment.id)
        net = captured - refunded
        return ReconciliationLine(
            booking_id=booking.id,
            reference=booking.reference,
            status=booking.status,
            total=booking.total,
            captured=captured,
            refunded=refunded,
            net_paid=net,
            state=_state(booking.total, captured, net),
            payment_ids=tuple(counted),
        )


def _totals(
    lines: Sequence[ReconciliationLine], strays: Sequence[StrayPayment]
) -> tuple[CurrencyTotals, ...]:
    sums: dict[str, CurrencyTotals] = {}
    for line in lines:
        now = sums.get(line.total.currency) or CurrencyTotals.zero(line.total.currency)
        sums[now.currency] = attrs.evolve(
            now,
            total=now.total + line.total,
            captured=now.captured + line.captured,
            refunded=now.refunded + line.refunded,
            net_paid=now.net_paid + line.net_paid,
        )
    for stray in strays:
        now = sums.get(stray.net_paid.currency) or CurrencyTotals.zero(stray.net_paid.currency)
        sums[now.currency] = attrs.evolve(now, stray_net_paid=now.stray_net_paid + stray.net_paid)
    return tuple(sums[currency] for currency in sorted(sums))
