"""A paid booking whose suppliers all confirmed moves on to ``supplier_confirmed``.

The booking paths that move a booking (:meth:`BookingService.transition` and
``advance_in``, a captured payment) call :func:`advance_if_suppliers_confirmed`
after their own move, in the same transaction, so the order of the payment
and the suppliers' answers does not matter: whichever comes last moves the
booking on (a supplier's last confirmation does it in
:meth:`BookingItemService.confirm`).

.. versionadded:: 0.3
"""

from __future__ import annotations

from bookingcore.domain.bookings import Booking
from bookingcore.domain.policy import Principal
from bookingcore.errors import ValidationError
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import ServiceContext, Transaction
from bookingcore.services._seat_offers import end_entry_for_booking, offer_free_seats

#: The state a booking reaches only when every line item's supplier confirmed it.
SUPPLIER_CONFIRMED = "supplier_confirmed"


def advance_if_suppliers_confirmed(
    context: ServiceContext, tx: Transaction, booking: Booking
) -> bool:
    """Move ``booking`` on to ``supplier_confirmed`` when it may go there and every
    live item is confirmed; a booking without live items is left alone.

    The move goes through :meth:`~bookingcore.domain.Booking.move` (history,
    audit entry and event, by the ``suppliers`` system principal); the caller
    holds the booking's lock and commits. Returns whether it moved.
    """
    if booking.status == SUPPLIER_CONFIRMED:
        return False
    lifecycle = context.settings.lifecycle(booking.lifecycle)
    if not lifecycle.allows(booking.status, SUPPLIER_CONFIRMED):
        return False
    live = [i for i in tx.uow.booking_items.list_for_booking(booking.id) if not i.is_cancelled]
    if not live or not all(item.is_confirmed for item in live):
        return False
    slot = None
    seats = booking.seats_to_move(SUPPLIER_CONFIRMED, lifecycle)
    if seats:
        slot = tx.uow.slots.get_for_update(booking.slot_id)
    principal = Principal.system("suppliers")
    released = (
        slot is not None
        and seats > 0
        and end_entry_for_booking(
            context,
            tx,
            slot,
            booking.customer_id,
            booking_id=booking.id,
            principal=principal,
            reason=f"booking {booking.reference} took its seats ({SUPPLIER_CONFIRMED})",
            now=context.now(),
        )
    )
    raised = booking.move(
        SUPPLIER_CONFIRMED,
        lifecycle=lifecycle,
        author=context.author(principal),
        slot=slot,
        note="every supplier had confirmed before the payment",
    )
    tx.record(raised)
    if slot is not None and (released or seats < 0):
        offer_free_seats(context, tx, slot, now=context.now())
    return True


def check_items_allow(uow: UnitOfWork, booking: Booking, target: str, *, field: str = "to") -> None:
    """A booking moves to ``supplier_confirmed`` only when every live item is confirmed.

    Every move by hand checks it: a staff transition, a use case's move, an
    import row moving a booking by its external id.

    Raises:
        ValidationError: on ``field`` (code ``items_unconfirmed``), saying how
            many items still wait.
    """
    if target != SUPPLIER_CONFIRMED:
        return
    waiting = [
        item
        for item in uow.booking_items.list_for_booking(booking.id)
        if not item.is_cancelled and not item.is_confirmed
    ]
    if waiting:
        names = ", ".join(f"{item.description} ({item.status.value})" for item in waiting[:5])
        msg = f"{len(waiting)} line item(s) are not confirmed by their supplier: {names}"
        raise ValidationError.single(field, msg, "items_unconfirmed")
