"""Archiving: which ended bookings may leave the operational lists.

A booking is *archived* (``Booking.archived_at`` set) once it ended long ago:
its status is final in its lifecycle (:func:`final_states`), its slot ended
before a cutoff, and nothing about it is still open (:func:`why_kept`). An
archived booking keeps every field, its history, payments and audit trail: it
is only left out of the staff lists, searches and dashboard unless asked for
(``BookingFilter(include_archived=True)``), and nothing moves it until staff
unarchive it. Reports, a customer's own history and privacy exports count it
as before.

.. versionadded:: 0.4
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime

from bookingcore.domain.bookings import Booking
from bookingcore.domain.lifecycle import Lifecycle
from bookingcore.domain.payments import Payment, PaymentStatus, Refund, RefundStatus
from bookingcore.domain.slots import Slot
from bookingcore.domain.tallies import StatusSet
from bookingcore.domain.values import Money, PaymentId
from bookingcore.domain.waitlist import WaitlistEntry, WaitlistStatus

__all__ = ["KeptReason", "archivable_statuses", "final_states", "slot_ended_at", "why_kept"]


class KeptReason(enum.StrEnum):
    """Why a booking past the cutoff stays live (what :func:`why_kept` answers).

    .. versionadded:: 0.4
    """

    #: Its status may still move by hand (not final in its lifecycle).
    NOT_FINAL = "not_final"
    #: Its slot ended after the cutoff (or has not ended).
    RECENT = "recent"
    #: Something is left to pay on it.
    OPEN_BALANCE = "open_balance"
    #: A payment of it is still in flight, or flagged for staff.
    OPEN_PAYMENT = "open_payment"
    #: A refund of it is pending or unreconciled.
    UNSETTLED_REFUND = "unsettled_refund"
    #: A waiting-list offer on its slot is still open.
    OPEN_OFFER = "open_offer"


#: Payment statuses whose money is still on its way.
_IN_FLIGHT = frozenset(
    {PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION, PaymentStatus.AUTHORIZED}
)
#: Refund statuses that are not settled one way or the other.
_UNSETTLED = frozenset({RefundStatus.PENDING, RefundStatus.UNRECONCILED})


def final_states(lifecycle: Lifecycle) -> frozenset[str]:
    """The states of ``lifecycle`` a booking has ended in, for archiving.

    A state is final when the booking is over and no hand may move it on: a
    terminal state, the cancelled state, or a state whose only moves follow
    from money (the travel lifecycle's ``completed -> refunded``, which
    :func:`why_kept` covers by refusing any booking with money still open).
    For the presets: ``completed``, ``cancelled`` and ``no_show`` of
    *reservation*; ``COMPLETED`` and ``CANCELLED`` of *appointment* (a no-show
    may still be rescheduled); ``completed``, ``cancelled`` and ``refunded`` of
    *travel*. A cancelled appointment that is archived is reactivated only after
    staff unarchive it.
    """
    found = set(lifecycle.terminal)
    if lifecycle.cancelled is not None:
        found.add(lifecycle.cancelled)
    for state in lifecycle.states:
        if state not in lifecycle.starts and lifecycle.targets(state) <= lifecycle.money_states:
            found.add(state)
    return frozenset(found)


def archivable_statuses(lifecycles: Iterable[Lifecycle]) -> StatusSet:
    """The final states of every lifecycle, as ``(lifecycle, status)`` pairs: what a
    store selects archiving candidates with."""
    return StatusSet(pairs={(lc.name, state) for lc in lifecycles for state in final_states(lc)})


def slot_ended_at(slot: Slot) -> datetime:
    """When ``slot`` ended: its ``ends_at``, or its start when it has no end."""
    return slot.ends_at or slot.starts_at


def why_kept(
    booking: Booking,
    *,
    lifecycle: Lifecycle,
    slot: Slot,
    ended_before: datetime,
    balance_due: Money,
    payments: Iterable[Payment] = (),
    refunds: Mapping[PaymentId, Iterable[Refund]] | None = None,
    offers: Iterable[WaitlistEntry] = (),
) -> KeptReason | None:
    """Why ``booking`` may not be archived with cutoff ``ended_before``, or ``None``
    when it may.

    Args:
        balance_due: what is left to pay on it (zero once it is closed to payment).
        payments: its payments.
        refunds: the refunds of each payment, by payment id.
        offers: the waiting-list entries of its slot.
    """
    if booking.status not in final_states(lifecycle):
        return KeptReason.NOT_FINAL
    if slot_ended_at(slot) >= ended_before:
        return KeptReason.RECENT
    if balance_due.amount > 0:
        return KeptReason.OPEN_BALANCE
    every_payment = list(payments)
    if any(p.status in _IN_FLIGHT or p.needs_attention() for p in every_payment):
        return KeptReason.OPEN_PAYMENT
    if any(p.pending_refund_amount.amount > 0 for p in every_payment):
        return KeptReason.UNSETTLED_REFUND
    for payment in every_payment:
        if any(r.status in _UNSETTLED for r in (refunds or {}).get(payment.id, ())):
            return KeptReason.UNSETTLED_REFUND
    if any(entry.status is WaitlistStatus.OFFERED for entry in offers):
        return KeptReason.OPEN_OFFER
    return None
