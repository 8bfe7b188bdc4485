"""Partner commissions: the ledger written with payments, and what each partner is owed.

The ledger is written by the payment and booking paths themselves, in the
transaction of the change that causes it (see :mod:`bookingcore.domain.commissions`
for the rules):

* a capture that pays a partner's booking accrues the partner's commission at
  its rate of that moment (:func:`accrue_on_capture`, called when the capture
  is invoiced);
* a settled refund reverses in proportion (:func:`reverse_on_refund`, called
  when the refund is credited);
* a settled refund the provider reports failed afterwards restores what it
  reversed (:func:`restore_on_refund_reversal`, called when its credit note is
  reversed), unless the booking is cancelled or ended ``refunded``;
* cancelling a booking reverses what is left of its commission
  (:func:`reverse_on_cancellation`, called by every status change to the
  lifecycle's cancelled state through :class:`~bookingcore.services.BookingService`);
* reactivating a cancelled booking (an appointment back to ``PENDING``) accrues
  its payments' commission again, up to what the business still keeps
  (:func:`accrue_on_reactivation`, called by the same status changes, and by
  an import row that moves the booking).

Each entry has a unique key, so duplicate webhook deliveries and retried
transactions never accrue or reverse twice. :class:`CommissionService`
(``core.commissions``) reads the ledger::

    report = core.commissions.report(start, end, principal=staff)
    for line in report.lines:
        print(line.partner_name, line.currency, line.accrued, line.reversed, line.net)
    page = core.commissions.entries(start, end, PageRequest(limit=50), principal=partner)

.. versionadded:: 0.2
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import attrs

from bookingcore.domain.audit import AuditAction
from bookingcore.domain.bookings import Booking
from bookingcore.domain.commissions import (
    CommissionEntry,
    CommissionEntryId,
    accrual_for,
    accruals_for_reactivation,
    restoration_for_reversed_refund,
    reversal_for_refund,
    reversals_for_cancellation,
)
from bookingcore.domain.lifecycle import LifecycleEvent
from bookingcore.domain.payments import Payment, Refund
from bookingcore.domain.policy import Permission, Principal, PrincipalKind, require
from bookingcore.domain.queries import Page, PageRequest
from bookingcore.domain.values import BookingId, Money, PartnerId, ensure_aware
from bookingcore.errors import NotFoundError, PermissionDeniedError, ValidationError
from bookingcore.services._context import ServiceContext, Transaction
from bookingcore.services._settlement import closed_to_payment

__all__ = [
    "CommissionReport",
    "CommissionReportLine",
    "CommissionService",
    "accrue_on_capture",
    "accrue_on_reactivation",
    "restore_on_refund_reversal",
    "reverse_on_cancellation",
    "reverse_on_refund",
]

_LEDGER = Principal.system("commissions")


# --------------------------------------------------------------------------- writing


def _audit(tx: Transaction, entry: CommissionEntry) -> None:
    tx.audit(
        _LEDGER,
        entity="commission",
        entity_id=entry.id,
        action=AuditAction.CREATED,
        new={
            "kind": entry.kind.value,
            "partner_id": str(entry.partner_id),
            "payment_id": str(entry.payment_id),
            "rate": str(entry.rate),
            "amount": f"{entry.amount}",
        },
        reason=entry.reason,
        booking_id=entry.booking_id,
    )


def _locked_ledger(tx: Transaction, booking_id: BookingId) -> Sequence[CommissionEntry]:
    """The booking's ledger, read under the booking's row lock.

    Captures, refunds and the cancellation of one booking each work out their
    entry from what is on its ledger; the lock makes them take turns, so two
    at once cannot both count what neither has written yet.
    """
    tx.uow.bookings.get_for_update(booking_id)
    return tx.uow.commissions.list_for_booking(booking_id)


def _is_cancelled(context: ServiceContext, booking: Booking) -> bool:
    lifecycle = context.settings.lifecycle(booking.lifecycle)
    return lifecycle.cancelled is not None and booking.status == lifecycle.cancelled


def accrue_on_capture(
    context: ServiceContext, tx: Transaction, booking: Booking, payment: Payment
) -> CommissionEntry | None:
    """Accrue the commission ``payment``'s capture earns the partner of ``booking``, once.

    Call it in the transaction that records the capture. Nothing is accrued
    for a booking without a partner, a partner without a rate, a booking closed
    to payment (cancelled, or ended ``refunded``: a late payment), or a payment
    that accrued before.

    .. versionadded:: 0.2
    """
    lifecycle = context.settings.lifecycle(booking.lifecycle)
    if booking.partner_id is None or closed_to_payment(lifecycle, booking.status):
        return None
    partner = tx.uow.partners.get(booking.partner_id)
    if partner is None or not partner.commission_rate:
        return None
    entry = accrual_for(
        _locked_ledger(tx, booking.id),
        entry_id=CommissionEntryId(context.ids.new_id()),
        partner_id=partner.id,
        booking_id=booking.id,
        booking_total=booking.total,
        payment_id=payment.id,
        captured=payment.captured_amount,
        rate=partner.commission_rate,
        now=context.now(),
    )
    if entry is not None:
        tx.uow.commissions.add(entry)
        _audit(tx, entry)
    return entry


def reverse_on_refund(
    context: ServiceContext, tx: Transaction, payment: Payment, refund: Refund
) -> CommissionEntry | None:
    """Reverse the part of ``payment``'s commission that the settled ``refund`` gave back, once.

    Call it in the transaction that settles the refund, after
    :meth:`~bookingcore.domain.Payment.settle_refund`.

    .. versionadded:: 0.2
    """
    if not any(
        e.payment_id == payment.id for e in tx.uow.commissions.list_for_booking(payment.booking_id)
    ):
        return None  # nothing accrued: no lock needed
    entry = reversal_for_refund(
        _locked_ledger(tx, payment.booking_id),
        entry_id=CommissionEntryId(context.ids.new_id()),
        payment_id=payment.id,
        refund_id=refund.id,
        refund_amount=refund.amount,
        captured=payment.captured_amount,
        refunded=payment.refunded_amount,
        now=context.now(),
        reason=f"refund {refund.id}",
    )
    if entry is not None:
        tx.uow.commissions.add(entry)
        _audit(tx, entry)
    return entry


def restore_on_refund_reversal(
    context: ServiceContext, tx: Transaction, payment: Payment, refund: Refund
) -> CommissionEntry | None:
    """Restore the commission the settled ``refund`` of ``payment`` reversed, once the
    provider reported the refund failed (the money is the business's again).

    Call it in the transaction that reverses the refund, after
    :meth:`~bookingcore.domain.Payment.reverse_refund`. Nothing is restored when
    the refund reversed nothing, the booking's cancellation reversed the
    payment's commission since (and no reactivation gave it back), or the booking
    is closed to payment (cancelled, or ended ``refunded``: as a late payment
    accrues nothing).

    .. versionadded:: 0.4
    """
    if not any(
        e.refund_id == refund.id for e in tx.uow.commissions.list_for_booking(payment.booking_id)
    ):
        return None  # the refund reversed nothing: no lock needed
    ledger = _locked_ledger(tx, payment.booking_id)
    booking = tx.uow.bookings.get(payment.booking_id)
    if booking is None or closed_to_payment(
        context.settings.lifecycle(booking.lifecycle), booking.status
    ):
        return None
    entry = restoration_for_reversed_refund(
        ledger,
        entry_id=CommissionEntryId(context.ids.new_id()),
        payment_id=payment.id,
        refund_id=refund.id,
        captured=payment.captured_amount,
        refunded=payment.refunded_amount,
        now=context.now(),
        reason=f"refund {refund.id} failed after it settled",
    )
    if entry is not None:
        tx.uow.commissions.add(entry)
        _audit(tx, entry)
    return entry


def reverse_on_cancellation(
    context: ServiceContext, tx: Transaction, booking: Booking, change_id: UUID
) -> Sequence[CommissionEntry]:
    """Reverse what is left of the commission of ``booking``, once it is cancelled.

    ``change_id`` is the id of the status change that cancelled it. Does
    nothing unless the booking is in its lifecycle's cancelled state.

    .. versionadded:: 0.2
    """
    if booking.partner_id is None or not _is_cancelled(context, booking):
        return ()
    entries = reversals_for_cancellation(
        tx.uow.commissions.list_for_booking(booking.id),
        new_id=context.ids.new_id,
        change_id=change_id,
        now=context.now(),
        reason=f"booking {booking.reference} cancelled",
    )
    for entry in entries:
        tx.uow.commissions.add(entry)
        _audit(tx, entry)
    return entries


def accrue_on_reactivation(
    context: ServiceContext, tx: Transaction, booking: Booking, change: LifecycleEvent
) -> Sequence[CommissionEntry]:
    """Accrue again the commission of ``booking``'s payments once ``change`` reactivated
    it (moved it from its lifecycle's cancelled state to an active one).

    Each payment that accrued earns again, at its accrual's rate, up to its
    share of what the business keeps of it now; ``change``'s id keys the
    entries, so a retry of that change accrues nothing twice, and a later
    cancellation reverses them as any accrual. Does nothing for any other move,
    or for a booking without a partner.

    .. versionadded:: 0.4
    """
    lifecycle = context.settings.lifecycle(booking.lifecycle)
    if (
        booking.partner_id is None
        or lifecycle.cancelled is None
        or change.from_status != lifecycle.cancelled
        or not lifecycle.is_active(change.to_status)
    ):
        return ()
    ledger = tx.uow.commissions.list_for_booking(booking.id)
    if not ledger:
        return ()
    payments = tx.uow.payments.list_for_booking(booking.id)
    entries = accruals_for_reactivation(
        ledger,
        new_id=context.ids.new_id,
        change_id=change.id,
        kept={p.id: (p.captured_amount, p.refunded_amount) for p in payments},
        now=context.now(),
        reason=f"booking {booking.reference} reactivated",
    )
    for entry in entries:
        tx.uow.commissions.add(entry)
        _audit(tx, entry)
    return entries


# --------------------------------------------------------------------------- reading


@attrs.frozen
class CommissionReportLine:
    """What one partner is owed in one currency for the report's period.

    ``accrued`` and ``reversed`` are positive sums of the ledger entries
    recorded in the period; ``net`` is ``accrued - reversed`` (negative when
    more was clawed back than earned).

    .. versionadded:: 0.2
    """

    partner_id: PartnerId
    partner_name: str
    currency: str
    accrued: Money
    reversed: Money
    net: Money
    entries: int


@attrs.frozen
class CommissionReport:
    """Partners' commissions recorded in ``[start, end)``, one line per partner and currency.

    Lines are sorted by partner name, then currency.

    .. versionadded:: 0.2
    """

    start: datetime
    end: datetime
    lines: tuple[CommissionReportLine, ...]

    def for_partner(self, partner_id: PartnerId) -> tuple[CommissionReportLine, ...]:
        """The lines of one partner (one per currency it earned in)."""
        return tuple(line for line in self.lines if line.partner_id == partner_id)


class CommissionService:
    """Reads partners' commission ledger: per-period reports and a booking's entries.

    Who may read: staff with ``view_all`` (and the system) see every partner;
    a partner sees only its own commissions; customers, advisors, suppliers
    and webhooks none.

    .. versionadded:: 0.2
    """

    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    @staticmethod
    def _scope(principal: Principal, partner_id: PartnerId | None) -> PartnerId | None:
        """The partner a report is limited to, after the policy had its say."""
        if principal.kind is PrincipalKind.PARTNER:
            if partner_id is not None and not principal.is_partner(partner_id):
                raise NotFoundError("partner", partner_id)  # another's: not found, as elsewhere
            own = principal.id
            if own is None:
                raise PermissionDeniedError(f"{principal} names no partner")
            return PartnerId(own)
        staff = principal.kind is PrincipalKind.STAFF and principal.has(Permission.VIEW_ALL)
        require(
            staff or principal.kind is PrincipalKind.SYSTEM,
            f"{principal} may not read partner commissions",
        )
        return partner_id

    def report(
        self,
        start: datetime,
        end: datetime,
        *,
        principal: Principal,
        partner_id: PartnerId | None = None,
    ) -> CommissionReport:
        """What each partner is owed for the ledger entries recorded in ``[start, end)``.

        The storage sums the entries (one grouped query,
        :meth:`~bookingcore.ports.CommissionLedgerRepository.totals`); the
        report is a line per partner and currency, whatever the number of entries.

        ``partner_id`` limits the report to one partner; a partner's report
        is always limited to itself.

        Raises:
            PermissionDeniedError: ``principal`` is neither staff with
                ``view_all``, the system, nor a partner.
            NotFoundError: a partner asked for another partner's commissions.
            ValidationError: on ``start`` or ``end`` when naive, or on ``end``
                when it is not after ``start``.
        """
        wanted = self._scope(principal, partner_id)
        start, end = self._period(start, end)
        with self._ctx.uow_factory() as uow:
            summaries = uow.commissions.totals(start, end, wanted)
            partners = uow.partners.get_many({s.partner_id for s in summaries})
        names = {ident: partner.name for ident, partner in partners.items()}
        lines = [
            CommissionReportLine(
                partner_id=s.partner_id,
                partner_name=names.get(s.partner_id, str(s.partner_id)),
                currency=s.currency,
                accrued=s.accrued,
                reversed=s.reversed,
                net=s.net,
                entries=s.entries,
            )
            for s in summaries
        ]
        # Partners of one name keep the order of their ids, as before.
        lines.sort(
            key=lambda line: (line.partner_name.casefold(), line.currency, str(line.partner_id))
        )
        return CommissionReport(start=start, end=end, lines=tuple(lines))

    def entries(
        self,
        start: datetime,
        end: datetime,
        page: PageRequest | None = None,
        *,
        principal: Principal,
        partner_id: PartnerId | None = None,
    ) -> Page[CommissionEntry]:
        """The ledger entries recorded in ``[start, end)``, newest first, a page at a
        time (pass the page's ``next_cursor`` for older ones): what :meth:`report`
        sums, entry by entry.

        ``partner_id`` limits them to one partner; a partner's are always its own.

        Raises:
            PermissionDeniedError: as :meth:`report`.
            NotFoundError: a partner asked for another partner's entries.
            ValidationError: as :meth:`report`, or on ``limit`` or ``cursor`` for a
                bad page.

        .. versionadded:: 0.3
        """
        wanted = self._scope(principal, partner_id)
        start, end = self._period(start, end)
        with self._ctx.uow_factory() as uow:
            return uow.commissions.page_recorded(start, end, wanted, page or PageRequest())

    @staticmethod
    def _period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
        start = ensure_aware(start, "start")
        end = ensure_aware(end, "end")
        if end <= start:
            raise ValidationError.single("end", "must be after start", "invalid_range")
        return start, end

    def for_booking(
        self, booking_id: BookingId, *, principal: Principal
    ) -> Sequence[CommissionEntry]:
        """A booking's ledger entries, oldest first, whole (a booking has a handful).

        Raises:
            PermissionDeniedError: as :meth:`report`.
            NotFoundError: no such booking, or a partner asked about a booking
                of another partner or of no partner.
        """
        self._scope(principal, None)
        with self._ctx.uow_factory() as uow:
            booking = uow.bookings.get(booking_id)
            if booking is None or (
                principal.kind is PrincipalKind.PARTNER
                # is_partner(None) is any partner: a booking of no partner is nobody's.
                and (booking.partner_id is None or not principal.is_partner(booking.partner_id))
            ):
                raise NotFoundError("booking", booking_id)
            return uow.commissions.list_for_booking(booking_id)
