"""Waiting lists: join a full slot's list, get offered freed seats, book them.

Every change to a slot's list runs under the slot's lock, so offers, accepts,
expiries and cancellations of one slot never interleave: two cancellations at
once never offer the same seat twice, and an accept racing an expiry ends in
exactly one of them. An offer holds its seats on the slot, so at every commit::

    slot.seats_held == seats of bookings holding capacity + seats of offered entries

Accepting an offer books through the one booking path
(:meth:`~bookingcore.services.BookingService.book_claimed`), which takes the
offer's seats over in the same unit of work.

.. versionadded:: 0.2
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

import attrs

from bookingcore.domain import policy
from bookingcore.domain._validation import clean_text
from bookingcore.domain.audit import AuditAction
from bookingcore.domain.bookings import Booking
from bookingcore.domain.communications import Channel
from bookingcore.domain.customers import Customer
from bookingcore.domain.events import WaitlistOffered
from bookingcore.domain.policy import Permission, Principal, PrincipalKind
from bookingcore.domain.queries import Page, PageRequest
from bookingcore.domain.slots import Slot
from bookingcore.domain.values import CustomerId, SlotId, WaitlistEntryId, ensure_aware
from bookingcore.domain.waitlist import (
    WaitlistEntry,
    WaitlistPriority,
    WaitlistStatus,
    offer_order,
)
from bookingcore.errors import (
    ConcurrentUpdateError,
    DeliveryError,
    DuplicateError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import (
    ServiceContext,
    Transaction,
    claim_creation,
    fingerprint,
    principal_key,
)
from bookingcore.services._requirements import settle_requirements
from bookingcore.services._seat_offers import (
    ENTRY_ENTITY,
    cancel_entries,
    end_offer_event,
    offer_free_seats,
    offer_on_own_slots,
    pass_alternative_offer,
)
from bookingcore.services.bookings import (
    BookingRequest,
    BookingService,
    NewTraveler,
    SavedTraveler,
)
from bookingcore.services.communications import CommunicationService
from bookingcore.services.customers import CustomerService
from bookingcore.services.events import EventDispatcher, HandlerContext

__all__ = ["WaitlistPlace", "WaitlistService", "deliver_offer_messages"]


@attrs.frozen
class WaitlistPlace:
    """Where a customer's entry stands: ``place`` 1 is offered the next freed seats.

    ``place`` counts the active waiting entries in offer order (priority, then
    position); ``seats_ahead`` adds up the seats the entries before it wait
    for. An offered entry has ``place`` 0.

    .. versionadded:: 0.2
    """

    entry: WaitlistEntry
    place: int
    seats_ahead: int


def _asked(
    entry: WaitlistEntry,
    principal: Principal,
    travelers: Sequence[NewTraveler | SavedTraveler] = (),
    override_requirements: bool = False,
) -> str:
    """What a request to join a waiting list with ``entry`` asked for (its position,
    found, is no part of it): a keyed retry must ask the same."""
    # The party and the override count only when given, so keys of requests made
    # without them keep their digests.
    party: dict[str, object] = {}
    if travelers:
        party["travelers"] = tuple(travelers)
    if override_requirements:
        party["override_requirements"] = True
    return fingerprint(
        "waitlist",
        principal,
        slot_id=entry.slot_id,
        customer_id=entry.customer_id,
        seats=entry.seats,
        priority=entry.priority,
        preferred_contact_method=entry.preferred_contact_method,
        alternative_dates=entry.alternative_dates,
        notes=entry.notes,
        **party,
    )


def _priority(value: WaitlistPriority | str) -> WaitlistPriority:
    try:
        return WaitlistPriority(value)
    except ValueError:
        choices = ", ".join(p.value for p in WaitlistPriority)
        msg = f"{value!r} is not a priority (one of {choices})"
        raise ValidationError.single("priority", msg, "invalid_choice") from None


class _OfferClaim:
    """An offered entry's seats, handed to the booking that accepts them."""

    def __init__(self, ctx: ServiceContext, entry_id: WaitlistEntryId) -> None:
        self._ctx = ctx
        self._entry_id = entry_id
        self._entry: WaitlistEntry | None = None

    def release(self, tx: Transaction, slot: Slot, seats: int) -> None:
        entry = tx.uow.waitlist.get_for_update(self._entry_id)
        if entry is None:
            raise NotFoundError("waitlist entry", self._entry_id)
        now = self._ctx.now()
        if entry.offer_slot_id != slot.id:
            # The offer read before the lock ended meanwhile (and was made again elsewhere).
            msg = f"waitlist entry {entry.id} holds no open offer on slot {slot.id}"
            raise InvalidTransitionError(
                "waitlist", entry.status.value, WaitlistStatus.BOOKED.value, message=msg
            )
        if not entry.offer_is_open(now):
            state = entry.status.value
            if entry.status is WaitlistStatus.OFFERED:
                state = "expired offer"
            msg = f"waitlist entry {entry.id} holds no open offer (it is {state})"
            raise InvalidTransitionError(
                "waitlist", entry.status.value, WaitlistStatus.BOOKED.value, message=msg
            )
        if seats > entry.seats:
            msg = f"the offer holds {entry.seats} seat(s); {seats} travelers do not fit"
            raise ValidationError.single("travelers", msg, "more_than_offered")
        slot.release(entry.seats)
        self._entry = entry

    def settle(self, tx: Transaction, slot: Slot, booking: Booking) -> None:
        entry = self._entry
        assert entry is not None
        now = self._ctx.now()
        entry.book(booking_id=booking.id, now=now)
        tx.emit(end_offer_event(tx, entry, "booked", now=now))
        if booking.total_travelers < entry.seats:
            # Seats the offer held but the booking did not need go to the next in line.
            offer_free_seats(self._ctx, tx, slot, now=now)


class WaitlistService:
    """Join, list, reorder and leave waiting lists; offer, accept, decline and expire offers.

    Who may do what: a customer joins, sees, accepts, declines and leaves their
    own entries; a partner does the same for the customers it created (and sees
    only their entries on a slot's list); staff who see every booking list any
    slot's list; staff who change every booking add entries with any priority,
    reorder, offer and remove; the system principal runs :meth:`expire_offers`.

    .. versionadded:: 0.2
    """

    def __init__(self, context: ServiceContext, bookings: BookingService) -> None:
        self._ctx = context
        self._bookings = bookings

    # ------------------------------------------------------------------ joining

    def join(
        self,
        slot_id: SlotId,
        *,
        principal: Principal,
        customer_id: CustomerId | None = None,
        seats: int = 1,
        priority: WaitlistPriority | str = WaitlistPriority.NORMAL,
        alternative_dates: Iterable[date] = (),
        preferred_contact_method: Channel | str | None = None,
        notes: str | None = None,
        idempotency_key: str | None = None,
        travelers: Sequence[NewTraveler | SavedTraveler] = (),
        override_requirements: bool = False,
    ) -> WaitlistEntry:
        """Put a customer on ``slot_id``'s waiting list for ``seats`` seats.

        The entry takes the next position. If seats are free for it already,
        it is offered them at once (in the same unit of work).

        ``travelers`` (at most ``seats``), when given, are the party that will
        travel: they are held against the slot's product's requirements
        (:attr:`~bookingcore.domain.Product.requirements`) as booking holds
        them (:meth:`~bookingcore.services.BookingService.check_party`), so
        nobody waits for seats they could never be booked on. They are not
        kept on the entry: accepting the offer names the travelers again and
        checks them again. ``override_requirements`` lets staff who change
        every booking put them on the list anyway (the entry's ``created``
        audit entry lists what was waived, under ``requirements_waived``); the
        offer is then accepted with ``override_requirements`` too.

        A retry with the same ``idempotency_key`` and the same request (slot,
        customer, seats, priority, dates, contact method, notes) returns the
        entry the first call made (as it is now) and writes nothing more, even
        once the slot has started, closed or filled up: the retry is recognised
        before the slot is checked.

        Raises:
            ValidationError: naming the field: seats outside 1 to 1,000 or
                more than the slot's whole capacity (``seats``, code
                ``above_capacity``), an unknown priority or contact method,
                malformed dates or notes, an unknown, closed or started slot, a
                slot whose location is closed or whose product is no longer
                sold (``slot_id``, code ``inactive``, as booking refuses it),
                no customer named, more ``travelers`` than ``seats``
                (``travelers``, code ``more_than_seats``), and what booking
                refuses of ``travelers``: ``travelers[i].age`` and
                ``travelers[i].certificates`` for the product's requirements,
                ``travelers[i].traveler_id`` and ``travelers[i].details...``.
                Nothing is stored when it refuses.
            PermissionDeniedError: a customer joining for someone else, a
                partner for a customer it did not create, anyone but staff
                asking for a priority other than ``normal``, or
                ``override_requirements`` from anyone but staff who change
                every booking.
            NotFoundError: ``customer_id`` names no customer ``principal`` may see.
            DuplicateError: the customer already waits on (or holds an offer on) this slot.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``; a retry after the slot started answers the
           entry instead of ``ValidationError``; ``travelers`` and
           ``override_requirements``.
        """
        key = principal_key(principal, idempotency_key)
        wanted = customer_id
        if principal.kind is PrincipalKind.CUSTOMER:
            wanted = wanted or CustomerId(principal.id)  # type: ignore[arg-type]
            policy.require(
                principal.is_customer(wanted), "customers join waiting lists for themselves"
            )
        if wanted is None:
            raise ValidationError.single("customer_id", "name the waiting customer", "required")
        if _priority(priority) is not WaitlistPriority.NORMAL:
            policy.require(
                principal.has(Permission.CHANGE_ALL),
                f"{principal} may not set a waiting-list priority",
            )
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            customer = self._changeable_customer(tx.uow, wanted, principal)
            # The request as asked (its position, found below, is no part of it): a
            # retry is recognised before anything that changes with time or state
            # (the slot has started or filled up since) is checked.
            entry = WaitlistEntry(
                id=WaitlistEntryId(self._ctx.ids.new_id()),
                slot_id=slot_id,
                customer_id=customer.id,
                seats=seats,
                position=1,
                created_at=now,
                updated_at=now,
                priority=priority,
                preferred_contact_method=preferred_contact_method,
                alternative_dates=tuple(alternative_dates),
                notes=notes,
            )
            if key is not None:
                made, prior = claim_creation(
                    tx.uow,
                    key,
                    "waitlist",
                    now,
                    _asked(entry, principal, travelers, override_requirements),
                    as_id=WaitlistEntryId,
                    load=tx.uow.waitlist.get,
                )
                if prior is not None:
                    return prior
                entry = attrs.evolve(entry, id=made)
            slot = tx.uow.slots.get_for_update(slot_id)
            if slot is None:
                raise ValidationError.single("slot_id", f"no slot {slot_id}", "unknown_reference")
            if not slot.is_active:
                raise ValidationError.single("slot_id", "this slot is closed", "inactive")
            if slot.starts_at <= now:
                raise ValidationError.single("slot_id", "this slot has already started", "past")
            BookingService.sold_at(tx.uow, slot)
            if slot.capacity is not None and entry.seats > slot.capacity:
                msg = (
                    f"the slot holds {slot.capacity} seat(s) in all;"
                    f" {entry.seats} can never be booked"
                )
                raise ValidationError.single("seats", msg, "above_capacity")
            waived = self._check_party(
                tx.uow,
                slot,
                entry,
                tuple(travelers),
                principal=principal,
                override_requirements=override_requirements,
            )
            entry = attrs.evolve(entry, position=tx.uow.waitlist.next_position(slot.id))
            existing = tx.uow.waitlist.get_active(slot.id, customer.id)
            if existing is not None:
                msg = f"the customer already waits on this slot (entry {existing.id})"
                raise DuplicateError(msg, entity=ENTRY_ENTITY, existing_id=existing.id)
            tx.uow.waitlist.add(entry)
            slot.open_waitlist()
            tx.audit(
                principal,
                entity=ENTRY_ENTITY,
                entity_id=entry.id,
                action=AuditAction.CREATED,
                new={
                    "slot_id": str(slot.id),
                    "customer_id": str(customer.id),
                    "seats": entry.seats,
                    "priority": entry.priority.value,
                    "position": entry.position,
                    **waived,
                },
            )
            offer_free_seats(self._ctx, tx, slot, now=now)
            tx.commit()
            return entry

    def _check_party(
        self,
        uow: UnitOfWork,
        slot: Slot,
        entry: WaitlistEntry,
        travelers: Sequence[NewTraveler | SavedTraveler],
        *,
        principal: Principal,
        override_requirements: bool,
    ) -> dict[str, object]:
        """The party a join names, checked as booking checks it; what was waived,
        for the entry's audit entry."""
        if len(travelers) > entry.seats:
            msg = f"{len(travelers)} travelers do not fit the {entry.seats} seat(s) asked for"
            raise ValidationError.single("travelers", msg, "more_than_seats")
        if not travelers:
            if override_requirements:  # refused from anyone else, as booking refuses it
                settle_requirements((), principal=principal, override=True)
            return {}
        waived = self._bookings.check_party(
            uow,
            slot,
            entry.customer_id,
            travelers,
            principal=principal,
            override_requirements=override_requirements,
        )
        if not waived:
            return {}
        return {"requirements_waived": [f"{p.field}: {p.code}" for p in waived]}

    # ------------------------------------------------------------------ reading

    def get(self, entry_id: WaitlistEntryId, *, principal: Principal) -> WaitlistEntry:
        """The entry, if ``principal`` may see its customer.

        Raises:
            NotFoundError: no such entry visible to ``principal``.
        """
        with self._ctx.uow_factory() as uow:
            return self._visible_entry(uow, entry_id, principal)

    def place(self, entry_id: WaitlistEntryId, *, principal: Principal) -> WaitlistPlace:
        """Where the entry stands in its slot's list (see :class:`WaitlistPlace`).

        Raises:
            NotFoundError: no such entry visible to ``principal``.
            ValidationError: on ``status`` when the entry is no longer active.
        """
        with self._ctx.uow_factory() as uow:
            entry = self._visible_entry(uow, entry_id, principal)
            if entry.status is WaitlistStatus.OFFERED:
                return WaitlistPlace(entry, 0, 0)
            if not entry.is_active:
                msg = f"the entry is {entry.status.value}; it has no place in the list"
                raise ValidationError.single("status", msg, "not_active")
            ahead = 0
            for place, other in enumerate(
                offer_order(uow.waitlist.list_for_slot(entry.slot_id, active_only=True)), 1
            ):
                if other.id == entry.id:
                    return WaitlistPlace(entry, place, ahead)
                ahead += other.seats
        raise NotFoundError("waitlist entry", entry_id)  # pragma: no cover - listed above

    def list_for_slot(
        self, slot_id: SlotId, *, principal: Principal, active_only: bool = True
    ) -> Sequence[WaitlistEntry]:
        """The slot's waiting list in offer order (priority, then position).

        Staff who see every booking get every entry; a partner gets the entries
        of the customers it created; a customer their own.
        """
        with self._ctx.uow_factory() as uow:
            entries = uow.waitlist.list_for_slot(slot_id, active_only=active_only)
            if principal.has(Permission.VIEW_ALL):
                return entries
            customers: dict[CustomerId, Customer | None] = {}
            visible: list[WaitlistEntry] = []
            for entry in entries:
                if entry.customer_id not in customers:
                    customers[entry.customer_id] = uow.customers.get(entry.customer_id)
                customer = customers[entry.customer_id]
                if customer is not None and policy.can_view_customer(principal, customer):
                    visible.append(entry)
            return visible

    def list_for_customer(
        self, customer_id: CustomerId, page: PageRequest | None = None, *, principal: Principal
    ) -> Page[WaitlistEntry]:
        """The customer's entries, on any slot and in any status, newest first, a page
        at a time (pass the page's ``next_cursor`` for older ones).

        Raises:
            NotFoundError: no such customer visible to ``principal``.
            ValidationError: on ``limit`` or ``cursor`` for a bad page.

        .. versionchanged:: 0.3
           Takes a :class:`~bookingcore.domain.PageRequest` and answers a
           :class:`~bookingcore.domain.Page`, newest first (was every entry, oldest
           first).
        """
        with self._ctx.uow_factory() as uow:
            CustomerService.load_visible(uow, customer_id, principal)
            return uow.waitlist.list_for_customer(customer_id, page or PageRequest())

    # ------------------------------------------------------------------ staff

    def reorder(
        self, slot_id: SlotId, entry_ids: Sequence[WaitlistEntryId], *, principal: Principal
    ) -> Sequence[WaitlistEntry]:
        """Put the named active entries of the slot in the given order.

        The entries swap the positions they hold among themselves (the first
        named takes the lowest), so entries not named keep theirs. Priority
        still comes before position.

        Raises:
            PermissionDeniedError: ``principal`` may not change every booking.
            ValidationError: on ``entry_ids`` when one repeats, is not active or
                is not on this slot.
        """
        self._require_staff(principal, "reorder waiting lists")
        if len(set(entry_ids)) != len(entry_ids):
            raise ValidationError.single("entry_ids", "an entry is named twice", "duplicate")
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            self._locked_slot(tx.uow, slot_id)
            active = {e.id: e for e in tx.uow.waitlist.list_for_slot(slot_id, active_only=True)}
            missing = [str(i) for i in entry_ids if i not in active]
            if missing:
                msg = f"not active entries of this slot: {', '.join(missing)}"
                raise ValidationError.single("entry_ids", msg, "unknown_entry")
            named = [active[i] for i in entry_ids]
            positions = sorted(e.position for e in named)
            for entry, position in zip(named, positions, strict=True):
                if entry.position != position:
                    old = entry.position
                    entry.move_to(position, now=now)
                    tx.audit(
                        principal,
                        entity=ENTRY_ENTITY,
                        entity_id=entry.id,
                        action=AuditAction.UPDATED,
                        old={"position": old},
                        new={"position": position},
                    )
            tx.commit()
            return tx.uow.waitlist.list_for_slot(slot_id, active_only=True)

    def set_priority(
        self,
        entry_id: WaitlistEntryId,
        priority: WaitlistPriority | str,
        *,
        principal: Principal,
    ) -> WaitlistEntry:
        """Move an active entry to another priority (staff).

        Raises:
            PermissionDeniedError: ``principal`` may not change every booking.
            NotFoundError: no such entry.
            ValidationError: an unknown priority, or the entry is not active.
        """
        self._require_staff(principal, "change waiting-list priorities")
        with self._ctx.transaction() as tx:
            entry = self._locked_entry(tx.uow, entry_id, principal)
            old = entry.priority.value
            entry.set_priority(priority, now=self._ctx.now())
            tx.audit(
                principal,
                entity=ENTRY_ENTITY,
                entity_id=entry.id,
                action=AuditAction.UPDATED,
                old={"priority": old},
                new={"priority": entry.priority.value},
            )
            tx.commit()
            return entry

    def offer(self, slot_id: SlotId, *, principal: Principal) -> Sequence[WaitlistEntry]:
        """Offer the slot's free seats to its waiting list now (staff); the entries offered.

        Freed seats are offered on their own as they free up; this is for a
        host that wants to run a round by hand (a staff endpoint that offers seats now).

        Raises:
            PermissionDeniedError: ``principal`` may not change every booking.
            NotFoundError: no such slot.
        """
        self._require_staff(principal, "offer waiting-list seats")
        with self._ctx.transaction() as tx:
            slot = self._locked_slot(tx.uow, slot_id)
            offered = offer_free_seats(self._ctx, tx, slot, now=self._ctx.now())
            tx.commit()
            return offered

    # ------------------------------------------------------------------ leaving

    def remove(
        self, entry_id: WaitlistEntryId, *, principal: Principal, reason: str | None = None
    ) -> WaitlistEntry:
        """Take an active entry off the list (the customer leaves, or staff remove it).

        An offer it held is given up: its seats go to the next entries in line.

        Raises:
            NotFoundError: no such entry visible to ``principal``.
            PermissionDeniedError: ``principal`` may not change the entry's customer.
            InvalidTransitionError: the entry is no longer active.
        """
        return self._end(entry_id, principal, reason=reason, only_offered=False)

    def decline(
        self, entry_id: WaitlistEntryId, *, principal: Principal, reason: str | None = None
    ) -> WaitlistEntry:
        """Turn an offer down: the entry is cancelled and its seats offered onward.

        An offer on an alternative date (``offered_slot_id``) is turned down
        without leaving the list: its seats are offered onward, and the entry
        waits again on its own slot, in the same place, without that date
        among its alternatives (so that slot is not offered to it again). Seats
        free on its own slot (passed over while it held the offer) are then
        offered there, in a unit of work of their own: the answer is the entry
        as offered when it got them.

        .. versionchanged:: 0.4 Offers on an alternative date.
        .. versionchanged:: 0.4 Seats free on the entry's own slot are offered to it then.

        Raises:
            NotFoundError: no such entry visible to ``principal``.
            PermissionDeniedError: ``principal`` may not change the entry's customer.
            InvalidTransitionError: the entry holds no offer.
        """
        return self._end(entry_id, principal, reason=reason, only_offered=True)

    def _end(
        self,
        entry_id: WaitlistEntryId,
        principal: Principal,
        *,
        reason: str | None,
        only_offered: bool,
    ) -> WaitlistEntry:
        clean_reason = clean_text(reason, "reason", max_length=500)
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            entry = self._locked_entry(tx.uow, entry_id, principal)
            if only_offered and entry.status is not WaitlistStatus.OFFERED:
                msg = f"waitlist entry {entry.id} holds no offer (it is {entry.status.value})"
                raise InvalidTransitionError(
                    "waitlist",
                    entry.status.value,
                    WaitlistStatus.CANCELLED.value,
                    message=msg,
                )
            # Locked already, by _locked_entry: the slot the entry's offer holds seats on.
            slot = self._locked_slot(tx.uow, entry.offer_slot_id)
            if only_offered and entry.holds_alternative:
                tx.audit(
                    principal,
                    entity=ENTRY_ENTITY,
                    entity_id=entry.id,
                    action=AuditAction.STATUS_CHANGED,
                    old={"status": entry.status.value, "offered_slot_id": str(slot.id)},
                    new={"status": WaitlistStatus.WAITING.value},
                    reason=clean_reason,
                )
                pass_alternative_offer(self._ctx, tx, slot, entry, "declined", now=now)
                offer_free_seats(self._ctx, tx, slot, now=now)
                tx.commit()
            else:
                cancel_entries(
                    self._ctx, tx, slot, [entry], principal=principal, reason=clean_reason, now=now
                )
                tx.commit()
                return entry
        # Back to waiting on its own slot: seats that freed up there meanwhile are its turn.
        offered = offer_on_own_slots(self._ctx, [entry.slot_id])
        return next((e for e in offered if e.id == entry.id), entry)

    # ------------------------------------------------------------------ offers

    def accept(
        self,
        entry_id: WaitlistEntryId,
        travelers: Sequence[NewTraveler | SavedTraveler],
        *,
        principal: Principal,
        internal_notes: str | None = None,
        idempotency_key: str | None = None,
        override_requirements: bool = False,
    ) -> Booking:
        """Book the seats an open offer holds, for ``travelers`` (at most the seats offered).

        ``override_requirements`` is :class:`~bookingcore.services.BookingRequest`'s:
        staff who change every booking book travelers past the product's
        requirements (as they may have put them on the list, see :meth:`join`).

        The booking is made through the one booking path, in one unit of work
        with the offer: the offer's seats pass to the booking, the entry
        becomes ``booked``, and seats the booking does not need are offered on.
        An offer on an alternative date books the slot it names
        (``offered_slot_id``, the one whose seats freed up); the entry is then
        ``booked`` and so leaves its own slot's list, where everyone behind it
        moves up a place.

        Raises:
            NotFoundError: no such entry visible to ``principal``.
            PermissionDeniedError: ``principal`` may not book for the entry's
                customer, or (a partner or a customer) gives ``internal_notes``.
            InvalidTransitionError: the entry holds no open offer (it expired,
                was declined, or was booked already).
            ValidationError: more travelers than seats offered, or anything
                :meth:`~bookingcore.services.BookingService.book` refuses.

        .. versionchanged:: 0.4 ``override_requirements``.
        """
        with self._ctx.uow_factory() as uow:
            entry = self._visible_entry(uow, entry_id, principal)
            customer = uow.customers.get(entry.customer_id)
        assert customer is not None
        policy.require(
            policy.can_change_customer(principal, customer),
            f"{principal} may not book for this customer",
        )
        request = BookingRequest(
            entry.offer_slot_id,
            travelers,
            customer_id=None if principal.kind is PrincipalKind.CUSTOMER else entry.customer_id,
            internal_notes=internal_notes,
            metadata={"waitlist_entry_id": str(entry.id)},
            override_requirements=override_requirements,
        )
        return self._bookings.book_claimed(
            request,
            _OfferClaim(self._ctx, entry.id),
            principal=principal,
            idempotency_key=idempotency_key,
        )

    def expire_offers(
        self, now: datetime | None = None, *, principal: Principal, limit: int = 500
    ) -> Sequence[WaitlistEntry]:
        """Expire offers that ran out at or before ``now`` and offer their seats onward.

        Entries still waiting on a slot that started by ``now`` expire too (nobody
        will be offered those seats), unless one of their ``alternative_dates``
        is today or later (in ``Settings.zone``): they wait for those. An
        offer on an alternative date that ran out sends its entry back to
        ``waiting`` on its own slot without that date (it is not in the
        answer), and seats free on that slot are offered there once that is
        committed. The ``waitlists.expire_offers`` job calls this every 30
        seconds; several workers may run it at once (each slot is handled under its lock,
        and an offer accepted meanwhile is left alone). Returns the entries this
        call expired.

        Raises:
            PermissionDeniedError: ``principal`` is neither the system nor staff
                who change every booking.
            ValidationError: on ``now`` when it is naive.
        """
        self._require_staff(principal, "expire waiting-list offers")
        when = self._ctx.now() if now is None else ensure_aware(now, "now")
        with self._ctx.uow_factory() as uow:
            due = uow.waitlist.list_expired_offers(when, limit)
        # Grouped by the slot each offer holds seats on (an alternative's, or its own).
        by_slot: dict[SlotId, list[WaitlistEntryId]] = {}
        for offered in due:
            by_slot.setdefault(offered.offer_slot_id, []).append(offered.id)
        expired: list[WaitlistEntry] = []
        waiting_again: list[SlotId] = []
        for slot_id, named in by_slot.items():
            with self._ctx.transaction() as tx:
                slot = tx.uow.slots.get_for_update(slot_id)
                if slot is None:  # pragma: no cover - entries name stored slots
                    continue
                ended = False
                own = [e.id for e in tx.uow.waitlist.list_for_slot(slot_id, active_only=True)]
                for entry_id in dict.fromkeys([*own, *named]):
                    entry = tx.uow.waitlist.get_for_update(entry_id)
                    if (
                        entry is None
                        or entry.status is not WaitlistStatus.OFFERED
                        or entry.offer_slot_id != slot_id
                        or entry.offer_is_open(when)
                    ):
                        continue
                    if entry.holds_alternative:
                        # Back to waiting on its own slot, without this date.
                        pass_alternative_offer(self._ctx, tx, slot, entry, "expired", now=when)
                        waiting_again.append(entry.slot_id)
                    else:
                        entry.expire(now=when)
                        slot.release(entry.seats)
                        tx.emit(end_offer_event(tx, entry, "expired", now=when))
                        expired.append(entry)
                    ended = True
                if ended:
                    offer_free_seats(self._ctx, tx, slot, now=max(when, self._ctx.now()))
                    tx.commit()
        # Back to waiting on their own slots: seats that freed up there meanwhile are theirs.
        offer_on_own_slots(self._ctx, waiting_again, now=max(when, self._ctx.now()))
        # Waiting entries of slots that started will never be offered a seat there: close
        # them, unless a date they could come on instead is still ahead.
        today = when.astimezone(self._ctx.settings.zone).date()
        with self._ctx.uow_factory() as uow:
            stale = uow.waitlist.list_waiting_past_start(when, limit, waiting_from=today)
            slots = list(dict.fromkeys(waiting.slot_id for waiting in stale))
        for slot_id in slots:
            with self._ctx.transaction() as tx:
                tx.uow.slots.get_for_update(slot_id)
                for found in tx.uow.waitlist.list_for_slot(slot_id, active_only=True):
                    if found.status is not WaitlistStatus.WAITING or _waits_for(found, today):
                        continue
                    entry = tx.uow.waitlist.get_for_update(found.id)
                    if entry is not None and entry.status is WaitlistStatus.WAITING:
                        entry.expire(now=when)
                        expired.append(entry)
                tx.commit()
        return expired

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _require_staff(principal: Principal, what: str) -> None:
        policy.require(principal.has(Permission.CHANGE_ALL), f"{principal} may not {what}")

    @staticmethod
    def _changeable_customer(
        uow: UnitOfWork, customer_id: CustomerId, principal: Principal
    ) -> Customer:
        customer = CustomerService.load_visible(uow, customer_id, principal)
        if not policy.can_change_customer(principal, customer):
            raise PermissionDeniedError(f"{principal} may not act for this customer")
        return customer

    @staticmethod
    def _locked_slot(uow: UnitOfWork, slot_id: SlotId) -> Slot:
        slot = uow.slots.get_for_update(slot_id)
        if slot is None:
            raise NotFoundError("slot", slot_id)
        return slot

    @staticmethod
    def _visible_entry(
        uow: UnitOfWork, entry_id: WaitlistEntryId, principal: Principal
    ) -> WaitlistEntry:
        entry = uow.waitlist.get(entry_id)
        if entry is None:
            raise NotFoundError("waitlist entry", entry_id)
        if principal.has(Permission.VIEW_ALL):
            return entry
        customer = uow.customers.get(entry.customer_id)
        if customer is None or not policy.can_view_customer(principal, customer):
            raise NotFoundError("waitlist entry", entry_id)
        return entry

    def _locked_entry(
        self, uow: UnitOfWork, entry_id: WaitlistEntryId, principal: Principal
    ) -> WaitlistEntry:
        """The entry, after the lock of the slot its offer holds seats on (its own slot
        unless it holds an offer on an alternative date): the order every
        waiting-list change takes."""
        found = self._visible_entry(uow, entry_id, principal)
        customer = uow.customers.get(found.customer_id)
        assert customer is not None
        policy.require(
            policy.can_change_customer(principal, customer),
            f"{principal} may not change this waiting-list entry",
        )
        locked = found.offer_slot_id
        self._locked_slot(uow, locked)
        entry = uow.waitlist.get_for_update(entry_id)
        assert entry is not None
        if entry.offer_slot_id != locked:
            # Its offer moved between the read and the lock (made on, or ended at, an
            # alternative slot): nothing was changed, the request may be made again.
            msg = f"waitlist entry {entry.id} changed meanwhile; try again"
            raise ConcurrentUpdateError(msg, attempts=1)
        return entry


def _waits_for(entry: WaitlistEntry, today: date) -> bool:
    """True when one of ``entry``'s alternative dates is ``today`` or later."""
    return bool(entry.alternative_dates) and entry.alternative_dates[-1] >= today


def deliver_offer_messages(
    dispatcher: EventDispatcher, communications: CommunicationService
) -> None:
    """Subscribe the handler that sends each waiting-list offer's logged message.

    Its name is ``waitlist.offer_message``; a send that failed in a way that may
    work later is retried by the dispatcher and never sends twice (the message is
    sent once, then kept); one that cannot (``DeliveryError.retryable`` False: an
    invalid number, a gateway that answered without an id) stays logged failed.

    .. versionadded:: 0.2
    .. versionchanged:: 0.4
       a failure that cannot work later is not retried.
    """

    def send(event: WaitlistOffered, context: HandlerContext) -> None:
        if event.communication_id is not None:
            try:
                communications.deliver_logged(event.communication_id)
            except DeliveryError as exc:
                if exc.retryable:
                    raise

    dispatcher.subscribe(WaitlistOffered, send, name="waitlist.offer_message")
