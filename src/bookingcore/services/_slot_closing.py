"""Closing, reopening and cancelling slots: what :class:`~bookingcore.services.CatalogService`
does for an operator who stops selling a slot or calls it off.

A closed slot (``is_active`` false) takes no new booking, reschedule or
waiting-list entry and is left out of availability; what is booked on it stays.
Cancelling a slot closes it and cancels every live booking on it through the
one cancellation path, with a full refund owed, in one unit of work with the
end of its waiting list and the messages that tell each customer (logged here,
sent after commit by the ``slots.cancellation_messages`` handler).

.. versionadded:: 0.4
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import attrs

from bookingcore.domain.audit import AuditAction
from bookingcore.domain.bookings import Booking
from bookingcore.domain.communications import (
    TEMPLATE_FIELDS,
    Channel,
    Communication,
    CommunicationStatus,
    CommunicationType,
    message_time,
)
from bookingcore.domain.customers import Customer
from bookingcore.domain.events import SlotCancelled, SlotRescheduled
from bookingcore.domain.policy import Principal
from bookingcore.domain.slots import Slot
from bookingcore.domain.values import Actor, BookingId, CommunicationId, CustomerId, WaitlistEntryId
from bookingcore.domain.waitlist import WaitlistEntry
from bookingcore.errors import DeliveryError
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import ServiceContext
from bookingcore.services.communications import CommunicationService
from bookingcore.services.events import EventDispatcher, HandlerContext

__all__ = [
    "MAX_SLOT_BOOKINGS",
    "SLOT_ENTITY",
    "SlotCancellation",
    "cancellation_entry",
    "deliver_slot_messages",
    "log_cancellation_message",
    "log_slot_message",
    "recorded_ids",
    "slot_message_key",
]

#: The audit entity name of slots.
SLOT_ENTITY = "slot"

#: The most live bookings one :meth:`~bookingcore.services.CatalogService.cancel_slot`
#: cancels: all of them in one unit of work, so it is all or nothing. A slot holding
#: more is refused (cancel some of its bookings first).
MAX_SLOT_BOOKINGS = 1000

#: Who writes the messages that tell customers their slot was cancelled.
_SENDER = Actor.system("slot_cancelled")


@attrs.frozen
class SlotCancellation:
    """What :meth:`~bookingcore.services.CatalogService.cancel_slot` did.

    ``slot`` is the slot (closed); ``bookings`` the bookings this cancellation
    cancelled, ``waitlist_entries`` the waiting-list entries it ended,
    ``waitlist_kept`` the entries it left waiting for their alternative dates
    (or holding an offer on one), and ``communications`` the messages logged
    to tell their customers (each sent once, after commit). ``replayed`` is
    True when the call repeated an earlier idempotency key: nothing was
    written and the lists are the first call's, read as they are now.

    .. versionadded:: 0.4
    """

    slot: Slot
    reason: str
    bookings: tuple[Booking, ...] = ()
    waitlist_entries: tuple[WaitlistEntry, ...] = ()
    communications: tuple[Communication, ...] = ()
    replayed: bool = False
    waitlist_kept: tuple[WaitlistEntry, ...] = ()


def slot_message_key(slot: Slot, subject: BookingId | WaitlistEntryId) -> str:
    """The dedupe key of the message that tells a booking's (or a waiting entry's)
    customer that ``slot`` was cancelled: one per booking or entry, ever."""
    return f"slot_cancelled:{slot.id}:{subject}"


def log_cancellation_message(
    ctx: ServiceContext,
    uow: UnitOfWork,
    slot: Slot,
    customer_id: CustomerId,
    *,
    reason: str,
    now: datetime,
    booking: Booking | None = None,
    entry: WaitlistEntry | None = None,
) -> Communication | None:
    """Log (pending) the cancellation message to a booking's or an entry's customer.

    The cancellation template of the customer's channel (email when they have
    an address, else SMS) with the reason added. None when no template covers
    the channel, or a message with its dedupe key was logged already.
    """
    subject: BookingId | WaitlistEntryId
    if booking is not None:
        subject = booking.id
    else:
        assert entry is not None
        subject = entry.id
    return log_slot_message(
        ctx,
        uow,
        slot,
        customer_id,
        kind=CommunicationType.CANCELLATION,
        key=slot_message_key(slot, subject),
        reason=reason,
        now=now,
        booking=booking,
        entry=entry,
        sender=_SENDER,
    )


def log_slot_message(
    ctx: ServiceContext,
    uow: UnitOfWork,
    slot: Slot,
    customer_id: CustomerId,
    *,
    kind: CommunicationType,
    key: str,
    reason: str,
    now: datetime,
    sender: Actor,
    booking: Booking | None = None,
    entry: WaitlistEntry | None = None,
) -> Communication | None:
    """Log (pending) a ``kind`` message about ``slot`` to a booking's or an entry's
    customer, with the dedupe key ``key``.

    The ``kind`` template of the customer's channel (email when they have an
    address, else SMS), filled from the slot as it is now, with ``reason``
    added. None when no template covers the channel, or a message with ``key``
    was logged already. One to an erased customer is logged with no recipient:
    its sender logs it failed, the erasure as the reason.
    """
    if uow.communications.get_by_dedupe_key(key) is not None:
        return None
    customer = uow.customers.get(customer_id)
    if customer is None:  # pragma: no cover - bookings and entries name stored customers
        return None
    channel = Channel.EMAIL if customer.email is not None else Channel.SMS
    if (kind, channel) not in ctx.settings.templates:
        return None
    template = ctx.settings.template(kind, channel)
    subject_text, body = template.render(
        _values(ctx, uow, slot, customer, booking=booking, entry=entry)
    )
    if customer.is_erased:
        # No address left (their phone is a placeholder): logged, and failed for good
        # by the sender (CommunicationService.deliver_logged) with this reason.
        recipient = ""
        unsendable: str | None = (
            "channel: the customer's personal data was erased: there is no address to send to"
        )
    else:
        recipient = (
            customer.email.value
            if channel is Channel.EMAIL and customer.email
            else customer.phone.e164
        )
        unsendable = None
    communication = Communication(
        id=CommunicationId(ctx.ids.new_id()),
        customer_id=customer.id,
        booking_id=None if booking is None else booking.id,
        type=kind,
        channel=channel,
        recipient=recipient,
        subject=subject_text,
        content=f"{body}\n{reason}" if channel is Channel.EMAIL else f"{body} {reason}",
        template_used=template.name,
        created_at=now,
        created_by=sender,
        dedupe_key=key,
        failed_reason=unsendable,
    )
    uow.communications.add(communication)
    return communication


def _values(
    ctx: ServiceContext,
    uow: UnitOfWork,
    slot: Slot,
    customer: Customer,
    *,
    booking: Booking | None,
    entry: WaitlistEntry | None,
) -> dict[str, str]:
    location = uow.locations.get(slot.location_id)
    product = uow.products.get(slot.product_id) if slot.product_id else None
    place = location.name if location else ""
    seats = booking.total_travelers if booking is not None else (entry.seats if entry else 0)
    values = dict.fromkeys(TEMPLATE_FIELDS, "")
    values.update(
        {
            "customer_name": customer.name or "customer",
            "reference": booking.reference if booking else (slot.name or str(slot.id)),
            "status": booking.status if booking else "cancelled",
            "starts_at": message_time(slot.starts_at, ctx.settings.zone),
            "location": place,
            "product": product.name if product else (slot.name or place),
            "travelers": str(seats),
            "seats": str(seats),
            "total": str(booking.total) if booking else "",
            "business": ctx.settings.business_name,
        }
    )
    return values


def cancellation_entry(uow: UnitOfWork, slot: Slot, entry_id: UUID | None) -> dict[str, object]:
    """What the slot's cancellation whose audit entry is ``entry_id`` recorded (the
    entry's new values: the bookings, entries and messages it cancelled and sent);
    empty when there is no such entry."""
    for entry in uow.audit.list_for(SLOT_ENTITY, slot.id):
        if entry.id == entry_id and entry.action is AuditAction.STATUS_CHANGED:
            return dict(entry.new_values)
    return {}


def recorded_ids(values: dict[str, object], key: str) -> Sequence[UUID]:
    """The ids an audit entry's ``values`` list under ``key``."""
    listed = values.get(key, ())
    assert isinstance(listed, list | tuple)
    return [UUID(str(i)) for i in listed]


def deliver_slot_messages(
    dispatcher: EventDispatcher,
    communications: CommunicationService,
    event_type: type[SlotCancelled] | type[SlotRescheduled],
    *,
    name: str,
) -> None:
    """Subscribe, as ``name``, the handler that sends the messages an ``event_type``
    event of a slot logged (``communication_ids``): ``slots.cancellation_messages``
    for :class:`~bookingcore.domain.SlotCancelled`, ``slots.move_messages`` for
    :class:`~bookingcore.domain.SlotRescheduled`.

    Every message is tried; when one fails in a way that may work later the handler
    fails after the others and the dispatcher tries again later, and a message sent
    once is never sent again (a retry or a redelivered event finds it sent). One
    that cannot work later (``DeliveryError.retryable`` False) stays logged failed:
    the retry of the others leaves it alone (a gateway that answered without an id
    may have taken it).

    .. versionadded:: 0.4
    .. versionchanged:: 0.4
       a retry no longer sends again a message whose failure was final.
    """

    reader = Principal.system(name)

    def send(event: SlotCancelled | SlotRescheduled, context: HandlerContext) -> None:
        del context  # nothing is read through it: its commit would write a stale copy back
        failed: DeliveryError | None = None
        for communication_id in event.communication_ids:
            stored = communications.get(communication_id, principal=reader)
            if stored.status is CommunicationStatus.FAILED and stored.retryable is False:
                continue  # failed for good: sending it again could only repeat it
            try:
                communications.deliver_logged(communication_id)
            except DeliveryError as exc:
                if exc.retryable:
                    failed = failed or exc
        if failed is not None:
            raise failed

    dispatcher.subscribe(event_type, send, name=name)
