"""Moving a slot's departure: what :meth:`~bookingcore.services.CatalogService.move_slot`
reports, the messages that tell each customer, and the handler that sends them.

A move changes the slot's start (and end); every live booking on it takes the
new start through the booking's one change path, in the unit of work of the
move, and each customer is told once (a message logged here, sent after commit
by the ``slots.move_messages`` handler).

.. versionadded:: 0.4
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import attrs

from bookingcore.domain.audit import AuditAction
from bookingcore.domain.bookings import Booking
from bookingcore.domain.communications import Communication, CommunicationType
from bookingcore.domain.slots import Slot
from bookingcore.domain.values import Actor
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import ServiceContext
from bookingcore.services._slot_closing import SLOT_ENTITY, log_slot_message

__all__ = [
    "SlotMoved",
    "log_move_message",
    "move_entry",
    "move_message_key",
]

#: Who writes the messages that tell customers their departure moved.
_SENDER = Actor.system("slot_moved")


@attrs.frozen
class SlotMoved:
    """What :meth:`~bookingcore.services.CatalogService.move_slot` did.

    ``slot`` is the slot at its new time; ``from_starts_at`` and
    ``from_ends_at`` are the times it had. ``bookings`` are the live bookings
    that moved with it, ``communications`` the messages logged to tell their
    customers (each sent once, after commit; none when the move was asked with
    ``notify=False``). ``replayed`` is True when the call repeated an earlier
    idempotency key: nothing was written, and the bookings and messages are the
    first call's, read as they are now.

    .. versionadded:: 0.4
    """

    slot: Slot
    from_starts_at: datetime
    from_ends_at: datetime | None
    reason: str
    bookings: tuple[Booking, ...] = ()
    communications: tuple[Communication, ...] = ()
    replayed: bool = False


def move_message_key(move_id: UUID, booking: Booking) -> str:
    """The dedupe key of the message that tells ``booking``'s customer about the move
    whose audit entry is ``move_id``: one per booking and move, ever."""
    return f"slot_moved:{move_id}:{booking.id}"


def log_move_message(
    ctx: ServiceContext,
    uow: UnitOfWork,
    slot: Slot,
    booking: Booking,
    *,
    move_id: UUID,
    reason: str,
    now: datetime,
) -> Communication | None:
    """Log (pending) the message telling ``booking``'s customer that ``slot`` moved.

    The ``schedule_change`` template of the customer's channel, with the new
    start and ``reason``. None when no template covers the channel, or it was
    logged already.
    """
    return log_slot_message(
        ctx,
        uow,
        slot,
        booking.customer_id,
        kind=CommunicationType.SCHEDULE_CHANGE,
        key=move_message_key(move_id, booking),
        reason=reason,
        now=now,
        sender=_SENDER,
        booking=booking,
    )


def move_entry(uow: UnitOfWork, slot: Slot, entry_id: UUID | None) -> tuple[dict[str, object], ...]:
    """The old and new values the slot's move whose audit entry is ``entry_id``
    recorded; two empty mappings when there is no such entry."""
    for entry in uow.audit.list_for(SLOT_ENTITY, slot.id):
        if entry.id == entry_id and entry.action is AuditAction.UPDATED:
            return dict(entry.old_values), dict(entry.new_values)
    return {}, {}
