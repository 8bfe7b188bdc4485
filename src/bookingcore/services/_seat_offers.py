"""Offering a slot's free seats to its waiting list, inside the unit of work that freed them.

Every change that frees seats (a cancellation, a move out of a seat-holding
state, more capacity, an offer that expires or is declined) calls
:func:`offer_free_seats` with the slot still locked, so two of them never see
the same free seats: the second waits for the first to commit and then finds
its offers among the seats held. An offer is a hold: its seats count in
``slot.seats_held`` until it is accepted (the booking takes them over),
declined or expired (they are released and offered on).

.. versionadded:: 0.2
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from bookingcore.domain.audit import AuditAction
from bookingcore.domain.communications import (
    TEMPLATE_FIELDS,
    Channel,
    Communication,
    CommunicationType,
    message_time,
    push_recipient,
)
from bookingcore.domain.customers import Customer
from bookingcore.domain.events import WaitlistOffered, WaitlistOfferEnded
from bookingcore.domain.policy import Principal
from bookingcore.domain.slots import Slot
from bookingcore.domain.values import Actor, BookingId, CommunicationId, CustomerId, SlotId
from bookingcore.domain.waitlist import WaitlistEntry, WaitlistStatus, offer_order
from bookingcore.errors import NotFoundError
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import ServiceContext, Transaction

__all__ = [
    "ENTRY_ENTITY",
    "cancel_entries",
    "end_entry_for_booking",
    "end_offer_event",
    "offer_free_seats",
    "offer_message_key",
    "offer_on_own_slots",
    "pass_alternative_offer",
    "slot_day",
    "take_up_alternative_offer",
]

#: The audit entity name of waiting-list entries.
ENTRY_ENTITY = "waitlist entry"


def offer_message_key(entry: WaitlistEntry) -> str:
    """The dedupe key of the message that tells ``entry``'s customer about their offer
    (call it once the offer is made).

    An offer on the entry's own slot is its last (it ends the entry booked,
    expired or cancelled): ``waitlist_offer:<entry id>``. An offer on an
    alternative slot may be followed by others (declined or run out, the entry
    waits again), so its key names the slot and the entry's version as offered:
    ``waitlist_offer:<entry id>:<slot id>:<version>``.
    """
    if entry.offered_slot_id is None:
        return f"waitlist_offer:{entry.id}"
    return f"waitlist_offer:{entry.id}:{entry.offered_slot_id}:{entry.version}"


def offer_free_seats(
    ctx: ServiceContext, tx: Transaction, slot: Slot, *, now: datetime
) -> Sequence[WaitlistEntry]:
    """Offer ``slot``'s free seats to the waiting customers, in offer order; call with it locked.

    First the slot's own list, in its offer order (priority, then position);
    then the entries waiting on other slots of the same product and location
    that list the slot's start date (in the business's time zone,
    ``Settings.zone``) among their ``alternative_dates``, in the order they
    joined. Their offers name the slot (``offered_slot_id``). A party bigger
    than what is left is passed over and keeps its place; a customer who has
    an entry of their own on ``slot`` is not offered it as an alternative.

    Each entry is locked before it is offered and offered only if it is still
    waiting, so two slots freeing seats at once never offer one entry twice.
    Each offer holds its seats on ``slot``, logs a message to the customer
    (delivered after commit by the ``waitlist.offer_message`` handler) and
    writes a :class:`~bookingcore.domain.events.WaitlistOffered` event. A slot
    that is closed or has started offers nothing.

    .. versionchanged:: 0.4 Entries waiting for the slot's date as an alternative.
    """
    if not slot.is_active or slot.starts_at <= now:
        return ()
    expires_at = min(now + ctx.settings.waitlist_offer_ttl, slot.starts_at)
    waitlist = tx.uow.waitlist
    left = slot.seats_left
    chosen: list[WaitlistEntry] = []

    def take(candidates: Iterable[WaitlistEntry], *, alternative: bool) -> None:
        nonlocal left
        for candidate in candidates:
            if left is not None and (left <= 0 or candidate.seats > left):
                continue
            entry = waitlist.get_for_update(candidate.id)
            if entry is None or entry.status is not WaitlistStatus.WAITING:
                continue  # offered meanwhile, on another slot (its lock was held)
            if left is not None and entry.seats > left:
                continue  # pragma: no cover - seats change only while the slot is locked
            if alternative and waitlist.get_active(slot.id, entry.customer_id) is not None:
                continue
            _offer(ctx, tx, entry, slot, expires_at=expires_at, now=now)
            chosen.append(entry)
            if left is not None:
                left -= entry.seats

    take(offer_order(waitlist.list_for_slot(slot.id, active_only=True)), alternative=False)
    if slot.product_id is not None and (left is None or left > 0):
        day = slot_day(ctx, slot)
        others = waitlist.list_waiting_for_day(
            slot.product_id, slot.location_id, day, other_than=slot.id
        )
        take(others, alternative=True)
    return chosen


def slot_day(ctx: ServiceContext, slot: Slot) -> date:
    """The date ``slot`` starts on in the business's calendar (``Settings.zone``)."""
    return slot.starts_at.astimezone(ctx.settings.zone).date()


def _offer(
    ctx: ServiceContext,
    tx: Transaction,
    entry: WaitlistEntry,
    slot: Slot,
    *,
    expires_at: datetime,
    now: datetime,
) -> None:
    entry.offer(now=now, expires_at=expires_at, slot_id=slot.id)
    slot.hold(entry.seats)
    # An alternative's offer holds seats for a customer who never joined this slot's
    # list: booking it looks for such offers only where ``has_waitlist`` says so.
    slot.open_waitlist()
    communication = _log_offer_message(ctx, tx.uow, entry, slot, now=now)
    tx.emit(
        WaitlistOffered(
            id=tx.new_event_id(),
            occurred_at=now,
            entry_id=entry.id,
            slot_id=slot.id,
            customer_id=entry.customer_id,
            seats=entry.seats,
            offer_expires_at=expires_at,
            communication_id=None if communication is None else communication.id,
        )
    )


def pass_alternative_offer(
    ctx: ServiceContext,
    tx: Transaction,
    slot: Slot,
    entry: WaitlistEntry,
    outcome: str,
    *,
    now: datetime,
) -> None:
    """End ``entry``'s offer on the alternative ``slot`` (locked, as is the entry) as
    ``outcome`` (``declined``, ``expired``): its seats are released (the caller
    offers them on) and the entry waits again on its own slot, in the same
    place, without ``slot``'s date among its alternatives."""
    slot.release(entry.seats)
    tx.emit(end_offer_event(tx, entry, outcome, now=now))
    entry.pass_alternative(slot_day(ctx, slot), now=now)


def offer_on_own_slots(
    ctx: ServiceContext, slot_ids: Iterable[SlotId], *, now: datetime | None = None
) -> Sequence[WaitlistEntry]:
    """Offer the free seats of ``slot_ids`` (each in a unit of work of its own); the
    entries offered.

    For entries :func:`pass_alternative_offer` sent back to waiting on their own
    slot: seats freed there while they held the offer were passed over (an
    offered entry is skipped) and may idle. Call it once the unit of work that
    ended the offers is committed: the own slot is locked only then, after the
    offered slot's lock is given up, so the order every waiting-list change takes
    its locks (the slot, then its entries) holds. Were this interrupted, the
    entries still wait and are offered when seats next free up there. The offers
    are made at ``now`` (the clock's time when not given).
    """
    offered: list[WaitlistEntry] = []
    for slot_id in dict.fromkeys(slot_ids):
        with ctx.transaction() as tx:
            slot = tx.uow.slots.get_for_update(slot_id)
            if slot is None or (slot.seats_left is not None and slot.seats_left <= 0):
                continue
            made = offer_free_seats(ctx, tx, slot, now=now or ctx.now())
            if made:
                tx.commit()
                offered += made
    return offered


def cancel_entries(
    ctx: ServiceContext,
    tx: Transaction,
    slot: Slot,
    entries: Iterable[WaitlistEntry],
    *,
    principal: Principal,
    reason: str | None,
    now: datetime,
    offer_onward: bool = True,
) -> bool:
    """Cancel ``slot``'s active ``entries`` and offer the seats their offers held onward.

    The one way an entry leaves the list early (the customer leaves or
    declines, staff remove it, the customer is erased). Call with ``slot``
    locked first and then the entries (the order every waiting-list change
    takes). Each cancellation is audited; an offer it ends releases its seats
    and writes a :class:`~bookingcore.domain.events.WaitlistOfferEnded`
    (``cancelled``) event, and the released seats go to the next entries in
    line in the same unit of work. With ``offer_onward=False`` the released
    seats are left free (the caller offers what is left of them); the answer
    says whether any were released on ``slot``. An entry holding an offer on
    an alternative slot releases the seats there (that slot is locked after
    ``slot``) and they are offered on at once.

    Raises:
        InvalidTransitionError: an entry is no longer active.
    """
    released = False
    elsewhere: dict[SlotId, Slot] = {}
    for entry in entries:
        had_offer = entry.status is WaitlistStatus.OFFERED
        held_on = slot
        if had_offer and entry.offer_slot_id != slot.id:
            # An offer on an alternative slot holds its seats there: lock it too.
            other = elsewhere.get(entry.offer_slot_id) or tx.uow.slots.get_for_update(
                entry.offer_slot_id
            )
            if other is None:  # pragma: no cover - offers name stored slots
                raise NotFoundError("slot", entry.offer_slot_id)
            held_on = elsewhere[other.id] = other
        old = entry.status.value
        entry.cancel(now=now)
        tx.audit(
            principal,
            entity=ENTRY_ENTITY,
            entity_id=entry.id,
            action=AuditAction.STATUS_CHANGED,
            old={"status": old},
            new={"status": entry.status.value},
            reason=reason,
        )
        if had_offer:
            held_on.release(entry.seats)
            tx.emit(end_offer_event(tx, entry, "cancelled", now=now))
            released = released or held_on is slot
    if released and offer_onward:
        offer_free_seats(ctx, tx, slot, now=now)
    for other in elsewhere.values():
        offer_free_seats(ctx, tx, other, now=now)
    return released


def end_entry_for_booking(
    ctx: ServiceContext,
    tx: Transaction,
    slot: Slot,
    customer_id: CustomerId,
    *,
    booking_id: BookingId,
    principal: Principal,
    reason: str,
    now: datetime,
) -> bool:
    """End the customer's active entry on ``slot``: they are getting a seat another way.

    For a booking made (or moved) onto ``slot`` by the normal booking path
    rather than by accepting an offer. Call it with ``slot`` locked, before the
    booking holds its seats: the entry is cancelled with ``reason`` (see
    :func:`cancel_entries`) and the seats an offer held are released, so the
    booking may use them. True when seats were released: the caller then calls
    :func:`offer_free_seats` once the booking holds its own, so what it did
    not use goes to the next in line.

    An open offer the customer holds on ``slot`` for an alternative date of
    one of their entries on other slots is used the same way: its seats are
    released for the booking, and the entry is ``booked`` as ``booking_id``
    (the booking being made, or moved), audited with ``reason`` and ended by a
    :class:`~bookingcore.domain.events.WaitlistOfferEnded` (``booked``) event
    (see :func:`take_up_alternative_offer`). An offer that has run out is left
    to the expiry job.

    .. versionchanged:: 0.4 ``booking_id``; offers on an alternative date.
    """
    if not slot.has_waitlist:  # nobody has ever joined nor been offered it: nothing to look for
        return False
    waitlist = tx.uow.waitlist
    released = False
    found = waitlist.get_active(slot.id, customer_id)
    entry = None if found is None else waitlist.get_for_update(found.id)
    if entry is not None and entry.is_active:
        released = cancel_entries(
            ctx,
            tx,
            slot,
            [entry],
            principal=principal,
            reason=reason,
            now=now,
            offer_onward=False,
        )
    for held in waitlist.list_offers_on(slot.id, customer_id):
        if held.offered_slot_id is None:
            continue  # the entry's own offer on the slot: ended above
        offer = waitlist.get_for_update(held.id)
        if offer is None or offer.offered_slot_id != slot.id or not offer.offer_is_open(now):
            continue  # ended meanwhile, or run out (the expiry job sends it back to waiting)
        take_up_alternative_offer(
            tx, slot, offer, booking_id=booking_id, principal=principal, reason=reason, now=now
        )
        released = True
    return released


def seats_held_for(tx: Transaction, slot: Slot, customer_id: CustomerId, now: datetime) -> int:
    """The seats offers hold on ``slot`` (locked) for the customer: their entry's offer
    there, and their open offers there for alternative dates of entries on other slots.

    A booking of theirs that starts holding seats on ``slot`` may use them:
    :func:`end_entry_for_booking` releases them for it. Read before a move that must
    not fail for want of seats (a payment's), to know whether it fits.

    .. versionadded:: 0.4
    """
    if not slot.has_waitlist:
        return 0
    waitlist = tx.uow.waitlist
    held = 0
    entry = waitlist.get_active(slot.id, customer_id)
    if (
        entry is not None
        and entry.status is WaitlistStatus.OFFERED
        and entry.offer_slot_id == slot.id
    ):
        held += entry.seats
    for offer in waitlist.list_offers_on(slot.id, customer_id):
        if offer.offered_slot_id == slot.id and offer.offer_is_open(now):
            held += offer.seats
    return held


def take_up_alternative_offer(
    tx: Transaction,
    slot: Slot,
    entry: WaitlistEntry,
    *,
    booking_id: BookingId,
    principal: Principal,
    reason: str,
    now: datetime,
) -> None:
    """``entry``'s open offer on the alternative ``slot`` is taken up by ``booking_id``,
    a booking of its customer made (or moved) onto ``slot`` another way than by
    accepting it. Call with ``slot`` locked, then the entry.

    The offer's seats are released (the booking holds its own), the entry is
    ``booked`` as ``booking_id`` and so leaves its own slot's list, as an
    accepted alternative does; its audit entry's reason is ``reason``, and a
    :class:`~bookingcore.domain.events.WaitlistOfferEnded` (``booked``) event is
    written. Seats the booking does not use are for the caller to offer on.
    """
    slot.release(entry.seats)
    entry.book(booking_id=booking_id, now=now)
    tx.audit(
        principal,
        entity=ENTRY_ENTITY,
        entity_id=entry.id,
        action=AuditAction.STATUS_CHANGED,
        old={"status": WaitlistStatus.OFFERED.value, "offered_slot_id": str(slot.id)},
        new={"status": entry.status.value, "booking_id": str(booking_id)},
        reason=reason,
    )
    tx.emit(end_offer_event(tx, entry, "booked", now=now))


def end_offer_event(
    tx: Transaction, entry: WaitlistEntry, outcome: str, *, now: datetime
) -> WaitlistOfferEnded:
    """The event of ``entry``'s offer ending as ``outcome`` (booked, expired, cancelled,
    declined): ``slot_id`` is the slot the offer held seats on."""
    return WaitlistOfferEnded(
        id=tx.new_event_id(),
        occurred_at=now,
        entry_id=entry.id,
        slot_id=entry.offer_slot_id,
        customer_id=entry.customer_id,
        seats=entry.seats,
        outcome=outcome,
        booking_id=entry.booking_id,
    )


def _channel(ctx: ServiceContext, entry: WaitlistEntry, customer: Customer) -> Channel:
    wanted = entry.preferred_contact_method
    templates = ctx.settings.templates
    if wanted is Channel.EMAIL and customer.email is not None:
        return Channel.EMAIL
    if wanted is not None and wanted is not Channel.EMAIL:
        if (CommunicationType.WAITLIST_OFFER, wanted) in templates:
            return wanted
        return Channel.SMS
    return Channel.EMAIL if customer.email is not None else Channel.SMS


def _recipient(customer: Customer, channel: Channel) -> str:
    if channel is Channel.PUSH:
        return push_recipient(customer.id)  # as every push message is logged
    if channel is Channel.EMAIL and customer.email is not None:
        return customer.email.value
    return customer.phone.e164


def _log_offer_message(
    ctx: ServiceContext, uow: UnitOfWork, entry: WaitlistEntry, slot: Slot, *, now: datetime
) -> Communication | None:
    customer = uow.customers.get(entry.customer_id)
    if customer is None:  # pragma: no cover - entries always name a stored customer
        return None
    channel = _channel(ctx, entry, customer)
    if (CommunicationType.WAITLIST_OFFER, channel) not in ctx.settings.templates:
        return None  # the host configured no template for this channel: nothing to send
    template = ctx.settings.template(CommunicationType.WAITLIST_OFFER, channel)
    location = uow.locations.get(slot.location_id)
    product = uow.products.get(slot.product_id) if slot.product_id else None
    place = location.name if location else ""
    values = dict.fromkeys(TEMPLATE_FIELDS, "")
    values.update(
        {
            "customer_name": customer.name or "customer",
            "reference": slot.name or str(slot.id),
            "status": entry.status.value,
            "starts_at": message_time(slot.starts_at, ctx.settings.zone),
            "location": place,
            "product": product.name if product else (slot.name or place),
            "travelers": str(entry.seats),
            "seats": str(entry.seats),
            "total": str(slot.price_per_traveler * entry.seats),
            "business": ctx.settings.business_name,
            "offer_expires_at": (
                message_time(entry.offer_expires_at, ctx.settings.zone)
                if entry.offer_expires_at
                else ""
            ),
        }
    )
    subject, body = template.render(values)
    communication = Communication(
        id=CommunicationId(ctx.ids.new_id()),
        customer_id=customer.id,
        type=CommunicationType.WAITLIST_OFFER,
        channel=channel,
        recipient=_recipient(customer, channel),
        subject=subject,
        content=body,
        template_used=template.name,
        created_at=now,
        created_by=Actor.system("waitlist"),
        dedupe_key=offer_message_key(entry),
    )
    uow.communications.add(communication)
    return communication
