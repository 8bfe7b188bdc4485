"""What a booking's payments say about where it is: the one rule for every path.

A booking's *paid* amount is what its payments in its currency captured, less
what was refunded. Its *balance due* is its total less that, never below zero,
and nothing at all once the booking is closed to payment (cancelled, or ended
without holding seats: the travel lifecycle's ``refunded``).

:func:`advance_if_paid` moves an open booking on when money came in: a travel
booking still at ``booking_created`` waits for the rest of its payment
(``payment_pending``) as soon as anything was taken, and any booking whose
paid amount covers its total moves to its lifecycle's paid state
(``payment_confirmed``, or ``confirmed`` for the others), then on to
``supplier_confirmed`` when every supplier confirmed first. A captured payment
calls it, and so does a cancelled item that lowers the total below what was
paid, so the order in which money, answers and changes arrive does not matter.

:func:`close_if_refunded` ends a booking whose money all went back: when a
refund settles and the booking's payments captured something but keep
nothing, a booking whose lifecycle allows it moves to ``refunded`` (its seats,
if it held any, go to the waiting list).

Neither moves an archived booking: the money is recorded on its payments as
always (a webhook never fails on it), and the booking stays where it is until
staff unarchive it. These are the only moves into a lifecycle's ``money_states``; every other
path refuses them (:meth:`~bookingcore.domain.Lifecycle.check_by_hand`).

.. versionadded:: 0.3
"""

from __future__ import annotations

from collections.abc import Mapping

from bookingcore.domain.bookings import Booking
from bookingcore.domain.lifecycle import Lifecycle
from bookingcore.domain.policy import Principal
from bookingcore.domain.values import Money
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import ServiceContext, Transaction
from bookingcore.services._seat_offers import (
    end_entry_for_booking,
    offer_free_seats,
    seats_held_for,
)
from bookingcore.services._suppliers import advance_if_suppliers_confirmed

#: The states a fully paid booking moves to, in the order they are tried.
PAID_STATES = ("payment_confirmed", "confirmed")

#: The state a booking that took part of its money waits in, when its lifecycle has it.
AWAITING_PAYMENT = "payment_pending"

#: The state a booking whose money all went back ends in, when its lifecycle has it.
REFUNDED = "refunded"


def paid_for(uow: UnitOfWork, booking: Booking) -> Money:
    """What ``booking``'s payments in its currency captured, less what was refunded."""
    paid = Money.zero(booking.currency)
    for payment in uow.payments.list_for_booking(booking.id):
        if payment.currency == booking.currency:
            paid += payment.net_amount
    return paid


def closed_to_payment(lifecycle: Lifecycle, status: str) -> bool:
    """True when a booking at ``status`` asks for no more money: it is cancelled, or it
    ended without holding seats (``refunded``). Completed reservations still may be paid."""
    if lifecycle.cancelled is not None and status == lifecycle.cancelled:
        return True
    return lifecycle.is_terminal(status) and not lifecycle.holds_capacity(status)


def balance_due(lifecycle: Lifecycle, booking: Booking, paid: Money) -> Money:
    """What is left to pay on ``booking`` that paid ``paid``: zero once it is closed to payment."""
    due = booking.total - paid
    if due.is_negative() or closed_to_payment(lifecycle, booking.status):
        return Money.zero(booking.currency)
    return due


def paid_state(lifecycle: Lifecycle, status: str) -> str | None:
    """The state a fully paid booking moves to from ``status``, if its lifecycle has one."""
    for state in PAID_STATES:
        if lifecycle.allows(status, state):
            return state
    return None


def advance_if_paid(
    context: ServiceContext,
    tx: Transaction,
    booking: Booking,
    *,
    paid: Money,
    principal: Principal,
    note: str,
    metadata: Mapping[str, str] | None = None,
) -> bool:
    """Move the locked, open ``booking`` along as its ``paid`` amount says; True if it moved.

    Nothing happens while nothing was paid, or once the booking is closed to
    payment; a move that would take seats its slot no longer has is left out (the
    money stays recorded, the booking where it is). ``metadata`` goes on the move
    to the paid state (a payment's id); the caller holds the booking's lock and commits.
    """
    lifecycle = context.settings.lifecycle(booking.lifecycle)
    if booking.archived_at is not None:
        return False  # money is recorded; the archived booking moves once unarchived
    if paid.amount <= 0 or closed_to_payment(lifecycle, booking.status):
        return False
    moved = False
    if lifecycle.allows(booking.status, AWAITING_PAYMENT) and _fits(
        context, tx, booking, AWAITING_PAYMENT, lifecycle
    ):
        waiting = AWAITING_PAYMENT
        _move(context, tx, booking, waiting, lifecycle=lifecycle, principal=principal, note=note)
        moved = True
    target = paid_state(lifecycle, booking.status)
    if paid < booking.total or target is None or not _fits(context, tx, booking, target, lifecycle):
        return moved
    _move(
        context,
        tx,
        booking,
        target,
        lifecycle=lifecycle,
        principal=principal,
        note=note,
        metadata=metadata,
    )
    # Every supplier had confirmed before the money: on to supplier_confirmed.
    advance_if_suppliers_confirmed(context, tx, booking)
    return True


def _fits(
    context: ServiceContext, tx: Transaction, booking: Booking, target: str, lifecycle: Lifecycle
) -> bool:
    """True unless the move to ``target`` takes seats the booking's slot no longer has.

    Money is recorded whatever the slot says: a lifecycle whose paid state takes seats
    (a request confirmed by its payment) leaves a booking on a full slot where it is,
    for staff to settle, rather than refuse the payment (and a provider's webhook).
    Seats an offer holds on the slot for the booking's customer count as theirs: the
    move takes them (see :func:`_move`), as booking directly does.
    """
    seats = booking.seats_to_move(target, lifecycle)
    if seats <= 0:
        return True
    slot = tx.uow.slots.get_for_update(booking.slot_id)
    if slot is None:
        return False
    held = seats_held_for(tx, slot, booking.customer_id, context.now())
    return slot.has_room_for(seats - held)


def close_if_refunded(
    context: ServiceContext,
    tx: Transaction,
    booking: Booking,
    *,
    principal: Principal,
    note: str,
) -> bool:
    """Move the locked ``booking`` to ``refunded`` when its money all went back; True if moved.

    Its payments in its currency must have captured something and keep
    nothing (every capture refunded and settled), and its lifecycle must
    allow the move from where it is. The caller holds the booking's lock and commits.
    """
    lifecycle = context.settings.lifecycle(booking.lifecycle)
    if booking.archived_at is not None or not lifecycle.allows(booking.status, REFUNDED):
        return False
    payments = [
        p for p in tx.uow.payments.list_for_booking(booking.id) if p.currency == booking.currency
    ]
    if not any(p.is_captured for p in payments) or paid_for(tx.uow, booking).amount > 0:
        return False
    _move(context, tx, booking, REFUNDED, lifecycle=lifecycle, principal=principal, note=note)
    return True


def _move(
    context: ServiceContext,
    tx: Transaction,
    booking: Booking,
    target: str,
    *,
    lifecycle: Lifecycle,
    principal: Principal,
    note: str,
    metadata: Mapping[str, str] | None = None,
) -> None:
    slot = None
    freed = booking.seats_to_move(target, lifecycle) < 0
    released = False
    if booking.seats_to_move(target, lifecycle):
        slot = tx.uow.slots.get_for_update(booking.slot_id)
    if slot is not None and not freed:
        # A move that takes seats ends the customer's entry on the slot's waiting list
        # (its offer's seats are the booking's), as booking directly does.
        released = end_entry_for_booking(
            context,
            tx,
            slot,
            booking.customer_id,
            booking_id=booking.id,
            principal=principal,
            reason=f"booking {booking.reference} took its seats ({target})",
            now=context.now(),
        )
    raised = booking.move(
        target,
        lifecycle=lifecycle,
        author=context.author(principal),
        slot=slot,
        note=note,
        metadata=metadata or {},
    )
    tx.record(raised)
    if (freed or released) and slot is not None:
        offer_free_seats(context, tx, slot, now=context.now())
